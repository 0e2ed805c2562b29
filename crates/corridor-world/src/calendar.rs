//! Days and months as plain integers, so the simulation's hot loops do no
//! calendar arithmetic.

use chrono::{Datelike, NaiveDate};

/// Days since 1970-01-01.
pub type Day = i32;

pub const MINUTES_PER_DAY: i64 = 1440;

pub fn day_of(date: NaiveDate) -> Day {
    corridor_model::calendar::day_of_date(date)
}

pub fn date_of(day: Day) -> NaiveDate {
    // The world's days lie within a few centuries of 1970, well inside
    // chrono's range.
    corridor_model::calendar::date_of_day(day).unwrap_or_default()
}

/// A month counted from year 0: `year * 12 + month0`.
pub type MonthIndex = i32;

pub fn month_of_day(day: Day) -> MonthIndex {
    let d = date_of(day);
    d.year() * 12 + d.month0() as i32
}

pub fn first_day_of_month(m: MonthIndex) -> Day {
    let date = NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1)
        .expect("first of a month is a date");
    day_of(date)
}

pub fn last_day_of_month(m: MonthIndex) -> Day {
    first_day_of_month(m + 1) - 1
}

pub fn month_label(m: MonthIndex) -> String {
    format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1)
}

/// Relative intensity of short trips in each calendar month (0 = January):
/// peaks at Easter week, the July–August holidays and Christmas.
pub const TRAVEL_SEASON: [f64; 12] = [
    1.0, 0.75, 1.05, 1.35, 0.8, 0.9, 1.25, 1.15, 0.75, 0.8, 1.0, 1.6,
];

pub fn month0(day: Day) -> usize {
    date_of(day).month0() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).expect("date");
        assert_eq!(date_of(day_of(d)), d);
        let m = month_of_day(day_of(d));
        assert_eq!(month_label(m), "2024-02");
        assert_eq!(date_of(last_day_of_month(m)), d);
        assert_eq!(
            date_of(first_day_of_month(m + 11)).to_string(),
            "2025-01-01"
        );
    }
}
