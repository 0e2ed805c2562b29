//! Streaming readers for every format agencies export: CSV/TSV in any
//! encoding and delimiter, Excel (xlsx, xls, ods), JSON arrays, NDJSON and
//! Parquet. Each yields rows of raw values with their original row number;
//! a row that cannot be split into fields is still yielded, with its
//! problem, so it can be quarantined. Only an unreadable file is an error.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use corridor_model::{for_display, list_for_display};

use crate::IngestError;
use crate::mapping::ReaderOptions;

mod excel;
mod json;
mod parquet_file;
mod text;

pub use excel::{ExcelRows, sheet_names};
pub use json::{JsonArrayRows, NdjsonRows};
pub use parquet_file::ParquetRows;
pub use text::{
    CsvRows, FileDigest, TextEncoding, TextRows, detect_encoding, hashes_while_reading,
    sniff_delimiter,
};

/// A value as the file holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Empty,
    Text(String),
    Number(f64),
    DateTime(NaiveDateTime),
    Bool(bool),
}

impl RawValue {
    /// The value as text, as a person reading the file would see it.
    pub fn text(&self) -> Cow<'_, str> {
        self.cell().text()
    }

    pub fn is_empty(&self) -> bool {
        self.cell().is_empty()
    }

    pub fn cell(&self) -> Cell<'_> {
        match self {
            RawValue::Empty => Cell::Empty,
            RawValue::Text(s) => Cell::Text(s),
            RawValue::Number(n) => Cell::Number(*n),
            RawValue::DateTime(d) => Cell::DateTime(*d),
            RawValue::Bool(b) => Cell::Bool(*b),
        }
    }
}

/// A value as the file holds it, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Empty,
    Text(&'a str),
    Number(f64),
    DateTime(NaiveDateTime),
    Bool(bool),
}

