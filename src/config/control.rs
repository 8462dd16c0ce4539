//! `[control]`: the control socket rvsadm talks to (docs/CONTROL.md).

use super::locate::KeyPath;
use super::raw::RawControl;
use super::validate::{Checker, Res};
use super::{AdminGroup, Control, ErrorKind};
use std::path::PathBuf;

/// Longest Unix socket path (sun_path is 108 bytes with the NUL).
const MAX_SOCKET_PATH_LEN: usize = 107;
/// Longest idle time accepted for `idle_timeout` (1 hour).
const MAX_IDLE_TIMEOUT_SECS: i64 = 3600;

impl Checker<'_> {
    /// `socket` (1..=107 bytes), `state_file` (not empty), `admin_group` (a group name this machine resolves: the
    /// one key checked against the machine, so that an unknown group is an error with a
    /// line rather than a start-up failure without one) and `idle_timeout` (1..=3600 s).
    pub(super) fn control(&self, raw: RawControl) -> Res<Control> {
        let cp = KeyPath::root().key("control");
        let socket = raw
            .socket
            .unwrap_or_else(|| Control::DEFAULT_SOCKET.to_owned());
        if socket.is_empty() || socket.len() > MAX_SOCKET_PATH_LEN {
            return Err(self.err(
                &cp.key("socket"),
                ErrorKind::Range,
                format!("socket path must be 1..{MAX_SOCKET_PATH_LEN} bytes (Unix socket limit)"),
            ));
        }
        let state_file = match raw.state_file {
            Some(f) if f.is_empty() => {
                return Err(self.err(
                    &cp.key("state_file"),
                    ErrorKind::Range,
                    "state_file must not be empty (leave it out for no state file)",
                ))
            }
            f => f.map(PathBuf::from),
        };
        let admin_group = match raw.admin_group {
            None => None,
            Some(name) => Some(self.admin_group(&cp.key("admin_group"), name)?),
        };
        let idle_timeout_secs = self.num(
            &cp.key("idle_timeout"),
            raw.idle_timeout,
            Control::DEFAULT_IDLE_TIMEOUT_SECS,
            (1, MAX_IDLE_TIMEOUT_SECS),
            "idle_timeout",
        )?;
        Ok(Control {
            socket: PathBuf::from(socket),
            state_file,
            admin_group,
            idle_timeout_secs,
        })
    }

    /// Resolves a group name through the system's group database (`getgrnam`).
    fn admin_group(&self, path: &KeyPath, name: String) -> Res<AdminGroup> {
        match nix::unistd::Group::from_name(&name) {
            Ok(Some(g)) => Ok(AdminGroup {
                name,
                gid: g.gid.as_raw(),
            }),
            Ok(None) => Err(self.err(
                path,
                ErrorKind::Reference,
                format!("no such group {name:?} on this machine"),
            )),
            Err(e) => Err(self.err(
                path,
                ErrorKind::Reference,
                format!("cannot look up group {name:?}: {e}"),
            )),
        }
    }
}
