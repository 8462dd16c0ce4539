//! Test support shared by the integration tests (each test file does `mod common;`).
#![allow(dead_code)]

pub mod eal;
pub mod hclab;
pub mod ipvsadm_rec;
pub mod lab;
pub mod load;
pub mod pcap;
pub mod rvsd;
pub mod scenario;
pub mod topo;
