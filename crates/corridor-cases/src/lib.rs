//! The trafficking cases of a workspace, as the other layers need them:
//! the linkage pool (encodings and harmonised attributes), the categorical
//! table synthesis works on (one record per person once a linkage has
//! run) with the public domain of each of its columns (from the code
//! lists, never from the cases), the population behind SDG 16.2.2 rates,
//! and where a synthesis's internal review goes. The CLI and, later,
//! the release builder call these; `corridor-link` and `corridor-synth`
//! know nothing about workspaces.
//!
//! The API: [`dedupe_workspace`], [`evaluate_workspace_links`] and
//! [`synthesise_workspace`] (one user action each), [`write_workspace_dp`],
//! and the workspace's views: [`workspace_pool`], [`workspace_cases`] (and
//! its rows, [`workspace_case_rows`], with record keys:
//! [`workspace_case_rows_keyed`]),
//! [`workspace_domain`], [`workspace_population`]; errors are [`CasesError`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use corridor_link::Pool;
use corridor_link::schema::{BlockingOptions, CompareMethod, CompareRule, LinkageSchema};
use corridor_model::CodeListId;
use corridor_model::age::AgeGrouping;
use corridor_store::{StoreError, Workspace};
use corridor_synth::report::Population;
use corridor_synth::{Domain, Table};

#[derive(Debug, thiserror::Error)]
pub enum CasesError {
    #[error("reading {what}: {source}")]
    Read {
        what: &'static str,
        #[source]
        source: StoreError,
    },
    #[error(transparent)]
    Link(#[from] corridor_link::LinkError),
    #[error(transparent)]
    Synth(#[from] corridor_synth::SynthError),
    #[error("privacy ledger: {0}")]
    Ledger(StoreError),
    #[error(
        "none of the {skipped} stored encodings is {bits} bits long, as the linkage schema says: \
         give the partners' linkage schema the cases were encoded with (linkage.toml, --schema)"
    )]
    NoEncodingFits { skipped: u64, bits: usize },
}

mod linkage;
mod synthesis;
pub use linkage::{Dedupe, dedupe_workspace, evaluate_workspace_links};
pub use synthesis::{WorkspaceSynthesis, synthesise_workspace};

/// The dataset name under which DP releases of a workspace's cases are
/// charged in its privacy ledger.
pub const CASES_DATASET: &str = "trafficking_cases";

/// Differentially private synthesis of a workspace's cases, charged to the
/// workspace's privacy ledger before any noise is drawn: the one way
/// workspace cases are synthesised under DP, so that no caller (the CLI,
/// the release builder, the server) can skip the charge, and a charge over
/// the budget is refused with nothing drawn. Returns what `write_dp`
/// returns and the total ρ spent on the cases so far.
pub fn write_workspace_dp(
    ws: &Workspace,
    table: &Table,
    domain: &Domain,
    opts: &corridor_synth::DpOptions,
    ctx: &corridor_synth::Context,
    folders: corridor_synth::Folders,
) -> Result<
    (
        corridor_synth::DpSynthetic,
        corridor_synth::InDomain,
        corridor_synth::Report,
        f64,
    ),
    CasesError,
> {
    let (budget, seq) = charge(ws, folders.publish, opts)?;
    let (out, input, report) = corridor_synth::write_dp(table, domain, opts, ctx, folders)?;
    record_detail(ws, seq, &out.privacy)?;
    Ok((out, input, report, budget.spent))
}

/// Charges a DP synthesis's ρ to the cases' budget, before it runs.
fn charge(
    ws: &Workspace,
    publish: &Path,
    opts: &corridor_synth::DpOptions,
) -> Result<(corridor_store::Budget, i64), CasesError> {
    ws.charge_privacy_loss(&corridor_store::Charge {
        dataset: CASES_DATASET,
        output: &publish.display().to_string(),
        mechanism: corridor_synth::dp::MECHANISM,
        rho: opts.rho,
        epsilon: corridor_synth::dp::epsilon_of(opts.rho, opts.delta),
        delta: opts.delta,
        detail_json: "{}",
    })
    .map_err(CasesError::Ledger)
}

