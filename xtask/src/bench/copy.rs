//! `cargo xtask bench copy`: `gantry copy` beside `skopeo copy` (containers/image), on the same
//! synthetic image and the same local registries, in one run.
//!
//! The image is an OCI layout made by this run: a config and 8 layers of 64 MiB (512 MiB in
//! all) of incompressible bytes. `gantry serve` registries from the release build listen on
//! loopback with data directories on the machine's disk (under `target/bench-tmp`). Each tool
//! copies it three ways: pushed from the layout to a registry, pulled from a source registry to
//! a new layout, and copied from the source registry to another. Every push and copy goes to a
//! new registry of its own, so nothing is skipped or mounted; each is timed as a whole process, with
//! its peak RSS from `/usr/bin/time`, and the median of [`RUNS`] runs is reported, the two
//! tools taking turns. The registries and the layouts are removed at the end, on error too.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use gantry_reference::{Algorithm, Digest, Digester};
use gantry_test_support::gantry::Gantry;
use gantry_test_support::skopeo::BINARY as SKOPEO;

use super::load_average;
use crate::project_root;
use crate::shell::{cmd, exec, read};

const TIME: &str = "/usr/bin/time";
const LAYERS: usize = 8;
const LAYER_SIZE: usize = 64 << 20;
/// Runs per tool and scenario; the median is reported.
const RUNS: usize = 3;
const REF: &str = "bench";

/// Runs the benchmark and returns the markdown section for `docs/benchmarks.md`.
pub(crate) fn section() -> anyhow::Result<String> {
    if cfg!(debug_assertions) {
        // Making and hashing 512 MiB is quick only when optimised.
        return super::in_release("copy");
    }
    ensure!(
        Path::new(SKOPEO).exists(),
        "{SKOPEO} is missing: install Debian's skopeo package"
    );
    ensure!(
        Path::new(TIME).exists(),
        "{TIME} is missing: install Debian's time package"
    );
    exec(&mut cmd("cargo", &["build", "--release", "-p", "gantry"]))?;
    let work = Scratch::new()?;
    let load_before = load_average();
    eprintln!("xtask bench copy: writing the image ({LAYERS} layers of {LAYER_SIZE} bytes)");
    let image = work.path.join("image");
    write_image(&image)?;
    let source = format!("oci:{}:{REF}", image.display());
    // The source registry of pulls and copies; every push and copy goes to a registry of its
    // own, so that no blob can be mounted from an earlier run (skopeo remembers where it saw
    // each blob and mounts it from there when it can).
    let source_registry = Registry::start(&work.path.join("source"))?;
    let seed = format!("docker://{}/seed/image:{REF}", source_registry.addr);
    Tool::Gantry.copy(&source, &seed, &work.path)?;

    let mut rows = String::new();
    let total_mb = (LAYERS * LAYER_SIZE) as f64 / 1e6;
    for scenario in Scenario::ALL {
        let mut figures = [Vec::new(), Vec::new()];
        for run in 0..RUNS {
            // The tools take turns, starting with each in turn.
            let order = if run % 2 == 0 {
                [Tool::Gantry, Tool::Skopeo]
            } else {
                [Tool::Skopeo, Tool::Gantry]
            };
            for tool in order {
                let label = format!("{}-{run}", tool.name());
                let destination_root = work.path.join(format!("destination-{label}"));
                let destination = match scenario {
                    Scenario::Pull => None,
                    Scenario::Push | Scenario::RegistryToRegistry => {
                        Some(Registry::start(&destination_root)?)
                    }
                };
                let destination_addr = destination.as_ref().map_or("", |r| r.addr.as_str());
                let (from, to) = match scenario {
                    Scenario::Push => (
                        source.clone(),
                        format!("docker://{destination_addr}/push/{label}:{REF}"),
                    ),
                    Scenario::Pull => (
                        seed.clone(),
                        format!(
                            "oci:{}:{REF}",
                            work.path.join(format!("pull-{label}")).display()
                        ),
                    ),
                    Scenario::RegistryToRegistry => (
                        seed.clone(),
                        format!("docker://{destination_addr}/copy/{label}:{REF}"),
                    ),
                };
                eprintln!(
                    "xtask bench copy: {} {}: {from} -> {to}",
                    tool.name(),
                    scenario.name()
                );
                let figure = tool.copy(&from, &to, &work.path)?;
                figures[tool as usize].push(figure);
                let _ = fs::remove_dir_all(work.path.join(format!("pull-{label}")));
                drop(destination);
                let _ = fs::remove_dir_all(&destination_root);
            }
        }
        let [gantry, skopeo] = figures.map(|runs| median(&runs));
        let speedup = skopeo.seconds / gantry.seconds;
        let faster = speedup >= 2.0;
        let leaner = gantry.peak_rss_mib < skopeo.peak_rss_mib;
        let _ = writeln!(
            rows,
            "| {} | {:.2} ({:.0} MB/s) | {:.2} ({:.0} MB/s) | {speedup:.2}x | {} | {:.1} | {:.1} | {} |",
            scenario.name(),
            gantry.seconds,
            total_mb / gantry.seconds,
            skopeo.seconds,
            total_mb / skopeo.seconds,
            if faster { "yes" } else { "**no**" },
            gantry.peak_rss_mib,
            skopeo.peak_rss_mib,
            if leaner { "yes" } else { "**no**" },
        );
    }
    let load_after = load_average();
    drop(source_registry);
    Ok(format!(
        "Measured on {cpu}, {cores} cores shared by the registries and the copying tool, in one \
         run of `cargo xtask bench copy` (load average {load_before} before, {load_after} \
         after). Gantry is `gantry copy` from `cargo build --release -p gantry`; skopeo is \
         Debian's {skopeo}. The image: a config and {LAYERS} layers of {layer_mib} MiB of \
         incompressible bytes, {total_mib} MiB in all, as an OCI layout on the disk. The \
         registries are `gantry serve` (release build) on loopback, with data directories on \
         the disk; every push and copy goes to a new registry, so that no blob is skipped or \
         mounted. Each figure is the median of {RUNS} runs of the whole process, into a \
         destination holding none of the blobs; peak RSS is the process's maximum resident \
         set from `/usr/bin/time`. Speedup is skopeo's time over Gantry's (target ≥ 2x), with \
         Gantry's peak RSS below skopeo's.\n\n\
         | copy | Gantry: s | skopeo: s | speedup | ≥ 2x? | Gantry peak RSS, MiB | skopeo peak RSS, MiB | below? |\n\
         |---|---|---|---|---|---|---|---|\n{rows}",
        cpu = super::cpu_model(),
        cores = std::thread::available_parallelism().map_or(1, usize::from),
        skopeo = skopeo_version(),
        layer_mib = LAYER_SIZE >> 20,
        total_mib = (LAYERS * LAYER_SIZE) >> 20,
    ))
}

