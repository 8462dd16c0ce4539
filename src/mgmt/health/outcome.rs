//! The verdict of one check, with a reason an operator can read in a log line.

use std::net::SocketAddrV4;
use std::time::Duration;

/// The result of one check of one real server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the check passed.
    pub up: bool,
    /// A weight the check itself chose (MISC_CHECK with `misc_dynamic` exiting 2..=255:
    /// code - 2); `None` means the configured weight.
    pub weight: Option<u32>,
    /// What happened, in the words of a log line: "HTTP 503 from 192.0.2.12:80",
    /// "connect to 192.0.2.12:80 timed out after 3 s".
    pub reason: String,
}

impl Outcome {
    /// A passed check at the configured weight.
    pub fn up(reason: impl Into<String>) -> Outcome {
        Outcome {
            up: true,
            weight: None,
            reason: reason.into(),
        }
    }

    /// A failed check.
    pub fn down(reason: impl Into<String>) -> Outcome {
        Outcome {
            up: false,
            weight: None,
            reason: reason.into(),
        }
    }
}

/// A timeout as operators write it: "3 s", "0.5 s".
pub(crate) fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// "connection refused by X", "connect to X timed out after 3 s", "connect to X failed:
/// No route to host (os error 113)": the reason of a failed TCP connect.
pub(crate) fn connect_failed(dst: SocketAddrV4, err: &std::io::Error) -> Outcome {
    match err.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            Outcome::down(format!("connection refused by {dst}"))
        }
        _ => Outcome::down(format!("connect to {dst} failed: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_read_as_written() {
        assert_eq!(secs(Duration::from_secs(3)), "3 s");
        assert_eq!(secs(Duration::from_millis(500)), "0.5 s");
        assert_eq!(secs(Duration::from_millis(1500)), "1.5 s");
    }
}
