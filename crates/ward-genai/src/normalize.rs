//! Applying the alias table to a span's attributes.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::aliases::{ALIASES, Alias, Field, keys_of};

/// What a GenAI span does, normalised across dialects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// A chat completion.
    Chat,
    /// A (legacy) text completion.
    TextCompletion,
    /// Content generation (Gemini's name for a chat call).
    GenerateContent,
    /// Embeddings.
    Embeddings,
    /// An agent's run.
    InvokeAgent,
    /// An agent's creation.
    CreateAgent,
    /// A tool call.
    ExecuteTool,
    /// A retrieval (vector search, document lookup).
    Retrieval,
    /// Any other value of `gen_ai.operation.name`.
    Other(String),
}

impl Operation {
    /// The value as the OpenTelemetry conventions name it.
    pub fn as_str(&self) -> &str {
        match self {
            Operation::Chat => "chat",
            Operation::TextCompletion => "text_completion",
            Operation::GenerateContent => "generate_content",
            Operation::Embeddings => "embeddings",
            Operation::InvokeAgent => "invoke_agent",
            Operation::CreateAgent => "create_agent",
            Operation::ExecuteTool => "execute_tool",
            Operation::Retrieval => "retrieval",
            Operation::Other(s) => s,
        }
    }

    /// Reads one dialect's operation value; `None` when the value names no GenAI operation
    /// (e.g. OpenInference `CHAIN`, Traceloop `workflow`, the Vercel SDK's outer spans).
    fn from_key(key: &str, value: &str) -> Option<Operation> {
        use Operation::*;
        match key {
            "gen_ai.operation.name" => Some(match value {
                "chat" => Chat,
                "text_completion" => TextCompletion,
                "generate_content" => GenerateContent,
                "embeddings" => Embeddings,
                "invoke_agent" => InvokeAgent,
                "create_agent" => CreateAgent,
                "execute_tool" => ExecuteTool,
                "retrieval" => Retrieval,
                other => Other(other.chars().take(64).collect()),
            }),
            "openinference.span.kind" => match value.to_ascii_uppercase().as_str() {
                "LLM" => Some(Chat),
                "EMBEDDING" => Some(Embeddings),
                "TOOL" => Some(ExecuteTool),
                "AGENT" => Some(InvokeAgent),
                "RETRIEVER" => Some(Retrieval),
                _ => None,
            },
            "traceloop.span.kind" => match value {
                "agent" => Some(InvokeAgent),
                "tool" => Some(ExecuteTool),
                _ => None,
            },
            "llm.request.type" => match value {
                "chat" => Some(Chat),
                "completion" => Some(TextCompletion),
                "embedding" => Some(Embeddings),
                _ => None,
            },
            "ai.operationId" => match value {
                "ai.generateText.doGenerate"
                | "ai.streamText.doStream"
                | "ai.generateObject.doGenerate"
                | "ai.streamObject.doStream" => Some(Chat),
                "ai.embed.doEmbed" | "ai.embedMany.doEmbed" => Some(Embeddings),
                "ai.toolCall" => Some(ExecuteTool),
                _ => None,
            },
            _ => None,
        }
    }
}

/// A span's GenAI facts, whatever dialect it was described in.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GenAi {
    /// What the span does.
    pub operation: Option<Operation>,
    /// Who serves the model, lower case (`openai`, `anthropic`, `aws.bedrock` …).
    pub provider: Option<String>,
    /// The model asked for.
    pub request_model: Option<String>,
    /// The model that answered.
    pub response_model: Option<String>,
    /// The agent's name.
    pub agent_name: Option<String>,
    /// The agent's id.
    pub agent_id: Option<String>,
    /// The tool called.
    pub tool_name: Option<String>,
    /// The conversation or session.
    pub session_id: Option<String>,
    /// The end user.
    pub user_id: Option<String>,
    /// Input tokens, as reported.
    pub input_tokens: Option<u64>,
    /// Output tokens, as reported.
    pub output_tokens: Option<u64>,
    /// Input tokens read from a provider cache.
    pub cache_read_tokens: Option<u64>,
    /// Input tokens written to a provider cache.
    pub cache_write_tokens: Option<u64>,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: Option<u64>,
    /// Total tokens, as reported (when only a total is known).
    pub total_tokens: Option<u64>,
    /// Cost in USD as reported by the instrumentation or a gateway.
    pub cost_usd: Option<f64>,
    /// Why generation stopped.
    pub finish_reason: Option<String>,
    /// Numeric `gen_ai.usage.*` attributes the table does not know, kept by key.
    pub other_usage: BTreeMap<String, f64>,
}

