//! What every handler shares.

use std::sync::Arc;

use gantry_storage::store::Registry;

use crate::auth::Auth;
use crate::limits::UploadSlots;
use crate::metrics::Metrics;

/// The registry store and the server's counters, cloned into every request.
#[derive(Clone)]
pub(crate) struct AppState {
    /// The registry store.
    pub(crate) registry: Registry,
    /// Request counters for `/metrics`.
    pub(crate) metrics: Arc<Metrics>,
    /// The `OCI-Chunk-Min-Length` uploads advertise.
    pub(crate) chunk_min_length: u64,
    /// Authentication and the access policy; `None` when the registry is open.
    pub(crate) auth: Option<Arc<Auth>>,
    /// Uploads in flight per client.
    pub(crate) upload_slots: Arc<UploadSlots>,
    /// The largest blob accepted (0: no limit).
    pub(crate) max_blob_size: u64,
}
