//! The real rvsadm binary against a real rvsd (on a DPDK `net_null` port, its control
//! socket in the test's temp dir): ipvsadm's commands change rvsd's table, refusals
//! print ipvsadm's text with its exit status, `-S | -C | -R | -S` gives the same text,
//! a hand-written save file restores exactly, and without rvsd every command is one
//! clear line with status 2.

mod common;

use common::eal::root_or_skip;
use common::rvsd::{null_port_config, one_at_a_time, Rvsd};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs rvsadm with `args` (and `stdin`), the socket given with `--socket`.
fn rvsadm(socket: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rvsadm"))
        .args(args)
        .arg("--socket")
        .arg(socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// (status, stdout, stderr).
fn run(socket: &Path, line: &str) -> (i32, String, String) {
    run_in(socket, line, "")
}

fn run_in(socket: &Path, line: &str, stdin: &str) -> (i32, String, String) {
    let args: Vec<&str> = line.split_whitespace().collect();
    let o = rvsadm(socket, &args, stdin);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Asserts `line` succeeds silently.
fn ok(socket: &Path, line: &str) {
    assert_eq!(
        run(socket, line),
        (0, String::new(), String::new()),
        "{line}"
    );
}

/// [`null_port_config`] (lab-appliance.toml on a `net_null` port with a unique file
/// prefix) started; its control socket is the test dir's `rvsd.sock` (derived_config
/// puts it there).
fn start(tag: &str) -> (Rvsd, PathBuf) {
    let (dir, cfg) = null_port_config(tag);
    let socket = dir.join("rvsd.sock");
    let rvsd = Rvsd::start(dir, cfg);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !socket.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "rvsd made no control socket: {}",
            rvsd.log_text()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (rvsd, socket)
}

/// Operator review (phase 5): `rvsadm -L -n` printed the version and exited 0, so a
/// script read success. Without a reachable rvsd every command is one line naming the
/// socket, status 2 (ipvsadm's "Can't initialize ipvs" status); argument errors are
/// ipvsadm's with its status, rvsd or not; -v and -h work anywhere.
#[test]
fn without_rvsd_every_command_is_one_clear_line() {
    let dir = std::env::temp_dir().join(format!("rvsadm-cli-{}", std::process::id()));
    let sock = dir.join("none.sock");
    let want = format!(
        "rvsadm: cannot connect to rvsd at {}: No such file or directory (is rvsd running? --socket PATH or RVS_SOCKET names another socket)\n",
        sock.display()
    );
    for line in [
        "-L -n",
        "-Ln",
        "",
        "-A -t 192.0.2.1:80",
        "--set 1 2 3",
        "-C",
        "status",
        "reload",
    ] {
        assert_eq!(
            run(&sock, line),
            (2, String::new(), want.clone()),
            "{line:?}"
        );
    }
    let (code, out, err) = run(&sock, "-A -t 192.0.2.1");
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (2, "", "Zero port specified for non-persistent service\n")
    );
    let (code, _, err) = run(&sock, "--bogus");
    assert_eq!(code, 255);
    let prog = env!("CARGO_BIN_EXE_rvsadm");
    assert_eq!(
        err,
        format!("Try `{prog} -h' or '{prog} --help' for more information.\n")
    );
    let (code, out, _) = run(&sock, "-v");
    assert_eq!(code, 0);
    assert!(
        out.starts_with(
            "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1) rvsadm 0.1.0 (git "
        ),
        "{out}"
    );
    let (code, out, _) = run(&sock, "--help");
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("  {prog} -A|E virtual-service")),
        "{out}"
    );
}

