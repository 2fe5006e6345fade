//! `ward bench ingest`: how many log records per second Ward acknowledges durably, next to the
//! two limits it is made of: the store alone (in-process) and HTTP plus decoding alone (the
//! sink). All three see the same records; then Ward runs at half its maximum rate on a fixed
//! schedule to show its latency when it is not saturated, and finally a second Ward with
//! scrubbing turned off (`redact.enabled = false`) shows what the scrubbing stage costs.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde::Serialize;
use serde_json::json;
use ward_ingest::Normalize;
use ward_ingest::otlp::{self, Encoding};
use ward_model::{Batch, TenantId};
use ward_server::config::StoreSection;
use ward_store::{Store, StoreConfig, StoreError};

use super::corpus::StampableBody;
use super::load::{self, Figures, OtlpTarget, Outcome, RatePlan};
use super::process::{self, ChildGuard, RssSampler};
use super::report::{self, mib, ms_of, thousands};
use super::{OutputArgs, corpus, parse_duration};
use ward_model::time::now_unix_nanos;

/// Options of `ward bench ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// How long each measurement runs (the raw store, the sink, Ward at full speed, Ward at
    /// half speed).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Requests (or store submissions) in flight at once, one per connection.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub connections: u16,
    /// Log records per request.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch: u32,
    /// Distinct request bodies encoded before measuring, used in turn.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub bodies: u16,
    /// Unmeasured warm-up before each measurement.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Time span of the records of one request, ending when it is sent: every request's
    /// record times are rewritten at send time, as a producer batching its last `spread` of logs
    /// would send them (OpenTelemetry SDKs export every second by default). `0s` gives all
    /// records of a request the send time.
    #[arg(long, default_value = "1s", value_parser = parse_span)]
    pub spread: Duration,
    /// Seed of the generated records.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Measure the Ward at this base URL (e.g. `http://127.0.0.1:4318`) instead of starting one.
    #[arg(long, requires = "api_key")]
    pub url: Option<String>,
    /// API key with the `ingest` scope for `--url`.
    #[arg(long, env = "WARD_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Everything `ward bench ingest` measured.
#[derive(Debug, Serialize)]
pub struct IngestReport {
    /// Always `ingest`.
    pub bench: &'static str,
    /// What was measured, how, and on what.
    pub parameters: IngestParameters,
    /// (a) The store alone, in-process.
    pub raw_store: Figures,
    /// (b) HTTP, decoding and conversion alone (`ward bench sink`).
    pub http_sink: Figures,
    /// (c) Ward, closed loop.
    pub ward: Figures,
    /// (c) Ward at half of its closed-loop rate, open loop.
    pub ward_fixed_rate: FixedRate,
    /// Ward's peak resident memory, sampled every 100 ms (none for `--url`).
    pub ward_peak_rss_bytes: Option<u64>,
    /// Ward's `VmHWM` (kernel-tracked peak) at the end (none for `--url`).
    pub ward_vm_hwm_bytes: Option<u64>,
    /// (d) Ward with scrubbing off, closed loop (none for `--url`).
    pub ward_unscrubbed: Option<Figures>,
    /// 1 − (c) ÷ (d): the share of ingest throughput the scrubbing stage costs.
    pub scrub_cost: Option<f64>,
    /// (e) The scrubbing stage alone (default policy), in-process on one thread: records/s.
    pub scrub_stage_records_per_s: f64,
    /// Ward's rate divided by the raw store's.
    pub ward_vs_raw_store: f64,
    /// Ward's rate divided by the sink's.
    pub ward_vs_http_sink: f64,
}

