//! Prompts and completions: which attributes and events carry them in every dialect, and the
//! per-tenant policy applied to them before anything is stored (`store` them scrubbed like
//! everything else, `truncate` them to a number of bytes, or `drop` them).

use serde_json::{Map, Value};

/// What happens to prompt and completion content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentPolicy {
    /// Keep it (the scrubber still removes personal data and secrets from it).
    Store,
    /// Keep at most this many bytes of each value.
    Truncate(usize),
    /// Remove it.
    Drop,
}

/// Attribute keys that hold content, exactly.
const CONTENT_KEYS: &[&str] = &[
    // OpenTelemetry GenAI, current.
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    // OpenTelemetry GenAI, older names (also OpenLLMetry).
    "gen_ai.prompt",
    "gen_ai.completion",
    // OpenInference.
    "input.value",
    "output.value",
    "llm.prompts",
    // OpenLLMetry / Traceloop.
    "traceloop.entity.input",
    "traceloop.entity.output",
    // Vercel AI SDK.
    "ai.prompt",
    "ai.prompt.messages",
    "ai.response.text",
    "ai.response.object",
    "ai.response.toolCalls",
    "ai.toolCall.args",
    "ai.toolCall.result",
    "ai.value",
    "ai.values",
];

/// Indexed content keys: (prefix, suffix) around a message index and its sub-fields.
const CONTENT_PATTERNS: &[(&str, &str)] = &[
    // OpenLLMetry: gen_ai.prompt.0.content, gen_ai.completion.1.content.
    ("gen_ai.prompt.", ".content"),
    ("gen_ai.completion.", ".content"),
    ("gen_ai.prompt.", ".arguments"),
    ("gen_ai.completion.", ".arguments"),
    // OpenInference: llm.input_messages.0.message.content, ….message.contents.0.message_content.text,
    // tool-call arguments, retrieved documents, embedded texts.
    ("llm.input_messages.", ".message.content"),
    ("llm.output_messages.", ".message.content"),
    ("llm.input_messages.", ".message_content.text"),
    ("llm.output_messages.", ".message_content.text"),
    ("llm.input_messages.", ".tool_call.function.arguments"),
    ("llm.output_messages.", ".tool_call.function.arguments"),
    ("retrieval.documents.", ".document.content"),
    ("embedding.embeddings.", ".embedding.text"),
];

/// Span events (and log records, by `event.name`) whose attributes or body are content:
/// the OpenTelemetry GenAI message events, old and new.
const CONTENT_EVENTS: &[&str] = &[
    "gen_ai.system.message",
    "gen_ai.user.message",
    "gen_ai.assistant.message",
    "gen_ai.tool.message",
    "gen_ai.choice",
    "gen_ai.content.prompt",
    "gen_ai.content.completion",
    "gen_ai.client.inference.operation.details",
];

/// Attributes of a content event that carry the content itself (the rest — role, index,
/// finish reason — stays).
const CONTENT_EVENT_KEYS: &[&str] = &[
    "content",
    "message",
    "tool_calls",
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
];

/// Whether the attribute `key` holds prompt or completion content in some dialect.
pub fn is_content_key(key: &str) -> bool {
    CONTENT_KEYS.contains(&key)
        || CONTENT_PATTERNS
            .iter()
            .any(|(p, s)| key.len() > p.len() + s.len() && key.starts_with(p) && key.ends_with(s))
}

/// Whether an event (or a log record's `event.name`) carries content.
pub fn is_content_event(name: &str) -> bool {
    CONTENT_EVENTS.contains(&name)
}

/// What applying a policy changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContentChanges {
    /// Values shortened.
    pub truncated: u64,
    /// Values removed.
    pub dropped: u64,
}

impl ContentPolicy {
    /// Applies the policy to the content attributes of a span or log record.
    pub fn apply_to_attributes(self, attrs: &mut Map<String, Value>, changes: &mut ContentChanges) {
        if self == ContentPolicy::Store {
            return;
        }
        self.apply_where(attrs, is_content_key, changes);
    }

    /// Applies the policy to the attributes of an event named `name`, if it is a content event.
    pub fn apply_to_event(
        self,
        name: &str,
        attrs: &mut Map<String, Value>,
        changes: &mut ContentChanges,
    ) {
        if self == ContentPolicy::Store {
            return;
        }
        if is_content_event(name) {
            self.apply_where(
                attrs,
                |k| CONTENT_EVENT_KEYS.contains(&k) || is_content_key(k),
                changes,
            );
        } else {
            self.apply_where(attrs, is_content_key, changes);
        }
    }

