//! The configuration loader against real files: every example in `configs/`
//! loads (and means what its comments say), and every class of mistake in
//! `tests/fixtures/config/` is reported at the exact file, line and key.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use rvs::config::{
    Config, Device, Error, ErrorKind, Ipv4Net, LogLevel, Method, PortRange, Proto, ServiceKey,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn example(name: &str) -> Config {
    let path = root().join("configs").join(name);
    match Config::load(&path) {
        Ok(c) => c,
        Err(e) => panic!("{name} must load: {e}"),
    }
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn every_example_config_loads() {
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("configs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("toml") {
            if let Err(e) = Config::load(&path) {
                panic!("{} does not load: {e}", path.display());
            }
            n += 1;
        }
    }
    assert!(n >= 5, "expected at least the five lab configs, found {n}");
}

#[test]
fn lab_appliance_means_what_it_says() {
    let c = example("lab-appliance.toml");
    assert_eq!(c.cores.workers, vec![0]);
    assert_eq!(c.cores.management, 0);
    assert_eq!(c.log.level, LogLevel::Info);
    assert!(c.eal.args.iter().any(|a| a == "--no-huge"));
    assert_eq!(c.ports.len(), 1);
    let p = &c.ports[0];
    assert_eq!(p.name, "ext");
    // rvsd appends the af_packet ring geometry the operator did not set (config/afpacket.rs).
    const DEV: &str =
        "net_af_packet0,iface=rvs-ext,framecnt=4096,framesz=2048,blocksz=4096,qdisc_bypass=1";
    assert_eq!(p.device, Device::Vdev(DEV.into()));
    assert_eq!(p.device.name(), "net_af_packet0");
    assert_eq!(p.device.eal_args(), ["--vdev".to_owned(), DEV.to_owned()]);
    assert_eq!(
        p.addresses,
        vec![Ipv4Net {
            addr: ip("203.0.113.1"),
            len: 24
        }]
    );
    assert_eq!(p.exception_path.as_ref().unwrap().tap_name, "ext");
    assert_eq!(
        (p.mtu, p.promiscuous, p.rx_desc, p.tx_desc),
        (1500, false, 1024, 1024)
    );
    assert_eq!(c.routes.len(), 1);
    assert_eq!(c.routes[0].prefix.to_string(), "198.51.100.0/24");
    assert_eq!(c.routes[0].via, Some(ip("203.0.113.2")));
    assert!(c.services.is_empty());
    assert_eq!(c.control.socket, Path::new("/run/rvs/rvsd.sock"));
    assert_eq!(c.control.admin_group, None, "root only by default");
    assert_eq!(c.control.idle_timeout_secs, 30);
}

/// `[control] admin_group` is resolved when the file is read: `root` is gid 0 on every
/// Linux machine.
#[test]
fn admin_group_resolves_to_its_gid() {
    let text = std::fs::read_to_string("configs/lab-nat.toml")
        .unwrap()
        .replace(
            "socket = \"/run/rvs/rvsd.sock\"",
            "socket = \"/run/rvs/rvsd.sock\"\nadmin_group = \"root\"\nidle_timeout = 5",
        );
    let c = Config::from_str_named(&text, "g.toml").unwrap();
    let g = c.control.admin_group.expect("admin_group");
    assert_eq!((g.name.as_str(), g.gid), ("root", 0));
    assert_eq!(c.control.idle_timeout_secs, 5);
}

#[test]
fn lab_nat_is_two_armed_with_ipvsadm_defaults() {
    let c = example("lab-nat.toml");
    // Real servers reach out (and the -o UDP replies leave) through the inside port.
    assert_eq!(c.routing.transit, rvs::net::TransitMode::Outbound);
    assert_eq!(
        c.ports.iter().map(|p| p.inside).collect::<Vec<_>>(),
        [false, true]
    );
    assert_eq!(
        c.ports.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["ext", "int"]
    );
    assert_eq!(c.port("int").map(|(i, _)| i), Some(1));
    assert_eq!(c.timeouts.tcp_secs, 900);
    assert!(c.settings.gratuitous_arp && !c.settings.expire_nodest_conn);
    let http = &c.services[0];
    assert_eq!(
        http.key,
        ServiceKey::Addr {
            proto: Proto::Tcp,
            vip: ip("203.0.113.10"),
            port: 80
        }
    );
    assert_eq!(http.key.to_string(), "TCP  203.0.113.10:80");
    assert_eq!(http.scheduler, "wlc");
    assert_eq!(http.persistent_secs, None);
    assert_eq!(http.netmask, Ipv4Addr::BROADCAST);
    assert_eq!(http.arp_port.as_deref(), Some("ext"));
    assert_eq!(http.reals.len(), 3);
    for (r, last) in http.reals.iter().zip([11, 12, 13]) {
        assert_eq!(r.addr, Ipv4Addr::new(192, 0, 2, last));
        assert_eq!((r.port, r.method, r.weight), (8080, Method::Nat, 1));
    }
    let dns = &c.services[1];
    assert!(dns.ops);
    // Real port defaults to the service port.
    assert!(dns.reals.iter().all(|r| r.port == 53));
}

