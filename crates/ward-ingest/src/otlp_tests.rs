use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
    exponential_histogram_data_point, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile,
};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status, span};
use serde_json::json;

use super::*;

/// Shortly after the times used by the OTLP specification's examples (2018-12-13).
const NOW: i64 = 1_544_712_661_000_000_000;
const SEC: u64 = 1_000_000_000;
const T: u64 = NOW as u64 - 10 * SEC;

fn n() -> Normalize {
    Normalize::new(NOW)
}

fn s(text: &str) -> any_value::Value {
    any_value::Value::StringValue(text.to_owned())
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn res(service: &str) -> Option<ProtoResource> {
    Some(ProtoResource {
        attributes: vec![kv("service.name", s(service)), kv("host.name", s("box-1"))],
        ..Default::default()
    })
}

fn log(time: u64, body: &str) -> plogs::LogRecord {
    plogs::LogRecord {
        time_unix_nano: time,
        observed_time_unix_nano: time,
        severity_number: 9,
        severity_text: "INFO".to_owned(),
        body: Some(AnyValue {
            value: Some(s(body)),
        }),
        ..Default::default()
    }
}

fn logs_req(records: Vec<plogs::LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: res("planner"),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "agent.lib".to_owned(),
                    version: "1.2.3".to_owned(),
                    ..Default::default()
                }),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn span(trace: &[u8], id: &[u8], start: u64, end: u64) -> ptrace::Span {
    ptrace::Span {
        trace_id: trace.to_vec(),
        span_id: id.to_vec(),
        name: "llm.call".to_owned(),
        kind: 3,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        ..Default::default()
    }
}

fn traces_req(spans: Vec<ptrace::Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: res("planner"),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metrics_req(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: res("planner"),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metric(name: &str, data: Data) -> Metric {
    Metric {
        name: name.to_owned(),
        unit: "1".to_owned(),
        data: Some(data),
        ..Default::default()
    }
}

fn number(time: u64, value: number_data_point::Value) -> NumberDataPoint {
    NumberDataPoint {
        time_unix_nano: time,
        value: Some(value),
        ..Default::default()
    }
}

const TRACE: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];
const SPAN: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];

// --- Content types ---------------------------------------------------------------------------

#[test]
fn content_types_map_to_encodings() {
    use Encoding::*;
    for (ct, want) in [
        (None, Protobuf),
        (Some(""), Protobuf),
        (Some("application/x-protobuf"), Protobuf),
        (Some("application/protobuf"), Protobuf),
        (Some("Application/X-Protobuf; proto=foo"), Protobuf),
        (Some("application/json"), Json),
        (Some("application/json; charset=utf-8"), Json),
        (Some(" APPLICATION/JSON ;charset=UTF-8"), Json),
    ] {
        assert_eq!(Encoding::from_content_type(ct).unwrap(), want, "{ct:?}");
    }
    let err = Encoding::from_content_type(Some("text/plain")).unwrap_err();
    assert_eq!(err.reason(), "unsupported_content_type");
    assert!(err.to_string().contains("text/plain"));
}

// --- The OTLP specification's JSON examples ---------------------------------------------------

/// Shaped like `examples/logs.json` of opentelemetry-proto: upper-case hex ids, int64 times as
/// JSON numbers, every AnyValue kind.
const SPEC_LOGS: &str = r#"{
  "resourceLogs": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
    "scopeLogs": [{
      "scope": {"name": "my.library", "version": "1.0.0",
                "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]},
      "logRecords": [{
        "timeUnixNano": 1544712660300000000,
        "observedTimeUnixNano": 1544712660300000000,
        "severityNumber": 10,
        "severityText": "Information",
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "body": {"stringValue": "Example log record"},
        "attributes": [
          {"key": "string.attribute", "value": {"stringValue": "some string"}},
          {"key": "boolean.attribute", "value": {"boolValue": true}},
          {"key": "int.attribute", "value": {"intValue": 10}},
          {"key": "double.attribute", "value": {"doubleValue": 637.704}},
          {"key": "array.attribute", "value": {"arrayValue": {"values": [{"stringValue": "many"}, {"stringValue": "values"}]}}},
          {"key": "map.attribute", "value": {"kvlistValue": {"values": [{"key": "some.map.key", "value": {"stringValue": "some value"}}]}}}
        ]
      }]
    }]
  }]
}"#;

#[test]
fn spec_logs_example_decodes() {
    let req = decode_logs(SPEC_LOGS.as_bytes(), Encoding::Json).unwrap();
    let out = logs_to_model(req, &n());
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    let [r] = &out.records[..] else {
        panic!("{:?}", out.records)
    };
    assert_eq!(r.resource.service_name, "my.service");
    assert!(r.resource.attributes.is_empty());
    assert_eq!(
        r.scope,
        Scope {
            name: "my.library".into(),
            version: "1.0.0".into()
        }
    );
    assert_eq!(r.time_unix_nano, 1_544_712_660_300_000_000);
    assert_eq!(r.observed_time_unix_nano, 1_544_712_660_300_000_000);
    assert_eq!(r.severity_number, 10);
    assert_eq!(r.severity_text, "Information");
    assert_eq!(r.body, "Example log record");
    assert_eq!(
        r.trace_id.unwrap().to_hex(),
        "5b8efff798038103d269b633813fc60c"
    );
    assert_eq!(r.span_id.unwrap().to_hex(), "eee19b7ec3c1b174");
    assert_eq!(
        Value::Object(r.attributes.clone()),
        json!({
            "string.attribute": "some string",
            "boolean.attribute": true,
            "int.attribute": 10,
            "double.attribute": 637.704,
            "array.attribute": ["many", "values"],
            "map.attribute": {"some.map.key": "some value"}
        })
    );
}

