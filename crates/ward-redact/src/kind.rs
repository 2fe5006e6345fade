//! What was found: the [`Kind`] of a finding, its category and whether it is a credential.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The broad family a [`Kind`] belongs to; profiles are mostly unions of categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// E-mail addresses and phone numbers.
    Contact,
    /// Payment cards, bank accounts, crypto-currency addresses.
    Financial,
    /// National identity, tax and travel document numbers, vehicle identifiers.
    Government,
    /// Health-care identifiers (providers, beneficiaries, records).
    Health,
    /// IP and MAC addresses.
    Network,
    /// Credentials: API keys, tokens, passwords, private keys.
    Secret,
    /// Kinds declared by custom rules.
    Custom,
}

macro_rules! kinds {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, $token:literal, $cred:literal, $cat:ident; )*) => {
        /// The type of a finding.
        ///
        /// Built-in kinds have a stable snake_case name ([`Kind::as_str`], also their serde form)
        /// used in metrics labels and configuration; [`Kind::Custom`] carries the name of a
        /// custom rule.
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Kind {
            $( $(#[$doc])* $variant, )*
            /// Found by a custom rule; the payload is the rule's name.
            Custom(Arc<str>),
        }

        // A fieldless twin of the built-in variants, so that `Kind::index` is a plain cast rather
        // than a search (it is called for every candidate on the hot path).
        #[allow(clippy::enum_variant_names, dead_code)]
        #[derive(Clone, Copy)]
        enum Idx { $( $variant, )* }

        /// Every built-in kind, in declaration order.
        pub(crate) const BUILTIN: &[Kind] = &[ $( Kind::$variant, )* ];

        impl Kind {
            /// Position among the built-in kinds (`None` for custom kinds).
            pub(crate) fn index(&self) -> Option<usize> {
                match self {
                    $( Kind::$variant => Some(Idx::$variant as usize), )*
                    Kind::Custom(_) => None,
                }
            }

            /// Stable snake_case name, e.g. `"email"`, `"aws_access_key_id"`; a custom kind
            /// returns its rule name.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Kind::$variant => $name, )*
                    Kind::Custom(name) => name,
                }
            }

            /// The replacement token, e.g. `"[EMAIL]"`; custom kinds give `"[NAME]"` upper-cased.
            pub fn token(&self) -> Cow<'static, str> {
                match self {
                    $( Kind::$variant => Cow::Borrowed($token), )*
                    Kind::Custom(name) => Cow::Owned(format!("[{}]", name.to_ascii_uppercase())),
                }
            }

            /// Whether a finding of this kind is a credential (a leaked secret that should raise a
            /// security event), as opposed to personal data.
            pub fn is_credential(&self) -> bool {
                match self {
                    $( Kind::$variant => $cred, )*
                    Kind::Custom(_) => false,
                }
            }

            /// The family of this kind.
            pub fn category(&self) -> Category {
                match self {
                    $( Kind::$variant => Category::$cat, )*
                    Kind::Custom(_) => Category::Custom,
                }
            }

            /// Looks a built-in kind up by its [`Kind::as_str`] name.
            pub fn builtin(name: &str) -> Option<Kind> {
                match name {
                    $( $name => Some(Kind::$variant), )*
                    _ => None,
                }
            }
        }
    };
}

