//! rvsadm: the admin CLI (ipvsadm's language). Until the control socket exists
//! (phase 6) it answers `-v/--version` and `-h/--help` only; every other command is
//! refused on stderr with exit status 2 (ipvsadm's status for a command line it does
//! not accept), so a script never reads an unimplemented command as success.

use std::process::ExitCode;

/// Exit status of a command that is not implemented yet (ipvsadm's usage-error status).
const NOT_IMPLEMENTED: u8 = 2;

/// ipvsadm's commands, short and long spelling, with the name used in the refusal.
const COMMANDS: &[(&str, &str, &str)] = &[
    ("-A", "--add-service", "add-service (-A)"),
    ("-E", "--edit-service", "edit-service (-E)"),
    ("-D", "--delete-service", "delete-service (-D)"),
    ("-C", "--clear", "clear (-C)"),
    ("-R", "--restore", "restore (-R)"),
    ("-S", "--save", "save (-S)"),
    ("-a", "--add-server", "add-server (-a)"),
    ("-e", "--edit-server", "edit-server (-e)"),
    ("-d", "--delete-server", "delete-server (-d)"),
    ("-L", "--list", "list (-L)"),
    ("-l", "--list", "list (-L)"),
    ("-Z", "--zero", "zero (-Z)"),
    ("", "--set", "set (--set)"),
    ("", "--start-daemon", "start-daemon (--start-daemon)"),
    ("", "--stop-daemon", "stop-daemon (--stop-daemon)"),
];

/// What the command line asks for, as named in the refusal: ipvsadm's command for its
/// first word (bundled short options like `-Ln` count by their first letter), or the
/// word itself.
fn what(args: &[String]) -> String {
    let Some(first) = args.first() else {
        return "list (no arguments = -L)".to_string();
    };
    let short = first
        .strip_prefix('-')
        .filter(|s| !s.starts_with('-'))
        .and_then(|s| s.chars().next())
        .map(|c| format!("-{c}"));
    COMMANDS
        .iter()
        .find(|(s, l, _)| first == l || short.as_deref() == Some(s))
        .map(|(_, _, name)| name.to_string())
        .unwrap_or_else(|| format!("`{first}`"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let version = format!("rvsadm {}", rvs::version::VERSION);
    match args.first().map(String::as_str) {
        Some("-v" | "--version") if args.len() == 1 => {
            println!("{version}");
            ExitCode::SUCCESS
        }
        Some("-h" | "--help") if args.len() == 1 => {
            println!("{version}");
            println!("Usage: rvsadm -v|--version | -h|--help");
            println!(
                "ipvsadm's commands (-A -E -D -C -R -S -a -e -d -L -Z --set) arrive with the \
                 control socket in phase 6; until then services live in rvsd's configuration file."
            );
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "rvsadm: {} is not implemented yet (the control socket arrives in phase 6)",
                what(&args)
            );
            ExitCode::from(NOT_IMPLEMENTED)
        }
    }
}
