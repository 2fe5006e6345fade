//! IP and MAC addresses. IPv4 is recognised by the number-token dispatch; IPv6 and MAC addresses
//! by their own pass over `:` and `-`, which only runs when one of them is enabled (they are off
//! in the `default` profile).

use std::net::Ipv6Addr;
use std::str::FromStr;

use super::{
    Hit, at, before, boundary_after, boundary_before, find_first, is_word, run_end, run_start,
};
use crate::kind::Kind;
use crate::scan::{Claimed, NumTok, Scanner};

/// Words that make a dotted quad right after them a version or an OID rather than an address
/// (`rv` is the Gecko revision in browser user agents: `rv:1.9.0.20`).
const NOT_IP_KEYWORDS: &[&[u8]] = &[
    b"version",
    b"ver",
    b"v",
    b"build",
    b"release",
    b"oid",
    b"firmware",
    b"fw",
    b"rv",
];

/// Whether the dotted quad at `p` directly follows a version keyword (`version 1.2.3.4`,
/// `rv:1.9.0.20`, `build=10.0.19045.1`). Only adjacent words count: a keyword anywhere in the
/// window before (`/deploy/build, … invalid value 10.1.2.3`, a `v` inside a random token)
/// says nothing about the address.
pub(crate) fn version_before(t: &[u8], p: usize) -> bool {
    let we = run_start(t, p, 3, 0, |b| {
        matches!(b, b' ' | b':' | b'=' | b'"' | b'\'' | b'(')
    });
    let ws = run_start(t, we, 9, 0, |b| b.is_ascii_alphabetic());
    if ws == we || is_word(before(t, ws)) {
        return false;
    }
    let word = &t[ws..we];
    NOT_IP_KEYWORDS.iter().any(|k| word.eq_ignore_ascii_case(k))
}

/// Four dot-separated groups, each 0-255 without leading zeros.
pub(crate) fn ipv4_groups(tok: &NumTok) -> bool {
    let g = tok.groups();
    if g.len() != 4 || g.iter().any(|&x| !(1..=3).contains(&x)) {
        return false;
    }
    let d = tok.digits();
    let mut off = 0;
    for &len in g {
        let part = &d[off..off + usize::from(len)];
        if part.len() > 1 && part[0] == b'0' {
            return false;
        }
        let v = part.iter().fold(0u32, |a, &b| a * 10 + u32::from(b - b'0'));
        if v > 255 {
            return false;
        }
        off += usize::from(len);
    }
    true
}

/// A MAC address (`00:1a:2b:3c:4d:5e` or with dashes) starting at `s`.
fn mac_at(t: &[u8], s: usize) -> bool {
    let Some(w) = t.get(s..s + 17) else {
        return false;
    };
    let sep = w[2];
    if sep != b':' && sep != b'-' {
        return false;
    }
    let shape = (0..17).all(|i| {
        if i % 3 == 2 {
            w[i] == sep
        } else {
            w[i].is_ascii_hexdigit()
        }
    });
    if !shape || !boundary_before(t, s) || !boundary_after(t, s + 17) {
        return false;
    }
    // A seventh group means EUI-64 or an IPv6 address, not a MAC.
    if at(t, s + 17) == sep && at(t, s + 18).is_ascii_hexdigit() {
        return false;
    }
    // All-zero and broadcast addresses identify nobody.
    !(w.iter().all(|&b| b == b'0' || b == sep)
        || w.iter().all(|&b| b == b'f' || b == b'F' || b == sep))
}

