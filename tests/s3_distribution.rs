//! The bucket layout is Distribution's: Debian's `docker-registry` (Distribution 2.8.2) with its
//! `s3` driver on the same bucket and `rootdirectory` serves what `gantry serve` wrote there,
//! and `gantry serve` serves what Distribution wrote, chunked uploads included, and lists its
//! repository and tags; on a real SeaweedFS.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

#[path = "s3_support.rs"]
mod s3_support;

use std::time::Instant;

use gantry_test_support::distribution::Distribution;
use gantry_test_support::seaweed::S3Server;
use s3_support::{Api, Image};

/// The key prefix both registries use.
const PREFIX: &str = "shared";

/// Pushed in `PATCH`es of this size: more than S3's smallest part, so each registry's
/// multipart path is taken, and the last chunk shorter.
const CHUNK: usize = 6 << 20;

/// Pushes `image` to `repo:tag` through `writer`, its layers of [`CHUNK`] bytes or more in
/// chunks, and checks that `reader`, named `who`, serves it.
async fn hand_over(
    writer: &Api,
    (who, reader): (&str, &Api),
    repo: &str,
    tag: &str,
    image: &Image,
) {
    writer.push_image(repo, tag, image, CHUNK).await;
    reader.assert_serves(who, repo, tag, image).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gantry_and_distribution_serve_what_the_other_wrote_to_one_bucket() {
    let started = Instant::now();
    let mini = s3_support::mini().await;
    let service = mini.service().clone();
    let dir = tempfile::tempdir().unwrap();
    // The catalog walks the bucket for every page, so what Distribution writes later shows at
    // once.
    let gantry = s3_support::serve(
        &service,
        PREFIX,
        &[("GANTRY_CATALOG_REFRESH_SECS", "0")],
        &dir.path().join("gantry"),
    )
    .await;
    let storage = service.distribution_storage(&format!("/{PREFIX}"), false);
    let peer_dir = dir.path().join("distribution");
    let peer = tokio::task::spawn_blocking(move || Distribution::start_s3(&storage, &peer_dir))
        .await
        .unwrap();
    let through_gantry = Api::new(gantry.addr());
    let through_peer = Api::new(peer.addr());

    // Gantry writes; Distribution reads. One layer goes in chunks (a multipart upload kept
    // across requests), the other whole.
    let pushed_by_gantry = Image::new(1, &[CHUNK + CHUNK / 2, 300 * 1024]);
    hand_over(
        &through_gantry,
        ("Distribution", &through_peer),
        "from/gantry",
        "v1",
        &pushed_by_gantry,
    )
    .await;
    let by_digest = through_peer
        .manifest("from/gantry", pushed_by_gantry.digest().as_str())
        .await;
    assert_eq!(by_digest.status, 200, "{}", by_digest.text());
    assert_eq!(through_peer.tags("from/gantry").await, ["v1"]);

    // Distribution writes; Gantry reads, lists the repository and its tag.
    let pushed_by_peer = Image::new(2, &[2 * CHUNK + 1000, 200 * 1024]);
    hand_over(
        &through_peer,
        ("Gantry", &through_gantry),
        "from/distribution",
        "latest",
        &pushed_by_peer,
    )
    .await;
    assert_eq!(through_gantry.tags("from/distribution").await, ["latest"]);
    assert_eq!(
        through_gantry.catalog().await,
        ["from/distribution", "from/gantry"],
        "{}",
        gantry.log()
    );
    // And each still serves its own.
    through_gantry
        .assert_serves("Gantry", "from/gantry", "v1", &pushed_by_gantry)
        .await;
    through_peer
        .assert_serves(
            "Distribution",
            "from/distribution",
            "latest",
            &pushed_by_peer,
        )
        .await;
    assert_eq!(
        through_peer.catalog().await,
        ["from/distribution", "from/gantry"]
    );

    eprintln!("both ways on one bucket in {:.1?}", started.elapsed());
    gantry.stop();
    peer.stop();
    tokio::task::spawn_blocking(move || drop(mini))
        .await
        .unwrap();
}
