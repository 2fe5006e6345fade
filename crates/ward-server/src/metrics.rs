//! Ward's own metrics, exposed on `/metrics` in OpenMetrics text format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of ingest counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IngestLabels {
    /// Tenant the records belong to.
    pub tenant: String,
    /// `logs`, `traces` or `metrics`.
    pub signal: &'static str,
    /// `otlp_http`, `otlp_grpc` or `json`.
    pub protocol: &'static str,
}

/// Labels of rejection counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabels {
    /// `logs`, `traces` or `metrics`.
    pub signal: &'static str,
    /// Why: `invalid_timestamp`, `bad_protobuf`, `too_large`, `overloaded` …
    pub reason: &'static str,
}

/// Labels of the redaction counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RedactionLabels {
    /// Tenant the records belong to.
    pub tenant: String,
    /// What was redacted (`email`, `aws_access_key_id`, a custom rule's name …).
    #[prometheus(flatten)]
    pub kind: KindLabel,
}

/// The `type` label (a Rust keyword, hence the wrapper).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct KindLabel(pub String);

impl EncodeLabelSet for KindLabel {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        prometheus_client::encoding::EncodeLabel::encode(
            &("type", self.0.as_str()),
            encoder.encode_label(),
        )
    }
}

/// Labels of the security event counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SecurityLabels {
    /// Tenant concerned.
    pub tenant: String,
    /// Event kind, e.g. `credential_in_telemetry`.
    #[prometheus(flatten)]
    pub kind: KindLabel,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: &'static str,
}

/// Labels of the authentication failure counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AuthFailureLabels {
    /// `missing`, `malformed`, `invalid_key`, `expired_key`, `invalid_token` …
    pub reason: &'static str,
}

/// Labels of the rate-limit counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RateLimitLabels {
    /// Route class: `ingest`, `query`, `admin` or `auth`.
    pub class: &'static str,
    /// What was limited: `key` or `ip`.
    pub subject: &'static str,
}

/// The `result` label (`ok` or `error`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `ok` or `error`.
    pub result: &'static str,
}

/// The `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why, e.g. `protocol`, `timeout`, `io`.
    pub reason: &'static str,
}

