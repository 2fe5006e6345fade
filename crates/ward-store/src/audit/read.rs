//! Reading `audit.db`: queries, the export stream, verification and the compliance report.
//! [`AuditReader`] works on a read-only connection, so `ward audit verify` can check the file
//! of a running Ward (WAL readers never block the writer).

use std::path::Path;

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, ToSql, params};
use serde::Serialize;
use serde_json::Value;
use ward_audit::{Checkpoint, Entry, ExportLine, Outcome, PublicKey, TenantId, Verdict, Verifier};

use super::rows::{
    CHECKPOINT_COLUMNS, COLUMNS_AFTER_TENANT, ENTRY_COLUMNS, RawRows, blank_entry,
    checkpoint_from_row, entry_from_row, fill_entry_from_row,
};
use super::subjects::{KeyLookup, user_subject};
use super::{AUDIT_DB_FILE, Erasure, PruneRun};
use crate::error::{Result, StoreError};
use crate::{MAX_PAGE_LIMIT, Page};

/// A query over one tenant's trail; every filter is optional. Newest first.
#[derive(Debug, Clone)]
pub struct AuditQuery {
    /// The tenant whose trail is read.
    pub tenant: TenantId,
    /// Only entries by this agent.
    pub agent: Option<String>,
    /// Only entries recorded on behalf of this user (found through the user's subject;
    /// nothing after the user was erased).
    pub user: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this resource (exact), or resources starting with it when it ends in `*`.
    pub resource: Option<String>,
    /// Only this outcome.
    pub outcome: Option<Outcome>,
    /// Inclusive lower bound of the append time (Unix nanoseconds).
    pub from_unix_nano: i64,
    /// Exclusive upper bound of the append time.
    pub to_unix_nano: i64,
    /// Page size (capped at [`MAX_PAGE_LIMIT`]).
    pub limit: usize,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// An entry as people read it: the stored entry plus its personal fields opened.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// The entry exactly as hashed (sealed fields sealed).
    pub entry: Entry,
    /// `on_behalf_of` in clear, if there is one and its subject was not erased.
    pub on_behalf_of: Option<String>,
    /// Whether a sealed field of this entry belongs to an erased subject.
    pub erased: bool,
    /// `details` with sealed values opened (erased ones are `{"erased": true}`).
    pub details: Value,
}

/// A seq range (inclusive) for exports.
#[derive(Debug, Clone, Copy)]
pub struct SeqRange {
    /// First seq.
    pub from: u64,
    /// Last seq.
    pub to: u64,
}

impl SeqRange {
    /// Every seq.
    pub const ALL: SeqRange = SeqRange {
        from: 0,
        to: i64::MAX as u64,
    };
}

/// A tenant's trail at a glance.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrailStats {
    /// Entries stored.
    pub entries: u64,
    /// Lowest stored seq (0 if empty).
    pub first_seq: u64,
    /// Highest stored seq.
    pub last_seq: u64,
    /// Append time of the oldest stored entry.
    pub oldest_unix_nano: Option<i64>,
    /// Append time of the newest.
    pub newest_unix_nano: Option<i64>,
    /// Checkpoints stored.
    pub checkpoints: u64,
    /// The newest checkpoint.
    pub last_checkpoint: Option<Checkpoint>,
}

/// Reads one `audit.db`.
pub struct AuditReader {
    conn: Connection,
}

impl std::fmt::Debug for AuditReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditReader").finish_non_exhaustive()
    }
}

/// A line of a scan: an entry's row, or a checkpoint.
enum Walked<'a, 'r> {
    Row(&'a rusqlite::Row<'r>),
    Checkpoint(Checkpoint),
}

/// Lines per batch handed from the reading thread to the verifying one.
const BATCH_LINES: usize = 2_048;
/// Batches queued between the two (bounds memory).
const BATCHES_IN_FLIGHT: usize = 4;

/// A batch of rows (copied out of SQLite) and checkpoints, in stream order.
#[derive(Default)]
struct Batch {
    rows: RawRows,
    lines: Vec<BatchLine>,
}

enum BatchLine {
    /// The row with this index in `rows`.
    Entry(usize),
    Checkpoint(Checkpoint),
}

/// How the verifying thread ended.
enum Checked {
    /// Every line was fed.
    Done(Verifier),
    /// The verifier found an inconsistency and stopped.
    Broken(Verifier),
    /// A row could not be decoded.
    Failed(StoreError),
}

