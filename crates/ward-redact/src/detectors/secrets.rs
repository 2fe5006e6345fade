//! Credentials: vendor API keys and tokens (confirmed by anchored regexes at their literal
//! prefix), JWTs, private-key blocks, credentials in URLs, `Authorization` headers and
//! keyword assignments (`password=…`, `"api_key": "…"`, `client_secret: …`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{
    Hit, at, before, boundary_after, boundary_before, is_alnum, is_word, run_end, run_start,
    starts_with_at,
};
use crate::config::UrlCredentialsMode;
use crate::kind::Kind;
use crate::scan::Scanner;
use crate::validators;

/// What to do when a literal trigger is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Confirm with [`RULES`]`[i]`.
    Rule(usize),
    /// A secret keyword inside an identifier: parse the assignment.
    Keyword,
    Jwt,
    Pem,
    Url,
    Mailchimp,
    Telegram,
    Swift,
    Cvv,
    Passport,
    Mrn,
}

/// A literal that starts a candidate, and the kinds it can produce (a trigger whose kinds are
/// all disabled is left out of the searcher).
pub(crate) struct Trigger {
    pub literal: &'static str,
    pub action: Action,
    pub kinds: &'static [Kind],
}

/// A vendor secret: found by its literal prefix, confirmed by an anchored regex.
pub(crate) struct SecretRule {
    /// Detector id, reported in findings.
    pub id: &'static str,
    pub kind: Kind,
    /// Literal prefixes (each one is a trigger).
    pub triggers: &'static [&'static str],
    /// ASCII regex matched anchored at the trigger. Group 1, when present, is the part that is
    /// redacted (e.g. only the signature of a SAS URL).
    pub pattern: &'static str,
    /// Whether the byte before the trigger must not be a word byte.
    pub word_boundary: bool,
    /// Bytes that must not follow the match (else the token is longer than the format allows).
    pub tail: fn(u8) -> bool,
    /// Extra validation of the whole match (checksums, character mix).
    pub check: Option<fn(&[u8]) -> bool>,
}

fn b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
}

fn has_digit_and_letter(m: &[u8]) -> bool {
    m.iter().any(u8::is_ascii_digit) && m.iter().any(u8::is_ascii_alphabetic)
}

fn mixed_case(m: &[u8]) -> bool {
    m.iter().any(u8::is_ascii_uppercase) && m.iter().any(u8::is_ascii_lowercase)
}

fn github_classic(m: &[u8]) -> bool {
    m.len() == 40 && validators::github_checksum(&m[4..])
}

fn sas_signature(m: &[u8]) -> bool {
    // At least 40 characters of signature once URL escapes are counted as one.
    let escapes = m.iter().filter(|&&b| b == b'%').count();
    m.len().saturating_sub(4 + 2 * escapes) >= 40
}

