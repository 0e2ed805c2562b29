//! The model DP synthesis fits to its noisy counts: a Bayesian network in
//! which each column depends on at most two others (PrivBayes' network of
//! degree two, Zhang et al. 2017), each factor a measured marginal of the
//! column and its parents.
//!
//! A tree keeps one dependence per column. With two parents a column keeps
//! two, and the three-way interaction between them, which is where a
//! mixture of latent profiles (who is exploited how, where, by whom) shows.
//! The network is chosen greedily on the noisy two-way tables, the way
//! Prim's algorithm grows a maximum spanning tree: with one parent per
//! column it *is* that tree. A second parent is taken only when the
//! factor's cells are few enough for its counts to stand above the noise
//! (PrivBayes' θ-usefulness), a rule that reads only the public domain, the
//! compression and the noise scale.
//!
//! Sampling is exact ancestral sampling: columns in the order they joined,
//! each from its factor's conditional distribution given the parents'
//! sampled cells. Everything here is post-processing of noisy counts.

use rand::Rng;
use rand::distr::{Distribution, weighted::WeightedIndex};

/// One factor: a column and the columns it is drawn given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Factor {
    pub(crate) child: usize,
    pub(crate) parents: Vec<usize>,
}

impl Factor {
    /// The factor's columns, parents first, the child last: the axes of
    /// its table (the last axis varies fastest).
    pub(crate) fn axes(&self) -> Vec<usize> {
        let mut a = self.parents.clone();
        a.push(self.child);
        a
    }
}

/// Chooses the network on the noisy pairwise mutual information `mi`
/// (symmetric, `d × d`). `sizes` are the columns' cells; a factor with two
/// parents may have at most `max_cells` cells. Starts from the strongest
/// pair; then repeatedly adds the column, among those not yet in, whose best
/// allowed parent set (one or two columns already in) has the most mutual
/// information with it, summed over the parents.
pub(crate) fn choose(
    mi: &[Vec<f64>],
    sizes: &[usize],
    max_cells: f64,
    max_parents: usize,
) -> Vec<Factor> {
    let d = sizes.len();
    if d == 1 {
        return vec![Factor {
            child: 0,
            parents: Vec::new(),
        }];
    }
    let mut best = (0, 1, f64::NEG_INFINITY);
    for (a, row) in mi.iter().enumerate() {
        for (b, m) in row.iter().enumerate().skip(a + 1) {
            if *m > best.2 {
                best = (a, b, *m);
            }
        }
    }
    let mut factors = vec![
        Factor {
            child: best.0,
            parents: Vec::new(),
        },
        Factor {
            child: best.1,
            parents: vec![best.0],
        },
    ];
    let mut placed = vec![best.0, best.1];
    while placed.len() < d {
        let mut pick: Option<(f64, Factor)> = None;
        for c in (0..d).filter(|c| !placed.contains(c)) {
            for (i, &p) in placed.iter().enumerate() {
                let one = mi[c][p];
                if pick.as_ref().is_none_or(|(s, _)| one > *s) {
                    pick = Some((
                        one,
                        Factor {
                            child: c,
                            parents: vec![p],
                        },
                    ));
                }
                if max_parents < 2 {
                    continue;
                }
                for &q in &placed[i + 1..] {
                    let cells = (sizes[c] * sizes[p] * sizes[q]) as f64;
                    let two = one + mi[c][q];
                    if cells <= max_cells && pick.as_ref().is_none_or(|(s, _)| two > *s) {
                        pick = Some((
                            two,
                            Factor {
                                child: c,
                                parents: vec![p, q],
                            },
                        ));
                    }
                }
            }
        }
        let Some((_, f)) = pick else { break };
        placed.push(f.child);
        factors.push(f);
    }
    factors
}

/// Conditional distributions of a factor's child given each configuration
/// of its parents, from the factor's noisy table (parents' cells in
/// row-major order, child fastest).
///
/// Negative counts are clipped; the table is scaled to the child's one-way
/// `margin`, which is
/// estimated from far more budget per cell. A parent configuration with
/// few counts is shrunk towards a coarser estimate, by `strength`
/// pseudo-records: towards the child given the first parent alone (the
/// table summed over the second) for two parents, towards the margin
/// otherwise. Without this, a configuration that holds a handful of
/// records would be sampled from noise.
pub(crate) fn conditionals(
    noisy: &[f64],
    dims: &[usize],
    margin: &[f64],
    strength: f64,
) -> Vec<Vec<f64>> {
    let k = *dims.last().unwrap_or(&1);
    let configs = noisy.len() / k.max(1);
    let mut x: Vec<f64> = noisy.iter().map(|v| v.max(0.0)).collect();
    // One constraint, so one scaling meets it.
    let mut col = vec![0.0; k];
    for (i, v) in x.iter().enumerate() {
        col[i % k] += v;
    }
    for (i, v) in x.iter_mut().enumerate() {
        if col[i % k] > 0.0 {
            *v *= margin[i % k] / col[i % k];
        }
    }
    let total: f64 = margin.iter().sum();
    let prior_margin: Vec<f64> = if total > 0.0 {
        margin.iter().map(|m| m / total).collect()
    } else {
        vec![1.0 / k as f64; k]
    };
    // For two parents: the child given the first parent, summed over the
    // second (itself shrunk towards the margin).
    let coarse: Option<Vec<Vec<f64>>> = (dims.len() == 3).then(|| {
        let (s1, s2) = (dims[0], dims[1]);
        (0..s1)
            .map(|p| {
                let mut w = vec![0.0; k];
                for q in 0..s2 {
                    for (c, w) in w.iter_mut().enumerate() {
                        *w += x[(p * s2 + q) * k + c];
                    }
                }
                shrink(&w, &prior_margin, strength)
            })
            .collect()
    });
    (0..configs)
        .map(|j| {
            let prior = match &coarse {
                Some(c) => &c[j / dims[1]],
                None => &prior_margin,
            };
            shrink(&x[j * k..(j + 1) * k], prior, strength)
        })
        .collect()
}

