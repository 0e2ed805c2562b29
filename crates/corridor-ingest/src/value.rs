//! Turning raw values into typed values of the standard.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use crate::read::RawValue;

/// A typed value of one standard field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
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
    /// Feeds the value to a hasher (floats by their bits), for spotting
    /// repeated records.
    pub fn hash_into(&self, h: &mut impl std::hash::Hasher) {
        use std::hash::Hash;
        std::mem::discriminant(self).hash(h);
        match self {
            Value::Null => {}
            Value::Text(s) => s.hash(h),
            Value::Int(n) => n.hash(h),
            Value::Float(f) => f.to_bits().hash(h),
            Value::Bool(b) => b.hash(h),
            Value::Date(d) | Value::Time(d) => d.hash(h),
            Value::Codes(c) => c.hash(h),
        }
    }
}

pub fn epoch_days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32
}

pub fn date_of_days(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default() + chrono::Duration::days(days as i64)
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

/// Parses a date-time from text with the given formats; a format with only
/// a date part gives midnight.
pub fn parse_datetime(text: &str, formats: &[String]) -> Option<NaiveDateTime> {
    use chrono::Datelike;
    let text = text.trim();
    // chrono reads "23" as the year 23 for %Y; in an export that is a
    // two-digit year, which the declared format does not allow.
    let plausible = |dt: NaiveDateTime, f: &str| !f.contains("%Y") || dt.year() >= 1000;
    for f in formats {
        if let Ok(dt) = NaiveDateTime::parse_from_str(text, f)
            && plausible(dt, f)
        {
            return Some(dt);
        }
        if let Some(dt) = NaiveDate::parse_from_str(text, f)
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            && plausible(dt, f)
        {
            return Some(dt);
        }
    }
    for f in DATETIME_FORMATS {
        if let Ok(dt) = NaiveDateTime::parse_from_str(text, f)
            && plausible(dt, f)
        {
            return Some(dt);
        }
    }
    None
}

/// A date from a raw value: a typed date cell, an Excel serial number, or
/// text in one of `formats` (falling back to ISO 8601).
pub fn to_date(raw: &RawValue, formats: &[String]) -> Result<i32, String> {
    let dt = match raw {
        RawValue::DateTime(dt) => Some(*dt),
        RawValue::Number(n) => excel_serial(*n),
        RawValue::Text(t) => {
            let mut all: Vec<String> = formats.to_vec();
            if formats.is_empty() {
                all.extend(DEFAULT_DATE_FORMATS.iter().map(|s| s.to_string()));
            }
            parse_datetime(t, &all)
        }
        _ => None,
    };
    dt.map(|d| epoch_days(d.date())).ok_or_else(|| {
        let shown = if formats.is_empty() {
            "%Y-%m-%d".to_string()
        } else {
            formats.join(", ")
        };
        format!("'{}' is not a date in the format {shown}", raw.text())
    })
}

pub fn to_time(raw: &RawValue, formats: &[String]) -> Result<i32, String> {
    let secs = |t: NaiveTime| t.num_seconds_from_midnight() as i32;
    match raw {
        RawValue::DateTime(dt) => Ok(secs(dt.time())),
        RawValue::Number(n) if (0.0..1.0).contains(n) => Ok((n * 86_400.0).round() as i32),
        RawValue::Number(n) => excel_serial(*n)
            .map(|d| secs(d.time()))
            .ok_or_else(|| format!("'{n}' is not a time")),
        RawValue::Text(t) => {
            let t = t.trim();
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
                "'{t}' is not a time in the format {}",
                fmts.join(", ")
            ))
        }
        _ => Err(format!("'{}' is not a time", raw.text())),
    }
}

pub fn to_int(raw: &RawValue) -> Result<i64, String> {
    match raw {
        RawValue::Number(n) if n.fract() == 0.0 => Ok(*n as i64),
        RawValue::Text(t) => {
            let t = t.trim().replace([' ', '\u{a0}'], "");
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
                .map_err(|_| format!("'{t}' is not a whole number"))
        }
        RawValue::Bool(b) => Ok(i64::from(*b)),
        other => Err(format!("'{}' is not a whole number", other.text())),
    }
}

pub fn to_float(raw: &RawValue) -> Result<f64, String> {
    match raw {
        RawValue::Number(n) => Ok(*n),
        RawValue::Text(t) => t
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("'{t}' is not a number")),
        other => Err(format!("'{}' is not a number", other.text())),
    }
}

pub fn to_bool(raw: &RawValue) -> Result<bool, String> {
    match raw {
        RawValue::Bool(b) => Ok(*b),
        RawValue::Number(n) if *n == 0.0 || *n == 1.0 => Ok(*n == 1.0),
        RawValue::Text(t) => match t.trim().to_lowercase().as_str() {
            "true" | "yes" | "y" | "si" | "sí" | "s" | "oui" | "1" | "x" => Ok(true),
            "false" | "no" | "n" | "non" | "0" => Ok(false),
            other => Err(format!("'{other}' is not yes or no")),
        },
        other => Err(format!("'{}' is not yes or no", other.text())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> RawValue {
        RawValue::Text(s.into())
    }

    #[test]
    fn dates() {
        let dmy = vec!["%d/%m/%Y".to_string()];
        let d = to_date(&t("05/04/2023"), &dmy).expect("date");
        assert_eq!(date_of_days(d).to_string(), "2023-04-05");
        assert!(
            to_date(&t("31/02/2023"), &dmy)
                .unwrap_err()
                .contains("not a date in the format %d/%m/%Y")
        );
        assert!(to_date(&t("05/13/2023"), &dmy).is_err());
        assert!(
            to_date(&t("05/04/23"), &dmy).is_err(),
            "two-digit years are not the declared format"
        );
        assert_eq!(
            date_of_days(to_date(&t("2023-04-05T10:00:00"), &[]).expect("iso")).to_string(),
            "2023-04-05"
        );
        assert_eq!(
            date_of_days(to_date(&RawValue::Number(45021.0), &[]).expect("serial")).to_string(),
            "2023-04-05"
        );
        assert_eq!(to_time(&t("13:45"), &[]), Ok(13 * 3600 + 45 * 60));
        assert_eq!(
            to_time(&t("2023-04-05T13:45:00"), &[]),
            Ok(13 * 3600 + 45 * 60)
        );
        assert_eq!(to_int(&t(" 90 ")), Ok(90));
        assert!(to_int(&t("9O")).is_err());
        assert_eq!(to_bool(&t("Sí")), Ok(true));
    }

    proptest! {
        /// Any real date written as dd/mm/yyyy reads back as itself.
        #[test]
        fn dates_round_trip(days in -20000i32..40000) {
            let d = date_of_days(days);
            let text = d.format("%d/%m/%Y").to_string();
            prop_assert_eq!(to_date(&RawValue::Text(text), &["%d/%m/%Y".to_string()]), Ok(days));
        }

        /// Parsing never panics on any text.
        #[test]
        fn parsing_is_total(s in ".{0,30}") {
            let _ = to_date(&RawValue::Text(s.clone()), &["%d/%m/%Y".to_string()]);
            let _ = to_time(&RawValue::Text(s.clone()), &[]);
            let _ = to_int(&RawValue::Text(s.clone()));
            let _ = to_bool(&RawValue::Text(s));
        }
    }
}
