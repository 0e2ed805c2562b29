//! Personal names, and the ways organisations get them wrong.
//!
//! Frequencies are stylised after the most common names in Central American
//! civil registries; the point is realistic collisions (many "María López")
//! and realistic disagreements between copies of one person's record.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

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

/// Syllables the long tail of names is built from: real stems and
/// endings of each naming tradition, combined. Registries hold thousands of
/// distinct names, most of them rare; a few hundred real common names (the
/// lists above) make the head.
struct Syllables {
    stems: &'static [&'static str],
    middles: &'static [&'static str],
    endings: &'static [&'static str],
}

const HISPANIC_MALE_TAIL: Syllables = Syllables {
    stems: &[
        "Ad", "Al", "Am", "An", "Ar", "Ber", "Bas", "Cel", "Cr", "Dar", "Ed", "El", "Er", "Eus",
        "Fab", "Fel", "Gil", "Gus", "Her", "Hil", "Is", "Jul", "Lor", "Mar", "Nor", "Or", "Os",
        "Ram", "Ros", "Sil", "Ter", "Val", "Wil", "Dan", "Fer", "Gen", "Jan", "Leon", "Mel", "Nat",
        "Ot", "Pl", "Rub", "Sev", "Teod", "Ul", "Vic", "Yon",
    ],
    middles: &["ari", "el", "and", "ust", "in", "om"],
    endings: &["o", "el", "an", "ín", "er", "ón", "ino", "ardo"],
};
const HISPANIC_FEMALE_TAIL: Syllables = Syllables {
    stems: &[
        "Ad", "Al", "Am", "An", "Ar", "Ber", "Bel", "Cel", "Cl", "Dar", "Ed", "El", "Er", "Est",
        "Fab", "Fl", "Gil", "Gr", "Her", "Hil", "Is", "Jul", "Lor", "Mar", "Nor", "Or", "Ol",
        "Ram", "Ros", "Sil", "Ter", "Val", "Wen", "Dan", "Fer", "Gen", "Jan", "Leon", "Mir", "Nat",
        "Od", "Pr", "Rub", "Sel", "Teod", "Ur", "Vic", "Yes",
    ],
    middles: &["ari", "el", "and", "ust", "in", "om"],
    endings: &["a", "ina", "ela", "ia", "ely", "eth", "ilda", "encia"],
};
const HISPANIC_SURNAME_TAIL: Syllables = Syllables {
    stems: &[
        "Mor", "Cas", "Her", "Gal", "Fer", "Mar", "Val", "Cor", "Rod", "San", "Ben", "Alb", "Arr",
        "Bel", "Cal", "Dom", "Esc", "Garr", "Gu", "Ib", "Lar", "Men", "Mol", "Nav", "Orel", "Pal",
        "Quin", "Ram", "Sal", "Tor", "Urr", "Vel", "Zam", "Bar", "Car", "Lem", "Mat", "Pin", "Sol",
        "Tej", "Ag", "Ech", "Lin", "Ot", "Rec",
    ],
    middles: &["an", "er", "ol", "ar", "in", "ab", "ed"],
    endings: &[
        "ez", "ado", "ales", "illo", "ero", "ana", "ino", "aga", "eda", "ona", "uera", "ián",
        "ejo", "arro", "ores", "illa", "oza",
    ],
};
/// Mayan surnames of Guatemala (K'iche', Q'eqchi', Kaqchikel), which
/// Spanish-trained clerks spell in several ways.
const MAYAN_SURNAME_TAIL: Syllables = Syllables {
    stems: &[
        "Xo", "Tzu", "Cu", "Ca", "Cho", "Ix", "Qui", "Ajp", "Ch", "Yat", "Tum", "Sac", "Pe", "Tax",
        "Bol", "Sis", "Cux", "Coy",
    ],
    middles: &["ja", "ul", "i", "ax", "ob"],
    endings: &["c", "l", "x", "m", "n", "ná", "j", "al", "ay", "ic"],
};
const ENGLISH_MALE_TAIL: Syllables = Syllables {
    stems: &[
        "Al", "Bran", "Cal", "Dar", "Ed", "Fr", "Gar", "Har", "Jas", "Kel", "Lan", "Mar", "Nor",
        "Os", "Per", "Ral", "Sher", "Tr", "Wal", "Wes", "Dal", "Gr", "Ken", "Mil", "Ben", "Col",
    ],
    middles: &["en", "ol", "ar", "ing"],
    endings: &["an", "en", "ton", "ley", "ric", "ell", "ford", "vin"],
};
const ENGLISH_FEMALE_TAIL: Syllables = Syllables {
    stems: &[
        "Al", "Bren", "Car", "Dar", "Ed", "Fr", "Gr", "Har", "Jas", "Kel", "Lor", "Mar", "Nor",
        "Ol", "Pen", "Ros", "Shel", "Tr", "Wen", "Bev", "Dal", "Jen", "Kim", "Mel", "Ann", "Cor",
    ],
    middles: &["en", "ol", "ar", "in"],
    endings: &["a", "ine", "elle", "ey", "ie", "yn", "ette", "ora"],
};
const ENGLISH_SURNAME_TAIL: Syllables = Syllables {
    stems: &[
        "Ash", "Brad", "Chap", "Dal", "Ell", "Fair", "Gold", "Hart", "Kings", "Lang", "Mor", "Nor",
        "Pem", "Rad", "Shel", "Thorn", "Wat", "Whit", "Black", "Cross", "Hol", "Stan", "Wins",
        "Brook",
    ],
    middles: &["er", "ing", "ley", "ham"],
    endings: &[
        "son", "ton", "ley", "er", "ford", "well", "man", "wood", "by", "field",
    ],
};

