//! Ward's network edge: the HTTP listener (API, OTLP/HTTP, health, metrics), the OTLP/gRPC
//! listener, authentication, and the ingest [`pipeline`].
//!
//! Requests pass, in order: request id → access log → [`hardening`] (security headers, CORS
//! preflights, body limits) → panic guard → timeout → the [`gate`] (authentication, rate limits
//! and the permission the route needs, declared per route in [`router`]) → handler. Handlers
//! only translate HTTP into calls on the store and the pipeline.

pub mod audit;
pub mod auth;
pub mod authz;
pub mod config;
pub mod files;
pub mod gate;
pub mod genai;
pub mod grpc;
pub mod hardening;
pub mod jwt;
pub mod listener;
pub mod metrics;
mod outbound;
pub mod pipeline;
pub mod problem;
pub mod ratelimit;
pub mod reload;
pub mod routes;
pub mod scrub;
pub mod security;
pub mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::handler::Handler;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use tokio::sync::watch;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use ward_store::Store;

use crate::auth::KeyVerifier;
use crate::authz::Permission;
use crate::config::Settings;
use crate::gate::{AccessPolicy, Gate, Guard, RouteClass, guard};
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
    /// The audit trail.
    pub audit: audit::AuditTrail,
    /// Ward's own metrics.
    pub metrics: Arc<Metrics>,
    /// Authentication and authorization of every request.
    pub gate: Gate,
    /// The CORS policy in effect.
    pub cors: hardening::CorsPolicy,
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

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without credentials (health and documentation).
    Open,
    /// Callers holding this permission.
    Needs(Permission),
}

/// One route as declared in [`router`].
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: Method,
    /// Path pattern, as in the OpenAPI document.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Its class, for rate limits.
    pub class: RouteClass,
}

/// Builds the router and the table of its routes together, so the table cannot drift from
/// what is served.
struct Routes {
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
    gate: Gate,
    timeout: Duration,
}

impl Routes {
    /// Adds a route. Every route but the streaming ones is bounded by `server.request_timeout`.
    fn add<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        class: RouteClass,
        handler: H,
    ) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone())
            .unwrap_or_else(|_| unreachable!("routes use standard methods"));
        let mut route = on(filter, handler);
        if let Access::Needs(need) = access {
            route = route.route_layer(from_fn_with_state(
                Guard {
                    gate: self.gate.clone(),
                    need,
                    class,
                    route: format!("{method} {path}").into(),
                },
                guard,
            ));
        }
        let streaming = path.ends_with("/tail");
        if !streaming {
            let timeout = self.timeout;
            route = route.route_layer(from_fn(move |req: Request, next: Next| {
                timeout_after(timeout, req, next)
            }));
        }
        self.router = self.router.route(path, route);
        self.specs.push(RouteSpec {
            method,
            path,
            access,
            class,
        });
        self
    }
}

