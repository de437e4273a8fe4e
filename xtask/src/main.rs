//! Project automation, run as `cargo xtask <task>`. A bare `cargo xtask` lists the tasks.

mod bench;
mod ci;
mod conformance;
mod fuzz;
mod shell;
#[cfg(test)]
mod tidy;

use std::path::PathBuf;

use anyhow::bail;

const TASKS: &str = "\
Usage: cargo xtask <task> [options]

Tasks:
  ci                          what CI runs: fmt check, clippy -D warnings, every test
                              (fuzz seed replay and the tidy checks included)
  fuzz <target> [--seconds N] run one cargo-fuzz target (installs cargo-fuzz when missing);
                              `cargo xtask fuzz list` names the targets
  bench [digest|reference|server]
                              run benchmarks beside their peers and rewrite docs/benchmarks.md
                              (`server`: gantry serve against Debian's docker-registry)
  conformance [--url URL] [--workflows a,b] [--junit FILE] [--expected-failures FILE]
                              run the OCI conformance runner; without --url, against a fresh
                              `gantry serve` on an ephemeral port (see docs/conformance.md)
";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        print!("{TASKS}");
        return Ok(());
    };
    match task.as_str() {
        "ci" => ci::run(rest),
        "fuzz" => fuzz::run(rest),
        "bench" => bench::run(rest),
        "conformance" => conformance::run(rest),
        "help" | "--help" | "-h" => {
            print!("{TASKS}");
            Ok(())
        }
        other => bail!("unknown task `{other}`\n\n{TASKS}"),
    }
}

/// The workspace root: the parent of this crate's directory.
fn project_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}
