//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.

use anyhow::bail;

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
    exec(&mut cmd(
        "cargo",
        &["test", "--workspace", "--all-features", "--no-fail-fast"],
    ))?;
    eprintln!("xtask ci: all checks passed");
    Ok(())
}
