//! Three `gantry serve` replicas on one bucket of a SeaweedFS cluster (a master, two volume
//! servers, a filer and the S3 gateway, each a process of its own), as a load balancer would
//! use them: an upload whose chunks go to different replicas, the same tag pushed through two
//! replicas at once, the catalog across replicas, a replica killed in the middle of a chunk,
//! and deletes through one replica seen by the others within the link cache's lifetime.
//!
//! Each test runs its own cluster and replicas with 5 MiB parts (S3's smallest, so a few MiB
//! make real multipart uploads), a one-second link cache and a one-second catalog refresh.
//! Every wait is a bounded poll; every process is stopped by PID when its guard drops.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::future::Future;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gantry_reference::{Algorithm, Digest};
use gantry_test_support::gantry::{Gantry, gantry_binary};
use gantry_test_support::layout::noise;
use gantry_test_support::s3_relay::{S3Op, S3Relay};
use gantry_test_support::seaweed::{S3Server, S3Service, SeaweedCluster};
use object_store::ObjectStoreExt;
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};

/// The key prefix the replicas store below (`s3://BUCKET/registry`).
const PREFIX: &str = "registry";

/// Bytes per multipart upload part.
const PART: usize = 5 << 20;

/// `[storage] link_cache_ttl_secs`: how long a replica may answer from a link it read.
const LINK_CACHE_TTL: Duration = Duration::from_secs(1);

/// `catalog_refresh_secs`: how long one walk of the tree serves the catalog.
const CATALOG_REFRESH: Duration = Duration::from_secs(1);

/// What a loaded machine may add to a bound: the request that sees the change, scheduling.
const MARGIN: Duration = Duration::from_secs(2);

/// How often a poll asks again.
const POLL: Duration = Duration::from_millis(50);

/// How many replicas share the bucket.
const REPLICAS: usize = 3;

const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Replicas on one bucket of their own cluster. Fields drop in order: the servers go first.
struct Replicas {
    servers: Vec<Option<Gantry>>,
    http: reqwest::Client,
    relay: Option<S3Relay>,
    cluster: SeaweedCluster,
    _logs: tempfile::TempDir,
}

impl Replicas {
    /// A cluster and [`REPLICAS`] replicas on its default bucket, started at once.
    async fn start() -> Replicas {
        Replicas::start_with_relay(0).await
    }

    /// As [`start`](Replicas::start), the first `through_relay` replicas reaching the bucket
    /// through one [`S3Relay`] that counts their S3 requests.
    async fn start_with_relay(through_relay: usize) -> Replicas {
        let cluster = tokio::task::spawn_blocking(SeaweedCluster::start)
            .await
            .unwrap();
        let relay = match through_relay {
            0 => None,
            _ => Some(S3Relay::start(cluster.endpoint(), vec![]).await),
        };
        let logs = tempfile::tempdir().unwrap();
        let services: Vec<S3Service> = (0..REPLICAS)
            .map(|i| match &relay {
                Some(relay) if i < through_relay => cluster.service().at(relay.endpoint()),
                _ => cluster.service().clone(),
            })
            .collect();
        let dir = logs.path().to_path_buf();
        let servers = tokio::task::spawn_blocking(move || {
            std::thread::scope(|scope| {
                let starting: Vec<_> = services
                    .iter()
                    .enumerate()
                    .map(|(i, service)| {
                        let dir = dir.join(format!("replica-{i}"));
                        scope.spawn(move || Gantry::start_command(serve(service), &dir))
                    })
                    .collect();
                starting
                    .into_iter()
                    .map(|thread| {
                        thread
                            .join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                    })
                    .map(Some)
                    .collect()
            })
        })
        .await
        .unwrap();
        Replicas {
            servers,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            relay,
            cluster,
            _logs: logs,
        }
    }

    /// Replica `i`'s URL.
    fn url(&self, i: usize) -> &str {
        self.servers[i]
            .as_ref()
            .unwrap_or_else(|| panic!("replica {i} was killed"))
            .url()
    }

    /// What every replica has logged, and the cluster's logs.
    fn logs(&self) -> String {
        let replicas: String = self
            .servers
            .iter()
            .enumerate()
            .filter_map(|(i, server)| Some(format!("== replica {i}\n{}\n", server.as_ref()?.log())))
            .collect();
        format!("{replicas}{}", self.cluster.log())
    }

