use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an identifier could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The text is not `2 * len` hexadecimal digits.
    #[error("expected {expected} hexadecimal digits, got {got:?}")]
    BadHex { expected: usize, got: String },
    /// All-zero ids are invalid in OpenTelemetry.
    #[error("an all-zero id is invalid")]
    Zero,
    /// A tenant name broke the naming rule.
    #[error(
        "invalid tenant {0:?}: use 1-64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit"
    )]
    BadTenant(String),
}

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Builds the id from raw bytes; `None` when the length is wrong or the id is all zeros,
            /// which OpenTelemetry defines as "no id".
            pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
                let arr: [u8; $len] = bytes.try_into().ok()?;
                (arr != [0; $len]).then_some(Self(arr))
            }

            /// Lower-case hexadecimal form, as OTLP/JSON and the API use it.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                let bad = || IdError::BadHex { expected: $len * 2, got: s.chars().take(64).collect() };
                if s.len() != $len * 2 {
                    return Err(bad());
                }
                let mut arr = [0u8; $len];
                hex::decode_to_slice(s, &mut arr).map_err(|_| bad())?;
                if arr == [0; $len] {
                    return Err(IdError::Zero);
                }
                Ok(Self(arr))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_id!(
    /// A 16-byte W3C trace id.
    TraceId,
    16
);
hex_id!(
    /// An 8-byte span id.
    SpanId,
    8
);

/// The tenant a record, key or query belongs to. Every record in Ward has exactly one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    /// The tenant Ward creates on first start.
    pub const DEFAULT: &'static str = "default";

    /// Validates a tenant name: 1–64 characters of `a-z0-9-_`, starting with a letter or digit.
    pub fn new(name: &str) -> Result<Self, IdError> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name.as_bytes()[0].is_ascii_alphanumeric()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(IdError::BadTenant(name.chars().take(80).collect()))
        }
    }

    /// The `default` tenant.
    pub fn default_tenant() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    /// The tenant's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({})", self.0)
    }
}

impl<'de> Deserialize<'de> for TenantId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TenantId::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_round_trips_through_hex() {
        let id: TraceId = "5b8efff798038103d269b633813fc60c".parse().unwrap();
        assert_eq!(id.to_string(), "5b8efff798038103d269b633813fc60c");
        assert_eq!(TraceId::from_bytes(&id.0), Some(id));
    }

    #[test]
    fn bad_ids_are_rejected() {
        assert!("xyz".parse::<TraceId>().is_err());
        assert!(
            "5b8efff798038103d269b633813fc60"
                .parse::<TraceId>()
                .is_err()
        );
        assert_eq!("0000000000000000".parse::<SpanId>(), Err(IdError::Zero));
        assert_eq!(SpanId::from_bytes(&[0; 8]), None);
        assert_eq!(SpanId::from_bytes(&[1; 7]), None);
    }

    #[test]
    fn tenant_names_follow_the_rule() {
        assert!(TenantId::new("default").is_ok());
        assert!(TenantId::new("team-a_2").is_ok());
        for bad in ["", "-a", "A", "a b", "ä", &"x".repeat(65)] {
            assert!(TenantId::new(bad).is_err(), "{bad:?}");
        }
    }
}
