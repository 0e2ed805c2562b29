//! Maximum likelihood: the disturbance variances that make the filter's
//! one-step errors most likely, found by Nelder–Mead on their logarithms.

use crate::kalman::{self, Run, Spec};
use nalgebra::DMatrix;

/// Log relative variances are kept in this range: below it a component is
/// fixed, above it the irregular has vanished.
const LOG_Q: (f64, f64) = (-18.0, 4.0);

/// A fitted model.
#[derive(Debug, Clone)]
pub struct Fitted {
    pub spec: Spec,
    /// Relative variances (level, slope, season), irregular = 1.
    pub q: Vec<f64>,
    pub loglik: f64,
    /// Observations left out of the likelihood (the diffuse start).
    pub skip: usize,
}

impl Fitted {
    /// Akaike's criterion: the variances and the signals' coefficients
    /// are the parameters.
    pub fn aic(&self) -> f64 {
        -2.0 * self.loglik + 2.0 * (self.spec.variances() + self.spec.regressors) as f64
    }
}

/// Fits `spec` to `y` (None where unknown) with signals `x[t]`, starting
/// from `start` (log relative variances) when a previous fit is at hand;
/// `skip` as in [`kalman::filter`].
pub fn fit(
    spec: Spec,
    y: &[Option<f64>],
    x: &[Vec<f64>],
    start: Option<&[f64]>,
    skip: usize,
) -> Fitted {
    let k = spec.variances();
    let default: Vec<f64> = [-2.0, -5.0, -5.0][..k].to_vec();
    let start = start.filter(|s| s.len() == k).unwrap_or(&default);
    let objective = |log_q: &[f64]| {
        let q: Vec<f64> = log_q
            .iter()
            .map(|v| v.clamp(LOG_Q.0, LOG_Q.1).exp())
            .collect();
        let run = kalman::filter(&spec, &q, y, x, y.len(), skip);
        if run.loglik.is_finite() {
            -run.loglik
        } else {
            f64::INFINITY
        }
    };
    let (best, _) = nelder_mead(objective, start, 1.5, 60 * k);
    let q: Vec<f64> = best
        .iter()
        .map(|v| v.clamp(LOG_Q.0, LOG_Q.1).exp())
        .collect();
    let run = kalman::filter(&spec, &q, y, x, y.len(), skip);
    Fitted {
        spec,
        q,
        loglik: run.loglik,
        skip,
    }
}

impl Fitted {
    /// The log relative variances, to start the next fit from.
    pub fn log_q(&self) -> Vec<f64> {
        self.q.iter().map(|q| q.ln()).collect()
    }

    /// Filters `y` again and returns the joint predictive distribution of
    /// the months from `from` on (means and covariance, log scale).
    pub fn predict(
        &self,
        y: &[Option<f64>],
        x: &[Vec<f64>],
        from: usize,
    ) -> (Vec<f64>, DMatrix<f64>) {
        let run: Run = kalman::filter(&self.spec, &self.q, y, x, from, self.skip);
        kalman::joint(&self.spec, &run)
    }
}

/// Minimises `f` from `start` by the Nelder–Mead simplex (reflection 1,
/// expansion 2, contraction ½, shrink ½).
pub(crate) fn nelder_mead(
    f: impl Fn(&[f64]) -> f64,
    start: &[f64],
    step: f64,
    max_evals: usize,
) -> (Vec<f64>, f64) {
    let n = start.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(n + 1);
    simplex.push((start.to_vec(), f(start)));
    for i in 0..n {
        let mut p = start.to_vec();
        p[i] += step;
        let v = f(&p);
        simplex.push((p, v));
    }
    let mut evals = n + 1;
    let order = |s: &mut Vec<(Vec<f64>, f64)>| {
        s.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal))
    };
    while evals < max_evals {
        order(&mut simplex);
        let (best, worst) = (simplex[0].1, simplex[n].1);
        if (worst - best).abs() <= 1e-7 * (1.0 + best.abs()) {
            break;
        }
        let centroid: Vec<f64> = (0..n)
            .map(|j| simplex[..n].iter().map(|(p, _)| p[j]).sum::<f64>() / n as f64)
            .collect();
        let towards = |t: f64| -> Vec<f64> {
            centroid
                .iter()
                .zip(&simplex[n].0)
                .map(|(c, w)| c + t * (c - w))
                .collect()
        };
        let reflected = towards(1.0);
        let fr = f(&reflected);
        evals += 1;
        if fr < simplex[0].1 {
            let expanded = towards(2.0);
            let fe = f(&expanded);
            evals += 1;
            simplex[n] = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
        } else if fr < simplex[n - 1].1 {
            simplex[n] = (reflected, fr);
        } else {
            let contracted = if fr < simplex[n].1 {
                towards(0.5)
            } else {
                towards(-0.5)
            };
            let fc = f(&contracted);
            evals += 1;
            if fc < fr.min(simplex[n].1) {
                simplex[n] = (contracted, fc);
            } else {
                let best = simplex[0].0.clone();
                for s in simplex.iter_mut().skip(1) {
                    for (v, b) in s.0.iter_mut().zip(&best) {
                        *v = b + 0.5 * (*v - b);
                    }
                    s.1 = f(&s.0);
                    evals += 1;
                }
            }
        }
    }
    order(&mut simplex);
    simplex.swap_remove(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn nelder_mead_finds_a_quadratic_minimum() {
        let (p, v) = nelder_mead(
            |x| (x[0] - 1.0).powi(2) + 3.0 * (x[1] + 2.0).powi(2),
            &[0.0, 0.0],
            1.0,
            400,
        );
        assert!(
            (p[0] - 1.0).abs() < 1e-3 && (p[1] + 2.0).abs() < 1e-3,
            "{p:?}"
        );
        assert!(v < 1e-6);
    }

    /// A local level with known variances: ML finds their ratio roughly,
    /// and the 95 % interval of the next month holds about 95 % of draws.
    #[test]
    fn maximum_likelihood_recovers_a_local_level() {
        let spec = Spec {
            trend: false,
            seasonal: false,
            regressors: 0,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let level_noise = Normal::new(0.0, 0.2).expect("valid");
        let irregular = Normal::new(0.0, 0.2).expect("valid");
        let (mut inside, trials) = (0, 200);
        let mut ratios = Vec::new();
        for _ in 0..trials {
            let mut level = 5.0;
            let mut y = Vec::new();
            for _ in 0..61 {
                level += level_noise.sample(&mut rng);
                y.push(level + irregular.sample(&mut rng));
            }
            let truth = y[60];
            let mut obs: Vec<Option<f64>> = y[..60].iter().map(|v| Some(*v)).collect();
            obs.push(None);
            let f = fit(spec, &obs, &[], None, 0);
            ratios.push(f.q[0]);
            let (mean, cov) = f.predict(&obs, &[], 60);
            let sd = cov[(0, 0)].sqrt();
            if (truth - mean[0]).abs() <= 1.96 * sd {
                inside += 1;
            }
        }
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        assert!((0.4..2.5).contains(&median), "median ratio {median}");
        let coverage = inside as f64 / trials as f64;
        assert!((0.88..=0.99).contains(&coverage), "coverage {coverage}");
    }
}
