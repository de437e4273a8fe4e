//! The `gantry` binary, built once per test run, and `gantry serve` on a loopback port.
//!
//! `CARGO_BIN_EXE_gantry` exists only for tests of the `gantry` package itself, so the binary is
//! found beside the running test: a test executable lives in `<target>/<profile>/deps/`, and
//! `gantry` in `<target>/<profile>/`. That honours `CARGO_TARGET_DIR` and the profile. The first
//! caller runs `cargo build -p gantry` there (a no-op when it is fresh), so a suite never runs a
//! stale server; a `OnceLock` makes parallel tests build once.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use crate::process::{Guard, STARTUP, await_answer, read_log, wait_bounded};

/// How long building `gantry` may take (a cold build of the server and its dependencies).
const BUILD: Duration = Duration::from_secs(900);

/// The path of a freshly built `gantry` binary.
pub fn gantry_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| build("gantry", "gantry", &[]))
}

/// `<target>` and `<profile>` from the running test's path, or the workspace's `target/debug`.
fn target_and_profile() -> (PathBuf, String) {
    let from_exe = std::env::current_exe().ok().and_then(|exe| {
        let deps = exe.parent()?;
        if deps.file_name()? != "deps" {
            return None;
        }
        let profile_dir = deps.parent()?;
        let profile = profile_dir.file_name()?.to_str()?.to_owned();
        Some((profile_dir.parent()?.to_path_buf(), profile))
    });
    from_exe.unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::project_root().join("target"));
        (target, "debug".to_owned())
    })
}

/// The variables cargo sets for the package whose test is running.
const SET_FOR_THE_PACKAGE: &[&str] = &[
    "CARGO_BIN_NAME",
    "CARGO_CRATE_NAME",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_LINKS",
    "CARGO_MANIFEST_PATH",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_RUSTC_CURRENT_DIR",
    "CARGO_TARGET_TMPDIR",
    "OUT_DIR",
];

/// Builds binary `bin` of workspace package `package` with `features` for the running test's
/// target directory and profile (a no-op when it is fresh), and returns its path. The
/// `gantry` binary is [`gantry_binary`]; test-only helpers are the kit's own binaries.
pub fn build(package: &str, bin: &str, features: &[&str]) -> PathBuf {
    let (target, profile) = target_and_profile();
    let binary = target.join(&profile).join(bin);
    let what = format!("`cargo build -p {package} --bin {bin}`");
    // Cargo names the `dev` profile's directory `debug`.
    let cargo_profile = if profile == "debug" { "dev" } else { &profile };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .args([
            "build",
            "--quiet",
            "-p",
            package,
            "--bin",
            bin,
            "--profile",
            cargo_profile,
        ])
        .arg("--target-dir")
        .arg(&target)
        .current_dir(crate::project_root())
        .args(features.iter().flat_map(|feature| ["--features", feature]))
        .stdin(Stdio::null());
    // Cargo runs a test with the variables it gives the package being built. Build scripts
    // (ring's among them) rerun when those change, so passing them on would rebuild the
    // dependencies here and again in the next `cargo test`.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if SET_FOR_THE_PACKAGE.contains(&name.as_ref()) || name.starts_with("CARGO_PKG_") {
            command.env_remove(name.as_ref());
        }
    }
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let status = wait_bounded(&mut child, BUILD, &what);
    assert!(status.success(), "{what} failed: {status}");
    assert!(
        binary.exists(),
        "{what} succeeded but {} is missing",
        binary.display()
    );
    binary
}

/// A running `gantry serve`, killed when dropped.
#[derive(Debug)]
pub struct Gantry {
    guard: Guard,
    url: String,
    addr: SocketAddr,
    log: Option<PathBuf>,
}

impl Gantry {
    /// Starts `gantry serve --listen 127.0.0.1:0 --root ROOT --allow-delete`, with its log in
    /// `dir`, and waits until it answers at the address its first line names.
    pub fn start(root: &Path, dir: &Path) -> Gantry {
        let mut command = Command::new(gantry_binary());
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--allow-delete",
                "--root",
            ])
            .arg(root)
            // A clean environment, so no `GANTRY_*` variable of the caller's changes the
            // settings.
            .env_clear();
        Gantry::start_command(command, dir)
    }

    /// Starts `command`, a `gantry serve` listening on port 0, with its standard error in
    /// `dir/gantry.log`, as [`spawn`](Gantry::spawn) does; panics with the log if it fails.
    pub fn start_command(command: Command, dir: &Path) -> Gantry {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let log = dir.join("gantry.log");
        let log_file =
            std::fs::File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        match Gantry::spawn(command, Stdio::from(log_file)) {
            Ok(mut gantry) => {
                gantry.log = Some(log);
                gantry
            }
            Err(error) => panic!("{error}\n{}", read_log(&log)),
        }
    }

    /// Starts `command`, a `gantry serve` listening on port 0, with `stderr`; reads where it
    /// listens from its first line of standard output (`listening on <scheme>://<address>`,
    /// waiting at most [`STARTUP`]) and, for plain HTTP, waits until it answers. The rest of
    /// its output is drained by a thread that ends with the process. For callers that report
    /// errors rather than panic.
    pub fn spawn(mut command: Command, stderr: Stdio) -> std::io::Result<Gantry> {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| {
                std::io::Error::other(format!("cannot start {:?}: {e}", command.get_program()))
            })?;
        let mut guard = Guard::new("gantry serve", child);
        let url = first_line_url(&mut guard)?;
        let addr = url
            .split_once("://")
            .and_then(|(_, addr)| addr.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("no address in {url}")))?;
        if url.starts_with("http://") {
            await_answer(&mut guard, addr)?;
        }
        Ok(Gantry {
            guard,
            url,
            addr,
            log: None,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its URL, `http://ADDR` or `https://ADDR`, as its first line said.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.guard.id()
    }

    /// What it has logged so far, when [`start`](Gantry::start) gave it a log file.
    pub fn log(&self) -> String {
        self.log.as_deref().map(read_log).unwrap_or_default()
    }

    /// Kills it and waits until it is gone.
    pub fn stop(self) {
        self.guard.stop();
    }
}

/// Reads the first line of standard output, waiting at most [`STARTUP`], and takes the URL
/// from it; the rest of the output is drained by a thread that ends with the process.
fn first_line_url(guard: &mut Guard) -> std::io::Result<String> {
    let stdout = guard
        .child_mut()
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("gantry serve has no stdout"))?;
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = send.send(line);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let line = receive.recv_timeout(STARTUP).map_err(|_| {
        std::io::Error::other(format!(
            "gantry serve printed no first line within {STARTUP:?}"
        ))
    })?;
    parse_listening(&line).ok_or_else(|| {
        std::io::Error::other(format!(
            "expected `listening on http://127.0.0.1:PORT` from gantry serve, got {line:?}"
        ))
    })
}

/// The URL in `gantry serve`'s first line, `listening on <scheme>://<address>`.
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
