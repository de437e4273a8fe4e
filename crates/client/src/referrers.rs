//! Referrers: the manifests that name a subject, by the referrers API (paginated by `Link`,
//! filtered by `artifactType`) or, where a registry answers the API with 404, by the tag
//! schema's fallback index under the tag `<algorithm>-<hex>`.

use gantry_reference::{Digest, Reference};
use gantry_spec::{Descriptor, referrers};
use serde::Deserialize;

use crate::client::Client;
use crate::error::ClientError;
use crate::http::query_value;

#[derive(Deserialize)]
struct ReferrersPage {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// The tag the referrers tag schema keeps a subject's referrers index under: `sha256-<hex>`.
pub fn fallback_tag(subject: &Digest) -> String {
    format!("{}-{}", subject.algorithm(), subject.encoded())
}

impl Client {
    /// The referrers of manifest `subject` in the repository `reference` names, those of
    /// `artifact_type` only when it is given.
    ///
    /// The list comes from the referrers API, every page of it. A registry that answers the API
    /// with 404 does not have it: the list then comes from the index tagged
    /// [`fallback_tag`]`(subject)`, and is empty when there is none. The filter is applied here
    /// too, so a registry that ignores `artifactType` gives the same answer.
    pub async fn referrers(
        &self,
        reference: &Reference,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, ClientError> {
        let mut rest = format!("referrers/{subject}");
        if let Some(artifact_type) = artifact_type {
            rest.push_str("?artifactType=");
            rest.push_str(&query_value(artifact_type));
        }
        let repository = self.repository(reference).await?;
        let url = repository.url(&rest);
        let listed = match self
            .pages::<ReferrersPage>(url, repository.scope("pull"))
            .await
        {
            Ok(pages) => pages.into_iter().flat_map(|page| page.manifests).collect(),
            Err(error) if error.status() == Some(404) => {
                tracing::debug!(%error, "no referrers API; reading the tag schema's index");
                self.fallback_referrers(reference, subject).await?
            }
            Err(error) => return Err(error),
        };
        Ok(match artifact_type {
            Some(artifact_type) => referrers::filter_by_artifact_type(&listed, artifact_type),
            None => listed,
        })
    }

    async fn fallback_referrers(
        &self,
        reference: &Reference,
        subject: &Digest,
    ) -> Result<Vec<Descriptor>, ClientError> {
        let tagged = reference.name_only().with_tag(&fallback_tag(subject))?;
        match self.get_manifest(&tagged).await {
            Ok(index) => Ok(index.manifests().to_vec()),
            Err(error) if error.is_not_found() => Ok(Vec::new()),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_tags_are_the_digest_with_a_dash() {
        let digest = Digest::of(gantry_reference::Algorithm::Sha256, b"x");
        let tag = fallback_tag(&digest);
        assert_eq!(tag, format!("sha256-{}", digest.encoded()));
        assert!(gantry_reference::Tag::parse(&tag).is_ok());
    }
}
