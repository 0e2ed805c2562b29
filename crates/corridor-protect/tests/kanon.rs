//! k-anonymised microdata: every combination of the quasi-identifiers
//! occurs k times or more, nothing but the quasi-identifiers changes, each
//! value is its own generalisation or `*`, and the report counts what was
//! changed.

use std::collections::HashMap;

use corridor_protect::{KAnonParams, Ladder, Method, SUPPRESSED, k_anonymise};
use proptest::prelude::*;

const COUNTRIES: [&str; 9] = [
    "GTM", "HND", "SLV", "MEX", "COL", "VEN", "ESP", "USA", "PHL",
];
const FORMS: [&str; 4] = ["sexual", "labour", "forced_marriage", "other"];

fn cases(n: usize, seed: u64) -> Vec<Vec<String>> {
    let mut x = seed | 1;
    let mut next = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Skewed: small values more often.
        let a = x % m;
        let b = (x >> 20) % m;
        a.min(b) as usize
    };
    (0..n)
        .map(|i| {
            vec![
                format!("case-{i}"),
                (12 + next(50)).to_string(),
                ["F", "M", "_U"][next(3)].to_string(),
                COUNTRIES[next(9)].to_string(),
                COUNTRIES[next(9)].to_string(),
                FORMS[next(4)].to_string(),
            ]
        })
        .collect()
}

fn columns() -> Vec<String> {
    [
        "id",
        "age",
        "sex",
        "citizenship",
        "country_of_exploitation",
        "form",
    ]
    .map(String::from)
    .to_vec()
}

fn params(k: usize) -> KAnonParams {
    KAnonParams {
        k,
        quasi: vec![
            (1, Ladder::Age),
            (2, Ladder::Flat),
            (3, Ladder::Country),
            (4, Ladder::Country),
        ],
    }
}

fn check(rows: &[Vec<String>], k: usize) {
    let p = params(k);
    let (out, report) = k_anonymise(&columns(), rows, &p).unwrap();
    let Method::KAnonymity { levels, .. } = out.method().clone() else {
        panic!()
    };
    let out = &out.value().rows;
    assert_eq!(out.len(), rows.len(), "no record is dropped");
    let mut classes: HashMap<Vec<&str>, usize> = HashMap::new();
    let (mut generalised, mut suppressed) = (0, 0);
    for (a, b) in rows.iter().zip(out) {
        // What is not a quasi-identifier is untouched.
        assert_eq!(a[0], b[0]);
        assert_eq!(a[5], b[5]);
        for (j, (c, ladder)) in p.quasi.iter().enumerate() {
            if b[*c] == SUPPRESSED {
                suppressed += 1;
            } else {
                let _ = ladder;
                generalised += usize::from(b[*c] != a[*c]);
                if levels[j] == 0 {
                    assert_eq!(b[*c], a[*c]);
                }
            }
        }
        *classes
            .entry(p.quasi.iter().map(|(c, _)| b[*c].as_str()).collect())
            .or_default() += 1;
    }
    let smallest = classes.values().copied().min().unwrap();
    assert!(smallest >= k, "a class of {smallest} < k = {k}");
    assert_eq!(report.smallest_class, smallest);
    assert_eq!(report.suppressed_values, suppressed);
    assert_eq!(report.generalised_values, generalised);
    assert_eq!(
        report.columns.iter().map(|c| c.suppressed).sum::<usize>(),
        suppressed
    );
}

#[test]
fn case_microdata_are_k_anonymous_at_k_11() {
    let rows = cases(5000, 7);
    check(&rows, 11);
    let (_, report) = k_anonymise(&columns(), &rows, &params(11)).unwrap();
    // It keeps most of the detail: far from blanking everything.
    let values = rows.len() * 4;
    assert!(
        report.suppressed_values + report.generalised_values < values / 2,
        "{report:?}"
    );
}

#[test]
fn too_few_records_or_a_bad_k_are_refused() {
    let rows = cases(5, 1);
    assert!(k_anonymise(&columns(), &rows, &params(11)).is_err());
    assert!(k_anonymise(&columns(), &rows, &params(1)).is_err());
    let mut short = cases(20, 1);
    short[3].pop();
    let e = k_anonymise(&columns(), &short, &params(3)).unwrap_err();
    assert!(e.to_string().contains("record 4"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn any_records_come_out_k_anonymous(n in 11usize..400, seed in any::<u64>(), k in 2usize..12) {
        check(&cases(n.max(k), seed), k);
    }
}
