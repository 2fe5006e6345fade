//! Security events: a small append-only table per data directory, written on its own
//! connection (events are few — the server aggregates them per batch — so they never compete
//! with the telemetry writer for long) and read through the read pool.

use rusqlite::{Connection, params};
use ward_model::{SecurityEvent, SecuritySeverity, TenantId};

use crate::admin::{ensure_tenant_on, find_tenant};
use crate::error::{Result, StoreError};
use crate::{MAX_PAGE_LIMIT, Page};

/// What [`crate::Store::security_events`] returns.
#[derive(Debug, Clone)]
pub struct SecurityEventQuery {
    /// The tenant whose events are read.
    pub tenant: TenantId,
    /// Inclusive lower bound (Unix nanoseconds).
    pub from_unix_nano: i64,
    /// Exclusive upper bound (Unix nanoseconds).
    pub to_unix_nano: i64,
    /// Only this kind (e.g. `credential_in_telemetry`).
    pub kind: Option<String>,
    /// Only events at least this severe.
    pub min_severity: Option<SecuritySeverity>,
    /// Page size (capped at [`MAX_PAGE_LIMIT`]).
    pub limit: usize,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// Appends events in one transaction.
pub(crate) fn append(conn: &mut Connection, events: &[SecurityEvent], now: i64) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for event in events {
        let tenant = ensure_tenant_on(&tx, &event.tenant, now)?;
        let details = serde_json::to_string(&event.details)
            .map_err(|e| StoreError::Internal(format!("security event details: {e}")))?;
        tx.prepare_cached(
            "INSERT INTO security_events (tenant_id, time_ns, kind, severity, service, message, details)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            tenant,
            event.time_unix_nano,
            event.kind,
            event.severity.rank(),
            event.service,
            event.message,
            details
        ])?;
    }
    tx.commit()?;
    Ok(())
}

/// Newest first; the cursor is the id of the last event returned.
pub(crate) fn query(conn: &Connection, q: &SecurityEventQuery) -> Result<Page<SecurityEvent>> {
    let Some(tenant_id) = find_tenant(conn, &q.tenant)? else {
        return Ok(Page::empty());
    };
    let before = match &q.cursor {
        None => i64::MAX,
        Some(c) => decode_cursor(c)?,
    };
    let limit = q.limit.clamp(1, MAX_PAGE_LIMIT);
    let mut stmt = conn.prepare_cached(
        "SELECT id, time_ns, kind, severity, service, message, details
         FROM security_events INDEXED BY security_events_tenant
         WHERE tenant_id = ?1 AND id < ?2 AND time_ns >= ?3 AND time_ns < ?4
           AND (?5 IS NULL OR kind = ?5) AND severity >= ?6
         ORDER BY id DESC LIMIT ?7",
    )?;
    let min_rank = q.min_severity.map(SecuritySeverity::rank).unwrap_or(0);
    let rows = stmt.query_map(
        params![
            tenant_id,
            before,
            q.from_unix_nano,
            q.to_unix_nano,
            q.kind,
            min_rank,
            limit as i64 + 1
        ],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u8>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
            ))
        },
    )?;
    let mut items = Vec::new();
    let mut last_id = None;
    let mut more = false;
    for row in rows {
        let (id, time, kind, severity, service, message, details) = row?;
        if items.len() == limit {
            more = true;
            break;
        }
        let severity = SecuritySeverity::from_rank(severity).ok_or_else(|| {
            StoreError::Corrupt(format!("security event {id}: severity {severity}"))
        })?;
        let details = serde_json::from_str(&details)
            .map_err(|e| StoreError::Corrupt(format!("security event {id} details: {e}")))?;
        items.push(SecurityEvent {
            time_unix_nano: time,
            tenant: q.tenant.clone(),
            kind,
            severity,
            service,
            message,
            details,
        });
        last_id = Some(id);
    }
    Ok(Page {
        items,
        next_cursor: if more {
            last_id.map(|id| format!("se{id:x}"))
        } else {
            None
        },
    })
}

fn decode_cursor(cursor: &str) -> Result<i64> {
    cursor
        .strip_prefix("se")
        .and_then(|hex| i64::from_str_radix(hex, 16).ok())
        .filter(|id| *id > 0)
        .ok_or(StoreError::InvalidCursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_checked() {
        assert_eq!(decode_cursor("se1f").unwrap(), 31);
        assert!(decode_cursor("1f").is_err());
        assert!(decode_cursor("sezz").is_err());
        assert!(decode_cursor("se-5").is_err());
    }
}
