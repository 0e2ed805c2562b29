//! The record types of the Corridor standard and their fields.
//!
//! Each record type is a table: its fields are listed once here, and both the
//! Arrow schema ([`RecordType::arrow_schema`]) and the reference document
//! (`docs/standard.md`, see [`crate::docs`]) are derived from that list. The
//! Rust record types in [`crate::records`] are checked against it by tests.

use std::sync::Arc;

use arrow_schema::{DataType, Field as ArrowField, Schema, TimeUnit};

use crate::codes::CodeListId;

/// The logical type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Free text.
    Text,
    /// One code of a code list.
    Code(CodeListId),
    /// Zero or more codes of a code list (e.g. forms of exploitation).
    CodeSet(CodeListId),
    /// A calendar date.
    Date,
    /// A time of day, to the second.
    Time,
    /// A calendar year.
    Year,
    /// A whole number of years, days…
    Integer,
    /// A non-negative count of people or events.
    Count,
    /// A real number.
    Number,
    /// True or false.
    Boolean,
    /// A keyed pseudonym: hex HMAC-SHA256 of identifiers, never the identifier.
    Pseudonym,
    /// Opaque bytes (e.g. a Bloom-filter encoding made by `corridor encode`).
    Bytes,
}

impl FieldType {
    /// The Arrow type a field of this type is stored as.
    pub fn arrow_type(self) -> DataType {
        match self {
            FieldType::Text | FieldType::Code(_) | FieldType::Pseudonym => DataType::Utf8,
            FieldType::CodeSet(_) => {
                DataType::List(Arc::new(ArrowField::new("item", DataType::Utf8, false)))
            }
            FieldType::Date => DataType::Date32,
            FieldType::Time => DataType::Time32(TimeUnit::Second),
            FieldType::Year => DataType::Int16,
            FieldType::Integer => DataType::Int32,
            FieldType::Count => DataType::UInt64,
            FieldType::Number => DataType::Float64,
            FieldType::Boolean => DataType::Boolean,
            FieldType::Bytes => DataType::Binary,
        }
    }

    /// How the type is named in docs.
    pub fn describe(self) -> String {
        match self {
            FieldType::Text => "text".into(),
            FieldType::Code(list) => format!("code ({})", list.name()),
            FieldType::CodeSet(list) => format!("list of codes ({})", list.name()),
            FieldType::Date => "date".into(),
            FieldType::Time => "time".into(),
            FieldType::Year => "year".into(),
            FieldType::Integer => "integer".into(),
            FieldType::Count => "count".into(),
            FieldType::Number => "number".into(),
            FieldType::Boolean => "boolean".into(),
            FieldType::Pseudonym => "pseudonym".into(),
            FieldType::Bytes => "bytes".into(),
        }
    }

    /// The code list behind a coded field.
    pub fn code_list(self) -> Option<CodeListId> {
        match self {
            FieldType::Code(list) | FieldType::CodeSet(list) => Some(list),
            _ => None,
        }
    }
}

/// One field of a record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
    pub required: bool,
    pub description: &'static str,
}

const fn req(name: &'static str, ty: FieldType, description: &'static str) -> Field {
    Field {
        name,
        ty,
        required: true,
        description,
    }
}

const fn opt(name: &'static str, ty: FieldType, description: &'static str) -> Field {
    Field {
        name,
        ty,
        required: false,
        description,
    }
}

use CodeListId as L;
use FieldType as T;

