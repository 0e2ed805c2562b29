//! Nowcasts of the latest months' flows from auxiliary signals.
//!
//! Administrative flows arrive late and, under the 12/16-month rule, stay
//! provisional for over a year. Signals (search interest, mobile devices
//! seen crossing, social-media audiences) arrive at once but cover people
//! unevenly. A nowcast fits a structural time-series model ([`kalman`],
//! estimated by maximum likelihood in [`fit`]) to each corridor's final
//! months, with the signals as regressors at the lag the data choose
//! ([`model`]), and predicts the months that are not final yet, with 80 %
//! and 95 % intervals. A country's corridors are reconciled with its total
//! and months add up to quarters and years ([`reconcile`]). Every nowcast
//! carries a bias note ([`note`]); [`backtest`] replays the nowcast at past
//! months with only what was known then, against two baselines.
//!
//! Nowcasts are experimental statistics computed inside the trust
//! boundary: like any table they are protected before they are published.
//!
//! The API: [`nowcast`] (or [`nowcast_from`] on given series, as a
//! release does over a protected table) with [`Options`] gives a
//! [`Nowcast`] of [`Row`]s; [`last_final_month`] its default origin;
//! [`backtest`] with [`BacktestOptions`] gives a [`Backtest`] of
//! [`Score`]s; errors are [`NowcastError`].

pub mod bias;
pub(crate) mod fit;
pub(crate) mod kalman;
pub(crate) mod model;
pub(crate) mod note;
pub(crate) mod reconcile;
pub mod series;

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::model::{Candidate, Prediction, SeriesOptions, Z80, Z95};
use crate::series::{Corridor, Figure, FlowMeasure, Month, Signals, month_text};
use corridor_stats::TOTAL;
use corridor_store::Workspace;

#[derive(Debug, thiserror::Error)]
pub enum NowcastError {
    #[error("{0}")]
    Spec(String),
    #[error("{0}")]
    Data(String),
    #[error(transparent)]
    Stats(#[from] corridor_stats::StatsError),
    #[error(transparent)]
    Store(#[from] corridor_store::StoreError),
}

/// What to nowcast.
#[derive(Debug, Clone)]
pub struct Options {
    /// A flow measure with corridors (see [`series::FLOW_MEASURES`]).
    pub measure: String,
    /// Months after the origin to predict.
    pub horizon: usize,
    /// The last month whose administrative figure may be used (default:
    /// the last final month in the workspace).
    pub as_of: Option<Month>,
    /// The longest lag a signal may lead the flow by.
    pub max_lag: i32,
    pub use_signals: bool,
    /// Re-weight count signals that come by age group and sex by their
    /// coverage of each group ([`bias`]).
    pub reweight: bool,
    pub seed: u64,
}

impl Options {
    pub fn new(measure: &str) -> Options {
        Options {
            measure: measure.into(),
            horizon: 3,
            as_of: None,
            max_lag: 3,
            use_signals: true,
            reweight: true,
            seed: 1,
        }
    }
}

/// One published line: a corridor (or a country's total) in one period.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub reporting_country: String,
    pub origin: String,
    pub destination: String,
    /// `YYYY-MM`, `YYYY-Qn` or `YYYY`.
    pub period: String,
    /// Months after the origin (months only).
    pub horizon: Option<usize>,
    pub estimate: f64,
    pub lower80: f64,
    pub upper80: f64,
    pub lower95: f64,
    pub upper95: f64,
    /// The administrative figure of the period where the workspace holds
    /// one (when `as_of` held it back, or it is provisional).
    pub administrative: Option<f64>,
    pub model: String,
    /// The signals and their lags, e.g. `mobile_devices (lag 0)`.
    pub signals: String,
}

impl Row {
    /// A reporting country's total over its corridors.
    pub fn is_total(&self) -> bool {
        self.origin == TOTAL || self.destination == TOTAL
    }
}

/// A nowcast of every corridor of a measure.
#[derive(Debug, Clone, Serialize)]
pub struct Nowcast {
    pub measure: String,
    /// The last month of administrative figures the models saw.
    pub origin: String,
    pub signals_through: Option<String>,
    pub rows: Vec<Row>,
    /// Series by model: how many used signals, fell back, …
    pub models: BTreeMap<String, usize>,
    /// Each count signal's coverage by age group and sex, where it comes
    /// so.
    pub coverage: Vec<bias::Coverage>,
    pub note: String,
}

/// The workspace's series and signals, read once.
pub(crate) struct Inputs {
    pub measure: &'static FlowMeasure,
    pub figures: BTreeMap<Corridor, BTreeMap<Month, Figure>>,
    pub signals: Signals,
    pub signals_through: Option<Month>,
    /// Count signals by age group and sex, and the flow by the same groups.
    pub parts: BTreeMap<(String, String, String), bias::ByGroup>,
    pub by_group: BTreeMap<Corridor, bias::ByGroup>,
}

impl Inputs {
    pub fn read(ws: &Workspace, measure: &str) -> Result<Inputs, NowcastError> {
        let measure = series::flow_measure(measure)?;
        let figures = series::flows(ws, measure)?;
        if figures.is_empty() {
            return Err(NowcastError::Data(format!(
                "the workspace has no `{}` by corridor: ingest border events and run `corridor derive --workspace {}`",
                measure.name,
                ws.root().display()
            )));
        }
        let signals = series::signals(ws)?;
        let signals_through = signals
            .values()
            .filter_map(|v| v.keys().last())
            .max()
            .copied();
        let parts = series::signal_parts(ws)?;
        let by_group = if parts.is_empty() {
            BTreeMap::new()
        } else {
            series::flows_by_group(ws, measure)?
        };
        Ok(Inputs {
            measure,
            figures,
            signals,
            signals_through,
            parts,
            by_group,
        })
    }

