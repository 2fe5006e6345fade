//! OTLP/HTTP bodies: decoding (protobuf or JSON) and conversion into Ward's model.
//!
//! Decoding ([`decode_logs`], [`decode_traces`], [`decode_metrics`]) is all or nothing: a body
//! that is not a valid message is a [`DecodeError`]. Conversion ([`logs_to_model`],
//! [`traces_to_model`], [`metrics_to_model`]) is per record: a record with an impossible
//! timestamp or a malformed id becomes a [`Rejection`](crate::Rejection) and the rest is kept.
//!
//! # OTLP/JSON
//!
//! Bodies are read as the OTLP specification describes its JSON encoding: camelCase field
//! names, trace and span ids as hexadecimal strings (either case), enums as integers, 64-bit
//! integers as strings or numbers. Common deviations are accepted too: enum names
//! (`"SPAN_KIND_SERVER"`), base64 ids (the generic protobuf JSON mapping), `null` for absent
//! fields, numbers in strings for 32-bit and floating-point fields, floats where timestamps or
//! counts belong (`1.5447126603e18`), and `"NaN"`, `"Infinity"`, `"-Infinity"`. Unknown fields are ignored. An id that is neither hexadecimal nor base64 makes
//! only its record invalid, not the whole body.

use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1 as plogs;
use opentelemetry_proto::tonic::metrics::v1 as pmetrics;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1 as ptrace;
use serde::de::DeserializeOwned;
use serde_json::Value;
use ward_model::{
    Attributes, LogRecord, MetricKind, MetricPoint, MetricValue, Resource, Scope, Span, SpanEvent,
    SpanId, SpanKind, SpanLink, SpanStatus, StatusCode, Temporality, TraceId,
};

/// The `opentelemetry-proto` crate this module speaks, for response types
/// (`ExportLogsServiceResponse`, `ExportLogsPartialSuccess`, …) and for building requests.
pub use opentelemetry_proto as proto;
pub use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
pub use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
pub use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::{Converted, DecodeError, Normalize, RejectReason, float_to_json, truncate_utf8};

/// The attribute a log record's out-of-range severity number is kept in.
pub const ORIGINAL_SEVERITY_ATTRIBUTE: &str = "ward.original_severity_number";

/// How an OTLP/HTTP body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Binary protobuf (`application/x-protobuf`).
    Protobuf,
    /// OTLP/JSON (`application/json`).
    Json,
}

impl Encoding {
    /// The encoding named by a `Content-Type` header: `application/x-protobuf` or
    /// `application/protobuf` → protobuf, `application/json` → JSON (parameters such as
    /// `; charset=utf-8` are ignored, case does not matter); a missing or empty header means
    /// protobuf, the OTLP default.
    pub fn from_content_type(ct: Option<&str>) -> Result<Encoding, DecodeError> {
        let Some(ct) = ct else {
            return Ok(Encoding::Protobuf);
        };
        let media = ct.split(';').next().unwrap_or("").trim();
        if media.is_empty()
            || media.eq_ignore_ascii_case("application/x-protobuf")
            || media.eq_ignore_ascii_case("application/protobuf")
        {
            Ok(Encoding::Protobuf)
        } else if media.eq_ignore_ascii_case("application/json") {
            Ok(Encoding::Json)
        } else {
            Err(DecodeError::UnsupportedContentType(crate::snippet(ct)))
        }
    }
}

/// Decodes an OTLP logs export request.
pub fn decode_logs(body: &[u8], enc: Encoding) -> Result<ExportLogsServiceRequest, DecodeError> {
    decode(body, enc)
}

/// Decodes an OTLP traces export request.
pub fn decode_traces(body: &[u8], enc: Encoding) -> Result<ExportTraceServiceRequest, DecodeError> {
    decode(body, enc)
}

/// Decodes an OTLP metrics export request.
///
/// In JSON, the `opentelemetry-proto` deserializer silently drops a metric's data (or a data
/// point's value) that it cannot read, instead of failing; when that happened, the body is read
/// again through the normalization that accepts the common deviations, and whatever is still
/// missing is refused per metric or point by [`metrics_to_model`].
pub fn decode_metrics(
    body: &[u8],
    enc: Encoding,
) -> Result<ExportMetricsServiceRequest, DecodeError> {
    let req: ExportMetricsServiceRequest = decode(body, enc)?;
    if enc == Encoding::Json && lost_metric_data(&req) {
        return decode_json_normalized(body, None);
    }
    Ok(req)
}

