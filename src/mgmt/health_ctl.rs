//! Run-time check changes through the control socket (`rvsadm check set/del`, the state
//! file's restore): [`set_check`] validates a check in the `[service.check]` shape and
//! records it in the health configuration (`mgmt::health_conf`); the management loop
//! then gives the monitor its new targets. A reload gives back the file's checks.

use std::sync::Arc;

use crate::ctl::proto::{Body, CtlError, RealRef};
use crate::ctl::views::{CheckView, ServiceKeyView};
use crate::lb::service::{self, ServiceKey};
use crate::mgmt::apply::{dest_port, refused};
use crate::mgmt::health_conf::check_of_view;
use crate::mgmt::{views, Manager};

/// Sets (`check` given) or removes the default check of service `key` or, with `real`,
/// the own check of that real server of the configured table (DOWN ones included).
/// Refused with ipvsadm's text for a missing service ("No such service") or real server
/// ("No such destination"), and with a one-line reason naming the key for a check that
/// is not valid; nothing changes then.
pub fn set_check(
    mgr: &mut Manager,
    key: ServiceKeyView,
    real: Option<RealRef>,
    check: Option<&CheckView>,
) -> Result<Body, CtlError> {
    let k = views::service_key(key);
    if mgr.services().get(&k).is_none() {
        return Err(refused(service::Error::NoSuchService.to_string()));
    }
    let check = match check {
        None => None,
        Some(v) => {
            let health = mgr.health_conf.service_health(&k);
            let c = check_of_view(v, &health).map_err(|e| refused(format!("check: {e}")))?;
            Some(Arc::new(c))
        }
    };
    match real {
        None => mgr.health_conf.set_service_check(k, check),
        Some(r) => {
            let port = configured_port(mgr, &k, r.addr, dest_port(key, r.port))
                .ok_or_else(|| refused(service::Error::NoSuchDest.to_string()))?;
            mgr.health_conf.set_real_check((k, r.addr, port), check);
        }
    }
    Ok(Body::Done)
}

/// The port real server `addr:port` of `k` has in the configured table: `port`, else
/// (DR/TUN on an address service) the service port, as IPVS finds such dests.
fn configured_port(
    mgr: &Manager,
    k: &ServiceKey,
    addr: std::net::Ipv4Addr,
    port: u16,
) -> Option<u16> {
    let dests = mgr.configured_dests(k);
    let has = |p: u16| dests.iter().any(|d| d.addr == addr && d.port == p);
    if has(port) {
        return Some(port);
    }
    match *k {
        ServiceKey::Addr { vport, .. } if has(vport) => Some(vport),
        _ => None,
    }
}
