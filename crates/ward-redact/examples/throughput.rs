//! Throughput of each profile on a generated, realistic log corpus.
//!
//! ```text
//! cargo run --release -p ward-redact --example throughput [-- <megabytes, default 32> [<profile>…]]
//! ```
//!
//! With profile names after the size, only those profiles are measured (handy for counting the
//! instructions of one profile under `valgrind`).
//!
//! The corpus mixes the line formats Ward ingests — `tracing` logfmt with module paths, span
//! fields and ids; JSON lines from agent frameworks (model, token counts, latencies, UUIDs);
//! access logs; Python logging; stack traces — with mostly clean lines full of trace/span ids,
//! UUIDs, timestamps, paths, versions, digests and numbers. About 2% of the lines carry personal
//! data or a secret. Each line is redacted on its own (as the ingest pipeline does with log
//! bodies and attributes), so per-call overhead is included.

use std::time::Instant;

use ward_redact::{Profile, Redactor};

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| b"0123456789abcdef"[self.below(16) as usize] as char)
            .collect()
    }
    fn alnum(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| A[self.below(A.len() as u64) as usize] as char)
            .collect()
    }
}

fn timestamp(rng: &mut Rng) -> String {
    format!(
        "2025-0{}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        1 + rng.below(9),
        1 + rng.below(28),
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.below(1_000_000)
    )
}

fn uuid(rng: &mut Rng) -> String {
    format!(
        "{}-{}-4{}-a{}-{}",
        rng.hex(8),
        rng.hex(4),
        rng.hex(3),
        rng.hex(3),
        rng.hex(12)
    )
}

fn clean_line(rng: &mut Rng) -> String {
    let ts = timestamp(rng);
    let trace = rng.hex(32);
    let span = rng.hex(16);
    let level = rng.pick(&["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR", "TRACE"]);
    match rng.below(8) {
        0 => format!(
            "{ts} {level} ward_server::api: request completed method={} path=/v1/{}/{} status={} duration_ms={} bytes={} trace_id={trace} span_id={span}",
            rng.pick(&["GET", "POST", "PUT"]),
            rng.pick(&["traces", "logs", "metrics", "agents"]),
            uuid(rng),
            rng.pick(&["200", "201", "204", "400", "404", "500"]),
            rng.below(5000),
            rng.below(10_000_000)
        ),
        1 => format!(
            r#"{{"ts":"{ts}","level":"{}","msg":"llm call finished","model":"{}","input_tokens":{},"output_tokens":{},"latency_ms":{},"run_id":"{}","trace_id":"{trace}","span_id":"{span}","tool":"{}"}}"#,
            level.to_lowercase(),
            rng.pick(&[
                "gpt-4o-2024-08-06",
                "claude-3-5-sonnet-20241022",
                "llama-3.1-70b-instruct",
                "gemini-1.5-pro-002"
            ]),
            rng.below(20000),
            rng.below(4000),
            rng.below(30000),
            uuid(rng),
            rng.pick(&[
                "web_search",
                "code_interpreter",
                "retrieve_docs",
                "sql_query"
            ])
        ),
        2 => format!(
            "10.{}.{}.{} - - [{ts}] \"GET /static/app.{}.js HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0.6367.91\"",
            rng.below(256),
            rng.below(256),
            rng.below(256),
            rng.hex(8),
            rng.below(500_000)
        ),
        3 => format!(
            "{ts} {level} [agent.planner] step {} of {}: selected tool={} confidence=0.{} elapsed={}ms attempt={} queue_depth={} version=v{}.{}.{}",
            rng.below(20),
            rng.below(20) + 20,
            rng.pick(&["browser", "shell", "python", "search"]),
            rng.below(1000),
            rng.below(9000),
            rng.below(5),
            rng.below(200),
            rng.below(5),
            rng.below(30),
            rng.below(10)
        ),
        4 => format!(
            "{ts} {level} cache: stored object sha256={} md5={} size={} etag=\"{}\" key=artifacts/{}/{}.parquet",
            rng.hex(64),
            rng.hex(32),
            rng.below(1 << 30),
            rng.hex(40),
            uuid(rng),
            rng.below(100_000)
        ),
        5 => format!(
            "  File \"/usr/lib/python3.12/site-packages/agents/runner.py\", line {}, in run_step\n    result = await self._call(tool, args, timeout={})",
            rng.below(2000),
            rng.below(120)
        ),
        6 => format!(
            "{ts} {level} ward_store::writer: committed batch tenant=t-{} records={} spans={} partition=2025-0{}-{:02} wal_bytes={} elapsed={}.{}s",
            rng.below(100),
            rng.below(5000),
            rng.below(5000),
            1 + rng.below(9),
            1 + rng.below(28),
            rng.below(1 << 24),
            rng.below(10),
            rng.below(1000)
        ),
        _ => format!(
            "{ts} {level} agent conversation turn={} user_msg_chars={} retrieved_chunks={} epoch={} deadline={} pid={} thread=tokio-runtime-worker-{}",
            rng.below(50),
            rng.below(4000),
            rng.below(20),
            1_700_000_000 + rng.below(60_000_000),
            1_700_000_000_000 + rng.below(60_000_000_000),
            rng.below(65536),
            rng.below(16)
        ),
    }
}

