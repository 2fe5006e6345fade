//! `ward bench audit`: how fast Ward appends durable audit entries, beside the two peers that
//! say what "fast" means, all measured in the same run on the same filesystem:
//!
//! 1. raw fsync: one 256-byte `write` plus `fdatasync` per entry, the physical limit;
//! 2. PostgreSQL (when its server programs are installed): a throwaway cluster with durable
//!    commits, one autocommitted `INSERT` per entry, then 100-row transactions;
//! 3. Ward: `POST /api/v1/audit`, one entry per request, then batches.
//!
//! Latency is measured open-loop at a fixed rate (from each append's scheduled time, so queueing
//! is not hidden); throughput closed-loop from several connections. Temporary directories are
//! made in one parent (`--data-dir`, default the system's), so every measurement writes to the
//! same filesystem.

mod entries;
mod fsync;
mod postgres;
mod ward;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use super::ingest::parse_span;
use super::load::{self, Figures, LoadResult};
use super::report::{self, ms, ms_of, thousands};
use super::{OutputArgs, parse_duration, process};
use fsync::FsyncResult;
use postgres::PgResult;

/// Target: Ward's p99 append latency at the paced rate, in milliseconds.
pub const TARGET_P99_MS: f64 = 5.0;
/// Target: Ward's batched appends, entries per second.
pub const TARGET_ENTRIES_PER_S: f64 = 20_000.0;
/// Most paced appends outstanding before further sends are skipped (one second of backlog at
/// the default rate).
const MAX_OUTSTANDING: usize = 1024;
/// Seed of the generated entries.
const SEED: u64 = 42;
/// Distinct entries generated.
const ENTRIES: usize = 4096;

/// Options of `ward bench audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// How long each measured phase runs (raw fsync; PostgreSQL paced and batched; Ward paced
    /// and batched).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Unmeasured warm-up before each phase (`0s` for none).
    #[arg(long, default_value = "1s", value_parser = parse_span)]
    pub warmup: Duration,
    /// Appends per second of the latency phases (one entry each, open loop).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rate: u32,
    /// Entries per request (Ward) or per transaction (PostgreSQL) of the throughput phases.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=entries::MAX_BATCH as i64))]
    pub batch: u32,
    /// Concurrent connections of the throughput phases (and PostgreSQL's pool when paced).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub connections: u16,
    /// Directory holding PostgreSQL's `initdb` and `postgres`. Default: `pg_config --bindir`,
    /// then the newest `/usr/lib/postgresql/*/bin`.
    #[arg(long)]
    pub pg_bin: Option<PathBuf>,
    /// Parent of the temporary directories (the fsync file, the PostgreSQL cluster, Ward's
    /// data): put it on the disk you want measured. Default: the system's temporary directory.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Measure the Ward at this base URL (e.g. `http://127.0.0.1:4318`) instead of starting one.
    #[arg(long, requires = "api_key")]
    pub url: Option<String>,
    /// API key with the `audit:write` scope for `--url`.
    #[arg(long, env = "WARD_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Do not measure PostgreSQL.
    #[arg(long)]
    pub skip_postgres: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Everything `ward bench audit` measured.
#[derive(Debug, Serialize)]
pub struct AuditReport {
    /// Always `audit`.
    pub bench: &'static str,
    /// What was measured, how, and on what.
    pub parameters: AuditParameters,
    /// (1) One `write` + `fdatasync` per entry.
    pub raw_fsync: FsyncResult,
    /// (2) PostgreSQL.
    pub postgres: Peer<PgResult>,
    /// (3) Ward.
    pub ward: Peer<WardResult>,
    /// Ratios and targets.
    pub comparison: Comparison,
}

/// The parameters of a run.
#[derive(Debug, Serialize)]
pub struct AuditParameters {
    /// The command line that reproduces the run (without the API key).
    pub command: String,
    /// Measured time per phase.
    pub duration_s: f64,
    /// Warm-up per phase.
    pub warmup_s: f64,
    /// Appends per second of the latency phases.
    pub rate: u32,
    /// Entries per request or transaction of the throughput phases.
    pub batch: u32,
    /// Connections of the throughput phases.
    pub connections: u16,
    /// Size of a raw fsync record.
    pub record_bytes: usize,
    /// Mean size of one entry as Ward receives it (JSON).
    pub mean_entry_json_bytes: usize,
    /// Parent of the temporary directories.
    pub data_dir: String,
    /// The filesystem it is on.
    pub filesystem: String,
    /// How PostgreSQL was run (or why it was not).
    pub postgres: String,
    /// What Ward was measured.
    pub ward_target: String,
    /// Ward's version.
    pub version: &'static str,
    /// Cores and memory.
    pub machine: String,
    /// Load average when the bench started.
    pub load_average_start: String,
    /// Load average when the bench ended.
    pub load_average_end: String,
}

