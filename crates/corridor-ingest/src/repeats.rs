//! Exact repeats of a record within one file: each record's digest and the
//! first row that had it.
//!
//! A file of ten million rows has ten million digests, and a lookup in a
//! table that size waits on memory (and on the page tables) for every row,
//! one row after the other. [`Repeats::first_rows`] takes a block's digests
//! at once: it touches the slots of the next few rows before settling the
//! current one, so that their waits overlap instead of adding up. The table
//! is open addressing with linear probing, a slot being a digest and a row;
//! digests are XXH3 outputs, so their low bits spread evenly on their own.

/// Digest → first row, for every record stored so far.
#[derive(Debug)]
pub struct Repeats {
    slots: Vec<Slot>,
    len: usize,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    digest: u64,
    row: u64,
}

/// A slot that holds nothing (no row is numbered `u64::MAX`).
const EMPTY: Slot = Slot {
    digest: 0,
    row: u64::MAX,
};

/// Rows whose slots are touched ahead of the one being settled.
const AHEAD: usize = 16;

impl Default for Repeats {
    fn default() -> Repeats {
        Repeats::with_slots(1 << 16)
    }
}

impl Repeats {
    /// An empty table of `slots` slots (a power of two) to begin with.
    fn with_slots(slots: usize) -> Repeats {
        Repeats {
            slots: vec![EMPTY; slots.next_power_of_two().max(2)],
            len: 0,
        }
    }

    /// For each `(digest, row)` in file order, the first row stored with
    /// that digest (the row itself if none was): pushed to `first`.
    pub fn first_rows(&mut self, records: &[(u64, u64)], first: &mut Vec<u64>) {
        first.reserve(records.len());
        for (at, chunk) in records.chunks(AHEAD).enumerate() {
            // Keep the table at most three quarters full, so a probe stays
            // short.
            while (self.len + chunk.len()) * 4 > self.slots.len() * 3 {
                self.grow();
            }
            let next = records.get((at + 1) * AHEAD..).unwrap_or(&[]);
            let touched = next.iter().take(AHEAD).fold(0u64, |acc, (digest, _)| {
                acc ^ self.slots[self.home(*digest)].row
            });
            std::hint::black_box(touched);
            for &(digest, row) in chunk {
                first.push(self.first_row(digest, row));
            }
        }
    }

    fn home(&self, digest: u64) -> usize {
        digest as usize & (self.slots.len() - 1)
    }

    fn first_row(&mut self, digest: u64, row: u64) -> u64 {
        let mask = self.slots.len() - 1;
        let mut i = self.home(digest);
        loop {
            let slot = self.slots[i];
            if slot.row == EMPTY.row {
                self.slots[i] = Slot { digest, row };
                self.len += 1;
                return row;
            }
            if slot.digest == digest {
                return slot.row;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let bigger = vec![EMPTY; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, bigger);
        let mask = self.slots.len() - 1;
        for slot in old.into_iter().filter(|s| s.row != EMPTY.row) {
            let mut i = slot.digest as usize & mask;
            while self.slots[i].row != EMPTY.row {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// The same answers as a map from digest to its first row, across
        /// blocks of any size and through the table's growth; digests are
        /// drawn from a small range so that repeats and collisions of home
        /// slots are common.
        #[test]
        fn first_rows_are_those_of_a_map(
            blocks in prop::collection::vec(prop::collection::vec(0u64..5_000, 0..300), 0..40),
            spread in any::<bool>(),
        ) {
            let mut repeats = Repeats::with_slots(8);
            let mut map: HashMap<u64, u64> = HashMap::new();
            let mut row = 1;
            for block in blocks {
                let records: Vec<(u64, u64)> = block
                    .iter()
                    .map(|&d| {
                        row += 1;
                        // Unspread digests share their low bits: long probes.
                        (if spread { d.wrapping_mul(0x9e37_79b9_7f4a_7c15) } else { d << 20 }, row)
                    })
                    .collect();
                let mut first = Vec::new();
                repeats.first_rows(&records, &mut first);
                let expected: Vec<u64> =
                    records.iter().map(|&(d, r)| *map.entry(d).or_insert(r)).collect();
                prop_assert_eq!(first, expected);
            }
            prop_assert_eq!(repeats.len, map.len());
        }
    }

    #[test]
    fn a_digest_of_zero_is_a_digest_like_any_other() {
        let mut repeats = Repeats::default();
        let mut first = Vec::new();
        repeats.first_rows(&[(0, 2), (0, 3), (1, 4)], &mut first);
        assert_eq!(first, vec![2, 2, 4]);
    }
}
