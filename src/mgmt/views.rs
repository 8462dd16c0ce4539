//! Builds the control protocol's listing views ([`crate::ctl::views`]) from the
//! Manager's live tables and the running data plane: `-L` services with their counters
//! and rates, `-Lc` connections, VIPs, mark rules and `rvsadm status`. Management
//! thread only; reads, never changes anything.

use crate::ctl::views::{
    ConnView, DestView, MarkRuleView, MethodView, PortView, RatesView, ServiceKeyView, ServiceSpec,
    ServiceView, StatsView, StatusView, VipView, WorkerView,
};
use crate::dataplane::{Counter, Runtime};
use crate::lb::dest::{Dest, Fwd};
use crate::lb::estimator::Rates;
use crate::lb::flow::proto;
use crate::lb::mark::MarkRule;
use crate::lb::service::{Service, ServiceKey};
use crate::lb::stats::{Stats, StatsSnapshot};
use crate::mgmt::Manager;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Instant;

/// The view of a service key (`-t`, `-u`, `-f`); `None` for a protocol the protocol
/// cannot name (never built by rvs: the service table accepts TCP and UDP only).
pub fn key_view(k: ServiceKey) -> Option<ServiceKeyView> {
    match k {
        ServiceKey::Addr { proto, vip, vport } => match proto {
            proto::TCP => Some(ServiceKeyView::Tcp { vip, port: vport }),
            proto::UDP => Some(ServiceKeyView::Udp { vip, port: vport }),
            _ => None,
        },
        ServiceKey::Mark(mark) => Some(ServiceKeyView::Fwmark { mark }),
    }
}

/// The service key of a view.
pub fn service_key(k: ServiceKeyView) -> ServiceKey {
    match k {
        ServiceKeyView::Tcp { vip, port } => ServiceKey::Addr {
            proto: proto::TCP,
            vip,
            vport: port,
        },
        ServiceKeyView::Udp { vip, port } => ServiceKey::Addr {
            proto: proto::UDP,
            vip,
            vport: port,
        },
        ServiceKeyView::Fwmark { mark } => ServiceKey::Mark(mark),
    }
}

/// The view of a forwarding method.
pub fn method_view(f: Fwd) -> MethodView {
    match f {
        Fwd::Dr => MethodView::Dr,
        Fwd::Tun => MethodView::Tun,
        Fwd::Nat => MethodView::Nat,
    }
}

/// The forwarding method of a view.
pub fn fwd(m: MethodView) -> Fwd {
    match m {
        MethodView::Dr => Fwd::Dr,
        MethodView::Tun => Fwd::Tun,
        MethodView::Nat => Fwd::Nat,
    }
}

fn stats_view(s: StatsSnapshot) -> StatsView {
    StatsView {
        conns: s.conns,
        inpkts: s.in_pkts,
        outpkts: s.out_pkts,
        inbytes: s.in_bytes,
        outbytes: s.out_bytes,
    }
}

fn rates_view(r: Rates) -> RatesView {
    RatesView {
        cps: r.cps,
        inpps: r.in_pps,
        outpps: r.out_pps,
        inbps: r.in_bps,
        outbps: r.out_bps,
    }
}

/// What `-A`/`-E` set on `svc`, as a spec (`-M` is 255.255.255.255 when not persistent).
pub fn spec_of(svc: &Service) -> Option<ServiceSpec> {
    let c = svc.config();
    Some(ServiceSpec {
        key: key_view(c.key)?,
        scheduler: c.sched.clone(),
        flags: c
            .flags
            .names(&c.sched)
            .into_iter()
            .map(String::from)
            .collect(),
        persistent: c.persistence.map(|p| p.timeout_secs),
        netmask: c.persistence.map_or(Ipv4Addr::BROADCAST, |p| p.netmask),
        ops: c.ops,
    })
}

fn dest_view(mgr: &Manager, key: ServiceKey, d: &Dest, s: &Stats) -> DestView {
    DestView {
        addr: d.addr,
        port: d.port,
        method: method_view(d.fwd),
        weight: d.weight(),
        u_threshold: d.u_threshold(),
        l_threshold: d.l_threshold(),
        active_conns: d.active_conns(),
        inactive_conns: d.inactive_conns(),
        persistent_conns: d.persistent_conns(),
        stats: stats_view(s.sum()),
        rates: rates_view(mgr.rates().rates(key, Some((d.addr, d.port)))),
        passive_failures: s.failed_openings(),
        health: None,
    }
}

/// One service as `-L` lists it: its settings, counters summed over workers, rates,
/// and its dests in IPVS list order (newest first): the EFFECTIVE table; with health
/// checks, each dest's health and the DOWN ones (`mgmt::health_views`).
pub fn service_view(mgr: &Manager, svc: &Service) -> Option<ServiceView> {
    let key = svc.config().key;
    let dests = svc
        .dests()
        .iter()
        .zip(svc.dest_stats())
        .map(|(d, s)| dest_view(mgr, key, d, s))
        .collect();
    let mut view = ServiceView {
        spec: spec_of(svc)?,
        stats: stats_view(svc.stats().sum()),
        rates: rates_view(mgr.rates().rates(key, None)),
        dests,
        removed_dests: Vec::new(),
        sorry_active: None,
    };
    crate::mgmt::health_views::decorate(mgr, key, &mut view);
    Some(view)
}

