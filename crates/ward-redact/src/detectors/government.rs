//! National identity, tax and travel-document numbers. The checksums live in
//! [`crate::validators`]; this module holds the context keywords and the layouts that the
//! number-token dispatch in [`crate::scan`] does not cover.

use super::{
    Context, Hit, at, before, boundary_after, is_alnum, is_word, kw, run_end, skip_to_value,
};
use crate::kind::Kind;
use crate::scan::NumTok;
use crate::validators;

/// Keywords for bare 9-digit SSNs/ITINs.
pub(crate) const SSN_KEYWORDS: &[&str] = &[
    "ssn",
    "social security",
    "social_security",
    "socialsecurity",
    "itin",
    "taxpayer",
];
/// Keywords for bare Canadian SINs.
pub(crate) const SIN_KEYWORDS: &[&str] = &["sin", "social insurance", "social_insurance", "nas"];
/// Keywords for Australian TFNs (they also decide between SIN and TFN for `123 456 782`).
pub(crate) const TFN_KEYWORDS: &[&str] = &["tfn", "tax file"];
/// Keywords for Dutch BSNs.
pub(crate) const BSN_KEYWORDS: &[&str] = &["bsn", "burgerservicenummer", "sofinummer"];
/// Keywords for NHS numbers.
pub(crate) const NHS_KEYWORDS: &[&str] = &["nhs"];
/// Keywords for PESEL.
pub(crate) const PESEL_KEYWORDS: &[&str] = &["pesel"];
/// Keywords for the German Steuer-ID.
pub(crate) const DE_TAX_KEYWORDS: &[&str] = &[
    "steuer",
    "idnr",
    "tax id",
    "tax_id",
    "taxid",
    "tin",
    "identifikationsnummer",
];
/// Keywords for Aadhaar.
/// `uid` is UIDAI's own name for the number; the 12-digit Verhoeff check keeps Unix uids out.
pub(crate) const AADHAAR_KEYWORDS: &[&str] = &["aadhaar", "aadhar", "uidai", "uid"];
/// Keywords for Finnish personal identity codes (they decide between HETU and personnummer for
/// `DDMMYY-NNNC`, a layout both countries use).
pub(crate) const HETU_KEYWORDS: &[&str] = &["hetu", "henkil", "personbeteckning"];
/// Keywords for Swedish personal numbers.
pub(crate) const PNR_KEYWORDS: &[&str] = &["personnummer", "personnr", "pnr"];

/// A Finnish HETU starting at the digit `p`: `DDMMYY`, century sign, `NNN`, check character.
/// Checked before number-token parsing because `-` would otherwise be read as a separator.
#[inline]
pub(crate) fn hetu_at(t: &[u8], p: usize) -> Option<Hit> {
    let w = t.get(p..p + 11)?;
    // The century sign first: it rules out almost every number at one comparison (this runs
    // for every number in the text, so only this test is inlined).
    if !matches!(w[6], b'-' | b'+') || !w[..6].iter().all(u8::is_ascii_digit) {
        return None;
    }
    hetu_confirm(t, p, w)
}

fn hetu_confirm(t: &[u8], p: usize, w: &[u8]) -> Option<Hit> {
    if !boundary_after(t, p + 11) || !validators::fi_hetu(w) {
        return None;
    }
    // `YYMMDD-NNNC` is also the Swedish layout: when the check character is a digit that
    // satisfies both, leave it to the personnummer rule (Luhn is the stronger check) unless a
    // Finnish keyword is in front.
    if w[10].is_ascii_digit() && w[6] == b'-' && !Context::before(t, p).has(kw::HETU) {
        let mut ten = [0u8; 10];
        ten[..6].copy_from_slice(&w[..6]);
        ten[6..].copy_from_slice(&w[7..]);
        if validators::se_personnummer(&ten) {
            return None;
        }
    }
    Some(Hit::new(Kind::FiHetu, p, p + 11, "fi_hetu"))
}

/// A UK NINO printed with spaces, `AB 12 34 56 C`: the number token is the `12 34 56` part.
pub(crate) fn nino_spaced(t: &[u8], tok: &NumTok) -> Option<Hit> {
    if tok.digits().len() != 6 {
        return None;
    }
    let s = tok.start.checked_sub(3)?;
    let e = tok.end + 2;
    if at(t, s + 2) != b' '
        || is_word(before(t, s))
        || at(t, tok.end) != b' '
        || !boundary_after(t, e)
    {
        return None;
    }
    let mut buf = [0u8; 9];
    buf[..2].copy_from_slice(t.get(s..s + 2)?);
    buf[2..8].copy_from_slice(tok.digits());
    buf[8] = at(t, tok.end + 1);
    validators::uk_nino(&buf).then(|| Hit::new(Kind::UkNino, s, e, "uk_nino"))
}

