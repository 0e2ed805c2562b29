//! A synthetic-data folder, which a publisher may hand out, holds only
//! protected figures; the sensitive counts are in the internal review,
//! which is written elsewhere.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use corridor_synth::report::Population;
use corridor_synth::{Context, Domain, DpOptions, Folders, KOptions, SynthError, Table};

const K: u32 = 20;
const POPULATION: f64 = 1_234_567.0;
const COLUMNS: [&str; 4] = ["sex", "age_group", "exploitation", "citizenship"];

/// Sensitive cases: common groups, and three SDG 16.2.2 cells of 13, 17
/// and 19 victims, below k, with digits no other figure has (every sex,
/// age group and form on its own is common). `extra` rows are added as
/// they are.
fn cases(extra: &[[&str; 4]]) -> Table {
    let mut rows: Vec<[&str; 4]> = Vec::new();
    let mut add = |n: usize, sex: &'static str, age: &'static str, form: &'static str| {
        for i in 0..n {
            rows.push([sex, age, form, ["GTM", "HND", "SLV"][i % 3]]);
        }
    };
    add(240, "F", "Y18T24", "sexual");
    add(150, "M", "Y25T34", "forced_labour");
    add(60, "F", "Y_GE50", "forced_labour");
    add(40, "M", "Y12T17", "sexual");
    add(30, "F", "Y0T11", "sexual");
    add(25, "M", "Y18T24", "organ_removal");
    add(13, "F", "Y_GE50", "sexual");
    add(17, "M", "Y12T17", "forced_labour");
    add(19, "F", "Y0T11", "organ_removal");
    rows.extend_from_slice(extra);
    Table::from_rows(
        COLUMNS.iter().map(|c| c.to_string()).collect(),
        rows.iter().map(|r| r.to_vec()),
    )
}

/// A population by sex and age, so that every SDG cell has a rate.
fn context() -> Context {
    let counts = [
        ("F".to_string(), 0, Some(99), POPULATION * 0.51),
        ("M".to_string(), 0, Some(99), POPULATION * 0.49),
    ];
    let groups = [
        ("Y0T11", 0, Some(11)),
        ("Y12T17", 12, Some(17)),
        ("Y18T24", 18, Some(24)),
        ("Y25T34", 25, Some(34)),
        ("Y35T49", 35, Some(49)),
        ("Y_GE50", 50, None),
    ];
    Context {
        indicator: Default::default(),
        population: Some(Population::regrouped(&counts, &groups, "test".into())),
        source: "test cases".into(),
    }
}

fn domain() -> Domain {
    let mut d = Domain::default();
    let mut set = |c: &str, v: &[&str]| {
        d.set(c, v.iter().map(|s| s.to_string()).collect(), "test".into());
    };
    set("sex", &["F", "M", "_O"]);
    set(
        "age_group",
        &["Y0T11", "Y12T17", "Y18T24", "Y25T34", "Y35T49", "Y_GE50"],
    );
    set(
        "exploitation",
        &["sexual", "forced_labour", "organ_removal", "other"],
    );
    set("citizenship", &["GTM", "HND", "SLV", "MEX"]);
    d
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Every number written in `text` that stands on its own (not part of a
/// code such as `Y12T17`): whole numbers, and decimals as f64.
fn numbers(text: &str) -> (Vec<u64>, Vec<f64>) {
    let b = text.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let (mut ints, mut decimals) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || !word(b[i - 1])) {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            let token = text[start..i].trim_end_matches('.');
            if i < b.len() && word(b[i]) {
                continue;
            }
            if token.contains('.') {
                if let Ok(x) = token.parse() {
                    decimals.push(x);
                }
            } else if let Ok(n) = token.parse() {
                ints.push(n);
            }
        } else {
            i += 1;
        }
    }
    (ints, decimals)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The SDG 16.2.2 cells of the internal review held by fewer than k
/// victims: (sex, age, form, count, rate).
fn rare_cells(review: &Path) -> Vec<(String, String, String, u64, f64)> {
    json(&review.join("report.json"))["sdg_16_2_2"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| (1..u64::from(K)).contains(&r["sensitive"].as_u64().unwrap()))
        .map(|r| {
            (
                r["sex"].as_str().unwrap().to_string(),
                r["age"].as_str().unwrap().to_string(),
                r["form"].as_str().unwrap().to_string(),
                r["sensitive"].as_u64().unwrap(),
                r["sensitive_rate"]
                    .as_f64()
                    .unwrap_or_else(|| panic!("{r}")),
            )
        })
        .collect()
}

/// Asserts that no file of `publish` holds a sensitive count (or its rate)
/// of `forbidden`, unless the same number is a protected figure; returns
/// the counts that were checked.
fn assert_no_sensitive_count(
    publish: &Path,
    forbidden: &[(u64, f64)],
    protected: &BTreeSet<u64>,
) -> Vec<u64> {
    let checked: Vec<(u64, f64)> = forbidden
        .iter()
        .filter(|(n, _)| !protected.contains(n))
        .copied()
        .collect();
    let all = files(publish);
    assert!(all.len() >= 4, "{all:?}");
    for path in &all {
        let text = std::fs::read_to_string(path).unwrap();
        let (ints, decimals) = numbers(&text);
        for (n, rate) in &checked {
            assert!(
                !ints.contains(n),
                "{} shows the sensitive count {n}",
                path.display()
            );
            assert!(
                !decimals.iter().any(|x| (x - rate).abs() < 5e-4),
                "{} shows the sensitive rate {rate} of a count {n}",
                path.display()
            );
        }
        // Nothing calls the folder a release.
        assert!(
            !text.to_lowercase().contains("release"),
            "{} calls itself a release",
            path.display()
        );
    }
    checked.iter().map(|(n, _)| *n).collect()
}

fn internal_is_marked(review: &Path) {
    let html = std::fs::read_to_string(review.join("report.html")).unwrap();
    let title = html
        .split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next())
        .unwrap();
    assert!(title.starts_with("INTERNAL — contains sensitive counts, do not publish"));
    let readme = std::fs::read_to_string(review.join("README.md")).unwrap();
    assert!(
        readme
            .lines()
            .next()
            .unwrap()
            .contains("INTERNAL — contains sensitive counts, do not publish")
    );
    assert_eq!(
        json(&review.join("report.json"))["notice"],
        "INTERNAL — contains sensitive counts, do not publish"
    );
}

