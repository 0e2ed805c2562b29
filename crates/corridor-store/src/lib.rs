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
mod output;
mod private;
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
pub use output::{OutputFormat, write_results, write_results_file};
pub use query::{QueryLimits, default_memory_limit, parse_size};

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
    #[error(
        "SQL: `corridor sql` only reads: {0}. Queries may not create, change or write anything \
         (no CREATE, INSERT, COPY, SET…); to save results, use --format and --out"
    )]
    ReadOnly(String),
    #[error(
        "catalog {}: {why}. Corridor will not recreate it: an empty catalog would hide every stored \
         submission. Restore catalog.sqlite from a backup, as docs/recovery.md describes.",
        path.display()
    )]
    CatalogDamaged { path: PathBuf, why: String },
    #[error(transparent)]
    Secret(#[from] corridor_ingest::secret::SecretError),
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
// One per submission: the size of the report does not matter.
#[allow(clippy::large_enum_variant)]
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
/// Marks a workspace `corridor demo` made, and so may replace.
const DEMO_MARKER: &str = ".corridor-demo";

impl Workspace {
    /// Creates a workspace in `dir` (which may exist but must not hold one).
    pub fn init(dir: &Path) -> Result<Workspace, StoreError> {
        if dir.join(CONFIG).exists() {
            return Err(StoreError::Workspace(format!(
                "{} is already a Corridor workspace",
                dir.display()
            )));
        }
        // The workspace's own folder is private too: derived datasets and
        // linkage results written below it hold record-level data.
        private::create_dir_all(dir).map_err(io(dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
        }
        for sub in ["data", "quarantine", "reports", "staging"] {
            private::create_dir_all(&dir.join(sub)).map_err(io(dir))?;
        }
        corridor_ingest::secret::create(&dir.join(SECRET))?;
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

    /// Creates the demo's workspace in `dir`, replacing one only if the
    /// demo made it (its marker file is there) or `force` is set: a real
    /// workspace that happens to sit where the demo writes is never
    /// deleted by accident.
    pub fn init_demo(dir: &Path, force: bool) -> Result<Workspace, StoreError> {
        if dir.join(CONFIG).exists() {
            if !dir.join(DEMO_MARKER).is_file() && !force {
                return Err(StoreError::Workspace(format!(
                    "{} holds a Corridor workspace the demo did not make; not replacing it. \
                     Build the demo elsewhere (`corridor demo --dir ANOTHER_DIR`) or, if that \
                     workspace may go, pass --force",
                    dir.display()
                )));
            }
            fs::remove_dir_all(dir).map_err(io(dir))?;
        }
        let ws = Workspace::init(dir)?;
        let marker = dir.join(DEMO_MARKER);
        fs::write(
            &marker,
            "Made by `corridor demo`, which may delete and rebuild this workspace.\n",
        )
        .map_err(io(&marker))?;
        Ok(ws)
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
        let secret =
            corridor_ingest::secret::read(&path, corridor_ingest::secret::SecretKind::Workspace)?;
        Ok(Pseudonymiser::new(secret.material))
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
        // Whatever this submission wrote goes again unless it commits: no
        // stray parts, quarantine or report are left for the next ingest.
        let mut leftovers = Leftovers {
            paths: vec![stage_dir.clone()],
        };
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
        let report = report
            .map_err(StoreError::from)
            .and_then(|r| sink.finish().map(|()| r))
            .map_err(|e| disk_full(e, &stage_dir, file))?;
        let (file_sha, superseded) = match (early, late_sha) {
            (Some(early), _) => early,
            (None, late) => {
                let sha = match (late, &report.file_sha256) {
                    (Some(late), _) => late?,
                    (None, Some(sha)) => sha.clone(),
                    (None, None) => sha256_file(file)?,
                };
                // Refused or nothing to do: what was staged goes (`leftovers`).
                match incoming.settle(&catalog, &sha)? {
                    Settled::Current(submission) => {
                        // The same content under another name.
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
        leftovers.paths.push(self.root.join(&data_rel));
        leftovers.paths.push(self.root.join(&quarantine_rel));
        stage.place(&self.root, &data_rel, &quarantine_rel)?;
        let report_json = serde_json::to_string_pretty(&report).unwrap_or_default();
        let report_path = self.root.join(&report_rel);
        leftovers.paths.push(report_path.clone());
        private::write(&report_path, report_json.as_bytes()).map_err(io(&report_path))?;
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
        // Committed: the placed files are the submission's now.
        leftovers.paths.truncate(1);
        drop(leftovers);
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
        self.sql_with(query, &QueryLimits::default())
    }

    /// [`Workspace::sql`] under explicit limits. Only queries run: DDL,
    /// DML, `COPY` and statements are refused before anything executes.
    pub fn sql_with(
        &self,
        query: &str,
        limits: &QueryLimits,
    ) -> Result<Vec<arrow::record_batch::RecordBatch>, StoreError> {
        let catalog = self.catalog()?;
        query::run(&self.root, &catalog, query, limits)
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
        private::create_dir_all(&dir).map_err(io(&dir))?;
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

/// Paths a submission in progress has written, removed when it is
/// dropped: on every way out but a commit, which keeps only the staging
/// folder in the list.
struct Leftovers {
    paths: Vec<PathBuf>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        for p in &self.paths {
            let _ = if p.is_dir() {
                fs::remove_dir_all(p)
            } else {
                fs::remove_file(p)
            };
        }
    }
}

/// Says what a full disk means for a submission: which folder filled up,
/// how much it had written, and what to free. Other errors pass unchanged.
fn disk_full(e: StoreError, stage_dir: &Path, file: &Path) -> StoreError {
    let text = e.to_string();
    if !text.contains("No space left on device") && !text.contains("os error 28") {
        return e;
    }
    let written = folder_bytes(stage_dir);
    let input = fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    StoreError::Workspace(format!(
        "the disk holding {} is full: the submission had written {} when it stopped, for an input of {}. \
         What it wrote has been removed. Free at least {} there (stored data is usually smaller than the \
         input, but allow for its size) or move the workspace to a larger disk, then submit again. ({text})",
        stage_dir.parent().unwrap_or(stage_dir).display(),
        human_bytes(written),
        human_bytes(input),
        human_bytes(input.max(written)),
    ))
}

fn folder_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => folder_bytes(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

fn human_bytes(n: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if n >= 1 << 30 {
        format!("{:.1} GiB", n as f64 / (MIB * 1024.0))
    } else {
        format!("{:.1} MiB", n as f64 / MIB)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_names_the_folder_and_the_space_written() {
        let dir = tempfile::tempdir().expect("dir");
        let stage = dir.path().join("staging").join("sub-1");
        fs::create_dir_all(&stage).expect("stage");
        fs::write(stage.join("part-00000.parquet"), vec![0u8; 3 << 20]).expect("part");
        let input = dir.path().join("export.csv");
        fs::write(&input, vec![b'x'; 5 << 20]).expect("input");
        let full = StoreError::Io {
            path: stage.join("part-00001.parquet"),
            source: std::io::Error::from_raw_os_error(28),
        };
        let text = disk_full(full, &stage, &input).to_string();
        assert!(
            text.contains(&dir.path().join("staging").display().to_string()),
            "{text}"
        );
        assert!(
            text.contains("3.0 MiB") && text.contains("5.0 MiB"),
            "{text}"
        );
        assert!(text.contains("Free at least"), "{text}");
        // Any other error passes unchanged.
        let other = StoreError::Workspace("no".into());
        assert_eq!(disk_full(other, &stage, &input).to_string(), "no");
    }
}
