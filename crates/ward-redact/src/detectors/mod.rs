//! Detectors, by domain. Each module holds the confirmation logic for candidates produced by the
//! passes in [`crate::scan`]: they receive the haystack and a candidate position, look only at a
//! bounded neighbourhood, and either confirm a [`Hit`] or reject it. None of them allocates.

pub(crate) mod contact;
pub(crate) mod financial;
pub(crate) mod government;
pub(crate) mod health;
pub(crate) mod network;
pub(crate) mod secrets;

use crate::finding::Detector;
use crate::kind::Kind;

/// A confirmed detection, before allow-lists and overlap resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    pub detector: Detector,
}

impl Hit {
    pub(crate) fn new(kind: Kind, start: usize, end: usize, detector: &'static str) -> Hit {
        Hit {
            kind,
            start,
            end,
            detector: Detector::builtin(detector),
        }
    }
}

/// Byte classes, looked up rather than computed: the passes test "letter or digit" on nearly
/// every byte of digit-bearing words, and one load beats three range comparisons.
const ALNUM: u8 = 1;
const UNDERSCORE: u8 = 2;
static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() {
            table[b] = ALNUM;
        } else if c == b'_' {
            table[b] = UNDERSCORE;
        }
        b += 1;
    }
    table
};

/// ASCII letter or digit.
#[inline]
pub(crate) fn is_alnum(b: u8) -> bool {
    CLASS[usize::from(b)] & ALNUM != 0
}

/// Part of an identifier-like word: letters, digits and `_`.
#[inline]
pub(crate) fn is_word(b: u8) -> bool {
    CLASS[usize::from(b)] != 0
}

/// The byte at `i`, or 0 past the end (0 is never part of anything we match).
#[inline]
pub(crate) fn at(t: &[u8], i: usize) -> u8 {
    t.get(i).copied().unwrap_or(0)
}

/// The byte before `i`, or 0 at the start.
#[inline]
pub(crate) fn before(t: &[u8], i: usize) -> u8 {
    if i == 0 { 0 } else { at(t, i - 1) }
}

/// Nothing word-like directly before `i`.
#[inline]
pub(crate) fn boundary_before(t: &[u8], i: usize) -> bool {
    !is_word(before(t, i))
}

/// Nothing word-like at `i`.
#[inline]
pub(crate) fn boundary_after(t: &[u8], i: usize) -> bool {
    !is_word(at(t, i))
}

/// End of the run of bytes satisfying `pred` starting at `from`, at most `max` long.
#[inline]
pub(crate) fn run_end(t: &[u8], from: usize, max: usize, pred: impl Fn(u8) -> bool) -> usize {
    let limit = from.saturating_add(max).min(t.len());
    let mut i = from.min(limit);
    while i < limit && pred(t[i]) {
        i += 1;
    }
    i
}

/// End of the run of ASCII alphanumerics (and `_` when `underscore`) starting at `from`.
///
/// The digit pass spends most of its time stepping over trace ids, UUIDs and digests, and
/// often calls this where the run is empty: the first byte is tested alone, then sixteen bytes
/// at a time with an arithmetic test (a table lookup per byte would not vectorise), and the
/// table finishes the last partial chunk.
#[inline]
pub(crate) fn skip_word(t: &[u8], from: usize, underscore: bool) -> usize {
    let mask = if underscore {
        ALNUM | UNDERSCORE
    } else {
        ALNUM
    };
    let in_run = |b: u8| CLASS[usize::from(b)] & mask != 0;
    if !t.get(from).is_some_and(|&b| in_run(b)) {
        return from.min(t.len());
    }
    let mut i = from + 1;
    while let Some(chunk) = t.get(i..i + 16) {
        if !all_word(chunk, underscore) {
            break;
        }
        i += 16;
    }
    run_end(t, i, usize::MAX, in_run)
}

/// Whether every byte of `chunk` is an ASCII letter or digit (or `_` when `underscore`).
/// Branch-free byte arithmetic, which the compiler turns into a few SIMD instructions.
#[inline]
fn all_word(chunk: &[u8], underscore: bool) -> bool {
    let us = u8::from(underscore);
    let outside = chunk.iter().fold(0u8, |acc, &b| {
        let digit = u8::from(b.wrapping_sub(b'0') < 10);
        let letter = u8::from((b | 0x20).wrapping_sub(b'a') < 26);
        acc | ((digit | letter | (u8::from(b == b'_') & us)) ^ 1)
    });
    outside == 0
}

