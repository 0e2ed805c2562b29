//! Who a count signal sees: its coverage by age group and sex against the
//! administrative flow, and the re-weighting that undoes it.
//!
//! A mobile operator sees a traveller only if they carry a phone it
//! registered; children carry none, older people and women fewer. Where the
//! signal comes by age group and sex, each group's coverage is its devices
//! over the final administrative crossings of the same group (pooled over a
//! reporting country's corridors), and the re-weighted signal is each
//! group's devices divided by its coverage, summed: an estimate of all
//! crossings, whose changes follow the flow even when who travels changes.

use std::collections::BTreeMap;

use corridor_model::age::AgeGrouping;
use serde::Serialize;

use crate::series::{Corridor, Month};

/// Broad age groups (4) × sex (female, male).
pub const GROUPS: usize = 8;
/// A group seen less often than this is left out of the re-weighted
/// signal: dividing its few devices by its coverage would multiply noise.
pub const MIN_COVERAGE: f64 = 0.05;

/// Monthly values by group.
pub type ByGroup = BTreeMap<Month, [f64; GROUPS]>;

/// The group of a broad age group code and a sex code (`F`, `M`).
pub fn group_index(age_group: &str, sex: &str) -> Option<usize> {
    let age = AgeGrouping::Broad
        .codes()
        .iter()
        .position(|c| *c == age_group)?;
    let sex = match sex {
        "F" => 0,
        "M" => 1,
        _ => return None,
    };
    Some(age * 2 + sex)
}

/// A signal's coverage of one reporting country's flow, by group.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub reporting_country: String,
    pub signal: String,
    /// Devices over crossings, per group (None where no crossing).
    pub by_group: Vec<Option<f64>>,
    /// Crossings behind each estimate.
    pub crossings: Vec<f64>,
}

/// Coverage of each count signal with parts, per reporting country, from
/// the months ≤ `as_of` where both the figure (final) and the signal exist.
/// `totals` are the same flows over every crossing: those whose age or sex
/// the records do not give are shared out over the groups in proportion,
/// so that a source without birth dates does not inflate the coverage.
pub fn coverage(
    parts: &BTreeMap<(String, String, String), ByGroup>,
    flows: &BTreeMap<Corridor, ByGroup>,
    totals: &BTreeMap<Corridor, BTreeMap<Month, f64>>,
    as_of: Month,
) -> Vec<Coverage> {
    // (reporter, signal) → (Σ devices, Σ crossings per group, Σ all crossings)
    type Sums = ([f64; GROUPS], [f64; GROUPS], f64);
    let mut acc: BTreeMap<(String, String), Sums> = BTreeMap::new();
    for (c, figures) in flows {
        for ((kind, o, d), signal) in parts {
            if *o != c.origin || *d != c.destination {
                continue;
            }
            let e = acc
                .entry((c.reporting_country.clone(), kind.clone()))
                .or_insert(([0.0; GROUPS], [0.0; GROUPS], 0.0));
            let all = totals.get(c);
            for (m, f) in figures.range(..=as_of) {
                if let Some(s) = signal.get(m) {
                    for g in 0..GROUPS {
                        e.0[g] += s[g];
                        e.1[g] += f[g];
                    }
                    e.2 += all
                        .and_then(|t| t.get(m))
                        .copied()
                        .unwrap_or_else(|| f.iter().sum());
                }
            }
        }
    }
    acc.into_iter()
        .map(|((reporting_country, signal), (s, f, all))| {
            let known: f64 = f.iter().sum();
            let scale = if known > 0.0 {
                (all / known).max(1.0)
            } else {
                1.0
            };
            let f: Vec<f64> = f.iter().map(|v| v * scale).collect();
            Coverage {
                reporting_country,
                signal,
                by_group: (0..GROUPS)
                    .map(|g| (f[g] > 0.0).then(|| s[g] / f[g]))
                    .collect(),
                crossings: f,
            }
        })
        .collect()
}

/// The re-weighted signal: each well-enough covered group's devices over
/// its coverage, summed.
pub fn reweight(parts: &ByGroup, coverage: &Coverage) -> BTreeMap<Month, f64> {
    parts
        .iter()
        .map(|(m, v)| {
            let total: f64 = (0..GROUPS)
                .filter_map(|g| {
                    let c = coverage.by_group[g].filter(|c| *c >= MIN_COVERAGE)?;
                    Some(v[g] / c)
                })
                .sum();
            (*m, total)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_is_devices_over_crossings_and_reweighting_undoes_it() {
        let c = Corridor {
            reporting_country: "GTM".into(),
            origin: "GTM".into(),
            destination: "MEX".into(),
        };
        let mut flows = BTreeMap::new();
        let mut parts = BTreeMap::new();
        let mut f = ByGroup::new();
        let mut s = ByGroup::new();
        for m in 0..12 {
            let crossings = [10.0, 10.0, 100.0, 120.0, 200.0, 250.0, 30.0, 30.0];
            let seen = [0.0, 1.0, 70.0, 100.0, 110.0, 190.0, 8.0, 10.0];
            f.insert(m, crossings);
            s.insert(m, seen);
        }
        flows.insert(c.clone(), f);
        // A fifth of the crossings have no age: the groups are scaled up.
        let totals: BTreeMap<Corridor, BTreeMap<Month, f64>> =
            [(c, (0..12).map(|m| (m, 750.0 * 1.25)).collect())].into();
        parts.insert(
            ("mobile_devices".into(), "GTM".into(), "MEX".into()),
            s.clone(),
        );
        let cov = coverage(&parts, &flows, &totals, 5);
        assert_eq!(cov.len(), 1);
        let by = &cov[0].by_group;
        assert!((by[2].expect("seen") - 0.7 / 1.25).abs() < 1e-9);
        assert!((by[1].expect("seen") - 0.1 / 1.25).abs() < 1e-9);
        assert!((cov[0].crossings[4] - 1500.0).abs() < 1e-9);
        // Groups under 5 % are left out (group 0 is 0 %); the others come
        // back to their crossings, those without an age included.
        let r = reweight(&s, &cov[0]);
        let seen = 10.0 + 100.0 + 120.0 + 200.0 + 250.0 + 30.0 + 30.0;
        assert!((r[&7] - 1.25 * seen).abs() < 1e-6);
        assert_eq!(group_index("Y15T24", "M"), Some(3));
        assert_eq!(group_index("Y15T24", "_U"), None);
    }
}
