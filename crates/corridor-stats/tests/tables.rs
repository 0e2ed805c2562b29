//! Tables over a derived demo workspace: margins add up, totals match the
//! records, stocks are never summed over months, errors name what exists.

use std::sync::OnceLock;

use corridor_stats::{TOTAL, TableSpec, table};
use corridor_store::Workspace;
use corridor_world::WorldConfig;
use corridor_world::mappings::SUBMISSIONS;

struct Demo {
    root: std::path::PathBuf,
}

fn demo() -> Workspace {
    static D: OnceLock<Demo> = OnceLock::new();
    let d = D.get_or_init(|| {
        let root = corridor_world::scratch_dir("stats");
        let world = root.join("world");
        corridor_world::generate(
            &WorldConfig {
                persons: 2500,
                years: 3,
                ..WorldConfig::default()
            },
            &world,
            &|_, _| {},
        )
        .expect("world");
        let ws = Workspace::init(&root.join("ws")).expect("init");
        for (mapping, file) in SUBMISSIONS
            .iter()
            .filter(|(m, _)| !m.contains("trafficking"))
        {
            ws.submit(&world.join(mapping), &world.join(file), false, &mut |_| {})
                .unwrap_or_else(|e| panic!("{file}: {e}"));
        }
        corridor_derive::derive(&ws, &corridor_derive::Options::default(), &|_, _| {})
            .expect("derive");
        Demo { root }
    });
    Workspace::open(&d.root.join("ws")).expect("open")
}

fn spec(measure: &str, by: &[&str]) -> TableSpec {
    TableSpec {
        measure: measure.into(),
        by: by.iter().map(|s| s.to_string()).collect(),
        filter: None,
    }
}

/// Every cell with `_T` somewhere equals the sum of the cells that differ
/// from it only where it says `_T` (one dimension at a time).
fn assert_margins_add_up(t: &corridor_stats::Table) {
    let values = t.values();
    for (coords, v) in &values {
        for i in 0..coords.len() {
            if coords[i] != TOTAL {
                continue;
            }
            let children: f64 = values
                .iter()
                .filter(|(c, _)| c[i] != TOTAL && (0..c.len()).all(|j| j == i || c[j] == coords[j]))
                .map(|(_, x)| *x)
                .sum();
            assert!(
                (children - v).abs() < 1e-6,
                "{} {coords:?}: total {v} but the parts sum to {children}",
                t.measure
            );
        }
    }
}

#[test]
fn every_margin_is_the_sum_of_its_parts() {
    let ws = demo();
    for (m, by) in [
        ("arrivals", vec!["month", "citizenship", "sex"]),
        (
            "migrant_arrivals",
            vec!["year", "reporting_country", "age_group"],
        ),
        ("net_migration", vec!["year", "citizenship_region"]),
        ("returns", vec!["year", "return_type", "sex"]),
        ("permits", vec!["year", "reporting_country", "permit_type"]),
        ("overstays", vec!["year", "reporting_country"]),
    ] {
        let t = table(&ws, &spec(m, &by)).unwrap_or_else(|e| panic!("{m}: {e}"));
        assert!(t.cells.len() > 3, "{m}: {} cells", t.cells.len());
        assert_margins_add_up(&t);
        let grand = t.cell(&vec![TOTAL; by.len()]).expect("grand total");
        assert!(grand.value > 0.0, "{m}: nothing counted");
        assert!(grand.records > 0);
    }
}

