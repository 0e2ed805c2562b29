//! Experimental nowcasts in a release: a flow table by month and corridor
//! protected by cell-key perturbation, nowcast from its protected values
//! and the public signals (`corridor-protect`'s post-processing), written
//! under `nowcasts/`, with its entry in `release.json`, its Frictionless
//! resource and its section of the methods note, bias note included.

use std::fs;
use std::path::Path;

use corridor_protect::{PTable, Protected, PublishedNowcast};
use corridor_stats::TableSpec;
use corridor_store::Workspace;
use serde_json::{Value, json};

use crate::note::Lang;
use crate::spec::NowcastRequest;
use crate::{PublishError, io};

pub(crate) struct NowcastEntry {
    pub name: String,
    pub title: String,
    pub protected: Protected<PublishedNowcast>,
}

impl NowcastEntry {
    fn data(&self) -> &PublishedNowcast {
        self.protected.value()
    }
}

pub(crate) fn build(ws: &Workspace, req: &NowcastRequest) -> Result<NowcastEntry, PublishError> {
    let protect_err = |source| PublishError::Protect {
        table: req.name.clone(),
        source,
    };
    let measure = req.measure.as_deref().unwrap_or("departures");
    let spec_err = |why: String| PublishError::Spec {
        path: "(given)".into(),
        why: format!("[[nowcast]] `{}`: {why}", req.name),
    };
    let mut opts = corridor_nowcast::Options::new(measure);
    opts.horizon = req.horizon.unwrap_or(3);
    opts.as_of = match &req.as_of {
        Some(m) => Some(
            corridor_nowcast::series::parse_month(m)
                .ok_or_else(|| spec_err(format!("as_of `{m}` is not a month like 2025-09")))?,
        ),
        None => None,
    };
    let table = corridor_stats::table(
        ws,
        &TableSpec {
            measure: measure.into(),
            by: corridor_nowcast::series::FLOW_DIMENSIONS
                .map(String::from)
                .to_vec(),
            filter: None,
        },
    )?;
    let ptable = PTable::new(req.ptable.unwrap_or_default()).map_err(protect_err)?;
    let protected = corridor_protect::cell_key_perturb(&table, &ptable).map_err(protect_err)?;
    let signals =
        corridor_nowcast::series::signals(ws).map_err(|e| spec_err(format!("signals: {e}")))?;
    let now = protected.nowcast(signals, &opts).map_err(protect_err)?;
    let title = req
        .title
        .clone()
        .unwrap_or_else(|| format!("Nowcast of {measure} by corridor (experimental)"));
    Ok(NowcastEntry {
        name: req.name.clone(),
        title,
        protected: now,
    })
}

fn file(e: &NowcastEntry) -> String {
    format!("nowcasts/{}.csv", e.name)
}

fn note_file(e: &NowcastEntry) -> String {
    format!("nowcasts/{}.bias-note.md", e.name)
}

/// Writes `nowcasts/<name>.csv` (whole persons) and its bias note. The
/// administrative figure is not repeated: the release's tables hold the
/// protected one.
pub(crate) fn write(dir: &Path, e: &NowcastEntry) -> Result<(), PublishError> {
    let sub = dir.join("nowcasts");
    fs::create_dir_all(&sub).map_err(io(&sub))?;
    let text = e
        .data()
        .to_csv(true, false)
        .map_err(|err| PublishError::Write(err.to_string()))?;
    let path = dir.join(file(e));
    fs::write(&path, text).map_err(io(&path))?;
    let path = dir.join(note_file(e));
    fs::write(
        &path,
        format!("# Bias note: {}\n\n{}", e.title, e.data().note),
    )
    .map_err(io(&path))
}

pub(crate) fn resource(e: &NowcastEntry) -> Value {
    let text = |name: &str, d: &str| json!({"name": name, "type": "string", "description": d});
    let count = |name: &str, d: &str| json!({"name": name, "type": "integer", "description": d, "constraints": {"minimum": 0}});
    crate::package::csv_resource_at(
        &e.name,
        &e.title,
        &file(e),
        json!({"fields": [
            text("measure", "the flow nowcast"),
            text("reporting_country", "the country whose records the flow comes from"),
            text("origin", "where the corridor starts; _T for all"),
            text("destination", "where it ends; _T for all"),
            text("period", "YYYY-MM, YYYY-Qn or YYYY"),
            json!({"name": "horizon", "type": "integer", "description": "months after the last final month (months only)"}),
            count("estimate", "the nowcast (predictive median)"),
            count("lower80", "80 % prediction interval, lower end"),
            count("upper80", "80 % prediction interval, upper end"),
            count("lower95", "95 % prediction interval, lower end"),
            count("upper95", "95 % prediction interval, upper end"),
            text("model", "the structural model fitted"),
            text("signals", "the signals used and their lags"),
            text("status", "always experimental"),
        ], "missingValues": [""]}),
    )
}

pub(crate) fn manifest_entry(e: &NowcastEntry) -> Value {
    let d = e.data();
    json!({
        "name": e.name,
        "title": e.title,
        "status": "experimental",
        "measure": d.measure,
        "origin": d.origin,
        "signals_through": d.signals_through,
        "rows": d.rows.len(),
        "protection": e.protected.method(),
        "files": {"csv": file(e), "bias_note": note_file(e)},
    })
}

/// The methods note's section: what the nowcasts are, how they were
/// protected, and each one's bias note.
pub(crate) fn note(nowcasts: &[NowcastEntry], l: Lang) -> String {
    let mut s = String::new();
    if nowcasts.is_empty() {
        return s;
    }
    s.push_str(&format!(
        "\n## {}\n\n",
        l.pick(
            "Experimental statistics: nowcasts",
            "Estadísticas experimentales: estimaciones anticipadas"
        )
    ));
    s.push_str(l.pick(
        "Nowcasts predict the months whose administrative figure is not final yet, from each corridor's final months and auxiliary signals (a structural time-series model fitted by a Kalman filter). They were computed from the release's cell-key protected monthly table by corridor and from the signals, nothing else, so they are as protected as that table. They are experimental statistics: model predictions with 80 % and 95 % intervals, to be replaced by the administrative figures.\n",
        "Las estimaciones anticipadas predicen los meses cuya cifra administrativa aún no es definitiva, a partir de los meses definitivos de cada corredor y de señales auxiliares (un modelo estructural de series temporales ajustado con un filtro de Kalman). Se calcularon a partir de la tabla mensual por corredor protegida con clave de celda y de las señales, nada más, por lo que están tan protegidas como esa tabla. Son estadísticas experimentales: predicciones con intervalos del 80 % y el 95 %, que las cifras administrativas sustituirán.\n",
    ));
    for e in nowcasts {
        s.push_str(&format!("\n### {}\n\n{}\n", e.title, e.data().note));
    }
    s
}