/// Shaped like `examples/trace.json`.
const SPEC_TRACE: &str = r#"{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
    "scopeSpans": [{
      "scope": {"name": "my.library", "version": "1.0.0"},
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "EEE19B7EC3C1B173",
        "name": "I'm a server span",
        "startTimeUnixNano": 1544712660000000000,
        "endTimeUnixNano": 1544712661000000000,
        "kind": 2,
        "attributes": [{"key": "my.span.attr", "value": {"stringValue": "some value"}}]
      }]
    }]
  }]
}"#;

#[test]
fn spec_trace_example_decodes() {
    let req = decode_traces(SPEC_TRACE.as_bytes(), Encoding::Json).unwrap();
    let out = traces_to_model(req, &n());
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    let [sp] = &out.records[..] else { panic!() };
    assert_eq!(sp.trace_id.to_hex(), "5b8efff798038103d269b633813fc60c");
    assert_eq!(sp.span_id.to_hex(), "eee19b7ec3c1b174");
    assert_eq!(sp.parent_span_id.unwrap().to_hex(), "eee19b7ec3c1b173");
    assert_eq!(sp.name, "I'm a server span");
    assert_eq!(sp.kind, SpanKind::Server);
    assert_eq!(sp.duration_nanos(), 1_000_000_000);
    assert_eq!(
        sp.attributes.get("my.span.attr"),
        Some(&json!("some value"))
    );
    assert_eq!(sp.resource.service_name, "my.service");
    assert_eq!(sp.status, SpanStatus::default());
}

/// Shaped like `examples/metrics.json`, including its histogram with three bucket counts for one
/// explicit bound (more counts than bounds + 1).
const SPEC_METRICS: &str = r#"{
  "resourceMetrics": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
    "scopeMetrics": [{
      "scope": {"name": "my.library", "version": "1.0.0"},
      "metrics": [
        {"name": "my.counter", "unit": "1", "description": "I am a Counter",
         "sum": {"aggregationTemporality": 1, "isMonotonic": true,
                 "dataPoints": [{"asDouble": 5, "startTimeUnixNano": 1544712660300000000, "timeUnixNano": 1544712660300000000,
                                 "attributes": [{"key": "my.counter.attr", "value": {"stringValue": "some value"}}]}]}},
        {"name": "my.gauge", "unit": "1", "description": "I am a Gauge",
         "gauge": {"dataPoints": [{"asDouble": 10, "timeUnixNano": 1544712660300000000}]}},
        {"name": "my.histogram", "unit": "1", "description": "I am a Histogram",
         "histogram": {"aggregationTemporality": 1,
                       "dataPoints": [{"startTimeUnixNano": 1544712660300000000, "timeUnixNano": 1544712660300000000,
                                       "count": 3, "sum": 3, "bucketCounts": [1,1,1], "explicitBounds": [1], "min": 1, "max": 1}]}}
      ]
    }]
  }]
}"#;

#[test]
fn spec_metrics_example_decodes() {
    let req = decode_metrics(SPEC_METRICS.as_bytes(), Encoding::Json).unwrap();
    let out = metrics_to_model(req, &n());
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    let [sum, gauge, hist] = &out.records[..] else {
        panic!("{:?}", out.records)
    };
    assert_eq!(sum.name, "my.counter");
    assert_eq!(sum.description, "I am a Counter");
    assert_eq!(sum.kind, MetricKind::Sum);
    assert_eq!(sum.temporality, Temporality::Delta);
    assert!(sum.monotonic);
    assert_eq!(sum.value, MetricValue::Number { value: 5.0 });
    assert_eq!(sum.start_time_unix_nano, 1_544_712_660_300_000_000);
    assert_eq!(
        sum.attributes.get("my.counter.attr"),
        Some(&json!("some value"))
    );
    assert_eq!(gauge.kind, MetricKind::Gauge);
    assert_eq!(gauge.value, MetricValue::Number { value: 10.0 });
    assert_eq!(hist.kind, MetricKind::Histogram);
    assert_eq!(
        hist.value,
        MetricValue::Histogram {
            count: 3,
            sum: Some(3.0),
            bounds: vec![1.0],
            counts: vec![1, 2],
            min: Some(1.0),
            max: Some(1.0)
        }
    );
    assert_eq!(hist.resource.service_name, "my.service");
    assert_eq!(hist.scope.name, "my.library");
}

// --- OTLP/JSON details and deviations ---------------------------------------------------------

#[test]
fn json_int64_as_strings_and_numbers() {
    let body = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
        {"timeUnixNano":"1544712660300000000","body":{"intValue":"-42"},
         "attributes":[{"key":"a","value":{"intValue":"9007199254740993"}},{"key":"b","value":{"intValue":7}}]},
        {"timeUnixNano":1544712660300000001,"observedTimeUnixNano":"1544712660300000002"}]}]}]}"#;
    let out = logs_to_model(decode_logs(body.as_bytes(), Encoding::Json).unwrap(), &n());
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    let [a, b] = &out.records[..] else { panic!() };
    assert_eq!(a.time_unix_nano, 1_544_712_660_300_000_000);
    assert_eq!(a.body, "-42");
    assert_eq!(
        a.attributes.get("a"),
        Some(&json!(9_007_199_254_740_993_i64))
    );
    assert_eq!(a.attributes.get("b"), Some(&json!(7)));
    assert_eq!(a.resource.service_name, "unknown_service");
    assert_eq!(b.time_unix_nano, 1_544_712_660_300_000_001);
    assert_eq!(b.observed_time_unix_nano, 1_544_712_660_300_000_002);
}

