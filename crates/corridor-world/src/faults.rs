//! The faults agencies really send, seeded into exports and listed in
//! `truth/faults.csv` so later work can prove it caught every one.

use rand::Rng;
use rand::seq::IndexedRandom;

use crate::calendar::{Day, date_of};
use crate::table::{Cell, DateStyle, format_date};
use chrono::Datelike;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// A date that does not exist (31 February, month 13).
    ImpossibleDate,
    /// A date in another convention than the file's (a two-digit year, or
    /// slashes in an ISO file): it cannot be read without guessing.
    AmbiguousDate,
    /// Day and month swapped: a valid but wrong date. Only the sequence of
    /// a person's crossings can reveal it.
    SwappedDate,
    /// A country spelling that resolves to no country.
    UnknownCountry,
    /// A value outside its code list (sex "Z", movement type "T").
    InvalidCode,
    /// A required value left empty.
    MissingRequired,
    /// A date of birth after the event.
    BirthAfterEvent,
    /// A date of birth making the person older than 120.
    ImplausibleAge,
    /// A delimiter or quote written unescaped inside a value.
    BrokenQuoting,
    /// The same record exported twice, identically.
    DuplicateRecord,
    /// The same crossing keyed in again minutes later: two records that
    /// differ only in time.
    RepeatedCrossing,
    /// A crossing that happened at a post but was never recorded.
    MissingRecord,
    /// The export stopped mid-way through its last line.
    TruncatedLine,
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::ImpossibleDate => "impossible_date",
            FaultKind::AmbiguousDate => "ambiguous_date",
            FaultKind::SwappedDate => "swapped_day_month",
            FaultKind::UnknownCountry => "unknown_country",
            FaultKind::InvalidCode => "invalid_code",
            FaultKind::MissingRequired => "missing_required",
            FaultKind::BirthAfterEvent => "birth_after_event",
            FaultKind::ImplausibleAge => "implausible_age",
            FaultKind::BrokenQuoting => "broken_quoting",
            FaultKind::DuplicateRecord => "duplicate_record",
            FaultKind::RepeatedCrossing => "repeated_crossing",
            FaultKind::MissingRecord => "missing_record",
            FaultKind::TruncatedLine => "truncated_line",
        }
    }
}

/// Which faults a row may get, with weights, given the file's format.
pub fn draw_row_fault(rng: &mut impl Rng, text_format: bool, has_birth: bool) -> FaultKind {
    let mut kinds: Vec<(FaultKind, u32)> = vec![
        (FaultKind::UnknownCountry, 20),
        (FaultKind::ImpossibleDate, 12),
        (FaultKind::AmbiguousDate, 6),
        (FaultKind::SwappedDate, 6),
        (FaultKind::InvalidCode, 12),
        (FaultKind::MissingRequired, 12),
        (FaultKind::DuplicateRecord, 16),
    ];
    if has_birth {
        kinds.push((FaultKind::BirthAfterEvent, 5));
        kinds.push((FaultKind::ImplausibleAge, 5));
    }
    if text_format {
        kinds.push((FaultKind::BrokenQuoting, 8));
    }
    let total: u32 = kinds.iter().map(|k| k.1).sum();
    let mut x = rng.random_range(0..total);
    for (k, w) in &kinds {
        if x < *w {
            return *k;
        }
        x -= w;
    }
    FaultKind::UnknownCountry
}

/// The role a column plays, so a fault knows which cell to damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    EventDate,
    BirthDate,
    Citizenship,
    Sex,
    Direction,
    Document,
    FamilyName,
    Other,
}

/// What a fault did to a row.
#[derive(Debug, Clone)]
pub struct Applied {
    pub kind: FaultKind,
    pub column: usize,
    /// The value as written.
    pub written: String,
    /// The value it should have been.
    pub expected: String,
    /// A column to be written without quoting or escaping.
    pub unquoted: Option<usize>,
}

fn text_of(cell: &Cell, style: DateStyle) -> String {
    match cell {
        Cell::Text(s) => s.clone(),
        Cell::Int(n) => n.to_string(),
        Cell::Date(d) => format_date(*d, style.date),
        Cell::DateTime(t) => crate::table::format_datetime(*t, style.datetime),
        Cell::Null => String::new(),
    }
}

