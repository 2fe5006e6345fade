//! `[audit]`: checkpoints, their signing key and where they are pushed, retention and
//! archival, personal detail keys, per-tenant overrides.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ward_audit::{CheckpointPolicy, PublicKey};
use ward_model::TenantId;
use ward_model::time::parse_duration;

use crate::config::ConfigError;

/// The signing key's file name in the data directory, unless `audit.signing_key_file` says
/// otherwise.
pub const SIGNING_KEY_FILE: &str = "audit-signing.key";
/// Most entries in one `POST /api/v1/audit`, at most.
pub const MAX_BATCH_LIMIT: usize = 10_000;

/// `[audit]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSection {
    /// Sign a checkpoint after this many entries (0: only by time).
    pub checkpoint_every: u64,
    /// Sign a checkpoint when this much time passed since the last one and something is
    /// unsigned ("0s": only by count).
    pub checkpoint_interval: String,
    /// The Ed25519 private key (PKCS#8), created on first start; empty: `<data_dir>/audit-signing.key`.
    pub signing_key_file: String,
    /// Earlier public keys (64 hex digits) whose checkpoints still verify after a key change.
    pub trusted_public_keys: Vec<String>,
    /// A directory (ideally another machine's mount) every checkpoint is also written to.
    pub checkpoint_dir: String,
    /// A URL every checkpoint is POSTed to as JSON.
    pub checkpoint_webhook: String,
    /// How long entries are kept before being archived and pruned.
    pub retention: String,
    /// The shortest `retention` this configuration may set, for any tenant.
    pub min_retention: String,
    /// How often retention runs.
    pub retention_interval: String,
    /// Where pruned ranges are archived; empty: `<data_dir>/audit-archive`.
    pub archive_dir: String,
    /// Top-level `details` keys whose values identify a person and are sealed.
    pub personal_details: Vec<String>,
    /// Most entries accepted in one request.
    pub max_batch: usize,
    /// Append requests waiting for the writer before new ones get 503.
    pub max_queued_requests: usize,
    /// Per-tenant `retention` and `personal_details`.
    pub tenants: BTreeMap<String, AuditTenantSection>,
}

impl Default for AuditSection {
    fn default() -> Self {
        AuditSection {
            checkpoint_every: 1_000,
            checkpoint_interval: "60s".into(),
            signing_key_file: String::new(),
            trusted_public_keys: Vec::new(),
            checkpoint_dir: String::new(),
            checkpoint_webhook: String::new(),
            retention: "400d".into(),
            min_retention: "30d".into(),
            retention_interval: "24h".into(),
            archive_dir: String::new(),
            personal_details: Vec::new(),
            max_batch: 1_000,
            max_queued_requests: 4_096,
            tenants: BTreeMap::new(),
        }
    }
}

/// `[audit.tenants.<tenant>]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditTenantSection {
    /// This tenant's retention (at least `audit.min_retention`).
    pub retention: Option<String>,
    /// This tenant's personal detail keys (replacing `audit.personal_details`).
    pub personal_details: Option<Vec<String>>,
}

/// `[audit]`, validated.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// When to sign.
    pub policy: CheckpointPolicy,
    /// The signing key file.
    pub signing_key_path: PathBuf,
    /// Older trusted public keys.
    pub trusted_public_keys: Vec<PublicKey>,
    /// Checkpoint copies go here.
    pub checkpoint_dir: Option<PathBuf>,
    /// Checkpoints are POSTed here.
    pub checkpoint_webhook: Option<http::Uri>,
    /// Default retention, nanoseconds.
    pub retention_nanos: i64,
    /// How often retention runs.
    pub retention_interval: Duration,
    /// Archives go here.
    pub archive_dir: PathBuf,
    /// Default personal detail keys.
    pub personal_details: Arc<[String]>,
    /// Per-tenant overrides: retention and personal keys.
    pub tenants: HashMap<TenantId, (i64, Arc<[String]>)>,
    /// Most entries per request.
    pub max_batch: usize,
    /// Queue bound of the writer, in requests.
    pub max_queued_requests: usize,
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

fn duration(key: &'static str, text: &str) -> Result<i64, ConfigError> {
    parse_duration(text).map_err(|e| invalid(key, e))
}

fn path_or(text: &str, data_dir: &Path, default: &str) -> PathBuf {
    if text.trim().is_empty() {
        data_dir.join(default)
    } else {
        PathBuf::from(text.trim())
    }
}

fn personal_keys(keys: &[String]) -> Result<Arc<[String]>, ConfigError> {
    for k in keys {
        if k.is_empty() || k.len() > 200 {
            return Err(invalid(
                "audit.personal_details",
                "keys must be 1 to 200 bytes long",
            ));
        }
    }
    Ok(Arc::from(keys.to_vec()))
}

