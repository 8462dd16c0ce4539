//! rvsadm's side of the control socket (protocol in [`crate::ctl`]): find the socket
//! (`--socket PATH` anywhere on the command line, else `$RVS_SOCKET`, else
//! `[control] socket`'s default), connect, send one request line, read one response
//! line. A socket that cannot be reached is one line naming the path and what to check,
//! with status 2: ipvsadm's status when it cannot reach IPVS ("Can't initialize ipvs",
//! `fail(2, ..)`).

use crate::ctl::proto::{Request, RequestEnvelope, Response};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// `[control] socket`'s default (src/config/validate.rs).
pub const DEFAULT_SOCKET: &str = "/run/rvs/rvsd.sock";

/// The environment variable naming the socket when `--socket` is not given.
pub const SOCKET_ENV: &str = "RVS_SOCKET";

/// Exit status when rvsd cannot be reached or answers nonsense: ipvsadm's status for
/// "Can't initialize ipvs".
pub const UNREACHABLE_STATUS: u8 = 2;

/// Takes `--socket PATH` / `--socket=PATH` out of `argv` (anywhere after the program
/// name and before a `--`), returning the path (the last one given) and the remaining
/// words. `Err` when `--socket` is the last word.
pub fn take_socket_option(argv: &[String]) -> Result<(Option<PathBuf>, Vec<String>), String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut path = None;
    let mut it = argv.iter().enumerate();
    let mut rest_verbatim = false;
    while let Some((i, w)) = it.next() {
        if i == 0 || rest_verbatim {
            out.push(w.clone());
            continue;
        }
        if w == "--" {
            rest_verbatim = true;
            out.push(w.clone());
        } else if w == "--socket" {
            let (_, p) = it
                .next()
                .ok_or_else(|| "rvsadm: --socket needs a PATH".to_string())?;
            path = Some(PathBuf::from(p));
        } else if let Some(p) = w.strip_prefix("--socket=") {
            path = Some(PathBuf::from(p));
        } else {
            out.push(w.clone());
        }
    }
    Ok((path, out))
}

/// The socket to use: `--socket`, else `$RVS_SOCKET` (when set and not empty), else
/// [`DEFAULT_SOCKET`].
pub fn socket_path(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(|| {
            std::env::var_os(SOCKET_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

/// Why talking to rvsd failed (not a refusal: those come back as a [`Response`]).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `connect(2)` failed.
    #[error("rvsadm: cannot connect to rvsd at {path}: {reason} ({hint})")]
    Connect {
        /// The socket path.
        path: String,
        /// What connect said (strerror's text, without Rust's "(os error N)").
        reason: String,
        /// What to check.
        hint: &'static str,
    },
    /// Writing the request or reading the response failed, or rvsd closed the
    /// connection before answering.
    #[error("rvsadm: lost the connection to rvsd at {path}: {detail}")]
    Io {
        /// The socket path.
        path: String,
        /// What happened.
        detail: String,
    },
    /// The response line is not a response of this protocol.
    #[error("rvsadm: rvsd at {path} sent a malformed response: {detail}")]
    BadResponse {
        /// The socket path.
        path: String,
        /// The parser's complaint.
        detail: String,
    },
}

/// One connection to rvsd.
pub struct Client {
    path: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
}

impl Client {
    /// Connects to the socket at `path`.
    pub fn connect(path: &Path) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| {
            let hint = match source.kind() {
                std::io::ErrorKind::PermissionDenied => {
                    "run as root or as a member of rvsd's [control] admin group"
                }
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    "is rvsd running? --socket PATH or RVS_SOCKET names another socket"
                }
                _ => "check the path; --socket PATH or RVS_SOCKET names another socket",
            };
            let text = source.to_string();
            let reason = match text.find(" (os error ") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            ClientError::Connect {
                path: path.display().to_string(),
                reason,
                hint,
            }
        })?;
        let writer = stream.try_clone().map_err(|e| ClientError::Io {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        Ok(Client {
            path: path.to_path_buf(),
            reader: BufReader::new(stream),
            writer,
            next_id: 1,
        })
    }

    fn io(&self, detail: impl ToString) -> ClientError {
        ClientError::Io {
            path: self.path.display().to_string(),
            detail: detail.to_string(),
        }
    }

    /// Sends `request` and waits for its response (refusals are `Ok` responses with
    /// `ok: false`).
    pub fn call(&mut self, request: Request) -> Result<Response, ClientError> {
        let mut env = RequestEnvelope::new(request);
        env.id = Some(self.next_id);
        self.next_id += 1;
        let mut line = serde_json::to_string(&env).map_err(|e| self.io(e))?;
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .map_err(|e| self.io(e))?;
        let mut resp = String::new();
        let n = self.reader.read_line(&mut resp).map_err(|e| self.io(e))?;
        if n == 0 || !resp.ends_with('\n') {
            return Err(self.io("rvsd closed the connection before answering"));
        }
        serde_json::from_str(&resp).map_err(|e| ClientError::BadResponse {
            path: self.path.display().to_string(),
            detail: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn socket_option_is_taken_from_anywhere() {
        let (p, rest) = take_socket_option(&words("rvsadm -L --socket /tmp/a.sock -n")).unwrap();
        assert_eq!(p, Some(PathBuf::from("/tmp/a.sock")));
        assert_eq!(rest, words("rvsadm -L -n"));
        let (p, rest) = take_socket_option(&words("rvsadm --socket=/x status")).unwrap();
        assert_eq!(p, Some(PathBuf::from("/x")));
        assert_eq!(rest, words("rvsadm status"));
        let (p, rest) = take_socket_option(&words("rvsadm --set 1 2 -- --socket")).unwrap();
        assert_eq!(p, None);
        assert_eq!(rest, words("rvsadm --set 1 2 -- --socket"));
        assert!(take_socket_option(&words("rvsadm -L --socket")).is_err());
        assert_eq!(socket_path(Some("/y".into())), PathBuf::from("/y"));
    }

    #[test]
    fn an_unreachable_socket_is_one_clear_line() {
        let dir = std::env::temp_dir().join(format!("rvsadm-client-{}", std::process::id()));
        let path = dir.join("missing.sock");
        let e = Client::connect(&path).err().expect("no socket there");
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!(
                "rvsadm: cannot connect to rvsd at {}: ",
                path.display()
            )),
            "{msg}"
        );
        assert!(
            msg.contains(": No such file or directory (is rvsd running? --socket PATH"),
            "{msg}"
        );
        assert_eq!(msg.lines().count(), 1);
    }
}
