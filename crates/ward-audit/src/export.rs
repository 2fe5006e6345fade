//! The export format: JSON lines, one [`ExportLine`] each, entries in seq order, each
//! checkpoint right after the entry it covers. `docs/examples/verify_audit.py` reads it.

use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::entry::Entry;

/// One line of an export: `{"type":"entry",...}` or `{"type":"checkpoint",...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Entries are nearly every line; boxing them would cost an allocation per line.
#[allow(clippy::large_enum_variant)]
#[serde(tag = "record", rename_all = "lowercase")]
pub enum ExportLine {
    /// An entry with its hash.
    Entry(Entry),
    /// A signed checkpoint.
    Checkpoint(Checkpoint),
}

impl ExportLine {
    /// The line as compact JSON (no trailing newline).
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail (string keys, no non-finite floats).
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses one line.
    pub fn parse(line: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(line)
    }
}