/// A peer's outcome: measured, skipped (and why), or failed (and how).
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Peer<T> {
    /// Measured.
    Measured(T),
    /// Not measured, on purpose or for want of the software.
    Skipped {
        /// Why.
        reason: String,
    },
    /// Could not be measured.
    Failed {
        /// The error.
        error: String,
    },
}

impl<T> Peer<T> {
    /// The measurement, if there is one.
    pub fn measured(&self) -> Option<&T> {
        match self {
            Peer::Measured(t) => Some(t),
            _ => None,
        }
    }

    /// Why there is no measurement.
    fn missing(&self) -> String {
        match self {
            Peer::Measured(_) => String::new(),
            Peer::Skipped { reason } => format!("skipped: {reason}"),
            Peer::Failed { error } => format!("failed: {}", first_line(error)),
        }
    }
}

/// What Ward measured.
#[derive(Debug, Serialize)]
pub struct WardResult {
    /// Where the entries went.
    pub endpoint: String,
    /// What went wrong with a single append made before measuring, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_failure: Option<String>,
    /// One entry per request, at a fixed rate.
    pub paced: Paced,
    /// Batches of entries from several connections.
    pub batched: Batched,
}

/// A fixed-rate (open-loop) phase.
#[derive(Debug, Serialize)]
pub struct Paced {
    /// Appends scheduled per second.
    pub offered_per_s: f64,
    /// What was achieved; latency runs from each append's scheduled time.
    pub figures: Figures,
    /// Failed appends by kind (Ward only).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, u64>,
}

impl Paced {
    /// The figures of `result`, run at `offered_per_s`.
    pub fn new(offered_per_s: f64, result: LoadResult, errors: BTreeMap<String, u64>) -> Paced {
        Paced {
            offered_per_s,
            figures: result.figures(),
            errors,
        }
    }
}

/// A full-speed (closed-loop) phase of batches.
#[derive(Debug, Serialize)]
pub struct Batched {
    /// Entries per request or transaction.
    pub batch: u32,
    /// Concurrent connections.
    pub connections: usize,
    /// What was achieved (`records_per_s` is entries per second; latency is per batch).
    pub figures: Figures,
    /// Failed appends by kind (Ward only).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, u64>,
}

impl Batched {
    /// The figures of `result`.
    pub fn new(
        batch: u32,
        connections: usize,
        result: LoadResult,
        errors: BTreeMap<String, u64>,
    ) -> Batched {
        Batched {
            batch,
            connections,
            figures: result.figures(),
            errors,
        }
    }
}

/// The peers side by side.
#[derive(Debug, Serialize)]
pub struct Comparison {
    /// PostgreSQL's paced p50 ÷ raw fsync's.
    pub postgres_p50_over_fsync: Option<f64>,
    /// PostgreSQL's paced p99 ÷ raw fsync's.
    pub postgres_p99_over_fsync: Option<f64>,
    /// Ward's paced p50 ÷ raw fsync's.
    pub ward_p50_over_fsync: Option<f64>,
    /// Ward's paced p99 ÷ raw fsync's.
    pub ward_p99_over_fsync: Option<f64>,
    /// Ward's batched entries/s ÷ PostgreSQL's.
    pub ward_batched_over_postgres: Option<f64>,
    /// Target for Ward's paced p99, ms.
    pub target_p99_ms: f64,
    /// Whether Ward met it (every append acknowledged and p99 below); none when not measured.
    pub ward_p99_met: Option<bool>,
    /// Target for Ward's batched entries per second.
    pub target_entries_per_s: f64,
    /// Whether Ward met it (every batch acknowledged and the rate at least that); none when not
    /// measured.
    pub ward_batched_met: Option<bool>,
}

/// Runs `ward bench audit`.
pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let report = measure(&args).await?;
    report::emit(args.output.json, &report, render)
}

