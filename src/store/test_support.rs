//! Throwaway shared files for tests and benches: the one helper every test
//! and bench uses, so each gets a fresh directory that is removed after it.
//!
//! Built only for the library's own tests and with the `test-support`
//! feature (on for integration tests and benches, off in release builds;
//! see `Cargo.toml`).

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::Capacities;
use crate::store::shared_file::SharedFile;

/// A fresh, empty directory, removed with everything in it on drop.
///
/// It is on `/dev/shm` when there is one: in the contest the shared file
/// lives on a tmpfs volume, and a disk-backed file would add writeback that
/// production never pays (benches measure through it).
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A new directory; `name` says whose it is when one is left behind (a
    /// test killed before its drop), and a per-process counter keeps two
    /// directories of one name apart.
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        // Relaxed: only uniqueness matters.
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let path = base.join(format!("rinha-{name}-{}-{n}", std::process::id()));
        // A directory of this name can only be a leftover of a dead process
        // that had our pid: start empty.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` inside it (not created).
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A shared file of its own in a [`TempDir`], created with the given
/// capacities; dereferences to the [`SharedFile`]. The file is unmapped,
/// then its directory (with the lock files next to it) removed, on drop.
pub struct TempStore {
    // Declared before `dir`, so it is unmapped (and its producer lock
    // released) before the directory goes.
    shared: SharedFile,
    path: PathBuf,
    dir: TempDir,
}

impl TempStore {
    /// Creates `shared.bin` in a new [`TempDir`] named after `name`.
    pub fn new(name: &str, capacities: Capacities) -> TempStore {
        let dir = TempDir::new(name);
        let path = dir.file("shared.bin");
        let shared = SharedFile::open_or_create(&path, capacities)
            .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempStore { shared, path, dir }
    }

    /// The file, for another handle on it (a second open, a child process).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its directory, for files that belong next to it.
    pub fn dir(&self) -> &TempDir {
        &self.dir
    }
}

impl Deref for TempStore {
    type Target = SharedFile;

    fn deref(&self) -> &SharedFile {
        &self.shared
    }
}
