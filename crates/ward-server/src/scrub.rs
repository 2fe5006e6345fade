//! The scrubbing stage: removes personal data and secrets from a batch before it is stored, by
//! the tenant's policy (see [`crate::config::RedactSection`]).
//!
//! What is scrubbed: log bodies (as JSON when the body is a JSON object or array, so field rules
//! apply inside it) and every attribute value, nested maps and arrays included, of records,
//! resources, span events and links; span names and status messages. GenAI prompts and
//! completions travel as attributes or event attributes, so they are covered. Not scrubbed:
//! service names, scope names, metric names and ids, which identify the telemetry itself.
//!
//! The stage is pure (no I/O): it returns a [`ScrubReport`] per service, from which the pipeline
//! counts redactions and raises security events.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use ward_model::{Attributes, Batch, TenantId};
use ward_redact::{PseudonymKey, Redactor, Report};

use crate::config::Policies;

/// Scrubs batches by tenant policy. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Scrubber {
    policies: Option<Policies>,
    master_key: PseudonymKey,
}

/// What a batch contained, by service name. Never values.
pub type ScrubReport = BTreeMap<String, Report>;

impl Scrubber {
    /// A scrubber applying `policies` (`None`: scrubbing turned off), deriving each tenant's
    /// pseudonym key from `master_key`.
    pub fn new(policies: Option<Policies>, master_key: PseudonymKey) -> Scrubber {
        Scrubber {
            policies,
            master_key,
        }
    }

    /// Whether anything is scrubbed.
    pub fn enabled(&self) -> bool {
        self.policies.is_some()
    }

    /// The redactor for `tenant`, with the tenant's own pseudonym key when its policy makes
    /// pseudonyms.
    pub fn redactor(&self, tenant: &TenantId) -> Option<Redactor> {
        let redactor = self.policies.as_ref()?.for_tenant(tenant);
        if !redactor.uses_pseudonyms() {
            return Some(redactor.clone());
        }
        // Policies are compiled with a placeholder key (see `Settings::redact_policies`); this
        // replaces it. A derived key is 32 bytes, above the minimum, so the error cannot occur;
        // scrubbing without pseudonyms would be worse than a placeholder-keyed one, hence the
        // fallback keeps the redactor.
        Some(
            redactor
                .with_pseudonym_key(self.master_key.derive(tenant.as_str().as_bytes()))
                .unwrap_or_else(|_| redactor.clone()),
        )
    }

    /// Scrubs every record of `batch` in place.
    pub fn scrub(&self, batch: &mut Batch) -> ScrubReport {
        let mut reports = ScrubReport::new();
        let Some(r) = self.redactor(&batch.tenant) else {
            return reports;
        };
        let mut resources = ResourceMemo::default();
        for log in &mut batch.logs {
            let report = report_for(&mut reports, &log.resource.service_name);
            scrub_body(&r, &mut log.body, report);
            scrub_attributes(&r, &mut log.attributes, report);
            resources.scrub(&r, &mut log.resource.attributes, report);
        }
        for span in &mut batch.spans {
            let report = report_for(&mut reports, &span.resource.service_name);
            scrub_text(&r, &mut span.name, "span.name", report);
            scrub_text(&r, &mut span.status.message, "status.message", report);
            scrub_attributes(&r, &mut span.attributes, report);
            resources.scrub(&r, &mut span.resource.attributes, report);
            for event in &mut span.events {
                scrub_text(&r, &mut event.name, "event.name", report);
                scrub_attributes(&r, &mut event.attributes, report);
            }
            for link in &mut span.links {
                scrub_attributes(&r, &mut link.attributes, report);
            }
        }
        for point in &mut batch.metrics {
            let report = report_for(&mut reports, &point.resource.service_name);
            scrub_attributes(&r, &mut point.attributes, report);
            resources.scrub(&r, &mut point.resource.attributes, report);
        }
        reports.retain(|_, report| !report.is_empty());
        reports
    }
}

/// The records of a batch mostly share a handful of resources (OTLP sends each once, decoding
/// copies it into every record): the last one seen is scrubbed once and its outcome reused
/// while the next record carries an identical one.
#[derive(Default)]
struct ResourceMemo {
    /// The attributes as received, as scrubbed, and what was found in them.
    last: Option<(Attributes, Attributes, Report)>,
}

impl ResourceMemo {
    fn scrub(&mut self, r: &Redactor, attributes: &mut Attributes, report: &mut Report) {
        if attributes.is_empty() {
            return;
        }
        if let Some((original, scrubbed, found)) = &self.last
            && original == attributes
        {
            if !found.is_empty() {
                *attributes = scrubbed.clone();
                report.merge(found);
            }
            return;
        }
        let original = attributes.clone();
        let mut found = Report::new();
        scrub_attributes(r, attributes, &mut found);
        report.merge(&found);
        self.last = Some((original, attributes.clone(), found));
    }
}

