//! The appliance's run-time-changeable tables: the VIPs each port answers ARP and ping
//! for, and the routes. Immutable once built; the management thread publishes a new
//! [`NetTables`] through an [`crate::snapshot::Publisher`] and every worker picks it
//! up at its next loop.

use super::route::{PortIdx, Route, RouteTable};
use std::net::Ipv4Addr;

/// One VIP of one port, with the snapshot generation that added it (the worker that
/// announces VIPs sends a gratuitous ARP for every VIP added after the generation it
/// last saw, so a skipped generation loses no announcement).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vip {
    /// The address.
    pub addr: Ipv4Addr,
    /// Generation of the snapshot that added it (0: configured at start).
    pub since: u64,
}

/// VIPs per port (in `PortIdx` order) and the route table.
#[derive(Clone, Debug, Default)]
pub struct NetTables {
    vips: Vec<Vec<Vip>>,
    /// Every port's VIPs in one sorted list (an address once per port that has it), so
    /// [`NetTables::is_vip`], asked for every received packet's source and destination
    /// (martian screening, the appliance), is a binary search, not a scan.
    all: Vec<Ipv4Addr>,
    routes: RouteTable,
}

impl NetTables {
    /// Tables for `ports` ports with `routes` (connected and static) and no VIP.
    pub fn new(ports: usize, routes: Vec<Route>) -> Self {
        NetTables {
            vips: vec![Vec::new(); ports],
            all: Vec::new(),
            routes: RouteTable::new(routes),
        }
    }

    /// The route table.
    #[inline]
    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    /// The VIPs of `port` (empty for an unknown port).
    #[inline]
    pub fn vips(&self, port: PortIdx) -> &[Vip] {
        self.vips.get(port as usize).map_or(&[], |v| v.as_slice())
    }

    /// Number of ports the tables describe.
    pub fn ports(&self) -> usize {
        self.vips.len()
    }

    /// True when `a` is a VIP of `port`.
    #[inline]
    pub fn is_vip_of(&self, port: PortIdx, a: Ipv4Addr) -> bool {
        self.vips(port).iter().any(|v| v.addr == a)
    }

    /// True when `a` is a VIP of any port.
    #[inline]
    pub fn is_vip(&self, a: Ipv4Addr) -> bool {
        self.all.binary_search(&a).is_ok()
    }

    /// Adds `addr` as a VIP of `port`, stamped with generation `since`; false when the
    /// port does not exist or already has it.
    pub fn add_vip(&mut self, port: PortIdx, addr: Ipv4Addr, since: u64) -> bool {
        match self.vips.get_mut(port as usize) {
            Some(v) if !v.iter().any(|x| x.addr == addr) => {
                v.push(Vip { addr, since });
                let at = self.all.partition_point(|x| *x < addr);
                self.all.insert(at, addr);
                true
            }
            _ => false,
        }
    }

    /// Removes VIP `addr` from `port`; false when it was not there.
    pub fn remove_vip(&mut self, port: PortIdx, addr: Ipv4Addr) -> bool {
        match self.vips.get_mut(port as usize) {
            Some(v) => {
                let n = v.len();
                v.retain(|x| x.addr != addr);
                if v.len() == n {
                    return false;
                }
                if let Ok(at) = self.all.binary_search(&addr) {
                    self.all.remove(at);
                }
                true
            }
            None => false,
        }
    }

    /// Replaces the route table.
    pub fn set_routes(&mut self, routes: Vec<Route>) {
        self.routes = RouteTable::new(routes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vips_per_port() {
        let mut t = NetTables::new(2, Vec::new());
        let a = Ipv4Addr::new(203, 0, 113, 10);
        assert!(t.add_vip(1, a, 3));
        assert!(!t.add_vip(1, a, 4), "no duplicate");
        assert!(!t.add_vip(2, a, 4), "no such port");
        assert!(t.is_vip_of(1, a) && !t.is_vip_of(0, a) && t.is_vip(a));
        // The same address on another port: a VIP until both are gone.
        let b = Ipv4Addr::new(203, 0, 113, 9);
        assert!(t.add_vip(0, a, 5) && t.add_vip(0, b, 5));
        assert!(t.remove_vip(0, a) && t.is_vip(a) && t.is_vip(b));
        assert!(t.remove_vip(0, b) && !t.is_vip(b));
        assert_eq!(t.vips(1), &[Vip { addr: a, since: 3 }]);
        assert!(t.remove_vip(1, a));
        assert!(!t.is_vip(a));
        assert!(!t.remove_vip(1, a));
    }
}
