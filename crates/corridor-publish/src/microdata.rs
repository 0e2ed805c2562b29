//! Record-level data in a release: the workspace's trafficking cases,
//! k-anonymised by `corridor-protect`, written as CSV and Parquet with a
//! Frictionless resource and a paragraph of the methods note.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use corridor_model::age::{AgeGrouping, age_range};
use corridor_protect::{KAnonParams, KAnonReport, Ladder, Protected, PublishedMicrodata};
use corridor_store::Workspace;
use serde_json::{Value, json};

use crate::note::Lang;
use crate::spec::MicrodataRequest;
use crate::{PublishError, io};

/// Microdata as a release holds them.
pub(crate) struct MicroEntry {
    pub name: String,
    pub title: String,
    pub protected: Protected<PublishedMicrodata>,
    pub report: KAnonReport,
    /// Case records read (before one record per person was kept).
    pub case_records: usize,
}

/// How a case column generalises.
fn ladder(column: &str) -> Ladder {
    match column {
        // The case age groups climb to minor or adult, then `*`.
        "age_group" => Ladder::Parents(
            AgeGrouping::Cases
                .codes()
                .into_iter()
                .filter_map(|c| {
                    let (from, _) = age_range(c)?;
                    let up = AgeGrouping::Majority.code_of(from)?;
                    Some((c.to_string(), up.to_string()))
                })
                .collect::<HashMap<_, _>>(),
        ),
        "citizenship" | "country_of_exploitation" => Ladder::Country,
        _ => Ladder::Flat,
    }
}

/// k-anonymises the workspace's cases as `req` asks.
pub(crate) fn build(ws: &Workspace, req: &MicrodataRequest) -> Result<MicroEntry, PublishError> {
    let (all, rows, case_records) =
        corridor_cases::workspace_case_rows(ws).map_err(|e| PublishError::Write(e.to_string()))?;
    let at: Vec<usize> = req
        .columns
        .iter()
        .filter_map(|c| all.iter().position(|a| a == c))
        .collect();
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| at.iter().map(|&i| r[i].clone()).collect())
        .collect();
    let quasi = req
        .quasi
        .iter()
        .filter_map(|q| {
            req.columns
                .iter()
                .position(|c| c == q)
                .map(|i| (i, ladder(q)))
        })
        .collect();
    let params = KAnonParams { k: req.k, quasi };
    let (protected, report) =
        corridor_protect::k_anonymise(&req.columns, &rows, &params).map_err(|source| {
            PublishError::Protect {
                table: req.name.clone(),
                source,
            }
        })?;
    Ok(MicroEntry {
        name: req.name.clone(),
        title: req
            .title
            .clone()
            .unwrap_or_else(|| format!("Identified victims of trafficking, {}-anonymous", req.k)),
        protected,
        report,
        case_records,
    })
}

fn csv_of(m: &PublishedMicrodata) -> Result<Vec<u8>, PublishError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| PublishError::Write(e.to_string());
    w.write_record(&m.columns).map_err(err)?;
    for r in &m.rows {
        w.write_record(r).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| PublishError::Write(e.to_string()))
}

