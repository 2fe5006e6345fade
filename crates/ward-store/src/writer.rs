//! The single writer thread: group commit of queued batches into the day partitions.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use ward_model::{Attributes, Batch, MetricPoint, Resource, Scope, Span, Temporality, TenantId};

use crate::CommitStats;
use crate::block;
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
    let checkpointer = Checkpointer::start(&conn);
    let rx = Preparer::start(rx);
    let mut writer = Writer {
        conn,
        caches: Caches::default(),
    };
    // `recv` only fails once the queue is empty and the store handle dropped its sender, i.e.
    // after shutdown (or drop) — which is exactly "commit everything already queued".
    while let Ok(first) = rx.recv() {
        shared.queued.fetch_sub(first.job.records, Ordering::AcqRel);
        let mut records = first.job.records;
        let mut jobs = vec![first];
        // Group commit: take whatever else is already waiting, without waiting for more.
        while records < config.max_commit_records {
            match rx.try_recv() {
                Ok(job) => {
                    shared.queued.fetch_sub(job.job.records, Ordering::AcqRel);
                    records += job.job.records;
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
        for Prepared { job, .. } in jobs {
            let outcome = match &message {
                None => Ok(()),
                Some(m) => Err(StoreError::WriteFailed(m.clone())),
            };
            // The submitter may have stopped waiting; that is fine.
            let _ = job.done.send(outcome);
        }
        if ok {
            checkpointer.nudge();
        }
    }
    // Ends the checkpointer before `_lock` is released.
    checkpointer.stop();
}

/// A job with its log records already cut into encoded, compressed blocks, so that the writer
/// only has to insert them.
struct Prepared {
    job: Job,
    /// The batch's log records as blocks (an error fails the job's group, as a database error
    /// would).
    blocks: Result<Vec<block::Block<LogSource>>>,
}

/// What the records of a block share, as the preparing thread sees them: `first` is the index
/// in the batch of the first record with the block's resource and scope; then level and day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct LogSource {
    first: usize,
    level: u8,
    day: Day,
}

impl Prepared {
    fn new(job: Job) -> Prepared {
        let blocks = log_blocks(&job.batch);
        Prepared { job, blocks }
    }
}

/// Cuts a batch's log records into blocks per (resource, scope, level, day).
fn log_blocks(batch: &Batch) -> Result<Vec<block::Block<LogSource>>> {
    let logs = &batch.logs;
    let attributes = logs
        .iter()
        .map(|r| attributes_json(&r.attributes))
        .collect::<Result<Vec<_>>>()?;
    // Records of a batch nearly always share their resource and scope: compare with the
    // previous record first, then with the (few) others seen.
    let mut firsts: Vec<usize> = Vec::new();
    let mut previous: Option<usize> = None;
    let mut rows = Vec::with_capacity(logs.len());
    for (i, rec) in logs.iter().enumerate() {
        let same = |j: usize| logs[j].resource == rec.resource && logs[j].scope == rec.scope;
        let first = match previous.filter(|&p| same(p)) {
            Some(p) => p,
            None => match firsts.iter().copied().find(|&f| same(f)) {
                Some(f) => f,
                None => {
                    firsts.push(i);
                    i
                }
            },
        };
        previous = Some(first);
        rows.push(block::Row {
            group: LogSource {
                first,
                level: rec.severity().number(),
                day: Day::of(rec.time_unix_nano),
            },
            entry: block::Entry {
                time: rec.time_unix_nano,
                observed: rec.observed_time_unix_nano,
                severity_number: rec.severity_number,
                trace_id: rec.trace_id.map(|t| t.0),
                span_id: rec.span_id.map(|s| s.0),
                severity_text: &rec.severity_text,
                body: &rec.body,
                attributes: attributes[i].as_deref(),
            },
        });
    }
    block::build(rows)
}

/// Most prepared jobs waiting for the writer; when they are this many the preparing thread
/// waits, and the queue in front of it fills up (and refuses) as before.
const PREPARED_AHEAD: usize = 4096;

/// Runs [`Prepared::new`] (encoding, compressing and indexing log blocks) on its own thread, between the queue and the writer, so that the only writer spends its time in
/// SQLite. Jobs keep their order. The queue's record count still drops only when the writer
/// takes a job, so the queue bound covers prepared jobs too.
enum Preparer {
    Thread(Receiver<Prepared>),
    /// The thread could not be started: the writer prepares jobs itself.
    Inline(Arc<std::sync::Mutex<Receiver<Job>>>),
}

impl Preparer {
    fn start(rx: Receiver<Job>) -> Preparer {
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let (tx, prepared) = std::sync::mpsc::sync_channel(PREPARED_AHEAD);
        let source = Arc::clone(&rx);
        let spawned = std::thread::Builder::new()
            .name("ward-store-prepare".into())
            .spawn(move || {
                let source = source.lock().unwrap_or_else(|e| e.into_inner());
                // Ends when the store drops its sender (after the queue is drained) or the
                // writer is gone.
                while let Ok(job) = source.recv() {
                    if tx.send(Prepared::new(job)).is_err() {
                        break;
                    }
                }
            });
        match spawned {
            Ok(_) => Preparer::Thread(prepared),
            Err(e) => {
                tracing::warn!(error = %e, "no preparing thread; the writer prepares batches itself");
                Preparer::Inline(rx)
            }
        }
    }

    fn recv(&self) -> std::result::Result<Prepared, std::sync::mpsc::RecvError> {
        match self {
            Preparer::Thread(rx) => rx.recv(),
            Preparer::Inline(rx) => Ok(Prepared::new(
                rx.lock().unwrap_or_else(|e| e.into_inner()).recv()?,
            )),
        }
    }

    fn try_recv(&self) -> std::result::Result<Prepared, std::sync::mpsc::TryRecvError> {
        match self {
            Preparer::Thread(rx) => rx.try_recv(),
            Preparer::Inline(rx) => Ok(Prepared::new(
                rx.lock().unwrap_or_else(|e| e.into_inner()).try_recv()?,
            )),
        }
    }
}

/// Frames in the WAL after which the writer checkpoints itself, in its commit: a safety valve
/// for when the background checkpointer falls behind (normally it has already copied nearly
/// every frame by then, so this is cheap). It also lets SQLite restart the WAL from its
/// beginning, which needs every frame checkpointed when a transaction begins.
const WRITER_AUTOCHECKPOINT_PAGES: i64 = 16_384;

/// Copies committed WAL frames into the database file on its own thread and connection
/// (`PRAGMA wal_checkpoint(PASSIVE)`, never blocking the writer), so that the writer's commits
/// only append to the WAL. The writer's own automatic checkpoint is raised to
/// [`WRITER_AUTOCHECKPOINT_PAGES`] as a backstop. A checkpoint only moves data that is already
/// durable in the WAL (and syncs the database file with the same `synchronous` level as the
/// writer), so acknowledgements do not depend on it.
pub(crate) struct Checkpointer {
    nudge: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread; without one (it could not be set up) the writer checkpoints itself as
    /// before.
    pub(crate) fn start(writer: &Connection) -> Checkpointer {
        let none = Checkpointer {
            nudge: None,
            thread: None,
        };
        let setup = || -> Result<Connection> {
            let path = writer
                .path()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| StoreError::Internal("in-memory database".into()))?;
            let synchronous: i64 = writer.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
            let conn = Connection::open(path)?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            conn.pragma_update(None, "synchronous", synchronous)?;
            conn.pragma_update(None, "cache_size", -1024)?;
            writer.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES)?;
            Ok(conn)
        };
        let conn = match setup() {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "no background checkpointer; the writer checkpoints itself");
                return none;
            }
        };
        let (nudge, nudged) = std::sync::mpsc::sync_channel::<()>(1);
        let spawned = std::thread::Builder::new()
            .name("ward-store-checkpoint".into())
            .spawn(move || {
                while nudged.recv().is_ok() {
                    let result = conn
                        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "background checkpoint failed");
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                }
            });
        match spawned {
            Ok(thread) => Checkpointer {
                nudge: Some(nudge),
                thread: Some(thread),
            },
            Err(e) => {
                tracing::warn!(error = %e, "no background checkpointer; the writer checkpoints itself");
                let _ = writer.pragma_update(None, "wal_autocheckpoint", 1000);
                none
            }
        }
    }

    /// New frames were committed: checkpoint them when the thread is free (nudges coalesce).
    pub(crate) fn nudge(&self) {
        if let Some(n) = &self.nudge {
            let _ = n.try_send(());
        }
    }

    pub(crate) fn stop(mut self) {
        self.nudge = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Writer {
    conn: Connection,
    caches: Caches,
}

impl Writer {
    fn write_group(&mut self, jobs: &[Prepared]) -> Result<()> {
        let result = self.try_write_group(jobs);
        if result.is_err() {
            // The rollback undid rows the caches may describe (new tenants, resources,
            // partitions, keys): forget everything and re-learn from the database.
            self.caches = Caches::default();
            self.conn.flush_prepared_statement_cache();
        }
        result
    }

    fn try_write_group(&mut self, jobs: &[Prepared]) -> Result<()> {
        let now = ward_model::time::now_unix_nanos();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let c = &mut self.caches;
        let mut summary = Summary::default();
        let mut blocks = Vec::new();
        let mut spans = Vec::new();
        for job in jobs {
            stage_batch(&tx, c, job, &mut blocks, &mut spans, &mut summary, now)?;
        }
        // Blocks and spans go in in time order across the whole group (stable: spans of one
        // nanosecond keep their submission order, which their sequence numbers record). Keys
        // then grow monotonically through the group, so the table and index B-trees are
        // appended to rather than split at random.
        blocks.sort_by_key(|(_, b): &(Ids, &block::Block<LogSource>)| b.max_time);
        spans.sort_by_key(|r: &Staged<&Span>| r.time);
        for (ids, b) in blocks {
            write_log_block(&tx, c, ids, b.group.level, b.group.day, b, now)?;
        }
        for row in &spans {
            let ymd = write_span(&tx, c, row, now)?;
            summary.add(row.ids.tenant, row.ids.service, Kind::Spans, ymd, row.time);
        }
        for Prepared { job, .. } in jobs {
            write_metrics(&tx, c, &job.batch, &mut summary, now)?;
        }
        summary.flush(&tx)?;
        for ((kind, _), part) in c.parts.iter_mut() {
            if part.spill_dirty {
                tx.execute(
                    "UPDATE partitions SET spill_ns = MAX(spill_ns, ?1) WHERE kind = ?2 AND day = ?3",
                    params![part.spill_ns, kind.as_str(), part.ymd],
                )?;
                part.spill_dirty = false;
            }
        }
        c.trim_used_keys();
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
        self.add_many(tenant, service, kind, ymd, 1, time, time);
    }

    /// Counts `count` records seen between `first` and `last`.
    #[allow(clippy::too_many_arguments)]
    fn add_many(
        &mut self,
        tenant: i64,
        service: i64,
        kind: Kind,
        ymd: i32,
        count: i64,
        first: i64,
        last: i64,
    ) {
        let e = self
            .rows
            .entry((tenant, service, kind.signal(), ymd))
            .or_insert((0, first, last));
        e.0 += count;
        e.1 = e.1.min(first);
        e.2 = e.2.max(last);
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
pub(crate) struct Caches {
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

impl Caches {
    /// Keeps the writer's memory of allocated keys bounded: partitions not written in the
    /// group just done forget theirs (they fall back to probing the database), and if the
    /// remaining ones together still hold too many, they forget theirs too.
    fn trim_used_keys(&mut self) {
        let mut total = 0;
        for part in self.parts.values_mut() {
            if !std::mem::take(&mut part.keys.written) {
                part.keys.forget();
            }
            total += part.keys.used.len();
        }
        if total > MAX_USED_RANGES_TOTAL {
            for part in self.parts.values_mut() {
                part.keys.forget();
            }
        }
    }
}

/// Identifiers of a staged row's tenant, resource, service and scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Ids {
    pub(crate) tenant: i64,
    pub(crate) resource: i64,
    pub(crate) service: i64,
    pub(crate) scope: Option<i64>,
}

/// A log record or span of the group, with its interned identifiers, waiting to be written in
/// time order.
struct Staged<T> {
    time: i64,
    ids: Ids,
    item: T,
}

/// A partition as the writer sees it.
struct PartState {
    ymd: i32,
    insert_sql: String,
    /// Insert into the records table of a log partition (unused for other kinds).
    insert_data_sql: String,
    range_max_sql: String,
    keys: UsedKeys,
    spill_ns: i64,
    spill_dirty: bool,
}

/// Per key range (nanosecond offset, see `schema::key_base`) the largest key this writer gave
/// out in it, so that allocating a key needs no index probe, even for rows older than the
/// newest. What it does not know, it learns from the database: ranges at or below the table's
/// largest key when the writer first saw the partition or last forgot (`loaded_max`) and ranges
/// whose entries were dropped to bound memory (below `floor`).
struct UsedKeys {
    loaded_max: Option<i64>,
    /// Largest key in the table (only this writer adds keys).
    max_key: Option<i64>,
    /// Range offset → largest key allocated in the range. Exact for every range it holds:
    /// every allocation updates it.
    used: HashMap<i64, i64, BuildHasherDefault<RangeHasher>>,
    /// Ranges below this offset may have been dropped from `used`.
    floor: i64,
    /// A key was allocated during the current group.
    written: bool,
}

/// Most key ranges one partition remembers; beyond it the older half is dropped. At 100k
/// rows/s with distinct timestamps this is over a second of rows (about 10 MiB).
const MAX_USED_RANGES: usize = 1 << 18;
/// Most key ranges all partitions together remember after a group.
const MAX_USED_RANGES_TOTAL: usize = 2 * MAX_USED_RANGES;

impl UsedKeys {
    fn new(loaded_max: Option<i64>) -> UsedKeys {
        UsedKeys {
            loaded_max,
            max_key: loaded_max,
            used: HashMap::default(),
            floor: 0,
            written: false,
        }
    }

    /// The largest key in use in range `range` (`None`: the range is empty), or `Err(())`
    /// when only the database knows.
    fn lookup(&self, range: i64, range_base: i64) -> std::result::Result<Option<i64>, ()> {
        if let Some(&key) = self.used.get(&range) {
            return Ok(Some(key));
        }
        if range >= self.floor && self.loaded_max.is_none_or(|m| m < range_base) {
            // Only this writer adds keys above `loaded_max`, and it remembers every one of
            // them at or above `floor`.
            return Ok(None);
        }
        Err(())
    }

    /// Records that `key` (the largest so far in `range`) was given out.
    fn record(&mut self, range: i64, key: i64) {
        self.used.insert(range, key);
        self.max_key = self.max_key.max(Some(key));
        self.written = true;
        if self.used.len() > MAX_USED_RANGES {
            // Drop the older half; the ranges below the median are then looked up in the
            // database again should a row that old still arrive.
            let mut ranges: Vec<i64> = self.used.keys().copied().collect();
            let mid = ranges.len() / 2;
            let (_, median, _) = ranges.select_nth_unstable(mid);
            let median = *median;
            self.used.retain(|r, _| *r >= median);
            self.floor = self.floor.max(median);
        }
    }

    /// Forgets the ranges: those up to the largest key are looked up in the database again
    /// (rows in time order still need no lookup).
    fn forget(&mut self) {
        if !self.used.is_empty() {
            self.used = HashMap::default();
        }
        self.loaded_max = self.max_key;
        self.floor = 0;
    }
}

/// Hasher of the `i64` range offsets: one multiplication (SipHash would cost more than the
/// rest of the lookup). Offsets are not attacker-chosen in any way that matters here: the worst
/// case is a slower map, bounded in size.
#[derive(Default)]
struct RangeHasher(u64);

impl Hasher for RangeHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_i64(&mut self, i: i64) {
        let h = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 29);
    }
}

/// Resolves the identifiers of a batch's log blocks and spans and stages them; counts the
/// blocks' records in `summary`. The records of one batch nearly always share a resource and
/// scope, so each is compared with the previous one (cheap) before anything is hashed or
/// serialised.
#[allow(clippy::too_many_arguments)]
fn stage_batch<'b>(
    tx: &Transaction<'_>,
    c: &mut Caches,
    prepared: &'b Prepared,
    blocks: &mut Vec<(Ids, &'b block::Block<LogSource>)>,
    spans: &mut Vec<Staged<&'b Span>>,
    summary: &mut Summary,
    now: i64,
) -> Result<()> {
    let batch = &*prepared.job.batch;
    let tenant = tenant_id(tx, &mut c.tenants, &batch.tenant, now)?;
    let mut interner = Interner::default();
    let prepared_blocks = prepared
        .blocks
        .as_ref()
        .map_err(|e| StoreError::WriteFailed(e.to_string()))?;
    for b in prepared_blocks {
        let rec = &batch.logs[b.group.first];
        let ids = interner.ids(tx, c, tenant, &rec.resource, &rec.scope)?;
        summary.add_many(
            tenant,
            ids.service,
            Kind::Logs,
            b.group.day.ymd(),
            b.count as i64,
            b.min_time,
            b.max_time,
        );
        blocks.push((ids, b));
    }
    spans.reserve(batch.spans.len());
    for span in &batch.spans {
        let ids = interner.ids(tx, c, tenant, &span.resource, &span.scope)?;
        spans.push(Staged {
            time: span.start_time_unix_nano,
            ids,
            item: span,
        });
    }
    Ok(())
}

/// The resource and scope of the previous record of a batch, with their ids.
#[derive(Default)]
struct Interner<'b> {
    resource: Option<(&'b Resource, (i64, i64))>,
    scope: Option<(&'b Scope, Option<i64>)>,
}

impl<'b> Interner<'b> {
    fn ids(
        &mut self,
        tx: &Transaction<'_>,
        c: &mut Caches,
        tenant: i64,
        resource: &'b Resource,
        scope: &'b Scope,
    ) -> Result<Ids> {
        let (resource_id, service) = match self.resource {
            Some((prev, ids)) if prev == resource => ids,
            _ => {
                let ids = resource_id(tx, c, resource)?;
                self.resource = Some((resource, ids));
                ids
            }
        };
        let scope_id = match self.scope {
            Some((prev, id)) if prev == scope => id,
            _ => {
                let id = scope_id(tx, &mut c.scopes, scope)?;
                self.scope = Some((scope, id));
                id
            }
        };
        Ok(Ids {
            tenant,
            resource: resource_id,
            service,
            scope: scope_id,
        })
    }
}

fn write_metrics(
    tx: &Transaction<'_>,
    c: &mut Caches,
    batch: &Batch,
    summary: &mut Summary,
    now: i64,
) -> Result<()> {
    if batch.metrics.is_empty() {
        return Ok(());
    }
    let tenant = tenant_id(tx, &mut c.tenants, &batch.tenant, now)?;
    let mut interner = Interner::default();
    for point in &batch.metrics {
        let ids = interner.ids(tx, c, tenant, &point.resource, &point.scope)?;
        let day = Day::of(point.time_unix_nano);
        let ymd = write_metric(tx, c, ids, day, point, now)?;
        summary.add(
            tenant,
            ids.service,
            Kind::Metrics,
            ymd,
            point.time_unix_nano,
        );
    }
    Ok(())
}

/// Inserts a log block into its day's partition.
pub(crate) fn write_log_block<G>(
    tx: &Transaction<'_>,
    c: &mut Caches,
    ids: Ids,
    level: u8,
    day: Day,
    block: &block::Block<G>,
    now: i64,
) -> Result<()> {
    let part = partition(tx, &mut c.parts, Kind::Logs, day, now)?;
    let key = alloc_key(
        tx,
        part,
        &mut c.full_ranges,
        Kind::Logs,
        day,
        block.max_time,
    )?;
    tx.prepare_cached(&part.insert_sql)?.execute(params![
        key,
        ids.tenant,
        ids.service,
        level,
        ids.resource,
        ids.scope,
        block.min_time,
        block.max_time,
        block.count as i64,
        block.bloom,
    ])?;
    tx.prepare_cached(&part.insert_data_sql)?
        .execute(params![key, block.data])?;
    Ok(())
}

fn write_span(tx: &Transaction<'_>, c: &mut Caches, row: &Staged<&Span>, now: i64) -> Result<i32> {
    let span = row.item;
    let day = Day::of(span.start_time_unix_nano);
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
        row.ids.tenant,
        row.ids.service,
        span.start_time_unix_nano,
        span.end_time_unix_nano,
        span.duration_nanos(),
        i64::from(span.kind.number()),
        i64::from(span.status.code.number()),
        row.ids.resource,
        row.ids.scope,
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

fn write_metric(
    tx: &Transaction<'_>,
    c: &mut Caches,
    ids: Ids,
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
        ids.tenant,
        ids.service,
        ids.resource,
        ids.scope,
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

/// The partition of (kind, day), created (table, indexes, catalog row) in the
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
            let insert_sql = match kind {
                Kind::Logs => format!(
                    "INSERT INTO {table} (id, tenant_id, service_id, level, resource_id, scope_id, min_time_ns,
                        max_time_ns, count, bloom)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                ),
                Kind::Spans => format!(
                    "INSERT INTO {table} (id, tenant_id, service_id, start_ns, end_ns, duration_ns, kind,
                        status_code, resource_id, scope_id, trace_id, span_id, parent_span_id, name,
                        trace_state, status_message, attributes, events, links)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
                ),
                Kind::Metrics => format!(
                    "INSERT INTO {table} (tenant_id, service_id, resource_id, scope_id, time_ns, start_time_ns,
                        monotonic, kind, temporality, name, description, unit, attributes, value)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                ),
            };
            Ok(v.insert(PartState {
                ymd,
                insert_sql,
                insert_data_sql: format!(
                    "INSERT INTO {} (id, data) VALUES (?1, ?2)",
                    schema::log_data_table(ymd)
                ),
                range_max_sql: format!("SELECT MAX(id) FROM {table} WHERE id BETWEEN ?1 AND ?2"),
                keys: UsedKeys::new(max_key),
                spill_ns,
                spill_dirty: false,
            }))
        }
    }
}