/// The vendor secret rules. Order matters only among rules sharing a first literal byte run:
/// longer literals are listed first so that `sk-ant-` wins over `sk-`.
pub(crate) static RULES: &[SecretRule] = &[
    SecretRule {
        id: "anthropic",
        kind: Kind::AnthropicKey,
        triggers: &["sk-ant-"],
        pattern: r"sk-ant-[a-z]{2,8}[0-9]{2}-[A-Za-z0-9_-]{32,200}",
        word_boundary: true,
        tail: b64url,
        check: None,
    },
    SecretRule {
        id: "openrouter",
        kind: Kind::OpenrouterKey,
        triggers: &["sk-or-v1-"],
        pattern: r"sk-or-v1-[0-9a-f]{64}",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "langfuse",
        kind: Kind::LangfuseKey,
        triggers: &["sk-lf-"],
        pattern: r"sk-lf-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "openai",
        kind: Kind::OpenAiKey,
        triggers: &["sk-"],
        pattern: r"sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,300}|[A-Za-z0-9]{32,100})",
        word_boundary: true,
        tail: b64url,
        check: Some(has_digit_and_letter),
    },
    SecretRule {
        id: "stripe",
        kind: Kind::StripeKey,
        triggers: &["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"],
        pattern: r"(?:[sr]k_(?:live|test)_[A-Za-z0-9]{16,247}|whsec_[A-Za-z0-9+/=]{32,100})",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "aws.access_key_id",
        kind: Kind::AwsAccessKeyId,
        triggers: &["AKIA", "ASIA", "ABIA", "ACCA"],
        pattern: r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "gcp.api_key",
        kind: Kind::GcpApiKey,
        triggers: &["AIza"],
        pattern: r"AIza[0-9A-Za-z_-]{35}",
        word_boundary: true,
        tail: b64url,
        check: None,
    },
    SecretRule {
        id: "google.oauth",
        kind: Kind::GoogleOauthToken,
        triggers: &["ya29."],
        pattern: r"ya29\.[0-9A-Za-z_-]{20,2048}",
        word_boundary: true,
        tail: b64url,
        check: None,
    },
    SecretRule {
        id: "azure.storage_key",
        kind: Kind::AzureStorageKey,
        triggers: &["AccountKey=", "SharedAccessKey="],
        pattern: r"(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{40,100}={0,2})",
        word_boundary: false,
        tail: b64,
        check: None,
    },
    SecretRule {
        id: "azure.sas",
        kind: Kind::AzureSas,
        triggers: &["sig="],
        pattern: r"sig=((?:[A-Za-z0-9+/]|%2[BbFf]){30,200}(?:%3[Dd]|=){0,2})",
        word_boundary: true,
        tail: |b| b64(b) || b == b'%',
        check: Some(sas_signature),
    },
    SecretRule {
        id: "github.classic",
        kind: Kind::GithubToken,
        triggers: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        pattern: r"gh[pousr]_[A-Za-z0-9]{36}",
        word_boundary: true,
        tail: is_word,
        check: Some(github_classic),
    },
    SecretRule {
        id: "github.fine_grained",
        kind: Kind::GithubToken,
        triggers: &["github_pat_"],
        pattern: r"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}",
        word_boundary: true,
        tail: is_word,
        check: None,
    },
    SecretRule {
        id: "gitlab",
        kind: Kind::GitlabToken,
        triggers: &[
            "glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glsoat-", "glcbt-",
        ],
        pattern: r"gl(?:pat|dt|rt|ptt|ft|soat|cbt)-[A-Za-z0-9_-]{20,300}(?:\.[A-Za-z0-9_-]{2,20}){0,3}",
        word_boundary: true,
        tail: b64url,
        check: None,
    },
    SecretRule {
        id: "slack.token",
        kind: Kind::SlackToken,
        triggers: &["xox", "xapp-"],
        pattern: r"(?:xox[baprse]-[A-Za-z0-9-]{10,250}|xoxe\.xox[bp]-[A-Za-z0-9-]{10,250}|xapp-[0-9]-[A-Za-z0-9-]{10,250})",
        word_boundary: true,
        tail: |b| is_alnum(b) || b == b'-',
        check: Some(has_digit_and_letter),
    },
    SecretRule {
        id: "slack.webhook",
        kind: Kind::SlackWebhook,
        triggers: &["hooks.slack.com/"],
        pattern: r"hooks\.slack\.com/(?:services|workflows|triggers)/(T[A-Z0-9]{6,12}/[AB][A-Z0-9]{6,12}/[A-Za-z0-9]{16,32})",
        word_boundary: false,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "discord.webhook",
        kind: Kind::DiscordWebhook,
        triggers: &["discord.com/api/webhooks/", "discordapp.com/api/webhooks/"],
        pattern: r"discord(?:app)?\.com/api/webhooks/([0-9]{17,20}/[A-Za-z0-9_-]{60,68})",
        word_boundary: false,
        tail: b64url,
        check: None,
    },
    SecretRule {
        id: "sendgrid",
        kind: Kind::SendgridKey,
        triggers: &["SG."],
        pattern: r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}",
        word_boundary: true,
        tail: b64url,
        check: None,
    },
    SecretRule {
        id: "huggingface",
        kind: Kind::HuggingfaceToken,
        triggers: &["hf_"],
        pattern: r"hf_[A-Za-z0-9]{30,40}",
        word_boundary: true,
        tail: is_word,
        check: Some(mixed_case),
    },
    SecretRule {
        id: "npm",
        kind: Kind::NpmToken,
        triggers: &["npm_"],
        pattern: r"npm_[A-Za-z0-9]{36}",
        word_boundary: true,
        tail: is_word,
        check: Some(has_digit_and_letter),
    },
    SecretRule {
        id: "pypi",
        kind: Kind::PypiToken,
        triggers: &["pypi-AgE"],
        pattern: r"pypi-AgE[A-Za-z0-9_-]{50,400}",
        word_boundary: true,
        tail: b64url,
        check: None,
    },
    SecretRule {
        id: "databricks",
        kind: Kind::DatabricksToken,
        triggers: &["dapi"],
        pattern: r"dapi[0-9a-f]{32}(?:-[0-9]{1,2})?",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "shopify",
        kind: Kind::ShopifyToken,
        triggers: &["shpat_", "shpca_", "shppa_", "shpss_"],
        pattern: r"shp(?:at|ca|pa|ss)_[0-9a-fA-F]{32}",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "digitalocean",
        kind: Kind::DigitaloceanToken,
        triggers: &["dop_v1_", "doo_v1_", "dor_v1_"],
        pattern: r"do[opr]_v1_[0-9a-f]{64}",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "grafana",
        kind: Kind::GrafanaToken,
        triggers: &["glsa_", "glc_"],
        pattern: r"(?:glsa_[A-Za-z0-9]{32}_[0-9a-fA-F]{8}|glc_[A-Za-z0-9+/]{32,400}={0,2})",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "newrelic",
        kind: Kind::NewrelicKey,
        triggers: &["NRAK-"],
        pattern: r"NRAK-[A-Z0-9]{27}",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "vault",
        kind: Kind::VaultToken,
        triggers: &["hvs.", "hvb."],
        pattern: r"hv[sb]\.[A-Za-z0-9_-]{24,300}",
        word_boundary: true,
        tail: b64url,
        check: Some(has_digit_and_letter),
    },
    SecretRule {
        id: "pulumi",
        kind: Kind::PulumiToken,
        triggers: &["pul-"],
        pattern: r"pul-[0-9a-f]{40}",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "linear",
        kind: Kind::LinearApiKey,
        triggers: &["lin_api_"],
        pattern: r"lin_api_[A-Za-z0-9]{40}",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "postman",
        kind: Kind::PostmanKey,
        triggers: &["PMAK-"],
        pattern: r"PMAK-[0-9a-f]{24}-[0-9a-f]{34}",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "atlassian",
        kind: Kind::AtlassianToken,
        triggers: &["ATATT3"],
        pattern: r"ATATT3[A-Za-z0-9_=-]{100,300}",
        word_boundary: true,
        tail: |b| b64url(b) || b == b'=',
        check: None,
    },
    SecretRule {
        id: "doppler",
        kind: Kind::DopplerToken,
        triggers: &["dp."],
        pattern: r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "groq",
        kind: Kind::GroqKey,
        triggers: &["gsk_"],
        pattern: r"gsk_[A-Za-z0-9]{48,56}",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "xai",
        kind: Kind::XaiKey,
        triggers: &["xai-"],
        pattern: r"xai-[A-Za-z0-9]{60,100}",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "perplexity",
        kind: Kind::PerplexityKey,
        triggers: &["pplx-"],
        pattern: r"pplx-[A-Za-z0-9]{40,60}",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "replicate",
        kind: Kind::ReplicateToken,
        triggers: &["r8_"],
        pattern: r"r8_[A-Za-z0-9]{37}",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "langsmith",
        kind: Kind::LangsmithKey,
        triggers: &["lsv2_"],
        pattern: r"lsv2_(?:pt|sk)_[0-9a-f]{32}_[0-9a-f]{10}",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "pinecone",
        kind: Kind::PineconeKey,
        triggers: &["pcsk_"],
        pattern: r"pcsk_[A-Za-z0-9]{4,10}_[A-Za-z0-9]{40,80}",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
    SecretRule {
        id: "ward.api_key",
        kind: Kind::WardApiKey,
        triggers: &["ward_"],
        pattern: r"ward_[A-Za-z0-9]{12}_[A-Za-z0-9]{40}",
        word_boundary: true,
        tail: is_alnum,
        check: None,
    },
];

