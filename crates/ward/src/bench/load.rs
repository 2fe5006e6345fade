//! Load drivers: closed loop (N workers, each send → wait → send) for the highest rate, and
//! open loop (sends on a fixed schedule, latency measured from the scheduled time so that a
//! slow server cannot hide its queueing: no coordinated omission).
//!
//! Both drive an `op` that performs one unit of work (an HTTP request, a store submission) and
//! says how it went; they are bounded by their duration or schedule.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use prost::Message;
use serde::Serialize;
use tokio::task::JoinSet;
use ward_ingest::otlp::proto::tonic::collector::logs::v1::ExportLogsServiceResponse;

use super::stats::{Latencies, Summary};

/// How one unit of work went.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Acknowledged: `records` accepted (and `rejected` refused by the server), `bytes` sent.
    Ok {
        /// Records acknowledged.
        records: u64,
        /// Records the server refused in a partial success.
        rejected: u64,
        /// Request bytes.
        bytes: u64,
    },
    /// Refused for load (HTTP 429/503, store overloaded); the worker backs off briefly.
    Throttled,
    /// Failed; the message says why.
    Failed(String),
}

/// Pause of a worker after a throttled or failed request, so that a refusing server is not
/// hammered in a busy loop.
const BACKOFF: Duration = Duration::from_millis(5);

/// Totals of one load run.
#[derive(Debug, Default)]
pub struct LoadResult {
    /// Units of work acknowledged.
    pub ok: u64,
    /// Records acknowledged.
    pub records: u64,
    /// Records refused by the server.
    pub rejected: u64,
    /// Request bytes acknowledged.
    pub bytes: u64,
    /// Throttled attempts.
    pub throttled: u64,
    /// Failed attempts.
    pub failed: u64,
    /// The first failure's message.
    pub first_failure: Option<String>,
    /// Scheduled sends skipped because too many were outstanding (open loop only).
    pub skipped: u64,
    /// Wall time from the first send to the last answer.
    pub elapsed: Duration,
    /// Latency of every acknowledged unit.
    pub latencies: Latencies,
}

impl LoadResult {
    fn add(&mut self, outcome: Outcome, latency: Duration) {
        match outcome {
            Outcome::Ok {
                records,
                rejected,
                bytes,
            } => {
                self.ok += 1;
                self.records += records;
                self.rejected += rejected;
                self.bytes += bytes;
                self.latencies.record(latency);
            }
            Outcome::Throttled => self.throttled += 1,
            Outcome::Failed(message) => {
                self.failed += 1;
                self.first_failure.get_or_insert(message);
            }
        }
    }

    fn merge(&mut self, other: LoadResult) {
        self.ok += other.ok;
        self.records += other.records;
        self.rejected += other.rejected;
        self.bytes += other.bytes;
        self.throttled += other.throttled;
        self.failed += other.failed;
        self.skipped += other.skipped;
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
        self.latencies.merge(other.latencies);
    }

    /// Fails when nothing at all was acknowledged.
    pub fn check(&self, what: &str) -> anyhow::Result<()> {
        if self.ok == 0 {
            anyhow::bail!(
                "{what}: no request succeeded ({} failed, {} throttled){}",
                self.failed,
                self.throttled,
                self.first_failure
                    .as_deref()
                    .map(|m| format!("; first failure: {m}"))
                    .unwrap_or_default()
            );
        }
        Ok(())
    }

    /// The figures a report shows.
    pub fn figures(mut self) -> Figures {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        Figures {
            records_per_s: self.records as f64 / secs,
            mb_per_s: self.bytes as f64 / secs / 1e6,
            requests: self.ok,
            records: self.records,
            rejected_records: self.rejected,
            throttled: self.throttled,
            failed: self.failed,
            skipped: self.skipped,
            first_failure: self.first_failure.take(),
            elapsed_s: secs,
            latency: self.latencies.summary(),
        }
    }
}

/// What one measurement reached.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    /// Records acknowledged per second.
    pub records_per_s: f64,
    /// Request megabytes (10^6 bytes) acknowledged per second.
    pub mb_per_s: f64,
    /// Requests (or submissions) acknowledged.
    pub requests: u64,
    /// Records acknowledged.
    pub records: u64,
    /// Records refused in partial successes.
    pub rejected_records: u64,
    /// Attempts refused for load.
    pub throttled: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// Scheduled sends skipped (open loop).
    pub skipped: u64,
    /// The first failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<String>,
    /// Measured wall time.
    pub elapsed_s: f64,
    /// Acknowledgement latency.
    pub latency: Option<Summary>,
}

