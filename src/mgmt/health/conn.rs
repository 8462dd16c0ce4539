//! The connect step the TCP-based checkers share: where to (connect_ip/connect_port over
//! the real server's address), from where (bindto/bind_port), and within what time.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream, UdpSocket};

use super::outcome::{connect_failed, secs, Outcome};
use super::spec::ConnOpts;

/// The address a check talks to: the real server's, with `connect_ip`/`connect_port`
/// taking their place when set (keepalived's `co->dst`).
pub(crate) fn destination(conn: &ConnOpts, target: SocketAddrV4) -> SocketAddrV4 {
    SocketAddrV4::new(
        conn.connect_ip.unwrap_or(*target.ip()),
        conn.connect_port.unwrap_or(target.port()),
    )
}

/// The source address to bind, if `bindto` or `bind_port` is set.
fn source(conn: &ConnOpts) -> Option<SocketAddrV4> {
    if conn.bindto.is_none() && conn.bind_port.is_none() {
        return None;
    }
    Some(SocketAddrV4::new(
        conn.bindto.unwrap_or(Ipv4Addr::UNSPECIFIED),
        conn.bind_port.unwrap_or(0),
    ))
}

/// A TCP connection to `dst` from the configured source, or the down outcome saying why
/// not ("connection refused by ...", "connect to ... timed out after 3 s").
pub(crate) async fn tcp_connect(
    conn: &ConnOpts,
    dst: SocketAddrV4,
    timeout: Duration,
) -> Result<TcpStream, Outcome> {
    let socket = TcpSocket::new_v4().map_err(|e| Outcome::down(format!("socket: {e}")))?;
    if let Some(src) = source(conn) {
        if conn.bind_port.is_some() {
            // A fixed source port is reused check after check; without SO_REUSEADDR the
            // previous connection's TIME_WAIT would refuse the bind.
            let _ = socket.set_reuseaddr(true);
        }
        socket
            .bind(src.into())
            .map_err(|e| Outcome::down(format!("bind to {src} failed: {e}")))?;
    }
    match tokio::time::timeout(timeout, socket.connect(dst.into())).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(connect_failed(dst, &e)),
        Err(_) => Err(Outcome::down(format!(
            "connect to {dst} timed out after {}",
            secs(timeout)
        ))),
    }
}

/// A UDP socket bound to the configured source and connected to `dst`, so that ICMP
/// errors for it come back as errors on its calls (ECONNREFUSED for port unreachable).
pub(crate) async fn udp_connect(conn: &ConnOpts, dst: SocketAddrV4) -> Result<UdpSocket, Outcome> {
    let src = source(conn).unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
    let socket = UdpSocket::bind(src)
        .await
        .map_err(|e| Outcome::down(format!("bind to {src} failed: {e}")))?;
    socket
        .connect(dst)
        .await
        .map_err(|e| Outcome::down(format!("UDP to {dst} failed: {e}")))?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_options_override_the_target() {
        let target = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 12), 80);
        let none = ConnOpts::default();
        assert_eq!(destination(&none, target), target);
        assert_eq!(source(&none), None);
        let some = ConnOpts {
            connect_ip: Some(Ipv4Addr::new(192, 0, 2, 13)),
            connect_port: Some(8080),
            bindto: None,
            bind_port: Some(4000),
        };
        assert_eq!(
            destination(&some, target),
            SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 13), 8080)
        );
        assert_eq!(
            source(&some),
            Some(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 4000))
        );
    }
}
