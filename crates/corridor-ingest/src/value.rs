//! Turning raw values into typed values of the standard.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use crate::read::Cell;
use corridor_model::calendar::day_of_date;
use corridor_model::for_display;

/// Characters of a cell shown in a message about it: enough to find the
/// value, never a whole 50 MB one.
pub const SHOWN_CHARS: usize = 64;

/// A typed value of one standard field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    /// A code of a code list (they live as long as the program).
    Code(&'static str),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// Seconds since midnight.
    Time(i32),
    Codes(Vec<String>),
}

impl Value {
    /// Appends the value to a record's bytes (a tag, then floats by their
    /// bits and texts after their length), for spotting repeated records.
    pub fn digest_into(&self, out: &mut Vec<u8>) {
        let text = |out: &mut Vec<u8>, tag: u8, s: &str| {
            out.push(tag);
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        };
        match self {
            Value::Null => out.push(0),
            Value::Text(s) => text(out, 1, s),
            Value::Code(s) => text(out, 2, s),
            Value::Int(n) => {
                out.push(3);
                out.extend_from_slice(&n.to_le_bytes());
            }
            Value::Float(f) => {
                out.push(4);
                out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            Value::Bool(b) => out.extend_from_slice(&[5, u8::from(*b)]),
            Value::Date(d) => {
                out.push(6);
                out.extend_from_slice(&d.to_le_bytes());
            }
            Value::Time(t) => {
                out.push(7);
                out.extend_from_slice(&t.to_le_bytes());
            }
            Value::Codes(codes) => {
                out.push(8);
                out.extend_from_slice(&(codes.len() as u32).to_le_bytes());
                for c in codes {
                    text(out, 9, c);
                }
            }
        }
    }
}

/// The digest of a record's values, for spotting repeats: XXH3 of their
/// bytes ([`Value::digest_into`]), collected first because one hash of the
/// whole costs less than a streaming hasher's many small writes, and
/// deterministic, so the same file always finds the same repeats.
pub fn record_digest(values: &[Value], bytes: &mut Vec<u8>) -> u64 {
    bytes.clear();
    for v in values {
        v.digest_into(bytes);
    }
    twox_hash::XxHash3_64::oneshot(bytes)
}

/// The date of a day number, for messages and derived values; a day
/// outside chrono's range (a Parquet `Date32` can hold one) shows as its
/// first or last date rather than failing.
pub fn date_of_days(days: i32) -> NaiveDate {
    corridor_model::calendar::date_of_day(days).unwrap_or(if days < 0 {
        NaiveDate::MIN
    } else {
        NaiveDate::MAX
    })
}

const DEFAULT_DATE_FORMATS: &[&str] = &["%Y-%m-%d"];
const DATETIME_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S%.f",
];
const DEFAULT_TIME_FORMATS: &[&str] = &["%H:%M:%S", "%H:%M"];

/// Excel stores dates as days since 1899-12-30.
fn excel_serial(n: f64) -> Option<NaiveDateTime> {
    if !(1.0..2_958_466.0).contains(&n) {
        return None;
    }
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?.and_hms_opt(0, 0, 0)?;
    Some(base + chrono::Duration::milliseconds((n * 86_400_000.0).round() as i64))
}

/// chrono reads "23" as the year 23 for %Y; in an export that is a
/// two-digit year, which the declared format does not allow.
fn plausible(dt: NaiveDateTime, f: &str) -> bool {
    use chrono::Datelike;
    !f.contains("%Y") || dt.year() >= 1000
}

/// A date-time read with chrono in exactly one format (a format with only a
/// date part gives midnight).
fn chrono_datetime(text: &str, f: &str) -> Option<NaiveDateTime> {
    if let Ok(dt) = NaiveDateTime::parse_from_str(text, f)
        && plausible(dt, f)
    {
        return Some(dt);
    }
    NaiveDate::parse_from_str(text, f)
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .filter(|dt| plausible(*dt, f))
}

/// Parses a date-time from text with the given formats; a format with only
/// a date part gives midnight.
pub fn parse_datetime(text: &str, formats: &[String]) -> Option<NaiveDateTime> {
    let text = text.trim();
    formats
        .iter()
        .find_map(|f| chrono_datetime(text, f))
        .or_else(|| {
            DATETIME_FORMATS.iter().find_map(|f| {
                NaiveDateTime::parse_from_str(text, f)
                    .ok()
                    .filter(|dt| plausible(*dt, f))
            })
        })
}

