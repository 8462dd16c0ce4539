//! Hex-written values of a check spec, in keepalived's spellings: an MD5 `digest` as
//! genhash prints it (32 hex digits), and the UDP_CHECK `payload`/`require_reply` bytes
//! (keepalived's `read_hex_str`: hex digits, spaces allowed between bytes).

use std::fmt;

use md5::{Digest as _, Md5};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An MD5 digest of an HTTP body, written as 32 hex digits (either case in, lower case
/// out, exactly as `genhash` prints `MD5SUM = ...`; keepalived's `digest_handler` parses
/// it to 16 bytes and compares bytes, so case never matters).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Md5Digest(pub [u8; 16]);

impl Md5Digest {
    /// The MD5 of `bytes`.
    pub fn of(bytes: &[u8]) -> Md5Digest {
        Md5Digest(Md5::digest(bytes).into())
    }

    /// Parses 32 hex digits (surrounding blanks ignored).
    pub fn parse(text: &str) -> Result<Md5Digest, String> {
        let bytes = parse_hex(text)?;
        let arr: [u8; 16] = bytes.try_into().map_err(|b: Vec<u8>| {
            format!(
                "an MD5 digest is 32 hex digits, \"{}\" has {}",
                text.trim(),
                b.len() * 2
            )
        })?;
        Ok(Md5Digest(arr))
    }
}

impl fmt::Display for Md5Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for Md5Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Md5Digest({self})")
    }
}

impl Serialize for Md5Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Md5Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Md5Digest::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Bytes written in hex ("0a0b0c" or "0a 0b 0c"), as keepalived's UDP_CHECK `payload`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct HexBytes(pub Vec<u8>);

impl fmt::Display for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HexBytes({self})")
    }
}

impl Serialize for HexBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_hex(&text)
            .map(HexBytes)
            .map_err(serde::de::Error::custom)
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

/// Hex digits to bytes; blanks between byte pairs are allowed, an odd digit count is not.
fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("\"{}\": odd number of hex digits", text.trim()));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).unwrap_or("");
            u8::from_str_radix(s, 16)
                .map_err(|_| format!("\"{}\": \"{s}\" is not a hex byte", text.trim()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_prints_as_genhash_does() {
        // md5sum of "hello\n" (coreutils), the format genhash prints after "MD5SUM = ".
        let d = Md5Digest::of(b"hello\n");
        assert_eq!(d.to_string(), "b1946ac92492d2347c6235b4d2611184");
        assert_eq!(
            Md5Digest::parse("B1946AC92492D2347C6235B4D2611184").unwrap(),
            d
        );
        assert_eq!(
            Md5Digest::of(b"").to_string(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
    }

    #[test]
    fn digest_refuses_wrong_lengths_and_digits() {
        assert!(Md5Digest::parse("b1946ac9")
            .unwrap_err()
            .contains("32 hex digits"));
        assert!(Md5Digest::parse("zz946ac92492d2347c6235b4d2611184")
            .unwrap_err()
            .contains("not a hex byte"));
        assert!(Md5Digest::parse("b1946ac92492d2347c6235b4d261118")
            .unwrap_err()
            .contains("odd"));
    }

    #[test]
    fn hex_bytes_allow_blanks_and_round_trip() {
        let h: HexBytes = serde_json::from_str("\"0a 0B ff\"").unwrap();
        assert_eq!(h.0, vec![0x0a, 0x0b, 0xff]);
        assert_eq!(serde_json::to_string(&h).unwrap(), "\"0a0bff\"");
    }
}