/// Every metric Ward keeps about itself.
pub struct Metrics {
    registry: Registry,
    /// Metrics named by a convention rather than by Ward (no `ward_` prefix).
    standard: Registry,
    /// The OpenTelemetry GenAI client metrics, derived from spans.
    pub genai: crate::genai::GenAiMetrics,
    /// Records accepted and committed.
    pub ingest_records: Family<IngestLabels, Counter>,
    /// Request body bytes received, as sent (compressed).
    pub ingest_bytes: Family<IngestLabels, Counter>,
    /// Records or requests refused, by reason.
    pub ingest_rejected: Family<RejectLabels, Counter>,
    /// Time to commit one group of batches.
    pub commit_seconds: Histogram,
    /// Records per commit.
    pub commit_records: Histogram,
    /// Failed commits.
    pub commit_failures: Counter,
    /// Records waiting for the writer.
    pub queue_depth: Gauge,
    /// Size of the store's files.
    pub store_size: Gauge,
    /// Resident memory of the Ward process.
    pub resident_memory: Gauge,
    /// Live-tail subscribers.
    pub tail_subscribers: Gauge,
    /// Values redacted before storage, by tenant and type.
    pub redactions: Family<RedactionLabels, Counter>,
    /// Security events raised, by tenant, kind and severity.
    pub security_events: Family<SecurityLabels, Counter>,
    /// Security events that could not be stored (queue full or store error).
    pub security_events_lost: Counter,
    /// Audit entries appended (by agents and by Ward itself).
    pub audit_entries: Counter,
    /// Ward's own actions that could not be recorded in the audit trail.
    pub audit_entries_lost: Counter,
    /// Audit entries archived and pruned by retention.
    pub audit_pruned_entries: Counter,
    /// Checkpoints that could not be pushed to `audit.checkpoint_dir` or the webhook.
    pub audit_checkpoint_push_failures: Counter,
    /// Security events not raised because their source had raised too many of that kind.
    pub security_events_throttled: Counter,
    /// Requests refused for their credentials, by reason.
    pub auth_failures: Family<AuthFailureLabels, Counter>,
    /// Requests refused by a rate limit, by route class and subject kind.
    pub rate_limited: Family<RateLimitLabels, Counter>,
    /// Source addresses currently blocked after failed authentications.
    pub auth_blocked_sources: Gauge,
    /// TLS certificate reloads, by result.
    pub tls_reloads: Family<ResultLabels, Counter>,
    /// When the served certificate expires, in Unix seconds (0 without TLS).
    pub tls_certificate_expiry: Gauge,
    /// Failed TLS handshakes, by reason.
    pub tls_handshake_failures: Family<ReasonLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("ward");
        let mut standard = Registry::default();
        let genai = crate::genai::GenAiMetrics::register(&mut standard, &mut registry);
        let ingest_records = Family::<IngestLabels, Counter>::default();
        registry.register(
            "ingest_records",
            "Telemetry records accepted and durably committed",
            ingest_records.clone(),
        );
        let ingest_bytes = Family::<IngestLabels, Counter>::default();
        registry.register(
            "ingest_bytes",
            "Request body bytes received by ingest endpoints, as sent",
            ingest_bytes.clone(),
        );
        let ingest_rejected = Family::<RejectLabels, Counter>::default();
        registry.register(
            "ingest_rejected",
            "Records (or whole requests, for request-level reasons) refused at ingest, by reason",
            ingest_rejected.clone(),
        );
        let commit_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        registry.register(
            "store_commit_seconds",
            "Time to write and commit one group of batches",
            commit_seconds.clone(),
        );
        let commit_records = Histogram::new(exponential_buckets(1.0, 4.0, 10));
        registry.register(
            "store_commit_records",
            "Records written per commit (group commit size)",
            commit_records.clone(),
        );
        let commit_failures = Counter::default();
        registry.register(
            "store_commit_failures",
            "Commits that failed",
            commit_failures.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "ingest_queue_depth",
            "Records accepted by ingest and waiting for the writer",
            queue_depth.clone(),
        );
        let store_size = Gauge::default();
        registry.register(
            "store_size_bytes",
            "Size of the embedded store's files",
            store_size.clone(),
        );
        let resident_memory = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the Ward process",
            resident_memory.clone(),
        );
        let tail_subscribers = Gauge::default();
        registry.register(
            "tail_subscribers",
            "Open live-tail streams",
            tail_subscribers.clone(),
        );
        let redactions = Family::<RedactionLabels, Counter>::default();
        registry.register(
            "redactions",
            "Values redacted by the scrubber before storage, by tenant and type",
            redactions.clone(),
        );
        let security_events = Family::<SecurityLabels, Counter>::default();
        registry.register(
            "security_events",
            "Security events raised, by tenant, kind and severity",
            security_events.clone(),
        );
        let security_events_lost = Counter::default();
        registry.register(
            "security_events_lost",
            "Security events that could not be stored (queue full or store failure)",
            security_events_lost.clone(),
        );
        let audit_entries = Counter::default();
        registry.register(
            "audit_entries",
            "Audit entries appended, by agents and by Ward itself",
            audit_entries.clone(),
        );
        let audit_entries_lost = Counter::default();
        registry.register(
            "audit_entries_lost",
            "Ward's own actions that could not be recorded in the audit trail",
            audit_entries_lost.clone(),
        );
        let audit_pruned_entries = Counter::default();
        registry.register(
            "audit_pruned_entries",
            "Audit entries archived and pruned by retention",
            audit_pruned_entries.clone(),
        );
        let audit_checkpoint_push_failures = Counter::default();
        registry.register(
            "audit_checkpoint_push_failures",
            "Audit checkpoints that could not be pushed off the machine",
            audit_checkpoint_push_failures.clone(),
        );
        let security_events_throttled = Counter::default();
        registry.register(
            "security_events_throttled",
            "Security events counted but not raised because their source raised too many",
            security_events_throttled.clone(),
        );
        let auth_failures = Family::<AuthFailureLabels, Counter>::default();
        registry.register(
            "auth_failures",
            "Requests refused for their credentials, by reason",
            auth_failures.clone(),
        );
        let rate_limited = Family::<RateLimitLabels, Counter>::default();
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit (429), by route class and subject kind",
            rate_limited.clone(),
        );
        let auth_blocked_sources = Gauge::default();
        registry.register(
            "auth_blocked_sources",
            "Source addresses currently blocked after repeated failed authentications",
            auth_blocked_sources.clone(),
        );
        let tls_reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "tls_reloads",
            "TLS certificate reloads, by result (an error keeps the previous certificate)",
            tls_reloads.clone(),
        );
        let tls_certificate_expiry = Gauge::default();
        registry.register(
            "tls_certificate_expiry_seconds",
            "Expiry (notAfter) of the served TLS certificate, in Unix seconds",
            tls_certificate_expiry.clone(),
        );
        let tls_handshake_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "tls_handshake_failures",
            "Failed TLS handshakes: protocol (a TLS error), timeout, io (peer went away)",
            tls_handshake_failures.clone(),
        );
        Metrics {
            registry,
            standard,
            genai,
            security_events_throttled,
            auth_failures,
            tls_reloads,
            tls_certificate_expiry,
            tls_handshake_failures,
            ingest_records,
            ingest_bytes,
            ingest_rejected,
            commit_seconds,
            commit_records,
            commit_failures,
            queue_depth,
            store_size,
            resident_memory,
            tail_subscribers,
            redactions,
            security_events,
            security_events_lost,
            audit_entries,
            audit_entries_lost,
            audit_pruned_entries,
            audit_checkpoint_push_failures,
            rate_limited,
            auth_blocked_sources,
        }
    }

    /// Counts one request of `subject` refused by the limit of `class`.
    pub fn count_rate_limited(
        &self,
        class: crate::ratelimit::RouteClass,
        subject: &crate::ratelimit::LimitSubject,
    ) {
        self.rate_limited
            .get_or_create(&RateLimitLabels {
                class: class.as_str(),
                subject: subject.kind().as_str(),
            })
            .inc();
    }

    /// Sets the number of blocked sources (from
    /// [`BruteForceGuard::blocked_sources`](crate::ratelimit::BruteForceGuard::blocked_sources)).
    pub fn set_auth_blocked_sources(&self, n: usize) {
        self.auth_blocked_sources
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Counts `n` refused records of `signal` for `reason`.
    pub fn reject(&self, signal: &'static str, reason: &'static str, n: u64) {
        if n > 0 {
            self.ingest_rejected
                .get_or_create(&RejectLabels { signal, reason })
                .inc_by(n);
        }
    }

    /// Records one commit attempt of the store's writer.
    pub fn observe_commit(&self, stats: ward_store::CommitStats) {
        if stats.ok {
            self.commit_seconds.observe(stats.seconds);
            self.commit_records.observe(stats.records as f64);
        } else {
            self.commit_failures.inc();
        }
    }

    /// Renders the OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let encoded = encode_registry(&mut out, &self.registry)
            .and_then(|()| encode_registry(&mut out, &self.standard))
            .and_then(|()| encode_eof(&mut out));
        if encoded.is_err() {
            out.clear();
        }
        out
    }
}

