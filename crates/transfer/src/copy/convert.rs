//! Manifest format conversion between Docker schema 2 and OCI: the media types of manifests,
//! configs and layers are rewritten (indexes and their children too), which gives the manifests
//! new digests; the blobs themselves are unchanged.

use gantry_spec::{Descriptor, ImageIndex, ImageManifest, Manifest, ManifestKind, media_type};

use super::plan::Node;
use crate::{TransferError, Unsupported};

/// The manifest format a copy writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ManifestFormat {
    /// OCI image manifests and indexes.
    Oci,
    /// Docker schema 2 manifests and manifest lists (`v2s2`).
    DockerV2S2,
}

impl ManifestFormat {
    /// `oci`, or `v2s2` (also `docker`).
    pub fn parse(value: &str) -> Result<ManifestFormat, TransferError> {
        match value {
            "oci" => Ok(ManifestFormat::Oci),
            "v2s2" | "docker" => Ok(ManifestFormat::DockerV2S2),
            other => Err(TransferError::Unsupported(Unsupported::ManifestFormat {
                name: other.to_owned(),
            })),
        }
    }
}

impl std::fmt::Display for ManifestFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ManifestFormat::Oci => "OCI",
            ManifestFormat::DockerV2S2 => "Docker schema 2",
        })
    }
}

/// `node` in `format`: every manifest whose kind differs is rebuilt, children first, and the
/// indexes above them point at the new digests. Nodes already in `format` keep their bytes.
pub(crate) fn convert(node: Node, format: ManifestFormat) -> Result<Node, TransferError> {
    match node {
        Node::Image(manifest) => Ok(Node::Image(convert_image(manifest, format)?)),
        Node::Index {
            manifest,
            children,
            blobs,
        } => {
            let children = children
                .into_iter()
                .map(|child| convert(child, format))
                .collect::<Result<Vec<_>, _>>()?;
            let manifest = convert_index(manifest, &children, format)?;
            Ok(Node::Index {
                manifest,
                children,
                blobs,
            })
        }
    }
}

fn is_target(manifest: &Manifest, format: ManifestFormat) -> bool {
    manifest.kind().is_docker() == (format == ManifestFormat::DockerV2S2)
}

/// A `role` (`config` or `layer`) of `media_type` that `format` has no counterpart for.
fn no_counterpart(role: &'static str, media_type: &str, format: ManifestFormat) -> TransferError {
    TransferError::Unsupported(Unsupported::MediaType {
        role,
        media_type: media_type.to_owned(),
        format,
    })
}

/// The artifact `manifest`, which Docker schema 2 cannot hold.
fn artifact(manifest: &Manifest, reason: &str) -> TransferError {
    TransferError::Unsupported(Unsupported::Artifact {
        destination: ManifestFormat::DockerV2S2.to_string(),
        manifest: manifest.digest().clone(),
        reason: reason.to_owned(),
    })
}

fn convert_image(manifest: Manifest, format: ManifestFormat) -> Result<Manifest, TransferError> {
    if is_target(&manifest, format) {
        return Ok(manifest);
    }
    let Some(image) = manifest.as_image() else {
        return Ok(manifest);
    };
    let algorithm = manifest.digest().algorithm();
    let built = match format {
        ManifestFormat::Oci => {
            let mut config = image.config.clone();
            config.media_type = match config.media_type.as_str() {
                media_type::DOCKER_CONTAINER_CONFIG | media_type::OCI_IMAGE_CONFIG => {
                    media_type::OCI_IMAGE_CONFIG.to_owned()
                }
                other => {
                    return Err(no_counterpart("config", other, format));
                }
            };
            let mut converted = image.clone();
            converted.config = config;
            converted.layers = image.layers.iter().map(oci_layer).collect();
            converted
                .to_builder(ManifestKind::OciImageManifest)
                .algorithm(algorithm)
                .build()?
        }
        ManifestFormat::DockerV2S2 => {
            if image.subject.is_some() || image.artifact_type.is_some() {
                return Err(artifact(&manifest, "it has a subject or an artifact type"));
            }
            let mut config = image.config.clone();
            config.media_type = match config.media_type.as_str() {
                media_type::OCI_IMAGE_CONFIG | media_type::DOCKER_CONTAINER_CONFIG => {
                    media_type::DOCKER_CONTAINER_CONFIG.to_owned()
                }
                other => {
                    return Err(no_counterpart("config", other, format));
                }
            };
            let layers = image
                .layers
                .iter()
                .map(docker_layer)
                .collect::<Result<Vec<_>, _>>()?;
            ImageManifest::docker_builder(config)
                .layers(layers)
                .algorithm(algorithm)
                .build()?
        }
    };
    Ok(built)
}

