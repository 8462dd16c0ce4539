//! What rvsd routes that is not load-balancer traffic (issue 10 item 6): the real
//! servers' own outbound flows through a NAT director, traffic from outside straight to
//! a real server's address, anything else that reaches the appliance's `forward`. The
//! operator chooses (`[routing] transit`, `[[port]] inside`, configs/README.md); rvsd's
//! default is [`TransitMode::None`], the safe one for an appliance in front of private
//! servers: it is a load balancer, not an open router (docs/DROPS.md, `drop_transit`).
//!
//! Load-balancer traffic (packets of a connection, ICMP errors about one) never comes
//! here: the LB path forwards it itself. Neither does what the kernel sends through the
//! exception path.

use super::route::PortIdx;
use std::sync::Arc;

/// Which transit packets are routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransitMode {
    /// None: every packet that is neither for the director nor load-balancer traffic
    /// is dropped (`drop_transit`). rvsd's default.
    None,
    /// Only what arrives on an inside port and leaves by a port that is not inside:
    /// the real servers reaching DNS, NTP or updates through a NAT director, while
    /// nothing from outside reaches them except through a virtual service.
    Outbound,
    /// Everything with a route, as a plain router (rvs before issue 10).
    All,
}

/// The transit policy: the mode and which ports are inside (the private side).
#[derive(Clone, Debug)]
pub struct Transit {
    mode: TransitMode,
    /// Indexed by `PortIdx`; a port beyond it is not inside.
    inside: Arc<[bool]>,
}

impl Default for Transit {
    /// Routes everything ([`TransitMode::All`]): what a bare `Net` does for tests and
    /// tools; rvsd always sets the configured policy (default `none`).
    fn default() -> Self {
        Transit::new(TransitMode::All, Vec::new())
    }
}

impl Transit {
    /// `mode`, with `inside[i]` true for each inside port `i`.
    pub fn new(mode: TransitMode, inside: Vec<bool>) -> Self {
        Transit {
            mode,
            inside: inside.into(),
        }
    }

    /// The mode.
    pub fn mode(&self) -> TransitMode {
        self.mode
    }

    /// True when port `p` is inside.
    #[inline]
    pub fn is_inside(&self, p: PortIdx) -> bool {
        self.inside.get(usize::from(p)).copied().unwrap_or(false)
    }

    /// True when a transit packet received on `in_port` may leave by `out_port`.
    #[inline]
    pub fn allows(&self, in_port: PortIdx, out_port: PortIdx) -> bool {
        match self.mode {
            TransitMode::None => false,
            TransitMode::Outbound => self.is_inside(in_port) && !self.is_inside(out_port),
            TransitMode::All => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_table() {
        // Port 0 outside, port 1 inside, port 2 outside.
        let inside = vec![false, true, false];
        for (mode, from, to, ok) in [
            (TransitMode::None, 1, 0, false),
            (TransitMode::None, 0, 1, false),
            (TransitMode::Outbound, 1, 0, true),
            (TransitMode::Outbound, 1, 2, true),
            (TransitMode::Outbound, 0, 1, false),
            (TransitMode::Outbound, 0, 2, false),
            (TransitMode::Outbound, 1, 1, false),
            (TransitMode::Outbound, 9, 0, false),
            (TransitMode::All, 0, 1, true),
            (TransitMode::All, 0, 0, true),
        ] {
            let t = Transit::new(mode, inside.clone());
            assert_eq!(t.allows(from, to), ok, "{mode:?} {from} -> {to}");
        }
        assert!(Transit::default().allows(0, 0));
    }
}
