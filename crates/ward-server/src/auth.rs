//! API keys: their format, minting, hashing and verification, and the request guard.
//!
//! A key reads `ward_<id>_<secret>`: a recognisable prefix (so secret scanners can spot a leaked
//! key), a public 12-character id used to look the key up, and a 40-character secret. Only the
//! SHA-256 of the secret is stored; it is compared in constant time. Secrets are 238 bits of
//! randomness, so a fast hash is the right tool (no password stretching needed).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use ward_model::TenantId;
use ward_store::{KeyRecord, Store};

use crate::problem::Problem;

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ID_LEN: usize = 12;
const SECRET_LEN: usize = 40;
/// Keys start with this, so scanners can recognise them.
pub const KEY_PREFIX: &str = "ward_";

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Send telemetry.
    Ingest,
    /// Query telemetry of the key's tenant.
    Read,
    /// Scrape `/metrics`.
    Metrics,
    /// Everything, and key management.
    Admin,
}

impl Scope {
    /// The scope's name in keys and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Metrics => "metrics",
            Scope::Admin => "admin",
        }
    }

    /// Parses a scope name.
    pub fn parse(name: &str) -> Result<Scope, String> {
        match name {
            "ingest" => Ok(Scope::Ingest),
            "read" => Ok(Scope::Read),
            "metrics" => Ok(Scope::Metrics),
            "admin" => Ok(Scope::Admin),
            other => Err(format!(
                "unknown scope {other:?}: use ingest, read, metrics or admin"
            )),
        }
    }
}

/// A freshly minted key: the full text (shown once) and the record to store.
pub struct MintedKey {
    /// `ward_<id>_<secret>`; never stored, never logged.
    pub text: String,
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

/// Makes a new key for `tenant` with `scopes`.
pub fn mint(tenant: TenantId, name: &str, scopes: &[Scope]) -> MintedKey {
    let id = random_text(ID_LEN);
    let secret = random_text(SECRET_LEN);
    let record = KeyRecord {
        id: id.clone(),
        tenant,
        name: name.to_owned(),
        scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        secret_hash: hash_secret(&secret),
        created_at_unix_nano: ward_model::time::now_unix_nanos(),
        revoked: false,
    };
    MintedKey {
        text: format!("{KEY_PREFIX}{id}_{secret}"),
        record,
    }
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
    /// The key's id (public part).
    pub key_id: String,
    /// The tenant every read and write of this request is confined to.
    pub tenant: TenantId,
    /// What the key may do.
    pub scopes: Vec<Scope>,
}

impl Principal {
    /// True when the key has `scope` (admin has every scope).
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes
            .iter()
            .any(|s| *s == scope || *s == Scope::Admin)
    }

    /// True for an admin of the `default` tenant, who manages keys of every tenant.
    pub fn is_global_admin(&self) -> bool {
        self.scopes.contains(&Scope::Admin) && self.tenant.as_str() == TenantId::DEFAULT
    }
}

/// Why a credential was refused. The message never contains the credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing credentials: send 'Authorization: Bearer <api key>'")]
    Missing,
    /// Not a bearer token of Ward's key shape.
    #[error("malformed credentials: expected 'Authorization: Bearer ward_…'")]
    Malformed,
    /// Unknown id, wrong secret or revoked key (not told apart, on purpose).
    #[error("invalid or revoked API key")]
    Invalid,
    /// The key cannot be checked right now.
    #[error("credentials cannot be checked right now")]
    Unavailable,
}

/// Verifies keys against the store, caching records by id.
#[derive(Clone)]
pub struct KeyVerifier {
    store: Store,
    cache: Arc<RwLock<HashMap<String, CachedKey>>>,
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
        }
    }

    /// Forgets a key (after revocation), so the next request reloads it.
    pub fn forget(&self, id: &str) {
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(id);
        }
    }

    /// Checks an `Authorization` header value.
    pub async fn verify_header(&self, value: Option<&str>) -> Result<Principal, AuthError> {
        let value = value.ok_or(AuthError::Missing)?;
        let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Malformed);
        }
        self.verify_key(token.trim()).await
    }

    /// Checks a key's text.
    pub async fn verify_key(&self, text: &str) -> Result<Principal, AuthError> {
        let (id, secret) = split_key(text).ok_or(AuthError::Malformed)?;
        let record = self.lookup(id).await?.ok_or(AuthError::Invalid)?;
        let presented = hash_secret(secret);
        let matches: bool = presented.ct_eq(&record.secret_hash).into();
        if !matches || record.revoked {
            return Err(AuthError::Invalid);
        }
        Ok(Principal {
            key_id: record.id.clone(),
            tenant: record.tenant.clone(),
            scopes: record
                .scopes
                .iter()
                .filter_map(|s| Scope::parse(s).ok())
                .collect(),
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

/// State of the request guard: the verifier and the scope a group of routes needs.
#[derive(Clone)]
pub struct Guard {
    /// Verifies keys.
    pub verifier: KeyVerifier,
    /// Scope every route behind this guard requires.
    pub scope: Scope,
}

/// Middleware: authenticates the request, checks the scope, and hands the [`Principal`] to the
/// handler as a request extension.
pub async fn require(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let principal = match guard.verifier.verify_header(header).await {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(reason = %e, path = request.uri().path(), "authentication failed");
            let mut response = Problem::from(e).into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"ward\""),
            );
            return response;
        }
    };
    if !principal.allows(guard.scope) {
        return Problem::forbidden(format!(
            "this key lacks the {:?} scope",
            guard.scope.as_str()
        ))
        .into_response();
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_have_the_documented_shape() {
        let k = mint(TenantId::default_tenant(), "t", &[Scope::Ingest]);
        assert!(k.text.starts_with("ward_"));
        let (id, secret) = split_key(&k.text).unwrap();
        assert_eq!(id, k.record.id);
        assert_eq!(hash_secret(secret), k.record.secret_hash);
        assert!(!format!("{k:?}").contains(secret));
        assert_ne!(mint(TenantId::default_tenant(), "t", &[]).text, k.text);
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
    fn admin_implies_every_scope() {
        let p = Principal {
            key_id: "x".into(),
            tenant: TenantId::default_tenant(),
            scopes: vec![Scope::Admin],
        };
        assert!(p.allows(Scope::Read) && p.allows(Scope::Ingest) && p.is_global_admin());
        let q = Principal {
            scopes: vec![Scope::Ingest],
            ..p
        };
        assert!(!q.allows(Scope::Read));
    }
}
