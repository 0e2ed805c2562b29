//! `corridor protect suppress|dp|kanon` end to end: the binary on CSV
//! files, its outputs read back and checked.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

fn corridor(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_corridor"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (h, rows)
}

/// A month × country × sex table with small cells, as leaves.
fn leaves(dir: &Path) -> (std::path::PathBuf, HashMap<(String, String, String), u64>) {
    let path = dir.join("leaves.csv");
    let mut w = csv::Writer::from_path(&path).unwrap();
    w.write_record(["month", "country", "sex", "persons"])
        .unwrap();
    let mut truth = HashMap::new();
    let countries = ["GTM", "HND", "SLV", "MEX", "ESP", "_U"];
    let mut x: u64 = 11;
    for m in 1..=12 {
        for c in countries {
            for s in ["F", "M"] {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = (x >> 33) % 40;
                let month = format!("2024-{m:02}");
                w.write_record([month.as_str(), c, s, &v.to_string()])
                    .unwrap();
                truth.insert((month, c.to_string(), s.to_string()), v);
            }
        }
    }
    w.flush().unwrap();
    (path, truth)
}

#[test]
fn suppress_withholds_every_small_cell_and_no_line_has_a_lone_gap() {
    let dir = tempfile::tempdir().unwrap();
    let (input, truth) = leaves(dir.path());
    let out = dir.path().join("cells.csv");
    let o = corridor(&[
        "protect",
        "suppress",
        "--input",
        input.to_str().unwrap(),
        "--dims",
        "month,country,sex",
        "--value",
        "persons",
        "--hierarchy",
        "month=calendar",
        "--hierarchy",
        "country=m49",
        "--threshold",
        "10",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
    let (h, rows) = read_csv(&out);
    assert_eq!(h, ["month", "country", "sex", "value", "conf_status"]);
    // 12 months + 4 quarters + 1 year + total; 5 countries + _U, their
    // sub-regions and regions, the total; F, M, total.
    assert_eq!(report["cells"].as_u64().unwrap() as usize, rows.len());
    let months: std::collections::HashSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert!(months.contains("2024-Q1") && months.contains("2024") && months.contains("_T"));
    let countries: std::collections::HashSet<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert!(countries.contains("M49_419") && countries.contains("M49_150"));

    let mut primaries = 0;
    let mut withheld = 0;
    for r in &rows {
        assert_eq!(r[3].is_empty(), r[4] == "C", "{r:?}");
        if let Some(&v) = truth.get(&(r[0].clone(), r[1].clone(), r[2].clone())) {
            if (1..10).contains(&v) {
                primaries += 1;
                assert_eq!(r[4], "C", "a leaf of {v} is published: {r:?}");
            } else if r[4] == "F" {
                assert_eq!(r[3], v.to_string());
            }
        }
        withheld += usize::from(r[4] == "C");
    }
    assert!(primaries > 20);
    assert_eq!(
        (report["primary"].as_u64().unwrap() + report["secondary"].as_u64().unwrap()) as usize,
        withheld
    );
    // Along every line of leaves under one parent (months of a quarter,
    // the sexes of a cell), a lone withheld cell would be its margin less
    // the others: never so.
    let value: HashMap<(&str, &str, &str), &Vec<String>> = rows
        .iter()
        .map(|r| ((r[0].as_str(), r[1].as_str(), r[2].as_str()), r))
        .collect();
    for ((m, c, _), r) in &value {
        let f = value[&(*m, *c, "F")];
        let mm = value[&(*m, *c, "M")];
        let t = value[&(*m, *c, "_T")];
        let gaps = [f, mm, t].iter().filter(|x| x[4] == "C").count();
        assert_ne!(
            gaps, 1,
            "one withheld cell in the sex line of {m} {c}: {r:?}"
        );
    }
}

#[test]
fn suppress_checks_margins_and_names_the_line_of_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("t.csv");
    std::fs::write(
        &input,
        "region,sex,n\nA,F,12\nA,M,3\nA,_T,15\nB,F,20\nB,M,30\nB,_T,49\n",
    )
    .unwrap();
    let out = dir.path().join("cells.csv");
    let args = |file: &str| {
        vec![
            "protect".to_string(),
            "suppress".into(),
            "--input".into(),
            file.into(),
            "--dims".into(),
            "region,sex".into(),
            "--value".into(),
            "n".into(),
            "--out".into(),
            out.to_str().unwrap().into(),
        ]
    };
    let run = |a: Vec<String>| corridor(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let o = run(args(input.to_str().unwrap()));
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("line 7") && err.contains("`n`") && err.contains("sum to 50"),
        "{err}"
    );
    assert!(!out.exists(), "no output from a failed run");

    std::fs::write(
        &input,
        "region,sex,n\nA,F,12\nA,M,3\nA,_T,15\nB,F,20\nB,M,30\n",
    )
    .unwrap();
    let o = run(args(input.to_str().unwrap()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_, rows) = read_csv(&out);
    // A, M (3) is withheld, so A, F must be too; and then B's row, to
    // protect the sex totals.
    let c: Vec<&str> = rows
        .iter()
        .filter(|r| r[3] == "C")
        .map(|r| r[0].as_str())
        .collect();
    assert!(c.len() >= 4, "{rows:?}");

    std::fs::write(&input, "region,sex,n\nA,F,12\nA,M,x\n").unwrap();
    let o = run(args(input.to_str().unwrap()));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("line 3") && err.contains("`x` is not a count"),
        "{err}"
    );

    let mut bad = args(input.to_str().unwrap());
    bad.extend(["--hierarchy".into(), "sex=m49".into()]);
    std::fs::write(&input, "region,sex,n\nA,F,12\nA,M,3\n").unwrap();
    let o = run(bad);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("is not an ISO 3166-1 alpha-3") && err.contains("`sex`"),
        "{err}"
    );
}

