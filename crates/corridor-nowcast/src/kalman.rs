//! The structural time-series model and its Kalman filter.
//!
//! A series y (log of a monthly count) is a level that drifts with a slope,
//! a monthly seasonal pattern that changes slowly, the signals times their
//! coefficients, and an irregular term (Harvey's basic structural model with
//! regressors, the model of statsmodels' `UnobservedComponents`):
//!
//! ```text
//! y_t     = level_t + season_t + β·x_t + ε_t
//! level_t = level_{t-1} + slope_{t-1} + η_t
//! slope_t = slope_{t-1} + ζ_t
//! season_t = −(season_{t-1} + … + season_{t-11}) + ω_t
//! ```
//!
//! The coefficients β are states without noise, so the filter estimates
//! them with everything else. The initial state is diffuse (a large prior
//! variance), and the first observations, as many as there are states, are
//! left out of the likelihood. Variances are relative to the irregular's,
//! whose own variance is concentrated out of the likelihood.

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

/// The diffuse prior's variance, on the log scale of the series.
const DIFFUSE: f64 = 1e6;
const SEASONS: usize = 12;

/// Which components a model has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spec {
    pub trend: bool,
    pub seasonal: bool,
    pub regressors: usize,
}

impl Spec {
    pub fn states(&self) -> usize {
        self.season_at() + self.season_states() + self.regressors
    }

    fn season_at(&self) -> usize {
        1 + usize::from(self.trend)
    }

    fn season_states(&self) -> usize {
        if self.seasonal { SEASONS - 1 } else { 0 }
    }

    fn beta_at(&self) -> usize {
        self.season_at() + self.season_states()
    }

    /// How many disturbance variances the model estimates (level, then
    /// slope and season where present).
    pub fn variances(&self) -> usize {
        1 + usize::from(self.trend) + usize::from(self.seasonal)
    }

    /// T·a, with T the transition matrix applied by its structure: a
    /// level that adds the slope, a seasonal that sums and shifts.
    fn transition(&self, a: &DVector<f64>) -> DVector<f64> {
        let mut out = a.clone();
        if self.trend {
            out[0] += a[1];
        }
        if self.seasonal {
            let s0 = self.season_at();
            let sum: f64 = (0..SEASONS - 1).map(|i| a[s0 + i]).sum();
            for i in (1..SEASONS - 1).rev() {
                out[s0 + i] = a[s0 + i - 1];
            }
            out[s0] = -sum;
        }
        out
    }

    /// T·P·Tᵀ + Q, in place: T on the rows, then on the columns, and the
    /// result made exactly symmetric again.
    fn propagate(&self, p: &mut DMatrix<f64>, q: &[f64]) {
        let m = p.nrows();
        if self.trend {
            for j in 0..m {
                p[(0, j)] += p[(1, j)];
            }
            for i in 0..m {
                p[(i, 0)] += p[(i, 1)];
            }
        }
        if self.seasonal {
            let s0 = self.season_at();
            let last = s0 + SEASONS - 2;
            for j in 0..m {
                let sum: f64 = (s0..=last).map(|i| p[(i, j)]).sum();
                for i in (s0 + 1..=last).rev() {
                    p[(i, j)] = p[(i - 1, j)];
                }
                p[(s0, j)] = -sum;
            }
            for i in 0..m {
                let sum: f64 = (s0..=last).map(|j| p[(i, j)]).sum();
                for j in (s0 + 1..=last).rev() {
                    p[(i, j)] = p[(i, j - 1)];
                }
                p[(i, s0)] = -sum;
            }
        }
        for i in 0..m {
            for j in 0..i {
                let v = 0.5 * (p[(i, j)] + p[(j, i)]);
                p[(i, j)] = v;
                p[(j, i)] = v;
            }
        }
        p[(0, 0)] += q[0];
        let mut k = 1;
        if self.trend {
            p[(1, 1)] += q[k];
            k += 1;
        }
        if self.seasonal {
            let s0 = self.season_at();
            p[(s0, s0)] += q[k];
        }
    }

    /// The observation row Zₜ: level, current season, the signals.
    fn z(&self, x: &[f64]) -> DVector<f64> {
        let mut z = DVector::zeros(self.states());
        z[0] = 1.0;
        if self.seasonal {
            z[self.season_at()] = 1.0;
        }
        for (j, v) in x.iter().enumerate() {
            z[self.beta_at() + j] = *v;
        }
        z
    }
}

/// One pass of the filter over a series.
#[derive(Debug, Clone)]
pub struct Run {
    /// The concentrated log-likelihood.
    pub loglik: f64,
    /// The irregular's variance, the scale of every other variance.
    pub sigma2: f64,
    /// For every month from `keep_from` on: the predicted state's mean and
    /// covariance (before that month's observation), and Zₜ.
    pub kept: Vec<(DVector<f64>, DMatrix<f64>, DVector<f64>)>,
}

