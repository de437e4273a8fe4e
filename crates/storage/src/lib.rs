//! Storage drivers and the registry store, on CNCF Distribution's on-disk layout.
//!
//! `gantry-storage` sits above `gantry-reference` and `gantry-spec` and below `gantry-registry`
//! (the HTTP server) and, behind a feature, `gantry-transfer`. It knows nothing of HTTP.
//!
//! - [`driver`]: the [`StorageDriver`] trait, chosen at run time, and its drivers:
//!   [`FilesystemDriver`] (the default, a local directory) and [`InMemoryDriver`] for tests.
//! - [`StoragePath`]: driver paths, which cannot leave the driver's root.
//! - [`store`]: the registry store over a driver: [`Registry`], its [`Repository`]s, their
//!   blobs (with resumable [`BlobWriter`] uploads), manifests, tags and referrers.
//!
//! ```
//! use bytes::Bytes;
//! use gantry_storage::{InMemoryDriver, StorageDriver, StoragePath};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let driver = InMemoryDriver::new();
//! let path = StoragePath::new("/docker/registry/v2/note")?;
//! driver.put_content(&path, Bytes::from_static(b"hello")).await?;
//! assert_eq!(driver.get_content(&path).await?, "hello");
//! # Ok::<(), gantry_storage::StorageError>(())
//! # }).unwrap();
//! ```
//!
//! # Features
//!
//! - `testing`: the shared driver test suite (`testing::driver_suite`), which every driver
//!   runs in one line, for drivers written outside this crate.
//! - `s3`: [`S3Driver`], for AWS S3 and S3-compatible object stores, through `object_store`.

pub mod driver;
mod error;
mod path;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use crate::driver::{
    BoxByteStream, BoxFuture, BoxReader, FileInfo, FileWriter, FilesystemDriver, InMemoryDriver,
    StorageDriver, WalkControl, WalkVisitor,
};
#[cfg(feature = "s3")]
pub use crate::driver::{S3Credentials, S3Driver, S3Options};
pub use crate::error::StorageError;
pub use crate::path::StoragePath;
pub use crate::store::{
    BlobStore, BlobWriter, CreateOptions, Created, ManifestStore, Registry, RegistryOptions,
    Repository, TagStore,
};
