//! ipvsadm's option table scanned the way popt 1.19 (what ipvsadm 1.31 links) scans it,
//! so every word rvsadm accepts, rejects or takes as an argument is the one ipvsadm
//! does: short options bundle (`-Ln`, `-At VIP:80`), an argument-taking short option
//! takes the rest of its word (`-w3`, `-w=3`) or the next word whatever it starts with
//! (`-t -A` gives `-t` the argument `-A`), the optional argument of `-p` is the next
//! word only if that does not start with `-`, long options take `--weight 3` or
//! `--weight=3` and must be spelled out whole, a word not starting with `-` (or `-`
//! alone, or anything after `--`) is a leftover argument, wherever it stands.
//! Source: popt's `poptGetNextOpt` (rpm-software-management/popt, popt.c), studied.

/// Whether an option takes an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// A flag.
    None,
    /// Always takes one.
    Required,
    /// Takes one when given (`-p [timeout]`, popt's `POPT_ARGFLAG_OPTIONAL`).
    Optional,
}

/// Every option of ipvsadm 1.31 (its `options_table`), plus rvs's `--json`.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    AddService,
    EditService,
    DelService,
    Clear,
    List,
    Zero,
    AddServer,
    EditServer,
    DelServer,
    Set,
    Help,
    Version,
    Restore,
    Save,
    StartDaemon,
    StopDaemon,
    Tcp,
    Udp,
    Sctp,
    Fwmark,
    Scheduler,
    Persistent,
    Netmask,
    RealServer,
    Masquerading,
    Ipip,
    Gatewaying,
    Weight,
    UThreshold,
    LThreshold,
    Numeric,
    Connection,
    McastInterface,
    Syncid,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    NoSort,
    Sort,
    Exact,
    Ipv6,
    Ops,
    Pe,
    SchedFlags,
    McastGroup,
    McastPort,
    McastTtl,
    SyncMaxlen,
    TunInfo,
    TunType,
    TunPort,
    TunNocsum,
    TunCsum,
    TunRemcsum,
    /// rvs's own: listings as JSON.
    Json,
}

/// One row of the option table: long name, short letter, argument, tag.
type OptDef = (&'static str, Option<char>, ArgKind, Tag);

/// ipvsadm 1.31's `options_table`, in its order (`-l` is a second `--list` row whose
/// long name popt never reaches; the first row wins a long-name lookup).
const OPTIONS: &[OptDef] = {
    use ArgKind::{None as N, Optional as O, Required as R};
    use Tag::*;
    &[
        ("add-service", Some('A'), N, AddService),
        ("edit-service", Some('E'), N, EditService),
        ("delete-service", Some('D'), N, DelService),
        ("clear", Some('C'), N, Clear),
        ("list", Some('L'), N, List),
        ("list", Some('l'), N, List),
        ("zero", Some('Z'), N, Zero),
        ("add-server", Some('a'), N, AddServer),
        ("edit-server", Some('e'), N, EditServer),
        ("delete-server", Some('d'), N, DelServer),
        ("set", None, N, Set),
        ("help", Some('h'), N, Help),
        ("version", Some('v'), N, Version),
        ("restore", Some('R'), N, Restore),
        ("save", Some('S'), N, Save),
        ("start-daemon", None, R, StartDaemon),
        ("stop-daemon", None, R, StopDaemon),
        ("tcp-service", Some('t'), R, Tcp),
        ("udp-service", Some('u'), R, Udp),
        ("sctp-service", None, R, Sctp),
        ("fwmark-service", Some('f'), R, Fwmark),
        ("scheduler", Some('s'), R, Scheduler),
        ("persistent", Some('p'), O, Persistent),
        ("netmask", Some('M'), R, Netmask),
        ("real-server", Some('r'), R, RealServer),
        ("masquerading", Some('m'), N, Masquerading),
        ("ipip", Some('i'), N, Ipip),
        ("gatewaying", Some('g'), N, Gatewaying),
        ("weight", Some('w'), R, Weight),
        ("u-threshold", Some('x'), R, UThreshold),
        ("l-threshold", Some('y'), R, LThreshold),
        ("numeric", Some('n'), N, Numeric),
        ("connection", Some('c'), N, Connection),
        ("mcast-interface", None, R, McastInterface),
        ("syncid", None, R, Syncid),
        ("timeout", None, N, Timeout),
        ("daemon", None, N, Daemon),
        ("stats", None, N, Stats),
        ("rate", None, N, Rate),
        ("thresholds", None, N, Thresholds),
        ("persistent-conn", None, N, PersistentConn),
        ("nosort", None, N, NoSort),
        ("sort", None, N, Sort),
        ("exact", Some('X'), N, Exact),
        ("ipv6", Some('6'), N, Ipv6),
        ("ops", Some('o'), N, Ops),
        ("pe", None, R, Pe),
        ("sched-flags", Some('b'), R, SchedFlags),
        ("mcast-group", None, R, McastGroup),
        ("mcast-port", None, R, McastPort),
        ("mcast-ttl", None, R, McastTtl),
        ("sync-maxlen", None, R, SyncMaxlen),
        ("tun-info", None, N, TunInfo),
        ("tun-type", None, R, TunType),
        ("tun-port", None, R, TunPort),
        ("tun-nocsum", None, N, TunNocsum),
        ("tun-csum", None, N, TunCsum),
        ("tun-remcsum", None, N, TunRemcsum),
        ("json", None, N, Json),
    ]
};

/// popt's errors (`poptStrerror` texts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoptError {
    /// `POPT_ERROR_NOARG`.
    NoArg,
    /// `POPT_ERROR_UNWANTEDARG`.
    UnwantedArg,
    /// `POPT_ERROR_BADOPT`.
    BadOpt,
}

