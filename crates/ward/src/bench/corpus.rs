//! Deterministic synthetic telemetry: log records that look like an AI agent service's (bodies
//! of 120–250 bytes from templates with varying numbers and ids, 3–6 attributes, mostly info,
//! 70% with trace context), and traces of ten spans.
//!
//! Everything is derived from a seed with a SplitMix64 generator written here, so the same
//! seed gives the same records on every machine and every version of every dependency: a
//! seeded store can be reused, and its trace ids recomputed instead of stored.

use std::fmt::Write as _;

use bytes::Bytes;

use serde_json::Value;
use ward_ingest::otlp::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use ward_ingest::otlp::proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value,
};
use ward_ingest::otlp::proto::tonic::logs::v1 as plogs;
use ward_ingest::otlp::proto::tonic::resource::v1::Resource as ProtoResource;
use ward_model::{
    Attributes, Batch, LogRecord, Resource, Scope, Span, SpanId, SpanKind, SpanStatus, StatusCode,
    TenantId, TraceId,
};

/// A small, fast, deterministic pseudo-random generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

/// SplitMix64's output function: a good 64-bit mixer on its own.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(mix(seed ^ 0x5851_f42d_4c95_7f2d))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// One item of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A random UUID-shaped string (8-4-4-4-12 hex digits).
    pub fn uuid(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }

    /// Sixteen hex digits.
    pub fn hex16(&mut self) -> String {
        format!("{:016x}", self.next_u64())
    }
}

/// The services of `ward bench ingest`.
pub const INGEST_SERVICES: [&str; 5] = [
    "agent-gateway",
    "planner",
    "retriever",
    "tool-runner",
    "billing",
];

/// The 50 services of `ward bench query`.
pub fn query_services() -> Vec<String> {
    const AREAS: [&str; 10] = [
        "checkout",
        "planner",
        "retriever",
        "search",
        "billing",
        "auth",
        "notifier",
        "scheduler",
        "gateway",
        "embedder",
    ];
    const ROLES: [&str; 5] = ["api", "worker", "agent", "svc", "cron"];
    AREAS
        .iter()
        .flat_map(|a| ROLES.iter().map(move |r| format!("{a}-{r}")))
        .collect()
}

/// The resource of a service, as Ward stores it.
pub fn resource(service: &str, index: usize) -> Resource {
    let mut attributes = Attributes::new();
    attributes.insert("deployment.environment".into(), "production".into());
    attributes.insert("host.name".into(), format!("node-{:02}", index % 7).into());
    attributes.insert(
        "service.version".into(),
        format!("1.{}.{}", index % 5, index % 11).into(),
    );
    Resource {
        service_name: service.to_owned(),
        attributes,
    }
}

fn scope() -> Scope {
    Scope {
        name: "agent_sdk.logging".into(),
        version: "0.9.2".into(),
    }
}

/// The levels the generator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// OTLP 5.
    Debug,
    /// OTLP 9.
    Info,
    /// OTLP 13.
    Warn,
    /// OTLP 17.
    Error,
}

impl Level {
    /// OpenTelemetry severity number.
    pub fn number(self) -> u8 {
        match self {
            Level::Debug => 5,
            Level::Info => 9,
            Level::Warn => 13,
            Level::Error => 17,
        }
    }

