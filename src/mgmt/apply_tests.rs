//! Unit tests of [`super::handle`] on the testbed's Manager (real tables, real LB path).

use super::*;
use crate::ctl::views::{MethodView, ServiceView};
use crate::testkit::testbed;

fn ctx() -> Context<'static> {
    Context {
        rt: None,
        started: Instant::now(),
        config_path: None,
    }
}

fn tcp(last: u8, port: u16) -> ServiceKeyView {
    ServiceKeyView::Tcp {
        vip: Ipv4Addr::new(203, 0, 113, last),
        port,
    }
}

fn list_all(mgr: &mut Manager) -> Vec<ServiceView> {
    match handle(mgr, &ctx(), Request::List { key: None }).unwrap() {
        Body::Services { services } => services,
        b => panic!("not a listing: {b:?}"),
    }
}

#[test]
fn list_shows_every_service_in_insertion_order_with_dests_newest_first() {
    let (_net, mut mgr) = testbed::setup(64, "rr");
    let all = list_all(&mut mgr);
    assert_eq!(all.len(), mgr.services().services().len());
    let nat = all.iter().find(|s| s.spec.key == tcp(10, 80)).unwrap();
    assert_eq!(nat.spec.scheduler, "rr");
    let addrs: Vec<_> = nat.dests.iter().map(|d| d.addr.octets()[3]).collect();
    assert_eq!(addrs, [13, 12, 11], "IPVS list order, newest first");
    assert!(nat
        .dests
        .iter()
        .all(|d| d.method == MethodView::Nat && d.port == 8080));
    let spec = ServiceSpec {
        key: tcp(99, 80),
        scheduler: "wlc".into(),
        flags: vec![],
        persistent: Some(360),
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        ops: false,
    };
    handle(
        &mut mgr,
        &ctx(),
        Request::AddService {
            service: spec.clone(),
        },
    )
    .unwrap();
    let all = list_all(&mut mgr);
    assert_eq!(all.last().unwrap().spec, spec, "added last, listed last");
    let one = handle(
        &mut mgr,
        &ctx(),
        Request::List {
            key: Some(tcp(99, 80)),
        },
    )
    .unwrap();
    assert!(
        matches!(one, Body::Services { services } if services.len() == 1 && services[0].spec == spec)
    );
    let e = handle(
        &mut mgr,
        &ctx(),
        Request::List {
            key: Some(tcp(98, 80)),
        },
    )
    .unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::Refused, "No such service")
    );
}

#[test]
fn status_without_a_data_plane_counts_services_and_the_table() {
    let (_net, mut mgr) = testbed::setup(64, "rr");
    let path = std::path::PathBuf::from("/etc/rvs/rvs.toml");
    let c = Context {
        rt: None,
        started: Instant::now(),
        config_path: Some(&path),
    };
    let Body::Status(s) = handle(&mut mgr, &c, Request::Status).unwrap() else {
        panic!("not a status");
    };
    assert_eq!(s.services, mgr.services().services().len());
    assert_eq!((s.conns, s.max_conns), (0, 64));
    assert_eq!(s.config_file, "/etc/rvs/rvs.toml");
    assert_eq!(s.version, crate::version::VERSION);
    assert!(s.ports.is_empty() && s.workers.is_empty() && s.drops.is_empty());
}
