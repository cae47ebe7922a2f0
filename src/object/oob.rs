//! Large contiguous arrays inside objects that travel out of band, as mpi4py's `util.pkl5`
//! sends pickle-5 buffers: [`OobVec<T>`] (and [`OobBytes`]) as a field type, or the
//! [`oob`](self) functions on a plain `Vec<T>` field with `#[serde(with = "mpi4rs::object::oob")]`.
//!
//! Inside an object message, an array of at least [`threshold`](super::threshold) bytes is
//! replaced in the body by a 6-byte placeholder (a MessagePack extension holding its index) and
//! sent as a message of its own straight from the `Vec`'s memory; the receiver allocates the
//! `Vec` at its final size, receives into it and hands it to the decoded value without a copy.
//! A smaller array travels inside the body as one MessagePack binary (one `memcpy`, no
//! per-element work). Outside object messages (JSON, another format) both serialise as a
//! plain sequence, so the same types can be stored or printed as usual.
//!
//! Why not every `Vec<f64>`: serde hands a `Vec<f64>` to a format one element at a time and
//! builds a received one by pushing element after element, so neither side can lend or adopt
//! the allocation; the wrapper (or the `with` attribute) opts a field into the zero-copy path.
//!
//! ```
//! use mpi4rs::object::OobVec;
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Field {
//!     name: String,
//!     values: OobVec<f64>,                     // out of band when large
//!     #[serde(with = "mpi4rs::object::oob")]
//!     weights: Vec<f32>,                       // the same, on a plain Vec
//! }
//! let f = Field { name: "u".into(), values: vec![0.0; 1 << 16].into(), weights: vec![1.0; 8] };
//! assert_eq!(f.values.len(), 1 << 16);         // derefs to Vec<f64>
//! ```

use super::codec::{place, take_payload, Placement, EXT_TAG};
use mpi4rs_device::Element;
use serde::de::{self, Deserialize, DeserializeOwned, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeTuple, Serializer};
use std::fmt;
use std::marker::PhantomData;

/// A `Vec<T>` that travels out of band in object messages when it is large (see the module
/// documentation). Derefs to `Vec<T>`.
#[derive(Clone, Debug, Default, PartialEq, PartialOrd)]
pub struct OobVec<T: Element>(pub Vec<T>);

/// A byte buffer that travels out of band when large.
pub type OobBytes = OobVec<u8>;

impl<T: Element> OobVec<T> {
    /// Wraps `v`.
    pub fn new(v: Vec<T>) -> Self {
        OobVec(v)
    }

    /// The `Vec` inside.
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}

impl<T: Element> From<Vec<T>> for OobVec<T> {
    fn from(v: Vec<T>) -> Self {
        OobVec(v)
    }
}

impl<T: Element> From<OobVec<T>> for Vec<T> {
    fn from(v: OobVec<T>) -> Self {
        v.0
    }
}

impl<T: Element> std::ops::Deref for OobVec<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T: Element> std::ops::DerefMut for OobVec<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<T: Element> FromIterator<T> for OobVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        OobVec(iter.into_iter().collect())
    }
}

impl<T: Element + Serialize> Serialize for OobVec<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize(&self.0, s)
    }
}

impl<'de, T: Element + DeserializeOwned> Deserialize<'de> for OobVec<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize(d).map(OobVec)
    }
}

/// The bytes of a slice of elements (which have no padding).
fn as_bytes<T: Element>(v: &[T]) -> &[u8] {
    // SAFETY: Element types are plain data without padding; any initialised T is initialised bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

/// `serialize_bytes` for a borrowed slice (MessagePack binary).
struct RawBytes<'a>(&'a [u8]);

impl Serialize for RawBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// The placeholder: rmp-serde's extension `(type, data)`.
struct Placeholder(u32);

impl Serialize for Placeholder {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&EXT_TAG)?;
        t.serialize_element(&RawBytes(&self.0.to_le_bytes()))?;
        t.end()
    }
}

/// Serialises `v` out of band (inside an object message, when large), inline as binary
/// (inside one, when small) or as a plain sequence (any other format). For
/// `#[serde(with = "mpi4rs::object::oob")]` on a `Vec<T>` field.
pub fn serialize<T: Element + Serialize, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        return v.serialize(s);
    }
    match place(v.as_ptr().cast(), std::mem::size_of_val(v), T::DTYPE) {
        Placement::Plain => v.serialize(s),
        Placement::Inline => s.serialize_bytes(as_bytes(v)),
        Placement::OutOfBand(i) => {
            s.serialize_newtype_struct(rmp_serde::MSGPACK_EXT_STRUCT_NAME, &Placeholder(i))
        }
    }
}

/// Deserialises what [`serialize`] wrote: a placeholder (taking the received payload, no
/// copy), a binary (one copy) or a sequence. For `#[serde(with = "mpi4rs::object::oob")]`.
pub fn deserialize<'de, T: Element + DeserializeOwned, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    if d.is_human_readable() {
        return Vec::<T>::deserialize(d);
    }
    d.deserialize_any(OobVisitor(PhantomData))
}

struct OobVisitor<T>(PhantomData<T>);

impl<'de, T: Element + DeserializeOwned> Visitor<'de> for OobVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of {} (out-of-band payload, binary or sequence)", T::DTYPE)
    }

    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Vec<T>, E> {
        let size = std::mem::size_of::<T>();
        if !b.len().is_multiple_of(size) {
            return Err(E::custom(format!(
                "{} bytes are not a whole number of {} elements",
                b.len(),
                T::DTYPE
            )));
        }
        if T::DTYPE == mpi4rs_device::DType::Bool && b.iter().any(|&x| x > 1) {
            return Err(E::custom("a bool array holds bytes other than 0 and 1"));
        }
        let n = b.len() / size;
        let mut v = Vec::<T>::with_capacity(n);
        // SAFETY: capacity n; the bytes are n whole elements, every bit pattern valid for T
        // (Element's contract; bools checked above).
        unsafe {
            std::ptr::copy_nonoverlapping(b.as_ptr(), v.as_mut_ptr().cast::<u8>(), b.len());
            v.set_len(n);
        }
        Ok(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        // The structural check bounds the hint by the bytes that follow.
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(x) = seq.next_element()? {
            v.push(x);
        }
        Ok(v)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        let index = d.deserialize_tuple(2, ExtVisitor)?;
        take_payload::<T>(index).map_err(de::Error::custom)
    }
}

/// Reads rmp-serde's extension `(type, data)` as a placeholder index.
struct ExtVisitor;

impl<'de> Visitor<'de> for ExtVisitor {
    type Value = u32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an out-of-band placeholder")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u32, A::Error> {
        let tag: i8 = seq.next_element()?.ok_or_else(|| de::Error::custom("extension without a type"))?;
        if tag != EXT_TAG {
            return Err(de::Error::custom(format!(
                "MessagePack extension type {tag} is not an out-of-band placeholder"
            )));
        }
        let data = seq.next_element::<Data4>()?.ok_or_else(|| de::Error::custom("extension without data"))?;
        Ok(u32::from_le_bytes(data.0))
    }
}

/// Exactly four bytes.
struct Data4([u8; 4]);

impl<'de> Deserialize<'de> for Data4 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Data4;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("4 bytes")
            }
            fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Data4, E> {
                b.try_into().map(Data4).map_err(|_| E::invalid_length(b.len(), &self))
            }
        }
        d.deserialize_bytes(V)
    }
}
