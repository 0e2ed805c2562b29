//! k-anonymised microdata: every combination of the quasi-identifiers
//! occurs at least k times, by full-domain generalisation along each
//! column's hierarchy and then local suppression.
//!
//! The search tries every combination of generalisation levels (the
//! lattice is small: a handful of levels per column) and keeps the one
//! that changes the fewest values once local suppression has done the
//! rest. Local suppression first blanks one quasi-identifier of a record
//! in a small class (`*`), where that gathers at least k records; what
//! stays rare loses every quasi-identifier. A record is never dropped:
//! nothing is lost but the detail. The cost counted is the values changed:
//! each value generalised (shown at a coarser level than it was) and each
//! suppressed, per column.

use std::collections::HashMap;

use corridor_model::Countries;
use corridor_model::age::AgeGrouping;
use serde::Serialize;

use crate::{Method, ProtectError, Protected};

/// What a suppressed value is written as.
pub const SUPPRESSED: &str = "*";

/// How a quasi-identifier generalises: level 0 is the value itself, each
/// further level coarser, the last `*`.
#[derive(Debug, Clone)]
pub enum Ladder {
    /// Whole ages in years → five-year groups → broad groups → minor or
    /// adult → `*`.
    Age,
    /// ISO 3166 alpha-3 countries → M49 sub-region → M49 region → `*`.
    Country,
    /// A hierarchy given as (code, parent) pairs: each level goes one
    /// parent up, then `*`.
    Parents(HashMap<String, String>),
    /// No hierarchy: the value or `*`.
    Flat,
}

impl Ladder {
    /// How many levels above the value itself (`*` included).
    fn height(&self) -> usize {
        match self {
            Ladder::Age => 4,
            Ladder::Country => 3,
            Ladder::Flat => 1,
            Ladder::Parents(parent) => {
                let depth = |start: &String| {
                    let mut c = start;
                    let mut d = 0;
                    while let Some(p) = parent.get(c) {
                        c = p;
                        d += 1;
                        if d > parent.len() {
                            break;
                        }
                    }
                    d
                };
                parent.keys().map(depth).max().unwrap_or(0) + 1
            }
        }
    }

    /// `value` shown at `level`. Unknown (empty) values stay as they are
    /// below `*`; a value the ladder does not know climbs straight to `*`.
    fn at(&self, value: &str, level: usize) -> String {
        let top = self.height();
        if level == 0 {
            return value.to_string();
        }
        if level >= top {
            return SUPPRESSED.into();
        }
        if value.is_empty() {
            return String::new();
        }
        let found = match self {
            Ladder::Age => value.trim().parse::<i32>().ok().and_then(|age| {
                let g = [
                    AgeGrouping::FiveYear,
                    AgeGrouping::Broad,
                    AgeGrouping::Majority,
                ][level - 1];
                g.code_of(age).map(str::to_string)
            }),
            Ladder::Country => Countries::get().by_alpha3(value.trim()).and_then(|c| {
                let code = if level == 1 {
                    &c.m49_subregion
                } else {
                    &c.m49_region
                };
                (!code.is_empty()).then(|| code.clone())
            }),
            Ladder::Parents(parent) => {
                let mut c = value;
                for _ in 0..level {
                    match parent.get(c) {
                        Some(p) => c = p,
                        None => break,
                    }
                }
                Some(c.to_string())
            }
            Ladder::Flat => None,
        };
        found.unwrap_or_else(|| SUPPRESSED.into())
    }
}

/// The parameters of a k-anonymisation.
#[derive(Debug, Clone, Serialize)]
pub struct KAnonParams {
    pub k: usize,
    /// The quasi-identifiers, by column index.
    #[serde(skip)]
    pub quasi: Vec<(usize, Ladder)>,
}

/// What k-anonymisation cost, per quasi-identifier and in all.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KAnonReport {
    pub records: usize,
    pub k: usize,
    /// Per quasi-identifier (in the order given): its level (0 = as it
    /// was), values generalised and values suppressed.
    pub columns: Vec<ColumnLoss>,
    pub generalised_values: usize,
    pub suppressed_values: usize,
    /// Records that lost every quasi-identifier.
    pub records_fully_suppressed: usize,
    /// The smallest combination of the quasi-identifiers in the output.
    pub smallest_class: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnLoss {
    pub column: String,
    pub level: usize,
    pub generalised: usize,
    pub suppressed: usize,
}

/// Microdata as a release may hold it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishedMicrodata {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// One way of protecting the records: a level per quasi-identifier, and
/// the quasi-identifiers each record loses.
struct Plan {
    levels: Vec<usize>,
    /// Per record: a bit per quasi-identifier suppressed.
    suppressed: Vec<u32>,
    cost: usize,
}