/// A naming tradition's names in rank order: the real common ones first,
/// then the generated tail, and the weights of a Zipf–Mandelbrot law over
/// the ranks (1 / (rank + Q)^S, which flattens the very top as real name
/// frequencies do).
struct Pool {
    names: Vec<String>,
    /// Cumulative weights, for drawing a rank by bisection.
    cumulative: Vec<f64>,
    /// Ranks below this are the real names, shared by every country.
    head: usize,
}

const ZIPF_S: f64 = 1.05;
const ZIPF_Q: f64 = 2.7;

impl Pool {
    fn new(head: &[&str], tails: &[&Syllables]) -> Pool {
        let mut names: Vec<String> = head.iter().map(|s| s.to_string()).collect();
        let mut seen: std::collections::HashSet<String> = names.iter().cloned().collect();
        let mut tail = Vec::new();
        for t in tails {
            for stem in t.stems {
                for end in t.endings {
                    tail.push(format!("{stem}{end}"));
                    for mid in t.middles {
                        tail.push(format!("{stem}{mid}{end}"));
                    }
                }
            }
        }
        // A fixed shuffle, so that a name's rank does not follow its stem.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x4e41_4d45);
        tail.shuffle(&mut rng);
        for n in tail {
            if seen.insert(n.clone()) {
                names.push(n);
            }
        }
        let mut cumulative = Vec::with_capacity(names.len());
        let mut total = 0.0;
        for r in 0..names.len() {
            total += 1.0 / (r as f64 + ZIPF_Q).powf(ZIPF_S);
            cumulative.push(total);
        }
        Pool {
            names,
            cumulative,
            head: head.len(),
        }
    }

    /// A name of `country`'s registry: ranks are shared for the real head,
    /// and the tail's ranks are permuted per country, so that every country
    /// has rare names of its own.
    fn draw(&self, rng: &mut impl Rng, country: u64) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng_f64(rng) * total;
        let r = self
            .cumulative
            .partition_point(|c| *c < x)
            .min(self.names.len() - 1);
        if r < self.head {
            return &self.names[r];
        }
        let m = (self.names.len() - self.head) as u64;
        // An affine permutation of the tail, its multiplier prime to m.
        let mut a = (country % m) | 1;
        while gcd(a, m) != 1 {
            a += 2;
        }
        let b = country.rotate_left(17) % m;
        let i = (a * (r - self.head) as u64 + b) % m;
        &self.names[self.head + i as usize]
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.names.len()
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

struct Pools {
    hispanic_male: Pool,
    hispanic_female: Pool,
    hispanic_surnames: Pool,
    english_male: Pool,
    english_female: Pool,
    english_surnames: Pool,
}

fn pools() -> &'static Pools {
    static POOLS: std::sync::OnceLock<Pools> = std::sync::OnceLock::new();
    POOLS.get_or_init(|| Pools {
        hispanic_male: Pool::new(HISPANIC_MALE, &[&HISPANIC_MALE_TAIL]),
        hispanic_female: Pool::new(HISPANIC_FEMALE, &[&HISPANIC_FEMALE_TAIL]),
        hispanic_surnames: Pool::new(
            HISPANIC_SURNAMES,
            &[&HISPANIC_SURNAME_TAIL, &MAYAN_SURNAME_TAIL],
        ),
        english_male: Pool::new(ENGLISH_MALE, &[&ENGLISH_MALE_TAIL]),
        english_female: Pool::new(ENGLISH_FEMALE, &[&ENGLISH_FEMALE_TAIL]),
        english_surnames: Pool::new(ENGLISH_SURNAMES, &[&ENGLISH_SURNAME_TAIL]),
    })
}

/// Compound surnames a Hispanic registry holds beside single ones.
const PARTICLES: &[&str] = &["de León", "de la Cruz", "del Cid", "de Paz", "del Valle"];

