//! The CONFIGURED table and the EFFECTIVE one (docs/HEALTH.md, "Effects").
//!
//! The published service table is the EFFECTIVE one: what workers schedule on and what
//! `rvsadm -L` / `-S` show, exactly as `ipvsadm` shows the kernel table keepalived drives:
//! a DOWN real server is absent (keepalived deletes it, as `ipvsadm -d`: its connections
//! follow `expire_nodest_conn`), an inhibited one (`inhibit_on_failure`) is there with
//! weight 0, the sorry server is there while in use (or at weight 0 with
//! `sorry_server_inhibit`).
//!
//! The CONFIGURED table is the operator's: the real servers and weights set by the file,
//! `rvsadm -a/-e/-d` and the state file. It is the effective table with the [`Overlay`]
//! undone: every real server the health checks took out (or to weight 0, or to a
//! `misc_dynamic` weight) with its configured settings, and minus the sorry servers. The
//! state file, reload and the health monitor's targets work on it.
//!
//! The operator's changes (`Manager::add_dest` ...: `rvsadm`, reload, state restore) act
//! on the configured table and carry to the effective one only as far as health allows:
//! `-e -w` on a DOWN server changes its configured weight (it gets it back when UP); `-d`
//! forgets it (and its health); `-a` of a server the configured table has is refused as
//! IPVS refuses a duplicate, even when health took it out of the effective table.
//! Management thread only; nothing here is seen by workers except through the published
//! tables.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::config::SorryServer;
use crate::lb::dest::Dest;
use crate::lb::service::{self, DestConfig, ServiceKey};
use crate::mgmt::health::Action;
use crate::mgmt::manager::Error;
use crate::mgmt::Manager;

/// One real server of one service: service, address and (effective) port.
pub type DestKey = (ServiceKey, Ipv4Addr, u16);

/// What health did to a configured real server in the effective table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// DOWN, not inhibited: out of the effective table.
    Removed,
    /// In the effective table with this weight instead of the configured one: 0 when
    /// DOWN and inhibited, a MISC_CHECK `misc_dynamic` weight when UP.
    Weight(i32),
}

/// A configured real server the effective table does not hold as configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    /// The operator's settings (weight included): what UP gives back.
    pub config: DestConfig,
    /// What the effective table has instead.
    pub effect: Effect,
    /// True while the monitor has it DOWN (Removed or inhibited at weight 0).
    pub down: bool,
}

/// A sorry server placed in the effective table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    /// The server (address, port, method, inhibit).
    pub server: SorryServer,
    /// True while in use (weight [`crate::config::SORRY_WEIGHT`]); false: kept at weight
    /// 0 (`inhibit`).
    pub active: bool,
}

/// The difference between the effective and the configured table (see the module doc).
/// Empty when nothing is checked: the two tables are then one.
#[derive(Clone, Debug, Default)]
pub struct Overlay {
    held: HashMap<DestKey, Held>,
    sorry: HashMap<ServiceKey, Placed>,
}

impl Overlay {
    /// The configured real server `k` health holds back, if any.
    pub fn held(&self, k: &DestKey) -> Option<&Held> {
        self.held.get(k)
    }

    /// The sorry server of `service` in the effective table, if any.
    pub fn sorry(&self, service: &ServiceKey) -> Option<&Placed> {
        self.sorry.get(service)
    }

    /// True when `addr:port` of `service` is its placed sorry server.
    pub fn is_sorry(&self, service: &ServiceKey, addr: Ipv4Addr, port: u16) -> bool {
        self.sorry
            .get(service)
            .is_some_and(|p| p.server.addr == addr && p.server.port == port)
    }

    fn forget_service(&mut self, service: &ServiceKey) {
        self.held.retain(|k, _| k.0 != *service);
        self.sorry.remove(service);
    }
}

/// The settings of a dest of the effective table, as `-a`/`-e` would give them.
pub fn dest_config(d: &Dest) -> DestConfig {
    DestConfig {
        addr: d.addr,
        port: d.port,
        fwd: d.fwd,
        weight: d.weight(),
        u_threshold: d.u_threshold(),
        l_threshold: d.l_threshold(),
    }
}

