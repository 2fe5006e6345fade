//! Opaque pagination cursors: the position (day partition, row key) of the last item of a page,
//! base64url-encoded. Positions do not move when rows are added, so paging stays stable while
//! data keeps arriving.

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
}

const VERSION: u8 = 1;
const LEN: usize = 2 + 4 + 8;

/// A decoded position: rows strictly before it (in newest-first order) come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) ymd: i32,
    pub(crate) key: i64,
}

impl Cursor {
    pub(crate) fn encode(self, kind: CursorKind) -> String {
        let mut bytes = Vec::with_capacity(LEN);
        bytes.push(kind.tag());
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.ymd.to_be_bytes());
        bytes.extend_from_slice(&self.key.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub(crate) fn decode(text: &str, kind: CursorKind) -> Result<Cursor> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(|_| StoreError::InvalidCursor)?;
        if bytes.len() != LEN || bytes[0] != kind.tag() || bytes[1] != VERSION {
            return Err(StoreError::InvalidCursor);
        }
        let ymd = i32::from_be_bytes(
            bytes[2..6]
                .try_into()
                .map_err(|_| StoreError::InvalidCursor)?,
        );
        let key = i64::from_be_bytes(
            bytes[6..14]
                .try_into()
                .map_err(|_| StoreError::InvalidCursor)?,
        );
        if Day::from_ymd(ymd).is_none() || key < 0 {
            return Err(StoreError::InvalidCursor);
        }
        Ok(Cursor { ymd, key })
    }

    /// Decodes an optional cursor.
    pub(crate) fn parse(text: Option<&str>, kind: CursorKind) -> Result<Option<Cursor>> {
        text.map(|t| Cursor::decode(t, kind)).transpose()
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
        let text = c.encode(CursorKind::Logs);
        assert_eq!(Cursor::decode(&text, CursorKind::Logs).unwrap(), c);
        assert!(matches!(
            Cursor::decode(&text, CursorKind::Traces),
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
                matches!(
                    Cursor::decode(bad, CursorKind::Logs),
                    Err(StoreError::InvalidCursor)
                ),
                "{bad}"
            );
        }
        let bad_day = Cursor {
            ymd: 20261399,
            key: 1,
        }
        .encode(CursorKind::Logs);
        assert!(Cursor::decode(&bad_day, CursorKind::Logs).is_err());
    }
}
