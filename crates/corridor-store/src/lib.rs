//! The Corridor workspace: where submitted records live.
//!
//! A workspace is a folder (see ARCHITECTURE.md for its layout): Parquet
//! datasets per record type, partitioned by source and submission; a SQLite
//! catalog of sources and submissions; a quarantine folder; and the
//! per-workspace secret that keys pseudonyms. A submission is written to
//! staging and becomes visible in one catalog transaction, so a crash at any
//! moment leaves either the whole submission or nothing. SQL runs over the
//! current submissions with Apache DataFusion.

mod catalog;
mod query;
mod staging;

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use corridor_ingest::{Mapping, Pseudonymiser, Report};
use corridor_model::RecordType;
use sha2::{Digest, Sha256};

pub use catalog::{SourceStatus, SubmissionInfo};
pub use query::OutputFormat;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Workspace(String),
    #[error("catalog {}: {source}", path.display())]
    Catalog {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Ingest(#[from] corridor_ingest::IngestError),
    #[error("SQL: {0}")]
    Sql(String),
}

pub(crate) fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An open workspace.
#[derive(Debug)]
pub struct Workspace {
    root: PathBuf,
}

/// What a submission did.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Stored: the new submission and its report.
    Committed {
        submission: SubmissionInfo,
        report: Report,
        superseded: Vec<String>,
    },
    /// The same file was already ingested with the same mapping: nothing done.
    AlreadyIngested { submission: SubmissionInfo },
}

const CONFIG: &str = "corridor.toml";
const SECRET: &str = "secret.key";
const DERIVED: &str = "derived";
const CATALOG: &str = "catalog.sqlite";

impl Workspace {
    /// Creates a workspace in `dir` (which may exist but must not hold one).
    pub fn init(dir: &Path) -> Result<Workspace, StoreError> {
        if dir.join(CONFIG).exists() {
            return Err(StoreError::Workspace(format!(
                "{} is already a Corridor workspace",
                dir.display()
            )));
        }
        for sub in ["data", "quarantine", "reports", "staging"] {
            fs::create_dir_all(dir.join(sub)).map_err(io(dir))?;
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| {
            StoreError::Workspace(format!("no randomness for the workspace secret: {e}"))
        })?;
        write_secret(&dir.join(SECRET), &hex::encode(secret))?;
        catalog::Catalog::create(&dir.join(CATALOG))?;
        let config = format!(
            "# Corridor workspace. The secret in {SECRET} keys every pseudonym: keep it, back it up\n\
             # separately, and never share it; without it, new submissions will not link to old ones.\n\
             format = 1\ncreated = \"{}\"\n",
            now()
        );
        fs::write(dir.join(CONFIG), config).map_err(io(dir))?;
        Ok(Workspace {
            root: dir.to_path_buf(),
        })
    }

