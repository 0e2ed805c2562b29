//! The bias note every nowcast carries, in plain words: who each signal
//! covers and how well, what was done about it, what stays uncertain.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::Inputs;
use crate::model::Prediction;
use crate::series::{Corridor, Month, month_text};

/// A signal's coverage of the administrative flow: the signal's count over
/// the flow's, month by month where both are final.
pub fn coverage(signal: &BTreeMap<Month, f64>, flow: &BTreeMap<Month, f64>) -> Option<f64> {
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
        if *kind == "search_interest" {
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
                coverage(s, known)
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
    let _ = writeln!(
        out,
        "\nUncertainty. The 80 % and 95 % intervals come from the fitted model and hold its own noise; they leave out the uncertainty of the model's estimated variances and of a change in coverage. A country's corridors were reconciled with its total, so corridors and total add up. Quarters and years add the final months to draws of the nowcast ones."
    );
    out
}
