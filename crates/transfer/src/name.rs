//! Image names as users write them: `TRANSPORT:DETAILS`, the way skopeo spells them.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use gantry_reference::Reference;

use crate::TransferError;

/// Where an image lives, named by its transport.
///
/// ```
/// use gantry_transfer::ImageName;
///
/// let name: ImageName = "docker://alpine".parse()?;
/// assert_eq!(name.to_string(), "docker://docker.io/library/alpine:latest");
/// let name: ImageName = "oci:/tmp/layout:v1".parse()?;
/// assert_eq!(name, ImageName::OciLayout { path: "/tmp/layout".into(), reference: Some("v1".into()) });
/// # Ok::<(), gantry_transfer::TransferError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageName {
    /// `docker://HOST/NAME[:TAG|@DIGEST]`: an image in a registry. Short names are normalised
    /// (`alpine` is `docker.io/library/alpine:latest`).
    Registry(Reference),
    /// `oci:PATH[:REF]`: an image in an OCI image layout directory, picked by its
    /// `org.opencontainers.image.ref.name` annotation; with no `REF`, the layout's only image.
    OciLayout {
        /// The layout directory.
        path: PathBuf,
        /// The image's ref name in `index.json`, if given.
        reference: Option<String>,
    },
    /// `oci-archive:FILE[:REF]`: an OCI image layout in a tar file.
    OciArchive {
        /// The tar file.
        path: PathBuf,
        /// The image's ref name in the archive's `index.json`, if given.
        reference: Option<String>,
    },
    /// `docker-archive:FILE[:REF|:@INDEX]`: the `docker save` format.
    DockerArchive {
        /// The tar file.
        path: PathBuf,
        /// Which image in the archive, if given.
        reference: Option<DockerArchiveRef>,
    },
}

/// Which image of a `docker save` archive is meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerArchiveRef {
    /// The image tagged with this name (one of its `RepoTags`); when writing, the tag to give it.
    Tagged(Reference),
    /// The image at this position in `manifest.json` (reading only).
    Index(usize),
}

impl ImageName {
    /// Reads `TRANSPORT:DETAILS`. The path of the local transports ends at the first `:`, as
    /// in containers/image, so a path cannot contain one.
    pub fn parse(input: &str) -> Result<ImageName, TransferError> {
        let invalid = |reason: &str| TransferError::InvalidName {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let Some((transport, details)) = input.split_once(':') else {
            return Err(invalid(
                "expected TRANSPORT:DETAILS, with a transport of docker, oci, oci-archive or docker-archive",
            ));
        };
        match transport {
            "docker" => {
                let rest = details.strip_prefix("//").ok_or_else(|| {
                    invalid("a registry image is written docker://HOST/NAME[:TAG]")
                })?;
                let reference = Reference::parse_normalized(rest)
                    .map_err(|error| invalid(&error.to_string()))?;
                Ok(ImageName::Registry(with_default_tag(reference)))
            }
            "oci" | "oci-archive" => {
                let (path, reference) = split_path(details).ok_or_else(|| invalid("no path"))?;
                if let Some(reference) = reference {
                    check_ref_name(reference).map_err(|reason| invalid(&reason))?;
                }
                let path = PathBuf::from(path);
                let reference = reference.map(str::to_owned);
                Ok(if transport == "oci" {
                    ImageName::OciLayout { path, reference }
                } else {
                    ImageName::OciArchive { path, reference }
                })
            }
            "docker-archive" => {
                let (path, reference) = split_path(details).ok_or_else(|| invalid("no path"))?;
                let reference = match reference {
                    None => None,
                    Some(index) if index.starts_with('@') => {
                        let index = index[1..]
                            .parse()
                            .map_err(|_| invalid("@INDEX must be a number"))?;
                        Some(DockerArchiveRef::Index(index))
                    }
                    Some(name) => {
                        let reference = Reference::parse_normalized(name)
                            .map_err(|error| invalid(&error.to_string()))?;
                        if reference.digest().is_some() {
                            return Err(invalid(
                                "a Docker archive names images by tag, not digest",
                            ));
                        }
                        Some(DockerArchiveRef::Tagged(with_default_tag(reference)))
                    }
                };
                Ok(ImageName::DockerArchive {
                    path: PathBuf::from(path),
                    reference,
                })
            }
            _ => Err(invalid(
                "unknown transport; use docker://, oci:, oci-archive: or docker-archive:",
            )),
        }
    }

    /// The transport's name, as written before the first `:`.
    pub fn transport(&self) -> &'static str {
        match self {
            ImageName::Registry(_) => "docker",
            ImageName::OciLayout { .. } => "oci",
            ImageName::OciArchive { .. } => "oci-archive",
            ImageName::DockerArchive { .. } => "docker-archive",
        }
    }
}

