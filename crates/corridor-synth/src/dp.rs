//! Differentially private synthesis measured in the manner of MST (McKenna
//! et al., winner of the NIST 2018 challenge): noisy marginals, a model
//! chosen on them ([`crate::network`]: factors of a column and up to two
//! parents, a spanning tree with one), fitted to its noisy factors, records
//! sampled from it.
//!
//! **The domain is public.** Every column's values come from a
//! [`Domain`](crate::domain::Domain) (code lists, or the publisher's file),
//! never from the data: [`synthesize`] only takes an [`InDomain`] table, whose
//! dictionaries are the domain's. Two neighbouring inputs therefore give
//! marginals of the same shape and synthetic data over the same values.
//! Each column has one more cell, "no value", which also takes the values
//! outside its domain.
//!
//! All noise comes from OpenDP's `make_gaussian` (the discrete Gaussian of
//! Canonne–Kamath–Steinke on integer counts), accounted in zero-concentrated
//! DP: each marginal is one measurement of L2 sensitivity 1 (one victim
//! added or removed changes one cell by one), and the ρ of the measurements
//! add up. The budget ρ is split: 10 % for the one-way marginals over the
//! whole domain, 5 % for the one-way marginals again after compression, 25 %
//! for all two-way marginals (used to choose the model), 60 % to measure its
//! factors.
//!
//! **Compression**, as MST does it: a value whose noisy whole-domain count
//! is below three times its noise scale shares one cell with the column's
//! other rare values in every later measurement, so that a code list of 250
//! countries does not spread the noise of 250 cells over each two-way
//! table. Which values are rare is decided on noisy counts only; a sampled
//! rare cell becomes one of its values in proportion to their (clipped)
//! noisy counts. Everything after the measurements — compressing, choosing
//! the model, combining the two measurements of a pair, clipping, making
//! the tables agree with the margins, sampling — is post-processing and
//! costs no privacy.

use opendp::domains::{AtomDomain, VectorDomain};
use opendp::measurements::make_gaussian;
use opendp::measures::ZeroConcentratedDivergence;
use opendp::metrics::L2Distance;
use rand::distr::{Distribution, weighted::WeightedIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::SynthError;
use crate::domain::InDomain;
use crate::network;
use crate::table::{EMPTY, Table};

/// ρ of zero-concentrated DP as ε of (ε, δ)-DP (Bun & Steinke 2016).
pub fn epsilon_of(rho: f64, delta: f64) -> f64 {
    rho + 2.0 * (rho * (1.0 / delta).ln()).sqrt()
}

/// The ρ whose (ε, δ) equivalent is `epsilon` at `delta`.
pub fn rho_of(epsilon: f64, delta: f64) -> f64 {
    let l = (1.0 / delta).ln();
    let x = -l.sqrt() + (l + epsilon).sqrt();
    x * x
}

#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub what: String,
    /// Cells of the measured marginal (fixed by the public domain and by
    /// the compression, itself chosen on noisy counts).
    pub cells: usize,
    /// Standard deviation of the discrete Gaussian noise.
    pub scale: f64,
    /// Privacy loss of this measurement, as OpenDP's privacy map gives it.
    pub rho: f64,
}

/// The privacy loss of a release, to be recorded with it and charged to
/// the dataset's budget.
/// The mechanism DP synthesis spends its ρ with, as the ledger names it.
pub const MECHANISM: &str = "discrete Gaussian on marginal counts (OpenDP make_gaussian), zCDP";

#[derive(Debug, Clone, Serialize)]
pub struct PrivacyLoss {
    pub mechanism: &'static str,
    pub neighbouring: &'static str,
    pub rho: f64,
    pub epsilon: f64,
    pub delta: f64,
    pub measurements: Vec<Measurement>,
}

pub struct DpSynthetic {
    pub synthetic: Table,
    pub privacy: PrivacyLoss,
    /// The model: each column, in sampling order, with the columns it is
    /// drawn given (none for the first).
    pub model: Vec<(usize, Vec<usize>)>,
    /// The noisy estimate of the number of records.
    pub estimated_rows: usize,
    /// Per column, how many of its domain's values kept a cell of their
    /// own after compression (chosen on noisy counts).
    pub own_cells: Vec<usize>,
}

