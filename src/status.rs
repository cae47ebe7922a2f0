//! `Status`: what a completed receive or probe tells about its message.

use crate::buffer::BufferElement;
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Datatype, MPI_Status};
use std::ffi::c_int;

/// The status of a received or probed message (`MPI_Status`).
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Status(pub(crate) MPI_Status);

impl Default for Status {
    fn default() -> Self {
        // SAFETY: MPI_Status is a plain C struct of integers.
        Status(unsafe { std::mem::zeroed() })
    }
}

impl Status {
    /// The rank of the sender (`PROC_NULL` for a receive from `PROC_NULL`).
    pub fn source(&self) -> i32 {
        self.0.MPI_SOURCE
    }

    /// The message tag.
    pub fn tag(&self) -> i32 {
        self.0.MPI_TAG
    }

    /// The error code stored in the status (meaningful after multi-request calls).
    pub fn error(&self) -> i32 {
        self.0.MPI_ERROR
    }

    pub(crate) fn count_raw(&self, datatype: MPI_Datatype) -> Result<Option<usize>> {
        let mut count: c_int = 0;
        mpi_call!(MPI_Get_count(&self.0, datatype, &mut count))?;
        Ok(if count == ffi::UNDEFINED() { None } else { Some(count as usize) })
    }

    /// The number of `T` elements in the message; an error if the message is not a whole number
    /// of them.
    pub fn count<T: BufferElement>(&self) -> Result<usize> {
        self.count_raw(T::datatype())?.ok_or_else(|| {
            Error::InvalidArgument(format!(
                "the message ({} bytes) is not a whole number of {:?} elements",
                self.bytes().unwrap_or(0),
                T::kind()
            ))
        })
    }

    /// The size of the message in bytes.
    pub fn bytes(&self) -> Result<usize> {
        Ok(self.count_raw(ffi::BYTE())?.unwrap_or(0))
    }

    /// Whether the request this status belongs to was cancelled.
    pub fn is_cancelled(&self) -> Result<bool> {
        let mut flag: c_int = 0;
        mpi_call!(MPI_Test_cancelled(&self.0, &mut flag))?;
        Ok(flag != 0)
    }
}

impl std::fmt::Debug for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Status")
            .field("source", &self.source())
            .field("tag", &self.tag())
            .field("error", &self.error())
            .field("bytes", &self.bytes().ok())
            .finish()
    }
}