const BORDER_EVENT: &[Field] = &[
    req(
        "person_key",
        T::Pseudonym,
        "Keyed pseudonym of the traveller, computed at intake from the travel document (type, issuing country, number) with the workspace secret. The same document always gives the same key within a deployment; the document number itself is never stored.",
    ),
    req(
        "reporting_country",
        T::Code(L::Country),
        "Country whose border authority recorded the crossing.",
    ),
    req(
        "direction",
        T::Code(L::Direction),
        "Entry into or exit from the reporting country.",
    ),
    req(
        "event_date",
        T::Date,
        "Date of the crossing as recorded at the border post (local calendar).",
    ),
    opt(
        "event_time",
        T::Time,
        "Time of the crossing as recorded at the border post (local clock), when the export has it.",
    ),
    opt(
        "border_post",
        T::Text,
        "Name or code of the border post, airport or port, as the agency names it.",
    ),
    opt(
        "transport_mode",
        T::Code(L::TransportMode),
        "Air, land or sea.",
    ),
    opt(
        "counterpart_country",
        T::Code(L::Country),
        "Country of last departure (on entry) or next destination (on exit), when recorded.",
    ),
    req(
        "citizenship",
        T::Code(L::Country),
        "Citizenship shown by the travel document.",
    ),
    opt(
        "country_of_birth",
        T::Code(L::Country),
        "Country of birth, when recorded (the UN 2021 framework asks for it beside citizenship).",
    ),
    opt(
        "country_of_residence",
        T::Code(L::Country),
        "Country of usual residence the traveller declared (an entry card, an API/PNR record), when recorded. What the traveller said, not the statistical residence Corridor derives from the crossings.",
    ),
    opt(
        "document_issuing_state",
        T::Code(L::Country),
        "State or organisation that issued the travel document (ICAO Doc 9303 issuing state), when recorded; it can differ from the citizenship (a refugee's travel document, a second nationality).",
    ),
    req(
        "sex",
        T::Code(L::Sex),
        "Sex as recorded (SDMX codes; `_U` when the export does not say).",
    ),
    opt(
        "date_of_birth",
        T::Date,
        "Date of birth from the travel document.",
    ),
    opt(
        "age",
        T::Integer,
        "Age in completed years on the event date; derived from the date of birth when the export gives one.",
    ),
    opt(
        "document_type",
        T::Code(L::DocumentType),
        "Type of travel document presented.",
    ),
    opt(
        "travel_purpose",
        T::Code(L::TravelPurpose),
        "Declared purpose of travel.",
    ),
    opt(
        "visa_type",
        T::Code(L::VisaType),
        "Visa or entry category granted (entries only).",
    ),
    opt(
        "permitted_stay_days",
        T::Integer,
        "Length of stay granted at entry, in days (entries only).",
    ),
    opt(
        "residence_status",
        T::Code(L::ResidenceStatus),
        "Administrative residence status recorded at the crossing. Not the statistical residence of the 12/16-month rule, which Corridor derives from the crossings.",
    ),
];

const RESIDENCE_PERMIT: &[Field] = &[
    req(
        "person_key",
        T::Pseudonym,
        "Keyed pseudonym of the permit holder (same construction as for border events, so permits link to crossings).",
    ),
    req(
        "issuing_country",
        T::Code(L::Country),
        "Country that issued the permit.",
    ),
    req(
        "permit_type",
        T::Code(L::PermitType),
        "Reason for the permit.",
    ),
    opt(
        "decision",
        T::Code(L::PermitDecision),
        "First permit, renewal or change of reason.",
    ),
    req("issue_date", T::Date, "Date the permit was issued."),
    opt("valid_from", T::Date, "First day of validity."),
    opt(
        "valid_until",
        T::Date,
        "Last day of validity; empty for permanent permits.",
    ),
    req(
        "citizenship",
        T::Code(L::Country),
        "Citizenship of the holder.",
    ),
    req("sex", T::Code(L::Sex), "Sex of the holder."),
    opt("date_of_birth", T::Date, "Date of birth of the holder."),
    opt(
        "age",
        T::Integer,
        "Age in completed years on the issue date.",
    ),
];

const RETURN: &[Field] = &[
    opt(
        "person_key",
        T::Pseudonym,
        "Keyed pseudonym of the returnee, when the source identifies persons.",
    ),
    req(
        "return_type",
        T::Code(L::ReturnType),
        "Voluntary, assisted voluntary or forced return.",
    ),
    req(
        "return_date",
        T::Date,
        "Date of arrival in the country of return (or of departure, for returns reported by the host country).",
    ),
    req(
        "host_country",
        T::Code(L::Country),
        "Country the person returned from.",
    ),
    req(
        "destination_country",
        T::Code(L::Country),
        "Country the person returned to (usually the country of origin).",
    ),
    req(
        "reporting_country",
        T::Code(L::Country),
        "Country whose agency reported the return.",
    ),
    opt(
        "reporting_organisation",
        T::Text,
        "Agency or organisation that reported the return.",
    ),
    req(
        "citizenship",
        T::Code(L::Country),
        "Citizenship of the returnee.",
    ),
    req("sex", T::Code(L::Sex), "Sex of the returnee."),
    opt(
        "age",
        T::Integer,
        "Age in completed years on the return date.",
    ),
    opt(
        "transport_mode",
        T::Code(L::TransportMode),
        "Air, land or sea.",
    ),
    opt(
        "unaccompanied_minor",
        T::Boolean,
        "A child returned without a parent or guardian.",
    ),
    opt(
        "reintegration_assistance",
        T::Boolean,
        "Whether reintegration assistance was offered.",
    ),
];

