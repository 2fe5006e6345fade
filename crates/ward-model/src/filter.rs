//! The filter language people type in the CLI, the API (`q=`) and the live tail.
//!
//! ```text
//! service:planner level>=warn "connection timeout" user.id=u-42 -service:healthcheck
//! ```
//!
//! A filter is a list of terms separated by spaces; a record must match every term.
//!
//! | term | meaning |
//! |---|---|
//! | `word`, `"several words"` | full text: the words appear in the body, in that order (case-insensitive, whole words) |
//! | `service:NAME` (or `=`, `!=`) | the resource's `service.name` |
//! | `level>=warn` (`=`, `!=`, `>`, `>=`, `<`, `<=`) | severity: trace, debug, info, warn, error, fatal |
//! | `trace:ID`, `span:ID` | trace or span id (hex) |
//! | `name:OP` | span name (traces only); `operation:` is a synonym |
//! | `status:error` | span status: unset, ok, error (traces only) |
//! | `kind:server` | span kind (traces only) |
//! | `duration>500ms` | span duration (traces only) |
//! | `KEY=VALUE`, `KEY!=VALUE`, `KEY>NUMBER` … | attribute equality or numeric comparison; record attributes first, then resource attributes |
//! | `@KEY=VALUE` | the same, for an attribute whose name is one of the words above |
//! | `-TERM` | negation of any term |
//!
//! Values with spaces are quoted: `name:"chat gpt-4o"`; `\"` and `\\` escape inside quotes.

use std::fmt;

use serde_json::Value;