#[test]
fn json_float_times_and_counts() {
    let body = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"dataPoints":[
        {"timeUnixNano":1.5447126603e18,"count":3.0,"bucketCounts":[3]}]}}]}]}]}"#;
    let out = metrics_to_model(
        decode_metrics(body.as_bytes(), Encoding::Json).unwrap(),
        &n(),
    );
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert_eq!(out.records[0].time_unix_nano, 1_544_712_660_300_000_000);
    assert!(matches!(
        out.records[0].value,
        MetricValue::Histogram { count: 3, .. }
    ));
    let body =
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":1.5447126603e18}]}]}]}"#;
    let out = logs_to_model(decode_logs(body.as_bytes(), Encoding::Json).unwrap(), &n());
    assert_eq!(out.records[0].time_unix_nano, 1_544_712_660_300_000_000);
}

#[test]
fn json_enum_names_nulls_and_base64_ids_are_accepted() {
    let trace_b64 = "W47/95gDgQPSabYzgT/GDA==";
    let span_b64 = "7uGbfsPBsXQ=";
    let body = format!(
        r#"{{"resourceSpans":[{{"resource":null,"scopeSpans":[{{"scope":null,"spans":[{{
            "traceId":"{trace_b64}","spanId":"{span_b64}","parentSpanId":"",
            "name":"tool.run","kind":"SPAN_KIND_CLIENT","flags":"256",
            "startTimeUnixNano":"{T}","endTimeUnixNano":"{end}",
            "status":{{"code":"STATUS_CODE_ERROR","message":"boom"}},
            "events":null,"links":[],
            "droppedAttributesCount":"0"}}]}}]}}]}}"#,
        end = T + SEC
    );
    let out = traces_to_model(
        decode_traces(body.as_bytes(), Encoding::Json).unwrap(),
        &n(),
    );
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    let [sp] = &out.records[..] else { panic!() };
    assert_eq!(sp.trace_id.0, TRACE);
    assert_eq!(sp.span_id.0, SPAN);
    assert_eq!(sp.parent_span_id, None);
    assert_eq!(sp.kind, SpanKind::Client);
    assert_eq!(sp.status.code, StatusCode::Error);
    assert_eq!(sp.status.message, "boom");

    let body = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"timeUnixNano":"{T}",
            "severityNumber":"SEVERITY_NUMBER_WARN2","body":{{"stringValue":"careful"}}}}]}}]}}]}}"#
    );
    let out = logs_to_model(decode_logs(body.as_bytes(), Encoding::Json).unwrap(), &n());
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert_eq!(out.records[0].severity_number, 14);

    let body = format!(
        r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"tokens",
            "sum":{{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","isMonotonic":true,
                   "dataPoints":[{{"asInt":"12","timeUnixNano":"{T}"}}]}}}}]}}]}}]}}"#
    );
    let out = metrics_to_model(
        decode_metrics(body.as_bytes(), Encoding::Json).unwrap(),
        &n(),
    );
    assert_eq!(out.records[0].temporality, Temporality::Cumulative);
    assert_eq!(out.records[0].value, MetricValue::Number { value: 12.0 });
}

#[test]
fn json_non_finite_and_string_floats() {
    let body = format!(
        r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[
          {{"name":"g","gauge":{{"dataPoints":[
              {{"asDouble":"NaN","timeUnixNano":"{T}"}},
              {{"asDouble":"2.5","timeUnixNano":"{T}"}},
              {{"asDouble":1.5,"timeUnixNano":"{T}","attributes":[{{"key":"x","value":{{"doubleValue":"Infinity"}}}}]}}]}}}},
          {{"name":"h","histogram":{{"dataPoints":[
              {{"count":"2","sum":"NaN","min":"-Infinity","max":"4","bucketCounts":["1","1"],"explicitBounds":["2.5"],"timeUnixNano":"{T}"}}]}}}},
          {{"name":"s","summary":{{"dataPoints":[
              {{"count":"3","sum":6,"quantileValues":[{{"quantile":0.5,"value":"NaN"}},{{"quantile":0.99,"value":3}}],"timeUnixNano":"{T}"}}]}}}}
        ]}}]}}]}}"#
    );
    let out = metrics_to_model(
        decode_metrics(body.as_bytes(), Encoding::Json).unwrap(),
        &n(),
    );
    assert_eq!(
        out.rejected.len(),
        1,
        "{:?} {:?}",
        out.rejected,
        out.records
    );
    assert_eq!(out.rejected[0].index, 0);
    assert_eq!(out.rejected[0].reason, RejectReason::InvalidValue);
    assert_eq!(
        out.rejected[0].location,
        "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0]"
    );
    let [a, b, h, s] = &out.records[..] else {
        panic!("{:?}", out.records)
    };
    assert_eq!(a.value, MetricValue::Number { value: 2.5 });
    assert_eq!(b.attributes.get("x"), Some(&json!("inf")));
    assert_eq!(
        h.value,
        MetricValue::Histogram {
            count: 2,
            sum: None,
            bounds: vec![2.5],
            counts: vec![1, 1],
            min: None,
            max: Some(4.0)
        }
    );
    assert_eq!(
        s.value,
        MetricValue::Summary {
            count: 3,
            sum: 6.0,
            quantiles: vec![(0.99, 3.0)]
        }
    );
}

#[test]
fn json_invalid_id_refuses_only_its_record() {
    let body = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[
            {{"timeUnixNano":"{T}","traceId":"not-a-trace-id","body":{{"stringValue":"a"}}}},
            {{"timeUnixNano":"{T}","traceId":"5b8efff798038103d269b633813fc60c","body":{{"stringValue":"b"}}}},
            {{"timeUnixNano":"{T}","spanId":"abc","body":{{"stringValue":"c"}}}}]}}]}}]}}"#
    );
    let out = logs_to_model(decode_logs(body.as_bytes(), Encoding::Json).unwrap(), &n());
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].body, "b");
    assert_eq!(out.rejected.len(), 2);
    assert_eq!(out.rejected[0].reason, RejectReason::InvalidTraceId);
    assert_eq!(out.rejected[0].index, 0);
    assert_eq!(out.rejected[1].reason, RejectReason::InvalidSpanId);
    assert_eq!(out.rejected[1].index, 2);
}

