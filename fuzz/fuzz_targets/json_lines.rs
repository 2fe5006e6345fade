#![no_main]
//! JSON log lines: parse and convert; nothing may panic.

use libfuzzer_sys::fuzz_target;
use ward_ingest::{Normalize, jsonlines};

fuzz_target!(|data: &[u8]| {
    let n = Normalize::new(1_700_000_000_000_000_000);
    let out = jsonlines::parse(data, Some("fuzz"), &n);
    let _ = out.partial_success_message();
});
