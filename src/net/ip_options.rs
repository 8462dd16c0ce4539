//! The one IPv4 options rule, applied to every received IPv4 header where it is first
//! parsed (with the martian checks, `Net::screen_ipv4`):
//!
//! - the option list is validated structurally everywhere (RFC 791 3.1: EOL ends the
//!   list, NOP is one byte, every other option has a length byte ≥ 2 that fits the
//!   header); a malformed list is dropped (`drop_bad_ip_options`);
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
            // Source routes, even well formed.
            (&[0x83, 7, 4, 192, 0, 2, 1, 0], Err(DropReason::SourceRoute)),
            (&[1, 0x89, 7, 4, 192, 0, 2, 1], Err(DropReason::SourceRoute)),
        ] {
            assert_eq!(check(opts), want, "{opts:?}");
        }
    }
}
