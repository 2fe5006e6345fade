//! Public keys from a JWKS document, signature checks, and fetching the document.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;

use super::Algorithm;
use super::config::{JwksUrl, Secret};

/// Most keys kept from one JWKS document; the rest are ignored.
pub const MAX_KEYS: usize = 100;
/// Largest JWKS document read.
pub const MAX_JWKS_BYTES: usize = 1 << 20;
/// Time allowed for one fetch (connect, request, body).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The key material of one public key.
#[derive(Clone)]
enum Material {
    /// RSA modulus and exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed EC point (`04 ‖ x ‖ y`) on P-256.
    P256(Vec<u8>),
    /// An uncompressed EC point on P-384.
    P384(Vec<u8>),
    /// An Ed25519 public key.
    Ed25519(Vec<u8>),
}

/// One usable signing key from the JWKS.
#[derive(Clone)]
pub(crate) struct PublicKey {
    pub(crate) kid: Option<String>,
    alg: Option<Algorithm>,
    material: Material,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kty = match self.material {
            Material::Rsa { .. } => "RSA",
            Material::P256(_) => "EC P-256",
            Material::P384(_) => "EC P-384",
            Material::Ed25519(_) => "OKP Ed25519",
        };
        f.debug_struct("PublicKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("kty", &kty)
            .finish()
    }
}

/// A JWK as published; only the members Ward reads.
#[derive(Deserialize)]
struct Jwk {
    kty: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    kid: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<serde_json::Value>,
}

fn b64(field: &Option<String>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(field.as_deref()?).ok()
}

fn ec_point(jwk: &Jwk, len: usize) -> Option<Vec<u8>> {
    let (x, y) = (b64(&jwk.x)?, b64(&jwk.y)?);
    if x.len() != len || y.len() != len {
        return None;
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(4);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Some(point)
}

impl PublicKey {
    /// A signing key from one JWK; `None` for keys Ward cannot or must not use (`use` other
    /// than `sig`, `key_ops` without `verify`, symmetric `oct` keys, unknown types or curves,
    /// an `alg` Ward does not know).
    fn from_jwk(jwk: &Jwk) -> Option<PublicKey> {
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        if jwk
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
        {
            return None;
        }
        let alg = match &jwk.alg {
            None => None,
            Some(name) => Some(Algorithm::parse(name).filter(|a| !a.is_symmetric())?),
        };
        let material = match (jwk.kty.as_deref()?, jwk.crv.as_deref()) {
            ("RSA", _) => {
                let n = b64(&jwk.n)?;
                let e = b64(&jwk.e)?;
                Material::Rsa { n, e }
            }
            ("EC", Some("P-256")) => Material::P256(ec_point(jwk, 32)?),
            ("EC", Some("P-384")) => Material::P384(ec_point(jwk, 48)?),
            ("OKP", Some("Ed25519")) => {
                let x = b64(&jwk.x)?;
                if x.len() != 32 {
                    return None;
                }
                Material::Ed25519(x)
            }
            _ => return None,
        };
        let key = PublicKey {
            kid: jwk.kid.clone(),
            alg,
            material,
        };
        // A key whose own alg contradicts its type is unusable.
        if let Some(a) = alg
            && !key.type_fits(a)
        {
            return None;
        }
        Some(key)
    }

    fn type_fits(&self, alg: Algorithm) -> bool {
        use Algorithm::*;
        matches!(
            (&self.material, alg),
            (
                Material::Rsa { .. },
                Rs256 | Rs384 | Rs512 | Ps256 | Ps384 | Ps512
            ) | (Material::P256(_), Es256)
                | (Material::P384(_), Es384)
                | (Material::Ed25519(_), EdDsa)
        )
    }

    /// True when this key may check a signature made with `alg`: its type fits the algorithm,
    /// and its own `alg`, when published, is the same.
    pub(crate) fn fits(&self, alg: Algorithm) -> bool {
        self.type_fits(alg) && self.alg.is_none_or(|a| a == alg)
    }

    /// Checks `signature` over `message`. False when the key does not fit `alg`.
    pub(crate) fn verify(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> bool {
        use Algorithm::*;
        if !self.fits(alg) {
            return false;
        }
        match &self.material {
            Material::Rsa { n, e } => {
                let params: &signature::RsaParameters = match alg {
                    Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
                    Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
                    _ => return false,
                };
                RsaPublicKeyComponents { n, e }
                    .verify(params, message, sig)
                    .is_ok()
            }
            Material::P256(point) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
            Material::P384(point) => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
            Material::Ed25519(x) => UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(message, sig)
                .is_ok(),
        }
    }
}

/// Checks an HS256 signature against each secret (each comparison in constant time).
pub(crate) fn verify_hs256(secrets: &[Secret], message: &[u8], sig: &[u8]) -> bool {
    secrets.iter().any(|secret| {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret.0);
        ring::hmac::verify(&key, message, sig).is_ok()
    })
}

/// Parses a JWKS document into the keys Ward can use (at most [`MAX_KEYS`]); unusable keys are
/// skipped. Returns the keys and how many were skipped.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<(Vec<PublicKey>, usize), String> {
    let jwks: Jwks =
        serde_json::from_slice(body).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut keys = Vec::new();
    let mut skipped = 0;
    for value in jwks.keys {
        let key = serde_json::from_value::<Jwk>(value)
            .ok()
            .and_then(|jwk| PublicKey::from_jwk(&jwk));
        match key {
            Some(key) if keys.len() < MAX_KEYS => keys.push(key),
            _ => skipped += 1,
        }
    }
    Ok((keys, skipped))
}

