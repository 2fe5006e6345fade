//! The gate every authenticated request passes, over HTTP and gRPC alike, in this order:
//!
//! 1. a source blocked for repeated authentication failures is refused (429);
//! 2. the source's rate for the route class is checked (429);
//! 3. the credential is verified: an API key, or an identity provider's token (401). A failure
//!    counts towards the source's brute-force record, which delays the answer and may block
//!    the source, and towards the `auth` rate of the source and of the key id tried;
//! 4. the caller's rate for the route class is checked (429);
//! 5. the caller's grants must cover the permission the route needs (403).
//!
//! Refusals are counted in `/metrics`, raised as security events (throttled per source), and
//! translated at the edge into a problem (HTTP) or a status (gRPC). The policy (roles, rate
//! limits) can be replaced while Ward runs; a request sees either the old or the new policy,
//! never a mix.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ward_model::{SecurityEvent, SecuritySeverity, TenantId};

use crate::auth::{AuthError, Identity, KeyVerifier, Principal, bearer, looks_like_key};
use crate::authz::{Permission, Roles};
use crate::jwt::{JwtError, JwtVerifier};
use crate::metrics::{AuthFailureLabels, Metrics};
use crate::problem::Problem;
pub use crate::ratelimit::RouteClass;
use crate::ratelimit::{BruteForceGuard, Decision, LimitSubject, RateLimiter};
use crate::security::SecurityEvents;

/// The part of access control that configuration decides and a reload may replace.
#[derive(Clone)]
pub struct AccessPolicy {
    /// Roles by name (built-in and configured).
    pub roles: Roles,
    /// Request rates per route class, per caller and per source.
    pub limiter: RateLimiter,
    /// Delays and blocks after failed authentications.
    pub brute_force: BruteForceGuard,
    /// `tls.client_auth = "ingest"`: ingest needs a verified client certificate.
    pub ingest_needs_client_certificate: bool,
    /// Verifies identity providers' tokens, when `[auth.jwt]` is enabled.
    pub jwt: Option<JwtVerifier>,
}

impl AccessPolicy {
    /// The policy a validated configuration describes.
    pub fn from_settings(settings: &crate::config::Settings) -> AccessPolicy {
        AccessPolicy {
            roles: settings.roles.clone(),
            limiter: RateLimiter::new(&settings.rate_limits),
            brute_force: BruteForceGuard::new(&settings.rate_limits),
            jwt: settings.jwt.clone().map(JwtVerifier::new),
            ingest_needs_client_certificate: settings
                .tls
                .as_ref()
                .is_some_and(|t| t.client_auth == crate::config::ClientAuth::Ingest),
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
    /// Whether the connection presented a verified client certificate.
    pub client_certificate: bool,
}

/// Why the gate refused a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The credentials were missing or refused.
    Unauthenticated(AuthError),
    /// The caller lacks the permission the route needs.
    Forbidden(Permission),
    /// A rate limit was exceeded.
    RateLimited(Decision),
    /// The source is blocked after repeated authentication failures, for this long still.
    Blocked(Duration),
}

impl Refusal {
    /// Seconds the client should wait before retrying, for refusals that end by themselves.
    pub fn retry_after_secs(&self) -> Option<u64> {
        let wait = match self {
            Refusal::RateLimited(d) => d.retry_after.unwrap_or(Duration::from_secs(1)),
            Refusal::Blocked(left) => *left,
            _ => return None,
        };
        Some(wait.as_secs_f64().ceil().max(1.0) as u64)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Unauthenticated(e) => write!(f, "{e}"),
            Refusal::Forbidden(p) => {
                write!(f, "this credential lacks the {:?} permission", p.as_str())
            }
            Refusal::RateLimited(_) => f.write_str("rate limit exceeded"),
            Refusal::Blocked(_) => f.write_str(
                "too many failed authentications from this address; it is blocked for a while",
            ),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Unauthenticated(e) => {
                let mut response = Problem::from(e).into_response();
                if response.status() == axum::http::StatusCode::UNAUTHORIZED {
                    response.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Bearer realm=\"ward\""),
                    );
                }
                response
            }
            Refusal::Forbidden(p) => Problem::forbidden(Refusal::Forbidden(p).to_string())
                .with("permission", p.as_str())
                .into_response(),
            Refusal::RateLimited(decision) => decision.too_many_requests(),
            Refusal::Blocked(_) => {
                let seconds = self.retry_after_secs().unwrap_or(1);
                Problem::retry_later(
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    self.to_string(),
                    u32::try_from(seconds).unwrap_or(u32::MAX),
                )
                .into_response()
            }
        }
    }
}

