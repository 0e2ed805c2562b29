//! One series' nowcast: choose the model's components and the signals'
//! lags from the data, fit, predict the months after the origin.

use std::collections::BTreeMap;

use nalgebra::DMatrix;
use serde::Serialize;

use crate::fit;
use crate::kalman::Spec;
use crate::series::Month;

/// The normal quantiles of the two intervals.
pub const Z80: f64 = 1.281_551_565_5;
pub const Z95: f64 = 1.959_963_985;

/// Fewer final months than this and a series gets the fallback (the mean
/// of its last year), not a model.
pub const MIN_MONTHS: usize = 18;
/// Seasonality needs two full years on top of the diffuse start.
const SEASONAL_MONTHS: usize = 30;
/// A signal joins the model only if it lowers AIC by this much.
const AIC_GAIN: f64 = 2.0;

/// A signal as a candidate regressor.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub kind: &'a str,
    pub values: &'a BTreeMap<Month, f64>,
}

/// A signal the model uses, at the lag the data chose.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Used {
    pub kind: String,
    /// The signal of month t − lag explains the flow of month t.
    pub lag: i32,
}

/// What one series' model predicts for the months after its origin.
#[derive(Debug, Clone)]
pub struct Prediction {
    /// Origin + 1, origin + 2, …
    pub months: Vec<Month>,
    /// Log scale (log(1 + count)): means and joint covariance.
    pub mean: Vec<f64>,
    pub cov: DMatrix<f64>,
    pub used: Vec<Used>,
    /// `local level`, `local linear trend`, `+ seasonal`, or `fallback`.
    pub model: String,
    /// The model without signals and its log variances, to start the next
    /// origin's fit from (back-tests); None for the fallback.
    pub start: Option<(Spec, Vec<f64>)>,
}

impl Prediction {
    pub fn sd(&self, i: usize) -> f64 {
        self.cov[(i, i)].max(0.0).sqrt()
    }

    /// Point nowcast (the predictive median) and the interval at `z`.
    pub fn estimate(&self, i: usize) -> f64 {
        (self.mean[i].exp() - 1.0).max(0.0)
    }

    pub fn interval(&self, i: usize, z: f64) -> (f64, f64) {
        let (m, s) = (self.mean[i], self.sd(i));
        (
            ((m - z * s).exp() - 1.0).max(0.0),
            ((m + z * s).exp() - 1.0).max(0.0),
        )
    }

    /// The predictive variance on the count scale (log-normal).
    pub fn variance(&self, i: usize) -> f64 {
        let (m, s2) = (self.mean[i], self.cov[(i, i)].max(0.0));
        (s2.exp() - 1.0) * (2.0 * m + s2).exp()
    }
}

/// How to model one series.
#[derive(Debug, Clone, Copy)]
pub struct SeriesOptions {
    pub horizon: usize,
    /// The last month any signal is known for.
    pub signals_through: Month,
    pub max_lag: i32,
    pub use_signals: bool,
}

/// Predicts months origin+1 ..= origin+horizon of `final_figures` (only
/// months ≤ origin are read). `start` is a previous fit's spec and
/// variances, to begin from.
pub fn predict(
    final_figures: &BTreeMap<Month, f64>,
    origin: Month,
    candidates: &[Candidate],
    opts: &SeriesOptions,
    start: Option<&(Spec, Vec<f64>)>,
) -> Prediction {
    predict_both(final_figures, origin, candidates, opts, start).0
}

