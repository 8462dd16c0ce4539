//! The configured/effective split: health Actions on a real Manager built from a file,
//! operator changes on DOWN servers, listings, run-time checks, reload and state file.

use super::*;
use crate::config::Config;
use crate::ctl::proto::{Body, ErrorKind, RealRef, Request};
use crate::ctl::views::{CheckView, ServiceKeyView};
use crate::lb::dest::Fwd;
use crate::lb::flow::proto;
use crate::mgmt::apply::{self, Context};
use crate::mgmt::health::MiscCheck;
use std::path::PathBuf;
use std::sync::Arc;

/// lab-nat.toml with a MISC_CHECK default on TCP :80, .12 inhibited on failure and a
/// sorry server 192.0.2.50:8080.
fn text() -> String {
    std::fs::read_to_string("configs/lab-nat.toml")
        .unwrap()
        .replacen("[control]", "[tables]\nmax_conns = 4096\n\n[control]", 1)
        .replacen(
            "[[service.real]]\naddr = \"192.0.2.11\"\nport = 8080",
            "[service.check]\nretry = 0\n[service.check.MISC_CHECK]\nmisc_path = \"/bin/true\"\n\n\
             [service.sorry_server]\naddr = \"192.0.2.50\"\nport = 8080\n\n\
             [[service.real]]\naddr = \"192.0.2.11\"\nport = 8080",
            1,
        )
        .replacen(
            "addr = \"192.0.2.12\"\nport = 8080\nmethod = \"nat\"\nweight = 1",
            "addr = \"192.0.2.12\"\nport = 8080\nmethod = \"nat\"\nweight = 1\ninhibit_on_failure = true",
            1,
        )
}

fn write(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rvs-health-table-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn manager() -> Manager {
    let cfg = Config::from_str_named(&text(), "health.toml").unwrap();
    crate::mgmt::services::manager(&cfg).unwrap()
}

fn tcp80() -> ServiceKey {
    ServiceKey::Addr {
        proto: proto::TCP,
        vip: Ipv4Addr::new(203, 0, 113, 10),
        vport: 80,
    }
}

fn tcp80v() -> ServiceKeyView {
    ServiceKeyView::Tcp {
        vip: Ipv4Addr::new(203, 0, 113, 10),
        port: 80,
    }
}

fn rs(d: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, d)
}

/// The effective table of TCP :80: (address, weight), sorted.
fn effective(mgr: &Manager) -> Vec<(Ipv4Addr, i32)> {
    let mut v: Vec<_> = mgr
        .services()
        .get(&tcp80())
        .unwrap()
        .dests()
        .iter()
        .map(|d| (d.addr, d.weight()))
        .collect();
    v.sort();
    v
}

/// The configured table of TCP :80: (address, weight), sorted.
fn configured(mgr: &Manager) -> Vec<(Ipv4Addr, i32)> {
    let mut v: Vec<_> = mgr
        .configured_dests(&tcp80())
        .iter()
        .map(|d| (d.addr, d.weight))
        .collect();
    v.sort();
    v
}

fn down(d: u8, inhibit: bool) -> Action {
    Action::Down {
        service: tcp80(),
        addr: rs(d),
        port: 8080,
        inhibit,
        reason: "MISC_CHECK /bin/false exited 1".into(),
    }
}

fn up(d: u8, weight: u32) -> Action {
    Action::Up {
        service: tcp80(),
        addr: rs(d),
        port: 8080,
        weight,
        reason: "MISC_CHECK ok".into(),
    }
}

fn handle(mgr: &mut Manager, req: Request) -> Result<Body, crate::ctl::proto::CtlError> {
    let ctx = Context {
        rt: None,
        started: std::time::Instant::now(),
        config_path: None,
    };
    apply::handle(mgr, &ctx, req)
}

fn all_three() -> Vec<(Ipv4Addr, i32)> {
    vec![(rs(11), 1), (rs(12), 1), (rs(13), 1)]
}

