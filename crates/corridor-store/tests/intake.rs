//! Intake of the demo world end to end: nothing lost, every seeded fault
//! caught, no raw identifier stored, idempotent and atomic submissions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use corridor_store::{Outcome, Workspace};
use corridor_world::{WorldConfig, mappings::SUBMISSIONS};

struct Demo {
    world: PathBuf,
    workspace: PathBuf,
    /// data file (relative) + sheet → source name
    outcomes: Vec<(String, String, Outcome)>,
}

fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    corridor_world::truth::read_rows(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn demo() -> &'static Demo {
    static D: OnceLock<Demo> = OnceLock::new();
    D.get_or_init(|| {
        let root = corridor_world::scratch_dir("intake");
        let world = root.join("world");
        corridor_world::generate(
            &WorldConfig {
                persons: 3000,
                dirty: 0.03,
                ..WorldConfig::default()
            },
            &world,
            &|_, _| {},
        )
        .expect("world");
        let workspace = root.join("ws");
        let ws = Workspace::init(&workspace).expect("init");
        let mut outcomes = Vec::new();
        for (mapping, file) in SUBMISSIONS {
            let outcome = ws
                .submit(&world.join(mapping), &world.join(file), false, &mut |_| {})
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            let text = std::fs::read_to_string(world.join(mapping)).expect("mapping");
            let sheet = text
                .lines()
                .find_map(|l| l.strip_prefix("sheet = "))
                .map(|s| s.trim_matches('"').to_string())
                .unwrap_or_default();
            outcomes.push((file.to_string(), sheet, outcome));
        }
        Demo {
            world,
            workspace,
            outcomes,
        }
    })
}

fn committed(o: &Outcome) -> (&corridor_store::SubmissionInfo, &corridor_ingest::Report) {
    match o {
        Outcome::Committed {
            submission, report, ..
        } => (submission, report),
        Outcome::AlreadyIngested { .. } => panic!("expected a new submission"),
    }
}

#[test]
fn every_row_is_stored_or_quarantined() {
    let d = demo();
    let ws = Workspace::open(&d.workspace).expect("open");
    for (file, _, outcome) in &d.outcomes {
        let (sub, report) = committed(outcome);
        assert!(report.rows_read > 0, "{file}");
        assert_eq!(
            report.rows_read,
            report.stored + report.quarantined,
            "{file}"
        );
        let quarantined = read_csv(&d.workspace.join(&sub.quarantine_path));
        assert_eq!(
            quarantined.len() as u64,
            report.quarantined,
            "{file}: quarantine file"
        );
        let batches = ws
            .sql(&format!(
                "SELECT count(*) AS n FROM {} WHERE submission_id = '{}'",
                sub.record_type, sub.id
            ))
            .expect("sql");
        let n = arrow::array::cast::as_primitive_array::<arrow::datatypes::Int64Type>(
            batches[0].column(0),
        )
        .value(0);
        assert_eq!(n as u64, report.stored, "{file}: stored rows are queryable");
    }
    // And the rows read are all the rows the files have.
    let summary_rows: HashMap<String, u64> = read_csv(&d.world.join("truth/case_records.csv"))
        .iter()
        .fold(HashMap::new(), |mut m, r| {
            *m.entry(r["file"].clone()).or_default() += 1;
            m
        });
    for (file, _, outcome) in &d.outcomes {
        if let Some(n) = summary_rows.get(file) {
            assert_eq!(committed(outcome).1.rows_read, *n, "{file}");
        }
    }
}

/// Which quarantine reasons catch each fault the generator seeds; `None`:
/// not intake's to catch (it needs a person's whole history).
fn expected_reasons(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "unknown_country" => &["unknown_country"],
        "impossible_date" => &["invalid_date"],
        "ambiguous_date" => &["invalid_date", "out_of_range"],
        "invalid_code" => &["unknown_code"],
        "missing_required" => &["missing_required"],
        "birth_after_event" => &["inconsistent_dates", "out_of_range"],
        "implausible_age" => &["out_of_range"],
        "broken_quoting" | "truncated_line" => &["malformed_row", "invalid_json"],
        "duplicate_record" => &["duplicate_record"],
        "swapped_day_month" | "repeated_crossing" | "missing_record" => return None,
        other => panic!("a fault kind this test does not know: {other}"),
    })
}

