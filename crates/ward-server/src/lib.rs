//! Ward's network edge: the HTTP listener (API, OTLP/HTTP, health, metrics), the OTLP/gRPC
//! listener, authentication, and the ingest [`pipeline`].
//!
//! Requests pass, in order: request id → access log → panic guard → timeout → authentication and
//! scope check (per route group, see [`router`]) → handler. Handlers only translate HTTP into
//! calls on the store and the pipeline.

pub mod auth;
pub mod config;
pub mod grpc;
pub mod jwt;
pub mod metrics;
pub mod pipeline;
pub mod problem;
pub mod routes;
pub mod scrub;
pub mod security;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use tokio::sync::watch;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use ward_store::Store;

use crate::auth::{Guard, KeyVerifier, Scope, require};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::problem::Problem;
use crate::routes::{health, ingest, keys, query, tail};
use crate::scrub::Scrubber;
use crate::security::SecurityEvents;

/// Everything a handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Validated configuration.
    pub settings: Arc<Settings>,
    /// The embedded store.
    pub store: Store,
    /// Ingest pipeline.
    pub pipeline: Pipeline,
    /// Security event bus.
    pub security: SecurityEvents,
    /// Ward's own metrics.
    pub metrics: Arc<Metrics>,
    /// API key verification.
    pub keys: KeyVerifier,
    /// Becomes `true` when shutdown begins.
    pub shutdown: watch::Receiver<bool>,
    /// Start time, for uptime.
    pub started: Instant,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids: a per-process random prefix and a counter, cheap and unique enough to
/// correlate a response with Ward's log.
#[derive(Clone)]
struct RequestIds {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// Logs one line per request: method, route, status, duration, request id. Never bodies or
/// query strings, which may carry personal data.
async fn access_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1e3;
    if status >= 500 {
        tracing::warn!(%method, route, status, ms, request_id = id, "request");
    } else if status >= 400 {
        tracing::info!(%method, route, status, ms, request_id = id, "request");
    } else {
        tracing::debug!(%method, route, status, ms, request_id = id, "request");
    }
    response
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    Problem::internal().into_response()
}

async fn timeout_after(duration: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(duration, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Problem::retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            "the request took too long",
            1,
        )
        .into_response(),
    }
}

async fn not_found() -> Problem {
    Problem::not_found("no such route; the API is described at /api/openapi.json")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this route does not accept that method",
    )
}

/// The HTTP application. Every route, and the scope it requires, is declared here.
pub fn router(state: AppState) -> Router {
    let guard = |scope| {
        from_fn_with_state(
            Guard {
                verifier: state.keys.clone(),
                scope,
            },
            require,
        )
    };
    let timeout = state.settings.request_timeout;
    let bounded = from_fn(move |req: Request, next: Next| timeout_after(timeout, req, next));

    let ingest = Router::new()
        .route("/v1/logs", post(ingest::otlp_logs))
        .route("/v1/traces", post(ingest::otlp_traces))
        .route("/v1/metrics", post(ingest::otlp_metrics))
        .route("/api/v1/ingest/logs", post(ingest::json_logs))
        .route_layer(guard(Scope::Ingest));
    let read = Router::new()
        .route("/api/v1/logs", get(query::logs))
        .route("/api/v1/traces", get(query::search_traces))
        .route("/api/v1/traces/{trace_id}", get(query::trace))
        .route("/api/v1/services", get(query::services))
        .route("/api/v1/security/events", get(query::security_events))
        .route_layer(guard(Scope::Read));
    // The tail is a long-lived stream: no request timeout.
    let streaming = Router::new()
        .route("/api/v1/logs/tail", get(tail::tail))
        .route_layer(guard(Scope::Read));
    let admin = Router::new()
        .route("/api/v1/keys", get(keys::list).post(keys::create))
        .route("/api/v1/keys/{id}", delete(keys::revoke))
        .route_layer(guard(Scope::Admin));
    let metrics = Router::new()
        .route("/metrics", get(health::metrics))
        .route_layer(guard(Scope::Metrics));
    let open = Router::new()
        .route("/livez", get(health::livez))
        .route("/readyz", get(health::readyz))
        .route("/healthz", get(health::healthz))
        .route("/api/openapi.json", get(health::openapi));

    let ids = RequestIds {
        prefix: format!("{:08x}", rand::random::<u32>()).into(),
        next: Arc::new(AtomicU64::new(1)),
    };
    Router::new()
        .merge(
            ingest
                .merge(read)
                .merge(admin)
                .merge(metrics)
                .merge(open)
                .route_layer(bounded),
        )
        .merge(streaming)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, ids))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(from_fn(access_log))
                .layer(CatchPanicLayer::custom(panic_response)),
        )
}

/// A running Ward: listeners bound, ready to serve.
pub struct Server {
    state: AppState,
    stop: watch::Sender<bool>,
    http: tokio::net::TcpListener,
    grpc: Option<tokio::net::TcpListener>,
}

