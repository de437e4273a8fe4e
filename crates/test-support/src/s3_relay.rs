//! The fault proxy in front of an S3 endpoint: it passes the client's `Host` on (the client
//! signs it), answers S3's own errors in the endpoint's place (`503 SlowDown`,
//! `500 InternalError`, with S3's XML body), and counts requests by S3 operation, so a test or
//! a benchmark can say how many S3 requests an operation costs.
//!
//! Requests are path-style (`/BUCKET/KEY?QUERY`), as every client of a loopback endpoint sends
//! them.

use std::collections::BTreeMap;

use crate::proxy::{Fault, FaultProxy, Rule, Seen};

/// An S3 operation, as told by a request's method, path, query and headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum S3Op {
    /// `GET /BUCKET/KEY`.
    GetObject,
    /// `HEAD /BUCKET/KEY`.
    HeadObject,
    /// `PUT /BUCKET/KEY`.
    PutObject,
    /// `PUT /BUCKET/KEY` with `x-amz-copy-source`.
    CopyObject,
    /// `GET /BUCKET` (`ListObjects`, V1 or V2).
    ListObjects,
    /// `POST /BUCKET/KEY?uploads`.
    CreateMultipartUpload,
    /// `PUT /BUCKET/KEY?partNumber=N&uploadId=U`.
    UploadPart,
    /// `PUT /BUCKET/KEY?partNumber=N&uploadId=U` with `x-amz-copy-source`.
    UploadPartCopy,
    /// `POST /BUCKET/KEY?uploadId=U`.
    CompleteMultipartUpload,
    /// `DELETE /BUCKET/KEY?uploadId=U`.
    AbortMultipartUpload,
    /// `GET /BUCKET/KEY?uploadId=U`.
    ListParts,
    /// `GET /BUCKET?uploads`.
    ListMultipartUploads,
    /// `DELETE /BUCKET/KEY`.
    DeleteObject,
    /// `POST /BUCKET?delete`.
    DeleteObjects,
    /// `PUT /BUCKET`.
    CreateBucket,
    /// `HEAD /BUCKET`.
    HeadBucket,
    /// Anything else.
    Other,
}

impl S3Op {
    /// The operation of `method` on `uri` (path and query), `copy_source` telling whether the
    /// request has an `x-amz-copy-source` header.
    pub fn classify(method: &str, uri: &str, copy_source: bool) -> S3Op {
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let has = |name: &str| {
            query
                .split('&')
                .any(|pair| pair.split('=').next() == Some(name))
        };
        let has_key = path
            .trim_start_matches('/')
            .split_once('/')
            .is_some_and(|(_, key)| !key.is_empty());
        match (method, has_key) {
            ("GET", true) if has("uploadId") => S3Op::ListParts,
            ("GET", true) => S3Op::GetObject,
            ("GET", false) if has("uploads") => S3Op::ListMultipartUploads,
            ("GET", false) => S3Op::ListObjects,
            ("HEAD", true) => S3Op::HeadObject,
            ("HEAD", false) => S3Op::HeadBucket,
            ("PUT", true) if has("partNumber") && copy_source => S3Op::UploadPartCopy,
            ("PUT", true) if has("partNumber") => S3Op::UploadPart,
            ("PUT", true) if copy_source => S3Op::CopyObject,
            ("PUT", true) => S3Op::PutObject,
            ("PUT", false) => S3Op::CreateBucket,
            ("POST", true) if has("uploads") => S3Op::CreateMultipartUpload,
            ("POST", true) if has("uploadId") => S3Op::CompleteMultipartUpload,
            ("POST", false) if has("delete") => S3Op::DeleteObjects,
            ("DELETE", true) if has("uploadId") => S3Op::AbortMultipartUpload,
            ("DELETE", true) => S3Op::DeleteObject,
            _ => S3Op::Other,
        }
    }

    /// The operation of a request the proxy saw.
    pub fn of(seen: &Seen) -> S3Op {
        let copy_source = seen.header("x-amz-copy-source").is_some();
        S3Op::classify(&seen.method, &seen.uri, copy_source)
    }
}

