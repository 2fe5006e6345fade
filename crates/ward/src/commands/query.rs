//! `ward query logs|trace|traces|services|security` and `ward tail`.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use futures::StreamExt;
use reqwest::Method;
use serde_json::Value;

use super::Remote;
use crate::client::{Client, check};

/// Query commands.
#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// Log records, newest first.
    #[command(
        after_help = "Filter language (docs/query-language.md):\n  word \"a phrase\"   full text      service:NAME   level>=warn\n  trace:ID  span:ID   user.id=u-42   http.status_code>=500   -TERM negates\n\nExamples:\n  ward query logs 'service:planner level>=warn \"timeout\" user.id=u-42'\n  ward query logs --since 15m --limit 20\n  ward query logs 'trace:5b8efff798038103d269b633813fc60c' --json"
    )]
    Logs(LogsArgs),
    /// One trace as a tree of spans.
    #[command(
        after_help = "Examples:\n  ward query trace 5b8efff798038103d269b633813fc60c\n  ward query trace 5b8efff798038103d269b633813fc60c --json"
    )]
    Trace {
        /// Trace id (32 hex digits).
        trace_id: String,
        /// Print the API's JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Traces with a span matching a filter.
    #[command(
        after_help = "Examples:\n  ward query traces 'service:api duration>2s'\n  ward query traces 'status:error name:\"POST /chat\"' --since 1h"
    )]
    Traces(TracesArgs),
    /// Services seen recently.
    #[command(after_help = "Examples:\n  ward query services --since 7d")]
    Services {
        /// How far back to look.
        #[arg(long, default_value = "24h")]
        since: String,
        /// Print the API's JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Security events (e.g. credentials found in telemetry), newest first.
    #[command(
        after_help = "Examples:\n  ward query security --since 7d\n  ward query security --kind credential_in_telemetry --min-severity high --json"
    )]
    Security {
        /// Start: a duration ago, RFC 3339 or Unix time.
        #[arg(long, default_value = "24h")]
        since: String,
        /// Only this kind of event.
        #[arg(long)]
        kind: Option<String>,
        /// Only events at least this severe: low, medium, high, critical.
        #[arg(long)]
        min_severity: Option<String>,
        /// Most events to print.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
}

/// Options of `ward query logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Filter, e.g. `service:planner level>=warn "timeout"`.
    #[arg(default_value = "")]
    filter: String,
    /// Start: a duration ago (`15m`, `2h`, `7d`), RFC 3339 or Unix time.
    #[arg(long, default_value = "24h", conflicts_with = "from")]
    since: String,
    /// Start (RFC 3339 or Unix time).
    #[arg(long)]
    from: Option<String>,
    /// End (exclusive).
    #[arg(long)]
    to: Option<String>,
    /// Most records to print (pages are fetched as needed).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Print one JSON object per line.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: Remote,
}

/// Options of `ward query traces`.
#[derive(Debug, Args)]
pub struct TracesArgs {
    /// Filter over spans, e.g. `service:api duration>500ms status:error`.
    #[arg(default_value = "")]
    filter: String,
    /// Start: a duration ago.
    #[arg(long, default_value = "24h")]
    since: String,
    /// Most traces to print.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print one JSON object per line.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: Remote,
}

/// Options of `ward tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// Filter, as for `ward query logs`.
    #[arg(default_value = "")]
    filter: String,
    /// Print one JSON object per line.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: Remote,
}

/// A one-line rendering of a log record: time, level, service, body, attributes.
fn format_log(log: &Value) -> String {
    let mut line = format!(
        "{} {:<5} {:<16} {}",
        log["time"].as_str().unwrap_or(""),
        log["level"].as_str().unwrap_or("").to_uppercase(),
        log["service"].as_str().unwrap_or(""),
        log["body"].as_str().unwrap_or("")
    );
    if let Some(attrs) = log["attributes"].as_object() {
        for (k, v) in attrs {
            let v = v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            line.push_str(&format!(" {k}={v}"));
        }
    }
    if let Some(t) = log["trace_id"].as_str() {
        line.push_str(&format!(" trace={t}"));
    }
    line
}

