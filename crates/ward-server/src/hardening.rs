//! Response hardening, CORS and per-route-class body limits, as one layer over the router
//! ([`layer`]).
//!
//! From the outside in:
//! 1. security headers on every response, whatever produced it (a handler, a problem, the
//!    fallbacks, a caught panic, a CORS preflight, a 413 of this layer);
//! 2. CORS from an allow-list (`[cors]`), answering preflights before routing, so they never
//!    need an API key;
//! 3. body limits: routes other than ingest refuse bodies larger than
//!    `server.max_api_body_size` with 413 before authentication; ingest keeps
//!    `server.max_body_size`, enforced by its handlers.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tower::ServiceExt;

use axum::body::HttpBody;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceBuilder};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::{ConfigError, ServerConfig};
use crate::problem::Problem;

/// `Content-Security-Policy` of API responses: nothing may be loaded or framed.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// `Content-Security-Policy` of responses under `/ui` (the web interface): its own scripts,
/// styles and images only, no framing.
pub const UI_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'self'";

/// `Permissions-Policy`: every powerful browser feature off.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), camera=(), \
    display-capture=(), encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), \
    hid=(), magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), \
    publickey-credentials-get=(), screen-wake-lock=(), serial=(), sync-xhr=(), usb=(), \
    xr-spatial-tracking=()";

/// `Strict-Transport-Security`, sent only when Ward serves TLS.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

const PERMISSIONS_POLICY_HEADER: HeaderName = HeaderName::from_static("permissions-policy");
const COOP: HeaderName = HeaderName::from_static("cross-origin-opener-policy");
const CORP: HeaderName = HeaderName::from_static("cross-origin-resource-policy");

/// `[cors]` of `ward.toml`: which web origins may call the API from a browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Exact origins (`https://app.example.com`, `http://localhost:3000`), or `["*"]` for any
    /// origin (only without credentials). Empty: no CORS headers at all.
    pub allowed_origins: Vec<String>,
    /// Whether browsers may send credentials (cookies, `Authorization` set by the browser).
    pub allow_credentials: bool,
    /// Request headers a page may send.
    pub allowed_headers: Vec<String>,
    /// How long a browser may cache a preflight answer.
    pub max_age: String,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig {
            allowed_origins: Vec::new(),
            allow_credentials: false,
            allowed_headers: [
                "authorization",
                "content-type",
                "content-encoding",
                "traceparent",
            ]
            .map(String::from)
            .to_vec(),
            max_age: "10m".into(),
        }
    }
}

/// Which origins CORS allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// `*`: any origin, without credentials.
    Any,
    /// Exactly these (`scheme://host[:port]`, lower case).
    List(Vec<HeaderValue>),
}

/// Validated `[cors]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsSettings {
    /// Allowed origins.
    pub origins: AllowedOrigins,
    /// `Access-Control-Allow-Credentials: true`.
    pub allow_credentials: bool,
    /// `Access-Control-Allow-Headers`.
    pub allowed_headers: Vec<HeaderName>,
    /// `Access-Control-Max-Age`.
    pub max_age: Duration,
}

/// Validated hardening settings (`server.max_api_body_size`, `[cors]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardeningSettings {
    /// `server.max_api_body_size` in bytes: the largest body of a route other than ingest.
    pub max_api_body_bytes: usize,
    /// `None` when `cors.allowed_origins` is empty.
    pub cors: Option<CorsSettings>,
    warnings: Vec<String>,
}

impl HardeningSettings {
    /// Validates `server.max_api_body_size` and `[cors]`.
    pub fn new(server: &ServerConfig, cors: &CorsConfig) -> Result<HardeningSettings, ConfigError> {
        let max_api_body_bytes = crate::config::parse_size(&server.max_api_body_size)
            .map_err(|message| invalid("server.max_api_body_size", message))?;
        if max_api_body_bytes == 0 {
            return Err(invalid("server.max_api_body_size", "must be positive"));
        }
        let mut warnings = Vec::new();
        let cors = if cors.allowed_origins.is_empty() {
            None
        } else {
            let settings = cors_settings(cors)?;
            if settings.origins == AllowedOrigins::Any {
                warnings.push(
                    "cors.allowed_origins is \"*\": any web page may call Ward's API from a \
                     browser (with an API key it holds)"
                        .to_owned(),
                );
            }
            Some(settings)
        };
        Ok(HardeningSettings {
            max_api_body_bytes,
            cors,
            warnings,
        })
    }

