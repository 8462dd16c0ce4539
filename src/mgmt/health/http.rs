//! HTTP_GET and SSL_GET: for each `url` in turn, a connection, one GET written as
//! keepalived writes it (check_http.c `request_template`: `User-Agent: KeepAliveClient`,
//! so servers that single out keepalived's probes still do), and the response read to its
//! end (Content-Length, or the server's close). The server is up when every url passes:
//! status in `status_code`, body MD5 equal to `digest`, `substring` in the body.
//!
//! Timeouts: the connect has `timeout`, then the rest of the exchange (TLS handshake,
//! request, whole response) has `timeout` again, so a server that trickles its answer
//! cannot hold a check longer than twice the timeout per url. keepalived restarts its
//! timer on every read instead, which a trickling server can stretch without end.

use std::net::SocketAddrV4;
use std::time::Duration;

use md5::{Digest as _, Md5};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::TlsConnector;

use super::conn::{destination, tcp_connect};
use super::hex::Md5Digest;
use super::outcome::{secs, Outcome};
use super::spec::{HttpGet, HttpProtocol, HttpUrl};
use super::tls::{client_config, server_name};

/// The most header bytes read before the response is called malformed.
const MAX_HEADER_BYTES: usize = 16 * 1024;
/// How much of the body is kept for `substring` (the digest covers all of it).
const MAX_KEPT_BODY_BYTES: usize = 1024 * 1024;

/// Runs one HTTP_GET of `target` (the real server).
pub async fn check(spec: &HttpGet, target: SocketAddrV4, timeout: Duration) -> Outcome {
    run(spec, false, target, timeout).await
}

/// Runs one SSL_GET of `target` (the real server).
pub async fn check_ssl(spec: &HttpGet, target: SocketAddrV4, timeout: Duration) -> Outcome {
    run(spec, true, target, timeout).await
}

async fn run(spec: &HttpGet, tls: bool, target: SocketAddrV4, timeout: Duration) -> Outcome {
    let conn = spec.conn();
    let dst = destination(&conn, target);
    let connector = if tls {
        let sni = spec.enable_sni || spec.sni_name.is_some();
        match client_config(spec.ssl_verify, spec.ca_file.as_deref(), sni) {
            Ok(config) => Some(TlsConnector::from(config)),
            Err(reason) => return Outcome::down(reason),
        }
    } else {
        None
    };
    let mut last = Outcome::down(format!("no url to get from {dst}"));
    for url in &spec.url {
        let host = url.virtualhost.as_deref().or(spec.virtualhost.as_deref());
        let request = request(spec.http_protocol, &url.path, host, dst);
        let stream = match tcp_connect(&conn, dst, timeout).await {
            Ok(stream) => stream,
            Err(down) => return down,
        };
        let exchange = async {
            match &connector {
                Some(connector) => {
                    let name = spec.sni_name.as_deref().or(host);
                    let name = server_name(name.map(strip_port), *dst.ip());
                    let stream = connector.connect(name, stream).await.map_err(|e| {
                        Outcome::down(format!("TLS handshake with {dst} failed: {e}"))
                    })?;
                    exchange(stream, &request, dst).await
                }
                None => exchange(stream, &request, dst).await,
            }
        };
        let response = match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(response)) => response,
            Ok(Err(down)) => return down,
            Err(_) => {
                return Outcome::down(format!(
                    "no complete HTTP response from {dst} within {}",
                    secs(timeout)
                ))
            }
        };
        last = judge(url, &response, dst);
        if !last.up {
            return last;
        }
    }
    last
}

