//! The audit log: every action, one line of JSON, each holding the hash
//! of the one before, so that an edited, reordered or deleted entry breaks
//! the chain. The newest entry's number and hash are also kept apart, in
//! `audit/head`, so that deleting entries from the end is found too.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AccessError;

/// The hash before the first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// 1, 2, 3, … in the order written.
    pub seq: u64,
    /// UTC, RFC 3339.
    pub at: String,
    /// Who: a user's name, or `cli` for the workspace's owner at its
    /// console.
    pub actor: String,
    /// The organisation acted for, empty for the workspace's owner.
    pub org: String,
    /// What, e.g. `org.add`, `token.new`, `submission`.
    pub action: String,
    /// The details, never a secret or a raw identifier.
    pub detail: serde_json::Value,
    /// The hash of the entry before (64 zeros for the first).
    pub prev: String,
    /// SHA-256 of this entry's other fields.
    pub hash: String,
}

impl AuditEntry {
    fn digest(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.seq.to_string().as_str(),
            &self.at,
            &self.actor,
            &self.org,
            &self.action,
            &self.detail.to_string(),
            &self.prev,
        ] {
            // Length-prefixed, so that no two entries hash the same text.
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// The audit log of a workspace, in `WS/audit/`.
pub struct AuditLog {
    dir: PathBuf,
}

/// What `verify` found: the entries, all chained.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditReport {
    pub entries: u64,
    pub head: String,
}

impl AuditLog {
    pub fn open(workspace: &Path) -> Result<AuditLog, AccessError> {
        let dir = workspace.join("audit");
        std::fs::create_dir_all(&dir).map_err(|e| AccessError::io(&dir, e))?;
        Ok(AuditLog { dir })
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("audit.ndjson")
    }

    fn head_path(&self) -> PathBuf {
        self.dir.join("head")
    }

    /// Appends an action. Writers take turns through an exclusive lock on
    /// the log file, so that two processes never chain onto the same
    /// entry.
    pub fn append(
        &self,
        actor: &str,
        org: &str,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<AuditEntry, AccessError> {
        let path = self.log_path();
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(|e| AccessError::io(&path, e))?;
        file.lock().map_err(|e| AccessError::io(&path, e))?;
        let (seq, prev) = match self.read_head()? {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS.to_string()),
        };
        let mut entry = AuditEntry {
            seq,
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            actor: actor.to_string(),
            org: org.to_string(),
            action: action.to_string(),
            detail,
            prev,
            hash: String::new(),
        };
        entry.hash = entry.digest();
        let mut line =
            serde_json::to_string(&entry).map_err(|e| AccessError::Audit(e.to_string()))?;
        line.push('\n');
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| AccessError::io(&path, e))?;
        self.write_head(seq, &entry.hash)?;
        // Dropping the file releases the lock.
        Ok(entry)
    }

    fn read_head(&self) -> Result<Option<(u64, String)>, AccessError> {
        let path = self.head_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(AccessError::io(&path, e)),
        };
        let (seq, hash) = text
            .trim()
            .split_once(' ')
            .ok_or_else(|| AccessError::Audit(format!("{}: not `SEQ HASH`", path.display())))?;
        let seq = seq.parse().map_err(|_| {
            AccessError::Audit(format!("{}: `{seq}` is not a number", path.display()))
        })?;
        Ok(Some((seq, hash.to_string())))
    }

    fn write_head(&self, seq: u64, hash: &str) -> Result<(), AccessError> {
        let path = self.head_path();
        let tmp = self.dir.join("head.tmp");
        std::fs::write(&tmp, format!("{seq} {hash}\n"))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| AccessError::io(&path, e))
    }

    /// Every entry, in order, unchecked.
    pub fn entries(&self) -> Result<Vec<AuditEntry>, AccessError> {
        let path = self.log_path();
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(AccessError::io(&path, e)),
        };
        let mut out = Vec::new();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| AccessError::io(&path, e))?;
            let entry: AuditEntry = serde_json::from_str(&line).map_err(|e| {
                AccessError::Tampered(format!(
                    "line {} of {} is not an entry: {e}",
                    i + 1,
                    path.display()
                ))
            })?;
            out.push(entry);
        }
        Ok(out)
    }

    /// Checks the chain: each entry's hash, its link to the one before,
    /// its number, and the last against the head. The first break found
    /// is the error, naming the line.
    pub fn verify(&self) -> Result<AuditReport, AccessError> {
        let entries = self.entries()?;
        let mut prev = GENESIS.to_string();
        for (i, e) in entries.iter().enumerate() {
            let line = i + 1;
            if e.digest() != e.hash {
                return Err(AccessError::Tampered(format!(
                    "line {line} (entry {}) was edited: its hash does not match its contents",
                    e.seq
                )));
            }
            if e.prev != prev {
                return Err(AccessError::Tampered(format!(
                    "line {line} (entry {}) does not follow the line before: an entry was removed, inserted or moved here",
                    e.seq
                )));
            }
            if e.seq != line as u64 {
                return Err(AccessError::Tampered(format!(
                    "line {line} holds entry {}: entries were removed or reordered",
                    e.seq
                )));
            }
            prev = e.hash.clone();
        }
        let n = entries.len() as u64;
        match self.read_head()? {
            None if n == 0 => {}
            None => {
                return Err(AccessError::Tampered(
                    "the log has entries but its head (audit/head) is missing".into(),
                ));
            }
            Some((seq, hash)) => {
                if seq != n || hash != prev {
                    return Err(AccessError::Tampered(format!(
                        "the head says entry {seq} is the last, the log ends at entry {n}: entries were deleted from the end, or the head was replaced"
                    )));
                }
            }
        }
        Ok(AuditReport {
            entries: n,
            head: prev,
        })
    }
}
