//! Debian's `docker-registry` (CNCF Distribution) behind htpasswd authentication, on a
//! loopback port: the registry that demands credentials. The test kit starts it.

use tempfile::TempDir;

/// A running `docker-registry` that wants `user`'s `password`, killed when dropped.
pub(crate) struct Distribution {
    _peer: gantry_test_support::distribution::Distribution,
    /// `127.0.0.1:PORT`.
    pub(crate) addr: String,
    _dir: TempDir,
}

impl Distribution {
    /// Starts it with one htpasswd account, and waits (a bounded time) until it answers.
    pub(crate) fn start(user: &str, password: &str) -> Distribution {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash(password, 4).unwrap();
        let htpasswd = dir.path().join("htpasswd");
        std::fs::write(&htpasswd, format!("{user}:{hash}\n")).unwrap();
        let auth = format!(
            "auth:\n  htpasswd:\n    realm: gantry-test\n    path: {}\n",
            htpasswd.display()
        );
        let peer = gantry_test_support::distribution::Distribution::start_with(
            &dir.path().join("data"),
            dir.path(),
            &auth,
        );
        Distribution {
            addr: peer.addr().to_string(),
            _peer: peer,
            _dir: dir,
        }
    }
}
