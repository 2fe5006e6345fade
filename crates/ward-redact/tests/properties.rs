//! Property tests.
//!
//! * A valid instance of every generatable kind, embedded in random log-like text (non-ASCII
//!   words included) with random punctuation around it (quotes, commas, parentheses, `=`, `:`,
//!   end of line), never survives redaction; for credentials, not even an 8-character piece of
//!   it. The text around it passes through byte for byte.
//! * On arbitrary input: no panic, findings sorted, non-overlapping and on `char` boundaries,
//!   the text outside findings untouched.
//! * `redact_json` keeps the document's structure (same keys, same array lengths, same value
//!   types except rewritten strings), except attributes removed by the drop operator.

mod common;

use common::{Rng, plant};
use proptest::prelude::*;
use serde_json::{Map, Value};
use ward_redact::{Kind, Operator, Profile, RedactConfig, Redactor, Report};

/// Words that can never form or complete a finding, ASCII and not.
const WORDS: &[&str] = &[
    "INFO",
    "warn",
    "request",
    "done",
    "user",
    "agent",
    "step",
    "héllo",
    "naïve",
    "日本語",
    "ログ",
    "Ünïcödé",
    "🚀",
    "ok",
    "résumé",
    "Привет",
    "mañana",
    "→",
    "tool",
    "call",
    "λ",
];

/// (before, after) the planted value.
const WRAPPERS: &[(&str, &str)] = &[
    ("", ""),
    ("\"", "\""),
    ("'", "'"),
    ("(", ")"),
    ("[", "]"),
    ("<", ">"),
    ("", ","),
    ("", "."),
    ("", ";"),
    ("=", ""),
    (": ", ""),
    ("key=", " "),
    ("", "\n"),
];

const SEPARATORS: &[&str] = &[" ", "\n", "\t", ", ", " | "];

fn plantable() -> Vec<Kind> {
    let mut rng = Rng::new(1);
    Kind::all()
        .iter()
        .filter(|k| (0..20).any(|_| plant(k, &mut rng).is_some()))
        .cloned()
        .collect()
}

