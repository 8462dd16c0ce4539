//! Where a keepalived.conf word stands, and the one-line refusals and notes of the import,
//! each `FILE:LINE: keyword: reason` (the shape of rvs's own config errors).

use std::fmt;
use std::rc::Rc;

/// A place in a keepalived configuration: the file as named (the main file as given on
/// the command line, an included one as its `include` pattern resolved) and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    /// File name.
    pub file: Rc<str>,
    /// 1-based line.
    pub line: usize,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Why a keepalived configuration cannot be imported: what rvs cannot express, or what
/// is not a keepalived configuration at all, at the keyword that says it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {keyword}: {reason}")]
pub struct ImportError {
    /// Where.
    pub at: At,
    /// The keepalived keyword (or the word) refused.
    pub keyword: String,
    /// Why, in the operator's words.
    pub reason: String,
}

impl ImportError {
    /// An error at `at` about `keyword`.
    pub fn new(at: &At, keyword: impl Into<String>, reason: impl Into<String>) -> Self {
        ImportError {
            at: at.clone(),
            keyword: keyword.into(),
            reason: reason.into(),
        }
    }
}

/// Something imported with a difference the operator should know, or skipped (a VRRP
/// block, a keyword that changes nothing rvs does): printed on stderr, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Where.
    pub at: At,
    /// The keepalived keyword.
    pub keyword: String,
    /// What happened to it.
    pub text: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.at, self.keyword, self.text)
    }
}
