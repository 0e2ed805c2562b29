//! Identified victims of trafficking and the case records three
//! organisations hold on them: overlapping (a victim assisted by a shelter
//! and by IOM appears in both), and disagreeing, as real case files do.

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::calendar::{Day, date_of, day_of};
use crate::geo::{self, Cc, Mix};
use crate::names::{self, Name};
use crate::sim::choose;

const VICTIM_CITIZENSHIP: Mix = &[
    ("GTM", 350),
    ("HND", 250),
    ("SLV", 150),
    ("NIC", 80),
    ("MEX", 50),
    ("VEN", 40),
    ("COL", 30),
    ("CUB", 15),
    ("HTI", 10),
    ("ECU", 10),
    ("CHN", 10),
    ("DOM", 5),
];

const PLACES: &[(&str, &[&str])] = &[
    (
        "GTM",
        &[
            "Ciudad de Guatemala",
            "Quetzaltenango",
            "Huehuetenango",
            "San Marcos",
            "Cobán",
            "Escuintla",
            "Mazatenango",
            "Chiquimula",
        ],
    ),
    (
        "HND",
        &[
            "Tegucigalpa",
            "San Pedro Sula",
            "Choluteca",
            "La Ceiba",
            "Comayagua",
            "Santa Rosa de Copán",
            "Olancho",
        ],
    ),
    (
        "SLV",
        &[
            "San Salvador",
            "Santa Ana",
            "San Miguel",
            "Soyapango",
            "Usulután",
            "Ahuachapán",
            "La Libertad",
        ],
    ),
    (
        "NIC",
        &["Managua", "León", "Chinandega", "Estelí", "Matagalpa"],
    ),
    (
        "MEX",
        &["Tapachula", "Ciudad de México", "Oaxaca", "Veracruz"],
    ),
];

/// A true victim.
#[derive(Debug, Clone)]
pub struct Victim {
    pub id: u64,
    pub name: Name,
    pub female: bool,
    pub birth: Day,
    pub place_of_birth: String,
    pub citizenship: Cc,
    pub exploitation_country: Cc,
    pub exploitation: Vec<&'static str>,
    pub labour_industry: Option<&'static str>,
    pub means: Vec<&'static str>,
    pub recruiter: &'static str,
    pub abduction: bool,
    /// Day the exploitation was identified.
    pub identified: Day,
}

/// One organisation's record of a victim.
#[derive(Debug, Clone)]
pub struct CaseRecord {
    pub org: usize,
    pub case_id: String,
    pub victim: u64,
    pub registered: Day,
    pub given: String,
    pub family: String,
    pub birth: Option<Day>,
    /// Day and month swapped in the recorded date of birth.
    pub birth_swapped: bool,
    pub place_of_birth: Option<String>,
    pub female: Option<bool>,
    pub age: Option<i32>,
    pub citizenship: Option<Cc>,
    pub exploitation_country: Option<Cc>,
    pub exploitation: Vec<&'static str>,
    pub labour_industry: Option<&'static str>,
    pub means: Vec<&'static str>,
    pub recruiter: &'static str,
    pub abduction: bool,
    /// What differs from the true victim, for the truth file.
    pub disagreements: Vec<&'static str>,
}

pub struct Organisation {
    pub code: &'static str,
    pub name: &'static str,
    /// Share of all victims that this organisation assists.
    pub reach: f64,
}

pub const ORGANISATIONS: [Organisation; 3] = [
    Organisation {
        code: "org-a",
        name: "Regional counter-trafficking case management (IOM-style, HTCDS export)",
        reach: 0.50,
    },
    Organisation {
        code: "org-b",
        name: "Shelter network for survivors (English CSV)",
        reach: 0.40,
    },
    Organisation {
        code: "org-c",
        name: "Fiscalía contra la Trata de Personas (CSV, Windows-1252)",
        reach: 0.35,
    },
];

