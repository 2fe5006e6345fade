//! The security event bus: every part of Ward that notices something an operator must know
//! (the scrubber finding a credential today; authentication and key events later) calls
//! [`SecurityEvents::raise`]. The bus counts the event in `/metrics` at once and stores it in
//! the background, in batches, on the store's security log.
//!
//! The queue is bounded: if the store cannot keep up, events beyond the bound are counted in
//! `ward_security_events_lost_total` and logged (without details) instead of growing memory.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use ward_model::SecurityEvent;
use ward_store::Store;

use crate::metrics::{KindLabel, Metrics, SecurityLabels};

/// Events waiting to be stored before new ones are dropped (and counted).
const QUEUE_EVENTS: usize = 4096;
/// Most events written in one transaction.
const BATCH_EVENTS: usize = 256;

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
}

impl SecurityEvents {
    /// Starts the task that stores events in `store`. Must be called inside a Tokio runtime.
    pub fn start(store: Store, metrics: Arc<Metrics>) -> SecurityEvents {
        let (queue, receiver) = mpsc::channel(QUEUE_EVENTS);
        tokio::spawn(persist(receiver, store, metrics.clone()));
        SecurityEvents { queue, metrics }
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
