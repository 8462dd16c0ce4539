//! The control protocol between `rvsadm` (and any other client) and rvsd's management
//! thread: newline-delimited JSON over a Unix stream socket (`[control] socket`).
//!
//! One request per line, one response line per request, in order, on a connection that
//! may carry many requests. Every request and response carries the protocol version as
//! `"major.minor"`; a server refuses a request whose major version differs from its own
//! ([`proto::ErrorKind::Version`]) and accepts any minor version (minor versions only
//! add optional fields). A request line is at most [`proto::MAX_REQUEST_BYTES`].
//!
//! The schema is documented for operators in docs/CONTROL.md; the types here are its
//! source of truth. [`proto`] holds requests, responses and errors; [`views`] the data
//! listings return (also the `--json` output of `rvsadm`).

pub mod proto;
pub mod views;

pub use proto::{Body, CtlError, ErrorKind, Request, RequestEnvelope, Response, PROTOCOL_VERSION};