/// The parameters of a run.
#[derive(Debug, Serialize)]
pub struct IngestParameters {
    /// The command line that reproduces the run.
    pub command: String,
    /// Measured time per measurement.
    pub duration_s: f64,
    /// Warm-up per measurement.
    pub warmup_s: f64,
    /// Requests in flight.
    pub connections: u16,
    /// Records per request.
    pub batch: u32,
    /// Distinct bodies.
    pub bodies: u16,
    /// Mean request size.
    pub mean_request_bytes: u64,
    /// Sizes of the records' bodies.
    pub record_bodies: String,
    /// Time span of one request's records.
    pub spread_s: f64,
    /// Seed.
    pub seed: u64,
    /// What (c) measured.
    pub ward_target: String,
    /// Store settings of (a), the defaults of `ward serve`.
    pub store_config: String,
    /// Ward's version.
    pub version: &'static str,
    /// Cores and memory.
    pub machine: String,
    /// Load average when the bench started.
    pub load_average_start: String,
    /// Load average when the bench ended.
    pub load_average_end: String,
}

/// The open-loop measurement.
#[derive(Debug, Serialize)]
pub struct FixedRate {
    /// Records per second scheduled.
    pub target_records_per_s: f64,
    /// Requests per second scheduled.
    pub requests_per_s: f64,
    /// What was achieved; latency runs from each request's scheduled time.
    pub figures: Figures,
}

/// Most open-loop requests outstanding before further sends are skipped (a safety bound: at
/// half the maximum rate only a few are ever outstanding).
const MAX_OUTSTANDING: usize = 1024;

/// Runs `ward bench ingest`.
pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    let report = measure(&args).await?;
    report::emit(args.output.json, &report, render)
}

