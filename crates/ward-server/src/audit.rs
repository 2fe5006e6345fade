//! The audit trail service: opens the durable store with Ward's checkpoint signing key,
//! pushes checkpoints off the machine (`publish`), turns Ward's own admin and security
//! actions from the security event bus into `system` entries, and runs retention.

pub mod config;
mod publish;

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::sync::watch;
use ward_audit::{CheckpointSigner, Outcome, PublicKey};
use ward_model::{SecurityEvent, TenantId};
use ward_store::StoreError;
use ward_store::audit::{AuditConfig, AuditDraft, AuditStore, PruneRun};

pub use config::{AuditSection, AuditSettings};

use crate::metrics::Metrics;

/// What can go wrong opening the trail.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The signing key file could not be read or created.
    #[error("audit signing key {path}: {message}")]
    SigningKey {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        message: String,
    },
    /// The store could not be opened.
    #[error("audit trail: {0}")]
    Store(#[from] StoreError),
}

/// Handle to the audit trail. Cheap to clone.
#[derive(Clone)]
pub struct AuditTrail {
    store: AuditStore,
    settings: Arc<AuditSettings>,
    signing_key: PublicKey,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for AuditTrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditTrail")
            .field("key_id", &self.signing_key.key_id())
            .finish_non_exhaustive()
    }
}

/// Reads the PKCS#8 signing key at `path`, creating it (0600) on first use.
pub fn load_or_create_signing_key(path: &Path) -> Result<CheckpointSigner, AuditError> {
    let fail = |message: String| AuditError::SigningKey {
        path: path.to_owned(),
        message,
    };
    let doc = match std::fs::read(path) {
        Ok(doc) => doc,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let doc = CheckpointSigner::generate_pkcs8().map_err(|e| fail(e.to_string()))?;
            crate::files::create_private(path, &doc).map_err(|e| fail(e.to_string()))?;
            doc
        }
        Err(e) => return Err(fail(e.to_string())),
    };
    CheckpointSigner::from_pkcs8(&doc)
        .map_err(|e| fail(format!("{e} (expected an Ed25519 PKCS#8 document)")))
}

impl AuditTrail {
    /// Opens `audit.db` in `data_dir`, signing with the configured key. Must be called inside a
    /// Tokio runtime (checkpoints are pushed by a task).
    pub fn open(
        data_dir: &Path,
        settings: AuditSettings,
        metrics: Arc<Metrics>,
    ) -> Result<AuditTrail, AuditError> {
        let signer = Arc::new(load_or_create_signing_key(&settings.signing_key_path)?);
        let signing_key = signer.public_key().clone();
        let mut config = AuditConfig::new(data_dir);
        config.signer = Some(signer);
        config.policy = settings.policy.clone();
        config.max_queued_requests = settings.max_queued_requests;
        config.on_checkpoint = publish::start(&settings, metrics.clone());
        let store = AuditStore::open(config)?;
        Ok(AuditTrail {
            store,
            settings: Arc::new(settings),
            signing_key,
            metrics,
        })
    }

    /// The durable store.
    pub fn store(&self) -> &AuditStore {
        &self.store
    }

    /// The validated `[audit]` section.
    pub fn settings(&self) -> &AuditSettings {
        &self.settings
    }

    /// The key signing new checkpoints.
    pub fn signing_key(&self) -> &PublicKey {
        &self.signing_key
    }

    /// Every key whose checkpoints verify: the current one, then the configured older ones.
    pub fn trusted_keys(&self) -> Vec<PublicKey> {
        std::iter::once(self.signing_key.clone())
            .chain(self.settings.trusted_public_keys.iter().cloned())
            .collect()
    }

    /// Appends `drafts` to `tenant`'s chain and waits until they are durable.
    pub async fn append(
        &self,
        tenant: TenantId,
        drafts: Vec<AuditDraft>,
    ) -> Result<Vec<ward_store::audit::Appended>, StoreError> {
        let count = drafts.len() as u64;
        let personal = self.settings.personal_of(&tenant);
        let appended = self.store.append(tenant, drafts, personal)?.await?;
        self.metrics.audit_entries.inc_by(count);
        Ok(appended)
    }

