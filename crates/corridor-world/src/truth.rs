//! Ground truth: the 12/16-month classification of every crossing, and the
//! true stocks and flows, computed from complete lives.
//!
//! The classification follows the exact counting of `migrbc` v2.0.9 that
//! ../shared/METHODS.md sets out: whole days, a 487-day window that starts on
//! the crossing day, 365 days in the new state make a migration, more than
//! 122 in the old one rule it out. Lives run past the export period by more
//! than the window, so every exported crossing has its final outcome here.

use std::collections::HashMap;
use std::path::Path;

use crate::calendar::{Day, MINUTES_PER_DAY};
use crate::geo::{Cc, REPORTING};
use crate::sim::Life;

/// Reads a CSV file of the world (a `truth/` file) into rows keyed by
/// header: how the tests of every later layer check themselves against it.
pub fn read_rows(path: &Path) -> Result<Vec<HashMap<String, String>>, csv::Error> {
    let mut r = csv::Reader::from_path(path)?;
    let headers = r.headers()?.clone();
    r.records()
        .map(|rec| {
            Ok(headers
                .iter()
                .zip(rec?.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect())
        })
        .collect()
}

pub const WINDOW_DAYS: Day = 487;
pub const THRESHOLD_DAYS: Day = 365;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Arrival,
    Departure,
}

/// One crossing of a reporting country's border, from that country's side.
#[derive(Debug, Clone, Copy)]
pub struct Crossing {
    /// Index of the move in the life.
    pub move_index: usize,
    pub direction: Direction,
    /// Minutes since 1970 at this country's border.
    pub t: i64,
    pub resident_before: bool,
    pub migration: bool,
}

impl Crossing {
    pub fn day(&self) -> Day {
        self.t.div_euclid(MINUTES_PER_DAY) as Day
    }
}

/// The crossings of country `r`'s border in a life, classified.
pub fn crossings(life: &Life, r: Cc) -> Vec<Crossing> {
    let mut out: Vec<Crossing> = life
        .moves
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            if m.from == r {
                Some((i, Direction::Departure, m.t_exit))
            } else if m.to == r {
                Some((i, Direction::Arrival, m.t_entry()))
            } else {
                None
            }
        })
        .map(|(move_index, direction, t)| Crossing {
            move_index,
            direction,
            t,
            resident_before: false,
            migration: false,
        })
        .collect();
    let days: Vec<(Day, Direction)> = out.iter().map(|c| (c.day(), c.direction)).collect();
    let classes = classify(&days, life.person.home == r);
    for (c, (before, migration)) in out.iter_mut().zip(classes) {
        c.resident_before = before;
        c.migration = migration;
    }
    out
}

/// Classifies a complete crossing history by the 12/16-month rule.
/// Returns, per crossing, (resident before, is a long-term migration).
/// The history is taken as complete: after the last crossing the person
/// stays put for the whole window.
pub fn classify(history: &[(Day, Direction)], initially_resident: bool) -> Vec<(bool, bool)> {
    let mut resident = initially_resident;
    let mut out = Vec::with_capacity(history.len());
    for (i, &(day, direction)) in history.iter().enumerate() {
        let tested = matches!(
            (resident, direction),
            (false, Direction::Arrival) | (true, Direction::Departure)
        );
        let migration = tested && {
            let window_end = day + WINDOW_DAYS;
            let (mut in_new, mut in_old) = (0, 0);
            let mut new_state = true;
            let mut since = day;
            let mut j = i + 1;
            loop {
                let until = history.get(j).map_or(window_end, |c| c.0.min(window_end));
                if new_state {
                    in_new += until - since;
                } else {
                    in_old += until - since;
                }
                if in_new >= THRESHOLD_DAYS {
                    break true;
                }
                if in_old > WINDOW_DAYS - THRESHOLD_DAYS || until >= window_end {
                    break false;
                }
                new_state = history[j].1 == direction;
                since = until;
                j += 1;
            }
        };
        out.push((resident, migration));
        if migration {
            resident = !resident;
        }
    }
    out
}

