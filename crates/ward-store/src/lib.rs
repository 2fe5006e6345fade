//! Ward's embedded storage: one SQLite database, one writer thread, a pool of readers.
//!
//! # Files
//!
//! Everything lives in `data_dir`: `ward.db` with its WAL (`ward.db-wal`, `ward.db-shm`), and
//! `ward.lock`, held by the writer thread so that two stores never write the same directory.
//! The database runs in WAL mode, so readers never block the writer nor each other, with
//! `synchronous=FULL` by default: a commit is on disk before anyone is told about it.
//!
//! # Tables
//!
//! Fixed tables, created by versioned migrations (`schema_migrations` records each applied
//! version; all pending migrations run in one transaction at open):
//!
//! * `tenants (id, name, created_at)` — rows refer to tenants by the small integer id.
//! * `service_names (id, name)` and `resources (id, hash, service_id, attributes)` — a
//!   resource (service name + resource attributes JSON) is stored once, keyed by the SHA-256 of
//!   its content; rows carry its id. `scopes (id, name, version)` likewise.
//! * `partitions (kind, day, template_version, created_at, spill_ns)` — the catalog of day
//!   partitions. Retention drops whole partitions; `template_version` says which version of
//!   the partition DDL created them, so a later migration can upgrade old ones.
//! * `services_summary (tenant, day, service, signal → count, first_seen, last_seen)` —
//!   maintained by the writer in the same transaction as the rows, so listing services never
//!   scans telemetry.
//! * `api_keys (id, tenant, name, scopes, secret_hash, created_at, revoked, expires_at,
//!   replaced_by, last_used_at, use_count)`.
//!
//! Telemetry lives in per-day (UTC) tables created on demand by the writer, inside the
//! transaction that first needs them: `logs_YYYYMMDD`, `spans_YYYYMMDD` and
//! `metrics_YYYYMMDD`. A record goes to the partition of its own timestamp (log time, span
//! start, metric point time). Timestamps are `i64` Unix nanoseconds; span trace and span ids
//! are 16- and 8-byte BLOBs (half the size of hex, compared with `memcmp`, and smaller index
//! entries). Partitions older than the current template (`schema::PARTITION_TEMPLATE_VERSION`)
//! are converted at open (`upgrade`).
//!
//! # Log blocks
//!
//! A log partition holds *blocks* (`block`), not one row per record: the records of one
//! (tenant, resource, scope, level) from one submitted batch, in time order, at most 1,024 of
//! them spanning at most a minute, encoded compactly and compressed with zstd, beside a Bloom
//! filter of every word of their bodies and every trace id. One row and two index entries per
//! block instead of a row, three index entries and a full-text document per record is what lets
//! one writer commit well over 100k records/s: the encoding, compression and filter are built
//! on the preparing thread, and the writer only inserts. Queries walk the blocks of their window
//! newest-first through `(tenant, id, level)` or `(tenant, service, id, level)` (service and
//! level are exact per block), skip blocks whose filter lacks a searched word or trace id, and
//! decide each record of the rest with `Filter::matches_log` itself. Full-text search is thus a
//! scan of the window's filters (a few bytes per record), which stops as soon as a page is full.
//! Records of a page are ordered by (time, block key, index in block), newest first; records
//! of one nanosecond come in that (stable, otherwise unspecified) order.
//!
//! # Row keys: time order built into the primary key
//!
//! Span rows and log blocks use `id = (nanoseconds since the start of the day) << 16 | seq` as
//! their `INTEGER PRIMARY KEY` (a block: the nanosecond of its newest record), where `seq`
//! numbers rows of the same nanosecond in arrival order. So key order *is* the order queries
//! want (time, then insertion), and every secondary index (which SQLite ends with the key) is
//! automatically time-ordered within its prefix. Rows arriving in time order get their key
//! without any lookup; a late row costs one index probe. If more than 65,536 rows of one day
//! share a nanosecond, the excess spills into the key range of the next nanosecond(s); the
//! catalog records the largest spill so queries on that partition widen the key window and
//! filter on the exact time column (results stay exact; only the order among those rows is
//! approximate).
//!
//! Span partitions: `(tenant, id, status)`, `(tenant, trace_id)`, `(tenant, service, id)` and
//! `(tenant, service, name, id)`. Metric partitions: `(tenant, name, time)`. Queries pick the
//! driving index by rule (trace id, else service [+ name], else tenant) and pin it with
//! `INDEXED BY`, so plans do not depend on statistics; `EXPLAIN QUERY PLAN` of each shape is
//! checked by tests.
//!
//! # Writer: group commit
//!
//! [`Store::try_submit`] puts a batch on a bounded queue (bounded in *records*, checked with an
//! atomic counter, so memory stays flat under overload: excess load is refused at once with
//! [`StoreError::Overloaded`]). The single writer thread takes one job, then drains whatever
//! else is already queued (up to `max_commit_records`) without waiting, writes all of it in one
//! `BEGIN IMMEDIATE` transaction, commits, and only then resolves each batch's future:
//! acknowledged means durable. Under load commits grow and amortise the fsync; at low load a
//! batch waits for exactly one commit. If a commit fails, every batch of the group gets the
//! error, [`Store::check_writable`] reports the failure until a later commit succeeds, and the
//! writer goes on with later batches.
//!
//! Two helper threads keep work off the writer: a *preparing* thread ahead of it (bounded to a
//! few thousand jobs) cuts each batch's logs into blocks (encoding, compression, Bloom filter),
//! and a *checkpointer* with its own connection moves the WAL into the database in the
//! background (the writer's own auto-checkpoint is only a high backstop, so the WAL stays
//! bounded). Within a group the writer inserts blocks and spans sorted by time (ties in
//! submission order), so B-tree inserts become appends. Row keys are allocated from an
//! in-memory high-water mark per nanosecond range of each partition (bounded; older ranges fall
//! back to an index probe).
//!
//! # Readers
//!
//! A pool of `read_connections` connections with `PRAGMA query_only=ON`, handed out by a
//! semaphore; async query methods run on `tokio::task::spawn_blocking`. Each query runs in one
//! read transaction (a consistent WAL snapshot), visits only the day partitions overlapping its
//! time window, newest first, and stops as soon as the page is full. Span filters are compiled
//! to SQL with exactly the meaning of `Filter::matches_span`, all values bound as parameters;
//! log filters to exact SQL over block columns plus Bloom keys, with `Filter::matches_log`
//! deciding each record. Cursors encode the position of the last item (day and key for spans;
//! time, block and index for logs), so pages stay stable while data arrives. Tenants and API keys use a separate small writer connection, and so do
//! security events (`security_events (id, tenant, time, kind, severity, service, message,
//! details)`, added by migration 2; the server aggregates them so they stay few).

