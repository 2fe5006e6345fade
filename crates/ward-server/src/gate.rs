//! The gate every authenticated request passes, over HTTP and gRPC alike: who is calling (an
//! API key, or an identity provider's token), whether the caller may do what the route needs,
//! and what to report when it may not. Refusals are counted in `/metrics`, raised as security
//! events (throttled per source), and translated at the edge into a problem (HTTP) or a
//! status (gRPC).
//!
//! The policy part (roles) can be replaced while Ward runs; a request sees either the old or
//! the new policy, never a mix.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ward_model::{SecurityEvent, SecuritySeverity, TenantId};

use crate::auth::{AuthError, KeyVerifier, Principal, bearer, looks_like_key};
use crate::authz::{Permission, Roles};
use crate::metrics::{AuthFailureLabels, Metrics};
use crate::problem::Problem;
use crate::security::SecurityEvents;

/// The part of access control that configuration decides and a reload may replace.
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    /// Roles by name (built-in and configured).
    pub roles: Roles,
}

impl AccessPolicy {
    /// The policy a validated configuration describes.
    pub fn from_settings(settings: &crate::config::Settings) -> AccessPolicy {
        AccessPolicy {
            roles: settings.roles.clone(),
        }
    }
}

/// What kind of work a route does; rate limits are set per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteClass {
    /// Telemetry intake.
    Ingest,
    /// Reads: queries, the live tail, `/metrics`.
    Query,
    /// Key management and other administration.
    Admin,
}

impl RouteClass {
    /// Lower-case name, for metrics and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteClass::Ingest => "ingest",
            RouteClass::Query => "query",
            RouteClass::Admin => "admin",
        }
    }
}

/// One request at the gate.
#[derive(Debug, Clone, Copy)]
pub struct Admission<'a> {
    /// The `Authorization` header (or gRPC `authorization` metadata), if any.
    pub authorization: Option<&'a str>,
    /// The peer's address, when known.
    pub source: Option<IpAddr>,
    /// What the route needs.
    pub need: Permission,
    /// The route's class.
    pub class: RouteClass,
    /// The route, for reports (`POST /v1/logs`).
    pub route: &'a str,
}

/// Why the gate refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The credentials were missing or refused.
    Unauthenticated(AuthError),
    /// The caller lacks the permission the route needs.
    Forbidden(Permission),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Unauthenticated(e) => write!(f, "{e}"),
            Refusal::Forbidden(p) => {
                write!(f, "this credential lacks the {:?} permission", p.as_str())
            }
        }
    }
}

impl From<Refusal> for Problem {
    fn from(refusal: Refusal) -> Problem {
        match refusal {
            Refusal::Unauthenticated(e) => Problem::from(e),
            Refusal::Forbidden(p) => {
                Problem::forbidden(Refusal::Forbidden(p).to_string()).with("permission", p.as_str())
            }
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let unauthenticated = matches!(self, Refusal::Unauthenticated(_));
        let mut response = Problem::from(self).into_response();
        if unauthenticated && response.status() == axum::http::StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ward\""),
            );
        }
        response
    }
}

/// The gate. Cheap to clone.
#[derive(Clone)]
pub struct Gate {
    inner: Arc<GateInner>,
}

struct GateInner {
    keys: KeyVerifier,
    security: SecurityEvents,
    metrics: Arc<Metrics>,
    policy: RwLock<Arc<AccessPolicy>>,
}

impl Gate {
    /// A gate checking keys with `keys` under `policy`.
    pub fn new(
        keys: KeyVerifier,
        security: SecurityEvents,
        metrics: Arc<Metrics>,
        policy: AccessPolicy,
    ) -> Gate {
        Gate {
            inner: Arc::new(GateInner {
                keys,
                security,
                metrics,
                policy: RwLock::new(Arc::new(policy)),
            }),
        }
    }

    /// The key verifier (for key management, which must forget revoked keys).
    pub fn keys(&self) -> &KeyVerifier {
        &self.inner.keys
    }

    /// The policy in effect.
    pub fn policy(&self) -> Arc<AccessPolicy> {
        match self.inner.policy.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts `policy` in effect for every request that starts from now on.
    pub fn set_policy(&self, policy: AccessPolicy) {
        let policy = Arc::new(policy);
        match self.inner.policy.write() {
            Ok(mut p) => *p = policy,
            Err(poisoned) => *poisoned.into_inner() = policy,
        }
    }

    /// Authenticates and authorizes one request.
    pub async fn admit(&self, request: &Admission<'_>) -> Result<Principal, Refusal> {
        let principal = match self.authenticate(request).await {
            Ok(p) => p,
            Err((error, tenant)) => {
                self.report_failure(request, &error, tenant);
                return Err(Refusal::Unauthenticated(error));
            }
        };
        if !principal.allows(request.need) {
            self.inner.security.raise_from(
                &principal.identity.to_string(),
                SecurityEvent::now(
                    principal.tenant.clone(),
                    SecurityEvent::FORBIDDEN,
                    SecuritySeverity::Medium,
                    format!(
                        "{} asked for {} without the {:?} permission",
                        principal.identity,
                        request.route,
                        request.need.as_str()
                    ),
                )
                .with("identity", principal.identity.to_string())
                .with("permission", request.need.as_str())
                .with("route", request.route)
                .with("source_ip", source_text(request.source)),
            );
            return Err(Refusal::Forbidden(request.need));
        }
        Ok(principal)
    }

    async fn authenticate(
        &self,
        request: &Admission<'_>,
    ) -> Result<Principal, (AuthError, Option<TenantId>)> {
        let credential = bearer(request.authorization).map_err(|e| (e, None))?;
        if looks_like_key(credential) {
            return self.inner.keys.verify_key(credential).await;
        }
        Err((AuthError::Malformed, None))
    }

    fn report_failure(&self, request: &Admission<'_>, error: &AuthError, tenant: Option<TenantId>) {
        self.inner
            .metrics
            .auth_failures
            .get_or_create(&AuthFailureLabels {
                reason: error.kind(),
            })
            .inc();
        tracing::info!(
            reason = error.kind(),
            route = request.route,
            "authentication failed"
        );
        // No credentials at all is a misconfigured client, not an attack: counted, not raised.
        if matches!(error, AuthError::Missing | AuthError::Unavailable) {
            return;
        }
        let source = source_text(request.source);
        let severity = match error {
            AuthError::Revoked | AuthError::Expired(_) => SecuritySeverity::Medium,
            _ => SecuritySeverity::Low,
        };
        self.inner.security.raise_from(
            &source,
            SecurityEvent::now(
                tenant.unwrap_or_else(TenantId::default_tenant),
                SecurityEvent::AUTHENTICATION_FAILED,
                severity,
                format!("{} refused: {}", request.route, error.kind()),
            )
            .with("reason", error.kind())
            .with("route", request.route)
            .with("source_ip", source.clone()),
        );
    }
}

fn source_text(source: Option<IpAddr>) -> String {
    source.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// State of the HTTP guard of one route: the gate and what the route needs.
#[derive(Clone)]
pub struct Guard {
    /// The gate.
    pub gate: Gate,
    /// What the route needs.
    pub need: Permission,
    /// The route's class.
    pub class: RouteClass,
    /// `METHOD /path`, for reports.
    pub route: Arc<str>,
}

/// Middleware: passes the request through the gate and hands the [`Principal`] to the
/// handler as a request extension.
pub async fn guard(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let source = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let admission = Admission {
        authorization,
        source,
        need: guard.need,
        class: guard.class,
        route: &guard.route,
    };
    match guard.gate.admit(&admission).await {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(refusal) => refusal.into_response(),
    }
}
