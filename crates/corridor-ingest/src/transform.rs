//! A mapping compiled against a file's header: evaluates one row into the
//! standard's typed values, or says which field is wrong and why.

use std::borrow::Cow;
use std::collections::HashMap;

use corridor_model::{CodeListId, Countries, FieldType, RecordType, for_display};

use crate::IngestError;
use crate::dates::{self, Orders};
use crate::mapping::{FieldSpec, Mapping};
use crate::pseudonym::{Pseudonymiser, normalise_identifier_into};
use crate::read::Cell;
use crate::value::{self, SHOWN_CHARS, Value};

/// Why a row was not stored. The codes are stable: reports and tests use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The row has more or fewer fields than the header (broken quoting, a
    /// truncated line).
    MalformedRow,
    /// The line is not a JSON object.
    InvalidJson,
    MissingRequired,
    InvalidDate,
    InvalidTime,
    InvalidNumber,
    UnknownCode,
    UnknownCountry,
    /// A value outside its plausible range (a date before 1900, an age over 120).
    OutOfRange,
    /// A date of birth after the event, an end before a start.
    InconsistentDates,
    /// The same record as an earlier row of the same file.
    DuplicateRecord,
    /// A value longer than its field may be ([`max_chars`]): never stored.
    TooLong,
}

/// The longest value, in characters, a cell may hold for a field of this
/// type (for a pseudonym, each identifier column). Anything longer is not
/// data but a broken export (a lost quote that swallowed the rest of the
/// file) or an attack, and is quarantined as `too_long` before any work
/// is done on it: resolving a 20 MB "country" would compare it with every
/// label of the list.
pub fn max_chars(ty: FieldType) -> usize {
    match ty {
        FieldType::Code(_) | FieldType::Pseudonym => 256,
        // A list of codes in one cell.
        FieldType::CodeSet(_) => 2_000,
        // Names of posts, agencies, sources: free text, but short.
        FieldType::Text => 1_000,
        // A linkage encoding: a few hundred characters of base64 today.
        FieldType::Bytes => 65_536,
        // Dates, times, numbers, yes/no, as an export writes them.
        FieldType::Date
        | FieldType::Time
        | FieldType::Year
        | FieldType::Integer
        | FieldType::Count
        | FieldType::Number
        | FieldType::Boolean => 64,
    }
}

/// Whether `text` has more than `max` characters; counts them only when
/// its bytes are more (a length check on almost every cell).
#[inline(always)]
fn longer_than(text: &str, max: usize) -> bool {
    text.len() > max && more_chars_than(text, max)
}

#[cold]
#[inline(never)]
fn more_chars_than(text: &str, max: usize) -> bool {
    text.chars().nth(max).is_some()
}

/// Thousands separated, for messages: 20,971,520.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::MalformedRow => "malformed_row",
            Reason::InvalidJson => "invalid_json",
            Reason::MissingRequired => "missing_required",
            Reason::InvalidDate => "invalid_date",
            Reason::InvalidTime => "invalid_time",
            Reason::InvalidNumber => "invalid_number",
            Reason::UnknownCode => "unknown_code",
            Reason::UnknownCountry => "unknown_country",
            Reason::OutOfRange => "out_of_range",
            Reason::InconsistentDates => "inconsistent_dates",
            Reason::DuplicateRecord => "duplicate_record",
            Reason::TooLong => "too_long",
        }
    }
}

/// What is wrong with a row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    pub field: Option<String>,
    pub reason: Reason,
    pub message: String,
}

enum Source {
    Column(usize),
    Columns(Vec<usize>, String),
    Constant(String),
    Pseudonymise {
        columns: Vec<usize>,
        /// The columns' names, for messages.
        names: Vec<String>,
        with: Vec<usize>,
    },
    AgeAt {
        on: usize,
        birth: usize,
    },
    Flags(Vec<(usize, String)>),
    Unmapped,
}

struct Compiled {
    name: &'static str,
    ty: FieldType,
    required: bool,
    source: Source,
    recode: HashMap<String, String>,
    formats: Vec<String>,
    split: String,
    default: Option<String>,
    /// [`max_chars`] of the field's type.
    max_chars: usize,
    /// For a date field whose formats read some dates differently, which
    /// formats conflict with each ([`dates::conflicts`]); empty otherwise.
    conflicts: Vec<u64>,
    /// Texts that mean "no value" here, by their length in bytes (none is
    /// 64 bytes long or more), and those lengths as bits.
    nulls: Vec<Vec<String>>,
    null_lengths: u64,
    /// The latest year a two-digit year may be, where every format of the
    /// field writes the year in two digits.
    pivot: Option<i32>,
    /// For a date or time: the local clock of values with a UTC offset,
    /// and the formats without their offset part.
    clock: crate::zones::Clock,
    clock_formats: Vec<String>,
}

impl Compiled {
    /// Whether a cell is a null value ("NULL", "S/D"…): read as empty.
    #[inline]
    fn is_null(&self, cell: Cell<'_>) -> bool {
        let Cell::Text(t) = cell else { return false };
        let b = t.as_bytes();
        // Every text cell of a text field passes here: most are told apart
        // by their length alone, and trimmed only when they need it.
        let padded = b.first().is_some_and(u8::is_ascii_whitespace)
            || b.last().is_some_and(u8::is_ascii_whitespace);
        let t = if padded { t.trim() } else { t };
        t.len() < 64
            && self.null_lengths & (1u64 << t.len()) != 0
            && self.nulls[t.len()]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(t))
    }

    /// A cell as the field reads it: a null value is an empty cell.
    #[inline]
    fn read<'c>(&self, cell: Cell<'c>) -> Cell<'c> {
        if self.is_null(cell) {
            Cell::Empty
        } else {
            cell
        }
    }

    /// A cell too long for the field, quarantined without being shown
    /// whole.
    #[inline]
    fn check_length(&self, cell: Cell<'_>) -> Result<(), RowError> {
        match cell {
            Cell::Text(t) if longer_than(t, self.max_chars) => Err(too_long(self, t)),
            _ => Ok(()),
        }
    }
}

