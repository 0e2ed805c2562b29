//! Residence statuses supplied from outside the border data (`derive
//! --initial-status`): a population register's or an earlier run's list of
//! travellers, each with a status and the day it held.
//!
//! No user holds the stored pseudonyms, so the file names travellers as the
//! border export does, by their identifier, and each is keyed with the
//! workspace secret exactly as intake keys `person_key`: the same identifier
//! columns, normalised the same way, mixed with the same standard fields
//! (the mapping's `pseudonymise = [...]` and `with = [...]`). The file is
//! read by intake's readers, so any encoding, delimiter, quoting or format
//! intake takes works here too.

use std::path::{Path, PathBuf};

use corridor_ingest::mapping::ReaderOptions;
use corridor_ingest::read::{self, Cell, RowProblem};
use corridor_model::{CodeListId, Countries, FieldType, RecordType};
use corridor_store::Workspace;

use crate::engine::KnownStatus;
use crate::events::{Dict, person_number};
use crate::residence::Known;
use crate::{DeriveError, HashMap};

/// Where supplied statuses come from and how their travellers are keyed.
#[derive(Debug, Clone)]
pub struct InitialStatus {
    /// A file with a header: the identifier and `with` columns below, and
    /// `reporting_country`, `resident` and `status_date`.
    pub path: PathBuf,
    /// Columns holding the identifier parts, in the order the border
    /// events' mapping lists its `pseudonymise` columns.
    pub identifiers: Vec<String>,
    /// The standard fields the mapping mixes into `person_key` (`with`), in
    /// its order; each is read from the file's column of the same name.
    pub with: Vec<String>,
    /// How to read the file (by default everything is detected); dates are
    /// `YYYY-MM-DD` unless `date_formats` says otherwise.
    pub reader: ReaderOptions,
}

impl InitialStatus {
    /// The demo world's keying, and the usual one: the document number,
    /// mixed with the citizenship.
    pub fn new(path: PathBuf) -> InitialStatus {
        InitialStatus {
            path,
            identifiers: vec!["document_number".into()],
            with: vec!["citizenship".into()],
            reader: ReaderOptions::default(),
        }
    }
}

const COUNTRY: &str = "reporting_country";
const RESIDENT: &str = "resident";
const DATE: &str = "status_date";

fn error(path: &Path, row: Option<u64>, field: Option<&str>, message: String) -> DeriveError {
    DeriveError::Status {
        path: path.to_path_buf(),
        row,
        field: field.map(str::to_string),
        message,
    }
}

/// How a `with` field's text becomes the part intake mixes in: a code is
/// resolved as intake resolves it, a text taken as written.
#[derive(Clone, Copy)]
enum Part {
    Code(CodeListId),
    Text,
}

fn resolve(list: CodeListId, value: &str) -> Result<&'static str, String> {
    let found = if list == CodeListId::Country {
        Countries::get().resolve(value).map(|c| c.alpha3.as_str())
    } else {
        list.list().resolve(value).map(|c| c.code.as_str())
    };
    found.map_err(|e| {
        let hint = if e.candidates.is_empty() {
            String::new()
        } else {
            format!("; closest: {}", e.candidates.join(", "))
        };
        format!("'{value}' is not in the {} code list{hint}", list.name())
    })
}

