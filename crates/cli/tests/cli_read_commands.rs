//! The registry read commands against a `gantry serve`: `inspect`, `tags`, `catalog`,
//! `digest`, `manifest`, `blob` and `delete`, in their text and `--json` forms.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use gantry_reference::{Algorithm, Digest};
use serde_json::Value;
use support::{Home, Server, assert_exit, push_image, push_index, stderr, stdout};

fn json(output: &std::process::Output) -> Value {
    assert_exit(output, 0);
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

#[test]
fn tags_and_catalog_list_what_was_pushed() {
    let server = Server::start(false);
    let home = Home::new();
    push_image(&server.addr, "team/app", "1.0", "linux/amd64", &[b"a"]);
    push_image(&server.addr, "team/app", "2.0", "linux/amd64", &[b"b"]);
    push_image(&server.addr, "other", "latest", "linux/amd64", &[b"c"]);

    let repository = format!("{}/team/app", server.addr);
    let output = home.run(["tags", &repository]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "1.0\n2.0\n");

    let listing = json(&home.run(["tags", "--json", &repository]));
    assert_eq!(listing["name"], repository);
    assert_eq!(listing["tags"], serde_json::json!(["1.0", "2.0"]));

    let output = home.run(["catalog", &server.addr]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "other\nteam/app\n");
    let catalog = json(&home.run(["--json", "catalog", &server.addr]));
    assert_eq!(
        catalog["repositories"],
        serde_json::json!(["other", "team/app"])
    );
}

#[test]
fn digest_and_manifest_give_the_registry_s_bytes() {
    let server = Server::start(false);
    let home = Home::new();
    let image = push_image(&server.addr, "team/app", "1.0", "linux/amd64", &[b"layer"]);

    let output = home.run(["digest", &image.reference]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), format!("{}\n", image.manifest.digest()));

    let described = json(&home.run(["digest", "--json", &image.reference]));
    assert_eq!(described["digest"], image.manifest.digest().to_string());
    assert_eq!(described["size"], image.manifest.size());
    assert_eq!(described["mediaType"], image.manifest.media_type());

    let output = home.run(["manifest", &format!("docker://{}", image.reference)]);
    assert_exit(&output, 0);
    assert_eq!(output.stdout, image.manifest.bytes().as_ref());
}

