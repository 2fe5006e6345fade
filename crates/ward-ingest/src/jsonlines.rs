//! JSON logs as logging libraries write them.
//!
//! A body is either JSON lines (one object per line; blank lines are skipped, CRLF is fine) or
//! one JSON array of objects (told apart by the first non-space byte being `[`). A body of
//! pretty-printed objects spanning several lines is read as a stream of objects.
//!
//! Each object becomes one [`LogRecord`]. The well-known fields are recognised whatever library
//! wrote them, and every other field is kept as an attribute (nested objects flattened to dotted
//! keys, arrays kept as arrays):
//!
//! | what | keys, first found wins |
//! |---|---|
//! | message | `message`, `msg`, `event` (structlog), `body`, `text`; `fields.message` for tracing-subscriber |
//! | level | `level`, `log.level` (ECS), `severity`, `lvl`, `levelname`, `severity_text`, `severity_number` |
//! | time | `time`, `timestamp`, `@timestamp`, `ts`, `t`, `datetime`, `asctime` (Python) |
//! | trace id | `trace_id`, `traceId`, `trace.id`, `otelTraceID`, `dd.trace_id` |
//! | span id | `span_id`, `spanId`, `span.id`, `otelSpanID`, `dd.span_id` |
//! | service | `service.name`, `service`, `name` (pino and bunyan), else the default service |
//!
//! A dotted key matches both the flat form (`"log.level": "info"`) and the nested one
//! (`"log": {"level": "info"}`).
//!
//! * Levels: names through [`Severity::from_name`] (`warning`, `CRITICAL`, …); numbers the pino
//!   and bunyan way (10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal, values in
//!   between rounded up); under `severity_number` numbers are OpenTelemetry severity numbers.
//!   The severity text keeps the level as written (`"30"`, `"warning"`).
//! * Times: RFC 3339, `2024-01-15 10:00:00,123` style (UTC assumed), RFC 2822, or a Unix epoch
//!   number (or numeric string) in seconds, milliseconds, microseconds or nanoseconds, told apart
//!   by magnitude. A missing time is now; an unparseable one refuses the line, as does a time
//!   outside the [`Normalize`] window.
//! * Ids must be 32 (trace) or 16 (span) hexadecimal digits, or the line is refused; except
//!   Datadog's `dd.trace_id`/`dd.span_id`, usually decimal, which are kept as attributes when
//!   they are not hexadecimal ids.
//! * tracing-subscriber's JSON (`fields` object plus `target`/`level`): `fields.message` is the
//!   message and the other `fields.*` become attributes without the `fields.` prefix; `span` and
//!   `spans` stay attributes (its `span.id` is not a span id).

use std::str::FromStr;

use serde_json::{Map, Value};
use ward_model::time::{scale_epoch_integer, scale_epoch_number};
use ward_model::{Attributes, IdError, LogRecord, Resource, Severity, SpanId, TraceId};

use crate::{Converted, Normalize, RejectReason, snippet, truncate_value};

/// Lines longer than this (bytes) are refused with [`RejectReason::TooLarge`].
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The service of records that name none and were sent without a default.
const UNKNOWN_SERVICE: &str = "unknown_service";

const MESSAGE_KEYS: [&str; 5] = ["message", "msg", "event", "body", "text"];
const LEVEL_KEYS: [&str; 7] = [
    "level",
    "log.level",
    "severity",
    "lvl",
    "levelname",
    "severity_text",
    "severity_number",
];
const TIME_KEYS: [&str; 7] = [
    "time",
    "timestamp",
    "@timestamp",
    "ts",
    "t",
    "datetime",
    "asctime",
];
const TRACE_ID_KEYS: [&str; 5] = [
    "trace_id",
    "traceId",
    "trace.id",
    "otelTraceID",
    "dd.trace_id",
];
const SPAN_ID_KEYS: [&str; 5] = ["span_id", "spanId", "span.id", "otelSpanID", "dd.span_id"];

/// Why one line was refused.
type Refusal = (RejectReason, String);

