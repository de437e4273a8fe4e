//! The checks each fuzz target runs, one module per target. The workspace's
//! `tests/fuzz_seed_replay.rs` runs the same checks over the committed seeds.

pub mod digest_parse;
pub mod manifest_parse;
pub mod reference_parse;
pub mod route_path;
pub mod www_authenticate;
