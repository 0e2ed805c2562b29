//! Corridor synth: publishable versions of sensitive case records.
//!
//! - [`ksynth`]: k-synthetic microdata and aggregates (every published
//!   combination of up to L attributes is held by at least k victims).
//! - [`dp`]: differentially private synthesis from noisy marginals, with
//!   OpenDP's samplers and a recorded privacy loss.
//! - [`report`]: the utility and risk report of any synthetic table.
//!
//! [`write_ksynthetic`] and [`write_dp`] write a folder a publisher can
//! review: the data, the aggregates, the report (JSON + HTML) and a README
//! in plain words.

pub mod combos;
pub mod dp;
pub mod ksynth;
pub mod report;
pub mod table;

use std::path::{Path, PathBuf};

pub use dp::{DpSynthetic, PrivacyLoss};
pub use ksynth::{KOptions, KSynthetic};
pub use report::{IndicatorColumns, Report};
pub use table::Table;

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Csv { path: PathBuf, message: String },
    #[error("{0}")]
    Input(String),
    #[error("privacy measurement failed: {0}")]
    Privacy(String),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What the report needs beyond the tables.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub indicator: IndicatorColumns,
    /// Population for SDG 16.2.2 rates (per 100,000), by sex and age.
    pub population: Option<report::Population>,
    /// Where the sensitive data came from, for the README.
    pub source: String,
}

/// Runs k-synthetic synthesis and writes `synthetic.csv`,
/// `aggregates.csv`, `report.json`, `report.html` and `README.md` into
/// `dir`.
pub fn write_ksynthetic(
    table: &Table,
    opts: &KOptions,
    ctx: &Context,
    dir: &Path,
) -> Result<(KSynthetic, Report), SynthError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let out = ksynth::synthesize(table, opts);
    out.synthetic.write_csv(&dir.join("synthetic.csv"))?;
    let agg = dir.join("aggregates.csv");
    let err = |e: csv::Error| SynthError::Csv {
        path: agg.clone(),
        message: e.to_string(),
    };
    let mut w = csv::Writer::from_path(&agg).map_err(err)?;
    w.write_record(["selections", "length", "count"])
        .map_err(err)?;
    for (c, n) in &out.aggregates {
        w.write_record([
            combos::describe(table, *c),
            combos::length(*c).to_string(),
            n.to_string(),
        ])
        .map_err(err)?;
    }
    w.flush().map_err(io(&agg))?;
    let report = report::build(&report::ReportInput {
        method: "k-synthetic (row-seeded)",
        sensitive: table,
        synthetic: &out.synthetic,
        k: opts.k,
        length: opts.length,
        aggregates: Some(&out.aggregates),
        indicator: ctx.indicator.clone(),
        population: ctx.population.as_ref(),
        parameters: serde_json::to_value(opts).unwrap_or_default(),
        k_guarantee: true,
    });
    report::write(dir, &report)?;
    let readme = format!(
        "# k-synthetic case data\n\n\
Made by `corridor synth` from {source} ({rows} records, columns: {cols}).\n\n\
- `synthetic.csv`: {rows} synthetic records. They look like case records but none is a real person's. \
An empty cell means the value was withheld because it would have made the record rare.\n\
- `aggregates.csv`: how many victims share each combination of up to {l} attributes, for every combination \
shared by at least {k} victims; counts are rounded down to a multiple of {res}.\n\
- `report.html` / `report.json`: how close the synthetic data stay to the real counts, and the privacy checks.\n\n\
## What k, L and the reporting resolution mean\n\n\
- **k = {k}**: nothing is published about a group of fewer than {k} victims. Every combination of up to {l} \
attributes that appears in the synthetic records or in the aggregates is shared by at least {k} real victims, \
so nobody can be singled out by a rare mix of traits (say, a 15-year-old boy from a small country exploited in a rare industry).\n\
- **L = {l}**: the guarantee covers every combination of up to {l} attributes. Longer combinations may look \
plausible but are not counted.\n\
- **Reporting resolution = {res}**: published counts are rounded down to a multiple of {res}, so small \
differences between releases cannot be subtracted to reveal one victim.\n\n\
Checks in this release: {unique} sensitive records are unique on a published combination ({verdict}); \
smallest published count {smallest}.\n",
        source = ctx.source,
        rows = table.rows(),
        cols = table.columns.join(", "),
        l = opts.length,
        k = opts.k,
        res = opts.resolution,
        unique = report.records_unique_on_a_published_combination,
        verdict = if report.attacker_check_passed {
            "must be 0: passed"
        } else {
            "must be 0: FAILED"
        },
        smallest = report
            .smallest_published_count
            .map_or("–".to_string(), |n| n.to_string()),
    );
    let path = dir.join("README.md");
    std::fs::write(&path, readme).map_err(io(&path))?;
    Ok((out, report))
}

