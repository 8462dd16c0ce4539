//! Configuration reload (SIGHUP, `rvsadm reload`): re-reads the file and makes the
//! running state equal to it, as keepalived does ("the file wins"): services, real
//! servers, VIPs, mark rules, routes, timeouts and the live `[settings]` become what the
//! file says, so a service or real server added with rvsadm and absent from the file is
//! removed. Each difference is applied as the same [`Manager`] change the control socket
//! makes (a table copied, changed and published whole), so workers never see half of
//! one; services, real servers and VIPs the file keeps unchanged are not touched (the
//! same objects: their connections, stats and rates go on).
//!
//! Sections that only take effect at start (`[eal]`, `[log]`, `[cores]`, `[tables]`,
//! `[control]`, `[metrics]`, ports, `[routing]`, `[neighbour]`, `[fragments]`,
//! `settings.gratuitous_arp`) must be unchanged: otherwise the whole reload is refused
//! and nothing changes. So is a file with any error (the located message of
//! [`Config::load`]).
//!
//! Order: additions and edits first, removals last (a VIP or service the file keeps is
//! never missing between two publications; a real server moved between services is
//! added to the new one before it leaves the old).

use crate::config::Config;
use crate::ctl::proto::{Body, CtlError, ErrorKind};
use crate::lb::dest::Fwd;
use crate::lb::service::{DestConfig, ServiceConfig, ServiceKey};
use crate::mgmt::{plan, services, Manager};
use crate::net::PortIdx;
use std::net::Ipv4Addr;
use std::path::Path;

/// Re-reads the configuration file at `path` and applies it (see the module doc).
/// Errors: [`ErrorKind::Config`] for a file that does not load (file:line: key: reason)
/// or that changes a restart-only section (the message names it); nothing changed
/// then. [`ErrorKind::Internal`] when a change failed after validation (logged; the
/// changes before it stay applied, the message lists both).
pub fn reload_file(mgr: &mut Manager, path: &Path) -> Result<Body, CtlError> {
    let new = Config::load(path).map_err(|e| {
        // A file that fails only because its ports changed (a real server off the
        // subnet of a removed address) is refused for the ports, as one that adds an
        // address is: the restart-only reason comes first.
        let ports_changed = mgr.config().is_some_and(|old| {
            std::fs::read_to_string(path)
                .ok()
                .and_then(|t| Config::ports_from_str(&t, &path.display().to_string()))
                .is_some_and(|ports| ports != old.ports)
        });
        if ports_changed {
            config_error(restart_message("ports"))
        } else {
            config_error(e.to_string())
        }
    })?;
    let changes = reload_config(mgr, new)?;
    Ok(Body::Reloaded { changes })
}

/// Applies an already loaded configuration `new` over the running state; returns one
/// human line per change (empty: nothing differed). See [`reload_file`] for errors.
pub fn reload_config(mgr: &mut Manager, new: Config) -> Result<Vec<String>, CtlError> {
    if let Some(old) = mgr.config() {
        restart_only(old, &new).map_err(config_error)?;
    }
    let workers = new.cores.workers.len().max(1);
    // Builds the new tables on the side: a rule the load balancer enforces beyond the
    // file's checks refuses the reload before anything changes.
    let (_, marks) = services::build(&new, workers).map_err(|e| config_error(e.to_string()))?;
    let mut r = Run {
        mgr,
        changes: Vec::new(),
        failures: Vec::new(),
    };
    r.timeouts_and_settings(&new);
    let want_vips = plan::net_tables(&new);
    r.vips(&want_vips, &new, true);
    r.services_added_and_edited(&new);
    r.marks(marks);
    r.routes(&want_vips);
    r.dests_and_services_removed(&new);
    r.vips(&want_vips, &new, false);
    let (changes, failures) = (r.changes, r.failures);
    mgr.set_config(new);
    if failures.is_empty() {
        for c in &changes {
            log::info!("reload: {c}");
        }
        Ok(changes)
    } else {
        let msg = format!(
            "reload failed half-way: {}; applied: {}",
            failures.join("; "),
            if changes.is_empty() {
                "nothing".to_owned()
            } else {
                changes.join("; ")
            }
        );
        log::error!("{msg}");
        Err(CtlError {
            kind: ErrorKind::Internal,
            message: msg,
        })
    }
}

fn config_error(message: String) -> CtlError {
    CtlError {
        kind: ErrorKind::Config,
        message,
    }
}

