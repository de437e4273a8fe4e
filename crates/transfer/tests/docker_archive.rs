//! `docker-archive:`: round trips (config and layer digests kept, a Docker schema 2 manifest
//! synthesised with media types from the layers' first bytes), picking an image by tag, by
//! position or as the only one, the legacy and Docker 25 layouts of `docker save`, what the
//! destination refuses (indexes, artifacts), and damaged archives giving typed errors.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use std::path::Path;

use gantry_reference::{Algorithm, Digest, Reference};
use gantry_spec::{Descriptor, ImageManifest, Manifest, ManifestKind, Platform, media_type};
use gantry_transfer::{
    DockerArchiveDestination, DockerArchiveRef, DockerArchiveSource, ImageDestination, ImageName,
    ImageSource, TransferError,
};
use support::{Content, RawEntry, copy, raw_tar, read_and_validate};

fn amd64() -> Platform {
    Platform::new("linux", "amd64")
}

fn tagged(name: &str) -> Reference {
    Reference::parse_docker_ref(name).unwrap()
}

/// The member names of the tar file at `path`, in order.
fn members(path: &Path) -> Vec<String> {
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            entry
                .unwrap()
                .path()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// The content of member `name` of the tar file at `path`.
fn member(path: &Path, name: &str) -> Vec<u8> {
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_string_lossy() == name {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
            return data;
        }
    }
    panic!("{} has no {name}", path.display());
}

/// Asserts that `read` describes the same config and layers as `written`.
fn assert_same_blobs(read: &Manifest, written: &Manifest) {
    assert_eq!(read.kind(), ManifestKind::DockerManifest);
    let read_config = read.config().unwrap();
    let written_config = written.config().unwrap();
    assert_eq!(read_config.digest, written_config.digest);
    assert_eq!(read_config.size, written_config.size);
    assert_eq!(read_config.media_type, media_type::DOCKER_CONTAINER_CONFIG);
    let digests = |m: &Manifest| {
        m.layers()
            .iter()
            .map(|l| (l.digest.clone(), l.size))
            .collect::<Vec<_>>()
    };
    assert_eq!(digests(read), digests(written));
}

#[tokio::test]
async fn an_image_round_trips_with_its_config_and_layer_digests() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = Content::new();
    for docker in [false, true] {
        let image = content.image(u64::from(docker), &[1_000, 200_000], true, &amd64(), docker);
        let path = dir.path().join(format!("image-{docker}.tar"));
        let destination = DockerArchiveDestination::create(&path, Some(tagged("app:1")))
            .await
            .unwrap();
        assert!(!destination.supports_index());
        assert_eq!(
            destination.name(),
            &ImageName::DockerArchive {
                path: path.clone(),
                reference: Some(DockerArchiveRef::Tagged(tagged("app:1")))
            }
        );
        copy(&content.source(&image), &destination).await.unwrap();

        let config = image.config().unwrap();
        let mut expected = vec![format!("{}.json", config.digest.encoded())];
        expected.extend(
            image
                .layers()
                .iter()
                .map(|l| format!("{}.tar", l.digest.encoded())),
        );
        expected.extend(["manifest.json".to_owned(), "repositories".to_owned()]);
        assert_eq!(members(&path), expected);
        let list: serde_json::Value =
            serde_json::from_slice(&member(&path, "manifest.json")).unwrap();
        assert_eq!(list[0]["RepoTags"], serde_json::json!(["app:1"]));
        assert_eq!(list[0]["Config"], expected[0]);
        let repositories: serde_json::Value =
            serde_json::from_slice(&member(&path, "repositories")).unwrap();
        assert!(repositories["app"]["1"].is_string(), "{repositories}");
        let others: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with('.'))
            .collect();
        assert!(others.is_empty(), "{others:?}");

        for reference in [
            None,
            Some(DockerArchiveRef::Tagged(tagged("app:1"))),
            Some(DockerArchiveRef::Tagged(tagged("docker.io/library/app:1"))),
            Some(DockerArchiveRef::Index(0)),
        ] {
            let source = DockerArchiveSource::open(&path, reference.clone())
                .await
                .unwrap();
            let (read, files) = read_and_validate(&source).await;
            assert_same_blobs(&read, &image);
            for (digest, bytes) in &files {
                assert_eq!(Digest::of(Algorithm::Sha256, bytes), *digest);
            }
            let layer_types: Vec<&str> = read
                .layers()
                .iter()
                .map(|l| l.media_type.as_str())
                .collect();
            assert_eq!(
                layer_types,
                [
                    media_type::DOCKER_LAYER_TAR,
                    media_type::DOCKER_LAYER_TAR,
                    media_type::DOCKER_LAYER_TAR_GZIP
                ]
            );
            // The synthesised manifest is served by its digest too, and nothing else is.
            assert_eq!(source.manifest(Some(read.digest())).await.unwrap(), read);
            if read.digest() != image.digest() {
                let error = source.manifest(Some(image.digest())).await.unwrap_err();
                assert!(error.is_not_found(), "{error}");
            }
        }
    }
}

