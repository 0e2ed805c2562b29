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

use crate::IngestError;
use crate::mapping::ReaderOptions;

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
        match self {
            RawValue::Empty => Cow::Borrowed(""),
            RawValue::Text(s) => Cow::Borrowed(s.as_str()),
            RawValue::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => {
                Cow::Owned(format!("{}", *n as i64))
            }
            RawValue::Number(n) => Cow::Owned(n.to_string()),
            RawValue::DateTime(d) => Cow::Owned(d.format("%Y-%m-%dT%H:%M:%S").to_string()),
            RawValue::Bool(b) => Cow::Owned(b.to_string()),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            RawValue::Empty => true,
            RawValue::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }
}

/// Why a row could not be split into its fields.
#[derive(Debug, Clone, PartialEq)]
pub enum RowProblem {
    FieldCount { found: usize, expected: usize },
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

/// A source of rows.
pub trait RowReader {
    /// Column names, in file order (dotted paths for nested JSON).
    fn headers(&self) -> &[String];
    /// The next row; `None` at the end. An `Err` is a file that cannot be
    /// read any further, never a bad row.
    fn next_row(&mut self) -> Option<Result<RawRow, IngestError>>;
    /// What the reader worked out on its own (encoding, delimiter…), for
    /// reports.
    fn detected(&self) -> Vec<(String, String)> {
        Vec::new()
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

/// The encoding a text file is read with, and why.
#[derive(Debug, Clone, Copy)]
pub struct TextEncoding {
    pub encoding: &'static encoding_rs::Encoding,
    pub how: &'static str,
}

const SAMPLE: usize = 1 << 16;

fn bom(sample: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    encoding_rs::Encoding::for_bom(sample).map(|(e, _)| e)
}

/// Whether a sample is UTF-8, allowing a sequence cut at the sample's end.
/// On failure, the 1-based line of the first bad byte.
fn utf8_check(sample: &[u8]) -> Result<bool, u64> {
    match std::str::from_utf8(sample) {
        Ok(s) => Ok(!s.is_ascii()),
        Err(e) if e.error_len().is_none() => Ok(true),
        Err(e) => Err(sample[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64
            + 1),
    }
}

/// Works out the encoding from the mapping and the file's first bytes.
pub fn detect_encoding(
    path: &Path,
    declared: Option<&str>,
    sample: &[u8],
) -> Result<TextEncoding, IngestError> {
    let declared = declared
        .map(|d| d.trim().to_lowercase())
        .filter(|d| d != "auto");
    if let Some(e) = bom(sample) {
        // A byte-order mark is the file's own statement; it wins over a
        // declaration only if they agree on the family (UTF-8 vs UTF-16).
        if let Some(d) = &declared
            && let Some(de) = encoding_rs::Encoding::for_label(d.as_bytes())
            && de != e
            && !(de == encoding_rs::UTF_16LE && e == encoding_rs::UTF_16LE)
        {
            return Err(IngestError::Encoding {
                path: path.to_path_buf(),
                line: 1,
                message: format!(
                    "the mapping declares {} but the file starts with a {} byte-order mark: set reader.encoding = \"{}\" (or \"auto\")",
                    de.name(),
                    e.name(),
                    e.name().to_lowercase()
                ),
            });
        }
        return Ok(TextEncoding {
            encoding: e,
            how: "byte-order mark",
        });
    }
    let utf8 = utf8_check(sample);
    match declared {
        None => match utf8 {
            Ok(_) => Ok(TextEncoding {
                encoding: encoding_rs::UTF_8,
                how: "valid UTF-8",
            }),
            Err(_) => Ok(TextEncoding {
                encoding: encoding_rs::WINDOWS_1252,
                how: "not UTF-8, read as Windows-1252",
            }),
        },
        Some(label) => {
            let Some(e) = encoding_rs::Encoding::for_label(label.as_bytes()) else {
                return Err(IngestError::Encoding {
                    path: path.to_path_buf(),
                    line: 0,
                    message: format!(
                        "unknown encoding '{label}' in reader.encoding (try utf-8, utf-16le, windows-1252, iso-8859-1 or auto)"
                    ),
                });
            };
            if e == encoding_rs::UTF_8
                && let Err(line) = utf8
            {
                return Err(IngestError::Encoding {
                    path: path.to_path_buf(),
                    line,
                    message: "the file is not valid UTF-8 (the mapping declares utf-8); it reads as Windows-1252: set reader.encoding = \"windows-1252\" (or \"auto\")".into(),
                });
            }
            if e.is_single_byte() && e != encoding_rs::UTF_8 && utf8 == Ok(true) {
                return Err(IngestError::Encoding {
                    path: path.to_path_buf(),
                    line: 1,
                    message: format!(
                        "the file is UTF-8 but the mapping declares {}: accented letters would be garbled; set reader.encoding = \"utf-8\" (or \"auto\")",
                        e.name()
                    ),
                });
            }
            if (e == encoding_rs::UTF_16LE || e == encoding_rs::UTF_16BE)
                && !sample.contains(&0)
                && !sample.is_empty()
            {
                return Err(IngestError::Encoding {
                    path: path.to_path_buf(),
                    line: 1,
                    message: format!(
                        "the mapping declares {} but the file has no zero bytes, so it is not UTF-16; try reader.encoding = \"auto\"",
                        e.name()
                    ),
                });
            }
            Ok(TextEncoding {
                encoding: e,
                how: "declared",
            })
        }
    }
}

fn text_reader(
    path: &Path,
    declared: Option<&str>,
) -> Result<(Box<dyn Read + Send>, TextEncoding, String), IngestError> {
    let mut file = File::open(path).map_err(io_err(path))?;
    let mut sample = vec![0u8; SAMPLE];
    let mut n = 0;
    while n < SAMPLE {
        let k = file.read(&mut sample[n..]).map_err(io_err(path))?;
        if k == 0 {
            break;
        }
        n += k;
    }
    sample.truncate(n);
    let enc = detect_encoding(path, declared, &sample)?;
    let (decoded_sample, _, _) = enc.encoding.decode(&sample);
    let decoded_sample = decoded_sample.into_owned();
    let file = File::open(path).map_err(io_err(path))?;
    let reader = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(enc.encoding))
        .utf8_passthru(true)
        .strip_bom(true)
        .bom_override(true)
        .build(file);
    Ok((Box::new(reader), enc, decoded_sample))
}

// ---------------------------------------------------------------------- CSV

/// Turns CRLF line ends into LF, so the CSV reader counts lines the way an
/// editor does (it counts a CRLF file's lines one short otherwise).
struct CrlfToLf<R> {
    inner: R,
    /// A '\r' read at the end of the last chunk, not yet written.
    held_cr: bool,
    buf: Vec<u8>,
    /// Where the line ends are, for row numbers.
    lines: Option<std::sync::Arc<std::sync::Mutex<LineIndex>>>,
}

/// Byte offsets of the line ends written so far and not yet counted, and
/// how many were counted: the CSV reader's own line count is not reliable
/// (blank lines, CR LF), so rows are numbered from these.
#[derive(Default)]
struct LineIndex {
    pending: std::collections::VecDeque<u64>,
    counted: u64,
    written: u64,
    last_byte: u8,
}

impl LineIndex {
    /// The 1-based line on which a record ending at byte `end` ends.
    fn line_ending_at(&mut self, end: u64) -> u64 {
        while self.pending.front().is_some_and(|&o| o < end) {
            self.pending.pop_front();
            self.counted += 1;
        }
        // A last line without a line end is a line too.
        if end >= self.written && self.last_byte != b'\n' {
            self.counted + 1
        } else {
            self.counted
        }
    }
}

impl<R: Read> Read for CrlfToLf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        self.buf.resize(out.len(), 0);
        let n = self.inner.read(&mut self.buf)?;
        if n == 0 {
            if self.held_cr {
                self.held_cr = false;
                out[0] = b'\r';
                if let Some(lines) = &self.lines
                    && let Ok(mut idx) = lines.lock()
                {
                    idx.written += 1;
                    idx.last_byte = b'\r';
                }
                return Ok(1);
            }
            return Ok(0);
        }
        let mut w = 0;
        let mut pending_cr = std::mem::take(&mut self.held_cr);
        for &b in &self.buf[..n] {
            if pending_cr && b != b'\n' {
                out[w] = b'\r';
                w += 1;
            }
            pending_cr = false;
            if b == b'\r' {
                pending_cr = true;
            } else {
                if w == out.len() {
                    break;
                }
                out[w] = b;
                w += 1;
            }
        }
        self.held_cr = pending_cr;
        if let Some(lines) = &self.lines
            && let Ok(mut idx) = lines.lock()
        {
            for (i, &b) in out[..w].iter().enumerate() {
                if b == b'\n' {
                    let at = idx.written + i as u64;
                    idx.pending.push_back(at);
                }
            }
            idx.written += w as u64;
            if w > 0 {
                idx.last_byte = out[w - 1];
            }
        }
        if w == 0 && self.held_cr {
            // Only a CR so far: read on.
            return self.read(out);
        }
        Ok(w)
    }
}

/// Picks the delimiter that splits the first lines most consistently.
pub fn sniff_delimiter(sample: &str) -> u8 {
    let lines: Vec<&str> = sample
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(30)
        .collect();
    let lines = if lines.len() > 1 {
        &lines[..lines.len() - 1]
    } else {
        &lines[..]
    };
    let mut best = (b',', 0usize, 0usize);
    for d in [b',', b';', b'\t', b'|'] {
        let counts: Vec<usize> = lines
            .iter()
            .map(|l| {
                let mut quoted = false;
                l.bytes()
                    .filter(|&b| {
                        if b == b'"' {
                            quoted = !quoted;
                        }
                        b == d && !quoted
                    })
                    .count()
            })
            .collect();
        let Some(&min) = counts.iter().min() else {
            continue;
        };
        let consistent = counts.iter().filter(|&&c| c == counts[0]).count();
        if min > 0 && (consistent, min) > (best.2, best.1) {
            best = (d, min, consistent);
        }
    }
    best.0
}

pub struct CsvRows {
    path: PathBuf,
    reader: csv::Reader<Box<dyn Read + Send>>,
    lines: std::sync::Arc<std::sync::Mutex<LineIndex>>,
    headers: Vec<String>,
    detected: Vec<(String, String)>,
    record: csv::StringRecord,
}

impl CsvRows {
    pub fn open(path: &Path, opts: &ReaderOptions) -> Result<CsvRows, IngestError> {
        let (input, enc, sample) = text_reader(path, opts.encoding.as_deref())?;
        let mut detected = vec![(
            "encoding".to_string(),
            format!("{} ({})", enc.encoding.name(), enc.how),
        )];
        let delimiter = match opts.delimiter.as_deref() {
            Some("\\t") | Some("tab") => b'\t',
            Some(d) if d.len() == 1 => d.as_bytes()[0],
            Some(d) => {
                return Err(IngestError::Unreadable {
                    path: path.to_path_buf(),
                    message: format!("reader.delimiter must be one character, not '{d}'"),
                });
            }
            None => {
                let d = sniff_delimiter(&sample);
                detected.push(("delimiter".into(), format!("{:?} (sniffed)", d as char)));
                d
            }
        };
        let quote = opts
            .quote
            .as_deref()
            .and_then(|q| q.bytes().next())
            .unwrap_or(b'"');
        let lines = std::sync::Arc::new(std::sync::Mutex::new(LineIndex::default()));
        let input: Box<dyn Read + Send> = Box::new(CrlfToLf {
            inner: input,
            held_cr: false,
            buf: Vec::new(),
            lines: Some(lines.clone()),
        });
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .quote(quote)
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let header_row = opts.header_row.unwrap_or(1).max(1);
        let mut record = csv::StringRecord::new();
        let mut headers = None;
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {
                    let end = reader.position().byte();
                    let line = lines.lock().map(|mut l| l.line_ending_at(end)).unwrap_or(0);
                    if line >= header_row {
                        headers = Some(
                            record
                                .iter()
                                .map(|h| h.trim().to_string())
                                .collect::<Vec<_>>(),
                        );
                        break;
                    }
                }
                Ok(false) => break,
                Err(e) => return Err(csv_error(path, e)),
            }
        }
        let Some(headers) = headers else {
            return Err(IngestError::Unreadable {
                path: path.to_path_buf(),
                message: format!(
                    "the file has no header at line {header_row} (it is empty or shorter)"
                ),
            });
        };
        if headers.len() < 2 && sample.lines().count() > 1 {
            detected.push((
                "warning".into(),
                "only one column found: check reader.delimiter".into(),
            ));
        }
        Ok(CsvRows {
            path: path.to_path_buf(),
            reader,
            lines,
            headers,
            detected,
            record,
        })
    }
}

