//! `oci:` layouts: round trips of an image and a two-platform index, several images in one
//! layout, referrers, offsets and ranges, bad layouts and bad blobs (typed errors, nothing
//! visible), resuming a broken blob write across a "restart", and corrupt ingest state.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use std::path::Path;

use bytes::Bytes;
use futures_util::StreamExt;
use gantry_reference::{Algorithm, Digest};
use gantry_spec::{Descriptor, ImageManifest, Platform, annotations, layout, media_type, validate};
use gantry_transfer::{
    ImageDestination, ImageName, ImageSource, OciLayoutDestination, OciLayoutSource, TransferError,
};
use support::{Content, bytes_stream, copy, files_under, read_and_validate, read_blob};

fn amd64() -> Platform {
    Platform::new("linux", "amd64")
}

fn blob_files(dir: &Path) -> Vec<String> {
    files_under(&dir.join("blobs"))
}

#[tokio::test]
async fn an_image_and_an_index_round_trip_with_every_digest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = Content::new();
    let image = content.image(1, &[1_000, 300_000], true, &amd64(), false);
    let index = content.two_platform_index(10);

    for (name, top) in [("v1", &image), ("multi", &index)] {
        let destination = OciLayoutDestination::create(dir.path(), Some(name.to_owned()))
            .await
            .unwrap();
        assert_eq!(
            destination.name(),
            &ImageName::OciLayout {
                path: dir.path().to_path_buf(),
                reference: Some(name.to_owned())
            }
        );
        let copied = copy(&content.source(top), &destination).await.unwrap();
        assert_eq!(copied.digest(), top.digest());

        let source = OciLayoutSource::open(dir.path(), Some(name.to_owned()))
            .await
            .unwrap();
        assert_eq!(source.descriptor().digest, *top.digest());
        let (read, files) = read_and_validate(&source).await;
        assert_eq!(read.digest(), top.digest());
        assert_eq!(read.bytes(), top.bytes());
        for (digest, bytes) in &files {
            assert_eq!(Digest::of(digest.algorithm(), bytes), *digest);
        }
    }
    // The index's children come back by digest with their own media types.
    let source = OciLayoutSource::open(dir.path(), Some("multi".to_owned()))
        .await
        .unwrap();
    for child in index.manifests() {
        let manifest = source.manifest(Some(&child.digest)).await.unwrap();
        assert_eq!(manifest.digest(), &child.digest);
        assert_eq!(manifest.media_type(), child.media_type);
    }
    // The layout is valid as a whole, and the ingest area is gone.
    assert!(!dir.path().join(".gantry-ingest").exists());
    let index_json = std::fs::read(dir.path().join("index.json")).unwrap();
    let index_json = layout::parse_index(index_json, &Default::default()).unwrap();
    let mut on_disk = std::collections::HashMap::new();
    for file in blob_files(dir.path()) {
        let bytes = std::fs::read(dir.path().join("blobs").join(&file)).unwrap();
        let digest = Digest::parse(&file.replace('/', ":")).unwrap();
        on_disk.insert(digest, Bytes::from(bytes));
    }
    validate::manifest(&on_disk, &index_json).unwrap();
}

