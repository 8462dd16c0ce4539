//! The Internet checksum: full computation (RFC 1071) and incremental update
//! (RFC 1624).
//!
//! Vocabulary used throughout:
//! - a *sum* is the ones'-complement sum of 16-bit big-endian words, folded to
//!   16 bits but **not** inverted ([`data`], [`combine`], [`pseudo_header`]);
//! - a *checksum* is the inverted sum, the value written in a header
//!   ([`finish`]).
//!
//! A header whose checksum field is correct sums (with the field) to 0xffff,
//! which is how `verify_checksum` methods test it.
//!
//! Incremental update uses RFC 1624 equation 3, `HC' = ~(~HC + ~m + m')`, not
//! the subtraction of RFC 1141, which can produce 0xffff where a full
//! computation produces 0x0000 (RFC 1624 section 3).
//!
//! UDP (RFC 768) is special: a transmitted checksum of 0 means "no checksum",
//! so an update must leave 0 alone ([`update_udp`]) and a computed 0 must be
//! sent as 0xffff ([`finish_udp`]). Both are the same value in ones'-complement
//! arithmetic, so the swap is harmless for receivers.

use std::net::Ipv4Addr;

/// Adds the big-endian 16-bit words of `bytes` into a wide accumulator.
///
/// An odd trailing byte is padded with a zero byte on the right (RFC 1071
/// section 4.1). The `u64` accumulator cannot overflow for any slice that fits
/// in memory, so folding is left to the end.
#[inline]
fn accumulate(bytes: &[u8]) -> u64 {
    let mut acc: u64 = 0;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        // Four words per step: the sum of 16-bit words equals the sum of the
        // 32-bit halves folded later, and this is ~4x fewer iterations.
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
        acc += u64::from(u32::from_be_bytes([c[4], c[5], c[6], c[7]]));
    }
    let mut words = chunks.remainder().chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(u16::from_be_bytes([*last, 0]));
    }
    acc
}

/// Folds a wide ones'-complement accumulator to 16 bits (end-around carry).
#[inline]
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The folded ones'-complement sum of `bytes` (not inverted), RFC 1071.
///
/// Sums of disjoint parts can be added with [`combine`], which is how a TCP or
/// UDP checksum joins the pseudo header and the segment.
pub fn data(bytes: &[u8]) -> u16 {
    fold(accumulate(bytes))
}

/// Ones'-complement addition of several folded sums.
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u64::from(s)).sum())
}

/// The checksum to write in a header for a folded sum: its ones' complement.
#[inline]
pub fn finish(sum: u16) -> u16 {
    !sum
}

/// Like [`finish`], for UDP: a computed 0 is sent as 0xffff, because 0 on the
/// wire means "no checksum" (RFC 768).
#[inline]
pub fn finish_udp(sum: u16) -> u16 {
    match !sum {
        0 => 0xffff,
        c => c,
    }
}

/// The sum of the IPv4 pseudo header that TCP and UDP checksums cover
/// (RFC 9293 section 3.1, RFC 768): source, destination, zero+protocol, and
/// the L4 length in bytes (header plus payload).
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, l4_len_bytes: u16) -> u16 {
    let s = u32::from(src);
    let d = u32::from(dst);
    fold(
        u64::from(s >> 16)
            + u64::from(s & 0xffff)
            + u64::from(d >> 16)
            + u64::from(d & 0xffff)
            + u64::from(protocol)
            + u64::from(l4_len_bytes),
    )
}

/// RFC 1624 equation 3: the new checksum after one 16-bit word covered by it
/// changed from `old_word` to `new_word`.
///
/// The word must be 16-bit aligned within the checksummed data (every field
/// rvs rewrites is), otherwise swap its bytes first.
#[inline]
pub fn update(old_csum: u16, old_word: u16, new_word: u16) -> u16 {
    !fold(u64::from(!old_csum) + u64::from(!old_word) + u64::from(new_word))
}

/// [`update`] for a 32-bit aligned field (an IPv4 address, a TCP sequence
/// number): two 16-bit words change at once.
#[inline]
pub fn update_u32(old_csum: u16, old_value: u32, new_value: u32) -> u16 {
    !fold(
        u64::from(!old_csum)
            + u64::from(!(old_value >> 16) & 0xffff)
            + u64::from(!old_value & 0xffff)
            + u64::from(new_value >> 16)
            + u64::from(new_value & 0xffff),
    )
}

