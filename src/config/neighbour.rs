//! `[neighbour]` and `[[neighbour.static]]`: the ARP timers (Linux's names and
//! ranges that the seconds-granular data-plane clock can honour) and static entries.

use super::locate::KeyPath;
use super::raw::RawNeighbour;
use super::validate::{Checker, Res};
use super::{ErrorKind, Neighbour, Port, StaticNeighbour};

/// Most packets held per unresolved next hop: the worker's whole hold queue
/// (`dataplane::unres::HOLD_SLOTS`; `mgmt::plan`'s tests check the two agree).
pub const MAX_UNRES_QLEN: i64 = 64;

/// Parses `aa:bb:cc:dd:ee:ff` (or with `-`), as `ip neigh` prints it.
pub(super) fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (b, p) in mac.iter_mut().zip(parts) {
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    Some(mac)
}

impl Checker<'_> {
    pub(super) fn neighbour(&self, ports: &[Port], raw: RawNeighbour) -> Res<Neighbour> {
        let np = KeyPath::root().key("neighbour");
        let d = Neighbour::default();
        let mut statics: Vec<StaticNeighbour> = Vec::new();
        for (i, st) in raw.statics.iter().enumerate() {
            let sp = np.key("static").idx(i);
            let ap = sp.key("addr");
            let addr = self.unicast(&ap, &st.addr, "neighbour")?;
            if !ports.iter().any(|p| p.on_link(addr)) {
                return Err(self.err(
                    &ap,
                    ErrorKind::Address,
                    format!("neighbour {addr} is not on a connected subnet of any port"),
                ));
            }
            if statics.iter().any(|s| s.addr == addr) {
                return Err(self.err(
                    &ap,
                    ErrorKind::Duplicate,
                    format!("static neighbour {addr} is defined twice"),
                ));
            }
            let mp = sp.key("mac");
            let mac = match parse_mac(&st.mac) {
                Some(m) if m[0] & 1 == 0 && m != [0; 6] => m,
                Some(_) => {
                    return Err(self.err(
                        &mp,
                        ErrorKind::Address,
                        format!("MAC {} is not a unicast address", st.mac),
                    ))
                }
                None => {
                    return Err(self.err(
                        &mp,
                        ErrorKind::Address,
                        format!("invalid MAC {:?} (expected aa:bb:cc:dd:ee:ff)", st.mac),
                    ))
                }
            };
            statics.push(StaticNeighbour { addr, mac });
        }
        Ok(Neighbour {
            base_reachable_time_ms: self.num(
                &np.key("base_reachable_time_ms"),
                raw.base_reachable_time_ms,
                d.base_reachable_time_ms,
                (1000, 3_600_000),
                "base_reachable_time_ms",
            )?,
            delay_first_probe_time: self.num(
                &np.key("delay_first_probe_time"),
                raw.delay_first_probe_time,
                d.delay_first_probe_time,
                (0, 3600),
                "delay_first_probe_time",
            )?,
            retrans_time_ms: self.num(
                &np.key("retrans_time_ms"),
                raw.retrans_time_ms,
                d.retrans_time_ms,
                (1000, 60_000),
                "retrans_time_ms",
            )?,
            ucast_solicit: self.num(
                &np.key("ucast_solicit"),
                raw.ucast_solicit,
                d.ucast_solicit,
                (0, 255),
                "ucast_solicit",
            )?,
            mcast_solicit: self.num(
                &np.key("mcast_solicit"),
                raw.mcast_solicit,
                d.mcast_solicit,
                (1, 255),
                "mcast_solicit",
            )?,
            mcast_resolicit: self.num(
                &np.key("mcast_resolicit"),
                raw.mcast_resolicit,
                d.mcast_resolicit,
                (0, 255),
                "mcast_resolicit",
            )?,
            gc_stale_time: self.num(
                &np.key("gc_stale_time"),
                raw.gc_stale_time,
                d.gc_stale_time,
                (1, 86_400),
                "gc_stale_time",
            )?,
            unres_qlen: self.num(
                &np.key("unres_qlen"),
                raw.unres_qlen,
                d.unres_qlen,
                (0, MAX_UNRES_QLEN),
                "unres_qlen",
            )?,
            statics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_mac;

    #[test]
    fn macs_parse_as_ip_neigh_prints_them() {
        assert_eq!(parse_mac("02:00:0a:0B:00:ff"), Some([2, 0, 10, 11, 0, 255]));
        assert_eq!(parse_mac("02-00-00-00-00-01"), Some([2, 0, 0, 0, 0, 1]));
        for bad in [
            "",
            "02:00:00:00:00",
            "02:00:00:00:00:0g",
            "2:0:0:0:0:1",
            "02:00:00:00:00:00:01",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }
}
