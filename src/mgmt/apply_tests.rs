//! Unit tests of [`super::handle`] on the testbed's Manager (real tables, real LB path).

use super::*;
use crate::ctl::views::{MethodView, ServiceView};
use crate::testkit::testbed;

fn ctx() -> Context<'static> {
    Context {
        rt: None,
        started: Instant::now(),
        config_path: None,
    }
}

fn tcp(last: u8, port: u16) -> ServiceKeyView {
    ServiceKeyView::Tcp {
        vip: Ipv4Addr::new(203, 0, 113, last),
        port,
    }
}

fn list_all(mgr: &mut Manager) -> Vec<ServiceView> {
    match handle(mgr, &ctx(), Request::List { key: None }).unwrap() {
        Body::Services { services } => services,
        b => panic!("not a listing: {b:?}"),
    }
}

#[test]
fn list_shows_every_service_in_insertion_order_with_dests_newest_first() {
    let (_net, mut mgr) = testbed::setup(64, "rr");
    let all = list_all(&mut mgr);
    assert_eq!(all.len(), mgr.services().services().len());
    let nat = all.iter().find(|s| s.spec.key == tcp(10, 80)).unwrap();
    assert_eq!(nat.spec.scheduler, "rr");
    let addrs: Vec<_> = nat.dests.iter().map(|d| d.addr.octets()[3]).collect();
    assert_eq!(addrs, [13, 12, 11], "IPVS list order, newest first");
    assert!(nat
        .dests
        .iter()
        .all(|d| d.method == MethodView::Nat && d.port == 8080));
    let spec = ServiceSpec {
        key: tcp(99, 80),
        scheduler: "wlc".into(),
        flags: vec![],
        persistent: Some(360),
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        ops: false,
    };
    handle(
        &mut mgr,
        &ctx(),
        Request::AddService {
            service: spec.clone(),
        },
    )
    .unwrap();
    let all = list_all(&mut mgr);
    assert_eq!(all.last().unwrap().spec, spec, "added last, listed last");
    let one = handle(
        &mut mgr,
        &ctx(),
        Request::List {
            key: Some(tcp(99, 80)),
        },
    )
    .unwrap();
    assert!(
        matches!(one, Body::Services { services } if services.len() == 1 && services[0].spec == spec)
    );
    let e = handle(
        &mut mgr,
        &ctx(),
        Request::List {
            key: Some(tcp(98, 80)),
        },
    )
    .unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::Refused, "No such service")
    );
}

#[test]
fn status_without_a_data_plane_counts_services_and_the_table() {
    let (_net, mut mgr) = testbed::setup(64, "rr");
    let path = std::path::PathBuf::from("/etc/rvs/rvs.toml");
    let c = Context {
        rt: None,
        started: Instant::now(),
        config_path: Some(&path),
    };
    let Body::Status(s) = handle(&mut mgr, &c, Request::Status).unwrap() else {
        panic!("not a status");
    };
    assert_eq!(s.services, mgr.services().services().len());
    assert_eq!((s.conns, s.max_conns), (0, 64));
    assert_eq!(s.config_file, "/etc/rvs/rvs.toml");
    assert_eq!(s.version, crate::version::VERSION);
    assert!(s.ports.is_empty() && s.workers.is_empty() && s.drops.is_empty());
}

fn run(mgr: &mut Manager, req: Request) -> Result<Body, CtlError> {
    handle(mgr, &ctx(), req)
}

fn ok(mgr: &mut Manager, req: Request) {
    assert_eq!(run(mgr, req.clone()), Ok(Body::Done), "{req:?}");
}

/// The request is refused with exactly `text` (ipvsadm's words) and changes nothing:
/// no table published, the listing (counters included) as before.
fn refused_as(mgr: &mut Manager, req: Request, text: &str) {
    let gens = mgr.generations();
    let before = list_all(mgr);
    let timeouts = mgr.conns().timeouts().get();
    let e = run(mgr, req.clone()).unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::Refused, text),
        "{req:?}"
    );
    assert_eq!(mgr.generations(), gens, "{req:?} published nothing");
    assert_eq!(list_all(mgr), before, "{req:?} changed nothing");
    assert_eq!(mgr.conns().timeouts().get(), timeouts, "{req:?}");
}

