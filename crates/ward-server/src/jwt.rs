//! JWT bearer tokens from an identity provider (`[auth.jwt]`): verification against the
//! provider's published keys (JWKS) or against shared HS256 secrets.
//!
//! What is checked, in order: size (before decoding), shape (three base64url segments, JSON
//! header and payload), `alg` (pinned to `auth.jwt.algorithms`; `none` is always refused),
//! signature, then the claims: `exp` (required), `nbf` and `iat` (not in the future), all with
//! the configured leeway; `iss` (exact); `aud` (one of the configured audiences); `sub`; the
//! tenant claim (a valid tenant name, or the default tenant when configured).
//!
//! Key choice keeps algorithm confusion out: an HS256 token is checked only against the
//! configured secrets, never against a published key; an asymmetric token only against a JWKS
//! key whose type fits the algorithm and whose own `alg`, when published, is the same. Keys
//! marked for another `use` than `sig` are ignored, and so are `oct` keys in the JWKS.
//!
//! The key set is fetched on first use (nothing starts before), with a timeout and a size limit,
//! and kept. A verification that finds the keys older than `jwks_refresh_interval` starts a
//! refresh in the background and goes on with the cached keys. A token naming an unknown `kid`
//! triggers a fetch and waits for it, but fetches start at most once per
//! `jwks_min_refetch_interval`, so unknown `kid`s cannot turn Ward into a request amplifier.
//! Concurrent verifications share one fetch. When a fetch fails the last good keys stay in use.
//!
//! Error messages are meant for clients and never contain the token.

mod config;
mod keys;
pub mod token;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ward_model::TenantId;

pub use config::{
    Algorithm, JwtConfig, JwtConfigError, JwtSettings, MAX_LEEWAY, MAX_TOKEN_BYTES_LIMIT,
    MIN_HS256_SECRET_BYTES,
};
pub use keys::{FETCH_TIMEOUT, MAX_JWKS_BYTES, MAX_KEYS};

use keys::{Fetcher, PublicKey};
use token::ParsedToken;

/// Who a verified token says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtIdentity {
    /// The `sub` claim.
    pub subject: String,
    /// The tenant every read and write of the request is confined to.
    pub tenant: TenantId,
    /// Ward role names, after `auth.jwt.role_map` (or `auth.jwt.default_roles`).
    pub roles: Vec<String>,
    /// The `exp` claim, Unix seconds.
    pub expires_at_unix: i64,
    /// The `kid` header of the token, when it has one.
    pub key_id: Option<String>,
}

/// Why a token was refused. Messages are fit for clients and never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// JWT bearer tokens are not enabled.
    #[error("bearer tokens are not accepted")]
    Disabled,
    /// Not three base64url segments with a JSON header and payload, or an unsupported header.
    #[error("the bearer token is not a well-formed JWT")]
    Malformed,
    /// Longer than `auth.jwt.max_token_bytes`.
    #[error("the bearer token is too large")]
    TooLarge,
    /// The header's `alg` is not among the accepted algorithms (the name is shortened).
    #[error("the token's signing algorithm {0:?} is not accepted")]
    AlgorithmNotAllowed(String),
    /// No published key has the token's `kid` (or, without a `kid`, no single key fits).
    #[error("the token's signing key is not known")]
    UnknownKeyId,
    /// The key named by the token does not fit the token's algorithm.
    #[error("the token's signing key does not fit its algorithm")]
    KeyMismatch,
    /// The signature does not verify.
    #[error("the token's signature is not valid")]
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    /// `aud` contains none of the configured audiences.
    #[error("the token is meant for another audience")]
    WrongAudience,
    /// A required claim is absent (`exp`, `iss`, `aud`, `sub`, `tenant`).
    #[error("the token has no {0} claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong type or too many values.
    #[error("the token's {0} claim is not valid")]
    InvalidClaim(&'static str),
    /// The tenant claim is not a valid tenant name.
    #[error("the token's tenant is not a valid tenant name")]
    BadTenant,
    /// The identity provider's keys could not be fetched and none are cached. A server-side
    /// condition (answer 503), not the client's fault.
    #[error("the identity provider's keys are not available; try again later")]
    KeysUnavailable,
}

