//! `rvsadm check`: run-time health-check changes (docs/RVSADM.md, docs/HEALTH.md).
//!
//! ```text
//! rvsadm check set -t|-u VIP:PORT | -f MARK [-r ADDR[:PORT]] --file CHECK.toml
//! rvsadm check del -t|-u VIP:PORT | -f MARK [-r ADDR[:PORT]]
//! ```
//! Without `-r`: the service's default check (`[service.check]`); with it: that real
//! server's own (`[service.real.check]`). CHECK.toml holds one check table in the
//! configuration file's shape, without the header: timing keys and one checker table
//! (`retry = 2` then `[MISC_CHECK]` / `misc_path = "/bin/true"`). rvsadm reads the file
//! and sends it as JSON (control request `set_check`); rvsd validates it. Addresses are
//! dotted quads; a missing `-r` port is the service port, as ipvsadm fills it in.

use super::cmd::Command;
use crate::ctl::proto::RealRef;
use crate::ctl::views::{CheckView, ServiceKeyView};
use std::net::Ipv4Addr;

/// `words` after `check` as a command, or a one-line reason (the caller adds the usage).
pub fn parse(words: &[&str]) -> Result<Command, String> {
    let (set, rest) = match words {
        ["set", rest @ ..] => (true, rest),
        ["del", rest @ ..] => (false, rest),
        [] => return Err("check: missing set or del".into()),
        [w, ..] => return Err(format!("check: unknown subcommand `{w}'")),
    };
    let what = if set { "check set" } else { "check del" };
    let mut key = None;
    let mut real = None;
    let mut file = None;
    let mut i = 0;
    while i < rest.len() {
        let opt = rest[i];
        let value = rest
            .get(i + 1)
            .ok_or_else(|| format!("{what}: {opt} needs a value"))?;
        match opt {
            "-t" | "--tcp-service" | "-u" | "--udp-service" | "-f" | "--fwmark-service" => {
                if key.is_some() {
                    return Err(format!("{what}: one service only"));
                }
                key = Some(service(opt, value, what)?);
            }
            "-r" | "--real-server" if real.is_none() => real = Some(real_server(value, what)?),
            "--file" if set && file.is_none() => file = Some(*value),
            "-r" | "--real-server" => return Err(format!("{what}: {opt} given twice")),
            "--file" if set => return Err(format!("{what}: {opt} given twice")),
            w => return Err(format!("{what}: unexpected `{w}'")),
        }
        i += 2;
    }
    let key = key.ok_or_else(|| format!("{what}: -t, -u or -f SERVICE is required"))?;
    if !set {
        return Ok(Command::CheckDel { key, real });
    }
    let file = file.ok_or_else(|| format!("{what}: --file CHECK.toml is required"))?;
    let text = std::fs::read_to_string(file).map_err(|e| format!("{what}: {file}: {e}"))?;
    let check: CheckView = toml::from_str(&text)
        .map_err(|e| format!("{what}: {file}: {}", one_line(&e.to_string())))?;
    Ok(Command::CheckSet {
        key,
        real,
        check: Box::new(check),
    })
}

/// A TOML error (several lines with a caret) as one line.
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|') && !l.starts_with('^'))
        .collect::<Vec<_>>()
        .join(" ")
}

fn service(opt: &str, v: &str, what: &str) -> Result<ServiceKeyView, String> {
    if matches!(opt, "-f" | "--fwmark-service") {
        return match v.parse::<u32>() {
            Ok(mark) if mark > 0 => Ok(ServiceKeyView::Fwmark { mark }),
            _ => Err(format!(
                "{what}: `{v}' is not a firewall mark (1..4294967295)"
            )),
        };
    }
    let (vip, port) = addr_port(v, what)?;
    let port = port.ok_or_else(|| format!("{what}: `{v}' needs a port (VIP:PORT)"))?;
    Ok(if matches!(opt, "-t" | "--tcp-service") {
        ServiceKeyView::Tcp { vip, port }
    } else {
        ServiceKeyView::Udp { vip, port }
    })
}

fn real_server(v: &str, what: &str) -> Result<RealRef, String> {
    let (addr, port) = addr_port(v, what)?;
    Ok(RealRef {
        addr,
        port: port.unwrap_or(0),
    })
}

/// `ADDR` or `ADDR:PORT`, dotted quad and decimal port.
fn addr_port(v: &str, what: &str) -> Result<(Ipv4Addr, Option<u16>), String> {
    let (a, p) = match v.split_once(':') {
        Some((a, p)) => (a, Some(p)),
        None => (v, None),
    };
    let addr = a
        .parse()
        .map_err(|_| format!("{what}: `{a}' is not an IPv4 address"))?;
    let port = match p {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| format!("{what}: `{p}' is not a port"))?,
        ),
    };
    Ok((addr, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Command, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        parse(&words)
    }

    #[test]
    fn set_and_del_parse() {
        let dir = std::env::temp_dir().join(format!("rvs-check-cmd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(
            &f,
            "retry = 2\nconnect_timeout = 1.5\n[TCP_CHECK]\nconnect_port = 81\n",
        )
        .unwrap();
        let Command::CheckSet { key, real, check } = p(&format!(
            "set -t 203.0.113.10:80 -r 192.0.2.11 --file {}",
            f.display()
        ))
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            key,
            ServiceKeyView::Tcp {
                vip: "203.0.113.10".parse().unwrap(),
                port: 80
            }
        );
        assert_eq!(
            real,
            Some(RealRef {
                addr: "192.0.2.11".parse().unwrap(),
                port: 0
            })
        );
        assert_eq!((check.retry, check.connect_timeout), (Some(2), Some(1.5)));
        assert!(check.tcp.is_some());
        assert_eq!(
            p("del -f 5").unwrap(),
            Command::CheckDel {
                key: ServiceKeyView::Fwmark { mark: 5 },
                real: None
            }
        );
        std::fs::write(&f, "retry = 2\n[TCP_CHEK]\n").unwrap();
        let e = p(&format!("set -u 203.0.113.10:53 --file {}", f.display())).unwrap_err();
        assert!(e.contains("TCP_CHEK") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn errors_are_one_line_naming_the_word() {
        for (line, want) in [
            ("", "check: missing set or del"),
            ("add -t 1.2.3.4:80", "check: unknown subcommand `add'"),
            ("del", "check del: -t, -u or -f SERVICE is required"),
            (
                "set -t 1.2.3.4:80",
                "check set: --file CHECK.toml is required",
            ),
            (
                "del -t 1.2.3.4",
                "check del: `1.2.3.4' needs a port (VIP:PORT)",
            ),
            ("del -t 1.2.3.4:80 -r", "check del: -r needs a value"),
            (
                "del -t 1.2.3.4:80 --file x",
                "check del: unexpected `--file'",
            ),
            (
                "del -f 0",
                "check del: `0' is not a firewall mark (1..4294967295)",
            ),
            (
                "set -t 1.2.3.4:80 --file /nonexistent/c.toml",
                "check set: /nonexistent/c.toml: No such file or directory (os error 2)",
            ),
        ] {
            assert_eq!(p(line).unwrap_err(), want, "{line}");
        }
    }
}