fn spec(key: ServiceKeyView, sched: &str) -> ServiceSpec {
    ServiceSpec {
        scheduler: sched.into(),
        ..ServiceSpec::new(key)
    }
}

fn dest(last: u8, port: u16, method: MethodView, weight: i32) -> DestSpec {
    DestSpec {
        addr: Ipv4Addr::new(192, 0, 2, last),
        port,
        method,
        weight,
        u_threshold: 0,
        l_threshold: 0,
    }
}

fn listed(mgr: &mut Manager, key: ServiceKeyView) -> ServiceView {
    match run(mgr, Request::List { key: Some(key) }).unwrap() {
        Body::Services { mut services } => services.remove(0),
        b => panic!("{b:?}"),
    }
}

#[test]
fn service_commands_and_their_refusals() {
    let (_net, mut mgr) = testbed::setup(64, "rr");
    let k = tcp(99, 80);
    let mut s = spec(k, "sh");
    s.flags = vec!["sh-port".into()];
    ok(&mut mgr, Request::AddService { service: s.clone() });
    assert_eq!(listed(&mut mgr, k).spec, s);
    refused_as(
        &mut mgr,
        Request::AddService { service: s },
        "Service already exists",
    );
    refused_as(
        &mut mgr,
        Request::AddService {
            service: spec(tcp(98, 80), "nosuch"),
        },
        "Scheduler or persistence engine not found",
    );
    refused_as(
        &mut mgr,
        Request::AddService {
            service: spec(tcp(98, 0), "rr"),
        },
        "Zero port specified for non-persistent service",
    );
    let mut o = spec(tcp(98, 80), "rr");
    o.ops = true;
    refused_as(
        &mut mgr,
        Request::AddService { service: o },
        "One-Packet Scheduling is only for UDP virtual services",
    );
    let mut f = spec(tcp(98, 80), "rr");
    f.flags = vec!["mh-port".into()];
    refused_as(
        &mut mgr,
        Request::AddService { service: f.clone() },
        "incompatible scheduler flag `mh-port'",
    );
    f.flags = vec!["bogus".into()];
    refused_as(
        &mut mgr,
        Request::AddService { service: f },
        "invalid scheduler flag `bogus'",
    );
    let mut p = spec(tcp(98, 80), "rr");
    p.persistent = Some(0);
    refused_as(
        &mut mgr,
        Request::AddService { service: p },
        "Numerical result out of range",
    );
    // -E replaces everything: omitted options take their defaults.
    let mut e = spec(k, "wlc");
    e.persistent = Some(100);
    e.netmask = Ipv4Addr::new(255, 255, 255, 0);
    ok(&mut mgr, Request::EditService { service: e.clone() });
    assert_eq!(listed(&mut mgr, k).spec, e);
    refused_as(
        &mut mgr,
        Request::EditService {
            service: spec(tcp(98, 80), "rr"),
        },
        "No such service",
    );
    refused_as(
        &mut mgr,
        Request::EditService {
            service: spec(k, "nosuch"),
        },
        "Scheduler or persistence engine not found",
    );
    ok(&mut mgr, Request::DelService { key: k });
    refused_as(&mut mgr, Request::DelService { key: k }, "No such service");
    refused_as(&mut mgr, Request::List { key: Some(k) }, "No such service");
    let u = ServiceKeyView::Udp {
        vip: Ipv4Addr::new(203, 0, 113, 99),
        port: 53,
    };
    let mut uo = spec(u, "rr");
    uo.ops = true;
    ok(
        &mut mgr,
        Request::AddService {
            service: uo.clone(),
        },
    );
    assert_eq!(listed(&mut mgr, u).spec, uo);
    let m = ServiceKeyView::Fwmark { mark: 7 };
    ok(
        &mut mgr,
        Request::AddService {
            service: spec(m, "rr"),
        },
    );
    assert_eq!(listed(&mut mgr, m).spec, spec(m, "rr"));
}

