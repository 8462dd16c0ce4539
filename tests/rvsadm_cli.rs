//! The real rvsadm binary: without a reachable rvsd every command is one clear line
//! with status 2, argument errors are ipvsadm's, -v and -h work. (The tests against a
//! running rvsd join this file with the control socket's server.)

use std::io::Write;
use std::path::Path;
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
