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

/// Excel stores dates as days since 1899-12-30 (the 1900 system). It also
/// counts 1900-02-29, a day that never was (serial 60): the serials before
/// it are one day off that base.
fn excel_serial(n: f64) -> Option<NaiveDateTime> {
    if !(1.0..2_958_466.0).contains(&n) {
        return None;
    }
    let base = if n < 60.0 {
        NaiveDate::from_ymd_opt(1899, 12, 31)?
    } else if n < 61.0 {
        return None;
    } else {
        NaiveDate::from_ymd_opt(1899, 12, 30)?
    };
    days_after(base, n)
}

/// `n` days (and their fraction) after midnight of `base`.
fn days_after(base: NaiveDate, n: f64) -> Option<NaiveDateTime> {
    Some(
        base.and_hms_opt(0, 0, 0)?
            + chrono::Duration::milliseconds((n * 86_400_000.0).round() as i64),
    )
}

/// Excel for the Mac before 2011 counted from 1904-01-01 (the 1904 system).
fn excel_1904_serial(n: f64) -> Option<NaiveDateTime> {
    if !(0.0..2_957_003.0).contains(&n) {
        return None;
    }
    days_after(NaiveDate::from_ymd_opt(1904, 1, 1)?, n)
}

/// Date forms a mapping names in place of a chrono format, for dates that
/// are numbers: Excel serials (as text in a CSV, or a text cell), and Unix
/// time in seconds or milliseconds (UTC).
pub const NAMED_FORMS: &[&str] = &["excel", "excel_1904", "epoch", "epoch_ms"];

/// A date in a named form; `None` when `form` is not one.
fn named_form(text: &str, form: &str) -> Option<Option<NaiveDateTime>> {
    let serial = || {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
            .then(|| text.parse::<f64>().ok())
            .flatten()
    };
    let integer = || {
        let digits = text.strip_prefix('-').unwrap_or(text);
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<i64>().ok())
            .flatten()
    };
    Some(match form {
        "excel" => serial().and_then(excel_serial),
        "excel_1904" => serial().and_then(excel_1904_serial),
        "epoch" => integer()
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .map(|d| d.naive_utc()),
        "epoch_ms" => integer()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|d| d.naive_utc()),
        _ => return None,
    })
}

/// The UTC date-time of Unix time in one of `formats` (`epoch`,
/// `epoch_ms`); `None` when no such format reads the text.
pub(crate) fn unix_time(text: &str, formats: &[String]) -> Option<NaiveDateTime> {
    formats
        .iter()
        .filter(|f| f.starts_with("epoch"))
        .find_map(|f| named_form(text.trim(), f).flatten())
}

/// The text with month and day names in Spanish, French or Portuguese
/// written in English, as chrono reads them, and ordinal marks after a day
/// dropped ("1er", "1º", "2nd"): `None` when the format names no month or
/// day (`%B`, `%b`, `%h`, `%A`) or nothing changed.
fn in_english(text: &str, format: &str) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let short = format.contains("%b") || format.contains("%h");
    let months = short || format.contains("%B");
    let days = format.contains("%A");
    if !months && !days {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut changed = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if !c.is_alphabetic() {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let end = rest
            .char_indices()
            .find(|(_, c)| !c.is_alphabetic())
            .map_or(rest.len(), |(i, _)| i);
        let (word, after) = rest.split_at(end);
        rest = after;
        let folded = corridor_model::fold(word);
        let after_digit = out.chars().last().is_some_and(|c| c.is_ascii_digit());
        if after_digit
            && ["er", "re", "st", "nd", "rd", "th", "o", "a", "º", "ª"].contains(&folded.as_str())
        {
            changed = true;
            continue;
        }
        let english = if months {
            corridor_model::calendar::month_of_name(&folded).map(|m| {
                let name = MONTHS[m as usize - 1];
                if short { &name[..3] } else { name }
            })
        } else {
            None
        }
        .or_else(|| {
            days.then(|| corridor_model::calendar::weekday_of_name(&folded))
                .flatten()
                .map(|d| DAYS[d as usize])
        });
        match english {
            Some(e) => {
                changed |= e != word;
                out.push_str(e);
            }
            None => out.push_str(word),
        }
    }
    // "1°" (a degree sign for the ordinal mark) is not a letter.
    if out.contains('°') {
        out = out.replace('°', "");
        changed = true;
    }
    changed.then_some(out)
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
    if let Some(named) = named_form(text, f) {
        return named;
    }
    let english = in_english(text, f);
    let text = english.as_deref().unwrap_or(text);
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
    // The clock time of a value with a UTC offset: what its format reads.
    let text = crate::zones::split_offset(text).map_or(text, |(clock, _)| clock);
    fast_datetime(text, format)
        .or_else(|| chrono_datetime(text, format))
        .map(|dt| day_of_date(dt.date()))
}