fn csv_error(path: &Path, e: csv::Error) -> IngestError {
    let line = e.position().map_or(0, |p| p.line());
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => IngestError::Encoding {
            path: path.to_path_buf(),
            line,
            message: "invalid UTF-8: the file is in another encoding; set reader.encoding (e.g. \"windows-1252\") or \"auto\"".into(),
        },
        csv::ErrorKind::Io(io) => IngestError::Unreadable { path: path.to_path_buf(), message: format!("read error at line {line}: {io}") },
        _ => IngestError::Unreadable { path: path.to_path_buf(), message: format!("line {line}: {e}") },
    }
}

impl RowReader for CsvRows {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn next_row(&mut self) -> Option<Result<RawRow, IngestError>> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Ok(false) => return None,
                Ok(true) => {
                    let end = self.reader.position().byte();
                    let number = self
                        .lines
                        .lock()
                        .map(|mut l| l.line_ending_at(end))
                        .unwrap_or(0);
                    if self.record.len() == 1
                        && self.record.get(0).is_some_and(|f| f.trim().is_empty())
                    {
                        continue; // a blank line
                    }
                    let expected = self.headers.len();
                    let found = self.record.len();
                    let problem =
                        (found != expected).then_some(RowProblem::FieldCount { found, expected });
                    let values = if problem.is_some() {
                        Vec::new()
                    } else {
                        self.record
                            .iter()
                            .map(|v| {
                                if v.is_empty() {
                                    RawValue::Empty
                                } else {
                                    RawValue::Text(v.to_string())
                                }
                            })
                            .collect()
                    };
                    return Some(Ok(RawRow {
                        number,
                        values,
                        problem,
                    }));
                }
                Err(e) => return Some(Err(csv_error(&self.path, e))),
            }
        }
    }

    fn detected(&self) -> Vec<(String, String)> {
        self.detected.clone()
    }
}