/// A country as the key of its own name frequencies.
fn country_key(country: &str) -> u64 {
    country.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A person's name as `country`'s civil registry would have it: Hispanic
/// names are one or two given names and two surnames (the father's, then
/// the mother's), some compound.
pub fn draw(rng: &mut impl Rng, female: bool, hispanic: bool, country: &str) -> Name {
    let p = pools();
    let key = country_key(country);
    if hispanic {
        let pool = if female {
            &p.hispanic_female
        } else {
            &p.hispanic_male
        };
        let given = if rng.random_bool(0.45) {
            let first = pool.draw(rng, key);
            let mut second = pool.draw(rng, key);
            if second == first {
                second = pool.draw(rng, key);
            }
            format!("{first} {second}")
        } else {
            pool.draw(rng, key).to_string()
        };
        let mut surname = || {
            if rng_f64(rng) < 0.02 {
                PARTICLES[rng.random_range(0..PARTICLES.len())].to_string()
            } else {
                p.hispanic_surnames.draw(rng, key).to_string()
            }
        };
        let family = format!("{} {}", surname(), surname());
        Name { given, family }
    } else {
        let pool = if female {
            &p.english_female
        } else {
            &p.english_male
        };
        Name {
            given: pool.draw(rng, key).to_string(),
            family: p.english_surnames.draw(rng, key).to_string(),
        }
    }
}

/// How many distinct names each pool holds (given male, given female,
/// surnames), Hispanic then English.
#[cfg(test)]
fn pool_sizes() -> [usize; 6] {
    let p = pools();
    [
        p.hispanic_male.len(),
        p.hispanic_female.len(),
        p.hispanic_surnames.len(),
        p.english_male.len(),
        p.english_female.len(),
        p.english_surnames.len(),
    ]
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

/// Sound-alike spellings that apply to any name, for names the table above
/// does not know: the first that fits is used.
const SOUND_ALIKES: &[(&str, &str)] = &[
    ("ez", "es"),
    ("v", "b"),
    ("ll", "y"),
    ("qu", "k"),
    ("Ch", "X"),
    ("x", "j"),
    ("th", "t"),
    ("y", "i"),
    ("z", "s"),
];

/// A spelling variant of `s` a clerk or an interpreter might write: a
/// known variant of a name it holds, or else a sound-alike spelling.
pub fn transliterate(s: &str) -> Option<String> {
    TRANSLITERATIONS
        .iter()
        .chain(SOUND_ALIKES)
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
            let n = draw(&mut rng, true, true, "GTM");
            assert!(n.family.contains(' '), "two surnames: {n:?}");
            let t = typo(&mut rng, &n.given);
            assert!(t.chars().count().abs_diff(n.given.chars().count()) <= 1);
        }
        assert_eq!(strip_accents("José Pérez Ñ"), "Jose Perez N");
        assert_eq!(
            transliterate("Yesenia López").as_deref(),
            Some("Yessenia López")
        );
        assert_eq!(transliterate("Olvera").as_deref(), Some("Olbera"));
    }

    /// Thousands of names per tradition, Zipf-skewed: the commonest is a
    /// few per cent of people, and a sizeable share hold a name outside
    /// the real head list.
    #[test]
    fn pools_are_large_and_skewed() {
        for size in pool_sizes() {
            assert!(size >= 1000, "{:?}", pool_sizes());
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut counts = std::collections::HashMap::new();
        let n = 50_000;
        for _ in 0..n {
            let name = draw(&mut rng, false, true, "HND");
            let first = name.family.split(' ').next().unwrap_or("").to_string();
            *counts.entry(first).or_insert(0usize) += 1;
        }
        let top = counts.values().copied().max().unwrap_or(0) as f64 / n as f64;
        assert!((0.01..0.10).contains(&top), "top surname share {top}");
        assert!(counts.len() > 1500, "{} distinct surnames", counts.len());
        let tail = counts
            .iter()
            .filter(|(k, _)| !HISPANIC_SURNAMES.contains(&k.as_str()))
            .map(|(_, v)| v)
            .sum::<usize>() as f64
            / n as f64;
        assert!((0.2..0.8).contains(&tail), "tail share {tail}");
    }

    #[test]
    fn countries_have_rare_names_of_their_own() {
        let draw_many = |country: &str| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
            (0..2000)
                .map(|_| draw(&mut rng, true, true, country).given)
                .collect::<std::collections::HashSet<_>>()
        };
        let (a, b) = (draw_many("GTM"), draw_many("SLV"));
        let shared = a.intersection(&b).count();
        assert!(shared < a.len() * 3 / 4, "{shared} of {}", a.len());
    }
}
