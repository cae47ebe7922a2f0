//! The synchronisation policy: how a device buffer is made safe to read before MPI reads it
//! (see [`sync`](crate::sync) for the hooks and the wait itself). A leaf module: the views
//! carry a policy, and the synchronisation reads views.

use std::sync::atomic::{AtomicU8, Ordering};

/// How a device buffer is synchronised before MPI reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyncPolicy {
    /// Wait for the work queued on the buffer's stream (the default).
    Stream,
    /// Wait for all work on the buffer's device (`cuCtxSynchronize`).
    Device,
    /// Do nothing: the caller has synchronised.
    Trust,
}

/// [`sync_policy`] not chosen yet: `MPI4RS_SYNC` decides on first use.
const UNSET: u8 = u8::MAX;
static POLICY: AtomicU8 = AtomicU8::new(UNSET);

impl SyncPolicy {
    const fn code(self) -> u8 {
        match self {
            SyncPolicy::Stream => 0,
            SyncPolicy::Device => 1,
            SyncPolicy::Trust => 2,
        }
    }

    /// What [`SyncPolicy::parse`] takes (for the error about a bad `MPI4RS_SYNC`).
    pub const EXPECTED: &'static str = "stream, device or trust";

    /// Parses `stream`, `device` or `trust` (the values of `MPI4RS_SYNC`).
    pub fn parse(s: &str) -> Option<SyncPolicy> {
        match s.trim().to_ascii_lowercase().as_str() {
            "stream" => Some(SyncPolicy::Stream),
            "device" => Some(SyncPolicy::Device),
            "trust" | "none" => Some(SyncPolicy::Trust),
            _ => None,
        }
    }
}

/// Sets the global synchronisation policy, overriding `MPI4RS_SYNC`.
pub fn set_sync_policy(policy: SyncPolicy) {
    POLICY.store(policy.code(), Ordering::Relaxed);
}

/// The global synchronisation policy: the one set by [`set_sync_policy`], else `MPI4RS_SYNC`
/// (`stream`, `device` or `trust`, read on first use; a value that does not parse counts as
/// unset here, and mpi4rs refuses it at `init`), else [`SyncPolicy::Stream`].
pub fn sync_policy() -> SyncPolicy {
    let mut code = POLICY.load(Ordering::Relaxed);
    if code == UNSET {
        let from_env = crate::env::read("MPI4RS_SYNC", |var, v| {
            crate::env::parse_with(var, v, SyncPolicy::EXPECTED, SyncPolicy::parse)
        });
        let policy = from_env.ok().flatten().unwrap_or(SyncPolicy::Stream);
        // A concurrent set_sync_policy wins over the environment.
        code = match POLICY.compare_exchange(UNSET, policy.code(), Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => policy.code(),
            Err(set) => set,
        };
    }
    match code {
        1 => SyncPolicy::Device,
        2 => SyncPolicy::Trust,
        _ => SyncPolicy::Stream,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_round_trip_and_parse() {
        assert_eq!(SyncPolicy::parse("Device"), Some(SyncPolicy::Device));
        assert_eq!(SyncPolicy::parse("nonsense"), None);
        assert_eq!(sync_policy(), SyncPolicy::Stream);
    }
}
