//! Mapping files: how one source's export becomes records of the standard.
//!
//! A mapping is TOML. It names the record type, how to read the file, and for
//! each standard field where its value comes from and how to transform it.
//! See `docs/mapping.md`.

use std::collections::BTreeMap;
use std::path::Path;

use corridor_model::{FieldType, RecordType};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::IngestError;

/// A parsed, checked mapping file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The record type the source holds (`border_events`, `trafficking_cases`…).
    pub record_type: String,
    /// A short name for the source (`gtm-igm-border`); defaults to the
    /// mapping file's name.
    #[serde(default)]
    pub source: Option<String>,
    /// What the source is, for people.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub reader: ReaderOptions,
    /// Standard field name → where its value comes from.
    pub fields: BTreeMap<String, FieldSpec>,
}

/// How to read the file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderOptions {
    /// `csv`, `excel`, `json`, `ndjson` or `parquet`; by default from the
    /// file's extension.
    pub format: Option<String>,
    /// Text encoding: `utf-8`, `utf-16le`, `utf-16be`, `windows-1252`,
    /// `iso-8859-1`… or `auto` (the default: a byte-order mark, else UTF-8
    /// if the file is valid UTF-8, else Windows-1252).
    pub encoding: Option<String>,
    /// Field delimiter of a CSV; sniffed from the first lines if absent.
    pub delimiter: Option<String>,
    /// Quote character of a CSV (default `"`).
    pub quote: Option<String>,
    /// 1-based line (CSV) or row (Excel) of the header (default 1).
    pub header_row: Option<u64>,
    /// Excel sheet name (default: the first sheet).
    pub sheet: Option<String>,
    /// Formats tried, in order, for every date field without its own
    /// (chrono `strftime` syntax, e.g. `%d/%m/%Y`).
    pub date_formats: Option<Vec<String>>,
    /// Formats tried for time fields (default `%H:%M:%S`, `%H:%M`).
    pub time_formats: Option<Vec<String>>,
}

/// Where one standard field's value comes from: exactly one of `column`,
/// `columns`, `constant`, `pseudonymise`, `age_at` or `flags`, with
/// optional `recode`, `formats`, `split` and `default`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// A source column (for nested JSON, a dotted path: `traveller.document.number`).
    pub column: Option<String>,
    /// Several columns, concatenated with `join` (default a space).
    pub columns: Option<Vec<String>>,
    pub join: Option<String>,
    /// The same value for every row.
    pub constant: Option<String>,
    /// Identifier columns, replaced by a keyed hash (HMAC-SHA256 with the
    /// workspace secret). The raw values are never stored.
    pub pseudonymise: Option<Vec<String>>,
    /// Standard fields mixed into the pseudonym, after they are resolved
    /// (e.g. `citizenship`, so that a document number is keyed with its
    /// issuing country however the source spells it).
    pub with: Option<Vec<String>>,
    /// Age in completed years from `date_of_birth` on the date in this field.
    pub age_at: Option<String>,
    /// For a list of codes held as 0/1 columns: column → code.
    pub flags: Option<BTreeMap<String, String>>,
    /// Source value → standard code (or any value the code list knows).
    pub recode: Option<BTreeMap<String, String>>,
    /// Date or time formats for this field, tried in order.
    pub formats: Option<Vec<String>>,
    /// Separator of a list held in one column (default `;`).
    pub split: Option<String>,
    /// Value used when the source value is empty.
    pub default: Option<String>,
}

impl FieldSpec {
    fn kinds(&self) -> Vec<&'static str> {
        let mut k = Vec::new();
        if self.column.is_some() {
            k.push("column");
        }
        if self.columns.is_some() {
            k.push("columns");
        }
        if self.constant.is_some() {
            k.push("constant");
        }
        if self.pseudonymise.is_some() {
            k.push("pseudonymise");
        }
        if self.age_at.is_some() {
            k.push("age_at");
        }
        if self.flags.is_some() {
            k.push("flags");
        }
        k
    }

    /// The source columns this field reads.
    pub fn source_columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        out.extend(self.column.as_deref());
        out.extend(self.columns.iter().flatten().map(String::as_str));
        out.extend(self.pseudonymise.iter().flatten().map(String::as_str));
        out.extend(self.flags.iter().flat_map(|f| f.keys()).map(String::as_str));
        out
    }
}

