//! `ward bench query`: seeds a store in-process with millions of log records and spans, then
//! starts `ward serve` on it and times the queries people run most, over HTTP, one at a time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use ward_model::{Resource, TenantId};
use ward_server::auth::mint;
use ward_server::authz::{Grants, Permission};
use ward_server::config::StoreSection;
use ward_store::{Store, StoreConfig, StoreError};

use super::OutputArgs;
use super::corpus::{self, Rng, SeedPlan};
use super::process::{self, ChildGuard};
use super::report::{self, mib, ms, thousands};
use super::stats::{Latencies, Summary};

/// Options of `ward bench query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Log records to seed, spread over the last 48 hours.
    #[arg(long, default_value_t = 5_000_000)]
    pub records: u64,
    /// Spans to seed, in traces of ten.
    #[arg(long, default_value_t = 1_000_000)]
    pub spans: u64,
    /// Queries of each kind.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub queries: u32,
    /// Keep the seeded store in this directory: seeded on the first run, reused by later runs
    /// (which then ignore --records, --spans and --seed). Default: a temporary directory.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Records per submitted batch while seeding.
    #[arg(long, default_value_t = 25_000, value_parser = clap::value_parser!(u64).range(20_000..=1_000_000))]
    pub seed_batch: u64,
    /// Batches in flight while seeding.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub in_flight: u16,
    /// Seed of the generated records and of the query choices.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The file in `--data-dir` that says what was seeded there.
const MARKER: &str = "ward-bench-seed.json";

/// What a seeded directory holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Marker {
    plan: SeedPlan,
}

/// Everything `ward bench query` measured.
#[derive(Debug, Serialize)]
pub struct QueryReport {
    /// Always `query`.
    pub bench: &'static str,
    /// What was measured, how, and on what.
    pub parameters: QueryParameters,
    /// The seeding, when this run seeded (none when it reused a directory).
    pub seeding: Option<Seeding>,
    /// Bytes of the store's files after seeding.
    pub store_bytes: u64,
    /// The largest files of the store (name, bytes).
    pub store_files: Vec<(String, u64)>,
    /// `ward serve` on the seeded store: spawn to `/readyz` 200.
    pub ward_ready_ms: f64,
    /// Ward's resident memory after the queries.
    pub ward_rss_bytes: Option<u64>,
    /// One entry per query kind.
    pub queries: Vec<QueryResult>,
}

/// Parameters of a run.
#[derive(Debug, Serialize)]
pub struct QueryParameters {
    /// The command line that reproduces the run.
    pub command: String,
    /// Log records in the store.
    pub records: u64,
    /// Spans in the store.
    pub spans: u64,
    /// Traces in the store.
    pub traces: u64,
    /// Queries per kind.
    pub queries: u32,
    /// Seed.
    pub seed: u64,
    /// Where the store is.
    pub data_dir: String,
    /// How old the newest seeded record is (the window is the 48 hours before the seed time).
    pub seed_age_s: f64,
    /// Ward's version.
    pub version: &'static str,
    /// Cores and memory.
    pub machine: String,
    /// Load average when the bench started.
    pub load_average_start: String,
    /// Load average when the bench ended.
    pub load_average_end: String,
}

/// How the seeding went.
#[derive(Debug, Serialize)]
pub struct Seeding {
    /// Records of every kind.
    pub records: u64,
    /// Batches submitted.
    pub batches: u64,
    /// Records per batch (logs, plus the spans of the same time slice).
    pub batch_records: u64,
    /// Batches in flight.
    pub in_flight: u16,
    /// From the first submission to the last commit.
    pub elapsed_s: f64,
    /// Records committed per second.
    pub records_per_s: f64,
    /// Time the generator thread spent making records (when close to `elapsed_s`, the
    /// generator, not the store, set the pace).
    pub generator_busy_s: f64,
    /// `Store::shutdown` after the last commit.
    pub shutdown_s: f64,
    /// Submissions refused as overloaded (retried).
    pub overloaded: u64,
}

/// The timings of one query kind.
#[derive(Debug, Serialize)]
pub struct QueryResult {
    /// Short name.
    pub kind: &'static str,
    /// Example request.
    pub request: String,
    /// The very first query of the kind (cold caches).
    pub first_ms: f64,
    /// Every query of the kind, the first included.
    pub latency: Option<Summary>,
    /// Mean items returned (spans of a trace, log records of a page).
    pub mean_results: f64,
    /// Queries that did not answer 200.
    pub failed: u64,
    /// The first failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<String>,
    /// The p99 target, if there is one.
    pub target_p99_ms: Option<f64>,
}

