//! The candidate passes.
//!
//! Scanning is organised so that clean text costs as little as possible (see the crate docs for
//! the measured figures):
//!
//! 1. **Literal pass.** Two multi-literal searchers (Teddy SIMD via `aho-corasick`'s packed
//!    searcher, falling back to an Aho-Corasick automaton; their hits merged in position order)
//!    over the literal prefixes of secrets (`sk-`, `ghp_`, `AKIA`, `xox`, `-----BEGIN`, `eyJ`,
//!    `://` …) and over keywords (`assw` for password/passwd, `ecret`, `oken`, `uthorization` …
//!    in their lower and upper case forms, so the search stays case-sensitive and SIMD-friendly).
//!    Each hit is confirmed by its own anchored regex or hand-written parser applied at that
//!    position only: nothing ever runs a big regex set over the whole text.
//! 2. **Digit pass.** One walk over the digits of the text. A digit that starts a token begins a
//!    *number token*: digit groups joined by single separators (space, dash, dot, slash,
//!    parentheses), which is dispatched by digit count and grouping to the checksum validators
//!    (Luhn, mod-97, ABA, Verhoeff, mod-11 …), asking for context keywords only when the shape
//!    alone is ambiguous. A digit inside a word makes the whole word a candidate for the
//!    letter-and-digit identifiers (IBAN, NINO, DEA, codice fiscale, MBI, VIN, Bitcoin …); the
//!    walk then jumps past the word, so every byte is looked at a bounded number of times.
//! 3. **`@` pass** for e-mail addresses, expanded left and right with byte-class rules.
//! 4. **Network pass** (only when IPv6 or MAC detection is on): `:` and `-` candidates.
//! 5. **Custom rules**: each user regex, unanchored (the regex engine's own literal prefilter
//!    keeps rules with a literal fast).
//!
//! Passes 2-4 skip the regions already claimed by pass 1 (a digit inside a PEM block or a URL
//! password is not a phone number).

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input as AcInput, MatchKind};
use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};

use crate::config::UrlCredentialsMode;
use crate::detectors::secrets::{self, Action, RULES};
use crate::detectors::{
    Context, Hit, access_log_number, at, before, boundary_before, contact, financial, find_first,
    government, health, is_alnum, is_word, kw, network, run_end, run_start, skip_word,
};
use crate::kind::{Kind, KindSet};

mod literal_order;

/// One compiled multi-literal searcher.
enum Searcher {
    Packed(packed::Searcher),
    Ac(AhoCorasick),
}

/// The literals are searched by two Teddy searchers (the SIMD searcher inside `aho-corasick`),
/// whose hits are merged in position order: one for literals of four bytes or more, compared by
/// four-byte fingerprints, and one with the three-byte literals (`sk-`, `://`, `bic` …), whose
/// fingerprints can only be three bytes long. Which literal goes to which searcher, and in which
/// order, is tuned: see [`literal_order`].
const LITERAL_GROUPS: usize = 2;

/// The literal triggers, split into SIMD-searchable groups.
struct Literals {
    /// Each searcher with the global index (position in the trigger list) of each of its
    /// patterns.
    groups: Vec<(Searcher, Vec<usize>)>,
}

impl Literals {
    fn new(patterns: &[&'static str]) -> Option<Literals> {
        if patterns.is_empty() {
            return None;
        }
        let listed = [literal_order::FOUR_BYTE, literal_order::MIXED];
        let mut members: [Vec<usize>; LITERAL_GROUPS] = listed.map(|list| {
            list.iter()
                .filter_map(|lit| patterns.iter().position(|p| p == lit))
                .collect()
        });
        // A trigger that the tuned lists do not know is searched with the mixed group.
        let unlisted: Vec<usize> = (0..patterns.len())
            .filter(|i| !members.iter().any(|m| m.contains(i)))
            .collect();
        members[LITERAL_GROUPS - 1].extend(unlisted);
        let mut groups = Vec::new();
        for mut order in members.into_iter().filter(|m| !m.is_empty()) {
            restore_precedence(&mut order, patterns);
            let lits: Vec<&[u8]> = order.iter().map(|&i| patterns[i].as_bytes()).collect();
            let packed = packed::Config::new()
                .match_kind(packed::MatchKind::LeftmostFirst)
                // The mixed group has more than the 64 literals that `aho-corasick` allows by
                // default, for fear of crowded buckets: the tuned order is what keeps them apart.
                .heuristic_pattern_limits(false)
                .builder()
                .extend(lits.iter().copied())
                .build();
            let searcher = match packed {
                Some(p) => Searcher::Packed(p),
                // No SIMD on this CPU: a DFA-backed automaton is the next best thing.
                None => Searcher::Ac(
                    AhoCorasickBuilder::new()
                        .match_kind(MatchKind::LeftmostFirst)
                        .build(&lits)
                        .ok()?,
                ),
            };
            groups.push((searcher, order));
        }
        Some(Literals { groups })
    }

    /// Leftmost hit of group `g` at or after `from`: (global pattern index, start).
    #[inline]
    fn find(&self, g: usize, hay: &[u8], from: usize) -> Option<(usize, usize)> {
        if from >= hay.len() {
            return None;
        }
        let (searcher, index) = self.groups.get(g)?;
        let m = match searcher {
            Searcher::Packed(s) => s
                .find_in(hay, aho_corasick::Span::from(from..hay.len()))
                .map(|m| (m.pattern().as_usize(), m.start())),
            Searcher::Ac(a) => a
                .find(AcInput::new(hay).range(from..))
                .map(|m| (m.pattern().as_usize(), m.start())),
        };
        m.and_then(|(p, s)| Some((*index.get(p)?, s)))
    }
}

/// Orders a group so that, of two literals that can match at one position (one is a prefix of
/// the other, like `sk-` and `sk-ant-`), the trigger declared first is also listed first: that
/// is the one leftmost-first search reports, and the trigger list's order is the precedence.
/// Each swap removes an inversion, so this ends.
fn restore_precedence(order: &mut [usize], patterns: &[&str]) {
    let mut swapped = true;
    while swapped {
        swapped = false;
        for a in 0..order.len() {
            for b in a + 1..order.len() {
                let (x, y) = (patterns[order[a]], patterns[order[b]]);
                if order[a] > order[b] && (x.starts_with(y) || y.starts_with(x)) {
                    order.swap(a, b);
                    swapped = true;
                }
            }
        }
    }
}

/// Merges the hits of the literal groups in position order (ties: the literal listed first,
/// as leftmost-first semantics within one group would).
struct LiteralHits<'a> {
    lits: &'a Literals,
    hay: &'a [u8],
    /// Per group: `None` when it must be searched again, else its next hit (or no more hits).
    next: [Option<Option<(usize, usize)>>; LITERAL_GROUPS],
}

