//! The names a registry server sees in its URLs: a repository name and a tag.

use std::fmt;
use std::str::FromStr;

use crate::ReferenceError;
use crate::grammar;

/// A repository name as it appears in a registry URL: `/v2/<name>/...`.
///
/// One or more lower-case path components separated by `/`, with no domain, at most 255
/// characters: the `<name>` of the OCI distribution specification. The server builds storage
/// paths only from values of this type.
///
/// ```
/// use gantry_reference::{ReferenceError, RepositoryName};
///
/// let name = RepositoryName::parse("team/app").unwrap();
/// assert_eq!(name.as_str(), "team/app");
/// assert_eq!(RepositoryName::parse("team/../app"), Err(ReferenceError::InvalidFormat));
/// assert_eq!(RepositoryName::parse("Team/App"), Err(ReferenceError::NameContainsUppercase));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryName(Box<str>);

impl RepositoryName {
    /// The longest name accepted, in bytes.
    pub const MAX_LEN: usize = grammar::PATH_MAX_LEN;

    /// Validates a repository name.
    pub fn parse(s: impl AsRef<str>) -> Result<RepositoryName, ReferenceError> {
        let s = s.as_ref();
        if s.is_empty() {
            return Err(ReferenceError::NameEmpty);
        }
        if !grammar::is_path(s.as_bytes()) {
            let lower = s.to_lowercase();
            return Err(if lower != s && grammar::is_path(lower.as_bytes()) {
                ReferenceError::NameContainsUppercase
            } else {
                ReferenceError::InvalidFormat
            });
        }
        if s.len() > Self::MAX_LEN {
            return Err(ReferenceError::NameTooLong);
        }
        Ok(RepositoryName(s.into()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path components, in order.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
///
/// ```
/// use gantry_reference::{ReferenceError, Tag};
///
/// assert_eq!(Tag::parse("v1.2.3-rc_1").unwrap().as_str(), "v1.2.3-rc_1");
/// assert_eq!(Tag::parse(".hidden"), Err(ReferenceError::TagInvalidFormat));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(Box<str>);

impl Tag {
    /// The longest tag accepted, in bytes.
    pub const MAX_LEN: usize = grammar::TAG_MAX_LEN;

    /// Validates a tag.
    pub fn parse(s: impl AsRef<str>) -> Result<Tag, ReferenceError> {
        let s = s.as_ref();
        if grammar::is_tag(s.as_bytes()) {
            Ok(Tag(s.into()))
        } else {
            Err(ReferenceError::TagInvalidFormat)
        }
    }

    /// The tag as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype_impls {
    ($type:ident, $label:literal) => {
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($label, "({})"), self.0)
            }
        }

        impl FromStr for $type {
            type Err = ReferenceError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $type::parse(s)
            }
        }

        impl AsRef<str> for $type {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype_impls!(RepositoryName, "RepositoryName");
string_newtype_impls!(Tag, "Tag");
