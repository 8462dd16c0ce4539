//! The Prometheus endpoint (`[metrics] listen`): `GET /metrics` answers the text
//! exposition format 0.0.4 (<https://prometheus.io/docs/instrumenting/exposition_formats/>)
//! rendered from the same `List` and `Status` views rvsadm gets, so the HTTP thread never
//! touches the [`crate::mgmt::Manager`]: it asks the management loop for them through a
//! caller-given function (rvsd's command channel) on every scrape. Every family has its
//! HELP and TYPE lines; label values are escaped as the format requires (`\\`, `\"`, `\n`).
//!
//! Families (labels): per service (`service="tcp/203.0.113.10:80"` or `"fwmark/1"`) and
//! per real server (`service`, `real="192.0.2.11:8080"`): `connections_total`,
//! `packets_total` and `bytes_total` (`direction="in"|"out"`, counters since creation or
//! `-Z`), the 2-second rates (gauges), and for real servers their weight and
//! active/inactive/persistent connections (gauges). Per worker: `rvs_drops_total{worker,
//! reason}` (each `drop_*` counter of docs/DROPS.md without its prefix), rx/tx packets and
//! bytes, and every other worker counter as `rvs_worker_events_total{worker,event}`. Per
//! port: packets, `imissed`, `rx_nombuf`, `oerrors`, link state. Then the connection
//! table's fill and capacity, uptime and build info.

use crate::ctl::views::{ServiceKeyView, ServiceView, StatusView};
use std::fmt::Write as _;
use std::net::SocketAddr;

/// The `Content-Type` of the text format this module renders.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Escapes a label value as the text format requires: backslash, double quote and
/// newline.
pub fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// A service's label value: `tcp/VIP:port`, `udp/VIP:port` or `fwmark/MARK`.
pub fn service_label(k: &ServiceKeyView) -> String {
    match k {
        ServiceKeyView::Tcp { vip, port } => format!("tcp/{vip}:{port}"),
        ServiceKeyView::Udp { vip, port } => format!("udp/{vip}:{port}"),
        ServiceKeyView::Fwmark { mark } => format!("fwmark/{mark}"),
    }
}

/// Text being built: one family at a time, HELP and TYPE first.
struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

/// Worker counters with a family of their own (name in the view, metric, help).
const WORKER_FAMILIES: [(&str, &str, &str); 3] = [
    (
        "rx_pkts",
        "rvs_worker_rx_packets_total",
        "Packets received by the worker.",
    ),
    (
        "rx_bytes",
        "rvs_worker_rx_bytes_total",
        "Bytes received by the worker.",
    ),
    (
        "tx_pkts",
        "rvs_worker_tx_packets_total",
        "Packets sent by the worker.",
    ),
];

/// Renders one scrape from the `List` (every service) and `Status` views.
pub fn render(services: &[ServiceView], status: &StatusView) -> String {
    let mut o = Out(String::new());
    o.family(
        "rvs_build_info",
        "gauge",
        "rvsd's version (with its git commit), always 1.",
    );
    o.sample("rvs_build_info", &[("version", &status.version)], 1);
    o.family("rvs_uptime_seconds", "gauge", "Seconds since rvsd started.");
    o.sample("rvs_uptime_seconds", &[], status.uptime_secs);
    o.family(
        "rvs_conn_table_entries",
        "gauge",
        "Live connection-table entries, persistence templates included.",
    );
    o.sample("rvs_conn_table_entries", &[], status.conns);
    o.family(
        "rvs_conn_table_capacity",
        "gauge",
        "Connection-table capacity ([tables] max_conns).",
    );
    o.sample("rvs_conn_table_capacity", &[], status.max_conns);
    o.family("rvs_services", "gauge", "Virtual services configured.");
    o.sample("rvs_services", &[], status.services);
    services_and_dests(&mut o, services);
    workers(&mut o, status);
    ports(&mut o, status);
    o.0
}

