//! Expected-failures lists: the ratchet of known non-conformance.
//!
//! A list has one check id per line with its reason after `#`; blank lines and lines that start
//! with `#` are comments:
//!
//! ```text
//! # Distribution 2.8.2
//! referrers/list  # no referrers API: 404
//! ```
//!
//! A run matches its list when the checks that failed are exactly the listed ones among those
//! that ran: an unlisted failure is a regression, and a listed check that now passes must be
//! taken off the list so that it cannot regress unnoticed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::{ConformanceError, Report};

/// A parsed expected-failures list: check id and reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpectedFailures {
    entries: BTreeMap<String, String>,
}

/// How a run compares with its expected-failures list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ratchet {
    /// Checks that failed but are not listed, with the failure reason.
    pub unexpected_failures: Vec<(String, String)>,
    /// Listed checks that passed: take them off the list.
    pub unexpected_passes: Vec<String>,
    /// Listed checks of a workflow that ran which no longer exist: a typo or a renamed check.
    pub unknown: Vec<String>,
}

impl ExpectedFailures {
    /// Parses a list (see the module doc for the format). Every entry needs a reason.
    pub fn parse(text: &str) -> Result<ExpectedFailures, ConformanceError> {
        let mut entries = BTreeMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let syntax = |reason| ConformanceError::ExpectedFailuresSyntax {
                line: index + 1,
                reason,
            };
            let (id, reason) = line
                .split_once('#')
                .ok_or_else(|| syntax("an entry needs its reason after `#`"))?;
            let (id, reason) = (id.trim(), reason.trim());
            if reason.is_empty() {
                return Err(syntax("an entry needs its reason after `#`"));
            }
            if id.split_whitespace().count() != 1 || !id.contains('/') {
                return Err(syntax(
                    "an entry starts with one check id, `<workflow>/<name>`",
                ));
            }
            if entries.insert(id.to_owned(), reason.to_owned()).is_some() {
                return Err(syntax("a check id is listed twice"));
            }
        }
        Ok(ExpectedFailures { entries })
    }

    /// Reads and parses the list at `path`.
    pub fn load(path: &Path) -> Result<ExpectedFailures, ConformanceError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConformanceError::Io {
            path: path.to_owned(),
            source,
        })?;
        ExpectedFailures::parse(&text)
    }

    /// The listed check ids with their reasons.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(id, r)| (id.as_str(), r.as_str()))
    }

    /// Whether `id` is listed.
    pub fn contains(&self, id: &str) -> bool {
        self.entries.contains_key(id)
    }

    /// Compares `report` with the list. Entries of workflows that did not run are ignored.
    pub fn compare(&self, report: &Report) -> Ratchet {
        let mut ratchet = Ratchet::default();
        for check in &report.checks {
            match (check.reason(), self.contains(&check.id)) {
                (Some(reason), false) => ratchet
                    .unexpected_failures
                    .push((check.id.clone(), reason.to_owned())),
                (None, true) => ratchet.unexpected_passes.push(check.id.clone()),
                _ => {}
            }
        }
        for id in self.entries.keys() {
            let workflow = id.split('/').next().unwrap_or_default();
            let workflow_ran = report.checks.iter().any(|c| c.workflow.name() == workflow);
            if workflow_ran && !report.checks.iter().any(|c| &c.id == id) {
                ratchet.unknown.push(id.clone());
            }
        }
        ratchet
    }
}

impl Ratchet {
    /// Whether the run matched its list exactly.
    pub fn holds(&self) -> bool {
        self.unexpected_failures.is_empty()
            && self.unexpected_passes.is_empty()
            && self.unknown.is_empty()
    }

    /// What differs, one line each, saying what to do about it.
    pub fn explain(&self) -> String {
        let mut text = String::new();
        for (id, reason) in &self.unexpected_failures {
            let _ = writeln!(text, "unexpected failure: {id}: {reason}");
        }
        for id in &self.unexpected_passes {
            let _ = writeln!(
                text,
                "unexpected pass: {id} now passes; remove it from the expected-failures list"
            );
        }
        for id in &self.unknown {
            let _ = writeln!(
                text,
                "unknown check: {id} is listed but no such check ran; fix or remove the entry"
            );
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{Check, Outcome, Workflow};

    fn check(id: &str, pass: bool) -> Check {
        Check {
            id: id.to_owned(),
            workflow: id.split('/').next().unwrap().parse().unwrap(),
            outcome: if pass {
                Outcome::Pass
            } else {
                Outcome::Fail {
                    reason: "because".to_owned(),
                }
            },
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn lists_parse_with_reasons_and_comments() {
        let list = ExpectedFailures::parse(
            "# header\n\npush/a   # not supported\nreferrers/b # 404 # twice\n",
        )
        .unwrap();
        assert_eq!(
            list.entries().collect::<Vec<_>>(),
            [("push/a", "not supported"), ("referrers/b", "404 # twice")]
        );
    }

    #[test]
    fn entries_without_reasons_or_ids_are_refused() {
        for bad in [
            "push/a",
            "push/a #",
            "push a # why",
            "# ok\npush/a # x\npush/a # y",
        ] {
            assert!(
                matches!(
                    ExpectedFailures::parse(bad),
                    Err(ConformanceError::ExpectedFailuresSyntax { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_ratchet_catches_new_failures_new_passes_and_stale_entries() {
        let list =
            ExpectedFailures::parse("push/a # x\npush/b # y\npush/gone # z\npull/c # w\n").unwrap();
        let report = Report {
            url: String::new(),
            checks: vec![
                check("push/a", false),
                check("push/b", true),
                check("push/d", false),
            ],
        };
        let ratchet = list.compare(&report);
        assert!(!ratchet.holds());
        assert_eq!(
            ratchet.unexpected_failures,
            [("push/d".to_owned(), "because".to_owned())]
        );
        assert_eq!(ratchet.unexpected_passes, ["push/b"]);
        // `pull/c` is ignored: no pull check ran.
        assert_eq!(ratchet.unknown, ["push/gone"]);
        assert!(
            ratchet
                .explain()
                .contains("remove it from the expected-failures list")
        );

        let exact = ExpectedFailures::parse("push/a # x\n").unwrap();
        let report = Report {
            url: String::new(),
            checks: vec![check("push/a", false), check("push/b", true)],
        };
        assert!(exact.compare(&report).holds());
        let _ = Workflow::Push;
    }
}
