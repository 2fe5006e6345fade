//! The canonical encoding (version 1) and the hash rule. `docs/audit.md` is the specification.
//!
//! Integers are big-endian; a *str* is a u32 big-endian byte length followed by UTF-8 bytes;
//! an *opt* is a byte 0 (absent) or 1 followed by the value; a *field* is byte 1 + str
//! (plain) or byte 2 + str subject + str nonce + str ciphertext (sealed).
//!
//! ```text
//! entry   = u8 version(=1) str tenant u64 seq i64 time_unix_nano
//!           u8 kind (0 agent | 1 system | 2 prune u64 through_seq [32] last_hash)
//!           str agent opt-field on_behalf_of str action field resource u8 outcome
//!           opt-str trace_id str details [32] prev_hash
//! hash    = SHA-256("ward-audit/entry/v1\0" || entry)
//! ```

use sha2::{Digest, Sha256};

use crate::entry::{Entry, Field, Hash, Kind};

/// The domain-separation prefix hashed before an entry's canonical bytes.
pub const ENTRY_PREFIX: &[u8] = b"ward-audit/entry/v1\0";
/// The version byte that starts the canonical bytes.
pub const VERSION: u8 = 1;

/// Where canonical bytes go: a buffer or a running hash.
pub(crate) trait Sink {
    fn put(&mut self, b: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
}

impl Sink for Sha256 {
    fn put(&mut self, b: &[u8]) {
        self.update(b);
    }
}

/// Collects small writes into a stack buffer before handing them to the hash, so SHA-256
/// sees few large updates. No allocation.
struct Buffered<'a, S: Sink> {
    inner: &'a mut S,
    buf: [u8; 256],
    len: usize,
}

impl<S: Sink> Buffered<'_, S> {
    fn flush(&mut self) {
        if self.len > 0 {
            self.inner.put(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl<S: Sink> Sink for Buffered<'_, S> {
    fn put(&mut self, b: &[u8]) {
        if self.len + b.len() > self.buf.len() {
            self.flush();
            if b.len() > self.buf.len() {
                self.inner.put(b);
                return;
            }
        }
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }
}

pub(crate) fn put_str(s: &mut impl Sink, v: &str) {
    // Lengths beyond u32 cannot be encoded; they saturate, which no honest entry reaches
    // (Ward bounds request bodies far below 4 GiB), and a verifier still compares hashes.
    let n = u32::try_from(v.len()).unwrap_or(u32::MAX);
    s.put(&n.to_be_bytes());
    s.put(v.as_bytes());
}

fn put_field(s: &mut impl Sink, f: &Field) {
    match f {
        Field::Plain(v) => {
            s.put(&[1]);
            put_str(s, v);
        }
        Field::Sealed { sealed } => {
            s.put(&[2]);
            put_str(s, &sealed.subject);
            put_str(s, &sealed.nonce);
            put_str(s, &sealed.ciphertext);
        }
    }
}

pub(crate) fn encode(s: &mut impl Sink, e: &Entry) {
    s.put(&[VERSION]);
    put_str(s, e.tenant.as_str());
    s.put(&e.seq.to_be_bytes());
    s.put(&e.time_unix_nano.to_be_bytes());
    match e.kind {
        Kind::Agent => s.put(&[0]),
        Kind::System => s.put(&[1]),
        Kind::Prune {
            through_seq,
            last_hash,
        } => {
            s.put(&[2]);
            s.put(&through_seq.to_be_bytes());
            s.put(&last_hash);
        }
    }
    put_str(s, &e.actor.agent);
    match &e.actor.on_behalf_of {
        None => s.put(&[0]),
        Some(f) => put_field(s, f),
    }
    put_str(s, &e.action);
    put_field(s, &e.resource);
    s.put(&[e.outcome.code()]);
    match &e.trace_id {
        None => s.put(&[0]),
        Some(t) => {
            s.put(&[1]);
            put_str(s, t);
        }
    }
    put_str(s, e.details.as_str());
    s.put(&e.prev_hash);
}

/// The canonical bytes of an entry (without the domain prefix; `hash` is not included).
pub fn canonical_bytes(e: &Entry) -> Vec<u8> {
    let mut v = Vec::with_capacity(256);
    encode(&mut v, e);
    v
}

/// `SHA-256(ENTRY_PREFIX || canonical_bytes(e))`, computed without allocating.
pub fn entry_hash(e: &Entry) -> Hash {
    let mut h = Sha256::new();
    h.update(ENTRY_PREFIX);
    let mut b = Buffered {
        inner: &mut h,
        buf: [0; 256],
        len: 0,
    };
    encode(&mut b, e);
    b.flush();
    h.finalize().into()
}
