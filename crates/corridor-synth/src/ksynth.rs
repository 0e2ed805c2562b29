//! k-synthetic data (Edge et al. 2020, the method behind CTDC's published
//! synthetic data): publish only combinations of up to L attributes that at
//! least k records hold, and synthetic records made only of such
//! combinations.
//!
//! Synthesis is row-seeded: each sensitive record seeds one synthetic
//! record; its attributes are visited in random order and one is kept only
//! if, together with every subset of up to L−1 attributes already kept, it
//! forms a combination held by at least k sensitive records. Hence every
//! combination of up to L attributes of every synthetic record occurs at
//! least k times in the sensitive data: nothing rare is ever published and
//! nothing is fabricated. Attributes that cannot be kept are left empty
//! (suppressed).
//!
//! Blanking lowers the single-attribute counts, so then (`keep_counts`, as
//! the Synthetic Data Showcase does) records are added, seeded from the
//! published single-attribute aggregates: each starts from the value whose
//! synthetic count falls furthest short of its published count, and takes,
//! attribute by attribute, the value most short that still keeps every
//! combination of up to L of its attributes reportable. The guarantee holds
//! for them too, and they read only what is published.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::combos::{self, Combo, Counts, MAX_LENGTH, item, pack};
use crate::table::{EMPTY, Table};

#[derive(Debug, Clone, serde::Serialize)]
pub struct KOptions {
    /// Smallest number of sensitive records behind anything published.
    pub k: u32,
    /// Longest combination counted and protected (L).
    pub length: usize,
    /// Published aggregate counts are rounded down to a multiple of this.
    pub resolution: u32,
    pub seed: u64,
    /// Add records seeded from the published single-attribute counts until
    /// each value's synthetic count reaches its published count (see the
    /// module's docs); otherwise the synthetic records are one per
    /// sensitive record.
    pub keep_counts: bool,
}

impl Default for KOptions {
    fn default() -> Self {
        KOptions {
            k: 10,
            length: 4,
            resolution: 10,
            seed: 1,
            keep_counts: true,
        }
    }
}

pub struct KSynthetic {
    pub synthetic: Table,
    /// Reportable combinations (count ≥ k) with their published count
    /// (rounded down to the resolution), sorted by length then text.
    pub aggregates: Vec<(Combo, u32)>,
    /// The sensitive counts the synthesis used (count ≥ k only).
    pub sensitive: Counts,
}

/// Publishes the aggregates and synthesises records.
pub fn synthesize(table: &Table, opts: &KOptions) -> KSynthetic {
    let length = opts.length.clamp(1, MAX_LENGTH);
    let sensitive = combos::count(table, length, opts.k.max(1), opts.k.max(1));
    let resolution = opts.resolution.max(1);
    let mut aggregates: Vec<(Combo, u32)> = sensitive
        .map
        .iter()
        .map(|(c, n)| (*c, n / resolution * resolution))
        .filter(|(_, n)| *n > 0)
        .collect();
    aggregates.sort_by_key(|(c, _)| (combos::length(*c), *c));
    let mut codes = seeded_rows(table, &sensitive.map, length, opts.seed);
    if opts.keep_counts {
        top_up(&mut codes, &aggregates, &sensitive.map, length);
    }
    KSynthetic {
        synthetic: table.with_codes(codes),
        aggregates,
        sensitive,
    }
}

const CHUNK: usize = 4096;

