//! The 5-tuple a scheduler or a table lookup is keyed on.

use std::net::Ipv4Addr;

/// IP protocol numbers rvs balances; other values are carried as-is.
pub mod proto {
    /// TCP (RFC 9293).
    pub const TCP: u8 = 6;
    /// UDP (RFC 768).
    pub const UDP: u8 = 17;
    /// ICMP (RFC 792).
    pub const ICMP: u8 = 1;
    /// IP-in-IP (RFC 2003), the TUN method's outer protocol.
    pub const IPIP: u8 = 4;
}

/// One direction of a flow, as seen on the wire: who sent it (`saddr:sport`)
/// to whom (`daddr:dport`). Schedulers hash on parts of it (sh: source,
/// dh/lblc: destination), so it is the one value every pick receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// IP protocol number (see [`proto`]).
    pub proto: u8,
    /// Source address.
    pub saddr: Ipv4Addr,
    /// Source port (0 for protocols without ports).
    pub sport: u16,
    /// Destination address.
    pub daddr: Ipv4Addr,
    /// Destination port (0 for protocols without ports).
    pub dport: u16,
}
