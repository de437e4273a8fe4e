//! `cargo xtask fuzz <target> [--seconds N]`: one cargo-fuzz target for a bounded time.
//!
//! cargo-fuzz needs nightly compiler flags; the stable toolchain allows them under
//! `RUSTC_BOOTSTRAP=1`. New inputs the fuzzer finds go to `fuzz/target/corpus/<target>/`, so the
//! committed seeds in `fuzz/corpus/<target>/` change only by hand.

use std::fs;

use anyhow::{Context, bail};

use crate::project_root;
use crate::shell::{cmd, exec, read};

const DEFAULT_SECONDS: u64 = 60;

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let targets = targets()?;
    let (target, seconds) = match args {
        [] => bail!("name a target: {}", targets.join(", ")),
        [list] if list == "list" => {
            println!("{}", targets.join("\n"));
            return Ok(());
        }
        [target] => (target, DEFAULT_SECONDS),
        [target, flag, n] if flag == "--seconds" => {
            (target, n.parse().context("--seconds takes a whole number")?)
        }
        _ => bail!("usage: cargo xtask fuzz <target> [--seconds N]"),
    };
    if !targets.contains(target) {
        bail!(
            "no fuzz target `{target}`; there are: {}",
            targets.join(", ")
        );
    }
    ensure_cargo_fuzz()?;

    let scratch = format!("fuzz/target/corpus/{target}");
    let seeds = format!("fuzz/corpus/{target}");
    fs::create_dir_all(project_root().join(&scratch))?;
    let max_time = format!("-max_total_time={seconds}");
    let mut fuzz = cmd(
        "cargo",
        &["fuzz", "run", target, &scratch, &seeds, "--", &max_time],
    );
    fuzz.env("RUSTC_BOOTSTRAP", "1");
    exec(&mut fuzz)
}

/// The fuzz targets: one file per target in `fuzz/fuzz_targets/`.
fn targets() -> anyhow::Result<Vec<String>> {
    let dir = project_root().join("fuzz/fuzz_targets");
    let mut names = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            names.push(stem.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn ensure_cargo_fuzz() -> anyhow::Result<()> {
    if read(&mut cmd("cargo", &["fuzz", "--version"])).is_ok() {
        return Ok(());
    }
    exec(&mut cmd("cargo", &["install", "--locked", "cargo-fuzz"]))
}
