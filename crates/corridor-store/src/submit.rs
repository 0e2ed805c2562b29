//! A submission's way in, step by step: the mapping checked, the file
//! settled against the catalog by its SHA-256, the rows ingested into
//! staging, then placed and committed in one catalog transaction. Every
//! way out but a commit removes what the submission wrote.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use corridor_ingest::{Mapping, Report};
use corridor_model::RecordType;
use sha2::{Digest, Sha256};

use crate::catalog::{self, SubmissionInfo};
use crate::{Outcome, StoreError, Workspace, io, now, private, staging};

impl Workspace {
    /// Ingests `file` through the mapping at `mapping_path`.
    pub fn submit(
        &self,
        mapping_path: &Path,
        file: &Path,
        replace: bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Outcome, StoreError> {
        let checked = CheckedMapping::load(mapping_path)?;
        let source = checked.source.as_str();
        let file_name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _lock = self.lock()?;
        let catalog = self.catalog()?;
        self.recover(&catalog)?;
        let incoming = Incoming {
            source,
            file,
            file_name: &file_name,
            mapping_sha: &checked.sha,
            replace,
        };
        let early = match incoming.settle_by_name(&catalog)? {
            ByName::Current(submission) => {
                return Ok(Outcome::AlreadyIngested {
                    submission: *submission,
                });
            }
            ByName::Known(sha, superseded) => Some((sha, superseded)),
            ByName::Unknown => None,
        };
        checked.fits_source(&catalog)?;
        let id = new_submission_id();
        let stage_dir = self.root.join("staging").join(&id);
        // Whatever this submission wrote goes again unless it commits: no
        // stray parts, quarantine or report are left for the next ingest.
        let mut leftovers = Leftovers {
            paths: vec![stage_dir.clone()],
        };
        let stage = staging::Staging::create(&stage_dir, checked.record_type)?;
        let staged = self.ingest_into(
            &stage,
            &stage_dir,
            &checked,
            file,
            &id,
            early.is_none(),
            progress,
        )?;
        let (file_sha, superseded) = match early {
            Some(early) => early,
            None => {
                let sha = staged.sha(file)?;
                match incoming.settle(&catalog, &sha)? {
                    // The same content under another name; what was staged goes.
                    Settled::Current(submission) => {
                        return Ok(Outcome::AlreadyIngested {
                            submission: *submission,
                        });
                    }
                    Settled::Supersedes(superseded) => (sha, superseded),
                }
            }
        };
        let report = staged.report;
        let placed = self.place(&stage, &checked, &id, &report, &mut leftovers)?;
        let info = SubmissionInfo {
            id: id.clone(),
            seq: 0,
            source: source.to_string(),
            record_type: checked.record_type.name().to_string(),
            file_name,
            file_sha256: file_sha,
            mapping_sha256: checked.sha.clone(),
            rows_read: report.rows_read,
            rows_stored: report.stored,
            rows_quarantined: report.quarantined,
            data_path: placed.data_rel.to_string_lossy().into_owned(),
            quarantine_path: placed.quarantine_rel.to_string_lossy().into_owned(),
            committed_at: now(),
            status: "current".into(),
        };
        let info = catalog.commit(
            &info,
            checked.mapping.description.as_deref(),
            &superseded,
            &placed.report_json,
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

    /// Ingests the file into staging. The file's SHA-256 is taken on the
    /// way when `needs_sha`: a CSV or NDJSON reader hashes the file as it
    /// reads it; any other file is hashed by a thread of its own meanwhile.
    #[allow(clippy::too_many_arguments)]
    fn ingest_into(
        &self,
        stage: &staging::Staging,
        stage_dir: &Path,
        checked: &CheckedMapping,
        file: &Path,
        id: &str,
        needs_sha: bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Staged, StoreError> {
        let key = self.pseudonymiser()?;
        let mut sink = stage.sink();
        let sub = corridor_ingest::Submission {
            scratch: Some(stage_dir),
            file,
            source_id: &checked.source,
            submission_id: id,
        };
        let stop = AtomicBool::new(false);
        let hashed_by_reader =
            corridor_ingest::read::hashes_while_reading(file, &checked.mapping.reader);
        let (report, thread_sha) = std::thread::scope(|scope| {
            let thread_sha = (needs_sha && !hashed_by_reader)
                .then(|| scope.spawn(|| sha256_file_unless(file, &stop)));
            let report = corridor_ingest::ingest(&checked.mapping, &sub, &key, &mut sink, progress);
            // A file that failed needs no digest: do not make its error wait.
            if report.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            let thread_sha = thread_sha.map(|thread| {
                thread.join().unwrap_or_else(|_| {
                    Err(StoreError::Workspace(format!(
                        "{}: hashing the file failed",
                        file.display()
                    )))
                })
            });
            (report, thread_sha)
        });
        let report = report
            .map_err(StoreError::from)
            .and_then(|r| sink.finish().map(|()| r))
            .map_err(|e| disk_full(e, stage_dir, file))?;
        let thread_sha = thread_sha.transpose()?;
        Ok(Staged { report, thread_sha })
    }

    /// Moves the staged parts and quarantine into place (invisible until
    /// the catalog says so) and writes the report; each path is listed in
    /// `leftovers` before it is written.
    fn place(
        &self,
        stage: &staging::Staging,
        checked: &CheckedMapping,
        id: &str,
        report: &Report,
        leftovers: &mut Leftovers,
    ) -> Result<Placed, StoreError> {
        let source = &checked.source;
        let data_rel = PathBuf::from("data")
            .join(checked.record_type.name())
            .join(format!("source={source}"))
            .join(format!("submission={id}"));
        let quarantine_rel = PathBuf::from("quarantine")
            .join(source)
            .join(format!("{id}.csv"));
        let report_rel = PathBuf::from("reports").join(format!("{id}.json"));
        leftovers.paths.push(self.root.join(&data_rel));
        leftovers.paths.push(self.root.join(&quarantine_rel));
        stage.place(&self.root, &data_rel, &quarantine_rel)?;
        let report_json = serde_json::to_string_pretty(report).unwrap_or_default();
        let report_path = self.root.join(&report_rel);
        leftovers.paths.push(report_path.clone());
        private::write(&report_path, report_json.as_bytes()).map_err(io(&report_path))?;
        Ok(Placed {
            data_rel,
            quarantine_rel,
            report_json,
        })
    }
}

/// A mapping file that names a record type and a usable source.
pub(crate) struct CheckedMapping {
    mapping: Mapping,
    sha: String,
    pub(crate) record_type: RecordType,
    pub(crate) source: String,
}

impl CheckedMapping {
    pub(crate) fn load(path: &Path) -> Result<CheckedMapping, StoreError> {
        let (mapping, sha) = Mapping::load(path)?;
        let record_type = mapping
            .record_type()
            .map_err(|m| StoreError::Workspace(format!("{}: {m}", path.display())))?;
        let source = mapping.source_name().to_string();
        if !source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(StoreError::Workspace(format!(
                "source name '{source}' may only use letters, digits, '-', '_' and '.'"
            )));
        }
        Ok(CheckedMapping {
            mapping,
            sha,
            record_type,
            source,
        })
    }

    /// A source holds one record type.
    pub(crate) fn fits_source(&self, catalog: &catalog::Catalog) -> Result<(), StoreError> {
        match catalog.source_type(&self.source)? {
            Some(t) if t != self.record_type.name() => Err(StoreError::Workspace(format!(
                "source '{}' holds {t}, not {}",
                self.source,
                self.record_type.name()
            ))),
            _ => Ok(()),
        }
    }
}

/// What ingesting into staging gave.
struct Staged {
    report: Report,
    /// The SHA-256 a thread took while the rows were read.
    thread_sha: Option<String>,
}

impl Staged {
    /// The file's SHA-256: from the hashing thread, else from the reader,
    /// else read once more.
    fn sha(&self, file: &Path) -> Result<String, StoreError> {
        match (&self.thread_sha, &self.report.file_sha256) {
            (Some(sha), _) | (None, Some(sha)) => Ok(sha.clone()),
            (None, None) => sha256_file(file),
        }
    }
}

/// Where a submission's files were placed, relative to the workspace.
struct Placed {
    data_rel: PathBuf,
    quarantine_rel: PathBuf,
    report_json: String,
}

/// What a file's name settles before it is read.
enum ByName {
    /// The same file with the same mapping is current: a no-op.
    Current(Box<SubmissionInfo>),
    /// Named like a current submission: its SHA-256 and what it supersedes.
    Known(String, Vec<String>),
    /// A new name: the file is hashed while it is ingested and checked
    /// before commit.
    Unknown,
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
    /// A file named like a current submission is most likely that file
    /// again: its SHA-256 decides first whether there is anything to do.
    fn settle_by_name(&self, catalog: &catalog::Catalog) -> Result<ByName, StoreError> {
        if catalog
            .current_for_file(self.source, self.file_name, None)?
            .is_empty()
        {
            return Ok(ByName::Unknown);
        }
        let sha = sha256_file(self.file)?;
        Ok(match self.settle(catalog, &sha)? {
            Settled::Current(submission) => ByName::Current(submission),
            Settled::Supersedes(superseded) => ByName::Known(sha, superseded),
        })
    }

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
