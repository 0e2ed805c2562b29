//! Corridor intake: the front door.
//!
//! A data officer's export comes in as it is — CSV in any encoding, Excel,
//! JSON, Parquet — with a mapping file ([`mapping::Mapping`]) that says how
//! its columns become fields of the standard. [`ingest`] reads it row by row
//! ([`read`]), maps and validates each row ([`transform`], [`validate`]),
//! replaces identifiers by keyed pseudonyms ([`pseudonym`]) and hands stored
//! records, as Arrow batches, and quarantined rows, with their reasons, to a
//! [`RecordSink`]. Nothing is lost: every row read is either stored or
//! quarantined. Only this crate parses source files.
//!
//! The API: [`ingest`] with a [`Mapping`], a [`Pseudonymiser`] and a
//! [`RecordSink`]; the readers ([`read::open`]) that `corridor-link` uses
//! too; [`draft`] for a first mapping; the secrets ([`secret`]); errors are
//! [`IngestError`], a row's quarantine reason is a [`Reason`].

pub mod batch;
mod dates;
pub mod draft;
mod look;
pub mod mapping;
pub mod pseudonym;
pub mod read;
mod repeats;
pub mod secret;
pub mod transform;
pub(crate) mod validate;
pub mod value;
mod zones;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use corridor_model::{ForDisplay, for_display};
use serde::Serialize;

pub use mapping::Mapping;
pub use pseudonym::Pseudonymiser;
pub use transform::Reason;

/// A file that cannot be ingested at all. A bad row is never an `IngestError`:
/// it is quarantined.
///
/// Values from the file are escaped and cut where messages are made; the
/// messages are escaped once more when shown (line by line), so that text
/// a library quotes from a file (a workbook's XML, a JSON parser's
/// excerpt) cannot reach a terminal raw either.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{}: {source}", shown_path(path))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("mapping {}:\n{}", shown_path(path), shown(message))]
    Mapping { path: PathBuf, message: String },
    #[error(
        "{}: the mapping reads column(s) {}, which the file does not have.\n  The file's columns: {}\n  {}\n  Fix the column names in the mapping (or reader.header_row / reader.sheet / reader.delimiter if the header was not found).",
        shown_path(path),
        shown(column),
        shown(available),
        shown(closest)
    )]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: String,
        closest: String,
    },
    #[error("{}{}: {}", shown_path(path), if *line > 0 { format!(", line {line}") } else { String::new() }, shown(message))]
    Encoding {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{}: {}", shown_path(path), shown(message))]
    Unreadable { path: PathBuf, message: String },
    #[error(
        "{}: could not store the submission: {}",
        shown_path(path),
        shown(message)
    )]
    Sink { path: PathBuf, message: String },
}

/// Characters of one line of an error message shown at most.
const MESSAGE_LINE_CHARS: usize = 2_000;

fn shown(message: &str) -> ForDisplay<'_> {
    for_display(message, MESSAGE_LINE_CHARS)
        .bare()
        .keep_newlines()
}

/// A path as shown in a message: a file name can hold control characters
/// too.
fn shown_path(path: &Path) -> String {
    for_display(&path.display().to_string(), MESSAGE_LINE_CHARS)
        .bare()
        .to_string()
}

/// A row that was not stored, with why. Identifier columns' values are
/// never kept (the row number leads back to the file).
#[derive(Debug, Clone, Serialize)]
pub struct QuarantinedRow {
    pub row: u64,
    pub field: Option<String>,
    pub reason: &'static str,
    pub message: String,
    /// (column, value as in the file) for the mapped, non-identifying columns.
    pub original: Vec<(String, String)>,
}

/// Where ingested records go. The store implements it; tests collect.
pub trait RecordSink {
    fn write_batch(&mut self, batch: RecordBatch) -> Result<(), String>;
    fn quarantine(&mut self, row: QuarantinedRow) -> Result<(), String>;
    /// Takes back records already written, by `source_row`, given in
    /// increasing order; called at most once, after the last batch, for
    /// the rare exact repeats found only at the end of a very long file.
    /// Every row given must have been written.
    fn withdraw(
        &mut self,
        rows: &mut dyn Iterator<Item = Result<u64, String>>,
    ) -> Result<(), String>;
}

