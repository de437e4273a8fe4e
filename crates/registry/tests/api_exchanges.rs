//! Every endpoint's ordinary exchanges: status, headers, body, and what the server then holds.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use std::time::Duration;

use gantry_reference::{Algorithm, Digest};
use support::{TestServer, error_code, header};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_answers_with_the_api_version() {
    let server = TestServer::start().await;
    for path in ["/v2/", "/v2"] {
        let response = server.get(path).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "docker-distribution-api-version").as_deref(),
            Some("registry/2.0")
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_upload_every_way_and_read_back_with_ranges() {
    let server = TestServer::start().await;
    let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let digest = Digest::of(Algorithm::Sha256, &content);

    // POST then PUT with the whole body.
    let start = server.post("/v2/a/blobs/uploads/").await;
    assert_eq!(start.status(), 202);
    assert_eq!(header(&start, "range").as_deref(), Some("0-0"));
    assert!(header(&start, "docker-upload-uuid").is_some());
    assert_eq!(header(&start, "oci-chunk-min-length").as_deref(), Some("0"));
    let location = header(&start, "location").unwrap();
    let done = server
        .client
        .put(server.at(&format!("{location}&digest={digest}")))
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 201);
    assert_eq!(
        header(&done, "location"),
        Some(format!("/v2/a/blobs/{digest}"))
    );
    assert_eq!(
        header(&done, "docker-content-digest"),
        Some(digest.to_string())
    );

    // Chunked PATCHes with Content-Range, the status in between, then PUT with no body.
    let start = server.post("/v2/b/blobs/uploads/").await;
    let mut location = header(&start, "location").unwrap();
    for (i, chunk) in content.chunks(30_000).enumerate() {
        let first = i * 30_000;
        let response = server
            .client
            .patch(server.at(&location))
            .header(
                "content-range",
                format!("{first}-{}", first + chunk.len() - 1),
            )
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        assert_eq!(
            header(&response, "range"),
            Some(format!("0-{}", first + chunk.len() - 1))
        );
        location = header(&response, "location").unwrap();
        let status = server.get(&location).await;
        assert_eq!(status.status(), 204);
        assert_eq!(
            header(&status, "range"),
            Some(format!("0-{}", first + chunk.len() - 1))
        );
    }
    let done = server
        .client
        .put(server.at(&format!("{location}&digest={digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 201);

    // A streamed PATCH (no Content-Range), then PUT.
    let start = server.post("/v2/c/blobs/uploads/").await;
    let location = header(&start, "location").unwrap();
    let patched = server
        .client
        .patch(server.at(&location))
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 202);
    let location = header(&patched, "location").unwrap();
    let done = server
        .client
        .put(server.at(&format!("{location}&digest={digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 201);

    // sha512, chosen by the digest and by ?digest-algorithm=.
    let sha512 = Digest::of(Algorithm::Sha512, &content);
    let single = server
        .client
        .post(server.at(&format!("/v2/d/blobs/uploads/?digest={sha512}")))
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(single.status(), 201);
    let start = server
        .post("/v2/e/blobs/uploads/?digest-algorithm=sha512")
        .await;
    let location = header(&start, "location").unwrap();
    let done = server
        .client
        .put(server.at(&format!("{location}&digest={sha512}")))
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 201);

    // Reads: whole, HEAD, and ranges of each form.
    for name in ["a", "b", "c"] {
        let response = server.get(&format!("/v2/{name}/blobs/{digest}")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "docker-content-digest"),
            Some(digest.to_string())
        );
        assert_eq!(header(&response, "etag"), Some(format!("\"{digest}\"")));
        assert_eq!(header(&response, "accept-ranges").as_deref(), Some("bytes"));
        assert_eq!(response.bytes().await.unwrap().as_ref(), content.as_slice());
    }
    let response = server.get(&format!("/v2/d/blobs/{sha512}")).await;
    assert_eq!(response.bytes().await.unwrap().as_ref(), content.as_slice());
    let head = server.head(&format!("/v2/a/blobs/{digest}")).await;
    assert_eq!(head.status(), 200);
    assert_eq!(
        header(&head, "content-length"),
        Some(content.len().to_string())
    );
    let size = content.len();
    for (range, start, end) in [
        ("bytes=0-9", 0, 9),
        ("bytes=99990-", 99_990, size - 1),
        ("bytes=-10", size - 10, size - 1),
        ("bytes=50000-200000", 50_000, size - 1),
    ] {
        let response = server
            .client
            .get(server.at(&format!("/v2/a/blobs/{digest}")))
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 206, "{range}");
        assert_eq!(
            header(&response, "content-range"),
            Some(format!("bytes {start}-{end}/{size}"))
        );
        assert_eq!(
            response.bytes().await.unwrap().as_ref(),
            &content[start..=end],
            "{range}"
        );
    }
    let past = server
        .client
        .get(server.at(&format!("/v2/a/blobs/{digest}")))
        .header("range", format!("bytes={size}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), 416);
    assert_eq!(
        header(&past, "content-range"),
        Some(format!("bytes */{size}"))
    );

    // A repository sees only its own blobs.
    let other = server.head(&format!("/v2/z/blobs/{digest}")).await;
    assert_eq!(other.status(), 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mounts_link_blobs_from_other_repositories() {
    let server = TestServer::start().await;
    let digest = server.push_blob("source/repo", b"shared layer").await;
    let mounted = server
        .post(&format!(
            "/v2/target/repo/blobs/uploads/?mount={digest}&from=source/repo"
        ))
        .await;
    assert_eq!(mounted.status(), 201);
    assert_eq!(
        header(&mounted, "location"),
        Some(format!("/v2/target/repo/blobs/{digest}"))
    );
    let anonymous = server
        .post(&format!("/v2/third/repo/blobs/uploads/?mount={digest}"))
        .await;
    assert_eq!(anonymous.status(), 201);
    let missing = Digest::of(Algorithm::Sha256, b"nowhere");
    let fallback = server
        .post(&format!(
            "/v2/target/repo/blobs/uploads/?mount={missing}&from=source/repo"
        ))
        .await;
    assert_eq!(
        fallback.status(),
        202,
        "an impossible mount opens an upload session"
    );
    assert!(
        header(&fallback, "location")
            .unwrap()
            .contains("/v2/target/repo/blobs/uploads/")
    );
    for name in ["target/repo", "third/repo"] {
        let response = server.get(&format!("/v2/{name}/blobs/{digest}")).await;
        assert_eq!(response.bytes().await.unwrap().as_ref(), b"shared layer");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_keep_their_bytes_tags_subjects_and_referrers() {
    let server = TestServer::start().await;
    let (manifest, digest) = server.push_image("team/app", "v1", b"layer one").await;

    // By tag and by digest, GET and HEAD: the exact bytes, with the pushed type.
    for reference in ["v1".to_owned(), digest.to_string()] {
        let response = server
            .get(&format!("/v2/team/app/manifests/{reference}"))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "content-type").as_deref(),
            Some(OCI_MANIFEST)
        );
        assert_eq!(
            header(&response, "docker-content-digest"),
            Some(digest.to_string())
        );
        assert_eq!(
            response.bytes().await.unwrap().as_ref(),
            manifest.as_slice()
        );
        let head = server
            .head(&format!("/v2/team/app/manifests/{reference}"))
            .await;
        assert_eq!(head.status(), 200);
        assert_eq!(
            header(&head, "content-length"),
            Some(manifest.len().to_string())
        );
    }

    // PUT by digest with ?tag=: every tag is answered in OCI-Tag.
    let response = server
        .client
        .put(server.at(&format!(
            "/v2/team/app/manifests/{digest}?tag=v2&tag=latest"
        )))
        .header("content-type", OCI_MANIFEST)
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let oci_tags: Vec<&str> = response
        .headers()
        .get_all("oci-tag")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(oci_tags, ["v2", "latest"]);

    // A signature that refers to the image: OCI-Subject, then the referrers API.
    let empty = server.push_blob("team/app", b"{}").await;
    let signature = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"application/vnd.example.signature","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{empty}","size":2}},"layers":[],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{digest}","size":{}}},"annotations":{{"org.example.signer":"ci"}}}}"#,
        manifest.len()
    );
    let signature_digest = Digest::of(Algorithm::Sha256, signature.as_bytes());
    let response = server
        .push_manifest(
            "team/app",
            signature_digest.as_ref(),
            OCI_MANIFEST,
            signature.as_bytes(),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(header(&response, "oci-subject"), Some(digest.to_string()));

    let referrers = server
        .get(&format!("/v2/team/app/referrers/{digest}"))
        .await;
    assert_eq!(referrers.status(), 200);
    assert_eq!(
        header(&referrers, "content-type").as_deref(),
        Some(OCI_INDEX)
    );
    let index: serde_json::Value =
        serde_json::from_slice(&referrers.bytes().await.unwrap()).unwrap();
    assert_eq!(
        index["manifests"][0]["digest"],
        signature_digest.to_string()
    );
    assert_eq!(
        index["manifests"][0]["artifactType"],
        "application/vnd.example.signature"
    );
    assert_eq!(
        index["manifests"][0]["annotations"]["org.example.signer"],
        "ci"
    );

    let filtered = server
        .get(&format!(
            "/v2/team/app/referrers/{digest}?artifactType=application/vnd.example.sbom"
        ))
        .await;
    assert_eq!(
        header(&filtered, "oci-filters-applied").as_deref(),
        Some("artifactType")
    );
    let index: serde_json::Value =
        serde_json::from_slice(&filtered.bytes().await.unwrap()).unwrap();
    assert_eq!(index["manifests"], serde_json::json!([]));

    let unknown = Digest::of(Algorithm::Sha256, b"no subject");
    let none = server
        .get(&format!("/v2/team/app/referrers/{unknown}"))
        .await;
    assert_eq!(
        none.status(),
        200,
        "an unknown subject has an empty referrers index"
    );

    // Deleting a tag untags; deleting the digest removes it and every tag.
    let response = server.delete("/v2/team/app/manifests/v2").await;
    assert_eq!(response.status(), 202);
    let tags = server.get("/v2/team/app/tags/list").await;
    assert_eq!(
        tags.text().await.unwrap(),
        r#"{"name":"team/app","tags":["latest","v1"]}"#
    );
    let response = server
        .delete(&format!("/v2/team/app/manifests/{digest}"))
        .await;
    assert_eq!(response.status(), 202);
    for reference in ["v1", "latest"] {
        let response = server
            .get(&format!("/v2/team/app/manifests/{reference}"))
            .await;
        assert_eq!(response.status(), 404, "{reference}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_405_names_the_methods_the_endpoint_answers() {
    let server = TestServer::start().await;
    let cases = [
        ("PUT", "/v2/", "GET, HEAD"),
        ("POST", "/v2/_catalog", "GET"),
        ("POST", "/v2/team/app/tags/list", "GET"),
        (
            "PATCH",
            "/v2/team/app/manifests/v1",
            "GET, HEAD, PUT, DELETE",
        ),
        ("GET", "/v2/team/app/blobs/uploads/", "POST"),
    ];
    for (method, path, allow) in cases {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = server
            .client
            .request(method.clone(), server.at(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(
            header(&response, "allow").as_deref(),
            Some(allow),
            "{method} {path}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_response_may_be_sniffed_as_another_type() {
    let server = TestServer::start().await;
    let (_, digest) = server
        .push_image("team/app", "v1", b"<html>a layer</html>")
        .await;
    let layer = Digest::of(Algorithm::Sha256, b"<html>a layer</html>");
    for path in [
        "/v2/".to_owned(),
        "/v2/team/app/manifests/v1".to_owned(),
        format!("/v2/team/app/manifests/{digest}"),
        format!("/v2/team/app/blobs/{layer}"),
        "/v2/team/app/manifests/missing".to_owned(),
        "/nowhere".to_owned(),
    ] {
        let response = server.get(&path).await;
        assert_eq!(
            header(&response, "x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_is_refused_unless_enabled() {
    let server = TestServer::start_with(|config| config.delete_enabled = false).await;
    let (_, digest) = server.push_image("team/app", "v1", b"layer").await;
    for path in [
        "/v2/team/app/manifests/v1".to_owned(),
        format!("/v2/team/app/manifests/{digest}"),
        format!(
            "/v2/team/app/blobs/{}",
            Digest::of(Algorithm::Sha256, b"layer")
        ),
    ] {
        let response = server.delete(&path).await;
        assert_eq!(response.status(), 405, "{path}");
        let allow = if path.contains("/manifests/") {
            "GET, HEAD, PUT"
        } else {
            "GET, HEAD"
        };
        assert_eq!(header(&response, "allow").as_deref(), Some(allow), "{path}");
        assert_eq!(error_code(response).await.as_deref(), Some("UNSUPPORTED"));
    }
    let response = server.get("/v2/team/app/manifests/v1").await;
    assert_eq!(response.status(), 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_lists_and_the_catalog_page_with_links() {
    let server = TestServer::start().await;
    let (manifest, _) = server.push_image("paged", "t0", b"layer").await;
    for tag in ["t1", "t2", "t3", "t4"] {
        let response = server
            .push_manifest("paged", tag, OCI_MANIFEST, &manifest)
            .await;
        assert_eq!(response.status(), 201);
    }
    for name in ["alpha", "beta/one", "beta-two", "gamma"] {
        server.push_blob(name, b"x").await;
        let response = server
            .push_manifest(name, "v1", OCI_MANIFEST, &manifest)
            .await;
        assert_eq!(
            response.status(),
            400,
            "a manifest whose blobs are elsewhere is refused"
        );
        server.push_image(name, "v1", b"layer").await;
    }

    // Tags in pages of two, following Link to the end.
    let mut pages = Vec::new();
    let mut next = Some("/v2/paged/tags/list?n=2".to_owned());
    for _ in 0..10 {
        let Some(path) = next.take() else { break };
        let response = server.get(&path).await;
        assert_eq!(response.status(), 200);
        next = header(&response, "link").map(|link| {
            assert!(link.ends_with("; rel=\"next\""), "{link}");
            link[1..link.find('>').unwrap()].to_owned()
        });
        let body: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        pages.push(body["tags"].clone());
    }
    assert_eq!(
        pages,
        [
            serde_json::json!(["t0", "t1"]),
            serde_json::json!(["t2", "t3"]),
            serde_json::json!(["t4"])
        ]
    );

    let zero = server.get("/v2/paged/tags/list?n=0").await;
    assert!(header(&zero, "link").is_none());
    assert_eq!(zero.text().await.unwrap(), r#"{"name":"paged","tags":[]}"#);
    let after = server.get("/v2/paged/tags/list?last=t2").await;
    assert_eq!(
        after.text().await.unwrap(),
        r#"{"name":"paged","tags":["t3","t4"]}"#
    );

    // The catalog, lexically ordered by full name, in pages.
    let all = server.get("/v2/_catalog").await;
    assert_eq!(
        all.text().await.unwrap(),
        r#"{"repositories":["alpha","beta-two","beta/one","gamma","paged"]}"#
    );
    let first = server.get("/v2/_catalog?n=2").await;
    assert_eq!(
        header(&first, "link").as_deref(),
        Some("</v2/_catalog?n=2&last=beta-two>; rel=\"next\"")
    );
    assert_eq!(
        first.text().await.unwrap(),
        r#"{"repositories":["alpha","beta-two"]}"#
    );
    let second = server.get("/v2/_catalog?n=2&last=beta-two").await;
    assert_eq!(
        second.text().await.unwrap(),
        r#"{"repositories":["beta/one","gamma"]}"#
    );
    let empty = server.get("/v2/_catalog?n=0").await;
    assert_eq!(empty.text().await.unwrap(), r#"{"repositories":[]}"#);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_continue_on_another_server_sharing_the_root() {
    let root = tempfile::tempdir().unwrap();
    let first = TestServer::start_at(root.path(), |_| {}).await;
    let second = TestServer::start_at(root.path(), |_| {}).await;
    let content = vec![42u8; 200_000];
    let digest = Digest::of(Algorithm::Sha256, &content);

    let start = first.post("/v2/shared/blobs/uploads/").await;
    let location = header(&start, "location").unwrap();
    let response = second
        .client
        .patch(second.at(&location))
        .header("content-range", "0-99999")
        .body(content[..100_000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        202,
        "the second server continues the first's upload"
    );
    let location = header(&response, "location").unwrap();
    let response = first
        .client
        .put(first.at(&format!("{location}&digest={digest}")))
        .header("content-range", "100000-199999")
        .body(content[100_000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "and the first finishes it");
    let read = second.get(&format!("/v2/shared/blobs/{digest}")).await;
    assert_eq!(read.bytes().await.unwrap().as_ref(), content.as_slice());

    // A server with another secret cannot touch the session.
    let third = TestServer::start_at(root.path(), |config| {
        config.upload_secret = Some("another secret".into())
    })
    .await;
    let start = first.post("/v2/shared/blobs/uploads/").await;
    let location = header(&start, "location").unwrap();
    let response = third.get(&location).await;
    assert_eq!(response.status(), 404);
    first.stop().await;
    second.stop().await;
    third.stop().await;
}

/// `catalog_refresh_secs` bounds how late a repository created by another server sharing the
/// root appears in this one's catalog; a server's own repositories appear at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_refresh_bounds_how_late_another_servers_repositories_appear() {
    async fn catalog(server: &TestServer) -> String {
        server.get("/v2/_catalog").await.text().await.unwrap()
    }
    let root = tempfile::tempdir().unwrap();
    let cached = TestServer::start_at(root.path(), |config| {
        config.catalog_refresh = Duration::from_secs(3600)
    })
    .await;
    let walking = TestServer::start_at(root.path(), |config| {
        config.catalog_refresh = Duration::ZERO
    })
    .await;
    cached.push_image("first", "a", b"layer").await;
    assert_eq!(catalog(&cached).await, r#"{"repositories":["first"]}"#);

    walking.push_image("second", "a", b"layer").await;
    assert_eq!(
        catalog(&walking).await,
        r#"{"repositories":["first","second"]}"#,
        "0 walks the tree for every page"
    );
    assert_eq!(
        catalog(&cached).await,
        r#"{"repositories":["first"]}"#,
        "within the refresh, the names walked before serve"
    );
    cached.push_image("third", "a", b"layer").await;
    assert_eq!(
        catalog(&cached).await,
        r#"{"repositories":["first","third"]}"#,
        "the server's own new repository joins at once"
    );
    assert_eq!(
        catalog(&walking).await,
        r#"{"repositories":["first","second","third"]}"#
    );
    cached.stop().await;
    walking.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_limit_caps_every_list_and_still_links_onward() {
    let server = TestServer::start_with(|config| config.max_page_size = 2).await;
    let (manifest, _) = server.push_image("capped", "a", b"layer").await;
    for tag in ["b", "c"] {
        let response = server
            .push_manifest("capped", tag, OCI_MANIFEST, &manifest)
            .await;
        assert_eq!(response.status(), 201);
    }
    for path in ["/v2/capped/tags/list", "/v2/capped/tags/list?n=50"] {
        let response = server.get(path).await;
        assert_eq!(
            header(&response, "link").as_deref(),
            Some("</v2/capped/tags/list?n=2&last=b>; rel=\"next\""),
            "{path}"
        );
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"name":"capped","tags":["a","b"]}"#
        );
    }
    let last = server.get("/v2/capped/tags/list?n=2&last=b").await;
    assert!(header(&last, "link").is_none());
    assert_eq!(
        last.text().await.unwrap(),
        r#"{"name":"capped","tags":["c"]}"#
    );
    server.stop().await;
}
