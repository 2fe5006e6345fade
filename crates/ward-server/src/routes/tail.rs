//! `GET /api/v1/logs/tail`: committed log records as Server-Sent Events, filtered per subscriber.
//!
//! Events: `log` (a record, as in `/api/v1/logs`) and `lagged` (the reader fell behind and
//! `n` batches were skipped: Ward never buffers without bound for a slow reader).

use std::convert::Infallible;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt, stream};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::AppState;
use crate::auth::Principal;
use crate::problem::{Problem, Query};
use crate::routes::query::{LogParams, log_filter};
use crate::routes::views::LogView;

/// Keeps the subscriber gauge true for as long as the stream lives.
struct SubscriberGuard(AppState);

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        self.0.metrics.tail_subscribers.dec();
    }
}

/// `GET /api/v1/logs/tail?q=…`.
pub async fn tail(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<LogParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let filter = log_filter(&params)?;
    let receiver = state.pipeline.subscribe();
    state.metrics.tail_subscribers.inc();
    let guard = SubscriberGuard(state.clone());
    let tenant = principal.tenant;
    let mut shutdown = state.shutdown.clone();
    let events = BroadcastStream::new(receiver)
        .map(move |item| {
            let _alive = &guard;
            let events: Vec<Event> = match item {
                Ok(batch) if batch.tenant == tenant => batch
                    .logs
                    .iter()
                    .filter(|r| filter.matches_log(r))
                    .filter_map(|r| {
                        Event::default()
                            .event("log")
                            .json_data(LogView::from(r.clone()))
                            .ok()
                    })
                    .collect(),
                Ok(_) => Vec::new(),
                Err(BroadcastStreamRecvError::Lagged(n)) => {
                    vec![
                        Event::default()
                            .event("lagged")
                            .data(format!("{{\"skipped_batches\":{n}}}")),
                    ]
                }
            };
            stream::iter(events.into_iter().map(Ok))
        })
        .flatten()
        .take_until(async move {
            // Ends the stream when Ward starts shutting down, so graceful shutdown is not held up.
            let _ = shutdown.wait_for(|stopping| *stopping).await;
        });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
