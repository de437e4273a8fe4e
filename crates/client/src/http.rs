//! Sending requests: retries with backoff and `Retry-After`, error bodies parsed against the
//! code table, and bodies read under a size limit.
//!
//! Every request of the client goes through [`send`], which also answers `401` challenges
//! through [`crate::auth`].

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, Response};

use crate::auth;
use crate::client::Inner;
use crate::error::{ClientError, registry_error};

/// What a request carries.
pub(crate) enum Body {
    /// Nothing.
    Empty,
    /// Bytes that can be sent again on a retry.
    Bytes(Bytes),
    /// A stream, which can be sent once: a request with one is never retried.
    Stream(reqwest::Body),
}

/// One request to send.
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
    /// Whether sending the request twice has the effect of sending it once (GET, HEAD, PUT of a
    /// manifest, DELETE): only those are retried after the registry saw them.
    pub(crate) idempotent: bool,
    /// The token scopes the request needs, such as `repository:team/app:pull`.
    pub(crate) scopes: Vec<String>,
}

impl Call {
    pub(crate) fn new(method: Method, url: impl Into<String>) -> Call {
        let idempotent = matches!(
            method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        Call {
            method,
            url: url.into(),
            headers: HeaderMap::new(),
            body: Body::Empty,
            idempotent,
            scopes: Vec::new(),
        }
    }

    pub(crate) fn header(mut self, name: HeaderName, value: HeaderValue) -> Call {
        self.headers.append(name, value);
        self
    }

    pub(crate) fn body(mut self, body: Body) -> Call {
        self.body = body;
        self
    }

    /// Adds a token scope the request needs.
    pub(crate) fn scope(mut self, scope: String) -> Call {
        self.scopes.push(scope);
        self
    }

    /// Sends the request once: the caller retries it its own way.
    pub(crate) fn once(mut self) -> Call {
        self.idempotent = false;
        self
    }
}

/// Sends `call`, retrying as the policy allows, and returns the response when its status is a
/// success (2xx or an unfollowed 3xx); any other status becomes [`ClientError::Registry`].
pub(crate) async fn send(inner: &Inner, call: Call) -> Result<Response, ClientError> {
    let Call {
        method,
        url,
        headers,
        mut body,
        idempotent,
        scopes,
    } = call;
    let host = authority(&url);
    let policy = inner.config.retry;
    let attempts = match body {
        Body::Stream(_) => 1,
        _ => policy.max_attempts.max(1),
    };
    let mut attempt = 0;
    // A 401 is answered at most twice: once for the first challenge, once more when the
    // registry asks for a wider scope.
    let mut auth_rounds = 0;
    loop {
        attempt += 1;
        let mut request = inner
            .http_for(&host)
            .request(method.clone(), &url)
            .headers(headers.clone());
        let authorization = if headers.contains_key(auth::HEADER) {
            None
        } else {
            auth::authorization(inner, &host, &scopes)
        };
        if let Some(value) = &authorization {
            request = request.header(auth::HEADER, value.clone());
        }
        let resendable = !matches!(body, Body::Stream(_));
        request = match std::mem::replace(&mut body, Body::Empty) {
            Body::Empty => request,
            Body::Bytes(bytes) => {
                body = Body::Bytes(bytes.clone());
                request.body(bytes)
            }
            Body::Stream(stream) => request.body(stream),
        };
        let last = attempt >= attempts;
        match request.send().await {
            Err(error) => {
                let retry = !last && (idempotent || error.is_connect());
                let error = ClientError::transport(&method, &url, "sending the request", error);
                if !retry {
                    return Err(error);
                }
                let wait = policy.backoff(attempt - 1);
                tracing::debug!(%method, %url, %error, ?wait, attempt, "retrying after a transport error");
                tokio::time::sleep(wait).await;
            }
            Ok(response) => {
                let status = response.status();
                if status.is_success() || status.is_redirection() {
                    return Ok(response);
                }
                if status.as_u16() == 401 && resendable && auth_rounds < 2 {
                    let challenges: Vec<_> = response
                        .headers()
                        .get_all(WWW_AUTHENTICATE)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .flat_map(auth::challenge::parse)
                        .collect();
                    if let Some(sent) = &authorization {
                        auth::forget(inner, &host, sent);
                    }
                    let refused = authorization.is_some();
                    if auth::answer(inner, &host, &challenges, &scopes, refused).await? {
                        auth_rounds += 1;
                        attempt -= 1;
                        tracing::debug!(%method, %url, auth_rounds, "authenticating and sending again");
                        continue;
                    }
                }
                let retry_after = retry_after(response.headers());
                let body = read_prefix(response, inner.config.max_small_body).await;
                let error = registry_error(&method, &url, status.as_u16(), &body)
                    .with_retry_after(retry_after);
                if last || !idempotent || !error.is_retryable() {
                    return Err(error);
                }
                let backoff = policy.backoff(attempt - 1);
                let wait = match retry_after {
                    Some(after) if matches!(status.as_u16(), 429 | 503) => {
                        after.max(backoff).min(policy.max_backoff)
                    }
                    _ => backoff,
                };
                tracing::debug!(%method, %url, status = status.as_u16(), ?wait, attempt, "retrying");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// The authority (`host` or `host:port`) of `url`, the key of what the client knows of a
/// registry's authentication.
pub(crate) fn authority(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => match (parsed.host_str(), parsed.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => String::new(),
        },
        Err(_) => String::new(),
    }
}

/// `Retry-After` as a wait: a number of seconds, or an HTTP date (`Sun, 06 Nov 1994 08:49:37
/// GMT`) counted from now, a date past meaning no wait. Other values count as absent, so the
/// backoff applies.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_from(headers, std::time::SystemTime::now())
}

fn retry_after_from(headers: &HeaderMap, now: std::time::SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = http_date(value)?;
    let now = now.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// Seconds since the Unix epoch of an HTTP date in its preferred form (RFC 9110's
/// IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(text: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (_, rest) = text.split_once(", ")?;
    let mut parts = rest.split(' ');
    let (day, month, year, time, zone) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if zone != "GMT" || parts.next().is_some() || day.len() != 2 || year.len() != 4 {
        return None;
    }
    let number = |s: &str| -> Option<i64> {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let (day, year) = (number(day)?, number(year)?);
    let mut clock = time.split(':');
    let (hour, minute, second) = (
        number(clock.next()?)?,
        number(clock.next()?)?,
        number(clock.next()?)?,
    );
    if clock.next().is_some() || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60
    {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    u64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second).ok()
}

/// The body of `response`, refusing more than `limit` bytes (by `Content-Length` before reading
/// and by count while reading).
pub(crate) async fn read_limited(
    method: &Method,
    url: &str,
    mut response: Response,
    limit: usize,
    what: &'static str,
) -> Result<Bytes, ClientError> {
    let too_large = || ClientError::TooLarge {
        what,
        limit: u64::try_from(limit).unwrap_or(u64::MAX),
    };
    let expected = response.content_length();
    if expected.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    let mut buffer = BytesMut::with_capacity(expected.map_or(0, |len| len as usize));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ClientError::transport(method, url, "reading the body", e))?
    {
        if buffer.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buffer.extend_from_slice(&chunk);
    }
    if let Some(expected) = expected
        && expected != buffer.len() as u64
    {
        return Err(ClientError::SizeMismatch {
            expected,
            actual: buffer.len() as u64,
        });
    }
    Ok(buffer.freeze())
}

/// At most `limit` bytes of the body of `response`, ignoring failures: for error bodies, which
/// are read only to explain a failure.
async fn read_prefix(mut response: Response, limit: usize) -> Bytes {
    let mut buffer = BytesMut::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = limit.saturating_sub(buffer.len());
        buffer.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if buffer.len() >= limit {
            break;
        }
    }
    buffer.freeze()
}

/// A response header as a string, when present and visible ASCII.
pub(crate) fn header_str<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name)?.to_str().ok()
}

