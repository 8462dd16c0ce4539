//! rvsadm against ipvsadm 1.31 on a real IPVS kernel: every case recorded by
//! `tests/fixtures/oracle/ipvsadm/record.sh` (commands, listings, save/restore, every error
//! text and exit code) is replayed, in order, against a real rvsd (on a DPDK `net_null`
//! port, no services at start, its control socket in the test's temp dir) through the real
//! rvsadm binary, and exit status, stdout and stderr must equal the recording byte for byte.
//!
//! rvsadm runs with argv[0] = `ipvsadm` (ipvsadm echoes argv[0] in its try-help line and
//! `-h` text), so the texts can match exactly. Cases of the `traffic` section (they need
//! live connections) and cases of features rvs does not have are not replayed
//! ([`NOT_REPLAYED`]); the cases in [`DELIBERATE`] differ on purpose (docs/RVSADM.md,
//! "Differences from ipvsadm 1.31") and are compared as [`Compare`] says. Every mismatch
//! is reported in one failure message. `RVSADM_ORACLE_SECTION=NAME` replays one section.

mod common;

use common::eal::root_or_skip;
use common::ipvsadm_rec::{load, Case};
use common::rvsd::{derived_config, Rvsd};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// The recording, relative to the crate root (cargo runs tests there).
const RECORDING: &str = "tests/fixtures/oracle/ipvsadm/recording.txt";

/// Recorded tags whose cases this replay does not run, and why. A case with one of the
/// feature tags (not `traffic`) that ipvsadm itself rejected (exit status 2: its own
/// checks run before anything reaches a kernel) IS replayed: rvsadm must reject it alike.
const NOT_REPLAYED: &[(&str, &str)] = &[
    (
        "traffic",
        "needs live connections: format-only, for the formatter tests",
    ),
    ("daemon", "the sync daemon is phase 9"),
    (
        "ipv6",
        "rvs is IPv4 only: rvsadm answers as a kernel without IPv6 IPVS",
    ),
    (
        "sctp",
        "rvs has no SCTP services: rvsadm answers as a kernel without them",
    ),
    (
        "pe",
        "rvs has no persistence engine (--pe): rvsadm answers as a kernel without",
    ),
    (
        "tunnel",
        "rvs tunnels are IPIP only (no GUE/GRE): rvsadm answers as a kernel without",
    ),
];

/// True when the replay runs `case` (see [`NOT_REPLAYED`]).
fn is_replayed(case: &Case) -> bool {
    !NOT_REPLAYED
        .iter()
        .any(|(t, _)| case.has_tag(t) && (*t == "traffic" || case.exit != 2))
}

/// How a case's output is compared.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Compare {
    /// Exit status, stdout and stderr byte for byte.
    Exact,
    /// Exit status and stderr exactly; stdout must START with the recorded stdout (less
    /// its final newline): rvsadm adds its own words after ipvsadm's.
    Prefix,
    /// Exit status, stderr, and stdout's lines in any order (`--nosort` prints the
    /// kernel's hash-table order, which rvs does not have).
    AnyLineOrder,
}

/// Cases (section, name) where rvsadm differs from ipvsadm on purpose, how they are
/// compared instead, and why (documented in docs/RVSADM.md, "Differences from ipvsadm 1.31").
const DELIBERATE: &[(&str, &str, Compare, &str)] = &[
    (
        "help-version",
        "version",
        Compare::Prefix,
        "rvsadm's version follows ipvsadm's line",
    ),
    ("help-version", "version-long", Compare::Prefix, "as -v"),
    (
        "help-version",
        "help",
        Compare::Prefix,
        "rvs's own commands follow ipvsadm's text",
    ),
    ("help-version", "help-long", Compare::Prefix, "as -h"),
    (
        "add-service",
        "list-nosort",
        Compare::AnyLineOrder,
        "kernel hash order",
    ),
];

/// The comparison for `case`.
fn compare_mode(case: &Case) -> Compare {
    DELIBERATE
        .iter()
        .find(|(s, n, _, _)| *s == case.section && *n == case.name)
        .map_or(Compare::Exact, |d| d.2)
}

/// True when `got` is what `want` asks for under `mode`.
fn same(want: &[u8], got: &[u8], mode: Compare) -> bool {
    match mode {
        Compare::Exact => want == got,
        Compare::Prefix => got.starts_with(want.strip_suffix(b"\n").unwrap_or(want)),
        Compare::AnyLineOrder => {
            let sorted = |t: &[u8]| {
                let mut lines: Vec<Vec<u8>> = t
                    .split_inclusive(|&b| b == b'\n')
                    .map(<[u8]>::to_vec)
                    .collect();
                lines.sort();
                lines
            };
            sorted(want) == sorted(got)
        }
    }
}

