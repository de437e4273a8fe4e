//! The report as JUnit XML, one `testsuite` per workflow, escaped by hand.

use std::fmt::Write as _;
use std::time::Duration;

use crate::{Report, Workflow};

/// Renders `report` as JUnit XML: a `testsuites` element with one `testsuite` per workflow and
/// one `testcase` per check, a failed check carrying a `failure` with its reason.
pub fn to_junit(report: &Report) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"gantry-conformance\" tests=\"{}\" failures=\"{}\" time=\"{}\">",
        report.checks.len(),
        report.failed().count(),
        seconds(report.duration())
    );
    for workflow in Workflow::ALL {
        let checks: Vec<_> = report
            .checks
            .iter()
            .filter(|c| c.workflow == workflow)
            .collect();
        if checks.is_empty() {
            continue;
        }
        let failures = checks.iter().filter(|c| !c.passed()).count();
        let time: Duration = checks.iter().map(|c| c.duration).sum();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" time=\"{}\">",
            escape(workflow.name()),
            checks.len(),
            seconds(time)
        );
        for check in checks {
            let open = format!(
                "    <testcase classname=\"conformance.{}\" name=\"{}\" time=\"{}\"",
                escape(workflow.name()),
                escape(&check.id),
                seconds(check.duration)
            );
            match check.reason() {
                None => {
                    let _ = writeln!(xml, "{open}/>");
                }
                Some(reason) => {
                    let _ = writeln!(xml, "{open}>");
                    let _ = writeln!(
                        xml,
                        "      <failure message=\"{0}\">{0}</failure>",
                        escape(reason)
                    );
                    let _ = writeln!(xml, "    </testcase>");
                }
            }
        }
        let _ = writeln!(xml, "  </testsuite>");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn seconds(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64())
}

/// Escapes text for XML attribute values and character data, replacing characters that XML 1.0
/// cannot carry at all with U+FFFD.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Check, Outcome};

    #[test]
    fn escaping_covers_markup_quotes_and_control_characters() {
        assert_eq!(
            escape("a<b>&\"c\"'\u{1}\n"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;\u{FFFD}&#10;"
        );
    }

    #[test]
    fn failures_carry_their_reason() {
        let report = Report {
            url: "http://x".to_owned(),
            checks: vec![
                Check {
                    id: "push/a".to_owned(),
                    workflow: Workflow::Push,
                    outcome: Outcome::Fail {
                        reason: "expected <201>".to_owned(),
                    },
                    duration: Duration::from_millis(1500),
                },
                Check {
                    id: "pull/b".to_owned(),
                    workflow: Workflow::Pull,
                    outcome: Outcome::Pass,
                    duration: Duration::ZERO,
                },
            ],
        };
        let xml = to_junit(&report);
        assert!(xml.contains("tests=\"2\" failures=\"1\" time=\"1.500\""));
        assert!(
            xml.contains(
                "<testcase classname=\"conformance.pull\" name=\"pull/b\" time=\"0.000\"/>"
            )
        );
        assert!(
            xml.contains(
                "<failure message=\"expected &lt;201&gt;\">expected &lt;201&gt;</failure>"
            )
        );
        // pull's suite comes before push's, whatever the order of the checks.
        assert!(xml.find("name=\"pull\"").unwrap() < xml.find("name=\"push\"").unwrap());
    }
}
