//! The compiled SQL must mean exactly what `Filter::matches_log` / `matches_span` mean: the same
//! varied records are stored and matched in memory, and every filter must select the same
//! records in the same order.

use std::collections::HashSet;

use serde_json::{Value, json};
use ward_model::filter::Filter;
use ward_model::{Attributes, Resource, SpanKind, StatusCode};

use super::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const WORDS: &[&str] = &[
    "connection",
    "timeout",
    "Connection",
    "TIMEOUT",
    "upstream",
    "error",
    "retry",
    "café",
    "CAFÉ",
    "naïve",
    "straße",
    "日本語",
    "x-1",
    "foo_bar",
    "user@example.com",
    "İstanbul",
    "ǅemo",
    "\u{212A}elvin",
    "e\u{0301}t\u{0301}e",
    "\u{E000}priv",
    "1.5",
    "42",
    "and",
    "or",
    "not",
    "NEAR",
    "\"quoted\"",
    "{\"json\":true}",
    "tab\there",
    "new\nline",
    "nul\u{0}byte",
    "ｆｕｌｌ",
    "٣٤",
    "\u{903}\u{903}",
    "x\u{903}y",
    "x y",
    "\u{A7C0}",
    "\u{1E900}\u{1E901}",
    "Ⅻ",
];
const SEPARATORS: &[&str] = &[" ", " ", " ", ", ", "-", "/", ".", "", ": "];
const SERVICES: &[&str] = &["planner", "llm", "tools", "", "Planner"];

fn body(rng: &mut Rng) -> String {
    let n = 1 + rng.below(8);
    let mut out = String::new();
    for i in 0..n {
        if i > 0 {
            let separator: &&str = rng.pick(SEPARATORS);
            out.push_str(separator);
        }
        let word: &&str = rng.pick(WORDS);
        out.push_str(word);
    }
    out
}

fn attr_values(key: &str) -> Vec<Value> {
    match key {
        "user.id" => vec![json!("u-42"), json!("u-43"), json!(42), json!("42")],
        "http.status_code" => vec![
            json!(503),
            json!(200),
            json!("503"),
            json!(404.0),
            json!("abc"),
        ],
        "retries" => vec![
            json!(0),
            json!(3),
            json!("3"),
            json!(2.5),
            json!(-1),
            json!(true),
        ],
        "flag" => vec![json!(true), json!(false), json!("true"), json!(null)],
        "score" => vec![
            json!(1.5),
            json!(-0.0),
            json!(1e20),
            json!("inf"),
            json!("NaN"),
            json!(" 7"),
            json!(0.1),
        ],
        "tags" => vec![json!(["a", 1]), json!({"a": 1}), json!([])],
        "region" => vec![json!("eu"), json!("us")],
        "weird" => vec![json!("é\u{1f}\n\"q\""), json!("plain")],
        "big" => vec![json!(u64::MAX), json!(i64::MIN), json!(9007199254740993u64)],
        _ => vec![json!("x")],
    }
}

const ATTR_KEYS: &[&str] = &[
    "user.id",
    "http.status_code",
    "retries",
    "flag",
    "score",
    "tags",
    "region",
    "weird",
    "big",
];

fn attributes(rng: &mut Rng, percent: usize) -> Attributes {
    let mut attrs = Attributes::new();
    for key in ATTR_KEYS {
        if rng.chance(percent) {
            let values = attr_values(key);
            attrs.insert((*key).into(), rng.pick(&values).clone());
        }
    }
    attrs
}

fn resource(rng: &mut Rng) -> Resource {
    let mut attributes = Attributes::new();
    if rng.chance(60) {
        attributes.insert("region".into(), json!(rng.pick(&["eu", "us"])));
    }
    if rng.chance(30) {
        attributes.insert("retries".into(), json!(9));
    }
    if rng.chance(50) {
        attributes.insert("host.name".into(), json!(rng.pick(&["h1", "h2"])));
    }
    Resource {
        service_name: (*rng.pick(SERVICES)).into(),
        attributes,
    }
}

