//! Fuzzes the object-message decoder: `cargo +nightly fuzz run decode`.
//!
//! Each input is decoded as the receiver would: the frame's header is parsed, each announced
//! out-of-band payload is taken from the bytes after the frame (a receiver only allocates a
//! payload once MPI shows a message of exactly that size; here, once the input holds it), then
//! the body is decoded as a `Sample` — a type with every serde shape: integers of each width,
//! floats, bool, char, strings, bytes, options, sequences, maps, tuples, unit and data-carrying
//! enum variants, a recursive type, and out-of-band arrays of several element types. The
//! decoder must return `Ok` or `Err`, never panic, overflow the stack, or allocate beyond what
//! the input holds (libFuzzer's `-rss_limit_mb` and `-malloc_limit_mb` catch that).
//!
//! Half of the inputs (first byte even) are used raw. The other half build a valid `Sample`
//! from the input (structure-aware), encode it with a threshold taken from the input so that
//! some arrays go out of band, then corrupt the encoding with edits taken from the input, so
//! the fuzzer also reaches the deep paths behind a valid header.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use mpi4rs::object::{codec, OobBytes, OobVec, Payload};
use num_complex::Complex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Arbitrary, Serialize, Deserialize, Debug, Clone)]
enum Kind {
    Unit,
    Newtype(i64),
    Tuple(u8, String),
    Struct { a: f32, b: Option<bool> },
}

#[derive(Arbitrary, Serialize, Deserialize, Debug, Clone)]
struct Tree {
    value: i32,
    children: Vec<Tree>,
}

#[derive(Arbitrary, Debug, Clone)]
struct Seed {
    ints: (u8, u16, u32, u64, i8, i16, i32, i64),
    floats: (f32, f64),
    flag: bool,
    letter: char,
    text: String,
    list: Vec<String>,
    kinds: Vec<Kind>,
    map: BTreeMap<String, Vec<i32>>,
    maybe: Option<Box<Kind>>,
    tree: Tree,
    field: Vec<f64>,
    bytes: Vec<u8>,
    mask: Vec<bool>,
    waves: Vec<(f32, f32)>,
    unit: (),
}

#[derive(Serialize, Deserialize, Debug)]
struct Sample {
    ints: (u8, u16, u32, u64, i8, i16, i32, i64),
    floats: (f32, f64),
    flag: bool,
    letter: char,
    text: String,
    list: Vec<String>,
    kinds: Vec<Kind>,
    map: BTreeMap<String, Vec<i32>>,
    maybe: Option<Box<Kind>>,
    tree: Tree,
    field: OobVec<f64>,
    bytes: OobBytes,
    mask: OobVec<bool>,
    waves: OobVec<Complex<f32>>,
    unit: (),
}

impl From<Seed> for Sample {
    fn from(s: Seed) -> Sample {
        Sample {
            ints: s.ints,
            floats: s.floats,
            flag: s.flag,
            letter: s.letter,
            text: s.text,
            list: s.list,
            kinds: s.kinds,
            map: s.map,
            maybe: s.maybe,
            tree: s.tree,
            field: s.field.into(),
            bytes: s.bytes.into(),
            mask: s.mask.into(),
            waves: s.waves.into_iter().map(|(re, im)| Complex::new(re, im)).collect(),
            unit: s.unit,
        }
    }
}

/// Decodes `frame` with payloads taken from `rest`, as a receiver does.
fn decode_like_a_receiver(frame: &[u8], mut rest: &[u8]) {
    let Ok(header) = codec::parse_header::<Sample>(frame) else {
        // The receiver stops at a bad header; decoding repeats the check.
        assert!(codec::decode::<Sample>(frame, Vec::new()).is_err());
        return;
    };
    let mut payloads = Vec::new();
    for (i, &(dtype, _)) in header.payloads.iter().enumerate() {
        let want = header.payload_bytes(i);
        if want > rest.len() {
            return; // MPI would show a message of another size: an error before allocating
        }
        let p = Payload::from_bytes(dtype, &rest[..want]).expect("whole elements");
        rest = &rest[want..];
        payloads.push(p);
    }
    let _ = codec::decode::<Sample>(frame, payloads);
    // Other receivers of the same bytes.
    let _ = codec::decode::<String>(frame, Vec::new());
    let _ = codec::decode::<Vec<u64>>(frame, Vec::new());
    let _ = codec::decode::<(Kind, OobVec<f64>)>(frame, Vec::new());
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else { return };
    if mode % 2 == 0 {
        // Raw: a 2-byte frame length, the frame, then payload bytes.
        if data.len() < 2 {
            return;
        }
        let len = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
        decode_like_a_receiver(&data[2..2 + len], &data[2 + len..]);
        return;
    }
    // Structure-aware: a valid Sample, encoded, then corrupted.
    let mut u = Unstructured::new(data);
    let Ok(seed) = Seed::arbitrary(&mut u) else { return };
    let threshold = u.int_in_range(0..=64usize).unwrap_or(0);
    let sample = Sample::from(seed);
    let Ok(enc) = codec::encode_with(&sample, threshold) else { return };
    let mut frame = enc.frame().to_vec();
    let mut payload_bytes = Vec::new();
    for i in 0..enc.payload_count() {
        payload_bytes.extend_from_slice(enc.payload(i));
    }
    // Unedited, it must decode.
    if u.is_empty() {
        let payloads = (0..enc.payload_count())
            .map(|i| Payload::from_bytes(enc.payload_dtype(i), enc.payload(i)).expect("whole elements"))
            .collect();
        match codec::decode::<Sample>(&frame, payloads) {
            Ok(_) => {}
            // The one documented refusal of a valid encoding: nesting past MAX_DEPTH.
            Err(e) if e.to_string().contains("nesting deeper than") => {}
            Err(e) => panic!("a valid encoding does not decode: {e}"),
        }
        return;
    }
    // (Unstructured yields defaults once exhausted: stop there.)
    for _ in 0..16 {
        if u.is_empty() {
            break;
        }
        let edit = u.int_in_range(0..=3u8).unwrap_or(0);
        let at = u.int_in_range(0..=frame.len()).unwrap_or(0);
        match edit {
            0 if at < frame.len() => frame[at] = u.arbitrary().unwrap_or(0),
            1 => frame.truncate(at),
            2 => frame.insert(at, u.arbitrary().unwrap_or(0)),
            3 if !payload_bytes.is_empty() => {
                let len = payload_bytes.len();
                payload_bytes.truncate(at % len);
            }
            _ => {}
        }
    }
    decode_like_a_receiver(&frame, &payload_bytes);
});