const KEYWORD_KINDS: &[Kind] = &[
    Kind::PasswordAssignment,
    Kind::GenericSecret,
    Kind::AuthorizationHeader,
    Kind::AwsSecretKey,
];

/// Keyword literals, in the lower- and upper-case forms logs use. They are inner fragments
/// (`assw` for password/Password/passwd, `ecret` for secret/Secret/clientSecret) so one literal
/// covers the capitalised and camel-case spellings; the handler reads the whole identifier.
const KEYWORD_LITERALS: &[&str] = &[
    "assw",
    "ASSW",
    "pwd",
    "PWD",
    "assphr",
    "ASSPHR",
    "_pass",
    "_PASS",
    "ecret",
    "ECRET",
    "oken",
    "OKEN",
    "pi_key",
    "pi-key",
    "pi-Key",
    "pikey",
    "piKey",
    "pi key",
    "PI_KEY",
    "PI-KEY",
    "PIKEY",
    "PI KEY",
    "ccess_key",
    "ccessKey",
    "CCESS_KEY",
    "rivate_key",
    "rivateKey",
    "RIVATE_KEY",
    "uthorization",
    "UTHORIZATION",
    "earer",
    "EARER",
    "redential",
    "REDENTIAL",
    "igning_key",
    "igningKey",
    "IGNING_KEY",
    "ncryption_key",
    "ncryptionKey",
    "NCRYPTION_KEY",
    "asic ",
    "ASIC ",
];

/// Every trigger literal with its action.
pub(crate) fn triggers() -> Vec<Trigger> {
    let mut out = Vec::new();
    for (i, rule) in RULES.iter().enumerate() {
        for lit in rule.triggers {
            out.push(Trigger {
                literal: lit,
                action: Action::Rule(i),
                kinds: std::slice::from_ref(&rule.kind),
            });
        }
    }
    let fixed: &[(&'static str, Action, &'static [Kind])] = &[
        ("eyJ", Action::Jwt, &[Kind::Jwt]),
        ("-----BEGIN", Action::Pem, &[Kind::PrivateKey]),
        (
            "://",
            Action::Url,
            &[Kind::UrlCredentials, Kind::ConnectionString],
        ),
        ("-us", Action::Mailchimp, &[Kind::MailchimpKey]),
        (":AA", Action::Telegram, &[Kind::TelegramBotToken]),
        ("wift", Action::Swift, &[Kind::SwiftBic]),
        ("WIFT", Action::Swift, &[Kind::SwiftBic]),
        ("bic", Action::Swift, &[Kind::SwiftBic]),
        ("BIC", Action::Swift, &[Kind::SwiftBic]),
        ("cvv", Action::Cvv, &[Kind::Cvv]),
        ("CVV", Action::Cvv, &[Kind::Cvv]),
        ("Cvv", Action::Cvv, &[Kind::Cvv]),
        ("cvc", Action::Cvv, &[Kind::Cvv]),
        ("CVC", Action::Cvv, &[Kind::Cvv]),
        ("ecurity code", Action::Cvv, &[Kind::Cvv]),
        ("assport", Action::Passport, &[Kind::Passport]),
        ("ASSPORT", Action::Passport, &[Kind::Passport]),
        ("asseport", Action::Passport, &[Kind::Passport]),
        ("ASSEPORT", Action::Passport, &[Kind::Passport]),
        ("eisepass", Action::Passport, &[Kind::Passport]),
        ("EISEPASS", Action::Passport, &[Kind::Passport]),
        ("asaporte", Action::Passport, &[Kind::Passport]),
        ("ASAPORTE", Action::Passport, &[Kind::Passport]),
        ("assaporto", Action::Passport, &[Kind::Passport]),
        ("ASSAPORTO", Action::Passport, &[Kind::Passport]),
        ("mrn", Action::Mrn, &[Kind::MedicalRecordNumber]),
        ("MRN", Action::Mrn, &[Kind::MedicalRecordNumber]),
        ("Mrn", Action::Mrn, &[Kind::MedicalRecordNumber]),
        ("edical record", Action::Mrn, &[Kind::MedicalRecordNumber]),
        ("EDICAL RECORD", Action::Mrn, &[Kind::MedicalRecordNumber]),
    ];
    for &(literal, action, kinds) in fixed {
        out.push(Trigger {
            literal,
            action,
            kinds,
        });
    }
    for lit in KEYWORD_LITERALS {
        out.push(Trigger {
            literal: lit,
            action: Action::Keyword,
            kinds: KEYWORD_KINDS,
        });
    }
    out
}

