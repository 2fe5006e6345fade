//! Behaviour tests of the whole store (writer, partitions, queries, keys).

mod conformance;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use ward_model::filter::Filter;
use ward_model::{
    Attributes, MetricKind, MetricPoint, MetricValue, Resource, Scope, SpanKind, SpanStatus,
    StatusCode, Temporality,
};

use super::*;
use crate::schema::NANOS_PER_DAY;

/// 2026-01-01T00:00:00Z.
pub(crate) const T0: i64 = 1_767_225_600 * 1_000_000_000;
pub(crate) const SEC: i64 = 1_000_000_000;

pub(crate) fn config(dir: &Path) -> StoreConfig {
    StoreConfig {
        data_dir: dir.to_path_buf(),
        read_connections: 2,
        ..StoreConfig::default()
    }
}

pub(crate) fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

pub(crate) fn log(time: i64, service: &str, severity_number: u8, body: &str) -> LogRecord {
    LogRecord {
        time_unix_nano: time,
        observed_time_unix_nano: time + 1,
        severity_number,
        severity_text: String::new(),
        body: body.into(),
        attributes: Attributes::new(),
        resource: Resource {
            service_name: service.into(),
            attributes: Attributes::new(),
        },
        scope: Scope::default(),
        trace_id: None,
        span_id: None,
    }
}

pub(crate) fn trace_id(n: u64) -> TraceId {
    TraceId::from_bytes(&(u128::from(n) | 1 << 120).to_be_bytes()).unwrap()
}

