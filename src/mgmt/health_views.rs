//! The health part of the listings (docs/CONTROL.md): `health` on each real server of a
//! watched service in `-L --json`, the real servers out of the effective table
//! (`removed_dests`), `sorry_active`, and `rvsadm status`'s `health` list. States come from
//! the overlay (what the effective table holds, `mgmt::health_table`), check times and
//! results from the monitor's status. Management thread only; reads only.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::UNIX_EPOCH;

use crate::ctl::views::{DestHealthView, DestView, HealthView, ServiceView};
use crate::lb::service::ServiceKey;
use crate::mgmt::health::DestHealth;
use crate::mgmt::health_table::Effect;
use crate::mgmt::{views, Manager};

/// The monitor's status by (service, address, port, sorry).
type Status = HashMap<(ServiceKey, Ipv4Addr, u16, bool), DestHealth>;

fn status(mgr: &Manager) -> Status {
    mgr.health
        .monitor()
        .status()
        .into_iter()
        .map(|h| ((h.service, h.addr, h.port, h.sorry), h))
        .collect()
}

/// The health of one real server (`sorry`: the sorry server) of `key`, configured with
/// weight `configured`.
fn health_of(
    mgr: &Manager,
    st: &Status,
    key: ServiceKey,
    addr: Ipv4Addr,
    port: u16,
    sorry: bool,
    configured: i32,
) -> HealthView {
    let dh = st.get(&(key, addr, port, sorry));
    let checker = if sorry {
        None
    } else {
        let own = mgr.health_conf.own_check(&(key, addr, port));
        own.or_else(|| mgr.health_conf.service_health(&key).check)
            .map(|c| c.spec.kind().to_string())
    };
    let state = if sorry {
        match mgr.overlay.sorry(&key) {
            Some(p) if p.active => "active",
            _ => "standby",
        }
    } else {
        // The monitor's verdict when it has one (a server set aside while the sorry
        // server is in use is UP, and out of the table); else what the table holds.
        let held = mgr.overlay.held(&(key, addr, port));
        let down = match dh {
            Some(h) => !h.up,
            None => held.is_some_and(|h| h.down),
        };
        let out = held.is_some_and(|h| h.effect == Effect::Removed);
        match (checker.is_some(), down, out) {
            (false, _, _) => "unchecked",
            (true, false, _) => "up",
            (true, true, true) => "down",
            (true, true, false) => "inhibited",
        }
    };
    HealthView {
        state: state.to_string(),
        checker,
        configured_weight: configured,
        last_check_ms: dh.and_then(|h| h.last_check).and_then(|t| {
            t.duration_since(UNIX_EPOCH)
                .ok()
                .map(|d| d.as_millis() as u64)
        }),
        last_result: dh.and_then(|h| h.last_result.clone()),
        consecutive_failures: dh.map_or(0, |h| h.consecutive_failures),
    }
}

/// Adds the health fields to `view`, the listing of service `key` (nothing for a
/// service the monitor does not watch: its listing stays as before health checks).
pub fn decorate(mgr: &Manager, key: ServiceKey, view: &mut ServiceView) {
    if !mgr.health_conf.watched(mgr, &key) {
        return;
    }
    let st = status(mgr);
    let configured = mgr.configured_dests(&key);
    for d in &mut view.dests {
        let sorry = mgr.overlay.is_sorry(&key, d.addr, d.port);
        let weight = configured
            .iter()
            .find(|c| c.addr == d.addr && c.port == d.port)
            .map_or(d.weight, |c| c.weight);
        d.health = Some(health_of(mgr, &st, key, d.addr, d.port, sorry, weight));
    }
    view.removed_dests = configured
        .iter()
        .filter(|c| {
            mgr.overlay
                .held(&(key, c.addr, c.port))
                .is_some_and(|h| h.effect == Effect::Removed)
        })
        .map(|c| DestView {
            addr: c.addr,
            port: c.port,
            method: views::method_view(c.fwd),
            weight: c.weight,
            u_threshold: c.u_threshold,
            l_threshold: c.l_threshold,
            active_conns: 0,
            inactive_conns: 0,
            persistent_conns: 0,
            stats: Default::default(),
            rates: Default::default(),
            passive_failures: 0,
            health: Some(health_of(mgr, &st, key, c.addr, c.port, false, c.weight)),
        })
        .collect();
    view.sorry_active = mgr
        .health_conf
        .service_health(&key)
        .sorry_server
        .map(|_| mgr.overlay.sorry(&key).is_some_and(|p| p.active));
}

/// `rvsadm status`'s health list: every real server (configured, in or out of the
/// effective table) and sorry server of every watched service.
pub fn status_list(mgr: &Manager) -> Vec<DestHealthView> {
    let mut out = Vec::new();
    for svc in mgr.services().in_insertion_order() {
        let Some(mut view) = views::service_view(mgr, svc) else {
            continue;
        };
        if view.dests.iter().all(|d| d.health.is_none()) && view.removed_dests.is_empty() {
            continue;
        }
        let key = svc.config().key;
        let service = view.spec.key;
        let listed = std::mem::take(&mut view.dests)
            .into_iter()
            .map(|d| (d, true))
            .chain(view.removed_dests.drain(..).map(|d| (d, false)));
        for (d, in_table) in listed {
            let Some(health) = d.health else { continue };
            out.push(DestHealthView {
                service,
                addr: d.addr,
                port: d.port,
                sorry: mgr.overlay.is_sorry(&key, d.addr, d.port),
                weight: in_table.then_some(d.weight),
                health,
            });
        }
    }
    out
}
