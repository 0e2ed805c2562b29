//! Hostile and broken input: bytes that would drive a terminal, values
//! too long to be data, mappings that do not mean what they say, dates
//! two formats read differently, files that are not what their names
//! say.

use std::path::{Path, PathBuf};

use arrow::array::{Array, StringArray};
use corridor_ingest::{
    IngestError, Mapping, MemorySink, Pseudonymiser, Report, Submission, ingest,
};

/// A border-events mapping of columns `fecha;doc;sentido;puesto;pais`,
/// with `reader` lines added.
fn mapping(reader: &str) -> Mapping {
    Mapping::parse(&mapping_text(reader)).expect("mapping")
}

fn mapping_text(reader: &str) -> String {
    format!(
        r#"
record_type = "border_events"
source = "test"
[reader]
delimiter = ";"
{reader}
[fields]
reporting_country = {{ constant = "GTM" }}
citizenship = {{ column = "pais" }}
sex = {{ constant = "_U" }}
person_key = {{ pseudonymise = ["doc"] }}
direction = {{ column = "sentido", recode = {{ "E" = "entry", "S" = "exit" }} }}
event_date = {{ column = "fecha" }}
border_post = {{ column = "puesto" }}
"#
    )
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

fn run(file: &Path, mapping: &Mapping) -> Result<(Report, MemorySink), IngestError> {
    let mut sink = MemorySink::default();
    let sub = Submission {
        scratch: None,
        file,
        source_id: "test",
        submission_id: "s1",
    };
    let key = Pseudonymiser::new(vec![3; 32]);
    let report = ingest(mapping, &sub, &key, &mut sink, &mut |_| {})?;
    Ok((report, sink))
}

fn column(sink: &MemorySink, name: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in &sink.batches {
        let col = arrow::compute::cast(
            b.column_by_name(name).expect("column"),
            &arrow::datatypes::DataType::Utf8,
        )
        .expect("cast");
        let col = col.as_any().downcast_ref::<StringArray>().expect("strings");
        out.extend((0..col.len()).map(|i| (!col.is_null(i)).then(|| col.value(i).to_string())));
    }
    out
}

fn no_control(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

const HEADER: &str = "fecha;doc;sentido;puesto;pais\n";

// ------------------------------------------------------ 4. hostile bytes

/// Escape sequences in cells reach neither a quarantine message nor, in
/// a message, anything but their escaped form.
#[test]
fn escape_sequences_in_values_are_escaped_in_messages() {
    let dir = tempfile::tempdir().expect("dir");
    let file = write(
        dir.path(),
        "e.csv",
        format!(
            "{HEADER}01/02/2024\x1b[2J;D1;E;P;GTM\n01/02/2024;D2;E;P;\x1b[5mowned\x07GT\n01/02/2024;D3;E\u{9b}31m;P;GTM\n"
        ),
    );
    let (report, sink) = run(&file, &mapping("date_formats = [\"%d/%m/%Y\"]")).expect("ingests");
    assert_eq!(report.quarantined, 3, "{:?}", sink.quarantined);
    for q in &sink.quarantined {
        assert!(no_control(&q.message), "{:?}", q.message);
    }
    assert!(
        sink.quarantined[0]
            .message
            .starts_with("'01/02/2024\\u{1b}[2J' is not a date"),
        "{}",
        sink.quarantined[0].message
    );
    assert!(
        sink.quarantined[1]
            .message
            .contains("'\\u{1b}[5mowned\\u{7}GT'"),
        "{}",
        sink.quarantined[1].message
    );
    assert!(
        sink.quarantined[2].message.contains("\\u{9b}31m"),
        "{}",
        sink.quarantined[2].message
    );
}

/// A 3 MB value (a lost quote swallows the rest of a file) makes a short
/// message that says how long it was, and the quarantine keeps it cut.
#[test]
fn a_huge_value_makes_a_short_message() {
    let dir = tempfile::tempdir().expect("dir");
    let huge = "Guatemala".repeat(350_000);
    let file = write(
        dir.path(),
        "h.csv",
        format!("{HEADER}01/02/2024;D1;E;P;{huge}\n32/02/2024;D2;E;{huge};GTM\n"),
    );
    let (_, sink) = run(&file, &mapping("date_formats = [\"%d/%m/%Y\"]")).expect("ingests");
    assert_eq!(sink.quarantined.len(), 2);
    for q in &sink.quarantined {
        assert!(
            q.message.len() < 400,
            "{} bytes: {}",
            q.message.len(),
            q.message
        );
        for (column, value) in &q.original {
            assert!(value.len() < 1_200, "{column}: {} bytes", value.len());
        }
    }
    assert!(
        sink.quarantined[0].message.contains("(3,150,000 bytes)"),
        "{}",
        sink.quarantined[0].message
    );
    let puesto = sink.quarantined[1]
        .original
        .iter()
        .find(|(c, _)| c == "puesto")
        .expect("shown");
    assert!(
        puesto.1.ends_with("… (3,150,000 bytes)"),
        "{}",
        &puesto.1[900..]
    );
}

/// A file without the mapped column names its columns, escaped, and no
/// more than a screenful of them.
#[test]
fn a_missing_column_lists_a_few_columns_escaped() {
    let dir = tempfile::tempdir().expect("dir");
    let mut header: Vec<String> = (0..5_000).map(|i| format!("c{i}")).collect();
    header[0] = "\x1b[31mfecha".into();
    let file = write(dir.path(), "m.csv", format!("{}\n", header.join(";")));
    let err = run(&file, &mapping(""))
        .err()
        .expect("missing columns")
        .to_string();
    assert!(no_control(&err.replace('\n', "")), "{err}");
    assert!(err.contains("'\\u{1b}[31mfecha'"), "{err}");
    assert!(err.contains("…and 4,960 more columns"), "{err}");
    assert!(err.len() < 2_000, "{} bytes", err.len());
}

// ----------------------------------------------------------- 6. too long

/// A value longer than its field may be is quarantined as `too_long`,
/// not stored; one at the limit is stored, and the limit counts
/// characters, not bytes.
#[test]
fn values_longer_than_their_field_are_quarantined() {
    let dir = tempfile::tempdir().expect("dir");
    let limit = corridor_ingest::transform::max_chars(corridor_model::FieldType::Text);
    let at_limit = "é".repeat(limit);
    let over = "x".repeat(20 << 20);
    let file = write(
        dir.path(),
        "t.csv",
        format!(
            "{HEADER}01/02/2024;D1;E;{at_limit};GTM\n01/02/2024;D2;E;{over};GTM\n01/02/2024;D3;E;P;{}\n01/02/2024;{};E;P;GTM\n",
            "G".repeat(300),
            "9".repeat(1_000)
        ),
    );
    let (report, sink) = run(&file, &mapping("date_formats = [\"%d/%m/%Y\"]")).expect("ingests");
    assert_eq!(column(&sink, "border_post"), vec![Some(at_limit.clone())]);
    assert_eq!(report.by_reason.get("too_long"), Some(&3), "{report:?}");
    let fields: Vec<_> = sink
        .quarantined
        .iter()
        .map(|q| (q.row, q.field.as_deref(), q.reason))
        .collect();
    assert_eq!(
        fields,
        vec![
            (3, Some("border_post"), "too_long"),
            (4, Some("citizenship"), "too_long"),
            (5, Some("person_key"), "too_long"),
        ]
    );
    assert!(
        sink.quarantined[0]
            .message
            .starts_with("20,971,520 characters, more than the 1,000 a border_post value may have"),
        "{}",
        sink.quarantined[0].message
    );
    assert!(
        !sink.quarantined[2].message.contains("999"),
        "identifiers are never shown: {}",
        sink.quarantined[2].message
    );
}

// ------------------------------------------------ 7. mapping mistakes

/// A header naming a mapped column twice: the first is read, and the
/// report says so, with both places.
#[test]
fn a_repeated_column_is_warned_about() {
    let dir = tempfile::tempdir().expect("dir");
    let file = write(
        dir.path(),
        "d.csv",
        "fecha;doc;sentido;puesto;pais;fecha\n01/02/2024;D1;E;P;GTM;03/02/2024\n",
    );
    let (report, _) = run(&file, &mapping("date_formats = [\"%d/%m/%Y\"]")).expect("ingests");
    assert!(
        report.warnings.iter().any(|w| w
            .contains("the header names column 'fecha' 2 times (columns 1, 6): column 1 is read")),
        "{:?}",
        report.warnings
    );
}

/// The mapping's own warnings reach the report (so `ingest` and `mapping
/// check` both show them).
#[test]
fn mapping_warnings_are_in_the_report() {
    let dir = tempfile::tempdir().expect("dir");
    let file = write(
        dir.path(),
        "w.csv",
        "fecha;doc;sentido;Nombre completo;pais\n01/02/2024;D1;E;Ana;GTM\n",
    );
    let text = mapping_text("date_formats = [\"%d/%m/%Y\"]")
        .replace("column = \"puesto\"", "column = \"Nombre completo\"");
    let mapping = Mapping::parse(&text).expect("mapping");
    let (report, _) = run(&file, &mapping).expect("ingests");
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("column 'Nombre completo' looks like it holds")),
        "{:?}",
        report.warnings
    );
}

