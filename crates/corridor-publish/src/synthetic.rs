//! Synthetic case data in a release: a synthesis of the workspace's
//! linked cases by `corridor-protect`, its files under
//! `synthetic/<name>/`, Frictionless resources for its CSV files, its
//! entry in `release.json` and its paragraph of the methods note.

use std::fs;
use std::path::Path;

use corridor_protect::{Method, Protected, PublishedSynthetic};
use corridor_store::Workspace;
use serde_json::{Value, json};

use crate::note::Lang;
use crate::spec::{SyntheticMethod, SyntheticRequest};
use crate::{PublishError, io};

/// Synthetic data as a release holds them.
pub(crate) struct SynthEntry {
    pub name: String,
    pub title: String,
    pub protected: Protected<PublishedSynthetic>,
}

impl SynthEntry {
    fn data(&self) -> &PublishedSynthetic {
        self.protected.value()
    }

    fn has(&self, file: &str) -> bool {
        self.data().files.iter().any(|(n, _)| n == file)
    }
}

/// Runs the synthesis `req` asks for, through a scratch folder under
/// `out` (removed when done).
pub(crate) fn build(
    ws: &Workspace,
    req: &SyntheticRequest,
    out: &Path,
) -> Result<SynthEntry, PublishError> {
    fs::create_dir_all(out).map_err(io(out))?;
    let mut tag = [0u8; 6];
    getrandom::fill(&mut tag).map_err(|e| PublishError::Write(e.to_string()))?;
    let scratch = out.join(format!(".synthesising-{}-{}", req.name, hex::encode(tag)));
    let protected =
        corridor_protect::synthesise_cases(ws, req.synthesis(), &scratch).map_err(|source| {
            PublishError::Protect {
                table: req.name.clone(),
                source,
            }
        })?;
    let title = req.title.clone().unwrap_or_else(|| match req.method {
        SyntheticMethod::KSynthetic => "Synthetic victims of trafficking (k-synthetic)".into(),
        SyntheticMethod::Dp => "Synthetic victims of trafficking (differentially private)".into(),
    });
    Ok(SynthEntry {
        name: req.name.clone(),
        title,
        protected,
    })
}

/// What the build reports of an entry.
pub(crate) fn built(e: &SynthEntry) -> crate::build::RecordsBuilt {
    crate::build::RecordsBuilt {
        name: e.name.clone(),
        records: e.data().report.synthetic_rows,
        method: e.protected.method().clone(),
    }
}

/// The folder of an entry inside the release.
fn folder(e: &SynthEntry) -> String {
    format!("synthetic/{}", e.name)
}

/// Writes `synthetic/<name>/` with every file of the synthesis.
pub(crate) fn write(dir: &Path, e: &SynthEntry) -> Result<(), PublishError> {
    let sub = dir.join(folder(e));
    fs::create_dir_all(&sub).map_err(io(&sub))?;
    for (name, bytes) in &e.data().files {
        let path = sub.join(name);
        fs::write(&path, bytes).map_err(io(&path))?;
    }
    Ok(())
}

/// Frictionless resources: the synthetic records, and (k-synthetic) the
/// aggregates.
pub(crate) fn resources(e: &SynthEntry) -> Vec<Value> {
    let mut out = Vec::new();
    let fields: Vec<Value> = e
        .data()
        .report
        .columns
        .iter()
        .map(|c| json!({"name": c, "type": "string", "description": format!("{c}; empty where withheld or unknown")}))
        .collect();
    out.push(crate::package::csv_resource_at(
        &e.name,
        &e.title,
        &format!("{}/synthetic.csv", folder(e)),
        json!({"fields": fields, "missingValues": [""]}),
    ));
    if e.has("aggregates.csv") {
        out.push(crate::package::csv_resource_at(
            &format!("{}_aggregates", e.name),
            &format!("{}: aggregate counts", e.title),
            &format!("{}/aggregates.csv", folder(e)),
            json!({"fields": [
                {"name": "selections", "type": "string", "description": "attribute:value pairs joined by ;", "constraints": {"required": true}},
                {"name": "length", "type": "integer", "description": "how many attributes the combination has", "constraints": {"required": true, "minimum": 1}},
                {"name": "count", "type": "integer", "description": "victims with that combination, rounded down to a multiple of the reporting resolution", "constraints": {"required": true, "minimum": 0}},
            ]}),
        ));
    }
    out
}

