//! Age in completed years and the standard age groups.

use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};

use crate::codes::CodeListId;

/// Age in completed years on `on`, or `None` when `on` is before `birth`.
/// A person born on 29 February becomes a year older on 1 March in common
/// years, as most civil registries count.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> Option<i32> {
    if on < birth {
        return None;
    }
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    Some(age)
}

/// The kinds of age grouping in the `age_group` code list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeGrouping {
    /// `Y0T4` … `Y80T84`, `Y_GE85`.
    FiveYear,
    /// `Y0T14`, `Y15T24`, `Y25T64`, `Y_GE65`.
    Broad,
    /// `Y_LT18`, `Y_GE18`.
    Majority,
    /// `Y0T11`, `Y12T17`, `Y18T24`, `Y25T34`, `Y35T49`, `Y_GE50`: the
    /// groups of counter-trafficking case reports.
    Cases,
}

/// Ages above this fall in the group that holds it (every grouping's last
/// group is open-ended).
const OLDEST: usize = 150;

/// A grouping's codes and, for every age up to [`OLDEST`], the index of
/// its group: built once from the code list, so that a lookup per record
/// costs an array read.
struct Lookup {
    codes: Vec<&'static str>,
    by_age: Vec<Option<u8>>,
}

impl Lookup {
    fn build(grouping: AgeGrouping) -> Lookup {
        let codes = grouping.codes();
        let ranges: Vec<(i32, Option<i32>)> = codes
            .iter()
            .map(|c| age_range(c).unwrap_or((i32::MAX, None)))
            .collect();
        let by_age = (0..=OLDEST as i32)
            .map(|age| {
                ranges
                    .iter()
                    .position(|&(from, to)| age >= from && to.is_none_or(|to| age <= to))
                    .and_then(|i| u8::try_from(i).ok())
            })
            .collect();
        Lookup { codes, by_age }
    }
}

impl AgeGrouping {
    fn kind(self) -> &'static str {
        match self {
            AgeGrouping::FiveYear => "five_year",
            AgeGrouping::Broad => "broad",
            AgeGrouping::Majority => "majority",
            AgeGrouping::Cases => "cases",
        }
    }

    fn lookup(self) -> &'static Lookup {
        static LOOKUPS: [OnceLock<Lookup>; 4] = [const { OnceLock::new() }; 4];
        let i = self as usize;
        LOOKUPS[i].get_or_init(|| Lookup::build(self))
    }

    /// The position in [`AgeGrouping::codes`] of the group that holds
    /// `age`; `None` for a negative age.
    pub fn index_of(self, age: i32) -> Option<u8> {
        let age = usize::try_from(age).ok()?;
        self.lookup().by_age[age.min(OLDEST)]
    }

    /// The groups with the ages each covers: code, first and last year
    /// (`None` for "and over"), youngest first.
    pub fn ranges(self) -> Vec<(&'static str, i32, Option<i32>)> {
        self.codes()
            .into_iter()
            .filter_map(|c| age_range(c).map(|(from, to)| (c, from, to)))
            .collect()
    }

    /// The code of the group that holds `age`; `None` for a negative age.
    pub fn code_of(self, age: i32) -> Option<&'static str> {
        self.index_of(age).and_then(|i| self.code_at(i))
    }

    /// The code at `index` of [`AgeGrouping::codes`].
    pub fn code_at(self, index: u8) -> Option<&'static str> {
        self.lookup().codes.get(usize::from(index)).copied()
    }

    /// The group codes of this grouping, youngest first.
    pub fn codes(self) -> Vec<&'static str> {
        CodeListId::AgeGroup
            .list()
            .codes
            .iter()
            .filter(|c| c.extra.get("kind").map(String::as_str) == Some(self.kind()))
            .map(|c| c.code.as_str())
            .collect()
    }
}