/// Attribute namespaces that only GenAI instrumentations write.
const GENAI_PREFIXES: [&str; 5] = ["gen_ai.", "llm.", "ai.", "openinference.", "traceloop."];

/// Whether `key` belongs to a GenAI namespace.
pub fn is_genai_key(key: &str) -> bool {
    GENAI_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Longest text kept for a normalised string field.
const MAX_TEXT: usize = 256;

fn text(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim(),
        Value::Array(items) => return items.iter().find_map(text),
        _ => return None,
    };
    // Some SDKs write arrays as their JSON text.
    if s.starts_with('[')
        && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(s)
    {
        return items.iter().find_map(text);
    }
    (!s.is_empty()).then(|| s.chars().take(MAX_TEXT).collect())
}

fn number(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (n.is_finite() && n >= 0.0).then_some(n)
}

fn count(v: &Value) -> Option<u64> {
    // Counts beyond 2^53 are not real token counts; saturating keeps them from wrapping.
    number(v).map(|n| n.round().min(u64::MAX as f64) as u64)
}

fn applies(alias: &Alias, attrs: &Map<String, Value>) -> bool {
    match alias.when {
        None => true,
        Some((key, value)) => attrs.get(key).and_then(Value::as_str) == Some(value),
    }
}

/// The first alias of `field` present on the span, converted by `read`.
fn first<T>(
    attrs: &Map<String, Value>,
    field: Field,
    read: impl Fn(&Alias, &Value) -> Option<T>,
) -> Option<T> {
    keys_of(field).find_map(|alias| {
        let value = attrs.get(alias.key)?;
        if !applies(alias, attrs) {
            return None;
        }
        read(alias, value)
    })
}

fn provider(alias: &Alias, v: &Value) -> Option<String> {
    let p = text(v)?.to_ascii_lowercase();
    // The Vercel AI SDK names the API too: `openai.chat`, `anthropic.messages`.
    Some(if alias.key == "ai.model.provider" {
        p.split('.').next().unwrap_or(&p).to_owned()
    } else {
        p
    })
}

impl GenAi {
    /// The GenAI facts of a span's attributes, or `None` when no attribute of a GenAI
    /// namespace is present (not a GenAI span: `user.id` or `session.id` alone do not make
    /// one). The check is a prefix test over the span's own keys, so ordinary spans cost a
    /// few comparisons.
    pub fn from_attributes(attrs: &Map<String, Value>) -> Option<GenAi> {
        if !attrs.keys().any(|k| is_genai_key(k)) {
            return None;
        }
        let known = |k: &str| ALIASES.iter().any(|a| a.key == k);
        let s = |field| first(attrs, field, |_, v| text(v));
        let n = |field| first(attrs, field, |_, v| count(v));
        let other_usage = attrs
            .iter()
            .filter(|(k, _)| k.starts_with("gen_ai.usage.") && !known(k))
            .filter_map(|(k, v)| Some((k.clone(), number(v)?)))
            .collect();
        Some(GenAi {
            operation: first(attrs, Field::Operation, |alias, v| {
                Operation::from_key(alias.key, &text(v)?)
            }),
            provider: first(attrs, Field::Provider, provider),
            request_model: s(Field::RequestModel),
            response_model: s(Field::ResponseModel),
            agent_name: s(Field::AgentName),
            agent_id: s(Field::AgentId),
            tool_name: s(Field::ToolName),
            session_id: s(Field::SessionId),
            user_id: s(Field::UserId),
            input_tokens: n(Field::InputTokens),
            output_tokens: n(Field::OutputTokens),
            cache_read_tokens: n(Field::CacheReadTokens),
            cache_write_tokens: n(Field::CacheWriteTokens),
            reasoning_tokens: n(Field::ReasoningTokens),
            total_tokens: n(Field::TotalTokens),
            cost_usd: first(attrs, Field::Cost, |_, v| number(v)),
            finish_reason: s(Field::FinishReason),
            other_usage,
        })
    }

    /// The model to price and report: the one that answered, else the one asked for.
    pub fn model(&self) -> Option<&str> {
        self.response_model
            .as_deref()
            .or(self.request_model.as_deref())
    }
}

#[cfg(test)]
mod tests;
