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
//!
//! The table grows to a fixed size and no further, so that memory does not
//! grow with the file. Once it is full, a row whose digest it does not hold
//! is stored for now and its digest spilled to a temporary file; at the end
//! of the file, [`Repeats::late_repeats`] finds the repeats among the
//! spilled rows (a Grace hash join of the spill with itself: partitions
//! small enough for memory, each read in row order) and gives them back in
//! row order, for the caller to withdraw and quarantine. A file that fits
//! in the table, as nearly all do, never spills.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Digest → first row, for every record stored so far.
#[derive(Debug)]
pub struct Repeats {
    slots: Vec<Slot>,
    len: usize,
    /// The table grows to this many slots and no further.
    max_slots: usize,
    /// Spilled digests per partition when finding late repeats.
    partition_rows: u64,
    /// Rows whose digest the full table could not take, in row order.
    spill: Option<Spill>,
    /// Where spill files go (the system's temporary folder if `None`).
    dir: Option<PathBuf>,
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

/// 2^24 slots of 16 bytes: 256 MiB, room for 12.5 million distinct records.
const MAX_SLOTS: usize = 1 << 24;

/// Spilled rows per partition: a partition's table stays under 128 MiB.
const PARTITION_ROWS: u64 = 1 << 22;

/// A temporary file of (digest, row) pairs, 16 bytes each.
#[derive(Debug)]
struct Spill {
    out: BufWriter<File>,
    rows: u64,
}

impl Spill {
    /// An unnamed file (gone when closed, even by a killed process).
    fn new(dir: Option<&Path>) -> io::Result<Spill> {
        let file = match dir {
            Some(dir) => tempfile::tempfile_in(dir)?,
            None => tempfile::tempfile()?,
        };
        Ok(Spill {
            out: BufWriter::with_capacity(1 << 16, file),
            rows: 0,
        })
    }

    fn push(&mut self, a: u64, b: u64) -> io::Result<()> {
        self.rows += 1;
        self.out.write_all(&a.to_le_bytes())?;
        self.out.write_all(&b.to_le_bytes())
    }

    /// The file, flushed.
    fn into_file(self) -> io::Result<File> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

/// The pairs a [`Spill`] wrote, read from the start of its file.
struct Pairs(BufReader<File>);

impl Pairs {
    fn of(file: &File) -> io::Result<Pairs> {
        let mut file = file.try_clone()?;
        file.seek(SeekFrom::Start(0))?;
        Ok(Pairs(BufReader::with_capacity(1 << 16, file)))
    }
}

impl Iterator for Pairs {
    type Item = io::Result<(u64, u64)>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut pair = [0u8; 16];
        match self.0.read_exact(&mut pair) {
            Ok(()) => {
                let (a, b) = pair.split_at(8);
                let word = |w: &[u8]| u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
                Some(Ok((word(a), word(b))))
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => None,
            Err(e) => Some(Err(e)),
        }
    }
}

impl Repeats {
    /// An empty table of `slots` slots to begin with, growing to
    /// `max_slots` (both rounded up to powers of two).
    pub(crate) fn bounded(
        slots: usize,
        max_slots: usize,
        partition_rows: u64,
        dir: Option<&Path>,
    ) -> Repeats {
        Repeats {
            slots: vec![EMPTY; slots.next_power_of_two().max(2)],
            len: 0,
            max_slots: max_slots.next_power_of_two().max(2),
            partition_rows: partition_rows.max(1),
            spill: None,
            dir: dir.map(Path::to_path_buf),
        }
    }

    /// The table intake uses, spilling to `dir` once full.
    pub fn spilling_to(dir: Option<&Path>) -> Repeats {
        Repeats::bounded(1 << 16, MAX_SLOTS, PARTITION_ROWS, dir)
    }

    /// A table that grows as far as it needs to.
    fn unbounded() -> Repeats {
        Repeats::bounded(1 << 16, usize::MAX / 2, u64::MAX, None)
    }