/// The kernel's checks of `-a`/`-e` that the table applies (`lb::service`), for a change
/// that reaches only the configured table (a DOWN server's): a negative weight or `-y`
/// above `-x` is ERANGE.
fn check_dest(d: &DestConfig) -> Result<(), Error> {
    if d.weight < 0 || d.l_threshold > d.u_threshold {
        return Err(service::Error::OutOfRange.into());
    }
    Ok(())
}

impl Manager {
    /// The key of real server `addr:port` of `service` as the table stores it (the
    /// service port for DR/TUN on an address service), or `None` without the service.
    fn dest_key(&self, service: &ServiceKey, d: &DestConfig) -> Option<DestKey> {
        let svc = self.services().get(service)?;
        Some((*service, d.addr, svc.effective_port(d)))
    }

    /// The key `-d addr:port` names: `port` as given, else (an address service holding
    /// no such dest) the service port, as IPVS finds DR/TUN dests.
    fn del_key(&self, service: &ServiceKey, addr: Ipv4Addr, port: u16) -> DestKey {
        let k = (*service, addr, port);
        let in_table = |p: u16| {
            self.services()
                .get(service)
                .is_some_and(|s| s.dests().iter().any(|d| d.addr == addr && d.port == p))
        };
        match *service {
            ServiceKey::Addr { vport, .. }
                if !in_table(port) && !self.overlay.held.contains_key(&k) =>
            {
                (*service, addr, vport)
            }
            _ => k,
        }
    }

    /// `ipvsadm -a`: adds a real server to the configured table, and to the effective
    /// one (revived from the trash as IPVS does, see `Manager::table_add_dest`). A server
    /// the configured table has is refused ("Destination already exists") even while
    /// health keeps it out of the effective table. Its health check (the service's
    /// default) starts at the management loop's next step.
    pub fn add_dest(&mut self, key: &ServiceKey, d: &DestConfig) -> Result<(), Error> {
        if let Some(k) = self.dest_key(key, d) {
            if self.overlay.held.contains_key(&k) {
                return Err(service::Error::DestExists.into());
            }
        }
        self.table_add_dest(key, d)
    }

    /// `ipvsadm -e`: edits a configured real server. One that health holds back (DOWN,
    /// inhibited, or at a dynamic weight) gets its configured settings changed and keeps
    /// its effective weight (its thresholds and method do change in the effective table
    /// when it is there); it gets the new weight back when UP.
    pub fn edit_dest(&mut self, key: &ServiceKey, d: &DestConfig) -> Result<(), Error> {
        let Some(k) = self.dest_key(key, d) else {
            return self.table_edit_dest(key, d);
        };
        let Some(held) = self.overlay.held.get(&k).copied() else {
            return self.table_edit_dest(key, d);
        };
        check_dest(d)?;
        if let Effect::Weight(w) = held.effect {
            self.table_edit_dest(key, &DestConfig { weight: w, ..*d })?;
        }
        let config = DestConfig { port: k.2, ..*d };
        self.overlay.held.insert(k, Held { config, ..held });
        Ok(())
    }

    /// `ipvsadm -d`: deletes a real server from the configured table (its health is
    /// forgotten) and from the effective one when there. A sorry server in use can be
    /// deleted too (it is placed again at the next quorum change).
    pub fn del_dest(&mut self, key: &ServiceKey, addr: Ipv4Addr, port: u16) -> Result<(), Error> {
        let k = self.del_key(key, addr, port);
        let r = self.del_dest_at(key, k);
        if r.is_ok() {
            self.health_conf.forget_real(&k);
        }
        r
    }

