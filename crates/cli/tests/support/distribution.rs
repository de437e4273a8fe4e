//! Debian's `docker-registry` (CNCF Distribution) behind htpasswd authentication, on a
//! loopback port: the registry that demands credentials.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::Guard;

/// Where Debian installs it.
pub(crate) const BINARY: &str = "/usr/bin/docker-registry";

/// A running `docker-registry` that wants `user`'s `password`, killed when dropped.
pub(crate) struct Distribution {
    _guard: Guard,
    /// `127.0.0.1:PORT`.
    pub(crate) addr: String,
    _dir: TempDir,
}

impl Distribution {
    /// Starts it with one htpasswd account, and waits (a bounded number of tries) until it
    /// accepts connections.
    pub(crate) fn start(user: &str, password: &str) -> Distribution {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} is missing: apt-get install docker-registry"
        );
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash(password, 4).unwrap();
        let htpasswd = dir.path().join("htpasswd");
        std::fs::write(&htpasswd, format!("{user}:{hash}\n")).unwrap();
        let port = {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            listener.local_addr().unwrap().port()
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: {addr}\n\
                 auth:\n  htpasswd:\n    realm: gantry-test\n    path: {}\n",
                dir.path().join("data").display(),
                htpasswd.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        // A clean environment: it reads every REGISTRY_* variable as configuration.
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut guard = Guard(child);
        let mut tries = 0;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            tries += 1;
            assert!(
                guard.0.try_wait().unwrap().is_none(),
                "docker-registry exited"
            );
            assert!(
                tries < 300,
                "docker-registry does not accept connections on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Distribution {
            _guard: guard,
            addr: addr.to_string(),
            _dir: dir,
        }
    }
}
