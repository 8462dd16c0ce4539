//! Ready-made lab topologies for the load-balancing tests, matching `configs/lab-*.toml`:
//! the client network 203.0.113.0/24 (client .2, director .1, VIP .10) and the server
//! network 192.0.2.0/24 (director .1, real servers .11-.13 named rs1..rs3).

use super::lab::Lab;
use super::rvsd::{derived_config, Rvsd};

/// Real server addresses, in name order rs1..rs3.
pub const REALS: [&str; 3] = ["192.0.2.11", "192.0.2.12", "192.0.2.13"];

/// A NAT lab: two-armed director, real servers route back through it.
pub struct NatLab {
    /// The lab (drops last).
    pub lab: Lab,
    /// Director veth names (ext, int) and tap names (ext, int).
    pub names: [String; 4],
}

impl NatLab {
    /// Builds the networks, the client and three real servers running `httpd.py rsN`
    /// on port 8080 (and `udpecho.py rsN` on 53).
    pub fn new() -> NatLab {
        let mut lab = Lab::new();
        let p = lab.prefix().to_string();
        let names = [
            format!("{p}x"),
            format!("{p}i"),
            format!("{p}tx"),
            format!("{p}ti"),
        ];
        lab.network("ext");
        lab.network("int");
        lab.host("client");
        lab.attach("client", "ext", "eth0", "203.0.113.2/24");
        lab.director_port("ext", &names[0]);
        lab.director_port("int", &names[1]);
        for (i, addr) in REALS.iter().enumerate() {
            let h = format!("rs{}", i + 1);
            lab.host(&h);
            lab.attach(&h, "int", "eth0", &format!("{addr}/24"));
            lab.sh_ok(&h, "ip route add default via 192.0.2.1");
            lab.spawn(
                &h,
                &format!("/usr/bin/python3 tests/lab/httpd.py {h} --port 8080"),
            );
            lab.spawn(
                &h,
                &format!("/usr/bin/python3 tests/lab/udpecho.py {h} --port 53"),
            );
        }
        for i in 1..=3 {
            assert!(lab.wait_until(&format!("rs{i}"), "ss -ltn | grep -q ':8080'", 10));
        }
        NatLab { lab, names }
    }

    /// Starts rvsd with `configs/<example>` made unique to this lab, plus `extra`
    /// replacements (e.g. the scheduler).
    pub fn rvsd(&self, example: &str, extra: &[(&str, &str)]) -> Rvsd {
        let p = self.lab.prefix();
        let [x, i, tx, ti] = &self.names;
        let mut rep: Vec<(String, String)> = vec![
            ("iface=rvs-ext".into(), format!("iface={x}")),
            ("iface=rvs-int".into(), format!("iface={i}")),
            (
                "file-prefix\", \"rvs-".into(),
                format!("file-prefix\", \"{p}-"),
            ),
        ];
        for (a, b) in extra {
            rep.push((a.to_string(), b.to_string()));
        }
        let rep_ref: Vec<(&str, &str)> =
            rep.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let (dir, cfg) = derived_config(example, &rep_ref);
        // Unique tap names: exception_path lines get a tap_name each, in port order.
        let text = std::fs::read_to_string(&cfg).unwrap();
        let mut taps = [tx.as_str(), ti.as_str()].into_iter();
        let text = text
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("exception_path = true") {
                    format!(
                        "exception_path = true\ntap_name = \"{}\"",
                        taps.next().unwrap_or("rvsx")
                    )
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&cfg, text).unwrap();
        Rvsd::start(dir, cfg)
    }
}

/// Counts lines of output: how many times each real server named itself.
pub fn tally(out: &str) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for l in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        *m.entry(l.to_string()).or_insert(0) += 1;
    }
    m
}

/// How the one-armed real servers receive VIP traffic.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OneArmed {
    /// Direct routing: VIP on lo, ARP for it suppressed.
    Dr,
    /// IPIP tunnel: VIP on lo, plus the userspace decapsulator (no ipip module here).
    Tun,
}

/// A one-armed lab on 192.0.2.0/24: client .2 (and extra addresses .3-.5 for
/// per-address tests), director .1, VIP .10, real servers .11-.13 answering clients
/// directly from the VIP.
pub struct OneArmedLab {
    /// The lab.
    pub lab: Lab,
    /// Director veth and tap names.
    pub names: [String; 2],
}

