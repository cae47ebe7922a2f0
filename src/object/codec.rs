//! The wire format of object messages, free of MPI (so that it can be tested and fuzzed on its
//! own): [`encode`] turns any `Serialize` value into a *frame* plus the out-of-band payloads
//! it points at; [`decode`] turns a frame and the received payloads back into a value, or into
//! an [`Error::Decode`] — never a panic — whatever the bytes are.
//!
//! # Frame layout
//!
//! ```text
//! offset  size  field
//! 0       1     magic 0xA7
//! 1       1     format version (1)
//! 2       1     flags: bit 0 = the body travels as the last payload (bodies past 1 GiB),
//!               bit 1 = the frame is longer than 4096 bytes (two messages, see below)
//! 3       4     fingerprint of the sender's type name (FNV-1a, little-endian), for error texts
//! 7       4     number of out-of-band payloads N (little-endian)
//! 11      …     body: the value in MessagePack (rmp-serde, structs as arrays)
//! end-9N  9N    per payload: element type code (1 byte), element count (8 bytes, LE)
//! ```
//!
//! The frame travels as one message of at most [`EAGER`] (4096) bytes — a receiver takes it
//! with a plain receive into a buffer of that size, with no probe, so a small object costs what
//! a small buffer does — and, when longer, a second message with the rest, which the receiver
//! matches with a probe so that it learns the size before allocating. Each payload then travels
//! as its own message of raw bytes, straight from where it lies in the sender's object; the receiver allocates it at its final size only once a matched probe has
//! shown a message of exactly that size, and the value picks it up by index while it decodes.
//!
//! # Why MessagePack (rmp-serde)
//!
//! bincode 3.0 is a tombstone and bincode 2 is no longer developed; postcard is compact and
//! fast but carries no type information, so a receiver that asks for another type than was
//! sent usually decodes garbage without noticing. MessagePack tags every value (integer, float,
//! string, bytes, array with its length, map, extension), so such a mismatch becomes a clear
//! error ("invalid type: string \"abc\", expected u64", "invalid length 2, expected a struct
//! with 3 elements"); it stays compact (structs are arrays, small integers one byte), has a
//! public specification other languages read (a Python `msgpack.unpackb` decodes a body), and
//! rmp-serde is maintained. Its speed does not matter here: large arrays do not go through
//! serde's element-by-element path at all (see [`OobVec`](super::OobVec)).
//!
//! # Safety against hostile input
//!
//! Before serde sees a body, [`validate`] walks its MessagePack structure without recursion:
//! every array, map, string, binary and extension length must fit in the bytes that remain
//! (each array element and map entry needs at least one byte), nesting is at most
//! [`MAX_DEPTH`] deep, and the body must hold exactly one value. So a forged length fails
//! before anything is allocated, serde's preallocation from a length can only reflect elements
//! that really follow, and deep nesting cannot overflow the stack. Payload descriptors are
//! checked the same way (their number against the frame size, counts against overflow), and a
//! payload buffer is only allocated after the message carrying it has been matched with exactly
//! that size.

use crate::error::{Error, Result};
use mpi4rs_device::{DType, Element};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::alloc::Layout;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// First byte of every frame.
pub const MAGIC: u8 = 0xA7;
/// Format version, second byte of every frame.
pub const VERSION: u8 = 1;
/// Bytes before the body.
pub const HEADER_LEN: usize = 11;
/// Bytes per payload descriptor (at the end of the frame).
pub const DESCRIPTOR_LEN: usize = 9;
/// Deepest nesting of arrays and maps a body may have (mpi4py's pickle stops near 1000
/// Python frames; a Rust decoder needs more stack per level, so less).
pub const MAX_DEPTH: usize = 256;
/// Largest body that travels inside the frame; a larger one travels as a payload, so frames
/// stay well inside MPI's `int` counts.
pub const MAX_INLINE_BODY: usize = 1 << 30;
/// The default size from which an [`OobVec`](super::OobVec) travels out of band: 256 KiB, as
/// mpi4py's `pkl5`.
pub const DEFAULT_THRESHOLD: usize = 256 * 1024;
/// The environment variable that sets the threshold (bytes; `K`, `M`, `G` suffixes are KiB,
/// MiB, GiB).
pub const THRESHOLD_ENV: &str = "MPI4RS_OBJECT_THRESHOLD";

/// Flag bit: the body is the last payload.
pub(crate) const FLAG_BODY_OOB: u8 = 1;
/// Flag bit: the frame is longer than [`EAGER`] bytes and travels as two messages.
pub(crate) const FLAG_CONTINUED: u8 = 2;
/// The frame's first message holds at most this many bytes, so a receiver can take it with a
/// plain receive into a buffer of this size, without a probe; a longer frame's rest follows as
/// a second message.
pub const EAGER: usize = 4096;
/// MessagePack extension type of an out-of-band placeholder (its data: the index, u32 LE).
pub(crate) const EXT_TAG: i8 = 0x4F;