#[cold]
#[inline(never)]
fn flag_too_long(f: &Compiled, text: &str) -> RowError {
    err(
        f.name,
        Reason::TooLong,
        format!(
            "a flag column holds {}, not yes or no",
            for_display(text, SHOWN_CHARS)
        ),
    )
}

/// Identifiers are never shown, not even cut.
#[cold]
#[inline(never)]
fn identifier_too_long(f: &Compiled, text: &str) -> RowError {
    err(
        f.name,
        Reason::TooLong,
        format!(
            "an identifier column holds {} bytes, more than the {} characters an identifier may have (not shown: identifiers never are)",
            thousands(text.len() as u64),
            f.max_chars
        ),
    )
}

#[cold]
#[inline(never)]
fn too_long(f: &Compiled, text: &str) -> RowError {
    err(
        f.name,
        Reason::TooLong,
        format!(
            "{} characters, more than the {} a {} value may have: {}",
            thousands(text.chars().count() as u64),
            thousands(f.max_chars as u64),
            f.name,
            for_display(text, SHOWN_CHARS)
        ),
    )
}

/// A mapping bound to a file's columns.
pub struct Program {
    pub record_type: RecordType,
    fields: Vec<Compiled>,
    /// Columns whose original values may be shown in quarantine (mapped,
    /// not identifiers).
    pub shown_columns: Vec<usize>,
    /// Values of coded fields that resolve to nothing, by field and text,
    /// with their error: shared by all threads.
    failures: std::sync::Mutex<HashMap<(usize, Box<str>), RowError>>,
    /// What is odd about the file's header for this mapping (a mapped
    /// column named twice), for the report.
    pub warnings: Vec<String>,
}

/// Every column `name` may mean: the headers equal to it, or if none,
/// those equal ignoring case and surrounding spaces. The first is read.
fn matching_columns(headers: &[String], name: &str) -> Vec<usize> {
    let exact: Vec<usize> = (0..headers.len()).filter(|&i| headers[i] == name).collect();
    if !exact.is_empty() {
        return exact;
    }
    (0..headers.len())
        .filter(|&i| headers[i].trim().eq_ignore_ascii_case(name.trim()))
        .collect()
}

fn find_column(headers: &[String], name: &str) -> Option<usize> {
    headers.iter().position(|h| h == name).or_else(|| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name.trim()))
    })
}

/// The file's columns for a message, as the header names them (escaped,
/// cut), the first [`LISTED_COLUMNS`] of them.
fn columns_listed(headers: &[String]) -> String {
    let mut listed: Vec<String> = headers
        .iter()
        .take(LISTED_COLUMNS)
        .map(|h| for_display(h, COLUMN_CHARS).bare().to_string())
        .collect();
    if headers.len() > LISTED_COLUMNS {
        listed.push(format!(
            "…and {} more columns",
            thousands((headers.len() - LISTED_COLUMNS) as u64)
        ));
    }
    listed.join(", ")
}

/// Columns listed in a message at most, and characters of each name.
const LISTED_COLUMNS: usize = 40;
const COLUMN_CHARS: usize = 64;

