//! Framing and checking of request lines: a bounded line reader (never buffers more
//! than [`MAX_REQUEST_BYTES`]) and the parse of one line into a [`RequestEnvelope`] or
//! the error response it gets (docs/CONTROL.md, "Errors").

use crate::ctl::proto::{version_string, MAX_REQUEST_BYTES, PROTOCOL_VERSION};
use crate::ctl::{ErrorKind, RequestEnvelope, Response};
use std::io::{self, BufRead};

/// What one read of a request line gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A whole line (its bytes, without the newline, are in the caller's buffer).
    Line,
    /// The line would be longer than [`MAX_REQUEST_BYTES`], newline included; what was
    /// read of it is discarded and the rest is left unread.
    TooLarge,
    /// The peer closed. `partial`: it had sent part of a line without its newline,
    /// which is discarded (never applied).
    Eof {
        /// Bytes of an unfinished line were discarded.
        partial: bool,
    },
}

/// Reads one line into `line` (cleared first), without its newline. At most
/// `MAX_REQUEST_BYTES - 1` bytes are ever held in `line`; `r`'s own buffer is bounded
/// by its capacity. I/O errors (including a read timeout) are returned as they are.
pub fn read_line(r: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Frame> {
    read_line_max(r, line, MAX_REQUEST_BYTES)
}

/// [`read_line`] with another limit (unit tests).
fn read_line_max(r: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> io::Result<Frame> {
    line.clear();
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(Frame::Eof {
                partial: !line.is_empty(),
            });
        }
        let nl = avail.iter().position(|&b| b == b'\n');
        let chunk = nl.unwrap_or(avail.len());
        // The newline, read now or still to come, counts toward the limit.
        if line.len() + chunk + 1 > max {
            return Ok(Frame::TooLarge);
        }
        line.extend_from_slice(&avail[..chunk]);
        match nl {
            Some(_) => {
                r.consume(chunk + 1);
                return Ok(Frame::Line);
            }
            None => r.consume(chunk),
        }
    }
}

/// Parses one request line. `Err` is the response the line gets instead of being
/// carried out: `bad_request` (not JSON, not an object, unknown `cmd`, missing or
/// unknown field, wrong type: serde's message) or `version` (a major version other
/// than ours, or a version that is not `"major.minor"`). The `id` is echoed whenever
/// the line is a JSON object with a numeric `id`.
pub fn parse_request(line: &[u8]) -> Result<RequestEnvelope, Box<Response>> {
    let bad = |id, e: serde_json::Error| {
        Box::new(Response::err(id, ErrorKind::BadRequest, e.to_string()))
    };
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| bad(None, e))?;
    let Some(obj) = value.as_object() else {
        return Err(Box::new(Response::err(
            None,
            ErrorKind::BadRequest,
            format!(
                "a request is a JSON object {{\"version\":\"{}\",\"request\":{{\"cmd\":...}}}}, not {}",
                version_string(),
                kind_of(&value)
            ),
        )));
    };
    let id = obj.get("id").and_then(serde_json::Value::as_u64);
    // The version first: another major version may have commands we do not know.
    if let Some(v) = obj.get("version").and_then(serde_json::Value::as_str) {
        if major_of(v) != Some(PROTOCOL_VERSION.0) {
            return Err(Box::new(Response::err(
                id,
                ErrorKind::Version,
                format!(
                    "protocol version {v:?} is not supported: this rvsd speaks {} (major {})",
                    version_string(),
                    PROTOCOL_VERSION.0
                ),
            )));
        }
    }
    serde_json::from_value(value).map_err(|e| bad(id, e))
}