#[test]
fn totals_match_the_records() {
    let ws = demo();
    use arrow::array::AsArray;
    let count = |sql: &str| -> f64 {
        let b = ws.sql(sql).expect("sql");
        let a = arrow::compute::cast(b[0].column(0), &arrow::datatypes::DataType::Float64)
            .expect("cast");
        a.as_primitive::<arrow::datatypes::Float64Type>().value(0)
    };
    let t = table(&ws, &spec("arrivals", &["reporting_country"])).expect("table");
    let grand = t.cell(&[TOTAL]).expect("total").value;
    assert_eq!(
        grand,
        count("SELECT count(*) FROM crossings WHERE counted AND direction = 'entry'")
    );
    // Repeats keyed twice are not counted, so arrivals ≤ entry records.
    assert!(grand <= count("SELECT count(*) FROM border_events WHERE direction = 'entry'"));
    let t = table(&ws, &spec("returns", &[])).expect("table");
    assert_eq!(t.cells[0].value, count("SELECT count(*) FROM returns"));
    // Net migration is arrivals minus departures.
    let a = table(&ws, &spec("migrant_arrivals", &["year"])).expect("t");
    let d = table(&ws, &spec("migrant_departures", &["year"])).expect("t");
    let n = table(&ws, &spec("net_migration", &["year"])).expect("t");
    for c in &n.cells {
        let k: Vec<&str> = c.coords.iter().map(String::as_str).collect();
        let av = a.cell(&k).map_or(0.0, |x| x.value);
        let dv = d.cell(&k).map_or(0.0, |x| x.value);
        assert!((c.value - (av - dv)).abs() < 1e-6, "{k:?}");
    }
    // Recent months carry provisional estimates.
    assert!(a.cells.iter().any(|c| c.provisional));
}

#[test]
fn a_filter_narrows_and_the_cell_key_is_stable() {
    let ws = demo();
    let all = table(&ws, &spec("arrivals", &["citizenship"])).expect("t");
    let mut s = spec("arrivals", &["citizenship"]);
    s.filter = Some("citizenship = 'HND'".into());
    let hnd = table(&ws, &s).expect("t");
    assert_eq!(
        hnd.cell(&["HND"]).map(|c| (c.value, c.cell_key)),
        all.cell(&["HND"]).map(|c| (c.value, c.cell_key))
    );
    assert_eq!(
        hnd.cell(&[TOTAL]).map(|c| c.value),
        hnd.cell(&["HND"]).map(|c| c.value)
    );
}

#[test]
fn a_stock_is_never_summed_over_months() {
    let ws = demo();
    let t = table(&ws, &spec("nonresidents_present", &["month", "sex"])).expect("t");
    assert!(t.cells.iter().all(|c| c.coords[0] != TOTAL));
    assert!(t.cells.iter().any(|c| c.coords[1] == TOTAL));
    // Without a month: the latest month only, said in a note.
    let latest = table(&ws, &spec("nonresidents_present", &["sex"])).expect("t");
    assert!(!latest.notes.is_empty());
    let last_month = t
        .cells
        .iter()
        .map(|c| c.coords[0].clone())
        .max()
        .expect("months");
    assert_eq!(
        latest.cell(&[TOTAL]).map(|c| c.value),
        t.cell(&[&last_month, TOTAL]).map(|c| c.value)
    );
}

#[test]
fn errors_name_what_exists() {
    let ws = demo();
    let e = table(&ws, &spec("arrivals", &["colour"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("colour") && e.contains("citizenship"), "{e}");
    let e = table(&ws, &spec("arivals", &[])).unwrap_err().to_string();
    assert!(e.contains("arrivals"), "{e}");
    let e = TableSpec::from_toml("measure = 'arrivals'\nbye = ['sex']")
        .unwrap_err()
        .to_string();
    assert!(e.contains("bye"), "{e}");
}

#[test]
fn mirror_statistics_pair_every_reporting_country() {
    let ws = demo();
    let rows = corridor_stats::mirror::mirror(&ws, "year").expect("mirror");
    let totals: Vec<_> = rows.iter().filter(|r| r.period == TOTAL).collect();
    // Three reporting countries: six ordered pairs.
    assert_eq!(totals.len(), 6, "{totals:?}");
    for r in &totals {
        assert!(
            r.reported_by_origin > 0 && r.reported_by_destination > 0,
            "{r:?}"
        );
        // Land borders lose some crossings on each side, but the two sides
        // see mostly the same journeys.
        let a = r.asymmetry.expect("asymmetry");
        assert!(a.abs() < 0.5, "{r:?}");
    }
}
