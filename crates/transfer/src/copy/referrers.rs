//! The referrers (signatures, SBOMs, attestations) of the manifests a copy wrote, walked
//! breadth first: each referrer is read as an image by digest, and its own referrers follow it.
//! The walk only reads the source; the engine copies what it hands out.

use std::collections::{HashSet, VecDeque};

use gantry_reference::Digest;
use gantry_spec::Descriptor;

use super::plan::{self, Node};
use crate::{ImageSource, TransferError};

/// Where the walk stands.
pub(super) struct Walk {
    visited: HashSet<Digest>,
    /// Subjects whose referrers are still to be listed.
    subjects: VecDeque<Digest>,
    /// Referrers of the subject listed last, still to be handed out.
    listed: VecDeque<Descriptor>,
}

impl Walk {
    /// A walk from the manifests `subjects`.
    pub(super) fn new(subjects: &[Digest]) -> Walk {
        Walk {
            visited: subjects.iter().cloned().collect(),
            subjects: subjects.iter().cloned().collect(),
            listed: VecDeque::new(),
        }
    }

    /// The next referrer not handed out yet, as the source lists it, with its manifests read;
    /// `None` when every one has been.
    pub(super) async fn next(
        &mut self,
        source: &dyn ImageSource,
    ) -> Result<Option<(Descriptor, Node)>, TransferError> {
        loop {
            if let Some(referrer) = self.listed.pop_front() {
                if !self.visited.insert(referrer.digest.clone()) {
                    continue;
                }
                let manifest = plan::fetch_entry(source, &referrer).await?;
                let node = plan::load_all(source, manifest).await?;
                self.subjects.push_back(referrer.digest.clone());
                return Ok(Some((referrer, node)));
            }
            let Some(subject) = self.subjects.pop_front() else {
                return Ok(None);
            };
            self.listed = source.referrers(&subject, None).await?.into();
        }
    }
}
