//! Differentially private count tables: every margin of the table measured
//! with OpenDP's discrete Gaussian under zCDP, combined by least squares,
//! and post-processed top down into non-negative whole numbers that add up.
//!
//! The grid is the product of each dimension's *domain*, which the caller
//! gives from the code lists or the publisher, never from the data: a
//! category that no record has is still a cell, and still gets noise, so
//! the shape of the output says nothing about who is in the data. A record
//! whose code is outside the domain is left out.
//!
//! Measurement: each of the 2^d groups of cells (the leaves, each one-way
//! margin, …, the grand total) is one query of L2 sensitivity 1 (a record
//! counts once in each group). A group summed over s dimensions gets the
//! share αˢ/(1+α)ᵈ of ρ (α from `margin_weight`): the finest cells, most of
//! the table, get the most. Weighted least squares on all of them has a
//! closed form on a product grid (the normal matrix is a Kronecker product
//! of `I + αJ` per dimension), so the estimate costs a few passes over the
//! grid and every cell's variance is known exactly:
//! σ² · Π (1+α(nₖ−1))/(1+αnₖ), σ the finest cells' scale. It depends on ρ
//! and the domain sizes only, and is the floor of the published 95 % bound.
//!
//! Post-processing, in the spirit of the Census 2020 TopDown algorithm:
//! the grand total is rounded first; then, one dimension at a time in the
//! table's order, each parent's children are projected onto the
//! non-negative vectors that sum to the parent's whole number (the L2
//! nearest), and rounded by largest remainder keeping that sum. Every
//! published margin is then the sum of the published leaves.

use opendp::domains::{AtomDomain, VectorDomain};
use opendp::measurements::make_gaussian;
use opendp::measures::ZeroConcentratedDivergence;
use opendp::metrics::L2Distance;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use serde::Serialize;

use corridor_stats::{TOTAL, Table};

use crate::{Method, ProtectError, Protected, PublishedCell, PublishedTable, count_of};

/// What every DP table states as its mechanism.
pub const DP_MECHANISM: &str = "discrete Gaussian on every margin (OpenDP make_gaussian), zCDP; least squares, then top-down non-negative rounding";

/// A grid larger than this is refused: noise on every cell of it would
/// take long and say little.
const MAX_CELLS: usize = 50_000_000;

/// The privacy loss a DP table is about to spend: the caller charges it
/// (to the ledger) before any noise is drawn, and may refuse.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DpCharge {
    /// ρ of zCDP, the sum of what the measurements spend.
    pub rho: f64,
    /// One line per measurement: which margin, how many cells, the scale
    /// and the ρ OpenDP's privacy map gives for sensitivity 1.
    pub measurements: Vec<DpMeasurement>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DpMeasurement {
    /// The dimensions kept (the others are totalled).
    pub by: Vec<String>,
    pub cells: usize,
    pub scale: f64,
    pub rho: f64,
}