fn services_and_dests(o: &mut Out, services: &[ServiceView]) {
    let svc: Vec<String> = services
        .iter()
        .map(|s| service_label(&s.spec.key))
        .collect();
    type Rows<'a> = Vec<(Vec<(&'static str, String)>, &'a ServiceView, usize)>;
    // (labels, service, dest index or usize::MAX for the service itself)
    let mut rows: Rows = Vec::new();
    for (s, label) in services.iter().zip(&svc) {
        rows.push((vec![("service", label.clone())], s, usize::MAX));
    }
    let mut drows: Rows = Vec::new();
    for (s, label) in services.iter().zip(&svc) {
        for (i, d) in s.dests.iter().enumerate() {
            drows.push((
                vec![
                    ("service", label.clone()),
                    ("real", format!("{}:{}", d.addr, d.port)),
                ],
                s,
                i,
            ));
        }
    }
    for (prefix, what, rows) in [
        ("rvs_service", "virtual service", &rows),
        ("rvs_real_server", "real server", &drows),
    ] {
        let stats = |s: &ServiceView, i: usize| {
            if i == usize::MAX {
                (s.stats, s.rates)
            } else {
                (s.dests[i].stats, s.dests[i].rates)
            }
        };
        let name = format!("{prefix}_connections_total");
        o.family(
            &name,
            "counter",
            &format!("Connections scheduled to the {what} since it was created or zeroed."),
        );
        for (l, s, i) in rows.iter() {
            let l: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, v.as_str())).collect();
            o.sample(&name, &l, stats(s, *i).0.conns);
        }
        for (unit, help_unit) in [("packets", "Packets"), ("bytes", "Bytes")] {
            let name = format!("{prefix}_{unit}_total");
            o.family(
                &name,
                "counter",
                &format!(
                    "{help_unit} of the {what} by direction (in: client to real server; \
                     out: real server to client, NAT only)."
                ),
            );
            for (l, s, i) in rows.iter() {
                let st = stats(s, *i).0;
                let (vin, vout) = if unit == "packets" {
                    (st.inpkts, st.outpkts)
                } else {
                    (st.inbytes, st.outbytes)
                };
                for (dir, v) in [("in", vin), ("out", vout)] {
                    let mut l: Vec<(&str, &str)> =
                        l.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    l.push(("direction", dir));
                    o.sample(&name, &l, v);
                }
            }
        }
        let name = format!("{prefix}_connection_rate");
        o.family(
            &name,
            "gauge",
            &format!("Connections per second to the {what} (2 s estimator, as ipvsadm --rate)."),
        );
        for (l, s, i) in rows.iter() {
            let l: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, v.as_str())).collect();
            o.sample(&name, &l, stats(s, *i).1.cps);
        }
        for (unit, help_unit) in [("packet", "Packets"), ("byte", "Bytes")] {
            let name = format!("{prefix}_{unit}_rate");
            o.family(
                &name,
                "gauge",
                &format!("{help_unit} per second of the {what} by direction (2 s estimator)."),
            );
            for (l, s, i) in rows.iter() {
                let r = stats(s, *i).1;
                let (vin, vout) = if unit == "packet" {
                    (r.inpps, r.outpps)
                } else {
                    (r.inbps, r.outbps)
                };
                for (dir, v) in [("in", vin), ("out", vout)] {
                    let mut l: Vec<(&str, &str)> =
                        l.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    l.push(("direction", dir));
                    o.sample(&name, &l, v);
                }
            }
        }
    }
    type Get = fn(&crate::ctl::views::DestView) -> i64;
    let gauges: [(&str, &str, Get); 4] = [
        (
            "rvs_real_server_weight",
            "The real server's weight (0: quiescent).",
            |d| i64::from(d.weight),
        ),
        (
            "rvs_real_server_active_connections",
            "The real server's active connections (ipvsadm ActiveConn).",
            |d| i64::from(d.active_conns),
        ),
        (
            "rvs_real_server_inactive_connections",
            "The real server's inactive connections (ipvsadm InActConn).",
            |d| i64::from(d.inactive_conns),
        ),
        (
            "rvs_real_server_persistent_connections",
            "Persistence templates pointing at the real server (ipvsadm PersistConn).",
            |d| i64::from(d.persistent_conns),
        ),
    ];
    for (name, help, get) in gauges {
        o.family(name, "gauge", help);
        for (l, s, i) in drows.iter() {
            let l: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, v.as_str())).collect();
            o.sample(name, &l, get(&s.dests[*i]));
        }
    }
}

