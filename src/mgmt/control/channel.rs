//! The command channel: how a request reaches the management loop, which alone applies
//! it (`Manager::run` answers each [`Command`] at once, in arrival order). Client
//! threads, the SIGHUP thread and any other reader of rvsd's state (the metrics
//! endpoint) send through a [`CommandTx`] and wait for the [`Response`].

use crate::ctl::{ErrorKind, Request, RequestEnvelope, Response};
use crossbeam::channel::{Receiver, Sender};

/// One request for the management loop and where its response goes.
pub struct Command {
    /// The request, its version already checked.
    pub envelope: RequestEnvelope,
    /// Where the management loop sends the response (dropped unanswered only when
    /// rvsd stops).
    pub reply: Sender<Response>,
}

/// The senders' end (cloned by every client thread).
pub type CommandTx = Sender<Command>;
/// The management loop's end.
pub type CommandRx = Receiver<Command>;

/// A new channel. Unbounded: each sender waits for its reply before it sends again, so
/// at most one command per client (plus SIGHUP and metrics) is ever queued.
pub fn channel() -> (CommandTx, CommandRx) {
    crossbeam::channel::unbounded()
}

/// Sends `envelope` and waits for its response. When the management loop is gone
/// (rvsd stopping) the answer is an `internal` error saying so.
pub fn call_envelope(tx: &CommandTx, envelope: RequestEnvelope) -> Response {
    let id = envelope.id;
    let (reply, rx) = crossbeam::channel::bounded(1);
    if tx.send(Command { envelope, reply }).is_err() {
        return stopping(id);
    }
    rx.recv().unwrap_or_else(|_| stopping(id))
}

/// [`call_envelope`] for a request in this build's protocol version, without an id.
pub fn call(tx: &CommandTx, request: Request) -> Response {
    call_envelope(tx, RequestEnvelope::new(request))
}

fn stopping(id: Option<u64>) -> Response {
    Response::err(id, ErrorKind::Internal, "rvsd is stopping")
}
