//! rvs's own commands, which ipvsadm does not have: `status`, `reload`, `vip`, `mark`,
//! `check` (`adm::check_cmd`).
//! They are recognised by their first word (a word ipvsadm would refuse with its
//! try-help line, so no ipvsadm command line changes meaning). Errors are one line
//! starting `rvsadm: ` with status 2, ipvsadm's status for a command line it refuses.

use super::cmd::Command;
use super::inet::strtol_whole;
use super::parse::ParseError;
use crate::ctl::views::MarkRuleView;
use std::net::Ipv4Addr;

/// The usage lines of these commands (also in `rvsadm -h`).
const USAGE: &str = "usage: rvsadm status [--json] | reload | vip add|del ADDR [--port NAME] | \
                     vip list [--json] | mark add|del MARK --vip NET [--protocol tcp|udp] \
                     [--ports P[-Q]] | mark list [--json] | check set -t|-u VIP:PORT|-f MARK \
                     [-r ADDR[:PORT]] --file CHECK.toml | check del -t|-u VIP:PORT|-f MARK \
                     [-r ADDR[:PORT]]";

fn err(message: String) -> ParseError {
    ParseError {
        message: format!("rvsadm: {message}\n{USAGE}"),
        status: 2,
        stops_restore: true,
    }
}

/// `Ok(None)` when `argv[1]` is not one of rvs's words (then it is ipvsadm's language).
pub fn parse(argv: &[String]) -> Result<Option<Command>, ParseError> {
    let Some(first) = argv.get(1) else {
        return Ok(None);
    };
    let rest: Vec<&str> = argv[2..].iter().map(String::as_str).collect();
    let cmd = match first.as_str() {
        "status" => Command::Status {
            json: json_only(&rest, "status")?,
        },
        "reload" => {
            if let Some(w) = rest.first() {
                return Err(err(format!("reload takes no argument (got `{w}')")));
            }
            Command::Reload
        }
        "vip" => vip(&rest)?,
        "mark" => mark(&rest)?,
        "check" => super::check_cmd::parse(&rest).map_err(err)?,
        _ => return Ok(None),
    };
    Ok(Some(cmd))
}

/// `[--json]` and nothing else.
fn json_only(rest: &[&str], what: &str) -> Result<bool, ParseError> {
    match rest {
        [] => Ok(false),
        ["--json"] => Ok(true),
        [w, ..] => Err(err(format!("{what}: unexpected `{w}'"))),
    }
}

/// Named options after the positional words: `--name VALUE` or `--name=VALUE`, each at
/// most once, only the names in `allowed`.
fn named<'a>(
    words: &[&'a str],
    allowed: &[&str],
    what: &str,
) -> Result<Vec<(String, &'a str)>, ParseError> {
    let mut out: Vec<(String, &'a str)> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let Some(opt) = w.strip_prefix("--") else {
            return Err(err(format!("{what}: unexpected `{w}'")));
        };
        let (name, value) = match opt.split_once('=') {
            Some((n, v)) => (n, v),
            None => {
                i += 1;
                let v = words
                    .get(i)
                    .ok_or_else(|| err(format!("{what}: --{opt} needs a value")))?;
                (opt, *v)
            }
        };
        if !allowed.contains(&name) {
            return Err(err(format!("{what}: unknown option `--{name}'")));
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(err(format!("{what}: --{name} given twice")));
        }
        out.push((name.to_string(), value));
        i += 1;
    }
    Ok(out)
}

fn get<'a>(opts: &[(String, &'a str)], name: &str) -> Option<&'a str> {
    opts.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

/// A dotted-quad IPv4 address (these commands take no inet_aton shorthand: a VIP is
/// written out).
fn addr(w: &str, what: &str) -> Result<Ipv4Addr, ParseError> {
    w.parse()
        .map_err(|_| err(format!("{what}: `{w}' is not an IPv4 address")))
}

