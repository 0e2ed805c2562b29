//! Releases end to end over a derived workspace: built, verified, checked
//! by real SDMX and Frictionless validators, and refused once tampered with.

use std::path::{Path, PathBuf};
use std::process::Command;

use corridor_publish::{PublishError, ReleaseSpec, build_release, list_releases, verify_release};
use corridor_store::Workspace;
use corridor_world::WorldConfig;

const SPEC: &str = r#"
title = "Test release <script>alert(1)</script>"
description = "Border statistics of a small world"
licence = "CC-BY-4.0"
version = "2026.1"
reference_period = "2022-01/2023-12"

[[table]]
name = "flows_by_citizenship"
standard = "flows_by_citizenship"
method = "cell_key"
ptable = { D = 3, V = 1.5, js = 2, pstay = 0.5 }

[[table]]
name = "migrant_arrivals"
standard = "migrant_arrivals"
method = "cell_key"

[[table]]
name = "by_region"
measure = "arrivals"
by = ["year", "citizenship_region", "sex"]
method = "rr3"

[[table]]
name = "by_sex_only"
measure = "departures"
by = ["sex"]
method = "cell_key"

[[table]]
name = "arrivals_dp"
measure = "arrivals"
by = ["year", "reporting_country", "sex"]
method = "dp"
rho = 0.25
domain = { sex = ["F", "M", "_U"] }
"#;

