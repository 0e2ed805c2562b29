//! The per-person pass: sort, repair, classify, and walk month ends.

use crate::HashMap;
use std::ops::Range;

use corridor_model::age::AgeGrouping;
use rayon::prelude::*;

use crate::events::{Dict, Event, Events, NONE};
use crate::provisional::{
    Estimate, Features, TRAINING_BURN_IN_DAYS, TRAINING_MONTHS, Total, Training,
};
use crate::repair::{self, Flag, Repairs, counted};
use crate::residence::{Classified, Known, Outcome, Rule, classify, status_at_start};

/// Events sorted and repaired, with each person-country history's range.
#[derive(Debug)]
pub struct Prepared {
    pub events: Vec<Event>,
    pub dict: Dict,
    pub groups: Vec<Range<usize>>,
    /// First and last day of the data, per reporting country.
    pub period: HashMap<u16, (i32, i32)>,
    /// Person keys that were not 32 hex digits.
    pub odd_keys: usize,
    /// Records that could not be placed in a history (see [`Events::unusable`]).
    pub unusable: usize,
}

/// Sorts events into histories and repairs each; `known` statuses order a
/// history's first same-day crossings (see [`repair`]).
pub fn prepare(mut all: Events, repeat_minutes: i32, known: &KnownStatus) -> Prepared {
    let events = &mut all.events;
    events.par_sort_unstable_by_key(Event::sort_key);
    let mut period: HashMap<u16, (i32, i32)> = HashMap::default();
    for e in events.iter() {
        let p = period.entry(e.country).or_insert((e.day, e.day));
        p.0 = p.0.min(e.day);
        p.1 = p.1.max(e.day);
    }
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..=events.len() {
        if i == events.len()
            || events[i].person != events[start].person
            || events[i].country != events[start].country
        {
            if i > start {
                groups.push(start..i);
            }
            start = i;
        }
    }
    // Split the slice into each person's disjoint piece (all their
    // countries) to repair in parallel, with the other borders as witnesses.
    let mut pieces: Vec<&mut [Event]> = Vec::new();
    let mut rest: &mut [Event] = events.as_mut_slice();
    while !rest.is_empty() {
        let person = rest[0].person;
        let n = rest.iter().take_while(|e| e.person == person).count();
        let (piece, tail) = rest.split_at_mut(n);
        pieces.push(piece);
        rest = tail;
    }
    pieces.into_par_iter().for_each(|person| {
        let seen: Vec<(u16, i32, bool)> =
            person.iter().map(|e| (e.country, e.day, e.entry)).collect();
        let confirmed = |e: &Event, day: i32| {
            e.counterpart != NONE
                && seen.iter().any(|&(c, d, entry)| {
                    c == e.counterpart && entry != e.entry && (d - day).abs() <= 1
                })
        };
        let mut rest: &mut [Event] = person;
        while !rest.is_empty() {
            let country = rest[0].country;
            let n = rest.iter().take_while(|e| e.country == country).count();
            let (g, tail) = rest.split_at_mut(n);
            let rules = Repairs {
                repeat_minutes,
                period: period
                    .get(&country)
                    .copied()
                    .unwrap_or((i32::MIN, i32::MAX)),
            };
            let status = known.get(&(g[0].person, country)).copied();
            repair::repair_with(g, rules, status, &confirmed);
            rest = tail;
        }
    });
    Prepared {
        events: all.events,
        dict: all.dict,
        groups,
        period,
        odd_keys: all.odd_keys,
        unusable: all.unusable,
    }
}

/// Supplied residence statuses with their dates, by person and country (a
/// population register, or an earlier run's result).
pub type KnownStatus = HashMap<(u128, u16), Known>;

/// One history, classified: the counted crossings' positions in the group
/// and their classification.
pub struct History {
    pub counted: Vec<usize>,
    pub days: Vec<(i32, bool)>,
    pub classes: Vec<Classified>,
    pub initially_resident: bool,
}

