//! The utility and risk report of a synthetic dataset against the
//! sensitive data it came from: what a publisher reads before deciding.
//!
//! It comes in two parts. The internal review ([`Report`], written by
//! [`write_internal`]) holds sensitive counts, down to single victims, and
//! stays inside the workspace. The publishable report ([`PublicReport`],
//! [`write_public`]) holds only protected figures: figures of the synthetic
//! data, published aggregates, and errors averaged over many combinations.

use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use crate::SynthError;
use crate::combos::{self, Combo, column_subsets};
use crate::domain::{DomainNote, Outside};
use crate::table::{EMPTY, Table};

#[derive(Debug, Clone, Serialize)]
pub struct LengthUtility {
    pub length: usize,
    /// Combinations of this length held by at least k sensitive records.
    pub reportable: u64,
    /// Of those, the share that also occurs in the synthetic data.
    pub preserved_share: f64,
    /// Mean |synthetic − sensitive| / sensitive over the reportable ones.
    pub mean_relative_error: f64,
    /// Sensitive combinations held by fewer than k records: never published.
    pub suppressed: u64,
    /// Synthetic combinations that no sensitive record holds.
    pub fabricated: u64,
    /// Synthetic combinations held by fewer than k sensitive records.
    pub below_k: u64,
}

/// Population for SDG 16.2.2 rates, by sex and age group in the codes of
/// the indicator's columns (`_T` for all sexes or all ages).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Population {
    pub cells: Vec<PopulationCell>,
    /// How it was made (source, year, any regrouping), for the report.
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PopulationCell {
    pub sex: String,
    pub age: String,
    pub population: f64,
}

impl Population {
    /// One total population: rates by sex or age then use it too, and the
    /// report says so.
    pub fn total(population: f64) -> Population {
        Population {
            cells: vec![PopulationCell {
                sex: "_T".into(),
                age: "_T".into(),
                population,
            }],
            note: format!(
                "one total population of {population:.0}: rates by sex or age are per 100,000 of all, not of that sex or age"
            ),
        }
    }

    /// Population counts by sex over age ranges (`from`, `to` inclusive;
    /// `to` `None` for "and over"), regrouped into the indicator's age
    /// `groups` (code, from, to) on the assumption that ages spread evenly
    /// inside each range (an open range counts as 20 years wide). Totals
    /// over sex and age (`_T`) are added.
    pub fn regrouped(
        counts: &[(String, i32, Option<i32>, f64)],
        groups: &[(&str, i32, Option<i32>)],
        note: String,
    ) -> Population {
        const OPEN: i32 = 20;
        let mut cells: Vec<PopulationCell> = Vec::new();
        let mut add = |sex: &str, age: &str, p: f64| match cells
            .iter_mut()
            .find(|c| c.sex == sex && c.age == age)
        {
            Some(c) => c.population += p,
            None => cells.push(PopulationCell {
                sex: sex.into(),
                age: age.into(),
                population: p,
            }),
        };
        for (sex, from, to, p) in counts {
            let from = *from;
            let to = to.unwrap_or(from + OPEN - 1);
            let width = f64::from(to - from + 1).max(1.0);
            add(sex, "_T", *p);
            add("_T", "_T", *p);
            for (code, g_from, g_to) in groups {
                let g_to = g_to.unwrap_or(i32::MAX);
                let overlap = (to.min(g_to).saturating_sub(from.max(*g_from)) + 1).max(0);
                if overlap > 0 {
                    let share = p * f64::from(overlap) / width;
                    add(sex, code, share);
                    add("_T", code, share);
                }
            }
        }
        Population { cells, note }
    }

    pub fn of(&self, sex: &str, age: &str) -> Option<f64> {
        self.cells
            .iter()
            .find(|c| c.sex == sex && c.age == age)
            .map(|c| c.population)
            .filter(|p| *p > 0.0)
    }

