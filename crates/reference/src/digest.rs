//! Content digests (`algorithm:encoded`) and the streaming hashers that produce and check them.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io;
use std::str::FromStr;

use sha2::Digest as _;
use sha2::digest::common::hazmat::{SerializableState, SerializedState};

use crate::DigestError;

/// A digest algorithm this crate implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// SHA-256, the canonical algorithm of the OCI specifications.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl Algorithm {
    /// Every algorithm this crate implements.
    pub const ALL: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Sha512];

    /// The registered name, as it appears before the colon: `sha256`, `sha512`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// The length of the hash in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }

    /// The length of the encoded (lower-case hex) hash in characters.
    pub const fn encoded_len(self) -> usize {
        self.output_len() * 2
    }

    /// A new streaming hasher for this algorithm.
    pub fn digester(self) -> Digester {
        Digester::new(self)
    }

    /// The registered algorithm with this exact name, if any.
    fn registered(name: &str) -> Option<Algorithm> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = DigestError;

    /// Parses a registered name; a well-formed unregistered one is
    /// [`DigestError::Unsupported`], anything else [`DigestError::InvalidFormat`].
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match Algorithm::registered(name) {
            Some(algorithm) => Ok(algorithm),
            None if is_algorithm_grammar(name.as_bytes()) => Err(DigestError::Unsupported),
            None => Err(DigestError::InvalidFormat),
        }
    }
}

/// A validated digest such as `sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b`.
///
/// Only registered algorithms ([`Algorithm`]) are accepted, with their encoded part in lower-case
/// hex of the exact length. Ordering, equality and hashing are those of the string.
#[derive(Clone)]
pub struct Digest {
    repr: Box<str>,
    algorithm: Algorithm,
}

impl Digest {
    /// Parses and validates a digest string, with the semantics and error order of go-digest.
    ///
    /// ```
    /// use gantry_reference::{Algorithm, Digest, DigestError};
    ///
    /// let hex = "a".repeat(64);
    /// let digest = Digest::parse(&format!("sha256:{hex}")).unwrap();
    /// assert_eq!(digest.algorithm(), Algorithm::Sha256);
    /// assert_eq!(digest.encoded(), hex);
    /// assert_eq!(Digest::parse("sha256:abc"), Err(DigestError::InvalidLength));
    /// assert_eq!(Digest::parse(&format!("sha384:{hex}")), Err(DigestError::Unsupported));
    /// ```
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let algorithm = validate(s)?;
        Ok(Digest {
            repr: s.into(),
            algorithm,
        })
    }

    /// The digest of `data` under `algorithm`.
    pub fn of(algorithm: Algorithm, data: &[u8]) -> Digest {
        let mut digester = Digester::new(algorithm);
        digester.update(data);
        digester.finish()
    }

    /// The algorithm, the part before the colon.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The encoded hash, the lower-case hex after the colon.
    pub fn encoded(&self) -> &str {
        &self.repr[self.algorithm.as_str().len() + 1..]
    }

    /// The whole digest as `algorithm:encoded`.
    pub fn as_str(&self) -> &str {
        &self.repr
    }

    /// Builds a digest from a raw hash of the algorithm's output length.
    fn from_hash(algorithm: Algorithm, hash: &[u8]) -> Digest {
        let name = algorithm.as_str();
        let mut repr = String::with_capacity(name.len() + 1 + hash.len() * 2);
        repr.push_str(name);
        repr.push(':');
        push_hex(&mut repr, hash);
        Digest {
            repr: repr.into_boxed_str(),
            algorithm,
        }
    }
}

/// Appends `bytes` to `out` in lower-case hex.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
}

/// `bytes` in lower-case hex.
pub(crate) fn encode_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

/// Validates `s` as go-digest's `Digest.Validate` does and returns its algorithm.
fn validate(s: &str) -> Result<Algorithm, DigestError> {
    let Some((name, encoded)) = s.split_once(':') else {
        return Err(DigestError::InvalidFormat);
    };
    if name.is_empty() || encoded.is_empty() {
        return Err(DigestError::InvalidFormat);
    }
    match Algorithm::registered(name) {
        Some(algorithm) if encoded.len() != algorithm.encoded_len() => {
            Err(DigestError::InvalidLength)
        }
        Some(algorithm) if encoded.bytes().all(is_lower_hex) => Ok(algorithm),
        Some(_) => Err(DigestError::InvalidFormat),
        None if is_algorithm_grammar(name.as_bytes()) && is_encoded_grammar(encoded.as_bytes()) => {
            Err(DigestError::Unsupported)
        }
        None => Err(DigestError::InvalidFormat),
    }
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// `[a-z0-9]+(?:[.+_-][a-z0-9]+)*`, the OCI image-spec's algorithm grammar.
fn is_algorithm_grammar(name: &[u8]) -> bool {
    let is_component = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let is_separator = |b: u8| matches!(b, b'.' | b'+' | b'_' | b'-');
    let mut previous_was_component = false;
    for &b in name {
        if is_component(b) {
            previous_was_component = true;
        } else if is_separator(b) && previous_was_component {
            previous_was_component = false;
        } else {
            return false;
        }
    }
    previous_was_component
}

/// `[a-zA-Z0-9=_-]+`, the OCI image-spec's encoded grammar.
fn is_encoded_grammar(encoded: &[u8]) -> bool {
    !encoded.is_empty()
        && encoded
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
}

impl PartialEq for Digest {
    fn eq(&self, other: &Self) -> bool {
        self.repr == other.repr
    }
}

impl Eq for Digest {}

impl Hash for Digest {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.repr.hash(state);
    }
}