#[test]
fn json_errors_are_decode_errors() {
    let err = decode_logs(b"{\"resourceLogs\": [", Encoding::Json).unwrap_err();
    assert_eq!(err.reason(), "bad_json");
    assert!(err.to_string().contains("line 1"), "{err}");
    let err = decode_logs(br#"{"resourceLogs": 5}"#, Encoding::Json).unwrap_err();
    assert_eq!(err.reason(), "bad_json");
    let err = decode_traces(
        br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_NOPE"}]}]}]}"#,
        Encoding::Json,
    )
    .unwrap_err();
    assert_eq!(err.reason(), "bad_json");
    // Unknown fields are ignored, an empty object is an empty request.
    let req = decode_logs(
        br#"{"resourceLogs":[],"somethingNew":{"x":1}}"#,
        Encoding::Json,
    )
    .unwrap();
    assert!(req.resource_logs.is_empty());
    assert!(
        decode_metrics(b"{}", Encoding::Json)
            .unwrap()
            .resource_metrics
            .is_empty()
    );
}

#[test]
fn json_round_trips_through_the_crate_serializer() {
    let mut record = log(T, "hello");
    record.trace_id = TRACE.to_vec();
    record.span_id = SPAN.to_vec();
    record.attributes = vec![
        kv("n", any_value::Value::IntValue(i64::MAX)),
        kv("b", any_value::Value::BytesValue(vec![0, 1, 2])),
    ];
    let req = logs_req(vec![record]);
    let body = serde_json::to_vec(&req).unwrap();
    assert_eq!(decode_logs(&body, Encoding::Json).unwrap(), req);
}

// --- Protobuf ---------------------------------------------------------------------------------

#[test]
fn protobuf_round_trip_all_signals() {
    let mut record = log(T, "hello");
    record.trace_id = TRACE.to_vec();
    let logs = logs_req(vec![record]);
    let back = decode_logs(&encode_protobuf(&logs), Encoding::Protobuf).unwrap();
    assert_eq!(back, logs);
    let out = logs_to_model(back, &n());
    assert_eq!(out.records[0].body, "hello");
    assert_eq!(out.records[0].resource.service_name, "planner");
    assert_eq!(
        out.records[0].resource.attributes.get("host.name"),
        Some(&json!("box-1"))
    );
    assert_eq!(out.records[0].scope.version, "1.2.3");

    let traces = traces_req(vec![span(&TRACE, &SPAN, T, T + SEC)]);
    assert_eq!(
        decode_traces(&encode_protobuf(&traces), Encoding::Protobuf).unwrap(),
        traces
    );
    let metrics = metrics_req(vec![metric(
        "m",
        Data::Gauge(Gauge {
            data_points: vec![number(T, number_data_point::Value::AsInt(3))],
        }),
    )]);
    assert_eq!(
        decode_metrics(&encode_protobuf(&metrics), Encoding::Protobuf).unwrap(),
        metrics
    );
    assert!(
        decode_logs(&[], Encoding::Protobuf)
            .unwrap()
            .resource_logs
            .is_empty()
    );
}

#[test]
fn protobuf_errors_are_decode_errors() {
    let err = decode_logs(b"\xff\xff\xff\xff\xff", Encoding::Protobuf).unwrap_err();
    assert_eq!(err.reason(), "bad_protobuf");
    // A body string that is not UTF-8: prost refuses it and names the field.
    let mut record = log(T, "XXXX");
    record.severity_text = "YYYY".to_owned();
    let mut bytes = encode_protobuf(&logs_req(vec![record]));
    let pos = bytes.windows(4).position(|w| w == b"YYYY").unwrap();
    bytes[pos] = 0xff;
    let err = decode_logs(&bytes, Encoding::Protobuf).unwrap_err();
    assert_eq!(err.reason(), "bad_protobuf");
    assert!(err.to_string().contains("severity_text"), "{err}");
}

// --- AnyValue ---------------------------------------------------------------------------------

#[test]
fn any_values_map_to_json() {
    use any_value::Value as V;
    let av = |v| AnyValue { value: Some(v) };
    assert_eq!(any_value_to_json(av(s("x")), 100), json!("x"));
    assert_eq!(any_value_to_json(av(V::BoolValue(true)), 100), json!(true));
    assert_eq!(any_value_to_json(av(V::IntValue(-7)), 100), json!(-7));
    assert_eq!(
        any_value_to_json(av(V::DoubleValue(0.25)), 100),
        json!(0.25)
    );
    assert_eq!(
        any_value_to_json(av(V::DoubleValue(f64::NAN)), 100),
        json!("NaN")
    );
    assert_eq!(
        any_value_to_json(av(V::DoubleValue(f64::INFINITY)), 100),
        json!("inf")
    );
    assert_eq!(
        any_value_to_json(av(V::DoubleValue(f64::NEG_INFINITY)), 100),
        json!("-inf")
    );
    assert_eq!(
        any_value_to_json(av(V::BytesValue(b"hello".to_vec())), 100),
        json!("aGVsbG8=")
    );
    assert_eq!(
        any_value_to_json(AnyValue { value: None }, 100),
        Value::Null
    );
    let nested = V::KvlistValue(KeyValueList {
        values: vec![
            kv(
                "list",
                V::ArrayValue(ArrayValue {
                    values: vec![av(V::IntValue(1)), av(s("two"))],
                }),
            ),
            kv(
                "inner",
                V::KvlistValue(KeyValueList {
                    values: vec![kv("k", s("v"))],
                }),
            ),
        ],
    });
    assert_eq!(
        any_value_to_json(av(nested), 100),
        json!({"list": [1, "two"], "inner": {"k": "v"}})
    );
}

#[test]
fn long_attribute_values_are_truncated_on_char_boundaries() {
    let mut norm = n();
    norm.max_attribute_value_bytes = 5;
    let mut record = log(T, "body is not an attribute and stays whole");
    record.attributes = vec![
        kv("s", s("abcdéfgh")),
        kv("b", any_value::Value::BytesValue(vec![1; 100])),
        kv(
            "arr",
            any_value::Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(s("123456789")),
                }],
            }),
        ),
    ];
    let out = logs_to_model(logs_req(vec![record]), &norm);
    let r = &out.records[0];
    assert_eq!(r.attributes.get("s"), Some(&json!("abcd")));
    assert_eq!(r.attributes.get("b"), Some(&json!("AQEB")));
    assert_eq!(r.attributes.get("arr"), Some(&json!(["12345"])));
    assert_eq!(r.body, "body is not an attribute and stays whole");
}

