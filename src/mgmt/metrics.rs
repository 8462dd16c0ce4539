//! The Prometheus endpoint (`[metrics] listen`): `GET /metrics` answers the text
//! exposition format 0.0.4 (<https://prometheus.io/docs/instrumenting/exposition_formats/>)
//! rendered from the same `List` and `Status` views rvsadm gets, so the HTTP thread never
//! touches the [`crate::mgmt::Manager`]: it asks the management loop for them through a
//! caller-given function (rvsd's command channel), at most once per [`CACHE_TTL`]. Every family has its
//! HELP and TYPE lines; label values are escaped as the format requires (`\\`, `\"`, `\n`).
//!
//! Families (labels): per service (`service="tcp/203.0.113.10:80"` or `"fwmark/1"`) and
//! per real server (`service`, `real="192.0.2.11:8080"`): `connections_total`,
//! `packets_total` and `bytes_total` (`direction="in"|"out"`, counters since creation or
//! `-Z`), the 2-second rates (gauges), and for real servers their weight and
//! active/inactive/persistent connections (gauges) and
//! `rvs_real_server_passive_failures_total` (new connections whose opening failed,
//! as passive detection counts them; not reset by `-Z`). Per worker: `rvs_drops_total{worker,
//! reason}` (each `drop_*` counter of docs/DROPS.md without its prefix), rx/tx packets and
//! bytes, and every other worker counter as `rvs_worker_events_total{worker,event}`. Per
//! port: packets, `imissed`, `rx_nombuf`, `oerrors`, link state. Then the connection
//! table's fill and capacity, uptime and build info.

use crate::ctl::views::{ServiceKeyView, ServiceView, StatusView};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    let name = "rvs_real_server_passive_failures_total";
    o.family(
        name,
        "counter",
        "New connections to the real server whose opening failed (reset by the real \
         server, or no SYN-ACK: SYN sent again or SYN_RECV expired), counted by the \
         workers for passive detection since the real server was added (-Z leaves it).",
    );
    for (l, s, i) in drows.iter() {
        let l: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, v.as_str())).collect();
        o.sample(name, &l, s.dests[*i].passive_failures);
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

/// How long a rendered scrape is served again before the next render: a burst of
/// requests (many scrapers, or one client repeating itself) costs one trip through the
/// management loop per second, not one per request. Prometheus scrapes every 15 s or
/// more, so a value is at most this much older than the request.
pub const CACHE_TTL: Duration = Duration::from_secs(1);

/// The longest request head (request line and headers, bytes) read from a client; a
/// longer one is answered 431 and the connection closed.
pub const MAX_HEAD: usize = 8 * 1024;

/// Time a client has to send its whole request head, and each write of the answer may
/// block: a client that stalls is dropped rather than holding a thread.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections served at once (one short-lived thread each); one more is answered 503
/// and closed at once.
pub const MAX_CLIENTS: usize = 16;

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error("metrics endpoint {addr}: {reason}")]
pub struct Error {
    /// `[metrics] listen`.
    pub addr: SocketAddr,
    /// The bind error.
    pub reason: String,
}

/// A running endpoint; dropping it stops accepting (a connection in hand finishes on
/// its own thread, within [`IO_TIMEOUT`]).
pub struct Server {
    stop: Arc<AtomicBool>,
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
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The scrape function and the last body it gave, shared by the connection threads.
struct Shared<F> {
    fetch: F,
    /// When the body was rendered, and the body. The lock is held across a render, so
    /// requests arriving meanwhile wait for it and reuse it.
    cache: Mutex<Option<(Instant, Arc<String>)>>,
    /// Connections being served.
    clients: AtomicUsize,
}

impl<F> Shared<F>
where
    F: Fn() -> Option<(Vec<ServiceView>, StatusView)>,
{
    /// The body of a scrape: the cached one if younger than [`CACHE_TTL`], else a new
    /// render (`None`: the management loop did not answer; not cached).
    fn body(&self) -> Option<Arc<String>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, body)) = cache.as_ref() {
            if at.elapsed() < CACHE_TTL {
                return Some(body.clone());
            }
        }
        let (services, status) = (self.fetch)()?;
        let body = Arc::new(render(&services, &status));
        *cache = Some((Instant::now(), body.clone()));
        Some(body)
    }
}

