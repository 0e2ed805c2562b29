//! Long-term migration by the 12/16-month rule, counted exactly as `migrbc`
//! v2.0.9 counts on complete histories (../shared/METHODS.md §1), with one
//! difference Corridor states: a window that runs past the end of the data
//! is not assumed to be spent in the same state. A crossing whose outcome is
//! already decided by the data's last day is final; the others are
//! provisional and get a modelled probability (see `provisional`).

use serde::Serialize;

/// The rule's two parameters, in whole days (no months, no leap years).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Days in the new state that make a migration (365 for 12 months).
    pub threshold_days: i32,
    /// Length of the window that starts on the crossing day (487 for 16 months).
    pub window_days: i32,
}

impl Rule {
    /// The rule as given, if it can be applied: a positive threshold that
    /// fits in its window. Why not: the message says, with two rules that
    /// statistics offices use.
    pub fn check(self) -> Result<Rule, String> {
        if self.threshold_days <= 0 || self.window_days < self.threshold_days {
            return Err(format!(
                "the rule needs 0 < threshold ({}) ≤ window ({}); e.g. 365 of 487 days, or 274 of 365 for 9 out of 12 months",
                self.threshold_days, self.window_days
            ));
        }
        Ok(self)
    }
}

impl Default for Rule {
    fn default() -> Rule {
        Rule {
            threshold_days: 365,
            window_days: 487,
        }
    }
}

impl Rule {
    /// Most days the person may spend in the old state and still migrate.
    pub fn slack_days(self) -> i32 {
        self.window_days - self.threshold_days
    }
}

/// What the rule says about one crossing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A crossing that cannot change residence (a resident's arrival, a
    /// non-resident's departure).
    NotTested,
    Migration,
    NotMigration,
    /// Tested, but the data end before the outcome is decided.
    Provisional,
}

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Outcome::NotTested => "not_tested",
            Outcome::Migration => "migration",
            Outcome::NotMigration => "not_migration",
            Outcome::Provisional => "provisional",
        }
    }
}

/// One crossing, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified {
    /// Statistical residence before the crossing. After a provisional
    /// crossing this assumes the status quo (no migration yet).
    pub resident_before: bool,
    pub outcome: Outcome,
    /// A provisional crossing came earlier in the person's history, so the
    /// status before this one is itself uncertain.
    pub after_provisional: bool,
    /// Where the walk stood at the data's end (provisional crossings only):
    /// days spent so far in the new and in the old state, and whether the
    /// person was in the new state on the last day.
    pub walk: Walk,
}

/// The state of one crossing's window walk when it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Walk {
    pub days_new: i32,
    pub days_old: i32,
    pub in_new_state: bool,
    /// `Some(true)`: migration; `Some(false)`: not; `None`: undecided.
    pub decided: Option<bool>,
}

/// Walks the window of crossing `i` (day, entry?) through the person's
/// later crossings, up to and excluding day `stop` (the first unobserved
/// day, or the window's end if earlier).
pub fn walk(history: &[(i32, bool)], i: usize, stop: i32, rule: Rule) -> Walk {
    let (day, entry) = history[i];
    let window_end = day + rule.window_days;
    let stop = stop.min(window_end);
    let mut w = Walk {
        in_new_state: true,
        ..Walk::default()
    };
    let mut since = day;
    let mut j = i + 1;
    loop {
        let next = history.get(j).map(|c| c.0);
        let until = next.map_or(stop, |d| d.min(stop)).max(since);
        if w.in_new_state {
            w.days_new += until - since;
        } else {
            w.days_old += until - since;
        }
        if w.days_new >= rule.threshold_days {
            w.decided = Some(true);
            return w;
        }
        if w.days_old > rule.slack_days() {
            w.decided = Some(false);
            return w;
        }
        if until >= stop {
            if stop >= window_end {
                w.decided = Some(false);
            }
            return w;
        }
        // Same direction as the tested crossing: back in the new state.
        w.in_new_state = history[j].1 == entry;
        since = until;
        j += 1;
    }
}

/// A residence status supplied from outside the border data (a population
/// register, an earlier run's result), as `migrbc` takes one: the status
/// and the day it was finalised on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub resident: bool,
    /// Day number of the status date.
    pub day: i32,
}

/// The status before a history's first crossing `(day, is entry)`, as
/// `migrbc` decides it: a known status dated on or before that day, else
/// the opposite of the crossing's direction (a first arrival is a
/// non-resident's).
pub fn status_at_start(first: (i32, bool), known: Option<Known>) -> bool {
    match known {
        Some(k) if k.day <= first.0 => k.resident,
        _ => initial_status(first.1),
    }
}

