//! `corridor encode`: run inside each organisation. Reads its export with
//! the ingest readers, replaces the personal-detail columns by one keyed
//! Bloom-filter encoding, and writes everything else through untouched.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use chrono::Datelike;
use corridor_ingest::read::{self, RawValue};
use corridor_ingest::value;
use rayon::prelude::*;
use serde::Serialize;

use crate::LinkError;
use crate::bloom::{Encoder, FieldValue};
use crate::schema::{FieldKind, LinkageSchema};

/// What an encode run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EncodeReport {
    pub rows_read: u64,
    pub rows_written: u64,
    /// Rows that could not be split into fields, by row number: written to
    /// the `.rejected.csv` beside the output, without their values.
    pub rows_rejected: u64,
    /// Per field: values present, missing, and unreadable (a date that is
    /// not a date: encoded as missing and counted here).
    pub fields: Vec<FieldCount>,
    pub bits: usize,
    pub hardening: Vec<String>,
}

impl EncodeReport {
    /// The fields more than half of whose values were there but could not
    /// be read (a date column in another format than the schema's).
    pub fn mostly_unreadable(&self) -> Vec<&FieldCount> {
        self.fields
            .iter()
            .filter(|f| f.unreadable > 0 && f.unreadable * 2 > f.present + f.unreadable)
            .collect()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FieldCount {
    pub field: String,
    pub present: u64,
    pub missing: u64,
    pub unreadable: u64,
}

/// The column holding the encoding in the output.
pub const ENCODING_COLUMN: &str = "linkage_encoding";

const CHUNK: usize = 8192;

/// Encodes `input` into the CSV `output` (UTF-8, comma). Personal-detail
/// columns are left out; every other column is copied as read.
pub fn encode_file(
    schema: &LinkageSchema,
    secret: &[u8],
    input: &Path,
    output: &Path,
    mut progress: impl FnMut(u64),
) -> Result<EncodeReport, LinkError> {
    let personal = schema.personal_columns();
    let mut wanted: Vec<&str> = personal.clone();
    wanted.push(&schema.record_id);
    for f in &schema.fields {
        if let Some(s) = &f.salt {
            wanted.push(s);
        }
    }
    let mut rows = read::open(input, &schema.reader, &wanted)?;
    let headers = rows.headers().to_vec();
    let find = |c: &str| crate::column(input, &headers, c);
    find(&schema.record_id)?;
    let field_cols: Vec<Vec<usize>> = schema
        .fields
        .iter()
        .map(|f| f.columns.iter().map(|c| find(c)).collect())
        .collect::<Result<_, _>>()?;
    let salt_cols: Vec<Option<usize>> = schema
        .fields
        .iter()
        .map(|f| f.salt.as_deref().map(find).transpose())
        .collect::<Result<_, _>>()?;
    let kept: Vec<usize> = (0..headers.len())
        .filter(|i| !personal.contains(&headers[*i].as_str()))
        .collect();
    let formats = schema.field_date_formats();

    let reader_formats = schema.reader.date_formats.clone().unwrap_or_default();
    let encoder = Encoder::new(schema, secret);
    let io = |source| LinkError::Io {
        path: output.to_path_buf(),
        source,
    };
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = output.with_extension("partial");
    let mut out = csv::Writer::from_path(&tmp).map_err(|e| LinkError::Csv {
        path: tmp.clone(),
        message: e.to_string(),
    })?;
    let csv_err = |e: csv::Error| LinkError::Csv {
        path: output.to_path_buf(),
        message: e.to_string(),
    };
    let mut header: Vec<&str> = kept.iter().map(|i| headers[*i].as_str()).collect();
    header.push(ENCODING_COLUMN);
    out.write_record(&header).map_err(csv_err)?;

    let mut report = EncodeReport {
        bits: schema.encoded_bits(),
        hardening: schema
            .encoding
            .hardening
            .iter()
            .map(|h| format!("{h:?}").to_lowercase())
            .collect(),
        fields: schema
            .fields
            .iter()
            .map(|f| FieldCount {
                field: f.name.clone(),
                ..FieldCount::default()
            })
            .collect(),
        ..EncodeReport::default()
    };
    let mut rejected: Vec<(u64, String)> = Vec::new();
    let b64 = base64::engine::general_purpose::STANDARD;
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        while chunk.len() < CHUNK {
            match rows.next_row() {
                None => break,
                Some(row) => {
                    let row = row?;
                    report.rows_read += 1;
                    if let Some(problem) = &row.problem {
                        rejected.push((row.number, format!("{problem:?}")));
                        continue;
                    }
                    chunk.push(row);
                }
            }
        }
        if chunk.is_empty() {
            break;
        }
        // Read each field; count what was missing or unreadable.
        let prepared: Vec<(Vec<FieldValue>, Vec<String>, Vec<u8>)> = chunk
            .par_iter()
            .map(|row| {
                let mut flags = Vec::with_capacity(schema.fields.len());
                let values = schema
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(f, rule)| {
                        let (v, flag) =
                            field_value(rule.kind, &field_cols[f], &row.values, &formats[f]);
                        flags.push(flag);
                        v
                    })
                    .collect();
                let salts = salt_cols
                    .iter()
                    .zip(&schema.fields)
                    .map(|(c, rule)| salt_value(*c, rule.salt_part, &row.values, &reader_formats))
                    .collect();
                (values, salts, flags)
            })
            .collect();
        let encodings: Vec<String> = prepared
            .par_iter()
            .map(|(values, salts, _)| b64.encode(encoder.encode(values, salts).to_bytes()))
            .collect();
        for ((row, (_, _, flags)), encoding) in chunk.iter().zip(&prepared).zip(encodings) {
            for (count, flag) in report.fields.iter_mut().zip(flags) {
                match flag {
                    0 => count.present += 1,
                    1 => count.missing += 1,
                    _ => count.unreadable += 1,
                }
            }
            let mut record: Vec<String> = kept.iter().map(|i| cell_text(&row.values[*i])).collect();
            record.push(encoding);
            out.write_record(&record).map_err(csv_err)?;
            report.rows_written += 1;
        }
        progress(report.rows_read);
    }
    out.flush().map_err(io)?;
    drop(out);
    std::fs::rename(&tmp, output).map_err(io)?;
    report.rows_rejected = rejected.len() as u64;
    let rejected_path = output.with_extension("rejected.csv");
    if !rejected.is_empty() {
        let mut w = std::fs::File::create(&rejected_path).map_err(io)?;
        writeln!(w, "row,reason").map_err(io)?;
        for (row, reason) in rejected {
            writeln!(w, "{row},\"{}\"", reason.replace('"', "'")).map_err(io)?;
        }
    } else if rejected_path.exists() {
        std::fs::remove_file(&rejected_path).map_err(io)?;
    }
    Ok(report)
}

