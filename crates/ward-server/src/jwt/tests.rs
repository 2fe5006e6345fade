//! Verifier tests against a local JWKS server (axum on 127.0.0.1:0) serving generated keys.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents,
};
use serde_json::{Value, json};

use super::*;

const ISSUER: &str = "https://idp.example.test/realms/ward";
const SECRET_1: &[u8] = b"first-hs256-secret-of-at-least-32-bytes!";
const SECRET_2: &[u8] = b"second-hs256-secret-of-at-least-32-bytes";

// ---------------------------------------------------------------------------------------------
// Keys

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

fn rsa_a() -> &'static RsaKeyPair {
    static KEY: OnceLock<RsaKeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        RsaKeyPair::from_pkcs8(&pem_der(include_str!("../../tests/data/jwt/rsa-a.pk8.pem")))
            .unwrap()
    })
}

fn rsa_b() -> &'static RsaKeyPair {
    static KEY: OnceLock<RsaKeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        RsaKeyPair::from_pkcs8(&pem_der(include_str!("../../tests/data/jwt/rsa-b.pk8.pem")))
            .unwrap()
    })
}

const RSA_A_PUBLIC_PEM: &str = include_str!("../../tests/data/jwt/rsa-a.pub.pem");

fn ec_key() -> &'static EcdsaKeyPair {
    static KEY: OnceLock<EcdsaKeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap()
    })
}

fn ed_key() -> &'static Ed25519KeyPair {
    static KEY: OnceLock<Ed25519KeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    })
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rsa_jwk(key: &RsaKeyPair, kid: &str) -> Value {
    let c = RsaPublicKeyComponents::<Vec<u8>>::from(key.public());
    json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(&c.n), "e": b64(&c.e)})
}

