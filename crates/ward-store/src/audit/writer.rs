//! The audit writer thread: the only code that appends to `audit.db`.
//!
//! One thread owns every tenant's [`Chain`], so sequence numbers are assigned in exactly one
//! place and a chain cannot fork however many clients write at once. Appends that arrive
//! while a commit is in flight are committed together (group commit: one fsync for many
//! entries); nobody is answered before the transaction carrying their entries is durable.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::{Map, Value};
use tokio::sync::oneshot;
use ward_audit::{
    Actor, Chain, Checkpoint, CheckpointPolicy, CheckpointSigner, Details, EntryDraft, Field, Hash,
    Kind, TenantId,
};

use super::rows::{insert_checkpoint, insert_entry};
use super::subjects::{Subjects, seal_details, seal_for, user_subject};
use super::{Appended, AuditDraft, Erasure, PruneRun};
use crate::error::{Result, StoreError};
use crate::writer::Checkpointer;

/// How often the writer wakes up, when idle, to make time-based checkpoints.
const TICK: Duration = Duration::from_millis(500);

/// Called with every checkpoint once it is durable (e.g. to push it off the machine).
pub type CheckpointHook = Arc<dyn Fn(&Checkpoint) + Send + Sync>;

/// Work for the writer.
pub(crate) enum Job {
    Append {
        tenant: TenantId,
        drafts: Vec<AuditDraft>,
        personal: Arc<[String]>,
        reply: oneshot::Sender<Result<Vec<Appended>>>,
    },
    Erase {
        tenant: TenantId,
        subject: String,
        actor: String,
        reply: oneshot::Sender<Result<Option<Erasure>>>,
    },
    Prune {
        tenant: TenantId,
        plan: PrunePlan,
        actor: String,
        reply: oneshot::Sender<Result<PruneRun>>,
    },
    Checkpoint {
        tenant: TenantId,
        reply: oneshot::Sender<Result<Option<Checkpoint>>>,
    },
}

/// A range already archived, to be cut from the chain.
pub(crate) struct PrunePlan {
    pub from_seq: u64,
    pub through_seq: u64,
    pub last_hash: Hash,
    pub entries: u64,
    pub archive: String,
}

pub(crate) struct WriterConfig {
    pub signer: Option<Arc<CheckpointSigner>>,
    pub policy: CheckpointPolicy,
    pub max_commit_entries: usize,
    pub on_checkpoint: Option<CheckpointHook>,
}

/// A tenant's chain plus when it was last signed.
#[derive(Clone)]
struct TenantChain {
    chain: Chain,
    last_time: i64,
    last_cp_seq: u64,
    last_cp_time: i64,
}

struct Writer {
    conn: Connection,
    /// Copies committed WAL frames into the file off this thread, so commits only append.
    checkpointer: Checkpointer,
    config: WriterConfig,
    chains: HashMap<TenantId, TenantChain>,
    subjects: Subjects,
}

