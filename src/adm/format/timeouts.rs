//! `ipvsadm -L --timeout` (IPVSADM.md §3.6).

use crate::ctl::views::TimeoutsView;

/// `Timeout (tcp tcpfin udp): 900 120 300`: TCP ESTABLISHED, TCP FIN_WAIT and UDP
/// timeouts in seconds, as ipvsadm's `list_timeout`.
pub fn timeouts(t: &TimeoutsView) -> String {
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        t.tcp, t.tcpfin, t.udp
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adm::format::testdata::oracle_blocks;

    #[test]
    fn as_recorded() {
        assert_eq!(
            timeouts(&TimeoutsView {
                tcp: 900,
                tcpfin: 120,
                udp: 300
            }),
            "Timeout (tcp tcpfin udp): 900 120 300\n"
        );
        // tests/fixtures/oracle/conn: `ipvsadm --set 100 50 40` then `-L --timeout`.
        let recorded = oracle_blocks("Timeout (tcp tcpfin udp)");
        assert!(!recorded.is_empty());
        assert!(recorded.contains(&timeouts(&TimeoutsView {
            tcp: 100,
            tcpfin: 50,
            udp: 40
        })));
    }
}
