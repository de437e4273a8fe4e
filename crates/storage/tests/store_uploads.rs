//! Blob uploads: streaming writes, offsets, commit checks, cancel, resume across registries,
//! and nothing visible under a digest before it is verified.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod store_support;

use bytes::Bytes;
use gantry_reference::{Algorithm, Digest};
use gantry_storage::StorageError;
use store_support::*;

#[tokio::test]
async fn chunked_upload_commits_once_and_is_visible_only_after() {
    let registry = memory();
    let repository = registry.repository(&name("team/app"));
    let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let digest = sha256(&content);

    let mut writer = start(&repository).await;
    for (i, part) in content.chunks(7_000).enumerate() {
        writer
            .write_at(writer.size(), Bytes::copy_from_slice(part))
            .await
            .unwrap();
        if i == 3 {
            assert!(
                repository
                    .blobs()
                    .stat(&digest)
                    .await
                    .unwrap_err()
                    .is_not_found()
            );
        }
    }
    assert_eq!(writer.size(), content.len() as u64);
    let descriptor = writer
        .commit(&digest, Some(content.len() as u64))
        .await
        .unwrap();
    assert_eq!(descriptor.digest, digest);
    assert_eq!(descriptor.size, content.len() as u64);
    assert_eq!(blob(&repository, &digest).await, content);

    let (_, reader) = repository.blobs().open(&digest, 99_990).await.unwrap();
    assert_eq!(read_all(reader).await, &content[99_990..]);
    assert!(matches!(
        repository.blobs().open(&digest, 100_001).await,
        Err(StorageError::InvalidOffset { .. })
    ));
}

#[tokio::test]
async fn a_chunk_at_the_wrong_offset_is_refused_and_writes_nothing() {
    let registry = memory();
    let repository = registry.repository(&name("app"));
    let mut writer = start(&repository).await;
    writer.write(Bytes::from_static(b"abc")).await.unwrap();
    for offset in [0u64, 2, 4, 100] {
        let error = writer
            .write_at(offset, Bytes::from_static(b"zzz"))
            .await
            .unwrap_err();
        assert!(
            matches!(error, StorageError::UploadOffsetMismatch { size: 3, offset: o, .. } if o == offset),
            "{error:?}"
        );
    }
    writer
        .write_at(3, Bytes::from_static(b"def"))
        .await
        .unwrap();
    writer.commit(&sha256(b"abcdef"), None).await.unwrap();
    assert_eq!(blob(&repository, &sha256(b"abcdef")).await, b"abcdef");
}

#[tokio::test]
async fn failed_commits_leave_nothing_visible_and_remove_the_session() {
    // (what was sent, digest given, size given, expected error)
    let cases: [(&[u8], Digest, Option<u64>, &str); 4] = [
        (b"hello", sha256(b"world"), None, "digest"),
        (b"hello", sha256(b"hello"), Some(4), "size"),
        (b"hello", sha256(b"hello"), Some(6), "size"),
        (b"", sha256(b"x"), Some(0), "digest"),
    ];
    for (content, digest, size, kind) in cases {
        let registry = memory();
        let repository = registry.repository(&name("app"));
        let mut writer = start(&repository).await;
        let id = writer.id().to_owned();
        writer.write(Bytes::copy_from_slice(content)).await.unwrap();
        let error = writer.commit(&digest, size).await.unwrap_err();
        assert!(error.is_digest_mismatch(), "{error:?}");
        match kind {
            "digest" => assert!(matches!(error, StorageError::DigestMismatch { .. })),
            _ => assert!(matches!(error, StorageError::SizeMismatch { .. })),
        }
        for visible in [&digest, &sha256(content)] {
            assert!(repository.blobs().stat(visible).await.is_err());
        }
        assert!(matches!(
            repository.blobs().resume(&id).await,
            Err(StorageError::BlobUploadUnknown { .. })
        ));
        let files = all_files(&registry).await;
        assert!(
            files
                .iter()
                .all(|f| !f.contains("/blobs/") && !f.contains("_uploads")),
            "{files:?}"
        );
    }
}

