//! What replaces a finding: a typed token, a mask, a keyed pseudonym, or nothing at all.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use crate::kind::{Category, Kind};

/// How a finding is rewritten.
///
/// In configuration files an operator is a table tagged by `type`:
/// `{ type = "mask", keep_last = 4 }`, `{ type = "pseudonym" }`, `{ type = "drop" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operator {
    /// The kind's typed token, e.g. `[EMAIL]` (the default).
    #[default]
    Replace,
    /// A fixed text, e.g. `***`.
    Fixed {
        /// The replacement.
        text: String,
    },
    /// Keeps the first/last alphanumeric characters and masks the others with `char`, leaving
    /// separators in place: a PAN with `keep_last = 4` becomes `************1111`. At most half of
    /// the alphanumerics are ever kept, whatever the configuration says, so a short value (a CVV)
    /// is never revealed.
    Mask {
        /// Alphanumerics kept at the start.
        #[serde(default)]
        keep_first: usize,
        /// Alphanumerics kept at the end.
        #[serde(default)]
        keep_last: usize,
        /// The masking character.
        #[serde(default = "default_mask_char")]
        char: char,
    },
    /// A keyed pseudonym: `[EMAIL:3f9a1c2b]`, the first `bytes` bytes (hex) of
    /// HMAC-SHA256(key, kind ‖ 0 ‖ normalised value). Stable for a given key, so the same e-mail
    /// address gets the same pseudonym in every log line of a tenant, and useless without the key.
    /// Requires a pseudonym key in the configuration.
    Pseudonym {
        /// Bytes of the MAC kept (4 to 16; 4 by default, i.e. 8 hex characters).
        #[serde(default = "default_pseudonym_bytes")]
        bytes: usize,
    },
    /// Removes the value: in text the match is deleted; in [`crate::Redactor::redact_json`] and
    /// [`crate::Redactor::redact_field`] the whole attribute is removed.
    Drop,
}

fn default_mask_char() -> char {
    '*'
}

fn default_pseudonym_bytes() -> usize {
    4
}

impl Operator {
    /// `Mask` keeping the last `n` alphanumerics.
    pub fn mask_last(n: usize) -> Operator {
        Operator::Mask {
            keep_first: 0,
            keep_last: n,
            char: '*',
        }
    }

    /// `Pseudonym` with the default 8 hex characters.
    pub fn pseudonym() -> Operator {
        Operator::Pseudonym { bytes: 4 }
    }

    pub(crate) fn needs_key(&self) -> bool {
        matches!(self, Operator::Pseudonym { .. })
    }

    /// Appends the replacement of `value` (a finding of `kind`) to `out`.
    pub(crate) fn apply(
        &self,
        kind: &Kind,
        value: &str,
        key: Option<&PseudonymKey>,
        out: &mut String,
    ) {
        match self {
            Operator::Replace => out.push_str(&kind.token()),
            Operator::Fixed { text } => out.push_str(text),
            Operator::Drop => {}
            Operator::Mask {
                keep_first,
                keep_last,
                char,
            } => mask(value, *keep_first, *keep_last, *char, out),
            Operator::Pseudonym { bytes } => match key {
                Some(key) => {
                    let mac = key.mac(kind, value);
                    let n = (*bytes).clamp(4, 16);
                    let token = kind.token();
                    // "[EMAIL]" → "[EMAIL:" + hex + "]"
                    out.push_str(token.strip_suffix(']').unwrap_or(&token));
                    out.push(':');
                    out.push_str(&hex::encode(&mac[..n]));
                    out.push(']');
                }
                // `Redactor::new` refuses a pseudonym operator without a key; a redactor whose key
                // was removed later falls back to the plain token rather than leaking the value.
                None => out.push_str(&kind.token()),
            },
        }
    }
}

fn mask(value: &str, keep_first: usize, keep_last: usize, ch: char, out: &mut String) {
    let total = value.chars().filter(|c| c.is_alphanumeric()).count();
    // Never reveal more than half of the characters that carry information.
    let budget = total / 2;
    let first = keep_first.min(budget);
    let last = keep_last.min(budget - first);
    let mut i = 0;
    for c in value.chars() {
        if c.is_alphanumeric() {
            if i < first || i >= total - last {
                out.push(c);
            } else {
                out.push(ch);
            }
            i += 1;
        } else {
            out.push(c);
        }
    }
}

/// The secret key of [`Operator::Pseudonym`], typically one per tenant. Its `Debug` form never
/// shows the bytes.
///
/// In configuration it is a string: `"hex:<hex bytes>"` or the raw UTF-8 text; at least 16 bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct PseudonymKey(Arc<[u8]>);

impl PseudonymKey {
    /// Minimum key length in bytes.
    pub const MIN_LEN: usize = 16;

    /// A key from raw bytes (see [`PseudonymKey::MIN_LEN`]; checked by [`crate::Redactor::new`]).
    pub fn new(bytes: impl AsRef<[u8]>) -> PseudonymKey {
        PseudonymKey(Arc::from(bytes.as_ref()))
    }

    /// A key from its configuration text (`hex:…` or raw text).
    pub fn parse(text: &str) -> Result<PseudonymKey, hex::FromHexError> {
        match text.strip_prefix("hex:") {
            Some(h) => Ok(PseudonymKey::new(hex::decode(h.trim())?)),
            None => Ok(PseudonymKey::new(text.as_bytes())),
        }
    }

