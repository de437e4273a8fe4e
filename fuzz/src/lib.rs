//! The checks each fuzz target runs, one module per target. The workspace's
//! `tests/fuzz_seed_replay.rs` runs the same checks over the committed seeds.

pub mod authorization_header;
pub mod content_range;
pub mod digest_parse;
pub mod jwt_header;
pub mod manifest_parse;
pub mod range;
pub mod reference_parse;
pub mod route_path;
pub mod upload_state_token;
pub mod www_authenticate;
