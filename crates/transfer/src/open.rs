//! Opening the source or destination an [`ImageName`] names, whatever its transport.

use gantry_client::Client;

use crate::layout::{OciLayoutDestination, OciLayoutSource};
use crate::oci_archive::{OciArchiveDestination, OciArchiveSource};
use crate::registry::{RegistryDestination, RegistrySource};
use crate::{ImageDestination, ImageName, ImageSource, TransferError};

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
        other => Err(TransferError::Unsupported(format!(
            "reading from the {} transport is not built yet",
            other.transport()
        ))),
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
        other => Err(TransferError::Unsupported(format!(
            "writing to the {} transport is not built yet",
            other.transport()
        ))),
    }
}
