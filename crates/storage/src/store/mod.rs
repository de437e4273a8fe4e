//! The registry store: blobs, per-repository links, upload sessions, manifests, tags, the
//! referrers index and the catalog, over any [`StorageDriver`](crate::StorageDriver), on CNCF
//! Distribution's layout byte for byte (drawn in `store/paths.rs` and `docs/storage-layout.md`).
//!
//! - [`Registry`]: the store, its options ([`RegistryOptions`]), the catalog, upload purging
//!   and upload tokens; [`Registry::repository`] gives a [`Repository`].
//! - [`BlobStore`]: stat, read, put, create (with [`CreateOptions`] and mounts), resume and
//!   delete; uploads go through a resumable [`BlobWriter`].
//! - [`ManifestStore`] and [`TagStore`]: manifests by digest, tags, and tags by digest.
//!
//! Locks are per repository, per blob digest and per upload, never global; every file is
//! written whole (`put_content`, or a move of a finished upload), and nothing appears under a
//! digest before its content was verified.

mod blobs;
mod cache;
mod catalog;
mod indexes;
mod inner;
mod links;
mod locks;
mod manifests;
mod options;
mod paths;
mod referrers;
mod registry;
mod repository;
mod tags;
mod time;
mod token;
mod upload;

pub use blobs::{BlobStore, CreateOptions, Created, Mount, MountFrom};
pub use manifests::ManifestStore;
pub use options::RegistryOptions;
pub use registry::Registry;
pub use repository::Repository;
pub use tags::TagStore;
pub use upload::BlobWriter;
