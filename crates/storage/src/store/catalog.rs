//! The catalog: repository names in full-string order, a page at a time, reading only the
//! part of the tree the page needs.
//!
//! The tree is walked directory by directory, but the order of names is not the order of
//! directories: `a-b` sorts before `a/b` (`-` is below `/`) although directory `a` sorts before
//! `a-b`. So each directory's child `c` gives two entries, the repository `c` (sorted as `c`)
//! and the names below it (sorted as `c/`), and they are visited in that order. A subtree
//! whose names all sort at or before `last` is not read at all.

use std::collections::HashMap;

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

/// One catalog page: up to `n` names after `last`.
pub(crate) async fn page(
    inner: &Inner,
    n: usize,
    last: Option<&str>,
) -> Result<Vec<RepositoryName>, StorageError> {
    let mut names = Vec::new();
    if n == 0 {
        return Ok(names);
    }
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