    /// Applies the policy to a text that is content (a content event's log body).
    pub fn apply_to_text(self, text: &mut String, changes: &mut ContentChanges) {
        match self {
            ContentPolicy::Store => {}
            ContentPolicy::Drop => {
                if !text.is_empty() {
                    text.clear();
                    changes.dropped += 1;
                }
            }
            ContentPolicy::Truncate(max) => {
                if truncate(text, max) {
                    changes.truncated += 1;
                }
            }
        }
    }

    fn apply_where(
        self,
        attrs: &mut Map<String, Value>,
        is_content: impl Fn(&str) -> bool,
        changes: &mut ContentChanges,
    ) {
        match self {
            ContentPolicy::Store => {}
            ContentPolicy::Drop => {
                let before = attrs.len();
                attrs.retain(|k, _| !is_content(k));
                changes.dropped += (before - attrs.len()) as u64;
            }
            ContentPolicy::Truncate(max) => {
                for (k, v) in attrs.iter_mut() {
                    if !is_content(k) {
                        continue;
                    }
                    match v {
                        Value::Null => {}
                        Value::String(s) => {
                            if truncate(s, max) {
                                changes.truncated += 1;
                            }
                        }
                        // Structured content is kept as its JSON text once cut.
                        other => {
                            let mut text = other.to_string();
                            if truncate(&mut text, max) {
                                changes.truncated += 1;
                                *other = Value::String(text);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The marker ending a cut value.
const CUT: &str = "…";

/// Cuts `text` to at most `max` bytes (on a character boundary, the marker included); true if
/// it was longer.
fn truncate(text: &mut String, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    let mut end = max.saturating_sub(CUT.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    if max >= CUT.len() {
        text.push_str(CUT);
    }
    true
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn attrs(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn content_keys_of_every_dialect() {
        for key in [
            "gen_ai.input.messages",
            "gen_ai.prompt",
            "gen_ai.prompt.0.content",
            "gen_ai.completion.12.content",
            "input.value",
            "llm.input_messages.0.message.content",
            "llm.output_messages.3.message.contents.0.message_content.text",
            "retrieval.documents.2.document.content",
            "traceloop.entity.input",
            "ai.prompt.messages",
            "ai.response.text",
            "ai.toolCall.args",
        ] {
            assert!(is_content_key(key), "{key}");
        }
        for key in [
            "gen_ai.request.model",
            "gen_ai.prompt.0.role",
            "llm.input_messages.0.message.role",
            "gen_ai.usage.input_tokens",
            "input.mime_type",
            "gen_ai.prompt.content",
        ] {
            assert!(!is_content_key(key), "{key}");
        }
    }

    #[test]
    fn drop_removes_content_and_nothing_else() {
        let mut a = attrs(json!({
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "my card is 4111…",
            "llm.output_messages.0.message.content": "ok",
            "gen_ai.request.model": "gpt-4o",
        }));
        let mut c = ContentChanges::default();
        ContentPolicy::Drop.apply_to_attributes(&mut a, &mut c);
        assert_eq!(c.dropped, 2);
        assert_eq!(a.len(), 2);
        assert!(a.contains_key("gen_ai.prompt.0.role") && a.contains_key("gen_ai.request.model"));
    }

    #[test]
    fn truncate_cuts_on_character_boundaries_and_serialises_structures() {
        let mut a = attrs(json!({
            "input.value": "ééééé",
            "gen_ai.input.messages": [{"role": "user", "content": "hello there"}],
            "output.value": "ok",
        }));
        let mut c = ContentChanges::default();
        ContentPolicy::Truncate(8).apply_to_attributes(&mut a, &mut c);
        assert_eq!(c.truncated, 2);
        // 8 bytes: two 2-byte é, then the 3-byte marker (5 + 3 ≤ 8 after the boundary).
        assert_eq!(a["input.value"], json!("éé…"));
        assert!(a["input.value"].as_str().unwrap().len() <= 8);
        let cut = a["gen_ai.input.messages"].as_str().unwrap();
        assert!(cut.len() <= 8 && cut.starts_with("[{"), "{cut}");
        assert_eq!(a["output.value"], json!("ok"));
    }

    #[test]
    fn content_events_lose_their_content_only() {
        let mut a = attrs(json!({"content": "secret plan", "role": "user", "index": 0}));
        let mut c = ContentChanges::default();
        ContentPolicy::Drop.apply_to_event("gen_ai.user.message", &mut a, &mut c);
        assert_eq!(a, attrs(json!({"role": "user", "index": 0})));
        let mut other = attrs(json!({"content": "not a message event"}));
        ContentPolicy::Drop.apply_to_event("exception", &mut other, &mut c);
        assert_eq!(other.len(), 1);
        let mut body = "the whole prompt".to_owned();
        ContentPolicy::Truncate(4).apply_to_text(&mut body, &mut c);
        assert_eq!(body, "t…");
        assert_eq!(
            c,
            ContentChanges {
                truncated: 1,
                dropped: 1
            }
        );
    }
}
