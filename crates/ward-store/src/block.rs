//! Log blocks: many log records of one (tenant, resource, scope, level, day) in one compressed
//! value, with a Bloom filter of their words and trace ids. Pure: no database, no I/O.
//!
//! Log partitions store blocks rather than one row per record (see `schema::partition_ddl`):
//! one table row and one index entry per block make the writer's cost per record a few bytes
//! of encoding instead of B-tree inserts into every index and a full-text index.
//!
//! # Records
//!
//! Encoding, before compression: a version byte, then per record, in time order:
//!
//! | field | encoding |
//! |---|---|
//! | time | zigzag varint, difference to the previous record's time (to 0 for the first) |
//! | observed time | zigzag varint, difference to the record's time |
//! | severity number | one byte |
//! | flags | one byte: 1 trace id, 2 span id, 4 attributes |
//! | trace id, span id | 16 and 8 raw bytes, when flagged |
//! | severity text, body, attributes JSON | varint length + UTF-8 bytes (attributes when flagged) |
//!
//! The stored value is a varint of the encoded length followed by one zstd frame of it. The
//! decoder checks every length and every string against the remaining bytes and never panics
//! on a corrupt value.
//!
//! # Bloom filter
//!
//! Each block carries a Bloom filter of the keys ([`token_key`], [`trace_key`]) of every token
//! of its bodies (`ward_model::filter::tokens`) and of every trace id: a query for a word or a
//! trace id decodes only the blocks whose filter may contain it. About 10 bits per distinct key
//! and 7 probes: about 1% of the blocks without the key are decoded anyway (and then find
//! nothing). Stored as one byte holding the number of probes, then the bit array. The key
//! function is part of the format: changing it needs a new partition template.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash;

use crate::error::{Result, StoreError};

const FORMAT_VERSION: u8 = 1;

/// Longest time a block covers: a new block starts when a record is this much newer than the
/// block's oldest. Queries rely on it: a block whose newest record is before
/// `t + MAX_BLOCK_SPAN_NS` is the newest that can hold a record older than `t`. Part of the
/// partition template: changing it needs a new `schema::PARTITION_TEMPLATE_VERSION`.
pub(crate) const MAX_BLOCK_SPAN_NS: i64 = 60 * 1_000_000_000;
/// Most records in a block. Bounds what a query decodes to reach one record.
pub(crate) const MAX_BLOCK_RECORDS: usize = 1024;
/// A block is closed once its encoded records exceed this many bytes.
pub(crate) const MAX_BLOCK_BYTES: usize = 1 << 20;

/// Bloom filter bits per distinct key, and probes per key (about 1% false positives).
const BLOOM_BITS_PER_KEY: usize = 10;
const BLOOM_PROBES: u8 = 7;
/// zstd level: 1 is the fastest of the standard levels and already shrinks log text 4–8×.
const ZSTD_LEVEL: i32 = 1;
/// Largest encoded block the decoder accepts; the writer cuts blocks far below this.
const MAX_RAW_BYTES: u64 = 1 << 30;

// zstd contexts cost far more to create (allocation and initialisation of some hundred KiB)
// than a block does to (de)compress, so each thread keeps one. `None` if creation failed: the
// one-shot functions then make their own.
thread_local! {
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> =
        RefCell::new(zstd::bulk::Compressor::new(ZSTD_LEVEL).ok());
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        RefCell::new(zstd::bulk::Decompressor::new().ok());
}

const HAS_TRACE: u8 = 1;
const HAS_SPAN: u8 = 2;
const HAS_ATTRIBUTES: u8 = 4;

/// One log record as a block holds it (its resource and scope belong to the block). Borrowed
/// both when encoding (from the batch) and decoding (from the decompressed block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    pub(crate) time: i64,
    pub(crate) observed: i64,
    pub(crate) severity_number: u8,
    pub(crate) trace_id: Option<[u8; 16]>,
    pub(crate) span_id: Option<[u8; 8]>,
    pub(crate) severity_text: &'a str,
    pub(crate) body: &'a str,
    pub(crate) attributes: Option<&'a str>,
}

