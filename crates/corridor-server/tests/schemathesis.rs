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
    let releases = release(tmp.path());
    let ws = tmp.path().join("ws");
    let access = corridor_access::Access::open(&ws).unwrap();
    access.add_org("test", "agency").unwrap();
    access
        .add_user("test", "agency", "analyst", corridor_access::Role::Analyst)
        .unwrap();
    let (_, token) = access.new_token("test", "analyst").unwrap();
    let members = corridor_server::Members::open(&ws, 1 << 20).unwrap();
    let server = Server::start_with(&releases, Some(members));
    let base = format!("http://{}", server.addr);
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(&st)
            .args(["run", &format!("{base}/api/openapi.json"), "--url", &base])
            .args(["--max-examples", "30", "--seed", "1", "--no-color"])
            .args(extra)
            .env("SCHEMATHESIS_HOOKS", "")
            .current_dir(tmp.path())
            .output()
            .expect("schemathesis");
        let report = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        report
    };
    // Every operation, as the public calls them: the members' ones are 401.
    let report = run(&[]);
    assert!(report.contains("Tested: 16"), "{report}");
    // The members' reads, with an analyst's token.
    let auth = format!("Authorization: Bearer {token}");
    let report = run(&[
        "--include-tag",
        "members",
        "--include-method",
        "GET",
        "-H",
        &auth,
    ]);
    assert!(report.contains("Tested: 7"), "{report}");
}
