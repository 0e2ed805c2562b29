//! Arrow record batches in the stored schema.

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Float64Builder,
    Int16Builder, Int32Builder, ListBuilder, StringBuilder, Time32SecondBuilder, UInt64Builder,
};
use arrow::record_batch::RecordBatch;
use arrow_schema::{DataType, Schema};
use corridor_model::RecordType;

use crate::value::Value;

/// Accumulates mapped records into an Arrow batch of the stored schema.
pub struct BatchBuilder {
    schema: Arc<Schema>,
    builders: Vec<Box<dyn ArrayBuilder>>,
    n_fields: usize,
    source_id: String,
    submission_id: String,
    rows: usize,
}

fn builder(ty: &DataType) -> Box<dyn ArrayBuilder> {
    match ty {
        DataType::Utf8 => Box::new(StringBuilder::new()),
        DataType::Date32 => Box::new(Date32Builder::new()),
        DataType::Time32(_) => Box::new(Time32SecondBuilder::new()),
        DataType::Int16 => Box::new(Int16Builder::new()),
        DataType::Int32 => Box::new(Int32Builder::new()),
        DataType::UInt64 => Box::new(UInt64Builder::new()),
        DataType::Float64 => Box::new(Float64Builder::new()),
        DataType::Boolean => Box::new(BooleanBuilder::new()),
        DataType::Binary => Box::new(BinaryBuilder::new()),
        DataType::List(item) => {
            Box::new(ListBuilder::new(StringBuilder::new()).with_field(item.clone()))
        }
        other => unreachable!("the standard has no field of type {other}"),
    }
}

macro_rules! push {
    ($b:expr, $ty:ty, $v:expr) => {
        if let Some(b) = $b.as_any_mut().downcast_mut::<$ty>() {
            b.append_option($v);
        }
    };
}

impl BatchBuilder {
    pub fn new(t: RecordType, source_id: &str, submission_id: &str) -> BatchBuilder {
        let schema = Arc::new(t.stored_schema());
        let builders = schema
            .fields()
            .iter()
            .map(|f| builder(f.data_type()))
            .collect();
        BatchBuilder {
            schema,
            builders,
            n_fields: t.fields().len(),
            source_id: source_id.into(),
            submission_id: submission_id.into(),
            rows: 0,
        }
    }

    pub fn schema(&self) -> Arc<Schema> {
        self.schema.clone()
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn push(&mut self, values: &[Value], record_key: u64, row: u64) {
        for (i, v) in values.iter().enumerate().take(self.n_fields) {
            let ty = self.schema.field(i).data_type().clone();
            let b = &mut self.builders[i];
            match ty {
                DataType::Utf8 => push!(
                    b,
                    StringBuilder,
                    match v {
                        Value::Text(s) => Some(s.as_str()),
                        _ => None,
                    }
                ),
                DataType::Date32 => push!(
                    b,
                    Date32Builder,
                    match v {
                        Value::Date(d) => Some(*d),
                        _ => None,
                    }
                ),
                DataType::Time32(_) => push!(
                    b,
                    Time32SecondBuilder,
                    match v {
                        Value::Time(t) => Some(*t),
                        _ => None,
                    }
                ),
                DataType::Int16 => push!(
                    b,
                    Int16Builder,
                    match v {
                        Value::Int(n) => i16::try_from(*n).ok(),
                        _ => None,
                    }
                ),
                DataType::Int32 => push!(
                    b,
                    Int32Builder,
                    match v {
                        Value::Int(n) => i32::try_from(*n).ok(),
                        _ => None,
                    }
                ),
                DataType::UInt64 => push!(
                    b,
                    UInt64Builder,
                    match v {
                        Value::Int(n) => u64::try_from(*n).ok(),
                        _ => None,
                    }
                ),
                DataType::Float64 => push!(
                    b,
                    Float64Builder,
                    match v {
                        Value::Float(f) => Some(*f),
                        Value::Int(n) => Some(*n as f64),
                        _ => None,
                    }
                ),
                DataType::Boolean => push!(
                    b,
                    BooleanBuilder,
                    match v {
                        Value::Bool(x) => Some(*x),
                        _ => None,
                    }
                ),
                DataType::Binary => push!(
                    b,
                    BinaryBuilder,
                    match v {
                        Value::Text(s) => Some(s.as_bytes()),
                        _ => None,
                    }
                ),
                DataType::List(_) => {
                    if let Some(lb) = b.as_any_mut().downcast_mut::<ListBuilder<StringBuilder>>() {
                        if let Value::Codes(codes) = v {
                            for c in codes {
                                lb.values().append_value(c);
                            }
                        }
                        lb.append(true);
                    }
                }
                _ => {}
            }
        }
        let n = self.n_fields;
        push!(self.builders[n], UInt64Builder, Some(record_key));
        push!(
            self.builders[n + 1],
            StringBuilder,
            Some(self.source_id.as_str())
        );
        push!(
            self.builders[n + 2],
            StringBuilder,
            Some(self.submission_id.as_str())
        );
        push!(self.builders[n + 3], UInt64Builder, Some(row));
        self.rows += 1;
    }

    pub fn finish(&mut self) -> Result<RecordBatch, arrow::error::ArrowError> {
        let columns: Vec<ArrayRef> = self.builders.iter_mut().map(|b| b.finish()).collect();
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), columns)
    }
}