#[test]
fn lab_dr_and_tun_are_one_armed() {
    let dr = example("lab-dr.toml");
    assert_eq!(dr.ports.len(), 1);
    let s = &dr.services[0];
    assert_eq!(s.persistent_secs, Some(300));
    assert_eq!(s.arp_port.as_deref(), Some("int"));
    assert!(s
        .reals
        .iter()
        .all(|r| r.method == Method::Dr && r.port == 80));

    let tun = example("lab-tun.toml");
    let s = &tun.services[0];
    assert_eq!(
        s.reals.iter().map(|r| r.weight).collect::<Vec<_>>(),
        [3, 2, 1]
    );
    assert!(s.reals.iter().all(|r| r.method == Method::Tun));
    let fwm = &tun.services[1];
    assert_eq!(fwm.key, ServiceKey::Mark(1));
    assert_eq!(fwm.key.to_string(), "FWM  1");
    assert!(!fwm.sched_flags.flag_1 && fwm.sched_flags.flag_2);
    // The mark's only VIP is on int's subnet, so int answers ARP for it.
    assert_eq!(fwm.arp_port.as_deref(), Some("int"));
    // Mark services keep the real port (0 = the packet's own port).
    assert_eq!(fwm.reals[0].port, 0);
    let rule = &tun.marks[0].rules[0];
    assert_eq!(rule.proto, Some(Proto::Udp));
    assert_eq!(
        rule.ports,
        Some(PortRange {
            first: 5000,
            last: 5010
        })
    );
}

#[test]
fn lab_multicore_has_a_queue_pair_per_worker() {
    let c = example("lab-multicore.toml");
    assert_eq!(c.cores.workers, vec![0, 1]);
    assert!(c
        .ports
        .iter()
        .all(|p| p.device.to_string().contains("qpairs=2")));
    assert_eq!(c.tables.max_conns, 1 << 20);
}

/// Loads a bad fixture and checks where and what the error is.
fn bad(name: &str, line: usize, key: &str, kind: ErrorKind, reason: &str) -> Error {
    let path = format!("tests/fixtures/config/{name}");
    let full = root().join(&path);
    let text = std::fs::read_to_string(&full).unwrap();
    // Same answer through both entry points; the error names the file as given.
    let via_str = Config::from_str_named(&text, &path).expect_err(name);
    let via_load = Config::load(&full).expect_err(name);
    assert_eq!(
        via_load.to_string(),
        via_str
            .to_string()
            .replacen(&path, &full.display().to_string(), 1)
    );
    let e = via_str;
    match &e {
        Error::Invalid {
            file,
            line: l,
            key: k,
            kind: kd,
            reason: r,
        } => {
            assert_eq!(file, &path, "{e}");
            assert_eq!((*l, k.as_str(), *kd), (line, key, kind), "{e}");
            assert!(
                r.contains(reason),
                "reason of {name}: {r:?} lacks {reason:?}"
            );
            assert_eq!(e.to_string(), format!("{path}:{line}: {key}: {r}"));
        }
        other => panic!("{name}: expected Error::Invalid, got {other}"),
    }
    e
}

#[test]
fn syntax_error() {
    bad(
        "syntax.toml",
        8,
        "port[0].mtu",
        ErrorKind::Syntax,
        "expected",
    );
}

#[test]
fn unknown_key() {
    bad(
        "unknown-key.toml",
        12,
        "port[1].adresses",
        ErrorKind::UnknownKey,
        "unknown field `adresses`",
    );
}

#[test]
fn bad_address() {
    bad(
        "bad-address.toml",
        13,
        "port[1].addresses[0]",
        ErrorKind::Address,
        "invalid IPv4 address \"192.0.2.300/24\"",
    );
}

#[test]
fn route_names_a_missing_port() {
    bad(
        "missing-port.toml",
        12,
        "route[0].port",
        ErrorKind::Reference,
        "no [[port]] is named \"wan\"",
    );
}

#[test]
fn duplicate_worker_core() {
    bad(
        "duplicate-core.toml",
        5,
        "cores.workers[2]",
        ErrorKind::Duplicate,
        "duplicate worker core 0",
    );
}

#[test]
fn workers_empty() {
    bad(
        "workers-empty.toml",
        2,
        "cores.workers",
        ErrorKind::Schema,
        "at least one worker",
    );
}

#[test]
fn missing_cores_section() {
    bad(
        "missing-cores.toml",
        1,
        "cores",
        ErrorKind::Schema,
        "missing section [cores]",
    );
}

#[test]
fn duplicate_port_name() {
    bad(
        "duplicate-port-name.toml",
        10,
        "port[1].name",
        ErrorKind::Duplicate,
        "duplicate port name \"ext\"",
    );
}

#[test]
fn missing_required_key_points_at_its_table() {
    bad(
        "missing-key.toml",
        8,
        "port[1].device",
        ErrorKind::Schema,
        "missing field `device`",
    );
}

