//! Counts of attribute combinations: every set of up to L (column, value)
//! pairs that some record holds, and how many records hold it.
//!
//! A combination is packed into a `u128`: up to five 25-bit items, each a
//! column (7 bits) and a value code + 1 (18 bits), in column order. Each
//! column subset is counted in one pass over its columns, into a dense array
//! when the product of the columns' sizes is small and a hash map otherwise;
//! subsets are counted in parallel.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::table::{EMPTY, Table};

pub const MAX_LENGTH: usize = 5;
pub const MAX_COLUMNS: usize = 127;
pub const MAX_VALUES: usize = (1 << 18) - 2;
const ITEM_BITS: u32 = 25;
const DENSE_LIMIT: u64 = 1 << 22;

pub type Combo = u128;

/// One column subset's result: its length, the kept combinations, and how
/// many were distinct and rare.
type SubsetCounts = (usize, Vec<(Combo, u32)>, u64, u64);

pub fn item(column: usize, value: u32) -> u128 {
    ((column as u128) << 18) | (u128::from(value) + 1)
}

/// Packs items already in column order.
pub fn pack(items: &[u128]) -> Combo {
    items
        .iter()
        .enumerate()
        .fold(0, |acc, (k, it)| acc | it << (ITEM_BITS * k as u32))
}

/// The (column, value) pairs of a combination.
pub fn unpack(c: Combo) -> Vec<(usize, u32)> {
    let mut out = Vec::new();
    let mut c = c;
    while c != 0 {
        let it = c & ((1 << ITEM_BITS) - 1);
        out.push(((it >> 18) as usize, ((it & ((1 << 18) - 1)) - 1) as u32));
        c >>= ITEM_BITS;
    }
    out
}

pub fn length(c: Combo) -> usize {
    let mut n = 0;
    let mut c = c;
    while c != 0 {
        n += 1;
        c >>= ITEM_BITS;
    }
    n
}

/// All column subsets of size 1..=max_len, in lexicographic order.
pub fn column_subsets(width: usize, max_len: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    fn grow(
        start: usize,
        width: usize,
        max_len: usize,
        cur: &mut Vec<usize>,
        out: &mut Vec<Vec<usize>>,
    ) {
        for c in start..width {
            cur.push(c);
            out.push(cur.clone());
            if cur.len() < max_len {
                grow(c + 1, width, max_len, cur, out);
            }
            cur.pop();
        }
    }
    grow(0, width, max_len, &mut Vec::new(), &mut out);
    out
}

/// Per length: distinct combinations, and how many of them are rare
/// (fewer than k records).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LengthStats {
    pub length: usize,
    pub distinct: u64,
    pub rare: u64,
}

pub struct Counts {
    /// Combinations held by at least `min_count` records.
    pub map: FxHashMap<Combo, u32>,
    pub by_length: Vec<LengthStats>,
}

/// Counts every combination of up to `max_len` attributes; keeps those
/// with at least `min_count` records (`min_count` 1 keeps all) and counts
/// per length how many are rare (fewer than `k` records).
pub fn count(table: &Table, max_len: usize, min_count: u32, k: u32) -> Counts {
    count_keeping(table, max_len, k, |_, n| n >= min_count)
}

/// As [`count`], keeping the combinations `keep` accepts.
pub fn count_keeping(
    table: &Table,
    max_len: usize,
    k: u32,
    keep: impl Fn(Combo, u32) -> bool + Sync,
) -> Counts {
    let max_len = max_len.clamp(1, MAX_LENGTH);
    let subsets = column_subsets(table.width(), max_len);
    let results: Vec<SubsetCounts> = subsets
        .par_iter()
        .map(|cols| {
            let (kept, distinct, rare) = count_subset(table, cols, k, &keep);
            (cols.len(), kept, distinct, rare)
        })
        .collect();
    let total: usize = results.iter().map(|r| r.1.len()).sum();
    let mut map = FxHashMap::with_capacity_and_hasher(total, Default::default());
    let mut by_length: Vec<LengthStats> = (1..=max_len)
        .map(|length| LengthStats {
            length,
            ..LengthStats::default()
        })
        .collect();
    for (len, kept, distinct, rare) in results {
        by_length[len - 1].distinct += distinct;
        by_length[len - 1].rare += rare;
        map.extend(kept);
    }
    Counts { map, by_length }
}

