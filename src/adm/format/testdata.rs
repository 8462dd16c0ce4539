//! Test helpers: ipvsadm 1.31's own output from the oracle recordings
//! (`tests/fixtures/oracle/**`, made by real ipvsadm on a real IPVS kernel with the
//! scripts committed beside them), cut into listings, and parsed back into the views that
//! produce them, so the formatter is compared with ipvsadm byte for byte.

use super::names::Proto;
use crate::ctl::views::{
    ConnView, DestView, MethodView, RatesView, ServiceKeyView, ServiceSpec, ServiceView, StatsView,
};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};

/// Every recording file under tests/fixtures/oracle (text files, recursively), but
/// the ipvsadm case file.
fn recordings() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                // ipvsadm/ is a byte-counted case file, replayed case by case (replay.rs).
                if !p.ends_with("ipvsadm") {
                    walk(&p, out);
                }
            } else if p.extension().is_some_and(|e| e == "txt" || e == "out") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oracle"),
        &mut out,
    );
    out
}

/// Does `line` continue a listing that started with `marker`?
fn continues(marker: &str, line: &str) -> bool {
    if marker.starts_with("IPVS connection entries") {
        let mut f = line.split(' ');
        let proto = f.next().unwrap_or("");
        let exp = f.next().unwrap_or("");
        ["TCP", "UDP", "IP", "SCTP"].contains(&proto)
            && exp.len() >= 5
            && exp.as_bytes()[exp.len() - 3] == b':'
    } else if marker.starts_with("IP Virtual Server") {
        line.starts_with("TCP  ")
            || line.starts_with("UDP  ")
            || line.starts_with("FWM  ")
            || line.starts_with("  -> ")
    } else {
        false
    }
}

/// Every listing in the recordings that starts with a line beginning with `marker`:
/// that line, the title lines (two for `IPVS connection entries` and the service
/// listings' version line: one more), and the rows that follow, each with its `\n`.
pub fn oracle_blocks(marker: &str) -> Vec<String> {
    let titles = if marker.starts_with("IPVS connection entries") {
        1
    } else if marker.starts_with("IP Virtual Server") {
        2
    } else {
        0
    };
    let mut blocks = Vec::new();
    for path in recordings() {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            if lines[i].starts_with(marker) && i + titles < lines.len() {
                let mut block = String::new();
                for l in &lines[i..=i + titles] {
                    block.push_str(l);
                    block.push('\n');
                }
                i += titles + 1;
                while i < lines.len() && continues(marker, lines[i]) {
                    block.push_str(lines[i]);
                    block.push('\n');
                    i += 1;
                }
                blocks.push(block);
            } else {
                i += 1;
            }
        }
    }
    blocks
}

/// `addr:port` as a listing prints it, names resolved back (hosts through the system
/// resolver, ports through /etc/services for `proto`); panics when it cannot be (a name
/// cut at the column width), which the callers catch per case.
pub fn sock_named(s: &str, proto: Proto) -> SocketAddrV4 {
    if let Ok(a) = s.parse() {
        return a;
    }
    let (host, port) = s
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("no port in {s}"));
    let ip: Ipv4Addr = host.parse().unwrap_or_else(|_| {
        // The hosts file only (no DNS query from a test), as names.rs in tests.
        let out = std::process::Command::new("getent")
            .args(["-s", "files", "ahostsv4", host])
            .output()
            .expect("getent");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("host {host} does not resolve"))
    });
    let port: u16 = port.parse().unwrap_or_else(|_| {
        let socktype = if proto == Proto::Udp {
            libc::SOCK_DGRAM
        } else {
            libc::SOCK_STREAM
        };
        let hints = dns_lookup::AddrInfoHints {
            socktype,
            ..dns_lookup::AddrInfoHints::default()
        };
        dns_lookup::getaddrinfo(Some("127.0.0.1"), Some(port), Some(hints))
            .ok()
            .and_then(|mut it| it.next())
            .and_then(|r| r.ok())
            .map(|ai| ai.sockaddr.port())
            .unwrap_or_else(|| panic!("service {port} does not resolve"))
    });
    SocketAddrV4::new(ip, port)
}

fn sock(s: &str) -> SocketAddrV4 {
    sock_named(s, Proto::Tcp)
}

/// The rows of a `-Lnc` listing as the ConnViews that print them.
pub fn parse_conn_rows(block: &str) -> Vec<ConnView> {
    block
        .lines()
        .skip(2)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (m, s) = f[1].split_once(':').expect("mm:ss");
            let proto = Proto::of_conn_column(f[0]);
            let src = sock_named(f[3], proto);
            let vip = sock_named(f[4], proto);
            let dst = sock_named(f[5], proto);
            ConnView {
                protocol: f[0].to_string(),
                client_addr: *src.ip(),
                client_port: src.port(),
                vaddr: *vip.ip(),
                vport: vip.port(),
                daddr: *dst.ip(),
                dport: dst.port(),
                state: f[2].to_string(),
                expires_secs: m.parse::<u32>().unwrap() * 60 + s.parse::<u32>().unwrap(),
                template: src.port() == 0,
            }
        })
        .collect()
}

