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

/// What the keys that start with a file's key say of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Around {
    /// The file's own object is there.
    pub(super) object: bool,
    /// Keys lie below it: it is a directory.
    pub(super) dir: bool,
    /// An unfinished writer's state lies beside it.
    pub(super) writing: bool,
}

impl Around {
    /// What the key names when it is no object: a directory, an unfinished writer's file,
    /// or nothing.
    pub(super) fn kind(self) -> Option<Kind> {
        if self.dir {
            Some(Kind::Dir)
        } else if self.writing {
            Some(Kind::Writing)
        } else {
            None
        }
    }

    /// Adds what `keys` (in order) say of `file`.
    fn see<'a>(&mut self, keys: impl IntoIterator<Item = &'a str>, file: &str) {
        for key in keys {
            match key.strip_prefix(file) {
                Some("") => self.object = true,
                Some(rest) if rest.starts_with('/') => self.dir = true,
                Some(WRITING) => self.writing = true,
                _ => {}
            }
        }
    }
}

/// What the keys starting with `file` say of it. One request, unless many siblings' names
/// start with the file's (the object's own key comes first; the others may come later).
pub(super) async fn around(store: &AmazonS3, file: &str) -> Result<Around, object_store::Error> {
    let mut around = Around::default();
    // Not `start-after` the file's own key: SeaweedFS then skips what lies below it too.
    let mut offset: Option<String> = None;
    loop {
        let page = page(store, file, offset.clone(), PAGE).await?;
        around.see(page.keys(), file);
        match page.objects.last() {
            Some(last)
                if page.truncated
                    && !around.dir
                    && !around.writing
                    && Some(last.location.as_ref()) > offset.as_deref() =>
            {
                offset = Some(last.location.as_ref().to_owned());
            }
            _ => return Ok(around),
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

impl Page {
    /// The keys, in order.
    pub(super) fn keys(&self) -> impl Iterator<Item = &str> {
        self.objects.iter().map(|meta| meta.location.as_ref())
    }

    /// What this page says of `file`, when it says all of it (it is not cut short).
    pub(super) fn around(&self, file: &str) -> Option<Around> {
        let mut around = Around::default();
        around.see(self.keys(), file);
        (!self.truncated).then_some(around)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_around_a_file_say_what_it_is_and_siblings_say_nothing() {
        let mut around = Around::default();
        around.see(["r/data", "r/data-x", "r/data.y/z", "r/datum"], "r/data");
        assert_eq!(
            around,
            Around {
                object: true,
                ..Around::default()
            }
        );
        assert_eq!(around.kind(), None);
        around.see(["r/data~writing"], "r/data");
        assert_eq!(around.kind(), Some(Kind::Writing));
        around.see(["r/data/below"], "r/data");
        assert_eq!(around.kind(), Some(Kind::Dir));
    }
}