fn time(rng: &mut Rng) -> i64 {
    // Three days, 60 one-second slots each: plenty of records share a timestamp.
    T0 + rng.below(3) as i64 * NANOS_PER_DAY + rng.below(60) as i64 * SEC
}

fn windows() -> Vec<(i64, i64)> {
    vec![
        (T0, T0 + 3 * NANOS_PER_DAY),
        (
            T0 + NANOS_PER_DAY + 20 * SEC,
            T0 + 2 * NANOS_PER_DAY + 30 * SEC,
        ),
    ]
}

fn generate_logs(n: usize) -> Vec<LogRecord> {
    let mut rng = Rng(7);
    (0..n)
        .map(|_| {
            let t = time(&mut rng);
            let mut rec = log(t, "x", rng.below(27) as u8, &body(&mut rng));
            rec.resource = resource(&mut rng);
            rec.attributes = attributes(&mut rng, 35);
            if rng.chance(40) {
                rec.trace_id = Some(trace_id(1 + rng.below(4) as u64));
                rec.span_id = Some(span_id(1 + rng.below(4) as u64));
            }
            if rng.chance(20) {
                rec.severity_text = "WARNING".into();
                rec.scope = ward_model::Scope {
                    name: "lib".into(),
                    version: "1.0".into(),
                };
            }
            rec
        })
        .collect()
}

fn log_filters() -> Vec<String> {
    let t = trace_id(2).to_hex();
    let s = span_id(3).to_hex();
    let mut f: Vec<String> = [
        "",
        "timeout",
        "TIMEOUT",
        "\"connection timeout\"",
        "\"timeout connection\"",
        "-timeout",
        "time",
        "café",
        "\"café naïve\"",
        "日本語",
        "straße",
        "x-1",
        "foo_bar",
        "kelvin",
        "\u{212A}elvin",
        "étè",
        "e\u{0301}t\u{0301}e",
        "priv",
        "ｆｕｌｌ",
        "İstanbul",
        "and",
        "\"not or\"",
        "near",
        "\u{903}\u{903}",
        "\"\u{903}\u{903} timeout\"",
        "x\u{903}y",
        "\"x y\"",
        "\u{A7C0}",
        "\u{1E900}\u{1E901}",
        "\"quoted\"",
        "json true",
        "1 5",
        "service:planner",
        "service:Planner",
        "service!=planner",
        "-service:llm",
        "service:nonexistent",
        "-service:nonexistent",
        "service!=nonexistent",
        "level>=warn",
        "level<info",
        "level=info",
        "level!=error",
        "-level>=error",
        "level>fatal",
        "user.id=u-42",
        "user.id!=u-42",
        "user.id=42",
        "http.status_code>=500",
        "http.status_code=503",
        "http.status_code<400",
        "http.status_code>=404",
        "retries>2",
        "retries<=0",
        "retries=true",
        "flag=true",
        "flag!=true",
        "flag=null",
        "score>=1.5",
        "score<0",
        "score>1e19",
        "score>=0",
        "score=-0.0",
        "tags=[\"a\",1]",
        r#"tags="{\"a\":1}""#,
        "tags=[]",
        "region=eu",
        "region!=eu",
        "-region=us",
        "host.name=h1",
        "missing!=x",
        "missing=x",
        "-missing<3",
        r#"weird="é""#,
        "big>1e18",
        "big<-9.2e18",
        "big=18446744073709551615",
        "big=9007199254740993",
        "big>9007199254740992",
        "duration>1s",
        "-duration>1s",
        "status:error",
        "name:x",
        "-kind:server",
        "service:planner level>=warn timeout",
        "-service:planner \"upstream error\" user.id!=u-43",
        "timeout -connection region=us",
        "café level<warn -flag=true",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    f.push(format!("trace:{t}"));
    f.push(format!("-trace:{t}"));
    f.push(format!("span:{s}"));
    f.push(format!("trace:{t} timeout"));
    f.push(format!("-span:{s} level>=warn"));
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_queries_match_exactly_what_matches_log_matches() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    let records = generate_logs(600);
    for chunk in records.chunks(150) {
        write(&store, logs_batch("default", chunk.to_vec())).await;
    }
    // Another tenant with records that match everything must never show up.
    write(
        &store,
        logs_batch("intruder", records.iter().take(50).cloned().collect()),
    )
    .await;

    let mut checked = 0;
    for text in log_filters() {
        let filter = Filter::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        for (from, to) in windows() {
            let mut expected: Vec<(usize, &LogRecord)> = records
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    r.time_unix_nano >= from && r.time_unix_nano < to && filter.matches_log(r)
                })
                .collect();
            expected.sort_by(|(i, a), (j, b)| (b.time_unix_nano, j).cmp(&(a.time_unix_nano, i)));
            let expected: Vec<LogRecord> = expected.into_iter().map(|(_, r)| r.clone()).collect();
            let got = all_logs(&store, "default", &text, from, to, 13).await;
            // Newest first; records of one nanosecond come in an unspecified (stable) order.
            assert_eq!(
                got.iter().map(|r| r.time_unix_nano).collect::<Vec<_>>(),
                expected
                    .iter()
                    .map(|r| r.time_unix_nano)
                    .collect::<Vec<_>>(),
                "filter {text:?}, window {from}..{to}"
            );
            let canonical = |records: &[LogRecord]| {
                let mut v: Vec<(i64, String)> = records
                    .iter()
                    .map(|r| (r.time_unix_nano, format!("{r:?}")))
                    .collect();
                v.sort();
                v
            };
            assert_eq!(
                canonical(&got),
                canonical(&expected),
                "filter {text:?}: records do not round-trip"
            );
            checked += 1;
        }
    }
    assert!(checked >= 2 * 80);
    // The generator must exercise both outcomes for most filters, or the test proves little.
    let selective = log_filters()
        .iter()
        .filter(|t| {
            let f = Filter::parse(t).unwrap();
            let n = records.iter().filter(|r| f.matches_log(r)).count();
            n > 0 && n < records.len()
        })
        .count();
    assert!(selective > 60, "only {selective} filters split the records");
    store.shutdown().await.unwrap();
}

