//! The values of keepalived keywords, each read with keepalived's rules and refused with
//! the keyword's place: integers, timers (seconds, fractions allowed, as keepalived's
//! `read_timer`), booleans (a bare keyword is true), addresses, ports, programs, and the
//! free-format hex of UDP_CHECK (`read_hex_str`).

use super::error::ImportError;
use super::tree::Node;
use std::net::Ipv4Addr;

/// Result of reading a value.
pub type Res<T> = Result<T, ImportError>;

/// Refusal at `n`'s keyword.
pub fn refuse<T>(n: &Node, reason: impl Into<String>) -> Res<T> {
    Err(ImportError::new(&n.at, &n.kw, reason))
}

/// The keyword's only word.
pub fn one(n: &Node) -> Res<&str> {
    match n.args.as_slice() {
        [v] => Ok(v),
        [] => refuse(n, "needs a value"),
        _ => refuse(n, format!("takes one value, not {}", n.args.len())),
    }
}

/// A keyword that takes no value (`ops`, `alpha` at virtual_server level...).
pub fn flag(n: &Node) -> Res<bool> {
    match n.args.as_slice() {
        [] => Ok(true),
        _ => refuse(n, "takes no value"),
    }
}

/// keepalived's `<BOOL>`: bare is true, else true/yes/on/1 or false/no/off/0.
pub fn boolean(n: &Node) -> Res<bool> {
    match n.args.as_slice() {
        [] => Ok(true),
        [v] => match v.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            _ => refuse(
                n,
                format!("{v:?} is not a boolean (true/false, yes/no, on/off)"),
            ),
        },
        _ => refuse(n, "takes at most one value"),
    }
}

/// An integer from `min` to `max`.
pub fn int(n: &Node, min: i64, max: i64) -> Res<i64> {
    let v = one(n)?;
    match v.parse::<i64>() {
        Ok(x) if (min..=max).contains(&x) => Ok(x),
        _ => refuse(n, format!("{v:?} is not an integer from {min} to {max}")),
    }
}

/// keepalived's `<TIMER>`: seconds, fractions allowed, up to one day.
pub fn timer(n: &Node) -> Res<f64> {
    let v = one(n)?;
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && (0.0..=86_400.0).contains(&x) => Ok(x),
        _ => refuse(n, format!("{v:?} is not a time in seconds from 0 to 86400")),
    }
}

/// An IPv4 address written by `n` (rvs is IPv4 only).
pub fn ipv4(n: &Node, v: &str) -> Res<Ipv4Addr> {
    if v.contains(':') {
        return refuse(n, format!("{v}: rvs is IPv4 only"));
    }
    v.parse()
        .or_else(|_| refuse(n, format!("{v:?} is not an IPv4 address")))
}

/// A port 1..=65535 (`what` names it in the message).
pub fn port(n: &Node, v: &str, what: &str) -> Res<u16> {
    match v.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => refuse(n, format!("{what} {v:?} is not a port from 1 to 65535")),
    }
}

/// `notify_up`/`quorum_up`... `<STRING>|<QUOTED-STRING> [username [groupname]]`: the
/// program line; a user to run it as is refused (rvs runs programs as rvsd's own user).
pub fn program(n: &Node) -> Res<String> {
    match n.args.as_slice() {
        [p] if !p.trim().is_empty() => {
            split_words(n, p)?;
            Ok(p.clone())
        }
        [_, user, ..] => refuse(
            n,
            format!(
                "running the program as user {user:?} is not supported (rvs runs it as rvsd's \
                 own user); quote the command line if {user:?} is one of its arguments"
            ),
        ),
        _ => refuse(n, "needs a program"),
    }
}

/// A command line split into words as rvs splits `quorum_up` and `notify_up`
/// ([`crate::config::Command`]: blanks separate words, quotes group them, `\\` escapes;
/// keepalived's own splitting of `misc_path`). No shell runs.
pub fn split_words(n: &Node, line: &str) -> Res<Vec<String>> {
    crate::config::Command::parse(line)
        .map(|c| c.argv)
        .or_else(|e| refuse(n, format!("{line:?}: {e}")))
}

/// keepalived's free-format hex (`read_hex_str`): blank-separated groups of hex digits,
/// each read in pairs, a group's last odd digit a byte of its own ("Ab12f 3" is
/// AB 12 0F 03). `x`/`X` (keepalived's "any nibble" in require_reply) is refused.
pub fn hex(n: &Node) -> Res<Vec<u8>> {
    let mut out = Vec::new();
    for group in &n.args {
        if group.contains(['x', 'X']) {
            return refuse(
                n,
                format!("{group}: masked nibbles (x) are not supported by rvs's UDP_CHECK"),
            );
        }
        let digits: Vec<u8> = group
            .chars()
            .map(|c| c.to_digit(16).map(|d| d as u8))
            .collect::<Option<_>>()
            .map_or_else(|| refuse(n, format!("{group:?} is not hex")), Ok)?;
        for pair in digits.chunks(2) {
            out.push(match pair {
                [hi, lo] => hi << 4 | lo,
                [lo] => *lo,
                _ => 0,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::error::At;
    use super::*;
    use std::rc::Rc;

    fn node(args: &[&str]) -> Node {
        Node {
            kw: "k".into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            block: None,
            at: At {
                file: Rc::from("f"),
                line: 7,
            },
        }
    }

    #[test]
    fn hex_is_keepalived_free_format() {
        assert_eq!(
            hex(&node(&["Ab12f", "3", "456", "546443123"])).unwrap(),
            [0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03]
        );
        assert!(hex(&node(&["0x12"])).is_err());
        assert!(hex(&node(&["zz"])).is_err());
    }

    #[test]
    fn words_and_programs() {
        let n = node(&[]);
        assert_eq!(
            split_words(&n, "/bin/chk -h 'a b' \"c d\" e\\ f").unwrap(),
            ["/bin/chk", "-h", "a b", "c d", "e f"]
        );
        assert!(split_words(&n, "/bin/x 'open").is_err());
        assert!(split_words(&n, "  ").is_err());
        assert_eq!(program(&node(&["/bin/up a"])).unwrap(), "/bin/up a");
        assert!(program(&node(&[])).is_err());
        let e = program(&node(&["/bin/up", "nobody"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("f:7: k: running the program as user \"nobody\""),
            "{e}"
        );
    }

    #[test]
    fn numbers_timers_booleans() {
        assert_eq!(timer(&node(&["2.5"])).unwrap(), 2.5);
        assert!(timer(&node(&["-1"])).is_err());
        assert!(timer(&node(&["nan"])).is_err());
        assert_eq!(int(&node(&["3"]), 0, 5).unwrap(), 3);
        assert_eq!(
            int(&node(&["9"]), 0, 5).unwrap_err().to_string(),
            "f:7: k: \"9\" is not an integer from 0 to 5"
        );
        assert!(boolean(&node(&[])).unwrap());
        assert!(!boolean(&node(&["off"])).unwrap());
        assert!(boolean(&node(&["maybe"])).is_err());
        assert!(ipv4(&node(&[]), "2001:db8::1")
            .unwrap_err()
            .reason
            .contains("IPv4 only"));
        assert!(port(&node(&[]), "0", "port").is_err());
    }
}