/// Writes the measurements a DP synthesis made on its ledger line. It
/// never spends more than it was charged: more would be a defect.
fn record_detail(
    ws: &Workspace,
    seq: i64,
    p: &corridor_synth::PrivacyLoss,
) -> Result<(), CasesError> {
    let detail = serde_json::to_string(p).unwrap_or_default();
    ws.privacy_charge_detail(seq, &detail)
        .map_err(CasesError::Ledger)
}

/// Attributes compared beside the encoding in a workspace: stable, coded,
/// and shared by every organisation's mapping.
pub fn workspace_compares() -> Vec<CompareRule> {
    let rule = |column: &str, method, tolerance| CompareRule {
        column: column.into(),
        method,
        tolerance,
    };
    vec![
        rule("sex", CompareMethod::Exact, 0.0),
        rule("citizenship", CompareMethod::Exact, 0.0),
        rule("country_of_exploitation", CompareMethod::Exact, 0.0),
        rule("age", CompareMethod::Number, 1.0),
    ]
}

/// The schema of linkage in a workspace: the partners' agreed part (filter
/// lengths, hardening, fields, blocking) from their schema when given, and
/// the harmonised attributes to compare.
pub fn workspace_schema(agreed: Option<LinkageSchema>) -> LinkageSchema {
    let agreed = agreed.unwrap_or(LinkageSchema {
        reader: Default::default(),
        record_id: String::new(),
        encoding: Default::default(),
        fields: Vec::new(),
        compares: Vec::new(),
        blocking: BlockingOptions::default(),
    });
    LinkageSchema {
        reader: Default::default(),
        record_id: "case_key".into(),
        compares: workspace_compares(),
        ..agreed
    }
}

/// The workspace's trafficking cases with encodings, as a pool.
pub fn workspace_pool(ws: &Workspace, schema: &LinkageSchema) -> Result<(Pool, u64), CasesError> {
    let batches = ws
        .sql(
            "SELECT case_key, reporting_organisation, linkage_encoding, sex, citizenship, \
             country_of_exploitation, age FROM trafficking_cases",
        )
        .map_err(|source| CasesError::Read {
            what: "trafficking cases (were encoded case files ingested?)",
            source,
        })?;
    let mut pool = Pool::default();
    let (_, skipped) = pool.add_batches(
        &batches,
        "case_key",
        "reporting_organisation",
        "linkage_encoding",
        &schema.compares,
        &schema.layout(),
    )?;
    Ok((pool, skipped))
}

/// The columns of [`workspace_cases`]' table, in order.
pub const CASE_COLUMNS: [&str; 13] = [
    "sex",
    "age_group",
    "citizenship",
    "country_of_exploitation",
    "exploitation",
    "labour_industry",
    "recruiter_relationship",
    "registration_year",
    "threats",
    "psychological_abuse",
    "false_promises",
    "physical_abuse",
    "restricts_movement",
];

/// The means of control [`workspace_cases`] turns into yes/no columns.
const CONTROL_FLAGS: [&str; 5] = [
    "threats",
    "psychological_abuse",
    "false_promises",
    "physical_abuse",
    "restricts_movement",
];

/// First year of the default domain of `registration_year`; the last is
/// the current year. A publisher's `--domain` file narrows or widens it.
pub const FIRST_REGISTRATION_YEAR: i32 = 2000;

/// The case age group (the `age_group` code list's `cases` groups) of an
/// age; empty when the age is unknown.
pub fn age_group(age: i64) -> &'static str {
    i32::try_from(age)
        .ok()
        .and_then(|a| AgeGrouping::Cases.code_of(a))
        .unwrap_or("")
}