const TRAFFICKING_CASE: &[Field] = &[
    req(
        "case_key",
        T::Pseudonym,
        "Keyed pseudonym of the organisation's case identifier.",
    ),
    req(
        "reporting_organisation",
        T::Text,
        "Organisation that registered the case (HTCDS `dataSource`).",
    ),
    req(
        "registration_year",
        T::Year,
        "Year the case was registered (HTCDS `yearOfRegistration`).",
    ),
    opt(
        "registration_date",
        T::Date,
        "Date of registration, when shared.",
    ),
    req(
        "sex",
        T::Code(L::Sex),
        "Victim's sex or gender (HTCDS `gender`, in SDMX codes).",
    ),
    opt(
        "age",
        T::Integer,
        "Victim's age in completed years at registration (HTCDS `age`).",
    ),
    opt(
        "age_group",
        T::Code(L::AgeGroup),
        "Victim's age group, when only a group is known (HTCDS `ageBroad`, recoded to standard groups).",
    ),
    opt(
        "majority_status",
        T::Code(L::AgeGroup),
        "Minor (`Y_LT18`) or adult (`Y_GE18`) at exploitation (HTCDS `majorityStatus`).",
    ),
    opt(
        "citizenship",
        T::Code(L::Country),
        "Victim's citizenship (HTCDS `citizenship`).",
    ),
    opt(
        "country_of_exploitation",
        T::Code(L::Country),
        "Country where the exploitation took place (HTCDS `CountryOfExploitation`).",
    ),
    req(
        "exploitation_types",
        T::CodeSet(L::ExploitationType),
        "Forms of exploitation (HTCDS `isSexualExploit`, `isForcedLabour`… flags); empty when unknown.",
    ),
    opt(
        "labour_industry",
        T::Code(L::LabourIndustry),
        "Industry of forced labour (HTCDS `typeOfLabour`).",
    ),
    req(
        "means_of_control",
        T::CodeSet(L::MeansOfControl),
        "Means of control used (HTCDS `meansOfControl…` flags); empty when unknown.",
    ),
    opt(
        "recruiter_relationship",
        T::Code(L::RecruiterRelationship),
        "Victim's relationship to the recruiter (HTCDS `recruiterRelationship`).",
    ),
    opt(
        "is_abduction",
        T::Boolean,
        "Recruited by abduction (HTCDS `isAbduction`).",
    ),
    opt(
        "linkage_encoding",
        T::Bytes,
        "Keyed Bloom-filter encoding of the victim's personal details, made by `corridor encode` inside the organisation; the details themselves never reach the platform.",
    ),
];

const POPULATION: &[Field] = &[
    req(
        "country",
        T::Code(L::Country),
        "Country the population lives in.",
    ),
    req(
        "reference_year",
        T::Year,
        "Year the figure refers to (mid-year population).",
    ),
    req("sex", T::Code(L::Sex), "Sex, or `_T` for both."),
    req(
        "age_group",
        T::Code(L::AgeGroup),
        "Age group, or `_T` for all ages.",
    ),
    req("population", T::Count, "Number of residents."),
    opt(
        "source",
        T::Text,
        "Where the figure comes from (census, register, projection).",
    ),
];

const SIGNAL: &[Field] = &[
    req("signal", T::Code(L::SignalKind), "Kind of signal."),
    req(
        "origin_country",
        T::Code(L::Country),
        "Origin of the corridor the signal describes.",
    ),
    req(
        "destination_country",
        T::Code(L::Country),
        "Destination of the corridor.",
    ),
    req(
        "period_start",
        T::Date,
        "First day of the period (a month unless stated).",
    ),
    req("value", T::Number, "The signal's value for the period."),
    opt("sex", T::Code(L::Sex), "Sex, for signals reported by sex."),
    opt(
        "age_group",
        T::Code(L::AgeGroup),
        "Age group, for signals reported by age.",
    ),
    opt("provider", T::Text, "Who produced the signal."),
];