fn v6_char(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// An IPv6 address containing the `:` at `c`: the maximal run of hex digits, colons and dots
/// around it, parsed by the standard library, with guards against `a::b` paths and times.
fn ipv6_around(t: &[u8], c: usize) -> Option<(usize, usize)> {
    let s = run_start(t, c, 45, 0, v6_char);
    let mut e = run_end(t, c, 45, v6_char);
    if !boundary_before(t, s) || (s > 0 && t[s - 1] == b':') {
        return None;
    }
    while e > c && matches!(t[e - 1], b'.') {
        e -= 1;
    }
    if !boundary_after(t, e) {
        return None;
    }
    let cand = std::str::from_utf8(&t[s..e]).ok()?;
    let colons = cand.bytes().filter(|&b| b == b':').count();
    if colons < 2 || !cand.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    Ipv6Addr::from_str(cand).ok()?;
    let linklocal = cand.len() >= 4 && cand[..4].eq_ignore_ascii_case("fe80");
    (colons >= 3 || linklocal || cand == "::1").then_some((s, e))
}

/// The network pass: `:` and `-` candidates for MAC and IPv6 addresses.
pub(crate) fn pass(sc: &Scanner, t: &[u8], claimed: &Claimed<'_>, out: &mut Vec<Hit>) {
    let mut cursor = claimed.cursor();
    let mac_on = sc.on(&Kind::MacAddress);
    let v6_on = sc.on(&Kind::Ipv6);
    let mut i = 0;
    while let Some(c) = find_first(t, i, |b| (b == b':') | (b == b'-')) {
        if let Some(end) = cursor.inside(c) {
            i = end.max(c + 1);
            continue;
        }
        if mac_on && c >= 2 && mac_at(t, c - 2) {
            out.push(Hit::new(Kind::MacAddress, c - 2, c + 15, "mac"));
            i = c + 15;
            continue;
        }
        if v6_on && t[c] == b':' {
            if let Some((s, e)) = ipv6_around(t, c) {
                out.push(Hit::new(Kind::Ipv6, s, e, "ipv6"));
                i = e;
                continue;
            }
            // Skip the rest of this run: its other colons give the same answer.
            i = run_end(t, c, 45, v6_char).max(c + 1);
            continue;
        }
        i = c + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> Option<&str> {
        let c = s.find(':')?;
        ipv6_around(s.as_bytes(), c).map(|(a, b)| &s[a..b])
    }

    #[test]
    fn ipv6_candidates() {
        assert_eq!(
            v6("from 2001:db8::8a2e:370:7334 ok"),
            Some("2001:db8::8a2e:370:7334")
        );
        assert_eq!(v6("[fe80::1]:8080"), Some("fe80::1"));
        assert_eq!(v6("::1"), Some("::1"));
        assert_eq!(v6("::ffff:10.0.0.1"), Some("::ffff:10.0.0.1"));
        assert_eq!(v6("at 12:34:56"), None);
        assert_eq!(v6("std::fmt"), None);
        assert_eq!(v6("cafe::beef"), None);
        assert_eq!(v6("a1::b2"), None);
    }

    #[test]
    fn versions_only_right_before_the_quad() {
        let at_quad = |s: &str| version_before(s.as_bytes(), s.rfind(' ').map_or(0, |i| i + 1));
        assert!(version_before(b"(X11; rv:1.9.0.20)", 9));
        assert!(at_quad("firmware 10.2.1.5"));
        assert!(at_quad("build= 10.0.19045.1"));
        // A keyword further away, or inside a token, is not about this address.
        assert!(!at_quad(
            "deploy/build, YN753680D, invalid value 10.188.253.122"
        ));
        assert!(!at_quad("kST75v9Epj0) - peer 163.29.60.14"));
        assert!(!at_quad("registry.acme.io/v2/; client 12.234.76.58"));
        assert!(
            !version_before(b"srv:10.0.0.1", 4),
            "a keyword must be a whole word"
        );
    }

    #[test]
    fn mac_addresses() {
        assert!(mac_at(b"00:1a:2b:3c:4d:5e", 0));
        assert!(mac_at(b"00-1A-2B-3C-4D-5E", 0));
        assert!(!mac_at(b"00:1a:2b:3c:4d:5e:6f:70", 0));
        assert!(!mac_at(b"00:1a-2b:3c:4d:5e", 0));
        assert!(!mac_at(b"00:00:00:00:00:00", 0));
        assert!(!mac_at(b"ff:ff:ff:ff:ff:ff", 0));
    }
}