/// The workspace's trafficking cases, one record per person when a
/// linkage has been run (the first record of each cluster), as a
/// categorical table.
pub fn workspace_cases(ws: &Workspace) -> Result<(Table, usize), CasesError> {
    let (columns, rows, records) = workspace_case_rows(ws)?;
    let table = Table::from_rows(
        columns,
        rows.iter().map(|r| r.iter().map(String::as_str).collect()),
    );
    Ok((table, records))
}

/// Column names, rows of text and the number of case records read.
pub type CaseRows = (Vec<String>, Vec<Vec<String>>, usize);

/// The same cases as rows of text, one value per [`CASE_COLUMNS`] (empty
/// where unknown), with the number of case records read.
pub fn workspace_case_rows(ws: &Workspace) -> Result<CaseRows, CasesError> {
    workspace_case_rows_keyed(ws).map(|(rows, _)| rows)
}

/// [`workspace_case_rows`] with, per row, the top 32 bits of the kept
/// record's permanent record key: what a cell key sums, so that the same
/// victims give the same cell key in every table.
pub fn workspace_case_rows_keyed(ws: &Workspace) -> Result<(CaseRows, Vec<u64>), CasesError> {
    let batches = ws.sql(
        "SELECT case_key, CAST(record_key >> 32 AS BIGINT UNSIGNED) AS key_part, sex, age, citizenship, country_of_exploitation, \
         array_to_string(exploitation_types, '+') AS exploitation, labour_industry, \
         recruiter_relationship, CAST(registration_year AS VARCHAR) AS registration_year, \
         CASE WHEN array_has(means_of_control, 'threats') THEN 'yes' ELSE 'no' END AS threats, \
         CASE WHEN array_has(means_of_control, 'psychological_abuse') THEN 'yes' ELSE 'no' END AS psychological_abuse, \
         CASE WHEN array_has(means_of_control, 'false_promises') THEN 'yes' ELSE 'no' END AS false_promises, \
         CASE WHEN array_has(means_of_control, 'physical_abuse') THEN 'yes' ELSE 'no' END AS physical_abuse, \
         CASE WHEN array_has(means_of_control, 'restricts_movement') THEN 'yes' ELSE 'no' END AS restricts_movement \
         FROM trafficking_cases ORDER BY reporting_organisation, case_key",
    ).map_err(|source| CasesError::Read {
        what: "trafficking cases",
        source,
    })?;
    // One record per person once a linkage has been run.
    let linkage = ws.root().join("linkage");
    let clusters: HashMap<String, String> = if linkage.join("clusters.csv").is_file() {
        corridor_link::evaluate::read_clusters(&linkage)?
            .into_iter()
            .collect()
    } else {
        HashMap::new()
    };
    let columns = CASE_COLUMNS;
    let mut seen = std::collections::HashSet::new();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut keys_kept: Vec<u64> = Vec::new();
    let mut records = 0;
    for b in &batches {
        let key_parts = b.column_by_name("key_part").and_then(|c| {
            c.as_primitive_opt::<arrow::datatypes::UInt64Type>()
                .cloned()
        });
        // No value and the unknown code `_U` become empty cells.
        let text = |name: &str| -> Vec<String> {
            b.column_by_name(name).map_or_else(
                || vec![String::new(); b.num_rows()],
                |col| {
                    corridor_link::pool::text_column(col.as_ref())
                        .into_iter()
                        .map(Option::unwrap_or_default)
                        .collect()
                },
            )
        };
        let keys = text("case_key");
        let ages = text("age");
        let named: Vec<Vec<String>> = columns
            .iter()
            .map(|c| {
                if *c == "age_group" {
                    Vec::new()
                } else {
                    text(c)
                }
            })
            .collect();
        for r in 0..b.num_rows() {
            records += 1;
            let person = clusters
                .get(&keys[r])
                .cloned()
                .unwrap_or_else(|| keys[r].clone());
            if !seen.insert(person) {
                continue;
            }
            keys_kept.push(key_parts.as_ref().map_or(0, |k| k.value(r)));
            rows.push(
                columns
                    .iter()
                    .enumerate()
                    .map(|(c, name)| {
                        if *name == "age_group" {
                            ages[r]
                                .parse::<i64>()
                                .map(|a| age_group(a).to_string())
                                .unwrap_or_default()
                        } else if *name == "exploitation" {
                            canonical_exploitation(&named[c][r])
                        } else {
                            named[c][r].clone()
                        }
                    })
                    .collect(),
            );
        }
    }
    Ok((
        (
            columns.iter().map(|c| c.to_string()).collect(),
            rows,
            records,
        ),
        keys_kept,
    ))
}

