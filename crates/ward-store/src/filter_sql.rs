//! Compiles a [`Filter`] into SQL with exactly the meaning of `Filter::matches_log` /
//! `Filter::matches_span`.
//!
//! Every negated term becomes an expression that is never NULL (so that `NOT` of it is the
//! negation the in-memory matcher computes; positive terms may be NULL, which a top-level AND
//! treats as false), every user value is a bound parameter, and conditions that `matches_*`
//! treats as "does not apply to this signal" compile to the constant `0`.
//!
//! Full text is two-staged. The FTS index holds, per log row, the body's
//! `ward_model::filter::tokens` joined by spaces (see the writer). FTS5's `unicode61` tokenizer
//! then tokenizes a query token exactly as it tokenized the same token in a document — both
//! are the same string — so a phrase of Ward tokens, given to FTS5 as a phrase, matches every
//! row whose Ward tokens contain it (plus possibly more, where FTS5 splits a Ward token that
//! Unicode 6.1 does not consider all letters). `ward_phrase` (= `contains_phrase`) then
//! decides each candidate. The one way FTS5 could miss a row is a phrase it reduces to no
//! token at all (every character a separator in Unicode 6.1, e.g. marks or letters added
//! later), which matches nothing; so a phrase goes to FTS5 only if one of its tokens contains
//! an *anchor*: a character that was a letter or digit long before Unicode 6.1.

use rusqlite::types::Value;
use ward_model::filter::{AttrValue, CmpOp, Condition, Filter, tokens};

use crate::error::{Result, StoreError};
use crate::functions::op_code;
use crate::schema::FtsDetail;

/// Which record kind (and table alias) the filter is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Log rows, alias `l`.
    Logs,
    /// Span rows, alias `s`.
    Spans,
}

impl Target {
    fn alias(self) -> &'static str {
        match self {
            Target::Logs => "l",
            Target::Spans => "s",
        }
    }
}

/// A compiled filter.
#[derive(Debug, Clone, Default)]
pub(crate) struct CompiledFilter {
    /// Zero or more `" AND <expr>"` fragments.
    pub(crate) sql: String,
    /// Parameters of `sql`, in placeholder order.
    pub(crate) params: Vec<Value>,
    /// Token lists of the positive full-text terms that FTS5 can narrow; each must occur as
    /// a phrase.
    fts_phrases: Vec<Vec<String>>,
    /// A positive trace-id term is present: it selects a handful of rows through the trace
    /// index, so driving the query from the FTS index would only be slower.
    pub(crate) positive_trace: bool,
    /// A positive `service:NAME` term is present.
    positive_service: bool,
    /// A positive `name:OP` term is present (spans).
    positive_name: bool,
}

impl CompiledFilter {
    /// Suffix of the partition index that should drive a b-tree scan (`{table}_{suffix}`).
    /// Chosen by rule and pinned with `INDEXED BY` rather than left to SQLite's cost model,
    /// which (without `ANALYZE` statistics) prefers the tenant index for `service:X level>=Y`
    /// because both indexes carry the level, and would then read every service's rows.
    pub(crate) fn driving_index(&self, target: Target) -> &'static str {
        if self.positive_trace {
            "trace"
        } else if self.positive_service && self.positive_name && target == Target::Spans {
            "name"
        } else if self.positive_service {
            "service"
        } else {
            "tenant"
        }
    }

    /// The FTS5 MATCH expression narrowing candidates, for a partition indexed with `detail`;
    /// `None` when no positive full-text term can use the index.
    pub(crate) fn fts_match(&self, detail: FtsDetail) -> Option<String> {
        // Tokens are alphanumeric runs, so quoting them needs no escaping; quoting keeps words
        // like `and`/`or`/`not`/`near` literal.
        let parts: Vec<String> = match detail {
            FtsDetail::Full => self
                .fts_phrases
                .iter()
                .map(|phrase| format!("\"{}\"", phrase.join(" ")))
                .collect(),
            // Without positions FTS5 cannot do phrases: every anchored token must merely occur
            // (a token without an anchor might tokenize to nothing), and `ward_phrase`
            // restores phrase semantics.
            FtsDetail::Column | FtsDetail::None => self
                .fts_phrases
                .iter()
                .flatten()
                .filter(|t| t.chars().any(is_anchor))
                .map(|t| format!("\"{t}\""))
                .collect(),
        };
        (!parts.is_empty()).then(|| parts.join(" AND "))
    }
}

