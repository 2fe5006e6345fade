//! The public API: configuration, profiles, operators, allow-lists, custom and field rules,
//! JSON redaction and reports.

use std::borrow::Cow;

use serde_json::json;
use ward_redact::{
    AllowList, ConfigError, CustomRule, FieldRule, Kind, Operator, Profile, PseudonymKey,
    RedactConfig, Redactor, Report, UrlCredentialsMode,
};

const KEY: &[u8] = b"0123456789abcdef-tenant-a";

#[test]
fn clean_text_is_borrowed() {
    let r = Redactor::builtin(Profile::Strict);
    let text = "GET /v1/traces 200 12ms trace_id=4bf92f3577b34da6a3ce929d0e0e4736";
    let out = r.redact_str(text);
    assert!(matches!(out.text, Cow::Borrowed(t) if std::ptr::eq(t, text)));
    assert!(out.is_clean() && !out.has_credentials());
}

#[test]
fn profiles_differ_on_network_identifiers_and_pii() {
    let text = "user jane@example.com from 192.168.1.20 key AKIAIOSFODNN7EXAMPLE";
    let kinds = |p: Profile| {
        Redactor::builtin(p)
            .find(text)
            .into_iter()
            .map(|f| f.kind)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        kinds(Profile::Default),
        vec![Kind::Email, Kind::AwsAccessKeyId]
    );
    assert_eq!(
        kinds(Profile::Gdpr),
        vec![Kind::Email, Kind::Ipv4, Kind::AwsAccessKeyId]
    );
    assert_eq!(kinds(Profile::SecretsOnly), vec![Kind::AwsAccessKeyId]);
    assert_eq!(kinds(Profile::Pci), vec![Kind::AwsAccessKeyId]);
    assert_eq!(kinds(Profile::Strict).len(), 3);
    assert_eq!(
        Redactor::builtin(Profile::Pci).find("4111 1111 1111 1111")[0].kind,
        Kind::CreditCard
    );
}

#[test]
fn enable_and_disable_adjust_the_profile() {
    let mut c = RedactConfig::profile(Profile::Default);
    c.enable.push(Kind::Ipv4);
    c.disable.push(Kind::Email);
    let r = Redactor::new(&c).unwrap();
    assert_eq!(r.redact_str("a@b.io 10.0.0.1").text, "a@b.io [IPV4]");
    assert!(r.detects(&Kind::Ipv4) && !r.detects(&Kind::Email));
    assert!(r.kinds().any(|k| *k == Kind::Ipv4));
    c.enable.push(Kind::custom("nope"));
    assert_eq!(
        Redactor::new(&c).unwrap_err(),
        ConfigError::UnknownKind("nope".into())
    );
}

#[test]
fn operators_by_kind_category_and_default() {
    let mut c = RedactConfig::profile(Profile::Default);
    c.operators
        .insert("credit_card".into(), Operator::mask_last(4));
    c.operators
        .insert("secret".into(), Operator::Fixed { text: "***".into() });
    c.operators.insert(
        "*".into(),
        Operator::Fixed {
            text: "<pii>".into(),
        },
    );
    let r = Redactor::new(&c).unwrap();
    let out = r.redact_str("card 4111-1111-1111-1111 ssn 123-45-6789 password=hunter2");
    assert_eq!(out.text, "card ****-****-****-1111 ssn <pii> password=***");
    c.operators.insert("no_such_thing".into(), Operator::Drop);
    assert_eq!(
        Redactor::new(&c).unwrap_err(),
        ConfigError::UnknownOperatorTarget("no_such_thing".into())
    );
}

#[test]
fn drop_removes_text_and_attributes() {
    let mut c = RedactConfig::profile(Profile::Default);
    c.operators.insert("email".into(), Operator::Drop);
    let r = Redactor::new(&c).unwrap();
    assert_eq!(r.redact_str("to: jane@example.com!").text, "to: !");
    assert_eq!(r.redact_field("note", "mail jane@example.com").value, None);
    let mut v = json!({"keep": "x", "contact": "jane@example.com", "list": ["jane@example.com"]});
    let mut report = Report::new();
    r.redact_json(&mut v, &mut report);
    assert_eq!(v, json!({"keep": "x", "list": [""]}));
    assert_eq!(report.dropped(), 1);
    assert_eq!(report.count(&Kind::Email), 2);
}