fn workers(o: &mut Out, status: &StatusView) {
    o.family(
        "rvs_drops_total",
        "counter",
        "Packets dropped by the worker, by reason (docs/DROPS.md, without the drop_ prefix).",
    );
    for w in &status.workers {
        let id = w.id.to_string();
        for (name, v) in &w.counters {
            if let Some(reason) = name.strip_prefix("drop_") {
                o.sample("rvs_drops_total", &[("worker", &id), ("reason", reason)], v);
            }
        }
    }
    for (counter, name, help) in WORKER_FAMILIES {
        o.family(name, "counter", help);
        for w in &status.workers {
            let v = w.counters.get(counter).copied().unwrap_or(0);
            o.sample(name, &[("worker", &w.id.to_string())], v);
        }
    }
    o.family(
        "rvs_worker_events_total",
        "counter",
        "The worker's other counters by name (docs/DROPS.md, docs/ARCHITECTURE.md).",
    );
    for w in &status.workers {
        let id = w.id.to_string();
        for (name, v) in &w.counters {
            if !name.starts_with("drop_") && !WORKER_FAMILIES.iter().any(|f| f.0 == name) {
                o.sample(
                    "rvs_worker_events_total",
                    &[("worker", &id), ("event", name)],
                    v,
                );
            }
        }
    }
}

fn ports(o: &mut Out, status: &StatusView) {
    type Get = fn(&crate::ctl::views::PortView) -> u64;
    let counters: [(&str, &str, Get); 5] = [
        (
            "rvs_port_rx_packets_total",
            "Packets the port received (DPDK ipackets).",
            |p| p.ipackets,
        ),
        (
            "rvs_port_tx_packets_total",
            "Packets the port sent (DPDK opackets).",
            |p| p.opackets,
        ),
        (
            "rvs_port_rx_missed_total",
            "Packets the NIC dropped for want of RX descriptors (DPDK imissed).",
            |p| p.imissed,
        ),
        (
            "rvs_port_rx_nombuf_total",
            "RX mbuf allocation failures (DPDK rx_nombuf).",
            |p| p.rx_nombuf,
        ),
        (
            "rvs_port_tx_errors_total",
            "Packets the port failed to send (DPDK oerrors).",
            |p| p.oerrors,
        ),
    ];
    for (name, help, get) in counters {
        o.family(name, "counter", help);
        for p in &status.ports {
            o.sample(name, &[("port", &p.name)], get(p));
        }
    }
    o.family("rvs_port_link_up", "gauge", "1 when the port's link is up.");
    for p in &status.ports {
        o.sample(
            "rvs_port_link_up",
            &[("port", &p.name)],
            u8::from(p.link_up),
        );
    }
}

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error("metrics endpoint {addr}: {reason}")]
pub struct Error {
    /// `[metrics] listen`.
    pub addr: SocketAddr,
    /// The bind error.
    pub reason: String,
}

/// A running endpoint; dropping it stops the thread (after the request in hand).
pub struct Server {
    http: std::sync::Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
    addr: SocketAddr,
}

impl Server {
    /// The address it listens on (with the port the kernel chose for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.http.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Listens on `addr` and serves `GET /metrics` on a thread of its own, each scrape
/// rendered from what `fetch` returns (`None`: the management loop did not answer, 503).
/// Other paths are 404, other methods 405.
pub fn serve<F>(addr: SocketAddr, fetch: F) -> Result<Server, Error>
where
    F: Fn() -> Option<(Vec<ServiceView>, StatusView)> + Send + 'static,
{
    let http = tiny_http::Server::http(addr).map_err(|e| Error {
        addr,
        reason: e.to_string(),
    })?;
    let bound = http.server_addr().to_ip().ok_or_else(|| Error {
        addr,
        reason: "not an IP listener".into(),
    })?;
    let http = std::sync::Arc::new(http);
    let h = http.clone();
    let thread = std::thread::Builder::new()
        .name("rvs-metrics".into())
        .spawn(move || {
            for req in h.incoming_requests() {
                let (code, body, ctype) = answer(&req, &fetch);
                let mut resp = tiny_http::Response::from_string(body).with_status_code(code);
                if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", ctype) {
                    resp = resp.with_header(h);
                }
                if let Err(e) = req.respond(resp) {
                    log::debug!("metrics: reply failed: {e}");
                }
            }
        })
        .map_err(|e| Error {
            addr,
            reason: e.to_string(),
        })?;
    log::info!("metrics: serving http://{bound}/metrics");
    Ok(Server {
        http,
        thread: Some(thread),
        addr: bound,
    })
}