async fn measure(args: &IngestArgs) -> anyhow::Result<IngestReport> {
    let load_average_start = process::load_average();
    let connections = args.connections as usize;
    let batch = args.batch as u64;
    let now = ward_model::time::now_unix_nanos();

    eprintln!(
        "generating {} request bodies of {} records…",
        args.bodies, args.batch
    );
    let requests =
        corpus::ingest_requests(args.seed, args.bodies as usize, args.batch as usize, now);
    let record_bodies = corpus::describe_bodies(&requests);
    let bodies: Arc<Vec<StampableBody>> = Arc::new(
        requests
            .iter()
            .map(StampableBody::encode)
            .collect::<anyhow::Result<_>>()?,
    );
    let mean_request_bytes =
        bodies.iter().map(|b| b.bytes.len() as u64).sum::<u64>() / bodies.len() as u64;
    let normalize = Normalize::new(now);
    let mut batches = Vec::with_capacity(bodies.len());
    for body in bodies.iter() {
        let decoded = otlp::decode_logs(&body.bytes, Encoding::Protobuf)
            .context("a generated body does not decode")?;
        let converted = otlp::logs_to_model(decoded, &normalize);
        anyhow::ensure!(
            converted.rejected.is_empty(),
            "generated records were refused: {}",
            converted.partial_success_message()
        );
        let mut b = Batch::new(TenantId::default_tenant());
        b.logs = converted.records;
        batches.push(b);
    }
    drop(requests);

    let section = StoreSection::default();
    let store_config = format!(
        "read_connections {}, max_queue_records {}, max_commit_records {}, synchronous {}",
        section.read_connections,
        section.max_queue_records,
        section.max_commit_records,
        section.synchronous
    );

    eprintln!(
        "(a) raw store: {} submissions in flight for {:?}…",
        connections, args.duration
    );
    let spread = spread_nanos(args);
    eprintln!("(e) scrub stage alone, one thread, on the same batches…");
    let scrub_stage_records_per_s = scrub_stage(&batches)?;
    let raw_store = raw_store(&section, Arc::new(batches), bodies.clone(), args)
        .await
        .context("(a) raw store")?;

    eprintln!(
        "(b) HTTP-only sink: {connections} connections for {:?}…",
        args.duration
    );
    let http_sink = sink(bodies.clone(), args)
        .await
        .context("(b) HTTP-only sink")?;

    let client = load::http_client(connections)?;
    let mut temp = None;
    let mut server = None;
    let target = match &args.url {
        Some(url) => OtlpTarget {
            endpoint: format!("{}/v1/logs", url.trim_end_matches('/')),
            api_key: args.api_key.clone(),
        },
        None => {
            let (dir, ward, target) = start_ward(&client, &[]).await?;
            temp = Some(dir);
            server = Some(ward);
            target
        }
    };
    let sampler = server.as_ref().map(|s| RssSampler::start(s.pid()));

    eprintln!(
        "(c) Ward at full speed: {connections} connections for {:?}…",
        args.duration
    );
    let export = {
        let (client, target, bodies) = (client.clone(), target.clone(), bodies.clone());
        move |worker: usize, i: u64| {
            let (client, target) = (client.clone(), target.clone());
            let body = bodies[pick(worker, i, bodies.len())].stamped(now_unix_nanos(), spread);
            async move { load::export(&client, &target, body, batch).await }
        }
    };
    load::closed_loop(connections, args.warmup, export.clone()).await?;
    let ward = load::closed_loop(connections, args.duration, export).await?;
    ward.check("(c) Ward")?;
    let ward = ward.figures();

    let target_records_per_s = ward.records_per_s / 2.0;
    let plan = RatePlan::new(target_records_per_s / batch as f64, args.duration);
    eprintln!(
        "(c) Ward at a fixed {} records/s ({:.1} requests/s, open loop) for {:?}…",
        thousands(target_records_per_s),
        plan.per_second,
        args.duration
    );
    let fixed = {
        let (client, target, bodies) = (client.clone(), target.clone(), bodies.clone());
        load::open_loop(plan, MAX_OUTSTANDING, move |i| {
            let (client, target) = (client.clone(), target.clone());
            let body = bodies[i as usize % bodies.len()].stamped(now_unix_nanos(), spread);
            async move { load::export(&client, &target, body, batch).await }
        })
        .await?
    };
    fixed.check("(c) Ward at a fixed rate")?;

    let ward_peak_rss_bytes = match sampler {
        Some(s) => Some(s.finish().await),
        None => None,
    };
    let ward_vm_hwm_bytes = server
        .as_ref()
        .and_then(|s| process::proc_status_bytes(s.pid(), "VmHWM"));
    if let Some(mut s) = server.take() {
        s.stop()?;
    }
    drop(temp);

    let ward_unscrubbed = if args.url.is_none() {
        eprintln!(
            "(d) Ward with scrubbing off: {connections} connections for {:?}…",
            args.duration
        );
        let (dir, mut unscrubbed, target) =
            start_ward(&client, &[("WARD_REDACT_ENABLED", "false")]).await?;
        let export = {
            let (client, bodies) = (client.clone(), bodies.clone());
            move |worker: usize, i: u64| {
                let (client, target) = (client.clone(), target.clone());
                let body = bodies[pick(worker, i, bodies.len())].stamped(now_unix_nanos(), spread);
                async move { load::export(&client, &target, body, batch).await }
            }
        };
        load::closed_loop(connections, args.warmup, export.clone()).await?;
        let figures = load::closed_loop(connections, args.duration, export).await?;
        figures.check("(d) Ward with scrubbing off")?;
        unscrubbed.stop()?;
        drop(dir);
        Some(figures.figures())
    } else {
        None
    };
    let scrub_cost = ward_unscrubbed
        .as_ref()
        .map(|d| 1.0 - ward.records_per_s / d.records_per_s);

    let ward_target = match &args.url {
        Some(url) => format!("existing Ward at {url}"),
        None => "`ward serve` started on a temporary directory, default configuration".into(),
    };
    let command = {
        let mut c = format!(
            "ward bench ingest --duration {:?} --connections {} --batch {} --bodies {} --warmup {:?} --spread {:?} --seed {}",
            args.duration,
            args.connections,
            args.batch,
            args.bodies,
            args.warmup,
            args.spread,
            args.seed
        );
        if let Some(url) = &args.url {
            c.push_str(&format!(" --url {url} --api-key …"));
        }
        c
    };
    Ok(IngestReport {
        bench: "ingest",
        parameters: IngestParameters {
            command,
            duration_s: args.duration.as_secs_f64(),
            warmup_s: args.warmup.as_secs_f64(),
            connections: args.connections,
            batch: args.batch,
            bodies: args.bodies,
            mean_request_bytes,
            record_bodies,
            spread_s: args.spread.as_secs_f64(),
            seed: args.seed,
            ward_target,
            store_config,
            version: env!("CARGO_PKG_VERSION"),
            machine: report::machine(),
            load_average_start,
            load_average_end: process::load_average(),
        },
        ward_unscrubbed,
        scrub_cost,
        scrub_stage_records_per_s,
        ward_vs_raw_store: ward.records_per_s / raw_store.records_per_s,
        ward_vs_http_sink: ward.records_per_s / http_sink.records_per_s,
        raw_store,
        http_sink,
        ward,
        ward_fixed_rate: FixedRate {
            target_records_per_s,
            requests_per_s: plan.per_second,
            figures: fixed.figures(),
        },
        ward_peak_rss_bytes,
        ward_vm_hwm_bytes,
    })
}

