//! [`KnownDirs`]: the directories a driver has seen, so that a write need not ask the store
//! again that each parent of its path is no file.
//!
//! A directory stays known until the driver deletes it or something above it, or until the
//! set is full and starts over. Another process that deletes a directory and writes a file of
//! the same name is not seen: the registry's layout never names a file where it has a
//! directory.

use std::collections::HashSet;
use std::sync::Mutex;

/// The most directories remembered before starting over.
const CAPACITY: usize = 16_384;

/// A set of directory keys.
#[derive(Debug, Default)]
pub(super) struct KnownDirs {
    keys: Mutex<HashSet<String>>,
}

impl KnownDirs {
    fn keys(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // Every update is one insert or removal: a panic cannot leave it half done.
        self.keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// True when `key` is a known directory.
    pub(super) fn contains(&self, key: &str) -> bool {
        self.keys().contains(key)
    }

    /// Remembers `keys` as directories.
    pub(super) fn insert_all(&self, keys: Vec<String>) {
        if keys.is_empty() {
            return;
        }
        let mut known = self.keys();
        if known.len() + keys.len() > CAPACITY {
            known.clear();
        }
        known.extend(keys);
    }

    /// Forgets `key` and every directory below it.
    pub(super) fn forget_below(&self, key: &str) {
        let below = format!("{key}/");
        self.keys()
            .retain(|known| known != key && !known.starts_with(&below) && !key.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleting_a_directory_forgets_it_and_what_is_below() {
        let dirs = KnownDirs::default();
        dirs.insert_all(vec!["a".into(), "a/b".into(), "ab".into(), "c".into()]);
        dirs.forget_below("a");
        assert!(!dirs.contains("a") && !dirs.contains("a/b"));
        assert!(dirs.contains("ab") && dirs.contains("c"));
        dirs.forget_below("");
        assert!(!dirs.contains("c"));
    }
}
