//! Cell-key perturbation (the ABS method, which the ONS uses): every record
//! has a permanent key, a cell's key is the sum of its records' keys modulo
//! 1, and a published perturbation table maps (cell value, cell key) to a
//! small change. The same records give the same cell key, hence the same
//! published value, in every table and every release, so comparing two
//! tables that share a cell reveals nothing; and because the record keys
//! are keyed by the workspace secret, nobody outside can compute a cell's
//! key.
//!
//! The perturbation table follows `ptable::create_cnt_ptable` (Enderle,
//! Giessing and Tent): for each original count i it is the maximum-entropy
//! distribution of changes d in [-D, D] with mean 0 (unbiased) and variance
//! V, that never produces a count from 1 to js, and that keeps the count
//! unchanged with probability pstay when pstay is given. Counts above
//! D + js + 1 share the last row.

use corridor_stats::Table;
use serde::Serialize;

use crate::{Method, ProtectError, Protected, PublishedTable, protect_counts};

/// The published parameters of a perturbation table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PTableParams {
    /// The largest change.
    #[serde(rename = "D")]
    pub d: u32,
    /// The variance of the change.
    #[serde(rename = "V")]
    pub v: f64,
    /// Counts from 1 to js are never published.
    pub js: u32,
    /// The probability that a count stays as it is (none: as maximum
    /// entropy gives it).
    #[serde(default)]
    pub pstay: Option<f64>,
}

impl Default for PTableParams {
    /// D = 2, V = 1, js = 1, pstay free: small changes, no published 1s.
    fn default() -> PTableParams {
        PTableParams {
            d: 2,
            v: 1.0,
            js: 1,
            pstay: None,
        }
    }
}

/// One row: the changes a count can get, in ascending order, each with the
/// upper end of its interval of cell keys (out of 2³²).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PRow {
    /// The original count (the last row serves every larger one).
    pub count: u64,
    pub changes: Vec<(i64, f64)>,
    /// The variance the row reaches (the target V cannot always be met for
    /// small counts).
    pub variance: f64,
    #[serde(skip)]
    bounds: Vec<u64>,
}

/// A perturbation table built from its parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PTable {
    pub params: PTableParams,
    pub rows: Vec<PRow>,
}

const KEYS: u64 = 1 << 32;

impl PTable {
    pub fn new(params: PTableParams) -> Result<PTable, ProtectError> {
        let bad = |why: &str| {
            Err(ProtectError::Parameters(format!(
                "perturbation table: {why}"
            )))
        };
        if params.d == 0 || params.d > 50 {
            return bad("D (the largest change) must be from 1 to 50");
        }
        if !(params.v.is_finite() && params.v > 0.0) {
            return bad("V (the variance of the change) must be positive");
        }
        if params.js > 50 {
            return bad("js must be from 0 to 50");
        }
        if let Some(p) = params.pstay
            && !(0.0..1.0).contains(&p)
        {
            return bad("pstay must be from 0 to below 1");
        }
        let last = u64::from(params.d) + u64::from(params.js) + 1;
        let rows = (0..=last).map(|i| row(i, &params)).collect();
        Ok(PTable { params, rows })
    }

    /// The change a count with this cell key gets.
    pub fn change(&self, count: u64, cell_key: u32) -> i64 {
        let Some(last) = self.rows.last() else {
            return 0;
        };
        let r = self
            .rows
            .get(count as usize)
            .filter(|r| r.count == count)
            .unwrap_or(last);
        let key = u64::from(cell_key);
        let at = r.bounds.partition_point(|&b| b <= key);
        r.changes.get(at).map_or(0, |c| c.0)
    }

    /// The published count.
    pub fn perturb(&self, count: u64, cell_key: u32) -> u64 {
        count.saturating_add_signed(self.change(count, cell_key))
    }
}

