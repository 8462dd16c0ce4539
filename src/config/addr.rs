//! Address-like values an operator writes as strings: `A.B.C.D/len` networks,
//! dotted netmasks and port ranges ("80", "80-90").
//!
//! Parsing is strict (no leading zeros in lengths, no spaces) and returns a
//! reason string that the config loader places next to a file, line and key.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 address with a prefix length, as `ip addr` and `ip route` write it.
///
/// Both an interface address (`203.0.113.1/24`, host bits set) and a network
/// (`203.0.113.0/24`) use this type; [`Ipv4Net::is_network`] tells them apart,
/// and the loader demands it where `ip route` would ("Invalid prefix").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    /// The address as written (host bits kept).
    pub addr: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub len: u8,
}

impl Ipv4Net {
    /// The mask of `len` leading one bits (`/24` -> 255.255.255.0).
    pub fn netmask(self) -> Ipv4Addr {
        Ipv4Addr::from(mask_bits(self.len))
    }

    /// The network address (host bits cleared).
    pub fn network(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & mask_bits(self.len))
    }

    /// True when no host bit is set, i.e. the value names a network.
    pub fn is_network(self) -> bool {
        self.addr == self.network()
    }

    /// True when `ip` lies inside this network (host bits of `self` ignored).
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask_bits(self.len) == u32::from(self.network())
    }

    /// True when every address of `other` lies inside this network.
    pub fn covers(self, other: Ipv4Net) -> bool {
        other.len >= self.len && self.contains(other.addr)
    }
}

/// `len` leading one bits; `len` above 32 is treated as 32.
fn mask_bits(len: u8) -> u32 {
    match len {
        0 => 0,
        l if l >= 32 => u32::MAX,
        l => u32::MAX << (32 - u32::from(l)),
    }
}

impl FromStr for Ipv4Net {
    type Err = String;

    /// Accepts `A.B.C.D/len`; a bare `A.B.C.D` is a /32.
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("invalid IPv4 address {s:?} (expected A.B.C.D/len)"))?;
        let len = match len {
            None => 32,
            Some(l) => match l.parse::<u8>() {
                Ok(n)
                    if n <= 32
                        && l.bytes().all(|b| b.is_ascii_digit())
                        && l.len() <= 2
                        && !(l.len() == 2 && l.starts_with('0')) =>
                {
                    n
                }
                _ => return Err(format!("invalid prefix length in {s:?} (expected 0..32)")),
            },
        };
        Ok(Ipv4Net { addr, len })
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

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
    fn net_parse_and_display() {
        let n: Ipv4Net = "203.0.113.1/24".parse().unwrap();
        assert_eq!(n.addr, Ipv4Addr::new(203, 0, 113, 1));
        assert_eq!(n.len, 24);
        assert_eq!(n.to_string(), "203.0.113.1/24");
        assert_eq!(n.network(), Ipv4Addr::new(203, 0, 113, 0));
        assert_eq!(n.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert!(!n.is_network());
        assert!(n.contains(Ipv4Addr::new(203, 0, 113, 200)));
        assert!(!n.contains(Ipv4Addr::new(203, 0, 114, 1)));
        let any: Ipv4Net = "0.0.0.0/0".parse().unwrap();
        assert!(any.is_network() && any.contains(Ipv4Addr::new(1, 2, 3, 4)));
        assert!(any.covers(n));
        let host: Ipv4Net = "192.0.2.10".parse().unwrap();
        assert_eq!(host.len, 32);
        assert!(host.is_network());
    }

    #[test]
    fn net_rejects() {
        for bad in [
            "",
            "/24",
            "1.2.3.4/33",
            "1.2.3.4/",
            "1.2.3.4/024",
            "1.2.3/24",
            "1.2.3.4/+1",
            "1.2.3.4/ 1",
            "a.b.c.d/1",
        ] {
            assert!(bad.parse::<Ipv4Net>().is_err(), "{bad:?}");
        }
    }

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
