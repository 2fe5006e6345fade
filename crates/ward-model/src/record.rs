use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Severity, SpanId, TenantId, TraceId};

/// Key/value attributes. Values are JSON: OTLP `AnyValue`s map onto it (bytes become base64
/// strings, non-finite floats become strings). Keys are kept sorted.
pub type Attributes = serde_json::Map<String, Value>;

/// The entity that produced telemetry (an OpenTelemetry resource).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// `service.name`, or `unknown_service` when the producer did not set one.
    pub service_name: String,
    /// Every other resource attribute (`service.version`, `host.name`, …).
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
}

/// The instrumentation scope (library) that produced a record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    /// Scope name, e.g. `opentelemetry.instrumentation.requests`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Scope version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
}

/// One log record, whatever format it arrived in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// When the event happened (Unix nanoseconds). Decoders fill it from the observed time
    /// when the producer sent none.
    pub time_unix_nano: i64,
    /// When Ward (or a collector) first saw it.
    pub observed_time_unix_nano: i64,
    /// OpenTelemetry severity number 1–24 (0 when the producer gave none).
    pub severity_number: u8,
    /// The producer's own level name (`WARNING`, `30`, …), kept verbatim.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub severity_text: String,
    /// The message. Structured bodies are stored as their JSON text.
    pub body: String,
    /// Record attributes, including unknown fields of JSON log lines.
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
    /// Who produced it.
    pub resource: Resource,
    /// Instrumentation scope.
    #[serde(default, skip_serializing_if = "scope_is_empty")]
    pub scope: Scope,
    /// Trace correlation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    /// Span correlation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<SpanId>,
}

fn scope_is_empty(s: &Scope) -> bool {
    s.name.is_empty() && s.version.is_empty()
}

impl LogRecord {
    /// The record's level (records without a severity count as info).
    pub fn severity(&self) -> Severity {
        Severity::from_number(self.severity_number as i32)
    }
}

/// OpenTelemetry span kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpanKind {
    /// Not specified by the producer.
    #[default]
    Unspecified,
    /// Internal operation.
    Internal,
    /// Server side of a request.
    Server,
    /// Client side of a request.
    Client,
    /// Producer of a message.
    Producer,
    /// Consumer of a message.
    Consumer,
}

impl SpanKind {
    /// From the OTLP enum number; unknown numbers are `Unspecified`.
    pub fn from_number(n: i32) -> SpanKind {
        match n {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }

    /// The OTLP enum number.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "unspecified",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }
}

/// OpenTelemetry span status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusCode {
    /// The default: no status set.
    #[default]
    Unset,
    /// Explicitly successful.
    Ok,
    /// Failed.
    Error,
}

impl StatusCode {
    /// From the OTLP enum number; unknown numbers are `Unset`.
    pub fn from_number(n: i32) -> StatusCode {
        match n {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }

    /// The OTLP enum number.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusCode::Unset => "unset",
            StatusCode::Ok => "ok",
            StatusCode::Error => "error",
        }
    }
}

/// A span's status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpanStatus {
    /// Status code.
    pub code: StatusCode,
    /// Developer-facing message, usually set with `Error`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// A timestamped event inside a span (exceptions arrive as events named `exception`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanEvent {
    /// Unix nanoseconds.
    pub time_unix_nano: i64,
    /// Event name.
    pub name: String,
    /// Event attributes (`exception.type`, `exception.message`, `exception.stacktrace` …).
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
}

/// A link from a span to another span, possibly of another trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanLink {
    /// Linked trace.
    pub trace_id: TraceId,
    /// Linked span.
    pub span_id: SpanId,
    /// W3C trace state of the link.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trace_state: String,
    /// Link attributes.
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
}

/// One span of a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// Trace the span belongs to.
    pub trace_id: TraceId,
    /// The span's own id.
    pub span_id: SpanId,
    /// Parent span; `None` for a root span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<SpanId>,
    /// W3C trace state.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trace_state: String,
    /// Operation name.
    pub name: String,
    /// Span kind.
    pub kind: SpanKind,
    /// Start, Unix nanoseconds.
    pub start_time_unix_nano: i64,
    /// End, Unix nanoseconds (never before the start).
    pub end_time_unix_nano: i64,
    /// Status.
    pub status: SpanStatus,
    /// Span attributes.
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
    /// Events, in time order as sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<SpanEvent>,
    /// Links to other spans.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<SpanLink>,
    /// Who produced it.
    pub resource: Resource,
    /// Instrumentation scope.
    #[serde(default, skip_serializing_if = "scope_is_empty")]
    pub scope: Scope,
}

