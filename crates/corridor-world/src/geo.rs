//! The simulated region: its countries, border posts and citizenship mixes.

/// Index into [`COUNTRIES`].
pub type Cc = u8;

/// Countries that appear in the simulation, by alpha-3 code. The first three
/// are the reporting countries, whose border authorities export records.
pub const COUNTRIES: &[&str] = &[
    "GTM", "HND", "SLV", // reporting
    "MEX", "USA", "NIC", "CRI", "PAN", "BLZ", "CAN", "COL", "VEN", "CUB", "HTI", "ECU", "DOM",
    "PER", "BRA", "ARG", "CHL", "ESP", "FRA", "DEU", "ITA", "GBR", "NLD", "CHN", "IND", "KOR",
    "JPN", "SEN", "CMR", "AGO", "AFG", "NPL", "BGD",
];

pub const GTM: Cc = 0;
pub const HND: Cc = 1;
pub const SLV: Cc = 2;
pub const MEX: Cc = 3;
pub const USA: Cc = 4;
pub const NIC: Cc = 5;
pub const REPORTING: [Cc; 3] = [GTM, HND, SLV];

pub fn alpha3(c: Cc) -> &'static str {
    COUNTRIES[c as usize]
}

pub fn cc(alpha3: &str) -> Cc {
    COUNTRIES
        .iter()
        .position(|c| *c == alpha3)
        .map(|i| i as Cc)
        .unwrap_or_else(|| panic!("{alpha3} is not a country of the simulation"))
}

pub fn is_reporting(c: Cc) -> bool {
    c < 3
}

/// CA-4 agreement members: free movement with identity cards, 90 days.
pub fn is_ca4(c: Cc) -> bool {
    c < 3 || c == NIC
}

/// Whether a country shares a land border with a reporting country, and so
/// can be reached by road.
pub fn land_neighbours(r: Cc) -> &'static [Cc] {
    match r {
        GTM => &[MEX, HND, SLV, 8 /* BLZ */],
        HND => &[GTM, SLV, NIC],
        SLV => &[GTM, HND],
        _ => &[],
    }
}

/// Whether citizens of `c` need a visa to visit the CA-4 countries.
pub fn needs_visa(c: Cc) -> bool {
    matches!(
        alpha3(c),
        "CUB"
            | "HTI"
            | "CHN"
            | "IND"
            | "SEN"
            | "CMR"
            | "AGO"
            | "AFG"
            | "NPL"
            | "BGD"
            | "DOM"
            | "VEN"
    )
}

/// Whether names from this country are Spanish-language names.
pub fn hispanic(c: Cc) -> bool {
    matches!(
        alpha3(c),
        "GTM"
            | "HND"
            | "SLV"
            | "MEX"
            | "NIC"
            | "CRI"
            | "PAN"
            | "COL"
            | "VEN"
            | "CUB"
            | "ECU"
            | "DOM"
            | "PER"
            | "ARG"
            | "CHL"
            | "ESP"
    )
}

/// A weighted choice table of countries.
pub type Mix = &'static [(&'static str, u32)];

/// Citizenship of short-term visitors to the region.
pub const VISITOR_MIX: Mix = &[
    ("USA", 280),
    ("MEX", 140),
    ("GTM", 70),
    ("HND", 60),
    ("SLV", 60),
    ("NIC", 80),
    ("CRI", 50),
    ("CAN", 40),
    ("COL", 40),
    ("ESP", 30),
    ("PAN", 20),
    ("VEN", 20),
    ("CHN", 20),
    ("DEU", 15),
    ("FRA", 15),
    ("GBR", 10),
    ("ITA", 10),
    ("BRA", 8),
    ("ARG", 8),
    ("PER", 8),
    ("KOR", 6),
    ("JPN", 6),
    ("NLD", 6),
    ("IND", 5),
    ("CUB", 5),
    ("DOM", 5),
    ("ECU", 5),
    ("BLZ", 5),
    ("CHL", 4),
];

/// Citizenship of long-term immigrants settling in a reporting country.
pub const IMMIGRANT_MIX: Mix = &[
    ("NIC", 300),
    ("VEN", 120),
    ("COL", 80),
    ("GTM", 60),
    ("HND", 60),
    ("SLV", 60),
    ("MEX", 90),
    ("USA", 60),
    ("CUB", 40),
    ("CRI", 20),
    ("ESP", 20),
    ("CHN", 20),
    ("KOR", 15),
    ("HTI", 15),
    ("ECU", 10),
    ("PER", 10),
];

