//! The formatter against ipvsadm 1.31 itself: every successful listing and save case of
//! `tests/fixtures/oracle/ipvsadm/recording.txt` (recorded by `record.sh` + `cases.sh`
//! beside it on a real IPVS kernel) is parsed back into the views that print it, handed
//! to the formatter in reverse order (so ipvsadm's sort has to be redone), with the
//! display options read off the recorded command line, and the text must equal the
//! recorded stdout byte for byte. `tests/rvsadm_oracle.rs` replays the same cases
//! against a running rvsd; this one also covers what rvsd cannot be put into (listings
//! after traffic, names).
//!
//! Cases left out, each for a stated reason (the test prints them): failed commands
//! (errors are the parser's and the server's), IPv6 and sync-daemon cases (rvs has
//! neither), `--nosort` (IPVS's hash order cannot be reproduced). Lines no rvs view can
//! print (a `pe sip` service, GUE/GRE tunnel dests: rvs has neither) are taken out of
//! the recorded text and the rest of it compared.

use super::names::Proto;
use super::testdata::{
    parse_conn_rows, parse_save, parse_services, parse_services_with, sock_named,
};
use super::{conns, save, service, services, timeouts};
use crate::adm::cmd::Command;
use crate::ctl::views::{ServiceView, TimeoutsView};

/// One recorded ipvsadm invocation.
struct Case {
    section: String,
    title: String,
    args: Vec<String>,
    exit: i32,
    stdout: String,
}

/// The cases of recording.txt (format documented in record.sh: byte-counted blobs).
fn cases() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/oracle/ipvsadm/recording.txt"
    );
    let text = std::fs::read(path).expect("recording.txt");
    let mut out = Vec::new();
    let mut pos = 0;
    let line = |pos: &mut usize| -> String {
        let end = text[*pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(text.len(), |i| *pos + i);
        let l = String::from_utf8_lossy(&text[*pos..end]).into_owned();
        *pos = (end + 1).min(text.len());
        l
    };
    let blob = |pos: &mut usize, n: usize| -> String {
        let b = String::from_utf8_lossy(&text[*pos..*pos + n]).into_owned();
        *pos += n + 1;
        b
    };
    let mut cur: Option<Case> = None;
    let mut section = String::new();
    while pos < text.len() {
        let l = line(&mut pos);
        if let Some(t) = l.strip_prefix("=== section ") {
            section = t.to_string();
        } else if let Some(t) = l.strip_prefix("### ") {
            if let Some(c) = cur.take() {
                out.push(c);
            }
            cur = Some(Case {
                section: section.clone(),
                title: t.to_string(),
                args: vec![],
                exit: -1,
                stdout: String::new(),
            });
        } else if let Some(n) = l.strip_prefix("--- args ") {
            let n: usize = n.parse().unwrap();
            let args: Vec<String> = (0..n).map(|_| line(&mut pos)).collect();
            if let Some(c) = cur.as_mut() {
                c.args = args;
            }
        } else if let Some(n) = l.strip_prefix("--- exit ") {
            if let Some(c) = cur.as_mut() {
                c.exit = n.parse().unwrap();
            }
        } else if let Some(n) = l.strip_prefix("--- stdout ") {
            let b = blob(&mut pos, n.parse().unwrap());
            if let Some(c) = cur.as_mut() {
                c.stdout = b;
            }
        } else if let Some(n) = l
            .strip_prefix("--- stdin ")
            .or(l.strip_prefix("--- stderr "))
        {
            blob(&mut pos, n.parse().unwrap());
        }
    }
    out.extend(cur);
    out
}

/// What a recorded command line is, as far as choosing cases goes (the display options
/// themselves come from rvsadm's parser, in [`format_case`]).
#[derive(Default)]
struct Asked {
    list: bool,
    save: bool,
    daemon: bool,
    nosort: bool,
}

