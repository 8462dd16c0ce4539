//! `rvsadm import-keepalived [--base BASE.toml] [-o OUT] FILE`: runs without rvsd.
//! Exit statuses: 0 imported (notes, if any, on stderr); 1 refused (one line
//! `rvsadm: FILE:LINE: keyword: reason`, or the base file's or rvs's own check's error);
//! 2 a usage error.

use super::import;
use std::io::Write;
use std::path::Path;

/// The usage line.
pub const USAGE: &str = "usage: rvsadm import-keepalived [--base BASE.toml] [-o OUT.toml] FILE";

/// Runs the command; `args` are the words after `import-keepalived`.
pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let mut base = None;
    let mut output = None;
    let mut file = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let slot = match a.as_str() {
            "-h" | "--help" => {
                let _ = writeln!(out, "{USAGE}");
                return 0;
            }
            "--base" => &mut base,
            "-o" | "--output" => &mut output,
            s if s.starts_with('-') && s.len() > 1 => {
                let _ = writeln!(
                    err,
                    "rvsadm: import-keepalived: unknown option `{s}'\n{USAGE}"
                );
                return 2;
            }
            _ => &mut file,
        };
        let value = if matches!(a.as_str(), "--base" | "-o" | "--output") {
            match it.next() {
                Some(v) => v,
                None => {
                    let _ = writeln!(err, "rvsadm: import-keepalived: {a} needs a value\n{USAGE}");
                    return 2;
                }
            }
        } else {
            a
        };
        if slot.replace(value.clone()).is_some() {
            let _ = writeln!(
                err,
                "rvsadm: import-keepalived: `{value}' given twice\n{USAGE}"
            );
            return 2;
        }
    }
    let Some(file) = file else {
        let _ = writeln!(
            err,
            "rvsadm: import-keepalived: no keepalived configuration named\n{USAGE}"
        );
        return 2;
    };
    let base = base.as_deref().map(|b| (Path::new(b), b));
    let result = match import(Path::new(&file), &file, base) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "rvsadm: {e}");
            return 1;
        }
    };
    for n in &result.notes {
        let _ = writeln!(err, "rvsadm: note: {n}");
    }
    match output {
        None => {
            let _ = out.write_all(result.toml.as_bytes());
        }
        Some(path) => {
            if let Err(e) = std::fs::write(&path, &result.toml) {
                let _ = writeln!(err, "rvsadm: {path}: {e}");
                return 1;
            }
        }
    }
    0
}
