//! What each agency exports, in its own shape: the columns, the codes and
//! the languages it uses. Rows are built from the simulated lives.

use corridor_model::{CodeListId, Countries};

use crate::faults::Role;
use crate::geo::{self, Cc, POSTS};
use crate::sim::{DocType, Life, Move, Permit, ReturnEvent};
use crate::table::Cell;
use crate::truth::Direction;

/// How an agency writes a country.
#[derive(Debug, Clone, Copy)]
pub enum CountryStyle {
    /// Spanish name in capitals, sometimes a common variant.
    SpanishUpper,
    Alpha3,
    Alpha2,
    English,
}

pub fn country_text(c: Cc, style: CountryStyle, variant: u32) -> String {
    let code = geo::alpha3(c);
    let Some(country) = Countries::get().by_alpha3(code) else {
        return code.to_string();
    };
    match style {
        CountryStyle::SpanishUpper => {
            // Clerks type what they know: one row in ten has a common
            // variant or the code instead of the official Spanish name.
            match (variant % 20, code) {
                (0, "USA") => "EEUU".into(),
                (1, "USA") => "EE.UU.".into(),
                (0, _) => code.into(),
                (1, "MEX") => "Méjico".to_uppercase(),
                _ => country.name_es.to_uppercase(),
            }
        }
        CountryStyle::Alpha3 => code.into(),
        CountryStyle::Alpha2 => country.alpha2.clone(),
        CountryStyle::English => country.name_en.clone(),
    }
}

fn label_es(list: CodeListId, code: &str) -> String {
    list.list()
        .get(code)
        .map(|c| c.label_es.to_uppercase())
        .unwrap_or_else(|| code.to_uppercase())
}

fn label_en(list: CodeListId, code: &str) -> String {
    list.list()
        .get(code)
        .map(|c| c.label_en.clone())
        .unwrap_or_else(|| code.to_string())
}

/// The administrative residence status a border officer records.
pub fn residence_status(life: &Life, r: Cc, day: i32) -> &'static str {
    if life.person.citizenship == r {
        return "citizen";
    }
    let held = life
        .permits
        .iter()
        .filter(|p| p.country == r && p.issue <= day && p.valid_until.is_none_or(|u| u >= day))
        .map(|p| p.kind)
        .next();
    match held {
        Some("permanent") => "permanent_resident",
        Some(_) => "temporary_resident",
        None => "non_resident",
    }
}

/// One recorded crossing, from the recording country's side.
pub struct BorderRecord<'a> {
    pub life: &'a Life,
    pub mv: &'a Move,
    pub r: Cc,
    pub direction: Direction,
    /// Minutes since 1970 as the post's clock recorded it.
    pub t: i64,
    pub post: Option<u16>,
    pub record_id: u32,
}

impl BorderRecord<'_> {
    fn counterpart(&self) -> Cc {
        match self.direction {
            Direction::Arrival => self.mv.from,
            Direction::Departure => self.mv.to,
        }
    }

    fn post_name(&self) -> String {
        self.post
            .map(|p| POSTS[p as usize].name.to_string())
            .unwrap_or_default()
    }

    fn day(&self) -> i32 {
        self.t.div_euclid(1440) as i32
    }

    fn entry_only<T>(&self, value: T) -> Option<T> {
        (self.direction == Direction::Arrival && self.life.person.citizenship != self.r)
            .then_some(value)
    }

    fn status(&self) -> &'static str {
        residence_status(self.life, self.r, self.day())
    }
}

/// Guatemala's migration institute (IGM): a Windows-1252 CSV with Spanish
/// headers, `;` delimiters and dd/mm/yyyy dates.
pub const GTM_BORDER_COLUMNS: &[(&str, Role)] = &[
    ("Fecha", Role::EventDate),
    ("Hora", Role::Other),
    ("Tipo de Movimiento", Role::Direction),
    ("Puesto Fronterizo", Role::Other),
    ("Nombres", Role::Other),
    ("Apellidos", Role::FamilyName),
    ("Sexo", Role::Sex),
    ("Fecha de Nacimiento", Role::BirthDate),
    ("Nacionalidad", Role::Citizenship),
    ("Tipo de Documento", Role::Other),
    ("Número de Documento", Role::Document),
    ("País Procedencia/Destino", Role::Other),
    ("Motivo del Viaje", Role::Other),
    ("Tipo de Visa", Role::Other),
    ("Días Autorizados", Role::Other),
    ("Calidad Migratoria", Role::Other),
];

