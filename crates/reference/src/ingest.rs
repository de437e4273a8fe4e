//! Resumable ingest: content received in pieces, perhaps by several processes, with its hash
//! state saved beside the data ([`SavedState`]), and the rules for trusting a saved state when
//! the ingest is picked up again ([`Resume`]). The data itself, and where the state is kept,
//! are the caller's: this module does no I/O.

use std::io;

use crate::{Algorithm, Digest, DigestError, Digester};

/// Content being received: its running hash and how many bytes it has had.
///
/// ```
/// use gantry_reference::{Algorithm, Digest, Ingest, Resume};
///
/// let mut ingest = Ingest::new(Algorithm::Sha256);
/// ingest.update(b"hello ");
/// let saved = ingest.saved();
///
/// // Later, perhaps in another process, with the 6 bytes of data kept beside the state:
/// let Resume::Continue(mut resumed) = Resume::trusting_state(Algorithm::Sha256, Some(&saved), 6)
/// else {
///     panic!("a whole state saved at the data's length is trusted");
/// };
/// resumed.update(b"world");
/// assert_eq!(resumed.finish(), Digest::of(Algorithm::Sha256, b"hello world"));
/// ```
#[derive(Debug, Clone)]
pub struct Ingest {
    digester: Digester,
    length: u64,
}

impl Ingest {
    /// An ingest that has had no bytes yet, hashed with `algorithm`.
    pub fn new(algorithm: Algorithm) -> Ingest {
        Ingest {
            digester: Digester::new(algorithm),
            length: 0,
        }
    }

    /// The algorithm the content is hashed with.
    pub fn algorithm(&self) -> Algorithm {
        self.digester.algorithm()
    }

    /// How many bytes the ingest has had.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// Feeds the next bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.digester.update(data);
        self.length += data.len() as u64;
    }

    /// The state to save beside the data now, to resume from later.
    pub fn saved(&self) -> SavedState {
        SavedState {
            algorithm: self.algorithm(),
            offset: self.length,
            state: self.digester.state(),
        }
    }

    /// The digest of the bytes so far; the ingest goes on.
    pub fn digest(&self) -> Digest {
        self.digester.clone().finish()
    }

    /// The digest of every byte fed.
    pub fn finish(self) -> Digest {
        self.digester.finish()
    }
}

/// A hash state as saved beside partial content: the algorithm, how many bytes of the content
/// it has seen (its offset), and the [`Digester::state`] after them, raw or in lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedState {
    algorithm: Algorithm,
    offset: u64,
    state: Vec<u8>,
}

impl SavedState {
    /// A state read back from where it was saved; it is checked only when resumed.
    pub fn new(algorithm: Algorithm, offset: u64, state: Vec<u8>) -> SavedState {
        SavedState {
            algorithm,
            offset,
            state,
        }
    }

    /// A state saved in hex ([`to_hex`](Self::to_hex)); [`DigestError::InvalidState`] when
    /// `hex` is not lower- or upper-case hex of whole bytes.
    pub fn from_hex(algorithm: Algorithm, offset: u64, hex: &str) -> Result<Self, DigestError> {
        let digit = |b: u8| char::from(b).to_digit(16).ok_or(DigestError::InvalidState);
        if !hex.len().is_multiple_of(2) {
            return Err(DigestError::InvalidState);
        }
        let state = hex
            .as_bytes()
            .chunks_exact(2)
            .map(|pair| Ok(u8::try_from((digit(pair[0])? << 4) | digit(pair[1])?).unwrap_or(0)))
            .collect::<Result<Vec<u8>, DigestError>>()?;
        Ok(SavedState::new(algorithm, offset, state))
    }

    /// The algorithm the state belongs to.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// How many bytes of the content the state has seen.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The state's bytes, as saved raw.
    pub fn as_bytes(&self) -> &[u8] {
        &self.state
    }

    /// The state's bytes, to save raw.
    pub fn into_bytes(self) -> Vec<u8> {
        self.state
    }

    /// The state's bytes in lower-case hex, for formats that save text.
    pub fn to_hex(&self) -> String {
        crate::digest::encode_hex(&self.state)
    }

    /// The ingest this state resumes, when the state is whole: of its algorithm, not
    /// truncated or corrupt.
    fn ingest(&self) -> Option<Ingest> {
        let digester = Digester::resume(self.algorithm, &self.state).ok()?;
        Some(Ingest {
            digester,
            length: self.offset,
        })
    }
}

/// How an ingest is picked up again from the data kept and the state saved beside it.
///
/// The data is what counts; a saved state is a shortcut past hashing it again, taken only when
/// it can be trusted. Two rules decide that, one per kind of keeper:
/// [`trusting_state`](Self::trusting_state) where states are saved at the data's length as a
/// session ends (the registry store's uploads), [`checking_data`](Self::checking_data) where
/// states are checkpoints the data may have outrun or been damaged since (a layout's ingest
/// area).
#[derive(Debug)]
pub enum Resume {
    /// Carry on from the saved state.
    Continue(Ingest),
    /// Hash the first [`Rehash::length`] bytes of the data again, then carry on from there.
    Rehash(Rehash),
    /// Nothing kept can be trusted: discard it and start over.
    Restart,
}

impl Resume {
    /// The rule for states saved at the data's length: `saved` is trusted when it is whole
    /// and saved at `data_length`; otherwise (missing, another length, damaged) all
    /// `data_length` bytes are hashed again with `algorithm`. Never [`Resume::Restart`].
    pub fn trusting_state(
        algorithm: Algorithm,
        saved: Option<&SavedState>,
        data_length: u64,
    ) -> Resume {
        let trusted = saved
            .filter(|saved| saved.algorithm == algorithm && saved.offset == data_length)
            .and_then(SavedState::ingest);
        match trusted {
            Some(ingest) => Resume::Continue(ingest),
            None => Resume::Rehash(Rehash::new(algorithm, data_length)),
        }
    }