/// An admitted request: who is calling, and the caller's rate-limit state for the response
/// headers.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// The caller.
    pub principal: Principal,
    /// The caller's rate-limit decision (`RateLimit-*` headers).
    pub limit: Decision,
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

    /// Admits or refuses one request (see the module documentation for the order).
    pub async fn admit(&self, request: &Admission<'_>) -> Result<Admitted, Refusal> {
        let policy = self.policy();
        let now = Instant::now();
        if let Some(ip) = request.source {
            if let Some(left) = policy.brute_force.blocked(ip, now) {
                return Err(Refusal::Blocked(left));
            }
            let subject = LimitSubject::Ip(ip);
            let decision = policy.limiter.check(request.class, &subject, now);
            if !decision.allowed {
                return Err(self.rate_limited(request, None, &subject, decision));
            }
        }
        let principal = match self.authenticate(&policy, request).await {
            Ok(p) => p,
            Err((error, tenant)) => {
                return Err(self.failed(&policy, request, error, tenant).await);
            }
        };
        if let Some(ip) = request.source {
            policy.brute_force.record_success(ip);
        }
        let subject = LimitSubject::Key(principal.identity.to_string());
        let limit = policy.limiter.check(request.class, &subject, now);
        if !limit.allowed {
            return Err(self.rate_limited(request, Some(&principal.tenant), &subject, limit));
        }
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
        Ok(Admitted { principal, limit })
    }

    /// Reports a refusal by the rate limit of the request's class, to the caller's tenant when
    /// the caller is known.
    fn rate_limited(
        &self,
        request: &Admission<'_>,
        tenant: Option<&TenantId>,
        subject: &LimitSubject,
        decision: Decision,
    ) -> Refusal {
        let class = request.class;
        self.inner.metrics.count_rate_limited(class, subject);
        let who = match subject {
            LimitSubject::Key(identity) => identity.clone(),
            LimitSubject::Ip(ip) => ip.to_string(),
        };
        self.inner.security.raise_from(
            &who,
            SecurityEvent::now(
                tenant.cloned().unwrap_or_else(TenantId::default_tenant),
                SecurityEvent::RATE_LIMITED,
                SecuritySeverity::Low,
                format!("{who} exceeded the {} rate limit", class.as_str()),
            )
            .with("class", class.as_str())
            .with("subject", who.clone())
            .with("route", request.route)
            .with("source_ip", source_text(request.source)),
        );
        Refusal::RateLimited(decision)
    }

    /// Records a failed authentication: metrics, event, brute-force delay and block, and the
    /// `auth` rate of the source and of the key id tried.
    async fn failed(
        &self,
        policy: &AccessPolicy,
        request: &Admission<'_>,
        error: AuthError,
        tenant: Option<TenantId>,
    ) -> Refusal {
        self.report_failure(request, &error, tenant.clone());
        if matches!(error, AuthError::Missing | AuthError::Unavailable) {
            return Refusal::Unauthenticated(error);
        }
        let now = Instant::now();
        let mut refusal = Refusal::Unauthenticated(error);
        let mut delay = Duration::ZERO;
        let mut auth_subjects = Vec::with_capacity(2);
        if let Some(ip) = request.source {
            let outcome = policy.brute_force.record_failure(ip, now);
            delay = outcome.delay;
            if outcome.newly_blocked {
                self.inner
                    .metrics
                    .set_auth_blocked_sources(policy.brute_force.blocked_sources(now));
                self.inner.security.raise(
                    SecurityEvent::now(
                        tenant.clone().unwrap_or_else(TenantId::default_tenant),
                        SecurityEvent::BRUTE_FORCE_BLOCKED,
                        SecuritySeverity::High,
                        format!("{ip} blocked after repeated failed authentications"),
                    )
                    .with("source_ip", ip.to_string())
                    .with("route", request.route),
                );
            }
            auth_subjects.push(LimitSubject::Ip(ip));
        }
        if let Some(id) = bearer(request.authorization)
            .ok()
            .and_then(crate::auth::key_id)
        {
            auth_subjects.push(LimitSubject::Key(format!("key:{id}")));
        }
        for subject in auth_subjects {
            let decision = policy.limiter.check(RouteClass::Auth, &subject, now);
            if !decision.allowed {
                self.inner
                    .metrics
                    .count_rate_limited(RouteClass::Auth, &subject);
                refusal = Refusal::RateLimited(decision);
            }
        }
        // Slows guessing down without holding a thread: the task sleeps, the runtime serves on.
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        refusal
    }

    async fn authenticate(
        &self,
        policy: &AccessPolicy,
        request: &Admission<'_>,
    ) -> Result<Principal, (AuthError, Option<TenantId>)> {
        if request.class == RouteClass::Ingest
            && policy.ingest_needs_client_certificate
            && !request.client_certificate
        {
            return Err((AuthError::ClientCertificate, None));
        }
        let credential = bearer(request.authorization).map_err(|e| (e, None))?;
        if looks_like_key(credential) {
            return self.inner.keys.verify_key(credential).await;
        }
        match &policy.jwt {
            Some(verifier) if JwtVerifier::looks_like_jwt(credential) => {
                let identity = verifier.verify(credential).await.map_err(|e| {
                    let error = match e {
                        JwtError::KeysUnavailable => AuthError::Unavailable,
                        other => AuthError::Token(other.to_string()),
                    };
                    (error, None)
                })?;
                let unknown: Vec<&String> = identity
                    .roles
                    .iter()
                    .filter(|r| policy.roles.get(r).is_none())
                    .collect();
                if !unknown.is_empty() {
                    tracing::debug!(roles = ?unknown, "token names roles Ward does not know; ignored");
                }
                Ok(Principal {
                    grants: policy.roles.grants_of(&identity.roles),
                    identity: Identity::Token(identity.subject),
                    tenant: identity.tenant,
                })
            }
            _ => Err((AuthError::Malformed, None)),
        }
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
        client_certificate: request
            .extensions()
            .get::<crate::tls::ClientCertificate>()
            .is_some(),
    };
    match guard.gate.admit(&admission).await {
        Ok(admitted) => {
            request.extensions_mut().insert(admitted.principal);
            let mut response = next.run(request).await;
            admitted.limit.apply_headers(response.headers_mut());
            response
        }
        Err(refusal) => refusal.into_response(),
    }
}