/// A field's value from its columns; flag 0 present, 1 missing,
/// 2 unreadable.
pub fn field_value(
    kind: FieldKind,
    cols: &[usize],
    values: &[RawValue],
    formats: &[String],
) -> (FieldValue, u8) {
    match kind {
        FieldKind::Date => {
            let raw = &values[cols[0]];
            if raw.is_empty() {
                return (FieldValue::Missing, 1);
            }
            match value::to_date(raw.cell(), formats) {
                Ok(days) => {
                    let d = value::date_of_days(days);
                    (FieldValue::Date(d.year(), d.month(), d.day()), 0)
                }
                Err(_) => (FieldValue::Missing, 2),
            }
        }
        FieldKind::Name | FieldKind::Text | FieldKind::Identifier | FieldKind::Number => {
            let text: Vec<String> = cols
                .iter()
                .map(|c| values[*c].text().trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
            if text.is_empty() {
                (FieldValue::Missing, 1)
            } else {
                (FieldValue::Text(text.join(" ")), 0)
            }
        }
    }
}

/// The salt of a field in one row: the folded text of the salt column, or
/// the year of its date.
fn salt_value(
    col: Option<usize>,
    part: Option<crate::schema::SaltPart>,
    values: &[RawValue],
    formats: &[String],
) -> String {
    let Some(c) = col else {
        return String::new();
    };
    match part {
        Some(crate::schema::SaltPart::Year) => value::to_date(values[c].cell(), formats)
            .map(|d| value::date_of_days(d).year().to_string())
            .unwrap_or_default(),
        None => crate::bloom::normalise_text(&values[c].text()),
    }
}

/// A cell as text in the output: dates without a time of day as ISO dates.
fn cell_text(v: &RawValue) -> String {
    match v {
        RawValue::DateTime(dt) if dt.time() == chrono::NaiveTime::MIN => {
            dt.date().format("%Y-%m-%d").to_string()
        }
        other => other.text().into_owned(),
    }
}
