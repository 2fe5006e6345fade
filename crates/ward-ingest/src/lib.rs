//! Pure decoders of Ward: request bodies in, [`ward_model`] records out.
//!
//! Nothing here touches the network, files or an async runtime; the server hands over the bytes
//! of a request body and gets back records plus the list of records it refused.
//!
//! * [`decompress`] undoes `Content-Encoding` (`gzip`, `x-gzip`, `deflate`, `identity`) and
//!   refuses to produce more than a given number of bytes, without allocating beyond it.
//! * [`otlp`] decodes OTLP/HTTP bodies ([protobuf](otlp::Encoding::Protobuf) or
//!   [JSON](otlp::Encoding::Json)) into the `opentelemetry-proto` request types, and converts
//!   those into [`LogRecord`](ward_model::LogRecord)s, [`Span`](ward_model::Span)s and
//!   [`MetricPoint`](ward_model::MetricPoint)s.
//! * [`jsonlines`] parses JSON logs as logging libraries write them (pino, bunyan, structlog,
//!   tracing-subscriber, ECS and generic shapes), one object per line or a JSON array.
//!
//! Conversion is per record: a record with, say, a timestamp ten years in the future is refused
//! with a [`Rejection`] naming its position and the reason, and every other record of the batch
//! is kept ([`Converted`]). Only a body that cannot be decoded at all is an error
//! ([`DecodeError`]). [`Normalize`] carries the clock and the limits used while converting.
//!
//! ```
//! use ward_ingest::{Normalize, RejectReason, decompress, jsonlines};
//!
//! let body = b"{\"level\":30,\"time\":1700000000000,\"msg\":\"tool call ok\",\"tool\":\"search\"}\n\
//!              {\"level\":50,\"time\":\"not a time\",\"msg\":\"boom\"}\n";
//! let plain = decompress(body, None, 1 << 20).unwrap();
//! let out = jsonlines::parse(&plain, Some("planner"), &Normalize::new(1_700_000_060_000_000_000));
//! assert_eq!(out.records.len(), 1);
//! assert_eq!(out.records[0].body, "tool call ok");
//! assert_eq!(out.records[0].attributes["tool"], "search");
//! assert_eq!(out.rejected[0].reason, RejectReason::InvalidTimestamp);
//! assert_eq!(
//!     out.partial_success_message(),
//!     r#"rejected 1 of 2 log records: line 2: time "not a time" is not a recognised time"#
//! );
//! ```

pub mod jsonlines;
pub mod otlp;

mod decompress;

pub use decompress::{DecodeError, decompress};

use serde_json::Value;

/// One hour in nanoseconds.
const HOUR_NANOS: i64 = 3_600 * 1_000_000_000;
/// One day in nanoseconds.
const DAY_NANOS: i64 = 24 * HOUR_NANOS;

/// Limits and clock used while converting records.
#[derive(Debug, Clone)]
pub struct Normalize {
    /// The current time, Unix nanoseconds: used for missing timestamps and for the window.
    pub now_unix_nano: i64,
    /// How far in the future a record's time may be (nanoseconds) before it is refused.
    pub max_future_nanos: i64,
    /// How far in the past a record's time may be (nanoseconds) before it is refused.
    pub max_age_nanos: i64,
    /// Attribute string values longer than this many bytes are truncated (on a UTF-8 boundary).
    pub max_attribute_value_bytes: usize,
}

impl Normalize {
    /// Limits with the defaults: 1 hour into the future, 30 days into the past, 64 KiB per
    /// attribute value.
    pub fn new(now_unix_nano: i64) -> Self {
        Normalize {
            now_unix_nano,
            max_future_nanos: HOUR_NANOS,
            max_age_nanos: 30 * DAY_NANOS,
            max_attribute_value_bytes: 64 * 1024,
        }
    }

    /// Checks that `t` lies within `[now - max_age, now + max_future]`; on failure returns the
    /// end of a sentence saying which limit was crossed ("is more than 1h in the future").
    pub(crate) fn check_window(&self, t: i64) -> Result<(), String> {
        let latest = self.now_unix_nano.saturating_add(self.max_future_nanos);
        let earliest = self.now_unix_nano.saturating_sub(self.max_age_nanos);
        if t > latest {
            Err(format!(
                "is more than {} in the future",
                format_duration(self.max_future_nanos)
            ))
        } else if t < earliest {
            Err(format!(
                "is more than {} in the past",
                format_duration(self.max_age_nanos)
            ))
        } else {
            Ok(())
        }
    }
}