/// The date `text` is in exactly the format `format` (no ISO fallback), as
/// a day number: for telling which of several formats read a value.
pub fn date_in_format(text: &str, format: &str) -> Option<i32> {
    let text = text.trim();
    fast_datetime(text, format)
        .or_else(|| chrono_datetime(text, format))
        .map(|dt| day_of_date(dt.date()))
}

/// Whether a chrono format string is one chrono can use: `%Q` is not.
pub fn format_is_valid(format: &str) -> bool {
    !chrono::format::StrftimeItems::new(format)
        .any(|item| matches!(item, chrono::format::Item::Error))
}

/// The declared formats a clerk's dates come in, read without chrono when
/// they are plain numbers and separators (`%d/%m/%Y`, `%Y-%m-%d %H:%M`…):
/// chrono's general parser costs more than the rest of a row's mapping.
/// `None` when the format or the text is anything else; chrono then decides,
/// so the fast path never accepts what chrono would not.
fn fast_datetime(text: &str, format: &str) -> Option<NaiveDateTime> {
    let [y, mo, d, h, mi, s] = fast_fields(text, format)?;
    // Years before 1000 are not what a four-digit %Y means in an export.
    let y = y.filter(|y| *y >= 1000)?;
    NaiveDate::from_ymd_opt(y as i32, mo?, d?)?.and_hms_opt(
        h.unwrap_or(0),
        mi.unwrap_or(0),
        s.unwrap_or(0),
    )
}

/// A time of day in a plain format (`%H:%M`, `%H:%M:%S`) without chrono;
/// `None` leaves it to chrono, as for [`fast_datetime`].
fn fast_time(text: &str, format: &str) -> Option<NaiveTime> {
    let [y, mo, d, h, mi, s] = fast_fields(text, format)?;
    if y.is_some() || mo.is_some() || d.is_some() {
        return None;
    }
    NaiveTime::from_hms_opt(h?, mi?, s.unwrap_or(0))
}

/// The numbers of a text in a format made only of %Y %m %d %H %M %S and
/// punctuation, in that order; `None` if the format has anything else or
/// the text does not follow it exactly.
fn fast_fields(text: &str, format: &str) -> Option<[Option<u32>; 6]> {
    let mut out = [None; 6];
    let (mut t, mut f) = (text.as_bytes(), format.as_bytes());
    // Up to `max` digits (at least `min`), as chrono reads a padded number.
    fn digits(t: &mut &[u8], min: usize, max: usize) -> Option<u32> {
        let n = t
            .iter()
            .take(max)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if n < min {
            return None;
        }
        let v = t[..n]
            .iter()
            .fold(0u32, |v, b| v * 10 + u32::from(b - b'0'));
        *t = &t[n..];
        Some(v)
    }
    while let Some((&c, rest)) = f.split_first() {
        if c == b'%' {
            let (&spec, rest) = rest.split_first()?;
            let (slot, min, max) = match spec {
                b'Y' => (0, 4, 4),
                b'm' => (1, 1, 2),
                b'd' => (2, 1, 2),
                b'H' => (3, 1, 2),
                b'M' => (4, 1, 2),
                b'S' => (5, 1, 2),
                _ => return None,
            };
            out[slot] = Some(digits(&mut t, min, max)?);
            f = rest;
        } else if (c.is_ascii_whitespace() && c != b' ') || c.is_ascii_alphanumeric() {
            // A space matches one space here (chrono takes any run of
            // whitespace); anything else is chrono's.
            return None;
        } else {
            let (&tc, trest) = t.split_first()?;
            if tc != c {
                return None;
            }
            t = trest;
            f = rest;
        }
    }
    // Anything left over (a longer number than the format allows): chrono
    // decides, and refuses.
    t.is_empty().then_some(out)
}