pub fn victim(seed: u64, id: u64, start: Day, end: Day) -> Victim {
    let mut rng = ChaCha8Rng::seed_from_u64(
        seed ^ 0x7F4A_7C15_0000_0000 ^ id.wrapping_mul(0xD1B5_4A32_D192_ED03),
    );
    let citizenship = choose(&mut rng, VICTIM_CITIZENSHIP);
    let female = rng.random_bool(0.7);
    let minor = rng.random_bool(0.3);
    let identified = rng.random_range(start..=end);
    let age = if minor {
        rng.random_range(9..18)
    } else {
        rng.random_range(18..50)
    };
    let birth = identified - age * 365 - rng.random_range(0..365);
    let exploitation_country = match rng.random_range(0..100) {
        0..50 => citizenship,
        50..75 => geo::MEX,
        75..88 => geo::USA,
        _ => geo::GTM,
    };
    let mut exploitation = Vec::new();
    let r: f64 = rng.random();
    let main = if female {
        if r < 0.70 {
            "sexual"
        } else if r < 0.85 {
            "forced_labour"
        } else if r < 0.93 {
            "forced_marriage"
        } else {
            "forced_criminality"
        }
    } else if r < 0.60 {
        "forced_labour"
    } else if r < 0.75 {
        "forced_criminality"
    } else if r < 0.85 {
        "sexual"
    } else if r < 0.95 {
        "begging"
    } else {
        "organ_removal"
    };
    exploitation.push(main);
    if main == "sexual" && rng.random_bool(0.15) {
        exploitation.push("forced_labour");
    }
    let labour_industry = exploitation.contains(&"forced_labour").then(|| {
        *[
            "agriculture",
            "agriculture",
            "domestic_work",
            "construction",
            "hospitality",
            "manufacturing",
            "fishing",
            "peddling",
        ]
        .choose(&mut rng)
        .unwrap_or(&"agriculture")
    });
    const MEANS: &[(&str, f64)] = &[
        ("threats", 0.5),
        ("psychological_abuse", 0.45),
        ("false_promises", 0.45),
        ("physical_abuse", 0.3),
        ("restricts_movement", 0.35),
        ("takes_earnings", 0.3),
        ("debt_bondage", 0.25),
        ("withholds_documents", 0.2),
        ("sexual_abuse", 0.2),
        ("psychoactive_substances", 0.1),
        ("excessive_working_hours", 0.15),
    ];
    let means = MEANS
        .iter()
        .filter(|(_, p)| rng.random_bool(*p))
        .map(|(m, _)| *m)
        .collect();
    let recruiter = *[
        "intimate_partner",
        "family",
        "friend",
        "friend",
        "employer",
        "employer",
        "other",
        "unknown",
    ]
    .choose(&mut rng)
    .unwrap_or(&"unknown");
    let name = names::draw(
        &mut rng,
        female,
        geo::hispanic(citizenship),
        geo::alpha3(citizenship),
    );
    let place_of_birth = PLACES
        .iter()
        .find(|(c, _)| *c == geo::alpha3(citizenship))
        .and_then(|(_, places)| places.choose(&mut rng))
        .map(|s| s.to_string())
        .unwrap_or_else(|| {
            crate::export::country_text(citizenship, crate::export::CountryStyle::English, 0)
        });
    Victim {
        id,
        name,
        female,
        birth,
        place_of_birth,
        citizenship,
        exploitation_country,
        exploitation,
        labour_industry,
        means,
        recruiter,
        abduction: rng.random_bool(0.05),
        identified,
    }
}

