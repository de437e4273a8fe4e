//! `cargo xtask bench [subject…]`: Gantry's benchmarks run beside their peers in the same run,
//! with the figures written into `docs/benchmarks.md` between each subject's markers.

mod copy;
mod s3;
mod server;

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::project_root;
use crate::shell::{cmd, exec, read};

const SUBJECTS: &[&str] = &["digest", "reference", "server", "copy", "s3"];

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let chosen: Vec<&str> = if args.is_empty() {
        SUBJECTS.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    for subject in chosen {
        let section = match subject {
            "digest" => digest()?,
            "reference" => reference()?,
            "server" => server::section()?,
            "copy" => copy::section()?,
            "s3" => s3::section()?,
            other => bail!("no benchmark `{other}`; there are: {}", SUBJECTS.join(", ")),
        };
        println!("{section}");
        write_section(subject, &section)?;
    }
    Ok(())
}

/// SHA-256 and SHA-512 through `Digester` against `openssl speed -evp` on 1 MiB blocks.
fn digest() -> anyhow::Result<String> {
    exec(&mut cmd(
        "cargo",
        &["bench", "-p", "gantry-reference", "--bench", "digest"],
    ))?;
    let mut rows = String::new();
    for algorithm in ["sha256", "sha512"] {
        let ours = 1_048_576.0 / (criterion_mean_ns("digest", algorithm)? * 1e-9) / 1e6;
        let openssl = openssl_speed(algorithm)?;
        rows.push_str(&format!(
            "| {algorithm} | {ours:.0} | {openssl:.0} | {:.2} |\n",
            ours / openssl
        ));
    }
    Ok(format!(
        "Measured on {cpu}, {cores} cores, in one run of `cargo xtask bench digest`.\n\n\
         | algorithm | gantry `Digester`, MB/s | `openssl speed -evp`, MB/s | ratio |\n\
         |---|---|---|---|\n{rows}",
        cpu = cpu_model(),
        cores = std::thread::available_parallelism().map_or(1, usize::from),
    ))
}

/// References parsed per second over the mix in `crates/reference/benches/reference.rs`.
fn reference() -> anyhow::Result<String> {
    exec(&mut cmd(
        "cargo",
        &["bench", "-p", "gantry-reference", "--bench", "reference"],
    ))?;
    const MIX_LEN: f64 = 12.0;
    let mut rows = String::new();
    for function in ["parse", "parse_normalized"] {
        let per_second = MIX_LEN / (criterion_mean_ns("reference", function)? * 1e-9);
        rows.push_str(&format!(
            "| `Reference::{function}` | {:.2} million |\n",
            per_second / 1e6
        ));
    }
    Ok(format!(
        "Measured on {cpu} in one run of `cargo xtask bench reference`, over a mix of twelve \
         references (Docker Hub short names, registries with ports, ECR and GAR hosts, digests).\n\n\
         | parser | references per second (one core) |\n|---|---|\n{rows}",
        cpu = cpu_model(),
    ))
}

/// The mean time of one criterion benchmark iteration, in nanoseconds.
fn criterion_mean_ns(group: &str, function: &str) -> anyhow::Result<f64> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"));
    let path = target.join(format!("criterion/{group}/{function}/new/estimates.json"));
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let estimates: serde_json::Value = serde_json::from_str(&text)?;
    estimates["mean"]["point_estimate"]
        .as_f64()
        .with_context(|| format!("no mean in {}", path.display()))
}

/// OpenSSL's throughput for `algorithm` on 1 MiB blocks, in MB/s.
fn openssl_speed(algorithm: &str) -> anyhow::Result<f64> {
    let output = read(&mut cmd(
        "openssl",
        &[
            "speed", "-evp", algorithm, "-bytes", "1048576", "-seconds", "3",
        ],
    ))?;
    // The last line is "<algorithm>  <N>k": thousands of bytes per second.
    let figure = output
        .lines()
        .rev()
        .find_map(|line| line.split_whitespace().last()?.strip_suffix('k'))
        .context("no figure in the output of `openssl speed`")?;
    Ok(figure.parse::<f64>()? * 1e3 / 1e6)
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "an unknown CPU".to_owned())
}

/// Replaces the text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`.
fn write_section(subject: &str, section: &str) -> anyhow::Result<()> {
    let path = project_root().join("docs/benchmarks.md");
    let doc = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let (open, close) = (
        format!("<!-- bench:{subject} -->"),
        format!("<!-- /bench:{subject} -->"),
    );
    let (Some(start), Some(end)) = (doc.find(&open), doc.find(&close)) else {
        bail!("docs/benchmarks.md has no `{open}` … `{close}` markers");
    };
    let updated = format!("{}{open}\n{section}{}", &doc[..start], &doc[end..]);
    fs::write(&path, updated)?;
    Ok(())
}

/// The one-minute load average, to show how busy the machine was around a run.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Runs `cargo xtask bench <subject>` from an optimised build of xtask, for benchmarks whose
/// own work must not be the slow part. That run prints the section as its only standard output
/// (and writes it too).
fn in_release(subject: &str) -> anyhow::Result<String> {
    let output = read(&mut cmd(
        "cargo",
        &[
            "run",
            "--release",
            "--quiet",
            "-p",
            "xtask",
            "--",
            "bench",
            subject,
        ],
    ))?;
    Ok(output.trim_end().to_owned() + "\n")
}