/// Runs `op(worker, iteration)` in `workers` concurrent loops until `duration` has passed (no
/// loop starts a unit after that; units in flight finish and count).
pub async fn closed_loop<F, Fut>(
    workers: usize,
    duration: Duration,
    op: F,
) -> anyhow::Result<LoadResult>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = JoinSet::new();
    for worker in 0..workers.max(1) {
        let op = op.clone();
        tasks.spawn(async move {
            let mut result = LoadResult::default();
            let mut i = 0u64;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let outcome = op(worker, i).await;
                let latency = t0.elapsed();
                if !matches!(outcome, Outcome::Ok { .. }) {
                    tokio::time::sleep(BACKOFF).await;
                }
                result.add(outcome, latency);
                i += 1;
            }
            result
        });
    }
    let mut total = LoadResult::default();
    while let Some(done) = tasks.join_next().await {
        total.merge(done.context("a load worker panicked")?);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// A fixed-rate schedule: `count` sends, send `i` at `i / per_second` seconds after the start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatePlan {
    /// Sends per second.
    pub per_second: f64,
    /// Number of sends (all scheduled strictly within the duration).
    pub count: u64,
}

impl RatePlan {
    /// `per_second` sends per second for `duration` (at least one send).
    pub fn new(per_second: f64, duration: Duration) -> RatePlan {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            1.0
        };
        let count = ((duration.as_secs_f64() * per_second).ceil() as u64).max(1);
        RatePlan { per_second, count }
    }

    /// When send `i` is due, after the start. Computed from `i` (not by adding intervals), so
    /// rounding never accumulates.
    pub fn offset(&self, i: u64) -> Duration {
        Duration::from_secs_f64(i as f64 / self.per_second)
    }
}

/// Sends `op(i)` on the schedule of `plan`, whatever the answers: each send's latency runs from
/// its scheduled time to its answer. At most `max_outstanding` sends are in flight; a send due
/// while that many are is skipped and counted.
///
/// The schedule is kept by a thread of its own sleeping with the operating system's timer
/// (tens of microseconds late at most when the machine is not saturated) rather than by the
/// runtime's, which rounds every deadline up to the next whole millisecond and so would add a
/// millisecond or two of the driver's own lateness to every latency.
pub async fn open_loop<F, Fut>(
    plan: RatePlan,
    max_outstanding: usize,
    op: F,
) -> anyhow::Result<LoadResult>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let runtime = tokio::runtime::Handle::current();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<(Outcome, Duration)>();
    let outstanding = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let pacer = {
        let outstanding = outstanding.clone();
        std::thread::Builder::new()
            .name("bench-pacer".into())
            .spawn(move || {
                // `op` may use the runtime before its future is first polled.
                let _runtime = runtime.enter();
                fine_timer_slack();
                let (mut sent, mut skipped) = (0u64, 0u64);
                for i in 0..plan.count {
                    let due = started + plan.offset(i);
                    sleep_until(due);
                    if done_tx.is_closed() {
                        break; // the caller is gone
                    }
                    if outstanding.load(Ordering::Acquire) >= max_outstanding {
                        skipped += 1;
                        continue;
                    }
                    outstanding.fetch_add(1, Ordering::AcqRel);
                    sent += 1;
                    let fut = op(i);
                    let (done, outstanding) = (done_tx.clone(), outstanding.clone());
                    runtime.spawn(async move {
                        let outcome = fut.await;
                        let latency = Instant::now().saturating_duration_since(due);
                        outstanding.fetch_sub(1, Ordering::AcqRel);
                        let _ = done.send((outcome, latency));
                    });
                }
                (sent, skipped)
            })
            .context("cannot start the pacing thread")?
    };
    let mut total = LoadResult::default();
    let mut answered = 0u64;
    // The channel closes once the pacer and every send it started have finished.
    while let Some((outcome, latency)) = done_rx.recv().await {
        total.add(outcome, latency);
        answered += 1;
    }
    let (sent, skipped) = tokio::task::spawn_blocking(move || pacer.join())
        .await
        .context("cannot wait for the pacing thread")?
        .map_err(|_| anyhow::anyhow!("the pacing thread panicked"))?;
    anyhow::ensure!(answered == sent, "a send panicked");
    total.skipped = skipped;
    total.elapsed = started.elapsed();
    Ok(total)
}

/// Sleeps the thread until `due` (returns at once if it has passed).
fn sleep_until(due: Instant) {
    let now = Instant::now();
    if due > now {
        std::thread::sleep(due - now);
    }
}

/// Asks Linux to wake this thread's sleeps on time rather than up to 50 µs late (the default
/// timer slack, which lets it batch wake-ups).
fn fine_timer_slack() {
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes plain integers and only changes this thread's
    // timer slack; failure leaves the default, which is harmless.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// Where OTLP/HTTP log exports go.
#[derive(Debug, Clone)]
pub struct OtlpTarget {
    /// Full URL of the logs endpoint (`http://127.0.0.1:4318/v1/logs`).
    pub endpoint: String,
    /// Bearer key, if the target wants one.
    pub api_key: Option<String>,
}

/// A keep-alive HTTP client for the load drivers.
pub fn http_client(connections: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections.max(1) * 2)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .context("cannot build the HTTP client")
}