/// Dates 1 to 28 of every month, to be written `%d/%m/%Y`: 144 of the 336
/// have a day of 12 or less, which `%m/%d/%Y` also reads (132 of them as
/// another date).
fn day_first_dates(year: i32) -> Vec<chrono::NaiveDate> {
    (1..=12)
        .flat_map(|m| (1..=28).map(move |d| (m, d)))
        .filter_map(|(m, d)| chrono::NaiveDate::from_ymd_opt(year, m, d))
        .collect()
}

fn dates_file(dir: &Path, name: &str, dates: &[chrono::NaiveDate]) -> PathBuf {
    let mut text = String::from(HEADER);
    for (i, d) in dates.iter().enumerate() {
        text.push_str(&format!("{};D{i};E;P;GTM\n", d.format("%d/%m/%Y")));
    }
    write(dir, name, text)
}

/// Two formats that read 03/04/2023 differently: the first date only
/// one of them reads decides the column, for the dates before it too.
#[test]
fn a_column_of_ambiguous_dates_is_read_in_the_format_its_values_show() {
    let dir = tempfile::tempdir().expect("dir");
    let dates = day_first_dates(2023);
    let ambiguous = dates
        .iter()
        .filter(|d| chrono::Datelike::day(*d) <= 12)
        .count();
    assert_eq!(ambiguous, 144);
    let file = dates_file(dir.path(), "a.csv", &dates);
    let two = mapping("date_formats = [\"%m/%d/%Y\", \"%d/%m/%Y\"]");
    let (report, sink) = run(&file, &two).expect("ingests");
    assert_eq!(report.stored, dates.len() as u64, "{:?}", sink.quarantined);
    let expected: Vec<Option<String>> = dates.iter().map(|d| Some(d.to_string())).collect();
    assert_eq!(
        column(&sink, "event_date"),
        expected,
        "no day and month swapped"
    );
    let how = report
        .detected
        .get("date format (event_date)")
        .expect("the decision is reported");
    assert!(
        how.starts_with(
            "'%d/%m/%Y': row 14 ('13/01/2023') reads only as '%d/%m/%Y', so not '%m/%d/%Y'"
        ),
        "{how}"
    );
    assert!(
        report.warnings.iter().all(|w| !w.contains("event_date: ")),
        "{:?}",
        report.warnings
    );
}