/// Whether a metric has no data or a number point has no value.
fn lost_metric_data(req: &ExportMetricsServiceRequest) -> bool {
    use pmetrics::metric::Data;
    req.resource_metrics
        .iter()
        .flat_map(|r| r.scope_metrics.iter())
        .flat_map(|s| s.metrics.iter())
        .any(|m| match &m.data {
            None => true,
            Some(Data::Gauge(g)) => g.data_points.iter().any(|p| p.value.is_none()),
            Some(Data::Sum(s)) => s.data_points.iter().any(|p| p.value.is_none()),
            Some(_) => false,
        })
}

/// Encodes a message as binary protobuf (used by tests and by the benchmark client).
pub fn encode_protobuf<M: prost::Message>(m: &M) -> Vec<u8> {
    m.encode_to_vec()
}

fn decode<M: prost::Message + Default + DeserializeOwned>(
    body: &[u8],
    enc: Encoding,
) -> Result<M, DecodeError> {
    match enc {
        Encoding::Protobuf => M::decode(body).map_err(|e| DecodeError::Protobuf(e.to_string())),
        Encoding::Json => decode_json(body),
    }
}

/// Reads OTLP/JSON: straight into the message when the body follows the specification, else
/// through [`normalize_json`] which accepts the common deviations.
fn decode_json<M: DeserializeOwned>(body: &[u8]) -> Result<M, DecodeError> {
    let first = match serde_json::from_slice::<M>(body) {
        Ok(m) => return Ok(m),
        Err(e) => e,
    };
    if !first.is_data() {
        // Syntax errors, truncated bodies: no rewriting can help.
        return Err(DecodeError::Json(first.to_string()));
    }
    decode_json_normalized(body, Some(first))
}

/// Reads OTLP/JSON through [`normalize_json`]. `first` is the error of a direct attempt, if any.
fn decode_json_normalized<M: DeserializeOwned>(
    body: &[u8],
    first: Option<serde_json::Error>,
) -> Result<M, DecodeError> {
    let mut value: Value =
        serde_json::from_slice(body).map_err(|e| DecodeError::Json(e.to_string()))?;
    normalize_json(&mut value);
    serde_json::from_value(value).map_err(|second| {
        let second = second.to_string();
        // The first error carries a line and column; keep it when it is the same complaint.
        DecodeError::Json(match first.map(|e| e.to_string()) {
            Some(first) if first.starts_with(&second) => first,
            _ => second,
        })
    })
}

/// Rewrites OTLP/JSON deviations into what the `opentelemetry-proto` deserializers accept.
fn normalize_json(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, item| !item.is_null());
            // AnyValue {"doubleValue": "NaN"}: Ward stores non-finite attribute values as
            // strings anyway, so turn it into the string it would become.
            if let Some(Value::String(s)) = map.get("doubleValue")
                && let Some(text) = non_finite_name(s)
            {
                map.remove("doubleValue");
                map.insert("stringValue".to_owned(), Value::String(text.to_owned()));
            }
            let mut drop_keys = Vec::new();
            for (key, item) in map.iter_mut() {
                if !normalize_field(key, item) {
                    drop_keys.push(key.clone());
                }
                normalize_json(item);
            }
            for key in drop_keys {
                map.remove(&key);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_json),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// `"NaN"`, `"Infinity"`, `"-Infinity"` (and lower-case spellings) as Ward writes them.
fn non_finite_name(s: &str) -> Option<&'static str> {
    match s.trim().to_ascii_lowercase().as_str() {
        "nan" => Some("NaN"),
        "infinity" | "inf" | "+infinity" | "+inf" => Some("inf"),
        "-infinity" | "-inf" => Some("-inf"),
        _ => None,
    }
}

