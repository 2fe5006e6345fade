//! Token parsing and claim checks: pure functions, no I/O and no clock (the caller passes the
//! time). Nothing here checks a signature: [`parse`] only splits and decodes, and
//! [`ClaimRules::check`] only reads claims. [`super::JwtVerifier::verify`] runs both around the
//! signature check; they are public so that they can be fuzzed and tested on their own.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use ward_model::TenantId;

use super::{Algorithm, JwtError};

/// Longest `kid` accepted; longer ones make the token malformed.
const MAX_KID_BYTES: usize = 256;
/// Most roles one token may carry (after mapping).
const MAX_ROLES: usize = 64;
/// Longest role name kept.
const MAX_ROLE_BYTES: usize = 256;

/// A token split and decoded, signature not yet checked.
#[derive(Debug, Clone)]
pub struct ParsedToken<'a> {
    /// The `alg` header, as written (may name an algorithm Ward does not accept).
    pub alg: String,
    /// The `kid` header.
    pub kid: Option<String>,
    /// The claims (the payload, a JSON object).
    pub claims: Map<String, Value>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

/// True when `token` is shaped like a compact JWS: three non-empty base64url segments, the
/// first starting with `eyJ` (the encoding of `{"`). Decodes nothing.
pub fn looks_like_jwt(token: &str) -> bool {
    let b64url = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => {
            h.starts_with("eyJ") && b64url(h) && b64url(p) && b64url(s)
        }
        _ => false,
    }
}

fn decode(segment: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| JwtError::Malformed)
}

/// Splits and decodes a compact JWS. Refuses tokens longer than `max_bytes` before decoding
/// anything, tokens that are not three base64url segments (no padding), headers and payloads
/// that are not JSON objects, an `alg` that is not a string, a `kid` that is not a short
/// string, and any `crit` header (Ward understands no extension). Does not check the signature.
pub fn parse(token: &str, max_bytes: usize) -> Result<ParsedToken<'_>, JwtError> {
    if token.len() > max_bytes {
        return Err(JwtError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    if h.is_empty() || p.is_empty() {
        return Err(JwtError::Malformed);
    }
    let header: Map<String, Value> =
        serde_json::from_slice(&decode(h)?).map_err(|_| JwtError::Malformed)?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&decode(p)?).map_err(|_| JwtError::Malformed)?;
    let signature = decode(s)?;
    let Some(Value::String(alg)) = header.get("alg") else {
        return Err(JwtError::Malformed);
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) if kid.len() <= MAX_KID_BYTES => Some(kid.clone()),
        Some(_) => return Err(JwtError::Malformed),
    };
    if header.contains_key("crit") {
        return Err(JwtError::Malformed);
    }
    Ok(ParsedToken {
        alg: alg.clone(),
        kid,
        claims,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature,
    })
}

/// Checks the header's `alg` against the pinned list. `none` (in any case) is always refused;
/// an unknown name is refused with a shortened, printable copy of it.
pub fn check_algorithm(alg: &str, allowed: &[Algorithm]) -> Result<Algorithm, JwtError> {
    let refused = || {
        let shown: String = alg
            .chars()
            .take(16)
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+'))
            .collect();
        JwtError::AlgorithmNotAllowed(shown)
    };
    if alg.eq_ignore_ascii_case("none") {
        return Err(JwtError::AlgorithmNotAllowed("none".into()));
    }
    match Algorithm::parse(alg) {
        Some(a) if allowed.contains(&a) => Ok(a),
        _ => Err(refused()),
    }
}

/// What a verified token must claim, and how its claims become an identity.
#[derive(Debug, Clone)]
pub struct ClaimRules {
    /// Exact `iss`.
    pub issuer: String,
    /// `aud` must contain one of these.
    pub audiences: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    pub leeway_secs: i64,
    /// Claim holding the tenant.
    pub tenant_claim: String,
    /// Tenant of tokens without the tenant claim; `None` refuses them.
    pub default_tenant: Option<TenantId>,
    /// Claim holding the roles.
    pub role_claim: String,
    /// Claim value → Ward role.
    pub role_map: BTreeMap<String, String>,
    /// Roles of tokens that carry none.
    pub default_roles: Vec<String>,
}