fn dirty_line(rng: &mut Rng) -> String {
    let ts = timestamp(rng);
    match rng.below(10) {
        0 => format!(
            "{ts} INFO signup email=jane.{}@example.com phone=+1 415-555-{:04}",
            rng.alnum(5),
            rng.below(10000)
        ),
        1 => format!(
            "{ts} WARN payment failed card=4111 1111 1111 1111 amount={}.{:02}",
            rng.below(1000),
            rng.below(100)
        ),
        2 => format!(
            "{ts} DEBUG outbound headers Authorization: Bearer {}",
            rng.alnum(40)
        ),
        3 => format!(
            "{ts} ERROR connect failed url=postgres://app:{}@db.internal:5432/orders",
            rng.alnum(12)
        ),
        4 => format!(
            "{ts} INFO env OPENAI_API_KEY=sk-proj-{} loaded",
            rng.alnum(48)
        ),
        5 => format!(
            r#"{{"ts":"{ts}","msg":"user profile","ssn":"123-45-{:04}","iban":"DE89 3704 0044 0532 0130 00"}}"#,
            1 + rng.below(9998)
        ),
        6 => format!(
            "{ts} DEBUG aws creds AKIA{} secret",
            rng.alnum(16)
                .to_uppercase()
                .replace(['0', '1', '8', '9'], "A")
        ),
        7 => format!("{ts} INFO login user=bob password={} ok", rng.alnum(10)),
        8 => format!(
            "{ts} INFO client ip=192.168.{}.{} mac=00:1a:2b:3c:4d:{:02x}",
            rng.below(256),
            rng.below(256),
            rng.below(256)
        ),
        _ => format!("{ts} WARN token=ghp_{} leaked in prompt", rng.alnum(36)),
    }
}

fn corpus(bytes: usize) -> Vec<String> {
    let mut rng = Rng(42);
    let mut lines = Vec::new();
    let mut total = 0;
    while total < bytes {
        let line = if rng.below(100) < 2 {
            dirty_line(&mut rng)
        } else {
            clean_line(&mut rng)
        };
        total += line.len() + 1;
        lines.push(line);
    }
    lines
}

fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(32);
    let only: Vec<Profile> = std::env::args()
        .skip(2)
        .map(|a| a.parse().unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let lines = corpus(mb * 1_000_000);
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    println!(
        "corpus: {} lines, {:.1} MB (~2% of lines with PII or secrets); each line redacted separately",
        lines.len(),
        bytes as f64 / 1e6
    );
    println!(
        "{:<14} {:>10} {:>12} {:>10}",
        "profile", "MB/s", "lines/s", "findings"
    );
    for profile in Profile::ALL {
        if !only.is_empty() && !only.contains(&profile) {
            continue;
        }
        let r = Redactor::builtin(profile);
        let mut best = f64::MAX;
        let mut findings = 0;
        for _ in 0..3 {
            let start = Instant::now();
            let mut n = 0;
            for line in &lines {
                n += r.redact_str(line).findings.len();
            }
            best = best.min(start.elapsed().as_secs_f64());
            findings = n;
        }
        println!(
            "{:<14} {:>10.1} {:>12.0} {:>10}",
            profile.as_str(),
            bytes as f64 / 1e6 / best,
            lines.len() as f64 / best,
            findings
        );
    }
}