/// Normalizes one field by its name; returns false when the field should be dropped (a
/// non-finite float where the deserializer only takes numbers).
fn normalize_field(key: &str, item: &mut Value) -> bool {
    if let Value::Number(num) = item
        && num.as_u64().is_none()
        && matches!(
            key,
            "timeUnixNano"
                | "observedTimeUnixNano"
                | "startTimeUnixNano"
                | "endTimeUnixNano"
                | "count"
                | "zeroCount"
        )
        && let Some(f) = num
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1.8e19)
    {
        // `1.5447126603e18` or `3.0` where an unsigned 64-bit integer belongs.
        *item = Value::Number((f.round() as u64).into());
        return true;
    }
    let Value::String(s) = item else {
        if key == "explicitBounds"
            && let Value::Array(bounds) = item
        {
            bounds.iter_mut().for_each(|b| {
                if let Value::String(s) = b
                    && let Ok(f) = s.trim().parse::<f64>()
                    && let Some(n) = serde_json::Number::from_f64(f)
                {
                    *b = Value::Number(n);
                }
            });
        }
        return true;
    };
    match key {
        // Not hex: either base64 (protobuf's JSON mapping) or garbage. Garbage becomes the hex
        // of its own bytes so that the record, not the body, is refused.
        "traceId" | "spanId" | "parentSpanId" if hex::decode(s.as_bytes()).is_err() => {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s.as_bytes())
                .unwrap_or_else(|_| s.as_bytes().to_vec());
            *s = hex::encode(bytes);
        }
        "kind" => enum_value(item, |n| {
            ptrace::span::SpanKind::from_str_name(n).map(|k| k as i32)
        }),
        "code" => enum_value(item, |n| {
            ptrace::status::StatusCode::from_str_name(n).map(|k| k as i32)
        }),
        "severityNumber" => enum_value(item, |n| {
            plogs::SeverityNumber::from_str_name(n).map(|k| k as i32)
        }),
        "aggregationTemporality" => enum_value(item, |n| {
            pmetrics::AggregationTemporality::from_str_name(n).map(|k| k as i32)
        }),
        "flags"
        | "droppedAttributesCount"
        | "droppedEventsCount"
        | "droppedLinksCount"
        | "scale"
        | "offset" => enum_value(item, |_| None),
        "asDouble" | "sum" | "min" | "max" | "zeroThreshold" => {
            if non_finite_name(s).is_some() {
                return false;
            }
            if let Ok(f) = s.trim().parse::<f64>()
                && let Some(n) = serde_json::Number::from_f64(f)
            {
                *item = Value::Number(n);
            }
        }
        _ => {}
    }
    true
}

