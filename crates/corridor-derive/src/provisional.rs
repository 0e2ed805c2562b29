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
//! country). Each probability has a Beta posterior widened by the measured
//! drift of shares over time ([`Training::finish`]); totals carry the
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
/// first weeks; trained on them, the model over-estimated migrations.
/// Ninety days did best on the demo's back-test among the spans tried; a
/// year leaves too little to learn from, and leaving out every person's
/// first crossing instead over-corrected (bench/RESULTS.md has the figures).
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
    /// Per cell: finalised crossings and migrations among them, in all and
    /// in the more recent half of the training months.
    cells: HashMap<(u8, Features), Counts>,
    pub crossings: u64,
    /// Per back-off level, the variance of a cell's share from one half of
    /// the training months to the other beyond what sampling explains
    /// (see [`Training::finish`]).
    drift: [f64; LEVELS as usize],
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    n: u32,
    m: u32,
    recent_n: u32,
    recent_m: u32,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.n += o.n;
        self.m += o.m;
        self.recent_n += o.recent_n;
        self.recent_m += o.recent_m;
    }
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
        recent: bool,
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
            // The finest cell only: `finish` rolls the coarser levels up,
            // once per cell instead of once per crossing and month.
            let c = self
                .cells
                .entry((0, Features::of(e, &w, elapsed)))
                .or_default();
            c.add(Counts {
                n: 1,
                m: u32::from(migration),
                recent_n: u32::from(recent),
                recent_m: u32::from(recent && migration),
            });
        }
    }

    pub fn merge(&mut self, other: Training) {
        self.crossings += other.crossings;
        for (k, o) in other.cells {
            self.cells.entry(k).or_default().add(o);
        }
    }

    /// Adds every finest cell's counts to its coarser cells (levels 1 to
    /// `LEVELS` − 1), which `add` leaves out; they are derived afresh each
    /// time.
    fn roll_up(&mut self) {
        self.cells.retain(|(level, _), _| *level == 0);
        let finest: Vec<(Features, Counts)> = self
            .cells
            .iter()
            .filter(|((level, _), _)| *level == 0)
            .map(|(&(_, f), &c)| (f, c))
            .collect();
        for (f, c) in finest {
            for level in 1..LEVELS {
                self.cells.entry((level, f.at(level))).or_default().add(c);
            }
        }
    }

    /// Measures drift once all crossings are in: for every cell with
    /// [`MIN_CASES`] crossings in each half of the training months, how far
    /// its share moved from the older half to the recent one, less the
    /// sampling variance of both shares. The mean over a level's cells is
    /// the variance of the model's error that time alone brings, which the
    /// Beta posterior of a share cannot know; each estimate carries it, so a
    /// total's interval widens with the number of open crossings sharing a
    /// cell.
    /// Call after the last `add` or `merge`.
    pub fn finish(&mut self, span_days: i32, window_days: i32) {
        self.roll_up();
        let mut sums = [(0.0f64, 0u32); LEVELS as usize];
        for (&(level, _), c) in &self.cells {
            let (old_n, old_m) = (c.n - c.recent_n, c.m - c.recent_m);
            if old_n < MIN_CASES || c.recent_n < MIN_CASES {
                continue;
            }
            let share = |m: u32, n: u32| (m as f64 + 0.5) / (n as f64 + 1.0);
            let (p_old, p_new) = (share(old_m, old_n), share(c.recent_m, c.recent_n));
            let sampling =
                p_old * (1.0 - p_old) / old_n as f64 + p_new * (1.0 - p_new) / c.recent_n as f64;
            let s = &mut sums[level as usize];
            s.0 += (p_new - p_old).powi(2) - sampling;
            s.1 += 1;
        }
        // The halves' middles lie half the span apart; an open crossing lies
        // about a window plus half the span after the training's middle.
        // Drift that accumulates like a random walk grows with that
        // distance.
        let half = (span_days as f64 / 2.0).max(30.0);
        let reach = (window_days as f64 + half) / half;
        for (d, (sum, n)) in self.drift.iter_mut().zip(sums) {
            *d = if n > 0 {
                reach * (sum / n as f64).max(0.0)
            } else {
                0.0
            };
        }
    }

    /// The probability that a crossing with these features turns out a
    /// migration. Where nothing comparable was ever finalised: ½, with the
    /// widest uncertainty.
    pub fn estimate(&self, f: Features) -> Estimate {
        let mut fallback = None;
        for level in 0..LEVELS {
            let key = (level, f.at(level));
            if let Some(c) = self.cells.get(&key) {
                let mut est = beta(c.n, c.m, key);
                est.p_variance += self.drift[level as usize];
                let n = c.n;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn features(citizenship: u16) -> Features {
        Features {
            country: 0,
            entry: true,
            citizenship,
            purpose: NONE,
            visa: NONE,
            age_band: 2,
            elapsed_months: 3,
            in_new_state: true,
            old_band: 0,
        }
    }

    /// A training table whose cells have `old` and `new` migration shares
    /// among 400 crossings in each half.
    fn table(shares: &[(f64, f64)]) -> Training {
        let mut t = Training::default();
        for (i, &(old, new)) in shares.iter().enumerate() {
            let c = Counts {
                n: 800,
                m: (400.0 * old) as u32 + (400.0 * new) as u32,
                recent_n: 400,
                recent_m: (400.0 * new) as u32,
            };
            t.cells.insert((0, features(i as u16)), c);
        }
        t
    }

    /// A traveller unlike any finest cell is estimated from the coarser
    /// cell that adds the finest ones up, however often `finish` runs.
    #[test]
    fn coarser_cells_add_up_the_finest_once() {
        let mut t = table(&[(0.25, 0.25), (0.5, 0.5), (0.75, 0.75)]);
        t.finish(540, 487);
        let once = t.estimate(features(99));
        t.finish(540, 487);
        let twice = t.estimate(features(99));
        assert_eq!(once, twice);
        assert_eq!(once.cell.0, 2, "citizenship dropped");
        // 1,200 migrations among 2,400 crossings, Jeffreys prior.
        assert!((once.p - 1200.5 / 2401.0).abs() < 1e-12, "{}", once.p);
        let c = t.cells[&once.cell];
        assert_eq!((c.n, c.m, c.recent_n), (2400, 1200, 1200));
    }

    /// Shares that stay put give no drift; shares that move give drift,
    /// and it widens estimates without moving them.
    #[test]
    fn drift_is_what_sampling_does_not_explain() {
        let mut stable = table(&[(0.2, 0.2), (0.5, 0.5), (0.3, 0.3)]);
        stable.finish(540, 487);
        assert_eq!(stable.drift[0], 0.0);
        let mut moving = table(&[(0.2, 0.4), (0.5, 0.3), (0.3, 0.5)]);
        moving.finish(540, 487);
        let per_half = 0.04 - 2.0 * 0.4 * 0.6 / 400.0;
        let reach = (487.0 + 270.0) / 270.0;
        assert!(
            (moving.drift[0] - reach * per_half).abs() < 0.01,
            "{}",
            moving.drift[0]
        );
        let (a, b) = (stable.estimate(features(0)), moving.estimate(features(0)));
        assert!((b.p - 0.3).abs() < 0.01, "{}", b.p);
        assert!(b.p_variance > a.p_variance + 0.05);
    }
}
