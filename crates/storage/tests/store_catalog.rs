//! The catalog and tag lists: sorted by full name, paginated by `n` and `last`, and only
//! repositories (directories with `_manifests` or `_layers`) listed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod store_support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gantry_storage::{InMemoryDriver, Registry, RegistryOptions, StorageDriver, StorageError};
use store_support::*;

/// Names whose directory order differs from their string order: `a-b` < `a.b` < `a/b`.
const NAMES: [&str; 9] = [
    "a", "a-b", "a.b", "a/b", "a/b-c", "a/b/c", "a0", "b", "z/y/x",
];

async fn populated() -> Registry {
    populated_with(Duration::from_secs(10)).await
}

/// [`populated`], with the catalog cache kept for `refresh` (zero: every page walks the tree).
async fn populated_with(refresh: Duration) -> Registry {
    let registry = memory_with(
        RegistryOptions::new()
            .with_delete_enabled(true)
            .with_catalog_refresh(refresh),
    );
    // Repositories made in a scrambled order, some by a blob only (`_layers`), some by a manifest.
    for (i, name_str) in NAMES.iter().rev().enumerate() {
        let repository = registry.repository(&name(name_str));
        if i % 2 == 0 {
            repository
                .blobs()
                .put(Bytes::from_static(b"x"))
                .await
                .unwrap();
        } else {
            push_image(&repository, b"c", &[b"l"], None).await;
        }
    }
    // An upload alone does not make `ghost` a repository.
    start(&registry.repository(&name("ghost")))
        .await
        .close()
        .await
        .unwrap();
    registry
}

#[tokio::test]
async fn the_catalog_is_sorted_by_full_name() {
    let registry = populated().await;
    let all: Vec<String> = registry
        .catalog(100, None)
        .await
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut expected: Vec<String> = NAMES.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(all, expected);
}

#[tokio::test]
async fn the_catalog_paginates_for_every_n_and_last() {
    // From the cache, and walking the tree for every page.
    for refresh in [Duration::from_secs(10), Duration::ZERO] {
        paginates_for_every_n_and_last(populated_with(refresh).await).await;
    }
}

async fn paginates_for_every_n_and_last(registry: Registry) {
    let mut sorted: Vec<&str> = NAMES.to_vec();
    sorted.sort_unstable();
    // Every page size, walked from the start by `last`, gives the whole list in order.
    for n in 1..=NAMES.len() + 1 {
        let mut seen: Vec<String> = Vec::new();
        let mut last: Option<String> = None;
        for _ in 0..=NAMES.len() {
            let page = registry.catalog(n, last.as_deref()).await.unwrap();
            assert!(page.len() <= n);
            seen.extend(page.iter().map(ToString::to_string));
            if page.len() < n {
                break;
            }
            last = page.last().map(ToString::to_string);
        }
        assert_eq!(seen, sorted, "n = {n}");
    }
    // `last` need not be a repository.
    // (last, first names of the page)
    let cases: [(&str, &[&str]); 5] = [
        ("a-a", &["a-b", "a.b"]),
        ("a.b", &["a/b", "a/b-c"]),
        ("a/b/c", &["a0", "b"]),
        ("a/zzz", &["a0", "b"]),
        ("z/y/x", &[]),
    ];
    for (last, expected) in cases {
        let page = registry.catalog(2, Some(last)).await.unwrap();
        let page: Vec<String> = page.iter().map(ToString::to_string).collect();
        assert_eq!(page, expected, "last = {last}");
    }
    assert!(registry.catalog(0, None).await.unwrap().is_empty());
}

#[tokio::test]
async fn tags_are_sorted_and_paginated() {
    let registry = memory();
    let repository = registry.repository(&name("app"));
    let image = push_image(&repository, b"c", &[b"l"], None).await;
    let tags = ["v1", "V2", "latest", "1.0", "a_b", "a-b", "a.b"];
    for t in tags {
        repository
            .tags()
            .tag(&tag(t), image.digest())
            .await
            .unwrap();
    }
    let mut sorted: Vec<&str> = tags.to_vec();
    sorted.sort_unstable();
    let names = |page: Vec<gantry_reference::Tag>| -> Vec<String> {
        page.iter().map(ToString::to_string).collect()
    };
    assert_eq!(
        names(repository.tags().all(100, None).await.unwrap()),
        sorted
    );
    // (n, last, expected)
    let cases: [(usize, Option<&str>, &[&str]); 4] = [
        (2, None, &["1.0", "V2"]),
        (2, Some("V2"), &["a-b", "a.b"]),
        (3, Some("a_b"), &["latest", "v1"]),
        (5, Some("v1"), &[]),
    ];
    for (n, last, expected) in cases {
        let last = last.map(tag);
        let page = repository.tags().all(n, last.as_ref()).await.unwrap();
        assert_eq!(names(page), expected, "n = {n}, last = {last:?}");
    }
    assert!(matches!(
        registry
            .repository(&name("absent"))
            .tags()
            .all(10, None)
            .await,
        Err(StorageError::NameUnknown { .. })
    ));
}

#[tokio::test]
async fn the_cached_catalog_learns_new_repositories_at_once() {
    let registry = populated().await;
    assert_eq!(
        registry.catalog(100, None).await.unwrap().len(),
        NAMES.len()
    );
    // A blob linked into a new repository, then a manifest pushed into another.
    registry
        .repository(&name("new/by-blob"))
        .blobs()
        .put(Bytes::from_static(b"y"))
        .await
        .unwrap();
    push_image(&registry.repository(&name("0-first")), b"c", &[b"l"], None).await;
    let names: Vec<String> = registry
        .catalog(100, None)
        .await
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(names.len(), NAMES.len() + 2);
    assert_eq!(names.first().map(String::as_str), Some("0-first"));
    assert!(names.contains(&"new/by-blob".to_owned()), "{names:?}");
    // Still no upload-only repository.
    assert!(!names.contains(&"ghost".to_owned()));
}

#[tokio::test]
async fn another_servers_repositories_appear_once_the_cache_is_refreshed() {
    let driver: Arc<dyn StorageDriver> = Arc::new(InMemoryDriver::new());
    let with_refresh = |refresh| {
        Registry::new(
            Arc::clone(&driver),
            RegistryOptions::new().with_catalog_refresh(refresh),
        )
        .unwrap()
    };
    let cached = with_refresh(Duration::from_secs(3600));
    let uncached = with_refresh(Duration::ZERO);
    let other = with_refresh(Duration::ZERO);
    assert!(cached.catalog(10, None).await.unwrap().is_empty());
    push_image(&other.repository(&name("elsewhere")), b"c", &[b"l"], None).await;
    // Within the refresh time the cache answers from its last walk; without a cache the
    // walk sees the new repository.
    assert!(cached.catalog(10, None).await.unwrap().is_empty());
    assert_eq!(uncached.catalog(10, None).await.unwrap().len(), 1);
}
