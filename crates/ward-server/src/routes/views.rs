//! JSON shapes of the query API: records as a person reads them (RFC 3339 times, level names,
//! hex ids) next to the exact numbers.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use ward_model::time::format_rfc3339;
use ward_model::{
    Attributes, LogRecord, Scope, Span, SpanEvent, SpanId, SpanLink, SpanStatus, TraceId,
};

/// A log record in API answers.
#[derive(Debug, Serialize)]
pub struct LogView {
    /// RFC 3339, UTC.
    pub time: String,
    /// Unix nanoseconds.
    pub time_unix_nano: i64,
    /// Unix nanoseconds.
    pub observed_time_unix_nano: i64,
    /// trace, debug, info, warn, error or fatal.
    pub level: &'static str,
    /// OpenTelemetry severity number (0 = unspecified).
    pub severity_number: u8,
    /// The level as the producer wrote it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub severity_text: String,
    /// The message.
    pub body: String,
    /// `service.name`.
    pub service: String,
    /// Trace correlation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    /// Span correlation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_id: Option<SpanId>,
    /// Record attributes.
    pub attributes: Attributes,
    /// Resource attributes other than `service.name`.
    pub resource: Attributes,
    /// Instrumentation scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
}

fn non_empty(scope: Scope) -> Option<Scope> {
    (!scope.name.is_empty() || !scope.version.is_empty()).then_some(scope)
}

impl From<LogRecord> for LogView {
    fn from(r: LogRecord) -> LogView {
        LogView {
            time: format_rfc3339(r.time_unix_nano),
            level: r.severity().as_str(),
            time_unix_nano: r.time_unix_nano,
            observed_time_unix_nano: r.observed_time_unix_nano,
            severity_number: r.severity_number,
            severity_text: r.severity_text,
            body: r.body,
            service: r.resource.service_name,
            trace_id: r.trace_id,
            span_id: r.span_id,
            attributes: r.attributes,
            resource: r.resource.attributes,
            scope: non_empty(r.scope),
        }
    }
}

/// A span event with a readable time.
#[derive(Debug, Serialize)]
pub struct EventView {
    /// RFC 3339.
    pub time: String,
    /// Unix nanoseconds.
    pub time_unix_nano: i64,
    /// Event name (`exception` for exceptions).
    pub name: String,
    /// Event attributes.
    pub attributes: Attributes,
}

impl From<SpanEvent> for EventView {
    fn from(e: SpanEvent) -> EventView {
        EventView {
            time: format_rfc3339(e.time_unix_nano),
            time_unix_nano: e.time_unix_nano,
            name: e.name,
            attributes: e.attributes,
        }
    }
}

/// A span in a trace tree.
#[derive(Debug, Serialize)]
pub struct SpanView {
    /// Trace id.
    pub trace_id: TraceId,
    /// Span id.
    pub span_id: SpanId,
    /// Parent span id; absent for a root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<SpanId>,
    /// Operation name.
    pub name: String,
    /// Span kind.
    pub kind: &'static str,
    /// `service.name`.
    pub service: String,
    /// RFC 3339 start.
    pub start_time: String,
    /// Unix nanoseconds.
    pub start_time_unix_nano: i64,
    /// Unix nanoseconds.
    pub end_time_unix_nano: i64,
    /// Duration in milliseconds.
    pub duration_ms: f64,
    /// Status.
    pub status: SpanStatus,
    /// Attributes.
    pub attributes: Attributes,
    /// Resource attributes other than `service.name`.
    pub resource: Attributes,
    /// Instrumentation scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// Events (exceptions among them).
    pub events: Vec<EventView>,
    /// Links.
    pub links: Vec<SpanLink>,
    /// Child spans, by start time.
    pub children: Vec<SpanView>,
}

impl From<Span> for SpanView {
    fn from(s: Span) -> SpanView {
        SpanView {
            duration_ms: s.duration_nanos() as f64 / 1e6,
            start_time: format_rfc3339(s.start_time_unix_nano),
            kind: s.kind.as_str(),
            trace_id: s.trace_id,
            span_id: s.span_id,
            parent_span_id: s.parent_span_id,
            name: s.name,
            service: s.resource.service_name,
            start_time_unix_nano: s.start_time_unix_nano,
            end_time_unix_nano: s.end_time_unix_nano,
            status: s.status,
            attributes: s.attributes,
            resource: s.resource.attributes,
            scope: non_empty(s.scope),
            events: s.events.into_iter().map(EventView::from).collect(),
            links: s.links,
            children: Vec::new(),
        }
    }
}

/// A whole trace as a tree.
#[derive(Debug, Serialize)]
pub struct TraceView {
    /// Trace id.
    pub trace_id: TraceId,
    /// Spans in the trace.
    pub span_count: usize,
    /// Spans with status error.
    pub error_count: usize,
    /// Services taking part, sorted.
    pub services: Vec<String>,
    /// RFC 3339 start of the earliest span.
    pub start_time: String,
    /// Earliest start to latest end, in milliseconds.
    pub duration_ms: f64,
    /// Root spans (and spans whose parent was never received), with their descendants.
    pub roots: Vec<SpanView>,
}

/// Deepest nesting rendered; deeper descendants are attached at this depth so that a hostile
/// trace cannot exhaust the stack while being serialised.
pub const MAX_TREE_DEPTH: usize = 128;

