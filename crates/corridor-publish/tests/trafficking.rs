//! The trafficking half of a release: SDG 16.2.2 counts and rates from the
//! linked cases, the same victims giving the same cell key in two tables,
//! and k-synthetic and DP synthetic data inside the signed release, the DP
//! one charged to the cases' budget and refused once it is spent.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use corridor_publish::{PublishError, ReleaseSpec, build_release, verify_release};
use corridor_store::Workspace;
use corridor_world::WorldConfig;
use corridor_world::mappings::{LINKAGE, PARTNERS_KEY};

const SPEC: &str = r#"
title = "Trafficking release"
licence = "CC-BY-4.0"
version = "t1"
reference_period = "2022/2023"

[[table]]
name = "sdg"
measure = "victims"
by = ["sex", "age_group", "exploitation_form"]
method = "cell_key"
per_100000 = true

[[table]]
name = "by_year"
measure = "victims"
by = ["year", "sex"]
method = "cell_key"

[[synthetic]]
name = "k_synth"
method = "k_synthetic"
k = 5
length = 3
resolution = 5

[[synthetic]]
name = "dp_synth"
method = "dp"
epsilon = 1.0
"#;

fn workspace(root: &Path) -> Workspace {
    let world = root.join("world");
    let cfg = WorldConfig {
        persons: 600,
        victims: Some(400),
        years: 2,
        ..WorldConfig::default()
    };
    corridor_world::generate(&cfg, &world, &|_, _| {}).expect("world");
    let ws = Workspace::init(&root.join("ws")).expect("workspace");
    let secret = std::fs::read_to_string(world.join(PARTNERS_KEY)).expect("partners' key");
    for l in &LINKAGE {
        let schema = corridor_link::schema::LinkageSchema::load(&world.join(l.schema)).unwrap();
        corridor_link::encode_file(
            &schema,
            secret.trim().as_bytes(),
            &world.join(l.raw),
            &world.join(l.encoded),
            |_| {},
        )
        .unwrap_or_else(|e| panic!("{}: {e}", l.raw));
        ws.submit(
            &world.join(l.mapping),
            &world.join(l.encoded),
            false,
            &mut |_| {},
        )
        .unwrap_or_else(|e| panic!("{}: {e}", l.encoded));
    }
    ws.submit(
        &world.join("sources/population/population.mapping.toml"),
        &world.join("sources/population/population.csv"),
        false,
        &mut |_| {},
    )
    .expect("population");
    ws
}

/// Rows of a release CSV, by their codes.
fn cells(path: &Path, dims: usize) -> HashMap<Vec<String>, String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let v: Vec<String> = l.split(',').map(str::to_string).collect();
            (v[..dims].to_vec(), v[dims].clone())
        })
        .collect()
}

