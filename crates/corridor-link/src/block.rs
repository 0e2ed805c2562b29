//! Blocking by locality-sensitive hashing on the encodings (Hamming LSH):
//! each band samples a fixed set of bit positions; records whose sampled
//! bits all agree share a bucket and become candidate pairs. Two encodings
//! agreeing on a share s of their bits meet in a band with probability
//! s^band_bits, so near-duplicates meet in some band almost surely while
//! unrelated records rarely do.

use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::bloom::Encoding;
use crate::schema::BlockingOptions;

/// Candidate pairs (i < j), sorted and without repeats. With `across`
/// given, only pairs from different sources are kept (linking two files).
pub fn candidate_pairs(
    encodings: &[Encoding],
    sources: &[u16],
    opts: &BlockingOptions,
    across: bool,
) -> Vec<(u32, u32)> {
    let Some(first) = encodings.first() else {
        return Vec::new();
    };
    let bits = first.bits();
    let r = (opts.band_bits + extra_band_bits(encodings.len(), opts))
        .min(64)
        .min(bits);
    let mut pairs: Vec<u64> = (0..opts.bands)
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
            let mut start = 0;
            while start < keys.len() {
                let mut end = start + 1;
                while end < keys.len() && keys[end].0 == keys[start].0 {
                    end += 1;
                }
                let size = end - start;
                if size >= 2 && size <= opts.max_bucket {
                    for a in start..end {
                        for b in a + 1..end {
                            let (i, j) = (keys[a].1, keys[b].1);
                            if across && sources[i as usize] == sources[j as usize] {
                                continue;
                            }
                            let (i, j) = if i < j { (i, j) } else { (j, i) };
                            out.push(u64::from(i) << 32 | u64::from(j));
                        }
                    }
                }
                start = end;
            }
            out.sort_unstable();
            out.dedup();
            out
        })
        .collect();
    pairs.par_sort_unstable();
    pairs.dedup();
    pairs
        .into_iter()
        .map(|p| ((p >> 32) as u32, p as u32))
        .collect()
}

/// Bits added to each band for a pool of `n` records (see
/// `BlockingOptions::grow_with_size`).
pub fn extra_band_bits(n: usize, opts: &BlockingOptions) -> usize {
    if !opts.grow_with_size || n <= 100_000 {
        return 0;
    }
    (n as f64 / 100_000.0).log2().round() as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    proptest! {
        /// Identical encodings always meet; pairs are ordered and unique.
        #[test]
        fn identical_encodings_always_meet(words in proptest::collection::vec(proptest::collection::vec(any::<u64>(), 4), 2..40)) {
            let mut encs: Vec<Encoding> = words.into_iter().map(Encoding::from_words).collect();
            let copy = encs[0].clone();
            encs.push(copy);
            let last = (encs.len() - 1) as u32;
            let sources = vec![0u16; encs.len()];
            let opts = BlockingOptions { bands: 4, band_bits: 16, max_bucket: 1000, grow_with_size: true };
            let pairs = candidate_pairs(&encs, &sources, &opts, false);
            prop_assert!(pairs.contains(&(0, last)));
            for w in pairs.windows(2) {
                prop_assert!(w[0] < w[1]);
            }
            for (i, j) in &pairs {
                prop_assert!(i < j);
            }
        }
    }
}
