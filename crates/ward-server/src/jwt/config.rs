//! `[auth.jwt]`: the serde configuration and its validation into [`JwtSettings`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ward_model::TenantId;
use zeroize::Zeroizing;

use super::token::ClaimRules;

/// Shortest HS256 secret accepted: 256 bits, the size of the hash (RFC 7518 §3.2).
pub const MIN_HS256_SECRET_BYTES: usize = 32;
/// Largest clock skew allowed.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// Largest `max_token_bytes`.
pub const MAX_TOKEN_BYTES_LIMIT: usize = 64 * 1024;

/// A signature algorithm Ward can accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// Ed25519.
    EdDsa,
    /// HMAC with SHA-256, with a shared secret.
    Hs256,
}

impl Algorithm {
    /// Every algorithm, in the order of the documentation.
    pub const ALL: [Algorithm; 10] = [
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
        Algorithm::Hs256,
    ];

    /// The JOSE name (`RS256`).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Hs256 => "HS256",
        }
    }

    /// Parses a JOSE name, exactly as spelled by RFC 7518 (case matters).
    pub fn parse(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// True for HS256, whose key is a shared secret rather than a published public key.
    pub fn is_symmetric(self) -> bool {
        self == Algorithm::Hs256
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[auth.jwt]` in ward.toml: bearer tokens issued by an identity provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwtConfig {
    /// Accept JWT bearer tokens. Default false.
    pub enabled: bool,
    /// Required when enabled; the `iss` claim must equal it exactly.
    pub issuer: String,
    /// Required when enabled; the `aud` claim (string or array) must contain one of these.
    pub audiences: Vec<String>,
    /// Where the provider publishes its keys: `https://…`, or `http://` only for a loopback
    /// host. Required when an asymmetric algorithm is allowed.
    pub jwks_url: String,
    /// The accepted algorithms (pinned). Default `["RS256", "ES256"]`. Allowed: RS256, RS384,
    /// RS512, PS256, PS384, PS512, ES256, ES384, EdDSA, HS256.
    pub algorithms: Vec<String>,
    /// Files each holding one HS256 secret (at least 32 bytes; a trailing newline is ignored).
    /// Every listed secret is accepted, which allows rotation without downtime.
    pub hs256_secret_files: Vec<String>,
    /// Names of environment variables each holding one HS256 secret.
    pub hs256_secret_env: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`. Default `60s`, at most `5m`.
    pub leeway: String,
    /// How often the key set is refreshed. Default `10m`.
    pub jwks_refresh_interval: String,
    /// Least time between two fetches of the key set (a token with an unknown `kid` triggers a
    /// fetch only when the last one is older). Default `30s`.
    pub jwks_min_refetch_interval: String,
    /// Claim holding the tenant. Default `ward_tenant`. A dotted name that is not itself a claim
    /// is a path into nested objects.
    pub tenant_claim: String,
    /// Tenant of tokens without the tenant claim; empty (the default) refuses such tokens.
    pub default_tenant: String,
    /// Claim holding the roles, a string or an array of strings. Default `ward_roles`. A dotted
    /// name that is not itself a claim is a path into nested objects (`realm_access.roles`).
    pub role_claim: String,
    /// Claim value (e.g. an identity provider group) → Ward role; unmapped values pass unchanged.
    pub role_map: BTreeMap<String, String>,
    /// Roles of tokens whose role claim is absent or empty. Default none.
    pub default_roles: Vec<String>,
    /// Longest token accepted, in bytes, checked before decoding. Default 8192.
    pub max_token_bytes: usize,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            enabled: false,
            issuer: String::new(),
            audiences: Vec::new(),
            jwks_url: String::new(),
            algorithms: vec!["RS256".into(), "ES256".into()],
            hs256_secret_files: Vec::new(),
            hs256_secret_env: Vec::new(),
            leeway: "60s".into(),
            jwks_refresh_interval: "10m".into(),
            jwks_min_refetch_interval: "30s".into(),
            tenant_claim: "ward_tenant".into(),
            default_tenant: String::new(),
            role_claim: "ward_roles".into(),
            role_map: BTreeMap::new(),
            default_roles: Vec::new(),
            max_token_bytes: 8192,
        }
    }
}

/// Why `[auth.jwt]` was refused. The message names the key and never contains a secret.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct JwtConfigError {
    /// The offending key (`auth.jwt.audiences`).
    pub key: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

fn invalid(key: &'static str, message: impl Into<String>) -> JwtConfigError {
    JwtConfigError {
        key,
        message: message.into(),
    }
}

/// One HS256 secret, wiped from memory when dropped.
#[derive(Clone)]
pub(crate) struct Secret(pub(crate) Zeroizing<Vec<u8>>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The JWKS location: the URI to fetch and a form safe to log (no query string, no fragment).
#[derive(Clone)]
pub(crate) struct JwksUrl {
    pub(crate) uri: http::Uri,
    pub(crate) display: String,
}

impl fmt::Debug for JwksUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

/// A validated `[auth.jwt]`, secrets loaded. `Debug` never shows secrets or the URL's query.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub(crate) enabled: bool,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) secrets: Vec<Secret>,
    pub(crate) jwks_url: Option<JwksUrl>,
    pub(crate) refresh_interval: Duration,
    pub(crate) min_refetch_interval: Duration,
    pub(crate) rules: ClaimRules,
    pub(crate) max_token_bytes: usize,
}

impl JwtSettings {
    /// True when JWT bearer tokens are accepted.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The pinned algorithms.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// How many HS256 secrets are active.
    pub fn hs256_secret_count(&self) -> usize {
        self.secrets.len()
    }

    /// The claim rules (issuer, audiences, leeway, tenant and role mapping).
    pub fn claim_rules(&self) -> &ClaimRules {
        &self.rules
    }

    /// The longest token accepted, in bytes.
    pub fn max_token_bytes(&self) -> usize {
        self.max_token_bytes
    }
}

fn duration(key: &'static str, text: &str) -> Result<Duration, JwtConfigError> {
    let nanos = ward_model::time::parse_duration(text).map_err(|m| invalid(key, m))?;
    if nanos < 0 {
        return Err(invalid(key, "must not be negative"));
    }
    Ok(Duration::from_nanos(nanos as u64))
}

fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.eq_ignore_ascii_case("localhost") {
        return true;
    }
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn jwks_url(text: &str) -> Result<JwksUrl, JwtConfigError> {
    const KEY: &str = "auth.jwt.jwks_url";
    let uri: http::Uri = text.parse().map_err(|_| {
        invalid(
            KEY,
            "not a URL; use e.g. https://idp.example.com/.well-known/jwks.json",
        )
    })?;
    let Some(authority) = uri.authority() else {
        return Err(invalid(KEY, "the URL has no host"));
    };
    if authority.as_str().contains('@') {
        return Err(invalid(KEY, "credentials in the URL are not supported"));
    }
    let host = authority.host();
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if is_loopback_host(host) => {}
        Some("http") => {
            return Err(invalid(
                KEY,
                "http:// is allowed only for a loopback host (localhost, 127.0.0.1, ::1); use https://",
            ));
        }
        _ => return Err(invalid(KEY, "the URL must start with https://")),
    }
    let display = format!(
        "{}://{}{}",
        uri.scheme_str().unwrap_or(""),
        authority,
        uri.path()
    );
    Ok(JwksUrl { uri, display })
}

fn load_secret(bytes: Vec<u8>, what: &str, key: &'static str) -> Result<Secret, JwtConfigError> {
    let mut bytes = Zeroizing::new(bytes);
    while matches!(bytes.last(), Some(b'\n' | b'\r')) {
        bytes.pop();
    }
    if bytes.len() < MIN_HS256_SECRET_BYTES {
        return Err(invalid(
            key,
            format!(
                "{what}: the secret is shorter than {MIN_HS256_SECRET_BYTES} bytes; use at least 256 random bits"
            ),
        ));
    }
    Ok(Secret(bytes))
}

impl JwtConfig {
    /// Checks the configuration and loads the HS256 secrets (files and environment variables).
    /// Only when `enabled` are issuer, audiences, keys and secrets required.
    pub fn validate(&self) -> Result<JwtSettings, JwtConfigError> {
        self.validate_with(|name| std::env::var_os(name).map(|v| v.into_encoded_bytes()))
    }

    /// As [`JwtConfig::validate`], reading environment variables through `env`.
    pub fn validate_with(
        &self,
        env: impl Fn(&str) -> Option<Vec<u8>>,
    ) -> Result<JwtSettings, JwtConfigError> {
        let leeway = duration("auth.jwt.leeway", &self.leeway)?;
        if leeway > MAX_LEEWAY {
            return Err(invalid("auth.jwt.leeway", "must be at most 5m"));
        }
        let refresh_interval = duration(
            "auth.jwt.jwks_refresh_interval",
            &self.jwks_refresh_interval,
        )?;
        if refresh_interval < Duration::from_secs(1) {
            return Err(invalid(
                "auth.jwt.jwks_refresh_interval",
                "must be at least 1s",
            ));
        }
        let min_refetch_interval = duration(
            "auth.jwt.jwks_min_refetch_interval",
            &self.jwks_min_refetch_interval,
        )?;
        if min_refetch_interval < Duration::from_secs(1) {
            return Err(invalid(
                "auth.jwt.jwks_min_refetch_interval",
                "must be at least 1s",
            ));
        }
        if self.max_token_bytes == 0 || self.max_token_bytes > MAX_TOKEN_BYTES_LIMIT {
            return Err(invalid(
                "auth.jwt.max_token_bytes",
                format!("must be between 1 and {MAX_TOKEN_BYTES_LIMIT}"),
            ));
        }
        let mut algorithms = Vec::new();
        for name in &self.algorithms {
            if name.eq_ignore_ascii_case("none") {
                return Err(invalid(
                    "auth.jwt.algorithms",
                    "\"none\" is never accepted: unsigned tokens prove nothing",
                ));
            }
            let alg = Algorithm::parse(name).ok_or_else(|| {
                invalid(
                    "auth.jwt.algorithms",
                    format!(
                        "unknown algorithm {name:?}: use RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA or HS256"
                    ),
                )
            })?;
            if !algorithms.contains(&alg) {
                algorithms.push(alg);
            }
        }
        if algorithms.is_empty() {
            return Err(invalid(
                "auth.jwt.algorithms",
                "name at least one algorithm",
            ));
        }
        let default_tenant = if self.default_tenant.is_empty() {
            None
        } else {
            Some(
                TenantId::new(&self.default_tenant)
                    .map_err(|e| invalid("auth.jwt.default_tenant", e.to_string()))?,
            )
        };
        if self.tenant_claim.is_empty() {
            return Err(invalid("auth.jwt.tenant_claim", "must not be empty"));
        }
        if self.role_claim.is_empty() {
            return Err(invalid("auth.jwt.role_claim", "must not be empty"));
        }
        let rules = ClaimRules {
            issuer: self.issuer.clone(),
            audiences: self.audiences.clone(),
            leeway_secs: leeway.as_secs() as i64,
            tenant_claim: self.tenant_claim.clone(),
            default_tenant,
            role_claim: self.role_claim.clone(),
            role_map: self.role_map.clone(),
            default_roles: self.default_roles.clone(),
        };
        let mut settings = JwtSettings {
            enabled: self.enabled,
            algorithms,
            secrets: Vec::new(),
            jwks_url: None,
            refresh_interval,
            min_refetch_interval,
            rules,
            max_token_bytes: self.max_token_bytes,
        };
        if !self.jwks_url.is_empty() {
            settings.jwks_url = Some(jwks_url(&self.jwks_url)?);
        }
        if !self.enabled {
            return Ok(settings);
        }
        if self.issuer.trim().is_empty() {
            return Err(invalid(
                "auth.jwt.issuer",
                "required when auth.jwt.enabled is true: the identity provider's issuer URL, exactly as in its tokens' iss claim",
            ));
        }
        if self.audiences.is_empty() || self.audiences.iter().any(|a| a.is_empty()) {
            return Err(invalid(
                "auth.jwt.audiences",
                "required when auth.jwt.enabled is true: name at least one audience (the aud claim Ward's tokens carry); empty names are not allowed",
            ));
        }
        let asymmetric = settings.algorithms.iter().any(|a| !a.is_symmetric());
        if asymmetric && settings.jwks_url.is_none() {
            return Err(invalid(
                "auth.jwt.jwks_url",
                "required when auth.jwt.algorithms names an asymmetric algorithm",
            ));
        }
        let has_secrets = !self.hs256_secret_files.is_empty() || !self.hs256_secret_env.is_empty();
        let hs256 = settings.algorithms.contains(&Algorithm::Hs256);
        if hs256 && !has_secrets {
            return Err(invalid(
                "auth.jwt.hs256_secret_files",
                "HS256 is allowed but no secret is configured: set hs256_secret_files or hs256_secret_env",
            ));
        }
        if !hs256 && has_secrets {
            return Err(invalid(
                "auth.jwt.algorithms",
                "HS256 secrets are configured but HS256 is not in auth.jwt.algorithms",
            ));
        }
        for path in &self.hs256_secret_files {
            let bytes = std::fs::read(path).map_err(|e| {
                invalid(
                    "auth.jwt.hs256_secret_files",
                    format!("cannot read {path}: {e}"),
                )
            })?;
            settings
                .secrets
                .push(load_secret(bytes, path, "auth.jwt.hs256_secret_files")?);
        }
        for name in &self.hs256_secret_env {
            let bytes = env(name).ok_or_else(|| {
                invalid(
                    "auth.jwt.hs256_secret_env",
                    format!("environment variable {name} is not set"),
                )
            })?;
            settings.secrets.push(load_secret(
                bytes,
                &format!("environment variable {name}"),
                "auth.jwt.hs256_secret_env",
            )?);
        }
        Ok(settings)
    }
}
