//! The mapping file of every source the generator writes: what a data
//! officer of each agency would write once to bring its export in.

/// (path of the mapping, its text). Each sits beside its source file.
pub const MAPPINGS: &[(&str, &str)] = &[
    (
        "sources/gtm-igm/movimientos_migratorios.mapping.toml",
        GTM_BORDER,
    ),
    ("sources/gtm-igm/residencias.mapping.toml", GTM_PERMITS),
    ("sources/hnd-inm/movimientos.mapping.toml", HND_BORDER),
    ("sources/hnd-inm/residencias.mapping.toml", HND_PERMITS),
    ("sources/slv-dgme/movimientos.mapping.toml", SLV_BORDER),
    ("sources/slv-dgme/residencias.mapping.toml", SLV_PERMITS),
    ("sources/returns-register/returns.mapping.toml", RETURNS),
    ("sources/trafficking/org-a/cases.mapping.toml", ORG_A),
    ("sources/trafficking/org-b/cases.mapping.toml", ORG_B),
    ("sources/trafficking/org-c/expedientes.mapping.toml", ORG_C),
    ("sources/population/population.mapping.toml", POPULATION),
    ("sources/signals/signals.mapping.toml", SIGNALS),
];

/// (mapping path, data file path) for every source, in ingest order.
pub const SUBMISSIONS: &[(&str, &str)] = &[
    (
        "sources/gtm-igm/movimientos_migratorios.mapping.toml",
        "sources/gtm-igm/movimientos_migratorios.csv",
    ),
    (
        "sources/gtm-igm/residencias.mapping.toml",
        "sources/gtm-igm/residencias.csv",
    ),
    (
        "sources/hnd-inm/movimientos.mapping.toml",
        "sources/hnd-inm/registros_migratorios.xlsx",
    ),
    (
        "sources/hnd-inm/residencias.mapping.toml",
        "sources/hnd-inm/registros_migratorios.xlsx",
    ),
    (
        "sources/slv-dgme/movimientos.mapping.toml",
        "sources/slv-dgme/movimientos.ndjson",
    ),
    (
        "sources/slv-dgme/residencias.mapping.toml",
        "sources/slv-dgme/residencias.ndjson",
    ),
    (
        "sources/returns-register/returns.mapping.toml",
        "sources/returns-register/returns.csv",
    ),
    (
        "sources/trafficking/org-a/cases.mapping.toml",
        "sources/trafficking/org-a/cases.xlsx",
    ),
    (
        "sources/trafficking/org-b/cases.mapping.toml",
        "sources/trafficking/org-b/cases.csv",
    ),
    (
        "sources/trafficking/org-c/expedientes.mapping.toml",
        "sources/trafficking/org-c/expedientes.csv",
    ),
    (
        "sources/population/population.mapping.toml",
        "sources/population/population.csv",
    ),
    (
        "sources/signals/signals.mapping.toml",
        "sources/signals/signals.csv",
    ),
];

const GTM_BORDER: &str = r#"# Guatemala, Instituto Guatemalteco de Migración: entries and exits.
record_type = "border_events"
source = "gtm-igm-border"
description = "IGM entries and exits (CSV, Windows-1252)"

[reader]
format = "csv"
encoding = "windows-1252"
delimiter = ";"
date_formats = ["%d/%m/%Y"]
time_formats = ["%H:%M"]

[fields]
reporting_country = { constant = "GTM" }
person_key = { pseudonymise = ["Número de Documento"], with = ["citizenship"] }
direction = { column = "Tipo de Movimiento" }
event_date = { column = "Fecha" }
event_time = { column = "Hora" }
border_post = { column = "Puesto Fronterizo" }
counterpart_country = { column = "País Procedencia/Destino" }
citizenship = { column = "Nacionalidad" }
sex = { column = "Sexo" }
date_of_birth = { column = "Fecha de Nacimiento" }
age = { age_at = "event_date" }
document_type = { column = "Tipo de Documento", recode = { "DPI" = "national_id", "DUI" = "national_id", "DNI" = "national_id", "CÉDULA" = "national_id" } }
travel_purpose = { column = "Motivo del Viaje", recode = { "TRABAJO TEMPORAL AGRÍCOLA" = "seasonal_work" } }
visa_type = { column = "Tipo de Visa", recode = { "SIN VISA (EXENTO)" = "exempt" } }
permitted_stay_days = { column = "Días Autorizados" }
residence_status = { column = "Calidad Migratoria" }
"#;

