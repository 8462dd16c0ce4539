//! Finds the system DPDK with pkg-config, compiles the C shim with DPDK's own cflags
//! (`-march=corei7 -include rte_config.h`), and runs bindgen over a narrow allowlist.
use std::env;
use std::path::PathBuf;

fn main() {
    let lib = pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
        .expect("libdpdk not found by pkg-config: install libdpdk-dev (scripts/setup.sh does)");

    // DPDK's cflags from pkg-config, split into include paths and the rest
    // (`-include rte_config.h`, `-march=...`), both needed for the shim and for bindgen.
    let out = std::process::Command::new("pkg-config")
        .args(["--cflags", "libdpdk"])
        .output()
        .expect("pkg-config runs");
    let flags: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();

    let mut build = cc::Build::new();
    build.file("shim/shim.c").warnings(false).opt_level(3);
    for f in &flags {
        build.flag(f);
    }
    build.compile("rvs_dpdk_shim");

    let mut clang_args: Vec<String> = flags.clone();
    for p in &lib.include_paths {
        clang_args.push(format!("-I{}", p.display()));
    }
    let bindings = bindgen::Builder::default()
        .header("shim/shim.h")
        .clang_args(&clang_args)
        .allowlist_function("rvs_.*")
        .allowlist_function("rte_eal_(init|cleanup|mp_wait_lcore|remote_launch|get_configuration)")
        .allowlist_function("rte_thread_(register|unregister)")
        .allowlist_function("rte_(lcore_count|socket_id|strerror|get_tsc_hz|exit)")
        .allowlist_function("rte_pktmbuf_pool_create")
        .allowlist_function("rte_mempool_(free|avail_count|in_use_count)")
        .allowlist_function("rte_eth_(dev_configure|dev_info_get|dev_start|dev_stop|dev_close|dev_count_avail|dev_get_port_by_name|dev_socket_id|dev_set_mtu|dev_adjust_nb_rx_tx_desc|rx_queue_setup|tx_queue_setup|promiscuous_enable|promiscuous_disable|macaddr_get|dev_default_mac_addr_set|link_get_nowait|stats_get|stats_reset|dev_is_valid_port|dev_get_name_by_port|dev_set_link_up)")
        .allowlist_function("rte_dev_probe|rte_dev_remove|rte_eal_hotplug_(add|remove)")
        .allowlist_type("rte_eth_(conf|dev_info|stats|link|rxconf|txconf)")
        // Benchmark ports over in-process rings (net_ring): the rings and the port maker.
        .allowlist_function("rte_ring_(create|free)|rte_eth_from_rings")
        .allowlist_var("RING_F_.*")
        .opaque_type("rte_ring")
        .allowlist_type("rte_ether_addr")
        .allowlist_var("RTE_ETH_.*|RTE_MBUF_DEFAULT_.*|RTE_MAX_ETHPORTS|RTE_MAX_LCORE|RTE_ETHER_.*|RTE_PKTMBUF_HEADROOM|SOCKET_ID_ANY|LCORE_ID_ANY")
        .opaque_type("rte_arp_hdr")
        .opaque_type("rte_arp_ipv4")
        .opaque_type("rte_l2tpv2_combined_msg_hdr")
        .opaque_type("rte_gtp_psc_generic_hdr")
        .opaque_type("rte_mbuf")
        .opaque_type("rte_mempool")
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("bindgen over the DPDK headers");
    let out_path = PathBuf::from(env::var("OUT_DIR").unwrap()).join("bindings.rs");
    bindings.write_to_file(&out_path).expect("write bindings");
    // rte_eth_from_rings lives in the net_ring driver, which the shared DPDK build ships as
    // a plugin that `pkg-config --libs libdpdk` does not name; link it for the benchmark.
    println!("cargo:rustc-link-lib=rte_net_ring");
    println!("cargo:rerun-if-changed=shim/shim.h");
    println!("cargo:rerun-if-changed=shim/shim.c");
}
