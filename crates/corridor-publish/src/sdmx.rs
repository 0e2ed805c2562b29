//! SDMX: one SDMX-ML 3.0 structure message for the release (code lists
//! from Corridor's code lists with English and Spanish names, one concept
//! scheme, a data structure and a dataflow per table) and each table's
//! observations as SDMX-CSV 2.0.
//!
//! Every data structure starts with a `MEASURE` dimension (what is
//! counted), so that a table by month alone still has the non-time
//! dimension SDMX requires. `month` or `year` becomes `TIME_PERIOD`. A cell
//! totalled over the time dimension (`_T`), or of an unknown period, is
//! not an SDMX observation (a time period cannot be "all periods"): it is
//! in the release's CSV and Parquet files, not in the SDMX-CSV.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use corridor_model::CodeListId;
use corridor_stats::{TOTAL, UNKNOWN};

use crate::build::{Entry, statuses, value_text};
use crate::spec::ReleaseSpec;

pub(crate) const AGENCY: &str = "CORRIDOR";
const VERSION: &str = "1.0";
const SCHEME: &str = "CS_CORRIDOR";

pub(crate) fn flow_id(table: &str) -> String {
    table.to_uppercase()
}

fn structure_id(table: &str) -> String {
    format!("{AGENCY}:{}({VERSION})", flow_id(table))
}

/// The time dimension of a table, if any: its position and SDMX type.
fn time_dim(dims: &[String]) -> Option<(usize, &'static str)> {
    if let Some(i) = dims.iter().position(|d| d == "month") {
        return Some((i, "GregorianYearMonth"));
    }
    dims.iter()
        .position(|d| d == "year")
        .map(|i| (i, "GregorianYear"))
}

/// English and Spanish names of the dimensions Corridor's tables have.
fn concept_names(dim: &str) -> (String, String) {
    let known = [
        ("measure", "What is counted", "Qué se cuenta"),
        ("time_period", "Time period", "Periodo"),
        ("obs_value", "Observation value", "Valor observado"),
        (
            "obs_status",
            "Observation status",
            "Estado de la observación",
        ),
        (
            "conf_status",
            "Confidentiality status",
            "Estado de confidencialidad",
        ),
        ("reporting_country", "Reporting country", "País informante"),
        ("citizenship", "Citizenship", "Nacionalidad"),
        (
            "citizenship_region",
            "Region of citizenship (M49)",
            "Región de nacionalidad (M49)",
        ),
        (
            "counterpart_country",
            "Counterpart country",
            "País de contraparte",
        ),
        ("host_country", "Host country", "País de acogida"),
        (
            "destination_country",
            "Country of return",
            "País de retorno",
        ),
        ("sex", "Sex", "Sexo"),
        ("age_group", "Age group", "Grupo de edad"),
        ("visa_type", "Visa type", "Tipo de visa"),
        ("travel_purpose", "Purpose of travel", "Motivo del viaje"),
        ("transport_mode", "Mode of transport", "Medio de transporte"),
        ("direction", "Direction", "Sentido"),
        (
            "residence_status",
            "Residence status",
            "Condición de residencia",
        ),
        (
            "location",
            "Location at month end",
            "Ubicación a fin de mes",
        ),
        ("return_type", "Type of return", "Tipo de retorno"),
        ("permit_type", "Permit type", "Tipo de permiso"),
        ("decision", "Decision", "Decisión"),
    ];
    known
        .iter()
        .find(|k| k.0 == dim)
        .map(|k| (k.1.to_string(), k.2.to_string()))
        .unwrap_or_else(|| (dim.replace('_', " "), dim.replace('_', " ")))
}

