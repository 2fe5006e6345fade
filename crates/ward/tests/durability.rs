//! Acknowledged means durable; overload is bounded.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Ward, http, now_ns};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::Value;

fn batch(service: &str, bodies: impl Iterator<Item = String>) -> Vec<u8> {
    let t = now_ns();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(service.into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: bodies
                    .map(|b| LogRecord {
                        time_unix_nano: t,
                        severity_number: 9,
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(b)),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn all_bodies(w: &Ward, key: &str, service: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = vec![
            ("q", format!("service:{service}")),
            ("limit", "1000".into()),
        ];
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let page: Value = http()
            .get(format!("{}/api/v1/logs", w.http))
            .query(&q)
            .bearer_auth(key)
            .send()
            .unwrap()
            .json()
            .unwrap();
        for l in page["logs"].as_array().unwrap() {
            out.insert(l["body"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

#[test]
fn sigkill_during_sustained_ingest_loses_no_acknowledged_record() {
    let mut w = Ward::start(&[]);
    let key = w.create_key(&["ingest", "read"], "default");
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..3 {
        let (url, key, acked, stop) = (w.http.clone(), key.clone(), acked.clone(), stop.clone());
        clients.push(std::thread::spawn(move || {
            let c = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let mut seq = 0;
            while !stop.load(Ordering::Relaxed) {
                let bodies: Vec<String> =
                    (0..200).map(|i| format!("c{client}-b{seq}-r{i}")).collect();
                let r = c
                    .post(format!("{url}/v1/logs"))
                    .bearer_auth(&key)
                    .header("content-type", "application/x-protobuf")
                    .body(batch("durable", bodies.clone().into_iter()))
                    .send();
                if r.is_ok_and(|r| r.status() == 200) {
                    acked.lock().unwrap().extend(bodies);
                }
                seq += 1;
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(3));
    w.signal("KILL", Duration::from_secs(5)).expect("killed");
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 2000,
        "the load was real: {} acknowledged",
        acked.len()
    );
    let w2 = Ward::start_in(&w.dir.clone(), &[], Some(w.admin_key.clone()));
    let stored = all_bodies(&w2, &key, "durable");
    eprintln!(
        "acknowledged {} records before SIGKILL; {} stored after restart",
        acked.len(),
        stored.len()
    );
    let missing: Vec<&String> = acked.iter().filter(|b| !stored.contains(*b)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged records lost, e.g. {:?}",
        missing.len(),
        acked.len(),
        missing.first()
    );
}

#[test]
fn overload_is_refused_with_retry_after_and_memory_stays_flat() {
    let w = Ward::start(&[
        ("WARD_STORE_MAX_QUEUE_RECORDS", "4000"),
        ("WARD_STORE_MAX_COMMIT_RECORDS", "2000"),
    ]);
    let key = w.create_key(&["ingest", "read"], "default");
    let body = Arc::new(batch(
        "flood",
        (0..1000).map(|i| format!("flood record {i} with some padding text to make it realistic")),
    ));
    let deadline = Instant::now() + Duration::from_secs(6);
    let counts: Arc<Mutex<(u64, u64, u64)>> = Arc::default();
    let mut threads = Vec::new();
    for _ in 0..12 {
        let (url, key, body, counts) = (w.http.clone(), key.clone(), body.clone(), counts.clone());
        threads.push(std::thread::spawn(move || {
            let c = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap();
            while Instant::now() < deadline {
                let r = c
                    .post(format!("{url}/v1/logs"))
                    .bearer_auth(&key)
                    .header("content-type", "application/x-protobuf")
                    .body(body.as_ref().clone())
                    .send()
                    .unwrap();
                let mut n = counts.lock().unwrap();
                match r.status().as_u16() {
                    200 => n.0 += 1,
                    429 => {
                        assert!(
                            r.headers().contains_key("retry-after"),
                            "429 carries Retry-After"
                        );
                        n.1 += 1
                    }
                    _ => n.2 += 1,
                }
            }
        }));
    }
    let mut samples = Vec::new();
    while Instant::now() < deadline {
        samples.push(w.rss_bytes());
        std::thread::sleep(Duration::from_millis(250));
    }
    for t in threads {
        t.join().unwrap();
    }
    let (ok, refused, other) = *counts.lock().unwrap();
    assert!(
        refused > 0,
        "the flood exceeded capacity (ok {ok}, 429 {refused})"
    );
    assert!(ok > 0, "some work still got through");
    assert_eq!(other, 0);
    let peak = *samples.iter().max().unwrap();
    eprintln!(
        "flood: {ok} batches accepted, {refused} refused with 429; RSS samples (MiB): {:?}",
        samples.iter().map(|s| s >> 20).collect::<Vec<_>>()
    );
    let late_peak = *samples[samples.len() / 2..].iter().max().unwrap();
    let early_peak = *samples[..samples.len() / 2].iter().max().unwrap();
    assert!(peak < 250 << 20, "RSS bounded: peak {} MiB", peak >> 20);
    assert!(
        late_peak <= early_peak + (48 << 20),
        "RSS flat: early {} MiB, late {} MiB",
        early_peak >> 20,
        late_peak >> 20
    );
    let metrics = http()
        .get(format!("{}/metrics", w.http))
        .bearer_auth(&w.admin_key)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("reason=\"overloaded\""),
        "rejections by overload are counted"
    );
}
