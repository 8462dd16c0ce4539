//! `rvsadm import-keepalived`: a keepalived configuration's LVS part (`virtual_server`,
//! `virtual_server_group`, `real_server` and their checkers) turned into rvs's TOML, so an
//! LVS + keepalived farm moves to rvs with one command (docs/RVSADM.md "Moving from
//! keepalived").
//!
//! The pipeline, one job per file: [`source`] reads the files (`include`), [`lexer`] cuts
//! words, [`tree`] builds the statement tree, [`service`], [`group`] and [`checker`]
//! translate, [`out`] writes TOML. [`import`] ties them.
//!
//! Contract: never panics on any input; what rvs cannot express is an [`ImportError`]
//! `FILE:LINE: keyword: reason` at the keyword that says it; blocks rvs has nothing to do
//! with (global_defs, vrrp_*, static_*, SSL...) and keywords that change nothing rvs does
//! are [`Note`]s. Every keepalived default that matters to behaviour is written out in
//! the result (delay_loop, retry, delay_before_retry, connect_timeout, methods,
//! scheduler, weights), so the farm does not depend on where rvs's defaults differ.

pub mod checker;
pub mod cli;
pub mod error;
pub mod group;
pub mod lexer;
pub mod out;
pub mod service;
pub mod source;
pub mod tree;
pub mod values;

pub use error::{At, ImportError, Note};

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use tree::Node;

/// Why an import produced nothing.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The keepalived configuration says something rvs cannot express (or is not one).
    #[error("{0}")]
    Import(#[from] ImportError),
    /// The `--base` file cannot be read or is not TOML.
    #[error("{file}: {reason}")]
    Base {
        /// The base file as named.
        file: String,
        /// Why.
        reason: String,
    },
    /// The `--base` file itself is refused by rvs's configuration checks (what `rvsd
    /// --check-config` would say of it). A service the checks refuse is an
    /// [`Failure::Import`] at its `virtual_server`.
    #[error("{0}")]
    Rejected(crate::config::Error),
}

/// A successful import.
#[derive(Debug)]
pub struct Imported {
    /// The rvs configuration text.
    pub toml: String,
    /// What was skipped or imported with a difference, for stderr.
    pub notes: Vec<Note>,
}

/// Top-level blocks that are VRRP's (keepalived's job beside rvs).
fn is_vrrp(kw: &str) -> bool {
    kw.starts_with("vrrp_") || kw.starts_with("static_") || kw == "garp_group"
}