#[test]
fn edit_keeps_the_mh_table_size_ipvsadm_cannot_send() {
    let (_net, mut mgr) = testbed::setup(64, "rr");
    let key = views::service_key(tcp(99, 80));
    let mut c = ServiceConfig::new(key);
    c.sched = "mh".into();
    c.mh_table_size = 4093;
    mgr.add_service(c).unwrap();
    ok(
        &mut mgr,
        Request::EditService {
            service: spec(tcp(99, 80), "mh"),
        },
    );
    assert_eq!(
        mgr.services().get(&key).unwrap().config().mh_table_size,
        4093
    );
}

#[test]
fn clear_deletes_every_service_in_one_published_change() {
    let (_net, mut mgr) = testbed::setup(64, "rr");
    let dests: usize = mgr
        .services()
        .services()
        .iter()
        .map(|s| s.dests().len())
        .sum();
    let (s, m, n) = mgr.generations();
    ok(&mut mgr, Request::Clear);
    assert_eq!(mgr.generations(), (s + 1, m, n), "one publication");
    assert!(list_all(&mut mgr).is_empty());
    assert_eq!(mgr.trashed(), dests, "every dest in the trash, revivable");
    ok(&mut mgr, Request::Clear);
}

#[test]
fn dest_commands_follow_ipvsadm_rules() {
    let (_net, mut mgr) = testbed::setup(64, "rr");
    let k = tcp(99, 80);
    ok(
        &mut mgr,
        Request::AddService {
            service: spec(k, "wrr"),
        },
    );
    // DR and TUN dests take the service port; `-r` without a port (0) means it too.
    ok(
        &mut mgr,
        Request::AddDest {
            key: k,
            dest: dest(13, 9999, MethodView::Dr, 1),
        },
    );
    ok(
        &mut mgr,
        Request::AddDest {
            key: k,
            dest: dest(14, 0, MethodView::Tun, 1),
        },
    );
    ok(
        &mut mgr,
        Request::AddDest {
            key: k,
            dest: dest(11, 8080, MethodView::Nat, 3),
        },
    );
    ok(
        &mut mgr,
        Request::AddDest {
            key: k,
            dest: dest(12, 0, MethodView::Nat, 1),
        },
    );
    // The kernel takes any weight >= 0 (oracle: `-w 65536` listed as 65536).
    ok(
        &mut mgr,
        Request::AddDest {
            key: k,
            dest: dest(18, 0, MethodView::Dr, 65536),
        },
    );
    let mut t = dest(16, 0, MethodView::Dr, 1);
    t.u_threshold = 100;
    t.l_threshold = 50;
    ok(&mut mgr, Request::AddDest { key: k, dest: t });
    let got: Vec<_> = listed(&mut mgr, k)
        .dests
        .iter()
        .map(|d| {
            (
                d.addr.octets()[3],
                d.port,
                d.weight,
                d.u_threshold,
                d.l_threshold,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (16, 80, 1, 100, 50),
            (18, 80, 65536, 0, 0),
            (12, 80, 1, 0, 0),
            (11, 8080, 3, 0, 0),
            (14, 80, 1, 0, 0),
            (13, 80, 1, 0, 0)
        ],
        "newest first, ports as IPVS stores them"
    );
    refused_as(
        &mut mgr,
        Request::AddDest {
            key: k,
            dest: dest(11, 8080, MethodView::Nat, 1),
        },
        "Destination already exists",
    );
    refused_as(
        &mut mgr,
        Request::AddDest {
            key: tcp(98, 80),
            dest: dest(11, 80, MethodView::Nat, 1),
        },
        "Service not defined",
    );
    let mut y = dest(19, 0, MethodView::Dr, 1);
    y.l_threshold = 5;
    refused_as(
        &mut mgr,
        Request::AddDest { key: k, dest: y },
        "Numerical result out of range",
    );
    refused_as(
        &mut mgr,
        Request::AddDest {
            key: k,
            dest: dest(19, 0, MethodView::Dr, -1),
        },
        "Numerical result out of range",
    );
    // -e replaces weight, method and thresholds.
    ok(
        &mut mgr,
        Request::EditDest {
            key: k,
            dest: dest(16, 0, MethodView::Dr, 1),
        },
    );
    ok(
        &mut mgr,
        Request::EditDest {
            key: k,
            dest: dest(12, 80, MethodView::Nat, 5),
        },
    );
    let d = listed(&mut mgr, k);
    assert!(d
        .dests
        .iter()
        .any(|d| d.addr.octets()[3] == 16 && d.u_threshold == 0));
    assert!(d
        .dests
        .iter()
        .any(|d| d.addr.octets()[3] == 12 && d.weight == 5));
    refused_as(
        &mut mgr,
        Request::EditDest {
            key: k,
            dest: dest(99, 0, MethodView::Dr, 1),
        },
        "No such destination",
    );
    refused_as(
        &mut mgr,
        Request::EditDest {
            key: tcp(98, 80),
            dest: dest(16, 0, MethodView::Dr, 1),
        },
        "Service not defined",
    );
    // -d of a DR dest given with another port finds it at the service port.
    let addr = Ipv4Addr::new(192, 0, 2, 13);
    ok(
        &mut mgr,
        Request::DelDest {
            key: k,
            addr,
            port: 9999,
        },
    );
    refused_as(
        &mut mgr,
        Request::DelDest {
            key: k,
            addr,
            port: 9999,
        },
        "No such destination",
    );
    ok(
        &mut mgr,
        Request::DelDest {
            key: k,
            addr: Ipv4Addr::new(192, 0, 2, 12),
            port: 0,
        },
    );
    refused_as(
        &mut mgr,
        Request::DelDest {
            key: tcp(98, 80),
            addr,
            port: 80,
        },
        "Service not defined",
    );
    assert_eq!(listed(&mut mgr, k).dests.len(), 4);
    // A mark service has no port to force or fill in: port 0 stays 0.
    let m = ServiceKeyView::Fwmark { mark: 1 };
    ok(
        &mut mgr,
        Request::AddDest {
            key: m,
            dest: dest(11, 0, MethodView::Dr, 1),
        },
    );
    ok(
        &mut mgr,
        Request::AddDest {
            key: m,
            dest: dest(13, 8080, MethodView::Dr, 1),
        },
    );
    let ports: Vec<_> = listed(&mut mgr, m).dests.iter().map(|d| d.port).collect();
    assert_eq!(&ports[..2], [8080, 0]);
}

#[test]
fn timeouts_are_set_with_zero_keeping_a_value() {
    let (_net, mut mgr) = testbed::setup(64, "rr");
    let get = |mgr: &mut Manager| match run(mgr, Request::GetTimeouts).unwrap() {
        Body::Timeouts { timeouts } => (timeouts.tcp, timeouts.tcpfin, timeouts.udp),
        b => panic!("{b:?}"),
    };
    assert_eq!(get(&mut mgr), (900, 120, 300), "IPVS defaults");
    let set = |tcp, tcpfin, udp| Request::SetTimeouts {
        timeouts: TimeoutsView { tcp, tcpfin, udp },
    };
    ok(&mut mgr, set(1000, 130, 310));
    assert_eq!(get(&mut mgr), (1000, 130, 310));
    ok(&mut mgr, set(0, 0, 0));
    assert_eq!(get(&mut mgr), (1000, 130, 310));
    ok(&mut mgr, set(0, 60, 0));
    assert_eq!(get(&mut mgr), (1000, 60, 310));
    refused_as(
        &mut mgr,
        set(MAX_TIMEOUT_SECS + 1, 1, 1),
        "Invalid operation.  Possibly wrong module version, address not unicast, ...",
    );
    assert_eq!(
        get(&mut mgr),
        (1000, 60, 310),
        "nothing of a refused --set applied"
    );
}

#[test]
fn zero_clears_one_service_or_all() {
    use crate::testkit::testbed::{director, tcp_frame, CLIENT_MAC, PORT_MAC};
    use crate::wire::HeadroomBuf;
    let (mut lb, mut mgr) = director(64, "rr");
    let client = Ipv4Addr::new(203, 0, 113, 2);
    for (i, port) in [(0u16, 80u16), (1, 443)] {
        let vip = if port == 80 {
            Ipv4Addr::new(203, 0, 113, 10)
        } else {
            Ipv4Addr::new(203, 0, 113, 40)
        };
        let f = tcp_frame(client, 30000 + i, vip, port, 0x02, PORT_MAC, CLIENT_MAC);
        lb.handle(0, &mut HeadroomBuf::new(&f), 1);
    }
    let conns = |mgr: &mut Manager, k| {
        let s = listed(mgr, k);
        (
            s.stats.conns,
            s.dests.iter().map(|d| d.stats.conns).sum::<u64>(),
        )
    };
    let (web, tls) = (tcp(10, 80), tcp(40, 443));
    assert_eq!(
        (conns(&mut mgr, web), conns(&mut mgr, tls)),
        ((1, 1), (1, 1))
    );
    refused_as(
        &mut mgr,
        Request::Zero {
            key: Some(tcp(98, 80)),
        },
        "No such service",
    );
    ok(&mut mgr, Request::Zero { key: Some(web) });
    assert_eq!(
        (conns(&mut mgr, web), conns(&mut mgr, tls)),
        ((0, 0), (1, 1))
    );
    ok(&mut mgr, Request::Zero { key: None });
    assert_eq!(conns(&mut mgr, tls), (0, 0));
}

#[test]
fn vips_are_added_to_the_port_whose_subnet_holds_them() {
    let (_net, mut mgr) = testbed::setup(64, "rr");
    let vip = Ipv4Addr::new(203, 0, 113, 77);
    let (s, m, n) = mgr.generations();
    ok(
        &mut mgr,
        Request::AddVip {
            addr: vip,
            port: None,
        },
    );
    assert_eq!(mgr.generations(), (s, m, n + 1));
    assert!(mgr.net().is_vip_of(0, vip));
    let Body::Vips { vips } = run(&mut mgr, Request::ListVips).unwrap() else {
        panic!()
    };
    assert!(vips.iter().any(|v| v.addr == vip && v.port == "port0"));
    refused_as(
        &mut mgr,
        Request::AddVip {
            addr: vip,
            port: None,
        },
        "port port0 already has VIP 203.0.113.77",
    );
    refused_as(
        &mut mgr,
        Request::AddVip {
            addr: Ipv4Addr::new(198, 51, 100, 7),
            port: None,
        },
        "no port has a subnet holding 198.51.100.7: name the port for this VIP",
    );
    refused_as(
        &mut mgr,
        Request::AddVip {
            addr: Ipv4Addr::new(198, 51, 100, 7),
            port: Some("eth9".into()),
        },
        "no port eth9",
    );
    // A named port may answer for an address outside its subnets.
    let other = Ipv4Addr::new(198, 51, 100, 7);
    ok(
        &mut mgr,
        Request::AddVip {
            addr: other,
            port: Some("port0".into()),
        },
    );
    ok(
        &mut mgr,
        Request::DelVip {
            addr: other,
            port: Some("port0".into()),
        },
    );
    refused_as(
        &mut mgr,
        Request::DelVip {
            addr: other,
            port: Some("port0".into()),
        },
        "port port0 has no VIP 198.51.100.7",
    );
    ok(
        &mut mgr,
        Request::DelVip {
            addr: vip,
            port: None,
        },
    );
    assert!(!mgr.net().is_vip(vip));
    refused_as(
        &mut mgr,
        Request::DelVip {
            addr: vip,
            port: None,
        },
        "no port has VIP 203.0.113.77",
    );
}

/// F6: a VIP rvsd would answer ARP and ping for is refused when it is martian or a
/// connected subnet's broadcast, named port or not, as the configuration file refuses it.
#[test]
fn non_unicast_and_subnet_broadcast_vips_are_refused() {
    let (_net, mut mgr) = testbed::setup(64, "rr");
    for a in [
        "255.255.255.255",
        "0.0.0.0",
        "224.0.0.5",
        "127.0.0.1",
        "240.0.0.1",
    ] {
        let addr: Ipv4Addr = a.parse().unwrap();
        for port in [None, Some("port0".to_owned())] {
            refused_as(
                &mut mgr,
                Request::AddVip { addr, port },
                &format!("VIP {a} is not a unicast address"),
            );
        }
        assert!(!mgr.net().is_vip(addr));
    }
    let bcast = Ipv4Addr::new(203, 0, 113, 255);
    refused_as(
        &mut mgr,
        Request::AddVip {
            addr: bcast,
            port: Some("port0".into()),
        },
        "VIP 203.0.113.255 is the broadcast address of the connected subnet 203.0.113.0/24",
    );
    assert!(!mgr.net().is_vip(bcast));
    // The network address is a host address since Linux 5.14.
    ok(
        &mut mgr,
        Request::AddVip {
            addr: Ipv4Addr::new(203, 0, 113, 0),
            port: None,
        },
    );
    // An IPVS service address is not a VIP: ipvsadm -A -t 127.0.0.1:8080 stays accepted.
    let lo = ServiceSpec {
        key: ServiceKeyView::Tcp {
            vip: Ipv4Addr::new(127, 0, 0, 1),
            port: 8080,
        },
        scheduler: "rr".into(),
        flags: vec![],
        persistent: None,
        netmask: Ipv4Addr::BROADCAST,
        ops: false,
    };
    ok(&mut mgr, Request::AddService { service: lo });
}

#[test]
fn mark_rules_are_added_listed_and_deleted() {
    let (_net, mut mgr) = testbed::setup(64, "rr");
    let Body::MarkRules { rules: before } = run(&mut mgr, Request::ListMarkRules).unwrap() else {
        panic!()
    };
    let rule = MarkRuleView {
        mark: 9,
        protocol: Some("udp".into()),
        vip: "203.0.113.0/24".into(),
        ports: Some("8000-8099".into()),
    };
    ok(&mut mgr, Request::AddMarkRule { rule: rule.clone() });
    let host = MarkRuleView {
        mark: 9,
        protocol: None,
        vip: "203.0.113.60/32".into(),
        ports: Some("53".into()),
    };
    ok(&mut mgr, Request::AddMarkRule { rule: host.clone() });
    // F8: the same rule again (host bits or not) is refused, as a second `vip add` is.
    for again in [
        rule.clone(),
        MarkRuleView {
            vip: "203.0.113.9/24".into(),
            ..rule.clone()
        },
    ] {
        refused_as(
            &mut mgr,
            Request::AddMarkRule { rule: again },
            "mark 9 already has the rule udp 203.0.113.0/24 ports 8000-8099",
        );
    }
    let Body::MarkRules { rules } = run(&mut mgr, Request::ListMarkRules).unwrap() else {
        panic!()
    };
    assert_eq!(
        rules[before.len()..],
        [rule.clone(), host.clone()],
        "match order"
    );
    let udp = crate::lb::flow::proto::UDP;
    assert_eq!(
        mgr.marks()
            .classify(udp, Ipv4Addr::new(203, 0, 113, 5), 8050),
        Some(9)
    );
    for (bad, text) in [
        (
            MarkRuleView {
                mark: 0,
                ..rule.clone()
            },
            "invalid fwmark value `0' specified",
        ),
        (
            MarkRuleView {
                protocol: Some("sctp".into()),
                ..rule.clone()
            },
            "illegal mark rule protocol `sctp'",
        ),
        (
            MarkRuleView {
                ports: Some("99-1".into()),
                ..rule.clone()
            },
            "illegal mark port range 99-1",
        ),
        (
            MarkRuleView {
                ports: Some("http".into()),
                ..rule.clone()
            },
            "illegal mark rule ports `http'",
        ),
    ] {
        let gens = mgr.generations();
        let e = run(&mut mgr, Request::AddMarkRule { rule: bad }).unwrap_err();
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Refused, text));
        assert_eq!(mgr.generations(), gens);
    }
    let e = run(
        &mut mgr,
        Request::AddMarkRule {
            rule: MarkRuleView {
                vip: "203.0.113.0/40".into(),
                ..rule.clone()
            },
        },
    )
    .unwrap_err();
    assert!(
        e.message
            .starts_with("illegal mark rule vip `203.0.113.0/40'"),
        "{e:?}"
    );
    ok(&mut mgr, Request::DelMarkRule { rule: rule.clone() });
    let gens = mgr.generations();
    let e = run(&mut mgr, Request::DelMarkRule { rule }).unwrap_err();
    assert_eq!(e.message, "no such mark rule");
    assert_eq!(mgr.generations(), gens);
    let Body::MarkRules { rules } = run(&mut mgr, Request::ListMarkRules).unwrap() else {
        panic!()
    };
    assert_eq!(rules[before.len()..], [host]);
}