async fn measure(args: &AuditArgs) -> anyhow::Result<AuditReport> {
    let load_average_start = process::load_average();
    let connections = args.connections as usize;
    let rate = f64::from(args.rate);

    let pg_bin = if args.skip_postgres {
        None
    } else {
        postgres::find(args.pg_bin.as_deref())?
    };

    let parent = match &args.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir.clone()
        }
        None => std::env::temp_dir(),
    };
    let root = tempfile::Builder::new()
        .prefix("ward-bench-audit-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot make a temporary directory in {}", parent.display()))?;
    let subdir = |name: &str| -> anyhow::Result<PathBuf> {
        let dir = root.path().join(name);
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    };
    let filesystem = filesystem(root.path());

    let entries = Arc::new(entries::generate(SEED, ENTRIES));
    let single_bodies = Arc::new(entries::bodies(&entries, 1, ENTRIES)?);
    let mean_entry_json_bytes =
        single_bodies.iter().map(|b| b.len()).sum::<usize>() / single_bodies.len().max(1);

    eprintln!(
        "(1) raw fsync: a {}-byte write + fdatasync per entry at {}/s for {:?} in {} ({filesystem})…",
        entries::RECORD_BYTES,
        args.rate,
        args.duration,
        parent.display()
    );
    let fsync_dir = subdir("fsync")?;
    settle(&fsync_dir).await;
    let raw_fsync = fsync::measure(
        &fsync_dir,
        entries.clone(),
        rate,
        args.warmup,
        args.duration,
        MAX_OUTSTANDING,
    )
    .await
    .context("(1) raw fsync")?;

    let (postgres, postgres_setup) = match &pg_bin {
        None if args.skip_postgres => {
            eprintln!("(2) PostgreSQL skipped (--skip-postgres)");
            (
                Peer::Skipped {
                    reason: "--skip-postgres".into(),
                },
                "skipped (--skip-postgres)".to_owned(),
            )
        }
        None => {
            let reason = "no PostgreSQL server binaries (install Debian postgresql)";
            eprintln!("(2) PostgreSQL skipped: {reason}");
            (
                Peer::Skipped {
                    reason: reason.into(),
                },
                format!("skipped: {reason}"),
            )
        }
        Some(bin) => {
            eprintln!(
                "(2) PostgreSQL: initdb and start a cluster from {}…",
                bin.dir.display()
            );
            let plan = postgres::PgPlan {
                entries: entries.clone(),
                rate,
                batch: args.batch,
                connections,
                warmup: args.warmup,
                duration: args.duration,
                max_outstanding: MAX_OUTSTANDING,
            };
            let dir = subdir("postgres")?;
            let peer = match postgres::measure(bin, &dir, &plan).await {
                Ok(result) => Peer::Measured(result),
                Err(e) => {
                    eprintln!("warning: (2) PostgreSQL failed: {e:#}");
                    Peer::Failed {
                        error: format!("{e:#}"),
                    }
                }
            };
            let setup = match peer.measured() {
                Some(r) => format!(
                    "PostgreSQL {} from {}{}; {}; wal_sync_method {}; otherwise the defaults of initdb; tenant/seq primary key; one connection pool of {connections} for the paced phase",
                    r.server_version,
                    bin.dir.display(),
                    r.run_as
                        .as_ref()
                        .map(|u| format!(", run as OS user {u} (the bench runs as root, which PostgreSQL refuses)"))
                        .unwrap_or_default(),
                    postgres::SETTINGS.join(", "),
                    r.wal_sync_method,
                ),
                None => format!("from {}: {}", bin.dir.display(), peer.missing()),
            };
            (peer, setup)
        }
    };

    let client = load::http_client(connections)?;
    let mut server = None;
    let (target, ward_target) = match &args.url {
        Some(url) => {
            let key = args.api_key.clone().context("--url needs --api-key")?;
            (
                Ok(ward::WardTarget::new(url, key)),
                format!("existing Ward at {url}"),
            )
        }
        None => {
            eprintln!("(3) Ward: starting `ward serve` on a temporary directory…");
            let started = async { ward::start(&subdir("ward")?, &client).await }.await;
            let target = started.map(|(guard, target)| {
                server = Some(guard);
                target
            });
            (
                target,
                "`ward serve` started on a temporary directory, default configuration".into(),
            )
        }
    };
    let ward = match target {
        Err(e) => {
            eprintln!("warning: (3) Ward failed to start: {e:#}");
            Peer::Failed {
                error: format!("{e:#}"),
            }
        }
        Ok(target) => {
            match measure_ward(args, &client, &target, single_bodies, &entries, root.path()).await {
                Ok(result) => Peer::Measured(result),
                Err(e) => {
                    eprintln!("warning: (3) Ward failed: {e:#}");
                    Peer::Failed {
                        error: format!("{e:#}"),
                    }
                }
            }
        }
    };
    if let Some(mut server) = server.take() {
        server.stop()?;
    }
    drop(root);

    let comparison = compare(&raw_fsync, &postgres, &ward);
    Ok(AuditReport {
        bench: "audit",
        parameters: AuditParameters {
            command: command_line(args),
            duration_s: args.duration.as_secs_f64(),
            warmup_s: args.warmup.as_secs_f64(),
            rate: args.rate,
            batch: args.batch,
            connections: args.connections,
            record_bytes: entries::RECORD_BYTES,
            mean_entry_json_bytes,
            data_dir: parent.display().to_string(),
            filesystem,
            postgres: postgres_setup,
            ward_target,
            version: env!("CARGO_PKG_VERSION"),
            machine: report::machine(),
            load_average_start,
            load_average_end: process::load_average(),
        },
        raw_fsync,
        postgres,
        ward,
        comparison,
    })
}

