//! Generators of valid instances of every kind, shared by the detector and property tests.
//! Checksums are completed by trying every check character against the crate's own public
//! validators (which have their own known-answer tests), so the generators cannot drift from
//! the detectors' definition of "valid".

#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use ward_redact::{Kind, validators as v};

/// SplitMix64: tiny, deterministic, good enough for test data.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn of_alphabet(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len).map(|_| *self.pick(alphabet) as char).collect()
    }

    pub fn digits(&mut self, len: usize) -> String {
        self.of_alphabet(b"0123456789", len)
    }

    pub fn hex(&mut self, len: usize) -> String {
        self.of_alphabet(b"0123456789abcdef", len)
    }

    /// Random alphanumerics with at least one digit, one upper- and one lower-case letter (real
    /// tokens of this length always have all three).
    pub fn alnum(&mut self, len: usize) -> String {
        loop {
            let s = self.of_alphabet(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                len,
            );
            let b = s.as_bytes();
            if len < 3
                || (b.iter().any(u8::is_ascii_digit)
                    && b.iter().any(u8::is_ascii_uppercase)
                    && b.iter().any(u8::is_ascii_lowercase))
            {
                return s;
            }
        }
    }

    pub fn upper(&mut self, len: usize) -> String {
        self.of_alphabet(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", len)
    }

    pub fn b64url(&mut self, len: usize) -> String {
        loop {
            let s = self.of_alphabet(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
                len,
            );
            if s.bytes().any(|b| b.is_ascii_digit()) {
                return s;
            }
        }
    }
}

/// Completes `body` with the first check character from `alphabet` that `valid` accepts.
fn complete(body: &str, alphabet: &[u8], valid: impl Fn(&[u8]) -> bool) -> Option<String> {
    alphabet
        .iter()
        .map(|&c| format!("{body}{}", c as char))
        .find(|s| valid(s.as_bytes()))
}

/// A planted instance: the text to embed (with its context keyword when the detector needs
/// one) and the part that must not survive redaction.
#[derive(Debug, Clone)]
pub struct Planted {
    pub kind: Kind,
    pub text: String,
    pub secret: String,
}

fn planted(kind: Kind, text: String, secret: String) -> Option<Planted> {
    Some(Planted { kind, text, secret })
}

fn bare(kind: Kind, s: String) -> Option<Planted> {
    planted(kind, s.clone(), s)
}

fn ctx(kind: Kind, keyword: &str, s: String) -> Option<Planted> {
    planted(kind, format!("{keyword}{s}"), s)
}

fn group(s: &str, sizes: &[usize], sep: &str) -> String {
    let mut out = String::new();
    let mut i = 0;
    for (n, &size) in sizes.iter().enumerate() {
        if n > 0 {
            out.push_str(sep);
        }
        out.push_str(&s[i..i + size]);
        i += size;
    }
    out
}

fn luhn_complete(body: &str) -> String {
    complete(body, b"0123456789", v::luhn).expect("one Luhn digit always fits")
}

fn base58_encode(bytes: &[u8]) -> String {
    const ALPHA: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut digits: Vec<u8> = Vec::new();
    for &b in bytes {
        let mut carry = u32::from(b);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    let mut s: String = std::iter::repeat_n('1', zeros).collect();
    s.extend(digits.iter().rev().map(|&d| ALPHA[d as usize] as char));
    s
}

fn bech32_encode(program: &[u8]) -> String {
    const CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let mut data = vec![0u8]; // witness version 0
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in program {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            data.push(((acc >> bits) & 31) as u8);
        }
    }
    if bits > 0 {
        data.push(((acc << (5 - bits)) & 31) as u8);
    }
    let polymod = |values: &[u8]| {
        let gen_ = [
            0x3b6a_57b2u32,
            0x2650_8e6d,
            0x1ea1_19fa,
            0x3d42_33dd,
            0x2a14_62b3,
        ];
        let mut chk: u32 = 1;
        for &v in values {
            let top = chk >> 25;
            chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
            for (i, g) in gen_.iter().enumerate() {
                if (top >> i) & 1 == 1 {
                    chk ^= g;
                }
            }
        }
        chk
    };
    let mut values = vec![3u8, 3, 0, 2, 3];
    values.extend(&data);
    values.extend([0u8; 6]);
    let pm = polymod(&values) ^ 1;
    for i in 0..6 {
        data.push(((pm >> (5 * (5 - i))) & 31) as u8);
    }
    let mut s = String::from("bc1");
    s.extend(data.iter().map(|&d| CHARSET[d as usize] as char));
    s
}

