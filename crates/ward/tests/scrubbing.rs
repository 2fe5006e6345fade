//! The scrubbing stage seen from outside: what a user sends with personal data and credentials
//! in it comes back redacted from every API, is counted in `/metrics`, and credentials raise
//! security events that name the service, type and location but never the value.

mod common;

use common::{Ward, http, now_ns};
use serde_json::{Value, json};

const AWS_KEY: &str = "AKIAQYLPMN5HHHFPZAM2";
const GITHUB_TOKEN: &str = "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";
const DB_PASSWORD: &str = "Zq8-hunter2-Kv3x";
const EMAIL: &str = "jane.doe@example.com";
const CARD: &str = "4539 1488 0343 6467";

fn get(w: &Ward, key: &str, path: &str) -> Value {
    let r = http()
        .get(format!("{}{path}", w.http))
        .bearer_auth(key)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().unwrap()
}

fn assert_no_secret(text: &str) {
    for secret in [
        AWS_KEY,
        GITHUB_TOKEN,
        DB_PASSWORD,
        EMAIL,
        "4539 1488 0343 6467",
    ] {
        assert!(!text.contains(secret), "{secret} leaked in {text}");
    }
}

#[test]
fn telemetry_is_scrubbed_before_storage_counted_and_credentials_raise_events() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ward.toml"),
        r#"