/// Resident set size of this process in bytes (Linux), or 0 when unknown.
pub fn resident_memory_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_openmetrics_with_the_documented_names() {
        let m = Metrics::new();
        m.ingest_records
            .get_or_create(&IngestLabels {
                tenant: "default".into(),
                signal: "logs",
                protocol: "json",
            })
            .inc_by(3);
        m.reject("logs", "invalid_timestamp", 1);
        let text = m.encode();
        assert!(
            text.contains(
                "ward_ingest_records_total{tenant=\"default\",signal=\"logs\",protocol=\"json\"} 3"
            ),
            "{text}"
        );
        assert!(text.contains(
            "ward_ingest_rejected_total{signal=\"logs\",reason=\"invalid_timestamp\"} 1"
        ));
        assert!(text.contains("ward_store_commit_seconds_bucket"));
        m.redactions
            .get_or_create(&RedactionLabels {
                tenant: "default".into(),
                kind: KindLabel("email".into()),
            })
            .inc();
        let text = m.encode();
        assert!(
            text.contains("ward_redactions_total{tenant=\"default\",type=\"email\"} 1"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("# EOF"));
        m.count_rate_limited(
            crate::ratelimit::RouteClass::Query,
            &crate::ratelimit::LimitSubject::Key("k".into()),
        );
        m.set_auth_blocked_sources(2);
        let text = m.encode();
        assert!(
            text.contains("ward_rate_limited_total{class=\"query\",subject=\"key\"} 1"),
            "{text}"
        );
        assert!(text.contains("ward_auth_blocked_sources 2"), "{text}");
    }
}
