//! Arrow record batches in the stored schema.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int16Builder,
    Int32Builder, ListBuilder, StringBuilder, Time32SecondBuilder, UInt64Builder,
};
use arrow::record_batch::RecordBatch;
use arrow_schema::{DataType, Schema};
use corridor_model::RecordType;

use crate::value::Value;

/// A stored batch's `source_row` column: the row of the file each record
/// came from, which is how stored records are found again.
pub fn source_rows(batch: &RecordBatch) -> Result<&arrow::array::UInt64Array, String> {
    batch
        .column_by_name("source_row")
        .and_then(|c| c.as_any().downcast_ref())
        .ok_or_else(|| "a batch without its source_row column".to_string())
}

/// Accumulates mapped records into an Arrow batch of the stored schema.
pub struct BatchBuilder {
    schema: Arc<Schema>,
    /// One builder per field of the record type, in its order.
    fields: Vec<Column>,
    record_keys: UInt64Builder,
    source_rows: UInt64Builder,
    /// Written whole on every row by `finish` (the same on every row).
    source_id: String,
    submission_id: String,
    /// Records a batch is expected to hold.
    rows: usize,
}

/// One column's builder, by the standard's type.
enum Column {
    Text(StringBuilder),
    Date(Date32Builder),
    Time(Time32SecondBuilder),
    I16(Int16Builder),
    I32(Int32Builder),
    U64(UInt64Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    Bytes(BinaryBuilder),
    Codes(ListBuilder<StringBuilder>),
}

impl Column {
    /// A builder with room for `rows` values and, for texts, `bytes` bytes:
    /// builders that grow as they go copy their buffers over and over.
    fn new(ty: &DataType, rows: usize, bytes: usize) -> Column {
        match ty {
            DataType::Utf8 => Column::Text(StringBuilder::with_capacity(rows, bytes)),
            DataType::Date32 => Column::Date(Date32Builder::with_capacity(rows)),
            DataType::Time32(_) => Column::Time(Time32SecondBuilder::with_capacity(rows)),
            DataType::Int16 => Column::I16(Int16Builder::with_capacity(rows)),
            DataType::Int32 => Column::I32(Int32Builder::with_capacity(rows)),
            DataType::UInt64 => Column::U64(UInt64Builder::with_capacity(rows)),
            DataType::Float64 => Column::F64(Float64Builder::with_capacity(rows)),
            DataType::Boolean => Column::Bool(BooleanBuilder::with_capacity(rows)),
            DataType::Binary => Column::Bytes(BinaryBuilder::with_capacity(rows, bytes)),
            DataType::List(item) => Column::Codes(
                ListBuilder::with_capacity(StringBuilder::with_capacity(rows, bytes), rows)
                    .with_field(item.clone()),
            ),
            other => unreachable!("the standard has no field of type {other}"),
        }
    }

    /// Bytes of text held so far (0 for other types).
    fn text_bytes(&self) -> usize {
        match self {
            Column::Text(b) => b.values_slice().len(),
            Column::Bytes(b) => b.values_slice().len(),
            Column::Codes(b) => b.values_ref().values_slice().len(),
            _ => 0,
        }
    }

    fn push(&mut self, v: &Value) {
        match self {
            Column::Text(b) => b.append_option(match v {
                Value::Text(s) => Some(s.as_str()),
                Value::Code(s) => Some(s),
                _ => None,
            }),
            Column::Date(b) => b.append_option(match v {
                Value::Date(d) => Some(*d),
                _ => None,
            }),
            Column::Time(b) => b.append_option(match v {
                Value::Time(t) => Some(*t),
                _ => None,
            }),
            Column::I16(b) => b.append_option(match v {
                Value::Int(n) => i16::try_from(*n).ok(),
                _ => None,
            }),
            Column::I32(b) => b.append_option(match v {
                Value::Int(n) => i32::try_from(*n).ok(),
                _ => None,
            }),
            Column::U64(b) => b.append_option(match v {
                Value::Int(n) => u64::try_from(*n).ok(),
                _ => None,
            }),
            Column::F64(b) => b.append_option(match v {
                Value::Float(f) => Some(*f),
                Value::Int(n) => Some(*n as f64),
                _ => None,
            }),
            Column::Bool(b) => b.append_option(match v {
                Value::Bool(x) => Some(*x),
                _ => None,
            }),
            Column::Bytes(b) => b.append_option(match v {
                Value::Text(s) => Some(s.as_bytes()),
                Value::Code(s) => Some(s.as_bytes()),
                _ => None,
            }),
            Column::Codes(b) => {
                if let Value::Codes(codes) = v {
                    for c in codes {
                        b.values().append_value(c);
                    }
                }
                b.append(true);
            }
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Text(b) => Arc::new(b.finish()),
            Column::Date(b) => Arc::new(b.finish()),
            Column::Time(b) => Arc::new(b.finish()),
            Column::I16(b) => Arc::new(b.finish()),
            Column::I32(b) => Arc::new(b.finish()),
            Column::U64(b) => Arc::new(b.finish()),
            Column::F64(b) => Arc::new(b.finish()),
            Column::Bool(b) => Arc::new(b.finish()),
            Column::Bytes(b) => Arc::new(b.finish()),
            Column::Codes(b) => Arc::new(b.finish()),
        }
    }
}

impl BatchBuilder {
    /// A builder for batches of about `rows` records.
    pub fn new(t: RecordType, source_id: &str, submission_id: &str, rows: usize) -> BatchBuilder {
        let schema = Arc::new(t.stored_schema());
        let fields = schema.fields()[..t.fields().len()]
            .iter()
            .map(|f| Column::new(f.data_type(), rows, rows * 8))
            .collect();
        BatchBuilder {
            schema,
            fields,
            record_keys: UInt64Builder::with_capacity(rows),
            source_rows: UInt64Builder::with_capacity(rows),
            source_id: source_id.into(),
            submission_id: submission_id.into(),
            rows,
        }
    }

