//! Properties over generated input: valid references round-trip, nothing panics, and hashing does
//! not depend on how the bytes are chunked.

#![allow(
    clippy::expect_used,
    reason = "a bad strategy pattern is a bug in the test"
)]

mod table;

use gantry_reference::{Algorithm, Digest, Digester, Reference, RepositoryName, Tag};
use proptest::prelude::*;
use proptest::string::string_regex;

fn regex(pattern: &str) -> impl Strategy<Value = String> + use<> {
    string_regex(pattern).expect("a valid strategy pattern")
}

fn path_component() -> impl Strategy<Value = String> {
    regex("[a-z0-9]{1,6}((\\.|_|__|-{1,3})[a-z0-9]{1,6}){0,2}")
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(path_component(), 1..5).prop_map(|parts| parts.join("/"))
}

fn domain() -> impl Strategy<Value = String> {
    let host = prop_oneof![
        regex(
            "[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?){0,3}"
        ),
        regex("\\[[0-9a-fA-F:]{1,39}\\]"),
    ];
    (host, prop::option::of(1u16..)).prop_map(|(host, port)| match port {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

fn tag() -> impl Strategy<Value = String> {
    regex("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
}

fn digest() -> impl Strategy<Value = Digest> {
    (
        prop::sample::select(Algorithm::ALL.to_vec()),
        any::<Vec<u8>>(),
    )
        .prop_map(|(algorithm, data)| Digest::of(algorithm, &data))
}

/// Strings over the reference alphabet, which reach the parser's corners more often than
/// arbitrary text.
fn reference_shaped_noise() -> impl Strategy<Value = String> {
    regex("[a-zA-Z0-9._:/@\\[\\]-]{0,48}")
}

/// A table input with one character inserted, replaced or removed.
fn mutated_table_input() -> impl Strategy<Value = String> {
    let inputs = table::all_inputs();
    (
        prop::sample::select(inputs),
        any::<prop::sample::Index>(),
        prop::sample::select(vec![
            '/', ':', '@', '.', '-', '_', '[', ']', 'A', 'a', '0', ' ',
        ]),
        0..3u8,
    )
        .prop_map(|(input, index, c, operation)| {
            let mut chars: Vec<char> = input.chars().collect();
            let at = index.index(chars.len() + 1);
            match operation {
                0 => chars.insert(at, c),
                1 if at < chars.len() => chars[at] = c,
                _ if at < chars.len() => {
                    chars.remove(at);
                }
                _ => chars.push(c),
            }
            chars.into_iter().collect()
        })
}

/// Every parser on `input`; whatever one accepts must read back as itself.
fn check_every_parser(input: &str) -> Result<(), TestCaseError> {
    if let Ok(reference) = Reference::parse(input) {
        prop_assert_eq!(reference.as_str(), input);
    }
    for parser in [
        Reference::parse,
        Reference::parse_normalized,
        Reference::parse_named,
        Reference::parse_docker_ref,
    ] {
        if let Ok(reference) = parser(input) {
            prop_assert_eq!(Reference::parse(reference.as_str()), Ok(reference.clone()));
        }
    }
    if let Ok(name) = RepositoryName::parse(input) {
        prop_assert_eq!(name.as_str(), input);
        prop_assert!(name.as_str().len() <= RepositoryName::MAX_LEN);
    }
    if let Ok(tag) = Tag::parse(input) {
        prop_assert_eq!(tag.as_str(), input);
    }
    if let Ok(digest) = Digest::parse(input) {
        prop_assert_eq!(digest.as_str(), input);
    }
    Ok(())
}

proptest! {
    #[test]
    fn valid_references_round_trip(
        domain in prop::option::of(domain()),
        path in path(),
        tag in prop::option::of(tag()),
        digest in prop::option::of(digest()),
    ) {
        prop_assume!(path.len() <= 255);
        let name = match &domain {
            Some(domain) => format!("{domain}/{path}"),
            None => path.clone(),
        };
        let mut text = name.clone();
        if let Some(tag) = &tag {
            text = format!("{text}:{tag}");
        }
        if let Some(digest) = &digest {
            text = format!("{text}@{digest}");
        }

        let reference = Reference::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(reference.as_str(), text.as_str());
        prop_assert_eq!(reference.name(), name);
        if let Some(domain) = &domain {
            prop_assert_eq!(reference.domain(), Some(domain.as_str()));
            prop_assert_eq!(reference.path(), path.as_str());
        }
        prop_assert_eq!(reference.tag(), tag.as_deref());
        prop_assert_eq!(reference.digest(), digest.as_ref());
        prop_assert_eq!(Reference::parse(reference.as_str()), Ok(reference.clone()));
        prop_assert_eq!(RepositoryName::parse(&path).map(|n| n.to_string()), Ok(path.clone()));
    }

    #[test]
    fn normalised_references_survive_their_familiar_form(
        domain in prop::option::of(prop_oneof![domain(), Just("docker.io".to_owned())]),
        path in path(),
        tag in prop::option::of(tag()),
    ) {
        let mut text = match domain {
            Some(domain) => format!("{domain}/{path}"),
            None => path,
        };
        if let Some(tag) = tag {
            text = format!("{text}:{tag}");
        }
        // No domain assertion: as in Go, `a.b_c/d` normalises with none, because its first
        // component looks like a host to the splitter but is not a valid one.
        if let Ok(reference) = Reference::parse_normalized(&text) {
            let familiar = reference.familiar_string();
            // As in Go, `docker.io/a.b/c` is familiar as `a.b/c`, which names the host `a.b`.
            let first = familiar.split('/').next().unwrap_or_default();
            let looks_like_host = familiar.contains('/') && (first.contains(['.', ':']) || first == "localhost");
            if !looks_like_host {
                prop_assert_eq!(Reference::parse_normalized(&familiar), Ok(reference));
            }
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(input in any::<String>()) {
        check_every_parser(&input)?;
    }

    #[test]
    fn reference_shaped_strings_never_panic(input in reference_shaped_noise()) {
        check_every_parser(&input)?;
    }

    #[test]
    fn mutated_table_inputs_never_panic(input in mutated_table_input()) {
        check_every_parser(&input)?;
    }

    #[test]
    fn digesting_ignores_chunking(
        data in prop::collection::vec(any::<u8>(), 0..4096),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        algorithm in prop::sample::select(Algorithm::ALL.to_vec()),
    ) {
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
        cuts.sort_unstable();
        let mut digester = algorithm.digester();
        let mut start = 0;
        for cut in cuts.into_iter().chain([data.len()]) {
            digester.update(&data[start..cut]);
            start = cut;
        }
        prop_assert_eq!(digester.finish(), Digest::of(algorithm, &data));
    }

    #[test]
    fn a_saved_state_resumes_where_it_stopped(
        data in prop::collection::vec(any::<u8>(), 0..1024),
        cut in any::<prop::sample::Index>(),
        algorithm in prop::sample::select(Algorithm::ALL.to_vec()),
    ) {
        let cut = cut.index(data.len() + 1);
        let mut before = algorithm.digester();
        before.update(&data[..cut]);
        let mut after = Digester::resume(algorithm, &before.state()).unwrap();
        after.update(&data[cut..]);
        prop_assert_eq!(after.finish(), Digest::of(algorithm, &data));
    }
}