const GTM_PERMITS: &str = r#"# Guatemala: residence permits.
record_type = "residence_permits"
source = "gtm-igm-permits"
description = "IGM residence permits (CSV, Windows-1252)"

[reader]
format = "csv"
encoding = "windows-1252"
delimiter = ";"
date_formats = ["%d/%m/%Y"]

[fields]
issuing_country = { constant = "GTM" }
person_key = { pseudonymise = ["Número de Documento"], with = ["citizenship"] }
permit_type = { column = "Tipo de Residencia" }
decision = { column = "Trámite" }
issue_date = { column = "Fecha de Emisión" }
valid_from = { column = "Fecha de Emisión" }
valid_until = { column = "Vigente Hasta" }
citizenship = { column = "Nacionalidad" }
sex = { column = "Sexo" }
date_of_birth = { column = "Fecha de Nacimiento" }
age = { age_at = "issue_date" }
"#;

const HND_BORDER: &str = r#"# Honduras, Instituto Nacional de Migración: entries and exits.
record_type = "border_events"
source = "hnd-inm-border"
description = "INM entries and exits (Excel, sheet Movimientos)"

[reader]
format = "excel"
sheet = "Movimientos"
date_formats = ["%d/%m/%Y", "%d/%m/%Y %H:%M"]

[fields]
reporting_country = { constant = "HND" }
person_key = { pseudonymise = ["NUMERO_DOCUMENTO"], with = ["citizenship"] }
direction = { column = "TIPO_MOVIMIENTO", recode = { "E" = "entry", "S" = "exit" } }
event_date = { column = "FECHA_HORA" }
event_time = { column = "FECHA_HORA", formats = ["%d/%m/%Y %H:%M"] }
border_post = { column = "DELEGACION" }
counterpart_country = { column = "PAIS_ORIGEN_DESTINO" }
citizenship = { column = "NACIONALIDAD" }
sex = { column = "GENERO" }
date_of_birth = { column = "FECHA_NACIMIENTO" }
age = { age_at = "event_date" }
document_type = { column = "TIPO_DOCUMENTO", recode = { "TARJETA DE IDENTIDAD" = "national_id" } }
travel_purpose = { column = "MOTIVO_VIAJE", recode = { "TRABAJO TEMPORAL AGRÍCOLA" = "seasonal_work" } }
residence_status = { column = "CATEGORIA_MIGRATORIA" }
permitted_stay_days = { column = "DIAS_PERMITIDOS" }
"#;

const HND_PERMITS: &str = r#"# Honduras: residence permits, the second sheet of the same workbook.
record_type = "residence_permits"
source = "hnd-inm-permits"
description = "INM residence permits (Excel, sheet Residencias)"

[reader]
format = "excel"
sheet = "Residencias"
date_formats = ["%d/%m/%Y"]

[fields]
issuing_country = { constant = "HND" }
person_key = { pseudonymise = ["NUMERO_DOCUMENTO"], with = ["citizenship"] }
permit_type = { column = "TIPO_RESIDENCIA" }
decision = { column = "TRAMITE" }
issue_date = { column = "FECHA_EMISION" }
valid_from = { column = "FECHA_EMISION" }
valid_until = { column = "VENCE" }
citizenship = { column = "NACIONALIDAD" }
sex = { column = "GENERO" }
date_of_birth = { column = "FECHA_NACIMIENTO" }
age = { age_at = "issue_date" }
"#;

const SLV_BORDER: &str = r#"# El Salvador, Dirección General de Migración y Extranjería: entries and exits.
record_type = "border_events"
source = "slv-dgme-border"
description = "DGME entries and exits (NDJSON web service)"

[reader]
format = "ndjson"

[fields]
reporting_country = { constant = "SLV" }
person_key = { pseudonymise = ["viajero.documento.numero"], with = ["citizenship"] }
direction = { column = "flujo" }
event_date = { column = "fecha_hora" }
event_time = { column = "fecha_hora" }
border_post = { column = "delegacion" }
counterpart_country = { column = "procedencia_destino" }
citizenship = { column = "viajero.nacionalidad" }
sex = { column = "viajero.sexo" }
date_of_birth = { column = "viajero.fecha_nacimiento" }
age = { age_at = "event_date" }
document_type = { column = "viajero.documento.tipo", recode = { "DUI" = "national_id" } }
travel_purpose = { column = "motivo" }
residence_status = { column = "categoria" }
permitted_stay_days = { column = "dias_autorizados" }
"#;

