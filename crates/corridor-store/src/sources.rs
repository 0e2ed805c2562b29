//! A source's registered mapping and the uploads made to it: what lets
//! files arrive from elsewhere than the owner's console (an HTTP upload)
//! and still go through the mapping the workspace's owner chose.
//!
//! A mapping is registered by copying it to `WS/mappings/<source>.mapping.toml`
//! after the checks a submission makes; an upload is written to a private
//! folder of its own under `WS/uploads/`, which goes when the upload is
//! done with, stored or not: a raw file never outlives its submission.

use std::fs;
use std::path::{Path, PathBuf};

use crate::catalog::SubmissionInfo;
use crate::submit::CheckedMapping;
use crate::{StoreError, Workspace, io, private};

const MAPPINGS: &str = "mappings";
const UPLOADS: &str = "uploads";

/// A mapping the workspace keeps for a source.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RegisteredMapping {
    pub source: String,
    pub record_type: String,
    /// Inside the workspace.
    pub path: PathBuf,
}

/// A private folder for one upload, removed with everything in it when
/// dropped.
#[derive(Debug)]
pub struct Upload {
    dir: PathBuf,
}

impl Upload {
    /// Where the file named `file_name` (a bare name, checked by
    /// [`upload_file_name`]) goes.
    pub fn path(&self, file_name: &str) -> PathBuf {
        self.dir.join(file_name)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A file name an upload may take: a bare name of letters, digits, spaces,
/// `.`, `-` and `_`, with an extension (the reader goes by it), not
/// starting with a dot.
pub fn upload_file_name(name: &str) -> Result<&str, StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name.contains('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '-' | '_'));
    if ok {
        Ok(name)
    } else {
        Err(StoreError::Workspace(format!(
            "file name `{}`: give the file's own name, such as arrivals_2024.csv (letters, digits, spaces, `.`, `-`, `_`, with its extension)",
            corridor_model::for_display(name, 80).bare()
        )))
    }
}

fn source_name_ok(source: &str) -> bool {
    !source.is_empty()
        && source.len() <= 128
        && !source.starts_with('.')
        && source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Workspace {
    /// Checks the mapping at `path` as a submission would, and keeps a
    /// copy as its source's registered mapping (replacing any before).
    pub fn register_mapping(&self, path: &Path) -> Result<RegisteredMapping, StoreError> {
        let checked = CheckedMapping::load(path)?;
        {
            let _lock = self.lock()?;
            checked.fits_source(&self.catalog()?)?;
        }
        let dir = self.root.join(MAPPINGS);
        private::create_dir_all(&dir).map_err(io(&dir))?;
        let target = dir.join(format!("{}.mapping.toml", checked.source));
        let text = fs::read(path).map_err(io(path))?;
        let tmp = dir.join(format!(".{}.tmp", checked.source));
        private::write(&tmp, &text).map_err(io(&tmp))?;
        fs::rename(&tmp, &target).map_err(io(&target))?;
        Ok(RegisteredMapping {
            source: checked.source.clone(),
            record_type: checked.record_type.name().to_string(),
            path: target,
        })
    }

    /// The registered mapping of `source`, if it has one.
    pub fn mapping_of(&self, source: &str) -> Option<PathBuf> {
        if !source_name_ok(source) {
            return None;
        }
        let p = self
            .root
            .join(MAPPINGS)
            .join(format!("{source}.mapping.toml"));
        p.is_file().then_some(p)
    }

    /// Every registered mapping's source, by name.
    pub fn registered_sources(&self) -> Vec<String> {
        let mut out: Vec<String> = fs::read_dir(self.root.join(MAPPINGS))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".mapping.toml"))
                    .filter(|s| source_name_ok(s))
                    .map(str::to_string)
            })
            .collect();
        out.sort();
        out
    }

    /// A new private folder for one upload.
    pub fn new_upload(&self) -> Result<Upload, StoreError> {
        let mut r = [0u8; 12];
        getrandom::fill(&mut r)
            .map_err(|e| StoreError::Workspace(format!("no randomness: {e}")))?;
        let dir = self.root.join(UPLOADS).join(hex::encode(r));
        private::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(Upload { dir })
    }

    /// Removes what uploads cut short by a crash left behind: raw files
    /// must not outlive their upload. Call it before accepting uploads.
    pub fn clear_uploads(&self) -> Result<(), StoreError> {
        let dir = self.root.join(UPLOADS);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&dir)(e)),
        }
    }

    /// One submission with its intake report (JSON), if it exists.
    pub fn submission(&self, id: &str) -> Result<Option<(SubmissionInfo, String)>, StoreError> {
        self.catalog()?.submission(id)
    }

    /// Every submission, oldest first.
    pub fn submissions(&self) -> Result<Vec<SubmissionInfo>, StoreError> {
        self.catalog()?.submissions()
    }
}
