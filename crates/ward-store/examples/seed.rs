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
use ward_model::{TenantId, TraceId};
use ward_store::seed::{SyntheticLogs, submit_all, synthetic_logs};
use ward_store::{LogQuery, Store, StoreConfig};

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
            trace_latencies.extend(latencies);
            continue;
        }
        report(name, &mut latencies, hits);
    }
    report("trace by id (20 traces), 24h", &mut trace_latencies, 0);
    store.shutdown().await?;
    Ok(())
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