impl AuditSection {
    /// Validates the section; paths default into `data_dir`.
    pub fn settings(&self, data_dir: &Path) -> Result<AuditSettings, ConfigError> {
        let interval = duration("audit.checkpoint_interval", &self.checkpoint_interval)?;
        let min = duration("audit.min_retention", &self.min_retention)?;
        let retention_of = |key: &'static str, text: &str| -> Result<i64, ConfigError> {
            let r = duration(key, text)?;
            if r < min {
                return Err(invalid(
                    key,
                    format!(
                        "{text} is shorter than audit.min_retention ({})",
                        self.min_retention
                    ),
                ));
            }
            Ok(r)
        };
        let retention_nanos = retention_of("audit.retention", &self.retention)?;
        let retention_interval = duration("audit.retention_interval", &self.retention_interval)?;
        if retention_interval < 1_000_000_000 {
            return Err(invalid("audit.retention_interval", "use at least 1s"));
        }
        let trusted_public_keys = self
            .trusted_public_keys
            .iter()
            .map(|k| {
                PublicKey::from_hex(k.trim()).map_err(|e| {
                    invalid(
                        "audit.trusted_public_keys",
                        format!("{e} (expected 64 hex digits)"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let checkpoint_webhook = match self.checkpoint_webhook.trim() {
            "" => None,
            url => {
                let uri: http::Uri = url
                    .parse()
                    .map_err(|_| invalid("audit.checkpoint_webhook", "not a URL"))?;
                if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
                    return Err(invalid(
                        "audit.checkpoint_webhook",
                        "use an http:// or https:// URL",
                    ));
                }
                Some(uri)
            }
        };
        if self.max_batch == 0 || self.max_batch > MAX_BATCH_LIMIT {
            return Err(invalid("audit.max_batch", "use 1 to 10000"));
        }
        if self.max_queued_requests == 0 {
            return Err(invalid("audit.max_queued_requests", "must be positive"));
        }
        let personal_details = personal_keys(&self.personal_details)?;
        let mut tenants = HashMap::new();
        for (name, t) in &self.tenants {
            let tenant = TenantId::new(name)
                .map_err(|e| invalid("audit.tenants", format!("{name:?}: {e}")))?;
            let retention = match &t.retention {
                Some(r) => retention_of("audit.tenants.retention", r)?,
                None => retention_nanos,
            };
            let personal = match &t.personal_details {
                Some(keys) => personal_keys(keys)?,
                None => personal_details.clone(),
            };
            tenants.insert(tenant, (retention, personal));
        }
        Ok(AuditSettings {
            policy: CheckpointPolicy {
                every_entries: self.checkpoint_every,
                every_nanos: interval,
            },
            signing_key_path: path_or(&self.signing_key_file, data_dir, SIGNING_KEY_FILE),
            trusted_public_keys,
            checkpoint_dir: (!self.checkpoint_dir.trim().is_empty())
                .then(|| PathBuf::from(self.checkpoint_dir.trim())),
            checkpoint_webhook,
            retention_nanos,
            retention_interval: Duration::from_nanos(retention_interval as u64),
            archive_dir: path_or(&self.archive_dir, data_dir, "audit-archive"),
            personal_details,
            tenants,
            max_batch: self.max_batch,
            max_queued_requests: self.max_queued_requests,
        })
    }
}

impl AuditSettings {
    /// The retention of `tenant`, nanoseconds.
    pub fn retention_of(&self, tenant: &TenantId) -> i64 {
        self.tenants
            .get(tenant)
            .map(|t| t.0)
            .unwrap_or(self.retention_nanos)
    }

    /// The personal detail keys of `tenant`.
    pub fn personal_of(&self, tenant: &TenantId) -> Arc<[String]> {
        self.tenants
            .get(tenant)
            .map(|t| t.1.clone())
            .unwrap_or_else(|| self.personal_details.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_minimum_retention_is_enforced() {
        let s = AuditSection::default().settings(Path::new("/d")).unwrap();
        assert_eq!(s.retention_nanos, 400 * 86_400 * 1_000_000_000);
        assert_eq!(s.signing_key_path, Path::new("/d/audit-signing.key"));
        assert_eq!(s.archive_dir, Path::new("/d/audit-archive"));

        let short = AuditSection {
            retention: "7d".into(),
            ..Default::default()
        };
        let e = short.settings(Path::new("/d")).unwrap_err().to_string();
        assert!(
            e.contains("audit.retention") && e.contains("min_retention"),
            "{e}"
        );

        let mut per_tenant = AuditSection::default();
        per_tenant.tenants.insert(
            "acme".into(),
            AuditTenantSection {
                retention: Some("1d".into()),
                personal_details: None,
            },
        );
        assert!(per_tenant.settings(Path::new("/d")).is_err());
        per_tenant.min_retention = "0s".into();
        let s = per_tenant.settings(Path::new("/d")).unwrap();
        assert_eq!(
            s.retention_of(&TenantId::new("acme").unwrap()),
            86_400 * 1_000_000_000
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        for (section, key) in [
            (
                AuditSection {
                    checkpoint_webhook: "ftp://x".into(),
                    ..Default::default()
                },
                "audit.checkpoint_webhook",
            ),
            (
                AuditSection {
                    trusted_public_keys: vec!["zz".into()],
                    ..Default::default()
                },
                "audit.trusted_public_keys",
            ),
            (
                AuditSection {
                    max_batch: 0,
                    ..Default::default()
                },
                "audit.max_batch",
            ),
        ] {
            let e = section.settings(Path::new("/d")).unwrap_err().to_string();
            assert!(e.starts_with(key), "{e}");
        }
    }
}