    /// The population of `sex` and `age`; where there is none (an
    /// unknown or other sex, an age group the table lacks), that of all
    /// sexes, or all ages, or everyone.
    pub fn of_or_total(&self, sex: &str, age: &str) -> Option<f64> {
        const T: &str = "_T";
        self.of(sex, age)
            .or_else(|| self.of(T, age))
            .or_else(|| self.of(sex, T))
            .or_else(|| self.of(T, T))
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct IndicatorRow {
    pub sex: String,
    pub age: String,
    pub form: String,
    pub sensitive: u64,
    pub synthetic: u64,
    /// Per 100,000 population of that sex and age (all of it for `_T`)
    /// when the population is known.
    pub sensitive_rate: Option<f64>,
    pub synthetic_rate: Option<f64>,
}

/// The first words of every internal review file.
pub const INTERNAL: &str = "INTERNAL — contains sensitive counts, do not publish";

/// The internal review: every figure, sensitive counts included.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`INTERNAL`]: first in the JSON, so that whoever opens it reads it.
    pub notice: &'static str,
    pub method: String,
    pub sensitive_rows: usize,
    pub synthetic_rows: usize,
    pub columns: Vec<String>,
    pub k: u32,
    pub length: usize,
    pub by_length: Vec<LengthUtility>,
    /// Mean total variation distance of all 1-, 2- and 3-way marginals
    /// (no value counts as a category of its own).
    pub tvd: [f64; 3],
    /// Smallest count among the published aggregates (None when none are
    /// published with this dataset).
    pub smallest_published_count: Option<u32>,
    /// Smallest sensitive count behind any combination of the synthetic
    /// data.
    pub smallest_sensitive_count_behind_synthetic: Option<u32>,
    /// Sensitive records that are unique on some combination occurring in
    /// the synthetic data: an attacker holding the synthetic data could
    /// single them out. Must be 0 for k-synthetic data.
    pub records_unique_on_a_published_combination: u64,
    pub attacker_check_passed: bool,
    /// What the attacker check means for this method.
    pub attacker_check_note: String,
    /// Whether the method promises k (k-synthetic) rather than a privacy
    /// loss (DP).
    pub k_guarantee: bool,
    /// SDG 16.2.2: detected victims by sex, age and form of exploitation.
    pub sdg_16_2_2: Vec<IndicatorRow>,
    pub population: Option<Population>,
    /// The public domain of each column and where it came from (DP).
    pub domain: Vec<DomainNote>,
    /// Sensitive records with a value outside its column's domain (DP):
    /// synthesised as no value.
    pub outside_domain: Vec<Outside>,
    /// What produced the data: k, resolution, ε… as given.
    pub parameters: serde_json::Value,
}

/// Columns of the SDG 16.2.2 breakdown, when the table has them.
#[derive(Debug, Clone)]
pub struct IndicatorColumns {
    pub sex: String,
    pub age: String,
    pub form: String,
}

impl Default for IndicatorColumns {
    fn default() -> Self {
        IndicatorColumns {
            sex: "sex".into(),
            age: "age_group".into(),
            form: "exploitation".into(),
        }
    }
}

pub struct ReportInput<'a> {
    pub method: &'a str,
    pub sensitive: &'a Table,
    pub synthetic: &'a Table,
    pub k: u32,
    pub length: usize,
    pub aggregates: Option<&'a [(Combo, u32)]>,
    pub indicator: IndicatorColumns,
    pub population: Option<&'a Population>,
    pub parameters: serde_json::Value,
    /// False for DP synthesis: its records are protected by the privacy
    /// loss, not by k, and may match a real record by chance.
    pub k_guarantee: bool,
    /// DP: the columns' public domains, and the values outside them.
    pub domain: &'a [DomainNote],
    pub outside: &'a [Outside],
}