/// Once decided, a date only the other format reads is not stored as if
/// it were right: the column mixes formats.
#[test]
fn a_date_against_the_columns_format_is_quarantined_with_why() {
    let dir = tempfile::tempdir().expect("dir");
    let file = write(
        dir.path(),
        "m.csv",
        format!("{HEADER}13/01/2023;D1;E;P;GTM\n01/25/2023;D2;E;P;GTM\n02/03/2023;D3;E;P;GTM\n"),
    );
    let two = mapping("date_formats = [\"%m/%d/%Y\", \"%d/%m/%Y\"]");
    let (_, sink) = run(&file, &two).expect("ingests");
    assert_eq!(
        column(&sink, "event_date"),
        vec![Some("2023-01-13".into()), Some("2023-03-02".into())]
    );
    assert_eq!(sink.quarantined.len(), 1);
    let q = &sink.quarantined[0];
    assert_eq!((q.row, q.reason), (3, "invalid_date"));
    assert!(
        q.message.starts_with("'01/25/2023' reads only as '%m/%d/%Y', but this column's dates are '%d/%m/%Y': row 2 ('13/01/2023') reads only that way"),
        "{}",
        q.message
    );
}

/// Dates nothing in the file decides are read with the first format and
/// counted in a warning that names the first rows.
#[test]
fn dates_that_stay_ambiguous_are_counted() {
    let dir = tempfile::tempdir().expect("dir");
    let dates: Vec<_> = day_first_dates(2023)
        .into_iter()
        .filter(|d| chrono::Datelike::day(d) <= 12)
        .collect();
    let file = dates_file(dir.path(), "u.csv", &dates);
    let two = mapping("date_formats = [\"%m/%d/%Y\", \"%d/%m/%Y\"]");
    let (report, _) = run(&file, &two).expect("ingests");
    let same_both_ways = dates
        .iter()
        .filter(|d| chrono::Datelike::day(*d) == chrono::Datelike::month(*d))
        .count();
    let n = dates.len() - same_both_ways;
    assert!(
        report.warnings.iter().any(|w| w.starts_with(&format!(
            "event_date: {n} dates (rows 3, 4, 5, 6, 7, …) read differently with the formats '%m/%d/%Y', '%d/%m/%Y', and no date in the file decided"
        ))),
        "{:?}",
        report.warnings
    );
}

