//! Access control through the real binary: the key lifecycle (expiry, rotation with a grace
//! period, revocation, use counts) from the CLI and the API, permissions, tenant isolation of
//! key management, the security events all of that raises, and Ward's own log never showing
//! a credential.

mod common;

use std::time::Duration;

use common::{Ward, http};
use serde_json::{Value, json};

fn status(w: &Ward, key: &str, path: &str) -> u16 {
    http()
        .get(format!("{}{path}", w.http))
        .bearer_auth(key)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn get(w: &Ward, key: &str, path: &str) -> Value {
    let r = http()
        .get(format!("{}{path}", w.http))
        .bearer_auth(key)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().unwrap()
}

fn cli_ok(w: &Ward, key: &str, args: &[&str]) -> (String, String) {
    let out = w.cli(key, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {stderr}");
    (stdout, stderr)
}

fn key_id(key: &str) -> &str {
    key.split('_').nth(1).unwrap()
}

fn events(w: &Ward, kind: &str) -> Vec<Value> {
    let page = get(
        w,
        &w.admin_key,
        &format!("/api/v1/security/events?kind={kind}&limit=1000"),
    );
    page["events"].as_array().unwrap().clone()
}

/// Waits until `kind` events number at least `n` (they are stored in the background).
fn wait_events(w: &Ward, kind: &str, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let found = events(w, kind);
        if found.len() >= n {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("fewer than {n} {kind} events: {:?}", events(w, kind));
}

#[test]
fn keys_expire_rotate_with_grace_and_count_their_uses() {
    let w = Ward::start(&[]);
    // Created from the CLI through the API, with a lifetime.
    let (key, note) = cli_ok(
        &w,
        &w.admin_key,
        &[
            "keys",
            "create",
            "--scope",
            "read",
            "--name",
            "agent",
            "--expires-in",
            "90d",
        ],
    );
    let key = key.trim().to_owned();
    assert!(note.contains("expiring"), "{note}");
    for _ in 0..3 {
        assert_eq!(status(&w, &key, "/api/v1/services"), 200);
    }
    let list = get(&w, &w.admin_key, "/api/v1/keys");
    let view = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == key_id(&key))
        .unwrap()
        .clone();
    assert_eq!(view["state"], "active");
    assert_eq!(view["use_count"], 3);
    assert!(view["last_used_at"].is_string() && view["expires_at"].is_string());

    // Rotation: both keys work during the grace period.
    let (new_key, note) = cli_ok(
        &w,
        &w.admin_key,
        &["keys", "rotate", key_id(&key), "--grace", "1h"],
    );
    let new_key = new_key.trim().to_owned();
    assert!(note.contains("keeps working until"), "{note}");
    assert_eq!(status(&w, &key, "/api/v1/services"), 200);
    assert_eq!(status(&w, &new_key, "/api/v1/services"), 200);
    let (listing, _) = cli_ok(&w, &w.admin_key, &["keys", "list"]);
    assert!(
        listing.contains(&format!("rotated to {}", key_id(&new_key))),
        "{listing}"
    );
    // A rotated key is not rotated twice.
    let out = w.cli(&w.admin_key, &["keys", "rotate", key_id(&key)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already rotated"));

    // Rotating with no grace ends the old key at once; it then says why it fails.
    let (newest, _) = cli_ok(
        &w,
        &w.admin_key,
        &["keys", "rotate", key_id(&new_key), "--grace", "0s"],
    );
    let r = http()
        .get(format!("{}/api/v1/services", w.http))
        .bearer_auth(&new_key)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let problem: Value = r.json().unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("expired"),
        "{problem}"
    );
    assert_eq!(status(&w, newest.trim(), "/api/v1/services"), 200);

    // Revocation is immediate.
    cli_ok(&w, &w.admin_key, &["keys", "revoke", key_id(newest.trim())]);
    assert_eq!(status(&w, newest.trim(), "/api/v1/services"), 401);

    let rotated = wait_events(&w, "key_rotated", 2);
    assert!(rotated.iter().all(|e| e["severity"] == "medium"));
    wait_events(&w, "key_revoked", 1);
    wait_events(&w, "key_created", 1);
    // An expired key's use is reported to its own tenant as a medium event.
    let failures = wait_events(&w, "authentication_failed", 2);
    assert!(
        failures
            .iter()
            .any(|e| e["details"]["reason"] == "expired_key")
    );
    assert!(
        failures
            .iter()
            .any(|e| e["details"]["reason"] == "revoked_key")
    );

    // Bad values are refused with the reason.
    let out = w.cli(
        &w.admin_key,
        &["keys", "create", "--scope", "read", "--expires-in", "soon"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid duration"));
    let out = w.cli(&w.admin_key, &["keys", "create", "--scope", "query"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown permission \"query\""));
}

#[test]
fn permissions_are_enforced_and_cannot_be_escalated() {
    let w = Ward::start(&[]);
    let reader = w.create_key(&["read"], "team-a");
    let key_admin = w.create_key(&["keys:write", "keys:read", "read"], "team-a");
    // A read key cannot see security events or keys, nor scrape metrics.
    assert_eq!(status(&w, &reader, "/api/v1/security/events"), 403);
    assert_eq!(status(&w, &reader, "/api/v1/keys"), 403);
    assert_eq!(status(&w, &reader, "/metrics"), 403);
    let r = http()
        .get(format!("{}/metrics", w.http))
        .bearer_auth(&reader)
        .send()
        .unwrap();
    let problem: Value = r.json().unwrap();
    assert_eq!(problem["permission"], "metrics");

    // A key manager hands out only what it holds.
    let create = |scopes: &[&str]| {
        http()
            .post(format!("{}/api/v1/keys", w.http))
            .bearer_auth(&key_admin)
            .json(&json!({"scopes": scopes}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(create(&["read"]), 201);
    assert_eq!(create(&["admin"]), 403);
    assert_eq!(create(&["ingest"]), 403);

    // Key management stays inside the tenant: another tenant's key is "not found".
    let other = w.create_key(&["read"], "team-b");
    for (method, path) in [
        (
            reqwest::Method::DELETE,
            format!("/api/v1/keys/{}", key_id(&other)),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/keys/{}/rotate", key_id(&other)),
        ),
    ] {
        let r = http()
            .request(method, format!("{}{path}", w.http))
            .bearer_auth(&key_admin)
            .send()
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    assert_eq!(status(&w, &other, "/api/v1/services"), 200);
    let listed = get(&w, &key_admin, "/api/v1/keys");
    assert!(
        listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["tenant"] == "team-a")
    );

    // A forbidden request is a security event of the caller's tenant; an unknown key one of
    // the default tenant, with the source address.
    let team_a_admin = w.create_key(&["admin"], "team-a");
    let forbidden = {
        let mut found = Vec::new();
        for _ in 0..100 {
            let page = get(&w, &team_a_admin, "/api/v1/security/events?kind=forbidden");
            found = page["events"].as_array().unwrap().clone();
            if found.len() >= 3 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        found
    };
    assert!(forbidden.len() >= 3, "{forbidden:?}");
    assert!(
        forbidden
            .iter()
            .any(|e| e["details"]["permission"] == "security:read")
    );
    let fake = format!("ward_{}_{}", "a".repeat(12), "b".repeat(40));
    assert_eq!(status(&w, &fake, "/api/v1/logs"), 401);
    let failed = wait_events(&w, "authentication_failed", 1);
    assert_eq!(failed[0]["details"]["source_ip"], "127.0.0.1");
    assert_eq!(failed[0]["details"]["reason"], "invalid_key");
}

/// After a run that creates, uses, rotates and refuses keys, Ward's own log holds none of
/// their secrets.
#[test]
fn no_credential_reaches_wards_log() {
    let w = Ward::start(&[("WARD_LOG_LEVEL", "debug")]);
    let key = w.create_key(&["read", "ingest"], "default");
    assert_eq!(status(&w, &key, "/api/v1/services"), 200);
    let rotated: Value = http()
        .post(format!("{}/api/v1/keys/{}/rotate", w.http, key_id(&key)))
        .bearer_auth(&w.admin_key)
        .json(&json!({"grace": "1m"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let new_key = rotated["key"].as_str().unwrap().to_owned();
    let wrong = format!("{}x", &key[..key.len() - 1]);
    assert_eq!(status(&w, &wrong, "/api/v1/services"), 401);
    assert_eq!(
        status(&w, "eyJhbGciOiJub25lIn0.e30.", "/api/v1/services"),
        401
    );
    std::thread::sleep(Duration::from_millis(200));
    let log = w.log_text();
    assert!(log.contains("authentication failed"), "the run was logged");
    let secret = |k: &str| k.rsplit('_').next().unwrap().to_owned();
    for k in [&w.admin_key, &key, &new_key, &wrong] {
        assert!(!log.contains(&secret(k)), "a key secret is in Ward's log");
    }
    assert!(!log.contains("eyJhbGciOiJub25lIn0"));
}

fn start_with_config(toml: &str) -> (Ward, tempfile::TempDir, std::path::PathBuf) {
    let conf_dir = tempfile::tempdir().unwrap();
    let path = conf_dir.path().join("ward.toml");
    std::fs::write(&path, toml).unwrap();
    let w = Ward::start(&[("WARD_CONFIG", path.to_str().unwrap())]);
    (w, conf_dir, path)
}

#[test]
fn rate_limits_answer_429_with_headers_and_reload_live() {
    let (w, _conf, path) =
        start_with_config("[rate_limits.query]\nper_key = { rate = 0.2, burst = 3 }\n");
    let key = w.create_key(&["read"], "default");
    let send = || {
        http()
            .get(format!("{}/api/v1/services", w.http))
            .bearer_auth(&key)
            .send()
            .unwrap()
    };
    let first = send();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["ratelimit-limit"], "3");
    assert_eq!(first.headers()["ratelimit-remaining"], "2");
    send();
    send();
    let refused = send();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refused.headers()["ratelimit-remaining"], "0");
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    // Other keys have their own budget.
    let other = w.create_key(&["read"], "default");
    assert_eq!(status(&w, &other, "/api/v1/services"), 200);
    let limited = wait_events(&w, "rate_limited", 1);
    assert_eq!(limited[0]["details"]["class"], "query");

    let preflight = || {
        http()
            .request(reqwest::Method::OPTIONS, format!("{}/api/v1/logs", w.http))
            .header("origin", "https://app.example.com")
            .header("access-control-request-method", "GET")
            .send()
            .unwrap()
    };
    assert!(
        !preflight()
            .headers()
            .contains_key("access-control-allow-origin")
    );

    // Raising the limit and allowing an origin in the file take effect without a restart.
    std::fs::write(
        &path,
        "[rate_limits.query]\nper_key = { rate = 100, burst = 200 }\n\
         [cors]\nallowed_origins = [\"https://app.example.com\"]\n",
    )
    .unwrap();
    let mut ok = false;
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(200));
        if send().status() == 200 {
            ok = true;
            break;
        }
    }
    assert!(ok, "the new limit never took effect: {}", w.log_text());
    let allowed = preflight();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let changed = wait_events(&w, "config_changed", 1);
    assert!(
        changed[0]["details"]["applied"]
            .as_str()
            .unwrap()
            .contains("rate_limits.query")
    );

    // An invalid file is refused with the reason; the limit in effect stays.
    std::fs::write(
        &path,
        "[rate_limits.query]\nper_key = { rate = -1, burst = 2 }\n",
    )
    .unwrap();
    let rejected = wait_events(&w, "config_rejected", 1);
    assert!(
        rejected[0]["message"]
            .as_str()
            .unwrap()
            .contains("rate_limits.query.per_key.rate"),
        "{rejected:?}"
    );
    for _ in 0..5 {
        assert_eq!(send().status(), 200);
    }
    // A change that needs a restart is reported as such, by SIGHUP too.
    std::fs::write(&path, "[server]\nrequest_timeout = \"5s\"\n").unwrap();
    let mut w = w;
    std::process::Command::new("kill")
        .args(["-HUP", &w.pid().to_string()])
        .status()
        .unwrap();
    let changed = wait_events(&w, "config_changed", 2);
    assert!(changed.iter().any(|e| {
        e["details"]["needs_restart"]
            .as_str()
            .unwrap_or("")
            .contains("server.request_timeout")
    }));
    assert!(w.signal("TERM", Duration::from_secs(10)).is_some());
}

#[test]
fn repeated_failures_are_slowed_then_blocked() {
    let (w, _conf, _path) = start_with_config(
        "[rate_limits.brute_force]\nfailures_before_delay = 2\nmax_delay = \"200ms\"\n\
         failures_before_block = 5\nblock_for = \"3s\"\n",
    );
    let key = w.create_key(&["read"], "default");
    let wrong = format!("{}x", &key[..key.len() - 1]);
    let timed = |k: &str| {
        let started = std::time::Instant::now();
        let code = status(&w, k, "/api/v1/services");
        (code, started.elapsed())
    };
    let (code, fast) = timed(&wrong);
    assert_eq!(code, 401);
    assert!(fast < Duration::from_millis(100), "{fast:?}");
    timed(&wrong);
    let (code, slowed) = timed(&wrong);
    assert_eq!(code, 401);
    assert!(
        slowed >= Duration::from_millis(90),
        "not slowed: {slowed:?}"
    );
    timed(&wrong);
    timed(&wrong);
    // Blocked now: even the right key is refused from this address, with Retry-After.
    let r = http()
        .get(format!("{}/api/v1/services", w.http))
        .bearer_auth(&key)
        .send()
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    std::thread::sleep(Duration::from_millis(3200));
    assert_eq!(status(&w, &key, "/api/v1/services"), 200);
    let blocked = wait_events(&w, "brute_force_blocked", 1);
    assert_eq!(blocked[0]["severity"], "high");
    assert_eq!(blocked[0]["details"]["source_ip"], "127.0.0.1");
}

/// A key of tenant A, holding every permission, walks every route of the API document with
/// tenant B's ids in the path, and names tenant B in query parameters and headers: nothing of
/// tenant B comes back.
#[test]
fn no_route_parameter_or_header_reaches_another_tenant() {
    let w = Ward::start(&[]);
    let a = w.create_key(&["admin"], "team-a");
    let b = w.create_key(&["ingest", "read"], "team-b");
    let trace_id = "5b8efff798038103d269b633813fc60c";
    let marker = "tenant-b-private-marker";
    let t = common::now_ns();
    let body = json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": marker}}]},
        "scopeLogs": [{"logRecords": [{
            "timeUnixNano": t.to_string(),
            "severityNumber": 17,
            "body": {"stringValue": format!("{marker} failed")},
            "traceId": trace_id,
            "spanId": "eee19b7ec3c1b174",
        }]}],
    }]});
    let r = http()
        .post(format!("{}/v1/logs", w.http))
        .bearer_auth(&b)
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let spans = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": marker}}]},
        "scopeSpans": [{"spans": [{
            "traceId": trace_id, "spanId": "eee19b7ec3c1b174", "name": marker, "kind": 2,
            "startTimeUnixNano": t.to_string(), "endTimeUnixNano": (t + 1000).to_string(),
        }]}],
    }]});
    let r = http()
        .post(format!("{}/v1/traces", w.http))
        .bearer_auth(&b)
        .json(&spans)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // Tenant B sees its own data (so the walk below could find it if isolation failed).
    assert!(
        get(&w, &b, &format!("/api/v1/traces/{trace_id}"))
            .to_string()
            .contains(marker)
    );

    let doc = get(&w, &a, "/api/openapi.json");
    let b_key_id = key_id(&b);
    let mut walked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if item.get("get").is_none() || path.ends_with("/tail") {
            continue;
        }
        let path = path
            .replace("{trace_id}", trace_id)
            .replace("{id}", b_key_id);
        for query in [
            "",
            "?tenant=team-b",
            "?tenant_id=team-b&q=*",
            "?filter=tenant:team-b",
        ] {
            let response = http()
                .get(format!("{}{path}{query}", w.http))
                .bearer_auth(&a)
                .header("x-ward-tenant", "team-b")
                .header("x-scope-orgid", "team-b")
                .header("tenant", "team-b")
                .send()
                .unwrap();
            let text = response.text().unwrap();
            assert!(
                !text.contains(marker),
                "{path}{query} leaked tenant B: {text}"
            );
            assert!(
                !text.contains(trace_id) || path.contains(trace_id),
                "{path}{query} leaked tenant B's trace: {text}"
            );
            walked += 1;
        }
    }
    assert!(walked >= 40, "{walked}");
    // The trace route answers "not found" for another tenant's trace, as for no trace at all.
    assert_eq!(status(&w, &a, &format!("/api/v1/traces/{trace_id}")), 404);
}