impl JwtError {
    /// A stable short name for metrics labels and security events.
    pub fn kind(&self) -> &'static str {
        match self {
            JwtError::Disabled => "disabled",
            JwtError::Malformed => "malformed",
            JwtError::TooLarge => "too_large",
            JwtError::AlgorithmNotAllowed(_) => "algorithm_not_allowed",
            JwtError::UnknownKeyId => "unknown_key_id",
            JwtError::KeyMismatch => "key_mismatch",
            JwtError::BadSignature => "bad_signature",
            JwtError::Expired => "expired",
            JwtError::NotYetValid => "not_yet_valid",
            JwtError::WrongIssuer => "wrong_issuer",
            JwtError::WrongAudience => "wrong_audience",
            JwtError::MissingClaim(_) => "missing_claim",
            JwtError::InvalidClaim(_) => "invalid_claim",
            JwtError::BadTenant => "bad_tenant",
            JwtError::KeysUnavailable => "keys_unavailable",
        }
    }

    /// True when the fault is Ward's or the identity provider's, not the token's
    /// ([`JwtError::KeysUnavailable`]).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, JwtError::KeysUnavailable)
    }
}

/// The cached key set.
struct KeySet {
    keys: Vec<PublicKey>,
    /// When the last successful fetch finished; `None` before the first.
    fetched_at: Option<Instant>,
}

struct Inner {
    settings: JwtSettings,
    /// `None` without a JWKS URL, or when the HTTP client could not be built.
    fetcher: Option<Fetcher>,
    keys: RwLock<Arc<KeySet>>,
    /// Held while a fetch runs; holds when the last one started.
    fetching: tokio::sync::Mutex<Option<Instant>>,
    /// Counts finished fetch attempts, so waiters can tell that one ran while they waited.
    fetches: AtomicU64,
    /// A background refresh is running.
    refreshing: AtomicBool,
}

/// Verifies JWT bearer tokens. Cheap to clone (shares its state).
///
/// Starts nothing when created: the key set is fetched on the first verification that needs
/// it, and refreshed in the background (a spawned task) by a verification that finds it stale.
/// [`JwtVerifier::verify`] must therefore run inside a Tokio runtime.
#[derive(Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// What key selection found.
enum Selection {
    Keys(Vec<PublicKey>),
    NotFound,
    Mismatch,
}

