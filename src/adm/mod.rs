//! `rvsadm`'s library half: ipvsadm 1.31's command language parsed into a [`cmd::Command`]
//! ([`parse`], with popt's scanning in [`popt`] and the C library's number and address
//! rules in [`inet`]), rvs's own commands ([`rvs_cmds`]), the keepalived.conf import ([`keepalived`]), the help and version texts
//! ([`help`]), the output: ipvsadm's listings and save text, `--json`, `status`
//! ([`format`]), the control-socket client ([`client`]), `-R` ([`restore`]) and the whole
//! of the `rvsadm` binary ([`run`]). Nothing here panics on any command line or any view.

pub mod check_cmd;
pub mod client;
pub mod cmd;
pub mod format;
pub mod help;
pub mod inet;
pub mod keepalived;
pub mod parse;
pub mod popt;
pub mod restore;
pub mod run;
pub mod rvs_cmds;

pub use cmd::{Command, ListOpts};
pub use parse::{parse, ParseError};
