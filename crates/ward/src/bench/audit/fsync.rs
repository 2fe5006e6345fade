//! The physical limit of a durable append: one 256-byte `write` plus `fdatasync`
//! (`File::sync_data`) per entry, on the filesystem Ward's data directory is on.
//!
//! Each scheduled append is its own `write` and `fdatasync` on a blocking thread, so an append
//! due while another is still syncing does not queue behind it: the kernel makes the two
//! durable together, as a log that commits concurrent appends as a group would. Latency still
//! runs from each append's scheduled time.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use super::entries::{self, Entry, RECORD_BYTES};
use crate::bench::load::{self, Figures, Outcome, RatePlan};
use crate::bench::stats::{Latencies, Summary};

/// What the raw fsync measurement found.
#[derive(Debug, Serialize)]
pub struct FsyncResult {
    /// Appends scheduled per second.
    pub offered_per_s: f64,
    /// What was achieved; latency runs from each append's scheduled time to its `fdatasync`
    /// returning.
    pub figures: Figures,
    /// The `write` and `fdatasync` calls alone, from the start of the `write`: what the
    /// filesystem and device cost, without the driver's scheduling.
    pub service: Option<Summary>,
}

/// Appends record `seq` to `file` and syncs it; returns how long the two calls took.
fn append(file: &File, seq: u64, entry: &Entry) -> Result<Duration, String> {
    let record = entries::record(seq, entry);
    let started = Instant::now();
    let mut writer = file;
    writer
        .write_all(&record)
        .and_then(|()| file.sync_data())
        .map_err(|e| format!("append or fdatasync failed: {e}"))?;
    Ok(started.elapsed())
}

/// Appends at `rate` per second for `warmup` (unmeasured), then for `duration`, to a file in
/// `dir`.
pub async fn measure(
    dir: &Path,
    entries: Arc<Vec<Entry>>,
    rate: f64,
    warmup: Duration,
    duration: Duration,
    max_outstanding: usize,
) -> anyhow::Result<FsyncResult> {
    let path = dir.join("appends.log");
    let file = Arc::new(
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?,
    );
    let mut first = 0u64;
    let mut measured = None;
    for length in [warmup, duration] {
        if length.is_zero() {
            continue;
        }
        let plan = RatePlan::new(rate, length);
        let service = Arc::new(Mutex::new(Latencies::new()));
        let op = {
            let (file, entries, service) = (file.clone(), entries.clone(), service.clone());
            move |i: u64| {
                let (file, entries, service) = (file.clone(), entries.clone(), service.clone());
                let seq = first + i;
                async move {
                    let done = tokio::task::spawn_blocking(move || {
                        append(&file, seq, &entries[seq as usize % entries.len()])
                    })
                    .await;
                    match done {
                        Ok(Ok(took)) => {
                            if let Ok(mut s) = service.lock() {
                                s.record(took);
                            }
                            Outcome::Ok {
                                records: 1,
                                rejected: 0,
                                bytes: RECORD_BYTES as u64,
                            }
                        }
                        Ok(Err(e)) => Outcome::Failed(e),
                        Err(e) => Outcome::Failed(format!("the append thread failed: {e}")),
                    }
                }
            }
        };
        let result = load::open_loop(plan, max_outstanding, op).await?;
        first += plan.count;
        let service =
            std::mem::take(&mut *service.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
        measured = Some((plan, result, service));
    }
    let (plan, result, mut service) =
        measured.context("raw fsync: the duration must be positive")?;
    result.check("raw fsync")?;
    Ok(FsyncResult {
        offered_per_s: plan.per_second,
        figures: result.figures(),
        service: service.summary(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_are_synced_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let entries = Arc::new(entries::generate(1, 16));
        let result = measure(
            dir.path(),
            entries,
            200.0,
            Duration::from_millis(50),
            Duration::from_millis(200),
            1024,
        )
        .await
        .unwrap();
        assert_eq!(result.figures.records, 40);
        assert_eq!(result.figures.failed + result.figures.skipped, 0);
        assert_eq!(result.service.unwrap().count, 40);
        let log = std::fs::read(dir.path().join("appends.log")).unwrap();
        // 10 warm-up appends, then 40 measured ones, numbered on from the warm-up: every record
        // whole (appends may land in any order when they overlap).
        assert_eq!(log.len(), 50 * RECORD_BYTES);
        let mut seqs: Vec<u64> = log
            .chunks(RECORD_BYTES)
            .map(|r| {
                assert_eq!(r.last(), Some(&b'\n'));
                std::str::from_utf8(&r[..20]).unwrap().parse().unwrap()
            })
            .collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (0..50).collect::<Vec<u64>>());
    }
}
