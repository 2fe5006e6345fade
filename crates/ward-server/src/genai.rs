//! GenAI in the pipeline: the prompt and completion content policy (`[genai]`), applied to
//! every batch before scrubbing, and the metrics derived from committed spans.
//!
//! The metrics are the OpenTelemetry GenAI client metrics
//! `gen_ai.client.token.usage` and `gen_ai.client.operation.duration`, exposed on `/metrics`
//! under their Prometheus names (`gen_ai_client_token_usage`,
//! `gen_ai_client_operation_duration_seconds`) so dashboards built for the conventions work.
//!
//! Spans of any dialect are read through `ward_genai` (one alias table). Label sets are
//! bounded: past [`MAX_SERIES`] distinct (tenant, operation, provider, models) every label of a
//! new set but the tenant reads `__overflow__`, and each such observation is counted in
//! `ward_genai_series_overflow_total`. Token usage is recorded for model calls only: agent and
//! tool spans that report tokens repeat their model calls' counts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use serde::{Deserialize, Serialize};
use ward_genai::{ContentChanges, ContentPolicy, GenAi, Operation, is_content_event};
use ward_model::{Batch, Span, TenantId};

use crate::config::ConfigError;

/// `[genai]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenAiSection {
    /// What happens to prompts and completions: `store` (scrubbed like everything else),
    /// `truncate` (to `max_content_bytes` per value) or `drop`.
    pub content: String,
    /// Bytes kept of each content value under `truncate`.
    pub max_content_bytes: usize,
    /// Per-tenant `content` and `max_content_bytes`.
    pub tenants: BTreeMap<String, GenAiTenantSection>,
}

impl Default for GenAiSection {
    fn default() -> Self {
        GenAiSection {
            content: "store".into(),
            max_content_bytes: 4096,
            tenants: BTreeMap::new(),
        }
    }
}

/// `[genai.tenants.<tenant>]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenAiTenantSection {
    /// This tenant's content policy.
    pub content: Option<String>,
    /// This tenant's byte limit under `truncate`.
    pub max_content_bytes: Option<usize>,
}

/// The content policy of every tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentPolicies {
    default: ContentPolicy,
    tenants: HashMap<TenantId, ContentPolicy>,
}

impl Default for ContentPolicies {
    fn default() -> Self {
        ContentPolicies {
            default: ContentPolicy::Store,
            tenants: HashMap::new(),
        }
    }
}

fn policy(key: &'static str, name: &str, max: usize) -> Result<ContentPolicy, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid { key, message };
    match name {
        "store" => Ok(ContentPolicy::Store),
        "drop" => Ok(ContentPolicy::Drop),
        "truncate" if max == 0 => Err(invalid(
            "truncate needs max_content_bytes above 0 (or use drop)".into(),
        )),
        "truncate" => Ok(ContentPolicy::Truncate(max)),
        other => Err(invalid(format!(
            "{other:?}: use \"store\", \"truncate\" or \"drop\""
        ))),
    }
}

impl GenAiSection {
    /// Validates the section.
    pub fn policies(&self) -> Result<ContentPolicies, ConfigError> {
        let default = policy("genai.content", &self.content, self.max_content_bytes)?;
        let mut tenants = HashMap::new();
        for (name, t) in &self.tenants {
            let tenant = TenantId::new(name).map_err(|e| ConfigError::Invalid {
                key: "genai.tenants",
                message: format!("{name:?}: {e}"),
            })?;
            let p = policy(
                "genai.tenants.content",
                t.content.as_deref().unwrap_or(&self.content),
                t.max_content_bytes.unwrap_or(self.max_content_bytes),
            )?;
            tenants.insert(tenant, p);
        }
        Ok(ContentPolicies { default, tenants })
    }
}

impl ContentPolicies {
    /// The policy of `tenant`.
    pub fn of(&self, tenant: &TenantId) -> ContentPolicy {
        self.tenants.get(tenant).copied().unwrap_or(self.default)
    }