fn ec_jwk(kid: &str) -> Value {
    let point = ec_key().public_key().as_ref();
    json!({"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
}

fn ed_jwk(kid: &str) -> Value {
    json!({"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(ed_key().public_key().as_ref())})
}

enum Signer<'a> {
    Rsa(&'a RsaKeyPair),
    Ec,
    Ed,
    Hmac(&'a [u8]),
    Unsigned,
}

fn sign_input(input: &str, signer: &Signer<'_>) -> Vec<u8> {
    let rng = SystemRandom::new();
    match signer {
        Signer::Rsa(key) => {
            let mut sig = vec![0; key.public().modulus_len()];
            key.sign(
                &signature::RSA_PKCS1_SHA256,
                &rng,
                input.as_bytes(),
                &mut sig,
            )
            .unwrap();
            sig
        }
        Signer::Ec => ec_key()
            .sign(&rng, input.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec(),
        Signer::Ed => ed_key().sign(input.as_bytes()).as_ref().to_vec(),
        Signer::Hmac(secret) => {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
            ring::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
        }
        Signer::Unsigned => Vec::new(),
    }
}

fn token_with_header(header: Value, claims: &Value, signer: &Signer<'_>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = sign_input(&input, signer);
    format!("{input}.{}", b64(&sig))
}

fn token(alg: &str, kid: Option<&str>, claims: &Value, signer: &Signer<'_>) -> String {
    let mut header = json!({"alg": alg, "typ": "JWT"});
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    token_with_header(header, claims, signer)
}

fn now() -> i64 {
    super::now_unix()
}

fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": ["account", "ward"],
        "sub": "user-1",
        "iat": now(),
        "exp": now() + 300,
        "ward_tenant": "acme",
        "ward_roles": ["observability-readers", "ops"],
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    if value.is_null() {
        claims.as_object_mut().unwrap().remove(key);
    } else {
        claims[key] = value;
    }
    claims
}

// ---------------------------------------------------------------------------------------------
// A local JWKS server

struct JwksServer {
    addr: SocketAddr,
    doc: Mutex<Value>,
    hits: AtomicUsize,
    down: AtomicBool,
}

async fn serve_jwks(State(server): State<Arc<JwksServer>>) -> Response {
    server.hits.fetch_add(1, Ordering::SeqCst);
    if server.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let doc = server.doc.lock().unwrap().clone();
    Json(doc).into_response()
}

impl JwksServer {
    async fn start(keys: Vec<Value>) -> Arc<JwksServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Arc::new(JwksServer {
            addr: listener.local_addr().unwrap(),
            doc: Mutex::new(json!({ "keys": keys })),
            hits: AtomicUsize::new(0),
            down: AtomicBool::new(false),
        });
        let app = axum::Router::new()
            .route("/jwks", axum::routing::get(serve_jwks))
            .with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        server
    }

    fn url(&self) -> String {
        format!("http://{}/jwks?secret-query=1", self.addr)
    }

    fn publish(&self, keys: Vec<Value>) {
        *self.doc.lock().unwrap() = json!({ "keys": keys });
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn config(jwks_url: &str) -> JwtConfig {
    JwtConfig {
        enabled: true,
        issuer: ISSUER.into(),
        audiences: vec!["ward".into()],
        jwks_url: jwks_url.into(),
        algorithms: vec![
            "RS256".into(),
            "ES256".into(),
            "EdDSA".into(),
            "HS256".into(),
        ],
        hs256_secret_env: vec!["WARD_TEST_JWT_1".into(), "WARD_TEST_JWT_2".into()],
        role_map: BTreeMap::from([("observability-readers".into(), "read".into())]),
        ..JwtConfig::default()
    }
}

fn test_env(name: &str) -> Option<Vec<u8>> {
    match name {
        "WARD_TEST_JWT_1" => Some(SECRET_1.to_vec()),
        "WARD_TEST_JWT_2" => Some(SECRET_2.to_vec()),
        _ => None,
    }
}

fn verifier(config: &JwtConfig) -> JwtVerifier {
    JwtVerifier::new(config.validate_with(test_env).unwrap())
}

async fn standard() -> (Arc<JwksServer>, JwtVerifier) {
    let server = JwksServer::start(vec![
        rsa_jwk(rsa_a(), "rsa-a"),
        ec_jwk("ec-1"),
        ed_jwk("ed-1"),
    ])
    .await;
    let v = verifier(&config(&server.url()));
    (server, v)
}

// ---------------------------------------------------------------------------------------------
// Accepted tokens

#[tokio::test]
async fn valid_rs256_gives_identity_with_tenant_and_mapped_roles() {
    let (server, v) = standard().await;
    let c = claims();
    let id = v
        .verify(&token("RS256", Some("rsa-a"), &c, &Signer::Rsa(rsa_a())))
        .await
        .unwrap();
    assert_eq!(id.subject, "user-1");
    assert_eq!(id.tenant.as_str(), "acme");
    assert_eq!(id.roles, vec!["read".to_owned(), "ops".to_owned()]);
    assert_eq!(id.expires_at_unix, c["exp"].as_i64().unwrap());
    assert_eq!(id.key_id.as_deref(), Some("rsa-a"));
    // Verified again from the cache.
    v.verify(&token("RS256", Some("rsa-a"), &c, &Signer::Rsa(rsa_a())))
        .await
        .unwrap();
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn valid_es256_and_eddsa() {
    let (_server, v) = standard().await;
    let id = v
        .verify(&token("ES256", Some("ec-1"), &claims(), &Signer::Ec))
        .await
        .unwrap();
    assert_eq!(id.key_id.as_deref(), Some("ec-1"));
    let id = v
        .verify(&token("EdDSA", Some("ed-1"), &claims(), &Signer::Ed))
        .await
        .unwrap();
    assert_eq!(id.tenant.as_str(), "acme");
}

#[tokio::test]
async fn hs256_accepts_every_configured_secret_and_never_touches_jwks() {
    let (server, v) = standard().await;
    // The second of two secrets: rotation.
    let id = v
        .verify(&token("HS256", None, &claims(), &Signer::Hmac(SECRET_2)))
        .await
        .unwrap();
    assert_eq!(id.subject, "user-1");
    assert!(id.key_id.is_none());
    v.verify(&token(
        "HS256",
        Some("any"),
        &claims(),
        &Signer::Hmac(SECRET_1),
    ))
    .await
    .unwrap();
    let other = b"a-third-secret-that-is-not-configured-at-all";
    assert_eq!(
        v.verify(&token("HS256", None, &claims(), &Signer::Hmac(other)))
            .await,
        Err(JwtError::BadSignature)
    );
    assert_eq!(server.hits(), 0, "HS256 never needs the key set");
}

#[tokio::test]
async fn leeway_is_honoured() {
    let (_server, v) = standard().await;
    let sign = |c: &Value| token("RS256", Some("rsa-a"), c, &Signer::Rsa(rsa_a()));
    // Expired 30 s ago, within the default 60 s leeway.
    let c = with(claims(), "exp", json!(now() - 30));
    assert!(v.verify(&sign(&c)).await.is_ok());
    // Not before 30 s from now, issued 30 s in the future: within leeway.
    let c = with(claims(), "nbf", json!(now() + 30));
    let c = with(c, "iat", json!(now() + 30));
    assert!(v.verify(&sign(&c)).await.is_ok());
    // Fractional NumericDates are accepted.
    let c = with(claims(), "exp", json!(now() as f64 + 100.5));
    assert!(v.verify(&sign(&c)).await.is_ok());
}

// ---------------------------------------------------------------------------------------------
// Refused tokens

#[tokio::test]
async fn time_claims_are_enforced() {
    let (_server, v) = standard().await;
    let sign = |c: &Value| token("RS256", Some("rsa-a"), c, &Signer::Rsa(rsa_a()));
    let cases = [
        (with(claims(), "exp", json!(now() - 90)), JwtError::Expired),
        (
            with(claims(), "exp", Value::Null),
            JwtError::MissingClaim("exp"),
        ),
        (
            with(claims(), "exp", json!("tomorrow")),
            JwtError::InvalidClaim("exp"),
        ),
        (
            with(claims(), "nbf", json!(now() + 120)),
            JwtError::NotYetValid,
        ),
        (
            with(claims(), "iat", json!(now() + 120)),
            JwtError::NotYetValid,
        ),
    ];
    for (c, expected) in cases {
        assert_eq!(v.verify(&sign(&c)).await, Err(expected.clone()), "{c}");
    }
}

#[tokio::test]
async fn issuer_audience_and_subject_are_enforced() {
    let (_server, v) = standard().await;
    let sign = |c: &Value| token("RS256", Some("rsa-a"), c, &Signer::Rsa(rsa_a()));
    let cases = [
        (
            with(claims(), "iss", json!("https://evil.example")),
            JwtError::WrongIssuer,
        ),
        (
            with(claims(), "iss", json!(format!("{ISSUER}/"))),
            JwtError::WrongIssuer,
        ),
        (
            with(claims(), "iss", Value::Null),
            JwtError::MissingClaim("iss"),
        ),
        (
            with(claims(), "aud", json!("account")),
            JwtError::WrongAudience,
        ),
        (
            with(claims(), "aud", json!(["a", "b"])),
            JwtError::WrongAudience,
        ),
        (with(claims(), "aud", json!([])), JwtError::WrongAudience),
        (
            with(claims(), "aud", Value::Null),
            JwtError::MissingClaim("aud"),
        ),
        (
            with(claims(), "sub", Value::Null),
            JwtError::MissingClaim("sub"),
        ),
    ];
    for (c, expected) in cases {
        assert_eq!(v.verify(&sign(&c)).await, Err(expected.clone()), "{c}");
    }
    // A plain string audience is fine.
    let c = with(claims(), "aud", json!("ward"));
    assert!(v.verify(&sign(&c)).await.is_ok());
}

#[tokio::test]
async fn alg_none_is_always_refused() {
    let (_server, v) = standard().await;
    for alg in ["none", "None", "NONE", "nOnE"] {
        let t = token(alg, Some("rsa-a"), &claims(), &Signer::Unsigned);
        assert_eq!(
            v.verify(&t).await,
            Err(JwtError::AlgorithmNotAllowed("none".into())),
            "{alg}"
        );
    }
    // Algorithms not pinned are refused even when the key would fit.
    let mut cfg = config("");
    cfg.algorithms = vec!["HS256".into()];
    let v = verifier(&cfg);
    let t = token("RS256", Some("rsa-a"), &claims(), &Signer::Rsa(rsa_a()));
    assert_eq!(
        v.verify(&t).await,
        Err(JwtError::AlgorithmNotAllowed("RS256".into()))
    );
    let t = token("rs256", Some("rsa-a"), &claims(), &Signer::Rsa(rsa_a()));
    assert_eq!(
        v.verify(&t).await,
        Err(JwtError::AlgorithmNotAllowed("rs256".into()))
    );
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let (server, v) = standard().await;
    let der = rsa_a().public().as_ref().to_vec();
    let pem = RSA_A_PUBLIC_PEM.as_bytes().to_vec();
    let pem_der = pem_der(RSA_A_PUBLIC_PEM);
    for secret in [der, pem, pem_der] {
        let t = token("HS256", Some("rsa-a"), &claims(), &Signer::Hmac(&secret));
        assert_eq!(v.verify(&t).await, Err(JwtError::BadSignature));
    }
    // Without HS256 pinned, the algorithm itself is refused.
    let mut cfg = config(&server.url());
    cfg.algorithms = vec!["RS256".into()];
    cfg.hs256_secret_env.clear();
    let v = verifier(&cfg);
    let secret = rsa_a().public().as_ref().to_vec();
    let t = token("HS256", Some("rsa-a"), &claims(), &Signer::Hmac(&secret));
    assert_eq!(
        v.verify(&t).await,
        Err(JwtError::AlgorithmNotAllowed("HS256".into()))
    );
}

#[tokio::test]
async fn keys_are_used_only_for_fitting_algorithms() {
    let mut rs384 = rsa_jwk(rsa_b(), "rsa-384");
    rs384["alg"] = json!("RS384");
    let mut enc = rsa_jwk(rsa_b(), "rsa-enc");
    enc["use"] = json!("enc");
    let oct = json!({"kty": "oct", "kid": "oct-1", "k": b64(SECRET_1)});
    let server = JwksServer::start(vec![
        rsa_jwk(rsa_a(), "rsa-a"),
        ec_jwk("ec-1"),
        rs384,
        enc,
        oct,
    ])
    .await;
    let v = verifier(&config(&server.url()));
    // An ES256 token naming an RSA key.
    let t = token("ES256", Some("rsa-a"), &claims(), &Signer::Ec);
    assert_eq!(v.verify(&t).await, Err(JwtError::KeyMismatch));
    // An RS256 token naming a key published for RS384 only.
    let t = token("RS256", Some("rsa-384"), &claims(), &Signer::Rsa(rsa_b()));
    assert_eq!(v.verify(&t).await, Err(JwtError::KeyMismatch));
    // Encryption keys and symmetric keys in the JWKS are ignored.
    let t = token("RS256", Some("rsa-enc"), &claims(), &Signer::Rsa(rsa_b()));
    assert_eq!(v.verify(&t).await, Err(JwtError::UnknownKeyId));
    let t = token("RS256", Some("oct-1"), &claims(), &Signer::Rsa(rsa_a()));
    assert_eq!(v.verify(&t).await, Err(JwtError::UnknownKeyId));
    // A key's signature made by another key.
    let t = token("RS256", Some("rsa-a"), &claims(), &Signer::Rsa(rsa_b()));
    assert_eq!(v.verify(&t).await, Err(JwtError::BadSignature));
}

#[tokio::test]
async fn tokens_without_kid_need_exactly_one_fitting_key() {
    let mut anonymous = rsa_jwk(rsa_a(), "x");
    anonymous.as_object_mut().unwrap().remove("kid");
    let server = JwksServer::start(vec![anonymous, ec_jwk("ec-1")]).await;
    let mut cfg = config(&server.url());
    cfg.jwks_min_refetch_interval = "1h".into();
    let v = verifier(&cfg);
    // One RSA key, one EC key: each fits exactly one algorithm.
    v.verify(&token("RS256", None, &claims(), &Signer::Rsa(rsa_a())))
        .await
        .unwrap();
    v.verify(&token("ES256", None, &claims(), &Signer::Ec))
        .await
        .unwrap();
    // A token naming a kid never uses the key without one.
    let t = token("RS256", Some("rsa-a"), &claims(), &Signer::Rsa(rsa_a()));
    assert_eq!(v.verify(&t).await, Err(JwtError::UnknownKeyId));

    // Two RSA keys: a token without kid is ambiguous.
    let server = JwksServer::start(vec![rsa_jwk(rsa_a(), "a"), rsa_jwk(rsa_b(), "b")]).await;
    let v = verifier(&config(&server.url()));
    let t = token("RS256", None, &claims(), &Signer::Rsa(rsa_a()));
    assert_eq!(v.verify(&t).await, Err(JwtError::UnknownKeyId));
}

#[tokio::test]
async fn tampered_payload_is_refused() {
    let (_server, v) = standard().await;
    let good = token("RS256", Some("rsa-a"), &claims(), &Signer::Rsa(rsa_a()));
    let other = with(claims(), "ward_tenant", json!("victim"));
    let forged_payload = token("RS256", Some("rsa-a"), &other, &Signer::Rsa(rsa_a()));
    let good_parts: Vec<&str> = good.split('.').collect();
    let forged_parts: Vec<&str> = forged_payload.split('.').collect();
    // The other payload with the first signature.
    let t = format!("{}.{}.{}", good_parts[0], forged_parts[1], good_parts[2]);
    assert_eq!(v.verify(&t).await, Err(JwtError::BadSignature));
    // One flipped signature byte.
    let mut sig = URL_SAFE_NO_PAD.decode(good_parts[2]).unwrap();
    sig[10] ^= 1;
    let t = format!("{}.{}.{}", good_parts[0], good_parts[1], b64(&sig));
    assert_eq!(v.verify(&t).await, Err(JwtError::BadSignature));
    // The same for HS256.
    let good = token("HS256", None, &claims(), &Signer::Hmac(SECRET_1));
    let forged = token("HS256", None, &other, &Signer::Hmac(b"x"));
    let g: Vec<&str> = good.split('.').collect();
    let f: Vec<&str> = forged.split('.').collect();
    let t = format!("{}.{}.{}", g[0], f[1], g[2]);
    assert_eq!(v.verify(&t).await, Err(JwtError::BadSignature));
}

#[tokio::test]
async fn garbage_is_refused_without_echoing_it() {
    let (server, v) = standard().await;
    let valid = token("RS256", Some("rsa-a"), &claims(), &Signer::Rsa(rsa_a()));
    let parts: Vec<&str> = valid.split('.').collect();
    let huge = "eyJ".to_owned() + &"A".repeat(9000) + ".e30.AA";
    let cases: Vec<(String, JwtError)> = vec![
        (String::new(), JwtError::Malformed),
        ("a.b.c".into(), JwtError::Malformed),
        ("a.b".into(), JwtError::Malformed),
        ("ward_abcdefghijkl_secret".into(), JwtError::Malformed),
        ("eyJ!!!.eyJ$$$.sig".into(), JwtError::Malformed),
        (format!("{valid}.extra"), JwtError::Malformed),
        (
            format!("{}==.{}.{}", parts[0], parts[1], parts[2]),
            JwtError::Malformed,
        ),
        (
            format!("{}.{}.{}", b64(b"[1,2]"), parts[1], parts[2]),
            JwtError::Malformed,
        ),
        (
            format!("{}.{}.{}", b64(b"{\"alg\":5}"), parts[1], parts[2]),
            JwtError::Malformed,
        ),
        (
            format!("{}.{}.{}", parts[0], b64(b"\"just a string\""), parts[2]),
            JwtError::Malformed,
        ),
        (
            format!("{}.{}.{}", parts[0], b64(b"not json"), parts[2]),
            JwtError::Malformed,
        ),
        (
            format!(
                "{}.{}.{}",
                b64(br#"{"alg":"RS256","crit":["exp"]}"#),
                parts[1],
                parts[2]
            ),
            JwtError::Malformed,
        ),
        (huge.clone(), JwtError::TooLarge),
        ("x".repeat(1 << 20), JwtError::TooLarge),
    ];
    for (t, expected) in cases {
        let result = v.verify(&t).await;
        assert_eq!(result, Err(expected.clone()), "{:.60}", t);
        let message = result.unwrap_err().to_string();
        assert!(t.len() < 4 || !message.contains(&t), "{message}");
    }
    assert_eq!(server.hits(), 0, "garbage never causes a fetch");
    // The message of a refused real token never contains it or its parts.
    let expired = token(
        "RS256",
        Some("rsa-a"),
        &with(claims(), "exp", json!(now() - 600)),
        &Signer::Rsa(rsa_a()),
    );
    let message = v.verify(&expired).await.unwrap_err().to_string();
    for part in expired.split('.') {
        assert!(!message.contains(part));
    }
}

#[tokio::test]
async fn tenant_claim_rules() {
    let (server, v) = standard().await;
    let sign = |c: &Value| token("RS256", Some("rsa-a"), c, &Signer::Rsa(rsa_a()));
    let c = with(claims(), "ward_tenant", Value::Null);
    assert_eq!(
        v.verify(&sign(&c)).await,
        Err(JwtError::MissingClaim("tenant"))
    );
    for bad in [json!("Acme Corp"), json!(""), json!(7), json!("../x")] {
        let c = with(claims(), "ward_tenant", bad);
        assert_eq!(v.verify(&sign(&c)).await, Err(JwtError::BadTenant));
    }
    // With a default tenant, and default roles when the token carries none; nested claims.
    let mut cfg = config(&server.url());
    cfg.default_tenant = "shared".into();
    cfg.default_roles = vec!["ingest".into()];
    cfg.role_claim = "realm_access.roles".into();
    cfg.role_map = BTreeMap::from([("ward-admins".into(), "admin".into())]);
    let v = verifier(&cfg);
    let c = with(claims(), "ward_tenant", Value::Null);
    let id = v.verify(&sign(&c)).await.unwrap();
    assert_eq!(id.tenant.as_str(), "shared");
    assert_eq!(id.roles, vec!["ingest".to_owned()]);
    let c = with(
        c,
        "realm_access",
        json!({"roles": ["ward-admins", "offline_access"]}),
    );
    let id = v.verify(&sign(&c)).await.unwrap();
    assert_eq!(
        id.roles,
        vec!["admin".to_owned(), "offline_access".to_owned()]
    );
    let c = with(c, "realm_access", json!({"roles": 5}));
    assert_eq!(
        v.verify(&sign(&c)).await,
        Err(JwtError::InvalidClaim("roles"))
    );
}

// ---------------------------------------------------------------------------------------------
// The key set

#[tokio::test]
async fn unknown_kid_refetches_at_most_once_per_interval() {
    let server = JwksServer::start(vec![rsa_jwk(rsa_a(), "k1")]).await;
    let mut cfg = config(&server.url());
    cfg.jwks_min_refetch_interval = "1s".into();
    let v = verifier(&cfg);
    v.verify(&token(
        "RS256",
        Some("k1"),
        &claims(),
        &Signer::Rsa(rsa_a()),
    ))
    .await
    .unwrap();
    assert_eq!(server.hits(), 1);

    // The provider rotates: a new key is published, tokens name it.
    server.publish(vec![rsa_jwk(rsa_a(), "k1"), rsa_jwk(rsa_b(), "k2")]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let id = v
        .verify(&token(
            "RS256",
            Some("k2"),
            &claims(),
            &Signer::Rsa(rsa_b()),
        ))
        .await
        .unwrap();
    assert_eq!(id.key_id.as_deref(), Some("k2"));
    assert_eq!(server.hits(), 2, "the unknown kid caused one fetch");

    // Unknown kids within the interval cause no fetch at all.
    for kid in ["k3", "k4", "k5"] {
        let t = token("RS256", Some(kid), &claims(), &Signer::Rsa(rsa_b()));
        assert_eq!(v.verify(&t).await, Err(JwtError::UnknownKeyId));
    }
    assert_eq!(server.hits(), 2);
    // After the interval, one more.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let t = token("RS256", Some("k6"), &claims(), &Signer::Rsa(rsa_b()));
    assert_eq!(v.verify(&t).await, Err(JwtError::UnknownKeyId));
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn concurrent_verifications_share_one_fetch() {
    let (server, v) = standard().await;
    let t = token("RS256", Some("rsa-a"), &claims(), &Signer::Rsa(rsa_a()));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let v = v.clone();
            let t = t.clone();
            tokio::spawn(async move { v.verify(&t).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn cached_keys_survive_a_failing_jwks() {
    let server = JwksServer::start(vec![rsa_jwk(rsa_a(), "rsa-a")]).await;
    let mut cfg = config(&server.url());
    cfg.jwks_refresh_interval = "1s".into();
    cfg.jwks_min_refetch_interval = "1s".into();
    let v = verifier(&cfg);
    let t = token("RS256", Some("rsa-a"), &claims(), &Signer::Rsa(rsa_a()));
    v.verify(&t).await.unwrap();
    server.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Stale: a background refresh is attempted (and fails); the cached key still verifies.
    v.verify(&t).await.unwrap();
    for _ in 0..50 {
        if server.hits() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.hits(), 2);
    tokio::time::sleep(Duration::from_millis(100)).await;
    v.verify(&t).await.unwrap();
    // A new kid cannot be fetched, but does not break the known one.
    let other = token("RS256", Some("new"), &claims(), &Signer::Rsa(rsa_b()));
    assert_eq!(v.verify(&other).await, Err(JwtError::UnknownKeyId));
    v.verify(&t).await.unwrap();
}

#[tokio::test]
async fn unreachable_jwks_without_cache_is_unavailable() {
    let server = JwksServer::start(vec![]).await;
    server.down.store(true, Ordering::SeqCst);
    let mut cfg = config(&server.url());
    cfg.jwks_min_refetch_interval = "1h".into();
    let v = verifier(&cfg);
    let t = token("RS256", Some("rsa-a"), &claims(), &Signer::Rsa(rsa_a()));
    let e = v.verify(&t).await.unwrap_err();
    assert_eq!(e, JwtError::KeysUnavailable);
    assert!(e.is_unavailable());
    assert_eq!(v.verify(&t).await, Err(JwtError::KeysUnavailable));
    assert_eq!(server.hits(), 1, "failed fetches are rate-limited too");
    // HS256 does not depend on the key set.
    v.verify(&token("HS256", None, &claims(), &Signer::Hmac(SECRET_1)))
        .await
        .unwrap();
}

#[tokio::test]
async fn oversized_jwks_is_refused() {
    let server = JwksServer::start(vec![]).await;
    let padding = "x".repeat(MAX_JWKS_BYTES);
    *server.doc.lock().unwrap() = json!({"keys": [rsa_jwk(rsa_a(), "rsa-a")], "pad": padding});
    let v = verifier(&config(&server.url()));
    let t = token("RS256", Some("rsa-a"), &claims(), &Signer::Rsa(rsa_a()));
    assert_eq!(v.verify(&t).await, Err(JwtError::KeysUnavailable));
}

#[test]
fn key_cache_is_bounded() {
    let keys: Vec<Value> = (0..150)
        .map(|i| rsa_jwk(rsa_a(), &format!("k{i}")))
        .collect();
    let body = json!({ "keys": keys }).to_string();
    let (kept, skipped) = keys::parse_jwks(body.as_bytes()).unwrap();
    assert_eq!(kept.len(), MAX_KEYS);
    assert_eq!(skipped, 50);
    // Malformed members are skipped, not fatal.
    let body = json!({"keys": [1, {"kty": "RSA"}, {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}, ec_jwk("ok")]});
    let (kept, skipped) = keys::parse_jwks(body.to_string().as_bytes()).unwrap();
    assert_eq!((kept.len(), skipped), (1, 3));
    assert!(keys::parse_jwks(b"[]").is_err());
}

// ---------------------------------------------------------------------------------------------
// Shape check, configuration

#[test]
fn looks_like_jwt_is_a_shape_check() {
    let t = token("HS256", None, &claims(), &Signer::Hmac(SECRET_1));
    assert!(JwtVerifier::looks_like_jwt(&t));
    for not in [
        "",
        "a.b.c",
        "eyJ.b",
        "eyJ..c",
        "eyJa.b.c.d",
        "eyJa.b=.c",
        "ward_abcdefghijkl_0123456789012345678901234567890123456789",
        "eyJa.b c.d",
    ] {
        assert!(!JwtVerifier::looks_like_jwt(not), "{not}");
    }
    assert!(JwtVerifier::looks_like_jwt("eyJa.b.c"));
}

/// A change to a valid configuration, and the start of the error it must cause.
type Mistake = (Box<dyn Fn(&mut JwtConfig)>, &'static str);

fn config_error(cfg: &JwtConfig) -> String {
    cfg.validate_with(test_env).unwrap_err().to_string()
}

#[test]
fn config_mistakes_name_the_key() {
    let base = config("https://idp.example.test/jwks");
    assert!(base.validate_with(test_env).is_ok());
    assert!(
        JwtConfig::default().validate().is_ok(),
        "disabled needs nothing"
    );

    let cases: Vec<Mistake> = vec![
        (Box::new(|c| c.issuer.clear()), "auth.jwt.issuer:"),
        (Box::new(|c| c.audiences.clear()), "auth.jwt.audiences:"),
        (
            Box::new(|c| c.leeway = "6m".into()),
            "auth.jwt.leeway: must be at most 5m",
        ),
        (
            Box::new(|c| c.leeway = "soon".into()),
            "auth.jwt.leeway: invalid duration",
        ),
        (
            Box::new(|c| c.jwks_url = "http://idp.example.test/jwks".into()),
            "auth.jwt.jwks_url: http:// is allowed only for a loopback host",
        ),
        (
            Box::new(|c| c.jwks_url = "ftp://x/jwks".into()),
            "auth.jwt.jwks_url:",
        ),
        (
            Box::new(|c| c.jwks_url = "https://user:pw@idp/jwks".into()),
            "auth.jwt.jwks_url:",
        ),
        (
            Box::new(|c| c.jwks_url.clear()),
            "auth.jwt.jwks_url: required",
        ),
        (
            Box::new(|c| c.hs256_secret_files = vec!["/nonexistent/ward-jwt-secret".into()]),
            "auth.jwt.hs256_secret_files: cannot read /nonexistent/ward-jwt-secret",
        ),
        (
            Box::new(|c| c.hs256_secret_env = vec!["WARD_TEST_UNSET".into()]),
            "auth.jwt.hs256_secret_env: environment variable WARD_TEST_UNSET is not set",
        ),
        (
            Box::new(|c| {
                c.hs256_secret_env.clear();
            }),
            "auth.jwt.hs256_secret_files: HS256 is allowed but no secret",
        ),
        (
            Box::new(|c| c.algorithms = vec!["RS256".into()]),
            "auth.jwt.algorithms: HS256 secrets are configured",
        ),
        (
            Box::new(|c| c.algorithms = vec!["none".into()]),
            "auth.jwt.algorithms: \"none\"",
        ),
        (
            Box::new(|c| c.algorithms = vec!["RS1".into()]),
            "auth.jwt.algorithms: unknown",
        ),
        (Box::new(|c| c.algorithms.clear()), "auth.jwt.algorithms:"),
        (
            Box::new(|c| c.default_tenant = "Not Valid".into()),
            "auth.jwt.default_tenant:",
        ),
        (
            Box::new(|c| c.jwks_min_refetch_interval = "10ms".into()),
            "auth.jwt.jwks_min_refetch_interval:",
        ),
        (
            Box::new(|c| c.max_token_bytes = 0),
            "auth.jwt.max_token_bytes:",
        ),
    ];
    for (change, expected) in cases {
        let mut c = base.clone();
        change(&mut c);
        let message = config_error(&c);
        assert!(message.starts_with(expected), "{message:?} vs {expected:?}");
    }

    // Loopback http is fine; so is https anywhere.
    for url in [
        "http://127.0.0.1:8080/jwks",
        "http://localhost/jwks",
        "http://[::1]:9/jwks",
        "https://login.example.com/.well-known/jwks.json",
    ] {
        let mut c = base.clone();
        c.jwks_url = url.into();
        assert!(c.validate_with(test_env).is_ok(), "{url}");
    }
}

#[test]
fn secrets_load_from_files_and_stay_out_of_debug() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hs256");
    std::fs::write(&path, [SECRET_1, b"\n"].concat()).unwrap();
    let mut c = config("https://idp.example.test/jwks");
    c.hs256_secret_files = vec![path.to_string_lossy().into_owned()];
    c.jwks_url = "https://idp.example.test/jwks?api-key=hidden".into();
    let settings = c.validate_with(test_env).unwrap();
    assert_eq!(settings.hs256_secret_count(), 3);
    let debug = format!("{settings:?} {:?}", JwtVerifier::new(settings.clone()));
    for secret in [SECRET_1, SECRET_2] {
        assert!(!debug.contains(std::str::from_utf8(secret).unwrap()));
    }
    assert!(!debug.contains("hidden"), "{debug}");
    assert!(debug.contains("Secret(..)"));

    // A short secret is refused, naming the file but not the content.
    std::fs::write(&path, b"short-secret-value").unwrap();
    let message = config_error(&c);
    assert!(
        message.starts_with("auth.jwt.hs256_secret_files:"),
        "{message}"
    );
    assert!(!message.contains("short-secret-value"));
}

#[test]
fn config_parses_from_toml_and_refuses_unknown_keys() {
    let c: JwtConfig = toml::from_str(
        r#"
        enabled = true
        issuer = "https://idp.example.test/realms/ward"
        audiences = ["ward"]
        jwks_url = "https://idp.example.test/jwks"
        [role_map]
        "observability-readers" = "read"
        "#,
    )
    .unwrap();
    assert_eq!(c.algorithms, vec!["RS256", "ES256"]);
    assert_eq!(c.leeway, "60s");
    assert_eq!(c.max_token_bytes, 8192);
    let s = c.validate().unwrap();
    assert_eq!(s.claim_rules().leeway_secs, 60);
    assert_eq!(s.jwks_refresh_interval(), Duration::from_secs(600));
    assert_eq!(s.jwks_min_refetch_interval(), Duration::from_secs(30));
    assert!(toml::from_str::<JwtConfig>("secret = \"x\"").is_err());
}

#[test]
fn error_kinds_are_distinct() {
    let all = [
        JwtError::Disabled,
        JwtError::Malformed,
        JwtError::TooLarge,
        JwtError::AlgorithmNotAllowed("x".into()),
        JwtError::UnknownKeyId,
        JwtError::KeyMismatch,
        JwtError::BadSignature,
        JwtError::Expired,
        JwtError::NotYetValid,
        JwtError::WrongIssuer,
        JwtError::WrongAudience,
        JwtError::MissingClaim("exp"),
        JwtError::InvalidClaim("exp"),
        JwtError::BadTenant,
        JwtError::KeysUnavailable,
    ];
    let kinds: std::collections::BTreeSet<&str> = all.iter().map(JwtError::kind).collect();
    assert_eq!(kinds.len(), all.len());
}

#[tokio::test]
async fn disabled_verifier_refuses_everything() {
    let v = JwtVerifier::new(JwtConfig::default().validate().unwrap());
    let t = token("HS256", None, &claims(), &Signer::Hmac(SECRET_1));
    assert_eq!(v.verify(&t).await, Err(JwtError::Disabled));
}

// ---------------------------------------------------------------------------------------------
// Through Ward's router: tokens become principals, and every refusal is a 401 and an event

#[tokio::test]
async fn tokens_pass_the_gate_with_their_roles_and_every_refusal_is_reported() {
    use tower::ServiceExt;

    let server = JwksServer::start(vec![rsa_jwk(rsa_a(), "rsa-a")]).await;
    let mut cfg = config(&server.url());
    cfg.algorithms = vec!["RS256".into()];
    cfg.hs256_secret_env.clear();
    cfg.role_map = BTreeMap::from([("observability-readers".into(), "viewer".into())]);
    let dir = tempfile::tempdir().unwrap();
    let state = crate::tests::test_state(dir.path()).await;
    state.gate.set_policy(crate::gate::AccessPolicy {
        jwt: Some(verifier(&cfg)),
        ..crate::gate::AccessPolicy::from_settings(&state.settings)
    });
    let app = crate::router(state.clone());
    let call = |path: &'static str, token: String| {
        let app = app.clone();
        async move {
            let request = axum::http::Request::builder()
                .uri(path)
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            app.oneshot(request).await.unwrap().status()
        }
    };
    let valid = token("RS256", Some("rsa-a"), &claims(), &Signer::Rsa(rsa_a()));
    // "observability-readers" maps to viewer: reads, but no keys and no security events.
    assert_eq!(
        call("/api/v1/services", valid.clone()).await,
        StatusCode::OK
    );
    assert_eq!(
        call("/api/v1/keys", valid.clone()).await,
        StatusCode::FORBIDDEN
    );

    let rsa = |c: &Value| token("RS256", Some("rsa-a"), c, &Signer::Rsa(rsa_a()));
    let tampered = {
        let other = rsa(&with(claims(), "ward_tenant", json!("other")));
        let mut parts: Vec<&str> = valid.split('.').collect();
        let forged = other.split('.').nth(1).unwrap().to_owned();
        parts[1] = &forged;
        parts.join(".")
    };
    let public_key = rsa_a().public().as_ref().to_vec();
    let refused = [
        ("expired", rsa(&with(claims(), "exp", json!(now() - 3600)))),
        (
            "not yet valid",
            rsa(&with(claims(), "nbf", json!(now() + 3600))),
        ),
        (
            "wrong issuer",
            rsa(&with(claims(), "iss", json!("https://evil.test"))),
        ),
        (
            "wrong audience",
            rsa(&with(claims(), "aud", json!("someone-else"))),
        ),
        (
            "unknown kid",
            token("RS256", Some("nope"), &claims(), &Signer::Rsa(rsa_a())),
        ),
        (
            "alg none",
            token("none", None, &claims(), &Signer::Unsigned),
        ),
        (
            "HS256 with the RSA public key",
            token(
                "HS256",
                Some("rsa-a"),
                &claims(),
                &Signer::Hmac(&public_key),
            ),
        ),
        ("tampered payload", tampered),
        ("garbage", "eyJhbGciOi.garbage.!!".to_owned()),
    ];
    for (what, token) in &refused {
        assert_eq!(
            call("/api/v1/services", token.clone()).await,
            StatusCode::UNAUTHORIZED,
            "{what}"
        );
    }
    let text = state.metrics.encode();
    let failures: u64 = text
        .lines()
        .filter(|l| l.starts_with("ward_auth_failures_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(failures, refused.len() as u64, "{text}");
    assert!(
        text.contains(&format!(
            "ward_security_events_total{{tenant=\"default\",type=\"authentication_failed\",severity=\"low\"}} {}",
            refused.len()
        )),
        "{text}"
    );
}