/// The verifying thread: decodes and feeds every batch, returning emptied batches for reuse.
fn check_batches(
    tenant: &TenantId,
    keys: &[PublicKey],
    batches: Receiver<Batch>,
    free: SyncSender<Batch>,
) -> Checked {
    let mut verifier = Verifier::new(tenant.clone(), keys);
    let mut entry = blank_entry(tenant.clone());
    for mut batch in batches {
        for line in batch.lines.drain(..) {
            let fed = match line {
                BatchLine::Entry(index) => {
                    if let Err(e) = fill_entry_from_row(&batch.rows.row(index), &mut entry) {
                        return Checked::Failed(e);
                    }
                    verifier.entry(&entry)
                }
                BatchLine::Checkpoint(c) => verifier.checkpoint(&c),
            };
            if fed.is_err() {
                // Dropping the receiver stops the reader.
                return Checked::Broken(verifier);
            }
        }
        batch.rows.clear();
        let _ = free.try_send(batch);
    }
    Checked::Done(verifier)
}

/// The memory map of a reader connection.
const READER_MMAP_BYTES: u64 = 256 << 20;
/// The memory map while verifying.
const VERIFY_MMAP_BYTES: u64 = 1 << 30;

/// Rows between progress callbacks.
const PROGRESS_EVERY: u64 = 16_384;

impl AuditReader {
    /// Opens the audit trail of the Ward data directory `data_dir`, read-only.
    pub fn open(data_dir: &Path) -> Result<AuditReader> {
        let path = data_dir.join(AUDIT_DB_FILE);
        if !path.exists() {
            return Err(StoreError::Migration(format!(
                "no audit trail at {} (start `ward serve` with this data directory first)",
                path.display()
            )));
        }
        AuditReader::on_path(&path)
    }

    pub(crate) fn on_path(path: &Path) -> Result<AuditReader> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(&format!(
            "PRAGMA query_only=ON; PRAGMA cache_size=-16384; PRAGMA mmap_size={READER_MMAP_BYTES};"
        ))?;
        Ok(AuditReader { conn })
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Tenants that have a trail, sorted.
    pub fn tenants(&self) -> Result<Vec<TenantId>> {
        tenants(&self.conn)
    }