    /// Severity text as a logging library writes it.
    pub fn text(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// Share of records whose body contains the word `timeout` (they are warnings or errors).
pub const TIMEOUT_SHARE: f64 = 0.01;

const TOOLS: [&str; 8] = [
    "web_search",
    "code_interpreter",
    "sql_query",
    "send_email",
    "calendar_lookup",
    "fetch_url",
    "vector_search",
    "file_reader",
];
const MODELS: [&str; 5] = [
    "gpt-4o-mini",
    "claude-sonnet-4",
    "llama-3.1-70b",
    "mistral-large",
    "gemini-1.5-pro",
];
const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const REGIONS: [&str; 4] = ["eu-west-1", "us-east-1", "ap-south-1", "eu-central-1"];

/// A log message at a level, following the mix of an agent service: about 84% info, 10% debug,
/// 5% warn, 1% error; 1% of all records (warnings and errors) mention a timeout.
pub fn message(rng: &mut Rng) -> (Level, String) {
    let roll = rng.below(1000);
    if roll < (TIMEOUT_SHARE * 1000.0) as u64 {
        let level = if rng.chance(0.7) {
            Level::Warn
        } else {
            Level::Error
        };
        return (level, timeout_body(rng));
    }
    let level = match roll {
        10..17 => Level::Error,
        17..60 => Level::Warn,
        60..160 => Level::Debug,
        _ => Level::Info,
    };
    let body = match level {
        Level::Error => error_body(rng),
        Level::Warn => warn_body(rng),
        Level::Debug => debug_body(rng),
        Level::Info => info_body(rng),
    };
    (level, body)
}

fn info_body(r: &mut Rng) -> String {
    match r.below(8) {
        7 => format!(
            "agent run {} finished: {} steps, {} tool calls ({}, {}), {} LLM calls on {}, prompt_tokens={} completion_tokens={} cost_usd=0.{:04} duration_ms={} outcome=answered",
            r.uuid(),
            r.range(1, 30),
            r.range(1, 12),
            r.pick(&TOOLS),
            r.pick(&TOOLS),
            r.range(1, 20),
            r.pick(&MODELS),
            r.range(100, 90_000),
            r.range(5, 9000),
            r.below(10_000),
            r.range(200, 120_000)
        ),
        0 => format!(
            "request completed method={} path=/api/v1/sessions/{}/messages status=200 duration_ms={} bytes_out={} user_id=u-{} region={}",
            r.pick(&METHODS),
            r.uuid(),
            r.range(2, 2500),
            r.range(200, 90_000),
            r.range(1000, 99_999),
            r.pick(&REGIONS)
        ),
        1 => format!(
            "planner step {} finished: selected tool {} with confidence 0.{:03}, prompt_tokens={} completion_tokens={} conversation={}",
            r.range(1, 12),
            r.pick(&TOOLS),
            r.below(1000),
            r.range(200, 12_000),
            r.range(10, 2000),
            r.uuid()
        ),
        2 => format!(
            "retrieved {} documents from index kb-{} in {} ms (query_id={}, top_score=0.{:03}, reranked=true, lang=en, filters=tenant:t-{})",
            r.range(1, 50),
            r.range(1, 40),
            r.range(3, 900),
            r.hex16(),
            r.below(1000),
            r.range(1, 9999)
        ),
        3 => format!(
            "tool call {} succeeded after {} ms attempt={} session={} output_bytes={} truncated=false",
            r.pick(&TOOLS),
            r.range(5, 8000),
            r.range(1, 3),
            r.uuid(),
            r.range(40, 64_000)
        ),
        4 => format!(
            "billing event recorded: customer=cus_{:08} plan=team units={} amount_cents={} invoice=in_{:010} currency=EUR period=2026-{:02}",
            r.below(100_000_000),
            r.range(1, 5000),
            r.range(10, 900_000),
            r.below(10_000_000_000),
            r.range(1, 12)
        ),
        5 => format!(
            "LLM completion model={} prompt_tokens={} completion_tokens={} latency_ms={} finish_reason=stop request_id=req_{}",
            r.pick(&MODELS),
            r.range(100, 30_000),
            r.range(5, 4000),
            r.range(150, 40_000),
            r.hex16()
        ),
        _ => format!(
            "accepted websocket connection from 10.{}.{}.{}:{} user_agent=\"agent-sdk/1.{}.{} python/3.12\" session={}",
            r.below(256),
            r.below(256),
            r.below(256),
            r.range(1024, 65_535),
            r.below(20),
            r.below(10),
            r.uuid()
        ),
    }
}

fn debug_body(r: &mut Rng) -> String {
    match r.below(2) {
        0 => format!(
            "evaluating guardrail policy pii-redaction-v{} for message {}: {} rules checked, {} matched, decision=allow, elapsed_us={}",
            r.range(1, 9),
            r.uuid(),
            r.range(5, 60),
            r.below(4),
            r.range(20, 9000)
        ),
        _ => format!(
            "cache refresh for key sessions:{} completed: {} entries loaded, {} evicted, memory={} KiB, generation={}",
            r.uuid(),
            r.range(1, 5000),
            r.below(800),
            r.range(16, 90_000),
            r.range(1, 100_000)
        ),
    }
}

fn warn_body(r: &mut Rng) -> String {
    match r.below(3) {
        0 => format!(
            "slow query on table conversations took {} ms (threshold 500 ms) rows_examined={} plan=index_scan session={}",
            r.range(501, 9000),
            r.range(1000, 2_000_000),
            r.uuid()
        ),
        1 => format!(
            "retrying tool call {} after HTTP 503 from upstream (attempt {} of 5, backoff {} ms) request_id=req_{} session={}",
            r.pick(&TOOLS),
            r.range(1, 4),
            r.range(100, 6400),
            r.hex16(),
            r.uuid()
        ),
        _ => format!(
            "rate limit approaching for tenant t-{}: {} of {} requests used in the current window, throttling in {}s (model={})",
            r.range(1, 9999),
            r.range(800, 999),
            1000,
            r.range(1, 60),
            r.pick(&MODELS)
        ),
    }
}

fn error_body(r: &mut Rng) -> String {
    match r.below(2) {
        0 => format!(
            "tool call {} failed: upstream returned HTTP 500 Internal Server Error after {} ms, request_id=req_{} session={} body={{\"error\":\"worker crashed\"}}",
            r.pick(&TOOLS),
            r.range(5, 20_000),
            r.hex16(),
            r.uuid()
        ),
        _ => format!(
            "failed to persist conversation {}: constraint violation on messages.position={} (duplicate message), rolling back transaction {}",
            r.uuid(),
            r.range(1, 400),
            r.range(1, 10_000_000)
        ),
    }
}

fn timeout_body(r: &mut Rng) -> String {
    match r.below(2) {
        0 => format!(
            "upstream timeout calling {} after {} ms (deadline 30000 ms), attempt {} of 3, request_id=req_{} session={}",
            r.pick(&TOOLS),
            r.range(30_000, 31_000),
            r.range(1, 3),
            r.hex16(),
            r.uuid()
        ),
        _ => format!(
            "database connection timeout: pool exhausted after waiting {} ms for one of {} connections, queue_depth={} instance={}",
            r.range(1000, 10_000),
            r.range(4, 64),
            r.range(1, 500),
            r.hex16()
        ),
    }
}

/// An attribute value of a generated record.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

impl AttrValue {
    fn to_json(&self) -> Value {
        match self {
            AttrValue::Str(s) => Value::String(s.clone()),
            AttrValue::Int(n) => Value::from(*n),
            AttrValue::Bool(b) => Value::Bool(*b),
        }
    }

    fn to_proto(&self) -> AnyValue {
        let value = match self {
            AttrValue::Str(s) => any_value::Value::StringValue(s.clone()),
            AttrValue::Int(n) => any_value::Value::IntValue(*n),
            AttrValue::Bool(b) => any_value::Value::BoolValue(*b),
        };
        AnyValue { value: Some(value) }
    }
}

/// 3–6 attributes, from a fixed set of eight in a random rotation.
pub fn attributes(r: &mut Rng) -> Vec<(&'static str, AttrValue)> {
    let count = r.range(3, 6) as usize;
    let first = r.below(8);
    (0..count as u64)
        .map(|i| match (first + i) % 8 {
            0 => ("http.method", AttrValue::Str(r.pick(&METHODS).to_string())),
            1 => (
                "http.status_code",
                AttrValue::Int(*r.pick(&[200, 200, 200, 201, 204, 400, 404, 429, 500, 503])),
            ),
            2 => (
                "user.id",
                AttrValue::Str(format!("u-{}", r.range(1000, 99_999))),
            ),
            3 => ("session.id", AttrValue::Str(r.uuid())),
            4 => (
                "gen_ai.request.model",
                AttrValue::Str(r.pick(&MODELS).to_string()),
            ),
            5 => (
                "gen_ai.usage.input_tokens",
                AttrValue::Int(r.range(10, 30_000) as i64),
            ),
            6 => ("tool.name", AttrValue::Str(r.pick(&TOOLS).to_string())),
            _ => ("cache.hit", AttrValue::Bool(r.chance(0.6))),
        })
        .collect()
}

/// One generated log record, before it is put into OTLP or Ward's model.
#[derive(Debug, Clone, PartialEq)]
pub struct GenLog {
    /// Event time, Unix nanoseconds.
    pub time_unix_nano: i64,
    /// Level.
    pub level: Level,
    /// Message.
    pub body: String,
    /// Record attributes.
    pub attributes: Vec<(&'static str, AttrValue)>,
    /// Trace context, when there is one.
    pub trace: Option<(TraceId, SpanId)>,
}

impl GenLog {
    /// A record at `time`, with trace context from `trace` (asked for only when the record
    /// is one of the 70% that have it).
    pub fn generate(
        r: &mut Rng,
        time_unix_nano: i64,
        trace: impl FnOnce(&mut Rng) -> (TraceId, SpanId),
    ) -> GenLog {
        let (level, body) = message(r);
        let attributes = attributes(r);
        let trace = if r.chance(0.7) { Some(trace(r)) } else { None };
        GenLog {
            time_unix_nano,
            level,
            body,
            attributes,
            trace,
        }
    }

    /// As Ward's model stores it.
    pub fn to_model(&self, resource: &Resource, scope: &Scope) -> LogRecord {
        LogRecord {
            time_unix_nano: self.time_unix_nano,
            observed_time_unix_nano: self.time_unix_nano + 1_000_000,
            severity_number: self.level.number(),
            severity_text: self.level.text().to_owned(),
            body: self.body.clone(),
            attributes: self
                .attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.to_json()))
                .collect(),
            resource: resource.clone(),
            scope: scope.clone(),
            trace_id: self.trace.map(|t| t.0),
            span_id: self.trace.map(|t| t.1),
        }
    }

    /// As an OTLP log record.
    pub fn to_proto(&self) -> plogs::LogRecord {
        plogs::LogRecord {
            time_unix_nano: self.time_unix_nano as u64,
            observed_time_unix_nano: self.time_unix_nano as u64 + 1_000_000,
            severity_number: self.level.number() as i32,
            severity_text: self.level.text().to_owned(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(self.body.clone())),
            }),
            attributes: self
                .attributes
                .iter()
                .map(|(k, v)| kv(k, v.to_proto()))
                .collect(),
            trace_id: self.trace.map(|t| t.0.0.to_vec()).unwrap_or_default(),
            span_id: self.trace.map(|t| t.1.0.to_vec()).unwrap_or_default(),
            flags: if self.trace.is_some() { 1 } else { 0 },
            ..Default::default()
        }
    }
}

fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(value),
        ..Default::default()
    }
}

fn str_kv(key: &str, value: &str) -> KeyValue {
    kv(
        key,
        AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        },
    )
}

fn random_trace(r: &mut Rng) -> (TraceId, SpanId) {
    let hi = r.next_u64() | 1;
    let lo = r.next_u64();
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hi.to_be_bytes());
    bytes[8..].copy_from_slice(&lo.to_be_bytes());
    (TraceId(bytes), SpanId((r.next_u64() | 1).to_be_bytes()))
}

/// The request bodies of `ward bench ingest`: `bodies` OTLP export requests of `batch` records
/// each, request `i` from service `INGEST_SERVICES[i % 5]`. Record times are distinct and
/// increasing, in the hour before `now_unix_nano`; the bench replaces them when it sends a body
/// (see [`StampableBody`]).
pub fn ingest_requests(
    seed: u64,
    bodies: usize,
    batch: usize,
    now_unix_nano: i64,
) -> Vec<ExportLogsServiceRequest> {
    let mut r = Rng::new(seed);
    let mut next_time = now_unix_nano - 3_600_000_000_000;
    (0..bodies)
        .map(|i| {
            let service = INGEST_SERVICES[i % INGEST_SERVICES.len()];
            let res = resource(service, i % INGEST_SERVICES.len());
            let mut resource_attributes = vec![str_kv("service.name", service)];
            resource_attributes.extend(
                res.attributes
                    .iter()
                    .map(|(k, v)| str_kv(k, v.as_str().unwrap_or_default())),
            );
            let sc = scope();
            let log_records = (0..batch)
                .map(|_| {
                    next_time += 1_000 + r.below(1_000) as i64;
                    GenLog::generate(&mut r, next_time, random_trace).to_proto()
                })
                .collect();
            ExportLogsServiceRequest {
                resource_logs: vec![plogs::ResourceLogs {
                    resource: Some(ProtoResource {
                        attributes: resource_attributes,
                        ..Default::default()
                    }),
                    scope_logs: vec![plogs::ScopeLogs {
                        scope: Some(InstrumentationScope {
                            name: sc.name,
                            version: sc.version,
                            ..Default::default()
                        }),
                        log_records,
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                }],
            }
        })
        .collect()
}

/// Protobuf tag of `LogRecord.time_unix_nano` (field 1, fixed64).
const TIME_TAG: u8 = (1 << 3) | 1;
/// Protobuf tag of `LogRecord.observed_time_unix_nano` (field 11, fixed64).
const OBSERVED_TAG: u8 = (11 << 3) | 1;

/// A pre-encoded export request whose record times can be rewritten in place when it is sent.
///
/// Both times are `fixed64` fields, so new values never change the encoding's length: the bench
/// copies the bytes and overwrites 16 bytes per record, which costs far less than encoding.
/// Without this, the same few dozen bodies would be sent again and again with the same old
/// timestamps, which no real producer does and which a time-keyed store rightly handles as
/// the slow case of late records.
#[derive(Debug, Clone)]
pub struct StampableBody {
    /// The encoded request, with its original times.
    pub bytes: Bytes,
    /// Offsets of each record's `time_unix_nano` value (8 bytes, little-endian), in order.
    time_at: Vec<usize>,
    /// Offsets of each record's `observed_time_unix_nano` value.
    observed_at: Vec<usize>,
}

/// Position of `tag` followed by the little-endian `value` in `bytes` at or after `from`.
fn find_fixed64(bytes: &[u8], from: usize, tag: u8, value: u64) -> Option<usize> {
    let mut pattern = [0u8; 9];
    pattern[0] = tag;
    pattern[1..].copy_from_slice(&value.to_le_bytes());
    bytes
        .get(from..)?
        .windows(9)
        .position(|w| w == pattern)
        .map(|p| from + p + 1)
}

impl StampableBody {
    /// Encodes `request` (a single resource and scope, as [`ingest_requests`] makes) and finds
    /// where each record's times are. Record times must be distinct and non-zero.
    pub fn encode(request: &ExportLogsServiceRequest) -> anyhow::Result<StampableBody> {
        let bytes = ward_ingest::otlp::encode_protobuf(request);
        let mut time_at = Vec::new();
        let mut observed_at = Vec::new();
        let mut from = 0;
        let records = request
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records);
        for record in records {
            let at = find_fixed64(&bytes, from, TIME_TAG, record.time_unix_nano)
                .ok_or_else(|| anyhow::anyhow!("a record's time is not in its encoding"))?;
            let observed = find_fixed64(&bytes, at, OBSERVED_TAG, record.observed_time_unix_nano)
                .ok_or_else(|| {
                anyhow::anyhow!("a record's observed time is not in its encoding")
            })?;
            time_at.push(at);
            observed_at.push(observed);
            from = observed + 8;
        }
        Ok(StampableBody {
            bytes: Bytes::from(bytes),
            time_at,
            observed_at,
        })
    }

    /// Records in the request.
    pub fn records(&self) -> usize {
        self.time_at.len()
    }

    /// A copy whose records are spread evenly over the `spread_nanos` before `sent_unix_nano`
    /// (the last one at `sent_unix_nano`), each observed at `sent_unix_nano`.
    pub fn stamped(&self, sent_unix_nano: i64, spread_nanos: i64) -> Bytes {
        let mut out = self.bytes.to_vec();
        let n = self.records();
        for (j, (&t, &o)) in self.time_at.iter().zip(&self.observed_at).enumerate() {
            let time = stamp_time(j, n, sent_unix_nano, spread_nanos);
            out[t..t + 8].copy_from_slice(&(time as u64).to_le_bytes());
            out[o..o + 8].copy_from_slice(&(sent_unix_nano as u64).to_le_bytes());
        }
        Bytes::from(out)
    }
}

/// Time of record `j` of `n` in a request sent at `sent` whose records span `spread` nanoseconds
/// before it: evenly spaced, the last at `sent`.
pub fn stamp_time(j: usize, n: usize, sent: i64, spread: i64) -> i64 {
    let n = n.max(1) as i128;
    sent - spread + (spread as i128 * (j as i128 + 1) / n) as i64
}

/// A copy of `batch` with its log records' times set as [`StampableBody::stamped`] sets them.
pub fn stamped_batch(batch: &Batch, sent_unix_nano: i64, spread_nanos: i64) -> Batch {
    let mut out = batch.clone();
    let n = out.logs.len();
    for (j, record) in out.logs.iter_mut().enumerate() {
        record.time_unix_nano = stamp_time(j, n, sent_unix_nano, spread_nanos);
        record.observed_time_unix_nano = sent_unix_nano;
    }
    out
}

/// Spans per trace in the seeded store.
pub const SPANS_PER_TRACE: u64 = 10;

const SPAN_NAMES: [&str; 10] = [
    "POST /api/v1/chat",
    "planner.plan",
    "llm.completion",
    "retriever.search",
    "tool.call",
    "vector_db.query",
    "http.client GET",
    "cache.get",
    "guardrail.check",
    "db.query INSERT messages",
];

/// The layout of a seeded store: `records` logs spread evenly over the `window_nanos` before
/// `end_unix_nano`, and `traces` traces of ten spans over the same window, cut into `slices`
/// batches in time order. Each slice is generated from its own sub-seed, so any slice can be
/// made alone and the result never depends on the order they are made in.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SeedPlan {
    /// Seed of everything.
    pub seed: u64,
    /// Log records.
    pub records: u64,
    /// Traces (of [`SPANS_PER_TRACE`] spans each).
    pub traces: u64,
    /// End of the window, Unix nanoseconds.
    pub end_unix_nano: i64,
    /// Length of the window.
    pub window_nanos: i64,
    /// Number of batches.
    pub slices: u64,
}