/// F12: the file takes the weights rvsadm and the socket take (IPVS's 0..=INT_MAX), so a
/// running state with weight 70000 can be written into it.
#[test]
fn weights_up_to_int_max_load() {
    let text = std::fs::read_to_string(root().join("configs/lab-nat.toml")).unwrap();
    assert!(
        text.contains("weight = 1\n"),
        "lab-nat.toml has a weight to edit"
    );
    for w in [70000u32, 2147483647] {
        let c = Config::from_str_named(
            &text.replacen("weight = 1\n", &format!("weight = {w}\n"), 1),
            "w.toml",
        )
        .unwrap_or_else(|e| panic!("weight {w}: {e}"));
        assert!(c
            .services
            .iter()
            .flat_map(|s| &s.reals)
            .any(|r| r.weight == w));
    }
}

#[test]
fn wrong_value_type() {
    bad(
        "wrong-type.toml",
        16,
        "service[0].real[0].weight",
        ErrorKind::Schema,
        "expected an integer",
    );
}

#[test]
fn max_conns_beyond_what_the_table_accepts() {
    // The connection table indexes at most 2^30 - 2 slots; the config must refuse what
    // start-up would (one source: lb::conn::MAX_CONNS).
    bad(
        "max-conns-too-big.toml",
        7,
        "tables.max_conns",
        ErrorKind::Range,
        "1073741822",
    );
    assert!(rvs::lb::conn::ConnTable::new(1_073_741_823).is_err());
}

#[test]
fn bad_scheduler() {
    bad(
        "bad-scheduler.toml",
        13,
        "service[0].scheduler",
        ErrorKind::Range,
        "unknown scheduler \"roundrobin\"",
    );
}

#[test]
fn sh_flag_without_sh() {
    bad(
        "sh-flag-without-sh.toml",
        14,
        "service[0].sched_flags[1]",
        ErrorKind::Conflict,
        "incompatible scheduler flag `sh-port'",
    );
}

/// F6: a VIP rvsd publishes (implicitly, on the VLAN whose subnet holds it) must not
/// be that subnet's broadcast; the rule `rvsadm vip add` shares.
#[test]
fn vip_that_is_a_vlan_subnet_broadcast() {
    bad(
        "vip-subnet-broadcast.toml",
        17,
        "service[0].vip",
        ErrorKind::Address,
        "VIP 192.0.2.127 is the broadcast address of the connected subnet 192.0.2.0/25",
    );
}

/// F6: class E (240.0.0.0/4) is martian, as 0/8, 127/8 and 224/4 are.
#[test]
fn vip_in_class_e() {
    bad(
        "vip-class-e.toml",
        11,
        "service[0].vip",
        ErrorKind::Address,
        "VIP 240.0.0.1 is not a unicast address",
    );
}

/// F6: a mark service publishes its mark's single addresses: the same rule, located at
/// the rule.
#[test]
fn mark_vip_that_is_a_subnet_broadcast() {
    bad(
        "vip-mark-broadcast.toml",
        13,
        "mark[0].rules[1].vip",
        ErrorKind::Address,
        "VIP 203.0.113.255 is the broadcast address of the connected subnet 203.0.113.0/24",
    );
}

#[test]
fn zero_port_without_persistence() {
    bad(
        "zero-port.toml",
        17,
        "service[1].port",
        ErrorKind::Conflict,
        "Zero port specified for non-persistent service",
    );
}

#[test]
fn ops_on_tcp() {
    bad(
        "ops-on-tcp.toml",
        19,
        "service[1].ops",
        ErrorKind::Conflict,
        "One-Packet Scheduling is only for UDP virtual services",
    );
}

#[test]
fn lower_threshold_above_upper() {
    bad(
        "thresholds.toml",
        22,
        "service[0].real[1].l_threshold",
        ErrorKind::Conflict,
        "l_threshold 150 is above u_threshold 100",
    );
}

#[test]
fn duplicate_service() {
    bad(
        "duplicate-service.toml",
        16,
        "service[1].vip",
        ErrorKind::Duplicate,
        "Service already exists",
    );
}

#[test]
fn duplicate_real_server_after_dr_port_forcing() {
    bad(
        "duplicate-real.toml",
        27,
        "service[0].real[2].addr",
        ErrorKind::Duplicate,
        "Destination already exists (192.0.2.12:80)",
    );
}

#[test]
fn direct_routing_needs_a_connected_real_server() {
    // The tun real server behind the route is fine; the dr one is not.
    bad(
        "dr-off-link.toml",
        24,
        "service[0].real[1].addr",
        ErrorKind::Conflict,
        "direct routing needs real server 198.51.100.12",
    );
}

#[test]
fn af_packet_needs_a_queue_pair_per_worker() {
    bad(
        "too-few-queues.toml",
        11,
        "port[1].device",
        ErrorKind::Conflict,
        "qpairs=1",
    );
}

