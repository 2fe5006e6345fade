//! Ward's side of `ward bench audit`: `POST /api/v1/audit`, one entry per request at a fixed
//! rate, then batches of entries from several connections at full speed. Any answer but `201`
//! with one element per submitted entry counts as an error, tallied by kind.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use serde::Deserialize;

use super::{Batched, Paced};
use crate::bench::ingest::create_key;
use crate::bench::load::{self, Outcome, RatePlan};
use crate::bench::process::{self, ChildGuard};

/// Where audit entries go.
#[derive(Debug, Clone)]
pub struct WardTarget {
    /// Full URL of the append endpoint (`http://127.0.0.1:4318/api/v1/audit`).
    pub endpoint: String,
    /// Bearer key with the `audit:write` scope.
    pub api_key: String,
}

impl WardTarget {
    /// The append endpoint of the Ward at `base`.
    pub fn new(base: &str, api_key: String) -> WardTarget {
        WardTarget {
            endpoint: format!("{}/api/v1/audit", base.trim_end_matches('/')),
            api_key,
        }
    }
}

/// Starts `ward serve` with its data in `dir/data` (run in `dir`) and makes an `audit:write`
/// key with the admin key it writes there.
pub async fn start(
    dir: &Path,
    client: &reqwest::Client,
) -> anyhow::Result<(ChildGuard, WardTarget)> {
    let data = dir.join("data");
    let http = process::loopback()?;
    let command = process::ward_serve_command(&data, dir, http, process::loopback()?)?;
    let mut ward = ChildGuard::spawn("ward serve", command)?;
    ward.wait_ready(http, Duration::from_millis(5), Duration::from_secs(60))
        .await?;
    let admin = ward.admin_key(&data, Duration::from_secs(5)).await?;
    let base = format!("http://{http}");
    let key = create_key(client, &base, &admin, "audit:write")
        .await
        .context("cannot create an audit:write key")?;
    Ok((ward, WardTarget::new(&base, key)))
}

/// Counts of failed appends by kind (`HTTP 404 Not Found`, `connection`, …).
#[derive(Debug, Clone, Default)]
pub struct Tally(Arc<Mutex<BTreeMap<String, u64>>>);