#[test]
fn down_leaves_the_effective_table_and_up_revives_the_same_dest() {
    let mut mgr = manager();
    let before = mgr.services().get(&tcp80()).unwrap().clone();
    let d11 = before
        .dests()
        .iter()
        .find(|d| d.addr == rs(11))
        .unwrap()
        .clone();
    mgr.apply_health(&down(11, false));
    assert_eq!(effective(&mgr), vec![(rs(12), 1), (rs(13), 1)]);
    assert!(
        !d11.is_available(),
        "as ipvsadm -d: its connections see it gone"
    );
    assert_eq!(configured(&mgr), all_three(), "configured table unchanged");
    // Again: nothing more happens.
    mgr.apply_health(&down(11, false));
    assert_eq!(effective(&mgr), vec![(rs(12), 1), (rs(13), 1)]);
    mgr.apply_health(&up(11, 1));
    assert_eq!(effective(&mgr), all_three());
    let now = mgr.services().get(&tcp80()).unwrap().clone();
    let back = now.dests().iter().find(|d| d.addr == rs(11)).unwrap();
    assert!(Arc::ptr_eq(back, &d11), "revived from the trash, as IPVS");
    assert!(back.is_available());
    assert!(mgr.overlay.held(&(tcp80(), rs(11), 8080)).is_none());
}

#[test]
fn inhibited_down_is_weight_0_and_up_gives_the_weight_back() {
    let mut mgr = manager();
    mgr.apply_health(&down(12, true));
    assert_eq!(effective(&mgr), vec![(rs(11), 1), (rs(12), 0), (rs(13), 1)]);
    assert_eq!(configured(&mgr), all_three());
    mgr.apply_health(&up(12, 1));
    assert_eq!(effective(&mgr), all_three());
}

#[test]
fn a_dynamic_weight_changes_the_effective_weight_only() {
    let mut mgr = manager();
    let w = |weight| Action::Weight {
        service: tcp80(),
        addr: rs(13),
        port: 8080,
        weight,
    };
    mgr.apply_health(&w(7));
    assert_eq!(effective(&mgr), vec![(rs(11), 1), (rs(12), 1), (rs(13), 7)]);
    assert_eq!(configured(&mgr), all_three());
    mgr.apply_health(&w(1));
    assert_eq!(effective(&mgr), all_three());
    assert!(mgr.overlay.held(&(tcp80(), rs(13), 8080)).is_none());
    // A dynamic weight for a DOWN server waits for its Up.
    mgr.apply_health(&down(13, false));
    mgr.apply_health(&w(4));
    assert_eq!(effective(&mgr), vec![(rs(11), 1), (rs(12), 1)]);
}

#[test]
fn operator_changes_on_down_servers_reach_the_configured_table() {
    let mut mgr = manager();
    mgr.apply_health(&down(11, false));
    mgr.apply_health(&down(12, true));
    // -e -w on DOWN servers: configured only.
    let mut d = DestConfig::new(rs(11), 8080);
    d.fwd = Fwd::Nat;
    d.weight = 5;
    mgr.edit_dest(&tcp80(), &d).unwrap();
    mgr.edit_dest(
        &tcp80(),
        &DestConfig {
            addr: rs(12),
            weight: 7,
            ..d
        },
    )
    .unwrap();
    assert_eq!(effective(&mgr), vec![(rs(12), 0), (rs(13), 1)]);
    assert_eq!(
        configured(&mgr),
        vec![(rs(11), 5), (rs(12), 7), (rs(13), 1)]
    );
    // A bad weight is refused as IPVS refuses it, DOWN or not.
    let e = mgr.edit_dest(&tcp80(), &DestConfig { weight: -1, ..d });
    assert_eq!(e.unwrap_err().to_string(), "Numerical result out of range");
    // The monitor is told the new configured weights.
    let targets = mgr.health_conf.targets(&mgr);
    let t11 = targets[0].reals.iter().find(|t| t.addr == rs(11)).unwrap();
    assert_eq!(t11.weight, 5);
    assert!(t11.check.is_some(), "the service's default check");
    assert!(
        targets[0]
            .reals
            .iter()
            .find(|t| t.addr == rs(12))
            .unwrap()
            .inhibit_on_failure
    );
    // -a of a server the configured table has: refused even while out of the table.
    let e = mgr.add_dest(&tcp80(), &d).unwrap_err();
    assert_eq!(e.to_string(), "Destination already exists");
    // UP: the configured weight.
    mgr.apply_health(&up(11, 5));
    mgr.apply_health(&up(12, 7));
    assert_eq!(effective(&mgr), vec![(rs(11), 5), (rs(12), 7), (rs(13), 1)]);
}

