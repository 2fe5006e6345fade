//! Key management: `POST/GET /api/v1/keys`, `DELETE /api/v1/keys/{id}` (admin scope).
//!
//! An admin key of the `default` tenant manages keys of every tenant; an admin key of another
//! tenant manages only its own tenant's keys.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use ward_model::TenantId;
use ward_store::KeyRecord;

use crate::AppState;
use crate::auth::{Principal, Scope, mint};
use crate::problem::Problem;

/// Body of `POST /api/v1/keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Tenant of the new key; default: the caller's tenant.
    pub tenant: Option<String>,
    /// A label for people (`checkout-service ingest`).
    #[serde(default)]
    pub name: String,
    /// `ingest`, `read`, `metrics`, `admin`.
    pub scopes: Vec<String>,
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
    /// Whether it was revoked.
    pub revoked: bool,
}

impl From<KeyRecord> for KeyView {
    fn from(k: KeyRecord) -> KeyView {
        KeyView {
            id: k.id,
            tenant: k.tenant.to_string(),
            name: k.name,
            scopes: k.scopes,
            created_at: ward_model::time::format_rfc3339(k.created_at_unix_nano),
            revoked: k.revoked,
        }
    }
}

/// Answer of `POST /api/v1/keys`: the only time the key's text is shown.
#[derive(Debug, Serialize)]
pub struct CreatedKey {
    /// The key to use in `Authorization: Bearer …`. Store it now: Ward keeps only its hash.
    pub key: String,
    /// The key's record.
    #[serde(flatten)]
    pub info: KeyView,
}

/// Validates scope names (at least one).
pub fn parse_scopes(names: &[String]) -> Result<Vec<Scope>, String> {
    if names.is_empty() {
        return Err("give at least one scope: ingest, read, metrics or admin".into());
    }
    names.iter().map(|n| Scope::parse(n)).collect()
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

/// `POST /api/v1/keys`.
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<CreateKey>,
) -> Result<(StatusCode, Json<CreatedKey>), Problem> {
    let tenant = match &body.tenant {
        Some(t) => TenantId::new(t).map_err(|e| Problem::bad_request(e.to_string()))?,
        None => principal.tenant.clone(),
    };
    check_tenant(&principal, &tenant)?;
    let scopes = parse_scopes(&body.scopes).map_err(Problem::bad_request)?;
    if body.name.len() > 200 {
        return Err(Problem::bad_request("name is longer than 200 bytes"));
    }
    let minted = mint(tenant, &body.name, &scopes);
    let record = minted.record.clone();
    let store = state.store.clone();
    blocking(move || store.keys().insert_key(&record)).await?;
    tracing::info!(key_id = %minted.record.id, tenant = %minted.record.tenant, by = %principal.key_id, "API key created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: minted.text,
            info: KeyView::from(minted.record),
        }),
    ))
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
        keys: keys.into_iter().map(KeyView::from).collect(),
    }))
}

/// `DELETE /api/v1/keys/{id}`.
pub async fn revoke(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let store = state.store.clone();
    let key_id = id.clone();
    let found = blocking(move || store.keys().get_key(&key_id)).await?;
    let Some(record) = found else {
        return Err(Problem::not_found(format!("no key {id:?}")));
    };
    check_tenant(&principal, &record.tenant)?;
    let store = state.store.clone();
    let key_id = id.clone();
    blocking(move || store.keys().revoke_key(&key_id)).await?;
    state.keys.forget(&id);
    tracing::info!(key_id = %id, by = %principal.key_id, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}
