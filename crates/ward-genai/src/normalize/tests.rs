use serde_json::{Map, Value, json};

use super::*;

fn attrs(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("test attributes are objects"),
    }
}

/// The same chat call (gpt-4o-mini, 42 in, 7 out, 10 of the input from the cache) as each
/// dialect's instrumentation describes it.
fn same_call_in_every_dialect() -> Vec<(&'static str, Map<String, Value>)> {
    vec![
        (
            "OpenTelemetry GenAI (current)",
            attrs(json!({
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.usage.input_tokens": 42,
                "gen_ai.usage.output_tokens": 7,
                "gen_ai.usage.cache_read.input_tokens": 10,
                "gen_ai.response.finish_reasons": ["stop"],
            })),
        ),
        (
            "OpenTelemetry GenAI (≤ 1.36, openai-v2 instrumentation)",
            attrs(json!({
                "gen_ai.operation.name": "chat",
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.usage.prompt_tokens": 42,
                "gen_ai.usage.completion_tokens": 7,
                "gen_ai.usage.cache_read_input_tokens": 10,
                "gen_ai.response.finish_reasons": "[\"stop\"]",
            })),
        ),
        (
            "OpenInference",
            attrs(json!({
                "openinference.span.kind": "LLM",
                "llm.system": "openai",
                "llm.model_name": "gpt-4o-mini-2024-07-18",
                "llm.request.model_name": "gpt-4o-mini",
                "llm.token_count.prompt": 42,
                "llm.token_count.completion": 7,
                "llm.token_count.total": 49,
                "llm.token_count.prompt_details.cache_read": 10,
            })),
        ),
        (
            "OpenLLMetry",
            attrs(json!({
                "llm.request.type": "chat",
                "gen_ai.system": "OpenAI",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.usage.prompt_tokens": 42,
                "gen_ai.usage.completion_tokens": 7,
                "llm.usage.total_tokens": 49,
                "gen_ai.usage.cache_read_input_tokens": 10,
                "gen_ai.completion.0.finish_reason": "stop",
            })),
        ),
        (
            "Vercel AI SDK v5",
            attrs(json!({
                "ai.operationId": "ai.generateText.doGenerate",
                "ai.model.provider": "openai.chat",
                "ai.model.id": "gpt-4o-mini",
                "ai.response.model": "gpt-4o-mini-2024-07-18",
                "ai.usage.inputTokens": 42,
                "ai.usage.outputTokens": 7,
                "ai.usage.cachedInputTokens": 10,
                "ai.response.finishReason": "stop",
            })),
        ),
        (
            "Vercel AI SDK v4",
            attrs(json!({
                "ai.operationId": "ai.streamText.doStream",
                "ai.model.provider": "openai.chat",
                "ai.model.id": "gpt-4o-mini",
                "ai.response.model": "gpt-4o-mini-2024-07-18",
                "ai.usage.promptTokens": "42",
                "ai.usage.completionTokens": 7.0,
                "ai.usage.cachedInputTokens": 10,
                "ai.response.finishReason": "stop",
            })),
        ),
    ]
}

#[test]
fn every_dialect_of_one_call_normalises_alike() {
    for (dialect, a) in same_call_in_every_dialect() {
        let g = GenAi::from_attributes(&a).unwrap_or_else(|| panic!("{dialect}: not GenAI"));
        assert_eq!(g.operation, Some(Operation::Chat), "{dialect}");
        assert_eq!(g.provider.as_deref(), Some("openai"), "{dialect}");
        assert_eq!(g.request_model.as_deref(), Some("gpt-4o-mini"), "{dialect}");
        assert_eq!(g.model(), Some("gpt-4o-mini-2024-07-18"), "{dialect}");
        assert_eq!(
            (g.input_tokens, g.output_tokens),
            (Some(42), Some(7)),
            "{dialect}"
        );
        assert_eq!(g.cache_read_tokens, Some(10), "{dialect}");
        if dialect != "OpenInference" {
            assert_eq!(g.finish_reason.as_deref(), Some("stop"), "{dialect}");
        }
    }
}

#[test]
fn agents_and_tools_in_every_dialect() {
    let cases = [
        (
            json!({"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner", "gen_ai.agent.id": "a-1"}),
            Operation::InvokeAgent,
            Some("planner"),
            None,
        ),
        (
            json!({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}),
            Operation::ExecuteTool,
            None,
            Some("search"),
        ),
        (
            json!({"openinference.span.kind": "AGENT", "agent.name": "planner"}),
            Operation::InvokeAgent,
            Some("planner"),
            None,
        ),
        (
            json!({"openinference.span.kind": "TOOL", "tool.name": "search"}),
            Operation::ExecuteTool,
            None,
            Some("search"),
        ),
        (
            json!({"traceloop.span.kind": "agent", "traceloop.entity.name": "planner"}),
            Operation::InvokeAgent,
            Some("planner"),
            None,
        ),
        (
            json!({"traceloop.span.kind": "tool", "traceloop.entity.name": "search"}),
            Operation::ExecuteTool,
            None,
            Some("search"),
        ),
        (
            json!({"ai.operationId": "ai.toolCall", "ai.toolCall.name": "search"}),
            Operation::ExecuteTool,
            None,
            Some("search"),
        ),
    ];
    for (a, op, agent, tool) in cases {
        let g = GenAi::from_attributes(&attrs(a.clone())).unwrap();
        assert_eq!(g.operation, Some(op), "{a}");
        assert_eq!(g.agent_name.as_deref(), agent, "{a}");
        assert_eq!(g.tool_name.as_deref(), tool, "{a}");
    }
    // A Traceloop workflow's entity name is neither an agent nor a tool.
    let g = GenAi::from_attributes(&attrs(
        json!({"traceloop.span.kind": "workflow", "traceloop.entity.name": "nightly"}),
    ))
    .unwrap();
    assert_eq!((g.operation, g.agent_name, g.tool_name), (None, None, None));
}

#[test]
fn unknown_usage_keys_are_kept_and_bad_values_ignored() {
    let g = GenAi::from_attributes(&attrs(json!({
        "gen_ai.usage.input_tokens": -5,
        "gen_ai.usage.prompt_tokens": "12",
        "gen_ai.usage.output_tokens": "lots",
        "gen_ai.usage.audio.input_tokens": 3,
        "gen_ai.usage.image_units": "2.5",
        "gen_ai.usage.weird": "text",
        "gen_ai.usage.cost": 0.0021,
    })))
    .unwrap();
    // A negative current-name count falls through to the legacy name.
    assert_eq!(g.input_tokens, Some(12));
    assert_eq!(g.output_tokens, None);
    assert_eq!(g.cost_usd, Some(0.0021));
    assert_eq!(
        g.other_usage.into_iter().collect::<Vec<_>>(),
        [
            ("gen_ai.usage.audio.input_tokens".to_owned(), 3.0),
            ("gen_ai.usage.image_units".to_owned(), 2.5)
        ]
    );
}

#[test]
fn spans_without_genai_attributes_are_not_genai() {
    assert!(
        GenAi::from_attributes(&attrs(json!({"http.method": "GET", "user.name": "x"}))).is_none()
    );
    assert!(GenAi::from_attributes(&Map::new()).is_none());
    assert!(GenAi::from_attributes(&attrs(json!({"user.id": "u1", "session.id": "s"}))).is_none());
}

#[test]
fn docs_list_every_key() {
    let doc = include_str!("../../../../docs/genai.md");
    for alias in crate::ALIASES {
        assert!(
            doc.contains(&format!("`{}`", alias.key)),
            "docs/genai.md does not list {}",
            alias.key
        );
    }
}
