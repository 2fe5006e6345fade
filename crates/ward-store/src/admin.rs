//! Tenants and API keys: low-volume writes on their own connection (see `Store::ensure_tenant`).

use rusqlite::{Connection, OptionalExtension, params};
use ward_model::TenantId;

use crate::KeyRecord;
use crate::error::{Result, StoreError};

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
    let scopes =
        serde_json::to_string(&key.scopes).map_err(|e| StoreError::Internal(e.to_string()))?;
    // One transaction so that a failed insert (duplicate id) leaves no half-made state.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let tenant = ensure_tenant_on(&tx, &key.tenant, now)?;
    tx.execute(
        "INSERT INTO api_keys (id, tenant_id, name, scopes, secret_hash, created_at, revoked)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            key.id,
            tenant,
            key.name,
            scopes,
            key.secret_hash.as_slice(),
            key.created_at_unix_nano,
            key.revoked
        ],
    )?;
    tx.commit()?;
    Ok(())
}

const KEY_COLUMNS: &str =
    "SELECT k.id, t.name, k.name, k.scopes, k.secret_hash, k.created_at, k.revoked
     FROM api_keys k JOIN tenants t ON t.id = k.tenant_id";

fn key_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<KeyRecord>> {
    let id: String = row.get(0)?;
    let tenant: String = row.get(1)?;
    let name: String = row.get(2)?;
    let scopes: String = row.get(3)?;
    let hash: Vec<u8> = row.get(4)?;
    let created_at_unix_nano: i64 = row.get(5)?;
    let revoked: bool = row.get(6)?;
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
