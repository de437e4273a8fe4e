//! Replays every fuzz target's committed seeds (`fuzz/corpus/<target>/`) through the same check
//! the fuzzer runs, so CI catches a regression on any seed without a fuzzing toolchain.

#![allow(clippy::unwrap_used, reason = "a test fails loudly on bad fixtures")]

#[path = "../fuzz/src/lib.rs"]
#[allow(
    unreachable_pub,
    reason = "the fuzz checks are public in the fuzz package"
)]
mod fuzz_checks;

use std::fs;

use gantry_test_support::project_root;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = project_root().join("fuzz/corpus").join(target);
    let mut seeds = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target} fails on seed {}", path.display());
        seeds += 1;
    }
    assert!(seeds > 0, "{target} has no seeds in {}", dir.display());
}

#[test]
fn authorization_header() {
    let check = fuzz_checks::authorization_header::check;
    replay("authorization_header", check);
}

#[test]
fn content_range() {
    replay("content_range", fuzz_checks::content_range::check);
}

#[test]
fn jwt_header() {
    replay("jwt_header", fuzz_checks::jwt_header::check);
}

#[test]
fn range() {
    replay("range", fuzz_checks::range::check);
}

#[test]
fn upload_state_token() {
    replay("upload_state_token", fuzz_checks::upload_state_token::check);
}

#[test]
fn digest_parse() {
    replay("digest_parse", fuzz_checks::digest_parse::check);
}

#[test]
fn manifest_parse() {
    replay("manifest_parse", fuzz_checks::manifest_parse::check);
}

#[test]
fn reference_parse() {
    replay("reference_parse", fuzz_checks::reference_parse::check);
}

#[test]
fn route_path() {
    replay("route_path", fuzz_checks::route_path::check);
}

#[test]
fn www_authenticate() {
    replay("www_authenticate", fuzz_checks::www_authenticate::check);
}

#[test]
fn every_target_is_replayed() {
    let source = include_str!("fuzz_seed_replay.rs");
    for entry in fs::read_dir(project_root().join("fuzz/fuzz_targets")).unwrap() {
        let target = entry.unwrap().path();
        let name = target.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(
            source.contains(&format!("replay(\"{name}\"")),
            "fuzz target {name} has no replay test here"
        );
    }
}
