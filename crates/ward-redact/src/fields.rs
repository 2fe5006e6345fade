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

/// How a pattern is matched. Nearly every rule is an exact name or a `*suffix`; those are
/// compared from the end without the general glob, since this runs for every attribute key of
/// every record.
#[derive(Debug, Clone)]
enum Shape {
    /// No wildcard.
    Exact,
    /// `*` followed by a literal (stored without the star).
    Suffix,
    /// Anything else.
    Glob,
}

/// A compiled field rule.
#[derive(Debug, Clone)]
pub(crate) struct CompiledFieldRule {
    pattern: Box<[u8]>,
    shape: Shape,
    pub kind: Kind,
    pub operator: Option<Operator>,
}

impl CompiledFieldRule {
    fn new(pattern: &str, kind: Kind, operator: Option<Operator>) -> CompiledFieldRule {
        let normalised: Vec<u8> = pattern.bytes().map(norm).collect();
        let wild = |b: &[u8]| b.iter().any(|&c| c == b'*' || c == b'?');
        let (shape, pattern) = match normalised.split_first() {
            Some((b'*', rest)) if !rest.is_empty() && !wild(rest) => (Shape::Suffix, rest.to_vec()),
            _ if !wild(&normalised) => (Shape::Exact, normalised),
            _ => (Shape::Glob, normalised),
        };
        CompiledFieldRule {
            pattern: pattern.into(),
            shape,
            kind,
            operator,
        }
    }

    fn matches(&self, s: &[u8]) -> bool {
        let p = &self.pattern;
        match self.shape {
            Shape::Exact => s.len() == p.len() && ends_with(s, p),
            Shape::Suffix => s.len() >= p.len() && ends_with(s, p),
            Shape::Glob => glob(p, s),
        }
    }
}

/// Whether `s` ends with the normalised literal `p` (`s.len() >= p.len()`), compared from the
/// last byte so that a miss costs one comparison.
#[inline]
fn ends_with(s: &[u8], p: &[u8]) -> bool {
    s.iter()
        .rev()
        .zip(p.iter().rev())
        .all(|(&a, &b)| norm(a) == b)
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
            .map(|r| {
                CompiledFieldRule::new(
                    &r.pattern,
                    r.kind
                        .clone()
                        .unwrap_or_else(|| Kind::custom("redacted_field")),
                    r.operator.clone(),
                )
            })
            .collect();
        if builtin {
            for (pattern, kind) in BUILTIN_FIELD_RULES {
                if enabled.contains(kind) {
                    rules.push(CompiledFieldRule::new(pattern, kind.clone(), None));
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
            .find(|r| r.matches(key) || path.is_some_and(|p| r.matches(p)))
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
    fn fast_shapes_agree_with_glob() {
        let keys = [
            "password",
            "DB-Password",
            "userPassword",
            "password_policy",
            "vault.secret",
            "secret",
            "X-Api-Key",
            "abc",
            "pan",
            "a.pan",
            "span",
            "",
            "cookie",
            "set-cookie",
            "x.Set_Cookie",
            "ssn",
            "my_ssn",
            "lessn",
            "tokens",
            "id_token",
        ];
        let patterns = [
            "password",
            "*password",
            "*.secret",
            "x_api_*",
            "a?c",
            "pan",
            "*.pan",
            "cookie",
            "*.set_cookie",
            "ssn",
            "*_ssn",
            "*token",
            "*",
            "*a*b*c*",
        ];
        for p in patterns {
            let rule = CompiledFieldRule::new(p, Kind::GenericSecret, None);
            let normalised: Vec<u8> = p.bytes().map(norm).collect();
            for k in keys {
                assert_eq!(
                    rule.matches(k.as_bytes()),
                    glob(&normalised, k.as_bytes()),
                    "{p} vs {k}"
                );
            }
        }
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
