//! Which process drains: the holder of an exclusive `flock` on
//! `<shared file>.leader` (see [`crate::store::leader`]).
//!
//! Every instance runs a candidate thread that calls [`lead`], which blocks
//! until the kernel grants this process the lock. The kernel grants it to
//! exactly one process and releases it when its holder exits *for any
//! reason*, SIGKILL included, waking the next candidate at once: a takeover
//! costs a context switch, not a timeout. The new leader then finishes what
//! its predecessor left in flight (see [`crate::drain::drainer`]).
//!
//! A leader that is frozen (SIGSTOP, a debugger) keeps its lock: draining
//! pauses, accepted payments wait in the ring (up to its capacity, then
//! 503), and nothing is sent twice, because no other process may drain
//! meanwhile. When it resumes it carries on; if it is killed instead, the
//! next candidate takes over.

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::domain::time::now_millis;
use crate::drain::drainer::ABANDON_AFTER;
use crate::store::Leader;
use crate::store::shared_file::SharedFile;

/// Stands for election on the file at `path`: blocks until this process
/// leads, then says so in the file and the log.
pub fn lead(shared: &Arc<SharedFile>, path: &Path) -> io::Result<Leader> {
    let leader = Leader::elect(shared.clone(), path, ABANDON_AFTER)?;
    shared.set_leader(std::process::id().into(), now_millis() as u64);
    crate::log!("rinha api (pid {}): elected to drain", std::process::id());
    Ok(leader)
}
