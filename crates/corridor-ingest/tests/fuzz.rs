//! Fuzz-style property tests: every reader and the mapping parser, fed
//! arbitrary bytes, return rows or errors and never panic; intake of
//! arbitrary text still stores or quarantines every row it reads. The
//! readers and the mapping parser also take every seed of the corpus in
//! `fuzz/corpus/`, as it is and mutated.

use std::path::Path;

use corridor_ingest::mapping::ReaderOptions;
use corridor_ingest::read::{self, RowReader};
use corridor_ingest::{Mapping, MemorySink, Pseudonymiser, Submission, ingest};
use proptest::prelude::*;

#[path = "../../../fuzz/mutate.rs"]
mod mutate;

/// Reads everything a reader yields, touching every cell as intake does.
fn drain(mut reader: Box<dyn RowReader>) {
    let _ = reader.headers().len();
    while let Some(block) = reader.next_block(7) {
        let Ok(block) = block else { return };
        let mut cells = Vec::new();
        for i in 0..block.len() {
            let _ = block.row(i, &mut cells);
            for c in &cells {
                let _ = c.text();
            }
            let _ = block.content(i);
        }
    }
}

fn open_and_drain(path: &Path, opts: &ReaderOptions) {
    if let Ok(reader) = read::open(path, opts, &["a", "b.c"]) {
        drain(reader);
    }
}

/// Bytes that make CSV and JSON structure often: delimiters, quotes,
/// line ends, braces, a byte-order mark's bytes, bytes that are not
/// UTF-8, and anything.
fn text_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(b";,\t\"'\r\n{}[]:. a1\\".to_vec()),
            1 => prop::sample::select(vec![0u8, 0xEF, 0xBB, 0xBF, 0xFF, 0xFE, 0xE9, 0xC3, 0x80]),
            1 => any::<u8>(),
        ],
        0..max,
    )
}

