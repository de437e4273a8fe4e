//! The state of an unfinished writer, kept at `<file>~writing` so that any process sharing the
//! bucket can carry the file on: the multipart upload's id, the parts sent so far, and the tail
//! too short to be a part yet.
//!
//! The format is text, then bytes: a first line `gantry-writer 1 SIZE TAIL UPLOAD` (UPLOAD is
//! `-` until the multipart upload begins, whose id is stored before any part is recorded), one
//! line per part's entity tag, an empty line, then the tail's bytes. The first line alone says
//! the file's size.

use bytes::{Bytes, BytesMut};

/// The first word of every state.
const MAGIC: &str = "gantry-writer 1";

/// Where the first line of a state ends at the latest.
pub(super) const FIRST_LINE_MAX: u64 = 512;

/// An unfinished writer's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct WriterState {
    /// The multipart upload the parts belong to, once the first part was sent.
    pub(super) upload: Option<String>,
    /// The entity tags of the parts, in order.
    pub(super) parts: Vec<String>,
    /// The bytes after the last part.
    pub(super) tail: Bytes,
    /// The file's size: the parts' bytes and the tail's.
    pub(super) size: u64,
}

impl WriterState {
    /// The state as stored.
    pub(super) fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(64 + self.parts.len() * 40 + self.tail.len());
        let upload = self.upload.as_deref().unwrap_or("-");
        out.extend_from_slice(
            format!("{MAGIC} {} {} {upload}\n", self.size, self.tail.len()).as_bytes(),
        );
        for part in &self.parts {
            out.extend_from_slice(part.as_bytes());
            out.extend_from_slice(b"\n");
        }
        out.extend_from_slice(b"\n");
        out.extend_from_slice(&self.tail);
        out.freeze()
    }

    /// A stored state; `None` when it is not one whole.
    pub(super) fn decode(stored: Bytes) -> Option<WriterState> {
        let head_end = find(&stored, b"\n\n")?;
        let head = std::str::from_utf8(&stored[..head_end]).ok()?;
        let mut lines = head.split('\n');
        let (size, tail_len, upload) = first_line(lines.next()?)?;
        let parts: Vec<String> = lines.map(str::to_owned).collect();
        let tail = stored.slice(head_end + 2..);
        // Parts belong to an upload; an upload may have none recorded yet (a writer stores
        // its upload's id before its first part, and may stop there).
        let whole = tail.len() as u64 == tail_len
            && (upload.is_some() || parts.is_empty())
            && size >= tail_len
            && parts.iter().all(|part| valid_token(part));
        whole.then_some(WriterState {
            upload,
            parts,
            tail,
            size,
        })
    }

    /// The file's size, from the first bytes of a stored state.
    pub(super) fn size_from_start(start: &[u8]) -> Option<u64> {
        let end = start.iter().position(|&b| b == b'\n')?;
        let line = std::str::from_utf8(&start[..end]).ok()?;
        first_line(line).map(|(size, _, _)| size)
    }
}

/// The size, the tail's length and the upload of a first line.
fn first_line(line: &str) -> Option<(u64, u64, Option<String>)> {
    let rest = line.strip_prefix(MAGIC)?.strip_prefix(' ')?;
    let mut words = rest.split(' ');
    let size = words.next()?.parse().ok()?;
    let tail = words.next()?.parse().ok()?;
    let upload = match words.next()? {
        "-" => None,
        id if valid_token(id) => Some(id.to_owned()),
        _ => return None,
    };
    words.next().is_none().then_some((size, tail, upload))
}

/// An upload id or entity tag: printable, with no space.
fn valid_token(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_round_trips_and_names_its_size_first() {
        let state = WriterState {
            upload: Some("upload/id=+".to_owned()),
            parts: vec!["\"etag1\"".to_owned(), "\"etag2\"".to_owned()],
            tail: Bytes::from_static(b"\n\nbinary\0tail\n"),
            size: 10 << 20,
        };
        let stored = state.encode();
        assert_eq!(WriterState::decode(stored.clone()), Some(state.clone()));
        assert_eq!(WriterState::size_from_start(&stored[..40]), Some(10 << 20));

        let fresh = WriterState {
            tail: Bytes::from_static(b"hello"),
            size: 5,
            ..WriterState::default()
        };
        assert_eq!(WriterState::decode(fresh.encode()), Some(fresh.clone()));

        // What a writer stores as its upload begins, before any part is recorded: what a
        // process killed before its next close leaves for the next writer.
        let begun = WriterState {
            upload: Some("upload-id".to_owned()),
            ..fresh
        };
        assert_eq!(WriterState::decode(begun.encode()), Some(begun));
    }

    #[test]
    fn a_damaged_state_is_refused() {
        let state = WriterState {
            upload: Some("id".to_owned()),
            parts: vec!["e".to_owned()],
            tail: Bytes::from_static(b"tail"),
            size: 9,
        };
        let stored = state.encode();
        // Cut short, or with its parts and upload disagreeing.
        assert_eq!(WriterState::decode(stored.slice(..stored.len() - 1)), None);
        assert_eq!(
            WriterState::decode(Bytes::from_static(b"gantry-writer 1 4 4 -\ne\n\ntail")),
            None
        );
        assert_eq!(
            WriterState::decode(Bytes::from_static(b"gantry-writer 1 3 4 -\n\ntail")),
            None
        );
        assert_eq!(
            WriterState::decode(Bytes::from_static(b"other 1 4 4 -\n\ntail")),
            None
        );
        assert_eq!(WriterState::decode(Bytes::from_static(b"")), None);
        assert_eq!(
            WriterState::size_from_start(b"gantry-writer 1 x 0 -\n"),
            None
        );
    }
}
