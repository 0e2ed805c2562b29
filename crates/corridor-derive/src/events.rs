//! Border events loaded from the workspace into a compact, sortable form.
//!
//! Text values (countries, codes, sources) are interned into one
//! dictionary, so an event takes 80 bytes and 50 million fit in memory with
//! room to sort. The person key (32 hex digits, 128 bits) is kept as a
//! number.

use crate::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, Date32Array, Int32Array, Time32SecondArray, UInt64Array};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;

use crate::DeriveError;

/// "No value" in an interned field.
pub const NONE: u16 = u16::MAX;

/// Interned text values.
#[derive(Debug, Default, Clone)]
pub struct Dict {
    values: Vec<String>,
    index: HashMap<String, u16>,
}

impl Dict {
    pub fn intern(&mut self, value: &str) -> Result<u16, DeriveError> {
        if let Some(&i) = self.index.get(value) {
            return Ok(i);
        }
        let i = u16::try_from(self.values.len())
            .ok()
            .filter(|&i| i != NONE)
            .ok_or_else(|| {
                DeriveError::Data("more than 65,534 distinct codes in border events".into())
            })?;
        self.values.push(value.to_string());
        self.index.insert(value.to_string(), i);
        Ok(i)
    }

    /// Every value, in the order of their numbers.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.values.iter().map(String::as_str)
    }

    pub fn get(&self, i: u16) -> Option<&str> {
        self.values.get(i as usize).map(String::as_str)
    }

    /// The value, or "" for [`NONE`].
    pub fn text(&self, i: u16) -> &str {
        self.get(i).unwrap_or("")
    }

    pub fn lookup(&self, value: &str) -> Option<u16> {
        self.index.get(value).copied()
    }
}

/// One border crossing record.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Event {
    pub person: u128,
    pub record_key: u64,
    pub source_row: u64,
    /// Days since 1970-01-01.
    pub day: i32,
    /// Day of birth, or `i32::MIN`.
    pub birth: i32,
    /// Permitted length of stay in days, or -1.
    pub permitted: i32,
    /// Minute of the day, or -1 when the export has no time.
    pub minute: i16,
    /// Age at the event, or -1.
    pub age: i16,
    pub country: u16,
    pub counterpart: u16,
    pub citizenship: u16,
    pub sex: u16,
    pub visa: u16,
    pub purpose: u16,
    pub mode: u16,
    pub source: u16,
    /// The submission (file) the record came from: `source_row` counts
    /// rows within it.
    pub submission: u16,
    pub entry: bool,
    /// Repair flags (see `repair::Flag`).
    pub flags: u8,
}

impl Event {
    /// The order crossings are read in: person, country, day, time
    /// (unknown times first), then the permanent record key so that the
    /// order never depends on the order of files.
    pub fn sort_key(&self) -> (u128, u16, i32, i16, u64) {
        (
            self.person,
            self.country,
            self.day,
            self.minute,
            self.record_key,
        )
    }
}

#[cfg(test)]
impl Event {
    /// A crossing with nothing known but its day, time and direction.
    pub(crate) fn bare(person: u128, day: i32, minute: i16, entry: bool, key: u64) -> Event {
        Event {
            person,
            record_key: key,
            source_row: key,
            day,
            birth: i32::MIN,
            permitted: -1,
            minute,
            age: -1,
            country: 0,
            counterpart: NONE,
            citizenship: 0,
            sex: 0,
            visa: NONE,
            purpose: NONE,
            mode: NONE,
            source: 0,
            submission: 0,
            entry,
            flags: 0,
        }
    }
}

/// All border events of a workspace.
#[derive(Debug, Default)]
pub struct Events {
    pub events: Vec<Event>,
    pub dict: Dict,
    /// Person keys that were not 32 hex digits (hashed to 128 bits).
    pub odd_keys: usize,
    /// Records without a person key, date or direction: not border events
    /// one can place in a history (intake never stores them; a file written
    /// by another tool might). Counted, so that none goes missing silently.
    pub unusable: usize,
}