[redact.tenants.clinic]
profile = "hipaa"
operators = { email = { type = "pseudonym" } }
"#,
    )
    .unwrap();
    let w = Ward::start_in(dir.path(), &[], None);
    let key = w.create_key(&["ingest", "read", "metrics", "security:read"], "default");

    // JSON lines: secrets in the message, in nested fields, under a password key.
    let lines = [
        json!({"msg": format!("login {EMAIL} paid with {CARD}"), "level": "info", "service": "checkout",
               "db": {"password": DB_PASSWORD, "host": "db1"}}),
        json!({"msg": format!("calling github with {GITHUB_TOKEN}"), "level": "warn", "service": "agent",
               "http": {"headers": {"authorization": "Basic dXNlcjpwYXNzd29yZA=="}},
               "aws": format!("key={AWS_KEY}")}),
    ];
    let body: Vec<String> = lines.iter().map(Value::to_string).collect();
    let r = http()
        .post(format!("{}/api/v1/ingest/logs", w.http))
        .bearer_auth(&key)
        .body(body.join("\n"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);

    // OTLP/JSON spans: the span name, a GenAI prompt attribute and an exception event.
    let now = now_ns();
    let spans = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "agent"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
            "name": format!("lookup {EMAIL}"), "kind": 3,
            "startTimeUnixNano": now.to_string(), "endTimeUnixNano": (now + 1_000_000).to_string(),
            "attributes": [{"key": "gen_ai.prompt", "value": {"stringValue": format!("my card is {CARD}")}}],
            "events": [{"timeUnixNano": now.to_string(), "name": "exception", "attributes": [
                {"key": "exception.message", "value": {"stringValue": format!("connect postgres://app:{DB_PASSWORD}@db:5432/x failed")}}]}]
        }]}]
    }]});
    let r = http()
        .post(format!("{}/v1/traces", w.http))
        .bearer_auth(&key)
        .json(&spans)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);

    // Nothing comes back in clear, from any read path.
    let logs = get(&w, &key, "/api/v1/logs?limit=100");
    assert_eq!(logs["logs"].as_array().unwrap().len(), 2, "{logs}");
    let text = logs.to_string();
    assert_no_secret(&text);
    assert!(
        text.contains("[EMAIL]") && text.contains("[CREDIT_CARD]"),
        "{text}"
    );
    assert!(
        text.contains("\"db.host\":\"db1\""),
        "ordinary fields are kept: {text}"
    );
    let trace = get(&w, &key, "/api/v1/traces/5b8efff798038103d269b633813fc60c").to_string();
    assert_no_secret(&trace);
    assert!(trace.contains("lookup [EMAIL]"), "{trace}");
    // Full-text search finds nothing by the removed value.
    let found = get(&w, &key, "/api/v1/logs?q=%22jane.doe%22");
    assert!(found["logs"].as_array().unwrap().is_empty(), "{found}");

    // Counted by type.
    let metrics = http()
        .get(format!("{}/metrics", w.http))
        .bearer_auth(&key)
        .send()
        .unwrap()
        .text()
        .unwrap();
    for line in [
        "ward_redactions_total{tenant=\"default\",type=\"email\"} 2",
        "ward_redactions_total{tenant=\"default\",type=\"credit_card\"} 2",
        "ward_redactions_total{tenant=\"default\",type=\"github_token\"} 1",
        "ward_redactions_total{tenant=\"default\",type=\"authorization_header\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing in\n{metrics}");
    }
    assert!(metrics.contains(
        "ward_security_events_total{tenant=\"default\",type=\"credential_in_telemetry\",severity=\"high\"}"
    ));

    // Credentials raise security events: service, type and location, never the value.
    // Events are stored in the background: wait for the last one (from the traces).
    let mut events = Vec::new();
    for _ in 0..100 {
        let page = get(
            &w,
            &key,
            "/api/v1/security/events?kind=credential_in_telemetry",
        );
        events = page["events"].as_array().unwrap().clone();
        if events.iter().any(|e| e["details"]["signal"] == "traces") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let text = Value::Array(events.clone()).to_string();
    assert_no_secret(&text);
    let has = |service: &str, credential: &str, location: &str| {
        events.iter().any(|e| {
            e["service"] == service
                && e["severity"] == "high"
                && e["details"]["credential_type"] == credential
                && e["details"]["location"] == location
        })
    };
    assert!(has("agent", "github_token", "body"), "{text}");
    assert!(
        has(
            "agent",
            "authorization_header",
            "http.headers.authorization"
        ),
        "{text}"
    );
    assert!(has("agent", "aws_access_key_id", "aws"), "{text}");
    assert!(
        events
            .iter()
            .any(|e| e["service"] == "checkout" && e["details"]["location"] == "db.password"),
        "{text}"
    );
    assert!(
        events.iter().any(|e| e["service"] == "agent"
            && e["details"]["signal"] == "traces"
            && e["details"]["location"] == "exception.message"),
        "{text}"
    );
    let bad = http()
        .get(format!(
            "{}/api/v1/security/events?min_severity=urgent",
            w.http
        ))
        .bearer_auth(&key)
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.headers()["content-type"], "application/problem+json");

    // The CLI shows them too.
    let out = w.cli(&key, &["query", "security", "--min-severity", "high"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("credential_in_telemetry") && stdout.contains("github_token"),
        "{stdout}"
    );
    assert_no_secret(&stdout);

    // A tenant with its own policy: HIPAA profile, stable keyed pseudonyms for e-mails.
    let clinic = w.create_key(&["ingest", "read", "metrics"], "clinic");
    let r = http()
        .post(format!("{}/api/v1/ingest/logs", w.http))
        .bearer_auth(&clinic)
        .body(format!(
            "{}\n{}",
            json!({"msg": format!("visit by {EMAIL} from 10.20.30.40"), "service": "ehr"}),
            json!({"msg": format!("follow-up for {}", EMAIL.to_uppercase()), "service": "ehr"})
        ))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let logs = get(&w, &clinic, "/api/v1/logs");
    let bodies: Vec<&str> = logs["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies.len(), 2);
    let pseudonym = |body: &str| {
        let start = body.find("[EMAIL:").unwrap_or_else(|| panic!("{body}"));
        body[start..start + body[start..].find(']').unwrap() + 1].to_owned()
    };
    assert_eq!(pseudonym(bodies[0]), pseudonym(bodies[1]), "{bodies:?}");
    assert!(
        bodies.iter().any(|b| b.contains("[IPV4]")),
        "hipaa removes IPs: {bodies:?}"
    );
    let key_file = std::fs::read_to_string(dir.path().join("data/pseudonym.key")).unwrap();
    assert_eq!(key_file.trim().len(), 64);

    // Ward's own log never carries the values either.
    assert_no_secret(&w.log_text());
}
