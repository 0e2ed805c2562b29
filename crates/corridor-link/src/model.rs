//! Fellegi–Sunter: each comparison of a pair falls into an agreement level;
//! m = P(level | match), u = P(level | non-match), both estimated by EM
//! without labels; the match weight is Σ log2(m/u) and the match
//! probability follows from the prior λ and the weight. A missing value on
//! either side says nothing (its level is skipped).

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::bloom::{FieldValue, dice, dice_words, is_missing};
use crate::pool::Pool;
use crate::schema::{CompareMethod, FieldKind, LinkageSchema};

/// A level that says nothing: a value missing on one side.
pub const MISSING: u8 = u8::MAX;

/// One comparison of the model and its levels, best first.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub name: String,
    pub levels: Vec<&'static str>,
}

/// What is compared, given the pool and the schema.
#[derive(Debug, Clone)]
pub struct Comparator {
    pub comparisons: Vec<Comparison>,
    kinds: Vec<FieldKind>,
    plaintext: bool,
    /// Encoded path: whether the record-level filter is a comparison.
    record_filter: bool,
    /// The schema field each comparison is of (`None` for the record-level
    /// filter and the compared attributes).
    field_of: Vec<Option<usize>>,
}

/// Dice levels. Balanced filters share about half their bits by chance,
/// so unrelated records sit near 0.5–0.75 and the levels are fine above.
const DICE_LEVELS: [f64; 6] = [0.95, 0.9, 0.85, 0.8, 0.75, 0.7];

