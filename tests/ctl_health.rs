//! Health checks in a real rvsd (DPDK `net_null` port, no namespace: MISC_CHECK programs
//! need no network) driven through the real rvsadm: a DOWN real server leaves
//! `rvsadm -Ln` (weight 0 with `inhibit_on_failure`), comes back with its configured
//! weight (changed by `-e -w` while DOWN), the sorry server is listed while every real
//! server is down, `-L --json` and `status --json` carry the health fields, `rvsadm check set/del` change checks at run time, and the state file
//! keeps configured weights and run-time checks across a restart.

mod common;

use common::eal::root_or_skip;
use common::rvsd::{null_port_config, one_at_a_time, Rvsd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs rvsadm `args` against `socket`: (status, stdout, stderr).
fn rvsadm(socket: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rvsadm"))
        .args(args)
        .arg("--socket")
        .arg(socket)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(socket: &Path, args: &[&str]) -> String {
    let (code, out, err) = rvsadm(socket, args);
    assert_eq!(code, 0, "rvsadm {args:?}: {err}");
    out
}

/// The `-> RIP:PORT ... Weight` rows of `rvsadm -Ln`: (server, weight), sorted.
fn rows(socket: &Path) -> Vec<(String, u32)> {
    let text = ok(socket, &["-Ln"]);
    let mut v: Vec<(String, u32)> = text
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.first() == Some(&"->") && w.get(1) != Some(&"RemoteAddress:Port"))
                .then(|| (w[1].to_string(), w[3].parse().unwrap()))
        })
        .collect();
    v.sort();
    v
}

