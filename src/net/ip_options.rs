//! The one IPv4 options rule, applied to every received IPv4 header where it is first
//! parsed (with the martian checks, `Net::screen_ipv4`):
//!
//! - the option list is validated structurally everywhere (RFC 791 3.1: EOL ends the
//!   list, NOP is one byte, every other option has a length byte ≥ 2 that fits the
//!   header); a malformed list is dropped (`drop_bad_ip_options`);
//! - each option's contents are validated as Linux's `ip_options_compile` does for a
//!   received packet (review finding 7): Record Route (7), LSRR and SSRR need length
//!   ≥ 3 and pointer ≥ 4, and a pointer inside the option must leave room for one
//!   address (pointer + 3 ≤ length); Timestamp (68) needs length ≥ 4 and pointer ≥ 5,
//!   a pointer inside the option must leave room for one entry (4 bytes; 8 for the
//!   address + timestamp flags 1 and 3), and a full one must not have its overflow
//!   count at 15; Router Alert (148) has length 4; a second Record Route, Timestamp or
//!   source route in one header is malformed. Any of these is `drop_bad_ip_options`;
//! - loose and strict source routes (LSRR 0x83, SSRR 0x89) are dropped on every path
//!   (`drop_source_route`), as Linux with `accept_source_route = 0` (its default for
//!   routers and hosts alike);
//! - other well-formed options (Router Alert, record route, timestamps...) are dropped
//!   where rvs would have to process them: on the load-balancing path
//!   (`drop_ip_options`, `lb::xform`) and for ICMP echo (a reply would have to
//!   reverse them); a routed packet or one handed to the kernel keeps them unchanged
//!   (the kernel needs IGMP's Router Alert, for one).

use super::verdict::DropReason;

/// Option type of the end of the option list (RFC 791).
const EOL: u8 = 0;
/// Option type of the one-byte no-operation (RFC 791).
const NOP: u8 = 1;
/// Loose source and record route (RFC 791, copied flag set).
const LSRR: u8 = 0x83;
/// Strict source and record route (RFC 791, copied flag set).
const SSRR: u8 = 0x89;
/// Record route (RFC 791).
const RR: u8 = 7;
/// Internet timestamp (RFC 791).
const TS: u8 = 0x44;
/// Router Alert (RFC 2113).
const RA: u8 = 0x94;

/// The contents of one option `o` (type, length, data; its length already checked to
/// fit) as `ip_options_compile` judges them for a received packet: `false` when
/// malformed. `seen` holds the bits of Record Route (1), Timestamp (2) and source route
/// (4) already met in this header, a second of one kind being malformed.
fn contents_ok(o: &[u8], seen: &mut u8) -> bool {
    let len = o.len();
    let once = |seen: &mut u8, bit: u8| {
        let first = *seen & bit == 0;
        *seen |= bit;
        first
    };
    match o[0] {
        RR | LSRR | SSRR => {
            let bit = if o[0] == RR { 1 } else { 4 };
            if len < 3 || o[2] < 4 || !once(seen, bit) {
                return false;
            }
            let ptr = usize::from(o[2]);
            // Not yet full: room for one more address.
            ptr > len || ptr + 3 <= len
        }
        TS => {
            if len < 4 || o[2] < 5 || !once(seen, 2) {
                return false;
            }
            let ptr = usize::from(o[2]);
            if ptr <= len {
                // Flags 0: timestamps only (4 bytes); 1 and 3: address + timestamp (8).
                let entry = match o[3] & 0x0f {
                    1 | 3 => 8,
                    _ => 4,
                };
                ptr + entry - 1 <= len
            } else {
                // Full: the overflow count must not wrap.
                o[3] >> 4 != 15
            }
        }
        RA => len == 4,
        _ => true,
    }
}

/// What an IPv4 header's option bytes (everything after the first 20 bytes) hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Options {
    /// No options (IHL 5), or only EOL/NOP padding.
    None,
    /// Well-formed options, none of them a source route.
    Present,
}