impl Span {
    /// Duration in nanoseconds.
    pub fn duration_nanos(&self) -> i64 {
        self.end_time_unix_nano
            .saturating_sub(self.start_time_unix_nano)
    }
}

/// What kind of OpenTelemetry metric a point came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Last value.
    Gauge,
    /// Sum (counter or up-down counter).
    Sum,
    /// Explicit-bucket histogram.
    Histogram,
    /// Exponential histogram.
    ExponentialHistogram,
    /// Summary with quantiles.
    Summary,
}

impl MetricKind {
    /// Snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Gauge => "gauge",
            MetricKind::Sum => "sum",
            MetricKind::Histogram => "histogram",
            MetricKind::ExponentialHistogram => "exponential_histogram",
            MetricKind::Summary => "summary",
        }
    }
}

/// Aggregation temporality of sums and histograms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Temporality {
    /// Not applicable or not set.
    #[default]
    Unspecified,
    /// Each point covers the interval since the previous one.
    Delta,
    /// Each point covers the interval since a fixed start.
    Cumulative,
}

/// The value of a metric point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MetricValue {
    /// A gauge or sum value.
    Number {
        /// The value (integers are widened to f64).
        value: f64,
    },
    /// An explicit-bucket histogram.
    Histogram {
        /// Number of observations.
        count: u64,
        /// Sum of observations, when sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sum: Option<f64>,
        /// Upper bounds of the buckets (the last bucket is +Inf and has no bound).
        bounds: Vec<f64>,
        /// Count per bucket; `bounds.len() + 1` entries.
        counts: Vec<u64>,
        /// Smallest observation, when sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// Largest observation, when sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// An exponential histogram, kept in its native form.
    ExponentialHistogram {
        /// Number of observations.
        count: u64,
        /// Sum of observations, when sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sum: Option<f64>,
        /// Resolution.
        scale: i32,
        /// Observations equal to zero.
        zero_count: u64,
        /// Offset of the first positive bucket.
        positive_offset: i32,
        /// Positive bucket counts.
        positive_counts: Vec<u64>,
        /// Offset of the first negative bucket.
        negative_offset: i32,
        /// Negative bucket counts.
        negative_counts: Vec<u64>,
    },
    /// A summary.
    Summary {
        /// Number of observations.
        count: u64,
        /// Sum of observations.
        sum: f64,
        /// `(quantile, value)` pairs.
        quantiles: Vec<(f64, f64)>,
    },
}

/// One data point of a metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// Metric name.
    pub name: String,
    /// Description, as sent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Unit, as sent (`ms`, `By`, `{token}` …).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
    /// Metric kind.
    pub kind: MetricKind,
    /// Temporality of sums and histograms.
    #[serde(default)]
    pub temporality: Temporality,
    /// Whether a sum only goes up.
    #[serde(default)]
    pub monotonic: bool,
    /// Start of the interval (0 when not sent).
    pub start_time_unix_nano: i64,
    /// Time of the point.
    pub time_unix_nano: i64,
    /// Point attributes (the label set).
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
    /// The value.
    pub value: MetricValue,
    /// Who produced it.
    pub resource: Resource,
    /// Instrumentation scope.
    #[serde(default, skip_serializing_if = "scope_is_empty")]
    pub scope: Scope,
}

/// What one ingest request carries after decoding: the unit the pipeline, the store and every
/// other consumer share (behind an `Arc`).
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Owner of every record in the batch.
    pub tenant: TenantId,
    /// Log records.
    pub logs: Vec<LogRecord>,
    /// Spans.
    pub spans: Vec<Span>,
    /// Metric points.
    pub metrics: Vec<MetricPoint>,
}

impl Batch {
    /// An empty batch for `tenant`.
    pub fn new(tenant: TenantId) -> Self {
        Batch {
            tenant,
            logs: Vec::new(),
            spans: Vec::new(),
            metrics: Vec::new(),
        }
    }

    /// Total number of records of every kind.
    pub fn len(&self) -> usize {
        self.logs.len() + self.spans.len() + self.metrics.len()
    }

    /// True when the batch carries nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