#[tokio::test]
async fn cancel_removes_the_session_and_is_safe_twice() {
    let registry = memory();
    let repository = registry.repository(&name("app"));
    let mut writer = start(&repository).await;
    let id = writer.id().to_owned();
    writer.write(Bytes::from_static(b"partial")).await.unwrap();
    writer.close().await.unwrap();

    // A second server on the same storage cancels while this one still holds a writer:
    // cancelling the writer of a session already gone is fine.
    let held = repository.blobs().resume(&id).await.unwrap();
    let second = gantry_storage::Registry::new(
        std::sync::Arc::clone(registry.driver()),
        gantry_storage::RegistryOptions::new(),
    )
    .unwrap();
    let elsewhere = second.repository(&name("app"));
    elsewhere.blobs().cancel_upload(&id).await.unwrap();
    held.cancel().await.unwrap();
    // A second cancel by id is a clean "unknown upload" (the server's 404).
    assert!(matches!(
        elsewhere.blobs().cancel_upload(&id).await,
        Err(StorageError::BlobUploadUnknown { .. })
    ));
    assert!(matches!(
        repository.blobs().resume(&id).await,
        Err(StorageError::BlobUploadUnknown { .. })
    ));
    assert!(all_files(&registry).await.iter().all(|f| !f.contains(&id)));
}

#[tokio::test]
async fn resume_across_a_second_registry_on_the_same_storage() {
    let dir = tempfile::tempdir().unwrap();
    let first = filesystem(dir.path());
    let second = filesystem(dir.path());
    let repo = name("team/app");
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let digest = sha256(&content);

    let mut writer = start(&first.repository(&repo)).await;
    let id = writer.id().to_owned();
    let token = first.upload_token(&repo, &id, writer.started_at());
    writer
        .write(Bytes::copy_from_slice(&content[..100_000]))
        .await
        .unwrap();
    writer.close().await.unwrap();

    // The second server checks the token, then carries on where storage says.
    let started = second.verify_upload_token(&repo, &id, &token).unwrap();
    let mut writer = second.repository(&repo).blobs().resume(&id).await.unwrap();
    assert_eq!(writer.started_at(), started);
    assert_eq!(writer.size(), 100_000);
    writer
        .write_at(100_000, Bytes::copy_from_slice(&content[100_000..250_000]))
        .await
        .unwrap();
    writer.close().await.unwrap();

    let mut writer = first.repository(&repo).blobs().resume(&id).await.unwrap();
    writer
        .write_at(250_000, Bytes::copy_from_slice(&content[250_000..]))
        .await
        .unwrap();
    writer
        .commit(&digest, Some(content.len() as u64))
        .await
        .unwrap();
    assert_eq!(blob(&second.repository(&repo), &digest).await, content);
}

#[tokio::test]
async fn resume_without_a_usable_hash_state_rehashes_the_data() {
    let registry = memory();
    let repo = name("app");
    let repository = registry.repository(&repo);
    let mut writer = start(&repository).await;
    let id = writer.id().to_owned();
    writer.write(Bytes::from_static(b"hello ")).await.unwrap();
    writer.close().await.unwrap();
    // Replace the saved state with Go's format, as Distribution would have written it.
    let state = gantry_storage::StoragePath::new(format!(
        "/docker/registry/v2/repositories/app/_uploads/{id}/hashstates/sha256/6"
    ))
    .unwrap();
    registry
        .driver()
        .put_content(&state, Bytes::from_static(b"sha\x03not our format"))
        .await
        .unwrap();
    let mut writer = repository.blobs().resume(&id).await.unwrap();
    writer.write(Bytes::from_static(b"world")).await.unwrap();
    writer
        .commit(&sha256(b"hello world"), Some(11))
        .await
        .unwrap();
    assert_eq!(
        blob(&repository, &sha256(b"hello world")).await,
        b"hello world"
    );
}