#[tokio::test]
async fn an_untagged_image_has_no_repo_tags_and_no_repositories() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = Content::new();
    let image = content.image(1, &[100], false, &amd64(), false);
    let path = dir.path().join("image.tar");
    let destination = DockerArchiveDestination::create(&path, None).await.unwrap();
    copy(&content.source(&image), &destination).await.unwrap();
    assert!(!members(&path).contains(&"repositories".to_owned()));
    let list: serde_json::Value = serde_json::from_slice(&member(&path, "manifest.json")).unwrap();
    assert_eq!(list[0]["RepoTags"], serde_json::json!([]));
    let source = DockerArchiveSource::open(&path, None).await.unwrap();
    let (read, _) = read_and_validate(&source).await;
    assert_same_blobs(&read, &image);
    let error = DockerArchiveSource::open(&path, Some(DockerArchiveRef::Tagged(tagged("app"))))
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error}");
}

#[tokio::test]
async fn indexes_and_artifacts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = Content::new();
    let index = content.two_platform_index(1);
    let path = dir.path().join("image.tar");
    let destination = DockerArchiveDestination::create(&path, None).await.unwrap();
    let error = destination.put_manifest(&index).await.unwrap_err();
    assert!(matches!(error, TransferError::Unsupported(_)), "{error}");
    let error = destination.commit(&index).await.unwrap_err();
    assert!(matches!(error, TransferError::Unsupported(_)), "{error}");

    let artifact = ImageManifest::builder(Descriptor::empty())
        .artifact_type("application/vnd.example")
        .layer(Descriptor::of("application/vnd.example.data", b"data"))
        .build()
        .unwrap();
    let error = destination.put_manifest(&artifact).await.unwrap_err();
    assert!(matches!(error, TransferError::Unsupported(_)), "{error}");
    assert!(!path.exists());

    // A digest is no tag.
    let digest = Digest::of(Algorithm::Sha256, b"x");
    let error = DockerArchiveDestination::create(&path, Some(tagged("app").with_digest(digest)))
        .await
        .unwrap_err();
    assert!(
        matches!(error, TransferError::InvalidName { .. }),
        "{error}"
    );
}

/// The files of an archive of several images in the legacy `docker save` layout: layers at
/// `<id>/layer.tar`, one a symbolic link to another's, configs at `<hex>.json`.
fn legacy_archive(content: &mut Content, images: &[(&Manifest, &[&str])]) -> Vec<u8> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut links: Vec<(String, String)> = Vec::new();
    let mut list = Vec::new();
    let mut seen: Vec<(Digest, String)> = Vec::new();
    for (position, (image, tags)) in images.iter().enumerate() {
        let config = image.config().unwrap();
        let config_name = format!("{}.json", config.digest.encoded());
        files.push((config_name.clone(), content.blobs[&config.digest].to_vec()));
        let mut layers = Vec::new();
        for (i, layer) in image.layers().iter().enumerate() {
            let name = format!("{position}{i:063}/layer.tar");
            match seen.iter().find(|(digest, _)| *digest == layer.digest) {
                Some((_, first)) => links.push((name.clone(), format!("../{first}"))),
                None => {
                    files.push((name.clone(), content.blobs[&layer.digest].to_vec()));
                    seen.push((layer.digest.clone(), name.clone()));
                }
            }
            layers.push(name);
        }
        list.push(serde_json::json!({
            "Config": config_name,
            "RepoTags": if tags.is_empty() { serde_json::Value::Null } else { serde_json::json!(tags) },
            "Layers": layers,
        }));
    }
    let list = serde_json::to_vec(&list).unwrap();
    let mut entries: Vec<RawEntry<'_>> = files
        .iter()
        .map(|(name, data)| RawEntry::file(name, data))
        .collect();
    entries.extend(
        links
            .iter()
            .map(|(name, target)| RawEntry::symlink(name, target)),
    );
    entries.push(RawEntry::file("manifest.json", &list));
    raw_tar(&entries)
}

