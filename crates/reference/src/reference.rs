//! Image references: `[domain[:port]/]path[:tag][@digest]`, parsed as `distribution/reference` does.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use crate::grammar::{self, Spans};
use crate::{Digest, ReferenceError};

/// The registry that a reference with no domain names, once normalised.
pub const DEFAULT_DOMAIN: &str = "docker.io";

/// The old name of [`DEFAULT_DOMAIN`], rewritten to it by normalisation.
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";

/// The namespace of Docker Hub's official images, added to single-component names.
pub const OFFICIAL_REPOSITORY_PREFIX: &str = "library/";

/// The tag [`Reference::parse_docker_ref`] adds when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";

/// A named image reference: a repository name with an optional tag and an optional digest.
///
/// [`parse`](Self::parse) takes the reference exactly as written, like Go's `reference.Parse`;
/// [`parse_normalized`](Self::parse_normalized) fills in Docker Hub's defaults the way the
/// `docker` and `podman` command lines do.
///
/// ```
/// use gantry_reference::Reference;
///
/// let reference = Reference::parse_normalized("ubuntu:24.04").unwrap();
/// assert_eq!(reference.to_string(), "docker.io/library/ubuntu:24.04");
/// assert_eq!(reference.domain(), Some("docker.io"));
/// assert_eq!(reference.path(), "library/ubuntu");
/// assert_eq!(reference.tag(), Some("24.04"));
/// assert_eq!(reference.familiar_string(), "ubuntu:24.04");
///
/// let local = Reference::parse("localhost:5000/team/app@sha256:".to_owned() + &"0".repeat(64)).unwrap();
/// assert_eq!(local.domain(), Some("localhost:5000"));
/// assert_eq!(local.path(), "team/app");
/// assert!(local.digest().is_some());
/// ```
#[derive(Clone)]
pub struct Reference {
    repr: Box<str>,
    spans: Spans,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses a reference exactly as written, like `reference.Parse`.
    ///
    /// No defaults are filled in: `ubuntu` has no domain, and in `team/app` the first component
    /// is read as a domain because it has the shape of one.
    pub fn parse(s: impl AsRef<str>) -> Result<Reference, ReferenceError> {
        let s = s.as_ref();
        let (spans, digest) = Reference::validate(s)?;
        Ok(Reference {
            repr: s.into(),
            spans,
            digest,
        })
    }

    /// [`parse`](Self::parse) for a string the caller built, keeping its buffer.
    fn parse_owned(s: String) -> Result<Reference, ReferenceError> {
        let (spans, digest) = Reference::validate(&s)?;
        Ok(Reference {
            repr: s.into_boxed_str(),
            spans,
            digest,
        })
    }

    /// Matches the whole grammar, checks the path length and validates the digest.
    fn validate(s: &str) -> Result<(Spans, Option<Digest>), ReferenceError> {
        let Some(spans) = grammar::split_reference(s) else {
            return Err(classify_mismatch(s));
        };
        if spans.name_end - spans.path_start > grammar::PATH_MAX_LEN {
            return Err(ReferenceError::NameTooLong);
        }
        let digest = match s.get(spans.tag_end + 1..) {
            Some(digest) => {
                Some(Digest::parse(digest).map_err(ReferenceError::DigestInvalidFormat)?)
            }
            None => None,
        };
        Ok((spans, digest))
    }