/// Fetches the JWKS document over HTTP(S) with a timeout and a size limit.
pub(crate) struct Fetcher {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    pub(crate) url: JwksUrl,
}

impl Fetcher {
    /// A client for `url`, trusting the system's root certificates, or Mozilla's when the
    /// system has none.
    pub(crate) fn new(url: JwksUrl) -> Result<Fetcher, String> {
        let client =
            Client::builder(TokioExecutor::new()).build(crate::outbound::https_connector()?);
        Ok(Fetcher { client, url })
    }

    /// Fetches and parses the key set. The error text never contains the URL's query string.
    pub(crate) async fn fetch(&self) -> Result<Vec<PublicKey>, String> {
        let request = http::Request::get(self.url.uri.clone())
            .header(
                http::header::ACCEPT,
                "application/json, application/jwk-set+json",
            )
            .header(http::header::USER_AGENT, "ward")
            .body(Empty::<Bytes>::new())
            .map_err(|_| "cannot build the request".to_owned())?;
        let work = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("request failed: {}", error_chain(&e)))?;
            let status = response.status();
            if status != http::StatusCode::OK {
                return Err(format!("answered HTTP {}", status.as_u16()));
            }
            if response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
            {
                return Err(format!("the key set is larger than {MAX_JWKS_BYTES} bytes"));
            }
            Limited::new(response.into_body(), MAX_JWKS_BYTES)
                .collect()
                .await
                .map(|body| body.to_bytes())
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        format!("the key set is larger than {MAX_JWKS_BYTES} bytes")
                    } else {
                        "reading the key set failed".to_owned()
                    }
                })
        };
        let body = tokio::time::timeout(FETCH_TIMEOUT, work)
            .await
            .map_err(|_| format!("no answer within {}s", FETCH_TIMEOUT.as_secs()))??;
        let (keys, skipped) = parse_jwks(&body)?;
        if skipped > 0 {
            tracing::debug!(
                url = %self.url.display,
                kept = keys.len(),
                skipped,
                "JWKS: skipped keys that are not usable signing keys"
            );
        }
        Ok(keys)
    }
}

/// The error and its sources, without the URL (hyper's messages do not include it).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