#[tokio::test]
async fn several_images_share_a_layout_by_ref_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = Content::new();
    let first = content.image(1, &[100], false, &amd64(), false);
    let second = content.image(2, &[200], false, &amd64(), false);
    let third = content.image(3, &[300], false, &amd64(), false);

    for (name, image) in [(Some("a"), &first), (Some("b"), &second), (None, &third)] {
        let destination = OciLayoutDestination::create(dir.path(), name.map(str::to_owned))
            .await
            .unwrap();
        copy(&content.source(image), &destination).await.unwrap();
    }
    for (name, image) in [("a", &first), ("b", &second)] {
        let source = OciLayoutSource::open(dir.path(), Some(name.to_owned()))
            .await
            .unwrap();
        assert_eq!(
            source.manifest(None).await.unwrap().digest(),
            image.digest()
        );
    }
    let error = OciLayoutSource::open(dir.path(), None).await.unwrap_err();
    assert!(
        matches!(&error, TransferError::AmbiguousImage { candidates, .. } if candidates.contains("a, b")),
        "{error}"
    );
    let error = OciLayoutSource::open(dir.path(), Some("c".to_owned()))
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error}");

    // Writing "a" again replaces its entry; the same unnamed image is not listed twice.
    let destination = OciLayoutDestination::create(dir.path(), Some("a".to_owned()))
        .await
        .unwrap();
    copy(&content.source(&second), &destination).await.unwrap();
    let destination = OciLayoutDestination::create(dir.path(), None)
        .await
        .unwrap();
    copy(&content.source(&third), &destination).await.unwrap();
    let index = std::fs::read(dir.path().join("index.json")).unwrap();
    let index = layout::parse_index(index, &Default::default()).unwrap();
    let names: Vec<Option<&str>> = index
        .manifests()
        .iter()
        .map(|d| d.annotations.get(annotations::REF_NAME).map(String::as_str))
        .collect();
    assert_eq!(names, [Some("a"), Some("b"), None]);
    assert_eq!(index.manifests()[0].digest, *second.digest());
    let source = OciLayoutSource::open(dir.path(), Some("a".to_owned()))
        .await
        .unwrap();
    assert_eq!(
        source.manifest(None).await.unwrap().digest(),
        second.digest()
    );
}

#[tokio::test]
async fn the_only_image_needs_no_name_and_an_empty_layout_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = Content::new();
    let image = content.image(1, &[100], false, &amd64(), false);
    let destination = OciLayoutDestination::create(dir.path(), None)
        .await
        .unwrap();
    // Before the commit the layout exists but holds no image.
    let error = OciLayoutSource::open(dir.path(), None).await.unwrap_err();
    assert!(
        matches!(error, TransferError::InvalidFormat { .. }),
        "{error}"
    );
    copy(&content.source(&image), &destination).await.unwrap();
    let source = OciLayoutSource::open(dir.path(), None).await.unwrap();
    assert_eq!(
        source.manifest(None).await.unwrap().digest(),
        image.digest()
    );

    let empty = tempfile::tempdir().unwrap();
    std::fs::write(
        empty.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        empty.path().join("index.json"),
        r#"{"schemaVersion":2,"manifests":[]}"#,
    )
    .unwrap();
    let error = OciLayoutSource::open(empty.path(), None).await.unwrap_err();
    assert!(error.is_not_found(), "{error}");
}

