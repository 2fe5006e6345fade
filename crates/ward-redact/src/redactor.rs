//! The [`Redactor`]: a compiled configuration, and the entry points.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use regex_automata::meta::Regex;
use serde_json::Value;

use crate::config::{ConfigError, RedactConfig};
use crate::detectors::Hit;
use crate::fields::FieldRules;
use crate::finding::{Detector, FieldRedaction, Finding, Redacted, Report};
use crate::kind::{Category, Kind, KindSet};
use crate::operator::{Operator, PseudonymKey};
use crate::profile::Profile;
use crate::scan::{CustomMatcher, Scanner};
use crate::validators::Validator;

/// A compiled, immutable redaction configuration. `Send + Sync`; cloning is an `Arc` clone, so
/// share one per tenant configuration (and derive per-tenant pseudonym keys with
/// [`Redactor::with_pseudonym_key`], which shares the compiled matchers).
///
/// ```
/// use ward_redact::{Kind, Profile, Redactor};
///
/// let r = Redactor::builtin(Profile::Default);
/// let out = r.redact_str("login jane@example.com from 10.0.0.7 with password=hunter2");
/// assert_eq!(out.text, "login [EMAIL] from 10.0.0.7 with password=[PASSWORD]");
/// assert_eq!(out.findings[0].kind, Kind::Email);
/// assert!(out.has_credentials());
/// ```
#[derive(Clone)]
pub struct Redactor {
    inner: Arc<Inner>,
    key: Option<PseudonymKey>,
}

struct Inner {
    profile: Profile,
    scanner: Scanner,
    allow: Allow,
    operators: Operators,
    fields: FieldRules,
    /// Whether some operator (kind, custom rule or field rule) needs the pseudonym key.
    needs_key: bool,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("profile", &self.inner.profile)
            .field("kinds", &self.inner.scanner.enabled)
            .field("custom_rules", &self.inner.scanner.custom.len())
            .field("pseudonym_key", &self.key)
            .finish()
    }
}

/// What a field rule does to an attribute (see [`Redactor::field_action`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldAction<'r> {
    /// The kind reported for the value.
    pub kind: &'r Kind,
    /// How the value is rewritten ([`Operator::Drop`] removes the attribute).
    pub operator: &'r Operator,
}

/// Operators resolved per kind: kind name, then category, then `*`, then `Replace`.
struct Operators {
    by_kind: HashMap<Kind, Operator>,
    by_category: HashMap<Category, Operator>,
    fallback: Operator,
}

impl Operators {
    fn get(&self, kind: &Kind) -> &Operator {
        self.by_kind
            .get(kind)
            .or_else(|| self.by_category.get(&kind.category()))
            .unwrap_or(&self.fallback)
    }
}

/// Compiled allow-list.
struct Allow {
    exact: HashSet<String>,
    /// Upper-cased alphanumerics of each value, for identifiers written with separators.
    compact: HashSet<String>,
    email_domains: Vec<String>,
    patterns: Vec<Regex>,
}

impl Allow {
    fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.email_domains.is_empty() && self.patterns.is_empty()
    }

    fn allows(&self, kind: &Kind, value: &str) -> bool {
        if self.exact.contains(value) {
            return true;
        }
        let numeric = matches!(
            kind.category(),
            Category::Financial | Category::Government | Category::Health
        ) || *kind == Kind::Phone;
        if numeric && !self.compact.is_empty() && self.compact.contains(&compact(value)) {
            return true;
        }
        if *kind == Kind::Email
            && let Some((_, domain)) = value.rsplit_once('@')
        {
            let domain = domain.to_ascii_lowercase();
            if self.email_domains.iter().any(|d| {
                domain == *d
                    || domain
                        .strip_suffix(d.as_str())
                        .is_some_and(|p| p.ends_with('.'))
            }) {
                return true;
            }
        }
        self.patterns.iter().any(|re| re.is_match(value))
    }
}

