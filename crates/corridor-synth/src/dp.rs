//! Differentially private synthesis in the manner of MST (McKenna et al.,
//! winner of the NIST 2018 challenge): noisy marginals, a maximum spanning
//! tree of pairwise dependence, a tree-shaped model fitted to the noisy
//! marginals, records sampled from it.
//!
//! All noise comes from OpenDP's `make_gaussian` (the discrete Gaussian of
//! Canonne–Kamath–Steinke on integer counts), accounted in zero-concentrated
//! DP: each marginal is one measurement of L2 sensitivity 1 (one victim
//! added or removed changes one cell by one), and the ρ of the measurements
//! add up. The budget ρ is split: 10 % for all one-way marginals, 30 % for
//! all two-way marginals (used to choose the tree), 60 % to measure the
//! tree's edges again. Everything after the measurements — choosing the
//! tree, combining the two measurements of an edge, clipping, making the
//! tables agree with each other, sampling — is post-processing and costs no
//! privacy.

use opendp::domains::{AtomDomain, VectorDomain};
use opendp::measurements::make_gaussian;
use opendp::measures::ZeroConcentratedDivergence;
use opendp::metrics::L2Distance;
use rand::distr::{Distribution, weighted::WeightedIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::SynthError;
use crate::table::{EMPTY, Table};

/// ρ of zero-concentrated DP as ε of (ε, δ)-DP (Bun & Steinke 2016).
pub fn epsilon_of(rho: f64, delta: f64) -> f64 {
    rho + 2.0 * (rho * (1.0 / delta).ln()).sqrt()
}

/// The ρ whose (ε, δ) equivalent is `epsilon` at `delta`.
pub fn rho_of(epsilon: f64, delta: f64) -> f64 {
    let l = (1.0 / delta).ln();
    let x = -l.sqrt() + (l + epsilon).sqrt();
    x * x
}

#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub what: String,
    /// Standard deviation of the discrete Gaussian noise.
    pub scale: f64,
    /// Privacy loss of this measurement, as OpenDP's privacy map gives it.
    pub rho: f64,
}

/// The privacy loss of a release, to be recorded with it and charged to
/// the dataset's budget.
#[derive(Debug, Clone, Serialize)]
pub struct PrivacyLoss {
    pub mechanism: &'static str,
    pub neighbouring: &'static str,
    pub rho: f64,
    pub epsilon: f64,
    pub delta: f64,
    pub measurements: Vec<Measurement>,
}

pub struct DpSynthetic {
    pub synthetic: Table,
    pub privacy: PrivacyLoss,
    /// The tree's edges (column, column).
    pub tree: Vec<(usize, usize)>,
    /// The noisy estimate of the number of records.
    pub estimated_rows: usize,
}

fn measure(
    counts: &[i64],
    rho: f64,
    what: String,
    log: &mut Vec<Measurement>,
) -> Result<Vec<f64>, SynthError> {
    let scale = (1.0 / (2.0 * rho)).sqrt();
    let m = make_gaussian::<_, _, ZeroConcentratedDivergence>(
        VectorDomain::new(AtomDomain::<i64>::default()),
        L2Distance::<i64>::default(),
        scale,
        None,
    )
    .map_err(|e| SynthError::Privacy(e.to_string()))?;
    let spent = m.map(&1).map_err(|e| SynthError::Privacy(e.to_string()))?;
    let noisy = m
        .invoke(&counts.to_vec())
        .map_err(|e| SynthError::Privacy(e.to_string()))?;
    log.push(Measurement {
        what,
        scale,
        rho: spent,
    });
    Ok(noisy.into_iter().map(|x| x as f64).collect())
}

/// Sizes of each column's domain: its values and one more for "no value".
fn domain(table: &Table) -> Vec<usize> {
    table.values.iter().map(|v| v.len() + 1).collect()
}

fn code(table: &Table, c: usize, r: usize) -> usize {
    match table.codes[c][r] {
        EMPTY => table.values[c].len(),
        v => v as usize,
    }
}

fn one_way(table: &Table, c: usize, size: usize) -> Vec<i64> {
    let mut out = vec![0i64; size];
    for r in 0..table.rows() {
        out[code(table, c, r)] += 1;
    }
    out
}

fn two_way(table: &Table, a: usize, b: usize, sizes: &[usize]) -> Vec<i64> {
    let mut out = vec![0i64; sizes[a] * sizes[b]];
    for r in 0..table.rows() {
        out[code(table, a, r) * sizes[b] + code(table, b, r)] += 1;
    }
    out
}

