//! The version string both binaries print, so an operator can tell exactly which build runs.

/// `rvs <semver> (git <commit>)`, embedded at build time by `build.rs`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("RVS_GIT_COMMIT"),
    ")"
);