#[test]
fn af_packet_mtu_beyond_the_frame() {
    bad(
        "af-packet-mtu.toml",
        9,
        "port[0].mtu",
        ErrorKind::Conflict,
        "mtu 9000 is above what the af_packet PMD accepts (1500",
    );
    // Frames big enough, yet DPDK 22.11's af_packet PMD refuses any MTU above 1500.
    bad(
        "af-packet-mtu-1501.toml",
        9,
        "port[0].mtu",
        ErrorKind::Conflict,
        "mtu 1501 is above what the af_packet PMD accepts (1500",
    );
    bad(
        "af-packet-framesz.toml",
        8,
        "port[0].device",
        ErrorKind::Conflict,
        "mtu 1500 does not fit an af_packet frame: framesz=1024 carries an MTU of at most 972 (use framesz=1552",
    );
}

#[test]
fn af_packet_options_the_pmd_refuses() {
    bad(
        "af-packet-unknown-option.toml",
        8,
        "port[0].device",
        ErrorKind::Range,
        "unknown af_packet option \"FRAMECNT\" (the PMD accepts iface, qpairs, blocksz, framesz, framecnt, qdisc_bypass",
    );
    bad(
        "af-packet-same-iface.toml",
        12,
        "port[1].device",
        ErrorKind::Duplicate,
        "af_packet iface \"rvs-ext\" is already used by another port",
    );
}

#[test]
fn mark_service_needs_its_mark() {
    bad(
        "undefined-mark.toml",
        17,
        "service[0].mark",
        ErrorKind::Reference,
        "no [[mark]] defines mark 2",
    );
}

#[test]
fn mark_rule_port_range() {
    bad(
        "mark-rule-bad-ports.toml",
        13,
        "mark[0].rules[1].ports",
        ErrorKind::Range,
        "first port above last",
    );
}

#[test]
fn route_prefix_with_host_bits() {
    bad(
        "route-host-bits.toml",
        10,
        "route[0].prefix",
        ErrorKind::Address,
        "did you mean 198.51.100.0/24?",
    );
}

#[test]
fn neighbour_timer_out_of_range() {
    bad(
        "neighbour-range.toml",
        11,
        "neighbour.retrans_time_ms",
        ErrorKind::Range,
        "retrans_time_ms: 500 is out of range (1000..60000)",
    );
}

#[test]
fn static_neighbour_with_multicast_mac() {
    bad(
        "neighbour-static-mac.toml",
        15,
        "neighbour.static[1].mac",
        ErrorKind::Address,
        "MAC 01:00:5e:00:00:01 is not a unicast address",
    );
}

#[test]
fn static_neighbour_off_link() {
    bad(
        "neighbour-static-off-link.toml",
        10,
        "neighbour.static[0].addr",
        ErrorKind::Address,
        "neighbour 198.51.100.254 is not on a connected subnet of any port",
    );
}

#[test]
fn neighbour_section_defaults_are_linux_and_values_reach_the_plan() {
    let base = "[cores]\nworkers = [0]\n[[port]]\nname = \"int\"\ndevice = \"net_af_packet0,iface=x\"\naddresses = [\"192.0.2.1/24\"]\n";
    let d = Config::from_str_named(base, "d.toml").unwrap();
    assert_eq!(d.neighbour, rvs::config::Neighbour::default());
    let p = rvs::mgmt::plan::neigh_params(&d.neighbour);
    assert_eq!(
        (
            p.reachable_secs,
            p.delay_first_probe_secs,
            p.retrans_secs,
            p.ucast_solicit
        ),
        (30, 5, 1, 3)
    );
    assert_eq!((p.mcast_solicit, p.gc_stale_secs, p.unres_qlen), (3, 60, 3));
    let text = format!(
        "{base}[neighbour]\nbase_reachable_time_ms = 2500\nunres_qlen = 5\n[[neighbour.static]]\naddr = \"192.0.2.254\"\nmac = \"02:00:00:00:02:54\"\n"
    );
    let c = Config::from_str_named(&text, "n.toml").unwrap();
    assert_eq!(
        rvs::mgmt::plan::neigh_params(&c.neighbour).reachable_secs,
        3,
        "ms round up to seconds"
    );
    assert_eq!(c.neighbour.unres_qlen, 5);
    let plan = rvs::mgmt::plan::plan(&c);
    assert_eq!(
        plan.static_neighbours,
        vec![(ip("192.0.2.254"), [2, 0, 0, 0, 2, 0x54])]
    );
}

#[test]
fn unreadable_file_is_a_read_error() {
    let e = Config::load("/nonexistent/rvs.toml").unwrap_err();
    assert!(matches!(e, Error::Read { .. }));
    assert!(e.to_string().starts_with("/nonexistent/rvs.toml: "));
    assert_eq!(e.line(), None);
}