    /// Final figures of a series up to `as_of`.
    pub fn final_figures(&self, c: &Corridor, as_of: Month) -> BTreeMap<Month, f64> {
        self.figures[c]
            .range(..=as_of)
            .filter(|(_, f)| !f.provisional)
            .map(|(m, f)| (*m, f.value))
            .collect()
    }

    /// The last month final in every series, at most `as_of`.
    pub fn origin(&self, as_of: Option<Month>) -> Option<Month> {
        origin_of(&self.figures, as_of)
    }

    /// The signals' coverage by group, from what was final at `as_of`.
    pub fn coverage(&self, as_of: Month) -> Vec<bias::Coverage> {
        if self.parts.is_empty() {
            return Vec::new();
        }
        let totals: BTreeMap<Corridor, BTreeMap<Month, f64>> = self
            .by_group
            .keys()
            .map(|c| (c.clone(), self.final_figures(c, as_of)))
            .collect();
        bias::coverage(&self.parts, &self.by_group, &totals, as_of)
    }

    /// The signals that describe a corridor: its own, or for a country's
    /// total the sum (counts) or mean (indices) over its corridors. With a
    /// coverage, a count signal that comes by group is re-weighted.
    pub fn candidates(
        &self,
        c: &Corridor,
        coverage: Option<&[bias::Coverage]>,
    ) -> Vec<(String, BTreeMap<Month, f64>)> {
        let mut out: BTreeMap<String, BTreeMap<Month, (f64, f64)>> = BTreeMap::new();
        for (key, raw) in &self.signals {
            let (kind, o, d) = key;
            let matches = if c.is_total() {
                (c.origin == TOTAL && *d == c.destination)
                    || (c.destination == TOTAL && *o == c.origin)
            } else {
                *o == c.origin && *d == c.destination
            };
            if !matches {
                continue;
            }
            let reweighted = coverage.and_then(|cov| {
                let parts = self.parts.get(key)?;
                let cov = cov
                    .iter()
                    .find(|v| v.signal == *kind && v.reporting_country == c.reporting_country)?;
                Some(bias::reweight(parts, cov))
            });
            let values = reweighted.as_ref().unwrap_or(raw);
            let e = out.entry(kind.clone()).or_default();
            for (m, v) in values {
                let s = e.entry(*m).or_default();
                s.0 += v;
                s.1 += 1.0;
            }
        }
        out.into_iter()
            .map(|(kind, v)| {
                let index = series::is_index(&kind);
                let values = v
                    .into_iter()
                    .map(|(m, (s, n))| (m, if index { s / n } else { s }))
                    .collect();
                (kind, values)
            })
            .collect()
    }
}

/// Nowcasts every corridor of `opts.measure`, and each reporting
/// country's total, for the months after the origin.
pub fn nowcast(ws: &Workspace, opts: &Options) -> Result<Nowcast, NowcastError> {
    check(opts)?;
    let inputs = Inputs::read(ws, &opts.measure)?;
    run(&inputs, opts)
}

/// The last month whose `measure` figure is final in some corridor: the
/// origin a nowcast without `as_of` starts from.
pub fn last_final_month(ws: &Workspace, measure: &str) -> Result<Option<Month>, NowcastError> {
    let measure = series::flow_measure(measure)?;
    Ok(origin_of(&series::flows(ws, measure)?, None))
}

/// The last month final in some series, at most `as_of`.
fn origin_of(
    figures: &BTreeMap<Corridor, BTreeMap<Month, Figure>>,
    as_of: Option<Month>,
) -> Option<Month> {
    figures
        .values()
        .filter_map(|f| {
            f.iter()
                .filter(|(m, v)| !v.provisional && as_of.is_none_or(|a| **m <= a))
                .map(|(m, _)| *m)
                .next_back()
        })
        .max()
}

/// Nowcasts from series given, not read from a workspace: `figures` by
/// corridor (see [`series::flows_from_cells`], e.g. from a protected
/// table) and `signals`. Count signals are used as they come (no
/// re-weighting: that needs the flow by age group and sex).
pub fn nowcast_from(
    figures: BTreeMap<Corridor, BTreeMap<Month, Figure>>,
    signals: Signals,
    opts: &Options,
) -> Result<Nowcast, NowcastError> {
    check(opts)?;
    let measure = series::flow_measure(&opts.measure)?;
    if figures.is_empty() {
        return Err(NowcastError::Data(format!(
            "no `{}` by corridor to nowcast",
            measure.name
        )));
    }
    let signals_through = signals
        .values()
        .filter_map(|v| v.keys().next_back())
        .max()
        .copied();
    let inputs = Inputs {
        measure,
        figures,
        signals,
        signals_through,
        parts: BTreeMap::new(),
        by_group: BTreeMap::new(),
    };
    run(&inputs, opts)
}

fn check(opts: &Options) -> Result<(), NowcastError> {
    if opts.horizon == 0 || opts.horizon > 24 {
        return Err(NowcastError::Spec(format!(
            "the horizon is {} months; give 1 to 24",
            opts.horizon
        )));
    }
    Ok(())
}

fn run(inputs: &Inputs, opts: &Options) -> Result<Nowcast, NowcastError> {
    let origin = inputs.origin(opts.as_of).ok_or_else(|| {
        NowcastError::Data(format!(
            "no final `{}` figure{}: nothing to fit a model to",
            opts.measure,
            opts.as_of
                .map(|a| format!(" up to {}", month_text(a)))
                .unwrap_or_default()
        ))
    })?;
    let signals_through = inputs.signals_through.unwrap_or(origin);
    let series_opts = SeriesOptions {
        horizon: opts.horizon,
        signals_through,
        max_lag: opts.max_lag,
        use_signals: opts.use_signals,
    };
    let coverage = inputs.coverage(origin);
    let corridors: Vec<&Corridor> = inputs.figures.keys().collect();
    let predictions: Vec<(Corridor, BTreeMap<Month, f64>, Prediction)> = corridors
        .par_iter()
        .map(|c| {
            let known = inputs.final_figures(c, origin);
            let cands = inputs.candidates(c, opts.reweight.then_some(coverage.as_slice()));
            let cands: Vec<Candidate> = cands
                .iter()
                .map(|(k, v)| Candidate { kind: k, values: v })
                .collect();
            let p = model::predict(&known, origin, &cands, &series_opts, None);
            ((*c).clone(), known, p)
        })
        .collect();

    // Reconcile each reporting country's corridors with its totals (one
    // total per direction: all origins, all destinations).
    let mut adjust: Vec<Vec<f64>> = vec![vec![0.0; opts.horizon]; predictions.len()];
    for (ti, (total, _, tp)) in predictions.iter().enumerate() {
        if !total.is_total() {
            continue;
        }
        let parts: Vec<usize> = predictions
            .iter()
            .enumerate()
            .filter(|(_, (c, _, _))| {
                !c.is_total()
                    && c.reporting_country == total.reporting_country
                    && (total.origin == TOTAL && c.destination == total.destination
                        || total.destination == TOTAL && c.origin == total.origin)
            })
            .map(|(i, _)| i)
            .collect();
        let refs: Vec<&Prediction> = parts.iter().map(|&i| &predictions[i].2).collect();
        let (to_total, to_parts) = reconcile::adjustments(tp, &refs);
        adjust[ti] = to_total;
        for (k, &i) in parts.iter().enumerate() {
            adjust[i] = to_parts[k].clone();
        }
    }

    let mut rows = Vec::new();
    let mut models: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (c, known, p)) in predictions.iter().enumerate() {
        *models.entry(p.model.clone()).or_default() += 1;
        let signals = p
            .used
            .iter()
            .map(|u| format!("{} (lag {})", u.kind, u.lag))
            .collect::<Vec<_>>()
            .join("; ");
        // The workspace's figure for a period, when it holds all its months.
        let admin = |period: &str| -> Option<f64> {
            let f = &inputs.figures[c];
            let months = series::period_months(period)?;
            months
                .iter()
                .map(|m| f.get(m).map(|x| x.value))
                .sum::<Option<f64>>()
        };
        let row =
            |period: String, horizon: Option<usize>, est: f64, i80: (f64, f64), i95: (f64, f64)| {
                Row {
                    reporting_country: c.reporting_country.clone(),
                    origin: c.origin.clone(),
                    destination: c.destination.clone(),
                    administrative: if horizon.is_some() {
                        admin(&period)
                    } else {
                        None
                    },
                    period,
                    horizon,
                    estimate: est,
                    lower80: i80.0,
                    upper80: i80.1,
                    lower95: i95.0,
                    upper95: i95.1,
                    model: p.model.clone(),
                    signals: signals.clone(),
                }
            };
        for (h, m) in p.months.iter().enumerate() {
            let a = adjust[i][h];
            let shift = |(lo, hi): (f64, f64)| ((lo + a).max(0.0), (hi + a).max(0.0));
            rows.push(row(
                month_text(*m),
                Some(h + 1),
                (p.estimate(h) + a).max(0.0),
                shift(p.interval(h, Z80)),
                shift(p.interval(h, Z95)),
            ));
        }
        let seed = opts.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for per in reconcile::periods(p, &adjust[i], known, seed) {
            rows.push(row(
                per.period,
                None,
                per.estimate,
                (per.lower80, per.upper80),
                (per.lower95, per.upper95),
            ));
        }
    }
    let note = note::bias_note(inputs, &predictions, origin, &coverage, opts.reweight);
    Ok(Nowcast {
        measure: opts.measure.clone(),
        origin: month_text(origin),
        signals_through: inputs.signals_through.map(month_text),
        rows,
        models,
        coverage,
        note,
    })
}