/// Compiles `filter` for `target`.
pub(crate) fn compile(filter: &Filter, target: Target) -> Result<CompiledFilter> {
    let mut out = CompiledFilter::default();
    for term in &filter.terms {
        let expr = condition_sql(&term.condition, term.negated, target, &mut out)?;
        out.sql.push_str(" AND ");
        if term.negated {
            out.sql.push_str("NOT (");
            out.sql.push_str(&expr);
            out.sql.push(')');
        } else {
            out.sql.push_str(&expr);
        }
    }
    Ok(out)
}

fn condition_sql(
    cond: &Condition,
    negated: bool,
    target: Target,
    out: &mut CompiledFilter,
) -> Result<String> {
    let a = target.alias();
    let logs = target == Target::Logs;
    let spans = target == Target::Spans;
    let p = &mut out.params;
    Ok(match cond {
        Condition::Text(text) if logs => {
            if !negated && let Some(phrase) = fts_phrase(text) {
                out.fts_phrases.push(phrase);
            }
            p.push(Value::Text(text.clone()));
            format!("ward_phrase({a}.body, ?)")
        }
        Condition::Service { op, name } => {
            p.push(Value::Text(name.clone()));
            out.positive_service |= !negated && *op == CmpOp::Eq;
            match op {
                // `IS` (not `=`) so that an unknown service (NULL id) gives false, not NULL;
                // SQLite still uses the (tenant, service, …) index for `IS`.
                CmpOp::Eq => {
                    format!("{a}.service_id IS (SELECT id FROM service_names WHERE name = ?)")
                }
                CmpOp::Ne => {
                    format!("{a}.service_id IS NOT (SELECT id FROM service_names WHERE name = ?)")
                }
                // Orderings only come from filters built in code; compare the names themselves.
                op => format!(
                    "IFNULL((SELECT name FROM service_names WHERE id = {a}.service_id) {} ?, 0)",
                    op.as_sql()
                ),
            }
        }
        Condition::Level { op, level } if logs => {
            p.push(Value::Integer(i64::from(level.number())));
            format!("{a}.level {} ?", op.as_sql())
        }
        // A positive term may be NULL (it sits in a top-level AND, where NULL excludes the row
        // just like false), and `=` lets SQLite prove `trace_id IS NOT NULL` and so use the
        // partial trace index; `IS ?` would not. Negated terms need the NULL-free `IS`.
        Condition::TraceId(id) => {
            out.positive_trace |= !negated;
            p.push(Value::Blob(id.0.to_vec()));
            format!("{a}.trace_id {} ?", if negated { "IS" } else { "=" })
        }
        Condition::SpanId(id) => {
            p.push(Value::Blob(id.0.to_vec()));
            format!("{a}.span_id {} ?", if negated { "IS" } else { "=" })
        }
        Condition::Name { op, name } if spans => {
            out.positive_name |= !negated && *op == CmpOp::Eq;
            p.push(Value::Text(name.clone()));
            format!("{a}.name {} ?", op.as_sql())
        }
        Condition::Status(code) if spans => {
            p.push(Value::Integer(i64::from(code.number())));
            format!("{a}.status_code = ?")
        }
        Condition::Kind(kind) if spans => {
            p.push(Value::Integer(i64::from(kind.number())));
            format!("{a}.kind = ?")
        }
        Condition::Duration { op, nanos } if spans => {
            p.push(Value::Integer(*nanos));
            format!("{a}.duration_ns {} ?", op.as_sql())
        }
        Condition::Attr { key, op, value } => {
            let path = json_path(key)?;
            p.push(Value::Text(path.clone()));
            p.push(Value::Text(path));
            p.push(Value::Integer(op_code(*op)));
            match value {
                AttrValue::Text(t) => {
                    p.push(Value::Integer(0));
                    p.push(Value::Text(t.clone()));
                }
                AttrValue::Number(n) => {
                    p.push(Value::Integer(1));
                    p.push(if n.is_nan() {
                        Value::Null
                    } else {
                        Value::Real(*n)
                    });
                }
            }
            // Record attributes first; only when the key is absent there (`->` gives SQL NULL,
            // while a JSON null gives the text 'null') the resource's.
            format!(
                "ward_attr(COALESCE({a}.attributes -> ?, \
                 (SELECT r.attributes FROM resources r WHERE r.id = {a}.resource_id) -> ?), ?, ?, ?)"
            )
        }
        // Conditions of the other signal: `matches_log`/`matches_span` say "no match".
        _ => "0".to_owned(),
    })
}