// ---------------------------------------------------------------------------------------------
// The threshold.

static THRESHOLD_SET: AtomicBool = AtomicBool::new(false);
static THRESHOLD: AtomicUsize = AtomicUsize::new(DEFAULT_THRESHOLD);

/// The size in bytes from which an [`OobVec`](super::OobVec) travels out of band: set by
/// [`set_threshold`], else by `MPI4RS_OBJECT_THRESHOLD`, else 256 KiB. An invalid environment
/// value is an [`Error::Config`].
pub fn threshold() -> Result<usize> {
    if THRESHOLD_SET.load(Ordering::Acquire) {
        return Ok(THRESHOLD.load(Ordering::Relaxed));
    }
    static FROM_ENV: OnceLock<std::result::Result<usize, String>> = OnceLock::new();
    FROM_ENV
        .get_or_init(|| match mpi4rs_device::env::size_var(THRESHOLD_ENV) {
            Ok(v) => Ok(v.unwrap_or(DEFAULT_THRESHOLD)),
            Err(e) => Err(e.to_string()),
        })
        .clone()
        .map_err(Error::Config)
}

/// Sets the out-of-band threshold for the whole process (`None`: back to the environment
/// variable or the default). `Some(0)` sends every non-empty `OobVec` out of band,
/// `Some(usize::MAX)` none.
pub fn set_threshold(bytes: Option<usize>) {
    match bytes {
        Some(b) => {
            THRESHOLD.store(b, Ordering::Relaxed);
            THRESHOLD_SET.store(true, Ordering::Release);
        }
        None => THRESHOLD_SET.store(false, Ordering::Release),
    }
}

// ---------------------------------------------------------------------------------------------
// Prefaulting fresh payload buffers.

/// Fresh payload buffers of at least this many bytes are prefaulted (see [`set_prefault`]).
pub const PREFAULT_MIN: usize = 1 << 20;

/// 0: from the environment, 1: off, 2: on.
static PREFAULT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Whether fresh payload buffers of at least [`PREFAULT_MIN`] bytes are prefaulted before MPI
/// writes into them (Linux): one `madvise(MADV_POPULATE_WRITE)` maps all their pages at once,
/// where MPI's copy would otherwise take a page fault on the first write to each 4 KiB page
/// (16 384 faults for 64 MiB). `Some(false)` turns it off, `None` goes back to the environment
/// (`MPI4RS_OBJECT_PREFAULT=0` turns it off; on by default). Where the kernel lacks the call
/// (before Linux 5.14) or on other systems, nothing happens.
pub fn set_prefault(on: Option<bool>) {
    PREFAULT.store(
        match on {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        },
        Ordering::Relaxed,
    );
}

fn prefault_on() -> bool {
    match PREFAULT.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            static FROM_ENV: OnceLock<bool> = OnceLock::new();
            *FROM_ENV.get_or_init(|| std::env::var("MPI4RS_OBJECT_PREFAULT").map_or(true, |v| v != "0"))
        }
    }
}