/// Replaces an enum name (via `by_name`) or a numeric string with its integer.
fn enum_value(item: &mut Value, by_name: impl Fn(&str) -> Option<i32>) {
    if let Value::String(s) = item {
        let number = by_name(s.trim())
            .map(i64::from)
            .or_else(|| s.trim().parse::<i64>().ok());
        if let Some(n) = number {
            *item = Value::Number(n.into());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Common conversions

/// Why one record was refused: the reason and the message.
type Refusal = (RejectReason, String);

/// An OTLP `AnyValue` as JSON: strings, booleans and integers as themselves, doubles as numbers
/// (non-finite ones as `"NaN"`, `"inf"`, `"-inf"`), bytes as base64, arrays as arrays, key/value
/// lists as objects, an empty value as `null`. Strings (and the base64 of bytes) longer than
/// `max_bytes` are truncated on a UTF-8 boundary.
pub fn any_value_to_json(value: AnyValue, max_bytes: usize) -> Value {
    oneof_to_json(value.value, max_bytes)
}

fn oneof_to_json(value: Option<any_value::Value>, max_bytes: usize) -> Value {
    use any_value::Value as V;
    match value {
        None | Some(V::StringValueStrindex(_)) => Value::Null,
        Some(V::StringValue(mut s)) => {
            truncate_utf8(&mut s, max_bytes);
            Value::String(s)
        }
        Some(V::BoolValue(b)) => Value::Bool(b),
        Some(V::IntValue(i)) => Value::Number(i.into()),
        Some(V::DoubleValue(f)) => float_to_json(f),
        Some(V::BytesValue(bytes)) => {
            use base64::Engine as _;
            // Only encode what survives truncation: 3 bytes become 4 characters.
            let keep = (max_bytes / 4).saturating_mul(3).min(bytes.len());
            let mut text =
                base64::engine::general_purpose::STANDARD.encode(bytes.get(..keep).unwrap_or(&[]));
            truncate_utf8(&mut text, max_bytes);
            Value::String(text)
        }
        Some(V::ArrayValue(array)) => Value::Array(
            array
                .values
                .into_iter()
                .map(|v| any_value_to_json(v, max_bytes))
                .collect(),
        ),
        Some(V::KvlistValue(list)) => Value::Object(attributes(list.values, max_bytes)),
    }
}

/// OTLP key/values as Ward attributes (a later duplicate key wins).
fn attributes(kvs: Vec<KeyValue>, max_bytes: usize) -> Attributes {
    let mut map = Attributes::new();
    for kv in kvs {
        let value = kv
            .value
            .map_or(Value::Null, |v| any_value_to_json(v, max_bytes));
        map.insert(kv.key, value);
    }
    map
}

/// The resource: `service.name` moves out of the attributes (default `unknown_service`).
fn resource(r: Option<ProtoResource>, max_bytes: usize) -> Resource {
    let mut attributes = attributes(r.map(|r| r.attributes).unwrap_or_default(), max_bytes);
    let service_name = match attributes.remove("service.name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        None | Some(Value::Null) | Some(Value::String(_)) => "unknown_service".to_owned(),
        Some(other) => other.to_string(),
    };
    Resource {
        service_name,
        attributes,
    }
}

fn scope(s: Option<InstrumentationScope>) -> Scope {
    s.map(|s| Scope {
        name: s.name,
        version: s.version,
    })
    .unwrap_or_default()
}

/// A timestamp field as i64 nanoseconds; values past year 2262 do not fit.
fn nanos(field: &str, t: u64) -> Result<i64, Refusal> {
    i64::try_from(t).map_err(|_| {
        (
            RejectReason::InvalidTimestamp,
            format!("{field} {t} is out of range (after year 2262)"),
        )
    })
}

/// Checks `t` (already converted from `raw`) against the window.
fn in_window(n: &Normalize, field: &str, t: i64) -> Result<i64, Refusal> {
    n.check_window(t)
        .map(|()| t)
        .map_err(|why| (RejectReason::InvalidTimestamp, format!("{field} {t} {why}")))
}

/// An optional id: empty → none, all zeros → none, any other length than `len` → refused.
fn optional_id<I>(
    bytes: &[u8],
    field: &str,
    len: usize,
    reason: RejectReason,
    parse: fn(&[u8]) -> Option<I>,
) -> Result<Option<I>, Refusal> {
    if bytes.is_empty() {
        return Ok(None);
    }
    if bytes.len() != len {
        return Err((
            reason,
            format!(
                "{field} has {} bytes, expected {len} ({} hex digits)",
                bytes.len(),
                len * 2
            ),
        ));
    }
    Ok(parse(bytes))
}

/// A required id: like [`optional_id`], but missing or all-zero ids are refused too.
fn required_id<I>(
    bytes: &[u8],
    field: &str,
    len: usize,
    reason: RejectReason,
    parse: fn(&[u8]) -> Option<I>,
) -> Result<I, Refusal> {
    if bytes.is_empty() {
        return Err((reason, format!("{field} is missing")));
    }
    optional_id(bytes, field, len, reason, parse)?
        .ok_or_else(|| (reason, format!("{field} is all zeros, which is invalid")))
}

// ---------------------------------------------------------------------------------------------
// Logs

/// Converts a logs request into log records.
///
/// * The record time is `time_unix_nano`, else `observed_time_unix_nano`, else now; it must lie
///   within the [`Normalize`] window or the record is refused (`invalid_timestamp`). An observed
///   time that is missing or outside the window becomes now.
/// * `trace_id`/`span_id`: empty or all zeros → none; any other length than 16/8 bytes → refused.
/// * A severity number outside 0–24 becomes 0, and the original number is kept in the attribute
///   [`ORIGINAL_SEVERITY_ATTRIBUTE`]. The severity text is kept as sent.
/// * A string body is kept as is, any other body as its JSON text, a missing body as `""`.
/// * A non-empty `event_name` becomes the attribute `event.name` (unless that is set).
pub fn logs_to_model(req: ExportLogsServiceRequest, n: &Normalize) -> Converted<LogRecord> {
    let mut out = Converted::default();
    let total: usize = req
        .resource_logs
        .iter()
        .flat_map(|r| r.scope_logs.iter())
        .map(|s| s.log_records.len())
        .sum();
    out.records.reserve(total);
    let mut index = 0;
    for (ri, rl) in req.resource_logs.into_iter().enumerate() {
        let res = resource(rl.resource, n.max_attribute_value_bytes);
        for (si, sl) in rl.scope_logs.into_iter().enumerate() {
            let sc = scope(sl.scope);
            for (li, lr) in sl.log_records.into_iter().enumerate() {
                match log_record(lr, &res, &sc, n) {
                    Ok(record) => out.records.push(record),
                    Err((reason, message)) => out.reject(
                        index,
                        format!("resourceLogs[{ri}].scopeLogs[{si}].logRecords[{li}]"),
                        reason,
                        message,
                    ),
                }
                index += 1;
            }
        }
    }
    out
}

fn log_record(
    lr: plogs::LogRecord,
    res: &Resource,
    sc: &Scope,
    n: &Normalize,
) -> Result<LogRecord, Refusal> {
    let trace_id = optional_id(
        &lr.trace_id,
        "trace_id",
        16,
        RejectReason::InvalidTraceId,
        TraceId::from_bytes,
    )?;
    let span_id = optional_id(
        &lr.span_id,
        "span_id",
        8,
        RejectReason::InvalidSpanId,
        SpanId::from_bytes,
    )?;
    let time = if lr.time_unix_nano != 0 {
        in_window(
            n,
            "time_unix_nano",
            nanos("time_unix_nano", lr.time_unix_nano)?,
        )?
    } else if lr.observed_time_unix_nano != 0 {
        let field = "observed_time_unix_nano";
        in_window(n, field, nanos(field, lr.observed_time_unix_nano)?)?
    } else {
        n.now_unix_nano
    };
    let observed = i64::try_from(lr.observed_time_unix_nano)
        .ok()
        .filter(|t| *t != 0 && n.check_window(*t).is_ok())
        .unwrap_or(n.now_unix_nano);

    let mut attrs = attributes(lr.attributes, n.max_attribute_value_bytes);
    let severity_number = match u8::try_from(lr.severity_number) {
        Ok(s) if s <= 24 => s,
        _ => {
            attrs.insert(
                ORIGINAL_SEVERITY_ATTRIBUTE.to_owned(),
                lr.severity_number.into(),
            );
            0
        }
    };
    if !lr.event_name.is_empty() {
        attrs
            .entry("event.name")
            .or_insert(Value::String(lr.event_name));
    }
    let body = match lr.body.and_then(|b| b.value) {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s,
        Some(other) => oneof_to_json(Some(other), usize::MAX).to_string(),
    };
    Ok(LogRecord {
        time_unix_nano: time,
        observed_time_unix_nano: observed,
        severity_number,
        severity_text: lr.severity_text,
        body,
        attributes: attrs,
        resource: res.clone(),
        scope: sc.clone(),
        trace_id,
        span_id,
    })
}

// ---------------------------------------------------------------------------------------------
// Traces

/// Converts a traces request into spans.
///
/// * `trace_id` must be 16 bytes and `span_id` 8 bytes, neither all zeros, or the span is
///   refused; `parent_span_id` empty or all zeros → root span, any other length → refused.
/// * `start_time_unix_nano` 0 → refused (`missing_field`); an end before the start, a start
///   outside the window, or an end beyond the window's future limit → refused.
/// * An event without a time gets the span's start. A link with an invalid id is dropped (the
///   span is kept).
pub fn traces_to_model(req: ExportTraceServiceRequest, n: &Normalize) -> Converted<Span> {
    let mut out = Converted::default();
    let total: usize = req
        .resource_spans
        .iter()
        .flat_map(|r| r.scope_spans.iter())
        .map(|s| s.spans.len())
        .sum();
    out.records.reserve(total);
    let mut index = 0;
    for (ri, rs) in req.resource_spans.into_iter().enumerate() {
        let res = resource(rs.resource, n.max_attribute_value_bytes);
        for (si, ss) in rs.scope_spans.into_iter().enumerate() {
            let sc = scope(ss.scope);
            for (pi, span) in ss.spans.into_iter().enumerate() {
                match span_record(span, &res, &sc, n) {
                    Ok(record) => out.records.push(record),
                    Err((reason, message)) => out.reject(
                        index,
                        format!("resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}]"),
                        reason,
                        message,
                    ),
                }
                index += 1;
            }
        }
    }
    out
}

fn span_record(
    s: ptrace::Span,
    res: &Resource,
    sc: &Scope,
    n: &Normalize,
) -> Result<Span, Refusal> {
    let max = n.max_attribute_value_bytes;
    let trace_id = required_id(
        &s.trace_id,
        "trace_id",
        16,
        RejectReason::InvalidTraceId,
        TraceId::from_bytes,
    )?;
    let span_id = required_id(
        &s.span_id,
        "span_id",
        8,
        RejectReason::InvalidSpanId,
        SpanId::from_bytes,
    )?;
    let parent_span_id = optional_id(
        &s.parent_span_id,
        "parent_span_id",
        8,
        RejectReason::InvalidSpanId,
        SpanId::from_bytes,
    )?;
    if s.start_time_unix_nano == 0 {
        return Err((
            RejectReason::MissingField,
            "start_time_unix_nano is missing".to_owned(),
        ));
    }
    let start = nanos("start_time_unix_nano", s.start_time_unix_nano)?;
    let end = nanos("end_time_unix_nano", s.end_time_unix_nano)?;
    if end < start {
        return Err((
            RejectReason::InvalidTimestamp,
            format!("end_time_unix_nano {end} is before start_time_unix_nano {start}"),
        ));
    }
    in_window(n, "start_time_unix_nano", start)?;
    in_window(n, "end_time_unix_nano", end)?;

    let events = s
        .events
        .into_iter()
        .map(|e| SpanEvent {
            time_unix_nano: i64::try_from(e.time_unix_nano)
                .ok()
                .filter(|t| *t != 0)
                .unwrap_or(start),
            name: e.name,
            attributes: attributes(e.attributes, max),
        })
        .collect();
    let links = s
        .links
        .into_iter()
        .filter_map(|l| {
            Some(SpanLink {
                trace_id: TraceId::from_bytes(&l.trace_id)?,
                span_id: SpanId::from_bytes(&l.span_id)?,
                trace_state: l.trace_state,
                attributes: attributes(l.attributes, max),
            })
        })
        .collect();
    let status = s
        .status
        .map(|st| SpanStatus {
            code: StatusCode::from_number(st.code),
            message: st.message,
        })
        .unwrap_or_default();
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id,
        trace_state: s.trace_state,
        name: s.name,
        kind: SpanKind::from_number(s.kind),
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        status,
        attributes: attributes(s.attributes, max),
        events,
        links,
        resource: res.clone(),
        scope: sc.clone(),
    })
}

// ---------------------------------------------------------------------------------------------
// Metrics

/// The `NO_RECORDED_VALUE` data point flag (a staleness marker: the series ended).
const FLAG_NO_RECORDED_VALUE: u32 = 1;

/// What every point of one metric shares.
struct MetricMeta<'a> {
    name: &'a str,
    description: &'a str,
    unit: &'a str,
    kind: MetricKind,
    temporality: Temporality,
    monotonic: bool,
    resource: &'a Resource,
    scope: &'a Scope,
    /// `resourceMetrics[r].scopeMetrics[s].metrics[m].sum`
    location: &'a dyn Fn() -> String,
}