fn report_for<'a>(reports: &'a mut ScrubReport, service: &str) -> &'a mut Report {
    // Looked up before inserting so the common case allocates no key.
    if !reports.contains_key(service) {
        reports.insert(service.to_owned(), Report::new());
    }
    reports.get_mut(service).expect("inserted above")
}

fn scrub_text(r: &Redactor, text: &mut String, location: &str, report: &mut Report) {
    let out = r.redact_str(text);
    if out.findings.is_empty() {
        return;
    }
    report.record(&out.findings, Some(location));
    *text = out.text.into_owned();
}

/// A JSON body gets field rules too (`{"password": …}`); anything else is text.
fn scrub_body(r: &Redactor, body: &mut String, report: &mut Report) {
    let looks_json = matches!(body.trim_start().as_bytes().first(), Some(b'{' | b'['));
    if looks_json && let Ok(mut value) = serde_json::from_str::<Value>(body) {
        let mut found = Report::new();
        r.redact_json(&mut value, &mut found);
        if !found.is_empty() {
            report.merge(&found);
            *body = value.to_string();
        }
        return;
    }
    scrub_text(r, body, "body", report);
}

fn scrub_attributes(r: &Redactor, attributes: &mut Attributes, report: &mut Report) {
    if attributes.is_empty() {
        return;
    }
    let mut value = Value::Object(std::mem::take(attributes));
    r.redact_json(&mut value, report);
    if let Value::Object(map) = value {
        *attributes = map;
    }
}