impl<'a> LiteralHits<'a> {
    fn new(lits: &'a Literals, hay: &'a [u8]) -> LiteralHits<'a> {
        LiteralHits {
            lits,
            hay,
            next: [None; LITERAL_GROUPS],
        }
    }

    /// The first hit at or after `pos`.
    fn next_from(&mut self, pos: usize) -> Option<(usize, usize)> {
        let mut best: Option<(usize, usize)> = None;
        for g in 0..self.lits.groups.len() {
            let stale = match self.next[g] {
                None => true,
                Some(Some((_, start))) => start < pos,
                Some(None) => false,
            };
            if stale {
                self.next[g] = Some(self.lits.find(g, self.hay, pos));
            }
            if let Some(Some((pat, start))) = self.next[g]
                && best.is_none_or(|(bp, bs)| (start, pat) < (bs, bp))
            {
                best = Some((pat, start));
            }
        }
        best
    }
}

/// A compiled custom rule.
pub(crate) struct CustomMatcher {
    pub regex: Regex,
    pub kind: Kind,
    pub validator: Option<crate::validators::Validator>,
    pub group: usize,
    pub detector: crate::finding::Detector,
}

/// Everything the passes need, compiled once per configuration.
pub(crate) struct Scanner {
    pub enabled: KindSet,
    pub url_mode: UrlCredentialsMode,
    literals: Option<Literals>,
    /// Action of each literal, by pattern index.
    actions: Vec<Action>,
    /// The secret rules, by index in [`RULES`] (only enabled ones).
    rule_regex: Vec<Option<RuleMatcher>>,
    digits: bool,
    email: bool,
    /// Whether the network pass runs (IPv6 or MAC addresses on).
    network: bool,
    pub custom: Vec<CustomMatcher>,
}

/// A secret rule's anchored regex and the length of its shortest match.
struct RuleMatcher {
    regex: Regex,
    min_len: usize,
}

impl RuleMatcher {
    fn new(pattern: &str) -> Option<RuleMatcher> {
        let regex = compile_ascii(pattern).ok()?;
        let min_len = syntax::parse_with(pattern, &ascii_syntax())
            .ok()?
            .properties()
            .minimum_len()?;
        Some(RuleMatcher { regex, min_len })
    }
}

fn ascii_syntax() -> syntax::Config {
    syntax::Config::new().unicode(false).utf8(false)
}

/// Compiles an ASCII pattern for anchored byte matching.
pub(crate) fn compile_ascii(pattern: &str) -> Result<Regex, Box<regex_automata::meta::BuildError>> {
    Regex::builder()
        .syntax(ascii_syntax())
        .build(pattern)
        .map_err(Box::new)
}

impl Scanner {
    pub(crate) fn new(
        enabled: KindSet,
        url_mode: UrlCredentialsMode,
        custom: Vec<CustomMatcher>,
    ) -> Scanner {
        let mut patterns = Vec::new();
        let mut actions = Vec::new();
        for trigger in secrets::triggers() {
            if trigger.kinds.iter().any(|k| enabled.contains(k)) {
                patterns.push(trigger.literal);
                actions.push(trigger.action);
            }
        }
        let rule_regex = RULES
            .iter()
            .map(|r| {
                if enabled.contains(&r.kind) {
                    // The built-in patterns are tested; a failure here is a bug caught by tests.
                    RuleMatcher::new(r.pattern)
                } else {
                    None
                }
            })
            .collect();
        let digits = enabled.iter().any(|k| {
            matches!(
                k.category(),
                crate::kind::Category::Financial
                    | crate::kind::Category::Government
                    | crate::kind::Category::Health
            ) || matches!(k, Kind::Phone | Kind::Ipv4 | Kind::TwilioKey)
        });
        let network = enabled.contains(&Kind::Ipv6) || enabled.contains(&Kind::MacAddress);
        Scanner {
            enabled,
            url_mode,
            literals: Literals::new(&patterns),
            actions,
            rule_regex,
            digits,
            email: enabled.contains(&Kind::Email),
            network,
            custom,
        }
    }

    #[inline]
    pub(crate) fn on(&self, kind: &Kind) -> bool {
        self.enabled.contains(kind)
    }

    /// Runs every pass over `text`, appending raw hits (possibly overlapping) to `out`.
    pub(crate) fn scan(&self, text: &str, out: &mut Vec<Hit>) {
        let t = text.as_bytes();
        let first = out.len();
        self.literal_pass(t, out);
        // The literal pass resumes inside values it claimed (so that `token=ghp_…` is reported
        // as a GitHub token), so its hits are only nearly sorted.
        out[first..].sort_by_key(|h| h.start);
        let claimed_end = out.len();
        let mut extra = Vec::new();
        {
            let claimed = Claimed::new(&out[first..claimed_end]);
            if self.digits {
                self.digit_pass(t, &claimed, &mut extra);
            }
            if self.email {
                self.email_pass(t, &claimed, &mut extra);
            }
            if self.network {
                network::pass(self, t, &claimed, &mut extra);
            }
        }
        out.append(&mut extra);
        for rule in &self.custom {
            custom_pass(rule, text, out);
        }
    }

