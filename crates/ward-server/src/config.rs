//! `ward.toml` and its `WARD_*` environment overrides.
//!
//! Every key has a default (see `docs/configuration.md`); a file only names what it changes.
//! An environment variable `WARD_<SECTION>_<KEY>` (or `WARD_<KEY>` for top-level keys)
//! overrides the file, e.g. `WARD_SERVER_LISTEN=127.0.0.1:9000`, `WARD_DATA_DIR=/var/lib/ward`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ward_model::TenantId;
use ward_redact::{PseudonymKey, RedactConfig, Redactor};

use crate::authz::{RoleConfig, Roles};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown keys or wrong types.
    #[error("{0}")]
    Parse(String),
    /// An environment override has the wrong type.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable.
        var: String,
        /// What is wrong.
        message: String,
    },
    /// Values that parse but make no sense together.
    #[error("{key}: {message}")]
    Invalid {
        /// The offending key (`server.listen`).
        key: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the embedded store keeps its files.
    pub data_dir: PathBuf,
    /// Listeners and request limits.
    pub server: ServerConfig,
    /// Record validation at ingest.
    pub ingest: IngestConfig,
    /// Embedded store tuning.
    pub store: StoreSection,
    /// Scrubbing of personal data and secrets before storage.
    pub redact: RedactSection,
    /// Ward's own log.
    pub log: LogConfig,
    /// Custom roles (and redefinitions of `viewer`, `operator`, `admin`), by name.
    pub roles: BTreeMap<String, RoleConfig>,
    /// Credentials other than API keys.
    pub auth: AuthSection,
    /// Request rate limits and brute-force protection.
    pub rate_limits: crate::ratelimit::RateLimitConfig,
    /// Browser access to the API from other origins (CORS).
    pub cors: crate::hardening::CorsConfig,
    /// TLS for both listeners, certificate reload and client certificates.
    pub tls: TlsSection,
    /// The audit trail: checkpoints, retention, archival, personal fields.
    pub audit: crate::audit::AuditSection,
    /// GenAI telemetry: what happens to prompts and completions.
    pub genai: crate::genai::GenAiSection,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./ward-data"),
            server: ServerConfig::default(),
            ingest: IngestConfig::default(),
            store: StoreSection::default(),
            redact: RedactSection::default(),
            log: LogConfig::default(),
            roles: BTreeMap::new(),
            auth: AuthSection::default(),
            rate_limits: Default::default(),
            cors: Default::default(),
            tls: TlsSection::default(),
            audit: Default::default(),
            genai: Default::default(),
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// HTTP listener: the API, OTLP/HTTP (`/v1/logs` …), `/metrics` and health.
    pub listen: String,
    /// OTLP/gRPC listener; empty disables it.
    pub grpc_listen: String,
    /// Largest request body accepted as sent (compressed), e.g. `"8MiB"`.
    pub max_body_size: String,
    /// Largest request body after decompression: a gzip bomb stops here.
    pub max_decompressed_size: String,
    /// Largest request body of the routes other than ingest (keys, …).
    pub max_api_body_size: String,
    /// Longest time a request may take before Ward answers 408/503.
    pub request_timeout: String,
    /// How long SIGTERM waits for in-flight work before exiting anyway.
    pub shutdown_timeout: String,
    /// Seconds a client is told to wait (`Retry-After`) when Ward is overloaded.
    pub retry_after_seconds: u32,
    /// Serve plaintext on a non-loopback address without `[tls]` (e.g. behind a TLS-terminating
    /// proxy). Off: Ward refuses to start rather than expose keys and telemetry in clear.
    pub allow_plaintext: bool,
    /// Longest time a client may take to send a request's headers (slow-loris protection).
    pub header_read_timeout: String,
    /// Most header fields in one HTTP/1 request.
    pub max_headers: usize,
    /// Largest request head (HTTP/1 read buffer, HTTP/2 header list), at least 8KiB.
    pub max_header_size: String,
    /// Most connections served at once, per listener; more wait in the kernel's backlog.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:4318".into(),
            grpc_listen: "127.0.0.1:4317".into(),
            max_body_size: "16MiB".into(),
            max_decompressed_size: "64MiB".into(),
            max_api_body_size: "1MiB".into(),
            request_timeout: "30s".into(),
            shutdown_timeout: "10s".into(),
            retry_after_seconds: 1,
            allow_plaintext: false,
            header_read_timeout: "10s".into(),
            max_headers: 100,
            max_header_size: "16KiB".into(),
            max_connections: 4096,
        }
    }
}