/// What a query parameter value keeps as written: RFC 3986's unreserved characters.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a query parameter value (everything but RFC 3986's unreserved characters).
pub(crate) fn query_value(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, QUERY_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        // 2015-10-21T07:28:00Z
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        let cases = [
            ("3", Some(3)),
            (" 10 ", Some(10)),
            ("Wed, 21 Oct 2015 07:28:00 GMT", Some(0)),
            ("Wed, 21 Oct 2015 07:28:30 GMT", Some(30)),
            ("Wed, 21 Oct 2015 08:28:00 GMT", Some(3600)),
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(0)),
            ("Wed, 21 Oct 2015 07:28:00 PST", None),
            ("Wednesday, 21-Oct-15 07:28:00 GMT", None),
            ("Wed, 21 Foo 2015 07:28:00 GMT", None),
            ("-1", None),
            ("soon", None),
        ];
        for (value, want) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_static(value));
            assert_eq!(
                retry_after_from(&headers, now),
                want.map(Duration::from_secs),
                "{value}"
            );
        }
        assert_eq!(
            http_date("Tue, 29 Feb 2000 00:00:00 GMT"),
            Some(951_782_400)
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            query_value("application/vnd.example+json"),
            "application%2Fvnd.example%2Bjson"
        );
        assert_eq!(query_value("sha256:ab"), "sha256%3Aab");
        assert_eq!(query_value("v1.0_x-y~"), "v1.0_x-y~");
    }
}