/// `counts` plus `strength` pseudo-records spread as `prior`, normalised.
fn shrink(counts: &[f64], prior: &[f64], strength: f64) -> Vec<f64> {
    let w: Vec<f64> = counts
        .iter()
        .zip(prior)
        .map(|(c, p)| c + strength * p)
        .collect();
    let s: f64 = w.iter().sum();
    if s > 0.0 {
        w.iter().map(|v| v / s).collect()
    } else {
        prior.to_vec()
    }
}

/// Samples `n` records of cells from the network: `root` is the first
/// factor's distribution, `tables[f]` the conditionals of factor `f` (none
/// for the root).
pub(crate) fn sample(
    factors: &[Factor],
    sizes: &[usize],
    root: &[f64],
    tables: &[Vec<Vec<f64>>],
    n: usize,
    rng: &mut impl Rng,
) -> Vec<Vec<usize>> {
    let sampler = |w: &[f64]| WeightedIndex::new(w.iter().map(|x| x.max(0.0) + 1e-12)).ok();
    let root_dist = sampler(root);
    let dists: Vec<Vec<Option<WeightedIndex<f64>>>> = tables
        .iter()
        .map(|t| t.iter().map(|w| sampler(w)).collect())
        .collect();
    let d = sizes.len();
    let mut out = vec![Vec::with_capacity(n); d];
    let mut row = vec![0usize; d];
    for _ in 0..n {
        for (f, factor) in factors.iter().enumerate() {
            let c = factor.child;
            let dist = if factor.parents.is_empty() {
                root_dist.as_ref()
            } else {
                let config = factor
                    .parents
                    .iter()
                    .fold(0, |acc, p| acc * sizes[*p] + row[*p]);
                dists[f].get(config).and_then(Option::as_ref)
            };
            row[c] = match dist {
                Some(w) => w.sample(rng),
                None => rng.random_range(0..sizes[c]),
            };
        }
        for c in 0..d {
            out[c].push(row[c]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mi(d: usize, strong: &[(usize, usize, f64)]) -> Vec<Vec<f64>> {
        let mut m = vec![vec![0.0; d]; d];
        for (a, b, v) in strong {
            m[*a][*b] = *v;
            m[*b][*a] = *v;
        }
        m
    }

    #[test]
    fn one_parent_is_the_maximum_spanning_tree() {
        let m = mi(4, &[(0, 1, 0.9), (1, 2, 0.5), (0, 2, 0.4), (2, 3, 0.3)]);
        let f = choose(&m, &[3, 3, 3, 3], 1e9, 1);
        let edges: Vec<(usize, Vec<usize>)> =
            f.iter().map(|f| (f.child, f.parents.clone())).collect();
        assert_eq!(
            edges,
            [(0, vec![]), (1, vec![0]), (2, vec![1]), (3, vec![2])]
        );
    }

    #[test]
    fn a_second_parent_only_when_its_cells_fit() {
        let m = mi(3, &[(0, 1, 0.9), (1, 2, 0.5), (0, 2, 0.4)]);
        let f = choose(&m, &[3, 3, 3], 27.0, 2);
        assert_eq!(f[2].parents, [0, 1]);
        let f = choose(&m, &[3, 3, 3], 26.0, 2);
        assert_eq!(f[2].parents, [1]);
    }

    #[test]
    fn thin_configurations_lean_on_the_coarser_estimate() {
        // Two parents of two cells, a child of two: configuration (1, 1)
        // holds almost nothing and follows the first parent's conditional.
        let noisy = [
            50.0, 50.0, 50.0, 50.0, // p = 0
            90.0, 10.0, 0.0, -3.0, // p = 1
        ];
        let c = conditionals(&noisy, &[2, 2, 2], &[240.0, 110.0], 10.0);
        assert_eq!(c.len(), 4);
        assert!((c[0][0] - 0.5).abs() < 0.1, "{c:?}");
        assert!(c[3][0] > 0.7, "{c:?}");
        for w in &c {
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
    }
}