/// Every service in the order they were added (rvsadm sorts as ipvsadm does).
pub fn services(mgr: &Manager) -> Vec<ServiceView> {
    mgr.services()
        .in_insertion_order()
        .filter_map(|s| service_view(mgr, s))
        .collect()
}

/// Every live connection-table entry and template at `now` (the connection table's
/// clock, seconds), as `ipvsadm -Lnc` lists them: state name, seconds to expiry;
/// templates with client port 0 and state `NONE`/`ASSURED`, mark templates as `IP`
/// with the mark as virtual address.
pub fn conns(mgr: &Manager, now: u32) -> Vec<ConnView> {
    mgr.conns()
        .snapshot(now)
        .into_iter()
        .map(|e| ConnView {
            protocol: e.proto_name(),
            client_addr: e.caddr,
            client_port: e.cport,
            vaddr: e.vaddr,
            vport: e.vport,
            daddr: e.raddr,
            dport: e.rport,
            state: e.state.name().to_string(),
            expires_secs: e.expire_secs,
            template: e.fwd.is_none(),
        })
        .collect()
}

/// Every VIP of every port, in port order then the order they were added.
pub fn vips(mgr: &Manager) -> Vec<VipView> {
    let net = mgr.net();
    (0..net.ports())
        .flat_map(|i| {
            let port = mgr.port_name(i as u8);
            net.vips(i as u8).iter().map(move |v| VipView {
                addr: v.addr,
                port: port.clone(),
            })
        })
        .collect()
}

/// The view of one mark rule: `vip` as `addr/len`, `ports` `None` for every port.
pub fn mark_rule_view(r: &MarkRule) -> MarkRuleView {
    let ports = match (r.dport_min, r.dport_max) {
        (0, u16::MAX) => None,
        (a, b) if a == b => Some(a.to_string()),
        (a, b) => Some(format!("{a}-{b}")),
    };
    MarkRuleView {
        mark: r.mark,
        protocol: r.proto.map(|p| match p {
            proto::TCP => "tcp".to_string(),
            proto::UDP => "udp".to_string(),
            n => n.to_string(),
        }),
        vip: format!("{}/{}", r.daddr, r.prefix_len),
        ports,
    }
}

/// Every mark rule in match order.
pub fn mark_rules(mgr: &Manager) -> Vec<MarkRuleView> {
    mgr.marks().rules().map(mark_rule_view).collect()
}

fn port_views(rt: &Runtime) -> Vec<PortView> {
    rt.port_info()
        .into_iter()
        .map(|p| PortView {
            name: p.name,
            device: p.device,
            mac: crate::dataplane::runtime::fmt_mac(&p.mac),
            link_up: p.link.up,
            speed_mbps: p.link.speed_mbps,
            ipackets: p.stats.ipackets,
            opackets: p.stats.opackets,
            imissed: p.stats.imissed,
            rx_nombuf: p.stats.rx_nombuf,
            oerrors: p.stats.oerrors,
        })
        .collect()
}

fn worker_views(rt: &Runtime) -> Vec<WorkerView> {
    let per: Vec<(Counter, Vec<u64>)> = Counter::ALL
        .iter()
        .map(|&c| (c, rt.counter_per_worker(c)))
        .collect();
    rt.worker_cores()
        .iter()
        .enumerate()
        .map(|(id, &core)| WorkerView {
            id,
            core,
            counters: per
                .iter()
                .filter_map(|(c, v)| {
                    let n = v.get(id).copied().unwrap_or(0);
                    (n != 0).then(|| (c.name().to_string(), n))
                })
                .collect(),
        })
        .collect()
}

/// Every non-zero `drop_*` counter summed over workers.
fn drops(rt: &Runtime) -> BTreeMap<String, u64> {
    Counter::ALL
        .iter()
        .filter(|c| c.name().starts_with("drop_"))
        .map(|&c| (c.name().to_string(), rt.counter(c)))
        .filter(|(_, n)| *n != 0)
        .collect()
}

/// `rvsadm status`: version, uptime since `started`, ports, workers and drops from
/// `rt` (empty without a data plane), connection-table fill, services, config file.
pub fn status(
    mgr: &Manager,
    rt: Option<&Runtime>,
    started: Instant,
    config: Option<&std::path::Path>,
) -> StatusView {
    StatusView {
        version: crate::version::VERSION.to_string(),
        uptime_secs: started.elapsed().as_secs(),
        ports: rt.map(port_views).unwrap_or_default(),
        workers: rt.map(worker_views).unwrap_or_default(),
        drops: rt.map(drops).unwrap_or_default(),
        conns: mgr.conns().count() as u64,
        max_conns: u64::from(mgr.conns().max_conns()),
        services: mgr.services().services().len(),
        config_file: config.map(|p| p.display().to_string()).unwrap_or_default(),
        health: crate::mgmt::health_views::status_list(mgr),
    }
}
