//! The derived datasets as Parquet: `crossings`, `stays`, `stocks`,
//! `provisional`, `revisions` and the history of provisional figures.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, DictionaryArray, Float64Builder, Int32Builder,
    StringArray, StringBuilder, UInt16Builder, UInt64Builder,
};
use arrow::datatypes::UInt16Type;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::{ArrowWriter, arrow_writer::ArrowWriterOptions};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::DeriveError;

/// The values a coded column takes (a country, a direction, an outcome):
/// its rows hold positions in this list, and Parquet gets a dictionary
/// page without each row's text being copied first. Blank values are
/// written as missing.
#[derive(Clone)]
pub struct Vocabulary {
    values: ArrayRef,
    blank: Arc<[bool]>,
}

impl Vocabulary {
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Vocabulary {
        let values: Vec<&str> = values.into_iter().collect();
        Vocabulary {
            blank: values.iter().map(|v| v.is_empty()).collect(),
            values: Arc::new(StringArray::from(values)),
        }
    }
}

/// A column of a derived dataset.
pub enum Col {
    Text(StringBuilder),
    Code(UInt16Builder, Vocabulary),
    Date(Date32Builder),
    Int(Int32Builder),
    Count(UInt64Builder),
    Real(Float64Builder),
    Flag(BooleanBuilder),
}

impl Col {
    fn finish(&mut self) -> ArrayRef {
        match self {
            Col::Text(b) => Arc::new(b.finish()),
            Col::Code(keys, vocabulary) => Arc::new(DictionaryArray::<UInt16Type>::new(
                keys.finish(),
                vocabulary.values.clone(),
            )),
            Col::Date(b) => Arc::new(b.finish()),
            Col::Int(b) => Arc::new(b.finish()),
            Col::Count(b) => Arc::new(b.finish()),
            Col::Real(b) => Arc::new(b.finish()),
            Col::Flag(b) => Arc::new(b.finish()),
        }
    }
}

/// Column builders for one batch of a dataset, addressed by position.
pub struct Batch {
    /// The batch's own schema: coded columns are Arrow dictionaries here,
    /// text in the dataset's schema (and in the files, see [`Dataset`]).
    pub schema: SchemaRef,
    pub cols: Vec<Col>,
}

impl Batch {
    pub fn new(schema: &SchemaRef) -> Batch {
        Batch::coded(schema, &[])
    }

    /// A batch whose columns at the given positions are coded.
    pub fn coded(schema: &SchemaRef, vocabularies: &[(usize, &Vocabulary)]) -> Batch {
        let coded = |i: usize| vocabularies.iter().find(|(c, _)| *c == i).map(|(_, v)| *v);
        let mut fields = Vec::new();
        let mut cols = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            if let Some(v) = coded(i) {
                let t = DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8));
                fields.push(Field::new(f.name(), t, f.is_nullable()));
                cols.push(Col::Code(UInt16Builder::new(), v.clone()));
                continue;
            }
            fields.push(f.as_ref().clone());
            cols.push(match f.data_type() {
                DataType::Date32 => Col::Date(Date32Builder::new()),
                DataType::Int32 => Col::Int(Int32Builder::new()),
                DataType::UInt64 => Col::Count(UInt64Builder::new()),
                DataType::Float64 => Col::Real(Float64Builder::new()),
                DataType::Boolean => Col::Flag(BooleanBuilder::new()),
                _ => Col::Text(StringBuilder::new()),
            });
        }
        Batch {
            schema: Arc::new(Schema::new(fields)),
            cols,
        }
    }

    /// A coded value by its position in the column's vocabulary; `None`,
    /// a position past its end or a blank value is missing.
    pub fn code(&mut self, i: usize, v: Option<usize>) {
        if let Col::Code(b, vocabulary) = &mut self.cols[i] {
            let known = v.filter(|&v| vocabulary.blank.get(v) == Some(&false));
            match known.and_then(|v| u16::try_from(v).ok()) {
                Some(v) => b.append_value(v),
                None => b.append_null(),
            }
        }
    }

    pub fn text(&mut self, i: usize, v: Option<&str>) {
        if let Col::Text(b) = &mut self.cols[i] {
            b.append_option(v.filter(|s| !s.is_empty()));
        }
    }
    pub fn date(&mut self, i: usize, v: Option<i32>) {
        if let Col::Date(b) = &mut self.cols[i] {
            b.append_option(v);
        }
    }
    pub fn int(&mut self, i: usize, v: Option<i32>) {
        if let Col::Int(b) = &mut self.cols[i] {
            b.append_option(v);
        }
    }
    pub fn count(&mut self, i: usize, v: u64) {
        if let Col::Count(b) = &mut self.cols[i] {
            b.append_value(v);
        }
    }
    pub fn real(&mut self, i: usize, v: Option<f64>) {
        if let Col::Real(b) = &mut self.cols[i] {
            b.append_option(v);
        }
    }
    pub fn flag(&mut self, i: usize, v: bool) {
        if let Col::Flag(b) = &mut self.cols[i] {
            b.append_value(v);
        }
    }

    pub fn finish(&mut self) -> Result<RecordBatch, DeriveError> {
        let arrays = self.cols.iter_mut().map(Col::finish).collect();
        RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| DeriveError::Data(format!("building a derived batch: {e}")))
    }
}