    /// A sub-key for one context (e.g. a tenant name): HMAC-SHA256 of the context under this
    /// key. Pseudonyms made with sub-keys of different contexts do not correlate, and a
    /// sub-key does not reveal the master key.
    ///
    /// ```
    /// use ward_redact::PseudonymKey;
    ///
    /// let master = PseudonymKey::new([7u8; 32]);
    /// assert_eq!(master.derive(b"acme"), master.derive(b"acme"));
    /// assert_ne!(master.derive(b"acme"), master.derive(b"globex"));
    /// assert_eq!(master.derive(b"acme").len(), 32);
    /// ```
    pub fn derive(&self, context: &[u8]) -> PseudonymKey {
        PseudonymKey::new(hmac_sha256(
            &self.0,
            &[b"ward pseudonym key", &[0], context],
        ))
    }

    /// Key length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the key is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn mac(&self, kind: &Kind, value: &str) -> [u8; 32] {
        let mut norm = [0u8; 128];
        let normalised = normalise(kind, value, &mut norm);
        let parts: [&[u8]; 3] = [
            kind.as_str().as_bytes(),
            &[0],
            normalised.unwrap_or(value.as_bytes()),
        ];
        hmac_sha256(&self.0, &parts)
    }
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PseudonymKey({} bytes)", self.0.len())
    }
}

impl<'de> Deserialize<'de> for PseudonymKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PseudonymKey, D::Error> {
        let text = String::deserialize(deserializer)?;
        PseudonymKey::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Normalises a value before hashing so that formatting does not change the pseudonym:
/// e-mail addresses are lower-cased; identifiers and numbers lose their separators.
fn normalise<'b>(kind: &Kind, value: &str, buf: &'b mut [u8; 128]) -> Option<&'b [u8]> {
    let numeric = matches!(
        kind.category(),
        Category::Financial | Category::Government | Category::Health
    ) || *kind == Kind::Phone;
    let mut n = 0;
    for b in value.bytes() {
        let keep = match kind {
            Kind::Email => Some(b.to_ascii_lowercase()),
            _ if numeric => b.is_ascii_alphanumeric().then(|| b.to_ascii_uppercase()),
            _ => return None,
        };
        if let Some(b) = keep {
            *buf.get_mut(n)? = b;
            n += 1;
        }
    }
    Some(&buf[..n])
}

/// HMAC-SHA256 (RFC 2104) over the concatenation of `parts`. Written out because it is eight
/// lines on top of `sha2`, which the workspace already uses.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let ipad: [u8; 64] = std::array::from_fn(|i| block[i] ^ 0x36);
    let opad: [u8; 64] = std::array::from_fn(|i| block[i] ^ 0x5c);
    let mut inner = Sha256::new();
    inner.update(ipad);
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(opad);
    outer.update(inner.finalize());
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231() {
        let key = [0x0bu8; 20];
        let mac = hmac_sha256(&key, &[b"Hi There"]);
        assert_eq!(
            hex::encode(mac),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Case 6: a key longer than the block is hashed first.
        let mac = hmac_sha256(
            &[0xaa; 131],
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn mask_keeps_separators_and_last_digits() {
        let mut out = String::new();
        Operator::mask_last(4).apply(&Kind::CreditCard, "4111111111111111", None, &mut out);
        assert_eq!(out, "************1111");
        out.clear();
        Operator::mask_last(4).apply(&Kind::CreditCard, "4111 1111 1111 1111", None, &mut out);
        assert_eq!(out, "**** **** **** 1111");
        out.clear();
        Operator::mask_last(4).apply(&Kind::Cvv, "123", None, &mut out);
        assert_eq!(out, "**3", "never more than half is revealed");
        out.clear();
        Operator::Mask {
            keep_first: 1,
            keep_last: 0,
            char: '#',
        }
        .apply(&Kind::Email, "jo@x.io", None, &mut out);
        assert_eq!(out, "j#@#.##");
    }

    #[test]
    fn pseudonyms_are_stable_keyed_and_normalised() {
        let key = PseudonymKey::new(b"0123456789abcdef-tenant-a");
        let other = PseudonymKey::new(b"0123456789abcdef-tenant-b");
        let p = |k: &PseudonymKey, kind: &Kind, v: &str| {
            let mut out = String::new();
            Operator::pseudonym().apply(kind, v, Some(k), &mut out);
            out
        };
        let a = p(&key, &Kind::Email, "Jane.Doe@Example.com");
        assert!(
            a.starts_with("[EMAIL:") && a.ends_with(']') && a.len() == "[EMAIL:]".len() + 8,
            "{a}"
        );
        assert_eq!(a, p(&key, &Kind::Email, "jane.doe@example.com"));
        assert_ne!(a, p(&other, &Kind::Email, "jane.doe@example.com"));
        assert_eq!(
            p(&key, &Kind::CreditCard, "4111 1111 1111 1111"),
            p(&key, &Kind::CreditCard, "4111-1111-1111-1111")
        );
        assert_ne!(
            p(&key, &Kind::GenericSecret, "abc"),
            p(&key, &Kind::PasswordAssignment, "abc")
        );
    }

    #[test]
    fn keys_parse_and_hide() {
        let k = PseudonymKey::parse("hex:00ff00ff00ff00ff00ff00ff00ff00ff").unwrap();
        assert_eq!(k.len(), 16);
        assert_eq!(format!("{k:?}"), "PseudonymKey(16 bytes)");
        assert!(PseudonymKey::parse("hex:zz").is_err());
    }

    #[test]
    fn operators_deserialize_from_tagged_tables() {
        let op: Operator = serde_json::from_str(r#"{"type":"mask","keep_last":4}"#).unwrap();
        assert_eq!(op, Operator::mask_last(4));
        let op: Operator = serde_json::from_str(r#"{"type":"pseudonym"}"#).unwrap();
        assert_eq!(op, Operator::pseudonym());
        let op: Operator = serde_json::from_str(r#"{"type":"drop"}"#).unwrap();
        assert_eq!(op, Operator::Drop);
    }
}