    /// Applies the tenant's policy to the content in `batch`: span and log attributes of every
    /// dialect, span events, and the bodies of log records that are GenAI message events.
    pub fn apply(&self, batch: &mut Batch) -> ContentChanges {
        let mut changes = ContentChanges::default();
        let p = self.of(&batch.tenant);
        if p == ContentPolicy::Store {
            return changes;
        }
        for span in &mut batch.spans {
            p.apply_to_attributes(&mut span.attributes, &mut changes);
            for event in &mut span.events {
                p.apply_to_event(&event.name, &mut event.attributes, &mut changes);
            }
        }
        for log in &mut batch.logs {
            let event = log
                .attributes
                .get("event.name")
                .and_then(|v| v.as_str())
                .filter(|name| is_content_event(name))
                .map(str::to_owned);
            match event {
                Some(name) => {
                    p.apply_to_text(&mut log.body, &mut changes);
                    p.apply_to_event(&name, &mut log.attributes, &mut changes);
                }
                None => p.apply_to_attributes(&mut log.attributes, &mut changes),
            }
        }
        changes
    }
}

/// Distinct label sets kept before new ones are folded into `__overflow__`.
pub const MAX_SERIES: usize = 2_000;
/// The label value of folded series.
pub const OVERFLOW: &str = "__overflow__";

/// Token buckets of the conventions: 1, 4, 16 … 4^13.
const TOKEN_BUCKETS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];
/// Duration buckets of the conventions, seconds: 0.01 doubling to 81.92.
const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// Labels of both metrics (the conventions' attribute names, dots as underscores).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// Ward's tenant.
    pub tenant: String,
    /// `gen_ai.operation.name`.
    pub gen_ai_operation_name: String,
    /// `gen_ai.provider.name`.
    pub gen_ai_provider_name: String,
    /// `gen_ai.request.model`.
    pub gen_ai_request_model: String,
    /// `gen_ai.response.model`.
    pub gen_ai_response_model: String,
}

/// Labels of the content counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ContentLabels {
    /// Ward's tenant.
    pub tenant: String,
    /// `truncated` or `dropped`.
    pub action: &'static str,
}