pub fn build(input: &ReportInput) -> Report {
    let (sens_t, syn_t) = (input.sensitive, input.synthetic);
    let length = input.length.clamp(1, combos::MAX_LENGTH);
    let k = input.k.max(1);
    let syn = combos::count(syn_t, length, 1, 1);
    let sens = combos::count_keeping(sens_t, length, k, |c, n| n >= k || syn.map.contains_key(&c));
    let mut by_length: Vec<LengthUtility> = (1..=length)
        .map(|l| LengthUtility {
            length: l,
            reportable: 0,
            preserved_share: 0.0,
            mean_relative_error: 0.0,
            suppressed: sens.by_length[l - 1].rare,
            fabricated: 0,
            below_k: 0,
        })
        .collect();
    let mut preserved = vec![0u64; length];
    let mut err_sum = vec![0f64; length];
    for (c, n) in &sens.map {
        if *n < k {
            continue;
        }
        let l = combos::length(*c) - 1;
        by_length[l].reportable += 1;
        let s = syn.map.get(c).copied().unwrap_or(0);
        if s > 0 {
            preserved[l] += 1;
        }
        err_sum[l] += (f64::from(s) - f64::from(*n)).abs() / f64::from(*n);
    }
    let mut smallest_behind: Option<u32> = None;
    let mut risky: Vec<Combo> = Vec::new();
    for c in syn.map.keys() {
        let l = combos::length(*c) - 1;
        match sens.map.get(c) {
            None => by_length[l].fabricated += 1,
            Some(n) => {
                if *n < k {
                    by_length[l].below_k += 1;
                }
                if *n == 1 {
                    risky.push(*c);
                }
                smallest_behind = Some(smallest_behind.map_or(*n, |m| m.min(*n)));
            }
        }
    }
    for (l, u) in by_length.iter_mut().enumerate() {
        if u.reportable > 0 {
            u.preserved_share = preserved[l] as f64 / u.reportable as f64;
            u.mean_relative_error = err_sum[l] / u.reportable as f64;
        }
    }
    let unique_records = records_holding(sens_t, &risky);
    let tvd = [1, 2, 3].map(|w| mean_tvd(sens_t, syn_t, w));
    Report {
        notice: INTERNAL,
        method: input.method.to_string(),
        sensitive_rows: sens_t.rows(),
        synthetic_rows: syn_t.rows(),
        columns: sens_t.columns.clone(),
        k,
        length,
        by_length,
        tvd,
        smallest_published_count: input
            .aggregates
            .and_then(|a| a.iter().map(|(_, n)| *n).min()),
        smallest_sensitive_count_behind_synthetic: smallest_behind,
        records_unique_on_a_published_combination: unique_records,
        attacker_check_passed: !input.k_guarantee || unique_records == 0,
        attacker_check_note: if input.k_guarantee {
            "k-synthetic data promise that no combination held by fewer than k victims appears: this count must be 0".into()
        } else {
            "DP synthetic records are drawn from noisy counts; a synthetic combination that matches a rare real one does so by chance and reveals nothing beyond the stated privacy loss (informational, not a failure)".into()
        },
        k_guarantee: input.k_guarantee,
        sdg_16_2_2: indicator(sens_t, syn_t, &input.indicator, input.population),
        population: input.population.cloned(),
        domain: input.domain.to_vec(),
        outside_domain: input.outside.to_vec(),
        parameters: input.parameters.clone(),
    }
}

fn records_holding(t: &Table, combos_: &[Combo]) -> u64 {
    if combos_.is_empty() {
        return 0;
    }
    let risky: rustc_hash::FxHashSet<Combo> = combos_.iter().copied().collect();
    let max_len = combos_
        .iter()
        .map(|c| combos::length(*c))
        .max()
        .unwrap_or(1);
    let subsets = column_subsets(t.width(), max_len);
    (0..t.rows())
        .filter(|r| {
            subsets.iter().any(|cols| {
                let mut items = Vec::with_capacity(cols.len());
                for c in cols {
                    let v = t.codes[*c][*r];
                    if v == EMPTY {
                        return false;
                    }
                    items.push(combos::item(*c, v));
                }
                risky.contains(&combos::pack(&items))
            })
        })
        .count() as u64
}