/// Small edits to a good file, each of which must fail at a known key.
#[test]
fn one_line_mistakes_in_a_good_config() {
    let good = std::fs::read_to_string(root().join("configs/lab-nat.toml")).unwrap();
    let cases: &[(&str, &str, &str)] = &[
        (
            "scheduler = \"wlc\"",
            "scheduler = \"sh\"\nsched_flags = [\"mh-port\"]",
            "service[0].sched_flags[0]",
        ),
        (
            "scheduler = \"wlc\"",
            "persistent = 0",
            "service[0].persistent",
        ),
        (
            "scheduler = \"wlc\"",
            "scheduler = \"mh\"\nmh_table_size = 65537",
            "service[0].mh_table_size",
        ),
        (
            "scheduler = \"wlc\"",
            "mh_table_size = 4093",
            "service[0].mh_table_size",
        ),
        (
            "scheduler = \"wlc\"",
            "persistent = 2678401",
            "service[0].persistent",
        ),
        (
            "scheduler = \"wlc\"",
            "netmask = \"255.0.255.0\"",
            "service[0].netmask",
        ),
        (
            "scheduler = \"wlc\"",
            "interface = \"wan\"",
            "service[0].interface",
        ),
        (
            "vip = \"203.0.113.10\"\nport = 80",
            "vip = \"10.9.9.9\"\nport = 80",
            "service[0].vip",
        ),
        (
            "weight = 1\n",
            "weight = 2147483648\n",
            "service[0].real[0].weight",
        ),
        ("weight = 1\n", "weight = -1\n", "service[0].real[0].weight"),
        (
            "method = \"nat\"\nweight",
            "method = \"masq\"\nweight",
            "service[0].real[0].method",
        ),
        ("level = \"info\"", "level = \"verbose\"", "log.level"),
        (
            "management = 1",
            "management = 1\nmanagment = 2",
            "cores.managment",
        ),
        ("tcp = 900", "tcp = 0", "timeouts.tcp"),
        (
            "[settings]",
            "[settings]\nexpire_nodest_conn = 1",
            "settings.expire_nodest_conn",
        ),
        (
            "[settings]",
            "[settings]\nconn_reuse_mode = 4",
            "settings.conn_reuse_mode",
        ),
        (
            "[settings]",
            "[settings]\nnat_icmp_send = true",
            "settings.nat_icmp_send",
        ),
        (
            "[settings]",
            "[settings]\npmtu_disc = false",
            "settings.pmtu_disc",
        ),
        (
            "[settings]",
            "[settings]\nsecure_tcp = 2",
            "settings.secure_tcp",
        ),
        (
            "iface=rvs-int\"",
            "iface=rvs-int\"\ntap_name = \"ext\"",
            "port[1].tap_name",
        ),
        (
            "\"192.0.2.1/24\"",
            "\"203.0.113.1/24\"",
            "port[1].addresses[0]",
        ),
        (
            "\"net_af_packet1,iface=rvs-int\"",
            "\"net_af_packet0,iface=rvs-int\"",
            "port[1].device",
        ),
        (
            "\"net_af_packet1,iface=rvs-int\"",
            "\"0000:00:08.0\"",
            "port[1].device",
        ),
        (
            "\"net_af_packet1,iface=rvs-int\"",
            "\"eth1\"",
            "port[1].device",
        ),
        (
            "socket = \"/run/rvs/rvsd.sock\"",
            "socket = \"\"",
            "control.socket",
        ),
        (
            "socket = \"/run/rvs/rvsd.sock\"",
            "socket = \"/run/rvs/rvsd.sock\"\nstate_file = \"\"",
            "control.state_file",
        ),
        (
            "[cores]",
            "[metrics]\nlisten = \"localhost\"\n[cores]",
            "metrics.listen",
        ),
        (
            "socket = \"/run/rvs/rvsd.sock\"",
            "socket = \"/run/rvs/rvsd.sock\"\nadmin_group = \"rvs-no-such-group\"",
            "control.admin_group",
        ),
        (
            "socket = \"/run/rvs/rvsd.sock\"",
            "socket = \"/run/rvs/rvsd.sock\"\nidle_timeout = 0",
            "control.idle_timeout",
        ),
        (
            "[[port]]\nname = \"int\"",
            "[[port]]\nname = \"internal-network0\"",
            "port[1].name",
        ),
        (
            "[[port]]\nname = \"int\"",
            "[[port]]\nname = \"int\"\nmtu = 20",
            "port[1].mtu",
        ),
        (
            "[[port]]\nname = \"int\"",
            "[[port]]\nname = \"int\"\nrx_desc = 1000",
            "port[1].rx_desc",
        ),
        // The cache is defaulted, so the pool size is what to change.
        ("[cores]", "[tables]\nmbufs = 100\n[cores]", "tables.mbufs"),
        (
            "[cores]",
            "[tables]\nmbufs = 300\nmbuf_cache = 256\n[cores]",
            "tables.mbuf_cache",
        ),
        (
            "[cores]",
            "[tables]\nmbufs = 1000\nmbuf_cache = 0\n[cores]",
            "tables.mbufs",
        ),
    ];
    for (from, to, key) in cases {
        assert!(
            good.contains(from),
            "lab-nat.toml no longer contains {from:?}"
        );
        let text = good.replacen(from, to, 1);
        let e = Config::from_str_named(&text, "edit.toml").expect_err(to);
        assert_eq!(e.key(), Some(*key), "{to:?} gave {e}");
        // The line is the one holding the key (or its table), never 0.
        let line = e.line().unwrap();
        let held = text.lines().nth(line - 1).unwrap();
        let leaf = key.rsplit('.').next().unwrap().split('[').next().unwrap();
        assert!(
            held.contains(leaf) || held.starts_with('['),
            "{e}: line {line} is {held:?}"
        );
    }
}