/// Citizenship of visitors who overstay.
pub const OVERSTAYER_MIX: Mix = &[
    ("NIC", 300),
    ("VEN", 150),
    ("CUB", 100),
    ("HTI", 100),
    ("ECU", 50),
    ("COL", 50),
    ("HND", 50),
    ("SLV", 40),
    ("GTM", 40),
    ("DOM", 30),
    ("CHN", 20),
    ("IND", 20),
];

/// Citizenship of extra-regional migrants in transit north.
pub const TRANSIT_MIX: Mix = &[
    ("VEN", 300),
    ("HTI", 150),
    ("CUB", 120),
    ("ECU", 120),
    ("COL", 60),
    ("CHN", 60),
    ("IND", 30),
    ("AFG", 20),
    ("SEN", 30),
    ("CMR", 20),
    ("AGO", 20),
    ("NPL", 20),
    ("BGD", 20),
    ("PER", 20),
    ("CHL", 10),
    ("BRA", 10),
];

/// Destinations of emigrants from the reporting countries.
pub const EMIGRATION_MIX: Mix = &[
    ("USA", 650),
    ("MEX", 180),
    ("ESP", 50),
    ("CAN", 30),
    ("CRI", 40),
    ("PAN", 20),
    ("ITA", 10),
    ("DEU", 5),
];

/// Destinations of residents' short trips abroad (besides the other
/// reporting countries).
pub const TRIP_MIX: Mix = &[
    ("MEX", 300),
    ("USA", 300),
    ("CRI", 60),
    ("PAN", 60),
    ("NIC", 50),
    ("BLZ", 40),
    ("COL", 30),
    ("ESP", 30),
    ("CAN", 20),
    ("DOM", 10),
    ("CUB", 10),
    ("PER", 5),
];

/// A border post of a reporting country.
#[derive(Debug, Clone, Copy)]
pub struct Post {
    pub country: Cc,
    pub name: &'static str,
    pub mode: Mode,
    /// For land posts: the neighbour across the border.
    pub neighbour: Option<&'static str>,
    /// Clock error of the post's recording system, in minutes (applied only
    /// to dirty worlds).
    pub clock_skew_minutes: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Air,
    Land,
    Sea,
}

impl Mode {
    pub fn code(self) -> &'static str {
        match self {
            Mode::Air => "air",
            Mode::Land => "land",
            Mode::Sea => "sea",
        }
    }
}

const fn post(
    country: Cc,
    name: &'static str,
    mode: Mode,
    neighbour: Option<&'static str>,
    skew: i32,
) -> Post {
    Post {
        country,
        name,
        mode,
        neighbour,
        clock_skew_minutes: skew,
    }
}

pub const POSTS: &[Post] = &[
    post(
        GTM,
        "Aeropuerto Internacional La Aurora",
        Mode::Air,
        None,
        0,
    ),
    post(GTM, "Tecún Umán", Mode::Land, Some("MEX"), 0),
    post(GTM, "El Carmen", Mode::Land, Some("MEX"), 0),
    post(GTM, "La Mesilla", Mode::Land, Some("MEX"), 0),
    post(GTM, "Pedro de Alvarado", Mode::Land, Some("SLV"), 0),
    post(GTM, "Valle Nuevo", Mode::Land, Some("SLV"), 0),
    post(GTM, "San Cristóbal", Mode::Land, Some("SLV"), 0),
    post(GTM, "Agua Caliente", Mode::Land, Some("HND"), 0),
    post(GTM, "El Florido", Mode::Land, Some("HND"), 0),
    post(GTM, "Corinto", Mode::Land, Some("HND"), 0),
    post(GTM, "Melchor de Mencos", Mode::Land, Some("BLZ"), 0),
    post(GTM, "Puerto Santo Tomás de Castilla", Mode::Sea, None, 0),
    post(
        HND,
        "Aeropuerto Internacional Palmerola",
        Mode::Air,
        None,
        0,
    ),
    post(
        HND,
        "Aeropuerto Internacional Ramón Villeda Morales",
        Mode::Air,
        None,
        0,
    ),
    post(HND, "Agua Caliente", Mode::Land, Some("GTM"), 0),
    post(HND, "El Florido", Mode::Land, Some("GTM"), 0),
    // This post's system clock runs 45 minutes slow.
    post(HND, "Corinto", Mode::Land, Some("GTM"), -45),
    post(HND, "El Amatillo", Mode::Land, Some("SLV"), 0),
    post(HND, "El Poy", Mode::Land, Some("SLV"), 0),
    post(HND, "Guasaule", Mode::Land, Some("NIC"), 0),
    post(HND, "Las Manos", Mode::Land, Some("NIC"), 0),
    post(HND, "Trojes", Mode::Land, Some("NIC"), 0),
    post(HND, "Puerto Cortés", Mode::Sea, None, 0),
    post(
        SLV,
        "Aeropuerto Internacional San Óscar Arnulfo Romero",
        Mode::Air,
        None,
        0,
    ),
    post(SLV, "La Hachadura", Mode::Land, Some("GTM"), 0),
    // This post's clock was never moved off an hour ahead.
    post(SLV, "Las Chinamas", Mode::Land, Some("GTM"), 60),
    post(SLV, "San Cristóbal Frontera", Mode::Land, Some("GTM"), 0),
    post(SLV, "Anguiatú", Mode::Land, Some("GTM"), 0),
    post(SLV, "El Amatillo", Mode::Land, Some("HND"), 0),
    post(SLV, "El Poy", Mode::Land, Some("HND"), 0),
    post(SLV, "Puerto de Acajutla", Mode::Sea, None, 0),
];

