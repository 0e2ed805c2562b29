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
                w.write(&lists_joined(b)?).map_err(failed)?;
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

/// The batch with every list column (a case's exploitation types…) as
/// text, its items joined by `;` as the mappings read them: CSV has no
/// lists.
fn lists_joined(batch: &RecordBatch) -> Result<RecordBatch, StoreError> {
    use arrow::array::{Array, AsArray, StringBuilder};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    if !batch
        .schema()
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::List(_) | DataType::LargeList(_)))
    {
        return Ok(batch.clone());
    }
    let options = FormatOptions::default();
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let items: Vec<Option<arrow::array::ArrayRef>> = match field.data_type() {
            DataType::List(_) => column.as_list::<i32>().iter().collect(),
            DataType::LargeList(_) => column.as_list::<i64>().iter().collect(),
            _ => {
                fields.push(field.clone());
                columns.push(column.clone());
                continue;
            }
        };
        let mut text = StringBuilder::new();
        for list in items {
            match list {
                None => text.append_null(),
                Some(list) => {
                    let shown = ArrayFormatter::try_new(list.as_ref(), &options).map_err(failed)?;
                    let parts: Vec<String> = (0..list.len())
                        .map(|i| shown.value(i).to_string())
                        .collect();
                    text.append_value(parts.join(";"));
                }
            }
        }
        fields.push(Arc::new(Field::new(field.name(), DataType::Utf8, true)));
        columns.push(Arc::new(text.finish()) as arrow::array::ArrayRef);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(failed)
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ListBuilder, StringBuilder};

    #[test]
    fn a_list_column_is_written_to_csv_joined_by_semicolons() {
        let mut lists = ListBuilder::new(StringBuilder::new());
        lists.values().append_value("sexual");
        lists.values().append_value("labour");
        lists.append(true);
        lists.append(true);
        lists.append(false);
        let ids = arrow::array::Int64Array::from(vec![1, 2, 3]);
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(ids) as arrow::array::ArrayRef),
            (
                "exploitation_types",
                Arc::new(lists.finish()) as arrow::array::ArrayRef,
            ),
        ])
        .unwrap();
        let mut out = Vec::new();
        write_results(&[batch], OutputFormat::Csv, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,exploitation_types\n1,sexual;labour\n2,\n3,\n"
        );
    }
}