/// Runs differentially private synthesis and writes `synthetic.csv`,
/// `privacy.json`, `report.json`, `report.html` and `README.md`.
pub fn write_dp(
    table: &Table,
    rho: f64,
    delta: f64,
    ctx: &Context,
    dir: &Path,
    seed: u64,
) -> Result<(DpSynthetic, Report), SynthError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let out = dp::synthesize(table, rho, delta, None, seed)?;
    out.synthetic.write_csv(&dir.join("synthetic.csv"))?;
    let privacy = dir.join("privacy.json");
    let tree: Vec<(String, String)> = out
        .tree
        .iter()
        .map(|(a, b)| (table.columns[*a].clone(), table.columns[*b].clone()))
        .collect();
    std::fs::write(
        &privacy,
        serde_json::to_string_pretty(&serde_json::json!({
            "privacy_loss": out.privacy,
            "tree": tree,
            "estimated_rows": out.estimated_rows,
        }))
        .unwrap_or_default(),
    )
    .map_err(io(&privacy))?;
    let report = report::build(&report::ReportInput {
        method: "differentially private (MST-style, OpenDP discrete Gaussian)",
        sensitive: table,
        synthetic: &out.synthetic,
        k: 10,
        length: 3,
        aggregates: None,
        indicator: ctx.indicator.clone(),
        population: ctx.population.as_ref(),
        parameters: serde_json::json!({
            "rho": out.privacy.rho, "epsilon": out.privacy.epsilon, "delta": delta
        }),
        k_guarantee: false,
    });
    report::write(dir, &report)?;
    let readme = format!(
        "# Differentially private synthetic case data\n\n\
Made by `corridor synth --method dp` from {source} ({rows} records, columns: {cols}).\n\n\
- `synthetic.csv`: about {est} synthetic records drawn from a model of the data built only from noisy counts.\n\
- `privacy.json`: the privacy loss, every noisy measurement and its noise scale.\n\
- `report.html` / `report.json`: how close the synthetic data stay to the real counts.\n\n\
## What epsilon means\n\n\
The privacy loss is **ρ = {rho:.4}** in zero-concentrated differential privacy, about **ε = {eps:.2}** with \
δ = {delta:e}. In plain words: whether or not any one victim's record is in the data changes the probability \
of any output by at most a factor of about e^ε (≈ {factor:.1}×), except with probability δ. Smaller ε means \
stronger protection and noisier data. This loss adds up over releases from the same data: it is recorded \
so the next release can be charged against what is left of the budget.\n\n\
Unlike k-synthetic data, DP synthetic data may contain combinations that no real victim has (they are \
noise, and say nothing about anyone); the report counts them.\n",
        source = ctx.source,
        rows = table.rows(),
        cols = table.columns.join(", "),
        est = out.estimated_rows,
        rho = out.privacy.rho,
        eps = out.privacy.epsilon,
        delta = delta,
        factor = out.privacy.epsilon.exp(),
    );
    let path = dir.join("README.md");
    std::fs::write(&path, readme).map_err(io(&path))?;
    Ok((out, report))
}
