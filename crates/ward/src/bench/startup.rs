//! `ward bench startup`: spawn → ready of `ward serve` on an empty directory, its idle memory,
//! and, as the floor, spawn → exit of `ward --version`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use super::OutputArgs;
use super::process::{self, ChildGuard};
use super::report::{self, mib, ms, thousands};
use super::stats::Summary;

/// Options of `ward bench startup`.
#[derive(Debug, Args)]
pub struct StartupArgs {
    /// Number of starts (and of `ward --version` runs).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub runs: u32,
    /// How long the first run idles before its memory is read.
    #[arg(long, default_value = "2s", value_parser = super::parse_duration)]
    pub idle: Duration,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Target: spawn → ready.
const READY_TARGET_MS: f64 = 300.0;
/// Target: idle resident memory, bytes (40 MiB).
const IDLE_RSS_TARGET: u64 = 40 * 1024 * 1024;

/// Everything `ward bench startup` measured.
#[derive(Debug, Serialize)]
pub struct StartupReport {
    /// Always `startup`.
    pub bench: &'static str,
    /// The command line that reproduces the run.
    pub command: String,
    /// Runs.
    pub runs: u32,
    /// Ward's version.
    pub version: &'static str,
    /// Cores and memory.
    pub machine: String,
    /// Load average when the bench started.
    pub load_average_start: String,
    /// Load average when the bench ended.
    pub load_average_end: String,
    /// `ward serve` on an empty directory: spawn → first `/readyz` 200.
    pub serve_ready: Option<Summary>,
    /// `ward --version`: spawn → exit.
    pub version_exit: Option<Summary>,
    /// `ward serve`: SIGTERM → exit, idle (clean exits only).
    pub serve_stop: Option<Summary>,
    /// Runs where `ward serve` did not exit with status 0 after SIGTERM (sent right after
    /// readiness, except in the first run).
    pub ungraceful_stops: u32,
    /// How the first such run ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_ungraceful_stop: Option<String>,
    /// Resident memory at ready (first run).
    pub rss_at_ready_bytes: u64,
    /// Resident memory after idling (first run).
    pub idle_rss_bytes: u64,
    /// How long the first run idled.
    pub idle_s: f64,
}

/// Runs `ward bench startup`.
pub async fn run(args: StartupArgs) -> anyhow::Result<()> {
    let report = measure(&args).await?;
    report::emit(args.output.json, &report, render)
}

fn summary(mut samples: Vec<Duration>) -> Option<Summary> {
    samples.sort_unstable();
    Summary::of_sorted(&samples)
}

async fn measure(args: &StartupArgs) -> anyhow::Result<StartupReport> {
    let load_average_start = process::load_average();
    let exe = std::env::current_exe().context("cannot find the ward executable")?;
    let mut ready = Vec::new();
    let mut stop = Vec::new();
    let (mut rss_at_ready, mut idle_rss) = (0, 0);
    let mut ungraceful = 0u32;
    let mut first_ungraceful = None;
    for run in 0..args.runs {
        let dir = tempfile::Builder::new()
            .prefix("ward-bench-startup-")
            .tempdir()
            .context("cannot make a temporary directory")?;
        let http = process::loopback()?;
        let command = process::ward_serve_command(
            &dir.path().join("data"),
            dir.path(),
            http,
            process::loopback()?,
        )?;
        let mut ward = ChildGuard::spawn("ward serve", command)?;
        let took = ward
            .wait_ready(http, Duration::from_millis(2), Duration::from_secs(30))
            .await?;
        ready.push(took);
        if run == 0 {
            rss_at_ready = process::proc_status_bytes(ward.pid(), "VmRSS").unwrap_or(0);
            tokio::time::sleep(args.idle).await;
            idle_rss = process::proc_status_bytes(ward.pid(), "VmRSS").unwrap_or(0);
        }
        let (status, stopping) = ward.stop()?;
        if status.success() {
            stop.push(stopping);
        } else {
            // Not a failure of the bench: a finding about Ward, reported beside the timings.
            ungraceful += 1;
            eprintln!(
                "run {}/{}: ward serve did not exit cleanly on SIGTERM ({status})",
                run + 1,
                args.runs
            );
            first_ungraceful.get_or_insert_with(|| {
                format!(
                    "{status}; last output: {}",
                    ward.stderr_tail().lines().last().unwrap_or("")
                )
            });
        }
        eprintln!(
            "run {}/{}: ready after {} ms",
            run + 1,
            args.runs,
            ms(took.as_secs_f64() * 1e3)
        );
    }
    let mut version = Vec::new();
    for _ in 0..args.runs {
        let started = Instant::now();
        let status = Command::new(&exe)
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("cannot run ward --version")?;
        version.push(started.elapsed());
        anyhow::ensure!(status.success(), "ward --version exited with {status}");
    }
    Ok(StartupReport {
        bench: "startup",
        command: format!(
            "ward bench startup --runs {} --idle {:?}",
            args.runs, args.idle
        ),
        runs: args.runs,
        version: env!("CARGO_PKG_VERSION"),
        machine: report::machine(),
        load_average_start,
        load_average_end: process::load_average(),
        serve_ready: summary(ready),
        version_exit: summary(version),
        serve_stop: summary(stop),
        ungraceful_stops: ungraceful,
        first_ungraceful_stop: first_ungraceful,
        rss_at_ready_bytes: rss_at_ready,
        idle_rss_bytes: idle_rss,
        idle_s: args.idle.as_secs_f64(),
    })
}

fn render(r: &StartupReport) -> String {
    let mut out = String::from("## ward bench startup\n\n");
    out.push_str(&report::parameters(&[
        ("command", format!("`{}`", r.command)),
        ("method", "each run: `ward serve` on a fresh empty directory, GET /readyz polled every 2 ms on a new connection; then SIGTERM".into()),
        ("version", r.version.to_owned()),
        ("machine", r.machine.clone()),
        ("load average (1/5/15 min)", format!("{} at start, {} at end", r.load_average_start, r.load_average_end)),
    ]));
    out.push('\n');
    let row = |name: &str, s: Option<&Summary>, target: String| {
        vec![
            name.to_owned(),
            report::ms_of(s, |s| s.p50_ms),
            report::ms_of(s, |s| s.p90_ms),
            report::ms_of(s, |s| s.max_ms),
            s.map(|s| s.count.to_string()).unwrap_or_default(),
            target,
        ]
    };
    let ready_verdict = r
        .serve_ready
        .as_ref()
        .map(|s| {
            format!(
                "{} (median); {} (max)",
                report::verdict(s.p50_ms, READY_TARGET_MS),
                report::verdict(s.max_ms, READY_TARGET_MS)
            )
        })
        .unwrap_or_default();
    out.push_str(&report::table(
        &[
            "measurement",
            "median ms",
            "p90 ms",
            "max ms",
            "runs",
            "target",
        ],
        &[
            row(
                "`ward serve`: spawn → first /readyz 200 (empty store)",
                r.serve_ready.as_ref(),
                ready_verdict,
            ),
            row(
                "`ward --version`: spawn → exit (process start cost)",
                r.version_exit.as_ref(),
                "–".into(),
            ),
            row(
                "`ward serve`: SIGTERM → exit (idle; clean exits only)",
                r.serve_stop.as_ref(),
                if r.ungraceful_stops == 0 {
                    "exit status 0 in every run".into()
                } else {
                    format!(
                        "❌ {} of {} runs did not exit cleanly",
                        r.ungraceful_stops, r.runs
                    )
                },
            ),
        ],
    ));
    if let Some(first) = &r.first_ungraceful_stop {
        out.push_str(&format!(
            "\nSIGTERM sent right after the first /readyz 200 ended `ward serve` uncleanly in {} of {} runs (first: {first}).\n",
            r.ungraceful_stops, r.runs
        ));
    }
    out.push('\n');
    let rss_verdict = if r.idle_rss_bytes < IDLE_RSS_TARGET {
        format!("✅ < {}", mib(IDLE_RSS_TARGET))
    } else {
        format!("❌ ≥ {}", mib(IDLE_RSS_TARGET))
    };
    out.push_str(&report::table(
        &["memory (first run)", "value", "target"],
        &[
            vec![
                "RSS at ready".into(),
                format!(
                    "{} ({} KiB)",
                    mib(r.rss_at_ready_bytes),
                    thousands(r.rss_at_ready_bytes as f64 / 1024.0)
                ),
                "–".into(),
            ],
            vec![
                format!("RSS after {} s idle", r.idle_s),
                format!(
                    "{} ({} KiB)",
                    mib(r.idle_rss_bytes),
                    thousands(r.idle_rss_bytes as f64 / 1024.0)
                ),
                rss_verdict,
            ],
        ],
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_sort_their_samples() {
        let samples = vec![
            Duration::from_millis(30),
            Duration::from_millis(10),
            Duration::from_millis(20),
        ];
        let s = summary(samples).unwrap();
        assert_eq!((s.p50_ms, s.max_ms, s.count), (20.0, 30.0, 3));
        assert!(summary(Vec::new()).is_none());
    }
}
