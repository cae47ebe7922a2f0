//! Attribute caching (mpi4py's `Comm.Create_keyval`, `Set_attr`, `Get_attr`, `Delete_attr`,
//! and the same for windows and datatypes): typed values attached to a communicator, window
//! or datatype under a [`Keyval`].
//!
//! A `Keyval<T>` stores values of one Rust type `T`; [`Comm::attr`] returns a clone of the
//! value, so no reference into the handle's attribute table can outlive a later change of it.
//! What happens to a value when its communicator or datatype is duplicated is the keyval's
//! [`AttrCopy`] policy: cloned into the duplicate (MPI's copy callback), or left behind.
//! Values are dropped when they are replaced or deleted, when the handle is freed, and at the
//! latest when MPI is finalised (for `COMM_WORLD` and `COMM_SELF`).
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::{AttrCopy, Keyval};
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let solver_state: Keyval<Vec<f64>> = Keyval::for_comm(AttrCopy::Clone)?;
//! world.set_attr(&solver_state, vec![1.0, 2.0])?;
//! let dup = world.dup()?;                              // the value is cloned into the dup
//! assert_eq!(dup.attr(&solver_state)?, Some(vec![1.0, 2.0]));
//! assert!(world.delete_attr(&solver_state)?);
//! assert_eq!(world.attr(&solver_state)?, None);
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! # Soundness
//! The value lives in a `Box<T>` whose pointer MPI stores; the copy and delete callbacks are
//! monomorphised for `T`, so a keyval's callbacks only ever see its own type. They run inside
//! MPI calls: a panic in `T::clone` or `T::drop` there is caught and aborts the job (it may not
//! unwind through MPI). Attribute caching is offered below `THREAD_MULTIPLE` only, where every
//! MPI call (and so every callback) runs on one thread: with several threads, one could drop a
//! value while another clones it. Under `THREAD_MULTIPLE` the calls return
//! [`Error::Unsupported`].

use crate::comm::{Comm, Communicator};
use crate::config::ThreadLevel;
use crate::datatype::Datatype;
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Comm, MPI_Datatype, MPI_Win};
use crate::win::Win;
use std::ffi::{c_int, c_void};
use std::marker::PhantomData;

/// What a keyval's values do when their communicator or datatype is duplicated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrCopy {
    /// The duplicate gets a clone of the value (`T::clone`).
    Clone,
    /// The duplicate gets no value (MPI's `NULL_COPY_FN`).
    Drop,
}

/// What kind of handle a keyval belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Comm,
    Win,
    Datatype,
}

/// A key for attribute values of type `T` on communicators, windows or datatypes (see the
/// [module docs](self)). Freed on drop (`MPI_*_free_keyval`); values already set stay until
/// their handle is freed.
pub struct Keyval<T: Clone + 'static> {
    raw: c_int,
    target: Target,
    _value: PhantomData<fn(T) -> T>,
    /// Neither `Send` nor `Sync`: see [`crate::thread`].
    _thread: crate::runtime::ThreadBound,
}

fn single_threaded() -> Result<()> {
    if crate::environment::query_thread()? == ThreadLevel::Multiple {
        return Err(Error::Unsupported(
            "attribute caching under THREAD_MULTIPLE (a value could be dropped on one thread while another clones it)"
                .into(),
        ));
    }
    Ok(())
}

/// Runs `f` from inside an MPI callback; a panic aborts the job (it must not unwind into C).
fn in_callback<R>(what: &str, f: impl FnOnce() -> R) -> R {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => {
            eprintln!("mpi4rs: an attribute value's {what} panicked inside MPI; aborting the job");
            // SAFETY: callbacks run inside MPI calls, so MPI is initialised.
            unsafe { ffi::MPI_Abort(ffi::COMM_WORLD(), 1) };
            std::process::abort()
        }
    }
}