/// Parses a body of JSON log lines (or a JSON array of log objects) into log records.
///
/// `default_service` is the service of records that do not name one (`unknown_service` when
/// `None`). Each malformed line is refused on its own: invalid JSON (`location` `line N`,
/// 1-based, with the parser's message), invalid UTF-8, a value that is not an object, a line
/// over [`MAX_LINE_BYTES`], and the field-level problems described in the [module
/// docs](self). A malformed array is one rejection covering the whole body (index 0).
pub fn parse(body: &[u8], default_service: Option<&str>, n: &Normalize) -> Converted<LogRecord> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut out = Converted::default();
    let ctx = Context {
        service: default_service.unwrap_or(UNKNOWN_SERVICE),
        n,
    };
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => {}
        Some(b'[') => parse_array(body, &ctx, &mut out),
        Some(_) => {
            if let Some(values) = multi_line_objects(body) {
                for (index, (line, value)) in values.into_iter().enumerate() {
                    ctx.push(&mut out, index, || format!("line {line}"), value);
                }
            } else {
                parse_lines(body, &ctx, &mut out);
            }
        }
    }
    out
}

/// What every record of one request shares.
struct Context<'a> {
    service: &'a str,
    n: &'a Normalize,
}

impl Context<'_> {
    /// Converts one parsed value and files it as a record or a rejection.
    fn push(
        &self,
        out: &mut Converted<LogRecord>,
        index: usize,
        location: impl FnOnce() -> String,
        value: Value,
    ) {
        let result = match value {
            Value::Object(map) => self.record(map),
            other => Err((
                RejectReason::InvalidValue,
                format!("expected a JSON object, got {}", kind_of(&other)),
            )),
        };
        match result {
            Ok(record) => out.records.push(record),
            Err((reason, message)) => out.reject(index, location(), reason, message),
        }
    }

    /// One log object → one record.
    fn record(&self, mut map: Map<String, Value>) -> Result<LogRecord, Refusal> {
        let n = self.n;
        let tracing_shape = map.get("fields").is_some_and(Value::is_object)
            && (map.contains_key("target") || map.contains_key("level"));

        // Time first: an unparseable time refuses the line before any other work.
        let time = match take_first(&mut map, &TIME_KEYS, |_, v| !v.is_null()) {
            None => n.now_unix_nano,
            Some((key, value)) => {
                let t = parse_time(&value).ok_or_else(|| {
                    (
                        RejectReason::InvalidTimestamp,
                        format!(
                            "{key} {} is not a recognised time",
                            snippet(&value.to_string())
                        ),
                    )
                })?;
                n.check_window(t).map_err(|why| {
                    (
                        RejectReason::InvalidTimestamp,
                        format!("{key} {} {why}", snippet(&value.to_string())),
                    )
                })?;
                t
            }
        };

        let trace_id = take_id::<TraceId>(&mut map, &TRACE_IDS, false)?;
        let span_id = take_id::<SpanId>(&mut map, &SPAN_IDS, tracing_shape)?;

        let mut fields = if tracing_shape {
            match map.remove("fields") {
                Some(Value::Object(fields)) => fields,
                _ => Map::new(),
            }
        } else {
            Map::new()
        };
        let body = if tracing_shape {
            take_path_if(&mut fields, "message", |v| !v.is_null()).map(message_text)
        } else {
            None
        };
        let body = body
            .or_else(|| {
                take_first(&mut map, &MESSAGE_KEYS, |key, v| match v {
                    Value::String(_) => true,
                    Value::Null | Value::Object(_) => false,
                    _ => matches!(key, "message" | "msg" | "body"),
                })
                .map(|(_, v)| message_text(v))
            })
            .unwrap_or_default();

        let (severity_number, severity_text) = match take_first(&mut map, &LEVEL_KEYS, |_, v| {
            matches!(v, Value::String(_) | Value::Number(_))
        }) {
            Some((key, value)) => level(key, &value),
            None => (0, String::new()),
        };

        let service_name = take_first(&mut map, &["service.name", "service", "name"], |_, v| {
            v.as_str().is_some_and(|s| !s.trim().is_empty())
        })
        .and_then(|(_, v)| match v {
            Value::String(s) => Some(s),
            _ => None,
        })
        .unwrap_or_else(|| self.service.to_owned());

        let max = n.max_attribute_value_bytes;
        let mut attributes = Attributes::new();
        flatten_into("", map, &mut attributes, max);
        flatten_into("", fields, &mut attributes, max);

        Ok(LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: n.now_unix_nano,
            severity_number,
            severity_text,
            body,
            attributes,
            resource: Resource {
                service_name,
                attributes: Attributes::new(),
            },
            scope: Default::default(),
            trace_id,
            span_id,
        })
    }
}