/// Validates `opts`, the option bytes of an IPv4 header: [`Options`] when the list is
/// well formed and holds no source route, else the drop reason
/// ([`DropReason::BadIpOptions`], [`DropReason::SourceRoute`]).
pub fn check(opts: &[u8]) -> Result<Options, DropReason> {
    let mut seen = Options::None;
    let mut kinds = 0u8;
    let mut i = 0;
    while let Some(&t) = opts.get(i) {
        match t {
            EOL => break,
            NOP => i += 1,
            _ => {
                let Some(&len) = opts.get(i + 1) else {
                    return Err(DropReason::BadIpOptions);
                };
                let len = usize::from(len);
                if len < 2 || i + len > opts.len() {
                    return Err(DropReason::BadIpOptions);
                }
                if !contents_ok(&opts[i..i + len], &mut kinds) {
                    return Err(DropReason::BadIpOptions);
                }
                if t == LSRR || t == SSRR {
                    return Err(DropReason::SourceRoute);
                }
                seen = Options::Present;
                i += len;
            }
        }
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_table() {
        for (opts, want) in [
            (&[][..], Ok(Options::None)),
            (&[1, 1, 1, 0], Ok(Options::None)),
            (&[0, 0xff, 0xff, 0xff], Ok(Options::None)),
            // Router Alert (RFC 2113), record route with room for one address.
            (&[0x94, 4, 0, 0], Ok(Options::Present)),
            (&[7, 7, 4, 0, 0, 0, 0, 0], Ok(Options::Present)),
            (&[1, 0x94, 4, 0, 0, 0, 0, 0], Ok(Options::Present)),
            // Lengths 0 and 1, past the header, missing.
            (&[0x94, 0, 0, 0], Err(DropReason::BadIpOptions)),
            (&[0x94, 1, 0, 0], Err(DropReason::BadIpOptions)),
            (&[0x94, 8, 0, 0], Err(DropReason::BadIpOptions)),
            (&[1, 1, 1, 0x94], Err(DropReason::BadIpOptions)),
            // Contents (ip_options_compile): RR pointer < 4 or no room for an address;
            // TS pointer < 5, no room for an entry, overflow 15 when full; Router Alert
            // length 4; two RRs; a full RR and a full TS with overflow 14 are fine.
            (&[7, 7, 1, 0, 0, 0, 0, 0], Err(DropReason::BadIpOptions)),
            (&[7, 3, 3, 0], Err(DropReason::BadIpOptions)),
            (&[7, 6, 4, 0, 0, 0, 0, 0], Err(DropReason::BadIpOptions)),
            (&[7, 7, 8, 0, 0, 0, 0, 0], Ok(Options::Present)),
            (&[7, 3, 4, 0], Ok(Options::Present)),
            (&[0x44, 8, 2, 0, 0, 0, 0, 0], Err(DropReason::BadIpOptions)),
            (&[0x44, 8, 5, 0, 0, 0, 0, 0], Ok(Options::Present)),
            (&[0x44, 8, 5, 1, 0, 0, 0, 0], Err(DropReason::BadIpOptions)),
            (
                &[0x44, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0],
                Ok(Options::Present),
            ),
            (&[0x44, 8, 9, 0xe0, 0, 0, 0, 0], Ok(Options::Present)),
            (
                &[0x44, 8, 9, 0xf0, 0, 0, 0, 0],
                Err(DropReason::BadIpOptions),
            ),
            (&[0x94, 6, 0, 0, 0, 0, 0, 0], Err(DropReason::BadIpOptions)),
            (&[7, 3, 4, 7, 3, 4, 0, 0], Err(DropReason::BadIpOptions)),
            (
                &[0x83, 7, 2, 192, 0, 2, 1, 0],
                Err(DropReason::BadIpOptions),
            ),
            // Source routes, even well formed.
            (&[0x83, 7, 4, 192, 0, 2, 1, 0], Err(DropReason::SourceRoute)),
            (&[1, 0x89, 7, 4, 192, 0, 2, 1], Err(DropReason::SourceRoute)),
        ] {
            assert_eq!(check(opts), want, "{opts:?}");
        }
    }
}