/// Filters `y` (None where unknown) with the signals `x[t]` and the
/// relative variances `q` (level, slope, season as the spec has them). The
/// first `skip` observations (at least one per state) stay out of the
/// likelihood, so that models compared on one series are scored on the
/// same months.
pub fn filter(
    spec: &Spec,
    q: &[f64],
    y: &[Option<f64>],
    x: &[Vec<f64>],
    keep_from: usize,
    skip: usize,
) -> Run {
    let skip = skip.max(spec.states());
    let m = spec.states();
    let mut a = DVector::zeros(m);
    if let Some(first) = y.iter().flatten().next() {
        a[0] = *first;
    }
    let mut p = DMatrix::identity(m, m) * DIFFUSE;
    let (mut sum_log_f, mut sum_v2, mut n, mut seen) = (0.0, 0.0, 0usize, 0usize);
    let mut kept = Vec::new();
    for (t, obs) in y.iter().enumerate() {
        let z = spec.z(x.get(t).map_or(&[][..], |v| v.as_slice()));
        if t >= keep_from {
            kept.push((a.clone(), p.clone(), z.clone()));
        }
        if let Some(obs) = *obs {
            // Z is sparse: level, the current season, the signals.
            let mut pz = p.column(0).clone_owned();
            for (j, zj) in z.iter().enumerate().skip(1) {
                if *zj != 0.0 {
                    pz.axpy(*zj, &p.column(j), 1.0);
                }
            }
            let f = z.dot(&pz) + 1.0;
            let v = obs - z.dot(&a);
            seen += 1;
            if seen > skip && f.is_finite() && f > 0.0 {
                sum_log_f += f.ln();
                sum_v2 += v * v / f;
                n += 1;
            }
            a.axpy(v / f, &pz, 1.0);
            p.ger(-1.0 / f, &pz, &pz, 1.0);
        }
        a = spec.transition(&a);
        spec.propagate(&mut p, q);
    }
    let sigma2 = if n > 0 { sum_v2 / n as f64 } else { f64::NAN };
    let loglik = if n > 0 && sigma2 > 0.0 {
        -0.5 * (n as f64 * ((2.0 * std::f64::consts::PI * sigma2).ln() + 1.0) + sum_log_f)
    } else {
        f64::NEG_INFINITY
    };
    Run {
        loglik,
        sigma2,
        kept,
    }
}

/// The joint predictive distribution of the kept months: means and the
/// covariance of the observations (scaled by σ²). Cov(αₛ, αₜ) = Tˢ⁻ᵗ Pₜ
/// for s ≥ t, since the disturbances after t are independent of αₜ.
pub fn joint(spec: &Spec, run: &Run) -> (Vec<f64>, DMatrix<f64>) {
    let h = run.kept.len();
    let mean: Vec<f64> = run.kept.iter().map(|(a, _, z)| z.dot(a)).collect();
    let mut cov = DMatrix::zeros(h, h);
    for j in 0..h {
        let (_, pj, zj) = &run.kept[j];
        let mut mz = pj * zj;
        for i in j..h {
            let zi = &run.kept[i].2;
            let c = zi.dot(&mz) * run.sigma2 + if i == j { run.sigma2 } else { 0.0 };
            cov[(i, j)] = c;
            cov[(j, i)] = c;
            mz = spec.transition(&mz);
        }
    }
    (mean, cov)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense_t(spec: &Spec) -> DMatrix<f64> {
        let m = spec.states();
        let mut t = DMatrix::zeros(m, m);
        for i in 0..m {
            let e = DVector::from_fn(m, |k, _| if k == i { 1.0 } else { 0.0 });
            t.set_column(i, &spec.transition(&e));
        }
        t
    }

    #[test]
    fn structured_transition_is_the_matrix_product() {
        let spec = Spec {
            trend: true,
            seasonal: true,
            regressors: 2,
        };
        let m = spec.states();
        assert_eq!(m, 15);
        let t = dense_t(&spec);
        // The level adds the slope; the season sums to minus the others.
        assert_eq!(t[(0, 0)], 1.0);
        assert_eq!(t[(0, 1)], 1.0);
        assert_eq!(t[(2, 5)], -1.0);
        assert_eq!(t[(3, 2)], 1.0);
        let p = DMatrix::from_fn(m, m, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        let p = &p * p.transpose();
        let q = [0.1, 0.2, 0.3];
        let mut dense = &t * &p * t.transpose();
        dense[(0, 0)] += 0.1;
        dense[(1, 1)] += 0.2;
        dense[(2, 2)] += 0.3;
        let mut fast = p.clone();
        spec.propagate(&mut fast, &q);
        assert!((dense - fast).abs().max() < 1e-9);
    }

    #[test]
    fn a_fixed_seasonal_pattern_is_learnt_and_repeated() {
        let spec = Spec {
            trend: false,
            seasonal: true,
            regressors: 0,
        };
        let pattern = [
            0.3, 0.1, -0.2, -0.4, 0.0, 0.2, 0.5, 0.1, -0.1, -0.3, -0.1, -0.1,
        ];
        let mut y: Vec<Option<f64>> = (0..48).map(|t| Some(5.0 + pattern[t % 12])).collect();
        y.extend([None; 3]);
        let run = filter(&spec, &[1e-6, 1e-6], &y, &[], 48, 0);
        let (mean, _) = joint(&spec, &run);
        for (h, m) in mean.iter().enumerate() {
            assert!(
                (m - (5.0 + pattern[(48 + h) % 12])).abs() < 1e-3,
                "{h}: {m}"
            );
        }
    }
}