#[test]
fn delete_forgets_a_down_server_and_a_late_up_does_not_bring_it_back() {
    let mut mgr = manager();
    mgr.apply_health(&down(11, false));
    mgr.del_dest(&tcp80(), rs(11), 8080).unwrap();
    assert_eq!(configured(&mgr), vec![(rs(12), 1), (rs(13), 1)]);
    assert_eq!(
        mgr.del_dest(&tcp80(), rs(11), 8080)
            .unwrap_err()
            .to_string(),
        "No such destination"
    );
    mgr.apply_health(&up(11, 1));
    assert_eq!(effective(&mgr), vec![(rs(12), 1), (rs(13), 1)]);
    // Added again: a new real server, checked with the service's default.
    let mut d = DestConfig::new(rs(11), 8080);
    d.fwd = Fwd::Nat;
    mgr.add_dest(&tcp80(), &d).unwrap();
    assert_eq!(effective(&mgr), all_three());
    // -d of an inhibited server takes it out of the effective table too.
    mgr.apply_health(&down(12, true));
    mgr.del_dest(&tcp80(), rs(12), 8080).unwrap();
    assert_eq!(effective(&mgr), vec![(rs(11), 1), (rs(13), 1)]);
    assert_eq!(configured(&mgr), vec![(rs(11), 1), (rs(13), 1)]);
}

#[test]
fn the_sorry_server_is_effective_only() {
    let mut mgr = manager();
    let server = mgr
        .health_conf
        .service_health(&tcp80())
        .sorry_server
        .unwrap();
    for d in [11, 12, 13] {
        mgr.apply_health(&down(d, false));
    }
    mgr.apply_health(&Action::SorryOn {
        service: tcp80(),
        server,
    });
    assert_eq!(effective(&mgr), vec![(rs(50), 1)]);
    assert_eq!(configured(&mgr), all_three());
    let view =
        crate::mgmt::views::service_view(&mgr, mgr.services().get(&tcp80()).unwrap()).unwrap();
    assert_eq!(view.sorry_active, Some(true));
    assert_eq!(view.dests[0].health.as_ref().unwrap().state, "active");
    assert_eq!(view.removed_dests.len(), 3);
    assert!(view
        .removed_dests
        .iter()
        .all(|d| d.health.as_ref().unwrap().state == "down"));
    mgr.apply_health(&up(13, 1));
    mgr.apply_health(&Action::SorryOff {
        service: tcp80(),
        server,
    });
    assert_eq!(effective(&mgr), vec![(rs(13), 1)]);
    // sorry_server_inhibit: kept at weight 0.
    let inhibit = SorryServer {
        inhibit: true,
        ..server
    };
    mgr.apply_health(&Action::SorryOff {
        service: tcp80(),
        server: inhibit,
    });
    assert_eq!(effective(&mgr), vec![(rs(13), 1), (rs(50), 0)]);
    let view =
        crate::mgmt::views::service_view(&mgr, mgr.services().get(&tcp80()).unwrap()).unwrap();
    assert_eq!(view.sorry_active, Some(false));
    mgr.apply_health(&Action::SorryOn {
        service: tcp80(),
        server: inhibit,
    });
    assert_eq!(effective(&mgr), vec![(rs(13), 1), (rs(50), 1)]);
    assert_eq!(configured(&mgr), all_three());
}

#[test]
fn listings_show_the_effective_table_with_health() {
    let mut mgr = manager();
    mgr.apply_health(&down(11, false));
    mgr.apply_health(&down(12, true));
    let view =
        crate::mgmt::views::service_view(&mgr, mgr.services().get(&tcp80()).unwrap()).unwrap();
    let state = |a: Ipv4Addr| {
        view.dests
            .iter()
            .chain(&view.removed_dests)
            .find(|d| d.addr == a)
            .map(|d| (d.weight, d.health.clone().unwrap()))
            .unwrap()
    };
    assert_eq!(
        view.dests.len(),
        2,
        "the DOWN server is not listed, as ipvsadm"
    );
    let (w, h) = state(rs(12));
    assert_eq!(
        (w, h.state.as_str(), h.configured_weight),
        (0, "inhibited", 1)
    );
    assert_eq!(h.checker.as_deref(), Some("MISC_CHECK"));
    assert_eq!(state(rs(11)).1.state, "down");
    assert_eq!(state(rs(13)).1.state, "up");
    assert_eq!(view.sorry_active, Some(false));
    let status = crate::mgmt::health_views::status_list(&mgr);
    assert_eq!(status.len(), 3, "{status:#?}");
    let s11 = status.iter().find(|s| s.addr == rs(11)).unwrap();
    assert_eq!((s11.weight, s11.health.state.as_str()), (None, "down"));
    // The UDP service has no check: listed as before.
    let udp = mgr.services().in_insertion_order().nth(1).unwrap().clone();
    let v = crate::mgmt::views::service_view(&mgr, &udp).unwrap();
    assert!(v.dests.iter().all(|d| d.health.is_none()) && v.sorry_active.is_none());
    let json = serde_json::to_string(&v).unwrap();
    assert!(
        !json.contains("health") && !json.contains("removed_dests"),
        "{json}"
    );
}