/// Publishes `table` under ρ-zCDP over the grid of `domains` (one per
/// dimension, in the table's order). `charge` is called once, with the
/// total ρ, before any noise is drawn; an error from it stops the table.
pub fn dp_table(
    table: &Table,
    domains: &[Vec<String>],
    rho: f64,
    charge: &mut dyn FnMut(&DpCharge) -> Result<(), String>,
) -> Result<Protected<PublishedTable>, ProtectError> {
    let sizes = check(table, domains, rho)?;
    let d = sizes.len();
    let leaves = leaf_counts(table, domains, &sizes)?;
    let groups = 1usize << d;
    let alpha = margin_weight(&sizes);
    // A group summed over s dimensions gets ρ·αˢ/(1+α)ᵈ: the shares add
    // up to ρ, and the weights of least squares factor by dimension.
    let share = |summed: u32| alpha.powi(summed as i32) / (1.0 + alpha).powi(d as i32);
    let dp_err = |e: opendp::error::Error| ProtectError::Privacy(e.to_string());
    let mut mechanisms = Vec::with_capacity(d + 1);
    for summed in 0..=d as u32 {
        let scale = (1.0 / (2.0 * rho * share(summed))).sqrt();
        let m = gaussian(scale).map_err(dp_err)?;
        let spent = m.map(&1).map_err(dp_err)?;
        mechanisms.push((m, scale, spent));
    }
    let scale = mechanisms[0].1;
    let mut measurements = Vec::with_capacity(groups);
    for mask in 0..groups {
        let kept: Vec<usize> = (0..d).filter(|k| mask & (1 << k) == 0).collect();
        let (_, scale, spent) = &mechanisms[mask.count_ones() as usize];
        measurements.push(DpMeasurement {
            by: kept.iter().map(|&k| table.dims[k].clone()).collect(),
            cells: kept.iter().map(|&k| sizes[k]).product(),
            scale: *scale,
            rho: *spent,
        });
    }
    let spent = DpCharge {
        rho: measurements.iter().map(|m| m.rho).sum(),
        measurements,
    };
    charge(&spent).map_err(ProtectError::Refused)?;

    // The mechanism draws each coordinate independently, so drawing a long
    // margin in chunks on every core is the same mechanism.
    // OpenDP's measurements are not `Sync`, so each chunk builds its own
    // of the same scale.
    let noise = |mask: usize, v: &[i64]| {
        let (m, scale, _) = &mechanisms[mask.count_ones() as usize];
        if v.len() <= NOISE_CHUNK {
            return m.invoke(&v.to_vec()).map_err(dp_err);
        }
        let scale = *scale;
        let parts = v
            .par_chunks(NOISE_CHUNK)
            .map(|chunk| {
                gaussian(scale)
                    .and_then(|m| m.invoke(&chunk.to_vec()))
                    .map_err(dp_err)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(parts.concat())
    };
    // Rounding draws too: post-processing, so any randomness will do.
    let mut rng = ChaCha20Rng::from_seed(os_seed()?);
    let whole = release(&leaves, &sizes, &noise, &mut rng)?;
    // The bounds' re-runs are a simulation on published numbers, not a
    // measurement: they need no vetted sampler, and OpenDP's exact one
    // would take most of the time. A rounded normal of the same scale is
    // the discrete Gaussian to within a variance of 1/12.
    let sim = std::cell::RefCell::new(ChaCha20Rng::from_seed(os_seed()?));
    let normals = mechanisms
        .iter()
        .map(|(_, scale, _)| Normal::new(0.0, *scale))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ProtectError::Privacy(e.to_string()))?;
    let simulated = |mask: usize, v: &[i64]| {
        let mut rng = sim.borrow_mut();
        let normal = &normals[mask.count_ones() as usize];
        Ok(v.iter()
            .map(|&x| x + normal.sample(&mut *rng).round() as i64)
            .collect())
    };
    let bounds = error_bounds(&whole, &sizes, scale, &simulated, &mut rng)?;
    let mut cells = published_cells(&whole, &sizes, domains, &bounds);
    // A cell of an open 12/16-month window stays marked provisional.
    let provisional: std::collections::HashSet<&[String]> = table
        .cells
        .iter()
        .filter(|c| c.provisional)
        .map(|c| c.coords.as_slice())
        .collect();
    if !provisional.is_empty() {
        for c in &mut cells {
            c.provisional = provisional.contains(c.coords.as_slice());
        }
    }
    let method = Method::DifferentialPrivacy {
        rho: spent.rho,
        mechanism: DP_MECHANISM.into(),
        scale,
        margin_weight: alpha,
        bound_replicates: REPLICATES,
    };
    Ok(Protected::new(PublishedTable::of(table, cells), method))
}

fn os_seed() -> Result<[u8; 32], ProtectError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| ProtectError::Randomness(e.to_string()))?;
    Ok(seed)
}

/// Cells drawn at once by one thread.
const NOISE_CHUNK: usize = 8192;

/// OpenDP's discrete Gaussian on a vector of counts, under zCDP.
type Gaussian = opendp::core::Measurement<
    VectorDomain<AtomDomain<i64>>,
    L2Distance<i64>,
    ZeroConcentratedDivergence,
    Vec<i64>,
>;

fn gaussian(scale: f64) -> Result<Gaussian, opendp::error::Error> {
    make_gaussian::<_, _, ZeroConcentratedDivergence>(
        VectorDomain::new(AtomDomain::<i64>::default()),
        L2Distance::<i64>::default(),
        scale,
        None,
    )
}