/// Imports the keepalived configuration at `file` (named `name` in messages). With
/// `base` (path and name), the services are appended to that rvs file's text and the
/// whole is checked by rvs's configuration reader; without it, a commented header says
/// what the machine part must hold.
pub fn import(file: &Path, name: &str, base: Option<(&Path, &str)>) -> Result<Imported, Failure> {
    let mut notes = Vec::new();
    let tokens = source::read(file, name, &mut notes)?;
    let nodes = tree::parse(&tokens)?;
    let mut groups: HashMap<String, &Node> = HashMap::new();
    for n in &nodes {
        if n.kw == "virtual_server_group" {
            let [g] = n.args.as_slice() else {
                return Err(ImportError::new(&n.at, &n.kw, "needs one name").into());
            };
            if n.block.is_none() {
                return Err(ImportError::new(&n.at, &n.kw, "needs a block").into());
            }
            groups.insert(g.clone(), n);
        }
    }
    let mut services = Vec::new();
    for n in &nodes {
        match n.kw.as_str() {
            "virtual_server" => services.extend(service::virtual_server(n, &groups, &mut notes)?),
            "virtual_server_group" => {}
            kw => notes.push(Note {
                at: n.at.clone(),
                keyword: kw.into(),
                text: if is_vrrp(kw) {
                    "skipped: VRRP and addresses stay keepalived's job beside rvs".into()
                } else if kw == "SSL" {
                    "skipped: rvs's SSL_GET presents no client certificate and, as keepalived, \
                     verifies no server certificate"
                        .into()
                } else {
                    "skipped: nothing rvs does".into()
                },
            }),
        }
    }
    let marks: Vec<(u32, &service::Imported)> = services
        .iter()
        .filter_map(|s| s.service.mark.map(|m| (m, s)))
        .collect();
    let mut text = String::new();
    match base {
        Some((path, bname)) => {
            let base_text = std::fs::read_to_string(path).map_err(|e| Failure::Base {
                file: bname.into(),
                reason: e.to_string(),
            })?;
            let defined = base_marks(&base_text).map_err(|reason| Failure::Base {
                file: bname.into(),
                reason,
            })?;
            for (m, s) in &marks {
                if !defined.contains(m) {
                    return Err(ImportError::new(
                        &s.at,
                        "virtual_server",
                        format!(
                            "fwmark {m}: {bname} has no [[mark]] with mark = {m} (rvs marks \
                             packets itself: write there the rules of the iptables MARK rule)"
                        ),
                    )
                    .into());
                }
            }
            text.push_str(&base_text);
            if !text.ends_with('\n') {
                text.push('\n');
            }
            let _ = writeln!(
                text,
                "\n# ---- Imported from keepalived configuration {name} by `rvsadm import-keepalived` ----"
            );
        }
        None => header(&mut text, name, &marks),
    }
    let base_lines = text.lines().count();
    // Each service's first line in `text`, to tell which one rvs's check refuses.
    let mut starts = Vec::with_capacity(services.len());
    for s in &services {
        let body = out::service_toml(&s.service).map_err(|reason| {
            ImportError::new(
                &s.at,
                "virtual_server",
                format!("cannot write TOML: {reason}"),
            )
        })?;
        starts.push(text.lines().count() + 1);
        let _ = write!(text, "\n# keepalived: {} ({})\n{body}", s.origin, s.at);
    }
    if let Some((_, bname)) = base {
        if let Err(e) = crate::config::Config::from_str_named(&text, bname) {
            let line = e.line().unwrap_or(0);
            let owner = starts.iter().rposition(|&start| start <= line);
            return Err(match owner {
                // A line of the base: its own error, as rvsd --check-config would say.
                _ if line <= base_lines => Failure::Rejected(e),
                Some(i) => ImportError::new(
                    &services[i].at,
                    "virtual_server",
                    format!(
                        "rvs refuses the result: {}: {}",
                        e.key().unwrap_or("?"),
                        e.reason()
                    ),
                )
                .into(),
                None => Failure::Rejected(e),
            });
        }
    }
    Ok(Imported { toml: text, notes })
}

/// The marks the base file's `[[mark]]` tables define.
fn base_marks(text: &str) -> Result<Vec<u32>, String> {
    let v: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let marks = v.get("mark").and_then(toml::Value::as_array);
    Ok(marks
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("mark").and_then(toml::Value::as_integer))
        .filter_map(|m| u32::try_from(m).ok())
        .collect())
}

/// The header of a result without a base: what the operator must add.
fn header(text: &mut String, name: &str, marks: &[(u32, &service::Imported)]) {
    let _ = writeln!(
        text,
        "# Imported from keepalived configuration {name} by `rvsadm import-keepalived`.\n\
         #\n\
         # keepalived.conf does not describe the machine. Before rvsd can run this, add the\n\
         # sections that do (configs/README.md; configs/lab-nat.toml is a complete example):\n\
         #   [eal] args, [cores] workers, [[port]] with the VIPs' and real servers' subnets,\n\
         #   [[route]] for real servers behind a router, [control] socket,\n\
         # or import again with --base BASE.toml, a file holding them (the services are\n\
         # appended to it and the whole checked as rvsd --check-config would)."
    );
    if !marks.is_empty() {
        let _ = writeln!(
            text,
            "#\n# rvs marks packets itself (iptables' MARK is not seen): define each mark used below\n\
             # with the rules of your iptables MARK rule, for example:"
        );
        for (m, _) in marks {
            let _ = writeln!(
                text,
                "#   [[mark]]\n#   mark = {m}\n#   rules = [{{ proto = \"tcp\", vip = \"203.0.113.10/32\", ports = \"80-81\" }}]"
            );
        }
    }
}