fn misc(path: &str) -> CheckView {
    CheckView {
        misc: Some(MiscCheck {
            misc_path: path.into(),
            misc_args: vec![],
            misc_timeout: None,
            misc_dynamic: false,
        }),
        retry: Some(2),
        ..Default::default()
    }
}

#[test]
fn checks_change_at_run_time_and_are_refused_with_a_reason() {
    let mut mgr = manager();
    let udp53 = ServiceKeyView::Udp {
        vip: Ipv4Addr::new(203, 0, 113, 10),
        port: 53,
    };
    let udp = crate::mgmt::views::service_key(udp53);
    assert!(!mgr.health_conf.watched(&mgr, &udp));
    let real = Some(RealRef {
        addr: rs(11),
        port: 0,
    });
    handle(
        &mut mgr,
        Request::SetCheck {
            key: udp53,
            real,
            check: Box::new(misc("/bin/false")),
        },
    )
    .unwrap();
    assert!(mgr.health_conf.watched(&mgr, &udp));
    let t = &mgr.health_conf.targets(&mgr)[1];
    let c = t
        .reals
        .iter()
        .find(|r| r.addr == rs(11))
        .unwrap()
        .check
        .clone()
        .unwrap();
    assert_eq!(c.retry, 2);
    assert_eq!(c.delay_before_retry, std::time::Duration::from_secs(1));
    assert!(t
        .reals
        .iter()
        .find(|r| r.addr == rs(12))
        .unwrap()
        .check
        .is_none());
    handle(&mut mgr, Request::DelCheck { key: udp53, real }).unwrap();
    assert!(!mgr.health_conf.watched(&mgr, &udp));
    // The service default: replaced, then removed.
    handle(
        &mut mgr,
        Request::SetCheck {
            key: tcp80v(),
            real: None,
            check: Box::new(misc("/bin/false")),
        },
    )
    .unwrap();
    let h = mgr.health_conf.service_health(&tcp80());
    assert_eq!(h.check.unwrap().retry, 2);
    handle(
        &mut mgr,
        Request::DelCheck {
            key: tcp80v(),
            real: None,
        },
    )
    .unwrap();
    assert!(mgr.health_conf.service_health(&tcp80()).check.is_none());
    // Refusals.
    let refused = |mgr: &mut Manager, req| {
        let e = handle(mgr, req).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused);
        e.message
    };
    let two = CheckView {
        tcp: Some(Default::default()),
        ..misc("/bin/true")
    };
    let m = refused(
        &mut mgr,
        Request::SetCheck {
            key: tcp80v(),
            real: None,
            check: Box::new(two),
        },
    );
    assert!(m.starts_with("check: one checker per check"), "{m}");
    let m = refused(
        &mut mgr,
        Request::SetCheck {
            key: tcp80v(),
            real: Some(RealRef {
                addr: rs(99),
                port: 8080,
            }),
            check: Box::new(misc("/bin/true")),
        },
    );
    assert_eq!(m, "No such destination");
    let m = refused(
        &mut mgr,
        Request::SetCheck {
            key: ServiceKeyView::Tcp {
                vip: Ipv4Addr::new(203, 0, 113, 10),
                port: 81,
            },
            real: None,
            check: Box::new(misc("/bin/true")),
        },
    );
    assert_eq!(m, "No such service");
    let bad = CheckView {
        connect_timeout: Some(1.0),
        ..misc("/bin/true")
    };
    let m = refused(
        &mut mgr,
        Request::SetCheck {
            key: tcp80v(),
            real: None,
            check: Box::new(bad),
        },
    );
    assert!(m.starts_with("check: connect_timeout:"), "{m}");
}

