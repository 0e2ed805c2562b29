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
/// The encoding depends on this folding: changing it changes every
/// filter, so partners must then re-encode.
pub fn normalise_text(value: &str) -> String {
    corridor_model::fold_words(value, "_")
}

/// `n` rounded to two significant digits (1204 → 1200, 87 → 87).
fn two_significant(n: f64) -> f64 {
    if n < 100.0 {
        return n.round();
    }
    let scale = 10f64.powi(n.log10().floor() as i32 - 1);
    (n / scale).round() * scale
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
        (FieldKind::Number, FieldValue::Text(t)) => {
            let mut out = tokens(FieldKind::Text, q, value);
            let digits: String = t.chars().filter(char::is_ascii_digit).collect();
            if let Ok(n) = digits.parse::<f64>() {
                out.push(format!("n{}", two_significant(n)));
            }
            out
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
    hardening: Vec<Hardening>,
    /// The record-level filter, then the fields' own filters.
    filters: Vec<Filter>,
}

/// One filter of an encoding: its length before hardening, the fields
/// hashed into it, and its keyed bit permutations (one per `balance`).
#[derive(Clone)]
struct Filter {
    bits: usize,
    hardened_bits: usize,
    fields: Vec<usize>,
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
        let permutations = |label: &str, mut bits: usize| {
            let mut out = Vec::new();
            for (step, h) in schema.encoding.hardening.iter().enumerate() {
                match h {
                    Hardening::Balance => {
                        let mut mac = keyed.clone();
                        mac.update(b"corridor-balance-permutation");
                        mac.update(label.as_bytes());
                        mac.update(&(step as u64).to_le_bytes());
                        let seed: [u8; 32] = mac.finalize().into_bytes().into();
                        let mut rng = ChaCha8Rng::from_seed(seed);
                        let mut p: Vec<u32> = (0..(bits * 2) as u32).collect();
                        p.shuffle(&mut rng);
                        out.push(p);
                        bits *= 2;
                    }
                    Hardening::XorFold => bits /= 2,
                }
            }
            out
        };
        // The record-level filter's permutations keep their original
        // derivation (empty label), so its bits do not change when fields
        // get filters of their own.
        let mut filters = vec![Filter {
            bits: schema.encoding.bits,
            hardened_bits: schema.hardened_bits(schema.encoding.bits),
            fields: (0..schema.fields.len()).collect(),
            permutations: permutations("", schema.encoding.bits),
        }];
        for (f, rule) in schema.fields.iter().enumerate() {
            if let Some(bits) = rule.filter_bits {
                filters.push(Filter {
                    bits,
                    hardened_bits: schema.hardened_bits(bits),
                    fields: vec![f],
                    permutations: permutations(&format!("\x1ffield\x1f{}", rule.name), bits),
                });
            }
        }
        Encoder {
            keyed,
            fields: schema.fields.clone(),
            hardening: schema.encoding.hardening.clone(),
            filters,
        }
    }

    /// The encoding of one record; `values` and `salts` follow the schema's
    /// fields. Laid out as [`LinkageSchema::layout`] says.
    pub fn encode(&self, values: &[FieldValue], salts: &[String]) -> Encoding {
        self.encode_filters(values, salts, &self.filters)
    }

    /// Only the record-level filter (what blocking reads), without the
    /// fields' own filters.
    pub fn encode_record(&self, values: &[FieldValue], salts: &[String]) -> Encoding {
        self.encode_filters(values, salts, &self.filters[..1])
    }

    fn encode_filters(
        &self,
        values: &[FieldValue],
        salts: &[String],
        filters: &[Filter],
    ) -> Encoding {
        // Each token is hashed once; its double-hashing pair sets bits in
        // every filter the field goes into.
        let hashed: Vec<Vec<(u64, u64)>> = self
            .fields
            .iter()
            .zip(values)
            .zip(salts)
            .map(|((field, value), salt)| {
                tokens(field.kind, field.q, value)
                    .iter()
                    .map(|token| {
                        let mut mac = self.keyed.clone();
                        mac.update(field.name.as_bytes());
                        mac.update(&[0x1f]);
                        mac.update(salt.as_bytes());
                        mac.update(&[0x1f]);
                        mac.update(token.as_bytes());
                        let d = mac.finalize().into_bytes();
                        let h1 =
                            u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
                        let h2 = u64::from_le_bytes([
                            d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15],
                        ]) | 1;
                        (h1, h2)
                    })
                    .collect()
            })
            .collect();
        let mut out = Vec::new();
        for (k, filter) in filters.iter().enumerate() {
            // A field's own filter stays all zeros when the field is
            // missing, so that "missing" compares as missing rather than as
            // two equal filters (it tells the platform no more than that
            // the detail was not recorded).
            if k > 0 && filter.fields.iter().all(|f| hashed[*f].is_empty()) {
                out.extend(std::iter::repeat_n(0u64, filter.hardened_bits / 64));
                continue;
            }
            let mut words = vec![0u64; filter.bits / 64];
            for f in &filter.fields {
                for (h1, h2) in &hashed[*f] {
                    for i in 0..self.fields[*f].hashes as u64 {
                        let pos =
                            (h1.wrapping_add(i.wrapping_mul(*h2)) % filter.bits as u64) as usize;
                        words[pos / 64] |= 1 << (pos % 64);
                    }
                }
            }
            out.extend(self.harden(words, &filter.permutations));
        }
        Encoding::from_words(out)
    }

    fn harden(&self, mut words: Vec<u64>, permutations: &[Vec<u32>]) -> Vec<u64> {
        let mut perms = permutations.iter();
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
        words
    }
}

