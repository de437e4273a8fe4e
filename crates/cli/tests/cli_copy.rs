//! `gantry copy` and `gantry sync` between two `gantry serve`s: the image arrives with its
//! digest, `--progress=json` reports every event as a JSON line, and a tag expression picks
//! what a sync copies.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use serde_json::Value;
use support::{Home, Server, assert_exit, push_image, stderr, stdout};

#[test]
fn copy_between_registries_reports_progress_as_json_lines() {
    let from = Server::start(false);
    let to = Server::start(false);
    let home = Home::new();
    let image = push_image(
        &from.addr,
        "team/app",
        "1.0",
        "linux/amd64",
        &[b"first", b"second"],
    );
    let destination = format!("docker://{}/mirror/app:copied", to.addr);

    let output = home.run(["copy", "--progress=json", &image.reference, &destination]);
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains(&image.manifest.digest().to_string()),
        "{}",
        stdout(&output)
    );
    let events: Vec<Value> = stderr(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    for (digest, _) in &image.layers {
        let done = events
            .iter()
            .any(|event| event["event"] == "done" && event["digest"] == digest.to_string());
        assert!(done, "no done event for {digest}: {events:?}");
    }
    let written = events.iter().any(|event| {
        event["event"] == "manifest_written"
            && event["digest"] == image.manifest.digest().to_string()
    });
    assert!(written, "{events:?}");

    let output = home.run(["digest", &format!("{}/mirror/app:copied", to.addr)]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), format!("{}\n", image.manifest.digest()));

    // Again: everything is there already, and --json says so.
    let output = home.run(["copy", "--quiet", "--json", &image.reference, &destination]);
    assert_exit(&output, 0);
    assert_eq!(stderr(&output), "", "--quiet shows no progress");
    let copied: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(copied["digest"], image.manifest.digest().to_string());
    assert_eq!(copied["blobsTransferred"], 0);
}

#[test]
fn copy_reports_plain_lines_when_not_on_a_terminal() {
    let from = Server::start(false);
    let to = Server::start(false);
    let home = Home::new();
    let image = push_image(&from.addr, "team/app", "1.0", "linux/amd64", &[b"layer"]);
    let output = home.run([
        "copy",
        &image.reference,
        &format!("{}/team/app:1.0", to.addr),
    ]);
    assert_exit(&output, 0);
    let said = stderr(&output);
    let short = &image.layers[0].0.encoded()[..12];
    assert!(
        said.contains(&format!("blob {short} (5 B): copied")),
        "{said}"
    );
    assert!(said.contains("manifest sha256:"), "{said}");
}

#[test]
fn copy_from_a_missing_image_exits_with_3() {
    let from = Server::start(false);
    let to = Server::start(false);
    let home = Home::new();
    let output = home.run([
        "copy",
        &format!("{}/nothing:here", from.addr),
        &format!("{}/nothing:here", to.addr),
    ]);
    assert_exit(&output, 3);
}

#[test]
fn sync_copies_the_tags_the_expression_matches() {
    let from = Server::start(false);
    let to = Server::start(false);
    let home = Home::new();
    for (tag, layer) in [("1.0", b"a"), ("1.1", b"b"), ("2.0", b"c"), ("11", b"d")] {
        push_image(&from.addr, "team/app", tag, "linux/amd64", &[layer]);
    }
    let source = format!("{}/team/app", from.addr);
    let destination = format!("{}/mirror/app", to.addr);

    let output = home.run([
        "sync",
        "--tags",
        r"1\..*",
        "--jobs",
        "2",
        &source,
        &destination,
    ]);
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("copied 1.0: sha256:"),
        "{}",
        stdout(&output)
    );
    let listed = home.run(["tags", &destination]);
    assert_exit(&listed, 0);
    assert_eq!(stdout(&listed), "1.0\n1.1\n", "the whole tag must match");

    let output = home.run(["sync", "--json", "--quiet", &source, &destination]);
    assert_exit(&output, 0);
    let synced: Value = serde_json::from_slice(&output.stdout).unwrap();
    let tags: Vec<&str> = synced["copied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| tag["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["1.0", "1.1", "11", "2.0"]);
    let listed = home.run(["tags", &destination]);
    assert_eq!(stdout(&listed), "1.0\n1.1\n11\n2.0\n");

    let output = home.run(["sync", "--tags", "(", &source, &destination]);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("invalid --tags expression"),
        "{}",
        stderr(&output)
    );
}