/// A date from a raw value: a typed date cell, an Excel serial number, or
/// text in one of `formats` (falling back to ISO 8601).
pub fn to_date(raw: Cell<'_>, formats: &[String]) -> Result<i32, String> {
    let dt = match raw {
        Cell::DateTime(dt) => Some(dt),
        Cell::Number(n) => excel_serial(n),
        Cell::Text(t) => {
            let t = t.trim();
            let fast = if formats.is_empty() {
                fast_datetime(t, DEFAULT_DATE_FORMATS[0])
            } else {
                formats.iter().find_map(|f| fast_datetime(t, f))
            };
            fast.or_else(|| {
                if formats.is_empty() {
                    let all: Vec<String> =
                        DEFAULT_DATE_FORMATS.iter().map(|s| s.to_string()).collect();
                    parse_datetime(t, &all)
                } else {
                    parse_datetime(t, formats)
                }
            })
        }
        _ => None,
    };
    dt.map(|d| day_of_date(d.date())).ok_or_else(|| {
        let shown = if formats.is_empty() {
            "%Y-%m-%d".to_string()
        } else {
            formats.join(", ")
        };
        format!(
            "{} is not a date in the format {shown}",
            for_display(&raw.text(), SHOWN_CHARS)
        )
    })
}

pub fn to_time(raw: Cell<'_>, formats: &[String]) -> Result<i32, String> {
    let secs = |t: NaiveTime| t.num_seconds_from_midnight() as i32;
    match raw {
        Cell::DateTime(dt) => Ok(secs(dt.time())),
        Cell::Number(n) if (0.0..1.0).contains(&n) => Ok((n * 86_400.0).round() as i32),
        Cell::Number(n) => excel_serial(n)
            .map(|d| secs(d.time()))
            .ok_or_else(|| format!("'{n}' is not a time")),
        Cell::Text(t) => {
            let t = t.trim();
            let fast = if formats.is_empty() {
                DEFAULT_TIME_FORMATS.iter().find_map(|f| fast_time(t, f))
            } else {
                formats.iter().find_map(|f| fast_time(t, f))
            };
            if let Some(time) = fast {
                return Ok(secs(time));
            }
            let fmts: Vec<&str> = if formats.is_empty() {
                DEFAULT_TIME_FORMATS.to_vec()
            } else {
                formats.iter().map(String::as_str).collect()
            };
            for f in &fmts {
                if let Ok(time) = NaiveTime::parse_from_str(t, f) {
                    return Ok(secs(time));
                }
                if let Ok(dt) = NaiveDateTime::parse_from_str(t, f) {
                    return Ok(secs(dt.time()));
                }
            }
            for f in DATETIME_FORMATS {
                if let Ok(dt) = NaiveDateTime::parse_from_str(t, f) {
                    return Ok(secs(dt.time()));
                }
            }
            Err(format!(
                "{} is not a time in the format {}",
                for_display(t, SHOWN_CHARS),
                fmts.join(", ")
            ))
        }
        _ => Err(format!(
            "{} is not a time",
            for_display(&raw.text(), SHOWN_CHARS)
        )),
    }
}

pub fn to_int(raw: Cell<'_>) -> Result<i64, String> {
    match raw {
        Cell::Number(n) if n.fract() == 0.0 => Ok(n as i64),
        Cell::Text(t) => {
            let t = t.trim();
            if let Ok(n) = t.parse::<i64>() {
                return Ok(n);
            }
            let t = t.replace([' ', '\u{a0}'], "");
            t.parse::<i64>()
                .or_else(|_| {
                    t.parse::<f64>().map_err(|_| ()).and_then(|f| {
                        if f.fract() == 0.0 {
                            Ok(f as i64)
                        } else {
                            Err(())
                        }
                    })
                })
                .map_err(|_| format!("{} is not a whole number", for_display(&t, SHOWN_CHARS)))
        }
        Cell::Bool(b) => Ok(i64::from(b)),
        other => Err(format!(
            "{} is not a whole number",
            for_display(&other.text(), SHOWN_CHARS)
        )),
    }
}

pub fn to_float(raw: Cell<'_>) -> Result<f64, String> {
    match raw {
        Cell::Number(n) => Ok(n),
        Cell::Text(t) => t
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("{} is not a number", for_display(t, SHOWN_CHARS))),
        other => Err(format!(
            "{} is not a number",
            for_display(&other.text(), SHOWN_CHARS)
        )),
    }
}

