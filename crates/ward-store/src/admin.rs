//! Tenants and API keys: low-volume writes on their own connection (see `Store::ensure_tenant`).

use rusqlite::{Connection, OptionalExtension, params};
use ward_model::TenantId;

use crate::error::{Result, StoreError};
use crate::{KeyRecord, KeyUsage};

/// Creates the tenant if needed and returns its row id.
pub(crate) fn ensure_tenant_on(conn: &Connection, tenant: &TenantId, now: i64) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO tenants (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
    )?
    .execute(params![tenant.as_str(), now])?;
    Ok(conn
        .prepare_cached("SELECT id FROM tenants WHERE name = ?1")?
        .query_row([tenant.as_str()], |r| r.get(0))?)
}

/// The row id of a tenant, if it exists.
pub(crate) fn find_tenant(conn: &Connection, tenant: &TenantId) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM tenants WHERE name = ?1")?
        .query_row([tenant.as_str()], |r| r.get(0))
        .optional()?)
}

pub(crate) fn list_tenants(conn: &Connection) -> Result<Vec<TenantId>> {
    let mut stmt = conn.prepare_cached("SELECT name FROM tenants ORDER BY name")?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for name in names {
        let name = name?;
        out.push(
            TenantId::new(&name).map_err(|e| StoreError::Corrupt(format!("tenant name: {e}")))?,
        );
    }
    Ok(out)
}

pub(crate) fn insert_key(conn: &mut Connection, key: &KeyRecord, now: i64) -> Result<()> {
    // One transaction so that a failed insert (duplicate id) leaves no half-made state.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    insert_key_on(&tx, key, now)?;
    tx.commit()?;
    Ok(())
}

fn insert_key_on(conn: &Connection, key: &KeyRecord, now: i64) -> Result<()> {
    let scopes =
        serde_json::to_string(&key.scopes).map_err(|e| StoreError::Internal(e.to_string()))?;
    let tenant = ensure_tenant_on(conn, &key.tenant, now)?;
    conn.prepare_cached(
        "INSERT INTO api_keys (id, tenant_id, name, scopes, secret_hash, created_at, revoked,
                               expires_at, replaced_by, last_used_at, use_count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        key.id,
        tenant,
        key.name,
        scopes,
        key.secret_hash.as_slice(),
        key.created_at_unix_nano,
        key.revoked,
        key.expires_at_unix_nano,
        key.replaced_by,
        key.last_used_unix_nano,
        i64::try_from(key.use_count).unwrap_or(i64::MAX),
    ])?;
    Ok(())
}

/// What happened to a rotation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The new key is stored; the old one works until the given time.
    Rotated {
        /// When the old key stops working (Unix nanoseconds).
        old_expires_at_unix_nano: i64,
    },
    /// No such key.
    NotFound,
    /// The key is revoked, expired, or was already rotated (to the key named).
    NotRotatable {
        /// The key that replaced it, if it was rotated.
        replaced_by: Option<String>,
    },
}

/// Stores `new` and makes `old_id` expire at `old_expires_at` at the latest, in one transaction.
pub(crate) fn rotate_key(
    conn: &mut Connection,
    old_id: &str,
    new: &KeyRecord,
    old_expires_at: i64,
    now: i64,
) -> Result<Rotation> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let Some(old) = get_key(&tx, old_id)? else {
        return Ok(Rotation::NotFound);
    };
    if !old.is_active(now) || old.replaced_by.is_some() {
        return Ok(Rotation::NotRotatable {
            replaced_by: old.replaced_by,
        });
    }
    let expires = old
        .expires_at_unix_nano
        .map_or(old_expires_at, |t| t.min(old_expires_at));
    insert_key_on(&tx, new, now)?;
    tx.execute(
        "UPDATE api_keys SET expires_at = ?2, replaced_by = ?3 WHERE id = ?1",
        params![old_id, expires, new.id],
    )?;
    tx.commit()?;
    Ok(Rotation::Rotated {
        old_expires_at_unix_nano: expires,
    })
}

/// Adds counted uses to the keys' totals, in one transaction.
pub(crate) fn record_key_usage(conn: &mut Connection, usage: &[KeyUsage]) -> Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE api_keys SET use_count = use_count + ?2,
                 last_used_at = MAX(IFNULL(last_used_at, 0), ?3)
             WHERE id = ?1",
        )?;
        for u in usage {
            stmt.execute(params![
                u.id,
                i64::try_from(u.count).unwrap_or(i64::MAX),
                u.last_used_unix_nano
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

const KEY_COLUMNS: &str =
    "SELECT k.id, t.name, k.name, k.scopes, k.secret_hash, k.created_at, k.revoked,
            k.expires_at, k.replaced_by, k.last_used_at, k.use_count
     FROM api_keys k JOIN tenants t ON t.id = k.tenant_id";

fn key_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<KeyRecord>> {
    let id: String = row.get(0)?;
    let tenant: String = row.get(1)?;
    let name: String = row.get(2)?;
    let scopes: String = row.get(3)?;
    let hash: Vec<u8> = row.get(4)?;
    let created_at_unix_nano: i64 = row.get(5)?;
    let revoked: bool = row.get(6)?;
    let expires_at_unix_nano: Option<i64> = row.get(7)?;
    let replaced_by: Option<String> = row.get(8)?;
    let last_used_unix_nano: Option<i64> = row.get(9)?;
    let use_count: i64 = row.get(10)?;
    Ok((|| {
        let tenant =
            TenantId::new(&tenant).map_err(|e| StoreError::Corrupt(format!("key {id}: {e}")))?;
        let scopes: Vec<String> = serde_json::from_str(&scopes)
            .map_err(|e| StoreError::Corrupt(format!("key {id} scopes: {e}")))?;
        let secret_hash: [u8; 32] = hash.as_slice().try_into().map_err(|_| {
            StoreError::Corrupt(format!("key {id}: secret hash is {} bytes", hash.len()))
        })?;
        Ok(KeyRecord {
            id,
            tenant,
            name,
            scopes,
            secret_hash,
            created_at_unix_nano,
            revoked,
            expires_at_unix_nano,
            replaced_by,
            last_used_unix_nano,
            use_count: u64::try_from(use_count).unwrap_or(0),
        })
    })())
}

pub(crate) fn get_key(conn: &Connection, id: &str) -> Result<Option<KeyRecord>> {
    let mut stmt = conn.prepare_cached(&format!("{KEY_COLUMNS} WHERE k.id = ?1"))?;
    stmt.query_row([id], key_from_row).optional()?.transpose()
}

pub(crate) fn list_keys(conn: &Connection, tenant: Option<&TenantId>) -> Result<Vec<KeyRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{KEY_COLUMNS} WHERE ?1 IS NULL OR t.name = ?1 ORDER BY k.created_at, k.id"
    ))?;
    let rows = stmt.query_map([tenant.map(TenantId::as_str)], key_from_row)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

pub(crate) fn revoke_key(conn: &Connection, id: &str) -> Result<bool> {
    let changed = conn
        .prepare_cached("UPDATE api_keys SET revoked = 1 WHERE id = ?1 AND revoked = 0")?
        .execute([id])?;
    Ok(changed > 0)
}

pub(crate) fn count_keys(conn: &Connection) -> Result<usize> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM api_keys")?
        .query_row([], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}
