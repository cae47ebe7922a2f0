//! `bool` receive buffers. MPI writes whatever bytes the message holds, and a peer whose
//! element type does not match (a `u8` sender, a file of arbitrary bytes, an in-place
//! reduction fed by a mistyped rank) can deliver bytes other than 0 and 1, which are not
//! `bool`s: writing one into `&mut [bool]` is undefined behaviour.
//!
//! So MPI never writes into `bool` memory. A host `bool` buffer that an operation writes is
//! *shadowed*: MPI gets a byte buffer holding a copy of the `bool`s, and when the operation
//! completes (at once for a blocking call, at completion of the request otherwise) the bytes
//! are checked and copied back. A byte that is not 0 or 1 makes the operation return
//! [`Error::Decode`] and leaves the `bool` buffer exactly as it was. A request that is never
//! completed (forgotten) never writes the `bool`s at all.
//!
//! Derived layouts over `bool` memory ([`TypedMut`](crate::TypedMut)) and one-sided reads into
//! `bool` are refused outright (receive into `u8` there).

use crate::buffer::SpecMut;
use crate::error::{Error, Result};
use std::ffi::c_void;

/// A `bool` buffer and the bytes MPI writes in its place.
pub(crate) struct Shadow {
    /// The `bool` memory: `bytes.len()` bools, mutably borrowed by the operation.
    dest: *mut bool,
    /// What MPI reads and writes instead.
    bytes: Vec<u8>,
    /// Whether the operation's results go back (not for a buffer MPI only reads).
    write_back: bool,
}

// SAFETY: `dest` is the operation's mutably borrowed buffer; the shadow moves with the request
// (into the pending table) and is the only thing that writes through it.
unsafe impl Send for Shadow {}

impl Shadow {
    /// Shadows the `bool` buffer `s` (`s.bytes` bools at `s.ptr`, `s.bytes > 0`); returns the
    /// shadow and the spec that MPI gets.
    pub(crate) fn new(s: SpecMut, write_back: bool) -> (Shadow, SpecMut) {
        let dest = s.ptr.cast::<bool>();
        // SAFETY: the spec of a host bool buffer describes `s.bytes` initialised bools at
        // `s.ptr` (BufferMut's contract), mutably borrowed for the whole operation; a bool is
        // one byte that reads as a valid u8.
        let bytes = unsafe { std::slice::from_raw_parts(dest.cast::<u8>(), s.bytes) }.to_vec();
        let mut shadow = Shadow { dest, bytes, write_back };
        let ptr = shadow.bytes.as_mut_ptr().cast::<c_void>();
        (shadow, SpecMut { ptr, ..s })
    }

    /// Copies the bytes in again (a persistent operation's restart; the bools may have been
    /// written by the previous completion only, so this keeps them equal).
    pub(crate) fn refill(&mut self) {
        // SAFETY: as in `new`: `bytes.len()` bools at `dest`, still borrowed by the request.
        let now = unsafe { std::slice::from_raw_parts(self.dest.cast::<u8>(), self.bytes.len()) };
        self.bytes.copy_from_slice(now);
    }

    /// The operation completed: checks every byte and copies them into the bools, or returns
    /// an error and leaves the bools untouched.
    pub(crate) fn complete(&mut self) -> Result<()> {
        if !self.write_back {
            return Ok(());
        }
        if let Some(i) = self.bytes.iter().position(|&b| b > 1) {
            return Err(Error::Decode {
                type_name: "bool",
                detail: format!(
                    "element {i} of the received data is the byte {}, which is not a bool (0 or 1): the \
                     sender's element type does not match; the bool buffer was left unchanged (receive into \
                     u8 to accept any byte)",
                    self.bytes[i]
                ),
            });
        }
        // SAFETY: every byte is 0 or 1, a valid bool; `dest` holds `bytes.len()` bools, borrowed
        // mutably by the operation until it completes (now), and does not overlap our Vec.
        unsafe {
            std::ptr::copy_nonoverlapping(self.bytes.as_ptr(), self.dest.cast::<u8>(), self.bytes.len())
        };
        Ok(())
    }
}