/// [`update_u32`] for an IPv4 address change, the NAT rewrite: used both for
/// the IPv4 header checksum and for the TCP/UDP pseudo header.
#[inline]
pub fn update_addr(old_csum: u16, old_addr: Ipv4Addr, new_addr: Ipv4Addr) -> u16 {
    update_u32(old_csum, u32::from(old_addr), u32::from(new_addr))
}

/// [`update`] for UDP: a checksum of 0 ("none was computed", RFC 768) stays
/// 0, and an updated value of 0 is sent as 0xffff.
#[inline]
pub fn update_udp(old_csum: u16, old_word: u16, new_word: u16) -> u16 {
    if old_csum == 0 {
        return 0;
    }
    match update(old_csum, old_word, new_word) {
        0 => 0xffff,
        c => c,
    }
}

/// [`update_udp`] for a 32-bit field (an IPv4 address in the pseudo header).
#[inline]
pub fn update_udp_u32(old_csum: u16, old_value: u32, new_value: u32) -> u16 {
    if old_csum == 0 {
        return 0;
    }
    match update_u32(old_csum, old_value, new_value) {
        0 => 0xffff,
        c => c,
    }
}

/// The folded sum of several byte slices taken as one concatenated run (e.g. the
/// fragments of a reassembled datagram, in order): a part starting at an odd offset of
/// the run has its sum byte-swapped (RFC 1071 section 2(B)), so parts of any length join.
pub fn data_parts(parts: &[&[u8]]) -> u16 {
    let mut acc: u64 = 0;
    let mut odd = false;
    for p in parts {
        let s = data(p);
        acc += u64::from(if odd { s.swap_bytes() } else { s });
        odd ^= p.len() % 2 == 1;
    }
    fold(acc)
}

