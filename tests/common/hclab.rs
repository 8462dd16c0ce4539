//! The health-check lab (phase 7): the NAT and DR topologies of `topo.rs` (client,
//! director, real servers rs1..rs3 on 192.0.2.11-13), with every server process of a
//! real server under the test's control, so a test can take one down and bring it back:
//! - `Server::Http`: `httpd.py rsN` on the HTTP port (8080 NAT, 80 DR) with `--health`,
//!   whose `GET /health[/TAG]` answers what the test wrote ([`HealthLab::set_health`]:
//!   503, another body...);
//! - `Server::Https`: the same over TLS on 8443 (a self-signed certificate made here);
//! - `Server::Dns`: hc_servers.py's DNS responder on 53 (www.example.test A);
//! - `Server::UdpEcho`: `udpecho.py rsN` on 5000 (replies "rsN <payload>");
//! - the sorry server: host `sorry`, 192.0.2.50, `httpd.py rs-sorry` on the HTTP port.
//!
//! rvsd runs in the lab's `director` namespace (its ports' veths are there), so its
//! exception-path taps and the health checks' sockets never touch the machine's own
//! network. Stopping is SIGTERM to the server's own pid (`ip netns exec` execs it), then waiting
//! until its port is closed: from then on the real server's kernel answers every SYN with
//! a RST (TCP) or an ICMP port unreachable (UDP), as a crashed daemon's host does.
//! Extra addresses on each real server ([`Extras::extra_addrs`]) are served by the same
//! processes (they listen on 0.0.0.0). Everything goes with the lab on Drop.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::lab::Lab;
use super::rvsd::{private_socket, Rvsd};

/// Real server addresses, in name order rs1..rs3 (as `topo::REALS`).
pub const REALS: [&str; 3] = ["192.0.2.11", "192.0.2.12", "192.0.2.13"];
/// The sorry server's address (configs/lab-health.toml).
pub const SORRY: &str = "192.0.2.50";

/// Which director the lab has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topo {
    /// Two-armed NAT: client 203.0.113.2, VIP 203.0.113.10, real servers on 8080.
    Nat,
    /// One-armed DR: client 192.0.2.2, VIP 192.0.2.10 on the real servers' lo, port 80.
    Dr,
}

/// A server process on a real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Server {
    /// httpd.py on the HTTP port.
    Http,
    /// httpd.py --tls on 8443.
    Https,
    /// hc_servers.py --dns on 53/udp.
    Dns,
    /// udpecho.py on 5000/udp.
    UdpEcho,
}

/// What a test needs besides the three HTTP real servers.
#[derive(Clone, Copy, Debug, Default)]
pub struct Extras {
    /// The sorry server host.
    pub sorry: bool,
    /// An HTTPS server on every real server.
    pub https: bool,
    /// A DNS responder and a UDP echo on every real server.
    pub udp: bool,
    /// More addresses on each real server (at most 19): rsN (N = 1..3) also holds
    /// 192.0.2.(20 * N + k) for k in 0..extra_addrs.
    pub extra_addrs: u8,
}

/// The lab, its server processes and a scratch directory (health files, certificate,
/// notify logs, rvsd's configs), removed on Drop.
pub struct HealthLab {
    /// The lab (namespaces and processes).
    pub lab: Lab,
    /// NAT or DR.
    pub topo: Topo,
    /// Director veths then taps: NAT [ext, int, tap ext, tap int]; DR [int, tap int].
    names: Vec<String>,
    /// Scratch directory shared with the namespaces (same filesystem).
    pub dir: PathBuf,
    procs: BTreeMap<(usize, Server), u32>,
    rvsd_runs: usize,
}

