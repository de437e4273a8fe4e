//! Request counters, rendered in Prometheus's text format on the metrics address.
//!
//! Every label set the server can produce from its own endpoints, methods and statuses has
//! its own atomic counter, so counting a request takes no lock and allocates nothing. A
//! method or status outside those (a client's made-up method, say) is counted in a small
//! map behind a lock, which ordinary requests never touch.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::Method;

/// The endpoint a request named, as logs and counters call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `/v2/`.
    Base,
    /// `/v2/_catalog`.
    Catalog,
    /// A tag list.
    Tags,
    /// A manifest.
    Manifest,
    /// A blob.
    Blob,
    /// Where uploads start.
    UploadStart,
    /// An upload session.
    Upload,
    /// A referrers list.
    Referrers,
    /// A path that names no endpoint, or names one with an invalid part.
    Invalid,
}

impl Endpoint {
    const ALL: [Endpoint; 9] = [
        Endpoint::Base,
        Endpoint::Catalog,
        Endpoint::Tags,
        Endpoint::Manifest,
        Endpoint::Blob,
        Endpoint::UploadStart,
        Endpoint::Upload,
        Endpoint::Referrers,
        Endpoint::Invalid,
    ];

    /// The label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Endpoint::Base => "base",
            Endpoint::Catalog => "catalog",
            Endpoint::Tags => "tags",
            Endpoint::Manifest => "manifest",
            Endpoint::Blob => "blob",
            Endpoint::UploadStart => "upload_start",
            Endpoint::Upload => "upload",
            Endpoint::Referrers => "referrers",
            Endpoint::Invalid => "invalid",
        }
    }
}

/// The methods the API serves, each with its own counters.
const METHODS: [Method; 6] = [
    Method::GET,
    Method::HEAD,
    Method::PUT,
    Method::POST,
    Method::PATCH,
    Method::DELETE,
];

/// The statuses the server answers with, each with its own counters.
const STATUSES: [u16; 18] = [
    200, 201, 202, 204, 206, 307, 400, 401, 403, 404, 405, 406, 413, 414, 416, 429, 500, 503,
];

const CELLS: usize = Endpoint::ALL.len() * METHODS.len() * STATUSES.len();

/// What the server counts.
#[derive(Debug)]
pub(crate) struct Metrics {
    /// Requests by endpoint, method and status, for the known ones.
    requests: Box<[AtomicU64]>,
    /// Requests with a method or status outside the known ones.
    other_requests: Mutex<BTreeMap<(&'static str, String, u16), u64>>,
    /// Requests being served, by endpoint.
    in_flight: [AtomicI64; Endpoint::ALL.len()],
    /// Request body bytes, as declared by `Content-Length`.
    bytes_in: AtomicU64,
    /// Response body bytes, as declared by `Content-Length`.
    bytes_out: AtomicU64,
    /// Upload sessions opened (202 on a POST).
    uploads_started: AtomicU64,
    /// Blobs that became visible through an upload (201 on an upload).
    uploads_completed: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            requests: (0..CELLS).map(|_| AtomicU64::new(0)).collect(),
            other_requests: Mutex::default(),
            in_flight: Default::default(),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            uploads_started: AtomicU64::new(0),
            uploads_completed: AtomicU64::new(0),
        }
    }
}

/// The counter's place for a known method and status.
fn cell(endpoint: Endpoint, method: &Method, status: u16) -> Option<usize> {
    let method = METHODS.iter().position(|known| known == method)?;
    let status = STATUSES.iter().position(|&known| known == status)?;
    Some(((endpoint as usize) * METHODS.len() + method) * STATUSES.len() + status)
}

/// A request being served: counted in flight until dropped (also when its connection goes
/// before the response is ready).
#[derive(Debug)]
pub(crate) struct InFlight {
    metrics: Arc<Metrics>,
    endpoint: Endpoint,
}

impl InFlight {
    /// The counters the request is counted in.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.metrics.in_flight[self.endpoint as usize].fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Counts a request in flight on `endpoint` until the guard is dropped.
    pub(crate) fn start(self: &Arc<Self>, endpoint: Endpoint) -> InFlight {
        self.in_flight[endpoint as usize].fetch_add(1, Ordering::Relaxed);
        InFlight {
            metrics: Arc::clone(self),
            endpoint,
        }
    }