/// `$."key"`: the JSON path of a top-level key. The parser only admits keys of letters, digits
/// and `._-/`; a key built in code that could not be expressed inside a quoted path label is
/// refused rather than silently mis-evaluated.
fn json_path(key: &str) -> Result<String> {
    if key.is_empty() || key.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        return Err(StoreError::InvalidQuery(format!(
            "attribute name {key:?} cannot be queried"
        )));
    }
    Ok(format!("$.\"{key}\""))
}

/// The tokens of `text` as an FTS phrase, if one of them holds an anchor (see the module doc).
fn fts_phrase(text: &str) -> Option<Vec<String>> {
    let phrase: Vec<String> = tokens(text).collect();
    phrase
        .iter()
        .any(|t| t.chars().any(is_anchor))
        .then_some(phrase)
}

/// Characters that FTS5's Unicode 6.1 tables certainly classify as letters or digits: lower-case
/// forms (Ward's tokens are lower-cased) from blocks assigned by Unicode 3.0. Deliberately
/// conservative: a character missing here only means FTS5 is not used for a phrase made
/// entirely of such characters.
fn is_anchor(c: char) -> bool {
    matches!(c,
        'a'..='z' | '0'..='9'
        | '\u{DF}'..='\u{F6}' | '\u{F8}'..='\u{17F}' // Latin-1 and Latin Extended-A lower case
        | '\u{3B1}'..='\u{3C9}' // Greek
        | '\u{430}'..='\u{45F}' // Cyrillic
        | '\u{5D0}'..='\u{5EA}' // Hebrew
        | '\u{621}'..='\u{63A}' | '\u{641}'..='\u{64A}' // Arabic
        | '\u{3041}'..='\u{3094}' | '\u{30A1}'..='\u{30FA}' // Hiragana, Katakana
        | '\u{4E00}'..='\u{9FA5}' // CJK unified ideographs
        | '\u{AC00}'..='\u{D7A3}' // Hangul syllables
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_need_an_anchor() {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            fts_phrase("Connection TIMEOUT, after"),
            Some(strings(&["connection", "timeout", "after"]))
        );
        assert_eq!(
            fts_phrase("日本語 ǅemo"),
            Some(strings(&["日本語", "ǆemo"]))
        );
        assert_eq!(
            fts_phrase("\u{903}\u{903} ok"),
            Some(strings(&["\u{903}\u{903}", "ok"]))
        );
        assert_eq!(fts_phrase("\u{903}\u{903}"), None);
        assert_eq!(fts_phrase("!!"), None);
    }

    #[test]
    fn fts_expressions_follow_the_detail_level() {
        let f =
            Filter::parse("\"connection timeout\" -retry \u{903}\u{903} \"x \u{903}\"").unwrap();
        let c = compile(&f, Target::Logs).unwrap();
        assert_eq!(
            c.fts_match(FtsDetail::Full).as_deref(),
            Some("\"connection timeout\" AND \"x \u{903}\"")
        );
        assert_eq!(
            c.fts_match(FtsDetail::None).as_deref(),
            Some("\"connection\" AND \"timeout\" AND \"x\"")
        );
        let c = compile(&Filter::parse("service:a \u{903}").unwrap(), Target::Logs).unwrap();
        assert_eq!(c.fts_match(FtsDetail::Full), None);
    }

    #[test]
    fn values_are_parameters_and_other_signal_terms_are_false() {
        let f = Filter::parse(r#"service:"x'; DROP TABLE t" duration>1s -status:error"#).unwrap();
        let c = compile(&f, Target::Logs).unwrap();
        assert!(!c.sql.contains("DROP"));
        assert!(c.sql.ends_with(" AND 0 AND NOT (0)"), "{}", c.sql);
        assert!(json_path("a\"b").is_err());
    }
}
