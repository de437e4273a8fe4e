//! The catalog: repository names in full-string order, a page at a time.
//!
//! One walk of the tree reads every name into a [`CatalogCache`], which serves pages for
//! [`RegistryOptions::catalog_refresh`](super::RegistryOptions::catalog_refresh) and learns the
//! repositories this process creates as their first link is written. Without the cache (a zero
//! refresh, or more names than it keeps) each page walks only the part of the tree it needs.
//!
//! The tree is walked directory by directory, but the order of names is not the order of
//! directories: `a-b` sorts before `a/b` (`-` is below `/`) although directory `a` sorts before
//! `a-b`. So each directory's child `c` gives two entries, the repository `c` (sorted as `c`)
//! and the names below it (sorted as `c/`), and they are visited in that order. A subtree
//! whose names all sort at or before `last` is not read at all.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use gantry_reference::RepositoryName;

use super::inner::Inner;
use super::paths;
use crate::StorageError;

enum Entry {
    /// The directory `name`, which is a repository if it holds `_manifests` or `_layers`.
    Candidate(String),
    /// Everything below the directory `name`.
    Below(String),
}

impl Entry {
    fn key(&self) -> String {
        match self {
            Entry::Candidate(name) => name.clone(),
            Entry::Below(name) => format!("{name}/"),
        }
    }
}

/// The most names the cache keeps; a larger catalog is walked page by page.
const MAX_CACHED_NAMES: usize = 100_000;

/// Every repository name, from the last walk of the tree plus what was created since.
#[derive(Debug, Default)]
pub(crate) struct CatalogCache {
    state: Mutex<CacheState>,
    /// Held by the one walk under way, so that pages asked for meanwhile wait for it.
    walking: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct CacheState {
    /// The names and when the walk that found them began.
    names: Option<(Arc<BTreeSet<String>>, Instant)>,
    /// Names created while a walk runs, which it may have passed already.
    pending: Option<BTreeSet<String>>,
}

impl CatalogCache {
    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that repository `name` exists now.
    pub(crate) fn note(&self, name: &str) {
        let mut state = self.state();
        if let Some((names, _)) = &mut state.names
            && !names.contains(name)
        {
            Arc::make_mut(names).insert(name.to_owned());
        }
        if let Some(pending) = &mut state.pending {
            pending.insert(name.to_owned());
        }
    }

    /// The names, if the cache holds them fresh enough.
    fn fresh(&self, inner: &Inner) -> Option<Arc<BTreeSet<String>>> {
        let state = self.state();
        let (names, taken) = state.names.as_ref()?;
        (taken.elapsed() < inner.options.catalog_refresh).then(|| Arc::clone(names))
    }

    /// Every name, walking the tree when the cache is stale; `None` when there are too many
    /// to keep.
    async fn names(&self, inner: &Inner) -> Result<Option<Arc<BTreeSet<String>>>, StorageError> {
        if let Some(names) = self.fresh(inner) {
            return Ok(Some(names));
        }
        let _walking = self.walking.lock().await;
        if let Some(names) = self.fresh(inner) {
            return Ok(Some(names));
        }
        let taken = Instant::now();
        self.state().pending = Some(BTreeSet::new());
        let walked = walk_page(inner, MAX_CACHED_NAMES + 1, None).await;
        let mut state = self.state();
        let pending = state.pending.take().unwrap_or_default();
        let walked = walked?;
        if walked.len() > MAX_CACHED_NAMES {
            state.names = None;
            return Ok(None);
        }
        let mut names: BTreeSet<String> = walked.iter().map(ToString::to_string).collect();
        names.extend(pending);
        let names = Arc::new(names);
        state.names = Some((Arc::clone(&names), taken));
        Ok(Some(names))
    }
}

/// One catalog page: up to `n` names after `last`.
pub(crate) async fn page(
    inner: &Inner,
    n: usize,
    last: Option<&str>,
) -> Result<Vec<RepositoryName>, StorageError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if !inner.options.catalog_refresh.is_zero()
        && let Some(names) = inner.catalog.names(inner).await?
    {
        let after = last.map_or(Bound::Unbounded, Bound::Excluded);
        return Ok(names
            .range::<str, _>((after, Bound::Unbounded))
            .filter_map(|name| RepositoryName::parse(name).ok())
            .take(n)
            .collect());
    }
    walk_page(inner, n, last).await
}

/// One page read from the tree: up to `n` names after `last`, reading only the directories
/// the page needs.
async fn walk_page(
    inner: &Inner,
    n: usize,
    last: Option<&str>,
) -> Result<Vec<RepositoryName>, StorageError> {
    let mut names = Vec::new();
    let mut listings: HashMap<String, Vec<String>> = HashMap::new();
    let root = inner.list_names(&paths::repositories()?).await?;
    let mut stack: Vec<Entry> = entries("", &root);
    while let Some(entry) = stack.pop() {
        match entry {
            Entry::Candidate(name) => {
                if last.is_some_and(|last| name.as_str() <= last) {
                    continue;
                }
                let children = listing(inner, &mut listings, &name).await?;
                let is_repository = children
                    .iter()
                    .any(|child| child == "_manifests" || child == "_layers");
                if is_repository && let Ok(repository) = RepositoryName::parse(&name) {
                    names.push(repository);
                    if names.len() == n {
                        break;
                    }
                }
            }
            Entry::Below(name) => {
                let prefix = format!("{name}/");
                if let Some(last) = last
                    && last >= prefix.as_str()
                    && !last.starts_with(&prefix)
                {
                    // Every name below sorts before `last`.
                    listings.remove(&name);
                    continue;
                }
                let children = listing(inner, &mut listings, &name).await?;
                listings.remove(&name);
                stack.extend(entries(&prefix, &children));
            }
        }
    }
    Ok(names)
}

/// The entries for a directory's children, reversed so the smallest key pops first.
fn entries(prefix: &str, children: &[String]) -> Vec<Entry> {
    let mut entries: Vec<Entry> = children
        .iter()
        .filter(|child| !child.starts_with('_'))
        .flat_map(|child| {
            let name = format!("{prefix}{child}");
            [Entry::Candidate(name.clone()), Entry::Below(name)]
        })
        .collect();
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.key()));
    entries
}

async fn listing(
    inner: &Inner,
    listings: &mut HashMap<String, Vec<String>>,
    name: &str,
) -> Result<Vec<String>, StorageError> {
    if let Some(children) = listings.get(name) {
        return Ok(children.clone());
    }
    let children = inner.list_names(&paths::repository_dir(name)?).await?;
    listings.insert(name.to_owned(), children.clone());
    Ok(children)
}