    fn literal_pass(&self, t: &[u8], out: &mut Vec<Hit>) {
        let Some(lits) = &self.literals else { return };
        let mut hits = LiteralHits::new(lits, t);
        let mut pos = 0;
        while let Some((pat, h)) = hits.next_from(pos) {
            let Some(action) = self.actions.get(pat) else {
                break;
            };
            let (hit, resume) = match *action {
                Action::Rule(i) => (self.secret_rule(i, t, h), None),
                Action::Keyword => secrets::keyword(self, t, h),
                Action::Jwt => (secrets::jwt(t, h), None),
                Action::Pem => (secrets::pem(t, h), None),
                Action::Url => secrets::url(self, t, h),
                Action::Mailchimp => (secrets::mailchimp(t, h), None),
                Action::Telegram => (secrets::telegram(t, h), None),
                Action::Swift => (financial::swift(t, h), None),
                Action::Cvv => (financial::cvv(t, h), None),
                Action::Passport => (government::passport(t, h), None),
                Action::Mrn => (health::mrn(t, h), None),
            };
            let mut next = h + 1;
            if let Some(hit) = hit
                && self.on(&hit.kind)
            {
                next = next.max(hit.end);
                out.push(hit);
            }
            if let Some(r) = resume {
                next = r.max(h + 1);
            }
            pos = next;
        }
    }

    fn secret_rule(&self, i: usize, t: &[u8], h: usize) -> Option<Hit> {
        let rule = RULES.get(i)?;
        let matcher = self.rule_regex.get(i)?.as_ref()?;
        if rule.word_boundary && !boundary_before(t, h) {
            return None;
        }
        // Every rule matches printable ASCII only (tested): a candidate cut short by a space or
        // the end of the line (`ward_server::api: …` for `ward_`) is rejected without the regex,
        // whose setup costs more than the whole test.
        if run_end(t, h, matcher.min_len, |b| b.is_ascii_graphic()) - h < matcher.min_len {
            return None;
        }
        let input = Input::new(t).range(h..).anchored(Anchored::Yes);
        let mut slots = [None; 4];
        matcher.regex.search_slots(&input, &mut slots)?;
        let (m_start, m_end) = (slots[0]?.get(), slots[1]?.get());
        if (rule.tail)(at(t, m_end)) {
            return None;
        }
        if let Some(check) = rule.check
            && !check(&t[m_start..m_end])
        {
            return None;
        }
        let (s, e) = match (slots[2], slots[3]) {
            (Some(s), Some(e)) => (s.get(), e.get()),
            _ => (m_start, m_end),
        };
        Some(Hit::new(rule.kind.clone(), s, e, rule.id))
    }

    fn digit_pass(&self, t: &[u8], claimed: &Claimed<'_>, out: &mut Vec<Hit>) {
        let mut cursor = claimed.cursor();
        let mut i = 0;
        while let Some(p) = next_digit(t, i) {
            if let Some(end) = cursor.inside(p) {
                i = end;
                continue;
            }
            if p > 0 && is_word(t[p - 1]) {
                // A digit inside a word: classify the word once, then jump past it.
                let s = run_start(t, p, 64, i, is_alnum);
                let e = skip_word(t, p, false);
                if (s == 0 || !is_word(t[s - 1])) && e - s <= 128 {
                    if let Some(hit) = self.classify_word(t, s, e) {
                        i = hit.end.max(e);
                        out.push(hit);
                        continue;
                    }
                    // An IBAN-looking start that failed validation: its digit groups are
                    // account digits, not phone or card numbers of their own.
                    if let Some(end) = financial::iban_groups_end(t, s, e) {
                        i = end;
                        continue;
                    }
                }
                i = skip_word(t, e, true).max(p + 1);
                continue;
            }
            // A digit after `x.` or `x-` continues a dotted or hyphenated identifier
            // (`v1.2.3`, UUIDs, `build-2024…`): never a standalone number.
            let prev = before(t, p);
            if (prev == b'.' || prev == b'-') && p >= 2 && is_alnum(t[p - 2]) {
                i = run_end(t, p, usize::MAX, |b| is_alnum(b) || b == b'.' || b == b'-').max(p + 1);
                continue;
            }
            if let Some(hit) = government::hetu_at(t, p).filter(|h| self.on(&h.kind)) {
                i = hit.end;
                out.push(hit);
                continue;
            }
            if let Some(end) = lone_short_number(t, p) {
                i = end;
                continue;
            }
            let tok = NumTok::parse(t, p);
            let after = at(t, tok.end);
            if is_word(after) {
                // Digits glued to letters: `10ms`, `2024-05-01T12`, `4bf92f…`, or an identifier
                // that starts with a digit (`12345678Z`, `0x…`, `1BvBM…`, `1EG4-TE5-MK73`).
                let mut from = tok.end;
                if tok.ng == 1 && !tok.plus && !tok.paren_first {
                    let e = skip_word(t, p, false);
                    if e - p <= 128
                        && let Some(hit) = self.classify_word(t, p, e)
                    {
                        i = hit.end.max(e);
                        out.push(hit);
                        continue;
                    }
                    // `[tok.end, e)` is letters and digits: do not step over it twice.
                    from = e;
                }
                i = skip_word(t, from, true).max(p + 1);
                continue;
            }
            if after == b'-'
                && self.on(&Kind::EsNif)
                && let Some(hit) = government::nif_dashed(t, &tok)
            {
                i = hit.end;
                out.push(hit);
                continue;
            }
            if (after == b'.' || after == b'-') && is_alnum(at(t, tok.end + 1)) {
                // `123-45-6789-abc`, `10.0.0.1.nip.io`: part of a larger identifier.
                i = run_end(t, tok.end, usize::MAX, |b| {
                    is_alnum(b) || b == b'.' || b == b'-'
                })
                .max(p + 1);
                continue;
            }
            // A number token must not overlap a claimed region either (e.g. a phone number
            // running into a URL password).
            if cursor.overlaps(tok.start, tok.end) || access_log_number(t, tok.start) {
                i = tok.end.max(p + 1);
                continue;
            }
            let mut ctx = LazyContext::new(t, tok.start);
            if let Some(hit) = self.classify_number(t, &tok, &mut ctx) {
                i = hit.end.max(tok.end);
                out.push(hit);
                continue;
            }
            if tok.ng > 1
                && !tok.overflow
                && let Some(hit) = self.classify_sub_tokens(t, &tok)
            {
                i = hit.end.max(p + 1);
                out.push(hit);
                continue;
            }
            i = tok.end.max(p + 1);
        }
    }

