//! What a file looks like before a mapping says how to read it: where its
//! records are (the sheet, the header row under titles and group headers)
//! and what each column's values are (dates in which formats, codes of
//! which list). `corridor mapping draft` writes its guesses from this.

use std::path::Path;

use corridor_model::CodeListId;

use crate::IngestError;
use crate::mapping::ReaderOptions;
use crate::read::{self, RawValue};

/// Rows looked at per candidate layout.
const SAMPLE_ROWS: usize = 2_000;
/// Header rows tried under titles and blank rows.
const MAX_HEADER_ROW: u64 = 20;
/// Distinct values kept per column.
const DISTINCT: usize = 200;

/// Where the records are, and a sample of them.
pub(crate) struct Layout {
    pub sheet: Option<String>,
    /// 1-based; `None` when it is the first row.
    pub header_row: Option<u64>,
    pub headers: Vec<String>,
    pub detected: Vec<(String, String)>,
    pub columns: Vec<Column>,
    /// Sampled rows that look like records (half the header's columns
    /// filled, or more).
    pub records: usize,
}

/// A column's sampled values.
#[derive(Default)]
pub(crate) struct Column {
    /// Non-empty values seen.
    pub filled: usize,
    /// Typed date cells (Excel) among them.
    pub typed_dates: usize,
    /// Distinct texts, up to [`DISTINCT`], in the order first seen.
    pub distinct: Vec<String>,
    /// Whether there were more distinct texts than kept.
    pub many: bool,
    /// The first texts, for date formats (up to [`DATE_TEXTS`]).
    pub texts: Vec<String>,
    /// The date formats that read the column ([`Column::finish`]).
    dates: Option<Vec<String>>,
}

/// Texts a column's date formats are chosen from.
const DATE_TEXTS: usize = 500;

impl Column {
    fn push(&mut self, v: &RawValue) {
        if v.is_empty() {
            return;
        }
        self.filled += 1;
        if matches!(v, RawValue::DateTime(_)) {
            self.typed_dates += 1;
            return;
        }
        let t = v.text().trim().to_string();
        if !self.many && !self.distinct.contains(&t) {
            if self.distinct.len() < DISTINCT {
                self.distinct.push(t.clone());
            } else {
                self.many = true;
            }
        }
        if self.texts.len() < DATE_TEXTS {
            self.texts.push(t);
        }
    }

    /// Decides the column's date formats, once its values are in.
    fn finish(&mut self) {
        self.dates = if self.filled == 0 {
            None
        } else if self.typed_dates * 10 >= self.filled * 9 {
            Some(Vec::new())
        } else {
            date_formats_of(&self.texts)
        };
    }

    /// The share of distinct values `list` knows (case, accents and
    /// aliases as intake resolves them).
    pub fn share_in(&self, list: CodeListId) -> f64 {
        if self.distinct.is_empty() {
            return 0.0;
        }
        let known = self.distinct.iter().filter(|v| known_in(list, v)).count();
        known as f64 / self.distinct.len() as f64
    }

    /// Whether the column holds dates: typed date cells, or texts that
    /// `formats` read.
    pub fn date_formats(&self) -> Option<&[String]> {
        self.dates.as_deref()
    }

    /// Whether the values look like identifiers: mostly distinct, with
    /// digits.
    pub fn identifier_like(&self) -> bool {
        let with_digits = self
            .distinct
            .iter()
            .filter(|v| v.chars().any(|c| c.is_ascii_digit()) && v.len() >= 5)
            .count();
        (self.many || self.distinct.len() * 2 >= self.filled.max(1))
            && with_digits * 10 >= self.distinct.len().max(1) * 8
            && self.date_formats().is_none()
    }
}

/// Whether `list` knows `value` as intake resolves it.
pub(crate) fn known_in(list: CodeListId, value: &str) -> bool {
    // `lookup`, not `resolve`: a miss needs no closest candidates here.
    list.list().lookup(value).is_some()
}

