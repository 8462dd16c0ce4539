//! IPVS semantics of run-time changes made through the control protocol
//! (`rvs::mgmt::apply::handle`, what rvsd's management loop calls for every request),
//! with real packets through the real LB path of the DPDK-free testbed: a weight change
//! or a quiesced server affects only new connections, a deleted server's connections
//! follow `expire_nodest_conn`, a server re-added within the trash period is revived
//! (same stats, a persistent client returns to it), and `-E` changing the scheduler
//! keeps every connection.

use rvs::ctl::views::{ConnView, DestSpec, MethodView, ServiceKeyView, ServiceSpec, ServiceView};
use rvs::ctl::{Body, Request};
use rvs::dataplane::{Counter, LbPath, LbVerdict};
use rvs::lb::conn::Settings;
use rvs::mgmt::apply::{handle, handle_at, Context};
use rvs::mgmt::Manager;
use rvs::testkit::testbed::{client_tcp, director, server_tcp};
use rvs::wire::{Ipv4Packet, PacketBuf, TcpPacket};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Instant;

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const SYNACK: u8 = 0x12;

fn a(d: u8) -> Ipv4Addr {
    Ipv4Addr::new(203, 0, 113, d)
}

fn ctx() -> Context<'static> {
    Context {
        rt: None,
        started: Instant::now(),
        config_path: None,
    }
}

/// The testbed's NAT service: TCP 203.0.113.10:80 -> 203.0.113.11-.13:8080, rr.
fn web() -> ServiceKeyView {
    ServiceKeyView::Tcp {
        vip: a(10),
        port: 80,
    }
}

/// The testbed's persistent service: TCP 203.0.113.40:443, rr, -p 60.
fn tls() -> ServiceKeyView {
    ServiceKeyView::Tcp {
        vip: a(40),
        port: 443,
    }
}

fn ok(mgr: &mut Manager, req: Request) {
    assert_eq!(handle(mgr, &ctx(), req.clone()), Ok(Body::Done), "{req:?}");
}

fn nat(last: u8, weight: i32) -> DestSpec {
    DestSpec {
        addr: a(last),
        port: 8080,
        method: MethodView::Nat,
        weight,
        u_threshold: 0,
        l_threshold: 0,
    }
}

fn listed(mgr: &mut Manager, key: ServiceKeyView) -> ServiceView {
    match handle(mgr, &ctx(), Request::List { key: Some(key) }).unwrap() {
        Body::Services { mut services } => services.remove(0),
        b => panic!("{b:?}"),
    }
}

fn conns(mgr: &mut Manager, now: u32) -> Vec<ConnView> {
    match handle_at(mgr, &ctx(), Request::ListConns, now).unwrap() {
        Body::Conns { conns } => conns,
        b => panic!("{b:?}"),
    }
}

/// Sends one client packet to `vip:vport`; the real server it was forwarded to.
fn send(
    lb: &mut LbPath,
    sport: u16,
    vip: Ipv4Addr,
    vport: u16,
    flags: u8,
    now: u32,
) -> Result<Ipv4Addr, LbVerdict> {
    let mut b = client_tcp(sport, vip, vport, flags);
    match lb.handle(0, &mut b, now) {
        LbVerdict::Tx { .. } => {
            let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
            TcpPacket::new_checked(ip.payload()).unwrap();
            Ok(ip.dst_addr())
        }
        v => Err(v),
    }
}

/// Opens an ESTABLISHED NAT connection from client port `sport` (SYN, the server's
/// SYN-ACK, ACK); the server it went to.
fn establish(lb: &mut LbPath, sport: u16, now: u32) -> Ipv4Addr {
    let rip = send(lb, sport, a(10), 80, SYN, now).expect("SYN forwarded");
    let mut synack = server_tcp(rip, 8080, sport, SYNACK);
    assert!(matches!(
        lb.handle(0, &mut synack, now),
        LbVerdict::Tx { .. }
    ));
    assert_eq!(send(lb, sport, a(10), 80, ACK, now), Ok(rip));
    rip
}

/// Six ESTABLISHED connections ([`establish`]) from client ports `first..first + 6`,
/// each with its server.
fn establish_six(lb: &mut LbPath, first: u16, now: u32) -> Vec<(u16, Ipv4Addr)> {
    (0..6)
        .map(|i| (first + i, establish(lb, first + i, now)))
        .collect()
}