/// Accumulates encoded records; [`Encoder::finish`] compresses them.
pub(crate) struct Encoder {
    raw: Vec<u8>,
    count: usize,
    prev_time: i64,
}

impl Encoder {
    pub(crate) fn new() -> Encoder {
        Encoder {
            raw: vec![FORMAT_VERSION],
            count: 0,
            prev_time: 0,
        }
    }

    /// Records added so far.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Encoded bytes so far (before compression).
    pub(crate) fn raw_len(&self) -> usize {
        self.raw.len()
    }

    pub(crate) fn push(&mut self, e: &Entry<'_>) {
        let out = &mut self.raw;
        put_signed(out, e.time.wrapping_sub(self.prev_time));
        put_signed(out, e.observed.wrapping_sub(e.time));
        out.push(e.severity_number);
        let mut flags = 0;
        if e.trace_id.is_some() {
            flags |= HAS_TRACE;
        }
        if e.span_id.is_some() {
            flags |= HAS_SPAN;
        }
        if e.attributes.is_some() {
            flags |= HAS_ATTRIBUTES;
        }
        out.push(flags);
        if let Some(t) = &e.trace_id {
            out.extend_from_slice(t);
        }
        if let Some(s) = &e.span_id {
            out.extend_from_slice(s);
        }
        put_str(out, e.severity_text);
        put_str(out, e.body);
        if let Some(a) = e.attributes {
            put_str(out, a);
        }
        self.prev_time = e.time;
        self.count += 1;
    }

    /// The stored value: the encoded length, then the compressed records.
    pub(crate) fn finish(self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.raw.len() / 4 + 16);
        put_unsigned(&mut out, self.raw.len() as u64);
        let compressed = COMPRESSOR
            .with(|c| match &mut *c.borrow_mut() {
                Some(c) => c.compress(&self.raw),
                None => zstd::bulk::compress(&self.raw, ZSTD_LEVEL),
            })
            .map_err(|e| StoreError::WriteFailed(format!("cannot compress a log block: {e}")))?;
        out.extend_from_slice(&compressed);
        Ok(out)
    }
}

/// A decompressed block; [`Decoded::entries`] reads its records.
pub(crate) struct Decoded {
    raw: Vec<u8>,
}

impl Decoded {
    /// Decompresses a stored value.
    pub(crate) fn new(stored: &[u8]) -> Result<Decoded> {
        let mut input = Input(stored);
        let len = input.unsigned()?;
        if len > MAX_RAW_BYTES {
            return Err(corrupt("length"));
        }
        let raw = DECOMPRESSOR
            .with(|d| match &mut *d.borrow_mut() {
                Some(d) => d.decompress(input.0, len as usize),
                None => zstd::bulk::decompress(input.0, len as usize),
            })
            .map_err(|e| StoreError::Corrupt(format!("log block: {e}")))?;
        if raw.len() as u64 != len {
            return Err(corrupt("length"));
        }
        Ok(Decoded { raw })
    }

    /// The records, in the order they were added.
    pub(crate) fn entries(&self) -> Result<Vec<Entry<'_>>> {
        let mut input = Input(&self.raw);
        if input.byte()? != FORMAT_VERSION {
            return Err(corrupt("format version"));
        }
        let mut out = Vec::new();
        let mut time = 0i64;
        while !input.0.is_empty() {
            time = time.wrapping_add(input.signed()?);
            let observed = time.wrapping_add(input.signed()?);
            let severity_number = input.byte()?;
            let flags = input.byte()?;
            if flags & !(HAS_TRACE | HAS_SPAN | HAS_ATTRIBUTES) != 0 {
                return Err(corrupt("flags"));
            }
            let trace_id = (flags & HAS_TRACE != 0)
                .then(|| input.array::<16>())
                .transpose()?;
            let span_id = (flags & HAS_SPAN != 0)
                .then(|| input.array::<8>())
                .transpose()?;
            let severity_text = input.str()?;
            let body = input.str()?;
            let attributes = (flags & HAS_ATTRIBUTES != 0)
                .then(|| input.str())
                .transpose()?;
            out.push(Entry {
                time,
                observed,
                severity_number,
                trace_id,
                span_id,
                severity_text,
                body,
                attributes,
            });
        }
        Ok(out)
    }
}

