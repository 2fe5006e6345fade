//! Public configuration, query and result types.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use ward_model::filter::Filter;
use ward_model::{TenantId, TraceId};

/// The largest page a query returns, whatever `limit` asks for.
pub const MAX_PAGE_LIMIT: usize = 1000;

/// How the store is opened.
#[derive(Clone)]
pub struct StoreConfig {
    /// Directory of the database; created if missing. The database file is `data_dir/ward.db`
    /// (plus SQLite's `ward.db-wal` and `ward.db-shm`, and the lock file `ward.lock`).
    pub data_dir: PathBuf,
    /// Read-only connections in the query pool (default 4); at most this many queries run at
    /// once, others wait for a connection.
    pub read_connections: usize,
    /// Records that may wait for the writer (default 500,000). `try_submit` refuses a batch with
    /// [`StoreError::Overloaded`](crate::StoreError::Overloaded) when the queued records plus the
    /// batch would exceed it (a batch larger than the whole limit is accepted only into an empty
    /// queue, so it is not refused forever).
    pub max_queue_records: usize,
    /// Records the writer puts in one transaction, at most (default 50,000; the last batch taken
    /// may overshoot it, batches are never split).
    pub max_commit_records: usize,
    /// `PRAGMA synchronous=FULL` (default `true`): a commit survives power loss. With `false`
    /// (`NORMAL`) a commit survives a crash of Ward but the last commits may be lost on power
    /// loss or a kernel crash.
    pub synchronous_full: bool,
    /// Called by the writer thread after each commit attempt (successful or not). Keep it cheap:
    /// it runs on the only writer thread.
    pub on_commit: Option<Arc<dyn Fn(CommitStats) + Send + Sync>>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            data_dir: PathBuf::from("./ward-data"),
            read_connections: 4,
            max_queue_records: 500_000,
            max_commit_records: 50_000,
            synchronous_full: true,
            on_commit: None,
        }
    }
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("data_dir", &self.data_dir)
            .field("read_connections", &self.read_connections)
            .field("max_queue_records", &self.max_queue_records)
            .field("max_commit_records", &self.max_commit_records)
            .field("synchronous_full", &self.synchronous_full)
            .field(
                "on_commit",
                &self.on_commit.as_ref().map(|_| "Fn(CommitStats)"),
            )
            .finish()
    }
}

/// What one group commit did, reported to [`StoreConfig::on_commit`].
#[derive(Debug, Clone, Copy)]
pub struct CommitStats {
    /// Records written (or attempted) in the transaction.
    pub records: usize,
    /// Batches (submissions) that shared the transaction.
    pub jobs: usize,
    /// Wall time from `BEGIN` to the end of `COMMIT` (or of the rollback).
    pub seconds: f64,
    /// Whether the transaction committed.
    pub ok: bool,
}

/// An API key as stored. The secret itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    /// Public key id (unique).
    pub id: String,
    /// Tenant the key acts for.
    pub tenant: TenantId,
    /// Human-readable name.
    pub name: String,
    /// Granted scopes (e.g. `ingest`, `read`, `admin`, `audit:write`), as given.
    pub scopes: Vec<String>,
    /// SHA-256 (or whatever the server chooses) of the secret.
    pub secret_hash: [u8; 32],
    /// Creation time, Unix nanoseconds.
    pub created_at_unix_nano: i64,
    /// Revoked keys stay listed but must not authenticate.
    pub revoked: bool,
    /// After this time (Unix nanoseconds) the key no longer authenticates; `None`: never.
    pub expires_at_unix_nano: Option<i64>,
    /// The key that replaced this one when it was rotated.
    pub replaced_by: Option<String>,
    /// Last successful authentication (Unix nanoseconds), as last flushed by the server.
    pub last_used_unix_nano: Option<i64>,
    /// Successful authentications, as last flushed by the server.
    pub use_count: u64,
}

impl KeyRecord {
    /// True when the key can authenticate at `now`: not revoked and not expired.
    pub fn is_active(&self, now_unix_nano: i64) -> bool {
        !self.revoked && self.expires_at_unix_nano.is_none_or(|t| now_unix_nano < t)
    }
}

/// Uses of one key since the last flush (see [`crate::KeyAdmin::record_key_usage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    /// The key's id.
    pub id: String,
    /// Successful authentications to add.
    pub count: u64,
    /// The latest of them (Unix nanoseconds).
    pub last_used_unix_nano: i64,
}

/// A log search.
#[derive(Debug, Clone)]
pub struct LogQuery {
    /// Only this tenant's records are searched.
    pub tenant: TenantId,
    /// Conditions, with the meaning of `Filter::matches_log`.
    pub filter: Filter,
    /// Inclusive lower bound of the record time, Unix nanoseconds.
    pub from_unix_nano: i64,
    /// Exclusive upper bound of the record time, Unix nanoseconds.
    pub to_unix_nano: i64,
    /// Page size; clamped to `1..=`[`MAX_PAGE_LIMIT`].
    pub limit: usize,
    /// `next_cursor` of the previous page, or `None` for the first page.
    pub cursor: Option<String>,
}

/// A trace search: traces with at least one span matching the filter.
#[derive(Debug, Clone)]
pub struct TraceQuery {
    /// Only this tenant's spans are searched.
    pub tenant: TenantId,
    /// Conditions on spans, with the meaning of `Filter::matches_span`.
    pub filter: Filter,
    /// Inclusive lower bound of the matching span's start, Unix nanoseconds.
    pub from_unix_nano: i64,
    /// Exclusive upper bound of the matching span's start, Unix nanoseconds.
    pub to_unix_nano: i64,
    /// Page size; clamped to `1..=`[`MAX_PAGE_LIMIT`].
    pub limit: usize,
    /// `next_cursor` of the previous page, or `None` for the first page.
    pub cursor: Option<String>,
}

/// One page of results.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// The items, newest first.
    pub items: Vec<T>,
    /// Opaque cursor for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub(crate) fn empty() -> Self {
        Page {
            items: Vec::new(),
            next_cursor: None,
        }
    }
}

/// One trace in trace-search results, summarised over all of its stored spans.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceSummary {
    /// The trace.
    pub trace_id: TraceId,
    /// Service of the root span (the earliest span without a parent); `None` while no root
    /// span has been stored.
    pub root_service: Option<String>,
    /// Name of the root span.
    pub root_name: Option<String>,
    /// Earliest span start, Unix nanoseconds.
    pub start_time_unix_nano: i64,
    /// Latest span end minus earliest span start.
    pub duration_nanos: i64,
    /// Spans stored for the trace.
    pub span_count: u64,
    /// Spans with status `error`.
    pub error_count: u64,
    /// Distinct services of the trace's spans, sorted.
    pub services: Vec<String>,
}

/// Activity of one service, from the writer-maintained summary table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceSummary {
    /// `service.name`.
    pub name: String,
    /// Log records.
    pub log_count: u64,
    /// Spans.
    pub span_count: u64,
    /// Metric points.
    pub metric_count: u64,
    /// Earliest record time seen.
    pub first_seen_unix_nano: i64,
    /// Latest record time seen.
    pub last_seen_unix_nano: i64,
}
