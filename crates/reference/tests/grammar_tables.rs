//! Every row of `testdata/digests.tsv` and `testdata/references.tsv`, checked against the parsers.

mod table;

use gantry_reference::{Digest, Reference, RepositoryName, Tag};

#[test]
fn digest_table() {
    let rows = table::digests();
    assert!(rows.len() > 30, "the digest table has {} rows", rows.len());
    for row in rows {
        let outcome = Digest::parse(&row.input);
        match row.expected.as_str() {
            "ok" => {
                let digest = outcome.unwrap_or_else(|e| panic!("{}: {e:?}", row.at));
                assert_eq!(digest.as_str(), row.input, "{}", row.at);
            }
            error => assert_eq!(
                outcome.map_err(|e| format!("{e:?}")),
                Err(error.to_owned()),
                "{}",
                row.at
            ),
        }
    }
}

#[test]
fn reference_table() {
    let rows = table::references();
    assert!(
        rows.len() > 150,
        "the reference table has {} rows",
        rows.len()
    );
    for row in rows {
        let input = row.input.as_str();
        let outcome: Result<(String, Option<Reference>), String> = match row.mode.as_str() {
            "parse" => Reference::parse(input).map(|r| (r.to_string(), Some(r))),
            "normalized" => Reference::parse_normalized(input).map(|r| (r.to_string(), Some(r))),
            "named" => Reference::parse_named(input).map(|r| (r.to_string(), Some(r))),
            "docker" => Reference::parse_docker_ref(input).map(|r| (r.to_string(), Some(r))),
            "familiar" => Reference::parse_normalized(input).map(|r| (r.familiar_string(), None)),
            "repository" => RepositoryName::parse(input).map(|n| (n.to_string(), None)),
            "tag" => Tag::parse(input).map(|t| (t.to_string(), None)),
            mode => panic!("{}: unknown mode {mode}", row.at),
        }
        .map_err(|e| format!("{e:?}"));

        if let Some(error) = row.expected.strip_prefix('!') {
            assert_eq!(outcome.map(|(s, _)| s), Err(error.to_owned()), "{}", row.at);
            continue;
        }
        let (printed, reference) = outcome.unwrap_or_else(|e| panic!("{}: {e}", row.at));
        assert_eq!(printed, row.expected, "{}", row.at);
        if let Some(reference) = reference {
            let [domain, path, tag, digest] = &row.parts;
            assert_eq!(reference.domain(), domain.as_deref(), "{}: domain", row.at);
            assert_eq!(Some(reference.path()), path.as_deref(), "{}: path", row.at);
            assert_eq!(reference.tag(), tag.as_deref(), "{}: tag", row.at);
            assert_eq!(
                reference.digest().map(Digest::as_str),
                digest.as_deref(),
                "{}: digest",
                row.at
            );
            assert_eq!(
                Reference::parse(reference.as_str()),
                Ok(reference),
                "{}: round trip",
                row.at
            );
        }
    }
}

/// Every table input is a committed seed of the fuzz target for its parser, so the fuzzer starts
/// from the grammar's corners. `GANTRY_BLESS=1 cargo test -p gantry-reference --test
/// grammar_tables` writes the missing ones.
#[test]
fn fuzz_seeds_hold_every_table_input() {
    use gantry_reference::Algorithm;
    use std::path::Path;

    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let bless = std::env::var_os("GANTRY_BLESS").is_some();
    let targets = [
        (
            "digest_parse",
            table::digests()
                .into_iter()
                .map(|r| r.input)
                .collect::<Vec<_>>(),
        ),
        (
            "reference_parse",
            table::references().into_iter().map(|r| r.input).collect(),
        ),
    ];
    let mut missing = Vec::new();
    for (target, inputs) in targets {
        let dir = corpus.join(target);
        for input in inputs {
            let digest = Digest::of(Algorithm::Sha256, input.as_bytes());
            let seed = dir.join(&digest.encoded()[..16]);
            if seed.exists() {
                continue;
            }
            if bless {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&seed, &input).unwrap();
            } else {
                missing.push(format!("{target}: {input:?}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "table inputs missing from fuzz/corpus (run with GANTRY_BLESS=1 to add them):\n{}",
        missing.join("\n")
    );
}
