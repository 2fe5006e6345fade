//! The audit trail's durable store: `audit.db` in the data directory, beside `ward.db`.
//!
//! A file of its own, so that audit appends never wait behind a telemetry group commit (and
//! the other way round), and so that its fsync cadence, retention and archival are its own.
//! It runs in WAL mode with `synchronous=FULL`: an append is acknowledged only after the
//! transaction carrying it is on disk.
//!
//! - [`AuditStore`]: the handle the server holds. Appends, erasures and retention cuts go to
//!   one writer thread (`writer`), the only code that assigns sequence numbers; queries and
//!   verification read through [`AuditReader`]s.
//! - Personal fields are sealed with per-subject keys (`subjects`); erasing a subject deletes
//!   its key and handle, and records the erasure in the chain.
//! - Retention (`retention`) archives the oldest range as zstd JSON lines, then the writer
//!   appends a prune marker and deletes the range in one transaction.
//! - Checkpoints are signed by the writer on the configured policy and handed to a hook (the
//!   server pushes them off the machine).

mod read;
mod report;
mod retention;
mod rows;
mod schema;
mod subjects;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use rusqlite::Connection;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::oneshot;
use ward_audit::{Checkpoint, CheckpointPolicy, CheckpointSigner, Hash, Outcome, TenantId};

pub use read::{AuditQuery, AuditReader, AuditRecord, SeqRange, TrailStats};
pub use report::{AuditReport, Count, RetentionState, integrity_line};
pub use writer::CheckpointHook;

use crate::error::{Result, StoreError};
use crate::{Page, lock};
use writer::Job;

/// The audit trail's file in the data directory.
pub const AUDIT_DB_FILE: &str = "audit.db";
const AUDIT_LOCK_FILE: &str = "audit.lock";
/// Read connections kept for queries.
const QUERY_CONNECTIONS: usize = 2;

/// How to open an [`AuditStore`].
pub struct AuditConfig {
    /// The Ward data directory.
    pub data_dir: PathBuf,
    /// Signs checkpoints; without one, none are made.
    pub signer: Option<Arc<CheckpointSigner>>,
    /// When to sign.
    pub policy: CheckpointPolicy,
    /// Append requests that may wait for the writer; more are refused (overload).
    pub max_queued_requests: usize,
    /// Entries per group commit, at most (a commit may exceed it by one request).
    pub max_commit_entries: usize,
    /// Called with each durable checkpoint, on the writer thread: must not block.
    pub on_checkpoint: Option<CheckpointHook>,
}

impl AuditConfig {
    /// Defaults for `data_dir`: no signer, checkpoints every 1,000 entries or 60 s.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        AuditConfig {
            data_dir: data_dir.into(),
            signer: None,
            policy: CheckpointPolicy {
                every_entries: 1_000,
                every_nanos: 60_000_000_000,
            },
            max_queued_requests: 4_096,
            max_commit_entries: 10_000,
            on_checkpoint: None,
        }
    }
}

/// An entry to append, as a client describes it. The store seals `on_behalf_of` and the
/// personal `details` keys, then chains it.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    /// Ward's own action (`system`) rather than an agent's.
    pub system: bool,
    /// Who acted.
    pub agent: String,
    /// The user the agent acted for (sealed under `user:<id>`).
    pub on_behalf_of: Option<String>,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub resource: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The trace, if any.
    pub trace_id: Option<String>,
    /// Further facts (a JSON object).
    pub details: Map<String, Value>,
}

/// Where an appended entry landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Appended {
    /// Its sequence number.
    pub seq: u64,
    /// Its hash.
    #[serde(serialize_with = "hex_hash")]
    pub hash: Hash,
    /// Its append time.
    pub time_unix_nano: i64,
}

fn hex_hash<S: serde::Serializer>(h: &Hash, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(h))
}

/// A completed erasure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Erasure {
    /// The handle the subject's sealed fields carry.
    pub handle: String,
    /// Entries filed under it (their `on_behalf_of` is now unreadable).
    pub entries: u64,
    /// The seq of the entry recording the erasure.
    pub seq: u64,
    /// Its hash.
    #[serde(serialize_with = "hex_hash")]
    pub hash: Hash,
}

/// A completed retention cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneRun {
    /// When.
    pub time_unix_nano: i64,
    /// First seq removed.
    pub from_seq: u64,
    /// Last seq removed.
    pub through_seq: u64,
    /// Rows removed.
    pub entries: u64,
    /// The archive file holding them.
    pub archive: String,
    /// The seq of the prune marker.
    pub marker_seq: u64,
}

/// Handle to the audit store. Cheap to clone.
#[derive(Clone)]
pub struct AuditStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    max_queued: usize,
    sender: RwLock<Option<SyncSender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<AuditReader>>,
}

