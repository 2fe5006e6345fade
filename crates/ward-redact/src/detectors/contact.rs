//! E-mail addresses and phone numbers.

use super::{Hit, at, is_alnum, is_word, run_end, run_start};
use crate::kind::Kind;
use crate::scan::{NumTok, Sep};

/// Keywords that make a bare digit run a phone number.
pub(crate) const PHONE_KEYWORDS: &[&str] = &[
    "phone",
    "tel",
    "telephone",
    "mobile",
    "cell",
    "fax",
    "whatsapp",
    "sms",
    "msisdn",
    "telefon",
    "telefono",
    "handy",
];

/// File extensions that look like top-level domains in `icon@2x.png`-style asset names.
const NOT_TLDS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "css", "js", "mjs", "map", "json",
    "html", "htm", "txt", "log", "yaml", "yml", "toml", "xml", "pdf", "zip", "gz", "tgz", "tar",
    "exe", "dll", "so", "lock", "wasm", "ts", "tsx", "jsx", "py", "rb", "rs", "go", "java",
    "class", "jar", "md", "csv", "woff", "woff2", "ttf", "mp3", "mp4",
];

fn local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// Confirms an e-mail address around the `@` at `a`: a local part of RFC 5322 "atext" bytes on
/// the left, at least two DNS labels on the right and an alphabetic TLD that is not a file
/// extension.
pub(crate) fn email_at(t: &[u8], a: usize) -> Option<Hit> {
    let mut s = run_start(t, a, 64, 0, local_char);
    if s > 0 && local_char(t[s - 1]) {
        // The local part is longer than RFC 5321 allows: not an address.
        return None;
    }
    while s < a && matches!(t[s], b'.' | b'-' | b'+') {
        s += 1;
    }
    if s == a || t[a - 1] == b'.' {
        return None;
    }
    // `scheme://user@host` is a URL's user name, not a mailbox.
    if s >= 3 && &t[s - 3..s] == b"://" {
        return None;
    }
    let mut i = a + 1;
    let mut labels = 0;
    let mut last = (i, i);
    loop {
        let le = run_end(t, i, 63, |b| b.is_ascii_alphanumeric() || b == b'-');
        if le == i || t[i] == b'-' || t[le - 1] == b'-' {
            break;
        }
        labels += 1;
        last = (i, le);
        i = le;
        if at(t, i) == b'.' && is_alnum(at(t, i + 1)) && i - a < 253 {
            i += 1;
            continue;
        }
        break;
    }
    if labels < 2 {
        return None;
    }
    let end = last.1;
    let tld = &t[last.0..end];
    if !(2..=24).contains(&tld.len()) || !tld.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    if NOT_TLDS
        .iter()
        .any(|x| tld.eq_ignore_ascii_case(x.as_bytes()))
    {
        return None;
    }
    if is_word(at(t, end)) || at(t, end) == b'@' || at(t, end) == b'-' {
        return None;
    }
    Some(Hit::new(Kind::Email, s, end, "email"))
}

/// A national numbering plan: national significant number length and allowed first digits.
struct Plan {
    cc: u16,
    min: u8,
    max: u8,
    /// Bit `d` set when the national number may start with digit `d`.
    first: u16,
}

const ANY: u16 = 0b11_1111_1110;
const fn digits(ds: &[u8]) -> u16 {
    let mut m = 0;
    let mut i = 0;
    while i < ds.len() {
        m |= 1 << ds[i];
        i += 1;
    }
    m
}