/// `Err(message)` naming the first restart-only section that differs between the
/// running configuration and the new one.
fn restart_only(old: &Config, new: &Config) -> Result<(), String> {
    let checks: [(&str, bool); 11] = [
        ("eal", old.eal == new.eal),
        ("log", old.log == new.log),
        ("cores", old.cores == new.cores),
        ("tables", old.tables == new.tables),
        ("control", old.control == new.control),
        ("ports", old.ports == new.ports),
        ("routing", old.routing == new.routing),
        ("neighbour", old.neighbour == new.neighbour),
        ("fragments", old.fragments == new.fragments),
        (
            "settings.gratuitous_arp",
            old.settings.gratuitous_arp == new.settings.gratuitous_arp,
        ),
        ("metrics", old.metrics == new.metrics),
    ];
    match checks.iter().find(|(_, same)| !same) {
        Some((key, _)) => Err(restart_message(key)),
        None => Ok(()),
    }
}

/// The refusal of a reload that changes the restart-only section `key`.
fn restart_message(key: &str) -> String {
    format!("{key}: changing {key} needs a restart (nothing was reloaded)")
}

/// How ipvsadm -L starts a service line, with one space: `TCP 203.0.113.10:80`, `FWM 1`.
pub fn key_text(k: &ServiceKey) -> String {
    match *k {
        ServiceKey::Addr { proto, vip, vport } => {
            let p = match proto {
                crate::lb::flow::proto::TCP => "TCP",
                crate::lb::flow::proto::UDP => "UDP",
                _ => "IP",
            };
            format!("{p} {vip}:{vport}")
        }
        ServiceKey::Mark(m) => format!("FWM {m}"),
    }
}

fn method_text(f: Fwd) -> &'static str {
    f.ipvsadm_word()
}

/// One reload in progress: the Manager and what was done so far.
struct Run<'a> {
    mgr: &'a mut Manager,
    changes: Vec<String>,
    failures: Vec<String>,
}

