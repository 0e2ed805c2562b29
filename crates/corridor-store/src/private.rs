//! Files and folders only the workspace's owner can read.
//!
//! Parts, quarantine files and reports hold record-level data (dates of
//! birth, sex, nationality): they are created mode 0600 in folders of mode
//! 0700, whatever the process's umask, so that another account on the
//! machine cannot read them.

use std::fs::{self, File, OpenOptions};
use std::path::Path;

/// Creates `path` and any missing parents, each mode 0700.
pub(crate) fn create_dir_all(path: &Path) -> std::io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
}

/// Creates (or truncates) a file of mode 0600 for writing.
pub(crate) fn create_file(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// Writes `bytes` to a new file of mode 0600.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    create_file(path)?.write_all(bytes)
}
