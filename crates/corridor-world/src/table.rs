//! Tables in the shapes agencies really export: CSV in any encoding and
//! delimiter, NDJSON with nested objects, Excel workbooks.
//!
//! A row is a list of [`Cell`]s; a sink turns it into bytes. Faults are
//! applied to cells before a sink sees them, so every format gets the same
//! faults in its own dress.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::calendar::{Day, MINUTES_PER_DAY, date_of};

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Date(Day),
    /// Minutes since 1970.
    DateTime(i64),
    Null,
}

/// How a text sink writes dates.
#[derive(Debug, Clone, Copy)]
pub struct DateStyle {
    pub date: &'static str,
    pub datetime: &'static str,
}

pub const ISO: DateStyle = DateStyle {
    date: "%Y-%m-%d",
    datetime: "%Y-%m-%dT%H:%M:%S",
};
pub const MDY: DateStyle = DateStyle {
    date: "%m/%d/%Y",
    datetime: "%m/%d/%Y %H:%M",
};
pub const DMY: DateStyle = DateStyle {
    date: "%d/%m/%Y",
    datetime: "%d/%m/%Y %H:%M",
};

/// Formats a day; the formats exports use are written directly, others go
/// through chrono (much slower, and the generator writes millions of dates).
pub fn format_date(day: Day, fmt: &str) -> String {
    use chrono::Datelike;
    let d = date_of(day);
    let (y, m, dd) = (d.year(), d.month(), d.day());
    match fmt {
        "%Y-%m-%d" => format!("{y:04}-{m:02}-{dd:02}"),
        "%d/%m/%Y" => format!("{dd:02}/{m:02}/{y:04}"),
        "%m/%d/%Y" => format!("{m:02}/{dd:02}/{y:04}"),
        _ => d.format(fmt).to_string(),
    }
}

pub fn format_datetime(t: i64, fmt: &str) -> String {
    let day = t.div_euclid(MINUTES_PER_DAY) as Day;
    let minute = t.rem_euclid(MINUTES_PER_DAY) as u32;
    let (h, mi) = (minute / 60, minute % 60);
    match fmt {
        "%Y-%m-%dT%H:%M:%S" => format!("{}T{h:02}:{mi:02}:00", format_date(day, "%Y-%m-%d")),
        "%d/%m/%Y %H:%M" => format!("{} {h:02}:{mi:02}", format_date(day, "%d/%m/%Y")),
        "%m/%d/%Y %H:%M" => format!("{} {h:02}:{mi:02}", format_date(day, "%m/%d/%Y")),
        "%Y-%m-%d %H:%M" => format!("{} {h:02}:{mi:02}", format_date(day, "%Y-%m-%d")),
        "%H:%M" => format!("{h:02}:{mi:02}"),
        _ => {
            let time = chrono::NaiveTime::from_hms_opt(h, mi, 0).unwrap_or_default();
            date_of(day).and_time(time).format(fmt).to_string()
        }
    }
}

/// Where a sink's rows go.
pub trait Sink: Send {
    /// Writes one row. `unquoted` names a column whose text is written raw,
    /// as a broken exporter would (an unquoted delimiter or quote).
    /// Returns the 1-based physical row (line, or sheet row) it landed on.
    fn write_row(&mut self, cells: &[Cell], unquoted: Option<usize>) -> io::Result<u64>;
    /// Finishes the file; with `truncate_last`, the last row is cut off
    /// mid-way, as an interrupted export leaves it.
    fn finish(self: Box<Self>, truncate_last: bool) -> io::Result<()>;
    /// The date style, for faults that write a date as text.
    fn date_style(&self) -> DateStyle;
    /// The part of the file the last row went to (a sheet name), if any.
    fn part(&self) -> String {
        String::new()
    }
}

/// A delimited text file in any encoding.
pub struct CsvSink {
    out: BufWriter<File>,
    encoding: &'static encoding_rs::Encoding,
    style: DateStyle,
    line: CsvLine,
    pending: Option<Vec<u8>>,
    rows: u64,
}

impl CsvSink {
    pub fn create(
        path: &Path,
        headers: &[&str],
        delimiter: u8,
        encoding: &'static encoding_rs::Encoding,
        style: DateStyle,
    ) -> io::Result<CsvSink> {
        let mut sink = CsvSink {
            out: BufWriter::with_capacity(1 << 20, File::create(path)?),
            encoding,
            style,
            line: CsvLine::new(delimiter),
            pending: None,
            rows: 0,
        };
        let cells: Vec<Cell> = headers.iter().map(|h| Cell::Text(h.to_string())).collect();
        sink.write_row(&cells, None)?;
        Ok(sink)
    }
}