fn vip(rest: &[&str]) -> Result<Command, ParseError> {
    match rest {
        ["list", tail @ ..] => Ok(Command::VipList {
            json: json_only(tail, "vip list")?,
        }),
        [op @ ("add" | "del"), a, tail @ ..] => {
            let what = format!("vip {op}");
            let a = addr(a, &what)?;
            let opts = named(tail, &["port"], &what)?;
            let port = get(&opts, "port").map(String::from);
            if port.as_deref() == Some("") {
                return Err(err(format!("{what}: --port needs a port name")));
            }
            Ok(if *op == "add" {
                Command::VipAdd { addr: a, port }
            } else {
                Command::VipDel { addr: a, port }
            })
        }
        [op @ ("add" | "del")] => Err(err(format!("vip {op}: missing ADDR"))),
        [] => Err(err("vip: missing add, del or list".to_string())),
        [w, ..] => Err(err(format!("vip: unknown subcommand `{w}'"))),
    }
}

fn mark(rest: &[&str]) -> Result<Command, ParseError> {
    match rest {
        ["list", tail @ ..] => Ok(Command::MarkList {
            json: json_only(tail, "mark list")?,
        }),
        [op @ ("add" | "del"), m, tail @ ..] => {
            let what = format!("mark {op}");
            let rule = mark_rule(m, tail, &what)?;
            Ok(if *op == "add" {
                Command::MarkAdd(rule)
            } else {
                Command::MarkDel(rule)
            })
        }
        [op @ ("add" | "del")] => Err(err(format!("mark {op}: missing MARK"))),
        [] => Err(err("mark: missing add, del or list".to_string())),
        [w, ..] => Err(err(format!("mark: unknown subcommand `{w}'"))),
    }
}

/// `MARK --vip NET [--protocol tcp|udp] [--ports P[-Q]]` into a rule in canonical form
/// (`NET` as `a.b.c.d/len` with host bits cleared refused, ports `P` or `P-Q`).
fn mark_rule(m: &str, tail: &[&str], what: &str) -> Result<MarkRuleView, ParseError> {
    let mark = strtol_whole(m)
        .filter(|n| (1..=i64::from(u32::MAX)).contains(n))
        .ok_or_else(|| err(format!("{what}: invalid mark `{m}' (1..4294967295)")))?
        as u32;
    let opts = named(tail, &["vip", "protocol", "ports"], what)?;
    let net = get(&opts, "vip").ok_or_else(|| err(format!("{what}: --vip NET is required")))?;
    let (a, len) = match net.split_once('/') {
        Some((a, l)) => (a, l),
        None => (net, "32"),
    };
    let a = addr(a, what)?;
    let len: u32 = len
        .parse()
        .ok()
        .filter(|l| *l <= 32)
        .ok_or_else(|| err(format!("{what}: invalid prefix length in `{net}'")))?;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    if u32::from(a) & !mask != 0 {
        return Err(err(format!(
            "{what}: `{net}' has host bits set (network is {}/{len})",
            Ipv4Addr::from(u32::from(a) & mask)
        )));
    }
    let protocol = match get(&opts, "protocol") {
        None => None,
        Some(p @ ("tcp" | "udp")) => Some(p.to_string()),
        Some(p) => return Err(err(format!("{what}: --protocol `{p}' is not tcp or udp"))),
    };
    let ports = match get(&opts, "ports") {
        None => None,
        Some(p) => Some(port_range(p).ok_or_else(|| {
            err(format!(
                "{what}: --ports `{p}' is not P or P-Q with 0 <= P <= Q <= 65535"
            ))
        })?),
    };
    Ok(MarkRuleView {
        mark,
        protocol,
        vip: format!("{a}/{len}"),
        ports,
    })
}

