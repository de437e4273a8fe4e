//! What the command line's tests share: the `gantry` binary run as a user runs it, a
//! `gantry serve` on a loopback port that dies with the test, and test images pushed with
//! `gantry-client`.

#![allow(dead_code, reason = "each test file uses part of the support")]

pub(crate) mod distribution;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use bytes::Bytes;
use gantry_client::{Client, ClientConfig, UploadMode};
use gantry_reference::{Digest, Reference};
use gantry_spec::{
    Descriptor, ImageConfig, ImageIndex, ImageManifest, Manifest, Platform, media_type,
};
use gantry_test_support::gantry::Gantry;
use tempfile::TempDir;

/// The binary under test.
pub(crate) const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

/// A `gantry serve` on 127.0.0.1 with a port of its own, over a temporary root: the test kit's
/// spawned server, killed when dropped.
pub(crate) struct Server {
    _gantry: Gantry,
    /// `127.0.0.1:PORT`.
    pub(crate) addr: String,
    _root: TempDir,
}

impl Server {
    /// Starts a server; `allow_delete` passes `--allow-delete`.
    pub(crate) fn start(allow_delete: bool) -> Server {
        Server::start_with(allow_delete, &[])
    }

    /// [`start`](Server::start) with `env` (such as `GANTRY_TLS_CERTIFICATE`).
    pub(crate) fn start_with(allow_delete: bool, env: &[(&str, &Path)]) -> Server {
        let root = tempfile::tempdir().unwrap();
        let mut command = Command::new(GANTRY);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--root"])
            .arg(root.path().join("data"))
            .env_remove("GANTRY_LOG_LEVEL");
        if allow_delete {
            command.arg("--allow-delete");
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let gantry = Gantry::start_command(command, root.path());
        Server {
            addr: gantry.addr().to_string(),
            _gantry: gantry,
            _root: root,
        }
    }
}

/// A home directory of the test's own, so that no credential file of the machine is read.
pub(crate) struct Home {
    dir: TempDir,
}

impl Home {
    /// An empty home.
    pub(crate) fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where `DOCKER_CONFIG` points.
    pub(crate) fn docker_config(&self) -> PathBuf {
        self.dir.path().join("docker")
    }

    /// `gantry ARGS` with this home, no inherited credential or log settings.
    pub(crate) fn gantry<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new(GANTRY);
        command
            .args(args)
            .env("HOME", self.dir.path())
            .env("DOCKER_CONFIG", self.docker_config())
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        command
    }

    /// Runs `gantry ARGS` to completion.
    pub(crate) fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.gantry(args).output().unwrap()
    }
}

/// Standard output as text.
pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text.
pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts that `output` exited with `code`, showing what it said otherwise.
pub(crate) fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
}

/// An image pushed for a test.
pub(crate) struct Pushed {
    /// `ADDR/REPOSITORY:TAG`.
    pub(crate) reference: String,
    /// The manifest.
    pub(crate) manifest: Manifest,
    /// The config blob's bytes.
    pub(crate) config: Vec<u8>,
    /// Each layer's digest and bytes.
    pub(crate) layers: Vec<(Digest, Vec<u8>)>,
}

/// Runs `future` on a runtime of its own.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// A client with no credentials.
pub(crate) fn client() -> Client {
    Client::new(
        ClientConfig::default().with_credential_sources(gantry_client::CredentialSources::None),
    )
    .unwrap()
}

/// Pushes an image for `platform` with `layers` to `ADDR/REPOSITORY:TAG`.
pub(crate) fn push_image(
    addr: &str,
    repository: &str,
    tag: &str,
    platform: &str,
    layers: &[&[u8]],
) -> Pushed {
    push_image_with(&client(), addr, repository, tag, platform, layers)
}

