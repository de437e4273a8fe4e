//! `gantry serve --storage s3://...` against a real SeaweedFS: the access key from an AWS
//! profile file (no `AWS_*` key in the environment), a blob pushed in one request and pulled
//! back, and, with redirects on, pulled from the store by a `307` to a presigned URL (a `Range`
//! too) while `HEAD` stays on the registry.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step panics with what it expected"
)]

use std::process::Command;

use gantry_reference::{Algorithm, Digest};
use gantry_test_support::gantry::{Gantry, gantry_binary};
use gantry_test_support::seaweed::{S3Server, SeaweedMini};

/// `gantry serve` on the mini's bucket, with only a profile file to find the key in.
fn serve(server: &SeaweedMini, home: &std::path::Path, redirect: bool) -> Gantry {
    let mut command = Command::new(gantry_binary());
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--storage"])
        .arg(format!("s3://{}/registry", server.bucket()))
        .args(["--s3-endpoint", server.endpoint()])
        .env_clear()
        .env("HOME", home)
        .env("AWS_PROFILE", "gantry")
        .env(
            "GANTRY_STORAGE_REDIRECT",
            if redirect { "true" } else { "false" },
        );
    Gantry::start_command(
        command,
        &home.join(if redirect { "redirect" } else { "plain" }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_from_a_bucket_with_a_profiles_key_and_redirects_blob_reads() {
    let server = SeaweedMini::start();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".aws")).unwrap();
    std::fs::write(
        home.path().join(".aws/credentials"),
        format!(
            "[gantry]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            server.access_key(),
            server.secret_key()
        ),
    )
    .unwrap();
    std::fs::write(
        home.path().join(".aws/config"),
        "[profile gantry]\nregion = us-east-1\n",
    )
    .unwrap();

    let plain = serve(&server, home.path(), false);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let digest = Digest::of(Algorithm::Sha256, &content);
    let pushed = client
        .post(format!(
            "{}/v2/team/app/blobs/uploads/?digest={digest}",
            plain.url()
        ))
        .header("Content-Type", "application/octet-stream")
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 201, "{}", plain.log());
    let blob = format!("/v2/team/app/blobs/{digest}");
    let pulled = client
        .get(format!("{}{blob}", plain.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(pulled.status(), 200);
    assert!(pulled.bytes().await.unwrap() == content);
    plain.stop();

    let redirecting = serve(&server, home.path(), true);
    let head = client
        .head(format!("{}{blob}", redirecting.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200, "HEAD stays on the registry");
    let answer = client
        .get(format!("{}{blob}", redirecting.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 307);
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(server.endpoint()), "{location}");
    let whole = client.get(&location).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert!(whole.bytes().await.unwrap() == content);
    let range = client
        .get(&location)
        .header("Range", "bytes=1000-1009")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), 206);
    assert!(range.bytes().await.unwrap() == content[1000..1010]);
    redirecting.stop();
}