    /// Records one of Ward's own actions carried by a security event, if it is one the trail
    /// keeps (key lifecycle, configuration changes, brute-force blocks). Never blocks; a
    /// failure is logged and counted.
    pub fn record(&self, event: &SecurityEvent) {
        let Some(draft) = system_draft(event) else {
            return;
        };
        let trail = self.clone();
        let tenant = event.tenant.clone();
        let kind = event.kind.clone();
        match self
            .store
            .append(tenant, vec![draft], Arc::from(Vec::new()))
        {
            // The entry is written whether or not anyone waits; waiting only tells the outcome.
            Ok(done) => match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(async move {
                        match done.await {
                            Ok(_) => {
                                trail.metrics.audit_entries.inc();
                            }
                            Err(e) => trail.lost(&kind, &e),
                        }
                    });
                }
                Err(_) => {
                    trail.metrics.audit_entries.inc();
                }
            },
            Err(e) => self.lost(&kind, &e),
        }
    }

    fn lost(&self, kind: &str, e: &StoreError) {
        self.metrics.audit_entries_lost.inc();
        tracing::error!(kind, error = %e, "could not record an action in the audit trail");
    }

    /// One retention pass over every tenant: archives and prunes what is older than its
    /// retention. Returns the runs that removed something.
    pub async fn run_retention(&self) -> Vec<(TenantId, PruneRun)> {
        let tenants = match self.store.read(|r| r.tenants()).await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "audit retention: cannot list tenants");
                return Vec::new();
            }
        };
        let now = ward_model::time::now_unix_nanos();
        let mut runs = Vec::new();
        for tenant in tenants {
            let cutoff = now.saturating_sub(self.settings.retention_of(&tenant));
            let result = self
                .store
                .prune(
                    tenant.clone(),
                    cutoff,
                    self.settings.archive_dir.clone(),
                    "ward/retention".into(),
                )
                .await;
            match result {
                Ok(Some(run)) => {
                    tracing::info!(
                        tenant = %tenant,
                        entries = run.entries,
                        through_seq = run.through_seq,
                        archive = %run.archive,
                        "audit retention archived and pruned entries"
                    );
                    self.metrics.audit_pruned_entries.inc_by(run.entries);
                    runs.push((tenant, run));
                }
                Ok(None) => {}
                Err(e) => tracing::error!(tenant = %tenant, error = %e, "audit retention failed"),
            }
        }
        runs
    }

    /// Runs retention every `audit.retention_interval` until shutdown (the first pass one
    /// interval after start, so a restart loop cannot hammer the disk).
    pub fn spawn_retention(&self, mut shutdown: watch::Receiver<bool>) {
        let trail = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(trail.settings.retention_interval) => {}
                    _ = shutdown.wait_for(|s| *s) => return,
                }
                trail.run_retention().await;
            }
        });
    }

    /// Finishes queued appends and signs every unsigned tail.
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        self.store.shutdown().await
    }
}

