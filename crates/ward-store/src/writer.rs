//! The single writer thread: group commit of queued batches into the day partitions.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use ward_model::{
    Attributes, Batch, LogRecord, MetricPoint, Resource, Scope, Span, Temporality, TenantId,
    filter::tokens,
};

use crate::CommitStats;
use crate::error::{Result, StoreError};
use crate::schema::{self, Day, Kind, PARTITION_TEMPLATE_VERSION, SEQ_BITS, SEQ_MASK};

/// One submitted batch waiting for the writer.
pub(crate) struct Job {
    pub(crate) batch: Arc<Batch>,
    pub(crate) records: usize,
    pub(crate) done: oneshot::Sender<Result<()>>,
}

/// State shared between the writer and the [`Store`](crate::Store) handle.
#[derive(Default)]
pub(crate) struct Shared {
    /// Records submitted but not yet taken by the writer.
    pub(crate) queued: AtomicUsize,
    /// The last commit attempt failed.
    pub(crate) failing: AtomicBool,
}

/// Writer settings.
pub(crate) struct WriterConfig {
    pub(crate) max_commit_records: usize,
    pub(crate) on_commit: Option<Arc<dyn Fn(CommitStats) + Send + Sync>>,
}

/// Runs until every sender is gone and the queue is drained. `_lock` is the data directory lock:
/// it is released only when this thread ends, so a store reopened in the same directory waits
/// until the previous writer has committed everything it accepted.
pub(crate) fn run(
    conn: Connection,
    rx: Receiver<Job>,
    shared: Arc<Shared>,
    config: WriterConfig,
    _lock: File,
) {
    let mut writer = Writer {
        conn,
        caches: Caches::default(),
    };
    // `recv` only fails once the queue is empty and the store handle dropped its sender, i.e.
    // after shutdown (or drop) — which is exactly "commit everything already queued".
    while let Ok(first) = rx.recv() {
        shared.queued.fetch_sub(first.records, Ordering::AcqRel);
        let mut records = first.records;
        let mut jobs = vec![first];
        // Group commit: take whatever else is already waiting, without waiting for more.
        while records < config.max_commit_records {
            match rx.try_recv() {
                Ok(job) => {
                    shared.queued.fetch_sub(job.records, Ordering::AcqRel);
                    records += job.records;
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let result = writer.write_group(&jobs);
        let seconds = started.elapsed().as_secs_f64();
        let ok = result.is_ok();
        shared.failing.store(!ok, Ordering::Release);
        if let Err(e) = &result {
            tracing::error!(error = %e, jobs = jobs.len(), records, "store commit failed; the batches were rejected");
        }
        if let Some(callback) = &config.on_commit {
            // A panicking callback must not take the only writer down with it.
            let stats = CommitStats {
                records,
                jobs: jobs.len(),
                seconds,
                ok,
            };
            if catch_unwind(AssertUnwindSafe(|| callback(stats))).is_err() {
                tracing::error!("store on_commit callback panicked");
            }
        }
        let message = result.err().map(|e| e.to_string());
        for job in jobs {
            let outcome = match &message {
                None => Ok(()),
                Some(m) => Err(StoreError::WriteFailed(m.clone())),
            };
            // The submitter may have stopped waiting; that is fine.
            let _ = job.done.send(outcome);
        }
    }
}

struct Writer {
    conn: Connection,
    caches: Caches,
}

impl Writer {
    fn write_group(&mut self, jobs: &[Job]) -> Result<()> {
        let result = self.try_write_group(jobs);
        if result.is_err() {
            // The rollback undid rows the caches may describe (new tenants, resources,
            // partitions, keys): forget everything and re-learn from the database.
            self.caches = Caches::default();
            self.conn.flush_prepared_statement_cache();
        }
        result
    }

    fn try_write_group(&mut self, jobs: &[Job]) -> Result<()> {
        let now = ward_model::time::now_unix_nanos();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut summary = Summary::default();
        for job in jobs {
            write_batch(&tx, &mut self.caches, &job.batch, &mut summary, now)?;
        }
        summary.flush(&tx)?;
        for ((kind, _), part) in self.caches.parts.iter_mut() {
            if part.spill_dirty {
                tx.execute(
                    "UPDATE partitions SET spill_ns = MAX(spill_ns, ?1) WHERE kind = ?2 AND day = ?3",
                    params![part.spill_ns, kind.as_str(), part.ymd],
                )?;
                part.spill_dirty = false;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// (tenant id, service id, signal, day) of a `services_summary` row.
type SummaryKey = (i64, i64, i64, i32);

/// Per-(tenant, service, signal, day) (count, first seen, last seen) of one group, upserted
/// into `services_summary`.
#[derive(Default)]
struct Summary {
    rows: HashMap<SummaryKey, (i64, i64, i64)>,
}

impl Summary {
    fn add(&mut self, tenant: i64, service: i64, kind: Kind, ymd: i32, time: i64) {
        let e = self
            .rows
            .entry((tenant, service, kind.signal(), ymd))
            .or_insert((0, time, time));
        e.0 += 1;
        e.1 = e.1.min(time);
        e.2 = e.2.max(time);
    }

    fn flush(&mut self, tx: &Transaction<'_>) -> Result<()> {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO services_summary (tenant_id, day, service_id, signal, count, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (tenant_id, day, service_id, signal) DO UPDATE SET
                count = count + excluded.count,
                first_seen = MIN(first_seen, excluded.first_seen),
                last_seen = MAX(last_seen, excluded.last_seen)",
        )?;
        for ((tenant, service, signal, ymd), (count, first, last)) in self.rows.drain() {
            stmt.execute(params![tenant, ymd, service, signal, count, first, last])?;
        }
        Ok(())
    }
}

/// What the writer remembers between groups so that the hot path does no lookups.
#[derive(Default)]
struct Caches {
    tenants: HashMap<TenantId, i64>,
    services: HashMap<String, i64>,
    /// (service name, resource attributes JSON) → (resource id, service id).
    resources: HashMap<(String, String), (i64, i64)>,
    scopes: HashMap<(String, String), i64>,
    parts: HashMap<(Kind, Day), PartState>,
    /// (kind, day, nanosecond offset) → how many consecutive nanosecond key ranges starting
    /// there are known to be full (only ever set after 65,536 rows shared a nanosecond).
    full_ranges: HashMap<(Kind, Day, i64), i64>,
}

/// A partition as the writer sees it.
struct PartState {
    ymd: i32,
    insert_sql: String,
    fts_sql: Option<String>,
    range_max_sql: String,
    /// Largest key in the table (`None`: empty). Rows arriving in time order get
    /// `max_key + 1` or a fresh nanosecond base without touching the database.
    max_key: Option<i64>,
    spill_ns: i64,
    spill_dirty: bool,
}

fn write_batch(
    tx: &Transaction<'_>,
    c: &mut Caches,
    batch: &Batch,
    summary: &mut Summary,
    now: i64,
) -> Result<()> {
    let tenant = tenant_id(tx, &mut c.tenants, &batch.tenant, now)?;
    // Records of one batch nearly always share a resource and scope: compare with the previous
    // record (cheap) before hashing/serialising anything.
    let mut last_resource: Option<(&Resource, (i64, i64))> = None;
    let mut last_scope: Option<(&Scope, Option<i64>)> = None;
    macro_rules! resource_of {
        ($r:expr) => {{
            let r: &Resource = $r;
            match last_resource {
                Some((prev, ids)) if prev == r => ids,
                _ => {
                    let ids = resource_id(tx, c, r)?;
                    last_resource = Some((r, ids));
                    ids
                }
            }
        }};
    }
    macro_rules! scope_of {
        ($s:expr) => {{
            let s: &Scope = $s;
            match last_scope {
                Some((prev, id)) if prev == s => id,
                _ => {
                    let id = scope_id(tx, &mut c.scopes, s)?;
                    last_scope = Some((s, id));
                    id
                }
            }
        }};
    }
    for rec in &batch.logs {
        let (resource, service) = resource_of!(&rec.resource);
        let scope = scope_of!(&rec.scope);
        let day = Day::of(rec.time_unix_nano);
        let ymd = write_log(tx, c, tenant, resource, service, scope, day, rec, now)?;
        summary.add(tenant, service, Kind::Logs, ymd, rec.time_unix_nano);
    }
    for span in &batch.spans {
        let (resource, service) = resource_of!(&span.resource);
        let scope = scope_of!(&span.scope);
        let day = Day::of(span.start_time_unix_nano);
        let ymd = write_span(tx, c, tenant, resource, service, scope, day, span, now)?;
        summary.add(tenant, service, Kind::Spans, ymd, span.start_time_unix_nano);
    }
    for point in &batch.metrics {
        let (resource, service) = resource_of!(&point.resource);
        let scope = scope_of!(&point.scope);
        let day = Day::of(point.time_unix_nano);
        let ymd = write_metric(tx, c, tenant, resource, service, scope, day, point, now)?;
        summary.add(tenant, service, Kind::Metrics, ymd, point.time_unix_nano);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_log(
    tx: &Transaction<'_>,
    c: &mut Caches,
    tenant: i64,
    resource: i64,
    service: i64,
    scope: Option<i64>,
    day: Day,
    rec: &LogRecord,
    now: i64,
) -> Result<i32> {
    let part = partition(tx, &mut c.parts, Kind::Logs, day, now)?;
    let key = alloc_key(
        tx,
        part,
        &mut c.full_ranges,
        Kind::Logs,
        day,
        rec.time_unix_nano,
    )?;
    let mut stmt = tx.prepare_cached(&part.insert_sql)?;
    stmt.execute(params![
        key,
        tenant,
        service,
        i64::from(rec.severity().number()),
        rec.time_unix_nano,
        rec.observed_time_unix_nano,
        i64::from(rec.severity_number),
        resource,
        scope,
        rec.trace_id.map(|t| t.0.to_vec()),
        rec.span_id.map(|s| s.0.to_vec()),
        non_empty(&rec.severity_text),
        attributes_json(&rec.attributes)?,
        rec.body,
    ])?;
    if let Some(fts_sql) = &part.fts_sql {
        let text = fts_text(&rec.body);
        // A body without a single token can never match a full-text term.
        if !text.is_empty() {
            tx.prepare_cached(fts_sql)?.execute(params![key, text])?;
        }
    }
    Ok(part.ymd)
}

#[allow(clippy::too_many_arguments)]
fn write_span(
    tx: &Transaction<'_>,
    c: &mut Caches,
    tenant: i64,
    resource: i64,
    service: i64,
    scope: Option<i64>,
    day: Day,
    span: &Span,
    now: i64,
) -> Result<i32> {
    let part = partition(tx, &mut c.parts, Kind::Spans, day, now)?;
    let key = alloc_key(
        tx,
        part,
        &mut c.full_ranges,
        Kind::Spans,
        day,
        span.start_time_unix_nano,
    )?;
    let events = if span.events.is_empty() {
        None
    } else {
        Some(to_json(&span.events)?)
    };
    let links = if span.links.is_empty() {
        None
    } else {
        Some(to_json(&span.links)?)
    };
    tx.prepare_cached(&part.insert_sql)?.execute(params![
        key,
        tenant,
        service,
        span.start_time_unix_nano,
        span.end_time_unix_nano,
        span.duration_nanos(),
        i64::from(span.kind.number()),
        i64::from(span.status.code.number()),
        resource,
        scope,
        span.trace_id.0.to_vec(),
        span.span_id.0.to_vec(),
        span.parent_span_id.map(|p| p.0.to_vec()),
        span.name,
        non_empty(&span.trace_state),
        non_empty(&span.status.message),
        attributes_json(&span.attributes)?,
        events,
        links,
    ])?;
    Ok(part.ymd)
}

#[allow(clippy::too_many_arguments)]
fn write_metric(
    tx: &Transaction<'_>,
    c: &mut Caches,
    tenant: i64,
    resource: i64,
    service: i64,
    scope: Option<i64>,
    day: Day,
    point: &MetricPoint,
    now: i64,
) -> Result<i32> {
    let part = partition(tx, &mut c.parts, Kind::Metrics, day, now)?;
    let temporality = match point.temporality {
        Temporality::Unspecified => "unspecified",
        Temporality::Delta => "delta",
        Temporality::Cumulative => "cumulative",
    };
    // Metric rows need no time-ordered key (nothing pages through them yet): plain rowids.
    tx.prepare_cached(&part.insert_sql)?.execute(params![
        tenant,
        service,
        resource,
        scope,
        point.time_unix_nano,
        point.start_time_unix_nano,
        point.monotonic,
        point.kind.as_str(),
        temporality,
        point.name,
        non_empty(&point.description),
        non_empty(&point.unit),
        attributes_json(&point.attributes)?,
        to_json(&point.value)?,
    ])?;
    Ok(part.ymd)
}

/// What the FTS index stores for a body: Ward's own tokens, space-separated. Indexing the
/// tokenised form (instead of the raw body) makes every ASCII token of Ward's tokenizer exactly
/// one FTS5 token, whatever Unicode version either side follows; see `filter_sql`.
pub(crate) fn fts_text(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    for token in tokens(body) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&token);
    }
    out
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::WriteFailed(format!("cannot encode JSON: {e}")))
}

/// Attributes as JSON text, or NULL when there are none (most rows of some sources).
fn attributes_json(attrs: &Attributes) -> Result<Option<String>> {
    if attrs.is_empty() {
        Ok(None)
    } else {
        to_json(attrs).map(Some)
    }
}

fn tenant_id(
    tx: &Transaction<'_>,
    cache: &mut HashMap<TenantId, i64>,
    tenant: &TenantId,
    now: i64,
) -> Result<i64> {
    if let Some(id) = cache.get(tenant) {
        return Ok(*id);
    }
    let id = crate::admin::ensure_tenant_on(tx, tenant, now)?;
    cache.insert(tenant.clone(), id);
    Ok(id)
}

fn service_id(tx: &Transaction<'_>, cache: &mut HashMap<String, i64>, name: &str) -> Result<i64> {
    if let Some(id) = cache.get(name) {
        return Ok(*id);
    }
    tx.prepare_cached(
        "INSERT INTO service_names (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
    )?
    .execute([name])?;
    let id: i64 = tx
        .prepare_cached("SELECT id FROM service_names WHERE name = ?1")?
        .query_row([name], |r| r.get(0))?;
    cache.insert(name.to_owned(), id);
    Ok(id)
}

/// Interns a resource: rows carry a small integer instead of repeating the attributes JSON.
fn resource_id(tx: &Transaction<'_>, c: &mut Caches, resource: &Resource) -> Result<(i64, i64)> {
    let attrs = attributes_json(&resource.attributes)?;
    let cache_key = (
        resource.service_name.clone(),
        attrs.clone().unwrap_or_default(),
    );
    if let Some(ids) = c.resources.get(&cache_key) {
        return Ok(*ids);
    }
    let service = service_id(tx, &mut c.services, &resource.service_name)?;
    // Length-prefixed so that no (name, attributes) pair can collide with another by
    // shifting bytes from one part into the other.
    let mut hasher = Sha256::new();
    hasher.update((resource.service_name.len() as u64).to_le_bytes());
    hasher.update(resource.service_name.as_bytes());
    hasher.update(attrs.as_deref().unwrap_or("").as_bytes());
    let hash = hasher.finalize().to_vec();
    tx.prepare_cached(
        "INSERT INTO resources (hash, service_id, attributes) VALUES (?1, ?2, ?3) ON CONFLICT (hash) DO NOTHING",
    )?
    .execute(params![hash, service, attrs])?;
    let id: i64 = tx
        .prepare_cached("SELECT id FROM resources WHERE hash = ?1")?
        .query_row([&hash], |r| r.get(0))?;
    c.resources.insert(cache_key, (id, service));
    Ok((id, service))
}

fn scope_id(
    tx: &Transaction<'_>,
    cache: &mut HashMap<(String, String), i64>,
    scope: &Scope,
) -> Result<Option<i64>> {
    if scope.name.is_empty() && scope.version.is_empty() {
        return Ok(None);
    }
    let key = (scope.name.clone(), scope.version.clone());
    if let Some(id) = cache.get(&key) {
        return Ok(Some(*id));
    }
    tx.prepare_cached(
        "INSERT INTO scopes (name, version) VALUES (?1, ?2) ON CONFLICT (name, version) DO NOTHING",
    )?
    .execute(params![scope.name, scope.version])?;
    let id: i64 = tx
        .prepare_cached("SELECT id FROM scopes WHERE name = ?1 AND version = ?2")?
        .query_row(params![scope.name, scope.version], |r| r.get(0))?;
    cache.insert(key, id);
    Ok(Some(id))
}

/// The partition of (kind, day), created (tables, indexes, FTS table, catalog row) in the
/// current transaction if it does not exist yet.
fn partition<'c>(
    tx: &Transaction<'_>,
    parts: &'c mut HashMap<(Kind, Day), PartState>,
    kind: Kind,
    day: Day,
    now: i64,
) -> Result<&'c mut PartState> {
    match parts.entry((kind, day)) {
        Entry::Occupied(e) => Ok(e.into_mut()),
        Entry::Vacant(v) => {
            let ymd = day.ymd();
            let (template_version, spill_ns) = match schema::partition(tx, kind, ymd)? {
                Some(found) => found,
                None => {
                    tx.execute_batch(&schema::partition_ddl(kind, ymd))?;
                    tx.execute(
                        "INSERT INTO partitions (kind, day, template_version, created_at, spill_ns)
                         VALUES (?1, ?2, ?3, ?4, 0)",
                        params![kind.as_str(), ymd, PARTITION_TEMPLATE_VERSION, now],
                    )?;
                    (PARTITION_TEMPLATE_VERSION, 0)
                }
            };
            if template_version != PARTITION_TEMPLATE_VERSION {
                // A future template must come with a migration that upgrades old partitions
                // before this writer inserts into them.
                return Err(StoreError::Migration(format!(
                    "partition {}_{ymd} has template version {template_version}, expected {PARTITION_TEMPLATE_VERSION}",
                    kind.as_str()
                )));
            }
            let table = schema::table(kind, ymd);
            let max_key: Option<i64> =
                tx.query_row(&format!("SELECT MAX(id) FROM {table}"), [], |r| r.get(0))?;
            let (insert_sql, fts_sql) = match kind {
                Kind::Logs => (
                    format!(
                        "INSERT INTO {table} (id, tenant_id, service_id, level, time_ns, observed_ns, severity_number,
                            resource_id, scope_id, trace_id, span_id, severity_text, attributes, body)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                    ),
                    Some(format!("INSERT INTO {} (rowid, body) VALUES (?1, ?2)", schema::fts_table(ymd))),
                ),
                Kind::Spans => (
                    format!(
                        "INSERT INTO {table} (id, tenant_id, service_id, start_ns, end_ns, duration_ns, kind,
                            status_code, resource_id, scope_id, trace_id, span_id, parent_span_id, name,
                            trace_state, status_message, attributes, events, links)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
                    ),
                    None,
                ),
                Kind::Metrics => (
                    format!(
                        "INSERT INTO {table} (tenant_id, service_id, resource_id, scope_id, time_ns, start_time_ns,
                            monotonic, kind, temporality, name, description, unit, attributes, value)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                    ),
                    None,
                ),
            };
            Ok(v.insert(PartState {
                ymd,
                insert_sql,
                fts_sql,
                range_max_sql: format!("SELECT MAX(id) FROM {table} WHERE id BETWEEN ?1 AND ?2"),
                max_key,
                spill_ns,
                spill_dirty: false,
            }))
        }
    }
}