/// A set of forms of exploitation as one value: its codes in code-list
/// order, joined by `+`, so that the same set is always the same value
/// (organisations list them in any order). Codes the list lacks come last,
/// in the order given.
pub fn canonical_exploitation(joined: &str) -> String {
    let list = CodeListId::ExploitationType.list();
    let mut parts: Vec<&str> = joined
        .split('+')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    parts.sort_by_key(|p| {
        list.codes
            .iter()
            .position(|c| c.code == *p)
            .unwrap_or(usize::MAX)
    });
    let mut seen = std::collections::HashSet::new();
    parts.retain(|p| seen.insert(*p));
    parts.join("+")
}

fn source_of(id: CodeListId) -> String {
    let (file, _) = id.source_file();
    let notes = &id.list().source_notes;
    match notes.first() {
        Some(note) => format!("code list {} ({file}: {note})", id.name()),
        None => format!("code list {} ({file})", id.name()),
    }
}

/// Codes of a list that a victim's record can hold: not the total `_T`,
/// and not unknown `_U` or not applicable `_Z` (no value).
fn codes_of(id: CodeListId) -> Vec<String> {
    id.list()
        .codes
        .iter()
        .map(|c| c.code.clone())
        .filter(|c| !matches!(c.as_str(), "_T" | "_U" | "_Z"))
        .collect()
}

/// The current calendar year, by the system clock.
fn this_year() -> i32 {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    corridor_model::calendar::civil(i32::try_from(days).unwrap_or(i32::MAX)).0
}

/// The public domain of every column of [`workspace_cases`]' table, from
/// the code lists and the standard's groupings, never from the cases:
/// whether a rare category appears at all must not depend on whether some
/// victim has it.
pub fn workspace_domain() -> Domain {
    let mut d = Domain::default();
    d.set("sex", codes_of(CodeListId::Sex), source_of(CodeListId::Sex));
    d.set(
        "age_group",
        AgeGrouping::Cases
            .codes()
            .iter()
            .map(|c| c.to_string())
            .collect(),
        "the `age_group` code list's case groups, from the age at registration".into(),
    );
    for column in ["citizenship", "country_of_exploitation"] {
        d.set(
            column,
            codes_of(CodeListId::Country),
            source_of(CodeListId::Country),
        );
    }
    // Every non-empty set of forms, as canonical_exploitation writes it.
    let forms = codes_of(CodeListId::ExploitationType);
    let sets: Vec<String> = (1u32..1 << forms.len())
        .map(|mask| {
            forms
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, f)| f.as_str())
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    d.set(
        "exploitation",
        sets,
        format!(
            "every set of one or more forms of the {}, joined by + in list order",
            source_of(CodeListId::ExploitationType)
        ),
    );
    d.set(
        "labour_industry",
        codes_of(CodeListId::LabourIndustry),
        source_of(CodeListId::LabourIndustry),
    );
    d.set(
        "recruiter_relationship",
        codes_of(CodeListId::RecruiterRelationship),
        source_of(CodeListId::RecruiterRelationship),
    );
    let last = this_year().max(FIRST_REGISTRATION_YEAR);
    d.set(
        "registration_year",
        (FIRST_REGISTRATION_YEAR..=last)
            .map(|y| y.to_string())
            .collect(),
        format!("the years {FIRST_REGISTRATION_YEAR} to {last} (the current year)"),
    );
    for flag in CONTROL_FLAGS {
        d.set(
            flag,
            vec!["yes".into(), "no".into()],
            format!(
                "yes/no: whether means_of_control holds {flag} ({})",
                source_of(CodeListId::MeansOfControl)
            ),
        );
    }
    d
}