impl Comparator {
    pub fn new(schema: &LinkageSchema, pool: &Pool) -> Comparator {
        let mut comparisons = Vec::new();
        let mut field_of = Vec::new();
        let plaintext = pool.is_plaintext();
        if plaintext {
            for (i, f) in schema.fields.iter().enumerate() {
                field_of.push(Some(i));
                let levels: Vec<&'static str> = match f.kind {
                    FieldKind::Name => vec![
                        "exact",
                        "same words, other order",
                        "jaro_winkler ≥ 0.95",
                        "jaro_winkler ≥ 0.88",
                        "jaro_winkler ≥ 0.75",
                        "else",
                    ],
                    FieldKind::Date => vec![
                        "exact",
                        "day and month swapped",
                        "one digit differs",
                        "two of year, month, day",
                        "else",
                    ],
                    FieldKind::Text => vec!["exact", "levenshtein ≤ 2", "else"],
                    FieldKind::Identifier => vec![
                        "exact",
                        "damerau_levenshtein ≤ 1",
                        "damerau_levenshtein ≤ 2",
                        "else",
                    ],
                    FieldKind::Number => vec![
                        "exact",
                        "one digit mistyped or two swapped",
                        "within 10 %",
                        "else",
                    ],
                };
                comparisons.push(Comparison {
                    name: f.name.clone(),
                    levels,
                });
            }
        } else {
            let dice_levels = vec![
                "≥ 0.95", "≥ 0.9", "≥ 0.85", "≥ 0.8", "≥ 0.75", "≥ 0.7", "< 0.7",
            ];
            // The record-level filter is compared only when some field has
            // no filter of its own (it holds every field, so beside the
            // fields' own filters it would count them twice).
            if pool.field_layout.len() < schema.fields.len() {
                field_of.push(None);
                comparisons.push(Comparison {
                    name: "encoding (dice)".into(),
                    levels: dice_levels.clone(),
                });
            }
            for (f, _) in &pool.field_layout {
                field_of.push(Some(*f));
                comparisons.push(Comparison {
                    name: format!("{} (dice)", schema.fields[*f].name),
                    levels: dice_levels.clone(),
                });
            }
        }
        for c in &pool.compares {
            field_of.push(None);
            comparisons.push(Comparison {
                name: c.column.clone(),
                levels: match c.method {
                    CompareMethod::Exact => vec!["equal", "different"],
                    CompareMethod::Number => vec![
                        "equal",
                        "within tolerance",
                        "within 3× tolerance",
                        "further",
                    ],
                },
            });
        }
        Comparator {
            comparisons,
            kinds: schema.fields.iter().map(|f| f.kind).collect(),
            plaintext,
            record_filter: pool.field_layout.len() < schema.fields.len(),
            field_of,
        }
    }

    /// The schema field comparison `c` compares, if it compares one.
    pub fn field_of(&self, c: usize) -> Option<usize> {
        self.field_of.get(c).copied().flatten()
    }

    /// Per detail comparison that can be blocked on exactly, its index and
    /// each record's key (`None` when the detail is missing): a field's own
    /// filter on the encoded path (equal filters, equal detail), the folded
    /// value on the plaintext path.
    pub fn exact_keys(&self, pool: &Pool) -> Vec<(usize, Vec<Option<u64>>)> {
        use std::hash::{Hash, Hasher};
        let hash = |x: &dyn Fn(&mut rustc_hash::FxHasher)| {
            let mut h = rustc_hash::FxHasher::default();
            x(&mut h);
            h.finish()
        };
        if self.plaintext {
            return (0..self.kinds.len())
                .map(|f| {
                    let keys = pool
                        .plain
                        .iter()
                        .map(|values| match &values[f] {
                            FieldValue::Missing => None,
                            FieldValue::Text(t) => Some(hash(&|h| t.hash(h))),
                            FieldValue::Date(y, m, d) => Some(hash(&|h| (y, m, d).hash(h))),
                        })
                        .collect();
                    (f, keys)
                })
                .collect();
        }
        let first = usize::from(self.record_filter);
        pool.field_layout
            .iter()
            .enumerate()
            .map(|(k, (_, words))| {
                let keys = pool
                    .field_filters
                    .iter()
                    .map(|w| {
                        let w = &w[words.clone()];
                        (!is_missing(w)).then(|| hash(&|h| w.hash(h)))
                    })
                    .collect();
                (first + k, keys)
            })
            .collect()
    }

    /// The comparison vector of a pair, and the Dice similarity of their
    /// encodings (kept for the output).
    pub fn compare(&self, pool: &Pool, i: usize, j: usize) -> (Vec<u8>, f64) {
        let mut levels = Vec::with_capacity(self.comparisons.len());
        self.compare_into(pool, i, j, &mut levels);
        (levels, similarity(pool, i, j))
    }

    /// The comparison vector of a pair into a buffer the caller reuses
    /// (hundreds of millions of pairs make one allocation each count). The
    /// record-level filters are read only when they are a comparison: the
    /// similarity reported per pair ([`similarity`]) is computed for the
    /// pairs kept, and each filter read is a cache miss.
    pub fn compare_into(&self, pool: &Pool, i: usize, j: usize, levels: &mut Vec<u8>) {
        levels.clear();
        if self.plaintext {
            for (f, kind) in self.kinds.iter().enumerate() {
                levels.push(compare_plain(*kind, &pool.plain[i][f], &pool.plain[j][f]));
            }
        } else {
            let level = |d: f64| {
                DICE_LEVELS
                    .iter()
                    .position(|t| d >= *t)
                    .unwrap_or(DICE_LEVELS.len()) as u8
            };
            if self.record_filter {
                levels.push(level(similarity(pool, i, j)));
            }
            let (a, b) = (&pool.field_filters[i], &pool.field_filters[j]);
            for (_, words) in &pool.field_layout {
                let (a, b) = (&a[words.clone()], &b[words.clone()]);
                levels.push(if is_missing(a) || is_missing(b) {
                    MISSING
                } else {
                    level(dice_words(a, b))
                });
            }
        }
        for (c, rule) in pool.compares.iter().enumerate() {
            let (a, b) = (&pool.attributes[i][c], &pool.attributes[j][c]);
            let (Some(a), Some(b)) = (a, b) else {
                levels.push(MISSING);
                continue;
            };
            levels.push(match rule.method {
                CompareMethod::Exact => u8::from(a != b),
                CompareMethod::Number => match (a.parse::<f64>(), b.parse::<f64>()) {
                    (Ok(x), Ok(y)) => {
                        let d = (x - y).abs();
                        if d == 0.0 {
                            0
                        } else if d <= rule.tolerance {
                            1
                        } else if d <= 3.0 * rule.tolerance {
                            2
                        } else {
                            3
                        }
                    }
                    _ => MISSING,
                },
            });
        }
    }
}

