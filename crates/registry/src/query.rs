//! Query strings: `key=value` pairs, percent-decoded, repeated keys kept in order.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The decoded pairs of a query string (without the `?`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    /// Parses `query`; malformed escapes are kept as written.
    pub(crate) fn parse(query: Option<&str>) -> Query {
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        Query(pairs)
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The same pairs without any of `keys`.
    pub(crate) fn without(&self, keys: &[&str]) -> Query {
        Query(
            self.0
                .iter()
                .filter(|(k, _)| !keys.contains(&k.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// Every value of `key`, in order.
    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What a query value keeps as written: RFC 3986's unreserved characters.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes `s` for a query value.
pub(crate) fn encode(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_decode_and_repeat() {
        let query = Query::parse(Some(
            "tag=a&tag=b%2Bc&digest=sha256%3Aab&empty&x=1+2&bad=%zz",
        ));
        assert_eq!(query.all("tag").collect::<Vec<_>>(), ["a", "b+c"]);
        assert_eq!(query.get("digest"), Some("sha256:ab"));
        assert_eq!(query.get("empty"), Some(""));
        assert_eq!(query.get("x"), Some("1 2"));
        assert_eq!(query.get("bad"), Some("%zz"));
        assert_eq!(query.get("missing"), None);
        assert_eq!(Query::parse(None), Query::default());
        assert_eq!(encode("a/b:c"), "a%2Fb%3Ac");
    }
}