/// `[ingest]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Records stamped further in the future than this are rejected (per record).
    pub max_future_skew: String,
    /// Records older than this are rejected (per record).
    pub max_age: String,
    /// Longer attribute values are truncated.
    pub max_attribute_value_size: String,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_future_skew: "1h".into(),
            max_age: "30d".into(),
            max_attribute_value_size: "64KiB".into(),
        }
    }
}

/// `[store]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSection {
    /// Read-only connections serving queries.
    pub read_connections: usize,
    /// Records waiting for the writer before ingest answers 429.
    pub max_queue_records: usize,
    /// Most records written in one transaction (group commit).
    pub max_commit_records: usize,
    /// `full` (fsync every commit: survives power loss) or `normal` (survives a crash of Ward).
    pub synchronous: String,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            read_connections: 4,
            max_queue_records: 500_000,
            max_commit_records: 50_000,
            synchronous: "full".into(),
        }
    }
}

/// `[redact]`: what the pipeline removes from telemetry before it is stored or forwarded.
///
/// `policy` applies to every tenant without an entry in `tenants`; a tenant's entry replaces
/// `policy` entirely (keys it does not set take their defaults, not the policy's). Both are
/// [`RedactConfig`]s: `profile`, `enable`, `disable`, `rules`, `allow`, `fields`, `operators`,
/// `url_credentials` (see docs/redaction.md). Pseudonym keys are derived per tenant from the
/// key in `pseudonym_key_file`, so the same value gets different pseudonyms in two tenants.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedactSection {
    /// Whether telemetry is scrubbed at all. On by default; turning it off stores whatever
    /// arrives, secrets included.
    pub enabled: bool,
    /// File holding the secret from which per-tenant pseudonym keys are derived; empty means
    /// `<data_dir>/pseudonym.key`, created with 32 random bytes (mode 0600) on first start.
    pub pseudonym_key_file: String,
    /// The policy of every tenant that has none of its own.
    pub policy: RedactConfig,
    /// Policies of single tenants, by tenant name.
    pub tenants: BTreeMap<String, RedactConfig>,
}

impl Default for RedactSection {
    fn default() -> Self {
        RedactSection {
            enabled: true,
            pseudonym_key_file: String::new(),
            policy: RedactConfig::default(),
            tenants: BTreeMap::new(),
        }
    }
}

impl RedactSection {
    /// The file of the pseudonym master key.
    pub fn pseudonym_key_path(&self, data_dir: &Path) -> PathBuf {
        if self.pseudonym_key_file.trim().is_empty() {
            data_dir.join("pseudonym.key")
        } else {
            PathBuf::from(&self.pseudonym_key_file)
        }
    }

    /// Compiles every policy with `key` as the pseudonym key, naming the first invalid one.
    pub fn compile(&self, key: &PseudonymKey) -> Result<Policies, ConfigError> {
        let compile = |config: &RedactConfig| {
            let mut config = config.clone();
            config.pseudonym_key = Some(key.clone());
            Redactor::new(&config)
        };
        let default = compile(&self.policy).map_err(|e| ConfigError::Invalid {
            key: "redact.policy",
            message: e.to_string(),
        })?;
        let mut tenants = HashMap::new();
        for (name, config) in &self.tenants {
            let tenant = TenantId::new(name).map_err(|e| ConfigError::Invalid {
                key: "redact.tenants",
                message: format!("{name:?} is not a tenant name: {e}"),
            })?;
            let redactor = compile(config).map_err(|e| ConfigError::Invalid {
                key: "redact.tenants",
                message: format!("tenant {name}: {e}"),
            })?;
            tenants.insert(tenant, redactor);
        }
        Ok(Policies { default, tenants })
    }
}

/// The compiled `[redact]` policies.
#[derive(Debug, Clone)]
pub struct Policies {
    /// For tenants without their own.
    pub default: Redactor,
    /// Per tenant.
    pub tenants: HashMap<TenantId, Redactor>,
}