// -------------------------------------------------------------------- Excel

pub struct ExcelRows {
    headers: Vec<String>,
    rows: ExcelSource,
    detected: Vec<(String, String)>,
    path: PathBuf,
}

/// Rows of an .xlsx sheet are streamed cell by cell from a helper thread
/// (the cell reader borrows its workbook), through a bounded channel, so
/// memory stays bounded whatever the sheet's size; .xls and .ods sheets,
/// which calamine only reads whole, are read as one range.
enum ExcelSource {
    Read(std::vec::IntoIter<RawRow>),
    Streamed(std::sync::mpsc::Receiver<Result<RawRow, String>>),
}

/// First message of the streaming thread: the header row and the sheet, or
/// why there is none.
type ExcelHead = Result<(Vec<String>, String), String>;

fn excel_value(d: &calamine::Data) -> RawValue {
    use calamine::Data;
    match d {
        Data::Empty => RawValue::Empty,
        Data::String(s) if s.trim().is_empty() => RawValue::Empty,
        Data::String(s) => RawValue::Text(s.clone()),
        Data::Float(f) => RawValue::Number(*f),
        Data::Int(i) => RawValue::Number(*i as f64),
        Data::Bool(b) => RawValue::Bool(*b),
        Data::DateTime(dt) => dt
            .as_datetime()
            .map_or(RawValue::Number(dt.as_f64()), RawValue::DateTime),
        Data::DateTimeIso(s) | Data::DurationIso(s) => RawValue::Text(s.clone()),
        Data::Error(e) => RawValue::Text(format!("#{e:?}")),
    }
}

