//! Opaque pagination cursors: the position of the last item of a page, base64url-encoded.
//! Positions do not move when data is added, so paging stays stable while data keeps arriving.
//! Traces page by (day partition, span row key); logs by (time, block key, index in block).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Result, StoreError};
use crate::schema::Day;

/// What a cursor pages through; a cursor of one kind is refused by the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CursorKind {
    Logs,
    Traces,
}

impl CursorKind {
    fn tag(self) -> u8 {
        match self {
            CursorKind::Logs => b'L',
            CursorKind::Traces => b'T',
        }
    }

    /// Format version of this kind's cursors. Logs are at 2 since they are stored in blocks.
    fn version(self) -> u8 {
        match self {
            CursorKind::Logs => 2,
            CursorKind::Traces => 1,
        }
    }
}

/// `tag, version, payload`, base64url.
fn pack(kind: CursorKind, payload: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(2 + payload.len());
    bytes.push(kind.tag());
    bytes.push(kind.version());
    bytes.extend_from_slice(payload);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The payload of a cursor of `kind` whose payload is `N` bytes.
fn unpack<const N: usize>(text: &str, kind: CursorKind) -> Result<[u8; N]> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text.as_bytes())
        .map_err(|_| StoreError::InvalidCursor)?;
    if bytes.len() != 2 + N || bytes[0] != kind.tag() || bytes[1] != kind.version() {
        return Err(StoreError::InvalidCursor);
    }
    bytes[2..].try_into().map_err(|_| StoreError::InvalidCursor)
}

fn be_i64(bytes: &[u8]) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    i64::from_be_bytes(b)
}

/// A decoded span position: rows strictly before it (in newest-first order) come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) ymd: i32,
    pub(crate) key: i64,
}

impl Cursor {
    pub(crate) fn encode(self) -> String {
        let mut payload = [0u8; 12];
        payload[..4].copy_from_slice(&self.ymd.to_be_bytes());
        payload[4..].copy_from_slice(&self.key.to_be_bytes());
        pack(CursorKind::Traces, &payload)
    }

    pub(crate) fn decode(text: &str) -> Result<Cursor> {
        let payload: [u8; 12] = unpack(text, CursorKind::Traces)?;
        let mut ymd = [0u8; 4];
        ymd.copy_from_slice(&payload[..4]);
        let ymd = i32::from_be_bytes(ymd);
        let key = be_i64(&payload[4..]);
        if Day::from_ymd(ymd).is_none() || key < 0 {
            return Err(StoreError::InvalidCursor);
        }
        Ok(Cursor { ymd, key })
    }

    /// Decodes an optional cursor.
    pub(crate) fn parse(text: Option<&str>) -> Result<Option<Cursor>> {
        text.map(Cursor::decode).transpose()
    }
}

/// Where a log record sits in newest-first order: records are ordered by time, then by block
/// key, then by index in the block (i.e. by arrival among records of one nanosecond). The
/// derived ordering is that order, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct LogPosition {
    pub(crate) time: i64,
    pub(crate) block: i64,
    pub(crate) index: u32,
}

impl LogPosition {
    pub(crate) fn encode(self) -> String {
        let mut payload = [0u8; 20];
        payload[..8].copy_from_slice(&self.time.to_be_bytes());
        payload[8..16].copy_from_slice(&self.block.to_be_bytes());
        payload[16..].copy_from_slice(&self.index.to_be_bytes());
        pack(CursorKind::Logs, &payload)
    }

    pub(crate) fn decode(text: &str) -> Result<LogPosition> {
        let payload: [u8; 20] = unpack(text, CursorKind::Logs)?;
        let mut index = [0u8; 4];
        index.copy_from_slice(&payload[16..]);
        let position = LogPosition {
            time: be_i64(&payload[..8]),
            block: be_i64(&payload[8..16]),
            index: u32::from_be_bytes(index),
        };
        if position.block < 0 {
            return Err(StoreError::InvalidCursor);
        }
        Ok(position)
    }

    /// Decodes an optional cursor.
    pub(crate) fn parse(text: Option<&str>) -> Result<Option<LogPosition>> {
        text.map(LogPosition::decode).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor {
            ymd: 20260102,
            key: 12345 << 16 | 7,
        };
        let text = c.encode();
        assert_eq!(Cursor::decode(&text).unwrap(), c);
        let p = LogPosition {
            time: -5,
            block: 77 << 16,
            index: 1023,
        };
        let log_text = p.encode();
        assert_eq!(LogPosition::decode(&log_text).unwrap(), p);
        // A cursor of one kind is refused by the other.
        assert!(matches!(
            Cursor::decode(&log_text),
            Err(StoreError::InvalidCursor)
        ));
        assert!(matches!(
            LogPosition::decode(&text),
            Err(StoreError::InvalidCursor)
        ));
        for bad in [
            "",
            "!!!",
            "AAAA",
            &text[1..],
            &format!("{text}A"),
            "TAEBNEwBAAAAAAAAAAA",
        ] {
            assert!(
                matches!(Cursor::decode(bad), Err(StoreError::InvalidCursor)),
                "{bad}"
            );
            assert!(
                matches!(LogPosition::decode(bad), Err(StoreError::InvalidCursor)),
                "{bad}"
            );
        }
        let bad_day = Cursor {
            ymd: 20261399,
            key: 1,
        }
        .encode();
        assert!(Cursor::decode(&bad_day).is_err());
        let bad_block = LogPosition {
            time: 1,
            block: -1,
            index: 0,
        }
        .encode();
        assert!(LogPosition::decode(&bad_block).is_err());
    }
}
