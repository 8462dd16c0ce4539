//! An IPv4 address with a prefix length: local addresses ("198.51.100.1/24") and route
//! prefixes.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// `addr/len`, with `len` in `0..=32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    len: u8,
}

/// Why a CIDR string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an IPv4 address with prefix length, like 192.0.2.1/24")]
pub struct BadCidr;

impl Ipv4Cidr {
    /// `addr/len`; `None` when `len > 32`.
    pub fn new(addr: Ipv4Addr, len: u8) -> Option<Self> {
        (len <= 32).then_some(Ipv4Cidr { addr, len })
    }
    /// The address as written (host bits kept: a local address).
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }
    /// The prefix length.
    pub fn len(&self) -> u8 {
        self.len
    }
    /// The netmask as a u32.
    pub fn mask(&self) -> u32 {
        if self.len == 0 {
            0
        } else {
            u32::MAX << (32 - self.len)
        }
    }
    /// The network (host bits cleared).
    pub fn network(&self) -> Ipv4Cidr {
        Ipv4Cidr {
            addr: Ipv4Addr::from(u32::from(self.addr) & self.mask()),
            len: self.len,
        }
    }
    /// True when `a` lies inside this prefix.
    #[inline]
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        (u32::from(a) ^ u32::from(self.addr)) & self.mask() == 0
    }
}

impl FromStr for Ipv4Cidr {
    type Err = BadCidr;
    fn from_str(s: &str) -> Result<Self, BadCidr> {
        let (a, l) = s.split_once('/').ok_or(BadCidr)?;
        let addr: Ipv4Addr = a.trim().parse().map_err(|_| BadCidr)?;
        let len: u8 = l.trim().parse().map_err(|_| BadCidr)?;
        Ipv4Cidr::new(addr, len).ok_or(BadCidr)
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_contains_and_refuses_garbage() {
        let c: Ipv4Cidr = "198.51.100.1/24".parse().unwrap();
        assert!(c.contains(Ipv4Addr::new(198, 51, 100, 200)));
        assert!(!c.contains(Ipv4Addr::new(198, 51, 101, 1)));
        assert_eq!(c.network().to_string(), "198.51.100.0/24");
        assert!("0.0.0.0/0"
            .parse::<Ipv4Cidr>()
            .unwrap()
            .contains(Ipv4Addr::new(9, 9, 9, 9)));
        for bad in ["198.51.100.1", "198.51.100.1/33", "x/24", "1.2.3/8", ""] {
            assert!(bad.parse::<Ipv4Cidr>().is_err(), "{bad}");
        }
    }
}
