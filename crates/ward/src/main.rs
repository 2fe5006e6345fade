//! The `ward` command: a thin layer of clap over the library crates.

mod bench;
mod client;
mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Ward makes AI agent services production-ready: it receives their OpenTelemetry and JSON logs,
/// keeps them durably, and answers queries.
#[derive(Debug, Parser)]
#[command(name = "ward", version, about, long_about = None)]
#[command(
    after_help = "Examples:\n  ward serve                                  # start with ./ward.toml or defaults, data in ./ward-data\n  ward keys create --tenant default --scope ingest\n  ward query logs 'service:planner level>=warn \"timeout\"' --since 1h\n  ward tail 'level>=error'\n  ward audit verify"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Ward server.
    #[command(
        after_help = "Examples:\n  ward serve\n  ward serve --config /etc/ward/ward.toml\n  ward serve --data-dir /var/lib/ward --listen 127.0.0.1:4318\n\nOn first start Ward creates the `default` tenant and an admin API key, printed once on stderr."
    )]
    Serve(commands::serve::ServeArgs),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
    /// Query stored logs, traces and services.
    #[command(subcommand)]
    Query(commands::query::QueryCommand),
    /// Query, export, verify and report on the tamper-evident audit trail; erase a person.
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// Follow new log records as they are committed.
    #[command(
        after_help = "Examples:\n  ward tail\n  ward tail 'service:planner level>=warn'\n  ward tail '\"timeout\"' --json | jq .body"
    )]
    Tail(commands::query::TailArgs),
    /// Check the configuration.
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
    /// Measure ingest, query and start-up performance.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Scrub personal data and secrets from stdin to stdout (a streaming filter, on every core).
    #[command(
        after_help = "Examples:\n  ward redact < app.log > app.redacted.log\n  ward redact --profile strict --format jsonl --report < events.jsonl > clean.jsonl\n  tail -F app.log | ward redact --jobs 1 | vector --config ship.toml\n  git diff --cached | ward redact --profile secrets-only --check > /dev/null   # pre-commit hook\n  ward redact --format spans < app.log   # findings only: {\"line\":0,\"start\":5,\"end\":21,\"type\":\"email\"}\n\nLines end at \\n (\\r\\n is kept). Reports and --check messages give types and counts, never values.\n--check exits with status 1 if anything was found; errors also exit with status 1."
    )]
    Redact(commands::redact::RedactArgs),
    /// Make a local CA and TLS certificates for development (server, optionally client).
    #[command(
        after_help = "Examples:\n  ward dev-cert\n  ward dev-cert --out ./certs --host ward.local --host 192.168.1.20\n  ward dev-cert --client planner          # also client.pem/client.key for mTLS\n  ward dev-cert --force                   # replace existing files\n\nWrites ca.pem, ca.key, cert.pem, key.pem (and client.pem, client.key); keys have mode 0600.\nFor development only: production certificates come from your CA or ACME (see docs/tls.md)."
    )]
    DevCert(commands::dev_cert::DevCertArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let done = match cli.command {
            Command::Audit(cmd) => return commands::audit::run(cmd).await,
            Command::Serve(args) => commands::serve::run(args).await,
            Command::Keys(cmd) => commands::keys::run(cmd).await,
            Command::Query(cmd) => commands::query::run(cmd).await,
            Command::Tail(args) => commands::query::tail(args).await,
            Command::Config(cmd) => commands::config::run(cmd),
            Command::Bench(cmd) => bench::run(cmd).await,
            Command::Redact(args) => commands::redact::run(args),
            Command::DevCert(args) => commands::dev_cert::run(args),
        };
        done.map(|()| ExitCode::SUCCESS)
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
