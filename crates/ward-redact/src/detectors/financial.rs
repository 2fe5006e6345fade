//! Payment cards (PAN, track data, CVV), bank accounts (IBAN, ABA, SWIFT/BIC) and
//! crypto-currency addresses.

use super::{Hit, at, before, boundary_after, is_alnum, run_end, skip_to_value, starts_with_at};
use crate::kind::Kind;
use crate::scan::{NumTok, Sep};
use crate::validators;

/// Keywords that make a bare 9-digit run an ABA routing number.
pub(crate) const ABA_KEYWORDS: &[&str] = &["routing", "aba", "rtn", "transit", "abartn"];

/// Whether the grouping of a 13-19 digit token is one printed on cards: unseparated, groups of
/// four (the last shorter), or the 4-6-5 / 4-6-4 layouts of Amex and Diners.
pub(crate) fn card_layout(tok: &NumTok, sep: Sep) -> bool {
    match sep {
        Sep::None => true,
        Sep::Uniform(b' ' | b'-') => {
            let g = tok.groups();
            let Some((&last, head)) = g.split_last() else {
                return false;
            };
            (g.len() >= 3 && head.iter().all(|&x| x == 4) && (1..=4).contains(&last))
                || g == [4, 6, 5]
                || g == [4, 6, 4]
        }
        _ => false,
    }
}

/// Luhn, an issuer range and not a single repeated digit.
pub(crate) fn card_number(d: &[u8]) -> bool {
    !d.iter().all(|&b| b == d[0]) && validators::card_issuer(d) && validators::luhn(d)
}

/// Track 2 (`;PAN=YYMM…?`) around a number token.
pub(crate) fn track_data(t: &[u8], tok: &NumTok) -> Option<Hit> {
    if tok.ng != 1
        || !(13..=19).contains(&tok.n)
        || before(t, tok.start) != b';'
        || at(t, tok.end) != b'='
    {
        return None;
    }
    if !validators::luhn(tok.digits()) {
        return None;
    }
    let mut e = run_end(t, tok.end + 1, 40, |b| b.is_ascii_digit());
    if e - tok.end < 5 {
        return None;
    }
    if at(t, e) == b'?' {
        e += 1;
    }
    Some(Hit::new(
        Kind::CardTrackData,
        tok.start - 1,
        e,
        "card.track2",
    ))
}

/// Track 1 (`%B<PAN>^NAME^YYMM…?`) starting at the `B` at `s`.
pub(crate) fn track1(t: &[u8], s: usize) -> Option<Hit> {
    if before(t, s) != b'%' || at(t, s) != b'B' {
        return None;
    }
    let pan_end = run_end(t, s + 1, 19, |b| b.is_ascii_digit());
    if !(13..=19).contains(&(pan_end - s - 1))
        || at(t, pan_end) != b'^'
        || !validators::luhn(&t[s + 1..pan_end])
    {
        return None;
    }
    // Name field, then expiry and discretionary data up to the end sentinel.
    let name_end = run_end(t, pan_end + 1, 26, |b| b != b'^' && b != b'\n');
    if at(t, name_end) != b'^' {
        return None;
    }
    let mut e = run_end(t, name_end + 1, 60, |b| b.is_ascii_digit());
    if at(t, e) == b'?' {
        e += 1;
    }
    Some(Hit::new(Kind::CardTrackData, s - 1, e, "card.track1"))
}