/// Dice similarity of two records' record-level filters.
pub fn similarity(pool: &Pool, i: usize, j: usize) -> f64 {
    dice(&pool.encodings[i], &pool.encodings[j])
}

fn compare_plain(kind: FieldKind, a: &FieldValue, b: &FieldValue) -> u8 {
    match (a, b) {
        (FieldValue::Missing, _) | (_, FieldValue::Missing) => MISSING,
        (FieldValue::Date(y1, m1, d1), FieldValue::Date(y2, m2, d2)) => {
            if (y1, m1, d1) == (y2, m2, d2) {
                0
            } else if y1 == y2 && m1 == d2 && d1 == m2 {
                1
            } else if digits_apart((*y1, *m1, *d1), (*y2, *m2, *d2)) == 1 {
                // A typo in one digit: 1987 for 1978 is two, 1988 for 1987 one.
                2
            } else if u8::from(y1 == y2) + u8::from(m1 == m2) + u8::from(d1 == d2) >= 2 {
                3
            } else {
                4
            }
        }
        (FieldValue::Text(x), FieldValue::Text(y)) => {
            // The pool holds folded text (see `Pool::add_plaintext_file`).
            if x == y {
                return 0;
            }
            match kind {
                FieldKind::Name => {
                    // Given and family names swapped, or written in the
                    // other order ("López María").
                    if same_words(x, y) {
                        return 1;
                    }
                    let jw = strsim::jaro_winkler(x, y);
                    if jw >= 0.95 {
                        2
                    } else if jw >= 0.88 {
                        3
                    } else if jw >= 0.75 {
                        4
                    } else {
                        5
                    }
                }
                FieldKind::Number => match (number(x), number(y)) {
                    (Some(a), Some(b)) if a == b => 0,
                    _ if strsim::damerau_levenshtein(x, y) <= 1 => 1,
                    (Some(a), Some(b)) if (a - b).abs() <= 0.1 * a.abs().max(b.abs()) => 2,
                    _ => 3,
                },
                FieldKind::Identifier => match strsim::damerau_levenshtein(x, y) {
                    1 => 1,
                    2 => 2,
                    _ => 3,
                },
                _ => {
                    if strsim::levenshtein(x, y) <= 2 {
                        1
                    } else {
                        2
                    }
                }
            }
        }
        _ => MISSING,
    }
}

/// Digits at which two dates written YYYYMMDD differ (without writing
/// them: this runs for every candidate pair).
/// A folded number ("12", "12_b" for 12B, "1_204" for 1,204): its digits
/// as a number, `None` when it holds none.
fn number(s: &str) -> Option<f64> {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn digits_apart(a: (i32, u32, u32), b: (i32, u32, u32)) -> usize {
    let digits = |(y, m, d): (i32, u32, u32)| {
        let n = u64::from(y.unsigned_abs()) * 10_000 + u64::from(m) * 100 + u64::from(d);
        let mut out = [0u8; 8];
        let mut n = n;
        for slot in out.iter_mut().rev() {
            *slot = (n % 10) as u8;
            n /= 10;
        }
        out
    };
    let (x, y) = (digits(a), digits(b));
    x.iter().zip(&y).filter(|(p, q)| p != q).count()
}

/// Whether two folded texts hold the same words in another order.
fn same_words(x: &str, y: &str) -> bool {
    if x.len() != y.len() || !x.contains('_') {
        return false;
    }
    let mut a: Vec<&str> = x.split('_').filter(|w| !w.is_empty()).collect();
    let mut b: Vec<&str> = y.split('_').filter(|w| !w.is_empty()).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// A model's log2 Bayes factors per comparison and level, and its prior
/// log-odds.
#[derive(Debug, Clone)]
pub struct Scorer {
    weights: Vec<Vec<f64>>,
    prior: f64,
}

impl Scorer {
    pub fn weight(&self, levels: &[u8]) -> f64 {
        levels
            .iter()
            .zip(&self.weights)
            .filter(|(l, _)| **l != MISSING)
            .map(|(l, w)| w[*l as usize])
            .sum()
    }

    /// Match probability of a pair of the given weight.
    pub fn probability(&self, weight: f64) -> f64 {
        1.0 / (1.0 + (-(weight + self.prior)).exp2())
    }
}

/// Term-frequency adjustment, as Splink makes it: when a pair agrees
/// exactly on a detail, the u of its exact level (how often two random
/// records agree on it, averaged over values) is replaced by the agreed
/// value's own frequency. The weight of the exact level then grows for a
/// rare value and shrinks for a common one. Frequencies are counted over
/// the records' exact keys (keyed hashes on the encoded path), so nothing
/// here reveals a value.
pub struct TermFrequencies<'a> {
    adjusted: Vec<Adjusted<'a>>,
}

struct Adjusted<'a> {
    comparison: usize,
    /// log2 of the exact level's average u.
    log_u: f64,
    keys: &'a [Option<u64>],
    counts: rustc_hash::FxHashMap<u64, u32>,
    /// log2 of the number of records with a key.
    log_total: f64,
}

