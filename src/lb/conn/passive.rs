//! Passive failure detection: which packets (and which expiries) show that a new TCP
//! connection to a real server failed, so the workers can count failures per real
//! server and the management side can mark it down before its next active check
//! (issue 12 item 4; rvs's own, IPVS and keepalived have no such thing).
//!
//! A connection's opening is judged at most once (the slot flag `F_SETTLED`, set in
//! the same CAS as the state change, so exactly one worker counts it):
//! * **NAT, the real server answered the SYN with a RST**: a RST from the real
//!   server while the entry is still in SYN_RECV (no SYN-ACK came before it).
//! * **No SYN-ACK, NAT**: the client sent its SYN again while the entry was in
//!   SYN_RECV and nothing had come back from the real server; or the entry expired
//!   in SYN_RECV with nothing back from the real server.
//! * **No SYN-ACK, DR/TUN**: the director sees only the client, so the sign is the
//!   client's SYN sent again while the entry is in SYN_RECV (the client's handshake
//!   ACK would have moved it to ESTABLISHED). A DR/TUN entry that merely expires in
//!   SYN_RECV is not counted: a spoofed-source SYN flood leaves exactly those, and
//!   must not take healthy real servers down.
//!
//! Any packet from the real server (NAT) settles the opening as answered: after a
//! SYN-ACK, a later RST or a client's SYN is the connection's business, not a failed
//! opening. "The SYN sent again" is any pure SYN (no ACK, no RST) on the client
//! tuple of an entry in SYN_RECV: a retransmission (same sequence number) or a new
//! attempt from the same port after the client gave up; both mean the real server
//! did not complete the handshake. Sequence numbers are not kept (the 48-byte slot
//! has no room), so the two are not told apart. A SYN within the same tick (second)
//! as the one that armed the entry's SYN_RECV timer is a duplicate, never a
//! retransmission (RFC 6298's initial RTO is 1 s), and is not counted: e.g. the same
//! SYN arriving at two workers, one of which lost the race to create the entry.

use super::slot::{SlotKind, F_SETTLED};
use super::state::{Side, TcpFlags, TcpState};

/// What one packet does to the judgement of its connection's opening.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Opening {
    /// Nothing learnt (or already judged).
    Unchanged,
    /// The real server answered: the opening is settled, not failed.
    Answered,
    /// The opening failed: count it once and settle it.
    Failed,
}

/// Judges a TCP packet with `flags` on `side` of an entry in state `prev` whose
/// control-word flags are `word_flags`; `same_tick`: the entry's timer was armed in
/// this packet's tick (then a SYN is a duplicate, not a retransmission).
pub(crate) fn judge_packet(
    side: Side,
    flags: TcpFlags,
    prev: TcpState,
    word_flags: u8,
    same_tick: bool,
) -> Opening {
    if word_flags & F_SETTLED != 0 {
        return Opening::Unchanged;
    }
    match side {
        Side::Output if flags.contains(TcpFlags::RST) && prev == TcpState::SynRecv => {
            Opening::Failed
        }
        Side::Output => Opening::Answered,
        Side::Input | Side::InputOnly
            if prev == TcpState::SynRecv
                && !same_tick
                && flags.contains(TcpFlags::SYN)
                && !flags.contains(TcpFlags::ACK)
                && !flags.contains(TcpFlags::RST) =>
        {
            Opening::Failed
        }
        Side::Input | Side::InputOnly => Opening::Unchanged,
    }
}

/// True when an entry that expires by its timer (not flushed, not rescheduled) was a
/// failed opening: a NAT TCP connection still in SYN_RECV whose real server never
/// sent anything back (and whose failure was not counted already).
pub(crate) fn expiry_failed(kind: SlotKind, tcp: bool, state: u8, word_flags: u8) -> bool {
    kind == SlotKind::Nat && tcp && state == TcpState::SynRecv as u8 && word_flags & F_SETTLED == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use TcpState::*;

    const S: TcpFlags = TcpFlags::SYN;
    const A: TcpFlags = TcpFlags::ACK;
    const R: TcpFlags = TcpFlags::RST;

    #[test]
    fn nat_server_reset_in_syn_recv_fails_once() {
        assert_eq!(
            judge_packet(Side::Output, R | A, SynRecv, 0, false),
            Opening::Failed
        );
        assert_eq!(
            judge_packet(Side::Output, R, SynRecv, 0, false),
            Opening::Failed
        );
        assert_eq!(
            judge_packet(Side::Output, R | A, SynRecv, F_SETTLED, false),
            Opening::Unchanged
        );
    }

    #[test]
    fn a_reply_settles_and_a_later_reset_is_not_a_failed_opening() {
        assert_eq!(
            judge_packet(Side::Output, S | A, SynRecv, 0, false),
            Opening::Answered
        );
        assert_eq!(
            judge_packet(Side::Output, R, Established, F_SETTLED, false),
            Opening::Unchanged
        );
        // A server RST on an entry past SYN_RECV (sloppy_tcp picked it up mid-flow).
        assert_eq!(
            judge_packet(Side::Output, R, Established, 0, false),
            Opening::Answered
        );
    }

    #[test]
    fn client_syn_again_in_syn_recv_fails_on_both_input_tables() {
        for side in [Side::Input, Side::InputOnly] {
            assert_eq!(judge_packet(side, S, SynRecv, 0, false), Opening::Failed);
            assert_eq!(
                judge_packet(side, S, SynRecv, F_SETTLED, false),
                Opening::Unchanged
            );
            // Not a retransmitted SYN: the handshake ACK, a RST, a SYN elsewhere.
            assert_eq!(judge_packet(side, A, SynRecv, 0, false), Opening::Unchanged);
            assert_eq!(
                judge_packet(side, S | R, SynRecv, 0, false),
                Opening::Unchanged
            );
            assert_eq!(
                judge_packet(side, S | A, SynRecv, 0, false),
                Opening::Unchanged
            );
            assert_eq!(
                judge_packet(side, S, Established, 0, false),
                Opening::Unchanged
            );
            assert_eq!(
                judge_packet(side, S, TimeWait, 0, false),
                Opening::Unchanged
            );
            // The same tick as the entry's creation: a duplicate SYN.
            assert_eq!(judge_packet(side, S, SynRecv, 0, true), Opening::Unchanged);
        }
    }

    #[test]
    fn only_unanswered_nat_tcp_syn_recv_expiries_fail() {
        let sr = SynRecv as u8;
        assert!(expiry_failed(SlotKind::Nat, true, sr, 0));
        assert!(!expiry_failed(SlotKind::Nat, true, sr, F_SETTLED));
        assert!(!expiry_failed(SlotKind::Nat, true, Established as u8, 0));
        assert!(!expiry_failed(SlotKind::Nat, false, sr, 0));
        assert!(!expiry_failed(SlotKind::Dr, true, sr, 0));
        assert!(!expiry_failed(SlotKind::Tun, true, sr, 0));
        assert!(!expiry_failed(SlotKind::Template, true, sr, 0));
    }
}
