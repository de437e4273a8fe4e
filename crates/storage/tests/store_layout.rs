//! Interop on the layout: a directory laid out as CNCF Distribution documents it (written here
//! byte for byte) is served by Gantry's store, and a directory Gantry writes holds exactly
//! Distribution's files with Distribution's bytes, plus the `_gantry` indexes it ignores.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod store_support;

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use gantry_spec::media_type;
use store_support::*;

const V2: &str = "docker/registry/v2";

/// Every file under `root`, relative, with its bytes.
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                found.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    found
}

fn write(root: &Path, relative: &str, content: &[u8]) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn blob_path(digest: &gantry_reference::Digest) -> String {
    let hex = digest.encoded();
    format!("{V2}/blobs/{}/{}/{hex}/data", digest.algorithm(), &hex[..2])
}

#[tokio::test]
async fn gantry_writes_exactly_distributions_files() {
    let dir = tempfile::tempdir().unwrap();
    let registry = filesystem(dir.path());
    let repository = registry.repository(&name("library/app"));
    let image = push_image(
        &repository,
        b"{\"architecture\":\"amd64\"}",
        &[b"layer"],
        Some(&tag("latest")),
    )
    .await;
    let config = sha256(b"{\"architecture\":\"amd64\"}");
    let layer = sha256(b"layer");
    let manifest = image.digest().clone();
    let repo = format!("{V2}/repositories/library/app");

    let mut expected: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    expected.insert(blob_path(&config), b"{\"architecture\":\"amd64\"}".to_vec());
    expected.insert(blob_path(&layer), b"layer".to_vec());
    expected.insert(blob_path(&manifest), image.bytes().to_vec());
    for digest in [&config, &layer] {
        expected.insert(
            format!("{repo}/_layers/sha256/{}/link", digest.encoded()),
            digest.to_string().into_bytes(),
        );
    }
    let hex = manifest.encoded();
    for link in [
        format!("{repo}/_manifests/revisions/sha256/{hex}/link"),
        format!("{repo}/_manifests/tags/latest/current/link"),
        format!("{repo}/_manifests/tags/latest/index/sha256/{hex}/link"),
    ] {
        expected.insert(link, manifest.to_string().into_bytes());
    }
    // Gantry's reverse tag index, beside the layout.
    expected.insert(
        format!("{repo}/_gantry/tags_by_digest/sha256/{hex}/latest"),
        b"latest".to_vec(),
    );

    let written = files(dir.path());
    assert_eq!(
        written.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &expected {
        assert_eq!(&written[path], bytes, "{path}");
    }
    // Link files hold the digest with no newline.
    assert!(
        written
            .iter()
            .filter(|(p, _)| p.ends_with("/link"))
            .all(|(_, b)| !b.ends_with(b"\n"))
    );

    // An upload session: startedat in RFC 3339 UTC, data, and the hash state at its offset.
    let mut writer = start(&repository).await;
    let id = writer.id().to_owned();
    writer.write(Bytes::from_static(b"abc")).await.unwrap();
    writer.close().await.unwrap();
    let written = files(dir.path());
    let upload = format!("{repo}/_uploads/{id}");
    assert_eq!(written[&format!("{upload}/data")], b"abc");
    let started = String::from_utf8(written[&format!("{upload}/startedat")].clone()).unwrap();
    assert!(
        started.len() == 20 && started.ends_with('Z') && started.as_bytes()[10] == b'T',
        "{started:?}"
    );
    assert!(written.contains_key(&format!("{upload}/hashstates/sha256/0")));
    assert!(written.contains_key(&format!("{upload}/hashstates/sha256/3")));
}

/// A Docker schema 2 manifest, as `docker push` sends it.
fn docker_manifest(config: &gantry_reference::Digest, layer: &gantry_reference::Digest) -> String {
    format!(
        r#"{{
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {{
      "mediaType": "application/vnd.docker.container.image.v1+json",
      "size": 2,
      "digest": "{config}"
   }},
   "layers": [
      {{
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 5,
         "digest": "{layer}"
      }}
   ]
}}"#
    )
}

