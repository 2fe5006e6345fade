#![no_main]
//! The filter language: parse arbitrary text, and match what parses against a fixed log record
//! and a fixed span.

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use ward_model::filter::Filter;
use ward_model::{LogRecord, Resource, Scope, Span, SpanKind, SpanStatus, StatusCode};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(filter) = Filter::parse(text) else { return };
    let mut attributes = serde_json::Map::new();
    attributes.insert("user.id".into(), json!("u-42"));
    attributes.insert("tokens".into(), json!(1234));
    attributes.insert("ok".into(), json!(true));
    attributes.insert("tags".into(), json!(["a", "b"]));
    let mut resource_attributes = serde_json::Map::new();
    resource_attributes.insert("host.name".into(), json!("box-1"));
    let record = LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000,
        observed_time_unix_nano: 1_700_000_000_000_000_000,
        severity_number: 13,
        severity_text: "WARN".into(),
        body: "connection timeout after 30s calling tool search".into(),
        attributes,
        resource: Resource { service_name: "planner".into(), attributes: resource_attributes },
        scope: Scope::default(),
        trace_id: "5b8efff798038103d269b633813fc60c".parse().ok(),
        span_id: "eee19b7ec3c1b174".parse().ok(),
    };
    let _ = filter.matches_log(&record);
    let (Some(trace_id), Some(span_id)) = (record.trace_id, record.span_id) else { return };
    let span = Span {
        trace_id,
        span_id,
        parent_span_id: None,
        trace_state: String::new(),
        name: "chat gpt-4o".into(),
        kind: SpanKind::Client,
        start_time_unix_nano: record.time_unix_nano,
        end_time_unix_nano: record.time_unix_nano + 1_500_000_000,
        status: SpanStatus { code: StatusCode::Error, message: "rate limited".into() },
        attributes: record.attributes.clone(),
        events: Vec::new(),
        links: Vec::new(),
        resource: record.resource.clone(),
        scope: Scope::default(),
    };
    let _ = filter.matches_span(&span);
});
