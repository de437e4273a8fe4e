//! [`ChunkVerifier`]: content checked chunk by chunk, with the last chunk held back until the
//! whole has matched its size and digest.

use crate::{Digest, DigestError, Verifier};

/// Checks content that arrives in chunks against an expected size and digest, holding back the
/// most recent chunk: a chunk is handed on only once the next one has arrived, and the last one
/// only once the whole has matched. A consumer that writes each chunk it is handed therefore
/// never completes unverified content.
///
/// It does no I/O: a stream adaptor feeds it what arrives and hands on what it answers.
///
/// ```
/// use gantry_reference::{Algorithm, ChunkVerifier, Digest};
///
/// let digest = Digest::of(Algorithm::Sha256, b"layer");
/// let mut check = ChunkVerifier::new(Some(digest), Some(5));
/// assert_eq!(check.push(&b"lay"[..]), Ok(None));
/// assert_eq!(check.push(&b"er"[..]), Ok(Some(&b"lay"[..])));
/// assert_eq!(check.finish(), Ok(Some(&b"er"[..])));
///
/// let mut check = ChunkVerifier::new(Some(Digest::of(Algorithm::Sha256, b"layer")), None);
/// assert_eq!(check.push(&b"tampered"[..]), Ok(None));
/// assert!(check.finish().unwrap_err().is_mismatch());
/// ```
#[derive(Debug, Clone)]
pub struct ChunkVerifier<T> {
    verifier: Option<Verifier>,
    size: Option<u64>,
    received: u64,
    held: Option<T>,
}

impl<T: AsRef<[u8]>> ChunkVerifier<T> {
    /// A check against `digest` and `size`; either may be left out (a byte range has no digest
    /// of its own, a body of unannounced length no size).
    pub fn new(digest: Option<Digest>, size: Option<u64>) -> ChunkVerifier<T> {
        ChunkVerifier {
            verifier: digest.map(Verifier::new),
            size,
            received: 0,
            held: None,
        }
    }

    /// The digest the content is checked against, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.verifier.as_ref().map(Verifier::expected)
    }

    /// The size the content must have, if known.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// How many bytes have been pushed so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Takes the next chunk and answers the one before it, now safe to hand on (`None` for the
    /// first chunk, and for an empty one, which is dropped). Content that has grown past the
    /// expected size is [`DigestError::SizeMismatch`] at once, and the held chunk is dropped.
    pub fn push(&mut self, chunk: T) -> Result<Option<T>, DigestError> {
        let length = chunk.as_ref().len() as u64;
        if length == 0 {
            return Ok(None);
        }
        self.received += length;
        if let Some(expected) = self.size
            && self.received > expected
        {
            self.held = None;
            return Err(DigestError::SizeMismatch {
                expected,
                actual: self.received,
            });
        }
        if let Some(verifier) = &mut self.verifier {
            verifier.update(chunk.as_ref());
        }
        Ok(self.held.replace(chunk))
    }

    /// The content has ended: answers the last chunk once the size and then the digest matched,
    /// or [`DigestError::SizeMismatch`] or [`DigestError::Mismatch`], and the last chunk is
    /// dropped.
    pub fn finish(self) -> Result<Option<T>, DigestError> {
        if let Some(expected) = self.size
            && self.received != expected
        {
            return Err(DigestError::SizeMismatch {
                expected,
                actual: self.received,
            });
        }
        if let Some(verifier) = self.verifier {
            verifier.verify()?;
        }
        Ok(self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;

    #[test]
    fn too_long_content_fails_as_soon_as_it_grows_past_the_size() {
        let mut check = ChunkVerifier::new(None, Some(4));
        assert_eq!(check.push(vec![1, 2, 3]), Ok(None));
        assert_eq!(
            check.push(vec![4, 5]),
            Err(DigestError::SizeMismatch {
                expected: 4,
                actual: 5
            })
        );
    }

    #[test]
    fn short_content_fails_at_the_end_and_keeps_its_last_chunk() {
        let digest = Digest::of(Algorithm::Sha256, b"abc");
        let mut check = ChunkVerifier::new(Some(digest), Some(4));
        assert_eq!(check.push(b"abc".to_vec()), Ok(None));
        assert_eq!(
            check.finish(),
            Err(DigestError::SizeMismatch {
                expected: 4,
                actual: 3
            })
        );
    }

    #[test]
    fn empty_chunks_are_dropped_and_empty_content_verifies() {
        let digest = Digest::of(Algorithm::Sha512, b"");
        let mut check = ChunkVerifier::<Vec<u8>>::new(Some(digest), Some(0));
        assert_eq!(check.push(Vec::new()), Ok(None));
        assert_eq!(check.received(), 0);
        assert_eq!(check.finish(), Ok(None));
    }
}