pub(crate) fn span_id(n: u64) -> ward_model::SpanId {
    ward_model::SpanId::from_bytes(&(n | 1 << 60).to_be_bytes()).unwrap()
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn span(
    trace: u64,
    id: u64,
    parent: Option<u64>,
    name: &str,
    service: &str,
    start: i64,
    end: i64,
    code: StatusCode,
) -> Span {
    Span {
        trace_id: trace_id(trace),
        span_id: span_id(id),
        parent_span_id: parent.map(span_id),
        trace_state: String::new(),
        name: name.into(),
        kind: SpanKind::Server,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        status: SpanStatus {
            code,
            message: String::new(),
        },
        attributes: Attributes::new(),
        events: Vec::new(),
        links: Vec::new(),
        resource: Resource {
            service_name: service.into(),
            attributes: Attributes::new(),
        },
        scope: Scope::default(),
    }
}

pub(crate) fn logs_batch(tenant_name: &str, logs: Vec<LogRecord>) -> Batch {
    Batch {
        tenant: tenant(tenant_name),
        logs,
        spans: Vec::new(),
        metrics: Vec::new(),
    }
}

pub(crate) async fn write(store: &Store, batch: Batch) {
    store.try_submit(Arc::new(batch)).unwrap().await.unwrap();
}

/// Every log of the window, following cursors.
pub(crate) async fn all_logs(
    store: &Store,
    tenant_name: &str,
    filter: &str,
    from: i64,
    to: i64,
    page: usize,
) -> Vec<LogRecord> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let result = store
            .query_logs(LogQuery {
                tenant: tenant(tenant_name),
                filter: Filter::parse(filter).unwrap(),
                from_unix_nano: from,
                to_unix_nano: to,
                limit: page,
                cursor,
            })
            .await
            .unwrap();
        assert!(result.items.len() <= page);
        out.extend(result.items);
        match result.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

/// Every trace summary of the window, following cursors.
pub(crate) async fn all_traces(
    store: &Store,
    tenant_name: &str,
    filter: &str,
    from: i64,
    to: i64,
    page: usize,
) -> Vec<TraceSummary> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let result = store
            .search_traces(TraceQuery {
                tenant: tenant(tenant_name),
                filter: Filter::parse(filter).unwrap(),
                from_unix_nano: from,
                to_unix_nano: to,
                limit: page,
                cursor,
            })
            .await
            .unwrap();
        assert!(result.items.len() <= page);
        out.extend(result.items);
        match result.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

fn count_rows(store: &Store, sql: &str) -> i64 {
    store
        .with_admin(|c| c.query_row(sql, [], |r| r.get(0)))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_shares_transactions_between_submitters() {
    let dir = tempfile::tempdir().unwrap();
    let max_jobs = Arc::new(AtomicUsize::new(0));
    let commits = Arc::new(AtomicUsize::new(0));
    let (mj, cm) = (Arc::clone(&max_jobs), Arc::clone(&commits));
    let store = Store::open(StoreConfig {
        on_commit: Some(Arc::new(move |s: CommitStats| {
            assert!(s.ok);
            mj.fetch_max(s.jobs, Ordering::SeqCst);
            cm.fetch_add(1, Ordering::SeqCst);
        })),
        ..config(dir.path())
    })
    .unwrap();
    let mut tasks = Vec::new();
    for task in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            for b in 0..25 {
                let logs = (0..20)
                    .map(|i| log(T0 + (task * 1000 + b * 20 + i) * SEC, "svc", 9, "hello"))
                    .collect();
                acks.push(
                    store
                        .try_submit(Arc::new(logs_batch("default", logs)))
                        .unwrap(),
                );
            }
            for ack in acks {
                ack.await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(
        max_jobs.load(Ordering::SeqCst) > 1,
        "no commit carried more than one batch"
    );
    assert!(
        commits.load(Ordering::SeqCst) < 16 * 25,
        "every batch had its own commit"
    );
    assert_eq!(
        all_logs(&store, "default", "", T0, T0 + NANOS_PER_DAY, 1000)
            .await
            .len(),
        16 * 25 * 20
    );
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn overload_refuses_at_once_and_loses_nothing_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig {
        max_queue_records: 100,
        ..config(dir.path())
    })
    .unwrap();
    let mut accepted = Vec::new();
    let mut refused = 0;
    for b in 0..200i64 {
        let logs = (0..30)
            .map(|i| log(T0 + (b * 30 + i) * SEC, "svc", 9, &format!("b{b} r{i}")))
            .collect();
        match store.try_submit(Arc::new(logs_batch("default", logs))) {
            Ok(ack) => accepted.push((b, ack)),
            Err(StoreError::Overloaded { queued, limit }) => {
                assert_eq!(limit, 100);
                assert!(queued + 30 > 100);
                refused += 1;
            }
            Err(e) => panic!("{e}"),
        }
        assert!(store.queue_depth() <= 100);
    }
    assert!(
        refused > 0,
        "a 100-record queue took 6000 records without refusing"
    );
    let accepted_batches: Vec<i64> = accepted.iter().map(|(b, _)| *b).collect();
    for (_, ack) in accepted {
        ack.await.unwrap();
    }
    let stored = all_logs(&store, "default", "", T0, T0 + NANOS_PER_DAY, 1000).await;
    assert_eq!(stored.len(), accepted_batches.len() * 30);
    for b in accepted_batches {
        assert_eq!(
            stored
                .iter()
                .filter(|r| r.body.starts_with(&format!("b{b} ")))
                .count(),
            30
        );
    }
    // A batch larger than the whole queue still gets in when the queue is empty.
    assert_eq!(store.queue_depth(), 0);
    let big = (0..150).map(|i| log(T0 + i, "svc", 9, "big")).collect();
    store
        .try_submit(Arc::new(logs_batch("default", big)))
        .unwrap()
        .await
        .unwrap();
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn acknowledged_batches_survive_drop_without_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(config(dir.path())).unwrap();
        write(
            &store,
            logs_batch("default", vec![log(T0 + SEC, "svc", 9, "durable record")]),
        )
        .await;
        drop(store);
    }
    let store = Store::open(config(dir.path())).unwrap();
    let logs = all_logs(&store, "default", "durable", T0, T0 + NANOS_PER_DAY, 10).await;
    assert_eq!(logs, vec![log(T0 + SEC, "svc", 9, "durable record")]);
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_commits_everything_queued() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    let acks: Vec<_> = (0..50i64)
        .map(|b| {
            let logs = (0..100)
                .map(|i| log(T0 + (b * 100 + i) * SEC, "svc", 9, "queued"))
                .collect();
            store
                .try_submit(Arc::new(logs_batch("default", logs)))
                .unwrap()
        })
        .collect();
    store.shutdown().await.unwrap();
    assert!(matches!(
        store.try_submit(Arc::new(logs_batch(
            "default",
            vec![log(T0, "svc", 9, "late")]
        ))),
        Err(StoreError::ShuttingDown)
    ));
    for ack in acks {
        ack.await.unwrap();
    }
    assert_eq!(store.queue_depth(), 0);
    store.shutdown().await.unwrap();
    drop(store);
    let store = Store::open(config(dir.path())).unwrap();
    assert_eq!(
        all_logs(&store, "default", "queued", T0, T0 + NANOS_PER_DAY, 1000)
            .await
            .len(),
        5000
    );
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn partitions_are_created_per_day_and_catalogued() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    let mut batch = logs_batch(
        "default",
        vec![
            log(T0 + 5, "svc", 9, "day one"),
            log(T0 + NANOS_PER_DAY + 5, "svc", 9, "day two"),
            log(
                T0 + 2 * NANOS_PER_DAY - 1,
                "svc",
                9,
                "day two, last nanosecond",
            ),
            log(T0 - 1, "svc", 9, "the day before"),
        ],
    );
    batch.spans.push(span(
        1,
        1,
        None,
        "op",
        "svc",
        T0 + NANOS_PER_DAY,
        T0 + NANOS_PER_DAY + 10,
        StatusCode::Ok,
    ));
    batch.metrics.push(MetricPoint {
        name: "requests".into(),
        description: String::new(),
        unit: String::new(),
        kind: MetricKind::Sum,
        temporality: Temporality::Cumulative,
        monotonic: true,
        start_time_unix_nano: 0,
        time_unix_nano: T0 + 7,
        attributes: Attributes::new(),
        value: MetricValue::Number { value: 3.0 },
        resource: Resource {
            service_name: "svc".into(),
            attributes: Attributes::new(),
        },
        scope: Scope::default(),
    });
    write(&store, batch).await;
    let catalog: Vec<(String, i64, i64)> = store.with_admin(|c| {
        let mut s = c
            .prepare("SELECT kind, day, template_version FROM partitions ORDER BY kind, day")
            .unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    });
    let v = schema::PARTITION_TEMPLATE_VERSION;
    assert_eq!(
        catalog,
        vec![
            ("logs".into(), 20251231, v),
            ("logs".into(), 20260101, v),
            ("logs".into(), 20260102, v),
            ("metrics".into(), 20260101, v),
            ("spans".into(), 20260102, v),
        ]
    );
    for table in [
        "logs_20260101",
        "logs_20251231",
        "spans_20260102",
        "metrics_20260101",
    ] {
        assert_eq!(
            count_rows(
                &store,
                &format!("SELECT COUNT(*) FROM sqlite_master WHERE name = '{table}'")
            ),
            1
        );
    }
    assert_eq!(count_rows(&store, "SELECT COUNT(*) FROM logs_20260102"), 2);
    assert_eq!(
        count_rows(&store, "SELECT COUNT(*) FROM metrics_20260101"),
        1
    );
    let services = store
        .services(&tenant("default"), T0, T0 + NANOS_PER_DAY)
        .await
        .unwrap();
    assert_eq!(
        services,
        vec![ServiceSummary {
            name: "svc".into(),
            log_count: 1,
            span_count: 0,
            metric_count: 1,
            first_seen_unix_nano: T0 + 5,
            last_seen_unix_nano: T0 + 7,
        }]
    );
    let services = store
        .services(&tenant("default"), T0 - 1, T0 + 2 * NANOS_PER_DAY)
        .await
        .unwrap();
    assert_eq!(
        (
            services[0].log_count,
            services[0].span_count,
            services[0].metric_count
        ),
        (4, 1, 1)
    );
    assert!(
        store
            .services(&tenant("other"), T0, T0 + NANOS_PER_DAY)
            .await
            .unwrap()
            .is_empty()
    );
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn migrations_are_idempotent_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..3 {
        let store = Store::open(config(dir.path())).unwrap();
        write(&store, logs_batch("default", vec![log(T0, "svc", 9, "x")])).await;
        assert_eq!(
            store.with_admin(schema::applied_versions).unwrap(),
            vec![1, 2, 3]
        );
        store.shutdown().await.unwrap();
    }
    let store = Store::open(config(dir.path())).unwrap();
    assert_eq!(
        all_logs(&store, "default", "", T0, T0 + 1, 10).await.len(),
        3
    );
    // A database from a newer Ward is refused rather than misread.
    store
        .with_admin(|c| c.execute("INSERT INTO schema_migrations VALUES (999, 0)", []))
        .unwrap();
    store.shutdown().await.unwrap();
    drop(store);
    assert!(matches!(
        Store::open(config(dir.path())),
        Err(StoreError::Migration(_))
    ));
}

#[tokio::test]
async fn pagination_is_stable_across_partitions_while_inserting() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    let mut originals = Vec::new();
    for i in 0..120i64 {
        // Three days, several rows per timestamp, inserted out of order.
        let time = T0 + (i % 3) * NANOS_PER_DAY + (i * 7919 % 40) * SEC;
        originals.push(log(time, "svc", 9, &format!("original {i}")));
    }
    write(&store, logs_batch("default", originals.clone())).await;
    let (from, to) = (T0, T0 + 3 * NANOS_PER_DAY);
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut extra = 0i64;
    loop {
        let page = store
            .query_logs(LogQuery {
                tenant: tenant("default"),
                filter: Filter::default(),
                from_unix_nano: from,
                to_unix_nano: to,
                limit: 7,
                cursor: cursor.take(),
            })
            .await
            .unwrap();
        seen.extend(page.items);
        // New data keeps arriving: newer rows, and late rows anywhere in the window.
        let news = (0..5)
            .map(|k| {
                extra += 1;
                let time = if k % 2 == 0 {
                    to - 1 - extra
                } else {
                    T0 + (extra % 3) * NANOS_PER_DAY + (extra % 40) * SEC
                };
                log(time, "svc", 9, &format!("new {extra}"))
            })
            .collect();
        write(&store, logs_batch("default", news)).await;
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    for pair in seen.windows(2) {
        assert!(
            pair[0].time_unix_nano >= pair[1].time_unix_nano,
            "not newest-first"
        );
    }
    let bodies: Vec<&str> = seen.iter().map(|r| r.body.as_str()).collect();
    let unique: HashSet<&str> = bodies.iter().copied().collect();
    assert_eq!(unique.len(), bodies.len(), "duplicates across pages");
    for o in &originals {
        assert!(unique.contains(o.body.as_str()), "{} missing", o.body);
    }
    // Ties: same time, later insertion first.
    let expected: Vec<&str> = {
        let mut v: Vec<(i64, usize, &str)> = originals
            .iter()
            .enumerate()
            .map(|(i, r)| (r.time_unix_nano, i, r.body.as_str()))
            .collect();
        v.sort_by_key(|e| std::cmp::Reverse((e.0, e.1)));
        v.into_iter().map(|(_, _, b)| b).collect()
    };
    let got: Vec<&str> = bodies
        .iter()
        .copied()
        .filter(|b| b.starts_with("original"))
        .collect();
    assert_eq!(got, expected);
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn invalid_cursors_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    write(
        &store,
        logs_batch(
            "default",
            (0..3).map(|i| log(T0 + i, "svc", 9, "x")).collect(),
        ),
    )
    .await;
    let query = |cursor: &str| LogQuery {
        tenant: tenant("default"),
        filter: Filter::default(),
        from_unix_nano: T0,
        to_unix_nano: T0 + SEC,
        limit: 1,
        cursor: Some(cursor.to_owned()),
    };
    for bad in ["garbage!", "", "AAAAAAAAAAAAAAAAAAA"] {
        assert!(
            matches!(
                store.query_logs(query(bad)).await,
                Err(StoreError::InvalidCursor)
            ),
            "{bad}"
        );
    }
    let page = store
        .query_logs(LogQuery {
            cursor: None,
            ..query("")
        })
        .await
        .unwrap();
    let cursor = page.next_cursor.unwrap();
    assert_eq!(
        store.query_logs(query(&cursor)).await.unwrap().items.len(),
        1
    );
    let as_trace_cursor = TraceQuery {
        tenant: tenant("default"),
        filter: Filter::default(),
        from_unix_nano: T0,
        to_unix_nano: T0 + SEC,
        limit: 1,
        cursor: Some(cursor),
    };
    assert!(matches!(
        store.search_traces(as_trace_cursor).await,
        Err(StoreError::InvalidCursor)
    ));
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_trace_spanning_midnight_is_retrieved_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    let midnight = T0 + NANOS_PER_DAY;
    let mut batch = logs_batch("default", Vec::new());
    batch.spans = vec![
        span(
            7,
            1,
            None,
            "agent.run",
            "planner",
            midnight - 100 * 1_000_000,
            midnight + 900 * 1_000_000,
            StatusCode::Ok,
        ),
        span(
            7,
            2,
            Some(1),
            "llm.call",
            "llm",
            midnight + 200 * 1_000_000,
            midnight + 700 * 1_000_000,
            StatusCode::Error,
        ),
        span(
            7,
            3,
            Some(1),
            "tool.search",
            "tools",
            midnight - 50 * 1_000_000,
            midnight - 10 * 1_000_000,
            StatusCode::Unset,
        ),
        span(
            8,
            1,
            None,
            "other",
            "planner",
            midnight + SEC,
            midnight + 2 * SEC,
            StatusCode::Ok,
        ),
    ];
    write(&store, batch.clone()).await;
    let trace = store
        .get_trace(&tenant("default"), trace_id(7))
        .await
        .unwrap();
    assert_eq!(
        trace,
        vec![
            batch.spans[0].clone(),
            batch.spans[2].clone(),
            batch.spans[1].clone()
        ]
    );
    assert!(
        store
            .get_trace(&tenant("default"), trace_id(99))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .get_trace(&tenant("nobody"), trace_id(7))
            .await
            .unwrap()
            .is_empty()
    );
    // Found through a span of the second day, summarised over both days.
    let found = all_traces(
        &store,
        "default",
        "status:error",
        midnight,
        midnight + NANOS_PER_DAY,
        10,
    )
    .await;
    assert_eq!(
        found,
        vec![TraceSummary {
            trace_id: trace_id(7),
            root_service: Some("planner".into()),
            root_name: Some("agent.run".into()),
            start_time_unix_nano: midnight - 100 * 1_000_000,
            duration_nanos: 1000 * 1_000_000,
            span_count: 3,
            error_count: 1,
            services: vec!["llm".into(), "planner".into(), "tools".into()],
        }]
    );
    let found = all_traces(&store, "default", "", T0, midnight + NANOS_PER_DAY, 1).await;
    assert_eq!(
        found.iter().map(|t| t.trace_id).collect::<Vec<_>>(),
        vec![trace_id(8), trace_id(7)]
    );
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn trace_pages_list_each_trace_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    let mut batch = logs_batch("default", Vec::new());
    // 30 traces whose spans interleave in time: every trace has matches on several pages.
    for s in 0..300u64 {
        let trace = s % 30;
        let start = T0 + (s as i64) * SEC + (trace as i64 % 3) * NANOS_PER_DAY;
        batch.spans.push(span(
            trace,
            s + 1,
            (s >= 30).then_some(trace + 1),
            "op",
            "svc",
            start,
            start + 5,
            StatusCode::Ok,
        ));
    }
    write(&store, batch.clone()).await;
    let found = all_traces(&store, "default", "name:op", T0, T0 + 3 * NANOS_PER_DAY, 4).await;
    let ids: Vec<TraceId> = found.iter().map(|t| t.trace_id).collect();
    // Expected: by newest matching span.
    let mut newest: Vec<(i64, TraceId)> = (0..30u64)
        .map(|t| {
            let max = batch
                .spans
                .iter()
                .filter(|s| s.trace_id == trace_id(t))
                .map(|s| s.start_time_unix_nano)
                .max()
                .unwrap();
            (max, trace_id(t))
        })
        .collect();
    newest.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, newest.into_iter().map(|(_, t)| t).collect::<Vec<_>>());
    assert!(found.iter().all(|t| t.span_count == 10));
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn keys_crud() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    assert_eq!(store.keys().count_keys().unwrap(), 0);
    let key = KeyRecord {
        id: "k1".into(),
        tenant: tenant("team-a"),
        name: "ingest key".into(),
        scopes: vec!["ingest".into(), "query".into()],
        secret_hash: [7; 32],
        created_at_unix_nano: 5,
        revoked: false,
        expires_at_unix_nano: None,
        replaced_by: None,
        last_used_unix_nano: None,
        use_count: 0,
    };
    store.keys().insert_key(&key).unwrap();
    let other = KeyRecord {
        id: "k2".into(),
        tenant: tenant("default"),
        created_at_unix_nano: 6,
        ..key.clone()
    };
    store.keys().insert_key(&other).unwrap();
    assert!(
        store.keys().insert_key(&key).is_err(),
        "duplicate id accepted"
    );
    assert_eq!(store.keys().get_key("k1").unwrap(), Some(key.clone()));
    assert_eq!(store.keys().get_key("nope").unwrap(), None);
    assert_eq!(
        store.keys().list_keys(None).unwrap(),
        vec![key.clone(), other.clone()]
    );
    assert_eq!(
        store.keys().list_keys(Some(&tenant("team-a"))).unwrap(),
        vec![key.clone()]
    );
    assert_eq!(
        store.keys().list_keys(Some(&tenant("ghost"))).unwrap(),
        vec![]
    );
    assert_eq!(
        store.keys().list_tenants().unwrap(),
        vec![tenant("default"), tenant("team-a")]
    );
    assert!(store.keys().revoke_key("k1").unwrap());
    assert!(!store.keys().revoke_key("k1").unwrap());
    assert!(!store.keys().revoke_key("nope").unwrap());
    assert!(store.keys().get_key("k1").unwrap().unwrap().revoked);
    assert_eq!(store.keys().count_keys().unwrap(), 2);
    store.keys().ensure_tenant(&tenant("team-b")).unwrap();
    store.keys().ensure_tenant(&tenant("team-b")).unwrap();
    assert_eq!(store.keys().list_tenants().unwrap().len(), 3);
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn keys_rotate_once_and_count_their_uses() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    let old = KeyRecord {
        id: "old".into(),
        tenant: tenant("team-a"),
        name: "agent".into(),
        scopes: vec!["ingest".into()],
        secret_hash: [1; 32],
        created_at_unix_nano: 1,
        revoked: false,
        expires_at_unix_nano: Some(i64::MAX - 1),
        replaced_by: None,
        last_used_unix_nano: None,
        use_count: 0,
    };
    store.keys().insert_key(&old).unwrap();
    let new = KeyRecord {
        id: "new".into(),
        secret_hash: [2; 32],
        ..old.clone()
    };
    let grace_end = ward_model::time::now_unix_nanos() + 60_000_000_000;
    assert_eq!(
        store.keys().rotate_key("old", &new, grace_end).unwrap(),
        Rotation::Rotated {
            old_expires_at_unix_nano: grace_end
        }
    );
    let stored = store.keys().get_key("old").unwrap().unwrap();
    assert_eq!(stored.replaced_by.as_deref(), Some("new"));
    assert_eq!(stored.expires_at_unix_nano, Some(grace_end));
    assert!(stored.is_active(grace_end - 1) && !stored.is_active(grace_end));
    // A rotated key is not rotated again; an unknown one is reported as such.
    let third = KeyRecord {
        id: "third".into(),
        ..new.clone()
    };
    assert_eq!(
        store.keys().rotate_key("old", &third, grace_end).unwrap(),
        Rotation::NotRotatable {
            replaced_by: Some("new".into())
        }
    );
    assert_eq!(
        store.keys().rotate_key("ghost", &third, grace_end).unwrap(),
        Rotation::NotFound
    );
    assert_eq!(store.keys().get_key("third").unwrap(), None);

    let usage = |count, at| KeyUsage {
        id: "new".into(),
        count,
        last_used_unix_nano: at,
    };
    store.keys().record_key_usage(&[usage(3, 50)]).unwrap();
    store.keys().record_key_usage(&[usage(2, 40)]).unwrap();
    let used = store.keys().get_key("new").unwrap().unwrap();
    assert_eq!((used.use_count, used.last_used_unix_nano), (5, Some(50)));
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn tenants_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    for t in ["alpha", "beta"] {
        let mut batch = logs_batch(
            t,
            vec![log(T0 + SEC, "shared-svc", 17, &format!("secret of {t}"))],
        );
        batch.spans.push(span(
            1,
            1,
            None,
            &format!("op-{t}"),
            "shared-svc",
            T0,
            T0 + 10,
            StatusCode::Error,
        ));
        write(&store, batch).await;
    }
    for t in ["alpha", "beta"] {
        let logs = all_logs(&store, t, "secret", T0, T0 + NANOS_PER_DAY, 10).await;
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].body, format!("secret of {t}"));
        let trace = store.get_trace(&tenant(t), trace_id(1)).await.unwrap();
        assert_eq!(trace.len(), 1);
        assert_eq!(trace[0].name, format!("op-{t}"));
        let traces = all_traces(&store, t, "status:error", T0, T0 + NANOS_PER_DAY, 10).await;
        assert_eq!(traces.len(), 1);
        assert_eq!(traces[0].span_count, 1);
        let services = store
            .services(&tenant(t), T0, T0 + NANOS_PER_DAY)
            .await
            .unwrap();
        assert_eq!((services[0].log_count, services[0].span_count), (1, 1));
    }
    assert!(
        all_logs(&store, "gamma", "", T0, T0 + NANOS_PER_DAY, 10)
            .await
            .is_empty()
    );
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn rows_sharing_one_nanosecond_beyond_the_key_space_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    let t = T0 + 10 * SEC;
    let n = 70_000usize;
    // Neighbours first, so the spill lands in occupied key ranges.
    write(
        &store,
        logs_batch(
            "default",
            vec![
                log(t + 1, "svc", 9, "after"),
                log(t - 1, "svc", 9, "before"),
            ],
        ),
    )
    .await;
    write(
        &store,
        logs_batch(
            "default",
            (0..n)
                .map(|i| log(t, "svc", 9, &format!("same {i}")))
                .collect(),
        ),
    )
    .await;
    write(
        &store,
        logs_batch(
            "default",
            vec![
                log(t, "svc", 9, "same late"),
                log(t + 1, "svc", 9, "after late"),
            ],
        ),
    )
    .await;
    let same = all_logs(&store, "default", "", t, t + 1, 1000).await;
    assert_eq!(same.len(), n + 1);
    assert!(same.iter().all(|r| r.time_unix_nano == t));
    let bodies: HashSet<&str> = same.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(bodies.len(), n + 1);
    assert_eq!(
        all_logs(&store, "default", "after", t + 1, t + 2, 10)
            .await
            .len(),
        2
    );
    assert_eq!(all_logs(&store, "default", "", t - 1, t, 10).await.len(), 1);
    assert_eq!(
        all_logs(&store, "default", "same", T0, T0 + NANOS_PER_DAY, 1000)
            .await
            .len(),
        n + 1
    );
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_failed_commit_fails_its_group_and_the_store_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let failures = Arc::new(AtomicUsize::new(0));
    let f = Arc::clone(&failures);
    let store = Store::open(StoreConfig {
        on_commit: Some(Arc::new(move |s: CommitStats| {
            if !s.ok {
                f.fetch_add(1, Ordering::SeqCst);
            }
        })),
        ..config(dir.path())
    })
    .unwrap();
    store.check_writable().unwrap();
    write(
        &store,
        logs_batch("default", vec![log(T0, "svc", 9, "fine")]),
    )
    .await;
    // Sabotage: a table squatting on tomorrow's partition name makes its creation fail.
    store
        .with_admin(|c| c.execute_batch("CREATE TABLE logs_20260102 (x)"))
        .unwrap();
    let result = store
        .try_submit(Arc::new(logs_batch(
            "default",
            vec![log(T0 + NANOS_PER_DAY, "svc", 9, "doomed")],
        )))
        .unwrap()
        .await;
    assert!(
        matches!(result, Err(StoreError::WriteFailed(_))),
        "{result:?}"
    );
    assert_eq!(failures.load(Ordering::SeqCst), 1);
    assert!(store.check_writable().is_err());
    store
        .with_admin(|c| c.execute_batch("DROP TABLE logs_20260102"))
        .unwrap();
    write(
        &store,
        logs_batch(
            "default",
            vec![
                log(T0 + NANOS_PER_DAY, "svc", 9, "retried"),
                log(T0 + 1, "svc", 9, "today"),
            ],
        ),
    )
    .await;
    store.check_writable().unwrap();
    let all = all_logs(&store, "default", "", T0, T0 + 2 * NANOS_PER_DAY, 10).await;
    assert_eq!(
        all.iter().map(|r| r.body.as_str()).collect::<Vec<_>>(),
        vec!["retried", "today", "fine"]
    );
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn empty_windows_and_limits_are_handled() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    write(
        &store,
        logs_batch(
            "default",
            (0..5).map(|i| log(T0 + i, "svc", 9, "x")).collect(),
        ),
    )
    .await;
    let q = |from, to, limit| LogQuery {
        tenant: tenant("default"),
        filter: Filter::default(),
        from_unix_nano: from,
        to_unix_nano: to,
        limit,
        cursor: None,
    };
    assert!(
        store
            .query_logs(q(T0 + 5, T0, 10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        store
            .query_logs(q(i64::MIN, i64::MIN, 10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        store
            .query_logs(q(i64::MIN, i64::MAX, 10))
            .await
            .unwrap()
            .items
            .len(),
        5
    );
    let page = store.query_logs(q(T0, T0 + 5, 0)).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(page.next_cursor.is_some());
    let page = store.query_logs(q(T0, T0 + 5, 5)).await.unwrap();
    assert_eq!((page.items.len(), page.next_cursor), (5, None));
    // Extreme timestamps get their own partitions and round-trip.
    write(
        &store,
        logs_batch(
            "default",
            vec![
                log(i64::MIN, "svc", 9, "min"),
                log(i64::MAX - 1, "svc", 9, "max"),
            ],
        ),
    )
    .await;
    assert_eq!(
        store
            .query_logs(q(i64::MIN, i64::MAX, 100))
            .await
            .unwrap()
            .items
            .len(),
        7
    );
    store.check_writable().unwrap();
    assert!(store.size_bytes() > 0);
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn security_events_are_durable_filtered_and_paged_per_tenant() {
    use ward_model::{SecurityEvent, SecuritySeverity};
    let dir = tempfile::tempdir().unwrap();
    let event = |tenant_name: &str, i: i64, severity: SecuritySeverity, kind: &str| {
        let mut details = Attributes::new();
        details.insert("n".into(), i.into());
        SecurityEvent {
            time_unix_nano: T0 + i * SEC,
            tenant: tenant(tenant_name),
            kind: kind.into(),
            severity,
            service: "planner".into(),
            message: format!("event {i}"),
            details,
        }
    };
    {
        let store = Store::open(config(dir.path())).unwrap();
        let mut events = Vec::new();
        for i in 0..25 {
            let severity = if i % 5 == 0 {
                SecuritySeverity::High
            } else {
                SecuritySeverity::Low
            };
            events.push(event("acme", i, severity, "credential_in_telemetry"));
        }
        events.push(event(
            "other",
            3,
            SecuritySeverity::Critical,
            "credential_in_telemetry",
        ));
        events.push(event("acme", 30, SecuritySeverity::Medium, "auth_failure"));
        store.security_log().append(&events).unwrap();
        store.shutdown().await.unwrap();
    }
    let store = Store::open(config(dir.path())).unwrap();
    let query = |kind: Option<&str>, min: Option<SecuritySeverity>, cursor: Option<String>| {
        SecurityEventQuery {
            tenant: tenant("acme"),
            from_unix_nano: T0,
            to_unix_nano: T0 + 100 * SEC,
            kind: kind.map(str::to_string),
            min_severity: min,
            limit: 10,
            cursor,
        }
    };
    // Newest first, across pages, without duplicates, only this tenant's.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .security_events(query(None, None, cursor))
            .await
            .unwrap();
        assert!(page.items.iter().all(|e| e.tenant.as_str() == "acme"));
        seen.extend(page.items.iter().map(|e| e.time_unix_nano));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 26);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "{seen:?}");
    let high = store
        .security_events(query(
            Some("credential_in_telemetry"),
            Some(SecuritySeverity::High),
            None,
        ))
        .await
        .unwrap();
    assert_eq!(high.items.len(), 5);
    assert_eq!(high.items[0].details["n"], 20);
    let auth = store
        .security_events(query(Some("auth_failure"), None, None))
        .await
        .unwrap();
    assert_eq!(auth.items.len(), 1);
    assert_eq!(auth.items[0].severity, SecuritySeverity::Medium);
    let bad = store
        .security_events(query(None, None, Some("nope".into())))
        .await
        .unwrap_err();
    assert!(matches!(bad, StoreError::InvalidCursor));
    store.shutdown().await.unwrap();
}
