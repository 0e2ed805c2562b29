//! Mapping files: how one source's export becomes records of the standard.
//!
//! A mapping is TOML. It names the record type, how to read the file, and for
//! each standard field where its value comes from and how to transform it.
//! See `docs/mapping.md`.

use std::collections::BTreeMap;
use std::path::Path;

use corridor_model::{CodeListId, FieldType, RecordType, for_display};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::IngestError;
use crate::transform::{max_chars, recode_key, thousands};
use crate::value::format_is_valid;

/// Characters of a mapping's text (a column name, a key) quoted in a
/// message.
const QUOTED: usize = 80;

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
    /// The latest year a two-digit year (`%y`) may be: `24` is 2024 and
    /// `45` 1945 with `year_pivot = 2030` (default chrono's: 1970–2069).
    pub year_pivot: Option<i32>,
    /// Texts that mean "no value" in every field without its own list,
    /// compared without case after trimming (default
    /// [`DEFAULT_NULL_VALUES`]; `[]` for none).
    pub null_values: Option<Vec<String>>,
    /// The IANA time zone (`America/Guatemala`) whose local clock dates
    /// and times are stored in, when the values carry a UTC offset (`Z`,
    /// `+01:00`); by default the reporting country's, where its zones
    /// agree at that moment.
    pub time_zone: Option<String>,
}

/// The fields that say a trafficking case's age, one of which its mapping
/// maps: see docs/standard.md, "Sex, gender and age".
pub const AGE_FIELDS: &[&str] = &["date_of_birth", "age", "age_group", "majority_status"];

/// What exports write for "no value" when they write something: database
/// nulls, spreadsheet errors, and the Spanish and French "no data". Not
/// `NA`, which is Namibia's code.
pub const DEFAULT_NULL_VALUES: &[&str] = &[
    "NULL",
    "(null)",
    "<null>",
    "N/A",
    "#N/A",
    "S/D",
    "S/I",
    "N/D",
    "ND",
    "-",
    "--",
    "9999-12-31",
    "sin dato",
    "sin datos",
    "sin información",
    "sin informacion",
    "non renseigné",
    "non renseigne",
];

