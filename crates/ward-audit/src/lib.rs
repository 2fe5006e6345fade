//! Ward's tamper-evident audit trail, pure (no I/O).
//!
//! - [`encoding`]: the canonical, versioned, length-prefixed binary encoding of an [`Entry`]
//!   and the hash rule `SHA-256("ward-audit/entry/v1\0" || canonical bytes)`.
//! - [`Chain`]: the per-tenant append state machine (assigns `seq` and `prev_hash`).
//! - [`checkpoint`]: Ed25519-signed checkpoints over (tenant, seq, hash, time).
//! - [`seal`]: sealing of personal fields with a per-subject key, so that destroying the key
//!   erases the data while the chain still verifies (the ciphertext is hashed).
//! - [`verify`]: the streaming [`Verifier`] naming the first inconsistency.
//! - [`export`]: the JSON-lines export format read by `docs/examples/verify_audit.py`.
//!
//! `docs/audit.md` specifies all of it byte by byte.

pub mod checkpoint;
pub mod encoding;
pub mod entry;
pub mod export;
pub mod seal;
pub mod verify;

pub use checkpoint::{Checkpoint, CheckpointError, CheckpointPolicy, CheckpointSigner, PublicKey};
pub use entry::{
    Actor, Chain, Details, Entry, EntryDraft, EntryError, Field, GENESIS, Hash, Kind, Outcome,
};
pub use export::ExportLine;
pub use seal::{SealError, Sealed, SubjectKey, open, seal, seal_with_nonce};
pub use verify::{Inconsistency, InconsistencyKind, Start, Verdict, Verifier};
pub use ward_model::TenantId;