#[test]
fn pseudonyms_are_per_tenant_and_need_a_key() {
    let mut c = RedactConfig::profile(Profile::Default);
    c.operators.insert("email".into(), Operator::pseudonym());
    assert_eq!(
        Redactor::new(&c).unwrap_err(),
        ConfigError::MissingPseudonymKey
    );
    c.pseudonym_key = Some(PseudonymKey::new(b"short"));
    assert_eq!(
        Redactor::new(&c).unwrap_err(),
        ConfigError::WeakPseudonymKey(5)
    );
    c.pseudonym_key = Some(PseudonymKey::new(KEY));
    let a = Redactor::new(&c).unwrap();
    assert!(a.uses_pseudonyms());
    let b = a
        .with_pseudonym_key(PseudonymKey::new(b"0123456789abcdef-tenant-b"))
        .unwrap();
    let pa = a.redact_str("jane@example.com").text.into_owned();
    let pa2 = a.redact_str("reply to Jane@Example.com").text.into_owned();
    let pb = b.redact_str("jane@example.com").text.into_owned();
    assert!(
        pa.starts_with("[EMAIL:") && pa.len() == "[EMAIL:12345678]".len(),
        "{pa}"
    );
    assert_eq!(
        pa2,
        format!("reply to {pa}"),
        "stable and case-insensitive for e-mails"
    );
    assert_ne!(pa, pb, "tenants get different pseudonyms");
    assert!(a.with_pseudonym_key(PseudonymKey::new(b"x")).is_err());
}

#[test]
fn allow_lists() {
    let mut c = RedactConfig::profile(Profile::Default);
    c.allow = AllowList {
        values: vec!["5555555555554444".into()],
        email_domains: vec!["corp.example".into()],
        patterns: vec![r"test-\d+@example\.com".into()],
        test_cards: true,
    };
    let r = Redactor::new(&c).unwrap();
    let text = "4111 1111 1111 1111 5555-5555-5555-4444 4000056655665557 ops@corp.example a@eu.corp.example test-7@example.com jane@example.com";
    let kinds: Vec<&str> = r.find(text).iter().map(|f| &text[f.range()]).collect();
    assert_eq!(kinds, vec!["jane@example.com"]);
    c.allow.patterns.push("(".into());
    assert!(matches!(
        Redactor::new(&c),
        Err(ConfigError::InvalidAllowPattern { .. })
    ));
}

#[test]
fn custom_rules_with_validators_groups_and_operators() {
    let mut c = RedactConfig::profile(Profile::SecretsOnly);
    c.rules.push(CustomRule {
        name: "employee_id".into(),
        pattern: r"\bEMP-\d{6}\b".into(),
        ..CustomRule::default()
    });
    c.rules.push(CustomRule {
        name: "loyalty".into(),
        pattern: r"loyalty=(\d{11,19})".into(),
        validator: Some("luhn".into()),
        group: 1,
        operator: Some(Operator::mask_last(2)),
        ..CustomRule::default()
    });
    c.rules.push(CustomRule {
        name: "internal_token".into(),
        pattern: r"itk_[a-z0-9]{20}".into(),
        kind: Some(Kind::GenericSecret),
        ..CustomRule::default()
    });
    let r = Redactor::new(&c).unwrap();
    let text = "EMP-123456 loyalty=79927398713 loyalty=79927398714 itk_abcdefghij0123456789";
    let out = r.redact_str(text);
    assert_eq!(
        out.text,
        "[EMPLOYEE_ID] loyalty=*********13 loyalty=79927398714 [SECRET]"
    );
    assert_eq!(out.findings[0].kind, Kind::custom("employee_id"));
    assert_eq!(out.findings[0].detector.as_str(), "custom.employee_id");
    assert!(out.findings[2].is_credential());
    assert!(r.detects(&Kind::custom("loyalty")));

    let bad = |rule: CustomRule| {
        let mut c = RedactConfig::default();
        c.rules.push(rule);
        Redactor::new(&c).unwrap_err()
    };
    assert!(matches!(
        bad(CustomRule {
            name: "x".into(),
            pattern: "(".into(),
            ..CustomRule::default()
        }),
        ConfigError::InvalidPattern { .. }
    ));
    assert!(matches!(
        bad(CustomRule {
            name: "x".into(),
            pattern: "a".into(),
            validator: Some("crc64".into()),
            ..CustomRule::default()
        }),
        ConfigError::UnknownValidator { .. }
    ));
    assert!(matches!(
        bad(CustomRule {
            name: "x".into(),
            pattern: "a".into(),
            group: 2,
            ..CustomRule::default()
        }),
        ConfigError::NoSuchGroup { .. }
    ));
    assert_eq!(
        bad(CustomRule {
            name: " ".into(),
            pattern: "a".into(),
            ..CustomRule::default()
        }),
        ConfigError::EmptyRuleName
    );
    assert!(matches!(
        bad(CustomRule {
            name: "x".into(),
            pattern: "a".into(),
            kind: Some(Kind::Email),
            operator: Some(Operator::Drop),
            ..CustomRule::default()
        }),
        ConfigError::OperatorOnBuiltinKind(_)
    ));
    let mut c = RedactConfig::default();
    c.rules.push(CustomRule {
        name: "x".into(),
        pattern: "a".into(),
        ..CustomRule::default()
    });
    c.rules.push(CustomRule {
        name: "x".into(),
        pattern: "b".into(),
        ..CustomRule::default()
    });
    assert_eq!(
        Redactor::new(&c).unwrap_err(),
        ConfigError::DuplicateRule("x".into())
    );
}

