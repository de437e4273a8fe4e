//! The copy engine between an in-memory source and destination with faults on demand: source
//! streams cut and resumed from the bytes delivered, destination failures resumed from its
//! resume offset, a copy killed half-way and started again by a new copier, parallel ranges in
//! bounded memory, and destinations that cannot hold an index.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod copy_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use copy_support::memory::{MemoryDestination, MemorySource};
use copy_support::{Image, Kind, content, index, quick_retries, recorder};
use gantry_spec::validate;
use gantry_transfer::copy::{Copier, CopyOptions, PlatformSelection, RangedFetch, RetryOptions};
use gantry_transfer::{ProgressEvent, TransferError};

fn one_layer(len: usize) -> Image {
    Image::new(Kind::Oci, "linux/amd64", &[content(1, len)])
}

fn source_of(image: &Image) -> MemorySource {
    MemorySource::new(&image.manifest, &[], &image.blobs)
}

fn validate_destination(destination: &MemoryDestination) {
    let top = destination.committed.lock().unwrap().clone().unwrap();
    validate::image(&destination.content(), &top.descriptor()).unwrap();
}

#[tokio::test]
async fn a_cut_source_resumes_from_the_bytes_delivered() {
    let image = one_layer(1_000_000);
    let mut source = source_of(&image);
    source.cut_after = 300_000;
    source.cut_digest = Some(image.blobs[1].0.digest.clone());
    source.cuts.store(3, Ordering::SeqCst);
    let destination = MemoryDestination::new();
    let (sink, events) = recorder();
    let options = CopyOptions::new()
        .with_retry(quick_retries())
        .with_progress(sink);
    let report = Copier::new()
        .copy(&source, &destination, &options)
        .await
        .unwrap();

    let layer = &image.blobs[1].0;
    let opens: Vec<u64> = source
        .opened
        .lock()
        .unwrap()
        .iter()
        .filter(|(d, ..)| *d == layer.digest)
        .map(|(_, start, _)| *start)
        .collect();
    assert_eq!(opens, [0, 300_000, 600_000, 900_000]);
    assert_eq!(
        destination.offsets.lock().unwrap().len(),
        2,
        "one put per blob: the destination never saw the cuts"
    );
    assert_eq!(report.retries, 3);
    let retried: Vec<u64> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Retrying { offset, .. } => Some(*offset),
            _ => None,
        })
        .collect();
    assert_eq!(retried, [300_000, 600_000, 900_000]);
    validate_destination(&destination);
}

#[tokio::test]
async fn a_failed_destination_resumes_from_its_offset() {
    let image = one_layer(1_000_000);
    let source = source_of(&image);
    let mut destination = MemoryDestination::new();
    destination.fail_after = 400_000;
    destination.failures.store(2, Ordering::SeqCst);
    let options = CopyOptions::new().with_retry(quick_retries());
    Copier::new()
        .copy(&source, &destination, &options)
        .await
        .unwrap();

    let offsets = destination.offsets.lock().unwrap().clone();
    // The config, then the layer from 0, from what the first failure kept, and the second.
    assert_eq!(offsets.len(), 4, "{offsets:?}");
    assert!(
        offsets[2] >= 400_000 && offsets[3] >= 800_000,
        "{offsets:?}"
    );
    let layer = &image.blobs[1].0.digest;
    let opens: Vec<u64> = source
        .opened
        .lock()
        .unwrap()
        .iter()
        .filter(|(d, ..)| d == layer)
        .map(|(_, start, _)| *start)
        .collect();
    assert_eq!(
        opens,
        offsets[1..],
        "the source is read from where the destination stands"
    );
    validate_destination(&destination);
}

#[tokio::test]
async fn attempts_without_progress_are_bounded() {
    let image = one_layer(100_000);
    let mut source = source_of(&image);
    source.cut_after = 0;
    source.cut_digest = Some(image.blobs[1].0.digest.clone());
    source.cuts.store(100, Ordering::SeqCst);
    let destination = MemoryDestination::new();
    let options = CopyOptions::new().with_retry(RetryOptions::new(
        3,
        Duration::from_millis(1),
        Duration::from_millis(5),
    ));
    let error = Copier::new()
        .copy(&source, &destination, &options)
        .await
        .unwrap_err();
    assert!(
        error.is_retryable(),
        "the last failure is reported: {error}"
    );
    let layer = &image.blobs[1].0.digest;
    let opens = source
        .opened
        .lock()
        .unwrap()
        .iter()
        .filter(|(d, ..)| d == layer)
        .count();
    assert_eq!(opens, 3);
    assert!(destination.committed.lock().unwrap().is_none());
}