/// ITU-T E.164 country codes with their national number lengths (the common ranges; a number
/// outside them is rejected rather than guessed).
const PLANS: &[Plan] = &[
    Plan {
        cc: 1,
        min: 10,
        max: 10,
        first: digits(&[2, 3, 4, 5, 6, 7, 8, 9]),
    },
    Plan {
        cc: 7,
        min: 10,
        max: 10,
        first: digits(&[3, 4, 7, 8, 9]),
    },
    Plan {
        cc: 20,
        min: 9,
        max: 10,
        first: ANY,
    },
    Plan {
        cc: 27,
        min: 9,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 30,
        min: 10,
        max: 10,
        first: digits(&[2, 6, 7, 8]),
    },
    Plan {
        cc: 31,
        min: 9,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 32,
        min: 8,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 33,
        min: 9,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 34,
        min: 9,
        max: 9,
        first: digits(&[6, 7, 8, 9]),
    },
    Plan {
        cc: 36,
        min: 8,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 39,
        min: 6,
        max: 11,
        first: digits(&[0, 3]),
    },
    Plan {
        cc: 40,
        min: 9,
        max: 9,
        first: digits(&[2, 3, 7]),
    },
    Plan {
        cc: 41,
        min: 9,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 43,
        min: 7,
        max: 13,
        first: ANY,
    },
    Plan {
        cc: 44,
        min: 9,
        max: 10,
        first: digits(&[1, 2, 3, 5, 7, 8, 9]),
    },
    Plan {
        cc: 45,
        min: 8,
        max: 8,
        first: ANY,
    },
    Plan {
        cc: 46,
        min: 7,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 47,
        min: 8,
        max: 8,
        first: ANY,
    },
    Plan {
        cc: 48,
        min: 9,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 49,
        min: 7,
        max: 13,
        first: ANY,
    },
    Plan {
        cc: 51,
        min: 8,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 52,
        min: 10,
        max: 10,
        first: ANY,
    },
    Plan {
        cc: 54,
        min: 10,
        max: 11,
        first: ANY,
    },
    Plan {
        cc: 55,
        min: 10,
        max: 11,
        first: ANY,
    },
    Plan {
        cc: 56,
        min: 9,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 57,
        min: 10,
        max: 10,
        first: ANY,
    },
    Plan {
        cc: 60,
        min: 8,
        max: 10,
        first: ANY,
    },
    Plan {
        cc: 61,
        min: 9,
        max: 9,
        first: digits(&[2, 3, 4, 7, 8]),
    },
    Plan {
        cc: 62,
        min: 8,
        max: 12,
        first: ANY,
    },
    Plan {
        cc: 63,
        min: 10,
        max: 10,
        first: ANY,
    },
    Plan {
        cc: 64,
        min: 8,
        max: 10,
        first: ANY,
    },
    Plan {
        cc: 65,
        min: 8,
        max: 8,
        first: digits(&[3, 6, 8, 9]),
    },
    Plan {
        cc: 66,
        min: 8,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 81,
        min: 9,
        max: 10,
        first: ANY,
    },
    Plan {
        cc: 82,
        min: 8,
        max: 10,
        first: ANY,
    },
    Plan {
        cc: 84,
        min: 9,
        max: 10,
        first: ANY,
    },
    Plan {
        cc: 86,
        min: 10,
        max: 11,
        first: ANY,
    },
    Plan {
        cc: 90,
        min: 10,
        max: 10,
        first: ANY,
    },
    Plan {
        cc: 91,
        min: 10,
        max: 10,
        first: digits(&[2, 3, 4, 5, 6, 7, 8, 9]),
    },
    Plan {
        cc: 92,
        min: 9,
        max: 10,
        first: ANY,
    },
    Plan {
        cc: 234,
        min: 8,
        max: 10,
        first: ANY,
    },
    Plan {
        cc: 254,
        min: 9,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 351,
        min: 9,
        max: 9,
        first: digits(&[2, 9]),
    },
    Plan {
        cc: 353,
        min: 7,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 358,
        min: 5,
        max: 12,
        first: ANY,
    },
    Plan {
        cc: 380,
        min: 9,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 420,
        min: 9,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 852,
        min: 8,
        max: 8,
        first: ANY,
    },
    Plan {
        cc: 886,
        min: 8,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 966,
        min: 9,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 971,
        min: 8,
        max: 9,
        first: ANY,
    },
    Plan {
        cc: 972,
        min: 8,
        max: 9,
        first: ANY,
    },
];

fn value(d: &[u8]) -> u16 {
    d.iter().fold(0u16, |a, &b| {
        a.saturating_mul(10).saturating_add(u16::from(b - b'0'))
    })
}

/// North American Numbering Plan: area code and exchange are `[2-9]XX` and not `N11`.
fn nanp(d: &[u8]) -> bool {
    d.len() == 10
        && (b'2'..=b'9').contains(&d[0])
        && !(d[1] == b'1' && d[2] == b'1')
        && (b'2'..=b'9').contains(&d[3])
        && !(d[4] == b'1' && d[5] == b'1')
}

