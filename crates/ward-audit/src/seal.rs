//! Sealing of personal fields for erasure by crypto-shredding.
//!
//! A sealed value is ChaCha20-Poly1305 ciphertext under a per-subject 32-byte key, with a
//! 96-bit nonce and the associated data `"ward-audit/sealed/v1\0" || subject`. The chain hashes
//! the subject, nonce and ciphertext (base64url without padding), never the plaintext, so
//! destroying the subject's key makes the value unreadable while every hash still verifies.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

/// Associated-data prefix of every sealed value.
pub const SEAL_AAD_PREFIX: &[u8] = b"ward-audit/sealed/v1\0";

/// Errors sealing or opening a value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The system random source failed.
    #[error("no randomness available for a nonce")]
    Random,
    /// The nonce or ciphertext is not base64url, or the nonce is not 12 bytes.
    #[error("sealed value is malformed")]
    Malformed,
    /// Wrong key, or the ciphertext, nonce or subject was altered.
    #[error("sealed value cannot be opened with this key")]
    Open,
}

/// A per-subject key (32 bytes). Storing and destroying keys is the caller's concern.
#[derive(Clone)]
pub struct SubjectKey([u8; 32]);

impl SubjectKey {
    /// Wraps key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SubjectKey(bytes)
    }

    /// A fresh random key.
    pub fn generate() -> Result<Self, SealError> {
        let mut k = [0u8; 32];
        SystemRandom::new()
            .fill(&mut k)
            .map_err(|_| SealError::Random)?;
        Ok(SubjectKey(k))
    }

    /// The key bytes, for the caller's key store.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn aead(&self) -> LessSafeKey {
        // A 32-byte key is always valid for ChaCha20-Poly1305.
        LessSafeKey::new(
            UnboundKey::new(&CHACHA20_POLY1305, &self.0).unwrap_or_else(|_| unreachable!()),
        )
    }
}

impl std::fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectKey(..)")
    }
}

/// An encrypted personal value. JSON form: `{"subject", "nonce", "ciphertext"}`; inside an
/// entry field it is wrapped as `{"sealed": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// Whose data this is (e.g. `user:123`): names the key that opens it.
    pub subject: String,
    /// The 12-byte nonce, base64url without padding.
    pub nonce: String,
    /// Ciphertext with the 16-byte tag appended, base64url without padding.
    pub ciphertext: String,
}

impl Sealed {
    /// The `{"sealed": {...}}` JSON value, for sealed values inside `details`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"sealed": {"subject": self.subject, "nonce": self.nonce, "ciphertext": self.ciphertext}})
    }
}

fn aad(subject: &str) -> Vec<u8> {
    let mut a = Vec::with_capacity(SEAL_AAD_PREFIX.len() + subject.len());
    a.extend_from_slice(SEAL_AAD_PREFIX);
    a.extend_from_slice(subject.as_bytes());
    a
}

/// Seals `plaintext` for `subject` with a random nonce.
pub fn seal(subject: &str, key: &SubjectKey, plaintext: &str) -> Result<Sealed, SealError> {
    let mut nonce = [0u8; 12];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| SealError::Random)?;
    Ok(seal_with_nonce(subject, key, nonce, plaintext))
}

/// Seals with a caller-chosen nonce. A nonce must never repeat under one key; use [`seal`]
/// unless you need determinism (tests, vectors).
pub fn seal_with_nonce(
    subject: &str,
    key: &SubjectKey,
    nonce: [u8; 12],
    plaintext: &str,
) -> Sealed {
    let mut buf = plaintext.as_bytes().to_vec();
    // Sealing only fails for inputs over ~256 GiB.
    let _ = key.aead().seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad(subject)),
        &mut buf,
    );
    Sealed {
        subject: subject.to_owned(),
        nonce: B64.encode(nonce),
        ciphertext: B64.encode(buf),
    }
}

/// Opens a sealed value with the subject's key.
pub fn open(sealed: &Sealed, key: &SubjectKey) -> Result<String, SealError> {
    let nonce: [u8; 12] = B64
        .decode(&sealed.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or(SealError::Malformed)?;
    let mut buf = B64
        .decode(&sealed.ciphertext)
        .map_err(|_| SealError::Malformed)?;
    let plain = key
        .aead()
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(&sealed.subject)),
            &mut buf,
        )
        .map_err(|_| SealError::Open)?;
    String::from_utf8(plain.to_vec()).map_err(|_| SealError::Malformed)
}
