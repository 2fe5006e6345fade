//! `ward redact`: the scrubbing engine as a streaming filter, stdin → stdout.
//!
//! The input is cut into chunks of whole lines (~256 KiB, always at a `\n`). The calling thread
//! reads chunks, `--jobs` worker threads redact them, and a writer thread puts the results back
//! in input order. At most `IN_FLIGHT_PER_JOB × jobs` chunks exist at any time (a slot is taken
//! before a chunk is read and given back once it is written), so memory stays bounded by a few
//! MiB plus the longest line, whatever the input size. When the input pauses (a pipe behind
//! `tail -F`), the lines read so far are dispatched at once rather than waiting for a full chunk.
//!
//! Line handling, decided here and documented in `docs/redaction.md`:
//!
//! * Lines end at `\n`. A `\r` before it is kept and not scanned; a last line without `\n` stays
//!   without one.
//! * A line that is not valid UTF-8 is decoded lossily (each invalid sequence becomes U+FFFD)
//!   before it is scanned, so a secret next to a Latin-1 byte is still found and the output is
//!   always valid UTF-8. Such lines are counted in the report. `spans` offsets still refer to
//!   the original bytes.
//! * `jsonl`: a line without findings is copied as it came; a rewritten line is compact JSON
//!   with its keys in sorted order (`serde_json`'s map, as used by the engine's `redact_json`).
//! * A private-key block written over several real lines (a PEM file) is redacted as one unit:
//!   the engine only sees one line at a time, and the BEGIN line alone would leave the key body
//!   in clear. Chunks are never cut inside such a block.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde_json::Value;
use ward_redact::{Finding, Kind, Profile, RedactConfig, Redactor, Report};

/// Arguments of `ward redact`.
#[derive(Debug, Clone, Args)]
pub struct RedactArgs {
    /// Profile: default, gdpr, hipaa, pci, secrets-only or strict (see docs/redaction.md).
    #[arg(long, short = 'p', default_value = "default", value_name = "PROFILE")]
    pub profile: String,
    /// `text`: every line is scanned as text. `jsonl`: every line is parsed as JSON (field rules
    /// by key, then text rules on strings; a line that is not JSON is redacted as text).
    /// `spans`: print only the findings, one JSON object per finding.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// At the end, print counts by type, lines, bytes and MB/s to stderr (never values).
    #[arg(long)]
    pub report: bool,
    /// Format of the report (implies --report).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub report_format: Option<ReportFormat>,
    /// Exit with status 1 if anything was found (the output is still written).
    #[arg(long)]
    pub check: bool,
    /// A value never to redact (repeatable). Identifiers match with or without separators.
    #[arg(long = "allow", value_name = "VALUE")]
    pub allow: Vec<String>,
    /// Keep the e-mail addresses of this domain and its subdomains (repeatable).
    #[arg(long = "allow-email-domain", value_name = "DOMAIN")]
    pub allow_email_domains: Vec<String>,
    /// Keep the card schemes' published test card numbers (4111 1111 1111 1111 …).
    #[arg(long)]
    pub allow_test_cards: bool,
    /// Redaction threads [default: the number of CPUs].
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Target chunk size in bytes (lines are never split). For tests and tuning.
    #[arg(long, hide = true, default_value_t = DEFAULT_CHUNK, value_parser = clap::value_parser!(u64).range(1..))]
    pub chunk_size: u64,
}

/// What `ward redact` reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Plain text, one record per line; redacted text out.
    Text,
    /// JSON lines; redacted JSON lines out (compact, keys kept).
    Jsonl,
    /// Plain text in; findings out: `{"line":N,"start":B,"end":B,"type":"<kind>"}` with a 0-based
    /// line and UTF-8 byte offsets (end exclusive).
    Spans,
}

/// Format of the `--report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// A small table.
    Table,
    /// One JSON object.
    Json,
}

impl Format {
    fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Jsonl => "jsonl",
            Format::Spans => "spans",
        }
    }
}

