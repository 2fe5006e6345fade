//! End-to-end tests of the real `ward` binary through its HTTP and gRPC interfaces, as a user
//! (or an OpenTelemetry exporter) would use them.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{Ward, http, now_ns};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;
use serde_json::{Value, json};

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", service)],
        ..Default::default()
    })
}

fn log_request(service: &str, bodies: &[&str], time: u64) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(service),
            scope_logs: vec![ScopeLogs {
                log_records: bodies
                    .iter()
                    .map(|b| LogRecord {
                        time_unix_nano: time,
                        severity_number: 13,
                        severity_text: "WARN".into(),
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue((*b).into())),
                        }),
                        attributes: vec![kv("user.id", "u-42")],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn get_json(w: &Ward, key: &str, path: &str) -> (u16, Value) {
    let r = http()
        .get(format!("{}{}", w.http, path))
        .bearer_auth(key)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

fn query_logs(w: &Ward, key: &str, q: &str) -> Vec<Value> {
    let r = http()
        .get(format!("{}/api/v1/logs", w.http))
        .query(&[("q", q), ("limit", "1000")])
        .bearer_auth(key)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{q}");
    r.json::<Value>().unwrap()["logs"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn health_and_authentication() {
    let w = Ward::start(&[]);
    let c = http();
    assert_eq!(
        c.get(format!("{}/livez", w.http)).send().unwrap().status(),
        200
    );
    assert_eq!(
        c.get(format!("{}/readyz", w.http)).send().unwrap().status(),
        200
    );
    let health: Value = c
        .get(format!("{}/healthz", w.http))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["components"]["store"]["status"], "ok");

    // No data route answers without a key.
    for (method, path) in [
        ("GET", "/api/v1/logs"),
        ("GET", "/api/v1/traces"),
        ("GET", "/api/v1/services"),
        ("POST", "/v1/logs"),
        ("POST", "/api/v1/ingest/logs"),
        ("GET", "/metrics"),
        ("GET", "/api/v1/keys"),
    ] {
        let r = c
            .request(method.parse().unwrap(), format!("{}{}", w.http, path))
            .send()
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let p: Value = r.json().unwrap();
        assert_eq!(p["status"], 401);
        let r = c
            .request(method.parse().unwrap(), format!("{}{}", w.http, path))
            .bearer_auth("ward_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
            .send()
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path} with an unknown key");
    }
    // Scopes are enforced.
    let ingest = w.create_key(&["ingest"], "default");
    let (status, p) = get_json(&w, &ingest, "/api/v1/logs");
    assert_eq!(status, 403, "{p}");
    // The admin key is not in Ward's log.
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !w.log_text()
            .lines()
            .any(|l| l.starts_with('{') && l.contains(&w.admin_key))
    );
    assert!(!w.log_text().contains(&ingest));
    // Unknown routes and methods are problems too.
    let r = c.get(format!("{}/nope", w.http)).send().unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let openapi: Value = c
        .get(format!("{}/api/openapi.json", w.http))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(openapi["openapi"], "3.1.0");
}

#[test]
fn otlp_http_protobuf_json_gzip_and_partial_success() {
    let w = Ward::start(&[]);
    let key = w.create_key(&["ingest", "read"], "default");
    let c = http();
    let t = now_ns();

    // Protobuf + gzip.
    let body = gzip(
        &log_request(
            "planner",
            &["upstream connection timeout after 30s", "retrying"],
            t,
        )
        .encode_to_vec(),
    );
    let r = c
        .post(format!("{}/v1/logs", w.http))
        .bearer_auth(&key)
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-protobuf");
    let reply = ExportLogsServiceResponse::decode(r.bytes().unwrap()).unwrap();
    assert!(reply.partial_success.is_none());

    // One bad record of 100: 99 stored, the reply says which and why.
    let bodies: Vec<String> = (0..100).map(|i| format!("batch record {i}")).collect();
    let refs: Vec<&str> = bodies.iter().map(|s| s.as_str()).collect();
    let mut req = log_request("batcher", &refs, t);
    req.resource_logs[0].scope_logs[0].log_records[37].time_unix_nano =
        t + 400 * 24 * 3600 * 1_000_000_000;
    let r = c
        .post(format!("{}/v1/logs", w.http))
        .bearer_auth(&key)
        .header("content-type", "application/x-protobuf")
        .body(req.encode_to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let reply = ExportLogsServiceResponse::decode(r.bytes().unwrap()).unwrap();
    let partial = reply.partial_success.expect("partial success");
    assert_eq!(partial.rejected_log_records, 1);
    assert!(
        partial.error_message.contains("37"),
        "{}",
        partial.error_message
    );
    assert_eq!(query_logs(&w, &key, "service:batcher").len(), 99);

    // OTLP/JSON as the specification writes it.
    let json_body = json!({"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]},
        "scopeLogs": [{"scope": {"name": "s"}, "logRecords": [{"timeUnixNano": t.to_string(), "severityNumber": 17, "severityText": "ERROR",
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
        "body": {"stringValue": "payment failed"}, "attributes": [{"key": "http.status_code", "value": {"intValue": "503"}}]}]}]}]});
    let r = c
        .post(format!("{}/v1/logs", w.http))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(json_body.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());

    let found = query_logs(
        &w,
        &key,
        r#"service:planner level>=warn "timeout" user.id=u-42"#,
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["body"], "upstream connection timeout after 30s");
    assert_eq!(found[0]["level"], "warn");
    let found = query_logs(
        &w,
        &key,
        "trace:5b8efff798038103d269b633813fc60c http.status_code>=500",
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["level"], "error");
    assert_eq!(found[0]["span_id"], "eee19b7ec3c1b174");

    // Bad input: clear errors, in the request's encoding.
    let r = c
        .post(format!("{}/v1/logs", w.http))
        .bearer_auth(&key)
        .header("content-type", "application/x-protobuf")
        .body(vec![0xff, 0xff, 0xff])
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .post(format!("{}/v1/logs", w.http))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let status: Value = r.json().unwrap();
    assert!(status["message"].as_str().unwrap().len() > 5);
    let r = c
        .post(format!("{}/v1/logs", w.http))
        .bearer_auth(&key)
        .header("content-type", "text/csv")
        .body("a,b")
        .send()
        .unwrap();
    assert_eq!(r.status(), 415);
    // A gzip bomb: 200 MiB of zeros in ~200 KiB, stopped at the decompressed limit.
    let bomb = gzip(&vec![0u8; 200 << 20]);
    let r = c
        .post(format!("{}/v1/logs", w.http))
        .bearer_auth(&key)
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    // Oversized body.
    let r = c
        .post(format!("{}/v1/logs", w.http))
        .bearer_auth(&key)
        .header("content-type", "application/x-protobuf")
        .body(vec![0u8; 17 << 20])
        .send();
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }
    assert!(w.rss_bytes() < 300 << 20, "rss {}", w.rss_bytes());

    let metrics = c
        .get(format!("{}/metrics", w.http))
        .bearer_auth(&w.admin_key)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("ward_ingest_records_total{tenant=\"default\",signal=\"logs\",protocol=\"otlp_http\"} 102"), "{metrics}");
    assert!(
        metrics
            .contains("ward_ingest_rejected_total{signal=\"logs\",reason=\"invalid_timestamp\"} 1")
    );
    assert!(metrics.contains("ward_ingest_rejected_total{signal=\"logs\",reason=\"too_large\"}"));
    assert!(metrics.contains("ward_store_commit_seconds_count"));
    assert!(metrics.contains("ward_store_size_bytes"));
    assert!(metrics.contains("ward_ingest_queue_depth"));
}

