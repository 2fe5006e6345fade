//! Audit entries, their parts, and the per-tenant [`Chain`] that appends them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ward_model::TenantId;

use crate::encoding;
use crate::seal::Sealed;

/// A SHA-256 value: an entry hash or a `prev_hash`.
pub type Hash = [u8; 32];

/// The `prev_hash` of the entry with `seq` 1: 32 zero bytes. The tenant is bound by the
/// `tenant` field every entry carries, so the genesis value needs no tenant of its own.
pub const GENESIS: Hash = [0; 32];

/// Errors building entry parts from untrusted input.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EntryError {
    /// `details` was not a JSON object, or not valid JSON.
    #[error("details must be a JSON object: {0}")]
    BadDetails(String),
    /// An outcome name other than success, failure, denied, error.
    #[error("unknown outcome {0:?} (expected success, failure, denied or error)")]
    BadOutcome(String),
}

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Kind {
    /// An action an agent reported.
    Agent,
    /// One of Ward's own admin or security actions.
    System,
    /// A retention marker: entries up to `through_seq` were pruned; the last of them had
    /// hash `last_hash`, which is the `prev_hash` of the first entry kept.
    Prune {
        /// The highest pruned sequence number.
        through_seq: u64,
        /// The hash of the entry with `seq == through_seq`.
        #[serde(with = "hex32")]
        last_hash: Hash,
    },
}

/// How the recorded action ended. A closed set so that every verifier encodes it the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The action succeeded.
    Success,
    /// The action was attempted and failed.
    Failure,
    /// The action was refused by policy.
    Denied,
    /// The action could not be carried out because of an error.
    Error,
}

impl Outcome {
    /// The byte used in the canonical encoding.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Failure => 1,
            Outcome::Denied => 2,
            Outcome::Error => 3,
        }
    }

    /// The lowercase name (`success`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }

    /// Parses a lowercase name.
    pub fn parse(s: &str) -> Result<Self, EntryError> {
        match s {
            "success" => Ok(Outcome::Success),
            "failure" => Ok(Outcome::Failure),
            "denied" => Ok(Outcome::Denied),
            "error" => Ok(Outcome::Error),
            _ => Err(EntryError::BadOutcome(s.chars().take(40).collect())),
        }
    }
}

/// A value that may identify a person: plain text, or [`Sealed`] under a per-subject key.
/// JSON: a string, or `{"sealed": {"subject", "nonce", "ciphertext"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Field {
    /// Plain text.
    Plain(String),
    /// Encrypted text; the ciphertext is what the chain hashes.
    Sealed {
        /// The sealed value.
        sealed: Sealed,
    },
}

impl From<&str> for Field {
    fn from(s: &str) -> Self {
        Field::Plain(s.to_owned())
    }
}

impl From<String> for Field {
    fn from(s: String) -> Self {
        Field::Plain(s)
    }
}

impl From<Sealed> for Field {
    fn from(sealed: Sealed) -> Self {
        Field::Sealed { sealed }
    }
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The agent (or, for system entries, Ward's component or admin key id).
    pub agent: String,
    /// The user the agent acted for, if any; may be sealed.
    pub on_behalf_of: Option<Field>,
}

/// The `details` of an entry: the canonical JSON text of a JSON object (keys sorted by
/// their UTF-8 bytes at every level, no whitespace, serde_json's number and string forms).
/// The chain hashes this text as it is; verifiers never re-serialize it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Details(String);

impl Details {
    /// `{}`.
    pub fn empty() -> Self {
        Details("{}".to_owned())
    }

    /// Canonicalizes a JSON object. Sealed values go in as [`Sealed::to_json`].
    pub fn from_map(map: &Map<String, Value>) -> Self {
        let mut out = String::with_capacity(64);
        write_object(map, &mut out);
        Details(out)
    }

    /// Canonicalizes a JSON value, which must be an object.
    pub fn from_value(value: &Value) -> Result<Self, EntryError> {
        match value {
            Value::Object(m) => Ok(Self::from_map(m)),
            _ => Err(EntryError::BadDetails("not an object".into())),
        }
    }

    /// Parses JSON text, which must be an object, and canonicalizes it.
    pub fn parse(text: &str) -> Result<Self, EntryError> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| EntryError::BadDetails(e.to_string()))?;
        Self::from_value(&v)
    }

    /// Text read back from storage or an export, kept exactly as it is: verification hashes
    /// the stored text and must never re-serialize it.
    pub fn stored(text: String) -> Self {
        Details(text)
    }

    /// The canonical text (what is hashed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text parsed back into JSON.
    pub fn to_value(&self) -> Result<Value, EntryError> {
        serde_json::from_str(&self.0).map_err(|e| EntryError::BadDetails(e.to_string()))
    }
}

fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => write_object(m, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(x, out);
            }
            out.push(']');
        }
        // Scalars: serde_json's own compact form (cannot fail for these).
        other => out.push_str(&serde_json::to_string(other).unwrap_or_default()),
    }
}

fn write_object(m: &Map<String, Value>, out: &mut String) {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    out.push('{');
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k).unwrap_or_default());
        out.push(':');
        if let Some(v) = m.get(k) {
            write_value(v, out);
        }
    }
    out.push('}');
}