pub fn classify_group(group: &[Event], known: &KnownStatus, through: i32, rule: Rule) -> History {
    let counted: Vec<usize> = (0..group.len())
        .filter(|&i| counted(&group[i]) && group[i].day <= through)
        .collect();
    let days: Vec<(i32, bool)> = counted
        .iter()
        .map(|&i| (group[i].day, group[i].entry))
        .collect();
    let known = known.get(&(group[0].person, group[0].country)).copied();
    let initially_resident = days.first().is_some_and(|&d| status_at_start(d, known));
    let classes = classify(&days, known, through, rule);
    History {
        counted,
        days,
        classes,
        initially_resident,
    }
}

/// The day the data for `country` are observed through.
pub fn through(prepared: &Prepared, country: u16, as_of: Option<i32>) -> i32 {
    as_of.unwrap_or_else(|| prepared.period.get(&country).map_or(0, |p| p.1))
}

/// Learns the provisional model from every finalised crossing of the
/// `TRAINING_MONTHS` before the open ones, less the first
/// `TRAINING_BURN_IN_DAYS` of each country's data.
pub fn train(prepared: &Prepared, known: &KnownStatus, as_of: Option<i32>, rule: Rule) -> Training {
    let mut training = prepared
        .groups
        .par_iter()
        .fold(Training::default, |mut t, g| {
            let group = &prepared.events[g.clone()];
            let through = through(prepared, group[0].country, as_of);
            let h = classify_group(group, known, through, rule);
            let oldest = through + 1 - rule.window_days - TRAINING_MONTHS * 30;
            // Not the data's first months: the status before those
            // crossings is the initial guess, not an observation.
            let burn_in = prepared
                .period
                .get(&group[0].country)
                .map_or(i32::MIN, |p| p.0 + TRAINING_BURN_IN_DAYS);
            let oldest = oldest.max(burn_in);
            // The recent half of the training months, for measuring drift.
            let recent_from = (oldest + through + 1 - rule.window_days) / 2;
            for (k, c) in h.classes.iter().enumerate() {
                let day = h.days[k].0;
                let closed = day + rule.window_days <= through + 1;
                if closed && day >= oldest && !c.after_provisional {
                    let migration = match c.outcome {
                        Outcome::Migration => true,
                        Outcome::NotMigration => false,
                        _ => continue,
                    };
                    let recent = day >= recent_from;
                    t.add(&h.days, k, &group[h.counted[k]], migration, recent, rule);
                }
            }
            t
        })
        .reduce(Training::default, |mut a, b| {
            a.merge(b);
            a
        });
    let span = prepared
        .period
        .values()
        .map(|&(first, last)| {
            let through = as_of.unwrap_or(last);
            let newest = through + 1 - rule.window_days;
            newest - (newest - TRAINING_MONTHS * 30).max(first + TRAINING_BURN_IN_DAYS)
        })
        .max()
        .unwrap_or(0);
    training.finish(span, rule.window_days);
    training
}

/// Month number (year × 12 + month − 1) of a day.
pub fn month_of(day: i32) -> i32 {
    let (y, m, _) = crate::civil(day);
    y * 12 + m as i32 - 1
}

/// Last day of a month number.
pub fn month_end(month: i32) -> i32 {
    let next = month + 1;
    crate::day_of_civil(next.div_euclid(12), next.rem_euclid(12) as u32 + 1, 1) - 1
}

/// `YYYY-MM`.
pub fn month_label(month: i32) -> MonthLabel {
    let (y, m) = (month.div_euclid(12), month.rem_euclid(12) + 1);
    if !(0..=9999).contains(&y) {
        let mut label = MonthLabel([b'0'; 7]);
        label.0[4] = b'-';
        return label;
    }
    let digit = |n: i32| b'0' + n as u8;
    MonthLabel([
        digit(y / 1000),
        digit(y / 100 % 10),
        digit(y / 10 % 10),
        digit(y % 10),
        b'-',
        digit(m / 10),
        digit(m % 10),
    ])
}

/// `YYYY-MM` without an allocation: one is written for every crossing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthLabel([u8; 7]);

