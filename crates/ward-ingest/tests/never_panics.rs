//! Whatever bytes arrive, no decoder panics.

use proptest::prelude::*;
use ward_ingest::otlp::{self, Encoding};
use ward_ingest::{Normalize, decompress, jsonlines};

const NOW: i64 = 1_700_000_000_000_000_000;

fn all_decoders(bytes: &[u8]) {
    let n = Normalize::new(NOW);
    for enc in [Some("gzip"), Some("deflate"), None, Some("br")] {
        let _ = decompress(bytes, enc, 1 << 16);
    }
    for enc in [Encoding::Protobuf, Encoding::Json] {
        if let Ok(req) = otlp::decode_logs(bytes, enc) {
            let _ = otlp::logs_to_model(req, &n).partial_success_message();
        }
        if let Ok(req) = otlp::decode_traces(bytes, enc) {
            let _ = otlp::traces_to_model(req, &n).partial_success_message();
        }
        if let Ok(req) = otlp::decode_metrics(bytes, enc) {
            let _ = otlp::metrics_to_model(req, &n).partial_success_message();
        }
    }
    let out = jsonlines::parse(bytes, Some("svc"), &n);
    let _ = out.partial_success_message();
}

/// JSON-ish text made of the tokens the decoders care about, so that inputs get past the parser.
fn jsonish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(",".to_owned()),
        Just(":".to_owned()),
        Just("\n".to_owned()),
        Just("null".to_owned()),
        Just("\"time\"".to_owned()),
        Just("\"level\"".to_owned()),
        Just("\"msg\"".to_owned()),
        Just("\"trace_id\"".to_owned()),
        Just("\"span\"".to_owned()),
        Just("\"fields\"".to_owned()),
        Just("\"log.level\"".to_owned()),
        Just("\"resourceLogs\"".to_owned()),
        Just("\"scopeLogs\"".to_owned()),
        Just("\"logRecords\"".to_owned()),
        Just("\"timeUnixNano\"".to_owned()),
        Just("\"traceId\"".to_owned()),
        Just("\"NaN\"".to_owned()),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        "\"[a-zA-Z0-9 ._-]{0,40}\"",
    ];
    prop::collection::vec(token, 0..60).prop_map(|tokens| tokens.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        all_decoders(&bytes);
    }

    #[test]
    fn jsonish_text_never_panics(text in jsonish()) {
        all_decoders(text.as_bytes());
    }

    #[test]
    fn arbitrary_log_objects_never_panic(
        entries in prop::collection::btree_map("[a-z@._]{1,12}", any::<i64>().prop_map(serde_json::Value::from), 0..8),
        strings in prop::collection::btree_map("(time|ts|t|level|msg|trace_id|span.id|service.name|fields.message)", ".{0,30}", 0..6),
    ) {
        let mut map: serde_json::Map<String, serde_json::Value> = entries.into_iter().collect();
        for (k, v) in strings {
            map.insert(k, serde_json::Value::String(v));
        }
        let line = serde_json::Value::Object(map).to_string();
        all_decoders(line.as_bytes());
    }
}
