//! End-to-end: the `corridor` binary as a user runs it.

use std::process::Command;

fn corridor(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_corridor"))
        .args(args)
        .output()
        .expect("corridor runs")
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn help_lists_every_command_with_one_line() {
    let out = corridor(&["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for cmd in [
        "demo", "generate", "init", "ingest", "mapping", "sql", "status", "standard", "country",
        "codes", "budget", "nowcast", "release", "protect", "serve", "admin", "audit",
    ] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(cmd)),
            "{cmd} missing from --help:\n{text}"
        );
    }
}

#[test]
fn generate_writes_sources_and_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("w");
    let o = corridor(&[
        "generate",
        "--out",
        out.to_str().expect("utf-8 path"),
        "--persons",
        "400",
        "--seed",
        "3",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("Generated 400 persons"));
    for f in corridor_world::BORDER_FILES
        .iter()
        .chain(&corridor_world::CASE_FILES)
    {
        assert!(out.join(f).is_file(), "{f}");
    }
    for f in [
        "truth/persons.csv",
        "truth/crossings.csv",
        "truth/stocks.csv",
        "truth/faults.csv",
        "README.md",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
}

#[test]
fn generate_rejects_bad_arguments_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = corridor(&[
        "generate",
        "--out",
        dir.path().to_str().expect("utf-8"),
        "--dirty",
        "2",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--dirty must be between 0 and 0.5"), "{err}");
    let o = corridor(&[
        "generate",
        "--out",
        dir.path().to_str().expect("utf-8"),
        "--persons",
        "lots",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--persons"));
}

#[test]
fn demo_builds_the_world_and_says_what_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = dir.path().join("demo");
    // Without --no-serve the demo would go on serving its release.
    let o = corridor(&[
        "demo",
        "--dir",
        demo.to_str().expect("utf-8"),
        "--persons",
        "300",
        "--no-serve",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = stdout(&o);
    assert!(text.contains("Guatemala, Honduras, El Salvador"));
    // The demo prints its nowcast against the truth and the back-test.
    assert!(text.contains("Nowcast (experimental)"), "{text}");
    assert!(text.contains("seasonal naive"), "{text}");
    assert!(text.contains("Try: corridor release verify"), "{text}");
    assert!(demo.join("world/truth/crossings.csv").is_file());
    assert!(text.contains("Ingesting every source"), "{text}");
    assert!(demo.join("workspace/catalog.sqlite").is_file());
    // The demo's workspace answers SQL.
    let o = corridor(&[
        "sql",
        "--workspace",
        demo.join("workspace").to_str().expect("utf-8"),
        "--format",
        "csv",
        "SELECT count(*) AS n FROM trafficking_cases",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let n: u64 = stdout(&o)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("a count");
    assert!(n > 100, "{n}");

    // The trafficking step: encoded cases stored with their encodings, no
    // names; deduplication evaluated; both synthetic folders complete.
    assert!(text.contains("F1"), "{text}");
    let f1: f64 = text
        .split("F1 ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("an F1");
    assert!(f1 > 0.85, "{f1}");
    for dir in ["k-synthetic", "dp"] {
        for file in ["synthetic.csv", "report.json", "report.html", "README.md"] {
            assert!(
                demo.join("trafficking").join(dir).join(file).is_file(),
                "{dir}/{file}"
            );
        }
    }
    assert!(
        demo.join("trafficking/k-synthetic/aggregates.csv")
            .is_file()
    );
    assert!(demo.join("trafficking/dp/privacy.json").is_file());
    // Sensitive rates are only in the internal review, inside the
    // workspace; the publishable folder has none.
    let published =
        std::fs::read_to_string(demo.join("trafficking/k-synthetic/report.json")).unwrap();
    assert!(!published.contains("sensitive_rate"), "{published}");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            demo.join("workspace/synth-review/trafficking/k-synthetic/report.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(report["records_unique_on_a_published_combination"], 0);
    // SDG 16.2.2 rates per 100,000 of the same sex and age, from the
    // workspace's population table: female victims over the female
    // population, so their rate exceeds the rate over everyone.
    let row = |sex: &str, age: &str| {
        report["sdg_16_2_2"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["sex"] == sex && r["age"] == age && r["form"] == "_T")
            .cloned()
            .unwrap_or_else(|| panic!("no row {sex} {age}"))
    };
    let (all, women) = (row("_T", "_T"), row("F", "_T"));
    let (ra, rf) = (
        all["sensitive_rate"].as_f64().expect("a rate for all"),
        women["sensitive_rate"].as_f64().expect("a rate for women"),
    );
    let (na, nf) = (
        all["sensitive"].as_f64().unwrap(),
        women["sensitive"].as_f64().unwrap(),
    );
    // rate = count × 1e5 / population: the female population is roughly
    // half of all.
    let (pa, pf) = (na * 1e5 / ra, nf * 1e5 / rf);
    assert!(pf > 0.4 * pa && pf < 0.6 * pa, "{pf} of {pa}");
    let o = corridor(&[
        "sql",
        "--workspace",
        demo.join("workspace").to_str().expect("utf-8"),
        "--format",
        "csv",
        "SELECT count(*) AS n FROM trafficking_cases WHERE linkage_encoding IS NULL",
    ]);
    assert!(
        stdout(&o).lines().nth(1).map(str::trim) == Some("0"),
        "{}",
        stdout(&o)
    );

    // `corridor nowcast` writes its table and bias note; a wrong --by says
    // what is accepted.
    let nowcast = dir.path().join("nowcast");
    let o = corridor(&[
        "nowcast",
        "--workspace",
        demo.join("workspace").to_str().expect("utf-8"),
        "--as-of",
        "2025-09",
        "--out",
        nowcast.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("2025-Q4"), "{}", stdout(&o));
    let table = std::fs::read_to_string(nowcast.join("nowcast.csv")).unwrap();
    assert!(table.starts_with("measure,reporting_country,origin,destination,period,horizon,estimate,lower80,upper80,lower95,upper95"));
    assert!(
        table.lines().skip(1).all(|l| l.ends_with(",experimental")),
        "{table}"
    );
    let note = std::fs::read_to_string(nowcast.join("bias-note.md")).unwrap();
    assert!(
        note.starts_with("# Bias note: nowcast of departures"),
        "{note}"
    );
    let o = corridor(&[
        "nowcast",
        "--workspace",
        demo.join("workspace").to_str().expect("utf-8"),
        "--by",
        "citizenship",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--by is `corridor`"));

    // A reader that stops early (`| head`) ends the command quietly with
    // status 141 (the signals are megabytes: more than a pipe holds).
    {
        use std::io::Read;
        let mut child = Command::new(env!("CARGO_BIN_EXE_corridor"))
            .args([
                "sql",
                "--workspace",
                demo.join("workspace").to_str().expect("utf-8"),
            ])
            .args(["--format", "csv", "SELECT * FROM signals"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("corridor runs");
        let mut first = [0u8; 16];
        let mut out = child.stdout.take().expect("stdout");
        out.read_exact(&mut first).expect("some output");
        drop(out);
        let done = child.wait_with_output().expect("it ends");
        assert_eq!(done.status.code(), Some(141));
        assert!(
            done.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
    }

    // The budget the demo's publisher set, and what DP synthesis spent.
    let ws = demo.join("workspace");
    let ws = ws.to_str().expect("utf-8");
    let o = corridor(&["budget", "--workspace", ws, "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let b: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let budgets = b["budgets"].as_array().unwrap();
    let names: Vec<&str> = budgets
        .iter()
        .filter_map(|b| b["dataset"].as_str())
        .collect();
    assert_eq!(names, ["border_records", "trafficking_cases"]);
    for budget in budgets {
        assert!(budget["spent"].as_f64().unwrap() > 0.0, "{budget}");
        assert!(budget["rho"].as_f64().unwrap() >= budget["spent"].as_f64().unwrap() - 1e-12);
    }
    let o = corridor(&["budget", "--workspace", ws, "--set", "1"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--dataset"));
    let o = corridor(&[
        "budget",
        "--workspace",
        ws,
        "--dataset",
        "border_events",
        "--set",
        "0.5",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("border_events"), "{}", stdout(&o));

    // The demo's release: listed, verified; a second one built by hand
    // from the same spec, listed beside it.
    let releases = demo.join("releases");
    let o = corridor(&["release", "list", releases.to_str().unwrap()]);
    assert!(o.status.success());
    let id = stdout(&o)
        .split_whitespace()
        .next()
        .expect("a release id")
        .to_string();
    assert!(
        demo.join("releases")
            .join(&id)
            .join("sdmx/structure.xml")
            .is_file()
    );
    let o = corridor(&["release", "verify", releases.join(&id).to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("verified"), "{}", stdout(&o));
    // The victims' microdata: one record per person, 11-anonymous over the
    // quasi-identifiers, recounted here from the file.
    let mut r = csv::Reader::from_path(releases.join(&id).join("data/victims.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header[..4],
        ["sex", "age_group", "citizenship", "country_of_exploitation"]
    );
    let mut classes: std::collections::HashMap<Vec<String>, usize> = Default::default();
    let mut records = 0;
    for row in r.records() {
        let row = row.unwrap();
        records += 1;
        *classes
            .entry(row.iter().take(4).map(String::from).collect())
            .or_default() += 1;
    }
    assert!(records > 100, "{records} victims");
    assert!(classes.values().all(|&n| n >= 11), "{classes:?}");
    let note = std::fs::read_to_string(releases.join(&id).join("methods/methods.en.md")).unwrap();
    assert!(note.contains("## The case records") && note.contains("k-anonymity"));
    // SDG 16.2.2, counts and rates, and both kinds of synthetic victims.
    let sdg = std::fs::read_to_string(releases.join(&id).join("data/sdg_16_2_2.csv")).unwrap();
    assert!(sdg.starts_with("sex,age_group,exploitation_form,value,"));
    let total: f64 = sdg
        .lines()
        .find_map(|l| l.strip_prefix("_T,_T,_T,"))
        .and_then(|r| r.split(',').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (total - records as f64).abs() <= 2.0,
        "{total} vs {records}"
    );
    let rates = releases.join(&id).join("data/sdg_16_2_2_per_100000.csv");
    let rate: f64 = std::fs::read_to_string(rates)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("_T,_T,_T,"))
        .and_then(|r| r.split(',').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(rate > 0.0 && rate < total, "{rate} per 100,000");
    for f in [
        "synthetic/victims_k_synthetic/synthetic.csv",
        "synthetic/victims_k_synthetic/aggregates.csv",
        "synthetic/victims_dp_synthetic/privacy.json",
        "nowcasts/departures_nowcast.csv",
        "nowcasts/departures_nowcast.bias-note.md",
    ] {
        assert!(releases.join(&id).join(f).is_file(), "{f}");
    }
    // The nowcast is labelled experimental in the files and the note.
    let nowcast =
        std::fs::read_to_string(releases.join(&id).join("nowcasts/departures_nowcast.csv"))
            .unwrap();
    assert!(
        nowcast
            .lines()
            .skip(1)
            .all(|l| l.ends_with(",experimental"))
    );
    assert!(nowcast.contains(",2025-10,1,"), "{nowcast}");
    assert!(note.contains("Experimental statistics: nowcasts"), "{note}");
    assert!(note.contains("## Synthetic case data") && note.contains("k-synthetic data (k = 10"));
    let key = std::fs::read_to_string(releases.join(&id).join("signing-key.pub")).unwrap();
    let o = corridor(&[
        "release",
        "verify",
        releases.join(&id).to_str().unwrap(),
        "--key",
        key.trim(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("key you trust"));
    let build = || {
        corridor(&[
            "release",
            "build",
            "--workspace",
            ws,
            demo.join("release.toml").to_str().unwrap(),
        ])
    };
    // The demo's release spent the border records' budget on its DP
    // tables, and the cases' budget on its DP synthesis: a second one is
    // refused, naming each, until the publisher raises it.
    for (dataset, rho) in [("border_records", "1.5"), ("trafficking_cases", "1.0")] {
        let o = build();
        assert!(!o.status.success());
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(dataset), "{e}");
        let o = corridor(&[
            "budget",
            "--workspace",
            ws,
            "--dataset",
            dataset,
            "--set",
            rho,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = build();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("signed"), "{}", stdout(&o));
    let o = corridor(&["release", "list", "--workspace", ws]);
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
    let own = stdout(&o).split_whitespace().next().unwrap().to_string();
    assert_ne!(own, id);
    let o = corridor(&["release", "verify", &own, "--workspace", ws]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = corridor(&["release", "verify", "r0000", "--workspace", ws]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("release list"));

    // `corridor serve` prints where the portal is, serves it, and stops
    // gracefully on SIGTERM.
    serve_and_stop(&demo.join("releases"));
}

fn serve_and_stop(releases: &std::path::Path) {
    use std::io::{BufRead, Read, Write};
    let mut child = Command::new(env!("CARGO_BIN_EXE_corridor"))
        .args([
            "serve",
            "--releases",
            releases.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("serve");
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut portal = None;
    let mut printed = String::new();
    for _ in 0..8 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        printed.push_str(&line);
        if let Some(rest) = line.trim().strip_prefix("Portal:") {
            portal = rest.split_whitespace().next().map(str::to_string);
        }
        if line.starts_with("Ctrl-C") {
            break;
        }
    }
    let portal = portal.unwrap_or_else(|| panic!("no portal address in:\n{printed}"));
    let host = portal
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut s = std::net::TcpStream::connect(&host).unwrap();
    write!(
        s,
        "GET /?lang=es HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut page = String::new();
    s.read_to_string(&mut page).unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("Indicadores principales"), "{page}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(
        status.success() && rest.contains("Stopped."),
        "{status:?}: {rest}"
    );
}

#[test]
fn synth_works_on_any_categorical_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("cases.csv");
    let mut text = String::from("sex,age,form,country\n");
    for i in 0..600 {
        let sex = ["F", "M"][i % 2];
        let age = ["child", "adult", "adult"][i % 3];
        let form = ["sexual", "labour", "labour", "other"][(i / 2) % 4];
        let country = if i == 7 {
            "ISL"
        } else {
            ["GTM", "HND", "SLV"][i % 3]
        };
        text.push_str(&format!("{sex},{age},{form},{country}\n"));
    }
    std::fs::write(&input, text).unwrap();
    // The publisher's domain: Iceland is not in it.
    let domain = dir.path().join("domain.csv");
    std::fs::write(
        &domain,
        "attribute,value\nsex,F\nsex,M\nage,child\nage,adult\nform,sexual\nform,labour\nform,other\ncountry,GTM\ncountry,HND\ncountry,SLV\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = corridor(&[
        "synth",
        "--input",
        input.to_str().unwrap(),
        "--k",
        "10",
        "--length",
        "3",
        "--method",
        "both",
        "--epsilon",
        "2",
        "--domain",
        domain.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let synthetic = std::fs::read_to_string(out.join("k-synthetic/synthetic.csv")).unwrap();
    // The one record from Iceland is rare: its country is never published.
    assert!(!synthetic.contains("ISL"));
    assert_eq!(synthetic.lines().count(), 601);
    let aggregates = std::fs::read_to_string(out.join("k-synthetic/aggregates.csv")).unwrap();
    assert!(!aggregates.contains("ISL"));
    let privacy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("dp/privacy.json")).unwrap())
            .unwrap();
    assert!((privacy["privacy_loss"]["epsilon"].as_f64().unwrap() - 2.0).abs() < 1e-6);
    // A missing input is a clear error.
    let o = corridor(&[
        "synth",
        "--input",
        "/nonexistent.csv",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nonexistent.csv"));
}

#[test]
fn country_resolves_and_suggests() {
    let o = corridor(&["country", "EEUU", "Côte d'Ivoire", "guatemalteca"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(
        text.contains("USA") && text.contains("CIV") && text.contains("GTM"),
        "{text}"
    );
    let o = corridor(&["country", "Guatamala"]);
    assert!(!o.status.success());
    assert!(
        stdout(&o).contains("closest: GTM (Guatemala)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn standard_prints_the_generated_reference() {
    let o = corridor(&["standard"]);
    assert!(o.status.success());
    let on_disk = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/standard.md"
    ))
    .expect("docs/standard.md");
    assert_eq!(stdout(&o), on_disk);
}

#[test]
fn codes_lists_a_code_list_and_rejects_unknown_ones() {
    let o = corridor(&["codes", "sex"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("Female"));
    let o = corridor(&["codes", "colour"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("the lists are"));
}

#[test]
fn workspace_commands_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = dir.path().join("w");
    let ws = dir.path().join("ws");
    let s = |p: &std::path::Path| p.to_str().expect("utf-8").to_string();
    assert!(
        corridor(&["generate", "--out", &s(&world), "--persons", "300"])
            .status
            .success()
    );
    let o = corridor(&["init", &s(&ws)]);
    assert!(o.status.success());
    // The secret is readable by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ws.join("secret.key"))
            .expect("secret")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(
        !corridor(&["init", &s(&ws)]).status.success(),
        "init refuses an existing workspace"
    );
    // Draft a mapping from the Guatemalan export's Spanish headers.
    let csv = world.join("sources/gtm-igm/movimientos_migratorios.csv");
    let o = corridor(&["mapping", "draft", &s(&csv), "--type", "border_events"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let draft = stdout(&o);
    for line in [
        "encoding = \"windows-1252\"",
        "delimiter = \";\"",
        "event_date = { column = \"Fecha\"",
        "person_key = { pseudonymise = [\"Número de Documento\"]",
        "citizenship = { column = \"Nacionalidad\", recode = { \"GUATEALA\" = \"GTM\"",
        "sex = { column = \"Sexo\" }",
    ] {
        assert!(draft.contains(line), "missing `{line}` in\n{draft}");
    }
    // The draft runs once the one fact the file lacks is filled in.
    let line = draft
        .lines()
        .find(|l| l.starts_with("# reporting_country = { constant"))
        .unwrap_or_else(|| panic!("no reporting_country line in\n{draft}"));
    let drafted = dir.path().join("drafted.mapping.toml");
    std::fs::write(
        &drafted,
        draft.replace(line, "reporting_country = { constant = \"GTM\" }"),
    )
    .expect("write");
    let o = corridor(&["mapping", "check", &s(&drafted), &s(&csv), "--rows", "3"]);
    assert!(
        o.status.success() && stdout(&o).contains("the mapping fits the file"),
        "{}{}\n{draft}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    // Check the demo's mapping against its file.
    let mapping = world.join("sources/gtm-igm/movimientos_migratorios.mapping.toml");
    let o = corridor(&["mapping", "check", &s(&mapping), &s(&csv), "--rows", "3"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("the mapping fits the file"));
    assert!(stdout(&o).contains("person_key"));
    // Ingest with a JSON report, then query in every format.
    let o = corridor(&[
        "ingest",
        "--workspace",
        &s(&ws),
        "--mapping",
        &s(&mapping),
        &s(&csv),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json report");
    let stored = report[0]["report"]["stored"].as_u64().expect("stored");
    let q = "SELECT direction, count(*) AS n FROM border_events GROUP BY 1 ORDER BY 1";
    let o = corridor(&["sql", "--workspace", &s(&ws), "--format", "json", q]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json rows");
    let total: u64 = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["n"].as_u64().expect("n"))
        .sum();
    assert_eq!(total, stored);
    let o = corridor(&["sql", "--workspace", &s(&ws), q]);
    assert!(stdout(&o).contains("| direction |"), "{}", stdout(&o));
    let out = dir.path().join("q.parquet");
    let o = corridor(&[
        "sql",
        "--workspace",
        &s(&ws),
        "--format",
        "parquet",
        "--out",
        &s(&out),
        q,
    ]);
    assert!(o.status.success() && out.is_file());
    let o = corridor(&[
        "sql",
        "--workspace",
        &s(&ws),
        "SELECT nonsense FROM border_events",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nonsense"));
    let o = corridor(&["status", "--workspace", &s(&ws)]);
    assert!(stdout(&o).contains("gtm-igm-border"));
}

#[test]
fn the_demo_refuses_a_workspace_it_did_not_make() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = dir.path().join("workspace");
    let o = corridor(&["init", ws.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = corridor(&[
        "demo",
        "--dir",
        dir.path().to_str().expect("utf-8"),
        "--persons",
        "300",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--force") && err.contains("did not make"),
        "{err}"
    );
    assert!(ws.join("catalog.sqlite").is_file());
    // Refused before anything was written.
    assert!(!dir.path().join("world").exists());
}

#[test]
fn sql_refuses_to_write_and_encode_makes_a_strong_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = dir.path().join("ws");
    assert!(
        corridor(&["init", ws.to_str().expect("utf-8")])
            .status
            .success()
    );
    let target = dir.path().join("out.csv");
    let q = format!("COPY (SELECT 1 AS x) TO '{}'", target.display());
    let o = corridor(&["sql", "--workspace", ws.to_str().expect("utf-8"), &q]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("only reads"));
    assert!(!target.exists());
    let o = corridor(&[
        "sql",
        "--workspace",
        ws.to_str().expect("utf-8"),
        "--memory-limit",
        "lots",
        "SELECT 1",
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--memory-limit lots"));

    let key = dir.path().join("partners.key");
    let o = corridor(&[
        "encode",
        "--new-secret",
        "--secret-file",
        key.to_str().expect("utf-8"),
        "--schema",
        "unused.toml",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(&key).expect("key").trim().len(), 64);
    // Never over an existing key.
    let o = corridor(&[
        "encode",
        "--new-secret",
        "--secret-file",
        key.to_str().expect("utf-8"),
        "--schema",
        "unused.toml",
    ]);
    assert!(!o.status.success());
    // A weak one is refused when encoding.
    let weak = dir.path().join("weak.key");
    std::fs::write(&weak, "password-password-password-password").expect("w");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&weak, std::fs::Permissions::from_mode(0o600)).expect("mode");
    }
    let o = corridor(&[
        "encode",
        "--secret-file",
        weak.to_str().expect("utf-8"),
        "--schema",
        "s.toml",
        "in.csv",
        "out.csv",
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("weak"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // `--new-secret FILE` writes one too, without a schema.
    let second = dir.path().join("second.key");
    let o = corridor(&["encode", "--new-secret", second.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&second).expect("key");
    assert!(text.trim().len() == 64 && text.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    // A birth-date column most of whose dates are in another format than
    // the schema's is an error, and the useless encodings are not kept.
    let schema = dir.path().join("linkage.toml");
    std::fs::write(
        &schema,
        "record_id = \"id\"\n[reader]\ndate_formats = [\"%Y-%m-%d\"]\n[encoding]\nbits = 256\n[[field]]\nname = \"name\"\ncolumns = [\"name\"]\nkind = \"name\"\nhashes = 10\n[[field]]\nname = \"birth_date\"\ncolumns = [\"dob\"]\nkind = \"date\"\nhashes = 20\n",
    )
    .expect("schema");
    let export = dir.path().join("cases.csv");
    std::fs::write(
        &export,
        "id,name,dob\n1,Ana Pérez,05/03/1990\n2,Luis Gómez,17/11/1985\n3,Rosa Díaz,1979-02-01\n",
    )
    .expect("export");
    let out = dir.path().join("cases.encoded.csv");
    let s = |p: &std::path::Path| p.to_str().expect("utf-8").to_string();
    let encode = || {
        corridor(&[
            "encode",
            "--schema",
            &s(&schema),
            "--secret-file",
            &s(&second),
            &s(&export),
            &s(&out),
        ])
    };
    let o = encode();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("birth_date (2 of 3 values unreadable)") && err.contains("date_formats"),
        "{err}"
    );
    assert!(!out.exists(), "the encodings are not kept");
    // With the export's format, it encodes.
    std::fs::write(
        &schema,
        std::fs::read_to_string(&schema)
            .expect("schema")
            .replace("[\"%Y-%m-%d\"]", "[\"%d/%m/%Y\", \"%Y-%m-%d\"]"),
    )
    .expect("schema");
    let o = encode();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.exists());
}

#[test]
fn plaintext_linkage_gives_the_same_links_on_every_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = dir.path().join("linkage.toml");
    std::fs::write(
        &schema,
        "record_id = \"id\"\n[reader]\ndate_formats = [\"%d/%m/%Y\"]\n[encoding]\nbits = 512\n[blocking]\nbands = 30\nband_bits = 20\n[[field]]\nname = \"name\"\ncolumns = [\"name\"]\nkind = \"name\"\nhashes = 10\n[[field]]\nname = \"birth_date\"\ncolumns = [\"dob\"]\nkind = \"date\"\nhashes = 20\n",
    )
    .expect("schema");
    let given = [
        "Ana", "Luis", "Rosa", "Juan", "Marta", "Pedro", "Elena", "Carlos",
    ];
    let family = [
        "Pérez", "Gómez", "Díaz", "López", "Ixcoy", "Mejía", "Castro",
    ];
    let mut csv = String::from("id,name,dob\n");
    for i in 0..200 {
        let name = format!(
            "{} {}",
            given[i % given.len()],
            family[(i / 3) % family.len()]
        );
        let dob = format!("{:02}/{:02}/{}", 1 + i % 28, 1 + i % 12, 1960 + i % 40);
        csv.push_str(&format!("r{i},{name},{dob}\n"));
        // Every fifth person again, with a typo.
        if i % 5 == 0 {
            csv.push_str(&format!("r{i}b,{}x,{dob}\n", name));
        }
    }
    let file = dir.path().join("cases.csv");
    std::fs::write(&file, csv).expect("csv");
    let s = |p: &std::path::Path| p.to_str().expect("utf-8").to_string();
    let run = |out: &std::path::Path| {
        let o = corridor(&[
            "link",
            "dedupe",
            "--plaintext",
            "--schema",
            &s(&schema),
            "--out",
            &s(out),
            &s(&file),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        ["pairs.csv", "clusters.csv"].map(|f| std::fs::read(out.join(f)).expect("output"))
    };
    let first = run(&dir.path().join("one"));
    assert_eq!(first, run(&dir.path().join("two")));
    assert!(first[0].len() > 100, "some candidate pairs were kept");
}

#[test]
fn link_evaluate_takes_the_person_from_the_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let links = dir.path();
    std::fs::write(
        links.join("clusters.csv"),
        "record_id,cluster_id\nrec-1-org,a\nrec-1-dup-0,a\nrec-2-org,b\nrec-2-dup-0,b\n",
    )
    .expect("clusters");
    std::fs::write(links.join("pairs.csv"), "record_id_a,record_id_b\n").expect("pairs");
    let l = links.to_str().expect("utf-8");
    let o = corridor(&[
        "link",
        "evaluate",
        "--links",
        l,
        "--truth-pattern",
        r"rec-(\d+)-",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let e: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(e["f1"].as_f64(), Some(1.0), "{e}");
    // Neither a truth file nor a pattern: clap says what is missing.
    let o = corridor(&["link", "evaluate", "--links", l]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--truth"));
}

#[test]
fn admin_makes_organisations_users_and_tokens_and_audit_verify_catches_an_edit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = dir.path().join("ws");
    let w = ws.to_str().unwrap();
    assert!(corridor(&["init", w]).status.success());
    // Not a workspace: refused, nothing made.
    let o = corridor(&[
        "admin",
        "org-add",
        "--workspace",
        dir.path().to_str().unwrap(),
        "X",
    ]);
    assert!(!o.status.success());
    assert!(!dir.path().join("access.sqlite").exists());

    for args in [
        vec!["admin", "org-add", "--workspace", w, "Border Agency GT"],
        vec![
            "admin",
            "user-add",
            "--workspace",
            w,
            "--org",
            "Border Agency GT",
            "--role",
            "contributor",
            "ana",
        ],
    ] {
        let o = corridor(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = corridor(&[
        "admin",
        "user-add",
        "--workspace",
        w,
        "--org",
        "Border Agency GT",
        "--role",
        "root",
        "eve",
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("admin, contributor, analyst or publisher")
    );
    let o = corridor(&["admin", "token-new", "--workspace", w, "--user", "ana"]);
    assert!(o.status.success());
    let token = stdout(&o).lines().last().unwrap().trim().to_string();
    assert!(token.starts_with("crt_"), "{token}");
    let secret = token.rsplit('_').next().unwrap().to_string();
    let o = corridor(&["admin", "list", "--workspace", w]);
    assert!(stdout(&o).contains("ana") && !stdout(&o).contains(&secret));
    let o = corridor(&["audit", "show", "--workspace", w]);
    assert!(stdout(&o).contains("token.new") && !stdout(&o).contains(&secret));
    let o = corridor(&["audit", "verify", "--workspace", w]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("3 entries"), "{}", stdout(&o));

    // An edited entry: exit code 1 and the line named.
    let log = ws.join("audit/audit.ndjson");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(
        &log,
        text.replace("\"role\":\"contributor\"", "\"role\":\"publisher\""),
    )
    .unwrap();
    let o = corridor(&["audit", "verify", "--workspace", w]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 2 (entry 2) was edited"));
}

#[test]
fn admin_source_add_keeps_the_mapping_for_its_organisation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = dir.path().join("world");
    let ws = dir.path().join("ws");
    let w = ws.to_str().unwrap();
    let o = corridor(&[
        "generate",
        "--out",
        world.to_str().unwrap(),
        "--persons",
        "200",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(corridor(&["init", w]).status.success());
    let mapping = world.join("sources/gtm-igm/movimientos_migratorios.mapping.toml");
    let m = mapping.to_str().unwrap();
    // No such organisation: refused, and no mapping kept.
    let o = corridor(&["admin", "source-add", "--workspace", w, "--org", "GT", m]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("admin org-add"));
    assert!(
        !ws.join("mappings").exists()
            || std::fs::read_dir(ws.join("mappings"))
                .unwrap()
                .next()
                .is_none()
    );

    assert!(
        corridor(&["admin", "org-add", "--workspace", w, "GT"])
            .status
            .success()
    );
    // A file that is not a mapping: the file named, nothing kept.
    let bad = dir.path().join("bad.mapping.toml");
    std::fs::write(&bad, "source = \"x\"\n[columns\n").unwrap();
    let o = corridor(&[
        "admin",
        "source-add",
        "--workspace",
        w,
        "--org",
        "GT",
        bad.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bad.mapping.toml"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let o = corridor(&["admin", "source-add", "--workspace", w, "--org", "GT", m]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let kept: Vec<_> = std::fs::read_dir(ws.join("mappings"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let o = corridor(&["admin", "list", "--workspace", w, "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let text = listed.to_string();
    assert!(text.contains("GT") && text.contains("sources"), "{text}");
    let o = corridor(&["audit", "show", "--workspace", w]);
    assert!(stdout(&o).contains("source.assign"), "{}", stdout(&o));
}

#[test]
fn a_users_error_is_a_message_without_a_backtrace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-workspace");
    for backtrace in ["1", "full"] {
        let o = Command::new(env!("CARGO_BIN_EXE_corridor"))
            .args(["status", "--workspace", missing.to_str().unwrap()])
            .env("RUST_BACKTRACE", backtrace)
            .env("RUST_LIB_BACKTRACE", backtrace)
            .output()
            .expect("corridor runs");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.starts_with("Error: "), "{err}");
        assert!(err.contains("no-such-workspace"), "{err}");
        assert!(!err.to_lowercase().contains("backtrace"), "{err}");
        assert!(!err.contains("src/"), "{err}");
    }
}

#[test]
fn link_pair_one_to_one_gives_each_record_one_partner_and_reports_its_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = dir.path().join("linkage.toml");
    // Blocking left to its defaults: the bands are chosen from the data.
    std::fs::write(
        &schema,
        "record_id = \"id\"\n[reader]\ndate_formats = [\"%d/%m/%Y\"]\n[[field]]\nname = \"name\"\ncolumns = [\"name\"]\nkind = \"name\"\nfilter_bits = 256\n[[field]]\nname = \"birth_date\"\ncolumns = [\"dob\"]\nkind = \"date\"\nhashes = 20\nfilter_bits = 256\n",
    )
    .expect("schema");
    let given = ["Ana", "Luis", "Rosa", "Juan", "Marta", "Pedro", "Elena"];
    let family = [
        "Pérez", "Gómez", "Díaz", "López", "Ixcoy", "Mejía", "Castro", "Tun",
    ];
    let (mut a, mut b) = (String::from("id,name,dob\n"), String::from("id,name,dob\n"));
    for i in 0..300 {
        let name = format!("{} {} {}", given[i % 7], family[(i / 7) % 8], family[i % 8]);
        let dob = format!("{:02}/{:02}/{}", 1 + i % 28, 1 + i % 12, 1950 + i % 50);
        a.push_str(&format!("a{i},{name},{dob}\n"));
        b.push_str(&format!("b{i},{name},{dob}\n"));
        // A second record of the same person in file b for every tenth
        // person: without one-to-one, at a threshold of 0.4, it joins the
        // pair (average linkage: 1 with a, 0 with b of its own file).
        if i % 10 == 0 {
            b.push_str(&format!("b{i}x,{name},{dob}\n"));
        }
    }
    let (fa, fb) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    std::fs::write(&fa, a).expect("a");
    std::fs::write(&fb, b).expect("b");
    let s = |p: &std::path::Path| p.to_str().expect("utf-8").to_string();
    let run = |flag: Option<&str>, out: &std::path::Path| {
        let (schema, out, fa, fb) = (s(&schema), s(out), s(&fa), s(&fb));
        let mut args = vec![
            "link",
            "pair",
            "--plaintext",
            "--threshold",
            "0.4",
            "--schema",
            &schema,
            "--out",
            &out,
        ];
        args.extend(flag);
        args.extend([fa.as_str(), fb.as_str()]);
        let o = corridor(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        let clusters =
            std::fs::read_to_string(dir.path().join(&out).join("clusters.csv")).expect("clusters");
        let largest = clusters
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').nth(3)?.parse::<usize>().ok())
            .max()
            .unwrap_or(0);
        (text, largest)
    };
    let (text, largest) = run(None, &dir.path().join("many"));
    assert!(
        text.contains("LSH bands of") && text.contains("chosen from"),
        "{text}"
    );
    assert!(text.contains("estimated pair completeness"), "{text}");
    assert!(
        largest >= 3,
        "the second records should join their pairs without --one-to-one"
    );
    let (_, largest) = run(Some("--one-to-one"), &dir.path().join("one"));
    assert_eq!(largest, 2);
    let report = std::fs::read_to_string(dir.path().join("one/report.json")).expect("report");
    assert!(report.contains("\"one_to_one\": true"), "{report}");
}
