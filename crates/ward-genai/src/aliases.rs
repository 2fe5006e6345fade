//! The alias table: every attribute key Ward understands, the field it feeds and the dialect
//! it comes from. For each field the first key present on a span wins, so the table lists the
//! current OpenTelemetry name first and older or foreign names after it.

/// A normalised GenAI field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// What the span does (chat, embeddings, invoke_agent, execute_tool …), raw.
    Operation,
    /// Who serves the model (openai, anthropic, aws.bedrock …).
    Provider,
    /// The model asked for.
    RequestModel,
    /// The model that answered.
    ResponseModel,
    /// The agent's name.
    AgentName,
    /// The agent's id.
    AgentId,
    /// The tool called.
    ToolName,
    /// The conversation or session.
    SessionId,
    /// The end user.
    UserId,
    /// Input (prompt) tokens.
    InputTokens,
    /// Output (completion) tokens.
    OutputTokens,
    /// Input tokens read from a provider cache.
    CacheReadTokens,
    /// Input tokens written to a provider cache.
    CacheWriteTokens,
    /// Output tokens spent on reasoning.
    ReasoningTokens,
    /// Input + output tokens, when only the sum is reported.
    TotalTokens,
    /// Cost in USD reported by the instrumentation or a gateway.
    Cost,
    /// Why generation stopped (the first reason when several are given).
    FinishReason,
}

/// Where a key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenTelemetry GenAI semantic conventions, current names.
    OtelGenAi,
    /// OpenTelemetry GenAI semantic conventions up to v1.36, and names since renamed.
    OtelGenAiLegacy,
    /// OpenInference (Arize Phoenix and its instrumentations).
    OpenInference,
    /// OpenLLMetry / Traceloop.
    OpenLlmetry,
    /// Vercel AI SDK telemetry (v4 and v5 names).
    VercelAi,
}

impl Dialect {
    /// The dialect's name in documentation.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::OtelGenAi => "OpenTelemetry GenAI",
            Dialect::OtelGenAiLegacy => "OpenTelemetry GenAI ≤ 1.36",
            Dialect::OpenInference => "OpenInference",
            Dialect::OpenLlmetry => "OpenLLMetry",
            Dialect::VercelAi => "Vercel AI SDK",
        }
    }
}

/// One key of the table.
#[derive(Debug, Clone, Copy)]
pub struct Alias {
    /// The attribute key.
    pub key: &'static str,
    /// The field it feeds.
    pub field: Field,
    /// Its dialect.
    pub dialect: Dialect,
    /// Only when this other attribute has this value (e.g. Traceloop's entity name is an
    /// agent's name only on spans whose kind is `agent`).
    pub when: Option<(&'static str, &'static str)>,
}

const fn a(key: &'static str, field: Field, dialect: Dialect) -> Alias {
    Alias {
        key,
        field,
        dialect,
        when: None,
    }
}

const fn on(
    key: &'static str,
    field: Field,
    dialect: Dialect,
    when: (&'static str, &'static str),
) -> Alias {
    Alias {
        key,
        field,
        dialect,
        when: Some(when),
    }
}

use Dialect::{
    OpenInference as OI, OpenLlmetry as OL, OtelGenAi as OT, OtelGenAiLegacy as OTL, VercelAi as VA,
};
use Field::*;