    /// When a long space-separated run matched nothing (`on 4111 1111 1111 1111 12 items`), the
    /// valuable part may be a sub-run: try the sub-runs that start and end at space separators,
    /// longest first.
    fn classify_sub_tokens(&self, t: &[u8], tok: &NumTok) -> Option<Hit> {
        let ng = tok.ng;
        let is_cut = |k: usize| k == 0 || k == ng || tok.seps[k - 1] == b' ';
        if !(1..ng).any(is_cut) {
            return None;
        }
        for len in (1..ng).rev() {
            for a in 0..=ng - len {
                let b = a + len;
                if !is_cut(a) || !is_cut(b) {
                    continue;
                }
                let sub = tok.sub(a, b);
                if sub.n < 7 {
                    continue;
                }
                let mut ctx = LazyContext::new(t, sub.start);
                if let Some(hit) = self.classify_number(t, &sub, &mut ctx) {
                    return Some(hit);
                }
            }
        }
        None
    }

    /// Number-token dispatch, by shape. The order encodes priorities: international phone
    /// numbers and track data first (unambiguous markers), then checksummed shapes, then
    /// context-dependent bare runs, then national phone formats.
    fn classify_number(&self, t: &[u8], tok: &NumTok, ctx: &mut LazyContext<'_>) -> Option<Hit> {
        let span = |kind: Kind, det: &'static str| Some(Hit::new(kind, tok.start, tok.end, det));
        // Most tokens are counts, ports, sizes and parts of timestamps: one group of fewer than
        // eight digits is none of the shapes below (the shortest is an 8-digit TFN).
        if tok.ng == 1 && tok.n < 8 && !tok.plus && !tok.parens {
            return None;
        }
        if tok.plus || tok.intl_00() {
            return if self.on(&Kind::Phone) && contact::phone_international(tok) {
                span(Kind::Phone, "phone.e164")
            } else {
                None
            };
        }
        if let Some(hit) = financial::track_data(t, tok).filter(|h| self.on(&h.kind)) {
            return Some(hit);
        }
        if tok.parens {
            return if self.on(&Kind::Phone) && contact::phone_national(tok, false) {
                span(Kind::Phone, "phone.national")
            } else {
                None
            };
        }
        let sep = tok.sep();
        let shape = tok.groups();
        let d = tok.digits();
        let n = tok.n;

        // Dotted runs are versions, decimals, dates and IP addresses, plus one phone style.
        if sep == Sep::Uniform(b'.') {
            if shape.len() == 4 && network::ipv4_groups(tok) {
                return if self.on(&Kind::Ipv4) && !network::version_before(t, tok.start) {
                    span(Kind::Ipv4, "ipv4")
                } else {
                    None
                };
            }
            return if shape == [3, 3, 4]
                && self.on(&Kind::Phone)
                && contact::phone_national(tok, false)
            {
                span(Kind::Phone, "phone.nanp")
            } else {
                None
            };
        }
        let spaced_or_dashed = matches!(sep, Sep::Uniform(b' ') | Sep::Uniform(b'-'));

        // Payment cards: 13-19 digits, unseparated or in the printed groupings.
        if (13..=19).contains(&n) && self.on(&Kind::CreditCard) && financial::card_layout(tok, sep)
        {
            let bare = sep == Sep::None;
            if financial::card_number(d) && !(bare && ctx.get().is_id_like_value()) {
                return span(Kind::CreditCard, "card.luhn");
            }
        }

        match (shape, spaced_or_dashed) {
            ([3, 2, 4], true) => {
                let (a, g, s) = (&d[..3], &d[3..5], &d[5..]);
                if self.on(&Kind::UsItin) && crate::validators::us_itin(a, g, s) {
                    return span(Kind::UsItin, "us_itin");
                }
                if self.on(&Kind::UsSsn) && crate::validators::us_ssn(a, g, s) {
                    return span(Kind::UsSsn, "us_ssn");
                }
                return None;
            }
            ([3, 3, 3], true) => {
                // Checksums first: the context is only needed when both pass.
                let sin = self.on(&Kind::CaSin) && crate::validators::ca_sin(d);
                let tfn = self.on(&Kind::AuTfn) && crate::validators::au_tfn(d);
                if sin && !(tfn && ctx.get().has(kw::TFN)) {
                    return span(Kind::CaSin, "ca_sin");
                }
                if tfn {
                    return span(Kind::AuTfn, "au_tfn");
                }
            }
            ([3, 3, 4], true) => {
                if self.on(&Kind::UkNhs) && crate::validators::nhs(d) && ctx.get().has(kw::NHS) {
                    return span(Kind::UkNhs, "uk_nhs");
                }
                if self.on(&Kind::Phone) && contact::phone_national(tok, false) {
                    return span(Kind::Phone, "phone.national");
                }
                if self.on(&Kind::UkNhs) && crate::validators::nhs(d) {
                    return span(Kind::UkNhs, "uk_nhs");
                }
                return None;
            }
            ([4, 4, 4], true) if self.on(&Kind::InAadhaar) && crate::validators::aadhaar(d) => {
                return span(Kind::InAadhaar, "in_aadhaar");
            }
            ([2, 3, 3, 3], true) if self.on(&Kind::DeTaxId) && crate::validators::de_tax_id(d) => {
                return span(Kind::DeTaxId, "de_tax_id");
            }
            ([6, 4] | [8, 4], _) if matches!(sep, Sep::Uniform(b'-')) => {
                let ten = &d[n - 10..];
                if self.on(&Kind::SePersonnummer) && crate::validators::se_personnummer(ten) {
                    return span(Kind::SePersonnummer, "se_personnummer");
                }
            }
            ([1, 2, 2, 2, 3, 3, 2], _)
                if sep == Sep::Uniform(b' ')
                    && self.on(&Kind::FrNir)
                    && crate::validators::fr_nir(d) =>
            {
                return span(Kind::FrNir, "fr_nir");
            }
            ([2, 2, 2], _) if sep == Sep::Uniform(b' ') => {
                if let Some(hit) = government::nino_spaced(t, tok).filter(|h| self.on(&h.kind)) {
                    return Some(hit);
                }
            }
            _ => {}
        }

        if sep == Sep::None
            && let Some(hit) = self.classify_bare(tok, d, ctx)
        {
            return Some(hit);
        }
        if sep != Sep::None && self.on(&Kind::Phone) && contact::phone_national(tok, false) {
            return span(Kind::Phone, "phone.national");
        }
        None
    }