/// One data point, before conversion.
struct RawPoint {
    start: u64,
    time: u64,
    flags: u32,
    attributes: Vec<KeyValue>,
    value: Result<MetricValue, Refusal>,
}

/// Converts a metrics request into metric points, one per data point.
///
/// * Every kind is converted: gauge, sum (temporality, monotonic), histogram, exponential
///   histogram, summary. Integer values become `f64`.
/// * A point without a time gets now; a time outside the window → refused. A metric without a
///   name, or a gauge/sum point without a value or with a non-finite one → refused.
/// * Points flagged `NO_RECORDED_VALUE` (staleness markers) carry no data and are skipped
///   without being counted as rejected. A metric without data (or whose OTLP/JSON data could
///   not be read) is one rejection, located at the metric and counted as one record.
/// * Histograms: bounds must be finite and strictly increasing (else refused). Missing bucket
///   counts become one bucket holding `count`; more counts than `bounds + 1` are summed into the
///   overflow bucket, fewer drop the bounds past them (both keep every count correct). A
///   non-finite `sum`, `min` or `max` is dropped. Summary quantiles with a non-finite value are
///   dropped; a non-finite summary sum → refused.
pub fn metrics_to_model(req: ExportMetricsServiceRequest, n: &Normalize) -> Converted<MetricPoint> {
    use pmetrics::metric::Data;
    let mut out = Converted::default();
    let mut index = 0;
    for (ri, rm) in req.resource_metrics.into_iter().enumerate() {
        let res = resource(rm.resource, n.max_attribute_value_bytes);
        for (si, sm) in rm.scope_metrics.into_iter().enumerate() {
            let sc = scope(sm.scope);
            for (mi, metric) in sm.metrics.into_iter().enumerate() {
                let Some(data) = metric.data else {
                    out.reject(
                        index,
                        format!("resourceMetrics[{ri}].scopeMetrics[{si}].metrics[{mi}]"),
                        RejectReason::InvalidValue,
                        format!(
                            "metric {} has no data (gauge, sum, histogram, exponentialHistogram \
                             or summary), or its data could not be read",
                            crate::snippet(&metric.name)
                        ),
                    );
                    index += 1;
                    continue;
                };
                let (kind, field, temporality, monotonic, points) = match data {
                    Data::Gauge(g) => (
                        MetricKind::Gauge,
                        "gauge",
                        Temporality::Unspecified,
                        false,
                        g.data_points
                            .into_iter()
                            .map(number_point)
                            .collect::<Vec<_>>(),
                    ),
                    Data::Sum(s) => (
                        MetricKind::Sum,
                        "sum",
                        temporality(s.aggregation_temporality),
                        s.is_monotonic,
                        s.data_points.into_iter().map(number_point).collect(),
                    ),
                    Data::Histogram(h) => (
                        MetricKind::Histogram,
                        "histogram",
                        temporality(h.aggregation_temporality),
                        false,
                        h.data_points.into_iter().map(histogram_point).collect(),
                    ),
                    Data::ExponentialHistogram(h) => (
                        MetricKind::ExponentialHistogram,
                        "exponentialHistogram",
                        temporality(h.aggregation_temporality),
                        false,
                        h.data_points.into_iter().map(exponential_point).collect(),
                    ),
                    Data::Summary(s) => (
                        MetricKind::Summary,
                        "summary",
                        Temporality::Unspecified,
                        false,
                        s.data_points.into_iter().map(summary_point).collect(),
                    ),
                };
                let location =
                    || format!("resourceMetrics[{ri}].scopeMetrics[{si}].metrics[{mi}].{field}");
                let meta = MetricMeta {
                    name: &metric.name,
                    description: &metric.description,
                    unit: &metric.unit,
                    kind,
                    temporality,
                    monotonic,
                    resource: &res,
                    scope: &sc,
                    location: &location,
                };
                out.records.reserve(points.len());
                for (pi, point) in points.into_iter().enumerate() {
                    let this = index;
                    index += 1;
                    if point.flags & FLAG_NO_RECORDED_VALUE != 0 {
                        continue;
                    }
                    match metric_point(&meta, point, n) {
                        Ok(p) => out.records.push(p),
                        Err((reason, message)) => out.reject(
                            this,
                            format!("{}.dataPoints[{pi}]", (meta.location)()),
                            reason,
                            message,
                        ),
                    }
                }
            }
        }
    }
    out
}

