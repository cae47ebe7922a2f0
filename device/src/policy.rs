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

static POLICY: AtomicU8 = AtomicU8::new(0);

impl SyncPolicy {
    const fn code(self) -> u8 {
        match self {
            SyncPolicy::Stream => 0,
            SyncPolicy::Device => 1,
            SyncPolicy::Trust => 2,
        }
    }

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

/// Sets the global synchronisation policy (the MPI layer also reads `MPI4RS_SYNC` at
/// initialisation).
pub fn set_sync_policy(policy: SyncPolicy) {
    POLICY.store(policy.code(), Ordering::Relaxed);
}

/// The global synchronisation policy.
pub fn sync_policy() -> SyncPolicy {
    match POLICY.load(Ordering::Relaxed) {
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