#![warn(missing_docs)]

mod admin;
pub mod audit;
mod block;
mod cursor;
mod error;
mod filter_sql;
mod functions;
mod read;
mod schema;
mod security;
pub mod seed;
mod types;
mod upgrade;
mod writer;

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{Semaphore, oneshot};
use ward_model::{Batch, LogRecord, SecurityEvent, Span, TenantId, TraceId};

pub use admin::Rotation;
pub use error::StoreError;
pub use security::SecurityEventQuery;
pub use types::{
    CommitStats, KeyRecord, KeyUsage, LogQuery, MAX_PAGE_LIMIT, Page, ServiceSummary, StoreConfig,
    TraceQuery, TraceSummary,
};

use error::Result;
use writer::{Job, Shared};

/// File name of the database inside `data_dir`.
pub const DB_FILE: &str = "ward.db";
const LOCK_FILE: &str = "ward.lock";
/// How long `open` waits for a previous store on the same directory to finish.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// How long a connection waits for SQLite's write lock (held briefly by the other writer
/// connection) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Jobs the queue can hold; the real bound is `max_queue_records`, this only caps the
/// channel's slot array for floods of tiny batches.
const MAX_QUEUED_JOBS: usize = 65_536;

/// Handle to the store. Cheap to clone; all clones share one writer and one read pool. Dropping
/// the last clone without [`Store::shutdown`] still commits what was queued (the writer drains
/// its queue in the background) but nobody waits for it.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    data_dir: PathBuf,
    db_path: PathBuf,
    max_queue_records: usize,
    /// `None` once shutdown began; dropping the sender is what tells the writer to finish.
    sender: RwLock<Option<SyncSender<Job>>>,
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
    pool: ReadPool,
    admin: KeyAdmin,
    security: SecurityLog,
    probes: AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("data_dir", &self.inner.data_dir)
            .finish_non_exhaustive()
    }
}