fn oci_layer(layer: &Descriptor) -> Descriptor {
    let mut layer = layer.clone();
    let converted = match layer.media_type.as_str() {
        media_type::DOCKER_LAYER_TAR_GZIP => Some(media_type::OCI_LAYER_TAR_GZIP),
        media_type::DOCKER_LAYER_TAR => Some(media_type::OCI_LAYER_TAR),
        media_type::DOCKER_FOREIGN_LAYER_TAR_GZIP => {
            Some(media_type::OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP)
        }
        _ => None,
    };
    if let Some(converted) = converted {
        converted.clone_into(&mut layer.media_type);
    }
    layer
}

fn docker_layer(layer: &Descriptor) -> Result<Descriptor, TransferError> {
    let mut layer = layer.clone();
    let converted = match layer.media_type.as_str() {
        media_type::OCI_LAYER_TAR_GZIP | media_type::DOCKER_LAYER_TAR_GZIP => {
            media_type::DOCKER_LAYER_TAR_GZIP
        }
        media_type::OCI_LAYER_TAR | media_type::DOCKER_LAYER_TAR => media_type::DOCKER_LAYER_TAR,
        media_type::OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP
        | media_type::DOCKER_FOREIGN_LAYER_TAR_GZIP => media_type::DOCKER_FOREIGN_LAYER_TAR_GZIP,
        other => {
            return Err(no_counterpart("layer", other, ManifestFormat::DockerV2S2));
        }
    };
    converted.clone_into(&mut layer.media_type);
    Ok(layer)
}