impl Mapping {
    /// Reads and checks a mapping file.
    pub fn load(path: &Path) -> Result<(Mapping, String), IngestError> {
        let text = std::fs::read_to_string(path).map_err(|e| IngestError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let mut mapping = Mapping::parse(&text).map_err(|message| IngestError::Mapping {
            path: path.to_path_buf(),
            message,
        })?;
        if mapping.source.is_none() {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("source");
            mapping.source = Some(stem.trim_end_matches(".mapping").to_string());
        }
        let hash = hex::encode(Sha256::digest(text.as_bytes()));
        Ok((mapping, hash))
    }

    /// Parses and checks mapping text; the error says what is wrong and
    /// where, in words a data officer can act on.
    pub fn parse(text: &str) -> Result<Mapping, String> {
        let mapping: Mapping = toml::from_str(text).map_err(|e| e.to_string())?;
        mapping.check()?;
        Ok(mapping)
    }

    pub fn record_type(&self) -> Result<RecordType, String> {
        RecordType::from_name(&self.record_type).ok_or_else(|| {
            let names: Vec<&str> = RecordType::ALL.iter().map(|t| t.name()).collect();
            format!(
                "record_type '{}' is not one of: {}",
                self.record_type,
                names.join(", ")
            )
        })
    }

    pub fn source_name(&self) -> &str {
        self.source.as_deref().unwrap_or("source")
    }

    fn check(&self) -> Result<(), String> {
        let t = self.record_type()?;
        let mut problems = Vec::new();
        for (name, spec) in &self.fields {
            let Some(field) = t.field(name) else {
                let names: Vec<&str> = t.fields().iter().map(|f| f.name).collect();
                problems.push(format!(
                    "fields.{name}: {} has no field '{name}' (its fields: {})",
                    t.name(),
                    names.join(", ")
                ));
                continue;
            };
            let kinds = spec.kinds();
            if kinds.len() != 1 {
                problems.push(format!(
                    "fields.{name}: give exactly one of column, columns, constant, pseudonymise, age_at, flags (found {})",
                    if kinds.is_empty() { "none".to_string() } else { kinds.join(", ") }
                ));
            }
            if spec.pseudonymise.is_some() && field.ty != FieldType::Pseudonym {
                problems.push(format!(
                    "fields.{name}: only pseudonym fields can be pseudonymised"
                ));
            }
            if field.ty == FieldType::Pseudonym && spec.pseudonymise.is_none() {
                problems.push(format!(
                    "fields.{name}: a pseudonym must come from `pseudonymise = [identifier columns]`, never from a column as it is"
                ));
            }
            if spec.flags.is_some() && !matches!(field.ty, FieldType::CodeSet(_)) {
                problems.push(format!(
                    "fields.{name}: flags make a list of codes; {name} is not one"
                ));
            }
            if let Some(at) = &spec.age_at {
                if name != "age" {
                    problems.push(format!("fields.{name}: age_at only derives the age field"));
                }
                if t.field(at).map(|f| f.ty) != Some(FieldType::Date) {
                    problems.push(format!(
                        "fields.{name}: age_at must name a date field of {}, not '{at}'",
                        t.name()
                    ));
                }
                if !self.fields.contains_key("date_of_birth") {
                    problems.push(format!(
                        "fields.{name}: age_at needs date_of_birth to be mapped"
                    ));
                }
            }
            for w in spec.with.iter().flatten() {
                if !self.fields.contains_key(w) {
                    problems.push(format!(
                        "fields.{name}: with names '{w}', which is not mapped"
                    ));
                }
            }
        }
        for f in t.fields() {
            if f.required
                && !self.fields.contains_key(f.name)
                && !matches!(f.ty, FieldType::CodeSet(_))
            {
                problems.push(format!(
                    "fields.{}: required by {} but not mapped",
                    f.name,
                    t.name()
                ));
            }
        }
        if let Some(format) = &self.reader.format
            && ![
                "csv", "tsv", "excel", "xlsx", "xls", "ods", "json", "ndjson", "parquet",
            ]
            .contains(&format.as_str())
        {
            problems.push(format!(
                "reader.format '{format}' is not csv, excel, json, ndjson or parquet"
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }

    /// Every source column the mapping reads.
    pub fn source_columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .fields
            .values()
            .flat_map(|f| f.source_columns())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Columns whose raw values are identifiers: never written anywhere.
    pub fn identifier_columns(&self) -> Vec<&str> {
        self.fields
            .values()
            .flat_map(|f| f.pseudonymise.iter().flatten())
            .map(String::as_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
record_type = "border_events"
[reader]
format = "csv"
date_formats = ["%d/%m/%Y"]
[fields]
person_key = { pseudonymise = ["Doc"], with = ["citizenship"] }
reporting_country = { constant = "GTM" }
direction = { column = "Dir", recode = { E = "entry", S = "exit" } }
event_date = { column = "Date" }
citizenship = { column = "Nat" }
sex = { column = "Sex" }
date_of_birth = { column = "Born" }
age = { age_at = "event_date" }
"#;

    #[test]
    fn a_good_mapping_parses() {
        let m = Mapping::parse(GOOD).expect("parses");
        assert_eq!(m.record_type().expect("type"), RecordType::BorderEvent);
        assert_eq!(m.identifier_columns(), vec!["Doc"]);
        assert!(m.source_columns().contains(&"Nat"));
    }

    #[test]
    fn mistakes_are_named() {
        let bad = GOOD.replace(
            "event_date = { column = \"Date\" }",
            "event_dat = { column = \"Date\" }",
        );
        let err = Mapping::parse(&bad).expect_err("unknown field");
        assert!(err.contains("has no field 'event_dat'"), "{err}");
        assert!(err.contains("event_date: required"), "{err}");
        let bad = GOOD.replace(
            "{ pseudonymise = [\"Doc\"], with = [\"citizenship\"] }",
            "{ column = \"Doc\" }",
        );
        let err = Mapping::parse(&bad).expect_err("raw identifier");
        assert!(err.contains("never from a column as it is"), "{err}");
        let bad = GOOD.replace(
            "{ constant = \"GTM\" }",
            "{ constant = \"GTM\", column = \"X\" }",
        );
        assert!(
            Mapping::parse(&bad)
                .expect_err("two kinds")
                .contains("exactly one")
        );
        let bad = GOOD.replace(
            "record_type = \"border_events\"",
            "record_type = \"crossings\"",
        );
        assert!(
            Mapping::parse(&bad)
                .expect_err("type")
                .contains("is not one of")
        );
        assert!(Mapping::parse("record_type = ").is_err());
    }
}
