//! Transport names where the transfer engine reads them: `inspect`, `digest` and `manifest` of
//! an `oci:` layout made in the test, and `copy` from a layout to a registry and back.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use serde_json::Value;
use support::{Home, Server, assert_exit, stderr, stdout, write_layout};

#[test]
fn read_commands_read_an_oci_layout() {
    let home = Home::new();
    let dir = home.path().join("layout");
    let layout = write_layout(&dir, "v1", &[b"layer one"]);
    let name = format!("oci:{}:v1", dir.display());

    let output = home.run(["digest", &name]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), format!("{}\n", layout.manifest.digest()));

    let output = home.run(["manifest", &name]);
    assert_exit(&output, 0);
    assert_eq!(output.stdout, layout.manifest.bytes().as_ref());

    let output = home.run(["inspect", "--json", &name]);
    assert_exit(&output, 0);
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["digest"], layout.manifest.digest().to_string());
    assert_eq!(summary["platform"], "linux/amd64");
    assert_eq!(summary["layers"][0]["digest"], layout.layers[0].to_string());

    let output = home.run(["inspect", "--config", &name]);
    assert_exit(&output, 0);
    assert_eq!(output.stdout, layout.config);

    let missing = home.run(["inspect", &format!("oci:{}:v2", dir.display())]);
    assert_exit(&missing, 3);
}

#[test]
fn a_tampered_config_in_a_layout_is_refused() {
    let home = Home::new();
    let dir = home.path().join("layout");
    let layout = write_layout(&dir, "v1", &[b"layer"]);
    let config_digest = layout.manifest.config().unwrap().digest.clone();
    let path = dir.join("blobs/sha256").join(config_digest.encoded());
    let mut tampered = layout.config.clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 0x20;
    std::fs::write(&path, &tampered).unwrap();

    let output = home.run(["inspect", "--config", &format!("oci:{}:v1", dir.display())]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("does not match its digest"),
        "{}",
        stderr(&output)
    );
    assert_ne!(
        output.stdout, tampered,
        "the tampered bytes are not handed out whole"
    );
}

#[test]
fn copy_from_a_layout_to_a_registry_and_back() {
    let server = Server::start(false);
    let home = Home::new();
    let dir = home.path().join("layout");
    let layout = write_layout(&dir, "v1", &[b"first layer", b"second layer"]);
    let pushed = format!("{}/from/layout:v1", server.addr);

    let output = home.run([
        "copy",
        "--progress=json",
        &format!("oci:{}:v1", dir.display()),
        &format!("docker://{pushed}"),
    ]);
    assert_exit(&output, 0);
    let events: Vec<Value> = stderr(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    let done = events
        .iter()
        .filter(|event| event["event"] == "done")
        .count();
    assert_eq!(done, 3, "two layers and the config: {events:?}");
    let output = home.run(["digest", &pushed]);
    assert_eq!(stdout(&output), format!("{}\n", layout.manifest.digest()));

    let back = home.path().join("back");
    let output = home.run([
        "copy",
        "--quiet",
        &pushed,
        &format!("oci:{}:again", back.display()),
    ]);
    assert_exit(&output, 0);
    let output = home.run(["manifest", &format!("oci:{}:again", back.display())]);
    assert_exit(&output, 0);
    assert_eq!(output.stdout, layout.manifest.bytes().as_ref());
}
