//! Where driver paths live in the bucket: Distribution's `s3-aws` keys, `<root>/<path>`.

use object_store::path::Path as ObjectPath;

use crate::{StorageError, StoragePath};

/// What ends the key that holds an unfinished writer's state, beside the file's own key:
/// `<file>~writing`. `~` is in no driver path, so no file can be named so. (Beside, not below:
/// some stores, SeaweedFS among them, keep keys as a file tree, where an object cannot have
/// keys below it.)
pub(super) const WRITING: &str = "~writing";

/// The keys of one driver: paths below an optional root directory.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    /// The root directory without leading or trailing `/`; empty for the bucket's root.
    root: String,
}

impl Keys {
    /// Keys below `root_directory` (Distribution's `rootdirectory`; `/` or empty for none).
    /// Each of its components must be a valid driver path component.
    pub(super) fn new(root_directory: &str) -> Result<Keys, StorageError> {
        let root = root_directory.trim_matches('/');
        if !root.is_empty() {
            StoragePath::new(format!("/{root}"))?;
        }
        Ok(Keys {
            root: root.to_owned(),
        })
    }

    /// The root directory, as configured, for messages.
    pub(super) fn root(&self) -> &str {
        &self.root
    }

    /// The key of the file at `path` (empty for the bucket's root).
    pub(super) fn file(&self, path: &StoragePath) -> String {
        let relative = path.as_str().trim_start_matches('/');
        match (self.root.is_empty(), relative.is_empty()) {
            (true, _) => relative.to_owned(),
            (false, true) => self.root.clone(),
            (false, false) => format!("{}/{relative}", self.root),
        }
    }

    /// The prefix every key below the directory at `path` starts with.
    pub(super) fn below(&self, path: &StoragePath) -> String {
        let key = self.file(path);
        if key.is_empty() { key } else { key + "/" }
    }

    /// The key of the state of an unfinished writer of the file at `path`.
    pub(super) fn writing(&self, path: &StoragePath) -> String {
        format!("{}{WRITING}", self.file(path))
    }

    /// The driver path of `key`, when it is one (keys outside the root or of another tool's
    /// making are not).
    pub(super) fn path(&self, key: &str) -> Option<StoragePath> {
        let relative = if self.root.is_empty() {
            key
        } else {
            key.strip_prefix(self.root.as_str())?.strip_prefix('/')?
        };
        StoragePath::new(format!("/{relative}")).ok()
    }
}

/// `key` as `object_store` names it.
pub(super) fn object(key: &str) -> Result<ObjectPath, StorageError> {
    ObjectPath::parse(key).map_err(|_| StorageError::InvalidPath {
        path: key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(path: &str) -> StoragePath {
        StoragePath::new(path).unwrap()
    }

    #[test]
    fn keys_follow_distribution_below_the_root_directory() {
        let keys = Keys::new("/registry/").unwrap();
        let blob = path("/docker/registry/v2/blobs/sha256/ab/abc/data");
        assert_eq!(
            keys.file(&blob),
            "registry/docker/registry/v2/blobs/sha256/ab/abc/data"
        );
        assert_eq!(keys.below(&StoragePath::root()), "registry/");
        assert_eq!(keys.path(&keys.file(&blob)), Some(blob.clone()));
        assert_eq!(keys.path("other/docker"), None);
        assert_eq!(keys.path("registryx/docker"), None);
        assert_eq!(keys.writing(&path("/u/data")), "registry/u/data~writing");

        let bare = Keys::new("").unwrap();
        assert_eq!(
            bare.file(&blob),
            "docker/registry/v2/blobs/sha256/ab/abc/data"
        );
        assert_eq!(bare.below(&StoragePath::root()), "");
        assert_eq!(bare.below(&path("/a")), "a/");
        assert_eq!(bare.path("a/b"), Some(path("/a/b")));
        assert_eq!(bare.path("a/data~writing"), None);
    }

    #[test]
    fn a_root_directory_must_be_a_path() {
        assert!(Keys::new("a/../b").is_err());
        assert!(Keys::new("a b").is_err());
        assert!(Keys::new("/").unwrap().root().is_empty());
    }
}
