//! The host's own IPv4 addresses (other interfaces of the root namespace rvsd runs
//! in) against a port's addresses, before the exception path gives them to its tap:
//! the kernel would take the same address twice, or route a subnet another interface
//! already serves through the tap, without a word.

use crate::wire::Ipv4Net;

/// One address of another host interface that a port address collides with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// The port's address is already a local address of `iface`: refused.
    SameAddress {
        /// The port address.
        addr: Ipv4Net,
        /// The host interface that has it.
        iface: String,
    },
    /// The port's connected subnet overlaps the subnet of `other` on `iface`: warned.
    Overlap {
        /// The port address.
        addr: Ipv4Net,
        /// The host interface's address.
        other: Ipv4Net,
        /// The host interface.
        iface: String,
    },
}

/// `(interface, address)` pairs from `ip -o -4 addr show` output (lines like
/// `4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\ ...`; a veth's
/// `name@peer` is cut at `@`). Lines it cannot read are skipped.
pub fn parse_ip_addr(out: &str) -> Vec<(String, Ipv4Net)> {
    out.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            f.next()?; // "4:"
            let iface = f.next()?.split('@').next()?.trim_end_matches(':');
            if f.next()? != "inet" {
                return None;
            }
            let net: Ipv4Net = f.next()?.parse().ok()?;
            Some((iface.to_string(), net))
        })
        .collect()
}

/// Every collision of `addrs` (a port's, given to kernel interface `own`) with the
/// addresses `host` has on other interfaces. Two subnets overlap when the shorter
/// prefix covers the other's network.
pub fn conflicts(own: &str, addrs: &[Ipv4Net], host: &[(String, Ipv4Net)]) -> Vec<Conflict> {
    let mut out = Vec::new();
    for a in addrs {
        for (iface, h) in host.iter().filter(|(i, _)| i != own) {
            if h.addr == a.addr {
                out.push(Conflict::SameAddress {
                    addr: *a,
                    iface: iface.clone(),
                });
            } else if a.contains(h.network()) || h.contains(a.network()) {
                out.push(Conflict::Overlap {
                    addr: *a,
                    other: *h,
                    iface: iface.clone(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP_ADDR: &str = "\
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\\       valid_lft forever preferred_lft forever
7: veth1@if6    inet 198.51.100.9/25 scope global veth1\\       valid_lft forever preferred_lft forever
9: ext    inet 203.0.113.1/24 scope global ext\\       valid_lft forever preferred_lft forever
";

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn ip_output_is_read_per_interface() {
        assert_eq!(
            parse_ip_addr(IP_ADDR),
            vec![
                ("lo".to_string(), net("127.0.0.1/8")),
                ("eth0".to_string(), net("192.0.2.2/24")),
                ("veth1".to_string(), net("198.51.100.9/25")),
                ("ext".to_string(), net("203.0.113.1/24")),
            ]
        );
    }

    #[test]
    fn same_address_and_overlapping_subnets_are_found_on_other_interfaces_only() {
        let host = parse_ip_addr(IP_ADDR);
        // The port's own tap (ext) already has its address from an earlier run: fine.
        assert!(conflicts("ext", &[net("203.0.113.1/24")], &host).is_empty());
        // Disjoint subnet: fine.
        assert!(conflicts("ext", &[net("198.51.100.200/25")], &host).is_empty());
        assert_eq!(
            conflicts("ext", &[net("192.0.2.1/24")], &host),
            vec![Conflict::Overlap {
                addr: net("192.0.2.1/24"),
                other: net("192.0.2.2/24"),
                iface: "eth0".into()
            }]
        );
        // A wider port subnet covering a narrower host one overlaps too.
        assert_eq!(
            conflicts("int", &[net("198.51.100.1/24")], &host),
            vec![Conflict::Overlap {
                addr: net("198.51.100.1/24"),
                other: net("198.51.100.9/25"),
                iface: "veth1".into()
            }]
        );
        assert_eq!(
            conflicts("int", &[net("192.0.2.2/32")], &host),
            vec![Conflict::SameAddress {
                addr: net("192.0.2.2/32"),
                iface: "eth0".into()
            }]
        );
    }
}