impl PartialOrd for Digest {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Digest {
    fn cmp(&self, other: &Self) -> Ordering {
        self.repr.cmp(&other.repr)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repr)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.repr)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.repr
    }
}

/// A streaming hasher: feed it bytes in any chunking, then take the [`Digest`].
///
/// ```
/// use std::io::Write;
/// use gantry_reference::{Algorithm, Digest, Digester};
///
/// let mut digester = Digester::new(Algorithm::Sha256);
/// digester.update(b"hello ");
/// digester.write_all(b"world").unwrap();
/// assert_eq!(digester.finish(), Digest::of(Algorithm::Sha256, b"hello world"));
/// ```
#[derive(Clone)]
pub struct Digester {
    state: State,
}

#[derive(Clone)]
enum State {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Digester {
    /// A hasher for `algorithm` that has seen no bytes.
    pub fn new(algorithm: Algorithm) -> Digester {
        let state = match algorithm {
            Algorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => State::Sha512(sha2::Sha512::new()),
        };
        Digester { state }
    }

    /// The algorithm this hasher computes.
    pub fn algorithm(&self) -> Algorithm {
        match self.state {
            State::Sha256(_) => Algorithm::Sha256,
            State::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// Feeds the next bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Sha256(hasher) => hasher.update(data),
            State::Sha512(hasher) => hasher.update(data),
        }
    }

    /// The hasher's internal state, to store now and [`resume`](Self::resume) from later, in
    /// another process if need be. The state records how many bytes were fed; its format is
    /// this crate's own.
    pub fn state(&self) -> Vec<u8> {
        match &self.state {
            State::Sha256(hasher) => hasher.serialize().to_vec(),
            State::Sha512(hasher) => hasher.serialize().to_vec(),
        }
    }

    /// A hasher that carries on from a [`state`](Self::state) of the same algorithm.
    ///
    /// ```
    /// use gantry_reference::{Algorithm, Digest, Digester};
    ///
    /// let mut first = Digester::new(Algorithm::Sha256);
    /// first.update(b"hello ");
    /// let saved = first.state();
    ///
    /// let mut resumed = Digester::resume(Algorithm::Sha256, &saved).unwrap();
    /// resumed.update(b"world");
    /// assert_eq!(resumed.finish(), Digest::of(Algorithm::Sha256, b"hello world"));
    /// ```
    pub fn resume(algorithm: Algorithm, state: &[u8]) -> Result<Digester, DigestError> {
        fn restore<H: SerializableState>(state: &[u8]) -> Result<H, DigestError> {
            let serialized =
                SerializedState::<H>::try_from(state).map_err(|_| DigestError::InvalidState)?;
            H::deserialize(&serialized).map_err(|_| DigestError::InvalidState)
        }
        let state = match algorithm {
            Algorithm::Sha256 => State::Sha256(restore(state)?),
            Algorithm::Sha512 => State::Sha512(restore(state)?),
        };
        Ok(Digester { state })
    }

    /// The digest of every byte fed so far.
    pub fn finish(self) -> Digest {
        match self.state {
            State::Sha256(hasher) => Digest::from_hash(Algorithm::Sha256, &hasher.finalize()),
            State::Sha512(hasher) => Digest::from_hash(Algorithm::Sha512, &hasher.finalize()),
        }
    }
}

impl fmt::Debug for Digester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Digester")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl io::Write for Digester {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Checks streamed content against the digest it is expected to have.
///
/// ```
/// use gantry_reference::{Algorithm, Digest, Verifier};
///
/// let expected = Digest::of(Algorithm::Sha256, b"layer");
/// let mut verifier = Verifier::new(expected.clone());
/// verifier.update(b"lay");
/// verifier.update(b"er");
/// assert_eq!(verifier.verify(), Ok(expected));
///
/// let mut verifier = Verifier::new(Digest::of(Algorithm::Sha256, b"layer"));
/// verifier.update(b"tampered");
/// assert!(verifier.verify().unwrap_err().is_mismatch());
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    expected: Digest,
    digester: Digester,
}

impl Verifier {
    /// A verifier for content expected to hash to `expected`.
    pub fn new(expected: Digest) -> Verifier {
        let digester = Digester::new(expected.algorithm());
        Verifier { expected, digester }
    }

    /// The digest the content is expected to have.
    pub fn expected(&self) -> &Digest {
        &self.expected
    }

    /// Feeds the next bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.digester.update(data);
    }

    /// True when the bytes fed so far hash to the expected digest.
    pub fn verified(self) -> bool {
        self.verify().is_ok()
    }

    /// The expected digest when the bytes fed so far match it, or
    /// [`DigestError::Mismatch`] with the digest they have.
    pub fn verify(self) -> Result<Digest, DigestError> {
        let actual = self.digester.finish();
        if actual == self.expected {
            Ok(actual)
        } else {
            Err(DigestError::Mismatch {
                expected: self.expected,
                actual,
            })
        }
    }
}

impl io::Write for Verifier {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
