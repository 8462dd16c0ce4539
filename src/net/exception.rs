//! The exception path's kernel side: a `net_tap` device per data port carries the port's
//! MAC, and here we give its kernel interface the port's addresses, MTU and the static
//! routes, so the director's own kernel (health checks, ssh, ...) uses the data networks.
//! Runs on the management thread at start; shells out to `ip`, as an operator would.

use super::host_addrs::{self, Conflict};
use crate::wire::Ipv4Net;
use std::net::Ipv4Addr;
use std::process::Command;

/// Why the kernel interface could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("exception path {iface}: `{cmd}` failed: {reason}")]
pub struct Error {
    /// The tap interface.
    pub iface: String,
    /// The command that failed.
    pub cmd: String,
    /// Its stderr, or why it could not run.
    pub reason: String,
}

fn run(iface: &str, args: &[&str]) -> Result<(), Error> {
    let out = Command::new("ip").args(args).output().map_err(|e| Error {
        iface: iface.to_string(),
        cmd: format!("ip {}", args.join(" ")),
        reason: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(Error {
            iface: iface.to_string(),
            cmd: format!("ip {}", args.join(" ")),
            reason: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Names the kernel can use as an interface name (IFNAMSIZ-1, no slash or space).
pub fn valid_iface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Compares the port's addresses with those the host's other interfaces have (`ip -o
/// -4 addr show`): an address already local elsewhere is refused (the kernel would
/// answer for it twice); an overlapping subnet is a warning naming the port, the
/// address and the host interface, since the tap's connected route then competes
/// with that interface's.
fn check_host_addrs(port: &str, iface: &str, addrs: &[Ipv4Net]) -> Result<(), Error> {
    let args = ["-o", "-4", "addr", "show"];
    let out = Command::new("ip").args(args).output().map_err(|e| Error {
        iface: iface.to_string(),
        cmd: format!("ip {}", args.join(" ")),
        reason: e.to_string(),
    })?;
    let host = host_addrs::parse_ip_addr(&String::from_utf8_lossy(&out.stdout));
    for c in host_addrs::conflicts(iface, addrs, &host) {
        match c {
            Conflict::SameAddress { addr, iface: other } => {
                return Err(Error {
                    iface: iface.to_string(),
                    cmd: format!("ip addr replace {addr} dev {iface}"),
                    reason: format!(
                        "port {port} address {} is already a local address of host interface {other}",
                        addr.addr
                    ),
                })
            }
            Conflict::Overlap {
                addr,
                other,
                iface: host_if,
            } => log::warn!(
                "port {port}: address {addr} overlaps {other} on host interface {host_if}: the exception path ({iface}) takes over part of that subnet"
            ),
        }
    }
    Ok(())
}

/// Brings the tap's kernel interface up with `addrs`, `mtu` and the routes that leave
/// through this port (`(prefix, via)`), with IPv6 off (rvs is IPv4-only).
pub fn configure(
    port: &str,
    iface: &str,
    addrs: &[Ipv4Net],
    mtu: u16,
    routes: &[(Ipv4Net, Option<Ipv4Addr>)],
) -> Result<(), Error> {
    check_host_addrs(port, iface, addrs)?;
    let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{iface}/disable_ipv6"), "1");
    run(
        iface,
        &["link", "set", "dev", iface, "mtu", &mtu.to_string()],
    )?;
    for a in addrs {
        run(iface, &["addr", "replace", &a.to_string(), "dev", iface])?;
    }
    run(iface, &["link", "set", "dev", iface, "up"])?;
    for (prefix, via) in routes {
        let p = Ipv4Net {
            addr: prefix.network(),
            len: prefix.len,
        }
        .to_string();
        match via {
            Some(v) => run(
                iface,
                &["route", "replace", &p, "via", &v.to_string(), "dev", iface],
            )?,
            None => run(iface, &["route", "replace", &p, "dev", iface])?,
        }
    }
    Ok(())
}

/// True while a kernel interface of that name exists (shutdown checks).
pub fn iface_exists(iface: &str) -> bool {
    std::path::Path::new(&format!("/sys/class/net/{iface}")).exists()
}