/// One CSV line built field by field with `csv-core`, so that a field is
/// quoted exactly when the csv crate quotes it (a delimiter, a quote, `\r`
/// or `\n` in it) and read back the same by every CSV reader.
pub(crate) struct CsvLine {
    writer: csv_core::Writer,
    bytes: Vec<u8>,
    fields: usize,
}

impl CsvLine {
    pub(crate) fn new(delimiter: u8) -> CsvLine {
        CsvLine {
            writer: csv_core::WriterBuilder::new()
                .delimiter(delimiter)
                .terminator(csv_core::Terminator::CRLF)
                .build(),
            bytes: Vec::with_capacity(512),
            fields: 0,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.fields = 0;
    }

    /// Runs one csv-core step, growing the buffer until it fits.
    fn step(&mut self, mut f: impl FnMut(&mut csv_core::Writer, &mut [u8]) -> (bool, usize)) {
        loop {
            let at = self.bytes.len();
            self.bytes.resize(at + 64, 0);
            let (done, n) = f(&mut self.writer, &mut self.bytes[at..]);
            self.bytes.truncate(at + n);
            if done {
                return;
            }
        }
    }

    fn separate(&mut self) {
        if self.fields > 0 {
            self.step(|w, out| {
                let (r, n) = w.delimiter(out);
                (r == csv_core::WriteResult::InputEmpty, n)
            });
        }
        self.fields += 1;
    }

    pub(crate) fn field(&mut self, s: &str) {
        self.separate();
        let mut input = s.as_bytes();
        self.step(|w, out| {
            let (r, nin, nout) = w.field(input, out);
            input = &input[nin..];
            (r == csv_core::WriteResult::InputEmpty, nout)
        });
    }

    /// A field written as it is, never quoted: the generator's fault of an
    /// export that forgot to quote a value holding the delimiter.
    pub(crate) fn unquoted(&mut self, s: &str) {
        self.separate();
        self.bytes.extend_from_slice(s.as_bytes());
    }

    /// Ends the line with `\r\n` and returns it.
    pub(crate) fn end(&mut self) -> &str {
        self.step(|w, out| {
            let (r, n) = w.terminator(out);
            (r == csv_core::WriteResult::InputEmpty, n)
        });
        // Only UTF-8 fields and ASCII quotes and delimiters went in.
        std::str::from_utf8(&self.bytes).unwrap_or_default()
    }
}

/// One field of a comma-separated line, quoted as the csv crate quotes it.
/// An empty field stays empty: csv-core quotes it only when it is a
/// record's one field, which a field of a longer line never is.
pub(crate) fn csv_field(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    thread_local! {
        static LINE: std::cell::RefCell<CsvLine> = std::cell::RefCell::new(CsvLine::new(b','));
    }
    LINE.with_borrow_mut(|line| {
        line.clear();
        line.field(s);
        let l = line.end();
        l.strip_suffix("\r\n").unwrap_or(l).to_string()
    })
}

impl Sink for CsvSink {
    fn write_row(&mut self, cells: &[Cell], unquoted: Option<usize>) -> io::Result<u64> {
        use std::fmt::Write as _;
        self.line.clear();
        let mut scratch = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let text: &str = match cell {
                Cell::Text(s) => s,
                Cell::Int(n) => {
                    scratch.clear();
                    let _ = write!(scratch, "{n}");
                    &scratch
                }
                Cell::Date(day) => {
                    scratch = format_date(*day, self.style.date);
                    &scratch
                }
                Cell::DateTime(t) => {
                    scratch = format_datetime(*t, self.style.datetime);
                    &scratch
                }
                Cell::Null => "",
            };
            if unquoted == Some(i) {
                self.line.unquoted(text);
            } else {
                self.line.field(text);
            }
        }
        let (bytes, _, _) = self.encoding.encode(self.line.end());
        if let Some(prev) = self.pending.replace(bytes.into_owned()) {
            self.out.write_all(&prev)?;
        }
        self.rows += 1;
        Ok(self.rows)
    }

    fn finish(mut self: Box<Self>, truncate_last: bool) -> io::Result<()> {
        if let Some(last) = self.pending.take() {
            if truncate_last {
                self.out.write_all(&last[..last.len() * 3 / 5])?;
            } else {
                self.out.write_all(&last)?;
            }
        }
        self.out.flush()
    }

    fn date_style(&self) -> DateStyle {
        self.style
    }
}

/// Newline-delimited JSON. Column names with dots (`traveller.name`) become
/// nested objects; columns of one object must be adjacent.
pub struct NdjsonSink {
    out: BufWriter<File>,
    columns: Vec<Vec<String>>,
    line: String,
    pending: Option<String>,
    rows: u64,
}