impl SeedPlan {
    /// A plan for `records` logs and `spans` spans (rounded down to whole traces) over the 48
    /// hours before `end_unix_nano`, in slices of about `batch` records.
    pub fn new(seed: u64, records: u64, spans: u64, end_unix_nano: i64, batch: u64) -> SeedPlan {
        let traces = spans / SPANS_PER_TRACE;
        let batch = batch.max(1);
        let slices = records
            .div_ceil(batch)
            .max((traces * SPANS_PER_TRACE).div_ceil(batch))
            .max(1);
        SeedPlan {
            seed,
            records,
            traces,
            end_unix_nano,
            window_nanos: 48 * 3600 * 1_000_000_000,
            slices,
        }
    }

    /// Total records of every kind.
    pub fn total(&self) -> u64 {
        self.records + self.traces * SPANS_PER_TRACE
    }

    fn start(&self) -> i64 {
        self.end_unix_nano - self.window_nanos
    }

    /// The half-open index range `[lo, hi)` of `n` items that falls into slice `s`.
    fn share(&self, n: u64, s: u64) -> (u64, u64) {
        let at = |k: u64| ((n as u128 * k as u128) / self.slices as u128) as u64;
        (at(s), at(s + 1))
    }

    /// Evenly spaced time of item `i` of `n`, plus up to one spacing of jitter.
    fn time_of(&self, i: u64, n: u64, r: &mut Rng) -> i64 {
        let step = (self.window_nanos as u128 / n.max(1) as u128) as u64;
        let base = (self.window_nanos as u128 * i as u128 / n.max(1) as u128) as i64;
        self.start() + base + r.below(step.max(1)) as i64
    }