/// Identifies what is being ingested.
#[derive(Debug, Clone)]
pub struct Submission<'a> {
    pub file: &'a Path,
    pub source_id: &'a str,
    pub submission_id: &'a str,
    /// Where a file too long for memory spills (the workspace's staging
    /// folder, on the disk that takes the data anyway); the system's
    /// temporary folder when `None`, which may be memory (tmpfs).
    pub scratch: Option<&'a Path>,
}

/// What happened to a file's rows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub file: String,
    pub record_type: String,
    pub rows_read: u64,
    pub stored: u64,
    pub quarantined: u64,
    /// reason code → rows.
    pub by_reason: BTreeMap<String, u64>,
    /// (reason, field) → rows, for the report's detail.
    pub by_field: BTreeMap<String, u64>,
    /// What the reader worked out (encoding, delimiter, sheet).
    pub detected: BTreeMap<String, String>,
    /// The file's SHA-256 (hex), when its reader took it while reading
    /// ([`read::hashes_while_reading`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_sha256: Option<String>,
    /// What looks wrong but did not stop the file: a mapping that may not
    /// mean what it says, a header naming a column twice, dates two
    /// formats read differently. Values from the file are escaped and cut.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Rows read, mapped and stored together.
const BLOCK_ROWS: usize = 8192;

/// A block of rows after mapping, on its way back to be stored in order.
struct MappedBlock {
    block: read::RowBlock,
    /// The block's valid rows, in order.
    batch: RecordBatch,
    outcomes: Vec<Outcome>,
    /// (field, row) of valid rows whose date two formats read differently.
    ambiguous: Vec<(usize, u64)>,
}

enum Outcome {
    /// A valid row: its content hash, for spotting repeats, and its place in
    /// the block.
    Valid {
        digest: u64,
        index: usize,
        number: u64,
    },
    Quarantined(QuarantinedRow),
}

/// Characters of a value (or a column's name) the quarantine keeps as the
/// file has it; a longer one is kept cut, escaped, with its length.
const ORIGINAL_CHARS: usize = 1_000;

fn kept(text: &str) -> String {
    if text.len() > ORIGINAL_CHARS && text.chars().nth(ORIGINAL_CHARS).is_some() {
        for_display(text, ORIGINAL_CHARS).bare().to_string()
    } else {
        text.to_string()
    }
}

/// The mapped columns of a row as the file has them, for the quarantine.
fn original(
    program: &transform::Program,
    headers: &[String],
    cells: &[read::Cell],
) -> Vec<(String, String)> {
    program
        .shown_columns
        .iter()
        .filter_map(|&i| Some((kept(headers.get(i)?), kept(&cells.get(i)?.text()))))
        .collect()
}

/// Everything a mapping thread needs, shared by all of them.
struct Mapper<'a> {
    program: &'a transform::Program,
    headers: &'a [String],
    key: &'a Pseudonymiser,
    record_keys: pseudonym::RecordKeys,
    rules: validate::Rules,
    source_id: &'a str,
    submission_id: &'a str,
    today: i32,
}

