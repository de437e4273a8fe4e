//! Byte-level recognisers for the pieces of the reference grammar.
//!
//! Each function matches one production of `distribution/reference`'s grammar, anchored at both
//! ends, without backtracking or allocation:
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [domain "/"] path-component ["/" path-component]*
//! domain           := host [":" port]
//! host             := domain-name | "[" ipv6 "]"
//! domain-name      := domain-component ["." domain-component]*
//! domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//! ipv6             := /[a-fA-F0-9:]+/
//! port             := /[0-9]+/
//! path-component   := /[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*/
//! tag              := /[\w][\w.-]{0,127}/
//! digest           := /[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}/
//! ```

/// The longest tag the grammar allows.
pub(crate) const TAG_MAX_LEN: usize = 128;

/// The longest path (the name without its domain) the grammar allows.
pub(crate) const PATH_MAX_LEN: usize = 255;

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
pub(crate) fn is_path_component(s: &[u8]) -> bool {
    let mut i = 0;
    loop {
        let run_start = i;
        while i < s.len() && is_lower_alnum(s[i]) {
            i += 1;
        }
        if i == run_start {
            return false;
        }
        let Some(&separator) = s.get(i) else {
            return true;
        };
        match separator {
            b'.' => i += 1,
            b'_' => i += if s.get(i + 1) == Some(&b'_') { 2 } else { 1 },
            b'-' => {
                while s.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

/// One or more path components separated by `/`.
pub(crate) fn is_path(s: &[u8]) -> bool {
    s.split(|&b| b == b'/').all(is_path_component)
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`
fn is_domain_component(s: &[u8]) -> bool {
    match s {
        [] => false,
        [only] => only.is_ascii_alphanumeric(),
        [first, middle @ .., last] => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && middle
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
        }
    }
}

fn is_port(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

/// `host [":" port]`, where host is a dotted domain name or a bracketed IPv6 address.
pub(crate) fn is_domain(s: &[u8]) -> bool {
    if let Some(rest) = s.strip_prefix(b"[") {
        let Some(close) = rest.iter().position(|&b| b == b']') else {
            return false;
        };
        let (address, after) = (&rest[..close], &rest[close + 1..]);
        let address_ok =
            !address.is_empty() && address.iter().all(|&b| b.is_ascii_hexdigit() || b == b':');
        return address_ok
            && match after {
                [] => true,
                [b':', port @ ..] => is_port(port),
                _ => false,
            };
    }
    let (host, port) = match s.iter().position(|&b| b == b':') {
        Some(colon) => (&s[..colon], Some(&s[colon + 1..])),
        None => (s, None),
    };
    host.split(|&b| b == b'.').all(is_domain_component) && port.is_none_or(is_port)
}

/// `[\w][\w.-]{0,127}`
pub(crate) fn is_tag(s: &[u8]) -> bool {
    match s {
        [first, rest @ ..] => {
            s.len() <= TAG_MAX_LEN
                && is_word(*first)
                && rest.iter().all(|&b| is_word(b) || b == b'.' || b == b'-')
        }
        [] => false,
    }
}

/// The shape a reference's digest part must have before it is validated as a digest:
/// `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
pub(crate) fn is_digest_shape(s: &[u8]) -> bool {
    let Some(colon) = s.iter().position(|&b| b == b':') else {
        return false;
    };
    let (algorithm, hex) = (&s[..colon], &s[colon + 1..]);
    let algorithm_ok = algorithm
        .split(|&b| matches!(b, b'-' | b'_' | b'+' | b'.'))
        .all(|part| {
            part.first().is_some_and(u8::is_ascii_alphabetic)
                && part.iter().all(u8::is_ascii_alphanumeric)
        });
    algorithm_ok && hex.len() >= 32 && hex.iter().all(u8::is_ascii_hexdigit)
}

/// The positions of a reference's parts within its string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spans {
    /// End of the domain; zero when there is none.
    pub(crate) domain_end: usize,
    /// Start of the path: after the domain's slash, or zero.
    pub(crate) path_start: usize,
    /// End of the name (domain and path); the tag, if any, starts one past it.
    pub(crate) name_end: usize,
    /// End of the tag, or `name_end` when there is none; the digest starts one past it.
    pub(crate) tag_end: usize,
}

/// Matches `s` against the whole reference grammar and says where each part lies.
///
/// The digest part is checked for its shape only; validating it is the caller's job.
pub(crate) fn split_reference(s: &str) -> Option<Spans> {
    let bytes = s.as_bytes();
    let (name_and_tag, digest) = match bytes.iter().position(|&b| b == b'@') {
        Some(at) => (&bytes[..at], Some(&bytes[at + 1..])),
        None => (bytes, None),
    };
    if digest.is_some_and(|d| !is_digest_shape(d)) {
        return None;
    }

    // A tag cannot hold '/' or ':', so it is whatever follows the last ':' after the last '/'.
    let last_slash = name_and_tag.iter().rposition(|&b| b == b'/');
    let tag_colon = name_and_tag
        .iter()
        .rposition(|&b| b == b':')
        .filter(|&colon| last_slash.is_none_or(|slash| colon > slash));
    let name_end = tag_colon.unwrap_or(name_and_tag.len());
    if tag_colon.is_some() && !is_tag(&name_and_tag[name_end + 1..]) {
        return None;
    }

    // The first component is a domain when one follows it and it reads as a domain; otherwise
    // it is the first path component.
    let name = &name_and_tag[..name_end];
    let (domain_end, path_start) = match name.iter().position(|&b| b == b'/') {
        Some(slash) if is_domain(&name[..slash]) => (slash, slash + 1),
        _ => (0, 0),
    };
    if !is_path(&name[path_start..]) {
        return None;
    }
    Some(Spans {
        domain_end,
        path_start,
        name_end,
        tag_end: name_and_tag.len(),
    })
}