/// Every route, the permission it needs and its class: the one place that says so.
fn routes(state: &AppState) -> Routes {
    use Access::{Needs, Open};
    use Permission as P;
    use RouteClass::{Admin, Ingest, Query};
    Routes {
        router: Router::new(),
        specs: Vec::new(),
        gate: state.gate.clone(),
        timeout: state.settings.request_timeout,
    }
    .add(
        Method::POST,
        "/v1/logs",
        Needs(P::Ingest),
        Ingest,
        ingest::otlp_logs,
    )
    .add(
        Method::POST,
        "/v1/traces",
        Needs(P::Ingest),
        Ingest,
        ingest::otlp_traces,
    )
    .add(
        Method::POST,
        "/v1/metrics",
        Needs(P::Ingest),
        Ingest,
        ingest::otlp_metrics,
    )
    .add(
        Method::POST,
        "/api/v1/ingest/logs",
        Needs(P::Ingest),
        Ingest,
        ingest::json_logs,
    )
    .add(
        Method::GET,
        "/api/v1/logs",
        Needs(P::Read),
        Query,
        query::logs,
    )
    .add(
        Method::GET,
        "/api/v1/logs/tail",
        Needs(P::Read),
        Query,
        tail::tail,
    )
    .add(
        Method::GET,
        "/api/v1/traces",
        Needs(P::Read),
        Query,
        query::search_traces,
    )
    .add(
        Method::GET,
        "/api/v1/traces/{trace_id}",
        Needs(P::Read),
        Query,
        query::trace,
    )
    .add(
        Method::GET,
        "/api/v1/services",
        Needs(P::Read),
        Query,
        query::services,
    )
    .add(
        Method::GET,
        "/api/v1/security/events",
        Needs(P::SecurityRead),
        Query,
        query::security_events,
    )
    .add(
        Method::GET,
        "/api/v1/keys",
        Needs(P::KeysRead),
        Admin,
        keys::list,
    )
    .add(
        Method::POST,
        "/api/v1/keys",
        Needs(P::KeysWrite),
        Admin,
        keys::create,
    )
    .add(
        Method::DELETE,
        "/api/v1/keys/{id}",
        Needs(P::KeysWrite),
        Admin,
        keys::revoke,
    )
    .add(
        Method::POST,
        "/api/v1/keys/{id}/rotate",
        Needs(P::KeysWrite),
        Admin,
        keys::rotate,
    )
    .add(
        Method::POST,
        "/api/v1/audit",
        Needs(P::AuditWrite),
        Ingest,
        routes::audit::append,
    )
    .add(
        Method::GET,
        "/api/v1/audit",
        Needs(P::AuditRead),
        Query,
        routes::audit::query,
    )
    .add(
        Method::GET,
        "/api/v1/audit/export",
        Needs(P::AuditRead),
        Query,
        routes::audit::export,
    )
    .add(
        Method::GET,
        "/api/v1/audit/verify",
        Needs(P::AuditRead),
        Query,
        routes::audit::verify,
    )
    .add(
        Method::GET,
        "/api/v1/audit/report",
        Needs(P::AuditRead),
        Query,
        routes::audit::report,
    )
    .add(
        Method::POST,
        "/api/v1/audit/erasures",
        Needs(P::Admin),
        Admin,
        routes::audit::erase,
    )
    .add(
        Method::GET,
        "/api/v1/audit/public-key",
        Open,
        Query,
        routes::audit::public_key,
    )
    .add(
        Method::GET,
        "/metrics",
        Needs(P::Metrics),
        Query,
        health::metrics,
    )
    .add(Method::GET, "/livez", Open, Query, health::livez)
    .add(Method::GET, "/readyz", Open, Query, health::readyz)
    .add(Method::GET, "/healthz", Open, Query, health::healthz)
    .add(
        Method::GET,
        "/api/openapi.json",
        Open,
        Query,
        health::openapi,
    )
}

/// The table of every route [`router`] serves.
pub fn route_table(state: &AppState) -> Vec<RouteSpec> {
    routes(state).specs
}

/// The HTTP application: the routes of [`routes`] and the layers every request passes.
pub fn router(state: AppState) -> Router {
    let ids = RequestIds {
        prefix: format!("{:08x}", rand::random::<u32>()).into(),
        next: Arc::new(AtomicU64::new(1)),
    };
    // Security headers, CORS and body limits on every response; HSTS only over TLS.
    let hardening = hardening::layer(
        &state.settings.hardening,
        state.settings.tls_enabled(),
        state.cors.clone(),
    );
    routes(&state)
        .router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, ids))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(from_fn(access_log))
                .layer(hardening)
                .layer(CatchPanicLayer::custom(panic_response)),
        )
}