impl OneArmedLab {
    /// Builds it; real servers run `httpd.py rsN` on port 80 and `udpecho.py rsN` on 53.
    pub fn new(kind: OneArmed) -> OneArmedLab {
        let mut lab = Lab::new();
        let p = lab.prefix().to_string();
        let names = [format!("{p}i"), format!("{p}ti")];
        lab.network("int");
        lab.host("client");
        lab.attach("client", "int", "eth0", "192.0.2.2/24");
        for extra in ["192.0.2.3/24", "192.0.2.4/24", "192.0.2.5/24"] {
            lab.sh_ok("client", &format!("ip addr add {extra} dev eth0"));
        }
        lab.director_port("int", &names[0]);
        for (i, addr) in REALS.iter().enumerate() {
            let h = format!("rs{}", i + 1);
            lab.host(&h);
            lab.attach(&h, "int", "eth0", &format!("{addr}/24"));
            lab.sh_ok(
                &h,
                "ip addr add 192.0.2.10/32 dev lo && sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
                 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2",
            );
            if kind == OneArmed::Tun {
                lab.spawn(
                    &h,
                    "/usr/bin/python3 tests/lab/ipip_decap.py --dev rvsdecap0",
                );
                assert!(lab.wait_until(&h, "ip link show rvsdecap0 | grep -q UP", 10));
            }
            lab.spawn(
                &h,
                &format!("/usr/bin/python3 tests/lab/httpd.py {h} --port 80"),
            );
            lab.spawn(
                &h,
                &format!("/usr/bin/python3 tests/lab/udpecho.py {h} --port 53"),
            );
        }
        for i in 1..=3 {
            assert!(lab.wait_until(&format!("rs{i}"), "ss -ltn | grep -q ':80 '", 10));
        }
        OneArmedLab { lab, names }
    }

    /// Starts rvsd with `configs/<example>` made unique to this lab, plus `extra`.
    pub fn rvsd(&self, example: &str, extra: &[(&str, &str)]) -> Rvsd {
        let p = self.lab.prefix();
        let [i, ti] = &self.names;
        let tap = format!("exception_path = true\ntap_name = \"{ti}\"");
        let mut rep: Vec<(String, String)> = vec![
            ("iface=rvs-int".into(), format!("iface={i}")),
            (
                "file-prefix\", \"rvs-".into(),
                format!("file-prefix\", \"{p}-"),
            ),
            ("exception_path = true".into(), tap),
        ];
        for (a, b) in extra {
            rep.push((a.to_string(), b.to_string()));
        }
        let rep_ref: Vec<(&str, &str)> =
            rep.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let (dir, cfg) = derived_config(example, &rep_ref);
        Rvsd::start(dir, cfg)
    }
}

/// sha256 of httpd.py's deterministic `/bytes/N` body (computed by httpd.py's own code).
pub fn pattern_sha(lab: &Lab, host: &str, n: usize) -> String {
    lab.sh_ok(
        host,
        &format!(
            "/usr/bin/python3 -c \"import hashlib,sys; sys.path.insert(0,'tests/lab'); import httpd; print(hashlib.sha256(httpd.pattern({n})).hexdigest())\""
        ),
    )
    .trim()
    .to_string()
}

/// A 10 MB download from `http://{vip}/bytes/...` and a 10 MB upload to `/upload`, both
/// checked end to end by sha256 (the real server hashes what it received).
pub fn ten_mb_both_ways(lab: &Lab, host: &str, vip: &str) {
    const TEN_MB: usize = 10 * 1024 * 1024;
    let sha = lab.sh_ok(
        host,
        &format!("curl -sf -m 90 http://{vip}/bytes/{TEN_MB} | sha256sum"),
    );
    assert_eq!(
        sha.split_whitespace().next().unwrap_or(""),
        pattern_sha(lab, host, TEN_MB),
        "download corrupted"
    );
    let up = lab.sh_ok(
        host,
        &format!(
            "f=$(mktemp /tmp/rvs-up.XXXXXX) && head -c {TEN_MB} /dev/urandom > $f && sha256sum $f | cut -d' ' -f1 && \
             curl -sf -m 90 --data-binary @$f -H 'Content-Type: application/octet-stream' http://{vip}/upload; rm -f $f"
        ),
    );
    let mut lines = up.lines();
    let local = lines.next().unwrap_or_default().trim().to_string();
    let reply = lines.next().unwrap_or_default();
    assert!(
        !local.is_empty() && reply.ends_with(&local),
        "upload: local sha {local}, server said {reply:?}"
    );
}