/// The first position at or after `from` whose byte satisfies `pred`.
///
/// Sixteen bytes at a time with a branch-free test that the compiler vectorises (`pred` must be
/// plain byte arithmetic), so text without candidates is skipped at memory speed; and a call
/// costs a few instructions, where a general searcher's setup would dominate on short lines.
#[inline(always)]
pub(crate) fn find_first(t: &[u8], from: usize, pred: impl Fn(u8) -> bool) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = t.get(i..i + 16) {
        if chunk.iter().fold(0u8, |acc, &b| acc | u8::from(pred(b))) != 0 {
            break;
        }
        i += 16;
    }
    t.get(i..)?.iter().position(|&b| pred(b)).map(|p| p + i)
}

/// Start of the run of bytes satisfying `pred` ending just before `to`, at most `max` long and
/// never before `floor`.
#[inline]
pub(crate) fn run_start(
    t: &[u8],
    to: usize,
    max: usize,
    floor: usize,
    pred: impl Fn(u8) -> bool,
) -> usize {
    let to = to.min(t.len());
    let limit = to.saturating_sub(max).max(floor);
    let mut i = to;
    while i > limit && pred(t[i - 1]) {
        i -= 1;
    }
    i
}

/// Whether `t[i..]` starts with `lit` (ASCII case-insensitively when `ci`).
#[inline]
pub(crate) fn starts_with_at(t: &[u8], i: usize, lit: &[u8], ci: bool) -> bool {
    match t.get(i..i.saturating_add(lit.len())) {
        Some(s) if ci => s.eq_ignore_ascii_case(lit),
        Some(s) => s == lit,
        None => false,
    }
}

/// Context keyword classes, as bits of [`Context::has`].
pub(crate) mod kw {
    pub(crate) const SSN: u32 = 1 << 0;
    pub(crate) const SIN: u32 = 1 << 1;
    pub(crate) const TFN: u32 = 1 << 2;
    pub(crate) const BSN: u32 = 1 << 3;
    pub(crate) const NHS: u32 = 1 << 4;
    pub(crate) const PESEL: u32 = 1 << 5;
    pub(crate) const DE_TAX: u32 = 1 << 6;
    pub(crate) const AADHAAR: u32 = 1 << 7;
    pub(crate) const PNR: u32 = 1 << 8;
    pub(crate) const PHONE: u32 = 1 << 9;
    pub(crate) const ABA: u32 = 1 << 10;
    pub(crate) const NPI: u32 = 1 << 11;
    pub(crate) const DEA: u32 = 1 << 12;
    pub(crate) const TWILIO: u32 = 1 << 14;
    pub(crate) const HETU: u32 = 1 << 15;
}

/// Every keyword list with its class bit.
const KEYWORD_CLASSES: &[(&[&str], u32)] = &[
    (government::SSN_KEYWORDS, kw::SSN),
    (government::SIN_KEYWORDS, kw::SIN),
    (government::TFN_KEYWORDS, kw::TFN),
    (government::BSN_KEYWORDS, kw::BSN),
    (government::NHS_KEYWORDS, kw::NHS),
    (government::PESEL_KEYWORDS, kw::PESEL),
    (government::DE_TAX_KEYWORDS, kw::DE_TAX),
    (government::AADHAAR_KEYWORDS, kw::AADHAAR),
    (government::PNR_KEYWORDS, kw::PNR),
    (contact::PHONE_KEYWORDS, kw::PHONE),
    (financial::ABA_KEYWORDS, kw::ABA),
    (health::NPI_KEYWORDS, kw::NPI),
    (health::DEA_KEYWORDS, kw::DEA),
    (&["twilio"], kw::TWILIO),
    (government::HETU_KEYWORDS, kw::HETU),
];

/// How many keywords [`KEYWORD_CLASSES`] lists in all.
const KEYWORD_COUNT: usize = {
    let mut n = 0;
    let mut c = 0;
    while c < KEYWORD_CLASSES.len() {
        n += KEYWORD_CLASSES[c].0.len();
        c += 1;
    }
    n
};

