//! Who is on the other end of a control connection (SO_PEERCRED: the credentials the
//! peer process had when it connected, given by the kernel, not by the client) and
//! whether it may use rvsd: root, or a member of `[control] admin_group`.

use crate::config::AdminGroup;
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::unistd::{getgrouplist, Gid, Uid, User};
use std::ffi::CString;
use std::os::unix::net::UnixStream;

/// A connected peer's credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Process id (for the log).
    pub pid: i32,
    /// Effective user id.
    pub uid: u32,
    /// Effective (primary) group id.
    pub gid: u32,
}

/// The peer's credentials, from `getsockopt(SO_PEERCRED)`.
pub fn peer_of(stream: &UnixStream) -> nix::Result<Peer> {
    let c = getsockopt(stream, PeerCredentials)?;
    Ok(Peer {
        pid: c.pid(),
        uid: c.uid(),
        gid: c.gid(),
    })
}

/// Whether `peer` may use the socket: uid 0, or, with an admin group, a peer whose
/// primary gid is that group or whose user (looked up by uid in the user database)
/// is in it, as `id USER` shows: its own primary group or a group listing it
/// (`getgrouplist`). A uid the user database does not know is a member only through
/// the peer's primary gid.
pub fn admitted(peer: &Peer, group: Option<&AdminGroup>) -> bool {
    if peer.uid == 0 {
        return true;
    }
    let Some(g) = group else {
        return false;
    };
    peer.gid == g.gid || user_in_group(peer.uid, g.gid)
}

/// Whether the user with `uid` is in group `gid` by the user and group databases.
fn user_in_group(uid: u32, gid: u32) -> bool {
    let Ok(Some(user)) = User::from_uid(Uid::from_raw(uid)) else {
        return false;
    };
    let Ok(name) = CString::new(user.name) else {
        return false;
    };
    getgrouplist(&name, user.gid)
        .map(|groups| groups.contains(&Gid::from_raw(gid)))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str) -> AdminGroup {
        let g = nix::unistd::Group::from_name(name).unwrap().unwrap();
        AdminGroup {
            name: name.to_owned(),
            gid: g.gid.as_raw(),
        }
    }

    #[test]
    fn root_always_others_only_through_the_admin_group() {
        let root = Peer {
            pid: 1,
            uid: 0,
            gid: 0,
        };
        assert!(admitted(&root, None));
        // nobody/nogroup (65534 on Debian): not admitted without a group, nor with a
        // group it is not in, admitted through its primary gid.
        let nobody = Peer {
            pid: 2,
            uid: 65534,
            gid: 65534,
        };
        assert!(!admitted(&nobody, None));
        assert!(!admitted(&nobody, Some(&group("root"))));
        assert!(admitted(&nobody, Some(&group("nogroup"))));
        // A uid no user database knows, with another primary gid: refused.
        let ghost = Peer {
            pid: 3,
            uid: 54321,
            gid: 54321,
        };
        assert!(!admitted(&ghost, Some(&group("nogroup"))));
    }

    #[test]
    fn the_users_groups_count_as_id_shows_them() {
        // nobody's primary group in the user database is nogroup; it is not in root.
        let nogroup = nix::unistd::Group::from_name("nogroup").unwrap().unwrap();
        assert!(user_in_group(65534, nogroup.gid.as_raw()));
        assert!(!user_in_group(65534, 0));
        // A peer running as nobody with another primary gid is still in nogroup.
        let nobody_as_daemon = Peer {
            pid: 2,
            uid: 65534,
            gid: 1,
        };
        assert!(admitted(&nobody_as_daemon, Some(&group("nogroup"))));
        // Every user listed as a member in /etc/group is in that group (the machine's
        // own groups; on a bare image none, then only the lines above test).
        let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
        for line in groups.lines() {
            let f: Vec<&str> = line.split(':').collect();
            let (Some(gid), Some(members)) = (f.get(2), f.get(3)) else {
                continue;
            };
            let Ok(gid) = gid.parse::<u32>() else {
                continue;
            };
            for m in members.split(',').filter(|m| !m.is_empty()) {
                if let Ok(Some(u)) = User::from_name(m) {
                    assert!(user_in_group(u.uid.as_raw(), gid), "{m} in {gid}");
                }
            }
        }
    }

    #[test]
    fn a_socketpair_peer_is_this_process() {
        let (a, _b) = UnixStream::pair().unwrap();
        let p = peer_of(&a).unwrap();
        assert_eq!(p.pid, std::process::id() as i32);
        assert_eq!(p.uid, nix::unistd::geteuid().as_raw());
    }
}
