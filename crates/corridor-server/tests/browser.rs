//! The portal in a real headless Chromium (Debian's), driven by
//! playwright-core through `tools/browser_check.mjs`: the home page, the
//! explorer's filters changing the chart and the table, a CSV download
//! compared byte for byte with the release, the switch to Spanish, the
//! map, a phone's width and the keyboard. Screenshots go to
//! `target/browser-screenshots/` (CI keeps them as artefacts).
//!
//! Needs `CORRIDOR_NODE_MODULES` (a folder holding playwright-core, as
//! `.ci/run` installs it) and Chromium; in CI a missing one fails.

mod common;

use common::{Server, json, release};

#[test]
fn a_visitor_finds_charts_maps_and_downloads_in_a_real_browser() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let modules = std::env::var("CORRIDOR_NODE_MODULES").ok();
    let Some(modules) = modules.filter(|_| std::path::Path::new(&chromium).exists()) else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must install chromium and set CORRIDOR_NODE_MODULES to a folder with playwright-core (see .ci/run)"
        );
        eprintln!("no Chromium or playwright-core: skipping the browser test");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let releases = release(tmp.path());
    let server = Server::start(&releases);
    let id = json(&server.get("/api/releases", &[]).2)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    let out = std::process::Command::new("node")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tools/browser_check.mjs"
        ))
        .arg(format!("http://{}", server.addr))
        .arg(releases.join(&id))
        .arg(&shots)
        .env("NODE_PATH", &modules)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("0 failed"), "{report}");
    assert!(shots.join("explorer.png").exists() && shots.join("phone.png").exists());
}