kinds! {
    /// An e-mail address.
    Email => "email", "[EMAIL]", false, Contact;
    /// A phone number (E.164 or a national format), validated by numbering plan.
    Phone => "phone", "[PHONE]", false, Contact;
    /// A payment card number (PAN), Luhn- and issuer-validated.
    CreditCard => "credit_card", "[CREDIT_CARD]", false, Financial;
    /// Magnetic-stripe track 1 or 2 data.
    CardTrackData => "card_track_data", "[CARD_TRACK_DATA]", false, Financial;
    /// A card verification code (CVV/CVC) next to its keyword.
    Cvv => "cvv", "[CVV]", false, Financial;
    /// An IBAN (mod-97 and per-country length).
    Iban => "iban", "[IBAN]", false, Financial;
    /// A US ABA routing number (3-7-1 checksum) in context.
    AbaRouting => "aba_routing", "[ABA_ROUTING]", false, Financial;
    /// A SWIFT/BIC code in context.
    SwiftBic => "swift_bic", "[SWIFT_BIC]", false, Financial;
    /// A Bitcoin address (Base58Check or bech32/bech32m).
    BitcoinAddress => "bitcoin_address", "[BITCOIN_ADDRESS]", false, Financial;
    /// An Ethereum address (`0x` + 40 hex digits).
    EthereumAddress => "ethereum_address", "[ETHEREUM_ADDRESS]", false, Financial;
    /// A US Social Security number.
    UsSsn => "us_ssn", "[US_SSN]", false, Government;
    /// A US Individual Taxpayer Identification Number.
    UsItin => "us_itin", "[US_ITIN]", false, Government;
    /// A UK National Insurance number.
    UkNino => "uk_nino", "[UK_NINO]", false, Government;
    /// A UK NHS number (mod 11).
    UkNhs => "uk_nhs", "[UK_NHS]", false, Government;
    /// A French social security number (NIR, key mod 97).
    FrNir => "fr_nir", "[FR_NIR]", false, Government;
    /// A German tax identification number (Steuer-ID).
    DeTaxId => "de_tax_id", "[DE_TAX_ID]", false, Government;
    /// An Italian codice fiscale.
    ItCodiceFiscale => "it_codice_fiscale", "[IT_CODICE_FISCALE]", false, Government;
    /// A Spanish DNI/NIF.
    EsNif => "es_nif", "[ES_NIF]", false, Government;
    /// A Spanish NIE (foreigner identity number).
    EsNie => "es_nie", "[ES_NIE]", false, Government;
    /// A Dutch citizen service number (BSN, 11-test).
    NlBsn => "nl_bsn", "[NL_BSN]", false, Government;
    /// A Polish PESEL.
    PlPesel => "pl_pesel", "[PL_PESEL]", false, Government;
    /// A Swedish personal identity number.
    SePersonnummer => "se_personnummer", "[SE_PERSONNUMMER]", false, Government;
    /// A Finnish personal identity code (HETU).
    FiHetu => "fi_hetu", "[FI_HETU]", false, Government;
    /// A Canadian Social Insurance Number.
    CaSin => "ca_sin", "[CA_SIN]", false, Government;
    /// An Indian Aadhaar number (Verhoeff).
    InAadhaar => "in_aadhaar", "[IN_AADHAAR]", false, Government;
    /// An Australian Tax File Number.
    AuTfn => "au_tfn", "[AU_TFN]", false, Government;
    /// A passport number next to its keyword.
    Passport => "passport", "[PASSPORT]", false, Government;
    /// A vehicle identification number (North-American check digit).
    Vin => "vin", "[VIN]", false, Government;
    /// A US National Provider Identifier.
    UsNpi => "us_npi", "[US_NPI]", false, Health;
    /// A US DEA registration number.
    UsDea => "us_dea", "[US_DEA]", false, Health;
    /// A US Medicare Beneficiary Identifier.
    UsMbi => "us_mbi", "[US_MBI]", false, Health;
    /// A medical record number next to its keyword.
    MedicalRecordNumber => "medical_record_number", "[MEDICAL_RECORD_NUMBER]", false, Health;
    /// An IPv4 address.
    Ipv4 => "ipv4", "[IPV4]", false, Network;
    /// An IPv6 address.
    Ipv6 => "ipv6", "[IPV6]", false, Network;
    /// A MAC address.
    MacAddress => "mac_address", "[MAC_ADDRESS]", false, Network;
    /// An OpenAI API key.
    OpenAiKey => "openai_key", "[OPENAI_KEY]", true, Secret;
    /// An Anthropic API key.
    AnthropicKey => "anthropic_key", "[ANTHROPIC_KEY]", true, Secret;
    /// An AWS access key id.
    AwsAccessKeyId => "aws_access_key_id", "[AWS_ACCESS_KEY_ID]", true, Secret;
    /// An AWS secret access key (in context).
    AwsSecretKey => "aws_secret_key", "[AWS_SECRET_KEY]", true, Secret;
    /// A Google Cloud / Google AI API key.
    GcpApiKey => "gcp_api_key", "[GCP_API_KEY]", true, Secret;
    /// A Google OAuth access token.
    GoogleOauthToken => "google_oauth_token", "[GOOGLE_OAUTH_TOKEN]", true, Secret;
    /// An Azure storage account or shared access key.
    AzureStorageKey => "azure_storage_key", "[AZURE_STORAGE_KEY]", true, Secret;
    /// An Azure shared access signature.
    AzureSas => "azure_sas", "[AZURE_SAS]", true, Secret;
    /// A GitHub token.
    GithubToken => "github_token", "[GITHUB_TOKEN]", true, Secret;
    /// A GitLab token.
    GitlabToken => "gitlab_token", "[GITLAB_TOKEN]", true, Secret;
    /// A Slack token.
    SlackToken => "slack_token", "[SLACK_TOKEN]", true, Secret;
    /// A Slack incoming-webhook URL secret.
    SlackWebhook => "slack_webhook", "[SLACK_WEBHOOK]", true, Secret;
    /// A Discord webhook URL secret.
    DiscordWebhook => "discord_webhook", "[DISCORD_WEBHOOK]", true, Secret;
    /// A Telegram bot token.
    TelegramBotToken => "telegram_bot_token", "[TELEGRAM_BOT_TOKEN]", true, Secret;
    /// A Stripe secret or restricted key, or webhook secret.
    StripeKey => "stripe_key", "[STRIPE_KEY]", true, Secret;
    /// A Twilio API key or account SID.
    TwilioKey => "twilio_key", "[TWILIO_KEY]", true, Secret;
    /// A SendGrid API key.
    SendgridKey => "sendgrid_key", "[SENDGRID_KEY]", true, Secret;
    /// A Mailchimp API key.
    MailchimpKey => "mailchimp_key", "[MAILCHIMP_KEY]", true, Secret;
    /// A Hugging Face token.
    HuggingfaceToken => "huggingface_token", "[HUGGINGFACE_TOKEN]", true, Secret;
    /// An npm access token.
    NpmToken => "npm_token", "[NPM_TOKEN]", true, Secret;
    /// A PyPI API token.
    PypiToken => "pypi_token", "[PYPI_TOKEN]", true, Secret;
    /// A Databricks personal access token.
    DatabricksToken => "databricks_token", "[DATABRICKS_TOKEN]", true, Secret;
    /// A Shopify access token or shared secret.
    ShopifyToken => "shopify_token", "[SHOPIFY_TOKEN]", true, Secret;
    /// A DigitalOcean token.
    DigitaloceanToken => "digitalocean_token", "[DIGITALOCEAN_TOKEN]", true, Secret;
    /// A Grafana service-account or cloud token.
    GrafanaToken => "grafana_token", "[GRAFANA_TOKEN]", true, Secret;
    /// A New Relic user API key.
    NewrelicKey => "newrelic_key", "[NEWRELIC_KEY]", true, Secret;
    /// A HashiCorp Vault token.
    VaultToken => "vault_token", "[VAULT_TOKEN]", true, Secret;
    /// A Pulumi access token.
    PulumiToken => "pulumi_token", "[PULUMI_TOKEN]", true, Secret;
    /// A Linear API key.
    LinearApiKey => "linear_api_key", "[LINEAR_API_KEY]", true, Secret;
    /// A Postman API key.
    PostmanKey => "postman_key", "[POSTMAN_KEY]", true, Secret;
    /// An Atlassian API token.
    AtlassianToken => "atlassian_token", "[ATLASSIAN_TOKEN]", true, Secret;
    /// A Doppler token.
    DopplerToken => "doppler_token", "[DOPPLER_TOKEN]", true, Secret;
    /// A Groq API key.
    GroqKey => "groq_key", "[GROQ_KEY]", true, Secret;
    /// An xAI API key.
    XaiKey => "xai_key", "[XAI_KEY]", true, Secret;
    /// A Perplexity API key.
    PerplexityKey => "perplexity_key", "[PERPLEXITY_KEY]", true, Secret;
    /// An OpenRouter API key.
    OpenrouterKey => "openrouter_key", "[OPENROUTER_KEY]", true, Secret;
    /// A Replicate API token.
    ReplicateToken => "replicate_token", "[REPLICATE_TOKEN]", true, Secret;
    /// A LangSmith API key.
    LangsmithKey => "langsmith_key", "[LANGSMITH_KEY]", true, Secret;
    /// A Langfuse secret key.
    LangfuseKey => "langfuse_key", "[LANGFUSE_KEY]", true, Secret;
    /// A Pinecone API key.
    PineconeKey => "pinecone_key", "[PINECONE_KEY]", true, Secret;
    /// A Ward API key (`ward_<id>_<secret>`).
    WardApiKey => "ward_api_key", "[WARD_API_KEY]", true, Secret;
    /// A JSON Web Token.
    Jwt => "jwt", "[JWT]", true, Secret;
    /// A PEM/OpenSSH/PGP private key block.
    PrivateKey => "private_key", "[PRIVATE_KEY]", true, Secret;
    /// A password (or user and password) embedded in a URL.
    UrlCredentials => "url_credentials", "[URL_CREDENTIALS]", true, Secret;
    /// A password in a database/broker connection string.
    ConnectionString => "connection_string", "[CONNECTION_STRING]", true, Secret;
    /// The credential of an `Authorization` header (or a bare `Bearer` token).
    AuthorizationHeader => "authorization_header", "[AUTHORIZATION_HEADER]", true, Secret;
    /// The value of a `password=`/`"password":`/`passwd:` assignment.
    PasswordAssignment => "password_assignment", "[PASSWORD]", true, Secret;
    /// A high-entropy value next to a secret keyword (`token=`, `api_key:`, `client_secret` …).
    GenericSecret => "generic_secret", "[SECRET]", true, Secret;
}