/// Values that are not secrets: empty, already redacted, masked, template variables, booleans.
pub(crate) fn is_placeholder(v: &[u8]) -> bool {
    let Some((&first, _)) = v.split_first() else {
        return true;
    };
    let last = v[v.len() - 1];
    if first == b'[' && last == b']' || first == b'<' && last == b'>' {
        return true;
    }
    if v.iter().all(|&b| b == first) {
        return true;
    }
    if v.starts_with(b"${") || v.starts_with(b"{{") || v.starts_with(b"%(") || v.starts_with(b"#{")
    {
        return true;
    }
    if first == b'$'
        && v.len() > 1
        && v[1..]
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        return true;
    }
    const WORDS: &[&str] = &[
        "null",
        "none",
        "nil",
        "undefined",
        "true",
        "false",
        "yes",
        "no",
        "redacted",
        "hidden",
        "masked",
        "removed",
        "required",
        "optional",
        "empty",
        "n/a",
        "unset",
        "not_set",
        "notset",
        "filtered",
        "sensitive",
        "omitted",
        "%s",
        "%v",
        "enabled",
        "disabled",
        "set",
        "present",
        "missing",
        "invalid",
        "expired",
        "provided",
    ];
    WORDS.iter().any(|w| v.eq_ignore_ascii_case(w.as_bytes()))
}

/// What an identifier holding a secret keyword is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Password,
    Authorization,
    AwsSecret,
    /// Names that only ever hold secrets (`secret`, `api_key`, `private_key` …).
    Strong,
    /// `…token`: also names page tokens and counters, so the value must look random.
    Token,
    Bearer,
    /// `Basic <base64 of user:password>` without an `Authorization` key in sight.
    Basic,
}

fn classify_ident(id: &[u8]) -> Option<Class> {
    let mut id = id;
    while let [b'_', rest @ ..] = id {
        id = rest;
    }
    while let [rest @ .., b'_'] = id {
        id = rest;
    }
    if id == b"bearer" {
        return Some(Class::Bearer);
    }
    if id == b"basic" {
        return Some(Class::Basic);
    }
    let ends = |list: &[&str]| list.iter().any(|s| id.ends_with(s.as_bytes()));
    if id == b"pass"
        || ends(&[
            "password",
            "passwd",
            "pwd",
            "passphrase",
            "_pass",
            "pass_word",
        ])
    {
        return Some(Class::Password);
    }
    if ends(&["authorization"]) {
        return Some(Class::Authorization);
    }
    if ends(&[
        "secret_access_key",
        "secretaccesskey",
        "aws_secret_key",
        "aws_secret",
    ]) {
        return Some(Class::AwsSecret);
    }
    if ends(&[
        "page_token",
        "pagetoken",
        "next_token",
        "nexttoken",
        "continuation_token",
        "sync_token",
        "cancellation_token",
        "max_token",
        "resume_token",
    ]) {
        return None;
    }
    if ends(&["token"]) {
        return Some(Class::Token);
    }
    if ends(&[
        "secret",
        "secret_key",
        "secretkey",
        "api_key",
        "apikey",
        "access_key",
        "accesskey",
        "private_key",
        "privatekey",
        "credential",
        "credentials",
        "signing_key",
        "signingkey",
        "encryption_key",
        "master_key",
        "auth_key",
    ]) {
        return Some(Class::Strong);
    }
    None
}

fn ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
}

/// Where a value after a keyword starts and ends.
struct Assignment {
    start: usize,
    end: usize,
    quoted: bool,
    /// No `=`/`:` between keyword and value (`token abc…`): accepted only for random-looking
    /// values.
    loose: bool,
}

/// Reads `<closing quote>? ws (= | : | => | :=) ws <opening quote>? value` after an identifier.
fn parse_assignment(t: &[u8], s: usize, e: usize) -> Option<Assignment> {
    let mut i = e;
    // The key may be quoted, possibly with escaped quotes inside a JSON string.
    let (q_open, escaped) = match (before(t, s), before(t, s.saturating_sub(1))) {
        (b'"', b'\\') => (b'"', true),
        (q @ (b'"' | b'\''), _) => (q, false),
        _ => (0, false),
    };
    if q_open != 0 {
        if escaped && at(t, i) == b'\\' && at(t, i + 1) == b'"' {
            i += 2;
        } else if at(t, i) == q_open {
            i += 1;
        }
    }
    let ws = |i: usize| run_end(t, i, 8, |b| b == b' ' || b == b'\t');
    let after_key = ws(i);
    let spaced = after_key > i;
    i = after_key;
    let mut loose = false;
    match at(t, i) {
        b'=' => {
            i += 1;
            if at(t, i) == b'>' {
                i += 1;
            }
        }
        b':' => {
            i += 1;
            if at(t, i) == b'=' {
                i += 1;
            }
        }
        _ if spaced && i - e == 1 => loose = true,
        _ => return None,
    }
    i = ws(i);
    // Opening quote of the value.
    let (quote, esc) = match (at(t, i), at(t, i + 1)) {
        (b'\\', b'"') => (b'"', true),
        (q @ (b'"' | b'\'' | b'`'), _) => (q, false),
        _ => (0, false),
    };
    const MAX_VALUE: usize = 1024;
    if quote != 0 {
        let vs = i + if esc { 2 } else { 1 };
        let mut j = vs;
        let limit = vs.saturating_add(MAX_VALUE).min(t.len());
        while j < limit {
            let b = t[j];
            if b == b'\n' {
                return None;
            }
            if esc {
                if b == b'\\' && at(t, j + 1) == b'"' {
                    return Some(Assignment {
                        start: vs,
                        end: j,
                        quoted: true,
                        loose,
                    });
                }
            } else if b == b'\\' {
                j += 2;
                continue;
            } else if b == quote {
                return Some(Assignment {
                    start: vs,
                    end: j,
                    quoted: true,
                    loose,
                });
            }
            j += 1;
        }
        return None;
    }
    let end = unquoted_value_end(t, s, i, MAX_VALUE);
    Some(Assignment {
        start: i,
        end,
        quoted: false,
        loose,
    })
}