/// Builds the tree of `spans` (sorted by start time). Spans whose parent is missing, and spans
/// caught in a parent cycle, become roots: nothing received is left out.
pub fn build_trace(trace_id: TraceId, mut spans: Vec<Span>) -> TraceView {
    spans.sort_by_key(|s| (s.start_time_unix_nano, s.span_id));
    let start = spans
        .iter()
        .map(|s| s.start_time_unix_nano)
        .min()
        .unwrap_or(0);
    let end = spans
        .iter()
        .map(|s| s.end_time_unix_nano)
        .max()
        .unwrap_or(0);
    let mut services: Vec<String> = spans
        .iter()
        .map(|s| s.resource.service_name.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    services.sort();
    let error_count = spans
        .iter()
        .filter(|s| s.status.code == ward_model::StatusCode::Error)
        .count();
    let span_count = spans.len();

    let ids: HashSet<SpanId> = spans.iter().map(|s| s.span_id).collect();
    let mut children: HashMap<SpanId, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        match s.parent_span_id {
            Some(parent) if ids.contains(&parent) && parent != s.span_id => {
                children.entry(parent).or_default().push(i)
            }
            _ => roots.push(i),
        }
    }
    let mut slots: Vec<Option<Span>> = spans.into_iter().map(Some).collect();
    let mut visited = vec![false; slots.len()];
    let mut out = Vec::new();
    for root in roots.clone() {
        if let Some(view) = take_subtree(root, 0, &mut slots, &children, &mut visited) {
            out.push(view);
        }
    }
    // Whatever is left sits in a parent cycle: show it rather than drop it.
    for i in 0..slots.len() {
        if let Some(view) = take_subtree(i, 0, &mut slots, &children, &mut visited) {
            out.push(view);
        }
    }
    TraceView {
        trace_id,
        span_count,
        error_count,
        services,
        start_time: format_rfc3339(start),
        duration_ms: end.saturating_sub(start) as f64 / 1e6,
        roots: out,
    }
}

fn take_subtree(
    index: usize,
    depth: usize,
    slots: &mut [Option<Span>],
    children: &HashMap<SpanId, Vec<usize>>,
    visited: &mut [bool],
) -> Option<SpanView> {
    if visited.get(index).copied().unwrap_or(true) {
        return None;
    }
    visited[index] = true;
    let span = slots[index].take()?;
    let id = span.span_id;
    let mut view = SpanView::from(span);
    let kids = children.get(&id).cloned().unwrap_or_default();
    if depth + 1 >= MAX_TREE_DEPTH {
        // Flatten the rest of the subtree under this span.
        let mut stack = kids;
        while let Some(k) = stack.pop() {
            if visited[k] {
                continue;
            }
            visited[k] = true;
            if let Some(s) = slots[k].take() {
                if let Some(grand) = children.get(&s.span_id) {
                    stack.extend(grand.iter().copied());
                }
                view.children.push(SpanView::from(s));
            }
        }
        view.children.sort_by_key(|c| c.start_time_unix_nano);
    } else {
        for k in kids {
            if let Some(child) = take_subtree(k, depth + 1, slots, children, visited) {
                view.children.push(child);
            }
        }
    }
    Some(view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::{Resource, SpanKind};

    fn span(id: u8, parent: Option<u8>, start: i64) -> Span {
        Span {
            trace_id: TraceId([1; 16]),
            span_id: SpanId([id; 8]),
            parent_span_id: parent.map(|p| SpanId([p; 8])),
            trace_state: String::new(),
            name: format!("op{id}"),
            kind: SpanKind::Internal,
            start_time_unix_nano: start,
            end_time_unix_nano: start + 10,
            status: Default::default(),
            attributes: Default::default(),
            events: vec![],
            links: vec![],
            resource: Resource {
                service_name: "s".into(),
                attributes: Default::default(),
            },
            scope: Default::default(),
        }
    }

    #[test]
    fn builds_nested_tree_and_keeps_orphans_and_cycles() {
        let spans = vec![
            span(1, None, 0),
            span(2, Some(1), 1),
            span(3, Some(2), 2),
            span(4, Some(9), 3),
            span(5, Some(6), 4),
            span(6, Some(5), 5),
        ];
        let t = build_trace(TraceId([1; 16]), spans);
        assert_eq!(t.span_count, 6);
        assert_eq!(t.roots[0].span_id, SpanId([1; 8]));
        assert_eq!(t.roots[0].children[0].children[0].span_id, SpanId([3; 8]));
        let count = |v: &SpanView| -> usize {
            fn c(v: &SpanView) -> usize {
                1 + v.children.iter().map(c).sum::<usize>()
            }
            c(v)
        };
        assert_eq!(t.roots.iter().map(count).sum::<usize>(), 6);
    }

    #[test]
    fn deep_chains_are_capped() {
        let spans: Vec<Span> = (1..=250u8)
            .map(|i| span(i, (i > 1).then(|| i - 1), i as i64))
            .collect();
        let t = build_trace(TraceId([1; 16]), spans);
        let mut depth = 0;
        let mut node = &t.roots[0];
        while let Some(c) = node.children.first() {
            depth += 1;
            node = c;
        }
        assert!(depth <= MAX_TREE_DEPTH);
        serde_json::to_string(&t).unwrap();
    }
}
