//! Repairs of a person's broken crossing sequence, by stated rules.
//!
//! A well-formed history alternates entry, exit, entry… Border data break
//! that in known ways. Each rule below fixes one of them and sets a flag on
//! the record; no record is dropped (a repeat stays in the crossings
//! dataset, marked not counted) and no crossing is invented.
//!
//! 1. **Same-day order.** Crossings on the same day without a recorded time
//!    are put in the order that alternates with the crossing before them
//!    (an exit and a re-entry on one day are an out-and-back, whatever
//!    order the export lists them in).
//! 2. **Repeated crossing** (`repeated_crossing`): the same direction
//!    recorded twice within `repeat_minutes` (or twice on one day when
//!    either has no time) is one crossing keyed in twice; the later record
//!    is not counted.
//! 3. **Swapped day and month** (`swapped_day_month`): a date whose day is
//!    12 or less can be read the other way round. Where reading it so
//!    removes at least two breaks in the sequence (a misplaced crossing
//!    breaks it where it left and where it landed; one unrecorded crossing
//!    breaks it only once) — or one break where the country at the other
//!    end of the journey recorded the crossing on the other reading — and
//!    that reading lies inside the data's period, it is read so. A date the
//!    other side confirms is never moved. A swap that leaves the order
//!    intact cannot be seen and is not guessed at.
//! 4. What remains is flagged, not guessed: an entry after an entry
//!    (`missing_exit`: the person left unrecorded) or an exit after an exit
//!    (`missing_entry`). The state then holds until the next recorded
//!    crossing changes it: a stay with a missing exit lasts until the next
//!    entry, as the stock counts the person present.

use chrono::{Datelike, NaiveDate};

use crate::events::Event;

/// Repair flags, a bit set on [`Event::flags`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    Reordered = 1,
    RepeatedCrossing = 2,
    SwappedDayMonth = 4,
    MissingExit = 8,
    MissingEntry = 16,
}

impl Flag {
    pub const ALL: [Flag; 5] = [
        Flag::Reordered,
        Flag::RepeatedCrossing,
        Flag::SwappedDayMonth,
        Flag::MissingExit,
        Flag::MissingEntry,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Flag::Reordered => "same_day_reordered",
            Flag::RepeatedCrossing => "repeated_crossing",
            Flag::SwappedDayMonth => "swapped_day_month",
            Flag::MissingExit => "missing_exit",
            Flag::MissingEntry => "missing_entry",
        }
    }

    pub fn is_set(self, flags: u8) -> bool {
        flags & self as u8 != 0
    }

    /// The flags' codes, joined by `|` (made once for each of the 256
    /// combinations: they are written for every crossing).
    pub fn codes(flags: u8) -> &'static str {
        static CODES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
            (0..=u8::MAX)
                .map(|flags| {
                    Flag::ALL
                        .iter()
                        .filter(|f| f.is_set(flags))
                        .map(|f| f.code())
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect()
        });
        CODES[flags as usize].as_str()
    }
}

/// Settings of the repair rules.
#[derive(Debug, Clone, Copy)]
pub struct Repairs {
    /// Two records of the same direction this close are one crossing.
    pub repeat_minutes: i32,
    /// First and last day of the period the data cover: a swapped reading
    /// must fall inside it.
    pub period: (i32, i32),
}

/// Whether an event counts as a crossing (a repeat does not).
pub fn counted(e: &Event) -> bool {
    !Flag::RepeatedCrossing.is_set(e.flags)
}

/// Repairs one person's crossings of one country's border, sorted by
/// [`Event::sort_key`]. Events may be reordered; days may change (rule 3).
pub fn repair(group: &mut [Event], rules: Repairs) {
    repair_with(group, rules, &|_, _| false);
}

/// [`repair`], with the other side of the border as a witness:
/// `confirmed(e, day)` says whether the country at the other end of `e`'s
/// journey recorded the matching crossing on `day` (± 1 day). A date the
/// other side confirms is never moved; a reading it confirms is preferred.
pub fn repair_with(group: &mut [Event], rules: Repairs, confirmed: &dyn Fn(&Event, i32) -> bool) {
    order_same_day(group);
    mark_repeats(group, rules.repeat_minutes);
    swap_dates(group, rules, confirmed);
    for e in group.iter_mut() {
        e.flags &= !(Flag::MissingExit as u8 | Flag::MissingEntry as u8);
    }
    let mut prev: Option<bool> = None;
    for e in group.iter_mut().filter(|e| counted(e)) {
        if prev == Some(e.entry) {
            e.flags |= if e.entry {
                Flag::MissingExit as u8
            } else {
                Flag::MissingEntry as u8
            };
        }
        prev = Some(e.entry);
    }
}

/// Re-sorts after a date changed; stable, so same-day order (rule 1) holds.
fn sort(group: &mut [Event]) {
    group.sort_by_key(|e| (e.day, e.minute));
}

