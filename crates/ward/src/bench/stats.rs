//! Latency records and their percentiles.
//!
//! Every sample is kept (one per request, so a few hundred thousand at most) and sorted once:
//! exact percentiles, no histogram resolution to reason about.

use std::time::Duration;

use serde::Serialize;

/// Every latency of one measurement.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    samples: Vec<Duration>,
}

impl Latencies {
    /// An empty record.
    pub fn new() -> Latencies {
        Latencies::default()
    }

    /// Adds one sample.
    pub fn record(&mut self, latency: Duration) {
        self.samples.push(latency);
    }

    /// Moves every sample of `other` into this record.
    pub fn merge(&mut self, other: Latencies) {
        self.samples.extend(other.samples);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Sorts the samples and summarises them; `None` when there are none.
    pub fn summary(&mut self) -> Option<Summary> {
        self.samples.sort_unstable();
        Summary::of_sorted(&self.samples)
    }
}

/// The nearest-rank percentile `p` (0–100) of sorted samples: the smallest sample such that at
/// least `p` percent of the samples are less than or equal to it. `None` for no samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p.clamp(0.0, 100.0) / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Percentiles of a latency record, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// Smallest sample.
    pub min_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

impl Summary {
    /// Summarises samples that are already sorted; `None` when there are none.
    pub fn of_sorted(sorted: &[Duration]) -> Option<Summary> {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let total: Duration = sorted.iter().sum();
        Some(Summary {
            count: sorted.len(),
            min_ms: ms(*sorted.first()?),
            mean_ms: ms(total) / sorted.len() as f64,
            p50_ms: ms(percentile(sorted, 50.0)?),
            p90_ms: ms(percentile(sorted, 90.0)?),
            p99_ms: ms(percentile(sorted, 99.0)?),
            max_ms: ms(*sorted.last()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&sorted, 50.0), Some(ms(50)));
        assert_eq!(percentile(&sorted, 99.0), Some(ms(99)));
        assert_eq!(percentile(&sorted, 99.9), Some(ms(100)));
        assert_eq!(percentile(&sorted, 100.0), Some(ms(100)));
        assert_eq!(percentile(&sorted, 0.0), Some(ms(1)));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn small_records_take_the_upper_sample() {
        let sorted = [ms(10), ms(20), ms(30)];
        assert_eq!(percentile(&sorted, 50.0), Some(ms(20)));
        assert_eq!(percentile(&sorted, 99.0), Some(ms(30)));
        assert_eq!(percentile(&[ms(7)], 99.0), Some(ms(7)));
    }

    #[test]
    fn summary_sorts_and_merges() {
        let mut a = Latencies::new();
        for n in [5, 1, 3] {
            a.record(ms(n));
        }
        let mut b = Latencies::new();
        b.record(ms(2));
        b.record(ms(4));
        a.merge(b);
        assert_eq!(a.len(), 5);
        let s = a.summary().unwrap();
        assert_eq!(
            (s.count, s.min_ms, s.p50_ms, s.max_ms, s.mean_ms),
            (5, 1.0, 3.0, 5.0, 3.0)
        );
        assert_eq!(Latencies::new().summary(), None);
    }
}