    /// Valid but risky choices, for `ward serve` to log and `ward config check` to print.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

impl Default for HardeningSettings {
    fn default() -> Self {
        HardeningSettings {
            max_api_body_bytes: 1 << 20,
            cors: None,
            warnings: Vec::new(),
        }
    }
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

fn cors_settings(cors: &CorsConfig) -> Result<CorsSettings, ConfigError> {
    let origins = if cors.allowed_origins.iter().any(|o| o.trim() == "*") {
        if cors.allowed_origins.len() > 1 {
            return Err(invalid(
                "cors.allowed_origins",
                "\"*\" must be the only entry",
            ));
        }
        if cors.allow_credentials {
            return Err(invalid(
                "cors.allow_credentials",
                "cannot be true with cors.allowed_origins = [\"*\"]: list the origins",
            ));
        }
        AllowedOrigins::Any
    } else {
        let mut list = Vec::with_capacity(cors.allowed_origins.len());
        for origin in &cors.allowed_origins {
            let normal =
                parse_origin(origin).map_err(|message| invalid("cors.allowed_origins", message))?;
            let value = HeaderValue::from_str(&normal).map_err(|_| {
                invalid(
                    "cors.allowed_origins",
                    format!("{origin:?} is not an origin"),
                )
            })?;
            list.push(value);
        }
        AllowedOrigins::List(list)
    };
    let mut allowed_headers = Vec::with_capacity(cors.allowed_headers.len());
    for name in &cors.allowed_headers {
        let header = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            invalid(
                "cors.allowed_headers",
                format!("{name:?} is not a header name"),
            )
        })?;
        allowed_headers.push(header);
    }
    let nanos = ward_model::time::parse_duration(&cors.max_age)
        .map_err(|message| invalid("cors.max_age", message))?;
    if nanos < 0 {
        return Err(invalid("cors.max_age", "must not be negative"));
    }
    Ok(CorsSettings {
        origins,
        allow_credentials: cors.allow_credentials,
        allowed_headers,
        max_age: Duration::from_nanos(nanos as u64),
    })
}

/// Checks that `text` is a web origin, `scheme://host[:port]` with scheme `http` or `https`
/// and nothing after the authority, and returns it in lower case (as browsers send it).
pub fn parse_origin(text: &str) -> Result<String, String> {
    let bad = |why: &str| {
        format!(
            "{text:?} is not an origin ({why}); write scheme://host[:port], e.g. https://app.example.com"
        )
    };
    let lower = text.trim().to_ascii_lowercase();
    let Some((scheme, authority)) = lower.split_once("://") else {
        return Err(bad("no scheme"));
    };
    if scheme != "http" && scheme != "https" {
        return Err(bad("the scheme must be http or https"));
    }
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    if authority.contains(['/', '?', '#']) {
        return Err(bad("an origin has no path, query or fragment"));
    }
    if authority.contains('@') {
        return Err(bad("an origin has no user name or password"));
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err(bad("unclosed IPv6 bracket"));
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad("invalid IPv6 address"));
        }
        match after {
            "" => (v6, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (v6, Some(port)),
                None => return Err(bad("junk after the IPv6 address")),
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b':')
    {
        return Err(bad("invalid host"));
    }
    if let Some(port) = port
        && (port.is_empty()
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u16>().is_err())
    {
        return Err(bad("invalid port"));
    }
    Ok(lower)
}

/// What the security-header middleware adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderPolicy {
    /// Send `Strict-Transport-Security` (only when Ward itself serves TLS).
    pub hsts: bool,
}

/// The CORS policy in effect, shared by the layer and the configuration reload, which
/// replaces it atomically.
#[derive(Clone, Default)]
pub struct CorsPolicy(Arc<ArcSwap<Option<CorsLayer>>>);

impl CorsPolicy {
    /// The policy `[cors]` describes.
    pub fn new(settings: &HardeningSettings) -> CorsPolicy {
        CorsPolicy(Arc::new(ArcSwap::from_pointee(
            settings.cors.as_ref().map(cors_layer),
        )))
    }

