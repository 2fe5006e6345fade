//! Ward's scrubbing engine: finds personal data and secrets in text and JSON, and rewrites them.
//!
//! The engine is **pure** (no I/O, no global state besides a cache of the built-in profiles),
//! compiled once per configuration into a [`Redactor`] that is `Send + Sync` and cheap to share
//! (`Clone` is an `Arc` clone). It is used by Ward's ingest pipeline (attributes and log bodies
//! of every batch) and by the `ward redact` command.
//!
//! ```
//! use ward_redact::{Kind, Operator, Profile, RedactConfig, Redactor, Report};
//!
//! // A built-in profile...
//! let r = Redactor::builtin(Profile::Default);
//! let out = r.redact_str("user=jane@example.com card=4111-1111-1111-1111 key=AKIAIOSFODNN7EXAMPLE");
//! assert_eq!(out.text, "user=[EMAIL] card=[CREDIT_CARD] key=[AWS_ACCESS_KEY_ID]");
//! // ...reports what it found, by kind and byte span, never the value.
//! let kinds: Vec<&str> = out.findings.iter().map(|f| f.kind.as_str()).collect();
//! assert_eq!(kinds, ["email", "credit_card", "aws_access_key_id"]);
//! assert!(out.findings[2].is_credential());
//!
//! // A configuration: profile, operators per kind, a keyed pseudonym for e-mails.
//! let mut config = RedactConfig::profile(Profile::Pci);
//! config.enable.push(Kind::Email);
//! config.operators.insert("credit_card".into(), Operator::mask_last(4));
//! config.operators.insert("email".into(), Operator::pseudonym());
//! config.pseudonym_key = Some(ward_redact::PseudonymKey::new(b"per-tenant key, 16+ bytes"));
//! let r = Redactor::new(&config).unwrap();
//! let out = r.redact_str("jane@example.com paid with 4111111111111111");
//! assert!(out.text.starts_with("[EMAIL:") && out.text.ends_with(" paid with ************1111"));
//!
//! // JSON: field rules by key, text rules on strings, counts and credential events.
//! let mut doc = serde_json::json!({"headers": {"authorization": "Basic dXNlcjpwYXNz"}, "msg": "token=ghp_x"});
//! let mut report = Report::new();
//! r.redact_json(&mut doc, &mut report);
//! assert_eq!(doc["headers"]["authorization"], "[AUTHORIZATION_HEADER]");
//! assert_eq!(report.credentials()[0].key.as_deref(), Some("headers.authorization"));
//! ```
//!
//! # What it detects
//!
//! [`Kind`] lists the types (with [`Kind::is_credential`] for the ones that should raise a
//! security event); [`Profile`] says which are on by default; [`detectors`] lists the
//! detectors. Validation is what keeps logs — full of trace ids, UUIDs, timestamps, digests,
//! ports and byte counts — free of false positives: every numeric identifier is checked by its
//! checksum and layout, and the shapes that a checksum alone cannot tell from a random number
//! (a bare 9-digit run is an SSN, a SIN, a BSN, a TFN or an ABA number one time in ten) need a
//! keyword in the 40 bytes before them.
//!
//! # Detectors
//!
//! | detector | kind | validation | profiles |
//! |---|---|---|---|
//! | `email` | `email` | `@`, RFC 5322 local part, ≥ 2 DNS labels, alphabetic TLD that is not a file extension | default, gdpr, hipaa, strict |
//! | `phone.e164` | `phone` | `+`/`00` + known country code; national number length and leading digits (52 plans; NANP NXX rules) | default, gdpr, hipaa, strict |
//! | `phone.nanp` | `phone` | NANP `NXX.NXX.XXXX` (dotted) | default, gdpr, hipaa, strict |
//! | `phone.national` | `phone` | national layouts: NANP, trunk-0 with 1-5 digit area codes (UK, DE, FR, NL, AU, JP, SE, IN …), BR, IT/PL/IN mobiles, ES numbers; bare runs after a phone keyword | default, gdpr, hipaa, strict |
//! | `card.luhn` | `credit_card` | 13-19 digits, card groupings, Luhn + issuer ranges and lengths | default, gdpr, hipaa, pci, strict |
//! | `card.track1` | `card_track_data` | `%B` PAN `^` name `^` data `?`, Luhn | default, gdpr, hipaa, pci, strict |
//! | `card.track2` | `card_track_data` | `;` PAN `=` data `?`, Luhn | default, gdpr, hipaa, pci, strict |
//! | `cvv` | `cvv` | 3-4 digits after cvv/cvc/cvv2/security code | default, gdpr, hipaa, pci, strict |
//! | `iban` | `iban` | country length + mod 97, compact or in groups of four | default, gdpr, hipaa, strict |
//! | `aba_routing` | `aba_routing` | 9 digits, Federal Reserve prefix, 3-7-1 checksum, after routing/ABA keyword | default, gdpr, hipaa, strict |
//! | `swift_bic` | `swift_bic` | 8/11 characters with an ISO country, after swift/bic keyword | default, gdpr, strict |
//! | `bitcoin.base58` | `bitcoin_address` | Base58Check (double SHA-256), version 0x00/0x05 | default, gdpr, strict |
//! | `bitcoin.bech32` | `bitcoin_address` | bech32/bech32m checksum, witness version and program length | default, gdpr, strict |
//! | `ethereum` | `ethereum_address` | `0x` + 40 hex digits (not all equal) | default, gdpr, strict |
//! | `us_ssn` | `us_ssn` | AAA-GG-SSSS without 000/666/9xx areas, 00 groups, 0000 serials; bare after ssn keyword | default, gdpr, hipaa, strict |
//! | `us_itin` | `us_itin` | 9XX-GG-SSSS with ITIN groups 50-65, 70-88, 90-92, 94-99 | default, gdpr, hipaa, strict |
//! | `uk_nino` | `uk_nino` | prefix letter rules, 6 digits, suffix A-D (compact or spaced) | default, gdpr, strict |
//! | `uk_nhs` | `uk_nhs` | 10 digits mod 11 (3-3-4 layout, or bare after nhs) | default, gdpr, strict |
//! | `fr_nir` | `fr_nir` | 15 digits: sex, month, department, key = 97 − (n mod 97) | default, gdpr, strict |
//! | `de_tax_id` | `de_tax_id` | 11 digits, digit-repetition rule, ISO 7064 mod 11,10 (2-3-3-3 layout or after keyword) | default, gdpr, strict |
//! | `it_codice_fiscale` | `it_codice_fiscale` | 16-character structure (omocodia allowed), odd/even check character | default, gdpr, strict |
//! | `es_nif` | `es_nif` | 8 digits + mod-23 letter (`12345678Z` or `12345678-Z`) | default, gdpr, strict |
//! | `es_nie` | `es_nie` | X/Y/Z + 7 digits + mod-23 letter | default, gdpr, strict |
//! | `nl_bsn` | `nl_bsn` | 9 digits 11-test, after bsn keyword | default, gdpr, strict |
//! | `pl_pesel` | `pl_pesel` | 11 digits, encoded birth date, 1-3-7-9 checksum, after pesel keyword | default, gdpr, strict |
//! | `se_personnummer` | `se_personnummer` | YYMMDD-NNNC / YYYYMMDD-NNNC, date + Luhn | default, gdpr, strict |
//! | `fi_hetu` | `fi_hetu` | DDMMYY, century sign, NNN, mod-31 check character | default, gdpr, strict |
//! | `ca_sin` | `ca_sin` | 9 digits Luhn, first digit not 0/8 (3-3-3 layout or after sin keyword) | default, gdpr, strict |
//! | `in_aadhaar` | `in_aadhaar` | 12 digits Verhoeff, first digit 2-9 (4-4-4 layout or after aadhaar/uid keyword) | default, gdpr, strict |
//! | `au_tfn` | `au_tfn` | 8/9 digits weighted mod 11 (3-3-3 layout or after tfn keyword) | default, gdpr, strict |
//! | `passport` | `passport` | 6-9 upper-case alphanumerics with ≥ 4 digits, after passport keyword (passport, passeport, Reisepass, pasaporte, passaporto) | default, gdpr, hipaa, strict |
//! | `vin` | `vin` | 17 characters without I/O/Q, position-9 check digit | gdpr, hipaa, strict |
//! | `us_npi` | `us_npi` | 10 digits, Luhn over the 80840 prefix, after npi keyword | default, gdpr, hipaa, strict |
//! | `us_dea` | `us_dea` | registrant letter + letter + 7 digits checksum, after DEA keyword | default, gdpr, hipaa, strict |
//! | `us_mbi` | `us_mbi` | 11-character CMS format (no S/L/O/I/B/Z), compact or dashed | default, gdpr, hipaa, strict |
//! | `mrn` | `medical_record_number` | 5-16 characters with ≥ 5 digits after MRN/medical record keyword | default, gdpr, hipaa, strict |
//! | `ipv4` | `ipv4` | dotted quad 0-255 without leading zeros, not right after version/build/rv | gdpr, hipaa, strict |
//! | `ipv6` | `ipv6` | hex/colon run parsed by std, ≥ 3 colons (or fe80::/::1), with a digit | gdpr, hipaa, strict |
//! | `mac` | `mac_address` | 6 hex pairs with uniform `:` or `-`, not all-zero/broadcast | gdpr, hipaa, strict |
//! | `openai` | `openai_key` | `sk-`, `sk-proj-`, `sk-svcacct-`, `sk-admin-` + anchored regex | all |
//! | `anthropic` | `anthropic_key` | `sk-ant-api03-…` anchored regex | all |
//! | `aws.access_key_id` | `aws_access_key_id` | `AKIA`/`ASIA`/`ABIA`/`ACCA` + 16 base32 | all |
//! | `aws.secret_access_key` | `aws_secret_key` | 40 base64 characters after aws_secret_access_key-like keys | all |
//! | `gcp.api_key` | `gcp_api_key` | `AIza` + 35 characters | all |
//! | `google.oauth` | `google_oauth_token` | `ya29.` + token | all |
//! | `azure.storage_key` | `azure_storage_key` | `AccountKey=`/`SharedAccessKey=` base64 | all |
//! | `azure.sas` | `azure_sas` | `sig=` ≥ 40 signature characters (URL-escaped base64) | all |
//! | `github.classic` | `github_token` | `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` + 36, CRC32 checksum verified | all |
//! | `github.fine_grained` | `github_token` | `github_pat_` + 22 + `_` + 59 | all |
//! | `gitlab` | `gitlab_token` | `glpat-`, `gldt-`, `glrt-`, `glptt-`, `glft-`, `glsoat-`, `glcbt-` | all |
//! | `slack.token` | `slack_token` | `xox[baprse]-`, `xoxe.xox?-`, `xapp-` | all |
//! | `slack.webhook` | `slack_webhook` | `hooks.slack.com/services/T…/B…/…` (path secret) | all |
//! | `discord.webhook` | `discord_webhook` | `discord.com/api/webhooks/<id>/<token>` | all |
//! | `telegram` | `telegram_bot_token` | `<bot id>:AA` + 33 | all |
//! | `stripe` | `stripe_key` | `sk_live_`, `sk_test_`, `rk_live_`, `rk_test_`, `whsec_` | all |
//! | `twilio.account_sid` | `twilio_key` | `AC` + 32 hex | all |
//! | `twilio.api_key` | `twilio_key` | `SK` + 32 hex next to "twilio" | all |
//! | `sendgrid` | `sendgrid_key` | `SG.` + 22 + `.` + 43 | all |
//! | `mailchimp` | `mailchimp_key` | 32 hex + `-us` + data centre | all |
//! | `huggingface` | `huggingface_token` | `hf_` + 30-40 mixed-case | all |
//! | `npm` | `npm_token` | `npm_` + 36 | all |
//! | `pypi` | `pypi_token` | `pypi-AgE…` macaroon | all |
//! | `databricks` | `databricks_token` | `dapi` + 32 hex | all |
//! | `shopify` | `shopify_token` | `shpat_`/`shpca_`/`shppa_`/`shpss_` + 32 hex | all |
//! | `digitalocean` | `digitalocean_token` | `dop_v1_`/`doo_v1_`/`dor_v1_` + 64 hex | all |
//! | `grafana` | `grafana_token` | `glsa_…_<8 hex>`, `glc_` + base64 | all |
//! | `newrelic` | `newrelic_key` | `NRAK-` + 27 | all |
//! | `vault` | `vault_token` | `hvs.`/`hvb.` + token | all |
//! | `pulumi` | `pulumi_token` | `pul-` + 40 hex | all |
//! | `linear` | `linear_api_key` | `lin_api_` + 40 | all |
//! | `postman` | `postman_key` | `PMAK-` + 24 hex + `-` + 34 hex | all |
//! | `atlassian` | `atlassian_token` | `ATATT3` + token | all |
//! | `doppler` | `doppler_token` | `dp.pt.`/`dp.st.`/`dp.sa.`/`dp.ct.`/`dp.scim.`/`dp.audit.` + 40-44 | all |
//! | `groq` | `groq_key` | `gsk_` + 48-56 | all |
//! | `xai` | `xai_key` | `xai-` + 60-100 | all |
//! | `perplexity` | `perplexity_key` | `pplx-` + 40-60 | all |
//! | `openrouter` | `openrouter_key` | `sk-or-v1-` + 64 hex | all |
//! | `replicate` | `replicate_token` | `r8_` + 37 | all |
//! | `langsmith` | `langsmith_key` | `lsv2_pt_`/`lsv2_sk_` + 32 hex + `_` + 10 hex | all |
//! | `langfuse` | `langfuse_key` | `sk-lf-` + UUID | all |
//! | `pinecone` | `pinecone_key` | `pcsk_` + id + `_` + secret | all |
//! | `ward.api_key` | `ward_api_key` | `ward_` + 12 + `_` + 40 | all |
//! | `jwt` | `jwt` | `eyJ` + 3/5 base64url segments, header decodes to JSON with `alg` | all |
//! | `private_key` | `private_key` | `-----BEGIN … PRIVATE KEY-----` to END (whole block) | all |
//! | `url.userinfo` | `url_credentials` | `scheme://user:pass@host`: user and password (only the password after token-auth users such as `__token__`, or with `url_credentials = "password"`) | all |
//! | `url.connection_string` | `connection_string` | database/broker URL schemes with userinfo | all |
//! | `keyword.authorization` | `authorization_header` | `Authorization:`/`"authorization":` value after the scheme | all |
//! | `bearer` | `authorization_header` | bare `Bearer <token>` (≥ 16 characters) | all |
//! | `basic` | `authorization_header` | bare `Basic <base64>` that decodes to printable `user:password` | all |
//! | `keyword.password` | `password_assignment` | `password=`, `"passwd": "…"`, `db_pass:`, YAML/logfmt/JSON/escaped JSON; `password <value>` when the value looks like a password | all |
//! | `keyword.secret` | `generic_secret` | `secret`, `api_key`, `client_secret`, `private_key`, `signing_key`, `encryption_key`, `credentials` … assignments | all |
//! | `keyword.token` | `generic_secret` | `…token` assignments with a random-looking value (≥ 16, entropy ≥ 3; hex ≥ 2.5) | all |
//! | `keyword.generic` | `generic_secret` | high-entropy value (≥ 20, entropy ≥ 3.5; hex ≥ 3) right after a secret keyword without `=`/`:` | all |
//!
//! Besides text detectors, **field rules** ([`FieldRule`], [`Redactor::field_action`]) remove the
//! value of attributes by key whatever it looks like: `*password`, `*authorization`, `*token`,
//! `*secret`, `*api_key`, `cookie`, … in every profile, and `ssn`, `card_number`, `cvv`, … when
//! the corresponding kind is enabled.
//!
//! # Operators
//!
//! Each kind is rewritten by an [`Operator`]: the typed token (`[EMAIL]`, the default), a
//! [mask](Operator::Mask) (`************1111`), a keyed [pseudonym](Operator::Pseudonym)
//! (HMAC-SHA256 with a per-tenant [`PseudonymKey`], truncated: `[EMAIL:3f9a1c2b]`, stable for a
//! tenant so records can still be correlated), a fixed text, or [drop](Operator::Drop) (the
//! attribute is removed). Custom rules ([`CustomRule`]) add a regex, an optional named
//! [`Validator`] and an operator; the [`AllowList`] keeps test card numbers, internal e-mail
//! domains and any value or pattern you list.
//!
//! # How it is fast
//!
//! Nothing runs a big regex set over the text. The scanner makes a few passes, each
//! linear and allocation-free on clean text: a SIMD multi-literal search (two Teddy searchers)
//! for secret prefixes and keywords (each hit confirmed by its own anchored regex or parser at
//! that position only), one walk over digit runs dispatching to checksum validators by shape, a
//! vectorised byte search for `@`, and (only when IPv6/MAC detection is on) one for `:`/`-`.
//! The `throughput` example measures each profile on a generated log corpus.
//!
//! # Guarantees
//!
//! No `unsafe`; no panics on any input (offsets derived from the input are read with bounds
//! checks, spans are widened to `char` boundaries); output is valid UTF-8 and text around
//! findings passes through byte for byte; findings never include the value.
//!
//! # Known gaps
//!
//! * Names and postal addresses (no dictionary or model), and dates of birth (a date is
//!   indistinguishable from a timestamp without context).
//! * Secrets with neither a known prefix nor a secret keyword nearby: entropy alone would flag
//!   every trace id and digest, so a bare random string is left alone by design.
//! * Cookies in free text (`Cookie: session=…`): only the `cookie`/`set-cookie` field rules.
//! * EIP-55 checksums of Ethereum addresses (need Keccak); Corsican NIRs (`2A`/`2B`);
//!   fully omocodic codici fiscali (no digit left); IPv6 zone ids; Cisco-style dotted MACs.
//! * National phone formats of countries not listed above, unless written with `+` or `00`.
//! * Unquoted YAML values are cut at the first space; JSON object keys are not scanned.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod catalog;
mod config;
mod detectors;
mod fields;
mod finding;
mod kind;
mod operator;
mod profile;
mod redactor;
mod scan;
pub mod validators;

pub use catalog::{DetectorInfo, detectors};
pub use config::{AllowList, ConfigError, CustomRule, FieldRule, RedactConfig, UrlCredentialsMode};
pub use finding::{CredentialEvent, Detector, FieldRedaction, Finding, Redacted, Report};
pub use kind::{Category, Kind};
pub use operator::{Operator, PseudonymKey};
pub use profile::{Profile, UnknownProfile};
pub use redactor::{FieldAction, Redactor};
pub use validators::Validator;