/// Pairs of posts facing each other across a border between two reporting
/// countries (indices into [`POSTS`]).
pub fn facing_post(post: usize) -> Option<usize> {
    let p = POSTS[post];
    let name = p.name;
    let other = cc(p.neighbour?);
    let partner = match (alpha3(p.country), name) {
        ("GTM", "Pedro de Alvarado") => "La Hachadura",
        ("GTM", "Valle Nuevo") => "Las Chinamas",
        ("GTM", "San Cristóbal") => "San Cristóbal Frontera",
        ("SLV", "La Hachadura") => "Pedro de Alvarado",
        ("SLV", "Las Chinamas") => "Valle Nuevo",
        ("SLV", "San Cristóbal Frontera") => "San Cristóbal",
        ("SLV", "Anguiatú") => "San Cristóbal",
        (_, same) => same,
    };
    POSTS
        .iter()
        .position(|q| q.country == other && q.name == partner)
}

/// Land posts of `from` towards `to`.
pub fn land_posts(from: Cc, to: Cc) -> impl Iterator<Item = usize> {
    let to = alpha3(to);
    POSTS
        .iter()
        .enumerate()
        .filter(move |(_, p)| p.country == from && p.mode == Mode::Land && p.neighbour == Some(to))
        .map(|(i, _)| i)
}

/// The air posts of a reporting country.
pub fn air_posts(c: Cc) -> impl Iterator<Item = usize> {
    POSTS
        .iter()
        .enumerate()
        .filter(move |(_, p)| p.country == c && p.mode == Mode::Air)
        .map(|(i, _)| i)
}

/// Mid-year population in thousands (2022) and yearly growth, for the
/// population tables; rounded from UN World Population Prospects 2022.
pub const POPULATION: &[(&str, u32, f64)] = &[
    ("GTM", 17_358, 0.0135),
    ("HND", 10_433, 0.015),
    ("SLV", 6_336, 0.004),
    ("MEX", 127_504, 0.007),
    ("USA", 338_290, 0.005),
    ("NIC", 6_948, 0.014),
    ("CRI", 5_180, 0.007),
    ("BLZ", 405, 0.016),
    ("PAN", 4_409, 0.013),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_simulated_country_is_iso() {
        let countries = corridor_model::Countries::get();
        for c in COUNTRIES {
            assert!(countries.by_alpha3(c).is_some(), "{c}");
        }
        for mix in [
            VISITOR_MIX,
            IMMIGRANT_MIX,
            OVERSTAYER_MIX,
            TRANSIT_MIX,
            EMIGRATION_MIX,
            TRIP_MIX,
        ] {
            for (c, _) in mix {
                cc(c);
            }
        }
    }

    #[test]
    fn posts_between_reporting_countries_face_each_other() {
        for (i, p) in POSTS.iter().enumerate() {
            if let Some(n) = p.neighbour
                && is_reporting(cc(n))
            {
                let j = facing_post(i).unwrap_or_else(|| panic!("{} has no partner", p.name));
                assert_eq!(POSTS[j].country, cc(n));
            }
        }
        for r in REPORTING {
            assert!(air_posts(r).count() >= 1);
            for &n in land_neighbours(r) {
                assert!(
                    land_posts(r, n).count() >= 1,
                    "{} -> {}",
                    alpha3(r),
                    alpha3(n)
                );
            }
        }
    }
}