    /// An unseparated digit run. Most lengths are ambiguous (an epoch timestamp is ten digits,
    /// like a phone or NHS number), so only keywords in front decide, except for the shapes that
    /// are specific enough on their own (15-digit NIR). Checksums are evaluated before the
    /// context: nine random runs in ten fail them, and then the keyword window is never built.
    fn classify_bare(&self, tok: &NumTok, d: &[u8], ctx: &mut LazyContext<'_>) -> Option<Hit> {
        use crate::validators as v;
        let span = |kind: Kind, det: &'static str| Some(Hit::new(kind, tok.start, tok.end, det));
        let n = d.len();
        if n == 15 && self.on(&Kind::FrNir) && v::fr_nir(d) {
            return span(Kind::FrNir, "fr_nir");
        }
        if !(8..=12).contains(&n) {
            return None;
        }
        let on = |k: &Kind| self.on(k);
        // Each length is shared by several identifiers: every one whose checksum passes is a
        // candidate, and the nearest keyword in front picks one (`ITIN 900-78-3823
        // routing_number=080523617` is a routing number).
        let candidates: &[(bool, (Kind, &'static str), u32)] = match n {
            9 => {
                let (a, g, s) = (&d[..3], &d[3..5], &d[5..]);
                &[
                    (
                        on(&Kind::UsItin) && v::us_itin(a, g, s),
                        (Kind::UsItin, "us_itin"),
                        kw::SSN,
                    ),
                    (
                        on(&Kind::UsSsn) && v::us_ssn(a, g, s),
                        (Kind::UsSsn, "us_ssn"),
                        kw::SSN,
                    ),
                    (
                        on(&Kind::AbaRouting) && v::aba(d),
                        (Kind::AbaRouting, "aba_routing"),
                        kw::ABA,
                    ),
                    (
                        on(&Kind::CaSin) && v::ca_sin(d),
                        (Kind::CaSin, "ca_sin"),
                        kw::SIN,
                    ),
                    (
                        on(&Kind::AuTfn) && v::au_tfn(d),
                        (Kind::AuTfn, "au_tfn"),
                        kw::TFN,
                    ),
                    (
                        on(&Kind::NlBsn) && v::nl_bsn(d),
                        (Kind::NlBsn, "nl_bsn"),
                        kw::BSN,
                    ),
                ]
            }
            8 => &[(
                on(&Kind::AuTfn) && v::au_tfn(d),
                (Kind::AuTfn, "au_tfn"),
                kw::TFN,
            )],
            10 => &[
                (
                    on(&Kind::UkNhs) && v::nhs(d),
                    (Kind::UkNhs, "uk_nhs"),
                    kw::NHS,
                ),
                (
                    on(&Kind::UsNpi) && v::us_npi(d),
                    (Kind::UsNpi, "us_npi"),
                    kw::NPI,
                ),
                (
                    on(&Kind::SePersonnummer) && v::se_personnummer(d),
                    (Kind::SePersonnummer, "se_personnummer"),
                    kw::PNR,
                ),
            ],
            11 => &[
                (
                    on(&Kind::PlPesel) && v::pl_pesel(d),
                    (Kind::PlPesel, "pl_pesel"),
                    kw::PESEL,
                ),
                (
                    on(&Kind::DeTaxId) && v::de_tax_id(d),
                    (Kind::DeTaxId, "de_tax_id"),
                    kw::DE_TAX,
                ),
            ],
            12 => &[
                (
                    on(&Kind::InAadhaar) && v::aadhaar(d),
                    (Kind::InAadhaar, "in_aadhaar"),
                    kw::AADHAAR,
                ),
                (
                    on(&Kind::SePersonnummer) && v::se_personnummer(&d[2..]),
                    (Kind::SePersonnummer, "se_personnummer"),
                    kw::PNR,
                ),
            ],
            _ => &[],
        };
        // Checksums first: nine random runs in ten fail them, and then no context is built.
        if candidates.iter().any(|c| c.0)
            && let Some((kind, det)) = ctx.get().nearest_of(
                candidates
                    .iter()
                    .filter(|c| c.0)
                    .map(|(_, item, flag)| (item.clone(), *flag)),
            )
        {
            return span(kind, det);
        }
        if on(&Kind::Phone) && contact::phone_national(tok, true) && ctx.get().has(kw::PHONE) {
            return span(Kind::Phone, "phone.national");
        }
        None
    }

    /// A word (maximal ASCII alphanumeric run, at a word boundary) containing a digit.
    fn classify_word(&self, t: &[u8], s: usize, e: usize) -> Option<Hit> {
        let w = t.get(s..e)?;
        let len = w.len();
        let on = |k: &Kind| self.on(k);
        let first = w[0];
        if first == b'B'
            && before(t, s) == b'%'
            && on(&Kind::CardTrackData)
            && let Some(hit) = financial::track1(t, s)
        {
            return Some(hit);
        }
        if first.is_ascii_uppercase()
            && len >= 4
            && on(&Kind::Iban)
            && let Some(hit) = financial::iban_at(t, s, e)
        {
            return Some(hit);
        }
        let after = at(t, e);
        let word_end_ok = !is_word(after);
        let hit = |kind: Kind, det: &'static str| Some(Hit::new(kind, s, e, det));
        match len {
            9 if word_end_ok => {
                if on(&Kind::UkNino) && crate::validators::uk_nino(w) {
                    return hit(Kind::UkNino, "uk_nino");
                }
                if on(&Kind::UsDea)
                    && crate::validators::us_dea(w)
                    && Context::before(t, s).has(kw::DEA)
                {
                    return hit(Kind::UsDea, "us_dea");
                }
                if on(&Kind::EsNie) && crate::validators::es_nie(w) {
                    return hit(Kind::EsNie, "es_nie");
                }
                if on(&Kind::EsNif) && crate::validators::es_nif(w) {
                    return hit(Kind::EsNif, "es_nif");
                }
            }
            11 if word_end_ok => {
                if on(&Kind::UsMbi) && crate::validators::us_mbi(w) {
                    return hit(Kind::UsMbi, "us_mbi");
                }
                if on(&Kind::FiHetu) && crate::validators::fi_hetu(w) {
                    return hit(Kind::FiHetu, "fi_hetu");
                }
            }
            4 if after == b'-' && on(&Kind::UsMbi) => {
                if let Some(hit) = health::mbi_dashed(t, s) {
                    return Some(hit);
                }
            }
            16 if word_end_ok
                && on(&Kind::ItCodiceFiscale)
                && crate::validators::codice_fiscale(w) =>
            {
                return hit(Kind::ItCodiceFiscale, "it_codice_fiscale");
            }
            17 if word_end_ok && on(&Kind::Vin) && crate::validators::vin(w) => {
                return hit(Kind::Vin, "vin");
            }
            34 if word_end_ok && on(&Kind::TwilioKey) => {
                if let Some(det) = secrets::twilio_word(t, s, w) {
                    return hit(Kind::TwilioKey, det);
                }
            }
            42 if word_end_ok && on(&Kind::EthereumAddress) && financial::ethereum(w) => {
                return hit(Kind::EthereumAddress, "ethereum");
            }
            _ => {}
        }
        if word_end_ok
            && on(&Kind::BitcoinAddress)
            && let Some(det) = financial::bitcoin(w)
        {
            return hit(Kind::BitcoinAddress, det);
        }
        None
    }

    fn email_pass(&self, t: &[u8], claimed: &Claimed<'_>, out: &mut Vec<Hit>) {
        let mut cursor = claimed.cursor();
        let mut i = 0;
        while let Some(a) = find_first(t, i, |b| b == b'@') {
            // An `@` inside (or right after) a claimed region is a URL's userinfo separator.
            // (The cursor moves forward only: ask about `a - 1` first.)
            if (a > 0 && cursor.inside(a - 1).is_some()) || cursor.inside(a).is_some() {
                i = a + 1;
                continue;
            }
            match contact::email_at(t, a) {
                Some(hit) => {
                    i = hit.end.max(a + 1);
                    out.push(hit);
                }
                None => i = a + 1,
            }
        }
    }
}

fn custom_pass(rule: &CustomMatcher, text: &str, out: &mut Vec<Hit>) {
    let mut push = |start: usize, end: usize| {
        let Some(matched) = text.get(start..end) else {
            return;
        };
        if matched.is_empty() || rule.validator.is_some_and(|v| !v.check(matched)) {
            return;
        }
        out.push(Hit {
            kind: rule.kind.clone(),
            start,
            end,
            detector: rule.detector.clone(),
        });
    };
    // Bounded so that a pathological rule cannot turn one line into millions of findings.
    const MAX_MATCHES: usize = 10_000;
    if rule.group == 0 {
        for m in rule.regex.find_iter(text).take(MAX_MATCHES) {
            push(m.start(), m.end());
        }
    } else {
        for caps in rule.regex.captures_iter(text).take(MAX_MATCHES) {
            if let Some(span) = caps.get_group(rule.group) {
                push(span.start, span.end);
            }
        }
    }
}

/// The end of the digit run at `p` when it is a whole number token of fewer than eight digits:
/// no `+` or `(` before it, and after it nothing that [`NumTok::parse`] would read on (a
/// separator or parenthesis followed by a digit) or that the digit pass treats apart (a word
/// byte, `-`, `.`). Such a token matches nothing (see [`Scanner::classify_number`]), and it is
/// most of the numbers in logs (counts, ports, sizes, parts of timestamps): recognising it
/// without building the token saves the digit pass much of its work.
#[inline]
fn lone_short_number(t: &[u8], p: usize) -> Option<usize> {
    if matches!(before(t, p), b'+' | b'(') {
        return None;
    }
    let end = run_end(t, p, 8, |b| b.is_ascii_digit());
    let digit_at = |i: usize| at(t, i).is_ascii_digit();
    // The cases in which `NumTok::parse` reads on, and the ones the digit pass treats apart.
    let lone = end - p < 8
        && match at(t, end) {
            b' ' => !(digit_at(end + 1) || (at(t, end + 1) == b'(' && digit_at(end + 2))),
            b'/' | b'(' => !digit_at(end + 1),
            b'-' | b'.' => false,
            after => !is_word(after),
        };
    lone.then_some(end)
}

/// Finds the next ASCII digit at or after `from`.
#[inline]
fn next_digit(t: &[u8], from: usize) -> Option<usize> {
    find_first(t, from, |b| b.is_ascii_digit())
}

/// Regions claimed by the literal pass, sorted by start.
pub(crate) struct Claimed<'h> {
    hits: &'h [Hit],
}

impl<'h> Claimed<'h> {
    fn new(hits: &'h [Hit]) -> Claimed<'h> {
        Claimed { hits }
    }

    pub(crate) fn cursor(&self) -> ClaimedCursor<'h> {
        ClaimedCursor {
            hits: self.hits,
            idx: 0,
        }
    }
}

/// A forward-only view of the claimed regions (positions are queried in increasing order).
pub(crate) struct ClaimedCursor<'h> {
    hits: &'h [Hit],
    idx: usize,
}