fn doc_es(d: DocType, citizenship: Cc) -> &'static str {
    match (d, geo::alpha3(citizenship)) {
        (DocType::Passport, _) => "PASAPORTE",
        (DocType::NationalId, "GTM") => "DPI",
        (DocType::NationalId, "SLV") => "DUI",
        (DocType::NationalId, "HND") => "DNI",
        (DocType::NationalId, _) => "CÉDULA",
    }
}

pub fn gtm_border(rec: &BorderRecord) -> Vec<Cell> {
    let p = &rec.life.person;
    let minute = rec.t.rem_euclid(1440);
    let v = rec.record_id;
    vec![
        Cell::Date(rec.day()),
        Cell::Text(format!("{:02}:{:02}", minute / 60, minute % 60)),
        Cell::Text(
            if rec.direction == Direction::Arrival {
                "ENTRADA"
            } else {
                "SALIDA"
            }
            .into(),
        ),
        Cell::Text(rec.post_name()),
        Cell::Text(p.name.given.to_uppercase()),
        Cell::Text(p.name.family.to_uppercase()),
        Cell::Text(if p.female { "FEMENINO" } else { "MASCULINO" }.into()),
        Cell::Date(p.birth),
        Cell::Text(country_text(p.citizenship, CountryStyle::SpanishUpper, v)),
        Cell::Text(doc_es(p.doc_type, p.citizenship).into()),
        Cell::Text(p.doc_number.clone()),
        Cell::Text(country_text(
            rec.counterpart(),
            CountryStyle::SpanishUpper,
            v >> 5,
        )),
        Cell::Text(label_es(CodeListId::TravelPurpose, rec.mv.purpose)),
        rec.entry_only(()).map_or(Cell::Null, |_| {
            Cell::Text(label_es(CodeListId::VisaType, rec.mv.visa))
        }),
        rec.entry_only(rec.mv.permitted_days)
            .map_or(Cell::Null, |d| Cell::Int(d as i64)),
        Cell::Text(label_es(CodeListId::ResidenceStatus, rec.status())),
    ]
}

/// Honduras' migration institute (INM): an Excel workbook with typed date
/// cells and ISO alpha-3 country codes.
pub const HND_BORDER_COLUMNS: &[(&str, Role)] = &[
    ("FECHA_HORA", Role::EventDate),
    ("TIPO_MOVIMIENTO", Role::Direction),
    ("DELEGACION", Role::Other),
    ("NOMBRES", Role::Other),
    ("APELLIDOS", Role::FamilyName),
    ("GENERO", Role::Sex),
    ("FECHA_NACIMIENTO", Role::BirthDate),
    ("NACIONALIDAD", Role::Citizenship),
    ("TIPO_DOCUMENTO", Role::Other),
    ("NUMERO_DOCUMENTO", Role::Document),
    ("PAIS_ORIGEN_DESTINO", Role::Other),
    ("MOTIVO_VIAJE", Role::Other),
    ("CATEGORIA_MIGRATORIA", Role::Other),
    ("DIAS_PERMITIDOS", Role::Other),
];

pub fn hnd_border(rec: &BorderRecord) -> Vec<Cell> {
    let p = &rec.life.person;
    vec![
        Cell::DateTime(rec.t),
        Cell::Text(
            if rec.direction == Direction::Arrival {
                "E"
            } else {
                "S"
            }
            .into(),
        ),
        Cell::Text(rec.post_name().to_uppercase()),
        Cell::Text(p.name.given.to_uppercase()),
        Cell::Text(p.name.family.to_uppercase()),
        Cell::Text(if p.female { "F" } else { "M" }.into()),
        Cell::Date(p.birth),
        Cell::Text(country_text(p.citizenship, CountryStyle::Alpha3, 0)),
        Cell::Text(
            if p.doc_type == DocType::Passport {
                "PASAPORTE"
            } else {
                "TARJETA DE IDENTIDAD"
            }
            .into(),
        ),
        Cell::Text(p.doc_number.clone()),
        Cell::Text(country_text(rec.counterpart(), CountryStyle::Alpha3, 0)),
        Cell::Text(label_es(CodeListId::TravelPurpose, rec.mv.purpose)),
        Cell::Text(label_es(CodeListId::ResidenceStatus, rec.status())),
        rec.entry_only(rec.mv.permitted_days)
            .map_or(Cell::Null, |d| Cell::Int(d as i64)),
    ]
}

