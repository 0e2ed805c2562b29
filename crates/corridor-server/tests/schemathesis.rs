//! The API fuzzed from its own OpenAPI document by schemathesis (a real,
//! independent client): no request it derives from the schema gets a
//! server error, a schema-valid request refused, or a response that
//! contradicts the schema.
//!
//! Needs schemathesis beside CORRIDOR_PYTHON (as `.ci/run` installs it);
//! in CI a missing one fails.

mod common;

use common::{Server, release};

#[test]
fn schemathesis_finds_no_error_and_no_response_off_the_schema() {
    let Some(python) = std::env::var_os("CORRIDOR_PYTHON") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must set CORRIDOR_PYTHON to a Python with schemathesis (see .ci/run)"
        );
        eprintln!("CORRIDOR_PYTHON not set: skipping schemathesis");
        return;
    };
    let st = std::path::Path::new(&python).with_file_name("schemathesis");
    if !st.exists() {
        assert!(
            std::env::var("CI").is_err(),
            "CI must install schemathesis (see .ci/run)"
        );
        eprintln!("no schemathesis beside {}: skipping", st.display());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&release(tmp.path()));
    let base = format!("http://{}", server.addr);
    let out = std::process::Command::new(&st)
        .args(["run", &format!("{base}/api/openapi.json"), "--url", &base])
        .args(["--max-examples", "30", "--seed", "1", "--no-color"])
        .env("SCHEMATHESIS_HOOKS", "")
        .current_dir(tmp.path())
        .output()
        .expect("schemathesis");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("Tested: 6"), "{report}");
}
