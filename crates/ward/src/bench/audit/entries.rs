//! The audit entries every measurement of `ward bench audit` appends: generated once from a
//! seed, then used in turn, so that the client spends its time sending, not generating.

use anyhow::Context;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::bench::corpus::Rng;

/// Size of one raw fsync record, about the size of one encoded audit entry.
pub const RECORD_BYTES: usize = 256;

/// Most entries Ward accepts in one `POST /api/v1/audit`.
pub const MAX_BATCH: u32 = 1000;

/// Agents that act.
const AGENTS: [&str; 6] = [
    "support-bot",
    "billing-agent",
    "planner",
    "retriever",
    "code-assistant",
    "ops-runbook",
];

/// What they do, with the tools they use.
const ACTIONS: [(&str, &str); 6] = [
    ("tool.call", "lookup"),
    ("tool.call", "refund"),
    ("record.read", "crm"),
    ("record.update", "crm"),
    ("message.send", "email"),
    ("secret.read", "vault"),
];

/// Kinds of resources acted upon.
const RESOURCES: [&str; 5] = [
    "crm/ticket",
    "crm/customer",
    "billing/invoice",
    "kb/article",
    "vault/secret",
];

/// One generated audit entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Who acted.
    pub agent: &'static str,
    /// What it did.
    pub action: &'static str,
    /// What it acted upon.
    pub resource: String,
    /// `success`, `failure`, `denied` or `error`.
    pub outcome: &'static str,
    /// The person the agent acted for.
    pub on_behalf_of: String,
    /// 32 hex digits.
    pub trace_id: String,
    /// Free-form details, a JSON object.
    pub details: Value,
}

impl Entry {
    /// The entry as `POST /api/v1/audit` takes it.
    pub fn to_json(&self) -> Value {
        json!({
            "agent": self.agent,
            "action": self.action,
            "resource": self.resource,
            "outcome": self.outcome,
            "on_behalf_of": self.on_behalf_of,
            "trace_id": self.trace_id,
            "details": self.details,
        })
    }

    /// The details as text, as the PostgreSQL peer stores them.
    pub fn details_text(&self) -> String {
        self.details.to_string()
    }
}

/// `n` entries determined by `seed`: 90% success, 5% failure, 3% denied, 2% error.
pub fn generate(seed: u64, n: usize) -> Vec<Entry> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let agent = *rng.pick(&AGENTS);
            let (action, tool) = *rng.pick(&ACTIONS);
            let roll = rng.below(100);
            let outcome = match roll {
                0..90 => "success",
                90..95 => "failure",
                95..98 => "denied",
                _ => "error",
            };
            Entry {
                agent,
                action,
                resource: format!("{}/{}", rng.pick(&RESOURCES), rng.range(1, 99_999)),
                outcome,
                on_behalf_of: format!("user-{}", rng.range(1, 5_000)),
                trace_id: format!("{}{}", rng.hex16(), rng.hex16()),
                details: json!({ "tool": tool, "n": rng.below(10), "ms": rng.range(1, 900) }),
            }
        })
        .collect()
}

/// Request bodies of `per_body` entries each (one JSON object when 1, else an array), `count`
/// of them, taking the entries in turn.
pub fn bodies(entries: &[Entry], per_body: usize, count: usize) -> anyhow::Result<Vec<Bytes>> {
    anyhow::ensure!(!entries.is_empty(), "no entries to send");
    let mut next = entries.iter().cycle();
    (0..count)
        .map(|_| {
            let value = if per_body == 1 {
                next.next().map(Entry::to_json).unwrap_or(Value::Null)
            } else {
                Value::Array(
                    (0..per_body)
                        .filter_map(|_| next.next().map(Entry::to_json))
                        .collect(),
                )
            };
            serde_json::to_vec(&value)
                .map(Bytes::from)
                .context("cannot encode an audit entry")
        })
        .collect()
}

/// A raw fsync record of [`RECORD_BYTES`]: the entry's sequence number and JSON, cut or padded
/// with spaces, ending in a newline.
pub fn record(seq: u64, entry: &Entry) -> Vec<u8> {
    let mut out = format!("{seq:020} {}", entry.to_json()).into_bytes();
    out.resize(RECORD_BYTES - 1, b' ');
    out.push(b'\n');
    out
}

/// 32 bytes standing in for an entry hash: the PostgreSQL peer stores hashes, it does not
/// compute or check a chain.
pub fn fake_hash(seq: u64) -> Vec<u8> {
    let mut rng = Rng::new(seq);
    (0..4).flat_map(|_| rng.next_u64().to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_valid_and_repeatable() {
        let a = generate(7, 500);
        assert_eq!(a, generate(7, 500));
        assert_ne!(a, generate(8, 500));
        for e in &a {
            assert!(["success", "failure", "denied", "error"].contains(&e.outcome));
            assert_eq!(e.trace_id.len(), 32);
            assert!(e.trace_id.chars().all(|c| c.is_ascii_hexdigit()));
            let v = e.to_json();
            for field in ["agent", "action", "resource", "outcome"] {
                assert!(v[field].as_str().is_some_and(|s| !s.is_empty()), "{v}");
            }
            assert!(v["details"].is_object());
        }
        let successes = a.iter().filter(|e| e.outcome == "success").count();
        assert!((400..490).contains(&successes), "{successes}");
    }

    #[test]
    fn bodies_hold_one_object_or_an_array() {
        let entries = generate(1, 10);
        let single = bodies(&entries, 1, 3).unwrap();
        assert_eq!(single.len(), 3);
        let v: Value = serde_json::from_slice(&single[1]).unwrap();
        assert_eq!(v, entries[1].to_json());
        let batched = bodies(&entries, 25, 2).unwrap();
        let v: Value = serde_json::from_slice(&batched[1]).unwrap();
        let array = v.as_array().unwrap();
        assert_eq!(array.len(), 25);
        // Entries are taken in turn: the second body starts where the first ended.
        assert_eq!(array[0], entries[5].to_json());
        assert!(bodies(&[], 1, 1).is_err());
    }

    #[test]
    fn records_have_a_fixed_size() {
        let entries = generate(3, 2);
        for (i, e) in entries.iter().enumerate() {
            let r = record(i as u64, e);
            assert_eq!(r.len(), RECORD_BYTES);
            assert_eq!(r.last(), Some(&b'\n'));
        }
        assert_eq!(fake_hash(9).len(), 32);
        assert_ne!(fake_hash(9), fake_hash(10));
    }
}
