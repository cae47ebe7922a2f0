//! Synchronisation of a window: the epochs opened by [`Win::fence`], [`Win::start`] (with
//! [`Win::post`] on the targets), [`Win::lock`] and [`Win::lock_all`], the flushes of
//! passive-target epochs, and the guard of local access.
//!
//! Each window tracks its epochs on this process, so that misuse MPI libraries report
//! differently (or not at all) is the same [`Error::RmaSync`] everywhere: a fence while a lock
//! is held, a second lock of the same rank, an operation at a rank the epoch does not cover, a
//! flush outside a passive-target epoch, a request-based operation outside one.
//!
//! Access epochs live in a [`Scope`]: the origin buffers of their operations are borrowed for
//! the scope's lifetime, and the epoch's closing synchronisation is a closing step of the
//! scope, run early by [`Epoch::end`] or drop, and by the scope itself if the epoch was
//! forgotten (see the [window module's safety design](crate::win)).
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::win::{Assert, Win};
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let (me, n) = (world.rank(), world.size());
//! let win = Win::allocate(8, 8, &[], world)?;
//! let mut got = [0u64];
//! mpi4rs::scope(|s| {
//!     let epoch = win.fence(s, Assert::NONE)?;
//!     epoch.get(&mut got, (me + 1) % n, 0)?;
//!     std::mem::forget(epoch); // harmless: the scope ends the epoch before `got` is free
//!     Ok(())
//! })?;
//! # Ok::<(), mpi4rs::Error>(())
//! ```

use super::{Core, Win};
use crate::error::{mpi_call, Error, Result};
use crate::ffi;
use crate::group::Group;
use crate::runtime::is_active;
use crate::scope::{Scope, ScopeCore};
use crate::transfer::stage::Transfer;
use std::cell::RefCell;
use std::ffi::c_int;
use std::marker::PhantomData;
use std::rc::Rc;

/// Assertions that let MPI optimise a synchronisation call (`MPI_MODE_*`); combine with `|`.
///
/// `NOCHECK`, `NOPRECEDE` and `NOSUCCEED` are promises about other calls that MPI does not
/// verify, and a false one lets MPI touch memory nobody lends it any more: the safe
/// synchronisation calls refuse them, their `unsafe` `*_unchecked` twins take them.
/// `NOSTORE` and `NOPUT` are accepted everywhere: a false one can only leave stale bytes in
/// the window, whose memory is only ever seen as plain numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Assert(u8);

impl Assert {
    /// No assertion (0).
    pub const NONE: Assert = Assert(0);
    /// `MPI_MODE_NOCHECK`: no conflicting lock or matching post is outstanding (start, post,
    /// lock, lock_all).
    pub const NOCHECK: Assert = Assert(1);
    /// `MPI_MODE_NOSTORE`: the local window was not updated by stores since the last
    /// synchronisation (fence, post).
    pub const NOSTORE: Assert = Assert(2);
    /// `MPI_MODE_NOPUT`: the local window will not be updated by puts or accumulates until the
    /// next synchronisation (fence, post).
    pub const NOPUT: Assert = Assert(4);
    /// `MPI_MODE_NOPRECEDE`: the fence completes no locally issued operations (fence).
    pub const NOPRECEDE: Assert = Assert(8);
    /// `MPI_MODE_NOSUCCEED`: the fence starts no locally issued operations (fence).
    pub const NOSUCCEED: Assert = Assert(16);

    /// Refuses the assertions MPI does not verify, for the safe form of `call`.
    fn verified(self, call: &str) -> Result<Assert> {
        for (bit, name, what) in [
            (
                Assert::NOCHECK,
                "NOCHECK",
                "that no conflicting lock is held and that matching posts have completed",
            ),
            (Assert::NOPRECEDE, "NOPRECEDE", "that every process's fence completes no operations"),
            (
                Assert::NOSUCCEED,
                "NOSUCCEED",
                "that no process starts operations after the fence (Epoch::end ends a fence epoch)",
            ),
        ] {
            if self.0 & bit.0 != 0 {
                return Err(Error::InvalidArgument(format!(
                    "{call}: Assert::{name} promises {what}, which MPI does not verify; a false promise \
                     lets MPI access memory after it is released, so it needs the unsafe {call}_unchecked"
                )));
            }
        }
        Ok(self)
    }

