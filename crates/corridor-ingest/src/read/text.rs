//! Text files: encoding detection, the file's SHA-256 taken while reading, delimiter sniffing, and CSV rows split into one buffer per block.

use super::*;

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
pub(super) fn text_reader(
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

/// Picks the delimiter that splits the first records most consistently. A
/// record is read as a CSV reader reads it: a line break inside quotes
/// does not end it, so a quoted value over two lines is one record.
pub fn sniff_delimiter(sample: &str) -> u8 {
    let mut best = (b',', 0usize, 0usize);
    for d in [b',', b';', b'\t', b'|'] {
        let mut counts: Vec<usize> = Vec::new();
        let (mut quoted, mut n, mut blank) = (false, 0usize, true);
        for b in sample.bytes() {
            match b {
                b'"' => {
                    quoted = !quoted;
                    blank = false;
                }
                b'\n' if !quoted => {
                    if !blank {
                        counts.push(n);
                    }
                    (n, blank) = (0, true);
                    if counts.len() > 30 {
                        break;
                    }
                }
                _ if b == d && !quoted => {
                    n += 1;
                    blank = false;
                }
                b'\r' | b' ' => {}
                _ => blank = false,
            }
        }
        // The sample's last record may be cut short; one record alone
        // is all there is.
        if counts.is_empty() && !blank {
            counts.push(n);
        }
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
    pub(super) plain_lines: bool,
    buf: Vec<u8>,
    /// The unread part of `buf`.
    at: usize,
    filled: usize,
    eof: bool,
    /// `\n` bytes consumed so far, and the last byte consumed.
    newlines: u64,
    last_byte: u8,
    /// The byte consumed before `last_byte`.
    prev_byte: u8,
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
    /// The line the record starts on.
    number: u64,
    /// The lines it spans: more than one when a quoted value holds line
    /// breaks, or a quote is never closed.
    lines: u32,
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
    /// Rows in the block.
    pub(super) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(super) fn content(&self, i: usize) -> u64 {
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

    pub(super) fn lines(&self, i: usize) -> u32 {
        self.rows[i].lines
    }

    pub(super) fn row<'a>(
        &'a self,
        i: usize,
        cells: &mut Vec<Cell<'a>>,
    ) -> (u64, Option<RowProblem>) {
        cells.clear();
        let found = self.ends_of(i).len();
        let number = self.rows[i].number;
        if found != self.expected {
            let problem = RowProblem::FieldCount {
                found,
                expected: self.expected,
                lines: self.rows[i].lines,
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
            prev_byte: 0,
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
            let last = self.newlines + 1 - u64::from(self.last_byte == b'\n');
            let ends = &self.ends[..nends];
            if nends == 1 && out.bytes[start..start + ends[0]].trim_ascii().is_empty() {
                out.used = start;
                continue; // a blank line
            }
            // A record is numbered by the line it starts on: the line breaks
            // inside its quoted values are the lines it spans beyond that.
            let content = &out.bytes[start..out.used];
            let mut inside = memchr::memchr_iter(b'\n', content).count() as u64;
            // A quote never closed takes the file's last line break into
            // its value: that one ends the record's last line.
            if self.eof
                && self.at == self.filled
                && self.last_byte == b'\n'
                && self.prev_byte != self.quote
                && content.last() == Some(&b'\n')
            {
                inside = inside.saturating_sub(1);
            }
            let line = last.saturating_sub(inside).max(1);
            let first_end = out.ends.len() as u32;
            out.ends.extend(ends.iter().map(|&e| (start + e) as u32));
            out.rows.push(TextRow {
                number: line,
                lines: u32::try_from(inside + 1).unwrap_or(u32::MAX),
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
            match consumed {
                [.., p, b] => (self.prev_byte, self.last_byte) = (*p, *b),
                [b] => (self.prev_byte, self.last_byte) = (self.last_byte, *b),
                [] => {}
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
        // A plain line holds no quote.
        (self.prev_byte, self.last_byte) = (0, b'\n');
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