/// [`predict`], and the same model without signals (the back-test's
/// baseline), which it fits on the way.
pub fn predict_both(
    final_figures: &BTreeMap<Month, f64>,
    origin: Month,
    candidates: &[Candidate],
    opts: &SeriesOptions,
    start: Option<&(Spec, Vec<f64>)>,
) -> (Prediction, Prediction) {
    let months: Vec<Month> = (1..=opts.horizon as i32).map(|h| origin + h).collect();
    let known: Vec<(Month, f64)> = final_figures
        .range(..=origin)
        .map(|(m, v)| (*m, *v))
        .collect();
    let Some(&(first, _)) = known.first() else {
        let f = fallback(&known, months);
        return (f.clone(), f);
    };
    let observed = known.len();
    if observed < MIN_MONTHS {
        let f = fallback(&known, months);
        return (f.clone(), f);
    }
    let len = (origin - first + 1) as usize + opts.horizon;
    let mut y: Vec<Option<f64>> = vec![None; len];
    for (m, v) in &known {
        y[(m - first) as usize] = Some(v.max(0.0).ln_1p());
    }
    let seasonal = observed >= SEASONAL_MONTHS;
    // Every model of this series is scored on the same months.
    let skip = Spec {
        trend: true,
        seasonal,
        regressors: if opts.use_signals {
            candidates.len()
        } else {
            0
        },
    }
    .states();

    // The components: a trend only where the likelihood wants one.
    let base_of = |trend: bool| Spec {
        trend,
        seasonal,
        regressors: 0,
    };
    let warm = |spec: &Spec| {
        start
            .filter(|(s, _)| s.trend == spec.trend && s.seasonal == spec.seasonal)
            .map(|(_, q)| q.as_slice())
    };
    // A warm start (the previous origin of a back-test) keeps its trend
    // choice while the seasonal component stays as it was.
    let kept = start
        .filter(|(s, _)| s.seasonal == seasonal)
        .map(|(s, _)| base_of(s.trend));
    let (base, base_fit) = if let Some(spec) = kept {
        (spec, fit::fit(spec, &y, &[], warm(&spec), skip))
    } else {
        let level = fit::fit(base_of(false), &y, &[], warm(&base_of(false)), skip);
        let trend = fit::fit(base_of(true), &y, &[], warm(&base_of(true)), skip);
        if trend.aic() + AIC_GAIN < level.aic() {
            (base_of(true), trend)
        } else {
            (base_of(false), level)
        }
    };

    // Each signal at the lag its changes best follow the flow's, kept if
    // it improves the fit over the model so far, on the same months.
    let mut used: Vec<(Used, Vec<Option<f64>>)> = Vec::new();
    let (mut current, mut cur_y, mut cur_x) = (base_fit.clone(), y.clone(), Vec::new());
    if opts.use_signals {
        let target_end = origin + opts.horizon as i32;
        let min_lag = (target_end - opts.signals_through).max(0);
        for c in candidates {
            let Some(lag) = best_lag(&y, first, c.values, min_lag, opts.max_lag) else {
                continue;
            };
            let x = regressor(c.values, first, len, lag);
            let mut trial: Vec<&[Option<f64>]> = used.iter().map(|(_, x)| x.as_slice()).collect();
            trial.push(&x);
            let (yy, xx) = design(&y, &trial);
            let spec = Spec {
                regressors: trial.len(),
                ..base
            };
            let with = fit::fit(spec, &yy, &xx, Some(&current.log_q()), skip);
            let same_months = yy
                .iter()
                .zip(&cur_y)
                .all(|(a, b)| a.is_some() == b.is_some());
            let without = if same_months {
                current.clone()
            } else {
                let (yb, xb) = design(&y, &trial[..trial.len() - 1]);
                fit::fit(
                    Spec {
                        regressors: trial.len() - 1,
                        ..base
                    },
                    &yb_only_where(&yb, &yy),
                    &xb,
                    Some(&current.log_q()),
                    skip,
                )
            };
            if with.aic() + AIC_GAIN < without.aic() {
                used.push((
                    Used {
                        kind: c.kind.to_string(),
                        lag,
                    },
                    x,
                ));
                (current, cur_y, cur_x) = (with, yy, xx);
            }
        }
    }

    let from = (origin - first + 1) as usize;
    let label = |spec: &Spec| {
        format!(
            "{}{}{}",
            if spec.trend {
                "local linear trend"
            } else {
                "local level"
            },
            if spec.seasonal { " + seasonal" } else { "" },
            if spec.regressors == 0 {
                ""
            } else {
                " + signals"
            }
        )
    };
    let (mean, cov) = current.predict(&cur_y, &cur_x, from);
    let with = Prediction {
        months: months.clone(),
        mean,
        cov,
        used: used.into_iter().map(|(u, _)| u).collect(),
        model: label(&current.spec),
        start: Some((base_fit.spec, base_fit.log_q())),
    };
    let without = if with.used.is_empty() {
        with.clone()
    } else {
        let (mean, cov) = base_fit.predict(&y, &[], from);
        Prediction {
            months,
            mean,
            cov,
            used: Vec::new(),
            model: label(&base_fit.spec),
            start: Some((base_fit.spec, base_fit.log_q())),
        }
    };
    (with, without)
}