const SLV_PERMITS: &str = r#"# El Salvador: residence permits.
record_type = "residence_permits"
source = "slv-dgme-permits"
description = "DGME residence permits (NDJSON)"

[reader]
format = "ndjson"

[fields]
issuing_country = { constant = "SLV" }
person_key = { pseudonymise = ["titular.documento"], with = ["citizenship"] }
permit_type = { column = "tipo" }
decision = { column = "tramite" }
issue_date = { column = "emision" }
valid_from = { column = "emision" }
valid_until = { column = "vence" }
citizenship = { column = "titular.nacionalidad" }
sex = { column = "titular.sexo" }
date_of_birth = { column = "titular.fecha_nacimiento" }
age = { age_at = "issue_date" }
"#;

const RETURNS: &str = r#"# The regional returns register.
record_type = "returns"
source = "returns-register"
description = "Regional returns register (UTF-8 CSV, English)"

[reader]
format = "csv"
encoding = "utf-8"

[fields]
person_key = { pseudonymise = ["travel_document_number"], with = ["citizenship"] }
return_type = { column = "return_type", recode = { "Forced" = "forced", "Assisted voluntary" = "assisted_voluntary", "Voluntary" = "voluntary" } }
return_date = { column = "arrival_date" }
host_country = { column = "returned_from" }
destination_country = { column = "country_of_return" }
reporting_country = { column = "reporting_country" }
reporting_organisation = { column = "reporting_agency" }
citizenship = { column = "nationality" }
sex = { column = "sex" }
age = { column = "age" }
transport_mode = { column = "transport" }
unaccompanied_minor = { column = "unaccompanied_minor" }
reintegration_assistance = { column = "reintegration_support" }
"#;

const ORG_A: &str = r#"# Organisation A: an HTCDS case-management export. Names, dates and places
# of birth are not mapped: they never enter the platform (linkage uses
# `corridor encode`, run inside the organisation).
record_type = "trafficking_cases"
source = "org-a-cases"
description = "Organisation A victim cases (HTCDS Excel)"

[reader]
format = "excel"
sheet = "Cases"

[fields]
case_key = { pseudonymise = ["caseId"], with = ["reporting_organisation"] }
reporting_organisation = { constant = "org-a" }
registration_year = { column = "yearOfRegistration" }
registration_date = { column = "registrationDate" }
sex = { column = "gender", default = "_U" }
age = { column = "age" }
majority_status = { column = "majorityStatus", recode = { "Minor" = "Y_LT18", "Adult" = "Y_GE18", "Unknown" = "_U" } }
citizenship = { column = "citizenship" }
country_of_exploitation = { column = "CountryOfExploitation" }
exploitation_types = { flags = { isSexualExploit = "sexual", isForcedLabour = "forced_labour", isForcedMarriage = "forced_marriage", isForcedCriminality = "forced_criminality", isForcedBegging = "begging", isOrganRemoval = "organ_removal", isSlaveryAndPractices = "slavery", isForcedMilitary = "forced_military", isOtherExploit = "other" } }
labour_industry = { column = "typeOfLabour" }
means_of_control = { flags = { isDebtBondage = "debt_bondage", isTakesEarnings = "takes_earnings", isRestrictsFinancialAccess = "restricts_financial_access", isThreats = "threats", isPsychologicalAbuse = "psychological_abuse", isPhysicalAbuse = "physical_abuse", isSexualAbuse = "sexual_abuse", isFalsePromises = "false_promises", isPsychoactiveSubstances = "psychoactive_substances", isRestrictsMovement = "restricts_movement", isRestrictsMedicalCare = "restricts_medical_care", isExcessiveWorkingHours = "excessive_working_hours", isUsesChildren = "uses_children", isThreatOfLawEnforcement = "threat_of_law_enforcement", isWithholdsNecessities = "withholds_necessities", isWithholdsDocuments = "withholds_documents", isOtherMeans = "other" } }
recruiter_relationship = { column = "recruiterRelationship" }
is_abduction = { column = "isAbduction" }
"#;