/// A reference with neither tag nor digest gets `latest`, as every client does.
fn with_default_tag(reference: Reference) -> Reference {
    if reference.tag().is_none() && reference.digest().is_none() {
        reference.with_tag("latest").unwrap_or(reference)
    } else {
        reference
    }
}

/// Splits `PATH[:REF]` at the first `:`; `None` when the path is empty.
fn split_path(details: &str) -> Option<(&str, Option<&str>)> {
    let (path, reference) = match details.split_once(':') {
        Some((path, reference)) => (path, Some(reference).filter(|r| !r.is_empty())),
        None => (details, None),
    };
    (!path.is_empty()).then_some((path, reference))
}

/// Checks a ref name against the grammar of `org.opencontainers.image.ref.name`:
/// components of alphanumerics joined by `-._:@+` or `--`, separated by `/`.
pub(crate) fn check_ref_name(name: &str) -> Result<(), String> {
    let bad = || format!("{name:?} is not a valid ref name");
    for component in name.split('/') {
        let bytes = component.as_bytes();
        let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
            return Err(bad());
        };
        if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
            return Err(bad());
        }
        let mut previous_separator = false;
        let mut dashes = 0;
        for &byte in bytes {
            if byte.is_ascii_alphanumeric() {
                previous_separator = false;
                dashes = 0;
            } else if byte == b'-' && dashes == 1 {
                dashes = 2;
            } else if b"-._:@+".contains(&byte) && !previous_separator {
                previous_separator = true;
                dashes = usize::from(byte == b'-');
            } else {
                return Err(bad());
            }
        }
    }
    Ok(())
}

impl FromStr for ImageName {
    type Err = TransferError;

    fn from_str(input: &str) -> Result<ImageName, TransferError> {
        ImageName::parse(input)
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = |f: &mut fmt::Formatter<'_>, path: &PathBuf, reference: Option<&str>| {
            write!(f, "{}:{}", self.transport(), path.display())?;
            match reference {
                Some(reference) => write!(f, ":{reference}"),
                None => Ok(()),
            }
        };
        match self {
            ImageName::Registry(reference) => write!(f, "docker://{reference}"),
            ImageName::OciLayout { path, reference }
            | ImageName::OciArchive { path, reference } => local(f, path, reference.as_deref()),
            ImageName::DockerArchive { path, reference } => match reference {
                None => local(f, path, None),
                Some(DockerArchiveRef::Tagged(reference)) => {
                    local(f, path, Some(reference.as_ref()))
                }
                Some(DockerArchiveRef::Index(index)) => local(f, path, Some(&format!("@{index}"))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn each_transport_parses_and_prints_back() {
        for (input, printed) in [
            (
                "docker://localhost:5000/a/b:1",
                "docker://localhost:5000/a/b:1",
            ),
            (
                "docker://busybox",
                "docker://docker.io/library/busybox:latest",
            ),
            ("oci:dir", "oci:dir"),
            ("oci:dir:v1.0", "oci:dir:v1.0"),
            ("oci:/a/b:x/y:z", "oci:/a/b:x/y:z"),
            ("oci-archive:img.tar:latest", "oci-archive:img.tar:latest"),
            ("docker-archive:img.tar", "docker-archive:img.tar"),
            (
                "docker-archive:img.tar:app:1",
                "docker-archive:img.tar:docker.io/library/app:1",
            ),
            ("docker-archive:img.tar:@2", "docker-archive:img.tar:@2"),
        ] {
            let name = ImageName::parse(input).unwrap();
            assert_eq!(name.to_string(), printed, "{input}");
            assert_eq!(ImageName::parse(printed).unwrap(), name, "{printed}");
        }
    }

    #[test]
    fn bad_names_are_refused_with_a_reason() {
        for input in [
            "alpine",
            "ftp:x",
            "docker:alpine",
            "docker://a/Upper",
            "oci:",
            "oci::ref",
            "oci:dir:-bad",
            "oci:dir:a//b",
            "oci:dir:a..b",
            "docker-archive:x.tar:@one",
            "docker-archive:x.tar:app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            let error = ImageName::parse(input).unwrap_err();
            assert!(
                matches!(error, TransferError::InvalidName { .. }),
                "{input}: {error}"
            );
        }
    }

    #[test]
    fn ref_names_follow_the_annotation_grammar() {
        for good in ["latest", "v1.0", "a/b", "a--b", "x:y@z+w", "1"] {
            assert!(check_ref_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "a---b", "a/", "/a", "a b", "a.-b"] {
            assert!(check_ref_name(bad).is_err(), "{bad}");
        }
    }
}
