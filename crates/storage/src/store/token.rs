//! Upload state tokens: an HMAC-SHA256 over the repository, the upload id and its start time,
//! so any server that shares the storage and the secret can continue any upload, and no client
//! can point its token at another repository's session.
//!
//! A token reads `<start time in Unix seconds>.<hex MAC>`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gantry_reference::RepositoryName;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], name: &RepositoryName, id: &str, started: u64) -> HmacSha256 {
    // HMAC takes keys of any length.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
    for part in [
        b"gantry-upload-v1".as_slice(),
        name.as_str().as_bytes(),
        id.as_bytes(),
        started.to_string().as_bytes(),
    ] {
        // Length-prefixed, so no two different triples sign the same bytes.
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Signs a token for the upload `id` of `name`, started at `started_at`.
pub(crate) fn sign(
    secret: &[u8],
    name: &RepositoryName,
    id: &str,
    started_at: SystemTime,
) -> String {
    let started = unix_seconds(started_at);
    let tag = mac(secret, name, id, started).finalize().into_bytes();
    format!("{started}.{}", base16ct::lower::encode_string(&tag))
}

/// The start time a token signs, when it was signed with `secret` for `name` and `id`. The
/// MAC is compared in constant time.
pub(crate) fn verify(
    secret: &[u8],
    name: &RepositoryName,
    id: &str,
    token: &str,
) -> Option<SystemTime> {
    let (started, hex) = token.split_once('.')?;
    if started.is_empty() || !started.bytes().all(|b| b.is_ascii_digit()) || hex.len() != 64 {
        return None;
    }
    let started: u64 = started.parse().ok()?;
    let mut tag = [0u8; 32];
    base16ct::mixed::decode(hex, &mut tag).ok()?;
    mac(secret, name, id, started).verify_slice(&tag).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(started))
}
