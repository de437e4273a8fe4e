//! One image pushed as `docker push` does: for the config and each layer a `HEAD` of the blob,
//! then, when it is missing, `POST`, one `PATCH` with the whole body and `PUT ?digest=`; then
//! the manifest `PUT` by tag.

use anyhow::ensure;
use gantry_reference::Digest;
use hyper::header::{self, HeaderValue};
use hyper::{Method, StatusCode};

use super::{IMAGE_REPO, LAYER_SIZES};
use crate::bench::server::conn::{BigBlob, Conn, ReqBody, empty, full, location, octet_stream};
use crate::bench::server::load::{separator, sha256, start_upload};
use crate::bench::server::peers::Server;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A config and the layers of [`LAYER_SIZES`], random (not compressible), and its manifest.
pub(super) struct Image {
    config: Vec<u8>,
    layers: Vec<BigBlob>,
    pub(super) manifest: String,
}

impl Image {
    /// An image whose layers are made from `seed`.
    pub(super) fn new(seed: u64) -> Image {
        let config = format!(
            "{{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\
             \"diff_ids\":[]}},\"config\":{{\"Labels\":{{\"seed\":\"{seed}\"}}}}}}"
        )
        .into_bytes();
        let layers: Vec<BigBlob> = LAYER_SIZES
            .iter()
            .zip(seed..)
            .map(|(&size, seed)| BigBlob::sized(seed, size))
            .collect();
        let descriptors: Vec<String> = layers
            .iter()
            .map(|layer| {
                format!(
                    "{{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\
                     \"digest\":\"{}\",\"size\":{}}}",
                    layer.digest, layer.size
                )
            })
            .collect();
        let manifest = format!(
            "{{\"schemaVersion\":2,\"mediaType\":\"{OCI_MANIFEST}\",\"config\":{{\"mediaType\":\
             \"application/vnd.oci.image.config.v1+json\",\"digest\":\"{}\",\"size\":{}}},\
             \"layers\":[{}]}}",
            sha256(&config),
            config.len(),
            descriptors.join(",")
        );
        Image {
            config,
            layers,
            manifest,
        }
    }

    /// The digest of its largest layer.
    pub(super) fn big_layer(&self) -> Option<&Digest> {
        self.layers
            .iter()
            .max_by_key(|layer| layer.size)
            .map(|layer| &layer.digest)
    }
}

/// Pushes `image` to [`IMAGE_REPO`] as `latest` on one connection.
pub(super) async fn push(server: &Server, image: &Image) -> anyhow::Result<()> {
    let mut conn = Conn::open(server.addr).await?;
    let config_digest = sha256(&image.config);
    let config_len = image.config.len() as u64;
    push_blob(
        &mut conn,
        &config_digest,
        config_len,
        full(image.config.clone()),
    )
    .await?;
    for layer in &image.layers {
        push_blob(&mut conn, &layer.digest, layer.size, layer.body(layer.size)).await?;
    }
    let (status, _, body) = conn
        .call(
            Method::PUT,
            &format!("/v2/{IMAGE_REPO}/manifests/latest"),
            &[
                (header::CONTENT_TYPE, HeaderValue::from_static(OCI_MANIFEST)),
                (
                    header::CONTENT_LENGTH,
                    HeaderValue::from(image.manifest.len()),
                ),
            ],
            full(image.manifest.clone()),
        )
        .await?;
    ensure!(
        status == StatusCode::CREATED,
        "{}: PUT manifest: {status}: {}",
        server.label,
        String::from_utf8_lossy(&body)
    );
    Ok(())
}

/// `HEAD`, and when the blob is missing `POST`, one `PATCH` with `body`, `PUT ?digest=`.
async fn push_blob(
    conn: &mut Conn,
    digest: &Digest,
    len: u64,
    body: ReqBody,
) -> anyhow::Result<()> {
    let blob = format!("/v2/{IMAGE_REPO}/blobs/{digest}");
    let (status, _, _) = conn.call(Method::HEAD, &blob, &[], empty()).await?;
    if status == StatusCode::OK {
        // There already: docker skips it.
        return Ok(());
    }
    ensure!(status == StatusCode::NOT_FOUND, "HEAD {blob}: {status}");
    let upload = start_upload(conn, IMAGE_REPO).await?;
    let (status, headers, answer) = conn
        .call(Method::PATCH, &upload, &octet_stream(len), body)
        .await?;
    ensure!(
        status == StatusCode::ACCEPTED,
        "PATCH {len} bytes: {status}: {}",
        String::from_utf8_lossy(&answer)
    );
    let upload = location(&headers, "")?;
    let path = format!("{upload}{}digest={digest}", separator(&upload));
    let (status, _, answer) = conn
        .call(Method::PUT, &path, &octet_stream(0), empty())
        .await?;
    ensure!(
        status == StatusCode::CREATED,
        "PUT ?digest=: {status}: {}",
        String::from_utf8_lossy(&answer)
    );
    Ok(())
}
