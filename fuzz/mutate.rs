//! The fuzz corpus and its mutations, shared by the fuzz-style property
//! tests of `corridor-ingest` and `corridor-link` (each includes this file
//! with `#[path]`, so there is one copy).
//!
//! A seed is a real-shaped input kept under `fuzz/corpus/<target>/`; a test
//! feeds every seed as it is, then seeds changed by a few mutations: bytes
//! flipped, inserted, deleted, repeated or cut, and numbers swapped for the
//! values that break arithmetic. A crash found this way is kept as a new
//! seed, which makes it a regression test.

#![allow(dead_code)]

use std::path::PathBuf;

use proptest::prelude::*;

/// The seeds of one target, by file name, sorted (so a case is the same on
/// every machine).
pub fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("corpus file name")
                .to_string();
            let bytes = std::fs::read(&path).expect("corpus file");
            (name, bytes)
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

/// A seed kept because it once crashed a parser (`regress-…`): it need
/// not parse, only never crash.
pub fn is_regression(name: &str) -> bool {
    name.starts_with("regress-")
}

/// How many cases each fuzz property runs: `PROPTEST_CASES` when set (to
/// fuzz for longer), else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One change to a seed. Positions are fractions of its length, so one
/// mutation fits seeds of every size.
#[derive(Debug, Clone)]
pub enum Mutation {
    Flip(f64, u8),
    Insert(f64, Vec<u8>),
    Delete(f64, usize),
    Repeat(f64, usize),
    Cut(f64),
    Number(f64, &'static str),
}

/// Numbers that make arithmetic and allocation go wrong.
const NUMBERS: [&str; 12] = [
    "0",
    "-1",
    "1",
    "63",
    "65",
    "65536",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "1e308",
    "nan",
];

pub fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let at = 0.0f64..1.0;
    prop::collection::vec(
        prop_oneof![
            2 => (at.clone(), any::<u8>()).prop_map(|(a, b)| Mutation::Flip(a, b)),
            2 => (at.clone(), prop::collection::vec(
                prop_oneof![
                    3 => prop::sample::select(b";,\t\"'\r\n{}[]=:.# a1\\".to_vec()),
                    1 => any::<u8>(),
                ],
                1..12,
            ))
            .prop_map(|(a, b)| Mutation::Insert(a, b)),
            2 => (at.clone(), 1usize..64).prop_map(|(a, n)| Mutation::Delete(a, n)),
            1 => (at.clone(), 1usize..256).prop_map(|(a, n)| Mutation::Repeat(a, n)),
            1 => at.clone().prop_map(Mutation::Cut),
            2 => (at, prop::sample::select(NUMBERS.to_vec())).prop_map(|(a, n)| Mutation::Number(a, n)),
        ],
        0..5,
    )
}

/// `seed` with `mutations` applied in order.
pub fn mutate(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for m in mutations {
        let len = bytes.len();
        let pos = |a: f64| ((a * len as f64) as usize).min(len);
        match m {
            Mutation::Flip(a, b) if len > 0 => {
                let i = pos(*a).min(len - 1);
                bytes[i] = *b;
            }
            Mutation::Flip(..) => {}
            Mutation::Insert(a, b) => {
                let i = pos(*a);
                bytes.splice(i..i, b.iter().copied());
            }
            Mutation::Delete(a, n) => {
                let i = pos(*a);
                let end = (i + n).min(len);
                bytes.drain(i..end);
            }
            Mutation::Repeat(a, n) => {
                let i = pos(*a);
                let end = (i + n).min(len);
                let copy = bytes[i..end].to_vec();
                bytes.splice(end..end, copy);
            }
            Mutation::Cut(a) => bytes.truncate(pos(*a)),
            Mutation::Number(a, n) => {
                // The run of digits at or after the position, if any.
                let from = pos(*a);
                if let Some(start) = (from..len).find(|&i| bytes[i].is_ascii_digit()) {
                    let end = (start..len)
                        .find(|&i| !bytes[i].is_ascii_digit())
                        .unwrap_or(len);
                    bytes.splice(start..end, n.bytes());
                }
            }
        }
    }
    bytes
}
