//! `-R`: commands from stdin, one a line, as ipvsadm 1.31's `restore_table` and
//! `config_stream_read` (studied) read them, so files saved by a real director (and
//! whatever scripts pipe in) restore the same:
//! - words are split on spaces, tabs and CRs (no quoting; CRLF lines work); every
//!   word exactly `ipvsadm` is dropped, so `ipvsadm -A ...` lines work; lines without
//!   words are skipped;
//! - `#` is not a comment: a `#` word is not a command, so the try-help line ends the
//!   restore with status 255 (recording restore-handwritten; the `ipvsadm-restore`
//!   wrapper greps comments out first, rvsadm has no such wrapper);
//! - a last line without a newline is read, unless it ends in a blank (ipvsadm's
//!   reader drops such a line);
//! - an argument error (ipvsadm's `fail`, the try-help line, a nested `-R`) stops at
//!   that line with its status, the lines before it applied (recording
//!   restore-bad-weight-line); a refusal by rvsd (ipvsadm: by the kernel) or a popt
//!   error prints its message and the restore goes on; the exit status is the last
//!   line's (recording restore-duplicate-line: 0);
//! - `-h`/`-v` print and end the restore with status 0; `-L` and `-S` lines print.

use super::cmd::Command;
use super::parse::{parse_restore_line, ParseError};

/// What carrying out one command gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done, or refused with its message printed: the status (0 or 255), and -R goes on.
    Status(u8),
    /// ipvsadm would `exit()` here (a listing failure: status 1, or rvsd unreachable).
    Exit(u8),
}

/// The words of each line of `input`, as `config_stream_read` splits them (`ipvsadm`
/// words dropped, lines without words left out).
pub fn lines(input: &[u8]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut segments: Vec<&[u8]> = input.split(|b| *b == b'\n').collect();
    // What follows the last newline is an unterminated line (empty when the input ends
    // with a newline); ipvsadm loses it when it ends in a blank.
    let last = segments.pop().unwrap_or(&[]);
    let keep_last = !matches!(last.last(), Some(b' ' | b'\t' | b'\r'));
    let all = segments.into_iter().chain(keep_last.then_some(last));
    for seg in all {
        let words: Vec<String> = seg
            .split(|b| matches!(b, b' ' | b'\t' | b'\r'))
            .filter(|w| !w.is_empty() && *w != b"ipvsadm")
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        if !words.is_empty() {
            out.push(words);
        }
    }
    out
}

/// Runs a restore of `input`: each line parsed as `prog <words>` and carried out by
/// `exec`; parse errors are written with `report` (their message). Returns the exit
/// status, as ipvsadm's.
pub fn run(
    prog: &str,
    input: &[u8],
    mut exec: impl FnMut(Command) -> Outcome,
    mut report: impl FnMut(&ParseError),
) -> u8 {
    let mut result = 0;
    for words in lines(input) {
        let argv: Vec<String> = std::iter::once(prog.to_string()).chain(words).collect();
        match parse_restore_line(&argv) {
            Ok(cmd) => {
                let end = matches!(cmd, Command::Help | Command::Version);
                match exec(cmd) {
                    Outcome::Exit(s) => return s,
                    Outcome::Status(s) if end => return s,
                    Outcome::Status(s) => result = s,
                }
            }
            Err(e) => {
                report(&e);
                if e.stops_restore {
                    return e.status;
                }
                result = e.status;
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::views::ServiceKeyView;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn lines_split_as_config_stream_read() {
        assert_eq!(
            lines(b"-A -t 1.2.3.4:80\r\n\n  \t\nipvsadm -C\n\t-Z  ipvsadm\n-L"),
            vec![w("-A -t 1.2.3.4:80"), w("-C"), w("-Z"), w("-L")]
        );
        assert_eq!(lines(b""), Vec::<Vec<String>>::new());
        assert_eq!(lines(b"\n"), Vec::<Vec<String>>::new());
        assert_eq!(lines(b"-C\n-A -t 1.2.3.4:80 "), vec![w("-C")]);
        assert_eq!(lines(b"# comment\n"), vec![w("# comment")]);
    }

    /// Runs `input`, returning the status, the commands carried out and the messages.
    fn restore(input: &str, refuse: &[usize]) -> (u8, Vec<Command>, Vec<String>) {
        let mut done = Vec::new();
        let mut said = Vec::new();
        let mut n = 0;
        let status = run(
            "ipvsadm",
            input.as_bytes(),
            |c| {
                n += 1;
                done.push(c);
                Outcome::Status(if refuse.contains(&n) { 255 } else { 0 })
            },
            |e| said.push(e.message.clone()),
        );
        (status, done, said)
    }

    #[test]
    fn restore_stops_or_goes_on_as_ipvsadm() {
        let k = ServiceKeyView::Tcp {
            vip: "203.0.113.10".parse().unwrap(),
            port: 80,
        };
        // restore-bad-weight-line: the first line applied, stop at the argument error.
        let (s, done, said) = restore(
            "-A -t 203.0.113.10:80 -s rr\n-a -t 203.0.113.10:80 -r 192.0.2.11 -w abc\n-a -t 203.0.113.10:80 -r 192.0.2.12\n",
            &[],
        );
        assert_eq!((s, done.len()), (2, 1));
        assert_eq!(said, vec!["illegal weight specified"]);
        // restore-duplicate-line: a refusal goes on; the status is the last line's.
        let (s, done, _) = restore(
            "-A -t 203.0.113.10:80 -s rr\n-A -t 203.0.113.10:80 -s rr\n-a -t 203.0.113.10:80 -r 192.0.2.11\n",
            &[2],
        );
        assert_eq!((s, done.len()), (0, 3));
        let (s, _, _) = restore("-C\n-D -t 203.0.113.10:80\n", &[2]);
        assert_eq!(s, 255);
        // restore-nested and a comment: the try-help line ends it, nothing after runs.
        for input in ["-R\n-C\n", "# saved\n-C\n"] {
            let (s, done, said) = restore(input, &[]);
            assert_eq!((s, done.len()), (255, 0), "{input}");
            assert_eq!(
                said,
                vec!["Try `ipvsadm -h' or 'ipvsadm --help' for more information."]
            );
        }
        // A popt error goes on.
        let (s, done, said) = restore("-A -t\n-D -t 203.0.113.10:80\n", &[]);
        assert_eq!((s, done), (0, vec![Command::DelService(k)]));
        assert_eq!(said, vec!["-t: missing argument"]);
        // -h ends the restore with 0.
        let (s, done, _) = restore("-h\n-C\n", &[]);
        assert_eq!((s, done), (0, vec![Command::Help]));
        // restore-ipvsadm-word, restore-no-final-newline, restore-empty(-line).
        let (s, done, _) = restore("ipvsadm -D -t 203.0.113.10:80", &[]);
        assert_eq!((s, done), (0, vec![Command::DelService(k)]));
        assert_eq!(restore("\n", &[]).0, 0);
        assert_eq!(restore("", &[]).0, 0);
    }
}
