//! Blocking: which pairs of records are compared at all. The candidates
//! are the union of two kinds of blocks:
//!
//! - **Keys**, the details the schema names in `[blocking] keys`: records
//!   sharing the exact value of a detail (on the encoded path, the same
//!   field filter: the filters are keyed, so the key reveals nothing the
//!   encoding does not). Splink's blocking rules work this way.
//! - **LSH bands** on the record-level filters (Hamming LSH): each band
//!   samples a fixed set of bit positions; records whose sampled bits all
//!   agree share a bucket. Two filters agreeing on a share s of their bits
//!   meet in a band with probability s^r (r bits per band), and in one of b
//!   bands with probability 1 − (1 − s^r)^b.
//!
//! Unless the schema fixes them, r and b are chosen from the data
//! ([`calibrate`]): from the similarities of random pairs (what every band
//! costs) and of likely matches (pairs that share two keys), the setting
//! that catches the most likely matches within a candidate budget that
//! grows linearly with the records. Every detail that can be compared
//! exactly is a key for telling likely matches, whether or not it is a
//! blocking key. Keys are not blocking keys by default: a key proposes
//! every pair that shares a common birth date, and where look-alikes abound
//! the model scores too many of them as matches, while the chosen bands
//! alone find nearly every match (bench/RESULTS.md has both measurements).

use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::bloom::Encoding;
use crate::schema::BlockingOptions;

/// The expected share of matches the bands should find on their own.
pub(crate) const TARGET_CATCH: f64 = 0.995;
/// Random pairs whose similarities price a band setting.
const RANDOM_PAIRS: usize = 1_000_000;
/// At most this many bands: each costs a pass over every record.
const MAX_BANDS: usize = 200;
/// Fewer likely matches than this say too little about matches: the
/// default bands are used.
pub(crate) const MIN_LIKELY_MATCHES: usize = 20;

/// One exact key: each record's key (`None` when the detail is missing).
pub struct KeySource {
    pub name: String,
    pub keys: Vec<Option<u64>>,
    /// Its blocks are candidates (a blocking key); otherwise the key only
    /// tells likely matches apart for choosing the bands.
    pub candidates: bool,
}

/// How the bands were set.
#[derive(Debug, Clone, Serialize)]
pub struct Bands {
    pub bands: usize,
    pub band_bits: usize,
    /// Chosen from the data (not fixed by the schema).
    pub calibrated: bool,
    /// Likely matches (pairs sharing two keys) the choice was made on, or,
    /// when recalibrated, the model's matches.
    pub likely_matches: usize,
    /// Chosen on the caller's sample of matches (the model's, after the
    /// first bands missed many) rather than on the likely matches.
    pub recalibrated: bool,
    /// Expected share of the likely matches the bands alone find.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_catch: Option<f64>,
    /// Expected candidate pairs from the bands, and the budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_candidates: Option<f64>,
    pub candidate_budget: f64,
}

/// The candidate pairs and how they were found.
pub struct Blocking {
    /// Candidate pairs (i < j), sorted and without repeats.
    pub pairs: Vec<(u32, u32)>,
    pub bands: Bands,
    /// The keys blocked on, with the number of pairs each gave.
    pub keys: Vec<(String, usize)>,
    /// The blocking keys (not those that only tell likely matches).
    key_sources: Vec<KeySource>,
    /// Per blocking key and record: whether its bucket was small enough to
    /// be used.
    usable: Vec<Vec<bool>>,
}

impl Blocking {
    /// Whether a key (not only the bands) proposed the pair.
    pub fn found_by_key(&self, i: usize, j: usize) -> bool {
        self.key_sources
            .iter()
            .zip(&self.usable)
            .any(|(s, ok)| ok[i] && s.keys[i].is_some() && s.keys[i] == s.keys[j])
    }

    /// Probability that the bands propose a pair whose record-level filters
    /// agree on a share `agreement` of their bits.
    pub fn band_probability(&self, agreement: f64) -> f64 {
        catch(agreement, self.bands.band_bits, self.bands.bands)
    }
}

fn catch(s: f64, r: usize, b: usize) -> f64 {
    1.0 - (1.0 - s.powi(r as i32)).powi(b as i32)
}

/// Share of the bits on which two filters agree.
pub fn agreement(a: &Encoding, b: &Encoding) -> f64 {
    let differ: u32 = a
        .words
        .iter()
        .zip(&b.words)
        .map(|(x, y)| (x ^ y).count_ones())
        .sum();
    1.0 - f64::from(differ) / a.bits().max(1) as f64
}

