//! The `victims` measure: identified victims of trafficking from the
//! workspace's cases, one per person once a linkage has run (the same
//! persons synthesis and the case microdata count), rolled up here rather
//! than in SQL because the linkage's clusters live beside the catalog.

use corridor_model::{Countries, sdg_exploitation_form};
use corridor_store::Workspace;

use crate::{Acc, Measure, StatsError, Table, TableSpec, UNKNOWN, with_margins};

/// The dimensions of `victims`: `year` is the year the case was
/// registered, `exploitation_form` the SDG 16.2.2 form.
pub(crate) const DIMENSIONS: [&str; 7] = [
    "year",
    "sex",
    "age_group",
    "citizenship",
    "citizenship_region",
    "country_of_exploitation",
    "exploitation_form",
];

pub(crate) fn victims(ws: &Workspace, spec: &TableSpec, m: &Measure) -> Result<Table, StatsError> {
    if spec.filter.is_some() {
        return Err(StatsError::Spec(format!(
            "`{}` takes no `where` filter: break it down with `by` ({}) instead",
            m.name,
            DIMENSIONS.join(", ")
        )));
    }
    let ((columns, rows, records), keys) = corridor_cases::workspace_case_rows_keyed(ws)?;
    let at = |name: &str| columns.iter().position(|c| c == name);
    let (sex, age, citizenship, exploited, forms, year) = (
        at("sex"),
        at("age_group"),
        at("citizenship"),
        at("country_of_exploitation"),
        at("exploitation"),
        at("registration_year"),
    );
    let countries = Countries::get();
    let base: Vec<(Vec<String>, Acc)> = rows
        .iter()
        .zip(&keys)
        .map(|(row, key)| {
            let get = |i: Option<usize>| {
                i.map(|i| row[i].as_str())
                    .filter(|v| !v.is_empty() && *v != UNKNOWN)
            };
            let coords = spec
                .by
                .iter()
                .map(|d| {
                    let v = match d.as_str() {
                        "year" => get(year).map(str::to_string),
                        "sex" => get(sex).map(str::to_string),
                        "age_group" => get(age).map(str::to_string),
                        "citizenship" => get(citizenship).map(str::to_string),
                        "citizenship_region" => get(citizenship)
                            .and_then(|c| countries.by_alpha3(c))
                            .map(|c| c.m49_subregion.clone())
                            .filter(|r| !r.is_empty()),
                        "country_of_exploitation" => get(exploited).map(str::to_string),
                        "exploitation_form" => get(forms)
                            .and_then(|f| sdg_exploitation_form(f.split('+')))
                            .map(str::to_string),
                        _ => None,
                    };
                    v.unwrap_or_else(|| UNKNOWN.to_string())
                })
                .collect();
            (
                coords,
                Acc {
                    value: 1.0,
                    records: 1,
                    key_sum: *key,
                    open: 0,
                },
            )
        })
        .collect();
    let notes = vec![format!(
        "Victims are counted once each: {} case records of the organisations are {} persons once linked (without a linkage, every case record counts).",
        records,
        rows.len()
    )];
    Ok(with_margins(m, spec, &base, notes))
}