fn count_subset(
    table: &Table,
    cols: &[usize],
    k: u32,
    keep: &(impl Fn(Combo, u32) -> bool + Sync),
) -> (Vec<(Combo, u32)>, u64, u64) {
    let sizes: Vec<u64> = cols.iter().map(|c| table.values[*c].len() as u64).collect();
    let product = sizes
        .iter()
        .try_fold(1u64, |a, s| a.checked_mul((*s).max(1)));
    let rows = table.rows();
    let columns: Vec<&[u32]> = cols.iter().map(|c| table.codes[*c].as_slice()).collect();
    let combo_of = |r: usize| -> Option<Combo> {
        let mut items = [0u128; MAX_LENGTH];
        for (k, col) in columns.iter().enumerate() {
            let v = col[r];
            if v == EMPTY {
                return None;
            }
            items[k] = item(cols[k], v);
        }
        Some(pack(&items[..cols.len()]))
    };
    let mut kept = Vec::new();
    let (mut distinct, mut rare) = (0u64, 0u64);
    let mut emit = |combo: Combo, n: u32| {
        distinct += 1;
        if n < k {
            rare += 1;
        }
        if keep(combo, n) {
            kept.push((combo, n));
        }
    };
    match product {
        Some(p) if p <= DENSE_LIMIT => {
            let mut dense = vec![0u32; p as usize];
            'rows: for r in 0..rows {
                let mut idx = 0u64;
                for (k, col) in columns.iter().enumerate() {
                    let v = col[r];
                    if v == EMPTY {
                        continue 'rows;
                    }
                    idx = idx * sizes[k] + u64::from(v);
                }
                dense[idx as usize] += 1;
            }
            for (idx, n) in dense.iter().enumerate() {
                if *n == 0 {
                    continue;
                }
                let mut rest = idx as u64;
                let mut items = [0u128; MAX_LENGTH];
                for k in (0..cols.len()).rev() {
                    items[k] = item(cols[k], (rest % sizes[k]) as u32);
                    rest /= sizes[k];
                }
                emit(pack(&items[..cols.len()]), *n);
            }
        }
        _ => {
            let mut map: FxHashMap<Combo, u32> = FxHashMap::default();
            for r in 0..rows {
                if let Some(c) = combo_of(r) {
                    *map.entry(c).or_default() += 1;
                }
            }
            for (c, n) in map {
                emit(c, n);
            }
        }
    }
    (kept, distinct, rare)
}

/// A combination as text: `column:value;column:value`.
pub fn describe(table: &Table, c: Combo) -> String {
    unpack(c)
        .iter()
        .map(|(col, v)| {
            format!(
                "{}:{}",
                table.columns[*col], table.values[*col][*v as usize]
            )
        })
        .collect::<Vec<_>>()
        .join(";")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn packs_and_counts() {
        let c = pack(&[item(0, 3), item(4, 0), item(126, 200_000)]);
        assert_eq!(unpack(c), vec![(0, 3), (4, 0), (126, 200_000)]);
        assert_eq!(length(c), 3);
        assert_eq!(column_subsets(4, 2).len(), 4 + 6);
        assert_eq!(column_subsets(10, 4).len(), 10 + 45 + 120 + 210);
    }

    proptest! {
        /// Counts equal a brute-force count of every record's subsets.
        #[test]
        fn counts_match_brute_force(rows in proptest::collection::vec(proptest::collection::vec(0u32..4, 4), 1..60), empties in proptest::collection::vec((0usize..60, 0usize..4), 0..20)) {
            let mut codes: Vec<Vec<u32>> = (0..4).map(|c| rows.iter().map(|r| r[c]).collect()).collect();
            for (r, c) in empties {
                if r < rows.len() { codes[c][r] = EMPTY; }
            }
            let t = Table {
                columns: (0..4).map(|c| format!("c{c}")).collect(),
                values: (0..4).map(|_| (0..4).map(|v| v.to_string()).collect()).collect(),
                codes,
            };
            let counts = count(&t, 3, 1, 2);
            let mut brute: std::collections::HashMap<Combo, u32> = Default::default();
            for r in 0..t.rows() {
                for cols in column_subsets(4, 3) {
                    if cols.iter().any(|c| t.codes[*c][r] == EMPTY) { continue; }
                    let items: Vec<u128> = cols.iter().map(|c| item(*c, t.codes[*c][r])).collect();
                    *brute.entry(pack(&items)).or_default() += 1;
                }
            }
            prop_assert_eq!(counts.map.len(), brute.len());
            for (c, n) in &brute {
                prop_assert_eq!(counts.map.get(c), Some(n));
            }
            let rare: u64 = counts.by_length.iter().map(|l| l.rare).sum();
            prop_assert_eq!(rare, brute.values().filter(|n| **n < 2).count() as u64);
        }
    }
}