#[tokio::test]
async fn gantry_serves_a_directory_distribution_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = sha256(b"{}");
    let layer = sha256(b"layer");
    let manifest_bytes = docker_manifest(&config, &layer);
    let manifest = sha256(manifest_bytes.as_bytes());
    let repo = format!("{V2}/repositories/library/ubuntu");
    let hex = manifest.encoded();
    let id = "b2b0a5d2-4f66-4b8e-9d3c-5d1a2f6e7c80";

    write(root, &blob_path(&config), b"{}");
    write(root, &blob_path(&layer), b"layer");
    write(root, &blob_path(&manifest), manifest_bytes.as_bytes());
    for digest in [&config, &layer] {
        write(
            root,
            &format!("{repo}/_layers/sha256/{}/link", digest.encoded()),
            digest.as_str().as_bytes(),
        );
    }
    write(
        root,
        &format!("{repo}/_manifests/revisions/sha256/{hex}/link"),
        manifest.as_str().as_bytes(),
    );
    write(
        root,
        &format!("{repo}/_manifests/tags/22.04/current/link"),
        manifest.as_str().as_bytes(),
    );
    write(
        root,
        &format!("{repo}/_manifests/tags/22.04/index/sha256/{hex}/link"),
        manifest.as_str().as_bytes(),
    );
    // An upload in flight: Go's RFC 3339 start time and a hash state in Go's format.
    write(root, &format!("{repo}/_uploads/{id}/data"), b"hello ");
    write(
        root,
        &format!("{repo}/_uploads/{id}/startedat"),
        b"2024-01-02T03:04:05Z",
    );
    let mut go_state = b"sha\x03".to_vec();
    go_state.resize(108, 0);
    write(
        root,
        &format!("{repo}/_uploads/{id}/hashstates/sha256/6"),
        &go_state,
    );
    // A stale one, from long ago.
    write(
        root,
        &format!("{repo}/_uploads/0c1b5c5e-0000-4000-8000-000000000000/data"),
        b"x",
    );
    write(
        root,
        &format!("{repo}/_uploads/0c1b5c5e-0000-4000-8000-000000000000/startedat"),
        b"2019-06-01T00:00:00Z",
    );

    let registry = filesystem(root);
    assert_eq!(
        registry.catalog(10, None).await.unwrap(),
        [name("library/ubuntu")]
    );
    let repository = registry.repository(&name("library/ubuntu"));
    assert_eq!(
        repository.tags().all(10, None).await.unwrap(),
        [tag("22.04")]
    );
    assert_eq!(
        repository.tags().get(&tag("22.04")).await.unwrap(),
        manifest
    );
    let stored = repository.manifests().get(&manifest).await.unwrap();
    assert_eq!(stored.bytes().as_ref(), manifest_bytes.as_bytes());
    assert_eq!(stored.media_type(), media_type::DOCKER_MANIFEST);
    assert_eq!(blob(&repository, &layer).await, b"layer");
    assert_eq!(repository.blobs().stat(&config).await.unwrap().size, 2);
    // The indexes Distribution never wrote are built on first use.
    assert_eq!(
        repository.tags().lookup(&manifest).await.unwrap(),
        [tag("22.04")]
    );

    // The upload resumes (its Go hash state is unreadable here, so the data is hashed again).
    let mut writer = repository.blobs().resume(id).await.unwrap();
    assert_eq!(writer.size(), 6);
    assert_eq!(
        writer.started_at(),
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_704_164_645)
    );
    writer
        .write_at(6, Bytes::from_static(b"world"))
        .await
        .unwrap();
    writer
        .commit(&sha256(b"hello world"), Some(11))
        .await
        .unwrap();
    assert_eq!(
        blob(&repository, &sha256(b"hello world")).await,
        b"hello world"
    );

    // The stale session goes with the default age; nothing else does.
    assert_eq!(registry.purge_expired_uploads().await.unwrap(), 1);
    assert!(!files(root).keys().any(|p| p.contains("_uploads/")));

    // Gantry adds to it in Distribution's layout: a new tag on the same manifest.
    repository
        .tags()
        .tag(&tag("latest"), &manifest)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(root.join(format!("{repo}/_manifests/tags/latest/current/link"))).unwrap(),
        manifest.as_str().as_bytes()
    );
}