/// Every IPVS sysctl that changes forwarding is a `[settings]` key with IPVS's default;
/// those for features rvs lacks are accepted at that default only.
#[test]
fn ipvs_sysctls_in_settings() {
    let good = std::fs::read_to_string(root().join("configs/lab-nat.toml")).unwrap();
    let c = Config::from_str_named(&good, "s.toml").unwrap();
    assert_eq!(
        (c.settings.conn_reuse_mode, c.settings.sloppy_tcp),
        (1, false)
    );
    let text = good.replacen(
        "[settings]",
        "[settings]\nconn_reuse_mode = 3\nsloppy_tcp = true\nsloppy_sctp = false\nnat_icmp_send = false\n\
         schedule_icmp = false\nignore_tunneled = false\ncache_bypass = false\nconntrack = false\n\
         backup_only = false\nsnat_reroute = true\npmtu_disc = true\nsecure_tcp = 0\n\
         drop_entry = 0\ndrop_packet = 0",
        1,
    );
    let c = Config::from_str_named(&text, "s.toml").unwrap();
    assert_eq!(
        (c.settings.conn_reuse_mode, c.settings.sloppy_tcp),
        (3, true)
    );
    let e = Config::from_str_named(
        &good.replacen("[settings]", "[settings]\nschedule_icmp = true", 1),
        "s.toml",
    )
    .unwrap_err();
    assert!(e.to_string().contains("does not schedule ICMP"), "{e}");
}

/// mh's table is IPVS's 4093 unless the service picks another of the kernel's primes.
#[test]
fn mh_table_size_defaults_to_ipvs_and_is_per_service() {
    let good = std::fs::read_to_string(root().join("configs/lab-nat.toml")).unwrap();
    let c = Config::from_str_named(&good.replacen("\"wlc\"", "\"mh\"", 1), "mh.toml").unwrap();
    assert_eq!(c.services[0].mh_table_size, 4093);
    let text = good.replacen("\"wlc\"", "\"mh\"\nmh_table_size = 65521", 1);
    let c = Config::from_str_named(&text, "mh.toml").unwrap();
    assert_eq!(c.services[0].mh_table_size, 65521);
}

mod no_panic {
    use super::*;
    use proptest::prelude::*;

    fn check(text: &str) {
        if let Err(e) = Config::from_str_named(text, "fuzz.toml") {
            let line = e.line().expect("parsing text never gives a read error");
            assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "{e}");
            assert!(!e.key().unwrap().is_empty());
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text(text in "\\PC{0,200}") {
            check(&text);
        }

        #[test]
        fn mangled_examples(
            which in 0usize..5,
            cut in 0usize..4000,
            len in 0usize..40,
            insert in "[\\[\\]{}=,\"a-z0-9./\\n -]{0,12}",
        ) {
            let names = ["lab-appliance", "lab-nat", "lab-dr", "lab-tun", "lab-multicore"];
            let good = std::fs::read_to_string(root().join(format!("configs/{}.toml", names[which]))).unwrap();
            let bytes = good.as_bytes();
            let start = cut.min(bytes.len());
            let end = (start + len).min(bytes.len());
            let mut text = Vec::from(&bytes[..start]);
            text.extend_from_slice(insert.as_bytes());
            text.extend_from_slice(&bytes[end..]);
            // The example files are ASCII, so any cut leaves valid UTF-8.
            check(std::str::from_utf8(&text).unwrap());
        }
    }
}

#[test]
fn empty_quoted_key_is_named() {
    let e = Config::from_str_named("\"\" = 1\n", "e.toml").unwrap_err();
    assert_eq!(e.to_string(), "e.toml:1: \"\": unknown field ``, expected one of `eal`, `log`, `cores`, `tables`, `control`, `port`, `route`, `vlan`, `routing`, `timeouts`, `settings`, `neighbour`, `fragments`, `mark`, `service`, `metrics`");
}

#[test]
fn port_mac_must_be_a_station_address_and_reaches_the_plan() {
    for (file, reason) in [
        (
            "port-mac-multicast.toml",
            "MAC 01:00:5e:00:00:01 is a multicast address",
        ),
        ("port-mac-zero.toml", "MAC 00:00:00:00:00:00 is all-zero"),
        ("port-mac-syntax.toml", "invalid MAC \"02:00:00:00:00\""),
    ] {
        bad(file, 8, "port[0].mac", ErrorKind::Address, reason);
    }
    let text = std::fs::read_to_string(root().join("tests/fixtures/config/port-mac-zero.toml"))
        .unwrap()
        .replace("00:00:00:00:00:00", "02:00:00:00:AA:01");
    let c = Config::from_str_named(&text, "m.toml").unwrap();
    assert_eq!(c.ports[0].mac, Some([2, 0, 0, 0, 0xaa, 1]));
    assert_eq!(rvs::mgmt::plan::plan(&c).ports[0].mac, c.ports[0].mac);
    let c = example("lab-appliance.toml");
    assert_eq!(c.ports[0].mac, None, "the device's own MAC by default");
}