/// The formats tried on a column of dates, most common first.
const CANDIDATES: &[&str] = &[
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d/%m/%y",
    "%m/%d/%y",
    "%Y%m%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%d-%b-%y",
    "%d-%b-%Y",
    "%d %B %Y",
    "%d de %B de %Y",
    "%d de %B del %Y",
    "%B %d, %Y",
    "excel",
    "epoch",
    "epoch_ms",
];

/// The fewest formats, in [`CANDIDATES`] order, that read every text; else
/// the one most of them are in; `None` when none reads half. Day-first
/// before month-first where both read every value.
fn date_formats_of(texts: &[String]) -> Option<Vec<String>> {
    if texts.is_empty() {
        return None;
    }
    let reads = |f: &str, t: &str| crate::value::date_in_format(t, f).is_some();
    // Excel serials only where every value is a plausible one.
    let serial_ok = texts.iter().all(|t| {
        t.parse::<f64>()
            .is_ok_and(|n| (20_000.0..80_000.0).contains(&n))
    });
    // Unix time where every value is a whole number of the right length
    // (seconds from 1973 to 2286 have ten digits; milliseconds thirteen).
    let digits_all = |n: usize| {
        texts
            .iter()
            .all(|t| t.len() == n && t.bytes().all(|b| b.is_ascii_digit()))
    };
    let candidates: Vec<&str> = CANDIDATES
        .iter()
        .copied()
        .filter(|f| *f != "excel" || serial_ok)
        .filter(|f| *f != "epoch" || digits_all(10))
        .filter(|f| *f != "epoch_ms" || digits_all(13))
        .collect();
    let counts: Vec<usize> = candidates
        .iter()
        .map(|f| texts.iter().filter(|t| reads(f, t)).count())
        .collect();
    if let Some(i) = (0..candidates.len()).find(|&i| counts[i] == texts.len()) {
        return Some(vec![candidates[i].to_string()]);
    }
    // Two formats in one column (dates with and without a time), but
    // never two that read one text as different dates.
    for i in 0..candidates.len() {
        for j in i + 1..candidates.len() {
            if counts[i] == 0 || counts[j] == 0 {
                continue;
            }
            let pair = vec![candidates[i].to_string(), candidates[j].to_string()];
            if crate::dates::conflicts(&pair).is_some() {
                continue;
            }
            let both = texts
                .iter()
                .filter(|t| reads(candidates[i], t) || reads(candidates[j], t))
                .count();
            if both == texts.len() {
                return Some(pair);
            }
        }
    }
    // The format most values are in: the others are typing errors, which
    // the ingest quarantines and reports.
    (0..candidates.len())
        .filter(|&i| counts[i] * 2 > texts.len())
        .max_by_key(|&i| (counts[i], std::cmp::Reverse(i)))
        .map(|i| vec![candidates[i].to_string()])
}

