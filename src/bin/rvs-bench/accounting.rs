//! Every packet a scenario offered must be accounted for, or its figures mean nothing:
//! a loop that loses packets without counting them looks faster than it is. After the
//! workers and the generator have stopped (so nothing is in flight), the bench checks
//!
//! - conservation: offered + generated = delivered + dropped + local + still queued, where
//!   `offered` is what the generator put on RX rings, `generated` what the loop sent on
//!   its own (ARP requests, gratuitous ARP, kernel packets), `delivered` what came out of
//!   the TX rings (taken back by the generator, or still in them), `dropped` the sum of
//!   every `drop_*` counter (including `drop_tx_full`), `local` what went to the kernel
//!   or was consumed, and `still queued` what is left on RX rings;
//! - transmit side: `tx_pkts` (what the loop handed to TX queues) = delivered +
//!   `drop_tx_full`.
//!
//! A mismatch fails the run (non-zero exit, message naming every term).

use rvs::dataplane::{Counter, WorkerCounters};
use std::sync::Arc;

/// What the generator saw, once every thread has stopped.
#[derive(Clone, Copy, Debug, Default)]
pub struct Generated {
    /// Packets enqueued on RX rings.
    pub offered: u64,
    /// Packets taken back from TX rings.
    pub returned: u64,
    /// Packets left on RX rings.
    pub queued_rx: u64,
    /// Packets left on TX rings.
    pub queued_tx: u64,
}

/// The terms of the two equations, for the report and the JSON.
#[derive(Clone, Copy, Debug, Default)]
pub struct Accounts {
    /// Offered to the loop.
    pub offered: u64,
    /// Sent by the loop on its own.
    pub generated: u64,
    /// Came out of the TX rings.
    pub delivered: u64,
    /// Every `drop_*` counter.
    pub dropped: u64,
    /// To the kernel or consumed.
    pub local: u64,
    /// Left on RX rings.
    pub queued: u64,
    /// Handed to TX queues by the loop.
    pub tx_pkts: u64,
    /// Of those, refused by the TX ring.
    pub drop_tx_full: u64,
}

fn sum(counters: &[Arc<WorkerCounters>], c: Counter) -> u64 {
    counters.iter().map(|w| w.get(c)).sum()
}

impl Accounts {
    /// Collects the terms from the generator's report and the workers' counters.
    pub fn collect(g: Generated, counters: &[Arc<WorkerCounters>]) -> Accounts {
        let dropped = Counter::ALL
            .iter()
            .filter(|c| c.name().starts_with("drop_"))
            .map(|&c| sum(counters, c))
            .sum();
        Accounts {
            offered: g.offered,
            generated: [
                Counter::ArpRequests,
                Counter::GratuitousArps,
                Counter::FromKernel,
            ]
            .iter()
            .map(|&c| sum(counters, c))
            .sum(),
            delivered: g.returned + g.queued_tx,
            dropped,
            local: sum(counters, Counter::ToKernel) + sum(counters, Counter::Consumed),
            queued: g.queued_rx,
            tx_pkts: sum(counters, Counter::TxPkts),
            drop_tx_full: sum(counters, Counter::DropTxFull),
        }
    }

    /// Ok when both equations hold; otherwise the text saying by how much they miss.
    pub fn check(&self) -> Result<(), String> {
        let a = self;
        let ins = a.offered + a.generated;
        let outs = a.delivered + a.dropped + a.local + a.queued;
        let mut bad = Vec::new();
        if ins != outs {
            bad.push(format!(
                "offered {} + generated {} = {ins}, but delivered {} + dropped {} + local {} + \
                 still queued {} = {outs} ({} packet(s) {})",
                a.offered,
                a.generated,
                a.delivered,
                a.dropped,
                a.local,
                a.queued,
                ins.abs_diff(outs),
                if ins > outs {
                    "vanished uncounted"
                } else {
                    "appeared from nowhere"
                }
            ));
        }
        if a.tx_pkts != a.delivered + a.drop_tx_full {
            bad.push(format!(
                "tx_pkts {} != delivered {} + drop_tx_full {}",
                a.tx_pkts, a.delivered, a.drop_tx_full
            ));
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(bad.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_accounts_pass_and_one_lost_packet_fails() {
        let ok = Accounts {
            offered: 100,
            generated: 1,
            delivered: 90,
            dropped: 5,
            local: 2,
            queued: 4,
            tx_pkts: 92,
            drop_tx_full: 2,
        };
        assert!(ok.check().is_ok());
        let lost = Accounts {
            delivered: 89,
            tx_pkts: 91,
            ..ok
        };
        let e = lost.check().unwrap_err();
        assert!(e.contains("1 packet(s) vanished uncounted"), "{e}");
        let tx = Accounts { tx_pkts: 93, ..ok };
        assert!(tx.check().unwrap_err().contains("tx_pkts 93"));
    }
}