impl Policies {
    /// The redactor of `tenant`.
    pub fn for_tenant(&self, tenant: &TenantId) -> &Redactor {
        self.tenants.get(tenant).unwrap_or(&self.default)
    }
}

/// `[tls]`: certificate files for both listeners, and client certificates.
///
/// Empty `cert` and `key` mean no TLS (allowed on loopback addresses only, unless
/// `server.allow_plaintext`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSection {
    /// PEM file with the server certificate chain, leaf first.
    pub cert: String,
    /// PEM file with the server's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: String,
    /// PEM file with the CA certificates that client certificates must chain to.
    pub client_ca: String,
    /// `none`, `optional` (verify when presented), `ingest` (required by ingest routes and
    /// services only) or `required` (for every connection).
    pub client_auth: String,
    /// How often the certificate files are checked for changes (replaced files are loaded
    /// without a restart).
    pub reload_interval: String,
}

impl Default for TlsSection {
    fn default() -> Self {
        TlsSection {
            cert: String::new(),
            key: String::new(),
            client_ca: String::new(),
            client_auth: "none".into(),
            reload_interval: "10s".into(),
        }
    }
}

/// Whether and where client certificates are asked for (`tls.client_auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Not asked for.
    None,
    /// Asked for and verified when presented; never required.
    Optional,
    /// Like `Optional`, but the ingest routes and gRPC services refuse requests without one.
    Ingest,
    /// Every connection must present one (the handshake fails otherwise).
    Required,
}

/// Validated `[tls]`.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// Certificate chain file.
    pub cert: PathBuf,
    /// Private key file.
    pub key: PathBuf,
    /// Client CA file; set whenever `client_auth` is not `None`.
    pub client_ca: Option<PathBuf>,
    /// Where client certificates are required.
    pub client_auth: ClientAuth,
    /// How often the files are checked for changes.
    pub reload_interval: std::time::Duration,
}

/// `[auth]`: credentials other than API keys.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSection {
    /// Bearer tokens of an identity provider (`[auth.jwt]`, see docs/jwt.md).
    pub jwt: crate::jwt::JwtConfig,
}

/// `[log]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Minimum level of Ward's own log: trace, debug, info, warn, error.
    pub level: String,
    /// `json` (one object per line) or `text`.
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "json".into(),
        }
    }
}

/// Values derived from [`Config`] once it validated, in the units the code uses.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The configuration as given.
    pub config: Config,
    /// Parsed `server.listen`.
    pub listen: SocketAddr,
    /// Parsed `server.grpc_listen`; `None` when disabled.
    pub grpc_listen: Option<SocketAddr>,
    /// `server.max_body_size` in bytes.
    pub max_body_bytes: usize,
    /// `server.max_decompressed_size` in bytes.
    pub max_decompressed_bytes: usize,
    /// `server.request_timeout`.
    pub request_timeout: std::time::Duration,
    /// `server.shutdown_timeout`.
    pub shutdown_timeout: std::time::Duration,
    /// `ingest.max_future_skew` in nanoseconds.
    pub max_future_nanos: i64,
    /// `ingest.max_age` in nanoseconds.
    pub max_age_nanos: i64,
    /// `ingest.max_attribute_value_size` in bytes.
    pub max_attribute_value_bytes: usize,
    /// The compiled `[redact]` policies; `None` when `redact.enabled` is false.
    pub redact_policies: Option<Policies>,
    /// Built-in roles with `[roles]` applied.
    pub roles: Roles,
    /// Validated `[auth.jwt]`, when enabled.
    pub jwt: Option<crate::jwt::JwtSettings>,
    /// Validated `[rate_limits]`.
    pub rate_limits: crate::ratelimit::RateLimitSettings,
    /// `server.max_api_body_size` and `[cors]`, validated; also their warnings.
    pub hardening: crate::hardening::HardeningSettings,
    /// `[tls]`; `None` when no certificate is configured (plaintext).
    pub tls: Option<TlsSettings>,
    /// `server.header_read_timeout`.
    pub header_read_timeout: std::time::Duration,
    /// `server.max_headers`.
    pub max_headers: usize,
    /// `server.max_header_size` in bytes.
    pub max_header_bytes: usize,
    /// `server.max_connections`.
    pub max_connections: usize,
    /// `[audit]`, validated.
    pub audit: crate::audit::AuditSettings,
    /// `[genai]`: the content policy of every tenant.
    pub genai_content: crate::genai::ContentPolicies,
}