#[test]
fn every_seeded_fault_is_caught_and_nothing_else_is_quarantined() {
    let d = demo();
    let faults = read_csv(&d.world.join("truth/faults.csv"));
    let mut quarantine: HashMap<(String, String), HashMap<u64, String>> = HashMap::new();
    for (file, sheet, outcome) in &d.outcomes {
        let (sub, _) = committed(outcome);
        let rows = read_csv(&d.workspace.join(&sub.quarantine_path))
            .into_iter()
            .map(|r| (r["row"].parse::<u64>().expect("row"), r["reason"].clone()))
            .collect();
        quarantine.insert((file.clone(), sheet.clone()), rows);
    }
    let mut caught: BTreeMap<String, usize> = BTreeMap::new();
    let mut explained: HashSet<(String, String, u64)> = HashSet::new();
    for f in &faults {
        let Ok(row) = f["row"].parse::<u64>() else {
            continue;
        };
        let key = (f["file"].clone(), f["part"].clone());
        let q = quarantine
            .get(&key)
            .unwrap_or_else(|| panic!("no submission for {key:?}"));
        explained.insert((key.0.clone(), key.1.clone(), row));
        let Some(reasons) = expected_reasons(&f["kind"]) else {
            continue;
        };
        let got = q.get(&row).unwrap_or_else(|| {
            panic!(
                "{} row {row}: a {} fault was stored, not quarantined",
                f["file"], f["kind"]
            )
        });
        // A row with two faults (one of them its truncation) may be caught by either.
        let truncated = faults.iter().any(|g| {
            g["kind"] == "truncated_line" && g["file"] == f["file"] && g["row"] == f["row"]
        });
        assert!(
            reasons.contains(&got.as_str()) || truncated,
            "{} row {row}: a {} fault was quarantined as {got}",
            f["file"],
            f["kind"]
        );
        *caught.entry(f["kind"].clone()).or_default() += 1;
    }
    for kind in [
        "unknown_country",
        "impossible_date",
        "ambiguous_date",
        "invalid_code",
        "missing_required",
        "broken_quoting",
        "duplicate_record",
    ] {
        assert!(
            caught.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} was seeded: {caught:?}"
        );
    }
    // No false alarms: every quarantined row is a seeded fault.
    for ((file, sheet), rows) in &quarantine {
        for (row, reason) in rows {
            assert!(
                explained.contains(&(file.clone(), sheet.clone(), *row)),
                "{file} {sheet} row {row} quarantined as {reason} without a seeded fault"
            );
        }
    }
}

