//! A submission being written: Parquet parts and the quarantine file in a
//! staging folder, moved into place only when complete.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use corridor_ingest::batch::source_rows;
use corridor_ingest::{QuarantinedRow, RecordSink};
use corridor_model::RecordType;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::{StoreError, io};

pub struct Staging {
    dir: PathBuf,
    record_type: RecordType,
}

/// Rows per Parquet file before a new part is started.
const ROWS_PER_PART: usize = 4_000_000;

pub struct StagingSink {
    data_dir: PathBuf,
    record_type: RecordType,
    schema: Arc<arrow::datatypes::Schema>,
    writer: Option<ArrowWriter<File>>,
    part: usize,
    rows_in_part: usize,
    rows_per_part: usize,
    /// The last `source_row` of each part written (parts are in row order).
    last_rows: Vec<u64>,
    quarantine: BufWriter<File>,
    quarantine_path: PathBuf,
    /// A quarantined row's original values as JSON (a reused buffer).
    json: Vec<u8>,
    error: Option<String>,
}

impl Staging {
    pub fn create(dir: &Path, record_type: RecordType) -> Result<Staging, StoreError> {
        crate::private::create_dir_all(&dir.join("data")).map_err(io(dir))?;
        Ok(Staging {
            dir: dir.to_path_buf(),
            record_type,
        })
    }

    pub fn sink(&self) -> StagingSink {
        let quarantine_path = self.dir.join("quarantine.csv");
        let file = crate::private::create_file(&quarantine_path);
        let (quarantine, error) = match file {
            Ok(f) => (BufWriter::new(f), None),
            Err(e) => (BufWriter::new(tempfile_fallback()), Some(e.to_string())),
        };
        let mut sink = StagingSink {
            data_dir: self.dir.join("data"),
            record_type: self.record_type,
            schema: Arc::new(self.record_type.stored_schema()),
            writer: None,
            part: 0,
            rows_in_part: 0,
            rows_per_part: ROWS_PER_PART,
            last_rows: Vec::new(),
            quarantine,
            quarantine_path,
            json: Vec::new(),
            error,
        };
        if let Err(e) = writeln!(sink.quarantine, "row,field,reason,message,original") {
            sink.error = Some(e.to_string());
        }
        sink
    }

