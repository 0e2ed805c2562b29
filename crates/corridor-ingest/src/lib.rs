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

pub mod batch;
pub mod draft;
pub mod mapping;
pub mod pseudonym;
pub mod read;
pub mod transform;
pub mod validate;
pub mod value;

use std::collections::{BTreeMap, HashMap};
use std::hash::Hasher;
use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use serde::Serialize;

pub use mapping::Mapping;
pub use pseudonym::Pseudonymiser;
pub use transform::Reason;

/// A file that cannot be ingested at all. A bad row is never an `IngestError`:
/// it is quarantined.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("mapping {}:\n{message}", path.display())]
    Mapping { path: PathBuf, message: String },
    #[error("{}: the mapping reads column(s) '{column}', which the file does not have.\n  The file's columns: {available}\n  {closest}\n  Fix the column names in the mapping (or reader.header_row / reader.sheet / reader.delimiter if the header was not found).", path.display())]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: String,
        closest: String,
    },
    #[error("{}{}: {message}", path.display(), if *line > 0 { format!(", line {line}") } else { String::new() })]
    Encoding {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Unreadable { path: PathBuf, message: String },
    #[error("{}: could not store the submission: {message}", path.display())]
    Sink { path: PathBuf, message: String },
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
}

/// Identifies what is being ingested.
#[derive(Debug, Clone)]
pub struct Submission<'a> {
    pub file: &'a Path,
    pub file_sha256: &'a str,
    pub source_id: &'a str,
    pub submission_id: &'a str,
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
}

const BATCH_ROWS: usize = 65_536;

/// Ingests one file through a mapping into a sink. `progress` is called
/// with the number of rows read so far, every few thousand rows.
pub fn ingest(
    mapping: &Mapping,
    submission: &Submission,
    key: &Pseudonymiser,
    sink: &mut dyn RecordSink,
    progress: &mut dyn FnMut(u64),
) -> Result<Report, IngestError> {
    let file = submission.file;
    let wanted = mapping.source_columns();
    let mut reader = read::open(file, &mapping.reader, &wanted)?;
    let program = transform::Program::compile(mapping, reader.headers(), file)?;
    let headers: Vec<String> = reader.headers().to_vec();
    let t = program.record_type;
    let today = validate::today();
    let mut report = Report {
        file: file.display().to_string(),
        record_type: t.name().to_string(),
        detected: reader.detected().into_iter().collect(),
        ..Default::default()
    };
    let mut batch = batch::BatchBuilder::new(t, submission.source_id, submission.submission_id);
    // Exact repeats of a record within one file: content hash → first row.
    let mut seen: HashMap<u64, u64> = HashMap::new();
    let sink_err = |message: String| IngestError::Sink {
        path: file.to_path_buf(),
        message,
    };
    while let Some(row) = reader.next_row() {
        let row = row?;
        report.rows_read += 1;
        if report.rows_read.is_multiple_of(8192) {
            progress(report.rows_read);
        }
        let original = |values: &[read::RawValue]| -> Vec<(String, String)> {
            program
                .shown_columns
                .iter()
                .filter_map(|&i| {
                    Some((headers.get(i)?.clone(), values.get(i)?.text().into_owned()))
                })
                .collect()
        };
        let outcome: Result<Vec<value::Value>, transform::RowError> = match &row.problem {
            Some(read::RowProblem::FieldCount { found, expected }) => Err(transform::RowError {
                field: None,
                reason: Reason::MalformedRow,
                message: format!(
                    "the row has {found} fields where the header has {expected} (a delimiter or quote inside a value, or a cut-off line)"
                ),
            }),
            Some(read::RowProblem::InvalidJson(m)) => Err(transform::RowError {
                field: None,
                reason: Reason::InvalidJson,
                message: format!("not valid JSON: {m}"),
            }),
            None => program
                .eval(&row.values, key)
                .and_then(|values| validate::check(t, &values, today).map(|()| values)),
        };
        let outcome = outcome.and_then(|values| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            for v in &values {
                v.hash_into(&mut h);
            }
            let digest = h.finish();
            match seen.get(&digest) {
                Some(first) => Err(transform::RowError {
                    field: None,
                    reason: Reason::DuplicateRecord,
                    message: format!("the same record as row {first}"),
                }),
                None => {
                    seen.insert(digest, row.number);
                    Ok(values)
                }
            }
        });
        match outcome {
            Ok(values) => {
                let record_key = key.record_key(submission.file_sha256, row.number);
                batch.push(&values, record_key, row.number);
                report.stored += 1;
                if batch.len() >= BATCH_ROWS {
                    let b = batch.finish().map_err(|e| sink_err(e.to_string()))?;
                    sink.write_batch(b).map_err(sink_err)?;
                }
            }
            Err(e) => {
                report.quarantined += 1;
                *report
                    .by_reason
                    .entry(e.reason.code().to_string())
                    .or_default() += 1;
                let detail = format!(
                    "{} ({})",
                    e.reason.code(),
                    e.field.as_deref().unwrap_or("row")
                );
                *report.by_field.entry(detail).or_default() += 1;
                sink.quarantine(QuarantinedRow {
                    row: row.number,
                    field: e.field,
                    reason: e.reason.code(),
                    message: e.message,
                    original: if row.problem.is_some() {
                        Vec::new()
                    } else {
                        original(&row.values)
                    },
                })
                .map_err(sink_err)?;
            }
        }
    }
    if !batch.is_empty() {
        let b = batch.finish().map_err(|e| sink_err(e.to_string()))?;
        sink.write_batch(b).map_err(sink_err)?;
    }
    progress(report.rows_read);
    Ok(report)
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
}
