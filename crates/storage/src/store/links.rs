//! [`LinkCache`]: `link` files read recently, answered again for
//! [`link_cache_ttl`](super::RegistryOptions::link_cache_ttl) without reading storage.
//!
//! What it may serve stale, and for how long: a link another process rewrote or deleted (a tag
//! moved or deleted, a manifest or a blob unlinked elsewhere) stays as it was read here for at
//! most the lifetime. Links this process writes or deletes are updated at once, and a missing
//! link is never remembered, so what another process creates is seen at once. Reads that decide
//! what to write or delete (the tag a tagging replaces, the tags a manifest delete removes, an
//! index rebuild) read storage instead, so a stale answer never outlives the lifetime.

use std::time::{Duration, Instant};

use gantry_reference::Digest;

use super::cache::BoundedCache;
use crate::StoragePath;

/// How many links are remembered at most.
const CAPACITY: usize = 16_384;

/// Links by path, each with when it was read.
#[derive(Debug)]
pub(crate) struct LinkCache {
    ttl: Duration,
    entries: BoundedCache<StoragePath, (Digest, Instant)>,
}

impl LinkCache {
    /// A cache whose entries answer for `ttl`; zero turns it off.
    pub(crate) fn new(ttl: Duration) -> LinkCache {
        LinkCache {
            ttl,
            entries: BoundedCache::new(if ttl.is_zero() { 0 } else { CAPACITY }),
        }
    }

    /// The digest the link at `path` held when read less than the lifetime ago.
    pub(crate) fn get(&self, path: &StoragePath) -> Option<Digest> {
        let (digest, read) = self.entries.get(path)?;
        (read.elapsed() < self.ttl).then_some(digest)
    }

    /// Remembers that the link at `path` holds `digest` now.
    pub(crate) fn put(&self, path: &StoragePath, digest: &Digest) {
        self.entries
            .insert(path.clone(), (digest.clone(), Instant::now()));
    }

    /// Forgets the link at `path` and every link below it.
    pub(crate) fn forget_below(&self, path: &StoragePath) {
        self.entries.remove_where(|key| key.starts_with(path));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_reference::Algorithm;

    #[test]
    fn links_answer_for_their_lifetime_and_go_with_their_directory() {
        let cache = LinkCache::new(Duration::from_millis(200));
        let digest = Digest::of(Algorithm::Sha256, b"x");
        let tag = StoragePath::new("/r/_manifests/tags/t/current/link").unwrap();
        let other = StoragePath::new("/r/_manifests/tags/u/current/link").unwrap();
        cache.put(&tag, &digest);
        cache.put(&other, &digest);
        assert_eq!(cache.get(&tag), Some(digest.clone()));
        cache.forget_below(&StoragePath::new("/r/_manifests/tags/t").unwrap());
        assert_eq!(cache.get(&tag), None);
        assert_eq!(cache.get(&other), Some(digest.clone()));
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(cache.get(&other), None, "past its lifetime");

        let off = LinkCache::new(Duration::ZERO);
        off.put(&tag, &digest);
        assert_eq!(off.get(&tag), None);
    }
}