    /// Puts the policy of `settings` in effect for every request that starts from now on.
    pub fn set(&self, settings: &HardeningSettings) {
        self.0
            .store(Arc::new(settings.cors.as_ref().map(cors_layer)));
    }
}

/// The hardening layer: security headers, CORS and body limits (see the module docs).
#[derive(Clone)]
pub struct HardeningLayer {
    headers: HeaderPolicy,
    cors: CorsPolicy,
    max_api_body_bytes: usize,
}

/// Builds the layer from validated settings and the CORS policy in effect. `tls_enabled`
/// turns on `Strict-Transport-Security`.
pub fn layer(settings: &HardeningSettings, tls_enabled: bool, cors: CorsPolicy) -> HardeningLayer {
    HardeningLayer {
        headers: HeaderPolicy { hsts: tls_enabled },
        cors,
        max_api_body_bytes: settings.max_api_body_bytes,
    }
}

/// Applies the CORS policy in effect (none: the request passes untouched).
async fn cors(State(policy): State<CorsPolicy>, request: Request, next: Next) -> Response {
    let current = policy.0.load();
    match current.as_ref() {
        Some(cors) => match cors.clone().layer(next).oneshot(request).await {
            Ok(response) => response.into_response(),
            Err(never) => match never {},
        },
        None => next.run(request).await,
    }
}

fn cors_layer(settings: &CorsSettings) -> CorsLayer {
    let origin = match &settings.origins {
        AllowedOrigins::Any => AllowOrigin::any(),
        AllowedOrigins::List(list) => AllowOrigin::list(list.iter().cloned()),
    };
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers(settings.allowed_headers.clone())
        .allow_credentials(settings.allow_credentials)
        .max_age(settings.max_age)
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            header::RETRY_AFTER,
            crate::ratelimit::RATELIMIT_LIMIT,
            crate::ratelimit::RATELIMIT_REMAINING,
            crate::ratelimit::RATELIMIT_RESET,
            crate::ratelimit::RATELIMIT_POLICY,
        ])
}

impl<S> Layer<S> for HardeningLayer
where
    S: Service<Request, Error = std::convert::Infallible> + Clone + Send + Sync + 'static,
    S::Response: IntoResponse + 'static,
    S::Future: Send + 'static,
{
    type Service = BoxCloneSyncService<Request, Response, std::convert::Infallible>;

    fn layer(&self, inner: S) -> Self::Service {
        let service = ServiceBuilder::new()
            .layer(from_fn_with_state(self.headers, security_headers))
            .layer(from_fn_with_state(self.cors.clone(), cors))
            .layer(from_fn_with_state(self.max_api_body_bytes, limit_body))
            // Bodies read by extractors (`Json`, `Bytes`) are cut off at the same size.
            .layer(DefaultBodyLimit::max(self.max_api_body_bytes))
            .map_response(IntoResponse::into_response)
            .service(inner);
        BoxCloneSyncService::new(service)
    }
}

fn is_ui(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// Routes whose bodies are bounded by `server.max_body_size` (checked by their handlers).
fn is_ingest(path: &str) -> bool {
    matches!(path, "/v1/logs" | "/v1/traces" | "/v1/metrics") || path.starts_with("/api/v1/ingest/")
}

fn is_preflight(request: &Request) -> bool {
    request.method() == Method::OPTIONS
        && request.headers().contains_key(header::ORIGIN)
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

async fn security_headers(
    State(policy): State<HeaderPolicy>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let ui = is_ui(path);
    let api = path.starts_with("/api/");
    let preflight = is_preflight(&request);
    let mut response = next.run(request).await;
    // An accepted preflight has no content.
    if preflight
        && response
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        && response.status() == StatusCode::OK
    {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    let headers = response.headers_mut();
    // A refused origin gets no CORS headers at all (the preflight answer of the CORS layer
    // lists methods and headers whatever the origin).
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        let cors: Vec<HeaderName> = headers
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in cors {
            headers.remove(name);
        }
    }
    let fixed = |s: &'static str| HeaderValue::from_static(s);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, fixed("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, fixed("DENY"));
    headers.insert(header::REFERRER_POLICY, fixed("no-referrer"));
    headers.insert(PERMISSIONS_POLICY_HEADER, fixed(PERMISSIONS_POLICY));
    headers.insert(COOP, fixed("same-origin"));
    // Cross-Origin-Resource-Policy only governs no-cors loads (<img>, <script>); CORS reads
    // by allowed origins are not affected by it.
    headers.insert(CORP, fixed("same-origin"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        fixed(if ui { UI_CSP } else { API_CSP }),
    );
    if api {
        headers.insert(header::CACHE_CONTROL, fixed("no-store"));
    }
    if policy.hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, fixed(HSTS));
    }
    response
}

fn too_large(limit: usize) -> Response {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body exceeds {limit} bytes (server.max_api_body_size)"),
    )
    .into_response()
}

