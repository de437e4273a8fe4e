//! Helpers shared by the integration tests: reading fixtures.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the helpers"
)]

use std::path::PathBuf;

use bytes::Bytes;

/// The bytes of `tests/fixtures/<name>`.
pub(crate) fn fixture(name: &str) -> Bytes {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Bytes::from(bytes)
}