impl Mapper<'_> {
    /// Maps, validates and keys a block of rows; repeats are found later,
    /// in file order.
    fn map(
        &self,
        (block, orders): (read::RowBlock, dates::Orders),
        scratch: &mut transform::Scratch,
        batch: &mut batch::BatchBuilder,
    ) -> Result<MappedBlock, arrow::error::ArrowError> {
        self.program.set_orders(scratch, &orders);
        let mut ambiguous = Vec::new();
        let mut outcomes = Vec::with_capacity(block.len());
        let mut cells = Vec::new();
        let mut values = Vec::new();
        let mut record_bytes = Vec::new();
        for i in 0..block.len() {
            let (number, problem) = block.row(i, &mut cells);
            let outcome: Result<(), transform::RowError> = match &problem {
                Some(read::RowProblem::FieldCount {
                    found,
                    expected,
                    lines,
                }) => Err(transform::RowError {
                    field: None,
                    reason: Reason::MalformedRow,
                    message: if *lines > 1 {
                        format!(
                            "the record spans lines {number}–{} and has {found} fields where the header has {expected}: a quote opened on line {number} is closed {} lines later, or never (a quote inside a value); the lines it swallowed are in this row",
                            number + u64::from(*lines) - 1,
                            lines - 1
                        )
                    } else {
                        format!(
                            "the row has {found} fields where the header has {expected} (a delimiter or quote inside a value, or a cut-off line)"
                        )
                    },
                }),
                Some(read::RowProblem::InvalidJson(m)) => Err(transform::RowError {
                    field: None,
                    reason: Reason::InvalidJson,
                    message: format!(
                        "not valid JSON: {}",
                        for_display(m, value::SHOWN_CHARS * 4).bare()
                    ),
                }),
                None => self
                    .program
                    .eval(&cells, self.key, scratch, &mut values)
                    .and_then(|()| self.rules.check(&values, self.today)),
            };
            match outcome {
                Ok(()) => {
                    ambiguous.extend(scratch.ambiguous().iter().map(|&f| (f, number)));
                    outcomes.push(Outcome::Valid {
                        digest: value::record_digest(&values, &mut record_bytes),
                        index: i,
                        number,
                    });
                    let key = self.record_keys.of(number, block.content(i));
                    batch.push(&values, key, number);
                }
                Err(e) => outcomes.push(Outcome::Quarantined(QuarantinedRow {
                    row: number,
                    field: e.field,
                    reason: e.reason.code(),
                    // A record over several lines is found by its span (a
                    // malformed one says it already).
                    message: match block.lines(i) {
                        n if n > 1 && problem.is_none() => format!(
                            "{} (the record spans lines {number}–{})",
                            e.message,
                            number + u64::from(n) - 1
                        ),
                        _ => e.message,
                    },
                    original: if problem.is_some() {
                        Vec::new()
                    } else {
                        original(self.program, self.headers, &cells)
                    },
                })),
            }
        }
        Ok(MappedBlock {
            batch: batch.finish()?,
            block,
            outcomes,
            ambiguous,
        })
    }
}

/// The storing side of [`ingest`]: puts mapped blocks back in file order,
/// quarantines exact repeats and hands everything to the sink.
struct Store<'a> {
    program: &'a transform::Program,
    headers: &'a [String],
    file: &'a Path,
    /// Exact repeats of a record within one file: content hash → first row.
    seen: repeats::Repeats,
    /// A block's valid rows (digest, row) and the first row of each.
    records: Vec<(u64, u64)>,
    first: Vec<u64>,
    /// Blocks mapped ahead of the next one to store, by number.
    waiting: BTreeMap<usize, Result<MappedBlock, IngestError>>,
    next: usize,
    /// Per contested date field: stored rows whose date two formats read
    /// differently, and the first of them.
    ambiguous: BTreeMap<usize, (u64, Vec<u64>)>,
}

/// Rows named in a warning at most.
const LISTED_ROWS: usize = 5;

