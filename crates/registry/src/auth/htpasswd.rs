//! The htpasswd file: `user:hash` lines with bcrypt hashes only (as CNCF Distribution), read
//! again whenever the file changes.
//!
//! bcrypt is slow on purpose, and clients that authenticate with Basic send the password on
//! every request; a password that matched is remembered (as a keyed SHA-256, never in clear)
//! until the file changes, so only the first request of each password pays for bcrypt.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

use crate::file_stamp::FileStamp;

/// An htpasswd file and what was last read from it.
#[derive(Debug)]
pub(crate) struct Htpasswd {
    path: PathBuf,
    state: Mutex<Loaded>,
    /// A random key for the remembered passwords' hashes.
    cache_key: [u8; 32],
}

#[derive(Debug, Default)]
struct Loaded {
    stamp: Option<FileStamp>,
    hashes: HashMap<String, String>,
    verified: HashMap<String, [u8; 32]>,
}

impl Htpasswd {
    /// Reads `path`; an unreadable file is an error at start, so a typo does not lock
    /// everyone out silently.
    pub(crate) fn open(path: &Path) -> std::io::Result<Htpasswd> {
        let mut cache_key = [0u8; 32];
        getrandom::fill(&mut cache_key).map_err(|e| std::io::Error::other(e.to_string()))?;
        let htpasswd = Htpasswd {
            path: path.to_owned(),
            state: Mutex::new(Loaded::default()),
            cache_key,
        };
        htpasswd.refresh()?;
        Ok(htpasswd)
    }

    /// Reads the file again if it changed. A file that cannot be read now keeps the users it
    /// had, with a warning.
    fn refresh(&self) -> std::io::Result<()> {
        let stamp = FileStamp::of(&self.path)?;
        {
            let state = self.lock();
            if state.stamp.as_ref() == Some(&stamp) {
                return Ok(());
            }
        }
        let text = std::fs::read_to_string(&self.path)?;
        let hashes = parse(&text);
        tracing::info!(path = %self.path.display(), users = hashes.len(), "htpasswd loaded");
        let mut state = self.lock();
        *state = Loaded {
            stamp: Some(stamp),
            hashes,
            verified: HashMap::new(),
        };
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn remembered(&self, password: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.cache_key);
        hasher.update(password.as_bytes());
        hasher.finalize().into()
    }

    /// Whether `password` is `user`'s. Blocking: it may read the file and run bcrypt.
    pub(crate) fn verify(&self, user: &str, password: &str) -> bool {
        if let Err(error) = self.refresh() {
            tracing::warn!(path = %self.path.display(), %error, "cannot read htpasswd; keeping the users already loaded");
        }
        let remembered = self.remembered(password);
        let hash = {
            let state = self.lock();
            if state.verified.get(user) == Some(&remembered) {
                return true;
            }
            match state.hashes.get(user) {
                Some(hash) => hash.clone(),
                None => return false,
            }
        };
        let matches = bcrypt::verify(password, &hash).unwrap_or(false);
        if matches {
            let mut state = self.lock();
            // Only while the hash is still the one checked: the file may have changed meanwhile.
            if state.hashes.get(user) == Some(&hash) {
                state.verified.insert(user.to_owned(), remembered);
            }
        }
        matches
    }
}

/// The users and bcrypt hashes of an htpasswd file; other lines are skipped.
fn parse(text: &str) -> HashMap<String, String> {
    let mut hashes = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((user, hash)) = line.split_once(':') else {
            tracing::warn!(line = number + 1, "htpasswd line without a colon skipped");
            continue;
        };
        if !["$2y$", "$2a$", "$2b$"].iter().any(|p| hash.starts_with(p)) {
            tracing::warn!(
                line = number + 1,
                user,
                "htpasswd entry is not bcrypt; skipped"
            );
            continue;
        }
        hashes.insert(user.to_owned(), hash.to_owned());
    }
    hashes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_only_and_reloaded_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        let alice = bcrypt::hash("wonderland", 4).unwrap();
        std::fs::write(
            &path,
            format!("# users\nalice:{alice}\nmd5:$apr1$abc$def\nplain:secret\nbroken\n"),
        )
        .unwrap();
        let file = Htpasswd::open(&path).unwrap();
        assert!(file.verify("alice", "wonderland"));
        assert!(file.verify("alice", "wonderland"), "remembered");
        assert!(!file.verify("alice", "wrong"));
        assert!(!file.verify("plain", "secret"));
        assert!(!file.verify("md5", ""));
        assert!(!file.verify("nobody", "x"));

        let bob = bcrypt::hash("builder", 4).unwrap();
        std::fs::write(&path, format!("bob:{bob}\n")).unwrap();
        assert!(file.verify("bob", "builder"));
        assert!(
            !file.verify("alice", "wonderland"),
            "removed users are forgotten"
        );

        std::fs::remove_file(&path).unwrap();
        assert!(
            file.verify("bob", "builder"),
            "a vanished file keeps the last users"
        );
        assert!(Htpasswd::open(&dir.path().join("missing")).is_err());
    }
}
