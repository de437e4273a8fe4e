//! Copying the referrers (signatures, SBOMs, attestations) of the manifests a copy wrote: each
//! is copied as an image by digest, with its own referrers after it.

use std::collections::{HashSet, VecDeque};

use gantry_reference::Digest;
use gantry_spec::Descriptor;

use super::{Ctx, plan};
use crate::TransferError;

/// Copies the referrers of every manifest in `subjects`, and theirs in turn. Returns the
/// referrers copied, as the source listed them.
pub(super) async fn copy_referrers(
    ctx: &Ctx<'_>,
    subjects: &[Digest],
) -> Result<Vec<Descriptor>, TransferError> {
    let mut visited: HashSet<Digest> = subjects.iter().cloned().collect();
    let mut queue: VecDeque<Digest> = subjects.iter().cloned().collect();
    let mut copied = Vec::new();
    while let Some(subject) = queue.pop_front() {
        for referrer in ctx.source.referrers(&subject, None).await? {
            if !visited.insert(referrer.digest.clone()) {
                continue;
            }
            let manifest = plan::fetch_entry(ctx.source, &referrer).await?;
            let node = plan::load_all(ctx.source, manifest).await?;
            ctx.copy_node(&node).await?;
            queue.push_back(referrer.digest.clone());
            copied.push(referrer);
        }
    }
    Ok(copied)
}