#[tokio::test]
async fn a_copy_killed_half_way_resumes_in_a_new_copier() {
    let image = one_layer(2_000_000);
    let mut source = source_of(&image);
    // The first run dies after 1.2 MB of the layer: every attempt is cut at once after that.
    source.cut_after = 1_200_000;
    source.cut_digest = Some(image.blobs[1].0.digest.clone());
    source.cuts.store(1, Ordering::SeqCst);
    let destination = MemoryDestination::new();
    let first = CopyOptions::new().with_retry(RetryOptions::new(
        1,
        Duration::from_millis(1),
        Duration::from_millis(1),
    ));
    Copier::new()
        .copy(&source, &destination, &first)
        .await
        .unwrap_err();
    let kept = destination
        .partial
        .lock()
        .unwrap()
        .values()
        .map(Vec::len)
        .max()
        .unwrap();
    assert_eq!(kept, 1_200_000);

    let before = source.served.load(Ordering::SeqCst);
    Copier::new()
        .copy(&source, &destination, &CopyOptions::new())
        .await
        .unwrap();
    let again = source.served.load(Ordering::SeqCst) - before;
    let config = image.blobs[0].0.size;
    assert!(
        (800_000..=800_000 + config).contains(&again),
        "only the missing bytes are read again: {again}"
    );
    let last = source.opened.lock().unwrap().last().cloned().unwrap();
    assert_eq!((last.1, last.2), (1_200_000, 2_000_000));
    validate_destination(&destination);
}

#[tokio::test]
async fn parallel_ranges_stay_within_their_memory() {
    let image = one_layer(3_000_000);
    let mut source = source_of(&image);
    source.ranges = true;
    let mut destination = MemoryDestination::new();
    destination.slow = Some(Duration::from_millis(1));
    destination.watch = Some(std::sync::Arc::clone(&source.served));
    let settings = RangedFetch::new(100_000, 4);
    let options = CopyOptions::new()
        .with_retry(quick_retries())
        .with_ranged(Some(settings));
    Copier::new()
        .copy(&source, &destination, &options)
        .await
        .unwrap();
    let opened = source.opened.lock().unwrap().clone();
    let layer = &image.blobs[1].0;
    let ranges: Vec<(u64, u64)> = opened
        .iter()
        .filter(|(d, ..)| *d == layer.digest)
        .map(|(_, s, e)| (*s, *e))
        .collect();
    assert_eq!(ranges.len(), 30);
    assert!(ranges.iter().all(|(s, e)| e - s == 100_000));
    let open_max = source.open_max.load(Ordering::SeqCst);
    // Four ranges at once, and the config's stream beside them.
    assert!((3..=5).contains(&open_max), "{open_max} streams at once");
    // Bytes requested from the source but not yet taken by the destination never exceed
    // count × chunk size, however slow the destination.
    let ahead = destination.max_ahead.load(Ordering::SeqCst);
    assert!((100_000..=400_000).contains(&ahead), "{ahead} bytes ahead");
    validate_destination(&destination);
}

#[tokio::test]
async fn a_destination_without_indexes_gets_the_chosen_image() {
    let amd = Image::new(Kind::Oci, "linux/amd64", &[content(2, 1_000)]);
    let arm = Image::new(Kind::Oci, "linux/arm64", &[content(3, 1_000)]);
    let top = index(
        Kind::Oci,
        vec![amd.entry("linux/amd64"), arm.entry("linux/arm64")],
    );
    let blobs: Vec<_> = amd.blobs.iter().chain(&arm.blobs).cloned().collect();
    let source = MemorySource::new(&top, &[amd.manifest.clone(), arm.manifest.clone()], &blobs);
    let mut destination = MemoryDestination::new();
    destination.index = false;

    let all = CopyOptions::new().with_platforms(PlatformSelection::All);
    let error = Copier::new()
        .copy(&source, &destination, &all)
        .await
        .unwrap_err();
    assert!(matches!(error, TransferError::Unsupported(_)), "{error}");

    let arm64 = CopyOptions::new().with_platforms(PlatformSelection::parse("linux/arm64").unwrap());
    let report = Copier::new()
        .copy(&source, &destination, &arm64)
        .await
        .unwrap();
    assert_eq!(report.manifest.digest, *arm.manifest.digest());
    assert_eq!(report.blobs.transferred, 2);
    validate_destination(&destination);
}

#[tokio::test]
async fn a_shared_copier_limits_blobs_in_flight() {
    let layers: Vec<Vec<u8>> = (0..12).map(|i| content(40 + i, 200_000)).collect();
    let image = Image::new(Kind::Oci, "linux/amd64", &layers);
    let source = source_of(&image);
    let destination = MemoryDestination::new();
    let copier = Copier::with_limits(3, 16);
    copier
        .copy(&source, &destination, &CopyOptions::new())
        .await
        .unwrap();
    let open_max = source.open_max.load(Ordering::SeqCst);
    assert!((1..=3).contains(&open_max), "{open_max} blobs at once");
    validate_destination(&destination);
}