/// Every keyword with its class index, grouped by first letter, so that a word start is compared
/// only with the keywords that begin with its letter.
const KEYWORDS_BY_LETTER: [(&str, u8); KEYWORD_COUNT] = {
    let mut out = [("", 0u8); KEYWORD_COUNT];
    let mut n = 0;
    let mut letter = b'a';
    while letter <= b'z' {
        let mut c = 0;
        while c < KEYWORD_CLASSES.len() {
            let list = KEYWORD_CLASSES[c].0;
            let mut k = 0;
            while k < list.len() {
                let first = list[k].as_bytes()[0];
                assert!(first.is_ascii_lowercase(), "keywords are lower case");
                if first == letter {
                    out[n] = (list[k], c as u8);
                    n += 1;
                }
                k += 1;
            }
            c += 1;
        }
        letter += 1;
    }
    assert!(n == KEYWORD_COUNT);
    out
};

/// Per letter, where its keywords start in [`KEYWORDS_BY_LETTER`] (they end where the next
/// letter's keywords start).
const LETTER_START: [u8; 27] = {
    assert!(KEYWORD_COUNT < 256);
    let mut out = [0u8; 27];
    let mut letter = 0;
    let mut n = 0;
    while letter < 26 {
        out[letter] = n as u8;
        while n < KEYWORD_COUNT && KEYWORDS_BY_LETTER[n].0.as_bytes()[0] == b'a' + letter as u8 {
            n += 1;
        }
        letter += 1;
    }
    out[26] = n as u8;
    out
};

/// The text just before a candidate, on the same line, lower-cased, and the keyword classes
/// ("ssn", "routing", "phone" …) found in it. Built lazily, only for candidates whose detector
/// needs context, in one pass over the word starts of the window, so clean text never pays for
/// it and a candidate pays once whatever the number of keyword lists it consults.
pub(crate) struct Context {
    buf: [u8; Context::WINDOW],
    len: usize,
    flags: u32,
    /// Per class: one past the start of its last keyword in the window (0 when absent), so
    /// that of two classes the nearer keyword can decide (`ITIN 900-78-3823 routing_number=…`).
    nearest: [u8; KEYWORD_CLASSES.len()],
}

impl Context {
    /// How far back keywords are looked for.
    pub(crate) const WINDOW: usize = 40;

    pub(crate) fn before(t: &[u8], pos: usize) -> Context {
        let pos = pos.min(t.len());
        let mut start = pos.saturating_sub(Self::WINDOW);
        // Stay on the candidate's line: a keyword on the previous line says nothing.
        if let Some(nl) = t[start..pos].iter().rposition(|&b| b == b'\n') {
            start += nl + 1;
        }
        let mut buf = [0u8; Self::WINDOW];
        let src = &t[start..pos];
        for (dst, &b) in buf.iter_mut().zip(src) {
            *dst = b.to_ascii_lowercase();
        }
        let mut ctx = Context {
            buf,
            len: src.len(),
            flags: 0,
            nearest: [0; KEYWORD_CLASSES.len()],
        };
        ctx.scan_keywords();
        ctx
    }