#[derive(Debug, Clone, Copy)]
enum Scenario {
    Push,
    Pull,
    RegistryToRegistry,
}

impl Scenario {
    const ALL: [Scenario; 3] = [Scenario::Push, Scenario::Pull, Scenario::RegistryToRegistry];

    fn name(self) -> &'static str {
        match self {
            Scenario::Push => "push, `oci:` layout to registry",
            Scenario::Pull => "pull, registry to `oci:` layout",
            Scenario::RegistryToRegistry => "registry to another registry",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Tool {
    Gantry = 0,
    Skopeo = 1,
}

/// One timed copy.
#[derive(Debug, Clone, Copy)]
struct Figure {
    seconds: f64,
    peak_rss_mib: f64,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Gantry => "gantry",
            Tool::Skopeo => "skopeo",
        }
    }

    /// Copies `from` to `to` in a new process, timed, with its peak RSS.
    fn copy(self, from: &str, to: &str, scratch: &Path) -> anyhow::Result<Figure> {
        let rss_file = scratch.join("peak-rss");
        let mut command = Command::new(TIME);
        command.arg("-f").arg("%M").arg("-o").arg(&rss_file);
        match self {
            Tool::Gantry => {
                command
                    .arg(gantry_binary())
                    .args(["copy", "--quiet", from, to]);
            }
            Tool::Skopeo => {
                command.args([
                    SKOPEO,
                    "--insecure-policy",
                    "copy",
                    "--quiet",
                    "--src-tls-verify=false",
                    "--dest-tls-verify=false",
                    from,
                    to,
                ]);
            }
        }
        command.stdin(Stdio::null()).stdout(Stdio::null());
        let started = Instant::now();
        let status = command
            .status()
            .with_context(|| format!("could not run {} copy", self.name()))?;
        let seconds = started.elapsed().as_secs_f64();
        if !status.success() {
            bail!("{} copy {from} {to} failed: {status}", self.name());
        }
        let kib: f64 = fs::read_to_string(&rss_file)?
            .lines()
            .last()
            .context("no figure from /usr/bin/time")?
            .trim()
            .parse()
            .context("peak RSS from /usr/bin/time")?;
        Ok(Figure {
            seconds,
            peak_rss_mib: kib / 1024.0,
        })
    }
}