/// The commands change rvsd's table as ipvsadm changes the kernel's, refusals carry
/// ipvsadm's text and status, and `-S | -C | -R | -S` is the same text.
#[test]
fn commands_refusals_and_the_save_restore_round_trip() {
    if !root_or_skip() {
        return;
    }
    let _serial = one_at_a_time();
    let (rvsd, s) = start("admcli");
    let s = s.as_path();
    ok(s, "-C");
    ok(s, "-A -t 203.0.113.10:80 -s wrr -p 600 -M 255.255.255.0");
    ok(s, "-a -t 203.0.113.10:80 -r 192.0.2.11:8080 -m -w 3");
    ok(s, "-a -t 203.0.113.10:80 -r 192.0.2.12:9999 -g");
    ok(s, "-a -t 203.0.113.10:80 -r 192.0.2.13 -i -w 0");
    ok(s, "-A -u 203.0.113.11:53 -s sh -b sh-fallback,sh-port -o");
    ok(s, "-a -u 203.0.113.11:53 -r 198.51.100.5:5353 -m");
    ok(s, "-A -f 7 -s rr -p");
    ok(s, "-a -f 7 -r 192.0.2.21 -g");
    ok(s, "-a -f 7 -r 192.0.2.22:8443 -m -w 2");
    ok(s, "-e -t 203.0.113.10:80 -r 192.0.2.11:8080 -m -w 5");
    let refusals = [
        ("-A -t 203.0.113.10:80", "Service already exists\n", 255),
        (
            "-a -t 203.0.113.99:80 -r 192.0.2.18",
            "Service not defined\n",
            255,
        ),
        (
            "-a -t 203.0.113.10:80 -r 192.0.2.11:8080 -m",
            "Destination already exists\n",
            255,
        ),
        (
            "-e -t 203.0.113.10:80 -r 192.0.2.99",
            "No such destination\n",
            255,
        ),
        ("-D -t 203.0.113.99:80", "No such service\n", 255),
        (
            "-A -t 203.0.113.12:80 -s nosuch",
            "Scheduler or persistence engine not found\n",
            255,
        ),
        (
            "-a -t 203.0.113.10:80 -r 192.0.2.18 -y 5",
            "Numerical result out of range\n",
            255,
        ),
        ("-Ln -t 203.0.113.99:80", "No such service\n", 1),
        (
            "-a -t 203.0.113.10:80 -r 192.0.2.18 -w abc",
            "illegal weight specified\n",
            2,
        ),
    ];
    for (line, err, code) in refusals {
        assert_eq!(
            run(s, line),
            (code, String::new(), err.to_string()),
            "{line}"
        );
    }
    let saved = run(s, "-S -n");
    assert_eq!(saved.0, 0, "{saved:?}");
    let want = "-A -t 203.0.113.10:80 -s wrr -p 600 -M 255.255.255.0\n\
                -a -t 203.0.113.10:80 -r 192.0.2.11:8080 -m -w 5\n\
                -a -t 203.0.113.10:80 -r 192.0.2.12:80 -g -w 1\n\
                -a -t 203.0.113.10:80 -r 192.0.2.13:80 -i -w 0 --tun-type ipip\n\
                -A -u 203.0.113.11:53 -s sh -o -b sh-fallback,sh-port\n\
                -a -u 203.0.113.11:53 -r 198.51.100.5:5353 -m -w 1\n\
                -A -f 7 -s rr -p 360\n\
                -a -f 7 -r 192.0.2.21:0 -g -w 1\n\
                -a -f 7 -r 192.0.2.22:8443 -m -w 2\n";
    assert_eq!(saved.1, want, "-S -n after the commands");
    ok(s, "-C");
    assert_eq!(run(s, "-S -n").1, "");
    assert_eq!(run_in(s, "-R", &saved.1), (0, String::new(), String::new()));
    assert_eq!(run(s, "-S -n"), saved, "-S | -C | -R | -S");
    // Deletions.
    ok(s, "-d -t 203.0.113.10:80 -r 192.0.2.12");
    ok(s, "-D -f 7");
    let after = run(s, "-S -n").1;
    assert!(
        !after.contains("192.0.2.12:80") && !after.contains("-f 7"),
        "{after}"
    );
    let log = rvsd.stop();
    assert!(!log.contains("panicked"), "{log}");
}

