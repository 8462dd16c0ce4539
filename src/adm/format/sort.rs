//! ipvsadm's listing order (IPVSADM.md §3.1 "Sorting"). ipvsadm sorts what the kernel
//! returns with `qsort` and libipvs's comparators `ipvs_cmp_services` (fwmark, address
//! family, protocol number, address, port) and `ipvs_cmp_dests` (address, port). Those
//! comparators subtract unsigned 32-bit values into an `int`, so two fwmarks or two
//! addresses 2^31 or more apart compare the wrong way round (192.168.0.1 sorts before
//! 10.0.0.1) and the order is not even transitive across such gaps. rvs reproduces the
//! comparator exactly, and glibc's `qsort` algorithm (a top-down merge sort taking the left
//! element on ties: glibc's `msort`, the algorithm of Debian's glibc), so the order is the
//! same in those cases too.
//!
//! `--nosort` prints rvs's own order (the order rvsd returns: services in their table
//! order, dests newest first as IPVS lists them). IPVS's own unsorted order is its hash
//! table's bucket order, which depends on a per-boot random seed and cannot be reproduced.

use crate::ctl::views::{DestView, ServiceKeyView, ServiceView};

/// IPPROTO_TCP.
const IPPROTO_TCP: i32 = 6;
/// IPPROTO_UDP.
const IPPROTO_UDP: i32 = 17;

/// `(fwmark, protocol, address, port)` of a service as the kernel reports it.
fn service_fields(key: &ServiceKeyView) -> (u32, i32, u32, u16) {
    match *key {
        ServiceKeyView::Tcp { vip, port } => (0, IPPROTO_TCP, u32::from(vip), port),
        ServiceKeyView::Udp { vip, port } => (0, IPPROTO_UDP, u32::from(vip), port),
        // IPVS reports no protocol (0) for a fwmark service.
        ServiceKeyView::Fwmark { mark } => (mark, 0, 0, 0),
    }
}

/// C's `int r = a - b` for two unsigned 32-bit values: the wrapped difference read as
/// signed.
fn c_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// `ipvs_cmp_services`: negative, zero or positive as the C function returns.
pub fn cmp_services(a: &ServiceKeyView, b: &ServiceKeyView) -> i32 {
    let (fa, pa, aa, qa) = service_fields(a);
    let (fb, pb, ab, qb) = service_fields(b);
    let r = c_diff(fa, fb);
    if r != 0 {
        return r;
    }
    // Both IPv4: the address-family difference is 0.
    let r = pa - pb;
    if r != 0 {
        return r;
    }
    let r = c_diff(aa, ab);
    if r != 0 {
        return r;
    }
    i32::from(qa) - i32::from(qb)
}

/// `ipvs_cmp_dests`.
pub fn cmp_dests(a: &DestView, b: &DestView) -> i32 {
    let r = c_diff(u32::from(a.addr), u32::from(b.addr));
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// glibc's `msort_with_tmp`: split in halves (`n/2` on the left), sort each, merge taking
/// from the left while `cmp(left, right) <= 0`. Stable, and well defined for comparators
/// that are not a total order (where `slice::sort_by` may panic).
pub fn merge_sort<T: Clone>(v: &mut [T], cmp: &dyn Fn(&T, &T) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    merge_sort(&mut v[..n1], cmp);
    merge_sort(&mut v[n1..], cmp);
    let (left, right) = v.split_at(n1);
    let mut out = Vec::with_capacity(n);
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if cmp(&left[i], &right[j]) <= 0 {
            out.push(left[i].clone());
            i += 1;
        } else {
            out.push(right[j].clone());
            j += 1;
        }
    }
    out.extend_from_slice(&left[i..]);
    out.extend_from_slice(&right[j..]);
    v.clone_from_slice(&out);
}

/// The services (and each one's dests) in the order ipvsadm prints them; `sort` false
/// (`--nosort`) keeps the given order.
pub fn listing_order(list: &[ServiceView], sort: bool) -> Vec<ServiceView> {
    let mut out = list.to_vec();
    if sort {
        merge_sort(&mut out, &|a: &ServiceView, b: &ServiceView| {
            cmp_services(&a.spec.key, &b.spec.key)
        });
        for s in &mut out {
            merge_sort(&mut s.dests, &cmp_dests);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn tcp(a: [u8; 4], port: u16) -> ServiceKeyView {
        ServiceKeyView::Tcp {
            vip: Ipv4Addr::from(a),
            port,
        }
    }

    fn sorted(keys: &[ServiceKeyView]) -> Vec<ServiceKeyView> {
        let mut v = keys.to_vec();
        merge_sort(&mut v, &|a, b| cmp_services(a, b));
        v
    }

    #[test]
    fn tcp_before_udp_before_fwmark_then_address_and_port() {
        // As the oracle's `ipvsadm -Ln --stats` (tests/fixtures/oracle/semantics):
        // TCP VIP:0, :80 ... then UDP, then FWM 1, FWM 2.
        let keys = [
            ServiceKeyView::Fwmark { mark: 2 },
            ServiceKeyView::Udp {
                vip: Ipv4Addr::new(203, 0, 113, 1),
                port: 54,
            },
            tcp([203, 0, 113, 1], 80),
            ServiceKeyView::Fwmark { mark: 1 },
            tcp([203, 0, 113, 1], 0),
            tcp([198, 51, 100, 1], 443),
        ];
        assert_eq!(
            sorted(&keys),
            vec![
                tcp([198, 51, 100, 1], 443),
                tcp([203, 0, 113, 1], 0),
                tcp([203, 0, 113, 1], 80),
                keys[1],
                ServiceKeyView::Fwmark { mark: 1 },
                ServiceKeyView::Fwmark { mark: 2 },
            ]
        );
    }

    #[test]
    fn addresses_2_31_apart_compare_inverted_as_in_libipvs() {
        // 192.168.0.1 - 10.0.0.1 = 0xB6A80000 as int is negative: 192.168.0.1 first.
        let keys = [tcp([10, 0, 0, 1], 80), tcp([192, 168, 0, 1], 80)];
        assert_eq!(sorted(&keys), vec![keys[1], keys[0]]);
        // Less than 2^31 apart: numeric order.
        let keys = [tcp([100, 64, 0, 1], 80), tcp([10, 0, 0, 1], 80)];
        assert_eq!(sorted(&keys), vec![keys[1], keys[0]]);
    }

    #[test]
    fn a_fwmark_of_2_31_or_more_sorts_before_address_services() {
        let keys = [
            tcp([10, 0, 0, 1], 80),
            ServiceKeyView::Fwmark { mark: 0x8000_0001 },
        ];
        assert_eq!(sorted(&keys), vec![keys[1], keys[0]]);
    }
}
