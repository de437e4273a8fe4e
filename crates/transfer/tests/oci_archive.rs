//! `oci-archive:`: round trips of an image and a two-platform index, archives of several
//! images, what the archive holds, resuming through the staging layout, and bad archives
//! (truncated, not a tar, entries that climb out) giving typed errors.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use std::path::Path;

use gantry_spec::{Platform, layout};
use gantry_transfer::{
    ImageDestination, ImageName, ImageSource, OciArchiveDestination, OciArchiveSource,
    OciLayoutDestination, OciLayoutSource, TransferError,
};
use support::{Content, RawEntry, copy, files_under, raw_tar, read_all, read_and_validate};

fn amd64() -> Platform {
    Platform::new("linux", "amd64")
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

/// Everything in `dir` but `keep`.
fn others(dir: &Path, keep: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != keep)
        .collect()
}

#[tokio::test]
async fn an_image_and_an_index_round_trip_with_every_digest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = Content::new();
    let image = content.image(1, &[1_000, 300_000], true, &amd64(), false);
    let index = content.two_platform_index(10);

    for (file, name, top) in [("image.tar", "v1", &image), ("index.tar", "multi", &index)] {
        let path = dir.path().join(file);
        let destination = OciArchiveDestination::create(&path, Some(name.to_owned()))
            .await
            .unwrap();
        assert_eq!(
            destination.name(),
            &ImageName::OciArchive {
                path: path.clone(),
                reference: Some(name.to_owned())
            }
        );
        copy(&content.source(top), &destination).await.unwrap();
        // No staging directory or temporary file is left beside the archives.
        let mut found = others(dir.path(), "");
        found.sort();
        let expected: &[&str] = if file == "image.tar" {
            &["image.tar"]
        } else {
            &["image.tar", "index.tar"]
        };
        assert_eq!(found, expected);

        let names = members(&path);
        assert_eq!(names[..2], ["oci-layout", "index.json"]);
        assert!(names.iter().all(|n| !n.contains(".gantry")), "{names:?}");

        let source = OciArchiveSource::open(&path, Some(name.to_owned()))
            .await
            .unwrap();
        assert_eq!(source.descriptor().digest, *top.digest());
        let (read, files) = read_and_validate(&source).await;
        assert_eq!(read.bytes(), top.bytes());
        // The archive holds the image's blobs and manifests, and only those.
        let blobs: Vec<&String> = names
            .iter()
            .filter(|n| n.starts_with("blobs/sha256/") && n.len() > 13)
            .collect();
        assert_eq!(blobs.len(), files.len(), "{names:?}");
        // Without a name, the only image is read.
        let source = OciArchiveSource::open(&path, None).await.unwrap();
        assert_eq!(source.manifest(None).await.unwrap().digest(), top.digest());
    }
    // The children of the index come back by digest; ranges work.
    let source = OciArchiveSource::open(dir.path().join("index.tar"), None)
        .await
        .unwrap();
    for child in index.manifests() {
        let manifest = source.manifest(Some(&child.digest)).await.unwrap();
        assert_eq!(manifest.digest(), &child.digest);
    }
    let layer = &image.layers()[1];
    let source = OciArchiveSource::open(dir.path().join("image.tar"), None)
        .await
        .unwrap();
    let mut range = source
        .blob_range(layer, 1_000, 200_000)
        .await
        .unwrap()
        .unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut range).await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(bytes, content.blobs[&layer.digest][1_000..200_000]);
}