    /// Trace id of trace `t`.
    pub fn trace_id(&self, t: u64) -> TraceId {
        let a = mix(self.seed ^ 0x7472_6163_6500_0000 ^ t.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1;
        let b = mix(a ^ t);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&a.to_be_bytes());
        bytes[8..].copy_from_slice(&b.to_be_bytes());
        TraceId(bytes)
    }

    /// Span id of span `k` of trace `t`.
    pub fn span_id(&self, t: u64, k: u64) -> SpanId {
        SpanId(
            (mix(self.seed ^ 0x7370_616e ^ t.wrapping_mul(31).wrapping_add(k) ^ (k << 56)) | 1)
                .to_be_bytes(),
        )
    }

    /// Batch `s` (`0..slices`) for `tenant`; `resources` are the services' resources.
    pub fn slice(&self, s: u64, tenant: &TenantId, resources: &[Resource]) -> Batch {
        let mut r = Rng::new(self.seed ^ mix(s.wrapping_add(1)));
        let sc = scope();
        let mut batch = Batch::new(tenant.clone());
        let (lo, hi) = self.share(self.records, s);
        batch.logs.reserve((hi - lo) as usize);
        for i in lo..hi {
            let time = self.time_of(i, self.records, &mut r);
            let res = r.pick(resources);
            let traces = self.traces;
            let log = GenLog::generate(&mut r, time, |r| {
                if traces == 0 {
                    return random_trace(r);
                }
                // The trace running at about the same time.
                let t = ((i as u128 * traces as u128) / self.records as u128) as u64;
                (self.trace_id(t), self.span_id(t, r.below(SPANS_PER_TRACE)))
            });
            batch.logs.push(log.to_model(res, &sc));
        }
        let (lo, hi) = self.share(self.traces, s);
        batch.spans.reserve(((hi - lo) * SPANS_PER_TRACE) as usize);
        for t in lo..hi {
            let start = self.time_of(t, self.traces, &mut r);
            self.trace(t, start, &mut r, resources, &sc, &mut batch.spans);
        }
        batch
    }

