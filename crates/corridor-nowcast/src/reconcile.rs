//! Nowcasts that must add up: a country's corridors sum to its total, and
//! months to quarters to years.

use std::collections::BTreeMap;

use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use crate::model::Prediction;
use crate::series::Month;

/// Draws of the joint predictive distribution a period's interval comes
/// from.
const DRAWS: usize = 4000;

/// Shares out the gap between a total's nowcast and the sum of its parts'
/// in proportion to each one's predictive variance (weighted least
/// squares, the diagonal MinT reconciliation). Returns the adjustment to
/// add to the total and to each part, month by month.
pub fn adjustments(total: &Prediction, parts: &[&Prediction]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let h = total.months.len();
    let mut to_total = vec![0.0; h];
    let mut to_parts = vec![vec![0.0; h]; parts.len()];
    for i in 0..h {
        let sum: f64 = parts.iter().map(|p| p.estimate(i)).sum();
        let gap = total.estimate(i) - sum;
        let vt = total.variance(i);
        let vp: Vec<f64> = parts.iter().map(|p| p.variance(i)).collect();
        let all = vt + vp.iter().sum::<f64>();
        if all <= 0.0 || !all.is_finite() {
            continue;
        }
        to_total[i] = -gap * vt / all;
        for (k, v) in vp.iter().enumerate() {
            to_parts[k][i] = gap * v / all;
        }
    }
    (to_total, to_parts)
}

/// A period's nowcast: the known final months plus draws of the unknown
/// ones, summed.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodNowcast {
    pub period: String,
    pub estimate: f64,
    pub lower80: f64,
    pub upper80: f64,
    pub lower95: f64,
    pub upper95: f64,
    /// Months of the period still nowcast (not final).
    pub nowcast_months: usize,
}

/// Quarters and years that hold a nowcast month: known final months plus
/// the joint draws of the predicted ones (shifted by `adjust`). A period
/// with a month that is neither is left out.
pub fn periods(
    p: &Prediction,
    adjust: &[f64],
    known: &BTreeMap<Month, f64>,
    seed: u64,
) -> Vec<PeriodNowcast> {
    let h = p.months.len();
    let chol = nalgebra::Cholesky::new(&p.cov + DMatrix::identity(h, h) * 1e-12);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let draws: Vec<Vec<f64>> = (0..DRAWS)
        .map(|_| {
            let z: Vec<f64> = (0..h).map(|_| StandardNormal.sample(&mut rng)).collect();
            let z = nalgebra::DVector::from_vec(z);
            let e = match &chol {
                Some(c) => c.l() * z,
                None => z.zip_map(&nalgebra::DVector::from_fn(h, |i, _| p.sd(i)), |a, b| a * b),
            };
            (0..h)
                .map(|i| ((p.mean[i] + e[i]).exp() - 1.0 + adjust[i]).max(0.0))
                .collect()
        })
        .collect();
    let mut out = Vec::new();
    let quarter = |m: Month| (m.div_euclid(12), m.rem_euclid(12) / 3);
    let mut groups: BTreeMap<String, Vec<Month>> = BTreeMap::new();
    for &m in &p.months {
        let (y, q) = quarter(m);
        groups
            .entry(format!("{y}-Q{}", q + 1))
            .or_default()
            .extend((0..3).map(|k| y * 12 + q * 3 + k));
        groups
            .entry(format!("{y}"))
            .or_default()
            .extend((0..12).map(|k| y * 12 + k));
    }
    for (period, mut months) in groups {
        months.sort_unstable();
        months.dedup();
        let idx: Vec<usize> = months
            .iter()
            .filter_map(|m| p.months.iter().position(|x| x == m))
            .collect();
        // A period with a month neither final nor nowcast (a year whose
        // December lies beyond the horizon) has no total to give.
        let Some(fixed) = months
            .iter()
            .filter(|m| !p.months.contains(m))
            .map(|m| known.get(m))
            .sum::<Option<f64>>()
        else {
            continue;
        };
        let mut sums: Vec<f64> = draws
            .iter()
            .map(|d| fixed + idx.iter().map(|&i| d[i]).sum::<f64>())
            .collect();
        sums.sort_by(f64::total_cmp);
        let q = |f: f64| sums[((f * (sums.len() - 1) as f64).round() as usize).min(sums.len() - 1)];
        out.push(PeriodNowcast {
            period,
            estimate: q(0.5),
            lower80: q(0.1),
            upper80: q(0.9),
            lower95: q(0.025),
            upper95: q(0.975),
            nowcast_months: idx.len(),
        });
    }
    // Quarters before the year they belong to.
    out.sort_by_key(|p| std::cmp::Reverse(p.period.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(level: f64, sd: f64, months: Vec<Month>) -> Prediction {
        let h = months.len();
        Prediction {
            months,
            mean: vec![level.ln_1p(); h],
            cov: DMatrix::identity(h, h) * sd * sd,
            used: Vec::new(),
            model: "test".into(),
            start: None,
        }
    }

    #[test]
    fn corridors_and_their_total_add_up_after_reconciliation() {
        let total = flat(1000.0, 0.05, vec![1, 2]);
        let a = flat(600.0, 0.2, vec![1, 2]);
        let b = flat(300.0, 0.1, vec![1, 2]);
        let (t, parts) = adjustments(&total, &[&a, &b]);
        for i in 0..2 {
            let tot = total.estimate(i) + t[i];
            let sum = a.estimate(i) + parts[0][i] + b.estimate(i) + parts[1][i];
            assert!((tot - sum).abs() < 1e-6, "{tot} vs {sum}");
            // Each moves by its share of the variance: the noisiest most.
            assert!(parts[0][i] > -t[i] && -t[i] > parts[1][i] && parts[1][i] > 0.0);
        }
    }

    #[test]
    fn a_quarter_adds_known_months_to_the_nowcast_ones() {
        // Months 24_000.. are 2000-01..; nowcast March 2000 only.
        let p = flat(100.0, 0.01, vec![24_002]);
        let known: BTreeMap<Month, f64> = [(24_000, 50.0), (24_001, 70.0)].into();
        let out = periods(&p, &[0.0], &known, 1);
        let q1 = out.iter().find(|o| o.period == "2000-Q1").expect("Q1");
        assert!((q1.estimate - 220.0).abs() < 3.0, "{q1:?}");
        assert!(q1.lower95 < q1.estimate && q1.estimate < q1.upper95);
        assert_eq!(q1.nowcast_months, 1);
        // The rest of 2000 is neither final nor nowcast: no year total.
        assert!(out.iter().all(|o| o.period != "2000"), "{out:?}");
        let year: BTreeMap<Month, f64> = (24_000..24_011).map(|m| (m, 10.0)).collect();
        let dec = flat(100.0, 0.01, vec![24_011]);
        let y = periods(&dec, &[0.0], &year, 1);
        let y = y.iter().find(|o| o.period == "2000").expect("year");
        assert!((y.estimate - 210.0).abs() < 3.0, "{y:?}");
    }
}
