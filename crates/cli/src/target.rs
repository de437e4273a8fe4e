//! The image references users type, read into what the commands need: a bare reference
//! (`localhost:5000/team/app:1`, `alpine`) or a `docker://` one names an image in a registry.

use gantry_reference::{Digest, Reference};
use gantry_transfer::ImageName;

use crate::exit::usage;

/// The transports that name something other than a registry.
const LOCAL_TRANSPORTS: &[&str] = &["oci", "oci-archive", "docker-archive"];

/// An image in a registry: normalised (`alpine` is `docker.io/library/alpine`), with `latest`
/// when it has neither tag nor digest, and only the digest when it has both.
pub(crate) fn image(input: &str) -> anyhow::Result<Reference> {
    let bare = strip_registry_transport(input)?;
    Reference::parse_docker_ref(bare)
        .map_err(|error| usage(format!("invalid image reference {input:?}: {error}")))
}

/// An image named as the transfer engine names it: `docker://…`, `oci:PATH[:REF]`,
/// `oci-archive:FILE[:REF]`, `docker-archive:FILE[:REF]`, or a bare registry reference.
pub(crate) fn image_name(input: &str) -> anyhow::Result<ImageName> {
    let transport = input.split_once(':').map(|(transport, _)| transport);
    let named = transport.is_some_and(|t| t == "docker" || LOCAL_TRANSPORTS.contains(&t));
    if named {
        return ImageName::parse(input).map_err(|error| usage(error.to_string()));
    }
    Ok(ImageName::Registry(image(input)?))
}

/// The registry hosts among `names`, once each.
pub(crate) fn registry_hosts<'a>(names: &[&'a ImageName]) -> Vec<&'a str> {
    let mut hosts: Vec<&str> = Vec::new();
    for name in names {
        if let ImageName::Registry(reference) = name
            && !hosts.contains(&domain(reference))
        {
            hosts.push(domain(reference));
        }
    }
    hosts
}

/// A repository in a registry; a tag or digest in `input` is ignored.
pub(crate) fn repository(input: &str) -> anyhow::Result<Reference> {
    let bare = strip_registry_transport(input)?;
    Reference::parse_normalized(bare)
        .map(|reference| reference.name_only())
        .map_err(|error| usage(format!("invalid repository {input:?}: {error}")))
}

/// A blob in a registry: `REPOSITORY@DIGEST`.
pub(crate) fn blob(input: &str) -> anyhow::Result<(Reference, Digest)> {
    let bare = strip_registry_transport(input)?;
    let reference = Reference::parse_normalized(bare)
        .map_err(|error| usage(format!("invalid blob reference {input:?}: {error}")))?;
    let digest = reference.digest().cloned().ok_or_else(|| {
        usage(format!(
            "{input:?} names no blob: write REPOSITORY@DIGEST, such as \
             localhost:5000/team/app@sha256:…"
        ))
    })?;
    Ok((reference.name_only(), digest))
}

/// A registry host (`localhost:5000`, `ghcr.io`, `docker.io`), with or without `docker://`
/// or a URL scheme, and without a trailing slash.
pub(crate) fn registry_host(input: &str) -> anyhow::Result<String> {
    let host = input
        .strip_prefix("docker://")
        .or_else(|| input.strip_prefix("https://"))
        .or_else(|| input.strip_prefix("http://"))
        .unwrap_or(input)
        .trim_end_matches('/');
    let valid = !host.is_empty()
        && !host.contains('/')
        && Reference::parse(format!("{host}/probe"))
            .is_ok_and(|reference| reference.domain() == Some(host));
    if !valid {
        return Err(usage(format!(
            "invalid registry {input:?}: write a host with an optional port, such as \
             localhost:5000 or ghcr.io"
        )));
    }
    Ok(host.to_owned())
}

/// The domain of a normalised reference (always present after normalisation).
pub(crate) fn domain(reference: &Reference) -> &str {
    reference
        .domain()
        .unwrap_or(gantry_reference::DEFAULT_DOMAIN)
}

/// `input` without `docker://`; a local transport is refused where only registries are read.
fn strip_registry_transport(input: &str) -> anyhow::Result<&str> {
    if let Some(rest) = input.strip_prefix("docker://") {
        return Ok(rest);
    }
    if let Some((transport, _)) = input.split_once(':')
        && LOCAL_TRANSPORTS.contains(&transport)
    {
        return Err(usage(format!(
            "{input:?}: this command reads registries only, not {transport}: images"
        )));
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_read_as_users_write_them() {
        let cases: &[(&str, Option<&str>)] = &[
            ("localhost:5000/a/b:1", Some("localhost:5000/a/b:1")),
            (
                "docker://localhost:5000/a/b",
                Some("localhost:5000/a/b:latest"),
            ),
            ("alpine", Some("docker.io/library/alpine:latest")),
            ("Not/Valid", None),
            ("localhost:5000/a/b:bad tag", None),
            ("oci:/tmp/layout:v1", None),
            ("", None),
        ];
        for (input, expected) in cases {
            let parsed = image(input).ok().map(|r| r.to_string());
            assert_eq!(parsed.as_deref(), *expected, "{input}");
        }
    }

    #[test]
    fn image_names_take_transports_or_bare_references() {
        let cases: &[(&str, Option<&str>)] = &[
            ("localhost:5000/a:1", Some("docker")),
            ("docker://localhost:5000/a:1", Some("docker")),
            ("oci:/tmp/layout:v1", Some("oci")),
            ("oci-archive:/tmp/a.tar", Some("oci-archive")),
            ("docker-archive:/tmp/a.tar:app:1", Some("docker-archive")),
            ("docker:/missing-slashes", None),
            ("oci:", None),
            ("Bad Name", None),
        ];
        for (input, transport) in cases {
            let parsed = image_name(input).ok().map(|name| name.transport());
            assert_eq!(parsed, *transport, "{input}");
        }
    }

    #[test]
    fn blobs_need_a_digest() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let (repository, parsed) = blob(&format!("localhost:5000/a@{digest}")).expect("parses");
        assert_eq!(repository.to_string(), "localhost:5000/a");
        assert_eq!(parsed.to_string(), digest);
        assert!(blob("localhost:5000/a:1").is_err());
    }

    #[test]
    fn registry_hosts_are_hosts() {
        for (input, expected) in [
            ("localhost:5000", Some("localhost:5000")),
            ("https://ghcr.io/", Some("ghcr.io")),
            ("127.0.0.1:1", Some("127.0.0.1:1")),
            ("ghcr.io/team", None),
            ("", None),
            ("bad host", None),
        ] {
            assert_eq!(registry_host(input).ok().as_deref(), expected, "{input}");
        }
    }
}