    /// Counts one finished request.
    pub(crate) fn record(
        &self,
        endpoint: Endpoint,
        method: &Method,
        status: u16,
        bytes_in: u64,
        bytes_out: u64,
    ) {
        match cell(endpoint, method, status) {
            Some(cell) => {
                self.requests[cell].fetch_add(1, Ordering::Relaxed);
            }
            None => {
                let mut other = self
                    .other_requests
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                *other
                    .entry((endpoint.as_str(), method.as_str().to_owned(), status))
                    .or_default() += 1;
            }
        }
        self.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
        match (endpoint, status) {
            (Endpoint::UploadStart, 202) => {
                self.uploads_started.fetch_add(1, Ordering::Relaxed);
            }
            (Endpoint::UploadStart | Endpoint::Upload, 201) => {
                self.uploads_completed.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Everything counted so far, in Prometheus's text exposition format.
    pub(crate) fn render(&self) -> String {
        let mut requests: BTreeMap<(&str, &str, u16), u64> = BTreeMap::new();
        for endpoint in Endpoint::ALL {
            for method in &METHODS {
                for status in STATUSES {
                    let count = cell(endpoint, method, status)
                        .map_or(0, |cell| self.requests[cell].load(Ordering::Relaxed));
                    if count > 0 {
                        requests.insert((endpoint.as_str(), method.as_str(), status), count);
                    }
                }
            }
        }
        let other = self
            .other_requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for ((endpoint, method, status), count) in &other {
            requests.insert((endpoint, method.as_str(), *status), *count);
        }
        let mut out = String::new();
        out.push_str(
            "# HELP gantry_http_requests_total Requests served, by endpoint, method and status.\n",
        );
        out.push_str("# TYPE gantry_http_requests_total counter\n");
        for ((endpoint, method, status), count) in &requests {
            let _ = writeln!(
                out,
                "gantry_http_requests_total{{endpoint=\"{endpoint}\",method=\"{method}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str(
            "# HELP gantry_http_requests_in_flight Requests being served, by endpoint.\n\
             # TYPE gantry_http_requests_in_flight gauge\n",
        );
        for endpoint in Endpoint::ALL {
            let _ = writeln!(
                out,
                "gantry_http_requests_in_flight{{endpoint=\"{}\"}} {}",
                endpoint.as_str(),
                self.in_flight[endpoint as usize].load(Ordering::Relaxed)
            );
        }
        for (name, help, value) in [
            (
                "gantry_http_request_bytes_total",
                "Request body bytes received.",
                &self.bytes_in,
            ),
            (
                "gantry_http_response_bytes_total",
                "Response body bytes sent.",
                &self.bytes_out,
            ),
            (
                "gantry_upload_sessions_started_total",
                "Upload sessions opened.",
                &self.uploads_started,
            ),
            (
                "gantry_uploads_completed_total",
                "Blobs made visible by uploads.",
                &self.uploads_completed,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_as_prometheus_text() {
        let metrics = Arc::new(Metrics::default());
        metrics.record(Endpoint::Manifest, &Method::GET, 200, 0, 512);
        metrics.record(Endpoint::Manifest, &Method::GET, 200, 0, 512);
        metrics.record(Endpoint::UploadStart, &Method::POST, 202, 0, 0);
        metrics.record(Endpoint::Upload, &Method::PUT, 201, 10, 0);
        let made_up = Method::from_bytes(b"BREW").unwrap();
        metrics.record(Endpoint::Base, &made_up, 418, 0, 0);
        let in_flight = metrics.start(Endpoint::Blob);
        let text = metrics.render();
        for line in [
            "gantry_http_requests_total{endpoint=\"manifest\",method=\"GET\",status=\"200\"} 2",
            "gantry_http_requests_total{endpoint=\"base\",method=\"BREW\",status=\"418\"} 1",
            "gantry_http_requests_in_flight{endpoint=\"blob\"} 1",
            "gantry_http_response_bytes_total 1024",
            "gantry_http_request_bytes_total 10",
            "gantry_upload_sessions_started_total 1",
            "gantry_uploads_completed_total 1",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        drop(in_flight);
        assert!(
            metrics
                .render()
                .contains("gantry_http_requests_in_flight{endpoint=\"blob\"} 0")
        );
    }
}
