//! Keyed Bloom-filter encodings (cryptographic long-term keys, CLKs) and the
//! Dice similarity between them.
//!
//! Each q-gram or token of a field is hashed with HMAC-SHA256 under the
//! partners' shared secret (domain-separated by field name and salt) into
//! two 64-bit values; the `hashes` bit positions are `h1 + i·h2` (double
//! hashing, as clkhash does). Without the secret nobody can tell which
//! q-grams set which bits.

use hmac::{Hmac, Mac};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use sha2::Sha256;
use unicode_normalization::UnicodeNormalization;

use crate::schema::{FieldKind, FieldRule, Hardening, LinkageSchema};

type HmacSha256 = Hmac<Sha256>;

/// A finished encoding: its bits in 64-bit words, with its popcount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoding {
    pub words: Vec<u64>,
    pub ones: u32,
}

impl Encoding {
    pub fn from_words(words: Vec<u64>) -> Encoding {
        let ones = words.iter().map(|w| w.count_ones()).sum();
        Encoding { words, ones }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// From stored bytes (little-endian words); `None` if the length is not
    /// a whole number of words.
    pub fn from_bytes(bytes: &[u8]) -> Option<Encoding> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(8) {
            return None;
        }
        let words = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        Some(Encoding::from_words(words))
    }

    pub fn bit(&self, i: usize) -> bool {
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    pub fn bits(&self) -> usize {
        self.words.len() * 64
    }
}

/// Dice coefficient 2·|A∧B| / (|A| + |B|), by popcount.
pub fn dice(a: &Encoding, b: &Encoding) -> f64 {
    let total = a.ones + b.ones;
    if total == 0 {
        return 0.0;
    }
    let common: u32 = a
        .words
        .iter()
        .zip(&b.words)
        .map(|(x, y)| (x & y).count_ones())
        .sum();
    2.0 * f64::from(common) / f64::from(total)
}

/// Folds text the same way at every organisation: accents, case and
/// punctuation removed, words joined by `_` and padded, so "María José",
/// "MARIA JOSE" and "maria-jose" give the same q-grams.
pub fn normalise_text(value: &str) -> String {
    let folded: String = value
        .nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join("_")
}

/// The tokens one field's value contributes.
pub fn tokens(kind: FieldKind, q: usize, value: &FieldValue) -> Vec<String> {
    match (kind, value) {
        (_, FieldValue::Missing) => Vec::new(),
        (FieldKind::Date, FieldValue::Date(y, m, d)) => {
            let (lo, hi) = if m <= d { (m, d) } else { (d, m) };
            vec![
                format!("y{y}"),
                format!("m{m:02}"),
                format!("d{d:02}"),
                format!("p{lo:02}{hi:02}"),
            ]
        }
        (_, FieldValue::Text(t)) => {
            let norm = normalise_text(t);
            if norm.is_empty() {
                return Vec::new();
            }
            let padded: Vec<char> = format!("_{norm}_").chars().collect();
            if padded.len() <= q {
                return vec![padded.iter().collect()];
            }
            padded.windows(q).map(|w| w.iter().collect()).collect()
        }
        (_, FieldValue::Date(y, m, d)) => vec![format!("{y}{m:02}{d:02}")],
    }
}

/// One field's value as read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Missing,
    Text(String),
    /// Year, month, day.
    Date(i32, u32, u32),
}

/// Turns field values into hardened encodings under a secret.
#[derive(Clone)]
pub struct Encoder {
    keyed: HmacSha256,
    fields: Vec<FieldRule>,
    bits: usize,
    hardening: Vec<Hardening>,
    /// Keyed bit permutations, one per `balance` step.
    permutations: Vec<Vec<u32>>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Encoder(<secret>)")
    }
}

impl Encoder {
    pub fn new(schema: &LinkageSchema, secret: &[u8]) -> Encoder {
        let keyed = HmacSha256::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        let mut permutations = Vec::new();
        let mut bits = schema.encoding.bits;
        for (step, h) in schema.encoding.hardening.iter().enumerate() {
            match h {
                Hardening::Balance => {
                    let mut mac = keyed.clone();
                    mac.update(b"corridor-balance-permutation");
                    mac.update(&(step as u64).to_le_bytes());
                    let seed: [u8; 32] = mac.finalize().into_bytes().into();
                    let mut rng = ChaCha8Rng::from_seed(seed);
                    let mut p: Vec<u32> = (0..(bits * 2) as u32).collect();
                    p.shuffle(&mut rng);
                    permutations.push(p);
                    bits *= 2;
                }
                Hardening::XorFold => bits /= 2,
            }
        }
        Encoder {
            keyed,
            fields: schema.fields.clone(),
            bits: schema.encoding.bits,
            hardening: schema.encoding.hardening.clone(),
            permutations,
        }
    }