impl HealthLab {
    /// Builds the topology and starts every server `extras` asks for.
    pub fn new(topo: Topo, extras: Extras) -> HealthLab {
        let mut lab = Lab::new();
        let p = lab.prefix().to_string();
        let dir = std::env::temp_dir().join(format!("rvs-hclab-{p}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // rvsd runs in a namespace of its own: its taps, and so its health checks' kernel
        // sockets, stay in the lab whatever the machine's own addresses are (a host with
        // 192.0.2.0/24 on eth0 would otherwise route the checks out of it).
        lab.host("director");
        let names = match topo {
            Topo::Nat => {
                lab.network("ext");
                lab.network("int");
                lab.host("client");
                lab.attach("client", "ext", "eth0", "203.0.113.2/24");
                let names = vec![
                    format!("{p}x"),
                    format!("{p}i"),
                    format!("{p}tx"),
                    format!("{p}ti"),
                ];
                lab.director_port_in("director", "ext", &names[0]);
                lab.director_port_in("director", "int", &names[1]);
                names
            }
            Topo::Dr => {
                lab.network("int");
                lab.host("client");
                lab.attach("client", "int", "eth0", "192.0.2.2/24");
                let names = vec![format!("{p}i"), format!("{p}ti")];
                lab.director_port_in("director", "int", &names[0]);
                names
            }
        };
        for (i, addr) in REALS.iter().enumerate() {
            let h = format!("rs{}", i + 1);
            lab.host(&h);
            lab.attach(&h, "int", "eth0", &format!("{addr}/24"));
            for k in 0..extras.extra_addrs.min(19) {
                let a = 20 * (i + 1) + k as usize;
                lab.sh_ok(&h, &format!("ip addr add 192.0.2.{a}/24 dev eth0"));
            }
            match topo {
                Topo::Nat => {
                    lab.sh_ok(&h, "ip route add default via 192.0.2.1");
                }
                Topo::Dr => {
                    lab.sh_ok(
                        &h,
                        "ip addr add 192.0.2.10/32 dev lo && sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
                         net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2",
                    );
                }
            }
        }
        if extras.sorry {
            lab.host("sorry");
            lab.attach("sorry", "int", "eth0", &format!("{SORRY}/24"));
            if topo == Topo::Nat {
                lab.sh_ok("sorry", "ip route add default via 192.0.2.1");
            }
        }
        let mut hl = HealthLab {
            lab,
            topo,
            names,
            dir,
            procs: BTreeMap::new(),
            rvsd_runs: 0,
        };
        if extras.https {
            hl.make_cert();
        }
        for i in 0..3 {
            hl.start(i, Server::Http);
            if extras.https {
                hl.start(i, Server::Https);
            }
            if extras.udp {
                hl.start(i, Server::Dns);
                hl.start(i, Server::UdpEcho);
            }
        }
        if extras.sorry {
            let port = hl.http_port();
            hl.lab.spawn(
                "sorry",
                &format!("/usr/bin/python3 tests/lab/httpd.py rs-sorry --port {port}"),
            );
            assert!(
                hl.lab
                    .wait_until("sorry", &format!("ss -ltn | grep -q ':{port} '"), 10),
                "the sorry server did not listen"
            );
        }
        hl
    }

    /// The VIP clients use.
    pub fn vip(&self) -> &'static str {
        match self.topo {
            Topo::Nat => "203.0.113.10",
            Topo::Dr => "192.0.2.10",
        }
    }

    /// The real servers' HTTP port.
    pub fn http_port(&self) -> u16 {
        match self.topo {
            Topo::Nat => 8080,
            Topo::Dr => 80,
        }
    }

    /// `rvsadm -Ln`'s name of a real server on the HTTP port ("192.0.2.12:8080").
    pub fn dest(&self, i: usize) -> String {
        format!("{}:{}", REALS[i], self.http_port())
    }

    fn make_cert(&self) {
        let d = self.dir.display();
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "cd {d} && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                 -keyout key.pem -out cert.pem -days 2 -subj /CN=www.example.test 2>&1"
            ))
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    fn command(&self, i: usize, what: Server) -> (String, String) {
        let name = format!("rs{}", i + 1);
        let d = self.dir.display();
        match what {
            Server::Http => (
                format!(
                    "/usr/bin/python3 tests/lab/httpd.py {name} --port {} --health {d}",
                    self.http_port()
                ),
                format!("ss -ltn | grep -q ':{} '", self.http_port()),
            ),
            Server::Https => (
                format!(
                    "/usr/bin/python3 tests/lab/httpd.py {name} --port 8443 --health {d} --tls {d}/cert.pem {d}/key.pem"
                ),
                "ss -ltn | grep -q ':8443 '".into(),
            ),
            Server::Dns => {
                let sub = self.dir.join(&name);
                std::fs::create_dir_all(&sub).unwrap();
                (
                    format!(
                        "/usr/bin/python3 tests/lab/hc_servers.py {} --dns 0.0.0.0:53",
                        sub.display()
                    ),
                    "ss -lun | grep -q ':53 '".into(),
                )
            }
            Server::UdpEcho => (
                format!("/usr/bin/python3 tests/lab/udpecho.py {name} --port 5000"),
                "ss -lun | grep -q ':5000 '".into(),
            ),
        }
    }