/// The ages a group code of the `age_group` code list covers: first and
/// last year (`None` for "and over"); `None` for a code that is not an
/// age range (`_T`, `_U`, unknown codes).
pub fn age_range(code: &str) -> Option<(i32, Option<i32>)> {
    let list = CodeListId::AgeGroup.list();
    let c = list.codes.iter().find(|c| c.code == code)?;
    let from = c.extra.get("from")?.parse::<i32>().ok()?;
    let to = c.extra.get("to").and_then(|v| v.parse::<i32>().ok());
    Some((from, to))
}

/// The code of the group of `grouping` that holds `age`; `_U` for a negative age.
pub fn age_group(age: i32, grouping: AgeGrouping) -> &'static str {
    grouping.code_of(age).unwrap_or("_U")
}

#[cfg(test)]
fn age_group_by_scan(age: i32, grouping: AgeGrouping) -> &'static str {
    let list = CodeListId::AgeGroup.list();
    for code in &list.codes {
        if code.extra.get("kind").map(String::as_str) != Some(grouping.kind()) {
            continue;
        }
        let from = code.extra.get("from").and_then(|v| v.parse::<i32>().ok());
        let to = code.extra.get("to").and_then(|v| v.parse::<i32>().ok());
        if let Some(from) = from
            && age >= from
            && to.is_none_or(|to| age <= to)
        {
            return code.code.as_str();
        }
    }
    "_U"
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid test date")
    }

    #[test]
    fn ranges_of_group_codes() {
        assert_eq!(age_range("Y10T14"), Some((10, Some(14))));
        assert_eq!(age_range("Y_GE85"), Some((85, None)));
        assert_eq!(age_range("_T"), None);
        assert_eq!(age_range("nonsense"), None);
    }

    #[test]
    fn completed_years() {
        assert_eq!(age_on(d(2000, 5, 10), d(2020, 5, 9)), Some(19));
        assert_eq!(age_on(d(2000, 5, 10), d(2020, 5, 10)), Some(20));
        assert_eq!(age_on(d(2000, 2, 29), d(2021, 2, 28)), Some(20));
        assert_eq!(age_on(d(2000, 2, 29), d(2021, 3, 1)), Some(21));
        assert_eq!(age_on(d(2000, 1, 1), d(1999, 12, 31)), None);
    }

    #[test]
    fn group_bounds() {
        assert_eq!(age_group(0, AgeGrouping::FiveYear), "Y0T4");
        assert_eq!(age_group(4, AgeGrouping::FiveYear), "Y0T4");
        assert_eq!(age_group(5, AgeGrouping::FiveYear), "Y5T9");
        assert_eq!(age_group(85, AgeGrouping::FiveYear), "Y_GE85");
        assert_eq!(age_group(120, AgeGrouping::FiveYear), "Y_GE85");
        assert_eq!(age_group(14, AgeGrouping::Broad), "Y0T14");
        assert_eq!(age_group(65, AgeGrouping::Broad), "Y_GE65");
        assert_eq!(age_group(17, AgeGrouping::Majority), "Y_LT18");
        assert_eq!(age_group(18, AgeGrouping::Majority), "Y_GE18");
        assert_eq!(age_group(-1, AgeGrouping::Majority), "_U");
        assert_eq!(AgeGrouping::FiveYear.codes().len(), 18);
        assert_eq!(age_group(11, AgeGrouping::Cases), "Y0T11");
        assert_eq!(age_group(12, AgeGrouping::Cases), "Y12T17");
        assert_eq!(age_group(90, AgeGrouping::Cases), "Y_GE50");
        assert_eq!(AgeGrouping::Broad.index_of(-3), None);
        assert_eq!(AgeGrouping::Broad.index_of(200), Some(3));
    }

    proptest! {
        /// Every age 0..=130 falls in exactly one group of each grouping.
        #[test]
        fn groups_partition_ages(age in -5i32..=400) {
            for grouping in [AgeGrouping::FiveYear, AgeGrouping::Broad, AgeGrouping::Majority, AgeGrouping::Cases] {
                let group = age_group(age, grouping);
                prop_assert_eq!(group, age_group_by_scan(age, grouping));
                if age >= 0 {
                    prop_assert!(grouping.codes().contains(&group), "{age} -> {group}");
                }
            }
        }
    }
}
