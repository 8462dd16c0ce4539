//! Parser of the ipvsadm oracle recording (`tests/fixtures/oracle/ipvsadm/recording.txt`,
//! written inside the lvs-oracle VM by `record.sh` from `cases.sh`; the block format is
//! described in record.sh's header). Every stdin/stdout/stderr blob is stored with its byte
//! count, so the replay compares bytes, trailing spaces and newlines included.

use std::path::Path;

/// One recorded `ipvsadm` invocation.
#[derive(Debug, Clone)]
pub struct Case {
    /// Case number in the recording (1-based, increasing).
    pub number: usize,
    /// Short name from cases.sh (e.g. `add-dest-nat`).
    pub name: String,
    /// Tags from the header line (`traffic`, `ipv6`, `daemon`, `env`).
    pub tags: Vec<String>,
    /// Section the case belongs to (each section starts from `-C`).
    pub section: String,
    /// The command as typed (`$ ipvsadm ...`, shell-quoted), for messages.
    pub shown: String,
    /// Arguments after `ipvsadm`, one element each.
    pub args: Vec<String>,
    /// Bytes fed on stdin, if the case had any.
    pub stdin: Option<Vec<u8>>,
    /// ipvsadm's exit status.
    pub exit: i32,
    /// What ipvsadm wrote on stdout.
    pub stdout: Vec<u8>,
    /// What ipvsadm wrote on stderr.
    pub stderr: Vec<u8>,
}

impl Case {
    /// True when the case carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

/// A cursor over the recording's bytes.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn eof(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The next line without its `\n`.
    fn line(&mut self) -> Result<&'a str, String> {
        let rest = &self.data[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| format!("byte {}: line without newline", self.pos))?;
        self.pos += end + 1;
        std::str::from_utf8(&rest[..end]).map_err(|e| format!("byte {}: {e}", self.pos))
    }

    /// Reads `--- LABEL N`, then N bytes and one `\n`.
    fn blob(&mut self, label: &str) -> Result<Vec<u8>, String> {
        let head = self.line()?;
        let n: usize = head
            .strip_prefix(&format!("--- {label} "))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("expected `--- {label} N`, got `{head}`"))?;
        let end = self.pos + n;
        if end + 1 > self.data.len() || self.data[end] != b'\n' {
            return Err(format!(
                "{label}: {n} bytes at {} overrun the file",
                self.pos
            ));
        }
        let blob = self.data[self.pos..end].to_vec();
        self.pos = end + 1;
        Ok(blob)
    }

    fn peek_starts_with(&self, prefix: &str) -> bool {
        self.data[self.pos..].starts_with(prefix.as_bytes())
    }
}

/// Parses a whole recording into its cases, in order.
pub fn parse(data: &[u8]) -> Result<Vec<Case>, String> {
    let mut r = Reader { data, pos: 0 };
    let mut cases = Vec::new();
    let mut section = String::new();
    while !r.eof() {
        let line = r.line()?;
        if line.starts_with('#') && !line.starts_with("### ") || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix("=== section ") {
            section = name.to_string();
            continue;
        }
        let head = line
            .strip_prefix("### ")
            .ok_or_else(|| format!("unexpected line `{line}`"))?;
        let mut words = head.splitn(3, ' ');
        let number: usize = words
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("bad case header `{line}`"))?;
        let name = words.next().unwrap_or_default().to_string();
        let tags = words
            .next()
            .and_then(|t| t.strip_prefix('[')?.strip_suffix(']'))
            .map(|t| t.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        let shown = r.line()?.to_string();
        let argc: usize = r
            .line()?
            .strip_prefix("--- args ")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("case {number}: no `--- args N`"))?;
        let args = (0..argc)
            .map(|_| r.line().map(str::to_string))
            .collect::<Result<Vec<_>, _>>()?;
        let stdin = if r.peek_starts_with("--- stdin ") {
            Some(r.blob("stdin")?)
        } else {
            None
        };
        let exit: i32 = r
            .line()?
            .strip_prefix("--- exit ")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("case {number}: no `--- exit N`"))?;
        let stdout = r.blob("stdout")?;
        let stderr = r.blob("stderr")?;
        cases.push(Case {
            number,
            name,
            tags,
            section: section.clone(),
            shown,
            args,
            stdin,
            exit,
            stdout,
            stderr,
        });
    }
    Ok(cases)
}

/// Reads and parses the recording at `path` (panics with the parse error: a broken fixture).
pub fn load(path: &Path) -> Vec<Case> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse(&data).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