fn generate_spans(n: usize) -> Vec<Span> {
    let mut rng = Rng(11);
    let names = ["chat gpt-4o", "tool.search", "agent.run", "Agent.Run"];
    let kinds = [
        SpanKind::Server,
        SpanKind::Client,
        SpanKind::Internal,
        SpanKind::Unspecified,
        SpanKind::Consumer,
    ];
    let codes = [StatusCode::Ok, StatusCode::Error, StatusCode::Unset];
    (0..n)
        .map(|i| {
            let start = time(&mut rng);
            let duration = match rng.below(4) {
                0 => rng.below(100_000_000) as i64,
                1 => rng.below(2_000_000_000) as i64,
                2 => 500_000_000,
                _ => -(rng.below(1000) as i64),
            };
            let trace = 1 + rng.below(60) as u64;
            let mut s = span(
                trace,
                i as u64 + 1,
                rng.chance(70).then(|| 1 + rng.below(n) as u64),
                rng.pick::<&str>(&names),
                "x",
                start,
                start + duration,
                *rng.pick(&codes),
            );
            s.kind = *rng.pick(&kinds);
            s.resource = resource(&mut rng);
            s.attributes = attributes(&mut rng, 35);
            if rng.chance(10) {
                s.events.push(ward_model::SpanEvent {
                    time_unix_nano: start,
                    name: "exception".into(),
                    attributes: attributes(&mut rng, 50),
                });
                s.status.message = "boom".into();
                s.trace_state = "k=v".into();
            }
            s
        })
        .collect()
}