/// An IBAN starting at `s` (a word of at least four characters beginning with a country code):
/// either compact (`GB82WEST12345698765432`) or printed in groups of four
/// (`DE89 3704 0044 0532 0130 00`).
pub(crate) fn iban_at(t: &[u8], s: usize, e: usize) -> Option<Hit> {
    let w = t.get(s..e)?;
    if w.len() < 4 || !w[2].is_ascii_digit() || !w[3].is_ascii_digit() {
        return None;
    }
    let len = validators::iban_length(&w[..2])?;
    if w.len() == len {
        return (boundary_after(t, e) && validators::iban(w))
            .then(|| Hit::new(Kind::Iban, s, e, "iban"));
    }
    if w.len() != 4 || at(t, e) != b' ' {
        return None;
    }
    let mut buf = [0u8; 34];
    buf[..4].copy_from_slice(w);
    let mut k = 4;
    let mut i = e;
    while k < len {
        if at(t, i) != b' ' {
            return None;
        }
        let gs = i + 1;
        let ge = run_end(t, gs, 4, |b| b.is_ascii_digit() || b.is_ascii_uppercase());
        let glen = ge - gs;
        if glen == 0 || k + glen > len || (glen < 4 && k + glen != len) {
            return None;
        }
        buf[k..k + glen].copy_from_slice(&t[gs..ge]);
        k += glen;
        i = ge;
    }
    (boundary_after(t, i) && validators::iban(&buf[..len]))
        .then(|| Hit::new(Kind::Iban, s, i, "iban"))
}

/// For a word that starts like a grouped IBAN (`DE89` followed by space-separated groups), the
/// end of those groups.
pub(crate) fn iban_groups_end(t: &[u8], s: usize, e: usize) -> Option<usize> {
    let w = t.get(s..e)?;
    if w.len() != 4 || !w[2].is_ascii_digit() || !w[3].is_ascii_digit() || at(t, e) != b' ' {
        return None;
    }
    validators::iban_length(&w[..2])?;
    let mut i = e;
    while at(t, i) == b' ' && is_alnum(at(t, i + 1)) && i - s < 48 {
        i = run_end(t, i + 1, 4, |b| {
            b.is_ascii_digit() || b.is_ascii_uppercase()
        });
    }
    Some(i)
}

/// ISO 3166-1 alpha-2 codes (for the country part of a BIC).
const ISO_COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

fn iso_country(c: &[u8]) -> bool {
    ISO_COUNTRIES.as_bytes().chunks(3).any(|x| &x[..2] == c)
}

/// SWIFT/BIC after its keyword (`swift`, `bic`, `SWIFT/BIC code:`): 4 letters (bank), a real
/// ISO country, 2 alphanumerics (location) and an optional 3-character branch.
pub(crate) fn swift(t: &[u8], h: usize) -> Option<Hit> {
    let kw_end = if starts_with_at(t, h, b"wift", true) {
        // The trigger is `wift`/`WIFT`: the `s` before it is part of the keyword.
        if !matches!(before(t, h), b's' | b'S') || is_alnum(before(t, h - 1)) {
            return None;
        }
        h + 4
    } else {
        if is_alnum(before(t, h)) || is_alnum(at(t, h + 3)) {
            return None;
        }
        h + 3
    };
    let v = skip_to_value(
        t,
        kw_end,
        24,
        &["code", "bic", "swift", "no", "number", "id", "is"],
    )?;
    let e = run_end(t, v, 12, is_alnum);
    let w = &t[v..e];
    let ok = (w.len() == 8 || w.len() == 11)
        && boundary_after(t, e)
        && w[..6].iter().all(u8::is_ascii_uppercase)
        && w[6..]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && iso_country(&w[4..6]);
    ok.then(|| Hit::new(Kind::SwiftBic, v, e, "swift_bic"))
}

/// A CVV/CVC (3 or 4 digits) right after its keyword.
pub(crate) fn cvv(t: &[u8], h: usize) -> Option<Hit> {
    let kw_end = if starts_with_at(t, h, b"ecurity code", true) {
        if !matches!(before(t, h), b's' | b'S') {
            return None;
        }
        h + 12
    } else {
        if is_alnum(before(t, h)) {
            return None;
        }
        let mut e = h + 3;
        if at(t, e) == b'2' {
            e += 1;
        }
        if is_alnum(at(t, e)) {
            return None;
        }
        e
    };
    let v = skip_to_value(t, kw_end, 16, &["code", "number", "no", "is", "value"])?;
    let e = run_end(t, v, 5, |b| b.is_ascii_digit());
    ((3..=4).contains(&(e - v)) && boundary_after(t, e)).then(|| Hit::new(Kind::Cvv, v, e, "cvv"))
}

