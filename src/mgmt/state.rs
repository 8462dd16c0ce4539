//! The persisted state (`[control] state_file`): the running services with their real
//! servers, the VIPs, the mark rules and the timeouts, written shortly after successful
//! changes made through the control socket (coalesced: [`Unsaved`]) and restored at start over what the
//! configuration built (the state file wins at start; a later reload makes the running
//! state the file's again, see `mgmt::reload`).
//!
//! Format: versioned JSON with the control protocol's types (`src/ctl/views.rs`):
//! `{"version":1,"timeouts":{..},"services":[{"service":ServiceSpec,"dests":[DestSpec]}],
//! "vips":[VipView],"mark_rules":[MarkRuleView]}`; real servers in IPVS's list order
//! (newest first), mark rules in match order. Written atomically (a temporary file in the
//! same directory, synced, renamed over the old one), so a crash leaves the old file or
//! the new one, never half of one. Restoring replays it as control requests through
//! [`crate::mgmt::apply`], so every rule of a run-time change applies to it too.
//!
//! Kept from health checks (docs/HEALTH.md): the CONFIGURED table (a real server that is
//! DOWN is saved with its configured weight, a sorry server in use is not saved) and
//! each service's checks (`checks`: its default check and its real servers' own, run-time
//! changes included). Not kept: the health state (UP/DOWN: every checked server starts as
//! at a fresh start), the other health keywords (always the configuration file's).
//!
//! Not kept: counters, rates, connections, and a service's `mh_table_size` (not in the
//! protocol's `ServiceSpec`: a restored mh service gets the default 4093).

use crate::ctl::proto::{RealRef, Request};
use crate::ctl::views::{
    CheckView, DestSpec, MarkRuleView, ServiceKeyView, ServiceSpec, TimeoutsView, VipView,
};
use crate::mgmt::apply::{self, Context};
use crate::mgmt::health_conf::view_of_check;
use crate::mgmt::{views, Manager};
use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The format version this build writes and reads.
pub const VERSION: u32 = 1;

/// The whole file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// [`VERSION`].
    pub version: u32,
    /// `ipvsadm --set` values, seconds.
    pub timeouts: TimeoutsView,
    /// Every service, in insertion order.
    pub services: Vec<SavedService>,
    /// Every VIP with its port.
    pub vips: Vec<VipView>,
    /// Every mark rule, in match order.
    pub mark_rules: Vec<MarkRuleView>,
}

/// One service and its real servers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedService {
    /// What `-A` sets.
    pub service: ServiceSpec,
    /// Its real servers in IPVS's list order (newest first): the CONFIGURED table
    /// (real servers health took out of the effective table last, configured weights,
    /// no sorry server).
    pub dests: Vec<DestSpec>,
    /// Its health checks: present for a service with checks (or with run-time check
    /// changes); absent, the configuration file's apply. The other health keywords
    /// (quorum, sorry server, notify programs...) always come from the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<SavedChecks>,
}

/// A service's health checks in the state file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedChecks {
    /// Its default check (`null`: none).
    #[serde(default)]
    pub service: Option<CheckView>,
    /// The real servers with a check of their own (the others have the default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reals: Vec<SavedRealCheck>,
}

/// One real server's own check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedRealCheck {
    /// Real server address.
    pub addr: std::net::Ipv4Addr,
    /// Real server port (as listed).
    pub port: u16,
    /// Its check.
    pub check: CheckView,
}

/// Why a state file could not be restored. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// It exists but could not be read.
    #[error("state file {file}: {reason}")]
    Read {
        /// The path.
        file: PathBuf,
        /// The I/O error (not a `source`: it is in the message already, and rvsd prints
        /// an error's chain, which would repeat it).
        reason: io::Error,
    },
    /// It is not a state file (JSON error with line and column).
    #[error("state file {file}: {message}")]
    Parse {
        /// The path.
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A version this build does not know.
    #[error("state file {file}: version {found} (this rvsd reads version {VERSION})")]
    Version {
        /// The path.
        file: PathBuf,
        /// The file's version.
        found: u32,
    },
    /// An entry was refused on replay (e.g. a VIP on a port the configuration no
    /// longer has).
    #[error("state file {file}: {what}: {message}")]
    Apply {
        /// The path.
        file: PathBuf,
        /// The entry.
        what: String,
        /// Why it was refused.
        message: String,
    },
}