/// A record the decoder refused, and why. Other records of the batch are kept.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rejection {
    /// Flat position of the record in the request, 0-based (for OTLP: across resources, scopes
    /// and records in order; for JSON lines: among the non-blank lines).
    pub index: usize,
    /// Where the record is, e.g. `resourceLogs[0].scopeLogs[1].logRecords[37]` or `line 12`.
    pub location: String,
    /// Machine-readable reason.
    pub reason: RejectReason,
    /// Human-readable explanation; quotes at most 80 characters of the record's content.
    pub message: String,
}

/// Why a record was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// A timestamp is missing where required, unparseable, out of range or outside the window.
    InvalidTimestamp,
    /// A trace id is not 16 bytes (32 hexadecimal digits).
    InvalidTraceId,
    /// A span id is not 8 bytes (16 hexadecimal digits), or a span's own id is missing.
    InvalidSpanId,
    /// A JSON log line is not valid JSON.
    InvalidJson,
    /// A JSON log line is not valid UTF-8.
    InvalidUtf8,
    /// A required field is absent (a span's start time, a metric's name).
    MissingField,
    /// The record is larger than allowed.
    TooLarge,
    /// A value has the wrong type or an impossible value.
    InvalidValue,
}

impl RejectReason {
    /// Snake-case name, as serialized and as used for the Prometheus `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::InvalidTimestamp => "invalid_timestamp",
            RejectReason::InvalidTraceId => "invalid_trace_id",
            RejectReason::InvalidSpanId => "invalid_span_id",
            RejectReason::InvalidJson => "invalid_json",
            RejectReason::InvalidUtf8 => "invalid_utf8",
            RejectReason::MissingField => "missing_field",
            RejectReason::TooLarge => "too_large",
            RejectReason::InvalidValue => "invalid_value",
        }
    }
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Records kept and records refused.
#[derive(Debug, Clone)]
pub struct Converted<T> {
    /// The records that were converted, in request order.
    pub records: Vec<T>,
    /// The records that were refused, in request order.
    pub rejected: Vec<Rejection>,
}

impl<T> Default for Converted<T> {
    fn default() -> Self {
        Converted {
            records: Vec::new(),
            rejected: Vec::new(),
        }
    }
}

/// How many rejections [`Converted::partial_success_message`] lists.
const MAX_LISTED_REJECTIONS: usize = 10;

impl<T> Converted<T> {
    /// The text for OTLP's `partial_success.error_message`: empty when nothing was rejected,
    /// else e.g. `rejected 1 of 100 log records: resourceLogs[0].scopeLogs[0].logRecords[37]:
    /// time_unix_nano 4102444800000000000 is more than 1h in the future`, listing at most the
    /// first 10 rejections (separated by `; `) and saying how many more there were.
    pub fn partial_success_message(&self) -> String {
        if self.rejected.is_empty() {
            return String::new();
        }
        let total = self.records.len() + self.rejected.len();
        let mut out = format!(
            "rejected {} of {} {}: ",
            self.rejected.len(),
            total,
            noun::<T>()
        );
        for (i, r) in self.rejected.iter().take(MAX_LISTED_REJECTIONS).enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            out.push_str(&r.location);
            out.push_str(": ");
            out.push_str(&r.message);
        }
        if self.rejected.len() > MAX_LISTED_REJECTIONS {
            out.push_str(&format!(
                "; and {} more",
                self.rejected.len() - MAX_LISTED_REJECTIONS
            ));
        }
        out
    }

    /// Records a rejection.
    pub(crate) fn reject(
        &mut self,
        index: usize,
        location: String,
        reason: RejectReason,
        message: String,
    ) {
        self.rejected.push(Rejection {
            index,
            location,
            reason,
            message,
        });
    }
}

/// Plural noun for the records of a [`Converted`], from the record type's name.
fn noun<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    match name.rsplit("::").next().unwrap_or(name) {
        "LogRecord" => "log records",
        "Span" => "spans",
        "MetricPoint" => "metric points",
        _ => "records",
    }
}

