//! rvs: a DPDK userspace L4 load balancer in the Linux Virtual Server tradition.
//!
//! Layers, from the bottom: [`wire`] (zero-copy header views), [`lb`] (the load
//! balancer itself, no DPDK type in it), [`net`] (appliance networking: ARP,
//! ICMP, routes, exception path), [`dpdk`] (the only safe wrapper over
//! `dpdk-sys`), [`dataplane`] (worker loops joining mbufs to `lb` and `net`),
//! [`snapshot`] (read-copy-update publication of run-time tables from the management
//! thread to the workers, used by `lb`, `net` and `dataplane`), [`mgmt`] (management thread), [`config`] (TOML configuration), [`ctl`] (the
//! control protocol) and [`adm`] (rvsadm's ipvsadm command language). `testkit`
//! (feature `testkit`, on for this crate's own tests, benches and the fuzz crate) holds
//! test scaffolding: the DPDK-free testbed director, fuzz drivers, heap test buffers.
#![deny(unsafe_code)]

pub mod adm;
pub mod config;
pub mod ctl;
pub mod dataplane;
#[allow(unsafe_code)]
pub mod dpdk;
pub mod drops;
pub mod lb;
pub mod mgmt;
pub mod net;
pub mod snapshot;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod version;
pub mod wire;