impl ExcelRows {
    pub fn open(path: &Path, opts: &ReaderOptions) -> Result<ExcelRows, IngestError> {
        let unreadable = |message: String| IngestError::Unreadable {
            path: path.to_path_buf(),
            message,
        };
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if ext == "xlsx" || ext == "xlsm" {
            let (head_tx, head_rx) = std::sync::mpsc::sync_channel::<ExcelHead>(1);
            let (tx, rx) = std::sync::mpsc::sync_channel(1024);
            let (file, sheet, header_row) = (
                path.to_path_buf(),
                opts.sheet.clone(),
                opts.header_row.unwrap_or(1).max(1),
            );
            std::thread::spawn(move || stream_xlsx(&file, sheet, header_row, &head_tx, &tx));
            let (headers, sheet) = head_rx
                .recv()
                .unwrap_or_else(|_| Err("the workbook reader stopped".into()))
                .map_err(unreadable)?;
            return Ok(ExcelRows {
                headers,
                rows: ExcelSource::Streamed(rx),
                detected: vec![("sheet".into(), sheet)],
                path: path.to_path_buf(),
            });
        }
        Self::read_whole(path, opts)
    }

    fn read_whole(path: &Path, opts: &ReaderOptions) -> Result<ExcelRows, IngestError> {
        use calamine::Reader;
        let unreadable = |message: String| IngestError::Unreadable {
            path: path.to_path_buf(),
            message,
        };
        let mut book = calamine::open_workbook_auto(path).map_err(|e| {
            unreadable(format!(
                "not a readable Excel or OpenDocument workbook: {e}"
            ))
        })?;
        let names = book.sheet_names();
        let sheet = match &opts.sheet {
            Some(s) => {
                if !names.contains(s) {
                    return Err(unreadable(format!(
                        "the workbook has no sheet '{s}'; its sheets are: {}",
                        names.join(", ")
                    )));
                }
                s.clone()
            }
            None => names
                .first()
                .cloned()
                .ok_or_else(|| unreadable("the workbook has no sheets".into()))?,
        };
        let range = book
            .worksheet_range(&sheet)
            .map_err(|e| unreadable(format!("sheet '{sheet}' cannot be read: {e}")))?;
        let first_row = range.start().map_or(0, |(r, _)| r as u64) + 1;
        let first_col = range.start().map_or(0, |(_, c)| c as usize);
        let header_row = opts.header_row.unwrap_or(1).max(1);
        let mut headers = Vec::new();
        let mut rows = Vec::new();
        for (i, row) in range.rows().enumerate() {
            let number = first_row + i as u64;
            if number < header_row {
                continue;
            }
            let mut values: Vec<RawValue> = std::iter::repeat_n(RawValue::Empty, first_col)
                .chain(row.iter().map(excel_value))
                .collect();
            if number == header_row {
                headers = values.iter().map(|v| v.text().trim().to_string()).collect();
                continue;
            }
            if values.iter().all(RawValue::is_empty) {
                continue;
            }
            values.resize(headers.len().max(values.len()), RawValue::Empty);
            values.truncate(headers.len());
            rows.push(RawRow {
                number,
                values,
                problem: None,
            });
        }
        if headers.is_empty() {
            return Err(unreadable(format!(
                "sheet '{sheet}' has no header at row {header_row}"
            )));
        }
        Ok(ExcelRows {
            headers,
            rows: ExcelSource::Read(rows.into_iter()),
            detected: vec![("sheet".into(), sheet)],
            path: path.to_path_buf(),
        })
    }
}

