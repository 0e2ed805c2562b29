//! `corridor mapping draft`: a first mapping from a file's headers, by
//! matching them to standard fields in English, Spanish and French.

use corridor_model::{FieldType, RecordType, for_display};

use crate::IngestError;
use crate::mapping::ReaderOptions;
use crate::read;

/// Words that name each field in the headers agencies use.
fn synonyms(field: &str) -> &'static [&'static str] {
    match field {
        "person_key" => &[
            "numero de documento",
            "numero documento",
            "document number",
            "passport number",
            "pasaporte",
            "passport",
            "documento",
            "numero de pasaporte",
            "numero de passeport",
            "id number",
            "travel document number",
            "doc",
        ],
        "case_key" => &[
            "case number",
            "case id",
            "caseid",
            "expediente",
            "no expediente",
            "numero de caso",
            "caso",
            "dossier",
        ],
        "reporting_country" => &["reporting country", "pais que reporta", "pays declarant"],
        "direction" => &[
            "tipo de movimiento",
            "tipo movimiento",
            "movimiento",
            "direction",
            "movement",
            "flujo",
            "entry exit",
            "entrada salida",
            "sens",
            "type de mouvement",
        ],
        "event_date" => &[
            "fecha",
            "fecha movimiento",
            "fecha hora",
            "date",
            "event date",
            "crossing date",
            "date de passage",
            "fecha de cruce",
        ],
        "event_time" => &["hora", "time", "heure"],
        "border_post" => &[
            "puesto fronterizo",
            "puesto",
            "delegacion",
            "border post",
            "port of entry",
            "poste frontiere",
            "punto de control",
        ],
        "transport_mode" => &["medio de transporte", "transport", "via", "mode"],
        "counterpart_country" => &[
            "pais procedencia destino",
            "procedencia destino",
            "pais origen destino",
            "origin destination",
            "procedencia",
            "destino",
        ],
        "citizenship" => &[
            "nacionalidad",
            "nationality",
            "citizenship",
            "nationalite",
            "pais nacionalidad",
        ],
        "country_of_birth" => &[
            "pais de nacimiento",
            "country of birth",
            "pays de naissance",
        ],
        "sex" => &["sexo", "sex", "gender", "genero", "sexe"],
        "date_of_birth" => &[
            "fecha de nacimiento",
            "fecha nacimiento",
            "date of birth",
            "dob",
            "birth date",
            "date de naissance",
            "nacimiento",
        ],
        "age" => &["edad", "age"],
        "document_type" => &[
            "tipo de documento",
            "tipo documento",
            "document type",
            "type de document",
        ],
        "travel_purpose" => &[
            "motivo del viaje",
            "motivo",
            "purpose",
            "purpose of travel",
            "motif",
        ],
        "visa_type" => &["tipo de visa", "visa", "visa type", "type de visa"],
        "permitted_stay_days" => &[
            "dias autorizados",
            "dias permitidos",
            "days authorised",
            "permitted days",
            "length of stay",
            "jours autorises",
        ],
        "residence_status" => &[
            "calidad migratoria",
            "categoria migratoria",
            "residence status",
            "statut",
        ],
        "issue_date" => &[
            "fecha de emision",
            "fecha emision",
            "issue date",
            "date de delivrance",
            "emision",
        ],
        "valid_until" => &[
            "vigente hasta",
            "vence",
            "valid until",
            "expiry",
            "expiration",
            "date d expiration",
        ],
        "permit_type" => &[
            "tipo de residencia",
            "permit type",
            "tipo residencia",
            "type de titre",
        ],
        "return_type" => &["return type", "tipo de retorno", "type de retour"],
        "return_date" => &[
            "arrival date",
            "return date",
            "fecha de retorno",
            "fecha de llegada",
            "date de retour",
        ],
        "host_country" => &[
            "returned from",
            "pais de retorno desde",
            "host country",
            "pays d accueil",
        ],
        "destination_country" => &["country of return", "pais de retorno", "destination"],
        "registration_year" => &[
            "year of registration",
            "yearofregistration",
            "ano de registro",
            "anio",
        ],
        "registration_date" => &[
            "registration date",
            "fecha de registro",
            "intake date",
            "date d enregistrement",
        ],
        "country_of_exploitation" => &[
            "country of exploitation",
            "countryofexploitation",
            "pais de explotacion",
            "country where exploited",
        ],
        "exploitation_types" => &[
            "tipo de trata",
            "exploitation",
            "type of exploitation",
            "forma de explotacion",
        ],
        "means_of_control" => &["medios de control", "means of control", "control methods"],
        "recruiter_relationship" => &[
            "recruiter",
            "relacion con el captador",
            "recruiter relationship",
            "recruiterrelationship",
        ],
        "labour_industry" => &[
            "industry",
            "actividad",
            "type of labour",
            "typeoflabour",
            "sector",
        ],
        "country" => &["iso3", "country", "pais", "pays"],
        "reference_year" => &["year", "ano", "annee"],
        "age_group" => &["age group", "grupo de edad", "groupe d age"],
        "population" => &["population", "poblacion"],
        _ => &[],
    }
}

fn fold(s: &str) -> String {
    corridor_model::fold_words(s, " ")
}

/// How well a header names a field: 3 exact synonym, 2 the field's own
/// name, 1 a synonym inside the header, 0 none.
fn score(field: &str, header: &str) -> u8 {
    let h = fold(header);
    if synonyms(field).iter().any(|s| *s == h) {
        3
    } else if h.replace(' ', "_") == field {
        2
    } else if synonyms(field).iter().any(|s| s.len() > 4 && h.contains(s)) {
        1
    } else {
        0
    }
}