const ENCODINGS: [Option<&str>; 7] = [
    None,
    Some("auto"),
    Some("utf-8"),
    Some("windows-1252"),
    Some("utf-16le"),
    Some("utf-16be"),
    Some("iso-8859-1"),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: mutate::cases(200), ..ProptestConfig::default() })]

    #[test]
    fn the_csv_reader_takes_any_bytes(
        bytes in text_bytes(3_000),
        encoding in prop::sample::select(ENCODINGS.to_vec()),
        delimiter in prop::sample::select(vec![None, Some(";"), Some(","), Some("\\t"), Some("\""), Some("\n")]),
        quote in prop::sample::select(vec![None, Some("\""), Some("'"), Some(";")]),
        header_row in 0u64..4,
    ) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("f.csv");
        std::fs::write(&path, &bytes).expect("write");
        let opts = ReaderOptions {
            encoding: encoding.map(str::to_string),
            delimiter: delimiter.map(str::to_string),
            quote: quote.map(str::to_string),
            header_row: Some(header_row),
            ..Default::default()
        };
        open_and_drain(&path, &opts);
    }

    #[test]
    fn the_json_readers_take_any_bytes(bytes in text_bytes(3_000)) {
        let dir = tempfile::tempdir().expect("dir");
        for name in ["f.json", "f.ndjson"] {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).expect("write");
            open_and_drain(&path, &ReaderOptions::default());
        }
    }

    /// JSON that is valid but of any shape: nesting, arrays, numbers,
    /// nulls, keys that repeat or contain dots.
    #[test]
    fn the_json_readers_take_any_json(
        value in prop::collection::vec(json(), 0..6),
    ) {
        let dir = tempfile::tempdir().expect("dir");
        let array = serde_json::Value::Array(value.clone()).to_string();
        let path = dir.path().join("f.json");
        std::fs::write(&path, array).expect("write");
        open_and_drain(&path, &ReaderOptions::default());
        let lines: Vec<String> = value.iter().map(|v| v.to_string()).collect();
        let path = dir.path().join("f.ndjson");
        std::fs::write(&path, lines.join("\n")).expect("write");
        open_and_drain(&path, &ReaderOptions::default());
    }

    #[test]
    fn the_excel_reader_takes_any_bytes(
        bytes in text_bytes(2_000),
        prefix in prop::sample::select(vec![&b""[..], b"PK\x03\x04", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"]),
        ext in prop::sample::select(vec!["xlsx", "xls", "ods", "xlsb"]),
    ) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(format!("f.{ext}"));
        std::fs::write(&path, [prefix, &bytes[..]].concat()).expect("write");
        open_and_drain(&path, &ReaderOptions::default());
    }

    /// A real workbook, cut short or with bytes changed.
    #[test]
    fn the_excel_reader_takes_a_damaged_workbook(
        cut in 0.0f64..1.0,
        flips in prop::collection::vec((0.0f64..1.0, any::<u8>()), 0..4),
    ) {
        let dir = tempfile::tempdir().expect("dir");
        let mut bytes = workbook().to_vec();
        for (at, b) in flips {
            let i = (at * bytes.len() as f64) as usize % bytes.len();
            bytes[i] = b;
        }
        bytes.truncate((cut * bytes.len() as f64) as usize);
        let path = dir.path().join("f.xlsx");
        std::fs::write(&path, &bytes).expect("write");
        open_and_drain(&path, &ReaderOptions::default());
    }

    #[test]
    fn the_mapping_parser_takes_any_text(text in any::<String>()) {
        if let Ok(m) = Mapping::parse(&text) {
            let _ = m.warnings();
        }
    }

    /// Mappings that parse, with any formats, recodes and column names,
    /// compiled against a header and run on any cells.
    #[test]
    fn mappings_with_any_formats_map_any_values(
        formats in prop::collection::vec("(%[a-zA-Z%.:+#0-9-]|[/ :.T-]|[0-9a-z]){0,8}", 1..4),
        recode in prop::collection::btree_map("[ a-zA-Z]{0,3}", "[a-z_]{0,8}", 0..4),
        cells in prop::collection::vec(text_cell(), 5),
    ) {
        let list = |v: &[String]| {
            v.iter().map(|f| toml_string(f)).collect::<Vec<_>>().join(", ")
        };
        let recode: Vec<String> = recode
            .iter()
            .map(|(k, v)| format!("{} = {}", toml_string(k), toml_string(v)))
            .collect();
        let text = format!(
            r#"
record_type = "border_events"
[reader]
date_formats = [{}]
time_formats = [{}]
[fields]
reporting_country = {{ constant = "GTM" }}
citizenship = {{ column = "e" }}
sex = {{ constant = "_U" }}
person_key = {{ pseudonymise = ["c"] }}
direction = {{ column = "b", recode = {{ {} }} }}
event_date = {{ column = "a" }}
event_time = {{ column = "a" }}
date_of_birth = {{ column = "d" }}
age = {{ age_at = "event_date" }}
"#,
            list(&formats),
            list(&formats),
            recode.join(", ")
        );
        if let Ok(mapping) = Mapping::parse(&text) {
            let _ = mapping.warnings();
            let dir = tempfile::tempdir().expect("dir");
            let path = dir.path().join("f.csv");
            let row = cells.join(";");
            std::fs::write(&path, format!("a;b;c;d;e\n{row}\n{row}\n")).expect("write");
            let (report, sink) = run(&mapping, &path).expect("a mapping that parses reads the file");
            prop_assert_eq!(report.rows_read, 2);
            prop_assert_eq!(report.stored + report.quarantined, 2);
            prop_assert_eq!(sink.quarantined.len() as u64, report.quarantined);
        }
    }

    /// Any text through a mapping whose date formats conflict: every row
    /// read is stored or quarantined, whatever the dates say.
    #[test]
    fn intake_of_any_text_loses_no_row(
        rows in prop::collection::vec((prop::collection::vec(intake_cell(), 5), prop::sample::select(vec!["\n", "\r\n", "\r", ";\n"])), 0..80),
        tail in text_bytes(300),
        encoding in prop::sample::select(ENCODINGS.to_vec()),
    ) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("f.csv");
        let mut body: Vec<u8> = b"a;b;c;d;e\n".to_vec();
        for (cells, end) in &rows {
            body.extend_from_slice(cells.join(";").as_bytes());
            body.extend_from_slice(end.as_bytes());
        }
        body.extend_from_slice(&tail);
        std::fs::write(&path, &body).expect("write");
        let reader = encoding.map_or(String::new(), |e| format!("encoding = \"{e}\""));
        let mapping = Mapping::parse(&format!(
            r#"
record_type = "border_events"
[reader]
delimiter = ";"
{reader}
date_formats = ["%m/%d/%Y", "%d/%m/%Y", "%Y-%m-%d"]
[fields]
reporting_country = {{ constant = "GTM" }}
citizenship = {{ constant = "GTM" }}
sex = {{ constant = "_U" }}
person_key = {{ pseudonymise = ["c"] }}
direction = {{ column = "b", recode = {{ "E" = "entry", "" = "exit" }} }}
event_date = {{ column = "a" }}
border_post = {{ column = "e" }}
date_of_birth = {{ column = "d" }}
age = {{ age_at = "event_date" }}
"#
        ))
        .expect("mapping");
        if let Ok((report, sink)) = run(&mapping, &path) {
            prop_assert_eq!(report.rows_read, report.stored + report.quarantined);
            prop_assert_eq!(sink.quarantined.len() as u64, report.quarantined);
            for q in &sink.quarantined {
                prop_assert!(!q.message.chars().any(char::is_control), "{:?}", q.message);
            }
        }
    }
}