pub(crate) fn run(
    conn: Connection,
    jobs: Receiver<Job>,
    config: WriterConfig,
    _lock: std::fs::File,
) {
    let checkpointer = Checkpointer::start(&conn);
    let mut w = Writer {
        conn,
        checkpointer,
        config,
        chains: HashMap::new(),
        subjects: Subjects::default(),
    };
    if let Err(e) = w.load_all() {
        tracing::error!(error = %e, "cannot read the audit chains' heads");
    }
    loop {
        match jobs.recv_timeout(TICK) {
            Ok(first) => {
                let mut appends = Vec::new();
                let mut others = Vec::new();
                let mut entries = 0usize;
                let mut next = Some(first);
                while let Some(job) = next.take() {
                    match job {
                        Job::Append { ref drafts, .. } => {
                            entries += drafts.len();
                            appends.push(job);
                        }
                        other => others.push(other),
                    }
                    if entries < w.config.max_commit_entries {
                        next = jobs.try_recv().ok();
                    }
                }
                if !appends.is_empty() {
                    w.commit_appends(appends);
                }
                for job in others {
                    w.handle(job);
                }
                w.checkpointer.nudge();
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        w.checkpoint_due(false);
    }
    // Sign every unsigned tail on the way out, so a clean shutdown leaves nothing unsigned.
    w.checkpoint_due(true);
    w.checkpointer.stop();
}

fn now() -> i64 {
    ward_model::time::now_unix_nanos()
}

impl Writer {
    fn load_all(&mut self) -> Result<()> {
        for tenant in super::read::tenants(&self.conn)? {
            self.chain(&tenant)?;
        }
        Ok(())
    }

    /// The tenant's chain, read from the file the first time.
    fn chain(&mut self, tenant: &TenantId) -> Result<&mut TenantChain> {
        if !self.chains.contains_key(tenant) {
            let head: Option<(i64, Vec<u8>, i64)> = self
                .conn
                .prepare_cached(
                    "SELECT seq, hash, time_ns FROM audit_entries
                     WHERE tenant = ?1 ORDER BY seq DESC LIMIT 1",
                )?
                .query_row([tenant.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let cp: Option<(i64, i64)> = self
                .conn
                .prepare_cached(
                    "SELECT seq, time_ns FROM audit_checkpoints
                     WHERE tenant = ?1 ORDER BY seq DESC LIMIT 1",
                )?
                .query_row([tenant.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let (chain, last_time) = match head {
                Some((seq, hash, time)) => {
                    let hash: Hash = hash.as_slice().try_into().map_err(|_| {
                        StoreError::Corrupt(format!("audit head of {tenant} has a bad hash"))
                    })?;
                    (Chain::resume(tenant.clone(), seq as u64, hash), time)
                }
                None => (Chain::new(tenant.clone()), 0),
            };
            let (last_cp_seq, last_cp_time) =
                cp.map(|(s, t)| (s as u64, t)).unwrap_or((0, last_time));
            self.chains.insert(
                tenant.clone(),
                TenantChain {
                    chain,
                    last_time,
                    last_cp_seq,
                    last_cp_time,
                },
            );
        }
        self.chains
            .get_mut(tenant)
            .ok_or_else(|| StoreError::Internal("audit chain vanished".into()))
    }

    fn commit_appends(&mut self, jobs: Vec<Job>) {
        // Chains as they were, to restore if the transaction fails.
        let mut before: HashMap<TenantId, TenantChain> = HashMap::new();
        let result = self.append_all(&jobs, &mut before);
        match result {
            Ok(per_job) => {
                for (job, appended) in jobs.into_iter().zip(per_job) {
                    if let Job::Append { reply, .. } = job {
                        let _ = reply.send(Ok(appended));
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "audit append failed; nothing of this group was stored");
                for (tenant, chain) in before {
                    self.chains.insert(tenant, chain);
                }
                self.subjects.forget();
                let message = e.to_string();
                for job in jobs {
                    if let Job::Append { reply, .. } = job {
                        let _ = reply.send(Err(StoreError::WriteFailed(message.clone())));
                    }
                }
            }
        }
    }

    fn append_all(
        &mut self,
        jobs: &[Job],
        before: &mut HashMap<TenantId, TenantChain>,
    ) -> Result<Vec<Vec<Appended>>> {
        for job in jobs {
            if let Job::Append { tenant, .. } = job
                && !before.contains_key(tenant)
            {
                let snapshot = self.chain(tenant)?.clone();
                before.insert(tenant.clone(), snapshot);
            }
        }
        let time = now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            let Job::Append {
                tenant,
                drafts,
                personal,
                ..
            } = job
            else {
                continue;
            };
            let mut appended = Vec::with_capacity(drafts.len());
            for draft in drafts {
                let sealed = seal_draft(&mut self.subjects, &tx, tenant, draft, personal, time)?;
                let tc = self
                    .chains
                    .get_mut(tenant)
                    .ok_or_else(|| StoreError::Internal("audit chain vanished".into()))?;
                // Time never goes backwards within a chain, even if the clock does.
                let t = time.max(tc.last_time);
                let entry = tc.chain.append(sealed, t);
                tc.last_time = t;
                insert_entry(&tx, &entry)?;
                appended.push(Appended {
                    seq: entry.seq,
                    hash: entry.hash,
                    time_unix_nano: entry.time_unix_nano,
                });
            }
            out.push(appended);
        }
        tx.commit()?;
        Ok(out)
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::Append { .. } => self.commit_appends(vec![job]),
            Job::Erase {
                tenant,
                subject,
                actor,
                reply,
            } => {
                let r = self.erase(&tenant, &subject, &actor);
                if r.is_err() {
                    self.reload(&tenant);
                }
                let _ = reply.send(r);
            }
            Job::Prune {
                tenant,
                plan,
                actor,
                reply,
            } => {
                let r = self.prune(&tenant, plan, &actor);
                if r.is_err() {
                    self.reload(&tenant);
                }
                let _ = reply.send(r);
            }
            Job::Checkpoint { tenant, reply } => {
                let r = self.checkpoint(&tenant);
                let _ = reply.send(r);
            }
        }
    }

    /// Drops the cached chain so it is read again from the file (after a failed write).
    fn reload(&mut self, tenant: &TenantId) {
        self.chains.remove(tenant);
        self.subjects.forget();
    }

    fn erase(&mut self, tenant: &TenantId, subject: &str, actor: &str) -> Result<Option<Erasure>> {
        self.chain(tenant)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(handle) = self.subjects.erase(&tx, tenant, subject)? else {
            return Ok(None);
        };
        let entries: i64 = tx.query_row(
            "SELECT count(*) FROM audit_entries WHERE tenant = ?1 AND subject = ?2",
            params![tenant.as_str(), handle],
            |r| r.get(0),
        )?;
        let mut details = Map::new();
        details.insert("entries".into(), Value::from(entries));
        let draft = EntryDraft {
            kind: Kind::System,
            actor: Actor {
                agent: actor.to_owned(),
                on_behalf_of: None,
            },
            action: "audit.erase".into(),
            resource: Field::Plain(format!("subject/{handle}")),
            outcome: ward_audit::Outcome::Success,
            trace_id: None,
            details: Details::from_map(&details),
        };
        let entry = append_one(&mut self.chains, &tx, tenant, draft)?;
        tx.execute(
            "INSERT INTO audit_erasures (tenant, handle, time_ns, entries, seq)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                tenant.as_str(),
                handle,
                entry.time_unix_nano,
                entries,
                entry.seq as i64
            ],
        )?;
        tx.commit()?;
        Ok(Some(Erasure {
            handle,
            entries: entries as u64,
            seq: entry.seq,
            hash: entry.hash,
        }))
    }

    fn prune(&mut self, tenant: &TenantId, plan: PrunePlan, actor: &str) -> Result<PruneRun> {
        self.chain(tenant)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut draft = EntryDraft::prune(plan.through_seq, plan.last_hash);
        draft.actor.agent = actor.to_owned();
        let mut details = Map::new();
        details.insert("archive".into(), Value::from(plan.archive.clone()));
        details.insert("entries".into(), Value::from(plan.entries));
        details.insert("from_seq".into(), Value::from(plan.from_seq));
        draft.details = Details::from_map(&details);
        let marker = append_one(&mut self.chains, &tx, tenant, draft)?;
        // Earlier prune markers in the range go too: the new marker anchors the new start.
        let deleted = tx.execute(
            "DELETE FROM audit_entries WHERE tenant = ?1 AND seq <= ?2",
            params![tenant.as_str(), plan.through_seq as i64],
        )?;
        tx.execute(
            "DELETE FROM audit_checkpoints WHERE tenant = ?1 AND seq <= ?2",
            params![tenant.as_str(), plan.through_seq as i64],
        )?;
        tx.execute(
            "INSERT INTO audit_prunes (tenant, time_ns, from_seq, through_seq, entries, archive, marker_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                tenant.as_str(),
                marker.time_unix_nano,
                plan.from_seq as i64,
                plan.through_seq as i64,
                deleted as i64,
                plan.archive,
                marker.seq as i64
            ],
        )?;
        tx.commit()?;
        Ok(PruneRun {
            time_unix_nano: marker.time_unix_nano,
            from_seq: plan.from_seq,
            through_seq: plan.through_seq,
            entries: deleted as u64,
            archive: plan.archive,
            marker_seq: marker.seq,
        })
    }

    /// Signs the chain's head now if it has unsigned entries; returns the newest checkpoint.
    fn checkpoint(&mut self, tenant: &TenantId) -> Result<Option<Checkpoint>> {
        let tc = self.chain(tenant)?.clone();
        if tc.chain.last_seq() > tc.last_cp_seq {
            return self.sign(tenant).map(Some);
        }
        let cp = self
            .conn
            .prepare_cached(&format!(
                "SELECT {} FROM audit_checkpoints WHERE tenant = ?1 ORDER BY seq DESC LIMIT 1",
                super::rows::CHECKPOINT_COLUMNS
            ))?
            .query_row([tenant.as_str()], |r| {
                Ok(super::rows::checkpoint_from_row(r))
            })
            .optional()?
            .transpose()?;
        Ok(cp)
    }

    fn sign(&mut self, tenant: &TenantId) -> Result<Checkpoint> {
        let signer = self
            .config
            .signer
            .clone()
            .ok_or_else(|| StoreError::Internal("no checkpoint signing key".into()))?;
        let time = now();
        let tc = self.chain(tenant)?;
        let cp = signer.sign(tenant, tc.chain.last_seq(), &tc.chain.last_hash(), time);
        let tx = self.conn.transaction()?;
        insert_checkpoint(&tx, &cp)?;
        tx.commit()?;
        let tc = self.chain(tenant)?;
        tc.last_cp_seq = cp.seq;
        tc.last_cp_time = cp.time_unix_nano;
        if let Some(hook) = &self.config.on_checkpoint {
            hook(&cp);
        }
        Ok(cp)
    }

    /// Makes the checkpoints the policy asks for (or, with `all`, one for every unsigned tail).
    fn checkpoint_due(&mut self, all: bool) {
        if self.config.signer.is_none() {
            return;
        }
        let time = now();
        let due: Vec<TenantId> = self
            .chains
            .iter()
            .filter(|(_, tc)| {
                let last = tc.chain.last_seq();
                if all {
                    last > tc.last_cp_seq
                } else {
                    self.config
                        .policy
                        .due(tc.last_cp_seq, tc.last_cp_time, last, time)
                }
            })
            .map(|(t, _)| t.clone())
            .collect();
        for tenant in due {
            if let Err(e) = self.sign(&tenant) {
                tracing::error!(tenant = %tenant, error = %e, "audit checkpoint failed");
            }
        }
    }
}

/// Appends one system entry inside `tx` (for erasures and prune markers).
fn append_one(
    chains: &mut HashMap<TenantId, TenantChain>,
    tx: &rusqlite::Transaction<'_>,
    tenant: &TenantId,
    draft: EntryDraft,
) -> Result<ward_audit::Entry> {
    let tc = chains
        .get_mut(tenant)
        .ok_or_else(|| StoreError::Internal("audit chain not loaded".into()))?;
    let t = now().max(tc.last_time);
    let entry = tc.chain.append(draft, t);
    tc.last_time = t;
    insert_entry(tx, &entry)?;
    Ok(entry)
}

/// Turns an API draft into a chain draft, sealing what identifies a person.
fn seal_draft(
    subjects: &mut Subjects,
    tx: &rusqlite::Transaction<'_>,
    tenant: &TenantId,
    draft: &AuditDraft,
    personal: &[String],
    now: i64,
) -> Result<EntryDraft> {
    let on_behalf_of = match &draft.on_behalf_of {
        Some(user) => Some(seal_for(
            subjects,
            tx,
            tenant,
            &user_subject(user),
            user,
            now,
        )?),
        None => None,
    };
    let mut details = draft.details.clone();
    seal_details(
        subjects,
        tx,
        tenant,
        &mut details,
        personal,
        draft.on_behalf_of.as_deref(),
        now,
    )?;
    Ok(EntryDraft {
        kind: if draft.system {
            Kind::System
        } else {
            Kind::Agent
        },
        actor: Actor {
            agent: draft.agent.clone(),
            on_behalf_of,
        },
        action: draft.action.clone(),
        resource: Field::Plain(draft.resource.clone()),
        outcome: draft.outcome,
        trace_id: draft.trace_id.clone(),
        details: Details::from_map(&details),
    })
}