impl Run<'_> {
    fn done(&mut self, what: String, r: Result<(), crate::mgmt::manager::Error>) {
        match r {
            Ok(()) => self.changes.push(what),
            Err(e) => self.failures.push(format!("{what}: {e}")),
        }
    }

    fn timeouts_and_settings(&mut self, new: &Config) {
        let conns = self.mgr.conns().clone();
        let t = services::timeouts(new);
        if conns.timeouts().get() != t {
            conns.timeouts().set(t);
            self.changes.push(format!(
                "timeouts set to tcp {} tcpfin {} udp {}",
                t.tcp_secs, t.tcpfin_secs, t.udp_secs
            ));
        }
        let s = services::conn_settings(new);
        if conns.settings() != s {
            conns.set_settings(s);
            self.changes.push(format!(
                "settings set to expire_nodest_conn {} expire_quiescent_template {} \
                 conn_reuse_mode {} sloppy_tcp {}",
                s.expire_nodest_conn, s.expire_quiescent_template, s.conn_reuse_mode, s.sloppy_tcp
            ));
        }
    }

    /// Adds (`add`) the VIPs of `want` the running tables lack, or removes (`!add`)
    /// those they have and `want` has not.
    fn vips(&mut self, want: &crate::net::NetTables, cfg: &Config, add: bool) {
        let have = self.mgr.net().clone();
        for port in 0..have.ports().min(want.ports()) {
            let port = port as PortIdx;
            let name = cfg.ports[port as usize].name.clone();
            let (from, to) = if add { (want, &*have) } else { (&*have, want) };
            let missing: Vec<Ipv4Addr> = from
                .vips(port)
                .iter()
                .map(|v| v.addr)
                .filter(|a| !to.is_vip_of(port, *a))
                .collect();
            for addr in missing {
                if add {
                    let r = self.mgr.add_vip(port, addr);
                    self.done(format!("added VIP {addr} on {name}"), r);
                } else {
                    let r = self.mgr.remove_vip(port, addr);
                    self.done(format!("removed VIP {addr} from {name}"), r);
                }
            }
        }
    }

    fn services_added_and_edited(&mut self, new: &Config) {
        for s in &new.services {
            let sc = services::service_config(s);
            let key = sc.key;
            let live = self.mgr.services().get(&key).cloned();
            match live {
                None => {
                    let r = self.mgr.add_service(sc.clone());
                    self.done(format!("added service {}", key_text(&key)), r);
                }
                Some(svc) if *svc.config() != sc => {
                    let r = self.mgr.edit_service(sc.clone());
                    self.done(format!("edited service {}", key_text(&key)), r);
                }
                Some(_) => {}
            }
            for real in &s.reals {
                self.dest(&key, &services::dest_config(real));
            }
        }
    }

    /// Adds or edits one real server of a service the file has.
    fn dest(&mut self, key: &ServiceKey, d: &DestConfig) {
        let Some(svc) = self.mgr.services().get(key).cloned() else {
            return; // its service could not be added: already reported
        };
        let port = svc.effective_port(d);
        // The CONFIGURED real server (health may keep it out of the effective table or
        // at another weight: that is no difference from the file).
        let live = self.mgr.configured_dest(key, d.addr, port);
        let what = |verb: &str| {
            format!(
                "{verb} real server {}:{port} ({} weight {}) {} {}",
                d.addr,
                method_text(d.fwd),
                d.weight,
                if verb == "added" { "to" } else { "of" },
                key_text(key)
            )
        };
        match live {
            None => {
                let r = self.mgr.add_dest(key, d);
                self.done(what("added"), r);
            }
            Some(x)
                if x.fwd != d.fwd
                    || x.weight != d.weight
                    || x.u_threshold != d.u_threshold
                    || x.l_threshold != d.l_threshold =>
            {
                let r = self.mgr.edit_dest(key, d);
                self.done(what("edited"), r);
            }
            Some(_) => {}
        }
    }

    fn marks(&mut self, want: crate::lb::mark::MarkTable) {
        let same = self.mgr.marks().rules().eq(want.rules());
        if !same {
            let n = want.rules().count();
            self.mgr.set_marks(want);
            self.changes
                .push(format!("mark rules replaced ({n} rules)"));
        }
    }

    fn routes(&mut self, want: &crate::net::NetTables) {
        let want = want.routes().routes().to_vec();
        if self.mgr.net().routes().routes() != want.as_slice() {
            let n = want.len();
            let r = self.mgr.set_routes(want);
            self.done(format!("routes replaced ({n} routes)"), r);
        }
    }

    fn dests_and_services_removed(&mut self, new: &Config) {
        let wanted: Vec<(ServiceKey, Vec<DestConfig>)> = new
            .services
            .iter()
            .map(|s| {
                let sc: ServiceConfig = services::service_config(s);
                (sc.key, s.reals.iter().map(services::dest_config).collect())
            })
            .collect();
        let live: Vec<_> = self
            .mgr
            .services()
            .services()
            .into_iter()
            .cloned()
            .collect();
        for svc in live {
            let key = svc.config().key;
            let Some((_, reals)) = wanted.iter().find(|(k, _)| *k == key) else {
                let r = self.mgr.del_service(&key);
                self.done(format!("removed service {}", key_text(&key)), r);
                continue;
            };
            for d in self.mgr.configured_dests(&key) {
                let kept = reals
                    .iter()
                    .any(|r| r.addr == d.addr && svc.effective_port(r) == d.port);
                if !kept {
                    let r = self.mgr.del_dest(&key, d.addr, d.port);
                    self.done(
                        format!(
                            "removed real server {}:{} from {}",
                            d.addr,
                            d.port,
                            key_text(&key)
                        ),
                        r,
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::flow::proto;
    use std::path::PathBuf;
    use std::sync::Arc;

    /// lab-nat.toml with a small connection table (the tests build real Managers).
    fn base() -> String {
        std::fs::read_to_string("configs/lab-nat.toml")
            .unwrap()
            .replacen("[control]", "[tables]\nmax_conns = 4096\n\n[control]", 1)
    }

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rvs-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn manager_of(path: &Path) -> Manager {
        services::manager(&Config::load(path).unwrap()).unwrap()
    }

    type DestRow = (Ipv4Addr, u16, Fwd, i32, u32, u32);

    /// Every service's definition with its real servers (sorted: reload adds in IPVS's
    /// head-insert order, a fresh build in file order).
    fn state(mgr: &Manager) -> Vec<(ServiceConfig, Vec<DestRow>)> {
        let mut v: Vec<_> = mgr
            .services()
            .services()
            .into_iter()
            .map(|s| {
                let mut d: Vec<DestRow> = s
                    .dests()
                    .iter()
                    .map(|d| {
                        (
                            d.addr,
                            d.port,
                            d.fwd,
                            d.weight(),
                            d.u_threshold(),
                            d.l_threshold(),
                        )
                    })
                    .collect();
                d.sort_by_key(|r| (r.0, r.1));
                (s.config().clone(), d)
            })
            .collect();
        v.sort_by_key(|(c, _)| c.key);
        v
    }

    fn vips(mgr: &Manager) -> Vec<(usize, Ipv4Addr)> {
        let t = mgr.net();
        let mut v: Vec<_> = (0..t.ports())
            .flat_map(|p| t.vips(p as PortIdx).iter().map(move |x| (p, x.addr)))
            .collect();
        v.sort();
        v
    }

    fn tcp80() -> ServiceKey {
        ServiceKey::Addr {
            proto: proto::TCP,
            vip: Ipv4Addr::new(203, 0, 113, 10),
            vport: 80,
        }
    }

    /// The edited file: TCP :80 loses .13, gains .14, .12 gets weight 5 and the
    /// service becomes rr; UDP :53 goes; a TCP 203.0.113.20:443 service (a new VIP on
    /// ext) comes; tcp timeout 900 -> 600; expire_nodest_conn on.
    fn edited() -> String {
        let t = base();
        let t = t.replacen("scheduler = \"wlc\"", "scheduler = \"rr\"", 1);
        let t = t.replacen(
            "addr = \"192.0.2.12\"\nport = 8080\nmethod = \"nat\"\nweight = 1",
            "addr = \"192.0.2.12\"\nport = 8080\nmethod = \"nat\"\nweight = 5",
            1,
        );
        let t = t.replacen(
            "addr = \"192.0.2.13\"\nport = 8080",
            "addr = \"192.0.2.14\"\nport = 8080",
            1,
        );
        let udp = t.find("[[service]]\nproto = \"udp\"").unwrap();
        let mut t = t[..udp].to_owned();
        t.push_str(
            "[[service]]\nproto = \"tcp\"\nvip = \"203.0.113.20\"\nport = 443\nscheduler = \"sh\"\n\n\
             [[service.real]]\naddr = \"192.0.2.21\"\nport = 443\nmethod = \"nat\"\n",
        );
        t.replacen("tcp = 900", "tcp = 600", 1).replacen(
            "expire_nodest_conn = false",
            "expire_nodest_conn = true",
            1,
        )
    }

    #[test]
    fn reload_makes_the_running_state_the_files_and_leaves_the_untouched_alone() {
        let path = write("edit.toml", &base());
        let mut mgr = manager_of(&path);
        let svc = mgr.services().get(&tcp80()).unwrap().clone();
        let i11 = svc
            .dests()
            .iter()
            .position(|d| d.addr == Ipv4Addr::new(192, 0, 2, 11))
            .unwrap();
        let d11 = svc.dests()[i11].clone();
        svc.dest_stats()[i11].worker(0).add_conn();
        svc.dest_stats()[i11].worker(0).add_in(1500);
        let conns_before = svc.stats().sum().conns;
        assert_eq!(
            reload_file(&mut mgr, &path).unwrap(),
            Body::Reloaded { changes: vec![] }
        );

        std::fs::write(&path, edited()).unwrap();
        let Body::Reloaded { changes } = reload_file(&mut mgr, &path).unwrap() else {
            panic!("not Reloaded");
        };
        let expected = [
            "timeouts set to tcp 600 tcpfin 120 udp 300",
            "added VIP 203.0.113.20 on ext",
            "edited service TCP 203.0.113.10:80",
            "edited real server 192.0.2.12:8080 (Masq weight 5) of TCP 203.0.113.10:80",
            "added real server 192.0.2.14:8080 (Masq weight 1) to TCP 203.0.113.10:80",
            "added service TCP 203.0.113.20:443",
            "removed real server 192.0.2.13:8080 from TCP 203.0.113.10:80",
            "removed service UDP 203.0.113.10:53",
        ];
        for e in expected {
            assert!(
                changes.iter().any(|c| c == e),
                "{e:?} missing in {changes:#?}"
            );
        }
        assert!(changes
            .iter()
            .any(|c| c.starts_with("settings set to expire_nodest_conn true")));
        // Equal to what a fresh start on the new file builds.
        let fresh = manager_of(&path);
        assert_eq!(state(&mgr), state(&fresh));
        assert_eq!(vips(&mgr), vips(&fresh));
        assert_eq!(mgr.conns().timeouts().get().tcp_secs, 600);
        assert!(mgr.conns().settings().expire_nodest_conn);
        // The untouched real server is the same object, its counters intact, and the
        // service's counters too.
        let now = mgr.services().get(&tcp80()).unwrap().clone();
        let j = now.dests().iter().position(|d| Arc::ptr_eq(d, &d11));
        let j = j.expect(".11 kept as the same dest");
        assert_eq!(now.dest_stats()[j].sum().conns, 1);
        assert_eq!(now.dest_stats()[j].sum().in_bytes, 1500);
        assert_eq!(now.stats().sum().conns, conns_before);
        // Reloading the same file again changes nothing.
        let gens = mgr.generations();
        assert_eq!(
            reload_file(&mut mgr, &path).unwrap(),
            Body::Reloaded { changes: vec![] }
        );
        assert_eq!(mgr.generations(), gens);
    }

    #[test]
    fn the_file_wins_over_run_time_changes() {
        let path = write("wins.toml", &base());
        let mut mgr = manager_of(&path);
        let extra = ServiceKey::Addr {
            proto: proto::TCP,
            vip: Ipv4Addr::new(203, 0, 113, 10),
            vport: 8443,
        };
        mgr.add_service(ServiceConfig::new(extra)).unwrap();
        mgr.edit_dest(&tcp80(), &{
            let mut d = DestConfig::new(Ipv4Addr::new(192, 0, 2, 11), 8080);
            d.fwd = Fwd::Nat;
            d.weight = 9;
            d
        })
        .unwrap();
        mgr.add_vip(0, Ipv4Addr::new(203, 0, 113, 99)).unwrap();
        let Body::Reloaded { changes } = reload_file(&mut mgr, &path).unwrap() else {
            panic!()
        };
        assert_eq!(changes.len(), 3, "{changes:#?}");
        assert_eq!(state(&mgr), state(&manager_of(&path)));
        assert_eq!(vips(&mgr), vips(&manager_of(&path)));
    }

    #[test]
    fn a_broken_file_changes_nothing_and_is_located() {
        let path = write("broken.toml", &base());
        let mut mgr = manager_of(&path);
        let before = (state(&mgr), vips(&mgr), mgr.generations());
        // Line of the bad weight in the file.
        let bad = edited().replacen("weight = 5", "weight = 2147483648", 1);
        let line = bad
            .lines()
            .position(|l| l == "weight = 2147483648")
            .unwrap()
            + 1;
        std::fs::write(&path, &bad).unwrap();
        let e = reload_file(&mut mgr, &path).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        let at = format!("{}:{line}: service[0].real[1].weight", path.display());
        assert!(e.message.starts_with(&at), "{} (want {at})", e.message);
        assert_eq!((state(&mgr), vips(&mgr), mgr.generations()), before);
        assert_eq!(mgr.conns().timeouts().get().tcp_secs, 900);
        // Not TOML at all, and a missing file: refused the same way.
        std::fs::write(&path, "[[service]\n").unwrap();
        let e = reload_file(&mut mgr, &path).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.contains("broken.toml:1"), "{}", e.message);
        let e = reload_file(&mut mgr, &path.with_extension("gone")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert_eq!((state(&mgr), vips(&mgr), mgr.generations()), before);
    }

    /// F14: a file whose only fault is a real server off the subnets after a port
    /// address was removed is refused for the ports (as adding an address is), not for
    /// that real server.
    #[test]
    fn a_removed_port_address_is_refused_as_a_ports_change() {
        let path = write("removed-address.toml", &base());
        let mut mgr = manager_of(&path);
        let before = (state(&mgr), vips(&mgr), mgr.generations());
        let text = edited().replacen("[\"192.0.2.1/24\"]", "[\"198.18.0.1/24\"]", 1);
        let e = Config::from_str_named(&text, "x.toml").unwrap_err();
        assert!(
            e.to_string().contains("real"),
            "the file alone fails at a real: {e}"
        );
        std::fs::write(&path, text).unwrap();
        let e = reload_file(&mut mgr, &path).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert_eq!(
            e.message,
            "ports: changing ports needs a restart (nothing was reloaded)"
        );
        assert_eq!((state(&mgr), vips(&mgr), mgr.generations()), before);
    }

    #[test]
    fn restart_only_sections_refuse_the_whole_reload() {
        let path = write("restart.toml", &base());
        let mut mgr = manager_of(&path);
        let before = (state(&mgr), vips(&mgr), mgr.generations());
        for (what, text) in [
            (
                "ports",
                edited().replacen("203.0.113.1/24", "203.0.113.3/24", 1),
            ),
            (
                "cores",
                edited().replacen("management = 1", "management = 0", 1),
            ),
            (
                "tables",
                edited().replacen("max_conns = 4096", "max_conns = 8192", 1),
            ),
            ("eal", edited().replacen("rvs-nat", "rvs-other", 1)),
            (
                "settings.gratuitous_arp",
                edited().replacen("gratuitous_arp = true", "gratuitous_arp = false", 1),
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let e = reload_file(&mut mgr, &path).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Config, "{what}");
            assert!(
                e.message
                    .starts_with(&format!("{what}: changing {what} needs a restart")),
                "{what}: {}",
                e.message
            );
            assert_eq!(
                (state(&mgr), vips(&mgr), mgr.generations()),
                before,
                "{what}"
            );
            assert_eq!(mgr.conns().timeouts().get().tcp_secs, 900, "{what}");
        }
    }
}