/// An Ethereum address: `0x` and 40 hex digits (EIP-55 mixed case is accepted as is; verifying
/// it needs Keccak, which the crate does not carry). The zero and burn addresses are not
/// personal data.
pub(crate) fn ethereum(w: &[u8]) -> bool {
    w.len() == 42
        && w[0] == b'0'
        && w[1] == b'x'
        && w[2..].iter().all(u8::is_ascii_hexdigit)
        && !w[2..].iter().all(|&b| b == w[2])
}

/// A Bitcoin address: Base58Check (`1…`, `3…`) or bech32/bech32m (`bc1…`).
pub(crate) fn bitcoin(w: &[u8]) -> Option<&'static str> {
    match w.first()? {
        b'1' | b'3' if (25..=35).contains(&w.len()) && validators::bitcoin_base58(w) => {
            Some("bitcoin.base58")
        }
        b'b' | b'B' if (14..=74).contains(&w.len()) && validators::bitcoin_bech32(w) => {
            Some("bitcoin.bech32")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<F: Fn(&[u8], usize) -> Option<Hit>>(f: F, s: &str, trigger: &str) -> Option<String> {
        let h = s.find(trigger)?;
        f(s.as_bytes(), h).map(|hit| s[hit.start..hit.end].to_string())
    }

    #[test]
    fn swift_codes_need_keyword_and_country() {
        assert_eq!(
            find(swift, "SWIFT/BIC code: DEUTDEFF500", "WIFT").as_deref(),
            Some("DEUTDEFF500")
        );
        assert_eq!(
            find(swift, "bic=NWBKGB2L", "bic").as_deref(),
            Some("NWBKGB2L")
        );
        assert_eq!(find(swift, "swift: ENABLED", "wift"), None);
        assert_eq!(find(swift, "public DEUTDEFF", "bic"), None);
        assert_eq!(
            find(swift, "bic ABCDQQ12", "bic"),
            None,
            "QQ is not a country"
        );
    }

    #[test]
    fn cvv_after_keyword() {
        assert_eq!(find(cvv, "cvv: 123", "cvv").as_deref(), Some("123"));
        assert_eq!(find(cvv, "CVV2=1234", "CVV").as_deref(), Some("1234"));
        assert_eq!(
            find(cvv, "card security code is 987", "ecurity code").as_deref(),
            Some("987")
        );
        assert_eq!(find(cvv, "cvv: 12345", "cvv"), None);
        assert_eq!(find(cvv, "cvvx 123", "cvv"), None);
    }

    #[test]
    fn ibans_compact_and_grouped() {
        let t = b"to DE89 3704 0044 0532 0130 00 ok";
        assert_eq!(iban_at(t, 3, 7).map(|h| (h.start, h.end)), Some((3, 30)));
        let t = b"GB82WEST12345698765432";
        assert!(iban_at(t, 0, t.len()).is_some());
        let t = b"DE89 3704 0044 0532 0130 01";
        assert!(iban_at(t, 0, 4).is_none());
    }

    #[test]
    fn crypto_addresses() {
        assert!(ethereum(b"0x52908400098527886E0F7030069857D2E4169EE7"));
        assert!(!ethereum(b"0x0000000000000000000000000000000000000000"));
        assert!(!ethereum(b"0x52908400098527886E0F7030069857D2E4169EEG"));
        assert_eq!(
            bitcoin(b"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
            Some("bitcoin.base58")
        );
        assert_eq!(
            bitcoin(b"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
            Some("bitcoin.bech32")
        );
        assert_eq!(bitcoin(b"1234567890123456789012345"), None);
    }
}
