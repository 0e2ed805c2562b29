//! The release spec: what a publisher writes to say what a release holds.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use corridor_protect::{PTableParams, SuppressionParams};
use corridor_stats::TableSpec;
use serde::{Deserialize, Serialize};

use crate::PublishError;

/// A release spec, in TOML:
///
/// ```toml
/// title = "Border statistics 2022–2025"
/// description = "Flows and stocks of the demo world"
/// licence = "CC-BY-4.0"
/// version = "2026.1"
/// reference_period = "2022-01/2025-12"
///
/// [[table]]
/// name = "flows_by_citizenship"
/// standard = "flows_by_citizenship"
/// method = "cell_key"
/// ptable = { D = 2, V = 1.0, js = 1 }
///
/// [[table]]
/// name = "arrivals_by_sex"
/// measure = "arrivals"
/// by = ["year", "sex"]
/// method = "rr3"
///
/// [[table]]
/// name = "permits"
/// standard = "permits"
/// method = "suppression"
///
/// [[table]]
/// name = "migrant_arrivals_dp"
/// measure = "migrant_arrivals"
/// by = ["year", "reporting_country", "citizenship_region"]
/// method = "dp"
/// rho = 0.5
/// domain = { reporting_country = ["ATL", "BOR"] }
///
/// # k-anonymised case microdata (one record per victim once linked).
/// [[microdata]]
/// name = "victims"
/// columns = ["sex", "age_group", "citizenship", "country_of_exploitation", "exploitation", "registration_year"]
/// quasi = ["sex", "age_group", "citizenship", "country_of_exploitation"]
/// k = 11
///
/// # SDG 16.2.2: victims by sex, age group and form of exploitation, and
/// # (per_100000) the same per 100,000 of the population.
/// [[table]]
/// name = "sdg_16_2_2"
/// measure = "victims"
/// by = ["sex", "age_group", "exploitation_form"]
/// method = "rr3"
/// per_100000 = true
///
/// # Synthetic case data: k-synthetic, or DP (charged to the cases' budget).
/// [[synthetic]]
/// name = "victims_k_synthetic"
/// method = "k_synthetic"
/// k = 10
///
/// [[synthetic]]
/// name = "victims_dp_synthetic"
/// method = "dp"
/// epsilon = 1.0
///
/// # Optional: the threshold rule of every suppressed table.
/// [suppression]
/// threshold = 10
/// protection = 10
/// cost = "values"
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseSpec {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub licence: String,
    pub version: String,
    pub reference_period: String,
    #[serde(rename = "table", default)]
    pub tables: Vec<TableRequest>,
    #[serde(rename = "microdata", default)]
    pub microdata: Vec<MicrodataRequest>,
    #[serde(rename = "synthetic", default)]
    pub synthetic: Vec<SyntheticRequest>,
    /// Experimental nowcasts of the latest months by corridor.
    #[serde(rename = "nowcast", default)]
    pub nowcasts: Vec<NowcastRequest>,
    /// The threshold rule of every table with method = "suppression":
    /// they are protected together, as linked tables.
    #[serde(default)]
    pub suppression: SuppressionParams,
}

/// One table of a release and how it is protected.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableRequest {
    /// The table's name: its files are named after it.
    pub name: String,
    /// Defaults to the standard table's title, or one made from the measure.
    #[serde(default)]
    pub title: Option<String>,
    /// A standard table of `corridor table --standard`.
    #[serde(default)]
    pub standard: Option<String>,
    /// Or a measure with its dimensions and filter.
    #[serde(default)]
    pub measure: Option<String>,
    #[serde(default)]
    pub by: Vec<String>,
    #[serde(default, rename = "where")]
    pub filter: Option<String>,
    pub method: MethodName,
    /// The perturbation table's parameters (cell_key only).
    #[serde(default)]
    pub ptable: Option<PTableParams>,
    /// The privacy loss (zCDP ρ) the table spends (dp only).
    #[serde(default)]
    pub rho: Option<f64>,
    /// The ledger dataset it is charged to (dp only; default
    /// `border_records`).
    #[serde(default)]
    pub dataset: Option<String>,
    /// Categories of a dimension, where the code lists' are not the ones
    /// to publish (dp only), e.g. `domain = { reporting_country = ["ATL"] }`.
    #[serde(default)]
    pub domain: BTreeMap<String, Vec<String>>,
    /// Also publish the table per 100,000 of the population (`victims`
    /// only): the table `<name>_per_100000`, from the protected counts and
    /// the workspace's population table by sex and age group.
    #[serde(default)]
    pub per_100000: bool,
}

