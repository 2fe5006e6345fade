//! Ed25519-signed checkpoints over (tenant, seq, hash, time).
//!
//! The signed message is `"ward-audit/checkpoint/v1\0" || str tenant || u64 seq || [32] hash
//! || i64 time_unix_nano` (str = u32 big-endian length + UTF-8; integers big-endian).
//! `key_id` is the first 8 bytes of SHA-256 of the 32-byte public key, in hex.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ward_model::TenantId;

use crate::encoding::put_str;
use crate::entry::{Hash, hex32, tenant_serde};

/// Domain prefix of the checkpoint message.
pub const CHECKPOINT_PREFIX: &[u8] = b"ward-audit/checkpoint/v1\0";

/// Errors creating keys or checking checkpoints.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    /// The PKCS#8 document or seed is not an Ed25519 key.
    #[error("not an Ed25519 private key")]
    BadKey,
    /// The public key is not 32 bytes (or not hex/base64 of 32 bytes).
    #[error("not an Ed25519 public key")]
    BadPublicKey,
    /// Key generation failed (no randomness).
    #[error("cannot generate a key")]
    Generate,
    /// The checkpoint's `key_id` does not name the given key.
    #[error("checkpoint is signed by key {0}, not by this key")]
    UnknownKey(String),
    /// The signature is not valid base64 or does not verify.
    #[error("signature does not verify")]
    BadSignature,
}

/// A signed statement "the chain of `tenant` had hash `hash` at `seq`, at `time_unix_nano`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The tenant.
    #[serde(with = "tenant_serde")]
    pub tenant: TenantId,
    /// The seq of the entry covered.
    pub seq: u64,
    /// That entry's hash.
    #[serde(with = "hex32")]
    pub hash: Hash,
    /// When the checkpoint was made, nanoseconds since the Unix epoch.
    pub time_unix_nano: i64,
    /// Which key signed ([`PublicKey::key_id`]).
    pub key_id: String,
    /// The Ed25519 signature over [`Checkpoint::message`], standard base64.
    pub signature: String,
}

impl Checkpoint {
    /// The bytes that are signed.
    pub fn message(tenant: &TenantId, seq: u64, hash: &Hash, time_unix_nano: i64) -> Vec<u8> {
        let mut m = Vec::with_capacity(CHECKPOINT_PREFIX.len() + 4 + tenant.as_str().len() + 48);
        m.extend_from_slice(CHECKPOINT_PREFIX);
        put_str(&mut m, tenant.as_str());
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(hash);
        m.extend_from_slice(&time_unix_nano.to_be_bytes());
        m
    }

    /// Checks key id and signature against `key`.
    pub fn verify(&self, key: &PublicKey) -> Result<(), CheckpointError> {
        if self.key_id != key.key_id() {
            return Err(CheckpointError::UnknownKey(
                self.key_id.chars().take(40).collect(),
            ));
        }
        let sig = B64
            .decode(&self.signature)
            .map_err(|_| CheckpointError::BadSignature)?;
        UnparsedPublicKey::new(&ED25519, key.as_bytes())
            .verify(
                &Self::message(&self.tenant, self.seq, &self.hash, self.time_unix_nano),
                &sig,
            )
            .map_err(|_| CheckpointError::BadSignature)
    }
}

/// An Ed25519 public key that verifies checkpoints; publish it (hex) for outside verifiers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// From the 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        PublicKey(bytes)
    }

    /// From 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self, CheckpointError> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut b).map_err(|_| CheckpointError::BadPublicKey)?;
        Ok(PublicKey(b))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// First 8 bytes of SHA-256 of the key, hex (16 digits): names the key in checkpoints so
    /// that keys can rotate.
    pub fn key_id(&self) -> String {
        hex::encode(&Sha256::digest(self.0)[..8])
    }
}

/// Signs checkpoints with an Ed25519 private key.
pub struct CheckpointSigner {
    pair: Ed25519KeyPair,
    public: PublicKey,
    key_id: String,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CheckpointSigner({})", self.key_id)
    }
}

impl CheckpointSigner {
    /// Generates a key and returns its PKCS#8 v2 document for the caller to store (0600).
    pub fn generate_pkcs8() -> Result<Vec<u8>, CheckpointError> {
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| CheckpointError::Generate)
    }

    /// From a PKCS#8 document (as [`CheckpointSigner::generate_pkcs8`] returns).
    pub fn from_pkcs8(doc: &[u8]) -> Result<Self, CheckpointError> {
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(doc)
            .map(Self::wrap)
            .map_err(|_| CheckpointError::BadKey)
    }

    /// From a 32-byte seed (RFC 8032 private key).
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, CheckpointError> {
        Ed25519KeyPair::from_seed_unchecked(seed)
            .map(Self::wrap)
            .map_err(|_| CheckpointError::BadKey)
    }

    fn wrap(pair: Ed25519KeyPair) -> Self {
        let mut pk = [0u8; 32];
        pk.copy_from_slice(pair.public_key().as_ref());
        let public = PublicKey(pk);
        let key_id = public.key_id();
        CheckpointSigner {
            pair,
            public,
            key_id,
        }
    }

    /// The public key to publish.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Signs a checkpoint for the entry (`seq`, `hash`) of `tenant`'s chain.
    pub fn sign(
        &self,
        tenant: &TenantId,
        seq: u64,
        hash: &Hash,
        time_unix_nano: i64,
    ) -> Checkpoint {
        let sig = self
            .pair
            .sign(&Checkpoint::message(tenant, seq, hash, time_unix_nano));
        Checkpoint {
            tenant: tenant.clone(),
            seq,
            hash: *hash,
            time_unix_nano,
            key_id: self.key_id.clone(),
            signature: B64.encode(sig.as_ref()),
        }
    }
}

/// When to make the next checkpoint: every `every_entries` entries or `every_nanos`
/// nanoseconds since the last checkpoint, whichever comes first (and only if there is
/// something new to sign).
#[derive(Debug, Clone)]
pub struct CheckpointPolicy {
    /// Entry interval (0 = never by count).
    pub every_entries: u64,
    /// Time interval in nanoseconds (0 = never by time).
    pub every_nanos: i64,
}

impl CheckpointPolicy {
    /// Whether a checkpoint is due, given the last checkpointed seq/time and the chain's
    /// current last seq and the current time.
    pub fn due(&self, last_cp_seq: u64, last_cp_time: i64, last_seq: u64, now: i64) -> bool {
        if last_seq <= last_cp_seq {
            return false;
        }
        (self.every_entries > 0 && last_seq - last_cp_seq >= self.every_entries)
            || (self.every_nanos > 0 && now.saturating_sub(last_cp_time) >= self.every_nanos)
    }
}