/// End of an unquoted value starting at `i` (its key starts at `key_start`).
///
/// Generated passwords use `&`, `(`, `)`, `#`, `%`, `^`, `*` …, so only what cannot be inside an
/// unquoted value ends it: whitespace, quotes, a backslash (an escape in a JSON string), `&` when
/// the key is a URL query parameter, and `,`/`;` followed by a space or the end (a list
/// separator). Then a trailing `.` (end of a sentence) and closing brackets without their
/// opening one in the value (`(password=x)`) are given back.
fn unquoted_value_end(t: &[u8], key_start: usize, i: usize, max: usize) -> usize {
    let query = matches!(before(t, key_start), b'?' | b'&');
    let limit = i.saturating_add(max).min(t.len());
    let mut end = i;
    while end < limit {
        let b = t[end];
        let stop = b.is_ascii_whitespace()
            || matches!(b, b'"' | b'\'' | b'`' | b'\\')
            || (b == b'&' && query)
            || (matches!(b, b',' | b';')
                && matches!(
                    at(t, end + 1),
                    0 | b' ' | b'\t' | b'\r' | b'\n' | b'"' | b'\'' | b'\\'
                ));
        if stop {
            break;
        }
        end += 1;
    }
    while let Some(&last) = t.get(i..end).and_then(<[u8]>::last) {
        let open = match last {
            b'.' => {
                end -= 1;
                continue;
            }
            b')' => b'(',
            b']' => b'[',
            b'}' => b'{',
            b'>' => b'<',
            _ => break,
        };
        let v = &t[i..end];
        let opens = v.iter().filter(|&&b| b == open).count();
        let closes = v.iter().filter(|&&b| b == last).count();
        if closes > opens {
            end -= 1;
        } else {
            break;
        }
    }
    end
}

/// A value written after `password` with only a space (`smtp auth password Welcome1006*`):
/// prose uses that spelling too (`password reset requested`, `password for user`), so the value
/// must look like a password: no plain word, at least 8 characters mixing three character
/// classes, or letters and digits over 10, or a passphrase of three hyphenated words.
fn password_like(v: &[u8]) -> bool {
    if v.len() < 8
        || v.iter()
            .any(|b| b.is_ascii_whitespace() || !b.is_ascii_graphic())
    {
        return false;
    }
    let classes = char_classes(v);
    if classes >= 3 {
        return true;
    }
    let letters = v.iter().any(u8::is_ascii_alphabetic);
    let digits = v.iter().any(u8::is_ascii_digit);
    if classes == 2 && letters && digits && v.len() >= 10 {
        return true;
    }
    let words: Vec<&[u8]> = v.split(|&b| b == b'-').collect();
    words.len() >= 3
        && words
            .iter()
            .all(|w| w.len() >= 3 && w.iter().all(u8::is_ascii_alphabetic))
}

fn char_classes(v: &[u8]) -> usize {
    [
        v.iter().any(u8::is_ascii_lowercase),
        v.iter().any(u8::is_ascii_uppercase),
        v.iter().any(u8::is_ascii_digit),
        v.iter().any(|b| b.is_ascii_punctuation()),
    ]
    .iter()
    .filter(|&&x| x)
    .count()
}

/// Looks random enough to be a generated secret.
///
/// The entropy bar is for mixed alphabets; a hex string draws from 16 symbols only (4 bits at
/// most), and one random 32-digit hex secret in five measures under 3.5 bits, so hex values get
/// a bar half a bit lower.
fn random_looking(v: &[u8], min_len: usize, min_entropy: f64) -> bool {
    let hex = v.iter().all(u8::is_ascii_hexdigit);
    let bar = if hex { min_entropy - 0.5 } else { min_entropy };
    v.len() >= min_len
        && !v.iter().any(|b| b.is_ascii_whitespace())
        && char_classes(v) >= 2
        && !v.iter().all(u8::is_ascii_digit)
        && validators::entropy(v) >= bar
}

const AUTH_SCHEMES: &[&str] = &[
    "bearer",
    "basic",
    "token",
    "digest",
    "negotiate",
    "ntlm",
    "apikey",
    "api-key",
    "key",
    "bot",
    "sso-key",
    "ssws",
    "aws4-hmac-sha256",
    "hmac",
];

/// The credential part of an `Authorization` value: after the scheme when there is one.
fn auth_credential(t: &[u8], a: &Assignment) -> (usize, usize) {
    let word_end = run_end(t, a.start, 24, |b| b.is_ascii_alphanumeric() || b == b'-');
    let scheme = &t[a.start..word_end];
    let is_scheme = AUTH_SCHEMES
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s.as_bytes()));
    if !is_scheme || at(t, word_end) != b' ' {
        return (a.start, a.end);
    }
    let cs = run_end(t, word_end, 8, |b| b == b' ');
    if a.quoted {
        return (cs.min(a.end), a.end);
    }
    // Unquoted: `Authorization: Bearer abc` (the assignment stopped at the space after the
    // scheme). Digest and AWS signatures hold `k=v, k=v` lists: take them to the end of the line.
    let multi =
        scheme.eq_ignore_ascii_case(b"digest") || scheme.eq_ignore_ascii_case(b"aws4-hmac-sha256");
    let ce = if multi {
        run_end(t, cs, 2048, |b| b != b'\n' && b != b'\r' && b != b'"')
    } else {
        run_end(t, cs, 4096, |b| {
            !(b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b',' | b';' | b'\\'))
        })
    };
    (cs, ce)
}