// --- Logs -------------------------------------------------------------------------------------

#[test]
fn log_times_fall_back_and_are_checked() {
    let mut a = log(0, "observed only");
    a.observed_time_unix_nano = T;
    let b = log(0, "no time at all");
    let mut c = log(T, "no observed time");
    c.observed_time_unix_nano = 0;
    let d = log(4_102_444_800_000_000_000, "2100");
    let e = log(1_000_000_000, "1970");
    let f = log(u64::MAX, "past 2262");
    let mut g = log(0, "absurd observed only");
    g.observed_time_unix_nano = 4_102_444_800_000_000_000;
    let mut h = log(T, "absurd observed, fine time");
    h.observed_time_unix_nano = 5;
    let out = logs_to_model(logs_req(vec![a, b, c, d, e, f, g, h]), &n());
    let bodies: Vec<_> = out.records.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(
        bodies,
        [
            "observed only",
            "no time at all",
            "no observed time",
            "absurd observed, fine time"
        ]
    );
    let [a, b, c, h] = &out.records[..] else {
        panic!()
    };
    assert_eq!(
        (a.time_unix_nano, a.observed_time_unix_nano),
        (T as i64, T as i64)
    );
    assert_eq!((b.time_unix_nano, b.observed_time_unix_nano), (NOW, NOW));
    assert_eq!(
        (c.time_unix_nano, c.observed_time_unix_nano),
        (T as i64, NOW)
    );
    assert_eq!(
        (h.time_unix_nano, h.observed_time_unix_nano),
        (T as i64, NOW)
    );
    let rejected: Vec<_> = out
        .rejected
        .iter()
        .map(|r| (r.index, r.reason, r.message.as_str()))
        .collect();
    assert_eq!(
        rejected,
        [
            (
                3,
                RejectReason::InvalidTimestamp,
                "time_unix_nano 4102444800000000000 is more than 1h in the future"
            ),
            (
                4,
                RejectReason::InvalidTimestamp,
                "time_unix_nano 1000000000 is more than 30d in the past"
            ),
            (
                5,
                RejectReason::InvalidTimestamp,
                "time_unix_nano 18446744073709551615 is out of range (after year 2262)"
            ),
            (
                6,
                RejectReason::InvalidTimestamp,
                "observed_time_unix_nano 4102444800000000000 is more than 1h in the future"
            ),
        ]
    );
}

#[test]
fn log_ids_empty_zero_and_malformed() {
    let mut ok = log(T, "ids");
    ok.trace_id = TRACE.to_vec();
    ok.span_id = SPAN.to_vec();
    let mut zero = log(T, "zero ids");
    zero.trace_id = vec![0; 16];
    zero.span_id = vec![0; 8];
    let none = log(T, "no ids");
    let mut bad_trace = log(T, "bad trace");
    bad_trace.trace_id = vec![1; 15];
    let mut bad_span = log(T, "bad span");
    bad_span.span_id = vec![1; 9];
    let out = logs_to_model(logs_req(vec![ok, zero, none, bad_trace, bad_span]), &n());
    assert_eq!(out.records.len(), 3);
    assert_eq!(out.records[0].trace_id.map(|t| t.0), Some(TRACE));
    assert_eq!(out.records[0].span_id.map(|s| s.0), Some(SPAN));
    assert_eq!(
        (out.records[1].trace_id, out.records[1].span_id),
        (None, None)
    );
    assert_eq!(
        (out.records[2].trace_id, out.records[2].span_id),
        (None, None)
    );
    assert_eq!(out.rejected[0].reason, RejectReason::InvalidTraceId);
    assert_eq!(
        out.rejected[0].message,
        "trace_id has 15 bytes, expected 16 (32 hex digits)"
    );
    assert_eq!(out.rejected[1].reason, RejectReason::InvalidSpanId);
    assert_eq!(
        out.rejected[1].message,
        "span_id has 9 bytes, expected 8 (16 hex digits)"
    );
}

#[test]
fn severity_out_of_range_is_kept_in_an_attribute() {
    let mut high = log(T, "high");
    high.severity_number = 99;
    let mut negative = log(T, "negative");
    negative.severity_number = -3;
    let mut fine = log(T, "fine");
    fine.severity_number = 24;
    fine.severity_text = "FATAL".into();
    let out = logs_to_model(logs_req(vec![high, negative, fine]), &n());
    let [h, ng, f] = &out.records[..] else {
        panic!()
    };
    assert_eq!(h.severity_number, 0);
    assert_eq!(
        h.attributes.get(ORIGINAL_SEVERITY_ATTRIBUTE),
        Some(&json!(99))
    );
    assert_eq!(h.severity_text, "INFO");
    assert_eq!(ng.severity_number, 0);
    assert_eq!(
        ng.attributes.get(ORIGINAL_SEVERITY_ATTRIBUTE),
        Some(&json!(-3))
    );
    assert_eq!((f.severity_number, f.severity_text.as_str()), (24, "FATAL"));
    assert!(f.attributes.is_empty());
}