fn median(figures: &[Figure]) -> Figure {
    let pick = |key: fn(&Figure) -> f64| {
        let mut values: Vec<f64> = figures.iter().map(key).collect();
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
    };
    Figure {
        seconds: pick(|f| f.seconds),
        peak_rss_mib: pick(|f| f.peak_rss_mib),
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"))
}

fn gantry_binary() -> PathBuf {
    target_dir().join("release/gantry")
}

/// The run's working directory, removed when dropped.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn new() -> anyhow::Result<Scratch> {
        let path = target_dir()
            .join("bench-tmp")
            .join(format!("copy-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Scratch { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A `gantry serve` on loopback (the test kit's), killed when dropped.
struct Registry {
    _gantry: Gantry,
    addr: String,
}

impl Registry {
    fn start(root: &Path) -> anyhow::Result<Registry> {
        let mut command = Command::new(gantry_binary());
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--log-level", "error"])
            .arg("--root")
            .arg(root);
        let gantry =
            Gantry::spawn(command, Stdio::inherit()).context("could not start gantry serve")?;
        Ok(Registry {
            addr: gantry.addr().to_string(),
            _gantry: gantry,
        })
    }
}

/// Writes the image as an OCI layout at `dir`, tagged [`REF`].
fn write_image(dir: &Path) -> anyhow::Result<()> {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs)?;
    let mut layers = Vec::new();
    for index in 0..LAYERS {
        layers.push(write_layer(&blobs, index as u64 + 1)?);
    }
    let diff_ids: Vec<String> = layers.iter().map(|(d, _)| format!("\"{d}\"")).collect();
    let config = format!(
        "{{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{{}},\
         \"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{}]}}}}",
        diff_ids.join(",")
    );
    let config_digest = write_blob(&blobs, config.as_bytes())?;
    let layer_descriptors: Vec<String> = layers
        .iter()
        .map(|(digest, size)| {
            format!(
                "{{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\
                 \"digest\":\"{digest}\",\"size\":{size}}}"
            )
        })
        .collect();
    let manifest = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\
         \"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\
         \"digest\":\"{config_digest}\",\"size\":{}}},\"layers\":[{}]}}",
        config.len(),
        layer_descriptors.join(",")
    );
    let manifest_digest = write_blob(&blobs, manifest.as_bytes())?;
    let index = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\
         \"manifests\":[{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\
         \"digest\":\"{manifest_digest}\",\"size\":{},\
         \"annotations\":{{\"org.opencontainers.image.ref.name\":\"{REF}\"}}}}]}}",
        manifest.len()
    );
    fs::write(dir.join("index.json"), index)?;
    fs::write(dir.join("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}")?;
    Ok(())
}

/// Writes one layer of incompressible bytes from `seed`, a block at a time.
fn write_layer(blobs: &Path, seed: u64) -> anyhow::Result<(Digest, u64)> {
    const BLOCK: usize = 1 << 20;
    let temp = blobs.join(format!("layer-{seed}.tmp"));
    let mut file = std::io::BufWriter::new(fs::File::create(&temp)?);
    let mut digester = Digester::new(Algorithm::Sha256);
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut block = vec![0u8; BLOCK];
    for _ in 0..LAYER_SIZE / BLOCK {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        digester.update(&block);
        file.write_all(&block)?;
    }
    file.flush()?;
    drop(file);
    let digest = digester.finish();
    fs::rename(&temp, blobs.join(digest.encoded()))?;
    Ok((digest, LAYER_SIZE as u64))
}

fn write_blob(blobs: &Path, content: &[u8]) -> anyhow::Result<Digest> {
    let digest = Digest::of(Algorithm::Sha256, content);
    fs::write(blobs.join(digest.encoded()), content)?;
    Ok(digest)
}

fn skopeo_version() -> String {
    read(Command::new(SKOPEO).arg("--version"))
        .map(|version| version.trim().to_owned())
        .unwrap_or_else(|_| "skopeo".to_owned())
}