impl std::fmt::Debug for AuditStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl AuditStore {
    /// Opens (or creates) `audit.db` in the data directory and starts the writer.
    pub fn open(config: AuditConfig) -> Result<AuditStore> {
        std::fs::create_dir_all(&config.data_dir)?;
        let path = config.data_dir.join(AUDIT_DB_FILE);
        let lock_file = crate::acquire_lock(&config.data_dir.join(AUDIT_LOCK_FILE))?;
        let mut conn = Connection::open(&path)?;
        crate::configure_writer(&conn, true, 8 * 1024)?;
        schema::migrate(&mut conn)?;
        let readers = (0..QUERY_CONNECTIONS)
            .map(|_| AuditReader::on_path(&path))
            .collect::<Result<Vec<_>>>()?;
        let (sender, receiver) = sync_channel(config.max_queued_requests.max(1));
        let writer_config = writer::WriterConfig {
            signer: config.signer,
            policy: config.policy,
            max_commit_entries: config.max_commit_entries.max(1),
            on_checkpoint: config.on_checkpoint,
        };
        let handle = std::thread::Builder::new()
            .name("ward-audit-writer".into())
            .spawn(move || writer::run(conn, receiver, writer_config, lock_file))?;
        Ok(AuditStore {
            inner: Arc::new(Inner {
                path,
                max_queued: config.max_queued_requests.max(1),
                sender: RwLock::new(Some(sender)),
                writer: Mutex::new(Some(handle)),
                readers: Mutex::new(readers),
            }),
        })
    }

    fn submit(&self, job: Job) -> Result<()> {
        let guard = self.inner.sender.read().unwrap_or_else(|e| e.into_inner());
        let sender = guard.as_ref().ok_or(StoreError::ShuttingDown)?;
        sender.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => StoreError::Overloaded {
                queued: self.inner.max_queued,
                limit: self.inner.max_queued,
            },
            TrySendError::Disconnected(_) => StoreError::ShuttingDown,
        })
    }

    async fn answer<T>(rx: oneshot::Receiver<Result<T>>) -> Result<T> {
        rx.await
            .map_err(|_| StoreError::Internal("the audit writer stopped".into()))?
    }

    /// Queues `drafts` for `tenant`'s chain; [`StoreError::Overloaded`] at once if the queue
    /// is full. The future resolves once they are durable, with their seqs and hashes in order.
    /// `personal` names the top-level `details` keys to seal.
    pub fn append(
        &self,
        tenant: TenantId,
        drafts: Vec<AuditDraft>,
        personal: Arc<[String]>,
    ) -> Result<impl Future<Output = Result<Vec<Appended>>> + use<>> {
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Append {
            tenant,
            drafts,
            personal,
            reply,
        })?;
        Ok(Self::answer(rx))
    }

    /// Destroys the key of `subject` (e.g. `user:123`) and records the erasure, by `actor`,
    /// in the chain. `None` if the subject has no key (never seen, or already erased).
    pub async fn erase(
        &self,
        tenant: TenantId,
        subject: String,
        actor: String,
    ) -> Result<Option<Erasure>> {
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Erase {
            tenant,
            subject,
            actor,
            reply,
        })?;
        Self::answer(rx).await
    }

    /// Signs `tenant`'s chain head now if anything is unsigned; returns the newest checkpoint.
    pub async fn checkpoint(&self, tenant: TenantId) -> Result<Option<Checkpoint>> {
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Checkpoint { tenant, reply })?;
        Self::answer(rx).await
    }

    /// Archives the entries of `tenant` appended before `cutoff` into `archive_dir`, then cuts
    /// them from the chain behind a prune marker by `actor`. `None` if nothing is that old.
    pub async fn prune(
        &self,
        tenant: TenantId,
        cutoff_unix_nano: i64,
        archive_dir: PathBuf,
        actor: String,
    ) -> Result<Option<PruneRun>> {
        let t = tenant.clone();
        let plan = self
            .read(move |r| retention::archive_range(r, &t, cutoff_unix_nano, &archive_dir))
            .await?;
        let Some(plan) = plan else {
            return Ok(None);
        };
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Prune {
            tenant,
            plan,
            actor,
            reply,
        })?;
        Self::answer(rx).await.map(Some)
    }

    /// Runs `f` on a read connection, off the async runtime. Long reads (export, verify) get a
    /// connection of their own so they never hold up queries.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&AuditReader) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let pooled = lock(&inner.readers).pop();
            let reader = match pooled {
                Some(r) => r,
                None => AuditReader::on_path(&inner.path)?,
            };
            let out = f(&reader);
            let mut pool = lock(&inner.readers);
            if pool.len() < QUERY_CONNECTIONS {
                pool.push(reader);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Internal(format!("audit read task: {e}")))?
    }

    /// A reader of its own (for streaming exports on a blocking thread).
    pub fn reader(&self) -> Result<AuditReader> {
        AuditReader::on_path(&self.inner.path)
    }

    /// A page of `q`.
    pub async fn query(&self, q: AuditQuery) -> Result<Page<AuditRecord>> {
        self.read(move |r| r.query(&q)).await
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Stops accepting work, lets the writer finish what is queued and sign every unsigned
    /// tail, and waits for it.
    pub async fn shutdown(&self) -> Result<()> {
        self.inner
            .sender
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let handle = lock(&self.inner.writer).take();
        if let Some(handle) = handle {
            tokio::task::spawn_blocking(move || handle.join())
                .await
                .map_err(|e| StoreError::Internal(format!("audit writer join: {e}")))?
                .map_err(|_| StoreError::Internal("the audit writer panicked".into()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
