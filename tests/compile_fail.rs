//! Compile-fail tests: each file in tests/compile_fail/ is a misuse of the safe DPDK API
//! that must not compile (src/dpdk/mod.rs, "Ownership"), checked against the compiler's
//! message in the `.stderr` beside it. Regenerate snapshots after a deliberate API or
//! toolchain change with `TRYBUILD=overwrite cargo test --test compile_fail`.

#[test]
fn dpdk_misuse_does_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
}
