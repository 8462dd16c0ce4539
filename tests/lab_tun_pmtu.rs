//! TUN path MTU past the director's own egress, with real Linux hosts: the real server
//! sits behind a router whose link toward it has a 1300-byte MTU, while the director's
//! port has 1500. The client's TCP segments (MSS from the real server's 1300-byte link:
//! 1300-byte packets) fit the director's port once encapsulated (1320) but not the
//! router's far link, so the router answers ICMP frag-needed (1300) about our IPIP
//! packet. Only when rvsd relays it to the client as IPVS does (frag-needed 1280 from
//! the VIP, `LbPath::tunnel_icmp`) does the client lower its segments and the upload get
//! through; before, the error went nowhere and the upload stalled (a PMTU black hole).

mod common;
use common::lab::{lab_available, Lab};
use common::rvsd::{derived_config, Rvsd};

#[test]
fn tun_upload_through_a_smaller_mtu_router_needs_the_relayed_frag_needed() {
    if !lab_available("tun_upload_through_a_smaller_mtu_router_needs_the_relayed_frag_needed") {
        return;
    }
    let mut lab = Lab::new();
    let p = lab.prefix().to_string();
    let port = format!("{p}i");
    lab.network("int");
    lab.network("far");
    lab.host("client");
    lab.attach("client", "int", "eth0", "192.0.2.2/24");
    lab.director_port("int", &port);
    lab.host("router");
    lab.attach("router", "int", "eth0", "192.0.2.254/24");
    lab.attach("router", "far", "eth1", "198.51.100.1/24");
    lab.sh_ok(
        "router",
        "sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
         net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.eth1.rp_filter=0 && ip link set eth1 mtu 1300",
    );
    lab.host("rs");
    lab.attach("rs", "far", "eth0", "198.51.100.11/24");
    lab.sh_ok(
        "rs",
        "ip link set eth0 mtu 1300 && ip route add default via 198.51.100.1 && \
         ip addr add 192.0.2.10/32 dev lo",
    );
    lab.spawn(
        "rs",
        "/usr/bin/python3 tests/lab/ipip_decap.py --dev rvsdecap0",
    );
    assert!(lab.wait_until("rs", "ip link show rvsdecap0 | grep -q UP", 10));
    lab.spawn("rs", "/usr/bin/python3 tests/lab/httpd.py rs --port 80");
    assert!(lab.wait_until("rs", "ss -ltn | grep -q ':80 '", 10));

    let (dir, cfg) = derived_config("lab-tun.toml", &[]);
    std::fs::write(
        &cfg,
        format!(
            "[eal]\nargs = [\"--no-huge\", \"-m\", \"1024\", \"--no-pci\", \"--no-shconf\", \"--file-prefix\", \"{p}-pmtu\"]\n\
             [cores]\nworkers = [0]\nmanagement = 1\n\
             [[port]]\nname = \"int\"\ndevice = \"net_af_packet0,iface={port}\"\naddresses = [\"192.0.2.1/24\"]\n\
             exception_path = false\n\
             [[route]]\nprefix = \"198.51.100.0/24\"\nvia = \"192.0.2.254\"\nport = \"int\"\n\
             [[service]]\nproto = \"tcp\"\nvip = \"192.0.2.10\"\nport = 80\nscheduler = \"rr\"\n\
             [[service.real]]\naddr = \"198.51.100.11\"\nmethod = \"tun\"\n"
        ),
    )
    .unwrap();
    let rvsd = Rvsd::start(dir, cfg);
    assert!(
        lab.wait_until("client", "curl -sf -m 2 http://192.0.2.10/", 20),
        "{}",
        rvsd.log_text()
    );
    // A 2 MB upload, checked end to end by sha256 (the real server hashes what it got).
    let up = lab.sh(
        "client",
        "f=$(mktemp /tmp/rvs-up.XXXXXX) && head -c 2000000 /dev/urandom > $f && \
         sha256sum $f | cut -d' ' -f1 && curl -sf -m 30 --data-binary @$f \
         -H 'Content-Type: application/octet-stream' http://192.0.2.10/upload; rm -f $f",
    );
    let out = String::from_utf8_lossy(&up.stdout).into_owned();
    let mut lines = out.lines();
    let local = lines.next().unwrap_or_default().trim().to_string();
    let reply = lines.next().unwrap_or_default().to_string();
    let route = lab.sh_ok("client", "ip route get 192.0.2.10");
    let log = rvsd.stop();
    assert!(
        !local.is_empty() && reply.ends_with(&local),
        "upload: local sha {local}, server said {reply:?}; client route: {route}\n{log}"
    );
    assert!(
        Rvsd::counter_in(&log, "tun_icmp_frag_needed") >= 1,
        "the router's frag-needed must have been relayed: {log}"
    );
    assert!(
        route.contains("mtu 1280"),
        "the client learnt tunnel MTU 1300 - 20 from the VIP: {route}"
    );
}