/// A hand-written save file with every flag, fwmark services, every method, names,
/// `ipvsadm` words, CRLF and blank lines restores to exactly what it says; a refused
/// line goes on, an argument error stops with the lines before it applied.
#[test]
fn a_hand_written_save_file_restores_exactly() {
    if !root_or_skip() {
        return;
    }
    let _serial = one_at_a_time();
    let (rvsd, s) = start("admrestore");
    let s = s.as_path();
    ok(s, "-C");
    let file = "ipvsadm -A -t 203.0.113.10:http -s wrr -p 600 -M 255.255.255.0\r\n\
                -a -t 203.0.113.10:http -r 192.0.2.11:webcache -m -w 3 -x 100 -y 10\n\
                \n\
                -a -t 203.0.113.10:http -r 192.0.2.12:http -g -w 0\n\
                \t-a -t 203.0.113.10:http -r 192.0.2.13:http -i -w 5 --tun-type ipip\n\
                -A -u 203.0.113.11:domain -s sh -b sh-fallback,sh-port -o\n\
                -a -u 203.0.113.11:domain -r 198.51.100.5:domain -m -w 1\n\
                -A -f 7 -s rr -p\n\
                -a -f 7 -r 192.0.2.21:0 -g -w 1\n\
                -a -f 7 -r 192.0.2.22:8443 -m -w 2\n\
                -A -f 8 -s mh -b mh-fallback\n\
                -a -f 8 -r 192.0.2.23:0 -i -w 4\n\
                --add-service --tcp-service 127.0.0.1:443 --scheduler lblcr\n\
                --add-server --tcp-service localhost:443 --real-server 198.51.100.6 --gatewaying --weight 9\n\
                -At 203.0.113.12:25 -s fo";
    assert_eq!(run_in(s, "-R", file), (0, String::new(), String::new()));
    let want = "-A -t 127.0.0.1:443 -s lblcr\n\
                -a -t 127.0.0.1:443 -r 198.51.100.6:443 -g -w 9\n\
                -A -t 203.0.113.10:80 -s wrr -p 600 -M 255.255.255.0\n\
                -a -t 203.0.113.10:80 -r 192.0.2.11:8080 -m -w 3\n\
                -a -t 203.0.113.10:80 -r 192.0.2.12:80 -g -w 0\n\
                -a -t 203.0.113.10:80 -r 192.0.2.13:80 -i -w 5 --tun-type ipip\n\
                -A -t 203.0.113.12:25 -s fo\n\
                -A -u 203.0.113.11:53 -s sh -o -b sh-fallback,sh-port\n\
                -a -u 203.0.113.11:53 -r 198.51.100.5:53 -m -w 1\n\
                -A -f 7 -s rr -p 360\n\
                -a -f 7 -r 192.0.2.21:0 -g -w 1\n\
                -a -f 7 -r 192.0.2.22:8443 -m -w 2\n\
                -A -f 8 -s mh -b mh-fallback\n\
                -a -f 8 -r 192.0.2.23:0 -i -w 4 --tun-type ipip\n";
    assert_eq!(run(s, "-S -n").1, want);
    // restore-duplicate-line / restore-bad-weight-line as the oracle recorded them.
    ok(s, "-C");
    let dup = "-A -t 203.0.113.10:80 -s rr\n-A -t 203.0.113.10:80 -s rr\n-a -t 203.0.113.10:80 -r 192.0.2.11\n";
    assert_eq!(
        run_in(s, "-R", dup),
        (0, String::new(), "Service already exists\n".to_string())
    );
    ok(s, "-C");
    let bad = "-A -t 203.0.113.10:80 -s rr\n-a -t 203.0.113.10:80 -r 192.0.2.11 -w abc\n-a -t 203.0.113.10:80 -r 192.0.2.12\n";
    assert_eq!(
        run_in(s, "-R", bad),
        (2, String::new(), "illegal weight specified\n".to_string())
    );
    assert_eq!(run(s, "-S -n").1, "-A -t 203.0.113.10:80 -s rr\n");
    let log = rvsd.stop();
    assert!(!log.contains("panicked"), "{log}");
}