    pub(crate) fn raw(self) -> c_int {
        let mut r = 0;
        for (bit, value) in [
            (Assert::NOCHECK, ffi::MODE_NOCHECK()),
            (Assert::NOSTORE, ffi::MODE_NOSTORE()),
            (Assert::NOPUT, ffi::MODE_NOPUT()),
            (Assert::NOPRECEDE, ffi::MODE_NOPRECEDE()),
            (Assert::NOSUCCEED, ffi::MODE_NOSUCCEED()),
        ] {
            if self.0 & bit.0 != 0 {
                r |= value;
            }
        }
        r
    }
}

impl std::ops::BitOr for Assert {
    type Output = Assert;
    fn bitor(self, rhs: Assert) -> Assert {
        Assert(self.0 | rhs.0)
    }
}

/// The kind of a lock (`MPI_LOCK_EXCLUSIVE`, `MPI_LOCK_SHARED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockType {
    /// No other process holds any lock on the target meanwhile.
    Exclusive,
    /// Other processes may hold shared locks on the target meanwhile.
    Shared,
}

impl LockType {
    fn raw(self) -> c_int {
        match self {
            LockType::Exclusive => ffi::LOCK_EXCLUSIVE(),
            LockType::Shared => ffi::LOCK_SHARED(),
        }
    }
}

/// The access epochs open on a window at this process.
#[derive(Debug, Default)]
enum Access {
    #[default]
    None,
    Fence,
    /// A PSCW access epoch to these ranks.
    Start,
    /// Locks held, by target rank.
    Locks(Vec<i32>),
    LockAll,
}

/// What is open on a window at this process.
#[derive(Debug, Default)]
pub(crate) struct State {
    access: Access,
    /// A PSCW exposure epoch (post) is open.
    exposed: bool,
}

/// What an epoch is, and so how it ends.
#[derive(Debug)]
enum Kind {
    Fence,
    Start(Vec<i32>),
    Lock(i32),
    LockAll,
}

#[cold]
fn sync_error(msg: String) -> Error {
    Error::RmaSync(msg)
}

pub(crate) fn check_rank(core: &Core, rank: i32) -> Result<()> {
    if (0..core.size).contains(&rank) || rank == ffi::PROC_NULL() {
        Ok(())
    } else {
        Err(Error::InvalidRank { rank, size: core.size, allows_any: false })
    }
}

impl Core {
    fn state(&self) -> std::cell::RefMut<'_, State> {
        self.state.borrow_mut()
    }

    /// What is open, in words, for errors.
    fn describe(&self) -> String {
        let s = self.state.borrow();
        let access = match &s.access {
            Access::None => "no access epoch".to_string(),
            Access::Fence => "a fence epoch".to_string(),
            Access::Start => "a start (PSCW) access epoch".to_string(),
            Access::Locks(r) => format!("locks on ranks {r:?}"),
            Access::LockAll => "a lock_all epoch".to_string(),
        };
        if s.exposed {
            format!("{access} and a post (PSCW) exposure epoch")
        } else {
            access
        }
    }
}

/// An access epoch on a window (fence, start, lock or lock_all), opened in a [`Scope`]: the
/// operations of the epoch are its methods, and every origin buffer they take stays borrowed
/// for the scope's lifetime `'s`. The epoch ends with [`end`](Self::end), on drop, or — if it
/// was forgotten — when the scope ends, before any of those buffers is released. See the
/// [module documentation](crate::win) for why.
///
/// ```compile_fail
/// # use mpi4rs::win::{Assert, Win};
/// # let env = mpi4rs::init()?;
/// # let world = env.world();
/// let win = Win::allocate(64, 8, &[], world)?;
/// let mut buf = vec![0.0f64; 8];
/// mpi4rs::scope(|s| {
///     let epoch = win.fence(s, Assert::NONE)?;
///     epoch.get(&mut buf, 0, 0)?;
///     epoch.end()?;
///     buf[0] = 1.0; // error: `buf` is borrowed until the scope ends
///     Ok(())
/// })?;
/// # Ok::<(), mpi4rs::Error>(())
/// ```
#[must_use = "dropping an epoch ends it at once"]
pub struct Epoch<'s> {
    pub(super) core: &'s Core,
    state: Rc<RefCell<EpochState>>,
    scope: &'s ScopeCore,
    slot: usize,
    /// Invariant in `'s`: an epoch must not be coerced to a shorter buffer lifetime.
    _buffers: PhantomData<fn(&'s ()) -> &'s ()>,
}

