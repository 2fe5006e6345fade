//! SQL functions registered on the read connections so that compiled filters mean exactly what
//! `ward_model::filter` means in memory.
//!
//! * `ward_attr(found_json, op, kind, value)` decides an attribute condition given the JSON text
//!   of the value found (`attributes -> '$."key"'`, record first, then resource), reproducing
//!   `attr_matches`: JSON numbers are re-parsed from their text with Rust's exact float parser,
//!   strings are decoded by serde_json, and other values compare by their compact JSON text,
//!   which is what the writer stored (SQLite hands back the stored text of a sub-value verbatim).

use rusqlite::Connection;
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;
use ward_model::filter::{AttrValue, CmpOp};

/// Encodes an operator as the integer passed to `ward_attr`.
pub(crate) fn op_code(op: CmpOp) -> i64 {
    match op {
        CmpOp::Eq => 0,
        CmpOp::Ne => 1,
        CmpOp::Lt => 2,
        CmpOp::Le => 3,
        CmpOp::Gt => 4,
        CmpOp::Ge => 5,
    }
}

fn op_from_code(code: i64) -> Option<CmpOp> {
    Some(match code {
        0 => CmpOp::Eq,
        1 => CmpOp::Ne,
        2 => CmpOp::Lt,
        3 => CmpOp::Le,
        4 => CmpOp::Gt,
        5 => CmpOp::Ge,
        _ => return None,
    })
}

/// Registers the functions on `conn`.
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    // DETERMINISTIC lets SQLite factor calls with constant arguments out of loops; INNOCUOUS
    // because they have no side effects.
    let flags = FunctionFlags::SQLITE_UTF8
        | FunctionFlags::SQLITE_DETERMINISTIC
        | FunctionFlags::SQLITE_INNOCUOUS;
    conn.create_scalar_function("ward_attr", 4, flags, |ctx| {
        let found = match ctx.get_raw(0) {
            ValueRef::Null => None,
            _ => Some(text_arg(ctx, 0)),
        };
        let Some(op) = ctx.get_raw(1).as_i64().ok().and_then(op_from_code) else {
            return Err(rusqlite::Error::UserFunctionError(
                "ward_attr: bad operator".into(),
            ));
        };
        let value = match ctx.get_raw(2).as_i64() {
            // SQLite has no NaN: a NaN bound as a parameter arrives as NULL.
            Ok(1) => AttrValue::Number(match ctx.get_raw(3) {
                ValueRef::Real(f) => f,
                ValueRef::Integer(i) => i as f64,
                _ => f64::NAN,
            }),
            _ => AttrValue::Text(text_arg(ctx, 3).into_owned()),
        };
        Ok(i64::from(found_matches(found.as_deref(), op, &value)))
    })?;
    Ok(())
}

/// A text argument; NULL reads as empty and (impossible for data Ward wrote) invalid UTF-8 is
/// replaced rather than failing the whole query.
fn text_arg<'a>(ctx: &'a Context<'_>, i: usize) -> std::borrow::Cow<'a, str> {
    match ctx.get_raw(i) {
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => String::from_utf8_lossy(bytes),
        ValueRef::Null => "".into(),
        ValueRef::Integer(n) => n.to_string().into(),
        ValueRef::Real(f) => f.to_string().into(),
    }
}

/// `attr_matches` for a value given as its JSON text (`None` when the key is on neither the
/// record nor the resource).
pub(crate) fn found_matches(found: Option<&str>, op: CmpOp, value: &AttrValue) -> bool {
    let Some(found) = found else {
        return op == CmpOp::Ne;
    };
    enum Found<'a> {
        Str(String),
        Num(&'a str),
        Other(&'a str),
    }
    let kind = match found.as_bytes().first() {
        Some(b'"') => match serde_json::from_str::<String>(found) {
            Ok(s) => Found::Str(s),
            Err(_) => Found::Other(found),
        },
        Some(b'-' | b'0'..=b'9') => Found::Num(found),
        _ => Found::Other(found),
    };
    match value {
        AttrValue::Number(n) => match kind {
            // `str::parse::<f64>` is correctly rounded, so the float the writer serialised
            // (shortest round-trip text) comes back bit-identical; integers round exactly as
            // `serde_json::Number::as_f64` does.
            Found::Num(text) => text.parse::<f64>().is_ok_and(|x| op.holds(x, *n)),
            Found::Str(s) => s.parse::<f64>().is_ok_and(|x| op.holds(x, *n)),
            Found::Other(_) => false,
        },
        AttrValue::Text(t) => match kind {
            Found::Str(s) => op.holds(s.as_str(), t.as_str()),
            Found::Num(text) | Found::Other(text) => op.holds(text, t.as_str()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use ward_model::Attributes;
    use ward_model::filter::attr_matches;

    #[test]
    fn found_matches_agrees_with_attr_matches() {
        let values = [
            json!("u-42"),
            json!("503"),
            json!(" 7"),
            json!("inf"),
            json!("NaN"),
            json!(503),
            json!(-1),
            json!(1.5),
            json!(-0.0),
            json!(1e20),
            json!(u64::MAX),
            json!(true),
            json!(null),
            json!([1, "a"]),
            json!({"x": "y\n"}),
            json!("é\u{1f}"),
        ];
        let ops = [
            CmpOp::Eq,
            CmpOp::Ne,
            CmpOp::Lt,
            CmpOp::Le,
            CmpOp::Gt,
            CmpOp::Ge,
        ];
        let wanted = [
            AttrValue::Text("u-42".into()),
            AttrValue::Text("503".into()),
            AttrValue::Text("true".into()),
            AttrValue::Text("null".into()),
            AttrValue::Text("1.5".into()),
            AttrValue::Text("[1,\"a\"]".into()),
            AttrValue::Number(503.0),
            AttrValue::Number(-0.0),
            AttrValue::Number(1e20),
            AttrValue::Number(f64::NAN),
            AttrValue::Number(f64::INFINITY),
        ];
        for v in &values {
            let mut attrs = Attributes::new();
            attrs.insert("k".into(), v.clone());
            let text = serde_json::to_string(v).unwrap();
            for op in ops {
                for w in &wanted {
                    assert_eq!(
                        found_matches(Some(&text), op, w),
                        attr_matches(&attrs, &Attributes::new(), "k", op, w),
                        "{text} {op} {w:?}"
                    );
                    assert_eq!(
                        found_matches(None, op, w),
                        attr_matches(&Attributes::new(), &Attributes::new(), "k", op, w)
                    );
                }
            }
        }
    }
}
