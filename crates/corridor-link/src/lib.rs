//! Corridor link: find the same victim in several organisations' case
//! records without any name leaving its organisation.
//!
//! - [`encode`]: inside each organisation, personal details become one keyed
//!   Bloom-filter encoding ([`bloom`]), hardened by balancing, XOR-folding
//!   and salting as the schema says ([`schema`]).
//! - [`link`]: on the pooled records, blocking by LSH on the encodings
//!   ([`block`]), comparison vectors (Dice levels on the encodings, or string
//!   comparators on plaintext shared under agreement, plus attributes),
//!   Fellegi–Sunter weights with EM ([`model`]), and average-linkage
//!   clustering into persons ([`cluster`]).
//! - [`evaluate`]: precision, recall, F1, pair completeness and reduction
//!   ratio against a truth file.
//!
//! The API: [`encode_file`], [`Pool`] with [`link`] / [`link_into`] and
//! [`LinkOptions`], [`evaluate`], the [`LinkageSchema`] and the
//! [`Encoder`] it builds; errors are [`LinkError`].

pub(crate) mod block;
pub(crate) mod bloom;
pub(crate) mod cluster;
pub(crate) mod encode;
pub mod evaluate;
pub(crate) mod model;
pub mod pool;
pub mod schema;
pub(crate) mod train;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

pub use block::Bands;
pub use bloom::{Encoder, Encoding};
pub use encode::{EncodeReport, encode_file};
pub use evaluate::{Evaluation, evaluate};
pub use model::Model;
pub use pool::Pool;
pub use schema::LinkageSchema;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("linkage schema {}:\n{message}", path.display())]
    Schema { path: PathBuf, message: String },
    #[error(
        "{}: no column '{column}'.\n  The file's columns: {available}\n  Fix the column name in the linkage schema.",
        path.display()
    )]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: String,
    },
    #[error("{}, row {row}: {message}", path.display())]
    BadRow {
        path: PathBuf,
        row: u64,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Csv { path: PathBuf, message: String },
    #[error(
        "record id '{id}' occurs twice (in {first} and in {second}); record ids must be unique across the files linked"
    )]
    DuplicateId {
        id: String,
        first: String,
        second: String,
    },
    #[error(transparent)]
    Read(#[from] corridor_ingest::IngestError),
    #[error("{0}")]
    Input(String),
}

/// Position of column `c` in a file's headers, or an error naming the
/// file, the column and the columns it has.
pub(crate) fn column(path: &Path, headers: &[String], c: &str) -> Result<usize, LinkError> {
    headers
        .iter()
        .position(|h| h == c)
        .ok_or_else(|| LinkError::MissingColumn {
            path: path.to_path_buf(),
            column: c.to_string(),
            available: headers.join(", "),
        })
}

/// How to link.
/// Default of [`LinkOptions::keep_pairs_from`].
pub const DEFAULT_KEEP_PAIRS_FROM: f64 = 0.001;

#[derive(Debug, Clone)]
pub struct LinkOptions {
    /// Match probability at and above which two records are the same
    /// person (pairs) and clusters merge (average linkage).
    pub threshold: f64,
    /// Only pairs of records from different sources (linking two files).
    pub across_sources_only: bool,
    /// `pairs.csv` keeps the candidate pairs with a match probability at
    /// least this (0 keeps every candidate pair; on large files they run
    /// to hundreds of megabytes, nearly all clear non-matches).
    pub keep_pairs_from: f64,
    /// Each record matches at most one record of the other source (both
    /// files hold each person at most once): the pairs at the threshold
    /// are assigned greedily, most probable first, and a record already
    /// assigned takes no other (anonlink's greedy solver does the same).
    /// Only with `across_sources_only`.
    pub one_to_one: bool,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions {
            threshold: 0.5,
            across_sources_only: false,
            keep_pairs_from: DEFAULT_KEEP_PAIRS_FROM,
            one_to_one: false,
        }
    }
}

