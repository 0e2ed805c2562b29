//! The bias note every nowcast carries, in plain words: who each signal
//! covers and how well, what was done about it, what stays uncertain.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::Inputs;
use crate::bias::{Coverage, GROUPS, MIN_COVERAGE};
use crate::model::Prediction;
use crate::series::{Corridor, Month, month_text};
use corridor_model::CodeListId;

/// A signal's coverage of the administrative flow: the signal's count over
/// the flow's, month by month where both are final.
pub fn overall_coverage(signal: &BTreeMap<Month, f64>, flow: &BTreeMap<Month, f64>) -> Option<f64> {
    let (mut s, mut f) = (0.0, 0.0);
    for (m, v) in flow {
        if let Some(x) = signal.get(m) {
            s += x;
            f += v;
        }
    }
    (f > 0.0).then(|| s / f)
}

fn percent(x: f64) -> String {
    format!("{:.0} %", 100.0 * x)
}

pub(crate) fn bias_note(
    inputs: &Inputs,
    predictions: &[(Corridor, BTreeMap<Month, f64>, Prediction)],
    origin: Month,
    coverage: &[Coverage],
    reweighted: bool,
) -> String {
    let mut out = String::new();
    let measure = inputs.measure.name;
    let _ = writeln!(
        out,
        "Experimental statistics. These are nowcasts of {measure} after {}, the last month whose administrative figure was final when they were made; they are model predictions, not counts, and will be replaced by the administrative figures when those are final.",
        month_text(origin)
    );
    let mut used: BTreeMap<&str, (usize, BTreeMap<i32, usize>)> = BTreeMap::new();
    let mut series = 0;
    for (c, _, p) in predictions {
        if c.is_total() {
            continue;
        }
        series += 1;
        for u in &p.used {
            let e = used.entry(u.kind.as_str()).or_default();
            e.0 += 1;
            *e.1.entry(u.lag).or_default() += 1;
        }
    }
    if used.is_empty() {
        let _ = writeln!(
            out,
            "\nNo signal improved the fit of any of the {series} corridors, so every nowcast extends the corridor's own level, trend and seasonal pattern."
        );
    }
    for (kind, (n, lags)) in &used {
        let lags = lags
            .iter()
            .map(|(l, k)| format!("{k} at lag {l}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            out,
            "\n**{kind}** was kept as a regressor in {n} of {series} corridors ({lags}; lag 1 means the signal leads the flow by a month)."
        );
        if crate::series::is_index(kind) {
            let _ = writeln!(
                out,
                "Search interest is an index (0–100, rebased per query), not a count of people: it says when interest rises, not how many move, and people who search are not necessarily those who travel. Its coefficient is estimated on each corridor's own history."
            );
            continue;
        }
        let mut ratios: Vec<f64> = predictions
            .iter()
            .filter(|(c, _, _)| !c.is_total())
            .filter_map(|(c, known, _)| {
                let s = inputs.signals.get(&(
                    kind.to_string(),
                    c.origin.clone(),
                    c.destination.clone(),
                ))?;
                overall_coverage(s, known)
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        if let (Some(lo), Some(hi)) = (ratios.first(), ratios.last()) {
            let mid = ratios[ratios.len() / 2];
            let _ = writeln!(
                out,
                "Against the final administrative figures, the signal counts {} of the {measure} in the median corridor ({} to {} across {} corridors): it under-covers the flow, and unevenly. The model uses the signal's changes, scaled by a coefficient fitted per corridor, so a stable level of coverage does not bias the nowcast; a change in who travels (more children, more older people, who carry fewer phones or use fewer apps) does, and shows only when the administrative figures arrive.",
                percent(mid),
                percent(*lo),
                percent(*hi),
                ratios.len()
            );
        }
    }
    for cov in coverage {
        coverage_paragraph(&mut out, cov, reweighted, measure);
    }
    let _ = writeln!(
        out,
        "\nUncertainty. The 80 % and 95 % intervals come from the fitted model and hold its own noise; they leave out the uncertainty of the model's estimated variances and of a change in coverage. A country's corridors were reconciled with its total, so corridors and total add up. Quarters and years add the final months to draws of the nowcast ones."
    );
    out
}

/// Who the signal sees in one reporting country, by age group and sex, and
/// what was done about it.
fn coverage_paragraph(out: &mut String, cov: &Coverage, reweighted: bool, measure: &str) {
    let ages = CodeListId::AgeGroup.list();
    let codes = corridor_model::age::AgeGrouping::Broad.codes();
    let label = |g: usize| {
        let code = codes.get(g / 2).copied().unwrap_or("?");
        let age = ages
            .get(code)
            .map_or(code.to_string(), |c| c.label_en.to_lowercase());
        format!(
            "{} {age}",
            if g.is_multiple_of(2) {
                "women and girls"
            } else {
                "men and boys"
            }
        )
    };
    let mut seen: Vec<(usize, f64)> = (0..GROUPS)
        .filter_map(|g| cov.by_group[g].map(|c| (g, c)))
        .collect();
    if seen.is_empty() {
        return;
    }
    let list = seen
        .iter()
        .map(|(g, c)| format!("{} {}", label(*g), percent(*c)))
        .collect::<Vec<_>>()
        .join("; ");
    let _ = writeln!(
        out,
        "\n**{} in {}, by age group and sex.** Against the final administrative {measure} of the same group, the signal sees: {list}.",
        cov.signal, cov.reporting_country
    );
    if seen.iter().any(|(_, c)| *c > 1.0) {
        let _ = writeln!(
            out,
            "Above 100 % the signal counts more travellers than the border records of that group: it also sees crossings the records miss (irregular crossings, unstaffed posts), so the nowcast, which predicts the recorded figure, scales it down."
        );
    }
    seen.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (lo, hi) = (seen[0], seen[seen.len() - 1]);
    let _ = writeln!(
        out,
        "It under-covers {} most ({}) and {} least ({}).",
        label(lo.0),
        percent(lo.1),
        label(hi.0),
        percent(hi.1)
    );
    let left_out: Vec<String> = seen
        .iter()
        .filter(|(_, c)| *c < MIN_COVERAGE)
        .map(|(g, _)| label(*g))
        .collect();
    if reweighted {
        let _ = writeln!(
            out,
            "What was done: each group's count was divided by its coverage and the groups summed, so that the signal stands for every traveller and not for those it sees best; {}. The coverage was estimated from the months final at the origin and is assumed to hold for the months nowcast.",
            if left_out.is_empty() {
                "no group was left out".to_string()
            } else {
                format!(
                    "{} are seen too rarely (under {}) to re-weight, and were left out: the nowcast follows them only through the corridor's own history",
                    left_out.join(", "),
                    percent(MIN_COVERAGE)
                )
            }
        );
    } else {
        let _ = writeln!(
            out,
            "What was done: nothing (re-weighting was turned off); the signal's changes were used as they are, so a change in who travels shows in the nowcast as a change in the flow."
        );
    }
}