fn convert_index(
    manifest: Manifest,
    children: &[Node],
    format: ManifestFormat,
) -> Result<Manifest, TransferError> {
    let Some(index) = manifest.as_index() else {
        return Ok(manifest);
    };
    // Entries that are manifests, in order, are the children, in order.
    let mut converted = children.iter().map(Node::manifest);
    let mut changed = !is_target(&manifest, format);
    let mut entries = Vec::with_capacity(index.manifests.len());
    for entry in &index.manifests {
        if ManifestKind::from_media_type(&entry.media_type).is_none() {
            entries.push(entry.clone());
            continue;
        }
        let Some(child) = converted.next() else {
            return Err(TransferError::Unsupported(Unsupported::UnreadChildren {
                index: manifest.digest().clone(),
            }));
        };
        let mut entry = entry.clone();
        if &entry.digest != child.digest() || entry.media_type != child.media_type() {
            changed = true;
            entry.digest = child.digest().clone();
            entry.size = child.size();
            child.media_type().clone_into(&mut entry.media_type);
        }
        entries.push(entry);
    }
    if !changed {
        return Ok(manifest);
    }
    let algorithm = manifest.digest().algorithm();
    let built = match format {
        ManifestFormat::Oci => {
            let mut builder = ImageIndex::builder()
                .manifests(entries)
                .algorithm(algorithm);
            if let Some(subject) = &index.subject {
                builder = builder.subject(subject.clone());
            }
            if let Some(artifact_type) = &index.artifact_type {
                builder = builder.artifact_type(artifact_type.clone());
            }
            for (key, value) in &index.annotations {
                builder = builder.annotation(key.clone(), value.clone());
            }
            builder.build()?
        }
        ManifestFormat::DockerV2S2 => {
            if index.subject.is_some() || index.artifact_type.is_some() {
                return Err(artifact(
                    &manifest,
                    "an index with a subject or an artifact type",
                ));
            }
            ImageIndex::docker_builder()
                .manifests(entries)
                .algorithm(algorithm)
                .build()?
        }
    };
    Ok(built)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use gantry_spec::{ImageConfig, ManifestKind, Platform};

    use super::*;

    fn docker_image() -> Manifest {
        let config = ImageConfig::new(&Platform::parse("linux/amd64").unwrap())
            .to_json()
            .unwrap();
        let config = Descriptor::of(media_type::DOCKER_CONTAINER_CONFIG, &config);
        ImageManifest::docker_builder(config)
            .layer(Descriptor::of(media_type::DOCKER_LAYER_TAR_GZIP, b"layer"))
            .build()
            .unwrap()
    }

    #[test]
    fn images_convert_both_ways_and_back_to_the_same_bytes() {
        let docker = docker_image();
        let Node::Image(oci) = convert(Node::Image(docker.clone()), ManifestFormat::Oci).unwrap()
        else {
            panic!("an image stays an image");
        };
        assert_eq!(oci.kind(), ManifestKind::OciImageManifest);
        assert_eq!(
            oci.config().unwrap().media_type,
            media_type::OCI_IMAGE_CONFIG
        );
        assert_eq!(oci.layers()[0].media_type, media_type::OCI_LAYER_TAR_GZIP);
        assert_eq!(oci.layers()[0].digest, docker.layers()[0].digest);
        assert_ne!(oci.digest(), docker.digest());
        let Node::Image(back) = convert(Node::Image(oci), ManifestFormat::DockerV2S2).unwrap()
        else {
            panic!("an image stays an image");
        };
        assert_eq!(back, docker, "the builders write canonical JSON");
        let Node::Image(same) =
            convert(Node::Image(docker.clone()), ManifestFormat::DockerV2S2).unwrap()
        else {
            panic!("an image stays an image");
        };
        assert_eq!(same, docker);
    }

    #[test]
    fn an_index_points_at_its_converted_children() {
        let child = docker_image();
        let entry = child
            .descriptor()
            .with_platform(Platform::parse("linux/amd64").unwrap());
        let index = ImageIndex::docker_builder()
            .manifest(entry)
            .build()
            .unwrap();
        let node = Node::Index {
            manifest: index,
            children: vec![Node::Image(child)],
            blobs: Vec::new(),
        };
        let converted = convert(node, ManifestFormat::Oci).unwrap();
        let Node::Index {
            manifest, children, ..
        } = converted
        else {
            panic!("an index stays an index");
        };
        assert_eq!(manifest.kind(), ManifestKind::OciImageIndex);
        assert_eq!(
            manifest.manifests()[0].digest,
            *children[0].manifest().digest()
        );
        assert_eq!(
            manifest.manifests()[0].media_type,
            media_type::OCI_IMAGE_MANIFEST
        );
        assert!(manifest.manifests()[0].platform.is_some());
    }

    #[test]
    fn artifacts_and_zstd_layers_do_not_become_docker() {
        let artifact = ImageManifest::builder(Descriptor::empty())
            .artifact_type("application/vnd.example")
            .build()
            .unwrap();
        assert!(convert(Node::Image(artifact), ManifestFormat::DockerV2S2).is_err());
        let config = Descriptor::of(media_type::OCI_IMAGE_CONFIG, b"{}");
        let zstd = ImageManifest::builder(config)
            .layer(Descriptor::of(media_type::OCI_LAYER_TAR_ZSTD, b"z"))
            .build()
            .unwrap();
        assert!(convert(Node::Image(zstd), ManifestFormat::DockerV2S2).is_err());
    }
}
