//! Per-subject keys for crypto-shredding, and sealing / opening of personal fields.
//!
//! A subject is a name such as `user:123`. The first time one appears, the writer creates a
//! random 32-byte key and a random handle (`s-` + 20 hex digits) for it in `audit_subjects`.
//! Sealed fields carry the handle, never the name, so that once the row is deleted (erasure)
//! nothing in the trail, its exports or its archives links the ciphertext back to the person.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::{Map, Value};
use ward_audit::{Entry, Field, Sealed, SubjectKey, TenantId};

use crate::error::{Result, StoreError};

/// Subjects remembered by the writer; the cache is dropped whole when it reaches this size.
const MAX_CACHED_SUBJECTS: usize = 65_536;

/// The subject name of the user an entry was recorded for.
pub fn user_subject(user: &str) -> String {
    format!("user:{user}")
}

/// The writer's view of subject keys: a bounded cache over `audit_subjects`.
#[derive(Default)]
pub struct Subjects {
    cache: HashMap<(String, String), (String, SubjectKey)>,
}

fn seal_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("sealing failed: {e}"))
}

impl Subjects {
    /// The handle and key of `subject`, created (inside `tx`) if it has none.
    pub fn key_for(
        &mut self,
        tx: &Transaction<'_>,
        tenant: &TenantId,
        subject: &str,
        now: i64,
    ) -> Result<(String, SubjectKey)> {
        let cache_key = (tenant.as_str().to_owned(), subject.to_owned());
        if let Some((handle, key)) = self.cache.get(&cache_key) {
            return Ok((handle.clone(), key.clone()));
        }
        let found = tx
            .prepare_cached(
                "SELECT handle, key FROM audit_subjects WHERE tenant = ?1 AND subject = ?2",
            )?
            .query_row(params![tenant.as_str(), subject], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .optional()?;
        let (handle, key) = match found {
            Some((handle, bytes)) => (handle, key_from_bytes(&bytes)?),
            None => {
                let key = SubjectKey::generate().map_err(seal_error)?;
                let nonce = SubjectKey::generate().map_err(seal_error)?;
                let handle = format!("s-{}", hex::encode(&nonce.as_bytes()[..10]));
                tx.prepare_cached(
                    "INSERT INTO audit_subjects (tenant, subject, handle, key, created_ns)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    tenant.as_str(),
                    subject,
                    handle,
                    &key.as_bytes()[..],
                    now
                ])?;
                (handle, key)
            }
        };
        if self.cache.len() >= MAX_CACHED_SUBJECTS {
            self.cache.clear();
        }
        self.cache.insert(cache_key, (handle.clone(), key.clone()));
        Ok((handle, key))
    }

    /// Forgets everything cached (after a rolled-back transaction, whose new keys are gone).
    pub fn forget(&mut self) {
        self.cache.clear();
    }

    /// Destroys the key of `subject`; returns its handle, or `None` if it has none.
    pub fn erase(
        &mut self,
        tx: &Transaction<'_>,
        tenant: &TenantId,
        subject: &str,
    ) -> Result<Option<String>> {
        self.cache
            .remove(&(tenant.as_str().to_owned(), subject.to_owned()));
        let handle: Option<String> = tx
            .query_row(
                "DELETE FROM audit_subjects WHERE tenant = ?1 AND subject = ?2 RETURNING handle",
                params![tenant.as_str(), subject],
                |r| r.get(0),
            )
            .optional()?;
        Ok(handle)
    }
}

fn key_from_bytes(bytes: &[u8]) -> Result<SubjectKey> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("audit subject key is not 32 bytes".into()))?;
    Ok(SubjectKey::from_bytes(arr))
}

/// Seals `plaintext` for `subject`.
pub fn seal_for(
    subjects: &mut Subjects,
    tx: &Transaction<'_>,
    tenant: &TenantId,
    subject: &str,
    plaintext: &str,
    now: i64,
) -> Result<Field> {
    let (handle, key) = subjects.key_for(tx, tenant, subject, now)?;
    let sealed = ward_audit::seal(&handle, &key, plaintext).map_err(seal_error)?;
    Ok(Field::from(sealed))
}

/// Seals the top-level `details` values named in `personal`, each under `user`'s subject if
/// the entry has one, else under `<key>:<value>`. A sealed value's plaintext is its JSON text.
pub fn seal_details(
    subjects: &mut Subjects,
    tx: &Transaction<'_>,
    tenant: &TenantId,
    details: &mut Map<String, Value>,
    personal: &[String],
    user: Option<&str>,
    now: i64,
) -> Result<()> {
    for name in personal {
        let Some(value) = details.get_mut(name) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        let text = value.to_string();
        let subject = match user {
            Some(u) => user_subject(u),
            None => match value.as_str() {
                Some(s) => format!("{name}:{s}"),
                None => format!("{name}:{text}"),
            },
        };
        let Field::Sealed { sealed } = seal_for(subjects, tx, tenant, &subject, &text, now)? else {
            continue;
        };
        *value = sealed.to_json();
    }
    Ok(())
}

/// Looks up subject keys by handle for readers (the subject may have been erased).
pub struct KeyLookup<'c> {
    conn: &'c Connection,
    tenant: String,
    cache: HashMap<String, Option<SubjectKey>>,
}

impl<'c> KeyLookup<'c> {
    /// Lookups within `tenant`.
    pub fn new(conn: &'c Connection, tenant: &TenantId) -> Self {
        KeyLookup {
            conn,
            tenant: tenant.as_str().to_owned(),
            cache: HashMap::new(),
        }
    }

    fn key(&mut self, handle: &str) -> Result<Option<SubjectKey>> {
        if let Some(k) = self.cache.get(handle) {
            return Ok(k.clone());
        }
        let bytes: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT key FROM audit_subjects WHERE tenant = ?1 AND handle = ?2")?
            .query_row(params![self.tenant, handle], |r| r.get(0))
            .optional()?;
        let key = bytes.as_deref().map(key_from_bytes).transpose()?;
        self.cache.insert(handle.to_owned(), key.clone());
        Ok(key)
    }

    /// The plaintext of a sealed value, or `None` if its subject was erased.
    pub fn open(&mut self, sealed: &Sealed) -> Result<Option<String>> {
        match self.key(&sealed.subject)? {
            None => Ok(None),
            Some(key) => ward_audit::open(sealed, &key)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("sealed audit value: {e}"))),
        }
    }

    /// A field as people read it: its text, or `None` if sealed for an erased subject.
    pub fn open_field(&mut self, field: &Field) -> Result<Option<String>> {
        match field {
            Field::Plain(text) => Ok(Some(text.clone())),
            Field::Sealed { sealed } => self.open(sealed),
        }
    }

    /// `details` with sealed values opened (erased ones become `{"erased": true}`).
    pub fn open_details(&mut self, entry: &Entry) -> Result<Value> {
        let mut value = entry
            .details
            .to_value()
            .map_err(|e| StoreError::Corrupt(format!("audit details: {e}")))?;
        if let Value::Object(map) = &mut value {
            for v in map.values_mut() {
                let Some(sealed) = v
                    .get("sealed")
                    .and_then(|s| serde_json::from_value::<Sealed>(s.clone()).ok())
                else {
                    continue;
                };
                *v = match self.open(&sealed)? {
                    Some(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
                    None => serde_json::json!({"erased": true}),
                };
            }
        }
        Ok(value)
    }
}
