//! Keyed async locks: one per repository or per digest, never a global one. An entry lives
//! while someone holds or waits for its lock and is dropped after.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// A map from key to an async mutex, holding only weak references so unused keys go away.
#[derive(Debug, Default)]
pub(crate) struct KeyedLocks {
    locks: Mutex<HashMap<String, Weak<AsyncMutex<()>>>>,
}

impl KeyedLocks {
    /// Waits for and takes the lock of `key`.
    pub(crate) async fn lock(&self, key: String) -> OwnedMutexGuard<()> {
        let mutex = {
            // Every update is one map operation: a poisoned map is still consistent.
            let mut locks = self
                .locks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(mutex) = locks.get(&key).and_then(Weak::upgrade) {
                mutex
            } else {
                // Drop entries nobody uses any more before adding one, so the map stays as
                // small as the number of keys in use (amortised: only when it may have grown).
                if locks.len() >= 64 && locks.len().is_power_of_two() {
                    locks.retain(|_, weak| weak.strong_count() > 0);
                }
                let mutex = Arc::new(AsyncMutex::new(()));
                locks.insert(key, Arc::downgrade(&mutex));
                mutex
            }
        };
        mutex.lock_owned().await
    }

    /// How many keys the map holds, used or not.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .filter(|weak| weak.strong_count() > 0)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn same_key_excludes_and_unused_keys_go_away() {
        let locks = KeyedLocks::default();
        let first = locks.lock("a".to_owned()).await;
        let other = locks.lock("b".to_owned()).await;
        assert_eq!(locks.len(), 2);
        let waiting = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            locks.lock("a".to_owned()),
        )
        .await;
        assert!(waiting.is_err(), "a second holder of `a` must wait");
        drop((first, other));
        assert_eq!(locks.len(), 0);
        let _again = locks.lock("a".to_owned()).await;
    }
}
