//! Reading a keepalived configuration from its files: the main file's tokens with every
//! `include PATTERN` replaced by the tokens of the files it names, as keepalived reads
//! them (keepalived.conf(5) "include"): a relative pattern is relative to the directory
//! of the file that includes it, wildcards are expanded with glob(3)'s rules and the
//! matches read in name order, and an include may stand anywhere a statement may, at top
//! level or inside a block. The variants `includer`, `includem`, `includew`, `includeb`
//! and `includea` (keepalived's stricter checks) are read the same way.
//!
//! As keepalived's plain `include`, a wildcard that matches nothing is a note, not an
//! error; a file named without a wildcard that cannot be read is an error (an import that
//! silently lost services would be worse than keepalived's backward-compatible silence).

use super::error::{At, ImportError, Note};
use super::lexer::{lex, Tok, Token};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Deepest include nesting accepted (a file including itself stops here).
const MAX_DEPTH: usize = 16;

/// The include keywords keepalived knows.
const INCLUDES: [&str; 6] = [
    "include", "includer", "includem", "includew", "includeb", "includea",
];

/// Reads `path` (named `name` in messages) and every file it includes, into one token
/// stream; notes (wildcards that matched nothing) are appended to `notes`.
pub fn read(path: &Path, name: &str, notes: &mut Vec<Note>) -> Result<Vec<Token>, ImportError> {
    let mut out = Vec::new();
    let text = std::fs::read_to_string(path).map_err(|e| ImportError {
        at: At {
            file: Rc::from(name),
            line: 0,
        },
        keyword: "file".into(),
        reason: format!("cannot read: {e}"),
    })?;
    read_text(&text, path, Rc::from(name), 0, &mut out, notes)?;
    Ok(out)
}

fn read_text(
    text: &str,
    path: &Path,
    name: Rc<str>,
    depth: usize,
    out: &mut Vec<Token>,
    notes: &mut Vec<Note>,
) -> Result<(), ImportError> {
    let toks = lex(text, &name)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut i = 0;
    let mut at_start = true;
    while i < toks.len() {
        let t = &toks[i];
        let kw = match &t.tok {
            Tok::Word(w) if at_start && !t.quoted && INCLUDES.contains(&w.as_str()) => w.clone(),
            _ => {
                at_start = matches!(t.tok, Tok::Eol | Tok::Open | Tok::Close);
                out.push(t.clone());
                i += 1;
                continue;
            }
        };
        let kw = kw.as_str();
        let mut args = Vec::new();
        let mut j = i + 1;
        while let Some(Token {
            tok: Tok::Word(w), ..
        }) = toks.get(j)
        {
            args.push(w.clone());
            j += 1;
        }
        let [pattern] = args.as_slice() else {
            return Err(ImportError::new(
                &t.at,
                kw,
                "takes one file name or pattern",
            ));
        };
        if depth + 1 > MAX_DEPTH {
            return Err(ImportError::new(
                &t.at,
                kw,
                format!("includes nested deeper than {MAX_DEPTH} (a file including itself?)"),
            ));
        }
        for file in expand(pattern, &dir, &t.at, kw, notes)? {
            let shown = file.display().to_string();
            let text = std::fs::read_to_string(&file)
                .map_err(|e| ImportError::new(&t.at, kw, format!("cannot read {shown}: {e}")))?;
            read_text(
                &text,
                &file,
                Rc::from(shown.as_str()),
                depth + 1,
                out,
                notes,
            )?;
        }
        // The include statement ends at its line end (or at a brace, kept for the parser).
        i = j;
        at_start = true;
        if matches!(toks.get(i), Some(Token { tok: Tok::Eol, .. })) {
            i += 1;
        }
    }
    Ok(())
}

/// The files `pattern` names, relative to `dir` unless absolute, in name order.
fn expand(
    pattern: &str,
    dir: &Path,
    at: &At,
    kw: &str,
    notes: &mut Vec<Note>,
) -> Result<Vec<PathBuf>, ImportError> {
    let full = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        dir.join(pattern)
    };
    let wild = pattern.contains(['*', '?', '[']);
    if !wild {
        return Ok(vec![full]);
    }
    let text = full.to_string_lossy().into_owned();
    let paths = glob::glob(&text)
        .map_err(|e| ImportError::new(at, kw, format!("bad pattern {pattern:?}: {e}")))?;
    let mut files = Vec::new();
    for p in paths {
        let p = p.map_err(|e| ImportError::new(at, kw, format!("{e}")))?;
        if p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    if files.is_empty() {
        notes.push(Note {
            at: at.clone(),
            keyword: kw.into(),
            text: format!("{pattern} matches no file (nothing included, as keepalived)"),
        });
    }
    Ok(files)
}
