//! API keys: their format, minting, hashing and verification, and the request guard.
//!
//! A key reads `ward_<id>_<secret>`: a recognisable prefix (so secret scanners can spot a leaked
//! key), a public 12-character id used to look the key up, and a 40-character secret. Only the
//! SHA-256 of the secret is stored; it is compared in constant time. Secrets are 238 bits of
//! randomness, so a fast hash is the right tool (no password stretching needed).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use ward_model::TenantId;
use ward_store::{KeyRecord, KeyUsage, Store};
use zeroize::{Zeroize, Zeroizing};

use crate::authz::{Grants, Permission};
use crate::problem::Problem;

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ID_LEN: usize = 12;
const SECRET_LEN: usize = 40;
/// Keys start with this, so scanners can recognise them.
pub const KEY_PREFIX: &str = "ward_";

/// A freshly minted key: the full text (shown once) and the record to store.
pub struct MintedKey {
    /// `ward_<id>_<secret>`; never stored, never logged, wiped from memory when dropped.
    pub text: Zeroizing<String>,
    /// What the store keeps.
    pub record: KeyRecord,
}

impl fmt::Debug for MintedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintedKey")
            .field("id", &self.record.id)
            .finish_non_exhaustive()
    }
}

fn random_text(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Makes a new key for `tenant` with `grants`, expiring at `expires_at_unix_nano` if given.
pub fn mint(
    tenant: TenantId,
    name: &str,
    grants: &Grants,
    expires_at_unix_nano: Option<i64>,
) -> MintedKey {
    let id = random_text(ID_LEN);
    let mut secret = random_text(SECRET_LEN);
    let record = KeyRecord {
        id: id.clone(),
        tenant,
        name: name.to_owned(),
        scopes: grants.names(),
        secret_hash: hash_secret(&secret),
        created_at_unix_nano: ward_model::time::now_unix_nanos(),
        revoked: false,
        expires_at_unix_nano,
        replaced_by: None,
        last_used_unix_nano: None,
        use_count: 0,
    };
    let text = Zeroizing::new(format!("{KEY_PREFIX}{id}_{secret}"));
    secret.zeroize();
    MintedKey { text, record }
}

/// The key that replaces `old` in a rotation: same tenant, name and scopes, and, when `old`
/// had a lifetime, the same lifetime counted from `now`.
pub fn successor(old: &KeyRecord, now: i64) -> MintedKey {
    let expires = old
        .expires_at_unix_nano
        .map(|t| now.saturating_add(t.saturating_sub(old.created_at_unix_nano)));
    mint(
        old.tenant.clone(),
        &old.name,
        &Grants::parse_lenient(&old.scopes),
        expires,
    )
}

/// The public id of a Ward-shaped key (right or wrong), for rate limits and reports.
pub fn key_id(text: &str) -> Option<&str> {
    split_key(text).map(|(id, _)| id)
}

/// True when `text` has the shape of a Ward API key (it may still be unknown or wrong).
pub fn looks_like_key(text: &str) -> bool {
    split_key(text).is_some()
}

/// Splits a key into (id, secret); `None` when it is not shaped like a Ward key.
fn split_key(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let ok = id.len() == ID_LEN
        && secret.len() == SECRET_LEN
        && id
            .bytes()
            .chain(secret.bytes())
            .all(|b| b.is_ascii_alphanumeric());
    ok.then_some((id, secret))
}

/// Who is calling: the result of a successful authentication.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key or token behind the request.
    pub identity: Identity,
    /// The tenant every read and write of this request is confined to.
    pub tenant: TenantId,
    /// What the caller may do.
    pub grants: Grants,
}

/// The credential a [`Principal`] presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// An API key, by its public id.
    ApiKey(String),
    /// An identity provider's token, by its subject.
    Token(String),
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::ApiKey(id) => write!(f, "key:{id}"),
            Identity::Token(subject) => write!(f, "token:{subject}"),
        }
    }
}

impl Principal {
    /// True when the caller holds `permission`.
    pub fn allows(&self, permission: Permission) -> bool {
        self.grants.allows(permission)
    }

    /// True for an admin of the `default` tenant, who manages keys of every tenant.
    pub fn is_global_admin(&self) -> bool {
        self.grants.allows(Permission::Admin) && self.tenant.as_str() == TenantId::DEFAULT
    }
}

/// Why a credential was refused. The message never contains the credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing credentials: send 'Authorization: Bearer <api key or token>'")]
    Missing,
    /// Not a bearer credential Ward can read.
    #[error("malformed credentials: expected 'Authorization: Bearer ward_…' or a JWT")]
    Malformed,
    /// Unknown id or wrong secret (not told apart, on purpose).
    #[error("invalid API key")]
    Invalid,
    /// The right secret of a revoked key.
    #[error("this API key was revoked")]
    Revoked,
    /// The right secret of a key past its expiry (or past its rotation grace period).
    #[error("this API key expired at {0}; use its replacement or create a new one")]
    Expired(String),
    /// An identity provider's token was refused.
    #[error("invalid token: {0}")]
    Token(String),
    /// Ingest on a listener that requires client certificates for it, without one.
    #[error("ingest requires a client certificate signed by the configured client CA")]
    ClientCertificate,
    /// The credential cannot be checked right now.
    #[error("credentials cannot be checked right now")]
    Unavailable,
}

