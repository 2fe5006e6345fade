//! Security events: things an operator must know about that are not telemetry of their own
//! services — a credential found in incoming telemetry, and later authentication failures, key
//! changes and the like. Every producer builds a [`SecurityEvent`]; the server stores, counts
//! and serves them in one place.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Attributes, TenantId};

/// How urgent a security event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecuritySeverity {
    /// Worth a look in the next review.
    Low,
    /// Needs attention soon.
    Medium,
    /// Needs action today: a credential has leaked or an attack is under way.
    High,
    /// Needs action now.
    Critical,
}

impl SecuritySeverity {
    /// Every severity, lowest first.
    pub const ALL: [SecuritySeverity; 4] = [
        SecuritySeverity::Low,
        SecuritySeverity::Medium,
        SecuritySeverity::High,
        SecuritySeverity::Critical,
    ];

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SecuritySeverity::Low => "low",
            SecuritySeverity::Medium => "medium",
            SecuritySeverity::High => "high",
            SecuritySeverity::Critical => "critical",
        }
    }

    /// Rank stored in the database (1 = low … 4 = critical).
    pub fn rank(self) -> u8 {
        self as u8 + 1
    }

    /// The severity of a stored rank.
    pub fn from_rank(rank: u8) -> Option<SecuritySeverity> {
        SecuritySeverity::ALL
            .get(usize::from(rank).checked_sub(1)?)
            .copied()
    }
}

impl fmt::Display for SecuritySeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SecuritySeverity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SecuritySeverity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown security severity {s:?}: use low, medium, high or critical")
            })
    }
}

/// One security event of a tenant. It names what happened and where, never a secret value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityEvent {
    /// When Ward observed it (Unix nanoseconds).
    pub time_unix_nano: i64,
    /// The tenant it concerns.
    pub tenant: TenantId,
    /// What happened, in `snake_case`, e.g. [`SecurityEvent::CREDENTIAL_IN_TELEMETRY`].
    pub kind: String,
    /// How urgent it is.
    pub severity: SecuritySeverity,
    /// The service involved, when there is one (empty otherwise).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// One sentence for people.
    pub message: String,
    /// Structured facts (credential type, attribute key, counts …).
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub details: Attributes,
}

impl SecurityEvent {
    /// Kind of the event raised when the scrubber finds a credential in incoming telemetry.
    pub const CREDENTIAL_IN_TELEMETRY: &'static str = "credential_in_telemetry";
    /// A request presented a credential that was refused.
    pub const AUTHENTICATION_FAILED: &'static str = "authentication_failed";
    /// An authenticated caller asked for something its grants do not allow.
    pub const FORBIDDEN: &'static str = "forbidden";
    /// A caller was refused for exceeding a rate limit.
    pub const RATE_LIMITED: &'static str = "rate_limited";
    /// A source was blocked after repeated authentication failures.
    pub const BRUTE_FORCE_BLOCKED: &'static str = "brute_force_blocked";
    /// An API key was created.
    pub const KEY_CREATED: &'static str = "key_created";
    /// An API key was rotated (a successor created, the old one given a grace period).
    pub const KEY_ROTATED: &'static str = "key_rotated";
    /// An API key was revoked.
    pub const KEY_REVOKED: &'static str = "key_revoked";
    /// A TLS handshake failed.
    pub const TLS_HANDSHAKE_FAILED: &'static str = "tls_handshake_failed";
    /// A new configuration took effect.
    pub const CONFIG_CHANGED: &'static str = "config_changed";
    /// A new configuration was refused; the previous one stays in effect.
    pub const CONFIG_REJECTED: &'static str = "config_rejected";

    /// An event of `kind` for `tenant`, stamped now, with no service and no details.
    pub fn now(
        tenant: TenantId,
        kind: &str,
        severity: SecuritySeverity,
        message: impl Into<String>,
    ) -> SecurityEvent {
        SecurityEvent {
            time_unix_nano: crate::time::now_unix_nanos(),
            tenant,
            kind: kind.to_owned(),
            severity,
            service: String::new(),
            message: message.into(),
            details: Attributes::default(),
        }
    }

    /// Adds a string detail.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> SecurityEvent {
        self.details.insert(key.to_owned(), value.into().into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_round_trip_and_order() {
        for s in SecuritySeverity::ALL {
            assert_eq!(SecuritySeverity::from_rank(s.rank()), Some(s));
            assert_eq!(s.as_str().parse::<SecuritySeverity>(), Ok(s));
        }
        assert_eq!(SecuritySeverity::from_rank(0), None);
        assert_eq!(SecuritySeverity::from_rank(5), None);
        assert!(SecuritySeverity::High > SecuritySeverity::Medium);
        assert!("urgent".parse::<SecuritySeverity>().is_err());
    }
}