    /// Starts `what` on real server `i` (0-based) and waits until it listens.
    pub fn start(&mut self, i: usize, what: Server) {
        assert!(
            !self.procs.contains_key(&(i, what)),
            "rs{} {what:?} already runs",
            i + 1
        );
        let host = format!("rs{}", i + 1);
        let (cmd, probe) = self.command(i, what);
        let pid = self.lab.spawn(&host, &cmd);
        self.procs.insert((i, what), pid);
        assert!(
            self.lab.wait_until(&host, &probe, 10),
            "{host}: {what:?} did not come up ({cmd})"
        );
    }

    /// Stops `what` on real server `i` (SIGTERM to its pid) and waits until its port is
    /// closed.
    pub fn stop(&mut self, i: usize, what: Server) {
        let pid = self
            .procs
            .remove(&(i, what))
            .unwrap_or_else(|| panic!("rs{} {what:?} is not running", i + 1));
        let _ = Command::new("kill").arg(pid.to_string()).status();
        let host = format!("rs{}", i + 1);
        let (_, probe) = self.command(i, what);
        assert!(
            self.lab.wait_until(&host, &format!("! {{ {probe}; }}"), 10),
            "{host}: {what:?} (pid {pid}) still listens"
        );
    }

    /// What `GET /health[/tag]` of real server `i` answers from now on: `status`, and
    /// `body` (None: the default "ok\n").
    pub fn set_health(&self, i: usize, tag: &str, status: u16, body: Option<&str>) {
        let base = if tag.is_empty() {
            format!("rs{}", i + 1)
        } else {
            format!("rs{}.{tag}", i + 1)
        };
        std::fs::write(self.dir.join(format!("{base}.status")), status.to_string()).unwrap();
        let b = self.dir.join(format!("{base}.body"));
        match body {
            Some(text) => std::fs::write(b, text).unwrap(),
            None => {
                let _ = std::fs::remove_file(b);
            }
        }
    }