/// An HS256 token signed with `secret`.
fn hs256(secret: &[u8], claims: Value) -> String {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let signature = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(signature.as_ref()))
}

/// Identity-provider tokens through the real binary: the tenant and roles come from the
/// claims, and the signing secret rotates with a configuration reload and no restart.
#[test]
fn tokens_map_to_tenant_and_role_and_secrets_rotate_by_reload() {
    let conf = tempfile::tempdir().unwrap();
    let old_secret = conf.path().join("old.secret");
    let new_secret = conf.path().join("new.secret");
    std::fs::write(&old_secret, "old-signing-secret-of-at-least-32-bytes!\n").unwrap();
    std::fs::write(&new_secret, "new-signing-secret-of-at-least-32-bytes!\n").unwrap();
    let config = |files: &[&std::path::Path]| {
        let files: Vec<String> = files
            .iter()
            .map(|p| format!("{:?}", p.to_str().unwrap()))
            .collect();
        format!(
            "[auth.jwt]\nenabled = true\nissuer = \"https://idp.test\"\naudiences = [\"ward\"]\n\
             algorithms = [\"HS256\"]\nhs256_secret_files = [{}]\n\
             role_map = {{ \"sre\" = \"operator\" }}\n",
            files.join(", ")
        )
    };
    let path = conf.path().join("ward.toml");
    std::fs::write(&path, config(&[&old_secret])).unwrap();
    let w = Ward::start(&[("WARD_CONFIG", path.to_str().unwrap())]);
    let now = common::now_ns() as i64 / 1_000_000_000;
    let claims = |role: &str| {
        json!({"iss": "https://idp.test", "aud": "ward", "sub": "alice", "iat": now,
               "exp": now + 600, "ward_tenant": "team-a", "ward_roles": [role]})
    };
    let old_token = hs256(b"old-signing-secret-of-at-least-32-bytes!", claims("sre"));
    let new_token = hs256(b"new-signing-secret-of-at-least-32-bytes!", claims("sre"));
    // "sre" maps to operator: security events yes, key creation no.
    assert_eq!(status(&w, &old_token, "/api/v1/security/events"), 200);
    let r = http()
        .post(format!("{}/api/v1/keys", w.http))
        .bearer_auth(&old_token)
        .json(&json!({"scopes": ["read"]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(status(&w, &new_token, "/api/v1/services"), 401);
    // The token's tenant is team-a: it sees team-a's data only.
    let a_key = w.create_key(&["ingest"], "team-a");
    let body = json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [{
        "timeUnixNano": common::now_ns().to_string(), "body": {"stringValue": "for team a"}}]}]}]});
    let r = http()
        .post(format!("{}/v1/logs", w.http))
        .bearer_auth(&a_key)
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let logs = get(&w, &old_token, "/api/v1/logs?q=team");
    assert_eq!(logs["logs"].as_array().unwrap().len(), 1, "{logs}");
    assert!(
        get(&w, &w.admin_key, "/api/v1/logs?q=team")["logs"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Rotation: both secrets, then only the new one.
    std::fs::write(&path, config(&[&old_secret, &new_secret])).unwrap();
    let wait_for = |token: &str, want: u16| {
        for _ in 0..60 {
            if status(&w, token, "/api/v1/services") == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("never {want}: {}", w.log_text());
    };
    wait_for(&new_token, 200);
    assert_eq!(status(&w, &old_token, "/api/v1/services"), 200);
    std::fs::write(&path, config(&[&new_secret])).unwrap();
    wait_for(&old_token, 401);
    assert_eq!(status(&w, &new_token, "/api/v1/services"), 200);
    let failed = wait_events(&w, "authentication_failed", 1);
    assert!(
        failed
            .iter()
            .any(|e| e["details"]["reason"] == "invalid_token")
    );
}