#[test]
fn log_bodies_and_event_names() {
    let mut structured = log(T, "");
    structured.body = Some(AnyValue {
        value: Some(any_value::Value::KvlistValue(KeyValueList {
            values: vec![
                kv("tool", s("search")),
                kv("ok", any_value::Value::BoolValue(true)),
            ],
        })),
    });
    structured.event_name = "agent.tool_call".into();
    let mut empty = log(T, "");
    empty.body = None;
    let mut int = log(T, "");
    int.body = Some(AnyValue {
        value: Some(any_value::Value::IntValue(5)),
    });
    let out = logs_to_model(logs_req(vec![structured, empty, int]), &n());
    assert_eq!(out.records[0].body, r#"{"ok":true,"tool":"search"}"#);
    assert_eq!(
        out.records[0].attributes.get("event.name"),
        Some(&json!("agent.tool_call"))
    );
    assert_eq!(out.records[1].body, "");
    assert_eq!(out.records[2].body, "5");
}

#[test]
fn resources_without_or_with_odd_service_names() {
    let mut req = logs_req(vec![log(T, "a")]);
    req.resource_logs[0].resource = None;
    req.resource_logs.push(ResourceLogs {
        resource: Some(ProtoResource {
            attributes: vec![
                kv("service.name", any_value::Value::IntValue(7)),
                kv("k", s("v")),
            ],
            ..Default::default()
        }),
        scope_logs: vec![ScopeLogs {
            log_records: vec![log(T, "b")],
            ..Default::default()
        }],
        ..Default::default()
    });
    req.resource_logs.push(ResourceLogs {
        resource: Some(ProtoResource {
            attributes: vec![kv("service.name", s(" "))],
            ..Default::default()
        }),
        scope_logs: vec![ScopeLogs {
            log_records: vec![log(T, "c")],
            ..Default::default()
        }],
        ..Default::default()
    });
    let out = logs_to_model(req, &n());
    assert_eq!(
        out.records[0].resource,
        Resource {
            service_name: "unknown_service".into(),
            attributes: Attributes::new()
        }
    );
    assert_eq!(out.records[0].scope.name, "agent.lib");
    assert_eq!(out.records[1].resource.service_name, "7");
    assert_eq!(
        Value::Object(out.records[1].resource.attributes.clone()),
        json!({"k": "v"})
    );
    assert_eq!(out.records[2].resource.service_name, "unknown_service");
}

#[test]
fn partial_success_keeps_ninety_nine_of_a_hundred() {
    let mut records: Vec<_> = (0..100)
        .map(|i| log(T + i, &format!("record {i}")))
        .collect();
    records[37].time_unix_nano = 4_102_444_800_000_000_000;
    let out = logs_to_model(logs_req(records), &n());
    assert_eq!(out.records.len(), 99);
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].index, 37);
    assert_eq!(
        out.rejected[0].location,
        "resourceLogs[0].scopeLogs[0].logRecords[37]"
    );
    assert_eq!(
        out.partial_success_message(),
        "rejected 1 of 100 log records: resourceLogs[0].scopeLogs[0].logRecords[37]: \
         time_unix_nano 4102444800000000000 is more than 1h in the future"
    );
}

#[test]
fn flat_index_runs_across_resources_and_scopes() {
    let mut req = logs_req(vec![log(T, "0"), log(T, "1")]);
    req.resource_logs[0].scope_logs.push(ScopeLogs {
        log_records: vec![log(T, "2"), log(1, "3")],
        ..Default::default()
    });
    req.resource_logs.push(ResourceLogs {
        scope_logs: vec![ScopeLogs {
            log_records: vec![log(1, "4")],
            ..Default::default()
        }],
        ..Default::default()
    });
    let out = logs_to_model(req, &n());
    let got: Vec<_> = out
        .rejected
        .iter()
        .map(|r| (r.index, r.location.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (3, "resourceLogs[0].scopeLogs[1].logRecords[1]"),
            (4, "resourceLogs[1].scopeLogs[0].logRecords[0]")
        ]
    );
}

// --- Traces -----------------------------------------------------------------------------------

#[test]
fn spans_convert_with_events_links_and_status() {
    let mut sp = span(&TRACE, &SPAN, T, T + 2 * SEC);
    sp.parent_span_id = vec![9; 8];
    sp.trace_state = "vendor=1".into();
    sp.status = Some(Status {
        code: 2,
        message: "rate limited".into(),
    });
    sp.attributes = vec![kv("gen_ai.request.model", s("gpt-4o"))];
    sp.events = vec![
        span::Event {
            time_unix_nano: T + SEC,
            name: "exception".into(),
            attributes: vec![kv("exception.type", s("Timeout"))],
            ..Default::default()
        },
        span::Event {
            time_unix_nano: 0,
            name: "no time".into(),
            ..Default::default()
        },
    ];
    sp.links = vec![
        span::Link {
            trace_id: vec![7; 16],
            span_id: vec![8; 8],
            trace_state: "x=y".into(),
            ..Default::default()
        },
        span::Link {
            trace_id: vec![7; 15],
            span_id: vec![8; 8],
            ..Default::default()
        },
        span::Link {
            trace_id: vec![7; 16],
            span_id: vec![0; 8],
            ..Default::default()
        },
    ];
    let out = traces_to_model(traces_req(vec![sp]), &n());
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    let r = &out.records[0];
    assert_eq!(r.parent_span_id.map(|p| p.0), Some([9; 8]));
    assert_eq!(r.trace_state, "vendor=1");
    assert_eq!(r.kind, SpanKind::Client);
    assert_eq!(
        r.status,
        SpanStatus {
            code: StatusCode::Error,
            message: "rate limited".into()
        }
    );
    assert_eq!(
        r.attributes.get("gen_ai.request.model"),
        Some(&json!("gpt-4o"))
    );
    assert_eq!(r.events.len(), 2);
    assert_eq!(r.events[0].time_unix_nano, (T + SEC) as i64);
    assert_eq!(
        r.events[0].attributes.get("exception.type"),
        Some(&json!("Timeout"))
    );
    assert_eq!(r.events[1].time_unix_nano, T as i64);
    assert_eq!(r.links.len(), 1);
    assert_eq!(r.links[0].trace_state, "x=y");
    assert_eq!(r.resource.service_name, "planner");
}

