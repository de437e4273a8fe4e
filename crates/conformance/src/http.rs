//! The wire: one blocking HTTP client, requests built from paths and upload locations, and
//! responses kept whole (status, headers, body) so checks can quote them in their reasons.

use bytes::Bytes;
use gantry_spec::error_code::ErrorBody;
use reqwest::Method;
use reqwest::Url;
use reqwest::blocking::Client;
use reqwest::header::HeaderMap;

use crate::{Config, ConformanceError};

/// The failure reason of a check: what was expected and what came back.
pub(crate) type Reason = String;

/// A registry reached over HTTP.
pub(crate) struct Http {
    client: Client,
    base: Url,
    credentials: Option<(String, String)>,
}

/// One request, built up before it is sent.
pub(crate) struct Request {
    method: Method,
    url: Url,
    headers: Vec<(&'static str, String)>,
    body: Option<Bytes>,
}

impl Request {
    /// Adds a header.
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Request {
        self.headers.push((name, value.into()));
        self
    }

    /// Sets the body (and with it `Content-Length`).
    pub(crate) fn body(mut self, body: impl Into<Bytes>) -> Request {
        self.body = Some(body.into());
        self
    }

    /// Adds a query parameter, percent-encoded.
    pub(crate) fn query(mut self, name: &str, value: &str) -> Request {
        self.url.query_pairs_mut().append_pair(name, value);
        self
    }
}

/// A response, read whole.
pub(crate) struct Response {
    /// The request, as `METHOD path?query`, for reasons.
    pub(crate) request: String,
    /// The status code.
    pub(crate) status: u16,
    /// The headers.
    pub(crate) headers: HeaderMap,
    /// The body.
    pub(crate) body: Bytes,
    /// Why the body could not be read in full, if it could not (a registry that declares a
    /// `Content-Length` it does not send, for example): the status and headers still count.
    pub(crate) body_error: Option<String>,
}

impl Response {
    /// The first value of header `name`, if present and text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of header `name`, each split at commas (RFC 9110 list syntax).
    pub(crate) fn header_list(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// The body as an OCI error body, if it is one.
    pub(crate) fn error_body(&self) -> Option<ErrorBody> {
        serde_json::from_slice(&self.body).ok()
    }

    /// What came back, in a few words: the status, then the error codes or the start of the body.
    pub(crate) fn describe(&self) -> String {
        let mut text = format!("{} answered {}", self.request, self.status);
        if let Some(body) = self.error_body() {
            let codes: Vec<&str> = body.errors.iter().map(|e| e.code.as_str()).collect();
            text.push_str(&format!(" with errors [{}]", codes.join(", ")));
        } else if !self.body.is_empty() {
            let shown: String = String::from_utf8_lossy(&self.body)
                .chars()
                .take(120)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            text.push_str(&format!(" with body `{}`", shown.trim()));
        }
        if let Some(error) = &self.body_error {
            text.push_str(&format!(" (the body could not be read: {error})"));
        }
        text
    }
}

/// What a path segment or query value keeps as written: RFC 3986's unreserved characters.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes `value` for a path segment or query value: everything but unreserved bytes.
pub(crate) fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, UNRESERVED).to_string()
}