/// (e): the pipeline's scrubbing stage with the default policy, on one thread, over copies of the
/// batches for at least two seconds (copying is not timed).
fn scrub_stage(batches: &[Batch]) -> anyhow::Result<f64> {
    let key = ward_redact::PseudonymKey::new([7u8; 32]);
    let policies = ward_server::config::RedactSection::default().compile(&key)?;
    let scrubber = ward_server::scrub::Scrubber::new(Some(policies), key);
    let (mut records, mut busy) = (0usize, Duration::ZERO);
    for batch in batches.iter().cycle() {
        if busy >= Duration::from_secs(2) {
            break;
        }
        let mut copy = batch.clone();
        let started = std::time::Instant::now();
        std::hint::black_box(scrubber.scrub(&mut copy));
        busy += started.elapsed();
        records += copy.logs.len();
    }
    Ok(records as f64 / busy.as_secs_f64())
}

/// Starts `ward serve` on a temporary directory with extra environment `env` and makes an
/// ingest key; returns the directory (removed on drop), the process and where to send.
async fn start_ward(
    client: &reqwest::Client,
    env: &[(&str, &str)],
) -> anyhow::Result<(tempfile::TempDir, ChildGuard, OtlpTarget)> {
    let dir = tempfile::Builder::new()
        .prefix("ward-bench-ingest-")
        .tempdir()
        .context("cannot make a temporary directory")?;
    let http = process::loopback()?;
    let mut command = process::ward_serve_command(
        &dir.path().join("data"),
        dir.path(),
        http,
        process::loopback()?,
    )?;
    command.envs(env.iter().copied());
    let mut ward = ChildGuard::spawn("ward serve", command)?;
    ward.wait_ready(http, Duration::from_millis(5), Duration::from_secs(60))
        .await?;
    let admin = ward
        .admin_key(&dir.path().join("data"), Duration::from_secs(5))
        .await?;
    let key = create_key(client, &format!("http://{http}"), &admin, "ingest").await?;
    let target = OtlpTarget {
        endpoint: format!("http://{http}/v1/logs"),
        api_key: Some(key),
    };
    Ok((dir, ward, target))
}

/// `--spread` in nanoseconds.
fn spread_nanos(args: &IngestArgs) -> i64 {
    args.spread.as_nanos().min(i64::MAX as u128) as i64
}

/// Parses a duration that may be zero.
pub(crate) fn parse_span(text: &str) -> Result<Duration, String> {
    if text
        .trim()
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
        == "0"
    {
        return Ok(Duration::ZERO);
    }
    parse_duration(text)
}

/// Which body worker `worker` sends on its `i`-th request: workers start at different bodies.
fn pick(worker: usize, i: u64, n: usize) -> usize {
    (worker.wrapping_mul(7919).wrapping_add(i as usize)) % n
}

