//! Debian's `docker-registry` (CNCF Distribution 2.8.2) on a loopback port, storing on a
//! directory or, with its `s3` driver, in an S3 bucket.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::process::{Guard, await_answer, free_port, read_log};

/// Where Debian installs the peer.
pub const BINARY: &str = "/usr/bin/docker-registry";

/// A running `docker-registry serve`, killed when dropped.
#[derive(Debug)]
pub struct Distribution {
    guard: Guard,
    addr: SocketAddr,
    log: Option<PathBuf>,
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
        std::fs::create_dir_all(root).unwrap_or_else(|e| panic!("create {}: {e}", root.display()));
        Distribution::start_config(dir, |addr| config_yaml(root, addr) + extra)
    }

    /// Starts the peer with its `s3` driver on `storage`, its config and log in `dir`, and
    /// waits until it answers.
    pub fn start_s3(storage: &S3Storage, dir: &Path) -> Distribution {
        Distribution::start_config(dir, |addr| s3_config_yaml(storage, addr))
    }

    /// Starts the peer with the configuration `config` gives for its address, its config and
    /// log in `dir`, and waits until it answers; panics with its log if it does not.
    fn start_config(dir: &Path, config: impl FnOnce(SocketAddr) -> String) -> Distribution {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        // Its log goes to a file: every refused request is logged at level error.
        let log = dir.join("docker-registry.log");
        let log_file =
            std::fs::File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let config = config(addr);
        match Distribution::spawn(&config, addr, dir, Stdio::from(log_file)) {
            Ok(mut peer) => {
                peer.log = Some(log);
                peer
            }
            Err(error) => panic!("{error}\n{}", read_log(&log)),
        }
    }

    /// Starts the peer with `config` (which makes it listen on `addr`), written to
    /// `dir/docker-registry.yml`, and its standard error to `stderr`; waits until it answers.
    /// For callers that report errors rather than panic.
    pub fn spawn(
        config: &str,
        addr: SocketAddr,
        dir: &Path,
        stderr: Stdio,
    ) -> std::io::Result<Distribution> {
        if !Path::new(BINARY).exists() {
            return Err(std::io::Error::other(format!(
                "{BINARY} is missing: install Debian's `docker-registry` package \
                 (apt-get install docker-registry), as .ci/run does"
            )));
        }
        let config_path = dir.join("docker-registry.yml");
        std::fs::write(&config_path, config)?;
        // A clean environment: Distribution reads every `REGISTRY_*` variable as configuration
        // (skopeo's `REGISTRY_AUTH_FILE` would become `auth.file` and stop it starting), and
        // 2.8.2's `s3` driver panics at start when `AWS_CA_BUNDLE` is set.
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config_path)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| std::io::Error::other(format!("cannot start {BINARY}: {e}")))?;
        let mut guard = Guard::new("docker-registry", child);
        await_answer(&mut guard, addr)?;
        Ok(Distribution {
            guard,
            addr,
            log: None,
        })
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.guard.id()
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it has logged so far, when [`start`](Distribution::start) gave it a log file.
    pub fn log(&self) -> String {
        self.log.as_deref().map(read_log).unwrap_or_default()
    }

    /// Kills it and waits until it is gone.
    pub fn stop(self) {
        self.guard.stop();
    }
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

/// Where Distribution's `s3` driver stores: an endpoint on loopback, path-style over plain
/// HTTP, signed with V4 in region `us-east-1`.
#[derive(Debug, Clone)]
pub struct S3Storage {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The access key.
    pub access_key: String,
    /// The secret key.
    pub secret_key: String,
    /// The bucket.
    pub bucket: String,
    /// The prefix of every key, `/` for none.
    pub root_directory: String,
    /// Whether blob `GET`s answer `307` to a presigned URL of the store.
    pub redirect: bool,
}

/// Distribution's configuration: the `s3` driver on `storage`, deletes enabled, errors only.
/// `regionendpoint` alone makes 2.8.2 address the bucket path-style.
pub fn s3_config_yaml(storage: &S3Storage, addr: SocketAddr) -> String {
    format!(
        "version: 0.1\n\
         log:\n  level: error\n\
         storage:\n  s3:\n    accesskey: {}\n    secretkey: {}\n    region: us-east-1\n    \
         regionendpoint: {}\n    bucket: {}\n    rootdirectory: {}\n    secure: false\n    \
         v4auth: true\n  delete:\n    enabled: true\n  redirect:\n    disable: {}\n\
         http:\n  addr: {addr}\n",
        storage.access_key,
        storage.secret_key,
        storage.endpoint,
        storage.bucket,
        storage.root_directory,
        !storage.redirect
    )
}
