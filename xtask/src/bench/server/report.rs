//! The markdown section `cargo xtask bench server` writes into `docs/benchmarks.md`: the
//! figures of both servers side by side, with their ratio and the target each should meet.

use std::fmt::Write as _;

use super::load::Load;
use super::{CATALOG_RUNS, MEASURE, WARM_UP};
use crate::bench::cpu_model;

/// What one run measured, Gantry's figure first in each pair.
pub(super) struct Figures {
    pub(super) load_before: String,
    pub(super) load_after: String,
    pub(super) up_whole: [f64; 2],
    pub(super) up_chunked: [f64; 2],
    pub(super) down: [f64; 2],
    /// The rows of the small-request table, from [`load_rows`].
    pub(super) load_rows: String,
    pub(super) push: [f64; 2],
    pub(super) catalog_ms: [f64; 2],
    pub(super) idle: [f64; 2],
    /// `(VmRSS, VmHWM)` of each after the load.
    pub(super) after: [(f64, f64); 2],
}

/// The small-request table's rows for `what` at `concurrency`: Gantry's figures `g` beside
/// Distribution's `d`, requests per second to be at least `ratio` times Distribution's and, at
/// concurrency 64, the p99 latency below `p99_at_64_ms` when given.
pub(in crate::bench) fn load_rows(
    what: &str,
    concurrency: usize,
    [g, d]: [&Load; 2],
    ratio: f64,
    p99_at_64_ms: Option<f64>,
) -> String {
    let mut rows = String::new();
    rows.push_str(&row(
        &format!("{what}, concurrency {concurrency}: requests/s"),
        [g.per_second, d.per_second],
        0,
        &format!("≥ {ratio}x"),
        Some(g.per_second >= ratio * d.per_second),
    ));
    rows.push_str(&row(
        &format!("{what}, concurrency {concurrency}: p50 latency, ms"),
        [g.p50_ms, d.p50_ms],
        2,
        "",
        None,
    ));
    let (target, met) = match p99_at_64_ms {
        Some(bound) if concurrency == 64 => (format!("< {bound} ms"), Some(g.p99_ms < bound)),
        _ => (String::new(), None),
    };
    rows.push_str(&row(
        &format!("{what}, concurrency {concurrency}: p99 latency, ms"),
        [g.p99_ms, d.p99_ms],
        2,
        &target,
        met,
    ));
    rows
}

/// The rows of the 1 GiB uploads, monolithic (`whole`) and chunked, each Gantry's figure to be
/// at least `ratio` times Distribution's.
pub(in crate::bench) fn upload_rows(whole: [f64; 2], chunked: [f64; 2], ratio: f64) -> String {
    let target = format!("≥ {ratio}x");
    row(
        "upload, monolithic (POST, PUT ?digest= streaming 1 GiB): MB/s",
        whole,
        0,
        &target,
        Some(whole[0] >= ratio * whole[1]),
    ) + &row(
        "upload, chunked (64 PATCHes of 16 MiB with Content-Range, PUT): MB/s",
        chunked,
        0,
        &target,
        Some(chunked[0] >= ratio * chunked[1]),
    )
}

/// The section for `docs/benchmarks.md`.
pub(super) fn section(f: &Figures) -> anyhow::Result<String> {
    let mut out = String::new();
    writeln!(
        out,
        "Measured on {cpu}, {cores} cores shared by the servers and the load generator, in one \
         run of `cargo xtask bench server` (load average {load_before} before, {load_after} \
         after). Gantry is `gantry serve` from `cargo build --release -p gantry` at log level \
         error; Distribution is Debian's `docker-registry` 2.8.2 with filesystem storage, the \
         in-memory blob descriptor cache of Debian's packaged config, log level error and no \
         access log. Each has a fresh data directory under `target/bench-tmp`, on the disk. \
         Ratios are Gantry's figure over Distribution's.",
        load_before = f.load_before,
        load_after = f.load_after,
        cpu = cpu_model(),
        cores = std::thread::available_parallelism().map_or(1, usize::from),
    )?;
    out.push_str(
        "\nBlob transfer: one 1 GiB blob per upload on one connection (MB/s is 10⁶ bytes/s).\n\n",
    );
    out.push_str(HEADER);
    out.push_str(&upload_rows(f.up_whole, f.up_chunked, 2.5));
    out.push_str(&row(
        "download (GET, body read and dropped): MB/s",
        f.down,
        0,
        "≥ 1.2x",
        Some(f.down[0] >= 1.2 * f.down[1]),
    ));
    writeln!(
        out,
        "\nSmall requests: each worker on its own keep-alive connection, {warm} ms of warm-up \
         then {measure} s measured; latency is per request as the client sees it.\n",
        warm = WARM_UP.as_millis(),
        measure = MEASURE.as_secs(),
    )?;
    out.push_str(HEADER);
    out.push_str(&f.load_rows);
    out.push_str(
        "\nCatalog: 1,000 repositories, each pushed as a config, a layer and an OCI manifest \
         (5,000 requests over 16 connections).\n\n",
    );
    out.push_str(HEADER);
    out.push_str(&row("push the 1,000 repositories: s", f.push, 2, "", None));
    out.push_str(&row(
        &format!("GET /v2/_catalog?n=1000, median of {CATALOG_RUNS}: ms"),
        f.catalog_ms,
        2,
        "≤ 0.2x",
        Some(f.catalog_ms[0] <= 0.2 * f.catalog_ms[1]),
    ));
    out.push_str("\nMemory, from /proc/PID/status (MiB).\n\n");
    out.push_str(HEADER);
    let rss_after = [f.after[0].0, f.after[1].0];
    let peak = [f.after[0].1, f.after[1].1];
    out.push_str(&row(
        "VmRSS idle, before any request",
        f.idle,
        1,
        "≤ 0.5x",
        Some(f.idle[0] <= 0.5 * f.idle[1]),
    ));
    out.push_str(&row(
        "VmRSS just after the load",
        rss_after,
        1,
        "≤ 0.5x",
        Some(rss_after[0] <= 0.5 * rss_after[1]),
    ));
    out.push_str(&row(
        "VmHWM, the peak over the run",
        peak,
        1,
        "≤ 0.5x",
        Some(peak[0] <= 0.5 * peak[1]),
    ));
    Ok(out)
}

pub(in crate::bench) const HEADER: &str = "| metric | Gantry | Distribution 2.8.2 | ratio | target | met? |\n\
                      |---|---|---|---|---|---|\n";

pub(in crate::bench) fn row(
    metric: &str,
    [g, d]: [f64; 2],
    decimals: usize,
    target: &str,
    met: Option<bool>,
) -> String {
    let ratio = if d > 0.0 {
        format!("{:.2}x", g / d)
    } else {
        "—".to_owned()
    };
    let target = if target.is_empty() { "—" } else { target };
    let met = match met {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "—",
    };
    format!("| {metric} | {g:.decimals$} | {d:.decimals$} | {ratio} | {target} | {met} |\n")
}
