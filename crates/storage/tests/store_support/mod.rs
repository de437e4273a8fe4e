//! Helpers shared by the `store_*` tests: registries over each driver, uploads, manifests. They
//! live in the test kit (`gantry_test_support::store`), beside the crash writer that uses them.

#[allow(
    unused_imports,
    reason = "each test file uses a different part of the helpers"
)]
pub(crate) use gantry_test_support::store::*;
