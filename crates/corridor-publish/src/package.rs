//! The release's manifest (`release.json`) and its Frictionless Data
//! Package (`datapackage.json`, one tabular resource per table).

use serde_json::{Value, json};

use crate::build::{Entry, TableUtility};
use crate::microdata::MicroEntry;
use crate::spec::ReleaseSpec;
use crate::synthetic::SynthEntry;

pub(crate) fn manifest(
    spec: &ReleaseSpec,
    entries: &[Entry],
    micro: &[MicroEntry],
    synth: &[SynthEntry],
    nowcasts: &[crate::nowcast::NowcastEntry],
    utility: &[TableUtility],
) -> String {
    let tables: Vec<Value> = entries
        .iter()
        .zip(utility)
        .map(|(e, u)| {
            let t = e.table();
            json!({
                "name": e.name,
                "title": e.title,
                "measure": t.measure,
                "dims": t.dims,
                "filter": t.filter,
                "cells": t.cells.len(),
                "protection": e.protected.method(),
                "notes": t.notes,
                "files": {
                    "csv": format!("data/{}.csv", e.name),
                    "parquet": format!("data/{}.parquet", e.name),
                    "sdmx_csv": format!("sdmx/{}.csv", e.name),
                },
                "dataflow": crate::sdmx::flow_id(&e.name),
                "value_type": if crate::build::is_rate(t) { "number" } else { "integer" },
                "cells_changed": u.cells_changed,
            })
        })
        .collect();
    let m = json!({
        "corridor_release": 1,
        "version": spec.version,
        "title": spec.title,
        "description": spec.description,
        "licence": spec.licence,
        "reference_period": spec.reference_period,
        "built_at": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "built_by": format!("corridor {}", env!("CARGO_PKG_VERSION")),
        "tables": tables,
        "microdata": micro.iter().map(crate::microdata::manifest_entry).collect::<Vec<_>>(),
        "synthetic": synth.iter().map(crate::synthetic::manifest_entry).collect::<Vec<_>>(),
        "nowcasts": nowcasts.iter().map(crate::nowcast::manifest_entry).collect::<Vec<_>>(),
        "sdmx_structure": "sdmx/structure.xml",
        "methods_note": {"en": "methods/methods.en.html", "es": "methods/methods.es.html"},
        "utility_report": "utility.json",
        "id": "the name of this folder: r + the first 20 hex digits of SHA-256(SHA256SUMS)",
    });
    serde_json::to_string_pretty(&m).unwrap_or_default()
}

/// Frictionless names: lower-case, digits, `-`, `_`, `.`.
pub(crate) fn datapackage(
    spec: &ReleaseSpec,
    entries: &[Entry],
    micro: &[MicroEntry],
    synth: &[SynthEntry],
    nowcasts: &[crate::nowcast::NowcastEntry],
) -> String {
    let mut resources: Vec<Value> = entries
        .iter()
        .map(|e| {
            let t = e.table();
            let mut fields: Vec<Value> = t
                .dims
                .iter()
                .map(|d| {
                    json!({
                        "name": d,
                        "type": "string",
                        "description": format!("{d} code; _T is the total over it, _U unknown"),
                        "constraints": {"required": true},
                    })
                })
                .collect();
            let rate = crate::build::is_rate(t);
            fields.push(json!({
                "name": "value",
                "type": if rate { "number" } else { "integer" },
                "description": format!("{} (protected: see the methods note); empty where suppressed", t.measure),
            }));
            fields.push(json!({
                "name": "obs_status",
                "type": "string",
                "description": "SDMX OBS_STATUS: A normal, P provisional",
                "constraints": {"required": true, "enum": ["A", "P"]},
            }));
            fields.push(json!({
                "name": "conf_status",
                "type": "string",
                "description": "SDMX CONF_STATUS: F free, C confidential (suppressed)",
                "constraints": {"required": true, "enum": ["F", "C"]},
            }));
            if crate::build::has_bounds(t) {
                fields.push(json!({
                    "name": crate::build::ERROR_BOUND,
                    "type": if rate { "number" } else { "integer" },
                    "description": "the value is within this many of the noise-free count with 95 % probability (differential privacy)",
                    "constraints": {"required": true, "minimum": 0},
                }));
            }
            let mut schema = json!({"fields": fields, "missingValues": [""]});
            if !t.dims.is_empty() {
                schema["primaryKey"] = json!(t.dims);
            }
            csv_resource(&e.name, &e.title, schema)
        })
        .collect();
    resources.extend(micro.iter().map(crate::microdata::resource));
    resources.extend(synth.iter().flat_map(crate::synthetic::resources));
    resources.extend(nowcasts.iter().map(crate::nowcast::resource));
    let p = json!({
        "profile": "tabular-data-package",
        "name": format!("corridor-{}", spec.version.to_lowercase().replace(['_', ' '], "-")),
        "title": spec.title,
        "description": spec.description,
        "version": spec.version,
        "licenses": [{"name": spec.licence}],
        "created": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "resources": resources,
    });
    serde_json::to_string_pretty(&p).unwrap_or_default()
}

/// A Frictionless tabular resource for `data/<name>.csv`.
pub(crate) fn csv_resource(name: &str, title: &str, schema: Value) -> Value {
    csv_resource_at(name, title, &format!("data/{name}.csv"), schema)
}

/// A Frictionless tabular resource for the CSV file at `path`.
pub(crate) fn csv_resource_at(name: &str, title: &str, path: &str, schema: Value) -> Value {
    json!({
        "name": name,
        "title": title,
        "path": path,
        "profile": "tabular-data-resource",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "schema": schema,
    })
}