/// The compared model sees the same months as the model with the signal.
fn yb_only_where(yb: &[Option<f64>], yy: &[Option<f64>]) -> Vec<Option<f64>> {
    yb.iter()
        .zip(yy)
        .map(|(b, y)| if y.is_some() { *b } else { None })
        .collect()
}

/// The regressor log(1 + signal) at `lag`, on the series' months.
fn regressor(
    values: &BTreeMap<Month, f64>,
    first: Month,
    len: usize,
    lag: i32,
) -> Vec<Option<f64>> {
    (0..len)
        .map(|t| {
            values
                .get(&(first + t as i32 - lag))
                .map(|v| v.max(0.0).ln_1p())
        })
        .collect()
}

/// The months where every regressor is known, and the regressors' rows.
/// A month where one is missing is left out of the fit.
fn design(y: &[Option<f64>], xs: &[&[Option<f64>]]) -> (Vec<Option<f64>>, Vec<Vec<f64>>) {
    let mut yy = Vec::with_capacity(y.len());
    let mut xx = Vec::with_capacity(y.len());
    for t in 0..y.len() {
        let row: Option<Vec<f64>> = xs.iter().map(|x| x[t]).collect();
        match row {
            Some(r) => {
                yy.push(y[t]);
                xx.push(r);
            }
            None => {
                yy.push(None);
                xx.push(vec![0.0; xs.len()]);
            }
        }
    }
    (yy, xx)
}

/// The lag (min_lag ..= max_lag) at which the signal's month-on-month
/// changes correlate best with the flow's; None if the signal is not known
/// for most of the months or follows the flow at no lag.
fn best_lag(
    y: &[Option<f64>],
    first: Month,
    values: &BTreeMap<Month, f64>,
    min_lag: i32,
    max_lag: i32,
) -> Option<i32> {
    let mut best: Option<(i32, f64)> = None;
    for lag in min_lag..=max_lag {
        let x = |t: usize| {
            values
                .get(&(first + t as i32 - lag))
                .map(|v| v.max(0.0).ln_1p())
        };
        let mut pairs = Vec::new();
        for t in 1..y.len() {
            if let (Some(y1), Some(y0), Some(x1), Some(x0)) = (y[t], y[t - 1], x(t), x(t - 1)) {
                pairs.push((y1 - y0, x1 - x0));
            }
        }
        if pairs.len() < MIN_MONTHS / 2 {
            continue;
        }
        let r = correlation(&pairs);
        if r > 0.2 && best.is_none_or(|(_, b)| r > b) {
            best = Some((lag, r));
        }
    }
    best.map(|(lag, _)| lag)
}