/// Where to look for one kind of id, and how to complain about it.
struct IdKeys {
    keys: [&'static str; 5],
    /// Kept as an attribute when it is not a hexadecimal id (Datadog's decimal ids).
    lenient_key: &'static str,
    reason: RejectReason,
    what: &'static str,
    digits: usize,
}

const TRACE_IDS: IdKeys = IdKeys {
    keys: TRACE_ID_KEYS,
    lenient_key: "dd.trace_id",
    reason: RejectReason::InvalidTraceId,
    what: "trace id",
    digits: 32,
};

const SPAN_IDS: IdKeys = IdKeys {
    keys: SPAN_ID_KEYS,
    lenient_key: "dd.span_id",
    reason: RejectReason::InvalidSpanId,
    what: "span id",
    digits: 16,
};

/// Finds, validates and removes a trace or span id. With `skip_span_dot`, `span.id` is not
/// looked at (tracing-subscriber's `span` object is not an ECS span).
fn take_id<I: FromStr<Err = IdError>>(
    map: &mut Map<String, Value>,
    kind: &IdKeys,
    skip_span_dot: bool,
) -> Result<Option<I>, Refusal> {
    for key in kind.keys {
        if skip_span_dot && key == "span.id" {
            continue;
        }
        let Some(value) = get_path(map, key) else {
            continue;
        };
        let parsed = match value {
            Value::Null => None,
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(s.trim().parse::<I>()),
            _ => Some(Err(IdError::BadHex {
                expected: kind.digits,
                got: String::new(),
            })),
        };
        match parsed {
            Some(Err(IdError::BadHex { .. })) if key == kind.lenient_key => continue,
            Some(Err(IdError::BadHex { .. })) => {
                return Err((
                    kind.reason,
                    format!(
                        "{key} {} is not a {} ({} hexadecimal digits)",
                        snippet(&value.to_string()),
                        kind.what,
                        kind.digits
                    ),
                ));
            }
            Some(Ok(id)) => {
                take_path(map, key);
                return Ok(Some(id));
            }
            // Empty, null or all zeros: "no id".
            None | Some(Err(_)) => {
                take_path(map, key);
                return Ok(None);
            }
        }
    }
    Ok(None)
}

/// Splits a line-oriented body and converts each non-blank line.
fn parse_lines(body: &[u8], ctx: &Context<'_>, out: &mut Converted<LogRecord>) {
    let mut index = 0;
    for (i, raw) in body.split(|b| *b == b'\n').enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let this = index;
        index += 1;
        let location = || format!("line {line_no}");
        match parse_line(line) {
            Ok(value) => ctx.push(out, this, location, value),
            Err((reason, message)) => out.reject(this, location(), reason, message),
        }
    }
}

/// One line → one JSON value.
fn parse_line(line: &[u8]) -> Result<Value, Refusal> {
    if line.len() > MAX_LINE_BYTES {
        return Err((
            RejectReason::TooLarge,
            format!(
                "line is {} bytes, more than the limit of {MAX_LINE_BYTES}",
                line.len()
            ),
        ));
    }
    let text = std::str::from_utf8(line).map_err(|e| {
        (
            RejectReason::InvalidUtf8,
            format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        )
    })?;
    serde_json::from_str(text)
        .map_err(|e| (RejectReason::InvalidJson, format!("invalid JSON: {e}")))
}