fn workspace(root: &Path) -> Workspace {
    let world = root.join("world");
    corridor_world::generate(
        &WorldConfig {
            persons: 2000,
            years: 2,
            ..WorldConfig::default()
        },
        &world,
        &|_, _| {},
    )
    .expect("world");
    let ws = Workspace::init(&root.join("ws")).expect("init");
    for (mapping, file) in corridor_world::mappings::SUBMISSIONS
        .iter()
        .filter(|(_, f)| !corridor_world::CASE_FILES.contains(f))
    {
        ws.submit(&world.join(mapping), &world.join(file), false, &mut |_| {})
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    corridor_derive::derive(&ws, &corridor_derive::Options::default(), &|_, _| {}).expect("derive");
    ws
}

/// A copy of a release folder that may be changed (releases are read-only).
fn copy(dir: &Path, to: &Path) -> PathBuf {
    let out = to.join(dir.file_name().unwrap());
    let status = Command::new("cp")
        .arg("-r")
        .arg(dir)
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let status = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    out
}

/// The Python that has pysdmx and frictionless: CORRIDOR_PYTHON (as
/// `.ci/run` sets it). In CI a missing one fails the test.
fn validator_python() -> Option<String> {
    match std::env::var("CORRIDOR_PYTHON") {
        Ok(p) => Some(p),
        Err(_) => {
            assert!(
                std::env::var("CI").is_err(),
                "CI must set CORRIDOR_PYTHON to a Python with pysdmx and frictionless (see .ci/run)"
            );
            eprintln!("CORRIDOR_PYTHON not set: skipping the SDMX and Frictionless validators");
            None
        }
    }
}

#[test]
fn a_release_is_built_verified_validated_and_tamper_evident() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path());
    let spec_path = tmp.path().join("release.toml");
    std::fs::write(&spec_path, SPEC).unwrap();
    let spec = ReleaseSpec::load(&spec_path).unwrap();
    let out = tmp.path().join("releases");
    // A DP table needs a budget, and is refused before any noise without one.
    let e = build_release(&ws, &spec, &out, &|_, _, _| {}).unwrap_err();
    assert!(e.to_string().contains("border_records"), "{e}");
    assert!(list_releases(&out).map(|l| l.is_empty()).unwrap_or(true));
    ws.set_privacy_budget(corridor_publish::BORDER_DATASET, 0.6)
        .unwrap();
    let built = build_release(&ws, &spec, &out, &|_, _, _| {}).unwrap();
    assert!(built.dir.starts_with(&out));
    assert_eq!(built.tables.len(), 5);
    let v = verify_release(&built.dir, Some(&built.public_key)).unwrap();
    assert_eq!(v.id, built.id);
    assert_eq!(v.files, built.files);

    // What a release holds, and what it never holds.
    let dir = &built.dir;
    for f in [
        "release.json",
        "datapackage.json",
        "sdmx/structure.xml",
        "data/flows_by_citizenship.csv",
        "data/flows_by_citizenship.parquet",
        "sdmx/by_region.csv",
        "methods/methods.en.md",
        "methods/methods.es.html",
        "utility.json",
        "SHA256SUMS",
        "SHA256SUMS.sig",
        "signing-key.pub",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let csv = std::fs::read_to_string(dir.join("data/flows_by_citizenship.csv")).unwrap();
    assert!(csv.starts_with("month,reporting_country,citizenship,value,obs_status,conf_status\n"));
    assert!(!csv.contains("cell_key") && !csv.contains("records"));
    // pstay and js = 2: no published 1 or 2.
    for line in csv.lines().skip(1) {
        let v: Vec<&str> = line.split(',').collect();
        assert!(!["1", "2"].contains(&v[3]), "{line}");
    }
    let html = std::fs::read_to_string(dir.join("methods/methods.en.html")).unwrap();
    assert!(
        !html.contains("<script>"),
        "raw HTML in the spec is not run"
    );
    assert!(html.contains("D = 3, V = 1.5, js = 2, pstay = 0.5"));
    let es = std::fs::read_to_string(dir.join("methods/methods.es.md")).unwrap();
    assert!(es.contains("perturbación por clave de celda") && es.contains("redondeo aleatorio"));
    assert!(es.contains("privacidad diferencial") && html.contains("never taken from the data"));

    // The signing key is private, in the workspace, never in the release.
    let key = ws.root().join("signing.key");
    assert!(key.is_file());
    let seed = std::fs::read_to_string(&key).unwrap();
    for f in walk(dir) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(seed.trim()),
            "{}",
            f.display()
        );
    }

    // A second build is a second release (RR3 draws anew): never the same
    // folder, and the first is untouched.
    let again = build_release(&ws, &spec, &out, &|_, _, _| {}).unwrap();
    assert_ne!(again.id, built.id);
    assert_eq!(again.public_key, built.public_key);
    let listed = list_releases(&out).unwrap();
    assert_eq!(listed.len(), 2);
    // The ledger holds what the two DP tables' mechanisms spent, and
    // refuses a third.
    let spent: f64 = [&built, &again]
        .iter()
        .flat_map(|b| &b.tables)
        .filter_map(|t| match &t.method {
            corridor_protect::Method::DifferentialPrivacy { rho, .. } => Some(*rho),
            _ => None,
        })
        .sum();
    let budget = ws.privacy_budget(corridor_publish::BORDER_DATASET).unwrap();
    assert!(
        (budget.spent - spent).abs() < 1e-12 && (spent - 0.5).abs() < 1e-9,
        "{budget:?}"
    );
    assert_eq!(budget.charges, 2);
    let e = build_release(&ws, &spec, &out, &|_, _, _| {}).unwrap_err();
    assert!(
        matches!(
            e,
            PublishError::Store(corridor_store::StoreError::OverBudget { .. })
        ),
        "{e}"
    );
    assert_eq!(list_releases(&out).unwrap().len(), 2);
    // The DP table: the whole domain, consistent, each cell with its bound.
    let dp = std::fs::read_to_string(dir.join("data/arrivals_dp.csv")).unwrap();
    assert!(
        dp.starts_with("year,reporting_country,sex,value,obs_status,conf_status,error_bound_95\n")
    );
    let rows: Vec<Vec<&str>> = dp.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let countries = corridor_model::CodeListId::Country.list().codes.len() + 1;
    assert_eq!(rows.len(), 3 * (countries + 1) * 4);
    let total = |y: &str, c: &str, s: &str| -> i64 {
        rows.iter()
            .find(|r| r[..3] == [y, c, s])
            .map(|r| r[3].parse().unwrap())
            .unwrap()
    };
    let by_sex: i64 = ["F", "M", "_U"].iter().map(|s| total("_T", "_T", s)).sum();
    assert_eq!(by_sex, total("_T", "_T", "_T"));
    assert!(
        rows.iter()
            .all(|r| r[3].parse::<i64>().unwrap() >= 0 && r[6].parse::<i64>().unwrap() >= 1)
    );
    assert!(listed.iter().all(|r| r.version == "2026.1"));
    verify_release(&built.dir, None).unwrap();

    // Real validators.
    if let Some(python) = validator_python() {
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
        // And the Frictionless command line, as a user runs it.
        let frictionless = Path::new(&python).with_file_name("frictionless");
        let o = Command::new(&frictionless)
            .args(["validate", "datapackage.json"])
            .current_dir(dir)
            .output()
            .expect("frictionless");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    }

    // Tampering: a changed byte, a changed signature, an added file, a
    // removed file, another key.
    let scratch = tmp.path().join("copies");
    std::fs::create_dir_all(&scratch).unwrap();
    let tampered = |name: &str, change: &dyn Fn(&Path)| {
        let d = scratch.join(name);
        std::fs::create_dir_all(&d).unwrap();
        let c = copy(dir, &d);
        change(&c);
        let e = verify_release(&c, None).expect_err(name);
        assert!(matches!(e, PublishError::Tampered { .. }), "{name}: {e}");
        e.to_string()
    };
    let e = tampered("byte", &|c| {
        let p = c.join("data/migrant_arrivals.csv");
        let mut b = std::fs::read(&p).unwrap();
        let at = b.len() - 8;
        b[at] ^= 1;
        std::fs::write(&p, b).unwrap();
    });
    assert!(e.contains("migrant_arrivals.csv"), "{e}");
    let e = tampered("signature", &|c| {
        let p = c.join("SHA256SUMS.sig");
        let t = std::fs::read_to_string(&p).unwrap();
        let flipped = if t.starts_with('0') { "1" } else { "0" };
        std::fs::write(&p, format!("{flipped}{}", &t[1..])).unwrap();
    });
    assert!(e.contains("signature"), "{e}");
    let e = tampered("added", &|c| {
        std::fs::write(c.join("data/extra.csv"), "a\n1\n").unwrap();
    });
    assert!(e.contains("extra.csv"), "{e}");
    tampered("removed", &|c| {
        std::fs::remove_file(c.join("utility.json")).unwrap();
    });
    // Re-signed by someone else with their own key: the sums and the
    // signature agree, but not with the key the verifier trusts.
    let d = scratch.join("other-key");
    std::fs::create_dir_all(&d).unwrap();
    let c = copy(dir, &d);
    {
        use ed25519_dalek::Signer;
        use sha2::Digest;
        let other = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let public = format!("{}\n", hex::encode(other.verifying_key().to_bytes()));
        std::fs::write(c.join("signing-key.pub"), &public).unwrap();
        let sums = std::fs::read_to_string(c.join("SHA256SUMS")).unwrap();
        let digest = hex::encode(sha2::Sha256::digest(public.as_bytes()));
        let sums: String = sums
            .lines()
            .map(|l| {
                if l.ends_with("  signing-key.pub") {
                    format!("{digest}  signing-key.pub\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(c.join("SHA256SUMS"), &sums).unwrap();
        let sig = other.sign(sums.as_bytes());
        std::fs::write(c.join("SHA256SUMS.sig"), hex::encode(sig.to_bytes())).unwrap();
    }
    // Consistent in itself (the id changed with the sums; the folder name
    // no longer matches it)…
    let e = verify_release(&c, None).unwrap_err();
    assert!(e.to_string().contains("content is release"), "{e}");
    // …and not signed by the key the verifier trusts.
    let e = verify_release(&c, Some(&built.public_key)).unwrap_err();
    assert!(e.to_string().contains("key you trust"), "{e}");
}

#[test]
fn a_bad_spec_is_refused_with_the_table_named() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("bad.toml");
    std::fs::write(
        &p,
        "title = \"t\"\nlicence = \"x\"\nversion = \"1\"\nreference_period = \"2022\"\n\
         [[table]]\nname = \"../../etc\"\nstandard = \"returns\"\nmethod = \"rr3\"\n",
    )
    .unwrap();
    let e = ReleaseSpec::load(&p).unwrap_err().to_string();
    assert!(e.contains("bad.toml") && e.contains("[[table]] 1"), "{e}");
    assert!(verify_release(tmp.path(), None).is_err());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

const SUPPRESSED: &str = r#"
title = "Suppressed tables"
licence = "CC-BY-4.0"
version = "2026.2"
reference_period = "2022-01/2023-12"

[[table]]
name = "arrivals_by_citizenship"
measure = "arrivals"
by = ["year", "reporting_country", "citizenship"]
method = "suppression"

[[table]]
name = "arrivals_by_sex"
measure = "arrivals"
by = ["year", "reporting_country", "sex"]
method = "suppression"

[[table]]
name = "arrivals_by_citizenship_and_sex"
measure = "arrivals"
by = ["year", "citizenship", "sex"]
method = "suppression"

[[table]]
name = "returns"
standard = "returns"
method = "suppression"

[[table]]
name = "permits"
measure = "permits"
by = ["year", "permit_type", "citizenship"]
method = "suppression"

[[table]]
name = "departures"
measure = "departures"
by = ["year", "sex"]
method = "rr3"

[suppression]
threshold = 5
protection = 3
"#;

/// Linked suppressed tables of one release (they share the year ×
/// country, year × citizenship and year × sex margins): the independent
/// LP attacker, given everything published, narrows no withheld small
/// cell to within its protection level.
#[test]
fn a_suppressed_release_withstands_the_lp_attacker() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path());
    let spec: ReleaseSpec = toml::from_str(SUPPRESSED).unwrap();
    let built = build_release(&ws, &spec, &tmp.path().join("releases"), &|_, _, _| {}).unwrap();
    verify_release(&built.dir, Some(&built.public_key)).unwrap();

    // The truth of every withheld cell, from the unprotected tables.
    let mut truth = serde_json::Map::new();
    let mut withheld = 0;
    for req in spec
        .tables
        .iter()
        .filter(|t| t.method == corridor_publish::MethodName::Suppression)
    {
        let tspec = match &req.standard {
            Some(s) => corridor_stats::standard_table(s).unwrap().spec(),
            None => corridor_stats::TableSpec {
                measure: req.measure.clone().unwrap(),
                by: req.by.clone(),
                filter: None,
            },
        };
        let raw = corridor_stats::table(&ws, &tspec).unwrap();
        let csv =
            std::fs::read_to_string(built.dir.join(format!("data/{}.csv", req.name))).unwrap();
        let mut cells = serde_json::Map::new();
        for (line, cell) in csv.lines().skip(1).zip(&raw.cells) {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields[..cell.coords.len()], cell.coords[..], "{}", req.name);
            let value = fields[cell.coords.len()];
            if value.is_empty() {
                withheld += 1;
                cells.insert(cell.coords.join("|"), cell.value.into());
            } else {
                assert_eq!(value.parse::<f64>().unwrap(), cell.value, "{line}");
                assert!(
                    cell.value == 0.0 || cell.value >= 5.0,
                    "{}: {line} is below the threshold",
                    req.name
                );
            }
        }
        truth.insert(req.name.clone(), cells.into());
    }
    assert!(withheld > 20, "a small world has small cells: {withheld}");
    let utility = &built.tables;
    assert!(utility.iter().any(|u| u.cells_suppressed > 0));

    let Some(python) = validator_python() else {
        return;
    };
    let truth_path = tmp.path().join("truth.json");
    std::fs::write(&truth_path, serde_json::Value::Object(truth).to_string()).unwrap();
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/lp_attack.py");
    let o = Command::new(&python)
        .arg(&tool)
        .arg("--release")
        .arg(&built.dir)
        .arg("--truth")
        .arg(&truth_path)
        .output()
        .expect("python");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&out[out.find('{').unwrap()..]).unwrap();
    assert!(report["checked"].as_u64().unwrap() > 10, "{report}");
    assert_eq!(report["failures"].as_array().unwrap().len(), 0, "{report}");
}