/// A keyword inside an identifier (`db_password`, `clientSecret`, `Authorization`, `Bearer` …):
/// reads the identifier and the value assigned to it. Returns the hit and where the literal
/// search resumes: at the value's start on success, so a recognisable token inside the value
/// (`api_key=sk-proj-…`) is still reported with its own kind.
pub(crate) fn keyword(sc: &Scanner, t: &[u8], h: usize) -> (Option<Hit>, Option<usize>) {
    let raw_s = run_start(t, h, 64, 0, ident_char);
    let mut e = run_end(t, h, 64, ident_char);
    let skip = Some(e.max(h + 1));
    if e - raw_s >= 64 || (raw_s > 0 && ident_char(t[raw_s - 1])) {
        return (None, skip);
    }
    let mut s = raw_s;
    while s < h && matches!(t[s], b'-' | b'.') {
        s += 1;
    }
    let cli_flag = s > raw_s && t[raw_s] == b'-' && is_space_before(t, raw_s);
    while e > h + 1 && matches!(t[e - 1], b'-' | b'.') {
        e -= 1;
    }
    let mut buf = [0u8; 96];
    let norm = |b: u8| match b {
        b'-' | b'.' | b' ' => b'_',
        _ => b.to_ascii_lowercase(),
    };
    for (d, &b) in buf.iter_mut().zip(&t[s..e]) {
        *d = norm(b);
    }
    let len = e - s;
    let mut class = classify_ident(&buf[..len]);
    // Two-word names written with a space: `api key`, `secret key`, `access token`. The joined
    // name wins when it classifies (`password reset` does not, and stays a bare keyword).
    if at(t, e) == b' ' {
        let w_end = run_end(t, e + 1, 16, |b| b.is_ascii_alphabetic());
        if w_end > e + 1 && !ident_char(at(t, w_end)) {
            let joined = len + (w_end - e);
            for (d, &b) in buf[len..joined].iter_mut().zip(&t[e..w_end]) {
                *d = norm(b);
            }
            if let Some(c) = classify_ident(&buf[..joined]) {
                class = Some(c);
                e = w_end;
            }
        }
    }
    let Some(class) = class else {
        return (None, skip);
    };
    if class == Class::Bearer {
        return (bearer(t, s, e), skip);
    }
    if class == Class::Basic {
        return (basic(t, s, e).filter(|h| sc.on(&h.kind)), skip);
    }
    let Some(a) = parse_assignment(t, s, e) else {
        return (None, skip);
    };
    let (vs, ve) = if class == Class::Authorization {
        auth_credential(t, &a)
    } else {
        (a.start, a.end)
    };
    let v = &t[vs..ve];
    if is_placeholder(v) {
        return (None, skip);
    }
    if class == Class::Authorization
        && AUTH_SCHEMES
            .iter()
            .any(|s| v.eq_ignore_ascii_case(s.as_bytes()))
    {
        // `Authorization: Bearer` with nothing after the scheme.
        return (None, skip);
    }
    let (kind, det) = match class {
        // `--password hunter2` on a logged command line: the flag's argument is the value.
        Class::Password if !a.loose || (cli_flag && !v.starts_with(b"-")) || password_like(v) => {
            (Kind::PasswordAssignment, "keyword.password")
        }
        Class::Authorization if !a.loose && v.len() >= 4 => {
            (Kind::AuthorizationHeader, "keyword.authorization")
        }
        Class::AwsSecret
            if v.len() == 40
                && v.iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+') =>
        {
            (Kind::AwsSecretKey, "aws.secret_access_key")
        }
        _ if a.loose => {
            if !matches!(class, Class::Strong | Class::Token | Class::AwsSecret)
                || !random_looking(v, 20, 3.5)
            {
                return (None, skip);
            }
            (Kind::GenericSecret, "keyword.generic")
        }
        Class::Token => {
            if !random_looking(v, 16, 3.0) {
                return (None, skip);
            }
            (Kind::GenericSecret, "keyword.token")
        }
        Class::Strong | Class::AwsSecret => {
            let strong = v.len() >= 6
                && (v.len() >= 16 || char_classes(v) >= 2)
                && (!a.quoted || !v.contains(&b' ') || v.len() <= 64 && char_classes(v) >= 3);
            if !strong {
                return (None, skip);
            }
            (Kind::GenericSecret, "keyword.secret")
        }
        _ => return (None, skip),
    };
    // A vendor token that only the digit pass would name (`TWILIO_API_KEY=SK…`): that pass
    // skips the regions claimed here, so name it now.
    let (kind, det) = match twilio_word(t, vs, v) {
        Some(twilio) if kind == Kind::GenericSecret && sc.on(&Kind::TwilioKey) => {
            (Kind::TwilioKey, twilio)
        }
        _ => (kind, det),
    };
    if !sc.on(&kind) {
        return (None, skip);
    }
    (Some(Hit::new(kind, vs, ve, det)), Some(vs))
}

fn is_space_before(t: &[u8], i: usize) -> bool {
    matches!(before(t, i), 0 | b' ' | b'\t' | b'"' | b'\'')
}

/// A bare `Bearer <token>` (no `Authorization` key in sight).
fn bearer(t: &[u8], s: usize, e: usize) -> Option<Hit> {
    if at(t, e) != b' ' {
        return None;
    }
    let cs = run_end(t, e, 4, |b| b == b' ');
    let tok = |b: u8| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'+' | b'/' | b'=' | b'-')
    };
    let mut ce = run_end(t, cs, 4096, tok);
    while ce > cs && t[ce - 1] == b'.' {
        ce -= 1;
    }
    let v = &t[cs..ce];
    (v.len() >= 16 && !is_word(at(t, ce)) && char_classes(v) >= 2 && !is_placeholder(v) && s < cs)
        .then(|| Hit::new(Kind::AuthorizationHeader, cs, ce, "bearer"))
}

/// A bare `Basic <credential>` (a logged header value without its `Authorization` key): the
/// credential must be base64 that decodes to printable `user:password`, which "Basic auth" or
/// "Visual Basic 6" never do.
fn basic(t: &[u8], s: usize, e: usize) -> Option<Hit> {
    if at(t, e) != b' ' || !boundary_before(t, s) {
        return None;
    }
    let cs = run_end(t, e, 4, |b| b == b' ');
    let ce = run_end(t, cs, 1024, b64);
    let v = &t[cs..ce];
    if v.len() < 8 || is_word(at(t, ce)) {
        return None;
    }
    let mut buf = [0u8; 768];
    let body = v
        .strip_suffix(b"==")
        .or_else(|| v.strip_suffix(b"="))
        .unwrap_or(v);
    let n = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode_slice(body, &mut buf)
        .ok()?;
    let decoded = std::str::from_utf8(&buf[..n]).ok()?;
    let (user, pass) = decoded.split_once(':')?;
    let printable = decoded.chars().all(|c| !c.is_control());
    (printable && !user.is_empty() && !pass.is_empty())
        .then(|| Hit::new(Kind::AuthorizationHeader, cs, ce, "basic"))
}

