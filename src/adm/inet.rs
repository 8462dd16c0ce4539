//! The C library's parsing as ipvsadm 1.31 uses it, so rvsadm accepts exactly the words
//! ipvsadm accepts: `inet_aton` (glibc's, for addresses and `-M` masks: `10.1` is
//! 10.0.0.1, `0x0a.1` and `012.1` too), `strtol` / `atoi` (for every number), and the
//! `getservbyname` / `gethostbyname` lookups (from `/etc/services` and the system
//! resolver). No function here panics on any input.

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};

/// glibc's `inet_aton`: one to four parts separated by `.`, each a C number (`0x` hex,
/// leading `0` octal, else decimal); the last part fills the remaining bytes (`a`,
/// `a.b` with b 24 bits, `a.b.c` with c 16 bits, `a.b.c.d`). Anything after the number
/// must be whitespace (glibc ignores what follows it). `None` where inet_aton returns 0.
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut parts: Vec<u32> = Vec::with_capacity(4);
    let val = loop {
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let (v, used) = strtoul_auto(&b[i..])?;
        i += used;
        if b.get(i) == Some(&b'.') {
            if parts.len() > 2 || v > 0xff {
                return None;
            }
            parts.push(v);
            i += 1;
        } else {
            break v;
        }
    };
    if let Some(c) = b.get(i) {
        if !c.is_ascii_whitespace() && *c != 0x0b {
            return None;
        }
    }
    const MAX: [u32; 4] = [0xffff_ffff, 0x00ff_ffff, 0xffff, 0xff];
    if val > MAX[parts.len()] {
        return None;
    }
    let mut word = val;
    for (k, p) in parts.iter().enumerate() {
        word |= p << (24 - 8 * k);
    }
    Some(Ipv4Addr::from(word))
}

/// `strtoul(s, &end, 0)` starting at a digit: the value and the bytes used, `None` when
/// it exceeds 32 bits (inet_aton's limit). A `0x` with no hex digit after it parses as
/// `0` and stops before the `x`, as strtoul.
fn strtoul_auto(b: &[u8]) -> Option<(u32, usize)> {
    let (base, start) = if b.first() == Some(&b'0')
        && matches!(b.get(1), Some(b'x' | b'X'))
        && b.get(2).is_some_and(u8::is_ascii_hexdigit)
    {
        (16, 2)
    } else if b.first() == Some(&b'0') {
        (8, 0)
    } else {
        (10, 0)
    };
    let mut v: u64 = 0;
    let mut i = start;
    while let Some(d) = b.get(i).and_then(|c| (*c as char).to_digit(base)) {
        v = v * u64::from(base) + u64::from(d);
        if v > 0xffff_ffff {
            return None;
        }
        i += 1;
    }
    Some((v as u32, i))
}

/// `strtol(s, &end, 10)` requiring the whole string to be used, as ipvsadm's
/// `string_to_number` and `parse_fwmark` do: optional leading whitespace, an optional
/// sign, at least one digit, nothing after. `None` for anything else or past `i64`.
pub fn strtol_whole(s: &str) -> Option<i64> {
    let t = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut v: i64 = 0;
    for c in digits.bytes() {
        v = v.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
    }
    Some(if neg { -v } else { v })
}

/// ipvsadm's `string_to_number(s, min, max)`: [`strtol_whole`] within `min..=max`.
pub fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    strtol_whole(s).filter(|n| (min..=max).contains(n))
}

/// C's `atoi` (used for an IPv6 `-M` prefix): leading whitespace, a sign, then digits
/// up to the first non-digit; 0 when there are none.
pub fn atoi(s: &str) -> i64 {
    let t = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut v: i64 = 0;
    for c in rest.bytes().take_while(u8::is_ascii_digit) {
        v = v.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    if neg {
        -v
    } else {
        v
    }
}

/// Where `getservbyname` reads (glibc's `files` source).
pub const SERVICES_FILE: &str = "/etc/services";

/// `getservbyname(name, proto)`: the port of the first `/etc/services` line whose name
/// or an alias is `name` for protocol `proto` (`"tcp"`, `"udp"`, `"sctp"`). `None` when
/// the file is missing or has no such entry.
pub fn service_port(name: &str, proto: &str) -> Option<u16> {
    let text = std::fs::read_to_string(SERVICES_FILE).ok()?;
    let port = services_entries(&text)
        .find(|(names, _, p)| *p == proto && names.contains(&name))
        .map(|(_, port, _)| port);
    port
}

/// `getservbyport(port, proto)`: the official name of the first `/etc/services` entry
/// for that port and protocol (what ipvsadm prints without `-n`).
pub fn service_name(port: u16, proto: &str) -> Option<String> {
    let text = std::fs::read_to_string(SERVICES_FILE).ok()?;
    let found = services_entries(&text)
        .find(|(_, p, pr)| *p == port && *pr == proto)
        .and_then(|(names, _, _)| names.first().map(|n| n.to_string()));
    found
}

/// The entries of an `/etc/services` text: (name and aliases, port, protocol).
fn services_entries(text: &str) -> impl Iterator<Item = (Vec<&str>, u16, &str)> {
    text.lines().filter_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_ascii_whitespace();
        let name = words.next()?;
        let (port, proto) = words.next()?.split_once('/')?;
        let port: u16 = port.parse().ok()?;
        let mut names = vec![name];
        names.extend(words);
        Some((names, port, proto))
    })
}

