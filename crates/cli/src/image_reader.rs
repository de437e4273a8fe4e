//! Reading one image for `inspect`, `digest` and `manifest`: from a registry through the
//! client, or from any other transport `gantry-transfer` opens (`oci:`, `oci-archive:`,
//! `docker-archive:`). Blobs read from a transport are verified here as they stream.

use anyhow::{Context, bail};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use gantry_client::Client;
use gantry_reference::{Digest, Reference, Verifier};
use gantry_spec::{Descriptor, Manifest};
use gantry_transfer::open::open_source;
use gantry_transfer::{ImageName, ImageSource};

use crate::args::GlobalOptions;
use crate::{registry, target};

/// Where one image is read from.
pub(crate) enum ImageReader {
    /// A registry, through the client.
    Registry {
        /// The client.
        client: Client,
        /// The image.
        reference: Reference,
    },
    /// Any other transport.
    Transport {
        /// The image's name.
        name: ImageName,
        /// The opened source.
        source: Box<dyn ImageSource>,
    },
}

impl ImageReader {
    /// Opens the image `input` names.
    pub(crate) async fn open(input: &str, global: &GlobalOptions) -> anyhow::Result<ImageReader> {
        match target::image_name(input)? {
            ImageName::Registry(reference) => {
                let client = registry::client_for(global, &[target::domain(&reference)]).await?;
                Ok(ImageReader::Registry { client, reference })
            }
            name => {
                let client = Client::new(registry::base_config(global)?)
                    .context("cannot set up the registry client")?;
                let source = open_source(&name, &client)
                    .await
                    .with_context(|| format!("cannot read {name}"))?;
                Ok(ImageReader::Transport { name, source })
            }
        }
    }

    /// The image's name, as shown to users.
    pub(crate) fn name(&self) -> String {
        match self {
            ImageReader::Registry { reference, .. } => reference.to_string(),
            ImageReader::Transport { name, .. } => name.to_string(),
        }
    }

    /// The registry client and reference, for a registry image.
    pub(crate) fn registry(&self) -> Option<(&Client, &Reference)> {
        match self {
            ImageReader::Registry { client, reference } => Some((client, reference)),
            ImageReader::Transport { .. } => None,
        }
    }

    /// The top manifest, or the one with `digest` (an index's child).
    pub(crate) async fn manifest(&self, digest: Option<&Digest>) -> anyhow::Result<Manifest> {
        match self {
            ImageReader::Registry { client, reference } => {
                let wanted = match digest {
                    Some(digest) => reference.name_only().with_digest(digest.clone()),
                    None => reference.clone(),
                };
                Ok(client.get_manifest(&wanted).await?)
            }
            ImageReader::Transport { source, .. } => Ok(source.manifest(digest).await?),
        }
    }

    /// Streams the blob `descriptor` names into `write`, verified: the last chunk is handed
    /// on only once size and digest matched.
    pub(crate) async fn stream_blob(
        &self,
        descriptor: &Descriptor,
        mut write: impl FnMut(&[u8]) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        match self {
            ImageReader::Registry { client, reference } => {
                let mut stream = client.get_blob_descriptor(reference, descriptor).await?;
                while let Some(chunk) = stream.next().await {
                    write(&chunk?)?;
                }
                Ok(())
            }
            ImageReader::Transport { source, .. } => {
                let mut stream = source.blob(descriptor, 0).await?;
                let mut verifier = Verifier::new(descriptor.digest.clone());
                let mut received = 0u64;
                let mut held: Option<Bytes> = None;
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk?;
                    received += chunk.len() as u64;
                    if received > descriptor.size {
                        bail!(
                            "blob {} is larger than its {} bytes",
                            descriptor.digest,
                            descriptor.size
                        );
                    }
                    verifier.update(&chunk);
                    if let Some(previous) = held.replace(chunk) {
                        write(&previous)?;
                    }
                }
                if received != descriptor.size {
                    bail!(
                        "blob {} has {received} bytes, not {}",
                        descriptor.digest,
                        descriptor.size
                    );
                }
                verifier.verify().with_context(|| {
                    format!("blob {} does not match its digest", descriptor.digest)
                })?;
                if let Some(last) = held {
                    write(&last)?;
                }
                Ok(())
            }
        }
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