/// Reads the supplied statuses. Travellers at a border no event mentions
/// cannot matter and are left out.
pub fn load(ws: &Workspace, spec: &InitialStatus, dict: &Dict) -> Result<KnownStatus, DeriveError> {
    let path = spec.path.as_path();
    let parts: Vec<(String, Part)> = spec
        .with
        .iter()
        .map(|w| {
            let field = RecordType::BorderEvent
                .fields()
                .iter()
                .find(|f| f.name == w.as_str())
                .ok_or_else(|| {
                    error(
                        path,
                        None,
                        Some(w.as_str()),
                        "not a field of border events, so intake cannot mix it into person_key"
                            .into(),
                    )
                })?;
            let part = match field.ty {
                FieldType::Code(list) => Part::Code(list),
                FieldType::Text => Part::Text,
                other => {
                    return Err(error(
                        path,
                        None,
                        Some(w.as_str()),
                        format!(
                            "a {} field; only code and text fields can key a status file",
                            other.describe()
                        ),
                    ));
                }
            };
            Ok((w.clone(), part))
        })
        .collect::<Result<_, _>>()?;
    if spec.identifiers.is_empty() {
        return Err(error(
            path,
            None,
            None,
            "no identifier column: name the columns intake pseudonymises into person_key".into(),
        ));
    }
    let wanted: Vec<&str> = spec
        .identifiers
        .iter()
        .chain(&spec.with)
        .map(String::as_str)
        .chain([COUNTRY, RESIDENT, DATE])
        .collect();
    let mut reader = read::open(path, &spec.reader, &wanted)?;
    let headers: Vec<String> = reader.headers().to_vec();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                error(
                    path,
                    None,
                    Some(name),
                    format!("no such column; the file has: {}", headers.join(", ")),
                )
            })
    };
    let ids: Vec<usize> = spec
        .identifiers
        .iter()
        .map(|c| column(c))
        .collect::<Result<_, _>>()?;
    let with: Vec<(usize, &str, Part)> = parts
        .iter()
        .map(|(name, part)| Ok((column(name)?, name.as_str(), *part)))
        .collect::<Result<_, DeriveError>>()?;
    let (country_col, resident_col, date_col) =
        (column(COUNTRY)?, column(RESIDENT)?, column(DATE)?);
    let formats = spec.reader.date_formats.clone().unwrap_or_default();
    let mut out = KnownStatus::default();
    // The row each traveller was first given on, to name both on a clash.
    let mut first_row: HashMap<(u128, u16), u64> = HashMap::default();
    while let Some(row) = reader.next_row() {
        let row = row?;
        let n = row.number;
        let at = |field: &str, message: String| error(path, Some(n), Some(field), message);
        if row.values.iter().all(|v| v.is_empty()) {
            continue;
        }
        if let Some(problem) = &row.problem {
            let message = match problem {
                RowProblem::FieldCount {
                    found, expected, ..
                } => {
                    format!("{found} fields where the header has {expected}")
                }
                RowProblem::InvalidJson(m) => m.clone(),
            };
            return Err(error(path, Some(n), None, message));
        }
        let cell = |i: usize| row.values.get(i).map_or(Cell::Empty, |v| v.cell());
        let country_text = cell(country_col).text();
        if country_text.trim().is_empty() {
            return Err(at(COUNTRY, "empty".into()));
        }
        let country = resolve(CodeListId::Country, &country_text).map_err(|m| at(COUNTRY, m))?;
        let resident = match cell(resident_col).text().trim().to_lowercase().as_str() {
            "resident" => true,
            "non_resident" | "non-resident" | "nonresident" => false,
            _ => corridor_ingest::value::to_bool(cell(resident_col)).map_err(|m| {
                at(
                    RESIDENT,
                    format!("{m}; write resident or non_resident (or true/false)"),
                )
            })?,
        };
        let day =
            corridor_ingest::value::to_date(cell(date_col), &formats).map_err(|m| at(DATE, m))?;
        let mut identifiers: Vec<String> = Vec::with_capacity(ids.len());
        for (&c, name) in ids.iter().zip(&spec.identifiers) {
            let text = cell(c).text();
            // "NULL" is no identifier: keyed, it would be one person.
            let null = corridor_ingest::mapping::is_default_null(&text);
            if null || corridor_ingest::pseudonym::normalise_identifier(&text).is_empty() {
                return Err(at(
                    name.as_str(),
                    format!(
                        "the identifier column {} is empty or a null value, so no pseudonym can be made",
                        corridor_model::for_display(name, 64)
                    ),
                ));
            }
            identifiers.push(text.into_owned());
        }
        let mut salts: Vec<String> = Vec::with_capacity(with.len());
        for &(c, name, part) in &with {
            let value = cell(c);
            // An empty field is mixed in as intake mixes a missing value.
            let text = if value.is_empty() {
                String::new()
            } else {
                match part {
                    Part::Code(list) => resolve(list, &value.text())
                        .map_err(|m| at(name, m))?
                        .to_string(),
                    Part::Text => value.text().into_owned(),
                }
            };
            salts.push(text);
        }
        let Some(country) = dict.lookup(country) else {
            continue;
        };
        let id_parts: Vec<&str> = identifiers.iter().map(String::as_str).collect();
        let salts: Vec<&str> = salts.iter().map(String::as_str).collect();
        let key = ws.pseudonym("person_key", &id_parts, &salts)?;
        let person = (person_number(&key).0, country);
        let known = Known { resident, day };
        match out.insert(person, known) {
            Some(before) if before != known => {
                let first = first_row.get(&person).copied().unwrap_or_default();
                return Err(error(
                    path,
                    Some(n),
                    None,
                    format!(
                        "a second, different status for the traveller of row {first} at {}",
                        country_text.trim()
                    ),
                ));
            }
            Some(_) => {}
            None => {
                first_row.insert(person, n);
            }
        }
    }
    Ok(out)
}
