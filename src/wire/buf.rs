//! A packet buffer with headroom: what per-packet code needs from an mbuf, without naming
//! DPDK. `dpdk::Mbuf` implements it; tests and benchmarks use [`HeadroomBuf`].

/// Bytes of a packet plus the room around them to grow or shrink it in place.
pub trait PacketBuf {
    /// The packet bytes.
    fn data(&self) -> &[u8];
    /// The packet bytes, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Grows the packet at the front by `n` bytes (new bytes unspecified); false, and the
    /// packet unchanged, when there is not enough headroom.
    fn prepend(&mut self, n: usize) -> bool;
    /// Removes `n` bytes from the front; false (unchanged) when shorter.
    fn adj(&mut self, n: usize) -> bool;
    /// Sets the length to `len` bytes, growing or shrinking at the end; false (unchanged)
    /// when the buffer has not enough room.
    fn set_len(&mut self, len: usize) -> bool;
    /// Free bytes in front of the data: what [`PacketBuf::prepend`] can take (the TUN
    /// transform's 20 bytes are checked before a new flow creates state).
    fn headroom(&self) -> usize;
    /// What the NIC said about the TCP/UDP checksum of this received frame (DPDK's
    /// `RTE_MBUF_F_RX_L4_CKSUM_*` flags); [`RxL4Checksum::Unknown`] where the port
    /// reports nothing, so the caller verifies in software.
    fn rx_l4_checksum(&self) -> RxL4Checksum {
        RxL4Checksum::Unknown
    }
}

/// The NIC's verdict on a received frame's TCP/UDP checksum (DPDK 22.11 `rte_mbuf_core.h`,
/// `RTE_MBUF_F_RX_L4_CKSUM_MASK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxL4Checksum {
    /// No information (`UNKNOWN`, or a port without RX checksum offload): verify in
    /// software.
    Unknown,
    /// The checksum is wrong (`BAD`).
    Bad,
    /// The checksum is right (`GOOD`), or the data's integrity is verified although the
    /// field is not filled (`NONE`, e.g. a virtio host that checked it).
    Good,
}

/// A heap buffer with headroom, for tests, fuzzing and benchmarks (feature `testkit`).
#[cfg(any(test, feature = "testkit"))]
#[derive(Clone, Debug)]
pub struct HeadroomBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

#[cfg(any(test, feature = "testkit"))]
impl HeadroomBuf {
    /// DPDK's default mbuf headroom.
    pub const DEFAULT_HEADROOM: usize = 128;
    /// DPDK's default mbuf data room after the headroom.
    pub const DEFAULT_ROOM: usize = 2048;

    /// A buffer holding `bytes` with DPDK's default headroom and room.
    pub fn new(bytes: &[u8]) -> Self {
        Self::with_room(
            bytes,
            Self::DEFAULT_HEADROOM,
            Self::DEFAULT_ROOM.max(bytes.len()),
        )
    }

    /// A buffer holding `bytes` with `headroom` in front and `room` bytes of data room.
    pub fn with_room(bytes: &[u8], headroom: usize, room: usize) -> Self {
        let room = room.max(bytes.len());
        let mut buf = vec![0u8; headroom + room];
        buf[headroom..headroom + bytes.len()].copy_from_slice(bytes);
        HeadroomBuf {
            buf,
            start: headroom,
            end: headroom + bytes.len(),
        }
    }

    /// Free bytes in front of the data.
    pub fn headroom(&self) -> usize {
        self.start
    }
}

#[cfg(any(test, feature = "testkit"))]
impl PacketBuf for HeadroomBuf {
    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }
    fn prepend(&mut self, n: usize) -> bool {
        if n > self.start {
            return false;
        }
        self.start -= n;
        true
    }
    fn adj(&mut self, n: usize) -> bool {
        if n > self.end - self.start {
            return false;
        }
        self.start += n;
        true
    }
    fn headroom(&self) -> usize {
        self.start
    }
    fn set_len(&mut self, len: usize) -> bool {
        if self.start + len > self.buf.len() {
            return false;
        }
        self.end = self.start + len;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn grows_and_shrinks_within_its_room_only() {
        let mut b = HeadroomBuf::with_room(&[1, 2, 3], 4, 8);
        assert!(b.prepend(4));
        assert!(!b.prepend(1));
        assert_eq!(b.data().len(), 7);
        assert!(b.adj(4));
        assert_eq!(b.data(), &[1, 2, 3]);
        assert!(b.set_len(8));
        assert!(!b.set_len(9));
        assert!(!b.adj(9));
    }
}