/// A valid GitHub classic token (with its CRC32 checksum).
pub fn github_token(prefix: &str, rng: &mut Rng) -> String {
    let random = rng.alnum(30);
    let suffix = v::github_checksum_suffix(random.as_bytes());
    format!("{prefix}{random}{}", std::str::from_utf8(&suffix).unwrap())
}

/// A password made of characters that survive unquoted in logfmt.
pub fn password(rng: &mut Rng) -> String {
    loop {
        let len = rng.range(8, 20) as usize;
        let s = rng.of_alphabet(
            b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789!%^*_+-",
            len,
        );
        if s.bytes().any(|b| b.is_ascii_digit()) && !s.starts_with(['-', '+', '#']) {
            return s;
        }
    }
}

/// A valid instance of `kind`, or `None` for kinds that have no generator here.
pub fn plant(kind: &Kind, rng: &mut Rng) -> Option<Planted> {
    let k = kind.clone();
    match kind {
        Kind::Email => {
            let tld = rng
                .pick(&["com", "org", "io", "de", "co.uk", "fr"])
                .to_string();
            let local = format!(
                "{}{}",
                rng.of_alphabet(b"abcdefghijklmnopqrstuvwxyz", 5),
                rng.pick(&["", ".x", "+tag", "_9"])
            );
            bare(
                k,
                format!(
                    "{local}@{}.{tld}",
                    rng.of_alphabet(b"abcdefghijklmnopqrstuvwxyz", 6)
                ),
            )
        }
        Kind::Phone => {
            let nxx = |rng: &mut Rng| loop {
                let s = format!("{}{}", rng.range(2, 9), rng.digits(2));
                if &s[1..] != "11" {
                    return s;
                }
            };
            let (a, b, c) = (nxx(rng), nxx(rng), rng.digits(4));
            let s = match rng.below(7) {
                0 => format!("+1 {a}-{b}-{c}"),
                1 => format!("({a}) {b}-{c}"),
                2 => format!("+44 20 {} {}", rng.digits(4), rng.digits(4)),
                3 => format!(
                    "+33 6 {} {} {} {}",
                    rng.digits(2),
                    rng.digits(2),
                    rng.digits(2),
                    rng.digits(2)
                ),
                4 => format!("+49 30 {}", rng.digits(8)),
                5 => format!("+91 9{} {}", rng.digits(4), rng.digits(5)),
                _ => format!("{a}-{b}-{c}"),
            };
            bare(k, s)
        }
        Kind::CreditCard => {
            let (prefix, len, groups): (&str, usize, &[usize]) = match rng.below(4) {
                0 => ("4", 16, &[4, 4, 4, 4]),
                1 => (
                    *rng.pick(&["51", "52", "53", "54", "55"]),
                    16,
                    &[4, 4, 4, 4],
                ),
                2 => (*rng.pick(&["34", "37"]), 15, &[4, 6, 5]),
                _ => ("6011", 16, &[4, 4, 4, 4]),
            };
            let body = format!("{prefix}{}", rng.digits(len - prefix.len() - 1));
            let pan = luhn_complete(&body);
            let shown = match rng.below(3) {
                0 => pan,
                1 => group(&pan, groups, " "),
                _ => group(&pan, groups, "-"),
            };
            bare(k, shown)
        }
        Kind::CardTrackData => {
            let pan = luhn_complete(&format!("4{}", rng.digits(14)));
            let s = format!(";{pan}={}{}?", rng.range(25, 35), rng.digits(16));
            bare(k, s)
        }
        Kind::Cvv => {
            let kw = *rng.pick(&["cvv: ", "CVV2=", "cvc "]);
            ctx(k, kw, rng.digits(3))
        }
        Kind::Iban => {
            let bban = rng.digits(18);
            let iban = (2..=98)
                .map(|c| format!("DE{c:02}{bban}"))
                .find(|s| v::iban(s.as_bytes()))?;
            let shown = if rng.below(2) == 0 {
                iban
            } else {
                group(&iban, &[4, 4, 4, 4, 4, 2], " ")
            };
            bare(k, shown)
        }
        Kind::AbaRouting => {
            let body = format!("0{}{}", rng.range(1, 9), rng.digits(6));
            ctx(
                k,
                "routing number ",
                complete(&body, b"0123456789", v::aba)?,
            )
        }
        Kind::SwiftBic => {
            let country = rng.pick(&["DE", "FR", "GB", "US", "IT", "NL"]).to_string();
            let mut s = format!("{}{country}{}", rng.upper(4), rng.upper(2));
            if rng.below(2) == 0 {
                s.push_str("XXX");
            }
            ctx(k, "SWIFT: ", s)
        }
        Kind::BitcoinAddress => {
            let hash: [u8; 20] = std::array::from_fn(|_| rng.next_u64() as u8);
            if rng.below(2) == 0 {
                bare(k, bech32_encode(&hash))
            } else {
                let mut payload = vec![0u8];
                payload.extend_from_slice(&hash);
                let check = Sha256::digest(Sha256::digest(&payload));
                payload.extend_from_slice(&check[..4]);
                bare(k, base58_encode(&payload))
            }
        }
        Kind::EthereumAddress => bare(k, format!("0x{}", rng.hex(40))),
        Kind::UsSsn => {
            let area = loop {
                let a = rng.range(1, 899);
                if a != 666 {
                    break a;
                }
            };
            bare(
                k,
                format!(
                    "{area:03}-{:02}-{:04}",
                    rng.range(1, 99),
                    rng.range(1, 9999)
                ),
            )
        }
        Kind::UsItin => {
            let g = *rng.pick(&[50u64, 65, 70, 78, 88, 90, 92, 94, 99]);
            bare(
                k,
                format!("9{}-{g:02}-{:04}", rng.digits(2), rng.range(1, 9999)),
            )
        }
        Kind::UkNino => {
            let a = *rng.pick(b"ABCEGHJKLMNPRSTWXYZ") as char;
            let b = *rng.pick(b"ABCEGHJKLMNPRSTWXYZ") as char;
            if matches!(
                (a, b),
                ('G', 'B')
                    | ('B', 'G')
                    | ('K', 'N')
                    | ('N', 'K')
                    | ('N', 'T')
                    | ('T', 'N')
                    | ('Z', 'Z')
            ) {
                return None;
            }
            bare(
                k,
                format!("{a}{b}{}{}", rng.digits(6), *rng.pick(b"ABCD") as char),
            )
        }
        Kind::UkNhs => {
            let n = complete(
                &format!("{}{}", rng.range(4, 7), rng.digits(8)),
                b"0123456789",
                v::nhs,
            )?;
            ctx(k, "NHS number ", group(&n, &[3, 3, 4], " "))
        }
        Kind::FrNir => {
            let body = format!(
                "{}{:02}{:02}{:02}{}",
                rng.range(1, 2),
                rng.range(0, 99),
                rng.range(1, 12),
                rng.range(1, 95),
                rng.digits(6)
            );
            let n: u64 = body.parse().ok()?;
            bare(k, format!("{body}{:02}", 97 - n % 97))
        }
        Kind::DeTaxId => {
            let mut ds: Vec<u8> = (b'0'..=b'9').collect();
            for i in (1..ds.len()).rev() {
                ds.swap(i, rng.below(i as u64 + 1) as usize);
            }
            ds.truncate(9);
            ds.push(ds[rng.below(9) as usize]);
            for i in (1..ds.len()).rev() {
                ds.swap(i, rng.below(i as u64 + 1) as usize);
            }
            if ds[0] == b'0' {
                return None;
            }
            let body = String::from_utf8(ds).ok()?;
            ctx(
                k,
                "Steuer-ID: ",
                complete(&body, b"0123456789", v::de_tax_id)?,
            )
        }
        Kind::ItCodiceFiscale => {
            let body = format!(
                "{}{}{}{:02}{}{}",
                rng.upper(6),
                rng.digits(2),
                *rng.pick(b"ABCDEHLMPRST") as char,
                rng.range(1, 28),
                rng.upper(1),
                rng.digits(3)
            );
            bare(
                k,
                complete(&body, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", v::codice_fiscale)?,
            )
        }
        Kind::EsNif => bare(
            k,
            complete(&rng.digits(8), b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", v::es_nif)?,
        ),
        Kind::EsNie => {
            let body = format!("{}{}", *rng.pick(b"XYZ") as char, rng.digits(7));
            bare(
                k,
                complete(&body, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", v::es_nie)?,
            )
        }
        Kind::NlBsn => ctx(
            k,
            "BSN ",
            complete(
                &format!("{}{}", rng.range(1, 9), rng.digits(7)),
                b"0123456789",
                v::nl_bsn,
            )?,
        ),
        Kind::PlPesel => {
            let body = format!(
                "{:02}{:02}{:02}{}",
                rng.range(0, 99),
                rng.range(1, 12),
                rng.range(1, 28),
                rng.digits(4)
            );
            ctx(k, "PESEL: ", complete(&body, b"0123456789", v::pl_pesel)?)
        }
        Kind::SePersonnummer => {
            let body = format!(
                "{:02}{:02}{:02}{}",
                rng.range(0, 99),
                rng.range(1, 12),
                rng.range(1, 28),
                rng.digits(3)
            );
            let full = complete(&body, b"0123456789", v::se_personnummer)?;
            bare(k, format!("{}-{}", &full[..6], &full[6..]))
        }
        Kind::FiHetu => {
            let body = format!(
                "{:02}{:02}{:02}-{:03}",
                rng.range(1, 28),
                rng.range(1, 12),
                rng.range(0, 99),
                rng.range(2, 899)
            );
            bare(
                k,
                complete(&body, b"0123456789ABCDEFHJKLMNPRSTUVWXY", v::fi_hetu)?,
            )
        }
        Kind::CaSin => {
            let sin = luhn_complete(&format!(
                "{}{}",
                rng.pick(&["1", "2", "3", "4", "5", "6", "7", "9"]),
                rng.digits(7)
            ));
            ctx(k, "SIN ", group(&sin, &[3, 3, 3], " "))
        }
        Kind::InAadhaar => {
            let n = complete(
                &format!("{}{}", rng.range(2, 9), rng.digits(10)),
                b"0123456789",
                v::aadhaar,
            )?;
            bare(k, group(&n, &[4, 4, 4], " "))
        }
        Kind::AuTfn => {
            let n = complete(&rng.digits(8), b"0123456789", v::au_tfn)?;
            ctx(k, "TFN ", group(&n, &[3, 3, 3], " "))
        }
        Kind::Passport => ctx(
            k,
            "passport no: ",
            format!("{}{}", rng.upper(1), rng.digits(8)),
        ),
        Kind::Vin => {
            let alpha = b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
            let head = rng.of_alphabet(alpha, 8);
            let tail = format!("{}{}", rng.of_alphabet(alpha, 3), rng.digits(5));
            let vin = (b"0123456789X")
                .iter()
                .map(|&c| format!("{head}{}{tail}", c as char))
                .find(|s| v::vin(s.as_bytes()))?;
            bare(k, vin)
        }
        Kind::UsNpi => ctx(
            k,
            "NPI: ",
            complete(&format!("1{}", rng.digits(8)), b"0123456789", v::us_npi)?,
        ),
        Kind::UsDea => {
            let body = format!(
                "{}{}{}",
                *rng.pick(b"ABFGM") as char,
                rng.upper(1),
                rng.digits(6)
            );
            ctx(k, "DEA# ", complete(&body, b"0123456789", v::us_dea)?)
        }
        Kind::UsMbi => {
            let a = b"ACDEFGHJKMNPQRTUVWXY";
            let an = b"ACDEFGHJKMNPQRTUVWXY0123456789";
            let s = format!(
                "{}{}{}{}-{}{}{}-{}{}{}{}",
                rng.range(1, 9),
                *rng.pick(a) as char,
                *rng.pick(an) as char,
                rng.digits(1),
                *rng.pick(a) as char,
                *rng.pick(an) as char,
                rng.digits(1),
                *rng.pick(a) as char,
                *rng.pick(a) as char,
                rng.digits(1),
                rng.digits(1)
            );
            bare(k, s)
        }
        Kind::MedicalRecordNumber => ctx(k, "MRN: ", rng.digits(8)),
        Kind::Ipv4 => bare(
            k,
            format!(
                "{}.{}.{}.{}",
                rng.range(1, 223),
                rng.range(0, 255),
                rng.range(0, 255),
                rng.range(1, 254)
            ),
        ),
        Kind::Ipv6 => bare(
            k,
            format!(
                "2001:db8:{:x}:{:x}::{:x}",
                rng.range(1, 0xffff),
                rng.range(1, 0xffff),
                rng.range(1, 0xffff)
            ),
        ),
        Kind::MacAddress => {
            let parts: Vec<String> = (0..6).map(|_| rng.hex(2)).collect();
            if parts.iter().all(|p| p == "00" || p == "ff") {
                return None;
            }
            bare(k, parts.join(":"))
        }
        Kind::OpenAiKey => bare(k, format!("sk-proj-{}", rng.b64url(64))),
        Kind::AnthropicKey => bare(k, format!("sk-ant-api03-{}AA", rng.b64url(93))),
        Kind::AwsAccessKeyId => bare(
            k,
            format!(
                "AKIA{}",
                rng.of_alphabet(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
            ),
        ),
        Kind::AwsSecretKey => ctx(
            k,
            "aws_secret_access_key=",
            rng.of_alphabet(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+",
                40,
            ),
        ),
        Kind::GcpApiKey => bare(k, format!("AIza{}", rng.b64url(35))),
        Kind::GoogleOauthToken => bare(k, format!("ya29.{}", rng.b64url(120))),
        Kind::AzureStorageKey => ctx(
            k,
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=",
            format!("{}==", STANDARD.encode(rng.alnum(64)).trim_end_matches('=')),
        ),
        Kind::AzureSas => ctx(
            k,
            "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sr=b&sp=r&sig=",
            format!("{}%3D", rng.alnum(43)),
        ),
        Kind::GithubToken => {
            let prefix = *rng.pick(&["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]);
            bare(k, github_token(prefix, rng))
        }
        Kind::GitlabToken => bare(k, format!("glpat-{}", rng.b64url(20))),
        Kind::SlackToken => bare(
            k,
            format!(
                "xoxb-{}-{}-{}",
                rng.digits(12),
                rng.digits(13),
                rng.alnum(24)
            ),
        ),
        Kind::SlackWebhook => ctx(
            k,
            "https://hooks.slack.com/services/",
            format!("T{}/B{}/{}", rng.upper(8), rng.upper(8), rng.alnum(24)),
        ),
        Kind::DiscordWebhook => ctx(
            k,
            "https://discord.com/api/webhooks/",
            format!("{}/{}", rng.digits(18), rng.b64url(68)),
        ),
        Kind::TelegramBotToken => bare(k, format!("{}:AA{}", rng.digits(9), rng.b64url(33))),
        Kind::StripeKey => bare(
            k,
            format!(
                "{}{}",
                rng.pick(&["sk_live_", "rk_live_", "sk_test_"]),
                rng.alnum(24)
            ),
        ),
        Kind::TwilioKey => bare(k, format!("AC{}", rng.hex(32))),
        Kind::SendgridKey => bare(k, format!("SG.{}.{}", rng.b64url(22), rng.b64url(43))),
        Kind::MailchimpKey => bare(k, format!("{}-us{}", rng.hex(32), rng.range(1, 20))),
        Kind::HuggingfaceToken => bare(k, format!("hf_{}", rng.alnum(34))),
        Kind::NpmToken => bare(k, format!("npm_{}", rng.alnum(36))),
        Kind::PypiToken => bare(k, format!("pypi-AgEIcHlwaS5vcmc{}", rng.b64url(120))),
        Kind::DatabricksToken => bare(k, format!("dapi{}", rng.hex(32))),
        Kind::ShopifyToken => bare(k, format!("shpat_{}", rng.hex(32))),
        Kind::DigitaloceanToken => bare(k, format!("dop_v1_{}", rng.hex(64))),
        Kind::GrafanaToken => bare(k, format!("glsa_{}_{}", rng.alnum(32), rng.hex(8))),
        Kind::NewrelicKey => bare(
            k,
            format!(
                "NRAK-{}",
                rng.of_alphabet(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 27)
            ),
        ),
        Kind::VaultToken => bare(k, format!("hvs.{}", rng.b64url(90))),
        Kind::PulumiToken => bare(k, format!("pul-{}", rng.hex(40))),
        Kind::LinearApiKey => bare(k, format!("lin_api_{}", rng.alnum(40))),
        Kind::PostmanKey => bare(k, format!("PMAK-{}-{}", rng.hex(24), rng.hex(34))),
        Kind::AtlassianToken => bare(k, format!("ATATT3{}", rng.b64url(180))),
        Kind::DopplerToken => bare(k, format!("dp.pt.{}", rng.alnum(43))),
        Kind::GroqKey => bare(k, format!("gsk_{}", rng.alnum(52))),
        Kind::XaiKey => bare(k, format!("xai-{}", rng.alnum(80))),
        Kind::PerplexityKey => bare(k, format!("pplx-{}", rng.alnum(48))),
        Kind::OpenrouterKey => bare(k, format!("sk-or-v1-{}", rng.hex(64))),
        Kind::ReplicateToken => bare(k, format!("r8_{}", rng.alnum(37))),
        Kind::LangsmithKey => bare(k, format!("lsv2_pt_{}_{}", rng.hex(32), rng.hex(10))),
        Kind::LangfuseKey => bare(
            k,
            format!(
                "sk-lf-{}-{}-{}-{}-{}",
                rng.hex(8),
                rng.hex(4),
                rng.hex(4),
                rng.hex(4),
                rng.hex(12)
            ),
        ),
        Kind::PineconeKey => bare(k, format!("pcsk_{}_{}", rng.alnum(6), rng.alnum(64))),
        Kind::WardApiKey => bare(k, format!("ward_{}_{}", rng.alnum(12), rng.alnum(40))),
        Kind::Jwt => {
            let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
            let payload = URL_SAFE_NO_PAD.encode(format!(
                r#"{{"sub":"{}","iat":{}}}"#,
                rng.alnum(10),
                rng.digits(10)
            ));
            bare(k, format!("{header}.{payload}.{}", rng.b64url(43)))
        }
        Kind::PrivateKey => {
            let body: Vec<String> = (0..4).map(|_| STANDARD.encode(rng.alnum(48))).collect();
            bare(
                k,
                format!(
                    "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----",
                    body.join("\n")
                ),
            )
        }
        Kind::UrlCredentials => {
            // Outside connection strings the finding covers the whole userinfo.
            let p = password(rng);
            planted(
                k,
                format!("https://admin:{p}@api.example.com/v1"),
                format!("admin:{p}"),
            )
        }
        Kind::ConnectionString => {
            let p = password(rng);
            planted(k, format!("postgres://app:{p}@db.internal:5432/orders"), p)
        }
        Kind::AuthorizationHeader => ctx(k, "Authorization: Bearer ", rng.alnum(40)),
        Kind::PasswordAssignment => {
            let kw = *rng.pick(&["password=", "DB_PASSWORD: ", "\"passwd\": "]);
            ctx(k, kw, password(rng))
        }
        Kind::GenericSecret => {
            let kw = *rng.pick(&["api_key=", "client_secret: ", "\"access_token\": "]);
            ctx(k, kw, rng.alnum(32))
        }
        _ => None,
    }
}