#[tokio::test]
async fn blobs_are_served_from_an_offset_and_by_range() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = Content::new();
    let image = content.image(1, &[100_000], false, &amd64(), false);
    let destination = OciLayoutDestination::create(dir.path(), Some("v".to_owned()))
        .await
        .unwrap();
    copy(&content.source(&image), &destination).await.unwrap();
    let source = OciLayoutSource::open(dir.path(), Some("v".to_owned()))
        .await
        .unwrap();
    let layer = &image.layers()[0];
    let whole = content.blobs[&layer.digest].clone();

    let mut stream = source.blob(layer, 40_000).await.unwrap();
    let mut tail = Vec::new();
    while let Some(chunk) = stream.next().await {
        tail.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(tail, whole[40_000..]);

    let mut stream = source.blob_range(layer, 10, 70_010).await.unwrap().unwrap();
    let mut range = Vec::new();
    while let Some(chunk) = stream.next().await {
        range.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(range, whole[10..70_010]);

    let missing = Descriptor::of(media_type::OCI_LAYER_TAR, b"not there");
    let Err(error) = source.blob(&missing, 0).await else {
        panic!("a missing blob streamed");
    };
    assert!(error.is_not_found(), "{error}");
}

#[tokio::test]
async fn referrers_are_found_among_the_layouts_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = Content::new();
    let image = content.image(1, &[100], false, &amd64(), false);
    let signature = content.blob("application/vnd.example.signature", b"sig".to_vec());
    let artifact = ImageManifest::builder(Descriptor::empty())
        .artifact_type("application/vnd.example.signature")
        .layer(signature)
        .subject(image.descriptor())
        .annotation("note", "signed")
        .build()
        .unwrap();
    content.blobs.insert(
        Descriptor::empty().digest,
        Bytes::from_static(media_type::EMPTY_JSON),
    );
    let artifact = content.manifest(artifact);

    let destination = OciLayoutDestination::create(dir.path(), Some("v".to_owned()))
        .await
        .unwrap();
    copy(&content.source(&image), &destination).await.unwrap();
    let destination = OciLayoutDestination::create(dir.path(), None)
        .await
        .unwrap();
    copy(&content.source(&artifact), &destination)
        .await
        .unwrap();

    let source = OciLayoutSource::open(dir.path(), Some("v".to_owned()))
        .await
        .unwrap();
    let referrers = source.referrers(image.digest(), None).await.unwrap();
    assert_eq!(referrers.len(), 1);
    assert_eq!(referrers[0].digest, *artifact.digest());
    assert_eq!(
        referrers[0].artifact_type.as_deref(),
        Some("application/vnd.example.signature")
    );
    assert_eq!(referrers[0].annotations["note"], "signed");
    let none = source
        .referrers(image.digest(), Some("application/other"))
        .await
        .unwrap();
    assert!(none.is_empty());
    // A referrer is itself readable by digest.
    let read = source.manifest(Some(artifact.digest())).await.unwrap();
    assert_eq!(read.bytes(), artifact.bytes());
}

#[tokio::test]
async fn directories_that_are_no_layout_give_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    // No oci-layout file.
    let error = OciLayoutSource::open(dir.path(), None).await.unwrap_err();
    assert!(
        matches!(&error, TransferError::InvalidFormat { reason, .. } if reason.contains("oci-layout")),
        "{error}"
    );
    // A bad oci-layout.
    std::fs::write(
        dir.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"2.0.0"}"#,
    )
    .unwrap();
    let error = OciLayoutSource::open(dir.path(), None).await.unwrap_err();
    assert!(
        matches!(error, TransferError::InvalidFormat { .. }),
        "{error}"
    );
    let error = OciLayoutDestination::create(dir.path(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, TransferError::InvalidFormat { .. }),
        "{error}"
    );
    // Garbage index.json: refused by the source and the destination, and not overwritten.
    std::fs::write(
        dir.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("index.json"), b"{\"schemaVers").unwrap();
    let error = OciLayoutSource::open(dir.path(), None).await.unwrap_err();
    assert!(
        matches!(&error, TransferError::InvalidFormat { reason, .. } if reason.contains("index.json")),
        "{error}"
    );
    let error = OciLayoutDestination::create(dir.path(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, TransferError::InvalidFormat { .. }),
        "{error}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("index.json")).unwrap(),
        b"{\"schemaVers"
    );
}