/// The one-to-one assignment of `links` (a, b, probability) at or above
/// `threshold`: most probable first (ties by record), each record in at
/// most one link.
pub(crate) fn assign_one_to_one(
    links: &[(u32, u32, f64)],
    records: usize,
    threshold: f64,
) -> Vec<(u32, u32, f64)> {
    let mut order: Vec<&(u32, u32, f64)> = links.iter().filter(|l| l.2 >= threshold).collect();
    order.sort_by(|x, y| y.2.total_cmp(&x.2).then((x.0, x.1).cmp(&(y.0, y.1))));
    let mut taken = vec![false; records];
    let mut out = Vec::new();
    for &(a, b, p) in order {
        if !taken[a as usize] && !taken[b as usize] {
            taken[a as usize] = true;
            taken[b as usize] = true;
            out.push((a, b, p));
        }
    }
    out
}

/// A scored candidate pair.
#[derive(Debug, Clone, Serialize)]
pub struct ScoredPair {
    pub a: u32,
    pub b: u32,
    pub similarity: f64,
    pub weight: f64,
    pub probability: f64,
}

/// The result of a linkage run.
pub struct Linkage {
    /// The candidate pairs with a match probability of at least
    /// `min(keep_pairs_from, threshold)`; the others were scored and dropped.
    pub pairs: Vec<ScoredPair>,
    pub clusters: cluster::Clusters,
    pub model: Model,
    pub report: LinkReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkReport {
    pub records: usize,
    pub sources: Vec<String>,
    pub mode: &'static str,
    pub candidate_pairs: usize,
    /// How the LSH bands were set (chosen from the data unless fixed).
    pub bands: block::Bands,
    /// The blocking keys, with the candidate pairs each proposed.
    pub blocking_keys: Vec<(String, usize)>,
    /// The comparisons whose exact agreement is weighed by the agreed
    /// value's frequency.
    pub term_frequency_adjusted: Vec<String>,
    /// Estimated share of all matches among the candidates: the pairs at
    /// the threshold, each weighted by the inverse of the chance that
    /// blocking proposed it (1 for a pair sharing a key, the bands' chance
    /// at its similarity otherwise). Matches that neither keys nor bands
    /// could find are not seen, so it is an upper bound.
    pub estimated_pair_completeness: Option<f64>,
    /// Things the user should look at (printed by the CLI).
    pub warnings: Vec<String>,
    /// 1 − candidates / all possible pairs.
    pub reduction_ratio: f64,
    pub pairs_at_threshold: usize,
    /// Whether matches were assigned one to one ([`LinkOptions::one_to_one`]).
    pub one_to_one: bool,
    pub clusters: usize,
    pub records_in_multi_record_clusters: usize,
    pub threshold: f64,
    /// `pairs.csv` holds the candidate pairs with probability ≥ this.
    pub pairs_kept_from: f64,
    pub pairs_kept: usize,
    pub seconds_blocking: f64,
    pub seconds_scoring: f64,
    pub seconds_clustering: f64,
}

/// All possible pairs of the pool (only across sources when asked).
pub fn possible_pairs(pool: &Pool, across: bool) -> f64 {
    let n = pool.len() as f64;
    let all = n * (n - 1.0) / 2.0;
    if !across {
        return all;
    }
    let mut per: HashMap<u16, f64> = HashMap::new();
    for s in &pool.sources {
        *per.entry(*s).or_default() += 1.0;
    }
    all - per.values().map(|k| k * (k - 1.0) / 2.0).sum::<f64>()
}

/// The comparison patterns of `pairs`, counted (in parallel, one buffer per
/// worker, a key allocated only for a pattern not seen before).
pub fn count_patterns(
    pool: &Pool,
    comparator: &model::Comparator,
    pairs: &[(u32, u32)],
) -> HashMap<Vec<u8>, u64> {
    pairs
        .par_iter()
        .fold(
            || (HashMap::new(), Vec::new()),
            |(mut acc, mut levels): (HashMap<Vec<u8>, u64>, Vec<u8>), (i, j)| {
                comparator.compare_into(pool, *i as usize, *j as usize, &mut levels);
                match acc.get_mut(&levels[..]) {
                    Some(n) => *n += 1,
                    None => {
                        acc.insert(levels.clone(), 1);
                    }
                }
                (acc, levels)
            },
        )
        .map(|(acc, _)| acc)
        .reduce(HashMap::new, |mut a, b| {
            for (k, v) in b {
                *a.entry(k).or_default() += v;
            }
            a
        })
}

/// The prior over all pairs that makes the model agree with itself: the
/// expected matches among the candidate pairs (nearly every match is one),
/// Σ P(match | pair), over all possible pairs, iterated to a fixed point on
/// a uniform sample of up to 2 million candidates. The sessions' own
/// estimate is the start; on large files with many look-alikes it runs
/// high, since EM inside big blocks finds look-alikes as well as matches.
fn prior_from_candidates(
    model: &Model,
    comparator: &model::Comparator,
    pool: &Pool,
    candidates: &[(u32, u32)],
    possible: f64,
) -> f64 {
    if candidates.is_empty() || possible <= 0.0 {
        return model.lambda;
    }
    let step = candidates.len().div_ceil(2_000_000);
    let sample: Vec<(u32, u32)> = candidates.iter().step_by(step).copied().collect();
    let scale = candidates.len() as f64 / sample.len() as f64;
    let patterns: Vec<(Vec<u8>, f64)> = count_patterns(pool, comparator, &sample)
        .into_iter()
        .map(|(p, n)| (p, n as f64))
        .collect();
    let mut m = model.clone();
    for _ in 0..100 {
        let expected: f64 = patterns
            .iter()
            .map(|(p, n)| n * m.probability(p))
            .sum::<f64>()
            * scale;
        let next = (expected / possible).clamp(1e-12, 0.5);
        let done = (next / m.lambda - 1.0).abs() < 1e-4;
        m.lambda = next;
        if done {
            break;
        }
    }
    m.lambda
}

/// The exact keys: every detail that can be compared exactly (they tell
/// likely matches for choosing the bands), those `[blocking] keys` names
/// marked as blocking keys, and the compared attributes it names.
fn key_sources(
    pool: &Pool,
    schema: &LinkageSchema,
    comparator: &model::Comparator,
    exact: &[(usize, Vec<Option<u64>>)],
) -> Vec<block::KeySource> {
    use std::hash::{Hash, Hasher};
    let wanted = |name: &str| {
        schema
            .blocking
            .keys
            .as_ref()
            .is_some_and(|keys| keys.iter().any(|k| k == name))
    };
    let mut sources: Vec<block::KeySource> = exact
        .iter()
        .filter_map(|(c, keys)| {
            let name = &schema.fields[comparator.field_of(*c)?].name;
            Some(block::KeySource {
                name: name.clone(),
                keys: keys.clone(),
                candidates: wanted(name),
            })
        })
        .collect();
    for (c, rule) in pool.compares.iter().enumerate() {
        if wanted(&rule.column) {
            let keys = pool
                .attributes
                .iter()
                .map(|a| {
                    a[c].as_ref().map(|v| {
                        let mut h = rustc_hash::FxHasher::default();
                        v.hash(&mut h);
                        h.finish()
                    })
                })
                .collect();
            sources.push(block::KeySource {
                name: rule.column.clone(),
                keys,
                candidates: true,
            });
        }
    }
    sources
}

/// Blocks, compares, fits the model, scores and clusters.
pub fn link(pool: &Pool, schema: &LinkageSchema, options: &LinkOptions) -> Linkage {
    let t0 = std::time::Instant::now();
    let comparator = model::Comparator::new(schema, pool);
    let exact = comparator.exact_keys(pool);
    let possible = possible_pairs(pool, options.across_sources_only);
    // Blocking, with the bands valued on the likely matches (`None`) or on
    // a weighted sample of matches.
    let run_blocking = |sample: Option<&[(f64, f64)]>| {
        block::block(
            &pool.encodings,
            &pool.sources,
            &schema.blocking,
            options.across_sources_only,
            possible,
            key_sources(pool, schema, &comparator, &exact),
            sample,
        )
    };
    let mut blocking = run_blocking(None);
    let candidates = &blocking.pairs;
    let t1 = std::time::Instant::now();
    let random_u = model::random_pair_levels(pool, &comparator, 1_000_000);
    let (trained, sessions) = train::train(
        pool,
        &comparator,
        &exact,
        &random_u,
        possible,
        options.across_sources_only,
        2_000_000,
    );
    let trained = trained.map(|mut model| {
        model.lambda = prior_from_candidates(&model, &comparator, pool, candidates, possible);
        model
    });
    let trained_in_sessions = trained.is_some();
    let mut model = trained.unwrap_or_else(|| {
        // EM on the candidates: their comparison patterns, counted.
        let patterns = count_patterns(pool, &comparator, candidates);
        Model {
            training: sessions,
            ..Model::fit(comparator.comparisons.clone(), &patterns, random_u)
        }
    });
    // Scored and dropped as they go: only pairs that could matter are kept
    // (a million records give hundreds of millions of candidates).
    let keep = options.keep_pairs_from.min(options.threshold);
    let mut scorer = model.scorer();
    let frequencies = model::TermFrequencies::new(&model, &exact, |c| {
        comparator
            .field_of(c)
            .is_some_and(|f| schema.fields[f].term_frequency())
    });
    let score = |candidates: &[(u32, u32)], scorer: &model::Scorer| -> Vec<ScoredPair> {
        candidates
            .par_iter()
            .map_init(Vec::new, |levels, (a, b)| {
                comparator.compare_into(pool, *a as usize, *b as usize, levels);
                let weight = scorer.weight(levels)
                    + frequencies.adjustment(levels, *a as usize, *b as usize);
                let probability = scorer.probability(weight);
                (probability >= keep).then(|| ScoredPair {
                    a: *a,
                    b: *b,
                    similarity: model::similarity(pool, *a as usize, *b as usize),
                    weight,
                    probability,
                })
            })
            .flatten()
            .collect()
    };
    // Each pair at the threshold, with its bit agreement and the chance that
    // blocking proposed it.
    let found_at = |pairs: &[ScoredPair], blocking: &block::Blocking| -> Vec<(f64, f64, f64)> {
        pairs
            .par_iter()
            .filter(|p| p.probability >= options.threshold)
            .map(|p| {
                let (a, b) = (p.a as usize, p.b as usize);
                let s = block::agreement(&pool.encodings[a], &pool.encodings[b]);
                let chance = if blocking.found_by_key(a, b) {
                    1.0
                } else {
                    blocking.band_probability(s).max(1e-3)
                };
                (p.probability, s, chance)
            })
            .collect()
    };
    let completeness = |found: &[(f64, f64, f64)]| {
        let (f, w) = found
            .iter()
            .fold((0.0, 0.0), |(f, w), (p, _, c)| (f + p, w + p / c));
        (w > 0.0).then(|| f / w)
    };
    let mut pairs = score(&blocking.pairs, &scorer);
    let mut found = found_at(&pairs, &blocking);
    let mut estimated_pair_completeness = completeness(&found);
    // The first bands were valued on likely matches (pairs sharing two
    // exact details), which are the easy ones. When the model's matches say
    // that blocking missed many, the bands are chosen again on them, each
    // weighted by the inverse of its chance of having been found (so the
    // hard matches the bands rarely find count for those they missed).
    if blocking.bands.calibrated
        && estimated_pair_completeness.is_some_and(|pc| pc < block::TARGET_CATCH)
        && found.len() >= block::MIN_LIKELY_MATCHES
    {
        let sample: Vec<(f64, f64)> = found.iter().map(|(p, s, c)| (*s, p / c)).collect();
        let wider = run_blocking(Some(&sample));
        if wider.pairs.len() > blocking.pairs.len() {
            // Only the pairs the new bands add are compared; those scored
            // already keep their weight, and their probability follows the
            // prior refitted to all candidates.
            let added: Vec<(u32, u32)> = wider
                .pairs
                .iter()
                .filter(|p| blocking.pairs.binary_search(p).is_err())
                .copied()
                .collect();
            blocking = wider;
            if trained_in_sessions {
                model.lambda =
                    prior_from_candidates(&model, &comparator, pool, &blocking.pairs, possible);
                scorer = model.scorer();
                for p in pairs.iter_mut() {
                    p.probability = scorer.probability(p.weight);
                }
            }
            pairs.extend(score(&added, &scorer));
            pairs.par_sort_unstable_by_key(|p| (p.a, p.b));
            found = found_at(&pairs, &blocking);
            estimated_pair_completeness = completeness(&found);
        }
    }
    let candidates = &blocking.pairs;
    let candidate_count = candidates.len();
    let pairs_at_threshold = found.len();
    drop(found);
    let mut warnings = Vec::new();
    if candidate_count >= 100 && pairs_at_threshold as f64 >= 0.9 * candidate_count as f64 {
        warnings.push(format!(
            "{} of {} candidate pairs are matches: blocking is probably too tight and misses matches. Raise [blocking] candidates_per_record, remove a fixed bands / band_bits, or name blocking keys ([blocking] keys).",
            pairs_at_threshold,
            candidate_count
        ));
    }
    if let Some(pc) = estimated_pair_completeness.filter(|pc| *pc < 0.99) {
        warnings.push(format!(
            "blocking found an estimated {:.1} % of the matches: raise [blocking] candidates_per_record, or name more blocking keys.",
            100.0 * pc
        ));
    }
    let bands = blocking.bands.clone();
    let blocking_keys = blocking.keys.clone();
    let term_frequency_adjusted = frequencies
        .comparisons()
        .map(|c| model.comparisons[c].name.clone())
        .collect();
    drop(blocking);
    let t2 = std::time::Instant::now();
    let mut links: Vec<(u32, u32, f64)> = pairs.iter().map(|p| (p.a, p.b, p.probability)).collect();
    let one_to_one = options.one_to_one && options.across_sources_only;
    if one_to_one {
        links = assign_one_to_one(&links, pool.len(), options.threshold);
    }
    let across = options.across_sources_only;
    let clusters = cluster::cluster(pool.len(), &links, options.threshold, |i, j| {
        // Assigned pairs are the clusters: no merge beyond them.
        if one_to_one || (across && pool.sources[i] == pool.sources[j]) {
            return 0.0;
        }
        model.probability(&comparator.compare(pool, i, j).0)
    });
    let t3 = std::time::Instant::now();
    let sizes = clusters.sizes();
    let report = LinkReport {
        records: pool.len(),
        sources: pool.source_names.clone(),
        mode: if pool.is_plaintext() {
            "plaintext"
        } else {
            "encoded"
        },
        candidate_pairs: candidate_count,
        bands,
        blocking_keys,
        term_frequency_adjusted,
        estimated_pair_completeness,
        warnings,
        reduction_ratio: if possible > 0.0 {
            1.0 - candidate_count as f64 / possible
        } else {
            1.0
        },
        pairs_at_threshold,
        one_to_one,
        clusters: clusters.count,
        records_in_multi_record_clusters: clusters
            .of_record
            .iter()
            .filter(|c| sizes[**c as usize] > 1)
            .count(),
        threshold: options.threshold,
        pairs_kept_from: options.keep_pairs_from,
        pairs_kept: pairs
            .iter()
            .filter(|p| p.probability >= options.keep_pairs_from)
            .count(),
        seconds_blocking: (t1 - t0).as_secs_f64(),
        seconds_scoring: (t2 - t1).as_secs_f64(),
        seconds_clustering: (t3 - t2).as_secs_f64(),
    };
    Linkage {
        pairs,
        clusters,
        model,
        report,
    }
}

/// Cluster ids as written: `P` and a number, in order of first record.
pub fn cluster_id(c: u32) -> String {
    format!("P{:06}", c + 1)
}

/// One linkage as a user asks for it: links the pool and writes its
/// outputs into `dir` ([`write_outputs`]). An empty pool is an error, not
/// an empty folder.
pub fn link_into(
    dir: &Path,
    pool: &Pool,
    schema: &LinkageSchema,
    options: &LinkOptions,
) -> Result<Linkage, LinkError> {
    if pool.is_empty() {
        return Err(LinkError::Input("nothing to link: no records".into()));
    }
    let linkage = link(pool, schema, options);
    write_outputs(dir, pool, &linkage)?;
    Ok(linkage)
}

/// Writes `clusters.csv` (every record with its person), `pairs.csv`
/// (every candidate pair with its similarity, weight and probability) and
/// `report.json` (counts, timings and the fitted m/u) into `dir`.
pub fn write_outputs(dir: &Path, pool: &Pool, linkage: &Linkage) -> Result<(), LinkError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LinkError::Io {
            path: path.clone(),
            source,
        }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let csv_err = |path: &Path| {
        let path = path.to_path_buf();
        move |e: csv::Error| LinkError::Csv {
            path: path.clone(),
            message: e.to_string(),
        }
    };
    let path = dir.join("clusters.csv");
    let mut w = csv::Writer::from_path(&path).map_err(csv_err(&path))?;
    w.write_record([
        "record_id",
        "source",
        "cluster_id",
        "cluster_size",
        "match_probability",
    ])
    .map_err(csv_err(&path))?;
    let sizes = linkage.clusters.sizes();
    for (r, c) in linkage.clusters.of_record.iter().enumerate() {
        w.write_record([
            pool.ids[r].as_str(),
            pool.source_names[pool.sources[r] as usize].as_str(),
            &cluster_id(*c),
            &sizes[*c as usize].to_string(),
            &linkage.clusters.cohesion[r]
                .map(|p| format!("{p:.4}"))
                .unwrap_or_default(),
        ])
        .map_err(csv_err(&path))?;
    }
    w.flush().map_err(io(&path))?;
    let path = dir.join("pairs.csv");
    let mut w = csv::Writer::from_path(&path).map_err(csv_err(&path))?;
    w.write_record([
        "record_id_a",
        "record_id_b",
        "similarity",
        "match_weight",
        "match_probability",
        "same_cluster",
    ])
    .map_err(csv_err(&path))?;
    let keep = linkage.report.pairs_kept_from;
    for p in linkage.pairs.iter().filter(|p| p.probability >= keep) {
        let same =
            linkage.clusters.of_record[p.a as usize] == linkage.clusters.of_record[p.b as usize];
        w.write_record([
            pool.ids[p.a as usize].as_str(),
            pool.ids[p.b as usize].as_str(),
            &format!("{:.4}", p.similarity),
            &format!("{:.3}", p.weight),
            &format!("{:.6}", p.probability),
            if same { "true" } else { "false" },
        ])
        .map_err(csv_err(&path))?;
    }
    w.flush().map_err(io(&path))?;
    let path = dir.join("report.json");
    let json = serde_json::json!({
        "report": linkage.report,
        "model": linkage.model,
    });
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
    .map_err(io(&path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_to_one_keeps_the_most_probable_pair_of_each_record() {
        // Record 0 (file a) looks like 2 and 3 (file b); 1 looks like 3.
        let links = vec![(0, 2, 0.9), (0, 3, 0.95), (1, 3, 0.8), (1, 2, 0.3)];
        let kept = assign_one_to_one(&links, 4, 0.5);
        assert_eq!(kept, vec![(0, 3, 0.95)]);
        let kept = assign_one_to_one(&links, 4, 0.2);
        assert_eq!(kept, vec![(0, 3, 0.95), (1, 2, 0.3)]);
    }

    proptest! {
        /// The assignment is a matching, and every link left out meets a
        /// kept link at least as probable.
        #[test]
        fn one_to_one_is_a_greedy_matching(raw in proptest::collection::vec((0u32..20, 0u32..20, 0.0f64..1.0), 0..80)) {
            let links: Vec<(u32, u32, f64)> = raw.into_iter().filter(|(a, b, _)| a < b).collect();
            let kept = assign_one_to_one(&links, 20, 0.5);
            let mut seen = std::collections::HashSet::new();
            for (a, b, p) in &kept {
                prop_assert!(*p >= 0.5);
                prop_assert!(seen.insert(*a) && seen.insert(*b));
            }
            for (a, b, p) in links.iter().filter(|l| l.2 >= 0.5) {
                if kept.iter().any(|k| (k.0, k.1) == (*a, *b)) {
                    continue;
                }
                let blocked = kept.iter().any(|k| {
                    (k.0 == *a || k.1 == *a || k.0 == *b || k.1 == *b) && k.2 >= *p
                });
                prop_assert!(blocked);
            }
        }
    }
}