/// El Salvador's migration directorate (DGME): NDJSON from its web
/// service, with the traveller and the document as nested objects and ISO
/// alpha-2 country codes.
pub const SLV_BORDER_COLUMNS: &[(&str, Role)] = &[
    ("id_registro", Role::Other),
    ("fecha_hora", Role::EventDate),
    ("flujo", Role::Direction),
    ("delegacion", Role::Other),
    ("viajero.nombres", Role::Other),
    ("viajero.apellidos", Role::FamilyName),
    ("viajero.sexo", Role::Sex),
    ("viajero.fecha_nacimiento", Role::BirthDate),
    ("viajero.nacionalidad", Role::Citizenship),
    ("viajero.documento.tipo", Role::Other),
    ("viajero.documento.numero", Role::Document),
    ("procedencia_destino", Role::Other),
    ("motivo", Role::Other),
    ("categoria", Role::Other),
    ("dias_autorizados", Role::Other),
];

pub fn slv_border(rec: &BorderRecord) -> Vec<Cell> {
    let p = &rec.life.person;
    vec![
        Cell::Int(rec.record_id as i64),
        Cell::DateTime(rec.t),
        Cell::Text(
            if rec.direction == Direction::Arrival {
                "ENTRADA"
            } else {
                "SALIDA"
            }
            .into(),
        ),
        Cell::Text(rec.post_name()),
        Cell::Text(p.name.given.clone()),
        Cell::Text(p.name.family.clone()),
        Cell::Text(if p.female { "F" } else { "M" }.into()),
        Cell::Date(p.birth),
        Cell::Text(country_text(p.citizenship, CountryStyle::Alpha2, 0)),
        Cell::Text(
            if p.doc_type == DocType::Passport {
                "PASAPORTE"
            } else {
                "DUI"
            }
            .into(),
        ),
        Cell::Text(p.doc_number.clone()),
        Cell::Text(country_text(rec.counterpart(), CountryStyle::Alpha2, 0)),
        Cell::Text(rec.mv.purpose.into()),
        Cell::Text(rec.status().into()),
        rec.entry_only(rec.mv.permitted_days)
            .map_or(Cell::Null, |d| Cell::Int(d as i64)),
    ]
}

pub fn border_cells(rec: &BorderRecord) -> Vec<Cell> {
    match rec.r {
        geo::GTM => gtm_border(rec),
        geo::HND => hnd_border(rec),
        _ => slv_border(rec),
    }
}

/// Residence permits: the same agencies, the same shapes.
pub fn permit_columns(r: Cc) -> &'static [(&'static str, Role)] {
    match r {
        geo::GTM => &[
            ("No. Resolución", Role::Other),
            ("Fecha de Emisión", Role::EventDate),
            ("Tipo de Residencia", Role::Other),
            ("Trámite", Role::Other),
            ("Vigente Hasta", Role::Other),
            ("Nombres", Role::Other),
            ("Apellidos", Role::FamilyName),
            ("Nacionalidad", Role::Citizenship),
            ("Sexo", Role::Sex),
            ("Fecha de Nacimiento", Role::BirthDate),
            ("Número de Documento", Role::Document),
        ],
        geo::HND => &[
            ("NUMERO_CARNE", Role::Other),
            ("FECHA_EMISION", Role::EventDate),
            ("TIPO_RESIDENCIA", Role::Other),
            ("TRAMITE", Role::Other),
            ("VENCE", Role::Other),
            ("NOMBRES", Role::Other),
            ("APELLIDOS", Role::FamilyName),
            ("NACIONALIDAD", Role::Citizenship),
            ("GENERO", Role::Sex),
            ("FECHA_NACIMIENTO", Role::BirthDate),
            ("NUMERO_DOCUMENTO", Role::Document),
        ],
        _ => &[
            ("carne", Role::Other),
            ("emision", Role::EventDate),
            ("tipo", Role::Other),
            ("tramite", Role::Other),
            ("vence", Role::Other),
            ("titular.nombres", Role::Other),
            ("titular.apellidos", Role::FamilyName),
            ("titular.nacionalidad", Role::Citizenship),
            ("titular.sexo", Role::Sex),
            ("titular.fecha_nacimiento", Role::BirthDate),
            ("titular.documento", Role::Document),
        ],
    }
}