/// What the epoch's handle and its scope's closing step share.
struct EpochState {
    /// The window; valid while the scope lasts (see `EpochState::core`).
    core: *const Core,
    kind: Kind,
    /// Device buffers of operations not yet completed, by target rank.
    staged: Vec<(i32, Transfer)>,
    open: bool,
}

/// A PSCW exposure epoch ([`Win::post`]); [`wait`](Self::wait) or drop ends it.
#[must_use = "dropping an exposure epoch waits for its end"]
pub struct Exposure<'w> {
    core: &'w Core,
    open: bool,
}

/// Exclusive access to this process's own window memory ([`Win::local_access`]): an exclusive
/// lock on itself, released on drop.
pub struct LocalAccess<'w> {
    core: &'w Core,
    open: bool,
}

impl<M> Win<M> {
    /// Opens a fence epoch in `scope` (`MPI_Win_fence`), collective: every process of the
    /// window calls it, operations go to any rank, and the epoch ends (with another fence) at
    /// [`Epoch::end`], on drop, or at the end of the scope, or continues into the next with
    /// [`Epoch::fence`]. `NOPRECEDE`, `NOSUCCEED` and `NOCHECK` are refused (see
    /// [`fence_unchecked`](Self::fence_unchecked)).
    pub fn fence<'s>(&'s self, scope: &'s Scope<'s, '_>, assert: Assert) -> Result<Epoch<'s>> {
        let assert = assert.verified("fence")?;
        // SAFETY: no assertion MPI does not verify.
        unsafe { self.fence_unchecked(scope, assert) }
    }

