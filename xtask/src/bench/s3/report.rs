//! The markdown section `cargo xtask bench s3` writes into `docs/benchmarks.md`: both
//! registries side by side with their ratio and target, the S3 requests of a pushed image by
//! operation, and the memory check.

use std::collections::{BTreeMap, BTreeSet};

use gantry_test_support::s3_relay::S3Op;
use std::fmt::Write as _;

use super::baseline::Baseline;
use super::cpu::Spent;
use super::memory::Memory;
use super::{LAYER_SIZES, MEMORY_BLOB, MEMORY_BOUND_MIB, Ops};
use crate::bench::cpu_model;
use crate::bench::server::report::{HEADER, row, upload_rows};
use crate::bench::server::{MEASURE, WARM_UP};

/// The 1 GiB blob in MB (10⁶ bytes).
const BLOB_MB: f64 = (1u64 << 30) as f64 / 1e6;

/// What one run measured, Gantry's figure first in each pair.
pub(super) struct Figures {
    pub(super) load_before: String,
    pub(super) load_after: String,
    pub(super) up_whole: [f64; 2],
    pub(super) up_chunked: [f64; 2],
    pub(super) down: [f64; 2],
    pub(super) down_redirect: [f64; 2],
    /// The rows of the small-request table.
    pub(super) load_rows: String,
    /// The S3 requests of the first image push (a new repository) and of the second (another
    /// image in the same repository), each Gantry's then Distribution's.
    pub(super) push_ops: [[Ops; 2]; 2],
    /// The S3 requests of the monolithic and of the chunked 1 GiB upload.
    pub(super) upload_ops: Vec<[Ops; 2]>,
    /// The store alone on the 1 GiB blob.
    pub(super) baseline: Baseline,
    /// The CPU time of each transfer, by party.
    pub(super) time: [(&'static str, [Spent; 2]); 4],
    pub(super) idle: [f64; 2],
    /// `(VmRSS, VmHWM)` of each at the end.
    pub(super) after: [(f64, f64); 2],
    pub(super) memory: Memory,
}

/// The section for `docs/benchmarks.md`.
pub(super) fn section(f: &Figures) -> anyhow::Result<String> {
    let mut out = String::new();
    writeln!(
        out,
        "Measured on {cpu}, {cores} cores shared by SeaweedFS, both registries, their S3 relays \
         and the client, in one run of `cargo xtask bench s3` (load average {load_before} \
         before, {load_after} after). One `weed mini` (SeaweedFS 4.48, data in a temporary \
         directory on the disk) holds a bucket for each registry; each reaches it through its \
         own relay, which streams and counts the S3 requests. Gantry is `gantry serve \
         --storage s3://BUCKET/registry --s3-endpoint URL` from `cargo build --release -p \
         gantry` at log level error, with the S3 driver's default part size and concurrency; \
         Distribution is Debian's `docker-registry` 2.8.2 with its `s3` driver (rootdirectory \
         `/registry`, default chunk size), the in-memory blob descriptor cache of Debian's \
         packaged config, log level error and no access log. Ratios are Gantry's figure over \
         Distribution's.",
        load_before = f.load_before,
        load_after = f.load_after,
        cpu = cpu_model(),
        cores = std::thread::available_parallelism().map_or(1, usize::from),
    )?;
    out.push_str(
        "\nBlob transfer: one 1 GiB blob of random data per transfer on one connection (MB/s is \
         10⁶ bytes/s). With redirects on, a second process of each registry serves the same \
         bucket, and the time covers the registry's `307` and the GET of the presigned URL.\n\n",
    );
    out.push_str(HEADER);
    out.push_str(&upload_rows(f.up_whole, f.up_chunked, 2.0));
    out.push_str(&row(
        "download, redirect off (GET through the registry): MB/s",
        f.down,
        0,
        "≥ 1.2x",
        Some(f.down[0] >= 1.2 * f.down[1]),
    ));
    out.push_str(&row(
        "download, redirect on (GET, 307, GET of the presigned URL): MB/s",
        f.down_redirect,
        0,
        "",
        None,
    ));
    out.push_str(
        "\nWhere the time of each transfer goes: CPU seconds of the registry, of SeaweedFS and \
         of the bench process (the client and the S3 relays) while it ran, beside its wall \
         time (two cores: at most twice the wall time in all).\n\n\
         | transfer | registry | wall, s | registry CPU, s | SeaweedFS CPU, s | client and relays CPU, s |\n\
         |---|---|---|---|---|---|\n",
    );
    for (what, spent) in &f.time {
        for (label, s) in ["Gantry", "Distribution"].iter().zip(spent) {
            writeln!(
                out,
                "| {what} | {label} | {:.1} | {:.1} | {:.1} | {:.1} |",
                s.wall, s.registry, s.store, s.bench
            )?;
        }
    }
    let b = &f.baseline;
    let rate = |spent: &Spent| BLOB_MB / spent.wall;
    writeln!(
        out,
        "\nThe store alone, for scale: the same 1 GiB written straight to SeaweedFS by this \
         process as a multipart upload (8 MiB parts, 4 in flight: the driver's defaults), \
         copied to another key with one CopyObject (as a commit that moves the upload does), \
         and read back.\n\n\
         | step | MB/s | wall, s | SeaweedFS CPU, s |\n|---|---|---|---|\n\
         | multipart PUT | {:.0} | {:.1} | {:.1} |\n\
         | CopyObject | {:.0} | {:.1} | {:.1} |\n\
         | PUT, then CopyObject | {:.0} | {:.1} | {:.1} |\n\
         | GET | {:.0} | {:.1} | {:.1} |",
        rate(&b.put),
        b.put.wall,
        b.put.store,
        rate(&b.copy),
        b.copy.wall,
        b.copy.store,
        BLOB_MB / (b.put.wall + b.copy.wall),
        b.put.wall + b.copy.wall,
        b.put.store + b.copy.store,
        rate(&b.get),
        b.get.wall,
        b.get.store,
    )?;
    writeln!(
        out,
        "\nSmall requests on the pushed image: each worker on its own keep-alive connection, \
         {warm} ms of warm-up then {measure} s measured; latency is per request as the client \
         sees it.\n",
        warm = WARM_UP.as_millis(),
        measure = MEASURE.as_secs(),
    )?;
    out.push_str(HEADER);
    out.push_str(&f.load_rows);
    let layers: Vec<String> = LAYER_SIZES
        .iter()
        .map(|size| format!("{} MiB", size >> 20))
        .collect();
    writeln!(
        out,
        "\nS3 requests per pushed image, counted at each registry's relay: a config and three \
         layers ({}) of random data and an OCI manifest tagged `latest`, pushed as `docker push` \
         does (for each blob a HEAD, a POST, one PATCH with the whole blob and a PUT \
         `?digest=`; then the manifest PUT). The first image creates the repository on an empty \
         bucket; the second, with other layers, goes to the same repository and moves the tag.\n",
        layers.join(", ")
    )?;
    out.push_str(&ops_table(&f.push_ops));
    out.push_str(
        "\nFor comparison, the S3 requests of the 1 GiB uploads above (not a target).\n\n\
         | upload | Gantry | Distribution 2.8.2 |\n|---|---|---|\n",
    );
    for (what, ops) in ["monolithic", "chunked"].iter().zip(&f.upload_ops) {
        writeln!(
            out,
            "| 1 GiB, {what} | {} | {} |",
            ops_line(&ops[0]),
            ops_line(&ops[1])
        )?;
    }
    out.push_str("\nMemory of each registry over the run, from /proc/PID/status (MiB).\n\n");
    out.push_str(HEADER);
    out.push_str(&row("VmRSS idle, before any request", f.idle, 1, "", None));
    out.push_str(&row(
        "VmRSS at the end",
        [f.after[0].0, f.after[1].0],
        1,
        "",
        None,
    ));
    out.push_str(&row(
        "VmHWM, the peak over the run",
        [f.after[0].1, f.after[1].1],
        1,
        "",
        None,
    ));
    let m = &f.memory;
    writeln!(
        out,
        "\nMemory check: a fresh Gantry on a bucket of its own (no relay) takes a {gib} GiB blob \
         pushed monolithically ({push:.0} MB/s) and serves it back ({pull:.0} MB/s).\n\n\
         | metric | Gantry | target | met? |\n|---|---|---|---|\n\
         | VmRSS idle, MiB | {idle:.1} | — | — |\n\
         | VmHWM after the push, MiB | {push_peak:.1} | — | — |\n\
         | VmHWM after the push and the pull, MiB | {peak:.1} | — | — |\n\
         | peak above idle, MiB | {above:.1} | ≤ {MEMORY_BOUND_MIB} | {met} |",
        gib = MEMORY_BLOB >> 30,
        push = m.push_mb_s,
        pull = m.pull_mb_s,
        idle = m.idle_mib,
        push_peak = m.push_peak_mib,
        peak = m.peak_mib,
        above = m.above_mib(),
        met = if m.met() { "yes" } else { "**no** (FAIL)" },
    )?;
    Ok(out)
}

/// A table of S3 operations, one row each, of both pushes and both registries, and the totals,
/// Gantry's to be below Distribution's.
fn ops_table(pushes: &[[Ops; 2]; 2]) -> String {
    let mut out = String::from(
        "| S3 operation | Gantry, image 1 | Distribution, image 1 | Gantry, image 2 | \
         Distribution, image 2 |\n|---|---|---|---|---|\n",
    );
    let ops: BTreeSet<_> = pushes.iter().flatten().flat_map(BTreeMap::keys).collect();
    let count = |ops: &Ops, op: &S3Op| ops.get(op).copied().unwrap_or(0);
    for op in ops {
        let counts: Vec<String> = pushes
            .iter()
            .flatten()
            .map(|ops| count(ops, op).to_string())
            .collect();
        out.push_str(&format!("| {op:?} | {} |\n", counts.join(" | ")));
    }
    let totals: Vec<usize> = pushes
        .iter()
        .flatten()
        .map(|ops| ops.values().sum())
        .collect();
    let cells: Vec<String> = totals.iter().map(|t| format!("**{t}**")).collect();
    out.push_str(&format!("| **total** | {} |\n", cells.join(" | ")));
    let met = |gantry: usize, distribution: usize| {
        if gantry < distribution {
            "yes"
        } else {
            "**no**"
        }
    };
    out.push_str(&format!(
        "\nTarget: Gantry's total below Distribution's. Met for image 1: {}; for image 2: {}.\n",
        met(totals[0], totals[1]),
        met(totals[2], totals[3])
    ));
    out
}

/// `Op n, Op n, …; total n`.
fn ops_line(ops: &Ops) -> String {
    let parts: Vec<String> = ops.iter().map(|(op, n)| format!("{op:?} {n}")).collect();
    format!(
        "{}; total {}",
        parts.join(", "),
        ops.values().sum::<usize>()
    )
}
