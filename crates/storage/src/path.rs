//! Driver paths: absolute, `/`-separated, and unable to leave the driver's root.

use std::fmt;

use crate::StorageError;

/// A path inside a storage driver, such as `/docker/registry/v2/blobs/sha256/ab/ab12…/data`.
///
/// It starts with `/`, and each component is one or more of `A-Z a-z 0-9 . _ -` but never `.`
/// or `..`, so no path can name anything outside the driver's root. `/` alone is the root.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoragePath(String);

impl StoragePath {
    /// The root, `/`.
    pub fn root() -> StoragePath {
        StoragePath("/".to_owned())
    }

    /// Validates an absolute path.
    pub fn new(path: impl Into<String>) -> Result<StoragePath, StorageError> {
        let path = path.into();
        let valid = path == "/"
            || path
                .strip_prefix('/')
                .is_some_and(|rest| rest.split('/').all(is_component));
        if valid {
            Ok(StoragePath(path))
        } else {
            Err(StorageError::InvalidPath { path })
        }
    }

    /// This path with `component` (one or more `/`-separated components) appended.
    pub fn join(&self, component: &str) -> Result<StoragePath, StorageError> {
        if self.is_root() {
            StoragePath::new(format!("/{component}"))
        } else {
            StoragePath::new(format!("{}/{component}", self.0))
        }
    }

    /// The path as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for `/`.
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// The path without its last component; `None` for the root.
    pub fn parent(&self) -> Option<StoragePath> {
        if self.is_root() {
            return None;
        }
        let cut = self.0.rfind('/').unwrap_or(0);
        Some(if cut == 0 {
            StoragePath::root()
        } else {
            StoragePath(self.0[..cut].to_owned())
        })
    }

    /// The last component; `None` for the root.
    pub fn file_name(&self) -> Option<&str> {
        (!self.is_root()).then(|| self.0.rsplit('/').next().unwrap_or_default())
    }

    /// The components after the leading `/`, in order.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }

    /// True when `self` is `ancestor` or lies below it.
    pub fn starts_with(&self, ancestor: &StoragePath) -> bool {
        ancestor.is_root()
            || self.0 == ancestor.0
            || (self.0.starts_with(&ancestor.0)
                && self.0.as_bytes().get(ancestor.0.len()) == Some(&b'/'))
    }
}

fn is_component(component: &str) -> bool {
    !component.is_empty()
        && component != "."
        && component != ".."
        && component
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl fmt::Display for StoragePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StoragePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoragePath({})", self.0)
    }
}

impl AsRef<str> for StoragePath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_root() {
        for good in [
            "/",
            "/a",
            "/a/b.c/_d-e",
            "/docker/registry/v2/blobs/sha256/ab/data",
        ] {
            assert_eq!(StoragePath::new(good).unwrap().as_str(), good);
        }
        for bad in [
            "", "a", "/a/", "//a", "/a//b", "/..", "/a/../b", "/a/./b", "/a b", "/a\\b", "/é",
        ] {
            assert!(StoragePath::new(bad).is_err(), "{bad:?}");
        }
        let root = StoragePath::root();
        assert!(root.join("..").is_err());
        assert_eq!(root.join("a/b").unwrap().as_str(), "/a/b");
    }

    #[test]
    fn parents_names_and_ancestry() {
        let path = StoragePath::new("/a/b/c").unwrap();
        assert_eq!(path.parent().unwrap().as_str(), "/a/b");
        assert_eq!(
            StoragePath::new("/a").unwrap().parent(),
            Some(StoragePath::root())
        );
        assert_eq!(StoragePath::root().parent(), None);
        assert_eq!(path.file_name(), Some("c"));
        assert_eq!(path.components().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(path.starts_with(&StoragePath::new("/a/b").unwrap()));
        assert!(path.starts_with(&StoragePath::root()));
        assert!(!path.starts_with(&StoragePath::new("/a/bc").unwrap()));
        assert!(
            !StoragePath::new("/a/bc")
                .unwrap()
                .starts_with(&StoragePath::new("/a/b").unwrap())
        );
    }
}