/// Locks a mutex, recovering from poisoning: the guarded values (connections) stay usable
/// after a panic elsewhere, and a panic must not turn into a panic storm.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Store {
    /// Opens (or creates) the store: creates `data_dir`, applies migrations, opens the read
    /// pool and the admin connection, and starts the writer thread. Blocks for up to ten
    /// seconds if another store (e.g. one just dropped in this process) still holds the
    /// directory.
    pub fn open(config: StoreConfig) -> Result<Store, StoreError> {
        std::fs::create_dir_all(&config.data_dir)?;
        let db_path = config.data_dir.join(DB_FILE);
        let lock = acquire_lock(&config.data_dir.join(LOCK_FILE))?;

        let mut conn = Connection::open(&db_path)?;
        configure_writer(&conn, config.synchronous_full, WRITER_CACHE_KIB)?;
        schema::migrate(&mut conn, ward_model::time::now_unix_nanos())?;
        upgrade::upgrade_partitions(&mut conn, ward_model::time::now_unix_nanos())?;

        let admin = KeyAdmin::on(Connection::open(&db_path)?, config.synchronous_full)?;
        let security = SecurityLog::on(Connection::open(&db_path)?, config.synchronous_full)?;

        let readers = config.read_connections.max(1);
        let mut conns = Vec::with_capacity(readers);
        for _ in 0..readers {
            conns.push(open_reader(&db_path)?);
        }

        let shared = Arc::new(Shared::default());
        let (sender, receiver) = sync_channel(config.max_queue_records.clamp(1, MAX_QUEUED_JOBS));
        let writer_config = writer::WriterConfig {
            max_commit_records: config.max_commit_records.max(1),
            on_commit: config.on_commit.clone(),
        };
        let thread_shared = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("ward-store-writer".into())
            .spawn(move || writer::run(conn, receiver, thread_shared, writer_config, lock))?;

        Ok(Store {
            inner: Arc::new(Inner {
                data_dir: config.data_dir.clone(),
                db_path,
                max_queue_records: config.max_queue_records,
                sender: RwLock::new(Some(sender)),
                shared,
                writer: Mutex::new(Some(handle)),
                pool: ReadPool {
                    conns: Mutex::new(conns),
                    permits: Arc::new(Semaphore::new(readers)),
                },
                admin,
                security,
                probes: AtomicU64::new(0),
            }),
        })
    }

    /// Queues a batch; Err(Overloaded/ShuttingDown) at once if it cannot be queued. The
    /// returned future resolves after the batch's transaction committed (Ok) or failed
    /// ([`StoreError::WriteFailed`]); the batch is written whether or not the future is
    /// polled. An empty batch resolves at once.
    pub fn try_submit(
        &self,
        batch: Arc<Batch>,
    ) -> Result<impl Future<Output = Result<(), StoreError>> + Send + 'static, StoreError> {
        let records = batch.len();
        let sender = self.inner.sender.read().unwrap_or_else(|e| e.into_inner());
        let Some(sender) = sender.as_ref() else {
            return Err(StoreError::ShuttingDown);
        };
        let receiver = if records == 0 {
            None
        } else {
            let limit = self.inner.max_queue_records;
            // Reserve room atomically: concurrent submitters can never overshoot the limit
            // together. An over-sized batch gets in only when the queue is empty.
            self.inner
                .shared
                .queued
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                    (queued == 0 || queued.saturating_add(records) <= limit)
                        .then_some(queued + records)
                })
                .map_err(|queued| StoreError::Overloaded { queued, limit })?;
            let (done, receiver) = oneshot::channel();
            if let Err(e) = sender.try_send(Job {
                batch,
                records,
                done,
            }) {
                self.inner
                    .shared
                    .queued
                    .fetch_sub(records, Ordering::AcqRel);
                return Err(match e {
                    TrySendError::Full(_) => StoreError::Overloaded {
                        queued: self.inner.shared.queued.load(Ordering::Acquire),
                        limit,
                    },
                    TrySendError::Disconnected(_) => StoreError::ShuttingDown,
                });
            }
            Some(receiver)
        };
        Ok(async move {
            match receiver {
                None => Ok(()),
                Some(r) => r.await.unwrap_or_else(|_| {
                    Err(StoreError::Internal(
                        "the writer stopped before committing".into(),
                    ))
                }),
            }
        })
    }

    /// Records queued, not yet taken by the writer.
    pub fn queue_depth(&self) -> usize {
        self.inner.shared.queued.load(Ordering::Acquire)
    }

    /// Size of the database files (db + WAL + shared-memory index), in bytes.
    pub fn size_bytes(&self) -> u64 {
        ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| {
                let mut path = self.inner.db_path.clone().into_os_string();
                path.push(suffix);
                std::fs::metadata(path).ok()
            })
            .map(|m| m.len())
            .sum()
    }

    /// Err if the last commit failed (until a later one succeeds), the data directory is not
    /// writable (checked by creating and removing a probe file), the writer thread is gone, or
    /// shutdown has begun ([`StoreError::ShuttingDown`]).
    pub fn check_writable(&self) -> Result<(), StoreError> {
        match lock(&self.inner.writer).as_ref() {
            None => return Err(StoreError::ShuttingDown),
            Some(handle) if handle.is_finished() => {
                return Err(StoreError::Internal("the writer thread stopped".into()));
            }
            Some(_) => {}
        }
        if self.inner.shared.failing.load(Ordering::Acquire) {
            return Err(StoreError::WriteFailed("the last commit failed".into()));
        }
        let n = self.inner.probes.fetch_add(1, Ordering::Relaxed);
        let probe = self
            .inner
            .data_dir
            .join(format!(".write-probe-{}-{n}", std::process::id()));
        File::create(&probe)?;
        std::fs::remove_file(&probe)?;
        Ok(())
    }

    /// Stops accepting, commits everything already queued, resolves those futures, joins the
    /// writer thread. Queries keep working afterwards; further calls return Ok at once.
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        let sender = self
            .inner
            .sender
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        // Dropping the only sender lets the writer's `recv` fail once the queue is empty.
        drop(sender);
        let handle = lock(&self.inner.writer).take();
        if let Some(handle) = handle {
            tokio::task::spawn_blocking(move || handle.join())
                .await
                .map_err(|e| StoreError::Internal(format!("joining the writer: {e}")))?
                .map_err(|_| StoreError::Internal("the writer thread panicked".into()))?;
        }
        Ok(())
    }

    /// Log records of the tenant with `from ≤ time < to` matching the filter, newest first
    /// (time, then arrival order), one page at a time.
    pub async fn query_logs(&self, q: LogQuery) -> Result<Page<LogRecord>, StoreError> {
        self.read(move |conn| read::query_logs(conn, &q)).await
    }

    /// All spans of a trace (every partition), by start time; empty if unknown.
    pub async fn get_trace(
        &self,
        tenant: &TenantId,
        trace_id: TraceId,
    ) -> Result<Vec<Span>, StoreError> {
        let tenant = tenant.clone();
        self.read(move |conn| read::get_trace(conn, &tenant, trace_id))
            .await
    }

    /// Traces with at least one span of the tenant starting in `[from, to)` that matches the
    /// filter; newest matching span first, one summary per trace (computed over all of the
    /// trace's spans).
    pub async fn search_traces(&self, q: TraceQuery) -> Result<Page<TraceSummary>, StoreError> {
        self.read(move |conn| read::search_traces(conn, &q)).await
    }

    /// Services of the tenant active on the (UTC) days overlapping `[from, to)`, sorted by
    /// name. Counts are per whole day, from the summary table.
    pub async fn services(
        &self,
        tenant: &TenantId,
        from_unix_nano: i64,
        to_unix_nano: i64,
    ) -> Result<Vec<ServiceSummary>, StoreError> {
        let tenant = tenant.clone();
        self.read(move |conn| read::services(conn, &tenant, from_unix_nano, to_unix_nano))
            .await
    }

    /// Tenants and API keys of this store.
    pub fn keys(&self) -> &KeyAdmin {
        &self.inner.admin
    }

    /// Where security events are appended.
    pub fn security_log(&self) -> &SecurityLog {
        &self.inner.security
    }

    /// A page of a tenant's security events, newest first.
    pub async fn security_events(
        &self,
        query: SecurityEventQuery,
    ) -> Result<Page<SecurityEvent>, StoreError> {
        self.read(move |conn| security::query(conn, &query)).await
    }

    /// Runs `f` on a pooled read connection on the blocking thread pool.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let permit = Arc::clone(&self.inner.pool.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::ShuttingDown)?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut lease = inner.pool.lease()?;
            let conn = lease
                .conn
                .as_mut()
                .ok_or_else(|| StoreError::Internal("lease without connection".into()))?;
            f(conn)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("query task failed: {e}")))?
    }

    #[cfg(test)]
    fn with_admin<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        f(&self.inner.admin.conn())
    }
}

