//! DNS_CHECK (keepalived check_dns.c): one query (recursion desired, as keepalived) over
//! a connected UDP socket, built and parsed with hickory-proto. Replies with another id,
//! or that are not responses, are skipped as keepalived skips them; the first matching
//! reply decides: rcode NOERROR is up (and, with `require_answer`, at least one answer
//! record), anything else is down.

use std::net::SocketAddrV4;
use std::str::FromStr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

use super::conn::{destination, udp_connect};
use super::outcome::{secs, Outcome};
use super::spec::{DnsCheck, DnsType};

/// Runs one DNS_CHECK of `target` (the real server) with `timeout` for the reply.
pub async fn check(spec: &DnsCheck, target: SocketAddrV4, timeout: Duration) -> Outcome {
    let conn = spec.conn();
    let dst = destination(&conn, target);
    let qtype = record_type(spec.qtype);
    let asked = format!("{} {qtype}", spec.name);
    let Ok(name) = Name::from_str(&spec.name) else {
        return Outcome::down(format!("DNS_CHECK name \"{}\" is not valid", spec.name));
    };
    let id = query_id();
    let mut query = Message::new(id, MessageType::Query, OpCode::Query);
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(name, qtype));
    let bytes = match query.to_vec() {
        Ok(b) => b,
        Err(e) => return Outcome::down(format!("DNS query {asked} not encodable: {e}")),
    };
    let socket = match udp_connect(&conn, dst).await {
        Ok(s) => s,
        Err(down) => return down,
    };
    let exchange = async {
        socket.send(&bytes).await?;
        let mut buf = vec![0u8; 4096];
        loop {
            let n = socket.recv(&mut buf).await?;
            let Ok(reply) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            if reply.metadata.id == id && reply.metadata.message_type == MessageType::Response {
                return Ok::<Message, std::io::Error>(reply);
            }
        }
    };
    let reply = match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Outcome::down(format!("ICMP port unreachable from {dst}"))
        }
        Ok(Err(e)) => return Outcome::down(format!("DNS to {dst} failed: {e}")),
        Err(_) => {
            return Outcome::down(format!(
                "no DNS reply from {dst} within {} ({asked})",
                secs(timeout)
            ))
        }
    };
    let rcode = reply.metadata.response_code;
    if rcode != ResponseCode::NoError {
        // dig's mnemonics (NXDOMAIN, SERVFAIL, REFUSED), the words operators grep for.
        let rcode = format!("{rcode:?}").to_uppercase();
        return Outcome::down(format!("DNS {rcode} from {dst} ({asked})"));
    }
    let answers = reply.answers.len();
    if spec.require_answer && answers == 0 {
        return Outcome::down(format!("DNS answer without records from {dst} ({asked})"));
    }
    let records = if answers == 1 { "record" } else { "records" };
    Outcome::up(format!(
        "DNS answer of {answers} {records} from {dst} ({asked})"
    ))
}

fn record_type(t: DnsType) -> RecordType {
    match t {
        DnsType::A => RecordType::A,
        DnsType::NS => RecordType::NS,
        DnsType::CNAME => RecordType::CNAME,
        DnsType::SOA => RecordType::SOA,
        DnsType::MX => RecordType::MX,
        DnsType::TXT => RecordType::TXT,
        DnsType::AAAA => RecordType::AAAA,
        DnsType::RRSIG => RecordType::RRSIG,
        DnsType::DNSKEY => RecordType::DNSKEY,
    }
}

/// A query id hard to guess from outside (keepalived uses random()): the clock's
/// nanoseconds mixed with a per-process counter, so concurrent checks differ too.
fn query_id() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Relaxed: the counter only has to differ between calls, it orders nothing.
    let n = NEXT.fetch_add(0x9e37, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    n ^ (nanos as u16) ^ ((nanos >> 16) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_what_keepalived_sends() {
        let mut q = Message::new(0x1234, MessageType::Query, OpCode::Query);
        q.metadata.recursion_desired = true;
        q.add_query(Query::query(
            Name::from_str(".").unwrap(),
            record_type(DnsType::SOA),
        ));
        let bytes = q.to_vec().unwrap();
        // id, flags RD, one question, root name, type SOA (6), class IN (1).
        assert_eq!(
            bytes,
            [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1]
        );
    }
}