/// Allocates the row key of a record at `time` (see `schema::key_base`): the next free
/// sequence number of its nanosecond, as remembered by [`UsedKeys`] (a late row costs an index
/// probe only if its range is older than what the writer remembers). When all 65,536 keys of a
/// nanosecond are taken, the row spills into the key range of the following nanosecond(s) and
/// the partition records how far, so that queries widen their key window and filter on the
/// exact time column instead.
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
    let mut step = if full_ranges.is_empty() {
        0
    } else {
        full_ranges.get(&(kind, day, offset)).copied().unwrap_or(0)
    };
    loop {
        let range = offset.checked_add(step).ok_or_else(exhausted)?;
        let range_base = schema::key_base(range).ok_or_else(exhausted)?;
        let range_top = range_base | SEQ_MASK;
        let used = match part.keys.lookup(range, range_base) {
            Ok(used) => used,
            Err(()) => tx
                .prepare_cached(&part.range_max_sql)?
                .query_row(params![range_base, range_top], |r| r.get(0))
                .optional()?
                .flatten(),
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
        part.keys.record(range, key);
        debug_assert_eq!(key >> SEQ_BITS, offset + step);
        return Ok(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{SEC, T0, all_logs, config, log, logs_batch, write};
    use crate::{Store, StoreConfig};

    #[test]
    fn used_keys_answer_only_what_they_know() {
        let base = |r: i64| schema::key_base(r).unwrap();
        let mut keys = UsedKeys::new(Some(base(100) + 3));
        // At or below the loaded maximum only the database knows; above it nothing is used.
        assert_eq!(keys.lookup(100, base(100)), Err(()));
        assert_eq!(keys.lookup(50, base(50)), Err(()));
        assert_eq!(keys.lookup(101, base(101)), Ok(None));
        keys.record(101, base(101));
        keys.record(100, base(100) + 4);
        assert_eq!(keys.lookup(101, base(101)), Ok(Some(base(101))));
        assert_eq!(keys.lookup(100, base(100)), Ok(Some(base(100) + 4)));
        // Forgetting keeps what is certain: nothing above the largest key is used.
        keys.forget();
        assert_eq!(keys.lookup(101, base(101)), Err(()));
        assert_eq!(keys.lookup(102, base(102)), Ok(None));
        // Bounded: the older half is dropped and looked up again.
        let mut keys = UsedKeys::new(None);
        for r in 0..=MAX_USED_RANGES as i64 {
            keys.record(r, base(r));
        }
        assert!(keys.used.len() <= MAX_USED_RANGES / 2 + 1);
        assert_eq!(keys.lookup(0, base(0)), Err(()));
        let top = MAX_USED_RANGES as i64;
        assert_eq!(keys.lookup(top, base(top)), Ok(Some(base(top))));
        assert_eq!(keys.lookup(top + 1, base(top + 1)), Ok(None));
    }

    #[tokio::test]
    async fn late_and_shared_nanoseconds_get_distinct_keys_across_groups_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let t = T0 + 10 * SEC;
        let batches = [
            vec![(t, "a1"), (t + 5, "a2"), (t, "a3")],
            vec![(t + 3, "b1"), (t, "b2"), (t + 5, "b3"), (t - 2, "b4")],
        ];
        let store = Store::open(config(dir.path())).unwrap();
        // Two batches in one group (submitted together) and then again as separate groups.
        let acks: Vec<_> = batches
            .iter()
            .map(|b| {
                let logs = b
                    .iter()
                    .map(|(at, body)| log(*at, "svc", 9, body))
                    .collect();
                store
                    .try_submit(Arc::new(logs_batch("default", logs)))
                    .unwrap()
            })
            .collect();
        for ack in acks {
            ack.await.unwrap();
        }
        for b in &batches {
            let logs = b
                .iter()
                .map(|(at, body)| log(*at, "svc", 9, body))
                .collect();
            write(&store, logs_batch("default", logs)).await;
        }
        store.shutdown().await.unwrap();
        // A new writer learns the keys from the database.
        let store = Store::open(StoreConfig {
            max_commit_records: 1,
            ..config(dir.path())
        })
        .unwrap();
        write(
            &store,
            logs_batch(
                "default",
                vec![log(t, "svc", 9, "c1"), log(t + 3, "svc", 9, "c2")],
            ),
        )
        .await;
        let all = all_logs(&store, "default", "", t - 10, t + 10, 3).await;
        assert_eq!(all.len(), 2 * 7 + 2);
        // Every record of the shared nanosecond, once (their order among themselves is
        // unspecified), with pages cut in the middle of them.
        let mut at_t: Vec<&str> = all
            .iter()
            .filter(|r| r.time_unix_nano == t)
            .map(|r| r.body.as_str())
            .collect();
        at_t.sort();
        assert_eq!(at_t, ["a1", "a1", "a3", "a3", "b2", "b2", "c1"]);
        assert!(
            all.windows(2)
                .all(|w| w[0].time_unix_nano >= w[1].time_unix_nano)
        );
        assert_eq!(all_logs(&store, "default", "", t, t + 1, 2).await.len(), 7);
        store.shutdown().await.unwrap();
    }
}
