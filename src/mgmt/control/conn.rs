//! One client connection, on its own thread: the peer check, then request line after
//! request line, each answered with one response line, in order, until the client
//! closes, stalls past the idle timeout, sends an oversize line, or rvsd stops.

use super::channel::{call_envelope, CommandTx};
use super::frame::{parse_request, read_line, Frame};
use super::peer::{admitted, peer_of};
use super::WRITE_TIMEOUT;
use crate::config::AdminGroup;
use crate::ctl::proto::MAX_REQUEST_BYTES;
use crate::ctl::{ErrorKind, Response};
use std::io::{self, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// What a client thread needs besides its stream.
#[derive(Clone)]
pub struct ClientCtx {
    /// Where requests go.
    pub commands: CommandTx,
    /// `[control] admin_group`.
    pub admin_group: Option<AdminGroup>,
    /// `[control] idle_timeout`: the time a client has to finish each request line,
    /// counted from its previous response (or from connecting).
    pub idle_timeout: Duration,
}

/// Serves one client until it is done; `id` names it in the log. Never panics on what
/// the client sends; every failure closes this connection only.
pub fn serve(stream: UnixStream, ctx: &ClientCtx, id: u64) {
    if check_peer(&stream, ctx, id) {
        if let Err(e) = serve_requests(&stream, ctx, id) {
            log::debug!("control client {id}: closed: {e}");
        }
    }
    // Closes the connection now: the listener keeps a duplicate of the descriptor (to
    // close it at stop), which alone would keep the client waiting.
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// SO_PEERCRED check; a refused peer gets one `permission_denied` line and is logged.
fn check_peer(stream: &UnixStream, ctx: &ClientCtx, id: u64) -> bool {
    let peer = match peer_of(stream) {
        Ok(p) => p,
        Err(e) => {
            log::warn!("control client {id}: cannot read its credentials (SO_PEERCRED): {e}");
            return false;
        }
    };
    if admitted(&peer, ctx.admin_group.as_ref()) {
        log::debug!(
            "control client {id}: uid {} gid {} pid {}",
            peer.uid,
            peer.gid,
            peer.pid
        );
        return true;
    }
    let who = match &ctx.admin_group {
        Some(g) => format!("root or a member of group {}", g.name),
        None => "root".to_owned(),
    };
    log::warn!(
        "control socket: refused uid {} gid {} pid {}: not {who}",
        peer.uid,
        peer.gid,
        peer.pid
    );
    let refusal = Response::err(
        None,
        ErrorKind::PermissionDenied,
        format!(
            "uid {} may not use rvsd's control socket: only {who} may",
            peer.uid
        ),
    );
    let _ = write_response(stream, &refusal);
    false
}

fn serve_requests(stream: &UnixStream, ctx: &ClientCtx, id: u64) -> io::Result<()> {
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    // A small buffer: a request line is gathered in `line`, bounded by read_line.
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut line = Vec::new();
    loop {
        let deadline = Instant::now() + ctx.idle_timeout;
        match read_line_by(&mut reader, &mut line, deadline)? {
            Frame::Line => {
                let response = match parse_request(&line) {
                    Ok(envelope) => call_envelope(&ctx.commands, envelope),
                    Err(refusal) => *refusal,
                };
                write_response(stream, &response)?;
            }
            Frame::TooLarge => {
                let r = Response::err(
                    None,
                    ErrorKind::TooLarge,
                    format!("request line longer than {MAX_REQUEST_BYTES} bytes; closing"),
                );
                write_response(stream, &r)?;
                log::warn!(
                    "control client {id}: request line over {MAX_REQUEST_BYTES} bytes; closed"
                );
                return Ok(());
            }
            Frame::Eof { partial } => {
                if partial {
                    log::debug!(
                        "control client {id}: closed with an unfinished request line, discarded"
                    );
                }
                return Ok(());
            }
        }
    }
}

/// [`read_line`] that fails with `TimedOut` once `deadline` passes (a client trickling
/// a byte at a time cannot hold its thread longer than the idle timeout per line).
fn read_line_by(
    reader: &mut BufReader<&UnixStream>,
    line: &mut Vec<u8>,
    deadline: Instant,
) -> io::Result<Frame> {
    let mut dl = Deadline {
        inner: reader,
        deadline,
    };
    read_line(&mut dl, line)
}

/// A `BufRead` whose every refill first sets the socket's read timeout to what is left
/// until the deadline.
struct Deadline<'a, 'b> {
    inner: &'a mut BufReader<&'b UnixStream>,
    deadline: Instant,
}

impl io::Read for Deadline<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm()?;
        self.inner.read(buf)
    }
}

impl io::BufRead for Deadline<'_, '_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.inner.buffer().is_empty() {
            self.arm()?;
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n)
    }
}

impl Deadline<'_, '_> {
    fn arm(&mut self) -> io::Result<()> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "idle timeout: no complete request line in time",
            ));
        }
        self.inner.get_ref().set_read_timeout(Some(left))
    }
}

/// Writes one response line (JSON and a newline) in one `write_all`.
pub fn write_response(mut stream: &UnixStream, r: &Response) -> io::Result<()> {
    let mut out = serde_json::to_vec(r).map_err(io::Error::other)?;
    out.push(b'\n');
    stream.write_all(&out)?;
    stream.flush()
}
