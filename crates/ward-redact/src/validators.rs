//! Pure checksum and structure validators.
//!
//! Every function takes ASCII bytes exactly as they appear in the candidate (digits are `b'0'..=b'9'`,
//! letters upper-case unless said otherwise), checks the length and alphabet itself and returns
//! `false` rather than panicking on anything unexpected: the scanners call them on arbitrary input.
//! They allocate nothing, so a rejected candidate costs a few nanoseconds.

use sha2::{Digest, Sha256};

/// The numeric value of an ASCII digit.
#[inline]
fn dv(b: u8) -> u32 {
    u32::from(b.wrapping_sub(b'0'))
}

/// Whether every byte is an ASCII digit.
#[inline]
pub fn all_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

/// The value of a run of ASCII digits (saturating; callers pass at most 19 digits).
fn number(s: &[u8]) -> u64 {
    s.iter().fold(0u64, |acc, &b| {
        acc.saturating_mul(10).saturating_add(u64::from(dv(b)))
    })
}

/// Luhn (mod 10) over ASCII digits.
pub fn luhn(s: &[u8]) -> bool {
    if !all_digits(s) {
        return false;
    }
    let sum: u32 = s
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &b)| {
            let d = dv(b);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether a PAN's length and leading digits belong to a real card scheme (Visa, Mastercard,
/// American Express, Discover, Diners Club, JCB, UnionPay, Maestro, Mir, RuPay, Troy, Verve).
/// Catching the issuer range is what turns "16 Luhn-valid digits" (one in ten random runs) into a
/// card number with few false positives.
pub fn card_issuer(s: &[u8]) -> bool {
    if !all_digits(s) {
        return false;
    }
    let len = s.len();
    let p = |n: usize| -> u32 { s.iter().take(n).fold(0, |a, &b| a * 10 + dv(b)) };
    let (p1, p2, p3, p4) = (p(1), p(2), p(3), p(4));
    match p1 {
        // Visa (4), 13, 16 or 19 digits.
        4 => matches!(len, 13 | 16 | 19),
        5 => {
            // Mastercard 51-55 (16); Maestro 50, 56-59 (12-19).
            (51..=55).contains(&p2) && len == 16
                || (p2 == 50 || (56..=59).contains(&p2)) && (12..=19).contains(&len)
        }
        2 => {
            // Mastercard 2221-2720 (16); Mir 2200-2204 (16-19).
            (2221..=2720).contains(&p4) && len == 16
                || (2200..=2204).contains(&p4) && (16..=19).contains(&len)
        }
        3 => match p2 {
            // American Express.
            34 | 37 => len == 15,
            // Diners Club International / Carte Blanche (300-305, 36, 38, 39) and JCB (3528-3589).
            36 => (14..=19).contains(&len),
            38 | 39 => (16..=19).contains(&len),
            30 => {
                (300..=305).contains(&p3) && (14..=19).contains(&len)
                    || p4 == 3095 && (16..=19).contains(&len)
            }
            35 => (3528..=3589).contains(&p4) && (16..=19).contains(&len),
            _ => false,
        },
        6 => {
            // Discover (6011, 644-649, 65; 622126-622925 is inside UnionPay's 62), UnionPay (62),
            // RuPay (60), InstaPayment (637-639), Maestro (63, 67).
            let discover = p4 == 6011 || (644..=649).contains(&p3) || p2 == 65;
            let unionpay_or_rupay = p2 == 62 || p2 == 60;
            ((discover || unionpay_or_rupay) && (16..=19).contains(&len))
                || ((637..=639).contains(&p3) && len == 16)
                || ((p2 == 63 || p2 == 67) && (12..=19).contains(&len))
        }
        // RuPay 81-82, Verve 506/650 ranges are covered above; UATP (1) and 8x are too rare and
        // collide with epoch timestamps and decimal ids, so they are not accepted.
        8 => (p2 == 81 || p2 == 82) && len == 16,
        9 => p4 == 9792 && len == 16,
        _ => false,
    }
}

/// IBAN length by ISO 3166 country code (SWIFT IBAN registry).
pub fn iban_length(country: &[u8]) -> Option<usize> {
    let n = match country {
        b"AD" => 24,
        b"AE" => 23,
        b"AL" => 28,
        b"AT" => 20,
        b"AZ" => 28,
        b"BA" => 20,
        b"BE" => 16,
        b"BG" => 22,
        b"BH" => 22,
        b"BI" => 27,
        b"BR" => 29,
        b"BY" => 28,
        b"CH" => 21,
        b"CR" => 22,
        b"CY" => 28,
        b"CZ" => 24,
        b"DE" => 22,
        b"DJ" => 27,
        b"DK" => 18,
        b"DO" => 28,
        b"EE" => 20,
        b"EG" => 29,
        b"ES" => 24,
        b"FI" => 18,
        b"FK" => 18,
        b"FO" => 18,
        b"FR" => 27,
        b"GB" => 22,
        b"GE" => 22,
        b"GI" => 23,
        b"GL" => 18,
        b"GR" => 27,
        b"GT" => 28,
        b"HR" => 21,
        b"HU" => 28,
        b"IE" => 22,
        b"IL" => 23,
        b"IQ" => 23,
        b"IS" => 26,
        b"IT" => 27,
        b"JO" => 30,
        b"KW" => 30,
        b"KZ" => 20,
        b"LB" => 28,
        b"LC" => 32,
        b"LI" => 21,
        b"LT" => 20,
        b"LU" => 20,
        b"LV" => 21,
        b"LY" => 25,
        b"MC" => 27,
        b"MD" => 24,
        b"ME" => 22,
        b"MK" => 19,
        b"MN" => 20,
        b"MR" => 27,
        b"MT" => 31,
        b"MU" => 30,
        b"NI" => 28,
        b"NL" => 18,
        b"NO" => 15,
        b"OM" => 23,
        b"PK" => 24,
        b"PL" => 28,
        b"PS" => 29,
        b"PT" => 25,
        b"QA" => 29,
        b"RO" => 24,
        b"RS" => 22,
        b"RU" => 33,
        b"SA" => 24,
        b"SC" => 31,
        b"SD" => 18,
        b"SE" => 24,
        b"SI" => 19,
        b"SK" => 24,
        b"SM" => 27,
        b"SO" => 23,
        b"ST" => 25,
        b"SV" => 28,
        b"TL" => 23,
        b"TN" => 24,
        b"TR" => 26,
        b"UA" => 29,
        b"VA" => 22,
        b"VG" => 24,
        b"XK" => 20,
        _ => return None,
    };
    Some(n)
}

/// IBAN: country length, two check digits, upper-case alphanumeric BBAN and mod-97 == 1.
pub fn iban(s: &[u8]) -> bool {
    if s.len() < 5 || iban_length(&s[..2]) != Some(s.len()) {
        return false;
    }
    if !s[2].is_ascii_digit() || !s[3].is_ascii_digit() {
        return false;
    }
    if !s
        .iter()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return false;
    }
    // Rotate the first four characters to the end and read letters as 10..=35, folding mod 97
    // as we go so the number never overflows.
    let mut rem: u32 = 0;
    for &b in s[4..].iter().chain(&s[..4]) {
        if b.is_ascii_digit() {
            rem = (rem * 10 + dv(b)) % 97;
        } else {
            let v = u32::from(b - b'A') + 10;
            rem = (rem * 100 + v) % 97;
        }
    }
    rem == 1
}

