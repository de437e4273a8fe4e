//! RFC 3339 times in UTC, as Distribution writes an upload's `startedat` file
//! (`2024-05-01T12:34:56Z`).

use std::time::SystemTime;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formats `time` as `YYYY-MM-DDTHH:MM:SSZ` (whole seconds, UTC), Go's `time.RFC3339` in UTC.
pub(crate) fn format_rfc3339(time: SystemTime) -> String {
    let whole_seconds = OffsetDateTime::from(time)
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    whole_seconds
        .format(&Rfc3339)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
}

/// Parses an RFC 3339 time: `YYYY-MM-DDTHH:MM:SS`, optional fraction, then `Z` or `±HH:MM`.
pub(crate) fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .ok()
        .map(SystemTime::from)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn round_trips_and_parses_go_forms() {
        let cases: [(&str, Option<u64>); 8] = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2024-02-29T12:34:56Z", Some(1_709_210_096)),
            ("2024-02-29T14:34:56+02:00", Some(1_709_210_096)),
            ("2024-02-29T12:34:56.123456789Z", Some(1_709_210_096)),
            ("2000-03-01T00:00:00Z", Some(951_868_800)),
            ("2024-02-29 12:34:56Z", Some(1_709_210_096)),
            ("2024-13-01T00:00:00Z", None),
            ("yesterday", None),
        ];
        for (text, expected) in cases {
            let parsed =
                parse_rfc3339(text).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs());
            assert_eq!(parsed, expected, "{text}");
        }
        for seconds in [0u64, 951_868_800, 1_709_210_096, 4_102_444_800] {
            let time = UNIX_EPOCH + Duration::from_secs(seconds);
            let text = format_rfc3339(time);
            assert_eq!(parse_rfc3339(&text), Some(time), "{text}");
        }
        assert_eq!(
            format_rfc3339(UNIX_EPOCH + Duration::from_secs(1_709_210_096)),
            "2024-02-29T12:34:56Z"
        );
    }
}
