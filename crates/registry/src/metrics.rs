//! Request counters, rendered in Prometheus's text format on the metrics address.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the server counts.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// Requests by endpoint, method and status.
    requests: Mutex<BTreeMap<(&'static str, String, u16), u64>>,
    /// Request body bytes, as declared by `Content-Length`.
    bytes_in: AtomicU64,
    /// Response body bytes, as declared by `Content-Length`.
    bytes_out: AtomicU64,
    /// Upload sessions opened (202 on a POST).
    uploads_started: AtomicU64,
    /// Blobs that became visible through an upload (201 on an upload).
    uploads_completed: AtomicU64,
}

impl Metrics {
    /// Counts one finished request.
    pub(crate) fn record(
        &self,
        endpoint: &'static str,
        method: &str,
        status: u16,
        bytes_in: u64,
        bytes_out: u64,
    ) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *requests
            .entry((endpoint, method.to_owned(), status))
            .or_default() += 1;
        drop(requests);
        self.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
        match (endpoint, status) {
            ("upload_start", 202) => {
                self.uploads_started.fetch_add(1, Ordering::Relaxed);
            }
            ("upload_start" | "upload", 201) => {
                self.uploads_completed.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Everything counted so far, in Prometheus's text exposition format.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP gantry_http_requests_total Requests served, by endpoint, method and status.\n",
        );
        out.push_str("# TYPE gantry_http_requests_total counter\n");
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        for ((endpoint, method, status), count) in requests.iter() {
            let _ = writeln!(
                out,
                "gantry_http_requests_total{{endpoint=\"{endpoint}\",method=\"{method}\",status=\"{status}\"}} {count}"
            );
        }
        drop(requests);
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
        let metrics = Metrics::default();
        metrics.record("manifest", "GET", 200, 0, 512);
        metrics.record("manifest", "GET", 200, 0, 512);
        metrics.record("upload_start", "POST", 202, 0, 0);
        metrics.record("upload", "PUT", 201, 10, 0);
        let text = metrics.render();
        assert!(text.contains(
            "gantry_http_requests_total{endpoint=\"manifest\",method=\"GET\",status=\"200\"} 2"
        ));
        assert!(text.contains("gantry_http_response_bytes_total 1024"));
        assert!(text.contains("gantry_http_request_bytes_total 10"));
        assert!(text.contains("gantry_upload_sessions_started_total 1"));
        assert!(text.contains("gantry_uploads_completed_total 1"));
    }
}
