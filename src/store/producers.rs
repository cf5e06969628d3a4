//! Who may still be writing into the ring: one *producer id* per open
//! [`crate::store::shared_file::SharedFile`], held as an exclusive `flock`
//! on `<shared file>.producer-<id>` for as long as that handle lives.
//!
//! A producer tags the ring slot it claims with its id (see
//! [`crate::store::ring`]). When the leader gives up on a claim that was
//! never published, it must know whether that producer could still write
//! into the slot late: it asks the kernel, by trying the producer's lock.
//!
//! Why a lock and not a pid: every container has its own pid namespace, so
//! a pid read from the shared file means nothing in another container, and
//! pids are reused. The kernel releases a `flock` when the last descriptor
//! of its open file description closes; at process exit that happens in
//! `exit_files`, after `exit_mm` has torn the address space down, so once
//! the lock is free the holder can never store another byte into the
//! mapping. (A lock file can also be released by dropping the handle, in
//! tests; the handle's ring views borrow it, so none outlives it.)
//!
//! Ids are reused: the next handle to take id `i` first clears every slot
//! still tagged `i` ([`crate::store::ring::Ring::release_claims_of`]): they
//! belong to a holder that is gone, and nobody else would ever clear them.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// Ids run from 1 to this; 0 tags a slot that nobody owns.
pub const MAX_PRODUCERS: u8 = 255;

/// Answers "could producer `id` still store into the mapping?".
///
/// `true` is always the safe answer: it only delays reusing a slot.
pub trait Liveness {
    /// Whether the holder of `id` may still be running.
    fn may_still_write(&self, id: u8) -> bool;
}

/// Any `Fn(u8) -> bool` is a liveness oracle; the ring's unit tests, which
/// run on heap memory (under miri too), use one instead of lock files.
impl<F: Fn(u8) -> bool> Liveness for F {
    fn may_still_write(&self, id: u8) -> bool {
        self(id)
    }
}

/// This handle's producer id and the lock that proves it is alive.
#[derive(Debug)]
pub struct Producers {
    shared_file: PathBuf,
    id: u8,
    /// Held locked for the life of the handle; never read.
    _lock: File,
}

/// `<shared file>.producer-<id>`, next to the shared file (and to its
/// `.leader` lock), so every container that mounts the file sees it.
pub fn lock_path(shared_file: &Path, id: u8) -> PathBuf {
    let mut name = shared_file.as_os_str().to_owned();
    name.push(format!(".producer-{id}"));
    PathBuf::from(name)
}

impl Producers {
    /// Takes the lowest free id: the first lock file not held by anyone.
    pub fn register(shared_file: &Path) -> io::Result<Producers> {
        for id in 1..=MAX_PRODUCERS {
            let lock = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(lock_path(shared_file, id))?;
            match lock.try_lock() {
                Ok(()) => {
                    return Ok(Producers {
                        shared_file: shared_file.to_path_buf(),
                        id,
                        _lock: lock,
                    });
                }
                Err(TryLockError::WouldBlock) => continue,
                Err(TryLockError::Error(error)) => return Err(error),
            }
        }
        Err(io::Error::other(format!(
            "all {MAX_PRODUCERS} producer ids of {} are held by live processes",
            shared_file.display()
        )))
    }

    /// This handle's id, 1 to [`MAX_PRODUCERS`].
    pub fn id(&self) -> u8 {
        self.id
    }
}

impl Liveness for Producers {
    /// Tries the producer's lock: if we get it, its holder is gone (and
    /// while we hold it for this instant, nobody can take that id). Any
    /// doubt (the file cannot be opened) answers `true`, the safe side.
    fn may_still_write(&self, id: u8) -> bool {
        if id == self.id {
            return true;
        }
        let Ok(file) = File::open(lock_path(&self.shared_file, id)) else {
            return true;
        };
        // Dropping `file` right after releases the lock if we took it.
        !matches!(file.try_lock(), Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_while_held_and_reused_once_released() {
        let dir = crate::store::test_support::TempDir::new("producers");
        let file = dir.file("shared.bin");
        let first = Producers::register(&file).unwrap();
        let second = Producers::register(&file).unwrap();
        assert_ne!(first.id(), second.id());
        assert!(first.may_still_write(second.id()));
        assert!(second.may_still_write(first.id()));
        assert!(first.may_still_write(first.id()));
        let gone = second.id();
        drop(second);
        assert!(!first.may_still_write(gone), "its lock was released");
        assert!(first.may_still_write(200), "no such file: unknown is alive");
        let third = Producers::register(&file).unwrap();
        assert_eq!(third.id(), gone, "the lowest free id is taken again");
        assert!(first.may_still_write(gone));
    }
}
