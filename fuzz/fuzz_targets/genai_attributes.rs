#![no_main]
//! GenAI normalisation and the content policy on arbitrary span attributes: any keys (the
//! table's own among them) with any JSON values. Nothing may panic; a truncated value never
//! exceeds its limit; `drop` leaves no content key behind; `store` changes nothing.
//!
//! Input: a JSON object of attributes, or, when the bytes are not one, the table's keys given
//! values cut from the input.

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use ward_genai::{ALIASES, ContentChanges, ContentPolicy, GenAi, is_content_key};

fuzz_target!(|data: &[u8]| {
    let attrs: Map<String, Value> = match serde_json::from_slice(data) {
        Ok(Value::Object(m)) => m,
        _ => {
            let text = String::from_utf8_lossy(data);
            let mut m = Map::new();
            for (i, alias) in ALIASES.iter().enumerate() {
                let piece: String = text.chars().skip(i).take(8).collect();
                let value = match i % 4 {
                    0 => Value::String(piece),
                    1 => piece.parse::<f64>().ok().and_then(|f| serde_json::Number::from_f64(f).map(Value::Number)).unwrap_or(Value::Null),
                    2 => Value::Array(vec![Value::String(piece)]),
                    _ => Value::from(data.len() as i64 - 100),
                };
                m.insert(alias.key.to_owned(), value);
            }
            m.insert("gen_ai.prompt.0.content".into(), Value::String(text.into_owned()));
            m
        }
    };
    let _ = GenAi::from_attributes(&attrs);

    let max = data.first().map(|b| *b as usize).unwrap_or(0);
    let mut changes = ContentChanges::default();
    let mut cut = attrs.clone();
    ContentPolicy::Truncate(max).apply_to_attributes(&mut cut, &mut changes);
    for (k, v) in &cut {
        if is_content_key(k) && v != attrs.get(k).unwrap_or(&Value::Null) {
            assert!(v.as_str().is_some_and(|s| s.len() <= max.max(3)), "{k}: {v}");
        }
    }
    let mut dropped = attrs.clone();
    ContentPolicy::Drop.apply_to_attributes(&mut dropped, &mut changes);
    assert!(dropped.keys().all(|k| !is_content_key(k)));
    let mut kept = attrs.clone();
    ContentPolicy::Store.apply_to_attributes(&mut kept, &mut changes);
    assert_eq!(kept, attrs);
    ContentPolicy::Drop.apply_to_event("gen_ai.user.message", &mut kept, &mut changes);
});