/// (3): Ward paced, then batched.
async fn measure_ward(
    args: &AuditArgs,
    client: &reqwest::Client,
    target: &ward::WardTarget,
    single_bodies: Arc<Vec<bytes::Bytes>>,
    entries: &[entries::Entry],
    root: &Path,
) -> anyhow::Result<WardResult> {
    let probe_failure = ward::probe(client, target, single_bodies[0].clone()).await;
    if let Some(failure) = &probe_failure {
        eprintln!(
            "warning: (3) a first append to {} failed ({}); measuring anyway, every failed append counts as an error",
            target.endpoint,
            first_line(failure)
        );
    }
    eprintln!(
        "(3a) Ward: one entry per request at {}/s for {:?}…",
        args.rate, args.duration
    );
    settle(root).await;
    let paced = ward::paced(
        client,
        target,
        single_bodies,
        f64::from(args.rate),
        args.warmup,
        args.duration,
        MAX_OUTSTANDING,
    )
    .await?;
    eprintln!(
        "(3b) Ward: {} entries per request on {} connections for {:?}…",
        args.batch, args.connections, args.duration
    );
    let batch_bodies = Arc::new(entries::bodies(entries, args.batch as usize, 64)?);
    settle(root).await;
    let batched = ward::batched(
        client,
        target,
        batch_bodies,
        args.batch,
        args.connections as usize,
        args.warmup,
        args.duration,
    )
    .await?;
    Ok(WardResult {
        endpoint: target.endpoint.clone(),
        probe_failure,
        paced,
        batched,
    })
}

/// Attempts that did not succeed: failed, throttled, or skipped for too many outstanding.
fn errors(f: &Figures) -> u64 {
    f.failed + f.throttled + f.skipped
}

/// Ratios and target verdicts.
fn compare(fsync: &FsyncResult, pg: &Peer<PgResult>, ward: &Peer<WardResult>) -> Comparison {
    let base = fsync.figures.latency.as_ref();
    let over = |paced: Option<&Paced>, field: fn(&crate::bench::stats::Summary) -> f64| {
        let s = paced?.figures.latency.as_ref()?;
        let b = base?;
        (field(b) > 0.0).then(|| field(s) / field(b))
    };
    let pg_paced = pg.measured().map(|r| &r.paced);
    let ward_paced = ward.measured().map(|r| &r.paced);
    let ward_batched = ward.measured().map(|r| &r.batched);
    let pg_batched = pg.measured().map(|r| &r.batched);
    Comparison {
        postgres_p50_over_fsync: over(pg_paced, |s| s.p50_ms),
        postgres_p99_over_fsync: over(pg_paced, |s| s.p99_ms),
        ward_p50_over_fsync: over(ward_paced, |s| s.p50_ms),
        ward_p99_over_fsync: over(ward_paced, |s| s.p99_ms),
        ward_batched_over_postgres: match (ward_batched, pg_batched) {
            (Some(w), Some(p)) if p.figures.records_per_s > 0.0 => {
                Some(w.figures.records_per_s / p.figures.records_per_s)
            }
            _ => None,
        },
        target_p99_ms: TARGET_P99_MS,
        ward_p99_met: ward_paced.map(|p| {
            errors(&p.figures) == 0 && p.figures.latency.is_some_and(|s| s.p99_ms < TARGET_P99_MS)
        }),
        target_entries_per_s: TARGET_ENTRIES_PER_S,
        ward_batched_met: ward_batched
            .map(|b| errors(&b.figures) == 0 && b.figures.records_per_s >= TARGET_ENTRIES_PER_S),
    }
}

/// The command line that reproduces a run.
fn command_line(args: &AuditArgs) -> String {
    let mut c = format!(
        "ward bench audit --duration {:?} --warmup {:?} --rate {} --batch {} --connections {}",
        args.duration, args.warmup, args.rate, args.batch, args.connections
    );
    if let Some(dir) = &args.data_dir {
        c.push_str(&format!(" --data-dir {}", dir.display()));
    }
    if let Some(dir) = &args.pg_bin {
        c.push_str(&format!(" --pg-bin {}", dir.display()));
    }
    if args.skip_postgres {
        c.push_str(" --skip-postgres");
    }
    if let Some(url) = &args.url {
        c.push_str(&format!(" --url {url} --api-key …"));
    }
    c
}

