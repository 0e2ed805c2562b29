//! Day numbers (days since 1970-01-01) by integer arithmetic, for the places
//! that take a date or an age for every record or person-month, where
//! chrono's checked conversions cost more than the rest of the work.

/// Year, month and day of a day number (H. Hinnant's `civil_from_days`).
pub fn civil(day: i32) -> (i32, u32, u32) {
    let z = i64::from(day) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m as u32, d as u32)
}

/// The day number of a year, month (1–12) and day (`days_from_civil`).
pub fn day_of_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as i32
}

/// The day number of a date (Arrow's `Date32`): what chrono's subtraction
/// from 1970-01-01 gives, for a fraction of its cost.
pub fn day_of_date(d: chrono::NaiveDate) -> i32 {
    use chrono::Datelike;
    day_of_civil(d.year(), d.month(), d.day())
}

/// The date of a day number: [`civil`] as a chrono date, for the places
/// that print or format one. `None` only outside chrono's range.
pub fn date_of_day(day: i32) -> Option<chrono::NaiveDate> {
    let (y, m, d) = civil(day);
    chrono::NaiveDate::from_ymd_opt(y, m, d)
}

/// Completed years from `birth` to `on` (day numbers), as
/// [`crate::age::age_on`] counts them; `None` before birth.
pub fn age_on_days(birth: i32, on: i32) -> Option<i32> {
    if on < birth {
        return None;
    }
    let ((by, bm, bd), (y, m, d)) = (civil(birth), civil(on));
    Some(y - by - i32::from((m, d) < (bm, bd)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate};
    use proptest::prelude::*;

    fn date(day: i32) -> NaiveDate {
        NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default() + chrono::Duration::days(day.into())
    }

    proptest! {
        /// Dates and ages agree with chrono, 29 February birthdays included.
        #[test]
        fn the_calendar_agrees_with_chrono(day in -80_000i32..80_000, birth in -80_000i32..80_000) {
            let d = date(day);
            prop_assert_eq!(civil(day), (d.year(), d.month(), d.day()));
            prop_assert_eq!(day_of_civil(d.year(), d.month(), d.day()), day);
            prop_assert_eq!(age_on_days(birth, day), crate::age::age_on(date(birth), d));
        }
    }

    proptest! {
        /// A date's day number is chrono's, thousands of years either side
        /// of 1970.
        #[test]
        fn day_numbers_of_dates_are_chronos(day in -2_000_000i32..2_000_000) {
            prop_assert_eq!(day_of_date(date(day)), day);
            prop_assert_eq!(date_of_day(day), Some(date(day)));
        }
    }

    #[test]
    fn leap_day_birthdays_come_on_the_first_of_march() {
        let birth = day_of_civil(2000, 2, 29);
        assert_eq!(age_on_days(birth, day_of_civil(2001, 2, 28)), Some(0));
        assert_eq!(age_on_days(birth, day_of_civil(2001, 3, 1)), Some(1));
        assert_eq!(age_on_days(birth, birth - 1), None);
    }
}

/// The months (`2024-01`) or years (`2024`) of a reference period written
/// `2022-01/2025-12`, `2022/2025`, `2024-03` or `2024`, in order: the time
/// domain a release states for its tables.
pub fn periods_of(reference: &str, unit: PeriodUnit) -> Result<Vec<String>, String> {
    let parse = |s: &str, end: bool| -> Result<(i32, u32), String> {
        let s = s.trim();
        let bad = || {
            format!(
                "`{s}` in reference period `{reference}`: write a year (2024) or a month (2024-03)"
            )
        };
        let (y, m) = match s.split_once('-') {
            Some((y, m)) => (y, Some(m)),
            None => (s, None),
        };
        let y: i32 = y.parse().map_err(|_| bad())?;
        if !(1900..=2200).contains(&y) {
            return Err(bad());
        }
        let m = match m {
            Some(m) => m
                .parse()
                .ok()
                .filter(|m| (1..=12).contains(m))
                .ok_or_else(bad)?,
            None if end => 12,
            None => 1,
        };
        Ok((y, m))
    };
    let (from, to) = match reference.split_once('/') {
        Some((a, b)) => (parse(a, false)?, parse(b, true)?),
        None => (parse(reference, false)?, parse(reference, true)?),
    };
    if to < from {
        return Err(format!(
            "reference period `{reference}` ends before it starts"
        ));
    }
    let mut out = Vec::new();
    match unit {
        PeriodUnit::Year => out.extend((from.0..=to.0).map(|y| y.to_string())),
        PeriodUnit::Month => {
            let (mut y, mut m) = from;
            while (y, m) <= to {
                out.push(format!("{y}-{m:02}"));
                (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            }
        }
    }
    Ok(out)
}

/// The unit of a time dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodUnit {
    Month,
    Year,
}

#[cfg(test)]
mod period_tests {
    use super::*;

    #[test]
    fn reference_periods_give_their_months_and_years() {
        let m = periods_of("2022-11/2023-02", PeriodUnit::Month).unwrap();
        assert_eq!(m, ["2022-11", "2022-12", "2023-01", "2023-02"]);
        assert_eq!(periods_of("2024", PeriodUnit::Month).unwrap().len(), 12);
        assert_eq!(
            periods_of("2022-01/2025-12", PeriodUnit::Year).unwrap(),
            ["2022", "2023", "2024", "2025"]
        );
        for bad in ["2024-13", "soon", "2025/2024", "24", "2024-01/"] {
            assert!(periods_of(bad, PeriodUnit::Month).is_err(), "{bad}");
        }
    }
}

/// The month (1–12) a month's name or abbreviation names, in English,
/// Spanish, French or Portuguese, given [`crate::fold`]ed ("marzo",
/// "fevr", "ago", "dez"): the names that dates in the region's exports
/// are written with.
pub fn month_of_name(folded: &str) -> Option<u32> {
    const NAMES: [&[&str]; 12] = [
        &[
            "january", "jan", "enero", "ene", "janvier", "janv", "janeiro",
        ],
        &[
            "february",
            "feb",
            "febrero",
            "fevrier",
            "fevr",
            "fev",
            "fevereiro",
        ],
        &["march", "mar", "marzo", "mars", "marco"],
        &["april", "apr", "abril", "abr", "avril", "avr"],
        &["may", "mayo", "mai", "maio"],
        &["june", "jun", "junio", "juin", "junho"],
        &["july", "jul", "julio", "juillet", "juil", "julho"],
        &["august", "aug", "agosto", "ago", "aout", "aou"],
        &[
            "september",
            "sep",
            "sept",
            "septiembre",
            "setiembre",
            "set",
            "septembre",
            "setembro",
        ],
        &["october", "oct", "octubre", "octobre", "outubro", "out"],
        &["november", "nov", "noviembre", "novembre", "novembro"],
        &[
            "december",
            "dec",
            "diciembre",
            "dic",
            "decembre",
            "dezembro",
            "dez",
        ],
    ];
    NAMES
        .iter()
        .position(|names| names.contains(&folded))
        .map(|m| m as u32 + 1)
}

/// The weekday (0 = Monday) a day's full name names, in English, Spanish
/// or French, given [`crate::fold`]ed.
pub fn weekday_of_name(folded: &str) -> Option<u32> {
    const NAMES: [&[&str]; 7] = [
        &["monday", "lunes", "lundi"],
        &["tuesday", "martes", "mardi"],
        &["wednesday", "miercoles", "mercredi"],
        &["thursday", "jueves", "jeudi"],
        &["friday", "viernes", "vendredi"],
        &["saturday", "sabado", "samedi"],
        &["sunday", "domingo", "dimanche"],
    ];
    NAMES
        .iter()
        .position(|names| names.contains(&folded))
        .map(|d| d as u32)
}
