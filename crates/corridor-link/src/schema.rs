//! The linkage schema: which columns hold personal details, how each is
//! encoded, and which non-identifying attributes are compared.
//!
//! The `[encoding]` and the fields' names, kinds, `q`, `hashes` and `salt`
//! must be the same at every organisation (they are what the partners agree
//! on); `[reader]`, `record_id` and each field's `columns` say where the
//! details sit in one organisation's own export.

use std::path::Path;

use corridor_ingest::mapping::ReaderOptions;
use serde::{Deserialize, Serialize};

use crate::LinkError;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkageSchema {
    /// How to read the organisation's file (as in a mapping's `[reader]`).
    #[serde(default)]
    pub reader: ReaderOptions,
    /// Column that identifies a record inside its file (kept in the output
    /// so each organisation can find its record; it is pseudonymised when
    /// the platform ingests the encoded file).
    pub record_id: String,
    #[serde(default)]
    pub encoding: EncodingOptions,
    /// Personal details, each turned into q-grams and hashed into the one
    /// record-level filter. They never appear in the output.
    #[serde(rename = "field", default)]
    pub fields: Vec<FieldRule>,
    /// Non-identifying attributes compared beside the encoding (they pass
    /// through `corridor encode` untouched).
    #[serde(rename = "compare", default)]
    pub compares: Vec<CompareRule>,
    /// Blocking: locality-sensitive hashing on the encodings.
    #[serde(default)]
    pub blocking: BlockingOptions,
}

/// Where the filters sit in a finished encoding (word ranges).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The record-level filter (every field): blocking and the similarity
    /// reported per pair.
    pub record: std::ops::Range<usize>,
    /// Fields with a filter of their own: field index and words.
    pub fields: Vec<(usize, std::ops::Range<usize>)>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EncodingOptions {
    /// Length of the filter before hardening, in bits (a multiple of 64).
    #[serde(default = "default_bits")]
    pub bits: usize,
    /// Applied in order. `balance` appends the complement and permutes
    /// (every filter then has exactly half its bits set, which defeats
    /// frequency attacks on filter density); `xor_fold` XORs the two halves
    /// (pattern-mining attacks find no bit pattern of one q-gram).
    #[serde(default = "default_hardening")]
    pub hardening: Vec<Hardening>,
}

fn default_bits() -> usize {
    1024
}
fn default_hardening() -> Vec<Hardening> {
    vec![Hardening::Balance]
}