/// The running state as it would be saved.
pub fn snapshot(mgr: &Manager) -> State {
    let t = mgr.conns().timeouts().get();
    State {
        version: VERSION,
        timeouts: TimeoutsView {
            tcp: t.tcp_secs,
            tcpfin: t.tcpfin_secs,
            udp: t.udp_secs,
        },
        services: mgr
            .services()
            .in_insertion_order()
            .filter_map(|svc| {
                let key = svc.config().key;
                let dests = mgr
                    .configured_dests(&key)
                    .iter()
                    .map(|d| DestSpec {
                        addr: d.addr,
                        port: d.port,
                        method: views::method_view(d.fwd),
                        weight: d.weight,
                        u_threshold: d.u_threshold,
                        l_threshold: d.l_threshold,
                    })
                    .collect();
                Some(SavedService {
                    service: views::spec_of(svc)?,
                    dests,
                    checks: saved_checks(mgr, &key),
                })
            })
            .collect(),
        vips: views::vips(mgr),
        mark_rules: views::mark_rules(mgr),
    }
}

/// The checks of service `key` as saved (see [`SavedService::checks`]).
fn saved_checks(mgr: &Manager, key: &crate::lb::service::ServiceKey) -> Option<SavedChecks> {
    let conf = &mgr.health_conf;
    if !conf.watched(mgr, key) && !conf.has_changes(key) {
        return None;
    }
    let reals = mgr
        .configured_dests(key)
        .iter()
        .filter_map(|d| {
            let c = conf.own_check(&(*key, d.addr, d.port))?;
            Some(SavedRealCheck {
                addr: d.addr,
                port: d.port,
                check: view_of_check(&c),
            })
        })
        .collect();
    Some(SavedChecks {
        service: conf.service_health(key).check.map(|c| view_of_check(&c)),
        reals,
    })
}

/// True for the requests that change what a state file keeps (the management loop
/// saves the state after those that succeeded, see [`Unsaved`]): every ipvsadm change, `--set`, VIP and mark-rule
/// changes and `Reload`. Listings, `Status` and `-Z` (counters are not kept) are not.
pub fn is_mutating(req: &Request) -> bool {
    !matches!(
        req,
        Request::List { .. }
            | Request::ListConns
            | Request::GetTimeouts
            | Request::ListVips
            | Request::ListMarkRules
            | Request::Status
            | Request::Zero { .. }
    )
}

/// Writes the running state to `path` atomically (temporary file in the same
/// directory, fsync, rename), mode 0600 as the control socket; creates the directory if
/// needed.
pub fn save(mgr: &Manager, path: &Path) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(&snapshot(mgr)).map_err(io::Error::other)?;
    text.push('\n');
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let written = (|| {
        // 0600 as the control socket: the file lists the whole running configuration.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        // `mode` only applies to a new file: a temporary left by a crash keeps its own.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    // The rename itself reaches the disk with the directory.
    std::fs::File::open(dir)?.sync_all()
}

/// How long the management loop waits after the last change before it writes the state
/// file: a burst of changes (`rvsadm -R`, a script) is written once, not once per change
/// (each write rewrites and fsyncs the whole file). See [`Unsaved`].
pub const SAVE_QUIET: Duration = Duration::from_millis(200);

/// The longest a change waits to be written, from the first unsaved one, even while
/// changes keep coming: a crash loses at most this much (configs/README.md).
pub const SAVE_MAX_DELAY: Duration = Duration::from_secs(1);

/// The changes made since the state file was last written (the management loop's
/// record, `Manager::run`): it writes the file when no change came for [`SAVE_QUIET`],
/// at the latest [`SAVE_MAX_DELAY`] after the first unsaved change, and always at a
/// clean stop and after a reload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unsaved {
    /// (first unsaved change, last change, number of changes); `None`: all saved.
    pending: Option<(Instant, Instant, u64)>,
}