/// Columns whose values are (nearly) all distinct.
const UNIQUE_COLUMNS: &[&str] = &["person_key", "record_key", "source_row"];

/// A Parquet file of a derived dataset: `DIR/<dataset>/<file>.parquet`.
pub struct Dataset {
    path: PathBuf,
    writer: ArrowWriter<File>,
    pub rows: u64,
}

impl Dataset {
    pub fn create(
        dir: &Path,
        name: &str,
        file: &str,
        schema: &SchemaRef,
    ) -> Result<Dataset, DeriveError> {
        let folder = dir.join(name);
        fs::create_dir_all(&folder).map_err(|e| DeriveError::io(&folder, e))?;
        let path = folder.join(format!("{file}.parquet"));
        let f = File::create(&path).map_err(|e| DeriveError::io(&path, e))?;
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
            .set_max_row_group_row_count(Some(1 << 20));
        // Columns of (nearly) distinct values: a dictionary would be built
        // only to be dropped, and their min/max help no query. Statistics
        // of text columns cost a comparison per value.
        for f in schema.fields() {
            let name = f.name().as_str();
            if UNIQUE_COLUMNS.contains(&name) {
                props = props.set_column_dictionary_enabled(name.into(), false);
            }
            // A slice's file holds every month and code, so min/max of
            // text prune nothing; dates and numbers keep theirs.
            let text = matches!(f.data_type(), DataType::Utf8 | DataType::Dictionary(..));
            if UNIQUE_COLUMNS.contains(&name) || text {
                props = props.set_column_statistics_enabled(name.into(), EnabledStatistics::None);
            }
        }
        let props = props.build();
        // Without the Arrow schema in the file, readers see coded columns
        // as the text they are, whatever the batches were built as.
        let options = ArrowWriterOptions::new()
            .with_properties(props)
            .with_skip_arrow_metadata(true);
        let writer = ArrowWriter::try_new_with_options(f, schema.clone(), options)
            .map_err(|e| DeriveError::io(&path, std::io::Error::other(e)))?;
        Ok(Dataset {
            path,
            writer,
            rows: 0,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), DeriveError> {
        self.rows += batch.num_rows() as u64;
        self.writer
            .write(batch)
            .map_err(|e| DeriveError::io(&self.path, std::io::Error::other(e)))
    }

    pub fn close(self) -> Result<u64, DeriveError> {
        self.writer
            .close()
            .map_err(|e| DeriveError::io(&self.path, std::io::Error::other(e)))?;
        Ok(self.rows)
    }
}
