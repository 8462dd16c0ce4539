//! The listening socket and its accept thread: creating the socket safely (parent
//! directory, stale socket of a dead rvsd, refusal when another rvsd answers), its
//! mode and group, one thread per accepted client up to [`MAX_CLIENTS`], and a clean
//! stop that closes every client and removes the socket.

use super::channel::CommandTx;
use super::conn::{serve, write_response, ClientCtx};
use super::MAX_CLIENTS;
use crate::config::Control;
use crate::ctl::{ErrorKind, Response};
use nix::sys::stat::{umask, Mode};
use std::collections::HashMap;
use std::fs::{DirBuilder, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Why the control socket could not be set up (rvsd refuses to start).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The parent directory could not be created.
    #[error("control socket {path}: cannot create directory {dir}: {source}")]
    Dir {
        /// The socket path.
        path: PathBuf,
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Another process answers on the socket: another rvsd is running with it.
    #[error("control socket {0}: another rvsd answers on it (stop it, or set [control] socket)")]
    InUse(PathBuf),
    /// Something that is not a socket is in the way; rvsd never deletes it.
    #[error("control socket {0}: exists and is not a socket (remove it, or set [control] socket)")]
    NotASocket(PathBuf),
    /// Binding, chmod, chown or starting the accept thread failed.
    #[error("control socket {path}: {what}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The step that failed.
        what: &'static str,
        /// Why.
        source: io::Error,
    },
}

/// Live client connections, to close them at stop.
#[derive(Default)]
struct Clients {
    next_id: u64,
    streams: HashMap<u64, UnixStream>,
    threads: HashMap<u64, JoinHandle<()>>,
}