    /// The configuration rvsd gets: `configs/lab-health.toml` (NAT) or the head of
    /// `configs/lab-dr.toml` (DR), made unique to this lab (devices, taps, file prefix,
    /// control socket in `run_dir`); with `services`, every `[[service]]` of the file is
    /// replaced by that text.
    pub fn config_text(&self, services: Option<&str>, run_dir: &Path) -> String {
        let example = match self.topo {
            Topo::Nat => "configs/lab-health.toml",
            Topo::Dr => "configs/lab-dr.toml",
        };
        let mut text = std::fs::read_to_string(example).unwrap();
        if self.topo == Topo::Dr {
            assert!(
                services.is_some(),
                "the DR lab needs its services: lab-dr.toml's have no checks"
            );
        }
        if let Some(s) = services {
            let cut = text
                .find("\n[[service]]")
                .expect("the example has services");
            text.truncate(cut + 1);
            text.push('\n');
            text.push_str(s);
        }
        let p = self.lab.prefix();
        let mut taps = match self.topo {
            Topo::Nat => vec![self.names[2].clone(), self.names[3].clone()],
            Topo::Dr => vec![self.names[1].clone()],
        }
        .into_iter();
        let mut out = String::new();
        for line in text.lines() {
            let t = line.trim_start();
            if t.starts_with("args = [") && t.contains("--file-prefix") {
                out.push_str(&format!(
                    "args = [\"--no-huge\", \"-m\", \"1024\", \"--no-pci\", \"--no-shconf\", \"--file-prefix\", \"{p}-h{}\"]\n",
                    self.rvsd_runs
                ));
            } else if t.starts_with("exception_path = true") {
                out.push_str(&format!(
                    "exception_path = true\ntap_name = \"{}\"\n",
                    taps.next().expect("a tap name per exception path")
                ));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        let out = match self.topo {
            Topo::Nat => out
                .replace("iface=rvs-ext", &format!("iface={}", self.names[0]))
                .replace("iface=rvs-int", &format!("iface={}", self.names[1])),
            Topo::Dr => out.replace("iface=rvs-int", &format!("iface={}", self.names[0])),
        };
        private_socket(&out, run_dir)
    }

    /// Starts rvsd in the `director` namespace on [`HealthLab::config_text`] with
    /// `(from, to)` replacements applied (each must match); returns it and its rvsadm.
    pub fn rvsd(&mut self, services: Option<&str>, replace: &[(&str, &str)]) -> (Rvsd, Adm) {
        self.rvsd_runs += 1;
        let run_dir = self.dir.join(format!("rvsd{}", self.rvsd_runs));
        std::fs::create_dir_all(&run_dir).unwrap();
        let mut text = self.config_text(services, &run_dir);
        for (from, to) in replace {
            assert!(text.contains(from), "config has no {from:?}:\n{text}");
            text = text.replace(from, to);
        }
        let cfg = run_dir.join("rvsd.toml");
        std::fs::write(&cfg, &text).unwrap();
        let rvsd = Rvsd::start_in(run_dir.clone(), cfg, Some(&self.lab.ns("director")));
        let adm = Adm {
            sock: run_dir.join("rvsd.sock"),
        };
        (rvsd, adm)
    }

    /// Waits until `curl http://VIP:port/` from the client answers (rvsd's ports up, ARP
    /// resolved); fails the test with rvsd's log otherwise.
    pub fn wait_vip(&self, rvsd: &Rvsd, port: u16) {
        assert!(
            self.lab.wait_until(
                "client",
                &format!("curl -sf -m 2 http://{}:{port}/", self.vip()),
                20
            ),
            "VIP {}:{port} not answering:\n{}",
            self.vip(),
            rvsd.log_text()
        );
    }

    /// A path in the scratch directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

impl Drop for HealthLab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The real `rvsadm` on one rvsd's socket.
pub struct Adm {
    /// The control socket.
    pub sock: PathBuf,
}

impl Adm {
    /// Runs `rvsadm ARGS`.
    pub fn run(&self, args: &str) -> Output {
        Command::new(env!("CARGO_BIN_EXE_rvsadm"))
            .arg("--socket")
            .arg(&self.sock)
            .args(args.split_whitespace())
            .output()
            .expect("rvsadm runs")
    }

    /// Runs `rvsadm ARGS`, which must succeed; returns stdout.
    pub fn ok(&self, args: &str) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "rvsadm {args}: {}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The real servers of service `svc` ("TCP 203.0.113.10:80") in `rvsadm -Ln`:
    /// "addr:port" -> (forwarding, weight). Empty when the service has none.
    pub fn dests(&self, svc: &str) -> BTreeMap<String, (String, u32)> {
        parse_dests(&self.ok("-Ln"), svc)
    }
}

/// [`Adm::dests`] from `-Ln` text.
pub fn parse_dests(text: &str, svc: &str) -> BTreeMap<String, (String, u32)> {
    let mut m = BTreeMap::new();
    let mut inside = false;
    for l in text.lines() {
        let t: Vec<&str> = l.split_whitespace().collect();
        match t.first().copied() {
            Some("TCP" | "UDP" | "FWM") => {
                inside = t.get(..2).map(|k| k.join(" ")).as_deref() == Some(svc);
            }
            Some("->") if inside && t.get(1) != Some(&"RemoteAddress:Port") && t.len() >= 4 => {
                let w = t[3].parse().unwrap_or_else(|_| panic!("weight in {l:?}"));
                m.insert(t[1].to_string(), (t[2].to_string(), w));
            }
            _ => {}
        }
    }
    m
}

/// Polls `f` every 100 ms for up to `secs` seconds; returns its first `Some` and the
/// time it took, or None.
pub fn wait_for<T>(secs: f64, mut f: impl FnMut() -> Option<T>) -> Option<(T, Duration)> {
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(secs);
    loop {
        if let Some(v) = f() {
            return Some((v, t0.elapsed()));
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// MD5 of `text` in hex, as keepalived's genhash prints it (md5sum(1)).
pub fn md5_hex(text: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("md5sum runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The lines of rvsd's log that mention `addr` (for failure messages and reason checks).
pub fn log_about(log: &str, addr: &str) -> String {
    log.lines()
        .filter(|l| l.contains(addr))
        .collect::<Vec<_>>()
        .join("\n")
}