/// Writes a draft mapping (TOML) for a file and a record type.
pub fn draft(file: &std::path::Path, record_type: RecordType) -> Result<String, IngestError> {
    let opts = ReaderOptions::default();
    let mut reader = read::open(file, &opts, &[])?;
    let headers = reader.headers().to_vec();
    let detected = reader.detected();
    let _ = reader.next_row();
    let format = match read::format_of(file, &opts)? {
        read::Format::Csv => "csv",
        read::Format::Excel => "excel",
        read::Format::Json => "json",
        read::Format::Ndjson => "ndjson",
        read::Format::Parquet => "parquet",
    };
    let mut out = String::new();
    out.push_str(&format!(
        "# Draft mapping for {} — check every line, then run `corridor mapping check`.\nrecord_type = \"{}\"\nsource = \"{}\"\n\n[reader]\nformat = \"{format}\"\n",
        file.display(),
        record_type.name(),
        file.file_stem().and_then(|s| s.to_str()).unwrap_or("source")
    ));
    for (k, v) in &detected {
        match k.as_str() {
            "encoding" => out.push_str(&format!(
                "encoding = \"{}\"  # {v}\n",
                v.split(' ').next().unwrap_or("auto").to_lowercase()
            )),
            "delimiter" => {
                let d = v.chars().nth(1).unwrap_or(',');
                let shown = if d == '\t' {
                    "\\t".to_string()
                } else {
                    d.to_string()
                };
                out.push_str(&format!("delimiter = \"{shown}\"\n"));
            }
            "sheet" => out.push_str(&format!("sheet = {}\n", toml_string(v))),
            _ => {}
        }
    }
    out.push_str("# date_formats = [\"%d/%m/%Y\"]  # say how dates are written if not YYYY-MM-DD\n\n[fields]\n");
    let mut used = Vec::new();
    for f in record_type.fields() {
        let best = headers
            .iter()
            .filter(|h| !used.contains(*h))
            .map(|h| (score(f.name, h), h))
            .filter(|(s, _)| *s > 0)
            .max_by_key(|(s, _)| *s);
        let quote = toml_string;
        match (best, f.ty) {
            (Some((_, h)), FieldType::Pseudonym) => {
                used.push(h.clone());
                let with = if record_type.field("citizenship").is_some() {
                    ", with = [\"citizenship\"]"
                } else {
                    ""
                };
                out.push_str(&format!(
                    "{} = {{ pseudonymise = [{}]{with} }}\n",
                    f.name,
                    quote(h)
                ));
            }
            (Some((_, h)), _) => {
                used.push(h.clone());
                out.push_str(&format!("{} = {{ column = {} }}\n", f.name, quote(h)));
            }
            (None, _) if f.name == "age" && record_type.field("date_of_birth").is_some() => {
                if let Some(on) = crate::validate::event_field(record_type) {
                    out.push_str(&format!(
                        "# age = {{ age_at = \"{on}\" }}  # derive the age from date_of_birth\n"
                    ));
                }
            }
            (None, _) if f.required => out.push_str(&format!(
                "# TODO {} = {{ column = \"…\" }}  # required: {}\n",
                f.name, f.description
            )),
            (None, _) => {}
        }
    }
    let unused: Vec<&String> = headers.iter().filter(|h| !used.contains(h)).collect();
    if !unused.is_empty() {
        out.push_str(
            "\n# Columns not mapped (names and other personal details should stay unmapped):\n",
        );
        // Escaped: a line break in a header would end the comment and
        // write TOML of the file's choosing.
        for h in unused.iter().take(UNUSED_LISTED) {
            out.push_str(&format!("#   {}\n", for_display(h, 80).bare()));
        }
        if unused.len() > UNUSED_LISTED {
            out.push_str(&format!(
                "#   …and {} more columns\n",
                crate::transform::thousands((unused.len() - UNUSED_LISTED) as u64)
            ));
        }
    }
    Ok(out)
}

/// Unmapped columns the draft lists at most.
const UNUSED_LISTED: usize = 200;

/// A TOML basic string: quotes, backslashes and control characters
/// escaped, so that any header makes one valid string (and nothing else).
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_in_three_languages() {
        assert_eq!(score("event_date", "Fecha"), 3);
        assert_eq!(score("citizenship", "Nationalité"), 3);
        assert_eq!(score("sex", "GENERO"), 3);
        assert_eq!(score("date_of_birth", "Fecha de Nacimiento"), 3);
        assert_eq!(score("person_key", "Número de Documento"), 3);
        assert!(score("event_date", "Nombres") == 0);
    }

    /// Headers with line breaks, quotes and escape sequences make a draft
    /// that is valid TOML, reads those very columns, and holds no control
    /// character a terminal would act on.
    #[test]
    fn hostile_headers_make_a_safe_draft() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("x.csv");
        std::fs::write(
            &file,
            "\"Fecha\x1b[2J\",\"Nacionalidad \"\"x\"\"\",\"notes\n[fields]\nperson_key = 1\",other\x07\n01/02/2024,M,n,o\n",
        )
        .expect("write");
        let text = draft(&file, RecordType::BorderEvent).expect("draft");
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text}");
        let value: toml::Value = toml::from_str(&text).expect("valid TOML");
        let fields = value.get("fields").expect("fields");
        assert_eq!(
            fields
                .get("citizenship")
                .and_then(|s| s.get("column"))
                .and_then(|c| c.as_str()),
            Some("Nacionalidad \"x\"")
        );
        assert_eq!(
            fields
                .get("event_date")
                .and_then(|s| s.get("column"))
                .and_then(|c| c.as_str()),
            Some("Fecha\x1b[2J")
        );
        assert!(fields.get("person_key").is_none(), "{text}");
    }
}