    fn trace(
        &self,
        t: u64,
        start: i64,
        r: &mut Rng,
        resources: &[Resource],
        sc: &Scope,
        out: &mut Vec<Span>,
    ) {
        let root_service = &resources[(mix(self.seed ^ t) % resources.len() as u64) as usize];
        let other = r.pick(resources);
        let total = r.range(50, 5000) as i64 * 1_000_000;
        let model = *r.pick(&MODELS);
        for k in 0..SPANS_PER_TRACE {
            let parent = match k {
                0 => None,
                1..=4 => Some(0),
                _ => Some(k - 4),
            };
            let (offset, length) = if k == 0 {
                (0, total)
            } else {
                let offset = r.below((total / 2) as u64) as i64;
                (offset, r.range(1, (total - offset) as u64 / 2 + 1) as i64)
            };
            let kind = match k {
                0 => SpanKind::Server,
                2 | 6 => SpanKind::Client,
                _ => SpanKind::Internal,
            };
            let error = k > 0 && r.chance(0.005);
            let mut attributes = Attributes::new();
            if k == 2 {
                attributes.insert("gen_ai.request.model".into(), model.into());
                attributes.insert(
                    "gen_ai.usage.input_tokens".into(),
                    r.range(100, 30_000).into(),
                );
            }
            if k == 0 || k == 6 {
                attributes.insert("http.status_code".into(), 200.into());
            }
            if k == 4 {
                attributes.insert("tool.name".into(), (*r.pick(&TOOLS)).into());
            }
            attributes.insert("thread.id".into(), r.range(1, 64).into());
            out.push(Span {
                trace_id: self.trace_id(t),
                span_id: self.span_id(t, k),
                parent_span_id: parent.map(|p| self.span_id(t, p)),
                trace_state: String::new(),
                name: SPAN_NAMES[k as usize].to_owned(),
                kind,
                start_time_unix_nano: start + offset,
                end_time_unix_nano: start + offset + length,
                status: SpanStatus {
                    code: if error {
                        StatusCode::Error
                    } else {
                        StatusCode::Unset
                    },
                    message: if error {
                        "upstream returned 500".into()
                    } else {
                        String::new()
                    },
                },
                attributes,
                events: Vec::new(),
                links: Vec::new(),
                resource: if k < 5 {
                    root_service.clone()
                } else {
                    other.clone()
                },
                scope: sc.clone(),
            });
        }
    }
}

