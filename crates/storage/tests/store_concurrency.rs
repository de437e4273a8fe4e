//! Many tasks at once on a multi-thread runtime: uploads of the same blob and updates of the
//! same tag end consistent, on both drivers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod store_support;

use bytes::Bytes;
use gantry_storage::Registry;
use store_support::*;

const TASKS: usize = 16;

async fn same_blob_uploads(registry: Registry) {
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 199) as u8).collect();
    let digest = sha256(&content);
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let registry = registry.clone();
        let content = content.clone();
        handles.push(tokio::spawn(async move {
            // Half the tasks share a repository, half have their own.
            let repo = if task % 2 == 0 {
                "shared".to_owned()
            } else {
                format!("own{task}")
            };
            let repository = registry.repository(&name(&repo));
            upload(&repository, &content, 8_192 + task * 1_000).await
        }));
    }
    for handle in handles {
        assert_eq!(handle.await.unwrap().digest, digest);
    }
    for task in 0..TASKS {
        let repo = if task % 2 == 0 {
            "shared".to_owned()
        } else {
            format!("own{task}")
        };
        let repository = registry.repository(&name(&repo));
        assert_eq!(blob(&repository, &digest).await, content, "{repo}");
    }
    // Every upload session is gone.
    assert_eq!(
        registry
            .purge_uploads(std::time::Duration::ZERO)
            .await
            .unwrap(),
        0
    );
}

async fn same_tag_updates(registry: Registry) {
    let repository = registry.repository(&name("app"));
    let mut digests = Vec::new();
    for i in 0..4u8 {
        let image = push_image(&repository, &[b'c', i], &[b"layer"], None).await;
        digests.push(image.digest().clone());
    }
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let repository = repository.clone();
        let digest = digests[task % digests.len()].clone();
        handles.push(tokio::spawn(async move {
            for round in 0..5 {
                let t = if round % 2 == 0 { "latest" } else { "stable" };
                repository.tags().tag(&tag(t), &digest).await.unwrap();
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    for t in ["latest", "stable"] {
        let current = repository.tags().get(&tag(t)).await.unwrap();
        assert!(digests.contains(&current));
        for digest in &digests {
            let tags = repository.tags().lookup(digest).await.unwrap();
            assert_eq!(
                tags.contains(&tag(t)),
                *digest == current,
                "{t} -> {digest}"
            );
        }
    }
    // The indexes rebuilt from the layout say the same.
    repository.rebuild_indexes().await.unwrap();
    let current = repository.tags().get(&tag("latest")).await.unwrap();
    assert!(
        repository
            .tags()
            .lookup(&current)
            .await
            .unwrap()
            .contains(&tag("latest"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uploads_of_one_blob_in_memory() {
    same_blob_uploads(memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uploads_of_one_blob_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    same_blob_uploads(filesystem(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tag_updates_in_memory() {
    same_tag_updates(memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tag_updates_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    same_tag_updates(filesystem(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_small_puts_and_stats() {
    let registry = memory();
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let registry = registry.clone();
        handles.push(tokio::spawn(async move {
            let repository = registry.repository(&name("app"));
            for i in 0..20u8 {
                let content = Bytes::from(vec![i; 10]);
                let descriptor = repository.blobs().put(content).await.unwrap();
                assert_eq!(
                    repository
                        .blobs()
                        .stat(&descriptor.digest)
                        .await
                        .unwrap()
                        .size,
                    10
                );
            }
            task
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
}