impl<'a> TermFrequencies<'a> {
    /// Adjusts the comparisons among `exact` (from
    /// [`Comparator::exact_keys`]) for which `wanted` holds.
    pub fn new(
        model: &Model,
        exact: &'a [(usize, Vec<Option<u64>>)],
        wanted: impl Fn(usize) -> bool,
    ) -> TermFrequencies<'a> {
        let adjusted = exact
            .iter()
            .filter(|(c, _)| wanted(*c))
            .filter_map(|(c, keys)| {
                let u = *model.u.get(*c)?.first()?;
                let mut counts = rustc_hash::FxHashMap::default();
                let mut total = 0usize;
                for k in keys.iter().flatten() {
                    *counts.entry(*k).or_insert(0u32) += 1;
                    total += 1;
                }
                (total > 0 && u > 0.0).then(|| Adjusted {
                    comparison: *c,
                    log_u: u.log2(),
                    keys,
                    counts,
                    log_total: (total as f64).log2(),
                })
            })
            .collect();
        TermFrequencies { adjusted }
    }

    /// What to add to a pair's weight: per adjusted comparison on which
    /// records `a` and `b` agree exactly, log2(u / frequency of the value).
    pub fn adjustment(&self, levels: &[u8], a: usize, b: usize) -> f64 {
        let mut w = 0.0;
        for t in &self.adjusted {
            if levels.get(t.comparison) != Some(&0) {
                continue;
            }
            if let (Some(Some(x)), Some(Some(y))) = (t.keys.get(a), t.keys.get(b))
                && x == y
            {
                let count = t.counts.get(x).copied().unwrap_or(1).max(1);
                w += t.log_u - ((count as f64).log2() - t.log_total);
            }
        }
        w
    }

    /// The comparisons adjusted.
    pub fn comparisons(&self) -> impl Iterator<Item = usize> + '_ {
        self.adjusted.iter().map(|t| t.comparison)
    }
}

/// Estimated m and u probabilities and the prior, per comparison and level.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    pub comparisons: Vec<Comparison>,
    pub m: Vec<Vec<f64>>,
    pub u: Vec<Vec<f64>>,
    /// Prior probability that a pair is a match: among candidate pairs
    /// (EM on the candidates), or among all pairs (trained in sessions).
    pub lambda: f64,
    pub em_iterations: usize,
    /// The training sessions, when trained the way Splink does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub training: Vec<crate::train::Session>,
}

impl Model {
    /// log2 Bayes factor of a comparison vector.
    pub fn weight(&self, levels: &[u8]) -> f64 {
        levels
            .iter()
            .enumerate()
            .filter(|(_, l)| **l != MISSING)
            .map(|(c, l)| (self.m[c][*l as usize] / self.u[c][*l as usize]).log2())
            .sum()
    }

