//! Durable audit appends in-process, without HTTP: the floor `ward bench audit` measures Ward
//! against. (a) one entry per append, one after the other (each waits for its fsync); (b)
//! batches of 100 from 4 concurrent tasks (group commit). Every entry has an `on_behalf_of`
//! (sealed) among 1,000 users.
//! `cargo bench -p ward-store --bench audit_append`

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use ward_audit::{Outcome, TenantId};
use ward_store::audit::{AuditConfig, AuditDraft, AuditStore};

fn draft(i: u64) -> AuditDraft {
    let mut details = Map::new();
    details.insert("tool".into(), Value::from("crm.lookup"));
    details.insert("rows".into(), Value::from(i % 97));
    AuditDraft {
        system: false,
        agent: "support-bot".into(),
        on_behalf_of: Some(format!("user-{}", i % 1000)),
        action: "tool.call".into(),
        resource: format!("crm/customer/{i}"),
        outcome: Outcome::Success,
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        details,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir =
        tempfile::tempdir_in(std::env::var("WARD_BENCH_DIR").unwrap_or_else(|_| "/tmp".into()))
            .expect("temp dir");
    rt.block_on(async {
        let store = AuditStore::open(AuditConfig::new(dir.path())).expect("open");
        let tenant = TenantId::new("bench").expect("tenant");
        let none: Arc<[String]> = Arc::from(Vec::new());

        // (a) sequential single appends: latency of one durable append.
        let mut lat = Vec::new();
        let end = Instant::now() + Duration::from_secs(5);
        let mut i = 0u64;
        while Instant::now() < end {
            let t = Instant::now();
            store
                .append(tenant.clone(), vec![draft(i)], none.clone())
                .expect("queued")
                .await
                .expect("appended");
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            i += 1;
        }
        lat.sort_by(f64::total_cmp);
        println!(
            "single appends, sequential: {} in 5 s; latency ms p50 {:.3} p90 {:.3} p99 {:.3} max {:.3}",
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.9),
            percentile(&lat, 0.99),
            lat[lat.len() - 1]
        );

        // (b) batches of 100 from 4 tasks.
        let start = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..4u64 {
            let store = store.clone();
            let tenant = tenant.clone();
            let none = none.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while start.elapsed() < Duration::from_secs(5) {
                    let batch = (0..100).map(|k| draft(t * 1_000_000 + n + k)).collect();
                    store
                        .append(tenant.clone(), batch, none.clone())
                        .expect("queued")
                        .await
                        .expect("appended");
                    n += 100;
                }
                n
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.expect("task");
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "batches of 100 on 4 tasks: {total} entries in {secs:.1} s = {:.0} entries/s",
            total as f64 / secs
        );
        store.shutdown().await.expect("shutdown");
    });
}
