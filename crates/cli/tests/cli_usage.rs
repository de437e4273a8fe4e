//! What users meet before any image moves: `--help` for every command, completion scripts,
//! and the message and exit code of each kind of mistake or failure.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use support::{Home, Server, assert_exit, stderr, stdout};

/// Every command of `gantry`.
const COMMANDS: &[&str] = &[
    "serve",
    "copy",
    "sync",
    "inspect",
    "tags",
    "catalog",
    "digest",
    "manifest",
    "blob",
    "delete",
    "login",
    "logout",
    "completions",
];

#[test]
fn every_command_has_help() {
    let home = Home::new();
    let output = home.run(["--help"]);
    assert_exit(&output, 0);
    let top = stdout(&output);
    for command in COMMANDS {
        assert!(
            top.contains(&format!("  {command} ")),
            "{command} missing from:\n{top}"
        );
        let output = home.run([command, "--help"]);
        assert_exit(&output, 0);
        let help = stdout(&output);
        assert!(help.contains(&format!("Usage: gantry {command}")), "{help}");
        assert!(
            help.contains("--tls-verify"),
            "global options are listed: {help}"
        );
    }
}

#[test]
fn completions_are_written_for_every_shell() {
    let home = Home::new();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef gantry"),
        ("fish", "complete -c gantry"),
        ("elvish", "edit:completion:arg-completer[gantry]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let output = home.run(["completions", shell]);
        assert_exit(&output, 0);
        let script = stdout(&output);
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        assert!(
            script.contains("inspect"),
            "{shell}: the commands are completed"
        );
    }
    assert_exit(&home.run(["completions", "tcsh"]), 2);
}

#[test]
fn mistakes_in_what_was_typed_exit_with_2() {
    let home = Home::new();
    let cases: &[(&[&str], &str)] = &[
        (&["inspect", "Not A/Reference"], "invalid image reference"),
        (
            &["digest", "localhost:5000/a/b:bad tag"],
            "invalid image reference",
        ),
        (&["blob", "localhost:5000/a:1"], "names no blob"),
        (&["catalog", "localhost:5000/team"], "invalid registry"),
        (&["tags", "oci:/tmp/layout:v1"], "reads registries only"),
        (
            &["inspect", "--platform", "linux/", "localhost:5000/a"],
            "invalid platform",
        ),
        (
            &["--log-level", "=[", "tags", "localhost:5000/a"],
            "invalid log filter",
        ),
        (
            &["--creds", "alice", "tags", "localhost:5000/a"],
            "--creds has no password",
        ),
        (
            &[
                "copy",
                "--src-creds",
                "a:b",
                "oci:/tmp/l:v1",
                "localhost:5000/a:1",
            ],
            "--src-creds applies to a registry",
        ),
        (
            &["copy", "localhost:5000/a:1", "nowhere:/x"],
            "invalid image reference",
        ),
        (&["tags"], "required"),
        (&["inspect", "--no-such-flag", "x"], "unexpected argument"),
    ];
    for (args, message) in cases {
        let output = home.run(*args);
        assert_exit(&output, 2);
        assert!(
            stderr(&output).contains(message),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn storage_that_cannot_be_used_is_refused_before_serving() {
    let home = Home::new();
    let typed: &[(&[&str], u8, &str)] = &[
        (&["serve", "--storage", "s3://"], 2, "the bucket is missing"),
        (
            &["serve", "--storage", "s3:///prefix"],
            2,
            "the bucket is missing",
        ),
        (
            &["serve", "--storage", "s3://bucket?region=x"],
            2,
            "no query",
        ),
        (
            &["serve", "--s3-endpoint", "http://127.0.0.1:1"],
            2,
            "--s3-endpoint needs --storage s3://",
        ),
        (
            &["serve", "--root", "/tmp/a", "--storage", "/tmp/b"],
            2,
            "cannot be used with",
        ),
        (
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--storage",
                "s3://bucket",
                "--s3-endpoint",
                "localhost:8333",
            ],
            1,
            "[storage.s3] endpoint = \"localhost:8333\" must start with http:// or https://",
        ),
    ];
    for (args, code, message) in typed {
        let output = home.run(*args);
        assert_exit(&output, i32::from(*code));
        assert!(
            stderr(&output).contains(message),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn an_unreachable_registry_is_a_network_failure() {
    let home = Home::new();
    let output = home.run(["tags", "127.0.0.1:1/team/app"]);
    assert_exit(&output, 5);
    let said = stderr(&output);
    assert!(said.starts_with("error: "), "{said}");
    assert!(
        said.contains("hint: the registry could not be reached"),
        "{said}"
    );
}

#[test]
fn what_is_not_there_exits_with_3() {
    let server = Server::start(false);
    let home = Home::new();
    for args in [
        vec!["inspect".to_owned(), format!("{}/missing:1", server.addr)],
        vec!["digest".to_owned(), format!("{}/missing:1", server.addr)],
        vec!["tags".to_owned(), format!("{}/missing", server.addr)],
    ] {
        let output = home.run(&args);
        assert_exit(&output, 3);
        assert!(
            stderr(&output).contains("hint: check the repository name"),
            "{}",
            stderr(&output)
        );
    }
}

/// A registry that answers every request with 429, for at most `connections` connections.
fn rate_limited_registry(connections: usize) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            // Read the head (bounded), then answer and close.
            for _ in 0..64 {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
                if request.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let body = r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n\
                 Retry-After: 90\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

#[test]
fn rate_limiting_that_outlasts_the_retries_says_to_wait() {
    let home = Home::new();
    let addr = rate_limited_registry(32);
    let output = home.run(["tags", "--retry-times", "0", &format!("{addr}/team/app")]);
    assert_exit(&output, 5);
    let said = stderr(&output);
    assert!(said.contains("429"), "{said}");
    assert!(
        said.contains("hint: the registry is rate-limiting requests"),
        "{said}"
    );
    assert!(said.contains("it asks to wait 1 min 30 s"), "{said}");
}
