//! `Content-Encoding` handling with a hard output limit.

use std::borrow::Cow;
use std::io::{ErrorKind, Read};

use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};

/// Why a whole request body could not be decoded. The server answers these with 4xx.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// `Content-Encoding` names an encoding Ward does not support.
    #[error("unsupported Content-Encoding {0:?}: use gzip, deflate or identity")]
    UnsupportedEncoding(String),
    /// The body, or what it decompresses to, is larger than allowed.
    #[error("body is larger than the limit of {limit} bytes (after decompression)")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body is not valid gzip.
    #[error("invalid gzip body: {0}")]
    Gzip(String),
    /// The body is not valid deflate (zlib or raw).
    #[error("invalid deflate body: {0}")]
    Deflate(String),
    /// The body is not a valid protobuf message of the expected type.
    #[error("invalid protobuf body: {0}")]
    Protobuf(String),
    /// The body is not valid OTLP/JSON.
    #[error("invalid JSON body: {0}")]
    Json(String),
    /// `Content-Type` is neither protobuf nor JSON.
    #[error("unsupported Content-Type {0:?}: use application/x-protobuf or application/json")]
    UnsupportedContentType(String),
}

impl DecodeError {
    /// Snake-case label of the error, for metrics (`reason="bad_gzip"`) and API error codes.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::UnsupportedEncoding(_) => "unsupported_encoding",
            DecodeError::TooLarge { .. } => "too_large",
            DecodeError::Gzip(_) => "bad_gzip",
            DecodeError::Deflate(_) => "bad_deflate",
            DecodeError::Protobuf(_) => "bad_protobuf",
            DecodeError::Json(_) => "bad_json",
            DecodeError::UnsupportedContentType(_) => "unsupported_content_type",
        }
    }
}

/// Size of the stack buffer decompressed data is read through.
const CHUNK: usize = 32 * 1024;

/// One `Content-Encoding` coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Gzip,
    Deflate,
}

/// Decodes a request body according to `Content-Encoding` (`None`, `identity`, `gzip`,
/// `x-gzip`, `deflate`; case-insensitive; a comma-separated list is undone last coding first),
/// refusing to produce more than `limit` bytes.
///
/// A decompression bomb is stopped as soon as the output passes `limit`: the output buffer never
/// grows beyond `limit` bytes, and the decoder reads through a fixed 32 KiB buffer. An identity
/// body is returned borrowed. `deflate` accepts both the zlib format (RFC 1950, what HTTP means)
/// and raw deflate (RFC 1951, what some clients send).
pub fn decompress<'a>(
    body: &'a [u8],
    content_encoding: Option<&str>,
    limit: usize,
) -> Result<Cow<'a, [u8]>, DecodeError> {
    let codings = parse_codings(content_encoding.unwrap_or(""))?;
    let mut current: Cow<'a, [u8]> = Cow::Borrowed(body);
    if current.len() > limit && codings.is_empty() {
        return Err(DecodeError::TooLarge { limit });
    }
    for coding in codings.into_iter().rev() {
        if current.is_empty() {
            // An empty body stays empty whatever it claims to be encoded with.
            break;
        }
        let decoded = match coding {
            Coding::Gzip => read_limited(MultiGzDecoder::new(&current[..]), limit, current.len())
                .map_err(|e| e.into_decode_error(DecodeError::Gzip))?,
            Coding::Deflate => {
                let input = &current[..];
                let result = if looks_like_zlib(input) {
                    read_limited(ZlibDecoder::new(input), limit, input.len())
                } else {
                    read_limited(DeflateDecoder::new(input), limit, input.len())
                };
                result.map_err(|e| e.into_decode_error(DecodeError::Deflate))?
            }
        };
        current = Cow::Owned(decoded);
    }
    Ok(current)
}

/// The codings of a `Content-Encoding` value, in the order they were applied.
fn parse_codings(header: &str) -> Result<Vec<Coding>, DecodeError> {
    let mut codings = Vec::new();
    for part in header.split(',') {
        let part = part.trim();
        if part.is_empty() || part.eq_ignore_ascii_case("identity") {
            continue;
        }
        if part.eq_ignore_ascii_case("gzip") || part.eq_ignore_ascii_case("x-gzip") {
            codings.push(Coding::Gzip);
        } else if part.eq_ignore_ascii_case("deflate") {
            codings.push(Coding::Deflate);
        } else {
            return Err(DecodeError::UnsupportedEncoding(crate::snippet(part)));
        }
    }
    Ok(codings)
}

