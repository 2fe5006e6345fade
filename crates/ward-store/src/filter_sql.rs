//! Compiles a [`Filter`] into SQL with exactly the meaning of `Filter::matches_log` /
//! `Filter::matches_span`.
//!
//! Every negated term becomes an expression that is never NULL (so that `NOT` of it is the
//! negation the in-memory matcher computes; positive terms may be NULL, which a top-level AND
//! treats as false), every user value is a bound parameter, and conditions that `matches_*`
//! treats as "does not apply to this signal" compile to the constant `0`.
//!
//! Logs are stored in blocks (see `crate::block`), so for them [`compile_log_blocks`] compiles
//! only what every record of a block shares (service, level, and terms of other signals, which
//! are constant) into exact SQL over block columns, plus the Bloom filter keys that a block must
//! hold to contain a match: every token of a positive full-text term (a record containing a
//! phrase contains each of its tokens, and the block's filter holds every token of every body,
//! tokenized by the same `ward_model::filter::tokens`) and a positive trace id. The store then
//! decides each record of the remaining blocks with `Filter::matches_log`.

use rusqlite::types::Value;
use ward_model::filter::{AttrValue, CmpOp, Condition, Filter, Term, tokens};

use crate::block;
use crate::error::{Result, StoreError};
use crate::functions::op_code;

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
    /// Bloom filter keys every log block with a match holds (`block::token_key`,
    /// `block::trace_key`).
    pub(crate) bloom_keys: Vec<u64>,
    /// A positive trace-id term is present (spans): it selects a handful of rows through the
    /// trace index.
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
}

/// Compiles `filter` for `target`, every term exactly.
pub(crate) fn compile(filter: &Filter, target: Target) -> Result<CompiledFilter> {
    let mut out = CompiledFilter::default();
    for term in &filter.terms {
        push_exact(term, target, &mut out)?;
    }
    Ok(out)
}

/// Compiles `filter` for a scan of log blocks (see the module doc): `sql` is exact for the
/// terms it covers and true for the others, which `Filter::matches_log` decides per record.
pub(crate) fn compile_log_blocks(filter: &Filter) -> Result<CompiledFilter> {
    let mut out = CompiledFilter::default();
    for term in &filter.terms {
        match &term.condition {
            // Shared by every record of a block.
            Condition::Service { .. } | Condition::Level { .. } => {
                push_exact(term, Target::Logs, &mut out)?
            }
            Condition::Text(text) => {
                if !term.negated {
                    out.bloom_keys
                        .extend(tokens(text).map(|t| block::token_key(&t)));
                }
            }
            Condition::TraceId(id) => {
                if !term.negated {
                    out.bloom_keys.push(block::trace_key(&id.0));
                }
            }
            Condition::SpanId(_) | Condition::Attr { .. } => {}
            // Terms of spans: constant for logs.
            _ => push_exact(term, Target::Logs, &mut out)?,
        }
    }
    Ok(out)
}

fn push_exact(term: &Term, target: Target, out: &mut CompiledFilter) -> Result<()> {
    let expr = condition_sql(&term.condition, term.negated, target, out)?;
    out.sql.push_str(" AND ");
    if term.negated {
        out.sql.push_str("NOT (");
        out.sql.push_str(&expr);
        out.sql.push(')');
    } else {
        out.sql.push_str(&expr);
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_block_filters_narrow_by_tokens_and_trace_ids() {
        let f = Filter::parse(
            "\"Connection TIMEOUT\" -retry \u{903}\u{903} 日本語 trace_id=0af7651916cd43dd8448eb211c80319c",
        )
        .unwrap();
        let c = compile_log_blocks(&f).unwrap();
        let trace = [
            0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80,
            0x31, 0x9c,
        ];
        let expected: Vec<u64> = ["connection", "timeout", "\u{903}\u{903}", "日本語"]
            .iter()
            .map(|t| block::token_key(t))
            .chain([block::trace_key(&trace)])
            .collect();
        assert_eq!(c.bloom_keys, expected);
        // Nothing of these is block-level SQL: the records decide.
        assert_eq!(c.sql, "");
        let c = compile_log_blocks(
            &Filter::parse(
                "service:a -level>=warn user=x -trace_id=0af7651916cd43dd8448eb211c80319c -x",
            )
            .unwrap(),
        )
        .unwrap();
        assert!(c.bloom_keys.is_empty());
        assert_eq!(
            c.sql,
            " AND l.service_id IS (SELECT id FROM service_names WHERE name = ?) AND NOT (l.level >= ?)"
        );
        assert_eq!(c.driving_index(Target::Logs), "service");
    }

    #[test]
    fn values_are_parameters_and_other_signal_terms_are_false() {
        let f = Filter::parse(r#"service:"x'; DROP TABLE t" duration>1s -status:error"#).unwrap();
        let c = compile_log_blocks(&f).unwrap();
        assert!(!c.sql.contains("DROP"));
        assert!(c.sql.ends_with(" AND 0 AND NOT (0)"), "{}", c.sql);
        assert!(json_path("a\"b").is_err());
    }
}
