//! Zero-copy header views over packet bytes, and the checksums they keep valid.
//!
//! Every protocol gets a view in the smoltcp style: `Xxx<B>` wraps a buffer
//! `B: AsRef<[u8]>` (getters) or `B: AsMut<[u8]>` (setters), with a private
//! `field` module naming its byte ranges.
//!
//! Contract:
//! - `new_checked` is the only entry point for untrusted bytes. It checks every
//!   length and length field the accessors rely on, so once it has succeeded
//!   **no accessor, setter or `payload()` panics**, whatever the bytes say.
//!   Setters may later write length fields that disagree with the buffer
//!   (`set_total_len`, `set_len`, `set_header_len`): slices are then clamped to
//!   the buffer rather than panicking; re-check such a view before trusting it.
//!   `new_unchecked` is for buffers rvs built itself (and checked or sized).
//! - Nothing here allocates, logs, locks or makes a syscall: worker threads call
//!   these per packet, concurrently, each on its own buffers.
//! - A field value the enums do not know parses to `Other(n)`, never to an error;
//!   only a buffer whose lengths do not add up is [`Malformed`].
//! - Setters that rewrite addresses, ports or the TTL keep the checksums valid by
//!   RFC 1624 incremental update ([`checksum::update`]), so a NAT rewrite costs a
//!   few additions instead of a pass over the payload.
//! - Nothing here names a DPDK type: the data path hands us `&mut [u8]` slices of
//!   mbufs, tests hand us arrays.

use core::fmt;

pub mod arp;
pub mod buf;
pub mod checksum;
pub mod ethernet;
pub mod fragment;
pub mod icmp;
pub mod ipip;
pub mod ipnet;
pub mod ipv4;
pub mod ipv4_at;
pub mod tcp;
pub mod udp;

pub use arp::{ArpOperation, ArpPacket, ArpRepr};
#[cfg(any(test, feature = "testkit"))]
pub use buf::HeadroomBuf;
pub use buf::{PacketBuf, RxL4Checksum};
pub use ethernet::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr};
pub use icmp::{IcmpError, IcmpPacket, IcmpType, QuotedIpv4};
pub use ipnet::Ipv4Net;
pub use ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
pub use ipv4_at::{Ipv4At, Ipv4Error};
pub use tcp::{TcpFlags, TcpPacket};
pub use udp::UdpPacket;

/// The bytes do not form the header they claim to be (too short, or a length
/// field pointing outside the buffer), or an output buffer is too small for
/// what should be written into it.
///
/// Zero-size on purpose: per-packet code turns it into a counted drop verdict
/// and needs no detail, and a zero-size error costs nothing to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed packet")
    }
}

impl std::error::Error for Malformed {}

/// Reads a big-endian u16 from the first two bytes of `b`.
///
/// Callers pass a `field` range of a buffer that `new_checked` has sized, so
/// the index cannot fail for them; it is `pub(crate)` so nothing else relies on
/// that.
#[inline]
pub(crate) fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// Reads a big-endian u32 from the first four bytes of `b` (see [`be16`]).
#[inline]
pub(crate) fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod proptests;
