//! The image `inspect`, `digest` and `manifest` read, opened as a `gantry-transfer`
//! [`ImageSource`] whatever its transport (a registry, `oci:`, `oci-archive:`,
//! `docker-archive:`); an index narrowed to one platform as the copy engine narrows it; blobs
//! checked as they stream.

use anyhow::Context;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use gantry_client::Client;
use gantry_spec::{Descriptor, Manifest, Platform};
use gantry_transfer::open::open_source;
use gantry_transfer::{ImageName, ImageSource, TransferError, copy, verify_blob};

use crate::args::GlobalOptions;
use crate::{registry, target};

/// An image opened for reading, with the client that reads it when it is in a registry.
pub(crate) struct OpenedImage {
    /// The client: with the credentials of the image's registry, or without any for the other
    /// transports.
    pub(crate) client: Client,
    /// The image.
    pub(crate) source: Box<dyn ImageSource>,
}

impl OpenedImage {
    /// Opens the image `input` names.
    pub(crate) async fn open(input: &str, global: &GlobalOptions) -> anyhow::Result<OpenedImage> {
        let name = target::image_name(input)?;
        let client = match &name {
            ImageName::Registry(reference) => {
                registry::client_for(global, &[target::domain(reference)]).await?
            }
            _ => Client::new(registry::base_config(global)?)
                .context("cannot set up the registry client")?,
        };
        let source = open_source(&name, &client)
            .await
            .with_context(|| format!("cannot read {name}"))?;
        Ok(OpenedImage { client, source })
    }

    /// The image's name, as shown to users: a registry reference without `docker://`.
    pub(crate) fn name(&self) -> String {
        match self.source.name() {
            ImageName::Registry(reference) => reference.to_string(),
            name => name.to_string(),
        }
    }

    /// The manifest of `index`'s image that best suits `platform`, nested indexes searched
    /// too: the one `gantry copy --platform` picks.
    pub(crate) async fn platform_manifest(
        &self,
        index: &Manifest,
        platform: &Platform,
    ) -> anyhow::Result<Manifest> {
        match copy::select_platform(self.source.as_ref(), index, platform).await {
            Err(TransferError::NoMatchingPlatform { available, .. }) => Err(anyhow::anyhow!(
                "{} has no image for {platform} (it has: {available})",
                self.name()
            )),
            other => Ok(other?),
        }
    }

    /// Streams the blob `descriptor` names into `write`, verified: the last chunk is handed
    /// on only once size and digest matched.
    pub(crate) async fn stream_blob(
        &self,
        descriptor: &Descriptor,
        mut write: impl FnMut(&[u8]) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let digest = &descriptor.digest;
        let raw = self.source.blob(descriptor, 0).await?;
        let mut stream = verify_blob(descriptor, raw);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| match error {
                TransferError::DigestMismatch { .. } => anyhow::Error::new(error)
                    .context(format!("blob {digest} does not match its digest")),
                TransferError::SizeMismatch { expected, .. } => anyhow::Error::new(error)
                    .context(format!("blob {digest} does not have its {expected} bytes")),
                error => error.into(),
            })?;
            write(&chunk)?;
        }
        Ok(())
    }

    /// The whole blob `descriptor` names, verified; for small blobs such as configs only.
    pub(crate) async fn small_blob(&self, descriptor: &Descriptor) -> anyhow::Result<Bytes> {
        let mut buffer = BytesMut::new();
        self.stream_blob(descriptor, |chunk| {
            buffer.extend_from_slice(chunk);
            Ok(())
        })
        .await?;
        Ok(buffer.freeze())
    }
}
