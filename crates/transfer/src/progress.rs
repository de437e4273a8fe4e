//! Typed progress events, for a command line to render and a library user to subscribe to.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use gantry_reference::Digest;

/// Something that happened to one blob or manifest during a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// The blob waits for a free slot under the concurrency limit.
    Waiting {
        /// The blob.
        digest: Digest,
        /// Its size in bytes.
        size: u64,
    },
    /// The destination already has the blob; nothing is sent.
    Skipped {
        /// The blob.
        digest: Digest,
        /// Its size in bytes.
        size: u64,
    },
    /// The blob was mounted from another repository of the same registry.
    Mounted {
        /// The blob.
        digest: Digest,
        /// Its size in bytes.
        size: u64,
        /// The repository it was mounted from.
        from: String,
    },
    /// Bytes of the blob are moving; `done` of `size` have arrived (including any resumed
    /// prefix).
    Transferring {
        /// The blob.
        digest: Digest,
        /// Bytes done so far.
        done: u64,
        /// Its size in bytes.
        size: u64,
    },
    /// Every byte arrived; the destination is checking the digest.
    Verifying {
        /// The blob.
        digest: Digest,
    },
    /// An attempt failed and is retried after `after`, from byte `offset`.
    Retrying {
        /// The blob.
        digest: Digest,
        /// The attempt about to start, from 2.
        attempt: u32,
        /// The wait before it.
        after: Duration,
        /// Where it resumes.
        offset: u64,
        /// Why the previous attempt failed.
        reason: String,
    },
    /// The blob is in the destination, verified.
    Done {
        /// The blob.
        digest: Digest,
        /// Its size in bytes.
        size: u64,
    },
    /// A manifest was written to the destination.
    ManifestWritten {
        /// The manifest's digest.
        digest: Digest,
        /// Its media type.
        media_type: String,
    },
}

/// Receives progress events. Cheap to clone; called from the copy's tasks, so it must not
/// block for long.
#[derive(Clone)]
pub struct ProgressSink(Arc<dyn Fn(&ProgressEvent) + Send + Sync>);

impl ProgressSink {
    /// A sink that calls `f` with every event.
    pub fn new(f: impl Fn(&ProgressEvent) + Send + Sync + 'static) -> ProgressSink {
        ProgressSink(Arc::new(f))
    }

    /// A sink that drops every event.
    pub fn none() -> ProgressSink {
        ProgressSink::new(|_| {})
    }

    /// A sink that sends every event into a channel, for a subscriber that reads at its own
    /// pace.
    pub fn channel() -> (
        ProgressSink,
        tokio::sync::mpsc::UnboundedReceiver<ProgressEvent>,
    ) {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let sink = ProgressSink::new(move |event| {
            let _ = sender.send(event.clone());
        });
        (sink, receiver)
    }

    /// Passes one event on.
    pub fn emit(&self, event: ProgressEvent) {
        (self.0)(&event);
    }
}

impl Default for ProgressSink {
    fn default() -> ProgressSink {
        ProgressSink::none()
    }
}

impl fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressSink")
    }
}
