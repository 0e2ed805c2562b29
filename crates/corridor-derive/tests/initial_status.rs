//! Supplied residence statuses end to end: border events through intake,
//! statuses named by the travellers' raw identifiers, derive.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use corridor_derive::Options;
use corridor_derive::status::InitialStatus;
use corridor_store::Workspace;

const MAPPING: &str = r#"
record_type = "border_events"
source = "test-border"
[fields]
reporting_country = { constant = "GTM" }
person_key = { pseudonymise = ["doc"], with = ["citizenship"] }
direction = { column = "dir" }
event_date = { column = "date" }
citizenship = { column = "nat" }
sex = { column = "sex" }
"#;

/// A: out 10 January, back 1 March. B: in 1 February, out 10 February.
/// C: out and back on 1 April, without times. D: the file lists the exit
/// of 1 June before the entry of 1 May.
const EVENTS: &str = "doc,nat,dir,date,sex
A-1,Honduras,exit,2024-01-10,M
A-1,Honduras,entry,2024-03-01,M
P 77,Perú,entry,2024-02-01,F
P 77,Perú,exit,2024-02-10,F
C-3,Guatemala,exit,2024-04-01,F
C-3,Guatemala,entry,2024-04-01,F
D-9,Guatemala,exit,2024-06-01,F
D-9,Guatemala,entry,2024-05-01,F
";

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    ws: Workspace,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().to_path_buf();
    let ws = Workspace::init(&root.join("ws")).expect("init");
    std::fs::write(root.join("border.toml"), MAPPING).expect("mapping");
    std::fs::write(root.join("events.csv"), EVENTS).expect("events");
    ws.submit(
        &root.join("border.toml"),
        &root.join("events.csv"),
        false,
        &mut |_| {},
    )
    .expect("submit");
    Setup {
        _dir: dir,
        root,
        ws,
    }
}

fn options(status: Option<InitialStatus>) -> Options {
    Options {
        as_of: chrono::NaiveDate::from_ymd_opt(2026, 12, 31),
        initial_status: status,
        ..Options::default()
    }
}

/// (date, direction) → (status before, outcome, repairs)
fn crossings(ws: &Workspace) -> HashMap<(String, String), (String, String, String)> {
    use arrow::array::AsArray;
    let batches = ws
        .sql(
            "SELECT CAST(event_date AS VARCHAR), direction, coalesce(status_before, ''), \
             outcome, coalesce(repairs, '') FROM crossings",
        )
        .expect("sql");
    let mut out = HashMap::new();
    for b in batches {
        let cols: Vec<arrow::array::StringArray> = (0..5)
            .map(|i| {
                arrow::compute::cast(b.column(i), &arrow::datatypes::DataType::Utf8)
                    .expect("text")
                    .as_string::<i32>()
                    .clone()
            })
            .collect();
        for r in 0..b.num_rows() {
            let v = |i: usize| cols[i].value(r).to_string();
            out.insert((v(0), v(1)), (v(2), v(3), v(4)));
        }
    }
    out
}

fn get<'a>(
    c: &'a HashMap<(String, String), (String, String, String)>,
    date: &str,
    direction: &str,
) -> &'a (String, String, String) {
    &c[&(date.to_string(), direction.to_string())]
}

fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    std::fs::write(path, bytes).expect("write");
    path.to_path_buf()
}

#[test]
fn statuses_name_travellers_by_identifier_as_intake_keys_them() {
    let s = setup();
    // Without statuses: `migrbc`'s guess from each first crossing.
    corridor_derive::derive(&s.ws, &options(None), &|_, _| {}).expect("derive");
    let c = crossings(&s.ws);
    assert_eq!(get(&c, "2024-01-10", "exit").0, "resident");
    assert_eq!(get(&c, "2024-02-01", "entry").0, "non_resident");
    // The identifiers as a register writes them (other case and
    // punctuation, citizenship as a code), in Windows-1252, `;`-separated
    // and quoted: keyed as intake keyed the export's.
    let mut file = b"document_number;citizenship;reporting_country;resident;status_date\n\
\"a1\";\"HND\";Guatemala;non_resident;2024-01-01\n"
        .to_vec();
    file.extend(b"\"P-77\";\"Per\xfa\";GTM;resident;2024-01-01\n");
    let path = write(&s.root.join("register.csv"), &file);
    corridor_derive::derive(&s.ws, &options(Some(InitialStatus::new(path))), &|_, _| {})
        .expect("derive");
    let c = crossings(&s.ws);
    // A was a non-resident: the exit is not tested, the return is an
    // arrival that stays.
    assert_eq!(get(&c, "2024-01-10", "exit").0, "non_resident");
    assert_eq!(get(&c, "2024-01-10", "exit").1, "not_tested");
    assert_eq!(get(&c, "2024-03-01", "entry").1, "migration");
    // B was a resident: the exit of 10 February is an emigration.
    assert_eq!(get(&c, "2024-02-01", "entry").0, "resident");
    assert_eq!(get(&c, "2024-02-10", "exit").1, "migration");
}

#[test]
fn a_status_file_with_a_byte_order_mark_reads_its_header() {
    let s = setup();
    let path = write(
        &s.root.join("register.csv"),
        "\u{feff}reporting_country,status_date,resident,citizenship,document_number\n\
         GTM,2024-01-01,non_resident,\"HND\",\"A-1\"\n"
            .as_bytes(),
    );
    corridor_derive::derive(&s.ws, &options(Some(InitialStatus::new(path))), &|_, _| {})
        .expect("derive");
    let c = crossings(&s.ws);
    assert_eq!(get(&c, "2024-01-10", "exit").0, "non_resident");
}