impl Unsaved {
    /// Records a change that succeeded at `now`.
    pub fn note(&mut self, now: Instant) {
        self.pending = Some(match self.pending {
            None => (now, now, 1),
            Some((first, _, n)) => (first, now, n + 1),
        });
    }

    /// When the file is due: [`SAVE_QUIET`] after the last change, but no later than
    /// [`SAVE_MAX_DELAY`] after the first; `None` when nothing is unsaved.
    pub fn due(&self) -> Option<Instant> {
        self.pending
            .map(|(first, last, _)| (last + SAVE_QUIET).min(first + SAVE_MAX_DELAY))
    }

    /// The number of changes to write, clearing the record, when the file is due at
    /// `now` (or whatever the time when `force`: a stop, a reload); else `None`.
    pub fn take(&mut self, now: Instant, force: bool) -> Option<u64> {
        let due = self.due()?;
        if !force && now < due {
            return None;
        }
        self.pending.take().map(|(_, _, n)| n)
    }
}

/// Reads `path` (`Ok(None)` when it does not exist: nothing saved yet).
pub fn load(path: &Path) -> Result<Option<State>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(reason) => {
            return Err(Error::Read {
                file: path.to_owned(),
                reason,
            })
        }
    };
    // The version first, so a newer file says so rather than "unknown field".
    #[derive(Deserialize)]
    struct Versioned {
        version: u32,
    }
    let parse = |e: serde_json::Error| Error::Parse {
        file: path.to_owned(),
        message: e.to_string(),
    };
    let v: Versioned = serde_json::from_str(&text).map_err(parse)?;
    if v.version != VERSION {
        return Err(Error::Version {
            file: path.to_owned(),
            found: v.version,
        });
    }
    serde_json::from_str(&text).map(Some).map_err(parse)
}

/// Restores the state saved at `path` over the running one (rvsd at start, before the
/// workers run): timeouts, then every service and real server (the configuration's
/// are replaced), VIPs and mark rules made equal to the file's. A missing file
/// restores nothing (`Ok(false)`); `Ok(true)` when one was restored. On an error the
/// caller must not start: the running state may be half restored.
pub fn restore(mgr: &mut Manager, path: &Path) -> Result<bool, Error> {
    let Some(state) = load(path)? else {
        return Ok(false);
    };
    let ctx = Context {
        rt: None,
        started: std::time::Instant::now(),
        config_path: None,
    };
    let run = |mgr: &mut Manager, what: String, req: Request| {
        apply::handle(mgr, &ctx, req)
            .map(|_| ())
            .map_err(|e| Error::Apply {
                file: path.to_owned(),
                what,
                message: e.message,
            })
    };
    run(
        mgr,
        "timeouts".into(),
        Request::SetTimeouts {
            timeouts: state.timeouts,
        },
    )?;
    run(mgr, "clear".into(), Request::Clear)?;
    for s in &state.services {
        let key = s.service.key;
        run(
            mgr,
            format!("service {}", key_text(&key)),
            Request::AddService {
                service: s.service.clone(),
            },
        )?;
        // Oldest first, so IPVS's head insertion gives back the saved order.
        for d in s.dests.iter().rev() {
            run(
                mgr,
                format!("real server {}:{} of {}", d.addr, d.port, key_text(&key)),
                Request::AddDest { key, dest: *d },
            )?;
        }
        if let Some(checks) = &s.checks {
            for (real, check) in checks_requests(s, checks) {
                let what = match real {
                    None => format!("check of {}", key_text(&key)),
                    Some(r) => format!("check of {}:{} of {}", r.addr, r.port, key_text(&key)),
                };
                let request = match check {
                    Some(check) => Request::SetCheck {
                        key,
                        real,
                        check: Box::new(check),
                    },
                    None => Request::DelCheck { key, real },
                };
                run(mgr, what, request)?;
            }
        }
    }
    // The saved VIPs missing are added first, then those not saved are deleted.
    let have = views::vips(mgr);
    let add = state
        .vips
        .iter()
        .filter(|v| !have.contains(v))
        .map(|v| (v, true));
    let del = have
        .iter()
        .filter(|v| !state.vips.contains(v))
        .map(|v| (v, false));
    for (v, adding) in add.chain(del) {
        let (addr, port) = (v.addr, Some(v.port.clone()));
        let request = if adding {
            Request::AddVip { addr, port }
        } else {
            Request::DelVip { addr, port }
        };
        run(mgr, format!("VIP {} on {}", v.addr, v.port), request)?;
    }
    if views::mark_rules(mgr) != state.mark_rules {
        let old = views::mark_rules(mgr);
        for r in old {
            run(
                mgr,
                format!("mark rule {}", rule_text(&r)),
                Request::DelMarkRule { rule: r.clone() },
            )?;
        }
        // A rule saved twice (before rvsd refused duplicates) is restored once.
        for (i, r) in state.mark_rules.iter().enumerate() {
            if state.mark_rules[..i].contains(r) {
                continue;
            }
            run(
                mgr,
                format!("mark rule {}", rule_text(r)),
                Request::AddMarkRule { rule: r.clone() },
            )?;
        }
    }
    Ok(true)
}

