//! `ward redact` run as a real process: stdin in, stdout and stderr out, exit status.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

fn ward() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ward"))
}

/// Runs `ward redact ARGS < input` and returns its output.
fn redact(args: &[&str], input: &[u8]) -> Output {
    let mut child = ward()
        .arg("redact")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ward");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Written from another thread: a large input would otherwise fill the pipes both ways.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for ward");
    writer.join().unwrap();
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const SECRET_LINE: &str =
    "user jane.doe@example.com key AKIAQYLPMN5HHHFPZAM2 card 4539 1488 0343 6467";

#[test]
fn text_is_redacted_line_by_line() {
    let input = format!("{SECRET_LINE}\nnothing to see here 200 OK\n");
    let o = redact(&[], input.as_bytes());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "user [EMAIL] key [AWS_ACCESS_KEY_ID] card [CREDIT_CARD]\nnothing to see here 200 OK\n"
    );
    assert_eq!(stderr(&o), "", "nothing on stderr without --report");
}

#[test]
fn profiles_change_what_is_found() {
    let input = b"client 192.168.1.20 mail jane@example.com\n";
    assert_eq!(
        stdout(&redact(&[], input)),
        "client 192.168.1.20 mail [EMAIL]\n"
    );
    assert_eq!(
        stdout(&redact(&["--profile", "strict"], input)),
        "client [IPV4] mail [EMAIL]\n"
    );
    assert_eq!(
        stdout(&redact(&["--profile", "secrets-only"], input)),
        "client 192.168.1.20 mail jane@example.com\n"
    );
}

#[test]
fn spans_are_the_scorer_format() {
    let input = "plain line\ncafé jane@example.com\n";
    let o = redact(&["--format", "spans"], input.as_bytes());
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let spans: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(spans.len(), 1, "{out}");
    let s = &spans[0];
    assert_eq!(s["line"], 1);
    assert_eq!(s["type"], "email");
    // UTF-8 byte offsets: "café " is six bytes.
    let (start, end) = (
        s["start"].as_u64().unwrap() as usize,
        s["end"].as_u64().unwrap() as usize,
    );
    assert_eq!((start, end), (6, 22));
    assert_eq!(
        &input.lines().nth(1).unwrap()[start..end],
        "jane@example.com"
    );
    assert_eq!(
        s.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["end", "line", "start", "type"]
    );
}

#[test]
fn jsonl_redacts_fields_and_passes_other_lines_as_text() {
    let input = concat!(
        "{\"msg\":\"login jane@example.com\",\"password\":\"hunter2\",\"n\":3}\n",
        "not json: password=hunter2 from jane@example.com\n",
        "{\"b\": 1, \"a\": \"untouched\"}\n",
    );
    let o = redact(
        &["--format", "jsonl", "--report-format", "json"],
        input.as_bytes(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "no line is ever dropped: {out}");
    let first: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["msg"], "login [EMAIL]");
    assert_eq!(first["password"], "[PASSWORD]");
    assert_eq!(first["n"], 3);
    assert!(
        !lines[0].contains("\": ") && !lines[0].contains(", \""),
        "compact output: {}",
        lines[0]
    );
    assert_eq!(lines[1], "not json: password=[PASSWORD] from [EMAIL]");
    assert_eq!(
        lines[2], "{\"b\": 1, \"a\": \"untouched\"}",
        "clean lines are copied"
    );
    let report: Value = serde_json::from_str(stderr(&o).trim()).unwrap();
    assert_eq!(report["non_json_lines"], 1);
    assert_eq!(report["lines"], 3);
    assert_eq!(report["counts"]["email"], 2);
    assert_eq!(report["counts"]["password_assignment"], 2);
}

#[test]
fn report_goes_to_stderr_without_values() {
    let input = format!("{SECRET_LINE}\n{SECRET_LINE}\n");
    let o = redact(&["--report"], input.as_bytes());
    assert!(o.status.success());
    let err = stderr(&o);
    assert!(
        !stdout(&o).contains("type"),
        "the report is not in the output"
    );
    for needle in [
        "email",
        "aws_access_key_id",
        "credit_card",
        "total",
        "2 lines",
        "MB/s",
    ] {
        assert!(
            err.contains(needle),
            "{needle:?} missing from report:\n{err}"
        );
    }
    let total = err
        .lines()
        .find(|l| l.starts_with("total"))
        .expect("total row");
    assert!(
        total.contains(" 6 ") && total.contains("(2 credentials)"),
        "{total}"
    );
    for value in ["jane.doe", "AKIAQYLPMN5HHHFPZAM2", "4539"] {
        assert!(!err.contains(value), "the report shows {value}");
    }
}

#[test]
fn check_exits_1_when_something_is_found() {
    let clean = redact(&["--check"], b"all good\n");
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    let dirty = redact(&["--check"], format!("{SECRET_LINE}\n").as_bytes());
    assert_eq!(dirty.status.code(), Some(1));
    let err = stderr(&dirty);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: --check: found 3 "), "{err}");
    assert!(!err.contains("AKIA"), "{err}");
    // The output is still written, redacted.
    assert!(stdout(&dirty).contains("[EMAIL]"));
    // With spans, as a pre-commit hook would run it.
    let spans = redact(
        &["--check", "--format", "spans"],
        b"token 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\n",
    );
    assert_eq!(spans.status.code(), Some(1));
}

#[test]
fn allow_list_keeps_values() {
    let input = b"ops@corp.example and jane@example.com, card 4111 1111 1111 1111\n";
    let o = redact(
        &["--allow", "jane@example.com", "--allow-test-cards"],
        input,
    );
    assert_eq!(
        stdout(&o),
        "[EMAIL] and jane@example.com, card 4111 1111 1111 1111\n"
    );
    let o = redact(&["--allow-email-domain", "corp.example"], input);
    assert!(stdout(&o).starts_with("ops@corp.example and [EMAIL]"));
}