impl Settings {
    /// Whether the listeners speak TLS (e.g. to decide on `Strict-Transport-Security`).
    pub fn tls_enabled(&self) -> bool {
        self.tls.is_some()
    }

    /// The listen addresses that are not loopback and are served in plaintext; non-empty only
    /// when `server.allow_plaintext` let Ward start anyway.
    pub fn exposed_plaintext(&self) -> Vec<SocketAddr> {
        if self.tls.is_some() {
            return Vec::new();
        }
        std::iter::once(self.listen)
            .chain(self.grpc_listen)
            .filter(|a| !a.ip().is_loopback())
            .collect()
    }
}

impl Config {
    /// Reads `path` (when given; a missing file is an error) and applies `WARD_*` overrides from
    /// `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.to_owned(),
                source,
            })?,
            None => String::new(),
        };
        Self::from_toml(&text, env)
    }

    /// Parses TOML text and applies overrides.
    pub fn from_toml(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut doc: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        apply_env(&mut doc, &env)?;
        let config: Config = Config::deserialize(toml::Value::Table(doc))
            .map_err(|e| ConfigError::Parse(e.to_string()))?;
        Ok(config)
    }

    /// Every key as `(dotted.key, default value)`, in file order. Drives the environment
    /// overrides and the documentation test.
    pub fn keys() -> Vec<(String, toml::Value)> {
        let mut out = Vec::new();
        let defaults = toml::Value::try_from(Config::default())
            .unwrap_or(toml::Value::Table(Default::default()));
        if let toml::Value::Table(table) = defaults {
            for (k, v) in table {
                match v {
                    toml::Value::Table(section) => {
                        for (sk, sv) in section {
                            out.push((format!("{k}.{sk}"), sv));
                        }
                    }
                    other => out.push((k, other)),
                }
            }
        }
        out
    }

    /// The environment variable that overrides `dotted_key`.
    pub fn env_name(dotted_key: &str) -> String {
        format!("WARD_{}", dotted_key.replace('.', "_").to_ascii_uppercase())
    }

    /// Validates the values and converts them into [`Settings`].
    pub fn settings(self) -> Result<Settings, ConfigError> {
        let listen = parse_addr("server.listen", &self.server.listen)?;
        let grpc_listen = if self.server.grpc_listen.trim().is_empty() {
            None
        } else {
            Some(parse_addr("server.grpc_listen", &self.server.grpc_listen)?)
        };
        if grpc_listen == Some(listen) {
            return Err(ConfigError::Invalid {
                key: "server.grpc_listen",
                message: "must differ from server.listen".into(),
            });
        }
        let max_body_bytes = size("server.max_body_size", &self.server.max_body_size)?;
        let max_decompressed_bytes = size(
            "server.max_decompressed_size",
            &self.server.max_decompressed_size,
        )?;
        if max_decompressed_bytes < max_body_bytes {
            return Err(ConfigError::Invalid {
                key: "server.max_decompressed_size",
                message: "must be at least server.max_body_size".into(),
            });
        }
        let request_timeout = std_duration("server.request_timeout", &self.server.request_timeout)?;
        let shutdown_timeout =
            std_duration("server.shutdown_timeout", &self.server.shutdown_timeout)?;
        let max_future_nanos = nanos("ingest.max_future_skew", &self.ingest.max_future_skew)?;
        let max_age_nanos = nanos("ingest.max_age", &self.ingest.max_age)?;
        let max_attribute_value_bytes = size(
            "ingest.max_attribute_value_size",
            &self.ingest.max_attribute_value_size,
        )?;
        if !matches!(self.store.synchronous.as_str(), "full" | "normal") {
            return Err(ConfigError::Invalid {
                key: "store.synchronous",
                message: "use \"full\" or \"normal\"".into(),
            });
        }
        if self.store.read_connections == 0 || self.store.read_connections > 64 {
            return Err(ConfigError::Invalid {
                key: "store.read_connections",
                message: "use 1 to 64".into(),
            });
        }
        if self.store.max_commit_records == 0
            || self.store.max_queue_records < self.store.max_commit_records
        {
            return Err(ConfigError::Invalid {
                key: "store.max_queue_records",
                message: "must be at least store.max_commit_records, which must be positive".into(),
            });
        }
        if !matches!(self.log.format.as_str(), "json" | "text") {
            return Err(ConfigError::Invalid {
                key: "log.format",
                message: "use \"json\" or \"text\"".into(),
            });
        }
        if !matches!(
            self.log.level.as_str(),
            "trace" | "debug" | "info" | "warn" | "error"
        ) {
            return Err(ConfigError::Invalid {
                key: "log.level",
                message: "use trace, debug, info, warn or error".into(),
            });
        }
        // Compiled once, here, so that mistakes are reported by `ward config check` too. The
        // key is a placeholder: the scrubber gives every tenant its own key derived from the
        // secret in the data directory before any pseudonym is made.
        let redact_policies = if self.redact.enabled {
            Some(
                self.redact
                    .compile(&PseudonymKey::new(rand::random::<[u8; 32]>()))?,
            )
        } else {
            None
        };
        let roles = Roles::new(&self.roles).map_err(|e| ConfigError::Invalid {
            key: "roles",
            message: e.to_string(),
        })?;
        let jwt = self.auth.jwt.validate().map_err(|e| ConfigError::Invalid {
            key: e.key,
            message: e.message,
        })?;
        let jwt = jwt.enabled().then_some(jwt);
        let rate_limits = self.rate_limits.validate()?;
        let hardening = crate::hardening::HardeningSettings::new(&self.server, &self.cors)?;
        let tls = tls_settings(&self.tls)?;
        if tls.is_none() && !self.server.allow_plaintext {
            let exposed = std::iter::once(("server.listen", listen))
                .chain(grpc_listen.map(|a| ("server.grpc_listen", a)))
                .find(|(_, a)| !a.ip().is_loopback());
            if let Some((key, addr)) = exposed {
                return Err(ConfigError::Invalid {
                    key: "server.allow_plaintext",
                    message: format!(
                        "{key} {addr} is not a loopback address and [tls] is not configured: \
                         set tls.cert and tls.key (see docs/tls.md), or set \
                         server.allow_plaintext = true if a proxy terminates TLS"
                    ),
                });
            }
        }
        let header_read_timeout = std_duration(
            "server.header_read_timeout",
            &self.server.header_read_timeout,
        )?;
        let max_header_bytes = size("server.max_header_size", &self.server.max_header_size)?;
        // hyper refuses HTTP/1 read buffers below 8 KiB.
        if !(8 << 10..=1 << 20).contains(&max_header_bytes) {
            return Err(ConfigError::Invalid {
                key: "server.max_header_size",
                message: "use 8KiB to 1MiB".into(),
            });
        }
        if self.server.max_headers == 0 || self.server.max_headers > 1000 {
            return Err(ConfigError::Invalid {
                key: "server.max_headers",
                message: "use 1 to 1000".into(),
            });
        }
        if self.server.max_connections == 0 {
            return Err(ConfigError::Invalid {
                key: "server.max_connections",
                message: "must be positive".into(),
            });
        }
        let audit = self.audit.settings(&self.data_dir)?;
        let genai_content = self.genai.policies()?;
        Ok(Settings {
            audit,
            genai_content,
            tls,
            header_read_timeout,
            max_headers: self.server.max_headers,
            max_header_bytes,
            max_connections: self.server.max_connections,
            roles,
            jwt,
            listen,
            grpc_listen,
            max_body_bytes,
            max_decompressed_bytes,
            request_timeout,
            shutdown_timeout,
            max_future_nanos,
            max_age_nanos,
            max_attribute_value_bytes,
            redact_policies,
            rate_limits,
            hardening,
            config: self,
        })
    }
}

