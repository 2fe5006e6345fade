//! Builds an audit trail of N entries through [`AuditStore`] (the real writer: group commits,
//! sealed fields, signed checkpoints every 1,000 entries) and measures local verification.
//!
//! ```text
//! cargo run --release -p ward-store --example audit_trail -- [ENTRIES] [DATA_DIR] [--verify-only]
//! ```
//!
//! The signing key is written to `DATA_DIR/audit-signing.key` (PKCS#8, as `ward serve` keeps
//! it), so `ward audit verify --data-dir DATA_DIR` checks the same trail. With
//! `--verify-only` an existing directory is only verified.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, json};
use ward_audit::{CheckpointPolicy, CheckpointSigner, Outcome, TenantId, Verdict};
use ward_store::audit::{AuditConfig, AuditDraft, AuditReader, AuditStore, integrity_line};

/// Entries per append request (as a busy client batching would send them).
const BATCH: usize = 1_000;

fn draft(i: usize) -> AuditDraft {
    let mut details = Map::new();
    details.insert("tool".into(), json!("crm.lookup"));
    details.insert("rows".into(), json!(i % 97));
    AuditDraft {
        system: false,
        agent: format!("support-bot-{}", i % 4),
        on_behalf_of: i.is_multiple_of(3).then(|| format!("u{}", i % 1000)),
        action: "tool.call".into(),
        resource: format!("crm/customer/{i}"),
        outcome: if i.is_multiple_of(10) {
            Outcome::Failure
        } else {
            Outcome::Success
        },
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        details,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verify_only = args.iter().any(|a| a == "--verify-only");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let n: usize = positional
        .first()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let dir = positional
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("audit-trail-data"));
    let tenant = TenantId::new("bench")?;
    let key_path = dir.join("audit-signing.key");

    if !verify_only {
        std::fs::create_dir_all(&dir)?;
        let pkcs8 = CheckpointSigner::generate_pkcs8()?;
        std::fs::write(&key_path, &pkcs8)?;
        let mut config = AuditConfig::new(&dir);
        config.signer = Some(Arc::new(CheckpointSigner::from_pkcs8(&pkcs8)?));
        config.policy = CheckpointPolicy {
            every_entries: 1_000,
            every_nanos: 0,
        };
        let store = AuditStore::open(config)?;
        let personal: Arc<[String]> = Arc::from(Vec::new());
        let started = Instant::now();
        let mut pending = Vec::new();
        for start in (0..n).step_by(BATCH) {
            let drafts = (start..n.min(start + BATCH)).map(draft).collect();
            pending.push(store.append(tenant.clone(), drafts, personal.clone())?);
            if pending.len() >= 8 {
                for p in pending.drain(..) {
                    p.await?;
                }
            }
        }
        for p in pending {
            p.await?;
        }
        store.shutdown().await?;
        println!(
            "appended {n} entries in {:.1} s ({:.0} entries/s)",
            started.elapsed().as_secs_f64(),
            n as f64 / started.elapsed().as_secs_f64()
        );
    }

    let key = CheckpointSigner::from_pkcs8(&std::fs::read(&key_path)?)?
        .public_key()
        .clone();
    let reader = AuditReader::open(&dir)?;
    for run in 0..3 {
        let started = Instant::now();
        let verdict = reader.verify(&tenant, std::slice::from_ref(&key), |_| {})?;
        let secs = started.elapsed().as_secs_f64();
        let entries = match &verdict {
            Verdict::Intact { entries, .. } => *entries,
            Verdict::Broken(_) => 0,
        };
        println!(
            "verify run {run}: {entries} entries in {secs:.2} s: {:.0} entries/s; {}",
            entries as f64 / secs,
            integrity_line(&verdict)
        );
    }
    Ok(())
}
