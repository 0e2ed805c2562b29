//! The records being linked, held in memory: an id, the organisation or
//! file they came from, an encoding (for blocking, and for comparison on the
//! encoded path), plaintext details (plaintext path only) and the
//! non-identifying attributes compared beside them.

use std::collections::HashMap;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use base64::Engine;
use corridor_ingest::read::{self, RawValue};

use crate::LinkError;
use crate::bloom::{Encoder, Encoding, FieldValue, normalise_text};
use crate::encode::{ENCODING_COLUMN, field_value};
use crate::schema::{CompareRule, Layout, LinkageSchema};

#[derive(Debug, Default, Clone)]
pub struct Pool {
    pub ids: Vec<String>,
    /// Index into `source_names` for every record.
    pub sources: Vec<u16>,
    pub source_names: Vec<String>,
    /// The record-level filter of each record's encoding.
    pub encodings: Vec<Encoding>,
    /// The fields' own filters of each record's encoding, one after the
    /// other (empty when the schema gives no field a filter of its own).
    pub field_filters: Vec<Box<[u64]>>,
    /// Field index and word range (within `field_filters`) of each field
    /// that has a filter of its own.
    pub field_layout: Vec<(usize, std::ops::Range<usize>)>,
    /// Plaintext details per record, in the schema's field order (empty on
    /// the encoded path).
    pub plain: Vec<Vec<FieldValue>>,
    /// Compared attributes per record, in `compares` order.
    pub attributes: Vec<Vec<Option<String>>>,
    pub compares: Vec<CompareRule>,
}

impl Pool {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn is_plaintext(&self) -> bool {
        !self.plain.is_empty()
    }

    /// Splits a finished encoding into its record-level filter and the
    /// fields' own filters; `None` if its length does not fit the layout.
    fn push_encoding(&mut self, layout: &Layout, words: Vec<u64>) -> Option<()> {
        let end = layout.fields.last().map_or(layout.record.end, |f| f.1.end);
        if words.len() != end {
            return None;
        }
        let offset = layout.record.end;
        self.field_layout = layout
            .fields
            .iter()
            .map(|(f, r)| (*f, r.start - offset..r.end - offset))
            .collect();
        self.field_filters.push(words[offset..].into());
        self.encodings
            .push(Encoding::from_words(words[..offset].to_vec()));
        Some(())
    }

    fn source_index(&mut self, name: &str) -> u16 {
        if let Some(i) = self.source_names.iter().position(|s| s == name) {
            return i as u16;
        }
        self.source_names.push(name.to_string());
        (self.source_names.len() - 1) as u16
    }

    /// Record ids must be unique across the pool: the outputs and the
    /// evaluation key on them.
    pub fn check_unique(&self) -> Result<(), LinkError> {
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(self.len());
        for (i, id) in self.ids.iter().enumerate() {
            if let Some(first) = seen.insert(id.as_str(), i) {
                return Err(LinkError::DuplicateId {
                    id: id.clone(),
                    first: self.source_names[self.sources[first] as usize].clone(),
                    second: self.source_names[self.sources[i] as usize].clone(),
                });
            }
        }
        Ok(())
    }

