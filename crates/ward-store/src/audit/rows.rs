//! Entries and checkpoints ↔ rows of `audit.db`.

use rusqlite::{Row, Transaction, params};
use ward_audit::{Actor, Checkpoint, Details, Entry, Field, Hash, Kind, Outcome, Sealed, TenantId};

use crate::error::{Result, StoreError};

/// The columns every entry read selects, in the order [`entry_from_row`] expects.
pub const ENTRY_COLUMNS: &str = "tenant, seq, time_ns, kind, through_seq, last_hash, agent, \
    on_behalf_of, on_behalf_of_sealed, action, resource, resource_sealed, outcome, trace_id, \
    details, prev_hash, hash";

/// The columns every checkpoint read selects.
pub const CHECKPOINT_COLUMNS: &str = "tenant, seq, hash, time_ns, key_id, signature";

const KIND_AGENT: i64 = 0;
const KIND_SYSTEM: i64 = 1;
const KIND_PRUNE: i64 = 2;

/// Plain text in one column, sealed JSON in the other.
fn field_columns(field: &Field) -> (Option<&str>, Option<String>) {
    match field {
        Field::Plain(text) => (Some(text.as_str()), None),
        Field::Sealed { sealed } => (None, Some(sealed.to_json()["sealed"].to_string())),
    }
}

fn field_from_columns(plain: Option<String>, sealed: Option<String>) -> Result<Option<Field>> {
    match (plain, sealed) {
        (Some(text), _) => Ok(Some(Field::Plain(text))),
        (None, Some(json)) => serde_json::from_str::<Sealed>(&json)
            .map(|sealed| Some(Field::Sealed { sealed }))
            .map_err(|e| StoreError::Corrupt(format!("sealed audit field: {e}"))),
        (None, None) => Ok(None),
    }
}

/// The subject handle an entry is filed under (the sealing subject of `on_behalf_of`).
pub fn subject_of(entry: &Entry) -> Option<&str> {
    match &entry.actor.on_behalf_of {
        Some(Field::Sealed { sealed }) => Some(&sealed.subject),
        _ => None,
    }
}

/// Inserts one entry.
pub fn insert_entry(tx: &Transaction<'_>, e: &Entry) -> Result<()> {
    let (kind, through_seq, last_hash) = match e.kind {
        Kind::Agent => (KIND_AGENT, None, None),
        Kind::System => (KIND_SYSTEM, None, None),
        Kind::Prune {
            through_seq,
            last_hash,
        } => (
            KIND_PRUNE,
            Some(through_seq as i64),
            Some(last_hash.to_vec()),
        ),
    };
    let (obo, obo_sealed) = match &e.actor.on_behalf_of {
        Some(f) => field_columns(f),
        None => (None, None),
    };
    let (resource, resource_sealed) = field_columns(&e.resource);
    tx.prepare_cached(
        "INSERT INTO audit_entries (tenant, seq, time_ns, kind, through_seq, last_hash, agent,
             on_behalf_of, on_behalf_of_sealed, subject, action, resource, resource_sealed,
             outcome, trace_id, details, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?
    .execute(params![
        e.tenant.as_str(),
        e.seq as i64,
        e.time_unix_nano,
        kind,
        through_seq,
        last_hash,
        e.actor.agent,
        obo,
        obo_sealed,
        subject_of(e),
        e.action,
        resource,
        resource_sealed,
        e.outcome.code() as i64,
        e.trace_id,
        e.details.as_str(),
        &e.prev_hash[..],
        &e.hash[..],
    ])?;
    Ok(())
}

fn hash_column(row: &Row<'_>, idx: usize) -> rusqlite::Result<Hash> {
    let bytes: Vec<u8> = row.get(idx)?;
    // A hash of the wrong length (a tampered row) becomes zeros plus the prefix: it can never
    // match, so verification reports the row instead of the read failing.
    let mut h = [0u8; 32];
    let n = bytes.len().min(32);
    h[..n].copy_from_slice(&bytes[..n]);
    if bytes.len() != 32 {
        h[31] ^= 0xff;
    }
    Ok(h)
}

fn outcome_from_code(code: i64) -> Result<Outcome> {
    [
        Outcome::Success,
        Outcome::Failure,
        Outcome::Denied,
        Outcome::Error,
    ]
    .into_iter()
    .find(|o| o.code() as i64 == code)
    .ok_or_else(|| StoreError::Corrupt(format!("audit outcome code {code}")))
}

/// Reads a row selected with [`ENTRY_COLUMNS`].
pub fn entry_from_row(row: &Row<'_>) -> Result<Entry> {
    let tenant: String = row.get(0)?;
    let tenant = TenantId::new(&tenant)
        .map_err(|e| StoreError::Corrupt(format!("audit tenant {tenant:?}: {e}")))?;
    let kind = match row.get::<_, i64>(3)? {
        KIND_AGENT => Kind::Agent,
        KIND_SYSTEM => Kind::System,
        KIND_PRUNE => Kind::Prune {
            through_seq: row.get::<_, Option<i64>>(4)?.unwrap_or(0) as u64,
            last_hash: match row.get::<_, Option<Vec<u8>>>(5)? {
                Some(_) => hash_column(row, 5)?,
                None => [0; 32],
            },
        },
        other => return Err(StoreError::Corrupt(format!("audit entry kind {other}"))),
    };
    let resource = field_from_columns(row.get(10)?, row.get(11)?)?
        .unwrap_or_else(|| Field::Plain(String::new()));
    let entry = Entry {
        tenant,
        seq: row.get::<_, i64>(1)? as u64,
        time_unix_nano: row.get(2)?,
        kind,
        actor: Actor {
            agent: row.get(6)?,
            on_behalf_of: field_from_columns(row.get(7)?, row.get(8)?)?,
        },
        action: row.get(9)?,
        resource,
        outcome: outcome_from_code(row.get(12)?)?,
        trace_id: row.get(13)?,
        details: Details::stored(row.get(14)?),
        prev_hash: hash_column(row, 15)?,
        hash: hash_column(row, 16)?,
    };
    Ok(entry)
}

/// Inserts one checkpoint.
pub fn insert_checkpoint(tx: &Transaction<'_>, cp: &Checkpoint) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit_checkpoints (tenant, seq, hash, time_ns, key_id, signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        cp.tenant.as_str(),
        cp.seq as i64,
        &cp.hash[..],
        cp.time_unix_nano,
        cp.key_id,
        cp.signature
    ])?;
    Ok(())
}

/// Reads a row selected with [`CHECKPOINT_COLUMNS`].
pub fn checkpoint_from_row(row: &Row<'_>) -> Result<Checkpoint> {
    let tenant: String = row.get(0)?;
    Ok(Checkpoint {
        tenant: TenantId::new(&tenant)
            .map_err(|e| StoreError::Corrupt(format!("audit tenant {tenant:?}: {e}")))?,
        seq: row.get::<_, i64>(1)? as u64,
        hash: hash_column(row, 2)?,
        time_unix_nano: row.get(3)?,
        key_id: row.get(4)?,
        signature: row.get(5)?,
    })
}
