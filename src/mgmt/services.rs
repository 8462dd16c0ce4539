//! Builds the load balancer's service and mark tables from the configuration, adding
//! services and real servers one at a time in file order, exactly as `ipvsadm -R` would
//! replay them (wrr's state and the dest list order depend on that order, as in IPVS).

use crate::config::{self, Config};
use crate::lb::conn::{ConnError, ConnTable, Settings, TimeoutTriple};
use crate::lb::mark::{MarkRule, MarkTable};
use crate::lb::sched::SchedFlags;
use crate::lb::service::{self, DestConfig, Persistence, ServiceConfig, ServiceKey, ServiceTable};
use crate::mgmt::Manager;

/// Why the tables could not be built (the config was validated, so this means a rule the
/// load balancer enforces that the file checks did not).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A service or real server was refused, with ipvsadm's text.
    #[error("service {service}: {source}")]
    Service {
        /// The service as ipvsadm prints it.
        service: String,
        /// Why.
        source: service::Error,
    },
    /// The connection table could not be built or a dest registered.
    #[error("connection table: {0}")]
    Table(String),
    /// A mark rule was refused.
    #[error("mark {mark}: {reason}")]
    Mark {
        /// The mark.
        mark: u32,
        /// Why.
        reason: String,
    },
}

/// Builds the [`Manager`] from the config: the connection table (sized by `[tables]
/// max_conns`, with `[timeouts]` and `[settings]`), the services with every dest
/// registered in that table, the mark rules and the VIP/route tables.
pub fn manager(cfg: &Config) -> Result<Manager, Error> {
    let workers = cfg.cores.workers.len().max(1);
    let (table, marks) = build(cfg, workers)?;
    let settings = conn_settings(cfg);
    let max_conns = cfg.tables.max_conns;
    let conns = ConnTable::with_settings(max_conns, settings).map_err(|e| match e {
        // One clear line instead of the allocator's abort (≈ 74 B per connection,
        // lb/conn/mod.rs).
        ConnError::OutOfMemory { .. } => Error::Table(format!(
            "max_conns {max_conns} needs ~{:.1} GiB: cannot allocate",
            f64::from(max_conns) * 74.0 / f64::from(1u32 << 30)
        )),
        e => Error::Table(e.to_string()),
    })?;
    conns.timeouts().set(timeouts(cfg));
    let mut mgr = Manager::new(conns, table, marks, crate::mgmt::plan::net_tables(cfg))
        .map_err(|e| Error::Table(e.to_string()))?;
    mgr.set_config(cfg.clone());
    Ok(mgr)
}

/// The connection table's run-time switches from `[settings]`.
pub fn conn_settings(cfg: &Config) -> Settings {
    Settings {
        expire_nodest_conn: cfg.settings.expire_nodest_conn,
        expire_quiescent_template: cfg.settings.expire_quiescent_template,
        conn_reuse_mode: cfg.settings.conn_reuse_mode,
        sloppy_tcp: cfg.settings.sloppy_tcp,
    }
}

/// The connection timeouts from `[timeouts]`, seconds.
pub fn timeouts(cfg: &Config) -> TimeoutTriple {
    TimeoutTriple {
        tcp_secs: cfg.timeouts.tcp_secs,
        tcpfin_secs: cfg.timeouts.tcpfin_secs,
        udp_secs: cfg.timeouts.udp_secs,
    }
}

/// The load balancer's `-A` definition of a `[[service]]` (its real servers apart).
pub fn service_config(s: &config::Service) -> ServiceConfig {
    let mut flags = 0;
    for (on, bit) in [
        (s.sched_flags.flag_1, SchedFlags::FLAG1),
        (s.sched_flags.flag_2, SchedFlags::FLAG2),
        (s.sched_flags.flag_3, SchedFlags::FLAG3),
    ] {
        if on {
            flags |= bit;
        }
    }
    let mut sc = ServiceConfig::new(service_key(&s.key));
    sc.sched = s.scheduler.clone();
    sc.flags = SchedFlags(flags);
    sc.persistence = s.persistent_secs.map(|t| Persistence {
        timeout_secs: t,
        netmask: s.netmask,
    });
    sc.ops = s.ops;
    sc.mh_table_size = s.mh_table_size;
    sc
}

/// The load balancer's `-a` definition of a `[[service.real]]`.
pub fn dest_config(r: &config::Real) -> DestConfig {
    let mut d = DestConfig::new(r.addr, r.port);
    d.fwd = r.method;
    // The loader bounds weights to 0..=i32::MAX, so the conversion never saturates.
    d.weight = i32::try_from(r.weight).unwrap_or(i32::MAX);
    d.u_threshold = r.u_threshold;
    d.l_threshold = r.l_threshold;
    d
}

