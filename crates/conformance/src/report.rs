//! What a run found: every check with its outcome and duration, and the text summary.

use std::fmt::Write as _;
use std::time::Duration;

use crate::Workflow;

/// How one check ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The registry did what the specification says.
    Pass,
    /// It did not.
    Fail {
        /// What was expected and what came back (status, headers, error codes).
        reason: String,
    },
}

/// One check of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// The check's stable id, `<workflow>/<name>`, such as `push/blob-monolithic-post-put`.
    pub id: String,
    /// The workflow the check belongs to.
    pub workflow: Workflow,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it took, setup included.
    pub duration: Duration,
}

impl Check {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Pass
    }

    /// The failure reason, if the check failed.
    pub fn reason(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Pass => None,
            Outcome::Fail { reason } => Some(reason),
        }
    }
}

/// The result of a run: every check, in the order they ran.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The registry's URL.
    pub url: String,
    /// The checks, in order.
    pub checks: Vec<Check>,
}

impl Report {
    /// The checks that passed.
    pub fn passed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.passed())
    }

    /// The checks that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed())
    }

    /// The time all checks took together.
    pub fn duration(&self) -> Duration {
        self.checks.iter().map(|c| c.duration).sum()
    }

    /// One line per check (`PASS`/`FAIL`, id, milliseconds, and a failure's reason), then the
    /// totals.
    pub fn summary(&self) -> String {
        let mut text = String::new();
        for check in &self.checks {
            let millis = check.duration.as_millis();
            match &check.outcome {
                Outcome::Pass => {
                    let _ = writeln!(text, "PASS {} ({millis} ms)", check.id);
                }
                Outcome::Fail { reason } => {
                    let _ = writeln!(text, "FAIL {} ({millis} ms): {reason}", check.id);
                }
            }
        }
        let _ = writeln!(
            text,
            "conformance against {}: {} checks, {} passed, {} failed in {:.1} s",
            self.url,
            self.checks.len(),
            self.passed().count(),
            self.failed().count(),
            self.duration().as_secs_f64()
        );
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_has_a_line_per_check_and_totals() {
        let report = Report {
            url: "http://127.0.0.1:1".to_owned(),
            checks: vec![
                Check {
                    id: "pull/a".to_owned(),
                    workflow: Workflow::Pull,
                    outcome: Outcome::Pass,
                    duration: Duration::from_millis(3),
                },
                Check {
                    id: "pull/b".to_owned(),
                    workflow: Workflow::Pull,
                    outcome: Outcome::Fail {
                        reason: "expected 201, got 400".to_owned(),
                    },
                    duration: Duration::from_millis(4),
                },
            ],
        };
        let summary = report.summary();
        let lines: Vec<&str> = summary.lines().collect();
        assert_eq!(lines[0], "PASS pull/a (3 ms)");
        assert_eq!(lines[1], "FAIL pull/b (4 ms): expected 201, got 400");
        assert!(lines[2].contains("2 checks, 1 passed, 1 failed"));
    }
}