#[tokio::test]
async fn a_manifest_whose_bytes_changed_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = Content::new();
    let image = content.image(1, &[100], false, &amd64(), false);
    let destination = OciLayoutDestination::create(dir.path(), Some("v".to_owned()))
        .await
        .unwrap();
    copy(&content.source(&image), &destination).await.unwrap();
    let path = dir.path().join(layout::blob_path(image.digest()));
    // Still a valid manifest of the same size, but other bytes: one hex digit of the config's
    // digest changed.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(7).position(|w| w == b"sha256:").unwrap() + 7;
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&path, &bytes).unwrap();
    let source = OciLayoutSource::open(dir.path(), Some("v".to_owned()))
        .await
        .unwrap();
    let error = source.manifest(None).await.unwrap_err();
    assert!(
        matches!(error, TransferError::DigestMismatch { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn bad_blobs_leave_nothing_visible() {
    let dir = tempfile::tempdir().unwrap();
    let destination = OciLayoutDestination::create(dir.path(), None)
        .await
        .unwrap();
    let good = support::noise(7, 10_000);
    let descriptor = Descriptor::of(media_type::OCI_LAYER_TAR, &good);

    // The right size, the wrong bytes.
    let mut wrong = good.clone();
    wrong[5_000] ^= 1;
    let error = destination
        .put_blob(&descriptor, 0, bytes_stream(wrong))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, TransferError::DigestMismatch { expected, .. } if *expected == descriptor.digest),
        "{error}"
    );
    // Too long.
    let mut long = good.clone();
    long.push(0);
    let error = destination
        .put_blob(&descriptor, 0, bytes_stream(long))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            TransferError::SizeMismatch {
                expected: 10_000,
                ..
            }
        ),
        "{error}"
    );
    // Too short.
    let error = destination
        .put_blob(&descriptor, 0, bytes_stream(good[..9_000].to_vec()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            TransferError::SizeMismatch {
                expected: 10_000,
                actual: 9_000,
                ..
            }
        ),
        "{error}"
    );
    // A descriptor that lies about the size of the right bytes.
    let lying = Descriptor::new(media_type::OCI_LAYER_TAR, descriptor.digest.clone(), 9_999);
    let error = destination
        .put_blob(&lying, 0, bytes_stream(good.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, TransferError::SizeMismatch { .. }),
        "{error}"
    );
    assert!(
        blob_files(dir.path()).is_empty(),
        "{:?}",
        blob_files(dir.path())
    );
    assert!(!destination.has_blob(&descriptor).await.unwrap());

    // The right bytes go through, and a wrong-sized file is not taken for the blob.
    destination
        .put_blob(&descriptor, 0, bytes_stream(good.clone()))
        .await
        .unwrap();
    assert!(destination.has_blob(&descriptor).await.unwrap());
    assert!(!destination.has_blob(&lying).await.unwrap());
    assert_eq!(blob_files(dir.path()).len(), 1);
    assert!(!dir.path().join(".gantry-ingest").exists());
}

#[tokio::test]
async fn different_blobs_are_written_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let destination = OciLayoutDestination::create(dir.path(), None)
        .await
        .unwrap();
    let blobs: Vec<Vec<u8>> = (0..12)
        .map(|i| support::noise(i, 100_000 + i as usize * 5_000))
        .collect();
    let writes = blobs.iter().map(|bytes| {
        let descriptor = Descriptor::of(media_type::OCI_LAYER_TAR, bytes);
        let destination = &destination;
        async move {
            destination
                .put_blob(&descriptor, 0, bytes_stream(bytes.clone()))
                .await
                .map(|()| descriptor)
        }
    });
    let written = futures_util::future::join_all(writes).await;
    for (descriptor, bytes) in written.into_iter().zip(&blobs) {
        let descriptor = descriptor.unwrap();
        let on_disk =
            std::fs::read(dir.path().join(layout::blob_path(&descriptor.digest))).unwrap();
        assert_eq!(&on_disk, bytes);
    }
    assert!(!dir.path().join(".gantry-ingest").exists());
}

/// A blob of 10 MiB and a bit, broken after 6 MiB and a bit.
fn big_blob() -> (Vec<u8>, Descriptor) {
    let bytes = support::noise(42, 10 * 1024 * 1024 + 77);
    let descriptor = Descriptor::of(media_type::OCI_LAYER_TAR, &bytes);
    (bytes, descriptor)
}

const BREAK_AT: usize = 6 * 1024 * 1024 + 64 * 1024;

