//! The image config, OCI ([`OCI_IMAGE_CONFIG`](crate::media_type::OCI_IMAGE_CONFIG)) and Docker
//! ([`DOCKER_CONTAINER_CONFIG`](crate::media_type::DOCKER_CONTAINER_CONFIG)): the platform, the
//! defaults for running a container, the layers' uncompressed digests and the build history.

use std::collections::{BTreeMap, BTreeSet};

use gantry_reference::Digest;
use serde::{Deserialize, Serialize};

use crate::serde_util::{is_false, null_as_default, set_as_object};
use crate::{Platform, SpecError};

/// The value of `rootfs.type` in every image config.
pub const ROOTFS_TYPE_LAYERS: &str = "layers";

/// An image config. Only the fields of the OCI image-spec are modelled; Docker's extra fields
/// (`container_config`, `docker_version`...) are read past and stay in the bytes.
///
/// Serialising writes the fields in the order of the image-spec's Go type, empty optional fields
/// omitted, no whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ImageConfig {
    /// When the image was created, as an RFC 3339 date-time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who created the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The CPU architecture the binaries are built for.
    pub architecture: String,
    /// The operating system the image runs on.
    pub os: String,
    /// The operating system version.
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// Operating system features the image requires.
    #[serde(
        rename = "os.features",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub os_features: Vec<String>,
    /// The CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Defaults for running a container from the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// The layers' uncompressed digests.
    pub rootfs: RootFs,
    /// How each layer was made.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub history: Vec<History>,
}

impl ImageConfig {
    /// A config for `platform` with no layers and nothing else set.
    pub fn new(platform: &Platform) -> ImageConfig {
        ImageConfig {
            created: None,
            author: None,
            architecture: platform.architecture.clone(),
            os: platform.os.clone(),
            os_version: platform.os_version.clone(),
            os_features: platform.os_features.clone(),
            variant: platform.variant.clone(),
            config: None,
            rootfs: RootFs {
                kind: ROOTFS_TYPE_LAYERS.to_owned(),
                diff_ids: Vec::new(),
            },
            history: Vec::new(),
        }
    }

    /// Reads a config blob and checks that `rootfs.type` is `layers`.
    ///
    /// ```
    /// use gantry_spec::ImageConfig;
    ///
    /// let config = ImageConfig::parse(
    ///     br#"{"architecture":"arm64","os":"linux","variant":"v8","rootfs":{"type":"layers","diff_ids":[]}}"#,
    /// )?;
    /// assert_eq!(config.platform().to_string(), "linux/arm64/v8");
    /// # Ok::<(), gantry_spec::SpecError>(())
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig, SpecError> {
        let config: ImageConfig = serde_json::from_slice(bytes).map_err(SpecError::InvalidJson)?;
        if config.rootfs.kind != ROOTFS_TYPE_LAYERS {
            return Err(SpecError::UnsupportedRootfsType {
                found: config.rootfs.kind,
            });
        }
        Ok(config)
    }

    /// The config as canonical JSON.
    pub fn to_json(&self) -> Result<Vec<u8>, SpecError> {
        serde_json::to_vec(self).map_err(SpecError::InvalidJson)
    }

    /// The platform the config names.
    pub fn platform(&self) -> Platform {
        Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            os_version: self.os_version.clone(),
            os_features: self.os_features.clone(),
            variant: self.variant.clone(),
        }
    }
}

/// The `rootfs` of an image config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always [`ROOTFS_TYPE_LAYERS`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The digest of each layer's uncompressed tar, base first.
    #[serde(default, deserialize_with = "null_as_default")]
    pub diff_ids: Vec<Digest>,
}

/// The `config` of an image config: defaults for running a container. Field names are Go's, as
/// the image-spec writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// The user (and group) the process runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Ports to expose, such as `8080/tcp`.
    #[serde(
        default,
        with = "set_as_object",
        skip_serializing_if = "BTreeSet::is_empty"
    )]
    pub exposed_ports: BTreeSet<String>,
    /// Environment variables, `NAME=value`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<String>,
    /// The command's leading arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// The default arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Directories meant to be volumes.
    #[serde(
        default,
        with = "set_as_object",
        skip_serializing_if = "BTreeSet::is_empty"
    )]
    pub volumes: BTreeSet<String>,
    /// The working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Arbitrary metadata.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// The signal that stops the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
}

/// One entry of an image config's `history`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// When the layer was created, as an RFC 3339 date-time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The command that created the layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who created the layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// A comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when this step made no layer.
    #[serde(default, skip_serializing_if = "is_false")]
    pub empty_layer: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_round_trips_through_canonical_json() {
        let mut config = ImageConfig::new(&Platform::new("linux", "amd64"));
        config.created = Some("2024-01-02T03:04:05Z".to_owned());
        config.config = Some(ContainerConfig {
            exposed_ports: ["8080/tcp".to_owned()].into(),
            env: vec!["PATH=/bin".to_owned()],
            cmd: Some(vec!["/bin/sh".to_owned()]),
            ..ContainerConfig::default()
        });
        config.history.push(History {
            created_by: Some("ADD rootfs /".to_owned()),
            ..History::default()
        });
        let json = config.to_json().unwrap();
        assert_eq!(
            std::str::from_utf8(&json).unwrap(),
            r#"{"created":"2024-01-02T03:04:05Z","architecture":"amd64","os":"linux","config":{"ExposedPorts":{"8080/tcp":{}},"Env":["PATH=/bin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[]},"history":[{"created_by":"ADD rootfs /"}]}"#
        );
        assert_eq!(ImageConfig::parse(&json).unwrap(), config);
    }

    #[test]
    fn rootfs_of_another_type_is_refused() {
        let result = ImageConfig::parse(
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"snapshot","diff_ids":[]}}"#,
        );
        assert!(matches!(
            result,
            Err(SpecError::UnsupportedRootfsType { found }) if found == "snapshot"
        ));
    }

    #[test]
    fn a_config_without_os_is_invalid_json() {
        let result = ImageConfig::parse(br#"{"architecture":"amd64","rootfs":{"type":"layers"}}"#);
        assert!(matches!(result, Err(SpecError::InvalidJson(_))));
    }
}