impl ClaimedCursor<'_> {
    /// If `p` is inside a claimed region, its end.
    #[inline]
    pub(crate) fn inside(&mut self, p: usize) -> Option<usize> {
        while let Some(h) = self.hits.get(self.idx) {
            if h.end <= p {
                self.idx += 1;
            } else {
                break;
            }
        }
        // Regions may nest or overlap (a keyword value and the token inside it): look at the
        // few that start before `p`.
        self.hits[self.idx.min(self.hits.len())..]
            .iter()
            .take_while(|h| h.start <= p)
            .filter(|h| h.end > p)
            .map(|h| h.end)
            .max()
    }

    /// Whether `[s, e)` intersects a claimed region.
    pub(crate) fn overlaps(&mut self, s: usize, e: usize) -> bool {
        self.inside(s).is_some()
            || self.hits[self.idx.min(self.hits.len())..]
                .iter()
                .take_while(|h| h.start < e)
                .any(|h| h.end > s)
    }
}

/// Computes the keyword context of a candidate on first use only.
pub(crate) struct LazyContext<'t> {
    t: &'t [u8],
    pos: usize,
    ctx: Option<Context>,
}

impl<'t> LazyContext<'t> {
    fn new(t: &'t [u8], pos: usize) -> LazyContext<'t> {
        LazyContext { t, pos, ctx: None }
    }

    fn get(&mut self) -> &Context {
        self.ctx
            .get_or_insert_with(|| Context::before(self.t, self.pos))
    }
}

/// How the groups of a number token are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sep {
    /// A single group.
    None,
    /// Every separator is this byte.
    Uniform(u8),
    /// Different separators.
    Mixed,
}