/// Maps the whole pages inside `[ptr, ptr + bytes)` writable now (a hint: errors are ignored).
fn prefault(ptr: *mut u8, bytes: usize) {
    #[cfg(target_os = "linux")]
    if bytes >= PREFAULT_MIN && prefault_on() {
        const PAGE: usize = 4096;
        let start = (ptr as usize).next_multiple_of(PAGE);
        let end = (ptr as usize + bytes) & !(PAGE - 1);
        if end > start {
            // SAFETY: the range lies inside an allocation this process owns and nothing reads
            // yet; populating its pages changes no byte a program may rely on (they are
            // uninitialised), and a kernel without the advice returns EINVAL.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_POPULATE_WRITE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, bytes);
}

// ---------------------------------------------------------------------------------------------
// Element type codes and the type fingerprint.

fn dtype_code(d: DType) -> u8 {
    DType::ALL.iter().position(|&x| x == d).unwrap_or(0) as u8
}

fn dtype_from_code(c: u8) -> Option<DType> {
    DType::ALL.get(c as usize).copied()
}

/// Alignment of the Rust types of `d` (every `Element` of that dtype has the same).
fn dtype_align(d: DType) -> usize {
    use std::mem::align_of;
    match d {
        DType::Bool | DType::I8 | DType::U8 => 1,
        DType::I16 | DType::U16 | DType::F16 | DType::BF16 => align_of::<u16>(),
        DType::I32 | DType::U32 | DType::F32 => align_of::<u32>(),
        DType::I64 | DType::U64 => align_of::<u64>(),
        DType::F64 => align_of::<f64>(),
        DType::C32 => align_of::<num_complex::Complex<f32>>(),
        DType::C64 => align_of::<num_complex::Complex<f64>>(),
    }
}

/// FNV-1a of the type's name: only used to word decode errors (`&str` and `String` differ in
/// name yet decode from each other, so a difference alone is no error).
fn fingerprint<T: ?Sized>() -> u32 {
    std::any::type_name::<T>().bytes().fold(0x811c_9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

// ---------------------------------------------------------------------------------------------
// Encoding.

/// A payload that travels out of band: a contiguous run of elements inside the object being
/// sent, borrowed for the lifetime of the [`Encoded`] message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outgoing {
    pub(crate) ptr: *const u8,
    pub(crate) bytes: usize,
    pub(crate) dtype: DType,
}

struct EncodeCtx {
    threshold: usize,
    payloads: Vec<Outgoing>,
}

thread_local! {
    static ENCODING: RefCell<Vec<EncodeCtx>> = const { RefCell::new(Vec::new()) };
    static DECODING: RefCell<Vec<Vec<Option<Payload>>>> = const { RefCell::new(Vec::new()) };
}

/// How an [`OobVec`](super::OobVec) being serialised travels.
pub(crate) enum Placement {
    /// Not inside an object message (another serde format): as a plain sequence.
    Plain,
    /// In the body, as MessagePack binary (one copy, no per-element work).
    Inline,
    /// Out of band, as payload number `index`.
    OutOfBand(u32),
}

/// Called by `OobVec`'s `Serialize`: decides the placement of `bytes` bytes of `dtype` at `ptr`
/// and, when out of band, records the payload.
pub(crate) fn place(ptr: *const u8, bytes: usize, dtype: DType) -> Placement {
    ENCODING.with(|stack| {
        let Ok(mut stack) = stack.try_borrow_mut() else { return Placement::Plain };
        let Some(ctx) = stack.last_mut() else { return Placement::Plain };
        if bytes < ctx.threshold.max(1) || ctx.payloads.len() >= u32::MAX as usize {
            return Placement::Inline;
        }
        ctx.payloads.push(Outgoing { ptr, bytes, dtype });
        Placement::OutOfBand(ctx.payloads.len() as u32 - 1)
    })
}

/// Pops the encoding context it pushed, also on a panic in a user's `Serialize`.
struct EncodeGuard;

impl EncodeGuard {
    fn push(threshold: usize) -> EncodeGuard {
        ENCODING.with(|s| s.borrow_mut().push(EncodeCtx { threshold, payloads: Vec::new() }));
        EncodeGuard
    }
    fn finish(self) -> Vec<Outgoing> {
        let out = ENCODING.with(|s| s.borrow_mut().pop()).map(|c| c.payloads).unwrap_or_default();
        std::mem::forget(self);
        out
    }
}

impl Drop for EncodeGuard {
    fn drop(&mut self) {
        ENCODING.with(|s| s.borrow_mut().pop());
    }
}

/// An encoded object: the frame, and the out-of-band payloads, which still lie in the object
/// (borrowed for `'a`).
pub struct Encoded<'a> {
    pub(crate) frame: Vec<u8>,
    /// A body too large for the frame, which travels as the last payload (only kept alive:
    /// the payload points into it).
    _body: Vec<u8>,
    pub(crate) payloads: Vec<Outgoing>,
    _object: PhantomData<&'a ()>,
}

impl Encoded<'_> {
    /// The frame's allocation, for reuse.
    pub(crate) fn into_frame(self) -> Vec<u8> {
        self.frame
    }
}

// SAFETY: the payload pointers borrow the object immutably for 'a, which must be Sync to be
// shared; serde values sent between threads are (the raw pointers are what blocks the auto
// impl). Encoded is only moved into requests of the thread that made it in practice.
unsafe impl Send for Encoded<'_> {}

impl<'a> Encoded<'a> {
    /// The frame: header, body (unless it travels out of band) and payload descriptors.
    pub fn frame(&self) -> &[u8] {
        &self.frame
    }

    /// The number of out-of-band payloads (including a body that travels as one).
    pub fn payload_count(&self) -> usize {
        self.payloads.len()
    }

    /// The bytes of payload `i`, where they lie in the object.
    pub fn payload(&self, i: usize) -> &[u8] {
        let p = self.payloads[i];
        if p.bytes == 0 {
            return &[];
        }
        // SAFETY: the payload is a slice of the object (or of `self.body`) borrowed for 'a,
        // made of `Element`s, which have no padding bytes.
        unsafe { std::slice::from_raw_parts(p.ptr, p.bytes) }
    }

    /// The element type of payload `i`.
    pub fn payload_dtype(&self, i: usize) -> DType {
        self.payloads[i].dtype
    }
}

impl std::fmt::Debug for Encoded<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoded")
            .field("frame_bytes", &self.frame.len())
            .field("payload_bytes", &self.payloads.iter().map(|p| p.bytes).collect::<Vec<_>>())
            .finish()
    }
}