impl std::ops::Deref for MonthLabel {
    type Target = str;
    fn deref(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("0000-00")
    }
}

impl std::fmt::Display for MonthLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

/// A cell of the month-end stock: a month and what else defines the cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StockCell {
    pub key: StockKey,
    pub month: i32,
}

/// Stocks are listed by country, then month, then the rest.
impl Ord for StockCell {
    fn cmp(&self, other: &StockCell) -> std::cmp::Ordering {
        (self.key.country, self.month, self.key).cmp(&(other.key.country, other.month, other.key))
    }
}

impl PartialOrd for StockCell {
    fn partial_cmp(&self, other: &StockCell) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Persons in a stock cell and the sum of their record keys' top 32 bits
/// (the cell key of the cell-key method).
#[derive(Debug, Clone, Copy, Default)]
pub struct StockCount {
    pub persons: u64,
    pub key_sum: u64,
}

/// A provisional total's key: country, month of crossing, arrival?
pub type TotalKey = (u16, i32, bool);

/// The `p` a crossing contributes to migration counts, given the estimate
/// of an open one.
pub fn migration_p(c: &Classified, est: Option<&Estimate>) -> f64 {
    match c.outcome {
        Outcome::Migration => 1.0,
        Outcome::NotMigration | Outcome::NotTested => 0.0,
        Outcome::Provisional => est.map_or(0.5, |e| e.p),
    }
}

/// The model's estimate for each open crossing of a history (`None` for
/// the others), computed once for the crossings dataset and the totals.
pub fn estimates(
    group: &[Event],
    h: &History,
    training: &Training,
    through: i32,
) -> Vec<Option<Estimate>> {
    h.classes
        .iter()
        .enumerate()
        .map(|(k, c)| {
            (c.outcome == Outcome::Provisional).then(|| {
                let e = &group[h.counted[k]];
                training.estimate(Features::of(e, &c.walk, through + 1 - h.days[k].0))
            })
        })
        .collect()
}

/// Adds one history's crossings to provisional totals.
pub fn add_totals(
    totals: &mut HashMap<TotalKey, Total>,
    group: &[Event],
    h: &History,
    estimates: &[Option<Estimate>],
) {
    for (k, c) in h.classes.iter().enumerate() {
        let e = &group[h.counted[k]];
        if c.outcome == Outcome::NotTested {
            continue;
        }
        let total = totals
            .entry((e.country, month_of(e.day), e.entry))
            .or_default();
        match &estimates[k] {
            Some(est) => total.add_open(est),
            None => total.add_final(c.outcome == Outcome::Migration),
        }
    }
}

/// The broad age group (IAEG-SDG, from the `age_group` code list) of an
/// age, as its index in [`AgeGrouping::Broad`]'s codes; `u8::MAX` when
/// the age is unknown.
pub fn broad_age_index(age: i32) -> u8 {
    AgeGrouping::Broad.index_of(age).unwrap_or(u8::MAX)
}

/// Age on `day`: from the date of birth where known, else from the age at
/// `e` plus the whole years since.
pub fn age_at(e: &Event, day: i32) -> i32 {
    if e.birth != i32::MIN {
        return corridor_model::calendar::age_on_days(e.birth, day).unwrap_or(-1);
    }
    if e.age >= 0 {
        return e.age as i32 + (day - e.day).max(0) / 365;
    }
    -1
}

/// A stock cell without its month: what stays the same while a person's
/// state does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StockKey {
    pub country: u16,
    pub citizenship: u16,
    pub sex: u16,
    /// Index into the broad age groups; `u8::MAX` unknown.
    pub age_group: u8,
    pub resident: bool,
    pub present: bool,
    pub visa: u16,
    pub overstaying: bool,
}

