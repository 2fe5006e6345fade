//! Time expressions people type: durations (`90s`, `15m`, `1h`, `7d`, `250ms`) and instants
//! (RFC 3339, Unix seconds/milliseconds/nanoseconds, or a duration meaning "that long ago").

use chrono::DateTime;

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Current time in Unix nanoseconds.
pub fn now_unix_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Parses a duration: a number followed by `ns`, `us`, `ms`, `s`, `m`, `h`, `d` or `w`;
/// several may be chained (`1h30m`). Returns nanoseconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let err = || format!("invalid duration {text:?}: use e.g. 250ms, 30s, 15m, 1h30m, 7d");
    let s = text.trim();
    if s.is_empty() {
        return Err(err());
    }
    let mut total: i64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        if digits == 0 {
            return Err(err());
        }
        let number: f64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        let unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86400e9,
            "w" => 604800e9,
            _ => return Err(err()),
        };
        rest = &rest[unit_len..];
        let nanos = number * unit;
        if !nanos.is_finite() || nanos > i64::MAX as f64 {
            return Err(err());
        }
        total = total.checked_add(nanos as i64).ok_or_else(err)?;
    }
    Ok(total)
}

/// Formats a duration in the largest unit that divides it exactly (`400d`, `36h`, `2s`,
/// `250ms`), the inverse of [`parse_duration`] for such values.
pub fn format_duration(nanos: i64) -> String {
    const UNITS: [(i64, &str); 6] = [
        (86_400 * NANOS_PER_SEC, "d"),
        (3_600 * NANOS_PER_SEC, "h"),
        (60 * NANOS_PER_SEC, "m"),
        (NANOS_PER_SEC, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
    ];
    for (size, unit) in UNITS {
        if nanos != 0 && nanos % size == 0 {
            return format!("{}{unit}", nanos / size);
        }
    }
    format!("{nanos}ns")
}

/// Parses an instant into Unix nanoseconds. Accepts RFC 3339 (`2026-11-22T10:00:00Z`), an
/// integer of Unix seconds, milliseconds or nanoseconds (told apart by magnitude), `now`, or a
/// duration meaning "that long before `now_nanos`" (`1h`).
pub fn parse_instant(text: &str, now_nanos: i64) -> Result<i64, String> {
    let s = text.trim();
    if s == "now" {
        return Ok(now_nanos);
    }
    if let Ok(n) = s.parse::<i64>() {
        return Ok(scale_epoch_integer(n));
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return dt
            .timestamp_nanos_opt()
            .ok_or_else(|| format!("time {s:?} is out of range"));
    }
    match parse_duration(s) {
        Ok(ago) => Ok(now_nanos.saturating_sub(ago)),
        Err(_) => Err(format!(
            "invalid time {s:?}: use RFC 3339 (2026-11-22T10:00:00Z), Unix seconds, or a duration ago (15m, 1h)"
        )),
    }
}

/// Interprets a Unix timestamp of unknown unit by its magnitude: seconds, milliseconds,
/// microseconds or nanoseconds. Used for JSON log `time` fields.
pub fn scale_epoch_number(n: f64) -> i64 {
    let abs = n.abs();
    let nanos = if abs < 1e11 {
        n * 1e9
    } else if abs < 1e14 {
        n * 1e6
    } else if abs < 1e17 {
        n * 1e3
    } else {
        n
    };
    if nanos.is_finite() {
        nanos.clamp(i64::MIN as f64, i64::MAX as f64) as i64
    } else {
        0
    }
}

/// Like [`scale_epoch_number`] for integers, exactly (no floating-point rounding).
pub fn scale_epoch_integer(n: i64) -> i64 {
    let abs = n.unsigned_abs();
    let factor = if abs < 100_000_000_000 {
        1_000_000_000
    } else if abs < 100_000_000_000_000 {
        1_000_000
    } else if abs < 100_000_000_000_000_000 {
        1_000
    } else {
        1
    };
    n.saturating_mul(factor)
}

/// Formats Unix nanoseconds as RFC 3339 with nanoseconds, UTC.
pub fn format_rfc3339(nanos: i64) -> String {
    DateTime::from_timestamp_nanos(nanos).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_format_in_their_largest_exact_unit() {
        for (text, back) in [
            ("400d", "400d"),
            ("36h", "36h"),
            ("90s", "90s"),
            ("1h30m", "90m"),
            ("250ms", "250ms"),
        ] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), back);
        }
        assert_eq!(format_duration(0), "0ns");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("250ms"), Ok(250_000_000));
        assert_eq!(parse_duration("1h30m"), Ok(5400 * NANOS_PER_SEC));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("99999999999999999w").is_err());
    }

    #[test]
    fn instants_parse() {
        let now = 1_800_000_000 * NANOS_PER_SEC;
        assert_eq!(parse_instant("now", now), Ok(now));
        assert_eq!(parse_instant("1h", now), Ok(now - 3600 * NANOS_PER_SEC));
        assert_eq!(
            parse_instant("1700000000", now),
            Ok(1_700_000_000 * NANOS_PER_SEC)
        );
        assert_eq!(
            parse_instant("1700000000123", now),
            Ok(1_700_000_000_123_000_000)
        );
        assert_eq!(
            parse_instant("2023-11-14T22:13:20Z", now),
            Ok(1_700_000_000 * NANOS_PER_SEC)
        );
        assert!(parse_instant("yesterday-ish", now).is_err());
    }

    #[test]
    fn rfc3339_formats() {
        assert_eq!(
            format_rfc3339(1_700_000_000 * NANOS_PER_SEC),
            "2023-11-14T22:13:20Z"
        );
    }
}
