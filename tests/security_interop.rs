//! Real clients log in to `gantry serve` and move images through it, once with HTTP Basic
//! against the htpasswd file and once with Gantry's own token realm: `skopeo login` and
//! `skopeo copy`, `docker login` (the CLI alone; no engine is needed to log in), and
//! `gantry-client`. A wrong password fails with each of them.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "security_support.rs"]
mod security_support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use gantry_client::{Client, ClientConfig, Credential, UploadMode};
use gantry_reference::{Algorithm, Digest, Reference};
use gantry_test_support::layout::Fixture;
use gantry_test_support::process::run_bounded;
use gantry_test_support::skopeo::{BINARY as SKOPEO, Skopeo};
use security_support::{Served, write_config};

const TIMEOUT: Duration = Duration::from_secs(120);

fn serve(dir: &Path, token: bool) -> Served {
    Served::start(&write_config(dir, token), dir, &[])
}

/// `skopeo login` with `password`, in a sandbox of its own; whether it succeeded, and its
/// output.
fn skopeo_login(addr: SocketAddr, password: &str) -> (bool, String) {
    let home = tempfile::tempdir().unwrap();
    let authfile = home.path().join("auth.json");
    std::fs::write(&authfile, "{}").unwrap();
    let mut command = Command::new(SKOPEO);
    command
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", home.path())
        .args(["login", "--tls-verify=false", "--authfile"])
        .arg(&authfile)
        .args(["-u", "alice", "-p", password, &addr.to_string()]);
    let output = run_bounded(&mut command, TIMEOUT);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn skopeo_round_trip(token: bool) {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), token);
    let addr = served.addr;
    let (ok, output) = skopeo_login(addr, "wrong");
    assert!(!ok, "a wrong password logged in: {output}");
    let (ok, output) = skopeo_login(addr, "wonderland");
    assert!(ok, "skopeo login failed: {output}\n{}", served.log());

    let fixture = Fixture::write(&dir.path().join("fixture"));
    let skopeo = Skopeo::new();
    skopeo.run(&[
        "login",
        "--tls-verify=false",
        "-u",
        "alice",
        "-p",
        "wonderland",
        &addr.to_string(),
    ]);
    let source = format!(
        "oci:{}:{}",
        dir.path().join("fixture").display(),
        Fixture::IMAGE
    );
    let target = format!("docker://{addr}/alice/app:v1");
    skopeo.copy(&source, &target, &[]);
    let raw = skopeo.inspect_raw(&target);
    assert_eq!(Digest::of(Algorithm::Sha256, &raw), *fixture.image.digest());
    let out = dir.path().join("out");
    skopeo.copy(&target, &format!("oci:{}:v1", out.display()), &[]);
}

#[test]
fn skopeo_logs_in_and_copies_with_htpasswd() {
    skopeo_round_trip(false);
}

#[test]
fn skopeo_logs_in_and_copies_with_the_token_realm() {
    skopeo_round_trip(true);
}

/// The docker CLI, when this machine has one.
fn docker_binary() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("docker"))
        .find(|candidate| candidate.is_file())
}

/// `docker login` with `password` and a configuration directory of its own.
fn docker_login(docker: &Path, addr: SocketAddr, password: &str) -> (bool, String) {
    let config = tempfile::tempdir().unwrap();
    let mut command = Command::new(docker);
    command
        .env_clear()
        .env("PATH", "/usr/bin:/bin:/usr/local/bin")
        .env("HOME", config.path())
        // No engine runs here: the CLI logs in on its own.
        .env(
            "DOCKER_HOST",
            format!("unix://{}", config.path().join("no-engine.sock").display()),
        )
        .arg("--config")
        .arg(config.path())
        .args(["login", "-u", "alice", "-p", password, &addr.to_string()]);
    let output = run_bounded(&mut command, TIMEOUT);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn docker_logs_in(token: bool) {
    let docker = docker_binary().unwrap_or_else(|| {
        panic!("no docker CLI on PATH: install it (Debian's docker.io package, as .ci/run does)")
    });
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), token);
    let (ok, output) = docker_login(&docker, served.addr, "wrong");
    assert!(!ok, "a wrong password logged in: {output}");
    let (ok, output) = docker_login(&docker, served.addr, "wonderland");
    assert!(ok, "docker login failed: {output}\n{}", served.log());
    assert!(output.contains("Login Succeeded"), "{output}");
}

#[test]
fn docker_logs_in_with_htpasswd() {
    docker_logs_in(false);
}

#[test]
fn docker_logs_in_with_the_token_realm() {
    docker_logs_in(true);
}

async fn gantry_client_round_trip(token: bool) {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), token);
    let host = served.addr.to_string();
    let client = |password: &str| {
        Client::new(
            ClientConfig::default()
                .with_credential(host.clone(), Credential::basic("alice", password)),
        )
        .unwrap()
    };
    let reference = Reference::parse(format!("{host}/alice/app:v1")).unwrap();
    let layer = Bytes::from_static(b"a layer pushed by gantry-client");
    let digest = Digest::of(Algorithm::Sha256, &layer);

    let refused = client("wrong")
        .push_blob(&reference, &digest, UploadMode::monolithic(layer.clone()))
        .await;
    assert!(refused.unwrap_err().is_auth(), "a wrong password pushed");

    let alice = client("wonderland");
    alice
        .push_blob(&reference, &digest, UploadMode::monolithic(layer.clone()))
        .await
        .unwrap_or_else(|e| panic!("push: {e}\n{}", served.log()));
    assert_eq!(
        alice.head_blob(&reference, &digest).await.unwrap(),
        layer.len() as u64
    );
    let outside = Reference::parse(format!("{host}/carol/app:v1")).unwrap();
    let denied = alice
        .push_blob(&outside, &digest, UploadMode::monolithic(layer))
        .await;
    assert!(denied.is_err(), "alice pushed outside her repositories");
    let repositories = alice.catalog(&host).await.unwrap();
    assert_eq!(repositories, ["alice/app"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gantry_client_pushes_with_htpasswd() {
    gantry_client_round_trip(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gantry_client_pushes_with_the_token_realm() {
    gantry_client_round_trip(true).await;
}
