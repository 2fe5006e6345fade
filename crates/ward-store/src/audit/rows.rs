//! Entries and checkpoints ↔ rows of `audit.db`.

use rusqlite::types::{FromSql, FromSqlError, ValueRef};
use rusqlite::{Row, Transaction, params};
use ward_audit::{Actor, Checkpoint, Details, Entry, Field, Hash, Kind, Outcome, Sealed, TenantId};

use crate::error::{Result, StoreError};

/// [`ENTRY_COLUMNS`] after the first (tenant), as a literal for `concat!`.
macro_rules! columns_after_tenant {
    () => {
        "seq, time_ns, kind, through_seq, last_hash, agent, on_behalf_of, on_behalf_of_sealed, \
         action, resource, resource_sealed, outcome, trace_id, details, prev_hash, hash"
    };
}

/// The columns every entry read selects, in the order [`entry_from_row`] expects.
pub const ENTRY_COLUMNS: &str = concat!("tenant, ", columns_after_tenant!());

/// [`ENTRY_COLUMNS`] but the tenant: scans of one tenant's rows select `NULL` in its place.
pub const COLUMNS_AFTER_TENANT: &str = columns_after_tenant!();

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

/// Where the values of a row come from: a live SQLite row, or a [`RawRow`] copied from one
/// (so that a row can be decoded on another thread than the one stepping the statement).
pub trait Columns {
    /// The value of column `idx`, borrowed.
    fn value(&self, idx: usize) -> rusqlite::Result<ValueRef<'_>>;
    /// The name of column `idx`, for error messages.
    fn name(&self, idx: usize) -> String;
}

impl Columns for Row<'_> {
    fn value(&self, idx: usize) -> rusqlite::Result<ValueRef<'_>> {
        self.get_ref(idx)
    }

    fn name(&self, idx: usize) -> String {
        self.as_ref()
            .column_name(idx)
            .map_or_else(|_| format!("column {idx}"), str::to_owned)
    }
}

/// A value of a [`RawRows`] batch; text and blobs are ranges of its arena.
#[derive(Debug, Clone, Copy)]
enum RawValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(usize, usize),
    Blob(usize, usize),
}

/// Rows selected with [`ENTRY_COLUMNS`], copied out of SQLite into one buffer: the reading
/// thread only steps the statement and copies bytes, another decodes and verifies.
#[derive(Debug, Default)]
pub struct RawRows {
    arena: Vec<u8>,
    values: Vec<RawValue>,
}

/// Number of columns of [`ENTRY_COLUMNS`].
const ENTRY_COLUMN_COUNT: usize = 17;

impl RawRows {
    /// Copies the entry columns of `row` (all but the tenant, which the caller selected by);
    /// returns the index of the copy.
    pub fn push(&mut self, row: &Row<'_>) -> rusqlite::Result<usize> {
        let index = self.values.len() / ENTRY_COLUMN_COUNT;
        self.values.push(RawValue::Null);
        for idx in 1..ENTRY_COLUMN_COUNT {
            let value = match row.get_ref(idx)? {
                ValueRef::Null => RawValue::Null,
                ValueRef::Integer(i) => RawValue::Integer(i),
                ValueRef::Real(f) => RawValue::Real(f),
                ValueRef::Text(t) => {
                    let start = self.arena.len();
                    self.arena.extend_from_slice(t);
                    RawValue::Text(start, t.len())
                }
                ValueRef::Blob(b) => {
                    let start = self.arena.len();
                    self.arena.extend_from_slice(b);
                    RawValue::Blob(start, b.len())
                }
            };
            self.values.push(value);
        }
        Ok(index)
    }

    /// The copy with index `index`.
    pub fn row(&self, index: usize) -> RawRow<'_> {
        let start = index * ENTRY_COLUMN_COUNT;
        RawRow {
            arena: &self.arena,
            values: &self.values[start..start + ENTRY_COLUMN_COUNT],
        }
    }

    /// Forgets every row, keeping the buffers.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.values.clear();
    }
}

/// One row of a [`RawRows`] batch.
#[derive(Debug, Clone, Copy)]
pub struct RawRow<'a> {
    arena: &'a [u8],
    values: &'a [RawValue],
}

impl Columns for RawRow<'_> {
    fn value(&self, idx: usize) -> rusqlite::Result<ValueRef<'_>> {
        Ok(match self.values.get(idx) {
            None => return Err(rusqlite::Error::InvalidColumnIndex(idx)),
            Some(RawValue::Null) => ValueRef::Null,
            Some(RawValue::Integer(i)) => ValueRef::Integer(*i),
            Some(RawValue::Real(f)) => ValueRef::Real(*f),
            Some(RawValue::Text(start, len)) => ValueRef::Text(&self.arena[*start..start + len]),
            Some(RawValue::Blob(start, len)) => ValueRef::Blob(&self.arena[*start..start + len]),
        })
    }

    fn name(&self, idx: usize) -> String {
        ENTRY_COLUMNS
            .split(',')
            .nth(idx)
            .map_or_else(|| format!("column {idx}"), |n| n.trim().to_owned())
    }
}

/// The error `Row::get` gives for a value it cannot convert.
fn conversion_error(
    row: &impl Columns,
    idx: usize,
    value: ValueRef<'_>,
    err: FromSqlError,
) -> rusqlite::Error {
    match err {
        FromSqlError::InvalidType => {
            rusqlite::Error::InvalidColumnType(idx, row.name(idx), value.data_type())
        }
        FromSqlError::OutOfRange(i) => rusqlite::Error::IntegralValueOutOfRange(idx, i),
        other => rusqlite::Error::FromSqlConversionFailure(idx, value.data_type(), Box::new(other)),
    }
}