/// (a): the same batches submitted straight to a store opened with `ward serve`'s defaults.
async fn raw_store(
    section: &StoreSection,
    batches: Arc<Vec<Batch>>,
    bodies: Arc<Vec<StampableBody>>,
    args: &IngestArgs,
) -> anyhow::Result<Figures> {
    let dir = tempfile::Builder::new()
        .prefix("ward-bench-store-")
        .tempdir()
        .context("cannot make a temporary directory")?;
    let store = Store::open(StoreConfig {
        data_dir: dir.path().join("data"),
        read_connections: section.read_connections,
        max_queue_records: section.max_queue_records,
        max_commit_records: section.max_commit_records,
        synchronous_full: section.synchronous == "full",
        on_commit: None,
    })
    .context("cannot open a store")?;
    let spread = spread_nanos(args);
    let submit = {
        let store = store.clone();
        move |worker: usize, i: u64| {
            let store = store.clone();
            let k = pick(worker, i, batches.len());
            let bytes = bodies[k].bytes.len() as u64;
            let batch = Arc::new(corpus::stamped_batch(&batches[k], now_unix_nanos(), spread));
            async move {
                let records = batch.len() as u64;
                match store.try_submit(batch) {
                    Ok(committed) => match committed.await {
                        Ok(()) => Outcome::Ok {
                            records,
                            rejected: 0,
                            bytes,
                        },
                        Err(e) => Outcome::Failed(e.to_string()),
                    },
                    Err(StoreError::Overloaded { .. }) => Outcome::Throttled,
                    Err(e) => Outcome::Failed(e.to_string()),
                }
            }
        }
    };
    let connections = args.connections as usize;
    load::closed_loop(connections, args.warmup, submit.clone()).await?;
    let result = load::closed_loop(connections, args.duration, submit).await?;
    store
        .shutdown()
        .await
        .context("the store did not shut down cleanly")?;
    result.check("raw store")?;
    Ok(result.figures())
}

/// (b): the same bodies sent to `ward bench sink` in a child process.
async fn sink(bodies: Arc<Vec<StampableBody>>, args: &IngestArgs) -> anyhow::Result<Figures> {
    let addr = process::loopback()?;
    let mut command =
        Command::new(std::env::current_exe().context("cannot find the ward executable")?);
    command.args(["bench", "sink", "--listen", &addr.to_string()]);
    let mut sink = ChildGuard::spawn("ward bench sink", command)?;
    sink.wait_ready(addr, Duration::from_millis(5), Duration::from_secs(30))
        .await?;
    let connections = args.connections as usize;
    let client = load::http_client(connections)?;
    let target = OtlpTarget {
        endpoint: format!("http://{addr}/v1/logs"),
        api_key: None,
    };
    let batch = args.batch as u64;
    let spread = spread_nanos(args);
    let export = move |worker: usize, i: u64| {
        let (client, target) = (client.clone(), target.clone());
        let body = bodies[pick(worker, i, bodies.len())].stamped(now_unix_nanos(), spread);
        async move { load::export(&client, &target, body, batch).await }
    };
    load::closed_loop(connections, args.warmup, export.clone()).await?;
    let result = load::closed_loop(connections, args.duration, export).await?;
    sink.stop()?;
    result.check("sink")?;
    Ok(result.figures())
}

/// Creates a key with `scope` through the API, with the admin key.
pub async fn create_key(
    client: &reqwest::Client,
    base: &str,
    admin_key: &str,
    scope: &str,
) -> anyhow::Result<String> {
    let response = client
        .post(format!("{base}/api/v1/keys"))
        .bearer_auth(admin_key)
        .json(&json!({ "scopes": [scope], "name": format!("ward bench {scope}") }))
        .send()
        .await
        .context("cannot reach Ward to create a key")?;
    let created: serde_json::Value = crate::client::check(response)
        .await?
        .json()
        .await
        .context("unexpected key answer")?;
    created["key"]
        .as_str()
        .map(str::to_owned)
        .context("the key answer has no key")
}