fn select(keys: &[PublicKey], kid: Option<&str>, alg: Algorithm) -> Selection {
    match kid {
        Some(kid) => {
            let named: Vec<&PublicKey> = keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .collect();
            if named.is_empty() {
                return Selection::NotFound;
            }
            let fitting: Vec<PublicKey> =
                named.into_iter().filter(|k| k.fits(alg)).cloned().collect();
            if fitting.is_empty() {
                Selection::Mismatch
            } else {
                Selection::Keys(fitting)
            }
        }
        None => {
            let fitting: Vec<&PublicKey> = keys.iter().filter(|k| k.fits(alg)).collect();
            match fitting.as_slice() {
                [one] => Selection::Keys(vec![(*one).clone()]),
                _ => Selection::NotFound,
            }
        }
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl JwtVerifier {
    /// A verifier for `settings`. Starts no task and fetches nothing until first use.
    pub fn new(settings: JwtSettings) -> JwtVerifier {
        let fetcher = settings
            .jwks_url
            .clone()
            .and_then(|url| match Fetcher::new(url.clone()) {
                Ok(f) => Some(f),
                Err(e) => {
                    tracing::warn!(url = %url.display, error = %e, "JWKS: no HTTP client; asymmetric tokens will be refused");
                    None
                }
            });
        JwtVerifier {
            inner: Arc::new(Inner {
                settings,
                fetcher,
                keys: RwLock::new(Arc::new(KeySet {
                    keys: Vec::new(),
                    fetched_at: None,
                })),
                fetching: tokio::sync::Mutex::new(None),
                fetches: AtomicU64::new(0),
                refreshing: AtomicBool::new(false),
            }),
        }
    }

    /// The settings this verifier enforces.
    pub fn settings(&self) -> &JwtSettings {
        &self.inner.settings
    }

    /// Cheap shape check, decoding nothing: three non-empty base64url segments, the first
    /// starting with `eyJ`. Tells a JWT from a Ward API key.
    pub fn looks_like_jwt(token: &str) -> bool {
        token::looks_like_jwt(token)
    }

    /// Verifies `token` (the bearer token without the `Bearer ` prefix) and returns who it
    /// identifies.
    pub async fn verify(&self, token: &str) -> Result<JwtIdentity, JwtError> {
        let settings = &self.inner.settings;
        if !settings.enabled {
            return Err(JwtError::Disabled);
        }
        let parsed = token::parse(token, settings.max_token_bytes)?;
        let alg = token::check_algorithm(&parsed.alg, &settings.algorithms)?;
        if alg.is_symmetric() {
            if !keys::verify_hs256(
                &settings.secrets,
                parsed.signing_input.as_bytes(),
                &parsed.signature,
            ) {
                return Err(JwtError::BadSignature);
            }
        } else {
            self.verify_with_jwks(&parsed, alg).await?;
        }
        let checked = settings.rules.check(&parsed.claims, now_unix())?;
        Ok(JwtIdentity {
            subject: checked.subject,
            tenant: checked.tenant,
            roles: checked.roles,
            expires_at_unix: checked.expires_at_unix,
            key_id: parsed.kid,
        })
    }

    fn cached(&self) -> Arc<KeySet> {
        self.inner
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn verify_with_jwks(
        &self,
        parsed: &ParsedToken<'_>,
        alg: Algorithm,
    ) -> Result<(), JwtError> {
        let mut set = self.cached();
        match set.fetched_at {
            None => {
                self.fetch().await;
                set = self.cached();
                if set.fetched_at.is_none() {
                    return Err(JwtError::KeysUnavailable);
                }
            }
            Some(at) if at.elapsed() >= self.inner.settings.refresh_interval => {
                self.refresh_in_background();
            }
            Some(_) => {}
        }
        let kid = parsed.kid.as_deref();
        let mut selection = select(&set.keys, kid, alg);
        if matches!(selection, Selection::NotFound) {
            self.fetch().await;
            set = self.cached();
            selection = select(&set.keys, kid, alg);
        }
        let candidates = match selection {
            Selection::Keys(keys) => keys,
            Selection::NotFound => return Err(JwtError::UnknownKeyId),
            Selection::Mismatch => return Err(JwtError::KeyMismatch),
        };
        let message = parsed.signing_input.as_bytes();
        if candidates
            .iter()
            .any(|k| k.verify(alg, message, &parsed.signature))
        {
            Ok(())
        } else {
            Err(JwtError::BadSignature)
        }
    }

    fn refresh_in_background(&self) {
        // Skip the task when a fetch is running or the last one is too recent to repeat.
        match self.inner.fetching.try_lock() {
            Ok(last_start)
                if !last_start
                    .is_some_and(|t| t.elapsed() < self.inner.settings.min_refetch_interval) => {}
            _ => return,
        }
        if self.inner.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            this.fetch().await;
            this.inner.refreshing.store(false, Ordering::Release);
        });
    }

    /// Fetches the key set in a task of its own (so that a cancelled request does not abandon
    /// the fetch that other requests wait for) and waits for it.
    async fn fetch(&self) {
        let this = self.clone();
        let _ = tokio::spawn(async move { this.fetch_shared().await }).await;
    }

    /// Fetches the key set unless a fetch finished while waiting for the lock (its result is
    /// shared) or the last one started less than `jwks_min_refetch_interval` ago. On failure
    /// the cached keys stay.
    async fn fetch_shared(&self) {
        let Some(fetcher) = &self.inner.fetcher else {
            return;
        };
        let seen = self.inner.fetches.load(Ordering::Acquire);
        let mut last_start = self.inner.fetching.lock().await;
        if self.inner.fetches.load(Ordering::Acquire) != seen {
            return;
        }
        if last_start.is_some_and(|t| t.elapsed() < self.inner.settings.min_refetch_interval) {
            return;
        }
        *last_start = Some(Instant::now());
        match fetcher.fetch().await {
            Ok(keys) => {
                tracing::debug!(url = %fetcher.url.display, keys = keys.len(), "JWKS fetched");
                let set = Arc::new(KeySet {
                    keys,
                    fetched_at: Some(Instant::now()),
                });
                *self.inner.keys.write().unwrap_or_else(|e| e.into_inner()) = set;
            }
            Err(error) => {
                let cached = self.cached().keys.len();
                tracing::warn!(
                    url = %fetcher.url.display,
                    %error,
                    cached_keys = cached,
                    "JWKS fetch failed; keeping the last good keys"
                );
            }
        }
        self.inner.fetches.fetch_add(1, Ordering::AcqRel);
    }
}

impl JwtSettings {
    /// `auth.jwt.jwks_refresh_interval`.
    pub fn jwks_refresh_interval(&self) -> Duration {
        self.refresh_interval
    }

    /// `auth.jwt.jwks_min_refetch_interval`.
    pub fn jwks_min_refetch_interval(&self) -> Duration {
        self.min_refetch_interval
    }
}