/// A JSON Web Token at `h` (`eyJ…`): three (JWS) or five (JWE) base64url segments whose header
/// decodes to a JSON object with an `alg` member.
pub(crate) fn jwt(t: &[u8], h: usize) -> Option<Hit> {
    let prev = before(t, h);
    if b64url(prev) || prev == b'.' {
        return None;
    }
    let h_end = run_end(t, h, 2048, b64url);
    if h_end - h < 10 || at(t, h_end) != b'.' {
        return None;
    }
    let mut buf = [0u8; 1536];
    let n = URL_SAFE_NO_PAD.decode_slice(&t[h..h_end], &mut buf).ok()?;
    let header = buf[..n].trim_ascii();
    if header.first() != Some(&b'{')
        || header.last() != Some(&b'}')
        || !header.windows(5).any(|w| w == b"\"alg\"")
    {
        return None;
    }
    // Segment ends; a JWS has three segments, a JWE five. A trailing `.` (end of a sentence)
    // yields an empty fourth segment, which is not part of the token.
    let mut ends = [h_end; 5];
    let mut segments = 1;
    while segments < 5 && at(t, ends[segments - 1]) == b'.' {
        ends[segments] = run_end(t, ends[segments - 1] + 1, 16384, b64url);
        segments += 1;
    }
    let end = match segments {
        5 if ends[3] > ends[2] + 1 && ends[4] > ends[3] + 1 => ends[4],
        3..=5 => ends[2],
        _ => return None,
    };
    Some(Hit::new(Kind::Jwt, h, end, "jwt"))
}