/// True when a TCP segment or UDP datagram, given as `parts` that concatenate to exactly
/// the segment (UDP: cut at its length field), sums with its IPv4 pseudo header to
/// 0xffff. A UDP checksum field of 0 means "none" (RFC 768) and passes; a segment over
/// 65535 bytes, or a UDP one shorter than its 8-byte header, fails. For the LB path's
/// verification of packets that would create state (issue 10 item 4) and for reassembled
/// datagrams (several slices). `protocol`: 6 (TCP) or 17 (UDP).
pub fn verify_l4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, parts: &[&[u8]]) -> bool {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let Ok(len) = u16::try_from(total) else {
        return false;
    };
    if protocol == 17 {
        // The checksum field is bytes 6..8 of the run.
        let mut field = [0u8; 2];
        let mut at = 0;
        for b in parts.iter().flat_map(|p| p.iter()).skip(6).take(2) {
            field[at] = *b;
            at += 1;
        }
        if at < 2 {
            return false;
        }
        if field == [0, 0] {
            return true;
        }
    }
    combine(&[pseudo_header(src, dst, protocol, len), data_parts(parts)]) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_any_length_sum_as_the_whole() {
        let whole: Vec<u8> = (0u8..=200).map(|b| b.wrapping_mul(37)).collect();
        for cut1 in [0, 1, 2, 7, 8, 13, 100] {
            for cut2 in [cut1, cut1 + 1, cut1 + 5, 150, 201] {
                let cut2 = cut2.max(cut1);
                let parts = [&whole[..cut1], &whole[cut1..cut2], &whole[cut2..]];
                assert_eq!(data_parts(&parts), data(&whole), "cuts {cut1} {cut2}");
            }
        }
    }

    #[test]
    fn verify_l4_on_one_or_several_slices() {
        let (src, dst) = (
            Ipv4Addr::new(203, 0, 113, 2),
            Ipv4Addr::new(203, 0, 113, 10),
        );
        // UDP 40000 -> 53, 3 bytes of data, checksum filled below.
        let mut udp = vec![0x9c, 0x40, 0, 53, 0, 11, 0, 0, b'a', b'b', b'c'];
        let c = finish_udp(combine(&[pseudo_header(src, dst, 17, 11), data(&udp)]));
        udp[6..8].copy_from_slice(&c.to_be_bytes());
        assert!(verify_l4(src, dst, 17, &[&udp]));
        assert!(verify_l4(src, dst, 17, &[&udp[..5], &udp[5..9], &udp[9..]]));
        assert!(!verify_l4(
            dst,
            src.to_bits().wrapping_add(1).into(),
            17,
            &[&udp]
        ));
        let mut bad = udp.clone();
        bad[10] ^= 1;
        assert!(!verify_l4(src, dst, 17, &[&bad[..7], &bad[7..]]));
        let mut none = bad;
        none[6..8].copy_from_slice(&[0, 0]);
        assert!(
            verify_l4(src, dst, 17, &[&none[..7], &none[7..]]),
            "0 = none"
        );
        assert!(
            !verify_l4(src, dst, 17, &[&udp[..7]]),
            "shorter than a header"
        );
        // The same bytes as TCP: the zero field is no exemption.
        assert!(!verify_l4(src, dst, 6, &[&none]));
    }

    /// The IPv4 header of a captured ICMP echo request (scapy-built,
    /// 198.51.100.7 -> 192.0.2.10, ident 0x1234, DF, TTL 64), checksum 0x3c58.
    const IPV4_HEADER: [u8; 20] = [
        0x45, 0x00, 0x00, 0x2c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0x3c, 0x58, 0xc6, 0x33, 0x64,
        0x07, 0xc0, 0x00, 0x02, 0x0a,
    ];

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 worked example: words 0001 f203 f4f5 f6f7 sum to ddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(data(&bytes), 0xddf2);
        assert_eq!(finish(data(&bytes)), 0x220d);
    }

    #[test]
    fn odd_length_pads_right() {
        assert_eq!(data(&[0xab]), 0xab00);
        assert_eq!(data(&[0x00, 0x01, 0xab]), 0xab01);
        // Odd length after the 8-byte fast loop too.
        assert_eq!(data(&[0, 1, 0, 1, 0, 1, 0, 1, 0xff]), 0xff04);
    }

    #[test]
    fn captured_header_verifies_and_recomputes() {
        assert_eq!(data(&IPV4_HEADER), 0xffff);
        let mut h = IPV4_HEADER;
        h[10] = 0;
        h[11] = 0;
        assert_eq!(finish(data(&h)), 0x3c58);
    }

    #[test]
    fn incremental_matches_full_for_ttl_and_address() {
        let mut h = IPV4_HEADER;
        // TTL 64 -> 63: the word TTL|proto goes 0x4001 -> 0x3f01.
        let c = update(0x3c58, 0x4001, 0x3f01);
        h[8] = 63;
        h[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(data(&h), 0xffff);
        // dst 192.0.2.10 -> 203.0.113.5
        let old = Ipv4Addr::new(192, 0, 2, 10);
        let new = Ipv4Addr::new(203, 0, 113, 5);
        let c = update_addr(c, old, new);
        h[16..20].copy_from_slice(&new.octets());
        h[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(data(&h), 0xffff);
        let mut z = h;
        z[10] = 0;
        z[11] = 0;
        assert_eq!(finish(data(&z)), c);
    }

    #[test]
    fn rfc1624_negative_zero_case() {
        // RFC 1624 section 3: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285 must give
        // 0x0000 like a full computation, where RFC 1141's subtraction gives 0xffff.
        assert_eq!(update(0xdd2f, 0x5555, 0x3285), 0x0000);
    }

    #[test]
    fn udp_zero_rules() {
        assert_eq!(update_udp(0, 0x1234, 0x4321), 0);
        assert_eq!(update_udp_u32(0, 1, 2), 0);
        assert_eq!(finish_udp(0xffff), 0xffff);
        assert_eq!(finish_udp(0x1234), !0x1234);
        // An update that lands on 0 is sent as 0xffff.
        assert_eq!(update_udp(0xdd2f, 0x5555, 0x3285), 0xffff);
    }

    #[test]
    fn pseudo_header_sum() {
        // 198.51.100.7 -> 192.0.2.10, UDP, 20 bytes:
        // c633 + 6407 + c000 + 020a + 0011 + 0014 = 0x1ec69 -> 0xec6a
        let s = pseudo_header(
            Ipv4Addr::new(198, 51, 100, 7),
            Ipv4Addr::new(192, 0, 2, 10),
            17,
            20,
        );
        assert_eq!(s, 0xec6a);
        assert_eq!(combine(&[0xffff, 0x0001]), 0x0001);
    }
}