impl Kind {
    /// Every built-in kind.
    pub fn all() -> &'static [Kind] {
        BUILTIN
    }

    /// A custom kind with the given rule name.
    pub fn custom(name: &str) -> Kind {
        Kind::Custom(Arc::from(name))
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Custom(name) => write!(f, "Custom({name:?})"),
            other => f.write_str(other.as_str()),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parsing a kind name never fails: unknown names become [`Kind::Custom`].
impl FromStr for Kind {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Kind, Self::Err> {
        Ok(Kind::builtin(s).unwrap_or_else(|| Kind::custom(s)))
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Kind, D::Error> {
        let name = Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Kind::builtin(&name).unwrap_or_else(|| Kind::custom(&name)))
    }
}

/// A set of built-in kinds, as a bit set (there are fewer than 128).
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub(crate) struct KindSet(u128);

const _: () = assert!(BUILTIN.len() <= 128, "KindSet is a u128");

impl KindSet {
    pub(crate) const EMPTY: KindSet = KindSet(0);

    pub(crate) fn all() -> KindSet {
        BUILTIN.iter().fold(KindSet::EMPTY, |s, k| s.with(k))
    }

    pub(crate) fn of_categories(cats: &[Category]) -> KindSet {
        BUILTIN
            .iter()
            .filter(|k| cats.contains(&k.category()))
            .fold(KindSet::EMPTY, |s, k| s.with(k))
    }

    pub(crate) fn with(self, kind: &Kind) -> KindSet {
        match kind.index() {
            Some(i) => KindSet(self.0 | (1u128 << i)),
            None => self,
        }
    }

    pub(crate) fn without(self, kind: &Kind) -> KindSet {
        match kind.index() {
            Some(i) => KindSet(self.0 & !(1u128 << i)),
            None => self,
        }
    }

    #[inline]
    pub(crate) fn contains(self, kind: &Kind) -> bool {
        match kind.index() {
            Some(i) => self.0 & (1u128 << i) != 0,
            None => false,
        }
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = &'static Kind> {
        BUILTIN.iter().filter(move |k| self.contains(k))
    }
}

impl fmt::Debug for KindSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tokens_and_lookup_round_trip() {
        for kind in Kind::all() {
            assert_eq!(Kind::builtin(kind.as_str()).as_ref(), Some(kind));
            let token = kind.token();
            assert!(token.starts_with('[') && token.ends_with(']'), "{token}");
            assert!(
                kind.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            );
        }
        assert_eq!(Kind::Email.token(), "[EMAIL]");
        assert_eq!(Kind::custom("employee_id").token(), "[EMPLOYEE_ID]");
        assert_eq!(
            "aws_access_key_id".parse::<Kind>().unwrap(),
            Kind::AwsAccessKeyId
        );
        assert_eq!("nope".parse::<Kind>().unwrap(), Kind::custom("nope"));
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = Kind::all().iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }

    #[test]
    fn credentials_are_exactly_the_secret_category() {
        for kind in Kind::all() {
            assert_eq!(
                kind.is_credential(),
                kind.category() == Category::Secret,
                "{kind}"
            );
        }
    }

    #[test]
    fn serde_uses_snake_case_names() {
        let json = serde_json::to_string(&Kind::UsSsn).unwrap();
        assert_eq!(json, "\"us_ssn\"");
        let back: Kind = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Kind::UsSsn);
    }

    #[test]
    fn kind_set_operations() {
        let s = KindSet::EMPTY.with(&Kind::Email).with(&Kind::Jwt);
        assert!(s.contains(&Kind::Email) && s.contains(&Kind::Jwt) && !s.contains(&Kind::Phone));
        assert!(!s.without(&Kind::Email).contains(&Kind::Email));
        assert!(!s.contains(&Kind::custom("x")));
        assert_eq!(KindSet::all().iter().count(), Kind::all().len());
    }
}