/// Reads the pseudonym master key from `path`, or creates it (32 random bytes, hex, mode 0600)
/// if the file does not exist.
pub fn load_or_create_master_key(path: &Path) -> std::io::Result<PseudonymKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim()).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} is not a hex key: {e}", path.display()),
                )
            })?;
            if bytes.len() < PseudonymKey::MIN_LEN {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{} holds {} bytes; a pseudonym key needs at least {}",
                        path.display(),
                        bytes.len(),
                        PseudonymKey::MIN_LEN
                    ),
                ));
            }
            Ok(PseudonymKey::new(bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let bytes: [u8; 32] = rand::random();
            crate::files::create_private(path, format!("{}\n", hex::encode(bytes)).as_bytes())?;
            Ok(PseudonymKey::new(bytes))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use ward_model::{LogRecord, Resource, Scope, Span, SpanEvent};
    use ward_redact::Kind;

    use super::*;
    use crate::config::RedactSection;

    fn scrubber(toml_text: &str) -> Scrubber {
        let section: RedactSection = toml::from_str(toml_text).unwrap();
        let key = PseudonymKey::new([9u8; 32]);
        Scrubber::new(Some(section.compile(&key).unwrap()), key)
    }

    fn log(service: &str, body: &str, attributes: Value) -> LogRecord {
        LogRecord {
            time_unix_nano: 1,
            observed_time_unix_nano: 1,
            severity_number: 9,
            severity_text: String::new(),
            body: body.into(),
            attributes: attributes.as_object().cloned().unwrap_or_default(),
            resource: Resource {
                service_name: service.into(),
                attributes: Attributes::new(),
            },
            scope: Scope::default(),
            trace_id: None,
            span_id: None,
        }
    }

    #[test]
    fn logs_are_scrubbed_everywhere_and_reported_per_service() {
        let s = scrubber("");
        let mut batch = Batch::new(TenantId::default_tenant());
        batch.logs.push(log(
            "planner",
            "mail jane@example.com, key AKIAIOSFODNN7EXAMPLE",
            json!({"db": {"password": "hunter2", "hosts": ["a", "ops@corp.io"]}, "ok": 1}),
        ));
        batch.logs.push(log(
            "tools",
            r#"{"user":"bob@example.org","token":"x"}"#,
            json!({}),
        ));
        batch
            .logs
            .push(log("clean", "nothing to see", json!({"n": 2})));
        let report = s.scrub(&mut batch);
        assert_eq!(batch.logs[0].body, "mail [EMAIL], key [AWS_ACCESS_KEY_ID]");
        assert_eq!(
            Value::Object(batch.logs[0].attributes.clone()),
            json!({"db": {"password": "[PASSWORD]", "hosts": ["a", "[EMAIL]"]}, "ok": 1})
        );
        let body: Value = serde_json::from_str(&batch.logs[1].body).unwrap();
        assert_eq!(body["user"], "[EMAIL]");
        assert_ne!(body["token"], "x");
        assert_eq!(batch.logs[2].body, "nothing to see");
        assert_eq!(report.keys().collect::<Vec<_>>(), ["planner", "tools"]);
        let planner = &report["planner"];
        assert_eq!(planner.count(&Kind::Email), 2);
        let keys: Vec<_> = planner
            .credentials()
            .iter()
            .map(|c| (c.kind.as_str(), c.key.clone()))
            .collect();
        assert!(
            keys.contains(&("aws_access_key_id", Some("body".into()))),
            "{keys:?}"
        );
        assert!(
            keys.iter()
                .any(|(_, key)| key.as_deref() == Some("db.password")),
            "{keys:?}"
        );
    }

    #[test]
    fn spans_events_and_links_are_scrubbed() {
        let s = scrubber("");
        let mut span: Span = serde_json::from_value(json!({
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "span_id": "00f067aa0ba902b7",
            "name": "lookup jane@example.com",
            "kind": "client",
            "start_time_unix_nano": 1,
            "end_time_unix_nano": 2,
            "status": {"code": "error", "message": "denied for jane@example.com"},
            "attributes": {"gen_ai.prompt": "my card is 4111 1111 1111 1111"},
            "resource": {"service_name": "agent"},
        }))
        .unwrap();
        let mut event_attrs = Attributes::new();
        event_attrs.insert(
            "exception.message".into(),
            json!("connect postgres://app:s3cretpass@db:5432/x failed"),
        );
        span.events.push(SpanEvent {
            time_unix_nano: 1,
            name: "exception".into(),
            attributes: event_attrs,
        });
        let mut batch = Batch::new(TenantId::default_tenant());
        batch.spans.push(span);
        let report = s.scrub(&mut batch);
        let span = &batch.spans[0];
        assert_eq!(span.name, "lookup [EMAIL]");
        assert_eq!(span.status.message, "denied for [EMAIL]");
        assert_eq!(span.attributes["gen_ai.prompt"], "my card is [CREDIT_CARD]");
        let message = span.events[0].attributes["exception.message"]
            .as_str()
            .unwrap();
        assert!(!message.contains("s3cretpass"), "{message}");
        assert!(report["agent"].has_credentials());
    }

    #[test]
    fn tenants_get_their_own_policy_and_pseudonyms() {
        let s = scrubber(
            r#"
            [tenants.acme]
            profile = "gdpr"
            operators = { email = { type = "pseudonym" } }
            [tenants.globex]
            profile = "gdpr"
            operators = { email = { type = "pseudonym" } }
            "#,
        );
        let run = |tenant: &str| {
            let mut batch = Batch::new(TenantId::new(tenant).unwrap());
            batch
                .logs
                .push(log("svc", "from jane@example.com at 10.1.2.3", json!({})));
            s.scrub(&mut batch);
            batch.logs.remove(0).body
        };
        let (a1, a2, g, d) = (run("acme"), run("acme"), run("globex"), run("default"));
        assert_eq!(a1, a2, "pseudonyms are stable within a tenant");
        assert!(
            a1.starts_with("from [EMAIL:") && a1.ends_with(" at [IPV4]"),
            "{a1}"
        );
        assert_ne!(a1, g, "tenants have different pseudonym keys");
        assert_eq!(d, "from [EMAIL] at 10.1.2.3", "default profile keeps IPs");
    }

    #[test]
    fn shared_resources_are_scrubbed_in_every_record() {
        let s = scrubber("");
        let mut batch = Batch::new(TenantId::default_tenant());
        for body in ["a", "b", "c"] {
            let mut record = log("svc", body, json!({}));
            record
                .resource
                .attributes
                .insert("owner".into(), json!("ops@corp.io"));
            batch.logs.push(record);
        }
        batch.logs[2]
            .resource
            .attributes
            .insert("host.name".into(), json!("h1"));
        let report = s.scrub(&mut batch);
        for record in &batch.logs {
            assert_eq!(record.resource.attributes["owner"], "[EMAIL]");
        }
        assert_eq!(batch.logs[2].resource.attributes["host.name"], "h1");
        assert_eq!(report["svc"].count(&Kind::Email), 3);
    }

    #[test]
    fn disabled_scrubber_changes_nothing() {
        let s = Scrubber::new(None, PseudonymKey::new([1u8; 32]));
        let mut batch = Batch::new(TenantId::default_tenant());
        batch.logs.push(log("svc", "jane@example.com", json!({})));
        assert!(s.scrub(&mut batch).is_empty());
        assert_eq!(batch.logs[0].body, "jane@example.com");
    }

    #[test]
    fn master_key_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pseudonym.key");
        let a = load_or_create_master_key(&path).unwrap();
        let b = load_or_create_master_key(&path).unwrap();
        assert!(a == b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "abcd").unwrap();
        let e = load_or_create_master_key(&path).unwrap_err().to_string();
        assert!(e.contains("at least 16"), "{e}");
    }
}
