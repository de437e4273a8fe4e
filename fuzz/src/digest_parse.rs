//! `Digest::parse` never panics, and what it accepts prints back to the same string.

use gantry_reference::Digest;

/// Parses `data` as a digest and checks the round trip.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(digest) = Digest::parse(text) {
        assert_eq!(digest.as_str(), text);
        assert_eq!(digest.encoded().len(), digest.algorithm().encoded_len());
        assert_eq!(Digest::parse(digest.as_str()).as_ref(), Ok(&digest));
    }
}