/// Which organisations record this victim, and how each got it.
pub fn records(seed: u64, v: &Victim, end: Day) -> Vec<CaseRecord> {
    let mut rng = ChaCha8Rng::seed_from_u64(
        seed ^ 0x51A5_0000_0000_0000 ^ v.id.wrapping_mul(0x94D0_49BB_1331_11EB),
    );
    // Every victim is known to at least one organisation; about one in five
    // to more than one.
    let first = rng.random_range(0..3usize);
    let mut orgs = vec![first];
    for (o, org) in ORGANISATIONS.iter().enumerate() {
        if o != first && rng.random_bool(org.reach * 0.27) {
            orgs.push(o);
        }
    }
    orgs.sort_unstable();
    orgs.into_iter()
        .map(|org| {
            let registered = (v.identified + rng.random_range(0..120)).min(end);
            let mut rec = CaseRecord {
                org,
                case_id: format!(
                    "{}-{:06}",
                    ["CM", "SH", "FT"][org],
                    rng.random_range(0..1_000_000)
                ),
                victim: v.id,
                registered,
                given: v.name.given.clone(),
                family: v.name.family.clone(),
                birth: Some(v.birth),
                birth_swapped: false,
                place_of_birth: Some(v.place_of_birth.clone()),
                female: Some(v.female),
                age: Some((registered - v.birth) / 365),
                citizenship: Some(v.citizenship),
                exploitation_country: Some(v.exploitation_country),
                exploitation: v.exploitation.clone(),
                labour_industry: v.labour_industry,
                means: v.means.clone(),
                recruiter: v.recruiter,
                abduction: v.abduction,
                disagreements: Vec::new(),
            };
            disagree(&mut rng, &mut rec);
            rec
        })
        .collect()
}

/// The ways copies of one victim's record come to differ.
fn disagree(rng: &mut ChaCha8Rng, rec: &mut CaseRecord) {
    if rng.random_bool(0.12) {
        rec.given = names::typo(rng, &rec.given);
        rec.disagreements.push("typo_given_name");
    }
    if rng.random_bool(0.12) {
        rec.family = names::typo(rng, &rec.family);
        rec.disagreements.push("typo_family_name");
    }
    if rng.random_bool(0.1) {
        if let Some(t) = names::transliterate(&rec.given) {
            rec.given = t;
            rec.disagreements.push("transliteration");
        } else if let Some(t) = names::transliterate(&rec.family) {
            rec.family = t;
            rec.disagreements.push("transliteration");
        }
    }
    if rng.random_bool(0.2)
        && let Some((first, _)) = rec.family.split_once(' ')
    {
        rec.family = first.to_string();
        rec.disagreements.push("second_family_name_missing");
    }
    if rng.random_bool(0.15)
        && let Some((first, _)) = rec.given.split_once(' ')
    {
        rec.given = first.to_string();
        rec.disagreements.push("second_given_name_missing");
    }
    if rng.random_bool(0.25) {
        rec.given = names::strip_accents(&rec.given);
        rec.family = names::strip_accents(&rec.family);
        rec.disagreements.push("accents_dropped");
    }
    if let Some(b) = rec.birth {
        let d = date_of(b);
        use chrono::Datelike;
        if rng.random_bool(0.06) && d.day() <= 12 && d.day() != d.month() {
            if let Some(swapped) = chrono::NaiveDate::from_ymd_opt(d.year(), d.day(), d.month()) {
                rec.birth = Some(day_of(swapped));
                rec.birth_swapped = true;
                rec.disagreements.push("birth_day_month_swapped");
            }
        } else if rng.random_bool(0.1) {
            rec.birth = None;
            rec.disagreements.push("birth_date_missing");
        } else if rng.random_bool(0.03) {
            rec.birth = Some(b + 365 * if rng.random_bool(0.5) { 1 } else { -1 });
            rec.disagreements.push("birth_year_off_by_one");
        }
    }
    if rng.random_bool(0.3) {
        rec.place_of_birth = None;
        rec.disagreements.push("place_of_birth_missing");
    }
    if rng.random_bool(0.03) {
        rec.female = None;
        rec.disagreements.push("sex_missing");
    }
    if rng.random_bool(0.05) {
        rec.citizenship = None;
        rec.disagreements.push("citizenship_missing");
    }
    if rng.random_bool(0.1) {
        rec.age = None;
        rec.disagreements.push("age_missing");
    }
    if rec.means.len() > 1 && rng.random_bool(0.3) {
        rec.means.truncate(rec.means.len() / 2);
        rec.disagreements.push("fewer_means_of_control");
    }
}

use crate::table::Cell;