/// k-anonymises `rows` (each with one value per column of `columns`).
pub fn k_anonymise(
    columns: &[String],
    rows: &[Vec<String>],
    params: &KAnonParams,
) -> Result<(Protected<PublishedMicrodata>, KAnonReport), ProtectError> {
    let k = params.k;
    let q = params.quasi.len();
    if k < 2 {
        return Err(ProtectError::Parameters(format!(
            "k = {k}: k-anonymity needs k of 2 or more"
        )));
    }
    if q == 0 || q > 16 {
        return Err(ProtectError::Parameters(
            "give between 1 and 16 quasi-identifiers".into(),
        ));
    }
    for (c, _) in &params.quasi {
        if *c >= columns.len() {
            return Err(ProtectError::Parameters(format!(
                "quasi-identifier column {c} is not among the {} columns",
                columns.len()
            )));
        }
    }
    if rows.len() < k {
        return Err(ProtectError::Parameters(format!(
            "{} records: k = {k} needs at least {k}",
            rows.len()
        )));
    }
    if let Some((i, r)) = rows
        .iter()
        .enumerate()
        .find(|(_, r)| r.len() != columns.len())
    {
        return Err(ProtectError::Parameters(format!(
            "record {} has {} values for {} columns",
            i + 1,
            r.len(),
            columns.len()
        )));
    }
    // Each quasi-identifier's values at every level, interned: codes[j]
    // [level][record].
    let heights: Vec<usize> = params.quasi.iter().map(|(_, l)| l.height()).collect();
    let mut codes: Vec<Vec<Vec<u32>>> = Vec::with_capacity(q);
    let mut changed: Vec<Vec<usize>> = Vec::with_capacity(q);
    for (j, (col, ladder)) in params.quasi.iter().enumerate() {
        let mut per_level = Vec::with_capacity(heights[j] + 1);
        let mut changes = Vec::with_capacity(heights[j] + 1);
        let mut cache: HashMap<&str, Vec<String>> = HashMap::new();
        for level in 0..=heights[j] {
            let mut intern: HashMap<String, u32> = HashMap::new();
            let mut ids = Vec::with_capacity(rows.len());
            let mut n = 0;
            for r in rows {
                let v = r[*col].as_str();
                let shown = cache
                    .entry(v)
                    .or_insert_with(|| (0..=heights[j]).map(|l| ladder.at(v, l)).collect());
                let s = &shown[level];
                n += usize::from(s != v);
                let next = intern.len() as u32;
                ids.push(*intern.entry(s.clone()).or_insert(next));
            }
            per_level.push(ids);
            changes.push(n);
        }
        codes.push(per_level);
        changed.push(changes);
    }
    // Every node of the lattice below `*` for a whole column (what local
    // suppression reaches anyway), the cheapest kept.
    let mut best: Option<Plan> = None;
    let nodes: usize = heights.iter().product();
    for node in 0..nodes {
        let mut rest = node;
        let levels: Vec<usize> = heights
            .iter()
            .map(|&h| {
                let l = rest % h;
                rest /= h;
                l
            })
            .collect();
        let generalised: usize = (0..q).map(|j| changed[j][levels[j]]).sum();
        if best.as_ref().is_some_and(|b| generalised >= b.cost) {
            continue;
        }
        let suppressed = local_suppression(&codes, &levels, rows.len(), k);
        let cost = generalised
            + suppressed
                .iter()
                .map(|m| m.count_ones() as usize)
                .sum::<usize>();
        if best.as_ref().is_none_or(|b| cost < b.cost) {
            best = Some(Plan {
                levels,
                suppressed,
                cost,
            });
        }
    }
    let plan = best.ok_or_else(|| ProtectError::Parameters("no records".into()))?;
    // The output and what it cost.
    let mut out = Vec::with_capacity(rows.len());
    let mut loss: Vec<ColumnLoss> = params
        .quasi
        .iter()
        .enumerate()
        .map(|(j, (col, _))| ColumnLoss {
            column: columns[*col].clone(),
            level: plan.levels[j],
            generalised: 0,
            suppressed: 0,
        })
        .collect();
    for (i, r) in rows.iter().enumerate() {
        let mut row = r.clone();
        for (j, (col, ladder)) in params.quasi.iter().enumerate() {
            if plan.suppressed[i] & (1 << j) != 0 {
                loss[j].suppressed += usize::from(r[*col] != SUPPRESSED);
                row[*col] = SUPPRESSED.into();
            } else {
                let shown = ladder.at(&r[*col], plan.levels[j]);
                loss[j].generalised += usize::from(shown != r[*col]);
                row[*col] = shown;
            }
        }
        out.push(row);
    }
    let mut classes: HashMap<Vec<&str>, usize> = HashMap::new();
    for row in &out {
        let key: Vec<&str> = params.quasi.iter().map(|(c, _)| row[*c].as_str()).collect();
        *classes.entry(key).or_default() += 1;
    }
    let all = (1u32 << q) - 1;
    let report = KAnonReport {
        records: rows.len(),
        k,
        generalised_values: loss.iter().map(|l| l.generalised).sum(),
        suppressed_values: loss.iter().map(|l| l.suppressed).sum(),
        records_fully_suppressed: plan.suppressed.iter().filter(|&&m| m == all).count(),
        smallest_class: classes.values().copied().min().unwrap_or(0),
        columns: loss,
    };
    let method = Method::KAnonymity {
        k,
        quasi_identifiers: report.columns.iter().map(|c| c.column.clone()).collect(),
        levels: plan.levels.clone(),
    };
    Ok((
        Protected::new(
            PublishedMicrodata {
                columns: columns.to_vec(),
                rows: out,
            },
            method,
        ),
        report,
    ))
}

