//! Key management: `GET/POST /api/v1/keys`, `DELETE /api/v1/keys/{id}`,
//! `POST /api/v1/keys/{id}/rotate`.
//!
//! A caller with `admin` in the `default` tenant manages keys of every tenant; any other caller
//! manages only its own tenant's keys, and hands out only permissions it holds itself (a
//! `keys:write` key cannot mint an `admin` key). Every change is a security event.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use ward_model::{SecurityEvent, SecuritySeverity, TenantId};
use ward_store::{KeyRecord, Rotation};

use crate::AppState;
use crate::auth::{Principal, mint, successor};
use crate::authz::Grants;
use crate::problem::{JsonBody, Path, Problem};

/// Longest rotation grace period: a forgotten old key must not live on for months.
const MAX_GRACE: &str = "30d";
/// Grace period when a rotation names none.
const DEFAULT_GRACE: &str = "24h";

/// Body of `POST /api/v1/keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Tenant of the new key; default: the caller's tenant.
    pub tenant: Option<String>,
    /// A label for people (`checkout-service ingest`).
    #[serde(default)]
    pub name: String,
    /// Permissions: `ingest`, `read`, `write`, `metrics`, `security:read`, `keys:read`,
    /// `keys:write`, `audit:read`, `audit:write`, `secrets:read[:<glob>]`,
    /// `secrets:write[:<glob>]`, `admin`.
    pub scopes: Vec<String>,
    /// Lifetime from now (`90d`); default: no expiry.
    pub expires_in: Option<String>,
    /// Expiry as RFC 3339 or Unix time; exclusive with `expires_in`.
    pub expires_at: Option<String>,
}

/// A key as listed (never with its secret).
#[derive(Debug, Serialize)]
pub struct KeyView {
    /// Public id.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// Label.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// `active`, `expired` or `revoked`.
    pub state: &'static str,
    /// Whether it was revoked.
    pub revoked: bool,
    /// When it stops working (RFC 3339), if ever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The key that replaced it, if it was rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    /// Last successful authentication (RFC 3339), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    /// Successful authentications.
    pub use_count: u64,
}

impl KeyView {
    /// The view of `k` at `now`, with uses counted since the last flush added.
    pub fn new(k: KeyRecord, now: i64, pending: Option<(u64, i64)>) -> KeyView {
        let state = if k.revoked {
            "revoked"
        } else if k.is_active(now) {
            "active"
        } else {
            "expired"
        };
        let (extra_uses, last_pending) = pending.unwrap_or((0, 0));
        let last_used = k.last_used_unix_nano.unwrap_or(0).max(last_pending);
        let rfc3339 = ward_model::time::format_rfc3339;
        KeyView {
            state,
            revoked: k.revoked,
            expires_at: k.expires_at_unix_nano.map(rfc3339),
            replaced_by: k.replaced_by,
            last_used_at: (last_used > 0).then(|| rfc3339(last_used)),
            use_count: k.use_count + extra_uses,
            id: k.id,
            tenant: k.tenant.to_string(),
            name: k.name,
            scopes: k.scopes,
            created_at: rfc3339(k.created_at_unix_nano),
        }
    }

    fn of(state: &AppState, k: KeyRecord) -> KeyView {
        let pending = state.gate.keys().pending_usage(&k.id);
        KeyView::new(k, ward_model::time::now_unix_nanos(), pending)
    }
}

/// Answer of `POST /api/v1/keys` and of a rotation: the only time the key's text is shown.
#[derive(Debug, Serialize)]
pub struct CreatedKey {
    /// The key to use in `Authorization: Bearer …`. Store it now: Ward keeps only its hash.
    pub key: String,
    /// The key's record.
    #[serde(flatten)]
    pub info: KeyView,
    /// For a rotation: the replaced key, and when it stops working.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<Replaced>,
}

/// The key a rotation replaced.
#[derive(Debug, Serialize)]
pub struct Replaced {
    /// Its id.
    pub id: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
}

/// Validates scope names (at least one).
pub fn parse_scopes(names: &[String]) -> Result<Grants, String> {
    if names.is_empty() {
        return Err("give at least one scope, e.g. ingest, read, metrics or admin".into());
    }
    Grants::parse(names).map_err(|e| e.to_string())
}

