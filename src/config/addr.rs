//! Address-like values an operator writes as strings: `A.B.C.D/len` networks,
//! dotted netmasks and port ranges ("80", "80-90").
//!
//! Parsing is strict (no leading zeros in lengths, no spaces) and returns a
//! reason string that the config loader places next to a file, line and key.

pub use crate::wire::Ipv4Net;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// Parses a plain IPv4 address with a message naming what was expected.
pub(crate) fn parse_ipv4(s: &str) -> Result<Ipv4Addr, String> {
    s.parse()
        .map_err(|_| format!("invalid IPv4 address {s:?} (expected A.B.C.D)"))
}

/// Parses a dotted netmask (`255.255.255.0`); the one bits must be contiguous,
/// as ipvsadm's `-M` requires.
pub(crate) fn parse_netmask(s: &str) -> Result<Ipv4Addr, String> {
    let mask: Ipv4Addr = s
        .parse()
        .map_err(|_| format!("illegal virtual server persistent mask specified: {s:?}"))?;
    let bits = u32::from(mask);
    if bits.leading_ones() + bits.trailing_zeros() != 32 {
        return Err(format!(
            "illegal virtual server persistent mask specified: {s:?} (one bits must be contiguous)"
        ));
    }
    Ok(mask)
}

/// An inclusive range of L4 ports, `first..=last`, used by mark rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    /// First port of the range, 1..=65535.
    pub first: u16,
    /// Last port of the range, `first..=65535`.
    pub last: u16,
}

impl PortRange {
    /// True when `port` is inside the range.
    pub fn contains(self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }
}

impl FromStr for PortRange {
    type Err = String;

    /// Accepts `"80"` or `"80-90"` (iptables' `--dport 80:90` in a TOML-friendly form).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("invalid port range {s:?} (expected \"80\" or \"80-90\", ports 1..65535)");
        let one = |p: &str| -> Result<u16, String> {
            match p.parse::<u16>() {
                Ok(n) if n != 0 && p.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
                _ => Err(bad()),
            }
        };
        let range = match s.split_once('-') {
            Some((a, b)) => PortRange {
                first: one(a)?,
                last: one(b)?,
            },
            None => {
                let p = one(s)?;
                PortRange { first: p, last: p }
            }
        };
        if range.first > range.last {
            return Err(format!("invalid port range {s:?}: first port above last"));
        }
        Ok(range)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmask_contiguity() {
        assert!(parse_netmask("255.255.255.0").is_ok());
        assert!(parse_netmask("0.0.0.0").is_ok());
        assert!(parse_netmask("255.255.255.255").is_ok());
        assert!(parse_netmask("255.0.255.0").is_err());
        assert!(parse_netmask("24").is_err());
    }

    #[test]
    fn port_ranges() {
        assert_eq!(
            "80".parse(),
            Ok(PortRange {
                first: 80,
                last: 80
            })
        );
        assert_eq!(
            "80-90".parse(),
            Ok(PortRange {
                first: 80,
                last: 90
            })
        );
        assert_eq!("80-90".parse::<PortRange>().unwrap().to_string(), "80-90");
        for bad in ["0", "90-80", "-", "80-", "65536", "+80", "80 - 90", "x"] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad:?}");
        }
    }
}