#[test]
fn non_ascii_text_passes_through_byte_for_byte() {
    let input = "Ünïcödé 日本語 → 🚀 mañana, 電話 +81 90-1234-5678 وصل\n".as_bytes();
    let o = redact(&[], input);
    assert_eq!(stdout(&o), "Ünïcödé 日本語 → 🚀 mañana, 電話 [PHONE] وصل\n");
    let clean = "Ünïcödé 日本語 → 🚀 mañana\n".as_bytes();
    assert_eq!(redact(&[], clean).stdout, clean);
}

#[test]
fn crlf_and_a_last_line_without_newline_are_kept() {
    let input = b"a jane@example.com\r\nplain\r\n\r\nlast jane@example.com";
    let o = redact(&[], input);
    assert_eq!(
        o.stdout,
        b"a [EMAIL]\r\nplain\r\n\r\nlast [EMAIL]".to_vec(),
        "{:?}",
        stdout(&o)
    );
    let spans = stdout(&redact(&["--format", "spans"], input));
    assert!(
        spans.contains(r#"{"line":3,"start":5,"end":21,"type":"email"}"#),
        "{spans}"
    );
    assert_eq!(redact(&[], b"").stdout, b"");
    assert_eq!(redact(&[], b"no newline").stdout, b"no newline");
}

#[test]
fn invalid_utf8_never_aborts() {
    let input = b"caf\xe9 password=s3cr3t!x \xff\nnext jane@example.com\n";
    let o = redact(&["--report-format", "json"], input);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "caf\u{fffd} password=[PASSWORD] \u{fffd}\nnext [EMAIL]\n"
    );
    let report: Value = serde_json::from_str(stderr(&o).trim()).unwrap();
    assert_eq!(report["invalid_utf8_lines"], 1);
}

#[test]
fn multi_line_private_keys_are_redacted_whole() {
    let input = "config loaded\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDtTqF1XbB4yQ8l8r0yq8f3C2a7n9lJmQx2N4nqYk6uSwAAAJgB7mWhAe5l\n-----END OPENSSH PRIVATE KEY-----\ndone\n";
    let o = redact(&["--check"], input.as_bytes());
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "config loaded\n[PRIVATE_KEY]\ndone\n");
}

#[test]
fn unknown_profile_is_a_one_line_error() {
    let o = redact(&["--profile", "lenient"], b"x\n");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: unknown profile \"lenient\""),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}

/// Several MiB of mixed lines: every job count gives the output of the single-threaded run.
#[test]
fn parallel_output_equals_single_threaded_output() {
    let mut input = Vec::new();
    let mut i = 0u64;
    while input.len() < 4 << 20 {
        let line = match i % 5 {
            0 => format!(
                "{i} user{i}@example.com paid with 4111 1111 1111 1111 trace_id=4bf92f3577b34da6a3ce929d0e0e4736"
            ),
            1 => format!("{{\"n\":{i},\"password\":\"p{i}\",\"msg\":\"ok\"}}"),
            2 => format!("{i} nothing here but numbers 1234 5678 and words"),
            3 => format!("{i} Authorization: Bearer abcdefghijklmnop{i:08}"),
            _ => format!("{i} ünïcödé → ssn 123-45-6789\r"),
        };
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
        i += 1;
    }
    input.extend_from_slice(b"tail without newline jane@example.com");
    for format in ["text", "spans", "jsonl"] {
        let one = redact(&["--jobs", "1", "--format", format], &input);
        assert!(one.status.success(), "{}", stderr(&one));
        for jobs in ["2", "4"] {
            let many = redact(&["--jobs", jobs, "--format", format], &input);
            assert!(many.status.success(), "{}", stderr(&many));
            assert!(
                one.stdout == many.stdout,
                "--jobs {jobs} --format {format} differs from --jobs 1"
            );
        }
        // Small chunks: many more chunk boundaries, same result.
        let small = redact(
            &["--jobs", "3", "--chunk-size", "1000", "--format", format],
            &input,
        );
        assert!(
            one.stdout == small.stdout,
            "small chunks, --format {format}"
        );
    }
    let text = redact(&["--jobs", "4"], &input);
    let out = String::from_utf8(text.stdout).unwrap();
    assert_eq!(out.lines().count() as u64, i + 1);
    assert!(!out.contains("@example.com") && !out.contains("123-45-6789"));
    assert!(out.ends_with("tail without newline [EMAIL]"));
}

#[test]
fn lines_stream_through_before_input_ends() {
    let mut child = ward()
        .args(["redact", "--jobs", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
    });
    for n in 0..3 {
        writeln!(stdin, "step {n} jane@example.com").unwrap();
        stdin.flush().unwrap();
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a line comes out while stdin is still open");
        assert_eq!(line, format!("step {n} [EMAIL]"));
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_closed_output_pipe_ends_quietly() {
    let mut child = ward()
        .args(["redact"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    let writer = std::thread::spawn(move || {
        let line = b"jane@example.com and some more text to fill the pipe quickly\n".repeat(1000);
        // Ends with an error once ward has gone: that is expected.
        for _ in 0..2000 {
            if stdin.write_all(&line).is_err() {
                break;
            }
        }
    });
    out.read_exact(&mut first).unwrap();
    drop(out);
    let status = child.wait().unwrap();
    writer.join().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "status {status:?}, stderr {err}");
    assert_eq!(err, "", "no message on a broken pipe");
}