impl NdjsonSink {
    pub fn create(path: &Path, columns: &[&str]) -> io::Result<NdjsonSink> {
        Ok(NdjsonSink {
            out: BufWriter::with_capacity(1 << 20, File::create(path)?),
            columns: columns
                .iter()
                .map(|c| c.split('.').map(str::to_string).collect())
                .collect(),
            line: String::with_capacity(512),
            pending: None,
            rows: 0,
        })
    }
}

fn json_string(out: &mut String, s: &str) {
    // serde_json escapes exactly as JSON requires.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

impl Sink for NdjsonSink {
    fn write_row(&mut self, cells: &[Cell], unquoted: Option<usize>) -> io::Result<u64> {
        use std::fmt::Write as _;
        self.line.clear();
        self.line.push('{');
        let mut open: Vec<&str> = Vec::new();
        let mut first = true;
        for (i, (path, cell)) in self.columns.iter().zip(cells).enumerate() {
            let parents = &path[..path.len() - 1];
            // Close objects this column is not inside, open the ones it is.
            let common = open
                .iter()
                .zip(parents)
                .take_while(|(a, b)| **a == b.as_str())
                .count();
            while open.len() > common {
                open.pop();
                self.line.push('}');
                first = false;
            }
            for p in &parents[common..] {
                if !first {
                    self.line.push(',');
                }
                json_string(&mut self.line, p);
                self.line.push_str(":{");
                open.push(p.as_str());
                first = true;
            }
            if !first {
                self.line.push(',');
            }
            first = false;
            json_string(&mut self.line, &path[path.len() - 1]);
            self.line.push(':');
            match cell {
                Cell::Text(s) if unquoted == Some(i) => {
                    self.line.push('"');
                    self.line.push_str(s);
                    self.line.push('"');
                }
                Cell::Text(s) => json_string(&mut self.line, s),
                Cell::Int(n) => {
                    let _ = write!(self.line, "{n}");
                }
                Cell::Date(day) => {
                    self.line.push('"');
                    self.line.push_str(&format_date(*day, ISO.date));
                    self.line.push('"');
                }
                Cell::DateTime(t) => {
                    self.line.push('"');
                    self.line.push_str(&format_datetime(*t, ISO.datetime));
                    self.line.push('"');
                }
                Cell::Null => self.line.push_str("null"),
            }
        }
        for _ in open {
            self.line.push('}');
        }
        self.line.push_str("}\n");
        if let Some(prev) = self.pending.replace(self.line.clone()) {
            self.out.write_all(prev.as_bytes())?;
        }
        self.rows += 1;
        Ok(self.rows)
    }

    fn finish(mut self: Box<Self>, truncate_last: bool) -> io::Result<()> {
        if let Some(last) = self.pending.take() {
            if truncate_last {
                let mut cut = last.len() * 3 / 5;
                while !last.is_char_boundary(cut) {
                    cut -= 1;
                }
                self.out.write_all(&last.as_bytes()[..cut])?;
            } else {
                self.out.write_all(last.as_bytes())?;
            }
        }
        self.out.flush()
    }

    fn date_style(&self) -> DateStyle {
        ISO
    }
}

/// Excel's limit of rows per sheet.
const MAX_SHEET_ROWS: u32 = 1_048_576;

/// One sheet of an Excel workbook shared with other sheets; rows beyond
/// Excel's limit continue on a new sheet "Name (2)", as agencies do.
pub struct XlsxSheet {
    book: std::sync::Arc<std::sync::Mutex<XlsxBook>>,
    sheet: usize,
}

pub struct XlsxBook {
    workbook: rust_xlsxwriter::Workbook,
    sheets: Vec<SheetState>,
    path: std::path::PathBuf,
    open_sinks: usize,
}

struct SheetState {
    base_name: String,
    part: u32,
    index: usize,
    row: u32,
    headers: Vec<String>,
}

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> io::Error {
    io::Error::other(e.to_string())
}

impl XlsxBook {
    pub fn create(path: &Path) -> std::sync::Arc<std::sync::Mutex<XlsxBook>> {
        std::sync::Arc::new(std::sync::Mutex::new(XlsxBook {
            workbook: {
                let mut workbook = rust_xlsxwriter::Workbook::new();
                // A fixed creation time: the same seed must give the same bytes.
                let created = rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 1, 1).ok();
                let mut props = rust_xlsxwriter::DocProperties::new()
                    .set_author("Corridor demo world generator");
                if let Some(created) = created {
                    props = props.set_creation_datetime(&created);
                }
                workbook.set_properties(&props);
                workbook
            },
            sheets: Vec::new(),
            path: path.to_path_buf(),
            open_sinks: 0,
        }))
    }

    fn add_part(&mut self, sheet: usize) -> io::Result<()> {
        let state = &mut self.sheets[sheet];
        state.part += 1;
        let name = if state.part == 1 {
            state.base_name.clone()
        } else {
            format!("{} ({})", state.base_name, state.part)
        };
        let ws = self
            .workbook
            .add_worksheet_with_constant_memory()
            .map_err(xlsx_err)?;
        ws.set_name(&name).map_err(xlsx_err)?;
        let bold = rust_xlsxwriter::Format::new().set_bold();
        for (c, h) in state.headers.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, h, &bold)
                .map_err(xlsx_err)?;
        }
        state.index = self.workbook.worksheets().len() - 1;
        state.row = 1;
        Ok(())
    }
}

