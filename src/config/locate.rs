//! Where in the file a key is: key paths (`port[1].addresses[0]`) and the
//! translation between them and 1-based line numbers.
//!
//! serde reports a byte span and no key; our own checks know a key and no
//! span. Both are answered from one span-keeping parse of the same text
//! (`toml_edit::ImDocument`), so every error gets both a line and a key.

use std::fmt;
use std::ops::Range;

use toml_edit::{ImDocument, Item, Table, Value};

/// One step of a key path: a table key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// A dotted key path as an operator reads it: `service[0].real[2].weight`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct KeyPath(Vec<Seg>);

impl KeyPath {
    /// The document root (empty path).
    pub(crate) fn root() -> Self {
        KeyPath(Vec::new())
    }

    /// This path extended by a key.
    pub(crate) fn key(&self, key: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(key.to_owned()));
        p
    }

    /// This path extended by an array index.
    pub(crate) fn idx(&self, index: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(index));
        p
    }

    fn push_key(&mut self, key: &str) {
        self.0.push(Seg::Key(key.to_owned()));
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                // TOML allows the empty quoted key `"" = 1`; show it as written.
                Seg::Key(k) if k.is_empty() => write!(f, "{}\"\"", if i == 0 { "" } else { "." })?,
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// 1-based line of byte `offset` in `text` (offsets past the end count as the last line).
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A node of the span-keeping tree: toml_edit splits it into items (tables,
/// arrays of tables) and values (inline tables, arrays, scalars).
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Value(&'a Value),
    Table(&'a Table),
}

impl<'a> Node<'a> {
    fn from_item(item: &'a Item) -> Self {
        match item {
            Item::Value(v) => Node::Value(v),
            Item::Table(t) => Node::Table(t),
            other => Node::Item(other),
        }
    }

    fn span(self) -> Option<Range<usize>> {
        match self {
            Node::Item(i) => i.span(),
            Node::Value(v) => v.span(),
            Node::Table(t) => t.span(),
        }
    }

    /// Children with their path step and the span of their key, if any.
    fn children(self) -> Vec<(Seg, Option<Range<usize>>, Node<'a>)> {
        let mut out = Vec::new();
        match self {
            Node::Table(t) => {
                for (name, _) in t.iter() {
                    if let Some((k, item)) = t.get_key_value(name) {
                        out.push((Seg::Key(name.to_owned()), k.span(), Node::from_item(item)));
                    }
                }
            }
            Node::Value(Value::InlineTable(t)) => {
                for (name, _) in t.iter() {
                    if let Some((k, item)) = t.get_key_value(name) {
                        out.push((Seg::Key(name.to_owned()), k.span(), Node::from_item(item)));
                    }
                }
            }
            Node::Value(Value::Array(a)) => {
                for (i, v) in a.iter().enumerate() {
                    out.push((Seg::Index(i), None, Node::Value(v)));
                }
            }
            Node::Item(Item::ArrayOfTables(a)) => {
                for (i, t) in a.iter().enumerate() {
                    out.push((Seg::Index(i), None, Node::Table(t)));
                }
            }
            _ => {}
        }
        out
    }
}

fn contains(span: &Option<Range<usize>>, offset: usize) -> bool {
    match span {
        Some(r) => r.start <= offset && (offset < r.end || r.start == r.end),
        None => false,
    }
}

/// The text plus its span-keeping parse.
pub(crate) struct Located<'a> {
    text: &'a str,
    doc: ImDocument<&'a str>,
}

impl<'a> Located<'a> {
    /// Parses `text`; on a syntax error returns (byte offset, message).
    pub(crate) fn parse(text: &'a str) -> Result<Self, (usize, String)> {
        match ImDocument::parse(text) {
            Ok(doc) => Ok(Located { text, doc }),
            Err(e) => {
                let offset = e.span().map(|r| r.start).unwrap_or(0);
                // toml_edit says some errors on two lines ("invalid table header" then
                // "duplicate key ..."): one located line, like every other error.
                let message = e.message().trim_end().lines().collect::<Vec<_>>();
                Err((offset, message.join(": ")))
            }
        }
    }

    /// The line where `path` is written: its key if present, else its value,
    /// else the deepest ancestor present (e.g. the `[[service]]` header for a
    /// key the operator left out).
    pub(crate) fn line(&self, path: &KeyPath) -> usize {
        let mut node = Node::Table(self.doc.as_table());
        let mut best = 0;
        for seg in &path.0 {
            let next = node.children().into_iter().find(|(s, _, _)| s == seg);
            let Some((_, key_span, child)) = next else {
                break;
            };
            if let Some(r) = key_span.or_else(|| child.span()) {
                best = r.start;
            }
            node = child;
        }
        line_of(self.text, best)
    }

    /// The key path of the innermost key or value at byte `offset` (the root when none is).
    pub(crate) fn path_at(&self, offset: usize) -> KeyPath {
        let mut segs = Vec::new();
        find(Node::Table(self.doc.as_table()), offset, &mut segs);
        KeyPath(segs)
    }
}

/// Depth-first search for the innermost node whose key or value span holds `offset`.
/// Children are searched even when their parent's span does not hold it, because a
/// `[[service.real]]` table lies outside the span of its `[[service]]`.
fn find(node: Node<'_>, offset: usize, path: &mut Vec<Seg>) -> bool {
    for (seg, key_span, child) in node.children() {
        path.push(seg);
        if find(child, offset, path) || contains(&key_span, offset) {
            return true;
        }
        path.pop();
    }
    contains(&node.span(), offset) && !path.is_empty()
}

/// Best-effort key path for a syntax error, which has no parse to ask: the last
/// `[table]`/`[[array]]` header above `line` (with array indices counted) plus
/// the `key =` written on that line, if any.
pub(crate) fn guess_path(text: &str, line: usize) -> KeyPath {
    let mut counts: Vec<(String, usize)> = Vec::new();
    let mut header = KeyPath::root();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        let is_header = l.starts_with('[');
        if is_header {
            let aot = l.starts_with("[[");
            let inner = l.trim_start_matches('[');
            let name = inner.split(']').next().unwrap_or("").trim();
            let parts: Vec<&str> = name
                .split('.')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            if aot {
                let prefix = name.to_owned();
                match counts.iter_mut().find(|(n, _)| *n == prefix) {
                    Some((_, c)) => *c += 1,
                    None => counts.push((prefix.clone(), 1)),
                }
                // A new element restarts the numbering of arrays nested in it.
                let nested = format!("{prefix}.");
                counts.retain(|(n, _)| !n.starts_with(&nested));
            }
            header = KeyPath::root();
            let mut sofar = String::new();
            for part in parts {
                if !sofar.is_empty() {
                    sofar.push('.');
                }
                sofar.push_str(part);
                header.push_key(part);
                if let Some((_, c)) = counts.iter().find(|(n, _)| *n == sofar) {
                    header = header.idx(c.saturating_sub(1));
                }
            }
        }
        if i + 1 == line {
            if !is_header {
                if let Some((k, _)) = l.split_once('=') {
                    let k = k.trim();
                    if !k.is_empty() && !k.starts_with('#') {
                        for part in k.split('.') {
                            let part = part.trim().trim_matches('"');
                            if !part.is_empty() {
                                header.push_key(part);
                            }
                        }
                    }
                }
            }
            return header;
        }
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
[cores]
workers = [0, 1]

[[port]]
name = \"a\"

[[port]]
name = \"b\"
addresses = [
  \"1.2.3.4/24\",
  \"5.6.7.8/24\",
]

[[service]]
vip = \"1.2.3.10\"

[[service.real]]
addr = \"1.2.3.11\"
rules = [{ vip = \"x\" }]
";

    #[test]
    fn display_paths() {
        let p = KeyPath::root().key("port").idx(1).key("addresses").idx(0);
        assert_eq!(p.to_string(), "port[1].addresses[0]");
        assert_eq!(KeyPath::root().to_string(), "(top level)");
    }

    #[test]
    fn lines_of_paths() {
        let d = Located::parse(DOC).unwrap();
        let root = KeyPath::root();
        assert_eq!(d.line(&root.key("cores").key("workers")), 2);
        assert_eq!(d.line(&root.key("cores").key("workers").idx(1)), 2);
        assert_eq!(d.line(&root.key("port").idx(1)), 7);
        assert_eq!(d.line(&root.key("port").idx(1).key("name")), 8);
        assert_eq!(d.line(&root.key("port").idx(1).key("addresses").idx(1)), 11);
        // Missing key: the table header of its nearest ancestor.
        assert_eq!(d.line(&root.key("port").idx(1).key("mtu")), 7);
        assert_eq!(
            d.line(&root.key("service").idx(0).key("real").idx(0).key("addr")),
            18
        );
    }

    #[test]
    fn paths_at_offsets() {
        let d = Located::parse(DOC).unwrap();
        let at = |needle: &str| DOC.find(needle).unwrap();
        assert_eq!(
            d.path_at(at("\"5.6.7.8")).to_string(),
            "port[1].addresses[1]"
        );
        assert_eq!(d.path_at(at("name = \"b\"")).to_string(), "port[1].name");
        assert_eq!(
            d.path_at(at("[[service.real]]")).to_string(),
            "service[0].real[0]"
        );
        assert_eq!(
            d.path_at(at("\"x\"")).to_string(),
            "service[0].real[0].rules[0].vip"
        );
    }

    #[test]
    fn guessed_paths() {
        assert_eq!(guess_path(DOC, 2).to_string(), "cores.workers");
        assert_eq!(guess_path(DOC, 8).to_string(), "port[1].name");
        assert_eq!(guess_path(DOC, 18).to_string(), "service[0].real[0].addr");
        assert_eq!(guess_path(DOC, 17).to_string(), "service[0].real[0]");
    }

    #[test]
    fn line_numbers() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