/// Validates `[tls]`: both files or neither, readable and parseable now, a client CA whenever
/// client certificates are asked for.
fn tls_settings(section: &TlsSection) -> Result<Option<TlsSettings>, ConfigError> {
    let client_auth = match section.client_auth.trim() {
        "none" => ClientAuth::None,
        "optional" => ClientAuth::Optional,
        "ingest" => ClientAuth::Ingest,
        "required" => ClientAuth::Required,
        _ => {
            return Err(ConfigError::Invalid {
                key: "tls.client_auth",
                message: "use \"none\", \"optional\", \"ingest\" or \"required\"".into(),
            });
        }
    };
    let cert = section.cert.trim();
    let key = section.key.trim();
    let client_ca = section.client_ca.trim();
    if cert.is_empty() && key.is_empty() {
        if client_auth != ClientAuth::None || !client_ca.is_empty() {
            return Err(ConfigError::Invalid {
                key: "tls.cert",
                message: "client certificates need TLS: set tls.cert and tls.key".into(),
            });
        }
        return Ok(None);
    }
    if cert.is_empty() || key.is_empty() {
        return Err(ConfigError::Invalid {
            key: if cert.is_empty() {
                "tls.cert"
            } else {
                "tls.key"
            },
            message: "set both tls.cert and tls.key, or neither".into(),
        });
    }
    if client_auth != ClientAuth::None && client_ca.is_empty() {
        return Err(ConfigError::Invalid {
            key: "tls.client_ca",
            message: format!(
                "tls.client_auth = {:?} needs the CA that signs client certificates",
                section.client_auth.trim()
            ),
        });
    }
    let reload_interval = std_duration("tls.reload_interval", &section.reload_interval)?;
    let settings = TlsSettings {
        cert: PathBuf::from(cert),
        key: PathBuf::from(key),
        client_ca: (!client_ca.is_empty()).then(|| PathBuf::from(client_ca)),
        client_auth,
        reload_interval,
    };
    crate::tls::check_files(&settings).map_err(|e| ConfigError::Invalid {
        key: e.config_key(),
        message: e.to_string(),
    })?;
    Ok(Some(settings))
}

