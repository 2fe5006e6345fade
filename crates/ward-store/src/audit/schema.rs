//! The tables of `audit.db`.
//!
//! Entries keep their append order in `id` (the rowid): verification reads them in that
//! order, so rows moved, deleted or slipped in show up as what they are. `(tenant, seq)` is
//! indexed but deliberately not unique: uniqueness comes from the single writer, and a
//! duplicate planted in the file must be *found* by verification, not prevented from existing.

use rusqlite::Connection;

use crate::error::{Result, StoreError};

/// The schema version this code writes.
pub const VERSION: i64 = 1;

const V1: &str = "
CREATE TABLE audit_entries (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time_ns INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    through_seq INTEGER,
    last_hash BLOB,
    agent TEXT NOT NULL,
    on_behalf_of TEXT,
    on_behalf_of_sealed TEXT,
    subject TEXT,
    action TEXT NOT NULL,
    resource TEXT,
    resource_sealed TEXT,
    outcome INTEGER NOT NULL,
    trace_id TEXT,
    details TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX audit_entries_seq ON audit_entries (tenant, seq);
CREATE INDEX audit_entries_time ON audit_entries (tenant, time_ns);
CREATE INDEX audit_entries_agent ON audit_entries (tenant, agent, seq);
CREATE INDEX audit_entries_action ON audit_entries (tenant, action, seq);
CREATE INDEX audit_entries_subject ON audit_entries (tenant, subject, seq);
CREATE TABLE audit_checkpoints (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL,
    time_ns INTEGER NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE INDEX audit_checkpoints_seq ON audit_checkpoints (tenant, seq);
CREATE TABLE audit_subjects (
    tenant TEXT NOT NULL,
    subject TEXT NOT NULL,
    handle TEXT NOT NULL,
    key BLOB NOT NULL,
    created_ns INTEGER NOT NULL,
    PRIMARY KEY (tenant, subject)
) WITHOUT ROWID;
CREATE UNIQUE INDEX audit_subjects_handle ON audit_subjects (tenant, handle);
CREATE TABLE audit_erasures (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    handle TEXT NOT NULL,
    time_ns INTEGER NOT NULL,
    entries INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE TABLE audit_prunes (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    time_ns INTEGER NOT NULL,
    from_seq INTEGER NOT NULL,
    through_seq INTEGER NOT NULL,
    entries INTEGER NOT NULL,
    archive TEXT NOT NULL,
    marker_seq INTEGER NOT NULL
);
";

/// Creates the tables on a new file; refuses a file written by a newer Ward.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    match version {
        0 => {
            let tx = conn.transaction()?;
            tx.execute_batch(V1)?;
            tx.execute_batch(&format!("PRAGMA user_version = {VERSION}"))?;
            tx.commit()?;
            Ok(())
        }
        VERSION => Ok(()),
        other => Err(StoreError::Migration(format!(
            "audit.db has schema version {other}; this Ward understands up to {VERSION}"
        ))),
    }
}