#[test]
fn reload_keeps_down_servers_and_gives_back_the_files_checks() {
    let path = write("reload.toml", &text());
    let mut mgr = crate::mgmt::services::manager(&Config::load(&path).unwrap()).unwrap();
    mgr.apply_health(&down(11, false));
    mgr.apply_health(&down(12, true));
    handle(
        &mut mgr,
        Request::SetCheck {
            key: tcp80v(),
            real: None,
            check: Box::new(misc("/bin/false")),
        },
    )
    .unwrap();
    let Body::Reloaded { changes } = crate::mgmt::reload::reload_file(&mut mgr, &path).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        changes,
        Vec::<String>::new(),
        "DOWN is no difference from the file"
    );
    assert_eq!(effective(&mgr), vec![(rs(12), 0), (rs(13), 1)]);
    let c = mgr.health_conf.service_health(&tcp80()).check.unwrap();
    assert_eq!(c.retry, 0, "the file's check again");
    // A file that drops a DOWN server and changes another's weight.
    let edited = text()
        .replacen(
            "[[service.real]]\naddr = \"192.0.2.11\"\nport = 8080\nmethod = \"nat\"\nweight = 1\n",
            "",
            1,
        )
        .replacen(
            "weight = 1\ninhibit_on_failure = true",
            "weight = 4\ninhibit_on_failure = true",
            1,
        );
    std::fs::write(&path, edited).unwrap();
    let Body::Reloaded { changes } = crate::mgmt::reload::reload_file(&mut mgr, &path).unwrap()
    else {
        panic!()
    };
    assert_eq!(changes.len(), 2, "{changes:#?}");
    assert_eq!(configured(&mgr), vec![(rs(12), 4), (rs(13), 1)]);
    assert_eq!(
        effective(&mgr),
        vec![(rs(12), 0), (rs(13), 1)],
        "still DOWN"
    );
}

#[test]
fn the_state_file_keeps_the_configured_table_and_the_checks() {
    let mut mgr = manager();
    mgr.apply_health(&down(11, false));
    mgr.apply_health(&down(12, true));
    let server = mgr
        .health_conf
        .service_health(&tcp80())
        .sorry_server
        .unwrap();
    mgr.apply_health(&Action::SorryOn {
        service: tcp80(),
        server,
    });
    let real = Some(RealRef {
        addr: rs(13),
        port: 8080,
    });
    handle(
        &mut mgr,
        Request::SetCheck {
            key: tcp80v(),
            real,
            check: Box::new(misc("/bin/false")),
        },
    )
    .unwrap();
    let saved = crate::mgmt::state::snapshot(&mgr);
    let tcp = &saved.services[0];
    let mut dests: Vec<_> = tcp.dests.iter().map(|d| (d.addr, d.weight)).collect();
    dests.sort();
    assert_eq!(dests, all_three(), "configured, no sorry server");
    let checks = tcp.checks.clone().unwrap();
    assert!(checks.service.as_ref().unwrap().misc.is_some());
    assert_eq!(checks.reals.len(), 1);
    assert_eq!(checks.reals[0].check.retry, Some(2));
    assert!(
        saved.services[1].checks.is_none(),
        "the UDP service has none"
    );
    let path = write("state.json", "");
    crate::mgmt::state::save(&mgr, &path).unwrap();
    let mut fresh = manager();
    assert!(crate::mgmt::state::restore(&mut fresh, &path).unwrap());
    assert_eq!(crate::mgmt::state::snapshot(&fresh), saved);
    assert_eq!(effective(&fresh), all_three(), "health starts afresh");
    let own = fresh
        .health_conf
        .own_check(&(tcp80(), rs(13), 8080))
        .unwrap();
    assert_eq!(own.retry, 2);
}

#[test]
fn a_server_added_to_a_service_with_a_default_check_is_checked() {
    let mut mgr = manager();
    handle(
        &mut mgr,
        Request::AddDest {
            key: tcp80v(),
            dest: crate::ctl::views::DestSpec {
                addr: rs(14),
                port: 8080,
                method: crate::ctl::views::MethodView::Nat,
                weight: 2,
                u_threshold: 0,
                l_threshold: 0,
            },
        },
    )
    .unwrap();
    let targets = mgr.health_conf.targets(&mgr);
    let t = targets[0].reals.iter().find(|t| t.addr == rs(14)).unwrap();
    assert_eq!(t.weight, 2);
    assert!(t.check.is_some(), "the service's default check");
    assert!(!t.inhibit_on_failure && t.notify_up.is_none());
    // -d forgets it.
    mgr.del_dest(&tcp80(), rs(14), 8080).unwrap();
    let targets = mgr.health_conf.targets(&mgr);
    assert!(targets[0].reals.iter().all(|t| t.addr != rs(14)));
}