#[test]
fn field_rules() {
    let r = Redactor::builtin(Profile::Default);
    for key in [
        "password",
        "DB_PASSWORD",
        "http.request.header.authorization",
        "X-Api-Key",
        "client_secret",
        "access_token",
        "Set-Cookie",
        "ssn",
        "card_number",
        "cvv",
    ] {
        assert!(r.field_action(key).is_some(), "{key}");
    }
    for key in [
        "http.status_code",
        "gen_ai.usage.input_tokens",
        "secret_name",
        "password_policy",
        "user.id",
    ] {
        assert!(r.field_action(key).is_none(), "{key}");
    }
    assert_eq!(
        r.field_action("user.password").map(|a| a.kind.clone()),
        Some(Kind::PasswordAssignment)
    );
    // Whatever the value looks like.
    assert_eq!(
        r.redact_field("password", "x").value.as_deref(),
        Some("[PASSWORD]")
    );
    assert_eq!(r.redact_field("password", "").value.as_deref(), Some(""));
    let f = r.redact_field("authorization", "Basic Zm9vOmJhcg==");
    assert_eq!(f.findings[0].detector.as_str(), "field");

    let mut c = RedactConfig::profile(Profile::SecretsOnly);
    c.fields.push(FieldRule::drop("*.internal_note"));
    c.fields
        .push(FieldRule::new("customer_ref", Kind::custom("customer_ref")));
    let r = Redactor::new(&c).unwrap();
    assert_eq!(
        r.redact_field("ticket.internal_note", "anything").value,
        None
    );
    assert_eq!(
        r.redact_field("customer_ref", "C-1").value.as_deref(),
        Some("[CUSTOMER_REF]")
    );
    assert!(
        r.field_action("ssn").is_none(),
        "secrets-only has no PII field rules"
    );

    c.builtin_field_rules = false;
    assert!(
        Redactor::new(&c)
            .unwrap()
            .field_action("password")
            .is_none()
    );
    c.fields.push(FieldRule::new("", Kind::Email));
    assert_eq!(
        Redactor::new(&c).unwrap_err(),
        ConfigError::EmptyFieldPattern
    );
}

#[test]
fn json_redaction_and_reports() {
    let r = Redactor::builtin(Profile::Default);
    let mut v = json!({
        "service": "planner",
        "attributes": {
            "http.request.header.authorization": "Bearer abc",
            "db": {"password": 12345, "host": "db.internal", "creds": null},
            "card_number": 4111111111111111u64,
            "prompt": "my email is jane@example.com and my card 4111 1111 1111 1111",
            "tags": ["ok", "call +44 20 7946 0958", 3, true],
        },
        "body": "token=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"
    });
    let mut report = Report::new();
    r.redact_json(&mut v, &mut report);
    assert_eq!(
        v,
        json!({
            "service": "planner",
            "attributes": {
                "http.request.header.authorization": "[AUTHORIZATION_HEADER]",
                "db": {"password": "[PASSWORD]", "host": "db.internal", "creds": null},
                "card_number": "[CREDIT_CARD]",
                "prompt": "my email is [EMAIL] and my card [CREDIT_CARD]",
                "tags": ["ok", "call [PHONE]", 3, true],
            },
            "body": "token=[GITHUB_TOKEN]"
        })
    );
    assert_eq!(report.count(&Kind::CreditCard), 2);
    assert_eq!(report.count(&Kind::Email), 1);
    assert_eq!(report.total(), 7);
    let creds: Vec<(String, Option<String>)> = report
        .credentials()
        .iter()
        .map(|c| (c.kind.to_string(), c.key.clone()))
        .collect();
    assert_eq!(
        creds,
        vec![
            // serde_json objects iterate in key order.
            (
                "password_assignment".into(),
                Some("attributes.db.password".into())
            ),
            (
                "authorization_header".into(),
                Some("attributes.http.request.header.authorization".into())
            ),
            ("github_token".into(), Some("body".into())),
        ]
    );
    // Reports serialise for the server's security events and metrics: never with values.
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains("ghp_") && !json.contains("jane"));
}

