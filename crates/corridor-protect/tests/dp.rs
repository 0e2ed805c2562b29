//! DP tables: consistent non-negative whole numbers over the publisher's
//! domain, error within the published bound, and the privacy loss charged
//! (and refusable) before any noise is drawn.

use std::collections::HashMap;

use corridor_protect::{DpCharge, Method, dp_table};
use corridor_stats::{Cell, TOTAL, Table};

fn s(x: &str) -> String {
    x.to_string()
}

/// A month × country × sex table with its margins, as corridor-stats
/// makes them: only the leaves that have records, and a country ("ZZZ")
/// outside the domain.
fn table() -> (Table, Vec<Vec<String>>) {
    let months: Vec<String> = (1..=12).map(|m| format!("2024-{m:02}")).collect();
    let countries = vec![s("BOL"), s("COL"), s("ECU"), s("PER"), s("VEN")];
    let sexes = vec![s("F"), s("M"), s("_U")];
    let mut leaves = Vec::new();
    let mut x = 12345u64;
    for m in &months {
        for c in countries.iter().chain([&s("ZZZ")]) {
            for sx in &sexes {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = match (x >> 33) % 5 {
                    0 => 0,
                    1 => (x >> 40) % 4,
                    _ => 20 + (x >> 40) % 300,
                };
                if v > 0 {
                    leaves.push((vec![m.clone(), c.clone(), sx.clone()], v));
                }
            }
        }
    }
    let mut sums: HashMap<Vec<String>, u64> = HashMap::new();
    for (coords, v) in &leaves {
        for mask in 0..8 {
            let key: Vec<String> = coords
                .iter()
                .enumerate()
                .map(|(k, c)| {
                    if mask & (1 << k) != 0 {
                        s(TOTAL)
                    } else {
                        c.clone()
                    }
                })
                .collect();
            *sums.entry(key).or_default() += v;
        }
    }
    let mut cells: Vec<Cell> = sums
        .into_iter()
        .map(|(coords, v)| Cell {
            coords,
            value: v as f64,
            records: v,
            cell_key: 0,
            provisional: false,
        })
        .collect();
    cells.sort_by(|a, b| a.coords.cmp(&b.coords));
    let t = Table {
        measure: s("arrivals"),
        dims: vec![s("month"), s("reporting_country"), s("sex")],
        filter: None,
        cells,
        notes: vec![],
    };
    (t, vec![months, countries, sexes])
}

#[test]
fn a_dp_table_is_consistent_non_negative_and_within_its_bound() {
    let (t, domains) = table();
    // The truth over the domain: the margins without the records that
    // fall outside it.
    let mut truth: HashMap<Vec<String>, f64> = HashMap::new();
    for c in t
        .cells
        .iter()
        .filter(|c| !c.coords.iter().any(|x| x == "ZZZ" || x == TOTAL))
    {
        for mask in 0..8 {
            let key: Vec<String> = c
                .coords
                .iter()
                .enumerate()
                .map(|(k, x)| {
                    if mask & (1 << k) != 0 {
                        s(TOTAL)
                    } else {
                        x.clone()
                    }
                })
                .collect();
            *truth.entry(key).or_default() += c.value;
        }
    }
    let mut charged = Vec::new();
    let rho = 0.5;
    let p = dp_table(&t, &domains, rho, &mut |c: &DpCharge| {
        charged.push(c.clone());
        Ok(())
    })
    .unwrap();
    // Charged once, for what the measurements spend: the ρ asked for.
    assert_eq!(charged.len(), 1);
    let c = &charged[0];
    assert_eq!(c.measurements.len(), 8);
    let sum: f64 = c.measurements.iter().map(|m| m.rho).sum();
    assert!(
        (sum - c.rho).abs() < 1e-12 && (c.rho - rho).abs() < 1e-9,
        "{c:?}"
    );
    let Method::DifferentialPrivacy { rho: r, .. } = p.method().clone() else {
        panic!("{:?}", p.method())
    };
    assert_eq!(r, c.rho);

    // The whole domain, margins included, and nothing outside it.
    let cells = &p.value().cells;
    assert_eq!(cells.len(), 13 * 6 * 4);
    assert!(cells.iter().all(|c| c.coords[1] != "ZZZ"));
    let published: HashMap<&[String], f64> = cells
        .iter()
        .map(|c| (c.coords.as_slice(), c.value.unwrap()))
        .collect();
    for c in cells {
        let v = c.value.unwrap();
        assert!(v >= 0.0 && v.fract() == 0.0, "{c:?}");
        assert!(c.error_bound.unwrap() >= 1.0);
        // Every margin is the sum of what is published under it.
        for k in 0..3 {
            if c.coords[k] == TOTAL {
                let under: f64 = domains[k]
                    .iter()
                    .map(|code| {
                        let mut co = c.coords.clone();
                        co[k] = code.clone();
                        published[co.as_slice()]
                    })
                    .sum();
                assert_eq!(under, v, "{:?} along {k}", c.coords);
            }
        }
    }
    // The cells fall within their bounds about 95 % of the time, the
    // large ones (where non-negativity does not bite) too.
    let (mut inside, mut large, mut large_inside) = (0, 0, 0);
    for c in cells {
        let true_value = truth.get(&c.coords).copied().unwrap_or(0.0);
        let ok = (c.value.unwrap() - true_value).abs() <= c.error_bound.unwrap();
        inside += usize::from(ok);
        if true_value >= 30.0 {
            large += 1;
            large_inside += usize::from(ok);
        }
    }
    assert!(
        inside as f64 >= 0.9 * cells.len() as f64,
        "{inside} of {}",
        cells.len()
    );
    assert!(large > 100, "{large}");
    assert!(
        large_inside as f64 >= 0.9 * large as f64,
        "{large_inside} of {large}"
    );
}

#[test]
fn a_refused_charge_draws_no_noise_and_bad_domains_are_refused() {
    let (t, domains) = table();
    let e = dp_table(&t, &domains, 0.5, &mut |_| Err(s("over budget"))).unwrap_err();
    assert!(e.to_string().contains("over budget"), "{e}");
    let mut called = false;
    let mut never = |_: &DpCharge| {
        called = true;
        Ok(())
    };
    for (rho, doms) in [
        (0.0, domains.clone()),
        (f64::NAN, domains.clone()),
        (0.5, domains[..2].to_vec()),
        (0.5, vec![domains[0].clone(), vec![], domains[2].clone()]),
        (
            0.5,
            vec![
                domains[0].clone(),
                vec![s("BOL"), s("BOL")],
                domains[2].clone(),
            ],
        ),
        (
            0.5,
            vec![domains[0].clone(), vec![s(TOTAL)], domains[2].clone()],
        ),
    ] {
        assert!(
            dp_table(&t, &doms, rho, &mut never).is_err(),
            "{rho} {doms:?}"
        );
    }
    assert!(!called);
}
