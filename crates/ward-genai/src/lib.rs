//! GenAI telemetry normalisation, pure (no I/O).
//!
//! Agent services describe LLM calls in several attribute dialects: the OpenTelemetry GenAI
//! conventions (which renamed `gen_ai.system` to `gen_ai.provider.name` and `prompt_tokens` to
//! `input_tokens`), OpenInference (`llm.token_count.*`), OpenLLMetry / Traceloop (`llm.usage.*`,
//! `traceloop.*`) and the Vercel AI SDK (`ai.usage.*`). [`aliases::ALIASES`] is the one table
//! that maps each dialect's keys onto Ward's [`Field`]s; [`GenAi::from_attributes`] applies it
//! to a span's attributes. Unknown `gen_ai.usage.*` keys are kept, not dropped.
//!
//! [`content`] knows which attributes and events of each dialect carry prompts and completions,
//! and applies a [`ContentPolicy`] (store, truncate, drop) to them.
//!
//! `docs/genai.md` lists the table; a test checks that it names every key.

pub mod aliases;
pub mod content;
mod normalize;

pub use aliases::{ALIASES, Alias, Dialect, Field};
pub use content::{ContentChanges, ContentPolicy, is_content_event, is_content_key};
pub use normalize::{GenAi, Operation, is_genai_key};