#[test]
fn json_lines_from_common_loggers() {
    let w = Ward::start(&[]);
    let key = w.create_key(&["ingest", "read"], "default");
    let now_ms = now_ns() / 1_000_000;
    let iso = chrono_like_now();
    let lines = [
        format!(
            r#"{{"level":50,"time":{now_ms},"pid":7,"hostname":"h1","name":"checkout","msg":"pino says card declined","orderId":"o-1"}}"#
        ),
        format!(
            r#"{{"name":"bunyan-app","hostname":"h2","pid":8,"level":40,"msg":"bunyan slow query","time":"{iso}","v":0}}"#
        ),
        format!(
            r#"{{"event":"structlog user logged in","level":"info","timestamp":"{iso}","user":{{"id":"u-42"}},"service":"auth"}}"#
        ),
        format!(
            r#"{{"timestamp":"{iso}","level":"ERROR","fields":{{"message":"tracing failed to connect","retries":3}},"target":"agent::net","service":"rusty"}}"#
        ),
        format!(
            r#"{{"@timestamp":"{iso}","log.level":"warn","message":"ecs disk almost full","service.name":"ecs-svc","trace.id":"4bf92f3577b34da6a3ce929d0e0e4736"}}"#
        ),
        "this is not json".to_owned(),
    ];
    let r = http()
        .post(format!("{}/api/v1/ingest/logs", w.http))
        .bearer_auth(&key)
        .body(lines.join("\n"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let reply: Value = r.json().unwrap();
    assert_eq!(reply["accepted"], 5, "{reply}");
    assert_eq!(reply["rejected"], 1);
    assert_eq!(reply["errors"][0]["location"], "line 6");

    let pino = query_logs(&w, &key, "service:checkout");
    assert_eq!(pino[0]["level"], "error");
    assert_eq!(pino[0]["attributes"]["orderId"], "o-1");
    assert_eq!(
        query_logs(&w, &key, "service:bunyan-app level=warn").len(),
        1
    );
    assert_eq!(query_logs(&w, &key, "user.id=u-42 \"logged in\"").len(), 1);
    let tracing_line = query_logs(&w, &key, "service:rusty");
    assert_eq!(tracing_line[0]["body"], "tracing failed to connect");
    assert_eq!(tracing_line[0]["level"], "error");
    let ecs = query_logs(&w, &key, "trace:4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(ecs[0]["service"], "ecs-svc");

    // A body where nothing is usable is a 400 problem listing why.
    let r = http()
        .post(format!("{}/api/v1/ingest/logs", w.http))
        .bearer_auth(&key)
        .body("nope\nnope")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let p: Value = r.json().unwrap();
    assert_eq!(p["errors"].as_array().unwrap().len(), 2);

    // Filter errors are explained.
    let r = http()
        .get(format!("{}/api/v1/logs", w.http))
        .query(&[("q", "level>=loud")])
        .bearer_auth(&key)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let p: Value = r.json().unwrap();
    assert!(p["detail"].as_str().unwrap().contains("column"), "{p}");

    // Services.
    let (status, services) = get_json(&w, &key, "/api/v1/services");
    assert_eq!(status, 200);
    let names: Vec<&str> = services["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for n in ["auth", "bunyan-app", "checkout", "ecs-svc", "rusty"] {
        assert!(names.contains(&n), "{names:?}");
    }
}

fn chrono_like_now() -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%S.%3NZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn cursor_pagination_is_complete_and_newest_first() {
    let w = Ward::start(&[]);
    let key = w.create_key(&["ingest", "read"], "default");
    let t = now_ns() - 10_000_000_000;
    let bodies: Vec<String> = (0..250).map(|i| format!("page record {i}")).collect();
    let refs: Vec<&str> = bodies.iter().map(|s| s.as_str()).collect();
    let mut req = log_request("pager", &refs, t);
    for (i, r) in req.resource_logs[0].scope_logs[0]
        .log_records
        .iter_mut()
        .enumerate()
    {
        r.time_unix_nano = t + i as u64 * 1000;
    }
    let r = http()
        .post(format!("{}/v1/logs", w.http))
        .bearer_auth(&key)
        .header("content-type", "application/x-protobuf")
        .body(req.encode_to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = vec![
            ("q", "service:pager".to_owned()),
            ("limit", "100".to_owned()),
        ];
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let page: Value = http()
            .get(format!("{}/api/v1/logs", w.http))
            .query(&q)
            .bearer_auth(&key)
            .send()
            .unwrap()
            .json()
            .unwrap();
        for l in page["logs"].as_array().unwrap() {
            seen.push(l["time_unix_nano"].as_i64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 250);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, no duplicates"
    );
    let r = http()
        .get(format!("{}/api/v1/logs", w.http))
        .query(&[("cursor", "garbage!!")])
        .bearer_auth(&key)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
}

fn span_at(
    trace: [u8; 16],
    id: u8,
    parent: Option<u8>,
    name: &str,
    start: u64,
    ms: u64,
    error: bool,
) -> Span {
    Span {
        trace_id: trace.to_vec(),
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: name.into(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start + ms * 1_000_000,
        status: Some(Status {
            code: if error { 2 } else { 0 },
            message: if error { "boom".into() } else { String::new() },
        }),
        events: if error {
            vec![span::Event {
                time_unix_nano: start + 1,
                name: "exception".into(),
                attributes: vec![
                    kv("exception.type", "ValueError"),
                    kv("exception.message", "bad input"),
                ],
                ..Default::default()
            }]
        } else {
            vec![]
        },
        ..Default::default()
    }
}

fn trace_request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(service),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_grpc_traces_and_trace_queries() {
    use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;

    let w = tokio::task::spawn_blocking(|| Ward::start(&[]))
        .await
        .unwrap();
    let key = {
        let w_http = w.http.clone();
        let admin = w.admin_key.clone();
        tokio::task::spawn_blocking(move || {
            let r = http()
                .post(format!("{w_http}/api/v1/keys"))
                .bearer_auth(admin)
                .json(&json!({"scopes": ["ingest", "read"]}))
                .send()
                .unwrap();
            r.json::<Value>().unwrap()["key"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .await
        .unwrap()
    };
    let t = now_ns();
    let trace = [7u8; 16];
    let spans = vec![
        span_at(trace, 1, None, "POST /chat", t, 900, false),
        span_at(trace, 2, Some(1), "llm.chat", t + 1_000_000, 700, false),
        span_at(trace, 3, Some(1), "tool.search", t + 2_000_000, 50, true),
    ];
    let mut client = TraceServiceClient::connect(w.grpc.clone()).await.unwrap();
    let mut request = tonic::Request::new(trace_request("agent-api", spans));
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    let reply: ExportTraceServiceResponse = client.export(request).await.unwrap().into_inner();
    assert!(reply.partial_success.is_none());

    // Without a key, gRPC says UNAUTHENTICATED.
    let mut logs = LogsServiceClient::connect(w.grpc.clone()).await.unwrap();
    let err = logs
        .export(tonic::Request::new(log_request("x", &["y"], t)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    // A bad span is refused alone, with a reason.
    let mut bad = trace_request(
        "agent-api",
        vec![
            span_at([8; 16], 1, None, "ok", t, 1, false),
            span_at([8; 16], 2, None, "bad", t, 1, false),
        ],
    );
    bad.resource_spans[0].scope_spans[0].spans[1].span_id = vec![1, 2, 3];
    let mut request = tonic::Request::new(bad);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    let reply = client.export(request).await.unwrap().into_inner();
    assert_eq!(reply.partial_success.unwrap().rejected_spans, 1);

    let trace_hex = "07".repeat(16);
    let (w_http, key2) = (w.http.clone(), key.clone());
    let (tree, search, by_duration) = tokio::task::spawn_blocking(move || {
        let c = http();
        let tree: Value = c
            .get(format!("{w_http}/api/v1/traces/{trace_hex}"))
            .bearer_auth(&key2)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let search: Value = c
            .get(format!("{w_http}/api/v1/traces"))
            .query(&[("q", "status:error"), ("service", "agent-api")])
            .bearer_auth(&key2)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let by_duration: Value = c
            .get(format!("{w_http}/api/v1/traces"))
            .query(&[("min_duration", "800ms")])
            .bearer_auth(&key2)
            .send()
            .unwrap()
            .json()
            .unwrap();
        (tree, search, by_duration)
    })
    .await
    .unwrap();
    assert_eq!(tree["span_count"], 3);
    assert_eq!(tree["error_count"], 1);
    let root = &tree["roots"][0];
    assert_eq!(root["name"], "POST /chat");
    assert_eq!(root["children"].as_array().unwrap().len(), 2);
    assert_eq!(root["children"][1]["name"], "tool.search");
    assert_eq!(
        root["children"][1]["events"][0]["attributes"]["exception.type"],
        "ValueError"
    );
    assert_eq!(search["traces"][0]["trace_id"], "07".repeat(16));
    assert_eq!(search["traces"][0]["root_name"], "POST /chat");
    assert_eq!(by_duration["traces"].as_array().unwrap().len(), 1);
    let (w_http, key3) = (w.http.clone(), key.clone());
    let missing = tokio::task::spawn_blocking(move || {
        http()
            .get(format!("{w_http}/api/v1/traces/{}", "ab".repeat(16)))
            .bearer_auth(&key3)
            .send()
            .unwrap()
            .status()
    })
    .await
    .unwrap();
    assert_eq!(missing, 404);
    drop(w);
}

#[test]
fn tenants_are_isolated() {
    let w = Ward::start(&[]);
    let a = w.create_key(&["ingest", "read"], "team-a");
    let b = w.create_key(&["ingest", "read"], "team-b");
    let t = now_ns();
    let r = http()
        .post(format!("{}/v1/logs", w.http))
        .bearer_auth(&a)
        .header("content-type", "application/x-protobuf")
        .body(log_request("secret-svc", &["team a private"], t).encode_to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(query_logs(&w, &a, "").len(), 1);
    assert!(query_logs(&w, &b, "").is_empty());
    assert!(query_logs(&w, &b, "service:secret-svc").is_empty());
    let (_, services) = get_json(&w, &b, "/api/v1/services");
    assert!(services["services"].as_array().unwrap().is_empty());
    // A tenant admin cannot mint keys for another tenant.
    let a_admin = w.create_key(&["admin"], "team-a");
    let r = http()
        .post(format!("{}/api/v1/keys", w.http))
        .bearer_auth(&a_admin)
        .json(&json!({"tenant": "team-b", "scopes": ["read"]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[test]
fn live_tail_streams_committed_records() {
    let w = Ward::start(&[]);
    let key = w.create_key(&["ingest", "read"], "default");
    let mut tail = std::process::Command::new(common::ward_bin())
        .args(["tail", "level>=warn service:tailed", "--json"])
        .env("WARD_URL", &w.http)
        .env("WARD_API_KEY", &key)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let t = now_ns();
    let mut req = log_request("tailed", &["first warning", "an info line"], t);
    req.resource_logs[0].scope_logs[0].log_records[1].severity_number = 9;
    http()
        .post(format!("{}/v1/logs", w.http))
        .bearer_auth(&key)
        .header("content-type", "application/x-protobuf")
        .body(req.encode_to_vec())
        .send()
        .unwrap();
    let stdout = tail.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a tailed record");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["body"], "first warning");
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "the info line is filtered out"
    );
    let _ = tail.kill();
    let _ = tail.wait();
}

#[test]
fn cli_keys_query_and_config() {
    let w = Ward::start(&[]);
    // Keys through the API with the admin key.
    let out = w.cli(
        &w.admin_key,
        &[
            "keys", "create", "--tenant", "default", "--scope", "ingest", "--scope", "read",
            "--name", "cli",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("ward_"));
    let out = w.cli(&w.admin_key, &["keys", "list"]);
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(
        listing.contains("ingest,read") && !listing.contains(&key[18..]),
        "{listing}"
    );

    // Keys directly on the data directory (no API key).
    let out = w.cli(
        "",
        &["keys", "create", "--tenant", "local-t", "--scope", "read"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let local_key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (status, _) = get_json(&w, &local_key, "/api/v1/logs");
    assert_eq!(status, 200, "a key made on disk works at once");

    let body = log_request("cli-svc", &["disk almost full on /var"], now_ns()).encode_to_vec();
    http()
        .post(format!("{}/v1/logs", w.http))
        .bearer_auth(&key)
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .unwrap();
    let out = w.cli(
        &key,
        &[
            "query",
            "logs",
            "service:cli-svc \"almost full\"",
            "--since",
            "1h",
        ],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("WARN") && text.contains("disk almost full on /var"),
        "{text}"
    );
    let out = w.cli(&key, &["query", "logs", "level>=loud"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: 400") && err.contains("column") && err.lines().count() == 1,
        "{err}"
    );
    let out = w.cli(&key, &["query", "services"]);
    assert!(String::from_utf8(out.stdout).unwrap().contains("cli-svc"));

    // Revocation through the CLI takes effect immediately.
    let id = key.split('_').nth(1).unwrap();
    let out = w.cli(&w.admin_key, &["keys", "revoke", id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, _) = get_json(&w, &key, "/api/v1/logs");
    assert_eq!(status, 401);

    // Config check.
    std::fs::write(
        w.dir.join("good.toml"),
        "[server]\nlisten = \"127.0.0.1:5000\"\n",
    )
    .unwrap();
    std::fs::write(w.dir.join("bad.toml"), "[server]\nlisten = \"nowhere\"\n").unwrap();
    let out = w.cli("", &["config", "check", "--config", "good.toml"]);
    assert!(out.status.success());
    let out = w.cli("", &["config", "check", "--config", "bad.toml"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("server.listen") && err.lines().count() == 1,
        "{err}"
    );
    // CORS: any origin is allowed with a warning, never with credentials.
    std::fs::write(
        w.dir.join("cors-any.toml"),
        "[cors]\nallowed_origins = [\"*\"]\n",
    )
    .unwrap();
    std::fs::write(
        w.dir.join("cors-bad.toml"),
        "[cors]\nallowed_origins = [\"*\"]\nallow_credentials = true\n",
    )
    .unwrap();
    let out = w.cli("", &["config", "check", "--config", "cors-any.toml"]);
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("warning: cors.allowed_origins"), "{err}");
    let out = w.cli("", &["config", "check", "--config", "cors-bad.toml"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("cors.allow_credentials"), "{err}");
}

#[test]
fn sigterm_finishes_in_flight_work_and_exits_zero() {
    let mut w = Ward::start(&[]);
    let key = w.create_key(&["ingest", "read"], "default");
    let body = log_request("term", &["before shutdown"], now_ns()).encode_to_vec();
    let r = http()
        .post(format!("{}/v1/logs", w.http))
        .bearer_auth(&key)
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let started = std::time::Instant::now();
    let status = w
        .signal("TERM", Duration::from_secs(12))
        .expect("exits within the shutdown timeout");
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let w2 = Ward::start_in(&w.dir.clone(), &[], Some(w.admin_key.clone()));
    assert_eq!(query_logs(&w2, &key, "service:term").len(), 1);
}
