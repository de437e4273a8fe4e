//! HTTP Basic authentication (RFC 7617).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::HeaderValue;

/// `Basic base64(username:password)`, marked sensitive so the HTTP stack never logs it.
pub(crate) fn header(username: &str, password: &str) -> Option<HeaderValue> {
    let encoded = STANDARD.encode(format!("{username}:{password}"));
    let mut value = HeaderValue::from_str(&format!("Basic {encoded}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_rfc_7617() {
        // The example of RFC 7617 §2.
        let value = header("Aladdin", "open sesame").unwrap();
        assert_eq!(value, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert!(value.is_sensitive());
    }
}