impl PoptError {
    /// popt's text for it.
    pub fn text(self) -> &'static str {
        match self {
            PoptError::NoArg => "missing argument",
            PoptError::UnwantedArg => "option does not take an argument",
            PoptError::BadOpt => "unknown option",
        }
    }
}

/// popt's scanner over one argv (`argv[0]` is the program and is skipped).
pub struct Scanner<'a> {
    argv: &'a [String],
    /// Index of the next word to read.
    next: usize,
    /// The rest of a bundle of short options still to scan: (word index, byte offset).
    char_arg: Option<(usize, usize)>,
    /// A `--` was seen: every later word is a leftover.
    rest_leftover: bool,
    leftovers: Vec<String>,
}

impl<'a> Scanner<'a> {
    /// A scanner over `argv` (with the program name first).
    pub fn new(argv: &'a [String]) -> Self {
        Scanner {
            argv,
            next: 1,
            char_arg: None,
            rest_leftover: false,
            leftovers: Vec::new(),
        }
    }

    /// popt's `poptBadOption(.., POPT_BADOPTION_NOALIAS)`: the last word read.
    pub fn bad_option(&self) -> &str {
        self.argv
            .get(self.next.saturating_sub(1))
            .map(String::as_str)
            .unwrap_or("")
    }

    /// The leftover (non-option) words, in order (popt's `poptGetArg` sequence). Only
    /// complete once [`Scanner::next_opt`] returned `Ok(None)`.
    pub fn leftovers(&self) -> &[String] {
        &self.leftovers
    }

    /// popt's `poptGetNextOpt`: the next option and its argument, `Ok(None)` at the
    /// end of the words.
    pub fn next_opt(&mut self) -> Result<Option<(Tag, Option<String>)>, PoptError> {
        loop {
            let (def, long_arg) = if let Some((w, off)) = self.char_arg.take() {
                (self.short_at(w, off)?, None)
            } else {
                let Some(word) = self.argv.get(self.next) else {
                    return Ok(None);
                };
                self.next += 1;
                if self.rest_leftover || !word.starts_with('-') || word == "-" {
                    self.leftovers.push(word.clone());
                    continue;
                }
                if word == "--" {
                    self.rest_leftover = true;
                    continue;
                }
                if let Some(long) = word.strip_prefix("--") {
                    let (name, arg) = match long.split_once('=') {
                        Some((n, a)) => (n, Some(a.to_string())),
                        None => (long, None),
                    };
                    let def = OPTIONS
                        .iter()
                        .find(|d| d.0 == name)
                        .ok_or(PoptError::BadOpt)?;
                    (def, arg)
                } else {
                    // A single dash: no option of ipvsadm's is a one-dash long option,
                    // so the word is a bundle of short options.
                    (self.short_at(self.next - 1, 1)?, None)
                }
            };
            let (_, _, kind, tag) = *def;
            if kind == ArgKind::None {
                let eq_follows = self
                    .char_arg
                    .is_some_and(|(w, off)| self.argv[w].as_bytes().get(off) == Some(&b'='));
                if long_arg.is_some() || eq_follows {
                    return Err(PoptError::UnwantedArg);
                }
                return Ok(Some((tag, None)));
            }
            let arg = if long_arg.is_some() {
                long_arg
            } else if let Some((w, off)) = self.char_arg.take() {
                let rest = &self.argv[w][off..];
                Some(rest.strip_prefix('=').unwrap_or(rest).to_string())
            } else {
                match self.argv.get(self.next) {
                    None if kind == ArgKind::Optional => None,
                    None => return Err(PoptError::NoArg),
                    Some(w) if kind == ArgKind::Optional && w.starts_with('-') => None,
                    Some(w) => {
                        self.next += 1;
                        Some(w.clone())
                    }
                }
            };
            return Ok(Some((tag, arg)));
        }
    }