    /// [`fence`](Self::fence) with any assertion.
    ///
    /// # Safety
    /// The assertions must be true: with `NOPRECEDE`, no process of the window has operations
    /// of an earlier epoch that this fence would complete (and every process asserts it); with
    /// `NOSUCCEED`, no process issues operations in the epoch this fence would open (so none is
    /// made here: end it at once). A false one is erroneous in MPI, which may then read or
    /// write origin buffers after the library released them.
    pub unsafe fn fence_unchecked<'s>(
        &'s self,
        scope: &'s Scope<'s, '_>,
        assert: Assert,
    ) -> Result<Epoch<'s>> {
        let core = &self.core;
        {
            let s = core.state.borrow();
            if !matches!(s.access, Access::None) || s.exposed {
                return Err(sync_error(format!("fence while the window has {}", core.describe())));
            }
        }
        mpi_call!(MPI_Win_fence(assert.raw(), core.raw))?;
        core.state().access = Access::Fence;
        Ok(Epoch::open(core, scope, Kind::Fence))
    }

    /// Opens an access epoch to the processes of `group` in `scope` (`MPI_Win_start`), which
    /// must expose their windows with [`post`](Self::post); [`Epoch::end`] is
    /// `MPI_Win_complete`. `NOCHECK` is refused (see [`start_unchecked`](Self::start_unchecked)).
    pub fn start<'s>(&'s self, scope: &'s Scope<'s, '_>, group: &Group, assert: Assert) -> Result<Epoch<'s>> {
        let assert = assert.verified("start")?;
        // SAFETY: no assertion MPI does not verify.
        unsafe { self.start_unchecked(scope, group, assert) }
    }

    /// [`start`](Self::start) with any assertion.
    ///
    /// # Safety
    /// With `NOCHECK`, the matching [`post`](Self::post) must already have been made on every
    /// process of `group` (MPI does not check, and may access their windows before they are
    /// exposed).
    pub unsafe fn start_unchecked<'s>(
        &'s self,
        scope: &'s Scope<'s, '_>,
        group: &Group,
        assert: Assert,
    ) -> Result<Epoch<'s>> {
        let core = &self.core;
        if !matches!(core.state.borrow().access, Access::None) {
            return Err(sync_error(format!("start while the window has {}", core.describe())));
        }
        let ranks = group_ranks(self, group, "start")?;
        mpi_call!(MPI_Win_start(group.as_raw(), assert.raw(), core.raw))?;
        core.state().access = Access::Start;
        Ok(Epoch::open(core, scope, Kind::Start(ranks)))
    }

    /// Exposes this process's window to the processes of `group` (`MPI_Win_post`), which access
    /// it in epochs opened with [`start`](Self::start). `NOCHECK` is refused (see
    /// [`post_unchecked`](Self::post_unchecked)). The exposure lends no memory but the window's
    /// own; a forgotten one is ended when the window is freed.
    pub fn post(&self, group: &Group, assert: Assert) -> Result<Exposure<'_>> {
        let assert = assert.verified("post")?;
        // SAFETY: no assertion MPI does not verify.
        unsafe { self.post_unchecked(group, assert) }
    }

    /// [`post`](Self::post) with any assertion.
    ///
    /// # Safety
    /// With `NOCHECK`, every process of `group` must call its matching [`start`](Self::start)
    /// only after this post has completed (MPI does not check).
    pub unsafe fn post_unchecked(&self, group: &Group, assert: Assert) -> Result<Exposure<'_>> {
        let core = &self.core;
        {
            let s = core.state.borrow();
            if s.exposed || matches!(s.access, Access::Fence | Access::Locks(_) | Access::LockAll) {
                return Err(sync_error(format!("post while the window has {}", core.describe())));
            }
        }
        group_ranks(self, group, "post")?;
        mpi_call!(MPI_Win_post(group.as_raw(), assert.raw(), core.raw))?;
        core.state().exposed = true;
        Ok(Exposure { core, open: true })
    }

    /// Opens a passive-target epoch on process `rank` in `scope` (`MPI_Win_lock`);
    /// [`Epoch::end`] is `MPI_Win_unlock`. Locks on several ranks may be held at once.
    /// `NOCHECK` is refused (see [`lock_unchecked`](Self::lock_unchecked)).
    pub fn lock<'s>(
        &'s self,
        scope: &'s Scope<'s, '_>,
        rank: i32,
        lock: LockType,
        assert: Assert,
    ) -> Result<Epoch<'s>> {
        let assert = assert.verified("lock")?;
        // SAFETY: no assertion MPI does not verify.
        unsafe { self.lock_unchecked(scope, rank, lock, assert) }
    }

    /// [`lock`](Self::lock) with any assertion.
    ///
    /// # Safety
    /// With `NOCHECK`, no other process may hold or request a conflicting lock on `rank`'s
    /// window for the whole epoch, and `rank` must not be inside
    /// [`local_access`](Self::local_access) (MPI does not check, and would let this epoch's
    /// operations change memory that guard hands out as a slice).
    pub unsafe fn lock_unchecked<'s>(
        &'s self,
        scope: &'s Scope<'s, '_>,
        rank: i32,
        lock: LockType,
        assert: Assert,
    ) -> Result<Epoch<'s>> {
        lock_rank(&self.core, rank, lock, assert)?;
        Ok(Epoch::open(&self.core, scope, Kind::Lock(rank)))
    }

    /// Opens a passive-target epoch on every process in `scope` (`MPI_Win_lock_all`, shared
    /// locks); [`Epoch::end`] is `MPI_Win_unlock_all`. `NOCHECK` is refused (see
    /// [`lock_all_unchecked`](Self::lock_all_unchecked)).
    pub fn lock_all<'s>(&'s self, scope: &'s Scope<'s, '_>, assert: Assert) -> Result<Epoch<'s>> {
        let assert = assert.verified("lock_all")?;
        // SAFETY: no assertion MPI does not verify.
        unsafe { self.lock_all_unchecked(scope, assert) }
    }

    /// [`lock_all`](Self::lock_all) with any assertion.
    ///
    /// # Safety
    /// With `NOCHECK`, no process may hold or request an exclusive lock (nor be inside
    /// [`local_access`](Self::local_access)) on any window of the group for the whole epoch.
    pub unsafe fn lock_all_unchecked<'s>(
        &'s self,
        scope: &'s Scope<'s, '_>,
        assert: Assert,
    ) -> Result<Epoch<'s>> {
        let core = &self.core;
        {
            let s = core.state.borrow();
            if !matches!(s.access, Access::None) || s.exposed {
                return Err(sync_error(format!("lock_all while the window has {}", core.describe())));
            }
        }
        mpi_call!(MPI_Win_lock_all(assert.raw(), core.raw))?;
        core.state().access = Access::LockAll;
        Ok(Epoch::open(core, scope, Kind::LockAll))
    }

    /// Exclusive access to this process's window memory: an exclusive lock on itself, held
    /// until the guard is dropped (see the [module documentation](crate::win) for why this is
    /// sound). Not for dynamic windows or windows over device memory.
    pub fn local_access(&self) -> Result<LocalAccess<'_>> {
        let core = &self.core;
        if core.flavor == super::Flavor::Dynamic {
            return Err(Error::InvalidArgument(
                "local_access needs a window with memory; a dynamic window's regions are the attached buffers"
                    .into(),
            ));
        }
        if core.device {
            return Err(Error::UnsupportedBuffer(
                "the window's memory is device memory, which the host cannot load or store".into(),
            ));
        }
        lock_rank(core, core.rank, LockType::Exclusive, Assert::NONE)?;
        Ok(LocalAccess { core, open: true })
    }
}

