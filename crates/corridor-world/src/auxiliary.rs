//! Population denominators and the auxiliary "new data" signals.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

use crate::calendar::{MonthIndex, first_day_of_month};
use crate::geo::{self, COUNTRIES, REPORTING};
use crate::table::Cell;
use crate::truth::{Accounts, N_CIT};

pub const POPULATION_COLUMNS: &[&str] = &[
    "Country",
    "ISO3",
    "Year",
    "Sex",
    "Age group",
    "Population",
    "Source",
];

/// Five-year age groups of the population table, as national statistics
/// offices label them.
const AGE_LABELS: [&str; 18] = [
    "0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54",
    "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85+",
];

/// Mid-year population by country, year, sex and five-year group: national
/// totals from UN WPP 2022, spread over a stylised pyramid (young for
/// Central America, older for Mexico and the USA).
pub fn population_rows(first_year: i32, years: i32) -> Vec<Vec<Cell>> {
    let mut rows = Vec::new();
    for (code, thousands, growth) in geo::POPULATION {
        let decay = match *code {
            "USA" => 0.004,
            "MEX" | "CRI" => 0.012,
            _ => 0.022,
        };
        let weights: Vec<f64> = (0..18)
            .map(|g| {
                let age = g as f64 * 5.0 + 2.5;
                let mortality = if age > 60.0 {
                    (-(age - 60.0) / 12.0).exp()
                } else {
                    1.0
                };
                (-decay * age).exp() * mortality * if g == 17 { 1.6 } else { 1.0 }
            })
            .collect();
        let total_w: f64 = weights.iter().sum();
        let name =
            crate::export::country_text(geo::cc(code), crate::export::CountryStyle::English, 0);
        for year in first_year..first_year + years {
            let total = *thousands as f64 * 1000.0 * (1.0 + growth).powi(year - 2022);
            for (sex, share) in [("Female", 0.51), ("Male", 0.49)] {
                for (g, label) in AGE_LABELS.iter().enumerate() {
                    // Women live longer: more of them in the oldest groups.
                    let tilt = if g >= 13 {
                        if sex == "Female" { 1.1 } else { 0.9 }
                    } else {
                        1.0
                    };
                    let n = (total * share * weights[g] / total_w * tilt).round() as i64;
                    rows.push(vec![
                        Cell::Text(name.clone()),
                        Cell::Text(code.to_string()),
                        Cell::Int(year as i64),
                        Cell::Text(sex.into()),
                        Cell::Text(label.to_string()),
                        Cell::Int(n),
                        Cell::Text("UN WPP 2022 totals, stylised age structure (synthetic)".into()),
                    ]);
                }
            }
        }
    }
    rows
}

pub const SIGNAL_COLUMNS: &[&str] = &[
    "signal",
    "origin",
    "destination",
    "month",
    "age_group",
    "sex",
    "value",
    "provider",
];

/// Share of travellers a mobile operator sees, by broad age group (the
/// `age_group` code list's `broad` groups, in order) and sex
/// (female, male): children carry no phone of their own, older people and
/// women are less often roaming subscribers. This is the known bias the
/// nowcasts must correct.
pub const MOBILE_COVERAGE: [[f64; 2]; 4] = [[0.03, 0.03], [0.72, 0.85], [0.55, 0.75], [0.25, 0.35]];

/// Monthly signals by corridor: mobile devices seen crossing (true flows
/// thinned by the coverage above, with noise), by the subscriber's age
/// group and sex as the operator registered them, and a web
/// search-interest index for emigration corridors that leads departures by
/// one month.
pub fn signal_rows(seed: u64, acc: &Accounts, first_month: MonthIndex) -> Vec<Vec<Cell>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5165_4E41_4C53_0000);
    let noise = LogNormal::new(0.0, 0.08).expect("valid lognormal");
    let mut rows = Vec::new();
    let months = acc.months;
    let bands = corridor_model::age::AgeGrouping::Broad.codes();
    for (ri, &r) in REPORTING.iter().enumerate() {
        for (other, other_code) in COUNTRIES.iter().enumerate().take(N_CIT) {
            if other == r as usize {
                continue;
            }
            for dir in 0..2 {
                // [month][age][sex]: devices seen.
                let by_group: Vec<[[f64; 2]; 4]> = (1..=months)
                    .map(|m| {
                        let mut devices = [[0.0; 2]; 4];
                        for (age, coverage) in MOBILE_COVERAGE.iter().enumerate() {
                            for sex in 0..2 {
                                let n = acc.corridor
                                    [acc.corridor_index(ri, other, dir, m, age, sex)]
                                    as f64;
                                // Sex 0 is female, as in the accounts and truth/signal_bias.csv.
                                devices[age][sex] = n * coverage[sex];
                            }
                        }
                        devices
                    })
                    .collect();
                let flow_by_month: Vec<f64> =
                    by_group.iter().map(|g| g.iter().flatten().sum()).collect();
                let total: f64 = flow_by_month.iter().sum();
                if total < 20.0 {
                    continue;
                }
                let (origin, destination) = if dir == 0 {
                    (r as usize, other)
                } else {
                    (other, r as usize)
                };
                for (m, groups) in by_group.iter().enumerate() {
                    let month = first_month + m as i32;
                    for (age, by_sex) in groups.iter().enumerate() {
                        for (sex, devices) in by_sex.iter().enumerate() {
                            let value = (devices * noise.sample(&mut rng)).round();
                            rows.push(vec![
                                Cell::Text("mobile_devices".into()),
                                Cell::Text(COUNTRIES[origin].into()),
                                Cell::Text(COUNTRIES[destination].into()),
                                Cell::Date(first_day_of_month(month)),
                                Cell::Text(bands[age].to_string()),
                                Cell::Text(if sex == 0 { "F" } else { "M" }.into()),
                                Cell::Int(value as i64),
                                Cell::Text(format!(
                                    "Roaming subscribers of a mobile operator in {}, by registered age and sex (synthetic)",
                                    COUNTRIES[r as usize]
                                )),
                            ]);
                        }
                    }
                }
                // Search interest: people look up routes and visas the month
                // before they leave; only emigration corridors are indexed.
                if dir == 0 && matches!(*other_code, "USA" | "MEX" | "ESP") {
                    let peak = flow_by_month.iter().cloned().fold(1.0, f64::max);
                    for m in 0..months {
                        let ahead = flow_by_month
                            .get(m + 1)
                            .copied()
                            .unwrap_or(flow_by_month[m]);
                        let value = (100.0 * ahead / peak * (1.0 + rng.random_range(-0.15..0.15)))
                            .clamp(0.0, 100.0)
                            .round();
                        rows.push(vec![
                            Cell::Text("search_interest".into()),
                            Cell::Text(COUNTRIES[origin].into()),
                            Cell::Text(COUNTRIES[destination].into()),
                            Cell::Date(first_day_of_month(first_month + m as i32)),
                            Cell::Null,
                            Cell::Null,
                            Cell::Int(value as i64),
                            Cell::Text("Web search index, 0-100 (synthetic)".into()),
                        ]);
                    }
                }
            }
        }
    }
    rows
}