/// The candidate pairs: keys and bands, unioned. With `across`, only pairs
/// from different sources (linking two files); `possible` is the number of
/// pairs there are to compare.
pub fn block(
    encodings: &[Encoding],
    sources: &[u16],
    opts: &BlockingOptions,
    across: bool,
    possible: f64,
    key_sources: Vec<KeySource>,
    sample: Option<&[(f64, f64)]>,
) -> Blocking {
    let n = encodings.len();
    // Pairs from every key, with repeats: a pair two keys agree on is a
    // likely match. Then the pairs of the blocking keys alone, and which
    // records sit in a bucket small enough to be used.
    let mut all: Vec<u64> = Vec::new();
    let mut keyed: Vec<u64> = Vec::new();
    let mut keys = Vec::new();
    let mut usable = Vec::new();
    for source in &key_sources {
        let mut ok = vec![false; n];
        let mut entries: Vec<(u64, u32)> = source
            .keys
            .iter()
            .enumerate()
            .filter_map(|(i, k)| k.map(|k| (k, i as u32)))
            .collect();
        entries.sort_unstable();
        let mut pairs = Vec::new();
        for_each_bucket(&entries, opts.max_bucket, |bucket| {
            for (_, i) in bucket {
                ok[*i as usize] = true;
            }
            push_pairs(bucket, sources, across, &mut pairs);
        });
        if source.candidates {
            keys.push((source.name.clone(), pairs.len()));
            keyed.extend_from_slice(&pairs);
            usable.push(ok);
        }
        all.extend(pairs);
    }
    all.par_sort_unstable();
    let likely: Vec<u64> = all
        .chunk_by(|a, b| a == b)
        .filter(|run| run.len() >= 2)
        .map(|run| run[0])
        .collect();
    drop(all);
    let key_sources: Vec<KeySource> = key_sources.into_iter().filter(|s| s.candidates).collect();
    keyed.par_sort_unstable();
    keyed.dedup();
    let budget = opts.candidates_per_record * n as f64;
    let bands = match (opts.bands, opts.band_bits) {
        (Some(b), Some(r)) => Bands {
            bands: b,
            band_bits: (r + extra_band_bits(n, opts)).min(64),
            calibrated: false,
            recalibrated: false,
            likely_matches: likely.len(),
            expected_catch: None,
            expected_candidates: None,
            candidate_budget: budget,
        },
        (b, r) => {
            // Matches to value the bands on: the caller's weighted sample
            // (bit agreement, weight), else the likely matches.
            let matches: Vec<(f64, f64)> = match sample {
                Some(s) => s.to_vec(),
                None => likely
                    .iter()
                    .map(|p| {
                        let (i, j) = ((p >> 32) as usize, (*p as u32) as usize);
                        (agreement(&encodings[i], &encodings[j]), 1.0)
                    })
                    .collect(),
            };
            let mut bands = calibrate(encodings, sources, across, possible, &matches, budget, b, r);
            bands.recalibrated = sample.is_some() && bands.calibrated;
            bands
        }
    };
    let mut pairs = band_pairs(encodings, sources, &bands, opts.max_bucket, across);
    pairs.extend(keyed);
    pairs.par_sort_unstable();
    pairs.dedup();
    Blocking {
        pairs: pairs
            .into_iter()
            .map(|p| ((p >> 32) as u32, p as u32))
            .collect(),
        bands,
        keys,
        key_sources,
        usable,
    }
}

/// Calls `f` on every run of equal keys of `entries` (sorted) with 2 to
/// `max` members: larger buckets hold look-alikes by the hundred (common
/// names, records with few details), and true pairs among them meet in
/// other blocks.
fn for_each_bucket(entries: &[(u64, u32)], max: usize, mut f: impl FnMut(&[(u64, u32)])) {
    for bucket in entries.chunk_by(|a, b| a.0 == b.0) {
        if bucket.len() >= 2 && bucket.len() <= max {
            f(bucket);
        }
    }
}

fn push_pairs(bucket: &[(u64, u32)], sources: &[u16], across: bool, out: &mut Vec<u64>) {
    for a in 0..bucket.len() {
        for b in a + 1..bucket.len() {
            let (i, j) = (bucket[a].1, bucket[b].1);
            if across && sources[i as usize] == sources[j as usize] {
                continue;
            }
            let (i, j) = if i < j { (i, j) } else { (j, i) };
            out.push(u64::from(i) << 32 | u64::from(j));
        }
    }
}

