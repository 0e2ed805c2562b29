//! Training the Fellegi–Sunter model in sessions, as Splink does, when at
//! least two details can be blocked on exactly (fields with a filter of
//! their own, or plaintext): u from random pairs (nearly all non-matches),
//! and m by EM inside blocks of pairs that agree exactly on one detail (the
//! same birth-date filter, say).
//!
//! Why not EM on the candidate pairs: LSH proposes pairs that look alike on
//! everything, and EM there settles on whatever latent class explains the
//! look-alikes best (same place of birth and citizenship), not on "the same
//! person". Inside a block on one detail, only the other details are
//! compared, and the blocked one is left out. u starts from random pairs and
//! is re-estimated inside the block: keeping it fixed (Splink's choice)
//! made EM call every pair a match on large files, because some details go
//! together among non-matches too (a place of birth salted by birth year
//! agrees far more often among people born on the same day than among
//! random pairs). Each comparison's m comes from the sessions that did not
//! block on it; the prior over all pairs from how many matches each session
//! found, divided by the share of matches that agree exactly on its
//! blocking detail.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::model::{Comparator, Model, em, initial_m};
use crate::pool::Pool;

/// A detail whose exact blocks hold more pairs than this per record is too
/// common to train on: its blocks are mostly look-alikes, and EM there
/// learns them rather than matches (a place of birth, say). Leaving such
/// sessions out raises F1 on the generator's case records; the figures are
/// in bench/RESULTS.md.
pub const MAX_BLOCK_PAIRS_PER_RECORD: f64 = 50.0;

/// One training session, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    /// The comparison whose detail was equal in every pair.
    pub blocked_on: String,
    /// Pairs inside the blocks.
    pub pairs_in_blocks: f64,
    /// Pairs EM saw (all of them, or a uniform sample).
    pub pairs_trained: usize,
    /// Share of matches among the pairs inside the blocks.
    pub lambda: f64,
    /// Matches in the whole pool this session implies.
    pub matches_implied: f64,
    pub em_iterations: usize,
    /// Whether its m and prior were used: not when its blocks were too
    /// large to train on ([`MAX_BLOCK_PAIRS_PER_RECORD`]; then nothing was
    /// trained) or when it called nearly every pair a match.
    pub used: bool,
}

/// Trains m and the prior λ over `possible` pairs; no model when fewer
/// than two sessions were usable (then EM on the candidates is all there
/// is), with the sessions run either way. With `across`, only pairs from
/// different sources count.
pub fn train(
    pool: &Pool,
    comparator: &Comparator,
    keyed: &[(usize, Vec<Option<u64>>)],
    u: &[Vec<f64>],
    possible: f64,
    across: bool,
    max_pairs: usize,
) -> (Option<Model>, Vec<Session>) {
    if keyed.len() < 2 || possible <= 0.0 {
        return (None, Vec::new());
    }
    let comparisons = &comparator.comparisons;
    let mut sessions = Vec::new();
    let mut m_sum: Vec<Vec<f64>> = comparisons
        .iter()
        .map(|c| vec![0.0; c.levels.len()])
        .collect();
    let mut m_n = vec![0usize; comparisons.len()];
    let mut trained = Vec::new();
    for (c, keys) in keyed {
        let too_many = MAX_BLOCK_PAIRS_PER_RECORD * pool.len() as f64;
        let pairs = block_pairs(keys, &pool.sources, across, max_pairs, too_many);
        let mut session = Session {
            blocked_on: comparisons[*c].name.clone(),
            pairs_in_blocks: pairs.total,
            pairs_trained: pairs.sampled.len(),
            lambda: 0.0,
            matches_implied: 0.0,
            em_iterations: 0,
            used: false,
        };
        if pairs.total > too_many {
            sessions.push(session);
            continue;
        }
        if pairs.sampled.is_empty() {
            continue;
        }
        let patterns = crate::count_patterns(pool, comparator, &pairs.sampled);
        let (m, _, lambda, iterations) =
            em(&patterns, initial_m(comparisons), u.to_vec(), 0.1, Some(*c));
        // A session that calls (nearly) every pair a match learnt nothing
        // about matches: the blocking detail goes with others among
        // non-matches too (a place of birth salted by birth year, with
        // citizenship), so the other details are not random inside it.
        let used = lambda < 0.9;
        session.lambda = lambda;
        session.em_iterations = iterations;
        session.used = used;
        sessions.push(session);
        if !used {
            continue;
        }
        for (k, levels) in m.iter().enumerate() {
            if k != *c {
                for (s, x) in m_sum[k].iter_mut().zip(levels) {
                    *s += x;
                }
                m_n[k] += 1;
            }
        }
        trained.push((*c, lambda, pairs.total, sessions.len() - 1));
    }
    if trained.len() < 2 {
        return (None, sessions);
    }
    let m: Vec<Vec<f64>> = m_sum
        .iter()
        .zip(&m_n)
        .zip(initial_m(comparisons))
        .map(|((sum, n), fallback)| {
            if *n == 0 {
                fallback
            } else {
                sum.iter().map(|x| x / *n as f64).collect()
            }
        })
        .collect();
    // Matches the pool holds, by each session: matches found in its blocks
    // over the share of matches whose blocking detail agrees exactly. (A
    // deterministic rule, as Splink counts it, was tried: pairs agreeing on
    // two details are not all matches in a world of common names, so it
    // over-counts matches.)
    let mut implied: Vec<f64> = Vec::new();
    for (c, lambda, total, session) in &trained {
        let agree = m[*c][0].max(1e-3);
        sessions[*session].matches_implied = lambda * total / agree;
        implied.push(sessions[*session].matches_implied);
    }
    implied.sort_by(f64::total_cmp);
    let matches = implied[(implied.len() - 1) / 2];
    let lambda = (matches / possible).clamp(1e-12, 0.5);
    let model = Model {
        comparisons: comparisons.clone(),
        m,
        u: u.to_vec(),
        lambda,
        em_iterations: sessions.iter().map(|s| s.em_iterations).sum(),
        training: sessions.clone(),
    };
    (Some(model), sessions)
}

