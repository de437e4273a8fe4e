//! The parts of the API the grammar tables do not reach: hashing, verification, builders,
//! ordering, errors and serde.

use std::collections::BTreeSet;
use std::io::Write;

use gantry_reference::{
    Algorithm, Digest, DigestError, Digester, Reference, ReferenceError, RepositoryName, Tag,
    Verifier,
};

/// Known answers: the empty string and "abc" under both algorithms.
const KNOWN_ANSWERS: &[(Algorithm, &[u8], &str)] = &[
    (
        Algorithm::Sha256,
        b"",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    (
        Algorithm::Sha256,
        b"abc",
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ),
    (
        Algorithm::Sha512,
        b"abc",
        "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    ),
];

#[test]
fn digests_match_known_answers() {
    for &(algorithm, data, expected) in KNOWN_ANSWERS {
        let digest = Digest::of(algorithm, data);
        assert_eq!(digest.as_str(), expected);
        assert_eq!(digest.algorithm(), algorithm);
        assert_eq!(digest.encoded(), expected.split_once(':').unwrap().1);
        assert_eq!(expected.parse::<Digest>().unwrap(), digest);
    }
}

#[test]
fn digester_is_a_writer_and_takes_any_chunking() {
    let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    for algorithm in Algorithm::ALL {
        let mut digester = algorithm.digester();
        for chunk in data.chunks(997) {
            digester.write_all(chunk).unwrap();
        }
        digester.flush().unwrap();
        assert_eq!(digester.algorithm(), algorithm);
        assert_eq!(digester.finish(), Digest::of(algorithm, &data));
    }
}

#[test]
fn verifier_accepts_the_right_bytes_and_names_the_wrong_ones() {
    let expected = Digest::of(Algorithm::Sha512, b"content");
    let mut verifier = Verifier::new(expected.clone());
    verifier.write_all(b"con").unwrap();
    verifier.update(b"tent");
    assert_eq!(verifier.expected(), &expected);
    assert_eq!(verifier.clone().verify(), Ok(expected.clone()));
    assert!(verifier.verified());

    let mut verifier = Verifier::new(expected.clone());
    verifier.update(b"contenT");
    let error = verifier.verify().unwrap_err();
    assert!(error.is_mismatch());
    assert_eq!(
        error,
        DigestError::Mismatch {
            expected: expected.clone(),
            actual: Digest::of(Algorithm::Sha512, b"contenT"),
        }
    );
    assert!(error.to_string().contains(expected.as_str()));
    assert!(
        !Verifier::new(expected).verified(),
        "no bytes is not the content"
    );
}

#[test]
fn algorithms_parse_by_name() {
    assert_eq!("sha256".parse(), Ok(Algorithm::Sha256));
    assert_eq!("sha512".parse(), Ok(Algorithm::Sha512));
    assert_eq!("sha384".parse::<Algorithm>(), Err(DigestError::Unsupported));
    assert_eq!(
        "SHA256".parse::<Algorithm>(),
        Err(DigestError::InvalidFormat)
    );
    assert_eq!("".parse::<Algorithm>(), Err(DigestError::InvalidFormat));
    for algorithm in Algorithm::ALL {
        assert_eq!(algorithm.to_string().parse(), Ok(algorithm));
        assert_eq!(algorithm.encoded_len(), 2 * algorithm.output_len());
    }
}

#[test]
fn digests_order_and_compare_as_strings() {
    let a = Digest::of(Algorithm::Sha256, b"a");
    let b = Digest::of(Algorithm::Sha256, b"b");
    let c = Digest::of(Algorithm::Sha512, b"a");
    let set: BTreeSet<&Digest> = [&c, &b, &a].into_iter().collect();
    let mut strings = vec![a.as_str(), b.as_str(), c.as_str()];
    strings.sort();
    assert_eq!(set.iter().map(|d| d.as_str()).collect::<Vec<_>>(), strings);
    assert_eq!(format!("{a:?}"), format!("Digest({a})"));
}

#[test]
fn with_tag_and_with_digest_keep_the_other_part() {
    let digest = Digest::of(Algorithm::Sha256, b"manifest");
    let reference = Reference::parse("example.com/team/app:1.0").unwrap();

    let pinned = reference.with_digest(digest.clone());
    assert_eq!(
        pinned.to_string(),
        format!("example.com/team/app:1.0@{digest}")
    );
    assert_eq!(pinned.tag(), Some("1.0"));
    assert_eq!(pinned.digest(), Some(&digest));

    let retagged = pinned.with_tag("2.0").unwrap();
    assert_eq!(
        retagged.to_string(),
        format!("example.com/team/app:2.0@{digest}")
    );
    assert_eq!(retagged.domain(), Some("example.com"));
    assert_eq!(retagged.path(), "team/app");

    assert_eq!(retagged.name_only().to_string(), "example.com/team/app");
    assert_eq!(retagged.name(), "example.com/team/app");
    for bad in ["", ".x", "a/b", "a:b", &"t".repeat(129)] {
        assert_eq!(
            reference.with_tag(bad),
            Err(ReferenceError::TagInvalidFormat),
            "{bad:?}"
        );
    }
    assert_eq!(Reference::parse(retagged.as_str()), Ok(retagged));
}

#[test]
fn references_order_compare_and_display_as_strings() {
    let a: Reference = "a/b:1".parse().unwrap();
    let b: Reference = "a/b:2".parse().unwrap();
    assert!(a < b);
    assert_ne!(a, b);
    assert_eq!(format!("{a:?}"), "Reference(a/b:1)");
    assert_eq!(a.as_ref(), "a/b:1");
}

#[test]
fn names_and_tags_display_and_split() {
    let name: RepositoryName = "team/sub/app".parse().unwrap();
    assert_eq!(
        name.components().collect::<Vec<_>>(),
        ["team", "sub", "app"]
    );
    assert_eq!(format!("{name:?}"), "RepositoryName(team/sub/app)");
    let tag: Tag = "v1".parse().unwrap();
    assert_eq!(format!("{tag} {tag:?}"), "v1 Tag(v1)");
    assert_eq!(RepositoryName::MAX_LEN, 255);
    assert_eq!(Tag::MAX_LEN, 128);
}

#[test]
fn reference_errors_read_like_the_go_package() {
    let cases: &[(ReferenceError, &str)] = &[
        (ReferenceError::InvalidFormat, "invalid reference format"),
        (ReferenceError::TagInvalidFormat, "invalid tag format"),
        (
            ReferenceError::NameContainsUppercase,
            "repository name must be lowercase",
        ),
        (
            ReferenceError::NameEmpty,
            "repository name must have at least one component",
        ),
        (
            ReferenceError::NameTooLong,
            "repository name must not be more than 255 characters",
        ),
        (
            ReferenceError::NameNotCanonical,
            "repository name must be canonical",
        ),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), *message);
    }
    let wrapped = ReferenceError::DigestInvalidFormat(DigestError::InvalidLength);
    let source = std::error::Error::source(&wrapped).unwrap();
    assert_eq!(source.to_string(), "invalid checksum digest length");
}