/// Every key, by field, in precedence order.
pub const ALIASES: &[Alias] = &[
    a("gen_ai.operation.name", Operation, OT),
    a("openinference.span.kind", Operation, OI),
    a("traceloop.span.kind", Operation, OL),
    a("llm.request.type", Operation, OL),
    a("ai.operationId", Operation, VA),
    a("gen_ai.provider.name", Provider, OT),
    a("gen_ai.system", Provider, OTL),
    a("llm.provider", Provider, OI),
    a("llm.system", Provider, OI),
    a("ai.model.provider", Provider, VA),
    a("gen_ai.request.model", RequestModel, OT),
    a("llm.request.model_name", RequestModel, OI),
    a("ai.model.id", RequestModel, VA),
    a("gen_ai.response.model", ResponseModel, OT),
    a("llm.response.model_name", ResponseModel, OI),
    a("llm.model_name", ResponseModel, OI),
    a("ai.response.model", ResponseModel, VA),
    a("gen_ai.agent.name", AgentName, OT),
    a("agent.name", AgentName, OI),
    on(
        "traceloop.entity.name",
        AgentName,
        OL,
        ("traceloop.span.kind", "agent"),
    ),
    a("gen_ai.agent.id", AgentId, OT),
    a("gen_ai.tool.name", ToolName, OT),
    a("tool.name", ToolName, OI),
    on(
        "traceloop.entity.name",
        ToolName,
        OL,
        ("traceloop.span.kind", "tool"),
    ),
    a("ai.toolCall.name", ToolName, VA),
    a("gen_ai.conversation.id", SessionId, OT),
    a("session.id", SessionId, OI),
    a("traceloop.association.properties.session_id", SessionId, OL),
    a("ai.telemetry.metadata.sessionId", SessionId, VA),
    a("user.id", UserId, OI),
    a("enduser.id", UserId, OTL),
    a("traceloop.association.properties.user_id", UserId, OL),
    a("ai.telemetry.metadata.userId", UserId, VA),
    a("gen_ai.usage.input_tokens", InputTokens, OT),
    a("gen_ai.usage.prompt_tokens", InputTokens, OTL),
    a("llm.token_count.prompt", InputTokens, OI),
    a("llm.usage.prompt_tokens", InputTokens, OL),
    a("ai.usage.inputTokens", InputTokens, VA),
    a("ai.usage.promptTokens", InputTokens, VA),
    a("gen_ai.usage.output_tokens", OutputTokens, OT),
    a("gen_ai.usage.completion_tokens", OutputTokens, OTL),
    a("llm.token_count.completion", OutputTokens, OI),
    a("llm.usage.completion_tokens", OutputTokens, OL),
    a("ai.usage.outputTokens", OutputTokens, VA),
    a("ai.usage.completionTokens", OutputTokens, VA),
    a("gen_ai.usage.cache_read.input_tokens", CacheReadTokens, OT),
    a("gen_ai.usage.cache_read_input_tokens", CacheReadTokens, OTL),
    a(
        "llm.token_count.prompt_details.cache_read",
        CacheReadTokens,
        OI,
    ),
    a("ai.usage.cachedInputTokens", CacheReadTokens, VA),
    a(
        "gen_ai.usage.cache_creation.input_tokens",
        CacheWriteTokens,
        OT,
    ),
    a(
        "gen_ai.usage.cache_creation_input_tokens",
        CacheWriteTokens,
        OTL,
    ),
    a(
        "llm.token_count.prompt_details.cache_write",
        CacheWriteTokens,
        OI,
    ),
    a("gen_ai.usage.reasoning.output_tokens", ReasoningTokens, OT),
    a(
        "llm.token_count.completion_details.reasoning",
        ReasoningTokens,
        OI,
    ),
    a("llm.usage.reasoning_tokens", ReasoningTokens, OL),
    a("ai.usage.reasoningTokens", ReasoningTokens, VA),
    a("gen_ai.usage.total_tokens", TotalTokens, OTL),
    a("llm.token_count.total", TotalTokens, OI),
    a("llm.usage.total_tokens", TotalTokens, OL),
    a("ai.usage.totalTokens", TotalTokens, VA),
    a("gen_ai.usage.cost", Cost, OTL),
    a("llm.cost.total", Cost, OI),
    a("gen_ai.response.finish_reasons", FinishReason, OT),
    a("gen_ai.completion.0.finish_reason", FinishReason, OL),
    a("ai.response.finishReason", FinishReason, VA),
];

/// The keys feeding `field`, in precedence order.
pub fn keys_of(field: Field) -> impl Iterator<Item = &'static Alias> {
    ALIASES.iter().filter(move |a| a.field == field)
}
