//! Opening the source or destination an [`ImageName`] names, whatever its transport.

use gantry_client::Client;

use crate::docker_archive::{DockerArchiveDestination, DockerArchiveSource};
use crate::layout::{OciLayoutDestination, OciLayoutSource};
use crate::oci_archive::{OciArchiveDestination, OciArchiveSource};
use crate::registry::{RegistryDestination, RegistrySource};
use crate::{DockerArchiveRef, ImageDestination, ImageName, ImageSource, TransferError};

/// Opens the image `name` names for reading.
pub async fn open_source(
    name: &ImageName,
    client: &Client,
) -> Result<Box<dyn ImageSource>, TransferError> {
    match name {
        ImageName::Registry(reference) => Ok(Box::new(RegistrySource::new(
            client.clone(),
            reference.clone(),
        ))),
        ImageName::OciLayout { path, reference } => Ok(Box::new(
            OciLayoutSource::open(path.clone(), reference.clone()).await?,
        )),
        ImageName::OciArchive { path, reference } => Ok(Box::new(
            OciArchiveSource::open(path.clone(), reference.clone()).await?,
        )),
        ImageName::DockerArchive { path, reference } => Ok(Box::new(
            DockerArchiveSource::open(path.clone(), reference.clone()).await?,
        )),
    }
}

/// Opens the image `name` names for writing.
pub async fn open_destination(
    name: &ImageName,
    client: &Client,
) -> Result<Box<dyn ImageDestination>, TransferError> {
    match name {
        ImageName::Registry(reference) => Ok(Box::new(RegistryDestination::new(
            client.clone(),
            reference.clone(),
        ))),
        ImageName::OciLayout { path, reference } => Ok(Box::new(
            OciLayoutDestination::create(path.clone(), reference.clone()).await?,
        )),
        ImageName::OciArchive { path, reference } => Ok(Box::new(
            OciArchiveDestination::create(path.clone(), reference.clone()).await?,
        )),
        ImageName::DockerArchive { path, reference } => {
            let tag = match reference {
                None => None,
                Some(DockerArchiveRef::Tagged(reference)) => Some(reference.clone()),
                Some(DockerArchiveRef::Index(_)) => {
                    return Err(TransferError::InvalidName {
                        input: name.to_string(),
                        reason: "an image is written to a Docker archive by tag, not position"
                            .to_owned(),
                    });
                }
            };
            Ok(Box::new(
                DockerArchiveDestination::create(path.clone(), tag).await?,
            ))
        }
    }
}