    /// The encoding of one record; `values` and `salts` follow the schema's
    /// fields.
    pub fn encode(&self, values: &[FieldValue], salts: &[String]) -> Encoding {
        let mut words = vec![0u64; self.bits / 64];
        for ((field, value), salt) in self.fields.iter().zip(values).zip(salts) {
            for token in tokens(field.kind, field.q, value) {
                let mut mac = self.keyed.clone();
                mac.update(field.name.as_bytes());
                mac.update(&[0x1f]);
                mac.update(salt.as_bytes());
                mac.update(&[0x1f]);
                mac.update(token.as_bytes());
                let d = mac.finalize().into_bytes();
                let h1 = u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
                let h2 =
                    u64::from_le_bytes([d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]]) | 1;
                for i in 0..field.hashes as u64 {
                    let pos = (h1.wrapping_add(i.wrapping_mul(h2)) % self.bits as u64) as usize;
                    words[pos / 64] |= 1 << (pos % 64);
                }
            }
        }
        let mut perms = self.permutations.iter();
        for h in &self.hardening {
            words = match h {
                Hardening::Balance => {
                    let n = words.len() * 64;
                    let mut out = vec![0u64; words.len() * 2];
                    let Some(perm) = perms.next() else {
                        unreachable!("one permutation per balance step")
                    };
                    for i in 0..2 * n {
                        let bit = if i < n {
                            words[i / 64] >> (i % 64) & 1
                        } else {
                            !(words[(i - n) / 64] >> ((i - n) % 64)) & 1
                        };
                        if bit == 1 {
                            let to = perm[i] as usize;
                            out[to / 64] |= 1 << (to % 64);
                        }
                    }
                    out
                }
                Hardening::XorFold => {
                    let half = words.len() / 2;
                    (0..half).map(|i| words[i] ^ words[i + half]).collect()
                }
            };
        }
        Encoding::from_words(words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn schema(hardening: &str) -> LinkageSchema {
        LinkageSchema::parse(&format!(
            r#"
record_id = "id"
[encoding]
bits = 1024
hardening = [{hardening}]
[[field]]
name = "name"
columns = ["name"]
kind = "name"
[[field]]
name = "birth_date"
columns = ["dob"]
kind = "date"
hashes = 20
"#
        ))
        .unwrap()
    }

    fn enc(e: &Encoder, name: &str, dob: (i32, u32, u32)) -> Encoding {
        e.encode(
            &[
                FieldValue::Text(name.into()),
                FieldValue::Date(dob.0, dob.1, dob.2),
            ],
            &[String::new(), String::new()],
        )
    }

    #[test]
    fn same_person_similar_other_person_not() {
        let e = Encoder::new(&schema("\"balance\""), b"partners");
        let a = enc(&e, "María José Pérez López", (1990, 5, 12));
        let b = enc(&e, "MARIA JOSE PEREZ", (1990, 12, 5));
        let c = enc(&e, "Juan Carlos Hernández", (1984, 3, 2));
        assert_eq!(a.bits(), 2048);
        // Balanced: exactly half the bits set, whatever the input.
        assert_eq!(a.ones, 1024);
        assert_eq!(c.ones, 1024);
        // Balanced filters share about half their bits by chance, so
        // similarity lives between 0.5 and 1.
        assert!(dice(&a, &b) > 0.8, "{}", dice(&a, &b));
        assert!(
            dice(&a, &b) > dice(&a, &c) + 0.1,
            "{} {}",
            dice(&a, &b),
            dice(&a, &c)
        );
        assert_eq!(a, enc(&e, "maria-jose perez lopez", (1990, 5, 12)));
    }

    #[test]
    fn keyed_salted_and_folded() {
        let s = schema("\"balance\", \"xor_fold\"");
        let a = Encoder::new(&s, b"one secret");
        let b = Encoder::new(&s, b"another secret");
        let x = enc(&a, "Ana Gómez", (2001, 1, 30));
        assert_eq!(x.bits(), 1024);
        assert!(dice(&x, &enc(&b, "Ana Gómez", (2001, 1, 30))) < 0.75);
        let salted = a.encode(
            &[FieldValue::Text("Ana Gómez".into()), FieldValue::Missing],
            &["GTM".into(), String::new()],
        );
        let unsalted = a.encode(
            &[FieldValue::Text("Ana Gómez".into()), FieldValue::Missing],
            &[String::new(), String::new()],
        );
        assert_ne!(salted, unsalted);
        let bytes = x.to_bytes();
        assert_eq!(Encoding::from_bytes(&bytes), Some(x));
    }

    proptest! {
        #[test]
        fn dice_is_a_similarity(a in proptest::collection::vec(any::<u64>(), 4), b in proptest::collection::vec(any::<u64>(), 4)) {
            let (a, b) = (Encoding::from_words(a), Encoding::from_words(b));
            let d = dice(&a, &b);
            prop_assert!((0.0..=1.0).contains(&d));
            prop_assert!((d - dice(&b, &a)).abs() < 1e-12);
            if a.ones > 0 {
                prop_assert!((dice(&a, &a) - 1.0).abs() < 1e-12);
            }
        }

        #[test]
        fn tokens_never_hold_more_than_q_characters(s in "\\PC{0,30}") {
            for t in tokens(FieldKind::Name, 2, &FieldValue::Text(s)) {
                prop_assert!(t.chars().count() <= 2);
            }
        }
    }
}
