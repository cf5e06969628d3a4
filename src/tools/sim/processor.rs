//! One payment processor on the virtual clock, as the official one and
//! `rinha processor` behave (src/tools/emulator/routes.rs and gate.rs).
//!
//! `POST /payments`: at most [`MAX_ACTIVE`] requests at work at once and
//! [`MAX_WAITING`] more queued for a place; beyond that, 429 at once. A
//! request that gets its place reads the delay configured *at that moment*
//! and works for that long; then it reads the failure flag *at that
//! moment* (a failure switched on during the delay applies): failing, it
//! answers 500 and stores nothing; else it stores the payment with the
//! stamp it carried (422 if the id is already stored) and answers 200. A
//! request whose client gave up is still processed to the end, as on a
//! real server. `GET /payments/{id}` is neither limited nor delayed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::timeline::Setting;

/// Requests at work at once (the emulator's `gate::MAX_ACTIVE`).
pub const MAX_ACTIVE: usize = 800;
/// Requests waiting for a place before the next gets 429 (the emulator's
/// `gate::MAX_WAITING`).
pub const MAX_WAITING: usize = 500;

/// A `POST /payments` as the processor receives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Post {
    /// The drainer's request id (the router's and the pool's).
    pub request: u64,
    /// The payment's index in arrival order (its correlation id).
    pub payment: u32,
    /// Its `requestedAt`, virtual ms.
    pub stamp: u64,
}

/// How a `POST /payments` ended at the processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reply {
    /// 200: stored now.
    Stored,
    /// 422: this id was already stored.
    Duplicate,
    /// 500: failing, nothing stored.
    Failed,
    /// 429: no place at work nor in the queue.
    Busy,
}

/// A payment the processor holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The `requestedAt` it stored.
    pub stamp: u64,
    /// When it stored it, virtual ms.
    pub at: u64,
}

/// One processor's state; see the module docs.
#[derive(Debug)]
pub struct ProcessorModel {
    /// Requests at work: (done at ms, order of admission, the post).
    working: BinaryHeap<Reverse<(u64, u64, Post)>>,
    /// Requests waiting for a place, first come first served.
    waiting: VecDeque<Post>,
    admitted: u64,
    /// What it stored, by payment index.
    stored: Vec<Option<Stored>>,
}

impl Ord for Post {
    fn cmp(&self, other: &Post) -> std::cmp::Ordering {
        self.request.cmp(&other.request)
    }
}

impl PartialOrd for Post {
    fn partial_cmp(&self, other: &Post) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl ProcessorModel {
    /// An idle processor that stores nothing yet.
    pub fn new() -> ProcessorModel {
        ProcessorModel {
            working: BinaryHeap::new(),
            waiting: VecDeque::new(),
            admitted: 0,
            stored: Vec::new(),
        }
    }

    /// A request arrives at `now`, when the processor is set to `setting`:
    /// `Some(Reply::Busy)` if it is refused at once, else `None` (it is at
    /// work or queued; its reply comes from [`ProcessorModel::advance`]).
    pub fn post(&mut self, post: Post, now: u64, setting: Setting) -> Option<Reply> {
        if self.working.len() < MAX_ACTIVE {
            self.admit(post, now, setting);
            None
        } else if self.waiting.len() < MAX_WAITING {
            self.waiting.push_back(post);
            None
        } else {
            Some(Reply::Busy)
        }
    }

    fn admit(&mut self, post: Post, now: u64, setting: Setting) {
        self.admitted += 1;
        let done = now + u64::from(setting.delay_ms);
        self.working.push(Reverse((done, self.admitted, post)));
    }

    /// Finishes every request done by `now`, in time order, calling
    /// `reply(at, post, reply)` for each; `setting_at(ms)` is the
    /// processor's configuration at `ms`. A freed place goes to the first
    /// waiting request at the moment it frees.
    pub fn advance(
        &mut self,
        now: u64,
        setting_at: impl Fn(u64) -> Setting,
        mut reply: impl FnMut(u64, Post, Reply),
    ) {
        while let Some(&Reverse((done, _, post))) = self.working.peek() {
            if done > now {
                return;
            }
            self.working.pop();
            reply(done, post, self.finish(post, done, setting_at(done)));
            if let Some(next) = self.waiting.pop_front() {
                self.admit(next, done, setting_at(done));
            }
        }
    }

    fn finish(&mut self, post: Post, at: u64, setting: Setting) -> Reply {
        if setting.failing {
            return Reply::Failed;
        }
        let index = post.payment as usize;
        if self.stored.len() <= index {
            self.stored.resize(index + 1, None);
        }
        match self.stored[index] {
            Some(_) => Reply::Duplicate,
            None => {
                self.stored[index] = Some(Stored {
                    stamp: post.stamp,
                    at,
                });
                Reply::Stored
            }
        }
    }

    /// `GET /payments/{id}`: what it stored under `payment`, if anything.
    pub fn lookup(&self, payment: u32) -> Option<Stored> {
        self.stored.get(payment as usize).copied().flatten()
    }

    /// Everything it stored, in payment order.
    pub fn stored(&self) -> impl Iterator<Item = Stored> + '_ {
        self.stored.iter().flatten().copied()
    }

    /// Requests at work and waiting.
    pub fn load(&self) -> (usize, usize) {
        (self.working.len(), self.waiting.len())
    }
}

impl Default for ProcessorModel {
    fn default() -> ProcessorModel {
        ProcessorModel::new()
    }
}

#[cfg(test)]
mod tests;
