//! Golden pcaps through the real data path, shared by every net_pcap test: rvsd with a
//! `net_pcap` port reads an input pcap crafted by a scapy script and writes what it
//! transmits to an output pcap, which the same script dissects and checks, and which
//! `tests/pcap/wellformed.py` (the shared well-formedness checker) must pass as a whole:
//! no test can pass while rvsd sends a malformed frame.

use super::rvsd::{derived_config, Rvsd};
use std::process::Command;

/// net_pcap's fixed MAC for its first device ("\x02pcap\x00").
pub const PCAP_MAC: &str = "02:70:63:61:70:00";

/// Runs `/usr/bin/python3 args...`, failing the test with its output unless it exits 0.
pub fn scapy(args: &[&str]) -> std::process::Output {
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

/// What one pcap run left: rvsd's full log (counters at shutdown) and the check
/// script's standard output.
pub struct PcapRun {
    /// rvsd's log, with the shutdown counters (`Rvsd::counter_in`).
    pub log: String,
    /// What `script check` printed.
    pub check: String,
}

impl PcapRun {
    /// Counter `name` at shutdown (sum over workers), 0 if absent.
    pub fn counter(&self, name: &str) -> u64 {
        Rvsd::counter_in(&self.log, name)
    }
}

/// [`run_pcap_with`] on lab-appliance.toml unchanged but for the port (one port `ext`,
/// 203.0.113.1/24, no exception path).
pub fn run_pcap(tag: &str, script: &str, extra_toml: &str, args: &[&str]) -> PcapRun {
    run_pcap_with(tag, script, &[], extra_toml, args)
}

/// rvsd with one `net_pcap` port on lab-appliance.toml, with `replace` applied to the
/// config text and `extra_toml` added (see [`with_extra`]: keys before its first table
/// header, such as `mac = "..."`, belong to the `[[port]]`; its tables are appended). Runs
/// `script make IN.pcap PORT_MAC args...`, rvsd for 2 s, then
/// `script check OUT.pcap PORT_MAC args...` and `tests/pcap/wellformed.py OUT.pcap`;
/// either failing fails the test.
pub fn run_pcap_with(
    tag: &str,
    script: &str,
    replace: &[(&str, &str)],
    extra_toml: &str,
    args: &[&str],
) -> PcapRun {
    // Every case derives its config into the same per-process temp dir: one at a time.
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
    let mut all: Vec<(&str, &str)> = vec![
        ("net_af_packet0,iface=rvs-ext", &device),
        ("exception_path = true", "exception_path = false"),
        ("rvs-appliance", &tag),
    ];
    all.extend_from_slice(replace);
    let (dir, cfg) = derived_config("lab-appliance.toml", &all);
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, with_extra(&text, extra_toml)).unwrap();
    let mac = port_mac(extra_toml);
    let with = |verb: &str, file: &std::path::Path| {
        let mut v = vec![
            script.to_string(),
            verb.to_string(),
            file.display().to_string(),
            mac.clone(),
        ];
        v.extend(args.iter().map(|s| s.to_string()));
        v
    };
    let make = with("make", &input);
    scapy(&make.iter().map(String::as_str).collect::<Vec<_>>());
    let mut rvsd = Rvsd::start(dir.clone(), cfg);
    rvsd.keep_files();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let log = rvsd.stop();
    let check = with("check", &output);
    let out = scapy(&check.iter().map(String::as_str).collect::<Vec<_>>());
    let wf = scapy(&["tests/pcap/wellformed.py", output.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        String::from_utf8_lossy(&wf.stdout).contains("wellformed OK"),
        "{}",
        String::from_utf8_lossy(&wf.stdout)
    );
    PcapRun {
        log,
        check: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

/// `config` with `extra_toml` added: the lines of `extra_toml` before its first table
/// header (`[...]`) are keys of the `[[port]]` table (e.g. `mac = "..."`), inserted at
/// the end of that table (TOML has no other way to reach it once `[[route]]` follows);
/// the rest (services, settings, VLANs...) is appended.
fn with_extra(config: &str, extra_toml: &str) -> String {
    let lines: Vec<&str> = extra_toml.lines().collect();
    let split = lines
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .unwrap_or(lines.len());
    let (keys, tables) = lines.split_at(split);
    let mut out = String::new();
    let mut in_port = false;
    let mut inserted = keys.iter().all(|l| l.trim().is_empty());
    for l in config.lines() {
        let header = l.trim_start().starts_with('[');
        if header && in_port && !inserted {
            out.push_str(&keys.join("\n"));
            out.push('\n');
            inserted = true;
        }
        if header {
            in_port = l.trim() == "[[port]]";
        }
        out.push_str(l);
        out.push('\n');
    }
    assert!(
        inserted || in_port,
        "port keys {keys:?} need a [[port]] table in the config"
    );
    if !inserted {
        out.push_str(&keys.join("\n"));
        out.push('\n');
    }
    out.push_str(&tables.join("\n"));
    out.push('\n');
    out
}

/// The port's MAC: a `mac = "..."` line among `extra_toml`'s port keys (before its
/// first table header: `[[port]] mac`) if there is one, else net_pcap's own.
fn port_mac(extra_toml: &str) -> String {
    extra_toml
        .lines()
        .take_while(|l| !l.trim_start().starts_with('['))
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("mac")
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix('='))
                .map(|r| r.trim().trim_matches('"').to_string())
        })
        .unwrap_or_else(|| PCAP_MAC.to_string())
}

/// One `[[service]]` (scheduler rr) with one `[[service.real]]`, as TOML to append to
/// the config: `proto` ("tcp"/"udp") `vip:vport` to `real` by `method` ("nat", "dr",
/// "tun"), on `rport` (`None`: the service's own port). The net_pcap tables build
/// their services from it.
pub fn one_real_service(
    proto: &str,
    vip: &str,
    vport: u16,
    real: &str,
    method: &str,
    rport: Option<u16>,
) -> String {
    let port = rport.map(|p| format!("\nport = {p}")).unwrap_or_default();
    format!(
        "\n[[service]]\nproto = \"{proto}\"\nvip = \"{vip}\"\nport = {vport}\nscheduler = \"rr\"\n\
         [[service.real]]\naddr = \"{real}\"\nmethod = \"{method}\"{port}\n"
    )
}
