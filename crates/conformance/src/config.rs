//! What a run is pointed at and which workflows it runs.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::ConformanceError;

/// The repository the checks push to unless told otherwise.
pub const DEFAULT_NAMESPACE: &str = "conformance/test";
/// The second repository, used as the source of cross-repository mounts.
pub const DEFAULT_CROSS_MOUNT_NAMESPACE: &str = "conformance/other";

/// A group of checks that exercise one area of the specification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Workflow {
    /// Manifests and blobs by tag and digest, `HEAD` and `GET`, and 404s.
    Pull,
    /// Blob uploads of every kind, mounts, cancel, and manifest pushes.
    Push,
    /// Tag listing with `n`, `last` and `Link`, and the catalog.
    Discovery,
    /// Deleting tags, manifests and blobs.
    Management,
    /// The referrers API, `OCI-Subject` and `artifactType` filters.
    Referrers,
    /// `Range` requests on blobs.
    Range,
    /// Blobs and manifests addressed by `sha512` digests.
    Sha512,
    /// Malformed and unsupported digests in paths and query parameters.
    BadDigests,
    /// Image indexes: plain, nested, sparse, and Docker manifest lists.
    Indexes,
}

impl Workflow {
    /// Every workflow, in the order a run executes them.
    pub const ALL: [Workflow; 9] = [
        Workflow::Pull,
        Workflow::Push,
        Workflow::Discovery,
        Workflow::Management,
        Workflow::Referrers,
        Workflow::Range,
        Workflow::Sha512,
        Workflow::BadDigests,
        Workflow::Indexes,
    ];

    /// The workflow's name, which is also the first segment of its checks' ids.
    pub fn name(self) -> &'static str {
        match self {
            Workflow::Pull => "pull",
            Workflow::Push => "push",
            Workflow::Discovery => "discovery",
            Workflow::Management => "management",
            Workflow::Referrers => "referrers",
            Workflow::Range => "range",
            Workflow::Sha512 => "sha512",
            Workflow::BadDigests => "bad-digests",
            Workflow::Indexes => "indexes",
        }
    }

    /// The names of every workflow, comma-separated, for messages.
    pub fn names() -> String {
        Workflow::ALL.map(Workflow::name).join(", ")
    }

    /// Parses a comma-separated list such as `pull,push`; `all` stands for every workflow.
    pub fn parse_list(list: &str) -> Result<Vec<Workflow>, ConformanceError> {
        let mut workflows = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "all" {
                return Ok(Workflow::ALL.to_vec());
            }
            let workflow = name.parse()?;
            if !workflows.contains(&workflow) {
                workflows.push(workflow);
            }
        }
        workflows.sort();
        Ok(workflows)
    }
}

impl fmt::Display for Workflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Workflow {
    type Err = ConformanceError;

    fn from_str(s: &str) -> Result<Workflow, ConformanceError> {
        Workflow::ALL
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| ConformanceError::UnknownWorkflow(s.to_owned()))
    }
}

/// HTTP Basic credentials sent with every request.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A conformance run: the registry, the repositories to use, and what to check.
#[derive(Clone, Debug)]
pub struct Config {
    /// The registry's base URL, such as `http://127.0.0.1:5000` (no `/v2/`).
    pub url: String,
    /// The repository the checks push to and read from.
    pub namespace: String,
    /// A second repository, the source of cross-repository mounts.
    pub cross_mount_namespace: String,
    /// The workflows to run, in this order.
    pub workflows: Vec<Workflow>,
    /// Basic credentials, if the registry wants them.
    pub credentials: Option<Credentials>,
    /// Whether `405 Method Not Allowed` (with `UNSUPPORTED`) passes the delete checks, for
    /// registries that disable deletion.
    pub delete_may_be_unsupported: bool,
    /// The limit on each HTTP exchange.
    pub timeout: Duration,
}

impl Config {
    /// A run of every workflow against `url`, with the default repositories.
    pub fn new(url: impl Into<String>) -> Config {
        Config {
            url: url.into(),
            namespace: DEFAULT_NAMESPACE.to_owned(),
            cross_mount_namespace: DEFAULT_CROSS_MOUNT_NAMESPACE.to_owned(),
            workflows: Workflow::ALL.to_vec(),
            credentials: None,
            delete_may_be_unsupported: false,
            timeout: Duration::from_secs(60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_lists_parse_and_reject_unknown_names() {
        assert_eq!(
            Workflow::parse_list("push, pull,push").unwrap(),
            [Workflow::Pull, Workflow::Push]
        );
        assert_eq!(Workflow::parse_list("all").unwrap(), Workflow::ALL);
        assert!(matches!(
            Workflow::parse_list("pull,fetch"),
            Err(ConformanceError::UnknownWorkflow(name)) if name == "fetch"
        ));
        for workflow in Workflow::ALL {
            assert_eq!(workflow.name().parse::<Workflow>().unwrap(), workflow);
        }
    }
}