/// Read connections; the semaphore guarantees a connection is free for each permit holder.
struct ReadPool {
    conns: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl ReadPool {
    fn lease(&self) -> Result<Lease<'_>> {
        let conn = lock(&self.conns)
            .pop()
            .ok_or_else(|| StoreError::Internal("read pool is empty".into()))?;
        Ok(Lease {
            pool: self,
            conn: Some(conn),
        })
    }
}

/// A borrowed read connection, returned to the pool on drop (also when the query panicked,
/// so the pool never shrinks).
struct Lease<'a> {
    pool: &'a ReadPool,
    conn: Option<Connection>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            lock(&self.pool.conns).push(conn);
        }
    }
}

/// Tenants and API keys of a data directory, on their own small connection.
///
/// A [`Store`] has one ([`Store::keys`]). [`KeyAdmin::open`] makes one *without* a store, so that
/// a second process (the `ward keys` command on the server's machine) can manage keys while Ward
/// runs: it takes no directory lock, because SQLite serialises these small writes with the
/// running writer (WAL, busy timeout), and it never migrates the schema.
pub struct KeyAdmin {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for KeyAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyAdmin").finish_non_exhaustive()
    }
}

impl KeyAdmin {
    fn on(conn: Connection, synchronous_full: bool) -> Result<KeyAdmin> {
        configure_writer(&conn, synchronous_full, ADMIN_CACHE_KIB)?;
        Ok(KeyAdmin {
            conn: Mutex::new(conn),
        })
    }