fn measure(
    counts: &[i64],
    rho: f64,
    what: String,
    log: &mut Vec<Measurement>,
) -> Result<Vec<f64>, SynthError> {
    let scale = scale_of(rho);
    let m = make_gaussian::<_, _, ZeroConcentratedDivergence>(
        VectorDomain::new(AtomDomain::<i64>::default()),
        L2Distance::<i64>::default(),
        scale,
        None,
    )
    .map_err(|e| SynthError::Privacy(e.to_string()))?;
    let spent = m.map(&1).map_err(|e| SynthError::Privacy(e.to_string()))?;
    let noisy = m
        .invoke(&counts.to_vec())
        .map_err(|e| SynthError::Privacy(e.to_string()))?;
    log.push(Measurement {
        what,
        cells: counts.len(),
        scale,
        rho: spent,
    });
    Ok(noisy.into_iter().map(|x| x as f64).collect())
}

/// A factor with two parents must have at most n / (USEFUL · σ) cells, so
/// that its mean count is several times its noise (PrivBayes'
/// θ-usefulness, where θ = 4 is the authors' choice).
const USEFUL: f64 = 4.0;

/// Standard deviation of the discrete Gaussian that spends `rho` on a
/// query of L2 sensitivity 1.
fn scale_of(rho: f64) -> f64 {
    (1.0 / (2.0 * rho)).sqrt()
}

/// A column's cells: each domain value, then "no value" last (index
/// `values.len()`), grouped into the cells measurements count.
struct Cells {
    /// Domain index → cell.
    cell_of: Vec<usize>,
    /// Cell → its domain indices.
    members: Vec<Vec<usize>>,
    /// Domain values with a cell of their own.
    own: usize,
}

impl Cells {
    /// One cell per value (and one for no value).
    fn whole(size: usize) -> Cells {
        Cells {
            cell_of: (0..size).collect(),
            members: (0..size).map(|i| vec![i]).collect(),
            own: size.saturating_sub(1),
        }
    }

    /// Values whose noisy count reaches `threshold` keep their cell; the
    /// others share one; no value always keeps its own.
    fn compress(noisy: &[f64], threshold: f64) -> Cells {
        let none = noisy.len() - 1;
        let mut cell_of = vec![0; noisy.len()];
        let mut members: Vec<Vec<usize>> = Vec::new();
        let mut rare = Vec::new();
        for (i, x) in noisy[..none].iter().enumerate() {
            if *x >= threshold {
                cell_of[i] = members.len();
                members.push(vec![i]);
            } else {
                rare.push(i);
            }
        }
        let own = members.len();
        if !rare.is_empty() {
            for i in &rare {
                cell_of[*i] = members.len();
            }
            members.push(rare);
        }
        cell_of[none] = members.len();
        members.push(vec![none]);
        Cells {
            cell_of,
            members,
            own,
        }
    }

    fn len(&self) -> usize {
        self.members.len()
    }
}

fn cell(table: &Table, cells: &Cells, c: usize, r: usize) -> usize {
    cells.cell_of[match table.codes[c][r] {
        EMPTY => table.values[c].len(),
        v => v as usize,
    }]
}

/// The counts of a marginal over `axes` (row-major, the last axis
/// fastest), in the columns' cells.
fn marginal(table: &Table, axes: &[usize], cells: &[Cells]) -> Vec<i64> {
    let size: usize = axes.iter().map(|a| cells[*a].len()).product();
    let mut out = vec![0i64; size];
    for r in 0..table.rows() {
        let i = axes.iter().fold(0, |acc, a| {
            acc * cells[*a].len() + cell(table, &cells[*a], *a, r)
        });
        out[i] += 1;
    }
    out
}

/// Mutual information of a (clipped, normalised) two-way table.
fn mutual_information(t: &[f64], rows: usize, cols: usize) -> f64 {
    let total: f64 = t.iter().map(|x| x.max(0.0)).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let mut pr = vec![0.0; rows];
    let mut pc = vec![0.0; cols];
    for i in 0..rows {
        for j in 0..cols {
            let p = t[i * cols + j].max(0.0) / total;
            pr[i] += p;
            pc[j] += p;
        }
    }
    let mut mi = 0.0;
    for i in 0..rows {
        for j in 0..cols {
            let p = t[i * cols + j].max(0.0) / total;
            if p > 0.0 && pr[i] > 0.0 && pc[j] > 0.0 {
                mi += p * (p / (pr[i] * pc[j])).ln();
            }
        }
    }
    mi
}