/// Listens on `addr` and serves `GET /metrics` (and `HEAD`): each connection gets one
/// answer, `Connection: close`, and is closed; bytes after the first request head (a
/// pipelined second request) are never parsed. The body comes from what `fetch` returns
/// (`None`: the management loop did not answer, 503), reused for [`CACHE_TTL`]. Other
/// paths are 404, other methods 405, a head over [`MAX_HEAD`] 431, a malformed one 400.
/// The request's headers are read only to find their end: none changes the answer.
///
/// HTTP/1.1 (RFC 9112) is written here rather than taken from a crate: tiny_http 0.12
/// cannot close a connection after an answer, and queues every pipelined request of a
/// connection (a 180 KB burst of `GET`s kept the endpoint busy for a minute).
pub fn serve<F>(addr: SocketAddr, fetch: F) -> Result<Server, Error>
where
    F: Fn() -> Option<(Vec<ServiceView>, StatusView)> + Send + Sync + 'static,
{
    let err = |e: std::io::Error| Error {
        addr,
        reason: e.to_string(),
    };
    let listener = TcpListener::bind(addr).map_err(err)?;
    let bound = listener.local_addr().map_err(err)?;
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Shared {
        fetch,
        cache: Mutex::new(None),
        clients: AtomicUsize::new(0),
    });
    let stopping = stop.clone();
    let thread = std::thread::Builder::new()
        .name("rvs-metrics".into())
        .spawn(move || accept_loop(&listener, &stopping, &shared))
        .map_err(err)?;
    log::info!("metrics: serving http://{bound}/metrics");
    Ok(Server {
        stop,
        thread: Some(thread),
        addr: bound,
    })
}

