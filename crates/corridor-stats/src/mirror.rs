//! Mirror statistics: departures from A to B as A reports them, against
//! arrivals in B from A as B reports them. Both count the same journeys;
//! where they differ, one side misses crossings (coverage gaps, irregular
//! crossings, a counterpart country not recorded).

use std::collections::{BTreeMap, BTreeSet};

use corridor_store::Workspace;
use serde::Serialize;

use crate::{StatsError, TOTAL, count, text};

/// One pair and period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MirrorRow {
    /// Country of departure (A).
    pub origin: String,
    /// Country of arrival (B).
    pub destination: String,
    /// `YYYY-MM`, `YYYY`, or `_T` for the whole period.
    pub period: String,
    /// Departures from A to B, as A reports them.
    pub reported_by_origin: u64,
    /// Arrivals in B from A, as B reports them.
    pub reported_by_destination: u64,
    /// (A − B) / mean(A, B): 0 when both agree, +2 when only A reports,
    /// −2 when only B does; empty when neither reports any.
    pub asymmetry: Option<f64>,
}

/// Mirror statistics for every ordered pair of reporting countries, by
/// `period` (`month` or `year`) and over the whole period.
pub fn mirror(ws: &Workspace, period: &str) -> Result<Vec<MirrorRow>, StatsError> {
    let expr = match period {
        "month" => "month",
        "year" => "substr(month, 1, 4)",
        other => {
            return Err(StatsError::Spec(format!(
                "mirror statistics go by month or year, not `{other}`"
            )));
        }
    };
    let crossings = corridor_derive::tables::CROSSINGS.name;
    if !ws.derived_dir().join(crossings).is_dir() {
        return Err(StatsError::Missing {
            dataset: crossings.into(),
            hint: format!(
                "run `corridor derive --workspace {}` first",
                ws.root().display()
            ),
        });
    }
    let sql = format!(
        "SELECT reporting_country, counterpart_country, direction, {expr} AS period, COUNT(*) AS n \
         FROM {crossings} WHERE counted AND counterpart_country IS NOT NULL GROUP BY 1, 2, 3, 4"
    );
    let batches = ws.sql(&sql)?;
    // (reporter, counterpart, entry?, period) → crossings
    let mut counts: BTreeMap<(String, String, bool, String), u64> = BTreeMap::new();
    let mut reporters = BTreeSet::new();
    let mut periods = BTreeSet::new();
    for b in &batches {
        let rep = text(b.column(0))?;
        let other = text(b.column(1))?;
        let dir = text(b.column(2))?;
        let per = text(b.column(3))?;
        let n = count(b.column(4))?;
        for (i, &n) in n.iter().enumerate() {
            reporters.insert(rep.value(i).to_string());
            periods.insert(per.value(i).to_string());
            for p in [per.value(i), TOTAL] {
                *counts
                    .entry((
                        rep.value(i).to_string(),
                        other.value(i).to_string(),
                        dir.value(i) == "entry",
                        p.to_string(),
                    ))
                    .or_default() += n;
            }
        }
    }
    periods.insert(TOTAL.to_string());
    let mut rows = Vec::new();
    for a in &reporters {
        for b in &reporters {
            if a == b {
                continue;
            }
            for p in &periods {
                let get = |k: (String, String, bool, String)| counts.get(&k).copied().unwrap_or(0);
                let x = get((a.clone(), b.clone(), false, p.clone()));
                let y = get((b.clone(), a.clone(), true, p.clone()));
                if x == 0 && y == 0 && p != TOTAL {
                    continue;
                }
                rows.push(MirrorRow {
                    origin: a.clone(),
                    destination: b.clone(),
                    period: p.clone(),
                    reported_by_origin: x,
                    reported_by_destination: y,
                    asymmetry: asymmetry(x, y),
                });
            }
        }
    }
    Ok(rows)
}

/// (a − b) / ((a + b) / 2), in [−2, 2].
pub fn asymmetry(a: u64, b: u64) -> Option<f64> {
    (a + b > 0).then(|| (a as f64 - b as f64) / ((a + b) as f64 / 2.0))
}

pub fn to_csv(rows: &[MirrorRow]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = w.write_record([
        "origin",
        "destination",
        "period",
        "reported_by_origin",
        "reported_by_destination",
        "asymmetry",
    ]);
    for r in rows {
        let _ = w.write_record([
            r.origin.clone(),
            r.destination.clone(),
            r.period.clone(),
            r.reported_by_origin.to_string(),
            r.reported_by_destination.to_string(),
            r.asymmetry.map(|a| format!("{a:.4}")).unwrap_or_default(),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The mirror table as text columns, with the asymmetry explained;
/// `period` names the period column (`month` or `year`).
pub fn to_text(rows: &[MirrorRow], period: &str) -> String {
    let mut s = format!(
        "{:<8} {:<12} {:<8} {:>12} {:>15} {:>10}\n",
        "from", "to", period, "origin says", "destination says", "asymmetry"
    );
    for r in rows {
        s.push_str(&format!(
            "{:<8} {:<12} {:<8} {:>12} {:>15} {:>10}\n",
            r.origin,
            r.destination,
            r.period,
            r.reported_by_origin,
            r.reported_by_destination,
            r.asymmetry.map(|a| format!("{a:+.3}")).unwrap_or_default()
        ));
    }
    s.push_str("asymmetry = (origin − destination) / mean of the two; 0 when they agree\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_table_has_a_row_per_pair_and_the_note() {
        let rows = vec![MirrorRow {
            origin: "GTM".into(),
            destination: "MEX".into(),
            period: "2024".into(),
            reported_by_origin: 110,
            reported_by_destination: 90,
            asymmetry: asymmetry(110, 90),
        }];
        let text = to_text(&rows, "year");
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(
            text.lines().next().is_some_and(|l| l.contains("year")),
            "{text}"
        );
        assert!(text.contains("+0.200"), "{text}");
    }

    #[test]
    fn asymmetry_is_bounded_and_signed() {
        assert_eq!(asymmetry(0, 0), None);
        assert_eq!(asymmetry(10, 10), Some(0.0));
        assert_eq!(asymmetry(10, 0), Some(2.0));
        assert_eq!(asymmetry(0, 5), Some(-2.0));
        assert!((asymmetry(110, 90).unwrap() - 0.2).abs() < 1e-12);
    }
}