    /// Moves the finished data and quarantine into their final places.
    pub fn place(
        &self,
        root: &Path,
        data_rel: &Path,
        quarantine_rel: &Path,
    ) -> Result<(), StoreError> {
        let data = root.join(data_rel);
        let quarantine = root.join(quarantine_rel);
        for p in [&data, &quarantine] {
            if let Some(parent) = p.parent() {
                crate::private::create_dir_all(parent).map_err(io(parent))?;
            }
        }
        fs::rename(self.dir.join("data"), &data).map_err(io(&data))?;
        fs::rename(self.dir.join("quarantine.csv"), &quarantine).map_err(io(&quarantine))?;
        for p in [data.parent(), quarantine.parent()].into_iter().flatten() {
            if let Ok(d) = File::open(p) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

fn tempfile_fallback() -> File {
    // Only reached when the staging folder vanished; the error is reported
    // by `finish`, this handle just absorbs writes.
    File::options()
        .write(true)
        .open("/dev/null")
        .unwrap_or_else(|_| unreachable!("/dev/null opens"))
}

/// Writes a CSV field, quoted when it holds a comma, quote or line break.
fn write_csv_field(out: &mut impl Write, s: &str) -> std::io::Result<()> {
    if !s.contains([',', '"', '\n', '\r']) {
        return out.write_all(s.as_bytes());
    }
    out.write_all(b"\"")?;
    for (i, part) in s.split('"').enumerate() {
        if i > 0 {
            out.write_all(b"\"\"")?;
        }
        out.write_all(part.as_bytes())?;
    }
    out.write_all(b"\"")
}

impl StagingSink {
    fn part_path(&self, part: usize) -> PathBuf {
        self.data_dir.join(format!("part-{part:05}.parquet"))
    }

    fn open_part(&mut self) -> Result<(), String> {
        let path = self.part_path(self.part);
        let file =
            crate::private::create_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        self.writer = Some(
            ArrowWriter::try_new(file, self.schema.clone(), Some(self.properties()?))
                .map_err(|e| e.to_string())?,
        );
        self.part += 1;
        self.last_rows.push(0);
        self.rows_in_part = 0;
        Ok(())
    }

    fn properties(&self) -> Result<WriterProperties, String> {
        // zstd level 1, as derive writes: faster than level 3 for a few
        // more bytes.
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(1).map_err(|e| e.to_string())?,
            ))
            .set_max_row_group_row_count(Some(1 << 20));
        // Pseudonyms, record keys and row numbers are (nearly) all distinct:
        // a dictionary would only be built to be given up.
        let unique = self
            .record_type
            .fields()
            .iter()
            .filter(|f| f.ty == corridor_model::FieldType::Pseudonym)
            .map(|f| f.name)
            .chain(["record_key", "source_row"]);
        for name in unique {
            props = props.set_column_dictionary_enabled(name.into(), false);
        }
        // Record keys are random: zstd only spends time finding that it
        // cannot shrink them. Row numbers climb by one: stored as deltas,
        // they take next to nothing before zstd sees them.
        props = props
            .set_column_compression("record_key".into(), Compression::UNCOMPRESSED)
            .set_column_encoding("source_row".into(), Encoding::DELTA_BINARY_PACKED);
        // Dates, times and whole numbers go as deltas, not through a
        // dictionary: interning every value is costly on the storing
        // thread, and deltas of dates in file order take next to nothing
        // (less CPU for a few more bytes).
        // Only integer columns can be delta-encoded.
        for f in self.schema.fields() {
            use arrow::datatypes::DataType as D;
            let integer = matches!(
                f.data_type(),
                D::Date32 | D::Time32(_) | D::Int16 | D::Int32 | D::Int64
            );
            if integer {
                props = props
                    .set_column_dictionary_enabled(f.name().as_str().into(), false)
                    .set_column_encoding(f.name().as_str().into(), Encoding::DELTA_BINARY_PACKED);
            }
        }
        // Text columns carry no min/max: a row group of a million records
        // spans nearly every code, so the statistics would prune nothing,
        // and comparing every value twice is a noticeable share of the
        // storing thread's work. Dates and numbers keep theirs.
        for f in self.schema.fields() {
            if matches!(f.data_type(), arrow::datatypes::DataType::Utf8) {
                props = props.set_column_statistics_enabled(
                    f.name().as_str().into(),
                    parquet::file::properties::EnabledStatistics::None,
                );
            }
        }
        Ok(props.build())
    }

    /// Rewrites `part` without the rows that `rows` gives in its range.
    fn withdraw_from_part(
        &self,
        part: usize,
        rows: &mut std::iter::Peekable<&mut dyn Iterator<Item = Result<u64, String>>>,
    ) -> Result<(), String> {
        let path = self.part_path(part);
        let rewritten = path.with_extension("parquet.new");
        let fail = |p: &Path, e: &dyn std::fmt::Display| format!("{}: {e}", p.display());
        let input = File::open(&path).map_err(|e| fail(&path, &e))?;
        let batches = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(input)
            .and_then(|b| b.with_batch_size(8192).build())
            .map_err(|e| fail(&path, &e))?;
        let output = crate::private::create_file(&rewritten).map_err(|e| fail(&rewritten, &e))?;
        let mut writer =
            ArrowWriter::try_new(output, self.schema.clone(), Some(self.properties()?))
                .map_err(|e| fail(&rewritten, &e))?;
        for batch in batches {
            let batch = batch.map_err(|e| fail(&path, &e))?;
            let numbers = source_rows(&batch)?;
            let mut keep = Vec::with_capacity(numbers.len());
            for &number in numbers.values() {
                let mut withdrawn = false;
                while let Some(row) = rows.next_if(|r| r.as_ref().map_or(true, |r| *r <= number)) {
                    let row = row?;
                    if row < number {
                        return Err(never_stored(row));
                    }
                    withdrawn = true;
                }
                keep.push(!withdrawn);
            }
            let batch = arrow::compute::filter_record_batch(&batch, &keep.into())
                .map_err(|e| e.to_string())?;
            writer.write(&batch).map_err(|e| fail(&rewritten, &e))?;
        }
        writer.close().map_err(|e| fail(&rewritten, &e))?;
        fs::rename(&rewritten, &path).map_err(|e| fail(&path, &e))
    }

    /// Flushes and syncs everything written.
    pub fn finish(&mut self) -> Result<(), StoreError> {
        if let Some(e) = &self.error {
            return Err(StoreError::Workspace(format!("staging failed: {e}")));
        }
        if self.part == 0 {
            // An empty submission still gets an (empty) dataset file.
            self.open_part().map_err(StoreError::Workspace)?;
        }
        if let Some(w) = self.writer.take() {
            let f = w
                .into_inner()
                .map_err(|e| StoreError::Workspace(e.to_string()))?;
            f.sync_all().map_err(io(&self.data_dir))?;
        }
        self.quarantine.flush().map_err(io(&self.quarantine_path))?;
        self.quarantine
            .get_ref()
            .sync_all()
            .map_err(io(&self.quarantine_path))?;
        Ok(())
    }
}

impl RecordSink for StagingSink {
    fn write_batch(&mut self, batch: RecordBatch) -> Result<(), String> {
        if self.writer.is_none() || self.rows_in_part >= self.rows_per_part {
            if let Some(w) = self.writer.take() {
                w.close().map_err(|e| e.to_string())?;
            }
            self.open_part()?;
        }
        self.rows_in_part += batch.num_rows();
        if let Some(&last) = source_rows(&batch)?.values().last() {
            *self.last_rows.last_mut().ok_or("no part")? = last;
        }
        self.writer
            .as_mut()
            .ok_or("no writer")?
            .write(&batch)
            .map_err(|e| e.to_string())
    }

