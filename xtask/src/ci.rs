//! `cargo xtask ci`: everything CI checks, in the order that fails fastest: formatting, lints,
//! every test, then the OCI conformance run against Gantry.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use anyhow::{Context, bail};

use crate::shell::{cmd, exec};

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    if let Some(extra) = args.first() {
        bail!("`cargo xtask ci` takes no arguments, got `{extra}`");
    }
    exec(&mut cmd("cargo", &["fmt", "--all", "--", "--check"]))?;
    exec(&mut cmd(
        "cargo",
        &[
            "fmt",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--all",
            "--",
            "--check",
        ],
    ))?;
    exec(&mut cmd(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
    ))?;
    // One build serves every test: unit, doc, proptest, end-to-end, tidy and fuzz seed replay.
    let totals = test_workspace()?;
    // The OCI conformance workflows against a fresh `gantry serve`, with the ratchet.
    let conformance = crate::conformance::run(&[]);
    // One closing line for the whole run; cargo's own last line is only its last test binary's.
    println!(
        "tests: {} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.ignored
    );
    if totals.failed > 0 || totals.passed == 0 {
        bail!("the tests did not pass");
    }
    conformance?;
    eprintln!("xtask ci: all checks passed");
    Ok(())
}

/// Counts summed over every `test result:` line cargo prints.
#[derive(Debug, Default, PartialEq, Eq)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    /// Adds the counts of one `test result: ok. 3 passed; 0 failed; 1 ignored; …` line.
    fn add_line(&mut self, line: &str) {
        let Some(summary) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in summary.split([';', '.']) {
            let mut words = part.split_whitespace();
            if let (Some(count), Some(label)) = (words.next(), words.next())
                && let Ok(count) = count.parse::<u64>()
            {
                match label {
                    "passed" => self.passed += count,
                    "failed" => self.failed += count,
                    "ignored" => self.ignored += count,
                    _ => {}
                }
            }
        }
    }
}

/// Runs every test in the workspace, passing its output through, and adds up the results.
fn test_workspace() -> anyhow::Result<Totals> {
    let mut command = cmd(
        "cargo",
        &["test", "--workspace", "--all-features", "--no-fail-fast"],
    );
    eprintln!("$ cargo test --workspace --all-features --no-fail-fast");
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .context("could not start cargo test")?;
    let stdout = child.stdout.take().context("cargo test has no stdout")?;
    let mut totals = Totals::default();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        totals.add_line(&line);
    }
    let status = child.wait()?;
    if !status.success() && totals.failed == 0 {
        bail!("cargo test failed: {status}");
    }
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::Totals;

    #[test]
    fn result_lines_add_up() {
        let mut totals = Totals::default();
        for line in [
            "test result: ok. 11 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.04s",
            "running 3 tests",
            "test result: FAILED. 5 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.00s",
            "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
        ] {
            totals.add_line(line);
        }
        assert_eq!(
            totals,
            Totals {
                passed: 16,
                failed: 1,
                ignored: 2
            }
        );
    }
}