/// Labels of the token histogram: the operation's plus `gen_ai.token.type`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    /// The operation's labels.
    #[prometheus(flatten)]
    pub operation: OperationLabels,
    /// `input` or `output`.
    pub gen_ai_token_type: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn token_histogram() -> Histogram {
    Histogram::new(TOKEN_BUCKETS)
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// The GenAI metric families.
#[derive(Debug)]
pub struct GenAiMetrics {
    token_usage: HistogramFamily<TokenLabels>,
    duration: HistogramFamily<OperationLabels>,
    overflow: Counter,
    content: Family<ContentLabels, Counter>,
    series: Mutex<HashSet<OperationLabels>>,
}

impl GenAiMetrics {
    /// Registers the conventions' metrics in `standard` (a registry without Ward's prefix)
    /// and the overflow counter in `ward`.
    pub fn register(standard: &mut Registry, ward: &mut Registry) -> GenAiMetrics {
        let m = GenAiMetrics {
            token_usage: Family::new_with_constructor(token_histogram),
            duration: Family::new_with_constructor(duration_histogram),
            overflow: Counter::default(),
            content: Family::default(),
            series: Mutex::default(),
        };
        standard.register(
            "gen_ai_client_token_usage",
            "Number of input and output tokens used (OpenTelemetry gen_ai.client.token.usage), from spans",
            m.token_usage.clone(),
        );
        standard.register_with_unit(
            "gen_ai_client_operation_duration",
            "GenAI operation duration (OpenTelemetry gen_ai.client.operation.duration), from spans",
            Unit::Seconds,
            m.duration.clone(),
        );
        ward.register(
            "genai_series_overflow",
            "GenAI metric observations whose label set was folded into __overflow__ (more than 2000 series)",
            m.overflow.clone(),
        );
        ward.register(
            "genai_content_values",
            "Prompt and completion values truncated or dropped by the [genai] content policy",
            m.content.clone(),
        );
        m
    }

    /// Counts what the content policy changed in a batch of `tenant`.
    pub fn count_content(&self, tenant: &TenantId, changes: ContentChanges) {
        for (action, n) in [
            ("truncated", changes.truncated),
            ("dropped", changes.dropped),
        ] {
            if n > 0 {
                self.content
                    .get_or_create(&ContentLabels {
                        tenant: tenant.to_string(),
                        action,
                    })
                    .inc_by(n);
            }
        }
    }

    /// Observes the GenAI spans among `spans` of `tenant`.
    pub fn observe(&self, tenant: &TenantId, spans: &[Span]) {
        for span in spans {
            let Some(g) = GenAi::from_attributes(&span.attributes) else {
                continue;
            };
            let Some(operation) = g.operation.as_ref() else {
                continue;
            };
            let labels = self.bounded(OperationLabels {
                tenant: tenant.to_string(),
                gen_ai_operation_name: operation.as_str().to_owned(),
                gen_ai_provider_name: g.provider.clone().unwrap_or_default(),
                gen_ai_request_model: g.request_model.clone().unwrap_or_default(),
                gen_ai_response_model: g.response_model.clone().unwrap_or_default(),
            });
            let seconds = span.duration_nanos().max(0) as f64 / 1e9;
            self.duration.get_or_create(&labels).observe(seconds);
            if !matches!(operation, Operation::InvokeAgent | Operation::ExecuteTool) {
                for (kind, tokens) in [("input", g.input_tokens), ("output", g.output_tokens)] {
                    if let Some(n) = tokens {
                        self.token_usage
                            .get_or_create(&TokenLabels {
                                operation: labels.clone(),
                                gen_ai_token_type: kind,
                            })
                            .observe(n as f64);
                    }
                }
            }
        }
    }

    /// `labels`, or the same with provider and models folded when the series are full.
    fn bounded(&self, labels: OperationLabels) -> OperationLabels {
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        if series.contains(&labels) {
            return labels;
        }
        if series.len() < MAX_SERIES {
            series.insert(labels.clone());
            return labels;
        }
        self.overflow.inc();
        OperationLabels {
            tenant: labels.tenant,
            gen_ai_operation_name: OVERFLOW.into(),
            gen_ai_provider_name: OVERFLOW.into(),
            gen_ai_request_model: OVERFLOW.into(),
            gen_ai_response_model: OVERFLOW.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::metrics::Metrics;

    fn span(attributes: Value, millis: i64) -> Span {
        serde_json::from_value(json!({
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "span_id": "00f067aa0ba902b7",
            "name": "chat",
            "kind": "client",
            "start_time_unix_nano": 1_000_000_000i64,
            "end_time_unix_nano": 1_000_000_000i64 + millis * 1_000_000,
            "status": {"code": "ok"},
            "attributes": attributes,
            "resource": {"service_name": "agent"},
        }))
        .unwrap()
    }

    fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix} in\n{text}"))
    }

    #[test]
    fn spans_of_every_dialect_feed_the_conventions_metrics() {
        let m = Metrics::new();
        let tenant = TenantId::new("acme").unwrap();
        m.genai.observe(
            &tenant,
            &[
                span(
                    json!({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                           "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini",
                           "gen_ai.usage.input_tokens": 42, "gen_ai.usage.output_tokens": 7}),
                    300,
                ),
                span(
                    json!({"openinference.span.kind": "LLM", "llm.system": "openai",
                           "llm.request.model_name": "gpt-4o-mini", "llm.model_name": "gpt-4o-mini",
                           "llm.token_count.prompt": 42, "llm.token_count.completion": 7}),
                    50,
                ),
                // Agent spans count time, not tokens (their model calls already did).
                span(
                    json!({"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner",
                           "gen_ai.usage.input_tokens": 42}),
                    900,
                ),
                // Not a GenAI span.
                span(json!({"http.request.method": "GET"}), 5),
            ],
        );
        let text = m.encode();
        let labels = r#"tenant="acme",gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4o-mini",gen_ai_response_model="gpt-4o-mini""#;
        assert_eq!(
            line(
                &text,
                &format!("gen_ai_client_token_usage_count{{{labels},gen_ai_token_type=\"input\"}}")
            ),
            format!("gen_ai_client_token_usage_count{{{labels},gen_ai_token_type=\"input\"}} 2")
        );
        assert!(
            line(
                &text,
                &format!("gen_ai_client_token_usage_sum{{{labels},gen_ai_token_type=\"output\"}}")
            )
            .ends_with(" 14.0")
        );
        assert!(
            line(
                &text,
                &format!("gen_ai_client_operation_duration_seconds_count{{{labels}}}")
            )
            .ends_with(" 2")
        );
        assert!(text.contains(r#"gen_ai_operation_name="invoke_agent""#));
        assert!(
            !text
                .lines()
                .any(|l| l.contains("invoke_agent") && l.contains("gen_ai_token_type")),
            "agent spans must not count tokens"
        );
        assert_eq!(text.matches("# EOF").count(), 1);
        assert!(text.trim_end().ends_with("# EOF"));
    }

    fn section(toml_text: &str) -> Result<ContentPolicies, ConfigError> {
        let section: GenAiSection = toml::from_str(toml_text).unwrap();
        section.policies()
    }

    #[test]
    fn content_policies_validate_and_override_per_tenant() {
        let p = section(
            r#"
            content = "truncate"
            max_content_bytes = 100
            [tenants.clinic]
            content = "drop"
            [tenants.lab]
            max_content_bytes = 10
            "#,
        )
        .unwrap();
        let t = |n: &str| TenantId::new(n).unwrap();
        assert_eq!(p.of(&t("acme")), ContentPolicy::Truncate(100));
        assert_eq!(p.of(&t("clinic")), ContentPolicy::Drop);
        assert_eq!(p.of(&t("lab")), ContentPolicy::Truncate(10));
        assert_eq!(section("").unwrap().of(&t("acme")), ContentPolicy::Store);
        let e = section(r#"content = "redact""#).unwrap_err().to_string();
        assert!(e.starts_with("genai.content") && e.contains("drop"), "{e}");
        let e = section("content = \"truncate\"\nmax_content_bytes = 0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_content_bytes"), "{e}");
    }

    /// The policy runs in the pipeline before storage: what is dropped is never written.
    #[tokio::test]
    async fn dropped_content_never_reaches_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::tests::test_state(dir.path()).await;
        let pipeline = crate::pipeline::Pipeline::new(
            state.store.clone(),
            state.metrics.clone(),
            crate::scrub::Scrubber::new(None, ward_redact::PseudonymKey::new([1u8; 32])),
            state.security.clone(),
        )
        .with_content(section(r#"content = "drop""#).unwrap());
        let mut s = span(
            json!({"gen_ai.operation.name": "chat", "gen_ai.prompt.0.role": "user",
                   "gen_ai.prompt.0.content": "my diagnosis is private",
                   "llm.output_messages.0.message.content": "noted"}),
            10,
        );
        s.events.push(ward_model::SpanEvent {
            time_unix_nano: 1_000_000_001,
            name: "gen_ai.user.message".into(),
            attributes: match json!({"content": "also private", "role": "user"}) {
                Value::Object(m) => m,
                _ => unreachable!(),
            },
        });
        let trace_id = s.trace_id;
        let mut batch = Batch::new(TenantId::new("acme").unwrap());
        batch.spans.push(s);
        pipeline
            .ingest(batch, crate::pipeline::SignalKind::Traces, "test")
            .await
            .unwrap();
        let stored = state
            .store
            .get_trace(&TenantId::new("acme").unwrap(), trace_id)
            .await
            .unwrap();
        let text = serde_json::to_string(&stored).unwrap();
        assert!(
            !text.contains("private") && !text.contains("noted"),
            "{text}"
        );
        assert!(text.contains("gen_ai.prompt.0.role") && text.contains("gen_ai.user.message"));
        assert!(
            line(
                &state.metrics.encode(),
                r#"ward_genai_content_values_total{tenant="acme",action="dropped"}"#
            )
            .ends_with(" 3")
        );
    }

    #[test]
    fn label_sets_are_bounded() {
        let m = Metrics::new();
        let tenant = TenantId::new("acme").unwrap();
        let spans: Vec<Span> = (0..MAX_SERIES + 50)
            .map(|i| {
                span(
                    json!({"gen_ai.operation.name": "chat", "gen_ai.request.model": format!("model-{i}"),
                           "gen_ai.usage.input_tokens": 1}),
                    10,
                )
            })
            .collect();
        m.genai.observe(&tenant, &spans);
        let text = m.encode();
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("gen_ai_client_operation_duration_seconds_count"))
                .count(),
            MAX_SERIES + 1
        );
        assert!(line(&text, "ward_genai_series_overflow_total").ends_with(" 50"));
        assert!(text.contains(r#"gen_ai_request_model="__overflow__""#));
    }
}