/// Logs every service's and real server's counters (`ipvsadm -L --stats` columns), as
/// rvsd does at shutdown until the control socket can show them.
pub fn log_stats(table: &ServiceTable, rates: &crate::mgmt::rates::RateTracker) {
    for svc in table.services() {
        let s = svc.stats().sum();
        let r = rates.rates(svc.config().key, None);
        log::info!(
            "service {:?} {}: conns {} inpkts {} outpkts {} inbytes {} outbytes {}; cps {} inpps {} outpps {} inbps {} outbps {}",
            svc.config().key,
            svc.sched_name(),
            s.conns,
            s.in_pkts,
            s.out_pkts,
            s.in_bytes,
            s.out_bytes,
            r.cps,
            r.in_pps,
            r.out_pps,
            r.in_bps,
            r.out_bps
        );
        for (d, ds) in svc.dests().iter().zip(svc.dest_stats()) {
            let s = ds.sum();
            log::info!(
                "  -> {}:{} {:?} weight {} active {} inactive {}: conns {} inpkts {} outpkts {} inbytes {} outbytes {}; passive failures {}",
                d.addr,
                d.port,
                d.fwd,
                d.weight(),
                d.active_conns(),
                d.inactive_conns(),
                s.conns,
                s.in_pkts,
                s.out_pkts,
                s.in_bytes,
                s.out_bytes,
                ds.failed_openings()
            );
        }
    }
}

/// The load balancer's view of a config service key.
pub fn service_key(k: &config::ServiceKey) -> ServiceKey {
    match *k {
        config::ServiceKey::Addr { proto, vip, port } => ServiceKey::Addr {
            proto: proto.number(),
            vip,
            vport: port,
        },
        config::ServiceKey::Mark(m) => ServiceKey::Mark(m),
    }
}

/// Builds the service table (for `workers` worker threads) and the mark table.
pub fn build(cfg: &Config, workers: usize) -> Result<(ServiceTable, MarkTable), Error> {
    let mut marks = MarkTable::new();
    for m in &cfg.marks {
        for r in &m.rules {
            let (dport_min, dport_max) = r.ports.map_or((0, u16::MAX), |p| (p.first, p.last));
            marks
                .add(MarkRule {
                    mark: m.mark,
                    proto: r.proto.map(|p| p.number()),
                    daddr: r.vip.addr,
                    prefix_len: r.vip.len,
                    dport_min,
                    dport_max,
                })
                .map_err(|e| Error::Mark {
                    mark: m.mark,
                    reason: e.to_string(),
                })?;
        }
    }
    let mut table = ServiceTable::new(workers);
    for s in &cfg.services {
        let sc = service_config(s);
        let key = sc.key;
        let err = |source| Error::Service {
            service: s.key.to_string(),
            source,
        };
        table.add_service(sc).map_err(err)?;
        for r in &s.reals {
            table.add_dest(&key, &dest_config(r)).map_err(err)?;
        }
    }
    Ok((table, marks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::flow::proto;
    use std::net::Ipv4Addr;

    #[test]
    fn every_example_config_builds_its_tables() {
        for entry in std::fs::read_dir("configs").unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let cfg = Config::load(&path).unwrap();
                let (table, _marks) = build(&cfg, cfg.cores.workers.len()).unwrap();
                assert_eq!(
                    table.services().len(),
                    cfg.services.len(),
                    "{}",
                    path.display()
                );
            }
        }
    }

    /// `[settings]` reach the connection table: IPVS's `conn_reuse_mode` 3 for DR/TUN
    /// clients that reuse source ports, and `sloppy_tcp`.
    #[test]
    fn settings_reach_the_connection_table() {
        let text = std::fs::read_to_string("configs/lab-nat.toml")
            .unwrap()
            .replacen(
                "[settings]",
                "[settings]\nconn_reuse_mode = 3\nsloppy_tcp = true",
                1,
            );
        let cfg = Config::from_str_named(&text, "lab-nat.toml").unwrap();
        let s = manager(&cfg).unwrap().conns().settings();
        assert_eq!((s.conn_reuse_mode, s.sloppy_tcp), (3, true));
        let cfg = Config::load("configs/lab-nat.toml").unwrap();
        assert_eq!(
            manager(&cfg).unwrap().conns().settings(),
            Settings::default()
        );
    }

    #[test]
    fn nat_example_has_its_vip_and_real_servers_in_ipvs_order() {
        let cfg = Config::load("configs/lab-nat.toml").unwrap();
        let (table, _) = build(&cfg, 1).unwrap();
        let svc = table
            .lookup(proto::TCP, Ipv4Addr::new(203, 0, 113, 10), 80)
            .expect("TCP VIP:80");
        let addrs: Vec<Ipv4Addr> = svc.dests().iter().map(|d| d.addr).collect();
        let mut file_order: Vec<Ipv4Addr> = cfg.services[0].reals.iter().map(|r| r.addr).collect();
        // IPVS puts each new dest at the head of the list.
        file_order.reverse();
        assert_eq!(addrs, file_order);
    }
}
