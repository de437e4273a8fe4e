//! Running commands from the project root, echoing each one first.

use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::project_root;

/// A command named `program` that runs in the project root.
pub(crate) fn cmd(program: &str, args: &[&str]) -> Command {
    let mut command = Command::new(program);
    command.args(args).current_dir(project_root());
    command
}

/// Runs `command` with inherited output and fails unless it exits 0.
pub(crate) fn exec(command: &mut Command) -> anyhow::Result<()> {
    eprintln!("$ {}", describe(command));
    let status = command
        .status()
        .with_context(|| format!("could not start `{}`", describe(command)))?;
    if !status.success() {
        bail!("`{}` failed: {status}", describe(command));
    }
    Ok(())
}

/// Runs `command` and returns its standard output; fails unless it exits 0.
pub(crate) fn read(command: &mut Command) -> anyhow::Result<String> {
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("could not start `{}`", describe(command)))?;
    if !output.status.success() {
        bail!("`{}` failed: {}", describe(command), output.status);
    }
    String::from_utf8(output.stdout).context("command output is not UTF-8")
}

fn describe(command: &Command) -> String {
    let mut words = vec![command.get_program().to_string_lossy().into_owned()];
    words.extend(command.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}
