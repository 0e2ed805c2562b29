//! The generated world: deterministic, readable by the tools people use,
//! its faults exactly where the log says, and its truth self-consistent.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use calamine::{Data, Reader, open_workbook_auto};
use corridor_world::{BORDER_FILES, CASE_FILES, Summary, WorldConfig, generate};

fn world(name: &str, cfg: WorldConfig) -> (PathBuf, Summary) {
    let dir = corridor_world::scratch_dir(&format!("world-test-{name}"));
    let summary = generate(&cfg, &dir, &|_, _| {}).expect("world generates");
    (dir, summary)
}

/// One dirty world shared by the tests that only read it.
fn dirty() -> &'static (PathBuf, Summary) {
    static W: OnceLock<(PathBuf, Summary)> = OnceLock::new();
    W.get_or_init(|| {
        world(
            "dirty",
            WorldConfig {
                persons: 4000,
                dirty: 0.03,
                ..WorldConfig::default()
            },
        )
    })
}

fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    corridor_world::truth::read_rows(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("inside").to_path_buf();
                out.insert(rel, std::fs::read(&path).expect("read file"));
            }
        }
    }
    out
}

#[test]
fn same_seed_gives_identical_trees() {
    let cfg = WorldConfig {
        persons: 1500,
        seed: 7,
        ..WorldConfig::default()
    };
    let (a, _) = world("det-a", cfg.clone());
    let (b, _) = world("det-b", cfg.clone());
    let (c, _) = world("det-c", WorldConfig { seed: 8, ..cfg });
    let (fa, fb, fc) = (files(&a), files(&b), files(&c));
    assert!(fa.len() > 15, "expected the full tree, got {:?}", fa.keys());
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (path, bytes) in &fa {
        assert!(
            bytes == &fb[path],
            "{} differs between two runs with the same seed",
            path.display()
        );
    }
    assert_ne!(
        fa[Path::new("truth/crossings.csv")],
        fc[Path::new("truth/crossings.csv")],
        "another seed, another world"
    );
    for d in [a, b, c] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn exports_open_in_the_tools_people_use() {
    let (dir, summary) = dirty();
    let rows = |rel: &str| {
        summary
            .files
            .iter()
            .filter(|f| f.0 == rel)
            .map(|f| f.1)
            .collect::<Vec<_>>()
    };

    // The Guatemalan CSV is Windows-1252, not UTF-8: accented headers are
    // single bytes and decode with encoding_rs.
    let bytes = std::fs::read(dir.join(BORDER_FILES[0])).expect("csv");
    assert!(std::str::from_utf8(&bytes).is_err(), "must not be UTF-8");
    let (text, _, had_errors) = encoding_rs::WINDOWS_1252.decode(&bytes);
    assert!(!had_errors);
    assert!(
        text.starts_with("Fecha;Hora;Tipo de Movimiento;Puesto Fronterizo;Nombres;Apellidos;Sexo")
    );
    assert!(text.contains("Número de Documento"));
    assert!(text.lines().nth(1).is_some_and(|l| {
        l.split(';')
            .next()
            .is_some_and(|d| d.len() == 10 && &d[2..3] == "/")
    }));

    // The Honduran workbook opens in calamine, with typed dates.
    let mut book = open_workbook_auto(dir.join(BORDER_FILES[1])).expect("xlsx opens in calamine");
    assert_eq!(
        book.sheet_names(),
        vec!["Movimientos".to_string(), "Residencias".to_string()]
    );
    let range = book.worksheet_range("Movimientos").expect("sheet");
    let header: Vec<String> = range
        .rows()
        .next()
        .expect("header")
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(header[0], "FECHA_HORA");
    assert_eq!(range.height() as u64 - 1, rows(BORDER_FILES[1])[0]);
    let typed_dates = range
        .rows()
        .skip(1)
        .filter(|r| matches!(r[0], Data::DateTime(_)))
        .count();
    assert!(
        typed_dates as f64 > 0.95 * (range.height() - 1) as f64,
        "event times are date cells"
    );
    let range = book.worksheet_range("Residencias").expect("sheet");
    assert_eq!(range.height() as u64 - 1, rows(BORDER_FILES[1])[1]);
    let mut cases = open_workbook_auto(dir.join(CASE_FILES[0])).expect("case workbook opens");
    let range = cases.worksheet_range("Cases").expect("sheet");
    assert!(range.height() > 10);

    // Every NDJSON line parses, but for the faults that break JSON on purpose.
    let ndjson = std::fs::read_to_string(dir.join(BORDER_FILES[2])).expect("ndjson is UTF-8");
    let faults = read_csv(&dir.join("truth/faults.csv"));
    let broken: Vec<u64> = faults
        .iter()
        .filter(|f| {
            f["file"] == BORDER_FILES[2]
                && (f["kind"] == "broken_quoting" || f["kind"] == "truncated_line")
        })
        .map(|f| f["row"].parse().expect("row number"))
        .collect();
    for (i, line) in ndjson.lines().enumerate() {
        let parsed = serde_json::from_str::<serde_json::Value>(line);
        let row = i as u64 + 1;
        assert_eq!(parsed.is_err(), broken.contains(&row), "line {row}: {line}");
        if let Ok(v) = parsed {
            assert!(
                v["viajero"]["documento"]["numero"].is_string()
                    || v["viajero"]["documento"]["numero"].is_null()
            );
        }
    }
}

/// Faults of a text file are where the log says, with the values it says.
#[test]
fn every_fault_is_where_the_log_says() {
    let (dir, _) = dirty();
    let faults = read_csv(&dir.join("truth/faults.csv"));
    let file = BORDER_FILES[0];
    let bytes = std::fs::read(dir.join(file)).expect("csv");
    let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
    let lines: Vec<&str> = text.split("\r\n").collect();
    let header: Vec<&str> = lines[0].split(';').collect();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for f in faults.iter().filter(|f| f["file"] == file) {
        *kinds.entry(f["kind"].clone()).or_default() += 1;
        if f["kind"] == "missing_record" {
            assert!(f["row"].is_empty());
            continue;
        }
        let row: usize = f["row"].parse().expect("row");
        let line = lines[row - 1];
        let fields: Vec<String> = csv::ReaderBuilder::new()
            .delimiter(b';')
            .has_headers(false)
            .flexible(true)
            .from_reader(line.as_bytes())
            .records()
            .next()
            .map(|r| r.expect("line parses").iter().map(str::to_string).collect())
            .unwrap_or_default();
        match f["kind"].as_str() {
            "broken_quoting" => assert_eq!(fields.len(), header.len() + 1, "row {row}: {line}"),
            "truncated_line" => {
                assert_eq!(row, lines.len(), "the truncated line is the last");
                assert!(fields.len() < header.len());
            }
            "duplicate_record" | "repeated_crossing" => {
                let of: usize = f["expected"]
                    .trim_start_matches("duplicate of row ")
                    .parse()
                    .expect("row");
                let a: Vec<&str> = lines[of - 1].split(';').collect();
                let b: Vec<&str> = line.split(';').collect();
                // Same person, direction and day; the time may differ by minutes.
                assert_eq!(
                    (a[0], a[2], &a[4..]),
                    (b[0], b[2], &b[4..]),
                    "row {row} duplicates row {of}"
                );
            }
            _ => {
                let col = header
                    .iter()
                    .position(|h| *h == f["column"])
                    .unwrap_or_else(|| panic!("column {}", f["column"]));
                assert_eq!(
                    fields[col], f["written"],
                    "row {row} column {}",
                    f["column"]
                );
                assert_ne!(f["written"], f["expected"]);
            }
        }
    }
    for kind in [
        "unknown_country",
        "impossible_date",
        "ambiguous_date",
        "invalid_code",
        "missing_required",
        "duplicate_record",
        "broken_quoting",
        "truncated_line",
        "missing_record",
    ] {
        assert!(
            kinds.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} fault seeded in {file}: {kinds:?}"
        );
    }
    // Unknown countries really do not resolve.
    for f in faults.iter().filter(|f| f["kind"] == "unknown_country") {
        assert!(
            corridor_model::Countries::get()
                .resolve(&f["written"])
                .is_err(),
            "{}",
            f["written"]
        );
    }
}