/// Maximum digits and groups kept; longer runs are flagged `overflow` and match nothing.
const MAX_DIGITS: usize = 24;
const MAX_GROUPS: usize = 12;

/// A number token: digit groups joined by single separators, e.g. `4111 1111 1111 1111`,
/// `+44 (0) 20 7946 0958`, `123-45-6789`, `10.0.0.1`.
#[derive(Clone)]
pub(crate) struct NumTok {
    /// First byte (a `+` or `(` when present).
    pub start: usize,
    /// One past the last digit (or closing parenthesis).
    pub end: usize,
    digits: [u8; MAX_DIGITS],
    pub n: usize,
    groups: [u8; MAX_GROUPS],
    pub ng: usize,
    /// Byte offsets of each group's first digit.
    gstart: [usize; MAX_GROUPS],
    /// Byte offsets one past each group's last digit.
    gend: [usize; MAX_GROUPS],
    /// Separator after group `i` (`b' '`, `b'-'`, `b'.'`, `b'/'`, or `b'('`/`b')'` for
    /// parenthesised groups).
    pub seps: [u8; MAX_GROUPS],
    pub plus: bool,
    pub paren_first: bool,
    pub parens: bool,
    pub overflow: bool,
}

impl NumTok {
    /// Parses the number token whose first digit is at `p`.
    pub(crate) fn parse(t: &[u8], p: usize) -> NumTok {
        let mut tok = NumTok {
            start: p,
            end: p,
            digits: [0; MAX_DIGITS],
            n: 0,
            groups: [0; MAX_GROUPS],
            ng: 0,
            gstart: [0; MAX_GROUPS],
            gend: [0; MAX_GROUPS],
            seps: [0; MAX_GROUPS],
            plus: false,
            paren_first: false,
            parens: false,
            overflow: false,
        };
        let mut open_paren = false;
        let b1 = before(t, p);
        if b1 == b'+' && !is_word(before(t, p - 1)) {
            tok.plus = true;
            tok.start = p - 1;
        } else if b1 == b'(' {
            open_paren = true;
            tok.parens = true;
            tok.start = p - 1;
            if before(t, p - 1) == b'+' {
                tok.plus = true;
                tok.start = p - 2;
            }
        }
        let mut i = p;
        loop {
            let gs = i;
            // Counted in a local (the token lives on the stack and the compiler would store
            // `tok.n` on every digit otherwise).
            let mut n = tok.n;
            while i < t.len() && t[i].is_ascii_digit() {
                if n < MAX_DIGITS {
                    tok.digits[n] = t[i];
                    n += 1;
                } else {
                    tok.overflow = true;
                }
                i += 1;
            }
            tok.n = n;
            if tok.ng < MAX_GROUPS {
                tok.groups[tok.ng] = (i - gs).min(255) as u8;
                tok.gstart[tok.ng] = gs;
                tok.gend[tok.ng] = i;
                tok.ng += 1;
            } else {
                tok.overflow = true;
            }
            tok.end = i;
            // Separator: one byte, or a parenthesis with an optional space/dash around it.
            let c = at(t, i);
            let sep_idx = tok.ng.saturating_sub(1);
            if open_paren && c != b')' {
                // Only a short group can sit in parentheses (`(415) `, `(0) `): otherwise the
                // parenthesis is punctuation around the number (`(4111 1111 1111 1111)`).
                open_paren = false;
                tok.parens = false;
                if tok.ng == 1 {
                    tok.start = p;
                    tok.plus = false;
                } else {
                    // `… (12345…`: end the token before the parenthesis.
                    let len = usize::from(tok.groups[tok.ng - 1]);
                    tok.n = tok.n.saturating_sub(len);
                    tok.ng -= 1;
                    tok.end = tok.gend[tok.ng - 1];
                    break;
                }
            }
            if open_paren && c == b')' {
                open_paren = false;
                if tok.ng == 1 && !tok.plus && tok.start + 1 == gs {
                    tok.paren_first = true;
                }
                let mut j = i + 1;
                tok.end = j;
                if matches!(at(t, j), b' ' | b'-') {
                    j += 1;
                }
                if at(t, j).is_ascii_digit() {
                    tok.seps[sep_idx] = b')';
                    i = j;
                    continue;
                }
                if tok.ng == 1 {
                    // `(4242424242424242)`: parentheses around the whole number are
                    // punctuation, not an area code.
                    tok.start = p;
                    tok.end = i;
                    tok.plus = false;
                    tok.parens = false;
                    tok.paren_first = false;
                }
                break;
            }
            if matches!(c, b' ' | b'-' | b'.' | b'/') && at(t, i + 1).is_ascii_digit() {
                tok.seps[sep_idx] = c;
                i += 1;
                continue;
            }
            if !open_paren
                && !tok.parens
                && matches!(c, b' ' | b'-')
                && at(t, i + 1) == b'('
                && at(t, i + 2).is_ascii_digit()
            {
                open_paren = true;
                tok.parens = true;
                tok.seps[sep_idx] = b'(';
                i += 2;
                continue;
            }
            if !open_paren && !tok.parens && c == b'(' && at(t, i + 1).is_ascii_digit() {
                open_paren = true;
                tok.parens = true;
                tok.seps[sep_idx] = b'(';
                i += 1;
                continue;
            }
            break;
        }
        tok
    }