impl Nowcast {
    /// The rows as CSV, every row labelled experimental. Values to one
    /// decimal, or whole persons with `whole`; the administrative figure
    /// beside only with `administrative` (a release does not repeat it:
    /// its tables hold the protected one).
    pub fn to_csv(&self, whole: bool, administrative: bool) -> Result<String, NowcastError> {
        let err = |e: csv::Error| NowcastError::Data(format!("writing the nowcast: {e}"));
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header = vec![
            "measure",
            "reporting_country",
            "origin",
            "destination",
            "period",
            "horizon",
            "estimate",
            "lower80",
            "upper80",
            "lower95",
            "upper95",
        ];
        if administrative {
            header.push("administrative");
        }
        header.extend(["model", "signals", "status"]);
        w.write_record(&header).map_err(err)?;
        let num = |v: f64| {
            if whole {
                format!("{}", v.round() as i64)
            } else {
                format!("{v:.1}")
            }
        };
        for r in &self.rows {
            let mut row = vec![
                self.measure.clone(),
                r.reporting_country.clone(),
                r.origin.clone(),
                r.destination.clone(),
                r.period.clone(),
                r.horizon.map(|h| h.to_string()).unwrap_or_default(),
                num(r.estimate),
                num(r.lower80),
                num(r.upper80),
                num(r.lower95),
                num(r.upper95),
            ];
            if administrative {
                row.push(r.administrative.map(num).unwrap_or_default());
            }
            row.extend([r.model.clone(), r.signals.clone(), "experimental".into()]);
            w.write_record(&row).map_err(err)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| NowcastError::Data(format!("writing the nowcast: {e}")))?;
        String::from_utf8(bytes).map_err(|e| NowcastError::Data(e.to_string()))
    }
}