/// `-E` of the web service as listed with only its scheduler changed to `sched`.
fn edit_scheduler(mgr: &mut Manager, sched: &str) {
    let mut spec: ServiceSpec = listed(mgr, web()).spec;
    spec.scheduler = sched.into();
    ok(mgr, Request::EditService { service: spec });
}

/// `-d` of real server `rip`:8080 from the web service.
fn del_web_dest(mgr: &mut Manager, rip: Ipv4Addr) {
    ok(
        mgr,
        Request::DelDest {
            key: web(),
            addr: rip,
            port: 8080,
        },
    );
}

/// New connections per server, from `n` SYNs starting at client port `first`.
fn spread(lb: &mut LbPath, first: u16, n: u16, now: u32) -> BTreeMap<u8, u32> {
    let mut count = BTreeMap::new();
    for sport in first..first + n {
        let rip = send(lb, sport, a(10), 80, SYN, now).expect("scheduled");
        *count.entry(rip.octets()[3]).or_insert(0) += 1;
    }
    count
}

/// `-e` weights and `-E` to wrr change where new connections go, exactly as the
/// weights say; connections opened before keep their server.
#[test]
fn weight_changes_affect_only_new_connections() {
    let (mut lb, mut mgr) = director(4096, "rr");
    let old = establish_six(&mut lb, 41000, 1);
    edit_scheduler(&mut mgr, "wrr");
    ok(
        &mut mgr,
        Request::EditDest {
            key: web(),
            dest: nat(11, 3),
        },
    );
    ok(
        &mut mgr,
        Request::EditDest {
            key: web(),
            dest: nat(13, 0),
        },
    );
    let count = spread(&mut lb, 42000, 40, 2);
    assert_eq!(count, BTreeMap::from([(11, 30), (12, 10)]), "3:1:0");
    for &(sport, rip) in &old {
        assert_eq!(
            send(&mut lb, sport, a(10), 80, ACK, 2),
            Ok(rip),
            "old connection {sport} kept its server"
        );
    }
    let view = listed(&mut mgr, web());
    let d13 = view.dests.iter().find(|d| d.addr == a(13)).unwrap();
    assert_eq!(d13.weight, 0);
    assert_eq!(
        d13.active_conns, 2,
        "the quiesced server keeps its ESTABLISHED connections"
    );
}

/// A quiesced server (weight 0) takes no new connection but keeps its old ones;
/// weight back to 1 and it takes new ones again.
#[test]
fn a_quiesced_server_keeps_old_connections_and_takes_no_new_one() {
    let (mut lb, mut mgr) = director(4096, "rr");
    let mut by_server = BTreeMap::new();
    for i in 0..3 {
        by_server.insert(establish(&mut lb, 43000 + i, 1), 43000 + i);
    }
    let sport_12 = by_server[&a(12)];
    ok(
        &mut mgr,
        Request::EditDest {
            key: web(),
            dest: nat(12, 0),
        },
    );
    let count = spread(&mut lb, 44000, 30, 2);
    assert!(!count.contains_key(&12), "{count:?}");
    assert_eq!(send(&mut lb, sport_12, a(10), 80, ACK, 2), Ok(a(12)));
    ok(
        &mut mgr,
        Request::EditDest {
            key: web(),
            dest: nat(12, 1),
        },
    );
    let count = spread(&mut lb, 45000, 30, 3);
    assert_eq!(count.get(&12), Some(&10), "{count:?}");
}

/// `-d` of a server with `expire_nodest_conn` off (IPVS's default): its connection
/// stays in the table (listed by `-Lc`) and its packets are dropped
/// (`drop_dest_unavailable`, as IPVS drops packets of a conn whose dest is not
/// available); re-adding it (`-a`) within the trash period revives the same server:
/// the connection flows to it again and its stats carry on.
#[test]
fn deleted_server_keeps_its_connections_until_re_added_with_expire_nodest_conn_off() {
    let (mut lb, mut mgr) = director(4096, "rr");
    let rip = establish(&mut lb, 46000, 1);
    let last = rip.octets()[3];
    let before = listed(&mut mgr, web());
    let stats_before = before.dests.iter().find(|d| d.addr == rip).unwrap().stats;
    assert_eq!((stats_before.conns, stats_before.inpkts), (1, 2));
    del_web_dest(&mut mgr, rip);
    assert!(listed(&mut mgr, web()).dests.iter().all(|d| d.addr != rip));
    assert_eq!(
        send(&mut lb, 46000, a(10), 80, ACK, 2),
        Err(LbVerdict::Drop(Counter::DropDestUnavailable))
    );
    let live = conns(&mut mgr, 2);
    assert!(
        live.iter()
            .any(|c| c.client_port == 46000 && c.daddr == rip && c.state == "ESTABLISHED"),
        "{live:?}"
    );
    let count = spread(&mut lb, 47000, 20, 2);
    assert!(
        !count.contains_key(&last),
        "no new connection to a deleted server"
    );
    ok(
        &mut mgr,
        Request::AddDest {
            key: web(),
            dest: nat(last, 1),
        },
    );
    assert_eq!(send(&mut lb, 46000, a(10), 80, ACK, 3), Ok(rip), "revived");
    let after = listed(&mut mgr, web());
    let d = after.dests.iter().find(|d| d.addr == rip).unwrap();
    assert_eq!(d.stats.conns, 1, "the same server, its stats carried on");
    assert_eq!(d.stats.inpkts, 3, "SYN, ACK, and the ACK after revival");
    assert_eq!(d.active_conns, 1);
}

