//! IPv4 networks (`A.B.C.D/len`): interface addresses, connected and static routes,
//! mark prefixes. A plain value shared by `net` (routes, local addresses) and `config`
//! (which parses it from the operator's text), so neither has to import the other.

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
}