/// When the rotated key `id` stops working, or why it could not be rotated (the status of the
/// API's answer, and a message for people).
pub fn rotated(id: &str, outcome: Rotation) -> Result<i64, (StatusCode, String)> {
    match outcome {
        Rotation::Rotated {
            old_expires_at_unix_nano,
        } => Ok(old_expires_at_unix_nano),
        Rotation::NotFound => Err((StatusCode::NOT_FOUND, format!("no key {id:?}"))),
        Rotation::NotRotatable {
            replaced_by: Some(next),
        } => Err((
            StatusCode::CONFLICT,
            format!("key {id} was already rotated to {next}; rotate that one"),
        )),
        Rotation::NotRotatable { replaced_by: None } => Err((
            StatusCode::CONFLICT,
            format!("key {id} is revoked or expired; create a new key instead"),
        )),
    }
}

/// A rotation's grace period in nanoseconds: `24h` when not given, at most `30d`.
pub fn parse_grace(grace: Option<&str>) -> Result<i64, String> {
    let grace = ward_model::time::parse_duration(grace.unwrap_or(DEFAULT_GRACE))?;
    let max = ward_model::time::parse_duration(MAX_GRACE).unwrap_or(i64::MAX);
    if grace > max {
        return Err(format!("the grace period is at most {MAX_GRACE}"));
    }
    Ok(grace)
}

/// The expiry of a new key from `expires_in` or `expires_at` (Unix nanoseconds).
pub fn parse_expiry(
    expires_in: Option<&str>,
    expires_at: Option<&str>,
    now: i64,
) -> Result<Option<i64>, String> {
    let at = match (expires_in, expires_at) {
        (Some(_), Some(_)) => return Err("give expires_in or expires_at, not both".into()),
        (Some(d), None) => {
            let d = ward_model::time::parse_duration(d)?;
            if d <= 0 {
                return Err("expires_in must be positive".into());
            }
            now.saturating_add(d)
        }
        (None, Some(t)) => ward_model::time::parse_instant(t, now)?,
        (None, None) => return Ok(None),
    };
    if at <= now {
        return Err("the expiry is in the past".into());
    }
    Ok(Some(at))
}

fn check_tenant(principal: &Principal, tenant: &TenantId) -> Result<(), Problem> {
    if principal.is_global_admin() || &principal.tenant == tenant {
        Ok(())
    } else {
        Err(Problem::forbidden(
            "an admin key manages only its own tenant's keys (or any tenant's, if it belongs to 'default')",
        ))
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ward_store::StoreError> + Send + 'static,
) -> Result<T, Problem> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| Problem::internal())?
        .map_err(Problem::from)
}

fn key_event(
    state: &AppState,
    principal: &Principal,
    kind: &str,
    key: &KeyRecord,
    message: String,
) {
    state.security.raise(
        SecurityEvent::now(key.tenant.clone(), kind, SecuritySeverity::Medium, message)
            .with("key_id", key.id.clone())
            .with("by", principal.identity.to_string()),
    );
}

/// `POST /api/v1/keys`.
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    JsonBody(body): JsonBody<CreateKey>,
) -> Result<(StatusCode, Json<CreatedKey>), Problem> {
    let tenant = match &body.tenant {
        Some(t) => TenantId::new(t).map_err(|e| Problem::bad_request(e.to_string()))?,
        None => principal.tenant.clone(),
    };
    check_tenant(&principal, &tenant)?;
    let grants = parse_scopes(&body.scopes).map_err(Problem::bad_request)?;
    check_grants(&principal, &grants)?;
    if body.name.len() > 200 {
        return Err(Problem::bad_request("name is longer than 200 bytes"));
    }
    let now = ward_model::time::now_unix_nanos();
    let expires = parse_expiry(body.expires_in.as_deref(), body.expires_at.as_deref(), now)
        .map_err(Problem::bad_request)?;
    let minted = mint(tenant, &body.name, &grants, expires);
    let record = minted.record.clone();
    let store = state.store.clone();
    blocking(move || store.keys().insert_key(&record)).await?;
    tracing::info!(key_id = %minted.record.id, tenant = %minted.record.tenant, by = %principal.identity, "API key created");
    key_event(
        &state,
        &principal,
        SecurityEvent::KEY_CREATED,
        &minted.record,
        format!(
            "key {} created with {} by {}",
            minted.record.id,
            minted.record.scopes.join(","),
            principal.identity
        ),
    );
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: minted.text.to_string(),
            info: KeyView::of(&state, minted.record),
            replaces: None,
        }),
    ))
}