fn apply_env(
    doc: &mut toml::Table,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for (key, default) in Config::keys() {
        // Tables and lists (custom rules, per-tenant policies) are set in the file only.
        if matches!(default, toml::Value::Table(_) | toml::Value::Array(_)) {
            continue;
        }
        let var = Config::env_name(&key);
        let Some(raw) = env(&var) else { continue };
        let value = match default {
            toml::Value::Integer(_) => {
                toml::Value::Integer(raw.trim().parse().map_err(|_| ConfigError::Env {
                    var: var.clone(),
                    message: format!("expected an integer, got {raw:?}"),
                })?)
            }
            toml::Value::Boolean(_) => {
                toml::Value::Boolean(raw.trim().parse().map_err(|_| ConfigError::Env {
                    var: var.clone(),
                    message: format!("expected true or false, got {raw:?}"),
                })?)
            }
            _ => toml::Value::String(raw),
        };
        match key.split_once('.') {
            Some((section, sub)) => {
                let entry = doc
                    .entry(section.to_owned())
                    .or_insert_with(|| toml::Value::Table(Default::default()));
                match entry {
                    toml::Value::Table(t) => {
                        t.insert(sub.to_owned(), value);
                    }
                    _ => return Err(ConfigError::Parse(format!("{section} must be a table"))),
                }
            }
            None => {
                doc.insert(key, value);
            }
        }
    }
    Ok(())
}

fn parse_addr(key: &'static str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| ConfigError::Invalid {
        key,
        message: format!("{text:?} is not an IP:port address (e.g. 127.0.0.1:4318)"),
    })
}

fn nanos(key: &'static str, text: &str) -> Result<i64, ConfigError> {
    ward_model::time::parse_duration(text).map_err(|message| ConfigError::Invalid { key, message })
}

fn std_duration(key: &'static str, text: &str) -> Result<std::time::Duration, ConfigError> {
    let n = nanos(key, text)?;
    if n <= 0 {
        return Err(ConfigError::Invalid {
            key,
            message: "must be positive".into(),
        });
    }
    Ok(std::time::Duration::from_nanos(n as u64))
}

/// Parses sizes such as `512`, `64KiB`, `16MiB`, `1GiB` (also `KB`/`MB`/`GB` as powers of 1000).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let s = text.trim();
    let digits = s.bytes().take_while(|b| b.is_ascii_digit()).count();
    let number: usize = s[..digits]
        .parse()
        .map_err(|_| format!("invalid size {text:?}: use e.g. 512KiB, 16MiB, 1GiB"))?;
    let factor: usize = match s[digits..].trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "invalid size unit {other:?} in {text:?}: use B, KiB, MiB or GiB"
            ));
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