pub fn to_bool(raw: Cell<'_>) -> Result<bool, String> {
    match raw {
        Cell::Bool(b) => Ok(b),
        Cell::Number(n) if n == 0.0 || n == 1.0 => Ok(n == 1.0),
        Cell::Text(t) => match t.trim().to_lowercase().as_str() {
            "true" | "yes" | "y" | "si" | "sí" | "s" | "oui" | "1" | "x" => Ok(true),
            "false" | "no" | "n" | "non" | "0" => Ok(false),
            other => Err(format!(
                "{} is not yes or no",
                for_display(other, SHOWN_CHARS)
            )),
        },
        other => Err(format!(
            "{} is not yes or no",
            for_display(&other.text(), SHOWN_CHARS)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> Cell<'_> {
        Cell::Text(s)
    }

    #[test]
    fn dates() {
        let dmy = vec!["%d/%m/%Y".to_string()];
        let d = to_date(t("05/04/2023"), &dmy).expect("date");
        assert_eq!(date_of_days(d).to_string(), "2023-04-05");
        assert!(
            to_date(t("31/02/2023"), &dmy)
                .unwrap_err()
                .contains("not a date in the format %d/%m/%Y")
        );
        assert!(to_date(t("05/13/2023"), &dmy).is_err());
        assert!(
            to_date(t("05/04/23"), &dmy).is_err(),
            "two-digit years are not the declared format"
        );
        assert_eq!(
            date_of_days(to_date(t("2023-04-05T10:00:00"), &[]).expect("iso")).to_string(),
            "2023-04-05"
        );
        assert_eq!(
            date_of_days(to_date(Cell::Number(45021.0), &[]).expect("serial")).to_string(),
            "2023-04-05"
        );
        assert_eq!(to_time(t("13:45"), &[]), Ok(13 * 3600 + 45 * 60));
        assert_eq!(
            to_time(t("2023-04-05T13:45:00"), &[]),
            Ok(13 * 3600 + 45 * 60)
        );
        assert_eq!(to_int(t(" 90 ")), Ok(90));
        assert!(to_int(t("9O")).is_err());
        assert_eq!(to_bool(t("Sí")), Ok(true));
    }

    proptest! {
        /// Any real date written as dd/mm/yyyy reads back as itself.
        #[test]
        fn dates_round_trip(days in -20000i32..40000) {
            let d = date_of_days(days);
            let text = d.format("%d/%m/%Y").to_string();
            prop_assert_eq!(to_date(Cell::Text(&text), &["%d/%m/%Y".to_string()]), Ok(days));
        }

        /// Parsing never panics on any text.
        #[test]
        fn parsing_is_total(s in ".{0,30}") {
            let _ = to_date(Cell::Text(&s), &["%d/%m/%Y".to_string()]);
            let _ = to_time(Cell::Text(&s), &[]);
            let _ = to_int(Cell::Text(&s));
            let _ = to_bool(Cell::Text(&s));
        }

        /// The fast reading of plain numeric formats gives what chrono
        /// gives, whenever it gives anything, on any text of digits and
        /// separators.
        #[test]
        fn fast_dates_agree_with_chrono(
            s in "[0-9]{1,5}[/-][0-9]{1,3}[/-][0-9]{1,5}( [0-9]{1,3}:[0-9]{1,3}(:[0-9]{1,3})?)?",
            which in 0usize..5,
        ) {
            let format = ["%d/%m/%Y", "%Y-%m-%d", "%m/%d/%Y", "%d-%m-%Y %H:%M", "%Y-%m-%d %H:%M:%S"][which];
            if let Some(fast) = fast_datetime(&s, format) {
                prop_assert_eq!(Some(fast), parse_datetime(&s, &[format.to_string()]), "{} {}", s, format);
            }
        }

        /// Times in plain formats read as chrono reads them.
        #[test]
        fn fast_times_agree_with_chrono(s in "[0-9]{1,3}:[0-9]{1,3}(:[0-9]{1,3})?", which in 0usize..2) {
            let format = ["%H:%M", "%H:%M:%S"][which];
            if let Some(fast) = fast_time(&s, format) {
                prop_assert_eq!(Ok(fast), NaiveTime::parse_from_str(&s, format));
            }
        }

        /// Real dates in plain formats always take the fast path.
        #[test]
        fn real_dates_take_the_fast_path(days in -20000i32..40000, secs in 0u32..86400) {
            let dt = date_of_days(days).and_hms_opt(secs / 3600, secs / 60 % 60, secs % 60).unwrap();
            for f in ["%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M:%S"] {
                let text = dt.format(f).to_string();
                prop_assert_eq!(fast_datetime(&text, f), Some(dt));
                prop_assert_eq!(parse_datetime(&text, &[f.to_string()]), Some(dt));
            }
        }
    }
}