/// Big enough that per-chunk costs (a channel message, an allocation) vanish, small enough that
/// the last chunks of a small file still spread over every worker.
const DEFAULT_CHUNK: u64 = 256 * 1024;
/// Chunks allowed to exist per worker: one being redacted, the others queued or waiting to be
/// written in order.
const IN_FLIGHT_PER_JOB: usize = 4;
/// The engine scans at most 32 KiB of a private-key body; a multi-line block is followed (and a
/// chunk kept whole around it) up to this many bytes.
const PEM_WINDOW: usize = 40 * 1024;
/// Largest single `read`: a pipe holds 64 KiB, so a shorter answer means the input is idle.
const MAX_READ: usize = 64 * 1024;

/// Runs `ward redact`.
pub fn run(args: RedactArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let profile: Profile = args.profile.parse()?;
    let mut config = RedactConfig::profile(profile);
    config.allow.values = args.allow.clone();
    config.allow.email_domains = args.allow_email_domains.clone();
    config.allow.test_cards = args.allow_test_cards;
    let redactor = Redactor::new(&config).context("invalid redaction settings")?;
    let jobs = match args.jobs {
        Some(n) => usize::from(n),
        None => thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let chunk_size = usize::try_from(args.chunk_size).unwrap_or(usize::MAX);

    let outcome = redact_stream(
        &redactor,
        args.format,
        jobs,
        chunk_size,
        io::stdin().lock(),
        io::stdout(),
    )?;
    if outcome.broken_pipe {
        // The reader of our output went away (`ward redact | head`): nothing left to say.
        return Ok(());
    }
    let seconds = started.elapsed().as_secs_f64();

    if args.report || args.report_format.is_some() {
        let text = match args.report_format.unwrap_or(ReportFormat::Table) {
            ReportFormat::Table => {
                report_table(&outcome.stats, profile, args.format, jobs, seconds)
            }
            ReportFormat::Json => report_json(&outcome.stats, profile, args.format, jobs, seconds),
        };
        // A closed stderr must not turn a successful run into a panic.
        let _ = io::stderr().write_all(text.as_bytes());
    }
    let total = outcome.stats.report.total();
    if args.check && total > 0 {
        let kinds: Vec<String> = outcome
            .stats
            .report
            .counts()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        bail!(
            "--check: found {total} value(s) to redact ({} credential(s)) in {} line(s): {}",
            credential_count(&outcome.stats.report),
            outcome.stats.lines,
            kinds.join(", ")
        );
    }
    Ok(())
}

/// What a run saw.
#[derive(Debug, Default)]
struct Stats {
    report: Report,
    lines: u64,
    bytes: u64,
    /// Lines decoded lossily because they were not valid UTF-8.
    invalid_utf8: u64,
    /// `jsonl`: non-blank lines that were not JSON (redacted as text).
    non_json: u64,
}

impl Stats {
    fn merge(&mut self, other: &Stats) {
        self.report.merge(&other.report);
        self.lines += other.lines;
        self.bytes += other.bytes;
        self.invalid_utf8 += other.invalid_utf8;
        self.non_json += other.non_json;
    }
}

#[derive(Debug)]
struct Outcome {
    stats: Stats,
    /// The output was closed early; the rest of the input was not processed.
    broken_pipe: bool,
}

struct Chunk {
    seq: u64,
    first_line: u64,
    data: Vec<u8>,
}

struct Done {
    seq: u64,
    out: Vec<u8>,
}

/// Redacts `input` into `output` with `jobs` worker threads, preserving input order.
fn redact_stream<R: Read, W: Write + Send>(
    redactor: &Redactor,
    format: Format,
    jobs: usize,
    chunk_size: usize,
    mut input: R,
    mut output: W,
) -> anyhow::Result<Outcome> {
    let jobs = jobs.max(1);
    let in_flight = jobs.saturating_mul(IN_FLIGHT_PER_JOB);
    let (slot_tx, slot_rx) = sync_channel::<()>(in_flight);
    let (work_tx, work_rx) = sync_channel::<Chunk>(jobs);
    let work_rx = Arc::new(Mutex::new(work_rx));
    let (done_tx, done_rx) = sync_channel::<Done>(in_flight);

    thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                let work_rx = Arc::clone(&work_rx);
                let done_tx = done_tx.clone();
                scope.spawn(move || worker(redactor, format, &work_rx, &done_tx))
            })
            .collect();
        // Only the workers hold the queues' ends from here on, so that when they stop (the
        // writer has gone) a reader blocked on a full work queue is released.
        drop(work_rx);
        drop(done_tx);
        let writer = scope.spawn(move || write_in_order(&mut output, done_rx, slot_rx));

        let read = read_chunks(&mut input, chunk_size, &slot_tx, &work_tx);
        // Closing the work queue lets the workers finish, which closes the result queue and
        // ends the writer.
        drop(work_tx);
        drop(slot_tx);
        let mut stats = Stats::default();
        for w in workers {
            match w.join() {
                Ok(s) => stats.merge(&s),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        let written = match writer.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let broken_pipe = match written {
            Ok(()) => false,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => true,
            Err(e) => return Err(anyhow::Error::new(e).context("writing the output")),
        };
        let (lines, bytes) = read.context("reading the input")?;
        stats.lines = lines;
        stats.bytes = bytes;
        Ok(Outcome { stats, broken_pipe })
    })
}