/// The major of a version `"MAJOR.MINOR"` as docs/CONTROL.md defines it: two decimal
/// numbers of ASCII digits joined by one dot, no sign, no space, no leading zero (except
/// `0` itself), each fitting a u32; None for anything else (`"1"`, `"01.0"`, `"+1.0"`,
/// `" 1.0"`, `"1.0.0"`).
fn major_of(v: &str) -> Option<u32> {
    let number = |s: &str| {
        let canonical = !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s == "0" || !s.starts_with('0'));
        canonical.then(|| s.parse::<u32>().ok()).flatten()
    };
    let (major, minor) = v.split_once('.')?;
    number(minor)?;
    number(major)
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::Request;
    use std::io::BufReader;

    fn frames(input: &[u8], max: usize, cap: usize) -> Vec<(Frame, Vec<u8>)> {
        let mut r = BufReader::with_capacity(cap, input);
        let mut out = Vec::new();
        let mut line = Vec::new();
        loop {
            let f = read_line_max(&mut r, &mut line, max).unwrap();
            let end = matches!(f, Frame::Eof { .. } | Frame::TooLarge);
            out.push((f, line.clone()));
            if end {
                return out;
            }
        }
    }

    #[test]
    fn lines_split_at_newlines_across_buffer_refills() {
        let got = frames(b"abc\n\ndefgh\nij", 100, 2);
        assert_eq!(
            got,
            vec![
                (Frame::Line, b"abc".to_vec()),
                (Frame::Line, b"".to_vec()),
                (Frame::Line, b"defgh".to_vec()),
                (Frame::Eof { partial: true }, b"ij".to_vec()),
            ]
        );
        assert_eq!(
            frames(b"", 100, 2),
            vec![(Frame::Eof { partial: false }, vec![])]
        );
    }

    #[test]
    fn the_limit_counts_the_newline_and_never_buffers_more() {
        // 4 bytes + newline = 5 = max: accepted.
        assert_eq!(frames(b"abcd\n", 5, 3)[0], (Frame::Line, b"abcd".to_vec()));
        // 5 bytes + newline = 6: too large, known before the newline arrives.
        let got = frames(b"abcde", 5, 3);
        assert_eq!(got[0].0, Frame::TooLarge);
        assert!(got[0].1.len() < 5, "held {} bytes", got[0].1.len());
        assert_eq!(frames(b"abcdefghijk\n", 5, 64)[0].0, Frame::TooLarge);
    }

    fn err_of(line: &str) -> Response {
        *parse_request(line.as_bytes()).unwrap_err()
    }

    #[test]
    fn a_good_line_parses_and_minor_versions_are_accepted() {
        let e = parse_request(br#"{"version":"1.7","id":3,"request":{"cmd":"status"}}"#).unwrap();
        assert_eq!((e.id, e.request), (Some(3), Request::Status));
        assert!(parse_request(br#"{"version":"1.0","request":{"cmd":"list"}}"#).is_ok());
        assert!(parse_request(br#"{"version":"1.10","request":{"cmd":"list"}}"#).is_ok());
    }

    #[test]
    fn bad_lines_get_bad_request_with_serdes_message_and_the_id() {
        for (line, words) in [
            ("{", "EOF while parsing"),
            ("", "EOF while parsing"),
            ("[1,2]", "not an array"),
            ("\"status\"", "not a string"),
            (
                r#"{"version":"1.0","id":9,"request":{"cmd":"frobnicate"}}"#,
                "unknown variant `frobnicate`",
            ),
            (
                r#"{"version":"1.0","id":9,"request":{"cmd":"del_service"}}"#,
                "missing field `key`",
            ),
            (
                r#"{"version":"1.0","id":9,"request":{"cmd":"status"},"extra":1}"#,
                "unknown field `extra`",
            ),
            (
                r#"{"version":1,"id":9,"request":{"cmd":"status"}}"#,
                "invalid type: integer `1`",
            ),
        ] {
            let r = err_of(line);
            let e = r.error.expect("an error");
            assert_eq!(e.kind, ErrorKind::BadRequest, "{line}: {}", e.message);
            assert!(e.message.contains(words), "{line}: {}", e.message);
            if line.contains("\"id\":9") {
                assert_eq!(r.id, Some(9), "{line}");
            }
        }
    }

    #[test]
    fn another_major_version_is_refused_naming_both() {
        for v in [
            "2.0",
            "banana",
            "1.x",
            "0.9",
            "1",
            "01.0",
            "+1.0",
            "1.+0",
            " 1.0",
            "1.0 ",
            "1.0.0",
            "1.01",
            "1.",
            ".0",
            "",
            "1.-0",
            "١.0",
            "1.4294967296",
        ] {
            let line = format!(r#"{{"version":"{v}","id":4,"request":{{"cmd":"whatever"}}}}"#);
            let r = err_of(&line);
            let e = r.error.unwrap();
            assert_eq!(e.kind, ErrorKind::Version, "{v}");
            assert!(
                e.message.contains(v) && e.message.contains("1.0"),
                "{}",
                e.message
            );
            assert_eq!(r.id, Some(4));
        }
    }
}