#[test]
fn k_synthetic_folder_holds_no_sensitive_count() {
    let tmp = tempfile::tempdir().unwrap();
    let publish = tmp.path().join("out/k-synthetic");
    let review = tmp.path().join("ws/synth-review/k-synthetic");
    let table = cases(&[]);
    corridor_synth::write_ksynthetic(
        &table,
        &KOptions {
            k: K,
            length: 3,
            resolution: 10,
            seed: 1,
            keep_counts: true,
        },
        &context(),
        Folders {
            publish: &publish,
            review: &review,
        },
    )
    .unwrap();
    // The internal review has the rare cells, the one of 13 women over 50
    // exploited sexually among them.
    internal_is_marked(&review);
    let rare = rare_cells(&review);
    let counts: BTreeSet<u64> = rare.iter().map(|r| r.3).collect();
    assert_eq!(counts, BTreeSet::from([13, 17, 19]));
    assert!(
        rare.iter()
            .any(|r| (r.0.as_str(), r.1.as_str(), r.2.as_str(), r.3)
                == ("F", "Y_GE50", "sexual", 13))
    );
    let html = std::fs::read_to_string(review.join("report.html")).unwrap();
    assert!(html.contains("<td>13</td>") && html.contains("<td>19</td>"));

    // Protected figures: the synthetic data's SDG cells and the published
    // aggregates. The rare cells' synthetic counts are 0 (k-synthetic data
    // hold nothing rare), so none of 13, 17, 19 is one.
    let public = json(&publish.join("report.json"));
    let rows = public["sdg_16_2_2"].as_array().unwrap();
    assert!(!rows.is_empty());
    let mut protected: BTreeSet<u64> = rows
        .iter()
        .map(|r| r["synthetic"].as_u64().unwrap())
        .collect();
    let aggregates = std::fs::read_to_string(publish.join("aggregates.csv")).unwrap();
    protected.extend(
        aggregates
            .lines()
            .skip(1)
            .filter_map(|l| l.rsplit(',').next()?.parse::<u64>().ok()),
    );
    let forbidden: Vec<(u64, f64)> = rare.iter().map(|r| (r.3, r.4)).collect();
    let checked = assert_no_sensitive_count(&publish, &forbidden, &protected);
    // Some synthetic cells happen to hold 13 or 17 (k-synthetic records
    // spread a rare cell's victims over cells with a value withheld): those
    // numbers are protected figures; the cells themselves are checked below.
    assert!(checked.contains(&19), "{checked:?}");
    // The SDG rows are the synthetic data's only: no sensitive figure, and
    // no row for a cell they lack (it would say the sensitive data hold it),
    // so none for the rare cells.
    for r in rows {
        assert!(r.get("sensitive").is_none() && r.get("sensitive_rate").is_none());
        assert!(r["synthetic"].as_u64().unwrap() > 0);
        assert!(
            !rare
                .iter()
                .any(|c| r["sex"] == c.0 && r["age"] == c.1 && r["form"] == c.2),
            "{r}"
        );
    }
    let html = std::fs::read_to_string(publish.join("report.html")).unwrap();
    let internal_html = std::fs::read_to_string(review.join("report.html")).unwrap();
    for (sex, age, form, n, _) in &rare {
        let cell = format!("<td>{sex}</td><td>{age}</td><td>{form}</td>");
        assert!(!html.contains(&cell), "{cell}");
        assert!(
            internal_html.contains(&format!("{cell}<td>{n}</td>")),
            "{cell}"
        );
    }
    assert!(public.get("sensitive_rows").is_none());
    assert_eq!(public["records_unique_on_a_published_combination"], 0);
    // The folder's files are the documented ones; the review is not among
    // them.
    let mut names: Vec<String> = files(&publish)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "README.md",
            "aggregates.csv",
            "report.html",
            "report.json",
            "synthetic.csv"
        ]
    );
}