/// Sends one pre-encoded export request of `records` records and reads the whole answer.
pub async fn export(
    client: &reqwest::Client,
    target: &OtlpTarget,
    body: Bytes,
    records: u64,
) -> Outcome {
    let bytes = body.len() as u64;
    let mut request = client
        .post(&target.endpoint)
        .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
        .body(body);
    if let Some(key) = &target.api_key {
        request = request.bearer_auth(key);
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(format!("{e:#}")),
    };
    let status = response.status();
    let answer = match response.bytes().await {
        Ok(b) => b,
        Err(e) => return Outcome::Failed(format!("reading the answer: {e:#}")),
    };
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::SERVICE_UNAVAILABLE
    {
        return Outcome::Throttled;
    }
    if !status.is_success() {
        return Outcome::Failed(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&answer[..answer.len().min(300)])
        ));
    }
    let rejected = match ExportLogsServiceResponse::decode(answer) {
        Ok(r) => r
            .partial_success
            .map(|p| p.rejected_log_records.max(0) as u64)
            .unwrap_or(0),
        Err(e) => return Outcome::Failed(format!("undecodable ExportLogsServiceResponse: {e}")),
    };
    Outcome::Ok {
        records: records.saturating_sub(rejected),
        rejected,
        bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_plans_spread_sends_evenly_within_the_duration() {
        let plan = RatePlan::new(40.0, Duration::from_secs(15));
        assert_eq!(plan.count, 600);
        assert_eq!(plan.offset(0), Duration::ZERO);
        assert_eq!(plan.offset(1), Duration::from_millis(25));
        assert_eq!(plan.offset(400), Duration::from_secs(10));
        assert!(plan.offset(plan.count - 1) < Duration::from_secs(15));
        let offsets: Vec<Duration> = (0..plan.count).map(|i| plan.offset(i)).collect();
        assert!(offsets.windows(2).all(|w| w[1] > w[0]));
    }

    #[test]
    fn rate_plans_handle_odd_rates() {
        let slow = RatePlan::new(0.5, Duration::from_secs(3));
        assert_eq!(slow.count, 2);
        assert_eq!(slow.offset(1), Duration::from_secs(2));
        assert_eq!(RatePlan::new(0.0, Duration::from_millis(10)).count, 1);
        assert_eq!(
            RatePlan::new(f64::NAN, Duration::from_secs(2)).per_second,
            1.0
        );
        let fractional = RatePlan::new(2.5, Duration::from_secs(1));
        assert_eq!(fractional.count, 3);
        assert!(fractional.offset(2) < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn open_loop_measures_from_the_scheduled_time() {
        // A server that takes 100 ms per request and handles one at a time: with sends every
        // 50 ms, each waits longer than the last, and the open loop must see that (a closed
        // loop would report 100 ms every time).
        let busy = Arc::new(tokio::sync::Mutex::new(()));
        let plan = RatePlan::new(20.0, Duration::from_millis(200));
        let result = open_loop(plan, 100, move |_| {
            let busy = busy.clone();
            async move {
                let _one_at_a_time = busy.lock().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                Outcome::Ok {
                    records: 1,
                    rejected: 0,
                    bytes: 10,
                }
            }
        })
        .await
        .unwrap();
        let mut latencies = result.latencies;
        let s = latencies.summary().unwrap();
        assert_eq!(s.count, 4);
        // Sends due at 0, 50, 100, 150 ms finish at 100, 200, 300, 400 ms at the earliest.
        assert!(s.min_ms >= 99.0, "{s:?}");
        assert!(s.max_ms >= 249.0 && s.max_ms < 1000.0, "{s:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_loop_sends_on_time() {
        // With answers at once, the latency is the driver's own lateness: well under the
        // millisecond that a runtime timer would add.
        let plan = RatePlan::new(1000.0, Duration::from_millis(500));
        let result = open_loop(plan, 1024, |_| async {
            Outcome::Ok {
                records: 1,
                rejected: 0,
                bytes: 1,
            }
        })
        .await
        .unwrap();
        assert_eq!((result.ok, result.skipped), (500, 0));
        let mut latencies = result.latencies;
        let s = latencies.summary().unwrap();
        assert!(s.p50_ms < 0.5, "{s:?}");
        assert!(result.elapsed >= Duration::from_millis(499));
    }

    #[tokio::test]
    async fn open_loop_skips_sends_beyond_the_outstanding_bound() {
        let plan = RatePlan::new(1000.0, Duration::from_millis(50));
        let result = open_loop(plan, 2, |_| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Outcome::Failed("slow".into())
        })
        .await
        .unwrap();
        assert_eq!(result.failed, 2);
        assert_eq!(result.skipped, 48);
        assert_eq!(result.first_failure.as_deref(), Some("slow"));
    }

    #[tokio::test]
    async fn closed_loop_counts_outcomes_and_stops_at_the_deadline() {
        let result = closed_loop(2, Duration::from_millis(100), |worker, i| async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if worker == 1 && i == 0 {
                Outcome::Throttled
            } else {
                Outcome::Ok {
                    records: 5,
                    rejected: 1,
                    bytes: 100,
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(result.throttled, 1);
        assert!((2..=19).contains(&result.ok), "{}", result.ok);
        assert_eq!(result.records, result.ok * 5);
        assert_eq!(result.rejected, result.ok);
        assert_eq!(result.latencies.len() as u64, result.ok);
        assert!(result.elapsed >= Duration::from_millis(100));
        result.check("test").unwrap();
        assert!(LoadResult::default().check("empty").is_err());
    }
}