/// Whether `text`, trimmed and ignoring case, is one of
/// [`DEFAULT_NULL_VALUES`]: for readers without a mapping's own list.
pub fn is_default_null(text: &str) -> bool {
    let t = text.trim();
    DEFAULT_NULL_VALUES
        .iter()
        .any(|n| n.eq_ignore_ascii_case(t))
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
    /// Value used when the source value is empty or a null value.
    pub default: Option<String>,
    /// Texts that mean "no value" in this field (replacing the reader's
    /// list).
    pub null_values: Option<Vec<String>>,
    /// The latest year a two-digit year may be in this field (a birth
    /// date's is this year; an expiry's can be later).
    pub year_pivot: Option<i32>,
    /// The time zone of this field's local clock (replacing the reader's).
    pub time_zone: Option<String>,
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
        // TOML's errors quote the line at fault: escaped and cut like any
        // text from a file.
        let mapping: Mapping = toml::from_str(text).map_err(|e| {
            for_display(&e.to_string(), 300)
                .bare()
                .keep_newlines()
                .to_string()
        })?;
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
                let shown = for_display(w, QUOTED);
                if w == name {
                    problems.push(format!(
                        "fields.{name}: with names {name} itself: a key cannot be mixed with itself (it would take the row before's key); name fields read from the file, such as citizenship"
                    ));
                } else if !self.fields.contains_key(w) {
                    problems.push(format!(
                        "fields.{name}: with names {shown}, which is not mapped"
                    ));
                } else if t.field(w).is_some_and(|f| f.ty == FieldType::Pseudonym)
                    || self.fields.get(w).is_some_and(|s| s.age_at.is_some())
                {
                    problems.push(format!(
                        "fields.{name}: with names {shown}, which is itself computed (a pseudonym or a derived age), not read from the file; name fields read from the file, such as citizenship"
                    ));
                }
            }
            if let Some(recode) = &spec.recode {
                let recodable = matches!(
                    field.ty,
                    FieldType::Text | FieldType::Code(_) | FieldType::CodeSet(_) | FieldType::Bytes
                ) && (spec.column.is_some()
                    || spec.columns.is_some()
                    || spec.constant.is_some());
                if !recodable {
                    let what = if spec.pseudonymise.is_some() {
                        "a pseudonym".to_string()
                    } else if spec.flags.is_some() {
                        "flags".to_string()
                    } else if spec.age_at.is_some() {
                        "a derived age".to_string()
                    } else {
                        format!("a {} field", field.ty.describe())
                    };
                    problems.push(format!(
                        "fields.{name}: recode does not apply to {what} (it turns values into codes or text){}",
                        match field.ty {
                            FieldType::Date | FieldType::Time | FieldType::Year => {
                                "; say how the values are written with formats = [...]"
                            }
                            _ => "; remove it",
                        }
                    ));
                }
                let mut folded: BTreeMap<String, &String> = BTreeMap::new();
                for key in recode.keys() {
                    if let Some(other) = folded.insert(recode_key(key), key) {
                        problems.push(format!(
                            "fields.{name}: recode keys {} and {} are the same key (matching ignores case and surrounding spaces); keep one",
                            for_display(other, QUOTED),
                            for_display(key, QUOTED)
                        ));
                    }
                }
            }
            for f in spec.formats.iter().flatten() {
                if !format_is_valid(f) {
                    problems.push(format!(
                        "fields.{name}: formats has {}, which is not a valid format (chrono strftime syntax: %d/%m/%Y, %Y-%m-%d %H:%M, %d de %B de %Y…; or excel, excel_1904, epoch, epoch_ms)",
                        for_display(f, QUOTED)
                    ));
                }
            }
            if let Some(c) = &spec.constant {
                let max = max_chars(field.ty);
                if c.chars().count() > max {
                    problems.push(format!(
                        "fields.{name}: the constant has {} characters, more than the {max} a {name} value may have",
                        thousands(c.chars().count() as u64)
                    ));
                }
            }
        }
        for (what, nulls) in std::iter::once(("reader.null_values", &self.reader.null_values))
            .chain(
                self.fields
                    .iter()
                    .map(|(n, f)| (n.as_str(), &f.null_values)),
            )
        {
            if let Some(long) = nulls.iter().flatten().find(|n| n.trim().len() >= 64) {
                problems.push(format!(
                    "{what}: null value {} is 64 bytes or longer; a null value is a short text such as NULL or S/D",
                    for_display(long, QUOTED)
                ));
            }
        }
        for (what, zone) in
            std::iter::once(("reader.time_zone".to_string(), &self.reader.time_zone)).chain(
                self.fields
                    .iter()
                    .map(|(n, f)| (format!("fields.{n}"), &f.time_zone)),
            )
        {
            if let Some(zone) = zone
                && crate::zones::zone(zone).is_none()
            {
                problems.push(format!(
                    "{what}: time_zone {} is not an IANA time zone; write one such as America/Guatemala or Europe/Madrid (the tz database's names)",
                    for_display(zone, QUOTED)
                ));
            }
        }
        for (what, formats) in [
            ("reader.date_formats", &self.reader.date_formats),
            ("reader.time_formats", &self.reader.time_formats),
        ] {
            for f in formats.iter().flatten() {
                if !format_is_valid(f) {
                    problems.push(format!(
                        "{what}: {} is not a valid format (chrono strftime syntax: %d/%m/%Y, %Y-%m-%d %H:%M, %d de %B de %Y…; or excel, excel_1904, epoch, epoch_ms)",
                        for_display(f, QUOTED)
                    ));
                }
            }
        }
        for f in t.fields() {
            if f.required
                && !self.fields.contains_key(f.name)
                && !matches!(f.ty, FieldType::CodeSet(_))
            {
                let example = match f.ty {
                    FieldType::Code(CodeListId::Country) => "\"GTM\"",
                    FieldType::Code(_) => "\"<code>\"",
                    FieldType::Date => "\"2024-01-31\"",
                    _ => "\"…\"",
                };
                problems.push(format!(
                    "fields.{}: required by {} but not mapped; map it from a column, {} = {{ column = \"…\" }}, or, when every row has the same value and the file does not say it, give it: {} = {{ constant = {example} }}",
                    f.name,
                    t.name(),
                    f.name,
                    f.name
                ));
            }
        }
        let ages: Vec<&str> = AGE_FIELDS
            .iter()
            .copied()
            .filter(|f| t.field(f).is_some())
            .collect();
        if t == RecordType::TraffickingCase && !ages.iter().any(|f| self.fields.contains_key(*f)) {
            problems.push(format!(
                "trafficking_cases needs the person's age in some form (victims are counted by age group and sex, as SDG 16.2.2 and HTCDS count them): map one of {}; if the source records none, say so: age_group = {{ constant = \"_U\" }}",
                ages.join(", ")
            ));
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

    /// What the mapping says that it may not mean; not errors, as the
    /// mapping can be right. Reported by `mapping check` and `ingest`.
    pub fn warnings(&self) -> Vec<String> {
        let Ok(t) = self.record_type() else {
            return Vec::new();
        };
        let mut warnings = Vec::new();
        let mut shared_dates = false;
        for (name, spec) in &self.fields {
            let Some(field) = t.field(name) else { continue };
            if field.ty == FieldType::Text {
                for column in spec.column.iter().chain(spec.columns.iter().flatten()) {
                    if identifier_like(column) {
                        warnings.push(format!(
                            "fields.{name}: column {} looks like it holds document numbers or names, and {name} is free text: it would be stored in clear. Leave the column unmapped, or if it identifies people, pseudonymise it into a key field",
                            for_display(column, QUOTED)
                        ));
                    }
                }
            }
            let read = spec.column.is_some() || spec.columns.is_some() || spec.constant.is_some();
            if field.ty == FieldType::Date && read {
                match &spec.formats {
                    Some(formats) => warnings.extend(crate::dates::warning(
                        &format!("fields.{name}.formats"),
                        formats,
                    )),
                    None => shared_dates = true,
                }
            }
        }
        if shared_dates && let Some(formats) = &self.reader.date_formats {
            warnings.extend(crate::dates::warning("reader.date_formats", formats));
        }
        warnings
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

/// Whether a column's name says it holds identifiers or names: a word
/// such as document, passport, name or surname (in English, Spanish or
/// French), unless another word makes it a place's or an organisation's
/// ("Nombre del puesto", "Agency name").
fn identifier_like(column: &str) -> bool {
    const PERSONAL: &[&str] = &[
        "doc",
        "document",
        "documento",
        "documentos",
        "passport",
        "pasaporte",
        "passeport",
        "cedula",
        "dni",
        "dpi",
        "dui",
        "curp",
        "ssn",
        "nin",
        "identidad",
        "identity",
        "identite",
        "name",
        "names",
        "nombre",
        "nombres",
        "nom",
        "prenom",
        "apellido",
        "apellidos",
        "surname",
        "surnames",
        "firstname",
        "lastname",
        "fullname",
    ];
    const NOT_A_PERSON: &[&str] = &[
        "post",
        "puesto",
        "port",
        "border",
        "frontera",
        "fronterizo",
        "office",
        "oficina",
        "agency",
        "agencia",
        "organisation",
        "organization",
        "organizacion",
        "org",
        "institution",
        "institucion",
        "delegacion",
        "source",
        "fuente",
        "provider",
        "proveedor",
        "country",
        "pais",
        "pays",
        "city",
        "ciudad",
        "municipio",
        "place",
        "lugar",
        "site",
        "station",
        "estacion",
        "airport",
        "aeropuerto",
        "checkpoint",
        "punto",
        "type",
        "tipo",
    ];
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut last_lower = false;
    for c in corridor_model::without_accents(column).chars() {
        // A word ends at anything but a letter or digit, and where a
        // lower-case letter meets a capital (documentNumber).
        if (!c.is_alphanumeric() || (c.is_uppercase() && last_lower)) && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        }
        last_lower = c.is_lowercase();
    }
    if !word.is_empty() {
        words.push(word);
    }
    words.iter().any(|w| PERSONAL.contains(&w.as_str()))
        && !words.iter().any(|w| NOT_A_PERSON.contains(&w.as_str()))
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

    /// A key mixed with itself would take the row before's key (the slot
    /// still holds it when `with` is read), so two runs of the same file
    /// on different threads could key a traveller differently.
    #[test]
    fn a_key_salted_with_itself_is_refused() {
        let bad = GOOD.replace("with = [\"citizenship\"]", "with = [\"person_key\"]");
        let err = Mapping::parse(&bad).expect_err("self-salted");
        assert!(
            err.contains("fields.person_key: with names person_key itself"),
            "{err}"
        );
        let bad = GOOD.replace("with = [\"citizenship\"]", "with = [\"age\"]");
        let err = Mapping::parse(&bad).expect_err("salted with a derived age");
        assert!(err.contains("itself computed"), "{err}");
    }

    #[test]
    fn recode_keys_that_match_the_same_values_are_refused() {
        let bad = GOOD.replace(
            "recode = { E = \"entry\", S = \"exit\" }",
            "recode = { E = \"entry\", \" e\" = \"exit\", S = \"exit\" }",
        );
        let err = Mapping::parse(&bad).expect_err("colliding keys");
        assert!(
            err.contains("fields.direction: recode keys ' e' and 'E' are the same key"),
            "{err}"
        );
    }

    #[test]
    fn a_recode_on_a_date_is_refused() {
        let bad = GOOD.replace(
            "event_date = { column = \"Date\" }",
            "event_date = { column = \"Date\", recode = { \"hoy\" = \"2024-01-01\" } }",
        );
        let err = Mapping::parse(&bad).expect_err("recode on a date");
        assert!(
            err.contains("fields.event_date: recode does not apply to a date field"),
            "{err}"
        );
        let bad = GOOD.replace(
            "{ pseudonymise = [\"Doc\"], with = [\"citizenship\"] }",
            "{ pseudonymise = [\"Doc\"], recode = { \"X\" = \"Y\" } }",
        );
        let err = Mapping::parse(&bad).expect_err("recode on a pseudonym");
        assert!(
            err.contains("recode does not apply to a pseudonym"),
            "{err}"
        );
    }

    /// A format chrono cannot use is the mapping's mistake, found when it
    /// is loaded, not a date error on every row.
    #[test]
    fn an_invalid_date_format_is_a_mapping_error() {
        let bad = GOOD.replace(
            "date_formats = [\"%d/%m/%Y\"]",
            "date_formats = [\"%d/%Q/%Y\"]",
        );
        let err = Mapping::parse(&bad).expect_err("%Q");
        assert!(
            err.contains("reader.date_formats: '%d/%Q/%Y' is not a valid format"),
            "{err}"
        );
        let bad = GOOD.replace(
            "event_date = { column = \"Date\" }",
            "event_date = { column = \"Date\", formats = [\"%Y-%m-%\"] }",
        );
        let err = Mapping::parse(&bad).expect_err("a lone %");
        assert!(
            err.contains("fields.event_date: formats has '%Y-%m-%'"),
            "{err}"
        );
        let bad = GOOD.replace("[reader]", "[reader]\ntime_formats = [\"%H:%Q\"]");
        assert!(Mapping::parse(&bad).is_err());
    }

    #[test]
    fn a_time_zone_must_be_one_of_the_tz_database() {
        let ok = GOOD.replace("[reader]", "[reader]\ntime_zone = \"America/Guatemala\"");
        assert!(Mapping::parse(&ok).is_ok());
        let bad = GOOD.replace("[reader]", "[reader]\ntime_zone = \"GMT-6\"");
        let err = Mapping::parse(&bad).expect_err("not a zone");
        assert!(
            err.contains("reader.time_zone: time_zone 'GMT-6' is not an IANA time zone"),
            "{err}"
        );
        let bad = GOOD.replace(
            "event_date = { column = \"Date\" }",
            "event_date = { column = \"Date\", time_zone = \"Mars/Olympus\" }",
        );
        assert!(
            Mapping::parse(&bad)
                .expect_err("field")
                .contains("fields.event_date")
        );
    }

    #[test]
    fn a_case_mapping_says_the_age_in_some_form() {
        let cases = |age: &str| {
            format!(
                "record_type = \"trafficking_cases\"\n[fields]\ncase_key = {{ pseudonymise = [\"id\"] }}\nreporting_organisation = {{ constant = \"ONG\" }}\nregistration_year = {{ column = \"year\" }}\nsex = {{ column = \"sex\" }}\n{age}\n"
            )
        };
        let err = Mapping::parse(&cases("")).expect_err("no age");
        assert!(
            err.contains("map one of age, age_group, majority_status")
                && err.contains("age_group = { constant = \"_U\" }"),
            "{err}"
        );
        for age in [
            "age = { column = \"edad\" }",
            "age_group = { constant = \"_U\" }",
            "majority_status = { column = \"menor\" }",
        ] {
            assert!(Mapping::parse(&cases(age)).is_ok(), "{age}");
        }
    }

    /// Document numbers or names mapped to a free-text field would be
    /// stored as they are: a warning names the column; places and
    /// organisations' names are not flagged.
    #[test]
    fn identifier_columns_in_free_text_fields_are_warned_about() {
        let with = |column: &str| {
            let text = GOOD.replace(
                "age = { age_at",
                &format!("border_post = {{ column = \"{column}\" }}\nage = {{ age_at"),
            );
            Mapping::parse(&text)
                .expect("a warning, not an error")
                .warnings()
        };
        for column in [
            "Número de Documento",
            "passportNumber",
            "NOMBRE COMPLETO",
            "Apellidos",
            "traveller.documento.numero",
            "Full name",
        ] {
            let w = with(column);
            assert!(
                w.iter()
                    .any(|w| w.contains("fields.border_post: column")
                        && w.contains("stored in clear")),
                "{column}: {w:?}"
            );
        }
        for column in [
            "Puesto Fronterizo",
            "Nombre del Puesto",
            "Border post name",
            "DELEGACION",
        ] {
            assert_eq!(with(column), Vec::<String>::new(), "{column}");
        }
        assert!(Mapping::parse(GOOD).expect("good").warnings().is_empty());
    }

    #[test]
    fn date_formats_that_read_dates_two_ways_are_warned_about() {
        let two = GOOD.replace(
            "date_formats = [\"%d/%m/%Y\"]",
            "date_formats = [\"%m/%d/%Y\", \"%d/%m/%Y\"]",
        );
        let w = Mapping::parse(&two).expect("parses").warnings();
        assert!(
            w.iter().any(|w| w.starts_with(
                "reader.date_formats: '%m/%d/%Y' and '%d/%m/%Y' read some dates differently"
            )),
            "{w:?}"
        );
        let fine = GOOD.replace(
            "date_formats = [\"%d/%m/%Y\"]",
            "date_formats = [\"%d/%m/%Y\", \"%Y-%m-%d\"]",
        );
        assert!(Mapping::parse(&fine).expect("parses").warnings().is_empty());
    }

    /// TOML's error quotes the line at fault: escaped, and cut.
    #[test]
    fn toml_errors_do_not_echo_control_characters() {
        let text = format!(
            "record_type = \"border_events\"\n\x1b[31m{} = \n",
            "x".repeat(100_000)
        );
        let err = Mapping::parse(&text).expect_err("bad TOML");
        assert!(!err.contains('\x1b'), "{err}");
        assert!(err.len() < 5_000, "{} bytes", err.len());
    }
}