fn correlation(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len() as f64;
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in pairs {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    if sxx <= 0.0 || syy <= 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

/// Too short a series: its last year's mean, with that year's spread.
fn fallback(known: &[(Month, f64)], months: Vec<Month>) -> Prediction {
    let last: Vec<f64> = known
        .iter()
        .rev()
        .take(12)
        .map(|(_, v)| v.max(0.0).ln_1p())
        .collect();
    let n = last.len().max(1) as f64;
    let mean = last.iter().sum::<f64>() / n;
    let var = if last.len() > 1 {
        last.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        1.0
    }
    .max(0.05);
    let h = months.len();
    Prediction {
        months,
        mean: vec![mean; h],
        cov: DMatrix::identity(h, h) * var,
        used: Vec::new(),
        model: "fallback".into(),
        start: None,
    }
}

/// Same month last year, scaled by the last three months against the same
/// three a year before: the seasonal naive baseline.
pub fn seasonal_naive(
    final_figures: &BTreeMap<Month, f64>,
    origin: Month,
    month: Month,
) -> Option<f64> {
    let get = |m: Month| final_figures.get(&m).copied();
    let mut back = month - 12;
    while back > origin {
        back -= 12;
    }
    let base = get(back)?;
    let recent: f64 = (0..3).filter_map(|i| get(origin - i)).sum();
    let before: f64 = (0..3).filter_map(|i| get(origin - i - 12)).sum();
    let trend = if before > 0.0 && recent > 0.0 {
        (recent / before).clamp(0.2, 5.0)
    } else {
        1.0
    };
    Some(base * trend)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    /// A seasonal flow that follows a signal one month late: the model
    /// finds the lag, keeps the signal, and beats the seasonal naive
    /// forecast when the flow breaks from its pattern.
    #[test]
    fn a_leading_signal_is_found_and_used() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let noise = Normal::new(0.0, 0.03).expect("valid");
        let walk = Normal::new(0.0, 0.15).expect("valid");
        let start = 2020 * 12;
        let mut driver: f64 = 6.0;
        let mut signal = BTreeMap::new();
        let mut flow = BTreeMap::new();
        for t in 0..60 {
            driver += walk.sample(&mut rng);
            signal.insert(start + t, driver.exp());
            let season = 0.3 * ((t % 12) as f64 / 12.0 * std::f64::consts::TAU).sin();
            let v = (driver + season + noise.sample(&mut rng)).exp();
            flow.insert(start + t + 1, v);
        }
        let origin = start + 56;
        let opts = SeriesOptions {
            horizon: 3,
            signals_through: start + 59,
            max_lag: 3,
            use_signals: true,
        };
        let c = [Candidate {
            kind: "search_interest",
            values: &signal,
        }];
        let p = predict(&flow, origin, &c, &opts, None);
        assert_eq!(
            p.used,
            vec![Used {
                kind: "search_interest".into(),
                lag: 1
            }]
        );
        let no = predict(
            &flow,
            origin,
            &c,
            &SeriesOptions {
                use_signals: false,
                ..opts
            },
            None,
        );
        let mut inside = 0;
        for i in 0..3 {
            let truth = flow[&(origin + 1 + i as i32)];
            let e_signal = (p.estimate(i) - truth).abs();
            let e_none = (no.estimate(i) - truth).abs();
            let naive = seasonal_naive(&flow, origin, origin + 1 + i as i32).expect("a year back");
            assert!(
                e_signal < e_none.max((naive - truth).abs()),
                "{i}: {e_signal} {e_none} {naive}"
            );
            let (lo, hi) = p.interval(i, Z95);
            inside += usize::from(lo <= truth && truth <= hi);
            // What the signal explains narrows the interval.
            let (nlo, nhi) = no.interval(i, Z95);
            assert!(hi - lo < nhi - nlo, "{i}: {lo}..{hi} vs {nlo}..{nhi}");
        }
        assert!(inside >= 2, "{inside} of 3 inside the 95 % intervals");
    }

    #[test]
    fn a_short_series_gets_the_fallback() {
        let flow: BTreeMap<Month, f64> = (0..10).map(|m| (24_000 + m, 100.0)).collect();
        let p = predict(
            &flow,
            24_009,
            &[],
            &SeriesOptions {
                horizon: 2,
                signals_through: 24_009,
                max_lag: 3,
                use_signals: true,
            },
            None,
        );
        assert_eq!(p.model, "fallback");
        assert!((p.estimate(0) - 100.0).abs() < 1e-6);
        assert_eq!(p.months, vec![24_010, 24_011]);
    }

    #[test]
    fn seasonal_naive_scales_last_year_by_the_trend() {
        let mut f = BTreeMap::new();
        for m in 0..24 {
            f.insert(m, if m < 12 { 100.0 } else { 110.0 });
        }
        f.insert(13, 200.0);
        // month 25 → month 13 (200) × (110·3 / 100·3)
        assert!((seasonal_naive(&f, 23, 25).expect("base") - 220.0).abs() < 1e-9);
    }
}