/// The row of count `i`.
fn row(i: u64, p: &PTableParams) -> PRow {
    if i == 0 {
        return finish(0, vec![(0, 1.0)]);
    }
    let d = i64::from(p.d);
    let js = u64::from(p.js);
    let allowed = |j: i64| j == 0 || j as u64 > js;
    let support: Vec<i64> = (-d..=d)
        .filter(|&c| i as i64 + c >= 0 && allowed(i as i64 + c))
        .collect();
    let stays = support.contains(&0);
    let (fixed, rest): (f64, Vec<i64>) = match p.pstay {
        Some(ps) if stays => (ps, support.iter().copied().filter(|&c| c != 0).collect()),
        _ => (0.0, support.clone()),
    };
    let mass = 1.0 - fixed;
    let target = p.v / mass;
    let mut probs = max_entropy(&rest, target);
    for q in &mut probs {
        *q *= mass;
    }
    let mut changes: Vec<(i64, f64)> = rest.into_iter().zip(probs).collect();
    if fixed > 0.0 {
        changes.push((0, fixed));
    }
    changes.sort_by_key(|c| c.0);
    finish(i, changes)
}

fn finish(count: u64, changes: Vec<(i64, f64)>) -> PRow {
    let total: f64 = changes.iter().map(|c| c.1).sum();
    let changes: Vec<(i64, f64)> = changes
        .into_iter()
        .filter(|c| c.1 > 0.0)
        .map(|(c, q)| (c, q / total))
        .collect();
    let mut bounds = Vec::with_capacity(changes.len());
    let mut cum = 0.0;
    for (k, c) in changes.iter().enumerate() {
        cum += c.1;
        // Integer bounds: the same key lands in the same interval on every
        // machine. The last interval always ends at 2³².
        let b = if k + 1 == changes.len() {
            KEYS
        } else {
            ((cum * KEYS as f64).round() as u64).min(KEYS)
        };
        bounds.push(b);
    }
    let variance = changes.iter().map(|(c, q)| q * (*c as f64).powi(2)).sum();
    PRow {
        count,
        changes,
        variance,
        bounds,
    }
}

