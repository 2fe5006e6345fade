//! Configuration: profile, kinds on and off, custom rules, allow-lists, field rules, operators
//! and the pseudonym key. Deserialisable (TOML, JSON) so that the server and the CLI read it
//! from their configuration files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::kind::Kind;
use crate::operator::{Operator, PseudonymKey};
use crate::profile::Profile;

/// Everything [`crate::Redactor::new`] compiles.
///
/// ```
/// use ward_redact::{RedactConfig, Redactor, Operator, Kind, Profile};
///
/// let config: RedactConfig = serde_json::from_str(r#"{
///     "profile": "pci",
///     "enable": ["email"],
///     "operators": { "credit_card": { "type": "mask", "keep_last": 4 } },
///     "allow": { "email_domains": ["example.com"] },
///     "fields": [ { "pattern": "*.internal_note", "operator": { "type": "drop" } } ]
/// }"#).unwrap();
/// let r = Redactor::new(&config).unwrap();
/// assert_eq!(r.redact_str("card 4111 1111 1111 1111").text, "card **** **** **** 1111");
/// assert_eq!(r.redact_str("ops@example.com, jane@corp.io").text, "ops@example.com, [EMAIL]");
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedactConfig {
    /// Starting set of kinds.
    pub profile: Profile,
    /// Kinds to add to the profile.
    pub enable: Vec<Kind>,
    /// Kinds to remove from the profile.
    pub disable: Vec<Kind>,
    /// Custom text rules.
    pub rules: Vec<CustomRule>,
    /// Values never redacted.
    pub allow: AllowList,
    /// Field-name rules (in addition to the built-in ones unless `builtin_field_rules` is false).
    pub fields: Vec<FieldRule>,
    /// Whether the profile's built-in field rules (`password`, `authorization`, `*token`,
    /// `card_number`, `ssn` …) apply.
    pub builtin_field_rules: bool,
    /// Operators by target: a kind name (`"credit_card"`), a category name (`"secret"`,
    /// `"financial"` …) or `"*"` for every kind. The most specific target wins; the default is
    /// [`Operator::Replace`].
    pub operators: BTreeMap<String, Operator>,
    /// Key of the pseudonym operator (required when any operator is `pseudonym`). Typically one
    /// per tenant: see [`crate::Redactor::with_pseudonym_key`]. Never serialised.
    #[serde(skip_serializing)]
    pub pseudonym_key: Option<PseudonymKey>,
    /// What a credential in a URL (`scheme://user:pass@host`) covers.
    pub url_credentials: UrlCredentialsMode,
}

impl Default for RedactConfig {
    fn default() -> RedactConfig {
        RedactConfig {
            profile: Profile::Default,
            enable: Vec::new(),
            disable: Vec::new(),
            rules: Vec::new(),
            allow: AllowList::default(),
            fields: Vec::new(),
            builtin_field_rules: true,
            operators: BTreeMap::new(),
            pseudonym_key: None,
            url_credentials: UrlCredentialsMode::Auto,
        }
    }
}

impl RedactConfig {
    /// The default configuration of a profile.
    pub fn profile(profile: Profile) -> RedactConfig {
        RedactConfig {
            profile,
            ..RedactConfig::default()
        }
    }
}

/// What a URL credential finding covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UrlCredentialsMode {
    /// Only the password in database and broker connection strings
    /// (`postgres://app:[CONNECTION_STRING]@db:5432/x`: the role name is what operators debug
    /// with), user and password in every other URL (`https://[URL_CREDENTIALS]@host/`: a
    /// basic-auth user name is half of the credential, often a person's login or a token).
    #[default]
    Auto,
    /// Only the password: `postgres://app:[CONNECTION_STRING]@db:5432/x`.
    Password,
    /// User and password: `postgres://[CONNECTION_STRING]@db:5432/x`.
    UserAndPassword,
}

/// A custom text rule: a regex, an optional named validator and an optional operator.
///
/// Rules are searched over the whole text, so give them a literal (`EMP-\d{6}`): the regex
/// engine then only wakes up where the literal occurs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRule {
    /// Rule name; findings get [`Kind::Custom`] with this name unless `kind` is set.
    pub name: String,
    /// Regex (Rust `regex` syntax).
    pub pattern: String,
    /// Checksum the match must pass: see [`crate::Validator::ALL`] for names.
    #[serde(default)]
    pub validator: Option<String>,
    /// Report findings as this built-in kind instead of a custom one (e.g. `generic_secret` so
    /// that they count as credentials).
    #[serde(default)]
    pub kind: Option<Kind>,
    /// Operator for this rule's findings (only for rules without `kind`; built-in kinds use
    /// `operators`).
    #[serde(default)]
    pub operator: Option<Operator>,
    /// Capture group to redact (0, the whole match, by default).
    #[serde(default)]
    pub group: usize,
}

/// Values that are never redacted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AllowList {
    /// Exact values. Identifiers and numbers are compared without separators, so
    /// `"4111111111111111"` also allows `4111 1111 1111 1111`.
    pub values: Vec<String>,
    /// E-mail domains (subdomains included) whose addresses are kept, e.g. internal ones.
    pub email_domains: Vec<String>,
    /// Regexes; a finding whose whole text matches one is kept.
    pub patterns: Vec<String>,
    /// Allow the well-known test card numbers ([`AllowList::TEST_CARD_NUMBERS`]).
    pub test_cards: bool,
}

