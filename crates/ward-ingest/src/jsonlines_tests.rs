use serde_json::json;

use super::*;
use crate::Rejection;

/// 2024-01-01T00:00:00Z.
const NOW: i64 = 1_704_067_200_000_000_000;
const DAY: i64 = 86_400_000_000_000;

/// A window wide enough for the libraries' documented examples (2013-2022).
fn wide() -> Normalize {
    Normalize {
        max_age_nanos: 15 * 365 * DAY,
        ..Normalize::new(NOW)
    }
}

fn rfc(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap()
}

fn one(line: &str) -> LogRecord {
    let out = parse(line.as_bytes(), Some("default-svc"), &wide());
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert_eq!(out.records.len(), 1);
    out.records.into_iter().next().unwrap()
}

fn refused(line: &str) -> Rejection {
    let out = parse(line.as_bytes(), None, &wide());
    assert!(out.records.is_empty(), "{:?}", out.records);
    assert_eq!(out.rejected.len(), 1);
    out.rejected.into_iter().next().unwrap()
}

fn attrs(r: &LogRecord) -> Value {
    Value::Object(r.attributes.clone())
}

// --- Library shapes ---------------------------------------------------------------------------

#[test]
fn pino() {
    // From pino's README.
    let r = one(
        r#"{"level":30,"time":1531171074631,"msg":"hello world","pid":657,"hostname":"Davids-MBP-3.fritz.box"}"#,
    );
    assert_eq!(r.body, "hello world");
    assert_eq!(r.time_unix_nano, 1_531_171_074_631_000_000);
    assert_eq!(r.observed_time_unix_nano, NOW);
    assert_eq!((r.severity_number, r.severity_text.as_str()), (9, "30"));
    assert_eq!(r.resource.service_name, "default-svc");
    assert_eq!(
        attrs(&r),
        json!({"pid": 657, "hostname": "Davids-MBP-3.fritz.box"})
    );
    assert_eq!((r.trace_id, r.span_id), (None, None));

    // A named logger with a child binding, as an agent service would write it.
    let r = one(
        r#"{"level":50,"time":1700000000123,"pid":7,"hostname":"agent-1","name":"planner","req":{"id":"r-9","method":"POST"},"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","trace_flags":"01","msg":"tool call failed"}"#,
    );
    assert_eq!(r.resource.service_name, "planner");
    assert_eq!((r.severity_number, r.severity_text.as_str()), (17, "50"));
    assert_eq!(
        r.trace_id.unwrap().to_hex(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(r.span_id.unwrap().to_hex(), "b7ad6b7169203331");
    assert_eq!(
        attrs(&r),
        json!({"pid": 7, "hostname": "agent-1", "req.id": "r-9", "req.method": "POST", "trace_flags": "01"})
    );
}

#[test]
fn pino_levels() {
    for (level, number) in [
        (10, 1),
        (20, 5),
        (30, 9),
        (40, 13),
        (50, 17),
        (60, 21),
        (35, 13),
        (0, 1),
        (99, 21),
    ] {
        let r = one(&format!(r#"{{"level":{level},"msg":"x"}}"#));
        assert_eq!(r.severity_number, number, "level {level}");
        assert_eq!(r.severity_text, level.to_string());
    }
}

#[test]
fn bunyan() {
    // From bunyan's README, and its error serializer.
    let r = one(
        r#"{"name":"myapp","hostname":"banana.local","pid":40161,"level":30,"msg":"hi","time":"2013-01-04T18:46:23.851Z","v":0}"#,
    );
    assert_eq!(r.resource.service_name, "myapp");
    assert_eq!(r.body, "hi");
    assert_eq!(r.time_unix_nano, rfc("2013-01-04T18:46:23.851Z"));
    assert_eq!((r.severity_number, r.severity_text.as_str()), (9, "30"));
    assert_eq!(
        attrs(&r),
        json!({"hostname": "banana.local", "pid": 40161, "v": 0})
    );

    let r = one(
        r#"{"name":"myapp","hostname":"banana.local","pid":40161,"level":50,"err":{"message":"boom","name":"TypeError","stack":"TypeError: boom\n    at Object.<anonymous> (/app/index.js:3:9)"},"msg":"boom","time":"2013-01-04T18:46:23.853Z","v":0}"#,
    );
    assert_eq!(r.severity_number, 17);
    assert_eq!(r.attributes.get("err.name"), Some(&json!("TypeError")));
    assert_eq!(r.attributes.get("err.message"), Some(&json!("boom")));
    assert!(
        r.attributes
            .get("err.stack")
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("TypeError: boom\n")
    );
}

#[test]
fn structlog() {
    // structlog's JSONRenderer with add_log_level and TimeStamper(fmt="iso").
    let r = one(
        r#"{"user_id": 42, "peer": "10.0.0.7", "event": "login failed", "logger": "auth", "level": "warning", "timestamp": "2023-11-14T22:13:20.123456Z"}"#,
    );
    assert_eq!(r.body, "login failed");
    assert_eq!(
        (r.severity_number, r.severity_text.as_str()),
        (13, "warning")
    );
    assert_eq!(r.time_unix_nano, 1_700_000_000_123_456_000);
    assert_eq!(
        attrs(&r),
        json!({"user_id": 42, "peer": "10.0.0.7", "logger": "auth"})
    );
    // TimeStamper() without fmt writes epoch seconds as a float.
    let r = one(
        r#"{"event": "tool finished", "level": "info", "timestamp": 1700000000.25, "tool": "search"}"#,
    );
    assert_eq!(r.time_unix_nano, 1_700_000_000_250_000_000);
    assert_eq!(r.body, "tool finished");
}

#[test]
fn tracing_subscriber_json() {
    // From tracing-subscriber's `fmt::format::Json` documentation.
    let r = one(
        r#"{"timestamp":"2022-02-15T18:47:10.821315Z","level":"INFO","fields":{"message":"preparing to shave yaks","number_of_yaks":3},"target":"fmt_json"}"#,
    );
    assert_eq!(r.body, "preparing to shave yaks");
    assert_eq!((r.severity_number, r.severity_text.as_str()), (9, "INFO"));
    assert_eq!(r.time_unix_nano, rfc("2022-02-15T18:47:10.821315Z"));
    assert_eq!(
        attrs(&r),
        json!({"number_of_yaks": 3, "target": "fmt_json"})
    );
    assert_eq!(r.resource.service_name, "default-svc");

    // With the current span, the span list, thread names and source locations.
    let r = one(
        r#"{"timestamp":"2022-02-15T18:47:10.821495Z","level":"WARN","fields":{"message":"yak shaving failed","yak":3,"error":"missing clippers"},"target":"fmt_json::yak_shave","filename":"src/yak_shave.rs","line_number":29,"threadName":"tokio-runtime-worker","threadId":"ThreadId(2)","span":{"yaks":3,"name":"shaving_yaks","id":7},"spans":[{"yaks":3,"name":"shaving_yaks"}]}"#,
    );
    assert_eq!(r.body, "yak shaving failed");
    assert_eq!(r.severity_number, 13);
    assert_eq!(r.span_id, None);
    assert_eq!(
        attrs(&r),
        json!({
            "yak": 3, "error": "missing clippers", "target": "fmt_json::yak_shave",
            "filename": "src/yak_shave.rs", "line_number": 29, "threadName": "tokio-runtime-worker",
            "threadId": "ThreadId(2)", "span.yaks": 3, "span.name": "shaving_yaks", "span.id": 7,
            "spans": [{"yaks": 3, "name": "shaving_yaks"}]
        })
    );
    // `flatten_event(true)` puts the fields at the top level.
    let r = one(
        r#"{"timestamp":"2022-02-15T18:47:10.821315Z","level":"DEBUG","message":"flat","k":"v","target":"app"}"#,
    );
    assert_eq!((r.body.as_str(), r.severity_number), ("flat", 5));
}

#[test]
fn ecs_nested() {
    // ecs-logging-python's output, with APM correlation ids.
    let r = one(
        r#"{"@timestamp":"2020-03-20T18:11:37.895Z","log.level":"info","message":"Example message!","ecs":{"version":"1.6.0"},"log":{"logger":"app","origin":{"file":{"line":14,"name":"test.py"},"function":"<module>"},"original":"Example message!"},"process":{"name":"MainProcess","pid":3044,"thread":{"id":4425170368,"name":"MainThread"}},"service":{"name":"my-app","version":"1.2.0"},"trace":{"id":"0af7651916cd43dd8448eb211c80319c"},"span":{"id":"b7ad6b7169203331"},"transaction":{"id":"5e0a6a4c8f7a4b2c"}}"#,
    );
    assert_eq!(r.time_unix_nano, rfc("2020-03-20T18:11:37.895Z"));
    assert_eq!((r.severity_number, r.severity_text.as_str()), (9, "info"));
    assert_eq!(r.body, "Example message!");
    assert_eq!(r.resource.service_name, "my-app");
    assert_eq!(
        r.trace_id.unwrap().to_hex(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(r.span_id.unwrap().to_hex(), "b7ad6b7169203331");
    assert_eq!(
        attrs(&r),
        json!({
            "ecs.version": "1.6.0", "log.logger": "app", "log.origin.file.line": 14,
            "log.origin.file.name": "test.py", "log.origin.function": "<module>",
            "log.original": "Example message!", "process.name": "MainProcess", "process.pid": 3044,
            "process.thread.id": 4425170368_i64, "process.thread.name": "MainThread",
            "service.version": "1.2.0", "transaction.id": "5e0a6a4c8f7a4b2c"
        })
    );
}

#[test]
fn ecs_dotted_with_error() {
    // ecs-logging-nodejs (pino/winston formatters) write dotted top-level keys.
    let r = one(
        r#"{"log.level":"error","@timestamp":"2021-01-19T22:51:12.142Z","process.pid":82240,"host.hostname":"pink.local","ecs.version":"8.10.0","service.name":"checkout","trace.id":"4bf92f3577b34da6a3ce929d0e0e4736","span.id":"00f067aa0ba902b7","error":{"type":"TypeError","message":"cannot read x","stack_trace":"TypeError: cannot read x\n    at handler"},"message":"request failed"}"#,
    );
    assert_eq!((r.severity_number, r.severity_text.as_str()), (17, "error"));
    assert_eq!(r.resource.service_name, "checkout");
    assert_eq!(
        r.trace_id.unwrap().to_hex(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(r.span_id.unwrap().to_hex(), "00f067aa0ba902b7");
    assert_eq!(r.body, "request failed");
    assert_eq!(r.attributes.get("error.type"), Some(&json!("TypeError")));
    assert_eq!(
        r.attributes.get("error.message"),
        Some(&json!("cannot read x"))
    );
    for gone in [
        "log.level",
        "@timestamp",
        "service.name",
        "trace.id",
        "span.id",
        "message",
    ] {
        assert!(!r.attributes.contains_key(gone), "{gone} duplicated");
    }
}

#[test]
fn generic_keys_and_flattening() {
    let r = one(
        r#"{"ts":"1700000000","severity":"ERROR","text":"quota exceeded","user":{"id":"u-42","plan":{"tier":"pro"}},"tags":["a","b"],"empty":{},"nothing":null,"service":"billing"}"#,
    );
    assert_eq!(r.time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!((r.severity_number, r.severity_text.as_str()), (17, "ERROR"));
    assert_eq!(r.body, "quota exceeded");
    assert_eq!(r.resource.service_name, "billing");
    assert_eq!(
        attrs(&r),
        json!({"user.id": "u-42", "user.plan.tier": "pro", "tags": ["a", "b"], "empty": {}, "nothing": null})
    );
    // Python's logging with a JSON formatter.
    let r = one(
        r#"{"asctime": "2023-11-14 22:13:20,500", "levelname": "CRITICAL", "name": "worker", "message": "out of memory"}"#,
    );
    assert_eq!(r.severity_number, 21);
    assert_eq!(r.time_unix_nano, 1_700_000_000_500_000_000);
    assert_eq!(r.resource.service_name, "worker");
    assert_eq!(r.attributes.len(), 0);
    // OpenTelemetry severity numbers under their own key; an unknown level name.
    let r = one(r#"{"severity_number":18,"body":"x"}"#);
    assert_eq!((r.severity_number, r.severity_text.as_str()), (18, "18"));
    let r = one(r#"{"lvl":"audit","msg":"x"}"#);
    assert_eq!((r.severity_number, r.severity_text.as_str()), (0, "audit"));
    let r = one(r#"{"level":"40","msg":"x"}"#);
    assert_eq!(r.severity_number, 13);
    // Non-string messages are kept as their JSON text; an object message is not a message.
    assert_eq!(one(r#"{"msg":42}"#).body, "42");
    let r = one(r#"{"message":{"a":1},"event":"the event"}"#);
    assert_eq!(r.body, "the event");
    assert_eq!(attrs(&r), json!({"message.a": 1}));
    // Without any service, the default, then unknown_service.
    assert_eq!(one(r#"{"msg":"x"}"#).resource.service_name, "default-svc");
    let out = parse(br#"{"msg":"x"}"#, None, &wide());
    assert_eq!(out.records[0].resource.service_name, "unknown_service");
}

#[test]
fn datadog_ids() {
    let r =
        one(r#"{"message":"x","dd":{"trace_id":"1234567890123","span_id":"987","service":"api"}}"#);
    assert_eq!((r.trace_id, r.span_id), (None, None));
    assert_eq!(
        attrs(&r),
        json!({"dd.trace_id": "1234567890123", "dd.span_id": "987", "dd.service": "api"})
    );
    let r =
        one(r#"{"message":"x","dd.trace_id":"5b8efff798038103d269b633813fc60c","dd.span_id":7}"#);
    assert_eq!(
        r.trace_id.unwrap().to_hex(),
        "5b8efff798038103d269b633813fc60c"
    );
    assert_eq!(attrs(&r), json!({"dd.span_id": 7}));
}

// --- Times ------------------------------------------------------------------------------------

#[test]
fn time_formats() {
    let n = Normalize {
        max_age_nanos: 60 * 365 * DAY,
        ..Normalize::new(NOW)
    };
    let t = |v: &str| {
        let out = parse(format!(r#"{{"time":{v},"msg":"x"}}"#).as_bytes(), None, &n);
        assert!(out.rejected.is_empty(), "{v}: {:?}", out.rejected);
        out.records[0].time_unix_nano
    };
    let want = 1_700_000_000_000_000_000;
    assert_eq!(t("1700000000"), want);
    assert_eq!(t("1700000000000"), want);
    assert_eq!(t("1700000000000000"), want);
    assert_eq!(t("1700000000000000000"), want);
    assert_eq!(t("1700000000.5"), want + 500_000_000);
    assert_eq!(t(r#""1700000000""#), want);
    assert_eq!(t(r#""1700000000.5""#), want + 500_000_000);
    assert_eq!(t(r#""1700000000.123456789""#), want + 123_456_789);
    // A JSON number goes through f64: microsecond precision survives.
    assert_eq!(t("1700000000.123456"), want + 123_456_000);
    assert_eq!(t("1700000000123.456"), want + 123_456_000);
    assert_eq!(t(r#""-1.5""#), -1_500_000_000);
    assert_eq!(t("1.7e9"), want);
    assert_eq!(t(r#""2023-11-14T22:13:20Z""#), want);
    assert_eq!(t(r#""2023-11-14T23:13:20+01:00""#), want);
    assert_eq!(t(r#""2023-11-14 22:13:20Z""#), want);
    assert_eq!(t(r#""2023-11-14T22:13:20.000+0000""#), want);
    assert_eq!(t(r#""2023-11-14T22:13:20""#), want);
    assert_eq!(t(r#""2023-11-14 22:13:20,250""#), want + 250_000_000);
    assert_eq!(t(r#""Tue, 14 Nov 2023 22:13:20 +0000""#), want);
    assert_eq!(
        t(r#""2023-11-14""#),
        want - (22 * 3600 + 13 * 60 + 20) * 1_000_000_000
    );
    assert_eq!(t("null"), NOW);
    // Missing time → now.
    assert_eq!(
        parse(br#"{"msg":"x"}"#, None, &n).records[0].time_unix_nano,
        NOW
    );
}

#[test]
fn bad_times_are_refused() {
    let r = refused(r#"{"time":"yesterday-ish","msg":"x"}"#);
    assert_eq!(r.reason, RejectReason::InvalidTimestamp);
    assert_eq!(
        r.message,
        r#"time "yesterday-ish" is not a recognised time"#
    );
    assert_eq!(r.location, "line 1");
    let r = refused(r#"{"@timestamp":"2100-01-01T00:00:00Z","msg":"x"}"#);
    assert_eq!(
        r.message,
        r#"@timestamp "2100-01-01T00:00:00Z" is more than 1h in the future"#
    );
    let out = parse(br#"{"ts":1000,"msg":"x"}"#, None, &Normalize::new(NOW));
    assert_eq!(
        out.rejected[0].message,
        "ts 1000 is more than 30d in the past"
    );
    for bad in [
        r#"{"t":true}"#,
        r#"{"t":{"a":1}}"#,
        r#"{"t":"NaN"}"#,
        r#"{"t":1e300}"#,
        r#"{"t":""}"#,
    ] {
        assert_eq!(refused(bad).reason, RejectReason::InvalidTimestamp, "{bad}");
    }
    let long = format!(r#"{{"time":"{}"}}"#, "9".repeat(200) + "x");
    let r = refused(&long);
    assert!(r.message.chars().count() < 120, "{}", r.message);
}

// --- Ids --------------------------------------------------------------------------------------

#[test]
fn ids_are_validated() {
    let r = refused(r#"{"msg":"x","trace_id":"abc"}"#);
    assert_eq!(r.reason, RejectReason::InvalidTraceId);
    assert_eq!(
        r.message,
        r#"trace_id "abc" is not a trace id (32 hexadecimal digits)"#
    );
    let r = refused(r#"{"msg":"x","traceId":12345}"#);
    assert_eq!(r.reason, RejectReason::InvalidTraceId);
    let r = refused(r#"{"msg":"x","span":{"id":"zzzzzzzzzzzzzzzz"}}"#);
    assert_eq!(r.reason, RejectReason::InvalidSpanId);
    let r = one(r#"{"msg":"x","trace_id":"00000000000000000000000000000000","span_id":""}"#);
    assert_eq!((r.trace_id, r.span_id), (None, None));
    assert!(r.attributes.is_empty());
    let r = one(
        r#"{"msg":"x","otelTraceID":"0AF7651916CD43DD8448EB211C80319C","otelSpanID":"B7AD6B7169203331"}"#,
    );
    assert_eq!(
        r.trace_id.unwrap().to_hex(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(r.span_id.unwrap().to_hex(), "b7ad6b7169203331");
}

// --- Body shapes and per-line rejection -------------------------------------------------------

#[test]
fn lines_blank_crlf_and_bad_lines() {
    let body = b"{\"msg\":\"one\"}\r\n\r\n   \n{\"msg\": \"two\"\n\"just a string\"\n[1,2]\n{\"msg\":\"\xff\"}\n{\"msg\":\"three\"}\r\n";
    let out = parse(body, None, &wide());
    let bodies: Vec<_> = out.records.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(bodies, ["one", "three"]);
    let got: Vec<_> = out
        .rejected
        .iter()
        .map(|r| (r.index, r.location.as_str(), r.reason))
        .collect();
    assert_eq!(
        got,
        [
            (1, "line 4", RejectReason::InvalidJson),
            (2, "line 5", RejectReason::InvalidValue),
            (3, "line 6", RejectReason::InvalidValue),
            (4, "line 7", RejectReason::InvalidUtf8),
        ]
    );
    assert_eq!(
        out.rejected[0].message,
        "invalid JSON: EOF while parsing an object at line 1 column 13"
    );
    assert_eq!(
        out.rejected[1].message,
        "expected a JSON object, got a string"
    );
    assert_eq!(out.rejected[3].message, "invalid UTF-8 at byte 8");
}

#[test]
fn partial_success_keeps_ninety_nine_of_a_hundred() {
    let mut body = String::new();
    for i in 0..100 {
        if i == 37 {
            body.push_str("{\"level\":30,\"msg\":\"broken\",\n");
        } else {
            body.push_str(&format!(
                "{{\"level\":30,\"time\":1700000000000,\"msg\":\"line {i}\"}}\n"
            ));
        }
    }
    let out = parse(
        body.as_bytes(),
        Some("svc"),
        &Normalize::new(1_700_000_100_000_000_000),
    );
    assert_eq!(out.records.len(), 99);
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].index, 37);
    assert_eq!(
        out.partial_success_message(),
        "rejected 1 of 100 log records: line 38: invalid JSON: EOF while parsing a value at line 1 column 27"
    );
}

#[test]
fn too_long_lines_are_refused() {
    let big = format!(
        "{{\"msg\":\"{}\"}}\n{{\"msg\":\"small\"}}",
        "x".repeat(MAX_LINE_BYTES)
    );
    let out = parse(big.as_bytes(), None, &wide());
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.rejected[0].reason, RejectReason::TooLarge);
    assert_eq!(
        out.rejected[0].message,
        format!(
            "line is {} bytes, more than the limit of 1048576",
            MAX_LINE_BYTES + 10
        )
    );
}

#[test]
fn arrays() {
    let out = parse(
        b"  [{\"msg\":\"a\"}, 5, {\"msg\":\"b\",\"time\":\"bad\"}, {\"msg\":\"c\"}]",
        None,
        &wide(),
    );
    let bodies: Vec<_> = out.records.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(bodies, ["a", "c"]);
    let got: Vec<_> = out
        .rejected
        .iter()
        .map(|r| (r.index, r.location.as_str(), r.reason))
        .collect();
    assert_eq!(
        got,
        [
            (1, "array[1]", RejectReason::InvalidValue),
            (2, "array[2]", RejectReason::InvalidTimestamp)
        ]
    );

    let out = parse(b"[{\"msg\":\"a\"},", None, &wide());
    assert!(out.records.is_empty());
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(
        (out.rejected[0].index, out.rejected[0].location.as_str()),
        (0, "body")
    );
    assert_eq!(out.rejected[0].reason, RejectReason::InvalidJson);
    assert!(
        out.rejected[0]
            .message
            .ends_with("(the whole body is refused)")
    );
    let out = parse(b"[\"\xff\"]", None, &wide());
    assert_eq!(out.rejected[0].reason, RejectReason::InvalidUtf8);
    assert!(parse(b"[]", None, &wide()).rejected.is_empty());
}

#[test]
fn pretty_printed_objects_are_a_stream() {
    let body = "{\n  \"msg\": \"first\",\n  \"level\": \"info\"\n}\n\n{\n  \"msg\": \"second\",\n  \"time\": \"never\"\n}\n";
    let out = parse(body.as_bytes(), None, &wide());
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].body, "first");
    assert_eq!(out.rejected[0].location, "line 6");
    assert_eq!(out.rejected[0].index, 1);
}

#[test]
fn empty_bodies_and_bom() {
    assert!(parse(b"", None, &wide()).records.is_empty());
    assert!(parse(b" \n\r\n\t", None, &wide()).rejected.is_empty());
    let out = parse(b"\xEF\xBB\xBF{\"msg\":\"bom\"}", None, &wide());
    assert_eq!(out.records[0].body, "bom");
}

#[test]
fn long_attribute_values_are_truncated() {
    let n = Normalize {
        max_attribute_value_bytes: 4,
        ..wide()
    };
    let out = parse(
        r#"{"msg":"the body is not truncated","a":"ééé","b":["123456"],"c":{"d":"xxxxxx"}}"#
            .as_bytes(),
        None,
        &n,
    );
    let r = &out.records[0];
    assert_eq!(r.body, "the body is not truncated");
    assert_eq!(attrs(r), json!({"a": "éé", "b": ["1234"], "c.d": "xxxx"}));
}