#[test]
fn dp_folder_holds_no_sensitive_count_and_reports_the_domain() {
    let tmp = tempfile::tempdir().unwrap();
    let publish = tmp.path().join("out/dp");
    let review = tmp.path().join("ws/synth-review/dp");
    // One record from a country outside the domain.
    let table = cases(&[["M", "Y25T34", "forced_labour", "ATL"]]);
    let (out, input, _) = corridor_synth::write_dp(
        &table,
        &domain(),
        &DpOptions::new(2.0, 1e-6, 1),
        &context(),
        Folders {
            publish: &publish,
            review: &review,
        },
    )
    .unwrap();
    internal_is_marked(&review);
    // The value outside the domain is counted in the internal review, and
    // appears nowhere in the synthetic-data folder.
    assert_eq!(input.outside().len(), 1);
    let internal = json(&review.join("report.json"));
    assert_eq!(internal["outside_domain"][0]["column"], "citizenship");
    assert_eq!(internal["outside_domain"][0]["records"], 1);
    assert_eq!(internal["outside_domain"][0]["values"][0][0], "ATL");
    for path in files(&publish) {
        assert!(!std::fs::read_to_string(&path).unwrap().contains("ATL"));
    }
    // The synthetic data's values are the domain's.
    assert_eq!(out.synthetic.values[3], ["GTM", "HND", "SLV", "MEX"]);
    let public = json(&publish.join("report.json"));
    assert_eq!(public["domain"][3]["column"], "citizenship");
    assert_eq!(public["domain"][3]["source"], "test");
    // Protected figures: the synthetic data's SDG cells, its size.
    let mut protected: BTreeSet<u64> = public["sdg_16_2_2"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["synthetic"].as_u64().unwrap())
        .collect();
    protected.insert(out.estimated_rows as u64);
    protected.insert(out.synthetic.rows() as u64);
    let mut forbidden: Vec<(u64, f64)> = rare_cells(&review).iter().map(|r| (r.3, r.4)).collect();
    // A DP synthesis does not publish the number of sensitive records
    // either: only its noisy estimate.
    let n = table.rows() as u64;
    forbidden.push((n, n as f64 * 1e5 / POPULATION));
    assert_eq!(n, 595);
    assert_no_sensitive_count(&publish, &forbidden, &protected);
    for r in public["sdg_16_2_2"].as_array().unwrap() {
        assert!(r.get("sensitive").is_none());
    }
    assert!(
        public
            .get("records_unique_on_a_published_combination")
            .is_none()
            || public["records_unique_on_a_published_combination"].is_null()
    );
}

#[test]
fn a_review_folder_inside_the_synthetic_data_folder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let publish = tmp.path().join("out");
    let review = publish.join("internal");
    let e = corridor_synth::write_ksynthetic(
        &cases(&[]),
        &KOptions::default(),
        &context(),
        Folders {
            publish: &publish,
            review: &review,
        },
    )
    .err()
    .unwrap();
    assert!(matches!(e, SynthError::ReviewInsideOutput { .. }), "{e}");
    assert!(!publish.join("synthetic.csv").exists());
    // The default beside a folder is outside it.
    let beside = corridor_synth::review_beside(&publish);
    assert_eq!(beside, tmp.path().join("out.internal-review"));
}
