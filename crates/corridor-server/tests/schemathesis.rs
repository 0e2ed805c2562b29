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
    // A request can be valid by the schema and still name a measure the
    // workspace lacks or a dimension its measure lacks: that is a 400 which
    // the message explains.
    let config = tmp.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        "[[operations]]\ninclude-path = \"/api/tables\"\ninclude-method = \"POST\"\nchecks.positive_data_acceptance.expected-statuses = [\"2xx\", \"400\", \"401\", \"403\", \"409\", \"429\"]\n",
    )
    .unwrap();
    // Each pass has a server of its own: the first one's 401s would have
    // the second one's client throttled.
    let run = |members: corridor_server::Members, extra: &[&str]| {
        let server = Server::start_with(&releases, Some(members));
        let base = format!("http://{}", server.addr);
        let out = std::process::Command::new(&st)
            .args(["--config-file", config.to_str().unwrap(), "run"])
            .args([&format!("{base}/api/openapi.json"), "--url", &base])
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
    let report = run(members, &[]);
    assert!(report.contains("Tested: 16"), "{report}");
    // Every operation again, with an analyst's token.
    let auth = format!("Authorization: Bearer {token}");
    let members = corridor_server::Members::open(&ws, 1 << 20).unwrap();
    let report = run(members, &["-H", &auth]);
    assert!(report.contains("Tested: 16"), "{report}");
}
