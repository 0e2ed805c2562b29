//! Linkage quality against a truth file: pairwise precision, recall and F1
//! of the clusters, and the blocking's pair completeness (share of true
//! pairs among the candidates) and reduction ratio.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Serialize;

use crate::LinkError;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Evaluation {
    pub records: usize,
    /// Records of the linkage output that the truth does not know.
    pub records_not_in_truth: usize,
    pub true_pairs: u64,
    pub predicted_pairs: u64,
    pub correct_pairs: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub candidate_pairs: u64,
    /// Share of true pairs among the candidate pairs (among those kept in
    /// `pairs.csv` when `pairs_kept_from` > 0: then a lower bound).
    pub pair_completeness: f64,
    /// The linkage kept pairs from this probability (0: every candidate).
    pub pairs_kept_from: f64,
    pub reduction_ratio: f64,
}

fn pairs_within(groups: &HashMap<&str, Vec<usize>>) -> HashSet<(usize, usize)> {
    let mut out = HashSet::new();
    for members in groups.values() {
        for (k, a) in members.iter().enumerate() {
            for b in &members[k + 1..] {
                out.insert(if a < b { (*a, *b) } else { (*b, *a) });
            }
        }
    }
    out
}

/// `records`: (record id, cluster id); `candidates`: candidate pairs by
/// record id; `truth`: record id → true entity.
pub fn evaluate(
    records: &[(String, String)],
    candidates: &[(String, String)],
    truth: &HashMap<String, String>,
) -> Evaluation {
    let known: Vec<usize> = (0..records.len())
        .filter(|i| truth.contains_key(&records[*i].0))
        .collect();
    let index: HashMap<&str, usize> = known.iter().map(|i| (records[*i].0.as_str(), *i)).collect();
    let mut predicted: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut actual: HashMap<&str, Vec<usize>> = HashMap::new();
    for i in &known {
        predicted
            .entry(records[*i].1.as_str())
            .or_default()
            .push(*i);
        actual
            .entry(truth[&records[*i].0].as_str())
            .or_default()
            .push(*i);
    }
    let p = pairs_within(&predicted);
    let t = pairs_within(&actual);
    let correct = p.intersection(&t).count() as u64;
    let found: u64 = candidates
        .iter()
        .filter_map(|(a, b)| Some((*index.get(a.as_str())?, *index.get(b.as_str())?)))
        .filter(|(a, b)| t.contains(&if a < b { (*a, *b) } else { (*b, *a) }))
        .count() as u64;
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let precision = ratio(correct, p.len() as u64);
    let recall = ratio(correct, t.len() as u64);
    let n = known.len() as f64;
    let possible = n * (n - 1.0) / 2.0;
    Evaluation {
        records: records.len(),
        records_not_in_truth: records.len() - known.len(),
        true_pairs: t.len() as u64,
        predicted_pairs: p.len() as u64,
        correct_pairs: correct,
        precision,
        recall,
        f1: if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        },
        candidate_pairs: candidates.len() as u64,
        pair_completeness: ratio(found, t.len() as u64),
        pairs_kept_from: 0.0,
        reduction_ratio: if possible > 0.0 {
            1.0 - candidates.len() as f64 / possible
        } else {
            1.0
        },
    }
}

/// The values of `columns` in every row of a CSV, by header name.
fn read_columns(path: &Path, columns: &[&str]) -> Result<Vec<Vec<String>>, LinkError> {
    let err = |e: csv::Error| LinkError::Csv {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut r = csv::Reader::from_path(path).map_err(err)?;
    // Headers as `encode` reads them: a byte-order mark and surrounding
    // spaces are not part of the name.
    let headers: Vec<String> = r
        .headers()
        .map_err(err)?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let idx: Vec<usize> = columns
        .iter()
        .map(|c| crate::column(path, &headers, c))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(err)?;
        out.push(
            idx.iter()
                .map(|i| rec.get(*i).unwrap_or_default().to_string())
                .collect(),
        );
    }
    Ok(out)
}

fn pairs_of(rows: Vec<Vec<String>>) -> Vec<(String, String)> {
    rows.into_iter()
        .map(|mut r| {
            let b = r.pop().unwrap_or_default();
            (r.pop().unwrap_or_default(), b)
        })
        .collect()
}

/// (record id, cluster id) of every record in a linkage output folder's
/// `clusters.csv`.
pub fn read_clusters(dir: &Path) -> Result<Vec<(String, String)>, LinkError> {
    Ok(pairs_of(read_columns(
        &dir.join("clusters.csv"),
        &["record_id", "cluster_id"],
    )?))
}

