//! `gantry login` and `gantry logout`: credentials checked against the registry, then saved in
//! `config.json` under a temporary `DOCKER_CONFIG`, in an `--authfile`, or through a
//! `docker-credential-<name>` helper; and the other commands using what was saved.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gantry_client::{Client, ClientConfig, Credential, CredentialSources};
use serde_json::Value;
use support::distribution::Distribution;
use support::{Home, Server, assert_exit, push_image_with, stderr, stdout};

/// `gantry ARGS` with `input` on standard input.
fn run_with_stdin(home: &Home, args: &[&str], input: &str, extra_env: &[(&str, &Path)]) -> Output {
    let mut command = home.gantry(args);
    for (name, value) in extra_env {
        command.env(name, value);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn login_writes_config_json_and_logout_removes_the_entry() {
    let server = Server::start(false);
    let home = Home::new();
    let config = home.docker_config().join("config.json");

    let output = run_with_stdin(
        &home,
        &["login", &server.addr, "-u", "alice", "--password-stdin"],
        "s3cret\n",
        &[],
    );
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("Login Succeeded"),
        "{}",
        stdout(&output)
    );
    let saved = read_json(&config);
    assert_eq!(
        saved["auths"][&server.addr]["auth"],
        STANDARD.encode("alice:s3cret")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only its owner reads it: {mode:o}");
    }

    let output = home.run(["logout", &server.addr]);
    assert_exit(&output, 0);
    assert!(stdout(&output).contains("Removed"), "{}", stdout(&output));
    let saved = read_json(&config);
    assert!(saved["auths"].get(&server.addr).is_none(), "{saved}");

    let output = home.run(["logout", &server.addr]);
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("Not logged in"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn login_and_logout_use_the_authfile_when_given() {
    let server = Server::start(false);
    let home = Home::new();
    let authfile = home.path().join("auth.json");
    let authfile_arg = authfile.to_str().unwrap();
    let output = home.run([
        "login",
        &server.addr,
        "--authfile",
        authfile_arg,
        "-u",
        "bob",
        "-p",
        "pw",
    ]);
    assert_exit(&output, 0);
    assert_eq!(
        read_json(&authfile)["auths"][&server.addr]["auth"],
        STANDARD.encode("bob:pw")
    );
    assert!(!home.docker_config().join("config.json").exists());

    assert_exit(
        &home.run(["logout", &server.addr, "--authfile", authfile_arg]),
        0,
    );
    assert!(read_json(&authfile)["auths"].get(&server.addr).is_none());
}

#[test]
fn login_and_logout_go_through_the_configured_credential_helper() {
    let server = Server::start(false);
    let home = Home::new();
    let bin = home.path().join("bin");
    let store = home.path().join("store");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&store).unwrap();
    let helper = bin.join("docker-credential-fake");
    std::fs::write(
        &helper,
        "#!/bin/sh\n\
         case \"$1\" in\n\
           store) cat > \"$FAKE_STORE/stored\" ;;\n\
           erase) cat > \"$FAKE_STORE/erased\" ;;\n\
           *) echo \"unexpected $1\" >&2; exit 1 ;;\n\
         esac\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::create_dir_all(home.docker_config()).unwrap();
    let config = home.docker_config().join("config.json");
    std::fs::write(&config, r#"{"credsStore":"fake"}"#).unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin.clone())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();

    let mut login = home.gantry(["login", &server.addr, "-u", "carol", "--password-stdin"]);
    login.env("PATH", &path).env("FAKE_STORE", &store);
    let mut child = login
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"pw-in-helper\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_exit(&output, 0);
    let stored = read_json(&store.join("stored"));
    assert_eq!(stored["ServerURL"], server.addr);
    assert_eq!(stored["Username"], "carol");
    assert_eq!(stored["Secret"], "pw-in-helper");
    let saved = read_json(&config);
    assert!(
        saved.get("auths").is_none(),
        "no secret in the file: {saved}"
    );

    let mut logout = home.gantry(["logout", &server.addr]);
    logout.env("PATH", &path).env("FAKE_STORE", &store);
    let output = logout.output().unwrap();
    assert_exit(&output, 0);
    assert_eq!(
        std::fs::read_to_string(store.join("erased")).unwrap(),
        server.addr
    );
}

#[test]
fn credentials_are_checked_against_a_registry_that_demands_them() {
    let registry = Distribution::start("alice", "right-password");
    let home = Home::new();
    let config = home.docker_config().join("config.json");

    let output = run_with_stdin(
        &home,
        &["login", &registry.addr, "-u", "alice", "--password-stdin"],
        "wrong-password\n",
        &[],
    );
    assert_exit(&output, 4);
    assert!(stderr(&output).contains("login to"), "{}", stderr(&output));
    assert!(stderr(&output).contains("hint: the registry refused the credentials"));
    assert!(!config.exists(), "nothing is saved after a refusal");

    let pusher = Client::new(
        ClientConfig::default()
            .with_credential_sources(CredentialSources::None)
            .with_credential(&registry.addr, Credential::basic("alice", "right-password")),
    )
    .unwrap();
    push_image_with(
        &pusher,
        &registry.addr,
        "team/app",
        "1.0",
        "linux/amd64",
        &[b"a"],
    );
    let repository = format!("{}/team/app", registry.addr);

    // Anonymous, then wrong --creds: refused.
    assert_exit(&home.run(["tags", &repository]), 4);
    assert_exit(&home.run(["tags", "--creds", "alice:nope", &repository]), 4);
    // Right --creds: listed.
    let output = home.run(["tags", "--creds", "alice:right-password", &repository]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "1.0\n");

    let output = run_with_stdin(
        &home,
        &["login", &registry.addr, "-u", "alice", "--password-stdin"],
        "right-password\n",
        &[],
    );
    assert_exit(&output, 0);
    // What login saved is what the next command uses.
    let output = home.run(["tags", &repository]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "1.0\n");
}

#[test]
fn login_without_a_password_on_no_terminal_is_a_usage_error() {
    let home = Home::new();
    let output = home.run(["login", "127.0.0.1:1", "-u", "alice"]);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("--password-stdin"),
        "{}",
        stderr(&output)
    );
}
