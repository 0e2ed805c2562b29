//! Corridor synth: publishable versions of sensitive case records.
//!
//! - [`ksynth`]: k-synthetic microdata and aggregates (every published
//!   combination of up to L attributes is held by at least k victims).
//! - [`dp`]: differentially private synthesis from noisy marginals, with
//!   OpenDP's samplers and a recorded privacy loss, over the public
//!   [`domain`] of each attribute; `network` is the model it fits (a
//!   Bayesian network of two- and three-way factors, sampled exactly).
//! - [`report`]: the utility and risk report of any synthetic table, in
//!   two parts: an internal review with sensitive counts, and a
//!   publishable report with protected figures only.
//!
//! [`write_ksynthetic`] and [`write_dp`] write two folders; [`synthesise`]
//! runs either or both as one user action. The
//! synthetic-data folder (the data, the aggregates or the privacy loss,
//! the publishable report and a README in plain words) holds only
//! protected figures: it is what a publisher may hand out after review. The
//! review folder (the internal report) holds the sensitive counts and stays
//! inside the workspace.
//!
//! The API: [`synthesise`] with a [`Plan`]; [`Table`] and [`Domain`] for
//! its input; [`KSynthetic`], [`DpSynthetic`] with its [`PrivacyLoss`],
//! and the reports ([`Report`], [`PublicReport`]).

pub(crate) mod combos;
pub(crate) mod domain;
pub mod dp;
pub(crate) mod ksynth;
pub(crate) mod network;
mod plan;
pub mod report;
pub(crate) mod table;

use std::path::{Path, PathBuf};

pub use domain::{Domain, InDomain};
pub use dp::{DpSynthetic, PrivacyLoss};
pub use ksynth::{KOptions, KSynthetic};
pub use plan::{DpRun, Plan, Run, Synthesised, synthesise};
pub use report::{IndicatorColumns, PublicReport, Report};
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
    /// The privacy ledger refused the charge; nothing was drawn.
    #[error("{0}")]
    Refused(String),
    #[error(
        "the review folder {} is inside the synthetic-data folder {}: the review holds sensitive counts and must stay apart from what may be handed out",
        review.display(),
        publish.display()
    )]
    ReviewInsideOutput { review: PathBuf, publish: PathBuf },
    #[error(
        "{unique} sensitive records are unique on a combination of the synthetic data: the k-synthetic guarantee failed, nothing was written to {}; see the internal review in {}",
        publish.display(),
        review.display()
    )]
    CheckFailed {
        unique: u64,
        publish: PathBuf,
        review: PathBuf,
    },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes a file; `private` ones (the internal review) are readable by
/// their owner only, whatever the umask.
pub(crate) fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), SynthError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(io(path))?;
    // An existing file keeps its mode on open: set it again.
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io(path))?;
    }
    f.write_all(bytes).map_err(io(path))
}

fn create_dir(dir: &Path, private: bool) -> Result<(), SynthError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    }
    Ok(())
}

/// Where the two parts of a synthesis go.
#[derive(Debug, Clone, Copy)]
pub struct Folders<'a> {
    /// The synthetic-data folder: protected figures only.
    pub publish: &'a Path,
    /// The internal review (sensitive counts): inside the workspace, and
    /// never inside `publish`.
    pub review: &'a Path,
}

impl Folders<'_> {
    /// Creates both folders, refusing a review folder inside the
    /// synthetic-data folder.
    fn create(&self) -> Result<(), SynthError> {
        create_dir(self.publish, false)?;
        create_dir(self.review, true)?;
        let canonical = |p: &Path| p.canonicalize().map_err(io(p));
        if canonical(self.review)?.starts_with(canonical(self.publish)?) {
            return Err(SynthError::ReviewInsideOutput {
                review: self.review.to_path_buf(),
                publish: self.publish.to_path_buf(),
            });
        }
        Ok(())
    }
}

