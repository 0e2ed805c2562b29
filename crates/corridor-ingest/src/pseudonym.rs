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
    value
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '.' | '/' | '_'))
        .flat_map(char::to_uppercase)
        .collect()
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
        let mut mac = self.mac();
        mac.update(kind.as_bytes());
        for p in parts {
            mac.update(&[0x1f]);
            mac.update(p.as_bytes());
        }
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// A record key: pseudo-random, unpredictable without the secret, and
    /// the same whenever the same row of the same file is ingested again.
    pub fn record_key(&self, file_sha256: &str, row: u64) -> u64 {
        let mut mac = self.mac();
        mac.update(b"record");
        mac.update(file_sha256.as_bytes());
        mac.update(&row.to_le_bytes());
        let bytes = mac.finalize().into_bytes();
        u64::from_le_bytes([
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
        ])
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
        assert!(
            !format!("{a:?}").contains("secret-a"),
            "the key never shows"
        );
        assert_eq!(normalise_identifier(" 0801-1990-12345 "), "0801199012345");
        assert_eq!(normalise_identifier("gv 922.7133"), "GV9227133");
    }

    proptest! {
        #[test]
        fn pseudonyms_never_contain_the_identifier(id in "[A-Z0-9]{6,12}") {
            let p = Pseudonymiser::new(vec![7; 32]);
            let key = p.pseudonym("person", &[&id]);
            prop_assert!(!key.contains(&id.to_lowercase()));
            prop_assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
        }
    }
}
