//! Reads the case tables in `testdata/`, expanding their placeholders (see `testdata/README.md`).

#![allow(dead_code, reason = "each test file uses the readers it needs")]
#![allow(
    clippy::unwrap_used,
    reason = "a malformed table should fail the test loudly"
)]

/// A row of `digests.tsv`.
pub(crate) struct DigestRow {
    pub(crate) at: String,
    pub(crate) input: String,
    pub(crate) expected: String,
}

/// A row of `references.tsv`.
pub(crate) struct ReferenceRow {
    pub(crate) at: String,
    pub(crate) mode: String,
    pub(crate) input: String,
    pub(crate) expected: String,
    /// Domain, path, tag and digest; `None` where the table says `-` or says nothing.
    pub(crate) parts: [Option<String>; 4],
}

pub(crate) fn digests() -> Vec<DigestRow> {
    rows("digests.tsv", include_str!("../../testdata/digests.tsv"))
        .map(|(at, fields)| DigestRow {
            at,
            input: fields[0].clone(),
            expected: fields[1].clone(),
        })
        .collect()
}

pub(crate) fn references() -> Vec<ReferenceRow> {
    rows(
        "references.tsv",
        include_str!("../../testdata/references.tsv"),
    )
    .map(|(at, fields)| {
        let part = |i: usize| fields.get(i).filter(|f| *f != "-").cloned();
        ReferenceRow {
            at,
            mode: fields[0].clone(),
            input: fields[1].clone(),
            expected: fields[2].clone(),
            parts: [part(3), part(4), part(5), part(6)],
        }
    })
    .collect()
}

/// Every input of both tables, for seeding generators.
pub(crate) fn all_inputs() -> Vec<String> {
    let mut inputs: Vec<String> = digests().into_iter().map(|r| r.input).collect();
    inputs.extend(references().into_iter().map(|r| r.input));
    inputs
}

fn rows<'a>(file: &'a str, text: &'a str) -> impl Iterator<Item = (String, Vec<String>)> + 'a {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(move |(number, line)| {
            let fields = line.split('\t').map(expand).collect();
            (format!("{file}:{}: {line}", number + 1), fields)
        })
}

/// Expands `{hexN}`, `{HEXN}`, `{aN}` and `<empty>`.
pub(crate) fn expand(field: &str) -> String {
    if field == "<empty>" {
        return String::new();
    }
    let mut out = String::new();
    let mut rest = field;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').unwrap();
        let placeholder = &rest[open + 1..close];
        let (alphabet, count) = if let Some(n) = placeholder.strip_prefix("hex") {
            ("0123456789abcdef", n)
        } else if let Some(n) = placeholder.strip_prefix("HEX") {
            ("0123456789ABCDEF", n)
        } else if let Some(n) = placeholder.strip_prefix('a') {
            ("a", n)
        } else {
            panic!("unknown placeholder {{{placeholder}}}");
        };
        let count: usize = count.parse().unwrap();
        out.extend(alphabet.chars().cycle().take(count));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}