/// US ABA routing number: 9 digits, a Federal Reserve prefix and the 3-7-1 weighted checksum.
pub fn aba(s: &[u8]) -> bool {
    if s.len() != 9 || !all_digits(s) {
        return false;
    }
    let prefix = dv(s[0]) * 10 + dv(s[1]);
    if !matches!(prefix, 0..=12 | 21..=32 | 61..=72 | 80) || number(s) == 0 {
        return false;
    }
    let w = [3, 7, 1, 3, 7, 1, 3, 7, 1];
    s.iter().zip(w).map(|(&b, w)| dv(b) * w).sum::<u32>() % 10 == 0
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// Verhoeff check over ASCII digits (the check digit is the last one).
pub fn verhoeff(s: &[u8]) -> bool {
    if !all_digits(s) {
        return false;
    }
    let mut c = 0usize;
    for (i, &b) in s.iter().rev().enumerate() {
        let p = VERHOEFF_P[i % 8][dv(b) as usize] as usize;
        c = VERHOEFF_D[c][p] as usize;
    }
    c == 0
}

/// Indian Aadhaar: 12 digits, first digit 2-9, Verhoeff.
pub fn aadhaar(s: &[u8]) -> bool {
    s.len() == 12 && all_digits(s) && s[0] >= b'2' && verhoeff(s)
}

/// UK NHS number: 10 digits, weights 10..2, check = 11 - (sum mod 11) (10 is never issued).
pub fn nhs(s: &[u8]) -> bool {
    if s.len() != 10 || !all_digits(s) || s.iter().all(|&b| b == s[0]) {
        return false;
    }
    let sum: u32 = s[..9]
        .iter()
        .zip((2..=10).rev())
        .map(|(&b, w)| dv(b) * w)
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return false,
        c => c,
    };
    check == dv(s[9])
}

/// French NIR (INSEE number): 13 digits + 2-digit key = 97 - (number mod 97), with a plausible
/// sex digit, month and department.
pub fn fr_nir(s: &[u8]) -> bool {
    if s.len() != 15 || !all_digits(s) {
        return false;
    }
    if !matches!(s[0], b'1' | b'2' | b'3' | b'4' | b'7' | b'8') {
        return false;
    }
    let month = dv(s[3]) * 10 + dv(s[4]);
    if !matches!(month, 1..=12 | 20..=42 | 50..=99) {
        return false;
    }
    if s[5] == b'0' && s[6] == b'0' {
        return false;
    }
    let n = number(&s[..13]);
    let key = number(&s[13..]);
    97 - n % 97 == key
}