async fn limit_body(State(limit): State<usize>, request: Request, next: Next) -> Response {
    if is_ingest(request.uri().path()) {
        return next.run(request).await;
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0)
        .max(HttpBody::size_hint(request.body()).lower());
    if declared > limit as u64 {
        return too_large(limit);
    }
    let response = next.run(request).await;
    // An extractor that hit the limit answers 413 in plain text: make it a problem.
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_problem {
        return too_large(limit);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    fn settings(toml_text: &str) -> Result<crate::config::Settings, ConfigError> {
        Config::from_toml(toml_text, |_| None)
            .map_err(|e| invalid("parse", e.to_string()))?
            .settings()
    }

    fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = axum::http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap()
    }

    async fn app(toml_text: &str) -> (tempfile::TempDir, Router) {
        let dir = tempfile::tempdir().unwrap();
        let mut state = crate::tests::test_state(dir.path()).await;
        state.settings = std::sync::Arc::new(settings(toml_text).unwrap());
        state.cors = CorsPolicy::new(&state.settings.hardening);
        (dir, crate::router(state))
    }

    const SECURITY_HEADERS: [&str; 7] = [
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
        "permissions-policy",
        "cross-origin-opener-policy",
        "cross-origin-resource-policy",
        "content-security-policy",
    ];

    fn assert_hardened(response: &Response, what: &str) {
        let h = response.headers();
        for name in SECURITY_HEADERS {
            assert!(h.contains_key(name), "{what}: no {name}");
        }
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(!h.contains_key("strict-transport-security"), "{what}");
    }

    #[tokio::test]
    async fn every_route_and_error_carries_the_security_headers() {
        let (_dir, app) = app("").await;
        let doc: serde_json::Value = serde_json::from_str(crate::routes::health::OPENAPI).unwrap();
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                let uri = path
                    .replace("{trace_id}", &"ab".repeat(16))
                    .replace("{id}", "abc");
                let response = app
                    .clone()
                    .oneshot(request(&method.to_uppercase(), &uri, &[]))
                    .await
                    .unwrap();
                let what = format!("{method} {path} ({})", response.status());
                assert_hardened(&response, &what);
                assert_eq!(response.headers()["content-security-policy"], API_CSP);
                assert_eq!(
                    response.headers().contains_key("cache-control"),
                    path.starts_with("/api/"),
                    "{what}"
                );
                if path.starts_with("/api/") {
                    assert_eq!(response.headers()["cache-control"], "no-store");
                }
                checked += 1;
            }
        }
        assert!(checked >= 17, "{checked}");
        let cases = [
            ("GET", "/nope", StatusCode::NOT_FOUND),
            ("DELETE", "/livez", StatusCode::METHOD_NOT_ALLOWED),
            ("GET", "/api/v1/logs", StatusCode::UNAUTHORIZED),
        ];
        for (method, uri, status) in cases {
            let response = app
                .clone()
                .oneshot(request(method, uri, &[]))
                .await
                .unwrap();
            assert_eq!(response.status(), status, "{method} {uri}");
            assert_hardened(&response, uri);
        }
        let ui = app
            .clone()
            .oneshot(request("GET", "/ui/index.html", &[]))
            .await
            .unwrap();
        assert_eq!(ui.status(), StatusCode::NOT_FOUND);
        assert_eq!(ui.headers()["content-security-policy"], UI_CSP);
        assert!(!ui.headers().contains_key("cache-control"));
    }

    #[tokio::test]
    async fn panics_and_hsts() {
        let hardening = HardeningSettings::default();
        let build = |tls| {
            Router::new()
                .route(
                    "/boom",
                    get(|| async {
                        if true {
                            panic!("boom");
                        }
                        "unreachable"
                    }),
                )
                .route("/api/ok", get(|| async { "ok" }))
                .layer(
                    ServiceBuilder::new()
                        .layer(layer(&hardening, tls, CorsPolicy::new(&hardening)))
                        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                            |_: Box<dyn std::any::Any + Send + 'static>| {
                                Problem::internal().into_response()
                            },
                        )),
                )
        };
        let plain = build(false);
        let r = plain
            .clone()
            .oneshot(request("GET", "/boom", &[]))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_hardened(&r, "panic");
        let r = plain.oneshot(request("GET", "/api/ok", &[])).await.unwrap();
        assert!(!r.headers().contains_key("strict-transport-security"));
        let tls = build(true);
        for uri in ["/api/ok", "/boom", "/missing"] {
            let r = tls.clone().oneshot(request("GET", uri, &[])).await.unwrap();
            assert_eq!(r.headers()["strict-transport-security"], HSTS, "{uri}");
        }
    }

    const APP_ORIGIN: &str = "https://app.example.com";

    #[tokio::test]
    async fn cors_allows_listed_origins_only() {
        let (_dir, app) = app(&format!(
            "[cors]\nallowed_origins = [\"{APP_ORIGIN}\", \"http://localhost:3000\"]\n"
        ))
        .await;
        // Preflight from an allowed origin: 204, no key needed, even on an admin route.
        let preflight = |origin: &str| {
            request(
                "OPTIONS",
                "/api/v1/keys",
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "authorization, content-type",
                    ),
                ],
            )
        };
        let r = app.clone().oneshot(preflight(APP_ORIGIN)).await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], APP_ORIGIN);
        let methods = h["access-control-allow-methods"].to_str().unwrap();
        assert!(methods.contains("POST"), "{methods}");
        let allowed = h["access-control-allow-headers"].to_str().unwrap();
        assert!(allowed.contains("authorization"), "{allowed}");
        assert_eq!(h["access-control-max-age"], "600");
        assert!(!h.contains_key("access-control-allow-credentials"));
        assert_hardened(&r, "preflight");

        // Disallowed origin: no CORS headers.
        let r = app
            .clone()
            .oneshot(preflight("https://evil.example"))
            .await
            .unwrap();
        assert!(!r.headers().contains_key("access-control-allow-origin"));
        assert!(!r.headers().contains_key("access-control-allow-methods"));

        // Actual request from an allowed origin: still 401 without a key, readable by the page.
        let r = app
            .clone()
            .oneshot(request(
                "GET",
                "/api/v1/logs",
                &[("origin", "http://localhost:3000")],
            ))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers()["access-control-allow-origin"],
            "http://localhost:3000"
        );
        let exposed = r.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap();
        assert!(exposed.contains("ratelimit-remaining"), "{exposed}");
        assert_hardened(&r, "cors 401");
        let r = app
            .clone()
            .oneshot(request(
                "GET",
                "/livez",
                &[("origin", "https://app.example.com.evil")],
            ))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(!r.headers().contains_key("access-control-allow-origin"));
    }

    #[tokio::test]
    async fn no_cors_headers_by_default_and_wildcard_without_credentials() {
        let (_dir, app) = app("").await;
        let r = app
            .clone()
            .oneshot(request("GET", "/livez", &[("origin", APP_ORIGIN)]))
            .await
            .unwrap();
        assert!(!r.headers().contains_key("access-control-allow-origin"));
        assert!(!r.headers().contains_key("vary"));
        let r = app
            .oneshot(request(
                "OPTIONS",
                "/api/v1/keys",
                &[
                    ("origin", APP_ORIGIN),
                    ("access-control-request-method", "POST"),
                ],
            ))
            .await
            .unwrap();
        assert!(!r.headers().contains_key("access-control-allow-origin"));
        assert_ne!(r.status(), StatusCode::NO_CONTENT);

        let (_dir, app) = app_any().await;
        let r = app
            .oneshot(request(
                "GET",
                "/livez",
                &[("origin", "https://anyone.example")],
            ))
            .await
            .unwrap();
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
    }

    async fn app_any() -> (tempfile::TempDir, Router) {
        app("[cors]\nallowed_origins = [\"*\"]\n").await
    }

    #[test]
    fn cors_validation() {
        let s = settings("[cors]\nallowed_origins = [\"*\"]\n").unwrap();
        assert_eq!(s.hardening.warnings().len(), 1);
        assert!(s.hardening.warnings()[0].contains("cors.allowed_origins"));
        assert!(settings("").unwrap().hardening.warnings().is_empty());
        let err = |text: &str| settings(text).unwrap_err().to_string();
        let e = err("[cors]\nallowed_origins = [\"*\"]\nallow_credentials = true\n");
        assert!(e.starts_with("cors.allow_credentials"), "{e}");
        for bad in [
            "https://app.example.com/",
            "https://app.example.com/path",
            "app.example.com",
            "ftp://app.example.com",
            "https://user@app.example.com",
            "https://app.example.com:99999",
            "https://app.example.com?x=1",
            "https://",
            "null",
        ] {
            let e = err(&format!("[cors]\nallowed_origins = [\"{bad}\"]\n"));
            assert!(e.starts_with("cors.allowed_origins"), "{bad}: {e}");
        }
        let e = err("[cors]\nallowed_origins = [\"*\", \"https://a.example\"]\n");
        assert!(e.starts_with("cors.allowed_origins"), "{e}");
        let e = err(
            "[cors]\nallowed_origins = [\"https://a.example\"]\nallowed_headers = [\"bad header\"]\n",
        );
        assert!(e.starts_with("cors.allowed_headers"), "{e}");
        let e = err("[cors]\nallowed_origins = [\"https://a.example\"]\nmax_age = \"long\"\n");
        assert!(e.starts_with("cors.max_age"), "{e}");
        let e = err("[server]\nmax_api_body_size = \"huge\"\n");
        assert!(e.starts_with("server.max_api_body_size"), "{e}");
        // Credentials with a list are fine; origins are kept in lower case.
        let s = settings(
            "[cors]\nallowed_origins = [\"HTTPS://App.Example.com:8443\", \"http://[::1]:3000\"]\nallow_credentials = true\n",
        )
        .unwrap();
        let cors = s.hardening.cors.unwrap();
        assert_eq!(
            cors.origins,
            AllowedOrigins::List(vec![
                HeaderValue::from_static("https://app.example.com:8443"),
                HeaderValue::from_static("http://[::1]:3000"),
            ])
        );
        assert!(cors.allow_credentials);
    }

    #[tokio::test]
    async fn api_bodies_are_bounded_before_authentication() {
        let (_dir, app) = app("").await;
        let big = vec![b'{'; 2 << 20];
        let post = |uri: &str, body: Vec<u8>| {
            axum::http::Request::builder()
                .method("POST")
                .uri(uri)
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap()
        };
        let r = app
            .clone()
            .oneshot(post("/api/v1/keys", big.clone()))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        assert_hardened(&r, "413");
        // Declared by Content-Length only (a streamed body).
        let r = app
            .clone()
            .oneshot(request(
                "POST",
                "/api/v1/keys",
                &[("content-length", "2097152")],
            ))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // A small body goes on to authentication.
        let r = app
            .clone()
            .oneshot(post("/api/v1/keys", b"{}".to_vec()))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        // Ingest keeps server.max_body_size: the same body reaches authentication.
        let r = app
            .clone()
            .oneshot(post("/v1/logs", big.clone()))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = app.oneshot(post("/api/v1/ingest/logs", big)).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn extractor_limits_become_problems() {
        let hardening = HardeningSettings {
            max_api_body_bytes: 16,
            ..Default::default()
        };
        // A body whose size is not known in advance (no Content-Length, no exact hint).
        let app = Router::new()
            .route(
                "/api/echo",
                axum::routing::post(
                    |body: axum::body::Bytes| async move { body.len().to_string() },
                ),
            )
            .layer(layer(&hardening, false, CorsPolicy::new(&hardening)));
        let stream =
            futures::stream::iter(vec![Ok::<_, std::io::Error>(bytes::Bytes::from(vec![
                b'x';
                64
            ]))]);
        let request = axum::http::Request::builder()
            .method("POST")
            .uri("/api/echo")
            .body(Body::from_stream(stream))
            .unwrap();
        let r = app.clone().oneshot(request).await.unwrap();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let request = axum::http::Request::builder()
            .method("POST")
            .uri("/api/echo")
            .body(Body::from("tiny"))
            .unwrap();
        let r = app.oneshot(request).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
}
