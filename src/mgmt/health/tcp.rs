//! TCP_CHECK: up when the handshake completes within the timeout (keepalived
//! check_tcp.c); the connection is closed at once, nothing sent.

use std::net::SocketAddrV4;
use std::time::Duration;

use super::conn::{destination, tcp_connect};
use super::outcome::Outcome;
use super::spec::TcpCheck;

/// Runs one TCP_CHECK of `target` (the real server) with `timeout` for the connect.
pub async fn check(spec: &TcpCheck, target: SocketAddrV4, timeout: Duration) -> Outcome {
    let conn = spec.conn();
    let dst = destination(&conn, target);
    match tcp_connect(&conn, dst, timeout).await {
        Ok(_stream) => Outcome::up(format!("TCP connect to {dst} succeeded")),
        Err(down) => down,
    }
}