/// True stocks and flows of one reporting country, by month, citizenship and
/// sex. Month 0 is the end of the month before the export period (the
/// opening stock); months 1..=n are the exported months.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub months: usize,
    /// [r][month][citizenship][sex][status: 0 non-resident, 1 resident][0 present, 1 abroad]
    pub stock: Vec<u32>,
    /// [r][month][citizenship][sex][arrivals, departures, migrant arrivals, migrant departures]
    pub flows: Vec<u32>,
    /// Crossings by corridor: [r][other country][0 departure from r, 1 arrival in r][month][broad age 0..4][sex]
    pub corridor: Vec<u32>,
}

pub const N_CIT: usize = crate::geo::COUNTRIES.len();

impl Accounts {
    pub fn new(months: usize) -> Accounts {
        Accounts {
            months,
            stock: vec![0; 3 * (months + 1) * N_CIT * 2 * 2 * 2],
            flows: vec![0; 3 * (months + 1) * N_CIT * 2 * 4],
            corridor: vec![0; 3 * N_CIT * 2 * (months + 1) * 4 * 2],
        }
    }

    pub fn stock_index(
        &self,
        r: usize,
        m: usize,
        cit: usize,
        sex: usize,
        resident: usize,
        abroad: usize,
    ) -> usize {
        ((((r * (self.months + 1) + m) * N_CIT + cit) * 2 + sex) * 2 + resident) * 2 + abroad
    }

    pub fn flow_index(&self, r: usize, m: usize, cit: usize, sex: usize, k: usize) -> usize {
        (((r * (self.months + 1) + m) * N_CIT + cit) * 2 + sex) * 4 + k
    }

    pub fn corridor_index(
        &self,
        r: usize,
        other: usize,
        dir: usize,
        m: usize,
        age: usize,
        sex: usize,
    ) -> usize {
        ((((r * N_CIT + other) * 2 + dir) * (self.months + 1) + m) * 4 + age) * 2 + sex
    }

    pub fn merge(&mut self, other: &Accounts) {
        for (a, b) in self.stock.iter_mut().zip(&other.stock) {
            *a += b;
        }
        for (a, b) in self.flows.iter_mut().zip(&other.flows) {
            *a += b;
        }
        for (a, b) in self.corridor.iter_mut().zip(&other.corridor) {
            *a += b;
        }
    }