/// Where the internal review of a synthesis written to `publish` goes:
/// inside the workspace, `WS/synth-review/<name of publish>/`, so that
/// it never travels with the synthetic-data folder.
pub fn review_folder(ws: &Workspace, publish: &Path) -> PathBuf {
    let name = publish
        .file_name()
        .map_or_else(|| "synthetic".into(), |n| n.to_os_string());
    ws.root().join("synth-review").join(name)
}

/// Population of the latest year in the workspace, summed over its
/// countries, by sex and the cases' age groups (five-year groups split
/// evenly where a case group cuts one).
pub fn workspace_population(ws: &Workspace) -> Option<Population> {
    let batches = ws
        .sql(
            "SELECT sex, age_group, CAST(SUM(population) AS DOUBLE) AS p, MAX(reference_year) AS y \
             FROM population \
             WHERE reference_year = (SELECT MAX(reference_year) FROM population) \
             GROUP BY sex, age_group",
        )
        .ok()?;
    let mut counts = Vec::new();
    let mut year = String::new();
    for b in &batches {
        let sex = corridor_link::pool::text_column(b.column(0).as_ref());
        let age = corridor_link::pool::text_column(b.column(1).as_ref());
        let years = corridor_link::pool::text_column(b.column(3).as_ref());
        let p = b
            .column(2)
            .as_primitive_opt::<arrow::datatypes::Float64Type>()?;
        for r in 0..b.num_rows() {
            let (Some(sex), Some(age)) = (&sex[r], &age[r]) else {
                continue;
            };
            // Only real sexes and real age ranges: totals are recomputed.
            let Some((from, to)) = corridor_model::age::age_range(age) else {
                continue;
            };
            if sex == "_T" || sex == "_U" || !p.is_valid(r) {
                continue;
            }
            counts.push((sex.clone(), from, to, p.value(r)));
            if let Some(y) = &years[r] {
                year.clone_from(y);
            }
        }
    }
    if counts.is_empty() {
        return None;
    }
    Some(Population::regrouped(
        &counts,
        &AgeGrouping::Cases.ranges(),
        format!(
            "the workspace's population table, {year}, all its countries, by sex and age group (five-year groups split evenly across the cases' age groups)"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_domain_covers_every_column_from_the_code_lists() {
        let d = workspace_domain();
        for column in CASE_COLUMNS {
            let a = d
                .get(column)
                .unwrap_or_else(|| panic!("{column} has no domain"));
            assert!(!a.values.is_empty() && !a.source.is_empty(), "{column}");
        }
        assert_eq!(d.get("sex").unwrap().values, ["F", "M", "_O"]);
        let countries = &d.get("citizenship").unwrap().values;
        assert!(countries.len() > 240 && countries.iter().any(|c| c == "ISL"));
        let forms = &d.get("exploitation").unwrap().values;
        assert_eq!(forms.len(), (1 << 10) - 1);
        assert!(forms.iter().any(|f| f == "sexual+forced_labour"));
        assert!(!forms.iter().any(|f| f == "forced_labour+sexual"));
        let years = &d.get("registration_year").unwrap().values;
        assert_eq!(years[0], "2000");
        assert_eq!(years.last().unwrap(), &this_year().to_string());
        assert!(d.get("sex").unwrap().source.contains("CL_SEX"));
    }

    #[test]
    fn a_set_of_forms_is_one_value_whatever_its_order() {
        assert_eq!(
            canonical_exploitation("forced_labour+sexual"),
            "sexual+forced_labour"
        );
        assert_eq!(canonical_exploitation("sexual+sexual"), "sexual");
        assert_eq!(canonical_exploitation("zz+begging"), "begging+zz");
        assert_eq!(canonical_exploitation(""), "");
    }
}