    fn text(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Keywords must start a word (no letter before); keywords of four bytes or fewer ("ssn",
    /// "tel", "sin") must also end one, so that "using" does not count as "sin". A space in a
    /// keyword also matches `_`, `-` and `.`, the way field names spell it (`tax_file_number`,
    /// `social-security`).
    fn scan_keywords(&mut self) {
        let text = &self.buf[..self.len];
        for i in 0..text.len() {
            let c = text[i];
            if !c.is_ascii_lowercase() || (i > 0 && text[i - 1].is_ascii_alphabetic()) {
                continue;
            }
            let letter = usize::from(c - b'a');
            let range = usize::from(LETTER_START[letter])..usize::from(LETTER_START[letter + 1]);
            for &(kw, class) in &KEYWORDS_BY_LETTER[range] {
                let kw = kw.as_bytes();
                let found = text.len() - i >= kw.len()
                    && kw
                        .iter()
                        .zip(&text[i..])
                        .all(|(&a, &b)| a == b || (a == b' ' && matches!(b, b'_' | b'-' | b'.')))
                    && (kw.len() > 4 || !at(text, i + kw.len()).is_ascii_alphabetic());
                if found {
                    let class = usize::from(class);
                    self.flags |= KEYWORD_CLASSES[class].1;
                    // The window is at most 40 bytes: positions fit in a byte.
                    self.nearest[class] = (i + 1) as u8;
                }
            }
        }
    }

    /// Whether a keyword of class `flag` (see [`kw`]) precedes the candidate.
    #[inline]
    pub(crate) fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// How near the last keyword of class `flag` is to the candidate: larger is nearer, 0 when
    /// there is none.
    pub(crate) fn nearness(&self, flag: u32) -> u8 {
        KEYWORD_CLASSES
            .iter()
            .position(|&(_, f)| f == flag)
            .map_or(0, |class| self.nearest[class])
    }

    /// Of the `candidates` (validated kinds with the keyword class each needs), the one whose
    /// keyword is nearest; the first listed wins a tie.
    pub(crate) fn nearest_of<T>(
        &self,
        candidates: impl IntoIterator<Item = (T, u32)>,
    ) -> Option<T> {
        let mut best: Option<(T, u8)> = None;
        for (item, flag) in candidates {
            let n = self.nearness(flag);
            if n > 0 && best.as_ref().is_none_or(|(_, b)| n > *b) {
                best = Some((item, n));
            }
        }
        best.map(|(item, _)| item)
    }

    /// Whether the candidate is the value of a key that names an identifier, a counter or a
    /// measure (`trace_id=`, `"spanId": `, `bytes=`, `duration_ms:`): such values are never
    /// personal data even when a checksum happens to pass (one random number in ten is
    /// Luhn-valid).
    pub(crate) fn is_id_like_value(&self) -> bool {
        let text = self.text();
        // Skip the separator between key and value: spaces, quotes, `=`, `:`.
        let mut end = text.len();
        while end > 0
            && matches!(
                text[end - 1],
                b' ' | b'"' | b'\'' | b'=' | b':' | b'\t' | b'\\'
            )
        {
            end -= 1;
        }
        if end == text.len() {
            return false;
        }
        let start = run_start(text, end, 32, 0, |b| is_word(b) || b == b'.' || b == b'-');
        let key = &text[start..end];
        if key.is_empty() {
            return false;
        }
        const SUFFIXES: &[&[u8]] = &[
            b"id",
            b"ids",
            b"uuid",
            b"guid",
            b"trace",
            b"span",
            b"pid",
            b"port",
            b"seq",
            b"offset",
            b"count",
            b"size",
            b"bytes",
            b"len",
            b"length",
            b"ms",
            b"ns",
            b"us",
            b"sec",
            b"secs",
            b"seconds",
            b"duration",
            b"elapsed",
            b"latency",
            b"time",
            b"ts",
            b"timestamp",
            b"epoch",
            b"version",
            b"line",
            b"lineno",
            b"hash",
            b"checksum",
            b"nonce",
            b"total",
            b"tokens",
        ];
        SUFFIXES.iter().any(|s| key.ends_with(s))
    }
}

/// Whether the number at `p` is the status code or the size of a web server access log line
/// (`"GET /x?ssn=… HTTP/1.1" 404 430894449`): never personal data, whatever keyword the request
/// line before it holds.
pub(crate) fn access_log_number(t: &[u8], p: usize) -> bool {
    if before(t, p) != b' ' {
        return false;
    }
    let mut k = p - 1;
    // Skip the status code when the number is the size.
    if k >= 4 && t[k - 3..k].iter().all(u8::is_ascii_digit) && t[k - 4] == b' ' {
        k -= 4;
    }
    if before(t, k) != b'"' {
        return false;
    }
    let q = k - 1;
    let v = run_start(t, q, 4, 0, |b| b.is_ascii_digit() || b == b'.');
    v < q && v >= 5 && &t[v - 5..v] == b"HTTP/"
}

/// Skips separators and filler words after a keyword (`passport no.: `, `SWIFT/BIC code = `,
/// `CVV2 - `, `swift_code=`, `passport_number: `) and returns where the value starts, within
/// `max_gap` bytes.
pub(crate) fn skip_to_value(
    t: &[u8],
    mut i: usize,
    max_gap: usize,
    fillers: &[&str],
) -> Option<usize> {
    let limit = i.saturating_add(max_gap).min(t.len());
    loop {
        while i < limit
            && matches!(
                t[i],
                b' ' | b'\t'
                    | b':'
                    | b'='
                    | b'"'
                    | b'\''
                    | b'#'
                    | b'-'
                    | b'/'
                    | b'.'
                    | b'('
                    | b')'
                    | b'>'
                    | b'\\'
                    | b'_'
            )
        {
            i += 1;
        }
        if i >= limit {
            return None;
        }
        let word_end = run_end(t, i, 16, is_word);
        let word = &t[i..word_end];
        if fillers
            .iter()
            .any(|f| word.eq_ignore_ascii_case(f.as_bytes()))
        {
            i = word_end;
            continue;
        }
        return Some(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keywords_respect_word_boundaries() {
        let t = b"customer SSN: ";
        let c = Context::before(t, t.len());
        assert!(c.has(kw::SSN) && !c.has(kw::SIN));
        let t = b"using ";
        assert!(!Context::before(t, t.len()).has(kw::SIN));
        let t = b"phone\nvalue ";
        assert!(
            !Context::before(t, t.len()).has(kw::PHONE),
            "keywords on another line do not count"
        );
        let t = b"Twilio key ";
        assert!(Context::before(t, t.len()).has(kw::TWILIO));
    }

    #[test]
    fn field_name_spellings_match_spaced_keywords() {
        let t = b"tax_file_number=";
        assert!(Context::before(t, t.len()).has(kw::TFN));
        let t = b"\"social-security\": \"";
        assert!(Context::before(t, t.len()).has(kw::SSN));
        // Not across letters: "taxfile" is not "tax file".
        let t = b"taxfile ";
        assert!(!Context::before(t, t.len()).has(kw::TFN));
    }

    #[test]
    fn the_nearest_keyword_decides() {
        let t = b"ITIN 900-78-3823 routing_number=";
        let c = Context::before(t, t.len());
        assert!(c.has(kw::SSN) && c.has(kw::ABA));
        assert_eq!(
            c.nearest_of([("ssn", kw::SSN), ("aba", kw::ABA)]),
            Some("aba")
        );
        let t = b"routing 1, ssn ";
        let c = Context::before(t, t.len());
        assert_eq!(
            c.nearest_of([("ssn", kw::SSN), ("aba", kw::ABA)]),
            Some("ssn")
        );
        assert_eq!(c.nearest_of([("npi", kw::NPI)]), None);
    }

    #[test]
    fn id_like_keys() {
        for t in [
            &b"trace_id="[..],
            b"\"spanId\": \"",
            b"dd.trace_id:",
            b"bytes=",
            b"duration_ms=",
        ] {
            assert!(
                Context::before(t, t.len()).is_id_like_value(),
                "{}",
                String::from_utf8_lossy(t)
            );
        }
        for t in [&b"card="[..], b"paid with ", b"ssn: "] {
            assert!(
                !Context::before(t, t.len()).is_id_like_value(),
                "{}",
                String::from_utf8_lossy(t)
            );
        }
    }

    #[test]
    fn runs_are_bounded() {
        let t = b"abc123 x";
        assert_eq!(run_end(t, 0, 100, is_alnum), 6);
        assert_eq!(run_end(t, 0, 2, is_alnum), 2);
        assert_eq!(run_start(t, 6, 100, 0, is_alnum), 0);
        assert_eq!(run_start(t, 6, 100, 2, is_alnum), 2);
        assert_eq!(run_end(t, 100, 5, is_alnum), 8);
    }

    #[test]
    fn access_log_status_and_size() {
        let t = "\"GET /x?ssn=1 HTTP/1.1\" 404 237081048 \"-\"";
        assert!(access_log_number(t.as_bytes(), t.find("2370").unwrap()));
        assert!(access_log_number(t.as_bytes(), t.find("404").unwrap()));
        let t = b"\"POST /a HTTP/2\" 302 3582802";
        assert!(
            access_log_number(t, t.len() - 11),
            "status and size as one token"
        );
        assert!(!access_log_number(b"ssn 237081048", 4));
        assert!(!access_log_number(b"\"HTTP\" 237081048", 7));
    }

    #[test]
    fn fillers_are_skipped() {
        let t = b"passport no.: X1234567";
        assert_eq!(skip_to_value(t, 8, 24, &["no", "number"]), Some(14));
        assert_eq!(skip_to_value(t, 8, 3, &["no"]), None);
        let t = b"swift_code=UBSWCH33";
        assert_eq!(skip_to_value(t, 5, 24, &["code"]), Some(11));
    }
}