/// Fields every stored record carries besides its record type's own,
/// added by intake: where the record came from and its permanent key.
pub const STORED_FIELDS: &[(&str, DataType, &str)] = &[
    (
        "record_key",
        DataType::UInt64,
        "Permanent random key of the record, drawn at intake and never changed (the same row of the same file always gets the same key, and so does a row a corrected re-export left unchanged in its place). The cell-key method of disclosure control sums these per cell.",
    ),
    (
        "source_id",
        DataType::Utf8,
        "The source (agency export) the record came from.",
    ),
    (
        "submission_id",
        DataType::Utf8,
        "The submission (one ingested file) the record came from.",
    ),
    (
        "source_row",
        DataType::UInt64,
        "The record's row in the submitted file (1-based line or sheet row), to trace it back.",
    ),
];

/// A record type of the standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    BorderEvent,
    ResidencePermit,
    Return,
    TraffickingCase,
    Population,
    Signal,
}

impl RecordType {
    pub const ALL: [RecordType; 6] = [
        RecordType::BorderEvent,
        RecordType::ResidencePermit,
        RecordType::Return,
        RecordType::TraffickingCase,
        RecordType::Population,
        RecordType::Signal,
    ];

    /// The table name (`border_events`, …), used in mapping files and SQL.
    pub fn name(self) -> &'static str {
        match self {
            RecordType::BorderEvent => "border_events",
            RecordType::ResidencePermit => "residence_permits",
            RecordType::Return => "returns",
            RecordType::TraffickingCase => "trafficking_cases",
            RecordType::Population => "population",
            RecordType::Signal => "signals",
        }
    }

    pub fn from_name(name: &str) -> Option<RecordType> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn title(self) -> &'static str {
        match self {
            RecordType::BorderEvent => "Border events",
            RecordType::ResidencePermit => "Residence permits",
            RecordType::Return => "Returns",
            RecordType::TraffickingCase => "Trafficking cases",
            RecordType::Population => "Population",
            RecordType::Signal => "Signals",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            RecordType::BorderEvent => {
                "One crossing of a border, as recorded by the reporting country's border authority: an entry or an exit of one traveller. Stays, overstays and long-term migrations are derived from these."
            }
            RecordType::ResidencePermit => {
                "One residence permit or registration decision: a first permit, a renewal or a change of reason."
            }
            RecordType::Return => {
                "One return of a person to their country of origin or another country: spontaneous or assisted voluntary return, or forced return."
            }
            RecordType::TraffickingCase => {
                "One identified victim of trafficking as registered by one organisation, aligned with the Human Trafficking Case Data Standard (HTCDS, IOM). The same victim may be registered by several organisations; linkage finds them without names."
            }
            RecordType::Population => {
                "Resident population by country, year, sex and age group: the denominators of rates such as SDG 16.2.2."
            }
            RecordType::Signal => {
                "An auxiliary time series from a new data source (web search interest, mobile devices, social-media audiences) describing a migration corridor, used to nowcast recent months."
            }
        }
    }

    pub fn fields(self) -> &'static [Field] {
        match self {
            RecordType::BorderEvent => BORDER_EVENT,
            RecordType::ResidencePermit => RESIDENCE_PERMIT,
            RecordType::Return => RETURN,
            RecordType::TraffickingCase => TRAFFICKING_CASE,
            RecordType::Population => POPULATION,
            RecordType::Signal => SIGNAL,
        }
    }

    pub fn field(self, name: &str) -> Option<&'static Field> {
        self.fields().iter().find(|f| f.name == name)
    }

    /// The schema of stored records: the record type's fields followed by
    /// [`STORED_FIELDS`].
    pub fn stored_schema(self) -> Schema {
        let mut fields: Vec<ArrowField> = self
            .arrow_schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for (name, ty, description) in STORED_FIELDS {
            let mut meta = std::collections::HashMap::new();
            meta.insert("description".to_string(), description.to_string());
            fields.push(ArrowField::new(*name, ty.clone(), false).with_metadata(meta));
        }
        Schema::new(fields)
    }

    /// The Arrow schema of the record type's table. Required fields are
    /// non-nullable; the field description travels as metadata.
    pub fn arrow_schema(self) -> Schema {
        Schema::new(
            self.fields()
                .iter()
                .map(|f| {
                    let mut meta = std::collections::HashMap::new();
                    meta.insert("description".to_string(), f.description.to_string());
                    if let Some(list) = f.ty.code_list() {
                        meta.insert("code_list".to_string(), list.name().to_string());
                    }
                    ArrowField::new(f.name, f.ty.arrow_type(), !f.required).with_metadata(meta)
                })
                .collect::<Vec<_>>(),
        )
    }
}
