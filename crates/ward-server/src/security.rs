//! The security event bus: every part of Ward that notices something an operator must know
//! (the scrubber finding a credential, authentication refusals, key and configuration changes)
//! calls [`SecurityEvents::raise`]. The bus counts the event in `/metrics` at once, records the
//! admin and security actions among them in the audit trail, and stores every event in the
//! background, in batches, on the store's security log.
//!
//! The queue is bounded: if the store cannot keep up, events beyond the bound are counted in
//! `ward_security_events_lost_total` and logged (without details) instead of growing memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use ward_model::SecurityEvent;
use ward_store::Store;

use crate::audit::AuditTrail;
use crate::metrics::{KindLabel, Metrics, SecurityLabels};

/// Events waiting to be stored before new ones are dropped (and counted).
const QUEUE_EVENTS: usize = 4096;
/// Most events written in one transaction.
const BATCH_EVENTS: usize = 256;
/// Most events of one kind raised for one source (an IP address, a key) per window; past it
/// they are counted in `ward_security_events_throttled_total` only, so an attacker cannot
/// flood the security log.
const EVENTS_PER_SOURCE: u32 = 10;
/// The throttle's window.
const THROTTLE_WINDOW: Duration = Duration::from_secs(60);
/// Most (kind, source) pairs the throttle tracks.
const MAX_THROTTLED_SOURCES: usize = 10_000;

enum Message {
    Event(SecurityEvent),
    /// Answered once every event queued before it is stored.
    Flush(oneshot::Sender<()>),
}

/// Handle to the bus. Cheap to clone.
#[derive(Clone)]
pub struct SecurityEvents {
    queue: mpsc::Sender<Message>,
    metrics: Arc<Metrics>,
    throttle: Arc<Mutex<HashMap<(String, String), Window>>>,
    audit: Option<AuditTrail>,
}

/// Start of the current window and events raised in it, per (kind, source).
type Window = (Instant, u32);

impl SecurityEvents {
    /// Starts the task that stores events in `store`. Must be called inside a Tokio runtime.
    pub fn start(store: Store, metrics: Arc<Metrics>) -> SecurityEvents {
        let (queue, receiver) = mpsc::channel(QUEUE_EVENTS);
        tokio::spawn(persist(receiver, store, metrics.clone()));
        SecurityEvents {
            queue,
            metrics,
            throttle: Default::default(),
            audit: None,
        }
    }

    /// Also records Ward's own admin and security actions (key lifecycle, configuration
    /// changes, brute-force blocks) in the tenant's audit trail.
    pub fn with_audit(mut self, audit: AuditTrail) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Raises `event` unless `source` already raised 10 events of its kind
    /// in the current minute; those are only counted.
    pub fn raise_from(&self, source: &str, event: SecurityEvent) {
        self.raise_at_most(EVENTS_PER_SOURCE, source, event);
    }

    /// Raises `event` unless `source` already raised `per_minute` events of its kind in the
    /// current minute; those are only counted.
    pub fn raise_at_most(&self, per_minute: u32, source: &str, event: SecurityEvent) {
        if self.admit(&event.kind, source, per_minute, Instant::now()) {
            self.raise(event);
        } else {
            self.metrics.security_events_throttled.inc();
        }
    }

    fn admit(&self, kind: &str, source: &str, per_window: u32, now: Instant) -> bool {
        let Ok(mut seen) = self.throttle.lock() else {
            return true;
        };
        if seen.len() >= MAX_THROTTLED_SOURCES {
            seen.retain(|_, (start, _)| now.duration_since(*start) < THROTTLE_WINDOW);
            if seen.len() >= MAX_THROTTLED_SOURCES {
                seen.clear();
            }
        }
        let entry = seen
            .entry((kind.to_owned(), source.to_owned()))
            .or_insert((now, 0));
        if now.duration_since(entry.0) >= THROTTLE_WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= per_window
    }

    /// Counts `event` and queues it for storage; never blocks.
    pub fn raise(&self, event: SecurityEvent) {
        self.metrics
            .security_events
            .get_or_create(&SecurityLabels {
                tenant: event.tenant.to_string(),
                kind: KindLabel(event.kind.clone()),
                severity: event.severity.as_str(),
            })
            .inc();
        if let Some(audit) = &self.audit {
            audit.record(&event);
        }
        if self.queue.try_send(Message::Event(event)).is_err() {
            self.metrics.security_events_lost.inc();
            tracing::warn!("security event queue is full; an event was counted but not stored");
        }
    }

    /// Waits until every event raised before this call is stored (or failed to store).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn persist(mut receiver: mpsc::Receiver<Message>, store: Store, metrics: Arc<Metrics>) {
    let mut messages = Vec::with_capacity(BATCH_EVENTS);
    while receiver.recv_many(&mut messages, BATCH_EVENTS).await > 0 {
        let mut events = Vec::new();
        let mut flushes = Vec::new();
        for message in messages.drain(..) {
            match message {
                Message::Event(e) => events.push(e),
                Message::Flush(done) => flushes.push(done),
            }
        }
        if !events.is_empty() {
            let count = events.len() as u64;
            let store = store.clone();
            let result =
                tokio::task::spawn_blocking(move || store.security_log().append(&events)).await;
            let error = match result {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => Some(e.to_string()),
            };
            if let Some(error) = error {
                metrics.security_events_lost.inc_by(count);
                tracing::error!(error, count, "could not store security events");
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_source_raises_a_bounded_number_of_events_per_window() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(ward_store::StoreConfig {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        })
        .unwrap();
        let events = SecurityEvents::start(store.clone(), Arc::new(Metrics::new()));
        let t0 = Instant::now();
        let admitted = (0..25)
            .filter(|_| events.admit("authentication_failed", "10.0.0.1", EVENTS_PER_SOURCE, t0))
            .count();
        assert_eq!(admitted, EVENTS_PER_SOURCE as usize);
        assert!(
            events.admit("forbidden", "10.0.0.1", EVENTS_PER_SOURCE, t0),
            "kinds are counted apart"
        );
        assert!(events.admit("authentication_failed", "10.0.0.2", EVENTS_PER_SOURCE, t0));
        assert!(events.admit(
            "authentication_failed",
            "10.0.0.1",
            EVENTS_PER_SOURCE,
            t0 + THROTTLE_WINDOW
        ));
        for i in 0..MAX_THROTTLED_SOURCES + 10 {
            events.admit("x", &i.to_string(), 1, t0);
        }
        assert!(events.throttle.lock().unwrap().len() <= MAX_THROTTLED_SOURCES);
        store.shutdown().await.unwrap();
    }
}
