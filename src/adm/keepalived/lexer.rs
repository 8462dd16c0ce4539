//! keepalived.conf(5)'s words: blanks separate words, `#` or `!` at the start of a word
//! comments out the rest of the line, `{` and `}` are words of their own wherever they
//! stand (keepalived 2.x splits them off too), and a double-quoted string is one word
//! (quotes removed; it may hold blanks, `#`, `!` and braces). A line end ends a statement.
//!
//! Never panics; the only refusal is a quoted string not closed on its own line.

use super::error::{At, ImportError};
use std::rc::Rc;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A word (a quoted string counts as one word, without its quotes).
    Word(String),
    /// `{`.
    Open,
    /// `}`.
    Close,
    /// The end of a line: the end of a statement.
    Eol,
}

/// A token with the place it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Whether the word was written in double quotes (`"{"` is a word, not a brace).
    pub quoted: bool,
    /// File and 1-based line.
    pub at: At,
}

/// Splits `text`, read from `file`, into tokens; every line ends with a [`Tok::Eol`].
pub fn lex(text: &str, file: &Rc<str>) -> Result<Vec<Token>, ImportError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = At {
            file: file.clone(),
            line: i + 1,
        };
        lex_line(line, &at, &mut out)?;
        out.push(Token {
            tok: Tok::Eol,
            quoted: false,
            at,
        });
    }
    Ok(out)
}

fn lex_line(line: &str, at: &At, out: &mut Vec<Token>) -> Result<(), ImportError> {
    let mut chars = line.chars().peekable();
    let push = |out: &mut Vec<Token>, tok: Tok, quoted: bool| {
        out.push(Token {
            tok,
            quoted,
            at: at.clone(),
        })
    };
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '#' | '!' => return Ok(()),
            '{' => {
                chars.next();
                push(out, Tok::Open, false);
            }
            '}' => {
                chars.next();
                push(out, Tok::Close, false);
            }
            '"' => {
                chars.next();
                let mut word = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => word.push(c),
                        None => {
                            return Err(ImportError::new(
                                at,
                                "\"",
                                "quoted string not closed on its line",
                            ))
                        }
                    }
                }
                push(out, Tok::Word(word), true);
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '{' || c == '}' || c == '"' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                push(out, Tok::Word(word), false);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let file: Rc<str> = Rc::from("t.conf");
        lex(text, &file)
            .unwrap()
            .into_iter()
            .map(|t| match t.tok {
                Tok::Word(w) if t.quoted => format!("\"{w}\""),
                Tok::Word(w) => w,
                Tok::Open => "{".into(),
                Tok::Close => "}".into(),
                Tok::Eol => ";".into(),
            })
            .collect()
    }

    #[test]
    fn comments_braces_and_quotes() {
        assert_eq!(
            words("a b # c d\n! all comment\nx{y}z ! tail\n"),
            ["a", "b", ";", ";", "x", "{", "y", "}", "z", ";"]
        );
        assert_eq!(
            words("misc_path \"/bin/chk -x {a} # !b\"\n"),
            ["misc_path", "\"/bin/chk -x {a} # !b\"", ";"]
        );
        // A `#` inside a word is part of it (only a word's first character starts a comment).
        assert_eq!(words("path /a#b\n"), ["path", "/a#b", ";"]);
        assert_eq!(words("\"\" x\n"), ["\"\"", "x", ";"]);
        assert_eq!(words(""), Vec::<String>::new());
        assert_eq!(words("a\r\n\tb\n"), ["a", ";", "b", ";"]);
    }

    #[test]
    fn lines_are_counted() {
        let file: Rc<str> = Rc::from("f");
        let toks = lex("a\n\n  b {\n}\n", &file).unwrap();
        let b = toks
            .iter()
            .find(|t| t.tok == Tok::Word("b".into()))
            .unwrap();
        assert_eq!(b.at.line, 3);
        assert_eq!(toks.last().unwrap().at.line, 4);
    }

    #[test]
    fn unclosed_quote_is_located() {
        let file: Rc<str> = Rc::from("k.conf");
        let e = lex("a\nnotify_up \"/bin/x\n", &file).unwrap_err();
        assert_eq!(
            e.to_string(),
            "k.conf:2: \": quoted string not closed on its line"
        );
    }
}
