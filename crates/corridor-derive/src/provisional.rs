//! The provisional model: how likely an open crossing is to turn out a
//! long-term migration, learnt from crossings whose outcome is final.
//!
//! Stats NZ classifies open crossings with a model trained on recent
//! finalised months (METHODS.md §1). Corridor's model is a transparent
//! one: the share of migrations among finalised crossings of *similar
//! travellers at the same point of their window*. "Similar" is the
//! reporting country, direction, citizenship, travel purpose, visa type and
//! age group; "the same point" is how many whole months of the window have
//! passed, whether the person is in the new state at that point and how
//! many days they have already spent in the old one. Where a cell has fewer
//! than [`MIN_CASES`] finalised crossings the model backs off to coarser
//! cells (dropping visa and purpose, then citizenship, then age, then
//! country). Each probability has a Beta posterior; totals carry the
//! variance of the Bernoulli outcomes plus that of the estimated shares, so
//! their 95 % intervals cover both the luck of individual travellers and the
//! model's own uncertainty.

use crate::HashMap;

use crate::events::{Event, NONE};
use crate::residence::{Rule, Walk, walk};

/// Smallest number of finalised crossings a cell needs to be used.
pub const MIN_CASES: u32 = 30;

/// Months of finalised crossings the model learns from.
pub const TRAINING_MONTHS: i32 = 36;

/// Days at the start of each country's data that the model does not learn
/// from. The residence status before a person's first recorded crossing is
/// migrbc's initial guess, and most first crossings fall in the data's
/// first weeks; trained on them, the model over-estimated migrations. On
/// the 20,000-person demo's back-test (6 cut-offs, 337 figures) leaving
/// out 30, 60, 90, 120 or 180 days moved interval coverage from 81.6 % to
/// 84.9, 84.9, 85.2, 84.0 and 83.7 %, and the mean signed revision from
/// −9.0 % to about −5.5 %; a year (81.0 %) leaves too little to learn from.
/// Leaving out every person's first crossing instead over-corrected
/// (+11.7 %).
pub const TRAINING_BURN_IN_DAYS: i32 = 90;

/// What the model knows about one open crossing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Features {
    pub country: u16,
    pub entry: bool,
    pub citizenship: u16,
    pub purpose: u16,
    pub visa: u16,
    pub age_band: u8,
    /// Whole months (30 days) of the window that have passed.
    pub elapsed_months: u8,
    pub in_new_state: bool,
    /// Days in the old state so far, in bands of 30.
    pub old_band: u8,
}

impl Features {
    pub fn of(e: &Event, w: &Walk, elapsed_days: i32) -> Features {
        Features {
            country: e.country,
            entry: e.entry,
            citizenship: e.citizenship,
            purpose: e.purpose,
            visa: e.visa,
            age_band: age_band(e.age),
            elapsed_months: (elapsed_days / 30).clamp(0, 255) as u8,
            in_new_state: w.in_new_state,
            old_band: (w.days_old / 30).clamp(0, 255) as u8,
        }
    }

    /// The features kept at back-off `level` (0: all).
    fn at(self, level: u8) -> Features {
        let mut f = self;
        if level >= 1 {
            f.visa = NONE;
            f.purpose = NONE;
        }
        if level >= 2 {
            f.citizenship = NONE;
        }
        if level >= 3 {
            f.age_band = u8::MAX;
        }
        if level >= 4 {
            f.country = NONE;
        }
        f
    }
}

const LEVELS: u8 = 5;

fn age_band(age: i16) -> u8 {
    match age {
        ..0 => u8::MAX - 1,
        0..15 => 0,
        15..25 => 1,
        25..45 => 2,
        45..65 => 3,
        _ => 4,
    }
}

/// Finalised crossings and their outcomes, by cell at every level.
#[derive(Debug, Default, Clone)]
pub struct Training {
    cells: HashMap<(u8, Features), (u32, u32)>,
    pub crossings: u64,
}

/// A probability with the cell it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub p: f64,
    /// Variance of `p` itself (Beta posterior).
    pub p_variance: f64,
    /// The cell, for the variance of totals (crossings sharing a cell share
    /// its estimation error).
    pub cell: (u8, Features),
}

