//! Nowcasts over a derived demo workspace with its signals: every corridor
//! gets its months with ordered intervals, corridors add up to their
//! country's total, the back-test beats the seasonal naive forecast, and
//! errors say what exists.

use std::sync::OnceLock;

use corridor_nowcast::series::{month_text, parse_month};
use corridor_nowcast::{BacktestOptions, Options};
use corridor_store::Workspace;
use corridor_world::WorldConfig;
use corridor_world::mappings::SUBMISSIONS;

fn demo() -> Workspace {
    static D: OnceLock<std::path::PathBuf> = OnceLock::new();
    let root = D.get_or_init(|| {
        let root = corridor_world::scratch_dir("nowcast");
        let world = root.join("world");
        corridor_world::generate(
            &WorldConfig {
                persons: 6000,
                years: 4,
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
        root
    });
    Workspace::open(&root.join("ws")).expect("open")
}

#[test]
fn every_corridor_is_nowcast_and_adds_up_to_its_total() {
    let ws = demo();
    let mut opts = Options::new("departures");
    opts.as_of = parse_month("2025-09");
    let now = corridor_nowcast::nowcast(&ws, &opts).expect("nowcast");
    assert_eq!(now.origin, "2025-09");
    assert_eq!(now.signals_through.as_deref(), Some("2025-12"));
    let months: Vec<&str> = vec!["2025-10", "2025-11", "2025-12"];
    for r in &now.rows {
        assert!(
            r.lower95 <= r.lower80 + 1e-9
                && r.lower80 <= r.estimate + 1e-9
                && r.estimate <= r.upper80 + 1e-9
                && r.upper80 <= r.upper95 + 1e-9,
            "{r:?}"
        );
        if let Some(h) = r.horizon {
            assert_eq!(r.period, months[h - 1]);
            // The held-back month is in the workspace, to compare with.
            assert!(r.administrative.is_some(), "{r:?}");
        }
    }
    // A country's corridors sum to its total, month by month.
    let totals: Vec<_> = now
        .rows
        .iter()
        .filter(|r| r.destination == "_T" && r.horizon.is_some())
        .collect();
    assert_eq!(
        totals.len(),
        3 * 3,
        "three reporting countries, three months"
    );
    for t in totals {
        let sum: f64 = now
            .rows
            .iter()
            .filter(|r| {
                r.period == t.period
                    && r.origin == t.origin
                    && r.destination != "_T"
                    && r.reporting_country == t.reporting_country
            })
            .map(|r| r.estimate)
            .sum();
        assert!(
            (sum - t.estimate).abs() < 0.5,
            "{}: {sum} vs {}",
            t.period,
            t.estimate
        );
        // The nowcast is near the figure held back.
        let admin = t.administrative.expect("held back");
        assert!((t.estimate - admin).abs() < 0.25 * admin, "{t:?}");
    }
    // The quarter is the sum of its months.
    assert!(now.rows.iter().any(|r| r.period == "2025-Q4"));
    // The signals are used, and the note says how they under-cover.
    assert!(
        now.rows
            .iter()
            .any(|r| r.signals.contains("mobile_devices"))
    );
    assert!(now.note.contains("mobile_devices"), "{}", now.note);
    assert!(now.note.contains("under-covers"), "{}", now.note);
    assert!(now.note.starts_with("Experimental statistics."));
    // The mobile signal comes by age group and sex: its coverage is
    // estimated per reporting country, and shows the generator's bias
    // (truth/signal_bias.csv): children barely seen, women less than men,
    // older people less than adults.
    assert_eq!(now.coverage.len(), 3, "{:?}", now.coverage);
    for c in &now.coverage {
        let g = |age: &str, sex: &str| {
            let i = corridor_nowcast::bias::group_index(age, sex).expect("group");
            c.by_group[i].expect("seen")
        };
        assert!(g("Y0T14", "F") < 0.05 && g("Y0T14", "M") < 0.05, "{c:?}");
        assert!(g("Y25T64", "F") < g("Y25T64", "M"), "{c:?}");
        assert!(g("Y15T24", "F") < g("Y15T24", "M"), "{c:?}");
        assert!(g("Y_GE65", "M") < g("Y25T64", "M"), "{c:?}");
    }
    assert!(now.note.contains("by age group and sex"), "{}", now.note);
    assert!(now.note.contains("divided by its coverage"), "{}", now.note);
}

#[test]
fn the_back_test_beats_the_seasonal_naive_forecast() {
    let ws = demo();
    let opts = Options::new("departures");
    let bt = BacktestOptions {
        from: parse_month("2024-07").expect("month"),
        to: parse_month("2025-09").expect("month"),
        signal_lead: 3,
    };
    let report = corridor_nowcast::backtest(&ws, &opts, &bt).expect("backtest");
    assert_eq!(report.origins, 15);
    let get = |method: &str, h: usize| {
        report
            .scores
            .iter()
            .find(|s| s.method == method && s.horizon == h)
            .unwrap_or_else(|| panic!("{method} {h}"))
    };
    for h in 1..=3 {
        let (ours, naive, plain) = (
            get("corridor", h),
            get("seasonal naive", h),
            get("no signals", h),
        );
        assert!(ours.n > 100, "{ours:?}");
        assert!(
            ours.mase < 0.8 * naive.mase,
            "h {h}: {} vs {}",
            ours.mase,
            naive.mase
        );
        assert!(
            ours.mase < plain.mase,
            "h {h}: {} vs {}",
            ours.mase,
            plain.mase
        );
        let c95 = ours.coverage95.expect("intervals");
        assert!((0.85..=1.0).contains(&c95), "h {h}: {c95}");
        assert!(naive.coverage95.is_none());
    }
}

#[test]
fn errors_say_what_exists() {
    let ws = demo();
    let e = corridor_nowcast::nowcast(&ws, &Options::new("stocks")).expect_err("not a flow");
    assert!(e.to_string().contains("arrivals, departures"), "{e}");
    let mut opts = Options::new("arrivals");
    opts.horizon = 0;
    let e = corridor_nowcast::nowcast(&ws, &opts).expect_err("no horizon");
    assert!(e.to_string().contains("1 to 24"), "{e}");
    opts.horizon = 2;
    opts.as_of = parse_month("1999-01");
    let e = corridor_nowcast::nowcast(&ws, &opts).expect_err("nothing final");
    assert!(e.to_string().contains("up to 1999-01"), "{e}");
    let bt = BacktestOptions {
        from: parse_month("2025-01").expect("month"),
        to: parse_month("2024-01").expect("month"),
        signal_lead: 3,
    };
    let e = corridor_nowcast::backtest(&ws, &Options::new("arrivals"), &bt).expect_err("reversed");
    assert!(e.to_string().contains(&month_text(bt.from)), "{e}");
}