fn seeded_rows(
    table: &Table,
    reportable: &FxHashMap<Combo, u32>,
    length: usize,
    seed: u64,
) -> Vec<Vec<u32>> {
    let width = table.width();
    let rows = table.rows();
    let chunks: Vec<Vec<Vec<u32>>> = (0..rows.div_ceil(CHUNK))
        .into_par_iter()
        .map(|chunk| {
            let mut rng = ChaCha8Rng::seed_from_u64(
                seed ^ (chunk as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            let mut out = Vec::new();
            let mut attrs: Vec<usize> = Vec::with_capacity(width);
            let mut kept: Vec<usize> = Vec::with_capacity(width);
            for r in chunk * CHUNK..((chunk + 1) * CHUNK).min(rows) {
                attrs.clear();
                attrs.extend((0..width).filter(|c| table.codes[*c][r] != EMPTY));
                attrs.shuffle(&mut rng);
                kept.clear();
                let mut row = vec![EMPTY; width];
                for &a in &attrs {
                    if fits(table, r, &kept, a, length, reportable) {
                        kept.push(a);
                        row[a] = table.codes[a][r];
                    }
                }
                out.push(row);
            }
            out
        })
        .collect();
    let mut codes = vec![Vec::with_capacity(rows); width];
    for row in chunks.into_iter().flatten() {
        for (c, v) in row.into_iter().enumerate() {
            codes[c].push(v);
        }
    }
    codes
}

/// Whether attribute `a` of row `r` can join `kept`: every subset of up to
/// `length − 1` kept attributes plus `a` must be reportable.
fn fits(
    table: &Table,
    r: usize,
    kept: &[usize],
    a: usize,
    length: usize,
    reportable: &FxHashMap<Combo, u32>,
) -> bool {
    fits_values(&|c| table.codes[c][r], kept, a, length, reportable)
}

/// [`fits`] for any row, its values given by `value(column)`.
fn fits_values(
    value: &dyn Fn(usize) -> u32,
    kept: &[usize],
    a: usize,
    length: usize,
    reportable: &FxHashMap<Combo, u32>,
) -> bool {
    fn walk(
        value: &dyn Fn(usize) -> u32,
        kept: &[usize],
        a: usize,
        start: usize,
        room: usize,
        chosen: &mut Vec<usize>,
        reportable: &FxHashMap<Combo, u32>,
    ) -> bool {
        let mut cols: Vec<usize> = chosen.clone();
        cols.push(a);
        cols.sort_unstable();
        let items: Vec<u128> = cols.iter().map(|c| item(*c, value(*c))).collect();
        if !reportable.contains_key(&pack(&items)) {
            return false;
        }
        if room == 0 {
            return true;
        }
        for i in start..kept.len() {
            chosen.push(kept[i]);
            let ok = walk(value, kept, a, i + 1, room - 1, chosen, reportable);
            chosen.pop();
            if !ok {
                return false;
            }
        }
        true
    }
    let mut chosen: Vec<usize> = Vec::with_capacity(length);
    walk(value, kept, a, 0, length - 1, &mut chosen, reportable)
}

/// Adds records until every value's synthetic count reaches its published
/// single-attribute count, or no value still short can start a record.
fn top_up(
    codes: &mut [Vec<u32>],
    aggregates: &[(Combo, u32)],
    reportable: &FxHashMap<Combo, u32>,
    length: usize,
) {
    let width = codes.len();
    // Per column, each value's shortfall (published − synthetic).
    let mut short: Vec<FxHashMap<u32, i64>> = vec![FxHashMap::default(); width];
    for (combo, n) in aggregates {
        if combos::length(*combo) == 1 {
            let (c, v) = combos::unpack(*combo)[0];
            short[c].insert(v, i64::from(*n));
        }
    }
    for (c, column) in codes.iter().enumerate() {
        for v in column {
            if let Some(s) = short[c].get_mut(v) {
                *s -= 1;
            }
        }
    }
    // Values short, most short first (ties by column and value).
    let mut order: Vec<(usize, u32)> = Vec::new();
    // Each added record lowers some shortfall, so their sum bounds them.
    let limit = codes.first().map_or(0, Vec::len) * width;
    let mut added = 0;
    while added < limit {
        order.clear();
        for (c, values) in short.iter().enumerate() {
            order.extend(values.iter().filter(|(_, s)| **s > 0).map(|(v, _)| (c, *v)));
        }
        if order.is_empty() {
            break;
        }
        order.sort_by(|x, y| short[y.0][&y.1].cmp(&short[x.0][&x.1]).then(x.cmp(y)));
        // A published one-way count is reportable, so the value most short
        // can always start a record alone: each round lowers a shortfall.
        let (c0, v0) = order[0];
        let mut row = vec![EMPTY; width];
        row[c0] = v0;
        let mut kept = vec![c0];
        for &(c, v) in &order[1..] {
            if row[c] != EMPTY {
                continue;
            }
            let value = |col: usize| if col == c { v } else { row[col] };
            if fits_values(&value, &kept, c, length, reportable) {
                row[c] = v;
                kept.push(c);
            }
        }
        // Copies of the row while every value in it stays short: half the
        // smallest shortfall, so that the next rows can mix other values.
        let smallest = row
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != EMPTY)
            .filter_map(|(c, v)| short[c].get(v).copied())
            .min()
            .unwrap_or(1);
        let copies = usize::try_from((smallest + 1) / 2)
            .unwrap_or(1)
            .clamp(1, limit - added);
        for (c, v) in row.iter().enumerate() {
            if *v != EMPTY
                && let Some(s) = short[c].get_mut(v)
            {
                *s -= copies as i64;
            }
            codes[c].extend(std::iter::repeat_n(*v, copies));
        }
        added += copies;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(rows: &[Vec<u32>], width: usize) -> Table {
        Table {
            columns: (0..width).map(|c| format!("c{c}")).collect(),
            values: (0..width)
                .map(|_| (0..6).map(|v| format!("v{v}")).collect())
                .collect(),
            codes: (0..width)
                .map(|c| rows.iter().map(|r| r[c]).collect())
                .collect(),
        }
    }

    proptest! {
        /// The guarantee: every combination of up to L attributes of the
        /// synthetic data is held by at least k sensitive records.
        #[test]
        fn nothing_rare_is_published(rows in proptest::collection::vec(proptest::collection::vec(0u32..3, 5), 20..200), k in 2u32..6, length in 1usize..4) {
            let t = table(&rows, 5);
            let out = synthesize(&t, &KOptions { k, length, resolution: 1, seed: 3, keep_counts: true });
            prop_assert!(out.synthetic.rows() >= t.rows());
            let sensitive = combos::count(&t, length, 1, k);
            let synthetic = combos::count(&out.synthetic, length, 1, k);
            for c in synthetic.map.keys() {
                let n = sensitive.map.get(c).copied().unwrap_or(0);
                prop_assert!(n >= k, "combination {:?} held by {} < k sensitive records", combos::unpack(*c), n);
            }
            for (c, n) in &out.aggregates {
                prop_assert!(*n >= k && sensitive.map[c] >= *n);
            }
        }
    }

    #[test]
    fn common_records_survive_whole() {
        // 50 identical common records and one rare one.
        let mut rows = vec![vec![0, 1, 2]; 50];
        rows.push(vec![3, 4, 5]);
        let out = synthesize(
            &table(&rows, 3),
            &KOptions {
                k: 10,
                length: 3,
                resolution: 10,
                seed: 1,
                keep_counts: true,
            },
        );
        assert_eq!(out.synthetic.rows(), 51, "nothing short: no record added");
        for r in 0..50 {
            assert_eq!(
                (0..3)
                    .map(|c| out.synthetic.codes[c][r])
                    .collect::<Vec<_>>(),
                vec![0, 1, 2]
            );
        }
        assert!((0..3).all(|c| out.synthetic.codes[c][50] == EMPTY));
        assert!(out.aggregates.iter().all(|(_, n)| *n == 50));
    }

    proptest! {
        /// With records added, every value's synthetic count reaches its
        /// published count (the aggregates are exact at resolution 1), and
        /// the guarantee still holds.
        #[test]
        fn single_attribute_counts_are_kept(rows in proptest::collection::vec(proptest::collection::vec(0u32..4, 4), 30..300), k in 2u32..5) {
            let t = table(&rows, 4);
            let out = synthesize(&t, &KOptions { k, length: 3, resolution: 1, seed: 5, keep_counts: true });
            let synthetic = combos::count(&out.synthetic, 1, 1, 1);
            for (c, n) in out.aggregates.iter().filter(|(c, _)| combos::length(*c) == 1) {
                let got = synthetic.map.get(c).copied().unwrap_or(0);
                prop_assert!(got >= *n, "{:?}: {} synthetic, {} published", combos::unpack(*c), got, n);
            }
            let sensitive = combos::count(&t, 3, 1, k);
            for c in combos::count(&out.synthetic, 3, 1, k).map.keys() {
                prop_assert!(sensitive.map.get(c).copied().unwrap_or(0) >= k);
            }
        }
    }
}