fn temporality(t: i32) -> Temporality {
    match t {
        1 => Temporality::Delta,
        2 => Temporality::Cumulative,
        _ => Temporality::Unspecified,
    }
}

fn metric_point(meta: &MetricMeta<'_>, p: RawPoint, n: &Normalize) -> Result<MetricPoint, Refusal> {
    if meta.name.is_empty() {
        return Err((
            RejectReason::MissingField,
            "metric name is missing".to_owned(),
        ));
    }
    let value = p.value?;
    let time = if p.time == 0 {
        n.now_unix_nano
    } else {
        in_window(n, "time_unix_nano", nanos("time_unix_nano", p.time)?)?
    };
    Ok(MetricPoint {
        name: meta.name.to_owned(),
        description: meta.description.to_owned(),
        unit: meta.unit.to_owned(),
        kind: meta.kind,
        temporality: meta.temporality,
        monotonic: meta.monotonic,
        start_time_unix_nano: i64::try_from(p.start).unwrap_or(0),
        time_unix_nano: time,
        attributes: attributes(p.attributes, n.max_attribute_value_bytes),
        value,
        resource: meta.resource.clone(),
        scope: meta.scope.clone(),
    })
}

fn finite(f: Option<f64>) -> Option<f64> {
    f.filter(|f| f.is_finite())
}

