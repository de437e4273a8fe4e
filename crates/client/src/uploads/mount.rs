//! Cross-repository mounts: [`Client::mount_blob`], and [`Client::mount_or_start_upload`],
//! which hands over the session a refused mount opens.

use gantry_reference::{Digest, Reference, RepositoryName};
use reqwest::Method;
use reqwest::header::{CONTENT_LENGTH, HeaderValue};

use super::{MountOutcome, Upload, location};
use crate::client::Client;
use crate::error::ClientError;
use crate::http::{self, Call, query_value};

/// Where `from` can be mounted from, as the query of a mount request.
fn mount_query(digest: &Digest, from: &RepositoryName) -> String {
    format!(
        "mount={}&from={}",
        query_value(digest.as_str()),
        query_value(from.as_str())
    )
}

impl Client {
    /// Mounts blob `digest` from repository `from` into the repository `reference` names, on
    /// the same registry. Returns whether it was mounted; `false` means upload it instead: the
    /// registry refused, failed or opened an upload session (which is cancelled). To upload
    /// into that session rather than open another, use
    /// [`mount_or_start_upload`](Client::mount_or_start_upload).
    pub async fn mount_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
        from: &RepositoryName,
    ) -> Result<bool, ClientError> {
        let MountRequest {
            scope, url, answer, ..
        } = self.request_mount(reference, digest, from).await?;
        let method = Method::POST;
        let response = match answer {
            Ok(response) => response,
            Err(error) => {
                tracing::debug!(%error, "mount refused; the blob will be uploaded");
                return Ok(false);
            }
        };
        match response.status().as_u16() {
            201 => Ok(true),
            202 => {
                if let Ok(location) = location(&method, &url, &response) {
                    let call = Call::new(Method::DELETE, &location).scope(scope);
                    let _ = http::send(&self.inner, call).await;
                }
                Ok(false)
            }
            _ => Ok(false),
        }
    }

    /// Mounts blob `digest` from repository `from` into the repository `reference` names, or
    /// gives the session to upload it into: the one the registry opened in answer to the mount
    /// request (`202`, as registries do when they cannot mount), or, when the mount request
    /// failed, a new one. Errors are those of opening that new session.
    pub async fn mount_or_start_upload(
        &self,
        reference: &Reference,
        digest: &Digest,
        from: &RepositoryName,
    ) -> Result<MountOutcome, ClientError> {
        let MountRequest {
            scope,
            base,
            url,
            answer,
        } = self.request_mount(reference, digest, from).await?;
        let method = Method::POST;
        match answer {
            Ok(response) if response.status().as_u16() == 201 => Ok(MountOutcome::Mounted),
            Ok(response) if response.status().as_u16() == 202 => {
                match Upload::opened(&method, &url, &response, scope.clone()) {
                    Ok(upload) => Ok(MountOutcome::Upload(upload)),
                    Err(error) => {
                        tracing::debug!(%error, "the mount's session is unusable; opening another");
                        Ok(MountOutcome::Upload(self.open_session(&base, scope).await?))
                    }
                }
            }
            outcome => {
                if let Err(error) = outcome {
                    tracing::debug!(%error, "mount refused; opening an upload session");
                }
                Ok(MountOutcome::Upload(self.open_session(&base, scope).await?))
            }
        }
    }
}

/// A mount request sent, and what the caller goes on with.
struct MountRequest {
    /// The target repository's `pull,push` scope.
    scope: String,
    /// The target repository's uploads URL, to open a session at.
    base: String,
    /// The mount request's URL.
    url: String,
    /// The registry's answer, or why there was none.
    answer: Result<reqwest::Response, ClientError>,
}

impl Client {
    /// Sends `POST blobs/uploads/?mount=<digest>&from=<from>` to the repository `reference`
    /// names, with the scopes it needs: push there, pull on the source.
    async fn request_mount(
        &self,
        reference: &Reference,
        digest: &Digest,
        from: &RepositoryName,
    ) -> Result<MountRequest, ClientError> {
        let repository = self.repository(reference).await?;
        let scope = repository.scope("pull,push");
        let base = repository.url("blobs/uploads/");
        let url = format!("{base}?{}", mount_query(digest, from));
        let call = Call::new(Method::POST, &url)
            .scope(scope.clone())
            .scope(format!("repository:{from}:pull"))
            .header(CONTENT_LENGTH, HeaderValue::from(0));
        let answer = http::send(&self.inner, call).await;
        Ok(MountRequest {
            scope,
            base,
            url,
            answer,
        })
    }
}
