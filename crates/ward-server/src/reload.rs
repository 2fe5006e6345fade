//! Configuration reload while Ward runs, on SIGHUP or when the configuration file changes.
//!
//! The new configuration is read and validated as a whole, exactly as at start. If it is
//! invalid, it is refused with the reason (logged, and a `config_rejected` security event) and
//! the configuration in effect stays. If it is valid, the sections that can change live take
//! effect at once — each request sees the old or the new policy, never a mix — and the other
//! changed keys are reported as needing a restart.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use ward_model::{SecurityEvent, SecuritySeverity, TenantId};

use crate::config::Config;
use crate::gate::{AccessPolicy, Gate};
use crate::hardening::CorsPolicy;
use crate::security::SecurityEvents;
use crate::tls::CertStore;

/// Keys (dotted prefixes) whose changes take effect without a restart.
pub const RELOADABLE: &[&str] = &["roles", "rate_limits", "auth", "cors"];

/// How often the configuration file is checked for changes.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// Reads the configuration as `ward serve` did at start (file, environment, command line).
pub type LoadConfig = Arc<dyn Fn() -> Result<Config, String> + Send + Sync>;

/// Where the configuration comes from.
#[derive(Clone)]
pub struct ConfigSource {
    /// The file to watch, if there is one.
    pub path: Option<PathBuf>,
    /// Reads and merges it.
    pub load: LoadConfig,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The configuration is the one in effect.
    Unchanged,
    /// The configuration changed.
    Applied {
        /// Changed keys that took effect.
        applied: Vec<String>,
        /// Changed keys that take effect only at the next start.
        needs_restart: Vec<String>,
    },
}

/// Applies configuration changes to a running Ward.
pub struct Reloader {
    source: ConfigSource,
    gate: Gate,
    cors: CorsPolicy,
    security: SecurityEvents,
    current: Mutex<Config>,
    certificates: Option<Arc<CertStore>>,
}

impl Reloader {
    /// A reloader for a Ward started with `current`.
    pub fn new(
        source: ConfigSource,
        current: Config,
        gate: Gate,
        cors: CorsPolicy,
        security: SecurityEvents,
        certificates: Option<Arc<CertStore>>,
    ) -> Reloader {
        Reloader {
            source,
            gate,
            cors,
            security,
            current: Mutex::new(current),
            certificates,
        }
    }

    /// SIGHUP: the certificate files (whose changes are also picked up by polling), then the
    /// configuration.
    fn hangup(&self) {
        if let Some(certificates) = &self.certificates
            && let Err(e) = certificates.reload_now()
        {
            tracing::error!(error = %e, "TLS certificate not reloaded; the previous one stays");
        }
        let _ = self.reload("SIGHUP");
    }