/// The window ranks of `group`'s processes; every one must belong to the window.
fn group_ranks<M>(win: &Win<M>, group: &Group, call: &str) -> Result<Vec<i32>> {
    let n = group.size()?;
    let ranks: Vec<i32> = (0..n).collect();
    let mine = win.group()?;
    let translated = group.translate_ranks(&ranks, &mine)?;
    translated
        .into_iter()
        .map(|r| {
            r.ok_or_else(|| {
                Error::InvalidArgument(format!("the group of {call} has a process outside the window"))
            })
        })
        .collect()
}

fn lock_rank(core: &Core, rank: i32, lock: LockType, assert: Assert) -> Result<()> {
    if rank == ffi::PROC_NULL() {
        return Err(Error::InvalidRank { rank, size: core.size, allows_any: false });
    }
    check_rank(core, rank)?;
    {
        let s = core.state.borrow();
        let ok = !s.exposed
            && match &s.access {
                Access::None => true,
                Access::Locks(held) => !held.contains(&rank),
                _ => false,
            };
        if !ok {
            return Err(sync_error(format!("lock of rank {rank} while the window has {}", core.describe())));
        }
    }
    mpi_call!(MPI_Win_lock(lock.raw(), rank, assert.raw(), core.raw))?;
    let mut s = core.state();
    match &mut s.access {
        Access::Locks(held) => held.push(rank),
        a => *a = Access::Locks(vec![rank]),
    }
    Ok(())
}

fn unlock_rank(core: &Core, rank: i32) -> Result<()> {
    let r = mpi_call!(MPI_Win_unlock(rank, core.raw));
    let mut s = core.state();
    if let Access::Locks(held) = &mut s.access {
        held.retain(|&h| h != rank);
        if held.is_empty() {
            s.access = Access::None;
        }
    }
    r
}

/// Closes what forgotten guards left open on a window about to be freed: a
/// [`LocalAccess`] lock, an [`Exposure`] (epochs are closed by their scopes).
pub(crate) fn close_leftovers(core: &Core) -> Result<()> {
    let (access, exposed) = {
        let mut s = core.state();
        (std::mem::take(&mut s.access), std::mem::replace(&mut s.exposed, false))
    };
    let mut r = Ok(());
    if exposed {
        r = r.and(mpi_call!(MPI_Win_wait(core.raw)));
    }
    let closed = match access {
        Access::None => Ok(()),
        Access::Fence => mpi_call!(MPI_Win_fence(0, core.raw)),
        Access::Start => mpi_call!(MPI_Win_complete(core.raw)),
        Access::Locks(held) => {
            // Every lock is released, even after an error (the first is reported).
            let mut r = Ok(());
            for rank in held {
                r = r.and(mpi_call!(MPI_Win_unlock(rank, core.raw)));
            }
            r
        }
        Access::LockAll => mpi_call!(MPI_Win_unlock_all(core.raw)),
    };
    r.and(closed)
}