/// Experimental nowcasts in a release: a flow by corridor, nowcast from its
/// cell-key protected monthly table and the signals.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NowcastRequest {
    /// Its files are `nowcasts/<name>.csv` and `nowcasts/<name>.bias-note.md`.
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    /// arrivals, departures (the default), migrant_arrivals, migrant_departures.
    #[serde(default)]
    pub measure: Option<String>,
    /// Months after the last final month (default 3).
    #[serde(default)]
    pub horizon: Option<usize>,
    /// The last month of administrative figures to use (YYYY-MM).
    #[serde(default)]
    pub as_of: Option<String>,
    /// The perturbation table of the protected monthly table.
    #[serde(default)]
    pub ptable: Option<PTableParams>,
}

/// Synthetic case data in a release: one synthesis of the workspace's
/// (linked) cases, by one method.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticRequest {
    /// Its files go to `synthetic/<name>/`.
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    pub method: SyntheticMethod,
    /// k-synthetic: nothing is published about fewer than k victims.
    #[serde(default)]
    pub k: Option<u32>,
    /// k-synthetic: the longest combination of attributes protected (L).
    #[serde(default)]
    pub length: Option<usize>,
    /// k-synthetic: aggregate counts round down to a multiple of this.
    #[serde(default)]
    pub resolution: Option<u32>,
    /// DP: the privacy loss, as ε (with `delta`) or as zCDP ρ.
    #[serde(default)]
    pub epsilon: Option<f64>,
    #[serde(default)]
    pub rho: Option<f64>,
    #[serde(default)]
    pub delta: Option<f64>,
    /// Seed of the sampling (never of the noise).
    #[serde(default)]
    pub seed: Option<u64>,
}

/// How synthetic case data are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyntheticMethod {
    KSynthetic,
    Dp,
}

/// δ of a DP synthesis whose spec gives none.
pub(crate) const DEFAULT_DELTA: f64 = 1e-6;

impl SyntheticRequest {
    /// The synthesis to run, with defaults filled in.
    pub(crate) fn synthesis(&self) -> corridor_protect::Synthesis {
        let seed = self.seed.unwrap_or(1);
        match self.method {
            SyntheticMethod::KSynthetic => {
                corridor_protect::Synthesis::KSynthetic(corridor_synth::KOptions {
                    k: self.k.unwrap_or(10),
                    length: self.length.unwrap_or(4),
                    resolution: self.resolution.unwrap_or(10),
                    seed,
                    keep_counts: true,
                })
            }
            SyntheticMethod::Dp => {
                let delta = self.delta.unwrap_or(DEFAULT_DELTA);
                let rho = self.rho.unwrap_or_else(|| {
                    corridor_synth::dp::rho_of(self.epsilon.unwrap_or_default(), delta)
                });
                corridor_protect::Synthesis::Dp(corridor_synth::DpOptions::new(rho, delta, seed))
            }
        }
    }
}

/// The suffix of a table's rates per 100,000.
pub(crate) const PER_100000: &str = "_per_100000";

