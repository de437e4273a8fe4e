//! Proves the conformance runner right against a real peer: CNCF Distribution 2.8.2 (Debian's
//! `docker-registry`) must fail exactly the checks listed, with reasons, in
//! `crates/conformance/expected-failures/distribution-2.8.txt`, and pass every other one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on a broken setup"
)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gantry_conformance::{Config, ExpectedFailures, run};
use gantry_tests::project_root;

/// How long the peer gets to start answering.
const STARTUP: Duration = Duration::from_secs(30);

/// The peer process, killed and reaped when dropped, even when the test panics.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port that was free a moment ago: bind port 0, read the port, release it.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

/// Whether `GET /v2/` at `addr` answers 200.
fn answers(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /v2/ HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

fn config_yaml(root: &Path, addr: SocketAddr) -> String {
    format!(
        "version: 0.1\n\
         log:\n  level: error\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: {addr}\n",
        root.display()
    )
}

fn start_distribution(dir: &Path) -> (Peer, SocketAddr) {
    let binary = Path::new("/usr/bin/docker-registry");
    assert!(
        binary.exists(),
        "/usr/bin/docker-registry is missing: install Debian's `docker-registry` package \
         (apt-get install docker-registry), as .ci/run does"
    );
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let config = dir.join("config.yml");
    std::fs::write(&config, config_yaml(&data, addr)).unwrap();
    // Its log goes to a file: every refused request is logged at level error.
    let log = std::fs::File::create(dir.join("registry.log")).unwrap();
    let child = Command::new(binary)
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("docker-registry starts");
    let mut peer = Peer(child);
    let deadline = Instant::now() + STARTUP;
    while !answers(addr) {
        if let Some(status) = peer.0.try_wait().unwrap() {
            let log = std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default();
            panic!("docker-registry exited before answering on {addr}: {status}\n{log}");
        }
        assert!(
            Instant::now() < deadline,
            "docker-registry did not answer GET /v2/ on {addr} within {STARTUP:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (peer, addr)
}

#[test]
fn distribution_2_8_fails_exactly_the_listed_checks() {
    let dir = tempfile::tempdir().unwrap();
    let (_peer, addr) = start_distribution(dir.path());

    let report = run(&Config::new(format!("http://{addr}"))).unwrap();
    println!("{}", report.summary());

    let list = project_root().join("crates/conformance/expected-failures/distribution-2.8.txt");
    let expected = ExpectedFailures::load(&list).unwrap();
    let ratchet = expected.compare(&report);
    assert!(
        ratchet.holds(),
        "Distribution 2.8's failures differ from {}:\n{}",
        list.display(),
        ratchet.explain()
    );
    // The peer must also pass most checks, or the runner is probably what is broken.
    assert!(report.passed().count() > report.failed().count());
}