/// Runs a query command.
pub async fn run(cmd: QueryCommand) -> anyhow::Result<()> {
    match cmd {
        QueryCommand::Logs(args) => logs(args).await,
        QueryCommand::Trace {
            trace_id,
            json,
            remote,
        } => {
            let client = Client::new(&remote)?;
            let trace: Value = client
                .json(client.request(Method::GET, &format!("/api/v1/traces/{trace_id}")))
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&trace)?);
                return Ok(());
            }
            println!(
                "trace {}  {} spans, {} errors, {:.1} ms, services: {}",
                trace["trace_id"].as_str().unwrap_or(""),
                trace["span_count"],
                trace["error_count"],
                trace["duration_ms"].as_f64().unwrap_or(0.0),
                trace["services"]
                    .as_array()
                    .map(|a| a
                        .iter()
                        .filter_map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            );
            for root in trace["roots"].as_array().into_iter().flatten() {
                print_span(root, "", true);
            }
            Ok(())
        }
        QueryCommand::Traces(args) => {
            let client = Client::new(&args.remote)?;
            let page: Value = client
                .json(client.request(Method::GET, "/api/v1/traces").query(&[
                    ("q", args.filter.as_str()),
                    ("from", args.since.as_str()),
                    ("limit", &args.limit.clamp(1, 1000).to_string()),
                ]))
                .await?;
            for t in page["traces"].as_array().into_iter().flatten() {
                if args.json {
                    println!("{t}");
                    continue;
                }
                println!(
                    "{}  {:>10.1} ms  {:>4} spans  {:>3} errors  {} {}",
                    t["trace_id"].as_str().unwrap_or(""),
                    t["duration_nanos"].as_f64().unwrap_or(0.0) / 1e6,
                    t["span_count"],
                    t["error_count"],
                    t["root_service"].as_str().unwrap_or("?"),
                    t["root_name"].as_str().unwrap_or("?"),
                );
            }
            Ok(())
        }
        QueryCommand::Services {
            since,
            json,
            remote,
        } => {
            let client = Client::new(&remote)?;
            let reply: Value = client
                .json(
                    client
                        .request(Method::GET, "/api/v1/services")
                        .query(&[("from", since.as_str())]),
                )
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&reply)?);
                return Ok(());
            }
            println!(
                "{:<32} {:>12} {:>12} {:>12}",
                "SERVICE", "LOGS", "SPANS", "METRICS"
            );
            for s in reply["services"].as_array().into_iter().flatten() {
                println!(
                    "{:<32} {:>12} {:>12} {:>12}",
                    s["name"].as_str().unwrap_or(""),
                    s["log_count"],
                    s["span_count"],
                    s["metric_count"]
                );
            }
            Ok(())
        }
        QueryCommand::Security {
            since,
            kind,
            min_severity,
            limit,
            json,
            remote,
        } => {
            let client = Client::new(&remote)?;
            let mut params = vec![("from", since), ("limit", limit.clamp(1, 1000).to_string())];
            params.extend(kind.map(|k| ("kind", k)));
            params.extend(min_severity.map(|s| ("min_severity", s)));
            let page: Value = client
                .json(
                    client
                        .request(Method::GET, "/api/v1/security/events")
                        .query(&params),
                )
                .await?;
            for e in page["events"].as_array().into_iter().flatten() {
                if json {
                    println!("{e}");
                    continue;
                }
                println!(
                    "{}  {:<8} {:<24} {}",
                    e["time"].as_str().unwrap_or(""),
                    e["severity"].as_str().unwrap_or(""),
                    e["kind"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or(""),
                );
            }
            Ok(())
        }
    }
}

fn print_span(span: &Value, prefix: &str, last: bool) {
    let status = span["status"]["code"].as_str().unwrap_or("unset");
    println!(
        "{prefix}{} {} {}  ({}) {:.1} ms{}",
        if last { "└─" } else { "├─" },
        span["service"].as_str().unwrap_or(""),
        span["name"].as_str().unwrap_or(""),
        span["kind"].as_str().unwrap_or(""),
        span["duration_ms"].as_f64().unwrap_or(0.0),
        if status == "error" { "  ERROR" } else { "" }
    );
    let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
    for event in span["events"].as_array().into_iter().flatten() {
        let detail = event["attributes"]["exception.message"]
            .as_str()
            .unwrap_or("");
        println!(
            "{child_prefix}  • {} {}",
            event["name"].as_str().unwrap_or(""),
            detail
        );
    }
    let children = span["children"].as_array().cloned().unwrap_or_default();
    for (i, child) in children.iter().enumerate() {
        print_span(child, &child_prefix, i + 1 == children.len());
    }
}

async fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.remote)?;
    let from = args.from.clone().unwrap_or(args.since.clone());
    let mut cursor: Option<String> = None;
    let mut printed = 0;
    while printed < args.limit {
        let page_size = (args.limit - printed).min(1000).to_string();
        let mut params = vec![
            ("q", args.filter.clone()),
            ("from", from.clone()),
            ("limit", page_size),
        ];
        if let Some(to) = &args.to {
            params.push(("to", to.clone()));
        }
        if let Some(c) = &cursor {
            params.push(("cursor", c.clone()));
        }
        let page: Value = client
            .json(client.request(Method::GET, "/api/v1/logs").query(&params))
            .await?;
        for log in page["logs"].as_array().into_iter().flatten() {
            if args.json {
                println!("{log}");
            } else {
                println!("{}", format_log(log));
            }
            printed += 1;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    Ok(())
}

/// `ward tail`: follows the SSE stream, reconnecting after network errors.
pub async fn tail(args: TailArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.remote)?;
    let mut backoff = Duration::from_millis(500);
    loop {
        let request = client
            .request(Method::GET, "/api/v1/logs/tail")
            .query(&[("q", args.filter.as_str())]);
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("tail: {e}; reconnecting in {:.1}s", backoff.as_secs_f64());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        if response.status().is_client_error() {
            check(response).await?;
            bail!("unexpected answer");
        }
        let response = check(response).await?;
        backoff = Duration::from_millis(500);
        let mut stream = response.bytes_stream();
        let mut buffer = String::new();
        let mut event = String::new();
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("tail: connection lost ({e}); reconnecting");
                    break;
                }
            };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(newline) = buffer.find('\n') {
                let line = buffer[..newline].trim_end_matches('\r').to_owned();
                buffer.drain(..=newline);
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_owned();
                } else if let Some(data) = line.strip_prefix("data:") {
                    let data = data.trim_start();
                    match event.as_str() {
                        "log" if args.json => println!("{data}"),
                        "log" => {
                            let log: Value =
                                serde_json::from_str(data).context("malformed event from Ward")?;
                            println!("{}", format_log(&log));
                        }
                        "lagged" => {
                            eprintln!("tail: fell behind, some records were skipped ({data})")
                        }
                        _ => {}
                    }
                }
            }
        }
        tokio::time::sleep(backoff).await;
    }
}
