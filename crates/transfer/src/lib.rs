//! Image transports and the copy engine.
//!
//! `gantry-transfer` sits above `gantry-client` (registries), `gantry-spec` (manifests,
//! descriptors, layouts) and `gantry-reference` (digests, references), and below the `gantry`
//! command line. It moves images between transports, named as users name them ([`ImageName`]):
//!
//! - `docker://HOST/NAME[:TAG|@DIGEST]`: a registry, through `gantry-client` ([`registry`]);
//! - `oci:PATH[:REF]`: an OCI image layout directory ([`layout`]);
//! - `oci-archive:FILE[:REF]`: a tar of one ([`oci_archive`]);
//! - `docker-archive:FILE[:REF]`: the `docker save` format ([`docker_archive`]).
//!
//! Every transport reads through an [`ImageSource`] and writes through an
//! [`ImageDestination`]; the copy engine ([`copy`]) joins any source to any destination,
//! reporting [`ProgressEvent`]s as it goes. Sources hand out raw bytes and destinations check
//! them; [`verify_blob`] checks a blob read for any other use as it streams.
//!
//! # Features
//!
//! None.

mod archive;
pub mod copy;
pub mod docker_archive;
mod error;
mod fsutil;
pub mod layout;
mod name;
pub mod oci_archive;
pub mod open;
pub mod progress;
pub mod registry;
pub mod transport;
mod verify;

pub use crate::docker_archive::{DockerArchiveDestination, DockerArchiveSource};
pub use crate::error::{Interruption, Missing, TransferError, Unsupported};
pub use crate::layout::{OciLayoutDestination, OciLayoutSource};
pub use crate::name::{DockerArchiveRef, ImageName};
pub use crate::oci_archive::{OciArchiveDestination, OciArchiveSource};
pub use crate::progress::{ProgressEvent, ProgressSink};
pub use crate::transport::{BlobStore, BlobStream, ImageDestination, ImageSource, MountOrigin};
pub use crate::verify::verify_blob;