/// Record-level data of a release: the workspace's trafficking cases (one
/// record per person once a linkage has been run), k-anonymised.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MicrodataRequest {
    /// Its files are named after it.
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    /// The columns published, from the case columns (`sex`, `age_group`,
    /// `citizenship`, `country_of_exploitation`, `exploitation`, …).
    pub columns: Vec<String>,
    /// The quasi-identifiers among them: what someone could know of a
    /// victim from elsewhere. Age groups climb to minor/adult, countries to
    /// their M49 sub-region and region; any other is kept or suppressed.
    pub quasi: Vec<String>,
    /// Every combination of the quasi-identifiers is shared by at least k
    /// records.
    #[serde(default = "default_k")]
    pub k: usize,
}

fn default_k() -> usize {
    11
}

/// The ledger dataset of the border agencies' records.
pub const BORDER_DATASET: &str = "border_records";

/// The protection methods a release can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodName {
    CellKey,
    Rr3,
    Suppression,
    Dp,
}

impl ReleaseSpec {
    pub fn load(path: &Path) -> Result<ReleaseSpec, PublishError> {
        let text = std::fs::read_to_string(path).map_err(crate::io(path))?;
        ReleaseSpec::parse(&text, &path.display().to_string())
    }

    /// A spec from its TOML text; `origin` names it in errors (a path, or
    /// where it came from).
    pub fn parse(text: &str, origin: &str) -> Result<ReleaseSpec, PublishError> {
        let spec: ReleaseSpec = toml::from_str(text).map_err(|e| PublishError::Spec {
            path: origin.to_string(),
            why: e.to_string(),
        })?;
        spec.check().map_err(|why| PublishError::Spec {
            path: origin.to_string(),
            why,
        })?;
        Ok(spec)
    }