/// A body that is one JSON array of objects.
fn parse_array(body: &[u8], ctx: &Context<'_>, out: &mut Converted<LogRecord>) {
    let whole = " (the whole body is refused)";
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(e) => {
            let message = format!("invalid UTF-8 at byte {}{whole}", e.valid_up_to());
            out.reject(0, "body".to_owned(), RejectReason::InvalidUtf8, message);
            return;
        }
    };
    match serde_json::from_str::<Vec<Value>>(text) {
        Ok(items) => {
            for (index, item) in items.into_iter().enumerate() {
                ctx.push(out, index, || format!("array[{index}]"), item);
            }
        }
        Err(e) => {
            let message = format!("invalid JSON array: {e}{whole}");
            out.reject(0, "body".to_owned(), RejectReason::InvalidJson, message);
        }
    }
}

/// When the first non-blank line is the start of an object continued on later lines (pretty
/// printed JSON), reads the body as a stream of JSON values; `None` when that fails too, so the
/// caller falls back to line by line. Returns each value with the line it starts on.
fn multi_line_objects(body: &[u8]) -> Option<Vec<(usize, Value)>> {
    let first_line = body
        .split(|b| *b == b'\n')
        .find(|line| !line.iter().all(u8::is_ascii_whitespace))?;
    if first_line.len() > MAX_LINE_BYTES {
        return None;
    }
    match serde_json::from_slice::<Value>(first_line) {
        Err(e) if e.is_eof() => {}
        _ => return None,
    }
    let text = std::str::from_utf8(body).ok()?;
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut values = Vec::new();
    loop {
        let offset = stream.byte_offset();
        match stream.next() {
            None => break,
            Some(Ok(value)) => {
                let rest = text.get(offset..).unwrap_or("");
                let start = offset + (rest.len() - rest.trim_start().len());
                let line = text.get(..start).unwrap_or("").matches('\n').count() + 1;
                values.push((line, value));
            }
            Some(Err(_)) => return None,
        }
    }
    Some(values)
}

/// A short name of a JSON value's type, for messages.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value as it would be quoted in a message: strings without quotes, the rest as JSON.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The message of a record: strings as they are, other values as their JSON text.
fn message_text(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// The value at a dotted `path`: the flat key itself, or nested objects (`log` → `level`).
fn get_path<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = map.get(path) {
        return Some(v);
    }
    let (head, rest) = path.split_once('.')?;
    get_path(map.get(head)?.as_object()?, rest)
}

/// Removes and returns the value at `path`, dropping nested objects left empty.
fn take_path(map: &mut Map<String, Value>, path: &str) -> Option<Value> {
    if let Some(v) = map.remove(path) {
        return Some(v);
    }
    let (head, rest) = path.split_once('.')?;
    let child = map.get_mut(head)?.as_object_mut()?;
    let v = take_path(child, rest)?;
    if child.is_empty() {
        map.remove(head);
    }
    Some(v)
}

/// [`take_path`] when the value there satisfies `accept`.
fn take_path_if(
    map: &mut Map<String, Value>,
    path: &str,
    accept: impl Fn(&Value) -> bool,
) -> Option<Value> {
    if get_path(map, path).is_some_and(accept) {
        take_path(map, path)
    } else {
        None
    }
}

/// The first of `keys` present with an acceptable value, removed, with its key.
fn take_first<'k>(
    map: &mut Map<String, Value>,
    keys: &[&'k str],
    accept: impl Fn(&str, &Value) -> bool,
) -> Option<(&'k str, Value)> {
    let key = keys
        .iter()
        .find(|key| get_path(map, key).is_some_and(|v| accept(key, v)))?;
    take_path(map, key).map(|v| (*key, v))
}

/// Severity number and text of a level field.
fn level(key: &str, value: &Value) -> (u8, String) {
    let text = value_text(value);
    let number = match value {
        Value::String(s) => match Severity::from_name(s) {
            Some(level) => Some(level.number()),
            None => s.trim().parse::<f64>().ok().map(|f| numeric_level(key, f)),
        },
        Value::Number(num) => num.as_f64().map(|f| numeric_level(key, f)),
        _ => None,
    };
    (number.unwrap_or(0), text)
}

