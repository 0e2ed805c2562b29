//! The privacy-loss ledger under real concurrency: separate processes
//! (this test binary started again) charging one workspace at once.

use std::process::Command;

use corridor_store::{Charge, StoreError, Workspace};

const CHILD: &str = "CORRIDOR_LEDGER_CHILD";
const PROCESSES: usize = 16;
const TRIES: usize = 25;
const RHO: f64 = 0.05;
const BUDGET: f64 = 10.0;

/// Does nothing unless started by the test below: then charges the
/// workspace `TRIES` times and prints how many charges were accepted.
#[test]
fn ledger_child() {
    let Ok(root) = std::env::var(CHILD) else {
        return;
    };
    let ws = Workspace::open(std::path::Path::new(&root)).expect("workspace");
    let (mut accepted, mut refused) = (0, 0);
    for i in 0..TRIES {
        let output = format!("child-{}-{i}", std::process::id());
        match ws.charge_privacy_loss(&Charge {
            dataset: "border_events",
            output: &output,
            mechanism: "test",
            rho: RHO,
            epsilon: 1.0,
            delta: 1e-9,
            detail_json: "{}",
        }) {
            Ok((b, _)) => {
                assert!(b.spent <= BUDGET * (1.0 + 1e-9), "{b:?}");
                accepted += 1;
            }
            Err(StoreError::OverBudget { spent, budget, .. }) => {
                assert!(spent + RHO > budget);
                refused += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    println!("ACCEPTED {accepted} REFUSED {refused}");
}

#[test]
fn sixteen_processes_charging_at_once_never_overspend() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("ws");
    let ws = Workspace::init(&root).expect("workspace");
    // No budget: every charge is refused, and nothing is written.
    let refused = ws.charge_privacy_loss(&Charge {
        dataset: "border_events",
        output: "x",
        mechanism: "test",
        rho: RHO,
        epsilon: 1.0,
        delta: 1e-9,
        detail_json: "{}",
    });
    assert!(matches!(refused, Err(StoreError::NoBudget { .. })));
    assert!(ws.privacy_ledger(None).unwrap().is_empty());
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(
            ws.set_privacy_budget("border_events", bad).is_err(),
            "{bad}"
        );
    }
    ws.set_privacy_budget("border_events", BUDGET).unwrap();

    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .args(["--exact", "ledger_child", "--nocapture", "--test-threads=1"])
                .env(CHILD, &root)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("child")
        })
        .collect();
    let mut accepted = 0;
    for child in children {
        let out = child.wait_with_output().expect("child ran");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = text
            .lines()
            .find_map(|l| l.find("ACCEPTED").map(|i| &l[i..]))
            .unwrap_or_else(|| panic!("no result line: {text}"));
        let n: Vec<usize> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        assert_eq!(n[0] + n[1], TRIES, "{line}");
        accepted += n[0];
    }
    // Exactly the budget's worth of charges went through, no more.
    let expected = (BUDGET / RHO).round() as usize;
    assert_eq!(accepted, expected);
    let b = ws.privacy_budget("border_events").unwrap();
    assert_eq!(b.charges as usize, expected);
    assert!(b.spent <= BUDGET * (1.0 + 1e-9), "{b:?}");
    // The ledger's total is the sum of what was charged.
    let total: f64 = ws
        .privacy_ledger(Some("border_events"))
        .unwrap()
        .iter()
        .map(|l| l.rho)
        .sum();
    assert!((total - b.spent).abs() < 1e-9);
    assert!(b.left() < RHO);
    // A budget may be lowered below what is spent: nothing more can go.
    let b = ws.set_privacy_budget("border_events", 1.0).unwrap();
    assert_eq!(b.left(), 0.0);
}