/// The key of a lower-cased token (as `ward_model::filter::tokens` yields it) in Bloom filters.
pub(crate) fn token_key(lowercased: &str) -> u64 {
    finish(lowercased.bytes().fold(FNV_OFFSET, fnv_step))
}

/// The key of a trace id in Bloom filters. The leading 0xFF never occurs in UTF-8, so a trace
/// id cannot share a key with a token (other than by a hash collision).
pub(crate) fn trace_key(id: &[u8; 16]) -> u64 {
    finish(
        id.iter()
            .copied()
            .fold(fnv_step(FNV_OFFSET, 0xFF), fnv_step),
    )
}

/// The key of a token as written: equal to `token_key` of its lower-case form, without
/// allocating for ASCII.
fn raw_token_key(token: &str) -> u64 {
    if token.is_ascii() {
        finish(
            token
                .bytes()
                .map(|b| b.to_ascii_lowercase())
                .fold(FNV_OFFSET, fnv_step),
        )
    } else {
        token_key(&token.to_lowercase())
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a: short keys (tokens average a few bytes), stable across builds and platforms.
fn fnv_step(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
}

/// The SplitMix64 finalizer: spreads FNV's weak high bits over the whole word.
fn finish(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Bit positions of `key` in a filter of `bits` bits (double hashing).
fn probes(key: u64, bits: u64, count: u8) -> impl Iterator<Item = u64> {
    let h1 = key & 0xffff_ffff;
    let h2 = (key >> 32) | 1;
    (0..u64::from(count)).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % bits)
}

/// Builds the stored Bloom filter of `keys` (duplicates allowed; sorted and removed here).
fn bloom(keys: &mut Vec<u64>) -> Vec<u8> {
    keys.sort_unstable();
    keys.dedup();
    let bytes = (keys.len() * BLOOM_BITS_PER_KEY).div_ceil(8).max(8);
    let mut out = vec![0u8; 1 + bytes];
    out[0] = BLOOM_PROBES;
    let bits = (bytes * 8) as u64;
    for &key in keys.iter() {
        for bit in probes(key, bits, BLOOM_PROBES) {
            out[1 + (bit / 8) as usize] |= 1 << (bit % 8);
        }
    }
    out
}

/// Whether a stored Bloom filter may contain `key` (false: certainly not). A malformed filter
/// answers true, so that it can only cost time, never results.
pub(crate) fn may_contain(bloom: &[u8], key: u64) -> bool {
    let Some((&count, bitmap)) = bloom.split_first() else {
        return true;
    };
    if bitmap.is_empty() || count == 0 {
        return true;
    }
    let bits = bitmap.len() as u64 * 8;
    probes(key, bits, count).all(|bit| bitmap[(bit / 8) as usize] & (1 << (bit % 8)) != 0)
}

/// A record on its way into a block, with what its block must share (`G`, which includes the
/// day).
pub(crate) struct Row<'a, G> {
    pub(crate) group: G,
    pub(crate) entry: Entry<'a>,
}

/// A finished block of group `G`.
pub(crate) struct Block<G> {
    pub(crate) group: G,
    pub(crate) min_time: i64,
    pub(crate) max_time: i64,
    pub(crate) count: usize,
    /// The stored records ([`Decoded::new`] reads them).
    pub(crate) data: Vec<u8>,
    /// The stored Bloom filter ([`may_contain`]).
    pub(crate) bloom: Vec<u8>,
}

/// A block being filled.
struct Open {
    encoder: Encoder,
    keys: Vec<u64>,
    min_time: i64,
    max_time: i64,
}

impl Open {
    fn new(time: i64) -> Open {
        Open {
            encoder: Encoder::new(),
            keys: Vec::new(),
            min_time: time,
            max_time: time,
        }
    }

    /// Whether a record at `time` (never older than the block's: rows come in time order)
    /// must start a new block.
    fn is_full(&self, time: i64) -> bool {
        self.encoder.count() >= MAX_BLOCK_RECORDS
            || self.encoder.raw_len() >= MAX_BLOCK_BYTES
            || time.saturating_sub(self.min_time) > MAX_BLOCK_SPAN_NS
    }

    fn push(&mut self, e: &Entry<'_>) {
        self.encoder.push(e);
        self.max_time = self.max_time.max(e.time);
        self.keys
            .extend(ward_model::filter::raw_tokens(e.body).map(raw_token_key));
        if let Some(t) = &e.trace_id {
            self.keys.push(trace_key(t));
        }
    }

    fn close<G>(mut self, group: G) -> Result<Block<G>> {
        let bloom = bloom(&mut self.keys);
        Ok(Block {
            group,
            min_time: self.min_time,
            max_time: self.max_time,
            count: self.encoder.count(),
            data: self.encoder.finish()?,
            bloom,
        })
    }
}

/// Cuts rows into blocks: the rows of each group in time order (stable), at most
/// [`MAX_BLOCK_RECORDS`] records, [`MAX_BLOCK_BYTES`] bytes and [`MAX_BLOCK_SPAN_NS`] per
/// block. Blocks come back ordered by their newest record.
pub(crate) fn build<G: Copy + Eq + Hash>(mut rows: Vec<Row<'_, G>>) -> Result<Vec<Block<G>>> {
    rows.sort_by_key(|r| r.entry.time);
    let mut open: HashMap<G, Open> = HashMap::new();
    let mut closed = Vec::new();
    for row in &rows {
        let time = row.entry.time;
        let block = open.entry(row.group).or_insert_with(|| Open::new(time));
        if block.is_full(time) {
            let full = std::mem::replace(block, Open::new(time));
            closed.push(full.close(row.group)?);
        }
        block.push(&row.entry);
    }
    for (group, block) in open {
        closed.push(block.close(group)?);
    }
    closed.sort_by_key(|b| b.max_time);
    Ok(closed)
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("log block {what}"))
}