/// Mean TVD = ½‖p − q‖₁ over all column subsets of size `w`; both tables
/// share their dictionaries (a synthetic table is made with its sensitive
/// table's), and no value is a category of its own. Only cells some record
/// holds are kept: a public domain (250 countries) makes dense tables of
/// three columns too large, and an empty cell adds nothing.
fn mean_tvd(a: &Table, b: &Table, w: usize) -> f64 {
    if a.width() < w || a.rows() == 0 || b.rows() == 0 {
        return 0.0;
    }
    let sizes: Vec<u64> = a.values.iter().map(|v| v.len() as u64 + 1).collect();
    let subsets: Vec<Vec<usize>> = column_subsets(a.width(), w)
        .into_iter()
        .filter(|s| s.len() == w)
        .collect();
    if subsets.is_empty() {
        return 0.0;
    }
    let dist = |t: &Table, cols: &[usize]| -> rustc_hash::FxHashMap<u128, f64> {
        let mut m = rustc_hash::FxHashMap::default();
        let n = t.rows() as f64;
        for r in 0..t.rows() {
            let mut idx = 0u128;
            for c in cols {
                let v = match t.codes[*c][r] {
                    EMPTY => sizes[*c] - 1,
                    v => u64::from(v),
                };
                idx = idx * u128::from(sizes[*c]) + u128::from(v);
            }
            *m.entry(idx).or_insert(0.0) += 1.0 / n;
        }
        m
    };
    let total: f64 = subsets
        .par_iter()
        .map(|cols| {
            let (p, q) = (dist(a, cols), dist(b, cols));
            let mut l1: f64 = p
                .iter()
                .map(|(k, x)| (x - q.get(k).copied().unwrap_or(0.0)).abs())
                .sum();
            l1 += q
                .iter()
                .filter(|(k, _)| !p.contains_key(k))
                .map(|(_, y)| y)
                .sum::<f64>();
            0.5 * l1
        })
        .sum();
    total / subsets.len() as f64
}

fn indicator(
    sens: &Table,
    syn: &Table,
    cols: &IndicatorColumns,
    population: Option<&Population>,
) -> Vec<IndicatorRow> {
    let find = |t: &Table, c: &str| t.columns.iter().position(|x| x == c);
    let (Some(s), Some(a), Some(f)) = (
        find(sens, &cols.sex),
        find(sens, &cols.age),
        find(sens, &cols.form),
    ) else {
        return Vec::new();
    };
    let tally = |t: &Table| {
        let mut m: std::collections::BTreeMap<(String, String, String), u64> = Default::default();
        let text = |c: usize, r: usize| match t.codes[c][r] {
            EMPTY => "_U".to_string(),
            v => t.values[c][v as usize].clone(),
        };
        for r in 0..t.rows() {
            let (x, y, z) = (text(s, r), text(a, r), text(f, r));
            for key in [
                (x.clone(), y.clone(), z.clone()),
                ("_T".into(), "_T".into(), "_T".into()),
                (x.clone(), "_T".into(), "_T".into()),
                ("_T".into(), y.clone(), "_T".into()),
                ("_T".into(), "_T".into(), z.clone()),
            ] {
                *m.entry(key).or_default() += 1;
            }
        }
        m
    };
    let (ms, my) = (tally(sens), tally(syn));
    let mut keys: Vec<&(String, String, String)> = ms.keys().chain(my.keys()).collect();
    keys.sort();
    keys.dedup();
    // Per 100,000 of the population of that sex and age; a form of
    // exploitation is not a population group.
    let rate = |n: u64, sex: &str, age: &str| {
        population
            .and_then(|p| p.of(sex, age))
            .map(|p| n as f64 * 1e5 / p)
    };
    keys.into_iter()
        .map(|k| {
            let (a, b) = (
                ms.get(k).copied().unwrap_or(0),
                my.get(k).copied().unwrap_or(0),
            );
            IndicatorRow {
                sex: k.0.clone(),
                age: k.1.clone(),
                form: k.2.clone(),
                sensitive: a,
                synthetic: b,
                sensitive_rate: rate(a, &k.0, &k.1),
                synthetic_rate: rate(b, &k.0, &k.1),
            }
        })
        .collect()
}

/// Fewer combinations of a length than this and their average error is
/// not published: an average over one or two cells, with the synthetic
/// counts beside it, gives the cells back.
pub const MIN_AVERAGED: u64 = 5;

