//! Secrets read from files: the workspace's pseudonym key, the partners'
//! key for `corridor encode`, and (later) release signing keys.
//!
//! Every secret is checked where it is read, by one rule: at least 32
//! bytes of key material, not a repeated byte or short pattern, no common
//! password word, and a file only its owner can read. A weak key is worse
//! than none: with an empty or guessable workspace key anyone can
//! recompute every pseudonym from a guessed passport number.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The least key material a secret may hold, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// Which secret a file holds: names it in messages and says how to make a
/// good one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// `WS/secret.key`: keys every pseudonym and record key of a workspace.
    Workspace,
    /// The key partner organisations share for `corridor encode`.
    Partners,
    /// `WS/signing.key`: the ed25519 seed that signs a workspace's releases.
    Signing,
}

impl SecretKind {
    fn what(self) -> &'static str {
        match self {
            SecretKind::Workspace => "the workspace secret",
            SecretKind::Partners => "the partners' secret",
            SecretKind::Signing => "the release signing key",
        }
    }

    fn how_to_make(self) -> &'static str {
        match self {
            SecretKind::Workspace => {
                "a workspace's secret is written by `corridor init`; restore it from your backup"
            }
            SecretKind::Signing => {
                "a workspace's signing key is written by the first `corridor release build`; restore it from your backup, or move it away to start a new key (partners must then be told the new public key)"
            }
            SecretKind::Partners => {
                "make one with `corridor encode --new-secret --secret-file FILE` and share it with the partner organisations (never with the platform)"
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}: {what} is missing. {consequence}",
        path.display(),
        what = kind.what(),
        consequence = missing_consequence(*kind)
    )]
    Missing { path: PathBuf, kind: SecretKind },
    #[error("{}: {what} is weak ({reason}); {how}", path.display(), what = kind.what(), how = kind.how_to_make())]
    Weak {
        path: PathBuf,
        kind: SecretKind,
        reason: Weakness,
    },
    #[error(
        "{}: {what} can be read by other users (mode {mode:o}); make it private with `chmod 600 {}`",
        path.display(),
        path.display(),
        what = kind.what()
    )]
    Exposed {
        path: PathBuf,
        kind: SecretKind,
        mode: u32,
    },
    #[error("{}: already exists; not overwriting a secret", path.display())]
    Exists { path: PathBuf },
    #[error("no randomness for a new secret: {0}")]
    Random(String),
}

fn missing_consequence(kind: SecretKind) -> &'static str {
    match kind {
        SecretKind::Workspace => {
            "Without it the pseudonyms of earlier submissions can no longer be matched to new ones. \
             Restore secret.key from the backup you made when the workspace was created \
             (keep its mode 0600); do not create a new one unless you mean to start the workspace over."
        }
        SecretKind::Partners => {
            "Ask the partner organisations for the key file they encode with; \
             encodings made with another key do not link to theirs."
        }
        SecretKind::Signing => {
            "Restore signing.key from your backup: partners verify releases with its public key."
        }
    }
}

/// Why key material is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Weakness {
    #[error("{0} bytes of key material; at least {MIN_KEY_BYTES} are needed")]
    TooShort(usize),
    #[error("one byte repeated")]
    OneByte,
    #[error("a pattern of {0} bytes repeated")]
    Pattern(usize),
    #[error("built on the common password word '{0}'")]
    CommonWord(&'static str),
}

/// Words that open every guessing list. Matched without regard to case.
const COMMON_WORDS: &[&str] = &[
    "password",
    "passwort",
    "contrasena",
    "secret",
    "secreto",
    "qwerty",
    "azerty",
    "letmein",
    "changeme",
    "123456",
    "abcdef",
    "admin",
    "corridor",
    "example",
    "default",
];

/// Checks key material: what an HMAC key must be, whatever its encoding.
pub fn check_key(material: &[u8]) -> Result<(), Weakness> {
    if material.len() < MIN_KEY_BYTES {
        return Err(Weakness::TooShort(material.len()));
    }
    if material.iter().all(|&b| b == material[0]) {
        return Err(Weakness::OneByte);
    }
    // The shortest period that repeats over the whole key: a short one
    // ("abab…", "0123 0123 …") holds no more than the pattern.
    if let Some(p) = (2..=16).find(|&p| material.iter().skip(p).zip(material).all(|(a, b)| a == b))
    {
        return Err(Weakness::Pattern(p));
    }
    let folded: Vec<u8> = material.iter().map(u8::to_ascii_lowercase).collect();
    for word in COMMON_WORDS {
        if folded.windows(word.len()).any(|w| w == word.as_bytes()) {
            return Err(Weakness::CommonWord(word));
        }
    }
    Ok(())
}

