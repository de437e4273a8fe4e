//! An OCI Distribution Specification conformance runner that judges any registry through the
//! wire.
//!
//! `gantry-conformance` sits beside the registry, not on it: it depends on `gantry-spec` and
//! `gantry-reference` to build test content (digests, manifests, indexes) and on an HTTP client,
//! and never on Gantry's own client, store or server, so that it judges Gantry exactly as it
//! judges any other registry.
//!
//! - [`Config`] names the registry, the repositories to use and the [`Workflow`]s to run;
//!   [`run`] runs them and returns a [`Report`] of every [`Check`], each with a stable id such as
//!   `push/blob-monolithic-post-put`, an [`Outcome`] whose failure reason says what was expected
//!   and what came back, and its duration.
//! - [`Report::summary`] is the text form, one line per check then the totals; [`to_junit`] the
//!   JUnit XML form.
//! - [`ExpectedFailures`] is a committed list of known failures with reasons, and
//!   [`ExpectedFailures::compare`] the ratchet: a run passes only when its failures are exactly
//!   the listed ones.
//!
//! The `gantry-conformance` binary wraps all of it: `gantry-conformance --url URL
//! [--expected-failures FILE] [--junit FILE]`.
//!
//! ```no_run
//! use gantry_conformance::{Config, ExpectedFailures, Workflow, run};
//!
//! let mut config = Config::new("http://127.0.0.1:5000");
//! config.workflows = vec![Workflow::Pull, Workflow::Push];
//! let report = run(&config)?;
//! print!("{}", report.summary());
//! let ratchet = ExpectedFailures::parse("push/blob-single-post # not supported\n")?.compare(&report);
//! assert!(ratchet.holds(), "{}", ratchet.explain());
//! # Ok::<(), gantry_conformance::ConformanceError>(())
//! ```
//!
//! # Features
//!
//! None.

mod config;
mod content;
mod error;
mod expect;
mod expected;
mod http;
mod junit;
mod report;
mod run;
mod workflows;

pub use crate::config::{
    Config, Credentials, DEFAULT_CROSS_MOUNT_NAMESPACE, DEFAULT_NAMESPACE, Workflow,
};
pub use crate::error::ConformanceError;
pub use crate::expected::{ExpectedFailures, Ratchet};
pub use crate::junit::to_junit;
pub use crate::report::{Check, Outcome, Report};
pub use crate::run::run;
