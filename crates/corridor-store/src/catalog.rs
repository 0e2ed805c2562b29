//! The SQLite catalog: sources and submissions. A submission exists for
//! readers exactly when its row says `current`, and that row is written in
//! one transaction with the superseding of the ones it replaces.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

pub struct Catalog {
    pub(crate) conn: Connection,
    path: PathBuf,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SubmissionInfo {
    pub id: String,
    pub seq: i64,
    pub source: String,
    pub record_type: String,
    pub file_name: String,
    pub file_sha256: String,
    pub mapping_sha256: String,
    pub rows_read: u64,
    pub rows_stored: u64,
    pub rows_quarantined: u64,
    pub data_path: String,
    pub quarantine_path: String,
    pub committed_at: String,
    pub status: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceStatus {
    pub id: String,
    pub record_type: String,
    pub description: Option<String>,
    pub submissions: u64,
    pub rows_stored: u64,
    pub rows_quarantined: u64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sources (
    id TEXT PRIMARY KEY,
    record_type TEXT NOT NULL,
    description TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    source_id TEXT NOT NULL REFERENCES sources(id),
    record_type TEXT NOT NULL,
    file_name TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    mapping_sha256 TEXT NOT NULL,
    rows_read INTEGER NOT NULL,
    rows_stored INTEGER NOT NULL,
    rows_quarantined INTEGER NOT NULL,
    data_path TEXT NOT NULL,
    quarantine_path TEXT NOT NULL,
    report_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('current', 'superseded')),
    superseded_by TEXT,
    committed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS submissions_by_file ON submissions (source_id, file_sha256, mapping_sha256);
";

impl Catalog {
    pub fn create(path: &Path) -> Result<Catalog, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::Catalog {
            path: path.to_path_buf(),
            source,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(crate::io(path))?;
        }
        conn.execute_batch(SCHEMA)
            .map_err(|source| StoreError::Catalog {
                path: path.to_path_buf(),
                source,
            })?;
        drop(conn);
        Catalog::open(path)
    }

    /// Opens the catalog of an existing workspace. A missing or damaged
    /// catalog is refused, never recreated empty: an empty one would make
    /// every stored submission invisible and the next ingest would remove
    /// their files as leftovers.
    pub fn open(path: &Path) -> Result<Catalog, StoreError> {
        use rusqlite::OpenFlags;
        let damaged = |why: String| StoreError::CatalogDamaged {
            path: path.to_path_buf(),
            why,
        };
        if !path.is_file() {
            return Err(damaged("it is missing".into()));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| damaged(e.to_string()))?;
        // Full synchronisation: a committed submission survives a power cut.
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;")
            .map_err(|e| damaged(e.to_string()))?;
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('sources', 'submissions')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| damaged(e.to_string()))?;
        if tables != 2 {
            return Err(damaged("it has no sources or submissions table".into()));
        }
        Ok(Catalog {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Catalog {
            path: self.path.clone(),
            source,
        }
    }

    fn row(r: &rusqlite::Row) -> rusqlite::Result<SubmissionInfo> {
        Ok(SubmissionInfo {
            seq: r.get("seq")?,
            id: r.get("id")?,
            source: r.get("source_id")?,
            record_type: r.get("record_type")?,
            file_name: r.get("file_name")?,
            file_sha256: r.get("file_sha256")?,
            mapping_sha256: r.get("mapping_sha256")?,
            rows_read: r.get::<_, i64>("rows_read")? as u64,
            rows_stored: r.get::<_, i64>("rows_stored")? as u64,
            rows_quarantined: r.get::<_, i64>("rows_quarantined")? as u64,
            data_path: r.get("data_path")?,
            quarantine_path: r.get("quarantine_path")?,
            committed_at: r.get("committed_at")?,
            status: r.get("status")?,
        })
    }

    /// The current submission of this file with this mapping, if any.
    pub fn find(
        &self,
        source: &str,
        file_sha: &str,
        mapping_sha: &str,
    ) -> Result<Option<SubmissionInfo>, StoreError> {
        self.conn
            .query_row(
                "SELECT * FROM submissions WHERE source_id = ?1 AND file_sha256 = ?2 AND mapping_sha256 = ?3 AND status = 'current'",
                params![source, file_sha, mapping_sha],
                Catalog::row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Current submissions of a source with the same file name or content.
    /// Current submissions of `source` with the file's name or (when known)
    /// its SHA-256.
    pub fn current_for_file(
        &self,
        source: &str,
        file_name: &str,
        file_sha: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM submissions WHERE source_id = ?1 AND status = 'current' AND (file_name = ?2 OR file_sha256 = ?3) ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let ids = stmt
            .query_map(params![source, file_name, file_sha], |r| {
                r.get::<_, String>(0)
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(ids)
    }

    pub fn source_type(&self, source: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT record_type FROM sources WHERE id = ?1",
                params![source],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn all_submission_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM submissions")
            .map_err(|e| self.err(e))?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(ids)
    }

    /// Makes a submission current and supersedes `replaced`, atomically.
    pub fn commit(
        &self,
        s: &SubmissionInfo,
        description: Option<&str>,
        replaced: &[String],
        report_json: &str,
    ) -> Result<SubmissionInfo, StoreError> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT OR IGNORE INTO sources (id, record_type, description, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![s.source, s.record_type, description, s.committed_at],
        )
        .map_err(|e| self.err(e))?;
        for old in replaced {
            tx.execute(
                "UPDATE submissions SET status = 'superseded', superseded_by = ?1 WHERE id = ?2",
                params![s.id, old],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.execute(
            "INSERT INTO submissions (id, source_id, record_type, file_name, file_sha256, mapping_sha256, rows_read, rows_stored,
                rows_quarantined, data_path, quarantine_path, report_json, status, committed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'current', ?13)",
            params![
                s.id,
                s.source,
                s.record_type,
                s.file_name,
                s.file_sha256,
                s.mapping_sha256,
                s.rows_read as i64,
                s.rows_stored as i64,
                s.rows_quarantined as i64,
                s.data_path,
                s.quarantine_path,
                report_json,
                s.committed_at
            ],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        self.conn
            .query_row(
                "SELECT * FROM submissions WHERE id = ?1",
                params![s.id],
                Catalog::row,
            )
            .map_err(|e| self.err(e))
    }

    /// One submission and its report (JSON).
    pub fn submission(&self, id: &str) -> Result<Option<(SubmissionInfo, String)>, StoreError> {
        self.conn
            .query_row("SELECT * FROM submissions WHERE id = ?1", [id], |r| {
                Ok((Catalog::row(r)?, r.get::<_, String>("report_json")?))
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn submissions(&self) -> Result<Vec<SubmissionInfo>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT * FROM submissions ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], Catalog::row)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    pub fn current(&self, record_type: &str) -> Result<Vec<SubmissionInfo>, StoreError> {
        Ok(self
            .submissions()?
            .into_iter()
            .filter(|s| s.status == "current" && s.record_type == record_type)
            .collect())
    }

    pub fn sources(&self) -> Result<Vec<SourceStatus>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT s.id, s.record_type, s.description,
                        COUNT(b.id), COALESCE(SUM(b.rows_stored), 0), COALESCE(SUM(b.rows_quarantined), 0)
                 FROM sources s LEFT JOIN submissions b ON b.source_id = s.id AND b.status = 'current'
                 GROUP BY s.id ORDER BY s.id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SourceStatus {
                    id: r.get(0)?,
                    record_type: r.get(1)?,
                    description: r.get(2)?,
                    submissions: r.get::<_, i64>(3)? as u64,
                    rows_stored: r.get::<_, i64>(4)? as u64,
                    rows_quarantined: r.get::<_, i64>(5)? as u64,
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }
}
