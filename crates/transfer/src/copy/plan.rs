//! What a copy moves: the manifest graph read from the source, narrowed to the platforms asked
//! for.

use std::collections::HashSet;

use futures_util::future::try_join_all;
use gantry_reference::Digest;
use gantry_spec::{Descriptor, Manifest, ManifestKind, Platform, media_type};

use crate::{ImageSource, TransferError, Unsupported};

/// How deep indexes may nest before the graph is refused (a cycle, or a hostile source).
const MAX_DEPTH: usize = 8;

/// Which images of an index a copy takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlatformSelection {
    /// The image for the machine running the copy ([`Platform::host`]), best match first
    /// ([`Platform::best_match`]). The destination gets that image manifest alone.
    #[default]
    Host,
    /// The image for this platform (`os/arch[/variant]`), chosen as for `Host`.
    Platform(Platform),
    /// The index itself and every image it lists, nested indexes included.
    All,
}

impl PlatformSelection {
    /// `all`, or a platform as `os/arch[/variant]`.
    pub fn parse(value: &str) -> Result<PlatformSelection, TransferError> {
        if value == "all" {
            return Ok(PlatformSelection::All);
        }
        Ok(PlatformSelection::Platform(Platform::parse(value)?))
    }
}

/// A manifest and everything under it, as read from the source.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// An image manifest (config and layers are blobs).
    Image(Manifest),
    /// An index with its child manifests, and its entries that are not manifests (blobs).
    Index {
        manifest: Manifest,
        children: Vec<Node>,
        blobs: Vec<Descriptor>,
    },
}

impl Node {
    pub(crate) fn manifest(&self) -> &Manifest {
        match self {
            Node::Image(manifest) | Node::Index { manifest, .. } => manifest,
        }
    }

    /// Every blob under this node, each once, in order of first appearance. Layers that may be
    /// missing by design (non-distributable or foreign layers with URLs) are left out.
    pub(crate) fn blobs(&self) -> Vec<Descriptor> {
        let mut seen = HashSet::new();
        let mut blobs = Vec::new();
        self.collect_blobs(&mut seen, &mut blobs);
        blobs
    }

    fn collect_blobs(&self, seen: &mut HashSet<Digest>, blobs: &mut Vec<Descriptor>) {
        let mut add = |descriptor: &Descriptor| {
            if seen.insert(descriptor.digest.clone()) {
                blobs.push(descriptor.clone());
            }
        };
        match self {
            Node::Image(manifest) => {
                if let Some(config) = manifest.config() {
                    add(config);
                }
                for layer in manifest.layers() {
                    if !is_foreign(layer) {
                        add(layer);
                    }
                }
            }
            Node::Index {
                children,
                blobs: own,
                ..
            } => {
                own.iter().for_each(&mut add);
                for child in children {
                    child.collect_blobs(seen, blobs);
                }
            }
        }
    }

    /// Every manifest, children before the index that lists them, each once.
    pub(crate) fn manifests_children_first(&self) -> Vec<&Manifest> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        self.collect_manifests(&mut seen, &mut out);
        out
    }

    fn collect_manifests<'a>(&'a self, seen: &mut HashSet<Digest>, out: &mut Vec<&'a Manifest>) {
        if let Node::Index { children, .. } = self {
            for child in children {
                child.collect_manifests(seen, out);
            }
        }
        let manifest = self.manifest();
        if seen.insert(manifest.digest().clone()) {
            out.push(manifest);
        }
    }
}

/// A layer that registries need not hold: non-distributable, with URLs to fetch it elsewhere.
fn is_foreign(layer: &Descriptor) -> bool {
    media_type::is_non_distributable(&layer.media_type) && !layer.urls.is_empty()
}

/// Whether an index entry points at a manifest (rather than at a blob).
fn is_manifest(entry: &Descriptor) -> bool {
    ManifestKind::from_media_type(&entry.media_type).is_some()
}

/// Reads the manifest an index entry points at, checking it is what the entry says.
pub(crate) async fn fetch_entry(
    source: &dyn ImageSource,
    entry: &Descriptor,
) -> Result<Manifest, TransferError> {
    let manifest = source.manifest(Some(&entry.digest)).await?;
    if manifest.size() != entry.size {
        return Err(TransferError::SizeMismatch {
            digest: entry.digest.clone(),
            expected: entry.size,
            actual: manifest.size(),
        });
    }
    Ok(manifest)
}

/// `manifest` with everything under it.
pub(crate) async fn load_all(
    source: &dyn ImageSource,
    manifest: Manifest,
) -> Result<Node, TransferError> {
    load(source, manifest, 0).await
}

fn load<'a>(
    source: &'a dyn ImageSource,
    manifest: Manifest,
    depth: usize,
) -> futures_util::future::BoxFuture<'a, Result<Node, TransferError>> {
    Box::pin(async move {
        if !manifest.kind().is_index() {
            return Ok(Node::Image(manifest));
        }
        if depth >= MAX_DEPTH {
            return Err(TransferError::Unsupported(Unsupported::NestedIndexes {
                limit: MAX_DEPTH,
            }));
        }
        let (entries, blobs): (Vec<&Descriptor>, Vec<&Descriptor>) =
            manifest.manifests().iter().partition(|e| is_manifest(e));
        let blobs = blobs.into_iter().cloned().collect();
        let children = try_join_all(entries.into_iter().map(|entry| async move {
            let child = fetch_entry(source, entry).await?;
            load(source, child, depth + 1).await
        }))
        .await?;
        Ok(Node::Index {
            manifest,
            children,
            blobs,
        })
    })
}

/// The image manifest of `index` (nested indexes searched too) that best suits `wanted`
/// ([`Platform::best_match`]): what a copy with [`PlatformSelection::Platform`] takes.
/// [`TransferError::NoMatchingPlatform`] when no image suits.
pub async fn select_platform(
    source: &dyn ImageSource,
    index: &Manifest,
    wanted: &Platform,
) -> Result<Manifest, TransferError> {
    let mut candidates = Vec::new();
    let mut pending = vec![(index.clone(), 0)];
    while let Some((index, depth)) = pending.pop() {
        for entry in index.manifests() {
            match ManifestKind::from_media_type(&entry.media_type) {
                Some(kind) if kind.is_index() => {
                    if depth + 1 >= MAX_DEPTH {
                        return Err(TransferError::Unsupported(Unsupported::NestedIndexes {
                            limit: MAX_DEPTH,
                        }));
                    }
                    let nested = fetch_entry(source, entry).await?;
                    pending.push((nested, depth + 1));
                }
                Some(_) => candidates.push(entry.clone()),
                None => {}
            }
        }
    }
    let Some(best) = wanted.best_match(&candidates) else {
        let available: Vec<String> = candidates
            .iter()
            .filter_map(|entry| entry.platform.as_ref().map(ToString::to_string))
            .collect();
        return Err(TransferError::NoMatchingPlatform {
            wanted: wanted.to_string(),
            available: available.join(", "),
        });
    };
    fetch_entry(source, best).await
}
