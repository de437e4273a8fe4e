//! `cargo xtask conformance [--url URL] [runner options…]`: runs the OCI conformance runner
//! (`gantry-conformance`) against a registry, with Gantry's expected-failures list (empty) unless
//! another is given. Without `--url` it builds `gantry`, starts `gantry serve` on an ephemeral
//! loopback port with a fresh data directory and delete enabled, runs every workflow against
//! it, and stops it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::project_root;
use crate::shell::{cmd, exec};

/// How long `gantry serve` gets to print its address.
const STARTUP: Duration = Duration::from_secs(30);

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
    child: Child,
    root: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Builds and starts `gantry serve`, and returns it with the URL from its first line of output
/// (`listening on http://127.0.0.1:PORT`).
fn start_gantry() -> anyhow::Result<(Server, String)> {
    exec(&mut cmd("cargo", &["build", "-p", "gantry"])).context(
        "the `gantry` binary (crates/cli) could not be built; pass --url to test another registry",
    )?;
    let binary = target_dir().join("debug/gantry");
    let root = target_dir().join(format!("xtask-conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let child = Command::new(&binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--root"])
        .arg(&root)
        .arg("--allow-delete")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("could not start {}", binary.display()))?;
    let mut server = Server { child, root };
    let url = first_line_url(&mut server.child, &binary)?;
    Ok((server, url))
}

/// Reads the server's first line of output, waiting at most [`STARTUP`], and takes the URL from
/// it; the rest of its output is drained in the background so the server never blocks on it.
fn first_line_url(child: &mut Child, binary: &Path) -> anyhow::Result<String> {
    let stdout = child.stdout.take().context("gantry serve has no stdout")?;
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = sender.send(lines.next());
        for _ in lines {}
    });
    let line = match receiver.recv_timeout(STARTUP) {
        Ok(Some(Ok(line))) => line,
        Ok(_) => bail!(
            "{} serve exited or closed its output before saying where it listens",
            binary.display()
        ),
        Err(_) => bail!(
            "{} serve printed nothing within {STARTUP:?}",
            binary.display()
        ),
    };
    parse_listening(&line).with_context(|| {
        format!("expected `listening on http://127.0.0.1:PORT` from gantry serve, got `{line}`")
    })
}

fn parse_listening(line: &str) -> Option<String> {
    let url = line.trim().strip_prefix("listening on ")?;
    (url.starts_with("http://") || url.starts_with("https://")).then(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::parse_listening;

    #[test]
    fn the_server_address_is_read_from_its_first_line() {
        assert_eq!(
            parse_listening("listening on http://127.0.0.1:41234\n").as_deref(),
            Some("http://127.0.0.1:41234")
        );
        assert_eq!(parse_listening("starting"), None);
        assert_eq!(parse_listening("listening on 127.0.0.1:5000"), None);
    }
}