/// The pairs the bands propose, packed as `i << 32 | j`.
fn band_pairs(
    encodings: &[Encoding],
    sources: &[u16],
    bands: &Bands,
    max_bucket: usize,
    across: bool,
) -> Vec<u64> {
    let Some(first) = encodings.first() else {
        return Vec::new();
    };
    let bits = first.bits();
    let r = bands.band_bits.min(64).min(bits);
    (0..bands.bands)
        .into_par_iter()
        .flat_map_iter(|band| {
            // The positions are not secret: the filters are keyed already.
            let mut rng = ChaCha8Rng::seed_from_u64(0xB10C_0000 + band as u64);
            let positions: Vec<usize> = sample(&mut rng, bits, r).into_vec();
            let mut keys: Vec<(u64, u32)> = encodings
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let mut key = 0u64;
                    for (k, p) in positions.iter().enumerate() {
                        key |= u64::from(e.bit(*p)) << k;
                    }
                    (key, i as u32)
                })
                .collect();
            keys.sort_unstable();
            let mut out = Vec::new();
            for_each_bucket(&keys, max_bucket, |bucket| {
                push_pairs(bucket, sources, across, &mut out)
            });
            out.sort_unstable();
            out.dedup();
            out
        })
        .collect()
}

/// Chooses bits per band and bands from the data: prices each setting by
/// the similarities of random pairs (expected candidates), values it by
/// the similarities of the likely matches (expected share found), and
/// takes the cheapest setting that finds [`TARGET_CATCH`] of them within
/// `budget` candidates, else the one that finds most. A value the schema
/// fixes (`bands` or `band_bits`) is kept.
#[allow(clippy::too_many_arguments)]
fn calibrate(
    encodings: &[Encoding],
    sources: &[u16],
    across: bool,
    possible: f64,
    matches: &[(f64, f64)],
    budget: f64,
    fixed_bands: Option<usize>,
    fixed_bits: Option<usize>,
) -> Bands {
    let n = encodings.len();
    let default = BlockingOptions::default_bands();
    let fallback = |likely_matches| Bands {
        bands: fixed_bands.unwrap_or(default.0),
        band_bits: fixed_bits.unwrap_or(default.1),
        calibrated: false,
        recalibrated: false,
        likely_matches,
        expected_catch: None,
        expected_candidates: None,
        candidate_budget: budget,
    };
    let Some(first) = encodings.first() else {
        return fallback(0);
    };
    let bits = first.bits();
    if matches.len() < MIN_LIKELY_MATCHES || n < 2 {
        return fallback(matches.len());
    }
    // Histogram of agreeing bits among random pairs.
    let mut rng = ChaCha8Rng::seed_from_u64(0xCA11_B4A7);
    let random: Vec<(usize, usize)> = (0..RANDOM_PAIRS)
        .map(|_| (rng.random_range(0..n), rng.random_range(0..n)))
        .filter(|(i, j)| i != j && (!across || sources[*i] != sources[*j]))
        .collect();
    if random.is_empty() {
        return fallback(matches.len());
    }
    let mut histogram = vec![0f64; bits + 1];
    for (i, j) in &random {
        let s = agreement(&encodings[*i], &encodings[*j]);
        histogram[(s * bits as f64).round() as usize] += 1.0;
    }
    let weight = 1.0 / random.len() as f64;
    let total_weight: f64 = matches.iter().map(|(_, w)| w).sum();
    let expected_candidates = |r: usize, b: usize| {
        possible
            * weight
            * histogram
                .iter()
                .enumerate()
                .filter(|(_, h)| **h > 0.0)
                .map(|(k, h)| h * catch(k as f64 / bits as f64, r, b))
                .sum::<f64>()
    };
    let expected_catch = |r: usize, b: usize| {
        matches
            .iter()
            .map(|(s, w)| w * catch(*s, r, b))
            .sum::<f64>()
            / total_weight
    };
    // (catch, candidates, r, b) of the best setting so far.
    let mut best: Option<(f64, f64, usize, usize)> = None;
    let rs: Vec<usize> = match fixed_bits {
        Some(r) => vec![r.min(bits).min(64)],
        None => (8..=64.min(bits)).collect(),
    };
    for r in rs {
        // The most bands within the budget (candidates grow with bands).
        let b = match fixed_bands {
            Some(b) => b,
            None => {
                let (mut lo, mut hi) = (1, MAX_BANDS);
                if expected_candidates(r, lo) > budget {
                    continue;
                }
                while lo < hi {
                    let mid = (lo + hi).div_ceil(2);
                    if expected_candidates(r, mid) <= budget {
                        lo = mid;
                    } else {
                        hi = mid - 1;
                    }
                }
                // No more bands than reach the target (the share found
                // grows with the bands): the fewest that do, if any does.
                if expected_catch(r, lo) < TARGET_CATCH {
                    lo
                } else {
                    let (mut few, mut many) = (1, lo);
                    while few < many {
                        let mid = (few + many) / 2;
                        if expected_catch(r, mid) >= TARGET_CATCH {
                            many = mid;
                        } else {
                            few = mid + 1;
                        }
                    }
                    few
                }
            }
        };
        let found = expected_catch(r, b);
        let cost = expected_candidates(r, b);
        let better = match best {
            None => true,
            Some((c, k, _, _)) => {
                if found >= TARGET_CATCH && c >= TARGET_CATCH {
                    cost < k
                } else {
                    found > c
                }
            }
        };
        if better {
            best = Some((found, cost, r, b));
        }
    }
    match best {
        Some((found, cost, r, b)) => Bands {
            bands: b,
            band_bits: r,
            calibrated: true,
            recalibrated: false,
            likely_matches: matches.len(),
            expected_catch: Some(found),
            expected_candidates: Some(cost),
            candidate_budget: budget,
        },
        None => fallback(matches.len()),
    }
}

