//! Pseudonymisation at the door: identifiers become keyed hashes.
//!
//! HMAC-SHA256 with the workspace secret. Without the secret a pseudonym
//! cannot be recomputed from a guessed passport number; with it, the same
//! document always gives the same key, so records link across sources.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Holds the workspace secret. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct Pseudonymiser {
    /// HMAC keyed once: cloning it skips re-hashing the key for every row.
    keyed: HmacSha256,
}

impl std::fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymiser(<secret>)")
    }
}

/// Normalises an identifier as clerks type it differently: case, spaces,
/// dashes, dots and slashes do not make another document.
pub fn normalise_identifier(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    normalise_identifier_into(value, &mut out);
    out
}

/// [`normalise_identifier`] written over `out` (a buffer reused row to row).
pub fn normalise_identifier_into(value: &str, out: &mut String) {
    out.clear();
    // Most document numbers are ASCII: byte by byte, without decoding
    // characters or encoding them again.
    if value.is_ascii() {
        let mut bytes = std::mem::take(out).into_bytes();
        bytes.extend(
            value
                .bytes()
                .filter(|&b| {
                    !char::from(b).is_whitespace() && !matches!(b, b'-' | b'.' | b'/' | b'_')
                })
                .map(|b| b.to_ascii_uppercase()),
        );
        // ASCII in, ASCII out: the check cannot fail.
        *out = String::from_utf8(bytes).unwrap_or_default();
        return;
    }
    for c in value.chars() {
        if c.is_whitespace() || matches!(c, '-' | '.' | '/' | '_') {
            continue;
        }
        if c.is_ascii() {
            out.push(c.to_ascii_uppercase());
        } else {
            out.extend(c.to_uppercase());
        }
    }
}

impl Pseudonymiser {
    pub fn new(key: Vec<u8>) -> Pseudonymiser {
        // HMAC accepts keys of any length.
        let keyed = HmacSha256::new_from_slice(&key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        Pseudonymiser { keyed }
    }

    fn mac(&self) -> HmacSha256 {
        self.keyed.clone()
    }

    /// The pseudonym of a list of identifier parts (already normalised),
    /// domain-separated by `kind` so a case number can never collide with a
    /// passport number: 128 bits, as 32 hex digits.
    pub fn pseudonym(&self, kind: &str, parts: &[&str]) -> String {
        let mut mac = self.start(kind);
        for p in parts {
            mac.part(p);
        }
        mac.finish()
    }

    /// A pseudonym made part by part, without collecting the parts.
    pub fn start(&self, kind: &str) -> PseudonymMac {
        let mut mac = self.mac();
        mac.update(kind.as_bytes());
        PseudonymMac(mac)
    }

    /// Record keys for the rows of one source: pseudo-random, unpredictable
    /// without the secret, and the same whenever the same row of the same
    /// file is ingested again.
    pub fn record_keys(&self, source: &str) -> RecordKeys {
        let mut mac = self.mac();
        mac.update(b"record");
        mac.update(source.as_bytes());
        let bytes = mac.finalize().into_bytes();
        let mut key = [0u8; 16];
        key.copy_from_slice(&bytes[..16]);
        RecordKeys(key)
    }
}

/// A pseudonym being made: see [`Pseudonymiser::start`].
pub struct PseudonymMac(HmacSha256);

impl PseudonymMac {
    pub fn part(&mut self, part: &str) {
        self.0.update(&[0x1f]);
        self.0.update(part.as_bytes());
    }

    pub fn finish(self) -> String {
        let mut out = String::with_capacity(32);
        self.finish_into(&mut out);
        out
    }

    /// The pseudonym, written over `out` (whose buffer a caller reuses from
    /// row to row).
    pub fn finish_into(self, out: &mut String) {
        let mut hex = [0u8; 32];
        // 16 bytes always fit 32 hex digits, which are ASCII.
        let _ = hex::encode_to_slice(&self.0.finalize().into_bytes()[..16], &mut hex);
        out.clear();
        // Hex digits are ASCII: one copy of 32 bytes, not 32 pushes.
        out.push_str(std::str::from_utf8(&hex).unwrap_or_default());
    }
}

/// The keyed function that gives a source's rows their record keys:
/// SipHash-2-4, a pseudo-random function, of a row's number and content
/// digest under a 128-bit key drawn by HMAC from the workspace secret and
/// the source. A second HMAC per row would cost more than the rest of the
/// row's keying.
#[derive(Clone)]
pub struct RecordKeys([u8; 16]);

impl std::fmt::Debug for RecordKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordKeys(<secret>)")
    }
}

impl RecordKeys {
    /// The key of row `row`, whose cells as read digest to `content`
    /// ([`crate::read::RowBlock::content`]).
    pub fn of(&self, row: u64, content: u64) -> u64 {
        use std::hash::Hasher;
        let mut h = siphasher::sip::SipHasher24::new_with_key(&self.0);
        h.write_u64(row);
        h.write_u64(content);
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keyed_and_stable() {
        let a = Pseudonymiser::new(b"secret-a".to_vec());
        let b = Pseudonymiser::new(b"secret-b".to_vec());
        let p = a.pseudonym("person", &["G1234567", "GTM"]);
        assert_eq!(p, a.pseudonym("person", &["G1234567", "GTM"]));
        assert_ne!(
            p,
            b.pseudonym("person", &["G1234567", "GTM"]),
            "another secret, another key"
        );
        assert_ne!(
            p,
            a.pseudonym("case", &["G1234567", "GTM"]),
            "kinds are separated"
        );
        assert_ne!(
            a.pseudonym("person", &["AB", "C"]),
            a.pseudonym("person", &["A", "BC"]),
            "parts are separated"
        );
        assert_eq!(p.len(), 32);
        let keys = a.record_keys("f00d");
        assert_eq!(keys.of(7, 1), a.record_keys("f00d").of(7, 1), "stable");
        assert_ne!(keys.of(7, 1), keys.of(7, 2), "another row content");
        assert_ne!(keys.of(7, 1), keys.of(8, 1), "another row number");
        assert_ne!(
            keys.of(7, 1),
            a.record_keys("beef").of(7, 1),
            "another source"
        );
        assert_ne!(
            keys.of(7, 1),
            b.record_keys("f00d").of(7, 1),
            "another secret"
        );
        assert!(
            !format!("{a:?}").contains("secret-a"),
            "the key never shows"
        );
        assert_eq!(normalise_identifier(" 0801-1990-12345 "), "0801199012345");
        assert_eq!(normalise_identifier("gv 922.7133"), "GV9227133");
    }

    proptest! {
        /// The ASCII shortcut normalises as the general rule does.
        #[test]
        fn ascii_identifiers_normalise_as_any(id in "[\\x00-\\x7f]{0,16}") {
            let general: String = id
                .chars()
                .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '.' | '/' | '_'))
                .flat_map(char::to_uppercase)
                .collect();
            prop_assert_eq!(normalise_identifier(&id), general);
        }

        #[test]
        fn pseudonyms_never_contain_the_identifier(id in "[A-Z0-9]{6,12}") {
            let p = Pseudonymiser::new(vec![7; 32]);
            let key = p.pseudonym("person", &[&id]);
            prop_assert!(!key.contains(&id.to_lowercase()));
            prop_assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
        }
    }
}