    fn del_dest_at(&mut self, key: &ServiceKey, k: DestKey) -> Result<(), Error> {
        match self.overlay.held.get(&k).map(|h| h.effect) {
            Some(Effect::Removed) => {
                self.overlay.held.remove(&k);
                Ok(())
            }
            Some(Effect::Weight(_)) => {
                self.table_del_dest(key, k.1, k.2)?;
                self.overlay.held.remove(&k);
                Ok(())
            }
            None => {
                self.table_del_dest(key, k.1, k.2)?;
                if self.overlay.is_sorry(key, k.1, k.2) {
                    self.overlay.sorry.remove(key);
                }
                Ok(())
            }
        }
    }

    /// `ipvsadm -D`: deletes a service, its real servers (configured and effective) and
    /// its run-time check changes.
    pub fn del_service(&mut self, key: &ServiceKey) -> Result<(), Error> {
        self.table_del_service(key)?;
        self.overlay.forget_service(key);
        self.health_conf.forget_service(key);
        Ok(())
    }

    /// `ipvsadm -C`: deletes every service (see [`Manager::del_service`]).
    pub fn clear(&mut self) -> Result<(), Error> {
        self.table_clear()?;
        self.overlay = Overlay::default();
        self.health_conf.forget_all();
        Ok(())
    }

    /// The configured real servers of `key` in the effective table's list order, then
    /// those health took out of it: the operator's settings (configured weights), sorry
    /// servers left out. Empty for an unknown service.
    pub fn configured_dests(&self, key: &ServiceKey) -> Vec<DestConfig> {
        let Some(svc) = self.services().get(key) else {
            return Vec::new();
        };
        let mut out: Vec<DestConfig> = svc
            .dests()
            .iter()
            .filter(|d| !self.overlay.is_sorry(key, d.addr, d.port))
            .map(|d| match self.overlay.held.get(&(*key, d.addr, d.port)) {
                Some(h) => h.config,
                None => dest_config(d),
            })
            .collect();
        let mut removed: Vec<DestConfig> = self
            .overlay
            .held
            .iter()
            .filter(|(k, h)| k.0 == *key && h.effect == Effect::Removed)
            .map(|(_, h)| h.config)
            .collect();
        removed.sort_by_key(|d| (d.addr, d.port));
        out.extend(removed);
        out
    }

    /// The configured settings of real server `addr:port` (effective port) of `key`.
    pub fn configured_dest(
        &self,
        key: &ServiceKey,
        addr: Ipv4Addr,
        port: u16,
    ) -> Option<DestConfig> {
        self.configured_dests(key)
            .into_iter()
            .find(|d| d.addr == addr && d.port == port)
    }

    /// Applies one health [`Action`] to the effective table (as keepalived drives IPVS:
    /// ipwrapper.c). An action about a real server the configured table no longer has
    /// (deleted since the check started) is ignored; a table change that fails (e.g. a
    /// full connection-table registry) is logged and the configured table is unchanged.
    pub fn apply_health(&mut self, action: &Action) {
        let r = match action {
            Action::Down {
                service,
                addr,
                port,
                inhibit,
                ..
            } => {
                let effect = if *inhibit {
                    Effect::Weight(0)
                } else {
                    Effect::Removed
                };
                self.set_effect(&(*service, *addr, *port), Some(effect), true)
            }
            Action::Up {
                service,
                addr,
                port,
                weight,
                ..
            } => self.set_weight(&(*service, *addr, *port), *weight, false),
            Action::Weight {
                service,
                addr,
                port,
                weight,
            } => self.set_weight(&(*service, *addr, *port), *weight, true),
            Action::SorryOn { service, server } => self.sorry_on(service, server),
            Action::SorryOff { service, server } => self.sorry_off(service, server),
        };
        if let Err(e) = r {
            log::error!("health: could not apply {action:?}: {e}");
        }
    }

    /// UP (or a dynamic weight while UP: `only_if_in`) with effective weight `weight`.
    fn set_weight(&mut self, k: &DestKey, weight: u32, only_if_in: bool) -> Result<(), Error> {
        let w = i32::try_from(weight).unwrap_or(i32::MAX);
        let Some(config) = self.configured_dest(&k.0, k.1, k.2) else {
            return Ok(());
        };
        if only_if_in && self.overlay.held.get(k).is_some_and(|h| h.down) {
            return Ok(()); // a dynamic weight of a DOWN server waits for its UP
        }
        let effect = (w != config.weight).then_some(Effect::Weight(w));
        self.set_effect(k, effect, false)
    }