    /// Adds one life. `month_ends` holds the last minute of each month
    /// 0..=n; `month_starts[m]` the first minute of month m (m ≥ 1).
    pub fn add(&mut self, life: &Life, per_country: &[Vec<Crossing>; 3], month_ends: &[i64]) {
        let cit = life.person.citizenship as usize;
        let sex = usize::from(!life.person.female);
        let age_band = |t: i64| {
            let age = (t.div_euclid(MINUTES_PER_DAY) as Day - life.person.birth) / 365;
            match age {
                ..15 => 0,
                15..25 => 1,
                25..65 => 2,
                _ => 3,
            }
        };
        for (ri, &r) in REPORTING.iter().enumerate() {
            let cs = &per_country[ri];
            let mut in_country = life.person.home == r;
            let mut resident = life.person.home == r;
            let mut k = 0;
            for (m, &end) in month_ends.iter().enumerate() {
                while k < cs.len() && cs[k].t <= end {
                    let c = &cs[k];
                    if m > 0 {
                        let (flow, mig) = match c.direction {
                            Direction::Arrival => (0, 2),
                            Direction::Departure => (1, 3),
                        };
                        let i = self.flow_index(ri, m, cit, sex, flow);
                        self.flows[i] += 1;
                        if c.migration {
                            let i = self.flow_index(ri, m, cit, sex, mig);
                            self.flows[i] += 1;
                        }
                        let mv = &life.moves[c.move_index];
                        let (other, dir) = match c.direction {
                            Direction::Departure => (mv.to, 0),
                            Direction::Arrival => (mv.from, 1),
                        };
                        let i = self.corridor_index(ri, other as usize, dir, m, age_band(c.t), sex);
                        self.corridor[i] += 1;
                    }
                    in_country = c.direction == Direction::Arrival;
                    if c.migration {
                        resident = !resident;
                    }
                    k += 1;
                }
                if in_country || resident {
                    let i = self.stock_index(
                        ri,
                        m,
                        cit,
                        sex,
                        usize::from(resident),
                        usize::from(!in_country),
                    );
                    self.stock[i] += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Direction::{Arrival as A, Departure as D};
    use super::*;

    fn run(initial: bool, history: &[(Day, Direction)]) -> Vec<bool> {
        classify(history, initial)
            .into_iter()
            .map(|(_, m)| m)
            .collect()
    }

    #[test]
    fn threshold_is_365_days_in_the_new_state() {
        // Arrives, stays exactly 365 days: a migration; 364: not.
        assert_eq!(
            run(false, &[(0, A), (365, D), (400, A)]),
            vec![true, false, false]
        );
        // …and their departure for good is then an emigration.
        assert_eq!(run(false, &[(0, A), (365, D)]), vec![true, true]);
        assert_eq!(run(false, &[(0, A), (364, D)]), vec![false, false]);
    }

    #[test]
    fn at_most_122_days_on_the_other_side() {
        // Out 122 days within the window still allows a migration…
        assert_eq!(
            run(false, &[(0, A), (100, D), (222, A)]),
            vec![true, false, false]
        );
        // …123 days does not.
        assert_eq!(
            run(false, &[(0, A), (100, D), (223, A)]),
            vec![false, false, true]
        );
    }

    #[test]
    fn same_day_out_and_back_adds_nothing() {
        assert_eq!(
            run(false, &[(0, A), (200, D), (200, A)]),
            vec![true, false, false]
        );
    }

    #[test]
    fn only_status_changing_crossings_are_tested() {
        // A resident's arrival is never a migration.
        assert_eq!(run(true, &[(0, D), (10, A)]), vec![false, false]);
        // A resident who leaves for good migrates; their later visit back is
        // a non-resident's arrival, tested on its own.
        assert_eq!(
            run(true, &[(0, D), (600, A), (620, D)]),
            vec![true, false, false]
        );
    }

    #[test]
    fn migration_flips_status() {
        let got = classify(&[(0, A), (400, D), (1000, A)], false);
        assert_eq!(got, vec![(false, true), (true, true), (false, true)]);
    }

    /// The rule counted the slow way: day by day, each day in the state
    /// left by the last crossing on or before it.
    fn day_by_day(history: &[(Day, Direction)], initially_resident: bool) -> Vec<bool> {
        let mut resident = initially_resident;
        let mut out = Vec::new();
        for (i, &(day, direction)) in history.iter().enumerate() {
            let tested = matches!(
                (resident, direction),
                (false, Direction::Arrival) | (true, Direction::Departure)
            );
            let mut migration = false;
            if tested {
                let (mut new, mut old) = (0, 0);
                for t in day..day + WINDOW_DAYS {
                    let last = history[i..]
                        .iter()
                        .take_while(|c| c.0 <= t)
                        .last()
                        .map_or(direction, |c| c.1);
                    if last == direction {
                        new += 1
                    } else {
                        old += 1
                    }
                    if new >= THRESHOLD_DAYS {
                        migration = true;
                        break;
                    }
                    if old > WINDOW_DAYS - THRESHOLD_DAYS {
                        break;
                    }
                }
            }
            out.push(migration);
            if migration {
                resident = !resident;
            }
        }
        out
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn spell_counting_matches_day_counting(
            gaps in prop::collection::vec(0i32..500, 1..12),
            initially_resident in any::<bool>(),
        ) {
            // Alternating directions, as a complete history has.
            let mut day = 0;
            let first = if initially_resident { Direction::Departure } else { Direction::Arrival };
            let history: Vec<(Day, Direction)> = gaps.iter().enumerate().map(|(i, g)| {
                day += g;
                let dir = if i % 2 == 0 { first } else if first == Direction::Arrival { Direction::Departure } else { Direction::Arrival };
                (day, dir)
            }).collect();
            let fast: Vec<bool> = classify(&history, initially_resident).into_iter().map(|c| c.1).collect();
            prop_assert_eq!(fast, day_by_day(&history, initially_resident));
        }
    }
}