/// A PEM (or OpenSSH/PGP) private key block starting at `h`: the whole block, from the BEGIN
/// line to the END line; without an END line (a truncated log line), to the end of the base64
/// body.
pub(crate) fn pem(t: &[u8], h: usize) -> Option<Hit> {
    let label_start = h + "-----BEGIN ".len();
    if at(t, label_start - 1) != b' ' {
        return None;
    }
    let label_end = run_end(t, label_start, 48, |b| {
        b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' '
    });
    let label = t.get(label_start..label_end)?;
    if !(label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK"))
        || !starts_with_at(t, label_end, b"-----", false)
    {
        return None;
    }
    let body = label_end + 5;
    const MAX_BLOCK: usize = 32 * 1024;
    let limit = body.saturating_add(MAX_BLOCK).min(t.len());
    let end_marker = t[body..limit]
        .windows(8)
        .position(|w| w == b"-----END")
        .map(|p| body + p);
    let end = match end_marker {
        Some(m) => {
            let close = run_end(t, m + 8, 64, |b| b != b'\n' && b != b'"');
            match t[m + 8..close].windows(5).position(|w| w == b"-----") {
                Some(p) => m + 8 + p + 5,
                None => close,
            }
        }
        None => run_end(t, body, MAX_BLOCK, |b| {
            b64(b) || b.is_ascii_whitespace() || b == b'\\' || b == b':' || b == b'-' || b == b','
        }),
    };
    Some(Hit::new(Kind::PrivateKey, h, end, "private_key"))
}

const DB_SCHEMES: &[&str] = &[
    "postgres",
    "postgresql",
    "mysql",
    "mariadb",
    "mongodb",
    "mongodb+srv",
    "redis",
    "rediss",
    "amqp",
    "amqps",
    "mssql",
    "sqlserver",
    "oracle",
    "clickhouse",
    "cockroachdb",
    "couchdb",
    "neo4j",
    "neo4j+s",
    "bolt",
    "nats",
    "kafka",
    "memcached",
    "cassandra",
    "elasticsearch",
    "influxdb",
    "snowflake",
    "db2",
    "sqlite",
    "ldap",
    "ldaps",
    "postgresql+psycopg2",
    "mysql+pymysql",
    "postgresql+asyncpg",
];

/// A URL with userinfo, `scheme://user:password@host`: the password (or user and password, per
/// configuration) of any URL; database and broker schemes are reported as connection strings.
pub(crate) fn url(sc: &Scanner, t: &[u8], h: usize) -> (Option<Hit>, Option<usize>) {
    let scheme_start = run_start(t, h, 32, 0, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-')
    });
    if scheme_start == h || !t[scheme_start].is_ascii_alphabetic() {
        return (None, None);
    }
    let auth_start = h + 3;
    let auth_end = run_end(t, auth_start, 512, |b| {
        !(b.is_ascii_whitespace()
            || matches!(
                b,
                b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`' | b'\\'
            ))
    });
    let Some(at_rel) = t[auth_start..auth_end].iter().rposition(|&b| b == b'@') else {
        return (None, None);
    };
    let at_pos = auth_start + at_rel;
    let Some(colon_rel) = t[auth_start..at_pos].iter().position(|&b| b == b':') else {
        return (None, Some(at_pos + 1));
    };
    let colon = auth_start + colon_rel;
    let pass = &t[colon + 1..at_pos];
    if pass.is_empty() || is_placeholder(pass) {
        return (None, Some(at_pos + 1));
    }
    let scheme = &t[scheme_start..h];
    let is_db = DB_SCHEMES
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s.as_bytes()));
    let (kind, det) = if is_db {
        (Kind::ConnectionString, "url.connection_string")
    } else {
        (Kind::UrlCredentials, "url.userinfo")
    };
    let start = match sc.url_mode {
        UrlCredentialsMode::Password => colon + 1,
        UrlCredentialsMode::UserAndPassword => auth_start,
        UrlCredentialsMode::Auto if is_db || is_token_user(&t[auth_start..colon]) => colon + 1,
        UrlCredentialsMode::Auto => auth_start,
    };
    // Resume inside the credential so that a recognisable token used as a password
    // (`https://__token__:pypi-AgE…@upload.pypi.org`) is reported with its own kind.
    (Some(Hit::new(kind, start, at_pos, det)), Some(colon + 1))
}

/// User names that token authentication puts in URLs (`https://__token__:pypi-…@`,
/// `https://x-access-token:ghs_…@github.com`): protocol constants, not anyone's login.
fn is_token_user(user: &[u8]) -> bool {
    const USERS: &[&str] = &[
        "__token__",
        "x-access-token",
        "x-token-auth",
        "x-oauth-basic",
        "oauth2",
        "oauth",
        "token",
        "git",
        "api",
        "apikey",
    ];
    USERS
        .iter()
        .any(|u| user.eq_ignore_ascii_case(u.as_bytes()))
}

/// A Mailchimp API key: 32 hex digits, `-us` and a data-centre number; the trigger is `-us`.
pub(crate) fn mailchimp(t: &[u8], h: usize) -> Option<Hit> {
    let s = h.checked_sub(32)?;
    let dc_end = run_end(t, h + 3, 2, |b| b.is_ascii_digit());
    let ok = dc_end > h + 3
        && boundary_after(t, dc_end)
        && boundary_before(t, s)
        && t[s..h]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
    ok.then(|| Hit::new(Kind::MailchimpKey, s, dc_end, "mailchimp"))
}

/// A Telegram bot token, `<8-10 digit bot id>:AA<33 base64url>`; the trigger is `:AA`.
pub(crate) fn telegram(t: &[u8], h: usize) -> Option<Hit> {
    let s = run_start(t, h, 10, 0, |b| b.is_ascii_digit());
    if !(8..=10).contains(&(h - s)) {
        return None;
    }
    // `…/bot123456789:AA…` in API URLs, or a bare token.
    let lead_ok = boundary_before(t, s)
        || (s >= 3 && t[s - 3..s].eq_ignore_ascii_case(b"bot") && !is_alnum(before(t, s - 3)));
    let e = run_end(t, h + 1, 40, b64url);
    (lead_ok && e - (h + 1) == 35 && !b64url(at(t, e)))
        .then(|| Hit::new(Kind::TelegramBotToken, s, e, "telegram"))
}

/// A Twilio account SID (`AC` + 32 hex) or API key (`SK` + 32 hex, only next to "twilio").
pub(crate) fn twilio_word(t: &[u8], s: usize, w: &[u8]) -> Option<&'static str> {
    if w.len() != 34
        || !w[2..]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return None;
    }
    match &w[..2] {
        b"AC" => Some("twilio.account_sid"),
        b"SK" if super::Context::before(t, s).has(super::kw::TWILIO) => Some("twilio.api_key"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a pattern can only match printable ASCII (no `.`, negated or `\s`-like class,
    /// escape or space that could match anything else): the scanner's length pre-check before
    /// the regex relies on it.
    fn printable_only(pattern: &str) -> bool {
        let mut escaped = false;
        let mut in_class = false;
        for (i, c) in pattern.char_indices() {
            if escaped {
                escaped = false;
                if c.is_ascii_alphanumeric() {
                    return false;
                }
                continue;
            }
            match c {
                '\\' => escaped = true,
                '[' if pattern[i + 1..].starts_with('^') => return false,
                '[' => in_class = true,
                ']' => in_class = false,
                '.' if !in_class => return false,
                _ if !c.is_ascii_graphic() => return false,
                _ => {}
            }
        }
        true
    }

    #[test]
    fn rules_compile_and_match_printable_ascii() {
        for r in RULES {
            crate::scan::compile_ascii(r.pattern).unwrap_or_else(|e| panic!("{}: {e}", r.id));
            assert!(printable_only(r.pattern), "{}", r.id);
        }
        assert!(!printable_only(r"a.b") && !printable_only(r"[^a]") && !printable_only(r"\s"));
        let mut lits: Vec<&str> = triggers().iter().map(|t| t.literal).collect();
        lits.sort_unstable();
        let before = lits.len();
        lits.dedup();
        assert_eq!(before, lits.len(), "duplicate trigger literal");
    }

    #[test]
    fn identifier_classes() {
        assert_eq!(classify_ident(b"db_password"), Some(Class::Password));
        assert_eq!(classify_ident(b"userpassword"), Some(Class::Password));
        assert_eq!(classify_ident(b"password_hash"), None);
        assert_eq!(classify_ident(b"max_tokens"), None);
        assert_eq!(classify_ident(b"next_page_token"), None);
        assert_eq!(classify_ident(b"access_token"), Some(Class::Token));
        assert_eq!(classify_ident(b"clientsecret"), Some(Class::Strong));
        assert_eq!(classify_ident(b"secret_name"), None);
        assert_eq!(
            classify_ident(b"aws_secret_access_key"),
            Some(Class::AwsSecret)
        );
        assert_eq!(
            classify_ident(b"proxy_authorization"),
            Some(Class::Authorization)
        );
        assert_eq!(classify_ident(b"api_key_id"), None);
    }

    #[test]
    fn placeholders() {
        for p in [
            "",
            "****",
            "[PASSWORD]",
            "<password>",
            "${DB_PASSWORD}",
            "{{ secret }}",
            "$SECRET",
            "null",
            "true",
            "xxxxxxxx",
        ] {
            assert!(is_placeholder(p.as_bytes()), "{p}");
        }
        for v in ["hunter2", "s3cr3t!", "Tr0ub4dor&3"] {
            assert!(!is_placeholder(v.as_bytes()), "{v}");
        }
    }
}