#[test]
fn a_status_dated_after_the_first_crossing_is_not_used_at_the_start() {
    let s = setup();
    let path = write(
        &s.root.join("register.csv"),
        b"document_number,citizenship,reporting_country,resident,status_date\n\
A-1,HND,GTM,non_resident,2024-02-01\n",
    );
    corridor_derive::derive(&s.ws, &options(Some(InitialStatus::new(path))), &|_, _| {})
        .expect("derive");
    let c = crossings(&s.ws);
    // Known from 1 February only: the exit of 10 January keeps the guess.
    assert_eq!(get(&c, "2024-01-10", "exit").0, "resident");
}

#[test]
fn a_known_resident_goes_out_and_comes_back_the_same_day() {
    let s = setup();
    // Unknown: the untimed pair is a visit (in, then out).
    corridor_derive::derive(&s.ws, &options(None), &|_, _| {}).expect("derive");
    let c = crossings(&s.ws);
    assert_eq!(get(&c, "2024-04-01", "entry").1, "not_migration");
    assert_eq!(get(&c, "2024-04-01", "exit").1, "not_tested");
    let path = write(
        &s.root.join("register.csv"),
        b"document_number,citizenship,reporting_country,resident,status_date\n\
C-3,GTM,GTM,resident,2024-01-01\n",
    );
    corridor_derive::derive(&s.ws, &options(Some(InitialStatus::new(path))), &|_, _| {})
        .expect("derive");
    let c = crossings(&s.ws);
    // Out, then back: no emigration, and the return is a resident's.
    assert_eq!(get(&c, "2024-04-01", "exit").1, "not_migration");
    assert_eq!(get(&c, "2024-04-01", "entry").1, "not_tested");
    assert_eq!(get(&c, "2024-04-01", "entry").0, "resident");
}

#[test]
fn rows_out_of_file_order_are_flagged_and_counted() {
    let s = setup();
    let report = corridor_derive::derive(&s.ws, &options(None), &|_, _| {}).expect("derive");
    assert_eq!(report.repairs["reordered"], 1, "{:?}", report.repairs);
    let c = crossings(&s.ws);
    let flagged: Vec<_> = c
        .iter()
        .filter(|(_, v)| v.2.split('|').any(|f| f == "reordered"))
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    assert!(
        ["2024-05-01", "2024-06-01"].contains(&flagged[0].0.as_str()),
        "{flagged:?}"
    );
}

#[test]
fn a_bad_value_names_the_file_row_and_field() {
    let s = setup();
    let path = write(
        &s.root.join("register.csv"),
        b"document_number,citizenship,reporting_country,resident,status_date\n\
A-1,HND,GTM,resident,2024-01-01\n\
P-77,PER,GTM,perhaps,2024-01-01\n",
    );
    let err = corridor_derive::derive(&s.ws, &options(Some(InitialStatus::new(path))), &|_, _| {})
        .expect_err("a bad value");
    let text = err.to_string();
    assert!(
        text.contains("register.csv") && text.contains("row 3") && text.contains("`resident`"),
        "{text}"
    );
    let path = write(
        &s.root.join("dates.csv"),
        b"document_number,citizenship,reporting_country,resident,status_date\n\
A-1,HND,GTM,resident,01/13/2024\n",
    );
    let err = corridor_derive::derive(&s.ws, &options(Some(InitialStatus::new(path))), &|_, _| {})
        .expect_err("a bad date");
    let text = err.to_string();
    assert!(
        text.contains("dates.csv") && text.contains("row 2") && text.contains("`status_date`"),
        "{text}"
    );
    // A missing column names the columns the file has.
    let path = write(
        &s.root.join("short.csv"),
        b"document_number,citizenship,reporting_country,resident\nA-1,HND,GTM,resident\n",
    );
    let err = corridor_derive::derive(&s.ws, &options(Some(InitialStatus::new(path))), &|_, _| {})
        .expect_err("no date column");
    let text = err.to_string();
    assert!(
        text.contains("short.csv") && text.contains("`status_date`"),
        "{text}"
    );
}

#[test]
fn a_rule_that_cannot_apply_is_refused_by_derive_and_backtest_themselves() {
    let s = setup();
    for (threshold_days, window_days) in [(0, 487), (-5, 487), (400, 365)] {
        let opts = Options {
            rule: corridor_derive::residence::Rule {
                threshold_days,
                window_days,
            },
            ..options(None)
        };
        let err = corridor_derive::derive(&s.ws, &opts, &|_, _| {}).expect_err("a bad rule");
        assert!(
            matches!(err, corridor_derive::DeriveError::Options(_))
                && err.to_string().contains("threshold"),
            "{err}"
        );
        let cutoff = chrono::NaiveDate::from_ymd_opt(2024, 6, 30).expect("date");
        let err = corridor_derive::backtest(&s.ws, &opts, &[cutoff]).expect_err("a bad rule");
        assert!(
            matches!(err, corridor_derive::DeriveError::Options(_)),
            "{err}"
        );
    }
    // Nothing was derived.
    assert!(!s.ws.root().join("derived").join("report.json").exists());
    let opts = Options {
        repeat_minutes: -1,
        ..options(None)
    };
    let err = corridor_derive::derive(&s.ws, &opts, &|_, _| {}).expect_err("negative repeats");
    assert!(err.to_string().contains("negative"), "{err}");
}