/// The filesystem `dir` is on, as `/proc/self/mounts` says: type, device and mount point.
fn filesystem(dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    std::fs::read_to_string("/proc/self/mounts")
        .ok()
        .and_then(|mounts| mount_of(&mounts, &dir))
        .unwrap_or_else(|| "unknown filesystem".into())
}

/// The mount of `dir` in the text of `/proc/self/mounts` (the longest mount point above it;
/// the last one listed when several are mounted there).
fn mount_of(mounts: &str, dir: &Path) -> Option<String> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let device = fields.next()?;
            let point = fields.next()?.replace("\\040", " ");
            let kind = fields.next()?;
            dir.starts_with(&point)
                .then(|| (point.len(), format!("{kind}, {device} on {point}")))
        })
        .fold(None, |best: Option<(usize, String)>, m| match &best {
            Some((len, _)) if *len > m.0 => best,
            _ => Some(m),
        })
        .map(|(_, text)| text)
}

/// Writes the dirty data of `dir`'s filesystem to disk (`syncfs`) before a phase, so that no
/// phase pays for what an earlier one (or anything else on the machine) left in the page
/// cache: on ext4, an `fdatasync` also flushes other files' data waiting in the same journal
/// transaction. Best effort: a failure only makes the next phase noisier.
pub async fn settle(dir: &Path) {
    let dir = dir.to_path_buf();
    let _ = tokio::task::spawn_blocking(move || {
        use std::os::fd::AsRawFd;
        if let Ok(handle) = std::fs::File::open(&dir) {
            // SAFETY: syncfs(2) only reads the descriptor, which `handle` keeps open.
            unsafe {
                libc::syncfs(handle.as_raw_fd());
            }
        }
    })
    .await;
}

/// The first line of `text`.
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// `✅ 35,000 ≥ 20,000` or `❌ 3,000 < 20,000`.
fn at_least(value: f64, target: f64) -> String {
    if value >= target {
        format!("✅ {} ≥ {}", thousands(value), thousands(target))
    } else {
        format!("❌ {} < {}", thousands(value), thousands(target))
    }
}

/// `1.23×`, or `–`.
fn ratio(value: Option<f64>) -> String {
    value
        .map(|v| format!("{v:.2}×"))
        .unwrap_or_else(|| "–".into())
}

