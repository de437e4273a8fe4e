//! Per-client limits: how many uploads one client address may stream at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// The address of the client a request came from, put in each request's extensions by the
/// server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientAddr(pub(crate) IpAddr);

/// The uploads in flight, counted by client address.
#[derive(Debug, Default)]
pub(crate) struct UploadSlots {
    max: usize,
    in_flight: Mutex<HashMap<IpAddr, usize>>,
}

/// An upload's place among its client's; given back when dropped.
#[derive(Debug)]
pub(crate) struct UploadSlot {
    slots: Arc<UploadSlots>,
    client: IpAddr,
}

impl UploadSlots {
    /// At most `max` uploads per client at once; 0 for no limit.
    pub(crate) fn new(max: usize) -> UploadSlots {
        UploadSlots {
            max,
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for `client`, or `None` when it has `max` uploads in flight already.
    pub(crate) fn acquire(self: &Arc<Self>, client: IpAddr) -> Option<UploadSlot> {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let count = in_flight.entry(client).or_insert(0);
        if self.max != 0 && *count >= self.max {
            return None;
        }
        *count += 1;
        Some(UploadSlot {
            slots: Arc::clone(self),
            client,
        })
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut in_flight = self
            .slots
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = in_flight.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                in_flight.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_client_and_given_back() {
        let slots = Arc::new(UploadSlots::new(2));
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let first = slots.acquire(a).unwrap();
        let _second = slots.acquire(a).unwrap();
        assert!(slots.acquire(a).is_none());
        assert!(slots.acquire(b).is_some());
        drop(first);
        assert!(slots.acquire(a).is_some());
        let unlimited = Arc::new(UploadSlots::new(0));
        let held: Vec<_> = (0..100).map(|_| unlimited.acquire(a).unwrap()).collect();
        assert_eq!(held.len(), 100);
    }
}