/// A running Ward: listeners bound, ready to serve.
pub struct Server {
    state: AppState,
    stop: watch::Sender<bool>,
    http: tokio::net::TcpListener,
    grpc: Option<tokio::net::TcpListener>,
    reloader: Option<Arc<reload::Reloader>>,
    tls: Option<Arc<tls::Tls>>,
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
    /// The TLS certificate, key or client CA could not be used.
    #[error("{key}: {source}", key = .0.config_key(), source = .0)]
    Tls(#[from] tls::TlsError),
    /// The audit trail could not be opened.
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
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
        for addr in settings.exposed_plaintext() {
            tracing::warn!(
                %addr,
                "server.allow_plaintext is set: serving plaintext HTTP on a non-loopback address; \
                 API keys and telemetry cross the network unencrypted"
            );
        }
        let policies = settings.redact_policies.clone();
        let audit = audit::AuditTrail::open(
            &settings.config.data_dir,
            settings.audit.clone(),
            metrics.clone(),
        )?;
        let security =
            SecurityEvents::start(store.clone(), metrics.clone()).with_audit(audit.clone());
        let gate = Gate::new(
            KeyVerifier::new(store.clone()),
            security.clone(),
            metrics.clone(),
            AccessPolicy::from_settings(&settings),
        );
        let tls = match &settings.tls {
            Some(tls) => Some(Arc::new(tls::Tls::new(
                tls,
                metrics.clone(),
                security.clone(),
            )?)),
            None => None,
        };
        let (stop, shutdown) = watch::channel(false);
        let state = AppState {
            pipeline: Pipeline::new(
                store.clone(),
                metrics.clone(),
                Scrubber::new(policies, master_key),
                security.clone(),
            )
            .with_content(settings.genai_content.clone()),
            security,
            audit,
            gate,
            cors: hardening::CorsPolicy::new(&settings.hardening),
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
            reloader: None,
            tls,
        })
    }

    /// Reloads the configuration from `source` on SIGHUP and when its file changes.
    pub fn reload_from(mut self, source: reload::ConfigSource) -> Server {
        self.reloader = Some(Arc::new(reload::Reloader::new(
            source,
            self.state.settings.config.clone(),
            self.state.gate.clone(),
            self.state.cors.clone(),
            self.state.security.clone(),
            self.tls_certificates(),
        )));
        self
    }

    /// The served certificate, when TLS is on; [`tls::CertStore::reload_now`] reloads it from
    /// its files (e.g. on SIGHUP). Both listeners use it.
    pub fn tls_certificates(&self) -> Option<Arc<tls::CertStore>> {
        self.tls.as_ref().map(|t| t.certs.clone())
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
            reloader,
            tls,
        } = self;
        if let Some(reloader) = reloader {
            tokio::spawn(reloader.watch(state.shutdown.clone()));
        }
        let shutdown_timeout = state.settings.shutdown_timeout;
        let store = state.store.clone();
        let security = state.security.clone();
        let audit = state.audit.clone();
        audit.spawn_retention(state.shutdown.clone());
        let keys = state.gate.keys().clone();
        let usage_task = tokio::spawn(flush_key_usage(keys.clone(), state.shutdown.clone()));
        let stopped = {
            let rx = state.shutdown.clone();
            move || {
                let mut rx = rx.clone();
                async move {
                    let _ = rx.wait_for(|s| *s).await;
                }
            }
        };
        if let (Some(tls), Some(settings)) = (&tls, &state.settings.tls) {
            tls.certs
                .clone()
                .watch(settings.reload_interval, state.shutdown.clone());
        }
        let limits = listener::ConnLimits::from_settings(&state.settings);
        let app = router(state.clone());
        let http_task = tokio::spawn(listener::serve_http(
            http,
            app,
            tls.clone(),
            limits,
            stopped(),
        ));
        let grpc_task = grpc.map(|listener| {
            let incoming = listener::incoming(listener, tls.clone(), limits, stopped());
            tokio::spawn(grpc::serve(state.clone(), incoming, stopped()))
        });

        signal.await;
        tracing::info!("shutting down: refusing new work, finishing in-flight requests");
        let _ = stop.send(true);
        let drain = async {
            let http_result = http_task.await;
            if let Some(task) = grpc_task {
                let _ = task.await;
            }
            // Uses counted by requests that finished after the flusher's last pass.
            let _ = usage_task.await;
            let _ = tokio::task::spawn_blocking(move || keys.flush_usage()).await;
            security.flush().await;
            if let Err(e) = audit.shutdown().await {
                tracing::error!(error = %e, "audit trail shutdown failed");
            }
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

/// How often counted key uses are written to the store.
const KEY_USAGE_FLUSH: Duration = Duration::from_secs(10);

/// Writes counted key uses every [`KEY_USAGE_FLUSH`], and once more when shutdown begins.
async fn flush_key_usage(keys: KeyVerifier, mut shutdown: watch::Receiver<bool>) {
    loop {
        let stop = tokio::select! {
            _ = tokio::time::sleep(KEY_USAGE_FLUSH) => false,
            _ = shutdown.wait_for(|s| *s) => true,
        };
        let flushing = keys.clone();
        match tokio::task::spawn_blocking(move || flushing.flush_usage()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not record key usage; will retry"),
            Err(e) => tracing::warn!(error = %e, "could not record key usage; will retry"),
        }
        if stop {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    pub(crate) async fn test_state(dir: &std::path::Path) -> AppState {
        let store = Store::open(ward_store::StoreConfig {
            data_dir: dir.to_path_buf(),
            ..Default::default()
        })
        .unwrap();
        let metrics = Arc::new(Metrics::new());
        let (_stop, shutdown) = watch::channel(false);
        let settings = crate::config::Config::default().settings().unwrap();
        let key = ward_redact::PseudonymKey::new([3u8; 32]);
        let audit_settings = settings.config.audit.settings(dir).unwrap();
        let audit = audit::AuditTrail::open(dir, audit_settings, metrics.clone()).unwrap();
        let security =
            SecurityEvents::start(store.clone(), metrics.clone()).with_audit(audit.clone());
        let gate = Gate::new(
            KeyVerifier::new(store.clone()),
            security.clone(),
            metrics.clone(),
            AccessPolicy::from_settings(&settings),
        );
        AppState {
            audit,
            pipeline: Pipeline::new(
                store.clone(),
                metrics.clone(),
                Scrubber::new(settings.redact_policies.clone(), key),
                security.clone(),
            ),
            security,
            gate,
            cors: hardening::CorsPolicy::new(&settings.hardening),
            settings: Arc::new(settings),
            store,
            metrics,
            shutdown,
            started: Instant::now(),
        }
    }

    fn request(method: &Method, path: &str, key: Option<&str>) -> axum::http::Request<Body> {
        let uri = path
            .replace("{trace_id}", &"ab".repeat(16))
            .replace("{id}", "abcdefabcdef");
        let mut builder = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        if let Some(key) = key {
            builder = builder.header("authorization", format!("Bearer {key}"));
        }
        builder.body(Body::from("{}")).unwrap()
    }

    /// The route table and the OpenAPI document list the same operations; open routes answer
    /// without credentials and every other route refuses them.
    #[tokio::test]
    async fn openapi_document_matches_the_route_table() {
        let dir = tempfile::tempdir().unwrap();
        let state = test_state(dir.path()).await;
        let table = route_table(&state);
        let app = router(state);
        let doc: serde_json::Value = serde_json::from_str(routes::health::OPENAPI).unwrap();
        let mut documented = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.push(format!("{} {path}", method.to_uppercase()));
            }
        }
        let mut served: Vec<String> = table
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
        for route in &table {
            let status = app
                .clone()
                .oneshot(request(&route.method, route.path, None))
                .await
                .unwrap()
                .status();
            match route.access {
                Access::Open => assert!(status.is_success(), "{} {}", route.method, route.path),
                Access::Needs(_) => {
                    assert_eq!(
                        status,
                        StatusCode::UNAUTHORIZED,
                        "{} {}",
                        route.method,
                        route.path
                    )
                }
            }
        }
    }

    /// Every route × every role: a credential holding a role's permissions is refused (403)
    /// exactly on the routes whose permission the role lacks.
    #[tokio::test]
    async fn every_route_admits_exactly_the_roles_holding_its_permission() {
        let dir = tempfile::tempdir().unwrap();
        let state = test_state(dir.path()).await;
        let table = route_table(&state);
        let mut custom = std::collections::BTreeMap::new();
        custom.insert(
            "auditor".to_owned(),
            crate::authz::RoleConfig {
                permissions: vec!["security:read".into(), "keys:read".into()],
                description: String::new(),
            },
        );
        let roles = crate::authz::Roles::new(&custom).unwrap();
        let app = router(state.clone());
        let mut refused = 0;
        for role in roles.names() {
            let grants = roles.get(role).unwrap().clone();
            let key =
                crate::auth::mint(ward_model::TenantId::default_tenant(), role, &grants, None);
            state.store.keys().insert_key(&key.record).unwrap();
            for route in &table {
                let Access::Needs(need) = route.access else {
                    continue;
                };
                let response = app
                    .clone()
                    .oneshot(request(&route.method, route.path, Some(&key.text)))
                    .await
                    .unwrap();
                let status = response.status();
                let what = format!("{role}: {} {} ({need})", route.method, route.path);
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{what}");
                if grants.allows(need) {
                    assert_ne!(status, StatusCode::FORBIDDEN, "{what}");
                } else {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
                    refused += 1;
                }
            }
        }
        assert!(refused >= 20, "{refused}");
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
