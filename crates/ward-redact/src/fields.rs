//! Field-name rules: attribute keys whose values are removed whatever they look like.

use crate::config::FieldRule;
use crate::kind::{Kind, KindSet};
use crate::operator::Operator;

/// Keys are compared lower-cased with `-` read as `_` (`X-Api-Key` ≡ `x_api_key`).
#[inline]
fn norm(b: u8) -> u8 {
    if b == b'-' {
        b'_'
    } else {
        b.to_ascii_lowercase()
    }
}

/// Glob match with `*` (any run, dots included) and `?` (one byte), on normalised bytes.
/// Iterative with single-star backtracking: linear in practice, never recursive.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == b'?' || c == norm(s[si]) => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi.min(p.len())..].iter().all(|&c| c == b'*')
}

/// A compiled field rule.
#[derive(Debug, Clone)]
pub(crate) struct CompiledFieldRule {
    pattern: Box<[u8]>,
    pub kind: Kind,
    pub operator: Option<Operator>,
}

/// The field rules of a redactor, in priority order (configured rules first).
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldRules {
    rules: Vec<CompiledFieldRule>,
}

impl FieldRules {
    pub(crate) fn new(configured: &[FieldRule], builtin: bool, enabled: KindSet) -> FieldRules {
        let mut rules: Vec<CompiledFieldRule> = configured
            .iter()
            .map(|r| CompiledFieldRule {
                pattern: r.pattern.bytes().map(norm).collect(),
                kind: r
                    .kind
                    .clone()
                    .unwrap_or_else(|| Kind::custom("redacted_field")),
                operator: r.operator.clone(),
            })
            .collect();
        if builtin {
            for (pattern, kind) in BUILTIN_FIELD_RULES {
                if enabled.contains(kind) {
                    rules.push(CompiledFieldRule {
                        pattern: pattern.bytes().map(norm).collect(),
                        kind: kind.clone(),
                        operator: None,
                    });
                }
            }
        }
        FieldRules { rules }
    }

    /// The first rule matching `key` (or, for nested JSON, the dotted `path`).
    pub(crate) fn lookup(&self, key: &str, path: Option<&str>) -> Option<&CompiledFieldRule> {
        let key = key.as_bytes();
        let path = path.map(str::as_bytes).filter(|p| *p != key);
        self.rules
            .iter()
            .find(|r| glob(&r.pattern, key) || path.is_some_and(|p| glob(&r.pattern, p)))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// Built-in field rules; each applies when its kind is enabled by the profile.
const BUILTIN_FIELD_RULES: &[(&str, Kind)] = &[
    ("*password", Kind::PasswordAssignment),
    ("*passwd", Kind::PasswordAssignment),
    ("pwd", Kind::PasswordAssignment),
    ("*_pwd", Kind::PasswordAssignment),
    ("*passphrase", Kind::PasswordAssignment),
    ("*authorization", Kind::AuthorizationHeader),
    ("*secret", Kind::GenericSecret),
    ("*secret_key", Kind::GenericSecret),
    ("*secretkey", Kind::GenericSecret),
    ("*api_key", Kind::GenericSecret),
    ("*apikey", Kind::GenericSecret),
    ("*access_key", Kind::GenericSecret),
    ("*accesskey", Kind::GenericSecret),
    ("*private_key", Kind::GenericSecret),
    ("*privatekey", Kind::GenericSecret),
    ("*token", Kind::GenericSecret),
    ("*credentials", Kind::GenericSecret),
    ("*credential", Kind::GenericSecret),
    ("cookie", Kind::GenericSecret),
    ("*.cookie", Kind::GenericSecret),
    ("set_cookie", Kind::GenericSecret),
    ("*.set_cookie", Kind::GenericSecret),
    ("ssn", Kind::UsSsn),
    ("*_ssn", Kind::UsSsn),
    ("*.ssn", Kind::UsSsn),
    ("*social_security_number", Kind::UsSsn),
    ("*card_number", Kind::CreditCard),
    ("*cardnumber", Kind::CreditCard),
    ("cc_number", Kind::CreditCard),
    ("*credit_card", Kind::CreditCard),
    ("*creditcard", Kind::CreditCard),
    ("pan", Kind::CreditCard),
    ("*.pan", Kind::CreditCard),
    ("cvv", Kind::Cvv),
    ("cvv2", Kind::Cvv),
    ("cvc", Kind::Cvv),
    ("*_cvv", Kind::Cvv),
    ("*.cvv", Kind::Cvv),
    ("*_cvc", Kind::Cvv),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_semantics() {
        let g = |p: &str, s: &str| glob(&p.bytes().map(norm).collect::<Vec<_>>(), s.as_bytes());
        assert!(g("password", "Password"));
        assert!(g("*password", "db_password"));
        assert!(g("*password", "userPassword"));
        assert!(!g("*password", "password_policy"));
        assert!(g("*.secret", "vault.secret"));
        assert!(!g("*.secret", "secret"));
        assert!(g("x_api_*", "X-Api-Key"));
        assert!(g("a?c", "abc"));
        assert!(g("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!g("*a*b*c", "xxaxxbxxcxxd"));
        assert!(g("*", ""));
    }

    #[test]
    fn builtin_rules_follow_enabled_kinds() {
        let secrets = crate::Profile::SecretsOnly.kind_set();
        let rules = FieldRules::new(&[], true, secrets);
        assert!(rules.lookup("DB_PASSWORD", None).is_some());
        assert!(
            rules
                .lookup("authorization", Some("http.request.header.authorization"))
                .is_some()
        );
        assert!(
            rules.lookup("ssn", None).is_none(),
            "PII field rules need PII kinds"
        );
        assert!(rules.lookup("input_tokens", None).is_none());
        assert!(rules.lookup("secret_name", None).is_none());
        let all = FieldRules::new(&[], true, crate::Profile::Strict.kind_set());
        assert_eq!(
            all.lookup("customer.ssn", None).map(|r| r.kind.clone()),
            Some(Kind::UsSsn)
        );
        assert_eq!(
            all.lookup("card_number", None).map(|r| r.kind.clone()),
            Some(Kind::CreditCard)
        );
        let custom = FieldRules::new(&[FieldRule::drop("*.internal")], false, secrets);
        assert_eq!(
            custom
                .lookup("x", Some("a.internal"))
                .and_then(|r| r.operator.clone()),
            Some(Operator::Drop)
        );
        assert!(custom.lookup("password", None).is_none());
    }
}