fn compact(v: &str) -> String {
    v.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Beyond this depth `redact_json` replaces a subtree instead of recursing (JSON parsed by
/// `serde_json` never gets this deep: its parser stops at 128).
const MAX_JSON_DEPTH: usize = 128;

impl Redactor {
    /// Compiles a configuration.
    pub fn new(config: &RedactConfig) -> Result<Redactor, ConfigError> {
        let mut enabled = config.profile.kind_set();
        for k in &config.enable {
            if k.index().is_none() {
                return Err(ConfigError::UnknownKind(k.as_str().to_string()));
            }
            enabled = enabled.with(k);
        }
        for k in &config.disable {
            if k.index().is_none() {
                return Err(ConfigError::UnknownKind(k.as_str().to_string()));
            }
            enabled = enabled.without(k);
        }

        let mut operators = Operators {
            by_kind: HashMap::new(),
            by_category: HashMap::new(),
            fallback: Operator::Replace,
        };
        for (target, op) in &config.operators {
            if target == "*" {
                operators.fallback = op.clone();
            } else if let Some(kind) = Kind::builtin(target) {
                operators.by_kind.insert(kind, op.clone());
            } else if let Some(cat) = category(target) {
                operators.by_category.insert(cat, op.clone());
            } else if config
                .rules
                .iter()
                .any(|r| r.name == *target && r.kind.is_none())
            {
                operators.by_kind.insert(Kind::custom(target), op.clone());
            } else {
                return Err(ConfigError::UnknownOperatorTarget(target.clone()));
            }
        }

        let mut custom = Vec::new();
        let mut names = HashSet::new();
        for rule in &config.rules {
            if rule.name.trim().is_empty() {
                return Err(ConfigError::EmptyRuleName);
            }
            if !names.insert(rule.name.as_str()) {
                return Err(ConfigError::DuplicateRule(rule.name.clone()));
            }
            let regex = Regex::new(&rule.pattern).map_err(|e| ConfigError::InvalidPattern {
                name: rule.name.clone(),
                message: e.to_string(),
            })?;
            if rule.group
                >= regex
                    .group_info()
                    .group_len(regex_automata::PatternID::ZERO)
            {
                return Err(ConfigError::NoSuchGroup {
                    name: rule.name.clone(),
                    group: rule.group,
                });
            }
            let validator = match &rule.validator {
                Some(name) => Some(Validator::from_name(name).ok_or_else(|| {
                    ConfigError::UnknownValidator {
                        name: rule.name.clone(),
                        validator: name.clone(),
                    }
                })?),
                None => None,
            };
            let kind = match &rule.kind {
                Some(k) => {
                    if rule.operator.is_some() {
                        return Err(ConfigError::OperatorOnBuiltinKind(rule.name.clone()));
                    }
                    k.clone()
                }
                None => {
                    let k = Kind::custom(&rule.name);
                    if let Some(op) = &rule.operator {
                        operators.by_kind.insert(k.clone(), op.clone());
                    }
                    k
                }
            };
            custom.push(CustomMatcher {
                regex,
                kind,
                validator,
                group: rule.group,
                detector: Detector::custom(&rule.name),
            });
        }

        let mut allow = Allow {
            exact: config.allow.values.iter().cloned().collect(),
            compact: config
                .allow
                .values
                .iter()
                .map(|v| compact(v))
                .filter(|v| !v.is_empty())
                .collect(),
            email_domains: config
                .allow
                .email_domains
                .iter()
                .map(|d| d.trim_start_matches(['@', '.']).to_ascii_lowercase())
                .collect(),
            patterns: Vec::new(),
        };
        if config.allow.test_cards {
            for pan in crate::config::AllowList::TEST_CARD_NUMBERS {
                allow.exact.insert((*pan).to_string());
                allow.compact.insert((*pan).to_string());
            }
        }
        for p in &config.allow.patterns {
            let re = Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                ConfigError::InvalidAllowPattern {
                    pattern: p.clone(),
                    message: e.to_string(),
                }
            })?;
            allow.patterns.push(re);
        }

        if config.fields.iter().any(|f| f.pattern.is_empty()) {
            return Err(ConfigError::EmptyFieldPattern);
        }
        let fields = FieldRules::new(&config.fields, config.builtin_field_rules, enabled);

        let needs_key = operators.fallback.needs_key()
            || operators
                .by_kind
                .values()
                .chain(operators.by_category.values())
                .any(Operator::needs_key)
            || config
                .fields
                .iter()
                .any(|f| f.operator.as_ref().is_some_and(Operator::needs_key));
        if let Some(key) = &config.pseudonym_key {
            if key.len() < PseudonymKey::MIN_LEN {
                return Err(ConfigError::WeakPseudonymKey(key.len()));
            }
        } else if needs_key {
            return Err(ConfigError::MissingPseudonymKey);
        }

        let scanner = Scanner::new(enabled, config.url_credentials, custom);
        Ok(Redactor {
            inner: Arc::new(Inner {
                profile: config.profile,
                scanner,
                allow,
                operators,
                fields,
                needs_key,
            }),
            key: config.pseudonym_key.clone(),
        })
    }

    /// The redactor of a profile with default settings. Compiled once per process and shared.
    pub fn builtin(profile: Profile) -> Redactor {
        static CACHE: [OnceLock<Redactor>; 6] = [const { OnceLock::new() }; 6];
        let slot = Profile::ALL.iter().position(|p| *p == profile).unwrap_or(0);
        CACHE[slot]
            .get_or_init(|| {
                // The default configuration of a profile has no user input that could be invalid.
                match Redactor::new(&RedactConfig::profile(profile)) {
                    Ok(r) => r,
                    Err(e) => unreachable!("built-in profile {profile} failed to compile: {e}"),
                }
            })
            .clone()
    }

    /// The same redactor with another pseudonym key (e.g. the tenant's), sharing the compiled
    /// matchers.
    pub fn with_pseudonym_key(&self, key: PseudonymKey) -> Result<Redactor, ConfigError> {
        if key.len() < PseudonymKey::MIN_LEN {
            return Err(ConfigError::WeakPseudonymKey(key.len()));
        }
        Ok(Redactor {
            inner: Arc::clone(&self.inner),
            key: Some(key),
        })
    }

    /// Whether some operator of this configuration produces pseudonyms.
    pub fn uses_pseudonyms(&self) -> bool {
        self.inner.needs_key
    }

    /// The profile the configuration started from.
    pub fn profile(&self) -> Profile {
        self.inner.profile
    }

    /// Whether `kind` is detected (custom kinds: whether a rule reports it).
    pub fn detects(&self, kind: &Kind) -> bool {
        match kind {
            Kind::Custom(_) => self.inner.scanner.custom.iter().any(|c| c.kind == *kind),
            k => self.inner.scanner.enabled.contains(k),
        }
    }

    /// The built-in kinds this redactor detects.
    pub fn kinds(&self) -> impl Iterator<Item = &'static Kind> {
        let set: KindSet = self.inner.scanner.enabled;
        set.iter()
    }

    /// The operator applied to `kind`.
    pub fn operator(&self, kind: &Kind) -> &Operator {
        self.inner.operators.get(kind)
    }

    /// Every finding in `text`: sorted, non-overlapping, on `char` boundaries, allow-list
    /// applied. Allocates nothing when nothing is found.
    ///
    /// ```
    /// use ward_redact::{Kind, Profile, Redactor};
    ///
    /// let r = Redactor::builtin(Profile::Strict);
    /// let f = r.find("ssn 123-45-6789, ip 192.168.1.20");
    /// assert_eq!(f.iter().map(|f| f.kind.clone()).collect::<Vec<_>>(), vec![Kind::UsSsn, Kind::Ipv4]);
    /// assert_eq!((f[0].start, f[0].end), (4, 15));
    /// assert_eq!(f[0].detector.as_str(), "us_ssn");
    /// ```
    pub fn find(&self, text: &str) -> Vec<Finding> {
        let mut hits = Vec::new();
        self.inner.scanner.scan(text, &mut hits);
        if hits.is_empty() {
            return Vec::new();
        }
        let inner = &self.inner;
        if !inner.allow.is_empty() {
            hits.retain(|h| {
                text.get(h.start..h.end)
                    .is_none_or(|v| !inner.allow.allows(&h.kind, v))
            });
        }
        merge(text, hits)
    }

    /// Redacts `text`: each finding is rewritten by its kind's operator. Borrows the input when
    /// nothing is found.
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use ward_redact::{Profile, Redactor};
    ///
    /// let r = Redactor::builtin(Profile::Default);
    /// let clean = r.redact_str("GET /v1/traces 200 12ms trace_id=4bf92f3577b34da6a3ce929d0e0e4736");
    /// assert!(matches!(clean.text, Cow::Borrowed(_)));
    /// let out = r.redact_str("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMTIz");
    /// assert_eq!(out.text, "Authorization: Bearer [JWT]");
    /// ```
    pub fn redact_str<'a>(&self, text: &'a str) -> Redacted<'a> {
        let findings = self.find(text);
        if findings.is_empty() {
            return Redacted {
                text: Cow::Borrowed(text),
                findings,
            };
        }
        let mut out = String::with_capacity(text.len() + 16 * findings.len());
        let mut last = 0;
        for f in &findings {
            out.push_str(text.get(last..f.start).unwrap_or(""));
            let value = text.get(f.start..f.end).unwrap_or("");
            self.operator(&f.kind)
                .apply(&f.kind, value, self.key.as_ref(), &mut out);
            last = f.end;
        }
        out.push_str(text.get(last..).unwrap_or(""));
        Redacted {
            text: Cow::Owned(out),
            findings,
        }
    }

    /// The field rule matching an attribute key, if any.
    ///
    /// ```
    /// use ward_redact::{Kind, Operator, Profile, Redactor};
    ///
    /// let r = Redactor::builtin(Profile::Default);
    /// let a = r.field_action("X-Api-Key").unwrap();
    /// assert_eq!((a.kind, a.operator), (&Kind::GenericSecret, &Operator::Replace));
    /// assert!(r.field_action("http.status_code").is_none());
    /// ```
    pub fn field_action(&self, key: &str) -> Option<FieldAction<'_>> {
        self.field_action_at(key, None)
    }

    fn field_action_at(&self, key: &str, path: Option<&str>) -> Option<FieldAction<'_>> {
        if self.inner.fields.is_empty() {
            return None;
        }
        let rule = self.inner.fields.lookup(key, path)?;
        let operator = rule
            .operator
            .as_ref()
            .unwrap_or_else(|| self.operator(&rule.kind));
        Some(FieldAction {
            kind: &rule.kind,
            operator,
        })
    }

    /// Redacts one attribute: its field rule when the key matches one, else the text rules. A
    /// `None` value means the attribute must be removed.
    ///
    /// ```
    /// use ward_redact::{Profile, Redactor};
    ///
    /// let r = Redactor::builtin(Profile::Default);
    /// assert_eq!(r.redact_field("db.password", "correct horse").value.as_deref(), Some("[PASSWORD]"));
    /// assert_eq!(r.redact_field("user.email", "a@b.io").value.as_deref(), Some("[EMAIL]"));
    /// assert_eq!(r.redact_field("http.route", "/v1/logs").value.as_deref(), Some("/v1/logs"));
    /// ```
    pub fn redact_field<'a>(&self, key: &str, value: &'a str) -> FieldRedaction<'a> {
        self.redact_field_at(key, None, value)
    }

    fn redact_field_at<'a>(
        &self,
        key: &str,
        path: Option<&str>,
        value: &'a str,
    ) -> FieldRedaction<'a> {
        if let Some(action) = self.field_action_at(key, path) {
            if value.is_empty() {
                return FieldRedaction {
                    value: Some(Cow::Borrowed(value)),
                    findings: Vec::new(),
                };
            }
            let finding = Finding {
                kind: action.kind.clone(),
                start: 0,
                end: value.len(),
                detector: Detector::builtin("field"),
            };
            if *action.operator == Operator::Drop {
                return FieldRedaction {
                    value: None,
                    findings: vec![finding],
                };
            }
            let mut out = String::new();
            action
                .operator
                .apply(action.kind, value, self.key.as_ref(), &mut out);
            return FieldRedaction {
                value: Some(Cow::Owned(out)),
                findings: vec![finding],
            };
        }
        let r = self.redact_str(value);
        let drop = r
            .findings
            .iter()
            .any(|f| *self.operator(&f.kind) == Operator::Drop);
        FieldRedaction {
            value: if drop { None } else { Some(r.text) },
            findings: r.findings,
        }
    }

    /// Redacts a JSON document in place: field rules by key (matched against the key and its
    /// dotted path), text rules on every string. Attributes whose operator is
    /// [`Operator::Drop`] are removed from their object; everything else keeps its key and
    /// position. Findings and credential events (with the dotted path as key) go to `report`.
    ///
    /// ```
    /// use serde_json::json;
    /// use ward_redact::{Kind, Profile, Redactor, Report};
    ///
    /// let r = Redactor::builtin(Profile::Default);
    /// let mut v = json!({"user": {"email": "jane@example.com", "password": "hunter2"}, "n": [1, "call +1 415 555 2671"]});
    /// let mut report = Report::new();
    /// r.redact_json(&mut v, &mut report);
    /// assert_eq!(v, json!({"user": {"email": "[EMAIL]", "password": "[PASSWORD]"}, "n": [1, "call [PHONE]"]}));
    /// assert_eq!(report.count(&Kind::Email), 1);
    /// assert_eq!(report.credentials()[0].key.as_deref(), Some("user.password"));
    /// ```
    pub fn redact_json(&self, value: &mut Value, report: &mut Report) {
        let mut path = String::new();
        self.json_value(value, &mut path, report, 0);
    }

    fn json_value(&self, value: &mut Value, path: &mut String, report: &mut Report, depth: usize) {
        if depth > MAX_JSON_DEPTH {
            *value = Value::String("[TOO_DEEP]".to_string());
            return;
        }
        match value {
            Value::String(s) => {
                let r = self.redact_str(s);
                if !r.findings.is_empty() {
                    report.record(&r.findings, (!path.is_empty()).then_some(path.as_str()));
                    let text = r.text.into_owned();
                    *s = text;
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.json_value(item, path, report, depth + 1);
                }
            }
            Value::Object(map) => {
                map.retain(|key, child| {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    let keep = self.json_entry(key, child, path, report, depth + 1);
                    path.truncate(len);
                    keep
                });
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// One object member; returns whether to keep it.
    fn json_entry(
        &self,
        key: &str,
        child: &mut Value,
        path: &mut String,
        report: &mut Report,
        depth: usize,
    ) -> bool {
        if let Some(action) = self.field_action_at(key, Some(path)) {
            let text: Cow<'_, str> = match &*child {
                Value::Null => return true,
                Value::String(s) if s.is_empty() => return true,
                Value::String(s) => Cow::Owned(s.clone()),
                other => Cow::Owned(other.to_string()),
            };
            let finding = Finding {
                kind: action.kind.clone(),
                start: 0,
                end: text.len(),
                detector: Detector::builtin("field"),
            };
            report.record(std::slice::from_ref(&finding), Some(path));
            if *action.operator == Operator::Drop {
                report.record_dropped();
                return false;
            }
            let mut out = String::new();
            action
                .operator
                .apply(action.kind, &text, self.key.as_ref(), &mut out);
            *child = Value::String(out);
            return true;
        }
        if let Value::String(s) = child {
            let r = self.redact_str(s);
            if r.findings.is_empty() {
                return true;
            }
            report.record(&r.findings, Some(path));
            if r.findings
                .iter()
                .any(|f| *self.operator(&f.kind) == Operator::Drop)
            {
                report.record_dropped();
                return false;
            }
            let text = r.text.into_owned();
            *s = text;
            return true;
        }
        self.json_value(child, path, report, depth);
        true
    }
}

fn category(name: &str) -> Option<Category> {
    Some(match name {
        "contact" => Category::Contact,
        "financial" => Category::Financial,
        "government" => Category::Government,
        "health" => Category::Health,
        "network" => Category::Network,
        "secret" | "secrets" => Category::Secret,
        "custom" => Category::Custom,
        _ => return None,
    })
}

/// Which of two overlapping findings names the span: vendor secrets over keyword secrets over
/// custom rules over personal data over network identifiers; then the longer one.
fn rank(h: &Hit) -> u8 {
    match h.kind.category() {
        Category::Secret => match h.kind {
            // Found by where they sit (a key, a header, a URL's userinfo) rather than by what
            // they are: a vendor token recognised inside them names the span better.
            Kind::GenericSecret
            | Kind::PasswordAssignment
            | Kind::AuthorizationHeader
            | Kind::UrlCredentials
            | Kind::ConnectionString => 4,
            _ => 5,
        },
        Category::Custom => 3,
        Category::Network => 1,
        _ => 2,
    }
}

/// Sorts hits and resolves overlaps. Overlapping hits are merged into one finding covering both
/// spans (so nothing detected is ever left in clear), named after the higher-ranked hit.
fn merge(text: &str, mut hits: Vec<Hit>) -> Vec<Finding> {
    hits.retain(|h| h.start < h.end && h.end <= text.len());
    hits.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out: Vec<Finding> = Vec::with_capacity(hits.len());
    let mut last_rank = 0u8;
    for h in hits {
        let (mut start, mut end) = (h.start, h.end);
        // Spans are computed on ASCII delimiters, but a bounded value or a custom regex could
        // stop inside a multi-byte character: widen to boundaries so slicing never panics.
        while start > 0 && !text.is_char_boundary(start) {
            start -= 1;
        }
        while end < text.len() && !text.is_char_boundary(end) {
            end += 1;
        }
        let r = rank(&h);
        if let Some(prev) = out.last_mut()
            && start < prev.end
        {
            let better = r > last_rank || (r == last_rank && end - start > prev.end - prev.start);
            let (s, e) = (prev.start.min(start), prev.end.max(end));
            if better {
                prev.kind = h.kind;
                prev.detector = h.detector;
                last_rank = r;
            }
            prev.start = s;
            prev.end = e;
            continue;
        }
        last_rank = r;
        out.push(Finding {
            kind: h.kind,
            start,
            end,
            detector: h.detector,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(kind: Kind, s: usize, e: usize) -> Hit {
        Hit::new(kind, s, e, "t")
    }

    #[test]
    fn merge_prefers_specific_secrets_and_covers_union() {
        let text = "x".repeat(40);
        let f = merge(
            &text,
            vec![
                hit(Kind::GenericSecret, 5, 20),
                hit(Kind::GithubToken, 5, 20),
                hit(Kind::Email, 18, 30),
            ],
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, Kind::GithubToken);
        assert_eq!((f[0].start, f[0].end), (5, 30));
    }

    #[test]
    fn merge_widens_to_char_boundaries() {
        let text = "aé b";
        let f = merge(text, vec![hit(Kind::Email, 2, 3)]);
        assert_eq!((f[0].start, f[0].end), (1, 3));
    }

    #[test]
    fn redactor_is_send_sync_and_cheap_to_clone() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Redactor>();
        let a = Redactor::builtin(Profile::Default);
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.inner, &b.inner));
    }
}
