//! The LVS TCP state machine, written from the behaviour of IPVS's
//! `ip_vs_proto_tcp.c` (not copied): per-connection states with IPVS's names,
//! driven by the TCP flags of each packet and by which way it travels.
//!
//! IPVS keeps three tables: INPUT (client → server, NAT, where replies are also
//! seen), OUTPUT (server → client, NAT only) and INPUT-ONLY (DR/TUN: replies go
//! straight from the real server to the client, so the director only ever sees
//! one side and must guess the close from the client's FIN alone). Each packet
//! picks one event by priority RST > SYN > FIN > ACK. Quirk kept on purpose: a
//! segment carrying none of those four flags moves the entry to CLOSE, because
//! IPVS starts from CLOSE and only looks the table up when an event was found.

/// The eleven IPVS TCP states, in IPVS's order (the order is an interface: it is
/// what `/proc/net/ip_vs_conn` style tools and state sync index by).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TcpState {
    /// Fresh entry before its first transition (IPVS gives it a 3 s timer).
    None = 0,
    /// Handshake done; the only state counted as ActiveConn.
    Established = 1,
    /// A SYN seen from the real server side (NAT OUTPUT).
    SynSent = 2,
    /// A SYN seen from the client.
    SynRecv = 3,
    /// A FIN seen after ESTABLISHED from the side that closes first.
    FinWait = 4,
    /// Both FINs seen.
    TimeWait = 5,
    /// Reset, or closed without a FIN exchange.
    Close = 6,
    /// The client closed first while the server's side is still open (NAT).
    CloseWait = 7,
    /// The last FIN is waiting for its ACK.
    LastAck = 8,
    /// Never entered from packets; kept for the IPVS numbering and name.
    Listen = 9,
    /// Only reachable with IPVS's `secure_tcp` defence table, which rvs does not implement.
    SynAck = 10,
}

/// Number of TCP states (size of per-state timeout arrays).
pub const TCP_STATES: usize = 11;

impl TcpState {
    /// All states in IPVS order, for iterating timeout tables.
    pub const ALL: [TcpState; TCP_STATES] = [
        TcpState::None,
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::SynAck,
    ];

    /// The word `ipvsadm -Lnc` prints in the state column.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::None => "NONE",
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait => "FIN_WAIT",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::SynAck => "SYNACK",
        }
    }

    /// Decodes the 4-bit state stored in a table slot; out-of-range values
    /// (never written by the table) read as CLOSE rather than panicking.
    pub fn from_bits(b: u8) -> TcpState {
        TcpState::ALL
            .get(b as usize)
            .copied()
            .unwrap_or(TcpState::Close)
    }
}

/// The TCP flag bits the state machine looks at (same bit values as the TCP
/// header's flags byte, so the dataplane can pass that byte through).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN bit.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// SYN bit.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// RST bit.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// ACK bit.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// No flag (UDP packets, or a TCP segment with none of the four).
    pub const NONE: TcpFlags = TcpFlags(0);

    /// True if any bit of `other` is set here.
    pub fn has(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

/// Which of IPVS's three tables a packet is judged by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Client → director, on a connection whose replies we also see (NAT).
    Input,
    /// Real server → client through the director (NAT replies).
    Output,
    /// Client → director on a DR/TUN connection: replies bypass us.
    InputOnly,
}

/// One event per packet, IPVS priority RST > SYN > FIN > ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Syn,
    Fin,
    Ack,
    Rst,
}

fn event(flags: TcpFlags) -> Option<Event> {
    if flags.has(TcpFlags::RST) {
        Some(Event::Rst)
    } else if flags.has(TcpFlags::SYN) {
        Some(Event::Syn)
    } else if flags.has(TcpFlags::FIN) {
        Some(Event::Fin)
    } else if flags.has(TcpFlags::ACK) {
        Some(Event::Ack)
    } else {
        None
    }
}

