//! Seeds a store with synthetic log records through `try_submit` and measures insert rate and
//! query latencies.
//!
//! ```text
//! cargo run --release -p ward-store --example seed -- [RECORDS] [DATA_DIR] [--query-only]
//! ```
//!
//! Records are spread evenly over the 24 hours before now. With `--query-only` an existing
//! directory (seeded earlier with the same RECORDS) is only queried.

use std::path::PathBuf;
use std::time::Instant;

use ward_model::filter::Filter;
use ward_model::time::now_unix_nanos;
use ward_model::{
    Attributes, Batch, Resource, Scope, Span, SpanId, SpanKind, SpanStatus, StatusCode, TenantId,
    TraceId,
};
use ward_store::seed::{SyntheticLogs, submit_all, synthetic_logs};
use ward_store::{LogQuery, Store, StoreConfig, TraceQuery};

const HOUR: i64 = 3_600_000_000_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let query_only = args.iter().any(|a| a == "--query-only");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let records: usize = positional
        .first()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let dir = positional
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("ward-seed"));
    let tenant = TenantId::default_tenant();
    let now = now_unix_nanos();
    let spec = SyntheticLogs::new(tenant.clone(), records, now - 24 * HOUR, now);

    let store = Store::open(StoreConfig {
        data_dir: dir.clone(),
        ..StoreConfig::default()
    })?;
    if !query_only {
        let started = Instant::now();
        let written = submit_all(&store, synthetic_logs(&spec), 16).await?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "seeded {written} log records in {seconds:.1} s = {:.0} rows/s; {} MiB on disk",
            written as f64 / seconds,
            store.size_bytes() / (1 << 20)
        );
        let started = Instant::now();
        let written = submit_all(&store, synthetic_spans(&tenant, now), 16).await?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "seeded {written} spans in {seconds:.1} s = {:.0} rows/s",
            written as f64 / seconds
        );
    }

    // Trace ids that exist: regenerate the first batch of the same spec.
    let traces: Vec<TraceId> = synthetic_logs(&SyntheticLogs {
        count: 2000,
        batch_size: 2000,
        ..spec.clone()
    })
    .flat_map(|b| b.logs.into_iter().filter_map(|r| r.trace_id))
    .take(50)
    .collect();
    let to = now + 1;
    let last_hour = (to - HOUR, to);
    let day = (to - 25 * HOUR, to);
    let mut cases: Vec<(String, String, (i64, i64))> = vec![
        (
            "service + severity, last hour".into(),
            "service:svc-03 level>=warn".into(),
            last_hour,
        ),
        (
            "service + error, last hour".into(),
            "service:svc-03 level>=error".into(),
            last_hour,
        ),
        (
            "severity only, last hour".into(),
            "level>=error".into(),
            last_hour,
        ),
        ("full text, common word, 24h".into(), "timeout".into(), day),
        (
            "full text, phrase, 24h".into(),
            "\"payment declined\"".into(),
            day,
        ),
        (
            "full text, rare word (1/5000), 24h".into(),
            "rare0042".into(),
            day,
        ),
        (
            "full text + service, 24h".into(),
            "service:svc-01 \"rate limit\"".into(),
            day,
        ),
        (
            "attribute, last hour".into(),
            "user.id=u-42".into(),
            last_hour,
        ),
        ("everything, 24h".into(), "".into(), day),
    ];
    for (i, t) in traces.iter().take(20).enumerate() {
        cases.push((format!("trace by id #{i}, 24h"), format!("trace:{t}"), day));
    }
    let mut trace_latencies = Vec::new();
    for (name, filter, (from, to)) in &cases {
        let filter = Filter::parse(filter)?;
        let mut latencies = Vec::new();
        let mut hits = 0;
        let runs = if name.starts_with("trace by id") {
            5
        } else {
            30
        };
        for _ in 0..runs {
            let started = Instant::now();
            let page = store
                .query_logs(LogQuery {
                    tenant: tenant.clone(),
                    filter: filter.clone(),
                    from_unix_nano: *from,
                    to_unix_nano: *to,
                    limit: 100,
                    cursor: None,
                })
                .await?;
            latencies.push(started.elapsed().as_secs_f64() * 1e3);
            hits = page.items.len();
        }
        if name.starts_with("trace by id") {
            assert!(hits > 0, "{name}: trace not found");
            trace_latencies.extend(latencies);
            continue;
        }
        report(name, &mut latencies, hits);
    }
    report("logs by trace id (20 traces), 24h", &mut trace_latencies, 1);

    let mut latencies = Vec::new();
    for t in 0..200u64 {
        let started = Instant::now();
        let spans = store.get_trace(&tenant, span_trace(t * 97)).await?;
        latencies.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(spans.len(), SPANS_PER_TRACE);
    }
    report("get_trace (200 traces)", &mut latencies, SPANS_PER_TRACE);
    for filter in [
        "service:svc-02 status:error",
        "duration>1s",
        "name:llm.call service:svc-04",
        "",
    ] {
        let mut latencies = Vec::new();
        let mut hits = 0;
        for _ in 0..30 {
            let started = Instant::now();
            let page = store
                .search_traces(TraceQuery {
                    tenant: tenant.clone(),
                    filter: Filter::parse(filter)?,
                    from_unix_nano: day.0,
                    to_unix_nano: day.1,
                    limit: 20,
                    cursor: None,
                })
                .await?;
            latencies.push(started.elapsed().as_secs_f64() * 1e3);
            hits = page.items.len();
        }
        report(
            &format!("search_traces {filter:?}, 24h"),
            &mut latencies,
            hits,
        );
    }
    store.shutdown().await?;
    Ok(())
}