/// An empty dest at `addr:port` (`-g -w 1`, no counters); the formatter's tests start
/// from it too.
pub fn dest(addr: Ipv4Addr, port: u16) -> DestView {
    DestView {
        addr,
        port,
        method: MethodView::Dr,
        weight: 1,
        u_threshold: 0,
        l_threshold: 0,
        active_conns: 0,
        inactive_conns: 0,
        persistent_conns: 0,
        stats: StatsView::default(),
        rates: RatesView::default(),
        passive_failures: 0,
        health: None,
    }
}

/// An empty service `key` with ipvsadm's defaults ([`ServiceSpec::new`]) and no dests;
/// the formatter's tests start from it too.
pub fn service(key: ServiceKeyView) -> ServiceView {
    ServiceView {
        spec: ServiceSpec::new(key),
        stats: StatsView::default(),
        rates: RatesView::default(),
        dests: vec![],
        removed_dests: vec![],
        sorry_active: None,
    }
}

/// `--stats` counters in the listing's column order: Conns, InPkts, OutPkts, InBytes,
/// OutBytes (what the parsers read off a line, and the tests write by hand).
pub fn stats(n: [u64; 5]) -> StatsView {
    StatsView {
        conns: n[0],
        inpkts: n[1],
        outpkts: n[2],
        inbytes: n[3],
        outbytes: n[4],
    }
}

/// `--rate` rates in the listing's column order: CPS, InPPS, OutPPS, InBPS, OutBPS.
pub fn rates(n: [u64; 5]) -> RatesView {
    RatesView {
        cps: n[0],
        inpps: n[1],
        outpps: n[2],
        inbps: n[3],
        outbps: n[4],
    }
}

/// The five counter columns after the first field(s) of a listing line, as numbers
/// ([`exact`] each).
fn counters(fields: &[&str], lenient: bool) -> [u64; 5] {
    let n: Vec<u64> = fields.iter().map(|s| exact(s, lenient)).collect();
    [n[0], n[1], n[2], n[3], n[4]]
}

/// The name `getent DB KEY` prints on this machine (through every NSS source, as the
/// formatter resolves): a host's is its second field, a service's its first; None when
/// getent answers nothing. What the tests without `-n` expect a name to print as.
pub fn getent_name(db: &str, key: &str) -> Option<String> {
    let field = usize::from(db == "hosts");
    std::process::Command::new("getent")
        .args([db, key])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|t| t.split_whitespace().nth(field).map(str::to_string))
}

/// A counter column as printed with `--exact` (or small enough not to be scaled); a
/// scaled one (`139200K`) is 0 when `lenient`, else a panic.
fn exact(s: &str, lenient: bool) -> u64 {
    s.parse().unwrap_or_else(|_| {
        assert!(lenient, "scaled counter {s}: record with --exact");
        0
    })
}

/// The services of a numeric service listing (`-Ln` in any layout; counters must be
/// exact or unscaled), in the printed order, with everything the listing shows.
pub fn parse_services(block: &str) -> Vec<ServiceView> {
    parse_services_with(block, false)
}

