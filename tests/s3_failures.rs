//! `gantry serve` on S3 when the store fails, on a real SeaweedFS: throttling and internal
//! errors are retried with backoff and the push succeeds; an error that lasts longer than the
//! retries is a clean 500 with the OCI error body and leaves nothing visible; a volume server
//! killed mid-upload fails a request cleanly and the upload goes on from its reported offset
//! once the server is back; wrong credentials and a missing bucket stop the server at start,
//! unless it is told to create the bucket.
//!
//! The driver tries a call five times over at most 30 s (`crates/storage/src/driver/s3/connect.rs`);
//! each case here is bounded by that, and says how long it took.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

#[path = "s3_support.rs"]
mod s3_support;

use std::time::{Duration, Instant};

use gantry_reference::Digest;
use gantry_test_support::layout::noise;
use gantry_test_support::process::run_bounded;
use gantry_test_support::proxy::Rule;
use gantry_test_support::s3_relay::{S3Relay, internal_error, slow_down};
use gantry_test_support::seaweed::{S3Server, S3Service, SeaweedCluster};
use object_store::{ObjectStore, ObjectStoreExt};
use reqwest::{Method, StatusCode};
use s3_support::{Answer, Api, Image, mini, serve, sha256};

/// The longest a request failing on the store may take: the driver's retries of one call
/// (30 s at most) and some more calls before it.
const FAILING_REQUEST: Duration = Duration::from_secs(45);

/// How long a server refused at start may take to exit.
const REFUSAL: Duration = Duration::from_secs(20);

/// Pushed in `PATCH`es of this size: more than one S3 part, so parts are sent.
const CHUNK: usize = 6 << 20;

/// Asserts `answer` is a 500 with an OCI error body, naming `what`.
fn assert_clean_500(what: &str, answer: &Answer) {
    assert_eq!(
        answer.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{what}: {}",
        answer.text()
    );
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{what}"
    );
    let body = answer.json();
    let code = body["errors"][0]["code"].as_str();
    assert!(code.is_some_and(|code| !code.is_empty()), "{what}: {body}");
}

/// `XX/HEX`: where blob `content` is kept below `blobs/sha256/`.
fn blob_dir(content: &[u8]) -> String {
    let digest = sha256(content);
    format!("{}/{}", &digest.encoded()[..2], digest.encoded())
}

/// A rule's path made at run time.
fn leak(path: String) -> &'static str {
    Box::leak(path.into_boxed_str())
}

/// `gantry serve` whose S3 requests go through a relay that answers errors.
struct Relayed {
    relay: S3Relay,
    api: Api,
}