/// Replays one case; returns a description of the mismatch, if any.
fn replay(case: &Case, socket: &Path, mode: Compare) -> Option<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rvsadm"))
        .arg0("ipvsadm")
        .args(&case.args)
        .env("RVS_SOCKET", socket)
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rvsadm starts");
    {
        let mut stdin = child.stdin.take().unwrap();
        if let Some(input) = &case.stdin {
            // A case that exits before reading all of it (an error) closes the pipe.
            let _ = stdin.write_all(input);
        }
    }
    let out = child.wait_with_output().expect("rvsadm runs");
    let exit = out.status.code().unwrap_or(-1);
    let mut diff = String::new();
    if exit != case.exit {
        diff += &format!("  exit: expected {}, got {exit}\n", case.exit);
    }
    for (what, want, got, mode) in [
        ("stdout", &case.stdout, &out.stdout, mode),
        ("stderr", &case.stderr, &out.stderr, Compare::Exact),
    ] {
        if !same(want, got, mode) {
            diff += &format!("  {what} differs ({mode:?}):\n{}", text_diff(want, got));
        }
    }
    (!diff.is_empty()).then(|| {
        format!(
            "case {} {} (section {}): {}\n{diff}",
            case.number, case.name, case.section, case.shown
        )
    })
}

/// A line diff of two outputs with trailing spaces and the final newline made visible
/// (`·` for a trailing space, `⏎` for the end of a line, `(no final newline)`).
fn text_diff(want: &[u8], got: &[u8]) -> String {
    let show = |b: &[u8]| -> Vec<String> {
        let s = String::from_utf8_lossy(b);
        let mut lines: Vec<String> = s
            .split_inclusive('\n')
            .map(|l| {
                let (body, nl) = l.strip_suffix('\n').map_or((l, ""), |b| (b, "⏎"));
                let trimmed = body.trim_end_matches(' ');
                let spaces = body.len() - trimmed.len();
                format!("{trimmed}{}{nl}", "·".repeat(spaces))
            })
            .collect();
        if !s.is_empty() && !s.ends_with('\n') {
            lines.push("(no final newline)".into());
        }
        lines
    };
    let (w, g) = (show(want), show(got));
    let mut out = String::new();
    for i in 0..w.len().max(g.len()) {
        match (w.get(i), g.get(i)) {
            (Some(a), Some(b)) if a == b => out += &format!("      {a}\n"),
            (a, b) => {
                if let Some(a) = a {
                    out += &format!("    - {a}\n");
                }
                if let Some(b) = b {
                    out += &format!("    + {b}\n");
                }
            }
        }
    }
    out
}

/// The recording is whole: at least 120 cases numbered 1..N, each section starts with
/// `ipvsadm -C` (so a replay may start at any section), every traffic case is tagged, and
/// most cases are replayable. Needs no rvsd.
#[test]
fn recording_is_well_formed() {
    let cases = load(Path::new(RECORDING));
    assert!(cases.len() >= 120, "only {} recorded cases", cases.len());
    let mut section = "";
    for (i, case) in cases.iter().enumerate() {
        assert_eq!(case.number, i + 1, "case {} out of order", case.number);
        if case.section != section {
            section = &case.section;
            assert_eq!(
                case.args,
                ["-C"],
                "section {section} starts with case {}",
                case.number
            );
        }
        assert_eq!(
            case.section == "traffic",
            case.has_tag("traffic"),
            "case {}",
            case.number
        );
        assert!(
            (0..=255).contains(&case.exit),
            "case {}: exit {}",
            case.number,
            case.exit
        );
    }
    let n = cases.iter().filter(|c| is_replayed(c)).count();
    assert!(n >= 120, "only {n} replayable cases");
}

#[test]
fn rvsadm_matches_ipvsadm_recordings() {
    let cases = load(Path::new(RECORDING));
    if !root_or_skip() {
        return;
    }
    let tag = format!("rvs-oracle-adm-{}", std::process::id());
    let dir0 = std::env::temp_dir().join(&tag);
    let socket = dir0.join("rvsd.sock");
    let (dir, cfg) = derived_config(
        "lab-appliance.toml",
        &[
            ("net_af_packet0,iface=rvs-ext", "net_null0"),
            ("exception_path = true", "exception_path = false"),
            ("rvs-appliance", &tag),
            ("/run/rvs/rvsd.sock", &socket.to_string_lossy()),
        ],
    );
    std::fs::create_dir_all(&dir0).unwrap();
    let rvsd = Rvsd::start(dir, cfg);
    let mut mismatches = Vec::new();
    let mut replayed = 0;
    // RVSADM_ORACLE_SECTION=name replays one section only (each starts from -C).
    let only = std::env::var("RVSADM_ORACLE_SECTION").ok();
    for case in &cases {
        if !is_replayed(case) || only.as_ref().is_some_and(|s| *s != case.section) {
            continue;
        }
        replayed += 1;
        if let Some(m) = replay(case, &socket, compare_mode(case)) {
            mismatches.push(m);
        }
    }
    let log = rvsd.stop();
    std::fs::remove_dir_all(&dir0).ok();
    eprintln!("replayed {replayed} recorded ipvsadm cases");
    if only.is_none() {
        assert!(replayed >= 250, "only {replayed} cases replayed");
    }
    assert!(
        mismatches.is_empty(),
        "{} of {replayed} replayed cases differ from ipvsadm 1.31:\n\n{}\nrvsd log:\n{log}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
