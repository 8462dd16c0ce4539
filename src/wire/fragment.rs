//! IPv4 fragmentation (RFC 791 section 3.2, "Fragmentation and reassembly"), as Linux's
//! `ip_fragment` / `ip_do_fragment` slow path does it: a datagram longer than the
//! egress MTU with DF clear is cut into fragments of at most `mtu` bytes each.
//!
//! - every fragment but the last carries a payload that is a multiple of 8 bytes:
//!   `(mtu - header_len) & !7` (RFC 791: the offset counts 8-byte units);
//! - each fragment copies the datagram's IPv4 header (same identification, TOS, TTL,
//!   protocol, addresses, DF clear); its offset is the datagram's own offset plus the
//!   payload bytes before it, and MF is set on all but the last, which keeps the
//!   datagram's MF (re-fragmenting a fragment, as a router does);
//! - options: the first fragment keeps them all; the others keep only the options
//!   whose copy flag (bit 0x80 of the type, RFC 791) is set, the rest overwritten
//!   with NOPs so the header length stays the same (Linux's `ip_options_fragment`);
//! - each fragment's header checksum is computed afresh;
//! - the link-layer header in front of the IPv4 header (`frame[..l3]`: Ethernet, and a
//!   VLAN tag when there is one) is copied in front of every fragment.
//!
//! The datagram is read as bytes (`&[u8]`), so it may be longer than one buffer's worth
//! (a reassembled datagram); the fragments are written into buffers the caller hands
//! out one at a time (`alloc`: the worker's mempool, `HeadroomBuf` in tests), so
//! nothing here allocates on the heap. Each finished fragment goes to `emit` in order.
//! When `alloc` runs dry part-way, the fragments already emitted stay emitted (as
//! Linux's `ip_do_fragment`, which has sent them by then) and the error says so.

use super::ipv4::{Ipv4Packet, MIN_HEADER_LEN};
use super::PacketBuf;

/// Flags/offset word bits (RFC 791).
const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// IP option types that need no length byte (RFC 791): end of list, no operation.
const OPT_EOL: u8 = 0;
const OPT_NOP: u8 = 1;
/// The option type's copy flag (RFC 791): copied into every fragment when set.
const OPT_COPIED: u8 = 0x80;

/// Why a datagram was not (completely) fragmented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragError {
    /// The bytes at `l3` are not a whole IPv4 datagram (lengths disagree).
    Malformed,
    /// DF is set: the sender asked not to fragment (frag-needed is the answer).
    DontFragment,
    /// The MTU leaves no room for 8 payload bytes behind the header (RFC 791: every
    /// IPv4 module must forward 68-byte datagrams without further fragmentation).
    MtuTooSmall,
    /// `alloc` had no buffer, or one too small for a fragment; `sent` fragments were
    /// emitted before that.
    NoBuffer {
        /// Fragments emitted before the failure.
        sent: usize,
    },
}

/// Largest fragment payload (a multiple of 8) for an IPv4 header of `header_len`
/// bytes under `mtu`; 0 when the MTU leaves no room.
pub fn max_fragment_payload(mtu: u16, header_len: usize) -> usize {
    usize::from(mtu).saturating_sub(header_len) & !7
}