/// Draws the noisy counts of one margin.
type Noise<'a> = dyn Fn(usize, &[i64]) -> Result<Vec<i64>, ProtectError> + 'a;

/// The weight α of a margin relative to the cells it sums, per dimension
/// summed over: the α, between 0.001 and 1, that minimises the mean
/// variance of all the table's published cells, margins included. With
/// group shares αˢ/(1+α)ᵈ that mean is, up to a constant,
/// (1+α)ᵈ · Π (2+α(nₖ−1))/(1+αnₖ): it depends on the domain sizes only.
/// Large domains get a small α (the finest cells are most of the table and
/// their sums make good margins); small ones get more for the margins.
pub(crate) fn margin_weight(sizes: &[usize]) -> f64 {
    let mean_variance = |a: f64| {
        sizes.iter().fold(1.0, |acc, &n| {
            let n = n as f64;
            acc * (1.0 + a) * (2.0 + a * (n - 1.0)) / (1.0 + a * n)
        })
    };
    (0..=300)
        .map(|i| 10f64.powf(-3.0 + 3.0 * i as f64 / 300.0))
        .min_by(|a, b| mean_variance(*a).total_cmp(&mean_variance(*b)))
        .unwrap_or(1.0)
}

/// Noise on every margin of `leaves`, least squares, top-down rounding:
/// the whole leaves a DP table publishes.
fn release(
    leaves: &[i64],
    sizes: &[usize],
    noise: &Noise,
    rng: &mut ChaCha20Rng,
) -> Result<Vec<i64>, ProtectError> {
    let ext: Vec<usize> = sizes.iter().map(|n| n + 1).collect();
    let mut noisy = vec![0.0f64; ext.iter().product()];
    for mask in 0..1usize << sizes.len() {
        let drawn = noise(mask, &margin_of(leaves, sizes, mask))?;
        for (pos, v) in extended_positions(sizes, mask).zip(drawn) {
            noisy[pos] = v as f64;
        }
    }
    let estimate = least_squares(noisy, sizes);
    Ok(top_down(&rake(&estimate, sizes), sizes, rng))
}

/// Non-negative leaves that keep, as nearly as they can, every margin of
/// the least-squares `estimate`: its leaves clamped at zero, then raked
/// (iterative proportional fitting) to its margins clamped at zero.
/// Clamping alone adds mass to every near-empty cell; the top-down
/// projection then takes it back from each line's other cells equally,
/// which biases the margins of the last dimensions over many lines
/// (common categories lose, rare ones gain). Raking takes it back where
/// each margin says it belongs.
fn rake(estimate: &[f64], sizes: &[usize]) -> Vec<f64> {
    let mut x: Vec<f64> = estimate.iter().map(|v| v.max(0.0)).collect();
    let groups = 1usize << sizes.len();
    let targets: Vec<Vec<f64>> = (0..groups)
        .map(|mask| {
            margin_of(estimate, sizes, mask)
                .into_iter()
                .map(|v| v.max(0.0))
                .collect()
        })
        .collect();
    // A few sweeps settle it; a huge table gets fewer. The positions are
    // kept between sweeps while they are small.
    let work = (x.len() * groups).max(1);
    let sweeps = (200_000_000 / work).clamp(1, RAKE_SWEEPS);
    let kept: Vec<Vec<u32>> = if work <= 32_000_000 {
        (0..groups).map(|mask| margin_index(sizes, mask)).collect()
    } else {
        Vec::new()
    };
    for _ in 0..sweeps {
        for (mask, target) in targets.iter().enumerate().skip(1) {
            let fresh;
            let pos = match kept.get(mask) {
                Some(p) => p,
                None => {
                    fresh = margin_index(sizes, mask);
                    &fresh
                }
            };
            let now = margin_of(&x, sizes, mask);
            let factor: Vec<f64> = target
                .iter()
                .zip(&now)
                .map(|(t, n)| if *n > 0.0 { t / n } else { 0.0 })
                .collect();
            for (&p, v) in pos.iter().zip(x.iter_mut()) {
                *v *= factor[p as usize];
            }
        }
    }
    x
}

/// Sweeps of raking over all margins.
const RAKE_SWEEPS: usize = 20;

