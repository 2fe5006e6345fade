#![no_main]
//! JWT parsing: the shape check, header and payload decoding, the algorithm check and the claim
//! checks, on arbitrary text. Nothing may panic, and a refusal never repeats the token.
//!
//! The first byte picks the mode: raw text as the token, or two JSON documents (split at the
//! first NUL) encoded as header and payload, so the claim checks see well-formed tokens too.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use ward_server::jwt::{Algorithm, JwtConfig, JwtSettings, JwtVerifier, token};

fn settings() -> &'static JwtSettings {
    static SETTINGS: OnceLock<JwtSettings> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        JwtConfig {
            enabled: true,
            issuer: "https://idp.example/".into(),
            audiences: vec!["ward".into()],
            jwks_url: "http://127.0.0.1/jwks".into(),
            algorithms: vec!["RS256".into(), "ES256".into(), "EdDSA".into()],
            default_tenant: "default".into(),
            role_claim: "realm_access.roles".into(),
            role_map: [("admins".to_owned(), "admin".to_owned())].into(),
            ..JwtConfig::default()
        }
        .validate()
        .expect("valid fuzz configuration")
    })
}

fn check(text: &str) {
    let settings = settings();
    let shaped = JwtVerifier::looks_like_jwt(text);
    match token::parse(text, settings.max_token_bytes()) {
        Ok(parsed) => {
            // Whatever parses is shaped like a JWT (non-empty signature aside).
            assert!(shaped || parsed.signature.is_empty() || !text.starts_with("eyJ"));
            assert!(text.starts_with(parsed.signing_input));
            let _ = token::check_algorithm(&parsed.alg, &Algorithm::ALL);
            let _ = token::check_algorithm(&parsed.alg, settings.algorithms());
            for now in [i64::MIN, -1, 0, 1_700_000_000, i64::MAX] {
                if let Err(e) = settings.claim_rules().check(&parsed.claims, now) {
                    assert!(!e.to_string().contains(text));
                }
            }
        }
        Err(e) => {
            // Messages are fixed texts (no dots) plus at most a shortened algorithm name: a
            // token-shaped input never appears in them.
            let message = e.to_string();
            assert!(!text.contains('.') || !message.contains(text));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(text) = std::str::from_utf8(rest) {
            check(text);
        }
    } else {
        let (header, payload) = match rest.iter().position(|&b| b == 0) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (&br#"{"alg":"RS256","kid":"k"}"#[..], rest),
        };
        let text = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode([mode; 8])
        );
        check(&text);
    }
});