#[test]
fn dp_publishes_the_whole_domain_consistently_and_counts_what_falls_outside() {
    let dir = tempfile::tempdir().unwrap();
    let (input, truth) = leaves(dir.path());
    let months = dir.path().join("months.csv");
    let mut text = String::from("code\n");
    for m in 1..=12 {
        text += &format!("2024-{m:02}\n");
    }
    std::fs::write(&months, text).unwrap();
    // MEX is left out of the domain; BLZ is in it with no rows.
    let countries = dir.path().join("countries.csv");
    std::fs::write(&countries, "code\nGTM\nHND\nSLV\nESP\nBLZ\n_U\n").unwrap();
    let sexes = dir.path().join("sex.csv");
    std::fs::write(&sexes, "code\nF\nM\n").unwrap();
    let out = dir.path().join("dp.csv");
    let mut args = vec![
        "protect".to_string(),
        "dp".into(),
        "--input".into(),
        input.to_str().unwrap().into(),
        "--dims".into(),
        "month,country,sex".into(),
        "--value".into(),
        "persons".into(),
        "--rho".into(),
        "2".into(),
        "--domain".into(),
        format!("month={}", months.display()),
        "--domain".into(),
        format!("country={}", countries.display()),
        "--out".into(),
        out.to_str().unwrap().into(),
        "--json".into(),
    ];
    let run = |a: &[String]| corridor(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let o = run(&args);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--domain sex=FILE"), "{err}");

    args.extend(["--domain".into(), format!("sex={}", sexes.display())]);
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
    let mex: u64 = truth
        .iter()
        .filter(|((_, c, _), _)| c == "MEX")
        .map(|(_, v)| v)
        .sum();
    assert_eq!(report["outside_domain_rows"], 24);
    assert_eq!(report["outside_domain_value"].as_u64(), Some(mex));
    let (h, rows) = read_csv(&out);
    assert_eq!(h, ["month", "country", "sex", "value", "error_bound_95"]);
    assert_eq!(rows.len(), 13 * 7 * 3);
    let v: HashMap<(&str, &str, &str), i64> = rows
        .iter()
        .map(|r| {
            let x: i64 = r[3].parse().unwrap();
            assert!(x >= 0, "{r:?}");
            assert!(r[4].parse::<f64>().unwrap() > 0.0);
            ((r[0].as_str(), r[1].as_str(), r[2].as_str()), x)
        })
        .collect();
    // Every margin is the sum of the published cells under it.
    let leaf_sum: i64 = v
        .iter()
        .filter(|((m, c, s), _)| *m != "_T" && *c != "_T" && *s != "_T")
        .map(|(_, x)| x)
        .sum();
    assert_eq!(v[&("_T", "_T", "_T")], leaf_sum);
    for c in ["GTM", "BLZ", "_U"] {
        let by_month: i64 = (1..=12)
            .map(|m| v[&(format!("2024-{m:02}").as_str(), c, "_T")])
            .sum();
        assert_eq!(v[&("_T", c, "_T")], by_month);
    }
}

#[test]
fn kanon_keeps_every_record_and_makes_every_class_k_large() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("cases.csv");
    let mut w = csv::Writer::from_path(&input).unwrap();
    w.write_record(["case_id", "age", "sex", "citizenship", "note"])
        .unwrap();
    let cits = [
        "GTM", "HND", "SLV", "NIC", "MEX", "COL", "VEN", "ESP", "PHL", "NGA",
    ];
    let mut x: u64 = 5;
    for i in 0..600 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let age = 8 + (x >> 40) % 50;
        let sex = if (x >> 20).is_multiple_of(3) {
            "M"
        } else {
            "F"
        };
        let c = cits[((x >> 50) % 100).min(99) as usize * cits.len() / 100];
        w.write_record([&format!("C{i}"), &age.to_string(), sex, c, "kept"])
            .unwrap();
    }
    w.flush().unwrap();
    let out = dir.path().join("k.csv");
    let o = corridor(&[
        "protect",
        "kanon",
        "--input",
        input.to_str().unwrap(),
        "--quasi",
        "age,sex,citizenship",
        "--k",
        "11",
        "--hierarchy",
        "age=age",
        "--hierarchy",
        "citizenship=m49",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
    assert_eq!(report["records"], 600);
    assert!(report["levels"]["age"].as_u64().is_some());
    let (h, rows) = read_csv(&out);
    assert_eq!(h, ["case_id", "age", "sex", "citizenship", "note"]);
    assert_eq!(rows.len(), 600);
    let mut classes: HashMap<(String, String, String), usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r[0], format!("C{i}"));
        assert_eq!(r[4], "kept");
        *classes
            .entry((r[1].clone(), r[2].clone(), r[3].clone()))
            .or_default() += 1;
    }
    assert!(classes.values().all(|&n| n >= 11), "{classes:?}");
    let o = corridor(&[
        "protect",
        "kanon",
        "--input",
        input.to_str().unwrap(),
        "--quasi",
        "age,nation",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no column `nation`"), "{err}");
}