impl Http {
    /// A client for the registry of `config`.
    pub(crate) fn new(config: &Config) -> Result<Http, ConformanceError> {
        let invalid = |reason: &str| ConformanceError::InvalidUrl {
            url: config.url.clone(),
            reason: reason.to_owned(),
        };
        let mut base = Url::parse(&config.url).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(invalid("the URL must not have a query or fragment"));
        }
        let path = base.path().trim_end_matches('/').to_owned();
        base.set_path(&path);
        let client = Client::builder()
            .timeout(config.timeout)
            // Follows redirects (to blob storage, for example) and drops credentials when one
            // leaves the host.
            .redirect(reqwest::redirect::Policy::limited(10))
            .user_agent(concat!("gantry-conformance/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConformanceError::HttpClient {
                source: Box::new(e),
            })?;
        Ok(Http {
            client,
            base,
            credentials: config
                .credentials
                .as_ref()
                .map(|c| (c.username.clone(), c.password.clone())),
        })
    }

    /// A request for `path` (which starts with `/v2/`) under the registry's base URL.
    pub(crate) fn request(&self, method: Method, path: &str) -> Request {
        let mut url = self.base.clone();
        let joined = format!("{}{}", self.base.path().trim_end_matches('/'), path);
        match joined.split_once('?') {
            Some((path, query)) => {
                url.set_path(path);
                url.set_query(Some(query));
            }
            None => url.set_path(&joined),
        }
        Request {
            method,
            url,
            headers: Vec::new(),
            body: None,
        }
    }

    /// A request for a URL the registry gave (a `Location` or `Link` target), resolved against
    /// the base URL when relative.
    pub(crate) fn request_at(&self, method: Method, location: &str) -> Result<Request, Reason> {
        let url = self
            .base
            .join(location)
            .map_err(|e| format!("the registry gave an unusable URL `{location}`: {e}"))?;
        Ok(Request {
            method,
            url,
            headers: Vec::new(),
            body: None,
        })
    }

    /// Sends `request` once.
    fn attempt(&self, request: &Request) -> reqwest::Result<reqwest::blocking::Response> {
        let mut builder = self
            .client
            .request(request.method.clone(), request.url.clone());
        if let Some((user, password)) = &self.credentials {
            builder = builder.basic_auth(user, Some(password));
        }
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        builder = match &request.body {
            Some(body) => builder.body(body.clone()),
            None if request_has_body(&request.method) => builder.header("Content-Length", "0"),
            None => builder,
        };
        builder.send()
    }

    /// Sends `request` and reads the whole response.
    pub(crate) fn send(&self, request: Request) -> Result<Response, Reason> {
        let shown = match request.url.query() {
            Some(query) if query.len() > 100 => {
                let cut = query.char_indices().nth(60).map_or(query.len(), |(i, _)| i);
                format!(
                    "{} {}?{}…",
                    request.method,
                    request.url.path(),
                    &query[..cut]
                )
            }
            Some(query) => format!("{} {}?{}", request.method, request.url.path(), query),
            None => format!("{} {}", request.method, request.url.path()),
        };
        let response = match self.attempt(&request) {
            // A pooled connection the registry closed while it sat idle (after answering an
            // error without reading a body, say) fails before any response: try once more on
            // a fresh connection, so one check's leftovers do not fail the next.
            Err(e) if is_stale_connection(&e) => self.attempt(&request),
            other => other,
        }
        .map_err(|e| format!("{shown} failed: {}", error_chain(&e)))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let (body, body_error) = match response.bytes() {
            Ok(body) => (body, None),
            Err(e) => (Bytes::new(), Some(error_chain(&e))),
        };
        Ok(Response {
            request: shown,
            status,
            headers,
            body,
            body_error,
        })
    }
}

/// Whether `error` is a connection that closed before any response began.
fn is_stale_connection(error: &reqwest::Error) -> bool {
    error.is_request() && error_chain(error).contains("connection closed before message completed")
}

/// Whether requests of `method` carry a body, so that an empty one is sent as `Content-Length: 0`.
fn request_has_body(method: &Method) -> bool {
    ![Method::GET, Method::HEAD].contains(method)
}

/// An error and its sources, joined by `: `.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_unreserved_bytes_only() {
        assert_eq!(encode("sha256:ab"), "sha256%3Aab");
        assert_eq!(
            encode("application/vnd.a+json"),
            "application%2Fvnd.a%2Bjson"
        );
        assert_eq!(encode("a-b_c.d~e"), "a-b_c.d~e");
    }

    #[test]
    fn requests_keep_the_base_path_and_query() {
        let http = Http::new(&Config::new("http://127.0.0.1:5000/prefix/")).unwrap();
        let request = http.request(Method::GET, "/v2/a/b/tags/list?n=2");
        assert_eq!(
            request.url.as_str(),
            "http://127.0.0.1:5000/prefix/v2/a/b/tags/list?n=2"
        );
        let request = http
            .request_at(Method::GET, "/v2/a/b/tags/list?last=x")
            .unwrap();
        assert_eq!(
            request.url.as_str(),
            "http://127.0.0.1:5000/v2/a/b/tags/list?last=x"
        );
    }

    #[test]
    fn bad_urls_are_refused() {
        assert!(Http::new(&Config::new("ftp://example.com")).is_err());
        assert!(Http::new(&Config::new("not a url")).is_err());
    }
}