/// Passport keywords (English, French, German, Spanish, Italian). The literal trigger is the
/// keyword without its first letter, so that `Passport` and `passport` share it.
const PASSPORT_KEYWORDS: &[&[u8]] = &[
    b"passport",
    b"passeport",
    b"reisepass",
    b"pasaporte",
    b"passaporto",
];

/// A passport number after its keyword (`passport no.: 123456789`, `Passport#X1234567`,
/// `passport_number=BX582903`, `numéro de passeport est GT396622`): 6-9 upper-case
/// alphanumerics with at least four digits.
pub(crate) fn passport(t: &[u8], h: usize) -> Option<Hit> {
    let s = h.checked_sub(1)?;
    if is_alnum(before(t, s)) {
        return None;
    }
    let kw = PASSPORT_KEYWORDS.iter().find(|k| {
        t.get(s..s + k.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(k))
    })?;
    let v = skip_to_value(
        t,
        s + kw.len(),
        24,
        &[
            "no", "number", "num", "nr", "id", "is", "s", "est", "es", "ist", "nummer", "numero",
        ],
    )?;
    let e = run_end(t, v, 10, is_alnum);
    let w = &t[v..e];
    let digits = w.iter().filter(|b| b.is_ascii_digit()).count();
    let ok = (6..=9).contains(&w.len())
        && boundary_after(t, e)
        && digits >= 4
        && w.iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    ok.then(|| Hit::new(Kind::Passport, v, e, "passport"))
}

/// A Spanish DNI/NIF written with a dash before its letter (`51363770-D`); the number token is
/// the eight digits.
pub(crate) fn nif_dashed(t: &[u8], tok: &NumTok) -> Option<Hit> {
    let d = tok.digits();
    if tok.ng != 1 || d.len() != 8 || at(t, tok.end) != b'-' {
        return None;
    }
    let letter = at(t, tok.end + 1);
    if !letter.is_ascii_uppercase() || !boundary_after(t, tok.end + 2) {
        return None;
    }
    let mut buf = [0u8; 9];
    buf[..8].copy_from_slice(d);
    buf[8] = letter;
    validators::es_nif(&buf).then(|| Hit::new(Kind::EsNif, tok.start, tok.end + 2, "es_nif"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hetu_with_dash() {
        let t = b"id 131052-308T.";
        assert_eq!(hetu_at(t, 3).map(|h| (h.start, h.end)), Some((3, 14)));
        assert!(hetu_at(b"131052-308U", 0).is_none());
    }

    #[test]
    fn hetu_or_personnummer_by_keyword() {
        // Valid as both a HETU and a personnummer: Swedish unless a Finnish keyword is in front.
        assert!(validators::fi_hetu(b"160774-7431"));
        assert!(hetu_at(b"pnr 160774-7431", 4).is_none());
        let t = b"hetu=160774-7431";
        assert_eq!(hetu_at(t, 5).map(|h| (h.start, h.end)), Some((5, 16)));
    }

    #[test]
    fn passport_after_keyword() {
        let f = |s: &str| {
            let h = s.find("assport")?;
            passport(s.as_bytes(), h).map(|hit| s[hit.start..hit.end].to_string())
        };
        assert_eq!(f("passport no.: 123456789").as_deref(), Some("123456789"));
        assert_eq!(f("Passport: C01X00T47").as_deref(), Some("C01X00T47"));
        assert_eq!(f("passport: expired"), None);
        assert_eq!(f("passport 12"), None);
        assert_eq!(f("passport_number=BX582903").as_deref(), Some("BX582903"));
        assert_eq!(f("passport_no=55HM48000").as_deref(), Some("55HM48000"));
        assert_eq!(f("passport_number=building").as_deref(), None);
        let g = |s: &str| {
            let h = s.find("asseport")?;
            passport(s.as_bytes(), h).map(|hit| s[hit.start..hit.end].to_string())
        };
        assert_eq!(
            g("mon numéro de passeport est GT396622").as_deref(),
            Some("GT396622")
        );
        assert_eq!(g("passeport est valide"), None);
        assert_eq!(g("compasseport 12345678"), None, "inside a word");
    }

    #[test]
    fn nif_with_a_dash() {
        let f = |s: &str| {
            let p = s.find(|c: char| c.is_ascii_digit())?;
            nif_dashed(s.as_bytes(), &NumTok::parse(s.as_bytes(), p))
                .map(|h| s[h.start..h.end].to_string())
        };
        assert_eq!(f("NIF 51363770-D validado").as_deref(), Some("51363770-D"));
        assert_eq!(f("NIF 51363770-E validado"), None, "wrong control letter");
        assert_eq!(f("build 51363770-Dx"), None);
    }
}
