//! The pipeline every decoded batch goes through, whatever protocol brought it, in order:
//! scrub (personal data and secrets removed by the tenant's policy, [`crate::scrub`]), store
//! (durably, the caller waits for the commit), then count it, raise a security event for every
//! credential the scrubber found, and hand the batch to live-tail subscribers. Nothing that was
//! scrubbed away ever reaches the store, the tail or a forwarder.

use std::sync::Arc;

use tokio::sync::broadcast;
use ward_model::{Batch, LogRecord, MetricPoint, SecurityEvent, SecuritySeverity, Span, TenantId};
use ward_store::{Store, StoreError};

use crate::genai::ContentPolicies;
use crate::metrics::{IngestLabels, KindLabel, Metrics, RedactionLabels};
use crate::scrub::{ScrubReport, Scrubber};
use crate::security::SecurityEvents;

/// Committed batches kept for slow live-tail readers before they are told they lagged.
const TAIL_BUFFER_BATCHES: usize = 256;

/// Why a batch was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The write queue is full: retry after a while (429).
    #[error("ingest queue is full ({0}); retry later")]
    Overloaded(String),
    /// Ward is stopping (503).
    #[error("Ward is shutting down")]
    ShuttingDown,
    /// The store failed to commit (503); nothing of the batch was acknowledged.
    #[error("the store could not commit the batch")]
    Store(#[source] StoreError),
}

/// Which kind of telemetry a batch carries, for metrics labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// Log records.
    Logs,
    /// Spans.
    Traces,
    /// Metric points.
    Metrics,
}

impl SignalKind {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Logs => "logs",
            SignalKind::Traces => "traces",
            SignalKind::Metrics => "metrics",
        }
    }
}

/// Records of one signal that can be put into a [`Batch`].
pub trait IntoBatch: Sized {
    /// The signal these records are.
    const SIGNAL: SignalKind;
    /// Moves `records` into `batch`.
    fn put(batch: &mut Batch, records: Vec<Self>);
}

impl IntoBatch for LogRecord {
    const SIGNAL: SignalKind = SignalKind::Logs;
    fn put(batch: &mut Batch, records: Vec<Self>) {
        batch.logs = records;
    }
}

impl IntoBatch for Span {
    const SIGNAL: SignalKind = SignalKind::Traces;
    fn put(batch: &mut Batch, records: Vec<Self>) {
        batch.spans = records;
    }
}

impl IntoBatch for MetricPoint {
    const SIGNAL: SignalKind = SignalKind::Metrics;
    fn put(batch: &mut Batch, records: Vec<Self>) {
        batch.metrics = records;
    }
}

/// The ingest pipeline. Cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    store: Store,
    metrics: Arc<Metrics>,
    scrubber: Scrubber,
    security: SecurityEvents,
    tail: broadcast::Sender<Arc<Batch>>,
    content: ContentPolicies,
}

impl Pipeline {
    /// A pipeline scrubbing with `scrubber`, writing to `store`, raising credential findings on
    /// `security`.
    pub fn new(
        store: Store,
        metrics: Arc<Metrics>,
        scrubber: Scrubber,
        security: SecurityEvents,
    ) -> Pipeline {
        let (tail, _) = broadcast::channel(TAIL_BUFFER_BATCHES);
        Pipeline {
            store,
            metrics,
            scrubber,
            security,
            tail,
            content: ContentPolicies::default(),
        }
    }

    /// Applies `policies` to prompts and completions before scrubbing (default: keep them).
    pub fn with_content(mut self, policies: ContentPolicies) -> Pipeline {
        self.content = policies;
        self
    }