/// More ambiguous dates than the reader holds back before one decides:
/// those already gone are counted, the rest read in the decided format.
#[test]
fn ambiguous_dates_before_a_late_decision_are_counted() {
    let dir = tempfile::tempdir().expect("dir");
    let early = chrono::NaiveDate::from_ymd_opt(2023, 4, 5).expect("date");
    let late = chrono::NaiveDate::from_ymd_opt(2023, 4, 25).expect("date");
    let mut dates = vec![early; 100_000];
    dates.extend([late, early]);
    let file = dates_file(dir.path(), "l.csv", &dates);
    let two = mapping("date_formats = [\"%m/%d/%Y\", \"%d/%m/%Y\"]");
    let (report, sink) = run(&file, &two).expect("ingests");
    let held = 8 * 8192;
    let warning = report
        .warnings
        .iter()
        .find(|w| w.starts_with("event_date: "))
        .expect("a warning");
    assert!(
        warning.contains(&format!(
            "{} dates (rows 2, 3, 4, 5, 6, …)",
            corridor_ingest_thousands(held as u64)
        )) && warning.contains("before row 100002 showed that this column's dates are '%d/%m/%Y'"),
        "{warning}"
    );
    let stored = column(&sink, "event_date");
    assert_eq!(
        stored[0].as_deref(),
        Some("2023-05-04"),
        "read before the decision"
    );
    assert_eq!(
        stored[held].as_deref(),
        Some("2023-04-05"),
        "held back, then decided"
    );
    assert_eq!(
        stored.last().cloned().flatten().as_deref(),
        Some("2023-04-05")
    );
}

fn corridor_ingest_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

// ------------------------------------------------ 8. not a workbook

fn unreadable(path: &Path) -> String {
    let opts = corridor_ingest::mapping::ReaderOptions::default();
    match corridor_ingest::read::open(path, &opts, &[]) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(e) => e.to_string(),
    }
}