pub fn permit_cells(life: &Life, permit: &Permit) -> Vec<Cell> {
    let p = &life.person;
    let r = permit.country;
    let until = permit.valid_until.map_or(Cell::Null, Cell::Date);
    match r {
        geo::GTM => vec![
            Cell::Text(format!("DGM-{}", permit.number)),
            Cell::Date(permit.issue),
            Cell::Text(label_es(CodeListId::PermitType, permit.kind)),
            Cell::Text(label_es(CodeListId::PermitDecision, permit.decision)),
            until,
            Cell::Text(p.name.given.to_uppercase()),
            Cell::Text(p.name.family.to_uppercase()),
            Cell::Text(country_text(
                p.citizenship,
                CountryStyle::SpanishUpper,
                permit.number as u32,
            )),
            Cell::Text(if p.female { "FEMENINO" } else { "MASCULINO" }.into()),
            Cell::Date(p.birth),
            Cell::Text(p.doc_number.clone()),
        ],
        geo::HND => vec![
            Cell::Int(permit.number as i64),
            Cell::Date(permit.issue),
            Cell::Text(label_es(CodeListId::PermitType, permit.kind)),
            Cell::Text(label_es(CodeListId::PermitDecision, permit.decision)),
            until,
            Cell::Text(p.name.given.to_uppercase()),
            Cell::Text(p.name.family.to_uppercase()),
            Cell::Text(country_text(p.citizenship, CountryStyle::Alpha3, 0)),
            Cell::Text(if p.female { "F" } else { "M" }.into()),
            Cell::Date(p.birth),
            Cell::Text(p.doc_number.clone()),
        ],
        _ => vec![
            Cell::Text(format!("R{}", permit.number)),
            Cell::Date(permit.issue),
            Cell::Text(permit.kind.into()),
            Cell::Text(permit.decision.into()),
            until,
            Cell::Text(p.name.given.clone()),
            Cell::Text(p.name.family.clone()),
            Cell::Text(country_text(p.citizenship, CountryStyle::Alpha2, 0)),
            Cell::Text(if p.female { "F" } else { "M" }.into()),
            Cell::Date(p.birth),
            Cell::Text(p.doc_number.clone()),
        ],
    }
}

/// The regional returns register (in the manner of IOM's Northern Triangle
/// Migration Information Initiative): one UTF-8 CSV in English.
pub const RETURN_COLUMNS: &[(&str, Role)] = &[
    ("return_id", Role::Other),
    ("arrival_date", Role::EventDate),
    ("country_of_return", Role::Other),
    ("returned_from", Role::Other),
    ("return_type", Role::Other),
    ("nationality", Role::Citizenship),
    ("sex", Role::Sex),
    ("age", Role::Other),
    ("unaccompanied_minor", Role::Other),
    ("transport", Role::Other),
    ("reporting_country", Role::Other),
    ("reporting_agency", Role::Other),
    ("reintegration_support", Role::Other),
    ("travel_document_number", Role::Document),
];

pub fn return_cells(life: &Life, ret: &ReturnEvent, id: u64) -> Vec<Cell> {
    let p = &life.person;
    let reporter = if ret.kind == "assisted_voluntary" {
        "IOM".to_string()
    } else if geo::is_reporting(ret.host) {
        format!(
            "Migration authority of {}",
            country_text(ret.host, CountryStyle::English, 0)
        )
    } else {
        format!(
            "Returnee reception centre, {}",
            country_text(ret.destination, CountryStyle::English, 0)
        )
    };
    let kind = match ret.kind {
        "forced" => "Forced",
        "assisted_voluntary" => "Assisted voluntary",
        _ => "Voluntary",
    };
    vec![
        Cell::Text(format!("RET-{id:08}")),
        Cell::Date(ret.day),
        Cell::Text(country_text(ret.destination, CountryStyle::English, 0)),
        Cell::Text(country_text(ret.host, CountryStyle::English, 0)),
        Cell::Text(kind.into()),
        Cell::Text(country_text(p.citizenship, CountryStyle::English, 0)),
        Cell::Text(if p.female { "Female" } else { "Male" }.into()),
        Cell::Int(((ret.day - p.birth) / 365) as i64),
        Cell::Text(if ret.unaccompanied_minor { "Yes" } else { "No" }.into()),
        Cell::Text(label_en(CodeListId::TransportMode, ret.mode.code())),
        Cell::Text(country_text(
            if geo::is_reporting(ret.destination) {
                ret.destination
            } else {
                ret.host
            },
            CountryStyle::English,
            0,
        )),
        Cell::Text(reporter),
        Cell::Text(if ret.reintegration { "Yes" } else { "No" }.into()),
        Cell::Text(p.doc_number.clone()),
    ]
}
