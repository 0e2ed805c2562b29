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
}

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
        let spec: ReleaseSpec = toml::from_str(&text).map_err(|e| PublishError::Spec {
            path: path.display().to_string(),
            why: e.to_string(),
        })?;
        spec.check().map_err(|why| PublishError::Spec {
            path: path.display().to_string(),
            why,
        })?;
        Ok(spec)
    }

    /// Names are file names: lower-case letters, digits and `_`, unique.
    pub fn check(&self) -> Result<(), String> {
        if self.tables.is_empty() && self.microdata.is_empty() {
            return Err("a release needs at least one [[table]] or [[microdata]]".into());
        }
        if !is_name(&self.version.replace(['.', '-'], "_")) {
            return Err(format!(
                "version `{}`: use letters, digits, `.`, `-` and `_` only (e.g. 2026.1)",
                self.version
            ));
        }
        let mut seen = HashSet::new();
        for (i, t) in self.tables.iter().enumerate() {
            let at = format!("[[table]] {} (`{}`)", i + 1, t.name);
            if !is_name(&t.name) {
                return Err(format!(
                    "{at}: a table name is lower-case letters, digits and `_` (it names the table's files)"
                ));
            }
            if !seen.insert(t.name.as_str()) {
                return Err(format!("{at}: the name is used twice"));
            }
            match (&t.standard, &t.measure) {
                (Some(_), Some(_)) => {
                    return Err(format!("{at}: give `standard` or `measure`, not both"));
                }
                (None, None) => return Err(format!("{at}: give `standard` or `measure`")),
                (Some(_), None) if !t.by.is_empty() || t.filter.is_some() => {
                    return Err(format!(
                        "{at}: a standard table has its own dimensions; `by` and `where` go with `measure`"
                    ));
                }
                _ => {}
            }
            if t.ptable.is_some() && t.method != MethodName::CellKey {
                return Err(format!("{at}: `ptable` belongs to method = \"cell_key\""));
            }
            let dp = t.method == MethodName::Dp;
            if !dp && (t.rho.is_some() || t.dataset.is_some() || !t.domain.is_empty()) {
                return Err(format!(
                    "{at}: `rho`, `dataset` and `domain` belong to method = \"dp\""
                ));
            }
            if dp && !t.rho.is_some_and(|r| r.is_finite() && r > 0.0) {
                return Err(format!(
                    "{at}: method = \"dp\" needs `rho`, the privacy loss to spend (a positive number, e.g. rho = 0.5)"
                ));
            }
        }
        for (i, m) in self.microdata.iter().enumerate() {
            let at = format!("[[microdata]] {} (`{}`)", i + 1, m.name);
            if !is_name(&m.name) {
                return Err(format!(
                    "{at}: a name is lower-case letters, digits and `_` (it names the files)"
                ));
            }
            if !seen.insert(m.name.as_str()) {
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
        Ok(())
    }
}

impl TableRequest {
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
