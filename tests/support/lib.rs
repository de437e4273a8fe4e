//! Shared support for the end-to-end suites in `tests/`: real processes on loopback and the
//! fixtures they exchange.
//!
//! - [`process`]: a guard that kills a child process when dropped, free ports, and the bounded
//!   wait for a registry to answer `GET /v2/`.
//! - [`gantry`]: the `gantry` binary (built once per test run) and `gantry serve` on port 0.
//! - [`in_process`]: `gantry serve` inside the test process, for library-level suites.
//! - [`distribution`]: Debian's `docker-registry` (CNCF Distribution 2.8) on a loopback port.
//! - [`skopeo`]: `skopeo` with a throwaway home, auth file and policy.
//! - [`layout`]: OCI image layouts written and read by the tests.
//! - [`http`]: plain HTTP/1.0 requests, and a walk over everything a registry serves.
//!
//! Every wait is bounded, every process is killed on drop, and nothing listens beyond loopback.

use std::path::PathBuf;

pub mod distribution;
pub mod gantry;
pub mod http;
pub mod in_process;
pub mod layout;
pub mod process;
pub mod skopeo;

/// The workspace root.
pub fn project_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}
