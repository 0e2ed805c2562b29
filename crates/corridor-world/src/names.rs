//! Personal names, and the ways organisations get them wrong.
//!
//! Frequencies are stylised after the most common names in Central American
//! civil registries; the point is realistic collisions (many "María López")
//! and realistic disagreements between copies of one person's record.

use rand::Rng;
use rand::seq::IndexedRandom;

const HISPANIC_MALE: &[&str] = &[
    "José",
    "Juan",
    "Luis",
    "Carlos",
    "Jorge",
    "Mario",
    "Francisco",
    "Miguel",
    "Pedro",
    "Manuel",
    "Jesús",
    "Julio",
    "Óscar",
    "Víctor",
    "Edwin",
    "Erick",
    "Marvin",
    "Wilmer",
    "Byron",
    "Kevin",
    "Brayan",
    "Jonathan",
    "Selvin",
    "Elmer",
    "Henry",
    "Nelson",
    "Santos",
    "Juan Carlos",
    "José Luis",
    "Cristian",
    "Rolando",
    "Rafael",
    "Ángel",
    "Antonio",
    "Héctor",
    "Fredy",
    "Walter",
    "Denis",
    "Alexander",
    "Josué",
    "Yovani",
    "Elías",
    "Rigoberto",
    "Domingo",
    "Alfredo",
];
const HISPANIC_FEMALE: &[&str] = &[
    "María",
    "Ana",
    "Rosa",
    "Marta",
    "Gloria",
    "Sandra",
    "Claudia",
    "Karla",
    "Yesenia",
    "Sonia",
    "Silvia",
    "Carmen",
    "Blanca",
    "Reina",
    "Dora",
    "Lesly",
    "Heidy",
    "Jennifer",
    "Katherine",
    "Ingrid",
    "Brenda",
    "Mayra",
    "Glenda",
    "Marisol",
    "Yolanda",
    "Lucía",
    "Juana",
    "Isabel",
    "Elena",
    "Fátima",
    "Dayana",
    "Estefany",
    "Nohemí",
    "Xiomara",
    "Wendy",
    "Cindy",
    "Evelyn",
    "Maribel",
    "Ruth",
    "Irma",
    "Sofía",
    "Valeria",
    "Daniela",
    "Andrea",
    "María José",
];
const HISPANIC_SURNAMES: &[&str] = &[
    "López",
    "García",
    "Hernández",
    "Pérez",
    "Martínez",
    "González",
    "Rodríguez",
    "Ramírez",
    "Morales",
    "Flores",
    "Reyes",
    "Cruz",
    "Mejía",
    "Díaz",
    "Castillo",
    "Gómez",
    "Ramos",
    "Sánchez",
    "Ortiz",
    "Vásquez",
    "Aguilar",
    "Méndez",
    "Álvarez",
    "Rivera",
    "Torres",
    "Chávez",
    "Juárez",
    "Velásquez",
    "Rosales",
    "Castro",
    "Orellana",
    "Escobar",
    "Portillo",
    "Ayala",
    "Zelaya",
    "Fuentes",
    "Alvarado",
    "Recinos",
    "Xicará",
    "Tzul",
    "Coc",
    "Caal",
    "Choc",
    "Pop",
    "Ixcoy",
    "Menchú",
    "Quiñónez",
    "Barrientos",
    "Argueta",
    "Guevara",
    "Romero",
    "Medina",
    "Salazar",
    "Villeda",
    "Maldonado",
    "Bonilla",
    "Cerna",
    "Lemus",
    "Paz",
    "Hernández de León",
];
const ENGLISH_MALE: &[&str] = &[
    "James",
    "John",
    "Robert",
    "Michael",
    "William",
    "David",
    "Richard",
    "Thomas",
    "Daniel",
    "Matthew",
    "Christopher",
    "Andrew",
    "Brian",
    "Kevin",
    "Jason",
    "Mark",
    "Paul",
    "Steven",
];
const ENGLISH_FEMALE: &[&str] = &[
    "Mary",
    "Jennifer",
    "Linda",
    "Patricia",
    "Elizabeth",
    "Susan",
    "Jessica",
    "Sarah",
    "Karen",
    "Emily",
    "Ashley",
    "Michelle",
    "Amanda",
    "Laura",
    "Rebecca",
    "Anna",
    "Claire",
    "Emma",
];
const ENGLISH_SURNAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Müller",
    "Schmidt",
    "Dubois",
    "Lefèvre",
    "Rossi",
    "Bianchi",
    "de Jong",
    "Kim",
    "Lee",
    "Park",
    "Tanaka",
    "Sato",
    "Wang",
    "Li",
    "Zhang",
    "Liu",
    "Chen",
    "Singh",
    "Kumar",
    "Sharma",
    "Jean-Baptiste",
    "Pierre",
    "Joseph",
    "Diop",
    "Ndiaye",
    "Fofana",
    "Hakimi",
    "Rahman",
    "Silva",
    "Santos",
    "Oliveira",
];

