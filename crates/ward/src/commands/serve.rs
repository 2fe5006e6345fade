//! `ward serve`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use ward_model::TenantId;
use ward_server::auth::mint;
use ward_server::authz::{Grants, Permission};
use ward_server::config::Settings;
use ward_server::metrics::Metrics;
use ward_server::reload::ConfigSource;
use ward_store::{Store, StoreConfig};

use super::ConfigArg;

/// Options of `ward serve`; each overrides its configuration key.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Data directory (`data_dir`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// HTTP listen address (`server.listen`).
    #[arg(long)]
    listen: Option<String>,
    /// OTLP/gRPC listen address (`server.grpc_listen`); empty disables gRPC.
    #[arg(long)]
    grpc_listen: Option<String>,
}

/// Opens the embedded store as the configuration says; `metrics` observes commits.
pub fn open_store(settings: &Settings, metrics: Option<Arc<Metrics>>) -> anyhow::Result<Store> {
    let c = &settings.config;
    let on_commit = metrics
        .map(|m| Arc::new(move |stats| m.observe_commit(stats)) as Arc<dyn Fn(_) + Send + Sync>);
    Store::open(StoreConfig {
        data_dir: c.data_dir.clone(),
        read_connections: c.store.read_connections,
        max_queue_records: c.store.max_queue_records,
        max_commit_records: c.store.max_commit_records,
        synchronous_full: c.store.synchronous == "full",
        on_commit,
    })
    .with_context(|| format!("cannot open the store in {}", c.data_dir.display()))
}

/// The file the first admin key is written to when stderr is not a terminal.
pub const ADMIN_KEY_FILE: &str = "admin.key";

/// On first start (no key at all), creates the default tenant and an admin key. Only its hash
/// is stored. The key is shown once on a terminal; when stderr is not a terminal (a service
/// manager, a container, a pipe) it would end up in a log, so it is written to
/// `<data_dir>/admin.key` (mode 0600) instead, for the operator to read and delete.
fn bootstrap(store: &Store, data_dir: &Path) -> anyhow::Result<()> {
    if store.keys().count_keys()? > 0 {
        return Ok(());
    }
    let tenant = TenantId::default_tenant();
    store.keys().ensure_tenant(&tenant)?;
    let key = mint(
        tenant,
        "bootstrap admin",
        &Grants::single(Permission::Admin),
        None,
    );
    let hint = "Use it as 'Authorization: Bearer <key>', and make narrower keys with\n    \
                WARD_API_KEY=<key> ward keys create --tenant default --scope ingest";
    if std::io::stderr().is_terminal() {
        store.keys().insert_key(&key.record)?;
        eprintln!(
            "\nWard created the first admin API key. It is shown only this once; store it now:\n\n    {}\n\n{hint}\n",
            key.text.as_str()
        );
        return Ok(());
    }
    let path = data_dir.join(ADMIN_KEY_FILE);
    ward_server::files::create_private(&path, format!("{}\n", key.text.as_str()).as_bytes())
        .with_context(|| format!("cannot write the first admin key to {}", path.display()))?;
    store.keys().insert_key(&key.record)?;
    eprintln!(
        "\nWard created the first admin API key and wrote it to {} (readable by this user only), \
         not to this output, which may be kept in a log. Read it, keep it in your secret store, \
         and delete the file.\n{hint}\n",
        path.display()
    );
    Ok(())
}

fn init_logging(settings: &Settings) -> anyhow::Result<()> {
    let level = &settings.config.log.level;
    let filter = tracing_subscriber::EnvFilter::try_new(format!(
        "warn,ward={level},ward_server={level},ward_store={level},ward_ingest={level}"
    ))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if settings.config.log.format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

/// Installs the SIGTERM and Ctrl-C handlers now, before the listeners open, so that a signal
/// sent as soon as Ward reports ready is never delivered to the default (killing) handler.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let mut interrupt =
        signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// The configuration: file, `WARD_*` environment, then the command line's options. Read at
/// start and again on every reload, so a reload never undoes an option.
fn load(args: &ServeArgs) -> anyhow::Result<ward_server::config::Config> {
    let mut config = args.config.load()?;
    if let Some(dir) = &args.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(listen) = &args.listen {
        config.server.listen = listen.clone();
    }
    if let Some(grpc) = &args.grpc_listen {
        config.server.grpc_listen = grpc.clone();
    }
    Ok(config)
}

/// Runs the server until SIGTERM or Ctrl-C; reloads the configuration on SIGHUP and when its
/// file changes.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = load(&args)?;
    let settings = args.config.settings(config)?;
    init_logging(&settings)?;
    for warning in settings.hardening.warnings() {
        tracing::warn!("{warning}");
    }
    let metrics = Arc::new(Metrics::new());
    let shutdown = shutdown_signal()?;
    let store = open_store(&settings, Some(metrics.clone()))?;
    bootstrap(&store, &settings.config.data_dir)?;
    let reload_args = Arc::new(args);
    let source = ConfigSource {
        path: reload_args.config.path(),
        load: Arc::new(move || load(&reload_args).map_err(|e| format!("{e:#}"))),
    };
    let tls = settings.tls_enabled();
    let server = ward_server::Server::bind(settings, store, metrics)
        .await?
        .reload_from(source);
    tracing::info!(
        tls,
        http = %server.http_addr().map(|a| a.to_string()).unwrap_or_default(),
        grpc = %server.grpc_addr().map(|a| a.to_string()).unwrap_or_else(|| "disabled".into()),
        version = env!("CARGO_PKG_VERSION"),
        "Ward is ready"
    );
    server.run(shutdown).await?;
    tracing::info!("Ward stopped");
    Ok(())
}