/// The next state after a packet with `flags` seen on `side` in `state`.
///
/// Laid out per current state (rows) with one column per event, i.e. the
/// transpose of how IPVS writes its tables; each row gives (SYN, FIN, ACK, RST).
pub fn tcp_next(side: Side, flags: TcpFlags, state: TcpState) -> TcpState {
    use TcpState::*;
    let Some(ev) = event(flags) else {
        return Close;
    };
    // (syn, fin, ack, rst) per current state.
    let row: [TcpState; 4] = match side {
        Side::Input => match state {
            None => [SynRecv, Close, Established, Close],
            Established => [Established, CloseWait, Established, Close],
            SynSent => [Established, SynSent, SynSent, Close],
            SynRecv => [SynRecv, TimeWait, Established, SynRecv],
            FinWait => [SynRecv, TimeWait, FinWait, Close],
            TimeWait => [SynRecv, TimeWait, TimeWait, Close],
            Close => [SynRecv, Close, Close, Close],
            CloseWait => [SynRecv, CloseWait, CloseWait, Close],
            LastAck => [SynRecv, LastAck, Close, LastAck],
            Listen => [SynRecv, Listen, Listen, Listen],
            SynAck => [SynRecv, TimeWait, Established, SynRecv],
        },
        Side::Output => match state {
            None => [SynSent, TimeWait, Established, Close],
            Established => [Established, FinWait, Established, Close],
            SynSent => [SynSent, SynSent, SynSent, SynSent],
            SynRecv => [SynRecv, TimeWait, Established, Close],
            FinWait => [SynSent, FinWait, FinWait, Close],
            TimeWait => [SynSent, TimeWait, TimeWait, TimeWait],
            Close => [SynSent, Close, Close, Close],
            CloseWait => [SynSent, TimeWait, CloseWait, Close],
            LastAck => [SynSent, LastAck, LastAck, Close],
            Listen => [Listen, Listen, Established, Close],
            SynAck => [SynRecv, TimeWait, Established, Close],
        },
        Side::InputOnly => match state {
            None => [SynRecv, Close, Established, Close],
            Established => [Established, FinWait, Established, Close],
            SynSent => [Established, SynSent, SynSent, Close],
            SynRecv => [SynRecv, TimeWait, Established, SynRecv],
            FinWait => [SynRecv, FinWait, FinWait, Close],
            TimeWait => [SynRecv, TimeWait, TimeWait, Close],
            Close => [SynRecv, Close, Close, Close],
            CloseWait => [SynRecv, CloseWait, CloseWait, Close],
            LastAck => [SynRecv, LastAck, Close, LastAck],
            Listen => [SynRecv, Listen, Listen, Listen],
            SynAck => [SynRecv, TimeWait, Established, Close],
        },
    };
    let col = match ev {
        Event::Syn => 0,
        Event::Fin => 1,
        Event::Ack => 2,
        Event::Rst => 3,
    };
    row[col]
}

#[cfg(test)]
mod tests {
    use super::TcpState::*;
    use super::*;

    const S: TcpFlags = TcpFlags::SYN;
    const A: TcpFlags = TcpFlags::ACK;
    const F: TcpFlags = TcpFlags(0x11); // FIN|ACK, as stacks send it
    const R: TcpFlags = TcpFlags::RST;

    fn run(start: TcpState, steps: &[(Side, TcpFlags)]) -> Vec<TcpState> {
        let mut s = start;
        steps
            .iter()
            .map(|&(side, f)| {
                s = tcp_next(side, f, s);
                s
            })
            .collect()
    }

    #[test]
    fn nat_handshake_and_client_close() {
        use Side::*;
        // SYN, SYN-ACK, ACK, client FIN, server ACK, server FIN, client ACK.
        let got = run(
            None,
            &[
                (Input, S),
                (Output, S | A),
                (Input, A),
                (Input, F),
                (Output, A),
                (Output, F),
                (Input, A),
            ],
        );
        assert_eq!(
            got,
            [
                SynRecv,
                SynRecv,
                Established,
                CloseWait,
                CloseWait,
                TimeWait,
                TimeWait
            ]
        );
    }

    #[test]
    fn nat_server_closes_first() {
        use Side::*;
        let got = run(
            Established,
            &[(Output, F), (Input, A), (Input, F), (Output, A)],
        );
        assert_eq!(got, [FinWait, FinWait, TimeWait, TimeWait]);
    }

    #[test]
    fn input_only_guesses_close_from_client_side() {
        use Side::*;
        // DR: SYN, ACK (handshake end), FIN from client, last ACK from client.
        let got = run(
            None,
            &[
                (InputOnly, S),
                (InputOnly, A),
                (InputOnly, F),
                (InputOnly, A),
            ],
        );
        assert_eq!(got, [SynRecv, Established, FinWait, FinWait]);
    }

    #[test]
    fn rst_has_priority_and_closes() {
        assert_eq!(tcp_next(Side::Input, R | S | F | A, Established), Close);
        assert_eq!(tcp_next(Side::Output, R, Established), Close);
        assert_eq!(tcp_next(Side::InputOnly, R | A, Established), Close);
        // An RST during the handshake from the client keeps SYN_RECV (IPVS behaviour).
        assert_eq!(tcp_next(Side::Input, R, SynRecv), SynRecv);
        // A server RST answering a SYN (port closed) closes.
        assert_eq!(tcp_next(Side::Output, R | A, SynRecv), Close);
    }

    #[test]
    fn syn_priority_over_fin_and_ack() {
        assert_eq!(tcp_next(Side::Input, S | F, Established), Established);
        assert_eq!(tcp_next(Side::Input, S | A, TimeWait), SynRecv);
    }

    #[test]
    fn syn_on_closed_entry_reopens_it() {
        for side in [Side::Input, Side::InputOnly] {
            for st in [Close, TimeWait, FinWait, CloseWait, LastAck] {
                assert_eq!(tcp_next(side, S, st), SynRecv, "{side:?} {st:?}");
            }
        }
    }

    #[test]
    fn no_flag_segment_closes() {
        assert_eq!(tcp_next(Side::Input, TcpFlags::NONE, Established), Close);
        assert_eq!(tcp_next(Side::Output, TcpFlags(0x08), Established), Close);
    }

    #[test]
    fn names_and_bits_roundtrip() {
        for (i, s) in TcpState::ALL.iter().enumerate() {
            assert_eq!(TcpState::from_bits(i as u8), *s);
            assert_eq!(*s as usize, i);
        }
        assert_eq!(TcpState::from_bits(15), Close);
        assert_eq!(SynAck.name(), "SYNACK");
    }
}