/// Cuts the IPv4 datagram at `frame[l3..]` (its total length says where it ends;
/// bytes after it are ignored) into fragments of at most `mtu` IP bytes, each written
/// with `frame[..l3]` in front into a buffer from `alloc` and handed to `emit`.
/// Returns the number of fragments. A datagram that already fits is emitted as one
/// unchanged copy. Never panics, whatever the bytes.
pub fn fragment<B: PacketBuf>(
    frame: &[u8],
    l3: usize,
    mtu: u16,
    mut alloc: impl FnMut() -> Option<B>,
    mut emit: impl FnMut(B),
) -> Result<usize, FragError> {
    let ip_bytes = frame.get(l3..).ok_or(FragError::Malformed)?;
    let ip = Ipv4Packet::new_checked(ip_bytes).map_err(|_| FragError::Malformed)?;
    let hlen = ip.header_len();
    let total = usize::from(ip.total_len());
    if total <= usize::from(mtu) {
        let len = l3 + total;
        let mut b = alloc().ok_or(FragError::NoBuffer { sent: 0 })?;
        if !b.set_len(len) {
            return Err(FragError::NoBuffer { sent: 0 });
        }
        b.data_mut().copy_from_slice(&frame[..len]);
        emit(b);
        return Ok(1);
    }
    if ip.dont_frag() {
        return Err(FragError::DontFragment);
    }
    let step = max_fragment_payload(mtu, hlen);
    if step == 0 {
        return Err(FragError::MtuTooSmall);
    }
    let word = u16::from_be_bytes([ip_bytes[6], ip_bytes[7]]);
    let base_offset = usize::from(word & FRAG_OFFSET_MASK) << 3;
    let last_mf = word & FLAG_MF != 0;
    let payload = &ip_bytes[hlen..total];
    let mut sent = 0;
    let mut at = 0;
    while at < payload.len() {
        let n = step.min(payload.len() - at);
        let last = at + n == payload.len();
        let Some(mut b) = alloc() else {
            return Err(FragError::NoBuffer { sent });
        };
        if !b.set_len(l3 + hlen + n) {
            return Err(FragError::NoBuffer { sent });
        }
        let out = b.data_mut();
        out[..l3].copy_from_slice(&frame[..l3]);
        out[l3..l3 + hlen].copy_from_slice(&ip_bytes[..hlen]);
        out[l3 + hlen..].copy_from_slice(&payload[at..at + n]);
        let hdr = &mut out[l3..];
        if at > 0 {
            clear_uncopied_options(&mut hdr[MIN_HEADER_LEN..hlen]);
        }
        // base_offset + at stays below 65536 (both come from one 16-bit datagram), and
        // at is a multiple of 8: the 13-bit field holds it.
        let offset = ((base_offset + at) >> 3) as u16 & FRAG_OFFSET_MASK;
        let mf = if last && !last_mf { 0 } else { FLAG_MF };
        let w = (word & !(FLAG_DF | FLAG_MF | FRAG_OFFSET_MASK)) | mf | offset;
        hdr[6..8].copy_from_slice(&w.to_be_bytes());
        hdr[2..4].copy_from_slice(&((hlen + n) as u16).to_be_bytes());
        Ipv4Packet::new_unchecked(&mut hdr[..hlen + n]).fill_checksum();
        emit(b);
        sent += 1;
        at += n;
    }
    Ok(sent)
}

/// Overwrites with NOPs the options whose copy flag is clear (the second and later
/// fragments carry only copied options, RFC 791). Stops at the end-of-list option or at
/// an option whose length does not fit (left as it is: nothing past it is parsed).
fn clear_uncopied_options(opts: &mut [u8]) {
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            OPT_EOL => return,
            OPT_NOP => i += 1,
            t => {
                let Some(&len) = opts.get(i + 1) else { return };
                let len = usize::from(len);
                if len < 2 || i + len > opts.len() {
                    return;
                }
                if t & OPT_COPIED == 0 {
                    opts[i..i + len].fill(OPT_NOP);
                }
                i += len;
            }
        }
    }
}