/// The streaming side of [`ExcelRows`]: sends the header row (or why there
/// is none) on `head`, then every non-empty row below it on `rows`, in
/// order. Stops early when the reader is dropped.
fn stream_xlsx(
    path: &Path,
    sheet: Option<String>,
    header_row: u64,
    head: &std::sync::mpsc::SyncSender<ExcelHead>,
    rows: &std::sync::mpsc::SyncSender<Result<RawRow, String>>,
) {
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = match calamine::open_workbook(path) {
        Ok(b) => b,
        Err(e) => {
            let _ = head.send(Err(format!(
                "not a readable Excel or OpenDocument workbook: {e}"
            )));
            return;
        }
    };
    let names = book.sheet_names();
    let sheet = match sheet {
        Some(s) if !names.contains(&s) => {
            let _ = head.send(Err(format!(
                "the workbook has no sheet '{s}'; its sheets are: {}",
                names.join(", ")
            )));
            return;
        }
        Some(s) => s,
        None => match names.first() {
            Some(s) => s.clone(),
            None => {
                let _ = head.send(Err("the workbook has no sheets".into()));
                return;
            }
        },
    };
    let mut cells = match book.worksheet_cells_reader(&sheet) {
        Ok(c) => c,
        Err(e) => {
            let _ = head.send(Err(format!("sheet '{sheet}' cannot be read: {e}")));
            return;
        }
    };
    let mut headers: Option<Vec<String>> = None;
    let mut current: Option<(u64, Vec<RawValue>)> = None;
    // Hands a finished row on; false when the reader has gone away.
    let finish = |number: u64, mut values: Vec<RawValue>, headers: &mut Option<Vec<String>>| {
        if number < header_row {
            return true;
        }
        match headers {
            None => {
                if number == header_row {
                    *headers = Some(values.iter().map(|v| v.text().trim().to_string()).collect());
                }
                // Rows before a header row that is missing are skipped;
                // the missing header is reported below.
                true
            }
            Some(h) => {
                if values.iter().all(RawValue::is_empty) {
                    return true;
                }
                values.resize(h.len().max(values.len()), RawValue::Empty);
                values.truncate(h.len());
                rows.send(Ok(RawRow {
                    number,
                    values,
                    problem: None,
                }))
                .is_ok()
            }
        }
    };
    let mut head_sent = false;
    loop {
        let cell = match cells.next_cell() {
            Ok(Some(cell)) => cell,
            Ok(None) => break,
            Err(e) => {
                let message = format!("sheet '{sheet}' cannot be read: {e}");
                if head_sent {
                    let _ = rows.send(Err(message));
                } else {
                    let _ = head.send(Err(message));
                }
                return;
            }
        };
        let (r, c) = cell.get_position();
        let number = u64::from(r) + 1;
        if current.as_ref().is_some_and(|(n, _)| *n != number) {
            if let Some((n, values)) = current.take()
                && !finish(n, values, &mut headers)
            {
                return;
            }
            if !head_sent && let Some(h) = &headers {
                head_sent = true;
                if head.send(Ok((h.clone(), sheet.clone()))).is_err() {
                    return;
                }
            }
        }
        let values = &mut current.get_or_insert_with(|| (number, Vec::new())).1;
        let c = c as usize;
        if values.len() <= c {
            values.resize(c + 1, RawValue::Empty);
        }
        values[c] = excel_value(&calamine::Data::from(cell.get_value().clone()));
    }
    if let Some((n, values)) = current.take()
        && !finish(n, values, &mut headers)
    {
        return;
    }
    if !head_sent {
        let _ = head.send(match headers {
            Some(h) => Ok((h, sheet)),
            None => Err(format!("sheet '{sheet}' has no header at row {header_row}")),
        });
    }
}

