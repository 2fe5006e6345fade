//! Health-care identifiers: US NPI (checksum via [`crate::validators::us_npi`]), DEA
//! registration numbers, Medicare Beneficiary Identifiers and medical record numbers.

use super::{Hit, at, before, boundary_after, is_alnum, run_end, skip_to_value, starts_with_at};
use crate::kind::Kind;
use crate::validators;

/// Keywords for bare 10-digit NPIs (one in ten random numbers passes the checksum).
pub(crate) const NPI_KEYWORDS: &[&str] =
    &["npi", "national provider", "provider id", "provider_id"];
/// Keywords for DEA numbers (the two-letter, seven-digit shape is common in product codes).
pub(crate) const DEA_KEYWORDS: &[&str] = &["dea", "drug enforcement", "prescriber"];

/// An MBI printed with dashes, `1EG4-TE5-MK73`, starting at `s`.
pub(crate) fn mbi_dashed(t: &[u8], s: usize) -> Option<Hit> {
    let w = t.get(s..s + 13)?;
    if w[4] != b'-' || w[8] != b'-' || !boundary_after(t, s + 13) {
        return None;
    }
    let mut buf = [0u8; 11];
    buf[..4].copy_from_slice(&w[..4]);
    buf[4..7].copy_from_slice(&w[5..8]);
    buf[7..].copy_from_slice(&w[9..]);
    validators::us_mbi(&buf).then(|| Hit::new(Kind::UsMbi, s, s + 13, "us_mbi"))
}

/// A medical record number after `MRN` or `medical record (number)`: 5-16 characters of
/// letters, digits and dashes with at least five digits.
pub(crate) fn mrn(t: &[u8], h: usize) -> Option<Hit> {
    let kw_end = if starts_with_at(t, h, b"mrn", true) {
        if is_alnum(before(t, h)) || at(t, h + 3).is_ascii_alphabetic() {
            return None;
        }
        h + 3
    } else {
        if !matches!(before(t, h), b'm' | b'M') {
            return None;
        }
        h + "edical record".len()
    };
    let v = skip_to_value(t, kw_end, 24, &["number", "no", "num", "nr", "id", "is"])?;
    let e = run_end(t, v, 17, |b| is_alnum(b) || b == b'-');
    let w = &t[v..e];
    let digits = w.iter().filter(|b| b.is_ascii_digit()).count();
    ((5..=16).contains(&w.len()) && digits >= 5 && boundary_after(t, e) && !w.ends_with(b"-"))
        .then(|| Hit::new(Kind::MedicalRecordNumber, v, e, "mrn"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbi_with_dashes() {
        assert!(mbi_dashed(b"1EG4-TE5-MK73", 0).is_some());
        assert!(mbi_dashed(b"1EG4-TE5-MK73X", 0).is_none());
        assert!(mbi_dashed(b"1EG4-SE5-MK73", 0).is_none());
    }

    #[test]
    fn mrn_after_keyword() {
        let f = |s: &str, kw: &str| {
            let h = s.find(kw)?;
            mrn(s.as_bytes(), h).map(|hit| s[hit.start..hit.end].to_string())
        };
        assert_eq!(f("MRN: 00123456", "MRN").as_deref(), Some("00123456"));
        assert_eq!(
            f("medical record number 77-123-456", "edical record").as_deref(),
            Some("77-123-456")
        );
        assert_eq!(f("mrn: pending", "mrn"), None);
        assert_eq!(f("mrna 123456", "mrn"), None);
    }
}