struct Codelist {
    id: String,
    names: (String, String),
    /// code → (English, Spanish)
    codes: BTreeMap<String, (String, String)>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn names(out: &mut String, indent: &str, en: &str, es: &str) {
    let _ = writeln!(
        out,
        "{indent}<com:Name xml:lang=\"en\">{}</com:Name>",
        esc(en)
    );
    let _ = writeln!(
        out,
        "{indent}<com:Name xml:lang=\"es\">{}</com:Name>",
        esc(es)
    );
}

/// The code list of a dimension: the model's list where there is one (all
/// its codes: the categories are fixed before the data are read), else the
/// codes the table uses; `_T` and `_U` always.
fn codelist_for(dim: &str, used: &BTreeSet<String>) -> Codelist {
    let mut codes = BTreeMap::new();
    let (id, names) = match CodeListId::of_dimension(dim) {
        Some(list) => {
            for c in &list.list().codes {
                codes.insert(c.code.clone(), (c.label_en.clone(), c.label_es.clone()));
            }
            let n = concept_names(list.name());
            (format!("CL_{}", list.name().to_uppercase()), n)
        }
        None => {
            for c in used {
                codes.insert(c.clone(), (c.clone(), c.clone()));
            }
            (format!("CL_{}", dim.to_uppercase()), concept_names(dim))
        }
    };
    // Codes the table uses that the list lacks (a code list grew after
    // the data were coded) are kept, named by their code.
    for c in used {
        codes
            .entry(c.clone())
            .or_insert_with(|| (c.clone(), c.clone()));
    }
    codes.insert(TOTAL.into(), ("Total".into(), "Total".into()));
    codes.insert(UNKNOWN.into(), ("Unknown".into(), "Desconocido".into()));
    Codelist { id, names, codes }
}

fn urn_concept(id: &str) -> String {
    format!("urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept={AGENCY}:{SCHEME}({VERSION}).{id}")
}

fn urn_codelist(id: &str) -> String {
    format!("urn:sdmx:org.sdmx.infomodel.codelist.Codelist={AGENCY}:{id}({VERSION})")
}

/// The structure message of the release.
pub(crate) fn structure(spec: &ReleaseSpec, entries: &[Entry]) -> String {
    // Code lists, by id, with the codes every table uses.
    let mut lists: BTreeMap<String, Codelist> = BTreeMap::new();
    let mut dim_list: BTreeMap<String, String> = BTreeMap::new();
    for e in entries {
        let t = e.table();
        let time = time_dim(&t.dims).map(|x| x.0);
        for (i, d) in t.dims.iter().enumerate() {
            if Some(i) == time {
                continue;
            }
            let used: BTreeSet<String> = t.cells.iter().map(|c| c.coords[i].clone()).collect();
            let cl = codelist_for(d, &used);
            dim_list.insert(d.clone(), cl.id.clone());
            match lists.get_mut(&cl.id) {
                Some(have) => have.codes.extend(cl.codes),
                None => {
                    lists.insert(cl.id.clone(), cl);
                }
            }
        }
    }
    let measures: BTreeMap<String, (String, String)> = entries
        .iter()
        .map(|e| {
            let m = &e.table().measure;
            let en = corridor_stats::measure(m)
                .map(|x| x.description.to_string())
                .unwrap_or_else(|_| m.clone());
            (m.to_uppercase(), (en.clone(), en))
        })
        .collect();
    lists.insert(
        "CL_MEASURE".into(),
        Codelist {
            id: "CL_MEASURE".into(),
            names: ("Measure".into(), "Medida".into()),
            codes: measures,
        },
    );
    let fixed = |id: &str, n: (&str, &str), codes: &[(&str, &str, &str)]| Codelist {
        id: id.into(),
        names: (n.0.into(), n.1.into()),
        codes: codes
            .iter()
            .map(|c| (c.0.to_string(), (c.1.to_string(), c.2.to_string())))
            .collect(),
    };
    lists.insert(
        "CL_OBS_STATUS".into(),
        fixed(
            "CL_OBS_STATUS",
            ("Observation status", "Estado de la observación"),
            &[
                ("A", "Normal value", "Valor normal"),
                ("P", "Provisional value", "Valor provisional"),
            ],
        ),
    );
    lists.insert(
        "CL_CONF_STATUS".into(),
        fixed(
            "CL_CONF_STATUS",
            ("Confidentiality status", "Estado de confidencialidad"),
            &[
                ("F", "Free", "Libre"),
                ("C", "Confidential", "Confidencial"),
            ],
        ),
    );

    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str("<mes:Structure xmlns:mes=\"http://www.sdmx.org/resources/sdmxml/schemas/v3_0/message\" xmlns:str=\"http://www.sdmx.org/resources/sdmxml/schemas/v3_0/structure\" xmlns:com=\"http://www.sdmx.org/resources/sdmxml/schemas/v3_0/common\">\n");
    let header_id: String = format!("CORRIDOR_{}", spec.version)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let _ = writeln!(
        x,
        "  <mes:Header>\n    <mes:ID>{header_id}</mes:ID>\n    <mes:Test>false</mes:Test>\n    <mes:Prepared>{}</mes:Prepared>\n    <mes:Sender id=\"{AGENCY}\"/>\n  </mes:Header>",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    x.push_str("  <mes:Structures>\n    <str:Codelists>\n");
    for cl in lists.values() {
        let _ = writeln!(
            x,
            "      <str:Codelist urn=\"{}\" id=\"{}\" agencyID=\"{AGENCY}\" version=\"{VERSION}\">",
            urn_codelist(&cl.id),
            cl.id
        );
        names(&mut x, "        ", &cl.names.0, &cl.names.1);
        for (code, (en, es)) in &cl.codes {
            let _ = writeln!(x, "        <str:Code id=\"{}\">", esc(code));
            names(&mut x, "          ", en, es);
            x.push_str("        </str:Code>\n");
        }
        x.push_str("      </str:Codelist>\n");
    }
    x.push_str("    </str:Codelists>\n    <str:ConceptSchemes>\n");
    let _ = writeln!(
        x,
        "      <str:ConceptScheme id=\"{SCHEME}\" agencyID=\"{AGENCY}\" version=\"{VERSION}\">"
    );
    names(
        &mut x,
        "        ",
        "Corridor concepts",
        "Conceptos de Corridor",
    );
    let mut concepts: BTreeSet<String> = [
        "measure",
        "time_period",
        "obs_value",
        "obs_status",
        "conf_status",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for e in entries {
        concepts.extend(
            e.table()
                .dims
                .iter()
                .filter(|d| *d != "month" && *d != "year")
                .cloned(),
        );
    }
    for c in &concepts {
        let _ = writeln!(x, "        <str:Concept id=\"{}\">", c.to_uppercase());
        let (en, es) = concept_names(c);
        names(&mut x, "          ", &en, &es);
        x.push_str("        </str:Concept>\n");
    }
    x.push_str("      </str:ConceptScheme>\n    </str:ConceptSchemes>\n    <str:Dataflows>\n");
    for e in entries {
        let id = flow_id(&e.name);
        let _ = writeln!(
            x,
            "      <str:Dataflow id=\"{id}\" agencyID=\"{AGENCY}\" version=\"{VERSION}\">"
        );
        names(&mut x, "        ", &e.title, &e.title);
        let _ = writeln!(
            x,
            "        <str:Structure>urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure={AGENCY}:DSD_{id}({VERSION})</str:Structure>\n      </str:Dataflow>"
        );
    }
    x.push_str("    </str:Dataflows>\n    <str:DataStructures>\n");
    for e in entries {
        let t = e.table();
        let id = flow_id(&e.name);
        let _ = writeln!(
            x,
            "      <str:DataStructure id=\"DSD_{id}\" agencyID=\"{AGENCY}\" version=\"{VERSION}\">"
        );
        names(&mut x, "        ", &e.title, &e.title);
        x.push_str("        <str:DataStructureComponents>\n          <str:DimensionList id=\"DimensionDescriptor\">\n");
        let dimension = |x: &mut String, dim: &str, pos: usize, list: &str| {
            let _ = writeln!(
                x,
                "            <str:Dimension id=\"{}\" position=\"{pos}\">\n              <str:ConceptIdentity>{}</str:ConceptIdentity>\n              <str:LocalRepresentation>\n                <str:Enumeration>{}</str:Enumeration>\n              </str:LocalRepresentation>\n            </str:Dimension>",
                dim.to_uppercase(),
                urn_concept(&dim.to_uppercase()),
                urn_codelist(list)
            );
        };
        dimension(&mut x, "measure", 1, "CL_MEASURE");
        let time = time_dim(&t.dims);
        let mut pos = 2;
        for (i, d) in t.dims.iter().enumerate() {
            if Some(i) == time.map(|t| t.0) {
                continue;
            }
            dimension(&mut x, d, pos, dim_list.get(d).map_or("", String::as_str));
            pos += 1;
        }
        if let Some((_, kind)) = time {
            let _ = writeln!(
                x,
                "            <str:TimeDimension id=\"TIME_PERIOD\">\n              <str:ConceptIdentity>{}</str:ConceptIdentity>\n              <str:LocalRepresentation>\n                <str:TextFormat textType=\"{kind}\"/>\n              </str:LocalRepresentation>\n            </str:TimeDimension>",
                urn_concept("TIME_PERIOD")
            );
        }
        x.push_str("          </str:DimensionList>\n          <str:AttributeList id=\"AttributeDescriptor\">\n");
        for (attr, list) in [
            ("OBS_STATUS", "CL_OBS_STATUS"),
            ("CONF_STATUS", "CL_CONF_STATUS"),
        ] {
            let _ = writeln!(
                x,
                "            <str:Attribute id=\"{attr}\" usage=\"mandatory\">\n              <str:ConceptIdentity>{}</str:ConceptIdentity>\n              <str:LocalRepresentation>\n                <str:Enumeration>{}</str:Enumeration>\n              </str:LocalRepresentation>\n              <str:AttributeRelationship>\n                <str:Observation/>\n              </str:AttributeRelationship>\n            </str:Attribute>",
                urn_concept(attr),
                urn_codelist(list)
            );
        }
        let _ = writeln!(
            x,
            "          </str:AttributeList>\n          <str:MeasureList id=\"MeasureDescriptor\">\n            <str:Measure id=\"OBS_VALUE\" usage=\"optional\">\n              <str:ConceptIdentity>{}</str:ConceptIdentity>\n              <str:LocalRepresentation>\n                <str:TextFormat textType=\"{}\"/>\n              </str:LocalRepresentation>\n            </str:Measure>\n          </str:MeasureList>\n        </str:DataStructureComponents>\n      </str:DataStructure>",
            urn_concept("OBS_VALUE"),
            // Counts are whole numbers; rates have decimals.
            if crate::build::is_rate(e.table()) {
                "Decimal"
            } else {
                "Long"
            }
        );
    }
    x.push_str("    </str:DataStructures>\n  </mes:Structures>\n</mes:Structure>\n");
    x
}

/// A table's observations as SDMX-CSV 2.0, in the data structure's
/// dimension order (MEASURE, the others, TIME_PERIOD last).
pub(crate) fn data_csv(name: &str, t: &corridor_protect::PublishedTable) -> String {
    let time = time_dim(&t.dims).map(|x| x.0);
    let others: Vec<usize> = (0..t.dims.len()).filter(|i| Some(*i) != time).collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = vec![
        "STRUCTURE".into(),
        "STRUCTURE_ID".into(),
        "ACTION".into(),
        "MEASURE".into(),
    ];
    header.extend(others.iter().map(|&i| t.dims[i].to_uppercase()));
    if time.is_some() {
        header.push("TIME_PERIOD".into());
    }
    header.extend([
        "OBS_VALUE".into(),
        "OBS_STATUS".into(),
        "CONF_STATUS".into(),
    ]);
    // Writing to memory cannot fail.
    let _ = w.write_record(&header);
    let sid = structure_id(name);
    let measure = t.measure.to_uppercase();
    for c in &t.cells {
        // All periods, or an unknown one, is no SDMX time period.
        if time.is_some_and(|i| c.coords[i] == TOTAL || c.coords[i] == UNKNOWN) {
            continue;
        }
        let (obs, conf) = statuses(c);
        let mut row = vec![
            "dataflow".to_string(),
            sid.clone(),
            "I".into(),
            measure.clone(),
        ];
        row.extend(others.iter().map(|&i| c.coords[i].clone()));
        if let Some(i) = time {
            row.push(c.coords[i].clone());
        }
        row.extend([
            value_text(c.value, crate::build::is_rate(t)),
            obs.into(),
            conf.into(),
        ]);
        let _ = w.write_record(&row);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
