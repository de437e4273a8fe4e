//! Byte ranges: the `Range` header of a blob GET and the `Content-Range` of an upload chunk.
//! Both are read before anything else of the request (fuzz targets `range`, `content_range`).

/// What a blob GET's `Range` header asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: send the whole blob.
    Whole,
    /// The bytes from `start` to `end`, inclusive, within the blob.
    Part {
        /// The first byte.
        start: u64,
        /// The last byte.
        end: u64,
    },
    /// A range that lies outside the blob: 416.
    Unsatisfiable,
}

/// Reads a `Range` header against a blob of `size` bytes. Forms: `bytes=a-b`, `bytes=a-`,
/// `bytes=-n`. A header that is not a single byte range is ignored, as HTTP allows.
pub fn parse_range(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (
        number(first),
        number(last),
        first.is_empty(),
        last.is_empty(),
    ) {
        // bytes=-n: the last n bytes.
        (None, Some(suffix), true, false) => {
            if suffix == 0 || size == 0 {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Part {
                    start: size.saturating_sub(suffix),
                    end: size - 1,
                }
            }
        }
        // bytes=a- and bytes=a-b.
        (Some(start), end, false, open) if open || end.is_some() => {
            if start >= size {
                return RangeRequest::Unsatisfiable;
            }
            match end {
                Some(end) if end < start => RangeRequest::Whole,
                Some(end) => RangeRequest::Part {
                    start,
                    end: end.min(size - 1),
                },
                None => RangeRequest::Part {
                    start,
                    end: size - 1,
                },
            }
        }
        _ => RangeRequest::Whole,
    }
}

/// Reads an upload chunk's `Content-Range: <start>-<end>` (Distribution's form, with or
/// without a `bytes ` prefix and a `/total` suffix). `None` when it is not of that form.
pub fn parse_content_range(header: &str) -> Option<(u64, u64)> {
    let spec = header.trim();
    let spec = spec.strip_prefix("bytes ").unwrap_or(spec);
    let spec = spec.split_once('/').map_or(spec, |(range, _)| range);
    let (start, end) = spec.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    (end >= start).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeRequest::*;

    #[test]
    fn range_headers_against_a_blob() {
        let size = 100;
        let cases: &[(Option<&str>, RangeRequest)] = &[
            (None, Whole),
            (Some("bytes=0-9"), Part { start: 0, end: 9 }),
            (Some("bytes=90-"), Part { start: 90, end: 99 }),
            (Some("bytes=-10"), Part { start: 90, end: 99 }),
            (Some("bytes=-1000"), Part { start: 0, end: 99 }),
            (Some("bytes=50-1000"), Part { start: 50, end: 99 }),
            (Some("bytes=100-"), Unsatisfiable),
            (Some("bytes=100-200"), Unsatisfiable),
            (Some("bytes=-0"), Unsatisfiable),
            (Some("bytes=9-0"), Whole),
            (Some("bytes=0-1,5-6"), Whole),
            (Some("items=0-1"), Whole),
            (Some("bytes=a-b"), Whole),
            (Some("bytes=-"), Whole),
            (Some("bytes=99999999999999999999999-"), Whole),
        ];
        for (header, expected) in cases {
            assert_eq!(parse_range(*header, size), *expected, "{header:?}");
        }
        assert_eq!(parse_range(Some("bytes=0-"), 0), Unsatisfiable);
    }

    #[test]
    fn content_ranges_of_chunks() {
        assert_eq!(parse_content_range("0-99"), Some((0, 99)));
        assert_eq!(parse_content_range("bytes 100-199/*"), Some((100, 199)));
        assert_eq!(parse_content_range("5-4"), None);
        assert_eq!(parse_content_range("x-4"), None);
        assert_eq!(parse_content_range(""), None);
    }
}