/// Encodes `obj` with the process's [`threshold`].
pub fn encode<T: Serialize + ?Sized>(obj: &T) -> Result<Encoded<'_>> {
    encode_with(obj, threshold()?)
}

/// Encodes `obj`; every [`OobVec`](super::OobVec) of at least `threshold` bytes becomes an
/// out-of-band payload.
pub fn encode_with<T: Serialize + ?Sized>(obj: &T, threshold: usize) -> Result<Encoded<'_>> {
    encode_into(obj, threshold, Vec::with_capacity(64))
}

/// [`encode_with`] into `frame` (cleared first; its allocation is reused).
pub(crate) fn encode_into<T: Serialize + ?Sized>(
    obj: &T,
    threshold: usize,
    mut frame: Vec<u8>,
) -> Result<Encoded<'_>> {
    frame.clear();
    frame.extend_from_slice(&[MAGIC, VERSION, 0]);
    frame.extend_from_slice(&fingerprint::<T>().to_le_bytes());
    frame.extend_from_slice(&[0; 4]);
    let guard = EncodeGuard::push(threshold);
    let result = obj.serialize(&mut rmp_serde::Serializer::new(&mut frame));
    let mut payloads = guard.finish();
    result.map_err(|e| Error::Encode(e.to_string()))?;
    let mut body = Vec::new();
    if frame.len() - HEADER_LEN > MAX_INLINE_BODY {
        body = frame.split_off(HEADER_LEN);
        frame[2] |= FLAG_BODY_OOB;
        // The heap buffer of `body` does not move when `body` does.
        payloads.push(Outgoing { ptr: body.as_ptr(), bytes: body.len(), dtype: DType::U8 });
    }
    let n = u32::try_from(payloads.len()).map_err(|_| Error::Encode("more than 2^32 payloads".into()))?;
    frame[7..11].copy_from_slice(&n.to_le_bytes());
    for p in &payloads {
        frame.push(dtype_code(p.dtype));
        frame.extend_from_slice(&((p.bytes / p.dtype.size()) as u64).to_le_bytes());
    }
    if frame.len() > EAGER {
        frame[2] |= FLAG_CONTINUED;
    }
    Ok(Encoded { frame, _body: body, payloads, _object: PhantomData })
}

// ---------------------------------------------------------------------------------------------
// Decoding.

/// What a frame's header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Header flags.
    pub(crate) flags: u8,
    /// Fingerprint of the sender's type name.
    pub(crate) fingerprint: u32,
    /// Element type and element count of each payload, in order.
    pub payloads: Vec<(DType, usize)>,
    /// Where the body lies in the frame.
    pub(crate) body: std::ops::Range<usize>,
}

impl Header {
    /// Bytes of payload `i`.
    pub fn payload_bytes(&self, i: usize) -> usize {
        let (d, n) = self.payloads[i];
        n * d.size() // checked not to overflow when parsed
    }
}

/// The error for a message that cannot be decoded as `T`.
#[cold]
pub(crate) fn decode_error<T: ?Sized>(detail: impl std::fmt::Display) -> Error {
    Error::Decode { type_name: std::any::type_name::<T>(), detail: detail.to_string() }
}