    /// Kills replica `i` with `SIGKILL` and waits until it is gone.
    fn kill(&mut self, i: usize) {
        let server = self.servers[i].take().expect("a running replica");
        let pid = server.id();
        server.stop();
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "replica {i} (process {pid}) still runs"
        );
    }

    /// A request to `path` (or to a `Location` the registry gave) on replica `i`.
    fn request(&self, i: usize, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.url(i)))
    }

    /// Sends `request` and reads the whole answer.
    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("a request failed: {e}\n{}", self.logs()));
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Pushes `content` through replica `i` in one request (`POST ?digest=`); its digest.
    async fn push_blob(&self, i: usize, repo: &str, content: &[u8]) -> Digest {
        let digest = sha256(content);
        let answer = self
            .send(
                self.request(
                    i,
                    Method::POST,
                    &format!("/v2/{repo}/blobs/uploads/?digest={digest}"),
                )
                .body(content.to_vec()),
            )
            .await;
        answer.expect(StatusCode::CREATED, "a monolithic blob upload");
        digest
    }

    /// Pushes manifest `manifest` as `reference` through replica `i`; its digest.
    async fn push_manifest(&self, i: usize, repo: &str, reference: &str, manifest: &Bytes) {
        let answer = self
            .send(
                self.request(i, Method::PUT, &format!("/v2/{repo}/manifests/{reference}"))
                    .header(header::CONTENT_TYPE, OCI_MANIFEST)
                    .body(manifest.clone()),
            )
            .await;
        answer.expect(StatusCode::CREATED, "a manifest push");
        assert_eq!(answer.digest(), Some(sha256(manifest)));
    }

    /// The digest replica `i` serves the manifest `reference` under (checked against the
    /// bytes), or `None` when it answers 404.
    async fn manifest(&self, i: usize, repo: &str, reference: &str) -> Option<Digest> {
        let answer = self
            .send(
                self.request(i, Method::GET, &format!("/v2/{repo}/manifests/{reference}"))
                    .header(header::ACCEPT, OCI_MANIFEST),
            )
            .await;
        match answer.status {
            StatusCode::NOT_FOUND => None,
            StatusCode::OK => {
                let digest = answer.digest().expect("Docker-Content-Digest");
                assert_eq!(sha256(&answer.body), digest, "the manifest's bytes");
                Some(digest)
            }
            other => panic!("GET manifest {reference} on replica {i}: {other}\n{answer:?}"),
        }
    }

    /// The blob replica `i` serves under `digest` (its header and bytes checked against the
    /// digest), or `None` when it answers 404. A HEAD must agree.
    async fn blob(&self, i: usize, repo: &str, digest: &Digest) -> Option<Bytes> {
        let path = format!("/v2/{repo}/blobs/{digest}");
        let answer = self.send(self.request(i, Method::GET, &path)).await;
        let head = self.send(self.request(i, Method::HEAD, &path)).await;
        match answer.status {
            StatusCode::NOT_FOUND => {
                // A HEAD after the GET may only have caught up with a change, never gone back.
                assert_eq!(head.status, StatusCode::NOT_FOUND, "HEAD after a 404 GET");
                None
            }
            StatusCode::OK => {
                assert_eq!(answer.digest().as_ref(), Some(digest), "{answer:?}");
                assert_eq!(&sha256(&answer.body), digest, "the blob's bytes");
                Some(answer.body)
            }
            other => panic!("GET blob {digest} on replica {i}: {other}\n{answer:?}"),
        }
    }

    /// The repositories in replica `i`'s catalog.
    async fn catalog(&self, i: usize) -> Vec<String> {
        let answer = self
            .send(self.request(i, Method::GET, "/v2/_catalog"))
            .await;
        answer.expect(StatusCode::OK, "the catalog");
        names(&answer.body, "repositories")
    }

    /// The tags replica `i` lists for `repo` (none when the repository is unknown).
    async fn tags(&self, i: usize, repo: &str) -> Vec<String> {
        let answer = self
            .send(self.request(i, Method::GET, &format!("/v2/{repo}/tags/list")))
            .await;
        match answer.status {
            StatusCode::NOT_FOUND => Vec::new(),
            _ => {
                answer.expect(StatusCode::OK, "the tag list");
                names(&answer.body, "tags")
            }
        }
    }

    /// The digest the bucket's own `current/link` of `tag` holds.
    async fn tag_in_bucket(&self, repo: &str, tag: &str) -> Digest {
        let key = format!(
            "{PREFIX}/docker/registry/v2/repositories/{repo}/_manifests/tags/{tag}/current/link"
        );
        let bytes = self
            .cluster
            .store()
            .get(&object_store::path::Path::parse(key).unwrap())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        Digest::parse(std::str::from_utf8(&bytes).unwrap()).unwrap()
    }
}

