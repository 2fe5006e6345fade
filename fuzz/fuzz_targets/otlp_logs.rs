#![no_main]
//! OTLP logs: decode (protobuf and JSON) and convert; nothing may panic.

use libfuzzer_sys::fuzz_target;
use ward_ingest::Normalize;
use ward_ingest::otlp::{self, Encoding};

fuzz_target!(|data: &[u8]| {
    let n = Normalize::new(1_700_000_000_000_000_000);
    for enc in [Encoding::Protobuf, Encoding::Json] {
        if let Ok(req) = otlp::decode_logs(data, enc) {
            let out = otlp::logs_to_model(req, &n);
            let _ = out.partial_success_message();
        }
    }
});
