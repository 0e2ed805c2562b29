//! Sealing and checking releases: `SHA256SUMS` over every file, its
//! ed25519 signature, the release id (a digest of `SHA256SUMS`), and the
//! checks any copy can run.

use std::fs;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{PublishError, io};

pub(crate) const SUMS: &str = "SHA256SUMS";
pub(crate) const SIGNATURE: &str = "SHA256SUMS.sig";
pub(crate) const PUBLIC_KEY: &str = "signing-key.pub";
const MANIFEST: &str = "release.json";

/// Every file under `dir`, as `/`-separated paths relative to it, sorted.
fn files_under(dir: &Path) -> Result<Vec<String>, PublishError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).map_err(io(&d))? {
            let e = e.map_err(io(&d))?;
            let p = e.path();
            let kind = e.file_type().map_err(io(&p))?;
            if kind.is_dir() {
                stack.push(p);
            } else if kind.is_file() {
                let rel = p
                    .strip_prefix(dir)
                    .map_err(|e| PublishError::Write(e.to_string()))?;
                out.push(
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            } else {
                return Err(PublishError::Write(format!(
                    "{}: a release holds only files and folders (no links)",
                    p.display()
                )));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn sha256_of(path: &Path) -> Result<String, PublishError> {
    let bytes = fs::read(path).map_err(io(path))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// The release id of a `SHA256SUMS` text.
fn id_of(sums: &[u8]) -> String {
    format!("r{}", &hex::encode(Sha256::digest(sums))[..20])
}

/// Writes `SHA256SUMS`, the public key and the signature. Returns the id,
/// the number of files and the public key (hex).
pub(crate) fn seal_folder(
    dir: &Path,
    seed: &[u8; 32],
) -> Result<(String, usize, String), PublishError> {
    let key = SigningKey::from_bytes(seed);
    let public = hex::encode(key.verifying_key().to_bytes());
    let pub_path = dir.join(PUBLIC_KEY);
    fs::write(&pub_path, format!("{public}\n")).map_err(io(&pub_path))?;
    let mut sums = String::new();
    let files = files_under(dir)?;
    for f in &files {
        sums.push_str(&format!("{}  {f}\n", sha256_of(&dir.join(f))?));
    }
    let sums_path = dir.join(SUMS);
    fs::write(&sums_path, &sums).map_err(io(&sums_path))?;
    let sig = key.sign(sums.as_bytes());
    let sig_path = dir.join(SIGNATURE);
    fs::write(&sig_path, format!("{}\n", hex::encode(sig.to_bytes()))).map_err(io(&sig_path))?;
    Ok((id_of(sums.as_bytes()), files.len() + 2, public))
}

pub(crate) fn make_read_only(dir: &Path) -> Result<(), PublishError> {
    for f in files_under(dir)? {
        let p = dir.join(&f);
        let mut perm = fs::metadata(&p).map_err(io(&p))?.permissions();
        perm.set_readonly(true);
        fs::set_permissions(&p, perm).map_err(io(&p))?;
    }
    Ok(())
}

/// What verification found.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub id: String,
    pub dir: PathBuf,
    pub files: usize,
    /// The key the signature was checked with, hex.
    pub public_key: String,
    /// Whether that key is one the caller trusts (`--key`), or only the
    /// one the release carries.
    pub key_trusted: bool,
}

/// Checks a release folder: every file listed with its checksum, no file
/// missing or added, the signature over `SHA256SUMS`, and the id. With
/// `trusted`, the signature must be by that public key (hex), not only by
/// the one the release carries.
pub fn verify_release(dir: &Path, trusted: Option<&str>) -> Result<Verified, PublishError> {
    let bad = |why: String| PublishError::Tampered {
        path: dir.to_path_buf(),
        why,
    };
    let sums_path = dir.join(SUMS);
    if !sums_path.is_file() {
        return Err(PublishError::NotARelease {
            path: dir.to_path_buf(),
            why: format!("it has no {SUMS}"),
        });
    }
    let sums = fs::read(&sums_path).map_err(io(&sums_path))?;
    let text = String::from_utf8(sums.clone()).map_err(|_| bad(format!("{SUMS} is not text")))?;
    let mut listed = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some((sum, file)) = line.split_once("  ") else {
            return Err(bad(format!("{SUMS} line {} is not `digest  file`", n + 1)));
        };
        if file.contains("..") || file.starts_with('/') {
            return Err(bad(format!("{SUMS} lists `{file}`, outside the release")));
        }
        let got = sha256_of(&dir.join(file)).map_err(|_| bad(format!("{file} is missing")))?;
        if got != sum {
            return Err(bad(format!("{file} has changed (its checksum differs)")));
        }
        listed.push(file.to_string());
    }
    let present: Vec<String> = files_under(dir)?
        .into_iter()
        .filter(|f| f != SUMS && f != SIGNATURE)
        .collect();
    if let Some(extra) = present.iter().find(|f| !listed.contains(f)) {
        return Err(bad(format!("{extra} is not listed in {SUMS}")));
    }
    let read_hex = |name: &str| -> Result<Vec<u8>, PublishError> {
        let p = dir.join(name);
        let t = fs::read_to_string(&p).map_err(|_| bad(format!("{name} is missing")))?;
        hex::decode(t.trim()).map_err(|_| bad(format!("{name} is not hex")))
    };
    let carried = read_hex(PUBLIC_KEY)?;
    let key_bytes = match trusted {
        Some(k) => {
            let k = hex::decode(k.trim()).map_err(|_| {
                PublishError::Write("the trusted key is not hex (64 hex digits)".into())
            })?;
            if k != carried {
                return Err(bad(
                    "the release was not signed by the key you trust (its signing-key.pub differs)"
                        .into(),
                ));
            }
            k
        }
        None => carried,
    };
    let key_array: [u8; 32] = key_bytes
        .as_slice()
        .try_into()
        .map_err(|_| bad("the public key is not 32 bytes".into()))?;
    let key = VerifyingKey::from_bytes(&key_array)
        .map_err(|_| bad("the public key is not valid".into()))?;
    let sig_bytes: [u8; 64] = read_hex(SIGNATURE)?
        .as_slice()
        .try_into()
        .map_err(|_| bad("the signature is not 64 bytes".into()))?;
    key.verify_strict(&sums, &Signature::from_bytes(&sig_bytes))
        .map_err(|_| bad(format!("the signature does not match {SUMS}")))?;
    let id = id_of(&sums);
    let name = dir.file_name().map(|n| n.to_string_lossy().to_string());
    if name
        .as_deref()
        .is_some_and(|n| n.starts_with('r') && n.len() == id.len() && n != id)
    {
        return Err(bad(format!(
            "the folder is named {} but its content is release {id}",
            name.unwrap_or_default()
        )));
    }
    Ok(Verified {
        id,
        dir: dir.to_path_buf(),
        files: listed.len() + 2,
        public_key: hex::encode(key_array),
        key_trusted: trusted.is_some(),
    })
}

/// A release as `corridor release list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseInfo {
    pub id: String,
    pub dir: PathBuf,
    pub version: String,
    pub title: String,
    pub built_at: String,
    pub tables: usize,
}

/// The releases in a folder (a workspace's `releases/`, or any copy),
/// oldest first.
pub fn list_releases(dir: &Path) -> Result<Vec<ReleaseInfo>, PublishError> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for e in fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        let p = e.path();
        let manifest = p.join(MANIFEST);
        if !manifest.is_file()
            || p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let text = fs::read_to_string(&manifest).map_err(io(&manifest))?;
        let m: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| PublishError::NotARelease {
                path: p.clone(),
                why: format!("{MANIFEST}: {e}"),
            })?;
        let s = |k: &str| m[k].as_str().unwrap_or_default().to_string();
        out.push(ReleaseInfo {
            id: p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
            dir: p.clone(),
            version: s("version"),
            title: s("title"),
            built_at: s("built_at"),
            tables: m["tables"].as_array().map_or(0, Vec::len),
        });
    }
    out.sort_by(|a, b| a.built_at.cmp(&b.built_at).then(a.id.cmp(&b.id)));
    Ok(out)
}
