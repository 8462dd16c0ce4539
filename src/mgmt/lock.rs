//! One rvsd per data port. Two daemons on the same NIC or af_packet interface both
//! receive every frame and both forward it (every packet leaves twice), and the second
//! records the first one's sysctl changes as the "original" values. So at start, before
//! any device or sysctl is touched, rvsd takes an exclusive `flock` per port on a file
//! in [`LOCK_DIR`] and refuses to start when another process holds it, naming that
//! process (the holder writes its pid into the file). The kernel drops the locks when
//! the process exits, however it exits; the files stay (empty of meaning without a lock).
//!
//! Keys: an af_packet port locks its kernel interface (`rvs-af_packet-<iface>.lock`),
//! so `net_af_packet0,iface=eth1` and `net_af_packet3,iface=eth1` collide; a PCI port
//! locks its address (`rvs-pci-<address>.lock`). Other virtual devices (`net_null`,
//! `net_ring`, `net_pcap`, `net_tap`) are private to the process or named by the
//! process's own files and interfaces, so they take no lock.

use crate::config::{Device, Port};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Where the lock files live (the FHS place for lock files; created if missing).
pub const LOCK_DIR: &str = "/run/lock";

/// The locks held for this process's ports; dropping it (or exiting) releases them.
#[derive(Debug)]
pub struct PortLocks {
    _files: Vec<File>,
}

/// The lock file name for `device`, None when it takes no lock (see the module doc).
pub fn lock_name(device: &Device) -> Option<String> {
    match device {
        Device::Pci(addr) => Some(format!("rvs-pci-{addr}.lock")),
        Device::Vdev(s) => crate::net::afpacket::iface_of(s)
            .map(|i| format!("rvs-af_packet-{}.lock", primary_iface(i))),
    }
}

/// The kernel's own name of interface `name`, which may be an alternative name (`ip link
/// property add ... altname`): two names of one interface must take one lock. Asks `ip`
/// (start-up only); a name `ip` does not know is returned as given (start-up then fails
/// naming it).
fn primary_iface(name: &str) -> String {
    let out = std::process::Command::new("ip")
        .args(["-o", "link", "show", "dev", name])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            parse_primary(&String::from_utf8_lossy(&o.stdout)).unwrap_or_else(|| name.into())
        }
        _ => name.to_string(),
    }
}

/// The interface name in one line of `ip -o link show`: `5: eth1: <...` or, for a veth,
/// `5: eth1@if6: <...`.
fn parse_primary(line: &str) -> Option<String> {
    let name = line.split(": ").nth(1)?;
    let name = name.split('@').next()?;
    (!name.is_empty()).then(|| name.to_string())
}

/// Takes the lock of every port in `dir` (normally [`LOCK_DIR`]). The error is one line
/// naming the port, the device, the other holder's pid and the lock file.
pub fn lock_ports(dir: &Path, ports: &[Port]) -> Result<PortLocks, String> {
    let mut files = Vec::new();
    for p in ports {
        let Some(name) = lock_name(&p.device) else {
            continue;
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("port {}: cannot create {}: {e}", p.name, dir.display()))?;
        let path = dir.join(name);
        files.push(lock_one(&path).map_err(|why| {
            format!(
                "port {}: device {} {why} (lock {})",
                p.name,
                p.device,
                path.display()
            )
        })?);
    }
    Ok(PortLocks { _files: files })
}

