//! Secondary suppression against an independent attacker: HiGHS (through
//! Python `highspy`, as `.ci/run` installs it) solves the smallest and the
//! largest value of every withheld cell given everything published, and
//! every primary must keep its protection interval. Tables are
//! hierarchical (month → quarter → year, country → region → world) with
//! many small cells, so the sub-tables interact.

use std::collections::BTreeMap;
use std::process::Command;

use corridor_protect::{Cost, Hierarchy, LeafTable, SuppressionParams, suppress_leaves};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

fn attacker_python() -> Option<String> {
    match std::env::var("CORRIDOR_PYTHON") {
        Ok(p) => Some(p),
        Err(_) => {
            assert!(
                std::env::var("CI").is_err(),
                "CI must set CORRIDOR_PYTHON to a Python with highspy (see .ci/run)"
            );
            eprintln!("CORRIDOR_PYTHON not set: skipping the LP attacker");
            None
        }
    }
}

/// Runs `tools/lp_attack.py --tables` on `spec`.
fn attack(python: &str, spec: &Value) -> std::process::Output {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("tables.json");
    std::fs::write(&path, spec.to_string()).unwrap();
    let tool = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tools/lp_attack.py");
    Command::new(python)
        .arg(tool)
        .arg("--tables")
        .arg(&path)
        .output()
        .unwrap()
}

fn s(x: &str) -> String {
    x.to_string()
}

/// (code, parent) pairs of a two-level hierarchy under `total`.
/// (code, parent) pairs of one dimension.
type Pairs = Vec<(String, Option<String>)>;

fn two_levels(total: &str, groups: &[(&str, &[&str])]) -> Pairs {
    let mut pairs = vec![(s(total), None)];
    for (g, kids) in groups {
        pairs.push((s(g), Some(s(total))));
        pairs.extend(kids.iter().map(|k| (s(k), Some(s(g)))));
    }
    pairs
}

fn hierarchical_table(seed: u64) -> (LeafTable, Vec<Pairs>) {
    let months = two_levels(
        "2024",
        &[
            ("2024-Q1", &["2024-01", "2024-02", "2024-03"]),
            ("2024-Q2", &["2024-04", "2024-05", "2024-06"]),
        ],
    );
    let countries = two_levels(
        "_T",
        &[
            ("419", &["MEX", "GTM", "HND", "SLV"]),
            ("021", &["USA", "CAN"]),
        ],
    );
    let sex = vec![
        (s("_T"), None),
        (s("F"), Some(s("_T"))),
        (s("M"), Some(s("_T"))),
    ];
    let pairs = vec![months, countries, sex];
    let dims: Vec<Hierarchy> = pairs
        .iter()
        .map(|p| Hierarchy::from_parents(p).unwrap())
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut leaves = Vec::new();
    let leaf_nodes: Vec<Vec<usize>> = dims
        .iter()
        .map(|h| (0..h.len()).filter(|&n| h.is_leaf(n)).collect())
        .collect();
    for &a in &leaf_nodes[0] {
        for &b in &leaf_nodes[1] {
            for &c in &leaf_nodes[2] {
                // A third of the cells small, some empty, the rest larger.
                let v = match rng.random_range(0..6) {
                    0 => 0,
                    1 | 2 => rng.random_range(1..10),
                    _ => rng.random_range(10..80),
                };
                leaves.push((vec![a, b, c], v));
            }
        }
    }
    (LeafTable { dims, leaves }, pairs)
}

#[test]
fn no_withheld_cell_can_be_narrowed_below_its_protection() {
    let python = attacker_python();
    for (seed, cost) in [
        (1, Cost::Values),
        (2, Cost::Cells),
        (3, Cost::Values),
        (4, Cost::Values),
    ] {
        let params = SuppressionParams {
            threshold: 10,
            protection: Some(if seed == 3 { 5 } else { 10 }),
            cost,
        };
        let (table, pairs) = hierarchical_table(seed);
        let done = suppress_leaves(table, &params).unwrap();
        let r = &done.report;
        assert!(r.primary > 10, "seed {seed}: {r:?}");
        assert!(r.secondary > 0, "seed {seed}: {r:?}");
        let mut cells = Vec::new();
        let mut truth = BTreeMap::new();
        for (codes, value, withheld) in done.cells() {
            // No primary is ever published.
            assert!(
                withheld || value == 0 || value >= 10,
                "{codes:?} = {value} published"
            );
            let mut row: Vec<Value> = codes.iter().map(|c| json!(c)).collect();
            row.push(if withheld { Value::Null } else { json!(value) });
            cells.push(row);
            if withheld {
                truth.insert(codes.join("|"), value);
            }
        }
        let Some(python) = &python else { continue };
        let dims = ["month", "country", "sex"];
        let parents: serde_json::Map<String, Value> = dims
            .iter()
            .zip(&pairs)
            .map(|(d, p)| {
                (
                    d.to_string(),
                    json!(p.iter().cloned().collect::<BTreeMap<_, _>>()),
                )
            })
            .collect();
        let spec = json!({
            "tables": [{"name": "t", "measure": "arrivals", "filter": null, "dims": dims,
                        "parents": parents, "cells": cells}],
            "truth": {"t": truth},
            "threshold": params.threshold,
            "protection": params.protection_level(),
        });
        let out = attack(python, &spec);
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "seed {seed}: the attacker narrowed a withheld cell:\n{report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // HiGHS prints its banner first.
        let report: Value = serde_json::from_str(&report[report.find('{').unwrap_or(0)..]).unwrap();
        assert_eq!(
            report["checked"].as_u64().unwrap() as usize,
            r.primary,
            "{report}"
        );
    }
}

#[test]
fn an_unprotected_pattern_is_caught_by_the_attacker() {
    // The attacker itself must be able to fail: one withheld cell in a
    // line of published cells is read off from its total.
    let Some(python) = attacker_python() else {
        return;
    };
    let spec = json!({
        "tables": [{"name": "t", "measure": "arrivals", "filter": null, "dims": ["sex"],
                    "cells": [["_T", 20], ["F", null], ["M", 17]]}],
        "truth": {"t": {"F": 3}},
        "threshold": 10, "protection": 10,
    });
    let out = attack(&python, &spec);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"failures\""));
}

#[test]
fn bad_parameters_are_refused() {
    let (table, _) = hierarchical_table(9);
    let p = SuppressionParams {
        threshold: 1,
        ..SuppressionParams::default()
    };
    let Err(e) = suppress_leaves(table, &p) else {
        panic!("threshold 1 accepted")
    };
    assert!(e.to_string().contains("threshold"));
}