    /// Names are file names: lower-case letters, digits and `_`, unique.
    pub fn check(&self) -> Result<(), String> {
        if self.tables.is_empty()
            && self.microdata.is_empty()
            && self.synthetic.is_empty()
            && self.nowcasts.is_empty()
        {
            return Err(
                "a release needs at least one [[table]], [[microdata]], [[synthetic]] or [[nowcast]]"
                    .into(),
            );
        }
        if !is_name(&self.version.replace(['.', '-'], "_")) {
            return Err(format!(
                "version `{}`: use letters, digits, `.`, `-` and `_` only (e.g. 2026.1)",
                self.version
            ));
        }
        let mut seen: HashSet<String> = HashSet::new();
        for (i, t) in self.tables.iter().enumerate() {
            let at = format!("[[table]] {} (`{}`)", i + 1, t.name);
            if !is_name(&t.name) {
                return Err(format!(
                    "{at}: a table name is lower-case letters, digits and `_` (it names the table's files)"
                ));
            }
            if !seen.insert(t.name.clone()) {
                return Err(format!("{at}: the name is used twice"));
            }
            t.check(&at)?;
            if t.per_100000 {
                if t.measure.as_deref() != Some("victims") {
                    return Err(format!(
                        "{at}: `per_100000` needs measure = \"victims\": the population is known by sex and age group, not by the dimensions of other measures"
                    ));
                }
                let rates = format!("{}{PER_100000}", t.name);
                if !is_name(&rates) || !seen.insert(rates) {
                    return Err(format!(
                        "{at}: its rates table `{}{PER_100000}` would clash with another name (or be too long)",
                        t.name
                    ));
                }
            }
        }
        for (i, n) in self.nowcasts.iter().enumerate() {
            let at = format!("[[nowcast]] {} (`{}`)", i + 1, n.name);
            if !is_name(&n.name) {
                return Err(format!(
                    "{at}: a name is lower-case letters, digits and `_` (it names the files)"
                ));
            }
            if !seen.insert(n.name.clone()) {
                return Err(format!("{at}: the name is used twice"));
            }
            if let Some(m) = &n.measure
                && corridor_nowcast::series::flow_measure(m).is_err()
            {
                return Err(format!(
                    "{at}: `{m}` cannot be nowcast; use arrivals, departures, migrant_arrivals or migrant_departures"
                ));
            }
            if n.horizon.is_some_and(|h| h == 0 || h > 24) {
                return Err(format!("{at}: the horizon is 1 to 24 months"));
            }
        }
        for (i, m) in self.microdata.iter().enumerate() {
            let at = format!("[[microdata]] {} (`{}`)", i + 1, m.name);
            if !is_name(&m.name) {
                return Err(format!(
                    "{at}: a name is lower-case letters, digits and `_` (it names the files)"
                ));
            }
            if !seen.insert(m.name.clone()) {
                return Err(format!("{at}: the name is used twice"));
            }
            let known = corridor_cases::CASE_COLUMNS;
            if let Some(c) = m.columns.iter().find(|c| !known.contains(&c.as_str())) {
                return Err(format!(
                    "{at}: `{c}` is not a case column; use {}",
                    known.join(", ")
                ));
            }
            if m.quasi.is_empty() {
                return Err(format!(
                    "{at}: name the quasi-identifiers in `quasi` (e.g. sex, age_group, citizenship)"
                ));
            }
            if let Some(q) = m.quasi.iter().find(|q| !m.columns.contains(q)) {
                return Err(format!(
                    "{at}: the quasi-identifier `{q}` is not among `columns`"
                ));
            }
            if m.k < 2 {
                return Err(format!(
                    "{at}: k = {} protects nothing; use 2 or more (11 is usual)",
                    m.k
                ));
            }
        }
        for (i, y) in self.synthetic.iter().enumerate() {
            let at = format!("[[synthetic]] {} (`{}`)", i + 1, y.name);
            if !is_name(&y.name) {
                return Err(format!(
                    "{at}: a name is lower-case letters, digits and `_` (it names the folder)"
                ));
            }
            if !seen.insert(y.name.clone()) {
                return Err(format!("{at}: the name is used twice"));
            }
            match y.method {
                SyntheticMethod::KSynthetic => {
                    if y.epsilon.is_some() || y.rho.is_some() || y.delta.is_some() {
                        return Err(format!(
                            "{at}: `epsilon`, `rho` and `delta` belong to method = \"dp\""
                        ));
                    }
                    if y.k.is_some_and(|k| k < 2) {
                        return Err(format!(
                            "{at}: k below 2 protects nothing (10 or 11 is usual)"
                        ));
                    }
                    if y.length == Some(0) || y.resolution == Some(0) {
                        return Err(format!("{at}: `length` and `resolution` are 1 or more"));
                    }
                }
                SyntheticMethod::Dp => {
                    if y.k.is_some() || y.length.is_some() || y.resolution.is_some() {
                        return Err(format!(
                            "{at}: `k`, `length` and `resolution` belong to method = \"k_synthetic\""
                        ));
                    }
                    let positive = |v: Option<f64>| v.is_some_and(|v| v.is_finite() && v > 0.0);
                    match (y.epsilon, y.rho) {
                        (Some(_), Some(_)) => {
                            return Err(format!("{at}: give `epsilon` or `rho`, not both"));
                        }
                        (None, None) => {
                            return Err(format!(
                                "{at}: method = \"dp\" needs the privacy loss: `epsilon` (e.g. 1.0) or `rho`"
                            ));
                        }
                        (e, r) if !positive(e.or(r)) => {
                            return Err(format!(
                                "{at}: the privacy loss must be a positive number"
                            ));
                        }
                        _ => {}
                    }
                    if y.delta.is_some_and(|d| !(d > 0.0 && d < 1e-3)) {
                        return Err(format!(
                            "{at}: `delta` is a small probability, above 0 and below 0.001 (1e-6 is usual)"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

impl TableRequest {
    /// The checks of one table that hold in or out of a release.
    fn check(&self, at: &str) -> Result<(), String> {
        match (&self.standard, &self.measure) {
            (Some(_), Some(_)) => {
                return Err(format!("{at}: give `standard` or `measure`, not both"));
            }
            (None, None) => return Err(format!("{at}: give `standard` or `measure`")),
            (Some(_), None) if !self.by.is_empty() || self.filter.is_some() => {
                return Err(format!(
                    "{at}: a standard table has its own dimensions; `by` and `where` go with `measure`"
                ));
            }
            _ => {}
        }
        if self.ptable.is_some() && self.method != MethodName::CellKey {
            return Err(format!("{at}: `ptable` belongs to method = \"cell_key\""));
        }
        let dp = self.method == MethodName::Dp;
        if !dp && (self.rho.is_some() || self.dataset.is_some() || !self.domain.is_empty()) {
            return Err(format!(
                "{at}: `rho`, `dataset` and `domain` belong to method = \"dp\""
            ));
        }
        if dp && !self.rho.is_some_and(|r| r.is_finite() && r > 0.0) {
            return Err(format!(
                "{at}: method = \"dp\" needs `rho`, the privacy loss to spend (a positive number, e.g. rho = 0.5)"
            ));
        }
        Ok(())
    }

    /// A table asked for on its own (an analyst's, outside any release).
    pub(crate) fn check_alone(&self) -> Result<(), String> {
        let at = format!("table `{}`", self.name);
        if !is_name(&self.name) {
            return Err(format!(
                "{at}: a table name is lower-case letters, digits and `_`"
            ));
        }
        if self.per_100000 {
            return Err(format!(
                "{at}: `per_100000` belongs to a release, which publishes the population beside the rates"
            ));
        }
        self.check(&at)
    }

    /// The table to compute, and its title.
    pub(crate) fn table_spec(&self) -> Result<(TableSpec, String), PublishError> {
        if let Some(name) = &self.standard {
            let s = corridor_stats::standard_table(name)?;
            let title = self.title.clone().unwrap_or_else(|| s.title.to_string());
            return Ok((s.spec(), title));
        }
        let measure = self.measure.clone().unwrap_or_default();
        let title = self.title.clone().unwrap_or_else(|| {
            if self.by.is_empty() {
                measure.replace('_', " ")
            } else {
                format!("{} by {}", measure.replace('_', " "), self.by.join(", "))
            }
        });
        Ok((
            TableSpec {
                measure,
                by: self.by.clone(),
                filter: self.filter.clone(),
            },
            title,
        ))
    }
}

pub(crate) fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(tables: &str) -> Result<ReleaseSpec, String> {
        let text = format!(
            "title = \"t\"\nlicence = \"CC-BY-4.0\"\nversion = \"2026.1\"\nreference_period = \"2022\"\n{tables}"
        );
        let s: ReleaseSpec = toml::from_str(&text).map_err(|e| e.to_string())?;
        s.check()?;
        Ok(s)
    }

    #[test]
    fn names_cannot_leave_the_release_folder() {
        for bad in ["../x", "a/b", "A", "", "x.csv", "con sole"] {
            let t =
                format!("[[table]]\nname = \"{bad}\"\nstandard = \"returns\"\nmethod = \"rr3\"\n");
            assert!(spec(&t).is_err(), "{bad}");
        }
        let ok = "[[table]]\nname = \"returns_2\"\nstandard = \"returns\"\nmethod = \"rr3\"\n";
        assert!(spec(ok).is_ok());
        let twice = format!("{ok}{ok}");
        assert!(spec(&twice).unwrap_err().contains("twice"));
        let both = "[[table]]\nname = \"a\"\nstandard = \"returns\"\nmeasure = \"returns\"\nmethod = \"rr3\"\n";
        assert!(spec(both).is_err());
        let unknown = "[[table]]\nname = \"a\"\nstandard = \"returns\"\nmethod = \"blur\"\n";
        assert!(spec(unknown).is_err());
    }
}
