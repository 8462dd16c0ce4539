//! keepalived's `virtual_server_group NAME { ... }`: the members a `virtual_server group
//! NAME` stands for. rvs has no groups: each member becomes a service of its own with the
//! same settings and real servers (keepalived shares one checker per real server among
//! the members; rvs checks each service's on its own, so a member's notify programs would
//! run once per member: `service.rs` refuses that).
//!
//! Members, as keepalived.conf(5) writes them: `IP [PORT]`, `A.B.C.D-E [PORT]` (last byte
//! range), `A.B.C.D-E.F.G.H [PORT]`, `A.B.C.D/N [PORT]` (every address of the prefix),
//! `fwmark N`. At most [`MAX_MEMBERS`] in all.

use super::tree::Node;
use super::values::{ipv4, port, refuse, Res};
use std::net::Ipv4Addr;

/// Most services one group may turn into.
pub const MAX_MEMBERS: u64 = 256;

/// One member: an address and port (0: none given), or a mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// `IP [PORT]`.
    Addr(Ipv4Addr, u16),
    /// `fwmark N`.
    Mark(u32),
}

/// The members of the group block `g`, in order.
pub fn keys(g: &Node) -> Res<Vec<Key>> {
    let mut out = Vec::new();
    for m in g.children() {
        if m.block.is_some() {
            return refuse(m, "a group member has no block");
        }
        if m.kw == "fwmark" {
            match m.args.as_slice() {
                [n] | [n, _] if m.args.get(1).is_none_or(|f| f == "inet") => match n.parse::<u32>()
                {
                    Ok(v) if v > 0 => out.push(Key::Mark(v)),
                    _ => return refuse(m, format!("{n:?} is not a mark from 1 to 4294967295")),
                },
                _ => return refuse(m, "needs a mark (rvs is IPv4 only)"),
            }
            continue;
        }
        let p = match m.args.as_slice() {
            [] => 0,
            [p] => port(m, p, "port")?,
            _ => return refuse(m, "a member is IP [PORT]"),
        };
        let (first, last) = range(m)?;
        if u64::from(u32::from(last)) - u64::from(u32::from(first)) + 1 + out.len() as u64
            > MAX_MEMBERS
        {
            return refuse(
                m,
                format!("the group would make more than {MAX_MEMBERS} services"),
            );
        }
        for a in u32::from(first)..=u32::from(last) {
            out.push(Key::Addr(Ipv4Addr::from(a), p));
        }
    }
    if out.is_empty() {
        return refuse(g, "the group has no member");
    }
    Ok(out)
}

/// The first and last address a member's keyword names.
fn range(m: &Node) -> Res<(Ipv4Addr, Ipv4Addr)> {
    let w = m.kw.as_str();
    if let Some((a, bits)) = w.split_once('/') {
        let a = ipv4(m, a)?;
        let bits: u32 = match bits.parse() {
            Ok(b) if b <= 32 => b,
            _ => return refuse(m, format!("/{bits} is not a prefix length")),
        };
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        let lo = u32::from(a) & mask;
        return Ok((Ipv4Addr::from(lo), Ipv4Addr::from(lo | !mask)));
    }
    if let Some((a, b)) = w.split_once('-') {
        let first = ipv4(m, a)?;
        let last = if b.contains('.') {
            ipv4(m, b)?
        } else {
            match b.parse::<u8>() {
                Ok(x) => {
                    let o = first.octets();
                    Ipv4Addr::new(o[0], o[1], o[2], x)
                }
                Err(_) => return refuse(m, format!("{b:?} is not the last byte of a range")),
            }
        };
        if last < first {
            return refuse(m, "the range is backwards");
        }
        return Ok((first, last));
    }
    let a = ipv4(m, w)?;
    Ok((a, a))
}

#[cfg(test)]
mod tests {
    use super::super::lexer::lex;
    use super::super::tree::parse;
    use super::*;
    use std::rc::Rc;

    fn members(body: &str) -> Result<Vec<Key>, String> {
        let file: Rc<str> = Rc::from("g");
        let t = parse(&lex(&format!("virtual_server_group G {{\n{body}\n}}\n"), &file).unwrap())
            .unwrap();
        keys(&t[0]).map_err(|e| e.to_string())
    }

    #[test]
    fn ranges_prefixes_and_marks() {
        let k = members("192.0.2.1-3 80\n198.51.100.8/31 53\nfwmark 7\n203.0.113.5\n").unwrap();
        let a = |s: &str, p| Key::Addr(s.parse().unwrap(), p);
        assert_eq!(
            k,
            [
                a("192.0.2.1", 80),
                a("192.0.2.2", 80),
                a("192.0.2.3", 80),
                a("198.51.100.8", 53),
                a("198.51.100.9", 53),
                Key::Mark(7),
                a("203.0.113.5", 0)
            ]
        );
        assert_eq!(
            members("192.0.2.0-192.0.3.255 80").unwrap_err(),
            "g:2: 192.0.2.0-192.0.3.255: the group would make more than 256 services"
        );
        assert!(members("192.0.2.9-1 80").is_err());
        assert!(members("fwmark 1 inet6").is_err());
        assert!(members("").is_err());
    }
}