const TRACES: u64 = 40_000;
const SPANS_PER_TRACE: usize = 5;

fn span_trace(t: u64) -> TraceId {
    TraceId(
        [0x5a; 8]
            .into_iter()
            .chain(t.to_be_bytes())
            .collect::<Vec<_>>()
            .try_into()
            .unwrap_or([1; 16]),
    )
}

/// 40,000 traces of 5 spans over the last 24 hours.
fn synthetic_spans(tenant: &TenantId, now: i64) -> impl Iterator<Item = Batch> + use<> {
    let tenant = tenant.clone();
    let names = [
        "agent.run",
        "llm.call",
        "tool.search",
        "db.query",
        "http.get",
    ];
    (0..TRACES / 1000).map(move |chunk| {
        let mut batch = Batch::new(tenant.clone());
        for t in chunk * 1000..(chunk + 1) * 1000 {
            let start = now - 24 * HOUR + (t as i64) * (24 * HOUR / TRACES as i64);
            for s in 0..SPANS_PER_TRACE as u64 {
                let begin = start + s as i64 * 10_000_000;
                batch.spans.push(Span {
                    trace_id: span_trace(t),
                    span_id: SpanId([
                        0x11,
                        0,
                        0,
                        0,
                        (t >> 16) as u8,
                        (t >> 8) as u8,
                        t as u8,
                        s as u8 + 1,
                    ]),
                    parent_span_id: (s > 0).then_some(SpanId([
                        0x11,
                        0,
                        0,
                        0,
                        (t >> 16) as u8,
                        (t >> 8) as u8,
                        t as u8,
                        1,
                    ])),
                    trace_state: String::new(),
                    name: names[s as usize].into(),
                    kind: SpanKind::Internal,
                    start_time_unix_nano: begin,
                    end_time_unix_nano: begin + ((t * 7 + s * 13) % 2000) as i64 * 1_000_000,
                    status: SpanStatus {
                        code: if (t + s) % 50 == 0 {
                            StatusCode::Error
                        } else {
                            StatusCode::Ok
                        },
                        message: String::new(),
                    },
                    attributes: Attributes::new(),
                    events: Vec::new(),
                    links: Vec::new(),
                    resource: Resource {
                        service_name: format!("svc-{:02}", (t + s) % 10),
                        attributes: Attributes::new(),
                    },
                    scope: Scope::default(),
                });
            }
        }
        batch
    })
}

fn report(name: &str, latencies: &mut [f64], hits: usize) {
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    println!(
        "{name:<40} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  ({hits} rows)",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}
