//! Fellegi–Sunter: each comparison of a pair falls into an agreement level;
//! m = P(level | match), u = P(level | non-match), both estimated by EM
//! without labels; the match weight is Σ log2(m/u) and the match
//! probability follows from the prior λ and the weight. A missing value on
//! either side says nothing (its level is skipped).

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::bloom::{FieldValue, dice, normalise_text};
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
}

/// Dice levels. Balanced filters share about half their bits by chance,
/// so unrelated records sit near 0.5–0.75 and the levels are fine above.
const DICE_LEVELS: [f64; 6] = [0.95, 0.9, 0.85, 0.8, 0.75, 0.7];

impl Comparator {
    pub fn new(schema: &LinkageSchema, pool: &Pool) -> Comparator {
        let mut comparisons = Vec::new();
        let plaintext = pool.is_plaintext();
        if plaintext {
            for f in &schema.fields {
                let levels: Vec<&'static str> = match f.kind {
                    FieldKind::Name => vec![
                        "exact",
                        "jaro_winkler ≥ 0.95",
                        "jaro_winkler ≥ 0.88",
                        "jaro_winkler ≥ 0.75",
                        "else",
                    ],
                    FieldKind::Date => vec![
                        "exact",
                        "day and month swapped",
                        "two of year, month, day",
                        "else",
                    ],
                    FieldKind::Text => vec!["exact", "levenshtein ≤ 2", "else"],
                };
                comparisons.push(Comparison {
                    name: f.name.clone(),
                    levels,
                });
            }
        } else {
            comparisons.push(Comparison {
                name: "encoding (dice)".into(),
                levels: vec![
                    "≥ 0.95", "≥ 0.9", "≥ 0.85", "≥ 0.8", "≥ 0.75", "≥ 0.7", "< 0.7",
                ],
            });
        }
        for c in &pool.compares {
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
        }
    }

    /// The comparison vector of a pair, and the Dice similarity of their
    /// encodings (kept for the output).
    pub fn compare(&self, pool: &Pool, i: usize, j: usize) -> (Vec<u8>, f64) {
        let mut levels = Vec::with_capacity(self.comparisons.len());
        let sim = dice(&pool.encodings[i], &pool.encodings[j]);
        if self.plaintext {
            for (f, kind) in self.kinds.iter().enumerate() {
                levels.push(compare_plain(*kind, &pool.plain[i][f], &pool.plain[j][f]));
            }
        } else {
            levels.push(
                DICE_LEVELS
                    .iter()
                    .position(|t| sim >= *t)
                    .unwrap_or(DICE_LEVELS.len()) as u8,
            );
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
        (levels, sim)
    }
}