/// `gethostbyname(name)` for IPv4: the first IPv4 address the system resolver gives
/// (`/etc/hosts`, DNS), `None` when it gives none.
pub fn host_addr(name: &str) -> Option<Ipv4Addr> {
    if name.is_empty() {
        return None;
    }
    (name, 0u16).to_socket_addrs().ok()?.find_map(|a| match a {
        SocketAddr::V4(v4) => Some(*v4.ip()),
        SocketAddr::V6(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_aton_takes_what_glibc_takes() {
        let ok: &[(&str, [u8; 4])] = &[
            ("10.1", [10, 0, 0, 1]),
            ("10.1.2", [10, 1, 0, 2]),
            ("1.2.3.4", [1, 2, 3, 4]),
            ("0x0a.1", [10, 0, 0, 1]),
            ("012.1", [10, 0, 0, 1]),
            ("255.255.255.0", [255, 255, 255, 0]),
            ("4294967295", [255, 255, 255, 255]),
            ("24", [0, 0, 0, 24]),
            ("0", [0, 0, 0, 0]),
            ("1.2.65535", [1, 2, 255, 255]),
            ("0xC0.0xA8.0.1", [192, 168, 0, 1]),
            ("1.2.3.4 trailing", [1, 2, 3, 4]),
        ];
        for (s, want) in ok {
            assert_eq!(inet_aton(s), Some(Ipv4Addr::from(*want)), "{s}");
        }
        let bad = [
            "",
            "1.",
            ".1",
            "1.2.3.4.5",
            "256.1",
            "1.2.3.256",
            "1.2.65536",
            "08",
            "09.1",
            "0x",
            "1.2.3.4x",
            "4294967296",
            "a.b.c.d",
            "+1.2.3.4",
            "1..2",
            "1.2.3.-4",
            "example",
            "1.2.3.4:80",
        ];
        for s in bad {
            assert_eq!(inet_aton(s), None, "{s}");
        }
    }

    #[test]
    fn numbers_parse_as_strtol_whole_string() {
        assert_eq!(string_to_number("65535", 0, 65535), Some(65535));
        assert_eq!(string_to_number("65536", 0, 65535), None);
        assert_eq!(string_to_number("+3", 0, 65535), Some(3));
        assert_eq!(string_to_number(" 3", 0, 65535), Some(3));
        assert_eq!(string_to_number("-0", 0, 65535), Some(0));
        assert_eq!(string_to_number("3 ", 0, 65535), None);
        assert_eq!(string_to_number("", 0, 65535), None);
        assert_eq!(string_to_number("0x10", 0, 65535), None);
        assert_eq!(string_to_number("-1", 0, 65535), None);
        assert_eq!(string_to_number("99999999999999999999", 0, i64::MAX), None);
        assert_eq!(atoi("64abc"), 64);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi(" -5"), -5);
    }

    #[test]
    fn services_file_lines_parse_with_aliases_and_comments() {
        let text = "# c\nhttp\t80/tcp\twww # WorldWideWeb\nhttp 80/udp\ndomain 53/udp\nbad x/tcp\n";
        let e: Vec<_> = services_entries(text).collect();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0], (vec!["http", "www"], 80, "tcp"));
        assert_eq!(e[2], (vec!["domain"], 53, "udp"));
    }

    #[test]
    fn system_services_resolve_when_the_file_has_them() {
        // Debian's /etc/services (netbase) lists http; skip quietly only where the file is absent.
        if std::path::Path::new(SERVICES_FILE).exists() {
            assert_eq!(service_port("http", "tcp"), Some(80));
            assert_eq!(service_port("www", "tcp"), Some(80));
            assert_eq!(service_port("no-such-service-name", "tcp"), None);
            assert_eq!(service_name(80, "tcp").as_deref(), Some("http"));
        }
    }
}