    pub fn push(&mut self, values: &[Value], record_key: u64, row: u64) {
        for (column, v) in self.fields.iter_mut().zip(values) {
            column.push(v);
        }
        self.record_keys.append_value(record_key);
        self.source_rows.append_value(row);
    }

    /// The batch of the records pushed since the last `finish`; the builder
    /// starts again with room for as many bytes as this batch took.
    pub fn finish(&mut self) -> Result<RecordBatch, arrow::error::ArrowError> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for (column, field) in self.fields.iter_mut().zip(self.schema.fields()) {
            let bytes = column.text_bytes();
            let mut next = Column::new(field.data_type(), self.rows, bytes + bytes / 8);
            std::mem::swap(column, &mut next);
            columns.push(next.finish());
        }
        // In the order of `corridor_model::STORED_FIELDS` (`try_new`
        // refuses a batch whose columns' types are out of place).
        let fresh = || UInt64Builder::with_capacity(self.rows);
        let keys = std::mem::replace(&mut self.record_keys, fresh()).finish();
        let numbers = std::mem::replace(&mut self.source_rows, fresh()).finish();
        let rows = arrow::array::Array::len(&numbers);
        columns.push(Arc::new(keys));
        columns.push(repeated(&self.source_id, rows)?);
        columns.push(repeated(&self.submission_id, rows)?);
        columns.push(Arc::new(numbers));
        RecordBatch::try_new(self.schema.clone(), columns)
    }
}

/// A text column holding `value` on each of `rows` rows; an error, where
/// arrow would panic, when the batch's text would pass 2 GiB.
fn repeated(value: &str, rows: usize) -> Result<ArrayRef, arrow::error::ArrowError> {
    if i32::try_from(value.len().saturating_mul(rows)).is_err() {
        return Err(arrow::error::ArrowError::InvalidArgumentError(format!(
            "'{value}' on {rows} rows is more text than a batch holds"
        )));
    }
    Ok(Arc::new(arrow::array::StringArray::new_repeated(
        value, rows,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, StringArray};

    /// The columns filled in once per batch hold the source and submission
    /// on every row, in the stored schema's places, for batches of any
    /// size, the empty one included.
    #[test]
    fn every_row_names_its_source_and_submission() {
        let t = RecordType::BorderEvent;
        let mut builder = BatchBuilder::new(t, "gtm-igm-border", "sub-1", 4);
        use corridor_model::FieldType as F;
        let values: Vec<Value> = t
            .fields()
            .iter()
            .map(|f| match f.ty {
                F::Date => Value::Date(19_000),
                F::Time => Value::Time(3_600),
                F::Integer | F::Count | F::Year => Value::Int(7),
                F::Number => Value::Float(1.5),
                F::Boolean => Value::Bool(true),
                F::CodeSet(_) => Value::Codes(Vec::new()),
                _ => Value::Text("x".into()),
            })
            .collect();
        for rows in [3, 0, 9] {
            for row in 0..rows {
                builder.push(&values, 100 + row, row);
            }
            let batch = builder.finish().expect("a batch");
            assert_eq!(batch.num_rows() as u64, rows);
            for (name, expected) in [("source_id", "gtm-igm-border"), ("submission_id", "sub-1")] {
                let column = batch
                    .column_by_name(name)
                    .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                    .expect("a text column");
                assert_eq!(column.len() as u64, rows);
                assert_eq!(column.null_count(), 0);
                assert!(column.iter().all(|v| v == Some(expected)), "{name}");
            }
            let numbers = source_rows(&batch).expect("source rows");
            assert_eq!(numbers.values().to_vec(), (0..rows).collect::<Vec<_>>());
        }
    }
}