    /// Adds an encoded file written by `corridor encode` (or any CSV with the
    /// record id, the compared columns and a base64 `linkage_encoding`).
    pub fn add_encoded_file(
        &mut self,
        schema: &LinkageSchema,
        path: &Path,
        source: &str,
    ) -> Result<u64, LinkError> {
        let opts = corridor_ingest::mapping::ReaderOptions {
            format: Some("csv".into()),
            encoding: Some("utf-8".into()),
            delimiter: Some(",".into()),
            ..Default::default()
        };
        let mut rows = read::open(path, &opts, &[])?;
        let headers = rows.headers().to_vec();
        let col = |c: &str| crate::column(path, &headers, c);
        let id = col(&schema.record_id)?;
        let enc = col(ENCODING_COLUMN)?;
        let attrs: Vec<usize> = schema
            .compares
            .iter()
            .map(|c| col(&c.column))
            .collect::<Result<_, _>>()?;
        self.compares = schema.compares.clone();
        let s = self.source_index(source);
        let b64 = base64::engine::general_purpose::STANDARD;
        let bits = schema.encoded_bits();
        let layout = schema.layout();
        let mut n = 0;
        while let Some(row) = rows.next_row() {
            let row = row?;
            let bad = |message: String| LinkError::BadRow {
                path: path.to_path_buf(),
                row: row.number,
                message,
            };
            if let Some(p) = &row.problem {
                return Err(bad(format!("{p:?}")));
            }
            let text = row.values[enc].text();
            b64.decode(text.trim())
                .ok()
                .and_then(|b| Encoding::from_bytes(&b))
                .and_then(|e| self.push_encoding(&layout, e.words))
                .ok_or_else(|| {
                    bad(format!(
                        "column {ENCODING_COLUMN} is not a base64 encoding of {bits} bits (was the file encoded with this schema?)"
                    ))
                })?;
            self.ids.push(row.values[id].text().trim().to_string());
            self.sources.push(s);
            self.attributes.push(attributes(&row.values, &attrs));
            n += 1;
        }
        Ok(n)
    }

    /// A pool of whole files, each its own source (named by its file
    /// stem): encoded files as the partners wrote them, or plaintext ones
    /// encoded here, in memory and for blocking only, under a fixed public
    /// key: the details are in the clear already, so a key would hide
    /// nothing, and a fixed one gives the same candidates, hence the same
    /// links, on every run. Returns the pool (its record ids checked
    /// unique) and the records read from each file.
    pub fn from_files(
        schema: &LinkageSchema,
        paths: &[std::path::PathBuf],
        plaintext: bool,
    ) -> Result<(Pool, Vec<u64>), LinkError> {
        use sha2::Digest;
        let mut pool = Pool::default();
        let key: [u8; 32] = sha2::Sha256::digest(b"corridor plaintext blocking").into();
        let encoder = Encoder::new(schema, &key);
        let mut counts = Vec::with_capacity(paths.len());
        for path in paths {
            let source = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            counts.push(if plaintext {
                pool.add_plaintext_file(schema, &encoder, path, &source)?
            } else {
                pool.add_encoded_file(schema, path, &source)?
            });
        }
        pool.check_unique()?;
        Ok((pool, counts))
    }

    /// Adds a plaintext file (shared unencoded under an agreement): details
    /// are read with the schema's fields; an encoding under a throw-away key
    /// is made only for blocking and never leaves memory.
    pub fn add_plaintext_file(
        &mut self,
        schema: &LinkageSchema,
        blocking_encoder: &Encoder,
        path: &Path,
        source: &str,
    ) -> Result<u64, LinkError> {
        let mut wanted = schema.personal_columns();
        wanted.push(&schema.record_id);
        let mut rows = read::open(path, &schema.reader, &wanted)?;
        let headers = rows.headers().to_vec();
        let col = |c: &str| crate::column(path, &headers, c);
        let id = col(&schema.record_id)?;
        let field_cols: Vec<Vec<usize>> = schema
            .fields
            .iter()
            .map(|f| f.columns.iter().map(|c| col(c)).collect())
            .collect::<Result<_, _>>()?;
        let attrs: Vec<usize> = schema
            .compares
            .iter()
            .map(|c| col(&c.column))
            .collect::<Result<_, _>>()?;
        let formats = schema.field_date_formats();
        self.compares = schema.compares.clone();
        let s = self.source_index(source);
        let no_salt = vec![String::new(); schema.fields.len()];
        let mut n = 0;
        while let Some(row) = rows.next_row() {
            let row = row?;
            if let Some(p) = &row.problem {
                return Err(LinkError::BadRow {
                    path: path.to_path_buf(),
                    row: row.number,
                    message: format!("{p:?}"),
                });
            }
            let values: Vec<FieldValue> = schema
                .fields
                .iter()
                .enumerate()
                .map(|(f, rule)| {
                    // Folded once here, not at every comparison.
                    match field_value(rule.kind, &field_cols[f], &row.values, &formats[f]).0 {
                        FieldValue::Text(t) => match normalise_text(&t) {
                            n if n.is_empty() => FieldValue::Missing,
                            n => FieldValue::Text(n),
                        },
                        other => other,
                    }
                })
                .collect();
            // Only the record-level filter: plaintext compares the details.
            self.encodings
                .push(blocking_encoder.encode_record(&values, &no_salt));
            self.plain.push(values);
            self.ids.push(row.values[id].text().trim().to_string());
            self.sources.push(s);
            self.attributes.push(attributes(&row.values, &attrs));
            n += 1;
        }
        Ok(n)
    }