    /// The short option at byte `off` of word `w`; leaves the rest of the bundle in
    /// `char_arg`.
    fn short_at(&mut self, w: usize, off: usize) -> Result<&'static OptDef, PoptError> {
        let word = &self.argv[w];
        let c = word[off..].chars().next().ok_or(PoptError::BadOpt)?;
        let def = OPTIONS
            .iter()
            .find(|d| d.1 == Some(c))
            .ok_or(PoptError::BadOpt)?;
        let after = off + c.len_utf8();
        if after < word.len() {
            self.char_arg = Some((w, after));
        }
        Ok(def)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Scanned = Result<(Tag, Option<String>), (PoptError, String)>;

    fn scan(words: &[&str]) -> (Vec<Scanned>, Vec<String>) {
        let argv: Vec<String> = std::iter::once("ipvsadm")
            .chain(words.iter().copied())
            .map(String::from)
            .collect();
        let mut s = Scanner::new(&argv);
        let mut out = Vec::new();
        loop {
            match s.next_opt() {
                Ok(Some(o)) => out.push(Ok(o)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err((e, s.bad_option().to_string())));
                    break;
                }
            }
        }
        (out, s.leftovers().to_vec())
    }

    fn ok(tag: Tag, arg: Option<&str>) -> Scanned {
        Ok((tag, arg.map(String::from)))
    }

    #[test]
    fn bundles_arguments_and_leftovers_scan_as_popt() {
        use Tag::*;
        assert_eq!(
            scan(&["-Lnc"]).0,
            vec![ok(List, None), ok(Numeric, None), ok(Connection, None)]
        );
        assert_eq!(
            scan(&[
                "-At",
                "1.2.3.4:80",
                "-w3",
                "-w=4",
                "--weight=5",
                "--weight",
                "6"
            ])
            .0,
            vec![
                ok(AddService, None),
                ok(Tcp, Some("1.2.3.4:80")),
                ok(Weight, Some("3")),
                ok(Weight, Some("4")),
                ok(Weight, Some("5")),
                ok(Weight, Some("6")),
            ]
        );
        // A required argument is the next word whatever it is; an optional one is not
        // taken when it starts with '-'.
        assert_eq!(scan(&["-t", "-A"]).0, vec![ok(Tcp, Some("-A"))]);
        assert_eq!(
            scan(&["-p", "-n"]).0,
            vec![ok(Persistent, None), ok(Numeric, None)]
        );
        assert_eq!(scan(&["-p", "300"]).0, vec![ok(Persistent, Some("300"))]);
        assert_eq!(scan(&["-p"]).0, vec![ok(Persistent, None)]);
        assert_eq!(scan(&["-p300"]).0, vec![ok(Persistent, Some("300"))]);
        let (o, left) = scan(&["--set", "1", "-", "2", "--", "-3"]);
        assert_eq!(o, vec![ok(Set, None)]);
        assert_eq!(left, vec!["1", "-", "2", "-3"]);
    }

    #[test]
    fn errors_name_the_word_as_popt() {
        use PoptError::*;
        assert_eq!(scan(&["-L", "--foo"]).0[1], Err((BadOpt, "--foo".into())));
        assert_eq!(scan(&["-LQ"]).0[1], Err((BadOpt, "-LQ".into())));
        assert_eq!(scan(&["-A", "-t"]).0[1], Err((NoArg, "-t".into())));
        assert_eq!(scan(&["-At"]).0[1], Err((NoArg, "-At".into())));
        assert_eq!(
            scan(&["-L", "--nosort=1"]).0[1],
            Err((UnwantedArg, "--nosort=1".into()))
        );
        assert_eq!(scan(&["-Ln=1"]).0[1], Err((UnwantedArg, "-Ln=1".into())));
        assert_eq!(scan(&["--lis"]).0[0], Err((BadOpt, "--lis".into())));
        assert_eq!(scan(&["-list"]).0[1], ok(Tag::Ipip, None));
    }
}