impl AllowList {
    /// Test PANs published by card schemes and payment processors: harmless in logs of test
    /// environments.
    pub const TEST_CARD_NUMBERS: &'static [&'static str] = &[
        "4111111111111111",
        "4242424242424242",
        "4000056655665556",
        "4012888888881881",
        "4222222222222",
        "5555555555554444",
        "5200828282828210",
        "5105105105105100",
        "2223003122003222",
        "378282246310005",
        "371449635398431",
        "378734493671000",
        "6011111111111117",
        "6011000990139424",
        "3056930009020004",
        "36227206271667",
        "3566002020360505",
        "3530111333300000",
        "6200000000000005",
    ];
}

/// A field-name rule: attributes whose key matches `pattern` have their value removed whatever
/// it looks like.
///
/// Patterns are glob-ish and case-insensitive, with `-` and `_` equivalent: `password` (exact),
/// `*password` (suffix: `db_password`, `userPassword`), `*.secret`, `x-api-*`; `*` matches any
/// run (dots included) and `?` one character. They are matched against the attribute's own key
/// and against its dotted path in nested JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRule {
    /// Key pattern.
    pub pattern: String,
    /// Kind reported (default: a custom kind `redacted_field`).
    #[serde(default)]
    pub kind: Option<Kind>,
    /// Operator (default: the kind's operator). `drop` removes the attribute.
    #[serde(default)]
    pub operator: Option<Operator>,
}

impl FieldRule {
    /// A rule replacing matching values with the kind's token.
    pub fn new(pattern: &str, kind: Kind) -> FieldRule {
        FieldRule {
            pattern: pattern.to_string(),
            kind: Some(kind),
            operator: None,
        }
    }

    /// A rule removing matching attributes.
    pub fn drop(pattern: &str) -> FieldRule {
        FieldRule {
            pattern: pattern.to_string(),
            kind: None,
            operator: Some(Operator::Drop),
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A custom rule has no name.
    #[error("a custom rule has an empty name")]
    EmptyRuleName,
    /// Two custom rules share a name.
    #[error("duplicate custom rule name {0:?}")]
    DuplicateRule(String),
    /// A custom rule's regex does not compile.
    #[error("custom rule {name:?}: invalid pattern: {message}")]
    InvalidPattern {
        /// Rule name.
        name: String,
        /// Compiler message.
        message: String,
    },
    /// A custom rule names an unknown validator.
    #[error(
        "custom rule {name:?}: unknown validator {validator:?} (known: luhn, iban, mod97, aba, verhoeff, nhs, mod11, bsn, pesel, de_tax_id, npi, tfn)"
    )]
    UnknownValidator {
        /// Rule name.
        name: String,
        /// The unknown name.
        validator: String,
    },
    /// A custom rule redacts a capture group its pattern does not have.
    #[error("custom rule {name:?}: the pattern has no capture group {group}")]
    NoSuchGroup {
        /// Rule name.
        name: String,
        /// Requested group.
        group: usize,
    },
    /// A custom rule reporting a built-in kind also sets an operator.
    #[error("custom rule {0:?} reports a built-in kind: set its operator in `operators` instead")]
    OperatorOnBuiltinKind(String),
    /// An allow-list pattern does not compile.
    #[error("allow-list pattern {pattern:?}: {message}")]
    InvalidAllowPattern {
        /// The pattern.
        pattern: String,
        /// Compiler message.
        message: String,
    },
    /// A field rule has an empty pattern.
    #[error("a field rule has an empty pattern")]
    EmptyFieldPattern,
    /// An `enable`/`disable` entry is not a built-in kind.
    #[error("unknown kind {0:?} in enable/disable (custom kinds come from rules)")]
    UnknownKind(String),
    /// An `operators` key is neither a kind, a category nor `*`.
    #[error("operator target {0:?} is neither a kind name, a category name nor \"*\"")]
    UnknownOperatorTarget(String),
    /// A pseudonym operator is configured without a key.
    #[error("the pseudonym operator needs `pseudonym_key`")]
    MissingPseudonymKey,
    /// The pseudonym key is too short.
    #[error("the pseudonym key has {0} bytes; at least 16 are required")]
    WeakPseudonymKey(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserialises_from_toml_like_json_with_defaults() {
        let c: RedactConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c.profile, Profile::Default);
        assert!(c.builtin_field_rules);
        let c: RedactConfig = serde_json::from_str(
            r#"{"profile":"strict","disable":["ipv4"],"url_credentials":"user_and_password",
                "rules":[{"name":"emp","pattern":"EMP-\\d{6}"}],
                "pseudonym_key":"hex:000102030405060708090a0b0c0d0e0f"}"#,
        )
        .unwrap();
        assert_eq!(c.profile, Profile::Strict);
        assert_eq!(c.disable, vec![Kind::Ipv4]);
        assert_eq!(c.url_credentials, UrlCredentialsMode::UserAndPassword);
        assert_eq!(c.pseudonym_key.map(|k| k.len()), Some(16));
        assert!(serde_json::from_str::<RedactConfig>(r#"{"profil":"strict"}"#).is_err());
    }
}