/// Rule 1: untimed same-day crossings alternate with what came before.
fn order_same_day(group: &mut [Event]) {
    let mut i = 0;
    while i < group.len() {
        let mut j = i + 1;
        while j < group.len() && group[j].day == group[i].day {
            j += 1;
        }
        let run = &mut group[i..j];
        if run.len() > 1 && run.iter().all(|e| e.minute < 0) {
            let before = if i > 0 {
                Some(group_prev_direction(&group[..i]))
            } else {
                None
            };
            let run = &mut group[i..j];
            let entries = run.iter().filter(|e| e.entry).count();
            let exits = run.len() - entries;
            // Start with the direction opposite to the previous crossing;
            // with nothing before, with the more frequent one.
            let mut next_entry = match before {
                Some(prev_entry) => !prev_entry,
                None => entries >= exits,
            };
            let mut ordered: Vec<Event> = Vec::with_capacity(run.len());
            let (mut ins, mut outs): (Vec<Event>, Vec<Event>) = run.iter().partition(|e| e.entry);
            ins.reverse();
            outs.reverse();
            while !ins.is_empty() || !outs.is_empty() {
                let pick = if next_entry { &mut ins } else { &mut outs };
                let e = match pick.pop() {
                    Some(e) => e,
                    None => {
                        let other = if next_entry { &mut outs } else { &mut ins };
                        match other.pop() {
                            Some(e) => e,
                            None => break,
                        }
                    }
                };
                next_entry = !e.entry;
                ordered.push(e);
            }
            let changed = ordered
                .iter()
                .zip(run.iter())
                .any(|(a, b)| a.record_key != b.record_key);
            if changed {
                for e in ordered.iter_mut() {
                    e.flags |= Flag::Reordered as u8;
                }
                run.copy_from_slice(&ordered);
            }
        }
        i = j;
    }
}

fn group_prev_direction(before: &[Event]) -> bool {
    before.last().is_some_and(|e| e.entry)
}

/// Rule 2: the same direction twice within minutes is one crossing.
fn mark_repeats(group: &mut [Event], repeat_minutes: i32) {
    let mut last: Option<usize> = None;
    for i in 0..group.len() {
        if let Some(p) = last {
            let (a, b) = (&group[p], &group[i]);
            let same = a.entry == b.entry
                && if a.minute >= 0 && b.minute >= 0 {
                    let ta = a.day as i64 * 1440 + a.minute as i64;
                    let tb = b.day as i64 * 1440 + b.minute as i64;
                    (tb - ta).abs() <= repeat_minutes as i64
                } else {
                    a.day == b.day
                };
            if same {
                group[i].flags |= Flag::RepeatedCrossing as u8;
                continue;
            }
        }
        last = Some(i);
    }
}

/// Number of adjacent counted crossings with the same direction.
fn breaks(group: &[Event]) -> usize {
    let mut prev: Option<bool> = None;
    let mut n = 0;
    for e in group.iter().filter(|e| counted(e)) {
        if prev == Some(e.entry) {
            n += 1;
        }
        prev = Some(e.entry);
    }
    n
}

/// The date read with day and month swapped, if that is another valid date.
pub fn swapped(day: i32) -> Option<i32> {
    let date = crate::date_of(day)?;
    if date.day() > 12 || date.day() == date.month() {
        return None;
    }
    NaiveDate::from_ymd_opt(date.year(), date.day(), date.month()).map(crate::day_of)
}

