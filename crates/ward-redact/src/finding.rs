//! Results: findings, redacted text and the per-batch report.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};

use crate::kind::Kind;

/// Which detector produced a finding: a built-in id such as `"card.luhn"`, `"github.classic"`,
/// `"keyword.password"`, `"field"` (a field-name rule), or `"custom.<rule name>"`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Detector(Repr);

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Repr {
    Builtin(&'static str),
    Custom(Arc<str>),
}

impl Detector {
    pub(crate) const fn builtin(id: &'static str) -> Detector {
        Detector(Repr::Builtin(id))
    }

    pub(crate) fn custom(rule: &str) -> Detector {
        Detector(Repr::Custom(Arc::from(format!("custom.{rule}"))))
    }

    /// The detector id.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Builtin(s) => s,
            Repr::Custom(s) => s,
        }
    }

    /// Whether a custom rule produced the finding.
    pub fn is_custom(&self) -> bool {
        matches!(self.0, Repr::Custom(_))
    }
}

impl fmt::Debug for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Detector {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One redacted span: its kind, byte range in the input and detector; never the value.
///
/// Findings returned by [`crate::Redactor::find`] are sorted and non-overlapping, and their
/// bounds are on `char` boundaries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Finding {
    /// What was found.
    pub kind: Kind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// Which detector found it.
    pub detector: Detector,
}

impl Finding {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the span is empty (never the case for returned findings).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// The byte range.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }

    /// Whether this is a credential (see [`Kind::is_credential`]).
    pub fn is_credential(&self) -> bool {
        self.kind.is_credential()
    }
}

/// Redacted text and what was found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted<'a> {
    /// The text with every finding rewritten; borrowed (no allocation) when nothing was found.
    pub text: Cow<'a, str>,
    /// The findings, in input coordinates.
    pub findings: Vec<Finding>,
}

impl Redacted<'_> {
    /// Whether nothing was found.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// Whether a credential was found.
    pub fn has_credentials(&self) -> bool {
        self.findings.iter().any(Finding::is_credential)
    }
}

/// The outcome of [`crate::Redactor::redact_field`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRedaction<'a> {
    /// The new value, or `None` when the attribute must be removed.
    pub value: Option<Cow<'a, str>>,
    /// What was found (a field rule gives one finding spanning the whole value, detector
    /// `"field"`).
    pub findings: Vec<Finding>,
}

/// A credential seen while redacting, for the server's security event: its kind, the attribute
/// key (dotted path in JSON) when it came from one, the detector and how many times it was
/// seen. Never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialEvent {
    /// Credential kind.
    pub kind: Kind,
    /// Attribute key or JSON path, if any.
    pub key: Option<String>,
    /// Detector id.
    pub detector: Detector,
    /// Occurrences.
    pub count: u64,
}

/// Aggregates findings over many values (a batch of records): counts by kind (for
/// `ward_redactions_total{tenant,type}`), credential events and dropped attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    counts: BTreeMap<Kind, u64>,
    credentials: Vec<CredentialEvent>,
    dropped: u64,
}

impl Report {
    /// Distinct credential events kept per report; more are still counted in `counts`.
    pub const MAX_CREDENTIAL_EVENTS: usize = 256;

    /// An empty report.
    pub fn new() -> Report {
        Report::default()
    }

    /// Adds findings, attributing credentials to `key` (an attribute key or JSON path).
    pub fn record(&mut self, findings: &[Finding], key: Option<&str>) {
        for f in findings {
            *self.counts.entry(f.kind.clone()).or_insert(0) += 1;
            if f.is_credential() {
                self.credential(&f.kind, key, &f.detector);
            }
        }
    }

    fn credential(&mut self, kind: &Kind, key: Option<&str>, detector: &Detector) {
        if let Some(ev) = self
            .credentials
            .iter_mut()
            .find(|e| e.kind == *kind && e.key.as_deref() == key)
        {
            ev.count += 1;
        } else if self.credentials.len() < Self::MAX_CREDENTIAL_EVENTS {
            self.credentials.push(CredentialEvent {
                kind: kind.clone(),
                key: key.map(str::to_string),
                detector: detector.clone(),
                count: 1,
            });
        }
    }

    /// Counts one removed attribute.
    pub fn record_dropped(&mut self) {
        self.dropped += 1;
    }

    /// Findings by kind.
    pub fn counts(&self) -> impl Iterator<Item = (&Kind, u64)> {
        self.counts.iter().map(|(k, &n)| (k, n))
    }

    /// Findings of one kind.
    pub fn count(&self, kind: &Kind) -> u64 {
        self.counts.get(kind).copied().unwrap_or(0)
    }

    /// All findings.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Credential events (deduplicated by kind and key).
    pub fn credentials(&self) -> &[CredentialEvent] {
        &self.credentials
    }

    /// Whether any credential was seen.
    pub fn has_credentials(&self) -> bool {
        !self.credentials.is_empty()
    }

    /// Attributes removed (drop operator).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.dropped == 0
    }

    /// Adds another report's numbers to this one.
    pub fn merge(&mut self, other: &Report) {
        for (k, n) in &other.counts {
            *self.counts.entry(k.clone()).or_insert(0) += n;
        }
        for ev in &other.credentials {
            if let Some(mine) = self
                .credentials
                .iter_mut()
                .find(|e| e.kind == ev.kind && e.key == ev.key)
            {
                mine.count += ev.count;
            } else if self.credentials.len() < Self::MAX_CREDENTIAL_EVENTS {
                self.credentials.push(ev.clone());
            }
        }
        self.dropped += other.dropped;
    }

    /// Resets the report for reuse.
    pub fn clear(&mut self) {
        self.counts.clear();
        self.credentials.clear();
        self.dropped = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(kind: Kind) -> Finding {
        Finding {
            kind,
            start: 0,
            end: 1,
            detector: Detector::builtin("t"),
        }
    }

    #[test]
    fn report_counts_and_deduplicates_credentials() {
        let mut r = Report::new();
        r.record(
            &[f(Kind::Email), f(Kind::Jwt)],
            Some("http.request.header.x"),
        );
        r.record(&[f(Kind::Jwt)], Some("http.request.header.x"));
        r.record(&[f(Kind::Jwt)], None);
        assert_eq!(r.count(&Kind::Jwt), 3);
        assert_eq!(r.total(), 4);
        assert_eq!(r.credentials().len(), 2);
        assert_eq!(r.credentials()[0].count, 2);
        let mut other = Report::new();
        other.merge(&r);
        other.merge(&r);
        assert_eq!(other.count(&Kind::Jwt), 6);
        assert_eq!(other.credentials()[0].count, 4);
        other.clear();
        assert!(other.is_empty());
    }
}
