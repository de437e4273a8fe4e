//! Listings built from flat key listings (never from delimiter listings, whose common prefixes
//! some stores go on returning for minutes after the last key below them is deleted).
//!
//! A directory's children come from one flat listing that skips each child directory's keys
//! once it has seen the first: a request per child directory at most, and often far fewer,
//! since a page of 1,000 keys names every small child it reaches.

use std::collections::BTreeMap;
use std::time::SystemTime;

use object_store::ObjectMeta;
use object_store::aws::AmazonS3;
use object_store::list::{PaginatedListOptions, PaginatedListStore};

use super::keys::WRITING;

/// Keys a listing request asks for.
const PAGE: usize = 1_000;

/// What a name below a directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A stored object.
    File,
    /// A directory: keys lie below it.
    Dir,
    /// A file whose writer has not finished: only its state lies below it.
    Writing,
}

/// One child of a directory.
#[derive(Debug, Clone)]
pub(super) struct Child {
    /// Its name.
    pub(super) name: String,
    /// What it is.
    pub(super) kind: Kind,
    /// Its size, for a file.
    pub(super) size: u64,
    /// When it (or, for a directory, its first key) was written.
    pub(super) modified: SystemTime,
}

/// The children of the directory whose keys start with `prefix` (ending in `/`, or empty for
/// the bucket's root), in lexical order of their names.
pub(super) async fn children(
    store: &AmazonS3,
    prefix: &str,
) -> Result<Vec<Child>, object_store::Error> {
    let mut found: BTreeMap<String, Child> = BTreeMap::new();
    let mut offset: Option<String> = None;
    loop {
        let page = page(store, prefix, offset.clone(), PAGE).await?;
        let Some(last) = page.objects.last() else {
            break;
        };
        let mut next = last.location.as_ref().to_owned();
        for meta in &page.objects {
            let Some(rest) = meta.location.as_ref().strip_prefix(prefix) else {
                continue;
            };
            let (name, kind) = match rest.split_once('/') {
                None if rest.is_empty() => continue,
                None => match rest.strip_suffix(WRITING) {
                    Some(name) => (name, Kind::Writing),
                    None => (rest, Kind::File),
                },
                Some((name, _)) => {
                    next = format!("{prefix}{name}/{}", char::MAX);
                    (name, Kind::Dir)
                }
            };
            if name.is_empty() {
                continue;
            }
            found.entry(name.to_owned()).or_insert_with(|| Child {
                name: name.to_owned(),
                kind,
                size: if kind == Kind::File { meta.size } else { 0 },
                modified: meta.last_modified.into(),
            });
        }
        if !page.truncated || offset.as_deref() >= Some(next.as_str()) {
            break;
        }
        offset = Some(next);
    }
    Ok(found.into_values().collect())
}

/// What else the key `file` names when it is no object: a directory (keys below it), an
/// unfinished writer's file (its state beside it), or nothing. One request, unless many
/// siblings' names start with the file's.
pub(super) async fn beside(
    store: &AmazonS3,
    file: &str,
) -> Result<Option<Kind>, object_store::Error> {
    // Not `start-after` the file's own key: SeaweedFS then skips what lies below it too.
    let mut offset: Option<String> = None;
    loop {
        let page = page(store, file, offset.clone(), PAGE).await?;
        for meta in &page.objects {
            match meta.location.as_ref().strip_prefix(file) {
                Some(rest) if rest.starts_with('/') => return Ok(Some(Kind::Dir)),
                Some(WRITING) => return Ok(Some(Kind::Writing)),
                _ => {}
            }
        }
        match page.objects.last() {
            Some(last) if page.truncated && Some(last.location.as_ref()) > offset.as_deref() => {
                offset = Some(last.location.as_ref().to_owned());
            }
            _ => return Ok(None),
        }
    }
}

/// Every key starting with `prefix`, a page at a time, handed to `each`.
pub(super) async fn each_key(
    store: &AmazonS3,
    prefix: &str,
    mut each: impl FnMut(Vec<ObjectMeta>) -> Result<(), object_store::Error>,
) -> Result<(), object_store::Error> {
    let mut token: Option<String> = None;
    loop {
        let result = store
            .list_paginated(
                Some(prefix),
                PaginatedListOptions {
                    max_keys: Some(PAGE),
                    page_token: token.clone(),
                    ..PaginatedListOptions::default()
                },
            )
            .await?;
        each(result.result.objects)?;
        match result.page_token {
            Some(next) if Some(&next) != token.as_ref() => token = Some(next),
            _ => return Ok(()),
        }
    }
}

/// The first page of keys that start with `key` (no delimiter, no trailing `/` added): the
/// object `key` itself first, when there is one.
pub(super) async fn starting_with(
    store: &AmazonS3,
    key: &str,
) -> Result<Page, object_store::Error> {
    page(store, key, None, PAGE).await
}

/// One page of a flat listing, in key order.
pub(super) struct Page {
    /// The keys and what the store says of each.
    pub(super) objects: Vec<ObjectMeta>,
    /// More keys follow.
    pub(super) truncated: bool,
}

async fn page(
    store: &AmazonS3,
    prefix: &str,
    offset: Option<String>,
    max_keys: usize,
) -> Result<Page, object_store::Error> {
    let result = store
        .list_paginated(
            Some(prefix),
            PaginatedListOptions {
                offset,
                max_keys: Some(max_keys),
                ..PaginatedListOptions::default()
            },
        )
        .await?;
    let mut objects = result.result.objects;
    objects.sort_by(|a, b| a.location.as_ref().cmp(b.location.as_ref()));
    Ok(Page {
        objects,
        truncated: result.page_token.is_some(),
    })
}