impl AuthError {
    /// A stable name for metrics and security events.
    pub fn kind(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Malformed => "malformed",
            AuthError::Invalid => "invalid_key",
            AuthError::Revoked => "revoked_key",
            AuthError::Expired(_) => "expired_key",
            AuthError::Token(_) => "invalid_token",
            AuthError::ClientCertificate => "no_client_certificate",
            AuthError::Unavailable => "unavailable",
        }
    }
}

/// Verifies keys against the store, caching records by id.
///
/// Successful uses are counted in memory and added to the stored totals by
/// [`KeyVerifier::flush_usage`] (every few seconds, and at shutdown), so that authenticating
/// never writes to the store.
#[derive(Clone)]
pub struct KeyVerifier {
    store: Store,
    cache: Arc<RwLock<HashMap<String, CachedKey>>>,
    usage: Arc<Mutex<HashMap<String, (u64, i64)>>>,
}

/// A key record and when it was loaded.
type CachedKey = (Arc<KeyRecord>, Instant);

/// Most key records kept in memory; past it the cache is cleared (keys are few in practice).
const MAX_CACHED_KEYS: usize = 10_000;
/// How long a cached key record is trusted. Revocation through the API is immediate; a key
/// revoked directly in the store (`ward keys revoke` without an API key) stops working within
/// this time.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(30);

impl KeyVerifier {
    /// A verifier reading `store`.
    pub fn new(store: Store) -> KeyVerifier {
        KeyVerifier {
            store,
            cache: Default::default(),
            usage: Default::default(),
        }
    }

    /// Writes the uses counted since the last flush to the store (blocking: call it off the
    /// async runtime). On failure the counts are kept for the next attempt.
    pub fn flush_usage(&self) -> Result<(), ward_store::StoreError> {
        let taken: Vec<KeyUsage> = match self.usage.lock() {
            Ok(mut usage) => usage
                .drain()
                .map(|(id, (count, last))| KeyUsage {
                    id,
                    count,
                    last_used_unix_nano: last,
                })
                .collect(),
            Err(_) => return Ok(()),
        };
        let result = self.store.keys().record_key_usage(&taken);
        if result.is_err()
            && let Ok(mut usage) = self.usage.lock()
        {
            for u in taken {
                let entry = usage.entry(u.id).or_insert((0, 0));
                entry.0 += u.count;
                entry.1 = entry.1.max(u.last_used_unix_nano);
            }
        }
        result
    }

    /// Uses counted but not yet flushed, for a key listing that must be current.
    pub fn pending_usage(&self, id: &str) -> Option<(u64, i64)> {
        self.usage.lock().ok()?.get(id).copied()
    }

    fn count_use(&self, id: &str, now: i64) {
        if let Ok(mut usage) = self.usage.lock() {
            // Bounded like the cache: ids are those of existing keys.
            if usage.len() >= MAX_CACHED_KEYS && !usage.contains_key(id) {
                return;
            }
            // Look up before inserting: the id is copied only for a key's first use.
            match usage.get_mut(id) {
                Some(entry) => {
                    entry.0 += 1;
                    entry.1 = entry.1.max(now);
                }
                None => {
                    usage.insert(id.to_owned(), (1, now));
                }
            }
        }
    }

    /// Forgets a key (after revocation), so the next request reloads it.
    pub fn forget(&self, id: &str) {
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(id);
        }
    }

    /// Checks a key's text. On failure, also returns the tenant of the key the text named, when
    /// that key exists (so the failure can be reported to that tenant).
    pub async fn verify_key(&self, text: &str) -> Result<Principal, (AuthError, Option<TenantId>)> {
        let (id, secret) = split_key(text).ok_or((AuthError::Malformed, None))?;
        let record = self
            .lookup(id)
            .await
            .map_err(|e| (e, None))?
            .ok_or((AuthError::Invalid, None))?;
        let presented = hash_secret(secret);
        let matches: bool = presented.ct_eq(&record.secret_hash).into();
        let refuse = |e| Err((e, Some(record.tenant.clone())));
        if !matches {
            return refuse(AuthError::Invalid);
        }
        if record.revoked {
            return refuse(AuthError::Revoked);
        }
        let now = ward_model::time::now_unix_nanos();
        if let Some(expiry) = record.expires_at_unix_nano
            && now >= expiry
        {
            return refuse(AuthError::Expired(ward_model::time::format_rfc3339(expiry)));
        }
        self.count_use(&record.id, now);
        Ok(Principal {
            identity: Identity::ApiKey(record.id.clone()),
            tenant: record.tenant.clone(),
            grants: Grants::parse_lenient(&record.scopes),
        })
    }

    async fn lookup(&self, id: &str) -> Result<Option<Arc<KeyRecord>>, AuthError> {
        let cached = self.cache.read().ok().and_then(|c| c.get(id).cloned());
        if let Some((hit, at)) = cached
            && at.elapsed() < KEY_CACHE_TTL
        {
            return Ok(Some(hit));
        }
        let store = self.store.clone();
        let key_id = id.to_owned();
        let found = tokio::task::spawn_blocking(move || store.keys().get_key(&key_id))
            .await
            .map_err(|_| AuthError::Unavailable)?
            .map_err(|e| {
                tracing::error!(error = %e, "key lookup failed");
                AuthError::Unavailable
            })?;
        let Some(record) = found else { return Ok(None) };
        let record = Arc::new(record);
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= MAX_CACHED_KEYS {
                cache.clear();
            }
            cache.insert(id.to_owned(), (record.clone(), Instant::now()));
        }
        Ok(Some(record))
    }
}

