//! What a [`Registry`](super::Registry) is configured with.

use std::time::Duration;

use gantry_spec::DEFAULT_MAX_MANIFEST_SIZE;

/// The registry store's options. [`RegistryOptions::default`] is Distribution's default:
/// deleting off, no redirects, a random upload secret, 4 MiB manifests, uploads purged after
/// 7 days.
#[derive(Clone)]
#[non_exhaustive]
pub struct RegistryOptions {
    /// Whether manifests and blobs may be deleted. Off by default; deleting is then
    /// [`StorageError::DeleteDisabled`](crate::StorageError::DeleteDisabled).
    pub delete_enabled: bool,
    /// Whether blob reads may answer with the driver's redirect URL.
    pub redirect: bool,
    /// The key that signs upload state tokens. Servers that share storage must share it; when
    /// empty, [`Registry::new`](super::Registry::new) draws a random one for this process.
    pub upload_secret: Vec<u8>,
    /// The largest manifest accepted, in bytes.
    pub max_manifest_size: usize,
    /// The most tags, repositories or referrers one page of the API lists. The store's own
    /// listing methods take their page size from the caller; the server applies this limit.
    pub max_page_size: usize,
    /// Whether an index may name child manifests the repository does not have (a sparse
    /// index, which the OCI specification lets a registry accept). On by default; when off,
    /// every child must be there, like every blob an image manifest names.
    pub sparse_indexes: bool,
    /// Upload sessions older than this are purged.
    pub upload_purge_age: Duration,
    /// How many blob descriptors the in-memory cache keeps; zero disables it.
    pub descriptor_cache_capacity: usize,
    /// How long the catalog's list of repository names, read by one walk of the tree, serves
    /// later pages. Repositories this process creates join it at once; those another process
    /// sharing the storage creates appear within this time. Zero walks the tree for every page.
    pub catalog_refresh: Duration,
    /// How long a `link` file this process read may answer again without reading storage
    /// (tags, manifest revisions, blobs linked into a repository). Writes and deletes through
    /// this process update it at once; another process's are seen within this time. Zero, the
    /// default, reads every link every time: for storage where a read costs little (a local
    /// disk), unlike an object store, where each is a request.
    pub link_cache_ttl: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            delete_enabled: false,
            redirect: false,
            upload_secret: Vec::new(),
            max_manifest_size: DEFAULT_MAX_MANIFEST_SIZE,
            max_page_size: 10_000,
            sparse_indexes: true,
            upload_purge_age: Duration::from_secs(7 * 24 * 60 * 60),
            descriptor_cache_capacity: 10_000,
            catalog_refresh: Duration::from_secs(10),
            link_cache_ttl: Duration::ZERO,
        }
    }
}

impl RegistryOptions {
    /// The defaults.
    pub fn new() -> RegistryOptions {
        RegistryOptions::default()
    }

    /// Accepts (or refuses) indexes whose child manifests are not in the repository.
    pub fn with_sparse_indexes(mut self, sparse: bool) -> Self {
        self.sparse_indexes = sparse;
        self
    }

    /// With deleting enabled or not.
    pub fn with_delete_enabled(mut self, enabled: bool) -> Self {
        self.delete_enabled = enabled;
        self
    }

    /// With redirects allowed or not.
    pub fn with_redirect(mut self, redirect: bool) -> Self {
        self.redirect = redirect;
        self
    }

    /// With the catalog's names kept this long between walks of the tree.
    pub fn with_catalog_refresh(mut self, refresh: Duration) -> Self {
        self.catalog_refresh = refresh;
        self
    }

    /// With this upload secret.
    pub fn with_upload_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.upload_secret = secret.into();
        self
    }

    /// With this manifest size limit.
    pub fn with_max_manifest_size(mut self, bytes: usize) -> Self {
        self.max_manifest_size = bytes;
        self
    }

    /// With this page size limit.
    pub fn with_max_page_size(mut self, entries: usize) -> Self {
        self.max_page_size = entries;
        self
    }

    /// With this upload purge age.
    pub fn with_upload_purge_age(mut self, age: Duration) -> Self {
        self.upload_purge_age = age;
        self
    }

    /// With this link cache lifetime.
    pub fn with_link_cache_ttl(mut self, ttl: Duration) -> Self {
        self.link_cache_ttl = ttl;
        self
    }

    /// With this descriptor cache capacity.
    pub fn with_descriptor_cache_capacity(mut self, entries: usize) -> Self {
        self.descriptor_cache_capacity = entries;
        self
    }
}

impl std::fmt::Debug for RegistryOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryOptions")
            .field("delete_enabled", &self.delete_enabled)
            .field("redirect", &self.redirect)
            .field("upload_secret", &"<redacted>")
            .field("max_manifest_size", &self.max_manifest_size)
            .field("max_page_size", &self.max_page_size)
            .field("sparse_indexes", &self.sparse_indexes)
            .field("upload_purge_age", &self.upload_purge_age)
            .field("descriptor_cache_capacity", &self.descriptor_cache_capacity)
            .field("catalog_refresh", &self.catalog_refresh)
            .field("link_cache_ttl", &self.link_cache_ttl)
            .finish()
    }
}