fn lock_one(path: &PathBuf) -> Result<File, String> {
    // O_NOFOLLOW: /run/lock is world-writable, so a symlink planted there must not make
    // root rvsd open (and write its pid into) some other file.
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| format!("cannot open its lock file: {e}"))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = f.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(if holder.is_empty() {
                "is already used by another rvsd".to_string()
            } else {
                format!("is already used by another rvsd (pid {holder})")
            });
        }
        Err(TryLockError::Error(e)) => return Err(format!("cannot lock: {e}")),
    }
    // Ours now: record who holds it, for the next one's message.
    let pid = std::process::id();
    f.set_len(0)
        .and_then(|()| f.rewind())
        .and_then(|()| writeln!(f, "{pid}"))
        .map_err(|e| format!("cannot write its lock file: {e}"))?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(name: &str, device: Device) -> Port {
        let text = "[eal]\nargs = []\n[cores]\nworkers = [0]\n[[port]]\nname = \"a\"\ndevice = \"net_null0\"\naddresses = [\"192.0.2.1/24\"]\n";
        let mut p = crate::config::Config::from_str_named(text, "t.toml")
            .unwrap()
            .ports
            .remove(0);
        p.name = name.into();
        p.device = device;
        p
    }

    #[test]
    fn second_holder_of_an_interface_is_refused_naming_the_first() {
        let dir = std::env::temp_dir().join(format!("rvs-lock-{}", std::process::id()));
        let a = port("ext", Device::Vdev("net_af_packet0,iface=rvs-lk0".into()));
        let b = port(
            "wan",
            Device::Vdev("net_af_packet5,iface=rvs-lk0,qpairs=2".into()),
        );
        let held = lock_ports(&dir, std::slice::from_ref(&a)).unwrap();
        let err = lock_ports(&dir, std::slice::from_ref(&b)).unwrap_err();
        assert!(
            err.starts_with("port wan: device net_af_packet5,iface=rvs-lk0,qpairs=2 is already used by another rvsd (pid ")
                && err.contains(&std::process::id().to_string())
                && err.contains("rvs-af_packet-rvs-lk0.lock"),
            "{err}"
        );
        drop(held);
        assert!(lock_ports(&dir, &[b]).is_ok());
        // Devices without a kernel or bus resource take no lock.
        let n = port("n", Device::Vdev("net_null0".into()));
        let _one = lock_ports(&dir, std::slice::from_ref(&n)).unwrap();
        assert!(lock_ports(&dir, &[n]).is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_primary_name_is_read_from_ip_link() {
        let veth = "5: r2-ext@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff link-netns x\\    altname r2alt\n";
        assert_eq!(parse_primary(veth).as_deref(), Some("r2-ext"));
        let nic = "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n";
        assert_eq!(parse_primary(nic).as_deref(), Some("eth0"));
        assert_eq!(parse_primary(""), None);
    }

    /// Operator review: an altname of the interface locked by a running rvsd let a
    /// second rvsd onto it. Both names now take the primary name's lock.
    #[test]
    fn an_altname_takes_the_interface_s_own_lock() {
        let pid = std::process::id() % 100_000;
        let (a, b, alt) = (
            format!("rvlk{pid}"),
            format!("rvlk{pid}p"),
            format!("rvalt{pid}"),
        );
        let ip = |args: &[&str]| {
            std::process::Command::new("ip")
                .args(args)
                .status()
                .is_ok_and(|s| s.success())
        };
        if !ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]) {
            eprintln!("skipped: cannot create a veth (not root?)");
            return;
        }
        let has_alt = ip(&["link", "property", "add", "dev", &a, "altname", &alt]);
        let by_alt = lock_name(&Device::Vdev(format!("net_af_packet0,iface={alt}")));
        let by_name = lock_name(&Device::Vdev(format!("net_af_packet1,iface={a}")));
        ip(&["link", "del", &a]);
        assert!(has_alt, "ip link property add altname failed");
        assert_eq!(by_alt, by_name);
        assert_eq!(by_name, Some(format!("rvs-af_packet-{a}.lock")));
    }

    #[test]
    fn a_symlink_planted_as_the_lock_file_is_not_followed() {
        let dir = std::env::temp_dir().join(format!("rvs-lock-sym-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("rvs-af_packet-rvs-lk1.lock")).unwrap();
        let a = port("ext", Device::Vdev("net_af_packet0,iface=rvs-lk1".into()));
        let err = lock_ports(&dir, &[a]).unwrap_err();
        assert!(err.contains("cannot open its lock file"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        std::fs::remove_dir_all(&dir).ok();
    }
}