/// The corpus's readable files (CSV, JSON, NDJSON, Excel, ODS), each
/// read with no options (the encoding detected, the delimiter sniffed) and
/// with a single-byte encoding forced.
const FILE_TARGETS: [&str; 3] = ["csv", "json", "excel"];

fn read_seed(name: &str, bytes: &[u8]) {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    open_and_drain(&path, &ReaderOptions::default());
    let forced = ReaderOptions {
        encoding: Some("windows-1252".into()),
        ..Default::default()
    };
    open_and_drain(&path, &forced);
}

fn parse_mapping(bytes: &[u8]) {
    if let Ok(m) = Mapping::parse(&String::from_utf8_lossy(bytes)) {
        let _ = m.warnings();
    }
}

/// Every seed is read whole: the corpus holds inputs that really parse,
/// so this also checks that the seeds still are what they claim to be.
#[test]
fn every_seed_of_the_corpus_is_read() {
    for target in FILE_TARGETS {
        for (name, bytes) in mutate::seeds(target) {
            if mutate::is_regression(&name) {
                read_seed(&name, &bytes);
                continue;
            }
            let dir = tempfile::tempdir().expect("dir");
            let path = dir.path().join(&name);
            std::fs::write(&path, &bytes).expect("write");
            let mut reader = read::open(&path, &ReaderOptions::default(), &[])
                .unwrap_or_else(|e| panic!("seed {target}/{name}: {e}"));
            assert!(
                !reader.headers().is_empty(),
                "seed {target}/{name}: no headers"
            );
            let mut rows = 0;
            while let Some(block) = reader.next_block(64) {
                rows += block
                    .unwrap_or_else(|e| panic!("seed {target}/{name}: {e}"))
                    .len();
            }
            assert!(rows > 0, "seed {target}/{name}: no rows");
        }
    }
    for (name, bytes) in mutate::seeds("mapping") {
        if mutate::is_regression(&name) {
            parse_mapping(&bytes);
            continue;
        }
        let text = String::from_utf8(bytes).expect("mapping seeds are UTF-8");
        Mapping::parse(&text).unwrap_or_else(|e| panic!("seed mapping/{name}: {e}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: mutate::cases(3000), ..ProptestConfig::default() })]

    #[test]
    fn mutated_seeds_are_read_or_refused(
        target in prop::sample::select(FILE_TARGETS.to_vec()),
        pick in any::<prop::sample::Index>(),
        mutations in mutate::mutations(),
    ) {
        let seeds = mutate::seeds(target);
        let (name, seed) = &seeds[pick.index(seeds.len())];
        read_seed(name, &mutate::mutate(seed, &mutations));
    }

    #[test]
    fn mutated_mappings_are_parsed_or_refused(
        pick in any::<prop::sample::Index>(),
        mutations in mutate::mutations(),
    ) {
        let seeds = mutate::seeds("mapping");
        let (_, seed) = &seeds[pick.index(seeds.len())];
        parse_mapping(&mutate::mutate(seed, &mutations));
    }
}

fn run(
    mapping: &Mapping,
    path: &Path,
) -> Result<(corridor_ingest::Report, MemorySink), corridor_ingest::IngestError> {
    let mut sink = MemorySink::default();
    let sub = Submission {
        scratch: None,
        file: path,
        source_id: "fuzz",
        submission_id: "s",
    };
    let report = ingest(
        mapping,
        &sub,
        &Pseudonymiser::new(vec![5; 32]),
        &mut sink,
        &mut |_| {},
    )?;
    Ok((report, sink))
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A cell of the intake test: mostly values a mapping reads (dates two
/// formats read alike or not, codes, identifiers), sometimes anything.
fn intake_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "05/04/2023", "25/04/2023", "04/25/2023", "2023-04-05", "01/01/2023", "E", "S", "D1", "",
            "13/13/2023", "P\u{1b}[2J",
        ])
        .prop_map(str::to_string),
        1 => "[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,5}",
        1 => "[^;\r\n]{0,20}",
    ]
}

/// A cell of a `;` CSV: anything but the delimiter, quotes and line ends.
fn text_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9/: T.-]{0,12}",
        "[^;\"\r\n]{0,12}",
        Just("31/12/1899".to_string()),
        Just("99999-01-01".to_string()),
    ]
}

fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        "[a.b \u{1b}é]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a.bc]{0,3}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A small real workbook, made once.
fn workbook() -> &'static [u8] {
    static BOOK: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BOOK.get_or_init(|| {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write(0, 0, "a").expect("cell");
        sheet.write(0, 1, "b.c").expect("cell");
        for r in 1..30u32 {
            sheet.write(r, 0, format!("v{r}")).expect("cell");
            sheet.write(r, 1, f64::from(r) * 1.5).expect("cell");
        }
        book.save_to_buffer().expect("workbook")
    })
}