/// A number written with `+` (or `00`) and a country code: the country must be known and the
/// national number must fit its plan.
pub(crate) fn phone_international(tok: &NumTok) -> bool {
    if tok.overflow {
        return false;
    }
    let all = tok.digits();
    let groups = tok.groups();
    let skip = if tok.plus { 0 } else { 2 };
    let d = &all[skip..];
    let first_group = usize::from(groups[0]).saturating_sub(skip);
    if !(8..=15).contains(&d.len()) {
        return false;
    }
    // Drop a trunk prefix written in parentheses after the country code: `+44 (0) 20 …`.
    let mut nsn_buf = [0u8; 24];
    let mut trunk_at = usize::MAX;
    let mut offset = 0;
    for (i, &g) in groups.iter().enumerate() {
        let g = usize::from(g);
        if i > 0 && g == 1 && tok.seps[i - 1] == b'(' && all.get(offset) == Some(&b'0') {
            trunk_at = offset.saturating_sub(skip);
        }
        offset += g;
    }
    for cc_len in 1..=3 {
        let Some(plan) = PLANS.iter().find(|p| p.cc == value(&d[..cc_len])) else {
            continue;
        };
        // A separated number must not split its country code (`+4 4…`).
        if groups.len() > 1 && first_group < cc_len {
            return false;
        }
        let mut k = 0;
        for (i, &b) in d.iter().enumerate().skip(cc_len) {
            if i != trunk_at {
                nsn_buf[k] = b;
                k += 1;
            }
        }
        let nsn = &nsn_buf[..k];
        let Some(&f) = nsn.first() else { return false };
        let len_ok = (usize::from(plan.min)..=usize::from(plan.max)).contains(&nsn.len());
        return len_ok && plan.first & (1 << (f - b'0')) != 0 && (plan.cc != 1 || nanp(nsn));
    }
    false
}

/// Dates written with the same separators as phone numbers: `01-02-2024`, `2024 05 01`.
fn date_like(d: &[u8], g: &[u8]) -> bool {
    if g.len() < 3 {
        return false;
    }
    let (g0, g1, g2) = (usize::from(g[0]), usize::from(g[1]), usize::from(g[2]));
    let a = value(&d[..g0]);
    let b = value(&d[g0..g0 + g1]);
    (g0 == 2 && g1 == 2 && g2 == 4 && a <= 31 && b <= 12)
        || (g0 == 4 && g1 == 2 && g2 == 2 && b <= 12)
}

/// A compact date and a clock time, `DDMMYY HHMM` (`031224 1530`): six-digit area codes with a
/// trunk 0 look the same.
fn date_time_like(d: &[u8], g: &[u8]) -> bool {
    if g != [6, 4] {
        return false;
    }
    let (day, month) = (value(&d[..2]), value(&d[2..4]));
    let (hour, minute) = (value(&d[6..8]), value(&d[8..10]));
    (1..=31).contains(&day) && (1..=12).contains(&month) && hour <= 23 && minute <= 59
}

