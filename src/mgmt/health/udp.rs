//! UDP_CHECK (keepalived check_udp.c): `payload` sent from a connected socket, then
//! either a reply is awaited (`require_reply`) or only an ICMP error is watched for. The
//! kernel reports ICMP port unreachable on a connected UDP socket as ECONNREFUSED on its
//! next call, which is what lets a silent-but-listening port be told from a closed one.

use std::io::ErrorKind;
use std::net::SocketAddrV4;
use std::time::Duration;

use super::conn::{destination, udp_connect};
use super::outcome::{secs, Outcome};
use super::spec::UdpCheck;

/// Runs one UDP_CHECK of `target` (the real server); `timeout` bounds the wait for a
/// reply or an ICMP error (without `require_reply` the check always lasts that long).
pub async fn check(spec: &UdpCheck, target: SocketAddrV4, timeout: Duration) -> Outcome {
    let conn = spec.conn();
    let dst = destination(&conn, target);
    let socket = match udp_connect(&conn, dst).await {
        Ok(s) => s,
        Err(down) => return down,
    };
    if let Err(e) = socket.send(&spec.payload.0).await {
        return io_error(dst, &e);
    }
    // One byte more than the longest acceptable reply, so an over-long one is seen.
    let mut buf = vec![0u8; usize::from(spec.max_reply_length) + 1];
    match tokio::time::timeout(timeout, socket.recv(&mut buf)).await {
        Ok(Ok(n)) => judge(spec, &buf[..n], dst),
        Ok(Err(e)) => io_error(dst, &e),
        Err(_) if spec.require_reply => {
            Outcome::down(format!("no UDP reply from {dst} within {}", secs(timeout)))
        }
        Err(_) => Outcome::up(format!("no ICMP error from {dst} within {}", secs(timeout))),
    }
}

fn io_error(dst: SocketAddrV4, e: &std::io::Error) -> Outcome {
    match e.kind() {
        ErrorKind::ConnectionRefused => Outcome::down(format!("ICMP port unreachable from {dst}")),
        _ => Outcome::down(format!("UDP to {dst} failed: {e}")),
    }
}

/// A reply's verdict: any reply is up without `require_reply` (keepalived); with it, the
/// length must be in bounds and the reply must start with the `reply` bytes.
fn judge(spec: &UdpCheck, reply: &[u8], dst: SocketAddrV4) -> Outcome {
    if spec.require_reply {
        let (min, max) = (spec.min_reply_length, spec.max_reply_length);
        if reply.len() < usize::from(min) || reply.len() > usize::from(max) {
            return Outcome::down(format!(
                "UDP reply of {} bytes from {dst}, expected {min} to {max}",
                reply.len()
            ));
        }
        if let Some(want) = &spec.reply {
            if !reply.starts_with(&want.0) {
                return Outcome::down(format!("UDP reply from {dst} does not start with {want}"));
            }
        }
    }
    Outcome::up(format!("UDP reply of {} bytes from {dst}", reply.len()))
}

#[cfg(test)]
mod tests {
    use super::super::hex::HexBytes;
    use super::*;

    #[test]
    fn reply_rules() {
        let dst: SocketAddrV4 = "192.0.2.13:7".parse().unwrap();
        let mut spec = UdpCheck {
            require_reply: true,
            reply: Some(HexBytes(b"pong".to_vec())),
            min_reply_length: 4,
            max_reply_length: 8,
            ..UdpCheck::default()
        };
        assert!(judge(&spec, b"pong!", dst).up);
        assert_eq!(
            judge(&spec, b"ping!", dst).reason,
            "UDP reply from 192.0.2.13:7 does not start with 706f6e67"
        );
        assert_eq!(
            judge(&spec, b"pong pong", dst).reason,
            "UDP reply of 9 bytes from 192.0.2.13:7, expected 4 to 8"
        );
        spec.require_reply = false;
        assert!(judge(&spec, b"anything at all", dst).up);
    }
}