const ORG_B: &str = r#"# Organisation B: a shelter network's CSV.
record_type = "trafficking_cases"
source = "org-b-cases"
description = "Organisation B victim cases (UTF-8 CSV, English)"

[reader]
format = "csv"
encoding = "utf-8"
date_formats = ["%m/%d/%Y"]

[fields]
case_key = { pseudonymise = ["Case number"], with = ["reporting_organisation"] }
reporting_organisation = { constant = "org-b" }
registration_year = { column = "Intake date" }
registration_date = { column = "Intake date" }
sex = { column = "Gender", default = "_U" }
age = { column = "Age" }
citizenship = { column = "Nationality" }
country_of_exploitation = { column = "Country where exploited" }
exploitation_types = { column = "Exploitation", split = ";" }
labour_industry = { column = "Industry" }
means_of_control = { column = "Control methods", split = ";" }
recruiter_relationship = { column = "Recruiter" }
"#;

const ORG_C: &str = r#"# Organisation C: a prosecutor's office export.
record_type = "trafficking_cases"
source = "org-c-cases"
description = "Organisation C victim cases (CSV, Windows-1252, Spanish)"

[reader]
format = "csv"
encoding = "windows-1252"
delimiter = ";"
date_formats = ["%d/%m/%Y"]

[fields]
case_key = { pseudonymise = ["No. Expediente"], with = ["reporting_organisation"] }
reporting_organisation = { constant = "org-c" }
registration_year = { column = "Fecha de Registro" }
registration_date = { column = "Fecha de Registro" }
sex = { column = "Sexo", recode = { "NO INDICA" = "_U" }, default = "_U" }
age = { column = "Edad" }
citizenship = { column = "Nacionalidad" }
country_of_exploitation = { column = "País de Explotación" }
exploitation_types = { column = "Tipo de Trata", split = "," }
labour_industry = { column = "Actividad" }
means_of_control = { column = "Medios de Control", split = "," }
recruiter_relationship = { column = "Relación con el Captador" }
"#;

const POPULATION: &str = r#"# Mid-year population.
record_type = "population"
source = "population"
description = "Mid-year population by country, year, sex and age group"

[reader]
format = "csv"

[fields]
country = { column = "ISO3" }
reference_year = { column = "Year" }
sex = { column = "Sex" }
age_group = { column = "Age group" }
population = { column = "Population" }
source = { column = "Source" }
"#;

const SIGNALS: &str = r#"# Auxiliary signals by corridor.
record_type = "signals"
source = "signals"
description = "Monthly mobile-device counts and search interest by corridor"

[reader]
format = "csv"

[fields]
signal = { column = "signal" }
origin_country = { column = "origin" }
destination_country = { column = "destination" }
period_start = { column = "month" }
age_group = { column = "age_group" }
sex = { column = "sex" }
value = { column = "value" }
provider = { column = "provider" }
"#;

/// The secret the organisations share for `corridor encode`.
pub const PARTNERS_KEY: &str = "sources/trafficking/partners.key";

/// One organisation's linkage step: its linkage schema, its export, the
/// encoded file `corridor encode` writes, and the mapping that ingests it.
pub struct Linkage {
    pub organisation: &'static str,
    pub schema: &'static str,
    pub raw: &'static str,
    pub encoded: &'static str,
    pub mapping: &'static str,
    raw_mapping: &'static str,
    /// This organisation's own part of the schema: comment, record id and
    /// `[reader]`.
    own: &'static str,
    /// Its columns for the agreed fields: name(s), date of birth, place of
    /// birth.
    name_columns: &'static str,
    birth_column: &'static str,
    place_column: &'static str,
}