fn answer<F>(req: &tiny_http::Request, fetch: &F) -> (u16, String, &'static str)
where
    F: Fn() -> Option<(Vec<ServiceView>, StatusView)>,
{
    let path = req.url().split('?').next().unwrap_or("");
    if path != "/metrics" {
        return (404, "not found: try /metrics\n".into(), "text/plain");
    }
    if *req.method() != tiny_http::Method::Get && *req.method() != tiny_http::Method::Head {
        return (405, "only GET\n".into(), "text/plain");
    }
    match fetch() {
        Some((services, status)) => (200, render(&services, &status), CONTENT_TYPE),
        None => (
            503,
            "rvsd's management loop did not answer\n".into(),
            "text/plain",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::views::*;
    use std::collections::BTreeMap;
    use std::io::{Read, Write};
    use std::net::Ipv4Addr;

    fn sample() -> (Vec<ServiceView>, StatusView) {
        let dest = |a: u8, w: i32, conns: u64| DestView {
            addr: Ipv4Addr::new(192, 0, 2, a),
            port: 8080,
            method: MethodView::Nat,
            weight: w,
            u_threshold: 0,
            l_threshold: 0,
            active_conns: 3,
            inactive_conns: 1,
            persistent_conns: 0,
            stats: StatsView {
                conns,
                inpkts: 10 * conns,
                outpkts: 9 * conns,
                inbytes: 1000 * conns,
                outbytes: 2000 * conns,
            },
            rates: RatesView {
                cps: 2,
                ..RatesView::default()
            },
        };
        let svc = ServiceView {
            spec: ServiceSpec {
                key: ServiceKeyView::Tcp {
                    vip: Ipv4Addr::new(203, 0, 113, 10),
                    port: 80,
                },
                scheduler: "wlc".into(),
                flags: vec![],
                persistent: None,
                netmask: Ipv4Addr::BROADCAST,
                ops: false,
            },
            stats: StatsView {
                conns: 7,
                inpkts: 70,
                outpkts: 63,
                inbytes: 7000,
                outbytes: 14000,
            },
            rates: RatesView::default(),
            dests: vec![dest(11, 1, 4), dest(12, 0, 3)],
        };
        let mark = ServiceView {
            spec: ServiceSpec {
                key: ServiceKeyView::Fwmark { mark: 1 },
                ..svc.spec.clone()
            },
            dests: vec![],
            ..svc.clone()
        };
        let mut counters = BTreeMap::new();
        counters.insert("rx_pkts".to_owned(), 100);
        counters.insert("drop_no_service".to_owned(), 5);
        counters.insert("nat_in".to_owned(), 50);
        let status = StatusView {
            version: "0.1.0 (abc \"quoted\"\\\n)".into(),
            uptime_secs: 42,
            ports: vec![PortView {
                name: "ext".into(),
                device: "net_null0".into(),
                mac: "02:00:00:00:00:01".into(),
                link_up: true,
                speed_mbps: 0,
                ipackets: 100,
                opackets: 80,
                imissed: 1,
                rx_nombuf: 2,
                oerrors: 3,
            }],
            workers: vec![WorkerView {
                id: 0,
                core: 0,
                counters,
            }],
            drops: BTreeMap::new(),
            conns: 12,
            max_conns: 4096,
            services: 2,
            config_file: "/etc/rvs/rvsd.toml".into(),
        };
        (vec![svc, mark], status)
    }

    fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .unwrap_or_else(|| panic!("no {name} {labels:?}"));
        match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            ref other => panic!("{name}: {other:?}"),
        }
    }

    /// Parses with a parser we did not write, and checks types, values and escaping.
    #[test]
    fn render_is_valid_text_format_with_the_views_values() {
        let (services, status) = sample();
        let text = render(&services, &status);
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
        // Every family has HELP and TYPE, once, before its samples.
        let mut families = std::collections::HashSet::new();
        for s in &scrape.samples {
            let base = s.metric.as_str();
            assert!(
                text.contains(&format!("# HELP {base} "))
                    && text.contains(&format!("# TYPE {base} ")),
                "{base} lacks HELP/TYPE"
            );
            families.insert(base.to_owned());
        }
        for f in &families {
            assert_eq!(text.matches(&format!("# TYPE {f} ")).count(), 1, "{f}");
        }
        let svc = [("service", "tcp/203.0.113.10:80")];
        assert_eq!(value(&scrape, "rvs_service_connections_total", &svc), 7.0);
        assert!(matches!(
            scrape
                .samples
                .iter()
                .find(|s| s.metric == "rvs_service_connections_total")
                .unwrap()
                .value,
            prometheus_parse::Value::Counter(_)
        ));
        assert_eq!(
            value(
                &scrape,
                "rvs_service_bytes_total",
                &[svc[0], ("direction", "out")]
            ),
            14000.0
        );
        assert_eq!(
            value(
                &scrape,
                "rvs_service_connections_total",
                &[("service", "fwmark/1")]
            ),
            7.0
        );
        let real = [svc[0], ("real", "192.0.2.12:8080")];
        assert_eq!(value(&scrape, "rvs_real_server_weight", &real), 0.0);
        assert_eq!(
            value(&scrape, "rvs_real_server_connections_total", &real),
            3.0
        );
        assert_eq!(
            value(
                &scrape,
                "rvs_real_server_packets_total",
                &[real[0], real[1], ("direction", "in")]
            ),
            30.0
        );
        assert_eq!(
            value(&scrape, "rvs_real_server_connection_rate", &real),
            2.0
        );
        assert_eq!(
            value(&scrape, "rvs_real_server_active_connections", &real),
            3.0
        );
        assert_eq!(
            value(
                &scrape,
                "rvs_drops_total",
                &[("worker", "0"), ("reason", "no_service")]
            ),
            5.0
        );
        assert_eq!(
            value(&scrape, "rvs_worker_rx_packets_total", &[("worker", "0")]),
            100.0
        );
        assert_eq!(
            value(&scrape, "rvs_worker_tx_packets_total", &[("worker", "0")]),
            0.0
        );
        assert_eq!(
            value(
                &scrape,
                "rvs_worker_events_total",
                &[("worker", "0"), ("event", "nat_in")]
            ),
            50.0
        );
        assert_eq!(
            value(&scrape, "rvs_port_rx_missed_total", &[("port", "ext")]),
            1.0
        );
        assert_eq!(
            value(&scrape, "rvs_port_rx_nombuf_total", &[("port", "ext")]),
            2.0
        );
        assert_eq!(
            value(&scrape, "rvs_port_tx_errors_total", &[("port", "ext")]),
            3.0
        );
        assert_eq!(value(&scrape, "rvs_conn_table_entries", &[]), 12.0);
        assert_eq!(value(&scrape, "rvs_conn_table_capacity", &[]), 4096.0);
        assert_eq!(value(&scrape, "rvs_uptime_seconds", &[]), 42.0);
        // The version's quote, backslash and newline escaped as the format says.
        assert!(
            text.contains(r#"rvs_build_info{version="0.1.0 (abc \"quoted\"\\\n)"} 1"#),
            "{text}"
        );
    }

    fn get(addr: SocketAddr, request: &str) -> String {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn the_endpoint_serves_metrics_and_refuses_the_rest() {
        let server = serve("127.0.0.1:0".parse().unwrap(), || Some(sample())).unwrap();
        let addr = server.addr();
        let r = get(addr, "GET /metrics HTTP/1.0\r\n\r\n");
        assert!(
            r.starts_with("HTTP/1.0 200") || r.starts_with("HTTP/1.1 200"),
            "{r}"
        );
        assert!(r.contains("version=0.0.4"), "{r}");
        let body = &r[r.find("\r\n\r\n").unwrap() + 4..];
        assert_eq!(body, render(&sample().0, &sample().1));
        let r = get(addr, "GET / HTTP/1.0\r\n\r\n");
        assert!(r.contains(" 404 "), "{r}");
        let r = get(addr, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
        assert!(r.contains(" 405 "), "{r}");
        drop(server);
        let down = serve("127.0.0.1:0".parse().unwrap(), || None).unwrap();
        let r = get(down.addr(), "GET /metrics HTTP/1.0\r\n\r\n");
        assert!(r.contains(" 503 "), "{r}");
    }
}