fn render(r: &IngestReport) -> String {
    let p = &r.parameters;
    let mut out = String::from("## ward bench ingest\n\n");
    out.push_str(&report::parameters(&[
        ("command", format!("`{}`", p.command)),
        (
            "request",
            format!(
                "OTLP/HTTP protobuf ExportLogsServiceRequest, {} records, mean {} bytes",
                p.batch,
                thousands(p.mean_request_bytes as f64)
            ),
        ),
        (
            "records",
            format!(
                "bodies {}; 3–6 attributes; 5 services; ~84% info; 70% with trace context; seed {}",
                p.record_bodies, p.seed
            ),
        ),
        ("distinct bodies", p.bodies.to_string()),
        (
            "record times",
            format!(
                "rewritten at each send: spread evenly over the {} s before it (also for (a))",
                p.spread_s
            ),
        ),
        (
            "duration per measurement",
            format!("{} s after {} s warm-up", p.duration_s, p.warmup_s),
        ),
        (
            "in flight",
            format!("{} (one request per connection, keep-alive)", p.connections),
        ),
        ("Ward", p.ward_target.clone()),
        ("store settings", p.store_config.clone()),
        ("version", p.version.to_owned()),
        (
            "machine",
            format!("{} (client and server share it)", p.machine),
        ),
        (
            "load average (1/5/15 min)",
            format!(
                "{} at start, {} at end",
                p.load_average_start, p.load_average_end
            ),
        ),
    ]));
    out.push('\n');
    let row = |name: String, f: &Figures| {
        vec![
            name,
            thousands(f.records_per_s),
            format!("{:.1}", f.mb_per_s),
            ms_of(f.latency.as_ref(), |s| s.p50_ms),
            ms_of(f.latency.as_ref(), |s| s.p99_ms),
            ms_of(f.latency.as_ref(), |s| s.max_ms),
            thousands(f.requests as f64),
            format!(
                "{} / {} / {}",
                f.rejected_records,
                f.throttled,
                f.failed + f.skipped
            ),
        ]
    };
    let fixed = &r.ward_fixed_rate;
    let mut rows = vec![
        row(
            format!(
                "(a) raw store: in-process `Store::try_submit`, {} batches in flight (MB/s = same records as protobuf)",
                p.connections
            ),
            &r.raw_store,
        ),
        row(
            "(b) HTTP only: `ward bench sink` (read + decode + convert, nothing stored)".into(),
            &r.http_sink,
        ),
        row(
            "(c) Ward: `POST /v1/logs`, acknowledged after a durable commit".into(),
            &r.ward,
        ),
        row(
            format!(
                "(c) Ward at a fixed {} records/s (½ of max; open loop, latency from scheduled send)",
                thousands(fixed.target_records_per_s)
            ),
            &fixed.figures,
        ),
    ];
    if let Some(d) = &r.ward_unscrubbed {
        rows.push(row(
            "(d) Ward with scrubbing off (`WARD_REDACT_ENABLED=false`), as (c)".into(),
            d,
        ));
    }
    out.push_str(&report::table(
        &[
            "measurement",
            "records/s",
            "MB/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "acks",
            "rejected rec / throttled / failed",
        ],
        &rows,
    ));
    out.push('\n');
    let rss = match (r.ward_peak_rss_bytes, r.ward_vm_hwm_bytes) {
        (Some(peak), Some(hwm)) => {
            format!("{} (sampled every 100 ms); VmHWM {}", mib(peak), mib(hwm))
        }
        (Some(peak), None) => format!("{} (sampled every 100 ms)", mib(peak)),
        _ => "not measured (--url)".into(),
    };
    out.push_str(&report::table(
        &["comparison", "value"],
        &[
            vec![
                "Ward ÷ raw store".into(),
                format!("{:.2}×", r.ward_vs_raw_store),
            ],
            vec![
                "Ward ÷ HTTP only".into(),
                format!("{:.2}×", r.ward_vs_http_sink),
            ],
            vec!["Ward peak RSS during (c)".into(), rss],
            vec![
                "(e) scrub stage alone (default policy, one thread, in-process)".into(),
                format!("{} records/s", thousands(r.scrub_stage_records_per_s)),
            ],
            vec![
                "scrubbing cost: 1 − (c) ÷ (d)".into(),
                r.scrub_cost
                    .map(|c| format!("{:.1}%", c * 100.0))
                    .unwrap_or_else(|| "not measured (--url)".into()),
            ],
        ],
    ));
    for (name, f) in [
        ("raw store", &r.raw_store),
        ("sink", &r.http_sink),
        ("Ward", &r.ward),
        ("Ward fixed rate", &fixed.figures),
    ] {
        if let Some(m) = &f.first_failure {
            out.push_str(&format!("\nFirst failure ({name}): {m}\n"));
        }
    }
    out
}