/// Whether a chrono format string is one chrono can use: `%Q` is not.
/// A format with no `%` reads only its own text, which is never what was
/// meant, unless it is a named form (`excel`, `epoch`…).
pub fn format_is_valid(format: &str) -> bool {
    NAMED_FORMS.contains(&format)
        || (format.contains('%')
            && !chrono::format::StrftimeItems::new(format)
                .any(|item| matches!(item, chrono::format::Item::Error)))
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
        // A number cell in a named form (a JSON number of Unix time, a
        // serial of the 1904 system), else a serial of Excel's own.
        Cell::Number(n) => formats
            .iter()
            .find_map(|f| named_form(&raw.text(), f).flatten())
            .or_else(|| excel_serial(n)),
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
            "{} is not a date in the format {shown}{}",
            for_display(&raw.text(), SHOWN_CHARS),
            number_hint(&raw.text())
        )
    })
}

/// What a number given as a date looks like it is: an Excel serial, or
/// Unix time in seconds or milliseconds, with the date it would be.
fn number_hint(text: &str) -> String {
    let t = text.trim();
    let like = |form: &str, what: &str| {
        named_form(t, form)
            .flatten()
            .filter(|dt| (1950..2100).contains(&chrono::Datelike::year(dt)))
            .map(|dt| {
                format!(
                    "; it looks like {what} ({} would be {}): add \"{form}\" to the formats",
                    for_display(t, SHOWN_CHARS),
                    dt.date()
                )
            })
    };
    let digits = t.bytes().filter(u8::is_ascii_digit).count();
    match digits {
        4..=6 => like("excel", "an Excel serial date"),
        9..=10 => like("epoch", "Unix time in seconds"),
        12..=13 => like("epoch_ms", "Unix time in milliseconds"),
        _ => None,
    }
    .unwrap_or_default()
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
    use chrono::Datelike;
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

        /// An Excel serial, as text, is the date Excel shows for it: the
        /// days since 1899-12-30 from March 1900 on, and the 1904 system's
        /// days since 1904-01-01.
        #[test]
        fn excel_serials_are_the_dates_excel_shows(days in -25500i32..2_900_000) {
            let date = date_of_days(days);
            let base = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap();
            let serial = (date - base).num_days();
            let excel = vec!["excel".to_string()];
            if date >= NaiveDate::from_ymd_opt(1900, 3, 1).unwrap() && date.year() < 10000 {
                prop_assert_eq!(to_date(t(&serial.to_string()), &excel), Ok(days));
                prop_assert_eq!(to_date(t(&format!("{serial}.75")), &excel), Ok(days));
            }
            let base1904 = NaiveDate::from_ymd_opt(1904, 1, 1).unwrap();
            let serial = (date - base1904).num_days();
            if serial >= 0 && date.year() < 10000 {
                prop_assert_eq!(to_date(t(&serial.to_string()), &["excel_1904".to_string()]), Ok(days));
            }
        }

        /// Unix time is the UTC date chrono gives it.
        #[test]
        fn epochs_are_chronos_utc_dates(secs in -2_000_000_000i64..4_000_000_000) {
            let want = chrono::DateTime::from_timestamp(secs, 0).unwrap().date_naive();
            prop_assert_eq!(to_date(t(&secs.to_string()), &["epoch".to_string()]).map(date_of_days), Ok(want));
            let ms = secs * 1000 + 999;
            prop_assert_eq!(to_date(t(&ms.to_string()), &["epoch_ms".to_string()]).map(date_of_days), Ok(want));
        }

        /// A date written with its month's name in Spanish, French or
        /// Portuguese, in any case, reads as chrono reads it in English.
        #[test]
        fn month_names_in_four_languages(days in -20000i32..40000, lang in 0usize..4, upper: bool) {
            const NAMES: [[&str; 12]; 4] = [
                ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"],
                ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"],
                ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"],
                ["janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro", "novembro", "dezembro"],
            ];
            let date = date_of_days(days);
            let name = NAMES[lang][date.month0() as usize];
            let name = if upper { name.to_uppercase() } else { name.to_string() };
            let text = format!("{} de {name} de {}", date.day(), date.year());
            prop_assert_eq!(to_date(t(&text), &["%d de %B de %Y".to_string()]), Ok(days), "{}", text);
        }
    }

    #[test]
    fn dates_as_clerks_write_them() {
        let on = |text: &str, format: &str| {
            to_date(t(text), &[format.to_string()]).map(|d| date_of_days(d).to_string())
        };
        for (text, format, want) in [
            ("5 de marzo de 2021", "%d de %B de %Y", "2021-03-05"),
            ("14 de Febrero del 2022", "%d de %B del %Y", "2022-02-14"),
            ("1er mars 2021", "%d %B %Y", "2021-03-01"),
            ("1º de agosto de 2020", "%d de %B de %Y", "2020-08-01"),
            ("1° de agosto de 2020", "%d de %B de %Y", "2020-08-01"),
            ("17-AGO-22", "%d-%b-%y", "2022-08-17"),
            ("03-DIC-21", "%d-%b-%y", "2021-12-03"),
            ("03-déc.-21", "%d-%b.-%y", "2021-12-03"),
            (
                "lunes, 5 de abril de 2021",
                "%A, %d de %B de %Y",
                "2021-04-05",
            ),
            ("45123", "excel", "2023-07-16"),
            ("1", "excel", "1900-01-01"),
            ("59", "excel", "1900-02-28"),
            ("61", "excel", "1900-03-01"),
            ("0", "excel_1904", "1904-01-01"),
            ("1700000000", "epoch", "2023-11-14"),
            ("1700000000000", "epoch_ms", "2023-11-14"),
        ] {
            assert_eq!(on(text, format).as_deref(), Ok(want), "{text} in {format}");
        }
        // Excel's 1900-02-29 never was; a serial that is not a number is
        // no date.
        assert!(on("60", "excel").is_err());
        assert!(on("1e4", "excel").is_err());
        assert!(on("17-AGX-22", "%d-%b-%y").is_err());
        // A number where a date was expected says what it looks like.
        let e = on("45123", "%d/%m/%Y").unwrap_err();
        assert!(
            e.contains("Excel serial") && e.contains("2023-07-16") && e.contains("\"excel\""),
            "{e}"
        );
        let e = on("1700000000", "%d/%m/%Y").unwrap_err();
        assert!(
            e.contains("Unix time in seconds") && e.contains("\"epoch\""),
            "{e}"
        );
        let e = on("1700000000000", "%Y-%m-%d").unwrap_err();
        assert!(e.contains("milliseconds"), "{e}");
        assert!(!on("2023", "%d/%m/%Y").unwrap_err().contains("looks like"));
        assert!(!format_is_valid("dd/mm/yyyy"));
        assert!(format_is_valid("excel") && format_is_valid("%d de %B de %Y"));
    }
}