/// A person's name as the civil registry has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub given: String,
    pub family: String,
}

pub fn draw(rng: &mut impl Rng, female: bool, hispanic: bool) -> Name {
    let pick = |rng: &mut _, list: &[&'static str]| -> &'static str {
        // Zipf-like skew: the first names of each list are the most common.
        let n = list.len();
        let i = ((rng_f64(rng).powf(2.0)) * n as f64) as usize;
        list[i.min(n - 1)]
    };
    if hispanic {
        let list = if female {
            HISPANIC_FEMALE
        } else {
            HISPANIC_MALE
        };
        let given = if rng.random_bool(0.45) {
            let first = pick(rng, list);
            let mut second = pick(rng, list);
            if second == first {
                second =
                    list[(list.iter().position(|n| *n == first).unwrap_or(0) + 7) % list.len()];
            }
            format!("{first} {second}")
        } else {
            pick(rng, list).to_string()
        };
        let family = format!(
            "{} {}",
            pick(rng, HISPANIC_SURNAMES),
            pick(rng, HISPANIC_SURNAMES)
        );
        Name { given, family }
    } else {
        let list = if female { ENGLISH_FEMALE } else { ENGLISH_MALE };
        Name {
            given: pick(rng, list).to_string(),
            family: ENGLISH_SURNAMES
                .choose(rng)
                .copied()
                .unwrap_or("Smith")
                .to_string(),
        }
    }
}

fn rng_f64(rng: &mut impl Rng) -> f64 {
    rng.random::<f64>()
}

/// Accents stripped, as many systems store names.
pub fn strip_accents(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'á' | 'à' | 'ä' => 'a',
            'é' | 'è' | 'ë' => 'e',
            'í' | 'ï' => 'i',
            'ó' | 'ö' => 'o',
            'ú' | 'ü' => 'u',
            'ñ' => 'n',
            'Á' => 'A',
            'É' => 'E',
            'Í' => 'I',
            'Ó' => 'O',
            'Ú' => 'U',
            'Ñ' => 'N',
            other => other,
        })
        .collect()
}

/// Spelling variants a clerk or an interpreter produces for the same name.
const TRANSLITERATIONS: &[(&str, &str)] = &[
    ("Yesenia", "Yessenia"),
    ("Jonathan", "Jhonatan"),
    ("Brayan", "Bryan"),
    ("Kevin", "Kevyn"),
    ("Estefany", "Stephanie"),
    ("Lesly", "Leslie"),
    ("Heidy", "Heidi"),
    ("Yovani", "Giovanni"),
    ("Xiomara", "Siomara"),
    ("Wilmer", "Wilmar"),
    ("Selvin", "Selbin"),
    ("Vásquez", "Vasques"),
    ("Velásquez", "Velasques"),
    ("Xicará", "Chicará"),
    ("Quiñónez", "Quiñones"),
    ("Katherine", "Katerin"),
    ("Cindy", "Sindy"),
    ("Josué", "Josue"),
    ("Zelaya", "Selaya"),
    ("Dayana", "Diana"),
];

pub fn transliterate(s: &str) -> Option<String> {
    TRANSLITERATIONS
        .iter()
        .find(|(a, _)| s.contains(a))
        .map(|(a, b)| s.replacen(a, b, 1))
}

/// One keyboard slip: a substitution, deletion, doubling or transposition.
pub fn typo(rng: &mut impl Rng, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    if chars.len() < 3 {
        return s.to_string();
    }
    let i = rng.random_range(1..chars.len() - 1);
    match rng.random_range(0..4) {
        0 => {
            const NEAR: &str = "aeiounrstlmcdb";
            let c = NEAR
                .chars()
                .nth(rng.random_range(0..NEAR.len()))
                .unwrap_or('a');
            chars[i] = c;
        }
        1 => {
            chars.remove(i);
        }
        2 => {
            let c = chars[i];
            chars.insert(i, c);
        }
        _ => chars.swap(i, i + 1),
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn names_and_variants() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let n = draw(&mut rng, true, true);
            assert!(n.family.contains(' '), "two surnames: {n:?}");
            let t = typo(&mut rng, &n.given);
            assert!(t.chars().count().abs_diff(n.given.chars().count()) <= 1);
        }
        assert_eq!(strip_accents("José Pérez Ñ"), "Jose Perez N");
        assert_eq!(
            transliterate("Yesenia López").as_deref(),
            Some("Yessenia López")
        );
    }
}