    /// The per-level weights and the prior, precomputed for scoring many
    /// pairs.
    pub fn scorer(&self) -> Scorer {
        Scorer {
            weights: self
                .m
                .iter()
                .zip(&self.u)
                .map(|(m, u)| m.iter().zip(u).map(|(m, u)| (m / u).log2()).collect())
                .collect(),
            prior: (self.lambda / (1.0 - self.lambda)).log2(),
        }
    }

    /// Posterior probability that the pair is a match.
    pub fn probability(&self, levels: &[u8]) -> f64 {
        let prior = (self.lambda / (1.0 - self.lambda)).log2();
        let w = self.weight(levels) + prior;
        1.0 / (1.0 + (-w).exp2())
    }

    /// EM over the distinct comparison vectors of the candidate pairs
    /// (`patterns` with counts). u starts from `random_u` (levels among
    /// random pairs, nearly all non-matches), m from a guess favouring the
    /// best levels. Used when the schema gives no detail a filter of its
    /// own; otherwise [`crate::train`] trains the model the way Splink does.
    pub fn fit(
        comparisons: Vec<Comparison>,
        patterns: &HashMap<Vec<u8>, u64>,
        random_u: Vec<Vec<f64>>,
    ) -> Model {
        let m = initial_m(&comparisons);
        let (m, u, lambda, em_iterations) = em(patterns, m, random_u, 0.1, None);
        Model {
            comparisons,
            m,
            u,
            lambda,
            em_iterations,
            training: Vec::new(),
        }
    }
}

/// A first guess at m favouring the best levels.
pub fn initial_m(comparisons: &[Comparison]) -> Vec<Vec<f64>> {
    comparisons
        .iter()
        .map(|c| {
            let n = c.levels.len();
            let raw: Vec<f64> = (0..n).map(|l| 0.5f64.powi(l as i32 * 2)).collect();
            let s: f64 = raw.iter().sum();
            raw.iter().map(|x| x / s).collect()
        })
        .collect()
}

/// Expectation–maximisation over comparison patterns with counts. With
/// `blocked_on` given, that comparison (the one the pairs were blocked on,
/// equal in all of them) is left out of the E-step and keeps its m and u.
/// Returns m, u, λ and the iterations run.
pub fn em(
    patterns: &HashMap<Vec<u8>, u64>,
    mut m: Vec<Vec<f64>>,
    mut u: Vec<Vec<f64>>,
    mut lambda: f64,
    blocked_on: Option<usize>,
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>, f64, usize) {
    let total: f64 = patterns.values().map(|c| *c as f64).sum();
    let mut iterations = 0;
    if total == 0.0 {
        return (m, u, lambda, 0);
    }
    const FLOOR: f64 = 1e-6;
    // In one order every run: a hash map's order differs between runs,
    // and so would the sums' rounding, and with it the links.
    let mut ordered: Vec<(&Vec<u8>, &u64)> = patterns.iter().collect();
    ordered.sort_unstable();
    for it in 0..200 {
        iterations = it + 1;
        let model = Model {
            comparisons: Vec::new(),
            m: m.clone(),
            u: u.clone(),
            lambda,
            em_iterations: 0,
            training: Vec::new(),
        };
        let mut m_acc: Vec<Vec<f64>> = m.iter().map(|l| vec![0.0; l.len()]).collect();
        let mut u_acc = m_acc.clone();
        let mut matches = 0.0;
        let mut masked = Vec::new();
        for &(p, count) in &ordered {
            let g = match blocked_on {
                Some(c) => {
                    masked.clear();
                    masked.extend_from_slice(p);
                    masked[c] = MISSING;
                    model.probability(&masked)
                }
                None => model.probability(p),
            } * *count as f64;
            let ng = *count as f64 - g;
            matches += g;
            for (c, l) in p.iter().enumerate() {
                if *l != MISSING {
                    m_acc[c][*l as usize] += g;
                    u_acc[c][*l as usize] += ng;
                }
            }
        }
        let normalise = |acc: &mut Vec<Vec<f64>>| {
            for levels in acc.iter_mut() {
                let s: f64 = levels.iter().sum();
                for x in levels.iter_mut() {
                    *x = if s > 0.0 { (*x / s).max(FLOOR) } else { FLOOR };
                }
            }
        };
        normalise(&mut m_acc);
        normalise(&mut u_acc);
        if let Some(c) = blocked_on {
            m_acc[c] = m[c].clone();
            u_acc[c] = u[c].clone();
        }
        let new_lambda = (matches / total).clamp(1e-6, 1.0 - 1e-6);
        let change = (new_lambda - lambda).abs()
            + m_acc
                .iter()
                .flatten()
                .zip(m.iter().flatten())
                .map(|(a, b)| (a - b).abs())
                .sum::<f64>();
        m = m_acc;
        u = u_acc;
        lambda = new_lambda;
        if change < 1e-6 {
            break;
        }
    }
    (m, u, lambda, iterations)
}