/// `n × kind, …` of an error tally.
fn tally_text(errors: &BTreeMap<String, u64>) -> String {
    errors
        .iter()
        .map(|(kind, n)| format!("{} × {kind}", thousands(*n as f64)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn render(r: &AuditReport) -> String {
    let p = &r.parameters;
    let c = &r.comparison;
    let mut out = String::from("## ward bench audit\n\n");
    out.push_str(&report::parameters(&[
        ("command", format!("`{}`", p.command)),
        (
            "entry",
            format!(
                "agent, action, resource, outcome, on_behalf_of, trace_id, details; mean {} bytes as JSON; {} generated entries used in turn (seed {SEED})",
                p.mean_entry_json_bytes, ENTRIES
            ),
        ),
        (
            "duration per phase",
            format!("{} s after {} s warm-up", p.duration_s, p.warmup_s),
        ),
        (
            "latency phases",
            format!(
                "{} entries/s, one per append, open loop: latency from each append's scheduled time (no coordinated omission); at most {MAX_OUTSTANDING} outstanding, later sends skipped and counted",
                thousands(f64::from(p.rate))
            ),
        ),
        (
            "throughput phases",
            format!(
                "{} entries per request or transaction, {} connections, closed loop",
                p.batch, p.connections
            ),
        ),
        (
            "directory",
            format!(
                "temporary directories in {} ({}), removed at the end; the filesystem's dirty data is written out (`syncfs`) before each phase",
                p.data_dir, p.filesystem
            ),
        ),
        (
            "raw fsync",
            format!(
                "one file opened for appending; each entry is one {}-byte `write` then `fdatasync` (`File::sync_data`) on a blocking thread, so appends due while another syncs overlap with it and the kernel makes them durable together",
                p.record_bytes
            ),
        ),
        ("PostgreSQL", p.postgres.clone()),
        ("Ward", p.ward_target.clone()),
        ("version", p.version.to_owned()),
        (
            "machine",
            format!("{} (client and servers share it)", p.machine),
        ),
        (
            "load average (1/5/15 min)",
            format!(
                "{} at start, {} at end",
                p.load_average_start, p.load_average_end
            ),
        ),
    ]));

    out.push_str(&format!(
        "\n### Append latency at {}/s\n\n",
        thousands(f64::from(p.rate))
    ));
    let fsync_row = paced_row(
        "raw fsync: `write` + `fdatasync` per entry".into(),
        &r.raw_fsync.offered_per_s,
        &r.raw_fsync.figures,
        Some(1.0),
        Some(1.0),
    );
    let pg_row = match r.postgres.measured() {
        Some(pg) => paced_row(
            format!(
                "PostgreSQL: one autocommitted `INSERT` per entry (pool of {})",
                p.connections
            ),
            &pg.paced.offered_per_s,
            &pg.paced.figures,
            c.postgres_p50_over_fsync,
            c.postgres_p99_over_fsync,
        ),
        None => missing_row("PostgreSQL", &r.postgres.missing(), 10),
    };
    let ward_row = match r.ward.measured() {
        Some(w) => paced_row(
            "Ward: `POST /api/v1/audit`, one entry per request".into(),
            &w.paced.offered_per_s,
            &w.paced.figures,
            c.ward_p50_over_fsync,
            c.ward_p99_over_fsync,
        ),
        None => missing_row("Ward", &r.ward.missing(), 10),
    };
    out.push_str(&report::table(
        &[
            "append",
            "offered/s",
            "achieved/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "errors / skipped",
            "p50 ÷ fsync",
            "p99 ÷ fsync",
        ],
        &[fsync_row, pg_row, ward_row],
    ));
    if let Some(s) = &r.raw_fsync.service {
        out.push_str(&format!(
            "\nRaw fsync service time (the `write` and `fdatasync` calls alone, without the driver's scheduling): p50 {} ms, p99 {} ms, max {} ms.\n",
            ms(s.p50_ms),
            ms(s.p99_ms),
            ms(s.max_ms)
        ));
    }

    out.push_str("\n### Batched throughput\n\n");
    let pg_row = match r.postgres.measured() {
        Some(pg) => batched_row(
            format!(
                "PostgreSQL: {}-row `INSERT`, one transaction each",
                pg.batched.batch
            ),
            &pg.batched,
            Some(1.0),
        ),
        None => missing_row("PostgreSQL", &r.postgres.missing(), 8),
    };
    let ward_row = match r.ward.measured() {
        Some(w) => batched_row(
            format!(
                "Ward: `POST /api/v1/audit` with {} entries",
                w.batched.batch
            ),
            &w.batched,
            c.ward_batched_over_postgres,
        ),
        None => missing_row("Ward", &r.ward.missing(), 8),
    };
    out.push_str(&report::table(
        &[
            "append",
            "connections",
            "entries/s",
            "batches/s",
            "batch p50 ms",
            "batch p99 ms",
            "errors",
            "÷ PostgreSQL",
        ],
        &[pg_row, ward_row],
    ));

    out.push_str("\n### Targets\n\n");
    let ward = r.ward.measured();
    let p99_verdict = match ward {
        None => format!("– {}", r.ward.missing()),
        Some(w) => match &w.paced.figures.latency {
            None => format!(
                "❌ no append acknowledged ({})",
                error_summary(&w.paced.figures, &w.paced.errors)
            ),
            Some(s) => {
                let mut v = report::verdict(s.p99_ms, TARGET_P99_MS);
                if errors(&w.paced.figures) > 0 {
                    v = format!(
                        "❌ {} ms over the acknowledged appends, but {}",
                        ms(s.p99_ms),
                        error_summary(&w.paced.figures, &w.paced.errors)
                    );
                }
                v
            }
        },
    };
    let rate_verdict = match ward {
        None => format!("– {}", r.ward.missing()),
        Some(w) => {
            let f = &w.batched.figures;
            if errors(f) > 0 {
                format!(
                    "❌ {} entries/s acknowledged; {}",
                    thousands(f.records_per_s),
                    error_summary(f, &w.batched.errors)
                )
            } else {
                at_least(f.records_per_s, TARGET_ENTRIES_PER_S)
            }
        }
    };
    out.push_str(&report::table(
        &["target", "Ward"],
        &[
            vec![
                format!(
                    "p99 append latency at {}/s < {} ms",
                    thousands(f64::from(p.rate)),
                    ms(TARGET_P99_MS)
                ),
                p99_verdict,
            ],
            vec![
                format!(
                    "batched appends ≥ {} entries/s",
                    thousands(TARGET_ENTRIES_PER_S)
                ),
                rate_verdict,
            ],
        ],
    ));

    let mut failures = vec![("raw fsync", &r.raw_fsync.figures)];
    if let Some(pg) = r.postgres.measured() {
        failures.push(("PostgreSQL paced", &pg.paced.figures));
        failures.push(("PostgreSQL batched", &pg.batched.figures));
    }
    if let Some(w) = ward {
        failures.push(("Ward paced", &w.paced.figures));
        failures.push(("Ward batched", &w.batched.figures));
    }
    for (name, f) in failures {
        if let Some(m) = &f.first_failure {
            out.push_str(&format!("\nFirst failure ({name}): {}\n", first_line(m)));
        }
    }
    for (name, peer) in [
        ("PostgreSQL", r.postgres.missing()),
        ("Ward", r.ward.missing()),
    ] {
        if !peer.is_empty() {
            out.push_str(&format!("\n{name} {peer}\n"));
        }
    }
    out
}

/// What went wrong in a phase: `5,000 × HTTP 404 Not Found`, or the counts by outcome.
fn error_summary(f: &Figures, errors: &BTreeMap<String, u64>) -> String {
    let mut parts = Vec::new();
    if !errors.is_empty() {
        parts.push(format!("errors: {}", tally_text(errors)));
    } else if f.failed + f.throttled > 0 {
        parts.push(format!(
            "{} failed, {} throttled",
            thousands(f.failed as f64),
            thousands(f.throttled as f64)
        ));
    }
    if f.skipped > 0 {
        parts.push(format!("{} skipped", thousands(f.skipped as f64)));
    }
    parts.join("; ")
}

/// A row of the latency table.
fn paced_row(
    name: String,
    offered: &f64,
    f: &Figures,
    p50_ratio: Option<f64>,
    p99_ratio: Option<f64>,
) -> Vec<String> {
    let l = f.latency.as_ref();
    vec![
        name,
        thousands(*offered),
        thousands(f.records_per_s),
        ms_of(l, |s| s.p50_ms),
        ms_of(l, |s| s.p90_ms),
        ms_of(l, |s| s.p99_ms),
        ms_of(l, |s| s.max_ms),
        format!(
            "{} / {}",
            thousands((f.failed + f.throttled) as f64),
            thousands(f.skipped as f64)
        ),
        ratio(p50_ratio),
        ratio(p99_ratio),
    ]
}

/// A row of the throughput table.
fn batched_row(name: String, b: &Batched, vs_postgres: Option<f64>) -> Vec<String> {
    let f = &b.figures;
    let l = f.latency.as_ref();
    vec![
        name,
        b.connections.to_string(),
        thousands(f.records_per_s),
        format!("{:.1}", f.requests as f64 / f.elapsed_s.max(1e-9)),
        ms_of(l, |s| s.p50_ms),
        ms_of(l, |s| s.p99_ms),
        thousands((f.failed + f.throttled) as f64),
        ratio(vs_postgres),
    ]
}

/// A row for a peer that was not measured: its name, why, and dashes.
fn missing_row(name: &str, why: &str, columns: usize) -> Vec<String> {
    let mut row = vec![name.to_owned(), why.to_owned()];
    row.resize(columns, "–".into());
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(latencies_ms: &[u64], failed: u64) -> LoadResult {
        let mut r = LoadResult::default();
        for &l in latencies_ms {
            r.ok += 1;
            r.records += 1;
            r.latencies.record(Duration::from_millis(l));
        }
        r.failed = failed;
        if failed > 0 {
            r.first_failure = Some("HTTP 404 Not Found: {}".into());
        }
        r.elapsed = Duration::from_secs(1);
        r
    }

    fn fsync() -> FsyncResult {
        FsyncResult {
            offered_per_s: 1000.0,
            figures: figures(&[1, 2, 2, 4], 0).figures(),
            service: None,
        }
    }

    #[test]
    fn mounts_pick_the_longest_mount_point() {
        let mounts = "/dev/vda / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n/dev/vdb /tmp/my\\040disk xfs rw 0 0\n";
        assert_eq!(
            mount_of(mounts, Path::new("/tmp/x")).unwrap(),
            "tmpfs, tmpfs on /tmp"
        );
        assert_eq!(
            mount_of(mounts, Path::new("/tmp/my disk/a")).unwrap(),
            "xfs, /dev/vdb on /tmp/my disk"
        );
        assert_eq!(
            mount_of(mounts, Path::new("/tmpfoo")).unwrap(),
            "ext4, /dev/vda on /"
        );
        assert_eq!(mount_of("", Path::new("/")), None);
        assert_ne!(filesystem(Path::new("/")), "");
    }

    #[test]
    fn ward_that_answers_404_is_reported_with_its_errors() {
        let mut errors = BTreeMap::new();
        errors.insert("HTTP 404 Not Found".to_owned(), 5000);
        let ward = Peer::Measured(WardResult {
            endpoint: "http://127.0.0.1:1/api/v1/audit".into(),
            probe_failure: Some("HTTP 404 Not Found: {}".into()),
            paced: Paced::new(1000.0, figures(&[], 5000), errors.clone()),
            batched: Batched::new(100, 4, figures(&[], 800), errors),
        });
        let pg = Peer::Skipped {
            reason: "no PostgreSQL server binaries (install Debian postgresql)".into(),
        };
        let fsync = fsync();
        let comparison = compare(&fsync, &pg, &ward);
        assert_eq!(comparison.ward_p99_met, Some(false));
        assert_eq!(comparison.ward_batched_met, Some(false));
        assert_eq!(comparison.ward_p99_over_fsync, None);
        let report = sample_report(fsync, pg, ward, comparison);
        let text = render(&report);
        assert!(text.contains("5,000 × HTTP 404 Not Found"), "{text}");
        assert!(
            text.contains("skipped: no PostgreSQL server binaries"),
            "{text}"
        );
        assert!(text.contains("### Batched throughput"), "{text}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["postgres"]["status"], "skipped");
        assert_eq!(json["ward"]["status"], "measured");
        assert_eq!(json["ward"]["paced"]["errors"]["HTTP 404 Not Found"], 5000);
    }

    #[test]
    fn ratios_and_targets_compare_the_peers() {
        let fsync = fsync();
        let mut pg_batched = figures(&[10], 0);
        pg_batched.records = 10_000;
        let pg = Peer::Measured(PgResult {
            server_version: "15.18".into(),
            wal_sync_method: "fdatasync".into(),
            run_as: Some("postgres".into()),
            paced: Paced::new(1000.0, figures(&[2, 4, 4, 8], 0), BTreeMap::new()),
            batched: Batched::new(100, 4, pg_batched, BTreeMap::new()),
        });
        let mut ward_batched = figures(&[5], 0);
        ward_batched.records = 30_000;
        let ward = Peer::Measured(WardResult {
            endpoint: "e".into(),
            probe_failure: None,
            paced: Paced::new(1000.0, figures(&[1, 2, 3, 4], 0), BTreeMap::new()),
            batched: Batched::new(100, 4, ward_batched, BTreeMap::new()),
        });
        let c = compare(&fsync, &pg, &ward);
        assert_eq!(c.postgres_p99_over_fsync, Some(2.0));
        assert_eq!(c.ward_p99_over_fsync, Some(1.0));
        assert_eq!(c.ward_p50_over_fsync, Some(1.0));
        assert_eq!(c.ward_batched_over_postgres, Some(3.0));
        assert_eq!(c.ward_p99_met, Some(true));
        assert_eq!(c.ward_batched_met, Some(true));
        let text = render(&sample_report(fsync, pg, ward, c));
        assert!(text.contains("✅ 30,000 ≥ 20,000"), "{text}");
        assert!(text.contains("✅ 4.0 < 5.0"), "{text}");
        assert!(text.contains("3.00×"), "{text}");
        // Every table row has as many cells as its header.
        for table in text.split("\n\n").filter(|t| t.starts_with('|')) {
            let cells: Vec<usize> = table
                .lines()
                .filter(|l| !l.starts_with("|-"))
                .map(|l| l.matches(" | ").count())
                .collect();
            assert!(cells.windows(2).all(|w| w[0] == w[1]), "{table}");
        }
    }

    fn sample_report(
        raw_fsync: FsyncResult,
        postgres: Peer<PgResult>,
        ward: Peer<WardResult>,
        comparison: Comparison,
    ) -> AuditReport {
        AuditReport {
            bench: "audit",
            parameters: AuditParameters {
                command: "ward bench audit".into(),
                duration_s: 5.0,
                warmup_s: 1.0,
                rate: 1000,
                batch: 100,
                connections: 4,
                record_bytes: entries::RECORD_BYTES,
                mean_entry_json_bytes: 250,
                data_dir: "/tmp".into(),
                filesystem: "ext4".into(),
                postgres: "PostgreSQL".into(),
                ward_target: "Ward".into(),
                version: "0",
                machine: "2 cores".into(),
                load_average_start: "0 0 0".into(),
                load_average_end: "0 0 0".into(),
            },
            raw_fsync,
            postgres,
            ward,
            comparison,
        }
    }
}