/// A national-format phone number: NANP (`(415) 555-2671`, `415-555-2671`), trunk-prefix
/// formats (UK `020 7946 0958`, DE `030 12345678`, FR `06 12 34 56 78`, NL `06-12345678`, AU
/// `0412 345 678`, JP `090-1234-5678`, SE `08-123 456 78`), Brazil `(11) 91234-5678`, Italian,
/// Spanish, Polish and Indian mobiles. Bare runs count only when `ctx_phone` (a phone keyword
/// precedes them).
pub(crate) fn phone_national(tok: &NumTok, ctx_phone: bool) -> bool {
    if tok.overflow || tok.plus {
        return false;
    }
    let d = tok.digits();
    let g = tok.groups();
    let n = d.len();
    if n < 9 {
        return false;
    }
    let seps = &tok.seps[..tok.ng.saturating_sub(1)];
    let only = |allowed: &[u8]| seps.iter().all(|s| allowed.contains(s));
    let uniform = tok.sep();
    let bare = g.len() == 1;
    let sds = matches!(uniform, Sep::Uniform(b' ' | b'-' | b'.'));
    if n == 10
        && nanp(d)
        && ((bare && ctx_phone) || (g == [3, 3, 4] && (sds || (tok.paren_first && only(b") -")))))
    {
        return true;
    }
    if n == 11
        && d[0] == b'1'
        && nanp(&d[1..])
        && ((bare && ctx_phone) || (g == [1, 3, 3, 4] && (sds || only(b"() -"))))
    {
        return true;
    }
    if (9..=12).contains(&n) && d[0] == b'0' && d[1] != b'0' {
        if bare && ctx_phone {
            return true;
        }
        // `(020) 7946 0958`, `(02) 2293 4586` (AU).
        if tok.paren_first && (2..=5).contains(&g[0]) && only(b") -") {
            return true;
        }
        // Trunk 0 and an area code of up to five digits: `020 7946 0958`, `039308 823` (DE),
        // `071309 57190` (IN).
        if g.len() >= 2
            && (2..=6).contains(&g[0])
            && g.iter().all(|&x| x >= 2)
            && only(b" -")
            && !date_like(d, g)
            && !date_time_like(d, g)
        {
            return true;
        }
    }
    if tok.paren_first && g[0] == 2 && (10..=11).contains(&n) && d[0] != b'0' && only(b") -") {
        return true;
    }
    let sd = matches!(uniform, Sep::Uniform(b' ' | b'-'));
    // Italian mobiles: 3xx xxx xxxx.
    if n == 10 && d[0] == b'3' && (g == [3, 3, 4] || g == [3, 7]) && sd {
        return true;
    }
    // Spanish and Polish mobiles: 6xx xxx xxx, 6xx xx xx xx, 5xx xxx xxx.
    if n == 9 && (b'5'..=b'7').contains(&d[0]) && (g == [3, 3, 3] || g == [3, 2, 2, 2]) && sd {
        return true;
    }
    // Spanish landlines in their own grouping, 9xx xx xx xx / 8xx xx xx xx (a bare 3-3-3 run
    // starting with 8 or 9 is as likely a SIN or a TFN).
    if n == 9 && matches!(d[0], b'8' | b'9') && g == [3, 2, 2, 2] && sd {
        return true;
    }
    // Indian mobiles: 98765 43210.
    if n == 10 && (b'6'..=b'9').contains(&d[0]) && g == [5, 5] && sd {
        return true;
    }
    // Mobile numbers written without their trunk or country prefix (ES/FR 6xx/7xx, IN 6-9xxxx).
    bare && ctx_phone
        && ((n == 9 && matches!(d[0], b'6' | b'7')) || (n == 10 && (b'6'..=b'9').contains(&d[0])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> Option<&str> {
        let a = s.find('@')?;
        email_at(s.as_bytes(), a).map(|h| &s[h.start..h.end])
    }

    #[test]
    fn emails() {
        assert_eq!(
            email("mail jane.doe+x@example.co.uk now"),
            Some("jane.doe+x@example.co.uk")
        );
        assert_eq!(email("<a@b.io>"), Some("a@b.io"));
        assert_eq!(email("end jane@example.com."), Some("jane@example.com"));
        assert_eq!(email("icon@2x.png"), None);
        assert_eq!(email("pkg@1.2.3"), None);
        assert_eq!(email("user@localhost"), None);
        assert_eq!(email("image@sha256:abc"), None);
        assert_eq!(email("@decorator.call"), None);
    }

    fn tok(s: &str) -> NumTok {
        let p = s.find(|c: char| c.is_ascii_digit()).unwrap();
        NumTok::parse(s.as_bytes(), p)
    }

    #[test]
    fn international_numbers_follow_their_plan() {
        for ok in [
            "+14155552671",
            "+1 415-555-2671",
            "+44 20 7946 0958",
            "+44 (0) 20 7946 0958",
            "+33 6 12 34 56 78",
            "+49 30 12345678",
            "+91 98765 43210",
            "+61 412 345 678",
            "+81 90-1234-5678",
        ] {
            assert!(phone_international(&tok(ok)), "{ok}");
        }
        for bad in [
            "+1 123-555-2671",
            "+999 1234 5678",
            "+4 4207946 0958",
            "+44 20 79",
            "+33 6 12 34 56 78 90 12",
        ] {
            assert!(!phone_international(&tok(bad)), "{bad}");
        }
    }

    #[test]
    fn national_formats() {
        for ok in [
            "(415) 555-2671",
            "415-555-2671",
            "415.555.2671",
            "020 7946 0958",
            "030 12345678",
            "06 12 34 56 78",
            "06-12345678",
            "0412 345 678",
            "090-1234-5678",
            "(11) 91234-5678",
            "347 123 4567",
            "612 34 56 78",
            "98765 43210",
            "(02) 2293 4586",
            "039308 823",
            "015620 646719",
            "071309 57190",
            "876 09 04 02",
        ] {
            assert!(phone_national(&tok(ok), false), "{ok}");
        }
        for bad in [
            "4155552671",
            "2024 05 01 12",
            "01-02-2024 12",
            "123-555-2671",
            "0 12 34",
            "1234 5678 9012",
        ] {
            assert!(!phone_national(&tok(bad), false), "{bad}");
        }
        assert!(phone_national(&tok("4155552671"), true));
    }
}