/// Utility of one combination length, as published: shares and means over
/// at least [`MIN_AVERAGED`] combinations, never a count of sensitive ones.
#[derive(Debug, Clone, Serialize)]
pub struct PublicUtility {
    pub length: usize,
    /// Share of the combinations held by at least k victims that the
    /// synthetic data also hold.
    pub preserved_share: Option<f64>,
    /// Mean relative error of their counts in the synthetic data.
    pub mean_relative_error: Option<f64>,
}

/// One SDG 16.2.2 cell of the synthetic data.
#[derive(Debug, Clone, Serialize)]
pub struct PublicIndicatorRow {
    pub sex: String,
    pub age: String,
    pub form: String,
    pub synthetic: u64,
    /// Per 100,000 population of that sex and age (all of it for `_T`).
    pub synthetic_rate: Option<f64>,
}

/// The publishable report: only protected figures. Figures of the
/// synthetic data (anyone holding `synthetic.csv` can compute them), the
/// published aggregates, the privacy loss, the public domains, and errors
/// averaged over many combinations. No sensitive count, not even the
/// number of sensitive records of a DP synthesis.
#[derive(Debug, Clone, Serialize)]
pub struct PublicReport {
    pub notice: &'static str,
    pub method: String,
    pub synthetic_rows: usize,
    pub columns: Vec<String>,
    /// The k behind the utility figures (and, for k-synthetic data, the
    /// guarantee).
    pub k: u32,
    pub length: usize,
    pub utility_by_length: Vec<PublicUtility>,
    /// Mean total variation distance of all 1-, 2- and 3-way marginals.
    pub tvd: [f64; 3],
    /// k-synthetic: the smallest published aggregate.
    pub smallest_published_count: Option<u32>,
    /// k-synthetic: 0, the attacker check it passed (a folder that fails
    /// it is not written). Not shown for DP, where it is informational
    /// and counts sensitive records.
    pub records_unique_on_a_published_combination: Option<u64>,
    pub attacker_check_note: String,
    /// SDG 16.2.2 on the synthetic data: only cells the synthetic data
    /// hold (a row for a cell they lack would say the sensitive data have
    /// it).
    pub sdg_16_2_2: Vec<PublicIndicatorRow>,
    pub population: Option<Population>,
    /// DP: each column's public domain and where it came from.
    pub domain: Vec<DomainNote>,
    pub parameters: serde_json::Value,
}

/// What the publishable report says about itself.
pub const PUBLIC_NOTICE: &str = "Protected figures only: figures of the synthetic data, published aggregates, and errors averaged over many combinations. The sensitive counts are in the internal review, which is kept apart and never handed out.";

impl Report {
    /// The protected part of this report.
    pub fn publishable(&self) -> PublicReport {
        PublicReport {
            notice: PUBLIC_NOTICE,
            method: self.method.clone(),
            synthetic_rows: self.synthetic_rows,
            columns: self.columns.clone(),
            k: self.k,
            length: self.length,
            utility_by_length: self
                .by_length
                .iter()
                .map(|l| {
                    let enough = l.reportable >= MIN_AVERAGED;
                    PublicUtility {
                        length: l.length,
                        preserved_share: enough.then_some(l.preserved_share),
                        mean_relative_error: enough.then_some(l.mean_relative_error),
                    }
                })
                .collect(),
            tvd: self.tvd,
            smallest_published_count: self.smallest_published_count,
            records_unique_on_a_published_combination: (self.k_guarantee
                && self.attacker_check_passed)
                .then_some(0),
            attacker_check_note: if self.k_guarantee {
                self.attacker_check_note.clone()
            } else {
                "DP synthetic records are drawn from noisy counts: they are protected by the privacy loss, not by k".into()
            },
            sdg_16_2_2: self
                .sdg_16_2_2
                .iter()
                .filter(|r| r.synthetic > 0)
                .map(|r| PublicIndicatorRow {
                    sex: r.sex.clone(),
                    age: r.age.clone(),
                    form: r.form.clone(),
                    synthetic: r.synthetic,
                    synthetic_rate: r.synthetic_rate,
                })
                .collect(),
            population: self.population.clone(),
            domain: self.domain.clone(),
            parameters: self.parameters.clone(),
        }
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

const STYLE: &str = "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}\
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.ok{color:#070}.bad{color:#a00}\
.internal{background:#a00;color:#fff;padding:.6rem 1rem;font-weight:bold}</style>";

fn domain_html(h: &mut String, domain: &[DomainNote]) {
    if domain.is_empty() {
        return;
    }
    h.push_str("<h2>Domain</h2><p>The values each column may take. They are public (code lists or the publisher's file), never taken from the data; a value outside them is synthesised as no value.</p><table><tr><th>column</th><th>values</th><th>from</th></tr>");
    for d in domain {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&d.column),
            d.values,
            esc(&d.source)
        ));
    }
    h.push_str("</table>");
}