impl RowReader for ExcelRows {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn next_row(&mut self) -> Option<Result<RawRow, IngestError>> {
        match &mut self.rows {
            ExcelSource::Read(rows) => rows.next().map(Ok),
            ExcelSource::Streamed(rx) => rx.recv().ok().map(|r| {
                r.map_err(|message| IngestError::Unreadable {
                    path: self.path.clone(),
                    message,
                })
            }),
        }
    }

    fn detected(&self) -> Vec<(String, String)> {
        self.detected.clone()
    }
}

// --------------------------------------------------------------------- JSON

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, RawValue)>) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::Null => out.push((prefix.to_string(), RawValue::Empty)),
        Value::Bool(b) => out.push((prefix.to_string(), RawValue::Bool(*b))),
        Value::Number(n) => out.push((
            prefix.to_string(),
            n.as_f64().map_or(RawValue::Empty, RawValue::Number),
        )),
        Value::String(s) if s.is_empty() => out.push((prefix.to_string(), RawValue::Empty)),
        Value::String(s) => out.push((prefix.to_string(), RawValue::Text(s.clone()))),
        // A list in one field: joined with ';', the default list separator.
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            out.push((prefix.to_string(), RawValue::Text(parts.join(";"))));
        }
    }
}

/// Places the flattened values of one object by header, adding headers for
/// keys not seen before.
fn place(headers: &mut Vec<String>, flat: Vec<(String, RawValue)>) -> Vec<RawValue> {
    let mut values = vec![RawValue::Empty; headers.len()];
    for (k, v) in flat {
        match headers.iter().position(|h| *h == k) {
            Some(i) => values[i] = v,
            None => {
                headers.push(k);
                values.push(v);
            }
        }
    }
    values
}

pub struct NdjsonRows {
    path: PathBuf,
    lines: std::io::Lines<BufReader<Box<dyn Read + Send>>>,
    line: u64,
    headers: Vec<String>,
    pending: std::collections::VecDeque<RawRow>,
}