impl<'a> Cell<'a> {
    /// The value as text, as a person reading the file would see it.
    pub fn text(&self) -> Cow<'a, str> {
        match *self {
            Cell::Empty => Cow::Borrowed(""),
            Cell::Text(s) => Cow::Borrowed(s),
            Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => {
                Cow::Owned(format!("{}", n as i64))
            }
            Cell::Number(n) => Cow::Owned(n.to_string()),
            Cell::DateTime(d) => Cow::Owned(d.format("%Y-%m-%dT%H:%M:%S").to_string()),
            Cell::Bool(b) => Cow::Owned(b.to_string()),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    pub fn to_raw(&self) -> RawValue {
        match *self {
            Cell::Empty => RawValue::Empty,
            Cell::Text(s) => RawValue::Text(s.to_string()),
            Cell::Number(n) => RawValue::Number(n),
            Cell::DateTime(d) => RawValue::DateTime(d),
            Cell::Bool(b) => RawValue::Bool(b),
        }
    }
}

/// Rows read together, handed to the mapping as one unit of work.
#[derive(Debug)]
pub enum RowBlock {
    Rows(Vec<RawRow>),
    Text(TextRows),
}

impl RowBlock {
    pub fn len(&self) -> usize {
        match self {
            RowBlock::Rows(r) => r.len(),
            RowBlock::Text(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A digest of row `i`'s cells as read: the same row of the same file
    /// always gives the same digest, and rows that differ almost never do.
    /// Record keys derive from it.
    pub fn content(&self, i: usize) -> u64 {
        match self {
            RowBlock::Rows(rows) => {
                use std::hash::Hasher;
                let mut h = twox_hash::XxHash3_64::default();
                for v in &rows[i].values {
                    match v {
                        RawValue::Empty => h.write_u8(0),
                        RawValue::Text(s) => {
                            h.write_u8(1);
                            h.write_usize(s.len());
                            h.write(s.as_bytes());
                        }
                        RawValue::Number(n) => {
                            h.write_u8(2);
                            h.write_u64(n.to_bits());
                        }
                        RawValue::DateTime(d) => {
                            h.write_u8(3);
                            h.write_i64(d.and_utc().timestamp());
                            h.write_u32(d.and_utc().timestamp_subsec_nanos());
                        }
                        RawValue::Bool(b) => {
                            h.write_u8(4);
                            h.write_u8(u8::from(*b));
                        }
                    }
                }
                h.finish()
            }
            RowBlock::Text(t) => t.content(i),
        }
    }

    /// Row `i`'s cells (into `cells`, which is cleared first), its number
    /// and its problem, if any.
    /// The lines row `i` spans in the file: more than one for a quoted
    /// value with line breaks in a text file; one for any other row.
    pub fn lines(&self, i: usize) -> u32 {
        match self {
            RowBlock::Rows(_) => 1,
            RowBlock::Text(t) => t.lines(i),
        }
    }

    pub fn row<'a>(&'a self, i: usize, cells: &mut Vec<Cell<'a>>) -> (u64, Option<RowProblem>) {
        cells.clear();
        match self {
            RowBlock::Rows(rows) => {
                let row = &rows[i];
                cells.extend(row.values.iter().map(RawValue::cell));
                (row.number, row.problem.clone())
            }
            RowBlock::Text(t) => t.row(i, cells),
        }
    }
}

/// Why a row could not be split into its fields.
#[derive(Debug, Clone, PartialEq)]
pub enum RowProblem {
    /// A record whose fields are not the header's; `lines` is how many
    /// lines it spans from the one it starts on.
    FieldCount {
        found: usize,
        expected: usize,
        lines: u32,
    },
    InvalidJson(String),
}

/// One row of a source file.
#[derive(Debug, Clone)]
pub struct RawRow {
    /// 1-based physical line (text files), sheet row (Excel) or element
    /// number (JSON arrays, Parquet), as a person would find it.
    pub number: u64,
    pub values: Vec<RawValue>,
    pub problem: Option<RowProblem>,
}

/// A source of rows. Readers run on their own thread while rows are mapped.
pub trait RowReader: Send {
    /// Column names, in file order (dotted paths for nested JSON).
    fn headers(&self) -> &[String];
    /// The next row; `None` at the end. An `Err` is a file that cannot be
    /// read any further, never a bad row.
    fn next_row(&mut self) -> Option<Result<RawRow, IngestError>>;
    /// Up to `max_rows` next rows; `None` at the end.
    fn next_block(&mut self, max_rows: usize) -> Option<Result<RowBlock, IngestError>> {
        let mut rows = Vec::new();
        while rows.len() < max_rows {
            match self.next_row() {
                Some(Ok(row)) => rows.push(row),
                Some(Err(e)) => return Some(Err(e)),
                None => break,
            }
        }
        (!rows.is_empty()).then_some(Ok(RowBlock::Rows(rows)))
    }
    /// What the reader worked out on its own (encoding, delimiter…), for
    /// reports.
    fn detected(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// The file's SHA-256 as the reader takes it, for readers that read the
    /// whole file from start to end.
    fn file_digest(&self) -> Option<FileDigest> {
        None
    }
}

/// The file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Excel,
    Json,
    Ndjson,
    Parquet,
}

pub fn format_of(path: &Path, opts: &ReaderOptions) -> Result<Format, IngestError> {
    let name = opts
        .format
        .clone()
        .or_else(|| {
            path.extension()
                .and_then(|e| e.to_str())
                .map(str::to_lowercase)
        })
        .unwrap_or_default();
    Ok(match name.as_str() {
        "csv" | "tsv" | "txt" | "tab" => Format::Csv,
        "excel" | "xlsx" | "xlsm" | "xls" | "xlsb" | "ods" => Format::Excel,
        "json" => Format::Json,
        "ndjson" | "jsonl" => Format::Ndjson,
        "parquet" | "pq" => Format::Parquet,
        other => {
            return Err(IngestError::Unreadable {
                path: path.to_path_buf(),
                message: format!(
                    "cannot tell the format of '{}' (extension '{other}'): set reader.format to csv, excel, json, ndjson or parquet",
                    path.display()
                ),
            });
        }
    })
}

/// Opens a file for reading. `wanted` are the columns a mapping needs (JSON
/// readers use them as headers even if the first objects lack them).
pub fn open(
    path: &Path,
    opts: &ReaderOptions,
    wanted: &[&str],
) -> Result<Box<dyn RowReader>, IngestError> {
    match format_of(path, opts)? {
        Format::Csv => Ok(Box::new(CsvRows::open(path, opts)?)),
        Format::Excel => Ok(Box::new(ExcelRows::open(path, opts)?)),
        Format::Ndjson => Ok(Box::new(NdjsonRows::open(path, wanted)?)),
        Format::Json => Ok(Box::new(JsonArrayRows::open(path, wanted)?)),
        Format::Parquet => Ok(Box::new(ParquetRows::open(path)?)),
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> IngestError + '_ {
    move |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    }
}

// ---------------------------------------------------------------- encodings

#[cfg(test)]
mod tests {

    /// An .xlsx sheet streams row by row: a title above the header row,
    /// a blank row and sparse cells in the data, a cell beyond the header
    /// dropped, row numbers as Excel shows them.
    #[test]
    fn xlsx_rows_stream_with_their_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("book.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet().set_name("Entradas").unwrap();
        sheet.write(0, 0, "Registro de entradas").unwrap();
        sheet.write(2, 0, "Nombre").unwrap();
        sheet.write(2, 1, "Edad").unwrap();
        sheet.write(3, 0, "Ana").unwrap();
        sheet.write(3, 1, 34).unwrap();
        sheet.write(5, 1, 7).unwrap();
        sheet.write(5, 4, "beyond").unwrap();
        book.save(&path).unwrap();
        let opts = ReaderOptions {
            header_row: Some(3),
            ..Default::default()
        };
        let mut rows = ExcelRows::open(&path, &opts).unwrap();
        assert_eq!(rows.headers(), ["Nombre", "Edad"]);
        let a = rows.next_row().unwrap().unwrap();
        assert_eq!(a.number, 4);
        assert_eq!(
            a.values,
            vec![RawValue::Text("Ana".into()), RawValue::Number(34.0)]
        );
        let b = rows.next_row().unwrap().unwrap();
        assert_eq!(b.number, 6);
        assert_eq!(b.values, vec![RawValue::Empty, RawValue::Number(7.0)]);
        assert!(rows.next_row().is_none());
        assert_eq!(
            rows.detected(),
            vec![("sheet".to_string(), "Entradas".to_string())]
        );
        let missing = ReaderOptions {
            sheet: Some("Salidas".into()),
            ..Default::default()
        };
        let err = ExcelRows::open(&path, &missing).err().unwrap().to_string();
        assert!(
            err.contains("no sheet 'Salidas'") && err.contains("Entradas"),
            "{err}"
        );
        let too_low = ReaderOptions {
            header_row: Some(40),
            ..Default::default()
        };
        let err = ExcelRows::open(&path, &too_low).err().unwrap().to_string();
        assert!(err.contains("no header at row 40"), "{err}");
    }
    use super::*;
    use proptest::prelude::*;

    /// Every row of a CSV file as read: number, problem, cells and content
    /// digest.
    fn all_rows(
        path: &Path,
        plain_lines: bool,
    ) -> Vec<(u64, Option<RowProblem>, Vec<String>, u64)> {
        rows_of_blocks(path, plain_lines, false)
    }

    /// Every row of `path` read 7 at a time; with `keep_blocks`, no block
    /// is dropped (so none lends its buffers to the next) until the end.
    fn rows_of_blocks(
        path: &Path,
        plain_lines: bool,
        keep_blocks: bool,
    ) -> Vec<(u64, Option<RowProblem>, Vec<String>, u64)> {
        let opts = ReaderOptions {
            delimiter: Some(";".into()),
            encoding: Some("utf-8".into()),
            ..Default::default()
        };
        let mut r = CsvRows::open(path, &opts).expect("open");
        r.plain_lines = plain_lines;
        let mut all = Vec::new();
        let mut kept = Vec::new();
        while let Some(block) = r.next_block(7) {
            let block = block.expect("block");
            let mut cells = Vec::new();
            for i in 0..block.len() {
                let (number, problem) = block.row(i, &mut cells);
                let texts = cells.iter().map(|c| c.text().into_owned()).collect();
                all.push((number, problem, texts, block.content(i)));
            }
            if keep_blocks {
                kept.push(block);
            }
        }
        all
    }

    proptest! {
        /// Lines split without `csv_core` give exactly the rows, numbers,
        /// problems and record-key digests that `csv_core` gives, whatever
        /// the mix of quotes, line ends (LF, CRLF, a lone CR) and blank
        /// lines, and across the read buffer's edge.
        #[test]
        fn plain_lines_read_as_csv_core_reads_them(
            lines in prop::collection::vec(
                (prop::collection::vec("[a ;\"é\r\n]{0,6}", 1..4), 0usize..3),
                0..60,
            ),
            pad in 0usize..3,
        ) {
            let dir = tempfile::tempdir().expect("dir");
            let mut text = String::from("a;b;c\n");
            // Long rows first, so that later ones straddle the 1 MiB buffer.
            for i in 0..pad * 600 {
                text.push_str(&format!("{i};{};z\n", "y".repeat(900)));
            }
            for (fields, end) in &lines {
                text.push_str(&fields.join(";"));
                text.push_str(["\n", "\r\n", "\r"][*end]);
            }
            let path = dir.path().join("t.csv");
            std::fs::write(&path, &text).expect("write");
            prop_assert_eq!(all_rows(&path, true), all_rows(&path, false));
        }

        /// Blocks filled in the buffers of blocks already dropped (which
        /// still hold those blocks' text) read as blocks in fresh memory:
        /// long rows first, so that short ones land on stale bytes.
        #[test]
        fn reused_block_buffers_read_as_fresh_ones(
            lines in prop::collection::vec(prop::collection::vec("[a ;\"é\r\n]{0,6}", 1..4), 0..60),
            plain_lines: bool,
        ) {
            let dir = tempfile::tempdir().expect("dir");
            let mut text = String::from("a;b;c\n");
            for i in 0..30 {
                text.push_str(&format!("{i};{};\"z\"\"\n\"\n", "y".repeat(200)));
            }
            for fields in &lines {
                text.push_str(&fields.join(";"));
                text.push('\n');
            }
            let path = dir.path().join("t.csv");
            std::fs::write(&path, &text).expect("write");
            prop_assert_eq!(
                rows_of_blocks(&path, plain_lines, false),
                rows_of_blocks(&path, plain_lines, true)
            );
        }
    }

    /// A row's content digest (what its record key derives from) tells
    /// apart rows whose texts differ only in where a field ends, or in a
    /// value's type, and is the same for the same row.
    #[test]
    fn content_digests_tell_fields_apart() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "a;b\nAB;C\nA;BC\nAB;C\n").expect("write");
        let rows = all_rows(&path, true);
        let digests: Vec<u64> = rows.iter().map(|r| r.3).collect();
        assert_ne!(digests[0], digests[1], "AB;C is not A;BC");
        assert_eq!(digests[0], digests[2], "the same text, the same digest");
        let block = |values: Vec<RawValue>| {
            RowBlock::Rows(vec![RawRow {
                number: 2,
                values,
                problem: None,
            }])
        };
        let text = block(vec![RawValue::Text("1".into()), RawValue::Empty]);
        let number = block(vec![RawValue::Number(1.0), RawValue::Empty]);
        let shifted = block(vec![RawValue::Empty, RawValue::Text("1".into())]);
        assert_ne!(text.content(0), number.content(0));
        assert_ne!(text.content(0), shifted.content(0));
        assert_eq!(
            text.content(0),
            block(vec![RawValue::Text("1".into()), RawValue::Empty]).content(0)
        );
    }