/// Why the server could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("server error: {0}")]
    Serve(String),
    /// The pseudonym key could not be read or created.
    #[error("pseudonym key {path}: {source}")]
    PseudonymKey {
        /// The key file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl Server {
    /// Binds the listeners. Ingest is served as soon as [`Server::run`] is called. `metrics` is
    /// shared with the store's commit observer, which is wired before the store opens.
    pub async fn bind(
        settings: Settings,
        store: Store,
        metrics: Arc<Metrics>,
    ) -> Result<Server, ServerError> {
        let http = tokio::net::TcpListener::bind(settings.listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: settings.listen,
                source,
            })?;
        let grpc = match settings.grpc_listen {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServerError::Bind { addr, source })?,
            ),
            None => None,
        };
        let redact = &settings.config.redact;
        let key_path = redact.pseudonym_key_path(&settings.config.data_dir);
        let master_key = scrub::load_or_create_master_key(&key_path).map_err(|source| {
            ServerError::PseudonymKey {
                path: key_path,
                source,
            }
        })?;
        if !redact.enabled {
            tracing::warn!(
                "redact.enabled is false: telemetry is stored unscrubbed, secrets included"
            );
        }
        let policies = settings.redact_policies.clone();
        let security = SecurityEvents::start(store.clone(), metrics.clone());
        let (stop, shutdown) = watch::channel(false);
        let state = AppState {
            pipeline: Pipeline::new(
                store.clone(),
                metrics.clone(),
                Scrubber::new(policies, master_key),
                security.clone(),
            ),
            security,
            keys: KeyVerifier::new(store.clone()),
            settings: Arc::new(settings),
            store,
            metrics,
            shutdown,
            started: Instant::now(),
        };
        Ok(Server {
            state,
            stop,
            http,
            grpc,
        })
    }

    /// The bound HTTP address (useful when binding port 0).
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        self.http.local_addr().ok()
    }

    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> Option<std::net::SocketAddr> {
        self.grpc.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `signal` resolves, then shuts down gracefully: readiness fails at once, no
    /// new connections are accepted, in-flight requests finish (their batches are committed),
    /// the store drains its queue. Everything is bounded by `server.shutdown_timeout`.
    pub async fn run(
        self,
        signal: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let Server {
            state,
            stop,
            http,
            grpc,
        } = self;
        let shutdown_timeout = state.settings.shutdown_timeout;
        let store = state.store.clone();
        let security = state.security.clone();
        let stopped = {
            let rx = state.shutdown.clone();
            move || {
                let mut rx = rx.clone();
                async move {
                    let _ = rx.wait_for(|s| *s).await;
                }
            }
        };
        let app = router(state.clone());
        let http_task = tokio::spawn(
            axum::serve(
                http,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(stopped())
            .into_future(),
        );
        let grpc_task =
            grpc.map(|listener| tokio::spawn(grpc::serve(state.clone(), listener, stopped())));

        signal.await;
        tracing::info!("shutting down: refusing new work, finishing in-flight requests");
        let _ = stop.send(true);
        let drain = async {
            let http_result = http_task.await;
            if let Some(task) = grpc_task {
                let _ = task.await;
            }
            security.flush().await;
            let _ = store.shutdown().await;
            http_result
        };
        match tokio::time::timeout(shutdown_timeout, drain).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(ServerError::Serve(e.to_string())),
            Ok(Err(e)) => Err(ServerError::Serve(e.to_string())),
            Err(_) => {
                tracing::warn!(
                    timeout_s = shutdown_timeout.as_secs_f64(),
                    "shutdown timed out; exiting anyway"
                );
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    async fn test_state(dir: &std::path::Path) -> AppState {
        let store = Store::open(ward_store::StoreConfig {
            data_dir: dir.to_path_buf(),
            ..Default::default()
        })
        .unwrap();
        let metrics = Arc::new(Metrics::new());
        let (_stop, shutdown) = watch::channel(false);
        let settings = crate::config::Config::default().settings().unwrap();
        let key = ward_redact::PseudonymKey::new([3u8; 32]);
        let security = SecurityEvents::start(store.clone(), metrics.clone());
        AppState {
            pipeline: Pipeline::new(
                store.clone(),
                metrics.clone(),
                Scrubber::new(settings.redact_policies.clone(), key),
                security.clone(),
            ),
            security,
            keys: KeyVerifier::new(store.clone()),
            settings: Arc::new(settings),
            store,
            metrics,
            shutdown,
            started: Instant::now(),
        }
    }

    /// Every operation of the OpenAPI document is served by the router (and needs a key unless
    /// it is a health or documentation route).
    #[tokio::test]
    async fn openapi_document_matches_the_router() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(test_state(dir.path()).await);
        let doc: serde_json::Value = serde_json::from_str(routes::health::OPENAPI).unwrap();
        let open = ["/livez", "/readyz", "/healthz", "/api/openapi.json"];
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                let uri = path
                    .replace("{trace_id}", &"ab".repeat(16))
                    .replace("{id}", "abc");
                let request = axum::http::Request::builder()
                    .method(method.to_uppercase().as_str())
                    .uri(&uri)
                    .body(Body::empty())
                    .unwrap();
                let status = app.clone().oneshot(request).await.unwrap().status();
                if open.contains(&path.as_str()) {
                    assert!(status.is_success(), "{method} {path}: {status}");
                } else {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
                }
                checked += 1;
            }
        }
        assert!(checked >= 17, "{checked}");
    }

    #[tokio::test]
    async fn unknown_routes_and_methods_are_problems() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(test_state(dir.path()).await);
        let get = |uri: &str, method: &str| {
            axum::http::Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap()
        };
        let r = app.clone().oneshot(get("/nope", "GET")).await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let r = app.clone().oneshot(get("/livez", "DELETE")).await.unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(r.headers().contains_key("x-request-id"));
    }
}
