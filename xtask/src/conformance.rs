//! `cargo xtask conformance [--url URL] [runner options…]`: runs the OCI conformance runner
//! (`gantry-conformance`) against a registry, with Gantry's expected-failures list (empty) unless
//! another is given. Without `--url` it builds `gantry`, starts `gantry serve` on an ephemeral
//! loopback port with a fresh data directory and delete enabled, runs every workflow against
//! it, and stops it.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::Context;
use gantry_test_support::gantry::Gantry;

use crate::project_root;
use crate::shell::{cmd, exec};

/// The ratchet for Gantry itself.
const GANTRY_LIST: &str = "crates/conformance/expected-failures/gantry.txt";

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let has = |flag: &str| {
        args.iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    exec(&mut cmd("cargo", &["build", "-p", "gantry-conformance"]))?;
    let mut runner = Command::new(target_dir().join("debug/gantry-conformance"));
    runner.current_dir(project_root()).args(args);
    if !has("--expected-failures") {
        runner.arg("--expected-failures").arg(GANTRY_LIST);
    }
    // Keeps the server, if we started one, alive until the runner is done.
    let _server = if has("--url") {
        None
    } else {
        let (server, url) = start_gantry()?;
        eprintln!("xtask conformance: gantry serve is listening on {url}");
        runner.arg("--url").arg(url);
        Some(server)
    };
    exec(&mut runner)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"))
}

/// `gantry serve`, killed and its data directory removed when dropped.
struct Server {
    gantry: Option<Gantry>,
    root: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.gantry.take());
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Builds and starts `gantry serve` through the test kit, and returns it with the URL from its
/// first line of output (`listening on http://127.0.0.1:PORT`).
fn start_gantry() -> anyhow::Result<(Server, String)> {
    exec(&mut cmd("cargo", &["build", "-p", "gantry"])).context(
        "the `gantry` binary (crates/cli) could not be built; pass --url to test another registry",
    )?;
    let binary = target_dir().join("debug/gantry");
    let root = target_dir().join(format!("xtask-conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let mut server = Server { gantry: None, root };
    let mut command = Command::new(&binary);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--root"])
        .arg(&server.root)
        .arg("--allow-delete");
    let gantry = Gantry::spawn(command, Stdio::inherit())
        .with_context(|| format!("could not start {}", binary.display()))?;
    let url = gantry.url().to_owned();
    server.gantry = Some(gantry);
    Ok((server, url))
}