/// A CSV named .xlsx and an .xlsx cut short fail differently, each
/// saying what to do.
#[test]
fn a_renamed_csv_and_a_truncated_workbook_are_told_apart() {
    let dir = tempfile::tempdir().expect("dir");
    let csv = write(
        dir.path(),
        "export.xlsx",
        HEADER.to_string() + "01/02/2024;D1;E;P;GTM\n",
    );
    let err = unreadable(&csv);
    assert!(
        err.contains("not an Excel file: it is text, and looks like CSV (its first line: 'fecha;doc;sentido;puesto;pais')")
            && err.contains("reader.format = \"csv\""),
        "{err}"
    );
    let book = dir.path().join("book.xlsx");
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for r in 0..200u32 {
        sheet.write(r, 0, format!("value {r}")).expect("cell");
    }
    workbook.save(&book).expect("save");
    let bytes = std::fs::read(&book).expect("read");
    let cut = write(dir.path(), "cut.xlsx", &bytes[..bytes.len() / 2]);
    let err = unreadable(&cut);
    assert!(
        err.contains("the workbook is damaged or incomplete")
            && err.contains("copy or export it again"),
        "{err}"
    );
    let xls = write(
        dir.path(),
        "old.xls",
        "<html><table><tr><td>1</td></tr></table></html>",
    );
    assert!(unreadable(&xls).contains("HTML"), "{}", unreadable(&xls));
}

// ------------------------------------------------------- null values

/// "NULL" in a document column is no person: those rows are quarantined
/// naming the column, never keyed to one shared pseudonym; a null value
/// in a required field is missing, not an unknown code; one in an
/// optional field is no value.
#[test]
fn null_values_are_no_values_and_never_one_shared_person() {
    let dir = tempfile::tempdir().expect("dir");
    let file = write(
        dir.path(),
        "n.csv",
        format!(
            "{HEADER}01/02/2024;NULL;E;P1;GTM\n01/02/2024; null ;E;P1;GTM\n01/02/2024;N/A;E;P1;GTM\n01/02/2024;D1;E;S/D;GTM\n01/02/2024;D2;E;P1;s/d\n01/02/2024;D3;E;-;SLV\n01/02/2024;D4;E;P1;NA\n"
        ),
    );
    let (report, sink) = run(&file, &mapping("date_formats = [\"%d/%m/%Y\"]")).expect("ingests");
    assert_eq!(report.rows_read, 7);
    assert_eq!(report.stored + report.quarantined, 7);
    let q: Vec<_> = sink
        .quarantined
        .iter()
        .map(|q| (q.row, q.field.as_deref(), q.reason))
        .collect();
    assert_eq!(
        q,
        vec![
            (2, Some("person_key"), "missing_required"),
            (3, Some("person_key"), "missing_required"),
            (4, Some("person_key"), "missing_required"),
            (6, Some("citizenship"), "missing_required"),
        ],
        "{:?}",
        sink.quarantined
    );
    for q in &sink.quarantined[..3] {
        assert!(
            q.message.contains("identifier column 'doc'"),
            "{}",
            q.message
        );
    }
    assert!(
        sink.quarantined[3].message.contains("default"),
        "{}",
        sink.quarantined[3].message
    );
    // A null border post is no post; NA is Namibia.
    assert_eq!(
        column(&sink, "border_post"),
        vec![None, None, Some("P1".into())]
    );
    assert_eq!(
        column(&sink, "citizenship"),
        vec![Some("GTM".into()), Some("SLV".into()), Some("NAM".into())]
    );

    // Declared lists replace the default one: here "-" is a post's name.
    let m = Mapping::parse(
        &mapping_text("date_formats = [\"%d/%m/%Y\"]\nnull_values = [\"NULL\", \"N/A\"]").replace(
            "border_post = { column = \"puesto\" }",
            "border_post = { column = \"puesto\", null_values = [] }",
        ),
    )
    .expect("mapping");
    let (_, sink) = run(&file, &m).expect("ingests");
    // ("s/d" is now an unknown country.)
    assert_eq!(sink.quarantined.len(), 4, "{:?}", sink.quarantined);
    assert_eq!(sink.quarantined[3].reason, "unknown_country");
    assert_eq!(
        column(&sink, "border_post"),
        vec![Some("S/D".into()), Some("-".into()), Some("P1".into())]
    );
}

