//! A source's raw [`BlobStream`] checked against its descriptor as it streams, through the
//! client's [`VerifyingStream`].

use gantry_client::{ClientError, VerifyingStream};
use gantry_reference::DigestError;
use gantry_spec::Descriptor;

use crate::{BlobStream, TransferError};

/// `data`, the whole blob `descriptor` names, checked against the descriptor's size and
/// digest as it streams: the last chunk comes out only once both matched; otherwise a
/// [`TransferError::SizeMismatch`] or [`TransferError::DigestMismatch`] takes its place and the
/// stream ends. Sources hand out raw bytes ([`ImageSource::blob`](crate::ImageSource::blob));
/// whoever reads a blob for itself rather than for a destination checks it with this.
pub fn verify_blob(descriptor: &Descriptor, data: BlobStream) -> BlobStream {
    let digest = descriptor.digest.clone();
    let mismatch = move |error: DigestError| match error {
        DigestError::Mismatch { expected, actual } => {
            TransferError::DigestMismatch { expected, actual }
        }
        DigestError::SizeMismatch { expected, actual } => TransferError::SizeMismatch {
            digest: digest.clone(),
            expected,
            actual,
        },
        other => TransferError::Client(ClientError::from(other)),
    };
    Box::pin(VerifyingStream::new(
        data,
        Some(descriptor.digest.clone()),
        Some(descriptor.size),
        mismatch,
    ))
}
