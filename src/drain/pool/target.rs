//! Where one processor is reached: its configured `host:port`, and the
//! address it resolved to last.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Where one processor is reached.
pub struct Target {
    /// `host:port` as configured, for resolving and the `Host` header.
    pub authority: String,
    /// The address in use; resolved again after a failed connection.
    pub address: Option<SocketAddr>,
    /// When it was last resolved (at most once a second).
    resolved_at: Option<Instant>,
}

impl Target {
    /// The processor at `base_url` (`http://host:port`), resolved now.
    pub fn new(base_url: &str) -> Target {
        let authority = base_url
            .trim_end_matches('/')
            .strip_prefix("http://")
            .unwrap_or(base_url)
            .to_string();
        let mut target = Target {
            authority,
            address: None,
            resolved_at: None,
        };
        target.resolve(Instant::now());
        target
    }

    /// Resolves the name again, unless that was done within a second.
    pub fn resolve(&mut self, now: Instant) {
        let recent = self
            .resolved_at
            .is_some_and(|at| now.saturating_duration_since(at) < Duration::from_secs(1));
        if recent {
            return;
        }
        self.resolved_at = Some(now);
        // A blocking look-up, but of a name on the same Docker network (or
        // an IP literal), once a second at most: microseconds.
        if let Ok(mut addresses) = self.authority.to_socket_addrs()
            && let Some(address) = addresses.next()
        {
            self.address = Some(address);
        }
    }
}