// ------------------------------------------------ records over lines

/// A record whose quoted value holds a line break is numbered by the line
/// it starts on; a quote never closed is reported where it opened, with
/// the lines it swallowed; and nothing is lost.
#[test]
fn a_record_is_numbered_by_its_first_line_and_a_runaway_quote_by_where_it_opened() {
    let dir = tempfile::tempdir().expect("dir");
    let file = write(
        dir.path(),
        "q.csv",
        format!(
            "{HEADER}01/02/2024;D1;E;P1;GTM\n01/02/2024;D2;E;\"Puesto\nNorte\";GTM\n01/02/2024;D3;E;P3;GTM\n01/02/2024;D4;E;\"P4;GTM\n01/02/2024;D5;E;P5;GTM\n01/02/2024;D6;E;P6;GTM\n"
        ),
    );
    let (report, sink) = run(&file, &mapping("date_formats = [\"%d/%m/%Y\"]")).expect("ingests");
    assert_eq!(report.stored, 3);
    assert_eq!(report.quarantined, 1);
    assert_eq!(
        column(&sink, "border_post"),
        vec![
            Some("P1".into()),
            Some("Puesto\nNorte".into()),
            Some("P3".into())
        ]
    );
    let rows: Vec<u64> = sink
        .batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name("source_row").expect("source_row");
            let c = arrow::compute::cast(c, &arrow::datatypes::DataType::UInt64).expect("cast");
            let c = c
                .as_any()
                .downcast_ref::<arrow::array::UInt64Array>()
                .expect("u64")
                .clone();
            (0..c.len()).map(move |i| c.value(i))
        })
        .collect();
    assert_eq!(rows, vec![2, 3, 5]);
    let q = &sink.quarantined[0];
    assert_eq!((q.row, q.reason), (6, "malformed_row"));
    assert!(q.message.contains("spans lines 6–8"), "{}", q.message);
    assert!(
        q.message.contains("a quote opened on line 6"),
        "{}",
        q.message
    );
}

/// Two-digit years with a stated pivot: `69` is 1969 when no year may be
/// after 2030, where chrono alone would read 2069 (a crossing in the
/// future, quarantined).
#[test]
fn two_digit_years_follow_the_stated_pivot() {
    let dir = tempfile::tempdir().expect("dir");
    let file = write(
        dir.path(),
        "y.csv",
        format!("{HEADER}01/02/69;D1;E;P;GTM\n01/02/24;D2;E;P;GTM\n"),
    );
    let (_, sink) = run(&file, &mapping("date_formats = [\"%d/%m/%y\"]")).expect("ingests");
    assert_eq!(column(&sink, "event_date"), vec![Some("2024-02-01".into())]);
    let (report, sink) = run(
        &file,
        &mapping("date_formats = [\"%d/%m/%y\"]\nyear_pivot = 2030"),
    )
    .expect("ingests");
    assert_eq!(report.quarantined, 0, "{:?}", sink.quarantined);
    assert_eq!(
        column(&sink, "event_date"),
        vec![Some("1969-02-01".into()), Some("2024-02-01".into())]
    );
}

/// A null value no export writes (64 bytes or more) is a mistake in the
/// mapping, named, not a list entry silently left out.
#[test]
fn a_null_value_too_long_to_be_one_is_refused() {
    let long = "x".repeat(64);
    let text = mapping_text(&format!("null_values = [\"NULL\", \"{long}\"]"));
    let e = Mapping::parse(&text).expect_err("refused").to_string();
    assert!(
        e.contains("reader.null_values") && e.contains("64 bytes"),
        "{e}"
    );
}