/// One audit entry as stored and exported: the hashed fields plus its `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The tenant whose chain this entry belongs to.
    #[serde(with = "tenant_serde")]
    pub tenant: TenantId,
    /// 1-based position in the tenant's chain.
    pub seq: u64,
    /// When Ward appended it, nanoseconds since the Unix epoch.
    pub time_unix_nano: i64,
    /// Agent, system or prune marker.
    pub kind: Kind,
    /// Who acted.
    pub actor: Actor,
    /// What was done (e.g. `tool.call`, `key.create`).
    pub action: String,
    /// What it was done to; may be sealed.
    pub resource: Field,
    /// How it ended.
    pub outcome: Outcome,
    /// The trace the action belongs to, if any.
    pub trace_id: Option<String>,
    /// Further facts, canonical JSON object text.
    pub details: Details,
    /// The hash of the previous entry ([`GENESIS`] for seq 1).
    #[serde(with = "hex32")]
    pub prev_hash: Hash,
    /// The hash of this entry as recorded at append time. [`Entry::compute_hash`]
    /// recomputes it from the other fields.
    #[serde(with = "hex32")]
    pub hash: Hash,
}

impl Entry {
    /// Recomputes the hash from the fields (everything except `hash`).
    pub fn compute_hash(&self) -> Hash {
        encoding::entry_hash(self)
    }

    /// The canonical bytes (without the domain prefix).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        encoding::canonical_bytes(self)
    }
}

/// What a caller supplies to [`Chain::append`]; the chain adds tenant, seq, time and hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDraft {
    /// Agent, system or prune marker.
    pub kind: Kind,
    /// Who acted.
    pub actor: Actor,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub resource: Field,
    /// How it ended.
    pub outcome: Outcome,
    /// The trace, if any.
    pub trace_id: Option<String>,
    /// Further facts.
    pub details: Details,
}

impl EntryDraft {
    /// A draft for an agent action with no `on_behalf_of`, trace or details.
    pub fn agent(agent: &str, action: &str, resource: impl Into<Field>, outcome: Outcome) -> Self {
        EntryDraft {
            kind: Kind::Agent,
            actor: Actor {
                agent: agent.to_owned(),
                on_behalf_of: None,
            },
            action: action.to_owned(),
            resource: resource.into(),
            outcome,
            trace_id: None,
            details: Details::empty(),
        }
    }

    /// A draft for one of Ward's own actions.
    pub fn system(
        component: &str,
        action: &str,
        resource: impl Into<Field>,
        outcome: Outcome,
    ) -> Self {
        EntryDraft {
            kind: Kind::System,
            ..Self::agent(component, action, resource, outcome)
        }
    }

    /// A prune marker recording that entries through `through_seq` (last hash `last_hash`)
    /// were removed by retention.
    pub fn prune(through_seq: u64, last_hash: Hash) -> Self {
        EntryDraft {
            kind: Kind::Prune {
                through_seq,
                last_hash,
            },
            ..Self::agent("ward", "audit.prune", "audit", Outcome::Success)
        }
    }
}

/// The append side of one tenant's chain: remembers the last seq and hash.
#[derive(Debug, Clone)]
pub struct Chain {
    tenant: TenantId,
    last_seq: u64,
    last_hash: Hash,
}

impl Chain {
    /// An empty chain: the first entry gets seq 1 and `prev_hash` [`GENESIS`].
    pub fn new(tenant: TenantId) -> Self {
        Chain {
            tenant,
            last_seq: 0,
            last_hash: GENESIS,
        }
    }

    /// Continues a chain whose last stored entry has `last_seq` and `last_hash`.
    pub fn resume(tenant: TenantId, last_seq: u64, last_hash: Hash) -> Self {
        Chain {
            tenant,
            last_seq,
            last_hash,
        }
    }

    /// The tenant.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The seq of the last entry (0 when empty).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The hash of the last entry ([`GENESIS`] when empty).
    pub fn last_hash(&self) -> Hash {
        self.last_hash
    }

    /// Appends a draft at `time_unix_nano`: assigns the next seq and `prev_hash`, computes
    /// the hash. Pure; the caller stores the entry (and only then should treat it as written).
    pub fn append(&mut self, draft: EntryDraft, time_unix_nano: i64) -> Entry {
        let mut e = Entry {
            tenant: self.tenant.clone(),
            seq: self.last_seq.saturating_add(1),
            time_unix_nano,
            kind: draft.kind,
            actor: draft.actor,
            action: draft.action,
            resource: draft.resource,
            outcome: draft.outcome,
            trace_id: draft.trace_id,
            details: draft.details,
            prev_hash: self.last_hash,
            hash: [0; 32],
        };
        e.hash = e.compute_hash();
        self.last_seq = e.seq;
        self.last_hash = e.hash;
        e
    }
}

pub(crate) mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.as_bytes(), &mut out).map_err(D::Error::custom)?;
        Ok(out)
    }
}

pub(crate) mod tenant_serde {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use ward_model::TenantId;

    pub fn serialize<S: Serializer>(v: &TenantId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TenantId, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        TenantId::new(&s).map_err(D::Error::custom)
    }
}