/// Hash states are saved without waiting for the disk: after a crash one may be empty, or
/// every one of them gone. The upload still carries on, and still checks its digest.
#[tokio::test]
async fn resume_after_a_crash_lost_the_unsynced_hash_states() {
    let registry = memory();
    let repository = registry.repository(&name("app"));
    let content = b"a layer of some length".repeat(100);
    // A sha512 session holding the first 1,000 bytes, and its `hashstates` directory.
    let begin = || async {
        let mut writer = start_hashed(&repository, Algorithm::Sha512).await;
        let id = writer.id().to_owned();
        writer
            .write(Bytes::copy_from_slice(&content[..1000]))
            .await
            .unwrap();
        writer.close().await.unwrap();
        let states = format!("/docker/registry/v2/repositories/app/_uploads/{id}/hashstates");
        (id, states)
    };
    let storage_path = |p: String| gantry_storage::StoragePath::new(p).unwrap();

    // The state at the data's size is empty: the data is hashed again.
    let (id, states) = begin().await;
    let state = storage_path(format!("{states}/sha512/1000"));
    registry
        .driver()
        .put_content(&state, Bytes::new())
        .await
        .unwrap();
    let mut writer = repository.blobs().resume(&id).await.unwrap();
    assert_eq!(
        writer.algorithm(),
        Algorithm::Sha512,
        "rehashed from the data"
    );
    writer
        .write(Bytes::copy_from_slice(&content[1000..2000]))
        .await
        .unwrap();
    writer.close().await.unwrap();
    // Every state gone: a wrong digest is still refused, and the session is gone with it.
    registry
        .driver()
        .delete(&storage_path(states))
        .await
        .unwrap();
    let writer = repository.blobs().resume(&id).await.unwrap();
    assert_eq!(writer.size(), 2000);
    let wrong = Digest::of(Algorithm::Sha512, &content[..1999]);
    assert!(writer.commit(&wrong, None).await.is_err());

    // Every state gone: the right digest commits the blob.
    let (id, states) = begin().await;
    registry
        .driver()
        .delete(&storage_path(states))
        .await
        .unwrap();
    let mut writer = repository.blobs().resume(&id).await.unwrap();
    writer
        .write(Bytes::copy_from_slice(&content[1000..]))
        .await
        .unwrap();
    let sha512 = Digest::of(Algorithm::Sha512, &content);
    let length = content.len() as u64;
    writer.commit(&sha512, Some(length)).await.unwrap();
    assert_eq!(blob(&repository, &sha512).await, content);
}

#[tokio::test]
async fn sha512_uploads_and_cross_algorithm_commits() {
    let registry = memory();
    let repository = registry.repository(&name("app"));
    let content = b"some layer".repeat(1000);
    let sha512 = Digest::of(Algorithm::Sha512, &content);

    // Hashed with sha512 as it streams, resumed from its saved sha512 state.
    let mut writer = start_hashed(&repository, Algorithm::Sha512).await;
    let id = writer.id().to_owned();
    writer
        .write(Bytes::copy_from_slice(&content[..5000]))
        .await
        .unwrap();
    writer.close().await.unwrap();
    let mut writer = repository.blobs().resume(&id).await.unwrap();
    assert_eq!(writer.algorithm(), Algorithm::Sha512);
    writer
        .write(Bytes::copy_from_slice(&content[5000..]))
        .await
        .unwrap();
    writer.commit(&sha512, None).await.unwrap();
    assert_eq!(blob(&repository, &sha512).await, content);

    // A sha256 upload committed under a sha512 digest: rehashed, stored once, linked under both.
    let other = b"other layer".repeat(100);
    let other512 = Digest::of(Algorithm::Sha512, &other);
    let mut writer = start(&repository).await;
    writer.write(Bytes::copy_from_slice(&other)).await.unwrap();
    let descriptor = writer.commit(&other512, None).await.unwrap();
    assert_eq!(descriptor.digest, other512);
    assert_eq!(blob(&repository, &other512).await, other);
    assert_eq!(blob(&repository, &sha256(&other)).await, other);
}

#[tokio::test]
async fn purge_removes_old_sessions_only() {
    let registry = memory();
    let repository = registry.repository(&name("team/app"));
    let mut kept = start(&repository).await;
    kept.write(Bytes::from_static(b"x")).await.unwrap();
    let kept_id = kept.id().to_owned();
    kept.close().await.unwrap();
    let other = registry.repository(&name("other"));
    let old = start(&other).await;
    let old_id = old.id().to_owned();
    old.close().await.unwrap();
    // Backdate one session's start, as a server that crashed a week ago would have left it.
    let started = gantry_storage::StoragePath::new(format!(
        "/docker/registry/v2/repositories/other/_uploads/{old_id}/startedat"
    ))
    .unwrap();
    registry
        .driver()
        .put_content(&started, Bytes::from_static(b"2020-01-01T00:00:00Z"))
        .await
        .unwrap();

    assert_eq!(registry.purge_expired_uploads().await.unwrap(), 1);
    assert!(other.blobs().resume(&old_id).await.is_err());
    repository
        .blobs()
        .resume(&kept_id)
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    assert_eq!(
        registry
            .purge_uploads(std::time::Duration::ZERO)
            .await
            .unwrap(),
        1
    );
    assert!(repository.blobs().resume(&kept_id).await.is_err());
}

/// Every file path in the registry's driver.
async fn all_files(registry: &gantry_storage::Registry) -> Vec<String> {
    let mut files = Vec::new();
    let mut visit = |info: &gantry_storage::FileInfo| {
        if !info.is_dir {
            files.push(info.path.to_string());
        }
        gantry_storage::WalkControl::Continue
    };
    let root = gantry_storage::StoragePath::root();
    registry.driver().walk(&root, &mut visit).await.unwrap();
    files
}