fn words(v: &[usize]) -> String {
    v.iter()
        .map(|&i| WORDS[i % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every finding is sorted, disjoint and on char boundaries, and the output is the input with
/// exactly the findings replaced by their tokens.
fn check_invariants(r: &Redactor, text: &str) -> Result<(), TestCaseError> {
    let out = r.redact_str(text);
    let mut last = 0;
    let mut rebuilt = String::new();
    for f in &out.findings {
        prop_assert!(
            f.start < f.end && f.start >= last && f.end <= text.len(),
            "bad span {:?}",
            f
        );
        prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        rebuilt.push_str(&text[last..f.start]);
        rebuilt.push_str(&f.kind.token());
        last = f.end;
    }
    rebuilt.push_str(&text[last..]);
    prop_assert_eq!(rebuilt, out.text.as_ref());
    if out.findings.is_empty() {
        prop_assert!(matches!(out.text, std::borrow::Cow::Borrowed(_)));
    }
    Ok(())
}

proptest! {
    // 2048 cases by default; `PROPTEST_CASES=100000 cargo test --release …` for a long run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2048),
        ..ProptestConfig::default()
    })]

    #[test]
    fn planted_secrets_never_survive(
        kind_idx in 0usize..1000,
        seed in any::<u64>(),
        pre in prop::collection::vec(0usize..100, 0..6),
        post in prop::collection::vec(0usize..100, 0..6),
        wrap in 0usize..WRAPPERS.len(),
        sep1 in 0usize..SEPARATORS.len(),
        sep2 in 0usize..SEPARATORS.len(),
    ) {
        let kinds = plantable();
        let kind = &kinds[kind_idx % kinds.len()];
        let mut rng = Rng::new(seed);
        let Some(p) = (0..50).find_map(|_| plant(kind, &mut rng)) else { return Ok(()) };
        let (open, close) = WRAPPERS[wrap];
        let prefix = format!("{}{}", words(&pre), SEPARATORS[sep1]);
        let suffix = format!("{}{}", SEPARATORS[sep2], words(&post));
        let text = format!("{prefix}{open}{}{close}{suffix}", p.text);

        let r = Redactor::builtin(Profile::Strict);
        let out = r.redact_str(&text);
        prop_assert!(!out.text.contains(&p.secret), "{:?} survived: {:?} -> {:?}", kind, text, out.text);
        if kind.is_credential() && p.secret.len() >= 8 {
            let s = p.secret.as_bytes();
            for w in s.windows(8) {
                let piece = std::str::from_utf8(w).unwrap();
                prop_assert!(!out.text.contains(piece), "{:?}: piece {:?} of the secret survived in {:?}", kind, piece, out.text);
            }
        }
        prop_assert!(out.text.starts_with(&prefix), "prefix altered: {:?} -> {:?}", text, out.text);
        prop_assert!(out.text.ends_with(&suffix), "suffix altered: {:?} -> {:?}", text, out.text);
        check_invariants(&r, &text)?;
        // The default profile reports every planted kind that it enables.
        let d = Redactor::builtin(Profile::Default);
        if Profile::Default.includes(kind) {
            prop_assert!(!d.redact_str(&text).text.contains(&p.secret));
        }
    }

    #[test]
    fn arbitrary_unicode_never_panics(text in "\\PC{0,400}") {
        for p in [Profile::Default, Profile::Strict] {
            check_invariants(&Redactor::builtin(p), &text)?;
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        check_invariants(&Redactor::builtin(Profile::Strict), &text)?;
    }

    /// Text made of the characters detectors care about, to reach deep into their parsers.
    #[test]
    fn detector_alphabet_never_panics(text in "[0-9a-fA-FxX:@./+()=\"' \\-_\\\\#%;,\n^?ABSKghpsk]{0,300}") {
        check_invariants(&Redactor::builtin(Profile::Strict), &text)?;
    }

    #[test]
    fn redaction_is_stable(seed in any::<u64>(), kind_idx in 0usize..1000) {
        // Redacting redacted text finds nothing new: tokens are placeholders.
        let kinds = plantable();
        let kind = &kinds[kind_idx % kinds.len()];
        let mut rng = Rng::new(seed);
        let Some(p) = (0..50).find_map(|_| plant(kind, &mut rng)) else { return Ok(()) };
        let r = Redactor::builtin(Profile::Strict);
        let once = r.redact_str(&format!("x {} y", p.text)).text.into_owned();
        let twice = r.redact_str(&once).text.into_owned();
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn json_structure_is_preserved(doc in json_doc(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let mut doc = doc;
        plant_into(&mut doc, &mut rng);
        let before = doc.clone();
        let mut report = Report::new();
        Redactor::builtin(Profile::Default).redact_json(&mut doc, &mut report);
        prop_assert!(same_shape(&before, &doc, &[]), "shape changed: {before} -> {doc}");
        prop_assert_eq!(report.dropped(), 0);
    }

    #[test]
    fn json_drop_removes_only_matching_attributes(doc in json_doc(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let mut doc = doc;
        plant_into(&mut doc, &mut rng);
        let before = doc.clone();
        let mut config = RedactConfig::profile(Profile::Default);
        config.operators.insert("email".into(), Operator::Drop);
        let r = Redactor::new(&config).unwrap();
        let mut report = Report::new();
        r.redact_json(&mut doc, &mut report);
        prop_assert!(same_shape(&before, &doc, &["@"]), "unexpected change: {before} -> {doc}");
    }
}

/// Keys that are never field rules, and some that are (their values are strings only).
const KEYS: &[&str] = &[
    "msg", "level", "attrs", "items", "user", "note", "ctx", "ünï", "k.v", "data",
];
const FIELD_KEYS: &[&str] = &["password", "authorization", "api_key", "x-api-key"];

fn json_doc() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        prop::collection::vec(0usize..100, 0..4).prop_map(|w| Value::String(words(&w))),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((0usize..KEYS.len(), inner), 0..5).prop_map(|kvs| {
                let mut m = Map::new();
                for (k, v) in kvs {
                    m.insert(KEYS[k].to_string(), v);
                }
                Value::Object(m)
            }),
        ]
    })
}

/// Puts planted values into some strings and adds field-rule keys with string values.
fn plant_into(v: &mut Value, rng: &mut Rng) {
    match v {
        Value::String(s) if rng.below(3) == 0 => {
            let kinds = [
                Kind::Email,
                Kind::CreditCard,
                Kind::Jwt,
                Kind::PasswordAssignment,
                Kind::Phone,
                Kind::GithubToken,
            ];
            if let Some(p) = plant(&kinds[rng.below(kinds.len() as u64) as usize], rng) {
                s.push(' ');
                s.push_str(&p.text);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| plant_into(i, rng)),
        Value::Object(m) => {
            m.values_mut().for_each(|i| plant_into(i, rng));
            if rng.below(4) == 0 {
                let k = FIELD_KEYS[rng.below(FIELD_KEYS.len() as u64) as usize];
                m.insert(
                    k.to_string(),
                    Value::String(format!("value-{}", rng.alnum(8))),
                );
            }
        }
        _ => {}
    }
}

/// Same keys (in order), array lengths and value types; strings may differ. With `droppable`,
/// a key may be missing from `after` when its value in `before` was a string containing one of
/// those markers.
fn same_shape(before: &Value, after: &Value, droppable: &[&str]) -> bool {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let mut bi = b.iter().peekable();
            for (k, va) in a {
                match bi.peek() {
                    Some((kb, vb)) if *kb == k => {
                        if !same_shape(va, vb, droppable) {
                            return false;
                        }
                        bi.next();
                    }
                    _ => {
                        let dropped = matches!(va, Value::String(s) if droppable.iter().any(|m| s.contains(m)));
                        if !dropped {
                            return false;
                        }
                    }
                }
            }
            bi.next().is_none()
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_shape(x, y, droppable))
        }
        (Value::String(_), Value::String(_)) => true,
        (x, y) => x == y,
    }
}

#[test]
fn every_kind_can_be_planted() {
    let kinds = plantable();
    for kind in Kind::all() {
        assert!(kinds.contains(kind), "no generator for {kind}");
    }
}