/// Reads and checks the header and payload descriptors of `frame` (`T` names the error).
pub fn parse_header<T: ?Sized>(frame: &[u8]) -> Result<Header> {
    let err = decode_error::<T>;
    if frame.len() < HEADER_LEN {
        return Err(err(format!(
            "the message holds {} bytes, fewer than the {HEADER_LEN}-byte header of an object message (truncated, or not an object message)",
            frame.len()
        )));
    }
    if frame[0] != MAGIC {
        return Err(err(format!(
            "the message does not start with the object-message marker 0x{MAGIC:02X} (0x{:02X}): not an object message, or corrupted",
            frame[0]
        )));
    }
    if frame[1] != VERSION {
        return Err(err(format!("object-message format version {} (this build reads {VERSION})", frame[1])));
    }
    let flags = frame[2];
    if flags & !(FLAG_BODY_OOB | FLAG_CONTINUED) != 0 {
        return Err(err(format!("unknown header flags 0x{flags:02X}")));
    }
    if (flags & FLAG_CONTINUED != 0) != (frame.len() > EAGER) {
        return Err(err(format!(
            "the header's continuation flag does not match the frame's {} bytes (truncated or forged)",
            frame.len()
        )));
    }
    let fingerprint = u32::from_le_bytes(frame[3..7].try_into().expect("4 bytes"));
    let n = u32::from_le_bytes(frame[7..11].try_into().expect("4 bytes")) as usize;
    let room = (frame.len() - HEADER_LEN) / DESCRIPTOR_LEN;
    if n > room {
        return Err(err(format!(
            "the header announces {n} out-of-band payloads but the {}-byte message has room for the descriptors of {room} (forged or truncated)",
            frame.len()
        )));
    }
    let desc_start = frame.len() - n * DESCRIPTOR_LEN;
    let mut payloads = Vec::with_capacity(n);
    for (i, d) in frame[desc_start..].chunks_exact(DESCRIPTOR_LEN).enumerate() {
        let dtype = dtype_from_code(d[0])
            .ok_or_else(|| err(format!("payload {i}: unknown element type code {}", d[0])))?;
        let count = u64::from_le_bytes(d[1..9].try_into().expect("8 bytes"));
        let fits = usize::try_from(count)
            .ok()
            .filter(|&c| c.checked_mul(dtype.size()).is_some_and(|b| b <= isize::MAX as usize));
        let count =
            fits.ok_or_else(|| err(format!("payload {i}: {count} elements of {dtype} cannot exist")))?;
        payloads.push((dtype, count));
    }
    let body = HEADER_LEN..desc_start;
    if flags & FLAG_BODY_OOB != 0 && (!body.is_empty() || payloads.last().map(|p| p.0) != Some(DType::U8)) {
        return Err(err("the header says the body travels out of band, but the frame does not match".into()));
    }
    Ok(Header { flags, fingerprint, payloads, body })
}

/// A received out-of-band payload: a buffer allocated at its final size and alignment (or a
/// recycled one that fits, see [`RecvBuffer`](super::RecvBuffer)), handed over as a `Vec` to
/// the value that claims it.
pub struct Payload {
    ptr: NonNull<u8>,
    /// Bytes of data (initialised once the payload is filled).
    len: usize,
    /// Bytes allocated (the layout's size).
    cap: usize,
    dtype: DType,
}

// SAFETY: an owned heap buffer.
unsafe impl Send for Payload {}

impl Payload {
    fn layout(dtype: DType, bytes: usize) -> Option<Layout> {
        Layout::from_size_align(bytes, dtype_align(dtype)).ok()
    }

    /// A buffer for `count` elements of `dtype`, taken from `stash` when one there fits (same
    /// element type, enough capacity), else allocated. Its bytes are not initialised: the
    /// caller fills all of them before reading (MPI writes the whole message).
    pub(crate) fn alloc_uninit(dtype: DType, count: usize, stash: &mut Vec<Payload>) -> Result<Payload> {
        let bytes = count.checked_mul(dtype.size()).ok_or(Error::CountOverflow {
            what: "payload bytes",
            value: count,
            max: usize::MAX / dtype.size(),
        })?;
        if let Some(i) = stash.iter().position(|p| p.dtype == dtype && p.cap >= bytes) {
            let mut p = stash.swap_remove(i);
            p.len = bytes;
            return Ok(p);
        }
        let layout = Payload::layout(dtype, bytes).ok_or_else(|| {
            Error::InvalidArgument(format!("a payload of {bytes} bytes cannot be allocated"))
        })?;
        if bytes == 0 {
            // A dangling, aligned pointer, as an empty Vec has.
            let ptr = NonNull::new(layout.align() as *mut u8).expect("alignment is not 0");
            return Ok(Payload { ptr, len: 0, cap: 0, dtype });
        }
        // SAFETY: the size is not zero.
        let ptr = unsafe { std::alloc::alloc(layout) };
        let ptr = NonNull::new(ptr).ok_or_else(|| {
            Error::InvalidArgument(format!("out of memory allocating a payload of {bytes} bytes"))
        })?;
        prefault(ptr.as_ptr(), bytes);
        Ok(Payload { ptr, len: bytes, cap: bytes, dtype })
    }

    /// A payload holding a copy of `data` (whole elements of `dtype`).
    pub fn from_bytes(dtype: DType, data: &[u8]) -> Result<Payload> {
        if !data.len().is_multiple_of(dtype.size()) {
            return Err(Error::InvalidArgument(format!(
                "{} bytes are not whole {dtype} elements",
                data.len()
            )));
        }
        let p = Payload::alloc_uninit(dtype, data.len() / dtype.size(), &mut Vec::new())?;
        // SAFETY: the buffer holds data.len() bytes; this initialises all of them.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p.ptr.as_ptr(), data.len()) };
        Ok(p)
    }