/// rvs's own commands against rvsd: VIPs and mark rules added, listed (text and JSON)
/// and removed, their refusals, `status` and `reload`.
#[test]
fn vip_mark_status_and_reload_commands() {
    if !root_or_skip() {
        return;
    }
    let _serial = one_at_a_time();
    let (rvsd, s) = start("admown");
    let s = s.as_path();
    // No sync daemon: nothing in text, an empty list in JSON (a document all the same).
    assert_eq!(run(s, "-L --daemon"), (0, String::new(), String::new()));
    let (code, out, err) = run(s, "-L --daemon --json");
    assert_eq!((code, err.as_str()), (0, ""));
    let doc: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(doc["daemons"], serde_json::json!([]), "{out}");
    ok(s, "vip add 203.0.113.50");
    ok(s, "vip add 203.0.113.51 --port ext");
    let (code, out, err) = run(s, "vip list --json");
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    let vips = doc["vips"].as_array().expect("a vips list");
    for a in ["203.0.113.50", "203.0.113.51"] {
        assert!(
            vips.iter().any(|v| v["addr"] == a && v["port"] == "ext"),
            "{a} on ext in {out}"
        );
    }
    let (code, out, _) = run(s, "vip list");
    assert_eq!(code, 0);
    assert!(out.contains("203.0.113.50") && out.contains("ext"), "{out}");
    ok(s, "vip del 203.0.113.50");
    assert!(!run(s, "vip list").1.contains("203.0.113.50"));
    let (code, out, err) = run(s, "vip add 198.18.0.1");
    assert_eq!((code, out.as_str()), (255, ""), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // F6: no VIP rvsd would answer broadcasts for, named port or not.
    for a in [
        "255.255.255.255 --port ext",
        "0.0.0.0 --port ext",
        "224.0.0.5 --port ext",
        "127.0.0.1 --port ext",
        "203.0.113.255",
    ] {
        let (code, out, err) = run(s, &format!("vip add {a}"));
        assert_eq!((code, out.as_str()), (255, ""), "{a}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("not a unicast address") || err.contains("broadcast address"),
            "{a}: {err}"
        );
    }
    assert!(!run(s, "vip list").1.contains("255"));

    ok(
        s,
        "mark add 7 --vip 203.0.113.0/24 --protocol tcp --ports 8000-8099",
    );
    let (code, out, _) = run(s, "mark list --json");
    assert_eq!(code, 0, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        doc["rules"][0],
        serde_json::json!({"mark": 7, "protocol": "tcp", "vip": "203.0.113.0/24", "ports": "8000-8099"}),
        "{out}"
    );
    ok(
        s,
        "mark del 7 --vip 203.0.113.0/24 --protocol tcp --ports 8000-8099",
    );
    assert_eq!(
        run(s, "mark list --json").1,
        "{\"version\":\"1.0\",\"rules\":[]}\n"
    );

    let (code, out, err) = run(s, "status --json");
    assert_eq!((code, err.as_str()), (0, ""));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        doc["status"]["version"]
            .as_str()
            .unwrap()
            .starts_with("0.1.0"),
        "{out}"
    );
    assert_eq!(doc["status"]["ports"][0]["name"], "ext", "{out}");
    let (code, out, _) = run(s, "status");
    assert_eq!(code, 0);
    assert!(out.contains("ext"), "{out}");
    // reload re-reads the unchanged file: nothing to change, status 0.
    let (code, _, err) = run(s, "reload");
    assert_eq!((code, err.as_str()), (0, ""));
    let log = rvsd.stop();
    assert!(!log.contains("panicked"), "{log}");
}