/// Reads `input` in chunks of whole lines and queues them. Returns (lines, bytes) read; stops
/// early, without error, when the writer has gone (broken pipe).
///
/// A chunk is dispatched when it reaches `chunk_size`, or earlier when the input has nothing
/// more for the moment (a read returned less than asked): a filter behind `tail -F` must pass
/// each line on as it comes instead of waiting for a full chunk.
fn read_chunks<R: Read>(
    input: &mut R,
    chunk_size: usize,
    slots: &SyncSender<()>,
    work: &SyncSender<Chunk>,
) -> io::Result<(u64, u64)> {
    let mut buf: Vec<u8> = Vec::new();
    let mut eof = false;
    let (mut lines, mut bytes, mut seq) = (0u64, 0u64, 0u64);
    let mut want = chunk_size;
    loop {
        let mut idle = false;
        while !eof && !idle && buf.len() < want {
            let ask = (want - buf.len()).min(MAX_READ);
            let n = read_some(input, &mut buf, ask)?;
            eof = n == 0;
            idle = n < ask;
        }
        let cut = if eof {
            buf.len()
        } else {
            match cut_point(&buf) {
                Some(p) => p,
                None => {
                    // No complete line yet, or a line (or a private-key block) longer than
                    // the chunk: keep reading.
                    if buf.len() >= want {
                        want = buf.len().saturating_add(chunk_size);
                    }
                    continue;
                }
            }
        };
        want = chunk_size;
        if cut == 0 {
            return Ok((lines, bytes));
        }
        let rest = buf[cut..].to_vec();
        buf.truncate(cut);
        let data = std::mem::replace(&mut buf, rest);
        let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
        let ends_open = data.last() != Some(&b'\n');
        // Take a slot first: this is what bounds the chunks in memory.
        if slots.send(()).is_err() {
            return Ok((lines, bytes));
        }
        let len = data.len() as u64;
        let chunk = Chunk {
            seq,
            first_line: lines,
            data,
        };
        if work.send(chunk).is_err() {
            return Ok((lines, bytes));
        }
        bytes += len;
        lines += newlines + u64::from(ends_open);
        seq += 1;
        if eof && buf.is_empty() {
            return Ok((lines, bytes));
        }
    }
}