    /// Opens an existing workspace.
    pub fn open(dir: &Path) -> Result<Workspace, StoreError> {
        if !dir.join(CONFIG).is_file() {
            return Err(StoreError::Workspace(format!(
                "{} is not a Corridor workspace (no {CONFIG}); create one with `corridor init {}`",
                dir.display(),
                dir.display()
            )));
        }
        Ok(Workspace {
            root: dir.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn pseudonymiser(&self) -> Result<Pseudonymiser, StoreError> {
        let path = self.root.join(SECRET);
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let key = hex::decode(text.trim()).map_err(|_| {
            StoreError::Workspace(format!("{} is damaged (not hex)", path.display()))
        })?;
        Ok(Pseudonymiser::new(key))
    }

    /// The pseudonym ingest gives an identifier of `field` (e.g. `case_key`
    /// of a case number and its organisation): lets a truth file or an
    /// organisation's own list be matched to stored keys inside the trust
    /// boundary. The parts are normalised as at intake.
    pub fn pseudonym(
        &self,
        field: &str,
        identifiers: &[&str],
        with: &[&str],
    ) -> Result<String, StoreError> {
        let mut parts: Vec<String> = identifiers
            .iter()
            .map(|p| corridor_ingest::pseudonym::normalise_identifier(p))
            .collect();
        parts.extend(with.iter().map(|w| w.to_string()));
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        Ok(self.pseudonymiser()?.pseudonym(field, &refs))
    }

    /// Records a privacy loss spent on `dataset` in the catalog's ledger;
    /// returns the total ρ spent on it so far.
    pub fn record_privacy_loss(
        &self,
        dataset: &str,
        output: &str,
        mechanism: &str,
        rho_epsilon_delta: (f64, f64, f64),
        detail_json: &str,
    ) -> Result<f64, StoreError> {
        let _lock = self.lock()?;
        let (rho, epsilon, delta) = rho_epsilon_delta;
        self.catalog()?.record_privacy_loss(
            dataset,
            output,
            mechanism,
            rho,
            epsilon,
            delta,
            detail_json,
        )
    }

    fn catalog(&self) -> Result<catalog::Catalog, StoreError> {
        catalog::Catalog::open(&self.root.join(CATALOG))
    }

    /// Holds the workspace's writer lock while alive.
    fn lock(&self) -> Result<File, StoreError> {
        let path = self.root.join(".lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        f.lock().map_err(io(&path))?;
        Ok(f)
    }

    /// Removes what interrupted submissions left: staging folders, and data
    /// or quarantine files no catalog entry points to. Called under the lock.
    fn recover(&self, catalog: &catalog::Catalog) -> Result<(), StoreError> {
        let staging = self.root.join("staging");
        if let Ok(entries) = fs::read_dir(&staging) {
            for e in entries.flatten() {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        let known = catalog.all_submission_ids()?;
        let data = self.root.join("data");
        for type_dir in fs::read_dir(&data).into_iter().flatten().flatten() {
            for source_dir in fs::read_dir(type_dir.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                for sub in fs::read_dir(source_dir.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    let name = sub.file_name().to_string_lossy().into_owned();
                    let id = name.trim_start_matches("submission=");
                    if !known.iter().any(|k| k == id) {
                        let _ = fs::remove_dir_all(sub.path());
                    }
                }
            }
        }
        Ok(())
    }

    /// Ingests `file` through the mapping at `mapping_path`.
    pub fn submit(
        &self,
        mapping_path: &Path,
        file: &Path,
        replace: bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Outcome, StoreError> {
        let (mapping, mapping_sha) = Mapping::load(mapping_path)?;
        let record_type = mapping
            .record_type()
            .map_err(|m| StoreError::Workspace(format!("{}: {m}", mapping_path.display())))?;
        let source = mapping.source_name().to_string();
        if !source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(StoreError::Workspace(format!(
                "source name '{source}' may only use letters, digits, '-', '_' and '.'"
            )));
        }
        let file_name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _lock = self.lock()?;
        let catalog = self.catalog()?;
        self.recover(&catalog)?;
        // A file named like a current submission is most likely that file
        // again: its SHA-256 decides first whether there is anything to do.
        // Any other file is hashed while it is being ingested (the SHA-256
        // is a serial pass over the whole file), and checked before commit.
        let incoming = Incoming {
            source: &source,
            file,
            file_name: &file_name,
            mapping_sha: &mapping_sha,
            replace,
        };
        let named_before = !catalog
            .current_for_file(&source, &file_name, None)?
            .is_empty();
        // The SHA-256 and what it settles, when known before ingesting.
        let early = if named_before {
            let sha = sha256_file(file)?;
            match incoming.settle(&catalog, &sha)? {
                Settled::Current(submission) => {
                    return Ok(Outcome::AlreadyIngested {
                        submission: *submission,
                    });
                }
                Settled::Supersedes(superseded) => Some((sha, superseded)),
            }
        } else {
            None
        };
        if let Some(t) = catalog.source_type(&source)?
            && t != record_type.name()
        {
            return Err(StoreError::Workspace(format!(
                "source '{source}' holds {t}, not {}",
                record_type.name()
            )));
        }
        let id = new_submission_id();
        let stage_dir = self.root.join("staging").join(&id);
        let stage = staging::Staging::create(&stage_dir, record_type)?;
        let key = self.pseudonymiser()?;
        let mut sink = stage.sink();
        let sub = corridor_ingest::Submission {
            scratch: Some(&stage_dir),
            file,
            source_id: &source,
            submission_id: &id,
        };
        let stop = AtomicBool::new(false);
        // A CSV or NDJSON reader hashes the file as it reads it; any other
        // file is hashed by a thread of its own while it is ingested.
        let hashed_by_reader = corridor_ingest::read::hashes_while_reading(file, &mapping.reader);
        let (report, late_sha) = std::thread::scope(|scope| {
            let late_sha = (early.is_none() && !hashed_by_reader)
                .then(|| scope.spawn(|| sha256_file_unless(file, &stop)));
            let report = corridor_ingest::ingest(&mapping, &sub, &key, &mut sink, progress);
            // A file that failed needs no digest: do not make its error wait.
            if report.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            let late_sha = late_sha.map(|thread| {
                thread.join().unwrap_or_else(|_| {
                    Err(StoreError::Workspace(format!(
                        "{}: hashing the file failed",
                        file.display()
                    )))
                })
            });
            (report, late_sha)
        });
        let report = report?;
        sink.finish()?;
        let (file_sha, superseded) = match (early, late_sha) {
            (Some(early), _) => early,
            (None, late) => {
                let sha = match (late, &report.file_sha256) {
                    (Some(late), _) => late?,
                    (None, Some(sha)) => sha.clone(),
                    (None, None) => sha256_file(file)?,
                };
                // Refused or nothing to do: what was staged goes.
                match incoming.settle(&catalog, &sha).inspect_err(|_| {
                    let _ = fs::remove_dir_all(&stage_dir);
                })? {
                    Settled::Current(submission) => {
                        // The same content under another name.
                        let _ = fs::remove_dir_all(&stage_dir);
                        return Ok(Outcome::AlreadyIngested {
                            submission: *submission,
                        });
                    }
                    Settled::Supersedes(superseded) => (sha, superseded),
                }
            }
        };
        // Move into place (invisible until the catalog says so), then commit.
        let data_rel = PathBuf::from("data")
            .join(record_type.name())
            .join(format!("source={source}"))
            .join(format!("submission={id}"));
        let quarantine_rel = PathBuf::from("quarantine")
            .join(&source)
            .join(format!("{id}.csv"));
        let report_rel = PathBuf::from("reports").join(format!("{id}.json"));
        stage.place(&self.root, &data_rel, &quarantine_rel)?;
        let report_json = serde_json::to_string_pretty(&report).unwrap_or_default();
        let report_path = self.root.join(&report_rel);
        fs::write(&report_path, &report_json).map_err(io(&report_path))?;
        let info = SubmissionInfo {
            id: id.clone(),
            seq: 0,
            source: source.clone(),
            record_type: record_type.name().to_string(),
            file_name,
            file_sha256: file_sha,
            mapping_sha256: mapping_sha,
            rows_read: report.rows_read,
            rows_stored: report.stored,
            rows_quarantined: report.quarantined,
            data_path: data_rel.to_string_lossy().into_owned(),
            quarantine_path: quarantine_rel.to_string_lossy().into_owned(),
            committed_at: now(),
            status: "current".into(),
        };
        let info = catalog.commit(
            &info,
            mapping.description.as_deref(),
            &superseded,
            &report_json,
        )?;
        let _ = fs::remove_dir_all(&stage_dir);
        Ok(Outcome::Committed {
            submission: info,
            report,
            superseded,
        })
    }

    /// Sources with their current row counts, and every submission.
    pub fn status(&self) -> Result<(Vec<SourceStatus>, Vec<SubmissionInfo>), StoreError> {
        let catalog = self.catalog()?;
        Ok((catalog.sources()?, catalog.submissions()?))
    }

    /// Runs SQL over the current submissions; one table per record type,
    /// one per derived dataset, and `countries` (ISO 3166-1 with M49
    /// regions).
    pub fn sql(&self, query: &str) -> Result<Vec<arrow::record_batch::RecordBatch>, StoreError> {
        let catalog = self.catalog()?;
        query::run(&self.root, &catalog, query)
    }

    /// The Parquet files of every current submission of a record type.
    pub fn data_files(&self, record_type: RecordType) -> Result<Vec<PathBuf>, StoreError> {
        let catalog = self.catalog()?;
        Ok(catalog
            .current(record_type.name())?
            .iter()
            .flat_map(|s| query::parquet_files(&self.root.join(&s.data_path)))
            .map(PathBuf::from)
            .collect())
    }

    /// Where derived datasets live: one folder of Parquet files per
    /// dataset (`derived/stays/…`), queryable by name.
    pub fn derived_dir(&self) -> PathBuf {
        self.root.join(DERIVED)
    }

    /// A fresh, empty folder to build the next set of derived datasets in.
    pub fn derived_staging(&self) -> Result<PathBuf, StoreError> {
        // Not under staging/: an ingest's recovery empties that folder.
        let dir = self.root.join("derived.next");
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(io(&dir))?;
        }
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(dir)
    }

    /// Replaces the derived datasets with those built in `staged` (from
    /// [`Workspace::derived_staging`]), under the writer lock: readers see
    /// the old set or the new one, never half of each. Files in the old
    /// folder whose names start with `history` are carried over, so that
    /// revision records accumulate across runs.
    pub fn replace_derived(&self, staged: &Path) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        let current = self.derived_dir();
        if current.is_dir() {
            for e in fs::read_dir(&current).map_err(io(&current))?.flatten() {
                let name = e.file_name();
                let target = staged.join(&name);
                if name.to_string_lossy().starts_with("history") && !target.exists() {
                    fs::rename(e.path(), &target).map_err(io(&target))?;
                }
            }
        }
        let old = self.root.join("derived.old");
        if old.exists() {
            fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        if current.exists() {
            fs::rename(&current, &old).map_err(io(&current))?;
        }
        fs::rename(staged, &current).map_err(io(&current))?;
        let _ = fs::remove_dir_all(&old);
        Ok(())
    }
}

fn write_secret(path: &Path, hex_key: &str) -> Result<(), StoreError> {
    use std::io::Write;
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io(path))?;
    f.write_all(hex_key.as_bytes()).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// A file on its way in, as far as the catalog is concerned.
struct Incoming<'a> {
    source: &'a str,
    file: &'a Path,
    file_name: &'a str,
    mapping_sha: &'a str,
    replace: bool,
}

/// What a file's SHA-256 settles.
enum Settled {
    /// The same file with the same mapping is current (this submission):
    /// a no-op.
    Current(Box<SubmissionInfo>),
    /// Go on, superseding these submissions (same name or same content;
    /// none unless `replace`).
    Supersedes(Vec<String>),
}

impl Incoming<'_> {
    fn settle(&self, catalog: &catalog::Catalog, file_sha: &str) -> Result<Settled, StoreError> {
        let source = self.source;
        if let Some(existing) = catalog.find(source, file_sha, self.mapping_sha)? {
            return Ok(Settled::Current(Box::new(existing)));
        }
        let superseded = catalog.current_for_file(source, self.file_name, Some(file_sha))?;
        if !superseded.is_empty() && !self.replace {
            return Err(StoreError::Workspace(format!(
                "{} was already submitted to source '{source}' (submission {}), with other content or another mapping; \
                 use --replace to supersede it",
                self.file.display(),
                superseded.join(", ")
            )));
        }
        Ok(Settled::Supersedes(superseded))
    }
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String, StoreError> {
    sha256_file_unless(path, &AtomicBool::new(false))
}

/// SHA-256 of a file, given up (with an error) once `stop` is set.
fn sha256_file_unless(path: &Path, stop: &AtomicBool) -> Result<String, StoreError> {
    let mut f = File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(StoreError::Workspace(format!(
                "{}: hashing stopped",
                path.display()
            )));
        }
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn new_submission_id() -> String {
    let mut r = [0u8; 4];
    let _ = getrandom::fill(&mut r);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{stamp:x}-{}", hex::encode(r))
}

pub(crate) fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