/// True when the datagram at `frame[l3..]` is longer than `mtu` bytes (by its total
/// length field; false when the header cannot be read).
pub fn exceeds_mtu(frame: &[u8], l3: usize, mtu: u16) -> bool {
    frame
        .get(l3 + 2..l3 + 4)
        .is_some_and(|b| u16::from_be_bytes([b[0], b[1]]) > mtu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::HeadroomBuf;
    use std::net::Ipv4Addr;

    /// Ethernet + an IPv4 datagram of `total` bytes (header `20 + opts.len()`), DF as
    /// given, payload bytes counting up.
    fn datagram(total: usize, opts: &[u8], df: bool, word: u16) -> Vec<u8> {
        let hlen = 20 + opts.len();
        let mut f = vec![0u8; 14 + total];
        f[..12].copy_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
        f[12] = 0x08;
        let ip = &mut f[14..];
        ip[0] = 0x40 | (hlen / 4) as u8;
        ip[1] = 0x2c;
        ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&0xbeefu16.to_be_bytes());
        let w = word | if df { FLAG_DF } else { 0 };
        ip[6..8].copy_from_slice(&w.to_be_bytes());
        ip[8] = 63;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&Ipv4Addr::new(203, 0, 113, 7).octets());
        ip[16..20].copy_from_slice(&Ipv4Addr::new(198, 51, 100, 11).octets());
        ip[20..hlen].copy_from_slice(opts);
        for (i, b) in ip[hlen..total].iter_mut().enumerate() {
            *b = i as u8;
        }
        Ipv4Packet::new_unchecked(&mut ip[..total]).fill_checksum();
        f
    }

    fn split(f: &[u8], mtu: u16) -> (Result<usize, FragError>, Vec<HeadroomBuf>) {
        let mut out = Vec::new();
        let r = fragment(
            f,
            14,
            mtu,
            || Some(HeadroomBuf::with_room(&[], 128, 2048)),
            |b| out.push(b),
        );
        (r, out)
    }

    /// Puts the fragments' payloads back at their offsets.
    fn reassemble(frags: &[HeadroomBuf]) -> Vec<u8> {
        let mut whole = Vec::new();
        for b in frags {
            let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
            let off = usize::from(ip.frag_offset_bytes());
            let p = ip.payload();
            if whole.len() < off + p.len() {
                whole.resize(off + p.len(), 0);
            }
            whole[off..off + p.len()].copy_from_slice(p);
        }
        whole
    }

    #[test]
    fn splits_like_linux_ip_fragment() {
        let f = datagram(1500, &[], false, 0);
        let (r, frags) = split(&f, 1400);
        assert_eq!(r, Ok(2));
        let a = Ipv4Packet::new_checked(&frags[0].data()[14..]).unwrap();
        let b = Ipv4Packet::new_checked(&frags[1].data()[14..]).unwrap();
        assert_eq!(
            (a.total_len(), a.more_frags(), a.frag_offset_bytes()),
            (1396, true, 0),
            "1376 payload bytes (a multiple of 8 under 1400 - 20)"
        );
        assert_eq!(
            (b.total_len(), b.more_frags(), b.frag_offset_bytes()),
            (20 + 1480 - 1376, false, 1376)
        );
        for ip in [&a, &b] {
            assert!(ip.verify_checksum());
            assert_eq!(ip.ident(), 0xbeef);
            assert!(!ip.dont_frag());
            assert_eq!((ip.tos(), ip.ttl()), (0x2c, 63));
        }
        assert_eq!(&frags[1].data()[..14], &f[..14], "link header copied");
        assert_eq!(reassemble(&frags), &f[14 + 20..]);
    }

    #[test]
    fn every_fragment_fits_and_offsets_tile_the_payload() {
        for (total, mtu) in [(65535usize, 1500u16), (9000, 576), (1501, 1500), (100, 68)] {
            let f = datagram(total, &[], false, 0);
            let (r, frags) = split(&f, mtu);
            let step = (usize::from(mtu) - 20) & !7;
            assert_eq!(r, Ok((total - 20).div_ceil(step)), "{total} over {mtu}");
            for (i, b) in frags.iter().enumerate() {
                let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
                assert!(usize::from(ip.total_len()) <= usize::from(mtu));
                assert_eq!(usize::from(ip.frag_offset_bytes()), i * step);
                assert_eq!(ip.more_frags(), i + 1 < frags.len());
            }
            assert_eq!(reassemble(&frags), &f[34..]);
        }
    }

    #[test]
    fn a_fragment_is_refragmented_keeping_its_offset_and_mf() {
        // A middle fragment: offset 1480, MF set.
        let f = datagram(1500, &[], false, FLAG_MF | (1480 >> 3));
        let (_, frags) = split(&f, 1000);
        let offs: Vec<_> = frags
            .iter()
            .map(|b| {
                let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
                (ip.frag_offset_bytes(), ip.more_frags())
            })
            .collect();
        assert_eq!(offs, vec![(1480, true), (1480 + 976, true)]);
    }

    #[test]
    fn later_fragments_keep_only_copied_options() {
        // Record route (7, not copied, 7 bytes), then a copied option (0x94 router
        // alert, 4 bytes) and one NOP: 12 bytes of options.
        let opts = [7, 7, 4, 0, 0, 0, 0, 0x94, 4, 0, 0, 1];
        let f = datagram(200, &opts, false, 0);
        let (_, frags) = split(&f, 120);
        let first = &frags[0].data()[14 + 20..14 + 32];
        assert_eq!(first, &opts, "the first fragment keeps all options");
        let second = &frags[1].data()[14 + 20..14 + 32];
        assert_eq!(second, &[1, 1, 1, 1, 1, 1, 1, 0x94, 4, 0, 0, 1]);
        assert_eq!(reassemble(&frags), &f[14 + 32..]);
    }

    #[test]
    fn refusals_are_errors_not_panics() {
        let f = datagram(1500, &[], true, 0);
        assert_eq!(split(&f, 1400).0, Err(FragError::DontFragment));
        let f = datagram(1500, &[], false, 0);
        assert_eq!(split(&f, 27).0, Err(FragError::MtuTooSmall));
        assert_eq!(split(&f[..100], 1400).0, Err(FragError::Malformed));
        let mut n = 0;
        let r = fragment(
            &f,
            14,
            576,
            || {
                n += 1;
                (n <= 2).then(|| HeadroomBuf::with_room(&[], 0, 600))
            },
            |_| {},
        );
        assert_eq!(r, Err(FragError::NoBuffer { sent: 2 }));
        let r = fragment(
            &f,
            14,
            576,
            || Some(HeadroomBuf::with_room(&[], 0, 100)),
            |_| {},
        );
        assert_eq!(r, Err(FragError::NoBuffer { sent: 0 }), "buffer too small");
    }

    #[test]
    fn what_fits_is_copied_whole_without_trailing_bytes() {
        let mut f = datagram(100, &[], true, 0);
        f.extend_from_slice(&[0xee; 6]);
        let (r, frags) = split(&f, 1500);
        assert_eq!(r, Ok(1));
        assert_eq!(frags[0].data(), &f[..114]);
        assert!(exceeds_mtu(&f, 14, 99));
        assert!(!exceeds_mtu(&f, 14, 100));
    }
}
