//! Parquet files, each column's values as raw values.

use super::*;

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
