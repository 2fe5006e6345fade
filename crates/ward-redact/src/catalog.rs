//! The list of built-in detectors, for documentation, `ward redact --list` and tests.

use crate::kind::Kind;
use crate::profile::Profile;

/// A built-in detector: its id (as reported in [`crate::Finding::detector`]), the kind it
/// reports and how a candidate is confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectorInfo {
    /// Detector id.
    pub id: &'static str,
    /// Kind reported.
    pub kind: Kind,
    /// How candidates are found and validated.
    pub validation: &'static str,
}

impl DetectorInfo {
    /// The profiles that enable this detector.
    pub fn profiles(&self) -> impl Iterator<Item = Profile> + '_ {
        Profile::ALL.into_iter().filter(|p| p.includes(&self.kind))
    }
}

macro_rules! catalog {
    ($( $id:literal, $kind:ident, $how:literal; )*) => {
        /// Every built-in text detector.
        pub fn detectors() -> &'static [DetectorInfo] {
            static LIST: &[DetectorInfo] = &[ $( DetectorInfo { id: $id, kind: Kind::$kind, validation: $how }, )* ];
            LIST
        }
    };
}

catalog! {
    "email", Email, "`@`, RFC 5322 local part, ≥ 2 DNS labels, alphabetic TLD that is not a file extension";
    "phone.e164", Phone, "`+`/`00` + known country code; national number length and leading digits (52 plans; NANP NXX rules)";
    "phone.nanp", Phone, "NANP `NXX.NXX.XXXX` (dotted)";
    "phone.national", Phone, "national layouts: NANP, trunk-0 with 1-5 digit area codes (UK, DE, FR, NL, AU, JP, SE, IN …), BR, IT/PL/IN mobiles, ES numbers; bare runs after a phone keyword";
    "card.luhn", CreditCard, "13-19 digits, card groupings, Luhn + issuer ranges and lengths";
    "card.track1", CardTrackData, "`%B` PAN `^` name `^` data `?`, Luhn";
    "card.track2", CardTrackData, "`;` PAN `=` data `?`, Luhn";
    "cvv", Cvv, "3-4 digits after cvv/cvc/cvv2/security code";
    "iban", Iban, "country length + mod 97, compact or in groups of four";
    "aba_routing", AbaRouting, "9 digits, Federal Reserve prefix, 3-7-1 checksum, after routing/ABA keyword";
    "swift_bic", SwiftBic, "8/11 characters with an ISO country, after swift/bic keyword";
    "bitcoin.base58", BitcoinAddress, "Base58Check (double SHA-256), version 0x00/0x05";
    "bitcoin.bech32", BitcoinAddress, "bech32/bech32m checksum, witness version and program length";
    "ethereum", EthereumAddress, "`0x` + 40 hex digits (not all equal)";
    "us_ssn", UsSsn, "AAA-GG-SSSS without 000/666/9xx areas, 00 groups, 0000 serials; bare after ssn keyword";
    "us_itin", UsItin, "9XX-GG-SSSS with ITIN groups 50-65, 70-88, 90-92, 94-99";
    "uk_nino", UkNino, "prefix letter rules, 6 digits, suffix A-D (compact or spaced)";
    "uk_nhs", UkNhs, "10 digits mod 11 (3-3-4 layout, or bare after nhs)";
    "fr_nir", FrNir, "15 digits: sex, month, department, key = 97 − (n mod 97)";
    "de_tax_id", DeTaxId, "11 digits, digit-repetition rule, ISO 7064 mod 11,10 (2-3-3-3 layout or after keyword)";
    "it_codice_fiscale", ItCodiceFiscale, "16-character structure (omocodia allowed), odd/even check character";
    "es_nif", EsNif, "8 digits + mod-23 letter (`12345678Z` or `12345678-Z`)";
    "es_nie", EsNie, "X/Y/Z + 7 digits + mod-23 letter";
    "nl_bsn", NlBsn, "9 digits 11-test, after bsn keyword";
    "pl_pesel", PlPesel, "11 digits, encoded birth date, 1-3-7-9 checksum, after pesel keyword";
    "se_personnummer", SePersonnummer, "YYMMDD-NNNC / YYYYMMDD-NNNC, date + Luhn";
    "fi_hetu", FiHetu, "DDMMYY, century sign, NNN, mod-31 check character";
    "ca_sin", CaSin, "9 digits Luhn, first digit not 0/8 (3-3-3 layout or after sin keyword)";
    "in_aadhaar", InAadhaar, "12 digits Verhoeff, first digit 2-9 (4-4-4 layout or after aadhaar/uid keyword)";
    "au_tfn", AuTfn, "8/9 digits weighted mod 11 (3-3-3 layout or after tfn keyword)";
    "passport", Passport, "6-9 upper-case alphanumerics with ≥ 4 digits, after passport keyword (passport, passeport, Reisepass, pasaporte, passaporto)";
    "vin", Vin, "17 characters without I/O/Q, position-9 check digit";
    "us_npi", UsNpi, "10 digits, Luhn over the 80840 prefix, after npi keyword";
    "us_dea", UsDea, "registrant letter + letter + 7 digits checksum, after DEA keyword";
    "us_mbi", UsMbi, "11-character CMS format (no S/L/O/I/B/Z), compact or dashed";
    "mrn", MedicalRecordNumber, "5-16 characters with ≥ 5 digits after MRN/medical record keyword";
    "ipv4", Ipv4, "dotted quad 0-255 without leading zeros, not right after version/build/rv";
    "ipv6", Ipv6, "hex/colon run parsed by std, ≥ 3 colons (or fe80::/::1), with a digit";
    "mac", MacAddress, "6 hex pairs with uniform `:` or `-`, not all-zero/broadcast";
    "openai", OpenAiKey, "`sk-`, `sk-proj-`, `sk-svcacct-`, `sk-admin-` + anchored regex";
    "anthropic", AnthropicKey, "`sk-ant-api03-…` anchored regex";
    "aws.access_key_id", AwsAccessKeyId, "`AKIA`/`ASIA`/`ABIA`/`ACCA` + 16 base32";
    "aws.secret_access_key", AwsSecretKey, "40 base64 characters after aws_secret_access_key-like keys";
    "gcp.api_key", GcpApiKey, "`AIza` + 35 characters";
    "google.oauth", GoogleOauthToken, "`ya29.` + token";
    "azure.storage_key", AzureStorageKey, "`AccountKey=`/`SharedAccessKey=` base64";
    "azure.sas", AzureSas, "`sig=` ≥ 40 signature characters (URL-escaped base64)";
    "github.classic", GithubToken, "`ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` + 36, CRC32 checksum verified";
    "github.fine_grained", GithubToken, "`github_pat_` + 22 + `_` + 59";
    "gitlab", GitlabToken, "`glpat-`, `gldt-`, `glrt-`, `glptt-`, `glft-`, `glsoat-`, `glcbt-`";
    "slack.token", SlackToken, "`xox[baprse]-`, `xoxe.xox?-`, `xapp-`";
    "slack.webhook", SlackWebhook, "`hooks.slack.com/services/T…/B…/…` (path secret)";
    "discord.webhook", DiscordWebhook, "`discord.com/api/webhooks/<id>/<token>`";
    "telegram", TelegramBotToken, "`<bot id>:AA` + 33";
    "stripe", StripeKey, "`sk_live_`, `sk_test_`, `rk_live_`, `rk_test_`, `whsec_`";
    "twilio.account_sid", TwilioKey, "`AC` + 32 hex";
    "twilio.api_key", TwilioKey, "`SK` + 32 hex next to \"twilio\"";
    "sendgrid", SendgridKey, "`SG.` + 22 + `.` + 43";
    "mailchimp", MailchimpKey, "32 hex + `-us` + data centre";
    "huggingface", HuggingfaceToken, "`hf_` + 30-40 mixed-case";
    "npm", NpmToken, "`npm_` + 36";
    "pypi", PypiToken, "`pypi-AgE…` macaroon";
    "databricks", DatabricksToken, "`dapi` + 32 hex";
    "shopify", ShopifyToken, "`shpat_`/`shpca_`/`shppa_`/`shpss_` + 32 hex";
    "digitalocean", DigitaloceanToken, "`dop_v1_`/`doo_v1_`/`dor_v1_` + 64 hex";
    "grafana", GrafanaToken, "`glsa_…_<8 hex>`, `glc_` + base64";
    "newrelic", NewrelicKey, "`NRAK-` + 27";
    "vault", VaultToken, "`hvs.`/`hvb.` + token";
    "pulumi", PulumiToken, "`pul-` + 40 hex";
    "linear", LinearApiKey, "`lin_api_` + 40";
    "postman", PostmanKey, "`PMAK-` + 24 hex + `-` + 34 hex";
    "atlassian", AtlassianToken, "`ATATT3` + token";
    "doppler", DopplerToken, "`dp.pt.`/`dp.st.`/`dp.sa.`/`dp.ct.`/`dp.scim.`/`dp.audit.` + 40-44";
    "groq", GroqKey, "`gsk_` + 48-56";
    "xai", XaiKey, "`xai-` + 60-100";
    "perplexity", PerplexityKey, "`pplx-` + 40-60";
    "openrouter", OpenrouterKey, "`sk-or-v1-` + 64 hex";
    "replicate", ReplicateToken, "`r8_` + 37";
    "langsmith", LangsmithKey, "`lsv2_pt_`/`lsv2_sk_` + 32 hex + `_` + 10 hex";
    "langfuse", LangfuseKey, "`sk-lf-` + UUID";
    "pinecone", PineconeKey, "`pcsk_` + id + `_` + secret";
    "ward.api_key", WardApiKey, "`ward_` + 12 + `_` + 40";
    "jwt", Jwt, "`eyJ` + 3/5 base64url segments, header decodes to JSON with `alg`";
    "private_key", PrivateKey, "`-----BEGIN … PRIVATE KEY-----` to END (whole block)";
    "url.userinfo", UrlCredentials, "`scheme://user:pass@host`: user and password (only the password after token-auth users such as `__token__`, or with `url_credentials = \"password\"`)";
    "url.connection_string", ConnectionString, "database/broker URL schemes with userinfo";
    "keyword.authorization", AuthorizationHeader, "`Authorization:`/`\"authorization\":` value after the scheme";
    "bearer", AuthorizationHeader, "bare `Bearer <token>` (≥ 16 characters)";
    "basic", AuthorizationHeader, "bare `Basic <base64>` that decodes to printable `user:password`";
    "keyword.password", PasswordAssignment, "`password=`, `\"passwd\": \"…\"`, `db_pass:`, YAML/logfmt/JSON/escaped JSON; `password <value>` when the value looks like a password";
    "keyword.secret", GenericSecret, "`secret`, `api_key`, `client_secret`, `private_key`, `signing_key`, `encryption_key`, `credentials` … assignments";
    "keyword.token", GenericSecret, "`…token` assignments with a random-looking value (≥ 16, entropy ≥ 3; hex ≥ 2.5)";
    "keyword.generic", GenericSecret, "high-entropy value (≥ 20, entropy ≥ 3.5; hex ≥ 3) right after a secret keyword without `=`/`:`";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_least_sixty_detectors_covering_every_kind() {
        let list = detectors();
        assert!(list.len() >= 60, "{}", list.len());
        for kind in Kind::all() {
            assert!(
                list.iter().any(|d| d.kind == *kind),
                "no detector for {kind}"
            );
        }
        let mut ids: Vec<&str> = list.iter().map(|d| d.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(n, ids.len(), "duplicate detector id");
    }

    #[test]
    fn crate_docs_list_every_detector() {
        let docs = include_str!("lib.rs");
        for d in detectors() {
            assert!(
                docs.contains(&format!("| `{}` |", d.id)),
                "lib.rs detector table misses {}",
                d.id
            );
        }
    }
}