fn port_range(p: &str) -> Option<String> {
    let num = |s: &str| -> Option<u16> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match p.split_once('-') {
        None => num(p).map(|n| n.to_string()),
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            (a <= b).then(|| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Option<Command>, ParseError> {
        let argv: Vec<String> = std::iter::once("rvsadm")
            .chain(line.split_whitespace())
            .map(String::from)
            .collect();
        parse(&argv)
    }

    fn rule(mark: u32, protocol: Option<&str>, vip: &str, ports: Option<&str>) -> MarkRuleView {
        MarkRuleView {
            mark,
            protocol: protocol.map(String::from),
            vip: vip.into(),
            ports: ports.map(String::from),
        }
    }

    #[test]
    fn own_commands_parse() {
        let a: Ipv4Addr = "203.0.113.10".parse().unwrap();
        let cases: Vec<(&str, Command)> = vec![
            ("status", Command::Status { json: false }),
            ("status --json", Command::Status { json: true }),
            ("reload", Command::Reload),
            ("vip list", Command::VipList { json: false }),
            ("vip list --json", Command::VipList { json: true }),
            (
                "vip add 203.0.113.10",
                Command::VipAdd {
                    addr: a,
                    port: None,
                },
            ),
            (
                "vip add 203.0.113.10 --port wan",
                Command::VipAdd {
                    addr: a,
                    port: Some("wan".into()),
                },
            ),
            (
                "vip del 203.0.113.10 --port=wan",
                Command::VipDel {
                    addr: a,
                    port: Some("wan".into()),
                },
            ),
            ("mark list", Command::MarkList { json: false }),
            ("mark list --json", Command::MarkList { json: true }),
            (
                "mark add 1 --vip 203.0.113.0/24",
                Command::MarkAdd(rule(1, None, "203.0.113.0/24", None)),
            ),
            (
                "mark add 7 --vip 203.0.113.10 --protocol tcp --ports 8000-8099",
                Command::MarkAdd(rule(7, Some("tcp"), "203.0.113.10/32", Some("8000-8099"))),
            ),
            (
                "mark del 7 --ports 80-80 --protocol=udp --vip=203.0.113.10/32",
                Command::MarkDel(rule(7, Some("udp"), "203.0.113.10/32", Some("80"))),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(p(line).unwrap(), Some(want), "{line}");
        }
        assert_eq!(p("-L").unwrap(), None, "ipvsadm's language is not ours");
        assert_eq!(p("statusx").unwrap(), None);
    }

    #[test]
    fn own_command_errors_are_one_clear_line_and_usage_status_2() {
        let cases = [
            ("status --jsn", "rvsadm: status: unexpected `--jsn'"),
            ("reload now", "rvsadm: reload takes no argument (got `now')"),
            ("vip", "rvsadm: vip: missing add, del or list"),
            ("vip add", "rvsadm: vip add: missing ADDR"),
            (
                "vip add 10.1",
                "rvsadm: vip add: `10.1' is not an IPv4 address",
            ),
            (
                "vip add 203.0.113.10 --port",
                "rvsadm: vip add: --port needs a value",
            ),
            (
                "vip add 203.0.113.10 --dev x",
                "rvsadm: vip add: unknown option `--dev'",
            ),
            (
                "vip add 203.0.113.10 --port a --port b",
                "rvsadm: vip add: --port given twice",
            ),
            ("vip show", "rvsadm: vip: unknown subcommand `show'"),
            (
                "mark add 0 --vip 1.2.3.4",
                "rvsadm: mark add: invalid mark `0' (1..4294967295)",
            ),
            ("mark add 1", "rvsadm: mark add: --vip NET is required"),
            (
                "mark add 1 --vip 203.0.113.1/24",
                "rvsadm: mark add: `203.0.113.1/24' has host bits set (network is 203.0.113.0/24)",
            ),
            (
                "mark add 1 --vip 1.2.3.4/33",
                "rvsadm: mark add: invalid prefix length in `1.2.3.4/33'",
            ),
            (
                "mark add 1 --vip 1.2.3.4 --protocol sctp",
                "rvsadm: mark add: --protocol `sctp' is not tcp or udp",
            ),
            (
                "mark del 1 --vip 1.2.3.4 --ports 90-80",
                "rvsadm: mark del: --ports `90-80' is not P or P-Q with 0 <= P <= Q <= 65535",
            ),
            (
                "mark add 1 --vip 1.2.3.4 extra",
                "rvsadm: mark add: unexpected `extra'",
            ),
        ];
        for (line, msg) in cases {
            let e = p(line).unwrap_err();
            assert_eq!(e.status, 2, "{line}");
            assert_eq!(e.message.lines().next(), Some(msg), "{line}");
            assert!(e.message.ends_with(USAGE), "{line}");
        }
    }
}