impl Store<'_> {
    /// Takes block `seq` as it comes back from mapping and stores every
    /// block that is now next in line.
    fn take(
        &mut self,
        seq: usize,
        mapped: Result<MappedBlock, IngestError>,
        report: &mut Report,
        sink: &mut dyn RecordSink,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), IngestError> {
        self.waiting.insert(seq, mapped);
        while let Some(mapped) = self.waiting.remove(&self.next) {
            self.next += 1;
            self.store(mapped?, report, sink)?;
            progress(report.rows_read);
        }
        Ok(())
    }

    /// Row `row`, whose cells are `cells`, as a repeat of row `first`.
    fn repeat(&self, row: u64, first: u64, cells: &[read::Cell]) -> QuarantinedRow {
        QuarantinedRow {
            row,
            field: None,
            reason: Reason::DuplicateRecord.code(),
            message: format!("the same record as row {first}"),
            original: original(self.program, self.headers, cells),
        }
    }

    /// Quarantines the repeats that could only be found once the whole
    /// file was seen (those of a file too long for the repeats table):
    /// withdrawn from the sink, and read again from the file for their
    /// original values.
    fn settle_late_repeats(
        mut self,
        reopen: impl FnOnce() -> Result<Box<dyn read::RowReader>, IngestError>,
        report: &mut Report,
        sink: &mut dyn RecordSink,
    ) -> Result<(), IngestError> {
        let sink_err = |message: String| IngestError::Sink {
            path: self.file.to_path_buf(),
            message,
        };
        let spill_err =
            |e: std::io::Error| sink_err(format!("finding exact repeats in a temporary file: {e}"));
        let late = self.seen.late_repeats().map_err(spill_err)?;
        if late.len() == 0 {
            return Ok(());
        }
        let rows = late.rows().map_err(spill_err)?;
        sink.withdraw(&mut rows.map(|r| r.map(|(row, _)| row).map_err(|e| e.to_string())))
            .map_err(sink_err)?;
        report.stored -= late.len();
        let mut reader = reopen()?;
        let mut wanted = late.rows().map_err(spill_err)?.peekable();
        let mut detail = String::new();
        while let Some(block) = reader.next_block(BLOCK_ROWS) {
            let block = block?;
            let mut cells = Vec::new();
            for i in 0..block.len() {
                let (number, _) = block.row(i, &mut cells);
                while let Some((row, first)) = wanted
                    .next_if(|r| r.as_ref().map_or(true, |(row, _)| *row == number))
                    .transpose()
                    .map_err(spill_err)?
                {
                    let quarantined = self.repeat(row, first, &cells);
                    report.count_quarantined(&quarantined, &mut detail);
                    sink.quarantine(quarantined).map_err(sink_err)?;
                }
            }
            if wanted.peek().is_none() {
                return Ok(());
            }
        }
        Err(sink_err(
            "the file changed while it was being ingested: rows read the first time are gone"
                .into(),
        ))
    }

    fn store(
        &mut self,
        mapped: MappedBlock,
        report: &mut Report,
        sink: &mut dyn RecordSink,
    ) -> Result<(), IngestError> {
        let sink_err = |message: String| IngestError::Sink {
            path: self.file.to_path_buf(),
            message,
        };
        let MappedBlock {
            block,
            batch,
            outcomes,
            ambiguous,
        } = mapped;
        report.rows_read += block.len() as u64;
        let mut keep = Vec::with_capacity(batch.num_rows());
        let mut cells = Vec::new();
        let mut detail = String::new();
        self.records.clear();
        self.records
            .extend(outcomes.iter().filter_map(|outcome| match outcome {
                Outcome::Valid { digest, number, .. } => Some((*digest, *number)),
                Outcome::Quarantined(_) => None,
            }));
        self.first.clear();
        self.seen
            .first_rows(&self.records, &mut self.first)
            .map_err(|e| sink_err(format!("spilling record digests to a temporary file: {e}")))?;
        let mut firsts = self.first.iter();
        let mut repeated = Vec::new();
        for outcome in outcomes {
            let quarantined = match outcome {
                Outcome::Quarantined(row) => row,
                Outcome::Valid { index, number, .. } => {
                    let first = firsts.next().copied().unwrap_or(number);
                    keep.push(first == number);
                    if first == number {
                        continue;
                    }
                    if !ambiguous.is_empty() {
                        repeated.push(number);
                    }
                    block.row(index, &mut cells);
                    self.repeat(number, first, &cells)
                }
            };
            report.count_quarantined(&quarantined, &mut detail);
            sink.quarantine(quarantined).map_err(sink_err)?;
        }
        for (field, row) in ambiguous {
            if repeated.contains(&row) {
                continue;
            }
            let (n, rows) = self.ambiguous.entry(field).or_default();
            *n += 1;
            if rows.len() < LISTED_ROWS {
                rows.push(row);
            }
        }
        // Repeats are rare: the rows around them go to the sink as slices of
        // the batch, which copy nothing.
        let mut from = 0;
        while from < keep.len() {
            let to = keep[from..]
                .iter()
                .position(|k| !*k)
                .map_or(keep.len(), |n| from + n);
            if to > from {
                report.stored += (to - from) as u64;
                sink.write_batch(batch.slice(from, to - from))
                    .map_err(sink_err)?;
            }
            from = to + 1;
        }
        Ok(())
    }
}