/// For each leaf (row-major), its position in the margin `mask`.
fn margin_index(sizes: &[usize], mask: usize) -> Vec<u32> {
    let kept: Vec<usize> = (0..sizes.len()).filter(|k| mask & (1 << k) == 0).collect();
    let leaves: usize = sizes.iter().product();
    let mut out = Vec::with_capacity(leaves);
    let mut idx = vec![0usize; sizes.len()];
    for _ in 0..leaves {
        let mut pos = 0;
        for &k in &kept {
            pos = pos * sizes[k] + idx[k];
        }
        out.push(pos as u32);
        step(&mut idx, sizes);
    }
    out
}

/// How many times the bounds' simulation re-runs the release.
const REPLICATES: usize = 8;

/// The 95 % error bound of every published cell (row-major per margin
/// group, groups by mask): the larger of the least-squares estimate's
/// (exact, see the module) and the 95th percentile of the errors when
/// the whole release, rounding included, is re-run on the *published*
/// table, pooled over the cells of one group and one size band (near zero
/// or not: non-negativity pushes those two different ways). The
/// simulation sees only published numbers, so it costs no privacy.
fn error_bounds(
    published: &[i64],
    sizes: &[usize],
    scale: f64,
    noise: &Noise,
    rng: &mut ChaCha20Rng,
) -> Result<Vec<Vec<f64>>, ProtectError> {
    let groups = 1usize << sizes.len();
    let a = margin_weight(sizes);
    let variance: f64 = scale
        * scale
        * sizes
            .iter()
            .map(|&n| (1.0 + a * (n as f64 - 1.0)) / (1.0 + a * n as f64))
            .product::<f64>();
    let analytic = 1.96 * variance.sqrt();
    let band = |v: i64| usize::from(v as f64 >= 2.0 * analytic);
    let base: Vec<Vec<i64>> = (0..groups)
        .map(|g| margin_of(published, sizes, g))
        .collect();
    let mut errors: Vec<[Vec<f64>; 2]> = vec![[Vec::new(), Vec::new()]; groups];
    for _ in 0..REPLICATES {
        let again = release(published, sizes, noise, rng)?;
        for (g, errs) in errors.iter_mut().enumerate() {
            let m = margin_of(&again, sizes, g);
            for (a, &b) in m.iter().zip(&base[g]) {
                errs[band(b)].push((a - b).abs() as f64);
            }
        }
    }
    let quantile = |mut e: Vec<f64>| {
        e.sort_by(f64::total_cmp);
        let q = e
            .get((e.len() * 95).div_ceil(100).saturating_sub(1))
            .copied()
            .unwrap_or(0.0);
        analytic.max(q).ceil()
    };
    Ok(errors
        .into_iter()
        .zip(&base)
        .map(|([small, large], cells)| {
            let bound = [quantile(small), quantile(large)];
            cells.iter().map(|&v| bound[band(v)]).collect()
        })
        .collect())
}

fn check(table: &Table, domains: &[Vec<String>], rho: f64) -> Result<Vec<usize>, ProtectError> {
    let bad = |why: String| {
        Err(ProtectError::Parameters(format!(
            "{}: {why}",
            table.measure
        )))
    };
    if !(rho.is_finite() && rho > 0.0) {
        return bad(format!("ρ must be a positive number, not {rho}"));
    }
    if domains.len() != table.dims.len() {
        return bad(format!(
            "{} domains for {} dimensions",
            domains.len(),
            table.dims.len()
        ));
    }
    if table.dims.len() > 8 {
        return bad("a DP table has at most 8 dimensions".into());
    }
    let mut cells = 1usize;
    for (dim, codes) in table.dims.iter().zip(domains) {
        if codes.is_empty() {
            return bad(format!("the domain of `{dim}` is empty"));
        }
        let mut seen = std::collections::HashSet::new();
        for c in codes {
            if c == TOTAL || !seen.insert(c) {
                return bad(format!(
                    "the domain of `{dim}` lists `{c}` twice or lists the total"
                ));
            }
        }
        cells = cells.saturating_mul(codes.len() + 1);
    }
    if cells > MAX_CELLS {
        return bad(format!(
            "the grid of the domains has {cells} cells with its margins; at most {MAX_CELLS} (give smaller domains)"
        ));
    }
    Ok(domains.iter().map(Vec::len).collect())
}

