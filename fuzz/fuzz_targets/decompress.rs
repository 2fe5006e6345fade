#![no_main]
//! Content-Encoding: the first byte picks the encoding, the rest is the body; nothing may panic
//! and no output may exceed the limit.

use libfuzzer_sys::fuzz_target;
use ward_ingest::decompress;

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let encoding = match selector % 6 {
        0 => None,
        1 => Some("gzip"),
        2 => Some("deflate"),
        3 => Some("x-gzip"),
        4 => Some("gzip, deflate"),
        _ => Some("identity"),
    };
    if let Ok(out) = decompress(body, encoding, LIMIT) {
        assert!(out.len() <= LIMIT);
    }
});