impl From<AuthError> for Problem {
    fn from(e: AuthError) -> Problem {
        match e {
            AuthError::Unavailable => Problem::retry_later(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                e.to_string(),
                5,
            ),
            _ => Problem::unauthorized(e.to_string()),
        }
    }
}

/// Splits an `Authorization` header value into its bearer credential.
pub fn bearer(value: Option<&str>) -> Result<&str, AuthError> {
    let value = value.ok_or(AuthError::Missing)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Malformed);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_have_the_documented_shape() {
        let grants = Grants::parse(&["ingest"]).unwrap();
        let k = mint(TenantId::default_tenant(), "t", &grants, None);
        assert!(k.text.starts_with("ward_"));
        let (id, secret) = split_key(&k.text).unwrap();
        assert_eq!(id, k.record.id);
        assert_eq!(hash_secret(secret), k.record.secret_hash);
        assert_eq!(k.record.scopes, ["ingest"]);
        assert!(!format!("{k:?}").contains(secret));
        assert_ne!(
            *mint(TenantId::default_tenant(), "t", &grants, None).text,
            *k.text
        );
    }

    #[test]
    fn malformed_keys_are_refused_before_any_lookup() {
        for bad in [
            "",
            "ward_",
            "ward_abc_def",
            "xard_aaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "ward_aaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!!",
        ] {
            assert!(split_key(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn bearer_credentials_are_read_from_the_header() {
        assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some("bearer   abc ")), Ok("abc"));
        assert_eq!(bearer(None), Err(AuthError::Missing));
        for bad in ["Basic abc", "Bearer", "Bearer  ", "abc", ""] {
            assert_eq!(bearer(Some(bad)), Err(AuthError::Malformed), "{bad}");
        }
    }

    #[tokio::test]
    async fn keys_verify_until_revoked_or_expired_and_count_their_uses() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(ward_store::StoreConfig {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        })
        .unwrap();
        let verifier = KeyVerifier::new(store.clone());
        let grants = Grants::parse(&["read"]).unwrap();
        let tenant = TenantId::new("team-a").unwrap();
        let live = mint(tenant.clone(), "live", &grants, None);
        let past = ward_model::time::now_unix_nanos() - 1;
        let expired = mint(tenant.clone(), "old", &grants, Some(past));
        store.keys().insert_key(&live.record).unwrap();
        store.keys().insert_key(&expired.record).unwrap();

        let p = verifier.verify_key(&live.text).await.unwrap();
        assert_eq!(p.identity, Identity::ApiKey(live.record.id.clone()));
        assert!(p.allows(Permission::Read) && !p.allows(Permission::Ingest));
        let (e, t) = verifier.verify_key(&expired.text).await.unwrap_err();
        assert!(matches!(e, AuthError::Expired(_)) && t == Some(tenant.clone()));
        // A wrong secret for a real id is reported to the key's tenant, as invalid.
        let mut wrong = live.text.to_string();
        wrong.replace_range(wrong.len() - 4.., "zzzz");
        let (e, t) = verifier.verify_key(&wrong).await.unwrap_err();
        assert_eq!((e, t), (AuthError::Invalid, Some(tenant.clone())));

        verifier.verify_key(&live.text).await.unwrap();
        assert_eq!(verifier.pending_usage(&live.record.id).unwrap().0, 2);
        verifier.flush_usage().unwrap();
        assert_eq!(verifier.pending_usage(&live.record.id), None);
        let stored = store.keys().get_key(&live.record.id).unwrap().unwrap();
        assert_eq!(stored.use_count, 2);
        assert!(stored.last_used_unix_nano.is_some());

        store.keys().revoke_key(&live.record.id).unwrap();
        verifier.forget(&live.record.id);
        let (e, _) = verifier.verify_key(&live.text).await.unwrap_err();
        assert_eq!(e, AuthError::Revoked);
        store.shutdown().await.unwrap();
    }
}