/// With `expire_nodest_conn` on, a deleted server's connection is expired at its
/// next packet: gone from `-Lc`, the packet not forwarded to the deleted server.
#[test]
fn deleted_server_s_connection_expires_at_its_next_packet_with_expire_nodest_conn_on() {
    let (mut lb, mut mgr) = director(4096, "rr");
    mgr.conns().set_settings(Settings {
        expire_nodest_conn: true,
        ..mgr.conns().settings()
    });
    let rip = establish(&mut lb, 48000, 1);
    del_web_dest(&mut mgr, rip);
    assert!(conns(&mut mgr, 2).iter().any(|c| c.client_port == 48000));
    let sent = send(&mut lb, 48000, a(10), 80, ACK, 2);
    assert_ne!(sent, Ok(rip), "never forwarded to the deleted server");
    assert!(
        !conns(&mut mgr, 2)
            .iter()
            .any(|c| c.client_port == 48000 && c.daddr == rip),
        "expired"
    );
}

/// A persistent client whose server is deleted and re-added within the trash period
/// returns to it (its template survived), and `-Lc` lists the template.
#[test]
fn persistent_client_returns_to_a_re_added_server() {
    let (mut lb, mut mgr) = director(4096, "rr");
    let rip = send(&mut lb, 49000, a(40), 443, SYN, 1).unwrap();
    let template = |mgr: &mut Manager| {
        conns(mgr, 1)
            .into_iter()
            .find(|c| c.template && c.vport == 443)
            .map(|c| (c.client_port, c.daddr, c.state))
    };
    assert_eq!(template(&mut mgr), Some((0, rip, "NONE".to_string())));
    let d = listed(&mut mgr, tls())
        .dests
        .into_iter()
        .find(|d| d.addr == rip)
        .unwrap();
    assert_eq!(d.persistent_conns, 1);
    ok(
        &mut mgr,
        Request::DelDest {
            key: tls(),
            addr: rip,
            port: d.port,
        },
    );
    ok(
        &mut mgr,
        Request::AddDest {
            key: tls(),
            dest: DestSpec {
                addr: rip,
                port: d.port,
                method: d.method,
                weight: 1,
                u_threshold: 0,
                l_threshold: 0,
            },
        },
    );
    for sport in 49001..49005 {
        assert_eq!(
            send(&mut lb, sport, a(40), 443, SYN, 1),
            Ok(rip),
            "pinned by its template"
        );
    }
    let again = listed(&mut mgr, tls())
        .dests
        .into_iter()
        .find(|d| d.addr == rip)
        .unwrap();
    assert_eq!(again.persistent_conns, 1, "the same template");
    assert_eq!(again.stats.conns, 5, "stats carried on across -d/-a");
}

/// `-E` changing the scheduler (rr -> wlc -> sh) keeps every connection on its server
/// and in the table.
#[test]
fn changing_the_scheduler_keeps_connections() {
    let (mut lb, mut mgr) = director(4096, "rr");
    let old = establish_six(&mut lb, 50000, 1);
    let before = conns(&mut mgr, 1);
    for sched in ["wlc", "sh"] {
        edit_scheduler(&mut mgr, sched);
        assert_eq!(conns(&mut mgr, 1), before, "{sched}: the table untouched");
        for &(sport, rip) in &old {
            assert_eq!(send(&mut lb, sport, a(10), 80, ACK, 1), Ok(rip), "{sched}");
        }
    }
    assert_eq!(
        listed(&mut mgr, web())
            .dests
            .iter()
            .map(|d| d.active_conns)
            .sum::<u32>(),
        6
    );
}