    /// Counts and bounds of a tenant's trail.
    pub fn stats(&self, tenant: &TenantId) -> Result<TrailStats> {
        let (entries, first, last, oldest, newest): (
            i64,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        ) = self.conn.query_row(
            "SELECT count(*), min(seq), max(seq), min(time_ns), max(time_ns)
                 FROM audit_entries WHERE tenant = ?1",
            [tenant.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
        let checkpoints: i64 = self.conn.query_row(
            "SELECT count(*) FROM audit_checkpoints WHERE tenant = ?1",
            [tenant.as_str()],
            |r| r.get(0),
        )?;
        let last_checkpoint = self
            .conn
            .prepare(&format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE tenant = ?1
                 ORDER BY seq DESC LIMIT 1"
            ))?
            .query_row([tenant.as_str()], |r| Ok(checkpoint_from_row(r)))
            .optional()?
            .transpose()?;
        Ok(TrailStats {
            entries: entries as u64,
            first_seq: first.unwrap_or(0) as u64,
            last_seq: last.unwrap_or(0) as u64,
            oldest_unix_nano: oldest,
            newest_unix_nano: newest,
            checkpoints: checkpoints as u64,
            last_checkpoint,
        })
    }

    /// The seq range of the entries appended in `[from, to)` (Unix nanoseconds).
    pub fn seq_range(&self, tenant: &TenantId, from: i64, to: i64) -> Result<Option<SeqRange>> {
        let (lo, hi): (Option<i64>, Option<i64>) = self.conn.query_row(
            "SELECT min(seq), max(seq) FROM audit_entries
             WHERE tenant = ?1 AND time_ns >= ?2 AND time_ns < ?3",
            params![tenant.as_str(), from, to],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(lo.zip(hi).map(|(from, to)| SeqRange {
            from: from as u64,
            to: to as u64,
        }))
    }

    /// Streams the export lines of `tenant` within `range`: entries in stored (append) order,
    /// each checkpoint right after the entry it covers; checkpoints beyond the last entry come
    /// at the end. Stops early, returning the error, if `each` fails.
    pub fn lines<E>(
        &self,
        tenant: &TenantId,
        range: SeqRange,
        mut each: impl FnMut(ExportLine) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E>
    where
        E: From<StoreError>,
    {
        self.walk(tenant, range, |line| match line {
            Walked::Row(row) => {
                let mut entry = blank_entry(tenant.clone());
                fill_entry_from_row(row, &mut entry)?;
                each(ExportLine::Entry(entry))
            }
            Walked::Checkpoint(c) => each(ExportLine::Checkpoint(c)),
        })
    }

    /// The rows behind [`AuditReader::lines`], undecoded: entries in stored (append) order,
    /// each checkpoint right after the entry it covers.
    fn walk<E>(
        &self,
        tenant: &TenantId,
        range: SeqRange,
        mut each: impl FnMut(Walked<'_, '_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E>
    where
        E: From<StoreError>,
    {
        let from = range.from.min(i64::MAX as u64) as i64;
        let to = range.to.min(i64::MAX as u64) as i64;
        let mut cps = self
            .conn
            .prepare(&format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints
                 WHERE tenant = ?1 AND seq >= ?2 AND seq <= ?3 ORDER BY seq, id"
            ))
            .map_err(StoreError::from)?;
        let mut cps = cps
            .query(params![tenant.as_str(), from, to])
            .map_err(StoreError::from)?;
        let next_cp = |cps: &mut rusqlite::Rows<'_>| -> Result<Option<Checkpoint>> {
            match cps.next()? {
                Some(row) => checkpoint_from_row(row).map(Some),
                None => Ok(None),
            }
        };
        let mut pending = next_cp(&mut cps)?;

        let sql = self.entry_scan(tenant, from, to)?;
        let mut stmt = self.conn.prepare_cached(&sql).map_err(StoreError::from)?;
        let mut rows = stmt
            .query(params![tenant.as_str(), from, to])
            .map_err(StoreError::from)?;
        while let Some(row) = rows.next().map_err(StoreError::from)? {
            each(Walked::Row(row))?;
            // A seq that is not an integer fails the row's decoding; no checkpoint follows it.
            let Ok(ValueRef::Integer(seq)) = row.get_ref(1) else {
                continue;
            };
            while let Some(cp) = pending.take_if(|cp| cp.seq as i64 <= seq) {
                each(Walked::Checkpoint(cp))?;
                pending = next_cp(&mut cps)?;
            }
        }
        while let Some(cp) = pending.take() {
            each(Walked::Checkpoint(cp))?;
            pending = next_cp(&mut cps)?;
        }
        Ok(())
    }

    /// The statement selecting the entries of `tenant` with seq in `[from, to]` in rowid
    /// (append) order, with parameters ?1 tenant, ?2 from, ?3 to.
    ///
    /// Going through the `(tenant, seq)` index would make SQLite sort the whole range in a
    /// temporary B-tree: memory and time growing with the trail, and a random table access per
    /// row. When the range holds a fair share of the table (by estimates that cost two index
    /// probes) the table is walked in rowid order instead; otherwise the index bounds the
    /// rowids first, and the span between them is walked when the range's rows are most of it.
    fn entry_scan(&self, tenant: &TenantId, from: i64, to: i64) -> Result<String> {
        // The tenant column is not decoded (the rows are the tenant's): NULL in its place.
        let walk = |bounds: &str| {
            format!(
                "SELECT NULL, {COLUMNS_AFTER_TENANT} FROM audit_entries NOT INDEXED
                 WHERE {bounds}tenant = ?1 AND seq >= ?2 AND seq <= ?3 ORDER BY id"
            )
        };
        // One extremum per statement: SQLite answers min() or max() alone from the index in
        // one probe, but both together by scanning the range.
        let extremum = |sql: &str| -> Result<Option<i64>> {
            Ok(self
                .conn
                .prepare_cached(sql)?
                .query_row(params![tenant.as_str(), from, to], |r| r.get(0))?)
        };
        let low = extremum(
            "SELECT min(seq) FROM audit_entries WHERE tenant = ?1 AND seq >= ?2 AND seq <= ?3",
        )?;
        let high = extremum(
            "SELECT max(seq) FROM audit_entries WHERE tenant = ?1 AND seq >= ?2 AND seq <= ?3",
        )?;
        let (Some(low), Some(high)) = (low, high) else {
            // Nothing in range: a walk of an empty rowid span.
            return Ok(walk("id < 0 AND "));
        };
        let first_id: Option<i64> =
            self.conn
                .query_row("SELECT min(id) FROM audit_entries", [], |r| r.get(0))?;
        let last_id: Option<i64> =
            self.conn
                .query_row("SELECT max(id) FROM audit_entries", [], |r| r.get(0))?;
        let table = last_id
            .unwrap_or(0)
            .saturating_sub(first_id.unwrap_or(0))
            .saturating_add(1);
        let estimate = high.saturating_sub(low).saturating_add(1);
        if estimate.saturating_mul(4) >= table {
            return Ok(walk(""));
        }
        let (count, lo, hi): (i64, Option<i64>, Option<i64>) = self.conn.query_row(
            "SELECT count(*), min(id), max(id) FROM audit_entries
             WHERE tenant = ?1 AND seq >= ?2 AND seq <= ?3",
            params![tenant.as_str(), from, to],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let (lo, hi) = (lo.unwrap_or(1), hi.unwrap_or(0));
        let bounds = format!("id >= {lo} AND id <= {hi} AND ");
        if hi.saturating_sub(lo).saturating_add(1) <= count.saturating_mul(4) {
            Ok(walk(&bounds))
        } else {
            Ok(format!(
                "SELECT {ENTRY_COLUMNS} FROM audit_entries
                 WHERE {bounds}tenant = ?1 AND seq >= ?2 AND seq <= ?3 ORDER BY id"
            ))
        }
    }

    /// Verifies `tenant`'s whole trail against `keys`; `progress` is called with the number of
    /// entries read so far every few thousand entries.
    ///
    /// Two threads: this one steps SQLite and copies each row's bytes into batches; the other
    /// decodes the rows and runs the [`Verifier`] (hashing). Batches are recycled, so memory
    /// stays constant.
    pub fn verify(
        &self,
        tenant: &TenantId,
        keys: &[PublicKey],
        mut progress: impl FnMut(u64),
    ) -> Result<Verdict> {
        // Read through a memory map of up to 1 GiB (about 2.5M entries): 1.1–1.3M entries/s
        // against 0.83–0.88M through SQLite's page cache on 1M entries. The mapped pages are
        // clean file pages (page cache, reclaimable); they count in the resident size, which
        // is therefore bounded by the map, not by the trail. Back to the usual map afterwards.
        let _ = self
            .conn
            .execute_batch(&format!("PRAGMA mmap_size={VERIFY_MMAP_BYTES};"));
        let (full_tx, full_rx) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let (free_tx, free_rx) = sync_channel::<Batch>(BATCHES_IN_FLIGHT + 2);
        let outcome = std::thread::scope(|scope| {
            let checker = std::thread::Builder::new()
                .name("ward-audit-verify".into())
                .spawn_scoped(scope, move || check_batches(tenant, keys, full_rx, free_tx))
                .map_err(StoreError::Io)?;
            let mut batch = Batch::default();
            let mut seen = 0u64;
            let read = self.walk(tenant, SeqRange::ALL, |line| -> Result<()> {
                match line {
                    Walked::Row(row) => {
                        let index = batch.rows.push(row)?;
                        batch.lines.push(BatchLine::Entry(index));
                        seen += 1;
                        if seen.is_multiple_of(PROGRESS_EVERY) {
                            progress(seen);
                        }
                    }
                    Walked::Checkpoint(c) => batch.lines.push(BatchLine::Checkpoint(c)),
                }
                if batch.lines.len() >= BATCH_LINES {
                    let next = free_rx.try_recv().unwrap_or_default();
                    full_tx
                        .send(std::mem::replace(&mut batch, next))
                        .map_err(|_| StoreError::Internal("verification stopped".into()))?;
                }
                Ok(())
            });
            // Whatever was read goes to the checker, even after a read error: an
            // inconsistency before the unreadable row is the verdict.
            let _ = full_tx.send(batch);
            drop(full_tx);
            progress(seen);
            let checked = checker
                .join()
                .map_err(|_| StoreError::Internal("the audit verifier panicked".into()))?;
            match (checked, read) {
                (Checked::Done(verifier), Ok(())) => Ok(verifier.finish()),
                (Checked::Broken(verifier), _) => Ok(verifier.finish()),
                (Checked::Failed(e), _) => Err(e),
                (Checked::Done(_), Err(e)) => Err(e),
            }
        });
        let _ = self
            .conn
            .execute_batch(&format!("PRAGMA mmap_size={READER_MMAP_BYTES};"));
        outcome
    }

    /// A page of entries matching `q`, newest first, personal fields opened.
    pub fn query(&self, q: &AuditQuery) -> Result<Page<AuditRecord>> {
        let before: i64 = match &q.cursor {
            None => i64::MAX,
            Some(c) => c
                .strip_prefix('s')
                .and_then(|n| n.parse().ok())
                .ok_or(StoreError::InvalidCursor)?,
        };
        let mut sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_entries
             WHERE tenant = ?1 AND seq < ?2 AND time_ns >= ?3 AND time_ns < ?4"
        );
        let tenant = q.tenant.as_str().to_owned();
        let mut args: Vec<Box<dyn ToSql>> = vec![
            Box::new(tenant),
            Box::new(before),
            Box::new(q.from_unix_nano),
            Box::new(q.to_unix_nano),
        ];
        let mut add = |clause: &str, value: Box<dyn ToSql>, suffix: &str| {
            args.push(value);
            sql.push_str(&format!(" AND {clause} ?{}{suffix}", args.len()));
        };
        if let Some(agent) = &q.agent {
            add("agent =", Box::new(agent.clone()), "");
        }
        if let Some(user) = &q.user {
            let handle: Option<String> = self
                .conn
                .query_row(
                    "SELECT handle FROM audit_subjects WHERE tenant = ?1 AND subject = ?2",
                    params![q.tenant.as_str(), user_subject(user)],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(handle) = handle else {
                return Ok(Page::empty());
            };
            add("subject =", Box::new(handle), "");
        }
        if let Some(action) = &q.action {
            add("action =", Box::new(action.clone()), "");
        }
        if let Some(resource) = &q.resource {
            match resource.strip_suffix('*') {
                Some(prefix) => {
                    let escaped = prefix
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_");
                    add(
                        "resource LIKE",
                        Box::new(format!("{escaped}%")),
                        " ESCAPE '\\'",
                    );
                }
                None => add("resource =", Box::new(resource.clone()), ""),
            }
        }
        if let Some(outcome) = q.outcome {
            add("outcome =", Box::new(outcome.code() as i64), "");
        }
        let limit = q.limit.clamp(1, MAX_PAGE_LIMIT);
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT {}", limit + 1));
        let mut stmt = self.conn.prepare(&sql)?;
        let params: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
        let mut rows = stmt.query(params.as_slice())?;
        let mut stored = Vec::with_capacity(limit + 1);
        while let Some(row) = rows.next()? {
            stored.push(entry_from_row(row)?);
        }
        let more = stored.len() > limit;
        stored.truncate(limit);
        let next_cursor = more
            .then(|| stored.last().map(|e| format!("s{}", e.seq)))
            .flatten();
        let mut keys = KeyLookup::new(&self.conn, &q.tenant);
        let items = stored
            .into_iter()
            .map(|e| open_record(&mut keys, e))
            .collect::<Result<_>>()?;
        Ok(Page { items, next_cursor })
    }

    /// Counts of entries appended in `[from, to)` grouped by `column` (agent, action or
    /// outcome), largest first, at most `limit` groups.
    pub(crate) fn counts_by(
        &self,
        tenant: &TenantId,
        column: &str,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<(String, u64)>> {
        let expr = match column {
            "outcome" => {
                "CASE outcome WHEN 0 THEN 'success' WHEN 1 THEN 'failure' \
                          WHEN 2 THEN 'denied' ELSE 'error' END"
            }
            "agent" => "agent",
            _ => "action",
        };
        let sql = format!(
            "SELECT {expr} AS k, count(*) AS n FROM audit_entries
             WHERE tenant = ?1 AND time_ns >= ?2 AND time_ns < ?3
             GROUP BY k ORDER BY n DESC, k LIMIT ?4"
        );
        let out = self
            .conn
            .prepare(&sql)?
            .query_map(params![tenant.as_str(), from, to, limit as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(out)
    }

    /// Erasures recorded for `tenant` in `[from, to)`.
    pub fn erasures(&self, tenant: &TenantId, from: i64, to: i64) -> Result<Vec<Erasure>> {
        let out = self
            .conn
            .prepare(
                "SELECT e.handle, e.entries, e.seq, a.hash FROM audit_erasures e
                 LEFT JOIN audit_entries a ON a.tenant = e.tenant AND a.seq = e.seq
                 WHERE e.tenant = ?1 AND e.time_ns >= ?2 AND e.time_ns < ?3 ORDER BY e.id",
            )?
            .query_map(params![tenant.as_str(), from, to], |r| {
                let hash: Option<Vec<u8>> = r.get(3)?;
                let mut h = [0u8; 32];
                if let Some(b) = hash.filter(|b| b.len() == 32) {
                    h.copy_from_slice(&b);
                }
                Ok(Erasure {
                    handle: r.get(0)?,
                    entries: r.get::<_, i64>(1)? as u64,
                    seq: r.get::<_, i64>(2)? as u64,
                    hash: h,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(out)
    }

    /// Retention runs of `tenant`, oldest first.
    pub fn prunes(&self, tenant: &TenantId) -> Result<Vec<PruneRun>> {
        let out = self
            .conn
            .prepare(
                "SELECT time_ns, from_seq, through_seq, entries, archive, marker_seq
                 FROM audit_prunes WHERE tenant = ?1 ORDER BY id",
            )?
            .query_map([tenant.as_str()], |r| {
                Ok(PruneRun {
                    time_unix_nano: r.get(0)?,
                    from_seq: r.get::<_, i64>(1)? as u64,
                    through_seq: r.get::<_, i64>(2)? as u64,
                    entries: r.get::<_, i64>(3)? as u64,
                    archive: r.get(4)?,
                    marker_seq: r.get::<_, i64>(5)? as u64,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(out)
    }

    /// The last entry appended before `cutoff` that retention may remove, with its hash:
    /// never the chain's newest entry (the chain must keep a head to continue from).
    pub(crate) fn prune_point(
        &self,
        tenant: &TenantId,
        cutoff: i64,
    ) -> Result<Option<(u64, u64, [u8; 32])>> {
        let t = tenant.as_str();
        // One extremum per statement: together, SQLite would scan the tenant's index range.
        let first: Option<i64> = self.conn.query_row(
            "SELECT min(seq) FROM audit_entries WHERE tenant = ?1",
            [t],
            |r| r.get(0),
        )?;
        let last: Option<i64> = self.conn.query_row(
            "SELECT max(seq) FROM audit_entries WHERE tenant = ?1",
            [t],
            |r| r.get(0),
        )?;
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(None);
        };
        // Append times never decrease along a chain, so the newest entry before the cutoff
        // (found through the time index) is the end of the range.
        let newest_old: Option<i64> = self
            .conn
            .query_row(
                "SELECT seq FROM audit_entries INDEXED BY audit_entries_time
                 WHERE tenant = ?1 AND time_ns < ?2 ORDER BY time_ns DESC, seq DESC LIMIT 1",
                params![t, cutoff],
                |r| r.get(0),
            )
            .optional()?;
        let Some(through) = newest_old.map(|s| s.min(last - 1)).filter(|s| *s >= first) else {
            return Ok(None);
        };
        let hash: Vec<u8> = self.conn.query_row(
            "SELECT hash FROM audit_entries WHERE tenant = ?1 AND seq = ?2 ORDER BY id LIMIT 1",
            params![t, through],
            |r| r.get(0),
        )?;
        let hash: [u8; 32] = hash
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Corrupt("audit hash is not 32 bytes".into()))?;
        Ok(Some((first as u64, through as u64, hash)))
    }
}

/// Tenants with entries, sorted: one index seek per tenant (a `DISTINCT` would scan every
/// entry, which at start-up on a large trail takes seconds).
pub(crate) fn tenants(conn: &Connection) -> Result<Vec<TenantId>> {
    let mut out = Vec::new();
    let mut after = String::new();
    let mut next = conn.prepare(
        "SELECT tenant FROM audit_entries INDEXED BY audit_entries_seq
         WHERE tenant > ?1 ORDER BY tenant LIMIT 1",
    )?;
    while let Some(name) = next
        .query_row([&after], |r| r.get::<_, String>(0))
        .optional()?
    {
        if let Ok(t) = TenantId::new(&name) {
            out.push(t);
        }
        after = name;
    }
    Ok(out)
}

/// Opens the personal fields of an entry for display.
fn open_record(keys: &mut KeyLookup<'_>, entry: Entry) -> Result<AuditRecord> {
    let on_behalf_of = match &entry.actor.on_behalf_of {
        Some(f) => keys.open_field(f)?,
        None => None,
    };
    let mut erased = entry.actor.on_behalf_of.is_some() && on_behalf_of.is_none();
    let details = keys.open_details(&entry)?;
    if let Value::Object(m) = &details {
        erased |= m
            .values()
            .any(|v| v.get("erased") == Some(&Value::Bool(true)));
    }
    Ok(AuditRecord {
        entry,
        on_behalf_of,
        erased,
        details,
    })
}