#[test]
fn malformed_spans_are_refused_one_by_one() {
    let far_future = 4_102_444_800_000_000_000;
    let cases: Vec<(ptrace::Span, RejectReason, &str)> = vec![
        (
            span(&[], &SPAN, T, T),
            RejectReason::InvalidTraceId,
            "trace_id is missing",
        ),
        (
            span(&[1; 8], &SPAN, T, T),
            RejectReason::InvalidTraceId,
            "trace_id has 8 bytes, expected 16 (32 hex digits)",
        ),
        (
            span(&[0; 16], &SPAN, T, T),
            RejectReason::InvalidTraceId,
            "trace_id is all zeros, which is invalid",
        ),
        (
            span(&TRACE, &[], T, T),
            RejectReason::InvalidSpanId,
            "span_id is missing",
        ),
        (
            span(&TRACE, &[0; 8], T, T),
            RejectReason::InvalidSpanId,
            "span_id is all zeros, which is invalid",
        ),
        (
            ptrace::Span {
                parent_span_id: vec![1; 4],
                ..span(&TRACE, &SPAN, T, T)
            },
            RejectReason::InvalidSpanId,
            "parent_span_id has 4 bytes, expected 8 (16 hex digits)",
        ),
        (
            span(&TRACE, &SPAN, 0, T),
            RejectReason::MissingField,
            "start_time_unix_nano is missing",
        ),
        (
            span(&TRACE, &SPAN, T, T - 1),
            RejectReason::InvalidTimestamp,
            "end_time_unix_nano 1544712650999999999 is before start_time_unix_nano 1544712651000000000",
        ),
        (
            span(&TRACE, &SPAN, far_future, far_future + 1),
            RejectReason::InvalidTimestamp,
            "start_time_unix_nano 4102444800000000000 is more than 1h in the future",
        ),
        (
            span(&TRACE, &SPAN, 5, 6),
            RejectReason::InvalidTimestamp,
            "start_time_unix_nano 5 is more than 30d in the past",
        ),
        (
            span(&TRACE, &SPAN, T, far_future),
            RejectReason::InvalidTimestamp,
            "end_time_unix_nano 4102444800000000000 is more than 1h in the future",
        ),
    ];
    let count = cases.len();
    let mut spans: Vec<_> = cases.iter().map(|(s, _, _)| s.clone()).collect();
    spans.push(ptrace::Span {
        parent_span_id: vec![0; 8],
        ..span(&TRACE, &SPAN, T, T)
    });
    let out = traces_to_model(traces_req(spans), &n());
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].parent_span_id, None);
    assert_eq!(out.rejected.len(), count);
    for (i, ((_, reason, message), got)) in cases.iter().zip(&out.rejected).enumerate() {
        assert_eq!(got.index, i);
        assert_eq!(
            got.location,
            format!("resourceSpans[0].scopeSpans[0].spans[{i}]")
        );
        assert_eq!(
            (got.reason, got.message.as_str()),
            (*reason, *message),
            "case {i}"
        );
    }
    assert!(
        out.partial_success_message()
            .starts_with("rejected 11 of 12 spans: ")
    );
}

// --- Metrics ----------------------------------------------------------------------------------