/// Runs `ward bench query`.
pub async fn run(args: QueryArgs) -> anyhow::Result<()> {
    let report = measure(&args).await?;
    report::emit(args.output.json, &report, render)
}

fn store_config(data_dir: &Path) -> StoreConfig {
    let section = StoreSection::default();
    StoreConfig {
        data_dir: data_dir.to_path_buf(),
        read_connections: section.read_connections,
        max_queue_records: section.max_queue_records,
        max_commit_records: section.max_commit_records,
        synchronous_full: section.synchronous == "full",
        on_commit: None,
    }
}

fn resources() -> Vec<Resource> {
    corpus::query_services()
        .iter()
        .enumerate()
        .map(|(i, s)| corpus::resource(s, i))
        .collect()
}

async fn measure(args: &QueryArgs) -> anyhow::Result<QueryReport> {
    let load_average_start = process::load_average();
    let temp;
    let dir: PathBuf = match &args.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            d.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("ward-bench-query-")
                .tempdir()
                .context("cannot make a temporary directory")?;
            temp.path().to_path_buf()
        }
    };
    let data = dir.join("data");
    let marker_path = dir.join(MARKER);

    let (plan, seeding, store) = if marker_path.exists() {
        let text = std::fs::read_to_string(&marker_path)
            .with_context(|| format!("cannot read {}", marker_path.display()))?;
        let marker: Marker = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a bench seed marker", marker_path.display()))?;
        eprintln!(
            "reusing the store seeded in {} ({} records, {} traces); --records, --spans and --seed are ignored",
            dir.display(),
            marker.plan.records,
            marker.plan.traces
        );
        let store = Store::open(store_config(&data))
            .with_context(|| format!("cannot open the store in {}", data.display()))?;
        (marker.plan, None, store)
    } else {
        if process::disk_usage(&data) > 0 {
            bail!(
                "{} holds a store that this bench did not seed (no {MARKER}); use an empty directory",
                data.display()
            );
        }
        let plan = SeedPlan::new(
            args.seed,
            args.records,
            args.spans,
            ward_model::time::now_unix_nanos(),
            args.seed_batch,
        );
        let store = Store::open(store_config(&data))
            .with_context(|| format!("cannot open a store in {}", data.display()))?;
        let seeding = seed(&store, &plan, args.in_flight as usize).await?;
        (plan, Some(seeding), store)
    };

    // A read key, made directly in the store (Ward prints an admin key only on an empty store).
    let tenant = TenantId::default_tenant();
    store
        .keys()
        .ensure_tenant(&tenant)
        .context("cannot create the tenant")?;
    let read = Grants::single(Permission::Read);
    let key = mint(tenant, "ward bench query", &read, None);
    store
        .keys()
        .insert_key(&key.record)
        .context("cannot store the read key")?;
    let shutdown_started = Instant::now();
    store
        .shutdown()
        .await
        .context("the store did not shut down cleanly")?;
    drop(store);
    let seeding = seeding.map(|mut s| {
        s.shutdown_s = shutdown_started.elapsed().as_secs_f64();
        s
    });
    if seeding.is_some() {
        let marker = serde_json::to_string_pretty(&Marker { plan: plan.clone() })?;
        std::fs::write(&marker_path, marker)
            .with_context(|| format!("cannot write {}", marker_path.display()))?;
    }
    let store_bytes = process::disk_usage(&data);
    let store_files = process::largest_files(&data, 4);

    eprintln!("starting `ward serve` on the seeded store…");
    let http = process::loopback()?;
    let command = process::ward_serve_command(&data, &dir, http, process::loopback()?)?;
    let mut ward = ChildGuard::spawn("ward serve", command)?;
    let ready = ward
        .wait_ready(http, Duration::from_millis(5), Duration::from_secs(300))
        .await?;
    let base = format!("http://{http}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()?;

    let mut rng = Rng::new(args.seed ^ 0x7175_6572_7900);
    let services = corpus::query_services();
    let mut queries = Vec::new();
    for kind in Kind::ALL {
        if matches!(kind, Kind::TraceById | Kind::LogsOfTrace) && plan.traces == 0 {
            continue;
        }
        eprintln!("{} × {}…", args.queries, kind.name());
        queries.push(
            run_kind(
                &client,
                &base,
                &key.text,
                kind,
                args.queries,
                &mut rng,
                &plan,
                &services,
            )
            .await?,
        );
    }
    let ward_rss_bytes = process::proc_status_bytes(ward.pid(), "VmRSS");
    ward.stop()?;

    Ok(QueryReport {
        bench: "query",
        parameters: QueryParameters {
            command: format!(
                "ward bench query --records {} --spans {} --queries {}{} --seed {}",
                plan.records,
                plan.traces * corpus::SPANS_PER_TRACE,
                args.queries,
                args.data_dir
                    .as_ref()
                    .map(|d| format!(" --data-dir {}", d.display()))
                    .unwrap_or_default(),
                plan.seed
            ),
            records: plan.records,
            spans: plan.traces * corpus::SPANS_PER_TRACE,
            traces: plan.traces,
            queries: args.queries,
            seed: plan.seed,
            data_dir: match &args.data_dir {
                Some(d) => d.display().to_string(),
                None => "temporary directory (removed)".into(),
            },
            seed_age_s: (ward_model::time::now_unix_nanos() - plan.end_unix_nano) as f64 / 1e9,
            version: env!("CARGO_PKG_VERSION"),
            machine: report::machine(),
            load_average_start,
            load_average_end: process::load_average(),
        },
        seeding,
        store_bytes,
        store_files,
        ward_ready_ms: ready.as_secs_f64() * 1e3,
        ward_rss_bytes,
        queries,
    })
}