/// Listing or save, `--daemon`, `--nosort`, off `args` (bundled short options too).
fn asked(args: &[String]) -> Asked {
    let mut a = Asked {
        list: args.is_empty(),
        ..Asked::default()
    };
    for w in args {
        match w.as_str() {
            "--list" => a.list = true,
            "--save" => a.save = true,
            "--nosort" => a.nosort = true,
            "--daemon" => a.daemon = true,
            w if w.starts_with('-') && !w.starts_with("--") => {
                for ch in w.chars().skip(1) {
                    match ch {
                        'L' | 'l' => a.list = true,
                        'S' => a.save = true,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    a
}

/// Why a case is not replayed at this level, if it is not.
fn skip_reason(c: &Case, a: &Asked) -> Option<&'static str> {
    if c.exit != 0 {
        return Some("failed command");
    }
    if !(a.list || a.save) {
        return Some("not a listing");
    }
    if c.title.contains("ipv6") || c.stdout.contains('[') || c.stdout.contains("IPv6") {
        return Some("IPv6");
    }
    if a.daemon || c.title.contains("daemon") {
        return Some("sync daemon");
    }
    if c.title.contains("sctp") || c.stdout.contains("SCTP ") || c.stdout.contains("--sctp") {
        return Some("SCTP");
    }
    if a.nosort {
        return Some("--nosort: IPVS hash order");
    }
    None
}

/// The recorded text without what no rvs view can hold: a service with a persistence
/// engine (listing ` pe sip`, save `--pe sip`) with its real-server lines, and GUE/GRE
/// tunnel real servers (`gue:6080:+c`, `--tun-type gre`). The rest of the listing (its
/// order, every other line) is still compared byte for byte.
fn representable(stdout: &str) -> String {
    let mut out = String::new();
    let mut dropping = false;
    for l in stdout.split_inclusive('\n') {
        let dest_line = l.starts_with("  -> ") || l.starts_with("-a ");
        let service_line = ["TCP  ", "UDP  ", "FWM  ", "-A "]
            .iter()
            .any(|p| l.starts_with(p));
        if service_line {
            dropping = l.contains(" pe ") || l.contains("--pe ");
        } else if !dest_line {
            dropping = false;
        }
        let odd_tunnel = dest_line
            && (l.contains(" gue")
                || l.contains(" gre")
                || l.contains("gue:")
                || l.contains("gre:"));
        if !dropping && !odd_tunnel {
            out.push_str(l);
        }
    }
    out
}

/// Does a listing show a scaled counter (`139200K`)?
fn scaled(stdout: &str) -> bool {
    stdout.split_whitespace().any(|w| {
        w.len() > 1
            && w[..w.len() - 1].bytes().all(|b| b.is_ascii_digit())
            && w.ends_with(['K', 'M', 'G', 'T'])
    })
}

/// The services of a listing whose counters are scaled: its keys and dests, with the
/// counters of the nearest `--exact` listing of the same layout in the same section with
/// nothing but listings recorded between the two (so the counters are the same).
fn with_exact_counters(c: &Case, all: &[Case]) -> Vec<ServiceView> {
    let layout_word = if c.stdout.contains("OutBPS") {
        "OutBPS"
    } else {
        "OutBytes"
    };
    let here = all.iter().position(|x| x.title == c.title).unwrap_or(0);
    let source = all
        .iter()
        .enumerate()
        .filter(|(j, x)| {
            if *j == here {
                return false;
            }
            let (lo, hi) = if *j < here { (*j, here) } else { (here, *j) };
            let only_listings = all[lo + 1..hi].iter().all(|m| {
                let a = asked(&m.args);
                (a.list || a.save) && !m.title.contains("traffic-gen")
            });
            only_listings
                && x.section == c.section
                && x.exit == 0
                && x.args.iter().any(|w| w == "--exact" || w == "-X")
                && x.stdout.contains(layout_word)
        })
        .min_by_key(|(i, _)| i.abs_diff(here))
        .map(|(_, x)| parse_services(&x.stdout))
        .expect("an --exact listing beside the scaled one");
    let mut views = parse_services_with(&c.stdout, true);
    for v in &mut views {
        let src = source
            .iter()
            .find(|s| s.spec.key == v.spec.key)
            .expect("same service in the exact listing");
        v.stats = src.stats;
        v.rates = src.rates;
        for d in &mut v.dests {
            let sd = src
                .dests
                .iter()
                .find(|x| x.addr == d.addr && x.port == d.port)
                .expect("same dest in the exact listing");
            d.stats = sd.stats;
            d.rates = sd.rates;
        }
    }
    views
}

/// The formatter's text for a replayable case, with the display options rvsadm's own
/// parser ([`crate::adm::parse`]) reads off the recorded command line.
fn format_case(c: &Case, all: &[Case]) -> String {
    let argv: Vec<String> = std::iter::once("ipvsadm".to_string())
        .chain(c.args.iter().cloned())
        .collect();
    let cmd = crate::adm::parse(&argv).expect("rvsadm accepts what ipvsadm accepted");
    match cmd {
        Command::Save { numeric } => {
            let mut views = parse_save(&c.stdout);
            views.reverse();
            for v in &mut views {
                v.dests.reverse();
            }
            save(&views, numeric)
        }
        Command::ListTimeouts(_) => {
            let n: Vec<u32> = c
                .stdout
                .trim_end()
                .rsplit(' ')
                .take(3)
                .map(|w| w.parse().unwrap())
                .collect();
            timeouts(&TimeoutsView {
                tcp: n[2],
                tcpfin: n[1],
                udp: n[0],
            })
        }
        Command::ListConns(opts) => conns(&parse_conn_rows(&c.stdout), &opts),
        Command::List { key, opts } => {
            // Unscaled counters read back exactly; scaled ones come from the --exact listing.
            let mut views = if scaled(&c.stdout) {
                with_exact_counters(c, all)
            } else {
                parse_services(&c.stdout)
            };
            views.reverse();
            for v in &mut views {
                v.dests.reverse();
            }
            match key {
                Some(k) => views
                    .iter()
                    .find(|v| v.spec.key == k)
                    .map(|v| service(std::slice::from_ref(v), &opts))
                    .expect("the listed service"),
                None => services(&views, &opts),
            }
        }
        other => panic!("not a listing: {other:?}"),
    }
}

#[test]
fn every_recorded_listing_and_save_is_reproduced_byte_for_byte() {
    let all = cases();
    assert!(all.len() >= 200, "recording has {} cases", all.len());
    let mut replayed = Vec::new();
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    for c in &all {
        let a = asked(&c.args);
        if let Some(why) = skip_reason(c, &a) {
            if a.list || a.save {
                skipped.push(format!("{} ({why})", c.title));
            }
            continue;
        }
        let recorded = representable(&c.stdout);
        let partial = recorded.len() != c.stdout.len();
        let c = &Case {
            section: c.section.clone(),
            title: c.title.clone(),
            args: c.args.clone(),
            exit: c.exit,
            stdout: recorded,
        };
        match std::panic::catch_unwind(|| format_case(c, &all)) {
            Ok(text) if text == c.stdout => replayed.push(if partial {
                format!("{} (without pe/gue/gre lines)", c.title)
            } else {
                c.title.clone()
            }),
            Ok(text) => failures.push(format!(
                "### {} {:?}\n--- recorded\n{}--- rvs\n{}",
                c.title, c.args, c.stdout, text
            )),
            Err(_) => failures.push(format!("### {}: could not be parsed back", c.title)),
        }
    }
    eprintln!("replayed {}: {replayed:?}", replayed.len());
    eprintln!("skipped {}: {skipped:?}", skipped.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        replayed.len() >= 40,
        "only {} cases replayed",
        replayed.len()
    );
}

#[test]
fn names_resolve_back_to_what_was_listed() {
    // The harness itself: a recorded name listing parses back to the addresses the
    // numeric listing of the same table shows (names-and-sorting section).
    let a = sock_named("localhost:http-alt", Proto::Tcp);
    assert_eq!(a.to_string(), "127.0.0.1:8080");
}