/// `gantry serve` on a loopback port over `service`'s default bucket, deleting allowed, with a
/// clean environment but for the AWS key and the settings the tests bound their waits with.
fn serve(service: &S3Service) -> Command {
    let mut command = Command::new(gantry_binary());
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--allow-delete"])
        .arg("--storage")
        .arg(format!("s3://{}/{PREFIX}", service.bucket))
        .arg("--s3-endpoint")
        .arg(&service.endpoint)
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", &service.access_key)
        .env("AWS_SECRET_ACCESS_KEY", &service.secret_key)
        .env(
            "GANTRY_STORAGE_LINK_CACHE_TTL_SECS",
            LINK_CACHE_TTL.as_secs().to_string(),
        )
        .env(
            "GANTRY_CATALOG_REFRESH_SECS",
            CATALOG_REFRESH.as_secs().to_string(),
        )
        .env("GANTRY_STORAGE_S3_PART_SIZE", PART.to_string());
    command
}

/// A whole HTTP answer.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn expect(&self, status: StatusCode, what: &str) {
        assert_eq!(self.status, status, "{what}: {self:?}");
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    fn digest(&self) -> Option<Digest> {
        self.header(DOCKER_CONTENT_DIGEST)
            .map(|value| Digest::parse(value).unwrap())
    }

    /// The upload's `Location`, a path on any replica.
    fn location(&self) -> String {
        self.header("location").expect("Location").to_owned()
    }

    /// The upload's size, from `Range: 0-LAST`.
    fn upload_size(&self) -> u64 {
        let range = self.header("range").expect("Range");
        let last: u64 = range
            .strip_prefix("0-")
            .and_then(|last| last.parse().ok())
            .unwrap_or_else(|| panic!("Range {range:?}"));
        last + 1
    }
}

fn sha256(bytes: &[u8]) -> Digest {
    Digest::of(Algorithm::Sha256, bytes)
}