/// The check requests that give service `s` exactly the saved `checks`: its default
/// check, then each saved real server's own check set and the others' removed (the
/// file may give them one).
fn checks_requests(
    s: &SavedService,
    checks: &SavedChecks,
) -> Vec<(Option<RealRef>, Option<CheckView>)> {
    let mut out = vec![(None, checks.service.clone())];
    for d in &s.dests {
        let own = checks
            .reals
            .iter()
            .find(|r| r.addr == d.addr && r.port == d.port)
            .map(|r| r.check.clone());
        let real = RealRef {
            addr: d.addr,
            port: d.port,
        };
        out.push((Some(real), own));
    }
    out
}

/// What differs between the state the configuration file built (`built`) and the one
/// restored over it (`restored`), as a short summary for rvsd's start-up warning (the
/// state file wins at start; an operator who edited the file should know it was not
/// applied): per kind, how many keys are only in one of them or differ, naming the first
/// three. Empty when they are equal (order aside: services, real servers, VIPs compared
/// as sets; mark rules in order, as they match in order).
pub fn differences(built: &State, restored: &State) -> Vec<String> {
    use std::collections::BTreeMap;
    fn sorted(s: &SavedService) -> SavedService {
        let mut s = s.clone();
        s.dests.sort_by_key(|d| (d.addr, d.port));
        s
    }
    let services = |st: &State| -> BTreeMap<String, SavedService> {
        st.services
            .iter()
            .map(|s| (key_text(&s.service.key), sorted(s)))
            .collect()
    };
    let (a, b) = (services(built), services(restored));
    let mut out = Vec::new();
    let mut kind = |what: &str, keys: Vec<String>| {
        if keys.is_empty() {
            return;
        }
        let more = keys.len().saturating_sub(3);
        let mut list = keys.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
        if more > 0 {
            list.push_str(&format!(" and {more} more"));
        }
        out.push(format!("{} {what} ({list})", keys.len()));
    };
    kind(
        "service(s) only in the state file",
        b.keys().filter(|k| !a.contains_key(*k)).cloned().collect(),
    );
    kind(
        "service(s) only in the configuration",
        a.keys().filter(|k| !b.contains_key(*k)).cloned().collect(),
    );
    kind(
        "service(s) or their real servers differing",
        a.iter()
            .filter(|(k, s)| b.get(*k).is_some_and(|t| t != *s))
            .map(|(k, _)| k.clone())
            .collect(),
    );
    let vip = |v: &VipView| format!("{} on {}", v.addr, v.port);
    kind(
        "VIP(s) only in the state file",
        restored
            .vips
            .iter()
            .filter(|v| !built.vips.contains(v))
            .map(vip)
            .collect(),
    );
    kind(
        "VIP(s) only in the configuration",
        built
            .vips
            .iter()
            .filter(|v| !restored.vips.contains(v))
            .map(vip)
            .collect(),
    );
    if built.mark_rules != restored.mark_rules {
        out.push(format!(
            "mark rules differ ({} in the state file, {} in the configuration)",
            restored.mark_rules.len(),
            built.mark_rules.len()
        ));
    }
    if built.timeouts != restored.timeouts {
        let t = |t: &TimeoutsView| format!("{} {} {}", t.tcp, t.tcpfin, t.udp);
        out.push(format!(
            "timeouts differ ({} in the state file, {} in the configuration)",
            t(&restored.timeouts),
            t(&built.timeouts)
        ));
    }
    out
}