impl StockKey {
    /// The cell of a person at month end `end`, in the state after `last`
    /// (`crossed`: after it; otherwise before the first crossing, `last`
    /// being that crossing).
    fn of(last: &Event, present: bool, resident: bool, crossed: bool, end: i32) -> StockKey {
        let overstaying = present
            && !resident
            && crossed
            && last.entry
            && last.permitted >= 0
            && end - last.day > last.permitted;
        StockKey {
            country: last.country,
            citizenship: last.citizenship,
            sex: last.sex,
            age_group: broad_age_index(age_at(last, end)),
            resident,
            present,
            visa: if present && crossed { last.visa } else { NONE },
            overstaying,
        }
    }
}

/// Month-end stocks, built from runs: a person who stays in one cell from
/// month `a` to month `b` adds one run (a +1 at `a` and a −1 after `b`
/// in the cell's difference array), not `b − a + 1` counts. A history
/// walks its months once and touches the map once per change of cell.
#[derive(Debug, Default)]
pub struct Stocks {
    cells: HashMap<StockKey, Runs>,
}

/// One cell's changes by month: persons and record-key sums (wrapping, so
/// that a removal undoes an addition exactly).
#[derive(Debug, Default)]
struct Runs {
    first: i32,
    deltas: Vec<(i64, u64)>,
}

impl Runs {
    fn at(&mut self, month: i32) -> &mut (i64, u64) {
        if self.deltas.is_empty() {
            self.first = month;
        }
        if month < self.first {
            let missing = (self.first - month) as usize;
            self.deltas
                .splice(0..0, std::iter::repeat_n((0, 0), missing));
            self.first = month;
        }
        let i = (month - self.first) as usize;
        if i >= self.deltas.len() {
            self.deltas.resize(i + 1, (0, 0));
        }
        &mut self.deltas[i]
    }

    fn add(&mut self, from: i32, to: i32, persons: i64, key: u64) {
        let a = self.at(from);
        a.0 += persons;
        a.1 = a.1.wrapping_add(key);
        let b = self.at(to + 1);
        b.0 -= persons;
        b.1 = b.1.wrapping_sub(key);
    }
}

impl Stocks {
    /// One person in `key` at the ends of months `from..=to`.
    pub fn add_run(&mut self, key: StockKey, from: i32, to: i32, cell_key: u64) {
        self.cells
            .entry(key)
            .or_default()
            .add(from, to, 1, cell_key);
    }

    pub fn merge(&mut self, other: Stocks) {
        for (key, runs) in other.cells {
            let mine = self.cells.entry(key).or_default();
            for (i, &(persons, sum)) in runs.deltas.iter().enumerate() {
                if persons != 0 || sum != 0 {
                    let m = runs.first + i as i32;
                    let d = mine.at(m);
                    d.0 += persons;
                    d.1 = d.1.wrapping_add(sum);
                }
            }
        }
    }

    /// Every cell and month with at least one person, in cell order.
    pub fn cells(&self) -> Vec<(StockCell, StockCount)> {
        let mut out = Vec::new();
        for (key, runs) in &self.cells {
            let (mut persons, mut key_sum) = (0i64, 0u64);
            for (i, &(p, k)) in runs.deltas.iter().enumerate() {
                persons += p;
                key_sum = key_sum.wrapping_add(k);
                if persons > 0 {
                    let count = StockCount {
                        persons: persons as u64,
                        key_sum,
                    };
                    let month = runs.first + i as i32;
                    out.push((StockCell { key: *key, month }, count));
                }
            }
        }
        out.sort_unstable_by_key(|(cell, _)| *cell);
        out
    }
}