/// A rolling-origin back-test.
#[derive(Debug, Clone)]
pub struct BacktestOptions {
    pub from: Month,
    pub to: Month,
    /// Months the signals run ahead of the final administrative figures.
    pub signal_lead: i32,
}

/// One method's scores at one horizon.
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    pub method: String,
    pub horizon: usize,
    /// Forecasts scored (series × origins).
    pub n: usize,
    pub mape: f64,
    pub mase: f64,
    pub coverage80: Option<f64>,
    pub coverage95: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Backtest {
    pub measure: String,
    pub from: String,
    pub to: String,
    pub origins: usize,
    pub series: usize,
    pub scores: Vec<Score>,
}

/// The three methods a back-test compares.
pub const METHODS: [&str; 3] = ["corridor", "no signals", "seasonal naive"];

/// Re-runs the nowcast at every origin from..=to with only what was known
/// then: final figures up to the origin, signals up to origin + lead. Each
/// corridor's forecasts are scored against its figure final today.
pub fn backtest(
    ws: &Workspace,
    opts: &Options,
    bt: &BacktestOptions,
) -> Result<Backtest, NowcastError> {
    if bt.from > bt.to {
        return Err(NowcastError::Spec(format!(
            "the back-test runs from {} to {}: the first origin must not be after the last",
            month_text(bt.from),
            month_text(bt.to)
        )));
    }
    let inputs = Inputs::read(ws, &opts.measure)?;
    let today = inputs.origin(None).unwrap_or(bt.to);
    let corridors: Vec<&Corridor> = inputs.figures.keys().filter(|c| !c.is_total()).collect();
    let h = opts.horizon;
    // What was known of the signals' coverage at each origin.
    let coverage: BTreeMap<Month, Vec<bias::Coverage>> = if opts.reweight {
        (bt.from..=bt.to).map(|o| (o, inputs.coverage(o))).collect()
    } else {
        BTreeMap::new()
    };
    // (method, horizon) → (Σ ape, n ape, Σ scaled error, n, in 80, in 95, n scored)
    type Acc = [f64; 7];
    let per_series: Vec<BTreeMap<(usize, usize), Acc>> = corridors
        .par_iter()
        .map(|c| {
            let all = inputs.final_figures(c, today);
            let mut acc: BTreeMap<(usize, usize), Acc> = BTreeMap::new();
            let mut start: Option<(kalman::Spec, Vec<f64>)> = None;
            for origin in bt.from..=bt.to {
                let known: BTreeMap<Month, f64> =
                    all.range(..=origin).map(|(m, v)| (*m, *v)).collect();
                let scale = mase_scale(&known);
                let Some(scale) = scale.filter(|s| *s > 0.0) else {
                    continue;
                };
                if known.len() < model::MIN_MONTHS {
                    continue;
                }
                let cov = coverage.get(&origin).map(Vec::as_slice);
                let visible: Vec<(String, BTreeMap<Month, f64>)> = inputs
                    .candidates(c, cov)
                    .into_iter()
                    .map(|(kind, values)| {
                        let seen = values
                            .range(..=origin + bt.signal_lead)
                            .map(|(m, v)| (*m, *v))
                            .collect();
                        (kind, seen)
                    })
                    .collect();
                let visible: Vec<Candidate> = visible
                    .iter()
                    .map(|(k, v)| Candidate { kind: k, values: v })
                    .collect();
                let so = SeriesOptions {
                    horizon: h,
                    signals_through: origin + bt.signal_lead,
                    max_lag: opts.max_lag,
                    use_signals: true,
                };
                let (with, without) =
                    model::predict_both(&known, origin, &visible, &so, start.as_ref());
                start = without.start.clone();
                for (method, p) in [(0, &with), (1, &without)] {
                    for i in 0..h {
                        let Some(truth) = all.get(&(origin + 1 + i as i32)) else {
                            continue;
                        };
                        let (l80, u80) = p.interval(i, Z80);
                        let (l95, u95) = p.interval(i, Z95);
                        score(
                            acc.entry((method, i)).or_default(),
                            p.estimate(i),
                            *truth,
                            scale,
                            Some((
                                l80 <= *truth && *truth <= u80,
                                l95 <= *truth && *truth <= u95,
                            )),
                        );
                    }
                }
                for i in 0..h {
                    let m = origin + 1 + i as i32;
                    let (Some(truth), Some(naive)) =
                        (all.get(&m), model::seasonal_naive(&known, origin, m))
                    else {
                        continue;
                    };
                    score(acc.entry((2, i)).or_default(), naive, *truth, scale, None);
                }
            }
            acc
        })
        .collect();
    let mut total: BTreeMap<(usize, usize), Acc> = BTreeMap::new();
    for s in &per_series {
        for (k, v) in s {
            let t = total.entry(*k).or_default();
            for j in 0..7 {
                t[j] += v[j];
            }
        }
    }
    let scores = total
        .into_iter()
        .map(|((method, i), a)| Score {
            method: METHODS[method].into(),
            horizon: i + 1,
            n: a[3] as usize,
            mape: if a[1] > 0.0 { a[0] / a[1] } else { f64::NAN },
            mase: if a[3] > 0.0 { a[2] / a[3] } else { f64::NAN },
            coverage80: (a[6] > 0.0).then(|| a[4] / a[6]),
            coverage95: (a[6] > 0.0).then(|| a[5] / a[6]),
        })
        .collect();
    Ok(Backtest {
        measure: opts.measure.clone(),
        from: month_text(bt.from),
        to: month_text(bt.to),
        origins: (bt.to - bt.from + 1) as usize,
        series: corridors.len(),
        scores,
    })
}

fn score(acc: &mut [f64; 7], estimate: f64, truth: f64, scale: f64, inside: Option<(bool, bool)>) {
    let e = (estimate - truth).abs();
    if truth > 0.0 {
        acc[0] += e / truth;
        acc[1] += 1.0;
    }
    acc[2] += e / scale;
    acc[3] += 1.0;
    if let Some((a, b)) = inside {
        acc[4] += f64::from(u8::from(a));
        acc[5] += f64::from(u8::from(b));
        acc[6] += 1.0;
    }
}

/// MASE's scale: the in-sample mean absolute change from the same month a
/// year before.
fn mase_scale(known: &BTreeMap<Month, f64>) -> Option<f64> {
    let d: Vec<f64> = known
        .iter()
        .filter_map(|(m, v)| known.get(&(m - 12)).map(|b| (v - b).abs()))
        .collect();
    (!d.is_empty()).then(|| d.iter().sum::<f64>() / d.len() as f64)
}
