//! The crate's one error type: what stops a run from starting or a list from loading. A registry
//! that answers wrongly is never an error here; it is a failed check in the [`Report`](crate::Report).

use std::path::PathBuf;

/// Why a conformance run could not start, or why an expected-failures list could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConformanceError {
    /// The registry URL is not an absolute `http://` or `https://` URL.
    #[error("invalid registry URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built (for example, no TLS backend could be set up).
    #[error("could not build the HTTP client")]
    HttpClient {
        /// The underlying cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A workflow name that is not one of [`Workflow::ALL`](crate::Workflow::ALL).
    #[error("unknown workflow `{0}`; the workflows are {names}", names = crate::Workflow::names())]
    UnknownWorkflow(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying cause.
        #[source]
        source: std::io::Error,
    },
    /// A line of an expected-failures list is malformed.
    #[error("expected-failures list, line {line}: {reason}")]
    ExpectedFailuresSyntax {
        /// The line number, from 1.
        line: usize,
        /// What is wrong with the line.
        reason: &'static str,
    },
}