/// The true count of every leaf of the domain grid, row-major.
fn leaf_counts(
    table: &Table,
    domains: &[Vec<String>],
    sizes: &[usize],
) -> Result<Vec<i64>, ProtectError> {
    let index: Vec<std::collections::HashMap<&str, usize>> = domains
        .iter()
        .map(|codes| {
            codes
                .iter()
                .enumerate()
                .map(|(i, c)| (c.as_str(), i))
                .collect()
        })
        .collect();
    let mut leaves = vec![0i64; sizes.iter().product()];
    'cells: for cell in &table.cells {
        let mut pos = 0;
        for (k, c) in cell.coords.iter().enumerate() {
            // A margin, or a code outside the domain: not a leaf here.
            let Some(&i) = index[k].get(c.as_str()) else {
                continue 'cells;
            };
            pos = pos * sizes[k] + i;
        }
        leaves[pos] += count_of(table, cell)? as i64;
    }
    Ok(leaves)
}

/// Sums the leaves over the dimensions set in `mask`, row-major over the
/// others.
fn margin_of<T: Copy + Default + std::ops::AddAssign>(
    leaves: &[T],
    sizes: &[usize],
    mask: usize,
) -> Vec<T> {
    let kept: Vec<usize> = (0..sizes.len()).filter(|k| mask & (1 << k) == 0).collect();
    let mut out = vec![T::default(); kept.iter().map(|&k| sizes[k]).product()];
    let mut idx = vec![0usize; sizes.len()];
    for &v in leaves {
        let mut pos = 0;
        for &k in &kept {
            pos = pos * sizes[k] + idx[k];
        }
        out[pos] += v;
        step(&mut idx, sizes);
    }
    out
}

/// The odometer over a row-major grid.
fn step(idx: &mut [usize], sizes: &[usize]) {
    for k in (0..sizes.len()).rev() {
        idx[k] += 1;
        if idx[k] < sizes[k] {
            return;
        }
        idx[k] = 0;
    }
}

/// Where the cells of the margin `mask` (row-major over its kept
/// dimensions) sit in the extended grid, whose index nₖ is the total.
fn extended_positions(sizes: &[usize], mask: usize) -> impl Iterator<Item = usize> + '_ {
    let kept: Vec<usize> = (0..sizes.len()).filter(|k| mask & (1 << k) == 0).collect();
    let kept_sizes: Vec<usize> = kept.iter().map(|&k| sizes[k]).collect();
    let n: usize = kept_sizes.iter().product();
    let mut idx = vec![0usize; kept.len()];
    (0..n).map(move |_| {
        let mut pos = 0;
        let mut j = 0;
        for (k, &size) in sizes.iter().enumerate() {
            let i = if j < kept.len() && kept[j] == k {
                j += 1;
                idx[j - 1]
            } else {
                size
            };
            pos = pos * (size + 1) + i;
        }
        step(&mut idx, &kept_sizes);
        pos
    })
}

/// Applies `f` to every line of `grid` along axis `k` (`shape` row-major).
fn along_axis(
    grid: &[f64],
    shape: &[usize],
    k: usize,
    out_len: usize,
    mut f: impl FnMut(&[f64], &mut [f64]),
) -> Vec<f64> {
    let inner: usize = shape[k + 1..].iter().product();
    let outer: usize = shape[..k].iter().product();
    let n = shape[k];
    let mut out = vec![0.0; outer * out_len * inner];
    let mut line = vec![0.0; n];
    let mut done = vec![0.0; out_len];
    for o in 0..outer {
        for i in 0..inner {
            for (j, l) in line.iter_mut().enumerate() {
                *l = grid[(o * n + j) * inner + i];
            }
            f(&line, &mut done);
            for (j, v) in done.iter().enumerate() {
                out[(o * out_len + j) * inner + i] = *v;
            }
        }
    }
    out
}