/// Bits added to each band for a pool of `n` records when the schema fixes
/// the bands (see `BlockingOptions::grow_with_size`).
pub fn extra_band_bits(n: usize, opts: &BlockingOptions) -> usize {
    if !opts.grow_with_size || n <= 100_000 {
        return 0;
    }
    (n as f64 / 100_000.0).log2().round() as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{any, prop_assert, proptest};

    fn fixed(bands: usize, band_bits: usize) -> BlockingOptions {
        BlockingOptions {
            bands: Some(bands),
            band_bits: Some(band_bits),
            max_bucket: 1000,
            ..BlockingOptions::default()
        }
    }

    #[test]
    fn bands_grow_stricter_with_the_pool() {
        let opts = BlockingOptions::default();
        assert_eq!(extra_band_bits(50_000, &opts), 0);
        assert_eq!(extra_band_bits(100_000, &opts), 0);
        assert_eq!(extra_band_bits(200_000, &opts), 1);
        assert_eq!(extra_band_bits(1_000_000, &opts), 3);
        let fixed = BlockingOptions {
            grow_with_size: false,
            ..opts
        };
        assert_eq!(extra_band_bits(1_000_000, &fixed), 0);
    }

    /// Records as noisy copies of a few hundred random filters: each
    /// person's copies differ in `flips` bits.
    fn world(persons: usize, copies: usize, flips: usize, seed: u64) -> Vec<Encoding> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = Vec::new();
        for _ in 0..persons {
            let base: Vec<u64> = (0..16).map(|_| rng.random()).collect();
            for _ in 0..copies {
                let mut w = base.clone();
                for _ in 0..flips {
                    let bit = rng.random_range(0..1024);
                    w[bit / 64] ^= 1 << (bit % 64);
                }
                out.push(Encoding::from_words(w));
            }
        }
        out
    }

    /// Two keys that the two copies of each person (records 2i, 2i + 1)
    /// share, as blocking keys or only to tell likely matches.
    fn copies_share_keys(n: usize, candidates: bool) -> Vec<KeySource> {
        (0..2)
            .map(|k| KeySource {
                name: format!("k{k}"),
                keys: (0..n).map(|i| Some((i / 2) as u64)).collect(),
                candidates,
            })
            .collect()
    }

    /// Chosen again on matches that disagree more (weighted towards the
    /// hard ones, as the model's matches are after the first pass), the
    /// bands are looser and propose at least as many pairs, within the
    /// budget.
    #[test]
    fn a_sample_of_hard_matches_chooses_looser_bands() {
        let encodings = world(400, 2, 60, 4);
        let n = encodings.len();
        let sources = vec![0u16; n];
        let keys = || copies_share_keys(n, false);
        let opts = BlockingOptions::default();
        let pairs = (n * (n - 1) / 2) as f64;
        let easy = block(&encodings, &sources, &opts, false, pairs, keys(), None);
        let hard: Vec<(f64, f64)> = (0..50).map(|i| (0.75 + 0.002 * i as f64, 1.0)).collect();
        let again = block(
            &encodings,
            &sources,
            &opts,
            false,
            pairs,
            keys(),
            Some(&hard),
        );
        assert!(easy.bands.calibrated && again.bands.calibrated);
        assert!(
            again.bands.band_bits < easy.bands.band_bits,
            "{:?} then {:?}",
            easy.bands,
            again.bands
        );
        assert!(again.pairs.len() >= easy.pairs.len());
        assert!(again.pairs.len() as f64 <= 2.0 * opts.candidates_per_record * n as f64);
    }

    #[test]
    fn calibrated_bands_find_noisy_matches_within_the_budget() {
        // Copies differ in up to 150 of 1024 bits (agreement ≈ 0.86): the
        // default 32-bit bands would miss most of them.
        let encodings = world(400, 2, 150, 3);
        let n = encodings.len();
        let sources = vec![0u16; n];
        // A key every copy of a person shares: the likely matches.
        let keys = || copies_share_keys(n, true);
        let opts = BlockingOptions::default();
        let pairs = (n * (n - 1) / 2) as f64;
        let blocking = block(&encodings, &sources, &opts, false, pairs, keys(), None);
        assert!(blocking.bands.calibrated);
        assert!(blocking.bands.band_bits < 32, "{:?}", blocking.bands);
        assert!(blocking.bands.expected_catch.unwrap_or(0.0) >= 0.99);
        // Without the keys the bands alone find the copies.
        let sources_only = block(
            &encodings,
            &sources,
            &BlockingOptions {
                bands: Some(blocking.bands.bands),
                band_bits: Some(blocking.bands.band_bits),
                ..opts.clone()
            },
            false,
            pairs,
            Vec::new(),
            None,
        );
        let found = (0..n / 2)
            .filter(|p| {
                sources_only
                    .pairs
                    .binary_search(&((2 * p) as u32, (2 * p + 1) as u32))
                    .is_ok()
            })
            .count();
        assert!(found as f64 >= 0.97 * (n / 2) as f64, "{found}");
        assert!(
            (sources_only.pairs.len() as f64) <= 2.0 * opts.candidates_per_record * n as f64,
            "{}",
            sources_only.pairs.len()
        );
        assert!(blocking.found_by_key(0, 1));
        assert!(!blocking.found_by_key(0, 2));
    }

    #[test]
    fn keys_skip_large_buckets_and_pair_across_sources_only() {
        let encodings = world(10, 1, 0, 5);
        let sources: Vec<u16> = (0..10).map(|i| (i % 2) as u16).collect();
        let keys = vec![KeySource {
            name: "k".into(),
            // Records 0–3 share a key, 4–9 share another (too many).
            keys: (0..10).map(|i| Some(u64::from(i >= 4))).collect(),
            candidates: true,
        }];
        let opts = BlockingOptions {
            max_bucket: 4,
            ..fixed(1, 64)
        };
        let b = block(&encodings, &sources, &opts, true, 25.0, keys, None);
        assert_eq!(b.pairs, vec![(0, 1), (0, 3), (1, 2), (2, 3)]);
        assert!(b.found_by_key(0, 1));
        assert!(!b.found_by_key(4, 5));
    }

    proptest! {
        /// Identical encodings always meet; pairs are ordered and unique.
        #[test]
        fn identical_encodings_always_meet(words in proptest::collection::vec(proptest::collection::vec(any::<u64>(), 4), 2..40)) {
            let mut encs: Vec<Encoding> = words.into_iter().map(Encoding::from_words).collect();
            let copy = encs[0].clone();
            encs.push(copy);
            let last = (encs.len() - 1) as u32;
            let sources = vec![0u16; encs.len()];
            let n = encs.len() as f64;
            let b = block(&encs, &sources, &fixed(4, 16), false, n * (n - 1.0) / 2.0, Vec::new(), None);
            prop_assert!(b.pairs.contains(&(0, last)));
            for w in b.pairs.windows(2) {
                prop_assert!(w[0] < w[1]);
            }
            for (i, j) in &b.pairs {
                prop_assert!(i < j);
            }
        }
    }
}
