//! `ward bench`: measures ingest throughput and latency, query latency on a seeded store,
//! start-up time and durable audit appends, each next to a peer that shows the limit Ward is
//! measured against.
//!
//! Every bench prints Markdown tables (or, with `--json`, one JSON object) that carry the exact
//! parameters used, the machine's load average before and after, and the targets where there
//! are some. Servers it starts bind 127.0.0.1 only and are stopped (SIGTERM, then SIGKILL after
//! 10 s) when the bench ends or fails; temporary directories are removed.

mod audit;
mod corpus;
mod ingest;
mod load;
mod process;
mod query;
mod report;
mod sink;
mod startup;
mod stats;

use std::time::Duration;

use clap::{Args, Subcommand};

/// The `ward bench` commands.
#[derive(Debug, Subcommand)]
#[command(
    after_help = "Examples:\n  ward bench ingest --duration 20s\n  ward bench query --records 1000000 --spans 200000\n  ward bench startup --runs 20\n  ward bench audit --duration 5s\n  ward bench ingest --json > ingest.json\n\nEach bench prints Markdown tables with the exact parameters used and the load average;\nservers it starts listen on 127.0.0.1 only and are stopped when it ends."
)]
pub enum BenchCommand {
    /// Ingest throughput and latency of Ward, beside the raw store and an HTTP-only sink.
    #[command(
        after_help = "Examples:\n  ward bench ingest\n  ward bench ingest --duration 20s --connections 16 --batch 500\n  ward bench ingest --url http://127.0.0.1:4318 --api-key \"$WARD_INGEST_KEY\"   # an existing Ward\n  ward bench ingest --duration 5s --json > ingest.json\n\nThree measurements over the same pre-encoded OTLP/HTTP protobuf bodies: (a) the store alone,\nin-process; (b) a child process that decodes and converts but does not store; (c) a real\n`ward serve` on a temporary directory (or --url), first closed-loop at full speed, then\nopen-loop at half the rate it reached."
    )]
    Ingest(ingest::IngestArgs),
    /// Query latency over HTTP on a store seeded with millions of logs and spans.
    #[command(
        after_help = "Examples:\n  ward bench query\n  ward bench query --records 1000000 --spans 200000 --queries 100\n  ward bench query --data-dir /tmp/ward-bench   # seed once, then reuse on later runs\n\nSeeds the store in-process (logs spread over the last 48 hours, 50 services), then starts\n`ward serve` on it and times trace-by-id, service+level, full-text and newest-page queries."
    )]
    Query(query::QueryArgs),
    /// Start-up time of `ward serve` (spawn to ready) and its idle memory.
    #[command(
        after_help = "Examples:\n  ward bench startup\n  ward bench startup --runs 50 --json\n\nEach run starts `ward serve` on a fresh, empty directory and polls GET /readyz every 2 ms;\n`ward --version` is timed beside it as the cost of merely starting the process."
    )]
    Startup(startup::StartupArgs),
    /// Durable audit-trail appends: Ward beside raw fsync and PostgreSQL, in the same run.
    #[command(
        after_help = "Examples:\n  ward bench audit\n  ward bench audit --duration 10s --rate 2000 --batch 500 --connections 8\n  ward bench audit --data-dir /var/lib/ward-bench   # measure the disk Ward's data will live on\n  ward bench audit --pg-bin /usr/lib/postgresql/16/bin\n  ward bench audit --url http://127.0.0.1:4318 --api-key \"$WARD_AUDIT_KEY\" --skip-postgres\n  ward bench audit --json > audit.json\n\nThree peers on the same filesystem: (1) a 256-byte write + fdatasync per entry, the physical\nlimit; (2) PostgreSQL, when installed: a throwaway cluster (synchronous_commit=on, fsync=on),\none autocommitted INSERT per entry, then 100-row transactions; (3) Ward: POST /api/v1/audit,\none entry per request, then batches. Latency phases are open-loop at --rate (measured from each\nappend's scheduled time); throughput phases are closed-loop on --connections. As root,\nPostgreSQL runs as the `postgres` OS user. Targets: Ward p99 < 5 ms; >= 20,000 entries/s."
    )]
    Audit(audit::AuditArgs),
    /// Internal: the HTTP-only peer of `ward bench ingest` (decodes and converts OTLP logs,
    /// stores nothing).
    #[command(hide = true)]
    Sink(sink::SinkArgs),
}

/// Runs a bench command. Ctrl-C stops the bench and everything it started.
pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    let bench = async move {
        match cmd {
            BenchCommand::Ingest(args) => ingest::run(args).await,
            BenchCommand::Query(args) => query::run(args).await,
            BenchCommand::Startup(args) => startup::run(args).await,
            BenchCommand::Audit(args) => audit::run(args).await,
            BenchCommand::Sink(args) => sink::run(args).await,
        }
    };
    tokio::select! {
        result = bench => result,
        _ = tokio::signal::ctrl_c() => {
            // Dropping the bench future stops its servers and removes its directories.
            anyhow::bail!("interrupted")
        }
    }
}

/// Output options shared by the bench commands.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Print one JSON object instead of Markdown tables.
    #[arg(long)]
    pub json: bool,
}

/// Parses a duration such as `15s`, `500ms` or `1m30s`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let nanos = ward_model::time::parse_duration(text)?;
    if nanos <= 0 {
        return Err(format!("duration {text:?} must be positive"));
    }
    Ok(Duration::from_nanos(nanos as u64))
}