    pub(crate) fn digits(&self) -> &[u8] {
        &self.digits[..self.n]
    }

    pub(crate) fn groups(&self) -> &[u8] {
        &self.groups[..self.ng.min(MAX_GROUPS)]
    }

    pub(crate) fn sep(&self) -> Sep {
        if self.ng <= 1 {
            return Sep::None;
        }
        let first = self.seps[0];
        if self.seps[1..self.ng - 1].iter().all(|&s| s == first) {
            Sep::Uniform(first)
        } else {
            Sep::Mixed
        }
    }

    /// `00` international call prefix written with separators (`0044 20 7946 0958`).
    pub(crate) fn intl_00(&self) -> bool {
        self.ng >= 2
            && self.groups[0] == 4
            && self.digits[0] == b'0'
            && self.digits[1] == b'0'
            && self.digits[2] != b'0'
    }

    /// The sub-token made of groups `a..b` (no prefix markers).
    pub(crate) fn sub(&self, a: usize, b: usize) -> NumTok {
        let mut out = self.clone();
        out.plus = self.plus && a == 0;
        out.paren_first = false;
        out.parens = false;
        out.start = if a == 0 { self.start } else { self.gstart[a] };
        out.end = self.gend[b - 1];
        let skip: usize = self.groups[..a]
            .iter()
            .map(|&g| g as usize)
            .sum::<usize>()
            .min(MAX_DIGITS);
        let take: usize = self.groups[a..b].iter().map(|&g| g as usize).sum();
        out.n = take.min(MAX_DIGITS.saturating_sub(skip));
        out.digits = [0; MAX_DIGITS];
        out.digits[..out.n].copy_from_slice(&self.digits[skip..skip + out.n]);
        out.ng = b - a;
        out.groups = [0; MAX_GROUPS];
        out.groups[..out.ng].copy_from_slice(&self.groups[a..b]);
        out.gstart = [0; MAX_GROUPS];
        out.gstart[..out.ng].copy_from_slice(&self.gstart[a..b]);
        out.gend = [0; MAX_GROUPS];
        out.gend[..out.ng].copy_from_slice(&self.gend[a..b]);
        out.seps = [0; MAX_GROUPS];
        out.seps[..out.ng].copy_from_slice(&self.seps[a..b]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_tokens_parse_groups_and_separators() {
        let t = b"x 4111 1111 1111 1111 y";
        let tok = NumTok::parse(t, 2);
        assert_eq!(tok.groups(), &[4, 4, 4, 4]);
        assert_eq!(tok.sep(), Sep::Uniform(b' '));
        assert_eq!((tok.start, tok.end), (2, 21));

        let t = b"call +44 (0) 20 7946 0958.";
        let tok = NumTok::parse(t, 6);
        assert!(tok.plus && tok.parens);
        assert_eq!(tok.digits(), b"4402079460958");
        assert_eq!(&t[tok.start..tok.end], b"+44 (0) 20 7946 0958");

        let t = b"(415) 555-2671";
        let tok = NumTok::parse(t, 1);
        assert!(tok.paren_first);
        assert_eq!(tok.groups(), &[3, 3, 4]);
        assert_eq!((tok.start, tok.end), (0, 14));

        let t = b"10.0.0.1:8080";
        let tok = NumTok::parse(t, 0);
        assert_eq!(tok.groups(), &[2, 1, 1, 1]);
        assert_eq!(tok.end, 8);
    }

    #[test]
    fn sub_tokens_keep_offsets() {
        let t = b"4111 1111 1111 1111 12";
        let tok = NumTok::parse(t, 0);
        let sub = tok.sub(0, 4);
        assert_eq!((sub.start, sub.end), (0, 19));
        assert_eq!(sub.digits(), b"4111111111111111");
    }

    #[test]
    fn literal_order_lists_every_trigger_once() {
        let mut triggers: Vec<&str> = secrets::triggers().iter().map(|t| t.literal).collect();
        let mut listed: Vec<&str> = [literal_order::FOUR_BYTE, literal_order::MIXED].concat();
        triggers.sort_unstable();
        listed.sort_unstable();
        assert_eq!(triggers, listed);
        assert!(literal_order::FOUR_BYTE.iter().all(|l| l.len() >= 4));
        // `aho-corasick`'s packed searchers take at most 128 patterns.
        assert!(literal_order::FOUR_BYTE.len() <= 128 && literal_order::MIXED.len() <= 128);
    }

    #[test]
    fn precedence_survives_the_tuned_order() {
        let patterns = ["sk-ant-", "ghp_", "sk-"];
        let mut order = vec![2, 1, 0];
        restore_precedence(&mut order, &patterns);
        assert_eq!(order, [0, 1, 2]);
        // The built-in triggers: the longer `sk-…` prefixes win over `sk-` whatever the groups.
        let lits = Literals::new(
            &secrets::triggers()
                .iter()
                .map(|t| t.literal)
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let t = b"key sk-lf-0 sk-ant-0 sk-or-v1-0 sk-0";
        let mut hits = LiteralHits::new(&lits, t);
        let mut pos = 0;
        let mut found = Vec::new();
        while let Some((pat, h)) = hits.next_from(pos) {
            found.push(secrets::triggers()[pat].literal);
            pos = h + 1;
        }
        assert_eq!(found, ["sk-lf-", "sk-ant-", "sk-or-v1-", "sk-"]);
    }

    #[test]
    fn next_digit_skips_prose() {
        let t = b"no digits in this rather long sentence at all, but 7 here";
        assert_eq!(next_digit(t, 0), Some(51));
        assert_eq!(next_digit(t, 52), None);
        assert_eq!(next_digit(b"", 0), None);
    }
}
