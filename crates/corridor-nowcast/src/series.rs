//! The monthly series a nowcast reads: the administrative flow by corridor
//! (from `corridor-stats`) and the signals (the `signals` record table).

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, Float64Array};
use arrow::datatypes::DataType;
use corridor_stats::{TOTAL, TableSpec};
use corridor_store::Workspace;

use crate::NowcastError;

/// A month as a number: year × 12 + month − 1.
pub type Month = i32;

pub fn parse_month(text: &str) -> Option<Month> {
    let (y, m) = text.trim().split_once('-')?;
    let (y, m): (i32, i32) = (y.parse().ok()?, m.get(..2)?.parse().ok()?);
    ((1..=12).contains(&m) && (1000..=9999).contains(&y)).then_some(y * 12 + m - 1)
}

pub fn month_text(m: Month) -> String {
    format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1)
}

/// The months of `YYYY-MM`, `YYYY-Qn` or `YYYY`.
pub fn period_months(period: &str) -> Option<Vec<Month>> {
    if let Some(m) = parse_month(period).filter(|_| period.len() == 7) {
        return Some(vec![m]);
    }
    if let Some((y, q)) = period.split_once("-Q") {
        let (y, q): (i32, i32) = (y.parse().ok()?, q.parse().ok()?);
        return (1..=4)
            .contains(&q)
            .then(|| (0..3).map(|k| y * 12 + (q - 1) * 3 + k).collect());
    }
    let y: i32 = period.parse().ok()?;
    Some((0..12).map(|k| y * 12 + k).collect())
}

/// A flow measure that has a direction, hence corridors.
#[derive(Debug, Clone, Copy)]
pub struct FlowMeasure {
    pub name: &'static str,
    /// Entries: the corridor runs from the counterpart to the reporter.
    pub entry: bool,
    /// Months after which a month's figure is final (the 12/16-month rule
    /// decides a crossing within 16 months).
    pub final_after: i32,
}

pub const FLOW_MEASURES: &[FlowMeasure] = &[
    FlowMeasure {
        name: "arrivals",
        entry: true,
        final_after: 0,
    },
    FlowMeasure {
        name: "departures",
        entry: false,
        final_after: 0,
    },
    FlowMeasure {
        name: "migrant_arrivals",
        entry: true,
        final_after: 16,
    },
    FlowMeasure {
        name: "migrant_departures",
        entry: false,
        final_after: 16,
    },
];