/// The review folder beside a synthetic-data folder `publish`, for
/// syntheses outside a workspace: `<publish>.internal-review`.
pub fn review_beside(publish: &Path) -> PathBuf {
    let mut name = publish
        .file_name()
        .map_or_else(|| "synthetic".into(), |n| n.to_os_string());
    name.push(".internal-review");
    publish.with_file_name(name)
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

/// Runs k-synthetic synthesis. Writes `synthetic.csv`, `aggregates.csv`,
/// the publishable `report.json` / `report.html` and `README.md` into
/// `folders.publish`, and the internal review into `folders.review`. A
/// synthesis that fails the attacker check writes only the review.
pub fn write_ksynthetic(
    table: &Table,
    opts: &KOptions,
    ctx: &Context,
    folders: Folders,
) -> Result<(KSynthetic, Report), SynthError> {
    folders.create()?;
    let out = ksynth::synthesize(table, opts);
    let report = report::build(&report::ReportInput {
        method: if opts.keep_counts {
            "k-synthetic (row-seeded, then seeded from the one-way aggregates)"
        } else {
            "k-synthetic (row-seeded)"
        },
        sensitive: table,
        synthetic: &out.synthetic,
        k: opts.k,
        length: opts.length,
        aggregates: Some(&out.aggregates),
        indicator: ctx.indicator.clone(),
        population: ctx.population.as_ref(),
        parameters: serde_json::to_value(opts).unwrap_or_default(),
        k_guarantee: true,
        domain: &[],
        outside: &[],
    });
    report::write_internal(folders.review, &report, folders.publish)?;
    if !report.attacker_check_passed {
        return Err(SynthError::CheckFailed {
            unique: report.records_unique_on_a_published_combination,
            publish: folders.publish.to_path_buf(),
            review: folders.review.to_path_buf(),
        });
    }
    let dir = folders.publish;
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
    report::write_public(dir, &report.publishable())?;
    let readme = format!(
        "# k-synthetic case data\n\n\
Made by `corridor synth` from {source} ({rows} records, columns: {cols}).\n\n\
- `synthetic.csv`: {synthetic} synthetic records. They look like case records but none is a real person's. \
An empty cell means the value was withheld because it would have made the record rare.{added}\n\
- `aggregates.csv`: how many victims share each combination of up to {l} attributes, for every combination \
shared by at least {k} victims; counts are rounded down to a multiple of {res}.\n\
- `report.html` / `report.json`: how close the synthetic data stay to the real data, in protected figures \
only (figures of the synthetic data, and errors averaged over many combinations), and the privacy check.\n\n\
The review with the sensitive counts behind these figures is kept apart from this folder (inside the \
workspace, when the data came from one) and is never handed out.\n\n\
## What k, L and the reporting resolution mean\n\n\
- **k = {k}**: nothing is published about a group of fewer than {k} victims. Every combination of up to {l} \
attributes that appears in the synthetic records or in the aggregates is shared by at least {k} real victims, \
so nobody can be singled out by a rare mix of traits (say, a 15-year-old boy from a small country exploited in a rare industry).\n\
- **L = {l}**: the guarantee covers every combination of up to {l} attributes. Longer combinations may look \
plausible but are not counted.\n\
- **Reporting resolution = {res}**: published counts are rounded down to a multiple of {res}, so small \
differences between two sets of figures cannot be subtracted to reveal one victim.\n\
- **Values**: each column's values are those of the data, and only those held by at least {k} victims \
appear.\n\n\
Checks on these data: no sensitive record is unique on a published combination (must be 0: passed); \
smallest published count {smallest}.\n",
        source = ctx.source,
        rows = table.rows(),
        synthetic = out.synthetic.rows(),
        added = if out.synthetic.rows() > table.rows() {
            format!(
                " Each real record seeded one of them; the other {} were added, made only of published \
combinations, so that each value is as frequent as the aggregates say (withholding values had made them rarer).",
                out.synthetic.rows() - table.rows()
            )
        } else {
            String::new()
        },
        cols = table.columns.join(", "),
        l = opts.length,
        k = opts.k,
        res = opts.resolution,
        smallest = report
            .smallest_published_count
            .map_or("–".to_string(), |n| n.to_string()),
    );
    write_file(&dir.join("README.md"), readme.as_bytes(), false)?;
    Ok((out, report))
}

/// What DP synthesis takes besides the table and its domain.
#[derive(Debug, Clone, Copy)]
pub struct DpOptions {
    /// Privacy loss in zero-concentrated DP.
    pub rho: f64,
    /// δ of the (ε, δ) equivalent shown beside ρ.
    pub delta: f64,
    /// Seed of the sampling (not of the noise, which is always fresh).
    pub seed: u64,
    /// How many columns each column may be drawn given: 1 gives MST's
    /// spanning tree, 2 (the default) three-way factors where the budget
    /// affords them.
    pub parents: usize,
}

impl DpOptions {
    /// The default model (two parents) at privacy loss `rho`.
    pub fn new(rho: f64, delta: f64, seed: u64) -> DpOptions {
        DpOptions {
            rho,
            delta,
            seed,
            parents: 2,
        }
    }
}

/// Runs differentially private synthesis over the public `domain`. Writes
/// `synthetic.csv`, `privacy.json`, the publishable `report.json` /
/// `report.html` and `README.md` into `folders.publish`, and the internal
/// review (with the values outside the domain) into `folders.review`.
pub fn write_dp(
    table: &Table,
    domain: &Domain,
    opts: &DpOptions,
    ctx: &Context,
    folders: Folders,
) -> Result<(DpSynthetic, InDomain, Report), SynthError> {
    let input = domain.apply(table)?;
    folders.create()?;
    let out = dp::synthesize(&input, opts.rho, opts.delta, None, opts.seed, opts.parents)?;
    let dir = folders.publish;
    let report = report::build(&report::ReportInput {
        method: "differentially private (a network of two- and three-way factors, OpenDP discrete Gaussian)",
        sensitive: input.table(),
        synthetic: &out.synthetic,
        k: 10,
        length: 3,
        aggregates: None,
        indicator: ctx.indicator.clone(),
        population: ctx.population.as_ref(),
        parameters: serde_json::json!({
            "rho": out.privacy.rho, "epsilon": out.privacy.epsilon, "delta": opts.delta
        }),
        k_guarantee: false,
        domain: input.notes(),
        outside: input.outside(),
    });
    report::write_internal(folders.review, &report, folders.publish)?;
    out.synthetic.write_csv(&dir.join("synthetic.csv"))?;
    let model: Vec<serde_json::Value> = out
        .model
        .iter()
        .map(|(c, parents)| {
            serde_json::json!({
                "column": table.columns[*c],
                "given": parents.iter().map(|p| &table.columns[*p]).collect::<Vec<_>>(),
            })
        })
        .collect();
    let own: Vec<(String, usize)> = table
        .columns
        .iter()
        .cloned()
        .zip(out.own_cells.iter().copied())
        .collect();
    let privacy = serde_json::to_string_pretty(&serde_json::json!({
        "privacy_loss": out.privacy,
        "model": model,
        "estimated_rows": out.estimated_rows,
        "domain": input.notes(),
        "values_with_a_cell_of_their_own": own,
    }))
    .unwrap_or_default();
    write_file(&dir.join("privacy.json"), privacy.as_bytes(), false)?;
    report::write_public(dir, &report.publishable())?;
    let domains: Vec<String> = input
        .notes()
        .iter()
        .map(|n| format!("- `{}`: {} values, from {}", n.column, n.values, n.source))
        .collect();
    let readme = format!(
        "# Differentially private synthetic case data\n\n\
Made by `corridor synth --method dp` from {source} (columns: {cols}).\n\n\
- `synthetic.csv`: about {est} synthetic records drawn from a model of the data built only from noisy counts.\n\
- `privacy.json`: the privacy loss, every noisy measurement and its noise scale.\n\
- `report.html` / `report.json`: how close the synthetic data stay to the real data, in protected figures \
only (figures of the synthetic data, and errors averaged over many combinations).\n\n\
The review with the sensitive counts behind these figures is kept apart from this folder (inside the \
workspace, when the data came from one) and is never handed out.\n\n\
## What epsilon means\n\n\
The privacy loss is **ρ = {rho:.4}** in zero-concentrated differential privacy, about **ε = {eps:.2}** with \
δ = {delta:e}. In plain words: whether or not any one victim's record is in the data changes the probability \
of any output by at most a factor of about e^ε (≈ {factor:.1}×), except with probability δ. Smaller ε means \
stronger protection and noisier data. This loss adds up over every use of the same data: it is recorded \
so the next synthesis can be charged against what is left of the budget. The averaged errors of the \
report are computed against the real data and are not part of this accounting; they show no single count.\n\n\
## Where the values come from\n\n\
Each column's values are public, fixed before looking at the data, so that whether a rare value appears \
says nothing about anyone. A value of the data outside them is synthesised as no value.\n\n\
{domains}\n\n\
Unlike k-synthetic data, DP synthetic data may contain combinations that no real victim has (they are \
noise, and say nothing about anyone).\n",
        source = ctx.source,
        cols = table.columns.join(", "),
        est = out.estimated_rows,
        rho = out.privacy.rho,
        eps = out.privacy.epsilon,
        delta = opts.delta,
        factor = out.privacy.epsilon.exp(),
        domains = domains.join("\n"),
    );
    write_file(&dir.join("README.md"), readme.as_bytes(), false)?;
    Ok((out, input, report))
}
