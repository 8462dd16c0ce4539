//! Name resolution of a listing without `-n`, as ipvsadm's `addrport_to_anyname`: a
//! host by reverse lookup (the system resolver: /etc/hosts, then DNS, as nsswitch.conf
//! says; ipvsadm calls `gethostbyaddr`), a port by its /etc/services name for the
//! protocol (`getservbyport(port, "tcp"|"udp")`); whatever does not resolve stays
//! numeric. Ports of entries with no TCP/UDP protocol (fwmark templates, `IP`) stay
//! numeric, as ipvsadm's `port_to_service` finds no protocol name for them.
//!
//! Lookups go through `getnameinfo(3)` (the `dns-lookup` crate), which asks the same
//! NSS sources as `gethostbyaddr`/`getservbyport` and returns the same first name. Each
//! distinct address or port is looked up once per listing. `RVSADM_HOSTS=files`
//! ([`HOSTS_ENV`]) keeps host lookups to /etc/hosts.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The protocol a port name is looked up for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    /// `/etc/services` `tcp` names.
    Tcp,
    /// `/etc/services` `udp` names.
    Udp,
    /// No protocol (an `IP` fwmark template): the port stays a number.
    Other,
}

impl Proto {
    /// The protocol of an `ipvsadm -Lc` protocol column (`TCP`, `UDP`, `IP`...).
    pub fn of_conn_column(name: &str) -> Proto {
        match name {
            "TCP" => Proto::Tcp,
            "UDP" => Proto::Udp,
            _ => Proto::Other,
        }
    }
}

/// Turns addresses and ports into the text ipvsadm prints: numbers with `-n`, names
/// otherwise.
#[derive(Debug, Default)]
pub struct Names {
    numeric: bool,
    hosts: HashMap<Ipv4Addr, Option<String>>,
    ports: HashMap<(u16, Proto), Option<String>>,
}

impl Names {
    /// `numeric` = `-n`: never look anything up.
    pub fn new(numeric: bool) -> Names {
        Names {
            numeric,
            ..Names::default()
        }
    }

    /// `addr:port` as ipvsadm prints it (`192.0.2.11:80`, or `localhost:http`).
    pub fn addr_port(&mut self, addr: Ipv4Addr, port: u16, proto: Proto) -> String {
        if self.numeric {
            return format!("{addr}:{port}");
        }
        format!("{}:{}", self.host(addr), self.port(port, proto))
    }

    /// The host name of `addr`, or `addr` itself when it has none.
    pub fn host(&mut self, addr: Ipv4Addr) -> String {
        if self.numeric {
            return addr.to_string();
        }
        self.hosts
            .entry(addr)
            .or_insert_with(|| host_name(addr))
            .clone()
            .unwrap_or_else(|| addr.to_string())
    }

    /// The service name of `port` for `proto`, or the number when it has none.
    pub fn port(&mut self, port: u16, proto: Proto) -> String {
        if self.numeric || proto == Proto::Other {
            return port.to_string();
        }
        self.ports
            .entry((port, proto))
            .or_insert_with(|| service_name(port, proto))
            .clone()
            .unwrap_or_else(|| port.to_string())
    }
}

/// Environment variable: `RVSADM_HOSTS=files` names hosts from /etc/hosts only, never
/// asking DNS (rvs's own; ipvsadm has no such switch). For hosts whose DNS is slow or
/// absent, where every unnamed address of a listing would otherwise wait for the
/// resolver's timeout, and for tests, which must send no DNS query.
pub const HOSTS_ENV: &str = "RVSADM_HOSTS";

/// The hosts file [`HOSTS_ENV`] reads.
const HOSTS_FILE: &str = "/etc/hosts";

/// The host name of `addr`: `gethostbyaddr` through `getnameinfo(NI_NAMEREQD)`, or the
/// hosts file alone with `RVSADM_HOSTS=files` (always in unit tests: no DNS from a test,
/// and no wait on an unanswered query).
fn host_name(addr: Ipv4Addr) -> Option<String> {
    let files_only = cfg!(test) || std::env::var_os(HOSTS_ENV).is_some_and(|v| v == "files");
    if files_only {
        let text = std::fs::read_to_string(HOSTS_FILE).ok()?;
        return hosts_file_name(addr, &text);
    }
    dns_lookup::lookup_addr(&IpAddr::V4(addr)).ok()
}

/// glibc's `files` source for `gethostbyaddr` over a hosts file's `text`: the first line
/// whose address is `addr`, its first name (the canonical one). `#` starts a comment; a
/// line whose first word is no IPv4 address is skipped.
pub fn hosts_file_name(addr: Ipv4Addr, text: &str) -> Option<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .find_map(|l| {
            let mut words = l.split_whitespace();
            let a: Ipv4Addr = words.next()?.parse().ok()?;
            if a == addr {
                words.next().map(str::to_string)
            } else {
                None
            }
        })
}