/// Level frequencies among random pairs (almost every random pair is a
/// non-match): u.
pub fn random_pair_levels(pool: &Pool, comparator: &Comparator, samples: usize) -> Vec<Vec<f64>> {
    // One pseudo-count per level (no level is impossible), added once: an
    // identity of the parallel sum below is used as many times as the
    // work is split, which differs from run to run.
    let ones: Vec<Vec<f64>> = comparator
        .comparisons
        .iter()
        .map(|c| vec![1.0; c.levels.len()])
        .collect();
    let zero: Vec<Vec<f64>> = ones.iter().map(|levels| vec![0.0; levels.len()]).collect();
    let n = pool.len();
    let mut counts = ones.clone();
    if n >= 2 {
        let mut rng = ChaCha8Rng::seed_from_u64(0x11AC_0FF5);
        let pairs: Vec<(usize, usize)> = (0..samples)
            .map(|_| (rng.random_range(0..n), rng.random_range(0..n)))
            .filter(|(i, j)| i != j)
            .collect();
        let seen = pairs
            .par_chunks(4096)
            .map(|chunk| {
                let mut counts = zero.clone();
                let mut levels = Vec::new();
                for (i, j) in chunk {
                    comparator.compare_into(pool, *i, *j, &mut levels);
                    for (c, l) in levels.iter().enumerate() {
                        if *l != MISSING {
                            counts[c][*l as usize] += 1.0;
                        }
                    }
                }
                counts
            })
            .reduce(
                || zero.clone(),
                |mut a, b| {
                    for (x, y) in a.iter_mut().flatten().zip(b.iter().flatten()) {
                        *x += y;
                    }
                    a
                },
            );
        for (x, y) in counts.iter_mut().flatten().zip(seen.iter().flatten()) {
            *x += y;
        }
    }
    for levels in counts.iter_mut() {
        let s: f64 = levels.iter().sum();
        for x in levels.iter_mut() {
            *x /= s;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swapped_birth_dates_are_a_level_of_their_own() {
        let d = |y, m, d| FieldValue::Date(y, m, d);
        assert_eq!(
            compare_plain(FieldKind::Date, &d(1990, 5, 12), &d(1990, 5, 12)),
            0
        );
        assert_eq!(
            compare_plain(FieldKind::Date, &d(1990, 5, 12), &d(1990, 12, 5)),
            1
        );
        assert_eq!(
            compare_plain(FieldKind::Date, &d(1990, 5, 12), &d(1991, 5, 12)),
            2
        );
        assert_eq!(
            compare_plain(FieldKind::Date, &d(1990, 5, 12), &d(1990, 5, 19)),
            2
        );
        assert_eq!(
            compare_plain(FieldKind::Date, &d(1990, 5, 12), &d(1909, 5, 12)),
            3
        );
        assert_eq!(
            compare_plain(FieldKind::Date, &d(1990, 5, 12), &d(1970, 1, 1)),
            4
        );
        assert_eq!(
            compare_plain(FieldKind::Date, &FieldValue::Missing, &d(1990, 5, 12)),
            MISSING
        );
        // The pool holds folded text.
        let t = |s: &str| FieldValue::Text(crate::bloom::normalise_text(s));
        assert_eq!(
            compare_plain(FieldKind::Name, &t("José Pérez"), &t("JOSE PEREZ")),
            0
        );
        assert!(compare_plain(FieldKind::Name, &t("José Pérez"), &t("Jose Peres")) <= 3);
        assert_eq!(
            compare_plain(
                FieldKind::Name,
                &t("Isabelle Kaminskas"),
                &t("KAMINSKAS, Isabelle")
            ),
            1
        );
        assert_eq!(
            compare_plain(FieldKind::Identifier, &t("5344955"), &t("5349455")),
            1
        );
        assert_eq!(
            compare_plain(FieldKind::Identifier, &t("5344955"), &t("5340000")),
            3
        );
        // Numbers: a swap, a typo, a near value, a far one.
        for (x, y, level) in [
            ("12", "12", 0),
            ("12", "21", 1),
            ("1204", "1205", 1),
            ("1204", "1150", 2),
            ("12", "40", 3),
            ("7", "", u8::MAX),
        ] {
            let b = if y.is_empty() {
                FieldValue::Missing
            } else {
                t(y)
            };
            assert_eq!(
                compare_plain(FieldKind::Number, &t(x), &b),
                level,
                "{x} {y}"
            );
        }
        assert_ne!(
            compare_plain(FieldKind::Name, &t("Ana Lia"), &t("Lia Anna")),
            1
        );
    }

    #[test]
    fn a_rare_agreed_value_weighs_more_than_a_common_one() {
        let model = Model {
            comparisons: vec![Comparison {
                name: "name".into(),
                levels: vec!["exact", "else"],
            }],
            m: vec![vec![0.9, 0.1]],
            u: vec![vec![0.05, 0.95]],
            lambda: 0.01,
            em_iterations: 0,
            training: Vec::new(),
        };
        // 60 of 100 records share one value, two share a rare one.
        let keys: Vec<Option<u64>> = (0..100u64)
            .map(|i| {
                Some(if i < 60 {
                    1
                } else if i < 62 {
                    2
                } else {
                    i + 10
                })
            })
            .collect();
        let exact = vec![(0usize, keys)];
        let tf = TermFrequencies::new(&model, &exact, |_| true);
        let (common, rare) = (tf.adjustment(&[0], 0, 1), tf.adjustment(&[0], 60, 61));
        assert!(common < 0.0 && rare > 0.0, "{common} {rare}");
        assert!((rare - (0.05f64 / 0.02).log2()).abs() < 1e-9);
        assert_eq!(tf.adjustment(&[1], 60, 61), 0.0, "only exact agreement");
        assert_eq!(tf.adjustment(&[0], 60, 62), 0.0, "only on equal keys");
        let off = TermFrequencies::new(&model, &exact, |_| false);
        assert_eq!(off.adjustment(&[0], 60, 61), 0.0);
    }

    #[test]
    fn em_separates_two_populations() {
        // 1000 matches agreeing on both comparisons mostly, 9000 non-matches
        // disagreeing mostly.
        let comparisons = vec![
            Comparison {
                name: "a".into(),
                levels: vec!["agree", "disagree"],
            },
            Comparison {
                name: "b".into(),
                levels: vec!["agree", "disagree"],
            },
        ];
        let mut patterns = HashMap::new();
        patterns.insert(vec![0, 0], 900 + 90);
        patterns.insert(vec![0, 1], 50 + 810);
        patterns.insert(vec![1, 0], 45 + 810);
        patterns.insert(vec![1, 1], 5 + 7290);
        let u0 = vec![vec![0.1, 0.9], vec![0.1, 0.9]];
        let model = Model::fit(comparisons, &patterns, u0);
        assert!((model.lambda - 0.1).abs() < 0.03, "{}", model.lambda);
        assert!(model.m[0][0] > 0.85 && model.u[0][0] < 0.15);
        assert!(model.probability(&[0, 0]) > 0.8);
        assert!(model.probability(&[1, 1]) < 0.01);
        assert!((model.probability(&[MISSING, MISSING]) - model.lambda).abs() < 1e-9);
    }
}
