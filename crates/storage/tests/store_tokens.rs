//! Upload state tokens: signed with the upload secret, bound to the repository, the upload id
//! and the start time, and refused when forged, altered or presented elsewhere.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod store_support;

use std::time::{Duration, UNIX_EPOCH};

use gantry_storage::RegistryOptions;
use store_support::*;

#[test]
fn tokens_verify_only_where_they_were_issued() {
    let registry = memory_with(options());
    let same_secret = memory_with(options());
    let other_secret = memory_with(RegistryOptions::new().with_upload_secret(b"other".to_vec()));
    let random_secret = memory_with(RegistryOptions::new());
    let started = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let repo = name("team/app");
    let id = "3f2c0b1e-aaaa-4bbb-8ccc-0123456789ab";
    let token = registry.upload_token(&repo, id, started);

    assert_eq!(
        registry.verify_upload_token(&repo, id, &token),
        Some(started)
    );
    assert_eq!(
        same_secret.verify_upload_token(&repo, id, &token),
        Some(started)
    );

    let mut flipped = token.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    let (_, mac) = token.split_once('.').unwrap();
    let later_start = format!("1700000001.{mac}");

    // (verifier, repository, id, token)
    let refused = [
        (&other_secret, repo.clone(), id, token.as_str()),
        (&random_secret, repo.clone(), id, token.as_str()),
        (&registry, name("team/other"), id, token.as_str()),
        (&registry, name("team"), id, token.as_str()),
        (
            &registry,
            repo.clone(),
            "3f2c0b1e-aaaa-4bbb-8ccc-0123456789ac",
            token.as_str(),
        ),
        (&registry, repo.clone(), id, flipped.as_str()),
        (&registry, repo.clone(), id, later_start.as_str()),
        (&registry, repo.clone(), id, ""),
        (&registry, repo.clone(), id, "."),
        (&registry, repo.clone(), id, "1700000000"),
        (&registry, repo.clone(), id, "x.00"),
        (&registry, repo.clone(), id, &token[..token.len() - 2]),
    ];
    for (verifier, repository, upload, presented) in refused {
        assert_eq!(
            verifier.verify_upload_token(&repository, upload, presented),
            None,
            "{repository} {upload} {presented:?}"
        );
    }
}