fn check_grants(principal: &Principal, grants: &Grants) -> Result<(), Problem> {
    if principal.grants.includes(grants) {
        Ok(())
    } else {
        Err(Problem::forbidden(
            "a key can only be given permissions its creator holds",
        ))
    }
}

/// Answer of `GET /api/v1/keys`.
#[derive(Debug, Serialize)]
pub struct KeyList {
    /// Keys, without secrets.
    pub keys: Vec<KeyView>,
}

/// `GET /api/v1/keys`.
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<KeyList>, Problem> {
    let store = state.store.clone();
    let tenant = (!principal.is_global_admin()).then(|| principal.tenant.clone());
    let keys = blocking(move || store.keys().list_keys(tenant.as_ref())).await?;
    Ok(Json(KeyList {
        keys: keys.into_iter().map(|k| KeyView::of(&state, k)).collect(),
    }))
}

/// The key `id`, if the caller may manage it.
async fn manageable(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<KeyRecord, Problem> {
    let store = state.store.clone();
    let key_id = id.to_owned();
    let found = blocking(move || store.keys().get_key(&key_id)).await?;
    // Keys of other tenants are reported as absent: their ids must not be probed.
    match found {
        Some(record) if check_tenant(principal, &record.tenant).is_ok() => Ok(record),
        _ => Err(Problem::not_found(format!("no key {id:?}"))),
    }
}

/// `DELETE /api/v1/keys/{id}`.
pub async fn revoke(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let record = manageable(&state, &principal, &id).await?;
    let store = state.store.clone();
    let key_id = id.clone();
    let revoked = blocking(move || store.keys().revoke_key(&key_id)).await?;
    state.gate.keys().forget(&id);
    if revoked {
        tracing::info!(key_id = %id, by = %principal.identity, "API key revoked");
        key_event(
            &state,
            &principal,
            SecurityEvent::KEY_REVOKED,
            &record,
            format!("key {id} revoked by {}", principal.identity),
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /api/v1/keys/{id}/rotate`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    /// How long the old key keeps working (`24h` by default, at most `30d`; `0s` ends it now).
    pub grace: Option<String>,
}

/// `POST /api/v1/keys/{id}/rotate`: a new key with the same tenant, name, scopes and lifetime;
/// the old one keeps working for the grace period, so clients can switch without downtime.
pub async fn rotate(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Option<JsonBody<RotateKey>>,
) -> Result<(StatusCode, Json<CreatedKey>), Problem> {
    let body = body.map(|JsonBody(b)| b).unwrap_or_default();
    let grace = parse_grace(body.grace.as_deref()).map_err(Problem::bad_request)?;
    let old = manageable(&state, &principal, &id).await?;
    check_grants(&principal, &Grants::parse_lenient(&old.scopes))?;
    let now = ward_model::time::now_unix_nanos();
    let minted = successor(&old, now);
    let record = minted.record.clone();
    let store = state.store.clone();
    let key_id = id.clone();
    let outcome = blocking(move || {
        store
            .keys()
            .rotate_key(&key_id, &record, now.saturating_add(grace))
    })
    .await?;
    let old_expires =
        rotated(&id, outcome).map_err(|(status, message)| Problem::new(status, message))?;
    state.gate.keys().forget(&id);
    tracing::info!(key_id = %id, new_key_id = %minted.record.id, by = %principal.identity, "API key rotated");
    key_event(
        &state,
        &principal,
        SecurityEvent::KEY_ROTATED,
        &old,
        format!(
            "key {id} rotated to {} by {}; the old key works until {}",
            minted.record.id,
            principal.identity,
            ward_model::time::format_rfc3339(old_expires)
        ),
    );
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: minted.text.to_string(),
            info: KeyView::of(&state, minted.record),
            replaces: Some(Replaced {
                id,
                expires_at: ward_model::time::format_rfc3339(old_expires),
            }),
        }),
    ))
}