/// The `system` entry for a security event, for the kinds the trail keeps.
fn system_draft(event: &SecurityEvent) -> Option<AuditDraft> {
    let (action, outcome) = match event.kind.as_str() {
        SecurityEvent::KEY_CREATED => ("key.create", Outcome::Success),
        SecurityEvent::KEY_ROTATED => ("key.rotate", Outcome::Success),
        SecurityEvent::KEY_REVOKED => ("key.revoke", Outcome::Success),
        SecurityEvent::CONFIG_CHANGED => ("config.change", Outcome::Success),
        SecurityEvent::CONFIG_REJECTED => ("config.reject", Outcome::Failure),
        SecurityEvent::BRUTE_FORCE_BLOCKED => ("auth.block", Outcome::Denied),
        _ => return None,
    };
    let mut details: Map<String, Value> = event.details.clone();
    let by = details
        .remove("by")
        .and_then(|v| v.as_str().map(str::to_owned));
    let resource = match details.get("key_id").and_then(Value::as_str) {
        Some(id) => format!("key/{id}"),
        None if action.starts_with("config") => "config".to_owned(),
        None => details
            .get("source")
            .and_then(Value::as_str)
            .map(|s| format!("source/{s}"))
            .unwrap_or_else(|| "ward".to_owned()),
    };
    details.insert("message".into(), Value::String(event.message.clone()));
    details.insert("severity".into(), Value::from(event.severity.as_str()));
    Some(AuditDraft {
        system: true,
        agent: by.unwrap_or_else(|| "ward".to_owned()),
        on_behalf_of: None,
        action: action.to_owned(),
        resource,
        outcome,
        trace_id: None,
        details,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use axum::Router;
    use axum::routing::post;
    use ward_audit::Checkpoint;

    use super::*;

    fn draft(i: usize) -> AuditDraft {
        AuditDraft {
            system: false,
            agent: "bot".into(),
            on_behalf_of: None,
            action: "tool.call".into(),
            resource: format!("r/{i}"),
            outcome: Outcome::Success,
            trace_id: None,
            details: Map::new(),
        }
    }

    /// Checkpoints reach the directory and the webhook, signed by the published key; a
    /// webhook that fails at first gets them on a retry.
    #[tokio::test]
    async fn checkpoints_are_pushed_off_the_machine() {
        let received: Arc<Mutex<Vec<Checkpoint>>> = Arc::default();
        let failures = Arc::new(std::sync::atomic::AtomicU32::new(1));
        let app = {
            let received = received.clone();
            let failures = failures.clone();
            Router::new().route(
                "/checkpoints",
                post(move |body: axum::Json<Checkpoint>| {
                    let received = received.clone();
                    let failures = failures.clone();
                    async move {
                        if failures
                            .fetch_update(
                                std::sync::atomic::Ordering::SeqCst,
                                std::sync::atomic::Ordering::SeqCst,
                                |n| n.checked_sub(1),
                            )
                            .is_ok()
                        {
                            return http::StatusCode::SERVICE_UNAVAILABLE;
                        }
                        received.lock().unwrap().push(body.0);
                        http::StatusCode::NO_CONTENT
                    }
                }),
            )
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });

        let dir = tempfile::tempdir().unwrap();
        let witness = dir.path().join("witness");
        let section = AuditSection {
            checkpoint_every: 5,
            checkpoint_interval: "0s".into(),
            checkpoint_dir: witness.display().to_string(),
            checkpoint_webhook: format!("http://{addr}/checkpoints"),
            ..Default::default()
        };
        let settings = section.settings(dir.path()).unwrap();
        let trail = AuditTrail::open(dir.path(), settings, Arc::new(Metrics::new())).unwrap();
        let tenant = TenantId::new("acme").unwrap();
        for _ in 0..2 {
            trail
                .append(tenant.clone(), (0..5).map(draft).collect())
                .await
                .unwrap();
        }
        trail.shutdown().await.unwrap();

        let key = trail.signing_key().clone();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while received.lock().unwrap().len() < 2 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let pushed = received.lock().unwrap().clone();
        assert_eq!(pushed.iter().map(|c| c.seq).collect::<Vec<_>>(), [5, 10]);
        for cp in &pushed {
            cp.verify(&key).unwrap();
        }
        for seq in [5u64, 10] {
            let path = witness.join("acme").join(format!("{seq:020}.json"));
            let cp: Checkpoint = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            cp.verify(&key).unwrap();
            assert_eq!(cp.seq, seq);
        }
        assert_eq!(failures.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[test]
    fn system_entries_name_the_action_and_never_the_secret() {
        let event = SecurityEvent::now(
            TenantId::new("acme").unwrap(),
            SecurityEvent::KEY_CREATED,
            ward_model::SecuritySeverity::Medium,
            "key created",
        )
        .with("key_id", "abc123abc123")
        .with("by", "key:fff000fff000");
        let d = system_draft(&event).unwrap();
        assert!(d.system);
        assert_eq!(
            (d.agent.as_str(), d.action.as_str(), d.resource.as_str()),
            ("key:fff000fff000", "key.create", "key/abc123abc123")
        );
        let refused = SecurityEvent::now(
            TenantId::new("acme").unwrap(),
            SecurityEvent::AUTHENTICATION_FAILED,
            ward_model::SecuritySeverity::Low,
            "bad key",
        );
        assert!(system_draft(&refused).is_none());
    }
}