#[tokio::test]
async fn an_extracted_archive_is_a_layout_and_a_tarred_layout_an_archive() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = Content::new();
    let first = content.image(1, &[500], false, &amd64(), false);
    let second = content.two_platform_index(5);

    // Ours, extracted, reads as a layout.
    let archive = dir.path().join("one.tar");
    let destination = OciArchiveDestination::create(&archive, None).await.unwrap();
    copy(&content.source(&first), &destination).await.unwrap();
    let extracted = dir.path().join("extracted");
    tar::Archive::new(std::fs::File::open(&archive).unwrap())
        .unpack(&extracted)
        .unwrap();
    let source = OciLayoutSource::open(&extracted, None).await.unwrap();
    assert_eq!(
        source.manifest(None).await.unwrap().digest(),
        first.digest()
    );

    // A layout of two images, tarred by another tool with `./` prefixes, reads by name.
    let layout_dir = dir.path().join("layout");
    for (name, image) in [("a", &first), ("b", &second)] {
        let destination = OciLayoutDestination::create(&layout_dir, Some(name.to_owned()))
            .await
            .unwrap();
        copy(&content.source(image), &destination).await.unwrap();
    }
    let two = dir.path().join("two.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&two).unwrap());
    builder.append_dir_all(".", &layout_dir).unwrap();
    builder.finish().unwrap();
    drop(builder);
    assert!(
        members(&two).iter().any(|n| n.starts_with("./")),
        "{:?}",
        members(&two)
    );
    for (name, image) in [("a", &first), ("b", &second)] {
        let source = OciArchiveSource::open(&two, Some(name.to_owned()))
            .await
            .unwrap();
        let (read, _) = read_and_validate(&source).await;
        assert_eq!(read.digest(), image.digest());
    }
    let error = OciArchiveSource::open(&two, None).await.unwrap_err();
    assert!(
        matches!(error, TransferError::AmbiguousImage { .. }),
        "{error}"
    );
    let error = OciArchiveSource::open(&two, Some("c".to_owned()))
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error}");
}

#[tokio::test]
async fn a_broken_copy_resumes_from_the_staging_layout_and_the_file_changes_only_at_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.tar");
    std::fs::write(&path, b"the old file").unwrap();
    let mut content = Content::new();
    let image = content.image(1, &[6 * 1024 * 1024], false, &amd64(), false);
    let layer = image.layers()[0].clone();
    let source = content
        .source(&image)
        .failing(&layer.digest, 5 * 1024 * 1024);
    {
        let destination = OciArchiveDestination::create(&path, Some("v".to_owned()))
            .await
            .unwrap();
        let error = copy(&source, &destination).await.unwrap_err();
        assert!(error.is_retryable(), "{error}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"the old file");
    let destination = OciArchiveDestination::create(&path, Some("v".to_owned()))
        .await
        .unwrap();
    assert_eq!(
        destination.resume_offset(&layer).await.unwrap(),
        5 * 1024 * 1024
    );
    copy(&source, &destination).await.unwrap();
    assert_eq!(others(dir.path(), "image.tar"), Vec::<String>::new());
    let source = OciArchiveSource::open(&path, Some("v".to_owned()))
        .await
        .unwrap();
    let (read, _) = read_and_validate(&source).await;
    assert_eq!(read.digest(), image.digest());
}

#[tokio::test]
async fn a_commit_without_the_blobs_fails_and_leaves_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.tar");
    std::fs::write(&path, b"the old file").unwrap();
    let mut content = Content::new();
    let image = content.image(1, &[100], false, &amd64(), false);
    let destination = OciArchiveDestination::create(&path, None).await.unwrap();
    destination.put_manifest(&image).await.unwrap();
    let error = destination.commit(&image).await.unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), b"the old file");
    let temporary: Vec<String> = others(dir.path(), "image.tar")
        .into_iter()
        .filter(|name| name.contains(".tmp"))
        .collect();
    assert!(temporary.is_empty(), "{temporary:?}");
}

/// Writes the archive of one small image and returns its bytes.
async fn small_archive(dir: &Path) -> Vec<u8> {
    let mut content = Content::new();
    let image = content.image(1, &[20_000, 30_000], false, &amd64(), false);
    let path = dir.join("good.tar");
    let destination = OciArchiveDestination::create(&path, None).await.unwrap();
    copy(&content.source(&image), &destination).await.unwrap();
    std::fs::read(&path).unwrap()
}

