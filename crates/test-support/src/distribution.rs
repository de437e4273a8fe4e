//! Debian's `docker-registry` (CNCF Distribution 2.8.2) on a loopback port.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::process::{Guard, free_port, wait_until_answers};

/// Where Debian installs the peer.
pub const BINARY: &str = "/usr/bin/docker-registry";

/// A running `docker-registry serve`, killed when dropped.
#[derive(Debug)]
pub struct Distribution {
    guard: Guard,
    addr: SocketAddr,
    log: PathBuf,
}

impl Distribution {
    /// Starts the peer over the data directory `root`, with its config and log in `dir`, and
    /// waits until it answers.
    pub fn start(root: &Path, dir: &Path) -> Distribution {
        Distribution::start_with(root, dir, "")
    }

    /// [`start`](Distribution::start) with `extra` appended to the configuration: YAML
    /// top-level sections such as `auth:`.
    pub fn start_with(root: &Path, dir: &Path, extra: &str) -> Distribution {
        let binary = Path::new(BINARY);
        assert!(
            binary.exists(),
            "{BINARY} is missing: install Debian's `docker-registry` package \
             (apt-get install docker-registry), as .ci/run does"
        );
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        std::fs::create_dir_all(root).unwrap_or_else(|e| panic!("create {}: {e}", root.display()));
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let config = dir.join("docker-registry.yml");
        std::fs::write(&config, config_yaml(root, addr) + extra)
            .unwrap_or_else(|e| panic!("write {}: {e}", config.display()));
        // Its log goes to a file: every refused request is logged at level error.
        let log = dir.join("docker-registry.log");
        let log_file =
            std::fs::File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        // A clean environment: Distribution reads every `REGISTRY_*` variable as configuration
        // (skopeo's `REGISTRY_AUTH_FILE` would become `auth.file` and stop it starting).
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BINARY}: {e}"));
        let mut guard = Guard::new("docker-registry", child);
        wait_until_answers(&mut guard, addr, || read_log(&log));
        Distribution { guard, addr, log }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        read_log(&self.log)
    }

    /// Kills it and waits until it is gone.
    pub fn stop(self) {
        self.guard.stop();
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Distribution's configuration: the filesystem driver at `root`, deletes enabled, errors only.
pub fn config_yaml(root: &Path, addr: SocketAddr) -> String {
    format!(
        "version: 0.1\n\
         log:\n  level: error\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: {addr}\n",
        root.display()
    )
}
