//! The compliance report: what the trail holds over a period, whether it is intact, how it
//! is signed, retained and erased. JSON (serde) and Markdown ([`AuditReport::to_markdown`]).

use std::fmt::Write as _;

use rusqlite::params;
use serde::Serialize;
use ward_audit::{InconsistencyKind, PublicKey, TenantId, Verdict};

use super::read::{AuditReader, TrailStats};
use super::{Erasure, PruneRun};
use crate::error::Result;

/// Groups listed per breakdown.
const MAX_GROUPS: usize = 50;

/// Entries of one group (actor, action or outcome).
#[derive(Debug, Clone, Serialize)]
pub struct Count {
    /// The agent, action or outcome.
    pub name: String,
    /// Entries in the period.
    pub entries: u64,
}

/// What retention is configured to do and what it did.
#[derive(Debug, Clone, Serialize)]
pub struct RetentionState {
    /// How long entries are kept before they are archived and pruned (e.g. `400d`).
    pub policy: String,
    /// Where archives go.
    pub archive_dir: String,
    /// Runs that removed entries, oldest first.
    pub runs: Vec<PruneRun>,
}

/// A compliance summary of one tenant's trail over `[from, to)`.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// The tenant.
    pub tenant: String,
    /// Start of the period (Unix nanoseconds, inclusive).
    pub from_unix_nano: i64,
    /// End of the period (exclusive).
    pub to_unix_nano: i64,
    /// When the report was made.
    pub generated_unix_nano: i64,
    /// Entries appended in the period.
    pub entries: u64,
    /// Entries per agent, largest first (at most 50).
    pub by_actor: Vec<Count>,
    /// Entries per action.
    pub by_action: Vec<Count>,
    /// Entries per outcome.
    pub by_outcome: Vec<Count>,
    /// Verification of the whole stored trail (not only the period).
    pub integrity: Verdict,
    /// The whole trail at a glance.
    pub trail: TrailStats,
    /// Checkpoints made in the period.
    pub checkpoints_in_period: u64,
    /// Ids of the keys trusted for checkpoint signatures.
    pub signing_key_ids: Vec<String>,
    /// Retention policy and runs.
    pub retention: RetentionState,
    /// Erasures in the period.
    pub erasures: Vec<Erasure>,
}

fn counts(v: Vec<(String, u64)>) -> Vec<Count> {
    v.into_iter()
        .map(|(name, entries)| Count { name, entries })
        .collect()
}

impl AuditReport {
    /// Builds the report (verifies the whole trail on the way).
    pub fn build(
        reader: &AuditReader,
        tenant: &TenantId,
        from: i64,
        to: i64,
        keys: &[PublicKey],
        policy: String,
        archive_dir: String,
    ) -> Result<AuditReport> {
        let entries: i64 = reader.conn().query_row(
        "SELECT count(*) FROM audit_entries WHERE tenant = ?1 AND time_ns >= ?2 AND time_ns < ?3",
        params![tenant.as_str(), from, to],
        |r| r.get(0),
    )?;
        let checkpoints: i64 = reader.conn().query_row(
        "SELECT count(*) FROM audit_checkpoints WHERE tenant = ?1 AND time_ns >= ?2 AND time_ns < ?3",
        params![tenant.as_str(), from, to],
        |r| r.get(0),
    )?;
        Ok(AuditReport {
            tenant: tenant.as_str().to_owned(),
            from_unix_nano: from,
            to_unix_nano: to,
            generated_unix_nano: ward_model::time::now_unix_nanos(),
            entries: entries as u64,
            by_actor: counts(reader.counts_by(tenant, "agent", from, to, MAX_GROUPS)?),
            by_action: counts(reader.counts_by(tenant, "action", from, to, MAX_GROUPS)?),
            by_outcome: counts(reader.counts_by(tenant, "outcome", from, to, MAX_GROUPS)?),
            integrity: reader.verify(tenant, keys, |_| {})?,
            trail: reader.stats(tenant)?,
            checkpoints_in_period: checkpoints as u64,
            signing_key_ids: keys.iter().map(PublicKey::key_id).collect(),
            retention: RetentionState {
                policy,
                archive_dir,
                runs: reader.prunes(tenant)?,
            },
            erasures: reader.erasures(tenant, from, to)?,
        })
    }
}