/// Whether `data` starts with a zlib header (RFC 1950): method 8, a window of at most 32 KiB,
/// and a header checksum that is a multiple of 31.
fn looks_like_zlib(data: &[u8]) -> bool {
    match data {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

/// Why [`read_limited`] stopped.
enum ReadError {
    TooLarge(usize),
    Corrupt(String),
}

impl ReadError {
    fn into_decode_error(self, corrupt: fn(String) -> DecodeError) -> DecodeError {
        match self {
            ReadError::TooLarge(limit) => DecodeError::TooLarge { limit },
            ReadError::Corrupt(message) => corrupt(message),
        }
    }
}

/// Output size up to which the output buffer grows by doubling; past it, the buffer grows
/// straight to the limit, so that growing never holds two large buffers at once.
const DOUBLING_UP_TO: usize = 256 * 1024;

/// Reads `reader` to the end into a vector whose capacity never exceeds `limit`, failing as
/// soon as more than `limit` bytes come out.
///
/// Memory: the output buffer doubles up to [`DOUBLING_UP_TO`], then is reallocated once to
/// `limit`; the peak is therefore at most `limit + DOUBLING_UP_TO` plus the decoder's state,
/// however much the input would expand to. (Reserving `limit` up front would avoid even that,
/// at the price of a large allocation for every small body.)
fn read_limited<R: Read>(
    mut reader: R,
    limit: usize,
    input_len: usize,
) -> Result<Vec<u8>, ReadError> {
    // Compressed telemetry typically expands 4-10x.
    let initial = input_len
        .saturating_mul(4)
        .clamp(CHUNK, DOUBLING_UP_TO)
        .min(limit);
    let mut out: Vec<u8> = Vec::with_capacity(initial);
    let mut buf = [0u8; CHUNK];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadError::Corrupt(e.to_string())),
        };
        let chunk = buf.get(..n).unwrap_or(&[]);
        let new_len = out.len().saturating_add(chunk.len());
        if new_len > limit {
            return Err(ReadError::TooLarge(limit));
        }
        if new_len > out.capacity() {
            let target = if new_len <= DOUBLING_UP_TO {
                out.capacity()
                    .saturating_mul(2)
                    .clamp(new_len, DOUBLING_UP_TO)
            } else {
                limit
            }
            .min(limit);
            out.reserve_exact(target - out.len());
        }
        out.extend_from_slice(chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn identity_is_borrowed_and_limited() {
        let body = b"hello";
        for enc in [None, Some("identity"), Some(""), Some(" IDENTITY ")] {
            let out = decompress(body, enc, 5).unwrap();
            assert!(matches!(out, Cow::Borrowed(_)));
            assert_eq!(&out[..], body);
        }
        let err = decompress(body, None, 4).unwrap_err();
        assert!(matches!(err, DecodeError::TooLarge { limit: 4 }));
        assert_eq!(err.reason(), "too_large");
    }

    #[test]
    fn gzip_and_deflate_round_trip() {
        let data = b"{\"resourceLogs\":[]}".repeat(100);
        for enc in ["gzip", "x-gzip", "GZIP"] {
            assert_eq!(
                &decompress(&gzip(&data), Some(enc), 1 << 20).unwrap()[..],
                &data[..]
            );
        }
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&data).unwrap();
        assert_eq!(
            &decompress(&z.finish().unwrap(), Some("deflate"), 1 << 20).unwrap()[..],
            &data[..]
        );
        let mut d = DeflateEncoder::new(Vec::new(), Compression::default());
        d.write_all(&data).unwrap();
        assert_eq!(
            &decompress(&d.finish().unwrap(), Some("deflate"), 1 << 20).unwrap()[..],
            &data[..]
        );
        // Concatenated gzip members are one stream.
        let mut two = gzip(b"abc");
        two.extend(gzip(b"def"));
        assert_eq!(&decompress(&two, Some("gzip"), 100).unwrap()[..], b"abcdef");
        // Stacked codings are undone in reverse order.
        let twice = gzip(&gzip(b"xyz"));
        assert_eq!(
            &decompress(&twice, Some("gzip, gzip"), 100).unwrap()[..],
            b"xyz"
        );
    }

    #[test]
    fn exact_limit_is_allowed_one_more_byte_is_not() {
        let data = vec![7u8; 1000];
        assert_eq!(
            decompress(&gzip(&data), Some("gzip"), 1000).unwrap().len(),
            1000
        );
        let err = decompress(&gzip(&data), Some("gzip"), 999).unwrap_err();
        assert!(matches!(err, DecodeError::TooLarge { limit: 999 }), "{err}");
    }

    #[test]
    fn corrupt_and_unknown_encodings_are_errors() {
        let err = decompress(b"definitely not gzip", Some("gzip"), 1000).unwrap_err();
        assert_eq!(err.reason(), "bad_gzip");
        let mut truncated = gzip(&[1u8; 5000]);
        truncated.truncate(truncated.len() / 2);
        assert_eq!(
            decompress(&truncated, Some("gzip"), 10_000)
                .unwrap_err()
                .reason(),
            "bad_gzip"
        );
        let err = decompress(b"\xff\xff\xff\xff", Some("deflate"), 1000).unwrap_err();
        assert_eq!(err.reason(), "bad_deflate");
        let err = decompress(b"x", Some("br"), 1000).unwrap_err();
        assert_eq!(err.reason(), "unsupported_encoding");
        assert_eq!(
            err.to_string(),
            "unsupported Content-Encoding \"br\": use gzip, deflate or identity"
        );
    }

    #[test]
    fn empty_gzip_body_is_empty() {
        assert_eq!(decompress(b"", Some("gzip"), 10).unwrap().len(), 0);
    }

    #[test]
    fn bomb_output_buffer_never_exceeds_limit() {
        // 10 MiB of zeros compress to about 10 KiB.
        let bomb = gzip(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 64 * 1024);
        let limit = 1 << 20;
        let err = decompress(&bomb, Some("gzip"), limit).unwrap_err();
        assert!(matches!(err, DecodeError::TooLarge { limit: l } if l == limit));
        // The reader used by `decompress` caps the vector's capacity at the limit.
        let out = read_limited(
            MultiGzDecoder::new(&gzip(&vec![0u8; limit])[..]),
            limit,
            100,
        )
        .ok()
        .unwrap();
        assert!(out.capacity() <= limit, "capacity {}", out.capacity());
    }
}