/// One `read` of at most `ask` bytes appended to `buf` (retried when interrupted by a signal).
fn read_some<R: Read>(input: &mut R, buf: &mut Vec<u8>, ask: usize) -> io::Result<usize> {
    let len = buf.len();
    buf.resize(len + ask, 0);
    loop {
        match input.read(&mut buf[len..]) {
            Ok(n) => {
                buf.truncate(len + n);
                return Ok(n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                buf.truncate(len);
                return Err(e);
            }
        }
    }
}

/// Where to end a chunk taken from `buf` (after a `\n`), or `None` when more input is needed.
/// Never inside a private-key block that spans lines.
fn cut_point(buf: &[u8]) -> Option<usize> {
    let cut = buf.iter().rposition(|&b| b == b'\n')? + 1;
    let window = cut.saturating_sub(PEM_WINDOW);
    let Some(begin) = rfind(&buf[window..cut], b"-----BEGIN ").map(|p| window + p) else {
        return Some(cut);
    };
    if find(&buf[begin..cut], b"-----END").is_some() {
        return Some(cut);
    }
    // An unterminated block at the cut: extend the chunk to the line holding its END.
    match find(&buf[begin..], b"-----END") {
        Some(end) => buf[begin + end..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|nl| begin + end + nl + 1),
        None if buf.len() - begin < PEM_WINDOW => None,
        // No END within the engine's limit: the block is not followed further anyway.
        None => Some(cut),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w[0] == needle[0] && w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .rposition(|w| w[0] == needle[0] && w == needle)
}

/// Writes results in input order; gives a slot back per written chunk.
fn write_in_order<W: Write>(
    output: &mut W,
    done: Receiver<Done>,
    slots: Receiver<()>,
) -> io::Result<()> {
    let mut pending: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut next = 0u64;
    for d in done {
        pending.insert(d.seq, d.out);
        while let Some(out) = pending.remove(&next) {
            output.write_all(&out)?;
            next += 1;
            // The reader took this slot before reading the chunk, so it is there.
            let _ = slots.recv();
        }
    }
    output.flush()
}

fn worker(
    redactor: &Redactor,
    format: Format,
    work: &Mutex<Receiver<Chunk>>,
    done: &SyncSender<Done>,
) -> Stats {
    let mut stats = Stats::default();
    loop {
        // Hold the lock only to take one chunk.
        let next = match work.lock() {
            Ok(rx) => rx.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(chunk) = next else { break };
        let mut out = Vec::with_capacity(match format {
            Format::Spans => 1024,
            _ => chunk.data.len() + chunk.data.len() / 8,
        });
        redact_chunk(
            redactor,
            format,
            &chunk.data,
            chunk.first_line,
            &mut out,
            &mut stats,
        );
        if done
            .send(Done {
                seq: chunk.seq,
                out,
            })
            .is_err()
        {
            break;
        }
    }
    stats
}

/// One line of a chunk: its bytes without the terminator, and the terminator.
#[derive(Clone, Copy)]
struct Line<'a> {
    /// Without `\r\n` / `\n`.
    content: &'a [u8],
    /// `"\r\n"`, `"\n"` or `""` (the last line of the input).
    end: &'static [u8],
    /// Offset of `content` in the chunk.
    at: usize,
}

fn split_lines(data: &[u8]) -> Vec<Line<'_>> {
    let mut lines = Vec::with_capacity(data.len() / 64 + 1);
    let mut at = 0;
    while at < data.len() {
        let (raw_end, next) = match find_newline(&data[at..]) {
            Some(p) => (at + p, at + p + 1),
            None => (data.len(), data.len()),
        };
        let has_nl = next > raw_end;
        let (content_end, end): (usize, &'static [u8]) =
            if has_nl && raw_end > at && data[raw_end - 1] == b'\r' {
                (raw_end - 1, b"\r\n")
            } else if has_nl {
                (raw_end, b"\n")
            } else {
                (raw_end, b"")
            };
        lines.push(Line {
            content: &data[at..content_end],
            end,
            at,
        });
        at = next;
    }
    lines
}

/// The first `\n` in `hay`, eight bytes at a time (the scan runs over every input byte).
fn find_newline(hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut words = hay.chunks_exact(8);
    let mut base = 0;
    for w in words.by_ref() {
        let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) ^ NL;
        // A zero byte in x is a '\n' in the input (the classic has-zero-byte test).
        if x.wrapping_sub(LO) & !x & HI != 0 {
            return w.iter().position(|&b| b == b'\n').map(|p| base + p);
        }
        base += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| base + p)
}

/// The scanned text of a line: borrowed when valid UTF-8, else decoded lossily with a map back
/// to the original offsets.
enum LineText<'a> {
    Valid(&'a str),
    Lossy {
        text: String,
        /// Per decoded piece: (offset in `text`, offset in the original, valid length, invalid
        /// length in the original). Each invalid sequence is one U+FFFD (3 bytes) in `text`.
        pieces: Vec<(usize, usize, usize, usize)>,
    },
}

impl<'a> LineText<'a> {
    fn new(bytes: &'a [u8]) -> LineText<'a> {
        if let Ok(s) = std::str::from_utf8(bytes) {
            return LineText::Valid(s);
        }
        let mut text = String::with_capacity(bytes.len() + 8);
        let mut pieces = Vec::new();
        let mut orig = 0;
        for chunk in bytes.utf8_chunks() {
            let (valid, invalid) = (chunk.valid(), chunk.invalid());
            pieces.push((text.len(), orig, valid.len(), invalid.len()));
            text.push_str(valid);
            if !invalid.is_empty() {
                text.push(char::REPLACEMENT_CHARACTER);
            }
            orig += valid.len() + invalid.len();
        }
        LineText::Lossy { text, pieces }
    }

    fn as_str(&self) -> &str {
        match self {
            LineText::Valid(s) => s,
            LineText::Lossy { text, .. } => text,
        }
    }

    /// Maps an offset in [`Self::as_str`] (on a `char` boundary) to the original bytes.
    fn original_offset(&self, off: usize) -> usize {
        let LineText::Lossy { pieces, .. } = self else {
            return off;
        };
        let mut last = 0;
        for &(text_at, orig_at, valid, invalid) in pieces {
            if off <= text_at + valid {
                return orig_at + (off - text_at);
            }
            // Past the valid part: the offset is at or after the replacement character.
            last = orig_at + valid + invalid;
            if off <= text_at + valid + char::REPLACEMENT_CHARACTER.len_utf8() {
                return last;
            }
        }
        last
    }
}

fn redact_chunk(
    redactor: &Redactor,
    format: Format,
    data: &[u8],
    first_line: u64,
    out: &mut Vec<u8>,
    stats: &mut Stats,
) {
    let lines = split_lines(data);
    let mut i = 0;
    let mut scratch = Report::new();
    while i < lines.len() {
        let line = lines[i];
        if format == Format::Jsonl && json_line(redactor, line, out, stats, &mut scratch) {
            i += 1;
            continue;
        }
        let text = LineText::new(line.content);
        if matches!(text, LineText::Lossy { .. }) {
            stats.invalid_utf8 += 1;
        }
        // One scan per line: `redact_str` returns the findings with the text.
        let (findings, redacted) = match format {
            Format::Spans => (redactor.find(text.as_str()), None),
            Format::Text | Format::Jsonl => {
                let r = redactor.redact_str(text.as_str());
                (r.findings, Some(r.text))
            }
        };
        // A private key whose block continues on the next lines: redact the block as one text.
        if let LineText::Valid(s) = text
            && let Some(last) = findings.last()
            && opens_block(s, last)
            && let Some(n) = block_lines(&lines[i + 1..])
            && let Ok(block) =
                std::str::from_utf8(&data[line.at..lines[i + n].at + lines[i + n].content.len()])
        {
            let found = emit_block(redactor, format, block, first_line + i as u64, out);
            stats.report.record(&found, None);
            if format != Format::Spans {
                out.extend_from_slice(lines[i + n].end);
            }
            if format == Format::Jsonl {
                // The first line was counted by `json_line`.
                stats.non_json += n as u64;
            }
            i += n + 1;
            continue;
        }
        stats.report.record(&findings, None);
        match redacted {
            None => {
                for f in &findings {
                    let (start, end) = (text.original_offset(f.start), text.original_offset(f.end));
                    write_span(out, first_line + i as u64, start, end, &f.kind);
                }
            }
            Some(red) => {
                if findings.is_empty() && matches!(text, LineText::Valid(_)) {
                    out.extend_from_slice(line.content);
                } else {
                    out.extend_from_slice(red.as_bytes());
                }
                out.extend_from_slice(line.end);
            }
        }
        i += 1;
    }
}

/// `jsonl`: redacts a line that is JSON and returns true; returns false (after counting it) for
/// a line that must be redacted as text. Blank lines are copied.
fn json_line(
    redactor: &Redactor,
    line: Line<'_>,
    out: &mut Vec<u8>,
    stats: &mut Stats,
    scratch: &mut Report,
) -> bool {
    if line.content.iter().all(u8::is_ascii_whitespace) {
        out.extend_from_slice(line.content);
        out.extend_from_slice(line.end);
        return true;
    }
    let Ok(mut value) = serde_json::from_slice::<Value>(line.content) else {
        stats.non_json += 1;
        return false;
    };
    scratch.clear();
    redactor.redact_json(&mut value, scratch);
    if scratch.is_empty() {
        // Nothing found: the line goes out exactly as it came (spacing, key order, numbers).
        out.extend_from_slice(line.content);
    } else {
        // Serialising a `Value` into a Vec cannot fail (string keys, no I/O).
        let _ = serde_json::to_writer(&mut *out, &value);
        stats.report.merge(scratch);
    }
    out.extend_from_slice(line.end);
    true
}

/// Whether `last`, the last finding of a line, is a private key whose block runs to the end of
/// the line without its END marker (so its body is on the following lines).
fn opens_block(line: &str, last: &Finding) -> bool {
    last.kind == Kind::PrivateKey
        && last.end == line.len()
        && !line[last.start..].contains("-----END")
}

/// How many of `rest` continue a private-key block: base64 body lines and `Name: value` headers,
/// up to the line with the END marker. `None` when not even one line continues it.
fn block_lines(rest: &[Line<'_>]) -> Option<usize> {
    let mut len = 0;
    let mut last_body = None;
    for (k, line) in rest.iter().enumerate() {
        len += line.content.len() + line.end.len();
        if len > PEM_WINDOW {
            break;
        }
        let c = line.content;
        if find(c, b"-----END").is_some() {
            return Some(k + 1);
        }
        if c.is_empty() {
            // Encrypted PEM has a blank line between its headers and its body.
            continue;
        }
        let body = c
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        // The headers of an encrypted PEM key (RFC 1421); their values stay within what the
        // engine reads as a key body.
        let header = [b"Proc-Type: ".as_slice(), b"DEK-Info: "]
            .iter()
            .any(|h| c.starts_with(h))
            && c.iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b':' | b',' | b'-' | b' '));
        if !(body || header) {
            break;
        }
        last_body = Some(k + 1);
    }
    last_body
}

/// Writes a block of several lines (joined by their own terminators) redacted as one text;
/// returns its findings.
fn emit_block(
    redactor: &Redactor,
    format: Format,
    block: &str,
    first_line: u64,
    out: &mut Vec<u8>,
) -> Vec<Finding> {
    match format {
        Format::Text | Format::Jsonl => {
            let r = redactor.redact_str(block);
            out.extend_from_slice(r.text.as_bytes());
            r.findings
        }
        Format::Spans => {
            // One span per line piece of each finding, so every span stays inside its line.
            let mut line_starts = vec![0usize];
            line_starts.extend(block.match_indices('\n').map(|(p, _)| p + 1));
            let findings = redactor.find(block);
            for f in &findings {
                for (n, &ls) in line_starts.iter().enumerate() {
                    let le = line_starts.get(n + 1).map_or(block.len(), |&next| next - 1);
                    let le = if block[ls..le].ends_with('\r') {
                        le - 1
                    } else {
                        le
                    };
                    let (s, e) = (f.start.max(ls), f.end.min(le));
                    if s < e {
                        write_span(out, first_line + n as u64, s - ls, e - ls, &f.kind);
                    }
                }
            }
            findings
        }
    }
}

fn write_span(out: &mut Vec<u8>, line: u64, start: usize, end: usize, kind: &Kind) {
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "{{\"line\":{line},\"start\":{start},\"end\":{end},\"type\":"
    );
    let _ = serde_json::to_writer(&mut *out, kind.as_str());
    out.extend_from_slice(b"}\n");
}