/// Org A exports HTCDS field names to Excel, ISO alpha-2 countries and 0/1
/// flags, as IOM-style case management systems do.
pub fn org_a_columns() -> Vec<String> {
    let mut cols: Vec<String> = [
        "caseId",
        "yearOfRegistration",
        "registrationDate",
        "firstName",
        "lastName",
        "dateOfBirth",
        "placeOfBirth",
        "gender",
        "age",
        "ageBroad",
        "majorityStatus",
        "citizenship",
        "CountryOfExploitation",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for list in [
        corridor_model::CodeListId::ExploitationType,
        corridor_model::CodeListId::MeansOfControl,
    ] {
        for code in &list.list().codes {
            let flag = code.extra.get("htcds").cloned().unwrap_or_default();
            if !cols.contains(&flag) && !flag.is_empty() {
                cols.push(flag);
            }
        }
    }
    cols.extend(["typeOfLabour", "recruiterRelationship", "isAbduction"].map(String::from));
    cols
}

fn htcds_age_broad(age: i32) -> &'static str {
    match age {
        ..9 => "0--8",
        9..18 => "9--17",
        18..21 => "18--20",
        21..24 => "21--23",
        24..27 => "24--26",
        27..30 => "27--29",
        30..39 => "30--38",
        39..48 => "39--47",
        _ => "48+",
    }
}

fn year_of(day: Day) -> i64 {
    use chrono::Datelike;
    date_of(day).year() as i64
}

fn label(list: corridor_model::CodeListId, code: &str, spanish: bool) -> String {
    list.list()
        .get(code)
        .map(|c| {
            if spanish {
                c.label_es.clone()
            } else {
                c.label_en.clone()
            }
        })
        .unwrap_or_else(|| code.to_string())
}

pub fn org_a_cells(rec: &CaseRecord) -> Vec<Cell> {
    use corridor_model::CodeListId as L;
    let country = |c: Option<Cc>| {
        c.map_or(Cell::Null, |c| {
            Cell::Text(crate::export::country_text(
                c,
                crate::export::CountryStyle::Alpha2,
                0,
            ))
        })
    };
    let mut cells = vec![
        Cell::Text(rec.case_id.clone()),
        Cell::Int(year_of(rec.registered)),
        Cell::Date(rec.registered),
        Cell::Text(rec.given.clone()),
        Cell::Text(rec.family.clone()),
        rec.birth.map_or(Cell::Null, Cell::Date),
        rec.place_of_birth.clone().map_or(Cell::Null, Cell::Text),
        match rec.female {
            Some(true) => Cell::Text("Female".into()),
            Some(false) => Cell::Text("Male".into()),
            None => Cell::Text("Unknown".into()),
        },
        rec.age.map_or(Cell::Null, |a| Cell::Int(a as i64)),
        rec.age
            .map_or(Cell::Null, |a| Cell::Text(htcds_age_broad(a).into())),
        rec.age.map_or(Cell::Text("Unknown".into()), |a| {
            Cell::Text(if a < 18 { "Minor" } else { "Adult" }.into())
        }),
        country(rec.citizenship),
        country(rec.exploitation_country),
    ];
    let mut flags: Vec<String> = Vec::new();
    for (list, chosen) in [
        (L::ExploitationType, &rec.exploitation),
        (L::MeansOfControl, &rec.means),
    ] {
        for code in &list.list().codes {
            let flag = code.extra.get("htcds").cloned().unwrap_or_default();
            if flag.is_empty() || flags.contains(&flag) {
                continue;
            }
            let on = list
                .list()
                .codes
                .iter()
                .filter(|c| c.extra.get("htcds") == Some(&flag))
                .any(|c| chosen.contains(&c.code.as_str()));
            flags.push(flag);
            cells.push(Cell::Int(i64::from(on)));
        }
    }
    cells.push(rec.labour_industry.map_or(Cell::Null, |l| {
        Cell::Text(label(L::LabourIndustry, l, false))
    }));
    cells.push(Cell::Text(label(
        L::RecruiterRelationship,
        rec.recruiter,
        false,
    )));
    cells.push(Cell::Int(i64::from(rec.abduction)));
    cells
}