    /// For each `(digest, row)` in file order, the first row stored with
    /// that digest (the row itself if none was, or if the table is full and
    /// the answer must wait for [`Repeats::late_repeats`]): pushed to
    /// `first`. An error is the spill file failing.
    pub fn first_rows(&mut self, records: &[(u64, u64)], first: &mut Vec<u64>) -> io::Result<()> {
        first.reserve(records.len());
        for (at, chunk) in records.chunks(AHEAD).enumerate() {
            // Keep the table at most three quarters full, so a probe stays
            // short.
            while (self.len + chunk.len()) * 4 > self.slots.len() * 3
                && self.slots.len() < self.max_slots
            {
                self.grow();
            }
            let next = records.get((at + 1) * AHEAD..).unwrap_or(&[]);
            let touched = next.iter().take(AHEAD).fold(0u64, |acc, (digest, _)| {
                acc ^ self.slots[self.home(*digest)].row
            });
            std::hint::black_box(touched);
            for &(digest, row) in chunk {
                let found = match self.find(digest) {
                    Ok(first) => first,
                    Err(empty) if (self.len + 1) * 4 <= self.slots.len() * 3 => {
                        self.slots[empty] = Slot { digest, row };
                        self.len += 1;
                        row
                    }
                    Err(_) => {
                        let spill = match &mut self.spill {
                            Some(spill) => spill,
                            None => self.spill.insert(Spill::new(self.dir.as_deref())?),
                        };
                        spill.push(digest, row)?;
                        row
                    }
                };
                first.push(found);
            }
        }
        Ok(())
    }

    fn home(&self, digest: u64) -> usize {
        digest as usize & (self.slots.len() - 1)
    }

