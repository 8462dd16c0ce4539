//! A program to run, written as one string the way keepalived's `notify_up`,
//! `notify_down`, `quorum_up` and `quorum_down` take it: words separated by blanks,
//! `'...'` and `"..."` keep blanks inside a word, a backslash outside single quotes
//! takes the next character as it is. No shell ever sees it: no `$VAR`, no globs, no
//! pipes, no redirections.

use std::fmt;

/// A program and its arguments, already split into words (`argv`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Command {
    /// `argv[0]` is the program (a path; without a '/', looked up in rvsd's `PATH`),
    /// then its arguments. Never empty.
    pub argv: Vec<String>,
}

impl Command {
    /// Splits `text` into words; errors (one line, for the operator): nothing to run,
    /// or an unterminated quote or trailing backslash.
    pub fn parse(text: &str) -> Result<Command, String> {
        let mut argv = Vec::new();
        let mut word = String::new();
        let mut in_word = false;
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                c if c.is_whitespace() => {
                    if in_word {
                        argv.push(std::mem::take(&mut word));
                        in_word = false;
                    }
                }
                '\'' => {
                    in_word = true;
                    loop {
                        match chars.next() {
                            Some('\'') => break,
                            Some(c) => word.push(c),
                            None => return Err(format!("unterminated ' in {text:?}")),
                        }
                    }
                }
                '"' => {
                    in_word = true;
                    loop {
                        match chars.next() {
                            Some('"') => break,
                            Some('\\') => match chars.next() {
                                Some(c) => word.push(c),
                                None => return Err(format!("trailing \\ in {text:?}")),
                            },
                            Some(c) => word.push(c),
                            None => return Err(format!("unterminated \" in {text:?}")),
                        }
                    }
                }
                '\\' => match chars.next() {
                    Some(c) => {
                        in_word = true;
                        word.push(c);
                    }
                    None => return Err(format!("trailing \\ in {text:?}")),
                },
                c => {
                    in_word = true;
                    word.push(c);
                }
            }
        }
        if in_word {
            argv.push(word);
        }
        if argv.is_empty() || argv[0].is_empty() {
            return Err("no program to run".into());
        }
        Ok(Command { argv })
    }

    /// The program (`argv[0]`).
    pub fn program(&self) -> &str {
        &self.argv[0]
    }

    /// Its arguments (`argv[1..]`).
    pub fn args(&self) -> &[String] {
        &self.argv[1..]
    }
}

impl fmt::Display for Command {
    /// The words again, single-quoted where they hold anything but plain characters, so
    /// that `Command::parse` of the text gives the same command back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, w) in self.argv.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            let plain = !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/._-:=,+@%".contains(c));
            if plain {
                f.write_str(w)?;
            } else {
                write!(f, "'{}'", w.replace('\'', "'\\''"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        Command::parse(s).unwrap().argv
    }

    #[test]
    fn splits_like_keepalived_quoting() {
        assert_eq!(
            words("/usr/local/bin/rs-up 192.0.2.11"),
            ["/usr/local/bin/rs-up", "192.0.2.11"]
        );
        assert_eq!(
            words("  /bin/x 'a b'  \"c \\\"d\\\"\" e\\ f "),
            ["/bin/x", "a b", "c \"d\"", "e f"]
        );
        assert_eq!(words("/bin/x ''"), ["/bin/x", ""]);
        assert_eq!(words("/bin/x $HOME *"), ["/bin/x", "$HOME", "*"]);
    }

    #[test]
    fn refuses_what_cannot_run() {
        assert!(Command::parse("").is_err());
        assert!(Command::parse("   ").is_err());
        assert!(Command::parse("''").is_err());
        assert!(Command::parse("/bin/x 'a")
            .unwrap_err()
            .contains("unterminated '"));
        assert!(Command::parse("/bin/x \"a").is_err());
        assert!(Command::parse("/bin/x a\\").is_err());
    }

    #[test]
    fn display_round_trips() {
        for s in ["/bin/x a", "/bin/x 'a b' '' \"it's\"", "/bin/x \\$HOME"] {
            let c = Command::parse(s).unwrap();
            assert_eq!(Command::parse(&c.to_string()).unwrap(), c, "{s} -> {c}");
        }
        assert_eq!(Command::parse("/bin/x a").unwrap().to_string(), "/bin/x a");
    }
}