fn number_point(p: pmetrics::NumberDataPoint) -> RawPoint {
    use pmetrics::number_data_point::Value as V;
    let value = match p.value {
        Some(V::AsDouble(f)) if f.is_finite() => Ok(MetricValue::Number { value: f }),
        Some(V::AsDouble(f)) => Err((
            RejectReason::InvalidValue,
            format!("value {f} is not a finite number"),
        )),
        Some(V::AsInt(i)) => Ok(MetricValue::Number { value: i as f64 }),
        None => Err((
            RejectReason::InvalidValue,
            "data point has no value (asDouble or asInt; non-finite JSON values are dropped)"
                .to_owned(),
        )),
    };
    RawPoint {
        start: p.start_time_unix_nano,
        time: p.time_unix_nano,
        flags: p.flags,
        attributes: p.attributes,
        value,
    }
}

fn histogram_point(p: pmetrics::HistogramDataPoint) -> RawPoint {
    let value = histogram_value(
        p.count,
        p.sum,
        p.explicit_bounds,
        p.bucket_counts,
        p.min,
        p.max,
    );
    RawPoint {
        start: p.start_time_unix_nano,
        time: p.time_unix_nano,
        flags: p.flags,
        attributes: p.attributes,
        value,
    }
}

fn histogram_value(
    count: u64,
    sum: Option<f64>,
    mut bounds: Vec<f64>,
    mut counts: Vec<u64>,
    min: Option<f64>,
    max: Option<f64>,
) -> Result<MetricValue, Refusal> {
    if bounds.iter().any(|b| !b.is_finite()) {
        return Err((
            RejectReason::InvalidValue,
            "histogram bounds must be finite".to_owned(),
        ));
    }
    if bounds.windows(2).any(|w| matches!(w, [a, b] if a >= b)) {
        return Err((
            RejectReason::InvalidValue,
            "histogram bounds must be strictly increasing".to_owned(),
        ));
    }
    if counts.is_empty() {
        bounds.clear();
        counts.push(count);
    } else if counts.len() > bounds.len() + 1 {
        // Buckets past the last bound all lie above it: they belong in the overflow bucket.
        let overflow: u64 = counts
            .iter()
            .skip(bounds.len())
            .fold(0u64, |a, c| a.saturating_add(*c));
        counts.truncate(bounds.len());
        counts.push(overflow);
    } else if counts.len() < bounds.len() + 1 {
        // The last count covers everything above the bound before it.
        bounds.truncate(counts.len() - 1);
    }
    Ok(MetricValue::Histogram {
        count,
        sum: finite(sum),
        bounds,
        counts,
        min: finite(min),
        max: finite(max),
    })
}

