//! The copier's request limit per registry, as one blob copy takes it.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{Interruption, TransferError};

/// The request limits of the registries a copy talks to: its source's and its destination's,
/// each a registry's domain with the copier's semaphore for it.
#[derive(Debug, Default)]
pub(super) struct RegistryLimits {
    /// Requests one copy may take at once when both ends are the same registry.
    pub(super) per_registry: usize,
    pub(super) source: Option<(String, Arc<Semaphore>)>,
    pub(super) destination: Option<(String, Arc<Semaphore>)>,
}

impl RegistryLimits {
    /// The source registry's semaphore, which ranged workers beyond the first take from.
    pub(super) fn source_limit(&self) -> Option<Arc<Semaphore>> {
        self.source.as_ref().map(|(_, limit)| Arc::clone(limit))
    }

    /// Permits of the registries a blob copy talks to: the source's and the destination's,
    /// taken in name order (both at once when they are the same registry), so that copies in
    /// opposite directions cannot deadlock.
    pub(super) async fn permits(&self) -> Result<Vec<OwnedSemaphorePermit>, TransferError> {
        let closed = |_| TransferError::Interrupted(Interruption::CopierClosed);
        let mut permits = Vec::new();
        match (&self.source, &self.destination) {
            (Some((a, sa)), Some((b, _))) if a == b => {
                let n = u32::try_from(self.per_registry.min(2)).unwrap_or(1);
                permits.push(Arc::clone(sa).acquire_many_owned(n).await.map_err(closed)?);
            }
            (source, destination) => {
                let mut both: Vec<&(String, Arc<Semaphore>)> =
                    source.iter().chain(destination.iter()).collect();
                both.sort_by(|x, y| x.0.cmp(&y.0));
                for (_, semaphore) in both {
                    permits.push(
                        Arc::clone(semaphore)
                            .acquire_owned()
                            .await
                            .map_err(closed)?,
                    );
                }
            }
        }
        Ok(permits)
    }
}