/// Evaluates a linkage output folder against a truth (record id → true
/// entity): clusters from `clusters.csv`, the pairs kept in `pairs.csv`,
/// and from `report.json` how many candidate pairs there were in all and
/// from which probability pairs were kept.
pub fn evaluate_outputs(
    dir: &Path,
    truth: &HashMap<String, String>,
) -> Result<Evaluation, LinkError> {
    let records = read_clusters(dir)?;
    let kept = pairs_of(read_columns(
        &dir.join("pairs.csv"),
        &["record_id_a", "record_id_b"],
    )?);
    let mut e = evaluate(&records, &kept, truth);
    let report: Option<serde_json::Value> = std::fs::read_to_string(dir.join("report.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let field = |name: &str| report.as_ref().and_then(|r| r["report"][name].as_f64());
    if let (Some(candidates), Some(kept_from)) =
        (field("candidate_pairs"), field("pairs_kept_from"))
    {
        let n = e.records as f64;
        let possible = n * (n - 1.0) / 2.0;
        e.candidate_pairs = candidates as u64;
        e.pairs_kept_from = kept_from;
        if possible > 0.0 {
            e.reduction_ratio = 1.0 - candidates / possible;
        }
    }
    Ok(e)
}

/// Evaluates a linkage output folder against a truth file whose record ids
/// are the values of `id_columns` joined by `:` (the ids the linked files
/// carried). A workspace's records carry pseudonyms instead: see
/// `corridor_cases::evaluate_workspace_links`.
pub fn evaluate_files(
    dir: &Path,
    truth: &Path,
    id_columns: &[&str],
    entity: &str,
) -> Result<Evaluation, LinkError> {
    let map: HashMap<String, String> = read_truth(truth, id_columns, entity)?
        .into_iter()
        .map(|(ids, e)| (ids.join(":"), e))
        .collect();
    evaluate_outputs(dir, &map)
}

/// Evaluates a linkage output folder whose record ids say their true
/// entity, as the ids of many public benchmark sets do (`rec-12-org`,
/// `rec-12-dup-0`): `pattern` is a regular expression whose first group
/// (or whole match) is the entity. A record whose id it does not match is
/// left out, and counted.
pub fn evaluate_by_pattern(dir: &Path, pattern: &str) -> Result<Evaluation, LinkError> {
    let re = regex::Regex::new(pattern).map_err(|e| {
        LinkError::Input(format!(
            "--truth-pattern {pattern:?} is not a regular expression: {e}"
        ))
    })?;
    let map: HashMap<String, String> = read_clusters(dir)?
        .into_iter()
        .filter_map(|(id, _)| {
            let caps = re.captures(&id)?;
            let entity = caps.get(1).or_else(|| caps.get(0))?.as_str().to_string();
            Some((id, entity))
        })
        .collect();
    if map.is_empty() {
        return Err(LinkError::Input(format!(
            "--truth-pattern {pattern:?} matches none of the record ids in {}",
            dir.join("clusters.csv").display()
        )));
    }
    evaluate_outputs(dir, &map)
}

/// Reads a truth file: for every row, the values of `id_columns` and of
/// `entity`.
pub fn read_truth(
    path: &Path,
    id_columns: &[&str],
    entity: &str,
) -> Result<Vec<(Vec<String>, String)>, LinkError> {
    let mut columns = id_columns.to_vec();
    columns.push(entity);
    Ok(read_columns(path, &columns)?
        .into_iter()
        .map(|mut r| {
            let e = r.pop().unwrap_or_default();
            (r, e)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_from_a_pattern_over_the_ids() {
        let dir = tempfile::tempdir().expect("tempdir");
        // FEBRL-style ids: rec-1-org and rec-1-dup-0 are one person.
        std::fs::write(
            dir.path().join("clusters.csv"),
            "\u{feff}record_id , cluster_id\nrec-1-org,c1\nrec-1-dup-0,c1\nrec-2-org,c2\nrec-2-dup-0,c3\nother,c4\n",
        )
        .expect("clusters");
        std::fs::write(
            dir.path().join("pairs.csv"),
            "record_id_a,record_id_b\nrec-1-org,rec-1-dup-0\n",
        )
        .expect("pairs");
        let e = evaluate_by_pattern(dir.path(), r"rec-(\d+)-").expect("evaluated");
        assert_eq!(
            (e.true_pairs, e.predicted_pairs, e.correct_pairs),
            (2, 1, 1)
        );
        assert_eq!(e.records_not_in_truth, 1);
        assert!((e.precision - 1.0).abs() < 1e-12 && (e.recall - 0.5).abs() < 1e-12);
        let err = evaluate_by_pattern(dir.path(), "(")
            .expect_err("bad regex")
            .to_string();
        assert!(err.contains("not a regular expression"), "{err}");
        let err = evaluate_by_pattern(dir.path(), "^x-")
            .expect_err("no match")
            .to_string();
        assert!(
            err.contains("matches none") && err.contains("clusters.csv"),
            "{err}"
        );
    }

    #[test]
    fn pairwise_scores() {
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        // Truth: {a,b,c} one person, {d} another. Prediction: {a,b}, {c,d}.
        let records = vec![s("a", "1"), s("b", "1"), s("c", "2"), s("d", "2")];
        let truth: HashMap<String, String> = [("a", "x"), ("b", "x"), ("c", "x"), ("d", "y")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let cands = vec![s("a", "b"), s("c", "d"), s("b", "c")];
        let e = evaluate(&records, &cands, &truth);
        assert_eq!(e.true_pairs, 3);
        assert_eq!(e.predicted_pairs, 2);
        assert_eq!(e.correct_pairs, 1);
        assert!((e.precision - 0.5).abs() < 1e-12);
        assert!((e.recall - 1.0 / 3.0).abs() < 1e-12);
        assert!((e.pair_completeness - 2.0 / 3.0).abs() < 1e-12);
        assert!((e.reduction_ratio - 0.5).abs() < 1e-12);
    }
}
