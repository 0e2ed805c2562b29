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
            RowBlock::Text(t) => t.rows.len(),
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

/// A file's SHA-256, set by its reader once it has read the file to the
/// end: the catalog needs it, and taking it from the bytes the reader reads
/// anyway saves reading the file a second time.
pub type FileDigest = std::sync::Arc<std::sync::OnceLock<[u8; 32]>>;

/// Hashes what passes through it; the digest is set at the end of the file.
struct Hashing<R> {
    inner: R,
    sha: Option<sha2::Sha256>,
    digest: FileDigest,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.read(buf)?;
        if n == 0 {
            if let Some(sha) = self.sha.take() {
                let _ = self.digest.set(sha.finalize().into());
            }
        } else if let Some(sha) = &mut self.sha {
            sha.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Whether the reader of `path` hashes it as it reads it (see
/// [`FileDigest`]), so that no one else need read it for its SHA-256.
pub fn hashes_while_reading(path: &Path, opts: &ReaderOptions) -> bool {
    matches!(format_of(path, opts), Ok(Format::Csv | Format::Ndjson))
}

/// A text file, decoded to UTF-8 (and hashed as it is read), its encoding
/// and a decoded sample of its start.
fn text_reader(
    path: &Path,
    declared: Option<&str>,
) -> Result<(Box<dyn Read + Send>, TextEncoding, String, FileDigest), IngestError> {
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
    let digest = FileDigest::default();
    let mut file = Hashing {
        inner: File::open(path).map_err(io_err(path))?,
        sha: Some(sha2::Digest::new()),
        digest: digest.clone(),
    };
    if enc.encoding == encoding_rs::UTF_8 {
        // UTF-8 is read as it is and checked by the reader, which names the
        // line of a bad byte; the decoder would replace it silently.
        if sample.starts_with(b"\xEF\xBB\xBF") {
            let mut bom = [0u8; 3];
            file.read_exact(&mut bom).map_err(io_err(path))?;
        }
        return Ok((Box::new(file), enc, decoded_sample, digest));
    }
    let reader = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(enc.encoding))
        .utf8_passthru(true)
        .strip_bom(true)
        .bom_override(true)
        // Reads of 256 KiB instead of the default 8 KiB: one system call per
        // 32 the default would make.
        .build_with_buffer(file, vec![0; 1 << 18])
        .map_err(io_err(path))?;
    Ok((Box::new(reader), enc, decoded_sample, digest))
}

// ---------------------------------------------------------------------- CSV

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

/// Input bytes read from the decoder at a time.
const CSV_READ: usize = 1 << 20;
/// A block of CSV rows ends after this many bytes of field text.
const CSV_BLOCK_BYTES: usize = 4 << 20;

/// A CSV file read in blocks: `csv_core` splits records straight into one
/// text buffer per block, so a row costs no allocation. Row numbers are
/// physical lines, counted here from the `\n` bytes consumed: `csv_core`
/// ends a CRLF record at the `\r`, so its own count is one short.
pub struct CsvRows {
    path: PathBuf,
    digest: FileDigest,
    input: Box<dyn Read + Send>,
    core: csv_core::Reader,
    /// The delimiter and quote `core` was built with, for lines read
    /// without it ([`CsvRows::read_plain_line`]).
    delimiter: u8,
    quote: u8,
    /// Whether plain lines skip `csv_core`: not when the delimiter is a
    /// line end or the quote (and off in a test that both ways read the
    /// same rows).
    plain_lines: bool,
    buf: Vec<u8>,
    /// The unread part of `buf`.
    at: usize,
    filled: usize,
    eof: bool,
    /// `\n` bytes consumed so far, and the last byte consumed.
    newlines: u64,
    last_byte: u8,
    ends: Vec<usize>,
    headers: Vec<String>,
    detected: Vec<(String, String)>,
    /// A block being handed out row by row by `next_row`.
    current: Option<(TextRows, usize)>,
    done: bool,
    /// Text bytes, fields and rows of the block before: the next block's
    /// buffers start that big instead of doubling their way there.
    block_size: (usize, usize, usize),
    /// Buffers of blocks already used, to be filled again.
    spare: Spare,
}

/// The buffers of blocks that are done with, handed back (by `TextRows`'s
/// `Drop`, on whichever thread lets a block go) for the reader to fill
/// again: a new block's buffers would be fresh memory that the kernel
/// zeroes page by page, and the reader once more.
#[derive(Debug, Clone, Default)]
struct Spare(std::sync::Arc<std::sync::Mutex<Vec<SpareBuffers>>>);

type SpareBuffers = (Vec<u8>, Vec<u32>, Vec<TextRow>);

/// Blocks' buffers kept for reuse: as many as are in flight between the
/// reader and the storing thread, about.
const SPARE_BLOCKS: usize = 16;

impl Spare {
    fn take(&self) -> Option<SpareBuffers> {
        self.0.lock().ok()?.pop()
    }

    fn give(&self, buffers: SpareBuffers) {
        if let Ok(mut spare) = self.0.lock()
            && spare.len() < SPARE_BLOCKS
        {
            spare.push(buffers);
        }
    }
}

/// Rows of a text file: one buffer, the end of every field in it, and per
/// row its line, first field and first byte.
#[derive(Debug, Default)]
pub struct TextRows {
    text: String,
    ends: Vec<u32>,
    rows: Vec<TextRow>,
    /// Fields the header has.
    expected: usize,
    /// Where the buffers go when the block is dropped.
    spare: Option<Spare>,
}

impl Drop for TextRows {
    fn drop(&mut self) {
        if let Some(spare) = self.spare.take() {
            let mut ends = std::mem::take(&mut self.ends);
            let mut rows = std::mem::take(&mut self.rows);
            ends.clear();
            rows.clear();
            spare.give((std::mem::take(&mut self.text).into_bytes(), ends, rows));
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct TextRow {
    number: u64,
    first_end: u32,
    start: u32,
}

/// A block of text rows being read: bytes not yet checked as UTF-8.
#[derive(Default)]
struct TextBuilder {
    /// Zero-filled ahead of `used`, so `csv_core` can write into it.
    bytes: Vec<u8>,
    used: usize,
    ends: Vec<u32>,
    rows: Vec<TextRow>,
}

impl TextBuilder {
    /// The finished block, or the line of the first byte that is not UTF-8.
    fn finish(mut self, expected: usize, spare: Spare) -> Result<TextRows, u64> {
        self.bytes.truncate(self.used);
        // Every byte of a file passes here: simdutf8 checks a block several
        // times faster than `String::from_utf8`, which would check it again.
        if let Err(e) = simdutf8::compat::from_utf8(&self.bytes) {
            let at = e.valid_up_to() as u32;
            return Err(self
                .rows
                .iter()
                .rev()
                .find(|r| r.start <= at)
                .map_or(0, |r| r.number));
        }
        // SAFETY: simdutf8 has just found every byte of `bytes` to be UTF-8.
        let text = unsafe { String::from_utf8_unchecked(self.bytes) };
        Ok(TextRows {
            text,
            ends: self.ends,
            rows: self.rows,
            expected,
            spare: Some(spare),
        })
    }
}

impl TextRows {
    /// Row `i`'s field ends.
    fn ends_of(&self, i: usize) -> &[u32] {
        let last = self
            .rows
            .get(i + 1)
            .map_or(self.ends.len(), |r| r.first_end as usize);
        &self.ends[self.rows[i].first_end as usize..last]
    }

    fn fields(&self, i: usize) -> impl Iterator<Item = &str> {
        let mut from = self.rows[i].start as usize;
        self.ends_of(i).iter().map(move |&e| {
            let field = self.text.get(from..e as usize).unwrap_or("");
            from = e as usize;
            field
        })
    }

    /// See [`RowBlock::content`]: the row's text, then where its fields
    /// end (so "AB","C" and "A","BC" differ).
    fn content(&self, i: usize) -> u64 {
        let start = self.rows[i].start;
        let ends = self.ends_of(i);
        let end = ends.last().map_or(start, |&e| e);
        let text = self
            .text
            .as_bytes()
            .get(start as usize..end as usize)
            .unwrap_or(&[]);
        let shape = ends.iter().fold(ends.len() as u64, |h, &e| {
            h.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .wrapping_add(u64::from(e - start))
        });
        twox_hash::XxHash3_64::oneshot_with_seed(shape, text)
    }

    fn row<'a>(&'a self, i: usize, cells: &mut Vec<Cell<'a>>) -> (u64, Option<RowProblem>) {
        cells.clear();
        let found = self.ends_of(i).len();
        let number = self.rows[i].number;
        if found != self.expected {
            let problem = RowProblem::FieldCount {
                found,
                expected: self.expected,
            };
            return (number, Some(problem));
        }
        cells.extend(self.fields(i).map(|f| {
            if f.is_empty() {
                Cell::Empty
            } else {
                Cell::Text(f)
            }
        }));
        (number, None)
    }
}

impl CsvRows {
    pub fn open(path: &Path, opts: &ReaderOptions) -> Result<CsvRows, IngestError> {
        let (input, enc, sample, digest) = text_reader(path, opts.encoding.as_deref())?;
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
        let core = csv_core::ReaderBuilder::new()
            .delimiter(delimiter)
            .quote(quote)
            .build();
        let mut rows = CsvRows {
            path: path.to_path_buf(),
            digest,
            input,
            core,
            delimiter,
            quote,
            plain_lines: !matches!(delimiter, b'\n' | b'\r') && delimiter != quote,
            buf: vec![0; CSV_READ],
            at: 0,
            filled: 0,
            eof: false,
            newlines: 0,
            last_byte: 0,
            ends: vec![0; 64],
            headers: Vec::new(),
            detected,
            current: None,
            done: false,
            block_size: (0, 0, 0),
            spare: Spare::default(),
        };
        let header_row = opts.header_row.unwrap_or(1).max(1);
        let mut headers = None;
        loop {
            let mut head = TextBuilder::default();
            let Some(line) = rows.read_record(&mut head)? else {
                break;
            };
            if line >= header_row {
                let head = head.finish(0, Spare::default()).map_err(|line| IngestError::Encoding {
                    path: path.to_path_buf(),
                    line,
                    message: "invalid UTF-8 in the header: set reader.encoding (e.g. \"windows-1252\") or \"auto\"".into(),
                })?;
                headers = Some(
                    head.fields(0)
                        .map(|h| h.trim().to_string())
                        .collect::<Vec<_>>(),
                );
                break;
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
            rows.detected.push((
                "warning".into(),
                "only one column found: check reader.delimiter".into(),
            ));
        }
        rows.headers = headers;
        Ok(rows)
    }

    fn fill(&mut self) -> Result<(), IngestError> {
        self.at = 0;
        self.filled = 0;
        while self.filled < self.buf.len() {
            match self.input.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(IngestError::Unreadable {
                        path: self.path.clone(),
                        message: format!("read error after line {}: {e}", self.newlines + 1),
                    });
                }
            }
            if self.filled >= CSV_READ / 2 {
                break;
            }
        }
        Ok(())
    }

    /// Reads one record into `out`; returns the line it ends on, or `None`
    /// at the end of the file. Blank lines are skipped.
    fn read_record(&mut self, out: &mut TextBuilder) -> Result<Option<u64>, IngestError> {
        loop {
            let start = out.used;
            let nends = match self.read_plain_line(out) {
                Some(nends) => nends,
                None => match self.read_csv_record(out)? {
                    Some(nends) => nends,
                    None => return Ok(None),
                },
            };
            let line = self.newlines + 1 - u64::from(self.last_byte == b'\n');
            let ends = &self.ends[..nends];
            if nends == 1 && out.bytes[start..start + ends[0]].trim_ascii().is_empty() {
                out.used = start;
                continue; // a blank line
            }
            let first_end = out.ends.len() as u32;
            out.ends.extend(ends.iter().map(|&e| (start + e) as u32));
            out.rows.push(TextRow {
                number: line,
                first_end,
                start: start as u32,
            });
            return Ok(Some(line));
        }
    }

    /// Reads one record into `out` with `csv_core`, its field ends into
    /// `self.ends`; returns how many fields, or `None` at the end of the
    /// file.
    fn read_csv_record(&mut self, out: &mut TextBuilder) -> Result<Option<usize>, IngestError> {
        use csv_core::ReadRecordResult as R;
        let start = out.used;
        let mut nends = 0;
        loop {
            if self.at == self.filled && !self.eof {
                self.fill()?;
            }
            if out.bytes.len() - out.used < 4096 {
                let grow = out.bytes.len().max(1 << 16);
                out.bytes.resize(out.bytes.len() + grow, 0);
            }
            let input = &self.buf[self.at..self.filled];
            let (res, nin, nout, nend) =
                self.core
                    .read_record(input, &mut out.bytes[out.used..], &mut self.ends[nends..]);
            let consumed = &input[..nin];
            self.newlines += consumed.iter().filter(|&&b| b == b'\n').count() as u64;
            if let Some(&b) = consumed.last() {
                self.last_byte = b;
            }
            self.at += nin;
            out.used += nout;
            nends += nend;
            match res {
                R::InputEmpty | R::OutputFull => {}
                R::OutputEndsFull => {
                    let n = self.ends.len();
                    self.ends.resize(n * 2, 0);
                }
                R::Record => return Ok(Some(nends)),
                R::End => {
                    out.used = start;
                    return Ok(None);
                }
            }
        }
    }

    /// Splits the next line without `csv_core` when nothing in it needs a
    /// CSV parser: it ends with a `\n` already in the buffer and holds no
    /// quote and no other `\r`. Most lines of most exports are like this,
    /// and finding their delimiters with `memchr` costs a fraction of a
    /// byte-by-byte state machine. Fields go to `out` exactly as
    /// `csv_core` would write them, their ends to `self.ends`; returns how
    /// many fields, or `None` (nothing consumed) for `csv_core` to read the
    /// line.
    fn read_plain_line(&mut self, out: &mut TextBuilder) -> Option<usize> {
        if !self.plain_lines {
            return None;
        }
        let input = &self.buf[self.at..self.filled];
        let newline = memchr::memchr(b'\n', input)?;
        let line = &input[..newline];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if memchr::memchr2(self.quote, b'\r', line).is_some() {
            return None;
        }
        if out.bytes.len() - out.used < line.len() + 16 {
            let grow = out.bytes.len().max(1 << 16).max(line.len() + 16);
            out.bytes.resize(out.bytes.len() + grow, 0);
        }
        let start = out.used;
        let mut nends = 0;
        let mut from = 0;
        for at in memchr::memchr_iter(self.delimiter, line).chain([line.len()]) {
            if nends == self.ends.len() {
                self.ends.resize(nends * 2, 0);
            }
            let n = at - from;
            // A short field is moved as one 16-byte word (what follows it
            // in `out` is overwritten next); a call to copy costs more.
            match input.get(from..from + 16) {
                Some(word) if n <= 16 => out.bytes[out.used..out.used + 16].copy_from_slice(word),
                _ => out.bytes[out.used..out.used + n].copy_from_slice(&line[from..at]),
            }
            out.used += n;
            self.ends[nends] = out.used - start;
            nends += 1;
            from = at + 1;
        }
        self.at += newline + 1;
        self.newlines += 1;
        self.last_byte = b'\n';
        Some(nends)
    }

    /// Reads up to `max_rows` rows (fewer if their text grows large).
    fn read_block(&mut self, max_rows: usize) -> Result<Option<TextRows>, IngestError> {
        if self.done {
            return Ok(None);
        }
        // Sized like the block before: growing copies them over and over.
        // A block already dropped lends its buffers: the reader writes
        // over their old bytes from the start, and needs them only to be
        // initialised up to the length it writes into.
        let (bytes, fields, rows) = self.block_size;
        let (mut text, mut ends, mut numbered) = self.spare.take().unwrap_or_default();
        let want = bytes + bytes / 8;
        if text.len() < want {
            text.resize(want, 0);
        }
        ends.reserve(fields + fields / 8);
        numbered.reserve(rows + rows / 8);
        let mut block = TextBuilder {
            bytes: text,
            used: 0,
            ends,
            rows: numbered,
        };
        while block.rows.len() < max_rows && block.used < CSV_BLOCK_BYTES {
            if self.read_record(&mut block)?.is_none() {
                self.done = true;
                break;
            }
        }
        if block.rows.is_empty() {
            return Ok(None);
        }
        self.block_size = (block.used, block.ends.len(), block.rows.len());
        block.finish(self.headers.len(), self.spare.clone()).map(Some).map_err(|line| IngestError::Encoding {
            path: self.path.clone(),
            line,
            message: "invalid UTF-8: the file is in another encoding; set reader.encoding (e.g. \"windows-1252\") or \"auto\"".into(),
        })
    }
}

impl RowReader for CsvRows {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn next_row(&mut self) -> Option<Result<RawRow, IngestError>> {
        loop {
            if let Some((block, i)) = &mut self.current
                && *i < block.rows.len()
            {
                let mut cells = Vec::new();
                let (number, problem) = block.row(*i, &mut cells);
                let values = cells.iter().map(Cell::to_raw).collect();
                *i += 1;
                return Some(Ok(RawRow {
                    number,
                    values,
                    problem,
                }));
            }
            match self.read_block(4096) {
                Ok(Some(block)) => self.current = Some((block, 0)),
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }

    fn next_block(&mut self, max_rows: usize) -> Option<Result<RowBlock, IngestError>> {
        if let Some((block, i)) = self.current.take()
            && i < block.rows.len()
        {
            // Rows already handed out one by one are not repeated.
            let mut rows = Vec::new();
            let mut cells = Vec::new();
            for j in i..block.rows.len() {
                let (number, problem) = block.row(j, &mut cells);
                rows.push(RawRow {
                    number,
                    values: cells.iter().map(Cell::to_raw).collect(),
                    problem,
                });
            }
            return Some(Ok(RowBlock::Rows(rows)));
        }
        self.read_block(max_rows)
            .transpose()
            .map(|b| b.map(RowBlock::Text))
    }

    fn detected(&self) -> Vec<(String, String)> {
        self.detected.clone()
    }

    fn file_digest(&self) -> Option<FileDigest> {
        Some(self.digest.clone())
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
        let mut book =
            calamine::open_workbook_auto(path).map_err(|e| unreadable(not_a_workbook(path, &e)))?;
        let names = book.sheet_names();
        let sheet = match &opts.sheet {
            Some(s) => {
                if !names.contains(s) {
                    return Err(unreadable(no_such_sheet(s, &names)));
                }
                s.clone()
            }
            None => names
                .first()
                .cloned()
                .ok_or_else(|| unreadable("the workbook has no sheets".into()))?,
        };
        let range = book.worksheet_range(&sheet).map_err(|e| {
            unreadable(format!(
                "sheet {} cannot be read: {e}",
                for_display(&sheet, SHEET_CHARS)
            ))
        })?;
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
                "sheet {} has no header at row {header_row}",
                for_display(&sheet, SHEET_CHARS)
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
            let _ = head.send(Err(not_a_workbook(path, &e)));
            return;
        }
    };
    let names = book.sheet_names();
    let sheet = match sheet {
        Some(s) if !names.contains(&s) => {
            let _ = head.send(Err(no_such_sheet(&s, &names)));
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
    let shown = for_display(&sheet, SHEET_CHARS).to_string();
    let mut cells = match book.worksheet_cells_reader(&sheet) {
        Ok(c) => c,
        Err(e) => {
            let _ = head.send(Err(format!("sheet {shown} cannot be read: {e}")));
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
                let message = format!("sheet {shown} cannot be read: {e}");
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
            None => Err(format!("sheet {shown} has no header at row {header_row}")),
        });
    }
}

/// Characters of a sheet's name shown in a message.
const SHEET_CHARS: usize = 64;

fn no_such_sheet(sheet: &str, names: &[String]) -> String {
    format!(
        "the workbook has no sheet {}; its sheets are: {}",
        for_display(sheet, SHEET_CHARS),
        list_for_display(names.iter().map(String::as_str), 40, SHEET_CHARS)
    )
}

/// Why a file calamine cannot open is not a workbook, and what to do,
/// from its first bytes: a CSV renamed .xlsx and an .xlsx cut short both
/// fail with the same "Zip error … EOCD".
fn not_a_workbook(path: &Path, error: &dyn std::fmt::Display) -> String {
    let error = for_display(&error.to_string(), 300).bare().to_string();
    let mut head = Vec::with_capacity(4096);
    if File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut head))
        .is_err()
    {
        return format!("not a readable Excel or OpenDocument workbook: {error}");
    }
    if head.is_empty() {
        return "the file is empty: export it again".into();
    }
    // Every zip archive (xlsx, xlsm, ods) starts with a local file header.
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return format!(
            "the workbook is damaged or incomplete: it starts as an Excel workbook (a zip archive) but cannot be read ({error}). It was probably cut short while it was copied, downloaded or written: copy or export it again"
        );
    }
    // The compound-file signature of .xls (and of encrypted workbooks).
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return format!(
            "the file is an old-format (.xls) or password-protected workbook that cannot be read as it is ({error}): name it .xls if it is one, or open it in Excel and save it as .xlsx without a password"
        );
    }
    let (text, utf16) = match head.as_slice() {
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] => (Vec::new(), true),
        bytes => (
            bytes
                .strip_prefix(b"\xEF\xBB\xBF")
                .unwrap_or(bytes)
                .to_vec(),
            false,
        ),
    };
    let is_text = utf16
        || !text
            .iter()
            .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C));
    if !is_text {
        return format!("not a readable Excel or OpenDocument workbook: {error}");
    }
    if text.trim_ascii_start().starts_with(b"<") {
        return "not an Excel file: it is an HTML or XML page (some systems save web tables with an Excel name). Open it in Excel and save it as .xlsx, or export the data as CSV".into();
    }
    let first_line = if utf16 {
        String::new()
    } else {
        let line = text.split(|&b| b == b'\n').next().unwrap_or(&[]);
        format!(
            " (its first line: {})",
            for_display(String::from_utf8_lossy(line).trim_end(), 80)
        )
    };
    format!(
        "not an Excel file: it is text, and looks like CSV{first_line}. Set reader.format = \"csv\" in the mapping, or rename the file to .csv"
    )
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
    digest: FileDigest,
    lines: std::io::Lines<BufReader<Box<dyn Read + Send>>>,
    line: u64,
    headers: Vec<String>,
    pending: std::collections::VecDeque<RawRow>,
}

impl NdjsonRows {
    pub fn open(path: &Path, wanted: &[&str]) -> Result<NdjsonRows, IngestError> {
        let (input, _, _, digest) = text_reader(path, Some("utf-8"))?;
        let mut rows = NdjsonRows {
            digest,
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

    fn file_digest(&self) -> Option<FileDigest> {
        Some(self.digest.clone())
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
        let (input, _, _, _) = text_reader(path, Some("utf-8"))?;
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
        assert_eq!(b.number, 4, "the row ends on line 4");
        assert_eq!(b.values[1].text(), "two\nlines \"quoted\"");
        let c = r.next_row().unwrap().unwrap();
        assert_eq!(
            c.problem,
            Some(RowProblem::FieldCount {
                found: 1,
                expected: 2
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