/// Waits (up to 15 s) until `rvsadm -Ln`'s rows are `want`.
fn wait_rows(socket: &Path, want: &[(&str, u32)], what: &str) {
    let want: Vec<(String, u32)> = want.iter().map(|(s, w)| (s.to_string(), *w)).collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = rows(socket);
        if now == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: rows {now:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The service: three NAT real servers, each checked by `test -e DIR/upN` every 0.2 s
/// (no retry), .12 inhibited on failure; sorry server 203.0.113.50:8080.
fn service(dir: &Path) -> String {
    let mut s = String::from(
        "\n[[service]]\nproto = \"tcp\"\nvip = \"203.0.113.10\"\nport = 80\nscheduler = \"rr\"\ndelay_loop = 0.2\n\n\
         [service.sorry_server]\naddr = \"203.0.113.50\"\nport = 8080\nmethod = \"nat\"\n",
    );
    for n in [11, 12, 13] {
        s.push_str(&format!(
            "\n[[service.real]]\naddr = \"203.0.113.{n}\"\nport = 8080\nmethod = \"nat\"\n{}\
             [service.real.check]\nretry = 0\n[service.real.check.MISC_CHECK]\n\
             misc_path = \"/usr/bin/test\"\nmisc_args = [\"-e\", \"{}\"]\n",
            if n == 12 {
                "inhibit_on_failure = true\n"
            } else {
                ""
            },
            dir.join(format!("up{n}")).display()
        ));
    }
    s
}

/// [`null_port_config`] with the socket and the state file in the test's dir and
/// [`service`].
fn config(tag: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (dir, cfg) = null_port_config(tag);
    let socket = dir.join("rvsd.sock");
    let state = dir.join("state.json");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    let start = text.find("[control]").expect("[control] section");
    let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
    text.replace_range(
        start..end,
        &format!(
            "[control]\nsocket = \"{}\"\nstate_file = \"{}\"",
            socket.display(),
            state.display()
        ),
    );
    text.push_str(&service(&dir));
    std::fs::write(&cfg, text).unwrap();
    (dir, cfg, socket)
}

fn json(socket: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(socket, args)).unwrap()
}

#[test]
fn down_servers_leave_the_listing_and_come_back_with_their_configured_weight() {
    if !root_or_skip() {
        return;
    }
    let _serial = one_at_a_time();
    let (dir, cfg, socket) = config("hmgr-health");
    for n in [11, 12, 13] {
        std::fs::write(dir.join(format!("up{n}")), "").unwrap();
    }
    let mut rvsd = Rvsd::start(dir.clone(), cfg.clone());
    rvsd.keep_files();
    let all = [
        ("203.0.113.11:8080", 1),
        ("203.0.113.12:8080", 1),
        ("203.0.113.13:8080", 1),
    ];
    wait_rows(&socket, &all, "all up");

    // DOWN: .11 leaves the table, .12 (inhibit_on_failure) stays at weight 0.
    std::fs::remove_file(dir.join("up11")).unwrap();
    std::fs::remove_file(dir.join("up12")).unwrap();
    wait_rows(
        &socket,
        &[("203.0.113.12:8080", 0), ("203.0.113.13:8080", 1)],
        "down",
    );
    let list = json(&socket, &["-Ln", "--json"]);
    let svc = &list["services"][0];
    let removed = &svc["removed_dests"][0];
    assert_eq!(removed["addr"], "203.0.113.11", "{list:#}");
    assert_eq!(removed["health"]["state"], "down");
    assert_eq!(removed["health"]["checker"], "MISC_CHECK");
    assert!(removed["health"]["consecutive_failures"].as_u64().unwrap() >= 1);
    assert!(removed["health"]["last_check_ms"].as_u64().unwrap() > 1_700_000_000_000);
    assert!(removed["health"]["last_result"].is_string(), "{list:#}");
    let d12 = svc["dests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["addr"] == "203.0.113.12")
        .unwrap();
    assert_eq!(d12["weight"], 0);
    assert_eq!(d12["health"]["state"], "inhibited");
    assert_eq!(d12["health"]["configured_weight"], 1);
    let status = json(&socket, &["status", "--json"]);
    let health = status["status"]["health"].as_array().unwrap();
    assert_eq!(health.len(), 3, "{status:#}");
    let s11 = health.iter().find(|h| h["addr"] == "203.0.113.11").unwrap();
    assert_eq!(s11["state"], "down");
    assert!(s11["weight"].is_null());
    let text = ok(&socket, &["status"]);
    assert!(
        text.contains("TCP 203.0.113.10:80 -> 203.0.113.11:8080 down weight out/1 MISC_CHECK"),
        "{text}"
    );

    // -e -w on a DOWN server: the configured weight only; UP gives it back.
    ok(
        &socket,
        &[
            "-e",
            "-t",
            "203.0.113.10:80",
            "-r",
            "203.0.113.11:8080",
            "-m",
            "-w",
            "3",
        ],
    );
    assert_eq!(
        rows(&socket),
        [
            ("203.0.113.12:8080".to_string(), 0),
            ("203.0.113.13:8080".to_string(), 1)
        ]
    );
    std::fs::write(dir.join("up11"), "").unwrap();
    std::fs::write(dir.join("up12"), "").unwrap();
    wait_rows(
        &socket,
        &[
            ("203.0.113.11:8080", 3),
            ("203.0.113.12:8080", 1),
            ("203.0.113.13:8080", 1),
        ],
        "up again",
    );

    // A run-time check change: .13's check fails, then passes.
    let check = dir.join("check.toml");
    std::fs::write(
        &check,
        "retry = 0\n[MISC_CHECK]\nmisc_path = \"/bin/false\"\n",
    )
    .unwrap();
    let c = check.to_str().unwrap();
    let r13 = ["-t", "203.0.113.10:80", "-r", "203.0.113.13:8080"];
    ok(
        &socket,
        &[&["check", "set"], &r13[..], &["--file", c]].concat(),
    );
    wait_rows(
        &socket,
        &[("203.0.113.11:8080", 3), ("203.0.113.12:8080", 1)],
        "run-time check fails",
    );
    std::fs::write(
        &check,
        "retry = 0\n[MISC_CHECK]\nmisc_path = \"/bin/true\"\n",
    )
    .unwrap();
    ok(
        &socket,
        &[&["check", "set"], &r13[..], &["--file", c]].concat(),
    );
    wait_rows(
        &socket,
        &[
            ("203.0.113.11:8080", 3),
            ("203.0.113.12:8080", 1),
            ("203.0.113.13:8080", 1),
        ],
        "run-time check passes",
    );
    // Every real server down: the sorry server is in use (.12 stays inhibited at 0).
    std::fs::remove_file(dir.join("up11")).unwrap();
    std::fs::remove_file(dir.join("up12")).unwrap();
    std::fs::write(
        &check,
        "retry = 0\n[MISC_CHECK]\nmisc_path = \"/bin/false\"\n",
    )
    .unwrap();
    ok(
        &socket,
        &[&["check", "set"], &r13[..], &["--file", c]].concat(),
    );
    wait_rows(
        &socket,
        &[("203.0.113.12:8080", 0), ("203.0.113.50:8080", 1)],
        "sorry server in use",
    );
    let list = json(&socket, &["-Ln", "--json"]);
    assert_eq!(list["services"][0]["sorry_active"], true, "{list:#}");
    std::fs::write(dir.join("up12"), "").unwrap();
    std::fs::write(
        &check,
        "retry = 0\n[MISC_CHECK]\nmisc_path = \"/bin/true\"\n",
    )
    .unwrap();
    ok(
        &socket,
        &[&["check", "set"], &r13[..], &["--file", c]].concat(),
    );
    std::fs::write(dir.join("up11"), "").unwrap();
    wait_rows(
        &socket,
        &[
            ("203.0.113.11:8080", 3),
            ("203.0.113.12:8080", 1),
            ("203.0.113.13:8080", 1),
        ],
        "sorry server no longer in use",
    );
    // Refusals: one line, status 1 as other refused changes.
    let (code, _, err) = rvsadm(
        &socket,
        &[
            "check",
            "del",
            "-t",
            "203.0.113.10:80",
            "-r",
            "203.0.113.99:8080",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("No such destination"), "{err}");

    // The state file keeps the configured weight and the run-time check.
    std::fs::remove_file(dir.join("up11")).unwrap();
    wait_rows(
        &socket,
        &[("203.0.113.12:8080", 1), ("203.0.113.13:8080", 1)],
        "down before stop",
    );
    rvsd.stop();
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state.json")).unwrap()).unwrap();
    let saved = &state["services"][0];
    let d11 = saved["dests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["addr"] == "203.0.113.11")
        .expect("a DOWN server is saved");
    assert_eq!(d11["weight"], 3);
    let own13 = saved["checks"]["reals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["addr"] == "203.0.113.13")
        .unwrap();
    assert_eq!(
        own13["check"]["MISC_CHECK"]["misc_path"], "/bin/true",
        "{state:#}"
    );
    std::fs::write(dir.join("up11"), "").unwrap();
    let rvsd = Rvsd::start(dir.clone(), cfg);
    wait_rows(
        &socket,
        &[
            ("203.0.113.11:8080", 3),
            ("203.0.113.12:8080", 1),
            ("203.0.113.13:8080", 1),
        ],
        "restored",
    );
    let log = rvsd.stop();
    assert!(log.contains("restored the running state"), "{log}");
}
