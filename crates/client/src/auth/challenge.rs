//! `WWW-Authenticate` challenges, parsed per RFC 7235: several challenges in one header, each a
//! scheme with either a `token68` or comma-separated parameters whose values are tokens or
//! quoted strings (which may hold commas and backslash escapes).
//!
//! [`parse`] is a pure function over the header's text; the fuzz target `www_authenticate`
//! runs it on arbitrary input and checks that what it returns renders and parses back the same.

use std::fmt;

/// One challenge: `Bearer realm="https://auth.example/token",service="registry"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lower-cased (`basic`, `bearer`).
    pub scheme: String,
    /// The `token68` form's value, when the challenge has one instead of parameters.
    pub token68: Option<String>,
    /// The parameters in order, names lower-cased, values unquoted.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `name` (matched case-insensitively), the first if repeated.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the scheme is `scheme`, case-insensitively.
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }
}

impl fmt::Display for Challenge {
    /// The canonical form: the scheme, then the token68 or every parameter as a quoted string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        if let Some(token68) = &self.token68 {
            return write!(f, " {token68}");
        }
        for (i, (name, value)) in self.params.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { ", " })?;
            write!(f, "{name}=\"")?;
            for c in value.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\"")?;
        }
        Ok(())
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn skip_ows_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.pos += 1;
        }
    }

    fn run(&mut self, accept: fn(u8) -> bool) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(accept) {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    /// A token68 (with its `=` padding) that ends the challenge: followed by the end or a comma.
    fn token68(&mut self) -> Option<String> {
        let start = self.pos;
        let body = self.run(is_token68_char).len();
        self.run(|b| b == b'=');
        let end = self.pos;
        self.skip_ows();
        if body > 0 && matches!(self.peek(), None | Some(b',')) {
            return Some(self.text[start..end].to_owned());
        }
        self.pos = start;
        None
    }

    /// `token BWS "=" BWS`, consumed only when it is there.
    fn param_name(&mut self) -> Option<String> {
        let start = self.pos;
        let name = self.run(is_tchar).to_ascii_lowercase();
        self.skip_ows();
        if !name.is_empty() && self.peek() == Some(b'=') {
            self.pos += 1;
            self.skip_ows();
            return Some(name);
        }
        self.pos = start;
        None
    }

    /// A token or a quoted string; `None` when neither is there or the quote is unterminated.
    fn param_value(&mut self) -> Option<String> {
        if self.peek() != Some(b'"') {
            let token = self.run(is_tchar);
            return (!token.is_empty()).then(|| token.to_owned());
        }
        self.pos += 1;
        let mut value = String::new();
        let mut chars = self.text[self.pos..].char_indices();
        while let Some((offset, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += offset + 1;
                    return Some(value);
                }
                '\\' => value.push(chars.next()?.1),
                c => value.push(c),
            }
        }
        None
    }
}

/// The challenges of a `WWW-Authenticate` header, in order. Parsing stops at the first thing
/// that is not a challenge, keeping those before it; nothing makes it panic.
///
/// ```
/// use gantry_client::auth::challenge;
///
/// let header = r#"Bearer realm="https://auth.example/token",service="reg, istry",scope="repository:a:pull", Basic realm="x\"y""#;
/// let challenges = challenge::parse(header);
/// assert_eq!(challenges.len(), 2);
/// assert!(challenges[0].is("Bearer"));
/// assert_eq!(challenges[0].param("service"), Some("reg, istry"));
/// assert_eq!(challenges[1].param("realm"), Some("x\"y"));
/// ```
pub fn parse(header: &str) -> Vec<Challenge> {
    let mut scanner = Scanner {
        text: header,
        pos: 0,
    };
    let mut challenges = Vec::new();
    loop {
        scanner.skip_ows_and_commas();
        let scheme = scanner.run(is_tchar).to_ascii_lowercase();
        if scheme.is_empty() {
            return challenges;
        }
        let mut challenge = Challenge {
            scheme,
            token68: None,
            params: Vec::new(),
        };
        let spaced = matches!(scanner.peek(), Some(b' ' | b'\t'));
        scanner.skip_ows();
        if spaced {
            if let Some(token68) = scanner.token68() {
                challenge.token68 = Some(token68);
            } else {
                // Parameters: name=value, separated by commas, until something that is not a
                // parameter starts the next challenge.
                while let Some(name) = scanner.param_name() {
                    let Some(value) = scanner.param_value() else {
                        challenges.push(challenge);
                        return challenges;
                    };
                    challenge.params.push((name, value));
                    scanner.skip_ows();
                    match scanner.peek() {
                        Some(b',') => scanner.skip_ows_and_commas(),
                        None => break,
                        Some(_) => {
                            challenges.push(challenge);
                            return challenges;
                        }
                    }
                }
            }
        }
        challenges.push(challenge);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn challenges_parse_as_registries_send_them() {
        /// Scheme, token68, parameters.
        type Expected = (
            &'static str,
            Option<&'static str>,
            &'static [(&'static str, &'static str)],
        );
        let cases: &[(&str, &[Expected])] = &[
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull""#,
                &[(
                    "bearer",
                    None,
                    &[
                        ("realm", "https://auth.docker.io/token"),
                        ("service", "registry.docker.io"),
                        ("scope", "repository:library/ubuntu:pull"),
                    ],
                )],
            ),
            (
                r#"Basic realm="Registry Realm""#,
                &[("basic", None, &[("realm", "Registry Realm")])],
            ),
            (
                r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull,push",error="insufficient_scope""#,
                &[(
                    "bearer",
                    None,
                    &[
                        ("realm", "https://ghcr.io/token"),
                        ("service", "ghcr.io"),
                        ("scope", "repository:a/b:pull,push"),
                        ("error", "insufficient_scope"),
                    ],
                )],
            ),
            (
                r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#,
                &[
                    (
                        "newauth",
                        None,
                        &[
                            ("realm", "apps"),
                            ("type", "1"),
                            ("title", "Login to \"apps\""),
                        ],
                    ),
                    ("basic", None, &[("realm", "simple")]),
                ],
            ),
            (
                "Negotiate abc/+def==, Basic",
                &[("negotiate", Some("abc/+def=="), &[]), ("basic", None, &[])],
            ),
            ("Basic", &[("basic", None, &[])]),
            (
                "  BASIC   realm = x  ",
                &[("basic", None, &[("realm", "x")])],
            ),
            ("", &[]),
            (", ,", &[]),
            (r#"Bearer realm="unterminated"#, &[("bearer", None, &[])]),
            (
                r#"Bearer realm="a" junk"#,
                &[("bearer", None, &[("realm", "a")])],
            ),
        ];
        for (header, expected) in cases {
            let parsed = parse(header);
            let expected: Vec<Challenge> = expected
                .iter()
                .map(|(scheme, token68, p)| Challenge {
                    scheme: (*scheme).to_owned(),
                    token68: token68.map(str::to_owned),
                    params: params(p),
                })
                .collect();
            assert_eq!(parsed, expected, "{header}");
        }
    }

    #[test]
    fn the_canonical_form_parses_back() {
        let header = r#"Bearer realm="a\\b\"c", scope="x, y", Basic realm=z, Negotiate tok=="#;
        let parsed = parse(header);
        let rendered: Vec<String> = parsed.iter().map(ToString::to_string).collect();
        assert_eq!(parse(&rendered.join(", ")), parsed);
    }
}
