//! Plausibility and cross-field rules, applied after a row is mapped.

use corridor_model::{FieldType, RecordType};

use crate::transform::{Reason, RowError};
use crate::value::{Value, date_of_days};
use corridor_model::calendar::day_of_date;

/// The date a record is about, by record type: the one a date of birth must
/// precede and an age is counted at.
pub fn event_field(t: RecordType) -> Option<&'static str> {
    match t {
        RecordType::BorderEvent => Some("event_date"),
        RecordType::ResidencePermit => Some("issue_date"),
        RecordType::Return => Some("return_date"),
        RecordType::TraffickingCase => Some("registration_date"),
        RecordType::Population | RecordType::Signal => None,
    }
}

const EARLIEST: &str = "1900-01-01";
const MAX_AGE: i64 = 120;

/// 1900-01-01 as days since 1970: the earliest plausible date.
const EARLIEST_DAYS: i32 = -25_567;

/// The rules of one record type, with its fields' places looked up once.
pub struct Rules {
    t: RecordType,
    age: Option<usize>,
    birth: Option<usize>,
    event: Option<(&'static str, usize)>,
    valid_from: Option<usize>,
    valid_until: Option<usize>,
}

impl Rules {
    pub fn new(t: RecordType) -> Rules {
        let place = |name: &str| t.fields().iter().position(|f| f.name == name);
        Rules {
            t,
            age: place("age"),
            birth: place("date_of_birth"),
            event: event_field(t).and_then(|e| Some((e, place(e)?))),
            valid_from: place("valid_from"),
            valid_until: place("valid_until"),
        }
    }

    /// Checks one mapped record; the first broken rule is returned.
    pub fn check(&self, values: &[Value], today: i32) -> Result<(), RowError> {
        let fields = self.t.fields();
        let get = |i: Option<usize>| i.and_then(|i| values.get(i));
        let earliest = EARLIEST_DAYS;
        let bad = |field: &str, reason: Reason, message: String| {
            Err(RowError {
                field: Some(field.to_string()),
                reason,
                message,
            })
        };
        for (f, v) in fields.iter().zip(values) {
            match (f.ty, v) {
                (FieldType::Date, Value::Date(d)) => {
                    if *d < earliest {
                        return bad(
                            f.name,
                            Reason::OutOfRange,
                            format!("{} {} is before {EARLIEST}", f.name, date_of_days(*d)),
                        );
                    }
                    if *d > today + 1 && f.name != "valid_until" {
                        return bad(
                            f.name,
                            Reason::OutOfRange,
                            format!("{} {} is in the future", f.name, date_of_days(*d)),
                        );
                    }
                }
                (FieldType::Year, Value::Int(y)) if !(1900..=2100).contains(y) => {
                    return bad(
                        f.name,
                        Reason::OutOfRange,
                        format!("{} {y} is not a plausible year", f.name),
                    );
                }
                (FieldType::Count, Value::Int(n)) if *n < 0 => {
                    return bad(
                        f.name,
                        Reason::OutOfRange,
                        format!("{} {n} is negative", f.name),
                    );
                }
                _ => {}
            }
        }
        if let Some(Value::Int(age)) = get(self.age)
            && !(0..=MAX_AGE).contains(age)
        {
            return bad(
                "age",
                Reason::OutOfRange,
                format!("age {age} is outside 0–{MAX_AGE}"),
            );
        }
        if let Some((event, at)) = self.event
            && let (Some(Value::Date(born)), Some(Value::Date(on))) =
                (get(self.birth), get(Some(at)))
        {
            if born > on {
                return bad(
                    "date_of_birth",
                    Reason::InconsistentDates,
                    format!(
                        "born {} after the {event} {}",
                        date_of_days(*born),
                        date_of_days(*on)
                    ),
                );
            }
            // Fewer days than 120 years of 365 days is never over 120 years.
            let age = if i64::from(on - born) < MAX_AGE * 365 {
                0
            } else {
                corridor_model::age::age_on(date_of_days(*born), date_of_days(*on)).unwrap_or(0)
                    as i64
            };
            if age > MAX_AGE {
                return bad(
                    "date_of_birth",
                    Reason::OutOfRange,
                    format!(
                        "born {}: {age} years old on the {event}",
                        date_of_days(*born)
                    ),
                );
            }
        }
        if let (Some(Value::Date(from)), Some(Value::Date(until))) =
            (get(self.valid_from), get(self.valid_until))
            && until < from
        {
            return bad(
                "valid_until",
                Reason::InconsistentDates,
                format!(
                    "valid until {} before valid from {}",
                    date_of_days(*until),
                    date_of_days(*from)
                ),
            );
        }
        Ok(())
    }
}

/// Today, as days since 1970, for the "not in the future" rule.
pub fn today() -> i32 {
    day_of_date(chrono::Utc::now().date_naive())
}

#[cfg(test)]
mod tests {
    #[test]
    fn earliest_is_1900() {
        let d = chrono::NaiveDate::parse_from_str(super::EARLIEST, "%Y-%m-%d").unwrap();
        assert_eq!(super::day_of_date(d), super::EARLIEST_DAYS);
    }
}
