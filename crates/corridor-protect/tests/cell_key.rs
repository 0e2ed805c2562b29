//! Cell-key perturbation over a real derived workspace: one set of records
//! gives one published value whichever table it is reached through, and a
//! differencing attack between two tables that differ by one category no
//! longer reads off the small count.

use corridor_protect::{PTable, PTableParams, cell_key_perturb};
use corridor_stats::{TOTAL, TableSpec, table};
use corridor_store::Workspace;
use corridor_world::WorldConfig;
use corridor_world::mappings::SUBMISSIONS;

fn workspace() -> (tempfile::TempDir, Workspace) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let world = tmp.path().join("world");
    corridor_world::generate(
        &WorldConfig {
            persons: 2500,
            years: 2,
            ..WorldConfig::default()
        },
        &world,
        &|_, _| {},
    )
    .expect("world");
    let ws = Workspace::init(&tmp.path().join("ws")).expect("init");
    for (mapping, file) in SUBMISSIONS
        .iter()
        .filter(|(_, f)| !corridor_world::CASE_FILES.contains(f))
    {
        ws.submit(&world.join(mapping), &world.join(file), false, &mut |_| {})
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    corridor_derive::derive(&ws, &corridor_derive::Options::default(), &|_, _| {}).expect("derive");
    (tmp, ws)
}

fn spec(measure: &str, by: &[&str], filter: Option<&str>) -> TableSpec {
    TableSpec {
        measure: measure.into(),
        by: by.iter().map(|s| s.to_string()).collect(),
        filter: filter.map(str::to_string),
    }
}

#[test]
fn one_cell_through_two_tables_and_a_differencing_attack() {
    let (_tmp, ws) = workspace();
    let ptable = PTable::new(PTableParams::default()).unwrap();

    // Arrivals by month and sex, and by month, sex and age group: the
    // second table's age total is the first table's cell, record for record.
    let a = table(&ws, &spec("arrivals", &["month", "sex"], None)).unwrap();
    let b = table(&ws, &spec("arrivals", &["month", "sex", "age_group"], None)).unwrap();
    let pa = cell_key_perturb(&a, &ptable).unwrap();
    let pb = cell_key_perturb(&b, &ptable).unwrap();
    let mut shared = 0;
    let mut changed = 0;
    for (cell, published) in a.cells.iter().zip(&pa.value().cells) {
        let mut coords: Vec<&str> = cell.coords.iter().map(String::as_str).collect();
        coords.push(TOTAL);
        let other = b.cell(&coords).expect("the same cell in the finer table");
        assert_eq!(other.records, cell.records);
        assert_eq!(other.cell_key, cell.cell_key, "{coords:?}");
        let at = b.cells.iter().position(|c| std::ptr::eq(c, other)).unwrap();
        assert_eq!(pb.value().cells[at].value, published.value, "{coords:?}");
        shared += 1;
        changed += usize::from(published.value != Some(cell.value));
    }
    assert!(shared > 50, "{shared}");
    assert!(changed > shared / 4, "{changed} of {shared} changed");

    // The attacker publishes nothing new: they subtract arrivals without
    // one citizenship from all arrivals, month by month, to read off that
    // citizenship's small count.
    let all = table(&ws, &spec("arrivals", &["month"], None)).unwrap();
    let p_all = cell_key_perturb(&all, &ptable).unwrap();
    let by_citizenship = table(&ws, &spec("arrivals", &["citizenship"], None)).unwrap();
    let (mut months, mut exact_raw, mut exact_protected) = (0, 0, 0);
    for target in by_citizenship.cells.iter().filter(|c| c.coords[0] != TOTAL) {
        let citizenship = &target.coords[0];
        let without = table(
            &ws,
            &spec(
                "arrivals",
                &["month"],
                Some(&format!("citizenship <> '{citizenship}'")),
            ),
        )
        .unwrap();
        let only = table(
            &ws,
            &spec(
                "arrivals",
                &["month"],
                Some(&format!("citizenship = '{citizenship}'")),
            ),
        )
        .unwrap();
        let p_without = cell_key_perturb(&without, &ptable).unwrap();
        for (i, cell) in all.cells.iter().enumerate() {
            let coords: Vec<&str> = cell.coords.iter().map(String::as_str).collect();
            // A month without the citizenship differences to 0 whatever
            // the protection: only months with someone are at stake.
            let truth = only.cell(&coords).map_or(0.0, |c| c.value);
            if coords == [TOTAL] || truth == 0.0 {
                continue;
            }
            let Some(j) = without.cells.iter().position(|c| c.coords == cell.coords) else {
                continue;
            };
            months += 1;
            exact_raw += usize::from(cell.value - without.cells[j].value == truth);
            let guess =
                p_all.value().cells[i].value.unwrap() - p_without.value().cells[j].value.unwrap();
            exact_protected += usize::from(guess == truth);
        }
    }
    assert!(months >= 100, "{months}");
    // Unprotected, the attack is exact every time; protected, it is wrong
    // most of the time (two independent changes agree with a probability
    // of the sum of the squared row probabilities, about 0.3 here) and the
    // attacker cannot tell which guesses are right.
    eprintln!("differencing attack: {exact_protected} of {months} exact");
    assert_eq!(exact_raw, months);
    assert!(
        (exact_protected as f64) < 0.45 * months as f64,
        "{exact_protected} of {months} months read off exactly"
    );
}
