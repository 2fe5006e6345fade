//! `ward audit query|export|verify|erase|report`: the tamper-evident audit trail.
//!
//! Everything but `verify` goes through the API. `verify` checks the hash chain and the
//! checkpoint signatures itself: of the local data directory (read-only, also while
//! `ward serve` runs), or of an export file, without trusting the server that made it.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use serde_json::{Value, json};
use ward_audit::{CheckpointSigner, Entry, ExportLine, PublicKey, TenantId, Verdict, Verifier};
use ward_store::audit::{AuditReader, integrity_line};

use super::{ConfigArg, Remote};
use crate::client::Client;

/// Exit status of `ward audit verify` when the trail is broken.
const EXIT_BROKEN: u8 = 1;
/// Exit status of `ward audit verify` when it could not verify (usage, I/O).
const EXIT_ERROR: u8 = 2;

/// Audit trail commands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Entries of the audit trail, newest first (personal fields opened unless erased).
    #[command(
        after_help = "Examples:\n  ward audit query --agent support-bot --from 24h\n  ward audit query --user 123 --all --json | jq .action\n  ward audit query --resource 'crm/customer/*' --outcome denied\n  ward audit query --action key.create --from 2026-01-01T00:00:00Z --to 1d\n\nTimes: a duration ago (`15m`, `7d`), RFC 3339 or Unix time.\nNeeds a key with the audit:read scope."
    )]
    Query(QueryArgs),
    /// Stream the trail as JSON lines (entries and signed checkpoints) for offline checks.
    #[command(
        after_help = "Examples:\n  ward audit export -o audit.jsonl\n  ward audit export --from 30d -o last-month.jsonl.zst      # zstd-compressed\n  ward audit export --from-seq 1000 --to-seq 2000 | jq -c 'select(.record==\"entry\")'\n  ward audit verify --file audit.jsonl --url $WARD_URL\n  python3 docs/examples/verify_audit.py audit.jsonl <public key hex>\n\nA file is written as FILE.tmp and renamed when complete. Needs audit:read."
    )]
    Export(ExportArgs),
    /// Check the hash chain and checkpoint signatures of the local data directory or of an
    /// export file.
    #[command(
        after_help = "Examples:\n  ward audit verify                                # every tenant of the data directory\n  ward audit verify --data-dir /var/lib/ward --tenant team-a\n  ward audit verify --public-key 3b6a27bc…         # instead of <data_dir>/audit-signing.key\n  ward audit verify --file audit.jsonl --url https://ward.example.com\n  ward audit verify --file audit-team-a-000000000001-000000001000.jsonl.zst --public-key 3b6a27bc…\n  ward audit verify --json\n\nThe data directory is read read-only, also while `ward serve` runs, against the keys Ward signs\nand trusts (audit.signing_key_file, default <data_dir>/audit-signing.key, and\naudit.trusted_public_keys) unless --public-key is given (repeat it for older keys). An export\nneeds --public-key, or --url to fetch the trusted keys from /api/v1/audit/public-key.\nExit status: 0 intact, 1 broken (the first inconsistency is named), 2 could not verify."
    )]
    Verify(VerifyArgs),
    /// Erase a person: destroy the key their personal fields are sealed with, keeping the
    /// chain verifiable.
    #[command(
        after_help = "Examples:\n  ward audit erase --subject user:123\n  ward audit erase --user 123 --json\n\nThe entries stay in the chain (it still verifies); their sealed fields can never be read\nagain, and the erasure itself is recorded as an entry. Needs an admin key."
    )]
    Erase(EraseArgs),
    /// A compliance report over a period: activity, integrity, signing, retention, erasures.
    #[command(
        after_help = "Examples:\n  ward audit report --from 30d -o audit-report.md\n  ward audit report --from 2026-01-01T00:00:00Z --to 2026-04-01T00:00:00Z --format json\n\nNeeds audit:read."
    )]
    Report(ReportArgs),
}