/// Mutual information of a (clipped, normalised) two-way table.
fn mutual_information(t: &[f64], rows: usize, cols: usize) -> f64 {
    let total: f64 = t.iter().map(|x| x.max(0.0)).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let mut pr = vec![0.0; rows];
    let mut pc = vec![0.0; cols];
    for i in 0..rows {
        for j in 0..cols {
            let p = t[i * cols + j].max(0.0) / total;
            pr[i] += p;
            pc[j] += p;
        }
    }
    let mut mi = 0.0;
    for i in 0..rows {
        for j in 0..cols {
            let p = t[i * cols + j].max(0.0) / total;
            if p > 0.0 && pr[i] > 0.0 && pc[j] > 0.0 {
                mi += p * (p / (pr[i] * pc[j])).ln();
            }
        }
    }
    mi
}

/// Non-negative, summing to `n`.
fn clip_to(v: &[f64], n: f64) -> Vec<f64> {
    let c: Vec<f64> = v.iter().map(|x| x.max(0.0)).collect();
    let s: f64 = c.iter().sum();
    if s <= 0.0 {
        return vec![n / v.len() as f64; v.len()];
    }
    c.iter().map(|x| x * n / s).collect()
}

/// Synthesises `rows` records (default: the noisy count) under the budget
/// `rho`.
pub fn synthesize(
    table: &Table,
    rho: f64,
    delta: f64,
    rows: Option<usize>,
    seed: u64,
) -> Result<DpSynthetic, SynthError> {
    if !(rho > 0.0 && rho.is_finite()) {
        return Err(SynthError::Input(format!("ρ must be positive, not {rho}")));
    }
    let d = table.width();
    if d == 0 {
        return Err(SynthError::Input("the table has no columns".into()));
    }
    let sizes = domain(table);
    let pairs: Vec<(usize, usize)> = (0..d)
        .flat_map(|a| (a + 1..d).map(move |b| (a, b)))
        .collect();
    let (rho1, rho2, rho3) = if d == 1 {
        (rho, 0.0, 0.0)
    } else {
        (0.1 * rho, 0.3 * rho, 0.6 * rho)
    };
    let mut log = Vec::new();
    let mut ones: Vec<Vec<f64>> = Vec::with_capacity(d);
    #[allow(clippy::needless_range_loop)]
    for c in 0..d {
        ones.push(measure(
            &one_way(table, c, sizes[c]),
            rho1 / d as f64,
            format!("one-way {}", table.columns[c]),
            &mut log,
        )?);
    }
    let mut sums: Vec<f64> = ones
        .iter()
        .map(|o| o.iter().sum::<f64>().max(0.0))
        .collect();
    sums.sort_by(f64::total_cmp);
    let n_est = sums[sums.len() / 2].max(1.0);

    // Choose the tree on the noisy two-way tables.
    let mut first: Vec<(Vec<f64>, f64)> = Vec::with_capacity(pairs.len());
    for (a, b) in &pairs {
        let r = rho2 / pairs.len() as f64;
        let noisy = measure(
            &two_way(table, *a, *b, &sizes),
            r,
            format!(
                "two-way {} × {} (selection)",
                table.columns[*a], table.columns[*b]
            ),
            &mut log,
        )?;
        first.push((noisy, 1.0 / (2.0 * r)));
    }
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    let scores: Vec<f64> = pairs
        .iter()
        .zip(&first)
        .map(|((a, b), (t, _))| mutual_information(t, sizes[*a], sizes[*b]))
        .collect();
    order.sort_by(|x, y| scores[*y].total_cmp(&scores[*x]));
    let mut comp: Vec<usize> = (0..d).collect();
    fn root(comp: &mut [usize], x: usize) -> usize {
        let mut x = x;
        while comp[x] != x {
            comp[x] = comp[comp[x]];
            x = comp[x];
        }
        x
    }
    let mut tree = Vec::new();
    for k in order {
        let (a, b) = pairs[k];
        let (ra, rb) = (root(&mut comp, a), root(&mut comp, b));
        if ra != rb {
            comp[ra] = rb;
            tree.push(k);
        }
    }
    // Measure the tree's edges again; combine both measurements by inverse
    // variance.
    let mut edges: Vec<(usize, usize, Vec<f64>)> = Vec::new();
    for k in &tree {
        let (a, b) = pairs[*k];
        let r = rho3 / tree.len() as f64;
        let again = measure(
            &two_way(table, a, b, &sizes),
            r,
            format!("two-way {} × {} (tree)", table.columns[a], table.columns[b]),
            &mut log,
        )?;
        let (v1, v2) = (first[*k].1, 1.0 / (2.0 * r));
        let combined: Vec<f64> = first[*k]
            .0
            .iter()
            .zip(&again)
            .map(|(x, y)| (x / v1 + y / v2) / (1.0 / v1 + 1.0 / v2))
            .collect();
        edges.push((a, b, combined));
    }
    let margins: Vec<Vec<f64>> = ones.iter().map(|o| clip_to(o, n_est)).collect();
    // Make each edge table non-negative and agree with both one-way
    // margins (iterative proportional fitting).
    for (a, b, t) in edges.iter_mut() {
        let (ra, cb) = (sizes[*a], sizes[*b]);
        let mut x = clip_to(t, n_est);
        for x_i in x.iter_mut() {
            *x_i += 1e-9;
        }
        for _ in 0..50 {
            for i in 0..ra {
                let s: f64 = (0..cb).map(|j| x[i * cb + j]).sum();
                let f = if s > 0.0 { margins[*a][i] / s } else { 0.0 };
                (0..cb).for_each(|j| x[i * cb + j] *= f);
            }
            for j in 0..cb {
                let s: f64 = (0..ra).map(|i| x[i * cb + j]).sum();
                let f = if s > 0.0 { margins[*b][j] / s } else { 0.0 };
                (0..ra).for_each(|i| x[i * cb + j] *= f);
            }
        }
        *t = x;
    }
    // Sample: root column 0, then each column given its parent.
    let mut parent: Vec<Option<(usize, usize)>> = vec![None; d];
    let mut seen = vec![false; d];
    let mut queue = vec![0usize];
    let mut visit = Vec::with_capacity(d);
    seen[0] = true;
    while let Some(c) = queue.pop() {
        visit.push(c);
        for (e, (a, b, _)) in edges.iter().enumerate() {
            let other = if *a == c {
                *b
            } else if *b == c {
                *a
            } else {
                continue;
            };
            if !seen[other] {
                seen[other] = true;
                parent[other] = Some((c, e));
                queue.push(other);
            }
        }
    }
    let n = rows.unwrap_or(n_est.round() as usize);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sampler = |w: &[f64]| WeightedIndex::new(w.iter().map(|x| x.max(0.0) + 1e-12)).ok();
    let root_dist = sampler(&margins[0]);
    // Conditional distributions per edge and parent value.
    let mut conditional: Vec<Vec<Option<WeightedIndex<f64>>>> = vec![Vec::new(); d];
    for c in 0..d {
        if let Some((p, e)) = parent[c] {
            let (a, b, t) = &edges[e];
            conditional[c] = (0..sizes[p])
                .map(|pv| {
                    let w: Vec<f64> = (0..sizes[c])
                        .map(|cv| {
                            if *a == p {
                                t[pv * sizes[*b] + cv]
                            } else {
                                t[cv * sizes[*b] + pv]
                            }
                        })
                        .collect();
                    sampler(&w)
                })
                .collect();
            debug_assert!(*a == c || *b == c);
        }
    }
    let mut codes = vec![Vec::with_capacity(n); d];
    let mut row = vec![0usize; d];
    for _ in 0..n {
        for &c in &visit {
            let dist = match parent[c] {
                None => root_dist.as_ref(),
                Some((p, _)) => conditional[c][row[p]].as_ref(),
            };
            row[c] = match dist {
                Some(w) => w.sample(&mut rng),
                None => rng.random_range(0..sizes[c]),
            };
        }
        for c in 0..d {
            codes[c].push(if row[c] == table.values[c].len() {
                EMPTY
            } else {
                row[c] as u32
            });
        }
    }
    let spent: f64 = log.iter().map(|m| m.rho).sum();
    Ok(DpSynthetic {
        synthetic: table.with_codes(codes),
        privacy: PrivacyLoss {
            mechanism: "discrete Gaussian on marginal counts (OpenDP make_gaussian), zCDP",
            neighbouring: "one record (victim) added or removed",
            rho: spent,
            epsilon: epsilon_of(spent, delta),
            delta,
            measurements: log,
        },
        tree: tree.iter().map(|k| pairs[*k]).collect(),
        estimated_rows: n_est.round() as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_invert() {
        let rho = rho_of(1.0, 1e-6);
        assert!((epsilon_of(rho, 1e-6) - 1.0).abs() < 1e-9);
        assert!(rho > 0.0 && rho < 0.05);
    }

    #[test]
    fn spends_exactly_the_budget_and_keeps_strong_dependence() {
        // Two perfectly dependent columns and one independent one.
        let mut rows = Vec::new();
        for i in 0..4000u32 {
            let a = ["x", "y", "z"][(i % 3) as usize];
            let b = ["X", "Y", "Z"][(i % 3) as usize];
            let c = ["p", "q"][((i / 7) % 2) as usize];
            rows.push(vec![a, b, c]);
        }
        let t = Table::from_rows(vec!["a".into(), "b".into(), "c".into()], rows);
        let out = synthesize(&t, 1.0, 1e-6, None, 7).unwrap();
        assert!((out.privacy.rho - 1.0).abs() < 1e-9, "{}", out.privacy.rho);
        assert!(out.tree.contains(&(0, 1)));
        assert!((out.estimated_rows as f64 - 4000.0).abs() < 200.0);
        let agree = (0..out.synthetic.rows())
            .filter(|r| out.synthetic.codes[0][*r] == out.synthetic.codes[1][*r])
            .count();
        assert!(agree as f64 > 0.9 * out.synthetic.rows() as f64, "{agree}");
    }
}