/// Clones the value at `attr_in` into a new box whose pointer goes to `attr_out`.
///
/// # Safety
/// `attr_in` is a `Box<T>` pointer this module stored; `attr_out` points to a `void *`.
unsafe fn copy_value<T: Clone + 'static>(
    attr_in: *mut c_void,
    attr_out: *mut c_void,
    flag: *mut c_int,
) -> c_int {
    // SAFETY: the caller's promise: the value is a live `T` owned by the attribute.
    let value = in_callback("clone", || unsafe { (*attr_in.cast::<T>()).clone() });
    let boxed = Box::into_raw(Box::new(value)).cast::<c_void>();
    // SAFETY: MPI passes a pointer to where the new attribute value goes, and the flag.
    unsafe {
        *attr_out.cast::<*mut c_void>() = boxed;
        *flag = 1;
    }
    ffi::SUCCESS()
}

/// Drops the boxed value at `attr`.
///
/// # Safety
/// `attr` is a `Box<T>` pointer this module stored, deleted once (MPI calls the delete
/// callback once per value).
unsafe fn delete_value<T: Clone + 'static>(attr: *mut c_void) -> c_int {
    // SAFETY: the caller's promise.
    in_callback("drop", || drop(unsafe { Box::from_raw(attr.cast::<T>()) }));
    ffi::SUCCESS()
}

macro_rules! callbacks {
    ($handle:ty, $copy:ident, $nocopy:ident, $delete:ident) => {
        #[allow(dead_code)] // windows are never duplicated
        unsafe extern "C" fn $copy<T: Clone + 'static>(
            _old: $handle,
            _keyval: c_int,
            _extra: *mut c_void,
            attr_in: *mut c_void,
            attr_out: *mut c_void,
            flag: *mut c_int,
        ) -> c_int {
            // SAFETY: MPI passes the value stored under a keyval made for `T`.
            unsafe { copy_value::<T>(attr_in, attr_out, flag) }
        }

        unsafe extern "C" fn $nocopy(
            _old: $handle,
            _keyval: c_int,
            _extra: *mut c_void,
            _attr_in: *mut c_void,
            _attr_out: *mut c_void,
            flag: *mut c_int,
        ) -> c_int {
            // SAFETY: MPI passes a valid flag pointer.
            unsafe { *flag = 0 };
            ffi::SUCCESS()
        }

        unsafe extern "C" fn $delete<T: Clone + 'static>(
            _handle: $handle,
            _keyval: c_int,
            attr: *mut c_void,
            _extra: *mut c_void,
        ) -> c_int {
            // SAFETY: MPI passes the value stored under a keyval made for `T`, once.
            unsafe { delete_value::<T>(attr) }
        }
    };
}
callbacks!(MPI_Comm, comm_copy, comm_nocopy, comm_delete);
callbacks!(MPI_Win, win_copy, win_nocopy, win_delete);
callbacks!(MPI_Datatype, type_copy, type_nocopy, type_delete);

impl<T: Clone + 'static> Keyval<T> {
    fn made(raw: c_int, target: Target) -> Keyval<T> {
        Keyval { raw, target, _value: PhantomData, _thread: PhantomData }
    }

    /// A keyval for communicator attributes (`MPI_Comm_create_keyval`).
    pub fn for_comm(copy: AttrCopy) -> Result<Keyval<T>> {
        single_threaded()?;
        let mut raw = ffi::KEYVAL_INVALID();
        let copy_fn: ffi::MPI_Comm_copy_attr_function =
            Some(if copy == AttrCopy::Clone { comm_copy::<T> } else { comm_nocopy });
        mpi_call!(MPI_Comm_create_keyval(copy_fn, Some(comm_delete::<T>), &mut raw, std::ptr::null_mut()))?;
        Ok(Keyval::made(raw, Target::Comm))
    }

    /// A keyval for window attributes (`MPI_Win_create_keyval`; windows are never duplicated).
    pub fn for_win() -> Result<Keyval<T>> {
        single_threaded()?;
        let mut raw = ffi::KEYVAL_INVALID();
        mpi_call!(MPI_Win_create_keyval(
            Some(win_nocopy),
            Some(win_delete::<T>),
            &mut raw,
            std::ptr::null_mut()
        ))?;
        Ok(Keyval::made(raw, Target::Win))
    }

    /// A keyval for datatype attributes (`MPI_Type_create_keyval`).
    pub fn for_datatype(copy: AttrCopy) -> Result<Keyval<T>> {
        single_threaded()?;
        let mut raw = ffi::KEYVAL_INVALID();
        let copy_fn: ffi::MPI_Type_copy_attr_function =
            Some(if copy == AttrCopy::Clone { type_copy::<T> } else { type_nocopy });
        mpi_call!(MPI_Type_create_keyval(copy_fn, Some(type_delete::<T>), &mut raw, std::ptr::null_mut()))?;
        Ok(Keyval::made(raw, Target::Datatype))
    }

    /// The raw keyval (still owned by `self`).
    pub fn as_raw(&self) -> c_int {
        self.raw
    }

    fn check(&self, target: Target) -> Result<()> {
        single_threaded()?;
        if self.target != target {
            return Err(Error::InvalidArgument(format!(
                "a keyval made for {:?} attributes used on a {target:?}",
                self.target
            )));
        }
        Ok(())
    }
}

