//! A submission killed at any moment (kill -9) leaves the whole submission
//! or nothing, and the next one recovers.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn corridor(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_corridor"))
        .args(args)
        .output()
        .expect("corridor runs")
}

fn status(ws: &str) -> serde_json::Value {
    let out = corridor(&["status", "--workspace", ws, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("status json")
}

fn stored_rows(ws: &str) -> Vec<(String, u64)> {
    let out = corridor(&[
        "sql",
        "--workspace",
        ws,
        "--format",
        "csv",
        "SELECT submission_id, count(*) AS n FROM border_events GROUP BY 1 ORDER BY 1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(id, n)| (id.to_string(), n.trim().parse().expect("count")))
        .collect()
}

#[test]
fn kill_dash_nine_at_random_moments_leaves_all_or_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = dir.path().join("world");
    let ws = dir.path().join("ws");
    let (world_s, ws_s) = (world.to_str().expect("utf-8"), ws.to_str().expect("utf-8"));
    assert!(
        corridor(&["generate", "--out", world_s, "--persons", "6000"])
            .status
            .success()
    );
    assert!(corridor(&["init", ws_s]).status.success());
    let mapping = world.join(corridor_world::mappings::SUBMISSIONS[0].0);
    let file = world.join(corridor_world::mappings::SUBMISSIONS[0].1);
    // How long a whole submission takes, to spread the kills over it.
    let t0 = Instant::now();
    let probe = dir.path().join("probe");
    assert!(
        corridor(&["init", probe.to_str().expect("utf-8")])
            .status
            .success()
    );
    assert!(
        corridor(&[
            "ingest",
            "--workspace",
            probe.to_str().expect("utf-8"),
            "--mapping",
            mapping.to_str().expect("utf-8"),
            file.to_str().expect("utf-8")
        ])
        .status
        .success()
    );
    let full = t0.elapsed().max(Duration::from_millis(50));
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut committed_once = None;
    for i in 0..24 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_micros(seed % (full.as_micros() as u64 + 1));
        let mut child = Command::new(env!("CARGO_BIN_EXE_corridor"))
            .args([
                "ingest",
                "--workspace",
                ws_s,
                "--mapping",
                mapping.to_str().expect("utf-8"),
                file.to_str().expect("utf-8"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Whatever the moment, the catalog and the data agree.
        let s = status(ws_s);
        let current: Vec<&serde_json::Value> = s["submissions"]
            .as_array()
            .expect("list")
            .iter()
            .filter(|x| x["status"] == "current")
            .collect();
        assert!(
            current.len() <= 1,
            "kill {i}: the same file is current twice"
        );
        let rows = stored_rows(ws_s);
        match current.first() {
            Some(sub) => {
                let id = sub["id"].as_str().expect("id").to_string();
                assert_eq!(
                    rows,
                    vec![(id.clone(), sub["rows_stored"].as_u64().expect("n"))],
                    "kill {i}: data and catalog agree"
                );
                if let Some(prev) = &committed_once {
                    assert_eq!(
                        prev, &id,
                        "kill {i}: a committed submission is never redone"
                    );
                }
                committed_once = Some(id);
            }
            None => assert!(
                rows.is_empty(),
                "kill {i}: no submission, no data: {rows:?}"
            ),
        }
    }
    // A last, uninterrupted run completes (or finds the work done) and
    // leaves no staging behind.
    let out = corridor(&[
        "ingest",
        "--workspace",
        ws_s,
        "--mapping",
        mapping.to_str().expect("utf-8"),
        file.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stored_rows(ws_s).len(), 1);
    let staging: Vec<_> = std::fs::read_dir(ws.join("staging"))
        .expect("staging")
        .collect();
    assert!(
        staging.is_empty(),
        "interrupted submissions' staging is cleaned up"
    );
    let parts: Vec<_> = std::fs::read_dir(ws.join("data/border_events/source=gtm-igm-border"))
        .expect("data")
        .collect();
    assert_eq!(parts.len(), 1, "and so is data no catalog entry points to");
}
