//! Blobs in flight, shared by every copy of one [`Copier`](super::Copier): the first copy to
//! need a blob in a destination transfers it (the leader); the others wait for it and receive
//! its progress events, and transfer it themselves only if the leader failed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use gantry_reference::Digest;
use tokio::sync::watch;

use crate::{BlobStore, ProgressEvent, ProgressSink};

/// The blob store a copy writes into.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum StoreKey {
    /// A store that destinations name alike ([`ImageDestination::blob_store`]).
    ///
    /// [`ImageDestination::blob_store`]: crate::ImageDestination::blob_store
    Shared(BlobStore),
    /// A destination's own store, numbered by the copier.
    Own(u64),
}

/// One blob being written to one store.
type Key = (StoreKey, Digest);

/// The blobs in flight.
#[derive(Debug, Default)]
pub(crate) struct InFlightMap {
    entries: Mutex<HashMap<Key, Arc<InFlight>>>,
}

/// A transfer in progress: who listens, and how it ended.
#[derive(Debug)]
struct InFlight {
    sinks: Mutex<Vec<ProgressSink>>,
    /// The latest event, for a waiter that joins late to start from.
    last: Mutex<Option<ProgressEvent>>,
    /// `None` while it runs, then whether it succeeded.
    done: watch::Sender<Option<bool>>,
}

/// What a caller of [`InFlightMap::join`] is to do.
pub(crate) enum Role {
    /// Transfer the blob, reporting through the guard's sink.
    Leader(LeaderGuard),
    /// Another copy transfers it; wait for the outcome.
    Waiter(watch::Receiver<Option<bool>>),
}

impl InFlightMap {
    /// Joins the transfer of `digest` to `destination`, or leads it if there is none. `sink`
    /// receives the transfer's events from now on.
    pub(crate) fn join(
        self: &Arc<Self>,
        destination: &StoreKey,
        digest: &Digest,
        sink: &ProgressSink,
    ) -> Role {
        let key = (destination.clone(), digest.clone());
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = entries.get(&key) {
            let mut sinks = entry.sinks.lock().unwrap_or_else(PoisonError::into_inner);
            let last = entry
                .last
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if let Some(event) = last {
                sink.emit(event);
            }
            sinks.push(sink.clone());
            return Role::Waiter(entry.done.subscribe());
        }
        let (done, _) = watch::channel(None);
        let entry = Arc::new(InFlight {
            sinks: Mutex::new(vec![sink.clone()]),
            last: Mutex::new(None),
            done,
        });
        entries.insert(key.clone(), Arc::clone(&entry));
        Role::Leader(LeaderGuard {
            map: Arc::clone(self),
            key,
            entry,
            finished: false,
        })
    }

    /// How many transfers are in flight.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The leader's hold on an in-flight entry. Dropping it (the copy was cancelled, or failed)
/// tells the waiters it failed, so that one of them takes over.
pub(crate) struct LeaderGuard {
    map: Arc<InFlightMap>,
    key: Key,
    entry: Arc<InFlight>,
    finished: bool,
}

impl LeaderGuard {
    /// A sink that passes every event to the leader and to every waiter.
    pub(crate) fn sink(&self) -> ProgressSink {
        let entry = Arc::clone(&self.entry);
        ProgressSink::new(move |event| {
            // Under the sinks' lock, so that a waiter joining now sees this event once: as the
            // latest, or through its sink.
            let sinks = entry.sinks.lock().unwrap_or_else(PoisonError::into_inner);
            *entry.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(event.clone());
            for sink in sinks.iter() {
                sink.emit(event.clone());
            }
        })
    }

    /// Ends the transfer: the entry leaves the map and the waiters learn the outcome.
    pub(crate) fn finish(mut self, succeeded: bool) {
        self.end(succeeded);
    }

    fn end(&mut self, succeeded: bool) {
        if self.finished {
            return;
        }
        self.finished = true;
        let mut entries = self
            .map
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if entries
            .get(&self.key)
            .is_some_and(|entry| Arc::ptr_eq(entry, &self.entry))
        {
            entries.remove(&self.key);
        }
        drop(entries);
        self.entry.done.send_replace(Some(succeeded));
    }
}

impl Drop for LeaderGuard {
    fn drop(&mut self) {
        self.end(false);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn digest() -> Digest {
        Digest::of(gantry_reference::Algorithm::Sha256, b"x")
    }

    #[tokio::test]
    async fn waiters_get_the_leaders_events_and_outcome() {
        let map = Arc::new(InFlightMap::default());
        let (leader_sink, mut leader_events) = ProgressSink::channel();
        let (waiter_sink, mut waiter_events) = ProgressSink::channel();
        let Role::Leader(guard) = map.join(&StoreKey::Own(1), &digest(), &leader_sink) else {
            panic!("the first is the leader");
        };
        let Role::Waiter(mut outcome) = map.join(&StoreKey::Own(1), &digest(), &waiter_sink) else {
            panic!("the second waits");
        };
        assert!(matches!(
            map.join(&StoreKey::Own(2), &digest(), &waiter_sink),
            Role::Leader(_)
        ));
        let event = ProgressEvent::Done {
            digest: digest(),
            size: 1,
        };
        guard.sink().emit(event.clone());
        guard.finish(true);
        assert_eq!(leader_events.recv().await.unwrap(), event);
        assert_eq!(waiter_events.recv().await.unwrap(), event);
        assert_eq!(
            *outcome.wait_for(Option::is_some).await.unwrap(),
            Some(true)
        );
        assert_eq!(map.len(), 0);
    }

    #[tokio::test]
    async fn a_late_waiter_starts_from_the_latest_event() {
        let map = Arc::new(InFlightMap::default());
        let Role::Leader(guard) = map.join(&StoreKey::Own(1), &digest(), &ProgressSink::none())
        else {
            panic!("the first is the leader");
        };
        let transferring = |done| ProgressEvent::Transferring {
            digest: digest(),
            done,
            size: 10,
        };
        guard.sink().emit(transferring(3));
        guard.sink().emit(transferring(6));
        let (late, mut events) = ProgressSink::channel();
        let Role::Waiter(_) = map.join(&StoreKey::Own(1), &digest(), &late) else {
            panic!("the second waits");
        };
        guard.sink().emit(transferring(9));
        assert_eq!(events.recv().await.unwrap(), transferring(6));
        assert_eq!(events.recv().await.unwrap(), transferring(9));
    }

    #[tokio::test]
    async fn a_dropped_leader_fails_its_waiters() {
        let map = Arc::new(InFlightMap::default());
        let sink = ProgressSink::none();
        let guard = map.join(&StoreKey::Own(1), &digest(), &sink);
        let Role::Waiter(mut outcome) = map.join(&StoreKey::Own(1), &digest(), &sink) else {
            panic!("the second waits");
        };
        drop(guard);
        assert_eq!(
            *outcome.wait_for(Option::is_some).await.unwrap(),
            Some(false)
        );
        assert!(matches!(
            map.join(&StoreKey::Own(1), &digest(), &sink),
            Role::Leader(_)
        ));
    }
}