/// Options of `ward audit query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Only entries by this agent.
    #[arg(long)]
    agent: Option<String>,
    /// Only entries made on behalf of this user id (none once the user is erased).
    #[arg(long)]
    user: Option<String>,
    /// Only this action, e.g. `tool.call`.
    #[arg(long)]
    action: Option<String>,
    /// Only this resource; a trailing `*` matches a prefix (`crm/customer/*`).
    #[arg(long)]
    resource: Option<String>,
    /// Only this outcome.
    #[arg(long, value_parser = ["success", "failure", "denied", "error"])]
    outcome: Option<String>,
    /// Start (inclusive): a duration ago (`15m`, `7d`), RFC 3339 or Unix time.
    #[arg(long)]
    from: Option<String>,
    /// End (exclusive).
    #[arg(long)]
    to: Option<String>,
    /// Most entries to print (pages are fetched as needed).
    #[arg(long, default_value_t = 100, conflicts_with = "all")]
    limit: usize,
    /// Print every matching entry, following the pages to the end.
    #[arg(long)]
    all: bool,
    /// Print one JSON object per line (the API's entries).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: Remote,
}

/// Options of `ward audit export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Start (append time, inclusive): a duration ago, RFC 3339 or Unix time.
    #[arg(long, conflicts_with_all = ["from_seq", "to_seq"])]
    from: Option<String>,
    /// End (append time, exclusive).
    #[arg(long, conflicts_with_all = ["from_seq", "to_seq"])]
    to: Option<String>,
    /// First seq (inclusive).
    #[arg(long)]
    from_seq: Option<u64>,
    /// Last seq (inclusive).
    #[arg(long)]
    to_seq: Option<u64>,
    /// Write to this file instead of stdout (`.zst` at the end: zstd-compressed).
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    #[command(flatten)]
    remote: Remote,
}

/// Options of `ward audit verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Verify this export (`.jsonl`, or zstd-compressed `.jsonl.zst`) instead of the data
    /// directory.
    #[arg(long, conflicts_with = "data_dir")]
    file: Option<PathBuf>,
    /// Only this tenant. Default: every tenant of the data directory; for --file, the tenant
    /// of its first line.
    #[arg(long)]
    tenant: Option<String>,
    /// A trusted checkpoint public key, 64 hex digits (repeat for older keys).
    #[arg(long = "public-key", value_name = "HEX")]
    public_keys: Vec<String>,
    /// Fetch the trusted keys from this Ward's /api/v1/audit/public-key when no --public-key
    /// is given and no signing key is at hand.
    #[arg(long, env = "WARD_URL")]
    url: Option<String>,
    /// Data directory (default: `data_dir` of the configuration, as `ward serve` finds it).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArg,
    /// Print the verdict of each tenant as one JSON object per line.
    #[arg(long)]
    json: bool,
}

/// Options of `ward audit erase`.
#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The subject whose key is destroyed, e.g. `user:123`.
    #[arg(long, required_unless_present = "user", conflicts_with = "user")]
    subject: Option<String>,
    /// Shorthand for `--subject user:<ID>`.
    #[arg(long, value_name = "ID")]
    user: Option<String>,
    /// Print the API's JSON answer.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: Remote,
}

/// Options of `ward audit report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Start of the period: a duration ago, RFC 3339 or Unix time.
    #[arg(long)]
    from: Option<String>,
    /// End of the period (exclusive).
    #[arg(long)]
    to: Option<String>,
    /// Output format.
    #[arg(long, default_value = "markdown", value_parser = ["markdown", "json"])]
    format: String,
    /// Write to this file instead of stdout.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    #[command(flatten)]
    remote: Remote,
}

