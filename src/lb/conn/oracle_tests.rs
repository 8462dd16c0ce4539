//! Replays, packet by packet, the TCP/UDP exchanges that
//! `tests/fixtures/oracle/conn/record.sh` made against real IPVS (Linux 6.1,
//! ipvsadm 1.31), and checks our table lists each connection with the state
//! and timer `ipvsadm -Lnc` showed at that step (`recording.txt`).
//! The recorded timers ran on a slow emulated VM, so they trail ours by the
//! seconds that passed between the packet and the snapshot (≤ 5 here).

use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::lb::conn::{ConnTable, DestId, Lookup, NewConn, TcpFlags, TemplateKey, TimeoutTriple};
use crate::lb::dest::{Dest, Fwd};
use crate::lb::flow::{proto, FlowKey};

const RECORDING: &str = include_str!("../../../tests/fixtures/oracle/conn/recording.txt");

const C: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const RIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const S: TcpFlags = TcpFlags::SYN;
const A: TcpFlags = TcpFlags::ACK;
const SA: TcpFlags = TcpFlags(0x12);
const FA: TcpFlags = TcpFlags(0x11);
const PA: TcpFlags = TcpFlags(0x18);
const RA: TcpFlags = TcpFlags(0x14);

/// (state, expire secs) of the row for `cport` → `vport` in recorded step `step`.
fn recorded(step: &str, cport: u16, vport: u16) -> (String, u32) {
    let mut in_step = false;
    for line in RECORDING.lines() {
        if let Some(name) = line.strip_prefix("### ") {
            in_step = name == step;
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if !in_step || f.len() != 6 || f[0] == "pro" {
            continue;
        }
        if f[3] == format!("{C}:{cport}") && f[4] == format!("{VIP}:{vport}") {
            let (m, s) = f[1].split_once(':').unwrap();
            return (
                f[2].to_string(),
                m.parse::<u32>().unwrap() * 60 + s.parse::<u32>().unwrap(),
            );
        }
    }
    panic!("no row for {cport}->{vport} in step {step:?}");
}

struct Lab {
    t: ConnTable,
    id: DestId,
    now: u32,
}

impl Lab {
    fn new() -> Self {
        let t = ConnTable::new(1024).unwrap();
        let d = Arc::new(Dest::new(RIP, 0, Fwd::Nat, 1));
        let id = t.register_dest(&d).unwrap();
        Lab { t, id, now: 1000 }
    }
    /// Client → VIP packet; creates the entry on a miss or reschedule.
    fn cin(&mut self, p: u8, cport: u16, vport: u16, fwd: Fwd, f: TcpFlags, tpl: bool) {
        let pkt = FlowKey {
            proto: p,
            saddr: C,
            sport: cport,
            daddr: VIP,
            dport: vport,
        };
        match self.t.lookup(&pkt, f, self.now) {
            Lookup::Hit(_) => {}
            Lookup::Miss | Lookup::Reschedule => {
                let template = tpl.then(|| {
                    let k = TemplateKey::new(p, C, Ipv4Addr::BROADCAST, VIP, vport);
                    match self.t.template_lookup(&k, self.now) {
                        Some(h) => h.template,
                        None => self
                            .t
                            .template_insert(&k, self.id, vport, 30, self.now)
                            .unwrap(),
                    }
                });
                let nc = NewConn {
                    proto: p,
                    caddr: C,
                    cport,
                    vaddr: VIP,
                    vport,
                    raddr: RIP,
                    rport: vport,
                    fwd,
                    dest: self.id,
                };
                self.t.insert(&nc, f, template, self.now).unwrap();
            }
            other => panic!("{other:?}"),
        }
    }
    /// Real server → client packet (NAT).
    fn sout(&mut self, p: u8, cport: u16, vport: u16, f: TcpFlags) {
        let pkt = FlowKey {
            proto: p,
            saddr: RIP,
            sport: vport,
            daddr: C,
            dport: cport,
        };
        assert!(
            matches!(self.t.lookup(&pkt, f, self.now), Lookup::Hit(_)),
            "reply {cport}"
        );
    }
    fn check(&self, step: &str, cport: u16, vport: u16) {
        let (want_state, want_secs) = recorded(step, cport, vport);
        let rows = self.t.snapshot(self.now);
        let e = rows
            .iter()
            .find(|e| e.cport == cport && e.vport == vport)
            .unwrap_or_else(|| panic!("{step}: no entry {cport}->{vport}"));
        assert_eq!(e.state.name(), want_state, "{step}");
        assert!(
            want_secs <= e.expire_secs && e.expire_secs - want_secs <= 5,
            "{step}: ours {} s, ipvs {} s",
            e.expire_secs,
            want_secs
        );
    }
}

#[test]
fn nat_and_dr_tcp_states_match_real_ipvs() {
    let mut l = Lab::new();
    let (nat, dr) = (Fwd::Nat, Fwd::Dr);
    let tcp = proto::TCP;
    // NAT :80, client closes first.
    l.cin(tcp, 40800, 80, nat, S, false);
    l.sout(tcp, 40800, 80, SA);
    l.cin(tcp, 40800, 80, nat, A, false);
    l.check("nat established", 40800, 80);
    l.cin(tcp, 40800, 80, nat, FA, false);
    l.sout(tcp, 40800, 80, A);
    l.check("nat client fin", 40800, 80);
    l.sout(tcp, 40800, 80, FA);
    l.cin(tcp, 40800, 80, nat, A, false);
    l.check("nat server fin after client fin", 40800, 80);
    // NAT RST from the client.
    for f in [S, A, RA] {
        if f == A {
            l.sout(tcp, 40801, 80, SA);
        }
        l.cin(tcp, 40801, 80, nat, f, false);
    }
    l.check("nat client rst", 40801, 80);
    // NAT, server closes first.
    l.cin(tcp, 40802, 80, nat, S, false);
    l.sout(tcp, 40802, 80, SA);
    l.cin(tcp, 40802, 80, nat, A, false);
    l.cin(tcp, 40802, 80, nat, PA, false);
    l.sout(tcp, 40802, 80, A);
    l.sout(tcp, 40802, 80, FA);
    l.cin(tcp, 40802, 80, nat, A, false);
    l.cin(tcp, 40802, 80, nat, FA, false);
    l.sout(tcp, 40802, 80, A);
    l.check("nat server closed first", 40802, 80);
    // New SYN from the same port on the TIME_WAIT entry: rescheduled, fresh entry.
    let pkt = FlowKey {
        proto: tcp,
        saddr: C,
        sport: 40802,
        daddr: VIP,
        dport: 80,
    };
    assert_eq!(l.t.lookup(&pkt, S, l.now), Lookup::Reschedule);
    l.cin(tcp, 40802, 80, nat, S, false);
    l.sout(tcp, 40802, 80, SA);
    l.cin(tcp, 40802, 80, nat, A, false);
    l.check("nat syn reusing closed entry", 40802, 80);

    // DR :81: the director sees the client's packets only.
    l.cin(tcp, 40810, 81, dr, S, false);
    l.cin(tcp, 40810, 81, dr, A, false);
    l.check("dr established", 40810, 81);
    l.cin(tcp, 40810, 81, dr, FA, false);
    l.check("dr client fin", 40810, 81);
    l.cin(tcp, 40810, 81, dr, A, false);
    l.check("dr server fin after client fin", 40810, 81);
    for f in [S, A, RA] {
        l.cin(tcp, 40811, 81, dr, f, false);
    }
    l.check("dr client rst", 40811, 81);
    for f in [S, A, PA, A, FA] {
        l.cin(tcp, 40812, 81, dr, f, false);
    }
    l.check("dr server closed first", 40812, 81);
    // FIN_WAIT is not reused with conn_reuse_mode 1: the SYN reopens the entry.
    let pkt = FlowKey {
        proto: tcp,
        saddr: C,
        sport: 40812,
        daddr: VIP,
        dport: 81,
    };
    assert!(matches!(l.t.lookup(&pkt, S, l.now), Lookup::Hit(_)));
    l.cin(tcp, 40812, 81, dr, A, false);
    l.check("dr syn reusing closed entry", 40812, 81);

    // NAT :83 with nothing listening: the server's RST closes it.
    l.cin(tcp, 40830, 83, nat, S, false);
    l.sout(tcp, 40830, 83, RA);
    l.check("nat refused (111)", 40830, 83);
}

#[test]
fn persistence_udp_and_set_match_real_ipvs() {
    let mut l = Lab::new();
    let tcp = proto::TCP;
    let nat = Fwd::Nat;
    // :82 persistent 30 s.
    l.cin(tcp, 40820, 82, nat, S, true);
    l.sout(tcp, 40820, 82, SA);
    l.cin(tcp, 40820, 82, nat, A, true);
    l.check("persist established", 40820, 82);
    l.check("persist established", 0, 82); // the template: ASSURED, 30 s
    l.cin(tcp, 40820, 82, nat, FA, true);
    l.sout(tcp, 40820, 82, A);
    l.now += 3; // the server closes a moment later; packets do not re-arm the template
    l.sout(tcp, 40820, 82, FA);
    l.cin(tcp, 40820, 82, nat, A, true);
    l.check("persist closed", 40820, 82);
    l.check("persist closed", 0, 82);
    // UDP :53.
    l.cin(proto::UDP, 40530, 53, nat, TcpFlags::NONE, false);
    l.sout(proto::UDP, 40530, 53, TcpFlags::NONE);
    l.check("udp reply", 40530, 53);
    // ipvsadm --set 100 50 40.
    l.t.timeouts().set(TimeoutTriple {
        tcp_secs: 100,
        tcpfin_secs: 50,
        udp_secs: 40,
    });
    l.cin(tcp, 40900, 80, nat, S, false);
    l.sout(tcp, 40900, 80, SA);
    l.cin(tcp, 40900, 80, nat, A, false);
    l.check("after set 100 50 40: nat established", 40900, 80);
    // On the slow VM the server's delayed close had already happened by the
    // snapshot (TIME_WAIT with a fresh 01:59), so both FINs are replayed.
    l.cin(tcp, 40900, 80, nat, FA, false);
    l.sout(tcp, 40900, 80, A);
    l.sout(tcp, 40900, 80, FA);
    l.cin(tcp, 40900, 80, nat, A, false);
    l.check("after set 100 50 40: nat client fin", 40900, 80);
    l.cin(proto::UDP, 40530, 53, nat, TcpFlags::NONE, false);
    l.sout(proto::UDP, 40530, 53, TcpFlags::NONE);
    l.check("after set 100 50 40: udp reply", 40530, 53);
    let t = l.t.timeouts().get();
    let line = format!(
        "Timeout (tcp tcpfin udp): {} {} {}",
        t.tcp_secs, t.tcpfin_secs, t.udp_secs
    );
    assert!(RECORDING.lines().any(|x| x == line), "{line}");
}
