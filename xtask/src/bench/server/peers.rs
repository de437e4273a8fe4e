//! The two servers under test, started through the test kit on loopback with fresh data
//! directories under `target/bench-tmp`: `gantry serve` from the release build, and Debian's
//! `docker-registry` with its packaged cache settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::Context;
pub(in crate::bench) use gantry_test_support::distribution::BINARY as DISTRIBUTION;
use gantry_test_support::distribution::Distribution;
use gantry_test_support::gantry::Gantry;
use gantry_test_support::process::free_port;

use crate::project_root;

/// The process of one of the two servers under test.
pub(in crate::bench) enum Process {
    Gantry(Gantry),
    Distribution(Distribution),
}

/// One of the two servers under test, started through the test kit (which waits until it
/// answers): killed, and its data removed, when dropped.
pub(in crate::bench) struct Server {
    pub(in crate::bench) label: &'static str,
    pub(in crate::bench) process: Option<Process>,
    pub(in crate::bench) root: PathBuf,
    pub(in crate::bench) addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.process.take());
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Server {
    pub(in crate::bench) fn id(&self) -> u32 {
        match &self.process {
            Some(Process::Gantry(gantry)) => gantry.id(),
            Some(Process::Distribution(distribution)) => distribution.id(),
            None => 0,
        }
    }

    /// `(VmRSS, VmHWM)` in MiB.
    pub(in crate::bench) fn memory(&self) -> anyhow::Result<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.id()))?;
        let field = |name: &str| -> anyhow::Result<f64> {
            let line = status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .with_context(|| format!("no {name} in /proc/{}/status", self.id()))?;
            let kib: f64 = line.trim().trim_end_matches("kB").trim().parse()?;
            Ok(kib / 1024.0)
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }
}

pub(in crate::bench) fn bench_root(label: &str) -> anyhow::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"));
    let root = target
        .join("bench-tmp")
        .join(format!("server-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    Ok(root)
}

/// `gantry` of `cargo build --release -p gantry`.
pub(in crate::bench) fn release_gantry() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"));
    target.join("release/gantry")
}

pub(in crate::bench) fn start_gantry() -> anyhow::Result<Server> {
    let binary = release_gantry();
    let mut server = Server {
        label: "Gantry",
        process: None,
        root: bench_root("gantry")?,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    let mut command = Command::new(&binary);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--log-level", "error"])
        .arg("--root")
        .arg(&server.root)
        .arg("--allow-delete");
    let gantry = Gantry::spawn(command, Stdio::inherit())
        .with_context(|| format!("could not start {}", binary.display()))?;
    server.addr = gantry.addr();
    server.process = Some(Process::Gantry(gantry));
    Ok(server)
}

pub(in crate::bench) fn start_distribution() -> anyhow::Result<Server> {
    let mut server = Server {
        label: "Distribution",
        process: None,
        root: bench_root("distribution")?,
        addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
    };
    // Debian's packaged config keeps the in-memory blob descriptor cache; the access log is
    // off, as Gantry's is at log level error.
    let config = format!(
        "version: 0.1\n\
         log:\n  level: error\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n  \
         cache:\n    blobdescriptor: inmemory\n\
         http:\n  addr: {addr}\n",
        data = server.root.join("data").display(),
        addr = server.addr,
    );
    let distribution = Distribution::spawn(&config, server.addr, &server.root, Stdio::inherit())
        .with_context(|| format!("could not start {DISTRIBUTION}"))?;
    server.process = Some(Process::Distribution(distribution));
    Ok(server)
}
