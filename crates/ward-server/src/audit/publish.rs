//! Pushing checkpoints off the machine, so that even someone in control of Ward's host cannot
//! rewrite history unnoticed: each signed checkpoint is written to `audit.checkpoint_dir`
//! (meant to be another machine's mount or a write-once volume) and/or POSTed as JSON to
//! `audit.checkpoint_webhook`.
//!
//! The writer thread hands checkpoints over through a bounded queue and never waits. A webhook
//! that fails is retried with exponential backoff and jitter (1 s doubling to 5 min, 8 tries);
//! after that the checkpoint is counted as not pushed and dropped. Each checkpoint covers all
//! entries before it, so the next one that gets through restores the guarantee.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;
use ward_audit::Checkpoint;
use ward_store::audit::CheckpointHook;

use super::AuditSettings;
use crate::metrics::Metrics;

/// Checkpoints waiting to be pushed before new ones are dropped (and counted).
const QUEUE: usize = 1024;
/// Attempts per checkpoint at the webhook.
const ATTEMPTS: u32 = 8;
/// Per-request timeout.
const TIMEOUT: Duration = Duration::from_secs(10);

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Starts the pusher when a target is configured; returns the hook the writer calls.
pub(super) fn start(settings: &AuditSettings, metrics: Arc<Metrics>) -> Option<CheckpointHook> {
    let dir = settings.checkpoint_dir.clone();
    let webhook = settings.checkpoint_webhook.clone();
    if dir.is_none() && webhook.is_none() {
        return None;
    }
    let client = match webhook.as_ref().map(|_| client()).transpose() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "audit checkpoint webhook disabled");
            None
        }
    };
    let (queue, receiver) = mpsc::channel::<Checkpoint>(QUEUE);
    tokio::spawn(push_all(
        receiver,
        dir,
        webhook.zip(client),
        metrics.clone(),
    ));
    Some(Arc::new(move |cp: &Checkpoint| {
        if queue.try_send(cp.clone()).is_err() {
            metrics.audit_checkpoint_push_failures.inc();
            tracing::warn!(
                seq = cp.seq,
                "checkpoint push queue is full; this checkpoint is not pushed"
            );
        }
    }))
}

fn client() -> Result<HttpClient, String> {
    Ok(Client::builder(TokioExecutor::new()).build(crate::outbound::https_connector()?))
}

async fn push_all(
    mut receiver: mpsc::Receiver<Checkpoint>,
    dir: Option<PathBuf>,
    webhook: Option<(http::Uri, HttpClient)>,
    metrics: Arc<Metrics>,
) {
    while let Some(cp) = receiver.recv().await {
        let body = serde_json::to_vec(&cp).unwrap_or_default();
        if let Some(dir) = &dir {
            let (dir, cp2, body2) = (dir.clone(), cp.clone(), body.clone());
            let written = tokio::task::spawn_blocking(move || write_file(&dir, &cp2, &body2)).await;
            if !matches!(written, Ok(Ok(()))) {
                metrics.audit_checkpoint_push_failures.inc();
                let error = match written {
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => e.to_string(),
                    Ok(Ok(())) => String::new(),
                };
                tracing::error!(
                    seq = cp.seq,
                    error,
                    "could not write a checkpoint to audit.checkpoint_dir"
                );
            }
        }
        if let Some((uri, client)) = &webhook
            && let Err(e) = post_with_retries(client, uri, Bytes::from(body)).await
        {
            metrics.audit_checkpoint_push_failures.inc();
            tracing::error!(seq = cp.seq, error = %e, "could not push a checkpoint to audit.checkpoint_webhook");
        }
    }
}

/// `<dir>/<tenant>/<seq, 20 digits>.json`, written to a temporary name, fsync'd, renamed.
fn write_file(dir: &Path, cp: &Checkpoint, body: &[u8]) -> std::io::Result<()> {
    let dir = dir.join(cp.tenant.as_str());
    std::fs::create_dir_all(&dir)?;
    let name = format!("{:020}.json", cp.seq);
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(body)?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(&dir)?.sync_all()
}

async fn post_with_retries(
    client: &HttpClient,
    uri: &http::Uri,
    body: Bytes,
) -> Result<(), String> {
    let mut delay = Duration::from_secs(1);
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match post(client, uri, body.clone()).await {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
        if attempt < ATTEMPTS {
            // Full jitter keeps several Ward nodes from retrying in step.
            let jittered = delay.mul_f64(0.5 + rand::random::<f64>() / 2.0);
            tokio::time::sleep(jittered).await;
            delay = (delay * 2).min(Duration::from_secs(300));
        }
    }
    Err(format!("{last} (after {ATTEMPTS} attempts)"))
}

async fn post(client: &HttpClient, uri: &http::Uri, body: Bytes) -> Result<(), String> {
    let request = http::Request::post(uri.clone())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, "ward")
        .body(Full::new(body))
        .map_err(|_| "cannot build the request".to_owned())?;
    let response = tokio::time::timeout(TIMEOUT, client.request(request))
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| format!("request failed: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("answered HTTP {}", response.status().as_u16()))
    }
}