impl Program {
    pub fn compile(
        mapping: &Mapping,
        headers: &[String],
        file: &std::path::Path,
    ) -> Result<Program, IngestError> {
        let t = mapping.record_type().map_err(|m| IngestError::Mapping {
            path: file.to_path_buf(),
            message: m,
        })?;
        let mut missing = Vec::new();
        let mut col = |name: &str| -> usize {
            match find_column(headers, name) {
                Some(i) => i,
                None => {
                    missing.push(name.to_string());
                    usize::MAX
                }
            }
        };
        let mut fields = Vec::new();
        let position = |name: &str| {
            t.fields()
                .iter()
                .position(|f| f.name == name)
                .unwrap_or(usize::MAX)
        };
        let reporting_country = mapping
            .fields
            .get("reporting_country")
            .and_then(|s| s.constant.as_deref());
        for f in t.fields() {
            let spec = mapping.fields.get(f.name).cloned().unwrap_or_default();
            let source = compile_source(&spec, &mut col, &position);
            let clock = crate::zones::Clock::of(
                spec.time_zone
                    .as_deref()
                    .or(mapping.reader.time_zone.as_deref()),
                reporting_country,
            );
            let formats = spec
                .formats
                .clone()
                .or_else(|| match f.ty {
                    FieldType::Date | FieldType::Year => mapping.reader.date_formats.clone(),
                    FieldType::Time => mapping.reader.time_formats.clone(),
                    _ => None,
                })
                .unwrap_or_default();
            let pivot = spec
                .year_pivot
                .or(mapping.reader.year_pivot)
                .filter(|_| !formats.is_empty() && formats.iter().all(|f| f.contains("%y")));
            let nulls: Vec<String> = spec
                .null_values
                .clone()
                .or_else(|| mapping.reader.null_values.clone())
                .unwrap_or_else(|| {
                    crate::mapping::DEFAULT_NULL_VALUES
                        .iter()
                        .map(|s| s.to_string())
                        .collect()
                })
                .into_iter()
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty() && n.len() < 64)
                // A value the field's code list knows is that code: "sin
                // dato" is the sex `_U`.
                .filter(|n| match f.ty {
                    FieldType::Code(list) | FieldType::CodeSet(list) => {
                        !crate::look::known_in(list, n)
                    }
                    _ => true,
                })
                .collect();
            let conflicts = match (f.ty, &source) {
                (
                    FieldType::Date,
                    Source::Column(_) | Source::Columns(..) | Source::Constant(_),
                ) => dates::conflicts(&formats).unwrap_or_default(),
                _ => Vec::new(),
            };
            fields.push(Compiled {
                name: f.name,
                ty: f.ty,
                required: f.required,
                source,
                recode: spec
                    .recode
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (recode_key(&k), v))
                    .collect(),
                split: spec.split.clone().unwrap_or_else(|| ";".into()),
                default: spec.default.clone(),
                max_chars: max_chars(f.ty),
                conflicts,
                null_lengths: nulls.iter().fold(0, |m, n| m | (1u64 << n.len())),
                nulls: (0..64)
                    .map(|len| nulls.iter().filter(|n| n.len() == len).cloned().collect())
                    .collect(),
                pivot,
                clock,
                clock_formats: crate::zones::clock_formats(&formats),
                formats,
            });
        }
        if !missing.is_empty() {
            missing.sort();
            missing.dedup();
            let mut quoted: Vec<String> = missing
                .iter()
                .take(LISTED_COLUMNS)
                .map(|m| for_display(m, COLUMN_CHARS).to_string())
                .collect();
            if missing.len() > LISTED_COLUMNS {
                quoted.push(format!(
                    "…and {} more",
                    thousands((missing.len() - LISTED_COLUMNS) as u64)
                ));
            }
            let column = quoted.join(", ");
            let closest: Vec<String> = missing
                .iter()
                .filter_map(|m| {
                    headers
                        .iter()
                        // A header longer than any name is nobody's typo
                        // (and comparing with it costs its length).
                        .filter(|h| h.len() <= 4 * COLUMN_CHARS)
                        .map(|h| (strsim_ratio(m, h), h))
                        .filter(|(s, _)| *s > 0.6)
                        .max_by(|a, b| a.0.total_cmp(&b.0))
                        .map(|(_, h)| {
                            format!(
                                "{} → {}?",
                                for_display(m, COLUMN_CHARS),
                                for_display(h, COLUMN_CHARS)
                            )
                        })
                })
                .take(LISTED_COLUMNS)
                .collect();
            return Err(IngestError::MissingColumn {
                path: file.to_path_buf(),
                column,
                available: columns_listed(headers),
                closest: closest.join(" "),
            });
        }
        let warnings = repeated_columns(mapping, headers);
        let identifiers: Vec<&str> = mapping.identifier_columns();
        let mut shown: Vec<usize> = mapping
            .source_columns()
            .into_iter()
            .filter(|c| !identifiers.contains(c))
            .filter_map(|c| find_column(headers, c))
            .collect();
        shown.sort();
        shown.dedup();
        Ok(Program {
            record_type: t,
            fields,
            shown_columns: shown,
            failures: Default::default(),
            warnings,
        })
    }

    /// The date fields whose formats read some dates differently: (place,
    /// name, formats, conflicts).
    pub(crate) fn contested_dates(
        &self,
    ) -> impl Iterator<Item = (usize, &'static str, &[String], &[u64])> {
        self.fields
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.conflicts.is_empty())
            .map(|(i, f)| (i, f.name, f.formats.as_slice(), f.conflicts.as_slice()))
    }

    /// The text field `i` would convert in a row, when it is text.
    pub(crate) fn field_text<'a>(&'a self, i: usize, cells: &[Cell<'a>]) -> Option<Cow<'a, str>> {
        let f = self.fields.get(i)?;
        let text = match &f.source {
            Source::Column(c) => match cells.get(*c).copied().unwrap_or(Cell::Empty) {
                Cell::Text(t) => Cow::Borrowed(t),
                Cell::Empty => Cow::Borrowed(""),
                // Typed cells are dates already, or serial numbers.
                _ => return None,
            },
            Source::Columns(cs, join) => {
                let parts: Vec<&str> = cs
                    .iter()
                    .filter_map(|c| match cells.get(*c) {
                        Some(Cell::Text(t)) if !t.trim().is_empty() => Some(t.trim()),
                        _ => None,
                    })
                    .collect();
                Cow::Owned(parts.join(join))
            }
            Source::Constant(v) => Cow::Borrowed(v.as_str()),
            _ => return None,
        };
        if text.trim().is_empty() {
            return f.default.as_deref().map(Cow::Borrowed);
        }
        Some(text)
    }

    /// Sets the formats this thread reads contested dates with to those
    /// of the block about to be mapped; conversions remembered under other
    /// formats are forgotten.
    pub(crate) fn set_orders(&self, scratch: &mut Scratch, orders: &Orders) {
        for order in orders.iter() {
            let Some(f) = self.fields.get(order.field) else {
                continue;
            };
            let Some(state) = scratch.dates.get_mut(order.field).and_then(Option::as_mut) else {
                continue;
            };
            if state.order.active == order.active {
                continue;
            }
            state.order = order.clone();
            state.formats = dates::bits(order.active)
                .filter_map(|j| f.formats.get(j).cloned())
                .collect();
            state.open = dates::open(order.active, &f.conflicts);
            scratch.memo[order.field] = Memo(Some(Default::default()));
        }
    }

    /// Working memory for evaluating rows on one thread.
    pub fn scratch(&self) -> Scratch {
        Scratch {
            resolved: self.fields.iter().map(|_| Default::default()).collect(),
            // A list of codes is split and resolved part by part instead.
            memo: self
                .fields
                .iter()
                .map(|f| Memo((!matches!(f.ty, FieldType::CodeSet(_))).then(Default::default)))
                .collect(),
            cached: 0,
            upper: String::new(),
            identifier: String::new(),
            dates: self
                .fields
                .iter()
                .map(|f| {
                    (!f.conflicts.is_empty()).then(|| DateState {
                        order: dates::FieldOrder {
                            field: usize::MAX,
                            active: u64::MAX,
                            decisions: Vec::new(),
                        },
                        formats: f.formats.clone(),
                        open: true,
                    })
                })
                .collect(),
            ambiguous: Vec::new(),
        }
    }

    /// Evaluates one row into `values`: the typed value of every standard
    /// field, in the order of the record type's fields.
    pub fn eval(
        &self,
        raw: &[Cell<'_>],
        key: &Pseudonymiser,
        scratch: &mut Scratch,
        values: &mut Vec<Value>,
    ) -> Result<(), RowError> {
        let get = |i: usize| raw.get(i).copied().unwrap_or(Cell::Empty);
        scratch.ambiguous.clear();
        // Every slot is written below; texts reuse the buffers of the row
        // before (one allocation per text field per row otherwise).
        values.resize(self.fields.len(), Value::Null);
        // Plain fields first; pseudonyms and ages use them.
        for (i, f) in self.fields.iter().enumerate() {
            let value = match &f.source {
                Source::Column(c) => {
                    self.convert_into(i, f, get(*c), scratch, &mut values[i])?;
                    continue;
                }
                Source::Columns(cs, join) => {
                    // The joined text's length is checked where it is
                    // converted.
                    let parts: Vec<String> = cs
                        .iter()
                        .map(|c| f.read(get(*c)).text().trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect();
                    let joined = parts.join(join);
                    let cell = if parts.is_empty() {
                        Cell::Empty
                    } else {
                        Cell::Text(&joined)
                    };
                    self.convert(i, f, cell, scratch)?
                }
                Source::Constant(v) => self.convert_remembered(i, f, v, scratch)?,
                Source::Flags(flags) => {
                    let mut codes = Vec::new();
                    for (c, code) in flags {
                        // A null value is not a yes.
                        let cell = f.read(get(*c));
                        if let Cell::Text(t) = cell
                            && longer_than(t, max_chars(FieldType::Boolean))
                        {
                            return Err(flag_too_long(f, t));
                        }
                        let on = value::to_bool(cell).map_err(|m| {
                            err(f.name, Reason::InvalidNumber, format!("flag column: {m}"))
                        })?;
                        if on && !codes.contains(code) {
                            codes.push(code.clone());
                        }
                    }
                    Value::Codes(codes)
                }
                // Written in the second pass (or the row fails).
                Source::Pseudonymise { .. } => continue,
                Source::AgeAt { .. } | Source::Unmapped => Value::Null,
            };
            put(&mut values[i], value);
        }
        for (i, f) in self.fields.iter().enumerate() {
            match &f.source {
                Source::Pseudonymise {
                    columns,
                    names,
                    with,
                } => {
                    let mut mac = key.start(f.name);
                    for (c, name) in columns.iter().zip(names) {
                        let cell = get(*c);
                        if let Cell::Text(t) = cell
                            && longer_than(t, f.max_chars)
                        {
                            return Err(identifier_too_long(f, t));
                        }
                        // A null value ("NULL") is no identifier: made into
                        // a pseudonym, it would be one person for every row
                        // that has it.
                        let null = f.is_null(cell);
                        if !null {
                            normalise_identifier_into(&cell.text(), &mut scratch.identifier);
                        }
                        if null || scratch.identifier.is_empty() {
                            let what = if null {
                                format!(
                                    "holds a null value ({})",
                                    for_display(cell.text().trim(), SHOWN_CHARS)
                                )
                            } else {
                                "is empty".to_string()
                            };
                            return Err(err(
                                f.name,
                                Reason::MissingRequired,
                                format!(
                                    "the identifier column {} {what}, so no pseudonym can be made; the row is kept in quarantine",
                                    for_display(name, COLUMN_CHARS)
                                ),
                            ));
                        }
                        let v = &scratch.identifier;
                        mac.part(v);
                    }
                    for w in with {
                        match &values[*w] {
                            Value::Text(s) => mac.part(s),
                            Value::Code(s) => mac.part(s),
                            Value::Null => mac.part(""),
                            other => mac.part(&format!("{other:?}")),
                        }
                    }
                    match &mut values[i] {
                        Value::Text(s) => mac.finish_into(s),
                        other => *other = Value::Text(mac.finish()),
                    }
                }
                Source::AgeAt { on, birth } => {
                    if let (Value::Date(on), Value::Date(birth)) = (&values[*on], &values[*birth]) {
                        let age = corridor_model::calendar::age_on_days(*birth, *on);
                        put(
                            &mut values[i],
                            age.map_or(Value::Null, |a| Value::Int(a as i64)),
                        );
                    }
                }
                _ => {}
            }
        }
        for (i, f) in self.fields.iter().enumerate() {
            // A list of codes is never null: unknown is an empty list.
            if matches!(f.ty, FieldType::CodeSet(_)) && matches!(values[i], Value::Null) {
                values[i] = Value::Codes(Vec::new());
            }
            if f.required && matches!(values[i], Value::Null) {
                return Err(err(
                    f.name,
                    Reason::MissingRequired,
                    format!(
                        "{} is required and empty; if the source leaves it out, give the mapping a default: {} = {{ column = \"…\", default = \"…\" }}",
                        f.name, f.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Resolves a value of a coded field, remembering the answer.
    fn resolve_cached(
        &self,
        i: usize,
        f: &Compiled,
        list: CodeListId,
        text: &str,
        scratch: &mut Scratch,
    ) -> Result<&'static str, RowError> {
        if let Some(hit) = scratch.resolved[i].get(text) {
            return hit.clone();
        }
        // Misspellings are resolved once for all threads: their suggestions
        // compare the value with every label of the list.
        let failed = self
            .failures
            .lock()
            .ok()
            .and_then(|f| f.get(&(i, text.into())).cloned());
        let answer = match failed {
            Some(e) => Err(e),
            None => {
                let answer = resolve(f.name, list, text);
                if let (Err(e), Ok(mut failures)) = (&answer, self.failures.lock())
                    && failures.len() < MAX_CACHED
                {
                    failures.insert((i, text.into()), e.clone());
                }
                answer
            }
        };
        if scratch.cached < MAX_CACHED {
            scratch.cached += 1;
            scratch.resolved[i].insert(text.into(), answer.clone());
        }
        answer
    }

    /// [`Program::convert`] into `slot`, whose text buffer (the row
    /// before's value) is reused for a text value.
    fn convert_into(
        &self,
        i: usize,
        f: &Compiled,
        raw: Cell<'_>,
        scratch: &mut Scratch,
        slot: &mut Value,
    ) -> Result<(), RowError> {
        let text_type = matches!(
            f.ty,
            FieldType::Text | FieldType::Pseudonym | FieldType::Bytes
        );
        match (slot, raw) {
            (Value::Text(s), raw) if text_type && !raw.is_empty() && !f.is_null(raw) => {
                f.check_length(raw)?;
                s.clear();
                s.push_str(recoded(f, &raw.text(), &mut scratch.upper));
            }
            (slot, Cell::Text(text)) if !text_type => {
                put(slot, self.convert_remembered(i, f, text, scratch)?)
            }
            (slot, raw) => put(slot, self.convert(i, f, raw, scratch)?),
        }
        Ok(())
    }

    /// [`Program::convert`] of a text cell of a field that is not text,
    /// looked up by the cell's text as the file has it when the same text
    /// came before: exports repeat a few hundred spellings of a country or
    /// a few thousand dates millions of times, and one lookup costs less
    /// than trimming, recoding, parsing and resolving again.
    fn convert_remembered(
        &self,
        i: usize,
        f: &Compiled,
        text: &str,
        scratch: &mut Scratch,
    ) -> Result<Value, RowError> {
        // Before the lookup: a long text would be hashed, then kept.
        if longer_than(text, f.max_chars) {
            return Err(too_long(f, text));
        }
        // A date two formats still read differently is looked at afresh,
        // to be counted.
        let open_date =
            !f.conflicts.is_empty() && scratch.dates[i].as_ref().is_some_and(|d| d.open);
        let Memo(Some(seen)) = &scratch.memo[i] else {
            return self.convert(i, f, Cell::Text(text), scratch);
        };
        if open_date {
            return self.convert(i, f, Cell::Text(text), scratch);
        }
        if let Some(hit) = seen.get(text) {
            return hit.clone();
        }
        let answer = self.convert(i, f, Cell::Text(text), scratch);
        if scratch.cached < MAX_CACHED {
            scratch.cached += 1;
            scratch.memo[i].insert(text, &answer);
        }
        answer
    }

    /// A date of a field whose formats read some dates differently, with
    /// the formats of the block ([`Program::set_orders`]): while they are
    /// open, a value two of them read differently is read with the first
    /// and counted; once decided, a value only a ruled-out format reads is
    /// an error that says why.
    #[cold]
    fn contested_date(
        &self,
        i: usize,
        f: &Compiled,
        raw: Cell<'_>,
        scratch: &mut Scratch,
    ) -> Result<Value, RowError> {
        let Some(state) = scratch.dates.get(i).and_then(Option::as_ref) else {
            return value::to_date(raw, &f.formats)
                .map(Value::Date)
                .map_err(|m| err(f.name, Reason::InvalidDate, m));
        };
        if let (true, Cell::Text(t)) = (state.open, raw) {
            let (mut first, mut differ) = (None, false);
            for format in &state.formats {
                if let Some(day) = value::date_in_format(t, format) {
                    differ |= first.is_some_and(|d| d != day);
                    first = first.or(Some(day));
                }
            }
            if let Some(day) = first {
                if differ {
                    scratch.ambiguous.push(i);
                }
                return Ok(Value::Date(day));
            }
        }
        value::to_date(raw, &state.formats).map(Value::Date).map_err(|m| {
            let Cell::Text(t) = raw else {
                return err(f.name, Reason::InvalidDate, m);
            };
            let ruled_out = state.order.decisions.iter().find(|d| {
                dates::bits(d.dropped)
                    .any(|j| f.formats.get(j).is_some_and(|g| value::date_in_format(t, g).is_some()))
            });
            match ruled_out {
                Some(d) => err(
                    f.name,
                    Reason::InvalidDate,
                    format!(
                        "{} reads only as {}, but this column's dates are {}: row {} ({}) reads only that way. The column mixes formats: correct these rows, or send them as a file of their own",
                        for_display(t, SHOWN_CHARS),
                        dates::names(&f.formats, d.dropped, " or "),
                        dates::names(&f.formats, state.order.active, " or "),
                        d.row,
                        d.value
                    ),
                ),
                None => err(f.name, Reason::InvalidDate, m),
            }
        })
    }

    fn convert(
        &self,
        i: usize,
        f: &Compiled,
        raw: Cell<'_>,
        scratch: &mut Scratch,
    ) -> Result<Value, RowError> {
        // Every path of a cell's text to a value passes here or through
        // the two checks above it (the text fast path, the lookup).
        f.check_length(raw)?;
        let raw = if raw.is_empty() || f.is_null(raw) {
            match &f.default {
                Some(d) => Cell::Text(d),
                None => return Ok(Value::Null),
            }
        } else {
            raw
        };
        Ok(match f.ty {
            FieldType::Text | FieldType::Pseudonym | FieldType::Bytes => {
                let text = raw.text();
                Value::Text(recoded(f, &text, &mut scratch.upper).to_string())
            }
            FieldType::Code(list) => {
                let text = raw.text();
                let code = recoded(f, &text, &mut scratch.upper);
                Value::Code(self.resolve_cached(i, f, list, code, scratch)?)
            }
            FieldType::CodeSet(list) => {
                let text = raw.text();
                let mut codes = Vec::new();
                for part in text
                    .split(f.split.as_str())
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                {
                    let part = recoded(f, part, &mut scratch.upper);
                    let code = self.resolve_cached(i, f, list, part, scratch)?;
                    if !codes.iter().any(|c| c == code) {
                        codes.push(code.to_string());
                    }
                }
                Value::Codes(codes)
            }
            FieldType::Date | FieldType::Time
                if let Some(instant) = crate::zones::instant(raw, &f.formats, &f.clock_formats) =>
            {
                let t = &*raw.text();
                let reason = if f.ty == FieldType::Date {
                    Reason::InvalidDate
                } else {
                    Reason::InvalidTime
                };
                let (at, offset) = instant.ok_or_else(|| {
                    err(
                        f.name,
                        reason,
                        format!(
                            "{} is not a date and time in the format {}",
                            for_display(t, SHOWN_CHARS),
                            if f.formats.is_empty() {
                                "%Y-%m-%dT%H:%M:%S%:z".to_string()
                            } else {
                                f.formats.join(", ")
                            }
                        ),
                    )
                })?;
                let local = f
                    .clock
                    .local(at, offset, t)
                    .map_err(|m| err(f.name, reason, m))?;
                if f.ty == FieldType::Date {
                    Value::Date(pivoted(
                        corridor_model::calendar::day_of_date(local.date()),
                        f.pivot,
                    ))
                } else {
                    use chrono::Timelike;
                    Value::Time(local.num_seconds_from_midnight() as i32)
                }
            }
            FieldType::Date if !f.conflicts.is_empty() => {
                match self.contested_date(i, f, raw, scratch)? {
                    Value::Date(d) => Value::Date(pivoted(d, f.pivot)),
                    other => other,
                }
            }
            FieldType::Date => Value::Date(pivoted(
                value::to_date(raw, &f.formats).map_err(|m| err(f.name, Reason::InvalidDate, m))?,
                f.pivot,
            )),
            FieldType::Time => Value::Time(
                value::to_time(raw, &f.formats).map_err(|m| err(f.name, Reason::InvalidTime, m))?,
            ),
            FieldType::Year => {
                let year = match value::to_int(raw) {
                    Ok(y) => y,
                    Err(_) => {
                        use chrono::Datelike;
                        let d = value::to_date(raw, &f.formats).map_err(|m| {
                            err(f.name, Reason::InvalidDate, format!("not a year: {m}"))
                        })?;
                        value::date_of_days(d).year() as i64
                    }
                };
                Value::Int(year)
            }
            FieldType::Integer | FieldType::Count => {
                Value::Int(value::to_int(raw).map_err(|m| err(f.name, Reason::InvalidNumber, m))?)
            }
            FieldType::Number => Value::Float(
                value::to_float(raw).map_err(|m| err(f.name, Reason::InvalidNumber, m))?,
            ),
            FieldType::Boolean => {
                Value::Bool(value::to_bool(raw).map_err(|m| err(f.name, Reason::InvalidNumber, m))?)
            }
        })
    }
}

/// Resolved codes kept per thread: exports repeat a few hundred spellings
/// millions of times, and resolution folds accents.
const MAX_CACHED: usize = 200_000;

/// What one thread keeps between rows: resolved codes by field and source
/// text, and a buffer.
pub struct Scratch {
    resolved: Vec<HashMap<Box<str>, Result<&'static str, RowError>, foldhash::fast::RandomState>>,
    /// Per field: conversions by the cell's text as in the file.
    memo: Vec<Memo>,
    /// Entries in `resolved` and `memo` together.
    cached: usize,
    upper: String,
    /// An identifier being normalised.
    identifier: String,
    /// Per field, for dates whose formats conflict: the formats of the
    /// block being mapped.
    dates: Vec<Option<DateState>>,
    /// Fields of the row just mapped whose date two formats read
    /// differently.
    ambiguous: Vec<usize>,
}

impl Scratch {
    /// Fields of the last row evaluated whose dates were ambiguous (empty
    /// unless the mapping has formats that conflict).
    pub fn ambiguous(&self) -> &[usize] {
        &self.ambiguous
    }
}

/// A contested date field as one thread reads it now.
struct DateState {
    order: dates::FieldOrder,
    /// The formats in use, in the mapping's order.
    formats: Vec<String>,
    /// Whether two of them still conflict.
    open: bool,
}

/// A field's conversions remembered by the cell's text; `None` once the
/// field is not remembered. Only fields with few distinct texts are: a
/// lookup in a table that no longer fits the processor's caches costs more
/// than parsing a date again.
struct Memo(Option<Remembered>);

type Answers<K> = HashMap<K, Result<Value, RowError>, foldhash::fast::RandomState>;

/// Conversions by text. Most cells are short (a date, a code, a country
/// name): those are looked up by their bytes packed into integers, which
/// hashes two words and compares them in registers instead of hashing and
/// comparing a byte string.
#[derive(Default)]
struct Remembered {
    short: Answers<ShortText>,
    long: Answers<Box<str>>,
}

impl Remembered {
    fn get(&self, text: &str) -> Option<&Result<Value, RowError>> {
        match ShortText::of(text.as_bytes()) {
            Some(key) => self.short.get(&key),
            None => self.long.get(text),
        }
    }

    fn len(&self) -> usize {
        self.short.len() + self.long.len()
    }

    fn insert(&mut self, text: &str, answer: Result<Value, RowError>) {
        match ShortText::of(text.as_bytes()) {
            Some(key) => self.short.insert(key, answer),
            None => self.long.insert(text.into(), answer),
        };
    }
}

/// A text of at most 16 bytes as two words and its length. From 8 bytes
/// on, the words are its first and last eight bytes (overlapping below
/// 16), from 4 bytes its first and last four, below that its bytes: with
/// the length, each text has one key and each key one text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ShortText {
    head: u64,
    tail: u64,
    len: u8,
}

impl ShortText {
    fn of(t: &[u8]) -> Option<ShortText> {
        let n = t.len();
        let eight = |b: &[u8]| <[u8; 8]>::try_from(b).map(u64::from_le_bytes).ok();
        let four = |b: &[u8]| {
            <[u8; 4]>::try_from(b)
                .map(|w| u64::from(u32::from_le_bytes(w)))
                .ok()
        };
        let (head, tail) = match n {
            8..=16 => (eight(&t[..8])?, eight(&t[n - 8..])?),
            4..=7 => (four(&t[..4])?, four(&t[n - 4..])?),
            0..=3 => (t.iter().rev().fold(0, |w, &b| w << 8 | u64::from(b)), 0),
            _ => return None,
        };
        Some(ShortText {
            head,
            tail,
            len: n as u8,
        })
    }
}

/// Distinct texts past which a field is no longer remembered.
const MEMO_MAX: usize = 4096;

impl Memo {
    fn insert(&mut self, text: &str, answer: &Result<Value, RowError>) {
        match &mut self.0 {
            Some(seen) if seen.len() >= MEMO_MAX => self.0 = None,
            Some(seen) => seen.insert(text, answer.clone()),
            None => {}
        }
    }
}

/// A value after the mapping's recoding table (matched trimmed and in
/// capitals; `upper` is a reused buffer).
fn recoded<'a>(f: &'a Compiled, text: &'a str, upper: &mut String) -> &'a str {
    let text = text.trim();
    if f.recode.is_empty() {
        return text;
    }
    upper.clear();
    if text.is_ascii() {
        upper.push_str(text);
        upper.make_ascii_uppercase();
    } else {
        upper.extend(text.chars().flat_map(char::to_uppercase));
    }
    f.recode.get(upper.as_str()).map_or(text, String::as_str)
}

/// `*slot = value`, with the old value's drop written out: most slots hold
/// a date, a code or nothing, which own no memory, and the compiler's drop
/// of a `Value`, when it is not inlined, is a call per field and row
/// (which a change anywhere in the crate can bring about: measured at 1.4 %
/// of intake's instructions).
#[inline(always)]
fn put(slot: &mut Value, value: Value) {
    if matches!(slot, Value::Text(_) | Value::Codes(_)) {
        *slot = value;
    } else {
        // The old value owns no memory: nothing to drop.
        std::mem::forget(std::mem::replace(slot, value));
    }
}

/// How recode keys and the values looked up in them are matched: without
/// surrounding spaces, in capitals.
pub(crate) fn recode_key(key: &str) -> String {
    key.trim().to_uppercase()
}

/// Warnings for mapped columns the header names more than once: only the
/// first is read.
fn repeated_columns(mapping: &Mapping, headers: &[String]) -> Vec<String> {
    mapping
        .source_columns()
        .into_iter()
        .filter_map(|name| {
            let at = matching_columns(headers, name);
            (at.len() > 1).then(|| {
                let mut places: Vec<String> =
                    at.iter().take(10).map(|i| (i + 1).to_string()).collect();
                if at.len() > 10 {
                    places.push(format!("…and {} more", thousands(at.len() as u64 - 10)));
                }
                format!(
                    "the header names column {} {} times (columns {}): column {} is read, the others are ignored; rename them in the export, or check which one the mapping means",
                    for_display(name, COLUMN_CHARS),
                    at.len(),
                    places.join(", "),
                    at[0] + 1
                )
            })
        })
        .take(LISTED_COLUMNS)
        .collect()
}

fn compile_source(
    spec: &FieldSpec,
    col: &mut impl FnMut(&str) -> usize,
    position: &impl Fn(&str) -> usize,
) -> Source {
    if let Some(c) = &spec.column {
        Source::Column(col(c))
    } else if let Some(cs) = &spec.columns {
        Source::Columns(
            cs.iter().map(|c| col(c)).collect(),
            spec.join.clone().unwrap_or_else(|| " ".into()),
        )
    } else if let Some(v) = &spec.constant {
        Source::Constant(v.clone())
    } else if let Some(ids) = &spec.pseudonymise {
        Source::Pseudonymise {
            columns: ids.iter().map(|c| col(c)).collect(),
            names: ids.clone(),
            with: spec.with.iter().flatten().map(|w| position(w)).collect(),
        }
    } else if let Some(on) = &spec.age_at {
        Source::AgeAt {
            on: position(on),
            birth: position("date_of_birth"),
        }
    } else if let Some(flags) = &spec.flags {
        Source::Flags(
            flags
                .iter()
                .map(|(c, code)| (col(c), code.clone()))
                .collect(),
        )
    } else {
        Source::Unmapped
    }
}

/// A date read with a two-digit year (chrono's century: 1970–2069) moved to
/// the latest year ending in the same two digits that is not after `pivot`.
/// A 29 February that the new century lacks is not moved.
fn pivoted(day: i32, pivot: Option<i32>) -> i32 {
    let Some(pivot) = pivot else { return day };
    let (y, m, d) = corridor_model::calendar::civil(day);
    let year = pivot - (pivot - y).rem_euclid(100);
    if year == y || chrono::NaiveDate::from_ymd_opt(year, m, d).is_none() {
        return day;
    }
    corridor_model::calendar::day_of_civil(year, m, d)
}

fn err(field: &str, reason: Reason, message: String) -> RowError {
    RowError {
        field: Some(field.to_string()),
        reason,
        message,
    }
}

fn resolve(field: &str, list: CodeListId, value: &str) -> Result<&'static str, RowError> {
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
        let (reason, what) = if list == CodeListId::Country {
            (Reason::UnknownCountry, "a country we know".to_string())
        } else {
            (
                Reason::UnknownCode,
                format!("in the {} code list", list.name()),
            )
        };
        err(
            field,
            reason,
            format!(
                "{} is not {what}{hint}; add it to recode in the mapping",
                for_display(value, SHOWN_CHARS)
            ),
        )
    })
}

/// Similarity of two column names, for "did you mean" hints.
fn strsim_ratio(a: &str, b: &str) -> f64 {
    let (a, b) = (a.to_lowercase(), b.to_lowercase());
    let common = a.chars().filter(|c| b.contains(*c)).count() as f64;
    2.0 * common / (a.chars().count() + b.chars().count()).max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Conversions remembered across rows give exactly what converting each
    /// row afresh gives, errors included: for fields whose texts repeat,
    /// for texts that differ only in spaces or case, and for a field with
    /// more distinct texts than are remembered.
    #[test]
    fn remembered_conversions_are_fresh_ones() {
        let mapping: Mapping = toml::from_str(
            r#"
record_type = "border_events"
source = "test"
[reader]
date_formats = ["%d/%m/%Y"]
[fields]
reporting_country = { constant = "GTM" }
citizenship = { column = "pais" }
counterpart_country = { column = "destino" }
sex = { column = "sexo", recode = { "MASC" = "M" } }
person_key = { pseudonymise = ["doc"] }
direction = { column = "sentido", recode = { "E" = "entry", "S" = "exit" } }
event_date = { column = "fecha" }
date_of_birth = { column = "nacimiento" }
"#,
        )
        .expect("mapping");
        let headers: Vec<String> = [
            "fecha",
            "nacimiento",
            "pais",
            "destino",
            "sexo",
            "sentido",
            "doc",
        ]
        .map(String::from)
        .to_vec();
        let program =
            Program::compile(&mapping, &headers, std::path::Path::new("t.csv")).expect("compile");
        let key = Pseudonymiser::new(vec![7; 32]);
        let countries = ["GUATEMALA", " guatemala ", "Hondura", "XX", "MEX", ""];
        let sexes = ["MASC", "masc", "F", "Q", " F"];
        let mut kept = program.scratch();
        let (mut remembered, mut fresh) = (Vec::new(), Vec::new());
        let mut checked = (0, 0);
        for row in 0..30_000usize {
            // A date of birth per row: more than a field remembers.
            let birth = format!(
                "{:02}/{:02}/{}",
                row % 28 + 1,
                row / 28 % 12 + 1,
                1900 + row / 336
            );
            let birth = if row % 997 == 0 {
                "31/02/1980".to_string()
            } else {
                birth
            };
            let texts = [
                format!("{:02}/01/2024", row % 31 + 1),
                birth,
                countries[row % 6].to_string(),
                countries[(row / 6) % 6].to_string(),
                sexes[row % 5].to_string(),
                ["E", "s", "X"][row % 3].to_string(),
                format!("D{row}"),
            ];
            let cells: Vec<Cell> = texts.iter().map(|t| Cell::Text(t)).collect();
            let a = program.eval(&cells, &key, &mut kept, &mut remembered);
            let b = program.eval(&cells, &key, &mut program.scratch(), &mut fresh);
            assert_eq!(a, b, "row {row}");
            if a.is_ok() {
                assert_eq!(remembered, fresh, "row {row}");
                checked.0 += 1;
            } else {
                checked.1 += 1;
            }
        }
        assert!(checked.0 > 1000 && checked.1 > 1000, "{checked:?}");
        let birth = program
            .fields
            .iter()
            .position(|f| f.name == "date_of_birth");
        assert!(
            birth.is_some_and(|i| kept.memo[i].0.is_none()),
            "dates of birth are no longer remembered"
        );
        assert!(kept.memo[0].0.is_some(), "the constant is");
    }
}

#[cfg(test)]
mod short_text {
    use super::ShortText;
    use proptest::prelude::*;

    proptest! {
        /// Two texts share a key exactly when they are the same text: bytes
        /// from a three-letter alphabet (with NUL) make near misses common.
        #[test]
        fn one_key_per_text(
            a in prop::collection::vec(prop::sample::select(vec![0u8, 1, b'a']), 0..18),
            b in prop::collection::vec(prop::sample::select(vec![0u8, 1, b'a']), 0..18),
        ) {
            let (ka, kb) = (ShortText::of(&a), ShortText::of(&b));
            prop_assert_eq!(ka.is_some(), a.len() <= 16);
            if let (Some(ka), Some(kb)) = (ka, kb) {
                prop_assert_eq!(ka == kb, a == b);
            }
        }
    }

    #[test]
    fn texts_of_every_length_up_to_sixteen_differ() {
        // Every text of a run of 'a's, and each with one byte changed:
        // all distinct, so all keys must be.
        let mut texts = Vec::new();
        for n in 0..=16 {
            let base = vec![b'a'; n];
            texts.push(base.clone());
            for i in 0..n {
                let mut t = base.clone();
                t[i] = 0;
                texts.push(t);
            }
        }
        let keys: std::collections::HashSet<_> =
            texts.iter().filter_map(|t| ShortText::of(t)).collect();
        assert_eq!(keys.len(), texts.len());
        assert!(ShortText::of(&[b'a'; 17]).is_none());
    }
}