    #[test]
    fn csv_rows_carry_their_line_numbers() {
        let dir = tempfile::tempdir().expect("dir");
        for (name, text) in [
            ("lf.csv", "h1;h2\na;b\n\nc;d\n"),
            ("crlf.csv", "h1;h2\r\na;b\r\n\r\nc;d\r\n"),
            ("cut.csv", "h1;h2\r\na;b\r\n\r\nc;d"),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write");
            let mut r = CsvRows::open(&p, &ReaderOptions::default()).expect("open");
            let mut lines = Vec::new();
            while let Some(row) = r.next_row() {
                lines.push(row.expect("row").number);
            }
            assert_eq!(lines, vec![2, 4], "{name}");
        }
    }

    /// Quoted fields may hold delimiters, quotes and line ends; a row's
    /// number is the line it ends on, also for rows that cross the reader's
    /// buffer; rows of the wrong width are yielded with their problem; a
    /// byte that is not UTF-8 far into the file names its line.
    #[test]
    fn csv_blocks_keep_quotes_numbers_and_problems() {
        let dir = tempfile::tempdir().expect("dir");
        let mut text =
            String::from("id;note\r\n1;\"a;b\"\r\n2;\"two\nlines \"\"quoted\"\"\"\r\n3\r\n");
        // Enough rows to cross the 1 MiB read buffer several times.
        let long = "x".repeat(1000);
        for i in 0..3000 {
            text.push_str(&format!("{i};{long}\n"));
        }
        let p = dir.path().join("q.csv");
        std::fs::write(&p, &text).expect("write");
        let opts = ReaderOptions {
            delimiter: Some(";".into()),
            ..Default::default()
        };
        let mut r = CsvRows::open(&p, &opts).expect("open");
        let a = r.next_row().unwrap().unwrap();
        assert_eq!(
            (a.number, a.values[1].text().into_owned()),
            (2, "a;b".to_string())
        );
        let b = r.next_row().unwrap().unwrap();
        assert_eq!(b.number, 3, "the record starts on line 3 (and ends on 4)");
        assert_eq!(b.values[1].text(), "two\nlines \"quoted\"");
        let c = r.next_row().unwrap().unwrap();
        assert_eq!(
            c.problem,
            Some(RowProblem::FieldCount {
                found: 1,
                expected: 2,
                lines: 1
            })
        );
        let mut rows = 3;
        let mut last = 0;
        while let Some(block) = r.next_block(1000) {
            let block = block.expect("block");
            let mut cells = Vec::new();
            for i in 0..block.len() {
                let (number, problem) = block.row(i, &mut cells);
                assert!(problem.is_none());
                assert_eq!(cells[1], Cell::Text(&long));
                assert_eq!(number, if last == 0 { 6 } else { last + 1 });
                last = number;
                rows += 1;
            }
        }
        assert_eq!((rows, last), (3003, 3005));

        let mut bad = text.clone().into_bytes();
        bad.extend_from_slice(b"9;caf\xe9\n");
        let p = dir.path().join("bad.csv");
        std::fs::write(&p, &bad).expect("write");
        let opts = ReaderOptions {
            encoding: Some("utf-8".into()),
            delimiter: Some(";".into()),
            ..Default::default()
        };
        let mut r = CsvRows::open(&p, &opts).expect("the start is UTF-8");
        let err = loop {
            match r.next_block(1000) {
                Some(Ok(_)) => continue,
                Some(Err(e)) => break e.to_string(),
                None => panic!("the bad byte was not seen"),
            }
        };
        assert!(
            err.contains("line 3006") && err.contains("reader.encoding"),
            "{err}"
        );
    }

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(sniff_delimiter("a;b;c\n1;2;3\n4;5;6\n"), b';');
        assert_eq!(sniff_delimiter("a,b\n\"x;y\",2\n"), b',');
        assert_eq!(sniff_delimiter("a\tb\tc\n1\t2\t3\n"), b'\t');
        assert_eq!(sniff_delimiter("a|b\n1|2\n"), b'|');
        // A quoted value over two lines is one record.
        assert_eq!(sniff_delimiter("a;b;c\n1;\"x\ny\";3\n4;5;6\n7;8;9\n"), b';');
    }