impl Report {
    /// Counts a quarantined row; `detail` is a reused buffer (a dirty file
    /// quarantines hundreds of thousands of rows under a few reasons).
    fn count_quarantined(&mut self, row: &QuarantinedRow, detail: &mut String) {
        use std::fmt::Write;
        self.quarantined += 1;
        match self.by_reason.get_mut(row.reason) {
            Some(n) => *n += 1,
            None => {
                self.by_reason.insert(row.reason.to_string(), 1);
            }
        }
        detail.clear();
        let _ = write!(
            detail,
            "{} ({})",
            row.reason,
            row.field.as_deref().unwrap_or("row")
        );
        match self.by_field.get_mut(detail.as_str()) {
            Some(n) => *n += 1,
            None => {
                self.by_field.insert(detail.clone(), 1);
            }
        }
    }
}

/// Ingests one file through a mapping into a sink. `progress` is called
/// with the number of rows read so far, every block of rows.
///
/// One thread reads blocks of rows, as many threads as there are cores map
/// them, and this thread stores them in file order: a row's number, its
/// duplicate check and its place in the quarantine do not depend on which
/// thread mapped it.
pub fn ingest(
    mapping: &Mapping,
    submission: &Submission,
    key: &Pseudonymiser,
    sink: &mut dyn RecordSink,
    progress: &mut dyn FnMut(u64),
) -> Result<Report, IngestError> {
    let seen = repeats::Repeats::spilling_to(submission.scratch);
    ingest_with(mapping, submission, key, sink, progress, seen)
}