fn credential_count(report: &Report) -> u64 {
    report
        .counts()
        .filter(|(k, _)| k.is_credential())
        .map(|(_, n)| n)
        .sum()
}

fn report_table(
    stats: &Stats,
    profile: Profile,
    format: Format,
    jobs: usize,
    seconds: f64,
) -> String {
    let mut s = String::new();
    let width = stats
        .report
        .counts()
        .map(|(k, _)| k.as_str().len())
        .max()
        .unwrap_or(0)
        .max("total".len());
    let _ = writeln!(s, "{:<width$}  {:>9}", "type", "count");
    for (kind, n) in stats.report.counts() {
        let _ = writeln!(s, "{:<width$}  {n:>9}", kind.as_str());
    }
    let total = stats.report.total();
    let _ = writeln!(
        s,
        "{:<width$}  {total:>9}  ({} credentials)",
        "total",
        credential_count(&stats.report)
    );
    let _ = writeln!(
        s,
        "{} lines, {:.2} MB in {:.3} s = {:.1} MB/s (profile {profile}, format {}, {jobs} jobs)",
        stats.lines,
        stats.bytes as f64 / 1e6,
        seconds,
        mb_per_s(stats.bytes, seconds),
        format.as_str()
    );
    if stats.invalid_utf8 > 0 {
        let _ = writeln!(
            s,
            "{} lines were not valid UTF-8 (decoded lossily, invalid bytes became U+FFFD)",
            stats.invalid_utf8
        );
    }
    if stats.non_json > 0 {
        let _ = writeln!(
            s,
            "{} lines were not JSON (redacted as text)",
            stats.non_json
        );
    }
    if stats.report.dropped() > 0 {
        let _ = writeln!(s, "{} attributes dropped", stats.report.dropped());
    }
    s
}