#[test]
fn conns_list_entries_and_templates_with_state_and_expiry() {
    use crate::testkit::testbed::{director, tcp_frame, CLIENT_MAC, PORT_MAC};
    use crate::wire::HeadroomBuf;
    let (mut lb, mut mgr) = director(64, "rr");
    let client = Ipv4Addr::new(203, 0, 113, 2);
    let vip = Ipv4Addr::new(203, 0, 113, 40);
    let f = tcp_frame(client, 40000, vip, 443, 0x02, PORT_MAC, CLIENT_MAC);
    lb.handle(0, &mut HeadroomBuf::new(&f), 10);
    let Body::Conns { mut conns } = handle_at(&mut mgr, &ctx(), Request::ListConns, 12).unwrap()
    else {
        panic!()
    };
    conns.sort_by_key(|c| c.template);
    assert_eq!(conns.len(), 2, "{conns:?}");
    let (c, t) = (&conns[0], &conns[1]);
    assert_eq!(
        (
            c.protocol.as_str(),
            c.client_addr,
            c.client_port,
            c.vaddr,
            c.vport,
            c.state.as_str(),
            c.template
        ),
        ("TCP", client, 40000, vip, 443, "SYN_RECV", false)
    );
    assert_eq!(
        c.expires_secs,
        60 - 2,
        "SYN_RECV lives 60 s, listed 2 s later"
    );
    assert_eq!(
        (
            t.protocol.as_str(),
            t.client_addr,
            t.client_port,
            t.vport,
            t.state.as_str(),
            t.template
        ),
        ("TCP", client, 0, 443, "NONE", true)
    );
    assert_eq!(
        (t.daddr, t.dport),
        (c.daddr, c.dport),
        "the template points at the server"
    );
    let Body::Status(s) = run(&mut mgr, Request::Status).unwrap() else {
        panic!()
    };
    assert_eq!(s.conns, 2);
}