impl<T: Clone + 'static> Drop for Keyval<T> {
    fn drop(&mut self) {
        let Some(_call) = crate::runtime::enter_if_active() else { return };
        // SAFETY: a keyval this value owns; MPI keeps it until its attributes are gone.
        unsafe {
            match self.target {
                Target::Comm => ffi::MPI_Comm_free_keyval(&mut self.raw),
                Target::Win => ffi::MPI_Win_free_keyval(&mut self.raw),
                Target::Datatype => ffi::MPI_Type_free_keyval(&mut self.raw),
            }
        };
    }
}

impl<T: Clone + 'static> std::fmt::Debug for Keyval<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyval").field("raw", &self.raw).field("target", &self.target).finish()
    }
}

macro_rules! attr_methods {
    ($target:expr, $set:ident, $get:ident, $del:ident, $what:literal) => {
        /// Sets the attribute `keyval` to `value`, dropping the value it replaces
        #[doc = concat!("(`", stringify!($set), "`) on this ", $what, ".")]
        pub fn set_attr<T: Clone + 'static>(&self, keyval: &Keyval<T>, value: T) -> Result<()> {
            keyval.check($target)?;
            let boxed = Box::into_raw(Box::new(value));
            let r = mpi_call!($set(self.as_raw(), keyval.raw, boxed.cast::<c_void>()));
            if r.is_err() {
                // SAFETY: MPI did not take the value; it is still ours alone.
                drop(unsafe { Box::from_raw(boxed) });
            }
            r
        }

        /// A clone of the attribute's value, `None` when it is not set
        #[doc = concat!("(`", stringify!($get), "`).")]
        pub fn attr<T: Clone + 'static>(&self, keyval: &Keyval<T>) -> Result<Option<T>> {
            keyval.check($target)?;
            let mut ptr: *mut T = std::ptr::null_mut();
            let mut flag: c_int = 0;
            mpi_call!($get(
                self.as_raw(),
                keyval.raw,
                (&mut ptr as *mut *mut T).cast::<c_void>(),
                &mut flag
            ))?;
            if flag == 0 || ptr.is_null() {
                return Ok(None);
            }
            // SAFETY: the value stored under this `T` keyval, alive until the attribute changes,
            // which cannot happen during this clone (one thread: see the module docs).
            Ok(Some(unsafe { (*ptr).clone() }))
        }

        /// Deletes the attribute, dropping its value; `false` when it was not set
        #[doc = concat!("(`", stringify!($del), "`).")]
        pub fn delete_attr<T: Clone + 'static>(&self, keyval: &Keyval<T>) -> Result<bool> {
            if self.attr(keyval)?.is_none() {
                return Ok(false);
            }
            mpi_call!($del(self.as_raw(), keyval.raw))?;
            Ok(true)
        }
    };
}

impl Comm {
    attr_methods!(Target::Comm, MPI_Comm_set_attr, MPI_Comm_get_attr, MPI_Comm_delete_attr, "communicator");
}

impl<M> Win<M> {
    attr_methods!(Target::Win, MPI_Win_set_attr, MPI_Win_get_attr, MPI_Win_delete_attr, "window");
}

impl Datatype {
    attr_methods!(Target::Datatype, MPI_Type_set_attr, MPI_Type_get_attr, MPI_Type_delete_attr, "datatype");
}