fn time(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns)
        .format("%Y-%m-%d %H:%M:%SZ")
        .to_string()
}

fn table(out: &mut String, title: &str, rows: &[Count]) {
    let _ = writeln!(out, "\n## {title}\n");
    if rows.is_empty() {
        out.push_str("None in this period.\n");
        return;
    }
    out.push_str("| | entries |\n|---|---:|\n");
    for r in rows {
        let _ = writeln!(out, "| {} | {} |", r.name.replace('|', "\\|"), r.entries);
    }
}

/// One sentence on the integrity verdict.
pub fn integrity_line(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Intact {
            last_seq,
            last_hash,
            last_checkpoint,
            entries,
            ..
        } => {
            let signed = match last_checkpoint {
                Some(cp) => format!(
                    "signed checkpoint at seq {} ({}, key {})",
                    cp.seq,
                    time(cp.time_unix_nano),
                    cp.key_id
                ),
                None => "no signed checkpoint yet".to_owned(),
            };
            format!(
                "intact: {entries} entries up to seq {last_seq}, hash {}, {signed}",
                hex::encode(last_hash)
            )
        }
        Verdict::Broken(i) => {
            let kind = match i.kind {
                InconsistencyKind::Changed => "changed",
                InconsistencyKind::Missing => "missing",
                InconsistencyKind::Reordered => "reordered",
                InconsistencyKind::Inserted => "inserted",
                InconsistencyKind::BadSignature => "bad signature",
                InconsistencyKind::TruncatedTail => "truncated tail",
            };
            format!("BROKEN: {kind} at seq {}: {}", i.seq, i.detail)
        }
    }
}

impl AuditReport {
    /// The report as a Markdown document.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Audit report: tenant `{}`\n\nPeriod: {} to {} (generated {}).\n",
            self.tenant,
            time(self.from_unix_nano),
            time(self.to_unix_nano),
            time(self.generated_unix_nano)
        );
        let _ = writeln!(out, "## Integrity\n\n{}\n", integrity_line(&self.integrity));
        let _ = writeln!(
            out,
            "Trail: {} entries stored (seq {} to {}); {} checkpoints in all, {} in this period; signing keys: {}.",
            self.trail.entries,
            self.trail.first_seq,
            self.trail.last_seq,
            self.trail.checkpoints,
            self.checkpoints_in_period,
            if self.signing_key_ids.is_empty() {
                "none".to_owned()
            } else {
                self.signing_key_ids.join(", ")
            }
        );
        let _ = writeln!(
            out,
            "\n## Activity\n\n{} entries in this period.",
            self.entries
        );
        table(&mut out, "By actor", &self.by_actor);
        table(&mut out, "By action", &self.by_action);
        table(&mut out, "By outcome", &self.by_outcome);
        let _ = writeln!(
            out,
            "\n## Retention\n\nEntries are kept for {}, then archived to `{}` and pruned.",
            self.retention.policy, self.retention.archive_dir
        );
        if let Some(oldest) = self.trail.oldest_unix_nano {
            let _ = writeln!(out, "Oldest stored entry: {}.", time(oldest));
        }
        if self.retention.runs.is_empty() {
            out.push_str("No entries have been pruned.\n");
        } else {
            out.push_str("\n| run | seqs | entries | archive |\n|---|---|---:|---|\n");
            for r in &self.retention.runs {
                let _ = writeln!(
                    out,
                    "| {} | {}–{} | {} | `{}` |",
                    time(r.time_unix_nano),
                    r.from_seq,
                    r.through_seq,
                    r.entries,
                    r.archive
                );
            }
        }
        let _ = writeln!(out, "\n## Erasures\n");
        if self.erasures.is_empty() {
            out.push_str("None in this period.\n");
        } else {
            out.push_str(
                "| subject handle | entries made unreadable | recorded at seq |\n|---|---:|---:|\n",
            );
            for e in &self.erasures {
                let _ = writeln!(out, "| `{}` | {} | {} |", e.handle, e.entries, e.seq);
            }
        }
        out
    }
}