/// The entry of one synthesis in `release.json`.
pub(crate) fn manifest_entry(e: &SynthEntry) -> Value {
    let d = e.data();
    let file = |n: &str| e.has(n).then(|| format!("{}/{n}", folder(e)));
    json!({
        "name": e.name,
        "title": e.title,
        "columns": d.report.columns,
        "synthetic_records": d.report.synthetic_rows,
        "persons": d.persons,
        "case_records": d.case_records,
        "protection": e.protected.method(),
        "rho_spent_on_cases": d.rho_spent,
        "mean_tvd": d.report.tvd,
        "files": {
            "synthetic": file("synthetic.csv"),
            "aggregates": file("aggregates.csv"),
            "privacy": file("privacy.json"),
            "report": file("report.html"),
            "report_json": file("report.json"),
            "readme": file("README.md"),
        },
    })
}

/// The methods note's section on the synthetic data.
pub(crate) fn note(synth: &[SynthEntry], l: Lang) -> String {
    let mut s = String::new();
    if synth.is_empty() {
        return s;
    }
    s.push_str(match l {
        Lang::En => "## Synthetic case data\n\n",
        Lang::Es => "## Datos sintéticos de casos\n\n",
    });
    s.push_str(match l {
        Lang::En => "Synthetic records look like case records, one per victim, but none is a real person's: \
            they were drawn so that the data keep the patterns of the real cases (how many victims of each sex, \
            age group, nationality and form of exploitation, and how these go together) without copying anyone. \
            Each folder holds the records (`synthetic.csv`), a README, and a report (`report.html`) of how close \
            they stay to the real data, in protected figures only.\n\n",
        Lang::Es => "Los registros sintéticos parecen registros de casos, uno por víctima, pero ninguno es el de \
            una persona real: se generaron de modo que conserven los patrones de los casos reales (cuántas víctimas \
            de cada sexo, grupo de edad, nacionalidad y forma de explotación, y cómo se combinan) sin copiar a nadie. \
            Cada carpeta tiene los registros (`synthetic.csv`), un README y un informe (`report.html`) de cuánto se \
            parecen a los datos reales, solo con cifras protegidas.\n\n",
    });
    for e in synth {
        let d = e.data();
        let tvd = d.report.tvd;
        s.push_str(&format!(
            "### `{}` ({})\n\n{}\n\n",
            e.name,
            e.title,
            explain(e.protected.method(), l)
        ));
        s.push_str(&match l {
            Lang::En => format!(
                "{} synthetic records, from {} victims ({} case records, the same person counted once); \
                 columns: {}. On average over all combinations of one, two and three columns, the shares differ \
                 from the real data's by {:.3}, {:.3} and {:.3} (total variation distance: 0 is identical, 1 \
                 shares nothing). Files: `{}/`.\n\n",
                d.report.synthetic_rows,
                d.persons,
                d.case_records,
                d.report.columns.join(", "),
                tvd[0],
                tvd[1],
                tvd[2],
                folder(e)
            ),
            Lang::Es => format!(
                "{} registros sintéticos, de {} víctimas ({} registros de casos, la misma persona contada una vez); \
                 columnas: {}. En promedio sobre todas las combinaciones de una, dos y tres columnas, las \
                 proporciones difieren de las de los datos reales en {:.3}, {:.3} y {:.3} (distancia de variación \
                 total: 0 es idéntico, 1 no comparte nada). Archivos: `{}/`.\n\n",
                d.report.synthetic_rows,
                d.persons,
                d.case_records,
                d.report.columns.join(", "),
                tvd[0],
                tvd[1],
                tvd[2],
                folder(e)
            ),
        });
    }
    s
}