impl EpochState {
    /// The window.
    fn core(&self) -> &Core {
        // SAFETY: the epoch was opened with the window borrowed for its scope's lifetime
        // (`&'s Win`), and this state is used only by the epoch's handle (which lives within
        // the scope) and by the scope's closing step, which runs before the scope ends: the
        // window is alive and unmoved whenever this is called.
        unsafe { &*self.core }
    }

    /// Finishes the device buffers of completed operations (at `rank`, or all): staged gets
    /// are written back, staging copies of puts released.
    fn finish_staged(&mut self, rank: Option<i32>) -> Result<()> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let mut result = Ok(());
        self.staged.retain_mut(|(r, t)| {
            if rank.is_some_and(|x| x != *r) {
                return true;
            }
            if let Err(e) = t.complete(None) {
                if result.is_ok() {
                    result = Err(e);
                }
            }
            false
        });
        result
    }

    /// Ends the epoch, completing its operations (once; nothing once MPI is gone).
    fn close(&mut self) -> Result<()> {
        if !self.open || !is_active() {
            self.open = false;
            return Ok(());
        }
        self.open = false;
        let core = self.core();
        let r = match &self.kind {
            // No assertion: a rank that continues while another ends breaks no promise.
            Kind::Fence => {
                let r = mpi_call!(MPI_Win_fence(0, core.raw));
                core.state().access = Access::None;
                r
            }
            Kind::Start(_) => {
                let r = mpi_call!(MPI_Win_complete(core.raw));
                core.state().access = Access::None;
                r
            }
            Kind::Lock(rank) => unlock_rank(core, *rank),
            Kind::LockAll => {
                let r = mpi_call!(MPI_Win_unlock_all(core.raw));
                core.state().access = Access::None;
                r
            }
        };
        r.and(self.finish_staged(None))
    }
}

impl<'s> Epoch<'s> {
    /// An open epoch of `kind` on `core`, whose closing step is recorded in `scope`.
    fn open(core: &'s Core, scope: &'s Scope<'s, '_>, kind: Kind) -> Self {
        let state = Rc::new(RefCell::new(EpochState { core, kind, staged: Vec::new(), open: true }));
        let kept = Rc::clone(&state);
        let scope = scope.core();
        let slot = scope.register_finisher(Box::new(move || kept.borrow_mut().close()));
        Epoch { core, state, scope, slot, _buffers: PhantomData }
    }

    /// The window's group size (ranks run from 0 below it).
    pub fn size(&self) -> i32 {
        self.core.size
    }

    /// Checks that an operation may target `rank` in this epoch.
    pub(super) fn check_target(&self, call: &str, rank: i32) -> Result<()> {
        check_rank(self.core, rank)?;
        if rank == ffi::PROC_NULL() {
            return Ok(());
        }
        match &self.state.borrow().kind {
            Kind::Fence | Kind::LockAll => Ok(()),
            Kind::Lock(r) if *r == rank => Ok(()),
            Kind::Lock(r) => Err(sync_error(format!(
                "{call} at rank {rank} in an epoch that locks rank {r}: lock rank {rank} too, or use lock_all"
            ))),
            Kind::Start(ranks) if ranks.contains(&rank) => Ok(()),
            Kind::Start(ranks) => Err(sync_error(format!(
                "{call} at rank {rank}, which is not in the group of this start epoch (ranks {ranks:?})"
            ))),
        }
    }

    /// Refuses calls that need a passive-target epoch (lock or lock_all).
    pub(super) fn require_passive(&self, call: &str) -> Result<()> {
        match &self.state.borrow().kind {
            Kind::Lock(_) | Kind::LockAll => Ok(()),
            k => Err(sync_error(format!(
                "{call} needs a passive-target epoch (lock or lock_all); this is a {} epoch",
                if matches!(k, Kind::Fence) { "fence" } else { "start (PSCW)" }
            ))),
        }
    }