impl Relayed {
    /// How many requests whose method and path match `method` and `path` had a fault.
    fn faulted(&self, method: &str, path: &str) -> usize {
        let prefix = format!("{method} ");
        self.relay
            .proxy()
            .applied()
            .iter()
            .filter(|request| request.starts_with(&prefix) && request.contains(path))
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_errors_are_retried_and_one_that_lasts_is_a_clean_500_leaving_nothing_visible() {
    let mini = mini().await;
    let relay = S3Relay::start(mini.endpoint(), vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let gantry = serve(
        &mini.service().at(relay.endpoint()),
        "failures",
        &[],
        &dir.path().join("through-relay"),
    )
    .await;
    let api = Api::new(gantry.addr());
    let relayed = Relayed { relay, api };

    transient_errors_are_retried(&relayed).await;
    a_part_that_failed_is_sent_again_from_the_upload_status(&relayed).await;
    lasting_errors_are_clean_500s(&relayed).await;

    // Nothing of what failed is visible: not through this server (its caches included) nor
    // through a new one reading the bucket straight.
    let fresh = serve(
        mini.service(),
        "failures",
        &[("GANTRY_CATALOG_REFRESH_SECS", "0")],
        &dir.path().join("fresh"),
    )
    .await;
    for (who, api) in [
        ("the same server", &relayed.api),
        ("a fresh server", &Api::new(fresh.addr())),
    ] {
        for (repo, blob) in [("lasting-link", LINKED_LAST), ("lasting-data", DATA_LAST)] {
            let digest = sha256(&noise(blob, BLOB));
            let head = api.blob(Method::HEAD, repo, &digest).await;
            assert_eq!(head.status, StatusCode::NOT_FOUND, "{who}: {repo}");
            let get = api.blob(Method::GET, repo, &digest).await;
            assert_eq!(get.status, StatusCode::NOT_FOUND, "{who}: {repo}");
        }
        assert_eq!(api.catalog().await, ["kept", "parts"], "{who}");
        assert_eq!(api.tags("kept").await, ["v1"], "{who}");
        let by_tag = api.manifest("kept", "v2").await;
        assert_eq!(
            by_tag.status,
            StatusCode::NOT_FOUND,
            "{who}: {}",
            by_tag.text()
        );
    }
    fresh.stop();
    gantry.stop();
    tokio::task::spawn_blocking(move || drop(mini))
        .await
        .unwrap();
}

/// The size of the blobs pushed while errors last.
const BLOB: usize = 100 * 1024;

/// The seeds of the blobs whose push fails on their link, and on the write of their data
/// under their digest.
const LINKED_LAST: u64 = 70;
const DATA_LAST: u64 = 71;

/// The image pushed without errors, but for its tag.
fn untagged() -> Image {
    Image::new(8, &[32 * 1024])
}

/// A few throttling and internal errors on every kind of call: each is retried, and an image
/// is pushed and pulled as if nothing happened.
async fn transient_errors_are_retried(relayed: &Relayed) {
    let transient = [
        Rule::new("PUT", "/failures/", 3, slow_down()),
        Rule::new("POST", "/failures/", 2, internal_error()),
        Rule::new("HEAD", "/failures/", 2, slow_down()),
        Rule::new("GET", "/failures/", 3, internal_error()),
    ];
    let faults: usize = transient.iter().map(|rule| rule.times).sum();
    for rule in transient {
        relayed.relay.add(rule);
    }
    let image = Image::new(7, &[CHUNK + 1024, 64 * 1024]);
    let started = Instant::now();
    relayed.api.push_image("kept", "v1", &image, CHUNK).await;
    relayed
        .api
        .assert_serves("Gantry", "kept", "v1", &image)
        .await;
    let applied = relayed.relay.proxy().applied();
    assert_eq!(applied.len(), faults, "{applied:#?}");
    eprintln!(
        "push and pull with {faults} S3 errors retried: {:.1?}",
        started.elapsed()
    );
    // The blobs of an image tagged later, pushed while nothing fails.
    for blob in untagged().blobs() {
        relayed.api.push_blob("kept", blob).await;
    }
}

/// A part of a chunked upload fails on every try: the `PATCH` is a clean 500, the upload's
/// status still says what was acknowledged, and the client sends the chunk again from there.
async fn a_part_that_failed_is_sent_again_from_the_upload_status(relayed: &Relayed) {
    let api = &relayed.api;
    let blob = noise(72, 2 * CHUNK);
    let digest = sha256(&blob);
    let location = api.start_chunked("parts", &blob[..CHUNK]).await;

    // As many faults as the driver makes tries.
    relayed
        .relay
        .add(Rule::new("PUT", "partNumber=", 5, internal_error()));
    let started = Instant::now();
    let failed = api.patch(&location, CHUNK, &blob[CHUNK..]).await;
    assert_clean_500("a PATCH whose part fails", &failed);
    assert_eq!(relayed.faulted("PUT", "partNumber="), 5);
    eprintln!(
        "a failing part: a clean 500 after {:.1?}",
        started.elapsed()
    );

    assert_eq!(upload_offset(api, &location).await, Some(CHUNK));
    let head = api.blob(Method::HEAD, "parts", &digest).await;
    assert_eq!(head.status, StatusCode::NOT_FOUND, "nothing partial");
    let again = api.patch(&location, CHUNK, &blob[CHUNK..]).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.text());
    let location = again.header("location").unwrap().to_owned();
    let pushed = api.finish(&location, &digest, &[]).await;
    assert_eq!(pushed.status, StatusCode::CREATED, "{}", pushed.text());
    let got = api.blob(Method::GET, "parts", &digest).await;
    assert_eq!(sha256(&got.body), digest);
}

/// Internal errors that outlast the retries, on the last write of a blob push (its link into
/// the repository), on the write of another blob's data under its digest, and on the last
/// write of a manifest push by tag (the tag's current link): each is a clean 500 after the
/// driver's tries of the failing call (one and four retries).
async fn lasting_errors_are_clean_500s(relayed: &Relayed) {
    let (relay, api) = (&relayed.relay, &relayed.api);
    let linked_last = noise(LINKED_LAST, BLOB);
    let data_last = noise(DATA_LAST, BLOB);
    let data_path = leak(format!("/v2/blobs/sha256/{}", blob_dir(&data_last)));
    for (repo, blob, failing) in [
        ("lasting-link", &linked_last, "/lasting-link/_layers/"),
        ("lasting-data", &data_last, data_path),
    ] {
        relay.add(Rule::new("PUT", failing, 1000, internal_error()));
        let started = Instant::now();
        let pushed = api.try_push_blob(repo, blob).await;
        let took = started.elapsed();
        assert_clean_500(repo, &pushed);
        assert!(
            took < FAILING_REQUEST,
            "{repo}: the push failed after {took:?}"
        );
        assert_eq!(relayed.faulted("PUT", failing), 5, "{repo}");
        eprintln!("{repo}: a clean 500 after {took:.1?}");
    }

    let current = "/kept/_manifests/tags/v2/current/";
    relay.add(Rule::new("PUT", current, 1000, internal_error()));
    let started = Instant::now();
    let tagged = api
        .try_put_manifest("kept", "v2", &untagged().manifest)
        .await;
    let took = started.elapsed();
    assert_clean_500("the manifest", &tagged);
    assert!(took < FAILING_REQUEST, "the tag failed after {took:?}");
    eprintln!("a tag: a clean 500 after {took:.1?}");
    assert_eq!(relayed.faulted("PUT", current), 5, "the tag's current link");
}

/// The upload id in an upload's location, `/v2/NAME/blobs/uploads/ID?...`.
fn upload_id(location: &str) -> &str {
    let (_, rest) = location.split_once("/blobs/uploads/").unwrap();
    rest.split(['?', '/']).next().unwrap()
}

/// The offset the next chunk of the upload at `location` starts at, from its status
/// (`Range: 0-LAST`); `None` while the status cannot be read.
async fn upload_offset(api: &Api, location: &str) -> Option<usize> {
    let status = api.get(location).await;
    if status.status != StatusCode::NO_CONTENT {
        return None;
    }
    let range = status.header("range")?;
    let last: usize = range.strip_prefix("0-")?.parse().ok()?;
    Some(last + 1)
}

/// Kills the volume server that holds the state of the unfinished upload at `location`
/// (repository `repo`, prefix `volumes`); which one it was.
fn kill_state_holder(cluster: &mut SeaweedCluster, repo: &str, location: &str) -> usize {
    let state = format!(
        "volumes/docker/registry/v2/repositories/{repo}/_uploads/{}/data~writing",
        upload_id(location)
    );
    let holder = cluster.volume_server_holding(&state);
    cluster.kill_volume_server(holder);
    holder
}

/// Starts volume server `holder` again and waits, at most a minute, until the upload at
/// `location` reports its offset; the cluster back, and that offset.
async fn restart_and_ask(
    mut cluster: SeaweedCluster,
    holder: usize,
    api: &Api,
    location: &str,
) -> (SeaweedCluster, usize) {
    let restarted = Instant::now();
    cluster = tokio::task::spawn_blocking(move || {
        cluster.restart_volume_server(holder);
        cluster
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(offset) = upload_offset(api, location).await {
            eprintln!(
                "the upload's status answered {:.1?} after the restart began: offset {offset}",
                restarted.elapsed()
            );
            return (cluster, offset);
        }
        assert!(
            Instant::now() < deadline,
            "the upload's status still fails a minute after the restart\n{}",
            cluster.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// While the upload at `location` is stuck, its status is a clean 500 or the offset the
/// client last had acknowledged, never another; and the blob is unknown.
async fn assert_nothing_partial(api: &Api, location: &str, acknowledged: usize, digest: &Digest) {
    let status = api.get(location).await;
    if status.status == StatusCode::NO_CONTENT {
        let range = format!("0-{}", acknowledged - 1);
        assert_eq!(
            status.header("range"),
            Some(range.as_str()),
            "the upload's status"
        );
    } else {
        assert_clean_500("the upload's status", &status);
    }
    let head = api.blob(Method::HEAD, "resumed", digest).await;
    assert_eq!(head.status, StatusCode::NOT_FOUND, "nothing partial");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_server_killed_mid_upload_fails_a_request_and_the_upload_resumes_after() {
    let mut cluster = tokio::task::spawn_blocking(SeaweedCluster::start)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gantry = serve(cluster.service(), "volumes", &[], dir.path()).await;
    let api = Api::new(gantry.addr());
    let blob = noise(9, 3 * CHUNK);
    let digest = sha256(&blob);

    let location = api.start_chunked("resumed", &blob[..CHUNK]).await;

    // The volume server holding the upload's state goes: the next PATCH fails cleanly.
    let holder = kill_state_holder(&mut cluster, "resumed", &location);
    let started = Instant::now();
    let failed = api.patch(&location, CHUNK, &blob[CHUNK..2 * CHUNK]).await;
    let took = started.elapsed();
    assert_clean_500("a PATCH with the volume server down", &failed);
    assert!(took < FAILING_REQUEST, "the PATCH failed after {took:?}");
    eprintln!("the PATCH failed cleanly after {took:.1?}");
    assert_nothing_partial(&api, &location, CHUNK, &digest).await;

    // Back again: the client asks where the upload stands and carries on from there.
    let (mut cluster, offset) = restart_and_ask(cluster, holder, &api, &location).await;
    assert_eq!(offset, CHUNK, "the failed PATCH left nothing");
    let rest = api.patch(&location, offset, &blob[offset..]).await;
    assert_eq!(rest.status, StatusCode::ACCEPTED, "{}", rest.text());
    let location = rest.header("location").unwrap().to_owned();

    // Again, before the closing PUT: it fails cleanly, and is retried once the server is
    // back.
    let holder = kill_state_holder(&mut cluster, "resumed", &location);
    let started = Instant::now();
    let failed = api.finish(&location, &digest, &[]).await;
    let took = started.elapsed();
    assert_clean_500("the PUT with the volume server down", &failed);
    assert!(took < FAILING_REQUEST, "the PUT failed after {took:?}");
    eprintln!("the PUT failed cleanly after {took:.1?}");
    assert_nothing_partial(&api, &location, blob.len(), &digest).await;
    let (cluster, offset) = restart_and_ask(cluster, holder, &api, &location).await;
    assert_eq!(offset, blob.len());
    let pushed = api.finish(&location, &digest, &[]).await;
    assert_eq!(pushed.status, StatusCode::CREATED, "{}", pushed.text());
    let got = api.blob(Method::GET, "resumed", &digest).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.header("docker-content-digest"), Some(digest.as_str()));
    assert_eq!(sha256(&got.body), digest);

    gantry.stop();
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}

/// Runs `gantry serve` on `service`'s bucket `bucket` with `env`, expecting it to stop at
/// start; its standard error, and how long it took.
fn refused_at_start(service: &S3Service, env: &[(&str, &str)]) -> (String, Duration) {
    let mut command = s3_support::serve_command(service, "refused", env);
    let started = Instant::now();
    let output = run_bounded(&mut command, REFUSAL);
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "it started: {stdout}{stderr}");
    assert!(!stdout.contains("listening"), "it listened: {stdout}");
    (stderr, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_stop_the_server_at_start_with_a_clear_message() {
    let mini = mini().await;
    let right = mini.service().clone();
    let wrong_secret = S3Service {
        secret_key: format!("{}x", right.secret_key),
        ..right.clone()
    };
    let unknown_key = S3Service {
        access_key: "GANTRYUNKNOWNKEY".to_owned(),
        ..right.clone()
    };
    for (what, service) in [
        ("a wrong secret", wrong_secret),
        ("an unknown key", unknown_key),
    ] {
        let (stderr, took) = tokio::task::spawn_blocking(move || refused_at_start(&service, &[]))
            .await
            .unwrap();
        assert!(
            stderr.contains("refused the credentials") && stderr.contains(&right.bucket),
            "{what}: {stderr}"
        );
        eprintln!("{what}: refused at start in {took:.1?}: {}", stderr.trim());
    }
    tokio::task::spawn_blocking(move || drop(mini))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_stops_the_server_unless_it_may_create_it() {
    let mini = mini().await;
    let missing = S3Service {
        bucket: "made-at-start".to_owned(),
        ..mini.service().clone()
    };
    let service = missing.clone();
    let (stderr, took) = tokio::task::spawn_blocking(move || refused_at_start(&service, &[]))
        .await
        .unwrap();
    assert!(
        stderr.contains("made-at-start") && stderr.contains("does not exist"),
        "{stderr}"
    );
    eprintln!(
        "a missing bucket: refused at start in {took:.1?}: {}",
        stderr.trim()
    );
    let listed = mini
        .service()
        .store("made-at-start")
        .list_with_delimiter(None)
        .await;
    assert!(listed.is_err(), "the bucket exists: {listed:?}");

    let dir = tempfile::tempdir().unwrap();
    let gantry = serve(
        &missing,
        "refused",
        &[("GANTRY_STORAGE_S3_CREATE_BUCKET", "true")],
        dir.path(),
    )
    .await;
    let api = Api::new(gantry.addr());
    let blob = noise(5, 1000);
    api.push_blob("created", &blob).await;
    let got = api.blob(Method::GET, "created", &sha256(&blob)).await;
    assert_eq!(got.body, blob);
    let store = mini.service().store("made-at-start");
    let blob_key = format!(
        "refused/docker/registry/v2/blobs/sha256/{}/data",
        blob_dir(&blob)
    );
    let stored = store.head(&object_store::path::Path::from(blob_key)).await;
    assert_eq!(stored.unwrap().size, 1000);
    gantry.stop();
    tokio::task::spawn_blocking(move || drop(mini))
        .await
        .unwrap();
}
