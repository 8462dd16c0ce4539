//! HTTP_GET `status_code`: the set of response codes that count as up, written as
//! keepalived does ("200", "200-299", "200 301-302"; commas also accepted). Unset, it is
//! 200-299 (keepalived's HTTP_DEFAULT_STATUS_CODE_MIN/MAX, check_http.h); codes outside
//! 100-599 are refused, as keepalived refuses them.

use std::fmt;
use std::ops::RangeInclusive;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Inclusive ranges of accepted HTTP status codes (never empty).
#[derive(Clone, PartialEq, Eq)]
pub struct StatusCodes(Vec<RangeInclusive<u16>>);

impl Default for StatusCodes {
    /// 200-299, keepalived's default when a `url` has no `status_code`.
    fn default() -> Self {
        StatusCodes(vec![200..=299])
    }
}

impl StatusCodes {
    /// Whether `code` is accepted.
    pub fn accepts(&self, code: u16) -> bool {
        self.0.iter().any(|r| r.contains(&code))
    }

    /// Parses keepalived's syntax: codes and `min-max` ranges separated by blanks or commas.
    pub fn parse(text: &str) -> Result<StatusCodes, String> {
        let mut ranges = Vec::new();
        for word in text.split(|c: char| c.is_ascii_whitespace() || c == ',') {
            if word.is_empty() {
                continue;
            }
            let (lo, hi) = match word.split_once('-') {
                Some((lo, hi)) => (code(lo)?, code(hi)?),
                None => (code(word)?, code(word)?),
            };
            if lo > hi {
                return Err(format!("status_code range {word} is backwards"));
            }
            ranges.push(lo..=hi);
        }
        if ranges.is_empty() {
            return Err("status_code lists no code".into());
        }
        Ok(StatusCodes(ranges))
    }
}

fn code(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(c) if (100..=599).contains(&c) => Ok(c),
        _ => Err(format!(
            "status_code \"{text}\" is not a code from 100 to 599"
        )),
    }
}

impl fmt::Display for StatusCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if r.start() == r.end() {
                write!(f, "{}", r.start())?;
            } else {
                write!(f, "{}-{}", r.start(), r.end())?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for StatusCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusCodes({self})")
    }
}

impl Serialize for StatusCodes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StatusCodes {
    /// A string in keepalived's syntax, or a bare number (`status_code = 200`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StatusCodes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an HTTP status code or a list such as \"200-299 301\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusCodes, E> {
                StatusCodes::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusCodes, E> {
                StatusCodes::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusCodes, E> {
                StatusCodes::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_any_2xx() {
        let d = StatusCodes::default();
        assert!(d.accepts(200) && d.accepts(204) && d.accepts(299));
        assert!(!d.accepts(199) && !d.accepts(301) && !d.accepts(503));
        assert_eq!(d.to_string(), "200-299");
    }

    #[test]
    fn keepalived_syntax() {
        let s = StatusCodes::parse("200 301-302,404").unwrap();
        assert!(s.accepts(200) && s.accepts(301) && s.accepts(302) && s.accepts(404));
        assert!(!s.accepts(201) && !s.accepts(303));
        assert_eq!(s.to_string(), "200 301-302 404");
        assert!(StatusCodes::parse("600").is_err());
        assert!(StatusCodes::parse("302-301").is_err());
        assert!(StatusCodes::parse("").is_err());
        assert!(StatusCodes::parse("2xx").is_err());
    }

    #[test]
    fn number_or_string() {
        let n: StatusCodes = serde_json::from_str("503").unwrap();
        assert!(n.accepts(503) && !n.accepts(200));
        let s: StatusCodes = serde_json::from_str("\"200-204\"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"200-204\"");
    }
}
