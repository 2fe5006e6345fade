//! GenAI metrics derived from committed spans: the OpenTelemetry GenAI client metrics
//! `gen_ai.client.token.usage` and `gen_ai.client.operation.duration`, exposed on `/metrics`
//! under their Prometheus names (`gen_ai_client_token_usage`,
//! `gen_ai_client_operation_duration_seconds`) so dashboards built for the conventions work.
//!
//! Spans of any dialect are read through `ward_genai` (one alias table). Label sets are
//! bounded: past [`MAX_SERIES`] distinct (tenant, operation, provider, models) every label of a
//! new set but the tenant reads `__overflow__`, and each such observation is counted in
//! `ward_genai_series_overflow_total`. Token usage is recorded for model calls only: agent and
//! tool spans that report tokens repeat their model calls' counts.

use std::collections::HashSet;
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use ward_genai::{GenAi, Operation};
use ward_model::{Span, TenantId};

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
        m
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