#[test]
fn inspect_summarises_an_image_and_its_config() {
    let server = Server::start(false);
    let home = Home::new();
    let image = push_image(
        &server.addr,
        "team/app",
        "1.0",
        "linux/arm64/v8",
        &[b"one", b"two!"],
    );

    let output = home.run(["inspect", &image.reference]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    for expected in [
        format!("Digest:       {}", image.manifest.digest()),
        "Platform:     linux/arm64/v8".to_owned(),
        "Created:      2026-01-02T03:04:05Z".to_owned(),
        "Cmd:          /bin/app --serve".to_owned(),
        "Label:        team=gantry".to_owned(),
        "Layers:       2 (7 B)".to_owned(),
        format!("  {}", image.layers[1].0),
    ] {
        assert!(text.contains(&expected), "no {expected:?} in:\n{text}");
    }

    let summary = json(&home.run(["inspect", "--json", &image.reference]));
    assert_eq!(summary["digest"], image.manifest.digest().to_string());
    assert_eq!(summary["platform"], "linux/arm64/v8");
    assert_eq!(summary["layers"].as_array().unwrap().len(), 2);
    assert_eq!(
        summary["layers"][0]["digest"],
        image.layers[0].0.to_string()
    );
    assert_eq!(summary["totalLayerSize"], 7);
    assert_eq!(summary["labels"]["team"], "gantry");

    let raw = home.run(["inspect", "--raw", &image.reference]);
    assert_exit(&raw, 0);
    assert_eq!(raw.stdout, image.manifest.bytes().as_ref());

    let config = home.run(["inspect", "--config", &image.reference]);
    assert_exit(&config, 0);
    assert_eq!(config.stdout, image.config);
}

#[test]
fn inspect_lists_an_index_s_platforms_and_picks_one() {
    let server = Server::start(false);
    let home = Home::new();
    let amd = push_image(&server.addr, "multi", "amd", "linux/amd64", &[b"x86"]);
    let arm = push_image(&server.addr, "multi", "arm", "linux/arm64", &[b"arm"]);
    let index = push_index(
        &server.addr,
        "multi",
        "1",
        &[("linux/amd64", &amd), ("linux/arm64", &arm)],
    );
    let reference = format!("{}/multi:1", server.addr);

    let output = home.run(["inspect", &reference]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.contains("Platforms:    2"), "{text}");
    assert!(
        text.contains(&format!("linux/arm64/v8    {}", arm.manifest.digest())),
        "{text}"
    );

    let summary = json(&home.run(["inspect", "--json", &reference]));
    assert_eq!(summary["digest"], index.digest().to_string());
    assert_eq!(summary["manifests"][1]["platform"]["architecture"], "arm64");

    let picked = json(&home.run(["inspect", "--json", "--platform", "linux/arm64", &reference]));
    assert_eq!(picked["digest"], arm.manifest.digest().to_string());
    assert_eq!(picked["index"], index.digest().to_string());

    let manifest = home.run(["manifest", "--platform", "linux/amd64", &reference]);
    assert_exit(&manifest, 0);
    assert_eq!(manifest.stdout, amd.manifest.bytes().as_ref());

    let missing = home.run(["inspect", "--platform", "windows/amd64", &reference]);
    assert_exit(&missing, 1);
    assert!(
        stderr(&missing).contains("no image for windows/amd64"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn blob_streams_to_stdout_and_to_a_file_verified() {
    let server = Server::start(false);
    let home = Home::new();
    let big: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let image = push_image(&server.addr, "team/app", "1.0", "linux/amd64", &[&big]);
    let (digest, bytes) = &image.layers[0];
    let blob = format!("{}/team/app@{digest}", server.addr);

    let output = home.run(["blob", &blob]);
    assert_exit(&output, 0);
    assert_eq!(Digest::of(Algorithm::Sha256, &output.stdout), *digest);
    assert_eq!(output.stdout.len(), bytes.len());

    let file = home.path().join("out").join("layer.bin");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let output = home.run([
        "blob".as_ref(),
        blob.as_ref(),
        "-o".as_ref(),
        file.as_os_str(),
    ]);
    assert_exit(&output, 0);
    let written = std::fs::read(&file).unwrap();
    assert_eq!(Digest::of(Algorithm::Sha256, &written), *digest);
    let leftovers: Vec<_> = std::fs::read_dir(file.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "only the blob remains");

    let unknown = format!("{}/team/app@sha256:{}", server.addr, "0".repeat(64));
    let output = home.run([
        "blob".as_ref(),
        unknown.as_ref(),
        "-o".as_ref(),
        file.with_extension("x").as_os_str(),
    ]);
    assert_exit(&output, 3);
    assert!(!file.with_extension("x").exists());
}

#[test]
fn delete_removes_the_manifest_by_its_digest() {
    let server = Server::start(true);
    let home = Home::new();
    let image = push_image(&server.addr, "team/app", "1.0", "linux/amd64", &[b"a"]);
    let kept = push_image(&server.addr, "team/app", "2.0", "linux/amd64", &[b"b"]);

    let output = home.run(["delete", &image.reference]);
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        format!(
            "deleted {}/team/app@{}\n",
            server.addr,
            image.manifest.digest()
        )
    );
    let gone = home.run(["digest", &image.reference]);
    assert_exit(&gone, 3);

    let by_digest = format!("{}/team/app@{}", server.addr, kept.manifest.digest());
    let deleted = json(&home.run(["delete", "--json", &by_digest]));
    assert_eq!(deleted["digest"], kept.manifest.digest().to_string());
    assert_exit(&home.run(["digest", &by_digest]), 3);
}

#[test]
fn delete_refused_by_the_server_is_reported() {
    let server = Server::start(false);
    let home = Home::new();
    let image = push_image(&server.addr, "team/app", "1.0", "linux/amd64", &[b"a"]);
    let output = home.run(["delete", &image.reference]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).starts_with("error: "),
        "{}",
        stderr(&output)
    );
    assert_exit(&home.run(["digest", &image.reference]), 0);
}

#[test]
fn inspect_finds_a_platform_in_a_nested_index_as_copy_does() {
    let server = Server::start(false);
    let home = Home::new();
    let amd = push_image(&server.addr, "nested", "amd", "linux/amd64", &[b"x86"]);
    let arm = push_image(&server.addr, "nested", "arm", "linux/arm64", &[b"arm"]);
    let inner = push_index(&server.addr, "nested", "inner", &[("linux/arm64", &arm)]);
    let outer = gantry_spec::ImageIndex::builder()
        .manifest(
            amd.manifest
                .descriptor()
                .with_platform(gantry_spec::Platform::parse("linux/amd64").unwrap()),
        )
        .manifest(inner.descriptor())
        .build()
        .unwrap();
    let reference = format!("{}/nested:1", server.addr);
    support::block_on(support::client().put_manifest(
        &gantry_reference::Reference::parse(&reference).unwrap(),
        &outer,
    ))
    .unwrap();

    let picked = json(&home.run(["inspect", "--json", "--platform", "linux/arm64", &reference]));
    assert_eq!(picked["digest"], arm.manifest.digest().to_string());
    assert_eq!(picked["index"], outer.digest().to_string());
    let manifest = home.run(["manifest", "--platform", "linux/arm64", &reference]);
    assert_exit(&manifest, 0);
    assert_eq!(manifest.stdout, arm.manifest.bytes().as_ref());

    let layout = format!("oci:{}:arm", home.path().join("copied").display());
    let copy = home.run([
        "copy",
        "--quiet",
        "--platform",
        "linux/arm64",
        &reference,
        &layout,
    ]);
    assert_exit(&copy, 0);
    let copied = home.run(["digest", &layout]);
    assert_exit(&copied, 0);
    assert_eq!(stdout(&copied).trim(), picked["digest"].as_str().unwrap());
}
