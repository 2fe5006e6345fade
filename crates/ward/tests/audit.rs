//! The audit trail through the real binary: appends over the API, queries and pagination,
//! exports checked by Ward's CLI and by the outside Python verifier, local verification of the
//! data directory, durability of acknowledged entries under SIGKILL, tampering with the file,
//! erasure, Ward's own entries, retention with archives, and refused input.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Ward, http, ward_bin};
use serde_json::{Value, json};
use ward_audit::ExportLine;

/// The outside verifier shipped in the docs.
const PYTHON_VERIFIER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/examples/verify_audit.py"
);

/// Starts Ward with `toml` as its configuration file (kept in the returned directory).
fn start_with_config(toml: &str) -> (Ward, tempfile::TempDir) {
    let conf_dir = tempfile::tempdir().unwrap();
    let path = conf_dir.path().join("ward.toml");
    std::fs::write(&path, toml).unwrap();
    let w = Ward::start(&[("WARD_CONFIG", path.to_str().unwrap())]);
    (w, conf_dir)
}

/// POSTs `body` to the audit API; the status and the JSON answer (Null if none).
fn append(w: &Ward, key: &str, body: &Value) -> (u16, Value) {
    let r = http()
        .post(format!("{}/api/v1/audit", w.http))
        .bearer_auth(key)
        .json(body)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

/// Appends and expects 201; the `entries` of the answer.
fn append_ok(w: &Ward, key: &str, body: &Value) -> Vec<Value> {
    let (status, answer) = append(w, key, body);
    assert_eq!(status, 201, "{answer}");
    answer["entries"].as_array().unwrap().clone()
}

/// GET `path` with `query`; expects 200 and JSON.
fn get(w: &Ward, key: &str, path: &str, query: &[(&str, &str)]) -> Value {
    let r = http()
        .get(format!("{}{path}", w.http))
        .query(query)
        .bearer_auth(key)
        .send()
        .unwrap();
    let status = r.status();
    let text = r.text().unwrap();
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Every entry matching `query`, following the cursors (newest first).
fn query_all(w: &Ward, key: &str, query: &[(&str, &str)], page: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    let limit = page.to_string();
    for _ in 0..10_000 {
        let mut q: Vec<(&str, &str)> = query.to_vec();
        q.push(("limit", &limit));
        if let Some(c) = &cursor {
            q.push(("cursor", c));
        }
        let answer = get(w, key, "/api/v1/audit", &q);
        let entries = answer["entries"].as_array().unwrap();
        assert!(entries.len() <= page, "page larger than the limit");
        out.extend(entries.iter().cloned());
        match answer["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
    panic!("cursors never ended");
}

/// The newest entry by agent `a` (the agent of every request of the bad-input test), as
/// (seq, hash); Ward's own entries may land at any time and are not counted.
fn head_of_a(w: &Ward, key: &str) -> (u64, String) {
    let answer = get(w, key, "/api/v1/audit", &[("agent", "a"), ("limit", "1")]);
    let e = &answer["entries"][0];
    (
        e["seq"].as_u64().unwrap_or(0),
        e["hash"].as_str().unwrap_or("").to_owned(),
    )
}

/// Runs the CLI against `w`; the output, whatever the exit status.
fn cli(w: &Ward, key: &str, args: &[&str]) -> Output {
    w.cli(key, args)
}

/// Runs the CLI and expects success; stdout.
fn cli_ok(w: &Ward, key: &str, args: &[&str]) -> String {
    let out = cli(w, key, args);
    assert!(
        out.status.success(),
        "ward {args:?} failed ({:?}): {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ward audit verify` on the data directory of `w` (also when Ward is stopped).
fn verify_local(dir: &Path, extra: &[&str]) -> Output {
    Command::new(ward_bin())
        .args(["audit", "verify"])
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WARD_DATA_DIR", dir.join("data"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The public key Ward publishes (no key needed).
fn public_key(w: &Ward) -> String {
    let r = http()
        .get(format!("{}/api/v1/audit/public-key", w.http))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().unwrap();
    assert_eq!(answer["algorithm"], "Ed25519");
    let key = answer["public_key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 64, "{answer}");
    assert!(
        answer["trusted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["public_key"] == key.as_str()),
        "the current key is trusted: {answer}"
    );
    key
}

/// Parses an export: entries' (seq, hash) in order, and the number of checkpoints.
fn parse_export(text: &str) -> (Vec<(u64, String)>, usize) {
    let mut entries = Vec::new();
    let mut checkpoints = 0;
    for line in text.lines().filter(|l| !l.is_empty()) {
        match ExportLine::parse(line).unwrap_or_else(|e| panic!("{e}: {line}")) {
            ExportLine::Entry(e) => entries.push((e.seq, hex_of(&e.hash))),
            ExportLine::Checkpoint(_) => checkpoints += 1,
        }
    }
    (entries, checkpoints)
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The whole trail of `key`'s tenant through the export API.
fn export_api(w: &Ward, key: &str) -> String {
    let r = http()
        .get(format!("{}/api/v1/audit/export", w.http))
        .bearer_auth(key)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let ctype = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ctype.starts_with("application/x-ndjson"), "{ctype}");
    r.text().unwrap()
}

/// Polls `f` every 50 ms until it gives a value or `within` passes.
fn wait_for<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn action(agent: &str, action: &str, resource: &str, outcome: &str) -> Value {
    json!({"agent": agent, "action": action, "resource": resource, "outcome": outcome})
}

#[test]
fn lifecycle_append_query_export_and_verify_three_ways() {
    let (w, _conf) = start_with_config("[audit]\ncheckpoint_every = 3\n");
    let writer = w.create_key(&["audit:write"], "default");
    let reader = w.create_key(&["audit:read"], "default");

    // One entry, with every optional field. `time` (when the action happened) is kept in
    // the details as `occurred_at`; the entry's own time is its append time.
    let occurred =
        ward_model::time::format_rfc3339(ward_model::time::now_unix_nanos() - 60_000_000_000);
    let single = append_ok(
        &w,
        &writer,
        &json!({
            "agent": "support-bot",
            "action": "tool.call",
            "resource": "crm/customer/1",
            "outcome": "success",
            "on_behalf_of": "123",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "details": {"tool": "crm.lookup", "rows": 3},
            "time": occurred,
        }),
    );
    assert_eq!(single.len(), 1);
    let first = single[0]["seq"].as_u64().unwrap();
    assert_eq!(single[0]["hash"].as_str().unwrap().len(), 64);
    assert!(single[0]["time_unix_nano"].as_i64().unwrap() > 0);

    // A batch: seqs in order, contiguous, after the single one.
    let batch: Vec<Value> = (2..=7)
        .map(|i| {
            let mut a = action(
                if i % 2 == 0 {
                    "support-bot"
                } else {
                    "billing-bot"
                },
                if i == 7 {
                    "payment.refund"
                } else {
                    "tool.call"
                },
                &format!("crm/customer/{i}"),
                if i == 5 { "denied" } else { "success" },
            );
            if i % 3 == 0 {
                a["on_behalf_of"] = json!("123");
            }
            a
        })
        .collect();
    let appended = append_ok(&w, &writer, &Value::Array(batch));
    let seqs: Vec<u64> = appended
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (first + 1..=first + 6).collect::<Vec<_>>());

    // Filters.
    let by_agent = query_all(&w, &reader, &[("agent", "support-bot")], 100);
    assert_eq!(by_agent.len(), 4, "{by_agent:?}");
    let by_user = query_all(&w, &reader, &[("user", "123")], 100);
    assert_eq!(by_user.len(), 3, "{by_user:?}");
    assert!(by_user.iter().all(|e| e["on_behalf_of"] == "123"));
    let denied = query_all(&w, &reader, &[("outcome", "denied")], 100);
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["resource"], "crm/customer/5");
    let prefixed = query_all(&w, &reader, &[("resource", "crm/customer/*")], 100);
    assert_eq!(prefixed.len(), 7);
    let exact = query_all(&w, &reader, &[("resource", "crm/customer/1")], 100);
    assert_eq!(exact.len(), 1);
    assert_eq!(
        exact[0]["details"],
        json!({"tool": "crm.lookup", "rows": 3, "occurred_at": occurred})
    );
    assert_eq!(exact[0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(exact[0]["kind"], "agent");
    assert_eq!(exact[0]["erased"], false);
    assert_eq!(
        query_all(&w, &reader, &[("action", "payment.refund")], 100).len(),
        1
    );
    assert!(query_all(&w, &reader, &[("agent", "nobody")], 100).is_empty());
    // Time filters in the syntax of the other query endpoints.
    assert_eq!(
        query_all(
            &w,
            &reader,
            &[("agent", "support-bot"), ("from", "1h")],
            100
        )
        .len(),
        4
    );
    assert!(query_all(&w, &reader, &[("to", "1h")], 100).is_empty());

    // Pagination: pages of 2, newest first, each entry once.
    let paged = query_all(&w, &reader, &[("action", "tool.call")], 2);
    let paged_seqs: Vec<u64> = paged.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        paged_seqs,
        vec![first + 5, first + 4, first + 3, first + 2, first + 1, first]
    );

    // The CLI: a table, JSON lines, every page.
    let table = cli_ok(&w, &reader, &["audit", "query", "--agent", "support-bot"]);
    assert!(table.starts_with("SEQ  TIME"), "{table}");
    assert!(
        table.contains("crm/customer/1") && table.contains("123"),
        "{table}"
    );
    let lines = cli_ok(
        &w,
        &reader,
        &["audit", "query", "--action", "tool.call", "--all", "--json"],
    );
    assert_eq!(lines.lines().count(), 6, "{lines}");
    let limited = cli(&w, &reader, &["audit", "query", "--limit", "2", "--json"]);
    assert_eq!(String::from_utf8_lossy(&limited.stdout).lines().count(), 2);
    assert!(String::from_utf8_lossy(&limited.stderr).contains("--all"));

    // Export through the CLI, to a file written whole.
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("audit.jsonl");
    cli_ok(
        &w,
        &reader,
        &["audit", "export", "-o", file.to_str().unwrap()],
    );
    assert!(!out_dir.path().join("audit.jsonl.tmp").exists());
    let exported = std::fs::read_to_string(&file).unwrap();
    let (entries, checkpoints) = parse_export(&exported);
    let export_seqs: Vec<u64> = entries.iter().map(|(s, _)| *s).collect();
    let last = *export_seqs.last().unwrap();
    assert_eq!(export_seqs, (1..=last).collect::<Vec<_>>());
    assert!(last >= first + 6);
    assert!(checkpoints >= 2, "checkpoint_every = 3 signs: {exported}");
    // The same as the API's export.
    let (api_entries, _) = parse_export(&export_api(&w, &reader));
    assert_eq!(api_entries[..entries.len()], entries[..]);
    // A seq range.
    let ranged = cli_ok(
        &w,
        &reader,
        &[
            "audit",
            "export",
            "--from-seq",
            &(first + 1).to_string(),
            "--to-seq",
            &(first + 3).to_string(),
        ],
    );
    let (ranged, _) = parse_export(&ranged);
    assert_eq!(
        ranged.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        vec![first + 1, first + 2, first + 3]
    );

    // The outside verifier agrees, with the published key.
    let key = public_key(&w);
    let python = Command::new("python3")
        .arg(PYTHON_VERIFIER)
        .arg(&file)
        .arg(&key)
        .output();
    match python {
        Ok(out) => {
            assert!(out.status.success(), "{}", text(&out));
            assert!(
                text(&out).contains(&format!("intact up to seq {last}")),
                "{}",
                text(&out)
            );
            assert!(text(&out).contains("signed checkpoint"), "{}", text(&out));
        }
        Err(e) => println!("python3 not available ({e}); outside verifier skipped"),
    }

    // Ward's own offline verification of the file: key fetched from --url, or given.
    let offline = cli_ok(
        &w,
        &reader,
        &["audit", "verify", "--file", file.to_str().unwrap()],
    );
    assert!(
        offline.contains(&format!("intact: {last} entries up to seq {last}")),
        "{offline}"
    );
    let given = cli_ok(
        &w,
        &reader,
        &[
            "audit",
            "verify",
            "--file",
            file.to_str().unwrap(),
            "--public-key",
            &key,
            "--json",
        ],
    );
    let verdict: Value = serde_json::from_str(given.trim()).unwrap();
    assert_eq!(verdict["verdict"], "intact");
    assert_eq!(verdict["tenant"], "default");
    assert_eq!(verdict["last_seq"], last);
    // A wrong key makes the signed checkpoints fail.
    let wrong = cli(
        &w,
        &reader,
        &[
            "audit",
            "verify",
            "--file",
            file.to_str().unwrap(),
            "--public-key",
            &"ab".repeat(32),
        ],
    );
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(text(&wrong).contains("bad signature"), "{}", text(&wrong));

    // Compressed exports verify too.
    let zst = out_dir.path().join("audit.jsonl.zst");
    cli_ok(
        &w,
        &reader,
        &["audit", "export", "-o", zst.to_str().unwrap()],
    );
    let compressed = cli_ok(
        &w,
        &reader,
        &["audit", "verify", "--file", zst.to_str().unwrap()],
    );
    assert!(compressed.contains("intact:"), "{compressed}");

    // The data directory itself, read-only while Ward runs; the server's verdict agrees.
    let local = verify_local(&w.dir, &[]);
    assert!(local.status.success(), "{}", text(&local));
    assert!(
        String::from_utf8_lossy(&local.stdout).contains("tenant default: intact:"),
        "{}",
        text(&local)
    );
    let server = get(&w, &reader, "/api/v1/audit/verify", &[]);
    assert_eq!(server["verdict"], "intact", "{server}");
    assert!(server["summary"].as_str().unwrap().starts_with("intact:"));
}

#[test]
fn sigkill_during_sustained_appends_loses_no_acknowledged_entry() {
    let mut w = Ward::start(&[]);
    let writer = w.create_key(&["audit:write"], "default");
    let reader = w.create_key(&["audit:read"], "default");
    let acked: Arc<Mutex<Vec<(u64, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..16 {
        let (url, key, acked, stop) = (w.http.clone(), writer.clone(), acked.clone(), stop.clone());
        clients.push(std::thread::spawn(move || {
            let c = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let batch: Vec<Value> = (0..4)
                    .map(|i| {
                        action(
                            &format!("client-{client}"),
                            "tool.call",
                            &format!("r/{n}/{i}"),
                            "success",
                        )
                    })
                    .collect();
                let Ok(r) = c
                    .post(format!("{url}/api/v1/audit"))
                    .bearer_auth(&key)
                    .json(&batch)
                    .send()
                else {
                    continue;
                };
                if r.status() != 201 {
                    continue;
                }
                let Ok(answer) = r.json::<Value>() else {
                    continue;
                };
                let mut acked = acked.lock().unwrap();
                for e in answer["entries"].as_array().unwrap() {
                    acked.push((
                        e["seq"].as_u64().unwrap(),
                        e["hash"].as_str().unwrap().to_owned(),
                    ));
                }
                n += 1;
            }
        }));
    }
    // Load for about two seconds, then kill Ward mid-flight.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    w.signal("KILL", Duration::from_secs(5)).expect("killed");
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    println!("{} entries acknowledged before SIGKILL", acked.len());
    assert!(
        acked.len() >= 200,
        "the load was real: {} entries acknowledged",
        acked.len()
    );

    let w2 = Ward::start_in(&w.dir, &[], Some(w.admin_key.clone()));
    let (entries, _) = parse_export(&export_api(&w2, &reader));
    let stored: BTreeMap<u64, String> = entries.iter().cloned().collect();
    assert_eq!(stored.len(), entries.len(), "duplicate seqs in the export");
    let seqs: Vec<u64> = entries.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "seqs are contiguous from 1"
    );
    let mut unique = std::collections::HashSet::new();
    for (seq, hash) in &acked {
        assert!(unique.insert(*seq), "seq {seq} acknowledged twice");
        assert_eq!(
            stored.get(seq),
            Some(hash),
            "acknowledged seq {seq} is stored with its hash"
        );
    }
    let local = verify_local(&w2.dir, &[]);
    assert!(local.status.success(), "{}", text(&local));
    assert!(text(&local).contains("intact:"), "{}", text(&local));
}

#[test]
fn a_field_changed_in_the_file_is_named_with_its_seq() {
    let mut w = Ward::start(&[]);
    let writer = w.create_key(&["audit:write"], "default");
    let appended = append_ok(
        &w,
        &writer,
        &json!([
            action("a", "tool.call", "doc/1", "success"),
            action("a", "tool.call", "doc/2", "success"),
            action("a", "tool.call", "doc/3", "success"),
        ]),
    );
    let target = appended[1]["seq"].as_u64().unwrap();
    let status = w.signal("TERM", Duration::from_secs(20)).expect("stopped");
    assert!(status.success(), "{}", w.log_text());
    assert!(verify_local(&w.dir, &[]).status.success());

    let db = rusqlite::Connection::open(w.dir.join("data").join("audit.db")).unwrap();
    let changed = db
        .execute(
            "UPDATE audit_entries SET resource = 'doc/20' WHERE tenant = 'default' AND seq = ?1",
            [target as i64],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);

    let out = verify_local(&w.dir, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("changed at seq {target}")),
        "{}",
        text(&out)
    );
    let json = verify_local(&w.dir, &["--json"]);
    assert_eq!(json.status.code(), Some(1));
    let verdict: Value =
        serde_json::from_str(String::from_utf8_lossy(&json.stdout).trim()).unwrap();
    assert_eq!(verdict["verdict"], "broken");
    assert_eq!(verdict["kind"], "changed");
    assert_eq!(verdict["seq"], target);

    // Usage and I/O errors are a status of their own.
    let missing = verify_local(
        &w.dir,
        &[
            "--file",
            "/nonexistent/audit.jsonl",
            "--public-key",
            &"00".repeat(32),
        ],
    );
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    let no_key = verify_local(&w.dir, &["--file", "/nonexistent/audit.jsonl"]);
    assert_eq!(no_key.status.code(), Some(2), "{}", text(&no_key));
}

#[test]
fn erasure_from_the_cli_makes_entries_unreadable_and_keeps_the_chain() {
    let (w, _conf) = start_with_config("[audit]\npersonal_details = [\"email\"]\n");
    let writer = w.create_key(&["audit:write"], "default");
    let reader = w.create_key(&["audit:read"], "default");
    let mut batch = Vec::new();
    for i in 0..3 {
        let mut a = action(
            "support-bot",
            "ticket.read",
            &format!("ticket/{i}"),
            "success",
        );
        a["on_behalf_of"] = json!("u-42");
        a["details"] = json!({"email": "jane@example.com", "channel": "chat"});
        batch.push(a);
    }
    batch.push(action("support-bot", "ticket.read", "ticket/9", "success"));
    append_ok(&w, &writer, &Value::Array(batch));
    let before = query_all(&w, &reader, &[("user", "u-42")], 100);
    assert_eq!(before.len(), 3);
    assert_eq!(before[0]["details"]["email"], "jane@example.com");

    // Only an admin erases.
    let refused = cli(&w, &reader, &["audit", "erase", "--user", "u-42"]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("403"), "{}", text(&refused));
    let said = cli_ok(
        &w,
        &w.admin_key,
        &["audit", "erase", "--subject", "user:u-42"],
    );
    assert!(
        said.contains("erased user:u-42") && said.contains("3 entries"),
        "{said}"
    );

    assert!(query_all(&w, &reader, &[("user", "u-42")], 100).is_empty());
    let after = query_all(&w, &reader, &[("action", "ticket.read")], 100);
    assert_eq!(after.len(), 4);
    let erased: Vec<&Value> = after.iter().filter(|e| e["erased"] == true).collect();
    assert_eq!(erased.len(), 3, "{after:?}");
    for e in &erased {
        assert!(e["on_behalf_of"].is_null(), "{e}");
        assert_eq!(e["details"]["email"], json!({"erased": true}), "{e}");
        assert_eq!(e["details"]["channel"], "chat");
    }
    let untouched = after.iter().find(|e| e["resource"] == "ticket/9").unwrap();
    assert_eq!(untouched["erased"], false);
    // No name is left to find in the export either.
    assert!(!export_api(&w, &reader).contains("jane@example.com"));

    // Erasing again: nothing left to erase.
    let again = cli(&w, &w.admin_key, &["audit", "erase", "--user", "u-42"]);
    assert!(!again.status.success());
    assert!(text(&again).contains("404"), "{}", text(&again));

    let local = verify_local(&w.dir, &[]);
    assert!(local.status.success(), "{}", text(&local));
    let report = cli_ok(
        &w,
        &reader,
        &["audit", "report", "--from", "1h", "--format", "json"],
    );
    let report: Value = serde_json::from_str(&report).unwrap();
    let erasures = report["erasures"].as_array().unwrap();
    assert_eq!(erasures.len(), 1, "{report}");
    assert_eq!(erasures[0]["entries"], 3);
    assert_eq!(report["integrity"]["verdict"], "intact");
    let out_dir = tempfile::tempdir().unwrap();
    let md = out_dir.path().join("report.md");
    cli_ok(
        &w,
        &reader,
        &["audit", "report", "-o", md.to_str().unwrap()],
    );
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.starts_with("# Audit report"), "{md}");
    assert!(md.contains("## Erasures"), "{md}");
}

#[test]
fn creating_a_key_is_recorded_as_a_system_entry_of_its_tenant() {
    let w = Ward::start(&[]);
    let reader = w.create_key(&["audit:read"], "team-a");
    let created = |w: &Ward| query_all(w, &reader, &[("action", "key.create")], 100);
    // Ward's own entries are recorded in the background: wait for them.
    let at_least = |n: usize| {
        wait_for(Duration::from_secs(10), || {
            let found = created(&w);
            (found.len() >= n).then_some(found)
        })
        .unwrap_or_else(|| panic!("fewer than {n} key.create entries: {:?}", created(&w)))
    };
    // The reader's own creation is in the trail.
    let before = at_least(1);
    assert!(before.iter().all(|e| e["kind"] == "system"), "{before:?}");
    let other = w.create_key(&["read"], "team-a");
    let after = at_least(before.len() + 1);
    assert_eq!(after.len(), before.len() + 1, "{after:?}");
    let newest = &after[0];
    assert_eq!(newest["kind"], "system");
    assert_eq!(newest["action"], "key.create");
    assert_eq!(newest["outcome"], "success");
    // The key itself is never in the trail.
    assert!(!newest.to_string().contains(&other), "{newest}");
    // Another tenant's key creation is not in team-a's trail: once a later team-a creation
    // is recorded, there is exactly one more entry.
    w.create_key(&["read"], "team-b");
    w.create_key(&["read"], "team-a");
    let last = at_least(after.len() + 1);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(created(&w).len(), after.len() + 1, "{last:?}");
}

#[test]
fn retention_archives_then_prunes_and_the_chain_still_verifies() {
    let (w, _conf) = start_with_config(
        "[audit]\nretention = \"2s\"\nmin_retention = \"0s\"\nretention_interval = \"1s\"\ncheckpoint_every = 2\n",
    );
    let writer = w.create_key(&["audit:write"], "default");
    let reader = w.create_key(&["audit:read"], "default");
    append_ok(
        &w,
        &writer,
        &json!([
            action("a", "tool.call", "doc/1", "success"),
            action("a", "tool.call", "doc/2", "success"),
            action("a", "tool.call", "doc/3", "failure"),
        ]),
    );
    let archive_dir = w.dir.join("data").join("audit-archive");
    let archives = wait_for(Duration::from_secs(20), || {
        let found = find_archives(&archive_dir);
        (!found.is_empty()).then_some(found)
    })
    .unwrap_or_else(|| panic!("no archive appeared: {}", w.log_text()));
    let pruned = wait_for(Duration::from_secs(10), || {
        let markers = query_all(&w, &reader, &[], 1000)
            .into_iter()
            .filter(|e| e["kind"] == "prune")
            .count();
        (markers > 0).then_some(markers)
    });
    assert!(pruned.is_some(), "no prune marker in the trail");
    // The oldest entries are gone from the store.
    let (entries, _) = parse_export(&export_api(&w, &reader));
    assert!(entries[0].0 > 1, "{entries:?}");

    let local = verify_local(&w.dir, &[]);
    assert!(local.status.success(), "{}", text(&local));
    let server = get(&w, &reader, "/api/v1/audit/verify", &[]);
    assert_eq!(server["verdict"], "intact", "{server}");
    // The first archive (from seq 1) verifies on its own, offline; later ones start after a
    // cut whose marker is in the live chain, not in them.
    let first = archives
        .iter()
        .find(|a| a.to_string_lossy().contains("-000000000001-"))
        .unwrap_or_else(|| panic!("no archive from seq 1: {archives:?}"));
    let out = cli(
        &w,
        &reader,
        &["audit", "verify", "--file", first.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}: {}", first.display(), text(&out));
    assert!(text(&out).contains("intact:"), "{}", text(&out));
    let report = get(&w, &reader, "/api/v1/audit/report", &[("format", "json")]);
    assert!(
        !report["retention"]["runs"].as_array().unwrap().is_empty(),
        "{report}"
    );
}

/// The `*.jsonl.zst` files under `dir`, at any depth.
fn find_archives(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(read) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in read.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(find_archives(&path));
        } else if path.to_string_lossy().ends_with(".jsonl.zst") {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn retention_shorter_than_the_minimum_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ward.toml");
    std::fs::write(
        &conf,
        "[audit]\nretention = \"1d\"\nmin_retention = \"30d\"\n",
    )
    .unwrap();
    let mut child = Command::new(ward_bin())
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WARD_CONFIG", &conf)
        .env("WARD_DATA_DIR", dir.path().join("data"))
        .env(
            "WARD_SERVER_LISTEN",
            format!("127.0.0.1:{}", common::free_port()),
        )
        .env(
            "WARD_SERVER_GRPC_LISTEN",
            format!("127.0.0.1:{}", common::free_port()),
        )
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_for(Duration::from_secs(20), || child.try_wait().unwrap());
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("ward started with retention below min_retention");
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains("retention") && stderr.contains("min_retention"),
        "{stderr}"
    );
}

#[test]
fn bad_input_is_refused_whole_with_a_problem_and_scopes_are_enforced() {
    let w = Ward::start(&[]);
    let writer = w.create_key(&["audit:write"], "default");
    let reader = w.create_key(&["audit:read"], "default");
    append_ok(&w, &writer, &action("a", "tool.call", "doc/1", "success"));
    let head = head_of_a(&w, &reader);
    assert!(head.0 > 0);

    let good = action("a", "tool.call", "doc/2", "success");
    let mut unknown_outcome = good.clone();
    unknown_outcome["outcome"] = json!("maybe");
    let mut missing_field = good.clone();
    missing_field.as_object_mut().unwrap().remove("agent");
    let mut list_details = good.clone();
    list_details["details"] = json!(["not", "an", "object"]);
    let mut bad_trace = good.clone();
    bad_trace["trace_id"] = json!("xyz");
    let too_many = Value::Array(vec![good.clone(); 1001]);
    let cases = [
        ("unknown outcome", unknown_outcome.clone(), &[400, 422][..]),
        ("missing field", missing_field, &[400, 422]),
        ("non-object details", list_details, &[400, 422]),
        ("bad trace id", bad_trace, &[400, 422]),
        (
            "a bad entry in a batch",
            json!([good.clone(), unknown_outcome]),
            &[400, 422],
        ),
        ("more than 1000 entries", too_many, &[400, 413, 422]),
        ("not an object", json!("hello"), &[400, 422]),
    ];
    for (name, body, allowed) in cases {
        let r = http()
            .post(format!("{}/api/v1/audit", w.http))
            .bearer_auth(&writer)
            .json(&body)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        let ctype = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let problem: Value = r.json().unwrap_or(Value::Null);
        assert!(allowed.contains(&status), "{name}: {status} {problem}");
        assert!(
            ctype.starts_with("application/problem+json"),
            "{name}: {ctype}"
        );
        assert!(problem["detail"].is_string(), "{name}: {problem}");
    }
    assert_eq!(head_of_a(&w, &reader), head, "nothing was appended");

    // Scopes: reading needs audit:read, writing audit:write, erasing admin.
    let (status, _) = append(&w, &reader, &good);
    assert_eq!(status, 403);
    let r = http()
        .get(format!("{}/api/v1/audit", w.http))
        .bearer_auth(&writer)
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    for path in [
        "/api/v1/audit/export",
        "/api/v1/audit/verify",
        "/api/v1/audit/report",
    ] {
        let r = http()
            .get(format!("{}{path}", w.http))
            .bearer_auth(&writer)
            .send()
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    let r = http()
        .post(format!("{}/api/v1/audit/erasures", w.http))
        .bearer_auth(&writer)
        .json(&json!({"subject": "user:1"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(head_of_a(&w, &reader), head, "nothing was appended");
}
