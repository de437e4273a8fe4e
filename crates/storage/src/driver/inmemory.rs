//! A driver that keeps every file in memory: for tests, and as the reference the shared suite
//! is written against.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};

use super::{BoxFuture, BoxReader, FileInfo, FileWriter, StorageDriver, WalkVisitor};
use crate::{StorageError, StoragePath};

/// Files in a map from path to content. Directories are implied by the files below them.
/// Clones share the same files.
#[derive(Debug, Clone, Default)]
pub struct InMemoryDriver {
    files: Arc<Mutex<BTreeMap<String, File>>>,
}

#[derive(Debug, Clone)]
struct File {
    content: Bytes,
    modified: SystemTime,
}

impl InMemoryDriver {
    /// An empty driver.
    pub fn new() -> InMemoryDriver {
        InMemoryDriver::default()
    }

    fn files(&self) -> MutexGuard<'_, BTreeMap<String, File>> {
        // A panic while the lock was held cannot leave a half-updated map: every update is a
        // single insert or remove.
        self.files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The prefix every path below `dir` starts with.
fn child_prefix(dir: &str) -> String {
    if dir == "/" {
        "/".to_owned()
    } else {
        format!("{dir}/")
    }
}

fn has_children(files: &BTreeMap<String, File>, dir: &str) -> bool {
    let prefix = child_prefix(dir);
    files
        .range(prefix.clone()..)
        .next()
        .is_some_and(|(path, _)| path.starts_with(&prefix))
}

/// Fails when a file cannot be stored at `path`: it is the root or a directory, or a parent is
/// a file.
fn check_file_slot(files: &BTreeMap<String, File>, path: &StoragePath) -> Result<(), StorageError> {
    if path.is_root() {
        return Err(StorageError::InvalidPath {
            path: path.to_string(),
        });
    }
    let mut ancestor = path.parent();
    while let Some(dir) = ancestor {
        if files.contains_key(dir.as_str()) {
            return Err(StorageError::InvalidPath {
                path: path.to_string(),
            });
        }
        ancestor = dir.parent();
    }
    if has_children(files, path.as_str()) {
        return Err(StorageError::InvalidPath {
            path: path.to_string(),
        });
    }
    Ok(())
}

fn store(
    files: &Mutex<BTreeMap<String, File>>,
    path: &StoragePath,
    content: Bytes,
) -> Result<(), StorageError> {
    let mut files = files
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    insert(&mut files, path, content)
}

/// Puts `content` at `path`, replacing the file there, if the path can hold a file.
fn insert(
    files: &mut BTreeMap<String, File>,
    path: &StoragePath,
    content: Bytes,
) -> Result<(), StorageError> {
    check_file_slot(files, path)?;
    files.insert(
        path.to_string(),
        File {
            content,
            modified: SystemTime::now(),
        },
    );
    Ok(())
}

impl StorageDriver for InMemoryDriver {
    fn name(&self) -> &'static str {
        "inmemory"
    }