    /// Makes the effective table hold configured real server `k` as `effect` says
    /// (`None`: as configured), recording it in the overlay.
    fn set_effect(&mut self, k: &DestKey, effect: Option<Effect>, down: bool) -> Result<(), Error> {
        let Some(config) = self.configured_dest(&k.0, k.1, k.2) else {
            return Ok(());
        };
        let was_in = self.overlay.held.get(k).map(|h| h.effect) != Some(Effect::Removed);
        let want = match effect {
            None => Some(config),
            Some(Effect::Removed) => None,
            Some(Effect::Weight(w)) => Some(DestConfig {
                weight: w,
                ..config
            }),
        };
        match (was_in, want) {
            (true, None) => self.table_del_dest(&k.0, k.1, k.2)?,
            (true, Some(d)) => {
                let live = self.services().get(&k.0).and_then(|s| {
                    s.dests()
                        .iter()
                        .find(|x| x.addr == k.1 && x.port == k.2)
                        .map(|x| dest_config(x))
                });
                if live != Some(d) {
                    self.table_edit_dest(&k.0, &d)?;
                }
            }
            (false, Some(d)) => self.table_add_dest(&k.0, &d)?,
            (false, None) => {}
        }
        match effect {
            None => {
                self.overlay.held.remove(k);
            }
            Some(effect) => {
                self.overlay.held.insert(
                    *k,
                    Held {
                        config,
                        effect,
                        down,
                    },
                );
            }
        }
        Ok(())
    }

    fn sorry_dest(server: &SorryServer, weight: i32) -> DestConfig {
        DestConfig {
            weight,
            fwd: server.method,
            ..DestConfig::new(server.addr, server.port)
        }
    }

    /// Puts the sorry server of `service` in use (keepalived: quorum lost).
    fn sorry_on(&mut self, service: &ServiceKey, server: &SorryServer) -> Result<(), Error> {
        let weight = i32::try_from(crate::config::SORRY_WEIGHT).unwrap_or(1);
        self.place_sorry(service, server, weight, true)
    }

    /// Takes the sorry server of `service` out of use (keepalived: quorum regained):
    /// out of the table, or weight 0 with `inhibit`.
    fn sorry_off(&mut self, service: &ServiceKey, server: &SorryServer) -> Result<(), Error> {
        if server.inhibit {
            return self.place_sorry(service, server, 0, false);
        }
        if let Some(p) = self.overlay.sorry.remove(service) {
            self.table_del_dest(service, p.server.addr, p.server.port)?;
        }
        Ok(())
    }

    fn place_sorry(
        &mut self,
        service: &ServiceKey,
        server: &SorryServer,
        weight: i32,
        active: bool,
    ) -> Result<(), Error> {
        let d = Self::sorry_dest(server, weight);
        match self.overlay.sorry.get(service) {
            Some(p) if p.server.addr == server.addr && p.server.port == server.port => {
                self.table_edit_dest(service, &d)?
            }
            _ => {
                if let Some(old) = self.overlay.sorry.remove(service) {
                    self.table_del_dest(service, old.server.addr, old.server.port)?;
                }
                if self
                    .configured_dest(service, server.addr, server.port)
                    .is_some()
                {
                    // The operator made it a real server: it is not ours to move.
                    log::warn!(
                        "health: sorry server {}:{} of {} is also a real server: not placed",
                        server.addr,
                        server.port,
                        crate::mgmt::reload::key_text(service)
                    );
                    return Ok(());
                }
                self.table_add_dest(service, &d)?
            }
        }
        self.overlay.sorry.insert(
            *service,
            Placed {
                server: *server,
                active,
            },
        );
        Ok(())
    }
}

#[cfg(test)]
#[path = "health_table_tests.rs"]
mod tests;