fn accept_loop<F>(listener: &TcpListener, stop: &AtomicBool, shared: &Arc<Shared<F>>)
where
    F: Fn() -> Option<(Vec<ServiceView>, StatusView)> + Send + Sync + 'static,
{
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let mut conn = match conn {
            Ok(c) => c,
            Err(e) => {
                log::debug!("metrics: accept: {e}");
                // EMFILE and the like: do not spin.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if shared.clients.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
            shared.clients.fetch_sub(1, Ordering::SeqCst);
            // A short answer fits the socket's buffer: never blocks this thread.
            let _ = conn.set_nonblocking(true);
            let _ = reply(&mut conn, 503, "text/plain", b"too many clients\n", false);
            continue;
        }
        let s = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("rvs-metrics-c".into())
            .spawn(move || {
                if let Err(e) = serve_one(&mut conn, &s) {
                    log::debug!("metrics: client: {e}");
                }
                s.clients.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            log::warn!("metrics: no thread for a client: {e}");
            shared.clients.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Reads one request head, answers it, and closes.
fn serve_one<F>(conn: &mut TcpStream, shared: &Shared<F>) -> std::io::Result<()>
where
    F: Fn() -> Option<(Vec<ServiceView>, StatusView)>,
{
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    let head = match read_head(conn)? {
        Head::Complete(h) => h,
        Head::TooLong => return finish(conn, 431, "text/plain", b"request head too long\n", false),
        Head::Closed => return Ok(()),
    };
    let (code, ctype, body, head_only): (u16, &str, Arc<String>, bool) = match parse(&head) {
        None => (400, "text/plain", Arc::new("bad request\n".into()), false),
        Some((_, path)) if path.split('?').next() != Some("/metrics") => (
            404,
            "text/plain",
            Arc::new("not found: try /metrics\n".into()),
            false,
        ),
        Some((method, _)) if method != "GET" && method != "HEAD" => {
            (405, "text/plain", Arc::new("only GET\n".into()), false)
        }
        Some((method, _)) => match shared.body() {
            Some(b) => (200, CONTENT_TYPE, b, method == "HEAD"),
            None => (
                503,
                "text/plain",
                Arc::new("rvsd's management loop did not answer\n".into()),
                false,
            ),
        },
    };
    finish(conn, code, ctype, body.as_bytes(), head_only)
}

/// What [`read_head`] found.
enum Head {
    /// The bytes up to and including the blank line that ends the head.
    Complete(Vec<u8>),
    /// [`MAX_HEAD`] bytes without the blank line.
    TooLong,
    /// The client closed (or stalled past [`IO_TIMEOUT`]) before the end of the head.
    Closed,
}

/// Reads up to the end of the first request head within [`IO_TIMEOUT`] in all. Reads
/// in small steps and stops at the blank line, so a pipelined request behind it stays
/// unread in the socket.
fn read_head(conn: &mut TcpStream) -> std::io::Result<Head> {
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Head::Closed);
        }
        conn.set_read_timeout(Some(left))?;
        // Peek, then consume only up to the head's end.
        let n = match conn.peek(&mut buf) {
            Ok(0) => return Ok(Head::Closed),
            Ok(n) => n,
            Err(e) if is_timeout(&e) => return Ok(Head::Closed),
            Err(e) => return Err(e),
        };
        let before = head.len();
        head.extend_from_slice(&buf[..n]);
        // The blank line may straddle what came before.
        let from = before.saturating_sub(3);
        let end = head[from..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| from + i + 4);
        let take = end.map_or(n, |e| e - before);
        let mut sink = vec![0u8; take];
        conn.read_exact(&mut sink)?;
        if let Some(e) = end {
            head.truncate(e);
            return Ok(Head::Complete(head));
        }
        if head.len() >= MAX_HEAD {
            return Ok(Head::TooLong);
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// The request line's method and target, if it is `METHOD SP TARGET SP HTTP/1.x`.
fn parse(head: &[u8]) -> Option<(&str, &str)> {
    let line_end = head.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&head[..line_end]).ok()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_uppercase())
        || !target.starts_with('/')
        || !matches!(version, "HTTP/1.0" | "HTTP/1.1")
    {
        return None;
    }
    Some((method, target))
}

/// Writes the answer with `Connection: close`, then closes without resetting: our
/// side's FIN first, then what the client still sends (a pipelined request) is read
/// and dropped, at most [`MAX_HEAD`] bytes for at most 1 s, so the answer is not lost to
/// a reset that unread bytes would cause.
fn finish(
    conn: &mut TcpStream,
    code: u16,
    ctype: &str,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    reply(conn, code, ctype, body, head_only)?;
    conn.shutdown(std::net::Shutdown::Write)?;
    conn.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut drained = 0;
    let mut buf = [0u8; 1024];
    while drained < MAX_HEAD {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    Ok(())
}

/// Writes one HTTP/1.1 answer, `Connection: close`, with its `Content-Length` (`HEAD`:
/// the headers alone).
fn reply(
    conn: &mut TcpStream,
    code: u16,
    ctype: &str,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let mut out = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if code == 405 {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut out = out.into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    conn.write_all(&out)?;
    conn.flush()
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
            passive_failures: 5 * conns,
            health: None,
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
            removed_dests: vec![],
            sorry_active: None,
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
            health: vec![],
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
            value(&scrape, "rvs_real_server_passive_failures_total", &real),
            15.0
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

    /// Reads everything until the server closes, failing after `secs`.
    fn get_within(addr: SocketAddr, request: &[u8], secs: u64) -> String {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(secs))).unwrap();
        s.write_all(request).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("no answer within {secs} s: {e}"));
        String::from_utf8(out).unwrap()
    }

    /// A connection gets one answer, says so (`Connection: close`) and is closed: the
    /// requests pipelined behind the first are never parsed nor answered.
    #[test]
    fn one_answer_per_connection_then_close() {
        let server = serve("127.0.0.1:0".parse().unwrap(), || Some(sample())).unwrap();
        let req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3);
        let r = get_within(server.addr(), req.as_bytes(), 10);
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert_eq!(r.matches("HTTP/1.1 ").count(), 1, "{r}");
        assert!(r.contains("\r\nConnection: close\r\n"), "{r}");
        let body = &r[r.find("\r\n\r\n").unwrap() + 4..];
        assert_eq!(body, render(&sample().0, &sample().1));
        // HEAD: the headers, with the body's length, and no body.
        let r = get_within(server.addr(), b"HEAD /metrics HTTP/1.1\r\n\r\n", 10);
        assert!(
            r.starts_with("HTTP/1.1 200 OK\r\n") && r.ends_with("\r\n\r\n"),
            "{r}"
        );
        let len = render(&sample().0, &sample().1).len();
        assert!(r.contains(&format!("Content-Length: {len}\r\n")), "{r}");
    }

    /// Many requests within [`CACHE_TTL`] cost one render (one trip through rvsd's
    /// management loop), not one each.
    #[test]
    fn a_burst_of_scrapes_costs_one_render() {
        let fetches = Arc::new(AtomicUsize::new(0));
        let f = fetches.clone();
        let server = serve("127.0.0.1:0".parse().unwrap(), move || {
            f.fetch_add(1, Ordering::SeqCst);
            Some(sample())
        })
        .unwrap();
        let started = Instant::now();
        for _ in 0..30 {
            let r = get_within(server.addr(), b"GET /metrics HTTP/1.0\r\n\r\n", 10);
            assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        }
        // One render per started second at most, however loaded the machine.
        let most = started.elapsed().as_secs() as usize + 1;
        let n = fetches.load(Ordering::SeqCst);
        assert!((1..=most).contains(&n), "{n} renders for 30 scrapes");
    }

    /// A head longer than [`MAX_HEAD`] is refused, not read to its end; a malformed
    /// request line is 400.
    #[test]
    fn oversized_and_malformed_heads_are_refused() {
        let server = serve("127.0.0.1:0".parse().unwrap(), || Some(sample())).unwrap();
        let mut req = b"GET /metrics?".to_vec();
        req.extend(std::iter::repeat_n(b'a', MAX_HEAD * 4));
        req.extend_from_slice(b" HTTP/1.1\r\n\r\n");
        let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // The server may close while we still write: the answer is what counts.
        let _ = s.write_all(&req);
        let mut r = Vec::new();
        let _ = s.read_to_end(&mut r);
        let r = String::from_utf8_lossy(&r);
        assert!(r.starts_with("HTTP/1.1 431 "), "{r}");
        let r = get_within(server.addr(), b"GARBAGE\r\n\r\n", 10);
        assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
        let r = get_within(server.addr(), b"GET /metrics HTTP/2.0\r\n\r\n", 10);
        assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
    }

    /// The operator review's attack: 5000 pipelined requests in one write, then close.
    /// With a render as slow as rvsd's (12 ms through the command channel) answering
    /// each would keep the endpoint busy a minute; another scraper is answered at once.
    #[test]
    fn a_pipelined_flood_does_not_block_another_scrape() {
        let server = serve("127.0.0.1:0".parse().unwrap(), || {
            std::thread::sleep(Duration::from_millis(12));
            Some(sample())
        })
        .unwrap();
        let flood = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(5000);
        let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
        s.write_all(flood.as_bytes()).unwrap();
        drop(s);
        std::thread::sleep(Duration::from_millis(100));
        let r = get_within(server.addr(), b"GET /metrics HTTP/1.1\r\n\r\n", 5);
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    }
}