    fn quarantine(&mut self, row: QuarantinedRow) -> Result<(), String> {
        let original: std::collections::BTreeMap<&str, &str> = row
            .original
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.json.clear();
        serde_json::to_writer(&mut self.json, &original).map_err(|e| e.to_string())?;
        let json = std::str::from_utf8(&self.json).map_err(|e| e.to_string())?;
        let q = &mut self.quarantine;
        write!(q, "{},", row.row).map_err(|e| e.to_string())?;
        write_csv_field(q, row.field.as_deref().unwrap_or("")).map_err(|e| e.to_string())?;
        write!(q, ",{},", row.reason).map_err(|e| e.to_string())?;
        write_csv_field(q, &row.message).map_err(|e| e.to_string())?;
        q.write_all(b",").map_err(|e| e.to_string())?;
        write_csv_field(q, json).map_err(|e| e.to_string())?;
        q.write_all(b"\n").map_err(|e| e.to_string())
    }

    fn withdraw(
        &mut self,
        rows: &mut dyn Iterator<Item = Result<u64, String>>,
    ) -> Result<(), String> {
        if let Some(w) = self.writer.take() {
            w.close().map_err(|e| e.to_string())?;
        }
        let mut rows = rows.peekable();
        for part in 0..self.part {
            let last = self.last_rows[part];
            match rows.peek() {
                None => return Ok(()),
                Some(Ok(row)) if *row > last => continue,
                Some(_) => self.withdraw_from_part(part, &mut rows)?,
            }
        }
        match rows.next() {
            None => Ok(()),
            Some(row) => Err(never_stored(row?)),
        }
    }
}

fn never_stored(row: u64) -> String {
    format!("row {row} was never stored, so it cannot be withdrawn")
}

#[cfg(test)]
mod tests {
    use super::*;
    use corridor_ingest::batch::BatchBuilder;
    use corridor_ingest::value::Value;

    fn stored_rows(dir: &Path) -> Vec<u64> {
        let mut parts: Vec<PathBuf> = fs::read_dir(dir.join("data"))
            .expect("data")
            .map(|e| e.expect("entry").path())
            .collect();
        parts.sort();
        let mut rows = Vec::new();
        for part in parts {
            let file = File::open(&part).expect("part");
            let batches =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .and_then(|b| b.build())
                    .expect("reader");
            for batch in batches {
                rows.extend(source_rows(&batch.expect("batch")).expect("rows").values());
            }
        }
        rows
    }

    /// Withdrawn rows leave every part they were in, whichever part and
    /// wherever in it; the others stay, in order, and a row never stored
    /// cannot be withdrawn.
    #[test]
    fn withdrawn_rows_leave_their_parts() {
        let dir = tempfile::tempdir().expect("dir");
        let t = RecordType::BorderEvent;
        let staging = Staging::create(dir.path(), t).expect("staging");
        let mut sink = staging.sink();
        sink.rows_per_part = 100;
        // Any value of the right type: only the rows' numbers matter here.
        let values: Vec<Value> = t
            .fields()
            .iter()
            .map(|f| match f.ty {
                corridor_model::FieldType::Date => Value::Date(19_000),
                corridor_model::FieldType::Code(_) => Value::Code("X"),
                _ if f.required => Value::Text("x".into()),
                _ => Value::Null,
            })
            .collect();
        let mut builder = BatchBuilder::new(t, "src", "sub", 50);
        // Rows 2, 4, …, 1000: numbers need not be consecutive.
        for batch in 0..10 {
            for i in 0..50 {
                let row = 2 * (batch * 50 + i + 1);
                builder.push(&values, row, row);
            }
            sink.write_batch(builder.finish().expect("batch"))
                .expect("write");
        }
        assert_eq!(sink.part, 5);
        let withdrawn = [2, 198, 200, 202, 500, 1000];
        sink.withdraw(&mut withdrawn.iter().map(|&r| Ok(r)))
            .expect("withdraw");
        sink.finish().expect("finish");
        let expected: Vec<u64> = (1..=500)
            .map(|i| 2 * i)
            .filter(|r| !withdrawn.contains(r))
            .collect();
        assert_eq!(stored_rows(dir.path()), expected);

        // Past the last row stored, and between two rows stored.
        for (withdrawn, never) in [(vec![4, 5], 5), (vec![3], 3)] {
            let dir = tempfile::tempdir().expect("dir");
            let staging = Staging::create(dir.path(), t).expect("staging");
            let mut sink = staging.sink();
            for row in [2, 4] {
                builder.push(&values, row, row);
            }
            sink.write_batch(builder.finish().expect("batch"))
                .expect("write");
            let err = sink
                .withdraw(&mut withdrawn.into_iter().map(Ok))
                .expect_err("a row never stored");
            assert!(err.contains(&format!("row {never} ")), "{err}");
        }
    }
}