impl Default for EncodingOptions {
    fn default() -> Self {
        EncodingOptions {
            bits: default_bits(),
            hardening: default_hardening(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hardening {
    Balance,
    XorFold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// Names: accents, case and punctuation folded, words joined by `_`.
    Name,
    /// Dates: year, month, day and the unordered day–month pair as tokens,
    /// so a swapped day and month still shares most of its bits.
    Date,
    /// Any other text (place of birth…): folded like names.
    Text,
    /// Identifiers (document, social-security or phone numbers, postcodes):
    /// folded and encoded like text; in plaintext compared by edits, a
    /// swap of two neighbouring characters counting as one.
    Identifier,
    /// Numbers (street or house numbers, household sizes): compared in
    /// plaintext as exact, one digit mistyped or two swapped, within 10 %,
    /// or else; encoded as their digits' q-grams plus their size rounded to
    /// two significant digits, so that 1204 and 1205 share most bits.
    Number,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRule {
    /// The agreed name of the detail (`name`, `birth_date`…); it
    /// domain-separates the hashes.
    pub name: String,
    /// This organisation's column(s) holding it, joined by a space.
    pub columns: Vec<String>,
    pub kind: FieldKind,
    /// q-gram length (names and text).
    #[serde(default = "default_q")]
    pub q: usize,
    /// Bits set per q-gram or token: a field's weight in the similarity.
    #[serde(default = "default_hashes")]
    pub hashes: usize,
    /// A stable, non-identifying column whose value salts this field's
    /// hashes (the same q-gram hashes differently for different salts).
    pub salt: Option<String>,
    /// `year`: salt with the year of the date in the salt column (read with
    /// the reader's date formats), so differently written dates salt alike.
    pub salt_part: Option<SaltPart>,
    /// Date formats (chrono syntax) for text dates; default the reader's.
    pub formats: Option<Vec<String>>,
    /// Bits of this field's own filter (before hardening, a multiple of
    /// 64). The field then also gets a filter of its own, hardened like the
    /// record-level one and appended to it, and is compared on its own: the
    /// model sees one comparison per field instead of one for the whole
    /// record, which is what lets EM tell matches from look-alikes. Absent:
    /// the field is only in the record-level filter.
    pub filter_bits: Option<usize>,
    /// Term-frequency adjustment: an exact agreement on this detail weighs
    /// by how rare the agreed value is (a shared rare surname says more than
    /// a shared "López"). The frequency is counted on keyed hashes in
    /// memory, never stored. Default: on for names.
    pub term_frequency: Option<bool>,
}

impl FieldRule {
    /// Whether exact agreement on this detail is weighed by its frequency.
    pub fn term_frequency(&self) -> bool {
        self.term_frequency.unwrap_or(self.kind == FieldKind::Name)
    }
}

fn default_q() -> usize {
    2
}
fn default_hashes() -> usize {
    10
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SaltPart {
    Year,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareMethod {
    /// Equal or not.
    Exact,
    /// Numbers: equal, within `tolerance`, within three times it, or not.
    Number,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CompareRule {
    pub column: String,
    pub method: CompareMethod,
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
}

fn default_tolerance() -> f64 {
    1.0
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BlockingOptions {
    /// Number of LSH bands; more bands find more true pairs and more work.
    /// Absent: chosen from the data with `band_bits` (see `block.rs`).
    #[serde(default)]
    pub bands: Option<usize>,
    /// Bits sampled per band; more bits make each band stricter. Absent:
    /// chosen from the data.
    #[serde(default)]
    pub band_bits: Option<usize>,
    /// Buckets (of a band or a key) larger than this are skipped: they
    /// hold look-alikes by the hundred (common names, records with few
    /// details), and true pairs among them meet in other blocks. Skipping
    /// them costs little F1 and bounds the work on large files.
    #[serde(default = "default_max_bucket")]
    pub max_bucket: usize,
    /// With `bands` and `band_bits` fixed: beyond 100,000 records, one more
    /// bit per band for every doubling of the pool (rounded), so that
    /// look-alike pairs per record stay about the same as files grow.
    #[serde(default = "default_grow_with_size")]
    pub grow_with_size: bool,
    /// The budget of the chosen bands: expected candidate pairs per record.
    #[serde(default = "default_candidates_per_record")]
    pub candidates_per_record: f64,
    /// Details (field names) and compared attributes whose exact value is a
    /// blocking key: records sharing it are compared, beside the bands. On
    /// the encoded path a field needs a filter of its own to be a key.
    /// Absent or `[]`: the bands alone.
    #[serde(default)]
    pub keys: Option<Vec<String>>,
}

fn default_grow_with_size() -> bool {
    true
}
fn default_max_bucket() -> usize {
    50
}
fn default_candidates_per_record() -> f64 {
    20.0
}

impl BlockingOptions {
    /// Bands and bits per band when the data say too little to choose.
    pub fn default_bands() -> (usize, usize) {
        (100, 32)
    }
}

impl Default for BlockingOptions {
    fn default() -> Self {
        BlockingOptions {
            bands: None,
            band_bits: None,
            max_bucket: default_max_bucket(),
            grow_with_size: default_grow_with_size(),
            candidates_per_record: default_candidates_per_record(),
            keys: None,
        }
    }
}

impl LinkageSchema {
    pub fn load(path: &Path) -> Result<LinkageSchema, LinkError> {
        let text = std::fs::read_to_string(path).map_err(|source| LinkError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        LinkageSchema::parse(&text).map_err(|message| LinkError::Schema {
            path: path.to_path_buf(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<LinkageSchema, String> {
        let schema: LinkageSchema = toml::from_str(text).map_err(|e| e.to_string())?;
        schema.check()?;
        Ok(schema)
    }

    fn check(&self) -> Result<(), String> {
        let bits = self.encoding.bits;
        if bits == 0 || !bits.is_multiple_of(64) || bits > 1 << 16 {
            return Err(format!(
                "encoding.bits is {bits}: use a multiple of 64 up to 65536 (1024 is usual)"
            ));
        }
        if self.encoding.hardening.contains(&Hardening::XorFold) && !bits.is_multiple_of(128) {
            return Err(
                "xor_fold halves the filter: encoding.bits must be a multiple of 128".into(),
            );
        }
        if self.fields.is_empty() {
            return Err("no [[field]]: name at least one personal detail to encode".into());
        }
        let mut names: Vec<&str> = Vec::new();
        for f in &self.fields {
            if names.contains(&f.name.as_str()) {
                return Err(format!("field '{}' is defined twice", f.name));
            }
            names.push(&f.name);
            if f.columns.is_empty() {
                return Err(format!("field '{}' names no columns", f.name));
            }
            if f.q == 0 || f.q > 5 {
                return Err(format!("field '{}': q must be 1 to 5", f.name));
            }
            if f.hashes == 0 || f.hashes > 100 {
                return Err(format!("field '{}': hashes must be 1 to 100", f.name));
            }
            if let Some(bits) = f.filter_bits {
                let unit = if self.encoding.hardening.contains(&Hardening::XorFold) {
                    128
                } else {
                    64
                };
                if bits == 0 || !bits.is_multiple_of(unit) || bits > 1 << 16 {
                    return Err(format!(
                        "field '{}': filter_bits is {bits}: use a multiple of {unit} up to 65536 (256 is usual)",
                        f.name
                    ));
                }
            }
        }
        let b = &self.blocking;
        if b.bands == Some(0) || b.band_bits.is_some_and(|r| r == 0 || r > 64) {
            return Err("blocking: bands ≥ 1 and band_bits 1 to 64".into());
        }
        if b.candidates_per_record.is_nan() || b.candidates_per_record <= 0.0 {
            return Err("blocking: candidates_per_record must be above 0 (20 is usual)".into());
        }
        if b.max_bucket < 2 {
            return Err("blocking: max_bucket must be at least 2 (50 is usual)".into());
        }
        for key in b.keys.iter().flatten() {
            let known = self.fields.iter().any(|f| &f.name == key)
                || self.compares.iter().any(|c| &c.column == key);
            if !known {
                let names: Vec<&str> = self
                    .fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .chain(self.compares.iter().map(|c| c.column.as_str()))
                    .collect();
                return Err(format!(
                    "blocking: key '{key}' is neither a [[field]] name nor a [[compare]] column (they are: {})",
                    names.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Length of a finished encoding in bits: the record-level filter and
    /// the fields' own filters, hardened.
    pub fn encoded_bits(&self) -> usize {
        let layout = self.layout();
        64 * layout
            .fields
            .last()
            .map_or(layout.record.end, |(_, words)| words.end)
    }

    /// A filter of `bits` after the hardening steps.
    pub fn hardened_bits(&self, bits: usize) -> usize {
        self.encoding
            .hardening
            .iter()
            .fold(bits, |bits, h| match h {
                Hardening::Balance => bits * 2,
                Hardening::XorFold => bits / 2,
            })
    }

    /// Where each filter sits in a finished encoding, in 64-bit words: the
    /// record-level filter first, then each field's own, in field order.
    pub fn layout(&self) -> Layout {
        let record = 0..self.hardened_bits(self.encoding.bits) / 64;
        let mut at = record.end;
        let mut fields = Vec::new();
        for (f, rule) in self.fields.iter().enumerate() {
            if let Some(bits) = rule.filter_bits {
                let words = self.hardened_bits(bits) / 64;
                fields.push((f, at..at + words));
                at += words;
            }
        }
        Layout { record, fields }
    }

    /// Per field, the date formats its text dates are read with: its own,
    /// else the reader's (an empty list means ISO 8601).
    pub fn field_date_formats(&self) -> Vec<Vec<String>> {
        self.fields
            .iter()
            .map(|f| {
                f.formats
                    .clone()
                    .or_else(|| self.reader.date_formats.clone())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Every column that holds a personal detail.
    pub fn personal_columns(&self) -> Vec<&str> {
        self.fields
            .iter()
            .flat_map(|f| f.columns.iter().map(String::as_str))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks() {
        let s = LinkageSchema::parse(
            r#"
record_id = "id"
[encoding]
bits = 1024
hardening = ["balance", "xor_fold"]
[[field]]
name = "name"
columns = ["first", "last"]
kind = "name"
[[field]]
name = "birth_date"
columns = ["dob"]
kind = "date"
hashes = 20
[[compare]]
column = "sex"
method = "exact"
"#,
        )
        .unwrap();
        assert_eq!(s.encoded_bits(), 1024);
        assert_eq!(s.personal_columns(), vec!["first", "last", "dob"]);
        assert!(LinkageSchema::parse("record_id = \"id\"").is_err());
        let bad = LinkageSchema::parse(
            "record_id = \"id\"\n[encoding]\nbits = 1000\n[[field]]\nname=\"n\"\ncolumns=[\"a\"]\nkind=\"name\"\n",
        );
        assert!(bad.unwrap_err().contains("multiple of 64"));
    }
}