/// Walks one history's month ends, adding persons to the stock: for each
/// stretch between two crossings, the months whose end falls in it, in
/// runs of one cell (age group and overstaying can change within a
/// stretch).
pub fn add_stocks(stocks: &mut Stocks, group: &[Event], h: &History, first_day: i32, through: i32) {
    let Some(&first) = h.counted.first() else {
        return;
    };
    let mut first_month = month_of(first_day);
    if month_end(first_month) < first_day {
        first_month += 1;
    }
    let mut last_month = month_of(through);
    if month_end(last_month) > through {
        last_month -= 1;
    }
    let n = h.counted.len();
    // Stretch k: month ends after exactly k crossings.
    for k in 0..=n {
        let from = if k == 0 {
            first_month
        } else {
            month_of(h.days[k - 1].0).max(first_month)
        };
        let to = if k == n {
            last_month
        } else {
            (month_of(h.days[k].0) - 1).min(last_month)
        };
        if from > to {
            continue;
        }
        // State after crossing k−1, or before the first.
        let (present, resident, last) = if k == 0 {
            (!group[first].entry, h.initially_resident, &group[first])
        } else {
            let c = &h.classes[k - 1];
            let e = &group[h.counted[k - 1]];
            let migrated = c.outcome == Outcome::Migration;
            (e.entry, c.resident_before != migrated, e)
        };
        if !(present || resident) {
            continue;
        }
        let cell_key = last.record_key >> 32;
        let key_at = |month: i32| StockKey::of(last, present, resident, k > 0, month_end(month));
        // Age group and overstaying only ever move one way, so a stretch
        // that ends in the cell it starts in stays in it throughout.
        let first_key = key_at(from);
        if from == to || key_at(to) == first_key {
            stocks.add_run(first_key, from, to, cell_key);
            continue;
        }
        let mut run: Option<(StockKey, i32)> = None;
        for month in from..=to {
            let key = key_at(month);
            match run {
                Some((same, _)) if same == key => {}
                Some((before, start)) => {
                    stocks.add_run(before, start, month - 1, cell_key);
                    run = Some((key, month));
                }
                None => run = Some((key, month)),
            }
        }
        if let Some((key, start)) = run {
            stocks.add_run(key, start, to, cell_key);
        }
    }
}