/// The maximum-entropy distribution over `support` with mean 0 and
/// variance as near `variance` as the support allows: q(c) ∝ exp(a·c +
/// b·c²). For a fixed b the mean rises with a; along mean 0 the variance
/// rises with b; so two nested bisections find it.
fn max_entropy(support: &[i64], variance: f64) -> Vec<f64> {
    let has_neg = support.iter().any(|&c| c < 0);
    let has_pos = support.iter().any(|&c| c > 0);
    if support.is_empty() {
        return Vec::new();
    }
    if !(has_neg && has_pos) {
        // No unbiased spread is possible: the smallest change, for sure.
        let best = support.iter().copied().min_by_key(|c| c.abs()).unwrap_or(0);
        return support.iter().map(|&c| f64::from(c == best)).collect();
    }
    let dist = |a: f64, b: f64| -> Vec<f64> {
        let e: Vec<f64> = support
            .iter()
            .map(|&c| a * c as f64 + b * (c as f64).powi(2))
            .collect();
        let m = e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = e.iter().map(|x| (x - m).exp()).collect();
        let s: f64 = w.iter().sum();
        w.into_iter().map(|x| x / s).collect()
    };
    let moment = |q: &[f64], k: i32| -> f64 {
        support
            .iter()
            .zip(q)
            .map(|(&c, p)| p * (c as f64).powi(k))
            .sum()
    };
    let centred = |b: f64| -> Vec<f64> {
        let (mut lo, mut hi) = (-60.0, 60.0);
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if moment(&dist(mid, b), 1) < 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        dist(0.5 * (lo + hi), b)
    };
    let (mut lo, mut hi) = (-30.0, 30.0);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if moment(&centred(mid), 2) < variance {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    centred(0.5 * (lo + hi))
}

/// Perturbs every cell of `table` by its cell key. Estimated (provisional)
/// cells are rounded to whole persons first.
pub fn cell_key_perturb(
    table: &Table,
    ptable: &PTable,
) -> Result<Protected<PublishedTable>, ProtectError> {
    protect_counts(
        table,
        Method::CellKey {
            ptable: ptable.params,
        },
        |count, cell| ptable.perturb(count, cell.cell_key),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use corridor_stats::Cell;
    use proptest::prelude::*;

    fn mean_var(r: &PRow) -> (f64, f64) {
        let m = r.changes.iter().map(|(c, q)| *c as f64 * q).sum();
        (m, r.variance)
    }

    #[test]
    fn rows_are_unbiased_and_reach_the_variance_once_the_support_allows() {
        let t = PTable::new(PTableParams::default()).unwrap();
        assert_eq!(t.rows.len(), 5);
        assert_eq!(t.rows[0].changes, vec![(0, 1.0)]);
        for r in &t.rows[1..] {
            let (m, v) = mean_var(r);
            assert!(m.abs() < 1e-9, "count {}: mean {m}", r.count);
            let sum: f64 = r.changes.iter().map(|c| c.1).sum();
            assert!((sum - 1.0).abs() < 1e-12);
            // Never a published 1.
            for (c, _) in &r.changes {
                assert_ne!(r.count as i64 + c, 1, "{r:?}");
                assert!(r.count as i64 + c >= 0);
            }
            assert!((v - 1.0).abs() < 1e-6, "count {}: variance {v}", r.count);
        }
        // The last row is symmetric: the change of a large count.
        let last = t.rows.last().unwrap();
        assert_eq!(last.changes.len(), 5);
        assert!((last.changes[0].1 - last.changes[4].1).abs() < 1e-9);
    }

    #[test]
    fn pstay_is_kept() {
        let params = PTableParams {
            d: 3,
            v: 1.5,
            js: 2,
            pstay: Some(0.5),
        };
        let t = PTable::new(params).unwrap();
        for r in t.rows.iter().filter(|r| r.count > 2) {
            let stay = r.changes.iter().find(|c| c.0 == 0).map_or(0.0, |c| c.1);
            assert!((stay - 0.5).abs() < 1e-12, "{r:?}");
        }
        // A count of 1 or 2 is never published as such.
        for key in (0..u32::MAX).step_by(1 << 20) {
            for count in 0..40 {
                let p = t.perturb(count, key);
                assert!(p == 0 || p > 2, "{count} → {p}");
                assert!(p.abs_diff(count) <= 3);
            }
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        for p in [
            PTableParams {
                d: 0,
                ..Default::default()
            },
            PTableParams {
                v: -1.0,
                ..Default::default()
            },
            PTableParams {
                pstay: Some(1.0),
                ..Default::default()
            },
        ] {
            assert!(PTable::new(p).is_err(), "{p:?}");
        }
    }

    /// The published distribution of changes, over evenly spread keys, is
    /// the row's.
    #[test]
    fn keys_pick_changes_with_the_rows_probabilities() {
        let t = PTable::new(PTableParams::default()).unwrap();
        let n = 1u64 << 16;
        for count in [1u64, 2, 7, 1000] {
            let mut seen = std::collections::BTreeMap::new();
            for k in 0..n {
                let key = (k << 16) as u32;
                *seen.entry(t.change(count, key)).or_insert(0u64) += 1;
            }
            let r = t.rows.get(count as usize).unwrap_or(t.rows.last().unwrap());
            for (c, q) in &r.changes {
                let got = *seen.get(c).unwrap_or(&0) as f64 / n as f64;
                assert!(
                    (got - q).abs() < 1e-3,
                    "count {count} change {c}: {got} vs {q}"
                );
            }
        }
    }

    fn cell(value: f64, key: u32) -> Cell {
        Cell {
            coords: vec!["x".into()],
            value,
            records: value as u64,
            cell_key: key,
            provisional: false,
        }
    }

    proptest! {
        /// The same (count, key) always publishes the same value, whatever
        /// table it sits in; a published value is never 1 and never more
        /// than D away.
        #[test]
        fn same_records_same_value(count in 0u64..10_000, key in any::<u32>()) {
            let t = PTable::new(PTableParams::default()).unwrap();
            let a = Table { measure: "m".into(), dims: vec!["a".into()], filter: None, cells: vec![cell(count as f64, key)], notes: vec![] };
            let mut b = a.clone();
            b.dims = vec!["b".into()];
            b.cells.push(cell(3.0, 9));
            let pa = cell_key_perturb(&a, &t).unwrap();
            let pb = cell_key_perturb(&b, &t).unwrap();
            prop_assert_eq!(pa.value().cells[0].value, pb.value().cells[0].value);
            let v = pa.value().cells[0].value.unwrap() as u64;
            prop_assert!(v != 1);
            prop_assert!(v.abs_diff(count) <= 2);
        }
    }
}
