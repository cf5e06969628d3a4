//! Which process drains: the holder of the lease in the shared file, won
//! with the help of an exclusive `flock` on `<shared file>.leader` (the
//! protocol is in [`crate::store::leader`]).
//!
//! Every instance runs a candidate thread that calls [`lead`], which
//! returns once this process leads. The kernel grants the lock to one
//! process and releases it when its holder exits *for any reason*, SIGKILL
//! included: the next candidate sees it within a poll (10 ms) and takes
//! over at once. A leader that is frozen (SIGSTOP, a paused container, a
//! debugger) keeps its lock but stops renewing its lease: a candidate takes
//! over when the lease lapses (1 s), under a new epoch that fences every
//! write the frozen one could still make, so when it wakes it writes
//! nothing, steps down and stands again. Its successor finishes what was
//! left in flight, resolving each payment at the processor it was sent to
//! (see [`crate::drain::drainer`]).

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
