//! Query results written out: the formats `corridor sql` (and later the
//! server) offer. A result file is created mode 0600: it holds whatever
//! the query selected, record-level data included.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;

use crate::StoreError;

/// How query results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
    Parquet,
}

impl OutputFormat {
    pub const NAMES: &[&str] = &["table", "csv", "json", "parquet"];

    pub fn from_name(name: &str) -> Option<OutputFormat> {
        Some(match name {
            "table" => OutputFormat::Table,
            "csv" => OutputFormat::Csv,
            "json" => OutputFormat::Json,
            "parquet" => OutputFormat::Parquet,
            _ => return None,
        })
    }

    /// Whether the format is binary, and so needs a file.
    pub fn needs_file(self) -> bool {
        self == OutputFormat::Parquet
    }
}

fn failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Sql(format!("writing the results: {e}"))
}

/// Writes `batches` in `format` to `out`.
pub fn write_results(
    batches: &[RecordBatch],
    format: OutputFormat,
    out: &mut (dyn Write + Send),
) -> Result<(), StoreError> {
    match format {
        OutputFormat::Table => {
            let table = arrow::util::pretty::pretty_format_batches(batches).map_err(failed)?;
            writeln!(out, "{table}").map_err(failed)
        }
        OutputFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            for b in batches {
                w.write(b).map_err(failed)?;
            }
            Ok(())
        }
        OutputFormat::Json => {
            let mut w = arrow::json::ArrayWriter::new(&mut *out);
            for b in batches {
                w.write(b).map_err(failed)?;
            }
            w.finish().map_err(failed)?;
            writeln!(out).map_err(failed)
        }
        OutputFormat::Parquet => {
            let schema = batches
                .first()
                .map(|b| b.schema())
                .unwrap_or_else(|| Arc::new(arrow::datatypes::Schema::empty()));
            let mut w = parquet::arrow::ArrowWriter::try_new(out, schema, None).map_err(failed)?;
            for b in batches {
                w.write(b).map_err(failed)?;
            }
            w.close().map(|_| ()).map_err(failed)
        }
    }
}

/// Writes `batches` to a new private file at `path` (replacing one that is
/// there).
pub fn write_results_file(
    batches: &[RecordBatch],
    format: OutputFormat,
    path: &Path,
) -> Result<(), StoreError> {
    let file = crate::private::create_file(path).map_err(crate::io(path))?;
    let mut w = std::io::BufWriter::new(file);
    write_results(batches, format, &mut w)?;
    w.flush().map_err(crate::io(path))
}
