//! What logs are full of must never be redacted: trace and span ids, UUIDs, timestamps,
//! versions, digests, Luhn-invalid digit runs, invalid SSNs, line numbers, ports, durations and
//! byte counts. Every test runs the `strict` profile (every detector on); the lines contain no
//! IP address, which `strict` would rightly report.

mod common;

use common::Rng;
use ward_redact::{Profile, Redactor};

#[track_caller]
fn assert_clean(lines: &[&str]) {
    let r = Redactor::builtin(Profile::Strict);
    for line in lines {
        let f = r.find(line);
        let got: Vec<String> = f
            .iter()
            .map(|f| format!("{} {:?} ({})", f.kind, &line[f.range()], f.detector))
            .collect();
        assert!(got.is_empty(), "false positive in {line:?}: {got:?}");
    }
}

#[test]
fn trace_and_span_ids() {
    assert_clean(&[
        "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7",
        "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        r#"{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b173"}"#,
        "dd.trace_id=6788345628372341234 dd.span_id=4111111111111111111",
        "X-B3-TraceId: 80f198ee56343ba864fe8b2a57d3eff7 X-B3-SpanId: e457b5a2e4d86bd1",
        "x-request-id: 01HX3Z4Q8KJ2M5N6P7R8S9T0VW",
    ]);
}

#[test]
fn uuids() {
    assert_clean(&[
        "run_id=123e4567-e89b-12d3-a456-426614174000",
        "user 550e8400-e29b-41d4-a716-446655440000 logged in",
        "session: 12345678-1234-1234-1234-123456789012",
        "{\"id\":\"00000000-0000-0000-0000-000000000000\"}",
        "C8D6F0B2-4E1A-4C7B-9F3D-2A6E8B1C5D7F",
    ]);
}

#[test]
fn timestamps() {
    assert_clean(&[
        "2024-05-01T12:34:56.789123Z INFO started",
        "2024-05-01 12:34:56,789 WARNING retry",
        "ts=1714567890 ts_ms=1714567890123 ts_us=1714567890123456 ts_ns=1714567890123456789",
        "epoch 1714567890",
        "[01/May/2024:12:34:56 +0000] \"GET / HTTP/1.1\"",
        "Wed, 01 May 2024 12:34:56 GMT",
        "05/01/2024 10:30:00 PM",
        "01.05.2024 12:00",
        "date=20240501 time=123456",
        "@timestamp: 2024-05-01T12:34:56+02:00",
    ]);
}

#[test]
fn versions() {
    assert_clean(&[
        "version 1.2.3.4",
        "v10.0.19041.1",
        "openssl 3.0.13 rustc 1.95.0 (59807616e 2026-04-14)",
        "Chrome/124.0.6367.91 Safari/537.36",
        "python-3.12.2 node-v20.11.1",
        "build 2024.05.01.1234",
        "semver 2.0.0-rc.1+build.123",
        "kernel 6.8.0-31-generic",
    ]);
}

#[test]
fn hex_digests() {
    assert_clean(&[
        "md5=d41d8cd98f00b204e9800998ecf8427e",
        "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
        "etag \"33a64df551425fcc55e4d42a148795d9f25f89d4\"",
        "image@sha256:3e1f46b54bba7b8f3a2a2e4a5e0c8f9f4a8c1b2d3e4f5a6b7c8d9e0f1a2b3c4d",
        "ptr=0x7ffd5e8c9a10 addr 0xdeadbeef",
    ]);
}

#[test]
fn luhn_invalid_and_random_digit_runs() {
    assert_clean(&[
        "order 4111111111111112",
        "ref 1234567812345678",
        "amount=123456789012",
        "seq=9876543210987",
        "4111 1111 1111 1112",
        "counter 18446744073709551615",
    ]);
}

#[test]
fn invalid_ssns() {
    assert_clean(&[
        "000-12-3456",
        "666-12-3456",
        "123-00-4567",
        "123-45-0000",
        "950-12-3456",
        "id 123-45-67890",
    ]);
}

#[test]
fn line_numbers_ports_durations_byte_counts() {
    assert_clean(&[
        "at src/main.rs:123:45",
        "  File \"/app/agent.py\", line 1234, in run",
        "listening on localhost:8080 and [::]:4317",
        "duration_ms=1234 elapsed=12.345s took 987µs latency=0.123",
        "bytes=1048576 size=2147483648 wal_bytes=16777216",
        "status=200 retries=3 pid=48213 tid=140235",
        "input_tokens=1234 output_tokens=567 max_tokens=4096",
        "heap 12345678 KB rss=987654321",
        "progress 45/100 (45%)",
        "temperature=0.7 top_p=0.95",
    ]);
}

#[test]
fn code_and_paths() {
    assert_clean(&[
        "ward_server::api::routes: handled request",
        "std::collections::HashMap<String, Vec<u8>>",
        "GET /v1/traces?limit=100&offset=200",
        "/var/lib/ward/2024-05-01/part-00001.db",
        "s3://bucket/artifacts/2024/05/01/run-42.parquet",
        "https://example.com/docs/v1.2/index.html#section-3",
        "npm install @scope/pkg@1.2.3",
        "icon@2x.png icon@3x.png",
    ]);
}

#[test]
fn prose_with_keywords_but_no_values() {
    assert_clean(&[
        "password reset email sent",
        "invalid token: expired",
        "secret rotation scheduled",
        "Authorization header missing",
        "api key not configured",
        "the passport office",
        "phone number required",
        "SSN field is optional",
        "bearer token expired",
        "token_count=12 tokenizer=cl100k_base",
    ]);
}

/// Thousands of random ids, digests, timestamps and counters in typical key=value positions.
#[test]
fn generated_log_noise() {
    let r = Redactor::builtin(Profile::Strict);
    let mut rng = Rng::new(7);
    for _ in 0..5_000 {
        let line = format!(
            "{}-{:02}-{:02}T{:02}:{:02}:{:02}.{}Z trace_id={} span_id={} run={}-{}-4{}-a{}-{} sha256={} epoch={} ms={} bytes={} dur={}ms v{}.{}.{} line {} port {}",
            rng.range(2000, 2030),
            rng.range(1, 12),
            rng.range(1, 28),
            rng.below(24),
            rng.below(60),
            rng.below(60),
            rng.digits(6),
            rng.hex(32),
            rng.hex(16),
            rng.hex(8),
            rng.hex(4),
            rng.hex(3),
            rng.hex(3),
            rng.hex(12),
            rng.hex(64),
            rng.range(1_000_000_000, 1_999_999_999),
            rng.range(1_000_000_000_000, 1_999_999_999_999),
            rng.below(1 << 40),
            rng.below(100_000),
            rng.below(10),
            rng.below(100),
            rng.below(100),
            rng.below(100_000),
            rng.below(65_536),
        );
        let f = r.find(&line);
        assert!(
            f.is_empty(),
            "false positive in {line:?}: {:?}",
            f.iter()
                .map(|f| (&f.kind, &line[f.range()]))
                .collect::<Vec<_>>()
        );
    }
}