/// [`parse_services`]; with `lenient` a scaled counter reads as 0 (the caller takes the
/// counters from an `--exact` listing of the same table).
pub fn parse_services_with(block: &str, lenient: bool) -> Vec<ServiceView> {
    let mut lines = block.lines();
    let first = lines.next().unwrap_or("");
    let mut title = if first.starts_with("IP Virtual Server") {
        lines.next().unwrap_or("")
    } else {
        first
    };
    title = title.trim_end();
    lines.next(); // the `  -> RemoteAddress:Port` title line
    let mut out: Vec<ServiceView> = Vec::new();
    for l in lines {
        if let Some(rest) = l.strip_prefix("  -> ") {
            let f: Vec<&str> = rest.split_whitespace().collect();
            let proto = match out.last().map(|s| s.spec.key) {
                Some(ServiceKeyView::Udp { .. }) => Proto::Udp,
                Some(ServiceKeyView::Fwmark { .. }) => Proto::Other,
                _ => Proto::Tcp,
            };
            let a = sock_named(f[0], proto);
            let mut d = dest(*a.ip(), a.port());
            let tun_info = title.ends_with("Scheduler Flags") && block.contains("TunnelInfo");
            if title.ends_with("Scheduler Flags") {
                let f: Vec<&str> = if tun_info {
                    // The TunnelInfo column follows the method and says nothing more.
                    f.iter()
                        .enumerate()
                        .filter(|(i, _)| *i != 2)
                        .map(|(_, w)| *w)
                        .collect()
                } else {
                    f
                };
                d.method = match f[1] {
                    "Masq" => MethodView::Nat,
                    "Tunnel" => MethodView::Tun,
                    _ => MethodView::Dr,
                };
                d.weight = f[2].parse().unwrap();
                d.active_conns = f[3].parse().unwrap();
                d.inactive_conns = f[4].parse().unwrap();
            } else if title.ends_with("OutBytes") {
                d.stats = stats(counters(&f[1..], lenient));
            } else if title.ends_with("OutBPS") {
                d.rates = rates(counters(&f[1..], lenient));
            } else if title.contains("Uthreshold") {
                d.u_threshold = f[1].parse().unwrap();
                d.l_threshold = f[2].parse().unwrap();
                d.active_conns = f[3].parse().unwrap();
                d.inactive_conns = f[4].parse().unwrap();
            } else if title.contains("PersistConn") {
                d.weight = f[1].parse().unwrap();
                d.persistent_conns = f[2].parse().unwrap();
                d.active_conns = f[3].parse().unwrap();
                d.inactive_conns = f[4].parse().unwrap();
            }
            out.last_mut().expect("dest before service").dests.push(d);
            continue;
        }
        let f: Vec<&str> = l.split_whitespace().collect();
        let key = match f[0] {
            "FWM" => ServiceKeyView::Fwmark {
                mark: f[1].parse().unwrap(),
            },
            "TCP" => {
                let a = sock(f[1]);
                ServiceKeyView::Tcp {
                    vip: *a.ip(),
                    port: a.port(),
                }
            }
            _ => {
                let a = sock_named(f[1], Proto::Udp);
                ServiceKeyView::Udp {
                    vip: *a.ip(),
                    port: a.port(),
                }
            }
        };
        let mut s = service(key);
        let rest = &f[2..];
        if title.ends_with("OutBytes") {
            s.stats = stats(counters(rest, lenient));
        } else if title.ends_with("OutBPS") {
            s.rates = rates(counters(rest, lenient));
        } else {
            s.spec.scheduler = rest[0].to_string();
            let mut i = 1;
            while i < rest.len() {
                match rest[i] {
                    w if w.starts_with('(') => {
                        s.spec.flags = w
                            .trim_matches(|c| c == '(' || c == ')')
                            .split(',')
                            .map(str::to_string)
                            .collect();
                    }
                    "persistent" => {
                        i += 1;
                        s.spec.persistent = Some(rest[i].parse().unwrap());
                    }
                    "mask" => {
                        i += 1;
                        s.spec.netmask = rest[i].parse().unwrap();
                    }
                    "ops" => s.spec.ops = true,
                    w => panic!("unknown service word {w} in {l}"),
                }
                i += 1;
            }
        }
        out.push(s);
    }
    out
}

/// The services of an `ipvsadm -S [-n]` text, in its order.
pub fn parse_save(text: &str) -> Vec<ServiceView> {
    let mut out: Vec<ServiceView> = Vec::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        let proto = match f[1] {
            "-u" => Proto::Udp,
            "-f" => Proto::Other,
            _ => Proto::Tcp,
        };
        let key = match f[1] {
            "-f" => ServiceKeyView::Fwmark {
                mark: f[2].parse().unwrap(),
            },
            "-t" => {
                let a = sock_named(f[2], proto);
                ServiceKeyView::Tcp {
                    vip: *a.ip(),
                    port: a.port(),
                }
            }
            _ => {
                let a = sock_named(f[2], proto);
                ServiceKeyView::Udp {
                    vip: *a.ip(),
                    port: a.port(),
                }
            }
        };
        let mut i = 3;
        if f[0] == "-A" {
            let mut spec = ServiceSpec::new(key);
            while i < f.len() {
                match f[i] {
                    "-s" => {
                        i += 1;
                        spec.scheduler = f[i].into();
                    }
                    "-p" => {
                        i += 1;
                        spec.persistent = Some(f[i].parse().unwrap());
                    }
                    "-M" => {
                        i += 1;
                        spec.netmask = f[i].parse().unwrap();
                    }
                    "-b" => {
                        i += 1;
                        spec.flags = f[i].split(',').map(str::to_string).collect();
                    }
                    "-o" => spec.ops = true,
                    w => panic!("unknown -A word {w}"),
                }
                i += 1;
            }
            out.push(ServiceView {
                spec,
                stats: StatsView::default(),
                rates: RatesView::default(),
                dests: vec![],
                removed_dests: vec![],
                sorry_active: None,
            });
        } else {
            let mut d = dest(Ipv4Addr::UNSPECIFIED, 0);
            while i < f.len() {
                match f[i] {
                    "-r" => {
                        i += 1;
                        let a = sock_named(f[i], proto);
                        d.addr = *a.ip();
                        d.port = a.port();
                    }
                    "-m" => d.method = MethodView::Nat,
                    "-g" => d.method = MethodView::Dr,
                    "-i" => d.method = MethodView::Tun,
                    "-w" => {
                        i += 1;
                        d.weight = f[i].parse().unwrap();
                    }
                    "--tun-type" => {
                        i += 1;
                        assert_eq!(f[i], "ipip", "rvs tunnels are IPIP");
                    }
                    w => panic!("unknown -a word {w}"),
                }
                i += 1;
            }
            out.last_mut().expect("-a after -A").dests.push(d);
        }
    }
    out
}
