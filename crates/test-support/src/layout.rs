//! OCI image layouts: the fixtures the suites push, written by hand from `gantry-spec`'s
//! builders, and the blobs read back from layouts skopeo wrote.
//!
//! Layers are arbitrary bytes (a deterministic pseudo-random stream that nothing compresses)
//! under the uncompressed media type `application/vnd.oci.image.layer.v1.tar`, so their diff IDs
//! are their digests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gantry_reference::Digest;
use gantry_spec::{
    Descriptor, ImageIndex, ImageManifest, Manifest, Platform, annotations, layout, media_type,
};

/// An OCI image layout being written.
#[derive(Debug)]
pub struct LayoutWriter {
    dir: PathBuf,
    refs: Vec<Descriptor>,
}

impl LayoutWriter {
    /// Starts a layout in `dir`: the `oci-layout` marker and an empty `blobs/sha256`.
    pub fn new(dir: &Path) -> LayoutWriter {
        let blobs = dir.join(layout::BLOBS_DIR).join("sha256");
        std::fs::create_dir_all(&blobs)
            .unwrap_or_else(|e| panic!("create {}: {e}", blobs.display()));
        let marker = layout::OciLayout::new()
            .to_json()
            .unwrap_or_else(|e| panic!("oci-layout JSON: {e}"));
        write(&dir.join(layout::OCI_LAYOUT_FILE), &marker);
        LayoutWriter {
            dir: dir.to_path_buf(),
            refs: Vec::new(),
        }
    }

    /// Writes `content` as a blob and returns its descriptor.
    pub fn blob(&mut self, media_type: &str, content: &[u8]) -> Descriptor {
        let descriptor = Descriptor::of(media_type, content);
        write(
            &self.dir.join(layout::blob_path(&descriptor.digest)),
            content,
        );
        descriptor
    }

    /// Writes a manifest's exact bytes as a blob.
    pub fn manifest(&mut self, manifest: &Manifest) -> Descriptor {
        write(
            &self.dir.join(layout::blob_path(manifest.digest())),
            manifest.bytes(),
        );
        manifest.descriptor()
    }

    /// Writes an image of one layer per entry of `layer_sizes` for `platform`; `seed` makes its
    /// content differ from other images'.
    pub fn image(&mut self, seed: u64, layer_sizes: &[usize], platform: &Platform) -> Manifest {
        let layers: Vec<Descriptor> = layer_sizes
            .iter()
            .enumerate()
            .map(|(index, &size)| {
                let bytes = noise(seed.wrapping_mul(1_000).wrapping_add(index as u64), size);
                self.blob(media_type::OCI_LAYER_TAR, &bytes)
            })
            .collect();
        let diff_ids: Vec<String> = layers.iter().map(|l| format!("\"{}\"", l.digest)).collect();
        let config = format!(
            "{{\"architecture\":\"{}\",\"os\":\"{}\",\"config\":{{\"Env\":[\"SEED={seed}\"]}},\
             \"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{}]}}}}",
            platform.architecture,
            platform.os,
            diff_ids.join(",")
        );
        let config = self.blob(media_type::OCI_IMAGE_CONFIG, config.as_bytes());
        let manifest = ImageManifest::builder(config)
            .layers(layers)
            .build()
            .unwrap_or_else(|e| panic!("image manifest: {e}"));
        self.manifest(&manifest);
        manifest
    }

    /// Writes an index of `entries`, each with its platform.
    pub fn index(&mut self, entries: &[(&Manifest, &Platform)]) -> Manifest {
        let index = ImageIndex::builder()
            .manifests(entries.iter().map(|(manifest, platform)| {
                manifest.descriptor().with_platform((*platform).clone())
            }))
            .build()
            .unwrap_or_else(|e| panic!("image index: {e}"));
        self.manifest(&index);
        index
    }

    /// Names `manifest` `name` in the layout's `index.json`.
    pub fn tag(&mut self, name: &str, manifest: &Manifest) {
        self.refs.push(
            manifest
                .descriptor()
                .with_annotation(annotations::REF_NAME, name),
        );
    }

    /// Writes `index.json`.
    pub fn finish(self) {
        let index = ImageIndex::builder()
            .manifests(self.refs)
            .build()
            .unwrap_or_else(|e| panic!("index.json: {e}"));
        write(&self.dir.join(layout::INDEX_FILE), index.bytes());
    }
}

fn write(path: &Path, content: &[u8]) {
    std::fs::write(path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// `size` bytes of a xorshift stream seeded with `seed`: incompressible and reproducible.
pub fn noise(seed: u64, size: usize) -> Vec<u8> {
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut bytes = Vec::with_capacity(size + 8);
    while bytes.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(size);
    bytes
}

/// Every blob file of the layout in `dir`, by file name (`sha256/<hex>`), with its content.
pub fn blob_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let blobs = dir.join(layout::BLOBS_DIR);
    let algorithms =
        std::fs::read_dir(&blobs).unwrap_or_else(|e| panic!("read {}: {e}", blobs.display()));
    for algorithm in algorithms {
        let algorithm = algorithm.unwrap_or_else(|e| panic!("read {}: {e}", blobs.display()));
        let entries = std::fs::read_dir(algorithm.path())
            .unwrap_or_else(|e| panic!("read {}: {e}", algorithm.path().display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("read {}: {e}", blobs.display()))
                .path();
            let content =
                std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            let name = format!(
                "{}/{}",
                algorithm.file_name().to_string_lossy(),
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            );
            files.insert(name, content);
        }
    }
    files
}

/// The digest `index.json` of the layout in `dir` names `name`.
pub fn ref_digest(dir: &Path, name: &str) -> Digest {
    let path = dir.join(layout::INDEX_FILE);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let index = layout::parse_index(bytes, &gantry_spec::ParseOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    layout::find_ref_name(&index, name)
        .unwrap_or_else(|| panic!("{} names no {name:?}", path.display()))
        .digest
        .clone()
}

/// The images both interop suites push: written into a layout by [`Fixture::write`].
#[derive(Debug)]
pub struct Fixture {
    /// A linux/amd64 image of three layers, one of 5 MiB and a bit (so uploads take more than
    /// one read), named `v1` in the layout.
    pub image: Manifest,
    /// An index of two images (linux/amd64 and linux/arm64/v8), named `multi` in the layout.
    pub index: Manifest,
    /// The index's images, in its order.
    pub children: Vec<Manifest>,
}

impl Fixture {
    /// The layout name of [`Fixture::image`].
    pub const IMAGE: &'static str = "v1";
    /// The layout name of [`Fixture::index`].
    pub const INDEX: &'static str = "multi";

    /// Writes the fixture as an OCI image layout in `dir`.
    pub fn write(dir: &Path) -> Fixture {
        let mut writer = LayoutWriter::new(dir);
        let amd64 = Platform::new("linux", "amd64");
        let arm64 = Platform::new("linux", "arm64").with_variant("v8");
        let image = writer.image(1, &[1_024, 5 * 1024 * 1024 + 13, 64 * 1024 + 1], &amd64);
        let children = vec![
            writer.image(2, &[2_048, 100_000, 3], &amd64),
            writer.image(3, &[4_096, 30_000], &arm64),
        ];
        let index = writer.index(&[(&children[0], &amd64), (&children[1], &arm64)]);
        writer.tag(Fixture::IMAGE, &image);
        writer.tag(Fixture::INDEX, &index);
        writer.finish();
        Fixture {
            image,
            index,
            children,
        }
    }
}