/// Rule 3: read a date the other way round where that mends the sequence.
fn swap_dates(group: &mut [Event], rules: Repairs, confirmed: &dyn Fn(&Event, i32) -> bool) {
    let mut current = breaks(group);
    // Each accepted swap removes at least one break: this ends.
    while current > 0 {
        // (index, other reading, breaks after, the other side confirms it)
        let mut best: Option<(usize, i32, usize, bool)> = None;
        for i in 0..group.len() {
            let e = &group[i];
            if !counted(e) || Flag::SwappedDayMonth.is_set(e.flags) {
                continue;
            }
            let Some(alt) = swapped(e.day) else { continue };
            if alt < rules.period.0 || alt > rules.period.1 || confirmed(e, e.day) {
                continue;
            }
            let witnessed = confirmed(e, alt);
            let mut trial = group.to_vec();
            trial[i].day = alt;
            sort(&mut trial);
            let b = breaks(&trial);
            // A misplaced crossing breaks the sequence twice (where it left
            // and where it landed); a gap from one unrecorded crossing
            // breaks it once and must not be "mended" by moving another
            // date, unless the other side of the border saw the crossing on
            // the other reading.
            let enough = b + 2 <= current || (b < current && witnessed);
            let better = best.is_none_or(|(_, _, bb, bw)| (b, !witnessed) < (bb, !bw));
            if enough && better {
                best = Some((i, alt, b, witnessed));
            }
        }
        let Some((i, alt, b, _)) = best else { break };
        group[i].day = alt;
        group[i].flags |= Flag::SwappedDayMonth as u8;
        sort(group);
        current = b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(day: i32, minute: i16, entry: bool, key: u64) -> Event {
        Event::bare(1, day, minute, entry, key)
    }

    fn rules() -> Repairs {
        Repairs {
            repeat_minutes: 120,
            period: (0, 100_000),
        }
    }

    fn day(y: i32, m: u32, d: u32) -> i32 {
        crate::day_of(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    #[test]
    fn a_crossing_keyed_twice_counts_once() {
        let mut g = vec![
            ev(10, 600, true, 1),
            ev(10, 603, true, 2),
            ev(20, 0, false, 3),
        ];
        repair(&mut g, rules());
        assert_eq!(g.iter().filter(|e| counted(e)).count(), 2);
        assert!(Flag::RepeatedCrossing.is_set(g[1].flags));
        assert_eq!(g.iter().filter(|e| e.flags != 0).count(), 1);
    }

    #[test]
    fn a_swapped_date_is_read_the_other_way_when_it_mends_the_sequence() {
        // Entry 10 January, exit 4 March, entry 20 March, exit 1 June; the
        // exit of 4 March was written as 3 April.
        let mut g = vec![
            ev(day(2024, 1, 10), 0, true, 1),
            ev(day(2024, 3, 20), 0, true, 3),
            ev(day(2024, 4, 3), 0, false, 2),
            ev(day(2024, 6, 1), 0, false, 4),
        ];
        repair(&mut g, rules());
        assert_eq!(g[1].day, day(2024, 3, 4));
        assert!(Flag::SwappedDayMonth.is_set(g[1].flags));
        assert_eq!(breaks(&g), 0);
        assert!(g.iter().all(|e| !Flag::MissingExit.is_set(e.flags)));
    }

    #[test]
    fn one_break_is_a_gap_unless_the_other_side_saw_the_other_date() {
        // Exit 20 March, entry 3 April (or 4 March?), entry 1 July.
        let g0 = vec![
            ev(day(2024, 3, 20), 0, false, 2),
            ev(day(2024, 4, 3), 0, true, 1),
            ev(day(2024, 7, 1), 0, true, 3),
        ];
        let mut g = g0.clone();
        repair(&mut g, rules());
        assert!(g.iter().all(|e| !Flag::SwappedDayMonth.is_set(e.flags)));
        assert!(Flag::MissingExit.is_set(g[2].flags));
        // The neighbouring country recorded the departure on 4 March.
        let mut g = g0;
        let witness = |e: &Event, d: i32| e.entry && d == day(2024, 3, 4);
        repair_with(&mut g, rules(), &witness);
        assert_eq!(g[0].day, day(2024, 3, 4));
        assert!(Flag::SwappedDayMonth.is_set(g[0].flags));
        assert_eq!(breaks(&g), 0);
    }

    #[test]
    fn what_cannot_be_mended_is_flagged_not_guessed() {
        let mut g = vec![ev(100, 0, true, 1), ev(200, 0, true, 2)];
        repair(&mut g, rules());
        assert!(Flag::MissingExit.is_set(g[1].flags));
        assert_eq!(g.iter().filter(|e| counted(e)).count(), 2);
    }

    #[test]
    fn untimed_same_day_crossings_alternate() {
        // Arrived earlier; the export lists the re-entry before the exit.
        let mut g = vec![
            ev(5, -1, true, 1),
            ev(50, -1, true, 9),
            ev(50, -1, false, 10),
        ];
        repair(&mut g, rules());
        assert!(!g[1].entry && g[2].entry);
        assert_eq!(breaks(&g), 0);
    }

    use proptest::prelude::*;

    proptest! {
        /// Repairs keep every record and never add one; counted crossings
        /// never increase.
        #[test]
        fn repairs_never_invent_or_lose_a_record(
            steps in prop::collection::vec((0i32..400, -1i16..1440, any::<bool>()), 0..12),
        ) {
            let mut d = day(2022, 1, 1);
            let mut g: Vec<Event> = steps.iter().enumerate().map(|(k, &(gap, m, entry))| {
                d += gap;
                ev(d, m, entry, k as u64)
            }).collect();
            sort(&mut g);
            let before: Vec<u64> = { let mut k: Vec<u64> = g.iter().map(|e| e.record_key).collect(); k.sort(); k };
            let breaks_before = breaks(&g);
            repair(&mut g, rules());
            let mut after: Vec<u64> = g.iter().map(|e| e.record_key).collect();
            after.sort();
            prop_assert_eq!(before, after);
            prop_assert!(breaks(&g) <= breaks_before);
            // The result is in reading order.
            prop_assert!(g.windows(2).all(|w| w[0].day <= w[1].day));
        }
    }
}
