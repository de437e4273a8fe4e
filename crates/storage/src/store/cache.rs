//! A bounded map for blob descriptors on hot paths: two generations, so lookups and inserts
//! are O(1) and recently used entries survive while the map stays under its capacity.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// At most `capacity` entries; when the young generation fills half of it, the old one is
/// dropped and the young one takes its place. A hit in the old generation is promoted.
#[derive(Debug)]
pub(crate) struct BoundedCache<K, V> {
    half: usize,
    generations: Mutex<(HashMap<K, V>, HashMap<K, V>)>,
}

impl<K: Hash + Eq + Clone, V: Clone> BoundedCache<K, V> {
    /// A cache of at most `capacity` entries; zero disables it.
    pub(crate) fn new(capacity: usize) -> Self {
        BoundedCache {
            half: capacity / 2,
            generations: Mutex::new((HashMap::new(), HashMap::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (HashMap<K, V>, HashMap<K, V>)> {
        // Every update is a handful of map operations that cannot leave the maps inconsistent.
        self.generations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value for `key`, if cached.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        if self.half == 0 {
            return None;
        }
        let mut guard = self.lock();
        let (young, old) = &mut *guard;
        if let Some(value) = young.get(key) {
            return Some(value.clone());
        }
        let value = old.remove(key)?;
        Self::insert_young(self.half, young, old, key.clone(), value.clone());
        Some(value)
    }

    /// Caches `value` for `key`.
    pub(crate) fn insert(&self, key: K, value: V) {
        if self.half == 0 {
            return;
        }
        let mut guard = self.lock();
        let (young, old) = &mut *guard;
        Self::insert_young(self.half, young, old, key, value);
    }

    fn insert_young(
        half: usize,
        young: &mut HashMap<K, V>,
        old: &mut HashMap<K, V>,
        key: K,
        value: V,
    ) {
        if young.len() >= half && !young.contains_key(&key) {
            *old = std::mem::take(young);
        }
        young.insert(key, value);
    }

    /// Drops every entry whose key `stale` picks.
    pub(crate) fn remove_where(&self, stale: impl Fn(&K) -> bool) {
        if self.half == 0 {
            return;
        }
        let mut guard = self.lock();
        guard.0.retain(|key, _| !stale(key));
        guard.1.retain(|key, _| !stale(key));
    }

    /// How many entries are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let guard = self.lock();
        guard.0.len() + guard.1.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_bounded_and_keeps_recent_entries() {
        let cache = BoundedCache::new(10);
        for i in 0..100 {
            cache.insert(i, i * 2);
            assert!(cache.len() <= 10);
            assert_eq!(cache.get(&0), Some(0), "a hot key survives");
        }
        assert_eq!(cache.get(&99), Some(198));
        assert_eq!(cache.get(&50), None);
        let off = BoundedCache::new(0);
        off.insert(1, 1);
        assert_eq!(off.get(&1), None);
    }
}