#[test]
fn raw_identifiers_never_reach_the_workspace() {
    let d = demo();
    let mut needles: Vec<String> = Vec::new();
    for p in read_csv(&d.world.join("truth/persons.csv")) {
        let doc = p["document_number"].clone();
        needles.push(doc.clone());
        needles.push(corridor_ingest::pseudonym::normalise_identifier(&doc));
        let name = format!("{} {}", p["given_names"], p["family_names"]);
        needles.push(name.to_uppercase());
        needles.push(name);
    }
    for v in read_csv(&d.world.join("truth/victims.csv")) {
        needles.push(format!("{} {}", v["given_names"], v["family_names"]));
        needles.push(format!("{} {}", v["given_names"], v["family_names"]).to_uppercase());
    }
    needles.retain(|n| n.len() >= 8);
    let finder = aho_corasick::AhoCorasick::new(&needles).expect("automaton");
    // A leak is an identifier standing on its own. A document number of
    // digits inside a run of lowercase hex (a keyed pseudonym or record key,
    // different with every random workspace secret) is a coincidence: with
    // thousands of 9-digit numbers and 32-digit keys, about one run in ten
    // met one.
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    let leak = |hay: &[u8]| {
        finder.find_overlapping_iter(hay).find(|m| {
            let needle = needles[m.pattern().as_usize()].as_bytes();
            let inside_hex = needle.iter().all(|b| hex(*b))
                && (m.start() > 0 && hex(hay[m.start() - 1])
                    || m.end() < hay.len() && hex(hay[m.end()]));
            !inside_hex
        })
    };
    let mut files = 0;
    let mut stack = vec![d.workspace.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            // SQLite's -wal and -shm files come and go as other tests
            // open and close the catalog: one gone since the listing held
            // nothing to leak.
            let bytes = match std::fs::read(&p) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                read => read.expect("read"),
            };
            files += 1;
            if let Some(m) = leak(&bytes) {
                panic!(
                    "{} contains the identifier {:?}",
                    p.display(),
                    needles[m.pattern().as_usize()]
                );
            }
            // Parquet pages are compressed: check the decoded values too.
            if p.extension().is_some_and(|x| x == "parquet") {
                let f = std::fs::File::open(&p).expect("parquet");
                let reader =
                    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
                        .expect("parquet")
                        .build()
                        .expect("reader");
                for batch in reader {
                    let batch = batch.expect("batch");
                    for col in batch.columns() {
                        let Ok(text) = arrow::compute::cast(col, &arrow::datatypes::DataType::Utf8)
                        else {
                            continue;
                        };
                        let text = arrow::array::cast::as_string_array(&text);
                        for v in text.iter().flatten() {
                            if let Some(m) = leak(v.as_bytes()) {
                                panic!(
                                    "{} holds the identifier {:?}",
                                    p.display(),
                                    needles[m.pattern().as_usize()]
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(files > 20, "scanned {files} files");
}

#[test]
fn the_same_file_twice_is_a_no_op_and_replace_supersedes() {
    let d = demo();
    let root = d.workspace.parent().expect("root").join("ws-idem");
    let _ = std::fs::remove_dir_all(&root);
    let ws = Workspace::init(&root).expect("init");
    let (mapping, file) = (
        d.world.join(SUBMISSIONS[6].0),
        d.world.join(SUBMISSIONS[6].1),
    );
    let first = ws
        .submit(&mapping, &file, false, &mut |_| {})
        .expect("first");
    let (sub, report) = committed(&first);
    let count = |ws: &Workspace| {
        let b = ws.sql("SELECT count(*) FROM returns").expect("sql");
        arrow::array::cast::as_primitive_array::<arrow::datatypes::Int64Type>(b[0].column(0))
            .value(0) as u64
    };
    assert_eq!(count(&ws), report.stored);
    // The submission a file turns out to be already, after a no-op.
    let no_op = |file: &Path| match ws.submit(&mapping, file, false, &mut |_| {}) {
        Ok(Outcome::AlreadyIngested { submission }) => submission.id,
        other => panic!("expected a no-op, got {other:?}"),
    };
    let staged = || std::fs::read_dir(root.join("staging")).map_or(0, |d| d.count());
    assert_eq!(no_op(&file), sub.id);
    assert_eq!(count(&ws), report.stored, "nothing counted twice");
    // The same content under another name is found out too (its SHA-256 is
    // computed while it is ingested), and nothing is left behind.
    let renamed = root.join("returns-copy.csv");
    std::fs::copy(&file, &renamed).expect("copy");
    assert_eq!(no_op(&renamed), sub.id);
    assert_eq!(count(&ws), report.stored, "the copy is not counted");
    assert_eq!(staged(), 0, "no staging left");
    // The same content through another mapping would supersede the first
    // submission: refused without --replace, also when found out late.
    let remapped = root.join("returns-remapped.toml");
    let mapping_text = std::fs::read_to_string(&mapping).expect("mapping");
    std::fs::write(&remapped, mapping_text + "\n# edited\n").expect("write mapping");
    let err = ws
        .submit(&remapped, &renamed, false, &mut |_| {})
        .expect_err("same content, another mapping");
    assert!(err.to_string().contains("--replace"), "{err}");
    assert_eq!(staged(), 0, "no staging left after a refusal");
    assert_eq!(count(&ws), report.stored);
    // A corrected file under the same name: refused without --replace.
    let edited = root.join("returns.csv");
    let text = std::fs::read_to_string(&file).expect("returns");
    let fewer: Vec<&str> = text.lines().take(11).collect();
    std::fs::write(&edited, fewer.join("\n") + "\n").expect("write");
    let err = ws
        .submit(&mapping, &edited, false, &mut |_| {})
        .expect_err("same name, other content");
    assert!(err.to_string().contains("--replace"), "{err}");
    let replaced = ws
        .submit(&mapping, &edited, true, &mut |_| {})
        .expect("replace");
    let Outcome::Committed {
        superseded,
        report: r2,
        ..
    } = &replaced
    else {
        panic!("committed")
    };
    assert_eq!(superseded, &vec![sub.id.clone()]);
    assert_eq!(count(&ws), r2.stored);
    let (_, subs) = ws.status().expect("status");
    assert_eq!(subs.iter().filter(|s| s.status == "current").count(), 1);
}

#[test]
fn record_keys_are_permanent_and_keyed() {
    let d = demo();
    let key_of = |ws: &Workspace| -> Vec<(u64, u64)> {
        let b = ws
            .sql("SELECT source_row, record_key FROM population ORDER BY source_row")
            .expect("sql");
        let rows =
            arrow::array::cast::as_primitive_array::<arrow::datatypes::UInt64Type>(b[0].column(0));
        let keys =
            arrow::array::cast::as_primitive_array::<arrow::datatypes::UInt64Type>(b[0].column(1));
        rows.iter()
            .zip(keys.iter())
            .map(|(r, k)| (r.unwrap_or(0), k.unwrap_or(0)))
            .collect()
    };
    let (mapping, file) = (
        d.world.join(SUBMISSIONS[10].0),
        d.world.join(SUBMISSIONS[10].1),
    );
    let root = d.workspace.parent().expect("root");
    let mut all = Vec::new();
    for name in ["ws-keys-a", "ws-keys-b"] {
        let _ = std::fs::remove_dir_all(root.join(name));
        let ws = Workspace::init(&root.join(name)).expect("init");
        ws.submit(&mapping, &file, false, &mut |_| {})
            .expect("submit");
        all.push(key_of(&ws));
    }
    assert_ne!(all[0], all[1], "another workspace secret, other keys");
    // The same file again with an edited mapping, replacing: same keys.
    let ws = Workspace::open(&root.join("ws-keys-a")).expect("open");
    let edited = root.join("population-edited.mapping.toml");
    std::fs::write(
        &edited,
        std::fs::read_to_string(&mapping).expect("mapping") + "\n# edited\n",
    )
    .expect("write");
    ws.submit(&edited, &file, true, &mut |_| {})
        .expect("replace");
    assert_eq!(key_of(&ws), all[0]);
    let keys: HashSet<u64> = all[0].iter().map(|k| k.1).collect();
    assert_eq!(keys.len(), all[0].len(), "keys are unique");
}

#[test]
fn a_structural_problem_is_one_clear_error_and_changes_nothing() {
    let d = demo();
    let root = d.workspace.parent().expect("root").join("ws-structural");
    let _ = std::fs::remove_dir_all(&root);
    let ws = Workspace::init(&root).expect("init");
    let gtm_mapping = d.world.join(SUBMISSIONS[0].0);
    // A mapped column the file lacks.
    let bad_mapping = root.join("bad.mapping.toml");
    std::fs::write(
        &bad_mapping,
        std::fs::read_to_string(&gtm_mapping)
            .expect("m")
            .replace("\"Hora\"", "\"Hora de Paso\""),
    )
    .expect("w");
    let err = ws
        .submit(
            &bad_mapping,
            &d.world.join(SUBMISSIONS[0].1),
            false,
            &mut |_| {},
        )
        .expect_err("missing column")
        .to_string();
    assert!(
        err.contains("movimientos_migratorios.csv") && err.contains("'Hora de Paso'"),
        "{err}"
    );
    assert!(err.contains("The file's columns: Fecha, Hora"), "{err}");
    // Not a CSV at all: the Excel workbook through a CSV mapping.
    let err = ws
        .submit(
            &gtm_mapping,
            &d.world.join(SUBMISSIONS[2].1),
            false,
            &mut |_| {},
        )
        .expect_err("xlsx as csv")
        .to_string();
    assert!(err.contains("registros_migratorios.xlsx"), "{err}");
    // A sheet the workbook does not have.
    let hnd = root.join("hnd.mapping.toml");
    std::fs::write(
        &hnd,
        std::fs::read_to_string(d.world.join(SUBMISSIONS[2].0))
            .expect("m")
            .replace("\"Movimientos\"", "\"Entradas\""),
    )
    .expect("w");
    let err = ws
        .submit(&hnd, &d.world.join(SUBMISSIONS[2].1), false, &mut |_| {})
        .expect_err("no sheet")
        .to_string();
    assert!(
        err.contains("no sheet 'Entradas'") && err.contains("Movimientos, Residencias"),
        "{err}"
    );
    // Nothing was stored.
    let (sources, submissions) = ws.status().expect("status");
    assert!(sources.is_empty() && submissions.is_empty());
    let data: Vec<_> = walk(&root.join("data"));
    assert!(data.is_empty(), "{data:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn encodings_declared_wrong_or_unusual() {
    let d = demo();
    let root = d.workspace.parent().expect("root").join("ws-enc");
    let _ = std::fs::remove_dir_all(&root);
    let ws = Workspace::init(&root).expect("init");
    let mapping = |encoding: &str| {
        let p = root.join(format!("pop-{}.mapping.toml", encoding.replace('-', "")));
        std::fs::write(
            &p,
            format!(
                "record_type = \"population\"\nsource = \"pop\"\n[reader]\nformat = \"csv\"\nencoding = \"{encoding}\"\n[fields]\ncountry = {{ column = \"País\" }}\nreference_year = {{ column = \"Año\" }}\nsex = {{ column = \"Sexo\" }}\nage_group = {{ column = \"Grupo de edad\" }}\npopulation = {{ column = \"Población\" }}\n"
            ),
        )
        .expect("mapping");
        p
    };
    let text = "País;Año;Sexo;Grupo de edad;Población\nGuatemala;2024;Mujer;0-4;1000\nMéxico;2024;Hombre;85+;20\n";
    // UTF-16 with a byte-order mark, declared or not.
    let mut utf16 = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        utf16.extend(u.to_le_bytes());
    }
    let f16 = root.join("pop16.csv");
    std::fs::write(&f16, &utf16).expect("w");
    let out = ws
        .submit(&mapping("auto"), &f16, false, &mut |_| {})
        .expect("utf-16 reads");
    assert_eq!(committed(&out).1.stored, 2);
    // Windows-1252 declared as UTF-8: refused, with the fix.
    let (cp, _, _) = encoding_rs::WINDOWS_1252.encode(text);
    let f1252 = root.join("pop1252.csv");
    std::fs::write(&f1252, &cp).expect("w");
    let err = ws
        .submit(&mapping("utf-8"), &f1252, false, &mut |_| {})
        .expect_err("wrong encoding")
        .to_string();
    assert!(
        err.contains("not valid UTF-8") && err.contains("windows-1252"),
        "{err}"
    );
    // UTF-8 declared as Windows-1252: refused too (it would garble names).
    let f8 = root.join("pop8.csv");
    std::fs::write(&f8, format!("\u{feff}{text}").replace('\u{feff}', "")).expect("w");
    let err = ws
        .submit(&mapping("windows-1252"), &f8, false, &mut |_| {})
        .expect_err("wrong encoding")
        .to_string();
    assert!(err.contains("is UTF-8"), "{err}");
    // ISO-8859-1 declared: reads.
    let out = ws
        .submit(&mapping("iso-8859-1"), &f1252, false, &mut |_| {})
        .expect("latin-1");
    assert_eq!(committed(&out).1.stored, 2);
    // UTF-8 with a BOM, auto.
    let fbom = root.join("popbom.csv");
    std::fs::write(&fbom, format!("\u{feff}{text}")).expect("w");
    let out = ws
        .submit(&mapping("auto"), &fbom, false, &mut |_| {})
        .expect("bom");
    assert_eq!(committed(&out).1.stored, 2);
}