impl NdjsonRows {
    pub fn open(path: &Path, wanted: &[&str]) -> Result<NdjsonRows, IngestError> {
        let (input, _, _) = text_reader(path, Some("utf-8"))?;
        let mut rows = NdjsonRows {
            path: path.to_path_buf(),
            lines: BufReader::with_capacity(1 << 20, input).lines(),
            line: 0,
            headers: wanted.iter().map(|w| w.to_string()).collect(),
            pending: Default::default(),
        };
        // Headers come from the mapping and the first objects.
        for _ in 0..50 {
            match rows.read() {
                Some(Ok(row)) => rows.pending.push_back(row),
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        Ok(rows)
    }

    fn read(&mut self) -> Option<Result<RawRow, IngestError>> {
        loop {
            let line = match self.lines.next()? {
                Ok(l) => l,
                Err(e) => {
                    return Some(Err(IngestError::Encoding {
                        path: self.path.clone(),
                        line: self.line + 1,
                        message: format!("{e}: NDJSON must be UTF-8"),
                    }));
                }
            };
            self.line += 1;
            if line.trim().is_empty() {
                continue;
            }
            let number = self.line;
            return Some(Ok(match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(serde_json::Value::Object(map)) => {
                    let mut flat = Vec::new();
                    flatten("", &serde_json::Value::Object(map), &mut flat);
                    RawRow {
                        number,
                        values: place(&mut self.headers, flat),
                        problem: None,
                    }
                }
                Ok(_) => RawRow {
                    number,
                    values: Vec::new(),
                    problem: Some(RowProblem::InvalidJson("not a JSON object".into())),
                },
                Err(e) => RawRow {
                    number,
                    values: Vec::new(),
                    problem: Some(RowProblem::InvalidJson(e.to_string())),
                },
            }));
        }
    }
}

impl RowReader for NdjsonRows {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn next_row(&mut self) -> Option<Result<RawRow, IngestError>> {
        if let Some(row) = self.pending.pop_front() {
            return Some(Ok(row));
        }
        self.read()
    }
}

/// A top-level JSON array of objects, parsed element by element on a
/// helper thread so that memory stays bounded.
pub struct JsonArrayRows {
    rx: std::sync::mpsc::Receiver<Result<(u64, serde_json::Value), String>>,
    path: PathBuf,
    headers: Vec<String>,
    pending: std::collections::VecDeque<RawRow>,
}

struct ElementVisitor<'a>(
    &'a std::sync::mpsc::SyncSender<Result<(u64, serde_json::Value), String>>,
);

impl<'de> serde::de::Visitor<'de> for ElementVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of objects")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut n = 0;
        while let Some(v) = seq.next_element::<serde_json::Value>()? {
            n += 1;
            if self.0.send(Ok((n, v))).is_err() {
                break;
            }
        }
        Ok(())
    }
}

