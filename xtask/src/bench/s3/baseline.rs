//! What the store allows without a registry: the 1 GiB blob written straight to SeaweedFS as a
//! multipart upload (8 MiB parts, 4 in flight, as Gantry's driver does by default), copied to
//! another key with one `CopyObject` (what a commit that moves the upload does) and read back.

use anyhow::Context;
use futures_util::StreamExt;
use gantry_test_support::seaweed::{S3Server, SeaweedMini};
use object_store::path::Path;
use object_store::{ObjectStoreExt, WriteMultipart};

use super::cpu::{Clock, Spent};
use crate::bench::server::conn::BigBlob;

const PART: usize = 8 << 20;
const IN_FLIGHT: usize = 4;

/// The wall and CPU time of each step on the 1 GiB blob.
pub(super) struct Baseline {
    pub(super) put: Spent,
    pub(super) copy: Spent,
    pub(super) get: Spent,
}

/// Runs the three steps on a new bucket of `store`.
pub(super) async fn measure(store: &SeaweedMini, blob: &BigBlob) -> anyhow::Result<Baseline> {
    eprintln!("xtask bench s3: the store alone: PUT, CopyObject and GET of the 1 GiB blob");
    let bucket = "baseline";
    store
        .service()
        .create_bucket(bucket)
        .context("creating the baseline's bucket")?;
    let client = store.service().store(bucket);
    let clock = || Clock::start(std::process::id(), store.pids());

    let started = clock()?;
    let mut upload = WriteMultipart::new_with_chunk_size(
        client.put_multipart(&Path::from("upload")).await?,
        PART,
    );
    let mut left = blob.size;
    while left > 0 {
        let len = left.min(blob.block.len() as u64);
        upload.wait_for_capacity(IN_FLIGHT).await?;
        upload.put(blob.block.slice(..usize::try_from(len)?));
        left -= len;
    }
    upload.finish().await?;
    let put = started.stop()?;

    let started = clock()?;
    client
        .copy(&Path::from("upload"), &Path::from("blob"))
        .await?;
    let copy = started.stop()?;

    let started = clock()?;
    let mut stream = client.get(&Path::from("blob")).await?.into_stream();
    let mut read = 0u64;
    while let Some(chunk) = stream.next().await {
        read += chunk?.len() as u64;
    }
    let get = started.stop()?;
    anyhow::ensure!(read == blob.size, "GET read {read} bytes");
    // Space for what follows.
    for key in ["upload", "blob"] {
        client.delete(&Path::from(key)).await?;
    }
    eprintln!("xtask bench s3: the store alone: {put:?}, {copy:?}, {get:?}");
    Ok(Baseline { put, copy, get })
}