fn write_json(path: &Path, value: &impl Serialize, private: bool) -> Result<(), SynthError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| SynthError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    crate::write_file(path, text.as_bytes(), private)
}

/// Writes the internal review (`report.json`, `report.html`, `README.md`)
/// of the synthetic data in `reviewed` into `dir`, files readable by the
/// owner only.
pub fn write_internal(dir: &Path, report: &Report, reviewed: &Path) -> Result<(), SynthError> {
    write_json(&dir.join("report.json"), report, true)?;
    let mut h = String::new();
    h.push_str(&format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{INTERNAL} — utility and risk: {}</title>{STYLE}\
<p class=\"internal\">{INTERNAL}.</p>\
<p>This review of the synthetic data in <code>{}</code> shows the exact counts of the sensitive records, down to single victims. \
It stays inside the workspace: never hand it out, never copy it into the synthetic-data folder. That folder has a report of its own with protected figures only.</p>\
<h1>Utility and risk review</h1><p>Method: <b>{}</b>. Sensitive records: {}; synthetic records: {}. Columns: {}.</p>",
        esc(&report.method),
        esc(&reviewed.display().to_string()),
        esc(&report.method),
        report.sensitive_rows,
        report.synthetic_rows,
        esc(&report.columns.join(", "))
    ));
    h.push_str(&format!(
        "<h2>Risk</h2><p class=\"{}\">Sensitive records unique on a combination that occurs in the synthetic data: <b>{}</b>. {}</p>\
<p>Smallest sensitive count behind any synthetic combination: {}. Smallest published aggregate: {}. k = {}, combinations up to length {}.</p>",
        if report.attacker_check_passed { "ok" } else { "bad" },
        report.records_unique_on_a_published_combination,
        esc(&report.attacker_check_note),
        report.smallest_sensitive_count_behind_synthetic.map_or("–".into(), |n| n.to_string()),
        report.smallest_published_count.map_or("none published".into(), |n| n.to_string()),
        report.k,
        report.length
    ));
    domain_html(&mut h, &report.domain);
    if !report.outside_domain.is_empty() {
        h.push_str("<h2>Values outside the domain</h2><p>Synthesised as no value, never added to the domain. If they are real categories, add them to the domain file.</p><table><tr><th>column</th><th>records</th><th>values (records)</th></tr>");
        for o in &report.outside_domain {
            let values: Vec<String> = o
                .values
                .iter()
                .map(|(v, n)| format!("{} ({n})", esc(v)))
                .collect();
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&o.column),
                o.records,
                values.join(", ")
            ));
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Utility by combination length</h2><table><tr><th>length</th><th>reportable (≥ k)</th><th>preserved</th><th>mean relative error</th><th>suppressed (&lt; k)</th><th>fabricated</th><th>below k</th></tr>");
    for l in &report.by_length {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{:.1} %</td><td>{:.1} %</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            l.length,
            l.reportable,
            100.0 * l.preserved_share,
            100.0 * l.mean_relative_error,
            l.suppressed,
            l.fabricated,
            l.below_k
        ));
    }
    h.push_str(&format!(
        "</table><p>Mean total variation distance of marginals: 1-way {:.4}, 2-way {:.4}, 3-way {:.4} (0 = identical, 1 = disjoint).</p>",
        report.tvd[0], report.tvd[1], report.tvd[2]
    ));
    if !report.sdg_16_2_2.is_empty() {
        h.push_str("<h2>SDG 16.2.2: detected victims by sex, age and form of exploitation</h2>");
        if let Some(p) = &report.population {
            h.push_str(&format!(
                "<p>Rates per 100,000 population of the same sex and age group: {}.</p>",
                esc(&p.note)
            ));
        }
        h.push_str("<table><tr><th>sex</th><th>age</th><th>form</th><th>sensitive</th><th>synthetic</th><th>sensitive rate</th><th>synthetic rate</th></tr>");
        for r in &report.sdg_16_2_2 {
            let f = |x: Option<f64>| x.map_or("–".into(), |v| format!("{v:.3}"));
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.sex),
                esc(&r.age),
                esc(&r.form),
                r.sensitive,
                r.synthetic,
                f(r.sensitive_rate),
                f(r.synthetic_rate)
            ));
        }
        h.push_str("</table>");
    }
    h.push_str(&format!(
        "<h2>Parameters</h2><pre>{}</pre></html>\n",
        esc(&serde_json::to_string_pretty(&report.parameters).unwrap_or_default())
    ));
    crate::write_file(&dir.join("report.html"), h.as_bytes(), true)?;
    let readme = format!(
        "# {INTERNAL}\n\n\
This folder is the internal review of the synthetic data in `{}`. Its `report.html` and `report.json` \
show the exact counts of the sensitive records behind every figure, down to single victims (SDG 16.2.2 \
cells, the smallest counts behind synthetic combinations{}).\n\n\
Keep it inside the workspace. Never hand it out, attach it or copy it into the synthetic-data folder: \
that folder has its own report, with protected figures only.\n",
        reviewed.display(),
        if report.outside_domain.is_empty() {
            ""
        } else {
            ", the records whose values lie outside the domain"
        }
    );
    crate::write_file(&dir.join("README.md"), readme.as_bytes(), true)
}