    /// Opens the keys of an existing store in `data_dir`. Fails if there is no store there, or
    /// if its schema is not the one this version of Ward writes (start `ward serve` once to
    /// migrate it).
    pub fn open(data_dir: &Path) -> Result<KeyAdmin> {
        let db_path = data_dir.join(DB_FILE);
        if !db_path.exists() {
            return Err(StoreError::Migration(format!(
                "no Ward store at {}",
                db_path.display()
            )));
        }
        let conn =
            Connection::open_with_flags(&db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        let applied = schema::applied_versions(&conn)?;
        if applied.last().copied() != Some(schema::latest_version()) {
            return Err(StoreError::Migration(format!(
                "the store in {} has schema version {:?}, this Ward expects {}; start `ward serve` once to migrate it",
                data_dir.display(),
                applied.last(),
                schema::latest_version()
            )));
        }
        KeyAdmin::on(conn, true)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        lock(&self.conn)
    }

    /// Creates the tenant if it does not exist.
    pub fn ensure_tenant(&self, tenant: &TenantId) -> Result<(), StoreError> {
        admin::ensure_tenant_on(&self.conn(), tenant, ward_model::time::now_unix_nanos())?;
        Ok(())
    }

    /// All tenants, sorted by name.
    pub fn list_tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        admin::list_tenants(&self.conn())
    }