const COLUMNS: &[&str] = &[
    "person_key",
    "reporting_country",
    "direction",
    "event_date",
    "event_time",
    "counterpart_country",
    "citizenship",
    "sex",
    "date_of_birth",
    "age",
    "travel_purpose",
    "visa_type",
    "permitted_stay_days",
    "transport_mode",
    "record_key",
    "source_id",
    "submission_id",
    "source_row",
];

/// Reads the border events of every file, a row group per task, into one
/// vector allocated once: each task fills its own stretch of it, so memory
/// holds the events once, not once in parts and again joined.
pub fn load(files: &[PathBuf]) -> Result<Events, DeriveError> {
    let mut tasks = Vec::new();
    for f in files {
        let file = File::open(f).map_err(|e| read_error(f, &e))?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| read_error(f, &e))?;
        let meta = builder.metadata();
        for rg in 0..meta.num_row_groups() {
            let rows = usize::try_from(meta.row_group(rg).num_rows()).unwrap_or(0);
            tasks.push((f, rg, rows));
        }
    }
    let total = tasks.iter().map(|t| t.2).sum();
    let mut events = vec![Event::default(); total];
    let sizes: Vec<usize> = tasks.iter().map(|t| t.2).collect();
    let parts: Vec<Loaded> = tasks
        .par_iter()
        .zip(stretches(&mut events, &sizes))
        .map(|(&(f, rg, _), out)| load_row_group(f, rg, out))
        .collect::<Result<_, _>>()?;
    let mut dict = Dict::default();
    let remaps: Vec<Vec<u16>> = parts
        .iter()
        .map(|part| {
            part.dict
                .values
                .iter()
                .map(|v| dict.intern(v))
                .collect::<Result<_, _>>()
        })
        .collect::<Result<_, _>>()?;
    stretches(&mut events, &sizes)
        .into_par_iter()
        .zip(&parts)
        .zip(&remaps)
        .for_each(|((stretch, part), remap)| {
            let map = |i: u16| if i == NONE { NONE } else { remap[i as usize] };
            for e in &mut stretch[..part.filled] {
                e.country = map(e.country);
                e.counterpart = map(e.counterpart);
                e.citizenship = map(e.citizenship);
                e.sex = map(e.sex);
                e.visa = map(e.visa);
                e.purpose = map(e.purpose);
                e.mode = map(e.mode);
                e.source = map(e.source);
                e.submission = map(e.submission);
            }
        });
    // Close the gaps left by records that could not be placed.
    let (mut start, mut kept) = (0, 0);
    for (part, task) in parts.iter().zip(&tasks) {
        events.copy_within(start..start + part.filled, kept);
        kept += part.filled;
        start += task.2;
    }
    events.truncate(kept);
    Ok(Events {
        events,
        dict,
        odd_keys: parts.iter().map(|p| p.odd_keys).sum(),
        unusable: parts.iter().map(|p| p.unusable).sum(),
    })
}

/// `events` cut into consecutive stretches of the given sizes.
fn stretches<'a>(events: &'a mut [Event], sizes: &[usize]) -> Vec<&'a mut [Event]> {
    let mut rest = events;
    let mut out = Vec::with_capacity(sizes.len());
    for &n in sizes {
        let (stretch, tail) = rest.split_at_mut(n.min(rest.len()));
        out.push(stretch);
        rest = tail;
    }
    out
}

/// What one row group's task found, besides the events it wrote.
struct Loaded {
    dict: Dict,
    filled: usize,
    odd_keys: usize,
    unusable: usize,
}

