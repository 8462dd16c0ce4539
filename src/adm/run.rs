//! The whole of `rvsadm`: command line → [`super::parse`] → control requests over
//! [`super::client`] → output (through [`super::format`]) and ipvsadm's exit status.
//! The binary only collects argv, stdin, stdout and stderr and calls [`main`].
//!
//! Exit statuses, as ipvsadm 1.31's (IPVSADM.md §6.3): 0 done; 2 an argument error, or
//! rvsd cannot be reached (ipvsadm: "Can't initialize ipvs"); 255 the try-help line, a
//! popt error, or a change rvsd refused (ipvsadm: the kernel refused; the message is
//! ipvsadm's text for it); 1 a listing rvsd refused (`-L -t` of a missing service:
//! "No such service"). rvs's own answers that ipvsadm has no word for (a reload whose
//! file has an error, a request rvsd could not carry out) print `rvsadm: <message>`
//! with status 1.

use super::client::{socket_path, take_socket_option, Client, ClientError, UNREACHABLE_STATUS};
use super::cmd::Command;
use super::format;
use super::help::{usage_text, version_text};
use super::parse::parse;
use super::restore::{self, Outcome};
use crate::ctl::proto::{Body, ErrorKind, Request, Response};
use std::cell::RefCell;
use std::io::Write;

/// Status of a change rvsd refused by IPVS's rules (ipvsadm: a kernel refusal).
pub const REFUSED_STATUS: u8 = 255;
/// Status of a listing rvsd refused (ipvsadm's `exit(1)` in its listing functions).
pub const LIST_FAILED_STATUS: u8 = 1;

/// Where output goes.
pub struct Io<'a> {
    /// Listings, save text, help.
    pub out: &'a mut dyn Write,
    /// Error messages.
    pub err: &'a mut dyn Write,
}

/// Runs one rvsadm invocation (`argv[0]` is the program name as typed, used in
/// ipvsadm's messages; `stdin` is read for `-R` only). Returns the exit status.
pub fn main(argv: &[String], stdin: &mut dyn std::io::Read, io: &mut Io) -> u8 {
    let (socket, argv) = match take_socket_option(argv) {
        Ok(v) => v,
        Err(msg) => {
            let _ = writeln!(io.err, "{msg}");
            return 2;
        }
    };
    // Needs no rvsd: a file in, TOML out.
    if argv.get(1).map(String::as_str) == Some("import-keepalived") {
        return super::keepalived::cli::run(&argv[2..], io.out, io.err);
    }
    let prog = argv
        .first()
        .map(String::as_str)
        .unwrap_or("rvsadm")
        .to_string();
    let cmd = match parse(&argv) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(io.err, "{}", e.message);
            return e.status;
        }
    };
    match cmd {
        Command::Help => {
            let _ = write!(io.out, "{}", usage_text(&prog));
            return 0;
        }
        Command::Version => {
            let _ = write!(io.out, "{}", version_text());
            return 0;
        }
        _ => {}
    }
    let path = socket_path(socket);
    let mut client = match Client::connect(&path) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(io.err, "{e}");
            return UNREACHABLE_STATUS;
        }
    };
    if cmd == Command::Restore {
        let mut input = Vec::new();
        if let Err(e) = stdin.read_to_end(&mut input) {
            let _ = writeln!(io.err, "rvsadm: cannot read stdin: {e}");
            return 2;
        }
        // Both the commands and the parse errors write to `io`, in line order.
        let io = RefCell::new(io);
        return restore::run(
            &prog,
            &input,
            |c| execute(&prog, &mut client, c, &mut io.borrow_mut()),
            |e| {
                let _ = writeln!(io.borrow_mut().err, "{}", e.message);
            },
        );
    }
    match execute(&prog, &mut client, cmd, io) {
        Outcome::Status(s) | Outcome::Exit(s) => s,
    }
}