/// The weighted least-squares leaves from the noisy extended grid: AᵀWy,
/// then (AᵀWA)⁻¹ = ⊗(I − αJ/(1+αn)) up to a constant, one axis at a time.
fn least_squares(noisy: Vec<f64>, sizes: &[usize]) -> Vec<f64> {
    let a = margin_weight(sizes);
    let mut shape: Vec<usize> = sizes.iter().map(|n| n + 1).collect();
    let mut grid = noisy;
    for (k, &n) in sizes.iter().enumerate() {
        grid = along_axis(&grid, &shape, k, n, |line, out| {
            for (o, l) in out.iter_mut().zip(line) {
                *o = l + a * line[n];
            }
        });
        shape[k] = n;
    }
    for (k, &n) in sizes.iter().enumerate() {
        grid = along_axis(&grid, &shape, k, n, |line, out| {
            let mean = a * line.iter().sum::<f64>() / (1.0 + a * n as f64);
            for (o, l) in out.iter_mut().zip(line) {
                *o = l - mean;
            }
        });
    }
    grid
}

/// Non-negative whole leaves that keep the estimate's margins, top down
/// through the dimensions in order.
fn top_down(estimate: &[f64], sizes: &[usize], rng: &mut ChaCha20Rng) -> Vec<i64> {
    let d = sizes.len();
    // prefix[j]: the estimate summed over dimensions j.., row-major over
    // 0..j.
    let mut prefix = vec![estimate.to_vec()];
    for j in (0..d).rev() {
        let n = sizes[j];
        let last = prefix.last().map(Vec::as_slice).unwrap_or(&[]);
        prefix.push(last.chunks(n).map(|c| c.iter().sum()).collect());
    }
    prefix.reverse();
    let mut whole = vec![prefix[0][0].max(0.0).round() as i64];
    for (j, &n) in sizes.iter().enumerate() {
        let est = &prefix[j + 1];
        let mut next = Vec::with_capacity(est.len());
        for (p, &target) in whole.iter().enumerate() {
            next.extend(round_to_sum(
                &project(&est[p * n..(p + 1) * n], target as f64),
                target,
                rng.random::<f64>(),
            ));
        }
        whole = next;
    }
    whole
}

/// The nearest (L2) vector of non-negative numbers that sum to `total`
/// (Duchi et al. 2008, projection onto the simplex).
fn project(v: &[f64], total: f64) -> Vec<f64> {
    if total <= 0.0 {
        return vec![0.0; v.len()];
    }
    let mut sorted = v.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let (mut cum, mut theta) = (0.0, 0.0);
    for (i, &u) in sorted.iter().enumerate() {
        cum += u;
        let t = (cum - total) / (i as f64 + 1.0);
        if u - t > 0.0 {
            theta = t;
        }
    }
    v.iter().map(|x| (x - theta).max(0.0)).collect()
}

/// Whole numbers next to `v` (which sums to `total`) that sum to `total`,
/// each rounded up with the probability of its fraction (systematic
/// sampling from `start` in [0, 1)): unbiased, so that rounding many lines
/// does not pile up in the margins across them.
fn round_to_sum(v: &[f64], total: i64, start: f64) -> Vec<i64> {
    let mut out: Vec<i64> = v.iter().map(|x| x.floor().max(0.0) as i64).collect();
    let mut short = total - out.iter().sum::<i64>();
    let (mut cum, mut next) = (0.0, start);
    for (o, x) in out.iter_mut().zip(v) {
        if short <= 0 {
            break;
        }
        cum += (x - x.floor()).max(0.0);
        if cum > next {
            *o += 1;
            short -= 1;
            next += 1.0;
        }
    }
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| (v[b] - v[b].floor()).total_cmp(&(v[a] - v[a].floor())));
    let mut i = 0;
    while short > 0 && !order.is_empty() {
        out[order[i % order.len()]] += 1;
        short -= 1;
        i += 1;
    }
    // Floating error can leave one too many.
    while short < 0 {
        if let Some(j) = (0..out.len()).max_by_key(|&j| out[j]) {
            out[j] -= 1;
        }
        short += 1;
    }
    out
}