/// S3's error document for `code`.
pub fn error_xml(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Error><Code>{code}</Code><Message>{message}</Message>\
         <RequestId>gantry-test-support</RequestId></Error>"
    )
}

/// `503 SlowDown`, as S3 answers when it throttles.
pub fn slow_down() -> Fault {
    Fault::AnswerBody(
        503,
        "application/xml",
        error_xml("SlowDown", "Please reduce your request rate."),
    )
}

/// `500 InternalError`, as S3 answers when it fails.
pub fn internal_error() -> Fault {
    Fault::AnswerBody(
        500,
        "application/xml",
        error_xml(
            "InternalError",
            "We encountered an internal error. Please try again.",
        ),
    )
}

/// A fault proxy in front of an S3 endpoint that passes `Host` on and counts operations.
pub struct S3Relay {
    proxy: FaultProxy,
}

impl S3Relay {
    /// Starts a relay on a loopback port in front of `endpoint` (`http://HOST:PORT`), with
    /// `rules`.
    pub async fn start(endpoint: &str, rules: Vec<Rule>) -> S3Relay {
        let upstream = endpoint
            .strip_prefix("http://")
            .unwrap_or(endpoint)
            .trim_end_matches('/');
        S3Relay {
            proxy: FaultProxy::start_keeping_host(upstream, rules).await,
        }
    }

    /// `http://127.0.0.1:PORT`, the endpoint clients use instead of the upstream's.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.proxy.host)
    }

    /// The proxy itself: its rules, what it saw and what it applied faults to.
    pub fn proxy(&self) -> &FaultProxy {
        &self.proxy
    }

    /// Adds a rule after the existing ones.
    pub fn add(&self, rule: Rule) {
        self.proxy.add(rule);
    }

    /// How many requests of each operation it has seen, faulted ones included.
    pub fn counts(&self) -> BTreeMap<S3Op, usize> {
        let mut counts = BTreeMap::new();
        for seen in self.proxy.seen() {
            *counts.entry(S3Op::of(&seen)).or_insert(0) += 1;
        }
        counts
    }

    /// How many requests of operation `op` it has seen.
    pub fn count(&self, op: S3Op) -> usize {
        self.counts().get(&op).copied().unwrap_or(0)
    }

    /// How many requests it has seen.
    pub fn total(&self) -> usize {
        self.proxy.seen().len()
    }
}

#[cfg(test)]
mod tests {
    use super::S3Op;

    #[test]
    fn requests_are_told_apart_by_operation() {
        let cases = [
            ("GET", "/b/k", false, S3Op::GetObject),
            ("HEAD", "/b/a/k", false, S3Op::HeadObject),
            ("PUT", "/b/k", false, S3Op::PutObject),
            ("PUT", "/b/k", true, S3Op::CopyObject),
            (
                "GET",
                "/b?list-type=2&prefix=a%2F",
                false,
                S3Op::ListObjects,
            ),
            ("GET", "/b/", false, S3Op::ListObjects),
            ("POST", "/b/k?uploads", false, S3Op::CreateMultipartUpload),
            (
                "PUT",
                "/b/k?partNumber=2&uploadId=u",
                false,
                S3Op::UploadPart,
            ),
            (
                "PUT",
                "/b/k?partNumber=2&uploadId=u",
                true,
                S3Op::UploadPartCopy,
            ),
            (
                "POST",
                "/b/k?uploadId=u",
                false,
                S3Op::CompleteMultipartUpload,
            ),
            (
                "DELETE",
                "/b/k?uploadId=u",
                false,
                S3Op::AbortMultipartUpload,
            ),
            ("GET", "/b/k?uploadId=u", false, S3Op::ListParts),
            ("GET", "/b?uploads", false, S3Op::ListMultipartUploads),
            ("DELETE", "/b/k", false, S3Op::DeleteObject),
            ("POST", "/b?delete", false, S3Op::DeleteObjects),
            ("PUT", "/b", false, S3Op::CreateBucket),
            ("HEAD", "/b", false, S3Op::HeadBucket),
            ("OPTIONS", "/b/k", false, S3Op::Other),
        ];
        for (method, uri, copy, op) in cases {
            assert_eq!(S3Op::classify(method, uri, copy), op, "{method} {uri}");
        }
    }
}
