//! Scratch folders for tests that generate worlds.
//!
//! A test binary keeps its generated world in a static for all its tests,
//! and statics are never dropped, so the folder outlives the process. Each
//! new folder therefore sweeps away the folders of test processes that have
//! ended, instead of leaving gigabytes in the temp folder run after run.

use std::path::PathBuf;

/// `<temp>/corridor-test-<name>-<pid>`, emptied; folders of the same form
/// whose process has ended are removed first (on systems with `/proc`).
pub fn scratch_dir(name: &str) -> PathBuf {
    let temp = std::env::temp_dir();
    let proc = std::path::Path::new("/proc");
    if proc.is_dir()
        && let Ok(entries) = std::fs::read_dir(&temp)
    {
        for entry in entries.flatten() {
            let file = entry.file_name();
            let Some(file) = file.to_str() else { continue };
            let Some(rest) = file.strip_prefix("corridor-test-") else {
                continue;
            };
            let Some((_, pid)) = rest.rsplit_once('-') else {
                continue;
            };
            if !pid.is_empty()
                && pid.bytes().all(|b| b.is_ascii_digit())
                && !proc.join(pid).exists()
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = temp.join(format!("corridor-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[cfg(test)]
mod tests {
    #[test]
    fn folders_of_ended_processes_are_swept() {
        // Process ids are far below this on every system.
        let dead = std::env::temp_dir().join("corridor-test-sweep-4000000000");
        std::fs::create_dir_all(&dead).expect("create");
        let mine = super::scratch_dir("sweep");
        assert!(!dead.exists(), "a dead process's folder is removed");
        assert!(mine.ends_with(format!("corridor-test-sweep-{}", std::process::id())));
    }
}