/// A numeric level: OpenTelemetry severity numbers under `severity_number`, pino/bunyan levels
/// elsewhere.
fn numeric_level(key: &str, f: f64) -> u8 {
    if key == "severity_number" {
        return if (0.0..=24.0).contains(&f) && f.fract() == 0.0 {
            f as u8
        } else {
            0
        };
    }
    if f.is_nan() {
        return 0;
    }
    let level = if f <= 10.0 {
        Severity::Trace
    } else if f <= 20.0 {
        Severity::Debug
    } else if f <= 30.0 {
        Severity::Info
    } else if f <= 40.0 {
        Severity::Warn
    } else if f <= 50.0 {
        Severity::Error
    } else {
        Severity::Fatal
    };
    level.number()
}

/// A time field as Unix nanoseconds.
fn parse_time(v: &Value) -> Option<i64> {
    match v {
        Value::Number(num) => match num.as_i64() {
            Some(i) => Some(scale_epoch_integer(i)),
            None => decimal_epoch(&num.to_string()).or_else(|| {
                num.as_f64()
                    .filter(|f| f.is_finite() && f.abs() < 1e19)
                    .map(scale_epoch_number)
            }),
        },
        Value::String(s) => parse_time_text(s.trim()),
        _ => None,
    }
}

fn parse_time_text(s: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDateTime};
    if s.is_empty() {
        return None;
    }
    if let Ok(i) = s.parse::<i64>() {
        return Some(scale_epoch_integer(i));
    }
    if let Some(t) = decimal_epoch(s) {
        return Some(t);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return dt.timestamp_nanos_opt();
    }
    // Python's asctime writes `2024-01-15 10:00:00,123`.
    let dotted = s.replacen(',', ".", 1);
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f %z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(&dotted, format) {
            return dt.timestamp_nanos_opt();
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(&dotted, format) {
            return dt.and_utc().timestamp_nanos_opt();
        }
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_nanos_opt();
    }
    DateTime::parse_from_rfc2822(s)
        .ok()
        .and_then(|dt| dt.timestamp_nanos_opt())
}

/// A decimal Unix epoch (`1700000000.25`, `1700000000123.456`) in seconds, milliseconds,
/// microseconds or nanoseconds told apart by the magnitude of its integer part, converted
/// exactly (no floating-point rounding).
fn decimal_epoch(text: &str) -> Option<i64> {
    let (int_part, frac_part) = text.split_once('.')?;
    let digits = int_part.strip_prefix('-').unwrap_or(int_part);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || frac_part.is_empty()
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int: i64 = int_part.parse().ok()?;
    let (factor, frac_digits) = match int.unsigned_abs() {
        a if a < 100_000_000_000 => (1_000_000_000, 9),
        a if a < 100_000_000_000_000 => (1_000_000, 6),
        a if a < 100_000_000_000_000_000 => (1_000, 3),
        _ => (1, 0),
    };
    let mut frac: i64 = 0;
    for i in 0..frac_digits {
        let digit = frac_part
            .as_bytes()
            .get(i)
            .map_or(0, |b| i64::from(b - b'0'));
        frac = frac * 10 + digit;
    }
    let whole = int.checked_mul(factor)?;
    if int_part.starts_with('-') {
        whole.checked_sub(frac)
    } else {
        whole.checked_add(frac)
    }
}

/// Flattens nested objects into dotted keys (arrays and scalars are kept as they are; strings
/// longer than `max` bytes are truncated). A later key wins over an earlier one.
fn flatten_into(prefix: &str, map: Map<String, Value>, out: &mut Attributes, max: usize) {
    for (key, value) in map {
        let key = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Object(inner) if !inner.is_empty() => flatten_into(&key, inner, out, max),
            mut other => {
                truncate_value(&mut other, max);
                out.insert(key, other);
            }
        }
    }
}

#[cfg(test)]
#[path = "jsonlines_tests.rs"]
mod tests;
