//! Profiles: named sets of enabled kinds (and of built-in field rules).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::kind::{Category, Kind, KindSet};

/// A named starting point for a configuration. Every profile redacts credentials.
///
/// | profile | kinds |
/// |---|---|
/// | `default` | secrets, contact, financial, government (except VIN) and health identifiers; network identifiers off |
/// | `gdpr` | `default` + IP and MAC addresses (personal data under the GDPR) + VIN |
/// | `hipaa` | the Safe Harbor identifiers text can show: contact, US SSN/ITIN, passport, VIN, account and card numbers, health identifiers, IP/MAC addresses, and secrets |
/// | `pci` | card numbers, track data, CVV in context, and secrets |
/// | `secrets-only` | credentials only |
/// | `strict` | every built-in kind |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Secrets and high-confidence personal data; network identifiers off.
    #[default]
    Default,
    /// `default` plus network identifiers and VINs.
    Gdpr,
    /// HIPAA Safe Harbor identifiers that text patterns can find.
    Hipaa,
    /// Payment card data (PCI DSS) and secrets.
    Pci,
    /// Credentials only.
    SecretsOnly,
    /// Everything.
    Strict,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 6] = [
        Profile::Default,
        Profile::Gdpr,
        Profile::Hipaa,
        Profile::Pci,
        Profile::SecretsOnly,
        Profile::Strict,
    ];

    /// The profile's name in configuration (`"secrets-only"` …).
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Default => "default",
            Profile::Gdpr => "gdpr",
            Profile::Hipaa => "hipaa",
            Profile::Pci => "pci",
            Profile::SecretsOnly => "secrets-only",
            Profile::Strict => "strict",
        }
    }

    /// Whether the profile enables `kind`.
    pub fn includes(self, kind: &Kind) -> bool {
        self.kind_set().contains(kind)
    }

    /// The kinds the profile enables.
    pub fn kinds(self) -> impl Iterator<Item = &'static Kind> {
        self.kind_set().iter()
    }

    pub(crate) fn kind_set(self) -> KindSet {
        let secrets = KindSet::of_categories(&[Category::Secret]);
        match self {
            Profile::Default => KindSet::of_categories(&[
                Category::Secret,
                Category::Contact,
                Category::Financial,
                Category::Government,
                Category::Health,
            ])
            .without(&Kind::Vin),
            Profile::Gdpr => Profile::Default
                .kind_set()
                .with(&Kind::Vin)
                .with(&Kind::Ipv4)
                .with(&Kind::Ipv6)
                .with(&Kind::MacAddress),
            Profile::Hipaa => {
                let extra = [
                    Kind::Email,
                    Kind::Phone,
                    Kind::CreditCard,
                    Kind::CardTrackData,
                    Kind::Cvv,
                    Kind::Iban,
                    Kind::AbaRouting,
                    Kind::UsSsn,
                    Kind::UsItin,
                    Kind::Passport,
                    Kind::Vin,
                    Kind::Ipv4,
                    Kind::Ipv6,
                    Kind::MacAddress,
                ];
                extra
                    .iter()
                    .fold(secrets, |s, k| s.with(k))
                    .with(&Kind::UsNpi)
                    .with(&Kind::UsDea)
                    .with(&Kind::UsMbi)
                    .with(&Kind::MedicalRecordNumber)
            }
            Profile::Pci => secrets
                .with(&Kind::CreditCard)
                .with(&Kind::CardTrackData)
                .with(&Kind::Cvv),
            Profile::SecretsOnly => secrets,
            Profile::Strict => KindSet::all(),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of [`Profile::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile {0:?}: use default, gdpr, hipaa, pci, secrets-only or strict")]
pub struct UnknownProfile(pub String);

impl FromStr for Profile {
    type Err = UnknownProfile;
    fn from_str(s: &str) -> Result<Profile, UnknownProfile> {
        Profile::ALL
            .into_iter()
            .find(|p| {
                p.as_str().eq_ignore_ascii_case(s)
                    || (s.eq_ignore_ascii_case("secrets_only") && *p == Profile::SecretsOnly)
            })
            .ok_or_else(|| UnknownProfile(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_redacts_every_credential() {
        for p in Profile::ALL {
            for k in Kind::all().iter().filter(|k| k.is_credential()) {
                assert!(p.includes(k), "{p} misses {k}");
            }
        }
    }

    #[test]
    fn default_has_no_network_identifiers() {
        for k in [Kind::Ipv4, Kind::Ipv6, Kind::MacAddress] {
            assert!(!Profile::Default.includes(&k));
            assert!(Profile::Gdpr.includes(&k));
            assert!(Profile::Strict.includes(&k));
        }
        assert!(Profile::Default.includes(&Kind::Email));
        assert!(!Profile::SecretsOnly.includes(&Kind::Email));
        assert!(Profile::Pci.includes(&Kind::CreditCard) && !Profile::Pci.includes(&Kind::Email));
        assert!(
            Profile::Hipaa.includes(&Kind::UsMbi)
                && !Profile::Hipaa.includes(&Kind::ItCodiceFiscale)
        );
        assert_eq!(Profile::Strict.kinds().count(), Kind::all().len());
    }

    #[test]
    fn names_parse() {
        for p in Profile::ALL {
            assert_eq!(p.as_str().parse::<Profile>(), Ok(p));
        }
        assert_eq!("SECRETS_ONLY".parse::<Profile>(), Ok(Profile::SecretsOnly));
        assert!("lenient".parse::<Profile>().is_err());
        let p: Profile = serde_json::from_str("\"secrets-only\"").unwrap();
        assert_eq!(p, Profile::SecretsOnly);
    }
}