/// Runs an audit command; the exit status is the command's own (see `verify`).
pub async fn run(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Query(args) => query(args).await,
        AuditCommand::Export(args) => export(args).await,
        AuditCommand::Verify(args) => {
            return Ok(match verify(args).await {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(EXIT_BROKEN),
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(EXIT_ERROR)
                }
            });
        }
        AuditCommand::Erase(args) => erase(args).await,
        AuditCommand::Report(args) => report(args).await,
    }
    .map(|()| ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// query

/// `time` of an entry to the second (`2026-01-02T03:04:05Z`).
fn short_time(entry: &Value) -> String {
    let t = entry["time"].as_str().unwrap_or("");
    t.get(..19)
        .map_or_else(|| t.to_owned(), |s| format!("{s}Z"))
}

/// The user column: the id, `(erased)` when it can no longer be read, else `-`.
fn user_cell(entry: &Value) -> String {
    match entry["on_behalf_of"].as_str() {
        Some(u) => u.to_owned(),
        None if entry["erased"] == Value::Bool(true) => "(erased)".to_owned(),
        None => "-".to_owned(),
    }
}

/// A string field of an entry, `-` when absent.
fn text(entry: &Value, field: &str) -> String {
    match &entry[field] {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// The columns of the table, in order.
const COLUMNS: [&str; 7] = [
    "SEQ", "TIME", "AGENT", "USER", "ACTION", "RESOURCE", "OUTCOME",
];

/// The table cells of an entry, in [`COLUMNS`] order.
fn query_cells(entry: &Value) -> [String; 7] {
    let mut agent = text(entry, "agent");
    if entry["kind"] != "agent" {
        agent = format!("{agent} [{}]", entry["kind"].as_str().unwrap_or("?"));
    }
    [
        entry["seq"].as_u64().unwrap_or(0).to_string(),
        short_time(entry),
        agent,
        user_cell(entry),
        text(entry, "action"),
        text(entry, "resource"),
        text(entry, "outcome"),
    ]
}

/// Prints rows aligned on `widths` (grown to fit them); the seq is right-aligned.
fn print_table(widths: &mut [usize; 7], rows: &[[String; 7]], header: bool) {
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 7]| {
        let mut out = format!("{:>w$}", cells[0], w = widths[0]);
        for (i, cell) in cells.iter().enumerate().skip(1) {
            if i + 1 == cells.len() {
                out.push_str(&format!("  {cell}"));
            } else {
                out.push_str(&format!("  {cell:<w$}", w = widths[i]));
            }
        }
        out
    };
    if header {
        println!("{}", line(COLUMNS));
    }
    for row in rows {
        println!("{}", line(std::array::from_fn(|i| row[i].as_str())));
    }
}

async fn query(args: QueryArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.remote)?;
    let mut filters: Vec<(&str, String)> = Vec::new();
    for (name, value) in [
        ("agent", &args.agent),
        ("user", &args.user),
        ("action", &args.action),
        ("resource", &args.resource),
        ("outcome", &args.outcome),
        ("from", &args.from),
        ("to", &args.to),
    ] {
        if let Some(v) = value {
            filters.push((name, v.clone()));
        }
    }
    let wanted = if args.all { usize::MAX } else { args.limit };
    let mut cursor: Option<String> = None;
    let mut printed = 0usize;
    // Columns as wide as their headers, widened by each page as it is printed.
    let mut widths: [usize; 7] = COLUMNS.map(str::len);
    widths[1] = 20;
    while printed < wanted {
        let mut params = filters.clone();
        params.push(("limit", (wanted - printed).clamp(1, 1000).to_string()));
        if let Some(c) = &cursor {
            params.push(("cursor", c.clone()));
        }
        let page: Value = client
            .json(client.request(Method::GET, "/api/v1/audit").query(&params))
            .await?;
        let entries = page["entries"]
            .as_array()
            .ok_or_else(|| anyhow!("Ward answered without `entries`"))?;
        let entries = &entries[..entries.len().min(wanted - printed)];
        if args.json {
            for entry in entries {
                println!("{entry}");
            }
        } else {
            let rows: Vec<[String; 7]> = entries.iter().map(query_cells).collect();
            print_table(&mut widths, &rows, printed == 0);
        }
        printed += entries.len();
        match page["next_cursor"].as_str() {
            Some(c) if !entries.is_empty() => cursor = Some(c.to_owned()),
            _ => return Ok(()),
        }
    }
    if cursor.is_some() {
        eprintln!("(more entries match: raise --limit, or pass --all)");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// export and report: writing files

/// Where a command's output goes: stdout, or `FILE.tmp` renamed to `FILE` once complete.
/// A `.zst` file is zstd-compressed on the way.
enum Output {
    Stdout(BufWriter<std::io::Stdout>),
    File {
        out: FileWriter,
        tmp: PathBuf,
        path: PathBuf,
    },
}

/// A file being written, plain or compressed.
enum FileWriter {
    Plain(BufWriter<File>),
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<File>>),
}

/// zstd level of compressed exports (as retention's archives).
const ZSTD_LEVEL: i32 = 6;

impl Output {
    /// Opens `path` (as `path.tmp`), or stdout.
    fn open(path: Option<&Path>) -> anyhow::Result<Output> {
        let Some(path) = path else {
            return Ok(Output::Stdout(BufWriter::with_capacity(
                1 << 16,
                std::io::stdout(),
            )));
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let file =
            File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let file = BufWriter::with_capacity(1 << 16, file);
        let out = if path.extension().is_some_and(|e| e == "zst") {
            FileWriter::Zstd(zstd::stream::write::Encoder::new(file, ZSTD_LEVEL)?)
        } else {
            FileWriter::Plain(file)
        };
        Ok(Output::File {
            out,
            tmp,
            path: path.to_path_buf(),
        })
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Output::Stdout(w) => w.write_all(bytes),
            Output::File {
                out: FileWriter::Plain(w),
                ..
            } => w.write_all(bytes),
            Output::File {
                out: FileWriter::Zstd(w),
                ..
            } => w.write_all(bytes),
        }
    }

    /// Flushes; a file is synced and renamed into place.
    fn finish(self) -> anyhow::Result<()> {
        match self {
            Output::Stdout(mut w) => w.flush().context("cannot write to stdout"),
            Output::File { out, tmp, path } => {
                let file = match out {
                    FileWriter::Plain(w) => w.into_inner().map_err(|e| e.into_error())?,
                    FileWriter::Zstd(w) => w.finish()?.into_inner().map_err(|e| e.into_error())?,
                };
                file.sync_all()?;
                std::fs::rename(&tmp, &path).with_context(|| {
                    format!("cannot rename {} to {}", tmp.display(), path.display())
                })
            }
        }
    }

    /// Removes the temporary file of an unfinished write.
    fn abandon(self) {
        if let Output::File { tmp, .. } = self {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// A spinner on stderr counting `unit`, drawn only when stderr is a terminal.
fn spinner(message: &str, unit: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {message} {{human_pos}} {unit} ({{per_sec:0}}, {{elapsed}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.remote)?;
    let mut params: Vec<(&str, String)> = Vec::new();
    params.extend(args.from.map(|v| ("from", v)));
    params.extend(args.to.map(|v| ("to", v)));
    params.extend(args.from_seq.map(|v| ("from_seq", v.to_string())));
    params.extend(args.to_seq.map(|v| ("to_seq", v.to_string())));
    let response = client
        .send(
            client
                .request(Method::GET, "/api/v1/audit/export")
                .query(&params),
        )
        .await?;
    let mut out = Output::open(args.output.as_deref())?;
    let bar = spinner("exporting", "lines");
    let mut stream = response.bytes_stream();
    let mut lines = 0u64;
    let copied: anyhow::Result<()> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.context("the export stream from Ward broke off")?;
            lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            out.write_all(&chunk).context("cannot write the export")?;
            bar.set_position(lines);
        }
        Ok(())
    }
    .await;
    bar.finish_and_clear();
    if let Err(e) = copied {
        let closed_pipe = e
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe);
        if closed_pipe && args.output.is_none() {
            // `ward audit export | head`: the reader has what it wanted.
            return Ok(());
        }
        out.abandon();
        return Err(e);
    }
    out.finish()?;
    if let Some(path) = &args.output {
        eprintln!("exported {lines} lines to {}", path.display());
    }
    Ok(())
}

async fn report(args: ReportArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.remote)?;
    let mut params: Vec<(&str, String)> = vec![("format", args.format.clone())];
    params.extend(args.from.map(|v| ("from", v)));
    params.extend(args.to.map(|v| ("to", v)));
    let response = client
        .send(
            client
                .request(Method::GET, "/api/v1/audit/report")
                .query(&params),
        )
        .await?;
    let body = response
        .bytes()
        .await
        .context("the report from Ward broke off")?;
    let mut text = if args.format == "json" {
        let report: Value = serde_json::from_slice(&body)
            .context("Ward sent a report this version of the CLI does not understand")?;
        serde_json::to_string_pretty(&report)?
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let mut out = Output::open(args.output.as_deref())?;
    if let Err(e) = out.write_all(text.as_bytes()) {
        out.abandon();
        return Err(e).context("cannot write the report");
    }
    out.finish()?;
    if let Some(path) = &args.output {
        eprintln!("wrote the report to {}", path.display());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// erase

async fn erase(args: EraseArgs) -> anyhow::Result<()> {
    let subject = match (args.subject, args.user) {
        (Some(s), _) => s,
        (None, Some(u)) => format!("user:{u}"),
        (None, None) => bail!("pass --subject or --user"),
    };
    let client = Client::new(&args.remote)?;
    let erased: Value = client
        .json(
            client
                .request(Method::POST, "/api/v1/audit/erasures")
                .json(&json!({ "subject": subject })),
        )
        .await?;
    if args.json {
        println!("{erased}");
        return Ok(());
    }
    let entries = erased["entries"].as_u64().unwrap_or(0);
    println!(
        "erased {subject}: its key is destroyed; {entries} {} filed under handle {} can no longer \
         be read in clear. The erasure is recorded at seq {} (hash {}).",
        if entries == 1 { "entry" } else { "entries" },
        erased["handle"].as_str().unwrap_or("?"),
        erased["seq"].as_u64().unwrap_or(0),
        erased["hash"].as_str().unwrap_or("?"),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// verify

/// Verifies; `Ok(true)` when every verified chain is intact.
async fn verify(args: VerifyArgs) -> anyhow::Result<bool> {
    let mut keys = args
        .public_keys
        .iter()
        .map(|k| {
            PublicKey::from_hex(k).map_err(|_| anyhow!("--public-key {k:?}: not 64 hex digits"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tenant = args
        .tenant
        .as_deref()
        .map(TenantId::new)
        .transpose()
        .context("--tenant")?;
    if let Some(file) = args.file {
        if keys.is_empty() {
            let Some(url) = &args.url else {
                bail!(
                    "an export is verified against the checkpoint public key: pass --public-key \
                     HEX, or --url of the Ward that made it"
                );
            };
            keys = fetch_keys(url).await?;
        }
        let json = args.json;
        let (tenant, verdict) =
            tokio::task::spawn_blocking(move || verify_file(&file, tenant, &keys)).await??;
        return Ok(report_verdict(&tenant, &verdict, json));
    }

    let config = args.config.load()?;
    let dir = args.data_dir.unwrap_or_else(|| config.data_dir.clone());
    if keys.is_empty() {
        // The keys `ward serve` signs and trusts: audit.signing_key_file (default
        // <data_dir>/audit-signing.key) and audit.trusted_public_keys.
        let settings = config.audit.settings(&dir)?;
        let key_file = settings.signing_key_path;
        match std::fs::read(&key_file) {
            Ok(bytes) => {
                keys.push(
                    CheckpointSigner::from_pkcs8(&bytes)
                        .with_context(|| key_file.display().to_string())?
                        .public_key()
                        .clone(),
                );
                keys.extend(settings.trusted_public_keys);
            }
            Err(e) => match &args.url {
                Some(url) => keys = fetch_keys(url).await?,
                None => bail!(
                    "cannot read the signing key {} ({e}): pass --public-key HEX, or --url of \
                     the running Ward",
                    key_file.display()
                ),
            },
        }
    }
    let json = args.json;
    let verdicts = tokio::task::spawn_blocking(move || verify_dir(&dir, tenant, &keys)).await??;
    let mut intact = true;
    for (tenant, verdict) in &verdicts {
        intact &= report_verdict(tenant, verdict, json);
    }
    Ok(intact)
}

/// Prints a verdict (stdout; a broken one also on stderr); true if intact.
fn report_verdict(tenant: &TenantId, verdict: &Verdict, json: bool) -> bool {
    let summary = integrity_line(verdict);
    if json {
        let mut object = serde_json::Map::new();
        object.insert("tenant".into(), json!(tenant.as_str()));
        object.insert("summary".into(), json!(summary));
        if let Ok(Value::Object(fields)) = serde_json::to_value(verdict) {
            object.extend(fields);
        }
        println!("{}", Value::Object(object));
    } else {
        println!("tenant {tenant}: {summary}");
    }
    match verdict {
        Verdict::Intact { .. } => true,
        Verdict::Broken(_) => {
            eprintln!("error: the audit trail of tenant {tenant} is {summary}");
            false
        }
    }
}

/// The trusted keys published by a Ward (current and older ones).
async fn fetch_keys(url: &str) -> anyhow::Result<Vec<PublicKey>> {
    let endpoint = format!("{}/api/v1/audit/public-key", url.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .get(&endpoint)
        .send()
        .await
        .with_context(|| format!("cannot reach Ward at {url}"))?;
    let answer: Value = crate::client::check(response)
        .await
        .with_context(|| format!("GET {endpoint}"))?
        .json()
        .await
        .context("Ward sent a public key this version of the CLI does not understand")?;
    let mut hexes: Vec<&str> = answer["public_key"].as_str().into_iter().collect();
    for k in answer["trusted"].as_array().into_iter().flatten() {
        hexes.extend(k["public_key"].as_str());
    }
    let mut keys = Vec::new();
    for h in hexes {
        let key = PublicKey::from_hex(h).map_err(|_| anyhow!("{endpoint}: bad key {h:?}"))?;
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    if keys.is_empty() {
        bail!("{endpoint} named no public key");
    }
    Ok(keys)
}

/// Verifies every tenant (or `only`) of the data directory `dir`.
fn verify_dir(
    dir: &Path,
    only: Option<TenantId>,
    keys: &[PublicKey],
) -> anyhow::Result<Vec<(TenantId, Verdict)>> {
    let reader = AuditReader::open(dir)?;
    let tenants = match only {
        Some(t) => vec![t],
        None => reader.tenants()?,
    };
    if tenants.is_empty() {
        bail!(
            "the audit trail in {} has no entries yet",
            dir.join(ward_store::audit::AUDIT_DB_FILE).display()
        );
    }
    let terminal = std::io::stderr().is_terminal();
    let mut out = Vec::with_capacity(tenants.len());
    for tenant in tenants {
        // Counting the entries takes a pass over an index: only for a bar someone sees.
        let (bar, total) = if terminal {
            let total = reader.stats(&tenant)?.entries;
            (ProgressBar::new(total), total)
        } else {
            (ProgressBar::hidden(), 0)
        };
        bar.set_style(
            ProgressStyle::with_template(
                "verifying {prefix} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} entries ({per_sec:0}, eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(tenant.to_string());
        let started = Instant::now();
        let verdict = reader
            .verify(&tenant, keys, |n| bar.set_position(n))
            .with_context(|| format!("cannot read the audit trail of tenant {tenant}"))?;
        bar.finish_and_clear();
        if terminal {
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "read {total} entries of tenant {tenant} in {secs:.2} s ({:.0} entries/s)",
                total as f64 / secs.max(1e-9)
            );
        }
        out.push((tenant, verdict));
    }
    Ok(out)
}

/// How an entry line of an export starts, as Ward writes it.
const ENTRY_LINE_START: &str = "{\"record\":\"entry\",";

/// Parses one export line. An entry line as Ward writes it is read as an [`Entry`] straight
/// away (its `record` key is ignored), which skips the buffering of the tagged enum (a
/// quarter of the time of a file verification); any other line goes through
/// [`ExportLine::parse`].
fn parse_line(text: &str) -> serde_json::Result<ExportLine> {
    if text.starts_with(ENTRY_LINE_START) {
        return serde_json::from_str::<Entry>(text).map(ExportLine::Entry);
    }
    ExportLine::parse(text)
}

/// The first bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Verifies an export file, streaming; its tenant is `only` or that of its first line.
fn verify_file(
    path: &Path,
    only: Option<TenantId>,
    keys: &[PublicKey],
) -> anyhow::Result<(TenantId, Verdict)> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut raw = BufReader::with_capacity(1 << 20, file);
    let compressed = raw
        .fill_buf()
        .with_context(|| format!("cannot read {}", path.display()))?
        .starts_with(&ZSTD_MAGIC);
    let mut input: Box<dyn BufRead> = if compressed {
        let decoder = zstd::stream::read::Decoder::with_buffer(raw)
            .with_context(|| format!("cannot decompress {}", path.display()))?;
        Box::new(BufReader::with_capacity(1 << 20, decoder))
    } else {
        Box::new(raw)
    };
    let bar = spinner("verifying", "entries");
    let mut verifier: Option<(TenantId, Verifier)> = only.map(|t| {
        let v = Verifier::new(t.clone(), keys);
        (t, v)
    });
    let mut line = String::new();
    let mut number = 0u64;
    let mut entries = 0u64;
    loop {
        line.clear();
        let read = input
            .read_line(&mut line)
            .with_context(|| format!("{}: cannot read line {}", path.display(), number + 1))?;
        if read == 0 {
            break;
        }
        number += 1;
        let text = line.trim_end_matches(['\n', '\r']);
        if text.is_empty() {
            continue;
        }
        let parsed = parse_line(text).with_context(|| {
            format!(
                "{}: line {number} is not an audit export line",
                path.display()
            )
        })?;
        let (_, v) = verifier.get_or_insert_with(|| {
            let t = match &parsed {
                ExportLine::Entry(e) => e.tenant.clone(),
                ExportLine::Checkpoint(c) => c.tenant.clone(),
            };
            (t.clone(), Verifier::new(t, keys))
        });
        if matches!(parsed, ExportLine::Entry(_)) {
            entries += 1;
            if entries.is_multiple_of(4096) {
                bar.set_position(entries);
            }
        }
        if v.line(&parsed).is_err() {
            // The verifier keeps the first inconsistency; finish() reports it.
            break;
        }
    }
    bar.finish_and_clear();
    match verifier {
        Some((tenant, v)) => Ok((tenant, v.finish())),
        None => bail!("{} holds no audit export lines", path.display()),
    }
}