    /// Keeps the device buffers of an operation until a synchronisation completes it.
    pub(super) fn keep(&self, rank: i32, transfer: Transfer) {
        if transfer.has_stages() {
            self.state.borrow_mut().staged.push((rank, transfer));
        }
    }

    fn finish_staged(&self, rank: Option<i32>) -> Result<()> {
        self.state.borrow_mut().finish_staged(rank)
    }

    /// Completes every operation of this epoch at `rank`, at the origin and the target
    /// (`MPI_Win_flush`). Passive-target epochs only.
    pub fn flush(&self, rank: i32) -> Result<()> {
        self.require_passive("flush")?;
        self.check_target("flush", rank)?;
        if rank == ffi::PROC_NULL() {
            return Ok(());
        }
        mpi_call!(MPI_Win_flush(rank, self.core.raw))?;
        self.finish_staged(Some(rank))
    }

    /// Completes every operation of this epoch (`MPI_Win_flush_all`).
    pub fn flush_all(&self) -> Result<()> {
        self.require_passive("flush_all")?;
        mpi_call!(MPI_Win_flush_all(self.core.raw))?;
        self.finish_staged(None)
    }

    /// Completes every operation of this epoch at `rank` at the origin: their buffers may be
    /// reused, fetched values have arrived (`MPI_Win_flush_local`).
    pub fn flush_local(&self, rank: i32) -> Result<()> {
        self.require_passive("flush_local")?;
        self.check_target("flush_local", rank)?;
        if rank == ffi::PROC_NULL() {
            return Ok(());
        }
        mpi_call!(MPI_Win_flush_local(rank, self.core.raw))?;
        self.finish_staged(Some(rank))
    }

    /// Completes every operation of this epoch at the origin (`MPI_Win_flush_local_all`).
    pub fn flush_local_all(&self) -> Result<()> {
        self.require_passive("flush_local_all")?;
        mpi_call!(MPI_Win_flush_local_all(self.core.raw))?;
        self.finish_staged(None)
    }

    /// Synchronises the public and private copies of this process's window (`MPI_Win_sync`).
    pub fn sync(&self) -> Result<()> {
        self.require_passive("sync")?;
        mpi_call!(MPI_Win_sync(self.core.raw))
    }

    /// Ends the epoch now, completing its operations: `MPI_Win_fence` (with no assertion),
    /// `MPI_Win_complete`, `MPI_Win_unlock` or `MPI_Win_unlock_all`. Staged device buffers of
    /// gets are written back. The buffers stay borrowed until the scope ends.
    pub fn end(self) -> Result<()> {
        let r = self.state.borrow_mut().close();
        r
    }

    /// Ends this fence epoch and opens the next with one `MPI_Win_fence(assert)`, as a
    /// sequence of fences does in C; the new epoch belongs to the same scope. An error for
    /// other kinds of epoch (which are ended). `NOPRECEDE`, `NOSUCCEED` and `NOCHECK` are
    /// refused (see [`fence_unchecked`](Self::fence_unchecked)).
    pub fn fence(self, assert: Assert) -> Result<Epoch<'s>> {
        let assert = assert.verified("fence")?;
        // SAFETY: no assertion MPI does not verify.
        unsafe { self.fence_unchecked(assert) }
    }

    /// [`fence`](Self::fence) with any assertion.
    ///
    /// # Safety
    /// As for [`Win::fence_unchecked`]: with `NOPRECEDE`, no process has operations in the
    /// epoch this fence ends (every process asserting it); with `NOSUCCEED`, no process issues
    /// operations in the epoch it opens.
    pub unsafe fn fence_unchecked(self, assert: Assert) -> Result<Epoch<'s>> {
        let core = self.core;
        {
            let mut st = self.state.borrow_mut();
            if !matches!(st.kind, Kind::Fence) {
                drop(st);
                self.end()?;
                return Err(sync_error(
                    "fence ends only a fence epoch; this one was ended with its own call".into(),
                ));
            }
            if !st.open {
                return Err(sync_error("fence on an epoch that has ended".into()));
            }
            st.open = false;
            if let Err(e) = mpi_call!(MPI_Win_fence(assert.raw(), core.raw)) {
                core.state().access = Access::None;
                return Err(e);
            }
            st.open = true;
            st.finish_staged(None)?;
        }
        Ok(self)
    }
}

