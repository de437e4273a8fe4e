//! `gantry copy` from a registry into an OCI layout, killed half-way through a large layer and
//! run again: the second run continues from the verified prefix the layout kept, so the bytes
//! already downloaded are not fetched again. The registry (`gantry serve` in process) sits
//! behind a throttling TCP proxy on 127.0.0.1 that counts the bytes it sends.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gantry_client::{Client, ClientConfig, CredentialSources, UploadMode};
use gantry_reference::{Digest, Reference};
use gantry_spec::{Descriptor, ImageConfig, ImageManifest, Platform, media_type, validate};
use gantry_test_support::gantry::gantry_binary;
use gantry_test_support::in_process::InProcessGantry;
use gantry_test_support::layout::noise;
use gantry_test_support::process::{Guard, run_bounded};
use gantry_transfer::ImageSource;
use gantry_transfer::layout::OciLayoutSource;

const MIB: usize = 1024 * 1024;
/// The layer: large enough that the layout saves its progress several times (every 4 MiB).
const LAYER: usize = 24 * MIB;
/// What the proxy lets through per second.
const RATE: u64 = 6 * MIB as u64;

/// A TCP proxy that forwards to `upstream`, sending the answers at `RATE` and counting them.
struct Throttle {
    addr: SocketAddr,
    sent: Arc<AtomicU64>,
}

impl Throttle {
    fn start(upstream: SocketAddr) -> Throttle {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let sent = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&sent);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let (mut client_in, mut server_out) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut client_in, &mut server_out);
                    let _ = server_out.shutdown(std::net::Shutdown::Write);
                });
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || throttled(server, client, &counter));
            }
        });
        Throttle { addr, sent }
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

fn throttled(mut from: TcpStream, mut to: TcpStream, counter: &AtomicU64) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
        counter.fetch_add(n as u64, Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs_f64(n as f64 / RATE as f64));
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// Starts `gantry serve` in process on `runtime`; it stops when dropped.
fn start_registry(runtime: &tokio::runtime::Runtime, root: &Path) -> InProcessGantry {
    runtime.block_on(InProcessGantry::start_at(root, |_| {}))
}

/// Pushes a one-layer image tagged `v1`; returns its manifest digest and the layer's digest.
fn push_image(runtime: &tokio::runtime::Runtime, host: SocketAddr) -> (Digest, Digest) {
    let mut config = ClientConfig::default();
    config.credential_sources = CredentialSources::None;
    let client = Client::new(config).unwrap();
    let repository = Reference::parse(format!("{host}/big/app")).unwrap();
    let layer_bytes = Bytes::from(noise(7, LAYER));
    let layer = Descriptor::of(media_type::OCI_LAYER_TAR, &layer_bytes);
    let mut image_config = ImageConfig::new(&Platform::parse("linux/amd64").unwrap());
    image_config.rootfs.diff_ids.push(layer.digest.clone());
    let image_config = image_config.to_json().unwrap();
    let config_descriptor = Descriptor::of(media_type::OCI_IMAGE_CONFIG, &image_config);
    let manifest = ImageManifest::builder(config_descriptor.clone())
        .layer(layer.clone())
        .build()
        .unwrap();
    runtime.block_on(async {
        client
            .push_blob(
                &repository,
                &layer.digest,
                UploadMode::monolithic(layer_bytes),
            )
            .await
            .unwrap();
        client
            .push_blob(
                &repository,
                &config_descriptor.digest,
                UploadMode::monolithic(Bytes::from(image_config)),
            )
            .await
            .unwrap();
        client
            .put_manifest(&repository.with_tag("v1").unwrap(), &manifest)
            .await
            .unwrap();
    });
    (manifest.digest().clone(), layer.digest)
}

/// `gantry copy SOURCE DESTINATION` with a clean environment.
fn gantry_copy(home: &Path, source: &str, destination: &str) -> Command {
    let mut command = Command::new(gantry_binary());
    command
        .args(["copy", source, destination])
        .env_clear()
        .env("HOME", home)
        .stdin(Stdio::null());
    command
}

/// The size of the layer's partial file in the layout's ingest area, if there is one.
fn kept(layout: &Path, layer: &Digest) -> u64 {
    let data = layout.join(".gantry-ingest").join(format!(
        "{}-{}.data",
        layer.algorithm(),
        layer.encoded()
    ));
    std::fs::metadata(data).map_or(0, |m| m.len())
}

#[test]
fn a_pull_killed_half_way_resumes_without_fetching_again() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = start_registry(&runtime, &dir.path().join("registry"));
    let registry = server.addr();
    let (manifest_digest, layer) = push_image(&runtime, registry);
    let proxy = Throttle::start(registry);
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let layout = dir.path().join("layout");
    let source = format!("docker://{}/big/app:v1", proxy.addr);
    let destination = format!("oci:{}:v1", layout.display());

    // The first run, killed once the layout holds half the layer (it has saved its progress
    // at 8 MiB by then at least).
    let child = gantry_copy(&home, &source, &destination)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = Guard::new("gantry copy", child);
    let deadline = Instant::now() + Duration::from_secs(120);
    while kept(&layout, &layer) < (LAYER / 2) as u64 {
        first.assert_running("before the test could kill it");
        assert!(Instant::now() < deadline, "the first run made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    first.stop();
    let first_run = proxy.sent();
    assert!(
        first_run < LAYER as u64,
        "killed before the end: {first_run} bytes"
    );

    // The second run fetches what the layout did not keep, not the whole layer.
    let output = run_bounded(
        &mut gantry_copy(&home, &source, &destination),
        Duration::from_secs(300),
    );
    assert!(
        output.status.success(),
        "the second run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let second_run = proxy.sent() - first_run;
    eprintln!(
        "first run {first_run} bytes, killed; second run {second_run} bytes; layer {LAYER} bytes"
    );
    assert!(
        second_run + 4 * MIB as u64 <= LAYER as u64,
        "the second run fetched {second_run} bytes of a {LAYER}-byte layer"
    );
    assert!(first_run + second_run <= LAYER as u64 * 3 / 2);

    // The layout holds the image, whole and valid.
    runtime.block_on(async {
        let source = OciLayoutSource::open(&layout, Some("v1".to_owned()))
            .await
            .unwrap();
        let top = source.manifest(None).await.unwrap();
        assert_eq!(*top.digest(), manifest_digest);
        let mut content = std::collections::HashMap::new();
        content.insert(top.digest().clone(), top.bytes().clone());
        for descriptor in top.config().into_iter().chain(top.layers()) {
            let mut stream = source.blob(descriptor, 0).await.unwrap();
            let mut bytes = Vec::new();
            while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
                bytes.extend_from_slice(&chunk.unwrap());
            }
            content.insert(descriptor.digest.clone(), Bytes::from(bytes));
        }
        validate::image(&content, &top.descriptor()).unwrap();
    });
}