/// Lengths of the bodies of a request, for reporting.
pub fn describe_bodies(requests: &[ExportLogsServiceRequest]) -> String {
    let lens: Vec<usize> = requests
        .iter()
        .flat_map(|r| r.resource_logs.iter())
        .flat_map(|r| r.scope_logs.iter())
        .flat_map(|s| s.log_records.iter())
        .filter_map(|l| match l.body.as_ref().and_then(|b| b.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => Some(s.len()),
            _ => None,
        })
        .collect();
    let mut out = String::new();
    if let (Some(min), Some(max)) = (lens.iter().min(), lens.iter().max()) {
        let mean = lens.iter().sum::<usize>() as f64 / lens.len() as f64;
        let _ = write!(out, "{min}–{max} B (mean {mean:.0} B)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], Rng::new(8).next_u64());
        // A fixed value guards against accidental changes of the algorithm, which would
        // silently invalidate stores seeded by earlier versions.
        assert_eq!(
            Rng::new(0).next_u64(),
            mix(mix(0x5851_f42d_4c95_7f2d).wrapping_add(0x9e37_79b9_7f4a_7c15))
        );
        for _ in 0..1000 {
            let n = a.below(10);
            assert!(n < 10);
            let m = a.range(3, 6);
            assert!((3..=6).contains(&m));
        }
    }

    #[test]
    fn messages_have_realistic_sizes_and_levels() {
        let mut r = Rng::new(1);
        let n = 100_000;
        let (mut warn, mut error, mut info, mut timeout) = (0, 0, 0, 0);
        for _ in 0..n {
            let (level, body) = message(&mut r);
            assert!(
                (120..=250).contains(&body.len()),
                "{} bytes: {body}",
                body.len()
            );
            let mentions_timeout = body
                .split(|c: char| !c.is_alphanumeric())
                .any(|w| w.eq_ignore_ascii_case("timeout"));
            if mentions_timeout {
                timeout += 1;
                assert!(matches!(level, Level::Warn | Level::Error));
            }
            match level {
                Level::Warn => warn += 1,
                Level::Error => error += 1,
                Level::Info => info += 1,
                Level::Debug => {}
            }
        }
        let share = |k: i32| k as f64 / n as f64;
        assert!(
            (0.008..0.012).contains(&share(timeout)),
            "timeout {}",
            share(timeout)
        );
        assert!(
            (0.045..0.056).contains(&share(warn)),
            "warn {}",
            share(warn)
        );
        assert!(
            (0.008..0.013).contains(&share(error)),
            "error {}",
            share(error)
        );
        assert!(share(info) > 0.8, "info {}", share(info));
    }

    #[test]
    fn attributes_number_three_to_six() {
        let mut r = Rng::new(3);
        for _ in 0..1000 {
            let a = attributes(&mut r);
            assert!((3..=6).contains(&a.len()));
            let mut keys: Vec<_> = a.iter().map(|(k, _)| *k).collect();
            keys.dedup();
            assert_eq!(keys.len(), a.len(), "no key twice");
        }
    }

    #[test]
    fn ingest_requests_are_deterministic_and_convertible() {
        let now = 1_800_000_000_000_000_000;
        let a = ingest_requests(42, 6, 50, now);
        assert_eq!(a, ingest_requests(42, 6, 50, now));
        assert_ne!(a, ingest_requests(43, 6, 50, now));
        assert_eq!(a.len(), 6);
        let with_trace = a
            .iter()
            .flat_map(|r| &r.resource_logs[0].scope_logs[0].log_records)
            .filter(|l| !l.trace_id.is_empty())
            .count();
        assert!(
            (150..270).contains(&with_trace),
            "{with_trace} of 300 have trace context"
        );
        for req in a {
            let converted =
                ward_ingest::otlp::logs_to_model(req, &ward_ingest::Normalize::new(now));
            assert!(converted.rejected.is_empty(), "{:?}", converted.rejected);
            assert_eq!(converted.records.len(), 50);
            assert!(INGEST_SERVICES.contains(&converted.records[0].resource.service_name.as_str()));
        }
    }

    #[test]
    fn stamped_bodies_carry_the_new_times_and_nothing_else_changes() {
        let now = 1_800_000_000_000_000_000;
        let requests = ingest_requests(5, 3, 40, now);
        for request in &requests {
            let body = StampableBody::encode(request).unwrap();
            assert_eq!(body.records(), 40);
            let sent = now + 7_000_000_000;
            let spread = 1_000_000_000;
            let stamped = body.stamped(sent, spread);
            assert_eq!(stamped.len(), body.bytes.len());
            let decoded =
                ward_ingest::otlp::decode_logs(&stamped, ward_ingest::otlp::Encoding::Protobuf)
                    .unwrap();
            let records = &decoded.resource_logs[0].scope_logs[0].log_records;
            let original = &request.resource_logs[0].scope_logs[0].log_records;
            for (j, (got, was)) in records.iter().zip(original).enumerate() {
                assert_eq!(got.time_unix_nano as i64, stamp_time(j, 40, sent, spread));
                assert_eq!(got.observed_time_unix_nano as i64, sent);
                let mut restored = got.clone();
                restored.time_unix_nano = was.time_unix_nano;
                restored.observed_time_unix_nano = was.observed_time_unix_nano;
                assert_eq!(&restored, was);
            }
        }
    }

    #[test]
    fn stamp_times_spread_evenly_up_to_the_send_time() {
        assert_eq!(stamp_time(0, 4, 1000, 400), 700);
        assert_eq!(stamp_time(3, 4, 1000, 400), 1000);
        assert_eq!(stamp_time(0, 1, 1000, 0), 1000);
        let batch = {
            let now = 1_800_000_000_000_000_000;
            let req = ingest_requests(1, 1, 10, now).remove(0);
            let mut b = Batch::new(TenantId::default_tenant());
            b.logs =
                ward_ingest::otlp::logs_to_model(req, &ward_ingest::Normalize::new(now)).records;
            b
        };
        let stamped = stamped_batch(&batch, 5_000, 1_000);
        let times: Vec<i64> = stamped.logs.iter().map(|l| l.time_unix_nano).collect();
        assert_eq!(
            times,
            (0..10).map(|j| 4_000 + 100 * (j + 1)).collect::<Vec<_>>()
        );
        assert!(
            stamped
                .logs
                .iter()
                .all(|l| l.observed_time_unix_nano == 5_000)
        );
        assert_eq!(stamped.logs[3].body, batch.logs[3].body);
    }

    #[test]
    fn seed_plans_cover_every_record_once_in_time_order() {
        let end = 1_800_000_000_000_000_000;
        let plan = SeedPlan::new(9, 1000, 305, end, 120);
        assert_eq!(plan.traces, 30);
        assert_eq!(plan.slices, 9);
        assert_eq!(plan.total(), 1300);
        let services = query_services();
        assert_eq!(services.len(), 50);
        let resources: Vec<Resource> = services
            .iter()
            .enumerate()
            .map(|(i, s)| resource(s, i))
            .collect();
        let tenant = TenantId::default_tenant();
        let batches: Vec<Batch> = (0..plan.slices)
            .map(|s| plan.slice(s, &tenant, &resources))
            .collect();
        assert_eq!(
            batches[3],
            plan.slice(3, &tenant, &resources),
            "a slice does not depend on the others"
        );
        assert_eq!(batches.iter().map(|b| b.logs.len()).sum::<usize>(), 1000);
        assert_eq!(batches.iter().map(|b| b.spans.len()).sum::<usize>(), 300);
        let times: Vec<i64> = batches
            .iter()
            .flat_map(|b| b.logs.iter().map(|l| l.time_unix_nano))
            .collect();
        assert!(times.is_sorted());
        assert!(times[0] >= end - plan.window_nanos && *times.last().unwrap() <= end);
        let mut ids: Vec<TraceId> = batches
            .iter()
            .flat_map(|b| b.spans.iter().map(|s| s.trace_id))
            .collect();
        ids.dedup();
        assert_eq!(ids, (0..30).map(|t| plan.trace_id(t)).collect::<Vec<_>>());
        for b in &batches {
            for span in &b.spans {
                assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
            }
            for chunk in b.spans.chunks(SPANS_PER_TRACE as usize) {
                assert!(chunk[0].parent_span_id.is_none());
                assert!(
                    chunk[1..]
                        .iter()
                        .all(|s| chunk.iter().any(|p| Some(p.span_id) == s.parent_span_id))
                );
            }
        }
    }
}