/// Column `idx` converted as `Row::get` would.
fn get<T: FromSql>(row: &impl Columns, idx: usize) -> rusqlite::Result<T> {
    let value = row.value(idx)?;
    T::column_result(value).map_err(|e| conversion_error(row, idx, value, e))
}

/// A hash from a BLOB column, copied without allocating.
fn hash_column(row: &impl Columns, idx: usize) -> rusqlite::Result<Hash> {
    let value = row.value(idx)?;
    let bytes = value
        .as_blob()
        .map_err(|e| conversion_error(row, idx, value, e))?;
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

/// A TEXT column borrowed from the row (`None` for NULL), without allocating.
fn text_column(row: &impl Columns, idx: usize) -> rusqlite::Result<Option<&str>> {
    let value = row.value(idx)?;
    value
        .as_str_or_null()
        .map_err(|e| conversion_error(row, idx, value, e))
}

/// A NOT NULL TEXT column (NULL is an error, as for `Row::get::<String>`).
fn required_text(row: &impl Columns, idx: usize) -> rusqlite::Result<&str> {
    let value = row.value(idx)?;
    value
        .as_str()
        .map_err(|e| conversion_error(row, idx, value, e))
}

/// Overwrites `dst` with `src`, keeping its allocation.
fn set_text(dst: &mut String, src: &str) {
    dst.clear();
    dst.push_str(src);
}

/// Stores the field of the columns `plain`/`sealed` in `slot`, reusing a plain string.
fn fill_field(slot: &mut Option<Field>, plain: Option<&str>, sealed: Option<&str>) -> Result<()> {
    match (plain, sealed) {
        (Some(text), _) => match slot {
            Some(Field::Plain(s)) => set_text(s, text),
            _ => *slot = Some(Field::Plain(text.to_owned())),
        },
        (None, Some(json)) => {
            let sealed = serde_json::from_str::<Sealed>(json)
                .map_err(|e| StoreError::Corrupt(format!("sealed audit field: {e}")))?;
            *slot = Some(Field::Sealed { sealed });
        }
        (None, None) => *slot = None,
    }
    Ok(())
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

/// An entry of `tenant` with empty fields, to be filled by [`fill_entry_from_row`].
pub fn blank_entry(tenant: TenantId) -> Entry {
    Entry {
        tenant,
        seq: 0,
        time_unix_nano: 0,
        kind: Kind::Agent,
        actor: Actor {
            agent: String::new(),
            on_behalf_of: None,
        },
        action: String::new(),
        resource: Field::Plain(String::new()),
        outcome: Outcome::Success,
        trace_id: None,
        details: Details::stored(String::new()),
        prev_hash: [0; 32],
        hash: [0; 32],
    }
}

/// Reads a row selected with [`ENTRY_COLUMNS`].
pub fn entry_from_row(row: &Row<'_>) -> Result<Entry> {
    let tenant = required_text(row, 0)?;
    let tenant = TenantId::new(tenant)
        .map_err(|e| StoreError::Corrupt(format!("audit tenant {tenant:?}: {e}")))?;
    let mut entry = blank_entry(tenant);
    fill_entry_from_row(row, &mut entry)?;
    Ok(entry)
}

/// Reads a row selected with [`ENTRY_COLUMNS`] into `entry`, reusing its string buffers: a
/// scan over many rows allocates only for `details` and sealed fields. The tenant column is
/// not read: the caller selected the rows of `entry.tenant` (`WHERE tenant = ?`).
pub fn fill_entry_from_row(row: &impl Columns, entry: &mut Entry) -> Result<()> {
    entry.kind = match get::<i64>(row, 3)? {
        KIND_AGENT => Kind::Agent,
        KIND_SYSTEM => Kind::System,
        KIND_PRUNE => Kind::Prune {
            through_seq: get::<Option<i64>>(row, 4)?.unwrap_or(0) as u64,
            last_hash: match row.value(5)? {
                ValueRef::Null => [0; 32],
                _ => hash_column(row, 5)?,
            },
        },
        other => return Err(StoreError::Corrupt(format!("audit entry kind {other}"))),
    };
    entry.seq = get::<i64>(row, 1)? as u64;
    entry.time_unix_nano = get(row, 2)?;
    set_text(&mut entry.actor.agent, required_text(row, 6)?);
    fill_field(
        &mut entry.actor.on_behalf_of,
        text_column(row, 7)?,
        text_column(row, 8)?,
    )?;
    set_text(&mut entry.action, required_text(row, 9)?);
    let mut resource = Some(std::mem::replace(
        &mut entry.resource,
        Field::Plain(String::new()),
    ));
    fill_field(&mut resource, text_column(row, 10)?, text_column(row, 11)?)?;
    entry.resource = resource.unwrap_or_else(|| Field::Plain(String::new()));
    entry.outcome = outcome_from_code(get(row, 12)?)?;
    match (text_column(row, 13)?, &mut entry.trace_id) {
        (None, slot) => *slot = None,
        (Some(t), Some(slot)) => set_text(slot, t),
        (Some(t), slot) => *slot = Some(t.to_owned()),
    }
    entry.details = Details::stored(required_text(row, 14)?.to_owned());
    entry.prev_hash = hash_column(row, 15)?;
    entry.hash = hash_column(row, 16)?;
    Ok(())
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