/// Every cell of the grid with its margins: totals first in each
/// dimension, values summed from the whole leaves.
fn published_cells(
    leaves: &[i64],
    sizes: &[usize],
    domains: &[Vec<String>],
    bounds: &[Vec<f64>],
) -> Vec<PublishedCell> {
    let d = sizes.len();
    let mut cells = Vec::new();
    for mask in (0..1usize << d).rev() {
        let margin = margin_of(leaves, sizes, mask);
        let kept: Vec<usize> = (0..d).filter(|k| mask & (1 << k) == 0).collect();
        let kept_sizes: Vec<usize> = kept.iter().map(|&k| sizes[k]).collect();
        let mut idx = vec![0usize; kept.len()];
        for (v, &bound) in margin.into_iter().zip(&bounds[mask]) {
            let mut coords = vec![TOTAL.to_string(); d];
            for (j, &k) in kept.iter().enumerate() {
                coords[k] = domains[k][idx[j]].clone();
            }
            cells.push(PublishedCell {
                coords,
                value: Some(v as f64),
                provisional: false,
                error_bound: Some(bound),
            });
            step(&mut idx, &kept_sizes);
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{any, prop_assert, prop_assert_eq, proptest};

    proptest! {
        #[test]
        fn projection_is_non_negative_and_sums(
            v in proptest::collection::vec(-50.0f64..50.0, 1..20),
            t in 0i64..200,
            start in 0.0f64..1.0,
        ) {
            let p = project(&v, t as f64);
            prop_assert!(p.iter().all(|x| *x >= 0.0));
            prop_assert!((p.iter().sum::<f64>() - t as f64).abs() < 1e-6);
            let r = round_to_sum(&p, t, start);
            prop_assert_eq!(r.iter().sum::<i64>(), t);
            prop_assert!(r.iter().zip(&p).all(|(a, b)| (*a as f64 - b).abs() < 1.0 + 1e-9));
        }

        /// Raking keeps a consistent non-negative table as it is.
        #[test]
        fn raking_keeps_a_consistent_table(
            sizes in proptest::collection::vec(1usize..5, 1..4),
            seed in any::<u64>(),
        ) {
            let n: usize = sizes.iter().product();
            let leaves: Vec<f64> = (0..n).map(|i| ((seed >> (i % 60)) & 15) as f64).collect();
            for (a, b) in rake(&leaves, &sizes).iter().zip(&leaves) {
                prop_assert!((a - b).abs() < 1e-6, "{a} vs {b}");
            }
        }

        /// Without noise, least squares gives back the leaves exactly.
        #[test]
        fn least_squares_is_exact_on_consistent_input(
            sizes in proptest::collection::vec(1usize..5, 1..4),
            seed in any::<u64>(),
        ) {
            let n: usize = sizes.iter().product();
            let leaves: Vec<i64> = (0..n).map(|i| ((seed >> (i % 60)) & 15) as i64).collect();
            let ext: Vec<usize> = sizes.iter().map(|n| n + 1).collect();
            let mut grid = vec![0.0; ext.iter().product()];
            for mask in 0..1usize << sizes.len() {
                for (pos, v) in extended_positions(&sizes, mask).zip(margin_of(&leaves, &sizes, mask)) {
                    grid[pos] = v as f64;
                }
            }
            let est = least_squares(grid, &sizes);
            for (a, b) in est.iter().zip(&leaves) {
                prop_assert!((a - *b as f64).abs() < 1e-6, "{a} vs {b}");
            }
            let whole = top_down(&est, &sizes, &mut ChaCha20Rng::seed_from_u64(seed));
            prop_assert_eq!(whole, leaves);
        }
    }

    /// Each value is rounded up with the probability of its fraction, so
    /// over many lines the rounding adds nothing to any position.
    #[test]
    fn rounding_to_a_sum_is_unbiased() {
        let v = [0.3, 2.45, 0.05, 7.9, 0.3];
        let total = 11;
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let runs = 20_000;
        let mut sums = [0i64; 5];
        for _ in 0..runs {
            let r = round_to_sum(&v, total, rng.random::<f64>());
            assert_eq!(r.iter().sum::<i64>(), total);
            for (s, x) in sums.iter_mut().zip(r) {
                *s += x;
            }
        }
        for (s, x) in sums.iter().zip(v) {
            let mean = *s as f64 / runs as f64;
            assert!((mean - x).abs() < 0.02, "{mean} vs {x}");
        }
    }
}