struct BlockPairs {
    /// Pairs inside blocks in all.
    total: f64,
    /// All of them, or `max_pairs` drawn uniformly.
    sampled: Vec<(u32, u32)>,
}

/// Pairs of records with the same key; only their count when there are
/// more than `max_total` (a detail too common to train on).
fn block_pairs(
    keys: &[Option<u64>],
    sources: &[u16],
    across: bool,
    max_pairs: usize,
    max_total: f64,
) -> BlockPairs {
    let mut blocks: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
    for (i, k) in keys.iter().enumerate() {
        if let Some(k) = k {
            blocks.entry(*k).or_default().push(i as u32);
        }
    }
    let mut blocks: Vec<Vec<u32>> = blocks.into_values().filter(|b| b.len() > 1).collect();
    blocks.sort_unstable();
    let size = |b: &Vec<u32>| (b.len() * (b.len() - 1) / 2) as f64;
    let total: f64 = blocks.iter().map(size).sum();
    let keep = |i: u32, j: u32| !across || sources[i as usize] != sources[j as usize];
    let mut sampled = Vec::new();
    if total > max_total {
        return BlockPairs { total, sampled };
    }
    if total <= max_pairs as f64 {
        for b in &blocks {
            for (x, i) in b.iter().enumerate() {
                for j in &b[x + 1..] {
                    if keep(*i, *j) {
                        sampled.push((*i, *j));
                    }
                }
            }
        }
    } else {
        // Uniform over pairs: a block in proportion to its pairs, then two
        // of its records.
        let mut cumulative = Vec::with_capacity(blocks.len());
        let mut acc = 0.0;
        for b in &blocks {
            acc += size(b);
            cumulative.push(acc);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(0x7EA1_2025);
        let mut tries = 0;
        while sampled.len() < max_pairs && tries < 4 * max_pairs {
            tries += 1;
            let at = rng.random_range(0.0..acc);
            let b = &blocks[cumulative
                .partition_point(|c| *c <= at)
                .min(blocks.len() - 1)];
            let x = rng.random_range(0..b.len());
            let y = rng.random_range(0..b.len() - 1);
            let y = if y >= x { y + 1 } else { y };
            if keep(b[x], b[y]) {
                sampled.push((b[x].min(b[y]), b[x].max(b[y])));
            }
        }
    }
    BlockPairs { total, sampled }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every pair shares its key, is ordered, and all pairs are found
        /// when there are few enough.
        #[test]
        fn pairs_share_their_key(keys in proptest::collection::vec(proptest::option::of(0u64..5), 0..60)) {
            let sources = vec![0u16; keys.len()];
            let all = block_pairs(&keys, &sources, false, usize::MAX, f64::INFINITY);
            let mut expected = 0usize;
            for i in 0..keys.len() {
                for j in i + 1..keys.len() {
                    if keys[i].is_some() && keys[i] == keys[j] {
                        expected += 1;
                    }
                }
            }
            prop_assert_eq!(all.sampled.len(), expected);
            prop_assert_eq!(all.total as usize, expected);
            // Too many to train on: counted, none drawn.
            if expected > 0 {
                let counted = block_pairs(&keys, &sources, false, usize::MAX, expected as f64 - 0.5);
                prop_assert_eq!(counted.total as usize, expected);
                prop_assert!(counted.sampled.is_empty());
            }
            let some = block_pairs(&keys, &sources, false, 10, f64::INFINITY);
            prop_assert!(some.sampled.len() <= expected.max(10));
            for (i, j) in some.sampled.iter().chain(&all.sampled) {
                prop_assert!(i < j);
                prop_assert!(keys[*i as usize].is_some());
                prop_assert_eq!(keys[*i as usize], keys[*j as usize]);
            }
        }
    }
}
