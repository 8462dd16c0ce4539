//! Static IPv4 routes with longest-prefix match, plus the connected routes of each port.
//!
//! An appliance carries a handful of routes, so the table is a flat array sorted by prefix
//! length, longest first; the first match is the longest. Built once by the management
//! thread and read concurrently by workers (immutable after build: no lock).

use crate::wire::Ipv4Net;
use std::net::Ipv4Addr;

/// Index of a data port in rvs's own order (the config's `[[port]]` order).
pub type PortIdx = u8;

/// One route: traffic for `prefix` leaves through `port`, to `via` or, for a connected
/// route, straight to the destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination prefix.
    pub prefix: Ipv4Net,
    /// Next hop; `None` for a connected route (the destination is on-link).
    pub via: Option<Ipv4Addr>,
    /// Outgoing port.
    pub port: PortIdx,
}

/// Where a packet to some address goes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextHop {
    /// Outgoing port.
    pub port: PortIdx,
    /// The on-link address whose MAC we need.
    pub addr: Ipv4Addr,
}

/// The route table.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// Builds the table from connected and static routes.
    pub fn new(mut routes: Vec<Route>) -> Self {
        // Longest prefix first; for equal lengths connected routes win over static ones.
        routes.sort_by_key(|r| (std::cmp::Reverse(r.prefix.len), r.via.is_some()));
        RouteTable { routes }
    }

    /// Longest-prefix match for `dst`.
    #[inline]
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<NextHop> {
        self.routes
            .iter()
            .find(|r| r.prefix.contains(dst))
            .map(|r| NextHop {
                port: r.port,
                addr: r.via.unwrap_or(dst),
            })
    }

    /// All routes, longest prefix first.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn longest_prefix_wins_and_connected_routes_are_on_link() {
        let t = RouteTable::new(vec![
            Route {
                prefix: cidr("0.0.0.0/0"),
                via: Some(Ipv4Addr::new(203, 0, 113, 254)),
                port: 0,
            },
            Route {
                prefix: cidr("198.51.100.0/24"),
                via: Some(Ipv4Addr::new(192, 0, 2, 254)),
                port: 1,
            },
            Route {
                prefix: cidr("192.0.2.0/24"),
                via: None,
                port: 1,
            },
            Route {
                prefix: cidr("198.51.100.128/25"),
                via: Some(Ipv4Addr::new(192, 0, 2, 253)),
                port: 1,
            },
        ]);
        let nh = |a: [u8; 4]| t.lookup(Ipv4Addr::from(a));
        assert_eq!(
            nh([192, 0, 2, 11]),
            Some(NextHop {
                port: 1,
                addr: Ipv4Addr::new(192, 0, 2, 11)
            })
        );
        assert_eq!(
            nh([198, 51, 100, 5]),
            Some(NextHop {
                port: 1,
                addr: Ipv4Addr::new(192, 0, 2, 254)
            })
        );
        assert_eq!(
            nh([198, 51, 100, 200]),
            Some(NextHop {
                port: 1,
                addr: Ipv4Addr::new(192, 0, 2, 253)
            })
        );
        assert_eq!(
            nh([8, 8, 8, 8]),
            Some(NextHop {
                port: 0,
                addr: Ipv4Addr::new(203, 0, 113, 254)
            })
        );
        assert_eq!(
            RouteTable::new(vec![]).lookup(Ipv4Addr::new(1, 2, 3, 4)),
            None
        );
    }
}