/// [`push_image`] with `client`.
pub(crate) fn push_image_with(
    client: &Client,
    addr: &str,
    repository: &str,
    tag: &str,
    platform: &str,
    layers: &[&[u8]],
) -> Pushed {
    let reference = format!("{addr}/{repository}:{tag}");
    let parsed = Reference::parse(&reference).unwrap();
    let mut config = ImageConfig::new(&Platform::parse(platform).unwrap());
    config.created = Some("2026-01-02T03:04:05Z".to_owned());
    config.config = Some(gantry_spec::ContainerConfig {
        cmd: Some(vec!["/bin/app".to_owned(), "--serve".to_owned()]),
        labels: [("team".to_owned(), "gantry".to_owned())].into(),
        ..Default::default()
    });
    let config_bytes = config.to_json().unwrap();
    let config_descriptor = Descriptor::of(media_type::OCI_IMAGE_CONFIG, &config_bytes);
    let mut builder = ImageManifest::builder(config_descriptor.clone());
    let mut pushed_layers = Vec::new();
    for layer in layers {
        let descriptor = Descriptor::of(media_type::OCI_LAYER_TAR_GZIP, layer);
        pushed_layers.push((descriptor.digest.clone(), layer.to_vec()));
        builder = builder.layer(descriptor);
    }
    let manifest = builder.build().unwrap();
    block_on(async {
        client
            .push_blob(
                &parsed,
                &config_descriptor.digest,
                UploadMode::monolithic(Bytes::from(config_bytes.clone())),
            )
            .await
            .unwrap();
        for (digest, bytes) in &pushed_layers {
            client
                .push_blob(
                    &parsed,
                    digest,
                    UploadMode::monolithic(Bytes::from(bytes.clone())),
                )
                .await
                .unwrap();
        }
        client.put_manifest(&parsed, &manifest).await.unwrap();
    });
    Pushed {
        reference,
        manifest,
        config: config_bytes,
        layers: pushed_layers,
    }
}

/// Pushes an index of `images` (already pushed in the same repository) to `ADDR/REPOSITORY:TAG`.
pub(crate) fn push_index(
    addr: &str,
    repository: &str,
    tag: &str,
    images: &[(&str, &Pushed)],
) -> Manifest {
    let reference = Reference::parse(format!("{addr}/{repository}:{tag}")).unwrap();
    let mut builder = ImageIndex::builder();
    for (platform, image) in images {
        builder = builder.manifest(
            image
                .manifest
                .descriptor()
                .with_platform(Platform::parse(platform).unwrap()),
        );
    }
    let index = builder.build().unwrap();
    block_on(client().put_manifest(&reference, &index)).unwrap();
    index
}

/// An image written by hand as an OCI image layout at `dir`, named `ref_name` in its
/// `index.json`.
pub(crate) struct Layout {
    /// The image manifest.
    pub(crate) manifest: Manifest,
    /// The config blob's bytes.
    pub(crate) config: Vec<u8>,
    /// Each layer's digest.
    pub(crate) layers: Vec<Digest>,
}

/// Writes a one-image OCI layout for linux/amd64 with `layers` at `dir`.
pub(crate) fn write_layout(dir: &Path, ref_name: &str, layers: &[&[u8]]) -> Layout {
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let write_blob = |bytes: &[u8]| {
        let digest = Digest::of(gantry_reference::Algorithm::Sha256, bytes);
        std::fs::write(blobs.join(digest.encoded()), bytes).unwrap();
        digest
    };
    let config = ImageConfig::new(&Platform::new("linux", "amd64"))
        .to_json()
        .unwrap();
    write_blob(&config);
    let mut builder = ImageManifest::builder(Descriptor::of(media_type::OCI_IMAGE_CONFIG, &config));
    let mut digests = Vec::new();
    for layer in layers {
        digests.push(write_blob(layer));
        builder = builder.layer(Descriptor::of(media_type::OCI_LAYER_TAR_GZIP, layer));
    }
    let manifest = builder.build().unwrap();
    write_blob(manifest.bytes());
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let entry = manifest
        .descriptor()
        .with_annotation("org.opencontainers.image.ref.name", ref_name);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [entry]});
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    Layout {
        manifest,
        config,
        layers: digests,
    }
}
