//! keepalived.conf's statements as a tree: a statement is a keyword and its words up to
//! the line end or a brace; a statement followed by `{` owns the statements up to the
//! matching `}` (the brace may also open the next line, as some configs write it).
//!
//! keepalived's conditional lines (`@id ...`), parameters (`$NAME=...`) and sequences
//! (`~SEQ(...)`) are refused: the import would have to guess the config id and the values
//! keepalived substitutes. Never panics; unbalanced braces are located errors.

use super::error::{At, ImportError};
use super::lexer::{Tok, Token};

/// One statement: `keyword args... [{ block }]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The first word.
    pub kw: String,
    /// The other words of the statement, quotes removed.
    pub args: Vec<String>,
    /// The statements inside its braces, if it has braces.
    pub block: Option<Vec<Node>>,
    /// Where its keyword stands.
    pub at: At,
}

impl Node {
    /// The statements of the block (none when it has no braces).
    pub fn children(&self) -> &[Node] {
        self.block.as_deref().unwrap_or(&[])
    }
}

/// Builds the statement tree of a token stream (from [`super::source::read`]).
pub fn parse(tokens: &[Token]) -> Result<Vec<Node>, ImportError> {
    let mut siblings: Vec<Node> = Vec::new();
    let mut stack: Vec<(Vec<Node>, Node)> = Vec::new();
    let mut cur: Option<Node> = None;
    for t in tokens {
        match &t.tok {
            Tok::Word(w) => match cur.as_mut() {
                Some(n) => n.args.push(w.clone()),
                None => {
                    if !t.quoted && w.starts_with(['@', '$', '~']) {
                        return Err(ImportError::new(
                            &t.at,
                            w,
                            "keepalived conditional lines (@id), parameters ($NAME) and \
                             sequences (~SEQ) are not imported: expand them first",
                        ));
                    }
                    cur = Some(Node {
                        kw: w.clone(),
                        args: Vec::new(),
                        block: None,
                        at: t.at.clone(),
                    });
                }
            },
            Tok::Open => {
                let owner = match cur.take() {
                    Some(n) => n,
                    None => match siblings.pop() {
                        Some(prev) if prev.block.is_none() => prev,
                        Some(prev) => {
                            siblings.push(prev);
                            return Err(ImportError::new(&t.at, "{", "block with no keyword"));
                        }
                        None => return Err(ImportError::new(&t.at, "{", "block with no keyword")),
                    },
                };
                stack.push((std::mem::take(&mut siblings), owner));
            }
            Tok::Close => {
                siblings.extend(cur.take());
                let Some((parent, mut owner)) = stack.pop() else {
                    return Err(ImportError::new(&t.at, "}", "no block is open here"));
                };
                owner.block = Some(std::mem::replace(&mut siblings, parent));
                siblings.push(owner);
            }
            Tok::Eol => siblings.extend(cur.take()),
        }
    }
    siblings.extend(cur.take());
    if let Some((_, owner)) = stack.pop() {
        return Err(ImportError::new(
            &owner.at,
            &owner.kw,
            "block never closed (a '}' is missing)",
        ));
    }
    Ok(siblings)
}

#[cfg(test)]
mod tests {
    use super::super::lexer::lex;
    use super::*;
    use std::rc::Rc;

    fn tree(text: &str) -> Result<Vec<Node>, String> {
        let file: Rc<str> = Rc::from("k.conf");
        let toks = lex(text, &file).map_err(|e| e.to_string())?;
        parse(&toks).map_err(|e| e.to_string())
    }

    #[test]
    fn nested_blocks_and_one_line_blocks() {
        let t = tree(
            "virtual_server 203.0.113.10 80 {\n  delay_loop 6\n  real_server 192.0.2.11 80 {\n    \
             HTTP_GET { url { path /health } connect_timeout 3 }\n  }\n}\nglobal_defs {}\n",
        )
        .unwrap();
        assert_eq!(t.len(), 2);
        let vs = &t[0];
        assert_eq!(
            (vs.kw.as_str(), vs.args.as_slice()),
            (
                "virtual_server",
                &["203.0.113.10".to_string(), "80".into()][..]
            )
        );
        let rs = &vs.children()[1];
        assert_eq!(rs.at.line, 3);
        let http = &rs.children()[0];
        assert_eq!(http.kw, "HTTP_GET");
        let url = &http.children()[0];
        assert_eq!(url.children()[0].args, ["/health"]);
        assert_eq!(http.children()[1].kw, "connect_timeout");
        assert_eq!(t[1].block, Some(vec![]));
    }

    #[test]
    fn brace_on_the_next_line() {
        let t = tree("real_server 192.0.2.1 80\n{\n weight 2\n}\n").unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].children()[0].args, ["2"]);
    }

    #[test]
    fn unbalanced_braces_are_located() {
        assert_eq!(
            tree("a {\n b {\n }\n").unwrap_err(),
            "k.conf:1: a: block never closed (a '}' is missing)"
        );
        assert_eq!(
            tree("a {\n}\n}\n").unwrap_err(),
            "k.conf:3: }: no block is open here"
        );
        assert_eq!(
            tree("{\n").unwrap_err(),
            "k.conf:1: {: block with no keyword"
        );
        assert_eq!(
            tree("a {}\n{ }\n").unwrap_err(),
            "k.conf:2: {: block with no keyword"
        );
        assert!(tree("@main router_id x\n")
            .unwrap_err()
            .starts_with("k.conf:1: @main: "));
        assert!(tree("$X=1\n").is_err());
        // A quoted word is never a brace nor a parameter.
        let t = tree("notify_up \"$HOME/{x}\"\n").unwrap();
        assert_eq!(t[0].args, ["$HOME/{x}"]);
    }

    #[test]
    fn never_panics_on_garbage() {
        for text in [
            "}",
            "{{{{",
            "}}{{",
            "\"",
            "a \"b",
            "{ } { }",
            "a\n{\n{\n}\n}",
        ] {
            let _ = tree(text);
        }
    }
}