/// Where the records of `file` are: for a workbook, the sheet with the
/// most rows that look like records; in it (or in a text file), the header
/// row with the most named columns among the first rows, under titles,
/// blank rows and merged group headers.
pub(crate) fn layout(file: &Path) -> Result<Layout, IngestError> {
    let defaults = ReaderOptions::default();
    let sheets: Vec<Option<String>> = match read::format_of(file, &defaults)? {
        read::Format::Excel => read::sheet_names(file)?.into_iter().map(Some).collect(),
        _ => vec![None],
    };
    let mut best: Option<Layout> = None;
    let mut first_error = None;
    for sheet in sheets {
        match in_sheet(file, sheet) {
            Ok(Some(l)) => {
                if best.as_ref().is_none_or(|b| l.records > b.records) {
                    best = Some(l);
                }
            }
            Ok(None) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match (best, first_error) {
        (Some(b), _) => Ok(b),
        (None, Some(e)) => Err(e),
        (None, None) => Err(IngestError::Unreadable {
            path: file.to_path_buf(),
            message: "no sheet or line of the file looks like a header with records under it"
                .into(),
        }),
    }
}

fn named(headers: &[String]) -> usize {
    headers
        .iter()
        .filter(|h| h.chars().any(char::is_alphabetic))
        .count()
}

fn in_sheet(file: &Path, sheet: Option<String>) -> Result<Option<Layout>, IngestError> {
    let defaults = ReaderOptions::default();
    let structured = !matches!(
        read::format_of(file, &defaults)?,
        read::Format::Csv | read::Format::Excel
    );
    let mut best: Option<(usize, u64)> = None;
    let mut first_error = None;
    let rows_to_try = if structured { 1 } else { MAX_HEADER_ROW };
    for h in 1..=rows_to_try {
        let opts = ReaderOptions {
            sheet: sheet.clone(),
            header_row: Some(h),
            ..ReaderOptions::default()
        };
        match read::open(file, &opts, &[]) {
            Ok(r) => {
                let n = named(r.headers());
                if n >= 2 && best.is_none_or(|(b, _)| n > b) {
                    best = Some((n, h));
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let Some((_, h)) = best else {
        return match first_error {
            Some(e) if sheet.is_none() => Err(e),
            _ => Ok(None),
        };
    };
    let opts = ReaderOptions {
        sheet: sheet.clone(),
        header_row: (h > 1).then_some(h),
        ..ReaderOptions::default()
    };
    let mut reader = read::open(file, &opts, &[])?;
    let headers = reader.headers().to_vec();
    let mut columns: Vec<Column> = headers.iter().map(|_| Column::default()).collect();
    let mut records = 0;
    for _ in 0..SAMPLE_ROWS {
        let Some(row) = reader.next_row() else { break };
        let Ok(row) = row else { break };
        if row.problem.is_some() {
            continue;
        }
        let filled = row.values.iter().filter(|v| !v.is_empty()).count();
        if filled * 2 >= headers.len().max(1) {
            records += 1;
        }
        for (c, v) in columns.iter_mut().zip(&row.values) {
            c.push(v);
        }
    }
    for c in &mut columns {
        c.finish();
    }
    let mut detected = reader.detected();
    if let Some(s) = &sheet {
        detected.retain(|(k, _)| k != "sheet");
        detected.push(("sheet".into(), s.clone()));
    }
    Ok(Some(Layout {
        sheet,
        header_row: opts.header_row,
        headers,
        detected,
        columns,
        records,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_column_of_dates_gets_the_formats_that_read_it() {
        let f = |v: &[&str]| date_formats_of(&texts(v));
        assert_eq!(f(&["2024-01-31", "2023-12-01"]), Some(texts(&["%Y-%m-%d"])));
        assert_eq!(f(&["31/01/2024", "01/02/2024"]), Some(texts(&["%d/%m/%Y"])));
        assert_eq!(f(&["01/31/2024", "02/01/2024"]), Some(texts(&["%m/%d/%Y"])));
        assert_eq!(f(&["17-AGO-22", "03-DIC-21"]), Some(texts(&["%d-%b-%y"])));
        assert_eq!(
            f(&["5 de marzo de 2021", "14 de febrero de 2022"]),
            Some(texts(&["%d de %B de %Y"]))
        );
        assert_eq!(f(&["45123", "45200"]), Some(texts(&["excel"])));
        assert_eq!(
            f(&["31/01/2024", "01/02/2024 10:15"]),
            Some(texts(&["%d/%m/%Y", "%d/%m/%Y %H:%M"]))
        );
        assert_eq!(f(&["1646523000", "1646609400"]), Some(texts(&["epoch"])));
        assert_eq!(
            f(&["1646523000000", "1646609400125"]),
            Some(texts(&["epoch_ms"]))
        );
        assert_eq!(
            f(&["2022-03-05T23:30:00Z", "2022-03-06T01:00:00+01:00"]),
            Some(texts(&["%Y-%m-%dT%H:%M:%S"]))
        );
        assert_eq!(
            f(&["2022-03-05T23:30:00.000Z", "2022-03-06T01:00:00.250-05:00"]),
            Some(texts(&["%Y-%m-%dT%H:%M:%S%.f"]))
        );
        assert_eq!(f(&["E", "S"]), None);
        assert_eq!(f(&["12345678", "A1234567"]), None);
    }
}