    /// Reads, validates and applies the configuration (blocking: it reads a file and
    /// compiles policies). `trigger` says why, for the log.
    pub fn reload(&self, trigger: &str) -> Result<ReloadOutcome, String> {
        let result = (self.source.load)().and_then(|c| {
            let settings = c.clone().settings().map_err(|e| e.to_string())?;
            Ok((c, settings))
        });
        let (config, settings) = match result {
            Ok(ok) => ok,
            Err(reason) => {
                tracing::error!(
                    trigger,
                    reason,
                    "configuration refused; the previous one stays in effect"
                );
                self.security.raise(
                    SecurityEvent::now(
                        TenantId::default_tenant(),
                        SecurityEvent::CONFIG_REJECTED,
                        SecuritySeverity::Medium,
                        format!("a new configuration was refused: {reason}"),
                    )
                    .with("trigger", trigger)
                    .with("reason", reason.clone()),
                );
                return Err(reason);
            }
        };
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let changed = changed_keys(&current, &config);
        if changed.is_empty() {
            return Ok(ReloadOutcome::Unchanged);
        }
        let (applied, needs_restart): (Vec<String>, Vec<String>) =
            changed.into_iter().partition(|k| {
                RELOADABLE
                    .iter()
                    .any(|p| k == p || k.starts_with(&format!("{p}.")))
            });
        if applied.iter().any(|k| k.starts_with("cors")) {
            self.cors.set(&settings.hardening);
        }
        if applied.iter().any(|k| !k.starts_with("cors")) {
            let mut policy = AccessPolicy::from_settings(&settings);
            // Unchanged limits keep their state: a reload must not forgive a blocked source.
            let old = self.gate.policy();
            if !applied.iter().any(|k| k.starts_with("rate_limits")) {
                policy.limiter = old.limiter.clone();
                policy.brute_force = old.brute_force.clone();
            }
            // An unchanged verifier keeps its cached keys.
            if !applied.iter().any(|k| k.starts_with("auth")) {
                policy.jwt = old.jwt.clone();
            }
            self.gate.set_policy(policy);
        }
        if !needs_restart.is_empty() {
            tracing::warn!(keys = ?needs_restart, "these configuration changes take effect at the next start");
        }
        tracing::info!(trigger, applied = ?applied, "configuration reloaded");
        self.security.raise(
            SecurityEvent::now(
                TenantId::default_tenant(),
                SecurityEvent::CONFIG_CHANGED,
                SecuritySeverity::Medium,
                format!(
                    "configuration reloaded ({trigger}): {} applied, {} at next start",
                    applied.len(),
                    needs_restart.len()
                ),
            )
            .with("trigger", trigger)
            .with("applied", applied.join(","))
            .with("needs_restart", needs_restart.join(",")),
        );
        *current = config;
        Ok(ReloadOutcome::Applied {
            applied,
            needs_restart,
        })
    }

    /// Reloads on SIGHUP and when the file changes, until shutdown begins.
    pub async fn watch(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        #[cfg(unix)]
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; reload by editing the file");
                None
            }
        };
        let mut stamp = self.file_stamp();
        loop {
            #[cfg(unix)]
            let hup = async {
                match hangup.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let hup = std::future::pending::<Option<()>>();
            let trigger = tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                _ = hup => "SIGHUP",
                _ = tokio::time::sleep(WATCH_INTERVAL) => {
                    let now = self.file_stamp();
                    if now == stamp {
                        continue;
                    }
                    "file changed"
                }
            };
            stamp = self.file_stamp();
            let reloader = self.clone();
            // Errors are logged and raised inside; nothing else to do with them here.
            let _ = tokio::task::spawn_blocking(move || {
                if trigger == "SIGHUP" {
                    reloader.hangup();
                } else {
                    let _ = reloader.reload(trigger);
                }
            })
            .await;
        }
    }

    fn file_stamp(&self) -> Option<(SystemTime, u64)> {
        let meta = std::fs::metadata(self.source.path.as_ref()?).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }
}

/// Dotted keys (sections, and keys inside sections) whose values differ.
fn changed_keys(old: &Config, new: &Config) -> Vec<String> {
    let (Ok(toml::Value::Table(old)), Ok(toml::Value::Table(new))) =
        (toml::Value::try_from(old), toml::Value::try_from(new))
    else {
        return vec!["(configuration)".to_owned()];
    };
    let mut changed = Vec::new();
    let sections: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for section in sections {
        match (old.get(section), new.get(section)) {
            (Some(toml::Value::Table(a)), Some(toml::Value::Table(b))) => {
                let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
                for key in keys {
                    if a.get(key) != b.get(key) {
                        changed.push(format!("{section}.{key}"));
                    }
                }
            }
            (a, b) if a != b => changed.push(section.clone()),
            _ => {}
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_keys_name_the_key_inside_its_section() {
        let old = Config::default();
        let mut new = Config::default();
        assert!(changed_keys(&old, &new).is_empty());
        new.server.request_timeout = "5s".into();
        new.roles.insert(
            "oncall".into(),
            crate::authz::RoleConfig {
                permissions: vec!["read".into()],
                description: String::new(),
            },
        );
        assert_eq!(
            changed_keys(&old, &new),
            ["roles.oncall", "server.request_timeout"]
        );
    }
}