    /// The allocation of `v`, to be reused by a later receive (`None` for no allocation).
    pub(crate) fn recycle<T: Element>(v: Vec<T>) -> Option<Payload> {
        let mut v = std::mem::ManuallyDrop::new(v);
        if v.capacity() == 0 || std::mem::size_of::<T>() == 0 {
            return None;
        }
        let cap = v.capacity() * std::mem::size_of::<T>();
        let ptr = NonNull::new(v.as_mut_ptr().cast::<u8>()).expect("a Vec with capacity is not null");
        // The layout of [T; capacity], which Payload::layout(T::DTYPE, cap) reproduces.
        Some(Payload { ptr, len: 0, cap, dtype: T::DTYPE })
    }

    /// Size in bytes.
    pub fn bytes(&self) -> usize {
        self.len
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Bytes allocated.
    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    /// Where MPI writes the payload.
    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The data; only once filled (all payloads reachable outside `p2p` are).
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: `len` bytes initialised by the receive or copy that filled the payload, or
        // dangling with length 0.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The buffer as a `Vec<T>`, without copying, if `T` is its element type.
    fn into_vec<T: Element>(self) -> std::result::Result<Vec<T>, String> {
        if T::DTYPE != self.dtype {
            return Err(format!(
                "an out-of-band payload of {} elements where the receiver's type expects {} elements",
                self.dtype,
                T::DTYPE
            ));
        }
        if self.dtype == DType::Bool && self.as_slice().iter().any(|&b| b > 1) {
            return Err("a bool payload holds bytes other than 0 and 1".into());
        }
        let size = self.dtype.size();
        let (len, cap) = (self.len / size, self.cap / size);
        if cap == 0 {
            return Ok(Vec::new());
        }
        // Vec::from_raw_parts needs exactly the layout of [T; cap].
        let same = Layout::array::<T>(cap).ok() == Payload::layout(self.dtype, self.cap);
        if !same || std::mem::size_of::<T>() != size {
            return Err(format!("internal: payload layout does not match {}", std::any::type_name::<T>()));
        }
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: allocated by the global allocator with the layout of [T; cap] (checked); the
        // first `len` elements are initialised and every bit pattern is a valid T (Element's
        // contract; bools checked above).
        Ok(unsafe { Vec::from_raw_parts(this.ptr.as_ptr().cast::<T>(), len, cap) })
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        if self.cap > 0 {
            if let Some(layout) = Payload::layout(self.dtype, self.cap) {
                // SAFETY: allocated (by `alloc_uninit` or as a Vec) with this layout.
                unsafe { std::alloc::dealloc(self.ptr.as_ptr(), layout) };
            }
        }
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Payload({} bytes of {})", self.len, self.dtype)
    }
}

/// Pops the decoding context it pushed, also on a panic in a user's `Deserialize`.
struct DecodeGuard;

impl DecodeGuard {
    fn push(payloads: Vec<Payload>) -> DecodeGuard {
        DECODING.with(|s| s.borrow_mut().push(payloads.into_iter().map(Some).collect()));
        DecodeGuard
    }
    fn finish(self) -> Vec<Option<Payload>> {
        let left = DECODING.with(|s| s.borrow_mut().pop()).unwrap_or_default();
        std::mem::forget(self);
        left
    }
}

impl Drop for DecodeGuard {
    fn drop(&mut self) {
        DECODING.with(|s| s.borrow_mut().pop());
    }
}

/// Called by `OobVec`'s `Deserialize` on an out-of-band placeholder: takes payload `index`.
pub(crate) fn take_payload<T: Element>(index: u32) -> std::result::Result<Vec<T>, String> {
    let p = DECODING.with(|s| {
        let mut s = s.try_borrow_mut().map_err(|_| "internal: decoding context busy".to_string())?;
        let ctx = s.last_mut().ok_or("an out-of-band placeholder outside an object message")?;
        let n = ctx.len();
        let slot = ctx
            .get_mut(index as usize)
            .ok_or_else(|| format!("placeholder for payload {index}, but the message has {n}"))?;
        slot.take().ok_or_else(|| format!("payload {index} is claimed twice (forged placeholder)"))
    })?;
    p.into_vec::<T>()
}

/// Decodes a frame and its payloads (in header order; the last is the body when the header
/// says so) as a `T`.
pub fn decode<T: DeserializeOwned>(frame: &[u8], payloads: Vec<Payload>) -> Result<T> {
    let header = parse_header::<T>(frame)?;
    decode_parsed(frame, &header, payloads)
}

/// [`decode`] with the header already parsed.
pub(crate) fn decode_parsed<T: DeserializeOwned>(
    frame: &[u8],
    header: &Header,
    mut payloads: Vec<Payload>,
) -> Result<T> {
    let err = decode_error::<T>;
    if payloads.len() != header.payloads.len() {
        return Err(err(format!(
            "{} payloads received, the header announces {}",
            payloads.len(),
            header.payloads.len()
        )));
    }
    for (i, (p, &(dtype, count))) in payloads.iter().zip(&header.payloads).enumerate() {
        if p.dtype != dtype || p.len != count * dtype.size() {
            return Err(err(format!(
                "payload {i}: {p:?} received, the header announces {count} elements of {dtype}"
            )));
        }
    }
    let body_payload = (header.flags & FLAG_BODY_OOB != 0).then(|| payloads.pop()).flatten();
    let body = match &body_payload {
        Some(p) => p.as_slice(),
        None => &frame[header.body.clone()],
    };
    decode_body::<T>(body, payloads, header.fingerprint)
}

fn decode_body<T: DeserializeOwned>(body: &[u8], payloads: Vec<Payload>, sender: u32) -> Result<T> {
    let hint = |detail: String| {
        let hint = if sender == fingerprint::<T>() {
            "the sender named the same type, so the bytes were altered or the two programs define it differently"
        } else {
            "the sender's type has another name: probably a type mismatch between sender and receiver"
        };
        decode_error::<T>(format!("{detail} ({hint})"))
    };
    validate(body, MAX_DEPTH).map_err(hint)?;
    // Without payloads there is nothing to claim: a placeholder then finds no context (or an
    // index past the end) and fails, as it should.
    let guard = (!payloads.is_empty()).then(|| DecodeGuard::push(payloads));
    let mut de = rmp_serde::Deserializer::from_read_ref(body);
    de.set_max_depth(MAX_DEPTH + 2);
    // The structural check made sure the body is exactly one value, and rmp-serde fails on
    // an array or map that is not read to its end, so a value that decodes used every byte.
    let value = T::deserialize(&mut de);
    let left = guard.map(DecodeGuard::finish).unwrap_or_default();
    let value = value.map_err(|e| hint(describe(e)))?;
    let unused: Vec<usize> = left.iter().enumerate().filter(|(_, p)| p.is_some()).map(|(i, _)| i).collect();
    if !unused.is_empty() {
        return Err(hint(format!("out-of-band payload(s) {unused:?} are not part of the receiver's type")));
    }
    Ok(value)
}

/// rmp-serde's error in words a user can act on.
fn describe(e: rmp_serde::decode::Error) -> String {
    use rmp::Marker as M;
    use rmp_serde::decode::Error as E;
    match e {
        E::TypeMismatch(m) => {
            let found = match m {
                M::FixPos(_)
                | M::FixNeg(_)
                | M::U8
                | M::U16
                | M::U32
                | M::U64
                | M::I8
                | M::I16
                | M::I32
                | M::I64 => "an integer",
                M::F32 | M::F64 => "a float",
                M::FixStr(_) | M::Str8 | M::Str16 | M::Str32 => "a string",
                M::Bin8 | M::Bin16 | M::Bin32 => "binary data",
                M::FixArray(_) | M::Array16 | M::Array32 => "an array (a struct, tuple or sequence)",
                M::FixMap(_) | M::Map16 | M::Map32 => "a map (or an enum variant with data)",
                M::Null => "nil (unit or None)",
                M::True | M::False => "a bool",
                M::Reserved => "an invalid marker",
                _ => "an extension (out-of-band placeholder)",
            };
            format!("type mismatch: the message holds {found} where the receiver's type expects another kind of value")
        }
        E::LengthMismatch(n) => {
            format!(
                "type mismatch: an array of {n} elements where the receiver's type expects another length"
            )
        }
        E::OutOfRange => "type mismatch: a number out of range for the receiver's type".into(),
        E::Syntax(s) => format!("type mismatch: {s}"),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// The structural check.

/// Checks that `body` is exactly one MessagePack value whose every length fits in the bytes
/// that follow it, nested at most `max_depth` deep. Iterative: no input can exhaust the stack.
pub fn validate(body: &[u8], max_depth: usize) -> std::result::Result<(), String> {
    let end = body.len();
    let mut pos = 0usize;
    // Items still to read in each open array or map; `pending` is the innermost's. The first
    // levels live on the stack (no allocation for common values), deeper ones in `open`.
    let mut open = Levels { inline: [0; 24], depth: 0, spill: Vec::new() };
    let mut pending: u64 = 1;
    loop {
        while pending == 0 {
            match open.pop() {
                Some(p) => pending = p,
                None if pos == end => return Ok(()),
                None => {
                    return Err(format!(
                        "{} bytes follow the value (a longer message than the receiver's type reads)",
                        end - pos
                    ))
                }
            }
        }
        pending -= 1;
        let at = pos;
        let marker =
            *body.get(pos).ok_or_else(|| format!("the message ends early, at byte {pos} (truncated?)"))?;
        pos += 1;
        let read_len = |pos: &mut usize, n: usize| -> std::result::Result<u64, String> {
            let b = body
                .get(*pos..*pos + n)
                .ok_or_else(|| format!("the message ends inside a length at byte {at}"))?;
            *pos += n;
            Ok(b.iter().fold(0u64, |acc, &x| acc << 8 | x as u64))
        };
        // (bytes to skip, items to open)
        let (skip, items): (u64, u64) = match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
            0x80..=0x8f => (0, 2 * (marker & 0x0f) as u64),
            0x90..=0x9f => (0, (marker & 0x0f) as u64),
            0xa0..=0xbf => ((marker & 0x1f) as u64, 0),
            0xc1 => return Err(format!("invalid MessagePack marker 0xC1 at byte {at}")),
            0xc4 | 0xd9 => (read_len(&mut pos, 1)?, 0),
            0xc5 | 0xda => (read_len(&mut pos, 2)?, 0),
            0xc6 | 0xdb => (read_len(&mut pos, 4)?, 0),
            0xc7 => (read_len(&mut pos, 1)? + 1, 0),
            0xc8 => (read_len(&mut pos, 2)? + 1, 0),
            0xc9 => (read_len(&mut pos, 4)? + 1, 0),
            0xca | 0xce | 0xd2 => (4, 0),
            0xcb | 0xcf | 0xd3 => (8, 0),
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xd4 => (2, 0),
            0xd5 => (3, 0),
            0xd6 => (5, 0),
            0xd7 => (9, 0),
            0xd8 => (17, 0),
            0xdc => (0, read_len(&mut pos, 2)?),
            0xdd => (0, read_len(&mut pos, 4)?),
            0xde => (0, 2 * read_len(&mut pos, 2)?),
            0xdf => (0, 2 * read_len(&mut pos, 4)?),
        };
        let left = (end - pos) as u64;
        if skip > left {
            return Err(format!(
                "a value at byte {at} claims {skip} bytes but only {left} remain (truncated or forged length)"
            ));
        }
        pos += skip as usize;
        if items > 0 {
            if items > (end - pos) as u64 {
                return Err(format!(
                    "an array or map at byte {at} claims {items} items but only {} bytes remain (truncated or forged length)",
                    end - pos
                ));
            }
            if open.depth >= max_depth {
                return Err(format!("nesting deeper than {max_depth} levels at byte {at}"));
            }
            open.push(pending);
            pending = items;
        }
    }
}

/// The stack of open containers of [`validate`].
struct Levels {
    inline: [u64; 24],
    depth: usize,
    spill: Vec<u64>,
}

impl Levels {
    fn push(&mut self, v: u64) {
        match self.inline.get_mut(self.depth) {
            Some(slot) => *slot = v,
            None => self.spill.push(v),
        }
        self.depth += 1;
    }

    fn pop(&mut self) -> Option<u64> {
        self.depth = self.depth.checked_sub(1)?;
        match self.inline.get(self.depth) {
            Some(&v) => Some(v),
            None => self.spill.pop(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_codes_round_trip() {
        for d in DType::ALL {
            assert_eq!(dtype_from_code(dtype_code(d)), Some(d));
        }
        assert_eq!(dtype_from_code(15), None);
    }

    #[test]
    fn round_trip_without_mpi() {
        let v = (1u32, String::from("hé"), vec![1.5f64, -2.0], Some(7i8));
        let e = encode_with(&v, DEFAULT_THRESHOLD).unwrap();
        assert_eq!(e.payload_count(), 0);
        let back: (u32, String, Vec<f64>, Option<i8>) = decode(e.frame(), vec![]).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn validator_rejects_forged_lengths_and_depth() {
        // array32 claiming 2^32-1 items in 6 bytes
        assert!(validate(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0x01], 8).is_err());
        // str8 of 10 bytes with 2 present
        assert!(validate(&[0xd9, 10, b'a', b'b'], 8).is_err());
        // nesting
        assert!(validate(&[0x91, 0x91, 0x91, 0x01], 2).is_err());
        assert!(validate(&[0x91, 0x91, 0x91, 0x01], 3).is_ok());
        // trailing bytes
        assert!(validate(&[0x01, 0x02], 8).is_err());
        assert!(validate(&[], 8).is_err());
    }
}
