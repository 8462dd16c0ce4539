//! Marks without netfilter: rvs cannot run `iptables -j MARK`, so a mark (the `N` of
//! an `ipvsadm -f N` service) is defined by match rules on the packet's protocol,
//! destination address (or prefix) and destination port (or range). The first
//! matching rule, in the order rules were added, gives the packet its mark, as the
//! first matching `-j MARK` rule would in a mangle chain.
//!
//! [`MarkTable::classify`] runs per packet on workers: a linear scan over a small
//! `Vec` of precomputed masks, no allocation, no panic. The table lives inside the
//! published snapshot next to the services, so it is read-only for workers.

use std::net::Ipv4Addr;

/// One rule: what a packet must look like to get `mark`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarkRule {
    /// The mark given (the `-f` service number), 1..=u32::MAX.
    pub mark: u32,
    /// IP protocol to match; `None` = any protocol (TCP and UDP alike).
    pub proto: Option<u8>,
    /// Destination network address.
    pub daddr: Ipv4Addr,
    /// Destination prefix length, 0..=32 (32 = one VIP).
    pub prefix_len: u8,
    /// Lowest destination port matched.
    pub dport_min: u16,
    /// Highest destination port matched (`0..=65535` = any port).
    pub dport_max: u16,
}

impl MarkRule {
    /// A rule for every port of one VIP, any protocol.
    pub fn vip(mark: u32, daddr: Ipv4Addr) -> Self {
        MarkRule {
            mark,
            proto: None,
            daddr,
            prefix_len: 32,
            dport_min: 0,
            dport_max: u16::MAX,
        }
    }
}

/// A rule that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkError {
    /// Mark 0 means "no mark".
    #[error("invalid fwmark value `0' specified")]
    ZeroMark,
    /// Prefix longer than 32 bits.
    #[error("illegal mark prefix length {0}")]
    BadPrefix(u8),
    /// Port range upside down.
    #[error("illegal mark port range {0}-{1}")]
    BadPorts(u16, u16),
}

#[derive(Clone, Copy, Debug)]
struct Compiled {
    rule: MarkRule,
    net: u32,
    mask: u32,
}

/// The ordered mark rules.
#[derive(Clone, Debug, Default)]
pub struct MarkTable {
    rules: Vec<Compiled>,
}

impl MarkTable {
    /// No rules: no packet is marked.
    pub fn new() -> Self {
        MarkTable::default()
    }

    /// Appends `rule` (it matches after every earlier rule).
    pub fn add(&mut self, rule: MarkRule) -> Result<(), MarkError> {
        if rule.mark == 0 {
            return Err(MarkError::ZeroMark);
        }
        if rule.prefix_len > 32 {
            return Err(MarkError::BadPrefix(rule.prefix_len));
        }
        if rule.dport_min > rule.dport_max {
            return Err(MarkError::BadPorts(rule.dport_min, rule.dport_max));
        }
        let mask = if rule.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(rule.prefix_len))
        };
        self.rules.push(Compiled {
            rule,
            net: u32::from(rule.daddr) & mask,
            mask,
        });
        Ok(())
    }

    /// Removes every rule of `mark`.
    pub fn remove_mark(&mut self, mark: u32) {
        self.rules.retain(|c| c.rule.mark != mark);
    }

    /// Removes the first rule equal to `rule`; false when there is none.
    pub fn remove(&mut self, rule: &MarkRule) -> bool {
        match self.rules.iter().position(|c| c.rule == *rule) {
            Some(i) => {
                self.rules.remove(i);
                true
            }
            None => false,
        }
    }

    /// The rules in match order.
    pub fn rules(&self) -> impl Iterator<Item = &MarkRule> {
        self.rules.iter().map(|c| &c.rule)
    }

    /// The marks of every rule matching `proto` and `daddr` on some port (for a
    /// fragment, which has no port). No allocation.
    pub fn marks_of_addr(&self, proto: u8, daddr: Ipv4Addr) -> impl Iterator<Item = u32> + '_ {
        let a = u32::from(daddr);
        self.rules
            .iter()
            .filter(move |c| c.rule.proto.is_none_or(|p| p == proto) && a & c.mask == c.net)
            .map(|c| c.rule.mark)
    }

    /// Per packet: the mark of the first matching rule, if any.
    #[inline]
    pub fn classify(&self, proto: u8, daddr: Ipv4Addr, dport: u16) -> Option<u32> {
        let a = u32::from(daddr);
        self.rules
            .iter()
            .find(|c| {
                c.rule.proto.is_none_or(|p| p == proto)
                    && a & c.mask == c.net
                    && (c.rule.dport_min..=c.rule.dport_max).contains(&dport)
            })
            .map(|c| c.rule.mark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::flow::proto::{TCP, UDP};

    #[test]
    fn first_match_wins() {
        let mut t = MarkTable::new();
        let vip = Ipv4Addr::new(203, 0, 113, 10);
        t.add(MarkRule {
            proto: Some(TCP),
            dport_min: 80,
            dport_max: 80,
            ..MarkRule::vip(1, vip)
        })
        .unwrap();
        t.add(MarkRule {
            prefix_len: 24,
            dport_min: 1000,
            dport_max: 2000,
            ..MarkRule::vip(2, vip)
        })
        .unwrap();
        t.add(MarkRule::vip(3, vip)).unwrap();
        assert_eq!(t.classify(TCP, vip, 80), Some(1));
        assert_eq!(t.classify(UDP, vip, 80), Some(3));
        assert_eq!(
            t.classify(UDP, Ipv4Addr::new(203, 0, 113, 99), 1500),
            Some(2)
        );
        assert_eq!(t.classify(UDP, Ipv4Addr::new(203, 0, 113, 99), 999), None);
        t.remove_mark(2);
        assert_eq!(t.classify(TCP, Ipv4Addr::new(203, 0, 113, 99), 1500), None);
    }

    #[test]
    fn bad_rules_refused() {
        let vip = Ipv4Addr::new(203, 0, 113, 10);
        let mut t = MarkTable::new();
        assert_eq!(t.add(MarkRule::vip(0, vip)), Err(MarkError::ZeroMark));
        assert_eq!(
            t.add(MarkRule {
                prefix_len: 33,
                ..MarkRule::vip(1, vip)
            }),
            Err(MarkError::BadPrefix(33))
        );
        assert_eq!(
            t.add(MarkRule {
                dport_min: 9,
                dport_max: 1,
                ..MarkRule::vip(1, vip)
            }),
            Err(MarkError::BadPorts(9, 1))
        );
        let mut all = MarkTable::new();
        all.add(MarkRule {
            prefix_len: 0,
            ..MarkRule::vip(5, vip)
        })
        .unwrap();
        assert_eq!(all.classify(TCP, Ipv4Addr::new(192, 0, 2, 1), 1), Some(5));
    }
}
