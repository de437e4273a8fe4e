//! Bad input gets the right OCI error, nothing partial becomes visible, and the server keeps
//! serving.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use std::time::Duration;

use gantry_reference::{Algorithm, Digest};
use support::{TestServer, error_code, header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// One request and what must come back.
struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    code: Option<&'static str>,
}

fn case(
    what: &'static str,
    method: &'static str,
    path: impl Into<String>,
    status: u16,
    code: Option<&'static str>,
) -> Case {
    Case {
        what,
        method,
        path: path.into(),
        headers: Vec::new(),
        body: Vec::new(),
        status,
        code,
    }
}

impl Case {
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Case {
        self.headers.push((name, value.into()));
        self
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Case {
        self.body = body.into();
        self
    }
}

async fn run(server: &TestServer, case: Case) {
    let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
    let mut request = server
        .client
        .request(method, server.at(&case.path))
        .body(case.body);
    for (name, value) in case.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let code = error_code(response).await;
    assert_eq!(
        (status, code.as_deref()),
        (case.status, case.code),
        "{}: {} {}",
        case.what,
        case.method,
        case.path
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_oci_errors() {
    let server = TestServer::start_with(|config| config.max_manifest_size = 64 * 1024).await;
    let (manifest, manifest_digest) = server.push_image("team/app", "v1", b"layer").await;
    let blob = Digest::of(Algorithm::Sha256, b"layer");
    let missing = Digest::of(Algorithm::Sha256, b"never pushed");
    let hex = "a".repeat(64);
    let session = server.post("/v2/team/app/blobs/uploads/").await;
    let location = header(&session, "location").unwrap();
    let (session_path, token) = location.split_once("?_state=").unwrap();
    let huge_manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{blob}","size":5}},"layers":[],"annotations":{{"pad":"{}"}}}}"#,
        "x".repeat(70 * 1024)
    );
    let missing_blob_manifest = String::from_utf8(manifest.clone())
        .unwrap()
        .replace(blob.as_str(), missing.as_str());

    let cases = vec![
        // Names and paths.
        case(
            "upper-case name",
            "GET",
            "/v2/Team/App/tags/list",
            400,
            Some("NAME_INVALID"),
        ),
        case(
            "encoded slash",
            "GET",
            "/v2/team%2fapp/tags/list",
            400,
            Some("NAME_INVALID"),
        ),
        case(
            "name too long",
            "GET",
            format!("/v2/{}/tags/list", "a".repeat(256)),
            400,
            Some("NAME_INVALID"),
        ),
        case(
            "unknown repository",
            "GET",
            "/v2/nobody/tags/list",
            404,
            Some("NAME_UNKNOWN"),
        ),
        case(
            "no such endpoint",
            "GET",
            "/v2/team/app/whatever",
            404,
            None,
        ),
        case("outside the API", "GET", "/etc/passwd", 404, None),
        case(
            "method not allowed",
            "POST",
            "/v2/team/app/tags/list",
            405,
            Some("UNSUPPORTED"),
        ),
        // Digests.
        case(
            "short digest",
            "GET",
            "/v2/team/app/blobs/sha256:abc",
            400,
            Some("DIGEST_INVALID"),
        ),
        case(
            "upper-case digest",
            "GET",
            format!("/v2/team/app/blobs/sha256:{}", hex.to_uppercase()),
            400,
            Some("DIGEST_INVALID"),
        ),
        case(
            "unsupported algorithm",
            "GET",
            format!("/v2/team/app/blobs/sha384:{}", "a".repeat(96)),
            400,
            Some("DIGEST_INVALID"),
        ),
        case(
            "no algorithm",
            "GET",
            format!("/v2/team/app/blobs/{hex}"),
            400,
            Some("DIGEST_INVALID"),
        ),
        case(
            "malformed manifest digest",
            "GET",
            "/v2/team/app/manifests/sha256:zz",
            400,
            Some("DIGEST_INVALID"),
        ),
        case(
            "invalid tag",
            "GET",
            "/v2/team/app/manifests/.hidden",
            400,
            Some("MANIFEST_INVALID"),
        ),
        case(
            "unknown blob",
            "GET",
            format!("/v2/team/app/blobs/{missing}"),
            404,
            Some("BLOB_UNKNOWN"),
        ),
        case(
            "unknown manifest",
            "GET",
            "/v2/team/app/manifests/v9",
            404,
            Some("MANIFEST_UNKNOWN"),
        ),
        case(
            "digest query malformed",
            "POST",
            "/v2/team/app/blobs/uploads/?digest=sha256:abc",
            400,
            Some("DIGEST_INVALID"),
        )
        .body("x"),
        case(
            "digest mismatch on single POST",
            "POST",
            format!("/v2/team/app/blobs/uploads/?digest={missing}"),
            400,
            Some("DIGEST_INVALID"),
        )
        .body("not it"),
        case(
            "unknown digest algorithm",
            "POST",
            "/v2/team/app/blobs/uploads/?digest-algorithm=md5",
            400,
            Some("DIGEST_INVALID"),
        ),
        case(
            "mount digest malformed",
            "POST",
            "/v2/team/app/blobs/uploads/?mount=nope&from=team/app",
            400,
            Some("DIGEST_INVALID"),
        ),
        case(
            "mount from invalid name",
            "POST",
            format!("/v2/team/app/blobs/uploads/?mount={blob}&from=..%2Fx"),
            400,
            Some("NAME_INVALID"),
        ),
        // Upload sessions.
        case(
            "unknown upload id",
            "GET",
            "/v2/team/app/blobs/uploads/00000000-0000-4000-8000-000000000000?_state=1.00",
            404,
            Some("BLOB_UPLOAD_UNKNOWN"),
        ),
        case(
            "no state token",
            "GET",
            session_path.to_owned(),
            404,
            Some("BLOB_UPLOAD_UNKNOWN"),
        ),
        case(
            "forged state token",
            "GET",
            format!("{session_path}?_state=1700000000.{}", "0".repeat(64)),
            404,
            Some("BLOB_UPLOAD_UNKNOWN"),
        ),
        case(
            "token for another repository",
            "GET",
            format!(
                "{}?_state={token}",
                session_path.replace("team/app", "team/other")
            ),
            404,
            Some("BLOB_UPLOAD_UNKNOWN"),
        ),
        case(
            "chunk out of order",
            "PATCH",
            location.clone(),
            416,
            Some("BLOB_UPLOAD_INVALID"),
        )
        .header("content-range", "5-9")
        .body("12345"),
        case(
            "unreadable Content-Range",
            "PATCH",
            location.clone(),
            416,
            Some("BLOB_UPLOAD_INVALID"),
        )
        .header("content-range", "bytes=zero")
        .body("1"),
        case(
            "Content-Length disagrees with Content-Range",
            "PATCH",
            location.clone(),
            400,
            Some("BLOB_UPLOAD_INVALID"),
        )
        .header("content-range", "0-9")
        .body("12345"),
        case(
            "PUT without digest",
            "PUT",
            location.clone(),
            400,
            Some("DIGEST_INVALID"),
        ),
        // Manifests.
        case(
            "invalid JSON",
            "PUT",
            "/v2/team/app/manifests/bad",
            400,
            Some("MANIFEST_INVALID"),
        )
        .header("content-type", OCI_MANIFEST)
        .body("{not json"),
        case(
            "schema 1",
            "PUT",
            "/v2/team/app/manifests/old",
            400,
            Some("MANIFEST_INVALID"),
        )
        .header(
            "content-type",
            "application/vnd.docker.distribution.manifest.v1+json",
        )
        .body(r#"{"schemaVersion":1,"name":"team/app","tag":"old","fsLayers":[]}"#),
        case(
            "content type disagrees",
            "PUT",
            "/v2/team/app/manifests/mixed",
            400,
            Some("MANIFEST_INVALID"),
        )
        .header("content-type", "application/vnd.oci.image.index.v1+json")
        .body(manifest.clone()),
        case(
            "missing blob",
            "PUT",
            "/v2/team/app/manifests/missing",
            400,
            Some("MANIFEST_BLOB_UNKNOWN"),
        )
        .header("content-type", OCI_MANIFEST)
        .body(missing_blob_manifest),
        case(
            "too large",
            "PUT",
            "/v2/team/app/manifests/huge",
            413,
            Some("SIZE_INVALID"),
        )
        .header("content-type", OCI_MANIFEST)
        .body(huge_manifest),
        case(
            "digest in URL disagrees",
            "PUT",
            format!("/v2/team/app/manifests/{missing}"),
            400,
            Some("DIGEST_INVALID"),
        )
        .header("content-type", OCI_MANIFEST)
        .body(manifest.clone()),
        case(
            "invalid ?tag=",
            "PUT",
            format!("/v2/team/app/manifests/{manifest_digest}?tag=.bad"),
            400,
            Some("MANIFEST_INVALID"),
        )
        .header("content-type", OCI_MANIFEST)
        .body(manifest.clone()),
        // Listing.
        case(
            "huge n",
            "GET",
            "/v2/team/app/tags/list?n=99999999999999999999999",
            200,
            None,
        ),
        case(
            "n not a number",
            "GET",
            "/v2/team/app/tags/list?n=ten",
            400,
            Some("UNSUPPORTED"),
        ),
        case(
            "negative n",
            "GET",
            "/v2/_catalog?n=-1",
            400,
            Some("UNSUPPORTED"),
        ),
    ];
    for case in cases {
        run(&server, case).await;
    }

    // Paths an HTTP client library would normalise go over a raw socket, exactly as written.
    let address = server.url.trim_start_matches("http://").to_owned();
    for path in [
        "/v2/team/../app/tags/list",
        "/v2/%2e%2e/app/tags/list",
        "/v2/team/%2E%2E/app/tags/list",
        "/v2/team/./app/tags/list",
        "/v2/../../etc/tags/list",
    ] {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        let response = raw_exchange(&address, request.as_bytes(), false).await;
        assert!(response.starts_with("HTTP/1.1 400"), "{path}: {response}");
        assert!(response.contains("NAME_INVALID"), "{path}: {response}");
    }

    // None of it left anything visible, and the server still serves what it had.
    for reference in ["bad", "old", "mixed", "missing", "huge"] {
        let response = server
            .get(&format!("/v2/team/app/manifests/{reference}"))
            .await;
        assert_eq!(
            response.status(),
            404,
            "manifest {reference} became visible"
        );
    }
    let response = server.get(&format!("/v2/team/app/blobs/{missing}")).await;
    assert_eq!(response.status(), 404, "a mismatched upload became visible");
    let response = server.get("/v2/team/app/manifests/v1").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        manifest.as_slice()
    );
    let response = server.get("/v2/team/app/tags/list").await;
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"name":"team/app","tags":["v1"]}"#
    );
    server.stop().await;
}