#[test]
fn a_release_publishes_sdg_16_2_2_and_synthetic_victims() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path());
    let spec_path = tmp.path().join("release.toml");
    std::fs::write(&spec_path, SPEC).unwrap();
    let spec = ReleaseSpec::load(&spec_path).unwrap();
    let out = tmp.path().join("releases");
    let (_, persons, _) = corridor_cases::workspace_case_rows(&ws).unwrap();
    let persons = persons.len() as f64;

    // DP synthesis needs the cases' budget, refused before any noise.
    let e = build_release(&ws, &spec, &out, &|_, _, _| {}).unwrap_err();
    assert!(e.to_string().contains("trafficking_cases"), "{e}");
    let rho = corridor_synth::dp::rho_of(1.0, 1e-6);
    ws.set_privacy_budget(corridor_cases::CASES_DATASET, 1.5 * rho)
        .unwrap();
    let built = build_release(&ws, &spec, &out, &|_, _, _| {}).unwrap();
    verify_release(&built.dir, Some(&built.public_key)).unwrap();
    let dir = &built.dir;
    let names: Vec<&str> = built.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["sdg", "sdg_per_100000", "by_year"]);

    // Counts: cell-key perturbed, so within D = 2 of the persons.
    let sdg = cells(&dir.join("data/sdg.csv"), 3);
    let total: f64 = sdg[&vec!["_T".to_string(); 3]].parse().unwrap();
    assert!((total - persons).abs() <= 2.0, "{total} vs {persons}");
    // The same victims (all of them) give the same value in both tables.
    let by_year = cells(&dir.join("data/by_year.csv"), 2);
    assert_eq!(
        by_year[&vec!["_T".to_string(); 2]],
        sdg[&vec!["_T".to_string(); 3]]
    );
    for sex in ["F", "M"] {
        let a = &sdg[&vec![sex.to_string(), "_T".into(), "_T".into()]];
        let b = &by_year[&vec!["_T".to_string(), sex.into()]];
        assert_eq!(
            a, b,
            "{sex}: one group of victims, one value in every table"
        );
    }
    // Forms are SDG 16.2.2's, never a raw set of forms.
    let forms = corridor_model::CodeListId::ExploitationForm.list();
    for k in sdg.keys() {
        assert!(
            k[2] == "_T" || k[2] == "_U" || forms.get(&k[2]).is_some(),
            "{k:?}"
        );
    }
    // Rates: the published count per 100,000 of that sex and age group.
    let population = corridor_cases::workspace_population(&ws).unwrap();
    let rates = cells(&dir.join("data/sdg_per_100000.csv"), 3);
    assert_eq!(rates.len(), sdg.len());
    for (k, count) in &sdg {
        let count: f64 = count.parse().unwrap();
        let p = population.of_or_total(&k[0], &k[1]).unwrap();
        let rate: f64 = rates[k].parse().unwrap();
        assert!(
            (rate - count * 1e5 / p).abs() <= 0.00005 + 1e-9,
            "{k:?}: {rate}"
        );
    }

    // Synthetic data: in the release, listed, with their reports; the
    // review stays in the workspace.
    for f in [
        "synthetic/k_synth/synthetic.csv",
        "synthetic/k_synth/aggregates.csv",
        "synthetic/k_synth/report.html",
        "synthetic/dp_synth/synthetic.csv",
        "synthetic/dp_synth/privacy.json",
        "synthetic/dp_synth/README.md",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("release.json")).unwrap()).unwrap();
    let synth = manifest["synthetic"].as_array().unwrap();
    assert_eq!(synth.len(), 2);
    assert_eq!(synth[0]["protection"]["method"], "k_synthetic");
    assert_eq!(synth[0]["protection"]["k"], 5);
    assert_eq!(synth[1]["protection"]["method"], "dp_synthesis");
    let agg = std::fs::read_to_string(dir.join("synthetic/k_synth/aggregates.csv")).unwrap();
    for line in agg.lines().skip(1) {
        let n: u32 = line.rsplit(',').next().unwrap().parse().unwrap();
        assert!(n >= 5 && n.is_multiple_of(5), "{line}");
    }
    assert!(
        !walk(dir)
            .iter()
            .any(|p| p.contains("internal") || p.contains("review"))
    );
    let note = std::fs::read_to_string(dir.join("methods/methods.es.md")).unwrap();
    assert!(note.contains("Datos sintéticos de casos") && note.contains("k-sintéticos"));
    let budget = ws.privacy_budget(corridor_cases::CASES_DATASET).unwrap();
    assert!((budget.spent - rho).abs() < 1e-12, "{budget:?}");

    // A second release would overspend the cases' budget: refused, and
    // nothing is left behind.
    let e = build_release(&ws, &spec, &out, &|_, _, _| {}).unwrap_err();
    assert!(matches!(e, PublishError::Protect { .. }), "{e}");
    assert!(e.to_string().contains("budget"), "{e}");
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert_eq!(left.len(), 1, "only the first release remains");

    if let Ok(python) = std::env::var("CORRIDOR_PYTHON") {
        let checker = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/check_release.py");
        let o = Command::new(&python)
            .arg(&checker)
            .arg(dir)
            .output()
            .expect("python");
        assert!(
            o.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            stdout.contains("OK   k_synth") && stdout.contains("OK   dp_synth"),
            "{stdout}"
        );
    } else {
        assert!(std::env::var("CI").is_err(), "CI must set CORRIDOR_PYTHON");
    }
}

/// Every path under `dir`, as text.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p.display().to_string());
        }
    }
    out
}
