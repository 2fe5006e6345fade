//! Compiles a [`Filter`] into SQL with exactly the meaning of `Filter::matches_log` /
//! `Filter::matches_span`.
//!
//! Every term becomes an expression that is never NULL (so that `NOT` of it is the negation
//! the in-memory matcher computes), every user value is a bound parameter, and conditions that
//! `matches_*` treats as "does not apply to this signal" compile to the constant `0`.
//!
//! Full text is two-staged. The FTS index holds, per log row, the body's
//! `ward_model::filter::tokens` joined by spaces (see the writer), so for tokens made of ASCII
//! letters and digits FTS5's `unicode61` tokenizer sees exactly the tokens Ward sees; maximal
//! runs of such tokens of each phrase become FTS phrases (a superset of the true matches), and
//! `ward_phrase` (= `contains_phrase`) then decides each candidate. Non-ASCII tokens are left
//! to `ward_phrase` alone because Unicode 6.1 (FTS5) and Rust disagree on what a letter is for
//! some characters, and a superset must never miss a row.

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
    /// ASCII token runs of the positive full-text terms; each must occur as a phrase.
    fts_runs: Vec<Vec<String>>,
    /// A positive trace-id or span-id term is present: it selects a handful of rows through
    /// a b-tree index, so driving the query from the FTS index would only be slower.
    pub(crate) has_id_term: bool,
}

impl CompiledFilter {
    /// The FTS5 MATCH expression narrowing candidates, for a partition indexed with `detail`;
    /// `None` when the filter has no positive full-text term with an ASCII token.
    pub(crate) fn fts_match(&self, detail: FtsDetail) -> Option<String> {
        if self.fts_runs.is_empty() {
            return None;
        }
        // Tokens are `[a-z0-9]+`, so quoting them needs no escaping; quoting keeps words like
        // `and`/`or`/`not` literal.
        let parts: Vec<String> = match detail {
            FtsDetail::Full => self
                .fts_runs
                .iter()
                .map(|run| format!("\"{}\"", run.join(" ")))
                .collect(),
            // Without positions FTS5 cannot do phrases: every token must merely occur, and
            // `ward_phrase` restores phrase semantics.
            FtsDetail::Column | FtsDetail::None => self
                .fts_runs
                .iter()
                .flatten()
                .map(|t| format!("\"{t}\""))
                .collect(),
        };
        Some(parts.join(" AND "))
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
            if !negated {
                out.fts_runs.extend(ascii_runs(text));
            }
            p.push(Value::Text(text.clone()));
            format!("ward_phrase({a}.body, ?)")
        }
        Condition::Service { op, name } => {
            p.push(Value::Text(name.clone()));
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
        Condition::TraceId(id) => {
            if !negated {
                out.has_id_term = true;
            }
            p.push(Value::Blob(id.0.to_vec()));
            format!("{a}.trace_id IS ?")
        }
        Condition::SpanId(id) => {
            if !negated {
                out.has_id_term = true;
            }
            p.push(Value::Blob(id.0.to_vec()));
            format!("{a}.span_id IS ?")
        }
        Condition::Name { op, name } if spans => {
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

/// Maximal runs of consecutive ASCII tokens of `text`.
fn ascii_runs(text: &str) -> Vec<Vec<String>> {
    let mut runs = Vec::new();
    let mut run = Vec::new();
    for token in tokens(text) {
        if token.is_ascii() {
            run.push(token);
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_split_into_ascii_runs() {
        assert_eq!(
            ascii_runs("Connection TIMEOUT, after"),
            vec![vec!["connection", "timeout", "after"]]
        );
        assert_eq!(ascii_runs("a é b c"), vec![vec!["a"], vec!["b", "c"]]);
        assert!(ascii_runs("ééé").is_empty());
        assert!(ascii_runs("!!").is_empty());
    }

    #[test]
    fn fts_expressions_follow_the_detail_level() {
        let f = Filter::parse(r#""connection timeout" -retry ünï x"#).unwrap();
        let c = compile(&f, Target::Logs).unwrap();
        assert_eq!(
            c.fts_match(FtsDetail::Full).as_deref(),
            Some(r#""connection timeout" AND "x""#)
        );
        assert_eq!(
            c.fts_match(FtsDetail::None).as_deref(),
            Some(r#""connection" AND "timeout" AND "x""#)
        );
        let c = compile(&Filter::parse("service:a").unwrap(), Target::Logs).unwrap();
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