/// `getservbyport` through `getnameinfo(NI_NUMERICHOST [| NI_DGRAM])`: the name, or
/// `None` when the services database has none (getnameinfo then returns the number).
fn service_name(port: u16, proto: Proto) -> Option<String> {
    let mut flags = libc::NI_NUMERICHOST;
    if proto == Proto::Udp {
        flags |= libc::NI_DGRAM;
    }
    let sa = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let (_, service) = dns_lookup::getnameinfo(&sa, flags).ok()?;
    if service.is_empty() || service == port.to_string() {
        None
    } else {
        Some(service)
    }
}

/// `s` cut to at most `max` bytes (ipvsadm writes a NUL at that index; names and
/// addresses are ASCII, a cut inside a multi-byte character backs off to its start).
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// What `getent` (glibc's NSS, not our code) answers, to compare with.
    fn getent(db: &str, key: &str) -> Option<String> {
        let out = Command::new("getent")
            .args(["-s", "files", db, key])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8(out.stdout).ok()?;
        let fields: Vec<&str> = text.split_whitespace().collect();
        match db {
            "hosts" => fields.get(1).map(|s| s.to_string()),
            _ => fields.first().map(|s| s.to_string()),
        }
    }

    #[test]
    fn numeric_never_resolves() {
        let mut n = Names::new(true);
        assert_eq!(
            n.addr_port(Ipv4Addr::LOCALHOST, 80, Proto::Tcp),
            "127.0.0.1:80"
        );
    }

    #[test]
    fn the_system_resolver_path_names_localhost() {
        // getnameinfo(NI_NAMEREQD) answers 127.0.0.1 from the hosts file (nsswitch puts
        // `files` first), so no DNS query leaves the machine.
        let want = getent("hosts", "127.0.0.1").unwrap_or_else(|| "127.0.0.1".into());
        let got = dns_lookup::lookup_addr(&IpAddr::V4(Ipv4Addr::LOCALHOST)).ok();
        assert_eq!(got.unwrap_or_else(|| "127.0.0.1".into()), want);
    }

    #[test]
    fn names_are_what_the_system_resolver_says() {
        let mut n = Names::new(false);
        let host = getent("hosts", "127.0.0.1").unwrap_or_else(|| "127.0.0.1".into());
        let http = getent("services", "80/tcp").unwrap_or_else(|| "80".into());
        assert_eq!(
            n.addr_port(Ipv4Addr::LOCALHOST, 80, Proto::Tcp),
            format!("{host}:{http}")
        );
        let domain = getent("services", "53/udp").unwrap_or_else(|| "53".into());
        assert_eq!(n.port(53, Proto::Udp), domain);
        // No protocol: numeric, as ipvsadm's port_to_service.
        assert_eq!(n.port(80, Proto::Other), "80");
        // A documentation address has no PTR record here: it stays numeric.
        let doc = Ipv4Addr::new(203, 0, 113, 10);
        let want = getent("hosts", "203.0.113.10").unwrap_or_else(|| "203.0.113.10".into());
        assert_eq!(n.host(doc), want);
        // A port with no /etc/services entry stays a number.
        if getent("services", "40999/tcp").is_none() {
            assert_eq!(n.port(40999, Proto::Tcp), "40999");
        }
    }

    #[test]
    fn the_hosts_file_reader_agrees_with_glibcs_files_source() {
        let text = "# c\n\n::1 localhost6\n192.0.2.7 web web.example # x\n192.0.2.7 second\n";
        let a = Ipv4Addr::new(192, 0, 2, 7);
        assert_eq!(hosts_file_name(a, text).as_deref(), Some("web"));
        assert_eq!(hosts_file_name(Ipv4Addr::new(192, 0, 2, 8), text), None);
        // And on this machine's own file, against getent (glibc, not our code).
        let real = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        for probe in ["127.0.0.1", "127.0.1.1", "203.0.113.10"] {
            let addr: Ipv4Addr = probe.parse().unwrap();
            assert_eq!(
                hosts_file_name(addr, &real),
                getent("hosts", probe),
                "{probe}"
            );
        }
    }

    #[test]
    fn truncates_on_a_byte_count() {
        assert_eq!(
            truncate("1.31.31.31.dyn.idknet.com:50xx", 28),
            "1.31.31.31.dyn.idknet.com:50"
        );
        assert_eq!(truncate("short", 28), "short");
        assert_eq!(truncate("aé", 2), "a");
    }
}