/// Classifies a person's crossings of one country's border, in order.
/// `history` holds (day, is entry); `observed_through` is the last day the
/// data cover (inclusive). On a complete, well-formed history observed
/// long enough this is `migrbc`'s answer; a broken one (two entries in a
/// row) is walked as it stands: the state holds until the next recorded
/// crossing changes it.
///
/// `known` is a supplied status. It sets the status at the start only if
/// dated on or before the first crossing ([`status_at_start`]); like
/// `migrbc`, it is also taken again as the status before any crossing whose
/// predecessor's status was finalised on the status date (an earlier run's
/// result continues where that run finalised it).
pub fn classify(
    history: &[(i32, bool)],
    known: Option<Known>,
    observed_through: i32,
    rule: Rule,
) -> Vec<Classified> {
    let Some(&first) = history.first() else {
        return Vec::new();
    };
    let mut resident = status_at_start(first, known);
    let mut after_provisional = false;
    // The day the status after the previous crossing was finalised
    // (`migrbc`'s date_finalised_res_after); `None` while undecided.
    let mut finalised: Option<i32> = None;
    let mut out = Vec::with_capacity(history.len());
    for (i, &(day, entry)) in history.iter().enumerate() {
        if let (Some(k), Some(f)) = (known, finalised)
            && f == k.day
        {
            resident = k.resident;
        }
        // Like `migrbc`, a status is finalised no earlier than the one
        // before it.
        let before = if i == 0 {
            Some(day)
        } else {
            finalised.map(|f| f.max(day))
        };
        let tested = resident != entry;
        let mut c = Classified {
            resident_before: resident,
            outcome: Outcome::NotTested,
            after_provisional,
            walk: Walk::default(),
        };
        let mut decided_on = Some(day);
        if tested {
            let w = walk(history, i, observed_through + 1, rule);
            c.walk = w;
            c.outcome = match w.decided {
                _ if after_provisional => Outcome::Provisional,
                Some(true) => Outcome::Migration,
                Some(false) => Outcome::NotMigration,
                None => Outcome::Provisional,
            };
            // `migrbc`'s dates: the day the threshold is reached, after the
            // days already spent in the old state; or the day the old state
            // passes the slack, after the days already spent in the new.
            decided_on = match c.outcome {
                Outcome::Migration => Some(day + rule.threshold_days + w.days_old),
                Outcome::NotMigration => Some(day + rule.slack_days() + w.days_new),
                _ => None,
            };
            match c.outcome {
                Outcome::Migration => resident = !resident,
                Outcome::Provisional => after_provisional = true,
                _ => {}
            }
        }
        finalised = if after_provisional {
            None
        } else {
            decided_on.map(|d| before.map_or(d, |b| d.max(b)))
        };
        out.push(c);
    }
    out
}

