//! A frame's IPv4 header, parsed and checksum-verified once (issue 15): the load
//! balancer's first look at a frame (`lb::classify`) validates the header and hands
//! this token to every later step (the connection lookup, the NAT/DR/TUN transforms,
//! the appliance on a pass), which take a view of the header without parsing it or
//! verifying its checksum again.
//!
//! The token records where the header is and the two lengths [`Ipv4Packet::new_checked`]
//! checked. [`Ipv4At::view`] re-checks only those (three compares) on the frame it is
//! given, so a token used on another or a shortened frame is [`Malformed`], never an
//! out-of-bounds panic. Precondition for the header's *checksum* to still hold: the
//! frame's IPv4 header was not changed since the token was made (the steps that
//! rewrite it consume the token).

use super::ipv4::{Ipv4Packet, MIN_HEADER_LEN};
use super::{Malformed, PacketBuf};

/// Why a header got no token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv4Error {
    /// Too short, not version 4, or inconsistent lengths (see [`Ipv4Packet::new_checked`]).
    Malformed,
    /// The header checksum does not verify (RFC 791, RFC 1812 5.2.2).
    BadChecksum,
}

/// Where a frame's validated IPv4 header is: lengths checked, header checksum verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4At {
    l3: usize,
    total_len: u16,
    header_len: u8,
}

impl Ipv4At {
    /// Parses the IPv4 header at byte `l3` of `frame` and verifies its checksum.
    pub fn check(frame: &[u8], l3: usize) -> Result<Self, Ipv4Error> {
        let bytes = frame.get(l3..).ok_or(Ipv4Error::Malformed)?;
        let ip = Ipv4Packet::new_checked(bytes).map_err(|_| Ipv4Error::Malformed)?;
        Self::verify(&ip, l3)
    }

    /// Verifies the checksum of `ip`, a header `Ipv4Packet::new_checked` accepted at
    /// byte `l3` of its frame: for a caller that parsed the header already.
    pub fn verify<B: AsRef<[u8]>>(ip: &Ipv4Packet<B>, l3: usize) -> Result<Self, Ipv4Error> {
        if !ip.verify_checksum() {
            return Err(Ipv4Error::BadChecksum);
        }
        Ok(Ipv4At {
            l3,
            total_len: ip.total_len(),
            header_len: u8::try_from(ip.header_len()).map_err(|_| Ipv4Error::Malformed)?,
        })
    }

    /// Offset of the header in the frame (14, or 18 behind a VLAN tag).
    pub fn l3(&self) -> usize {
        self.l3
    }

    /// Where the datagram ends in the frame: `l3` + the IPv4 total length, in bytes.
    pub fn end(&self) -> usize {
        self.l3 + usize::from(self.total_len)
    }

    /// Cuts the frame in `pkt` at [`Ipv4At::end`]: Ethernet padding and trailing bytes
    /// after the datagram go, so nothing rvs rewrites, encapsulates, answers in place
    /// or forwards carries more than the datagram (issue 10 item 2; Linux's
    /// `ip_rcv_core` does the same `pskb_trim_rcsum` to `tot_len`). Done once, where
    /// the header is first checked (`LbPath::handle`, `Net::handle_at`). A frame
    /// already that short is left alone; false only if the buffer refused to shrink.
    pub fn trim<P: PacketBuf>(&self, pkt: &mut P) -> bool {
        let end = self.end();
        pkt.data().len() <= end || pkt.set_len(end)
    }

    /// The header's view on `frame`, with no parse and no checksum: only the recorded
    /// lengths are compared, so a frame this token was not made from is `Malformed`.
    pub fn view<'a>(&self, frame: &'a [u8]) -> Result<Ipv4Packet<&'a [u8]>, Malformed> {
        let bytes = frame.get(self.l3..).ok_or(Malformed)?;
        let total = usize::from(self.total_len);
        let hl = usize::from(self.header_len);
        if hl < MIN_HEADER_LEN || total < hl || bytes.len() < total {
            return Err(Malformed);
        }
        let ip = Ipv4Packet::new_unchecked(bytes);
        if ip.total_len() != self.total_len || ip.header_len() != hl {
            return Err(Malformed);
        }
        Ok(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 20-byte header 203.0.113.2 → 203.0.113.10, UDP, total length 28, in a frame.
    fn frame() -> Vec<u8> {
        let mut f = vec![0u8; 14 + 28];
        f[14] = 0x45;
        f[16..18].copy_from_slice(&28u16.to_be_bytes());
        f[22] = 64;
        f[23] = 17;
        f[26..30].copy_from_slice(&[203, 0, 113, 2]);
        f[30..34].copy_from_slice(&[203, 0, 113, 10]);
        Ipv4Packet::new_unchecked(&mut f[14..34]).fill_checksum();
        f
    }

    #[test]
    fn check_gives_a_view_and_refuses_bad_headers() {
        let f = frame();
        let at = Ipv4At::check(&f, 14).unwrap();
        assert_eq!(at.l3(), 14);
        assert_eq!(at.view(&f).unwrap().total_len(), 28);
        let mut bad = f.clone();
        bad[22] = 63;
        assert_eq!(Ipv4At::check(&bad, 14), Err(Ipv4Error::BadChecksum));
        assert_eq!(Ipv4At::check(&f[..40], 14), Err(Ipv4Error::Malformed));
        assert_eq!(Ipv4At::check(&f, 50), Err(Ipv4Error::Malformed));
    }

    #[test]
    fn trim_cuts_the_frame_at_the_datagram_end_only() {
        let mut f = frame();
        let at = Ipv4At::check(&f, 14).unwrap();
        assert_eq!(at.end(), 42);
        f.extend_from_slice(&[0xee; 7]);
        let mut b = crate::wire::HeadroomBuf::new(&f);
        assert!(at.trim(&mut b));
        assert_eq!(b.data(), &f[..42], "junk after the datagram removed");
        assert!(at.trim(&mut b), "already exact: unchanged");
        assert_eq!(b.data().len(), 42);
        assert!(at.view(b.data()).is_ok());
    }

    #[test]
    fn a_token_on_another_frame_is_malformed_not_a_panic() {
        let f = frame();
        let at = Ipv4At::check(&f, 14).unwrap();
        assert_eq!(at.view(&f[..41]).err(), Some(Malformed), "shortened");
        let mut longer = f.clone();
        longer[17] = 29;
        longer.push(0);
        assert_eq!(
            at.view(&longer).err(),
            Some(Malformed),
            "other total length"
        );
        for n in 0..f.len() {
            let _ = at.view(&f[..n]);
        }
    }
}