impl JsonArrayRows {
    pub fn open(path: &Path, wanted: &[&str]) -> Result<JsonArrayRows, IngestError> {
        let (input, _, _) = text_reader(path, Some("utf-8"))?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1024);
        std::thread::spawn(move || {
            use serde::Deserializer;
            let mut de = serde_json::Deserializer::from_reader(BufReader::new(input));
            if let Err(e) = (&mut de).deserialize_seq(ElementVisitor(&tx)) {
                let _ = tx.send(Err(e.to_string()));
            }
        });
        let mut rows = JsonArrayRows {
            rx,
            path: path.to_path_buf(),
            headers: wanted.iter().map(|w| w.to_string()).collect(),
            pending: Default::default(),
        };
        for _ in 0..50 {
            match rows.read() {
                Some(Ok(row)) => rows.pending.push_back(row),
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        Ok(rows)
    }

    fn read(&mut self) -> Option<Result<RawRow, IngestError>> {
        match self.rx.recv().ok()? {
            Ok((number, serde_json::Value::Object(map))) => {
                let mut flat = Vec::new();
                flatten("", &serde_json::Value::Object(map), &mut flat);
                Some(Ok(RawRow {
                    number,
                    values: place(&mut self.headers, flat),
                    problem: None,
                }))
            }
            Ok((number, _)) => Some(Ok(RawRow {
                number,
                values: Vec::new(),
                problem: Some(RowProblem::InvalidJson("not a JSON object".into())),
            })),
            Err(message) => Some(Err(IngestError::Unreadable {
                path: self.path.clone(),
                message: format!("invalid JSON: {message}"),
            })),
        }
    }
}

impl RowReader for JsonArrayRows {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn next_row(&mut self) -> Option<Result<RawRow, IngestError>> {
        if let Some(row) = self.pending.pop_front() {
            return Some(Ok(row));
        }
        self.read()
    }
}

// ------------------------------------------------------------------ Parquet

pub struct ParquetRows {
    path: PathBuf,
    batches: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    headers: Vec<String>,
    current: Vec<Vec<Option<String>>>,
    index: usize,
    number: u64,
}

impl ParquetRows {
    pub fn open(path: &Path) -> Result<ParquetRows, IngestError> {
        let file = File::open(path).map_err(io_err(path))?;
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| IngestError::Unreadable {
                path: path.to_path_buf(),
                message: format!("not a readable Parquet file: {e}"),
            })?;
        let headers = builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let batches =
            builder
                .with_batch_size(8192)
                .build()
                .map_err(|e| IngestError::Unreadable {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?;
        Ok(ParquetRows {
            path: path.to_path_buf(),
            batches,
            headers,
            current: Vec::new(),
            index: 0,
            number: 0,
        })
    }
}

impl RowReader for ParquetRows {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn next_row(&mut self) -> Option<Result<RawRow, IngestError>> {
        while self.current.first().is_none_or(|c| self.index >= c.len()) {
            let batch = match self.batches.next()? {
                Ok(b) => b,
                Err(e) => {
                    return Some(Err(IngestError::Unreadable {
                        path: self.path.clone(),
                        message: e.to_string(),
                    }));
                }
            };
            let mut columns = Vec::new();
            for col in batch.columns() {
                let text = match arrow::compute::cast(col, &arrow::datatypes::DataType::Utf8) {
                    Ok(t) => t,
                    Err(e) => {
                        return Some(Err(IngestError::Unreadable {
                            path: self.path.clone(),
                            message: format!("a column cannot be read as text: {e}"),
                        }));
                    }
                };
                let Some(text) = text.as_any().downcast_ref::<arrow::array::StringArray>() else {
                    return Some(Err(IngestError::Unreadable {
                        path: self.path.clone(),
                        message: "a column cannot be read as text".into(),
                    }));
                };
                columns.push(
                    text.iter()
                        .map(|v| v.map(str::to_string))
                        .collect::<Vec<_>>(),
                );
            }
            if batch.num_columns() == 0 {
                return None;
            }
            self.current = columns;
            self.index = 0;
        }
        let values = self
            .current
            .iter()
            .map(|c| {
                c[self.index]
                    .clone()
                    .filter(|s| !s.is_empty())
                    .map_or(RawValue::Empty, RawValue::Text)
            })
            .collect();
        self.index += 1;
        self.number += 1;
        Some(Ok(RawRow {
            number: self.number,
            values,
            problem: None,
        }))
    }
}

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

    #[test]
    fn crlf_becomes_lf_whatever_the_chunking() {
        let text = b"a\r\nb\r\r\nc\rd\r";
        for chunk in 1..6 {
            struct Chunked<'a>(&'a [u8], usize);
            impl Read for Chunked<'_> {
                fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                    let n = self.1.min(out.len()).min(self.0.len());
                    out[..n].copy_from_slice(&self.0[..n]);
                    self.0 = &self.0[n..];
                    Ok(n)
                }
            }
            let mut r = CrlfToLf {
                inner: Chunked(text, chunk),
                held_cr: false,
                buf: Vec::new(),
                lines: None,
            };
            let mut got = Vec::new();
            r.read_to_end(&mut got).expect("read");
            assert_eq!(got, b"a\nb\r\nc\rd\r", "chunk {chunk}");
        }
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

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(sniff_delimiter("a;b;c\n1;2;3\n4;5;6\n"), b';');
        assert_eq!(sniff_delimiter("a,b\n\"x;y\",2\n"), b',');
        assert_eq!(sniff_delimiter("a\tb\tc\n1\t2\t3\n"), b'\t');
        assert_eq!(sniff_delimiter("a|b\n1|2\n"), b'|');
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
}