pub fn flow_measure(name: &str) -> Result<&'static FlowMeasure, NowcastError> {
    FLOW_MEASURES
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| {
            NowcastError::Spec(format!(
                "`{name}` cannot be nowcast by corridor; the flow measures are: {}",
                FLOW_MEASURES
                    .iter()
                    .map(|m| m.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// Where a series runs: origin → destination, as the reporter counts it.
/// A country's total has `_T` for the other end.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Corridor {
    pub reporting_country: String,
    pub origin: String,
    pub destination: String,
}

impl Corridor {
    /// The corridor a reporting country's figure of `measure` with a
    /// counterpart country describes: an entry comes from the counterpart.
    pub fn of(measure: &FlowMeasure, reporter: &str, other: &str) -> Corridor {
        let (origin, destination) = if measure.entry {
            (other, reporter)
        } else {
            (reporter, other)
        };
        Corridor {
            reporting_country: reporter.to_string(),
            origin: origin.to_string(),
            destination: destination.to_string(),
        }
    }

    pub fn is_total(&self) -> bool {
        self.origin == TOTAL || self.destination == TOTAL
    }

    pub fn label(&self) -> String {
        let end = |c: &str| {
            if c == TOTAL {
                "all".to_string()
            } else {
                c.to_string()
            }
        };
        format!("{}→{}", end(&self.origin), end(&self.destination))
    }
}

/// One month's administrative figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figure {
    pub value: f64,
    /// Part of it is still a modelled estimate (open 12/16 windows).
    pub provisional: bool,
}

/// The administrative series of a measure by corridor, with each reporting
/// country's total over its corridors.
pub fn flows(
    ws: &Workspace,
    measure: &FlowMeasure,
) -> Result<BTreeMap<Corridor, BTreeMap<Month, Figure>>, NowcastError> {
    let spec = TableSpec {
        measure: measure.name.into(),
        by: FLOW_DIMENSIONS.map(String::from).to_vec(),
        filter: None,
    };
    let table = corridor_stats::table(ws, &spec)?;
    Ok(flows_from_cells(
        measure,
        table
            .cells
            .iter()
            .map(|c| (c.coords.as_slice(), c.value, c.provisional)),
    ))
}

/// The dimensions of the table [`flows`] reads, in its order.
pub const FLOW_DIMENSIONS: [&str; 3] = ["month", "reporting_country", "counterpart_country"];

/// The series by corridor from the cells of a table by
/// [`FLOW_DIMENSIONS`] (coordinates, value, provisional): a table computed
/// here, or one already protected for publication.
pub fn flows_from_cells<'a>(
    measure: &FlowMeasure,
    cells: impl Iterator<Item = (&'a [String], f64, bool)>,
) -> BTreeMap<Corridor, BTreeMap<Month, Figure>> {
    let mut out: BTreeMap<Corridor, BTreeMap<Month, Figure>> = BTreeMap::new();
    for (coords, value, provisional) in cells {
        let [month, reporter, other] = coords else {
            continue;
        };
        if reporter == TOTAL || month == TOTAL {
            continue;
        }
        let Some(month) = parse_month(month) else {
            continue;
        };
        out.entry(Corridor::of(measure, reporter, other))
            .or_default()
            .insert(month, Figure { value, provisional });
    }
    // A month without a crossing in a corridor is a count of zero, not a
    // gap: every series spans the whole period, and a filled month is as
    // provisional as the period's other figures that month.
    let mut period: BTreeMap<Month, bool> = BTreeMap::new();
    for series in out.values() {
        for (m, f) in series {
            *period.entry(*m).or_default() |= f.provisional;
        }
    }
    for series in out.values_mut() {
        for (m, provisional) in &period {
            series.entry(*m).or_insert(Figure {
                value: 0.0,
                provisional: *provisional,
            });
        }
    }
    out
}

/// The measure by corridor, month, broad age group and sex: final months
/// only, for the signals' coverage.
pub fn flows_by_group(
    ws: &Workspace,
    measure: &FlowMeasure,
) -> Result<BTreeMap<Corridor, crate::bias::ByGroup>, NowcastError> {
    let spec = TableSpec {
        measure: measure.name.into(),
        by: [
            "month",
            "reporting_country",
            "counterpart_country",
            "age_group",
            "sex",
        ]
        .map(String::from)
        .to_vec(),
        filter: None,
    };
    let table = corridor_stats::table(ws, &spec)?;
    let mut out: BTreeMap<Corridor, crate::bias::ByGroup> = BTreeMap::new();
    for cell in &table.cells {
        let [month, reporter, other, age, sex] = &cell.coords[..] else {
            continue;
        };
        if cell.provisional || [month, reporter, other].iter().any(|c| *c == TOTAL) {
            continue;
        }
        let (Some(month), Some(g)) = (parse_month(month), crate::bias::group_index(age, sex))
        else {
            continue;
        };
        out.entry(Corridor::of(measure, reporter, other))
            .or_default()
            .entry(month)
            .or_default()[g] += cell.value;
    }
    Ok(out)
}

/// Count signals that come by broad age group and sex: kind, origin,
/// destination → month → value per group.
pub fn signal_parts(
    ws: &Workspace,
) -> Result<BTreeMap<(String, String, String), crate::bias::ByGroup>, NowcastError> {
    let mut out: BTreeMap<(String, String, String), crate::bias::ByGroup> = BTreeMap::new();
    if ws
        .data_files(corridor_model::RecordType::Signal)?
        .is_empty()
    {
        return Ok(out);
    }
    let sql = "SELECT signal, origin_country, destination_country, \
               to_char(period_start, '%Y-%m') AS month, age_group, sex, SUM(value) AS value \
               FROM signals WHERE sex IS NOT NULL AND age_group IS NOT NULL \
               GROUP BY 1, 2, 3, 4, 5, 6";
    for b in &ws.sql(sql)? {
        let texts: Vec<Vec<Option<String>>> = (0..6)
            .map(|i| text_column(b.column(i)))
            .collect::<Result<_, _>>()?;
        let values = number_column(b.column(6))?;
        for r in 0..b.num_rows() {
            let cell = |i: usize| texts[i][r].as_deref();
            let (Some(k), Some(o), Some(d), Some(m), Some(a), Some(s)) =
                (cell(0), cell(1), cell(2), cell(3), cell(4), cell(5))
            else {
                continue;
            };
            let (Some(m), Some(g)) = (parse_month(m), crate::bias::group_index(a, s)) else {
                continue;
            };
            if is_index(k) {
                continue;
            }
            out.entry((k.to_string(), o.to_string(), d.to_string()))
                .or_default()
                .entry(m)
                .or_default()[g] += values[r];
        }
    }
    Ok(out)
}

fn text_column(a: &dyn Array) -> Result<Vec<Option<String>>, NowcastError> {
    let a = arrow::compute::cast(a, &DataType::Utf8)
        .map_err(|e| NowcastError::Data(format!("signals: {e}")))?;
    let a = a.as_string::<i32>();
    Ok((0..a.len())
        .map(|r| (!a.is_null(r)).then(|| a.value(r).to_string()))
        .collect())
}

fn number_column(a: &dyn Array) -> Result<Vec<f64>, NowcastError> {
    let a = arrow::compute::cast(a, &DataType::Float64)
        .map_err(|e| NowcastError::Data(format!("signals: {e}")))?;
    let a = a
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| NowcastError::Data("signals: unexpected value type".into()))?;
    Ok((0..a.len())
        .map(|r| if a.is_null(r) { 0.0 } else { a.value(r) })
        .collect())
}

/// Signals that are indices (0–100, rebased per query), not counts of
/// people: averaged over queries, never summed or re-weighted.
pub fn is_index(kind: &str) -> bool {
    kind == "search_interest"
}

/// A signal's monthly values by kind and corridor (origin, destination).
pub type Signals = BTreeMap<(String, String, String), BTreeMap<Month, f64>>;

/// Every signal in the workspace by kind, origin, destination and month.
/// Counts given by age group and sex are summed; where a count also comes
/// as a total, the total is taken. Indices (search interest) are averaged
/// over their queries.
pub fn signals(ws: &Workspace) -> Result<Signals, NowcastError> {
    if ws
        .data_files(corridor_model::RecordType::Signal)?
        .is_empty()
    {
        return Ok(Signals::new());
    }
    let sql = "SELECT signal, origin_country, destination_country, \
               to_char(period_start, '%Y-%m') AS month, \
               (sex IS NULL AND age_group IS NULL) AS total, \
               SUM(value) AS value, COUNT(*) AS n \
               FROM signals GROUP BY 1, 2, 3, 4, 5";
    let batches = ws.sql(sql)?;
    // (kind, origin, destination, month) → (total's sum and count, parts' sum)
    let mut acc: BTreeMap<(String, String, String, Month), [f64; 3]> = BTreeMap::new();
    for b in &batches {
        let col = |i: usize| text_column(b.column(i));
        let num = |i: usize| number_column(b.column(i));
        let (kind, origin, dest, month, total) = (col(0)?, col(1)?, col(2)?, col(3)?, col(4)?);
        let (value, n) = (num(5)?, num(6)?);
        for r in 0..b.num_rows() {
            let (Some(k), Some(o), Some(d), Some(m)) = (&kind[r], &origin[r], &dest[r], &month[r])
            else {
                continue;
            };
            let Some(m) = parse_month(m) else { continue };
            let e = acc.entry((k.clone(), o.clone(), d.clone(), m)).or_default();
            if total[r].as_deref() == Some("true") {
                e[0] += value[r];
                e[1] += n[r];
            } else {
                e[2] += value[r];
            }
        }
    }
    let mut out = Signals::new();
    for ((kind, o, d, m), [total, n, parts]) in acc {
        let v = if is_index(&kind) {
            if n > 0.0 { total / n } else { parts }
        } else if n > 0.0 {
            total
        } else {
            parts
        };
        out.entry((kind, o, d)).or_default().insert(m, v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_read_and_print() {
        assert_eq!(parse_month("2024-03"), Some(2024 * 12 + 2));
        assert_eq!(parse_month("2024-03-01"), Some(2024 * 12 + 2));
        assert_eq!(month_text(2024 * 12 + 11), "2024-12");
        assert_eq!(parse_month("2024-13"), None);
        assert_eq!(parse_month("March"), None);
        assert_eq!(period_months("2024-02"), Some(vec![2024 * 12 + 1]));
        assert_eq!(
            period_months("2024-Q2"),
            Some(vec![2024 * 12 + 3, 2024 * 12 + 4, 2024 * 12 + 5])
        );
        assert_eq!(period_months("2024").map(|m| m.len()), Some(12));
        assert_eq!(period_months("2024-Q5"), None);
    }
}