fn size(key: &'static str, text: &str) -> Result<usize, ConfigError> {
    let n = parse_size(text).map_err(|message| ConfigError::Invalid { key, message })?;
    if n == 0 {
        return Err(ConfigError::Invalid {
            key,
            message: "must be positive".into(),
        });
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_are_valid_and_safe() {
        let s = Config::default().settings().unwrap();
        assert!(s.listen.ip().is_loopback());
        assert!(s.grpc_listen.unwrap().ip().is_loopback());
        assert_eq!(s.max_body_bytes, 16 << 20);
    }

    #[test]
    fn file_values_and_env_overrides_apply() {
        let env = |k: &str| match k {
            "WARD_SERVER_LISTEN" => Some("127.0.0.1:9999".to_string()),
            "WARD_STORE_READ_CONNECTIONS" => Some("2".to_string()),
            _ => None,
        };
        let c = Config::from_toml(
            "data_dir = \"/tmp/x\"\n[server]\nlisten = \"127.0.0.1:1\"\n",
            env,
        )
        .unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:9999");
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.store.read_connections, 2);
        let bad = |k: &str| (k == "WARD_STORE_READ_CONNECTIONS").then(|| "many".to_string());
        let e = Config::from_toml("", bad).unwrap_err().to_string();
        assert!(
            e.contains("WARD_STORE_READ_CONNECTIONS") && e.contains("integer"),
            "{e}"
        );
    }

    #[test]
    fn mistakes_are_reported_with_the_key() {
        let e = Config::from_toml("[server]\nlistn = \"x\"\n", no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("listn"), "{e}");
        let e = Config::from_toml("[server]\nlisten = \"localhost\"\n", no_env)
            .unwrap()
            .settings()
            .unwrap_err();
        assert!(e.to_string().starts_with("server.listen"), "{e}");
        let e = Config::from_toml("[store]\nsynchronous = \"off\"\n", no_env)
            .unwrap()
            .settings()
            .unwrap_err();
        assert!(e.to_string().starts_with("store.synchronous"), "{e}");
        let e = Config::from_toml("[ingest]\nmax_age = \"forever\"\n", no_env)
            .unwrap()
            .settings()
            .unwrap_err();
        assert!(e.to_string().starts_with("ingest.max_age"), "{e}");
    }

    #[test]
    fn redact_policies_compile_and_mistakes_name_the_key() {
        // The example of docs/configuration.md is valid.
        let doc = include_str!("../../../docs/configuration.md");
        let start = doc
            .find("```toml\n[redact.policy]")
            .expect("redact example")
            + 8;
        let example = &doc[start..start + doc[start..].find("```").unwrap()];
        let c = Config::from_toml(example, no_env).unwrap();
        let s = c.settings().unwrap();
        let policies = s
            .config
            .redact
            .compile(&PseudonymKey::new([1u8; 32]))
            .unwrap();
        let clinic = policies.for_tenant(&TenantId::new("clinic").unwrap());
        assert_eq!(clinic.profile(), ward_redact::Profile::Hipaa);
        let other = policies.for_tenant(&TenantId::new("acme").unwrap());
        assert_eq!(other.redact_str("EMP-123456").text, "[EMPLOYEE_ID]");
        assert_eq!(
            other.redact_str("ops@corp.example").text,
            "ops@corp.example"
        );

        let e = Config::from_toml(
            "[redact.policy]\nrules = [{ name = \"x\", pattern = \"(\" }]\n",
            no_env,
        )
        .unwrap()
        .settings()
        .unwrap_err();
        assert!(e.to_string().starts_with("redact.policy"), "{e}");
        let e = Config::from_toml("[redact.tenants.\"Bad Name\"]\n", no_env)
            .unwrap()
            .settings()
            .unwrap_err();
        assert!(e.to_string().starts_with("redact.tenants"), "{e}");
        let e = Config::from_toml("[redact.policy]\nprofile = \"loose\"\n", no_env).unwrap_err();
        assert!(e.to_string().contains("loose"), "{e}");
        let off = |k: &str| (k == "WARD_REDACT_ENABLED").then(|| "false".to_string());
        assert!(!Config::from_toml("", off).unwrap().redact.enabled);
    }

    #[test]
    fn plaintext_on_a_non_loopback_address_is_refused_unless_allowed() {
        for (key, toml) in [
            ("server.listen", "[server]\nlisten = \"0.0.0.0:4318\"\n"),
            (
                "server.grpc_listen",
                "[server]\ngrpc_listen = \"192.0.2.7:4317\"\n",
            ),
        ] {
            let e = Config::from_toml(toml, no_env)
                .unwrap()
                .settings()
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("server.allow_plaintext: "), "{e}");
            assert!(e.contains(key) && !e.contains('\n'), "{e}");
            let allowed = |k: &str| (k == "WARD_SERVER_ALLOW_PLAINTEXT").then(|| "true".into());
            let s = Config::from_toml(toml, allowed)
                .unwrap()
                .settings()
                .unwrap();
            assert!(!s.tls_enabled());
            assert_eq!(s.exposed_plaintext().len(), 1);
        }
        let s = Config::default().settings().unwrap();
        assert!(s.exposed_plaintext().is_empty() && s.tls.is_none());
        assert_eq!(s.max_headers, 100);
        assert_eq!(s.max_header_bytes, 16 << 10);
        assert_eq!(s.header_read_timeout, std::time::Duration::from_secs(10));
    }

    #[test]
    fn tls_files_are_checked_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        let env = |extra: Vec<(&'static str, String)>| {
            let mut vars: HashMap<&str, String> = HashMap::from([
                ("WARD_TLS_CERT", cert_path.display().to_string()),
                ("WARD_TLS_KEY", key_path.display().to_string()),
                ("WARD_SERVER_LISTEN", "0.0.0.0:4318".to_string()),
            ]);
            vars.extend(extra);
            move |k: &str| vars.get(k).cloned()
        };
        let s = Config::from_toml("", env(vec![]))
            .unwrap()
            .settings()
            .unwrap();
        assert!(s.tls_enabled() && s.exposed_plaintext().is_empty());
        assert_eq!(s.tls.as_ref().unwrap().client_auth, ClientAuth::None);

        let check = |extra: Vec<(&'static str, String)>| {
            Config::from_toml("", env(extra))
                .unwrap()
                .settings()
                .unwrap_err()
                .to_string()
        };
        let e = check(vec![("WARD_TLS_KEY", String::new())]);
        assert!(e.starts_with("tls.key: set both"), "{e}");
        let e = check(vec![("WARD_TLS_CERT", "/nonexistent/cert.pem".into())]);
        assert!(e.starts_with("tls.cert: cannot read"), "{e}");
        let e = check(vec![("WARD_TLS_CERT", key_path.display().to_string())]);
        assert!(e.starts_with("tls.cert: "), "{e}");
        let e = check(vec![("WARD_TLS_CLIENT_AUTH", "ingest".into())]);
        assert!(e.starts_with("tls.client_ca: "), "{e}");
        let e = check(vec![("WARD_TLS_CLIENT_AUTH", "sometimes".into())]);
        assert!(e.starts_with("tls.client_auth: "), "{e}");
        let e = check(vec![("WARD_SERVER_MAX_HEADER_SIZE", "1KiB".into())]);
        assert!(e.starts_with("server.max_header_size: "), "{e}");
        let s = Config::from_toml(
            "",
            env(vec![
                ("WARD_TLS_CLIENT_AUTH", "ingest".into()),
                ("WARD_TLS_CLIENT_CA", cert_path.display().to_string()),
            ]),
        )
        .unwrap()
        .settings()
        .unwrap();
        assert_eq!(s.tls.unwrap().client_auth, ClientAuth::Ingest);
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("2 GB"), Ok(2_000_000_000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
    }

    #[test]
    fn every_key_is_documented() {
        let doc = include_str!("../../../docs/configuration.md");
        for (key, default) in Config::keys() {
            let leaf = key.rsplit('.').next().unwrap_or(&key);
            assert!(
                doc.contains(&format!("`{leaf}`")),
                "docs/configuration.md does not document {key}"
            );
            assert!(
                matches!(default, toml::Value::Table(_) | toml::Value::Array(_))
                    || doc.contains(&Config::env_name(&key)),
                "docs/configuration.md does not name {}",
                Config::env_name(&key)
            );
        }
    }
}
