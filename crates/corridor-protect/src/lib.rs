//! Corridor protect: the one crate that turns a sensitive table into a
//! publishable one.
//!
//! A table of `corridor-stats` is inside the trust boundary: its cells
//! carry the number of records behind them and their cell key. A method
//! here takes such a table and gives a [`Protected`] [`PublishedTable`],
//! whose cells hold only the protected value, and which records the method
//! and its parameters. [`Protected`] has no public constructor: outside
//! this crate, the only way to get one is to run a method, so whatever
//! takes a `Protected<…>` (the releases, later) takes only protected data.
//!
//! Methods: random rounding to base 3 ([`random_round_3`], Stats NZ's
//! RR3), cell-key perturbation ([`cell_key_perturb`] with a [`PTable`],
//! the ABS method), the threshold rule with secondary suppression over
//! hierarchies and linked tables ([`suppress`], and [`suppress_leaves`] for
//! a table given by its finest cells), differentially private count tables
//! over domains from the code lists ([`dp_table`]: OpenDP's discrete
//! Gaussian on every margin, least squares, top-down rounding to consistent
//! non-negative whole numbers), and k-anonymised microdata
//! ([`k_anonymise`]). [`suppress_file`], [`dp_file`] and [`kanon_file`] run
//! them on CSV files, outside any workspace. [`Protected::rates`] turns
//! protected counts into rates per population (post-processing), and
//! [`synthesise_cases`] makes a workspace's synthetic case data a
//! [`Protected`] [`PublishedSynthetic`]; [`Protected::nowcast`] makes
//! experimental nowcasts from a protected flow table (post-processing).
//!
//! The API: [`Protected`], [`PublishedTable`], [`PublishedCell`],
//! [`PublishedMicrodata`], [`PublishedSynthetic`], [`Method`], the methods above with their
//! parameters ([`PTableParams`], [`SuppressionParams`], [`Hierarchy`],
//! [`DpCharge`], [`KAnonParams`], [`Ladder`]) and reports; errors are
//! [`ProtectError`].

mod ckm;
mod dp;
mod files;
mod kanon;
mod rr3;
mod suppress;
mod synthetic;

use std::path::PathBuf;

use corridor_stats::{Cell, Table};
use serde::Serialize;

pub use ckm::{PRow, PTable, PTableParams, cell_key_perturb};
pub use dp::{DP_MECHANISM, DpCharge, DpMeasurement, dp_table};
pub use files::{
    DpFileReport, HierarchySource, KAnonFileReport, LeafFile, SuppressFileReport, dp_file,
    kanon_file, read_domain, suppress_file,
};
pub use kanon::{
    ColumnLoss, KAnonParams, KAnonReport, Ladder, PublishedMicrodata, SUPPRESSED, k_anonymise,
};
pub use rr3::{random_round_3, random_round_3_with};
pub use suppress::{
    Cost, Hierarchy, LeafTable, SuppressedGrid, SuppressionParams, SuppressionReport, suppress,
    suppress_leaves,
};
pub use synthetic::{PublishedSynthetic, Synthesis, synthesise_cases};

#[derive(Debug, thiserror::Error)]
pub enum ProtectError {
    #[error(
        "{measure}: the cell {coords} holds {value}, which is not a count; \
         random rounding applies to whole numbers of 0 and more (use another method for estimates and net figures)"
    )]
    NotACount {
        measure: String,
        coords: String,
        value: f64,
    },
    #[error("no randomness from the operating system: {0}")]
    Randomness(String),
    #[error("{0}")]
    Parameters(String),
    #[error("OpenDP refused the measurement: {0}")]
    Privacy(String),
    #[error("synthesis: {0}")]
    Synthesis(String),
    #[error("the privacy-loss charge was refused, so no noise was drawn: {0}")]
    Refused(String),
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("{} line {line}, column `{column}`: {message}", path.display())]
    Row {
        path: PathBuf,
        line: u64,
        column: String,
        message: String,
    },
}