    /// The first row with `digest`, or the empty slot where it would go.
    fn find(&self, digest: u64) -> Result<u64, usize> {
        let mask = self.slots.len() - 1;
        let mut i = self.home(digest);
        loop {
            let slot = self.slots[i];
            if slot.row == EMPTY.row {
                return Err(i);
            }
            if slot.digest == digest {
                return Ok(slot.row);
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

    /// The repeats among the rows that [`Repeats::first_rows`] could not
    /// settle, once the whole file has been seen. The table's memory is
    /// given back first: it takes no more rows after this.
    pub fn late_repeats(&mut self) -> io::Result<LateRepeats> {
        self.slots = Vec::new();
        let partition_rows = self.partition_rows;
        let dir = self.dir.as_deref();
        let Some(spill) = self.spill.take() else {
            return Ok(LateRepeats::default());
        };
        let rows = spill.rows;
        let file = spill.into_file()?;
        // Partitions by the digest's high bits (the tables below use the
        // low ones). A partition holds at most its share of distinct
        // digests; the repeats of one record all fall in one partition but
        // take no room in its table.
        let parts = rows.div_ceil(partition_rows).max(1);
        let partitions = if parts == 1 {
            vec![file]
        } else {
            let mut outs = (0..parts)
                .map(|_| Spill::new(dir))
                .collect::<io::Result<Vec<_>>>()?;
            for pair in Pairs::of(&file)? {
                let (digest, row) = pair?;
                outs[((digest >> 32) % parts) as usize].push(digest, row)?;
            }
            drop(file);
            outs.into_iter()
                .map(Spill::into_file)
                .collect::<io::Result<_>>()?
        };
        let mut late = LateRepeats::default();
        let mut chunk = Vec::with_capacity(8192);
        let mut first = Vec::with_capacity(8192);
        for partition in partitions {
            let mut table = Repeats::unbounded();
            let mut run = Spill::new(dir)?;
            let mut pairs = Pairs::of(&partition)?.peekable();
            while pairs.peek().is_some() {
                chunk.clear();
                for pair in pairs.by_ref().take(8192) {
                    chunk.push(pair?);
                }
                first.clear();
                table.first_rows(&chunk, &mut first)?;
                for (&(_, row), &first) in chunk.iter().zip(&first) {
                    if first != row {
                        run.push(row, first)?;
                    }
                }
            }
            if run.rows > 0 {
                late.count += run.rows;
                late.runs.push(run.into_file()?);
            }
        }
        Ok(late)
    }
}

/// Rows found to repeat an earlier row only at the end of the file: runs of
/// (row, first row) on disk, each in row order.
#[derive(Debug, Default)]
pub struct LateRepeats {
    runs: Vec<File>,
    count: u64,
}

impl LateRepeats {
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Every late repeat as (row, first row), in row order. Each call reads
    /// the runs afresh; two at once would share the files' positions.
    pub fn rows(&self) -> io::Result<Merged> {
        let runs = self.runs.iter().map(Pairs::of).collect::<io::Result<_>>()?;
        let mut merged = Merged {
            runs,
            heads: BinaryHeap::new(),
            failed: None,
        };
        for i in 0..merged.runs.len() {
            merged.advance(i);
        }
        Ok(merged)
    }
}

/// Runs merged by row: the smallest head of any run comes next.
pub struct Merged {
    runs: Vec<Pairs>,
    heads: BinaryHeap<Reverse<(u64, u64, usize)>>,
    /// A read that failed, given out before anything else.
    failed: Option<io::Error>,
}

impl Merged {
    /// Puts run `i`'s next pair among the heads.
    fn advance(&mut self, i: usize) {
        match self.runs[i].next() {
            Some(Ok((row, first))) => self.heads.push(Reverse((row, first, i))),
            Some(Err(e)) => self.failed = Some(e),
            None => {}
        }
    }
}

impl Iterator for Merged {
    type Item = io::Result<(u64, u64)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.failed.take() {
            return Some(Err(e));
        }
        let Reverse((row, first, i)) = self.heads.pop()?;
        self.advance(i);
        Some(Ok((row, first)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, HashMap};

    /// Digests from a small range, so that repeats and collisions of home
    /// slots are common; unspread digests share their low bits (long
    /// probes) and, spread or not, many share their high bits (uneven
    /// partitions).
    fn blocks_of_digests(
        blocks: &[Vec<u64>],
        spread: bool,
    ) -> impl Iterator<Item = Vec<(u64, u64)>> + '_ {
        let mut row = 1;
        blocks.iter().map(move |block| {
            block
                .iter()
                .map(|&d| {
                    row += 1;
                    let digest = if spread {
                        d.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    } else {
                        d << 20
                    };
                    (digest, row)
                })
                .collect()
        })
    }

    proptest! {
        /// With room for everything: the same answers as a map from digest
        /// to its first row, across blocks of any size and through the
        /// table's growth, and nothing is left for the end.
        #[test]
        fn first_rows_are_those_of_a_map(
            blocks in prop::collection::vec(prop::collection::vec(0u64..5_000, 0..300), 0..40),
            spread in any::<bool>(),
        ) {
            let mut repeats = Repeats::bounded(8, usize::MAX / 2, 1, None);
            let mut map: HashMap<u64, u64> = HashMap::new();
            for records in blocks_of_digests(&blocks, spread) {
                let mut first = Vec::new();
                repeats.first_rows(&records, &mut first).expect("no spill");
                let expected: Vec<u64> =
                    records.iter().map(|&(d, r)| *map.entry(d).or_insert(r)).collect();
                prop_assert_eq!(first, expected);
            }
            prop_assert_eq!(repeats.len, map.len());
            prop_assert_eq!(repeats.late_repeats().expect("late").len(), 0);
        }

        /// With a table too small for the file and partitions of a few rows:
        /// what is settled at once is right, and the late repeats, in row
        /// order, settle every other row; together they are the map's
        /// answers.
        #[test]
        fn a_full_table_settles_the_rest_at_the_end(
            blocks in prop::collection::vec(prop::collection::vec(0u64..2_000, 0..300), 0..30),
            spread in any::<bool>(),
            max_slots in 2usize..64,
            partition_rows in 1u64..400,
        ) {
            let mut repeats = Repeats::bounded(2, max_slots, partition_rows, None);
            let mut map: HashMap<u64, u64> = HashMap::new();
            let mut settled = BTreeMap::new();
            let mut expected = BTreeMap::new();
            for records in blocks_of_digests(&blocks, spread) {
                let mut first = Vec::new();
                repeats.first_rows(&records, &mut first).expect("spill");
                for (&(d, r), &f) in records.iter().zip(&first) {
                    let truth = *map.entry(d).or_insert(r);
                    expected.insert(r, truth);
                    if f != r {
                        prop_assert_eq!(f, truth, "row {} settled at once", r);
                    }
                    settled.insert(r, f);
                }
            }
            prop_assert!(repeats.slots.len() <= max_slots.next_power_of_two().max(2));
            let late = repeats.late_repeats().expect("late");
            let late: Vec<(u64, u64)> =
                late.rows().expect("rows").collect::<io::Result<_>>().expect("read");
            prop_assert!(late.windows(2).all(|w| w[0].0 < w[1].0), "late repeats in row order");
            for &(row, first) in &late {
                prop_assert_eq!(settled.insert(row, first), Some(row), "row {} settled twice", row);
            }
            prop_assert_eq!(settled, expected);
        }
    }

    #[test]
    fn a_digest_of_zero_is_a_digest_like_any_other() {
        let mut repeats = Repeats::spilling_to(None);
        let mut first = Vec::new();
        repeats
            .first_rows(&[(0, 2), (0, 3), (1, 4)], &mut first)
            .expect("no spill");
        assert_eq!(first, vec![2, 2, 4]);
    }
}