/// What the claims say about the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedClaims {
    /// `sub`.
    pub subject: String,
    /// The tenant.
    pub tenant: TenantId,
    /// Mapped roles.
    pub roles: Vec<String>,
    /// `exp`, Unix seconds.
    pub expires_at_unix: i64,
}

/// Looks a claim up by its exact name, or else, when the name has dots, as a path through
/// nested objects (`realm_access.roles`).
fn lookup<'c>(claims: &'c Map<String, Value>, name: &str) -> Option<&'c Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    if !name.contains('.') {
        return None;
    }
    let mut parts = name.split('.');
    let mut current = claims.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// A NumericDate claim as whole Unix seconds; `Err` when present but not a finite number.
fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = n.as_f64().filter(|f| f.is_finite()) {
                // Saturating float → integer conversion.
                Ok(Some(f.floor() as i64))
            } else {
                Err(JwtError::InvalidClaim(name))
            }
        }
        Some(_) => Err(JwtError::InvalidClaim(name)),
    }
}

impl ClaimRules {
    /// Checks times, issuer and audience at `now_unix` and derives subject, tenant and roles.
    pub fn check(
        &self,
        claims: &Map<String, Value>,
        now_unix: i64,
    ) -> Result<CheckedClaims, JwtError> {
        let leeway = self.leeway_secs;
        let exp = numeric_date(claims, "exp")?.ok_or(JwtError::MissingClaim("exp"))?;
        if now_unix >= exp.saturating_add(leeway) {
            return Err(JwtError::Expired);
        }
        if let Some(nbf) = numeric_date(claims, "nbf")?
            && nbf > now_unix.saturating_add(leeway)
        {
            return Err(JwtError::NotYetValid);
        }
        if let Some(iat) = numeric_date(claims, "iat")?
            && iat > now_unix.saturating_add(leeway)
        {
            return Err(JwtError::NotYetValid);
        }
        match claims.get("iss") {
            None => return Err(JwtError::MissingClaim("iss")),
            Some(Value::String(iss)) if *iss == self.issuer => {}
            Some(_) => return Err(JwtError::WrongIssuer),
        }
        let audience_ok = match claims.get("aud") {
            None => return Err(JwtError::MissingClaim("aud")),
            Some(Value::String(aud)) => self.audiences.contains(aud),
            Some(Value::Array(auds)) => auds
                .iter()
                .filter_map(Value::as_str)
                .any(|a| self.audiences.iter().any(|x| x == a)),
            Some(_) => return Err(JwtError::InvalidClaim("aud")),
        };
        if !audience_ok {
            return Err(JwtError::WrongAudience);
        }
        let subject = match claims.get("sub") {
            None => return Err(JwtError::MissingClaim("sub")),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => return Err(JwtError::InvalidClaim("sub")),
        };
        let tenant = match lookup(claims, &self.tenant_claim) {
            None | Some(Value::Null) => self
                .default_tenant
                .clone()
                .ok_or(JwtError::MissingClaim("tenant"))?,
            Some(Value::String(t)) => TenantId::new(t).map_err(|_| JwtError::BadTenant)?,
            Some(_) => return Err(JwtError::BadTenant),
        };
        let raw: Vec<&str> = match lookup(claims, &self.role_claim) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(r)) => vec![r.as_str()],
            Some(Value::Array(rs)) => rs.iter().filter_map(Value::as_str).collect(),
            Some(_) => return Err(JwtError::InvalidClaim("roles")),
        };
        let mut roles: Vec<String> = Vec::new();
        for r in raw {
            let mapped = self.role_map.get(r).map(String::as_str).unwrap_or(r);
            if mapped.is_empty() || mapped.len() > MAX_ROLE_BYTES {
                continue;
            }
            if !roles.iter().any(|x| x == mapped) {
                if roles.len() == MAX_ROLES {
                    return Err(JwtError::InvalidClaim("roles"));
                }
                roles.push(mapped.to_owned());
            }
        }
        if roles.is_empty() {
            roles = self.default_roles.clone();
        }
        Ok(CheckedClaims {
            subject,
            tenant,
            roles,
            expires_at_unix: exp,
        })
    }
}