#[tokio::test]
async fn images_are_picked_by_tag_position_or_as_the_only_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = Content::new();
    let first = content.image(1, &[300, 400], false, &amd64(), true);
    // The second image shares the first's base layer (a link in the archive).
    let base = first.layers()[0].clone();
    let second_config = content.blob(
        media_type::DOCKER_CONTAINER_CONFIG,
        format!(
            "{{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{}\"]}}}}",
            base.digest
        )
        .into_bytes(),
    );
    let second = ImageManifest::docker_builder(second_config)
        .layer(base)
        .build()
        .unwrap();
    let second = content.manifest(second);
    let path = dir.path().join("two.tar");
    std::fs::write(
        &path,
        legacy_archive(
            &mut content,
            &[
                (&first, &["app:1", "app:latest"]),
                (&second, &["registry.example:5000/team/tool:2"]),
            ],
        ),
    )
    .unwrap();

    for (reference, expected) in [
        (DockerArchiveRef::Tagged(tagged("app")), &first),
        (DockerArchiveRef::Tagged(tagged("app:1")), &first),
        (
            DockerArchiveRef::Tagged(tagged("registry.example:5000/team/tool:2")),
            &second,
        ),
        (DockerArchiveRef::Index(0), &first),
        (DockerArchiveRef::Index(1), &second),
    ] {
        let source = DockerArchiveSource::open(&path, Some(reference.clone()))
            .await
            .unwrap();
        let (read, _) = read_and_validate(&source).await;
        assert_same_blobs(&read, expected);
        // Docker manifests built by the same rules are the same bytes.
        assert_eq!(read.digest(), expected.digest(), "{reference:?}");
    }
    let error = DockerArchiveSource::open(&path, None).await.unwrap_err();
    assert!(
        matches!(&error, TransferError::AmbiguousImage { candidates, .. } if candidates.contains("app:1")),
        "{error}"
    );
    for reference in [
        DockerArchiveRef::Index(2),
        DockerArchiveRef::Tagged(tagged("app:2")),
    ] {
        let error = DockerArchiveSource::open(&path, Some(reference))
            .await
            .unwrap_err();
        assert!(error.is_not_found(), "{error}");
    }

    let one = dir.path().join("one.tar");
    std::fs::write(&one, legacy_archive(&mut content, &[(&second, &[])])).unwrap();
    let source = DockerArchiveSource::open(&one, None).await.unwrap();
    let (read, _) = read_and_validate(&source).await;
    assert_same_blobs(&read, &second);
}

#[tokio::test]
async fn the_docker_25_layout_is_read_through_manifest_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = Content::new();
    let image = content.image(1, &[5_000], true, &amd64(), false);
    let config = image.config().unwrap();
    let blob = |digest: &Digest| format!("blobs/sha256/{}", digest.encoded());
    let list = serde_json::to_vec(&serde_json::json!([{
        "Config": blob(&config.digest),
        "RepoTags": ["new:1"],
        "Layers": image.layers().iter().map(|l| blob(&l.digest)).collect::<Vec<_>>(),
        "LayerSources": {},
    }]))
    .unwrap();
    let index = format!(
        "{{\"schemaVersion\":2,\"manifests\":[{}]}}",
        serde_json::to_string(&image.descriptor()).unwrap()
    );
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (
            "oci-layout".to_owned(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        ("index.json".to_owned(), index.into_bytes()),
        (blob(image.digest()), image.bytes().to_vec()),
        (blob(&config.digest), content.blobs[&config.digest].to_vec()),
    ];
    for layer in image.layers() {
        files.push((blob(&layer.digest), content.blobs[&layer.digest].to_vec()));
    }
    files.push(("manifest.json".to_owned(), list));
    let entries: Vec<RawEntry<'_>> = files
        .iter()
        .map(|(name, data)| RawEntry::file(name, data))
        .collect();
    let path = dir.path().join("new.tar");
    std::fs::write(&path, raw_tar(&entries)).unwrap();
    let source = DockerArchiveSource::open(&path, Some(DockerArchiveRef::Tagged(tagged("new:1"))))
        .await
        .unwrap();
    let (read, _) = read_and_validate(&source).await;
    assert_same_blobs(&read, &image);
}

