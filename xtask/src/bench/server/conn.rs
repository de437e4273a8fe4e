//! The load generator's HTTP: one keep-alive hyper HTTP/1.1 connection per worker, request
//! bodies, and the 1 GiB blob streamed from one repeated block.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use anyhow::Context;
use bytes::Bytes;
use gantry_reference::{Algorithm, Digest, Digester};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{BIG_TIMEOUT, BLOB_SIZE, BLOCK, SMALL_TIMEOUT};

pub(in crate::bench) type ReqBody = BoxBody<Bytes, Infallible>;

pub(in crate::bench) fn empty() -> ReqBody {
    Empty::new().boxed()
}

pub(in crate::bench) fn full(bytes: impl Into<Bytes>) -> ReqBody {
    Full::new(bytes.into()).boxed()
}

/// One keep-alive HTTP/1.1 connection.
pub(in crate::bench) struct Conn {
    pub(in crate::bench) sender: SendRequest<ReqBody>,
    pub(in crate::bench) host: HeaderValue,
}

impl Conn {
    pub(in crate::bench) async fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn {
            sender,
            host: HeaderValue::from_str(&addr.to_string())?,
        })
    }

    pub(in crate::bench) async fn send(
        &mut self,
        method: Method,
        uri: Uri,
        headers: &[(HeaderName, HeaderValue)],
        body: ReqBody,
    ) -> anyhow::Result<Response<Incoming>> {
        self.sender.ready().await?;
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        let request_headers = request.headers_mut();
        request_headers.insert(header::HOST, self.host.clone());
        for (name, value) in headers {
            request_headers.insert(name.clone(), value.clone());
        }
        Ok(self.sender.send_request(request).await?)
    }

    /// A request whose response body is small: it is read whole.
    pub(in crate::bench) async fn call(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: ReqBody,
    ) -> anyhow::Result<(StatusCode, HeaderMap, Bytes)> {
        let uri: Uri = path.parse()?;
        let exchange = async {
            let response = self.send(method, uri, headers, body).await?;
            let (parts, body) = response.into_parts();
            let bytes = body.collect().await?.to_bytes();
            anyhow::Ok((parts.status, parts.headers, bytes))
        };
        tokio::time::timeout(SMALL_TIMEOUT, exchange)
            .await
            .with_context(|| format!("{path} took over {SMALL_TIMEOUT:?}"))?
    }
}

/// A body of `remaining` bytes that repeats one block, streamed without copying it.
pub(in crate::bench) struct Pattern {
    pub(in crate::bench) block: Bytes,
    pub(in crate::bench) remaining: u64,
}

impl Body for Pattern {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let len = this.remaining.min(this.block.len() as u64);
        this.remaining -= len;
        let len = usize::try_from(len).unwrap_or(this.block.len());
        Poll::Ready(Some(Ok(Frame::data(this.block.slice(..len)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// A big blob: one pseudo-random block repeated to its size, and its digest.
pub(in crate::bench) struct BigBlob {
    pub(in crate::bench) block: Bytes,
    pub(in crate::bench) digest: Digest,
    pub(in crate::bench) size: u64,
}

impl BigBlob {
    /// A blob of [`BLOB_SIZE`] from `seed`.
    pub(in crate::bench) fn new(seed: u64) -> BigBlob {
        BigBlob::sized(seed, BLOB_SIZE)
    }

    /// A blob of `size` bytes (a multiple of the block) from `seed`.
    pub(in crate::bench) fn sized(seed: u64, size: u64) -> BigBlob {
        let mut state = seed | 1;
        let mut block = Vec::with_capacity(BLOCK);
        while block.len() < BLOCK {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            block.extend_from_slice(&state.to_le_bytes());
        }
        let mut digester = Digester::new(Algorithm::Sha256);
        for _ in 0..size / BLOCK as u64 {
            digester.update(&block);
        }
        BigBlob {
            block: Bytes::from(block),
            digest: digester.finish(),
            size,
        }
    }

    pub(in crate::bench) fn body(&self, len: u64) -> ReqBody {
        Pattern {
            block: self.block.clone(),
            remaining: len,
        }
        .boxed()
    }
}

pub(in crate::bench) fn octet_stream(len: u64) -> Vec<(HeaderName, HeaderValue)> {
    vec![
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        ),
        (header::CONTENT_LENGTH, HeaderValue::from(len)),
    ]
}

/// The path of an upload's `Location`, which may be absolute, with `extra` added to its query.
pub(in crate::bench) fn location(headers: &HeaderMap, extra: &str) -> anyhow::Result<String> {
    let value = headers
        .get(header::LOCATION)
        .context("no Location on an upload response")?
        .to_str()?;
    let path = match value.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/').unwrap_or(rest.len())..],
        None => value,
    };
    Ok(match (extra.is_empty(), path.contains('?')) {
        (true, _) => path.to_owned(),
        (false, true) => format!("{path}&{extra}"),
        (false, false) => format!("{path}?{extra}"),
    })
}

impl Conn {
    /// A request with a big body; the status once the response (small) has been read.
    pub(in crate::bench) async fn call_big(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: ReqBody,
    ) -> anyhow::Result<StatusCode> {
        let uri: Uri = path.parse()?;
        let exchange = async {
            let response = self.send(method, uri, headers, body).await?;
            let status = response.status();
            response.into_body().collect().await?;
            anyhow::Ok(status)
        };
        tokio::time::timeout(BIG_TIMEOUT, exchange)
            .await
            .with_context(|| format!("{path} took over {BIG_TIMEOUT:?}"))?
    }
}