    /// The rule for checkpoints: the first `saved.offset()` bytes are kept (anything after
    /// them is to be cut off) only when `saved` is whole, the data holds at least that many
    /// bytes, and they hash again to the saved state; otherwise [`Resume::Restart`]. An
    /// empty checkpoint keeps nothing.
    pub fn checking_data(saved: Option<&SavedState>, data_length: u64) -> Resume {
        let Some(saved) = saved.filter(|saved| saved.offset > 0 && saved.offset <= data_length)
        else {
            return Resume::Restart;
        };
        match saved.ingest() {
            Some(expected) => Resume::Rehash(Rehash {
                ingest: Ingest::new(saved.algorithm),
                length: saved.offset,
                expected: Some(expected.finish()),
            }),
            None => Resume::Restart,
        }
    }
}

/// The data of a resumed ingest, hashed again: feed it the first [`length`](Self::length)
/// bytes, then [`finish`](Self::finish).
#[derive(Debug)]
pub struct Rehash {
    ingest: Ingest,
    length: u64,
    /// What the bytes must hash to, for a checkpoint being checked.
    expected: Option<Digest>,
}

impl Rehash {
    /// Hashes the first `length` bytes of some data with `algorithm`: the data of an ingest
    /// being checked against a digest of another algorithm than its running hash.
    pub fn new(algorithm: Algorithm, length: u64) -> Rehash {
        Rehash {
            ingest: Ingest::new(algorithm),
            length,
            expected: None,
        }
    }

    /// How many leading bytes of the data to feed.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// How many bytes are still to be fed.
    pub fn remaining(&self) -> u64 {
        self.length.saturating_sub(self.ingest.length)
    }

    /// Feeds the next bytes of the data.
    pub fn update(&mut self, data: &[u8]) {
        self.ingest.update(data);
    }

    /// The ingest to carry on with: [`DigestError::SizeMismatch`] when it was not fed exactly
    /// [`length`](Self::length) bytes, [`DigestError::InvalidState`] when a checkpoint's data
    /// does not hash to the checkpoint.
    pub fn finish(self) -> Result<Ingest, DigestError> {
        if self.ingest.length != self.length {
            return Err(DigestError::SizeMismatch {
                expected: self.length,
                actual: self.ingest.length,
            });
        }
        match self.expected {
            Some(expected) if self.ingest.digest() != expected => Err(DigestError::InvalidState),
            _ => Ok(self.ingest),
        }
    }
}

impl io::Write for Rehash {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved_after(data: &[u8]) -> SavedState {
        let mut ingest = Ingest::new(Algorithm::Sha256);
        ingest.update(data);
        ingest.saved()
    }

    #[test]
    fn states_round_trip_through_hex() {
        let saved = saved_after(b"abc");
        let hex = saved.to_hex();
        assert_eq!(SavedState::from_hex(Algorithm::Sha256, 3, &hex), Ok(saved));
        assert_eq!(
            SavedState::from_hex(Algorithm::Sha256, 3, "0g"),
            Err(DigestError::InvalidState)
        );
        assert_eq!(
            SavedState::from_hex(Algorithm::Sha256, 3, "abc"),
            Err(DigestError::InvalidState)
        );
    }

    #[test]
    fn a_state_at_another_length_or_damaged_means_hashing_again() {
        let saved = saved_after(b"abc");
        assert!(matches!(
            Resume::trusting_state(Algorithm::Sha256, Some(&saved), 3),
            Resume::Continue(ingest) if ingest.length() == 3
        ));
        let Resume::Rehash(mut rehash) = Resume::trusting_state(Algorithm::Sha256, Some(&saved), 5)
        else {
            panic!("a state at another length is not trusted");
        };
        assert_eq!(rehash.length(), 5);
        rehash.update(b"abcde");
        assert_eq!(
            rehash.finish().map(Ingest::finish),
            Ok(Digest::of(Algorithm::Sha256, b"abcde"))
        );
        let damaged = SavedState::new(Algorithm::Sha256, 3, vec![1, 2, 3]);
        assert!(matches!(
            Resume::trusting_state(Algorithm::Sha256, Some(&damaged), 3),
            Resume::Rehash(_)
        ));
        assert!(matches!(
            Resume::trusting_state(Algorithm::Sha512, Some(&saved), 3),
            Resume::Rehash(_)
        ));
    }

    #[test]
    fn a_checkpoint_keeps_its_prefix_only_when_the_data_hashes_to_it() {
        let saved = saved_after(b"abc");
        let Resume::Rehash(mut rehash) = Resume::checking_data(Some(&saved), 10) else {
            panic!("a checkpoint within the data is checked");
        };
        assert_eq!(rehash.length(), 3);
        rehash.update(b"abc");
        assert_eq!(rehash.finish().map(|ingest| ingest.length()), Ok(3));

        let Resume::Rehash(mut rehash) = Resume::checking_data(Some(&saved), 3) else {
            panic!("a checkpoint within the data is checked");
        };
        rehash.update(b"abd");
        assert_eq!(rehash.finish().unwrap_err(), DigestError::InvalidState);

        assert!(matches!(
            Resume::checking_data(Some(&saved), 2),
            Resume::Restart
        ));
        assert!(matches!(Resume::checking_data(None, 2), Resume::Restart));
        assert!(matches!(
            Resume::checking_data(Some(&saved_after(b"")), 2),
            Resume::Restart
        ));
    }
}