/// `migrbc`'s assumption where the initial status is not known: the
/// opposite of the first crossing's direction.
pub fn initial_status(first_is_entry: bool) -> bool {
    !first_is_entry
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: bool = true;
    const D: bool = false;
    const FAR: i32 = 100_000;

    /// A status known since before any crossing: it holds at the start and
    /// is never taken again.
    fn since_ever(resident: bool) -> Option<Known> {
        Some(Known {
            resident,
            day: i32::MIN,
        })
    }

    fn run(initial: bool, history: &[(i32, bool)]) -> Vec<Outcome> {
        classify(history, since_ever(initial), FAR, Rule::default())
            .into_iter()
            .map(|c| c.outcome)
            .collect()
    }

    use Outcome::*;

    #[test]
    fn threshold_and_slack_are_exact() {
        assert_eq!(run(false, &[(0, A), (365, D)]), vec![Migration, Migration]);
        assert_eq!(
            run(false, &[(0, A), (364, D)]),
            vec![NotMigration, NotTested]
        );
        // A resident's departure is tested too: back after 122 days, it is
        // no emigration.
        assert_eq!(
            run(false, &[(0, A), (100, D), (222, A)]),
            vec![Migration, NotMigration, NotTested]
        );
        assert_eq!(
            run(false, &[(0, A), (100, D), (223, A)]),
            vec![NotMigration, NotTested, Migration]
        );
        assert_eq!(
            run(false, &[(0, A), (200, D), (200, A)]),
            vec![Migration, NotMigration, NotTested]
        );
    }

    #[test]
    fn the_end_of_the_data_makes_undecided_crossings_provisional() {
        // 200 days observed in the new state, none in the old: undecided.
        let got = classify(&[(0, A)], since_ever(false), 199, Rule::default());
        assert_eq!(got[0].outcome, Provisional);
        assert_eq!(got[0].walk.days_new, 200);
        // Already 365 days in: final even though the window runs on.
        let got = classify(&[(0, A)], since_ever(false), 364, Rule::default());
        assert_eq!(got[0].outcome, Migration);
        // Already 123 days out: final non-migration.
        let got = classify(&[(0, A), (10, D)], since_ever(false), 132, Rule::default());
        assert_eq!(got[0].outcome, NotMigration);
        let got = classify(&[(0, A), (10, D)], since_ever(false), 131, Rule::default());
        assert_eq!(got[0].outcome, Provisional);
        // Later crossings inherit the uncertainty.
        let got = classify(
            &[(0, A), (10, D), (20, A)],
            since_ever(false),
            100,
            Rule::default(),
        );
        assert!(got[2].after_provisional);
    }

    #[test]
    fn a_status_dated_after_the_first_crossing_is_not_used_at_the_start() {
        let non_resident_on = |day| {
            Some(Known {
                resident: false,
                day,
            })
        };
        // Known as a non-resident from day 50; the first crossing, a
        // departure on day 10, comes before: `migrbc`'s guess holds there.
        let got = classify(
            &[(10, D), (400, A)],
            non_resident_on(50),
            FAR,
            Rule::default(),
        );
        assert!(got[0].resident_before);
        assert_eq!(got[0].outcome, Migration);
        // Dated on the day of the first crossing, it is used.
        let got = classify(
            &[(10, D), (400, A)],
            non_resident_on(10),
            FAR,
            Rule::default(),
        );
        assert!(!got[0].resident_before);
        assert_eq!(got[0].outcome, NotTested);
    }

    #[test]
    fn a_status_is_taken_again_where_a_status_was_finalised_on_its_date() {
        // Out on day 0 (assumed resident: the status is dated later), back
        // on day 100: no emigration, decided on day 0 + 122 + 100 = 222.
        let history = [(0, D), (100, A)];
        let known = |day| {
            Some(Known {
                resident: false,
                day,
            })
        };
        let got = classify(&history, known(222), FAR, Rule::default());
        assert!(got[0].resident_before);
        assert_eq!(got[0].outcome, NotMigration);
        // The supplied non-resident status is the status before the return,
        // as `migrbc` takes it: the return is tested, and a migration.
        assert!(!got[1].resident_before);
        assert_eq!(got[1].outcome, Migration);
        // Dated on any other day, it is not taken again.
        for day in [221, 223] {
            let got = classify(&history, known(day), FAR, Rule::default());
            assert!(got[1].resident_before, "dated {day}");
            assert_eq!(got[1].outcome, NotTested, "dated {day}");
        }
        // A migration is finalised the day the threshold is reached, after
        // the days spent in the old state: arrival on day 0, out for 10 days
        // from day 20: 0 + 365 + 10 = 375.
        let history = [(0, A), (20, D), (30, A), (600, D)];
        let resident = Some(Known {
            resident: true,
            day: 375,
        });
        let got = classify(&history, resident, FAR, Rule::default());
        assert_eq!(got[0].outcome, Migration);
        // Resident already after the migration: taken again, no change.
        assert!(got[1].resident_before);
        let non_resident = Some(Known {
            resident: false,
            day: 375,
        });
        let got = classify(&history, non_resident, FAR, Rule::default());
        assert!(!got[1].resident_before, "taken again after day 375");
    }

    /// docs/indicators.md: `--as-of R − 1` counts what `migrbc` run on date
    /// R counts for a single crossing (`R − D >= 365` is a migration).
    #[test]
    fn as_of_is_the_reference_run_date_less_one_day() {
        let migrbc = |run: i32, day: i32| run - day >= Rule::default().threshold_days;
        for run in [365, 366, 400] {
            for day in [0, 1, 2, 36] {
                let got = classify(&[(day, A)], None, run - 1, Rule::default());
                assert_eq!(
                    got[0].outcome == Migration,
                    migrbc(run, day),
                    "run {run}, day {day}"
                );
            }
        }
    }

    #[test]
    fn repeated_directions_hold_the_state() {
        // Two entries without an exit: present throughout.
        assert_eq!(
            run(false, &[(0, A), (100, A), (400, D)]),
            vec![Migration, NotTested, Migration]
        );
    }

    /// The rule counted the slow way, day by day; only for complete
    /// histories observed through `through`.
    fn day_by_day(history: &[(i32, bool)], initial: bool, through: i32) -> Vec<Outcome> {
        let rule = Rule::default();
        let mut resident = initial;
        let mut out = Vec::new();
        let mut provisional_seen = false;
        for (i, &(day, dir)) in history.iter().enumerate() {
            if resident == dir {
                out.push(NotTested);
                continue;
            }
            let (mut new, mut old) = (0, 0);
            let mut outcome = NotMigration;
            for t in day..day + rule.window_days {
                if t > through {
                    outcome = Provisional;
                    break;
                }
                let last = history[i..]
                    .iter()
                    .take_while(|c| c.0 <= t)
                    .last()
                    .map_or(dir, |c| c.1);
                if last == dir {
                    new += 1
                } else {
                    old += 1
                }
                if new >= rule.threshold_days {
                    outcome = Migration;
                    break;
                }
                if old > rule.slack_days() {
                    break;
                }
            }
            if provisional_seen {
                outcome = Provisional;
            }
            match outcome {
                Migration => resident = !resident,
                Provisional => provisional_seen = true,
                _ => {}
            }
            out.push(outcome);
        }
        out
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn spell_walk_matches_day_counting(
            steps in prop::collection::vec((0i32..500, any::<bool>()), 1..10),
            initial in any::<bool>(),
            through in 0i32..3000,
        ) {
            let mut day = 0;
            let history: Vec<(i32, bool)> = steps.iter().map(|&(g, d)| { day += g; (day, d) }).collect();
            let through = through.max(day);
            let fast: Vec<Outcome> = classify(&history, since_ever(initial), through, Rule::default()).into_iter().map(|c| c.outcome).collect();
            prop_assert_eq!(fast, day_by_day(&history, initial, through));
        }
    }
}
