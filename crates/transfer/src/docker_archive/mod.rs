//! `docker-archive:FILE[:REF|:@INDEX]`: the `docker save` / `docker load` format, read by
//! [`DockerArchiveSource`] and written by [`DockerArchiveDestination`].
//!
//! The archive's `manifest.json` lists its images, each as its config file, its `RepoTags` and
//! its layer files in order:
//!
//! ```text
//! manifest.json   [{"Config": "<hex>.json", "RepoTags": ["app:1"], "Layers": ["<hex>.tar", ...]}]
//! <hex>.json      the image config
//! <hex>.tar       a layer, as stored (an uncompressed tar, or compressed)
//! repositories    {"app": {"1": "<top layer id>"}}, the legacy index, only when tagged
//! ```
//!
//! Older `docker save` puts layers at `<id>/layer.tar` (possibly symbolic links to one another);
//! Docker 25 and later puts everything at `blobs/sha256/<hex>` beside an `index.json` and
//! `oci-layout`. The source reads all three by following `manifest.json`'s paths.
//!
//! # Reading
//!
//! The source picks the image tagged `REF` (compared normalised, so `app` is
//! `docker.io/library/app:latest`), the one at position `@INDEX`, or the only one. It has no
//! registry manifest to hand out, so it synthesises a Docker schema 2 manifest: the config as
//! `application/vnd.docker.container.image.v1+json`, each layer with the digest and size of
//! its file as stored (hashed once, streaming, when the source opens) and a media type from its
//! first bytes: gzip `...rootfs.diff.tar.gzip`, zstd `application/vnd.oci.image.layer.v1.tar+zstd`,
//! else the uncompressed `...rootfs.diff.tar`. The archive is read in place, as
//! [`oci_archive`](crate::oci_archive) reads.
//!
//! # Writing
//!
//! The destination holds a single image (an index is
//! [`TransferError::Unsupported`](crate::TransferError::Unsupported)). Blobs go into a staging
//! layout beside the file, verified and resumable as in [`layout`](crate::layout);
//! [`commit`](crate::ImageDestination::commit) writes the config as `<hex>.json`, each layer as
//! given as `<hex>.tar`, `manifest.json` with the reference's familiar name as its `RepoTags`
//! (`[]` when untagged), and, when tagged, `repositories` pointing at the top layer's chain ID
//! (informational: `docker load` reads `manifest.json`), into a temporary file beside `FILE`
//! that is then renamed over it.

mod destination;
mod source;

use serde::{Deserialize, Serialize};

pub use self::destination::DockerArchiveDestination;
pub use self::source::DockerArchiveSource;

/// The format name in errors.
const FORMAT: &str = "Docker archive";

/// The name of the archive's image list.
const MANIFEST_FILE: &str = "manifest.json";

/// The name of the legacy tag index.
const REPOSITORIES_FILE: &str = "repositories";

/// One image of `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ManifestItem {
    /// The config file's path in the archive.
    #[serde(rename = "Config")]
    config: String,
    /// The image's tags, as `docker tag` writes them (`app:1`, `registry:5000/a/b:2`).
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    /// The layer files' paths in the archive, base layer first.
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}
