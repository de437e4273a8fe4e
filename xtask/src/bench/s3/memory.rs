//! The memory check: a fresh `gantry serve` on a fresh `weed mini` (the run's store is full of
//! 1 GiB blobs by then), straight on the store, takes
//! a [`MEMORY_BLOB`] push (POST, then one PUT `?digest=` streaming it) and serves it back; its
//! peak resident set (`VmHWM`) against its idle one (`VmRSS` before the first request).

use std::time::Duration;

use anyhow::Context;
use gantry_test_support::seaweed::{S3Server, SeaweedMini};

use super::peers::start_gantry;
use super::{MEMORY_BLOB, MEMORY_BOUND_MIB};
use crate::bench::server::conn::BigBlob;
use crate::bench::server::load::{download, upload_monolithic};

/// What the memory check measured.
pub(super) struct Memory {
    /// `VmRSS` before the first request, MiB.
    pub(super) idle_mib: f64,
    /// `VmHWM` after the push, MiB.
    pub(super) push_peak_mib: f64,
    /// `VmHWM` after the push and the pull, MiB.
    pub(super) peak_mib: f64,
    pub(super) push_mb_s: f64,
    pub(super) pull_mb_s: f64,
}

impl Memory {
    /// How far the peak went above the idle resident set, MiB.
    pub(super) fn above_mib(&self) -> f64 {
        self.peak_mib - self.idle_mib
    }

    /// Whether that stays within [`MEMORY_BOUND_MIB`].
    pub(super) fn met(&self) -> bool {
        self.above_mib() <= MEMORY_BOUND_MIB
    }
}

/// Runs the check on a store of its own; prints a `FAIL` line when the bound is exceeded.
pub(super) async fn check() -> anyhow::Result<Memory> {
    eprintln!(
        "xtask bench s3: memory check: making a {} GiB blob and its digest",
        MEMORY_BLOB >> 30
    );
    let blob = BigBlob::sized(0x5e3d_0004, MEMORY_BLOB);
    eprintln!("xtask bench s3: memory check: starting weed mini");
    let store = SeaweedMini::start();
    let mut service = store.service().clone();
    service.bucket = "gantry-memory".to_owned();
    service
        .create_bucket(&service.bucket)
        .context("creating the memory check's bucket")?;
    let server = start_gantry("Gantry, memory check", &service, false)?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_mib = server.memory()?.0;
    eprintln!("xtask bench s3: memory check: push");
    let push_mb_s = upload_monolithic(&server, &blob)
        .await
        .context("memory check: pushing the blob")?;
    let push_peak_mib = server.memory()?.1;
    eprintln!("xtask bench s3: memory check: pull");
    let pull_mb_s = download(&server, &blob)
        .await
        .context("memory check: pulling the blob")?;
    let memory = Memory {
        idle_mib,
        push_peak_mib,
        peak_mib: server.memory()?.1,
        push_mb_s,
        pull_mb_s,
    };
    eprintln!(
        "xtask bench s3: memory check: idle {idle_mib:.1} MiB, peak {push_peak_mib:.1} MiB after \
         the push and {:.1} MiB after the pull, {:.1} MiB above (bound {MEMORY_BOUND_MIB} MiB); \
         push {push_mb_s:.0} MB/s, pull {pull_mb_s:.0} MB/s",
        memory.peak_mib,
        memory.above_mib(),
    );
    if !memory.met() {
        eprintln!(
            "xtask bench s3: FAIL: a {} GiB push and pull took Gantry's resident set {:.1} MiB \
             above its idle baseline, over the {MEMORY_BOUND_MIB} MiB bound",
            MEMORY_BLOB >> 30,
            memory.above_mib()
        );
    }
    Ok(memory)
}