    fn get_content<'a>(
        &'a self,
        path: &'a StoragePath,
    ) -> BoxFuture<'a, Result<Bytes, StorageError>> {
        Box::pin(async move {
            let files = self.files();
            match files.get(path.as_str()) {
                Some(file) => Ok(file.content.clone()),
                None if has_children(&files, path.as_str()) => Err(StorageError::InvalidPath {
                    path: path.to_string(),
                }),
                None => Err(StorageError::PathNotFound {
                    path: path.to_string(),
                }),
            }
        })
    }

    fn put_content<'a>(
        &'a self,
        path: &'a StoragePath,
        content: Bytes,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move { store(&self.files, path, content) })
    }

    fn create_content<'a>(
        &'a self,
        path: &'a StoragePath,
        content: Bytes,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let mut files = self.files();
            if files.contains_key(path.as_str()) {
                return Ok(false);
            }
            insert(&mut files, path, content).map(|()| true)
        })
    }

    fn reader<'a>(
        &'a self,
        path: &'a StoragePath,
        offset: u64,
    ) -> BoxFuture<'a, Result<BoxReader, StorageError>> {
        Box::pin(async move {
            let content = self.get_content(path).await?;
            let start = usize::try_from(offset)
                .ok()
                .filter(|&start| start <= content.len())
                .ok_or_else(|| StorageError::InvalidOffset {
                    path: path.to_string(),
                    offset,
                })?;
            let reader: BoxReader = Box::pin(Cursor::new(content.slice(start..)));
            Ok(reader)
        })
    }

    fn writer<'a>(
        &'a self,
        path: &'a StoragePath,
        append: bool,
    ) -> BoxFuture<'a, Result<Box<dyn FileWriter>, StorageError>> {
        Box::pin(async move {
            let mut buffer = BytesMut::new();
            if append {
                buffer.extend_from_slice(&self.get_content(path).await?);
            } else {
                check_file_slot(&self.files(), path)?;
            }
            let writer: Box<dyn FileWriter> = Box::new(InMemoryWriter {
                files: Arc::clone(&self.files),
                path: path.clone(),
                buffer,
            });
            Ok(writer)
        })
    }

    fn stat<'a>(&'a self, path: &'a StoragePath) -> BoxFuture<'a, Result<FileInfo, StorageError>> {
        Box::pin(async move {
            let files = self.files();
            if let Some(file) = files.get(path.as_str()) {
                return Ok(FileInfo {
                    path: path.clone(),
                    size: file.content.len() as u64,
                    modified: file.modified,
                    is_dir: false,
                });
            }
            let prefix = child_prefix(path.as_str());
            let newest = files
                .range(prefix.clone()..)
                .take_while(|(p, _)| p.starts_with(&prefix))
                .map(|(_, file)| file.modified)
                .max();
            match newest {
                Some(modified) => Ok(FileInfo {
                    path: path.clone(),
                    size: 0,
                    modified,
                    is_dir: true,
                }),
                None if path.is_root() => Ok(FileInfo {
                    path: path.clone(),
                    size: 0,
                    modified: SystemTime::UNIX_EPOCH,
                    is_dir: true,
                }),
                None => Err(StorageError::PathNotFound {
                    path: path.to_string(),
                }),
            }
        })
    }

    fn list<'a>(
        &'a self,
        path: &'a StoragePath,
    ) -> BoxFuture<'a, Result<Vec<StoragePath>, StorageError>> {
        Box::pin(async move {
            let files = self.files();
            if files.contains_key(path.as_str()) {
                return Err(StorageError::InvalidPath {
                    path: path.to_string(),
                });
            }
            let prefix = child_prefix(path.as_str());
            let mut children: Vec<StoragePath> = Vec::new();
            for (file, _) in files
                .range(prefix.clone()..)
                .take_while(|(p, _)| p.starts_with(&prefix))
            {
                let name = file[prefix.len()..].split('/').next().unwrap_or_default();
                let child = StoragePath::new(format!("{prefix}{name}"))?;
                if children.last() != Some(&child) {
                    children.push(child);
                }
            }
            if children.is_empty() && !path.is_root() {
                return Err(StorageError::PathNotFound {
                    path: path.to_string(),
                });
            }
            // Map order sorts "a.b" before "a/c"; children are ordered by name alone.
            children.sort();
            children.dedup();
            Ok(children)
        })
    }

    fn move_path<'a>(
        &'a self,
        from: &'a StoragePath,
        to: &'a StoragePath,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let mut files = self.files();
            let Some(file) = files.get(from.as_str()).cloned() else {
                // Only files move.
                return Err(if has_children(&files, from.as_str()) {
                    StorageError::InvalidPath {
                        path: from.to_string(),
                    }
                } else {
                    StorageError::PathNotFound {
                        path: from.to_string(),
                    }
                });
            };
            check_file_slot(&files, to)?;
            files.remove(from.as_str());
            files.insert(to.to_string(), file);
            Ok(())
        })
    }

    fn delete<'a>(&'a self, path: &'a StoragePath) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let mut files = self.files();
            let prefix = child_prefix(path.as_str());
            let doomed: Vec<String> = files
                .range(prefix.clone()..)
                .take_while(|(p, _)| p.starts_with(&prefix))
                .map(|(p, _)| p.clone())
                .chain(files.contains_key(path.as_str()).then(|| path.to_string()))
                .collect();
            if doomed.is_empty() {
                return Err(StorageError::PathNotFound {
                    path: path.to_string(),
                });
            }
            for file in doomed {
                files.remove(&file);
            }
            Ok(())
        })
    }

    fn walk<'a>(
        &'a self,
        path: &'a StoragePath,
        visit: &'a mut WalkVisitor<'_>,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(super::walk_by_listing(self, path, visit))
    }
}

/// Collects bytes and stores them at the path when closed or committed.
#[derive(Debug)]
struct InMemoryWriter {
    files: Arc<Mutex<BTreeMap<String, File>>>,
    path: StoragePath,
    buffer: BytesMut,
}

impl FileWriter for InMemoryWriter {
    fn write<'a>(&'a mut self, chunk: Bytes) -> BoxFuture<'a, Result<(), StorageError>> {
        self.buffer.extend_from_slice(&chunk);
        Box::pin(async { Ok(()) })
    }

    fn size(&self) -> u64 {
        self.buffer.len() as u64
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        Box::pin(async move { store(&self.files, &self.path, self.buffer.freeze()) })
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        self.close()
    }

    fn cancel(self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        Box::pin(async move {
            let mut files = self
                .files
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            files.remove(self.path.as_str());
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::InMemoryDriver;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn passes_the_driver_suite() {
        crate::testing::driver_suite(Arc::new(InMemoryDriver::new())).await;
    }
}