/// Breaks a write of `descriptor` after [`BREAK_AT`] bytes; returns what resume_offset answers.
async fn break_a_write(destination: &OciLayoutDestination, bytes: &[u8], descriptor: &Descriptor) {
    let mut content = Content::new();
    content
        .blobs
        .insert(descriptor.digest.clone(), Bytes::from(bytes.to_vec()));
    let image = content.image(1, &[1], false, &amd64(), false);
    let source = content.source(&image).failing(&descriptor.digest, BREAK_AT);
    let data = source.blob(descriptor, 0).await.unwrap();
    let error = destination.put_blob(descriptor, 0, data).await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(!destination.has_blob(descriptor).await.unwrap());
}

#[tokio::test]
async fn a_broken_blob_write_resumes_after_a_restart_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, descriptor) = big_blob();
    {
        let destination = OciLayoutDestination::create(dir.path(), None)
            .await
            .unwrap();
        break_a_write(&destination, &bytes, &descriptor).await;
        assert!(blob_files(dir.path()).is_empty());
    }
    // A new destination, as after the process was killed and started again.
    let destination = OciLayoutDestination::create(dir.path(), None)
        .await
        .unwrap();
    let offset = destination.resume_offset(&descriptor).await.unwrap();
    assert_eq!(offset, BREAK_AT as u64);
    // Asking twice gives the same answer.
    assert_eq!(
        destination.resume_offset(&descriptor).await.unwrap(),
        offset
    );
    // Resuming elsewhere is refused.
    let error = destination
        .put_blob(
            &descriptor,
            offset - 1,
            bytes_stream(bytes[BREAK_AT - 1..].to_vec()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, TransferError::ResumeMismatch { available, .. } if available == offset),
        "{error}"
    );
    let offset = destination.resume_offset(&descriptor).await.unwrap();
    destination
        .put_blob(
            &descriptor,
            offset,
            bytes_stream(bytes[BREAK_AT..].to_vec()),
        )
        .await
        .unwrap();
    assert!(destination.has_blob(&descriptor).await.unwrap());
    assert_eq!(
        std::fs::read(dir.path().join(layout::blob_path(&descriptor.digest))).unwrap(),
        bytes
    );
    assert!(!dir.path().join(".gantry-ingest").exists());
    assert_eq!(destination.resume_offset(&descriptor).await.unwrap(), 0);
}

#[tokio::test]
async fn a_resumed_write_with_wrong_bytes_is_refused_and_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, descriptor) = big_blob();
    let destination = OciLayoutDestination::create(dir.path(), None)
        .await
        .unwrap();
    break_a_write(&destination, &bytes, &descriptor).await;
    let offset = destination.resume_offset(&descriptor).await.unwrap();
    let mut rest = bytes[BREAK_AT..].to_vec();
    rest[100] ^= 0xff;
    let error = destination
        .put_blob(&descriptor, offset, bytes_stream(rest))
        .await
        .unwrap_err();
    assert!(
        matches!(error, TransferError::DigestMismatch { .. }),
        "{error}"
    );
    assert!(blob_files(dir.path()).is_empty());
    assert_eq!(destination.resume_offset(&descriptor).await.unwrap(), 0);
    assert!(!dir.path().join(".gantry-ingest").exists());
}

fn ingest_file(dir: &Path, descriptor: &Descriptor, extension: &str) -> std::path::PathBuf {
    dir.join(".gantry-ingest").join(format!(
        "sha256-{}.{extension}",
        descriptor.digest.encoded()
    ))
}