    /// Stores a new key (and creates its tenant if needed). A duplicate id is an error.
    pub fn insert_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        admin::insert_key(&mut self.conn(), key, ward_model::time::now_unix_nanos())
    }

    /// The key with this id, revoked or not.
    pub fn get_key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        admin::get_key(&self.conn(), id)
    }

    /// Keys of one tenant, or of all tenants; oldest first.
    pub fn list_keys(&self, tenant: Option<&TenantId>) -> Result<Vec<KeyRecord>, StoreError> {
        admin::list_keys(&self.conn(), tenant)
    }

    /// Stores `new` as the successor of `old_id`, which keeps working until `old_expires_at`
    /// (Unix nanoseconds) or its own earlier expiry, whichever comes first.
    pub fn rotate_key(
        &self,
        old_id: &str,
        new: &KeyRecord,
        old_expires_at: i64,
    ) -> Result<Rotation, StoreError> {
        admin::rotate_key(
            &mut self.conn(),
            old_id,
            new,
            old_expires_at,
            ward_model::time::now_unix_nanos(),
        )
    }

    /// Adds uses counted in memory by the server to the stored totals.
    pub fn record_key_usage(&self, usage: &[KeyUsage]) -> Result<(), StoreError> {
        if usage.is_empty() {
            return Ok(());
        }
        admin::record_key_usage(&mut self.conn(), usage)
    }

    /// Revokes a key; true if it existed and was active.
    pub fn revoke_key(&self, id: &str) -> Result<bool, StoreError> {
        admin::revoke_key(&self.conn(), id)
    }

    /// Number of stored keys, revoked ones included.
    pub fn count_keys(&self) -> Result<usize, StoreError> {
        admin::count_keys(&self.conn())
    }
}

/// Appends security events, on its own small connection (see [`Store::security_log`]).
pub struct SecurityLog {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SecurityLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityLog").finish_non_exhaustive()
    }
}

impl SecurityLog {
    fn on(conn: Connection, synchronous_full: bool) -> Result<SecurityLog> {
        configure_writer(&conn, synchronous_full, ADMIN_CACHE_KIB)?;
        Ok(SecurityLog {
            conn: Mutex::new(conn),
        })
    }

    /// Appends `events` durably, in one transaction (blocking: call it off the async runtime).
    pub fn append(&self, events: &[SecurityEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        security::append(
            &mut lock(&self.conn),
            events,
            ward_model::time::now_unix_nanos(),
        )
    }
}

fn acquire_lock(path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Io(std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    format!("{} is in use by another Ward store", path.display()),
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        }
    }
}

/// Page cache of the telemetry writer, KiB (a cap; pages are allocated as used). With group
/// rows inserted in key order, `ward bench ingest --duration 15s` measured the same rate with
/// 64 MiB as with 256 MiB (within the noise of a shared 2-core machine) and Ward's peak RSS fell
/// from ~338 to ~145 MiB. (Before that change, 256 MiB measured 68k rows/s against 58k with
/// 64 MiB on 5M records; that long run was not repeated.)
const WRITER_CACHE_KIB: i64 = 64 * 1024;
/// Page cache of the tenants/keys connection, KiB.
const ADMIN_CACHE_KIB: i64 = 2 * 1024;
/// Page cache of each read connection, KiB.
const READER_CACHE_KIB: i64 = 32 * 1024;

fn configure_writer(conn: &Connection, synchronous_full: bool, cache_kib: i64) -> Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Internal(format!(
            "could not enable WAL mode (got {mode})"
        )));
    }
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(if synchronous_full {
        "PRAGMA synchronous=FULL;"
    } else {
        "PRAGMA synchronous=NORMAL;"
    })?;
    // The WAL is truncated back to 64 MiB after checkpoints so it does not keep a burst's size.
    conn.execute_batch(&format!(
        "PRAGMA cache_size=-{cache_kib};
         PRAGMA temp_store=MEMORY;
         PRAGMA journal_size_limit=67108864;"
    ))?;
    // Statements are cached per partition table (3 per day and kind); keep a few weeks' worth.
    conn.set_prepared_statement_cache_capacity(512);
    Ok(())
}

fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Memory-mapped reads save a copy per page for the scans queries do.
    conn.execute_batch(&format!(
        "PRAGMA query_only=ON;
         PRAGMA cache_size=-{READER_CACHE_KIB};
         PRAGMA mmap_size=268435456;
         PRAGMA temp_store=MEMORY;"
    ))?;
    conn.set_prepared_statement_cache_capacity(256);
    functions::register(&conn)?;
    Ok(conn)
}

#[cfg(test)]
mod tests;