#[test]
fn every_recorded_crossing_is_exported_once_plus_duplicates() {
    let (dir, summary) = dirty();
    let crossings = read_csv(&dir.join("truth/crossings.csv"));
    let faults = read_csv(&dir.join("truth/faults.csv"));
    for (i, country) in ["GTM", "HND", "SLV"].iter().enumerate() {
        let recorded = crossings
            .iter()
            .filter(|c| &c["country"] == country && c["recording"] == "recorded")
            .count();
        let missing_logged = faults
            .iter()
            .filter(|f| f["file"] == BORDER_FILES[i] && f["kind"] == "missing_record")
            .count();
        let not_recorded = crossings
            .iter()
            .filter(|c| &c["country"] == country && c["recording"] == "not_recorded")
            .count();
        assert_eq!(
            missing_logged, not_recorded,
            "{country}: every coverage gap is logged"
        );
        // The Honduran workbook also holds permits, on another sheet.
        let dups = faults
            .iter()
            .filter(|f| {
                f["file"] == BORDER_FILES[i]
                    && f["part"] != "Residencias"
                    && (f["kind"] == "duplicate_record" || f["kind"] == "repeated_crossing")
            })
            .count();
        let rows = summary
            .files
            .iter()
            .find(|f| f.0 == BORDER_FILES[i])
            .map(|f| f.1)
            .expect("file");
        assert_eq!(rows as usize, recorded + dups, "{country}");
    }
}