impl Training {
    /// Learns from one finalised, tested crossing `i` of `history`: its
    /// state at every whole month of its window (while still undecided)
    /// and its outcome.
    pub fn add(
        &mut self,
        history: &[(i32, bool)],
        i: usize,
        e: &Event,
        migration: bool,
        rule: Rule,
    ) {
        self.crossings += 1;
        let day = history[i].0;
        for m in 0..=(rule.window_days / 30) {
            let elapsed = m * 30 + 15;
            if elapsed >= rule.window_days {
                break;
            }
            let w = walk(history, i, day + elapsed, rule);
            if w.decided.is_some() {
                break;
            }
            let f = Features::of(e, &w, elapsed);
            for level in 0..LEVELS {
                let c = self.cells.entry((level, f.at(level))).or_default();
                c.0 += 1;
                c.1 += u32::from(migration);
            }
        }
    }

    pub fn merge(&mut self, other: Training) {
        self.crossings += other.crossings;
        for (k, (n, m)) in other.cells {
            let c = self.cells.entry(k).or_default();
            c.0 += n;
            c.1 += m;
        }
    }

    /// The probability that a crossing with these features turns out a
    /// migration. Where nothing comparable was ever finalised: ½, with the
    /// widest uncertainty.
    pub fn estimate(&self, f: Features) -> Estimate {
        let mut fallback = None;
        for level in 0..LEVELS {
            let key = (level, f.at(level));
            if let Some(&(n, m)) = self.cells.get(&key) {
                let est = beta(n, m, key);
                if n >= MIN_CASES {
                    return est;
                }
                fallback.get_or_insert(est);
            }
        }
        fallback.unwrap_or(Estimate {
            p: 0.5,
            p_variance: 0.25,
            cell: (u8::MAX, f),
        })
    }

    pub fn cells(&self) -> usize {
        self.cells.len()
    }
}

/// Posterior mean and variance with a Jeffreys prior, Beta(½, ½).
fn beta(n: u32, m: u32, cell: (u8, Features)) -> Estimate {
    let a = m as f64 + 0.5;
    let b = (n - m) as f64 + 0.5;
    let p = a / (a + b);
    Estimate {
        p,
        p_variance: a * b / ((a + b).powi(2) * (a + b + 1.0)),
        cell,
    }
}

/// A provisional total: expected migrations among open crossings with its
/// 95 % interval.
#[derive(Debug, Default, Clone)]
pub struct Total {
    /// Crossings whose outcome is final and a migration.
    pub final_migrations: u64,
    /// Open crossings.
    pub open: u64,
    /// Sum of their probabilities.
    pub expected: f64,
    bernoulli_variance: f64,
    by_cell: HashMap<(u8, Features), (u64, f64)>,
}

impl Total {
    pub fn add_final(&mut self, migration: bool) {
        self.final_migrations += u64::from(migration);
    }

    pub fn add_open(&mut self, est: &Estimate) {
        self.open += 1;
        self.expected += est.p;
        self.bernoulli_variance += est.p * (1.0 - est.p);
        let c = self.by_cell.entry(est.cell).or_insert((0, est.p_variance));
        c.0 += 1;
    }

    pub fn merge(&mut self, other: &Total) {
        self.final_migrations += other.final_migrations;
        self.open += other.open;
        self.expected += other.expected;
        self.bernoulli_variance += other.bernoulli_variance;
        for (k, (n, v)) in &other.by_cell {
            let c = self.by_cell.entry(*k).or_insert((0, *v));
            c.0 += n;
        }
    }

    pub fn estimate(&self) -> f64 {
        self.final_migrations as f64 + self.expected
    }

    /// Standard error of the estimate.
    pub fn standard_error(&self) -> f64 {
        let model: f64 = self
            .by_cell
            .values()
            .map(|&(n, v)| (n as f64).powi(2) * v)
            .sum();
        (self.bernoulli_variance + model).sqrt()
    }

    /// 95 % interval, never below the final count.
    pub fn interval(&self) -> (f64, f64) {
        let se = self.standard_error();
        let est = self.estimate();
        (
            (est - 1.96 * se).max(self.final_migrations as f64),
            (est + 1.96 * se).min((self.final_migrations + self.open) as f64),
        )
    }
}