#[test]
fn transit_errors_are_located_and_the_policy_reaches_the_plan() {
    bad(
        "transit-unknown.toml",
        11,
        "routing.transit",
        ErrorKind::Range,
        "unknown transit \"inbound\" (none, outbound, all)",
    );
    bad(
        "transit-outbound-no-inside.toml",
        10,
        "routing.transit",
        ErrorKind::Conflict,
        "transit = \"outbound\" needs a [[port]] or [[vlan]] with inside = true",
    );
    use rvs::net::TransitMode;
    let text =
        std::fs::read_to_string(root().join("tests/fixtures/config/transit-unknown.toml")).unwrap();
    let c = Config::from_str_named(&text.replace("inbound", "outbound"), "t.toml").unwrap();
    assert_eq!(c.routing.transit, TransitMode::Outbound);
    assert!(c.ports[0].inside);
    let plan = rvs::mgmt::plan::plan(&c);
    assert_eq!(plan.transit.mode(), TransitMode::Outbound);
    assert!(plan.transit.is_inside(0));
    // The default is the safe one; the appliance lab routes on purpose.
    let c = Config::from_str_named(&text.replace("transit = \"inbound\"", ""), "t.toml").unwrap();
    assert_eq!(c.routing.transit, TransitMode::None);
    assert_eq!(
        example("lab-appliance.toml").routing.transit,
        TransitMode::All
    );
}

#[test]
fn vlan_errors_are_located() {
    for (file, line, key, kind, reason) in [
        (
            "vlan-id-range.toml",
            18,
            "vlan[1].id",
            ErrorKind::Range,
            "VLAN id: 4095 is out of range (1..4094)",
        ),
        (
            "vlan-duplicate-id.toml",
            18,
            "vlan[1].id",
            ErrorKind::Duplicate,
            "VLAN id 100 is already \"v100\" on port \"trunk\"",
        ),
        (
            "vlan-name-clash.toml",
            16,
            "vlan[1].name",
            ErrorKind::Duplicate,
            "duplicate port name \"trunk\"",
        ),
        (
            "vlan-no-parent.toml",
            17,
            "vlan[1].port",
            ErrorKind::Reference,
            "no [[port]] is named \"wan\"",
        ),
        (
            "vlan-on-vlan.toml",
            17,
            "vlan[1].port",
            ErrorKind::Conflict,
            "\"v100\" is a VLAN",
        ),
        (
            "vlan-exception-path.toml",
            19,
            "vlan[1].tap_name",
            ErrorKind::Conflict,
            "tap_name needs exception_path = true",
        ),
        (
            "vlan-overlap.toml",
            13,
            "vlan[0].addresses[0]",
            ErrorKind::Conflict,
            "subnet 203.0.113.129/25 overlaps 203.0.113.1/24 of \"trunk\"",
        ),
        (
            "vlan-duplicate-address.toml",
            19,
            "vlan[1].addresses[0]",
            ErrorKind::Duplicate,
            "duplicate local address 192.0.2.1",
        ),
        (
            "vlan-framesz.toml",
            11,
            "vlan[0].port",
            ErrorKind::Conflict,
            "framesz=1552 cannot carry a tagged frame of MTU 1500 (needs framesz >= 1556)",
        ),
    ] {
        bad(file, line, key, kind, reason);
    }
}

#[test]
fn vlans_are_ports_after_the_physical_ones_for_routes_services_and_the_plan() {
    let text = std::fs::read_to_string(root().join("tests/fixtures/config/vlan-no-parent.toml"))
        .unwrap()
        .replace("port = \"wan\"", "port = \"trunk\"")
        + "[[route]]\nprefix = \"198.51.100.0/24\"\nvia = \"192.0.2.130\"\nport = \"v200\"\n\
           [[service]]\nproto = \"tcp\"\nvip = \"192.0.2.10\"\nport = 80\n\
           [[service.real]]\naddr = \"192.0.2.140\"\nmethod = \"nat\"\n";
    let text = text.replace("id = 200\n", "id = 200\naddresses = [\"192.0.2.129/25\"]\n");
    let c = Config::from_str_named(&text, "v.toml").unwrap();
    let names: Vec<&str> = c.ports.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["trunk", "v100", "v200"]);
    assert_eq!(c.physical_ports().len(), 1);
    assert_eq!(
        c.ports[2].vlan,
        Some(rvs::config::Vlan { parent: 0, id: 200 })
    );
    assert_eq!(c.ports[2].device, c.ports[0].device);
    assert_eq!(c.ports[2].exception_path, None, "no tap unless asked");
    let with_tap = text.replace("id = 200\n", "id = 200\nexception_path = true\n");
    let t = Config::from_str_named(&with_tap, "t.toml").unwrap();
    let tap = rvs::mgmt::plan::plan(&t).vlans[1].tap.clone();
    assert_eq!(
        tap.as_deref(),
        Some("v200"),
        "the tap is named after the VLAN"
    );
    assert_eq!(c.services[0].arp_port.as_deref(), Some("v100"));
    let plan = rvs::mgmt::plan::plan(&c);
    assert_eq!(plan.ports.len(), 1, "one device");
    assert_eq!(plan.eal_args.iter().filter(|a| *a == "--vdev").count(), 1);
    let v: Vec<(usize, u16)> = plan.vlans.iter().map(|v| (v.parent, v.id)).collect();
    assert_eq!(v, [(0, 100), (0, 200)]);
    assert_eq!(plan.routes[0].port, 2, "the route leaves by v200");
    let t = rvs::mgmt::plan::net_tables(&c);
    assert!(t.vips(1).iter().any(|x| x.addr == ip("192.0.2.10")));
}

