//! Secrets every server sharing a root must agree on (the upload-URL secret, the token
//! issuer's key), kept as private files under `<root>/gantry/`.
//!
//! Each secret is read when it exists and otherwise made once: written to a private temporary
//! file and linked into place, so when two servers start on one root at once, the first file
//! stays whole and both read it. Everything here goes through [`SecretFiles`], the one place
//! that knows where secrets live.

use std::io;
use std::path::{Path, PathBuf};

/// Where a root keeps its secrets.
#[derive(Debug, Clone)]
pub(crate) struct SecretFiles {
    dir: PathBuf,
}

impl SecretFiles {
    /// The secrets of the storage root `root`.
    pub(crate) fn new(root: &Path) -> SecretFiles {
        SecretFiles {
            dir: root.join("gantry"),
        }
    }

    /// Where the secret `name` is kept, for messages.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The secret `name`: the kept one, or, when there is none yet, what `make` gives, kept
    /// for every later reader unless another server kept its own first (then that one).
    pub(crate) fn read_or_make(
        &self,
        name: &str,
        make: impl FnOnce() -> io::Result<Vec<u8>>,
    ) -> io::Result<Vec<u8>> {
        let path = self.path(name);
        match std::fs::read(&path) {
            Ok(secret) => return Ok(secret),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        keep_private_file(&path, &make()?)?;
        std::fs::read(&path)
    }
}

/// Writes `content` to `path` (mode 0600) unless the file exists: through a private
/// temporary file beside it, linked into place without replacing, so when two servers race,
/// the first file stays whole.
fn keep_private_file(path: &Path, content: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(content)?;
    file.as_file().sync_all()?;
    match file.persist_noclobber(path) {
        Err(error) if error.error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error.error),
        Ok(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_made_once_and_read_after() {
        let root = tempfile::tempdir().unwrap();
        let secrets = SecretFiles::new(root.path());
        let first = secrets.read_or_make("s", || Ok(b"one".to_vec())).unwrap();
        let second = secrets.read_or_make("s", || Ok(b"two".to_vec())).unwrap();
        assert_eq!(
            (first.as_slice(), second.as_slice()),
            (&b"one"[..], &b"one"[..])
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(secrets.path("s"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
