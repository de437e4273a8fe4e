//! The two S3 calls `object_store` does not make, signed with its own signer and sent through
//! its own HTTP client: creating the bucket, and copying a range of one object into a part of a
//! multipart upload (`UploadPartCopy`), which commits blobs too large for one `CopyObject`.

use std::io;

use bytes::Bytes;
use object_store::aws::{AwsAuthorizer, AwsCredentialProvider};
use object_store::client::{HttpClient, HttpRequest, HttpRequestBody};

use crate::StorageError;

/// What [`SignedRequests::check_bucket`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BucketCheck {
    /// The bucket is there and can be listed.
    Ready,
    /// There is no such bucket.
    Missing,
}

/// A sender of signed requests to one bucket.
#[derive(Debug, Clone)]
pub(super) struct SignedRequests {
    client: HttpClient,
    credentials: AwsCredentialProvider,
    region: String,
    bucket: String,
    /// The bucket's URL, without a trailing `/`.
    bucket_url: String,
}

impl SignedRequests {
    /// Requests to `bucket` at `endpoint` (path-style), or at AWS (virtual-hosted style).
    pub(super) fn new(
        client: HttpClient,
        credentials: AwsCredentialProvider,
        region: &str,
        bucket: &str,
        endpoint: Option<&str>,
    ) -> SignedRequests {
        let bucket_url = match endpoint {
            Some(endpoint) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
            None => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        };
        SignedRequests {
            client,
            credentials,
            region: region.to_owned(),
            bucket: bucket.to_owned(),
            bucket_url,
        }
    }

    /// The bucket's name.
    pub(super) fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Whether the bucket exists and these credentials may list it.
    pub(super) async fn check_bucket(&self) -> Result<BucketCheck, StorageError> {
        let url = format!("{}?list-type=2&max-keys=1", self.bucket_url);
        let (status, answer) = self
            .send(http::Method::GET, &url, &[], Bytes::new())
            .await?;
        match (status.as_u16(), error_code(&answer)) {
            (200, None) => Ok(BucketCheck::Ready),
            (404, Some("NoSuchBucket")) => Ok(BucketCheck::Missing),
            (401 | 403, _) => Err(self.refused(
                "the store refused the credentials: checking the bucket",
                status,
                &answer,
            )),
            _ => Err(self.refused("checking the bucket", status, &answer)),
        }
    }

    /// Creates the bucket.
    pub(super) async fn create_bucket(&self) -> Result<(), StorageError> {
        // Outside us-east-1, AWS wants the region named in the body.
        let body = if self.region == "us-east-1" {
            Bytes::new()
        } else {
            Bytes::from(format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                self.region
            ))
        };
        let (status, answer) = self
            .send(http::Method::PUT, &self.bucket_url, &[], body)
            .await?;
        if status.is_success() || error_code(&answer) == Some("BucketAlreadyOwnedByYou") {
            Ok(())
        } else {
            Err(self.refused("creating the bucket", status, &answer))
        }
    }

    /// Copies the bytes `first..=last` of `from` into part `number` (from 1) of the multipart
    /// upload `upload` of `to`; the part's entity tag.
    pub(super) async fn copy_part(
        &self,
        to: &str,
        upload: &str,
        number: usize,
        from: &str,
        (first, last): (u64, u64),
    ) -> Result<String, StorageError> {
        let url = format!(
            "{}/{to}?partNumber={number}&uploadId={}",
            self.bucket_url,
            percent_encoding::utf8_percent_encode(upload, percent_encoding::NON_ALPHANUMERIC)
        );
        let source = format!("/{}/{from}", self.bucket);
        let range = format!("bytes={first}-{last}");
        let headers = [
            ("x-amz-copy-source", source.as_str()),
            ("x-amz-copy-source-range", range.as_str()),
        ];
        let (status, answer) = self
            .send(http::Method::PUT, &url, &headers, Bytes::new())
            .await?;
        // A copy can fail after its 200 has begun: the error is then in the body.
        if !status.is_success() || error_code(&answer).is_some() {
            return Err(self.refused("copying a part", status, &answer));
        }
        element(&answer, "ETag")
            .map(|tag| tag.replace("&quot;", "\""))
            .ok_or_else(|| self.refused("copying a part", status, &answer))
    }

    async fn send(
        &self,
        method: http::Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<(http::StatusCode, Bytes), StorageError> {
        let failed = |source: io::Error| StorageError::Io {
            path: url.to_owned(),
            source,
        };
        let mut builder = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request: HttpRequest = builder
            .body(HttpRequestBody::from(body))
            .map_err(|error| failed(io::Error::other(error)))?;
        let credential = self
            .credentials
            .get_credential()
            .await
            .map_err(|error| failed(io::Error::other(error)))?;
        AwsAuthorizer::new(&credential, "s3", &self.region).authorize(&mut request, None);
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|error| failed(io::Error::other(error)))?;
        let status = response.status();
        let answer = response
            .into_body()
            .bytes()
            .await
            .map_err(|error| failed(io::Error::other(error)))?;
        Ok((status, answer))
    }

    fn refused(&self, what: &str, status: http::StatusCode, answer: &[u8]) -> StorageError {
        let code = error_code(answer).unwrap_or("no error code");
        StorageError::Io {
            path: self.bucket_url.clone(),
            source: io::Error::other(format!("{what} failed: {status} ({code})")),
        }
    }
}

/// The `Code` of an S3 error body.
fn error_code(answer: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(answer).ok()?;
    if !text.contains("<Error>") {
        return None;
    }
    element(answer, "Code")
}

/// The text of the first `<name>` element of an XML answer.
fn element<'a>(answer: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(answer).ok()?;
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&format!("</{name}>"))?;
    Some(&text[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_for_their_code_and_tag() {
        let copied = b"<CopyPartResult><LastModified>x</LastModified>\
            <ETag>&quot;abc&quot;</ETag></CopyPartResult>";
        assert_eq!(element(copied, "ETag"), Some("&quot;abc&quot;"));
        assert_eq!(error_code(copied), None);
        let failed = b"<?xml version=\"1.0\"?><Error><Code>SlowDown</Code></Error>";
        assert_eq!(error_code(failed), Some("SlowDown"));
        assert_eq!(element(b"<ETag>unclosed", "ETag"), None);
    }
}
