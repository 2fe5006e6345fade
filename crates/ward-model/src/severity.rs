use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The six severity levels Ward reasons in. Each covers a range of four OpenTelemetry
/// severity numbers (`TRACE`=1..4, `DEBUG`=5..8, … `FATAL`=21..24); the enum value is the
/// lowest number of its range so that `level >= warn` is `severity_number >= 13`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum Severity {
    /// Numbers 1–4.
    Trace = 1,
    /// Numbers 5–8.
    Debug = 5,
    /// Numbers 9–12. Records without a severity are treated as info.
    Info = 9,
    /// Numbers 13–16.
    Warn = 13,
    /// Numbers 17–20.
    Error = 17,
    /// Numbers 21–24.
    Fatal = 21,
}

impl Severity {
    /// All levels, lowest first.
    pub const ALL: [Severity; 6] = [
        Severity::Trace,
        Severity::Debug,
        Severity::Info,
        Severity::Warn,
        Severity::Error,
        Severity::Fatal,
    ];

    /// The level of an OpenTelemetry severity number; 0 ("unspecified") and out-of-range
    /// numbers count as info.
    pub fn from_number(n: i32) -> Severity {
        match n {
            1..=4 => Severity::Trace,
            5..=8 => Severity::Debug,
            13..=16 => Severity::Warn,
            17..=20 => Severity::Error,
            21..=24 => Severity::Fatal,
            _ => Severity::Info,
        }
    }

    /// The lowest OpenTelemetry severity number of this level.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// Lower-case name: `trace`, `debug`, `info`, `warn`, `error`, `fatal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Trace => "trace",
            Severity::Debug => "debug",
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Error => "error",
            Severity::Fatal => "fatal",
        }
    }

    /// Recognises the level names logging libraries write, in any case: `warning`, `err`,
    /// `critical`, `panic`, `emerg`, `notice`, `verbose` and the like.
    pub fn from_name(name: &str) -> Option<Severity> {
        let lower = name.trim().to_ascii_lowercase();
        Some(match lower.as_str() {
            "trace" | "trc" | "finest" | "finer" | "verbose" => Severity::Trace,
            "debug" | "dbg" | "fine" | "config" => Severity::Debug,
            "info" | "information" | "informational" | "inf" | "notice" | "log" => Severity::Info,
            "warn" | "warning" | "wrn" => Severity::Warn,
            "error" | "err" | "severe" | "exception" => Severity::Error,
            "fatal" | "critical" | "crit" | "panic" | "emerg" | "emergency" | "alert"
            | "dpanic" => Severity::Fatal,
            _ => return None,
        })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Severity::from_name(s).ok_or_else(|| {
            format!("unknown level {s:?}: use trace, debug, info, warn, error or fatal")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_map_to_levels() {
        assert_eq!(Severity::from_number(0), Severity::Info);
        assert_eq!(Severity::from_number(4), Severity::Trace);
        assert_eq!(Severity::from_number(13), Severity::Warn);
        assert_eq!(Severity::from_number(24), Severity::Fatal);
        assert_eq!(Severity::from_number(99), Severity::Info);
        for level in Severity::ALL {
            assert_eq!(Severity::from_number(level.number() as i32), level);
        }
    }

    #[test]
    fn names_are_recognised() {
        assert_eq!("WARNING".parse::<Severity>(), Ok(Severity::Warn));
        assert_eq!(Severity::from_name("critical"), Some(Severity::Fatal));
        assert_eq!(Severity::from_name("loud"), None);
    }
}