/// A field filter left all zeros: the detail was missing.
pub fn is_missing(words: &[u64]) -> bool {
    words.iter().all(|w| *w == 0)
}

/// Dice coefficient of two word slices (one filter of two encodings).
pub fn dice_words(a: &[u64], b: &[u64]) -> f64 {
    let (mut common, mut total) = (0u32, 0u32);
    for (x, y) in a.iter().zip(b) {
        common += (x & y).count_ones();
        total += x.count_ones() + y.count_ones();
    }
    if total == 0 {
        return 0.0;
    }
    2.0 * f64::from(common) / f64::from(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_share_their_size_token() {
        let t = |s: &str| tokens(FieldKind::Number, 2, &FieldValue::Text(s.into()));
        assert!(t("1204").contains(&"n1200".to_string()));
        assert!(t("1249").contains(&"n1200".to_string()));
        assert!(t("87").contains(&"n87".to_string()));
        // Without digits there is no size token, only the text's bigrams.
        let size_token = |x: &&String| {
            x.len() > 2 && x.starts_with('n') && x[1..].chars().all(|c| c.is_ascii_digit())
        };
        assert_eq!(t("no number").iter().filter(size_token).count(), 0);
        assert_eq!(t("12b").iter().filter(size_token).count(), 1);
        assert_eq!(two_significant(99.4), 99.0);
        assert_eq!(two_significant(150.0), 150.0);
    }
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

    /// One record's encoding under one key, byte for byte: partners on
    /// different Corridor versions must make the same filters, so a change
    /// to the text folding, the q-grams or the hashing fails here.
    #[test]
    fn a_known_record_encodes_to_the_same_bytes() {
        use sha2::Digest;
        let e = Encoder::new(&schema("\"balance\""), b"0123456789abcdef0123456789abcdef");
        let folded = enc(&e, "maria jose lopez", (1990, 2, 3));
        assert_eq!(enc(&e, "María-José  LÓPEZ", (1990, 2, 3)), folded);
        let digest: String = sha2::Sha256::digest(folded.to_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            digest,
            "127d1aa442f207d853c4b84aec23c784a0f13754faee97f3e3c2db4d48da70c6"
        );
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

    #[test]
    fn fields_with_filters_of_their_own() {
        let text = |name: &str, dob: &str| {
            let s = LinkageSchema::parse(&format!(
                "record_id = \"id\"\n[[field]]\nname = \"name\"\ncolumns = [\"n\"]\nkind = \"name\"\n{name}\n[[field]]\nname = \"birth_date\"\ncolumns = [\"d\"]\nkind = \"date\"\n{dob}\n"
            ));
            s.unwrap()
        };
        let plain = text("", "");
        let split = text("filter_bits = 512", "filter_bits = 256");
        let layout = split.layout();
        assert_eq!(layout.record, 0..32);
        assert_eq!(layout.fields, vec![(0, 32..48), (1, 48..56)]);
        assert_eq!(split.encoded_bits(), 56 * 64);
        let (a, b) = (Encoder::new(&plain, b"k"), Encoder::new(&split, b"k"));
        let x = enc(&b, "Ana Gómez", (2001, 1, 30));
        // The record-level filter is the same with or without field filters.
        assert_eq!(x.words[..32], enc(&a, "Ana Gómez", (2001, 1, 30)).words[..]);
        let record_only = b.encode_record(
            &[
                FieldValue::Text("Ana Gómez".into()),
                FieldValue::Date(2001, 1, 30),
            ],
            &[String::new(), String::new()],
        );
        assert_eq!(record_only.words[..], x.words[..32]);
        // Same date, same date filter; another name, another name filter.
        let y = enc(&b, "Juan Pérez", (2001, 1, 30));
        assert_eq!(x.words[48..], y.words[48..]);
        assert!(dice_words(&x.words[32..48], &y.words[32..48]) < 0.8);
        // A missing detail leaves its own filter empty (compared as missing).
        let z = b.encode(
            &[FieldValue::Text("Ana Gómez".into()), FieldValue::Missing],
            &[String::new(), String::new()],
        );
        assert!(z.words[48..].iter().all(|w| *w == 0));
        assert_eq!(z.words[32..48], x.words[32..48]);
        assert!(LinkageSchema::parse(
            "record_id = \"id\"\n[[field]]\nname = \"n\"\ncolumns = [\"n\"]\nkind = \"name\"\nfilter_bits = 100\n"
        )
        .unwrap_err()
        .contains("filter_bits"));
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