use crate::time::parse_duration;
use crate::{Attributes, LogRecord, Severity, Span, SpanId, SpanKind, StatusCode, TraceId};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=` or `:`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

impl CmpOp {
    /// SQL spelling of the operator.
    pub fn as_sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// Applies the operator to two ordered values.
    pub fn holds<T: PartialOrd>(self, left: T, right: T) -> bool {
        match self {
            CmpOp::Eq => left == right,
            CmpOp::Ne => left != right,
            CmpOp::Lt => left < right,
            CmpOp::Le => left <= right,
            CmpOp::Gt => left > right,
            CmpOp::Ge => left >= right,
        }
    }

    fn is_equality(self) -> bool {
        matches!(self, CmpOp::Eq | CmpOp::Ne)
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        })
    }
}

/// The value side of an attribute condition.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// Compared as text (`=` and `!=` only). JSON numbers and booleans compare by their text.
    Text(String),
    /// Compared numerically (`<`, `<=`, `>`, `>=`, and `=`/`!=` when the value is a number).
    Number(f64),
}

/// One condition of a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Full text: the tokens appear contiguously in the body.
    Text(String),
    /// `service.name` equality.
    Service {
        /// `Eq` or `Ne`.
        op: CmpOp,
        /// The service name.
        name: String,
    },
    /// Severity comparison, on levels.
    Level {
        /// Any operator.
        op: CmpOp,
        /// The level compared to.
        level: Severity,
    },
    /// Trace id equality.
    TraceId(TraceId),
    /// Span id equality.
    SpanId(SpanId),
    /// Span name (traces only).
    Name {
        /// `Eq` or `Ne`.
        op: CmpOp,
        /// The span name.
        name: String,
    },
    /// Span status (traces only).
    Status(StatusCode),
    /// Span kind (traces only).
    Kind(SpanKind),
    /// Span duration (traces only), in nanoseconds.
    Duration {
        /// Any operator.
        op: CmpOp,
        /// Nanoseconds.
        nanos: i64,
    },
    /// Attribute comparison.
    Attr {
        /// Attribute key, e.g. `user.id`.
        key: String,
        /// Operator.
        op: CmpOp,
        /// Value.
        value: AttrValue,
    },
}

impl Condition {
    /// True for conditions that only make sense for spans.
    pub fn is_span_only(&self) -> bool {
        matches!(
            self,
            Condition::Name { .. }
                | Condition::Status(_)
                | Condition::Kind(_)
                | Condition::Duration { .. }
        )
    }

    /// True for conditions that only make sense for log records.
    pub fn is_log_only(&self) -> bool {
        matches!(self, Condition::Level { .. } | Condition::Text(_))
    }
}

/// A term: a condition, possibly negated.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// `-` in front of the term.
    pub negated: bool,
    /// What must (or must not) hold.
    pub condition: Condition,
}

/// A parsed filter: every term must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    /// The terms, in the order typed.
    pub terms: Vec<Term>,
}

/// A filter that could not be parsed, with the 1-based column where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("filter error at column {column}: {message}")]
pub struct FilterError {
    /// 1-based character column.
    pub column: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Which kind of record a filter is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Log records.
    Logs,
    /// Spans / traces.
    Traces,
}

/// The longest filter accepted, in bytes: filters are typed by people.
pub const MAX_FILTER_LEN: usize = 4096;

impl Filter {
    /// Parses filter text. An empty text is the filter that matches everything.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        if text.len() > MAX_FILTER_LEN {
            return Err(FilterError {
                column: 1,
                message: format!(
                    "filter is {} bytes long; the limit is {MAX_FILTER_LEN}",
                    text.len()
                ),
            });
        }
        Parser { text, pos: 0 }.parse()
    }

    /// Checks that every term applies to `signal` (e.g. `duration>` is for traces only).
    pub fn check_for(&self, signal: Signal) -> Result<(), FilterError> {
        for term in &self.terms {
            let wrong = match signal {
                Signal::Logs => term.condition.is_span_only(),
                Signal::Traces => term.condition.is_log_only(),
            };
            if wrong {
                let what = match signal {
                    Signal::Logs => "log queries",
                    Signal::Traces => "trace queries",
                };
                return Err(FilterError {
                    column: 1,
                    message: format!("{} cannot be used in {what}", describe(&term.condition)),
                });
            }
        }
        Ok(())
    }

    /// Adds a condition (used to merge API parameters such as `service=` into a filter).
    pub fn and(mut self, condition: Condition) -> Filter {
        self.terms.push(Term {
            negated: false,
            condition,
        });
        self
    }

    /// Evaluates the filter on a log record (the live tail uses this; the store compiles the same
    /// filter to SQL with identical meaning).
    pub fn matches_log(&self, record: &LogRecord) -> bool {
        self.terms.iter().all(|term| {
            let hit = match &term.condition {
                Condition::Text(text) => contains_phrase(&record.body, text),
                Condition::Service { op, name } => {
                    op.holds(record.resource.service_name.as_str(), name.as_str())
                }
                Condition::Level { op, level } => op.holds(record.severity(), *level),
                Condition::TraceId(id) => record.trace_id == Some(*id),
                Condition::SpanId(id) => record.span_id == Some(*id),
                Condition::Attr { key, op, value } => attr_matches(
                    &record.attributes,
                    &record.resource.attributes,
                    key,
                    *op,
                    value,
                ),
                _ => false,
            };
            hit != term.negated
        })
    }

    /// Evaluates the filter on a span.
    pub fn matches_span(&self, span: &Span) -> bool {
        self.terms.iter().all(|term| {
            let hit = match &term.condition {
                Condition::Service { op, name } => {
                    op.holds(span.resource.service_name.as_str(), name.as_str())
                }
                Condition::TraceId(id) => span.trace_id == *id,
                Condition::SpanId(id) => span.span_id == *id,
                Condition::Name { op, name } => op.holds(span.name.as_str(), name.as_str()),
                Condition::Status(code) => span.status.code == *code,
                Condition::Kind(kind) => span.kind == *kind,
                Condition::Duration { op, nanos } => op.holds(span.duration_nanos(), *nanos),
                Condition::Attr { key, op, value } => {
                    attr_matches(&span.attributes, &span.resource.attributes, key, *op, value)
                }
                _ => false,
            };
            hit != term.negated
        })
    }
}

fn describe(c: &Condition) -> &'static str {
    match c {
        Condition::Text(_) => "full text",
        Condition::Level { .. } => "level",
        Condition::Name { .. } => "name",
        Condition::Status(_) => "status",
        Condition::Kind(_) => "kind",
        Condition::Duration { .. } => "duration",
        _ => "this term",
    }
}

/// Splits text into lower-case alphanumeric tokens, the way the full-text index does.
pub fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    raw_tokens(text).map(|t| t.to_lowercase())
}

/// The alphanumeric runs of `text` as they are written; [`tokens`] lower-cases them.
pub fn raw_tokens(text: &str) -> impl Iterator<Item = &str> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
}

/// True when the tokens of `phrase` appear contiguously among the tokens of `body`.
pub fn contains_phrase(body: &str, phrase: &str) -> bool {
    let wanted: Vec<String> = tokens(phrase).collect();
    if wanted.is_empty() {
        return true;
    }
    let have: Vec<String> = tokens(body).collect();
    have.windows(wanted.len()).any(|w| w == wanted.as_slice())
}

/// Looks `key` up in the record attributes, then the resource attributes, and compares.
pub fn attr_matches(
    attrs: &Attributes,
    resource: &Attributes,
    key: &str,
    op: CmpOp,
    value: &AttrValue,
) -> bool {
    let found = attrs.get(key).or_else(|| resource.get(key));
    let Some(found) = found else {
        return op == CmpOp::Ne;
    };
    match value {
        AttrValue::Number(n) => match found {
            Value::Number(x) => x.as_f64().is_some_and(|x| op.holds(x, *n)),
            Value::String(s) => s.parse::<f64>().is_ok_and(|x| op.holds(x, *n)),
            _ => false,
        },
        AttrValue::Text(t) => {
            let text = match found {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            op.holds(text.as_str(), t.as_str())
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn column(&self, byte: usize) -> usize {
        self.text[..byte].chars().count() + 1
    }

    fn error(&self, byte: usize, message: impl Into<String>) -> FilterError {
        FilterError {
            column: self.column(byte),
            message: message.into(),
        }
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    fn parse(mut self) -> Result<Filter, FilterError> {
        let mut filter = Filter::default();
        loop {
            self.skip_space();
            if self.pos >= self.text.len() {
                return Ok(filter);
            }
            filter.terms.push(self.term()?);
        }
    }

    fn term(&mut self) -> Result<Term, FilterError> {
        let start = self.pos;
        let negated = self.rest().starts_with('-') && self.rest().len() > 1;
        if negated {
            self.pos += 1;
        }
        if self.rest().starts_with('"') {
            let text = self.quoted()?;
            if tokens(&text).next().is_none() {
                return Err(self.error(start, "a text search needs at least one letter or digit"));
            }
            return Ok(Term {
                negated,
                condition: Condition::Text(text),
            });
        }
        // A key: up to an operator or a space.
        let key_len = self
            .rest()
            .find(|c: char| c.is_whitespace() || matches!(c, ':' | '=' | '!' | '<' | '>' | '"'))
            .unwrap_or(self.rest().len());
        let key = &self.text[self.pos..self.pos + key_len];
        let after_key = self.pos + key_len;
        let op = operator(&self.text[after_key..]);
        let Some((op, op_len)) = op else {
            // A bare word is a text search.
            if key.is_empty() {
                return Err(self.error(self.pos, "expected a word, a quoted phrase or KEY:VALUE"));
            }
            if self.text[after_key..].starts_with('"') || self.text[after_key..].starts_with('!') {
                return Err(self.error(after_key, "unexpected character; quote the whole phrase"));
            }
            self.pos = after_key;
            if tokens(key).next().is_none() {
                return Err(self.error(
                    start,
                    format!("{key:?} has no letter or digit to search for"),
                ));
            }
            return Ok(Term {
                negated,
                condition: Condition::Text(key.to_owned()),
            });
        };
        if key.is_empty() {
            return Err(self.error(self.pos, "missing field name before the operator"));
        }
        let key_start = self.pos;
        self.pos = after_key + op_len;
        let value_start = self.pos;
        let value = if self.rest().starts_with('"') {
            self.quoted()?
        } else {
            let len = self
                .rest()
                .find(char::is_whitespace)
                .unwrap_or(self.rest().len());
            let v = &self.text[self.pos..self.pos + len];
            self.pos += len;
            v.to_owned()
        };
        if value.is_empty() {
            return Err(self.error(value_start, format!("missing value after {key}{op}")));
        }
        let condition = self.condition(key, key_start, op, value, value_start)?;
        Ok(Term { negated, condition })
    }

    fn condition(
        &self,
        key: &str,
        key_start: usize,
        op: CmpOp,
        value: String,
        value_start: usize,
    ) -> Result<Condition, FilterError> {
        let equality_only = |field: &str| -> Result<(), FilterError> {
            if op.is_equality() {
                Ok(())
            } else {
                Err(self.error(
                    key_start,
                    format!("{field} supports only ':', '=' and '!='"),
                ))
            }
        };
        let eq_only = |field: &str| -> Result<(), FilterError> {
            if op == CmpOp::Eq {
                Ok(())
            } else {
                Err(self.error(
                    key_start,
                    format!("{field} supports only ':' and '='; use -{field}:VALUE to exclude"),
                ))
            }
        };
        Ok(match key {
            "service" | "service.name" => {
                equality_only("service")?;
                Condition::Service { op, name: value }
            }
            "level" | "severity" => {
                let level = value
                    .parse::<Severity>()
                    .map_err(|m| self.error(value_start, m))?;
                Condition::Level { op, level }
            }
            "trace" | "trace_id" | "traceid" => {
                eq_only("trace")?;
                let id = value
                    .parse::<TraceId>()
                    .map_err(|e| self.error(value_start, format!("trace id: {e}")))?;
                Condition::TraceId(id)
            }
            "span" | "span_id" | "spanid" => {
                eq_only("span")?;
                let id = value
                    .parse::<SpanId>()
                    .map_err(|e| self.error(value_start, format!("span id: {e}")))?;
                Condition::SpanId(id)
            }
            "name" | "operation" | "op" => {
                equality_only("name")?;
                Condition::Name { op, name: value }
            }
            "status" => {
                eq_only("status")?;
                let code = match value.to_ascii_lowercase().as_str() {
                    "unset" => StatusCode::Unset,
                    "ok" => StatusCode::Ok,
                    "error" => StatusCode::Error,
                    _ => {
                        return Err(self.error(
                            value_start,
                            format!("unknown status {value:?}: use unset, ok or error"),
                        ));
                    }
                };
                Condition::Status(code)
            }
            "kind" => {
                eq_only("kind")?;
                let kind = match value.to_ascii_lowercase().as_str() {
                    "unspecified" => SpanKind::Unspecified,
                    "internal" => SpanKind::Internal,
                    "server" => SpanKind::Server,
                    "client" => SpanKind::Client,
                    "producer" => SpanKind::Producer,
                    "consumer" => SpanKind::Consumer,
                    _ => {
                        return Err(self.error(
                            value_start,
                            format!("unknown kind {value:?}: use internal, server, client, producer or consumer"),
                        ));
                    }
                };
                Condition::Kind(kind)
            }
            "duration" => {
                let nanos = parse_duration(&value).map_err(|m| self.error(value_start, m))?;
                Condition::Duration { op, nanos }
            }
            _ => {
                let key = key.strip_prefix('@').unwrap_or(key);
                let valid = !key.is_empty()
                    && key.len() <= 256
                    && key
                        .chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
                if !valid {
                    return Err(self.error(
                        key_start,
                        format!("invalid attribute name {key:?}: use letters, digits, '.', '_', '-' and '/'"),
                    ));
                }
                let attr_value = match value.parse::<f64>() {
                    Ok(n) if n.is_finite() && !op.is_equality() => AttrValue::Number(n),
                    _ if !op.is_equality() => {
                        return Err(
                            self.error(value_start, format!("{op} needs a number, got {value:?}"))
                        );
                    }
                    _ => AttrValue::Text(value),
                };
                Condition::Attr {
                    key: key.to_owned(),
                    op,
                    value: attr_value,
                }
            }
        })
    }

    /// Reads a double-quoted string starting at `self.pos`.
    fn quoted(&mut self) -> Result<String, FilterError> {
        let start = self.pos;
        let mut out = String::new();
        let mut chars = self.text[start + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + 1 + i + 1;
                    let next = self.rest().chars().next();
                    if next.is_some_and(|c| !c.is_whitespace()) {
                        return Err(
                            self.error(self.pos, "expected a space after the closing quote")
                        );
                    }
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, c @ ('"' | '\\'))) => out.push(c),
                    _ => return Err(self.error(start + 1 + i, "only \\\" and \\\\ may be escaped")),
                },
                c => out.push(c),
            }
        }
        Err(self.error(start, "unterminated quote: add the closing \""))
    }
}

fn operator(s: &str) -> Option<(CmpOp, usize)> {
    [
        ("!=", CmpOp::Ne),
        (">=", CmpOp::Ge),
        ("<=", CmpOp::Le),
        (":", CmpOp::Eq),
        ("=", CmpOp::Eq),
        (">", CmpOp::Gt),
        ("<", CmpOp::Lt),
    ]
    .into_iter()
    .find(|(text, _)| s.starts_with(text))
    .map(|(text, op)| (op, text.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Resource;

    fn parse(s: &str) -> Vec<Term> {
        Filter::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .terms
    }

    fn cond(s: &str) -> Condition {
        let mut t = parse(s);
        assert_eq!(t.len(), 1);
        t.remove(0).condition
    }

    #[test]
    fn the_documented_example_parses() {
        let terms = parse(r#"service:planner level>=warn "timeout" user.id=u-42"#);
        assert_eq!(
            terms
                .iter()
                .map(|t| t.condition.clone())
                .collect::<Vec<_>>(),
            vec![
                Condition::Service {
                    op: CmpOp::Eq,
                    name: "planner".into()
                },
                Condition::Level {
                    op: CmpOp::Ge,
                    level: Severity::Warn
                },
                Condition::Text("timeout".into()),
                Condition::Attr {
                    key: "user.id".into(),
                    op: CmpOp::Eq,
                    value: AttrValue::Text("u-42".into())
                },
            ]
        );
    }

    #[test]
    fn every_field_parses() {
        assert_eq!(
            cond("service!=a"),
            Condition::Service {
                op: CmpOp::Ne,
                name: "a".into()
            }
        );
        assert_eq!(
            cond("trace:5b8efff798038103d269b633813fc60c"),
            Condition::TraceId("5b8efff798038103d269b633813fc60c".parse().unwrap())
        );
        assert_eq!(
            cond("span=eee19b7ec3c1b174"),
            Condition::SpanId("eee19b7ec3c1b174".parse().unwrap())
        );
        assert_eq!(
            cond(r#"name:"chat gpt""#),
            Condition::Name {
                op: CmpOp::Eq,
                name: "chat gpt".into()
            }
        );
        assert_eq!(cond("status:ERROR"), Condition::Status(StatusCode::Error));
        assert_eq!(cond("kind:client"), Condition::Kind(SpanKind::Client));
        assert_eq!(
            cond("duration>1.5s"),
            Condition::Duration {
                op: CmpOp::Gt,
                nanos: 1_500_000_000
            }
        );
        assert_eq!(
            cond("http.status_code>=500"),
            Condition::Attr {
                key: "http.status_code".into(),
                op: CmpOp::Ge,
                value: AttrValue::Number(500.0)
            }
        );
        assert_eq!(
            cond("@level=x"),
            Condition::Attr {
                key: "level".into(),
                op: CmpOp::Eq,
                value: AttrValue::Text("x".into())
            }
        );
        let t = parse(r#"-service:hc -"not this""#);
        assert!(t.iter().all(|t| t.negated));
        assert_eq!(
            cond(r#""say \"hi\"""#),
            Condition::Text("say \"hi\"".into())
        );
        assert_eq!(parse("   "), vec![]);
        assert!(Filter::parse("-").is_err());
    }

    #[test]
    fn errors_name_the_column_and_the_fix() {
        let e = Filter::parse("service:a level>=loud").unwrap_err();
        assert_eq!(e.column, 18);
        assert!(
            e.message
                .contains("trace, debug, info, warn, error or fatal"),
            "{e}"
        );
        let e = Filter::parse(r#"x "open"#).unwrap_err();
        assert_eq!(e.column, 3);
        assert!(e.message.contains("unterminated"));
        assert!(
            Filter::parse("trace:xyz")
                .unwrap_err()
                .message
                .contains("32 hexadecimal")
        );
        assert!(
            Filter::parse("service>a")
                .unwrap_err()
                .message
                .contains("only")
        );
        assert!(
            Filter::parse("user.id>abc")
                .unwrap_err()
                .message
                .contains("needs a number")
        );
        assert!(
            Filter::parse("level=")
                .unwrap_err()
                .message
                .contains("missing value")
        );
        assert!(
            Filter::parse(":x")
                .unwrap_err()
                .message
                .contains("missing field")
        );
        assert!(
            Filter::parse("a$b=1")
                .unwrap_err()
                .message
                .contains("invalid attribute")
        );
        assert!(Filter::parse(&"a".repeat(MAX_FILTER_LEN + 1)).is_err());
        assert!(
            Filter::parse("duration>1h")
                .unwrap()
                .check_for(Signal::Logs)
                .is_err()
        );
        assert!(
            Filter::parse("level>=warn")
                .unwrap()
                .check_for(Signal::Traces)
                .is_err()
        );
    }

    fn record(body: &str, service: &str, sev: u8) -> LogRecord {
        let mut attributes = Attributes::new();
        attributes.insert("user.id".into(), "u-42".into());
        attributes.insert("http.status_code".into(), 503.into());
        LogRecord {
            time_unix_nano: 1,
            observed_time_unix_nano: 1,
            severity_number: sev,
            severity_text: String::new(),
            body: body.into(),
            attributes,
            resource: Resource {
                service_name: service.into(),
                attributes: Attributes::new(),
            },
            scope: Default::default(),
            trace_id: None,
            span_id: None,
        }
    }

    #[test]
    fn log_matching_follows_the_documented_meaning() {
        let r = record("Upstream connection TIMEOUT after 30s", "planner", 13);
        let yes = |q: &str| assert!(Filter::parse(q).unwrap().matches_log(&r), "{q}");
        let no = |q: &str| assert!(!Filter::parse(q).unwrap().matches_log(&r), "{q}");
        yes(r#"service:planner level>=warn "timeout" user.id=u-42"#);
        yes(r#""connection timeout""#);
        yes("http.status_code>=500 http.status_code=503");
        yes("-service:other missing!=x");
        no(r#""timeout connection""#);
        no("time");
        no("level>=error");
        no("-timeout");
        no("user.id=u-43");
        no("missing=x");
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(s in ".{0,200}") {
            let _ = Filter::parse(&s);
        }

        #[test]
        fn parsing_structured_input_never_panics(s in r#"(-?[a-z.@]{0,6}(:|=|!=|>=|<|>)?("[^"]{0,5}"?|[a-z0-9.]{0,6}) ?){0,6}"#) {
            let _ = Filter::parse(&s);
        }
    }
}
