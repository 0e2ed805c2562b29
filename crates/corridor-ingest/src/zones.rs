//! Dates and times that carry a UTC offset (`2022-03-05T23:30:00Z`,
//! `…+01:00`), stored on a local clock.
//!
//! The standard's dates and times are those of the post's local calendar
//! and clock (a crossing at 23:30 UTC in Guatemala happened on the 5th at
//! 17:30). A value with an offset is converted to the clock of the field's
//! time zone: the one the mapping declares (`time_zone`), else the
//! reporting country's, when all of that country's zones show the same
//! time at that moment. Where they do not (a crossing in the United
//! States), or no zone is known, the row is quarantined with a message
//! that says what to declare: a guess would move records across days.

use chrono::{FixedOffset, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use corridor_model::for_display;

use crate::read::Cell;

/// An IANA time zone by its name (`America/Guatemala`).
pub(crate) fn zone(name: &str) -> Option<Tz> {
    name.trim().parse().ok()
}

/// Whose clock a field's values with an offset are stored in.
#[derive(Debug, Clone)]
pub(crate) enum Clock {
    /// The zones that clock may be; the first names it in messages.
    Zones { zones: Vec<Tz>, of: String },
    /// No zone is known, and why.
    Unknown(String),
}

impl Clock {
    /// The clock of a mapping's declared zone, or else of its reporting
    /// country (a constant; a column's country differs by row, and rows of
    /// one file are read with one clock).
    pub(crate) fn of(declared: Option<&str>, reporting_country: Option<&str>) -> Clock {
        if let Some(name) = declared {
            return match zone(name) {
                Some(tz) => Clock::Zones {
                    zones: vec![tz],
                    of: format!("time_zone {}", tz.name()),
                },
                None => Clock::Unknown(format!(
                    "time_zone {} is not an IANA time zone",
                    for_display(name, 40)
                )),
            };
        }
        let Some(country) = reporting_country else {
            return Clock::Unknown(
                "the reporting country is not one constant (it is read from a column, or not mapped), so no one zone is known"
                    .into(),
            );
        };
        let Ok(c) = corridor_model::Countries::get().resolve(country) else {
            return Clock::Unknown(format!(
                "the reporting country {} is no known country",
                for_display(country, 40)
            ));
        };
        let zones: Vec<Tz> = corridor_model::time_zones(&c.alpha3)
            .iter()
            .filter_map(|z| zone(z))
            .collect();
        if zones.is_empty() {
            return Clock::Unknown(format!("{} has no time zone in the tz database", c.alpha3));
        }
        Clock::Zones {
            zones,
            of: format!("the reporting country {}", c.alpha3),
        }
    }

    /// `at`, a clock time at `offset` from UTC, on this clock.
    pub(crate) fn local(
        &self,
        at: NaiveDateTime,
        offset: FixedOffset,
        text: &str,
    ) -> Result<NaiveDateTime, String> {
        let declare = "set time_zone = \"…\" under [reader], or on the field, to the IANA zone of the posts' clocks (such as America/Guatemala)";
        let shown = for_display(text, 40);
        let (zones, of) = match self {
            Clock::Zones { zones, of } => (zones, of),
            Clock::Unknown(why) => {
                return Err(format!(
                    "{shown} is a moment in UTC terms (it carries an offset, or is Unix time), and dates are stored on the posts' local clock, but {why}: {declare}"
                ));
            }
        };
        let utc = offset
            .from_local_datetime(&at)
            .single()
            .map(|d| d.naive_utc())
            .ok_or_else(|| format!("{shown} is not a moment in time"))?;
        let mut clocks = zones
            .iter()
            .map(|z| z.from_utc_datetime(&utc).naive_local());
        let first = clocks
            .next()
            .ok_or_else(|| format!("{shown}: {of} has no zone"))?;
        if clocks.all(|c| c == first) {
            return Ok(first);
        }
        Err(format!(
            "{shown} is a moment in UTC terms (it carries an offset, or is Unix time), and the zones of {of} show different times at that moment ({}…): {declare}",
            zones
                .iter()
                .take(3)
                .map(|z| format!("{} {}", z.name(), z.from_utc_datetime(&utc).naive_local()))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// A format without its offset part (`%z`, `%:z`, a literal `Z`…), for
/// the clock time left when [`split_offset`] took the offset off.
pub(crate) fn without_offset(format: &str) -> String {
    let mut f = format.trim_end();
    loop {
        let before = f.len();
        for tail in ["%::z", "%:z", "%#z", "%z", "%Z", "Z", "UTC", "GMT"] {
            if let Some(rest) = f.strip_suffix(tail) {
                f = rest.trim_end();
            }
        }
        if f.len() == before {
            return f.to_string();
        }
    }
}

/// The formats that read the clock time before an offset: each without
/// its offset part, and a date-only format also followed by a time (a
/// column of dates may hold a timestamp).
pub(crate) fn clock_formats(formats: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for f in formats.iter().map(|f| without_offset(f)) {
        if !f.contains("%H")
            && !f.contains("%T")
            && !crate::value::NAMED_FORMS.contains(&f.as_str())
        {
            for time in [" %H:%M:%S%.f", " %H:%M", "T%H:%M:%S%.f", "T%H:%M"] {
                out.push(format!("{f}{time}"));
            }
        }
        out.push(f);
    }
    out
}

/// A text that names a moment rather than a clock time: a date-time with
/// a UTC offset, or Unix time where the formats list `epoch`/`epoch_ms`.
/// `None` when it is neither; `Some(None)` when it has an offset but its
/// clock time is in none of the formats.
pub(crate) fn instant(
    cell: Cell<'_>,
    formats: &[String],
    clock_formats: &[String],
) -> Option<Option<(NaiveDateTime, FixedOffset)>> {
    let text = match cell {
        Cell::Text(t) => std::borrow::Cow::Borrowed(t),
        // A JSON number of Unix time.
        Cell::Number(_) if formats.iter().any(|f| f.starts_with("epoch")) => cell.text(),
        _ => return None,
    };
    let text = text.as_ref();
    if let Some((clock, offset)) = split_offset(text) {
        return Some(crate::value::parse_datetime(clock, clock_formats).map(|at| (at, offset)));
    }
    let utc = FixedOffset::east_opt(0)?;
    crate::value::unix_time(text, formats).map(|at| Some((at, utc)))
}

/// Splits a trailing UTC offset off a date-time: `Z`, ` UTC`, ` GMT`,
/// `+01:00`, `-0500` or `+01` right after a clock time (`23:30`,
/// `23:30:00`, `23:30:00.125`). A date alone (`2022-03-05` ends in `-05`)
/// has no offset.
pub fn split_offset(text: &str) -> Option<(&str, FixedOffset)> {
    let t = text.trim();
    let b = t.as_bytes();
    let (rest, seconds) = if let Some(rest) = t.strip_suffix(['Z', 'z']) {
        (rest, 0)
    } else if let Some(rest) = b
        .len()
        .checked_sub(3)
        .filter(|&at| {
            t.get(at..)
                .is_some_and(|z| z.eq_ignore_ascii_case("UTC") || z.eq_ignore_ascii_case("GMT"))
        })
        .and_then(|at| t.get(..at))
    {
        (rest, 0)
    } else {
        let sign_at = t.rfind(['+', '-'])?;
        let (rest, tail) = (&t[..sign_at], &t[sign_at + 1..]);
        let digits: Vec<u32> = tail
            .bytes()
            .filter(|&c| c != b':')
            .map(|c| c.is_ascii_digit().then(|| u32::from(c - b'0')))
            .collect::<Option<_>>()?;
        let colons = tail.bytes().filter(|&c| c == b':').count();
        let (h, m) = match (digits.as_slice(), colons) {
            ([h1, h2], 0) => (h1 * 10 + h2, 0),
            ([h1, h2, m1, m2], 0) => (h1 * 10 + h2, m1 * 10 + m2),
            ([h1, h2, m1, m2], 1) if tail.as_bytes().get(2) == Some(&b':') => {
                (h1 * 10 + h2, m1 * 10 + m2)
            }
            _ => return None,
        };
        if h > 15 || m > 59 {
            return None;
        }
        let s = (h * 3600 + m * 60) as i32;
        (rest, if b[sign_at] == b'-' { -s } else { s })
    };
    let rest = rest.trim_end();
    ends_with_clock(rest).then_some(())?;
    Some((rest, FixedOffset::east_opt(seconds)?))
}

/// Whether text ends with a clock time: `HH:MM`, `HH:MM:SS` or
/// `HH:MM:SS.f…`.
fn ends_with_clock(t: &str) -> bool {
    let b = t.as_bytes();
    let mut end = b.len();
    // Fractional seconds.
    let digits_before = |end: usize| {
        b[..end]
            .iter()
            .rev()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let frac = digits_before(end);
    if frac > 0 && end > frac && b[end - frac - 1] == b'.' {
        end -= frac + 1;
    }
    let pair = |end: usize| end >= 3 && digits_before(end) == 2 && b[end - 3] == b':';
    if !pair(end) {
        return false;
    }
    // `MM` after `HH:`, or `SS` after `HH:MM:`.
    let hh = |end: usize| end >= 2 && (1..=2).contains(&digits_before(end));
    hh(end - 3) || (pair(end - 3) && hh(end - 6))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("test date")
    }

    #[test]
    fn offsets_after_a_clock_time() {
        let secs = |t: &str| split_offset(t).map(|(r, o)| (r.to_string(), o.local_minus_utc()));
        assert_eq!(
            secs("2022-03-05T23:30:00Z"),
            Some(("2022-03-05T23:30:00".into(), 0))
        );
        assert_eq!(
            secs("2022-03-05 23:30:00.125+01:00"),
            Some(("2022-03-05 23:30:00.125".into(), 3600))
        );
        assert_eq!(
            secs("05/03/2022 23:30 -0530"),
            Some(("05/03/2022 23:30".into(), -19800))
        );
        assert_eq!(
            secs("2022-03-05T23:30:00-06"),
            Some(("2022-03-05T23:30:00".into(), -21600))
        );
        assert_eq!(
            secs("2022-03-05 23:30 UTC"),
            Some(("2022-03-05 23:30".into(), 0))
        );
        for none in [
            "2022-03-05",
            "05-03-2022",
            "2022-03-05 23:30",
            "23-MAR-22",
            "Z",
            "",
            "12:30+99:00",
            "2022-03-05-05",
        ] {
            assert_eq!(secs(none), None, "{none}");
        }
    }

    #[test]
    fn formats_lose_their_offset() {
        assert_eq!(
            without_offset("%Y-%m-%dT%H:%M:%S%.f%:z"),
            "%Y-%m-%dT%H:%M:%S%.f"
        );
        assert_eq!(without_offset("%Y-%m-%dT%H:%M:%SZ"), "%Y-%m-%dT%H:%M:%S");
        assert_eq!(without_offset("%d/%m/%Y %H:%M %z"), "%d/%m/%Y %H:%M");
        assert_eq!(without_offset("%d/%m/%Y"), "%d/%m/%Y");
    }

    #[test]
    fn local_clocks() {
        let utc = FixedOffset::east_opt(0).expect("utc");
        let gtm = Clock::of(None, Some("Guatemala"));
        // 23:30 UTC is 17:30 in Guatemala (UTC−6, no summer time).
        assert_eq!(
            gtm.local(dt("2022-03-05 23:30:00"), utc, "t"),
            Ok(dt("2022-03-05 17:30:00"))
        );
        // Across midnight: 03:00 UTC on the 6th is still the 5th there.
        assert_eq!(
            gtm.local(dt("2022-03-06 03:00:00"), utc, "t"),
            Ok(dt("2022-03-05 21:00:00"))
        );
        // Spain's zones agree in Madrid and Ceuta but not in the Canaries.
        let esp = Clock::of(None, Some("ESP"));
        let e = esp
            .local(dt("2022-07-01 12:00:00"), utc, "2022-07-01T12:00:00Z")
            .expect_err("Canaries differ");
        assert!(
            e.contains("time_zone")
                && e.contains("Atlantic/Canary")
                && e.contains("2022-07-01T12:00:00Z"),
            "{e}"
        );
        let madrid = Clock::of(Some("Europe/Madrid"), Some("ESP"));
        // Summer time: UTC+2.
        assert_eq!(
            madrid.local(dt("2022-07-01 12:00:00"), utc, "t"),
            Ok(dt("2022-07-01 14:00:00"))
        );
        // Argentina's twelve zones agree: one clock.
        let arg = Clock::of(None, Some("ARG"));
        assert_eq!(
            arg.local(dt("2022-07-01 12:00:00"), utc, "t"),
            Ok(dt("2022-07-01 09:00:00"))
        );
        let column = Clock::of(None, None);
        assert!(
            column
                .local(dt("2022-07-01 12:00:00"), utc, "t")
                .expect_err("unknown")
                .contains("not one constant")
        );
    }

    #[test]
    fn every_country_zone_is_one_chrono_tz_knows() {
        for c in corridor_model::Countries::get().all() {
            for z in corridor_model::time_zones(&c.alpha3) {
                assert!(zone(z).is_some(), "{} {z}", c.alpha3);
            }
        }
    }

    proptest! {
        #[test]
        fn split_offset_is_total(s in ".{0,30}") {
            let _ = split_offset(&s);
        }

        #[test]
        fn offsets_round_trip(secs in 0i64..4_000_000_000, quarter_hours in -48i32..56, colon: bool, zulu: bool) {
            let at = chrono::DateTime::from_timestamp(secs, 0).expect("in range");
            let offset = FixedOffset::east_opt(if zulu { 0 } else { quarter_hours * 900 }).expect("offset");
            let shown = at.with_timezone(&offset);
            let text = if zulu {
                shown.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            } else if colon {
                shown.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
            } else {
                shown.format("%Y-%m-%d %H:%M:%S%z").to_string()
            };
            let (rest, o) = split_offset(&text).expect("an offset");
            prop_assert_eq!(o, offset);
            let clock = NaiveDateTime::parse_from_str(rest, if text.contains('T') { "%Y-%m-%dT%H:%M:%S" } else { "%Y-%m-%d %H:%M:%S" }).expect("clock");
            let utc = Clock::of(Some("UTC"), None);
            prop_assert_eq!(utc.local(clock, o, &text), Ok(at.naive_utc()));
        }
    }
}