fn compare_plain(kind: FieldKind, a: &FieldValue, b: &FieldValue) -> u8 {
    match (a, b) {
        (FieldValue::Missing, _) | (_, FieldValue::Missing) => MISSING,
        (FieldValue::Date(y1, m1, d1), FieldValue::Date(y2, m2, d2)) => {
            if (y1, m1, d1) == (y2, m2, d2) {
                0
            } else if y1 == y2 && m1 == d2 && d1 == m2 {
                1
            } else if u8::from(y1 == y2) + u8::from(m1 == m2) + u8::from(d1 == d2) >= 2 {
                2
            } else {
                3
            }
        }
        (FieldValue::Text(x), FieldValue::Text(y)) => {
            let (x, y) = (normalise_text(x), normalise_text(y));
            if x == y {
                return 0;
            }
            match kind {
                FieldKind::Name => {
                    let jw = strsim::jaro_winkler(&x, &y);
                    if jw >= 0.95 {
                        1
                    } else if jw >= 0.88 {
                        2
                    } else if jw >= 0.75 {
                        3
                    } else {
                        4
                    }
                }
                _ => {
                    if strsim::levenshtein(&x, &y) <= 2 {
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

/// Estimated m and u probabilities and the prior, per comparison and level.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    pub comparisons: Vec<Comparison>,
    pub m: Vec<Vec<f64>>,
    pub u: Vec<Vec<f64>>,
    /// Share of candidate pairs that are matches.
    pub lambda: f64,
    pub em_iterations: usize,
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

    /// Posterior probability that the pair is a match.
    pub fn probability(&self, levels: &[u8]) -> f64 {
        let prior = (self.lambda / (1.0 - self.lambda)).log2();
        let w = self.weight(levels) + prior;
        1.0 / (1.0 + (-w).exp2())
    }

    /// EM over the distinct comparison vectors of the candidate pairs
    /// (`patterns` with counts). u starts from `random_u` (levels among
    /// random pairs, nearly all non-matches), m from a guess favouring the
    /// best levels.
    pub fn fit(
        comparisons: Vec<Comparison>,
        patterns: &HashMap<Vec<u8>, u64>,
        random_u: Vec<Vec<f64>>,
        fixed_u: bool,
    ) -> Model {
        let mut m: Vec<Vec<f64>> = comparisons
            .iter()
            .map(|c| {
                let n = c.levels.len();
                let raw: Vec<f64> = (0..n).map(|l| 0.5f64.powi(l as i32 * 2)).collect();
                let s: f64 = raw.iter().sum();
                raw.iter().map(|x| x / s).collect()
            })
            .collect();
        let mut u = random_u;
        let mut lambda = 0.1;
        let total: f64 = patterns.values().map(|c| *c as f64).sum();
        let mut iterations = 0;
        if total == 0.0 {
            return Model {
                comparisons,
                m,
                u,
                lambda,
                em_iterations: 0,
            };
        }
        const FLOOR: f64 = 1e-6;
        for it in 0..200 {
            iterations = it + 1;
            let model = Model {
                comparisons: Vec::new(),
                m: m.clone(),
                u: u.clone(),
                lambda,
                em_iterations: 0,
            };
            let mut m_acc: Vec<Vec<f64>> = m.iter().map(|l| vec![0.0; l.len()]).collect();
            let mut u_acc = m_acc.clone();
            let mut matches = 0.0;
            for (p, count) in patterns {
                let g = model.probability(p) * *count as f64;
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
            // u stays as random pairs give it (as Splink does): among the
            // candidates non-matches are enriched in high levels, and with
            // few comparisons EM would otherwise call them matches.
            let u_acc = if fixed_u { u.clone() } else { u_acc };
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
        Model {
            comparisons,
            m,
            u,
            lambda,
            em_iterations: iterations,
        }
    }
}

/// Level frequencies among random pairs: the starting u (almost every
/// random pair is a non-match).
pub fn random_pair_levels(pool: &Pool, comparator: &Comparator, samples: usize) -> Vec<Vec<f64>> {
    let mut counts: Vec<Vec<f64>> = comparator
        .comparisons
        .iter()
        .map(|c| vec![1.0; c.levels.len()])
        .collect();
    let n = pool.len();
    if n >= 2 {
        let mut rng = ChaCha8Rng::seed_from_u64(0x11AC_0FF5);
        for _ in 0..samples {
            let i = rng.random_range(0..n);
            let j = rng.random_range(0..n);
            if i == j {
                continue;
            }
            let (levels, _) = comparator.compare(pool, i, j);
            for (c, l) in levels.iter().enumerate() {
                if *l != MISSING {
                    counts[c][*l as usize] += 1.0;
                }
            }
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
            compare_plain(FieldKind::Date, &d(1990, 5, 12), &d(1970, 1, 1)),
            3
        );
        assert_eq!(
            compare_plain(FieldKind::Date, &FieldValue::Missing, &d(1990, 5, 12)),
            MISSING
        );
        let t = |s: &str| FieldValue::Text(s.into());
        assert_eq!(
            compare_plain(FieldKind::Name, &t("José Pérez"), &t("JOSE PEREZ")),
            0
        );
        assert!(compare_plain(FieldKind::Name, &t("José Pérez"), &t("Jose Peres")) <= 2);
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
        let model = Model::fit(comparisons, &patterns, u0, false);
        assert!((model.lambda - 0.1).abs() < 0.03, "{}", model.lambda);
        assert!(model.m[0][0] > 0.85 && model.u[0][0] < 0.15);
        assert!(model.probability(&[0, 0]) > 0.8);
        assert!(model.probability(&[1, 1]) < 0.01);
        assert!((model.probability(&[MISSING, MISSING]) - model.lambda).abs() < 1e-9);
    }
}
