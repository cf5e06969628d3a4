//! Which process drains: the holder of an exclusive `flock` on
//! `<shared file>.leader`.
//!
//! Every instance runs a candidate thread that blocks in `flock(LOCK_EX)`.
//! The kernel grants the lock to exactly one of them and releases it when
//! its holder exits *for any reason*, SIGKILL included, waking the next
//! candidate at once: a takeover costs a context switch, not a timeout.
//! The new leader then finishes what its predecessor left in flight (see
//! [`crate::drain::drainer`]).
//!
//! A leader that is frozen (SIGSTOP, a debugger) keeps its lock: draining
//! pauses, accepted payments wait in the ring (up to its capacity, then
//! 503), and nothing is sent twice, because no other process may drain
//! meanwhile. When it resumes it carries on; if it is killed instead, the
//! next candidate takes over. A lease that expired on a timer would let a
//! resumed leader and its successor send the same payment concurrently;
//! pausing is the price of never paying twice.

use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;

use crate::config::ApiConfig;
use crate::domain::time::now_millis;
use crate::drain::drainer;
use crate::store::shared_file::SharedFile;

/// The lock file that elects the drainer, next to the shared file.
pub fn lock_path(shared_file: &Path) -> PathBuf {
    let mut name = shared_file.as_os_str().to_owned();
    name.push(".leader");
    PathBuf::from(name)
}

/// Starts this process's candidate thread: it waits for the lock, then
/// drains for as long as the process lives.
pub fn spawn_candidate(shared: Arc<SharedFile>, config: &ApiConfig) -> io::Result<()> {
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(&config.shared_file))?;
    let config = config.clone();
    thread::Builder::new()
        .name("candidate".into())
        .spawn(move || {
            if let Err(error) = lock.lock() {
                crate::log!("rinha api: cannot stand for election: {error}");
                return;
            }
            shared.set_leader(std::process::id().into(), now_millis() as u64);
            crate::log!("rinha api (pid {}): elected to drain", std::process::id());
            // `lock` lives on this thread's stack for as long as `run` does:
            // forever, so the lock is released only when the process ends.
            drainer::run(shared, &config);
        })?;
    Ok(())
}