pub(crate) fn explain(m: &Method, l: Lang) -> String {
    match (m, l) {
        (
            Method::KSynthetic {
                k,
                length,
                resolution,
            },
            Lang::En,
        ) => format!(
            "k-synthetic data (k = {k}, L = {length}, reporting resolution = {resolution}). Nothing is published \
             about a group of fewer than {k} victims: every combination of up to {length} attributes that appears in \
             the synthetic records or in `aggregates.csv` is shared by at least {k} real victims, so no one can be \
             singled out by a rare mix of traits. The aggregates count how many victims share each such \
             combination, rounded down to a multiple of {resolution}, so that two figures cannot be subtracted to \
             reveal one victim. A value held by fewer than {k} victims never appears; an empty cell is a value \
             withheld."
        ),
        (
            Method::KSynthetic {
                k,
                length,
                resolution,
            },
            Lang::Es,
        ) => format!(
            "Datos k-sintéticos (k = {k}, L = {length}, resolución = {resolution}). No se publica nada sobre un grupo \
             de menos de {k} víctimas: toda combinación de hasta {length} atributos que aparece en los registros \
             sintéticos o en `aggregates.csv` la comparten al menos {k} víctimas reales, así que nadie puede ser \
             señalado por una mezcla rara de rasgos. Los agregados cuentan cuántas víctimas comparten cada \
             combinación, redondeados hacia abajo a un múltiplo de {resolution}, para que dos cifras no puedan \
             restarse y revelar a una víctima. Un valor de menos de {k} víctimas nunca aparece; una celda vacía es \
             un valor reservado."
        ),
        (
            Method::DpSynthesis {
                rho,
                epsilon,
                delta,
                ..
            },
            Lang::En,
        ) => format!(
            "Differentially private synthetic data (ρ = {rho:.4} in zero-concentrated DP, about ε = {epsilon:.2} \
             with δ = {delta:e}). The records were drawn from a model built only from counts of pairs of columns \
             to which OpenDP added random noise; the model never saw a record. Whether or not any one victim is in \
             the data changes the chance of any published result by a factor of at most about e^ε, except with \
             probability δ. The categories of each column were fixed beforehand from the code lists, never taken \
             from the data, so a rare category can appear even if no victim has it: such records are noise and \
             say nothing about anyone. This synthesis is charged to the cases' privacy-loss budget in the \
             workspace's ledger; `privacy.json` lists every noisy measurement."
        ),
        (
            Method::DpSynthesis {
                rho,
                epsilon,
                delta,
                ..
            },
            Lang::Es,
        ) => format!(
            "Datos sintéticos con privacidad diferencial (ρ = {rho:.4} en privacidad diferencial concentrada en \
             cero, alrededor de ε = {epsilon:.2} con δ = {delta:e}). Los registros se generaron con un modelo \
             construido solo con conteos de pares de columnas a los que OpenDP añadió ruido aleatorio; el modelo \
             nunca vio un registro. Que una víctima concreta esté o no en los datos cambia la probabilidad de \
             cualquier resultado publicado a lo sumo en un factor de alrededor de e^ε, salvo con probabilidad δ. \
             Las categorías de cada columna se fijaron de antemano a partir de las listas de códigos, nunca de los \
             datos, así que una categoría rara puede aparecer aunque ninguna víctima la tenga: esos registros son \
             ruido y no dicen nada de nadie. Esta síntesis se carga al presupuesto de pérdida de privacidad de los \
             casos en el registro del espacio de trabajo; `privacy.json` lista cada medición con ruido."
        ),
        _ => String::new(),
    }
}