/// A service as ipvsadm -L names it, for operators' messages: `TCP 203.0.113.10:80`,
/// `UDP 203.0.113.10:53`, `FWM 5`.
pub fn key_text(k: &ServiceKeyView) -> String {
    match k {
        ServiceKeyView::Tcp { vip, port } => format!("TCP {vip}:{port}"),
        ServiceKeyView::Udp { vip, port } => format!("UDP {vip}:{port}"),
        ServiceKeyView::Fwmark { mark } => format!("FWM {mark}"),
    }
}

/// A mark rule in words: `5: tcp to 203.0.113.0/24 port 80` (`any` for a missing
/// protocol or port range).
fn rule_text(r: &MarkRuleView) -> String {
    format!(
        "{}: {} to {} port {}",
        r.mark,
        r.protocol.as_deref().unwrap_or("any"),
        r.vip,
        r.ports.as_deref().unwrap_or("any")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::views::{MethodView, ServiceKeyView};
    use std::net::Ipv4Addr;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rvs-state-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// lab-nat.toml with a small connection table.
    fn manager() -> Manager {
        let text = std::fs::read_to_string("configs/lab-nat.toml")
            .unwrap()
            .replacen("[control]", "[tables]\nmax_conns = 4096\n\n[control]", 1);
        let cfg = crate::config::Config::from_str_named(&text, "lab-nat.toml").unwrap();
        crate::mgmt::services::manager(&cfg).unwrap()
    }

    fn ok(mgr: &mut Manager, req: Request) {
        let ctx = Context {
            rt: None,
            started: std::time::Instant::now(),
            config_path: None,
        };
        apply::handle(mgr, &ctx, req.clone()).unwrap_or_else(|e| panic!("{req:?}: {e:?}"));
    }

    fn dest(d: u8, port: u16, method: MethodView, weight: i32) -> DestSpec {
        DestSpec {
            addr: Ipv4Addr::new(192, 0, 2, d),
            port,
            method,
            weight,
            u_threshold: 0,
            l_threshold: 0,
        }
    }

    /// Run-time changes of every kind the file keeps.
    fn change(mgr: &mut Manager) {
        let tcp80 = ServiceKeyView::Tcp {
            vip: Ipv4Addr::new(203, 0, 113, 10),
            port: 80,
        };
        ok(
            mgr,
            Request::EditDest {
                key: tcp80,
                dest: DestSpec {
                    u_threshold: 100,
                    l_threshold: 50,
                    ..dest(12, 8080, MethodView::Nat, 7)
                },
            },
        );
        ok(
            mgr,
            Request::DelDest {
                key: tcp80,
                addr: Ipv4Addr::new(192, 0, 2, 11),
                port: 8080,
            },
        );
        ok(
            mgr,
            Request::AddDest {
                key: tcp80,
                dest: dest(14, 8080, MethodView::Nat, 2),
            },
        );
        let mark = ServiceKeyView::Fwmark { mark: 5 };
        ok(
            mgr,
            Request::AddService {
                service: ServiceSpec {
                    key: mark,
                    scheduler: "sh".into(),
                    flags: vec!["sh-port".into()],
                    persistent: Some(600),
                    netmask: Ipv4Addr::new(255, 255, 255, 0),
                    ops: false,
                },
            },
        );
        ok(
            mgr,
            Request::AddDest {
                key: mark,
                dest: dest(21, 0, MethodView::Nat, 1),
            },
        );
        ok(
            mgr,
            Request::AddDest {
                key: mark,
                dest: dest(22, 0, MethodView::Nat, 3),
            },
        );
        ok(
            mgr,
            Request::AddMarkRule {
                rule: MarkRuleView {
                    mark: 5,
                    protocol: Some("tcp".into()),
                    vip: "203.0.113.50/32".into(),
                    ports: Some("8000-8099".into()),
                },
            },
        );
        ok(
            mgr,
            Request::AddVip {
                addr: Ipv4Addr::new(203, 0, 113, 50),
                port: None,
            },
        );
        ok(
            mgr,
            Request::DelService {
                key: ServiceKeyView::Udp {
                    vip: Ipv4Addr::new(203, 0, 113, 10),
                    port: 53,
                },
            },
        );
        ok(
            mgr,
            Request::SetTimeouts {
                timeouts: TimeoutsView {
                    tcp: 600,
                    tcpfin: 0,
                    udp: 30,
                },
            },
        );
    }

    #[test]
    fn a_saved_state_restores_the_same_listing() {
        let d = dir("roundtrip");
        let path = d.join("sub/state.json");
        let mut a = manager();
        change(&mut a);
        save(&a, &path).unwrap();
        // Only the file is left in the directory (the temporary one was renamed).
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"version\": 1"), "{text}");

        let mut b = manager();
        assert_ne!(views::services(&b), views::services(&a));
        assert!(restore(&mut b, &path).unwrap());
        assert_eq!(views::services(&b), views::services(&a));
        assert_eq!(views::vips(&b), views::vips(&a));
        assert_eq!(views::mark_rules(&b), views::mark_rules(&a));
        assert_eq!(b.conns().timeouts().get(), a.conns().timeouts().get());
        assert_eq!(b.conns().timeouts().get().tcpfin_secs, 120);
        assert_eq!(snapshot(&b), snapshot(&a));
        // Saving again writes the same bytes.
        let again = d.join("again.json");
        save(&b, &again).unwrap();
        assert_eq!(std::fs::read_to_string(&again).unwrap(), text);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn only_changes_are_saved_and_a_save_is_read_back() {
        let d = dir("after");
        let path = d.join("state.json");
        let mut mgr = manager();
        for req in [
            Request::List { key: None },
            Request::Status,
            Request::Zero { key: None },
        ] {
            assert!(!is_mutating(&req), "{req:?}");
        }
        let set = Request::SetTimeouts {
            timeouts: TimeoutsView {
                tcp: 77,
                tcpfin: 0,
                udp: 0,
            },
        };
        ok(&mut mgr, set.clone());
        assert!(is_mutating(&set) && is_mutating(&Request::Reload));
        // An older world-readable file is replaced by a 0600 one (F5).
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(&path, "{}").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        save(&mgr, &path).unwrap();
        assert_eq!(load(&path).unwrap().unwrap().timeouts.tcp, 77);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_burst_of_changes_is_saved_once_quiet_or_at_the_latest_after_the_max_delay() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut u = Unsaved::default();
        assert_eq!(
            (u.due(), u.take(ms(0), true)),
            (None, None),
            "nothing unsaved"
        );
        u.note(ms(0));
        assert_eq!(u.due(), Some(ms(200)));
        assert_eq!(u.take(ms(199), false), None, "not quiet yet");
        // A change every 100 ms: never quiet, written at first + 1 s.
        for i in 1..=9 {
            u.note(ms(i * 100));
        }
        assert_eq!(u.due(), Some(ms(1000)));
        assert_eq!(u.take(ms(999), false), None);
        assert_eq!(u.take(ms(1000), false), Some(10), "ten changes, one write");
        assert_eq!(u.due(), None, "saved");
        u.note(ms(1100));
        assert_eq!(u.take(ms(1150), false), None);
        assert_eq!(u.take(ms(1300), false), Some(1), "quiet 200 ms");
        u.note(ms(1400));
        assert_eq!(u.take(ms(1401), true), Some(1), "a stop writes at once");
        assert_eq!(u.take(ms(5000), true), None);
    }

    #[test]
    fn bad_state_files_are_refused_naming_the_file() {
        let d = dir("bad");
        std::fs::create_dir_all(&d).unwrap();
        let mut mgr = manager();
        let missing = d.join("none.json");
        assert!(
            !restore(&mut mgr, &missing).unwrap(),
            "no file: nothing restored"
        );

        let p = d.join("garbage.json");
        std::fs::write(&p, "{\"version\":1,\"services\":[").unwrap();
        let e = restore(&mut mgr, &p).unwrap_err();
        assert!(matches!(e, Error::Parse { .. }), "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("state file {}: ", p.display())),
            "{e}"
        );
        assert!(e.to_string().contains("line 1"), "{e}");

        std::fs::write(&p, "{\"version\":2,\"whatever\":true}").unwrap();
        let e = restore(&mut mgr, &p).unwrap_err();
        assert!(matches!(e, Error::Version { found: 2, .. }), "{e}");

        let mut state = snapshot(&mgr);
        state.vips.push(VipView {
            addr: Ipv4Addr::new(198, 51, 100, 9),
            port: "eth9".into(),
        });
        std::fs::write(&p, serde_json::to_string(&state).unwrap()).unwrap();
        let e = restore(&mut mgr, &p).unwrap_err();
        assert!(
            e.to_string()
                .contains("VIP 198.51.100.9 on eth9: no port eth9"),
            "{e}"
        );
        // A broadcast VIP saved before rvsd refused them is not restored (F6).
        let mut state = snapshot(&mgr);
        state.vips.push(VipView {
            addr: Ipv4Addr::BROADCAST,
            port: "ext".into(),
        });
        std::fs::write(&p, serde_json::to_string(&state).unwrap()).unwrap();
        let e = restore(&mut mgr, &p).unwrap_err();
        assert!(
            e.to_string()
                .contains("VIP 255.255.255.255 is not a unicast address"),
            "{e}"
        );
        assert!(!mgr.net().is_vip(Ipv4Addr::BROADCAST));

        // F13: a service named as ipvsadm names it, not in Rust's Debug form.
        let mut state = snapshot(&mgr);
        let mut svc = state.services[0].clone();
        svc.service.key = ServiceKeyView::Udp {
            vip: Ipv4Addr::new(203, 0, 113, 10),
            port: 53,
        };
        svc.service.scheduler = "nosuch".into();
        state.services.push(svc);
        std::fs::write(&p, serde_json::to_string(&state).unwrap()).unwrap();
        let e = restore(&mut mgr, &p).unwrap_err().to_string();
        assert!(e.contains(": service UDP 203.0.113.10:53: "), "{e}");
        assert!(!e.contains("Udp {"), "{e}");

        // F13: a directory: one line naming it, the OS's reason once (no source chain
        // for rvsd's `{:#}` to repeat).
        let e = restore(&mut mgr, &d).unwrap_err();
        assert!(matches!(e, Error::Read { .. }), "{e}");
        assert!(std::error::Error::source(&e).is_none());
        assert_eq!(
            format!("{:#}", anyhow::Error::from(e)),
            format!("state file {}: Is a directory (os error 21)", d.display())
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