/// Publishes `table` with every cell's count replaced by `protect(count,
/// cell)`: the one place a method's cells become a [`PublishedTable`], so
/// that no method can carry record counts or cell keys along.
pub(crate) fn protect_counts(
    table: &Table,
    method: Method,
    mut protect: impl FnMut(u64, &Cell) -> u64,
) -> Result<Protected<PublishedTable>, ProtectError> {
    let mut cells = Vec::with_capacity(table.cells.len());
    for cell in &table.cells {
        let count = count_of(table, cell)?;
        cells.push(PublishedCell {
            coords: cell.coords.clone(),
            value: Some(protect(count, cell) as f64),
            provisional: cell.provisional,
            error_bound: None,
        });
    }
    Ok(Protected::new(PublishedTable::of(table, cells), method))
}

/// A cell's value as a count: a whole number of 0 or more, or an estimate
/// (a provisional cell's expected value) rounded to whole persons.
pub(crate) fn count_of(table: &Table, cell: &Cell) -> Result<u64, ProtectError> {
    let v = cell.value;
    let whole = if cell.provisional { v.round() } else { v };
    if whole >= 0.0 && whole.fract() == 0.0 && whole < 2f64.powi(53) {
        Ok(whole as u64)
    } else {
        Err(ProtectError::NotACount {
            measure: table.measure.clone(),
            coords: cell.coords.join(","),
            value: v,
        })
    }
}

/// A value that a protection method made: the only kind of value a
/// release will accept.
///
/// Anyone may build a [`PublishedTable`]:
///
/// ```
/// use corridor_protect::PublishedTable;
/// let t = PublishedTable { measure: "arrivals".into(), dims: vec![], filter: None, cells: vec![], notes: vec![] };
/// ```
///
/// but only this crate's methods make it `Protected`:
///
/// ```compile_fail
/// use corridor_protect::{Method, Protected, PublishedTable};
/// let t = PublishedTable { measure: "arrivals".into(), dims: vec![], filter: None, cells: vec![], notes: vec![] };
/// let p = Protected::new(t, Method::RandomRounding { base: 3 });
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Protected<T> {
    value: T,
    method: Method,
}

impl<T> Protected<T> {
    /// Only a method of this crate makes one.
    pub(crate) fn new(value: T, method: Method) -> Protected<T> {
        Protected { value, method }
    }

    pub fn value(&self) -> &T {
        &self.value
    }

    /// The method and its parameters, as a release states them.
    pub fn method(&self) -> &Method {
        &self.method
    }
}

impl Protected<PublishedTable> {
    /// Rates from a protected count table: every published count (and its
    /// error bound) times `per` over the cell's population, to four
    /// decimals; withheld where the count is withheld. It reads nothing
    /// but the protected values and the public `population`, so the rates
    /// are as protected as the counts, by the same method (post-processing).
    /// A cell without a population is refused: a rate's denominator must
    /// be stated, never guessed.
    pub fn rates(
        &self,
        measure: &str,
        per: f64,
        population: &dyn Fn(&[String]) -> Option<f64>,
        note: String,
    ) -> Result<Protected<PublishedTable>, ProtectError> {
        let t = &self.value;
        let round = |v: f64| (v * 1e4).round() / 1e4;
        let mut cells = Vec::with_capacity(t.cells.len());
        for c in &t.cells {
            let p = population(&c.coords).filter(|p| *p > 0.0).ok_or_else(|| {
                ProtectError::Parameters(format!(
                    "{measure}: no population for the cell {} of {}",
                    c.coords.join(","),
                    t.measure
                ))
            })?;
            cells.push(PublishedCell {
                coords: c.coords.clone(),
                value: c.value.map(|v| round(v * per / p)),
                provisional: c.provisional,
                error_bound: c.error_bound.map(|b| round(b * per / p)),
            });
        }
        let mut notes = t.notes.clone();
        notes.push(note);
        Ok(Protected::new(
            PublishedTable {
                measure: measure.into(),
                dims: t.dims.clone(),
                filter: t.filter.clone(),
                cells,
                notes,
            },
            self.method.clone(),
        ))
    }
}

/// Experimental nowcasts as a release publishes them: model output over a
/// protected table (see [`Protected::nowcast`]).
pub type PublishedNowcast = corridor_nowcast::Nowcast;