#[tokio::test]
async fn damaged_archives_give_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = Content::new();
    let image = content.image(1, &[300, 400], false, &amd64(), true);
    let path = dir.path().join("bad.tar");
    let good = legacy_archive(&mut content, &[(&image, &["app:1"])]);

    // A layer manifest.json names is missing.
    let mut archive = tar::Archive::new(&good[..]);
    let mut kept: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        if !name.ends_with("1/layer.tar") {
            kept.push((name, data));
        }
    }
    assert!(kept.len() < 4, "a layer was dropped");
    let entries: Vec<RawEntry<'_>> = kept
        .iter()
        .map(|(name, data)| RawEntry::file(name, data))
        .collect();
    std::fs::write(&path, raw_tar(&entries)).unwrap();
    let error = DockerArchiveSource::open(&path, None).await.unwrap_err();
    assert!(
        matches!(&error, TransferError::InvalidFormat { reason, .. } if reason.contains("layer")),
        "{error}"
    );

    let layer_data = b"layer";
    let cases: Vec<(&str, Vec<RawEntry<'_>>)> = vec![
        ("no manifest.json", vec![RawEntry::file("a.json", b"{}")]),
        (
            "manifest.json garbage",
            vec![RawEntry::file("manifest.json", b"[{\"Config\":")],
        ),
        (
            "manifest.json of the wrong shape",
            vec![RawEntry::file("manifest.json", b"{\"Config\":\"a.json\"}")],
        ),
        (
            "a missing config",
            vec![RawEntry::file(
                "manifest.json",
                br#"[{"Config":"a.json","RepoTags":null,"Layers":[]}]"#,
            )],
        ),
        (
            "a dangling link",
            vec![
                RawEntry::file("a.json", b"{}"),
                RawEntry::symlink("l/layer.tar", "../missing.tar"),
                RawEntry::file(
                    "manifest.json",
                    br#"[{"Config":"a.json","RepoTags":[],"Layers":["l/layer.tar"]}]"#,
                ),
            ],
        ),
        (
            "a link loop",
            vec![
                RawEntry::file("a.json", b"{}"),
                RawEntry::symlink("x.tar", "y.tar"),
                RawEntry::symlink("y.tar", "x.tar"),
                RawEntry::file(
                    "manifest.json",
                    br#"[{"Config":"a.json","RepoTags":[],"Layers":["x.tar"]}]"#,
                ),
            ],
        ),
    ];
    for (what, entries) in cases {
        std::fs::write(&path, raw_tar(&entries)).unwrap();
        let error = DockerArchiveSource::open(&path, None).await.unwrap_err();
        assert!(
            matches!(error, TransferError::InvalidFormat { .. }),
            "{what}: {error}"
        );
    }
    for (what, entries) in [
        (
            "a layer path that climbs out",
            vec![
                RawEntry::file("a.json", b"{}"),
                RawEntry::file("layer.tar", layer_data),
                RawEntry::file(
                    "manifest.json",
                    br#"[{"Config":"a.json","RepoTags":[],"Layers":["../layer.tar"]}]"#,
                ),
            ],
        ),
        (
            "an entry that climbs out",
            vec![RawEntry::file("../manifest.json", b"[]")],
        ),
    ] {
        std::fs::write(&path, raw_tar(&entries)).unwrap();
        let error = DockerArchiveSource::open(&path, None).await.unwrap_err();
        assert!(
            matches!(error, TransferError::UnsafePath { .. }),
            "{what}: {error}"
        );
    }
    // Truncated.
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    let error = DockerArchiveSource::open(&path, None).await.unwrap_err();
    assert!(
        matches!(error, TransferError::InvalidFormat { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn a_broken_copy_resumes_and_the_file_appears_only_at_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.tar");
    let mut content = Content::new();
    let image = content.image(1, &[6 * 1024 * 1024], false, &amd64(), true);
    let layer = image.layers()[0].clone();
    let source = content
        .source(&image)
        .failing(&layer.digest, 5 * 1024 * 1024);
    let destination = DockerArchiveDestination::create(&path, Some(tagged("app")))
        .await
        .unwrap();
    let error = copy(&source, &destination).await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(!path.exists());
    let destination = DockerArchiveDestination::create(&path, Some(tagged("app")))
        .await
        .unwrap();
    assert_eq!(
        destination.resume_offset(&layer).await.unwrap(),
        5 * 1024 * 1024
    );
    copy(&source, &destination).await.unwrap();
    let source = DockerArchiveSource::open(&path, None).await.unwrap();
    let (read, _) = read_and_validate(&source).await;
    assert_eq!(read.digest(), image.digest());
}