impl Tally {
    /// Counts one failure of `kind`.
    fn add(&self, kind: String) {
        if let Ok(mut counts) = self.0.lock() {
            *counts.entry(kind).or_default() += 1;
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.0.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

/// The part of a `201` answer the bench checks: one element per submitted entry.
#[derive(Debug, Deserialize)]
struct Appended {
    entries: Vec<serde::de::IgnoredAny>,
}

/// Checks an append's answer: `Ok` when it is a `201` acknowledging `entries` entries, else the
/// kind of failure (for the tally) and a message.
fn judge(
    status: reqwest::StatusCode,
    answer: &[u8],
    entries: u64,
    bytes: u64,
) -> Result<Outcome, (String, Outcome)> {
    if status == reqwest::StatusCode::CREATED {
        return match serde_json::from_slice::<Appended>(answer) {
            Ok(a) if a.entries.len() as u64 == entries => Ok(Outcome::Ok {
                records: entries,
                rejected: 0,
                bytes,
            }),
            Ok(a) => Err((
                "201 with a wrong number of entries".into(),
                Outcome::Failed(format!(
                    "201 acknowledged {} entries of {entries}",
                    a.entries.len()
                )),
            )),
            Err(e) => Err((
                "201 with an unreadable answer".into(),
                Outcome::Failed(format!("201 with an unreadable answer: {e}")),
            )),
        };
    }
    let kind = format!("HTTP {status}");
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::SERVICE_UNAVAILABLE
    {
        return Err((kind, Outcome::Throttled));
    }
    let snippet = String::from_utf8_lossy(&answer[..answer.len().min(300)]).into_owned();
    Err((kind.clone(), Outcome::Failed(format!("{kind}: {snippet}"))))
}

/// Sends one append of `entries` entries and reads the whole answer.
async fn append(
    client: &reqwest::Client,
    target: &WardTarget,
    body: Bytes,
    entries: u64,
    tally: &Tally,
) -> Outcome {
    let bytes = body.len() as u64;
    let sent = client
        .post(&target.endpoint)
        .bearer_auth(&target.api_key)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            tally.add("connection".into());
            return Outcome::Failed(format!("{e:#}"));
        }
    };
    let status = response.status();
    let answer = match response.bytes().await {
        Ok(b) => b,
        Err(e) => {
            tally.add("connection".into());
            return Outcome::Failed(format!("reading the answer: {e:#}"));
        }
    };
    match judge(status, &answer, entries, bytes) {
        Ok(outcome) => outcome,
        Err((kind, outcome)) => {
            tally.add(kind);
            outcome
        }
    }
}

/// One append of one entry before measuring: `None` when Ward acknowledges it, else what went
/// wrong (the measurements still run, and count every failure).
pub async fn probe(client: &reqwest::Client, target: &WardTarget, body: Bytes) -> Option<String> {
    let tally = Tally::default();
    match append(client, target, body, 1, &tally).await {
        Outcome::Ok { .. } => None,
        Outcome::Throttled => Some("the first append was throttled (429/503)".into()),
        Outcome::Failed(message) => Some(message),
    }
}

/// (3a): one entry per request, on the schedule of `rate` per second.
pub async fn paced(
    client: &reqwest::Client,
    target: &WardTarget,
    bodies: Arc<Vec<Bytes>>,
    rate: f64,
    warmup: Duration,
    duration: Duration,
    max_outstanding: usize,
) -> anyhow::Result<Paced> {
    let op = |tally: Tally| {
        let (client, target, bodies) = (client.clone(), target.clone(), bodies.clone());
        move |i: u64| {
            let (client, target, tally) = (client.clone(), target.clone(), tally.clone());
            let body = bodies[i as usize % bodies.len()].clone();
            async move { append(&client, &target, body, 1, &tally).await }
        }
    };
    if !warmup.is_zero() {
        load::open_loop(
            RatePlan::new(rate, warmup),
            max_outstanding,
            op(Tally::default()),
        )
        .await?;
    }
    let plan = RatePlan::new(rate, duration);
    let tally = Tally::default();
    let result = load::open_loop(plan, max_outstanding, op(tally.clone())).await?;
    Ok(Paced::new(plan.per_second, result, tally.counts()))
}

/// (3b): `batch` entries per request from `connections` clients at full speed.
pub async fn batched(
    client: &reqwest::Client,
    target: &WardTarget,
    bodies: Arc<Vec<Bytes>>,
    batch: u32,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Batched> {
    let op = |tally: Tally| {
        let (client, target, bodies) = (client.clone(), target.clone(), bodies.clone());
        move |worker: usize, i: u64| {
            let (client, target, tally) = (client.clone(), target.clone(), tally.clone());
            let body = bodies[(worker * 7919 + i as usize) % bodies.len()].clone();
            async move { append(&client, &target, body, batch as u64, &tally).await }
        }
    };
    if !warmup.is_zero() {
        load::closed_loop(connections, warmup, op(Tally::default())).await?;
    }
    let tally = Tally::default();
    let result = load::closed_loop(connections, duration, op(tally.clone())).await?;
    Ok(Batched::new(batch, connections, result, tally.counts()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn answers_are_judged() {
        let two = br#"{"entries":[{"seq":1,"hash":"ab","time_unix_nano":1},{"seq":2,"hash":"cd","time_unix_nano":2}]}"#;
        assert_eq!(
            judge(StatusCode::CREATED, two, 2, 10).unwrap(),
            Outcome::Ok {
                records: 2,
                rejected: 0,
                bytes: 10
            }
        );
        let (kind, _) = judge(StatusCode::CREATED, two, 3, 10).unwrap_err();
        assert_eq!(kind, "201 with a wrong number of entries");
        let (kind, _) = judge(StatusCode::CREATED, b"nope", 1, 10).unwrap_err();
        assert_eq!(kind, "201 with an unreadable answer");
        let (kind, outcome) = judge(StatusCode::NOT_FOUND, b"{}", 1, 10).unwrap_err();
        assert_eq!(kind, "HTTP 404 Not Found");
        assert!(matches!(outcome, Outcome::Failed(m) if m.starts_with("HTTP 404")));
        let (kind, outcome) = judge(StatusCode::TOO_MANY_REQUESTS, b"", 1, 10).unwrap_err();
        assert_eq!(kind, "HTTP 429 Too Many Requests");
        assert_eq!(outcome, Outcome::Throttled);
        // A success that is not 201 is an error too.
        let (kind, _) = judge(StatusCode::OK, two, 2, 10).unwrap_err();
        assert_eq!(kind, "HTTP 200 OK");
    }

    #[test]
    fn tallies_count_by_kind() {
        let t = Tally::default();
        t.add("a".into());
        t.clone().add("a".into());
        t.add("b".into());
        assert_eq!(
            t.counts().into_iter().collect::<Vec<_>>(),
            vec![("a".into(), 2), ("b".into(), 1)]
        );
    }

    /// A stand-in for Ward's audit API: checks the key and the entries' required fields,
    /// answers `201` with one element per entry.
    async fn fake_audit_api() -> WardTarget {
        use axum::http::HeaderMap;
        use axum::routing::post;
        async fn append(headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer k") {
                return (StatusCode::UNAUTHORIZED, "{}".into());
            }
            let value: serde_json::Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(_) => return (StatusCode::BAD_REQUEST, "{}".into()),
            };
            let entries = match value {
                serde_json::Value::Array(a) => a,
                one => vec![one],
            };
            let complete = entries.iter().all(|e| {
                ["agent", "action", "resource", "outcome"]
                    .iter()
                    .all(|f| e[f].is_string())
            });
            if entries.is_empty() || entries.len() > 1000 || !complete {
                return (StatusCode::UNPROCESSABLE_ENTITY, "{}".into());
            }
            let acks: Vec<serde_json::Value> = (1..=entries.len())
                .map(|seq| serde_json::json!({"seq": seq, "hash": "00", "time_unix_nano": 1}))
                .collect();
            (
                StatusCode::CREATED,
                serde_json::json!({ "entries": acks }).to_string(),
            )
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/api/v1/audit", post(append));
        tokio::spawn(async move { axum::serve(listener, app).await });
        WardTarget::new(&format!("http://{addr}"), "k".into())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_count_acknowledged_entries_and_errors() {
        let target = fake_audit_api().await;
        let client = load::http_client(2).unwrap();
        let entries = super::super::entries::generate(1, 64);
        let single = Arc::new(super::super::entries::bodies(&entries, 1, 64).unwrap());
        let batches = Arc::new(super::super::entries::bodies(&entries, 50, 4).unwrap());
        assert_eq!(probe(&client, &target, single[0].clone()).await, None);

        let one = paced(
            &client,
            &target,
            single.clone(),
            200.0,
            Duration::from_millis(50),
            Duration::from_millis(200),
            1024,
        )
        .await
        .unwrap();
        assert_eq!(one.figures.records, 40);
        assert_eq!(one.figures.failed + one.figures.skipped, 0);
        assert!(one.errors.is_empty());

        let many = batched(
            &client,
            &target,
            batches,
            50,
            2,
            Duration::ZERO,
            Duration::from_millis(200),
        )
        .await
        .unwrap();
        assert!(many.figures.records >= 50);
        assert_eq!(many.figures.records % 50, 0);
        assert_eq!(many.figures.failed, 0);

        // A wrong key: every append fails, and the failures are tallied by status.
        let wrong = WardTarget::new(
            target.endpoint.trim_end_matches("/api/v1/audit"),
            "nope".into(),
        );
        assert!(probe(&client, &wrong, single[0].clone()).await.is_some());
        let refused = paced(
            &client,
            &wrong,
            single,
            200.0,
            Duration::ZERO,
            Duration::from_millis(100),
            1024,
        )
        .await
        .unwrap();
        assert_eq!(refused.figures.records, 0);
        assert_eq!(refused.figures.failed, 20);
        assert_eq!(refused.errors.get("HTTP 401 Unauthorized"), Some(&20));
    }

    #[test]
    fn targets_name_the_audit_endpoint() {
        let t = WardTarget::new("http://127.0.0.1:4318/", "k".into());
        assert_eq!(t.endpoint, "http://127.0.0.1:4318/api/v1/audit");
    }
}