/// "www.example.test:8080" → "www.example.test" (a Host header may carry a port, a TLS
/// server name may not).
fn strip_port(host: &str) -> &str {
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// The request bytes, as keepalived's `request_template`: without a virtualhost the Host
/// header is the address and port connected to.
fn request(proto: HttpProtocol, path: &str, host: Option<&str>, dst: SocketAddrV4) -> Vec<u8> {
    let (minor, close) = match proto {
        HttpProtocol::Http10 => (0, ""),
        HttpProtocol::Http10Close => (0, "Connection: close\r\n"),
        HttpProtocol::Http11 => (1, "Connection: close\r\n"),
    };
    let host = match host {
        Some(h) => h.to_string(),
        None => dst.to_string(),
    };
    format!(
        "GET {path} HTTP/1.{minor}\r\nUser-Agent: KeepAliveClient\r\n{close}Host: {host}\r\n\r\n"
    )
    .into_bytes()
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
    dst: SocketAddrV4,
) -> Result<Response, Outcome> {
    let sent = async {
        stream.write_all(request).await?;
        stream.flush().await
    };
    sent.await
        .map_err(|e| Outcome::down(format!("sending the request to {dst} failed: {e}")))?;
    let mut reader = ResponseReader::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            // A TLS server that closes without close_notify: its data so far is all there
            // is, as for a plain TCP close.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(Outcome::down(format!("reading from {dst} failed: {e}"))),
        };
        if reader.feed(&buf[..n]).map_err(|why| down(why, dst))? {
            break;
        }
    }
    reader.finish().map_err(|why| down(why, dst))
}

fn down(why: &str, dst: SocketAddrV4) -> Outcome {
    Outcome::down(format!("{why} from {dst}"))
}

/// The verdict on one url's response.
fn judge(url: &HttpUrl, response: &Response, dst: SocketAddrV4) -> Outcome {
    if !url.status_code.accepts(response.status) {
        return Outcome::down(format!("HTTP {} from {dst}", response.status));
    }
    if let Some(want) = url.digest {
        if response.digest != want {
            return Outcome::down(format!(
                "digest {} != expected {want} from {dst}",
                response.digest
            ));
        }
    }
    if let Some(text) = &url.substring {
        let found = text.is_empty()
            || response
                .body_head
                .windows(text.len())
                .any(|w| w == text.as_bytes());
        if !found {
            return Outcome::down(format!("\"{text}\" not in the body from {dst}"));
        }
    }
    Outcome::up(format!("HTTP {} from {dst}", response.status))
}

/// What a check needs of a response.
#[derive(Debug)]
struct Response {
    status: u16,
    digest: Md5Digest,
    body_head: Vec<u8>,
}

/// Reads a response as it arrives: the header up to its blank line, then the body into
/// the MD5 and (its first MiB) into `body_head`. Errors are reasons without the address.
#[derive(Default)]
struct ResponseReader {
    header: Vec<u8>,
    head: Option<(u16, Option<usize>)>,
    md5: Md5,
    body_len: usize,
    body_head: Vec<u8>,
}

impl ResponseReader {
    /// Takes the next bytes; true once the body is complete by its Content-Length.
    fn feed(&mut self, bytes: &[u8]) -> Result<bool, &'static str> {
        let body = if self.head.is_none() {
            self.header.extend_from_slice(bytes);
            let Some(end) = header_end(&self.header) else {
                if self.header.len() > MAX_HEADER_BYTES {
                    return Err("an HTTP header over 16 KiB");
                }
                return Ok(false);
            };
            self.head = Some(parse_head(&self.header[..end])?);
            self.header.split_off(end)
        } else {
            bytes.to_vec()
        };
        self.md5.update(&body);
        self.body_len += body.len();
        let room = MAX_KEPT_BODY_BYTES.saturating_sub(self.body_head.len());
        self.body_head
            .extend_from_slice(&body[..body.len().min(room)]);
        let length = self.head.and_then(|(_, len)| len);
        Ok(length.is_some_and(|len| self.body_len >= len))
    }

    /// The response, once the stream has ended (or the body is complete).
    fn finish(self) -> Result<Response, &'static str> {
        match self.head {
            Some((status, _)) => Ok(Response {
                status,
                digest: Md5Digest(self.md5.finalize().into()),
                body_head: self.body_head,
            }),
            None if self.header.is_empty() => Err("connection closed without a response"),
            None => Err("an incomplete HTTP header"),
        }
    }
}