    /// Stores `batch` durably and returns once it is committed; only then may the caller
    /// acknowledge it. `protocol` labels the metrics (`otlp_http`, `otlp_grpc`, `json`).
    pub async fn ingest(
        &self,
        mut batch: Batch,
        signal: SignalKind,
        protocol: &'static str,
    ) -> Result<(), IngestError> {
        if batch.is_empty() {
            return Ok(());
        }
        // Content that is dropped or cut is not scrubbed for nothing.
        let content = self.content.apply(&mut batch);
        let found = self.scrubber.scrub(&mut batch);
        let batch = Arc::new(batch);
        let committed = self.store.try_submit(batch.clone()).map_err(|e| {
            let reason = match e {
                StoreError::Overloaded { .. } => "overloaded",
                StoreError::ShuttingDown => "shutting_down",
                _ => "store_error",
            };
            self.metrics
                .reject(signal.as_str(), reason, batch.len() as u64);
            match e {
                StoreError::Overloaded { .. } => IngestError::Overloaded(e.to_string()),
                StoreError::ShuttingDown => IngestError::ShuttingDown,
                other => IngestError::Store(other),
            }
        })?;
        committed.await.map_err(|e| {
            self.metrics
                .reject(signal.as_str(), "store_error", batch.len() as u64);
            match e {
                StoreError::ShuttingDown => IngestError::ShuttingDown,
                other => IngestError::Store(other),
            }
        })?;
        self.metrics
            .ingest_records
            .get_or_create(&IngestLabels {
                tenant: batch.tenant.to_string(),
                signal: signal.as_str(),
                protocol,
            })
            .inc_by(batch.len() as u64);
        // Counted only once committed, so that a client retrying a refused batch is not
        // counted twice.
        self.report(&batch.tenant, signal, &found);
        self.metrics.genai.count_content(&batch.tenant, content);
        if !batch.spans.is_empty() {
            self.metrics.genai.observe(&batch.tenant, &batch.spans);
        }
        if !batch.logs.is_empty() && self.tail.receiver_count() > 0 {
            // An error only means every subscriber left meanwhile.
            let _ = self.tail.send(batch);
        }
        Ok(())
    }

    /// Counts what the scrubber removed and raises one security event per credential type,
    /// service and location of the batch.
    fn report(&self, tenant: &TenantId, signal: SignalKind, found: &ScrubReport) {
        let now = ward_model::time::now_unix_nanos();
        for (service, report) in found {
            for (kind, count) in report.counts() {
                self.metrics
                    .redactions
                    .get_or_create(&RedactionLabels {
                        tenant: tenant.to_string(),
                        kind: KindLabel(kind.as_str().to_owned()),
                    })
                    .inc_by(count);
            }
            for credential in report.credentials() {
                let location = credential.key.as_deref().unwrap_or("body");
                let mut details = ward_model::Attributes::new();
                details.insert("credential_type".into(), credential.kind.as_str().into());
                details.insert("location".into(), location.into());
                details.insert("signal".into(), signal.as_str().into());
                details.insert("count".into(), credential.count.into());
                details.insert("detector".into(), credential.detector.as_str().into());
                self.security.raise(SecurityEvent {
                    time_unix_nano: now,
                    tenant: tenant.clone(),
                    kind: SecurityEvent::CREDENTIAL_IN_TELEMETRY.into(),
                    severity: SecuritySeverity::High,
                    service: service.clone(),
                    message: format!(
                        "credential of type {} found in {} of service {service:?} at {location:?}; it was redacted before storage, but rotate it",
                        credential.kind.as_str(),
                        signal.as_str()
                    ),
                    details,
                });
            }
        }
    }

    /// Counts request bytes received for `signal` from `tenant`.
    pub fn count_bytes(
        &self,
        tenant: &ward_model::TenantId,
        signal: SignalKind,
        protocol: &'static str,
        bytes: usize,
    ) {
        self.metrics
            .ingest_bytes
            .get_or_create(&IngestLabels {
                tenant: tenant.to_string(),
                signal: signal.as_str(),
                protocol,
            })
            .inc_by(bytes as u64);
    }

    /// Subscribes to committed batches (for the live tail).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Batch>> {
        self.tail.subscribe()
    }
}

/// What happened to a decoded request: how many records were refused and the OTLP
/// partial-success message naming which and why.
#[derive(Debug, Clone, Default)]
pub struct Accepted {
    /// Records stored.
    pub stored: usize,
    /// Records refused by the decoder.
    pub rejected: usize,
    /// Empty when nothing was refused.
    pub message: String,
    /// The refusals themselves.
    pub rejections: Vec<ward_ingest::Rejection>,
}

impl Pipeline {
    /// Counts the decoder's refusals, then ingests what it kept.
    pub async fn accept<T: IntoBatch>(
        &self,
        tenant: ward_model::TenantId,
        converted: ward_ingest::Converted<T>,
        protocol: &'static str,
    ) -> Result<Accepted, IngestError> {
        let message = converted.partial_success_message();
        for rejection in &converted.rejected {
            self.metrics
                .reject(T::SIGNAL.as_str(), rejection.reason.as_str(), 1);
        }
        let stored = converted.records.len();
        let mut batch = Batch::new(tenant);
        T::put(&mut batch, converted.records);
        self.ingest(batch, T::SIGNAL, protocol).await?;
        Ok(Accepted {
            stored,
            rejected: converted.rejected.len(),
            message,
            rejections: converted.rejected,
        })
    }
}