fn put_unsigned(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_signed(out: &mut Vec<u8>, n: i64) {
    put_unsigned(out, ((n << 1) ^ (n >> 63)) as u64);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_unsigned(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// The unread rest of an encoded block.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> Result<u8> {
        let (&b, rest) = self.0.split_first().ok_or_else(|| corrupt("truncated"))?;
        self.0 = rest;
        Ok(b)
    }

    fn unsigned(&mut self) -> Result<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(corrupt("varint"))
    }

    fn signed(&mut self) -> Result<i64> {
        let n = self.unsigned()?;
        Ok(((n >> 1) as i64) ^ -((n & 1) as i64))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        if len > self.0.len() {
            return Err(corrupt("truncated"));
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.take(N)?.try_into().map_err(|_| corrupt("truncated"))
    }

    fn str(&mut self) -> Result<&'a str> {
        let len = usize::try_from(self.unsigned()?).map_err(|_| corrupt("length"))?;
        std::str::from_utf8(self.take(len)?).map_err(|_| corrupt("text"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: i64) -> Entry<'static> {
        Entry {
            time: 1_700_000_000_000_000_000 + i * 1_000,
            observed: 1_700_000_000_000_000_000 + i * 1_000 - 7,
            severity_number: (i % 24 + 1) as u8,
            trace_id: (i % 3 != 0).then_some([i as u8; 16]),
            span_id: (i % 4 != 0).then_some([7; 8]),
            severity_text: if i % 2 == 0 { "INFO" } else { "" },
            body: "tool call finished after 12 ms — ok",
            attributes: (i % 5 != 0).then_some(r#"{"user.id":"u-42"}"#),
        }
    }

    #[test]
    fn blocks_round_trip() {
        let entries: Vec<Entry<'static>> = (0..500).map(entry).collect();
        let mut enc = Encoder::new();
        for e in &entries {
            enc.push(e);
        }
        assert_eq!(enc.count(), 500);
        let stored = enc.finish().unwrap();
        let decoded = Decoded::new(&stored).unwrap();
        assert_eq!(decoded.entries().unwrap(), entries);
        // Extreme values survive too (wrapping differences).
        let extreme = Entry {
            time: i64::MIN,
            observed: i64::MAX,
            ..entry(0)
        };
        let mut enc = Encoder::new();
        enc.push(&entry(1));
        enc.push(&extreme);
        let decoded = Decoded::new(&enc.finish().unwrap()).unwrap();
        assert_eq!(decoded.entries().unwrap()[1], extreme);
    }

    #[test]
    fn corrupt_values_are_errors_not_panics() {
        let mut enc = Encoder::new();
        for i in 0..20 {
            enc.push(&entry(i));
        }
        let stored = enc.finish().unwrap();
        let decoded = Decoded::new(&stored).unwrap();
        // Every truncation of the raw encoding, and bytes flipped in it, decode to an error or
        // to some records, never a panic.
        for cut in 0..decoded.raw.len() {
            let d = Decoded {
                raw: decoded.raw[..cut].to_vec(),
            };
            let _ = d.entries();
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2_000 {
            let mut raw = decoded.raw.clone();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state % raw.len() as u64) as usize;
            raw[at] = (state >> 32) as u8;
            let _ = Decoded { raw }.entries();
        }
        // Stored values that are not blocks.
        for bad in [
            &[][..],
            &[0x80][..],
            &[5, 1, 2, 3][..],
            &stored[..stored.len() / 2],
        ] {
            assert!(
                Decoded::new(bad)
                    .and_then(|d| d.entries().map(|_| ()))
                    .is_err()
            );
        }
    }

    #[test]
    fn blocks_are_cut_by_group_count_and_span_and_filter_their_keys() {
        let t0 = 1_700_000_000_000_000_000i64;
        let body = |i: i64| format!("Request req_{i} TIMEOUT after {i} ms 日本語");
        let bodies: Vec<String> = (0..3000).map(body).collect();
        let rows: Vec<Row<'_, u8>> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| Row {
                group: (i % 2) as u8,
                entry: Entry {
                    // Reversed: the builder sorts. Group 1 jumps by more than a block span.
                    time: t0 + (3000 - i as i64) * if i % 2 == 1 { 1_000_000_000 } else { 1 },
                    body: b,
                    ..entry(i as i64)
                },
            })
            .collect();
        let blocks = build(rows).unwrap();
        assert!(blocks.windows(2).all(|w| w[0].max_time <= w[1].max_time));
        assert_eq!(blocks.iter().map(|b| b.count).sum::<usize>(), 3000);
        for b in &blocks {
            assert!(b.count <= MAX_BLOCK_RECORDS);
            assert!(b.max_time - b.min_time <= MAX_BLOCK_SPAN_NS);
            let decoded = Decoded::new(&b.data).unwrap();
            let entries = decoded.entries().unwrap();
            assert!(entries.windows(2).all(|w| w[0].time <= w[1].time));
            // Every token and trace id of the block is in its filter, whatever the case.
            for e in &entries {
                for token in ward_model::filter::tokens(e.body) {
                    assert!(may_contain(&b.bloom, token_key(&token)), "{token}");
                }
                if let Some(t) = &e.trace_id {
                    assert!(may_contain(&b.bloom, trace_key(t)));
                }
            }
        }
        // Group 0 spans 1.5 µs: blocks of 1024; group 1 spans 50 min: a block per minute.
        assert_eq!(blocks.iter().filter(|b| b.group == 0).count(), 2);
        assert!(blocks.iter().filter(|b| b.group == 1).count() >= 25);
        // Keys that are not there are mostly refused (about 1% false positives).
        let big = blocks
            .iter()
            .find(|b| b.count == MAX_BLOCK_RECORDS)
            .unwrap();
        let false_positives = (0..10_000)
            .filter(|i| may_contain(&big.bloom, token_key(&format!("absent{i}"))))
            .count();
        assert!(false_positives < 300, "{false_positives}");
        assert!(may_contain(&[], 1) && may_contain(&[7], 1));
    }
}