fn read_error(path: &Path, e: &dyn std::fmt::Display) -> DeriveError {
    DeriveError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// A person key as a number: the 128 bits of its 32 hex digits, or (for
/// keys made some other way) 128 bits of its SHA-256.
pub fn person_number(key: &str) -> (u128, bool) {
    if key.len() == 32
        && let Ok(n) = u128::from_str_radix(key, 16)
    {
        return (n, true);
    }
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    (u128::from_be_bytes(b), false)
}

/// The person key written back out: 32 hex digits.
pub fn person_text(n: u128) -> String {
    format!("{n:032x}")
}

/// Text columns read as Arrow dictionaries: Parquet stores them so, and a
/// batch's few distinct values are interned once instead of every row's.
const CODED: &[&str] = &[
    "reporting_country",
    "direction",
    "counterpart_country",
    "citizenship",
    "sex",
    "travel_purpose",
    "visa_type",
    "transport_mode",
    "source_id",
    "submission_id",
];

/// A coded column of one batch: its keys and their interned codes.
struct Coded<'a> {
    keys: &'a arrow::array::Int32Array,
    codes: Vec<u16>,
}

impl Coded<'_> {
    fn get(&self, i: usize) -> u16 {
        if self.keys.is_valid(i) {
            self.codes
                .get(self.keys.value(i) as usize)
                .copied()
                .unwrap_or(NONE)
        } else {
            NONE
        }
    }
}