/// Org B: a shelter network's UTF-8 CSV in English, US dates, full names in
/// one column and lists separated by semicolons.
pub const ORG_B_COLUMNS: &[&str] = &[
    "Case number",
    "Intake date",
    "Full name",
    "DOB",
    "Birthplace",
    "Gender",
    "Age",
    "Nationality",
    "Country where exploited",
    "Exploitation",
    "Industry",
    "Control methods",
    "Recruiter",
];

pub fn org_b_cells(rec: &CaseRecord) -> Vec<Cell> {
    use corridor_model::CodeListId as L;
    let country = |c: Option<Cc>| {
        c.map_or(Cell::Null, |c| {
            Cell::Text(crate::export::country_text(
                c,
                crate::export::CountryStyle::English,
                0,
            ))
        })
    };
    let list = |list: L, codes: &[&str]| {
        codes
            .iter()
            .map(|c| label(list, c, false))
            .collect::<Vec<_>>()
            .join("; ")
    };
    vec![
        Cell::Text(rec.case_id.clone()),
        Cell::Date(rec.registered),
        Cell::Text(format!("{} {}", rec.given, rec.family)),
        rec.birth.map_or(Cell::Null, Cell::Date),
        rec.place_of_birth.clone().map_or(Cell::Null, Cell::Text),
        Cell::Text(
            match rec.female {
                Some(true) => "F",
                Some(false) => "M",
                None => "",
            }
            .into(),
        ),
        rec.age.map_or(Cell::Null, |a| Cell::Int(a as i64)),
        country(rec.citizenship),
        country(rec.exploitation_country),
        Cell::Text(list(L::ExploitationType, &rec.exploitation)),
        rec.labour_industry.map_or(Cell::Null, |l| {
            Cell::Text(label(L::LabourIndustry, l, false))
        }),
        Cell::Text(list(L::MeansOfControl, &rec.means)),
        Cell::Text(label(L::RecruiterRelationship, rec.recruiter, false)),
    ]
}

/// Org C: a prosecutor's office, Windows-1252, `;`, Spanish headers and
/// labels, dd/mm/yyyy.
pub const ORG_C_COLUMNS: &[&str] = &[
    "No. Expediente",
    "Fecha de Registro",
    "Nombres",
    "Apellidos",
    "Fecha de Nacimiento",
    "Lugar de Nacimiento",
    "Sexo",
    "Edad",
    "Nacionalidad",
    "País de Explotación",
    "Tipo de Trata",
    "Actividad",
    "Medios de Control",
    "Relación con el Captador",
];

pub fn org_c_cells(rec: &CaseRecord) -> Vec<Cell> {
    use corridor_model::CodeListId as L;
    let country = |c: Option<Cc>| {
        c.map_or(Cell::Null, |c| {
            Cell::Text(crate::export::country_text(
                c,
                crate::export::CountryStyle::SpanishUpper,
                7,
            ))
        })
    };
    let list = |list: L, codes: &[&str]| {
        codes
            .iter()
            .map(|c| label(list, c, true))
            .collect::<Vec<_>>()
            .join(", ")
    };
    vec![
        Cell::Text(rec.case_id.clone()),
        Cell::Date(rec.registered),
        Cell::Text(rec.given.to_uppercase()),
        Cell::Text(rec.family.to_uppercase()),
        rec.birth.map_or(Cell::Null, Cell::Date),
        rec.place_of_birth
            .clone()
            .map_or(Cell::Null, |p| Cell::Text(p.to_uppercase())),
        Cell::Text(
            match rec.female {
                Some(true) => "MUJER",
                Some(false) => "HOMBRE",
                None => "NO INDICA",
            }
            .into(),
        ),
        rec.age.map_or(Cell::Null, |a| Cell::Int(a as i64)),
        country(rec.citizenship),
        country(rec.exploitation_country),
        Cell::Text(list(L::ExploitationType, &rec.exploitation)),
        rec.labour_industry.map_or(Cell::Null, |l| {
            Cell::Text(label(L::LabourIndustry, l, true))
        }),
        Cell::Text(list(L::MeansOfControl, &rec.means)),
        Cell::Text(label(L::RecruiterRelationship, rec.recruiter, true)),
    ]
}