fn span_filters() -> Vec<String> {
    let t = trace_id(3).to_hex();
    let s = span_id(5).to_hex();
    let mut f: Vec<String> = [
        "",
        "service:llm",
        "service!=llm",
        "-service:planner",
        "service!=nonexistent",
        "name:\"chat gpt-4o\"",
        "name!=agent.run",
        "name:Agent.Run",
        "status:error",
        "-status:error",
        "status:unset",
        "kind:server",
        "kind:client",
        "kind:unspecified",
        "-kind:internal",
        "duration>500ms",
        "duration>=500ms",
        "duration<=100ms",
        "duration<0s",
        "duration=500ms",
        "duration!=500ms",
        "level>=warn",
        "-level>=warn",
        "timeout",
        "-timeout",
        "user.id=u-42",
        "http.status_code>=500",
        "retries>2",
        "region=eu",
        "region!=eu",
        "missing!=x",
        "flag=null",
        "score<0",
        "service:llm status:error duration>100ms",
        "-service:tools name:\"chat gpt-4o\" -kind:client region=us",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    f.push(format!("trace:{t}"));
    f.push(format!("-trace:{t} status:error"));
    f.push(format!("span:{s}"));
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_searches_match_exactly_what_matches_span_matches() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    let spans = generate_spans(400);
    for chunk in spans.chunks(100) {
        let mut batch = logs_batch("default", Vec::new());
        batch.spans = chunk.to_vec();
        write(&store, batch).await;
    }
    let mut intruder = logs_batch("intruder", Vec::new());
    intruder.spans = spans.iter().take(40).cloned().collect();
    write(&store, intruder).await;

    for text in span_filters() {
        let filter = Filter::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        for (from, to) in windows() {
            // Each trace at its newest matching span (start, then insertion order).
            let mut matching: Vec<(i64, usize, TraceId)> = spans
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    s.start_time_unix_nano >= from
                        && s.start_time_unix_nano < to
                        && filter.matches_span(s)
                })
                .map(|(i, s)| (s.start_time_unix_nano, i, s.trace_id))
                .collect();
            matching.sort_by_key(|m| std::cmp::Reverse((m.0, m.1)));
            let mut seen = HashSet::new();
            let expected: Vec<TraceId> = matching
                .into_iter()
                .filter(|m| seen.insert(m.2))
                .map(|m| m.2)
                .collect();
            let got = all_traces(&store, "default", &text, from, to, 7).await;
            assert_eq!(
                got.iter().map(|t| t.trace_id).collect::<Vec<_>>(),
                expected,
                "filter {text:?}, window {from}..{to}"
            );
            for summary in &got {
                let all: Vec<&Span> = spans
                    .iter()
                    .filter(|s| s.trace_id == summary.trace_id)
                    .collect();
                assert_eq!(summary.span_count, all.len() as u64);
                assert_eq!(
                    summary.error_count,
                    all.iter()
                        .filter(|s| s.status.code == StatusCode::Error)
                        .count() as u64
                );
                let start = all.iter().map(|s| s.start_time_unix_nano).min().unwrap();
                let end = all.iter().map(|s| s.end_time_unix_nano).max().unwrap();
                assert_eq!(summary.start_time_unix_nano, start);
                assert_eq!(summary.duration_nanos, (end - start).max(0));
                let mut services: Vec<String> = all
                    .iter()
                    .map(|s| s.resource.service_name.clone())
                    .collect();
                services.sort();
                services.dedup();
                assert_eq!(summary.services, services);
                let root = all
                    .iter()
                    .filter(|s| s.parent_span_id.is_none())
                    .min_by_key(|s| s.start_time_unix_nano);
                assert_eq!(summary.root_name, root.map(|s| s.name.clone()));
            }
        }
    }
    // Full spans round-trip through get_trace.
    for t in 1..=60u64 {
        let mut expected: Vec<&Span> = spans.iter().filter(|s| s.trace_id == trace_id(t)).collect();
        expected.sort_by_key(|s| s.start_time_unix_nano);
        let got = store
            .get_trace(&tenant("default"), trace_id(t))
            .await
            .unwrap();
        assert_eq!(got.len(), expected.len());
        for s in &got {
            assert!(expected.contains(&s), "span {s:?} does not round-trip");
        }
        assert!(
            got.windows(2)
                .all(|w| w[0].start_time_unix_nano <= w[1].start_time_unix_nano)
        );
    }
    store.shutdown().await.unwrap();
}