impl Drop for Epoch<'_> {
    fn drop(&mut self) {
        // The epoch ends here (if `end` did not end it): MPI completes its operations.
        let _ = self.state.borrow_mut().close();
        self.scope.finished(self.slot);
    }
}

impl Exposure<'_> {
    /// Waits until every process of the group has completed its access (`MPI_Win_wait`).
    pub fn wait(mut self) -> Result<()> {
        self.close()
    }

    /// Whether every process of the group has completed its access (`MPI_Win_test`); once it
    /// returns `true` the exposure epoch has ended.
    pub fn test(&mut self) -> Result<bool> {
        if !self.open {
            return Ok(true);
        }
        let mut flag: c_int = 0;
        mpi_call!(MPI_Win_test(self.core.raw, &mut flag))?;
        if flag != 0 {
            self.open = false;
            self.core.state().exposed = false;
        }
        Ok(flag != 0)
    }

    fn close(&mut self) -> Result<()> {
        if !self.open {
            return Ok(());
        }
        self.open = false;
        let r = mpi_call!(MPI_Win_wait(self.core.raw));
        self.core.state().exposed = false;
        r
    }
}

impl Drop for Exposure<'_> {
    fn drop(&mut self) {
        if self.open && crate::runtime::is_active() {
            let _ = self.close();
        }
    }
}

impl LocalAccess<'_> {
    /// The window's bytes.
    pub fn bytes(&self) -> &[u8] {
        if self.core.bytes == 0 || self.core.base.is_null() {
            return &[];
        }
        // SAFETY: `bytes` bytes of host memory at `base` belong to the window, which outlives
        // the guard; the exclusive self-lock keeps every other access out (module docs).
        unsafe { std::slice::from_raw_parts(self.core.base.cast::<u8>(), self.core.bytes) }
    }

    /// The window's bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        if self.core.bytes == 0 || self.core.base.is_null() {
            return &mut [];
        }
        // SAFETY: as in `bytes`; `&mut self` makes this the only reference through the guard.
        unsafe { std::slice::from_raw_parts_mut(self.core.base.cast::<u8>(), self.core.bytes) }
    }

    fn check<T: crate::BufferElement>(&self) -> Result<usize> {
        use crate::buffer::ElementKind;
        if matches!(T::kind(), ElementKind::Basic(mpi4rs_device::DType::Bool) | ElementKind::Derived) {
            return Err(Error::InvalidArgument(
                "window memory can be seen only as elements for which every bit pattern is valid (not bool)"
                    .into(),
            ));
        }
        let size = std::mem::size_of::<T>().max(1);
        if !(self.core.base as usize).is_multiple_of(std::mem::align_of::<T>()) {
            return Err(Error::InvalidArgument(format!(
                "the window's memory is not aligned for {}",
                std::any::type_name::<T>()
            )));
        }
        Ok(self.core.bytes / size)
    }

    /// The window as elements of `T` (as many whole elements as it holds).
    pub fn as_slice<T: crate::BufferElement>(&self) -> Result<&[T]> {
        let n = self.check::<T>()?;
        if n == 0 {
            return Ok(&[]);
        }
        // SAFETY: aligned, in bounds (checked), and every bit pattern is a valid T.
        Ok(unsafe { std::slice::from_raw_parts(self.core.base.cast::<T>(), n) })
    }

    /// The window as writable elements of `T`.
    pub fn as_mut_slice<T: crate::BufferElement>(&mut self) -> Result<&mut [T]> {
        let n = self.check::<T>()?;
        if n == 0 {
            return Ok(&mut []);
        }
        // SAFETY: as in `as_slice`, and `&mut self` makes this the only reference.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.core.base.cast::<T>(), n) })
    }

    /// Releases the lock now (`MPI_Win_unlock`), reporting errors that drop cannot.
    pub fn end(mut self) -> Result<()> {
        self.open = false;
        unlock_rank(self.core, self.core.rank)
    }
}

impl Drop for LocalAccess<'_> {
    fn drop(&mut self) {
        if self.open && crate::runtime::is_active() {
            let _ = unlock_rank(self.core, self.core.rank);
        }
    }
}