/// Non-negative, summing to `n`.
fn clip_to(v: &[f64], n: f64) -> Vec<f64> {
    let c: Vec<f64> = v.iter().map(|x| x.max(0.0)).collect();
    let s: f64 = c.iter().sum();
    if s <= 0.0 {
        return vec![n / v.len() as f64; v.len()];
    }
    c.iter().map(|x| x * n / s).collect()
}

/// Synthesises `rows` records (default: the noisy count) under the budget
/// `rho`, over the public domain of `input`.
pub fn synthesize(
    input: &InDomain,
    rho: f64,
    delta: f64,
    rows: Option<usize>,
    seed: u64,
    max_parents: usize,
) -> Result<DpSynthetic, SynthError> {
    if !(rho > 0.0 && rho.is_finite()) {
        return Err(SynthError::Input(format!("ρ must be positive, not {rho}")));
    }
    let table = input.table();
    let d = table.width();
    if d == 0 {
        return Err(SynthError::Input("the table has no columns".into()));
    }
    let pairs: Vec<(usize, usize)> = (0..d)
        .flat_map(|a| (a + 1..d).map(move |b| (a, b)))
        .collect();
    let (rho_whole, rho_compressed, rho2, rho3) = if d == 1 {
        (0.5 * rho, 0.5 * rho, 0.0, 0.0)
    } else {
        (0.10 * rho, 0.05 * rho, 0.25 * rho, 0.60 * rho)
    };
    let mut log = Vec::new();
    // One-way marginals over the whole public domain: they decide which
    // values are rare, and how a rare cell is shared among its values.
    let r_whole = rho_whole / d as f64;
    let mut whole: Vec<Vec<f64>> = Vec::with_capacity(d);
    let whole_cells: Vec<Cells> = (0..d)
        .map(|c| Cells::whole(table.values[c].len() + 1))
        .collect();
    for c in 0..d {
        whole.push(measure(
            &marginal(table, &[c], &whole_cells),
            r_whole,
            format!("one-way {} (whole domain)", table.columns[c]),
            &mut log,
        )?);
    }
    let threshold = 3.0 * scale_of(r_whole);
    let cells: Vec<Cells> = whole
        .iter()
        .map(|w| Cells::compress(w, threshold))
        .collect();
    // One-way marginals again over the compressed cells: a shared cell's
    // count from the whole-domain measurement carries the noise of all its
    // values. Both estimates are combined by inverse variance.
    let r_compressed = rho_compressed / d as f64;
    let (v_whole, v_compressed) = (1.0 / (2.0 * r_whole), 1.0 / (2.0 * r_compressed));
    let mut ones: Vec<Vec<f64>> = Vec::with_capacity(d);
    for c in 0..d {
        let again = measure(
            &marginal(table, &[c], &cells),
            r_compressed,
            format!("one-way {} (compressed)", table.columns[c]),
            &mut log,
        )?;
        ones.push(
            cells[c]
                .members
                .iter()
                .zip(&again)
                .map(|(m, y)| {
                    let x: f64 = m.iter().map(|i| whole[c][*i]).sum();
                    let vx = v_whole * m.len() as f64;
                    (x / vx + y / v_compressed) / (1.0 / vx + 1.0 / v_compressed)
                })
                .collect(),
        );
    }
    let sizes: Vec<usize> = cells.iter().map(Cells::len).collect();
    let mut sums: Vec<f64> = ones
        .iter()
        .map(|o| o.iter().sum::<f64>().max(0.0))
        .collect();
    sums.sort_by(f64::total_cmp);
    let n_est = sums[sums.len() / 2].max(1.0);

    // All two-way tables, for choosing the network (and, for a factor of
    // one parent, combined with its own measurement).
    let r2 = rho2 / pairs.len().max(1) as f64;
    let mut first: Vec<Vec<f64>> = Vec::with_capacity(pairs.len());
    let mut mi = vec![vec![0.0; d]; d];
    for (a, b) in &pairs {
        let noisy = measure(
            &marginal(table, &[*a, *b], &cells),
            r2,
            format!(
                "two-way {} × {} (selection)",
                table.columns[*a], table.columns[*b]
            ),
            &mut log,
        )?;
        let m = mutual_information(&noisy, sizes[*a], sizes[*b]);
        (mi[*a][*b], mi[*b][*a]) = (m, m);
        first.push(noisy);
    }
    let pair_index = |a: usize, b: usize| pairs.iter().position(|p| *p == (a.min(b), a.max(b)));
    // Every column but the first is one factor, measured with an equal
    // share of what is left.
    let r3 = rho3 / (d - 1).max(1) as f64;
    let max_cells = n_est / (USEFUL * scale_of(r3));
    let factors = network::choose(&mi, &sizes, max_cells, max_parents.max(1));
    let margins: Vec<Vec<f64>> = ones.iter().map(|o| clip_to(o, n_est)).collect();
    let mut tables: Vec<Vec<Vec<f64>>> = Vec::with_capacity(factors.len());
    for f in &factors {
        if f.parents.is_empty() {
            tables.push(Vec::new());
            continue;
        }
        let axes = f.axes();
        let names: Vec<&str> = axes.iter().map(|a| table.columns[*a].as_str()).collect();
        let mut noisy = measure(
            &marginal(table, &axes, &cells),
            r3,
            format!("{} (model)", names.join(" × ")),
            &mut log,
        )?;
        // One parent: the pair was measured for selection too; combine both
        // by inverse variance (the selection table is ordered by column).
        if let [p] = f.parents[..]
            && let Some(k) = pair_index(p, f.child)
        {
            let (v1, v2) = (1.0 / (2.0 * r2), 1.0 / (2.0 * r3));
            let (sp, sc) = (sizes[p], sizes[f.child]);
            for i in 0..sp {
                for j in 0..sc {
                    let x = if p < f.child {
                        first[k][i * sc + j]
                    } else {
                        first[k][j * sp + i]
                    };
                    let y = &mut noisy[i * sc + j];
                    *y = (x / v1 + *y / v2) / (1.0 / v1 + 1.0 / v2);
                }
            }
        }
        let dims: Vec<usize> = axes.iter().map(|a| sizes[*a]).collect();
        let strength = scale_of(r3) * (sizes[f.child] as f64).sqrt();
        tables.push(network::conditionals(
            &noisy,
            &dims,
            &margins[f.child],
            strength,
        ));
    }
    let n = rows.unwrap_or(n_est.round() as usize);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sampled = network::sample(
        &factors,
        &sizes,
        &margins[factors[0].child],
        &tables,
        n,
        &mut rng,
    );
    // A shared cell becomes one of its values in proportion to their
    // clipped whole-domain noisy counts (uniformly when all clip to 0).
    let within: Vec<Vec<Option<WeightedIndex<f64>>>> = cells
        .iter()
        .zip(&whole)
        .map(|(cl, w)| {
            cl.members
                .iter()
                .map(|m| {
                    (m.len() > 1)
                        .then(|| WeightedIndex::new(m.iter().map(|i| w[*i].max(0.0))).ok())
                        .flatten()
                })
                .collect()
        })
        .collect();
    let mut codes = vec![Vec::with_capacity(n); d];
    for (c, column) in sampled.iter().enumerate() {
        for &got in column {
            let m = &cells[c].members[got];
            let value = match (m.as_slice(), &within[c][got]) {
                ([one], _) => *one,
                (_, Some(w)) => m[w.sample(&mut rng)],
                (_, None) => m[rng.random_range(0..m.len())],
            };
            codes[c].push(if value == table.values[c].len() {
                EMPTY
            } else {
                value as u32
            });
        }
    }
    let spent: f64 = log.iter().map(|m| m.rho).sum();
    Ok(DpSynthetic {
        synthetic: table.with_codes(codes),
        privacy: PrivacyLoss {
            mechanism: MECHANISM,
            neighbouring: "one record (victim) added or removed",
            rho: spent,
            epsilon: epsilon_of(spent, delta),
            delta,
            measurements: log,
        },
        model: factors.into_iter().map(|f| (f.child, f.parents)).collect(),
        estimated_rows: n_est.round() as usize,
        own_cells: cells.iter().map(|c| c.own).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Domain;

    fn domain(columns: &[(&str, &[&str])]) -> Domain {
        let mut d = Domain::default();
        for (c, values) in columns {
            d.set(
                c,
                values.iter().map(|v| v.to_string()).collect(),
                "test".into(),
            );
        }
        d
    }

    #[test]
    fn conversions_invert() {
        let rho = rho_of(1.0, 1e-6);
        assert!((epsilon_of(rho, 1e-6) - 1.0).abs() < 1e-9);
        assert!(rho > 0.0 && rho < 0.05);
    }

    #[test]
    fn spends_exactly_the_budget_and_keeps_strong_dependence() {
        // Two perfectly dependent columns and one independent one; the
        // domains hold values no record has.
        let mut rows = Vec::new();
        for i in 0..4000u32 {
            let a = ["x", "y", "z"][(i % 3) as usize];
            let b = ["X", "Y", "Z"][(i % 3) as usize];
            let c = ["p", "q"][((i / 7) % 2) as usize];
            rows.push(vec![a, b, c]);
        }
        let t = Table::from_rows(vec!["a".into(), "b".into(), "c".into()], rows);
        let d = domain(&[
            ("a", &["w", "x", "y", "z"]),
            ("b", &["X", "Y", "Z", "W", "V"]),
            ("c", &["p", "q"]),
        ]);
        let out = synthesize(&d.apply(&t).unwrap(), 1.0, 1e-6, None, 7, 2).unwrap();
        assert!((out.privacy.rho - 1.0).abs() < 1e-9, "{}", out.privacy.rho);
        assert!(
            out.model
                .iter()
                .any(|(c, p)| (*c == 0 && p.contains(&1)) || (*c == 1 && p.contains(&0)))
        );
        assert!((out.estimated_rows as f64 - 4000.0).abs() < 200.0);
        let s = &out.synthetic;
        let text = |c: usize, r: usize| match s.codes[c][r] {
            EMPTY => String::new(),
            v => s.values[c][v as usize].to_uppercase(),
        };
        let agree = (0..s.rows()).filter(|r| text(0, *r) == text(1, *r)).count();
        assert!(agree as f64 > 0.9 * out.synthetic.rows() as f64, "{agree}");
        // The common values keep cells of their own (an absent one may
        // too, when its noise reaches the threshold).
        for (own, (common, size)) in out.own_cells.iter().zip([(3, 4), (3, 5), (2, 2)]) {
            assert!((common..=size).contains(own), "{:?}", out.own_cells);
        }
    }

    /// Two neighbouring inputs, the second with one more record whose
    /// category occurs nowhere else (and one whose value is outside the
    /// domain): the output's values and every measurement's shape over the
    /// whole domain are the same. A domain taken from the data fails this.
    #[test]
    fn neighbouring_inputs_give_the_same_output_domain() {
        let columns = vec!["sex".to_string(), "form".into(), "country".into()];
        let mut rows = Vec::new();
        for i in 0..600usize {
            rows.push(vec![
                ["F", "M"][i % 2],
                ["sexual", "forced_labour"][(i / 2) % 2],
                ["GTM", "HND", "SLV"][i % 3],
            ]);
        }
        let a = Table::from_rows(columns.clone(), rows.clone());
        let mut more = rows.clone();
        more.push(vec!["F", "organ_removal", "ISL"]);
        let b = Table::from_rows(columns.clone(), more);
        let mut outside = rows;
        outside.push(vec!["M", "sexual", "ATL"]);
        let c = Table::from_rows(columns, outside);
        let d = domain(&[
            ("sex", &["F", "M", "_O"]),
            (
                "form",
                &["sexual", "forced_labour", "organ_removal", "other"],
            ),
            ("country", &["GTM", "HND", "ISL", "SLV", "USA"]),
        ]);
        let run = |t: &Table| {
            let input = d.apply(t).unwrap();
            let out = synthesize(&input, 0.5, 1e-6, Some(300), 3, 2).unwrap();
            (input, out)
        };
        let (ia, oa) = run(&a);
        let (ib, ob) = run(&b);
        let (ic, oc) = run(&c);
        for (i, o) in [(&ia, &oa), (&ib, &ob), (&ic, &oc)] {
            assert_eq!(o.synthetic.values, oa.synthetic.values);
            assert_eq!(i.table().values, oa.synthetic.values);
            let whole: Vec<(String, usize)> = o
                .privacy
                .measurements
                .iter()
                .filter(|m| m.what.ends_with("(whole domain)"))
                .map(|m| (m.what.clone(), m.cells))
                .collect();
            assert_eq!(
                whole,
                [
                    ("one-way sex (whole domain)".to_string(), 4),
                    ("one-way form (whole domain)".to_string(), 5),
                    ("one-way country (whole domain)".to_string(), 6),
                ]
            );
        }
        assert_eq!(oa.synthetic.values[2], ["GTM", "HND", "ISL", "SLV", "USA"]);
        // The value outside the domain is counted, and never synthesised.
        assert!(ia.outside().is_empty() && ib.outside().is_empty());
        assert_eq!(ic.outside().len(), 1);
        assert_eq!(ic.outside()[0].column, "country");
        assert_eq!(ic.outside()[0].records, 1);
        assert!(!oc.synthetic.values[2].iter().any(|v| v == "ATL"));
    }
}