#[cfg(feature = "serde")]
#[test]
fn serde_writes_and_validates_strings() {
    let digest = Digest::of(Algorithm::Sha256, b"x");
    let json = serde_json::to_string(&digest).unwrap();
    assert_eq!(json, format!("\"{digest}\""));
    assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), digest);
    assert!(serde_json::from_str::<Digest>("\"sha256:abc\"").is_err());
    assert!(serde_json::from_str::<Digest>("42").is_err());

    let reference = Reference::parse("example.com/app:1").unwrap();
    let json = serde_json::to_string(&reference).unwrap();
    assert_eq!(serde_json::from_str::<Reference>(&json).unwrap(), reference);
    assert!(serde_json::from_str::<Reference>("\"Bad:Ref\"").is_err());

    assert_eq!(
        serde_json::from_str::<RepositoryName>("\"a/b\"")
            .unwrap()
            .as_str(),
        "a/b"
    );
    assert!(serde_json::from_str::<RepositoryName>("\"a/../b\"").is_err());
    assert_eq!(
        serde_json::from_str::<Tag>("\"v1\"").unwrap().as_str(),
        "v1"
    );
    assert!(serde_json::from_str::<Tag>("\".v1\"").is_err());
}

#[test]
fn saved_states_resume_only_for_their_algorithm() {
    let mut digester = Digester::new(Algorithm::Sha256);
    digester.update(b"part one");
    let state = digester.state();
    assert!(Digester::resume(Algorithm::Sha256, &state).is_ok());
    assert_eq!(
        Digester::resume(Algorithm::Sha512, &state).unwrap_err(),
        DigestError::InvalidState
    );
    assert_eq!(
        Digester::resume(Algorithm::Sha256, &state[..state.len() - 1]).unwrap_err(),
        DigestError::InvalidState
    );
    assert_eq!(
        Digester::resume(Algorithm::Sha256, &[]).unwrap_err(),
        DigestError::InvalidState
    );
    let mut bad_position = state.clone();
    *bad_position.last_mut().unwrap() = 0xff;
    assert_eq!(
        Digester::resume(Algorithm::Sha256, &bad_position).unwrap_err(),
        DigestError::InvalidState,
        "a buffered-byte count past the block size"
    );
}
