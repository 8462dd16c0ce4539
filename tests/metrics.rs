//! rvsd's Prometheus endpoint (`[metrics] listen`, `mgmt::metrics`) against a real rvsd
//! on a `net_null` port: a client that pipelines thousands of requests and closes does
//! not keep another scraper waiting (the operator review found it blocked every scrape
//! for a minute), and the body still parses with a parser we did not write.

mod common;

use common::eal::root_or_skip;
use common::rvsd::{derived_config, Rvsd};
use std::io::{Read, Write};
use std::time::Duration;

/// A port nothing listens on now (the kernel's pick, released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_pipelined_flood_does_not_block_another_scrape() {
    if !root_or_skip() {
        return;
    }
    let prefix = format!("rvs-metrics-{}", std::process::id());
    let (dir, cfg) = derived_config(
        "lab-appliance.toml",
        &[
            ("net_af_packet0,iface=rvs-ext", "net_null0"),
            ("exception_path = true", "exception_path = false"),
            ("rvs-appliance", &prefix),
        ],
    );
    let port = free_port();
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!("\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"));
    std::fs::write(&cfg, text).unwrap();
    let rvsd = Rvsd::start(dir, cfg);

    let flood = "GET /metrics HTTP/1.1\r\nHost: rvs\r\n\r\n".repeat(5000);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(flood.as_bytes()).unwrap();
    drop(s);
    std::thread::sleep(Duration::from_millis(200));

    // Generous: without the fix this waited ~60 s.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: rvs\r\n\r\n")
        .unwrap();
    let mut r = Vec::new();
    if let Err(e) = s.read_to_end(&mut r) {
        panic!("second scrape: {e}\n{}", rvsd.log_text());
    }
    let r = String::from_utf8(r).unwrap();
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    assert!(r.contains("\r\nConnection: close\r\n"), "{r}");
    let body = &r[r.find("\r\n\r\n").unwrap() + 4..];
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap();
    assert!(
        scrape.samples.iter().any(|s| s.metric == "rvs_build_info"),
        "{body}"
    );
    rvsd.stop();
}