impl XlsxSheet {
    pub fn add(
        book: &std::sync::Arc<std::sync::Mutex<XlsxBook>>,
        name: &str,
        headers: &[&str],
    ) -> io::Result<XlsxSheet> {
        let mut b = book
            .lock()
            .map_err(|_| io::Error::other("workbook lock poisoned"))?;
        b.sheets.push(SheetState {
            base_name: name.to_string(),
            part: 0,
            index: 0,
            row: 0,
            headers: headers.iter().map(|h| h.to_string()).collect(),
        });
        let sheet = b.sheets.len() - 1;
        b.add_part(sheet)?;
        b.open_sinks += 1;
        Ok(XlsxSheet {
            book: book.clone(),
            sheet,
        })
    }
}

impl Sink for XlsxSheet {
    fn write_row(&mut self, cells: &[Cell], _unquoted: Option<usize>) -> io::Result<u64> {
        let mut b = self
            .book
            .lock()
            .map_err(|_| io::Error::other("workbook lock poisoned"))?;
        if b.sheets[self.sheet].row >= MAX_SHEET_ROWS {
            b.add_part(self.sheet)?;
        }
        let (index, row) = (b.sheets[self.sheet].index, b.sheets[self.sheet].row);
        let date_fmt = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
        let datetime_fmt = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy hh:mm");
        let ws = b.workbook.worksheet_from_index(index).map_err(xlsx_err)?;
        for (c, cell) in cells.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) => {
                    ws.write_string(row, c, s).map_err(xlsx_err)?;
                }
                Cell::Int(n) => {
                    ws.write_number(row, c, *n as f64).map_err(xlsx_err)?;
                }
                Cell::Date(day) => {
                    // Excel serial dates count from 1899-12-30.
                    ws.write_number_with_format(row, c, (*day + 25569) as f64, &date_fmt)
                        .map_err(xlsx_err)?;
                }
                Cell::DateTime(t) => {
                    let serial = *t as f64 / MINUTES_PER_DAY as f64 + 25569.0;
                    ws.write_number_with_format(row, c, serial, &datetime_fmt)
                        .map_err(xlsx_err)?;
                }
                Cell::Null => {}
            }
        }
        b.sheets[self.sheet].row += 1;
        Ok(row as u64 + 1)
    }

    fn finish(self: Box<Self>, _truncate_last: bool) -> io::Result<()> {
        let mut b = self
            .book
            .lock()
            .map_err(|_| io::Error::other("workbook lock poisoned"))?;
        b.open_sinks -= 1;
        if b.open_sinks == 0 {
            let path = b.path.clone();
            b.workbook.save(&path).map_err(xlsx_err)?;
        }
        Ok(())
    }

    fn date_style(&self) -> DateStyle {
        DMY
    }

    fn part(&self) -> String {
        self.book
            .lock()
            .map(|b| {
                let s = &b.sheets[self.sheet];
                if s.part <= 1 {
                    s.base_name.clone()
                } else {
                    format!("{} ({})", s.base_name, s.part)
                }
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod csv_line_tests {
    use super::CsvLine;
    use proptest::prelude::*;

    proptest! {
        /// An export's line reads back with the csv crate whatever its
        /// fields hold (the delimiter, quotes, CR, LF), in both delimiters
        /// the generator writes.
        #[test]
        fn export_lines_read_back_with_the_csv_crate(
            fields in prop::collection::vec("[a-zé ;,\"\r\n]{0,6}", 2..5),
            delimiter in prop::sample::select(vec![b';', b',']),
        ) {
            let mut line = CsvLine::new(delimiter);
            for f in &fields {
                line.field(f);
            }
            let text = line.end().to_string();
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .delimiter(delimiter)
                .from_reader(text.as_bytes());
            let rows: Vec<csv::StringRecord> = r.records().collect::<Result<_, _>>().expect("csv");
            prop_assert_eq!(rows.len(), 1);
            let read: Vec<&str> = rows[0].iter().collect();
            prop_assert_eq!(read, fields.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}
