//! Random rounding to base 3 (Stats NZ's RR3): a count that is 0 or a
//! multiple of 3 stays; any other moves to one of the two nearest
//! multiples of 3, the nearer with probability 2/3 and the farther with
//! 1/3, so that its expected value is the count itself. Totals are rounded
//! on their own, so a rounded table need not add up.

use corridor_stats::Table;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::{Method, ProtectError, Protected, PublishedTable, protect_counts};

const BASE: u64 = 3;

/// Rounds `table` with randomness drawn from the operating system, so that
/// nobody can replay the draws and undo the rounding.
pub fn random_round_3(table: &Table) -> Result<Protected<PublishedTable>, ProtectError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| ProtectError::Randomness(e.to_string()))?;
    random_round_3_with(table, &mut ChaCha20Rng::from_seed(seed))
}

/// [`random_round_3`] with the caller's generator (tests replay a seed).
pub fn random_round_3_with(
    table: &Table,
    rng: &mut impl Rng,
) -> Result<Protected<PublishedTable>, ProtectError> {
    protect_counts(
        table,
        Method::RandomRounding { base: BASE as u32 },
        |count, _| round(count, rng),
    )
}

fn round(count: u64, rng: &mut impl Rng) -> u64 {
    let rest = count % BASE;
    if rest == 0 {
        return count;
    }
    let down = count - rest;
    // Up with probability rest / 3: 1 → up 1/3 of the time, 2 → 2/3.
    if rng.random_range(0..BASE) < rest {
        down + BASE
    } else {
        down
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corridor_stats::Cell;
    use proptest::prelude::*;

    fn table(values: &[f64]) -> Table {
        Table {
            measure: "arrivals".into(),
            dims: vec!["sex".into()],
            filter: None,
            cells: values
                .iter()
                .enumerate()
                .map(|(i, &value)| Cell {
                    coords: vec![format!("c{i}")],
                    value,
                    records: 7,
                    cell_key: 12345,
                    provisional: i == 0,
                })
                .collect(),
            notes: vec![],
        }
    }

    proptest! {
        /// Every rounded count is a multiple of 3 less than 3 away, and
        /// multiples of 3 (0 included) never move.
        #[test]
        fn counts_move_to_a_neighbouring_multiple_of_three(
            values in prop::collection::vec(0u64..1_000_000, 1..50),
            seed in any::<u64>(),
        ) {
            let t = table(&values.iter().map(|&v| v as f64).collect::<Vec<_>>());
            let p = random_round_3_with(&t, &mut ChaCha20Rng::seed_from_u64(seed)).unwrap();
            prop_assert_eq!(p.method(), &Method::RandomRounding { base: 3 });
            for (v, c) in values.iter().zip(&p.value().cells) {
                let r = c.value.unwrap() as u64;
                prop_assert_eq!(r % 3, 0);
                prop_assert!(r.abs_diff(*v) < 3);
                if v % 3 == 0 {
                    prop_assert_eq!(r, *v);
                }
            }
        }
    }

    /// The rounding is unbiased: 17 becomes 15 a third of the time and 18
    /// two thirds (METHODS.md's example), and its mean stays 17.
    #[test]
    fn rounding_keeps_the_expected_value() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let n = 60_000;
        let (mut fifteen, mut sum) = (0u32, 0u64);
        for _ in 0..n {
            let r = round(17, &mut rng);
            assert!(r == 15 || r == 18, "{r}");
            fifteen += u32::from(r == 15);
            sum += r;
        }
        let share = f64::from(fifteen) / f64::from(n);
        assert!((share - 1.0 / 3.0).abs() < 0.01, "{share}");
        let mean = sum as f64 / f64::from(n);
        assert!((mean - 17.0).abs() < 0.02, "{mean}");
    }

    /// What leaves carries no record count or cell key, and a value that
    /// is not a count is refused with the cell named.
    #[test]
    fn the_published_table_holds_only_protected_values() {
        let p = random_round_3(&table(&[4.0, 9.0])).unwrap();
        let json = serde_json::to_string(p.value()).unwrap();
        assert!(
            !json.contains("records") && !json.contains("cell_key"),
            "{json}"
        );
        assert!(p.value().cells[0].provisional);
        let err = random_round_3(&table(&[4.0, 2.5])).unwrap_err().to_string();
        assert!(err.contains("c1") && err.contains("2.5"), "{err}");
        assert!(random_round_3(&table(&[-3.0])).is_err());
    }
}