/// Counts of each repair flag.
pub fn repair_counts(events: &[Event]) -> HashMap<&'static str, u64> {
    let mut out: HashMap<&'static str, u64> = Flag::ALL.iter().map(|f| (f.code(), 0)).collect();
    for e in events {
        for f in Flag::ALL {
            if f.is_set(e.flags) {
                *out.entry(f.code()).or_default() += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repair::{Repairs, repair};
    use proptest::prelude::*;

    fn ev(person: u128, day: i32, entry: bool, key: u64) -> Event {
        Event {
            record_key: key << 32,
            age: 30,
            ..Event::bare(person, day, ((key * 37) % 1440) as i16, entry, key)
        }
    }

    /// The month-by-month walk that `add_stocks` replaced: one count per
    /// person and month end. Kept as the oracle of the runs.
    fn stocks_by_month(
        stocks: &mut HashMap<StockCell, StockCount>,
        group: &[Event],
        h: &History,
        first_day: i32,
        through: i32,
    ) {
        let Some(&first) = h.counted.first() else {
            return;
        };
        let mut month = month_of(first_day);
        if month_end(month) < first_day {
            month += 1;
        }
        let mut k = 0;
        loop {
            let end = month_end(month);
            if end > through {
                break;
            }
            while k < h.counted.len() && h.days[k].0 <= end {
                k += 1;
            }
            let (present, resident, last) = if k == 0 {
                (!group[first].entry, h.initially_resident, &group[first])
            } else {
                let c = &h.classes[k - 1];
                let e = &group[h.counted[k - 1]];
                (
                    e.entry,
                    c.resident_before != (c.outcome == Outcome::Migration),
                    e,
                )
            };
            if present || resident {
                let key = StockKey::of(last, present, resident, k > 0, end);
                let cell = StockCell { key, month };
                let c = stocks.entry(cell).or_default();
                c.persons += 1;
                c.key_sum += last.record_key >> 32;
            }
            month += 1;
        }
    }

    proptest! {
        /// Month numbers, labels and ends agree with chrono, and so do ages
        /// (29 February birthdays included); the calendar itself is
        /// checked in `corridor_model::calendar`.
        #[test]
        fn months_and_ages_agree_with_chrono(day in -80_000i32..80_000, birth in -80_000i32..80_000) {
            use chrono::Datelike;
            let d = crate::date_of(day).unwrap();
            prop_assert_eq!(month_of(day), d.year() * 12 + d.month0() as i32);
            prop_assert_eq!(month_label(month_of(day)).to_string(), d.format("%Y-%m").to_string());
            let end = month_end(month_of(day));
            let next = crate::date_of(end + 1).unwrap();
            prop_assert!(next.day() == 1 && crate::date_of(end).unwrap().month() == d.month());
            let e = Event { birth, ..Event::bare(1, day, 0, true, 1) };
            let expected = corridor_model::age::age_on(crate::date_of(birth).unwrap(), d).unwrap_or(-1);
            prop_assert_eq!(age_at(&e, day), expected);
        }

        /// Month-end stocks follow the flows: present(M) − present(M−1) =
        /// counted entries − counted exits in M, less the repeated
        /// directions that change nothing; nobody is counted twice.
        #[test]
        fn stocks_follow_flows_and_count_each_person_once(
            people in prop::collection::vec(prop::collection::vec((0i32..120, any::<bool>()), 1..8), 1..6),
        ) {
            let start = crate::day_of_civil(2023, 1, 1);
            let through = crate::day_of_civil(2025, 12, 31);
            let mut runs = Stocks::default();
            let mut by_month = HashMap::default();
            let mut flows: HashMap<i32, i64> = HashMap::default();
            let mut key = 0;
            for (p, steps) in people.iter().enumerate() {
                let mut day = start;
                let mut g: Vec<Event> = steps.iter().map(|&(gap, entry)| {
                    day += gap;
                    key += 1;
                    ev(p as u128, day, entry, key)
                }).collect();
                g.sort_by_key(Event::sort_key);
                repair(&mut g, Repairs { repeat_minutes: 120, period: (start, through) });
                let h = classify_group(&g, &KnownStatus::default(), through, Rule::default());
                prop_assert_eq!(h.counted.len(), g.iter().filter(|e| counted(e)).count());
                // Births, permitted stays and people who start abroad, so
                // that runs break on age groups and overstaying.
                for (i, e) in g.iter_mut().enumerate() {
                    e.birth = start - 365 * 14 - 30 * (p as i32 + i as i32);
                    e.permitted = 20 + 30 * (i as i32 % 3);
                }
                // Half of the people, split in two slices, merged.
                let mut part = Stocks::default();
                add_stocks(if p % 2 == 0 { &mut runs } else { &mut part }, &g, &h, start, through);
                runs.merge(part);
                stocks_by_month(&mut by_month, &g, &h, start, through);
                for &i in &h.counted {
                    let e = &g[i];
                    let change = if e.entry {
                        i64::from(!Flag::MissingExit.is_set(e.flags))
                    } else {
                        -i64::from(!Flag::MissingEntry.is_set(e.flags))
                    };
                    *flows.entry(month_of(e.day)).or_default() += change;
                }
            }
            let stocks = runs.cells();
            let mut expected: Vec<(StockCell, StockCount)> = by_month.into_iter().collect();
            expected.sort_unstable_by_key(|(cell, _)| *cell);
            prop_assert_eq!(
                stocks.iter().map(|(c, n)| (*c, n.persons, n.key_sum)).collect::<Vec<_>>(),
                expected.iter().map(|(c, n)| (*c, n.persons, n.key_sum)).collect::<Vec<_>>()
            );
            let present = |m: i32| -> i64 {
                stocks.iter().filter(|(k, _)| k.month == m && k.key.present).map(|(_, v)| v.persons as i64).sum()
            };
            let first = month_of(start);
            let last = month_of(through);
            for m in first..=last {
                let total: u64 = stocks.iter().filter(|(k, _)| k.month == m).map(|(_, v)| v.persons).sum();
                prop_assert!(total as usize <= people.len(), "month {} counts {} of {} persons", m, total, people.len());
                if m > first {
                    prop_assert_eq!(present(m) - present(m - 1), flows.get(&m).copied().unwrap_or(0), "month {}", m);
                }
            }
        }
    }
}