    /// Adds records from Arrow batches (a workspace's `trafficking_cases`):
    /// `id`, `source` and the encoding column by name; compared attributes by
    /// the rules' column names. Records without an encoding are skipped and
    /// counted.
    pub fn add_batches(
        &mut self,
        batches: &[RecordBatch],
        id: &str,
        source: &str,
        encoding: &str,
        compares: &[CompareRule],
        layout: &Layout,
    ) -> Result<(u64, u64), LinkError> {
        self.compares = compares.to_vec();
        let (mut added, mut skipped) = (0, 0);
        for batch in batches {
            let get = |name: &str| {
                batch
                    .column_by_name(name)
                    .ok_or_else(|| LinkError::Input(format!("no column '{name}' to link on")))
            };
            let ids = text_column(get(id)?.as_ref());
            let srcs = text_column(get(source)?.as_ref());
            let encs = get(encoding)?;
            let attr_cols: Vec<Vec<Option<String>>> = compares
                .iter()
                .map(|c| get(&c.column).map(|a| text_column(a.as_ref())))
                .collect::<Result<_, _>>()?;
            for r in 0..batch.num_rows() {
                let bytes: Option<Vec<u8>> = match encs.data_type() {
                    DataType::Binary => {
                        let a = encs.as_binary::<i32>();
                        a.is_valid(r).then(|| a.value(r).to_vec())
                    }
                    DataType::LargeBinary => {
                        let a = encs.as_binary::<i64>();
                        a.is_valid(r).then(|| a.value(r).to_vec())
                    }
                    _ => None,
                };
                // Stored either as raw bytes or as the base64 text of the
                // encoded file.
                let encoding = bytes.and_then(|b| {
                    base64::engine::general_purpose::STANDARD
                        .decode(&b)
                        .ok()
                        .and_then(|d| Encoding::from_bytes(&d))
                        .or_else(|| Encoding::from_bytes(&b))
                });
                let pushed = encoding.and_then(|e| self.push_encoding(layout, e.words));
                if pushed.is_none() {
                    skipped += 1;
                    continue;
                }
                let s = self.source_index(srcs[r].as_deref().unwrap_or(""));
                self.ids.push(ids[r].clone().unwrap_or_default());
                self.sources.push(s);
                self.attributes
                    .push(attr_cols.iter().map(|c| c[r].clone()).collect());
                added += 1;
            }
        }
        Ok((added, skipped))
    }
}

fn attributes(values: &[RawValue], cols: &[usize]) -> Vec<Option<String>> {
    cols.iter()
        .map(|c| {
            let v = &values[*c];
            (!v.is_empty()).then(|| v.text().trim().to_string())
        })
        .collect()
}

/// Any Arrow column as optional text (codes, numbers, years); empty text
/// and the unknown code `_U` are no value.
pub fn text_column(a: &dyn Array) -> Vec<Option<String>> {
    match arrow::compute::cast(a, &DataType::Utf8) {
        Ok(c) => {
            let s = c.as_string::<i32>();
            (0..s.len())
                .map(|i| {
                    (s.is_valid(i) && !s.value(i).is_empty() && s.value(i) != "_U")
                        .then(|| s.value(i).to_string())
                })
                .collect()
        }
        Err(_) => vec![None; a.len()],
    }
}
