//! Bulk loading for benchmarks and demos: a deterministic generator of realistic-looking log
//! batches and [`submit_all`], which pushes batches through [`Store::try_submit`] as fast as
//! the writer takes them (waiting, not failing, when the queue is full).
//!
//! ```no_run
//! # async fn demo(store: ward_store::Store) -> Result<(), ward_store::StoreError> {
//! use ward_store::seed::{SyntheticLogs, submit_all, synthetic_logs};
//! let now = ward_model::time::now_unix_nanos();
//! let spec = SyntheticLogs::new(ward_model::TenantId::default_tenant(), 5_000_000, now - 3_600_000_000_000, now);
//! let written = submit_all(&store, synthetic_logs(&spec), 8).await?;
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use ward_model::{Attributes, Batch, LogRecord, Resource, Scope, SpanId, TenantId, TraceId};

use crate::{Store, StoreError};

/// What [`synthetic_logs`] generates.
#[derive(Debug, Clone)]
pub struct SyntheticLogs {
    /// Tenant of every batch.
    pub tenant: TenantId,
    /// Total records.
    pub count: usize,
    /// Records per batch (default 10,000).
    pub batch_size: usize,
    /// Time of the first record, Unix nanoseconds.
    pub from_unix_nano: i64,
    /// Records are spread evenly (in order) over `[from, to)`.
    pub to_unix_nano: i64,
    /// Number of services `svc-00`, `svc-01`, … (default 10).
    pub services: usize,
    /// Seed of the generator; equal specs generate equal records.
    pub seed: u64,
}

impl SyntheticLogs {
    /// `count` records over `[from, to)` with the defaults above.
    pub fn new(tenant: TenantId, count: usize, from_unix_nano: i64, to_unix_nano: i64) -> Self {
        SyntheticLogs {
            tenant,
            count,
            batch_size: 10_000,
            from_unix_nano,
            to_unix_nano,
            services: 10,
            seed: 42,
        }
    }
}

/// Word pool of the message bodies: a few common words and a long tail, so full-text searches
/// have both frequent and rare terms. `rare0000`…`rare4999` each occur in about 1 of 5,000
/// records.
const MESSAGES: &[&str] = &[
    "request completed",
    "request failed with upstream connection timeout",
    "cache miss for key",
    "user logged in",
    "payment declined by issuer",
    "retrying call to model provider",
    "tool call finished",
    "agent step started",
    "rate limit exceeded for tenant",
    "database query slow",
];

/// Severity numbers drawn with weights: mostly info, some debug and warn, few error and fatal.
const SEVERITIES: &[(u8, u32)] = &[(5, 150), (9, 690), (13, 100), (17, 50), (21, 10)];

/// A small deterministic PRNG (SplitMix64); statistical quality is irrelevant here.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// Generates `spec.count` log records in batches of `spec.batch_size`, in time order.
pub fn synthetic_logs(spec: &SyntheticLogs) -> impl Iterator<Item = Batch> + Send + 'static {
    let spec = spec.clone();
    let mut rng = Rng(spec.seed);
    let services = spec.services.max(1);
    let resources: Vec<Resource> = (0..services)
        .map(|i| {
            let mut attributes = Attributes::new();
            attributes.insert("service.version".into(), Value::from("1.4.2"));
            attributes.insert("host.name".into(), Value::from(format!("host-{}", i % 3)));
            Resource {
                service_name: format!("svc-{i:02}"),
                attributes,
            }
        })
        .collect();
    let scope = Scope {
        name: "ward.seed".into(),
        version: "1".into(),
    };
    let batch_size = spec.batch_size.max(1);
    let span = spec.to_unix_nano.saturating_sub(spec.from_unix_nano).max(1) as i128;
    let count = spec.count;
    let mut next = 0usize;
    std::iter::from_fn(move || {
        if next >= count {
            return None;
        }
        let end = (next + batch_size).min(count);
        let mut batch = Batch::new(spec.tenant.clone());
        batch.logs.reserve(end - next);
        for i in next..end {
            let time = spec.from_unix_nano + (span * i as i128 / count.max(1) as i128) as i64;
            let resource = resources[rng.below(services as u64) as usize].clone();
            let mut pick = rng.below(1000) as u32;
            let severity_number = SEVERITIES
                .iter()
                .find(|(_, w)| {
                    let hit = pick < *w;
                    pick = pick.saturating_sub(*w);
                    hit
                })
                .map_or(9, |(n, _)| *n);
            let message = MESSAGES[rng.below(MESSAGES.len() as u64) as usize];
            let body = format!(
                "{message} id={} took {}ms rare{:04}",
                rng.below(1_000_000),
                rng.below(5_000),
                rng.below(5_000)
            );
            let mut attributes = Attributes::new();
            attributes.insert(
                "user.id".into(),
                Value::from(format!("u-{}", rng.below(10_000))),
            );
            attributes.insert(
                "http.status_code".into(),
                Value::from([200, 200, 200, 404, 500][rng.below(5) as usize]),
            );
            let traced = rng.below(2) == 0;
            let trace_id = if traced {
                TraceId::from_bytes(&(rng.next() as u128 | 1 << 100).to_be_bytes())
            } else {
                None
            };
            let span_id = if traced {
                SpanId::from_bytes(&(rng.next() | 1).to_be_bytes())
            } else {
                None
            };
            batch.logs.push(LogRecord {
                time_unix_nano: time,
                observed_time_unix_nano: time,
                severity_number,
                severity_text: String::new(),
                body,
                attributes,
                resource,
                scope: scope.clone(),
                trace_id,
                span_id,
            });
        }
        next = end;
        Some(batch)
    })
}

/// Submits every batch, keeping at most `max_in_flight` unacknowledged; when the store is
/// overloaded it waits for the oldest acknowledgement instead of failing. Returns the number
/// of records written. Stops at the first failed commit.
pub async fn submit_all<I>(
    store: &Store,
    batches: I,
    max_in_flight: usize,
) -> Result<usize, StoreError>
where
    I: IntoIterator<Item = Batch>,
{
    let mut in_flight = VecDeque::new();
    let mut total = 0usize;
    for batch in batches {
        let batch = Arc::new(batch);
        total += batch.len();
        loop {
            match store.try_submit(Arc::clone(&batch)) {
                Ok(ack) => {
                    in_flight.push_back(ack);
                    break;
                }
                Err(StoreError::Overloaded { .. }) => match in_flight.pop_front() {
                    Some(ack) => ack.await?,
                    None => tokio::time::sleep(Duration::from_millis(1)).await,
                },
                Err(e) => return Err(e),
            }
        }
        while in_flight.len() > max_in_flight.max(1) {
            if let Some(ack) = in_flight.pop_front() {
                ack.await?;
            }
        }
    }
    for ack in in_flight {
        ack.await?;
    }
    Ok(total)
}
