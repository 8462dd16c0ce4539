//! Golden pcaps through the real data path: rvsd with a `net_pcap` port reads a crafted
//! input pcap (made by scapy) and writes what it transmits to an output pcap, which scapy
//! dissects and checks (an independent dissector: a fixture cannot agree with our bug).

mod common;
use common::lab::lab_available;
use common::rvsd::{derived_config, Rvsd};
use std::process::Command;

/// net_pcap's fixed MAC for its first device ("\x02pcap\x00").
const PCAP_MAC: &str = "02:70:63:61:70:00";

fn scapy(args: &[&str]) -> std::process::Output {
    let out = Command::new("/usr/bin/python3")
        .args(args)
        .output()
        .expect("/usr/bin/python3 runs");
    if !out.status.success() {
        panic!(
            "{args:?} failed (is python3-scapy installed? scripts/setup.sh installs it):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// rvsd with one `net_pcap` port reading `in.pcap` (made by `script make`) and writing
/// `out.pcap`, on lab-appliance.toml plus `services` (TOML appended). Runs it for 2 s,
/// stops it, has `script check` dissect the output with scapy, and returns the log.
fn run_pcap_case(tag: &str, script: &str, services: &str) -> String {
    // Both cases derive their config into the same per-process temp dir: one at a time.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!(
        "rvs-test-{}-lab-appliance-toml",
        std::process::id()
    ));
    let input = dir.join("in.pcap");
    let output = dir.join("out.pcap");
    let device = format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        input.display(),
        output.display()
    );
    let tag = format!("{tag}{}", std::process::id());
    let (dir, cfg) = derived_config(
        "lab-appliance.toml",
        &[
            ("net_af_packet0,iface=rvs-ext", &device),
            ("exception_path = true", "exception_path = false"),
            ("rvs-appliance", &tag),
        ],
    );
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(services);
    std::fs::write(&cfg, text).unwrap();
    scapy(&[script, "make", input.to_str().unwrap(), PCAP_MAC]);
    let mut rvsd = Rvsd::start(dir.clone(), cfg);
    rvsd.keep_files();
    assert!(
        rvsd.log_text().contains(&format!("mac {PCAP_MAC}")),
        "{}",
        rvsd.log_text()
    );
    std::thread::sleep(std::time::Duration::from_secs(2));
    let log = rvsd.stop();
    let out = scapy(&[script, "check", output.to_str().unwrap(), PCAP_MAC]);
    std::fs::remove_dir_all(&dir).ok();
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK"));
    log
}

#[test]
fn appliance_golden_pcap() {
    if !lab_available("appliance_golden_pcap") {
        return;
    }
    // A VIP for the ARP case: a one-real service on 203.0.113.10.
    let log = run_pcap_case(
        "pcap",
        "tests/pcap/appliance.py",
        "\n[[service]]\nproto = \"tcp\"\nvip = \"203.0.113.10\"\nport = 80\nscheduler = \"rr\"\n\
         [[service.real]]\naddr = \"203.0.113.20\"\nmethod = \"dr\"\n",
    );
    assert_eq!(Rvsd::counter_in(&log, "arp_replies"), 2, "{log}");
    assert_eq!(Rvsd::counter_in(&log, "echo_replies"), 1, "{log}");
    assert_eq!(Rvsd::counter_in(&log, "gratuitous_arps"), 2, "{log}");
    assert_eq!(Rvsd::counter_in(&log, "drop_arp_ignored"), 1, "{log}");
    assert_eq!(Rvsd::counter_in(&log, "drop_malformed"), 2, "{log}");
    assert_eq!(Rvsd::counter_in(&log, "drop_other_host"), 1, "{log}");
    assert_eq!(Rvsd::counter_in(&log, "drop_unknown_ethertype"), 1, "{log}");
}

#[test]
fn load_balancing_golden_pcap() {
    if !lab_available("load_balancing_golden_pcap") {
        return;
    }
    let mut services = String::new();
    for (vip, real, method, port) in [
        ("203.0.113.10", "203.0.113.11", "nat", "\nport = 8080"),
        ("203.0.113.20", "203.0.113.12", "dr", ""),
        ("203.0.113.30", "203.0.113.13", "tun", ""),
    ] {
        services.push_str(&format!(
            "\n[[service]]\nproto = \"tcp\"\nvip = \"{vip}\"\nport = 80\nscheduler = \"rr\"\n\
             [[service.real]]\naddr = \"{real}\"\nmethod = \"{method}\"{port}\n"
        ));
    }
    let log = run_pcap_case("pcaplb", "tests/pcap/lb.py", &services);
    for (name, n) in [
        ("nat_in", 1),
        ("nat_out", 1),
        ("icmp_related", 1),
        ("dr_out", 1),
        ("tun_out", 1),
        ("tx_icmp_frag_needed", 1),
        ("conns_new", 3),
        ("tx_tcp_reset", 1),
        ("drop_no_conn", 0),
        ("drop_fragment", 1),
        ("drop_bad_ip_checksum", 1),
    ] {
        assert_eq!(Rvsd::counter_in(&log, name), n, "{name}:\n{log}");
    }
}