/// German Steuer-ID: 11 digits, no leading zero, in the first ten exactly one digit repeated
/// (twice or three times), ISO 7064 MOD 11,10 check digit.
pub fn de_tax_id(s: &[u8]) -> bool {
    if s.len() != 11 || !all_digits(s) || s[0] == b'0' {
        return false;
    }
    let mut counts = [0u8; 10];
    for &b in &s[..10] {
        counts[dv(b) as usize] += 1;
    }
    let repeated = counts.iter().filter(|&&c| c >= 2).count();
    if repeated != 1 || counts.iter().any(|&c| c > 3) {
        return false;
    }
    let mut product = 10u32;
    for &b in &s[..10] {
        let mut sum = (dv(b) + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let check = match 11 - product {
        10 => 0,
        c => c,
    };
    check == dv(s[10])
}

/// Italian codice fiscale: 16 characters with the official structure (omocodia letters allowed in
/// numeric positions) and the odd/even check character.
pub fn codice_fiscale(s: &[u8]) -> bool {
    if s.len() != 16 {
        return false;
    }
    const OMOCODE: &[u8] = b"LMNPQRSTUV";
    let numeric = |b: u8| b.is_ascii_digit() || OMOCODE.contains(&b);
    let shape = s[..6].iter().all(u8::is_ascii_uppercase)
        && numeric(s[6])
        && numeric(s[7])
        && b"ABCDEHLMPRST".contains(&s[8])
        && numeric(s[9])
        && numeric(s[10])
        && s[11].is_ascii_uppercase()
        && s[12..15].iter().all(|&b| numeric(b))
        && s[15].is_ascii_uppercase();
    if !shape {
        return false;
    }
    const ODD: [u32; 26] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23,
    ];
    let mut sum = 0u32;
    for (i, &b) in s[..15].iter().enumerate() {
        let v = if b.is_ascii_digit() {
            dv(b)
        } else {
            u32::from(b - b'A')
        };
        // Positions are 1-based in the specification: the first character is "odd".
        sum += if i % 2 == 0 { ODD[v as usize % 26] } else { v };
    }
    u32::from(s[15] - b'A') == sum % 26
}

const NIF_LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

/// Spanish DNI/NIF: 8 digits and the control letter `TRWAGMYFPDXBNJZSQVHLCKE[n mod 23]`.
pub fn es_nif(s: &[u8]) -> bool {
    s.len() == 9 && all_digits(&s[..8]) && NIF_LETTERS[(number(&s[..8]) % 23) as usize] == s[8]
}

/// Spanish NIE: `X`/`Y`/`Z` (read as 0/1/2), 7 digits and the NIF control letter.
pub fn es_nie(s: &[u8]) -> bool {
    if s.len() != 9 || !all_digits(&s[1..8]) {
        return false;
    }
    let lead = match s[0] {
        b'X' => 0,
        b'Y' => 1,
        b'Z' => 2,
        _ => return false,
    };
    let n = lead * 10_000_000 + number(&s[1..8]);
    NIF_LETTERS[(n % 23) as usize] == s[8]
}

/// Dutch BSN: 9 digits passing the "11-test" (weights 9..2 and -1).
pub fn nl_bsn(s: &[u8]) -> bool {
    if s.len() != 9 || !all_digits(s) || number(s) == 0 {
        return false;
    }
    let w = [9i32, 8, 7, 6, 5, 4, 3, 2, -1];
    let sum: i32 = s.iter().zip(w).map(|(&b, w)| dv(b) as i32 * w).sum();
    sum % 11 == 0
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

fn valid_date(year: u32, month: u32, day: u32) -> bool {
    (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)
}

/// Polish PESEL: 11 digits, a valid birth date (century encoded in the month) and the
/// 1-3-7-9 weighted check digit.
pub fn pl_pesel(s: &[u8]) -> bool {
    if s.len() != 11 || !all_digits(s) {
        return false;
    }
    let yy = dv(s[0]) * 10 + dv(s[1]);
    let mm = dv(s[2]) * 10 + dv(s[3]);
    let dd = dv(s[4]) * 10 + dv(s[5]);
    let (century, month) = match mm {
        81..=92 => (1800, mm - 80),
        1..=12 => (1900, mm),
        21..=32 => (2000, mm - 20),
        41..=52 => (2100, mm - 40),
        61..=72 => (2200, mm - 60),
        _ => return false,
    };
    if !valid_date(century + yy, month, dd) {
        return false;
    }
    let w = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
    let sum: u32 = s[..10].iter().zip(w).map(|(&b, w)| dv(b) * w).sum();
    (10 - sum % 10) % 10 == dv(s[10])
}

/// Swedish personnummer / samordningsnummer: 10 digits `YYMMDDNNNC` (day + 60 for coordination
/// numbers), Luhn over the ten digits.
pub fn se_personnummer(s: &[u8]) -> bool {
    if s.len() != 10 || !all_digits(s) {
        return false;
    }
    let yy = dv(s[0]) * 10 + dv(s[1]);
    let mm = dv(s[2]) * 10 + dv(s[3]);
    let mut dd = dv(s[4]) * 10 + dv(s[5]);
    if dd > 60 {
        dd -= 60;
    }
    // The century is not in the short form; 2000 is a leap year so Feb 29 is accepted.
    valid_date(2000 + yy, mm, dd) && luhn(s)
}

const HETU_CHECK: &[u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";

/// Finnish HETU: `DDMMYY`, a century sign (`+`, `-`, `A`-`F`, `U`-`Y`), a 3-digit individual
/// number and a check character `HETU_CHECK[DDMMYYNNN mod 31]`.
pub fn fi_hetu(s: &[u8]) -> bool {
    if s.len() != 11 || !all_digits(&s[..6]) || !all_digits(&s[7..10]) {
        return false;
    }
    let century = match s[6] {
        b'+' => 1800,
        b'-' | b'U'..=b'Y' => 1900,
        b'A'..=b'F' => 2000,
        _ => return false,
    };
    let dd = dv(s[0]) * 10 + dv(s[1]);
    let mm = dv(s[2]) * 10 + dv(s[3]);
    let yy = dv(s[4]) * 10 + dv(s[5]);
    if !valid_date(century + yy, mm, dd) {
        return false;
    }
    let individual = number(&s[7..10]);
    if individual < 2 {
        return false;
    }
    let n = number(&s[..6]) * 1000 + individual;
    HETU_CHECK[(n % 31) as usize] == s[10]
}

/// Canadian SIN: 9 digits, Luhn, first digit not 0 or 8 (never issued).
pub fn ca_sin(s: &[u8]) -> bool {
    s.len() == 9 && all_digits(s) && s[0] != b'0' && s[0] != b'8' && luhn(s)
}

/// Australian TFN: 9 digits (weights 1,4,3,7,5,8,6,9,10) or the older 8 digits
/// (10,7,8,4,6,3,5,1), weighted sum divisible by 11.
pub fn au_tfn(s: &[u8]) -> bool {
    if !all_digits(s) || number(s) == 0 {
        return false;
    }
    let w: &[u32] = match s.len() {
        9 => &[1, 4, 3, 7, 5, 8, 6, 9, 10],
        8 => &[10, 7, 8, 4, 6, 3, 5, 1],
        _ => return false,
    };
    s.iter().zip(w).map(|(&b, w)| dv(b) * w).sum::<u32>() % 11 == 0
}

/// US NPI: 10 digits starting with 1 or 2, Luhn over `80840` + the number.
pub fn us_npi(s: &[u8]) -> bool {
    if s.len() != 10 || !all_digits(s) || !matches!(s[0], b'1' | b'2') {
        return false;
    }
    let mut buf = [0u8; 15];
    buf[..5].copy_from_slice(b"80840");
    buf[5..].copy_from_slice(s);
    luhn(&buf)
}

/// US DEA registration number: a registrant-type letter, a letter (or `9`), 7 digits with the
/// `(d1+d3+d5) + 2(d2+d4+d6)` check digit.
pub fn us_dea(s: &[u8]) -> bool {
    if s.len() != 9 || !all_digits(&s[2..]) {
        return false;
    }
    if !b"ABCDEFGHJKLMPRSTUX".contains(&s[0]) || !(s[1].is_ascii_uppercase() || s[1] == b'9') {
        return false;
    }
    let d: [u32; 7] = std::array::from_fn(|i| dv(s[2 + i]));
    ((d[0] + d[2] + d[4]) + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]
}

/// US Medicare Beneficiary Identifier: 11 characters `C A AN N A AN N A A N N` (dashes removed),
/// letters excluding S, L, O, I, B, Z.
pub fn us_mbi(s: &[u8]) -> bool {
    if s.len() != 11 {
        return false;
    }
    let alpha = |b: u8| b.is_ascii_uppercase() && !b"SLOIBZ".contains(&b);
    let alnum = |b: u8| b.is_ascii_digit() || alpha(b);
    let digit = |b: u8| b.is_ascii_digit();
    (b'1'..=b'9').contains(&s[0])
        && alpha(s[1])
        && alnum(s[2])
        && digit(s[3])
        && alpha(s[4])
        && alnum(s[5])
        && digit(s[6])
        && alpha(s[7])
        && alpha(s[8])
        && digit(s[9])
        && digit(s[10])
}

/// US SSN from its three parts: area 001-899 except 666, group 01-99, serial 0001-9999, and not
/// one of the famous never-valid numbers.
pub fn us_ssn(area: &[u8], group: &[u8], serial: &[u8]) -> bool {
    if area.len() != 3 || group.len() != 2 || serial.len() != 4 {
        return false;
    }
    if !all_digits(area) || !all_digits(group) || !all_digits(serial) {
        return false;
    }
    let (a, g, s) = (number(area), number(group), number(serial));
    if a == 0 || a == 666 || a >= 900 || g == 0 || s == 0 {
        return false;
    }
    // Woolworth's wallet card and the 1960s advertisement number were never valid.
    !matches!((a, g, s), (78, 5, 1120) | (219, 9, 9999))
}

/// US ITIN: area 9xx and group 50-65, 70-88, 90-92 or 94-99.
pub fn us_itin(area: &[u8], group: &[u8], serial: &[u8]) -> bool {
    if area.len() != 3 || group.len() != 2 || serial.len() != 4 {
        return false;
    }
    if !all_digits(area) || !all_digits(group) || !all_digits(serial) || area[0] != b'9' {
        return false;
    }
    matches!(number(group), 50..=65 | 70..=88 | 90..=92 | 94..=99) && number(serial) != 0
}

/// UK National Insurance number: two prefix letters (with the excluded letters and pairs),
/// six digits and a suffix A-D.
pub fn uk_nino(s: &[u8]) -> bool {
    if s.len() != 9 || !all_digits(&s[2..8]) {
        return false;
    }
    let (a, b) = (s[0], s[1]);
    if !a.is_ascii_uppercase()
        || !b.is_ascii_uppercase()
        || b"DFIQUV".contains(&a)
        || b"DFIOQUV".contains(&b)
    {
        return false;
    }
    if matches!(
        &s[..2],
        b"BG" | b"GB" | b"KN" | b"NK" | b"NT" | b"TN" | b"ZZ"
    ) {
        return false;
    }
    matches!(s[8], b'A'..=b'D')
}

/// North-American VIN: 17 characters from `A-HJ-NPR-Z0-9` with the position-9 check digit.
pub fn vin(s: &[u8]) -> bool {
    if s.len() != 17 {
        return false;
    }
    const W: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let mut sum = 0u32;
    let mut digits = 0;
    for (i, &b) in s.iter().enumerate() {
        let v = match b {
            b'0'..=b'9' => {
                digits += 1;
                dv(b)
            }
            b'A' | b'J' => 1,
            b'B' | b'K' | b'S' => 2,
            b'C' | b'L' | b'T' => 3,
            b'D' | b'M' | b'U' => 4,
            b'E' | b'N' | b'V' => 5,
            b'F' | b'W' => 6,
            b'G' | b'P' | b'X' => 7,
            b'H' | b'Y' => 8,
            b'R' | b'Z' => 9,
            _ => return false,
        };
        sum += v * W[i];
    }
    // A real VIN mixes letters and digits; 17 digits is an id, 17 letters a word.
    if digits == 17 || digits < 4 {
        return false;
    }
    let check = match sum % 11 {
        10 => b'X',
        d => b'0' + d as u8,
    };
    check == s[8]
}

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// The value of each byte in [`BASE58`], `u8::MAX` for bytes outside it.
static BASE58_VALUES: [u8; 256] = {
    let mut table = [u8::MAX; 256];
    let mut i = 0;
    while i < BASE58.len() {
        table[BASE58[i] as usize] = i as u8;
        i += 1;
    }
    table
};

fn base58_value(b: u8) -> Option<u32> {
    let v = BASE58_VALUES[usize::from(b)];
    (v != u8::MAX).then_some(u32::from(v))
}

/// Decodes Base58Check (Bitcoin alphabet) into a 25-byte payload and verifies the double-SHA-256
/// checksum; returns the version byte.
pub fn base58check_version(s: &[u8]) -> Option<u8> {
    if !(25..=35).contains(&s.len()) {
        return None;
    }
    // Most candidates are hex ids of the right length: reject a `0` (not in the alphabet)
    // before the quadratic decode.
    if !s.iter().all(|&b| base58_value(b).is_some()) {
        return None;
    }
    // Big-number decode into a fixed buffer: the payload of an address is 25 bytes.
    let mut buf = [0u8; 25];
    for &b in s {
        let mut carry = base58_value(b)?;
        for byte in buf.iter_mut().rev() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        if carry != 0 {
            return None;
        }
    }
    let leading_ones = s.iter().take_while(|&&b| b == b'1').count();
    let leading_zero_bytes = buf.iter().take_while(|&&b| b == 0).count();
    // The number of leading '1's must equal the number of leading zero bytes (up to the first
    // significant byte), or the string was not a canonical encoding of 25 bytes.
    if leading_ones != leading_zero_bytes {
        return None;
    }
    let first = Sha256::digest(&buf[..21]);
    let second = Sha256::digest(first);
    if second[..4] != buf[21..] {
        return None;
    }
    Some(buf[0])
}

/// A legacy Bitcoin address: Base58Check with version 0x00 (P2PKH, `1…`) or 0x05 (P2SH, `3…`).
pub fn bitcoin_base58(s: &[u8]) -> bool {
    matches!(
        (s.first(), base58check_version(s)),
        (Some(b'1'), Some(0x00)) | (Some(b'3'), Some(0x05))
    )
}

fn bech32_polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// A segwit Bitcoin address (`bc1…`): bech32 (witness v0, 20- or 32-byte program) or bech32m
/// (v1-v16), all lower- or all upper-case, checksum verified.
pub fn bitcoin_bech32(s: &[u8]) -> bool {
    const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    if !(14..=90).contains(&s.len()) {
        return false;
    }
    let lower = s.iter().any(u8::is_ascii_lowercase);
    let upper = s.iter().any(u8::is_ascii_uppercase);
    if lower && upper {
        return false;
    }
    if !s[..3].eq_ignore_ascii_case(b"bc1") {
        return false;
    }
    let mut data = [0u8; 90];
    let payload = &s[3..];
    for (slot, &b) in data.iter_mut().zip(payload) {
        let b = b.to_ascii_lowercase();
        *slot = match CHARSET.iter().position(|&c| c == b) {
            Some(p) => p as u8,
            None => return false,
        };
    }
    let data = &data[..payload.len()];
    if data.len() < 7 {
        return false;
    }
    // hrp "bc" expanded: high bits, 0, low bits.
    let hrp = [b'b' >> 5, b'c' >> 5, 0, b'b' & 31, b'c' & 31];
    let pm = bech32_polymod(hrp.iter().copied().chain(data.iter().copied()));
    let version = data[0];
    let expected = if version == 0 { 1 } else { 0x2bc8_30a3 };
    if pm != expected || version > 16 {
        return false;
    }
    // Program length in bytes: 5-bit groups (minus version and 6 checksum groups) to bytes.
    let groups = data.len() - 7;
    let bytes = groups * 5 / 8;
    if version == 0 {
        bytes == 20 || bytes == 32
    } else {
        (2..=40).contains(&bytes)
    }
}

/// GitHub classic token checksum: the last 6 characters are the base62 (`0-9A-Za-z`) encoding of
/// the CRC32 of the 30 random characters before them.
pub fn github_checksum(body: &[u8]) -> bool {
    if body.len() != 36 || !body.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let crc = crc32fast::hash(&body[..30]);
    let mut n: u64 = 0;
    for &b in &body[30..] {
        let v = match b {
            b'0'..=b'9' => b - b'0',
            b'A'..=b'Z' => b - b'A' + 10,
            b'a'..=b'z' => b - b'a' + 36,
            _ => return false,
        };
        n = n * 62 + u64::from(v);
    }
    n == u64::from(crc)
}

/// Encodes a CRC32 as the 6-character base62 checksum GitHub uses (for tests and generators).
pub fn github_checksum_suffix(random: &[u8]) -> [u8; 6] {
    const ALPHA: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = u64::from(crc32fast::hash(random));
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = ALPHA[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// Shannon entropy in bits per byte.
pub fn entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[b as usize] += 1;
    }
    let len = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

/// A checksum that a custom rule can name (`validator = "luhn"`); it is applied to the ASCII
/// digits (or, for `iban`/`mod97`, the alphanumerics, upper-cased) of the match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validator {
    /// Luhn mod 10.
    Luhn,
    /// IBAN mod 97 (with the country-length check).
    Iban,
    /// ABA 3-7-1.
    Aba,
    /// Verhoeff.
    Verhoeff,
    /// UK NHS mod 11.
    Nhs,
    /// Dutch 11-test.
    Bsn,
    /// Polish PESEL.
    Pesel,
    /// German Steuer-ID.
    DeTaxId,
    /// US NPI.
    Npi,
    /// Australian TFN.
    Tfn,
}

impl Validator {
    /// Every validator, with the name used in configuration.
    pub const ALL: &'static [(&'static str, Validator)] = &[
        ("luhn", Validator::Luhn),
        ("iban", Validator::Iban),
        ("mod97", Validator::Iban),
        ("aba", Validator::Aba),
        ("verhoeff", Validator::Verhoeff),
        ("nhs", Validator::Nhs),
        ("mod11", Validator::Nhs),
        ("bsn", Validator::Bsn),
        ("pesel", Validator::Pesel),
        ("de_tax_id", Validator::DeTaxId),
        ("npi", Validator::Npi),
        ("tfn", Validator::Tfn),
    ];

    /// Looks a validator up by name (see [`Validator::ALL`]).
    pub fn from_name(name: &str) -> Option<Validator> {
        Validator::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, v)| v)
    }

    /// Runs the validator on the text of a match.
    pub fn check(self, text: &str) -> bool {
        let mut buf = [0u8; 64];
        let mut n = 0;
        let keep_letters = self == Validator::Iban;
        for b in text.bytes() {
            let keep = b.is_ascii_digit() || keep_letters && b.is_ascii_alphabetic();
            if keep {
                if n == buf.len() {
                    return false;
                }
                buf[n] = b.to_ascii_uppercase();
                n += 1;
            }
        }
        let s = &buf[..n];
        match self {
            Validator::Luhn => s.len() >= 2 && luhn(s),
            Validator::Iban => iban(s),
            Validator::Aba => aba(s),
            Validator::Verhoeff => s.len() >= 2 && verhoeff(s),
            Validator::Nhs => nhs(s),
            Validator::Bsn => nl_bsn(s),
            Validator::Pesel => pl_pesel(s),
            Validator::DeTaxId => de_tax_id(s),
            Validator::Npi => us_npi(s),
            Validator::Tfn => au_tfn(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_issuers() {
        assert!(luhn(b"4111111111111111"));
        assert!(!luhn(b"4111111111111112"));
        assert!(luhn(b"79927398713"));
        assert!(!luhn(b"12a4"));
        for pan in [
            "4111111111111111",
            "5555555555554444",
            "2223003122003222",
            "378282246310005",
            "6011111111111117",
            "3530111333300000",
            "36227206271667",
            "6200000000000005",
        ] {
            assert!(luhn(pan.as_bytes()) && card_issuer(pan.as_bytes()), "{pan}");
        }
        // Luhn-valid but no issuer: 1xxx and 7xxx ranges, wrong lengths for the scheme.
        assert!(!card_issuer(b"1234567812345670"));
        assert!(!card_issuer(b"7000000000000007"));
        assert!(!card_issuer(b"37828224631000"));
        assert!(!card_issuer(b"411111111111111"));
    }

    #[test]
    fn iban_mod97() {
        for ok in [
            "DE89370400440532013000",
            "GB82WEST12345698765432",
            "FR1420041010050500013M02606",
            "NL91ABNA0417164300",
            "BE68539007547034",
        ] {
            assert!(iban(ok.as_bytes()), "{ok}");
        }
        assert!(!iban(b"GB82WEST12345698765431"));
        assert!(!iban(b"DE8937040044053201300"));
        assert!(!iban(b"XX89370400440532013000"));
        assert!(!iban(b"de89370400440532013000"));
    }

    #[test]
    fn aba_checksum() {
        assert!(aba(b"011000015"));
        assert!(aba(b"021000021"));
        assert!(!aba(b"011000016"));
        assert!(
            !aba(b"991000013"),
            "prefix 99 is not a Federal Reserve district"
        );
        assert!(!aba(b"000000000"));
    }

    #[test]
    fn verhoeff_and_aadhaar() {
        assert!(verhoeff(b"2363"));
        assert!(!verhoeff(b"2364"));
        assert!(aadhaar(b"234123412346"));
        assert!(aadhaar(b"498712345679"));
        // Needs row 4 of the permutation table right (9 4 5 3 1 2 6 8 7 0): these pass the
        // reference implementation (python-stdnum) and failed with a transposed row.
        assert!(aadhaar(b"573047174003"));
        assert!(aadhaar(b"609403395642"));
        assert!(!aadhaar(b"573047174004"));
        assert!(!aadhaar(b"234123412345"));
        assert!(
            !aadhaar(b"134123412340"),
            "Aadhaar never starts with 0 or 1"
        );
    }

    #[test]
    fn nhs_mod11() {
        assert!(nhs(b"9434765919"));
        assert!(!nhs(b"9434765918"));
        assert!(!nhs(b"1111111111"));
    }

    #[test]
    fn french_nir() {
        assert!(fr_nir(b"184127645108946"));
        assert!(fr_nir(b"269054958815780"));
        assert!(!fr_nir(b"184127645108947"));
        assert!(!fr_nir(b"584127645108946"), "sex digit 5 does not exist");
    }

    #[test]
    fn german_tax_id() {
        assert!(de_tax_id(b"86095742719"));
        assert!(de_tax_id(b"47036892816"));
        assert!(de_tax_id(b"65929970489"));
        assert!(!de_tax_id(b"86095742718"));
        assert!(!de_tax_id(b"12345678903"), "no repeated digit");
        assert!(!de_tax_id(b"06095742719"));
    }

    #[test]
    fn italian_codice_fiscale() {
        assert!(codice_fiscale(b"RSSMRA85T10A562S"));
        assert!(!codice_fiscale(b"RSSMRA85T10A562T"));
        assert!(
            !codice_fiscale(b"RSSMRA85Z10A562S"),
            "Z is not a month letter"
        );
    }

    #[test]
    fn spanish_nif_nie() {
        assert!(es_nif(b"12345678Z"));
        assert!(!es_nif(b"12345678A"));
        assert!(es_nie(b"X1234567L"));
        assert!(!es_nie(b"X1234567Z"));
        assert!(!es_nie(b"A1234567L"));
    }

    #[test]
    fn dutch_bsn() {
        assert!(nl_bsn(b"111222333"));
        assert!(nl_bsn(b"123456782"));
        assert!(!nl_bsn(b"123456789"));
        assert!(!nl_bsn(b"000000000"));
    }

    #[test]
    fn polish_pesel() {
        assert!(pl_pesel(b"44051401359"));
        assert!(pl_pesel(b"02070803628"));
        assert!(!pl_pesel(b"44051401358"));
        assert!(!pl_pesel(b"44135401351"), "month 13 does not exist");
    }

    #[test]
    fn swedish_personnummer() {
        assert!(se_personnummer(b"8112189876"));
        assert!(!se_personnummer(b"8112189875"));
        assert!(!se_personnummer(b"8113189870"), "month 13");
    }

    #[test]
    fn finnish_hetu() {
        assert!(fi_hetu(b"131052-308T"));
        assert!(fi_hetu(b"010101A123N"), "21st-century sign");
        assert!(!fi_hetu(b"131052-308U"));
        assert!(!fi_hetu(b"311352-308T"), "month 13");
        assert!(!fi_hetu(b"131052G308T"), "G is not a century sign");
    }

    #[test]
    fn canadian_sin_and_australian_tfn() {
        assert!(ca_sin(b"130692544"));
        assert!(!ca_sin(b"046454286"), "0 is never issued");
        assert!(!ca_sin(b"130692545"));
        assert!(au_tfn(b"123456782"));
        assert!(au_tfn(b"876543210"));
        assert!(!au_tfn(b"123456789"));
    }

    #[test]
    fn health_ids() {
        assert!(us_npi(b"1234567893"));
        assert!(!us_npi(b"1234567890"));
        assert!(!us_npi(b"3234567893"));
        assert!(us_dea(b"AB1234563"));
        assert!(!us_dea(b"AB1234564"));
        assert!(!us_dea(b"ZB1234563"));
        assert!(us_mbi(b"1EG4TE5MK73"));
        assert!(!us_mbi(b"1SG4TE5MK73"), "S is excluded");
        assert!(!us_mbi(b"0EG4TE5MK73"));
    }

    #[test]
    fn ssn_itin_ranges() {
        assert!(us_ssn(b"123", b"45", b"6789"));
        assert!(!us_ssn(b"000", b"45", b"6789"));
        assert!(!us_ssn(b"666", b"45", b"6789"));
        assert!(!us_ssn(b"900", b"45", b"6789"));
        assert!(!us_ssn(b"123", b"00", b"6789"));
        assert!(!us_ssn(b"123", b"45", b"0000"));
        assert!(!us_ssn(b"078", b"05", b"1120"));
        assert!(us_itin(b"912", b"70", b"1234"));
        assert!(!us_itin(b"912", b"40", b"1234"));
        assert!(!us_itin(b"812", b"70", b"1234"));
    }

    #[test]
    fn uk_nino_rules() {
        assert!(uk_nino(b"AB123456C"));
        assert!(!uk_nino(b"QQ123456C"));
        assert!(!uk_nino(b"GB123456C"));
        assert!(!uk_nino(b"AB123456E"));
    }

    #[test]
    fn vin_check_digit() {
        assert!(vin(b"1M8GDM9AXKP042788"));
        assert!(vin(b"1HGCM82633A004352"));
        assert!(!vin(b"1M8GDM9A1KP042788"));
        assert!(!vin(b"1M8GDM9AXKP04278O"), "O is not allowed");
    }

    #[test]
    fn bitcoin_addresses() {
        assert!(bitcoin_base58(b"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"));
        assert!(bitcoin_base58(b"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"));
        assert!(bitcoin_base58(b"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"));
        assert!(!bitcoin_base58(b"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"));
        assert!(
            !bitcoin_base58(b"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN0"),
            "0 is not base58"
        );
        assert!(bitcoin_bech32(
            b"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
        ));
        assert!(bitcoin_bech32(
            b"BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"
        ));
        assert!(bitcoin_bech32(
            b"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
        ));
        assert!(!bitcoin_bech32(
            b"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"
        ));
        assert!(
            !bitcoin_bech32(b"bc1Qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
            "mixed case"
        );
    }

    #[test]
    fn github_crc32() {
        let random = b"abcdefghijklmnopqrstuvwxyz0123";
        let suffix = github_checksum_suffix(random);
        let mut body = random.to_vec();
        body.extend_from_slice(&suffix);
        assert!(github_checksum(&body));
        body[0] = b'b';
        assert!(!github_checksum(&body));
        assert!(
            !github_checksum(b"16C7e42F292c6912E7710c838347Ae178B4a"),
            "GitHub's documentation example"
        );
    }

    #[test]
    fn entropy_orders_strings() {
        assert!(entropy(b"aaaaaaaa") < 0.01);
        assert!(entropy(b"Xk9$mQ2!vB7#pL4@") > 3.5);
    }

    #[test]
    fn named_validators() {
        assert_eq!(Validator::from_name("LUHN"), Some(Validator::Luhn));
        assert!(Validator::Luhn.check("4111-1111-1111-1111"));
        assert!(Validator::Iban.check("GB82 WEST 1234 5698 7654 32"));
        assert!(!Validator::Aba.check("011000016"));
        assert!(Validator::from_name("nope").is_none());
    }
}