    #[test]
    fn detects_encodings() {
        let p = Path::new("x.csv");
        let cp1252 = b"Fecha;N\xfamero\n01/02/2023;1\n";
        assert_eq!(
            detect_encoding(p, None, cp1252).expect("auto").encoding,
            encoding_rs::WINDOWS_1252
        );
        assert!(
            detect_encoding(p, Some("utf-8"), cp1252).is_err(),
            "declared UTF-8 but is not"
        );
        let utf8 = "Fecha;Número\n".as_bytes();
        assert_eq!(
            detect_encoding(p, None, utf8).expect("auto").encoding,
            encoding_rs::UTF_8
        );
        let err =
            detect_encoding(p, Some("windows-1252"), utf8).expect_err("declared 1252 but UTF-8");
        assert!(err.to_string().contains("is UTF-8"), "{err}");
        let utf16 = [0xFF, 0xFE, b'a', 0, b';', 0];
        assert_eq!(
            detect_encoding(p, None, &utf16).expect("bom").encoding,
            encoding_rs::UTF_16LE
        );
        assert!(detect_encoding(p, Some("klingon"), utf8).is_err());
    }

    /// A text reader's SHA-256 is the file's, whatever it decodes (the
    /// BOM and the bytes before decoding count), and is set only once the
    /// whole file has been read.
    #[test]
    fn text_readers_hash_the_file_as_it_is_on_disk() {
        use sha2::Digest;
        let dir = tempfile::tempdir().expect("dir");
        let mut long = String::from("a;b\n");
        // Longer than the reader's buffer, so the end is not read at once.
        for i in 0..300_000 {
            long.push_str(&format!("{i};x\n"));
        }
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("a;b\n1;\u{e9}\n".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let files: [(&str, Vec<u8>); 5] = [
            ("plain.csv", long.into_bytes()),
            ("bom.csv", b"\xEF\xBB\xBFa;b\n1;2\n".to_vec()),
            ("cp1252.csv", b"a;b\n1;N\xfamero\n".to_vec()),
            ("utf16.csv", utf16),
            ("rows.ndjson", b"{\"a\": 1}\n{\"a\": 2}\n".to_vec()),
        ];
        for (name, bytes) in files {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).expect("write");
            let opts = ReaderOptions::default();
            assert!(hashes_while_reading(&path, &opts), "{name}");
            let mut reader = open(&path, &opts, &["a", "b"]).expect(name);
            let digest = reader.file_digest().expect("a text reader hashes");
            let first = reader.next_block(100).expect("rows").expect("block");
            assert_eq!(
                digest.get().is_some(),
                first.len() < 100,
                "{name}: set only at the end"
            );
            while reader.next_block(100).is_some() {}
            let expected: [u8; 32] = sha2::Sha256::digest(&bytes).into();
            assert_eq!(digest.get(), Some(&expected), "{name}");
        }
    }
}