fn exponential_point(p: pmetrics::ExponentialHistogramDataPoint) -> RawPoint {
    let (positive_offset, positive_counts) = p
        .positive
        .map(|b| (b.offset, b.bucket_counts))
        .unwrap_or_default();
    let (negative_offset, negative_counts) = p
        .negative
        .map(|b| (b.offset, b.bucket_counts))
        .unwrap_or_default();
    let value = Ok(MetricValue::ExponentialHistogram {
        count: p.count,
        sum: finite(p.sum),
        scale: p.scale,
        zero_count: p.zero_count,
        positive_offset,
        positive_counts,
        negative_offset,
        negative_counts,
    });
    RawPoint {
        start: p.start_time_unix_nano,
        time: p.time_unix_nano,
        flags: p.flags,
        attributes: p.attributes,
        value,
    }
}

fn summary_point(p: pmetrics::SummaryDataPoint) -> RawPoint {
    let value = if p.sum.is_finite() {
        Ok(MetricValue::Summary {
            count: p.count,
            sum: p.sum,
            quantiles: p
                .quantile_values
                .into_iter()
                .filter(|q| q.quantile.is_finite() && q.value.is_finite())
                .map(|q| (q.quantile, q.value))
                .collect(),
        })
    } else {
        Err((
            RejectReason::InvalidValue,
            format!("summary sum {} is not a finite number", p.sum),
        ))
    };
    RawPoint {
        start: p.start_time_unix_nano,
        time: p.time_unix_nano,
        flags: p.flags,
        attributes: p.attributes,
        value,
    }
}

#[cfg(test)]
#[path = "otlp_tests.rs"]
mod tests;