/// Writes `data/<name>.csv` and `data/<name>.parquet`.
pub(crate) fn write(dir: &Path, e: &MicroEntry) -> Result<(), PublishError> {
    let m = e.protected.value();
    let path = dir.join(format!("data/{}.csv", e.name));
    fs::write(&path, csv_of(m)?).map_err(io(&path))?;
    let fields: Vec<Field> = m
        .columns
        .iter()
        .map(|c| Field::new(c, DataType::Utf8, false))
        .collect();
    let arrays: Vec<ArrayRef> = (0..m.columns.len())
        .map(|c| {
            Arc::new(StringArray::from_iter_values(
                m.rows.iter().map(|r| r[c].as_str()),
            )) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| PublishError::Write(e.to_string()))?;
    let path = dir.join(format!("data/{}.parquet", e.name));
    crate::build::write_batch(&path, &batch)
}

/// The Frictionless resource of one microdata file.
pub(crate) fn resource(e: &MicroEntry) -> Value {
    let m = e.protected.value();
    let quasi = quasi_names(e);
    let fields: Vec<Value> = m
        .columns
        .iter()
        .map(|c| {
            let description = if quasi.contains(&c.as_str()) {
                format!("{c}: a quasi-identifier, possibly generalised; * where suppressed, empty where unknown")
            } else {
                format!("{c}; empty where unknown")
            };
            json!({"name": c, "type": "string", "description": description})
        })
        .collect();
    crate::package::csv_resource(&e.name, &e.title, json!({"fields": fields}))
}

fn quasi_names(e: &MicroEntry) -> Vec<&str> {
    e.report.columns.iter().map(|c| c.column.as_str()).collect()
}

/// What the build reports of an entry.
pub(crate) fn built(e: &MicroEntry) -> crate::build::RecordsBuilt {
    crate::build::RecordsBuilt {
        name: e.name.clone(),
        records: e.report.records,
        method: e.protected.method().clone(),
    }
}

/// The entry of one microdata file in `release.json`.
pub(crate) fn manifest_entry(e: &MicroEntry) -> Value {
    json!({
        "name": e.name,
        "title": e.title,
        "columns": e.protected.value().columns,
        "records": e.report.records,
        "quasi_identifiers": quasi_names(e),
        "protection": e.protected.method(),
        "report": e.report,
        "files": {
            "csv": format!("data/{}.csv", e.name),
            "parquet": format!("data/{}.parquet", e.name),
        },
    })
}

/// The methods note's section on the microdata.
pub(crate) fn note(micro: &[MicroEntry], l: Lang) -> String {
    let mut s = String::new();
    if micro.is_empty() {
        return s;
    }
    s.push_str(match l {
        Lang::En => "## The case records\n\n",
        Lang::Es => "## Los registros de casos\n\n",
    });
    for e in micro {
        let r = &e.report;
        let q = quasi_names(e).join(", ");
        let per: Vec<String> = r
            .columns
            .iter()
            .map(|c| match l {
                Lang::En => format!(
                    "`{}` shown at level {} ({} values coarsened, {} suppressed)",
                    c.column, c.level, c.generalised, c.suppressed
                ),
                Lang::Es => format!(
                    "`{}` en el nivel {} ({} valores agregados, {} suprimidos)",
                    c.column, c.level, c.generalised, c.suppressed
                ),
            })
            .collect();
        s.push_str(&match l {
            Lang::En => format!(
                "`{}` ({}) holds one record per identified victim ({} records, from {} case records of \
                 the organisations, the same person counted once). Someone who knows a victim's {q} from \
                 elsewhere could pick their record out of a full file. So these columns were made coarser \
                 (a country shown as its UN M49 sub-region or region, by its M49 number such as 419 for Latin America and the Caribbean; an age group as minor or adult) and, where that was \
                 not enough, single values were replaced by `*`, until every combination of them is shared \
                 by at least {} records (k-anonymity; the smallest group has {}). No record was dropped. \
                 Per column: {}. Level 0 is the value as recorded.\n\n",
                e.name,
                e.title,
                r.records,
                e.case_records,
                r.k,
                r.smallest_class,
                per.join("; ")
            ),
            Lang::Es => format!(
                "`{}` ({}) tiene un registro por víctima identificada ({} registros, de {} registros de \
                 casos de las organizaciones, la misma persona contada una vez). Quien conozca por otra vía \
                 {q} de una víctima podría encontrar su registro en un archivo completo. Por eso esas \
                 columnas se agregaron (un país como su subregión o región M49 de la ONU, por su número M49, como 419 para América \
                 Latina y el Caribe; un grupo de edad como menor o adulto) y, donde no bastó, se reemplazaron valores sueltos por `*`, hasta que cada \
                 combinación la comparten al menos {} registros (k-anonimato; el grupo más pequeño tiene {}). \
                 No se eliminó ningún registro. Por columna: {}. El nivel 0 es el valor registrado.\n\n",
                e.name,
                e.title,
                r.records,
                e.case_records,
                r.k,
                r.smallest_class,
                per.join("; ")
            ),
        });
    }
    s
}