/// The key material of a secret file's text: hex digits (as `corridor
/// init` and `--new-secret` write them) decode to bytes; any other text
/// is its own bytes.
pub fn key_material(text: &str) -> Vec<u8> {
    let t = text.trim();
    if t.len() >= 2
        && t.len().is_multiple_of(2)
        && t.bytes().all(|b| b.is_ascii_hexdigit())
        && let Ok(bytes) = hex::decode(t)
    {
        return bytes;
    }
    t.as_bytes().to_vec()
}

/// A secret file's contents as read and checked: the trimmed text (the
/// exact bytes earlier releases keyed with) and its key material.
pub struct Secret {
    pub text: String,
    pub material: Vec<u8>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<secret>)")
    }
}

/// Reads and checks a secret file: present, private (mode 0600 or
/// narrower on Unix) and strong.
pub fn read(path: &Path, kind: SecretKind) -> Result<Secret, SecretError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SecretError::Missing {
                path: path.to_path_buf(),
                kind,
            });
        }
        Err(source) => {
            return Err(SecretError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SecretError::Exposed {
                path: path.to_path_buf(),
                kind,
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = fs::read_to_string(path).map_err(|source| SecretError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let material = key_material(&text);
    check_key(&material).map_err(|reason| SecretError::Weak {
        path: path.to_path_buf(),
        kind,
        reason,
    })?;
    Ok(Secret {
        text: text.trim().to_string(),
        material,
    })
}

/// Writes a new secret of 32 random bytes as hex to `path`, mode 0600;
/// never over an existing file.
pub fn create(path: &Path) -> Result<(), SecretError> {
    let mut key = [0u8; MIN_KEY_BYTES];
    // A random draw that is weak by chance is drawn again.
    loop {
        getrandom::fill(&mut key).map_err(|e| SecretError::Random(e.to_string()))?;
        if check_key(&key).is_ok() {
            break;
        }
    }
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let io = |source| SecretError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            SecretError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            io(e)
        }
    })?;
    f.write_all(format!("{}\n", hex::encode(key)).as_bytes())
        .map_err(io)?;
    f.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
        p
    }

    #[test]
    fn weak_secrets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let weak = [
            ("empty", String::new()),
            ("newline", "\n".to_string()),
            ("00", "00".to_string()),
            ("8 hex digits", "deadbeef".to_string()),
            ("16 characters", "k3J9x0Qw7LmZ2pRt".to_string()),
            ("zeros", "0".repeat(64)),
            ("zs", "z".repeat(64)),
            ("pattern", "ab".repeat(40)),
            ("hex pattern", "0123456789abcdef".repeat(4)),
            ("password", "password1234567890xyzXYZ!!**##$$".to_string()),
            ("Password", "MyPassWord-for-the-partners-2026!".to_string()),
        ];
        for (what, text) in weak {
            let p = write(dir.path(), "k", &text, 0o600);
            let err = read(&p, SecretKind::Partners).expect_err(what);
            assert!(matches!(err, SecretError::Weak { .. }), "{what}: {err}");
            assert!(err.to_string().contains("--new-secret"), "{what}: {err}");
        }
    }

    #[test]
    fn a_created_secret_is_strong_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("new.key");
        create(&p).unwrap();
        let s = read(&p, SecretKind::Partners).unwrap();
        assert_eq!(s.material.len(), 32);
        assert_eq!(s.text.len(), 64);
        assert!(matches!(create(&p), Err(SecretError::Exists { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let good = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let p = write(dir.path(), "k", good, 0o644);
        let err = read(&p, SecretKind::Workspace).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
        let p = write(dir.path(), "k2", good, 0o600);
        assert_eq!(read(&p, SecretKind::Workspace).unwrap().material.len(), 32);
    }

    #[test]
    fn a_missing_workspace_secret_says_what_it_means() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(&dir.path().join("secret.key"), SecretKind::Workspace).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("can no longer be matched"), "{msg}");
        assert!(msg.contains("backup"), "{msg}");
    }

    proptest! {
        /// Random keys of 32 bytes or more pass (a pattern or a password
        /// word by chance is vanishingly rare); anything shorter never does.
        #[test]
        fn random_keys_pass_and_short_ones_fail(key in proptest::collection::vec(any::<u8>(), 0..64)) {
            let verdict = check_key(&key);
            if key.len() < MIN_KEY_BYTES {
                prop_assert_eq!(verdict, Err(Weakness::TooShort(key.len())));
            } else {
                prop_assert_eq!(verdict, Ok(()));
            }
        }

        #[test]
        fn hex_text_is_its_bytes(key in proptest::collection::vec(any::<u8>(), 32..48)) {
            prop_assert_eq!(key_material(&format!("{}\n", hex::encode(&key))), key);
        }
    }
}