#[test]
fn every_metric_kind_converts() {
    use number_data_point::Value::{AsDouble, AsInt};
    let metrics = vec![
        metric(
            "gauge",
            Data::Gauge(Gauge {
                data_points: vec![number(T, AsDouble(0.5)), number(0, AsInt(-2))],
            }),
        ),
        metric(
            "sum",
            Data::Sum(Sum {
                data_points: vec![number(T, AsInt(10))],
                aggregation_temporality: 2,
                is_monotonic: true,
            }),
        ),
        metric(
            "hist",
            Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    time_unix_nano: T,
                    start_time_unix_nano: T - SEC,
                    count: 6,
                    sum: Some(21.0),
                    bucket_counts: vec![1, 2, 3],
                    explicit_bounds: vec![1.0, 5.0],
                    min: Some(0.5),
                    max: Some(f64::NAN),
                    attributes: vec![kv("route", s("/chat"))],
                    ..Default::default()
                }],
                aggregation_temporality: 1,
            }),
        ),
        metric(
            "exp",
            Data::ExponentialHistogram(pmetrics::ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    time_unix_nano: T,
                    count: 5,
                    sum: Some(12.0),
                    scale: 3,
                    zero_count: 1,
                    positive: Some(exponential_histogram_data_point::Buckets {
                        offset: -2,
                        bucket_counts: vec![1, 2],
                    }),
                    negative: Some(exponential_histogram_data_point::Buckets {
                        offset: 1,
                        bucket_counts: vec![1],
                    }),
                    ..Default::default()
                }],
                aggregation_temporality: 2,
            }),
        ),
        metric(
            "summary",
            Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: T,
                    count: 4,
                    sum: 10.0,
                    quantile_values: vec![
                        ValueAtQuantile {
                            quantile: 0.5,
                            value: 2.0,
                        },
                        ValueAtQuantile {
                            quantile: 1.0,
                            value: 4.0,
                        },
                    ],
                    ..Default::default()
                }],
            }),
        ),
    ];
    let out = metrics_to_model(metrics_req(metrics), &n());
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    let [g1, g2, sum, hist, exp, summary] = &out.records[..] else {
        panic!("{:?}", out.records)
    };
    assert_eq!(
        (g1.kind, g1.temporality, g1.monotonic),
        (MetricKind::Gauge, Temporality::Unspecified, false)
    );
    assert_eq!(g1.value, MetricValue::Number { value: 0.5 });
    assert_eq!(g2.value, MetricValue::Number { value: -2.0 });
    assert_eq!(g2.time_unix_nano, NOW);
    assert_eq!(g2.start_time_unix_nano, 0);
    assert_eq!(
        (sum.kind, sum.temporality, sum.monotonic),
        (MetricKind::Sum, Temporality::Cumulative, true)
    );
    assert_eq!(sum.value, MetricValue::Number { value: 10.0 });
    assert_eq!(hist.temporality, Temporality::Delta);
    assert_eq!(hist.start_time_unix_nano, (T - SEC) as i64);
    assert_eq!(hist.attributes.get("route"), Some(&json!("/chat")));
    assert_eq!(
        hist.value,
        MetricValue::Histogram {
            count: 6,
            sum: Some(21.0),
            bounds: vec![1.0, 5.0],
            counts: vec![1, 2, 3],
            min: Some(0.5),
            max: None
        }
    );
    assert_eq!(exp.kind, MetricKind::ExponentialHistogram);
    assert_eq!(
        exp.value,
        MetricValue::ExponentialHistogram {
            count: 5,
            sum: Some(12.0),
            scale: 3,
            zero_count: 1,
            positive_offset: -2,
            positive_counts: vec![1, 2],
            negative_offset: 1,
            negative_counts: vec![1]
        }
    );
    assert_eq!(
        summary.value,
        MetricValue::Summary {
            count: 4,
            sum: 10.0,
            quantiles: vec![(0.5, 2.0), (1.0, 4.0)]
        }
    );
    assert!(
        out.records
            .iter()
            .all(|p| p.resource.service_name == "planner" && p.unit == "1")
    );
}

#[test]
fn histogram_bucket_shapes_are_normalized_or_refused() {
    let point = |counts: Vec<u64>, bounds: Vec<f64>| HistogramDataPoint {
        time_unix_nano: T,
        count: 4,
        bucket_counts: counts,
        explicit_bounds: bounds,
        ..Default::default()
    };
    let hist = Data::Histogram(Histogram {
        data_points: vec![
            point(vec![], vec![1.0, 2.0]),
            point(vec![1, 3], vec![1.0, 2.0, 3.0]),
            point(vec![1, 1], vec![2.0, 1.0]),
            point(vec![1, 1], vec![f64::INFINITY]),
        ],
        aggregation_temporality: 2,
    });
    let out = metrics_to_model(metrics_req(vec![metric("h", hist)]), &n());
    let values: Vec<_> = out.records.iter().map(|p| p.value.clone()).collect();
    assert_eq!(
        values,
        [
            MetricValue::Histogram {
                count: 4,
                sum: None,
                bounds: vec![],
                counts: vec![4],
                min: None,
                max: None
            },
            MetricValue::Histogram {
                count: 4,
                sum: None,
                bounds: vec![1.0],
                counts: vec![1, 3],
                min: None,
                max: None
            },
        ]
    );
    let msgs: Vec<_> = out
        .rejected
        .iter()
        .map(|r| (r.index, r.message.as_str()))
        .collect();
    assert_eq!(
        msgs,
        [
            (2, "histogram bounds must be strictly increasing"),
            (3, "histogram bounds must be finite")
        ]
    );
}

#[test]
fn bad_metric_points_are_refused_and_stale_markers_skipped() {
    use number_data_point::Value::AsDouble;
    let stale = NumberDataPoint {
        flags: 1,
        ..number(T, AsDouble(f64::NAN))
    };
    let no_value = NumberDataPoint {
        time_unix_nano: T,
        ..Default::default()
    };
    let metrics = vec![
        metric(
            "g",
            Data::Gauge(Gauge {
                data_points: vec![
                    stale,
                    number(T, AsDouble(f64::NAN)),
                    no_value,
                    number(4_102_444_800_000_000_000, AsDouble(1.0)),
                    number(T, AsDouble(1.0)),
                ],
            }),
        ),
        metric(
            "",
            Data::Gauge(Gauge {
                data_points: vec![number(T, AsDouble(1.0))],
            }),
        ),
        Metric {
            name: "empty".into(),
            ..Default::default()
        },
        metric(
            "s",
            Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: T,
                    sum: f64::INFINITY,
                    ..Default::default()
                }],
            }),
        ),
    ];
    let out = metrics_to_model(metrics_req(metrics), &n());
    assert_eq!(out.records.len(), 1);
    let got: Vec<_> = out
        .rejected
        .iter()
        .map(|r| (r.index, r.reason, r.location.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                1,
                RejectReason::InvalidValue,
                "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[1]"
            ),
            (
                2,
                RejectReason::InvalidValue,
                "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[2]"
            ),
            (
                3,
                RejectReason::InvalidTimestamp,
                "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[3]"
            ),
            (
                5,
                RejectReason::MissingField,
                "resourceMetrics[0].scopeMetrics[0].metrics[1].gauge.dataPoints[0]"
            ),
            (
                6,
                RejectReason::InvalidValue,
                "resourceMetrics[0].scopeMetrics[0].metrics[2]"
            ),
            (
                7,
                RejectReason::InvalidValue,
                "resourceMetrics[0].scopeMetrics[0].metrics[3].summary.dataPoints[0]"
            ),
        ]
    );
    assert_eq!(out.rejected[0].message, "value NaN is not a finite number");
    assert!(
        out.partial_success_message()
            .starts_with("rejected 6 of 7 metric points: ")
    );
}