#[test]
fn url_credentials_modes() {
    let text = "postgres://app:hunter2@db:5432/x";
    let web = "https://jane.doe:hunter2@jenkins.example.com/job";
    // `auto` (the default): only the password of a connection string, the whole userinfo of
    // any other URL.
    let r = Redactor::builtin(Profile::Default);
    assert_eq!(
        r.redact_str(text).text,
        "postgres://app:[CONNECTION_STRING]@db:5432/x"
    );
    assert_eq!(
        r.redact_str(web).text,
        "https://[URL_CREDENTIALS]@jenkins.example.com/job"
    );
    let mode = |m| {
        Redactor::new(&RedactConfig {
            url_credentials: m,
            ..RedactConfig::default()
        })
        .unwrap()
    };
    let r = mode(UrlCredentialsMode::UserAndPassword);
    assert_eq!(
        r.redact_str(text).text,
        "postgres://[CONNECTION_STRING]@db:5432/x"
    );
    let r = mode(UrlCredentialsMode::Password);
    assert_eq!(
        r.redact_str(web).text,
        "https://jane.doe:[URL_CREDENTIALS]@jenkins.example.com/job"
    );
}

#[test]
fn overlapping_detections_prefer_the_specific_secret() {
    let r = Redactor::builtin(Profile::Default);
    let f = r.find("OPENAI_API_KEY=sk-proj-abcDEF123456ghiJKL789012mnoPQR345678");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind, Kind::OpenAiKey);
    let f = r.find("password=4111111111111111");
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].is_credential());
}

#[test]
fn tokens_used_as_url_passwords_keep_their_kind() {
    let r = Redactor::builtin(Profile::Default);
    let text = "pip install --index-url https://__token__:pypi-AgEIcHlwaS5vcmcCJDU3OTM1MjliLWIyYTYtNDEwOC05NzRkLTM0NjU2ZDk0NTk5ZAAC@upload.pypi.org/legacy/";
    let f = r.find(text);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind, Kind::PypiToken);
    assert_eq!(
        r.redact_str(text).text,
        "pip install --index-url https://__token__:[PYPI_TOKEN]@upload.pypi.org/legacy/"
    );
}

#[test]
fn non_ascii_text_passes_through() {
    let r = Redactor::builtin(Profile::Strict);
    let text = "Ünïcödé 日本語 → jane@example.com ← 🚀 mañana";
    assert_eq!(
        r.redact_str(text).text,
        "Ünïcödé 日本語 → [EMAIL] ← 🚀 mañana"
    );
    let text = "pässwörd=geheim passwort: x";
    assert_eq!(
        r.redact_str(text).text,
        text,
        "only ASCII keywords are recognised"
    );
    assert_eq!(
        r.redact_str("password=pässwörd€ ok").text,
        "password=[PASSWORD] ok"
    );
}

#[test]
fn config_from_toml_like_json() {
    let c: RedactConfig = serde_json::from_value(json!({
        "profile": "hipaa",
        "disable": ["mac_address"],
        "rules": [{"name": "mrn_local", "pattern": "MRN-\\d{8}", "operator": {"type": "pseudonym"}}],
        "operators": {"phone": {"type": "mask", "keep_last": 2}},
        "allow": {"email_domains": ["hospital.example"]},
        "fields": [{"pattern": "patient.*", "kind": "medical_record_number"}],
        "pseudonym_key": "hex:000102030405060708090a0b0c0d0e0f",
    }))
    .unwrap();
    let r = Redactor::new(&c).unwrap();
    let out =
        r.redact_str("MRN-12345678 call +1 415-555-2671 dr@hospital.example 00:1a:2b:3c:4d:5e");
    assert!(out.text.starts_with("[MRN_LOCAL:"), "{}", out.text);
    assert!(
        out.text
            .contains("+* ***-***-**71 dr@hospital.example 00:1a:2b:3c:4d:5e"),
        "{}",
        out.text
    );
    assert_eq!(
        r.field_action("patient.name").map(|a| a.kind.clone()),
        Some(Kind::MedicalRecordNumber)
    );
    assert_eq!(r.profile(), Profile::Hipaa);
}

#[test]
fn detector_catalog_is_documented() {
    assert!(ward_redact::detectors().len() >= 60);
    let d = ward_redact::detectors()
        .iter()
        .find(|d| d.id == "github.classic")
        .unwrap();
    assert_eq!(d.kind, Kind::GithubToken);
    assert_eq!(d.profiles().count(), Profile::ALL.len());
}

#[test]
fn concurrent_use_from_threads() {
    let r = Redactor::builtin(Profile::Default);
    std::thread::scope(|s| {
        for i in 0..4 {
            let r = r.clone();
            s.spawn(move || {
                for _ in 0..200 {
                    let text = format!("thread {i} jane{i}@example.com");
                    assert_eq!(r.redact_str(&text).text, format!("thread {i} [EMAIL]"));
                }
            });
        }
    });
}