/// Carries out one parsed command on rvsd and prints what it returns.
pub fn execute(prog: &str, client: &mut Client, cmd: Command, io: &mut Io) -> Outcome {
    let change = |req: Request, client: &mut Client, io: &mut Io| -> Outcome {
        match call(client, req, io) {
            Ok(_) => Outcome::Status(0),
            Err(o) => o,
        }
    };
    match cmd {
        Command::Help => {
            let _ = write!(io.out, "{}", usage_text(prog));
            Outcome::Status(0)
        }
        Command::Version => {
            let _ = write!(io.out, "{}", version_text());
            Outcome::Status(0)
        }
        // A nested -R never reaches here (parse_restore_line refuses it); a top-level
        // one is handled by `main`.
        Command::Restore => Outcome::Status(0),
        Command::AddService(service) => change(Request::AddService { service }, client, io),
        Command::EditService(service) => change(Request::EditService { service }, client, io),
        Command::DelService(key) => change(Request::DelService { key }, client, io),
        Command::Clear => change(Request::Clear, client, io),
        Command::AddDest(key, dest) => change(Request::AddDest { key, dest }, client, io),
        Command::EditDest(key, dest) => change(Request::EditDest { key, dest }, client, io),
        Command::DelDest(key, addr, port) => {
            change(Request::DelDest { key, addr, port }, client, io)
        }
        Command::Zero(key) => change(Request::Zero { key }, client, io),
        Command::SetTimeouts(timeouts) => change(Request::SetTimeouts { timeouts }, client, io),
        Command::VipAdd { addr, port } => change(Request::AddVip { addr, port }, client, io),
        Command::VipDel { addr, port } => change(Request::DelVip { addr, port }, client, io),
        Command::CheckSet { key, real, check } => {
            change(Request::SetCheck { key, real, check }, client, io)
        }
        Command::CheckDel { key, real } => change(Request::DelCheck { key, real }, client, io),
        Command::MarkAdd(rule) => change(Request::AddMarkRule { rule }, client, io),
        Command::MarkDel(rule) => change(Request::DelMarkRule { rule }, client, io),
        Command::List { key, opts } => listing(client, Request::List { key }, io, |b| match b {
            Body::Services { services } => Some(match (key, opts.json) {
                (_, true) => format::json(&services),
                (None, false) => format::services(&services, &opts),
                // One service: rvsd answers with it alone (or refuses).
                (Some(_), false) => format::service(&services, &opts),
            }),
            _ => None,
        }),
        Command::ListConns(opts) => listing(client, Request::ListConns, io, |b| match b {
            Body::Conns { conns } => Some(if opts.json {
                format::json(&conns)
            } else {
                format::conns(&conns, &opts)
            }),
            _ => None,
        }),
        Command::ListTimeouts(opts) => listing(client, Request::GetTimeouts, io, |b| match b {
            Body::Timeouts { timeouts } => Some(if opts.json {
                format::json(&timeouts)
            } else {
                format::timeouts(&timeouts)
            }),
            _ => None,
        }),
        // rvs runs no sync daemon: nothing to list, as ipvsadm with none running; with
        // --json an empty list, so the output is still a JSON document.
        Command::ListDaemon(opts) => {
            if opts.json {
                let _ = write!(io.out, "{}", format::json(&format::NoDaemons));
            }
            Outcome::Status(0)
        }
        Command::Save { numeric } => {
            listing(client, Request::List { key: None }, io, |b| match b {
                Body::Services { services } => Some(format::save(&services, numeric)),
                _ => None,
            })
        }
        Command::Status { json } => listing(client, Request::Status, io, |b| match b {
            Body::Status(s) => Some(if json {
                format::json(&s)
            } else {
                format::status(&s)
            }),
            _ => None,
        }),
        Command::VipList { json } => listing(client, Request::ListVips, io, |b| match b {
            Body::Vips { vips } => Some(if json {
                format::json(&vips)
            } else {
                format::vips(&vips)
            }),
            _ => None,
        }),
        Command::MarkList { json } => listing(client, Request::ListMarkRules, io, |b| match b {
            Body::MarkRules { rules } => Some(if json {
                format::json(&rules)
            } else {
                format::mark_rules(&rules)
            }),
            _ => None,
        }),
        Command::Reload => match call(client, Request::Reload, io) {
            Ok(Body::Reloaded { changes }) => {
                for c in &changes {
                    let _ = writeln!(io.out, "{c}");
                }
                Outcome::Status(0)
            }
            Ok(other) => {
                let _ = writeln!(io.err, "rvsadm: rvsd answered with an unexpected {other:?}");
                Outcome::Exit(LIST_FAILED_STATUS)
            }
            Err(o) => o,
        },
    }
}

/// A request whose body is printed; a refusal is a listing failure (status 1).
fn listing(
    client: &mut Client,
    req: Request,
    io: &mut Io,
    print: impl FnOnce(Body) -> Option<String>,
) -> Outcome {
    match call(client, req, io) {
        Ok(body) => {
            let shown = format!("{body:?}");
            match print(body) {
                Some(text) => {
                    let _ = write!(io.out, "{text}");
                    Outcome::Status(0)
                }
                None => {
                    let _ = writeln!(io.err, "rvsadm: rvsd answered with an unexpected {shown}");
                    Outcome::Exit(LIST_FAILED_STATUS)
                }
            }
        }
        Err(Outcome::Status(REFUSED_STATUS)) => Outcome::Exit(LIST_FAILED_STATUS),
        Err(o) => o,
    }
}

/// Sends `req`; a refusal prints its message and is `Err(outcome)`.
fn call(client: &mut Client, req: Request, io: &mut Io) -> Result<Body, Outcome> {
    let resp: Response = match client.call(req) {
        Ok(r) => r,
        Err(e @ ClientError::Connect { .. })
        | Err(e @ ClientError::Io { .. })
        | Err(e @ ClientError::BadResponse { .. }) => {
            let _ = writeln!(io.err, "{e}");
            return Err(Outcome::Exit(UNREACHABLE_STATUS));
        }
    };
    if resp.ok {
        return Ok(resp.body.unwrap_or(Body::Done));
    }
    let (kind, message) = match resp.error {
        Some(e) => (e.kind, e.message),
        None => (
            ErrorKind::Internal,
            "rvsd refused without a reason".to_string(),
        ),
    };
    match kind {
        ErrorKind::Refused => {
            let _ = writeln!(io.err, "{message}");
            Err(Outcome::Status(REFUSED_STATUS))
        }
        ErrorKind::Config | ErrorKind::Internal => {
            let _ = writeln!(io.err, "rvsadm: {message}");
            Err(Outcome::Status(LIST_FAILED_STATUS))
        }
        ErrorKind::BadRequest
        | ErrorKind::Version
        | ErrorKind::TooLarge
        | ErrorKind::PermissionDenied => {
            let _ = writeln!(io.err, "rvsadm: rvsd refused the request: {message}");
            Err(Outcome::Exit(UNREACHABLE_STATUS))
        }
    }
}