/// Writes the publishable report (`report.json`, `report.html`) into `dir`.
pub fn write_public(dir: &Path, report: &PublicReport) -> Result<(), SynthError> {
    write_json(&dir.join("report.json"), report, false)?;
    let pct = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{:.1} %", 100.0 * v));
    let mut h = String::new();
    h.push_str(&format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Utility report (protected figures only): {}</title>{STYLE}\
<h1>Utility report</h1><p>{}</p><p>Method: <b>{}</b>. Synthetic records: {}. Columns: {}.</p>",
        esc(&report.method),
        esc(report.notice),
        esc(&report.method),
        report.synthetic_rows,
        esc(&report.columns.join(", "))
    ));
    h.push_str(&format!(
        "<h2>Protection</h2><p>{}</p>",
        esc(&report.attacker_check_note)
    ));
    if let Some(n) = report.records_unique_on_a_published_combination {
        h.push_str(&format!(
            "<p class=\"ok\">Sensitive records unique on a combination that occurs in the synthetic data: <b>{n}</b> (check passed). \
k = {}, combinations up to length {}. Smallest published aggregate: {}.</p>",
            report.k,
            report.length,
            report.smallest_published_count.map_or("none published".into(), |n| n.to_string())
        ));
    }
    domain_html(&mut h, &report.domain);
    h.push_str(&format!(
        "<h2>Utility by combination length</h2><p>Over the combinations of up to {} attributes held by at least k = {} victims; \
an average over fewer than {MIN_AVERAGED} combinations is not shown (–).</p>\
<table><tr><th>length</th><th>preserved</th><th>mean relative error</th></tr>",
        report.length, report.k
    ));
    for l in &report.utility_by_length {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            l.length,
            pct(l.preserved_share),
            pct(l.mean_relative_error)
        ));
    }
    h.push_str(&format!(
        "</table><p>Mean total variation distance of marginals: 1-way {:.4}, 2-way {:.4}, 3-way {:.4} (0 = identical, 1 = disjoint).</p>",
        report.tvd[0], report.tvd[1], report.tvd[2]
    ));
    if !report.sdg_16_2_2.is_empty() {
        h.push_str("<h2>SDG 16.2.2 in the synthetic data: victims by sex, age and form of exploitation</h2>");
        if let Some(p) = &report.population {
            h.push_str(&format!(
                "<p>Rates per 100,000 population of the same sex and age group: {}.</p>",
                esc(&p.note)
            ));
        }
        h.push_str("<table><tr><th>sex</th><th>age</th><th>form</th><th>synthetic</th><th>synthetic rate</th></tr>");
        for r in &report.sdg_16_2_2 {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.sex),
                esc(&r.age),
                esc(&r.form),
                r.synthetic,
                r.synthetic_rate.map_or("–".into(), |v| format!("{v:.3}"))
            ));
        }
        h.push_str("</table>");
    }
    h.push_str(&format!(
        "<h2>Parameters</h2><pre>{}</pre></html>\n",
        esc(&serde_json::to_string_pretty(&report.parameters).unwrap_or_default())
    ));
    crate::write_file(&dir.join("report.html"), h.as_bytes(), false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Regrouping keeps every person: each sex's groups sum to its
        /// total, and the sexes to the grand total, whatever the ranges.
        #[test]
        fn regrouping_keeps_the_population(counts in proptest::collection::vec((0usize..2, 0i32..90, 0i32..10, proptest::bool::ANY, 0.0f64..1e6), 1..30)) {
            let counts: Vec<(String, i32, Option<i32>, f64)> = counts
                .into_iter()
                .map(|(s, from, w, open, p)| (["F", "M"][s].to_string(), from, (!open).then_some(from + w), p))
                .collect();
            let groups = [("Y0T17", 0, Some(17)), ("Y18T49", 18, Some(49)), ("Y_GE50", 50, None)];
            let p = Population::regrouped(&counts, &groups, String::new());
            let total: f64 = counts.iter().map(|c| c.3).sum();
            prop_assert!((p.of("_T", "_T").unwrap_or(0.0) - total).abs() <= 1e-6 * total.max(1.0));
            for sex in ["F", "M", "_T"] {
                let whole = p.of(sex, "_T").unwrap_or(0.0);
                let parts: f64 = groups.iter().map(|g| p.of(sex, g.0).unwrap_or(0.0)).sum();
                prop_assert!((whole - parts).abs() <= 1e-6 * whole.max(1.0), "{sex}: {whole} vs {parts}");
            }
        }
    }

    #[test]
    fn a_group_cut_in_two_is_split_evenly() {
        let counts = vec![("F".to_string(), 15, Some(19), 500.0)];
        let groups = [("Y12T17", 12, Some(17)), ("Y18T24", 18, Some(24))];
        let p = Population::regrouped(&counts, &groups, String::new());
        assert_eq!(p.of("F", "Y12T17"), Some(300.0));
        assert_eq!(p.of("F", "Y18T24"), Some(200.0));
        assert_eq!(p.of("M", "_T"), None);
        assert_eq!(Population::total(10.0).of("_T", "_T"), Some(10.0));
    }

    #[test]
    fn a_group_without_population_counts_against_the_wider_one() {
        let counts = vec![
            ("F".to_string(), 0, Some(9), 100.0),
            ("M".to_string(), 0, Some(9), 300.0),
        ];
        let groups = [("Y0T9", 0, Some(9)), ("Y10T19", 10, Some(19))];
        let p = Population::regrouped(&counts, &groups, String::new());
        assert_eq!(p.of_or_total("F", "Y0T9"), Some(100.0));
        // Unknown sex: all sexes of that age.
        assert_eq!(p.of_or_total("_U", "Y0T9"), Some(400.0));
        // An age group with no one: that sex, all ages.
        assert_eq!(p.of_or_total("M", "Y10T19"), Some(300.0));
        assert_eq!(p.of_or_total("_O", "_U"), Some(400.0));
    }
}