fn date_text(style: DateStyle, y: i32, m: u32, d: u32, time: Option<&str>) -> String {
    let date = if style.date.starts_with("%d") {
        format!("{d:02}/{m:02}/{y}")
    } else if style.date.starts_with("%m") {
        format!("{m:02}/{d:02}/{y}")
    } else {
        format!("{y}-{m:02}-{d:02}")
    };
    match time {
        Some(t) if style.date.starts_with("%Y") => format!("{date}T{t}:00"),
        Some(t) => format!("{date} {t}"),
        None => date,
    }
}

/// Values a country column gets that no code list can resolve. Not the
/// null values (`N/D`, `SIN DATO`): intake reads those as no value, a
/// missing country rather than an unknown one.
const NOT_COUNTRIES: &[&str] = &[
    "EXTRANJERO",
    "OTRO PAIS",
    "C.A.",
    "CENTROAMERICA",
    "XXX",
    "DESCONOCIDO",
    "OTRO",
];

/// Damages `cells` with a fault of `kind`. Returns `None` when the row has
/// no column the fault applies to (the caller then leaves the row clean).
pub fn apply(
    rng: &mut impl Rng,
    kind: FaultKind,
    cells: &mut [Cell],
    roles: &[Role],
    style: DateStyle,
    delimiter: char,
) -> Option<Applied> {
    let col = |role: Role| roles.iter().position(|r| *r == role);
    let (column, written) = match kind {
        FaultKind::ImpossibleDate | FaultKind::AmbiguousDate | FaultKind::SwappedDate => {
            let c = col(Role::EventDate)?;
            let (day, time) = match &cells[c] {
                Cell::Date(d) => (*d, None),
                Cell::DateTime(t) => (
                    t.div_euclid(1440) as Day,
                    Some(format!(
                        "{:02}:{:02}",
                        t.rem_euclid(1440) / 60,
                        t.rem_euclid(1440) % 60
                    )),
                ),
                _ => return None,
            };
            let date = date_of(day);
            let (y, m, d) = (date.year(), date.month(), date.day());
            let text = if kind == FaultKind::SwappedDate && d <= 12 && d != m {
                date_text(style, y, d, m, time.as_deref())
            } else if kind == FaultKind::AmbiguousDate {
                // Two-digit year in a dd/mm/yyyy file; slashes in an ISO one.
                let short = if style.date.starts_with("%Y") {
                    format!("{d:02}/{m:02}/{y}")
                } else {
                    format!("{d:02}/{m:02}/{:02}", y % 100)
                };
                match time {
                    Some(t) => format!("{short} {t}"),
                    None => short,
                }
            } else if rng.random_bool(0.5) {
                date_text(
                    style,
                    y,
                    2,
                    *[30u32, 31].choose(rng).unwrap_or(&30),
                    time.as_deref(),
                )
            } else {
                date_text(style, y, 13, d, time.as_deref())
            };
            (c, text)
        }
        FaultKind::UnknownCountry => {
            let c = col(Role::Citizenship)?;
            let current = text_of(&cells[c], style);
            let typo = crate::names::typo(rng, &current);
            let text = if current.len() > 4
                && typo != current
                && corridor_model::CodeListId::Country
                    .list()
                    .lookup(&typo)
                    .is_none()
                && rng.random_bool(0.6)
            {
                typo
            } else {
                NOT_COUNTRIES
                    .choose(rng)
                    .copied()
                    .unwrap_or("XXX")
                    .to_string()
            };
            (c, text)
        }
        FaultKind::InvalidCode => {
            let (c, choices): (usize, &[&str]) = if rng.random_bool(0.5) {
                (col(Role::Sex)?, &["Z", "?", "MF", "0"])
            } else {
                (col(Role::Direction)?, &["T", "?", "TRANSITO", "0"])
            };
            (c, choices.choose(rng).copied().unwrap_or("?").to_string())
        }
        FaultKind::MissingRequired => {
            let c = if rng.random_bool(0.6) {
                col(Role::Document)?
            } else {
                col(Role::Citizenship)?
            };
            (c, String::new())
        }
        FaultKind::BirthAfterEvent => {
            let e = col(Role::EventDate)?;
            let b = col(Role::BirthDate)?;
            let event_day = match &cells[e] {
                Cell::Date(d) => *d,
                Cell::DateTime(t) => t.div_euclid(1440) as Day,
                _ => return None,
            };
            let born = event_day + rng.random_range(1..4000);
            let expected = text_of(&cells[b], style);
            cells[b] = Cell::Date(born);
            return Some(Applied {
                kind,
                column: b,
                written: format_date(born, style.date),
                expected,
                unquoted: None,
            });
        }
        FaultKind::ImplausibleAge => {
            let b = col(Role::BirthDate)?;
            let Cell::Date(day) = cells[b] else {
                return None;
            };
            let expected = text_of(&cells[b], style);
            let born = day - 365 * rng.random_range(125..140);
            cells[b] = Cell::Date(born);
            return Some(Applied {
                kind,
                column: b,
                written: format_date(born, style.date),
                expected,
                unquoted: None,
            });
        }
        FaultKind::BrokenQuoting => {
            let c = col(Role::FamilyName)?;
            let current = text_of(&cells[c], style);
            // CSV: a name with the delimiter inside, unquoted ("LÓPEZ; PÉREZ");
            // JSON: a name with a raw quote inside.
            let text = match (delimiter, current.split_once(' ')) {
                ('"', _) => format!("{current} \"ALIAS\""),
                (d, Some((a, b))) => format!("{a}{d} {b}"),
                (d, None) => format!("{current}{d} JR"),
            };
            let expected = current;
            cells[c] = Cell::Text(text.clone());
            return Some(Applied {
                kind,
                column: c,
                written: text,
                expected,
                unquoted: Some(c),
            });
        }
        FaultKind::DuplicateRecord
        | FaultKind::RepeatedCrossing
        | FaultKind::MissingRecord
        | FaultKind::TruncatedLine => {
            return None;
        }
    };
    let expected = text_of(&cells[column], style);
    cells[column] = if written.is_empty() {
        Cell::Null
    } else {
        Cell::Text(written.clone())
    };
    Some(Applied {
        kind,
        column,
        written,
        expected,
        unquoted: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn faults_damage_the_right_cell() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let roles = [
            Role::EventDate,
            Role::Citizenship,
            Role::Sex,
            Role::Direction,
            Role::BirthDate,
            Role::Document,
            Role::FamilyName,
        ];
        let day =
            crate::calendar::day_of(chrono::NaiveDate::from_ymd_opt(2023, 4, 5).expect("date"));
        let fresh = || {
            vec![
                Cell::Date(day),
                Cell::Text("GUATEMALA".into()),
                Cell::Text("F".into()),
                Cell::Text("ENTRADA".into()),
                Cell::Date(day - 10000),
                Cell::Text("G1234567".into()),
                Cell::Text("LÓPEZ PÉREZ".into()),
            ]
        };
        let mut cells = fresh();
        let a = apply(
            &mut rng,
            FaultKind::SwappedDate,
            &mut cells,
            &roles,
            crate::table::DMY,
            ';',
        )
        .expect("applies");
        assert_eq!(a.written, "04/05/2023");
        assert_eq!(a.expected, "05/04/2023");
        let mut cells = fresh();
        let a = apply(
            &mut rng,
            FaultKind::AmbiguousDate,
            &mut cells,
            &roles,
            crate::table::DMY,
            ';',
        )
        .expect("applies");
        assert_eq!(a.written, "05/04/23");
        let mut cells = fresh();
        let a = apply(
            &mut rng,
            FaultKind::AmbiguousDate,
            &mut cells,
            &roles,
            crate::table::ISO,
            ';',
        )
        .expect("applies");
        assert_eq!(a.written, "05/04/2023", "slashes in an ISO file");
        for _ in 0..50 {
            let mut cells = fresh();
            let a = apply(
                &mut rng,
                FaultKind::UnknownCountry,
                &mut cells,
                &roles,
                crate::table::DMY,
                ';',
            )
            .expect("applies");
            assert!(
                corridor_model::Countries::get()
                    .resolve(&a.written)
                    .is_err(),
                "{} resolves",
                a.written
            );
            let mut cells = fresh();
            let a = apply(
                &mut rng,
                FaultKind::InvalidCode,
                &mut cells,
                &roles,
                crate::table::DMY,
                ';',
            )
            .expect("applies");
            let sex = corridor_model::CodeListId::Sex.list().resolve(&a.written);
            let dir = corridor_model::CodeListId::Direction
                .list()
                .resolve(&a.written);
            assert!(sex.is_err() && dir.is_err(), "{} resolves", a.written);
        }
        let mut cells = fresh();
        let a = apply(
            &mut rng,
            FaultKind::BrokenQuoting,
            &mut cells,
            &roles,
            crate::table::DMY,
            ';',
        )
        .expect("applies");
        assert_eq!(a.written, "LÓPEZ; PÉREZ");
        assert_eq!(a.unquoted, Some(6));
    }
}