#[tokio::test]
async fn corrupt_ingest_state_is_discarded() {
    type Damage = fn(&Path, &Path);
    let damages: &[(&str, Damage)] = &[
        ("a flipped byte in the data", |data, _| {
            let mut bytes = std::fs::read(data).unwrap();
            bytes[1_000] ^= 1;
            std::fs::write(data, bytes).unwrap();
        }),
        ("data shorter than the state", |data, _| {
            let file = std::fs::OpenOptions::new().write(true).open(data).unwrap();
            file.set_len(1_000).unwrap();
        }),
        ("a garbage state", |_, state| {
            std::fs::write(state, b"{not json").unwrap();
        }),
        ("a state for another blob", |_, state| {
            let text = std::fs::read_to_string(state).unwrap();
            let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
            let other = Digest::of(Algorithm::Sha256, b"other");
            value["digest"] = serde_json::Value::String(other.to_string());
            std::fs::write(state, value.to_string()).unwrap();
        }),
        ("a hash state that is not one", |_, state| {
            let text = std::fs::read_to_string(state).unwrap();
            let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
            value["hashState"] = serde_json::Value::String("00ff".to_owned());
            std::fs::write(state, value.to_string()).unwrap();
        }),
        ("no state at all", |_, state| {
            std::fs::remove_file(state).unwrap();
        }),
    ];
    let (bytes, descriptor) = big_blob();
    for (what, damage) in damages {
        let dir = tempfile::tempdir().unwrap();
        let destination = OciLayoutDestination::create(dir.path(), None)
            .await
            .unwrap();
        break_a_write(&destination, &bytes, &descriptor).await;
        let data = ingest_file(dir.path(), &descriptor, "data");
        let state = ingest_file(dir.path(), &descriptor, "state");
        assert!(data.exists() && state.exists(), "{what}");
        damage(&data, &state);
        let destination = OciLayoutDestination::create(dir.path(), None)
            .await
            .unwrap();
        assert_eq!(
            destination.resume_offset(&descriptor).await.unwrap(),
            0,
            "{what}"
        );
        assert!(!data.exists() && !state.exists(), "{what}");
        assert!(!dir.path().join(".gantry-ingest").exists(), "{what}");
        // A fresh write still works.
        destination
            .put_blob(&descriptor, 0, bytes_stream(bytes.clone()))
            .await
            .unwrap();
        assert!(destination.has_blob(&descriptor).await.unwrap(), "{what}");
    }
}

#[tokio::test]
async fn data_written_after_the_last_save_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, descriptor) = big_blob();
    let destination = OciLayoutDestination::create(dir.path(), None)
        .await
        .unwrap();
    break_a_write(&destination, &bytes, &descriptor).await;
    // As if the process died after writing more data but before saving the state again.
    let data = ingest_file(dir.path(), &descriptor, "data");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&data)
        .unwrap();
    std::io::Write::write_all(&mut file, b"garbage that no state covers").unwrap();
    drop(file);
    let destination = OciLayoutDestination::create(dir.path(), None)
        .await
        .unwrap();
    let offset = destination.resume_offset(&descriptor).await.unwrap();
    assert_eq!(offset, BREAK_AT as u64);
    destination
        .put_blob(
            &descriptor,
            offset,
            bytes_stream(bytes[BREAK_AT..].to_vec()),
        )
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(dir.path().join(layout::blob_path(&descriptor.digest))).unwrap(),
        bytes
    );
}

#[tokio::test]
async fn a_broken_copy_resumes_from_the_kept_part_of_the_layer() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = Content::new();
    let image = content.image(1, &[9 * 1024 * 1024], false, &amd64(), false);
    let layer = image.layers()[0].clone();
    let source = content
        .source(&image)
        .failing(&layer.digest, 5 * 1024 * 1024);
    let destination = OciLayoutDestination::create(dir.path(), Some("v".to_owned()))
        .await
        .unwrap();
    let error = copy(&source, &destination).await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(
        OciLayoutSource::open(dir.path(), Some("v".to_owned()))
            .await
            .is_err()
    );
    assert_eq!(
        destination.resume_offset(&layer).await.unwrap(),
        5 * 1024 * 1024
    );
    copy(&source, &destination).await.unwrap();
    let read = OciLayoutSource::open(dir.path(), Some("v".to_owned()))
        .await
        .unwrap();
    let (top, _) = read_and_validate(&read).await;
    assert_eq!(top.digest(), image.digest());
    assert_eq!(read_blob(&read, &layer).await, content.blobs[&layer.digest]);
}