/// A class: what is blanked, and the codes.
type GroupKey = (u32, Vec<u32>);

/// At `levels`, which quasi-identifiers each record must lose so that
/// every combination occurs k times or more: per record, a bit mask.
fn local_suppression(codes: &[Vec<Vec<u32>>], levels: &[usize], n: usize, k: usize) -> Vec<u32> {
    let q = levels.len();
    let key = |i: usize, mask: u32| -> Vec<u32> {
        (0..q)
            .map(|j| {
                if mask & (1 << j) != 0 {
                    u32::MAX
                } else {
                    codes[j][levels[j]][i]
                }
            })
            .collect()
    };
    let mut size: HashMap<Vec<u32>, usize> = HashMap::new();
    for i in 0..n {
        *size.entry(key(i, 0)).or_default() += 1;
    }
    let small: Vec<usize> = (0..n).filter(|&i| size[&key(i, 0)] < k).collect();
    let mut mask = vec![0u32; n];
    if small.is_empty() {
        return mask;
    }
    // One quasi-identifier blanked: the groups it would gather, largest
    // first, each taken whole where it reaches k.
    let mut groups: HashMap<GroupKey, Vec<usize>> = HashMap::new();
    for &i in &small {
        for j in 0..q {
            groups
                .entry((j as u32, key(i, 1 << j)))
                .or_default()
                .push(i);
        }
    }
    let mut order: Vec<(&GroupKey, &Vec<usize>)> =
        groups.iter().filter(|(_, v)| v.len() >= k).collect();
    order.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(b.0)));
    let mut placed = vec![false; n];
    for ((j, _), members) in order {
        let free: Vec<usize> = members.iter().copied().filter(|&i| !placed[i]).collect();
        if free.len() >= k {
            for i in free {
                placed[i] = true;
                mask[i] = 1 << j;
            }
        }
    }
    // What is still rare loses every quasi-identifier; if those are fewer
    // than k, the smallest other classes join them.
    let all = (1u32 << q) - 1;
    let mut rest: Vec<usize> = small.iter().copied().filter(|&i| !placed[i]).collect();
    if !rest.is_empty() && rest.len() < k {
        let mut classes: HashMap<GroupKey, Vec<usize>> = HashMap::new();
        for (i, &m) in mask.iter().enumerate() {
            if !rest.contains(&i) {
                classes.entry((m, key(i, m))).or_default().push(i);
            }
        }
        let mut by_size: Vec<Vec<usize>> = classes.into_values().collect();
        by_size.sort_by_key(|c| (c.len(), c[0]));
        for c in by_size {
            if rest.len() >= k {
                break;
            }
            rest.extend(c);
        }
    }
    for i in rest {
        mask[i] = all;
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladders_climb_to_the_star() {
        assert_eq!(Ladder::Age.at("37", 1), "Y35T39");
        assert_eq!(Ladder::Age.at("37", 2), "Y25T64");
        assert_eq!(Ladder::Age.at("16", 3), "Y_LT18");
        assert_eq!(Ladder::Age.at("16", 4), "*");
        assert_eq!(Ladder::Age.at("unknown", 1), "*");
        assert_eq!(Ladder::Country.at("GTM", 1), "419");
        assert_eq!(Ladder::Country.at("GTM", 2), "019");
        assert_eq!(Ladder::Country.at("GTM", 3), "*");
        let p: HashMap<String, String> = [("a", "ab"), ("b", "ab"), ("ab", "all")]
            .iter()
            .map(|(c, p)| (c.to_string(), p.to_string()))
            .collect();
        let l = Ladder::Parents(p);
        assert_eq!(l.height(), 3);
        assert_eq!(l.at("a", 1), "ab");
        assert_eq!(l.at("a", 2), "all");
        assert_eq!(l.at("a", 3), "*");
    }
}
