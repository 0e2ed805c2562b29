//! ISO 3166-1 countries, with UN M49 regions and the spellings found in
//! administrative exports.
//!
//! Resolution ignores case, accents and punctuation, and knows the English,
//! Spanish and French names, the alpha-2, alpha-3 and numeric codes, the
//! official names, and curated variants and nationality adjectives
//! ("EEUU", "Ivory Coast", "guatemalteca"). When it fails it names the closest
//! candidates, so a data officer can add a recoding to the mapping file.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use crate::codes::{CodeListId, UnknownCode, split_notes};

/// One ISO 3166-1 entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Country {
    pub alpha2: String,
    pub alpha3: String,
    /// ISO 3166-1 numeric, zero-padded to three digits (also the M49 code).
    pub numeric: String,
    pub name_en: String,
    pub name_es: String,
    pub name_fr: String,
    pub official_name_en: String,
    /// M49 region code (e.g. `019` Americas); empty where none (Antarctica).
    pub m49_region: String,
    /// M49 sub-region code (e.g. `419` Latin America and the Caribbean).
    pub m49_subregion: String,
    /// M49 intermediate region code (e.g. `013` Central America), if any.
    pub m49_intermediate: String,
}

/// A country value that resolves to no country.
pub type CountryNotFound = UnknownCode;

/// The ISO 3166-1 table.
#[derive(Debug)]
pub struct Countries {
    countries: Vec<Country>,
    by_alpha3: HashMap<String, usize>,
}

const VARIANTS: &str = include_str!("../data/country_variants.csv");
const TIME_ZONES: &str = include_str!("../data/time_zones.csv");

/// The IANA time zones of a country (alpha-3, exact), as the tz
/// database's `zone.tab` lists them; empty for an unknown code. A country
/// with several is not reduced to one: which of them a record's clock
/// followed is a fact of the record (its post), not of the country.
pub fn time_zones(alpha3: &str) -> &'static [&'static str] {
    static BY_CODE: OnceLock<HashMap<&'static str, Vec<&'static str>>> = OnceLock::new();
    BY_CODE
        .get_or_init(|| {
            TIME_ZONES
                .lines()
                .filter(|line| !line.starts_with('#') && *line != "alpha3,zones")
                .filter_map(|line| line.split_once(','))
                .map(|(code, zones)| (code, zones.split(';').collect()))
                .collect()
        })
        .get(alpha3)
        .map_or(&[], Vec::as_slice)
}

/// Curated variants, by alpha-3 code.
fn variants() -> &'static BTreeMap<String, Vec<String>> {
    static VARIANTS_BY_CODE: OnceLock<BTreeMap<String, Vec<String>>> = OnceLock::new();
    VARIANTS_BY_CODE.get_or_init(|| {
        let (_, body) = split_notes(VARIANTS);
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        for record in reader.records() {
            let record = record.unwrap_or_else(|e| panic!("country_variants.csv: {e}"));
            if let (Some(code), Some(variant)) = (record.get(0), record.get(1)) {
                map.entry(code.to_string())
                    .or_default()
                    .push(variant.to_string());
            }
        }
        map
    })
}

/// The extra keys a country is known by besides its three names and codes:
/// official name, names with their comma or bracket parts rearranged
/// ("Korea, Republic of" → "Republic of Korea"; "Bolivia (Plurinational
/// State of)" → "Bolivia"), and curated variants.
pub(crate) fn aliases_of(alpha3: &str, codes: &[String], names: [&String; 3]) -> Vec<String> {
    let mut out: Vec<String> = codes.iter().filter(|c| !c.is_empty()).cloned().collect();
    for name in names {
        if let Some((head, tail)) = name.split_once(", ") {
            out.push(format!("{tail} {head}"));
            out.push(head.to_string());
        }
        if let Some((head, _)) = name.split_once(" (") {
            out.push(head.to_string());
        }
    }
    if let Some(v) = variants().get(alpha3) {
        out.extend(v.iter().cloned());
    }
    out
}

impl Countries {
    /// The built-in table (all 249 ISO 3166-1 entries).
    pub fn get() -> &'static Countries {
        static COUNTRIES: OnceLock<Countries> = OnceLock::new();
        COUNTRIES.get_or_init(|| {
            let (_, text) = CodeListId::Country.source_file();
            let (_, body) = split_notes(text);
            let mut reader = csv::Reader::from_reader(body.as_bytes());
            let headers = reader
                .headers()
                .unwrap_or_else(|e| panic!("countries.csv: {e}"))
                .clone();
            let col = |name: &str| {
                headers
                    .iter()
                    .position(|h| h == name)
                    .unwrap_or_else(|| panic!("countries.csv has no column {name}"))
            };
            let cols = [
                "alpha2",
                "alpha3",
                "numeric",
                "name_en",
                "name_es",
                "name_fr",
                "official_name_en",
                "m49_region",
                "m49_subregion",
                "m49_intermediate",
            ]
            .map(col);
            let mut countries = Vec::new();
            for record in reader.records() {
                let r = record.unwrap_or_else(|e| panic!("countries.csv: {e}"));
                let f = |i: usize| r.get(cols[i]).unwrap_or_default().to_string();
                countries.push(Country {
                    alpha2: f(0),
                    alpha3: f(1),
                    numeric: f(2),
                    name_en: f(3),
                    name_es: f(4),
                    name_fr: f(5),
                    official_name_en: f(6),
                    m49_region: f(7),
                    m49_subregion: f(8),
                    m49_intermediate: f(9),
                });
            }
            let by_alpha3 = countries
                .iter()
                .enumerate()
                .map(|(i, c)| (c.alpha3.clone(), i))
                .collect();
            Countries {
                countries,
                by_alpha3,
            }
        })
    }

    /// All entries, sorted by alpha-3 code.
    pub fn all(&self) -> &[Country] {
        &self.countries
    }

    /// The entry with this alpha-3 code (exact, upper case).
    pub fn by_alpha3(&self, alpha3: &str) -> Option<&Country> {
        self.by_alpha3.get(alpha3).map(|&i| &self.countries[i])
    }

    /// Resolves any code, name or known variant to its country, ignoring
    /// case, accents and punctuation. On failure the error lists the closest
    /// candidates (alpha-3 codes), best first.
    pub fn resolve(&self, value: &str) -> Result<&Country, CountryNotFound> {
        let code = CodeListId::Country.list().resolve(value)?;
        self.by_alpha3(&code.code).ok_or_else(|| UnknownCode {
            list: "country",
            value: value.to_string(),
            candidates: Vec::new(),
        })
    }
}