fn load_row_group(path: &Path, row_group: usize, out: &mut [Event]) -> Result<Loaded, DeriveError> {
    use arrow::datatypes::{DataType, Field, Int32Type, Schema};
    let err = |e: &dyn std::fmt::Display| read_error(path, e);
    let file = File::open(path).map_err(|e| err(&e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(&e))?;
    let stored = builder.schema().clone();
    let fields: Vec<Field> = stored
        .fields()
        .iter()
        .map(|f| {
            let f = f.as_ref().clone();
            if CODED.contains(&f.name().as_str()) && f.data_type() == &DataType::Utf8 {
                f.with_data_type(DataType::Dictionary(
                    Box::new(DataType::Int32),
                    Box::new(DataType::Utf8),
                ))
            } else {
                f
            }
        })
        .collect();
    let options = parquet::arrow::arrow_reader::ArrowReaderOptions::new().with_schema(
        std::sync::Arc::new(Schema::new_with_metadata(fields, stored.metadata().clone())),
    );
    let file = File::open(path).map_err(|e| err(&e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(file, options)
        .map_err(|e| err(&e))?;
    let schema = builder.parquet_schema();
    let leaves: Vec<usize> = (0..schema.num_columns())
        .filter(|&i| COLUMNS.contains(&schema.column(i).path().parts()[0].as_str()))
        .collect();
    let mask = ProjectionMask::leaves(schema, leaves);
    let reader = builder
        .with_projection(mask)
        .with_row_groups(vec![row_group])
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| err(&e))?;
    let mut loaded = Loaded {
        dict: Dict::default(),
        filled: 0,
        odd_keys: 0,
        unusable: 0,
    };
    let dict = &mut loaded.dict;
    for batch in reader {
        let batch = batch.map_err(|e| err(&e))?;
        let col = |name: &str| batch.column_by_name(name);
        let need = |name: &str| DeriveError::Read {
            path: path.to_path_buf(),
            message: format!("border events without the `{name}` column"),
        };
        let mut coded = |name: &str| -> Result<Option<Coded>, DeriveError> {
            let Some(d) = col(name).and_then(|c| c.as_dictionary_opt::<Int32Type>()) else {
                return Ok(None);
            };
            let Some(values) = d.values().as_string_opt::<i32>() else {
                return Ok(None);
            };
            let codes = (0..values.len())
                .map(|j| {
                    if values.is_valid(j) && !values.value(j).is_empty() {
                        dict.intern(values.value(j))
                    } else {
                        Ok(NONE)
                    }
                })
                .collect::<Result<_, _>>()?;
            Ok(Some(Coded {
                keys: d.keys(),
                codes,
            }))
        };
        let person = col("person_key")
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| need("person_key"))?;
        let country = coded("reporting_country")?.ok_or_else(|| need("reporting_country"))?;
        let direction = coded("direction")?.ok_or_else(|| need("direction"))?;
        let date = col("event_date")
            .and_then(|c| c.as_any().downcast_ref::<Date32Array>())
            .ok_or_else(|| need("event_date"))?;
        let time = col("event_time").and_then(|c| c.as_any().downcast_ref::<Time32SecondArray>());
        let birth = col("date_of_birth").and_then(|c| c.as_any().downcast_ref::<Date32Array>());
        let age = col("age").and_then(|c| c.as_any().downcast_ref::<Int32Array>());
        let permitted =
            col("permitted_stay_days").and_then(|c| c.as_any().downcast_ref::<Int32Array>());
        let record_key = col("record_key")
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            .ok_or_else(|| need("record_key"))?;
        let source_row = col("source_row").and_then(|c| c.as_any().downcast_ref::<UInt64Array>());
        let counterpart = coded("counterpart_country")?;
        let citizenship = coded("citizenship")?;
        let sex = coded("sex")?;
        let purpose = coded("travel_purpose")?;
        let visa = coded("visa_type")?;
        let mode = coded("transport_mode")?;
        let source = coded("source_id")?;
        let submission = coded("submission_id")?;
        let entry = dict.lookup("entry");
        let code = |c: &Option<Coded>, i: usize| c.as_ref().map_or(NONE, |c| c.get(i));
        for i in 0..batch.num_rows() {
            let direction = direction.get(i);
            if !person.is_valid(i) || !date.is_valid(i) || direction == NONE {
                loaded.unusable += 1;
                continue;
            }
            let (p, hex) = person_number(person.value(i));
            loaded.odd_keys += usize::from(!hex);
            let int = |a: Option<&Int32Array>| a.filter(|a| a.is_valid(i)).map(|a| a.value(i));
            let Some(slot) = out.get_mut(loaded.filled) else {
                return Err(err(&"the row group holds more rows than its metadata says"));
            };
            loaded.filled += 1;
            *slot = Event {
                person: p,
                record_key: record_key.value(i),
                source_row: source_row.map_or(0, |a| a.value(i)),
                day: date.value(i),
                birth: birth
                    .filter(|a| a.is_valid(i))
                    .map_or(i32::MIN, |a| a.value(i)),
                permitted: int(permitted).unwrap_or(-1),
                minute: time
                    .filter(|a| a.is_valid(i))
                    .map_or(-1, |a| (a.value(i) / 60) as i16),
                age: int(age).map_or(-1, |a| a.clamp(-1, 200) as i16),
                country: country.get(i),
                counterpart: code(&counterpart, i),
                citizenship: code(&citizenship, i),
                sex: code(&sex, i),
                visa: code(&visa, i),
                purpose: code(&purpose, i),
                mode: code(&mode, i),
                source: code(&source, i),
                submission: code(&submission, i),
                entry: Some(direction) == entry,
                flags: 0,
            };
        }
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{ArrayRef, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;

    #[test]
    fn a_record_that_cannot_be_placed_is_counted_not_lost() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("events.parquet");
        let text = |v: Vec<Option<&str>>| -> ArrayRef { Arc::new(StringArray::from(v)) };
        let batch = RecordBatch::try_from_iter(vec![
            (
                "person_key",
                text(vec![Some(&"ab".repeat(16)), Some("P-1"), Some("P-2")]),
            ),
            ("reporting_country", text(vec![Some("GTM"); 3])),
            (
                "direction",
                text(vec![Some("entry"), Some("exit"), Some("entry")]),
            ),
            (
                "event_date",
                Arc::new(Date32Array::from(vec![Some(19_000), Some(19_001), None])) as ArrayRef,
            ),
            (
                "record_key",
                Arc::new(UInt64Array::from(vec![1, 2, 3])) as ArrayRef,
            ),
        ])
        .expect("batch");
        let mut w = ArrowWriter::try_new(File::create(&path).expect("file"), batch.schema(), None)
            .expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
        let got = load(&[path]).expect("load");
        assert_eq!(got.events.len(), 2);
        assert_eq!(got.unusable, 1);
        assert_eq!(got.odd_keys, 1, "`P-1` is not 32 hex digits");
        assert_eq!(
            got.events[0].person,
            u128::from_str_radix(&"ab".repeat(16), 16).expect("hex")
        );
        assert!(got.events[0].entry && !got.events[1].entry);
    }
}
