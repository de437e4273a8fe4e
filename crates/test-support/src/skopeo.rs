//! `skopeo` (containers/image) with a throwaway home: its own empty auth file, a policy that
//! accepts anything, no registries configuration and no signature lookaside, so nothing reads or
//! writes the machine's real configuration.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::run_bounded;

/// Where Debian installs skopeo.
pub const BINARY: &str = "/usr/bin/skopeo";

/// How long one skopeo command may take.
const TIMEOUT: Duration = Duration::from_secs(120);

/// skopeo in a sandbox of temporary files, removed when dropped.
#[derive(Debug)]
pub struct Skopeo {
    home: tempfile::TempDir,
}

impl Default for Skopeo {
    fn default() -> Self {
        Skopeo::new()
    }
}

impl Skopeo {
    /// Prepares the sandbox; panics, naming the apt package, when skopeo is missing.
    pub fn new() -> Skopeo {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} is missing: install Debian's `skopeo` package (apt-get install skopeo), \
             as .ci/run does"
        );
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
        for dir in ["config", "cache", "data", "run", "registries.d"] {
            let path = home.path().join(dir);
            std::fs::create_dir_all(&path)
                .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        }
        let files = [
            ("auth.json", "{}"),
            ("registries.conf", ""),
            (
                "policy.json",
                r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
            ),
        ];
        for (name, content) in files {
            let path = home.path().join(name);
            std::fs::write(&path, content)
                .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        }
        Skopeo { home }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    /// A skopeo command with the sandbox's environment and global flags.
    fn command(&self) -> Command {
        let mut command = Command::new(BINARY);
        command
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env("REGISTRY_AUTH_FILE", self.path("auth.json"))
            .env("CONTAINERS_REGISTRIES_CONF", self.path("registries.conf"))
            .arg("--policy")
            .arg(self.path("policy.json"))
            .arg("--registries.d")
            .arg(self.path("registries.d"));
        command
    }

    /// Runs skopeo with `args` after the global flags; panics with its output if it fails.
    pub fn run(&self, args: &[&str]) -> Vec<u8> {
        let mut command = self.command();
        command.args(args);
        let output = run_bounded(&mut command, TIMEOUT);
        assert!(
            output.status.success(),
            "skopeo {} failed ({}):\n{}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    /// `skopeo copy --preserve-digests` from `source` to `destination`, both with TLS
    /// verification off (registries here are plain HTTP on loopback) and the sandbox's auth
    /// file. `--preserve-digests` makes skopeo fail rather than recompress a layer, so every copy
    /// either keeps every digest or fails.
    pub fn copy(&self, source: &str, destination: &str, extra: &[&str]) {
        let authfile = self.path("auth.json");
        let authfile = authfile
            .to_str()
            .unwrap_or_else(|| panic!("non-UTF-8 temp path"));
        let mut args = vec![
            "copy",
            "--quiet",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--authfile",
            authfile,
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[source, destination]);
        self.run(&args);
    }

    /// The exact bytes of the manifest `image` names (`skopeo inspect --raw`).
    pub fn inspect_raw(&self, image: &str) -> Vec<u8> {
        let authfile = self.path("auth.json");
        let authfile = authfile
            .to_str()
            .unwrap_or_else(|| panic!("non-UTF-8 temp path"));
        self.run(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--authfile",
            authfile,
            image,
        ])
    }
}
