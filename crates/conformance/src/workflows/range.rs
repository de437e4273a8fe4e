//! `Range` requests on blobs: closed, open-ended and suffix ranges answered 206 with
//! `Content-Range`, and 416 past the end.

use gantry_reference::Algorithm;
use reqwest::Method;

use crate::content::{Blob, push_blob, setup_failed};
use crate::expect;
use crate::run::Ctx;

/// The blob's size: ranges below are written against it.
const SIZE: usize = 1000;

pub(crate) fn run(ctx: &mut Ctx<'_>) {
    let name = ctx.name().to_owned();
    let blob = Blob::random(ctx, SIZE, Algorithm::Sha256);
    let pushed = push_blob(ctx, &name, &blob);

    let cases: [(&str, &str, usize, usize); 3] = [
        ("closed", "bytes=10-19", 10, 19),
        ("open-ended", "bytes=990-", 990, SIZE - 1),
        ("suffix", "bytes=-7", SIZE - 7, SIZE - 1),
    ];
    for (check, range, first, last) in cases {
        ctx.check(check, |ctx| {
            pushed.as_ref().map_err(setup_failed)?;
            let response = ctx.http.send(
                ctx.http
                    .request(Method::GET, &format!("/v2/{name}/blobs/{}", blob.digest))
                    .header("Range", range),
            )?;
            expect::status(&response, &[206]).map_err(|r| format!("`Range: {range}`: {r}"))?;
            expect::header_eq(
                &response,
                "Content-Range",
                &format!("bytes {first}-{last}/{SIZE}"),
            )?;
            expect::body_eq(&response, &blob.bytes[first..=last])
        });
    }
    ctx.check("past-end", |ctx| {
        pushed.as_ref().map_err(setup_failed)?;
        let response = ctx.http.send(
            ctx.http
                .request(Method::GET, &format!("/v2/{name}/blobs/{}", blob.digest))
                .header("Range", format!("bytes={}-{}", SIZE + 10, SIZE + 20)),
        )?;
        expect::status(&response, &[416])
    });
}