/// Where the body starts: after the first "\r\n\r\n" (or a bare "\n\n").
fn header_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The status code and Content-Length of a header.
fn parse_head(header: &[u8]) -> Result<(u16, Option<usize>), &'static str> {
    const BAD: &str = "a malformed HTTP status line";
    let text = std::str::from_utf8(header).map_err(|_| BAD)?;
    let mut lines = text.lines();
    let status_line = lines.next().ok_or(BAD)?;
    let mut words = status_line.split_ascii_whitespace();
    let version = words.next().ok_or(BAD)?;
    if !version.starts_with("HTTP/") {
        return Err(BAD);
    }
    let status = words
        .next()
        .and_then(|w| w.parse::<u16>().ok())
        .filter(|s| (100..=999).contains(s))
        .ok_or(BAD)?;
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok());
    Ok((status, length))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn dst() -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 12), 80)
    }

    fn read(chunks: &[&[u8]]) -> Result<Response, &'static str> {
        let mut r = ResponseReader::default();
        for c in chunks {
            if r.feed(c)? {
                break;
            }
        }
        r.finish()
    }

    #[test]
    fn request_as_keepalived_writes_it() {
        let r = request(HttpProtocol::Http10, "/health", None, dst());
        assert_eq!(
            r,
            b"GET /health HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 192.0.2.12:80\r\n\r\n"
        );
        let r = request(HttpProtocol::Http11, "/", Some("www.example.test"), dst());
        assert_eq!(
            r,
            b"GET / HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example.test\r\n\r\n"
        );
    }

    #[test]
    fn body_digest_over_split_reads() {
        let resp = read(&[b"HTTP/1.0 200 OK\r\nServer: x\r\n\r", b"\nhel", b"lo\n"]).unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.digest.to_string(), "b1946ac92492d2347c6235b4d2611184");
        assert_eq!(resp.body_head, b"hello\n");
    }

    #[test]
    fn content_length_ends_the_body() {
        let mut r = ResponseReader::default();
        assert!(!r
            .feed(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nab")
            .unwrap());
        assert!(r.feed(b"cd").unwrap());
        let resp = r.finish().unwrap();
        assert_eq!(resp.status, 503);
        assert_eq!(resp.digest, Md5Digest::of(b"abcd"));
    }

    #[test]
    fn malformed_and_missing_responses() {
        assert_eq!(
            read(&[]).unwrap_err(),
            "connection closed without a response"
        );
        assert_eq!(
            read(&[b"HTTP/1.0 200"]).unwrap_err(),
            "an incomplete HTTP header"
        );
        assert_eq!(
            read(&[b"SSH-2.0-OpenSSH\r\n\r\n"]).unwrap_err(),
            "a malformed HTTP status line"
        );
        assert_eq!(
            read(&[&vec![b'x'; MAX_HEADER_BYTES + 1]]).unwrap_err(),
            "an HTTP header over 16 KiB"
        );
    }

    #[test]
    fn judging() {
        let resp = read(&[b"HTTP/1.0 200 OK\r\n\r\nhello\n"]).unwrap();
        let mut url = HttpUrl {
            path: "/".into(),
            status_code: Default::default(),
            digest: None,
            substring: Some("ell".into()),
            virtualhost: None,
        };
        assert_eq!(
            judge(&url, &resp, dst()),
            Outcome::up("HTTP 200 from 192.0.2.12:80")
        );
        url.digest = Some(Md5Digest::of(b"other"));
        let o = judge(&url, &resp, dst());
        assert!(!o.up);
        assert_eq!(
            o.reason,
            format!(
                "digest b1946ac92492d2347c6235b4d2611184 != expected {} from 192.0.2.12:80",
                Md5Digest::of(b"other")
            )
        );
        url.digest = None;
        url.substring = Some(String::new());
        assert!(
            judge(&url, &resp, dst()).up,
            "an empty substring is in every body"
        );
        url.substring = Some("bye".into());
        assert_eq!(
            judge(&url, &resp, dst()).reason,
            "\"bye\" not in the body from 192.0.2.12:80"
        );
        assert_eq!(strip_port("www.example.test:8443"), "www.example.test");
    }
}