/// The strings of the array `field` of a JSON document.
fn names(body: &[u8], field: &str) -> Vec<String> {
    let document: serde_json::Value = serde_json::from_slice(body).unwrap();
    document[field]
        .as_array()
        .map(|names| {
            names
                .iter()
                .map(|name| name.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// An OCI image manifest of `config` and `layer`, told apart from others by `note`.
fn image_manifest(config: (&Digest, usize), layer: (&Digest, usize), note: &str) -> Bytes {
    let descriptor = |media_type: &str, (digest, size): (&Digest, usize)| serde_json::json!({"mediaType": media_type, "digest": digest.to_string(), "size": size});
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", layer)],
        "annotations": {"note": note},
    });
    Bytes::from(serde_json::to_vec(&manifest).unwrap())
}

/// Asks `probe` every [`POLL`] until it answers `Some`, failing the test once `bound` has
/// passed since `since`; the answer and when it came, after `since`.
async fn within<T, F, Fut>(
    what: &str,
    since: Instant,
    bound: Duration,
    mut probe: F,
) -> (T, Duration)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    loop {
        if let Some(answer) = probe().await {
            return (answer, since.elapsed());
        }
        assert!(
            since.elapsed() <= bound,
            "{what}: not seen within {bound:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// A small image in `repo`, pushed through replica `i`: the config's and the layer's
/// descriptors, for manifests.
async fn push_image_blobs(
    replicas: &Replicas,
    i: usize,
    repo: &str,
) -> ((Digest, usize), (Digest, usize)) {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layer = noise(7, 64 << 10);
    let config_digest = replicas.push_blob(i, repo, config).await;
    let layer_digest = replicas.push_blob(i, repo, &layer).await;
    ((config_digest, config.len()), (layer_digest, layer.len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_chunked_through_two_replicas_commits_on_a_third() {
    let replicas = Replicas::start_with_relay(REPLICAS).await;
    let repo = "moving/upload";
    // Chunks of 3 MiB, 3.5 MiB and 3 MiB, then the last 1.5 MiB with the PUT: the first
    // 5 MiB part leaves replica B, the rest leaves C when it commits.
    let data = noise(1, (11 << 20) + 12_345);
    let digest = sha256(&data);
    let cuts = [0, 3 << 20, (13 << 20) / 2, (19 << 20) / 2, data.len()];
    let through = [0, 1, 0];

    let started = replicas
        .send(replicas.request(0, Method::POST, &format!("/v2/{repo}/blobs/uploads/")))
        .await;
    started.expect(StatusCode::ACCEPTED, "POST on replica A");
    let mut location = started.location();
    for (n, &replica) in through.iter().enumerate() {
        let chunk = &data[cuts[n]..cuts[n + 1]];
        let answer = replicas
            .send(
                replicas
                    .request(replica, Method::PATCH, &location)
                    .header(
                        header::CONTENT_RANGE,
                        format!("{}-{}", cuts[n], cuts[n + 1] - 1),
                    )
                    .header(header::CONTENT_TYPE, "application/octet-stream")
                    .body(chunk.to_vec()),
            )
            .await;
        answer.expect(
            StatusCode::ACCEPTED,
            &format!("PATCH {n} on replica {replica}"),
        );
        assert_eq!(answer.upload_size(), cuts[n + 1] as u64);
        location = answer.location();
    }

    // The bytes really went to S3 as parts, all of one multipart upload.
    let relay = replicas.relay.as_ref().expect("the replicas' relay");
    assert_eq!(relay.count(S3Op::CreateMultipartUpload), 1);
    assert!(relay.count(S3Op::UploadPart) >= 1, "{:?}", relay.counts());

    // Every replica reports the same progress, and nothing is under the digest yet.
    for i in 0..REPLICAS {
        let status = replicas
            .send(replicas.request(i, Method::GET, &location))
            .await;
        status.expect(StatusCode::NO_CONTENT, &format!("status on replica {i}"));
        assert_eq!(status.upload_size(), cuts[3] as u64);
        assert_eq!(replicas.blob(i, repo, &digest).await, None);
    }

    let put = replicas
        .send(
            replicas
                .request(2, Method::PUT, &format!("{location}&digest={digest}"))
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(data[cuts[3]..].to_vec()),
        )
        .await;
    put.expect(StatusCode::CREATED, "PUT on replica C");
    assert_eq!(put.digest(), Some(digest.clone()));
    // One multipart upload carried by three processes, completed once.
    let counts = relay.counts();
    assert_eq!(
        counts.get(&S3Op::CreateMultipartUpload),
        Some(&1),
        "{counts:?}"
    );
    assert_eq!(
        counts.get(&S3Op::CompleteMultipartUpload),
        Some(&1),
        "{counts:?}"
    );
    assert_eq!(counts.get(&S3Op::AbortMultipartUpload), None, "{counts:?}");
    assert!(counts.get(&S3Op::UploadPart) >= Some(&2), "{counts:?}");

    for i in 0..REPLICAS {
        let served = replicas.blob(i, repo, &digest).await;
        assert!(
            served.as_deref() == Some(&data[..]),
            "replica {i} serves the blob"
        );
    }
    // The session is gone everywhere.
    let gone = replicas
        .send(replicas.request(1, Method::GET, &location))
        .await;
    gone.expect(StatusCode::NOT_FOUND, "the committed session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_agree_on_a_tag_pushed_through_two_at_once_and_share_the_catalog() {
    let replicas = Replicas::start().await;

    // Each replica walks the (empty) tree once, so its catalog is cached when the
    // repositories appear through the others.
    for i in 0..REPLICAS {
        assert_eq!(replicas.catalog(i).await, Vec::<String>::new());
    }
    let made: Vec<String> = (0..REPLICAS).map(|i| format!("made-by-{i}/app")).collect();
    for (i, repo) in made.iter().enumerate() {
        replicas.push_blob(i, repo, b"a blob").await;
        assert!(
            replicas.catalog(i).await.contains(repo),
            "replica {i} lists what it created at once"
        );
    }
    let created = Instant::now();
    let (shared, made) = (&replicas, &made);
    for i in 0..REPLICAS {
        let (_, seen) = within(
            &format!("the other replicas' repositories in replica {i}'s catalog"),
            created,
            CATALOG_REFRESH + MARGIN,
            move || async move {
                let catalog = shared.catalog(i).await;
                made.iter().all(|repo| catalog.contains(repo)).then_some(())
            },
        )
        .await;
        eprintln!("replica {i} listed every repository {seen:?} after the last was created");
    }

    let repo = "race/app";
    let (config, layer) = push_image_blobs(&replicas, 0, repo).await;
    for round in 0..3 {
        let ours = image_manifest(
            (&config.0, config.1),
            (&layer.0, layer.1),
            &format!("a{round}"),
        );
        let theirs = image_manifest(
            (&config.0, config.1),
            (&layer.0, layer.1),
            &format!("b{round}"),
        );
        tokio::join!(
            replicas.push_manifest(0, repo, "latest", &ours),
            replicas.push_manifest(1, repo, "latest", &theirs),
        );
        let pushed = Instant::now();
        let candidates = [sha256(&ours), sha256(&theirs)];
        let (agreed, after) = within(
            "one answer for the tag on every replica",
            pushed,
            LINK_CACHE_TTL + MARGIN,
            move || async move {
                let mut answers = Vec::new();
                for i in 0..REPLICAS {
                    answers.push(shared.manifest(i, repo, "latest").await);
                }
                let first = answers[0].clone()?;
                answers
                    .iter()
                    .all(|answer| answer.as_ref() == Some(&first))
                    .then_some(first)
            },
        )
        .await;
        eprintln!("round {round}: replicas agreed on {agreed} {after:?} after the pushes");
        assert!(
            candidates.contains(&agreed),
            "{agreed} is one of the pushes"
        );
        assert_eq!(agreed, replicas.tag_in_bucket(repo, "latest").await);
        // Both pushes stored their manifest; the answer stays.
        for i in 0..REPLICAS {
            for candidate in &candidates {
                let by_digest = replicas.manifest(i, repo, candidate.as_str()).await;
                assert_eq!(by_digest.as_ref(), Some(candidate));
            }
            assert_eq!(
                replicas.manifest(i, repo, "latest").await,
                Some(agreed.clone())
            );
            assert_eq!(replicas.tags(i, repo).await, ["latest"]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_carries_on_from_its_reported_offset_after_its_replica_is_killed() {
    let mut replicas = Replicas::start_with_relay(1).await;
    let repo = "crash/upload";
    let data = noise(3, (12 << 20) + 4_321);
    let digest = sha256(&data);
    let first = 3 << 20;

    let started = replicas
        .send(replicas.request(0, Method::POST, &format!("/v2/{repo}/blobs/uploads/")))
        .await;
    started.expect(StatusCode::ACCEPTED, "POST on replica A");
    let answer = replicas
        .send(
            replicas
                .request(0, Method::PATCH, &started.location())
                .header(header::CONTENT_RANGE, format!("0-{}", first - 1))
                .body(data[..first].to_vec()),
        )
        .await;
    answer.expect(StatusCode::ACCEPTED, "the first PATCH on replica A");
    let location = answer.location();

    // The next chunk streams from a channel; replica A is killed once it has begun sending
    // parts to S3 (its relay saw an UploadPart), the body still open.
    let (feed, chunks) = tokio::sync::mpsc::channel::<Bytes>(1);
    let body = futures_util::stream::unfold(chunks, |mut chunks| async move {
        let chunk = chunks.recv().await?;
        Some((Ok::<_, std::io::Error>(chunk), chunks))
    });
    let patch = tokio::spawn(
        replicas
            .request(0, Method::PATCH, &location)
            .body(reqwest::Body::wrap_stream(body))
            .send(),
    );
    let mut sent = first;
    {
        let relay = replicas.relay.as_ref().expect("replica A's relay");
        let deadline = Instant::now() + Duration::from_secs(30);
        while relay.count(S3Op::UploadPart) == 0 {
            assert!(
                Instant::now() < deadline,
                "replica A sent no part after {sent} bytes\n{}",
                replicas.logs()
            );
            if sent < data.len() {
                let end = (sent + (256 << 10)).min(data.len());
                let chunk = Bytes::copy_from_slice(&data[sent..end]);
                tokio::time::timeout(Duration::from_secs(10), feed.send(chunk))
                    .await
                    .expect("replica A reads the body")
                    .expect("the request is still sending");
                sent = end;
            } else {
                tokio::time::sleep(POLL).await;
            }
        }
    }
    replicas.kill(0);
    drop(feed);
    match patch.await.unwrap() {
        Err(_) => {}
        Ok(answer) => panic!("the PATCH cut by the kill was answered: {answer:?}"),
    }

    // Another replica says where the upload stands: at least what A acknowledged, at most
    // what was sent. Nothing is under the digest.
    let status = replicas
        .send(replicas.request(1, Method::GET, &location))
        .await;
    status.expect(StatusCode::NO_CONTENT, "the upload's status on replica B");
    let offset = usize::try_from(status.upload_size()).unwrap();
    assert!(
        (first..=sent).contains(&offset),
        "offset {offset}: acknowledged {first}, sent {sent}"
    );
    eprintln!("killed after sending {sent} bytes; the upload stands at {offset}");
    for i in 1..REPLICAS {
        assert_eq!(replicas.blob(i, repo, &digest).await, None);
    }

    // The client carries on from there on B, and commits on C.
    let middle = offset + (4 << 20);
    let answer = replicas
        .send(
            replicas
                .request(1, Method::PATCH, &status.location())
                .header(header::CONTENT_RANGE, format!("{offset}-{}", middle - 1))
                .body(data[offset..middle].to_vec()),
        )
        .await;
    answer.expect(StatusCode::ACCEPTED, "the PATCH carrying on on replica B");
    assert_eq!(answer.upload_size(), middle as u64);
    for i in 1..REPLICAS {
        assert_eq!(replicas.blob(i, repo, &digest).await, None);
    }
    let put = replicas
        .send(
            replicas
                .request(
                    2,
                    Method::PUT,
                    &format!("{}&digest={digest}", answer.location()),
                )
                .body(data[middle..].to_vec()),
        )
        .await;
    put.expect(StatusCode::CREATED, "PUT on replica C");
    assert_eq!(put.digest(), Some(digest.clone()));
    for i in 1..REPLICAS {
        let served = replicas.blob(i, repo, &digest).await;
        assert!(
            served.as_deref() == Some(&data[..]),
            "replica {i} serves the blob"
        );
    }
}

/// Checks `probe` holds for `period`, asking every few polls.
async fn stays<F, Fut>(what: &str, period: Duration, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let end = Instant::now() + period;
    while Instant::now() < end {
        assert!(probe().await, "{what}");
        tokio::time::sleep(POLL * 4).await;
    }
}

/// Sends `DELETE path` to replica 0, then checks that every replica stops serving `what`
/// (`gone(i)` holds) within the link cache's lifetime and the margin (replica 0 at once, the
/// others once what they read before has expired), and that `settled(i)` (it is gone, and
/// what was not deleted stays) holds for another lifetime.
async fn delete_through_one<G, GoneFut, S, SettledFut>(
    replicas: &Replicas,
    path: &str,
    what: &str,
    gone: G,
    settled: S,
) where
    G: Fn(usize) -> GoneFut,
    GoneFut: Future<Output = bool>,
    S: Fn(usize) -> SettledFut,
    SettledFut: Future<Output = bool>,
{
    let answer = replicas
        .send(replicas.request(0, Method::DELETE, path))
        .await;
    answer.expect(StatusCode::ACCEPTED, &format!("DELETE of {what}"));
    let deleted = Instant::now();
    let (gone, settled) = (&gone, &settled);
    for i in 0..REPLICAS {
        let (_, after) = within(
            &format!("{what} gone from replica {i}"),
            deleted,
            LINK_CACHE_TTL + MARGIN,
            move || async move { gone(i).await.then_some(()) },
        )
        .await;
        eprintln!("replica {i} stopped serving {what} {after:?} after the delete");
    }
    for i in 0..REPLICAS {
        stays(
            &format!("{what} stays gone from replica {i}, and the rest stays"),
            LINK_CACHE_TTL,
            move || settled(i),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_through_one_replica_reach_the_others_within_the_link_cache_lifetime() {
    let replicas = Replicas::start().await;
    let shared = &replicas;
    let repo = "deleting/app";
    let (config, layer) = push_image_blobs(&replicas, 0, repo).await;
    let kept = image_manifest((&config.0, config.1), (&layer.0, layer.1), "kept");
    let doomed = image_manifest((&config.0, config.1), (&layer.0, layer.1), "doomed");
    let (kept_id, doomed_id) = (sha256(&kept), sha256(&doomed));
    let (kept_digest, doomed_digest, layer_digest) = (&kept_id, &doomed_id, &layer.0);
    replicas.push_manifest(0, repo, "kept", &kept).await;
    replicas.push_manifest(0, repo, "v1", &doomed).await;
    replicas.push_manifest(0, repo, "v2", &doomed).await;

    // What each other replica reads just before a delete is in its link cache.
    let prime = || async {
        for i in [1, 2] {
            for reference in ["kept", "v1", "v2", doomed_digest.as_str()] {
                shared.manifest(i, repo, reference).await;
            }
            shared.blob(i, repo, layer_digest).await;
        }
    };
    prime().await;
    for i in 0..REPLICAS {
        assert_eq!(replicas.tags(i, repo).await, ["kept", "v1", "v2"]);
        assert_eq!(
            replicas.manifest(i, repo, "v2").await.as_ref(),
            Some(doomed_digest)
        );
    }

    delete_through_one(
        shared,
        &format!("/v2/{repo}/manifests/v2"),
        "tag v2",
        |i| async move { shared.manifest(i, repo, "v2").await.is_none() },
        |i| async move {
            shared.manifest(i, repo, "v2").await.is_none()
                && shared.tags(i, repo).await == ["kept", "v1"]
                && shared.manifest(i, repo, "v1").await.as_ref() == Some(doomed_digest)
        },
    )
    .await;

    prime().await;
    let doomed_is_gone = |i| async move {
        shared
            .manifest(i, repo, doomed_digest.as_str())
            .await
            .is_none()
            && shared.manifest(i, repo, "v1").await.is_none()
    };
    delete_through_one(
        shared,
        &format!("/v2/{repo}/manifests/{doomed_digest}"),
        "a manifest and its tag",
        doomed_is_gone,
        |i| async move {
            doomed_is_gone(i).await
                && shared.tags(i, repo).await == ["kept"]
                && shared.manifest(i, repo, "kept").await.as_ref() == Some(kept_digest)
        },
    )
    .await;

    // A manifest deleted through a replica whose link cache still holds where a tag pointed
    // before another replica moved it onto that manifest: the tag goes with the manifest.
    let moved_from = image_manifest((&config.0, config.1), (&layer.0, layer.1), "moved from");
    let moved_to = image_manifest((&config.0, config.1), (&layer.0, layer.1), "moved to");
    let moved_to_id = sha256(&moved_to);
    replicas.push_manifest(0, repo, "moving", &moved_from).await;
    replicas.push_manifest(1, repo, "moving", &moved_to).await;
    let moving_is_gone = |i| async move {
        shared.manifest(i, repo, "moving").await.is_none()
            && !shared.tags(i, repo).await.iter().any(|tag| tag == "moving")
    };
    delete_through_one(
        shared,
        &format!("/v2/{repo}/manifests/{moved_to_id}"),
        "a manifest a tag was just moved onto, and the tag",
        moving_is_gone,
        moving_is_gone,
    )
    .await;

    prime().await;
    let blob_is_gone = |i| async move { shared.blob(i, repo, layer_digest).await.is_none() };
    delete_through_one(
        shared,
        &format!("/v2/{repo}/blobs/{layer_digest}"),
        "an unlinked blob",
        blob_is_gone,
        blob_is_gone,
    )
    .await;
}