#[test]
fn fragments_section_defaults_are_linux_bounded_by_the_pool_and_checked() {
    let base = "[cores]\nworkers = [0, 1]\n[[port]]\nname = \"int\"\ndevice = \"net_af_packet0,iface=x,qpairs=2\"\naddresses = [\"192.0.2.1/24\"]\n";
    let d = Config::from_str_named(base, "d.toml").unwrap();
    assert_eq!(d.fragments, rvs::config::Fragments::default());
    assert_eq!(
        (
            d.fragments.ipfrag_high_thresh,
            d.fragments.ipfrag_low_thresh
        ),
        (4194304, 3145728)
    );
    assert_eq!(d.fragments.ipfrag_time, 30);
    // 16383 mbufs, 2 workers: each may hold at most 16383 / 4 / 2 = 2047 fragments,
    // above Linux's 4 MiB = 1927 fragments of 2176 bytes.
    let r = rvs::mgmt::plan::reasm_params(&d);
    assert_eq!((r.high_thresh, r.time_secs), (4194304, 30));
    let small = format!("{base}[tables]\nmbufs = 8191\n[fragments]\nipfrag_time = 5\n");
    let r = rvs::mgmt::plan::reasm_params(&Config::from_str_named(&small, "s.toml").unwrap());
    assert_eq!(
        r.high_thresh,
        1023 * 2176,
        "a quarter of the pool over 2 workers"
    );
    assert_eq!((r.low_thresh, r.time_secs), (1023 * 2176, 5));
    let e = Config::from_str_named(
        &format!("{base}[fragments]\nipfrag_high_thresh = 1000\nipfrag_low_thresh = 2000\n"),
        "f.toml",
    )
    .unwrap_err();
    assert!(e.to_string().contains("fragments.ipfrag_low_thresh"), "{e}");
    let e = Config::from_str_named(&format!("{base}[fragments]\nipfrag_time = 0\n"), "f.toml")
        .unwrap_err();
    assert!(e.to_string().contains("fragments.ipfrag_time"), "{e}");
    let e = Config::from_str_named(
        &format!("{base}[fragments]\nipfrag_max_dist = 64\n"),
        "f.toml",
    )
    .unwrap_err();
    assert!(e.to_string().contains("ipfrag_max_dist"), "{e}");
}

#[test]
fn mbuf_data_room_bounds_af_packet_frames_and_reaches_the_plan() {
    let base = "[cores]\nworkers = [0]\n[[port]]\nname = \"int\"\ndevice = \"net_af_packet0,iface=x,framesz=10240,blocksz=20480,framecnt=512\"\naddresses = [\"192.0.2.1/24\"]\n";
    let e = Config::from_str_named(base, "d.toml").unwrap_err();
    assert!(
        e.to_string().contains("port[0].device") && e.to_string().contains("mbuf_data_room = 2048"),
        "{e}"
    );
    let c = Config::from_str_named(
        &format!("{base}[tables]\nmbuf_data_room = 10208\n"),
        "d.toml",
    )
    .unwrap();
    assert_eq!(c.tables.mbuf_data_room, 10208);
    assert_eq!(rvs::mgmt::plan::plan(&c).mbuf_data_room, 10208);
    assert_eq!(rvs::mgmt::plan::reasm_params(&c).truesize, 10208 + 128);
    let e = Config::from_str_named(
        &format!("{base}[tables]\nmbuf_data_room = 65408\n"),
        "d.toml",
    )
    .unwrap_err();
    assert!(e.to_string().contains("tables.mbuf_data_room"), "{e}");
}

/// A table given twice is one located line, like every other error (review finding
/// 12): toml_edit's two-line message is joined.
#[test]
fn duplicate_table_is_one_located_line() {
    let text =
        "[cores]\nworkers = [0]\n\n[routing]\ntransit = \"none\"\n\n[routing]\ntransit = \"all\"\n";
    let e = Config::from_str_named(text, "d.toml").unwrap_err();
    assert_eq!(
        e.to_string(),
        "d.toml:7: routing: invalid table header: duplicate key `routing` in document root"
    );
}
