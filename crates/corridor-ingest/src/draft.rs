//! `corridor mapping draft`: a first mapping from a file's headers, by
//! matching them to standard fields in English, Spanish and French.

use corridor_model::{CodeListId, FieldType, RecordType, for_display};

use crate::IngestError;
use crate::look::{self, Column};
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
            "paso fronterizo",
            "crossing point",
            "post",
            "port",
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
        "country_of_residence" => &[
            "pais de residencia",
            "residencia",
            "country of residence",
            "residence country",
            "pays de residence",
            "residence",
        ],
        "document_issuing_state" => &[
            "pais emisor",
            "pais emisor del documento",
            "pais de emision",
            "issuing state",
            "issuing country",
            "document issuing country",
            "document state",
            "document country",
            "etat de delivrance",
            "pays de delivrance",
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

/// Whether a column's values fit a field of type `ty`: a date field takes
/// a column of dates, a coded field one whose values the code list mostly
/// knows (so `direction` is never a date column), a number a column of
/// numbers. `named`: the header is one of the field's names exactly.
fn fits(ty: FieldType, c: &Column, named: bool) -> bool {
    if c.filled == 0 {
        return true;
    }
    match ty {
        FieldType::Date => c.date_formats().is_some(),
        // A column its header plainly names may hold misspellings (which
        // get recodes); a date column is never one of countries.
        FieldType::Code(CodeListId::Country) if named => {
            c.date_formats().is_none() && c.share_in(CodeListId::Country) >= 0.25
        }
        FieldType::Code(CodeListId::Country) => c.share_in(CodeListId::Country) >= 0.6,
        FieldType::Code(list) => c.date_formats().is_none() && c.share_in(list) >= 0.5,
        FieldType::Integer | FieldType::Count | FieldType::Year => c
            .distinct
            .iter()
            .all(|v| v.trim().parse::<f64>().is_ok() || c.date_formats().is_some()),
        FieldType::Pseudonym => c.date_formats().is_none(),
        _ => true,
    }
}

/// How much a column's values (not its header) say it is a field's: 0 not
/// at all.
fn by_values(field: &str, ty: FieldType, c: &Column) -> u8 {
    if c.filled == 0 {
        return 0;
    }
    match ty {
        FieldType::Date if c.date_formats().is_some() => 1,
        FieldType::Code(CodeListId::Country) if c.share_in(CodeListId::Country) >= 0.9 => 1,
        FieldType::Code(list)
            if list != CodeListId::Country
                && !c.many
                && c.distinct.len() <= 12
                && c.share_in(list) >= 0.95
                // One-letter codes fit several lists: only the lists
                // where a column of them is the usual shape.
                && matches!(list, CodeListId::Direction | CodeListId::Sex) =>
        {
            2
        }
        FieldType::Pseudonym if field == "person_key" && c.identifier_like() => 1,
        _ => 0,
    }
}

/// Writes a draft mapping (TOML) for a file and a record type: it finds
/// the sheet and the header row, reads the values as well as the headers,
/// and proposes date formats and recodes from what it saw.
pub fn draft(file: &std::path::Path, record_type: RecordType) -> Result<String, IngestError> {
    let layout = look::layout(file)?;
    let defaults = ReaderOptions::default();
    let format = match read::format_of(file, &defaults)? {
        read::Format::Csv => "csv",
        read::Format::Excel => "excel",
        read::Format::Json => "json",
        read::Format::Ndjson => "ndjson",
        read::Format::Parquet => "parquet",
    };
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("source");
    let mut out = String::new();
    out.push_str(&format!(
        "# Draft mapping for {} — check every line, then run `corridor mapping check`.\nrecord_type = \"{}\"\nsource = {}\n\n[reader]\nformat = \"{format}\"\n",
        for_display(&file.display().to_string(), 200).bare(),
        record_type.name(),
        toml_string(stem)
    ));
    for (k, v) in &layout.detected {
        match k.as_str() {
            "encoding" => out.push_str(&format!(
                "encoding = {}  # {}\n",
                toml_string(&v.split(' ').next().unwrap_or("auto").to_lowercase()),
                for_display(v, 80).bare()
            )),
            "delimiter" => {
                // Shown as Rust shows a char: ';', ' ' or '\t'.
                let inner = v
                    .strip_prefix('\'')
                    .and_then(|r| r.get(..r.rfind('\'').unwrap_or(0)))
                    .unwrap_or(",");
                let d = match inner {
                    "\\t" => "\t".to_string(),
                    other => other.to_string(),
                };
                out.push_str(&format!("delimiter = {}\n", toml_string(&d)));
            }
            _ => {}
        }
    }
    if let Some(sheet) = &layout.sheet {
        out.push_str(&format!("sheet = {}\n", toml_string(sheet)));
    }
    if let Some(h) = layout.header_row {
        out.push_str(&format!(
            "header_row = {h}  # the rows above it are titles or group headers\n"
        ));
    }
    out.push_str("\n[fields]\n");
    let headers = &layout.headers;
    let fields = record_type.fields();
    let mut used: Vec<usize> = Vec::new();
    // First the headers that name a field, where the values agree…
    let mut chosen: Vec<Option<usize>> = fields
        .iter()
        .map(|f| {
            let i = (0..headers.len())
                .filter(|i| !used.contains(i))
                .map(|i| (score(f.name, &headers[i]), i))
                .filter(|(s, i)| *s > 0 && fits(f.ty, &layout.columns[*i], *s == 3))
                .max_by_key(|(s, i)| (*s, std::cmp::Reverse(*i)))
                .map(|(_, i)| i);
            used.extend(i);
            i
        })
        .collect();
    // …then, for a required field no header names, the column whose
    // values say it is the field's. Not the reporting country: an
    // export rarely holds it, and a column of countries is the traveller's.
    for (f, c) in fields.iter().zip(chosen.iter_mut()) {
        if c.is_some() || !f.required || f.name == "reporting_country" {
            continue;
        }
        *c = (0..headers.len())
            .filter(|i| !used.contains(i))
            .map(|i| (by_values(f.name, f.ty, &layout.columns[i]), i))
            .filter(|(s, _)| *s > 0)
            .max_by_key(|(s, i)| (*s, std::cmp::Reverse(*i)))
            .map(|(_, i)| i);
        used.extend(*c);
    }
    let mut lines = Vec::new();
    let mut offsets = false;
    // The column and formats of a date field read from timestamps.
    let mut timestamp: Option<(String, String)> = None;
    // The event's date column, for a year the file does not give apart.
    let event_column = crate::validate::event_field(record_type)
        .and_then(|e| Some((e, fields.iter().position(|f| f.name == e)?)))
        .and_then(|(e, at)| Some((e, chosen[at]?)))
        .map(|(e, i)| {
            let formats = layout.columns[i]
                .date_formats()
                .filter(|f| !f.is_empty())
                .map(|f| {
                    let listed: Vec<String> = f.iter().map(|f| toml_string(f)).collect();
                    format!(", formats = [{}]", listed.join(", "))
                })
                .unwrap_or_default();
            (e, toml_string(&headers[i]), formats)
        });
    for (f, best) in fields.iter().zip(chosen.iter().copied()) {
        let quote = toml_string;
        match (best, f.ty) {
            (Some(i), FieldType::Pseudonym) => {
                let with = if record_type.field("citizenship").is_some() {
                    ", with = [\"citizenship\"]"
                } else {
                    ""
                };
                lines.push(format!(
                    "{} = {{ pseudonymise = [{}]{with} }}",
                    f.name,
                    quote(&headers[i])
                ));
            }
            (Some(i), ty) => {
                let c = &layout.columns[i];
                let mut extra = String::new();
                let mut note = String::new();
                if matches!(ty, FieldType::Date | FieldType::Year)
                    && let Some(formats) = c.date_formats()
                    && !formats.is_empty()
                    && !(formats.len() == 1 && formats[0] == "%Y-%m-%d")
                {
                    let listed: Vec<String> = formats.iter().map(|f| quote(f)).collect();
                    let formats = formats.to_vec();
                    extra.push_str(&format!(", formats = [{}]", listed.join(", ")));
                    if ty == FieldType::Date && formats.iter().all(|f| f.contains("%H")) {
                        timestamp = Some((quote(&headers[i]), listed.join(", ")));
                    }
                    // No one is born in the future.
                    if f.name == "date_of_birth" && formats.iter().all(|f| f.contains("%y")) {
                        use chrono::Datelike;
                        extra.push_str(&format!(", year_pivot = {}", chrono::Utc::now().year()));
                    }
                    if formats.iter().any(|f| f.starts_with("%d/%m"))
                        && c.texts.iter().all(|t| {
                            formats.iter().any(|f| {
                                crate::value::date_in_format(t, &f.replace("%d/%m", "%m/%d"))
                                    .is_some()
                            })
                        })
                    {
                        note = "  # every date seen reads day-first and month-first too: check which the export uses".into();
                    }
                }
                if let FieldType::Code(list) | FieldType::CodeSet(list) = ty {
                    let unknown: Vec<&String> = c
                        .distinct
                        .iter()
                        .filter(|v| !look::known_in(list, v))
                        .filter(|v| !crate::mapping::is_default_null(v))
                        .take(10)
                        .collect();
                    // A typing slip of one code is proposed as that code;
                    // any other value is named, with its closest codes, for
                    // a person to decide.
                    let mut proposed = Vec::new();
                    let mut open = Vec::new();
                    for v in unknown {
                        if let Some(code) = list.list().typo_of(v) {
                            proposed.push(format!("{} = {}", quote(v), quote(&code.code)));
                            continue;
                        }
                        match list.list().closest(v, 2).as_slice() {
                            [] => open.push(for_display(v, 40).to_string()),
                            several => open.push(format!(
                                "{} ({}?)",
                                for_display(v, 40),
                                several.join(" or ")
                            )),
                        }
                    }
                    if !open.is_empty() {
                        lines.push(format!(
                            "# {}: not in the {} code list: {}; add them to recode = {{ … }} (`corridor codes {}` lists the codes)",
                            f.name,
                            list.name(),
                            open.join(", "),
                            list.name()
                        ));
                    }
                    if !proposed.is_empty() {
                        lines.push(format!(
                            "# {}: recodes proposed for values not in the {} code list, from the closest code: check them",
                            f.name,
                            list.name()
                        ));
                        extra.push_str(&format!(", recode = {{ {} }}", proposed.join(", ")));
                    }
                }
                if matches!(ty, FieldType::Date | FieldType::Time)
                    && c.texts
                        .iter()
                        .any(|t| crate::zones::split_offset(t).is_some())
                {
                    offsets = true;
                }
                lines.push(format!(
                    "{} = {{ column = {}{extra} }}{note}",
                    f.name,
                    quote(&headers[i])
                ));
            }
            // A timestamp column gives the time as well as the date.
            (None, FieldType::Time) if timestamp.is_some() => {
                if let Some((column, formats)) = &timestamp {
                    lines.push(format!(
                        "{} = {{ column = {column}, formats = [{formats}] }}",
                        f.name
                    ));
                }
            }
            // A required year the file gives as the event's date.
            (None, FieldType::Year) if f.required && event_column.is_some() => {
                if let Some((event, column, formats)) = &event_column {
                    lines.push(format!(
                        "{} = {{ column = {column}{formats} }}  # the year of {event}",
                        f.name
                    ));
                }
            }
            (None, FieldType::Text) if f.required && f.name == "reporting_organisation" => {
                lines.push(format!(
                    "# {} = {{ constant = \"???\" }}  # required and not in the file: {}",
                    f.name,
                    for_display(f.description, 120).bare()
                ));
            }
            (None, _) if f.name == "age" && record_type.field("date_of_birth").is_some() => {
                if let Some(on) = crate::validate::event_field(record_type) {
                    lines.push(format!(
                        "# age = {{ age_at = \"{on}\" }}  # derive the age from date_of_birth"
                    ));
                }
            }
            (None, ty) if f.required => {
                let what = match ty {
                    FieldType::Code(CodeListId::Country) => {
                        "{ constant = \"???\" }  # required and not in the file: the ISO 3166 alpha-3 code, e.g. \"GTM\""
                            .to_string()
                    }
                    FieldType::Code(list) => format!(
                        "{{ constant = \"???\" }}  # required and not in the file: a code of `corridor codes {}`",
                        list.name()
                    ),
                    FieldType::Pseudonym => {
                        "{ pseudonymise = [\"???\"] }  # required: the column of document or case numbers"
                            .to_string()
                    }
                    _ => format!(
                        "{{ column = \"???\" }}  # required: {}",
                        for_display(f.description, 120).bare()
                    ),
                };
                lines.push(format!("# {} = {what}", f.name));
            }
            (None, _) => {}
        }
    }
    let mapped = |name: &str| {
        fields
            .iter()
            .zip(&chosen)
            .any(|(f, c)| f.name == name && c.is_some())
    };
    if record_type == RecordType::TraffickingCase
        && !crate::mapping::AGE_FIELDS.iter().any(|f| mapped(f))
    {
        lines.push(
            "age_group = { constant = \"_U\" }  # no column of ages or birth dates was found: if the file has one, map it instead (a case's age is required in some form)"
                .into(),
        );
    }
    if offsets && let Some(at) = out.find("\n[fields]\n") {
        out.insert_str(
            at,
            "# Dates and times here carry a UTC offset (Z, +01:00): they are stored on the\n# reporting country's local clock. Where its zones differ (or the reporting\n# country comes from a column), say which zone the posts keep:\n# time_zone = \"America/Guatemala\"\n",
        );
    }
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    let unused: Vec<&String> = (0..headers.len())
        .filter(|i| !used.contains(i))
        .map(|i| &headers[i])
        .filter(|h| !h.is_empty())
        .collect();
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
            '\t' => out.push_str("\\t"),
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
            "\"Fecha\x1b[2J\",\"Nacionalidad \"\"x\"\"\",\"notes\n[fields]\nperson_key = 1\",other\x07\n01/02/2024,GTM,n,o\n",
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