impl Protected<PublishedTable> {
    /// Nowcasts of the months after a protected flow table's last final
    /// month, from that table (by month, reporting country and counterpart
    /// country) and the public signals. It reads nothing but the protected
    /// values, so the nowcasts are as protected as the table, by the same
    /// method (post-processing). Withheld cells are left out of the series.
    pub fn nowcast(
        &self,
        signals: corridor_nowcast::series::Signals,
        opts: &corridor_nowcast::Options,
    ) -> Result<Protected<PublishedNowcast>, ProtectError> {
        let t = &self.value;
        if t.dims != corridor_nowcast::series::FLOW_DIMENSIONS {
            return Err(ProtectError::Parameters(format!(
                "a nowcast reads a table by {}, not by {}",
                corridor_nowcast::series::FLOW_DIMENSIONS.join(", "),
                t.dims.join(", ")
            )));
        }
        let measure = corridor_nowcast::series::flow_measure(&opts.measure)
            .map_err(|e| ProtectError::Parameters(e.to_string()))?;
        let figures = corridor_nowcast::series::flows_from_cells(
            measure,
            t.cells
                .iter()
                .filter_map(|c| Some((c.coords.as_slice(), c.value?, c.provisional))),
        );
        let now = corridor_nowcast::nowcast_from(figures, signals, opts)
            .map_err(|e| ProtectError::Parameters(format!("nowcast: {e}")))?;
        Ok(Protected::new(now, self.method.clone()))
    }
}

/// How a table was protected, with every parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Method {
    /// Every count moved to a neighbouring multiple of `base` with
    /// probabilities that keep its expected value; totals rounded on their
    /// own.
    RandomRounding { base: u32 },
    /// Every count changed by the published perturbation table, looked up
    /// by the cell's key: the same records, the same change.
    CellKey { ptable: PTableParams },
    /// Cells below `threshold` withheld, and enough others that none can
    /// be narrowed to within `protection` persons.
    Suppression {
        threshold: u32,
        protection: u32,
        cost: Cost,
    },
    /// Every margin measured with noise under ρ-zCDP, made consistent;
    /// each cell carries its 95 % error bound, found with
    /// `bound_replicates` re-runs on the published table. `scale` is the
    /// finest cells' noise; a margin summed over s dimensions gets the
    /// share `margin_weight`ˢ of theirs of ρ.
    DifferentialPrivacy {
        rho: f64,
        mechanism: String,
        scale: f64,
        margin_weight: f64,
        bound_replicates: usize,
    },
    /// Synthetic records and aggregates of which every combination of up
    /// to `length` attributes is held by at least `k` real records;
    /// aggregate counts rounded down to a multiple of `resolution`.
    KSynthetic {
        k: u32,
        length: usize,
        resolution: u32,
    },
    /// Synthetic records drawn from a model fitted to noisy marginals
    /// under ρ-zCDP (about (ε, δ)-DP).
    DpSynthesis {
        rho: f64,
        epsilon: f64,
        delta: f64,
        mechanism: String,
    },
    /// Microdata whose quasi-identifiers, generalised to `levels` and
    /// locally suppressed, occur in combinations of at least `k` records.
    KAnonymity {
        k: usize,
        quasi_identifiers: Vec<String>,
        levels: Vec<usize>,
    },
}

/// A table as it may leave the workspace: codes and protected values,
/// nothing about the records behind them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishedTable {
    pub measure: String,
    pub dims: Vec<String>,
    pub filter: Option<String>,
    pub cells: Vec<PublishedCell>,
    pub notes: Vec<String>,
}

impl PublishedTable {
    /// `table`'s measure, dimensions, filter and notes with the protected
    /// `cells`.
    pub(crate) fn of(table: &Table, cells: Vec<PublishedCell>) -> PublishedTable {
        PublishedTable {
            measure: table.measure.clone(),
            dims: table.dims.clone(),
            filter: table.filter.clone(),
            cells,
            notes: table.notes.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishedCell {
    /// One code per dimension; `_T` where the cell totals over it.
    pub coords: Vec<String>,
    /// None: withheld (suppressed).
    pub value: Option<f64>,
    /// Part of the value is a modelled estimate.
    pub provisional: bool,
    /// The published 95 % bound on the error that protection added (DP
    /// tables), in persons.
    pub error_bound: Option<f64>,
}