fn report_json(
    stats: &Stats,
    profile: Profile,
    format: Format,
    jobs: usize,
    seconds: f64,
) -> String {
    let counts: serde_json::Map<String, Value> = stats
        .report
        .counts()
        .map(|(k, n)| (k.as_str().to_string(), Value::from(n)))
        .collect();
    let v = serde_json::json!({
        "profile": profile.as_str(),
        "format": format.as_str(),
        "jobs": jobs,
        "lines": stats.lines,
        "bytes": stats.bytes,
        "seconds": seconds,
        "mb_per_s": mb_per_s(stats.bytes, seconds),
        "total": stats.report.total(),
        "credentials": credential_count(&stats.report),
        "counts": counts,
        "invalid_utf8_lines": stats.invalid_utf8,
        "non_json_lines": stats.non_json,
        "dropped_attributes": stats.report.dropped(),
    });
    format!("{v}\n")
}

fn mb_per_s(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        bytes as f64 / 1e6 / seconds
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_on(input: &[u8], format: Format, jobs: usize, chunk: usize) -> (Vec<u8>, Stats) {
        let r = Redactor::builtin(Profile::Default);
        let mut out = Vec::new();
        let o = redact_stream(&r, format, jobs, chunk, input, &mut out).unwrap();
        assert!(!o.broken_pipe);
        (out, o.stats)
    }

    #[test]
    fn newline_search_matches_naive() {
        let hay = b"0123456789abcdef\nxyz\n".repeat(3);
        for start in 0..hay.len() {
            assert_eq!(
                find_newline(&hay[start..]),
                hay[start..].iter().position(|&b| b == b'\n'),
                "{start}"
            );
        }
        assert_eq!(find_newline(b""), None);
        assert_eq!(find_newline(&[0x8a; 20]), None);
    }

    #[test]
    fn tiny_chunks_give_the_same_output_in_order() {
        let mut input = Vec::new();
        for i in 0..500 {
            writeln!(input, "line {i} mail user{i}@example.com ok").unwrap();
        }
        input.extend_from_slice(b"last line without newline jane@example.com");
        let (one, s1) = run_on(&input, Format::Text, 1, 1 << 20);
        let (many, s2) = run_on(&input, Format::Text, 3, 7);
        assert_eq!(one, many);
        assert_eq!((s1.lines, s2.lines), (501, 501));
        assert_eq!(s2.report.count(&Kind::Email), 501);
        assert!(one.ends_with(b"without newline [EMAIL]"));
        let (spans, _) = run_on(&input, Format::Spans, 3, 7);
        let last = String::from_utf8(spans)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_string();
        assert_eq!(last, r#"{"line":500,"start":26,"end":42,"type":"email"}"#);
    }

    #[test]
    fn lossy_lines_map_spans_to_original_bytes() {
        let input = b"caf\xe9 jane@example.com \xff\xfe x\n";
        let (out, stats) = run_on(input, Format::Spans, 1, 1024);
        assert_eq!(stats.invalid_utf8, 1);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"line\":0,\"start\":5,\"end\":21,\"type\":\"email\"}\n"
        );
        assert_eq!(&input[5..21], b"jane@example.com");
        let (out, _) = run_on(input, Format::Text, 1, 1024);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "caf\u{fffd} [EMAIL] \u{fffd}\u{fffd} x\n"
        );
    }

    const PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi+L0t5OQj0vMsVc5n6v1i3b4Jq\nJ0xGz3m8fVbYd1Q3c2FlZ2VhcmUgc2VjcmV0IGtleSBtYXRlcmlhbCBoZXJlIQ==\n-----END RSA PRIVATE KEY-----\n";

    #[test]
    fn multi_line_private_key_is_redacted_whole_even_across_chunks() {
        let mut input = b"before\r\n".repeat(50);
        input.extend_from_slice(PEM.as_bytes());
        input.extend_from_slice(b"after\n");
        for chunk in [5, 64, 1 << 20] {
            let (out, stats) = run_on(&input, Format::Text, 2, chunk);
            let out = String::from_utf8(out).unwrap();
            assert!(
                !out.contains("MIIE") && !out.contains("JwxGz"),
                "{chunk}: {out}"
            );
            assert!(
                out.ends_with("before\r\n[PRIVATE_KEY]\nafter\n"),
                "{chunk}: {out}"
            );
            assert_eq!(stats.report.count(&Kind::PrivateKey), 1);
            let (spans, _) = run_on(&input, Format::Spans, 2, chunk);
            let spans = String::from_utf8(spans).unwrap();
            assert_eq!(spans.lines().count(), 4, "{spans}");
            assert!(spans.contains(r#"{"line":51,"start":0,"end":64,"type":"private_key"}"#));
        }
    }

    #[test]
    fn unterminated_key_block_stops_at_the_first_line_that_is_not_base64() {
        let input = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nnot base64: plain text\n";
        let (out, _) = run_on(input.as_bytes(), Format::Text, 1, 1024);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[PRIVATE_KEY]\nnot base64: plain text\n"
        );
    }

    #[test]
    fn cut_point_waits_for_the_end_of_a_key_block() {
        let buf = b"x\n-----BEGIN EC PRIVATE KEY-----\nAAAA\n";
        assert_eq!(cut_point(buf), None);
        let buf = b"x\n-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\ny";
        assert_eq!(cut_point(buf), Some(buf.len() - 1));
        assert_eq!(cut_point(b"no newline"), None);
        assert_eq!(cut_point(b"a\nb"), Some(2));
    }

    #[test]
    fn jsonl_redacts_json_and_keeps_clean_lines_byte_for_byte() {
        let input = b"{\"b\": 1,  \"a\": \"ok\"}\n{\"user\":{\"email\":\"jane@example.com\",\"password\":\"hunter2\"}}\nnot json jane@example.com\n\n";
        let (out, stats) = run_on(input, Format::Jsonl, 2, 16);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"b\": 1,  \"a\": \"ok\"}\n{\"user\":{\"email\":\"[EMAIL]\",\"password\":\"[PASSWORD]\"}}\nnot json [EMAIL]\n\n"
        );
        assert_eq!(stats.non_json, 1);
        assert_eq!(stats.report.count(&Kind::Email), 2);
        assert_eq!(stats.report.count(&Kind::PasswordAssignment), 1);
    }

    /// A writer that fails like a closed pipe after some bytes.
    struct Closing(usize);

    impl Write for Closing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let n = buf.len().min(self.0);
            self.0 -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Endless input, like `yes`.
    struct Endless;

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = if i % 16 == 15 { b'\n' } else { b'y' };
            }
            Ok(buf.len())
        }
    }

    #[test]
    fn broken_pipe_stops_quietly_even_on_endless_input() {
        let r = Redactor::builtin(Profile::Default);
        let o = redact_stream(&r, Format::Text, 2, 4096, Endless, Closing(10_000)).unwrap();
        assert!(o.broken_pipe);
    }
}