/// Allocates the row key of a record at `time` (see `schema::key_base`): the next free
/// sequence number of its nanosecond. Rows in time order take the fast path; a late row costs
/// one index probe. When all 65,536 keys of a nanosecond are taken, the row spills into the key
/// range of the following nanosecond(s) and the partition records how far, so that queries
/// widen their key window and filter on the exact time column instead.
fn alloc_key(
    tx: &Transaction<'_>,
    part: &mut PartState,
    full_ranges: &mut HashMap<(Kind, Day, i64), i64>,
    kind: Kind,
    day: Day,
    time: i64,
) -> Result<i64> {
    // `Day::of(time)` is `day`, so the offset is within [0, 86400e9).
    let offset = i64::try_from(day.offset_of(time))
        .map_err(|_| StoreError::Internal("offset out of range".into()))?;
    let exhausted = || StoreError::WriteFailed("row key space of the partition exhausted".into());
    let base = schema::key_base(offset).ok_or_else(exhausted)?;
    match part.max_key {
        None => {
            part.max_key = Some(base);
            return Ok(base);
        }
        Some(max) if max < base => {
            part.max_key = Some(base);
            return Ok(base);
        }
        // The newest nanosecond so far, with room left: keys of a nanosecond are always a
        // contiguous run from its base, so max + 1 is free.
        Some(max) if max < (base | SEQ_MASK) => {
            part.max_key = Some(max + 1);
            return Ok(max + 1);
        }
        Some(_) => {}
    }
    // A late row (or a full nanosecond): probe the database.
    let mut step = full_ranges.get(&(kind, day, offset)).copied().unwrap_or(0);
    loop {
        let range_base = offset
            .checked_add(step)
            .and_then(schema::key_base)
            .ok_or_else(exhausted)?;
        let range_top = range_base | SEQ_MASK;
        let used: Option<i64> = if part.max_key.is_some_and(|m| m < range_base) {
            None
        } else {
            tx.prepare_cached(&part.range_max_sql)?
                .query_row(params![range_base, range_top], |r| r.get(0))
                .optional()?
                .flatten()
        };
        let key = match used {
            None => range_base,
            Some(u) if u < range_top => u + 1,
            Some(_) => {
                step += 1;
                continue;
            }
        };
        if step > 0 {
            if full_ranges.len() > 100_000 {
                full_ranges.clear();
            }
            full_ranges.insert((kind, day, offset), step);
            if step > part.spill_ns {
                part.spill_ns = step;
                part.spill_dirty = true;
            }
        }
        part.max_key = Some(part.max_key.map_or(key, |m| m.max(key)));
        debug_assert_eq!(key >> SEQ_BITS, offset + step);
        return Ok(key);
    }
}