#[tokio::test]
async fn truncated_and_foreign_files_give_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = small_archive(dir.path()).await;
    let path = dir.path().join("bad.tar");
    // Cut in the middle of data and in the middle of a header.
    for length in [good.len() / 2, 700, 512 + 100, 3 * 512 + 10] {
        std::fs::write(&path, &good[..length]).unwrap();
        match OciArchiveSource::open(&path, None).await {
            Err(TransferError::InvalidFormat { .. }) => {}
            Err(other) => panic!("cut at {length}: {other}"),
            // Cut at a member boundary the tar is whole; what is missing then shows.
            Ok(source) => {
                let top = source.manifest(None).await;
                assert!(
                    top.is_err() || !read_complete(&source).await,
                    "cut at {length}"
                );
            }
        }
    }
    for (what, bytes) in [
        ("empty", Vec::new()),
        ("not a tar", support::noise(3, 5_000)),
        ("a gzip", {
            let mut bytes = vec![0x1f, 0x8b, 8, 0];
            bytes.extend(support::noise(4, 3_000));
            bytes
        }),
    ] {
        std::fs::write(&path, &bytes).unwrap();
        let error = OciArchiveSource::open(&path, None).await.unwrap_err();
        assert!(
            matches!(error, TransferError::InvalidFormat { .. }),
            "{what}: {error}"
        );
    }
    let error = OciArchiveSource::open(dir.path().join("missing.tar"), None)
        .await
        .unwrap_err();
    assert!(matches!(error, TransferError::Io { .. }), "{error}");
}

/// Whether every blob of the image reads through `source` with its full size.
async fn read_complete(source: &OciArchiveSource) -> bool {
    let Ok(top) = source.manifest(None).await else {
        return false;
    };
    for (_, descriptor) in top.references() {
        let Ok(mut stream) = source.blob(descriptor, 0).await else {
            return false;
        };
        let mut size = 0;
        while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
            match chunk {
                Ok(chunk) => size += chunk.len() as u64,
                Err(_) => return false,
            }
        }
        if size != descriptor.size {
            return false;
        }
    }
    true
}

#[tokio::test]
async fn entries_that_climb_out_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evil.tar");
    let layout_marker = br#"{"imageLayoutVersion":"1.0.0"}"#;
    let cases: Vec<(&str, Vec<RawEntry<'_>>)> = vec![
        (
            "../ in a path",
            vec![
                RawEntry::file("oci-layout", layout_marker),
                RawEntry::file("../escape", b"x"),
            ],
        ),
        (
            "a path that climbs back in",
            vec![RawEntry::file("blobs/../oci-layout", layout_marker)],
        ),
        (
            "an absolute path",
            vec![RawEntry::file("/etc/oci-layout", layout_marker)],
        ),
        (
            "a link out of the archive",
            vec![
                RawEntry::file("oci-layout", layout_marker),
                RawEntry::symlink("index.json", "../../etc/passwd"),
            ],
        ),
        (
            "an absolute link",
            vec![RawEntry::symlink("index.json", "/etc/passwd")],
        ),
    ];
    for (what, entries) in cases {
        std::fs::write(&path, raw_tar(&entries)).unwrap();
        let error = OciArchiveSource::open(&path, None).await.unwrap_err();
        assert!(
            matches!(&error, TransferError::UnsafePath { archive, .. } if *archive == path),
            "{what}: {error}"
        );
    }
    // A link that stays inside is followed.
    let good = small_archive(dir.path()).await;
    let mut archive = tar::Archive::new(&good[..]);
    let mut files = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        if entry.header().entry_type().is_file() {
            files.push((name, data));
        }
    }
    let mut entries: Vec<RawEntry<'_>> = Vec::new();
    for (name, data) in &files {
        if name == layout::INDEX_FILE {
            entries.push(RawEntry::file("real/index.json", data));
            entries.push(RawEntry::symlink("index.json", "real/./index.json"));
        } else {
            entries.push(RawEntry::file(name, data));
        }
    }
    std::fs::write(&path, raw_tar(&entries)).unwrap();
    let source = OciArchiveSource::open(&path, None).await.unwrap();
    read_and_validate(&source).await;
    let (_, all) = read_all(&source).await;
    assert_eq!(all.len(), 4);
    assert!(
        files_under(dir.path())
            .iter()
            .all(|f| !f.contains("escape"))
    );
}