/// Formats a number of nanoseconds the way people write limits: `1h`, `30d`, `90s`, `250ms`.
pub(crate) fn format_duration(nanos: i64) -> String {
    const UNITS: [(i64, &str); 6] = [
        (DAY_NANOS, "d"),
        (HOUR_NANOS, "h"),
        (60 * 1_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
    ];
    for (unit, suffix) in UNITS {
        if nanos != 0 && nanos % unit == 0 {
            return format!("{}{suffix}", nanos / unit);
        }
    }
    format!("{nanos}ns")
}

/// At most 80 characters of `text`, with `…` when cut: what a message may quote of a record.
pub(crate) fn snippet(text: &str) -> String {
    const MAX_CHARS: usize = 80;
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Truncates `s` to at most `max` bytes, on a UTF-8 character boundary.
pub(crate) fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while cut > 0 && !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// Truncates every string inside `v` (strings in arrays and objects included) to `max` bytes.
pub(crate) fn truncate_value(v: &mut Value, max: usize) {
    match v {
        Value::String(s) => truncate_utf8(s, max),
        Value::Array(items) => items.iter_mut().for_each(|item| truncate_value(item, max)),
        Value::Object(map) => map.values_mut().for_each(|item| truncate_value(item, max)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// A float as JSON: finite numbers as numbers, non-finite ones as `"NaN"`, `"inf"`, `"-inf"`.
pub(crate) fn float_to_json(f: f64) -> Value {
    match serde_json::Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".to_owned()),
        None if f > 0.0 => Value::String("inf".to_owned()),
        None => Value::String("-inf".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_have_snake_case_labels_matching_serde() {
        let all = [
            RejectReason::InvalidTimestamp,
            RejectReason::InvalidTraceId,
            RejectReason::InvalidSpanId,
            RejectReason::InvalidJson,
            RejectReason::InvalidUtf8,
            RejectReason::MissingField,
            RejectReason::TooLarge,
            RejectReason::InvalidValue,
        ];
        for r in all {
            assert_eq!(
                serde_json::to_value(r).unwrap(),
                Value::String(r.as_str().to_owned())
            );
        }
    }

    #[test]
    fn window_messages_name_the_limit() {
        let n = Normalize::new(1_700_000_000_000_000_000);
        assert_eq!(n.check_window(n.now_unix_nano), Ok(()));
        assert_eq!(
            n.check_window(4_102_444_800_000_000_000),
            Err("is more than 1h in the future".to_owned())
        );
        assert_eq!(
            n.check_window(0),
            Err("is more than 30d in the past".to_owned())
        );
        assert_eq!(n.check_window(n.now_unix_nano + HOUR_NANOS), Ok(()));
    }

    #[test]
    fn durations_format_in_the_largest_exact_unit() {
        assert_eq!(format_duration(HOUR_NANOS), "1h");
        assert_eq!(format_duration(30 * DAY_NANOS), "30d");
        assert_eq!(format_duration(90_000_000_000), "90s");
        assert_eq!(format_duration(250_000_000), "250ms");
        assert_eq!(format_duration(7), "7ns");
        assert_eq!(format_duration(0), "0ns");
    }

    #[test]
    fn snippets_and_truncation_respect_utf8() {
        assert_eq!(snippet("short"), "short");
        let long = "é".repeat(100);
        assert_eq!(snippet(&long).chars().count(), 81);
        let mut s = "aé".to_owned();
        truncate_utf8(&mut s, 2);
        assert_eq!(s, "a");
        let mut v = serde_json::json!({"a": ["xxxx", {"b": "yyyy"}], "n": 1});
        truncate_value(&mut v, 2);
        assert_eq!(v, serde_json::json!({"a": ["xx", {"b": "yy"}], "n": 1}));
    }

    #[test]
    fn non_finite_floats_become_strings() {
        assert_eq!(float_to_json(1.5), serde_json::json!(1.5));
        assert_eq!(float_to_json(f64::NAN), serde_json::json!("NaN"));
        assert_eq!(float_to_json(f64::INFINITY), serde_json::json!("inf"));
        assert_eq!(float_to_json(f64::NEG_INFINITY), serde_json::json!("-inf"));
    }

    #[test]
    fn partial_success_lists_at_most_ten() {
        let mut c: Converted<ward_model::LogRecord> = Converted::default();
        assert_eq!(c.partial_success_message(), "");
        for i in 0..12 {
            c.reject(
                i,
                format!("line {}", i + 1),
                RejectReason::InvalidJson,
                "bad".to_owned(),
            );
        }
        let msg = c.partial_success_message();
        assert!(
            msg.starts_with("rejected 12 of 12 log records: line 1: bad; line 2: bad"),
            "{msg}"
        );
        assert!(msg.contains("line 10: bad; and 2 more"), "{msg}");
        assert!(!msg.contains("line 11"), "{msg}");
        let spans: Converted<ward_model::Span> = Converted {
            records: vec![],
            rejected: c.rejected.clone(),
        };
        assert!(spans.partial_success_message().contains(" spans: "));
    }
}