/// A firewall-mark service's template is listed as ipvsadm shows it: protocol `IP`,
/// the mark as virtual address (`0.0.0.1`), port 0.
#[test]
fn a_mark_template_is_listed_with_the_mark_as_its_address() {
    use crate::testkit::testbed::{director, tcp_frame, CLIENT_MAC, PORT_MAC};
    use crate::wire::HeadroomBuf;
    let (mut lb, mut mgr) = director(64, "rr");
    let client = Ipv4Addr::new(203, 0, 113, 2);
    let f = tcp_frame(
        client,
        40001,
        Ipv4Addr::new(203, 0, 113, 50),
        80,
        0x02,
        PORT_MAC,
        CLIENT_MAC,
    );
    lb.handle(0, &mut HeadroomBuf::new(&f), 10);
    let Body::Conns { conns } = handle_at(&mut mgr, &ctx(), Request::ListConns, 10).unwrap() else {
        panic!()
    };
    let t = conns.iter().find(|c| c.template).expect("a template");
    assert_eq!(
        (
            t.protocol.as_str(),
            t.client_addr,
            t.client_port,
            t.vaddr,
            t.vport,
            t.state.as_str()
        ),
        ("IP", client, 0, Ipv4Addr::new(0, 0, 0, 1), 0, "NONE")
    );
    let c = conns.iter().find(|c| !c.template).expect("the connection");
    assert_eq!(
        (c.protocol.as_str(), c.vport, c.client_port),
        ("TCP", 80, 40001)
    );
}