#[test]
fn a_clean_world_records_everything_once() {
    let (dir, summary) = world(
        "clean",
        WorldConfig {
            persons: 1500,
            dirty: 0.0,
            ..WorldConfig::default()
        },
    );
    let crossings = read_csv(&dir.join("truth/crossings.csv"));
    assert!(crossings.iter().all(|c| c["recording"] == "recorded"));
    assert_eq!(summary.faults, 0);
    for (i, country) in ["GTM", "HND", "SLV"].iter().enumerate() {
        let n = crossings
            .iter()
            .filter(|c| &c["country"] == country)
            .count() as u64;
        let rows = summary
            .files
            .iter()
            .find(|f| f.0 == BORDER_FILES[i])
            .map(|f| f.1)
            .expect("file");
        assert_eq!(rows, n, "{country}");
    }
    let text = std::fs::read(dir.join(BORDER_FILES[2])).expect("ndjson");
    assert!(text.ends_with(b"\n"), "no truncated line in a clean world");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn truth_stocks_follow_from_flows() {
    let (dir, _) = dirty();
    let stocks = read_csv(&dir.join("truth/stocks.csv"));
    let flows = read_csv(&dir.join("truth/flows.csv"));
    type Key = (String, String, String, String);
    let mut present: HashMap<Key, i64> = HashMap::new();
    let mut residents: HashMap<Key, i64> = HashMap::new();
    let mut months: Vec<String> = Vec::new();
    for s in &stocks {
        let key = (
            s["country"].clone(),
            s["month"].clone(),
            s["citizenship"].clone(),
            s["sex"].clone(),
        );
        let n: i64 = s["persons"].parse().expect("count");
        if s["location"] == "present" {
            *present.entry(key.clone()).or_default() += n;
        }
        if s["status"] == "resident" {
            *residents.entry(key).or_default() += n;
        }
        if !months.contains(&s["month"]) {
            months.push(s["month"].clone());
        }
    }
    months.sort();
    let mut flow: HashMap<Key, [i64; 4]> = HashMap::new();
    for f in &flows {
        let key = (
            f["country"].clone(),
            f["month"].clone(),
            f["citizenship"].clone(),
            f["sex"].clone(),
        );
        let v = [
            "arrivals",
            "departures",
            "migrant_arrivals",
            "migrant_departures",
        ]
        .map(|k| f[k].parse::<i64>().expect("count"));
        flow.insert(key, v);
    }
    let groups: std::collections::BTreeSet<(String, String, String)> = stocks
        .iter()
        .map(|s| {
            (
                s["country"].clone(),
                s["citizenship"].clone(),
                s["sex"].clone(),
            )
        })
        .collect();
    let mut checked = 0;
    for (country, cit, sex) in &groups {
        for pair in months.windows(2) {
            let key = |m: &str| (country.clone(), m.to_string(), cit.clone(), sex.clone());
            let f = flow.get(&key(&pair[1])).copied().unwrap_or_default();
            let before = present.get(&key(&pair[0])).copied().unwrap_or(0);
            let after = present.get(&key(&pair[1])).copied().unwrap_or(0);
            assert_eq!(
                after,
                before + f[0] - f[1],
                "{country} {cit} {sex} {}: present",
                pair[1]
            );
            let before = residents.get(&key(&pair[0])).copied().unwrap_or(0);
            let after = residents.get(&key(&pair[1])).copied().unwrap_or(0);
            assert_eq!(
                after,
                before + f[2] - f[3],
                "{country} {cit} {sex} {}: residents",
                pair[1]
            );
            checked += 1;
        }
    }
    assert!(checked > 1000);
    // The flows are the crossings of crossings.csv, counted by month.
    let crossings = read_csv(&dir.join("truth/crossings.csv"));
    let mut arrivals: HashMap<(String, String), i64> = HashMap::new();
    let mut migrants: HashMap<(String, String), i64> = HashMap::new();
    for c in crossings.iter().filter(|c| c["direction"] == "arrival") {
        let key = (c["country"].clone(), c["date"][..7].to_string());
        *arrivals.entry(key.clone()).or_default() += 1;
        if c["long_term_migration"] == "true" {
            *migrants.entry(key).or_default() += 1;
        }
    }
    let mut from_flows: HashMap<(String, String), (i64, i64)> = HashMap::new();
    for ((country, month, _, _), v) in &flow {
        let e = from_flows
            .entry((country.clone(), month.clone()))
            .or_default();
        e.0 += v[0];
        e.1 += v[2];
    }
    for (key, (arr, mig)) in from_flows {
        assert_eq!(arrivals.get(&key).copied().unwrap_or(0), arr, "{key:?}");
        assert_eq!(migrants.get(&key).copied().unwrap_or(0), mig, "{key:?}");
    }
}

#[test]
fn the_world_has_the_people_the_field_sees() {
    let (dir, _) = dirty();
    let crossings = read_csv(&dir.join("truth/crossings.csv"));
    let migrations = crossings
        .iter()
        .filter(|c| c["long_term_migration"] == "true")
        .count();
    let share = migrations as f64 / crossings.len() as f64;
    assert!(
        share > 0.005 && share < 0.2,
        "long-term migrations are a small share of crossings: {share}"
    );
    for kind in ["irregular", "not_recorded"] {
        assert!(crossings.iter().any(|c| c["recording"] == kind), "{kind}");
    }
    let persons = read_csv(&dir.join("truth/persons.csv"));
    for profile in [
        "resident_traveller",
        "visitor",
        "diaspora_visitor",
        "seasonal_worker",
        "immigrant",
        "emigrant",
        "overstayer",
        "transit_migrant",
    ] {
        assert!(persons.iter().any(|p| p["profile"] == profile), "{profile}");
    }
    // Citizenship is skewed: the three reporting countries dominate.
    let ca: usize = persons
        .iter()
        .filter(|p| ["GTM", "HND", "SLV"].contains(&p["citizenship"].as_str()))
        .count();
    assert!(ca as f64 > 0.5 * persons.len() as f64);
    // Returns of all three kinds reach the register.
    let returns = std::fs::read_to_string(dir.join(corridor_world::RETURNS_FILE)).expect("returns");
    for kind in ["Forced", "Assisted voluntary"] {
        assert!(returns.contains(&format!(",{kind},")), "{kind}");
    }
}

#[test]
fn trafficking_victims_overlap_across_organisations() {
    let (dir, summary) = dirty();
    let records = read_csv(&dir.join("truth/case_records.csv"));
    let mut per_victim: HashMap<String, usize> = HashMap::new();
    for r in &records {
        *per_victim.entry(r["victim_id"].clone()).or_default() += 1;
    }
    let multi = per_victim.values().filter(|n| **n > 1).count() as f64 / per_victim.len() as f64;
    assert!(
        (0.15..=0.25).contains(&multi),
        "share of victims reported by more than one organisation: {multi}"
    );
    assert_eq!(per_victim.len() as u64, summary.victims);
    assert_eq!(records.len() as u64, summary.case_records);
    for (i, file) in CASE_FILES.iter().enumerate() {
        let n = records.iter().filter(|r| &r["file"] == file).count() as u64;
        let rows = summary
            .files
            .iter()
            .find(|f| &f.0 == file)
            .map(|f| f.1)
            .expect("file");
        assert_eq!(rows, n, "org {i}");
    }
    for d in [
        "typo_given_name",
        "birth_day_month_swapped",
        "birth_date_missing",
        "accents_dropped",
        "second_family_name_missing",
    ] {
        assert!(
            records.iter().any(|r| r["disagreements"].contains(d)),
            "{d}"
        );
    }
    // Org C writes Windows-1252.
    let bytes = std::fs::read(dir.join(CASE_FILES[2])).expect("org c");
    assert!(std::str::from_utf8(&bytes).is_err());
}

#[test]
fn signals_and_population_cover_the_period() {
    let (dir, _) = dirty();
    let signals = read_csv(&dir.join(corridor_world::SIGNALS_FILE));
    for kind in ["mobile_devices", "search_interest"] {
        let months: std::collections::BTreeSet<&str> = signals
            .iter()
            .filter(|s| s["signal"] == kind)
            .map(|s| s["month"].as_str())
            .collect();
        assert_eq!(months.len(), 48, "{kind}");
    }
    let population = read_csv(&dir.join(corridor_world::POPULATION_FILE));
    let gtm_2022: i64 = population
        .iter()
        .filter(|p| p["ISO3"] == "GTM" && p["Year"] == "2022")
        .map(|p| p["Population"].parse::<i64>().expect("number"))
        .sum();
    assert!((gtm_2022 - 17_358_000).abs() < 20_000, "{gtm_2022}");
}