/// Sends raw bytes and reads the response head (bounded in time).
async fn raw_exchange(address: &str, request: &[u8], close_after_send: bool) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    if close_after_send {
        stream.shutdown().await.unwrap();
    }
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_bodies_and_length_lies_leave_nothing_visible() {
    let server = TestServer::start().await;
    let address = server.url.trim_start_matches("http://").to_owned();
    let content = vec![7u8; 64 * 1024];
    let digest = Digest::of(Algorithm::Sha256, &content);

    // A single-POST upload whose body stops halfway, then the client goes away.
    let head = format!(
        "POST /v2/cut/app/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\n\r\n",
        content.len()
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(&content[..content.len() / 2]);
    let _ = raw_exchange(&address, &request, true).await;

    // A monolithic PUT whose Content-Length promises more than it sends.
    let session = server.post("/v2/cut/app/blobs/uploads/").await;
    let location = header(&session, "location").unwrap();
    let head = format!(
        "PUT {location}&digest={digest} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\n\r\n",
        content.len()
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(&content[..1000]);
    let _ = raw_exchange(&address, &request, true).await;

    // Neither became visible, and the half-sent session reports what arrived.
    let response = server.head(&format!("/v2/cut/app/blobs/{digest}")).await;
    assert_eq!(response.status(), 404);
    let mut status = None;
    for _ in 0..50 {
        let response = server.get(&location).await;
        if response.status() == 204 && header(&response, "range").as_deref() == Some("0-999") {
            status = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        status.is_some(),
        "the session should hold the 1000 bytes that arrived"
    );

    // The same upload then completes properly from where it stands.
    let response = server
        .client
        .put(server.at(&format!("{location}&digest={digest}")))
        .header("content-range", format!("1000-{}", content.len() - 1))
        .body(content[1000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let response = server.get(&format!("/v2/cut/app/blobs/{digest}")).await;
    assert_eq!(response.bytes().await.unwrap().as_ref(), content.as_slice());
    server.stop().await;
}

/// A manifest body sent without Content-Length, in pieces.
fn streamed(bytes: Vec<u8>) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(4096).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_manifests_are_measured_as_they_arrive() {
    let server = TestServer::start_with(|config| config.max_manifest_size = 8 * 1024).await;
    let (manifest, digest) = server.push_image("streamed/app", "v1", b"layer").await;

    let response = server
        .client
        .put(server.at("/v2/streamed/app/manifests/again"))
        .header("content-type", OCI_MANIFEST)
        .body(streamed(manifest.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        201,
        "a small streamed manifest is taken whole"
    );
    assert_eq!(
        header(&response, "docker-content-digest"),
        Some(digest.to_string())
    );

    let mut padded = String::from_utf8(manifest).unwrap();
    padded.insert_str(
        1,
        &format!("\"annotations\":{{\"pad\":\"{}\"}},", "x".repeat(20 * 1024)),
    );
    let response = server
        .client
        .put(server.at("/v2/streamed/app/manifests/big"))
        .header("content-type", OCI_MANIFEST)
        .body(streamed(padded.into_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(error_code(response).await.as_deref(), Some("SIZE_INVALID"));
    assert_eq!(
        server.get("/v2/streamed/app/manifests/big").await.status(),
        404
    );
    server.stop().await;
}