/// The running control socket server.
pub struct Server {
    path: PathBuf,
    /// Inode of the socket we bound: removed at stop only if it is still ours.
    ino: u64,
    stop: Arc<AtomicBool>,
    clients: Arc<Mutex<Clients>>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Creates the socket at `control.socket` (mode 0600, or 0660 owned by the admin
    /// group) and starts accepting clients, whose requests go to `commands`.
    pub fn start(control: &Control, commands: CommandTx) -> Result<Server, StartError> {
        let path = control.socket.clone();
        let io_err = |what| {
            let path = path.clone();
            move |source| StartError::Io { path, what, source }
        };
        prepare_path(&path)?;
        // No moment where the socket is open to others: created 0600 (umask 0177),
        // loosened to 0660 only after its group is set. umask is process-wide, but no
        // other thread creates files while rvsd starts.
        let old = umask(Mode::from_bits_truncate(0o177));
        let bound = UnixListener::bind(&path);
        umask(old);
        let listener = bound.map_err(io_err("bind"))?;
        let mut mode = 0o600;
        if let Some(g) = &control.admin_group {
            nix::unistd::chown(&path, None, Some(nix::unistd::Gid::from_raw(g.gid)))
                .map_err(|e| io_err("chown to the admin group")(io::Error::from(e)))?;
            mode = 0o660;
        }
        std::fs::set_permissions(&path, Permissions::from_mode(mode)).map_err(io_err("chmod"))?;
        let ino = std::fs::metadata(&path).map_err(io_err("stat"))?.ino();
        let stop = Arc::new(AtomicBool::new(false));
        let clients = Arc::new(Mutex::new(Clients::default()));
        let ctx = ClientCtx {
            commands,
            admin_group: control.admin_group.clone(),
            idle_timeout: Duration::from_secs(control.idle_timeout_secs.into()),
        };
        let accept = {
            let (stop, clients) = (stop.clone(), clients.clone());
            std::thread::Builder::new()
                .name("ctl-accept".into())
                .spawn(move || accept_loop(&listener, &ctx, &stop, &clients))
                .map_err(io_err("starting the accept thread"))?
        };
        log::info!(
            "control socket {} (mode {mode:o}{})",
            path.display(),
            control
                .admin_group
                .as_ref()
                .map(|g| format!(", group {}", g.name))
                .unwrap_or_default()
        );
        Ok(Server {
            path,
            ino,
            stop,
            clients,
            accept: Some(accept),
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting, closes every client (a client waiting for a response gets
    /// `internal` "rvsd is stopping" once the management loop's end of the channel is
    /// gone), joins the threads and removes the socket file if it is still ours.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept(); the accept thread sees `stop` and returns.
        let woken = UnixStream::connect(&self.path).is_ok();
        if woken {
            let _ = accept.join();
        }
        let threads = {
            let mut c = lock(&self.clients);
            for s in c.streams.values() {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
            c.streams.clear();
            std::mem::take(&mut c.threads)
        };
        for (_, t) in threads {
            let _ = t.join();
        }
        let ours = std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.ino);
        if ours {
            if let Err(e) = std::fs::remove_file(&self.path) {
                log::warn!("control socket {}: cannot remove: {e}", self.path.display());
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The parent directory exists (created 0755 if missing); a socket file left by a
/// dead rvsd is removed; a live one, or anything that is not a socket, is refused.
fn prepare_path(path: &Path) -> Result<(), StartError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(|source| StartError::Dir {
                path: path.to_owned(),
                dir: dir.to_owned(),
                source,
            })?;
    }
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(StartError::Io {
                path: path.to_owned(),
                what: "stat",
                source,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(StartError::NotASocket(path.to_owned()));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(StartError::InUse(path.to_owned())),
        // Nobody listens: the socket of a process that is gone.
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            log::info!(
                "control socket {}: removing the stale socket of a stopped rvsd",
                path.display()
            );
            std::fs::remove_file(path).map_err(|source| StartError::Io {
                path: path.to_owned(),
                what: "removing the stale socket",
                source,
            })
        }
        Err(source) => Err(StartError::Io {
            path: path.to_owned(),
            what: "checking whether another rvsd answers",
            source,
        }),
    }
}

fn lock(c: &Mutex<Clients>) -> std::sync::MutexGuard<'_, Clients> {
    // A client thread never panics while holding it; recover the data if one did.
    c.lock().unwrap_or_else(|e| e.into_inner())
}

fn accept_loop(
    listener: &UnixListener,
    ctx: &ClientCtx,
    stop: &AtomicBool,
    clients: &Arc<Mutex<Clients>>,
) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                log::warn!("control socket: accept: {e}");
                // EMFILE and the like: do not spin.
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        admit(stream, ctx, clients);
    }
}

/// Starts a thread for `stream`, or answers "too many clients" and closes it.
fn admit(stream: UnixStream, ctx: &ClientCtx, clients: &Arc<Mutex<Clients>>) {
    let mut c = lock(clients);
    // Reap finished threads first, so their slots are free.
    let done: Vec<u64> = c
        .threads
        .iter()
        .filter(|(_, t)| t.is_finished())
        .map(|(id, _)| *id)
        .collect();
    for id in done {
        if let Some(t) = c.threads.remove(&id) {
            let _ = t.join();
        }
        c.streams.remove(&id);
    }
    if c.threads.len() >= MAX_CLIENTS {
        drop(c);
        log::warn!("control socket: {MAX_CLIENTS} clients already connected; refusing one more");
        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
        let r = Response::err(
            None,
            ErrorKind::Internal,
            format!("too many clients: rvsd serves at most {MAX_CLIENTS} at once; try again"),
        );
        let _ = write_response(&stream, &r);
        return;
    }
    let Ok(handle) = stream.try_clone() else {
        return;
    };
    c.next_id += 1;
    let id = c.next_id;
    let ctx = ctx.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("ctl-client-{id}"))
        .spawn(move || serve(stream, &ctx, id));
    match spawned {
        Ok(t) => {
            c.streams.insert(id, handle);
            c.threads.insert(id, t);
        }
        Err(e) => log::warn!("control socket: cannot start a client thread: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rvs-ctl-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_missing_parent_is_created_0755() {
        let d = tmp("parent");
        let path = d.join("run/rvs/rvsd.sock");
        prepare_path(&path).unwrap();
        let meta = std::fs::metadata(d.join("run/rvs")).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.permissions().mode() & 0o777, 0o755);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_stale_socket_is_removed_a_live_one_and_other_files_are_refused() {
        let d = tmp("stale");
        std::fs::create_dir_all(&d).unwrap();
        let path = d.join("rvsd.sock");
        let live = UnixListener::bind(&path).unwrap();
        assert!(matches!(prepare_path(&path), Err(StartError::InUse(_))));
        assert!(path.exists(), "a live socket is left alone");
        drop(live); // the file stays, nobody listens: stale
        prepare_path(&path).unwrap();
        assert!(!path.exists(), "stale socket removed");
        std::fs::write(&path, "not a socket").unwrap();
        assert!(matches!(
            prepare_path(&path),
            Err(StartError::NotASocket(_))
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