pub const LINKAGE: [Linkage; 3] = [
    Linkage {
        organisation: "org-a",
        schema: "sources/trafficking/org-a/linkage.toml",
        raw: "sources/trafficking/org-a/cases.xlsx",
        encoded: "sources/trafficking/org-a/cases.encoded.csv",
        mapping: "sources/trafficking/org-a/cases.encoded.mapping.toml",
        raw_mapping: ORG_A,
        own: r#"# Organisation A's copy of the partners' linkage schema, for
#   corridor encode --schema linkage.toml --secret-file ../partners.key cases.xlsx cases.encoded.csv
# Names, date and place of birth become one keyed Bloom-filter encoding;
# every other column passes through.
record_id = "caseId"

[reader]
format = "excel"
sheet = "Cases"
"#,
        name_columns: r#""firstName", "lastName""#,
        birth_column: "dateOfBirth",
        place_column: "placeOfBirth",
    },
    Linkage {
        organisation: "org-b",
        schema: "sources/trafficking/org-b/linkage.toml",
        raw: "sources/trafficking/org-b/cases.csv",
        encoded: "sources/trafficking/org-b/cases.encoded.csv",
        mapping: "sources/trafficking/org-b/cases.encoded.mapping.toml",
        raw_mapping: ORG_B,
        own: r#"# Organisation B's copy of the partners' linkage schema.
record_id = "Case number"

[reader]
format = "csv"
encoding = "utf-8"
date_formats = ["%m/%d/%Y"]
"#,
        name_columns: r#""Full name""#,
        birth_column: "DOB",
        place_column: "Birthplace",
    },
    Linkage {
        organisation: "org-c",
        schema: "sources/trafficking/org-c/linkage.toml",
        raw: "sources/trafficking/org-c/expedientes.csv",
        encoded: "sources/trafficking/org-c/expedientes.encoded.csv",
        mapping: "sources/trafficking/org-c/expedientes.encoded.mapping.toml",
        raw_mapping: ORG_C,
        own: r#"# Organisation C's copy of the partners' linkage schema.
record_id = "No. Expediente"

[reader]
format = "csv"
encoding = "windows-1252"
delimiter = ";"
date_formats = ["%d/%m/%Y"]
"#,
        name_columns: r#""Nombres", "Apellidos""#,
        birth_column: "Fecha de Nacimiento",
        place_column: "Lugar de Nacimiento",
    },
];

/// The linkage schemas and the mappings of the encoded files, as (path,
/// text).
pub fn linkage_files() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for l in &LINKAGE {
        out.push((l.schema.to_string(), linkage_schema(l)));
        out.push((l.mapping.to_string(), encoded_mapping(l.raw_mapping)));
    }
    out
}

/// An organisation's linkage schema: its own part, then what every
/// partner agrees on (filter length, hardening, blocking, and for each
/// detail its name, kind, hashes and salt) with its own columns filled in.
fn linkage_schema(l: &Linkage) -> String {
    format!(
        r#"{own}
[encoding]
bits = 1024
hardening = ["balance"]

# Blocking is left to its defaults: exact keys on each detail's filter and
# LSH bands chosen from the data (`corridor link` prints what it chose).

[[field]]
name = "name"
columns = [{names}]
kind = "name"
hashes = 10
# A filter of its own too: the model then compares each detail apart.
filter_bits = 512

[[field]]
name = "birth_date"
columns = ["{birth}"]
kind = "date"
hashes = 20
filter_bits = 256

[[field]]
name = "place_of_birth"
columns = ["{place}"]
kind = "text"
hashes = 6
filter_bits = 256
# Salted with the year of birth: the same town hashes differently for
# people born in different years, against frequency attacks.
salt = "{birth}"
salt_part = "year"
"#,
        own = l.own,
        names = l.name_columns,
        birth = l.birth_column,
        place = l.place_column,
    )
}

/// The mapping of an encoded file: the organisation's own mapping, reading
/// the UTF-8 CSV `corridor encode` writes (same columns, less the personal
/// details, plus `linkage_encoding`).
fn encoded_mapping(raw: &str) -> String {
    let (head, rest) = raw.split_once("[reader]").unwrap_or((raw, ""));
    let (reader, fields) = rest.split_once("[fields]").unwrap_or(("", rest));
    let date_formats: String = reader
        .lines()
        .filter(|l| l.starts_with("date_formats"))
        .map(|l| format!("{l}\n"))
        .collect();
    format!(
        "{}# The encoded file written by `corridor encode` inside the organisation:\n\
# the same columns less names, dates and places of birth, plus the encoding.\n\
[reader]\nformat = \"csv\"\nencoding = \"utf-8\"\ndelimiter = \",\"\n{date_formats}\n[fields]{}\nlinkage_encoding = {{ column = \"linkage_encoding\" }}\n",
        head,
        fields.trim_end_matches('\n'),
    )
}