    /// Parses a reference as users write it, like `reference.ParseNormalizedNamed`.
    ///
    /// A name with no domain gets `docker.io`, `index.docker.io` becomes `docker.io`, and a
    /// single-component Docker Hub name gets `library/`. The first component is a domain only when
    /// it contains `.` or `:`, is `localhost`, or has an upper-case letter. A bare 64-character hex
    /// string is refused, as is a remote name with upper-case letters.
    pub fn parse_normalized(s: impl AsRef<str>) -> Result<Reference, ReferenceError> {
        let s = s.as_ref();
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(ReferenceError::NameIsIdentifier);
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote = remainder.split(':').next().unwrap_or_default();
        if has_upper_case(remote) {
            return Err(ReferenceError::NameContainsUppercase);
        }
        let official = if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
            OFFICIAL_REPOSITORY_PREFIX
        } else {
            ""
        };
        let mut full = String::with_capacity(domain.len() + 1 + official.len() + remainder.len());
        full.push_str(domain);
        full.push('/');
        full.push_str(official);
        full.push_str(remainder);
        Reference::parse_owned(full)
    }

    /// Parses a reference that must already be in its canonical, fully qualified form, like
    /// `reference.ParseNamed`: anything [`parse_normalized`](Self::parse_normalized) would
    /// change is [`ReferenceError::NameNotCanonical`].
    pub fn parse_named(s: impl AsRef<str>) -> Result<Reference, ReferenceError> {
        let s = s.as_ref();
        let reference = Reference::parse_normalized(s)?;
        if reference.as_str() != s {
            return Err(ReferenceError::NameNotCanonical);
        }
        Ok(reference)
    }

    /// Parses a reference for pulling, like `reference.ParseDockerRef`: normalised, with the tag
    /// dropped when a digest is present and `latest` added when neither is.
    pub fn parse_docker_ref(s: impl AsRef<str>) -> Result<Reference, ReferenceError> {
        let reference = Reference::parse_normalized(s)?;
        Ok(match (reference.tag(), reference.digest()) {
            (_, Some(digest)) => reference.name_only().with_digest(digest.clone()),
            (None, None) => reference.rebuilt(Some(DEFAULT_TAG), None),
            (Some(_), None) => reference,
        })
    }

    /// The domain (registry host, with its port if any), when the reference has one.
    pub fn domain(&self) -> Option<&str> {
        (self.spans.path_start > 0).then(|| &self.repr[..self.spans.domain_end])
    }

    /// The repository path within the registry, such as `library/ubuntu`.
    pub fn path(&self) -> &str {
        &self.repr[self.spans.path_start..self.spans.name_end]
    }

    /// The full name: the domain (if any), a slash, and the path.
    pub fn name(&self) -> String {
        self.name_str().to_owned()
    }

    /// The tag, when the reference has one.
    pub fn tag(&self) -> Option<&str> {
        (self.spans.tag_end > self.spans.name_end)
            .then(|| &self.repr[self.spans.name_end + 1..self.spans.tag_end])
    }

    /// The digest, when the reference has one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The canonical string: `name[:tag][@digest]`, the same as [`Display`](fmt::Display).
    pub fn as_str(&self) -> &str {
        &self.repr
    }

    /// The name as people write it for Docker Hub: no `docker.io/`, and no `library/` for
    /// official images. Other registries' names are unchanged.
    pub fn familiar_name(&self) -> String {
        if self.domain() != Some(DEFAULT_DOMAIN) {
            return self.name();
        }
        let path = self.path();
        match path.strip_prefix(OFFICIAL_REPOSITORY_PREFIX) {
            Some(official) if !official.contains('/') => official.to_owned(),
            _ => path.to_owned(),
        }
    }

    /// The whole reference in its familiar form: the familiar name, then the tag and digest.
    pub fn familiar_string(&self) -> String {
        let mut familiar = self.familiar_name();
        familiar.push_str(&self.repr[self.spans.name_end..]);
        familiar
    }

    /// The same reference with `tag` in place of any tag it had; the digest is kept.
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        if !grammar::is_tag(tag.as_bytes()) {
            return Err(ReferenceError::TagInvalidFormat);
        }
        Ok(self.rebuilt(Some(tag), self.digest.clone()))
    }

    /// The same reference with `digest` in place of any digest it had; the tag is kept.
    pub fn with_digest(&self, digest: Digest) -> Reference {
        self.rebuilt(self.tag(), Some(digest))
    }

    /// The name alone, without tag or digest.
    pub fn name_only(&self) -> Reference {
        self.rebuilt(None, None)
    }

    fn name_str(&self) -> &str {
        &self.repr[..self.spans.name_end]
    }

    /// This reference's name with the given tag and digest. Every part is already valid, so no
    /// parsing is needed.
    fn rebuilt(&self, tag: Option<&str>, digest: Option<Digest>) -> Reference {
        let name = self.name_str();
        let mut repr = String::with_capacity(name.len() + 1 + tag.map_or(0, str::len) + 140);
        repr.push_str(name);
        if let Some(tag) = tag {
            repr.push(':');
            repr.push_str(tag);
        }
        let tag_end = repr.len();
        if let Some(digest) = &digest {
            repr.push('@');
            repr.push_str(digest.as_str());
        }
        Reference {
            repr: repr.into_boxed_str(),
            spans: Spans {
                tag_end,
                ..self.spans
            },
            digest,
        }
    }
}

/// The error for a string that does not match the grammar, chosen as `reference.Parse` does.
fn classify_mismatch(s: &str) -> ReferenceError {
    if s.is_empty() {
        return ReferenceError::NameEmpty;
    }
    let lower = s.to_lowercase();
    if lower != s && grammar::split_reference(&lower).is_some() {
        ReferenceError::NameContainsUppercase
    } else {
        ReferenceError::InvalidFormat
    }
}

/// True when lower-casing `s` would change it (Unicode-aware, as Go's `strings.ToLower`).
fn has_upper_case(s: &str) -> bool {
    if s.is_ascii() {
        s.bytes().any(|b| b.is_ascii_uppercase())
    } else {
        s.to_lowercase() != s
    }
}

/// Splits off the domain the way Docker does: only a first component that looks like a host
/// (contains `.` or `:`, is `localhost`, or has upper case) is a domain.
fn split_docker_domain(s: &str) -> (&str, &str) {
    let (domain, remainder) = match s.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || has_upper_case(first) =>
        {
            (first, rest)
        }
        _ => (DEFAULT_DOMAIN, s),
    };
    let domain = if domain == LEGACY_DEFAULT_DOMAIN {
        DEFAULT_DOMAIN
    } else {
        domain
    };
    (domain, remainder)
}

impl PartialEq for Reference {
    fn eq(&self, other: &Self) -> bool {
        self.repr == other.repr
    }
}

impl Eq for Reference {}

impl Hash for Reference {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.repr.hash(state);
    }
}

impl PartialOrd for Reference {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Reference {
    fn cmp(&self, other: &Self) -> Ordering {
        self.repr.cmp(&other.repr)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repr)
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({})", self.repr)
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    /// The same as [`Reference::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

impl AsRef<str> for Reference {
    fn as_ref(&self) -> &str {
        &self.repr
    }
}