/// Generates the plan's batches on a thread and submits them with `in_flight` outstanding.
async fn seed(store: &Store, plan: &SeedPlan, in_flight: usize) -> anyhow::Result<Seeding> {
    eprintln!(
        "seeding {} log records and {} spans ({} traces) in {} batches…",
        thousands(plan.records as f64),
        thousands((plan.traces * corpus::SPANS_PER_TRACE) as f64),
        thousands(plan.traces as f64),
        plan.slices
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel(in_flight.max(1));
    let generator = {
        let plan = plan.clone();
        std::thread::Builder::new()
            .name("bench-seed".into())
            .spawn(move || {
                let resources = resources();
                let tenant = TenantId::default_tenant();
                let mut busy = Duration::ZERO;
                for s in 0..plan.slices {
                    let t0 = Instant::now();
                    let batch = plan.slice(s, &tenant, &resources);
                    busy += t0.elapsed();
                    if tx.blocking_send(Arc::new(batch)).is_err() {
                        break;
                    }
                }
                busy
            })?
    };
    let bar = ProgressBar::new(plan.total());
    bar.set_style(
        ProgressStyle::with_template("seeding [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} records ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut pending = FuturesUnordered::new();
    let mut overloaded = 0u64;
    let mut batches = 0u64;
    let committed = |result: Option<Result<usize, StoreError>>| -> anyhow::Result<()> {
        if let Some(result) = result {
            bar.inc(result.context("a seed batch failed to commit")? as u64);
        }
        Ok(())
    };
    while let Some(batch) = rx.recv().await {
        batches += 1;
        let n = batch.len();
        loop {
            match store.try_submit(batch.clone()) {
                Ok(done) => {
                    pending.push(async move { done.await.map(|()| n) });
                    break;
                }
                Err(StoreError::Overloaded { .. }) => {
                    overloaded += 1;
                    match pending.next().await {
                        Some(r) => committed(Some(r))?,
                        None => tokio::time::sleep(Duration::from_millis(10)).await,
                    }
                }
                Err(e) => return Err(e).context("the store refused a seed batch"),
            }
        }
        while pending.len() >= in_flight {
            committed(pending.next().await)?;
        }
    }
    while let Some(r) = pending.next().await {
        committed(Some(r))?;
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let generator_busy = generator
        .join()
        .map_err(|_| anyhow::anyhow!("the seed generator panicked"))?;
    let records = plan.total();
    eprintln!(
        "seeded {} records in {:.1} s ({} records/s)",
        thousands(records as f64),
        elapsed.as_secs_f64(),
        thousands(records as f64 / elapsed.as_secs_f64())
    );
    Ok(Seeding {
        records,
        batches,
        batch_records: records.div_ceil(batches.max(1)),
        in_flight: in_flight as u16,
        elapsed_s: elapsed.as_secs_f64(),
        records_per_s: records as f64 / elapsed.as_secs_f64(),
        generator_busy_s: generator_busy.as_secs_f64(),
        shutdown_s: 0.0,
        overloaded,
    })
}

/// The query kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    TraceById,
    ServiceLevel,
    FullText,
    /// A word no record contains: every block of the window is ruled out by its filter alone,
    /// the worst case of a full-text search.
    AbsentWord,
    /// Logs of one trace: the trace id is looked up in the blocks' filters.
    LogsOfTrace,
    Newest,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::TraceById,
        Kind::ServiceLevel,
        Kind::FullText,
        Kind::AbsentWord,
        Kind::LogsOfTrace,
        Kind::Newest,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::TraceById => "trace by id",
            Kind::ServiceLevel => "service + level, last hour",
            Kind::FullText => "full text, last 24 hours",
            Kind::AbsentWord => "full text, a word no record has, last 24 hours",
            Kind::LogsOfTrace => "logs of a trace, last 24 hours",
            Kind::Newest => "newest page, last hour (peer: no filter)",
        }
    }

    fn target_p99_ms(self) -> Option<f64> {
        match self {
            Kind::TraceById | Kind::ServiceLevel => Some(50.0),
            Kind::FullText | Kind::AbsentWord | Kind::LogsOfTrace => Some(300.0),
            Kind::Newest => None,
        }
    }

    /// Path and query parameters of one query.
    fn request(
        self,
        rng: &mut Rng,
        plan: &SeedPlan,
        services: &[String],
    ) -> (String, Vec<(&'static str, String)>) {
        match self {
            Kind::TraceById => (
                format!(
                    "/api/v1/traces/{}",
                    plan.trace_id(rng.below(plan.traces.max(1)))
                ),
                vec![],
            ),
            Kind::ServiceLevel => (
                "/api/v1/logs".into(),
                vec![
                    ("q", format!("service:{} level>=warn", rng.pick(services))),
                    ("from", "1h".into()),
                ],
            ),
            Kind::FullText => (
                "/api/v1/logs".into(),
                vec![("q", "\"timeout\"".into()), ("from", "24h".into())],
            ),
            Kind::AbsentWord => (
                "/api/v1/logs".into(),
                vec![
                    ("q", format!("absent{}", rng.below(1_000_000))),
                    ("from", "24h".into()),
                ],
            ),
            Kind::LogsOfTrace => {
                // Traces run across the whole 48 h: one of the newer half.
                let half = plan.traces / 2;
                let t = half + rng.below(plan.traces.saturating_sub(half).max(1));
                (
                    "/api/v1/logs".into(),
                    vec![
                        ("q", format!("trace:{}", plan.trace_id(t))),
                        ("from", "24h".into()),
                    ],
                )
            }
            Kind::Newest => ("/api/v1/logs".into(), vec![("from", "1h".into())]),
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_kind(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    kind: Kind,
    count: u32,
    rng: &mut Rng,
    plan: &SeedPlan,
    services: &[String],
) -> anyhow::Result<QueryResult> {
    let mut latencies = Latencies::new();
    let mut first_ms = None;
    let mut results = 0u64;
    let mut failed = 0u64;
    let mut first_failure = None;
    let mut example = String::new();
    for _ in 0..count {
        let (path, params) = kind.request(rng, plan, services);
        let request = client
            .get(format!("{base}{path}"))
            .query(&params)
            .bearer_auth(key);
        if example.is_empty() {
            let q: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            example = if q.is_empty() {
                format!("GET {path}")
            } else {
                format!("GET {path}?{}", q.join("&"))
            };
        }
        let t0 = Instant::now();
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status();
                response.bytes().await.map(|body| (status, body))
            }
            Err(e) => Err(e),
        };
        let took = t0.elapsed();
        first_ms.get_or_insert(took.as_secs_f64() * 1e3);
        let failure = match answer {
            Ok((status, body)) if status.is_success() => {
                match serde_json::from_slice::<serde_json::Value>(&body) {
                    Ok(v) => {
                        results += match kind {
                            Kind::TraceById => v["span_count"].as_u64().unwrap_or(0),
                            _ => v["logs"].as_array().map(|a| a.len() as u64).unwrap_or(0),
                        };
                        latencies.record(took);
                        None
                    }
                    Err(e) => Some(format!("unreadable answer: {e}")),
                }
            }
            Ok((status, body)) => Some(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            )),
            Err(e) => Some(format!("{e:#}")),
        };
        if let Some(f) = failure {
            failed += 1;
            first_failure.get_or_insert(f);
        }
    }
    let ok = latencies.len() as u64;
    if ok == 0 {
        bail!(
            "every {} query failed: {}",
            kind.name(),
            first_failure.unwrap_or_default()
        );
    }
    Ok(QueryResult {
        kind: kind.name(),
        request: example,
        first_ms: first_ms.unwrap_or(0.0),
        latency: latencies.summary(),
        mean_results: results as f64 / ok as f64,
        failed,
        first_failure,
        target_p99_ms: kind.target_p99_ms(),
    })
}

fn render(r: &QueryReport) -> String {
    let p = &r.parameters;
    let mut out = String::from("## ward bench query\n\n");
    out.push_str(&report::parameters(&[
        ("command", format!("`{}`", p.command)),
        ("store", format!("{} log records over the 48 h before seeding, 50 services, ~1% say \"timeout\", ~5% warn, ~1% error; {} spans in {} traces of 10", thousands(p.records as f64), thousands(p.spans as f64), thousands(p.traces as f64))),
        ("data directory", p.data_dir.clone()),
        ("seed age at the queries", format!("{:.0} s", p.seed_age_s)),
        ("queries", format!("{} of each kind, one at a time, over HTTP with a read key; latency to the full answer", p.queries)),
        ("version", p.version.to_owned()),
        ("machine", p.machine.clone()),
        ("load average (1/5/15 min)", format!("{} at start, {} at end", p.load_average_start, p.load_average_end)),
    ]));
    out.push('\n');
    let mut facts = Vec::new();
    if let Some(s) = &r.seeding {
        facts.push(vec![
            "seeding (in-process `Store::try_submit`)".into(),
            format!(
                "{} records in {:.1} s = **{} records/s** ({} batches of ~{}, {} in flight; generator busy {:.1} s; {} overloaded retries); shutdown {:.1} s",
                thousands(s.records as f64),
                s.elapsed_s,
                thousands(s.records_per_s),
                s.batches,
                thousands(s.batch_records as f64),
                s.in_flight,
                s.generator_busy_s,
                s.overloaded,
                s.shutdown_s
            ),
        ]);
    } else {
        facts.push(vec!["seeding".into(), "reused an earlier seed".into()]);
    }
    facts.push(vec![
        "store size on disk".into(),
        format!(
            "{} ({} bytes/record; {})",
            mib(r.store_bytes),
            thousands(r.store_bytes as f64 / (p.records + p.spans).max(1) as f64),
            r.store_files
                .iter()
                .map(|(name, bytes)| format!("{name} {}", mib(*bytes)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ]);
    facts.push(vec![
        "`ward serve` on this store: spawn → ready".into(),
        format!("{} ms", ms(r.ward_ready_ms)),
    ]);
    if let Some(rss) = r.ward_rss_bytes {
        facts.push(vec!["Ward RSS after the queries".into(), mib(rss)]);
    }
    out.push_str(&report::table(&["", "value"], &facts));
    out.push('\n');
    let rows: Vec<Vec<String>> = r
        .queries
        .iter()
        .map(|q| {
            let s = q.latency.as_ref();
            vec![
                q.kind.to_owned(),
                format!("`{}`", q.request),
                ms(q.first_ms),
                report::ms_of(s, |s| s.p50_ms),
                report::ms_of(s, |s| s.p90_ms),
                report::ms_of(s, |s| s.p99_ms),
                report::ms_of(s, |s| s.max_ms),
                format!("{:.1}", q.mean_results),
                q.failed.to_string(),
                match (q.target_p99_ms, s) {
                    (Some(t), Some(s)) => report::verdict(s.p99_ms, t),
                    _ => "–".into(),
                },
            ]
        })
        .collect();
    out.push_str(&report::table(
        &[
            "query",
            "request (first)",
            "first ms",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "mean results",
            "failed",
            "target p99",
        ],
        &rows,
    ));
    for q in &r.queries {
        if let Some(f) = &q.first_failure {
            out.push_str(&format!("\nFirst failure ({}): {f}\n", q.kind));
        }
    }
    out
}