/// [`ingest`] with a given repeats table (tests give it a small one).
fn ingest_with(
    mapping: &Mapping,
    submission: &Submission,
    key: &Pseudonymiser,
    sink: &mut dyn RecordSink,
    progress: &mut dyn FnMut(u64),
    seen: repeats::Repeats,
) -> Result<Report, IngestError> {
    let file = submission.file;
    let wanted = mapping.source_columns();
    let mut reader = read::open(file, &mapping.reader, &wanted)?;
    let program = transform::Program::compile(mapping, reader.headers(), file)?;
    let headers: Vec<String> = reader.headers().to_vec();
    let file_digest = reader.file_digest();
    let t = program.record_type;
    let mut report = Report {
        file: file.display().to_string(),
        record_type: t.name().to_string(),
        // A sheet's name is the file's text.
        detected: reader
            .detected()
            .into_iter()
            .map(|(k, v)| (k, for_display(&v, 200).bare().to_string()))
            .collect(),
        warnings: mapping.warnings(),
        ..Default::default()
    };
    report.warnings.extend(program.warnings.iter().cloned());
    let date_order = dates::DateOrder::new(&program);
    let mapper = Mapper {
        program: &program,
        headers: &headers,
        key,
        record_keys: key.record_keys(submission.source_id),
        rules: validate::Rules::new(t),
        source_id: submission.source_id,
        submission_id: submission.submission_id,
        today: validate::today(),
    };
    let sink_err = |message: String| IngestError::Sink {
        path: file.to_path_buf(),
        message,
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    type Numbered<T> = (usize, Result<T, IngestError>);
    let (block_tx, block_rx) =
        std::sync::mpsc::sync_channel::<Numbered<(read::RowBlock, dates::Orders)>>(2 * workers);
    // Held only by the mapping threads: when they stop, the reader's next
    // send fails and it stops too (nothing may wait for a reader that no
    // one reads from).
    let block_rx = std::sync::Arc::new(std::sync::Mutex::new(block_rx));
    let (mapped_tx, mapped_rx) =
        std::sync::mpsc::sync_channel::<Numbered<MappedBlock>>(2 * workers);
    let program_ref = &program;
    let (stored, date_order) = std::thread::scope(|scope| {
        // Reads in file order, so it also decides the format of dates that
        // two formats read differently (see `dates`), holding a few blocks
        // back while a column is undecided.
        let reading = scope.spawn(move || {
            let mut order = date_order;
            let mut held: Vec<read::RowBlock> = Vec::new();
            let mut seq = 0;
            let send =
                |seq: &mut usize, held: &mut Vec<read::RowBlock>, orders: &dates::Orders| -> bool {
                    for block in held.drain(..) {
                        if block_tx.send((*seq, Ok((block, orders.clone())))).is_err() {
                            return false;
                        }
                        *seq += 1;
                    }
                    true
                };
            while let Some(block) = reader.next_block(BLOCK_ROWS) {
                let block = match block {
                    Ok(block) => block,
                    Err(e) => {
                        let orders = order.orders();
                        if send(&mut seq, &mut held, &orders) {
                            let _ = block_tx.send((seq, Err(e)));
                        }
                        return order;
                    }
                };
                if !order.settled() {
                    order.scan(program_ref, &block);
                }
                held.push(block);
                if order.hold() && held.len() < dates::HOLD_BLOCKS {
                    continue;
                }
                let orders = order.orders();
                if !send(&mut seq, &mut held, &orders) {
                    return order;
                }
            }
            let orders = order.orders();
            send(&mut seq, &mut held, &orders);
            order
        });
        for _ in 0..workers {
            let mapped_tx = mapped_tx.clone();
            let (mapper, block_rx) = (&mapper, block_rx.clone());
            scope.spawn(move || {
                let mut scratch = mapper.program.scratch();
                let mut batch = batch::BatchBuilder::new(
                    mapper.program.record_type,
                    mapper.source_id,
                    mapper.submission_id,
                    BLOCK_ROWS,
                );
                loop {
                    let next = match block_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, block)) = next else { return };
                    let mapped = block.and_then(|b| {
                        mapper
                            .map(b, &mut scratch, &mut batch)
                            .map_err(|e| sink_err(e.to_string()))
                    });
                    if mapped_tx.send((seq, mapped)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(mapped_tx);
        drop(block_rx);
        // Stores blocks in file order. Returning early drops the receiver,
        // which stops the mapping threads and then the reader.
        let mut store = Store {
            program: &program,
            headers: &headers,
            file,
            seen,
            records: Vec::new(),
            first: Vec::new(),
            waiting: BTreeMap::new(),
            next: 0,
            ambiguous: BTreeMap::new(),
        };
        let stored = mapped_rx
            .iter()
            .try_for_each(|(seq, mapped)| store.take(seq, mapped, &mut report, sink, progress));
        drop(mapped_rx);
        let order = match reading.join() {
            Ok(order) => order,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (stored.map(|()| store), order)
    });
    let mut store = stored?;
    for (field, how) in date_order.decided() {
        report.detected.insert(field, how);
    }
    let ambiguous = std::mem::take(&mut store.ambiguous);
    for (field, (n, rows)) in ambiguous {
        report
            .warnings
            .push(ambiguous_warning(&program, &date_order, field, n, &rows));
    }
    store.settle_late_repeats(
        || read::open(file, &mapping.reader, &wanted),
        &mut report,
        sink,
    )?;
    report.file_sha256 = file_digest.and_then(|d| d.get().map(hex::encode));
    progress(report.rows_read);
    Ok(report)
}

/// The report's warning about the `n` stored rows (the first `rows`) whose
/// date in `field` two of its formats read differently.
fn ambiguous_warning(
    program: &transform::Program,
    order: &dates::DateOrder,
    field: usize,
    n: u64,
    rows: &[u64],
) -> String {
    let (name, formats) = program
        .contested_dates()
        .find(|c| c.0 == field)
        .map_or(("date", &[][..]), |c| (c.1, c.2));
    let mut listed: Vec<String> = rows.iter().map(u64::to_string).collect();
    if n > rows.len() as u64 {
        listed.push("…".into());
    }
    let all = dates::names(formats, u64::MAX, ", ");
    let settled = order.last(field).and_then(|o| {
        Some((
            o.decisions.last()?.row,
            dates::names(formats, o.active, " or "),
        ))
    });
    match settled {
        Some((row, kept)) => format!(
            "{name}: {} dates (rows {}) that the formats {all} read differently were read with the first of them that reads them, before row {row} showed that this column's dates are {kept}: check them",
            transform::thousands(n),
            listed.join(", ")
        ),
        None => format!(
            "{name}: {} dates (rows {}) read differently with the formats {all}, and no date in the file decided which one the column uses; they were read with the first that reads them. Check them, and list only the format the export uses",
            transform::thousands(n),
            listed.join(", ")
        ),
    }
}

/// A sink that keeps everything in memory: for `mapping check` and tests.
#[derive(Default)]
pub struct MemorySink {
    pub batches: Vec<RecordBatch>,
    pub quarantined: Vec<QuarantinedRow>,
    /// Stop keeping batches after this many rows (0 = keep all).
    pub keep_rows: usize,
    kept: usize,
}

impl MemorySink {
    pub fn keeping(rows: usize) -> MemorySink {
        MemorySink {
            keep_rows: rows,
            ..Default::default()
        }
    }
}

impl RecordSink for MemorySink {
    fn write_batch(&mut self, batch: RecordBatch) -> Result<(), String> {
        if self.keep_rows == 0 || self.kept < self.keep_rows {
            self.kept += batch.num_rows();
            self.batches.push(batch);
        }
        Ok(())
    }

    fn quarantine(&mut self, row: QuarantinedRow) -> Result<(), String> {
        self.quarantined.push(row);
        Ok(())
    }

    fn withdraw(
        &mut self,
        rows: &mut dyn Iterator<Item = Result<u64, String>>,
    ) -> Result<(), String> {
        let rows = rows.collect::<Result<std::collections::HashSet<u64>, String>>()?;
        for batch in &mut self.batches {
            let keep: arrow::array::BooleanArray = batch::source_rows(batch)?
                .iter()
                .map(|n| n.map(|n| !rows.contains(&n)))
                .collect();
            *batch =
                arrow::compute::filter_record_batch(batch, &keep).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A border-events file of `fecha;doc;sentido` rows in `dir`, and its
    /// mapping.
    fn events_file(dir: &Path, rows: impl Iterator<Item = String>) -> (PathBuf, Mapping) {
        let file = dir.join("events.csv");
        let mut text = String::from("fecha;doc;sentido\n");
        for row in rows {
            text.push_str(&row);
            text.push('\n');
        }
        std::fs::write(&file, text).expect("write");
        let mapping = toml::from_str(
            r#"
record_type = "border_events"
source = "test"
[reader]
delimiter = ";"
date_formats = ["%d/%m/%Y"]
[fields]
reporting_country = { constant = "GTM" }
citizenship = { constant = "GTM" }
sex = { constant = "_U" }
person_key = { pseudonymise = ["doc"] }
direction = { column = "sentido", recode = { "E" = "entry", "S" = "exit" } }
event_date = { column = "fecha" }
"#,
        )
        .expect("mapping");
        (file, mapping)
    }

    /// Whatever a message quotes (a workbook's XML, a JSON parser's
    /// excerpt, a file's name), the error as shown holds no control
    /// character but its line breaks.
    #[test]
    fn errors_are_shown_escaped() {
        let err = IngestError::Unreadable {
            path: PathBuf::from("in\x1b[2Jbox.xlsx"),
            message: format!(
                "bad <t>\x1b]0;x\x07</t>\nsecond line {}",
                "y".repeat(10_000)
            ),
        };
        let shown = err.to_string();
        assert!(
            shown.starts_with("in\\u{1b}[2Jbox.xlsx: bad <t>\\u{1b}]0;x\\u{7}</t>\nsecond"),
            "{shown}"
        );
        assert!(!shown.chars().any(|c| c.is_control() && c != '\n'));
        assert!(
            shown.ends_with("… (10,012 bytes)"),
            "{}",
            &shown[shown.len() - 40..]
        );
    }

    fn submission(file: &Path) -> Submission<'_> {
        Submission {
            file,
            source_id: "test",
            submission_id: "s1",
            scratch: None,
        }
    }

    /// A file whose repeats do not fit in the repeats table gives what it
    /// gives with room for all: the same rows stored, in the same order
    /// with the same keys, and the same rows quarantined for the same
    /// reasons, those found at the end only coming last.
    #[test]
    fn a_full_repeats_table_loses_no_repeat() {
        let dir = tempfile::tempdir().expect("dir");
        let mut x: u64 = 7;
        let rows = (0..20_000).map(|i| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let r = x >> 33;
            let day = if i % 997 == 0 {
                "xx".to_string()
            } else {
                format!("{:02}", r % 3 + 1)
            };
            format!(
                "{day}/01/2024;D{};{}",
                r % 400,
                ["E", "S"][(r % 2) as usize]
            )
        });
        let (file, mapping) = events_file(dir.path(), rows);
        let sub = submission(&file);
        let run = |seen| {
            let mut sink = MemorySink::default();
            let key = Pseudonymiser::new(vec![1; 32]);
            let report =
                ingest_with(&mapping, &sub, &key, &mut sink, &mut |_| {}, seen).expect("ingest");
            let column = |name: &str| -> Vec<u64> {
                sink.batches
                    .iter()
                    .flat_map(|b| {
                        let c = b.column_by_name(name).expect("column");
                        let c = c.as_any().downcast_ref::<arrow::array::UInt64Array>();
                        c.expect("u64").values().to_vec()
                    })
                    .collect()
            };
            let stored = (column("source_row"), column("record_key"));
            let mut quarantined: Vec<String> =
                sink.quarantined.iter().map(|q| format!("{q:?}")).collect();
            let in_order = sink.quarantined.windows(2).all(|w| w[0].row < w[1].row);
            quarantined.sort();
            (report, stored, quarantined, in_order)
        };
        let (all, stored, quarantined, in_order) = run(repeats::Repeats::spilling_to(None));
        let (full, stored_full, quarantined_full, in_order_full) =
            run(repeats::Repeats::bounded(2, 64, 300, Some(dir.path())));
        assert!(all.by_reason["duplicate_record"] > 10_000, "{all:?}");
        assert!(all.by_reason["invalid_date"] > 10, "{all:?}");
        assert_eq!(stored_full, stored);
        assert_eq!(quarantined_full, quarantined);
        assert_eq!(
            (
                full.rows_read,
                full.stored,
                full.quarantined,
                &full.by_reason,
                &full.by_field
            ),
            (
                all.rows_read,
                all.stored,
                all.quarantined,
                &all.by_reason,
                &all.by_field
            )
        );
        assert!(in_order && !in_order_full, "late repeats come last");
    }

    /// A sink that fails: the submission stops with its error, and the
    /// reading and mapping threads stop with it instead of waiting for
    /// ever on a full queue.
    #[test]
    fn a_failing_sink_stops_every_thread() {
        struct Failing;
        impl RecordSink for Failing {
            fn write_batch(&mut self, _: RecordBatch) -> Result<(), String> {
                Err("disk full".into())
            }
            fn quarantine(&mut self, _: QuarantinedRow) -> Result<(), String> {
                Ok(())
            }
            fn withdraw(
                &mut self,
                _: &mut dyn Iterator<Item = Result<u64, String>>,
            ) -> Result<(), String> {
                Ok(())
            }
        }
        let dir = tempfile::tempdir().expect("dir");
        let rows = (0..200_000).map(|i| format!("{:02}/01/2024;D{i};E", i % 28 + 1));
        let (file, mapping) = events_file(dir.path(), rows);
        let sub = submission(&file);
        let err = ingest(
            &mapping,
            &sub,
            &Pseudonymiser::new(vec![1; 32]),
            &mut Failing,
            &mut |_| {},
        )
        .expect_err("the sink fails");
        assert!(err.to_string().contains("disk full"), "{err}");
    }
}
