//! [`S3Driver`]: files as objects in an S3 bucket (AWS, or any S3-compatible store), through
//! `object_store`, on Distribution's `s3-aws` key layout: the file at `/a/b` is the object
//! `<root_directory>/a/b`, and directories are the prefixes objects share.
//!
//! What S3 lacks, the driver adds: a file cannot be both a file and a directory (writes check
//! the path and its parents, remembering the directories it has seen), appending writers keep
//! one multipart upload going across requests and processes (see [`writer`]), and listings
//! trust only flat key listings (see [`listing`]). Every call retries with backoff on the
//! store's 5xx and throttling answers, then fails with [`StorageError::Io`].

mod connect;
mod dirs;
mod keys;
mod listing;
mod options;
mod profile;
mod signed;
mod state;
mod writer;

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3;
use object_store::multipart::{MultipartStore, PartId};
use object_store::signer::Signer;
use object_store::{
    GetOptions, GetRange, GetResult, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
};

use self::dirs::KnownDirs;
use self::keys::Keys;
use self::listing::{Around, Kind};
use self::signed::SignedRequests;
use self::state::WriterState;
use self::writer::S3Writer;
use super::{BoxByteStream, BoxFuture, BoxReader, FileInfo, FileWriter, StorageDriver};
use super::{WalkControl, WalkVisitor};
use crate::{StorageError, StoragePath};

pub use self::options::{MAX_SINGLE_COPY, MIN_PART_SIZE, S3Credentials, S3Options};

/// The smallest part, as a buffer length.
const MIN_PART: usize = MIN_PART_SIZE as usize;

/// A driver over one S3 bucket. Clones share the connection and what it knows.
#[derive(Debug, Clone)]
pub struct S3Driver {
    bucket: Arc<Bucket>,
}

/// The bucket and everything a call needs.
#[derive(Debug)]
struct Bucket {
    store: AmazonS3,
    signed: SignedRequests,
    keys: Keys,
    dirs: KnownDirs,
    part_size: usize,
    concurrency: usize,
    redirect_expiry: Duration,
    single_copy_limit: u64,
}

/// `error` from the store, about `path`: [`StorageError::PathNotFound`] for a missing object,
/// else [`StorageError::Io`].
fn failed(path: &StoragePath, error: object_store::Error) -> StorageError {
    match error {
        object_store::Error::NotFound { .. } => StorageError::PathNotFound {
            path: path.to_string(),
        },
        other => StorageError::Io {
            path: path.to_string(),
            source: io::Error::other(other),
        },
    }
}

fn invalid(path: &StoragePath) -> StorageError {
    StorageError::InvalidPath {
        path: path.to_string(),
    }
}

fn not_found(path: &StoragePath) -> StorageError {
    StorageError::PathNotFound {
        path: path.to_string(),
    }
}

impl S3Driver {
    /// Connects to the bucket `options` names and checks it answers: wrong credentials, an
    /// unreachable endpoint or a missing bucket (unless [`S3Options::create_bucket`]) are
    /// errors now rather than at the first write.
    pub async fn connect(options: S3Options) -> Result<S3Driver, StorageError> {
        connect::connect(options).await
    }

    /// Where the driver keeps its files, as `s3://BUCKET/ROOT`, for messages.
    pub fn location(&self) -> String {
        format!(
            "s3://{}/{}",
            self.bucket.signed.bucket(),
            self.bucket.keys.root()
        )
    }
}

impl Bucket {
    /// What is at `path`: a file, an unfinished writer's file, a directory, or nothing; with
    /// the object's details for a file.
    async fn kind(
        &self,
        path: &StoragePath,
    ) -> Result<Option<(Kind, Option<object_store::ObjectMeta>)>, StorageError> {
        if path.is_root() {
            return Ok(Some((Kind::Dir, None)));
        }
        let key = self.keys.file(path);
        match self.store.head(&keys::object(&key)?).await {
            Ok(meta) => return Ok(Some((Kind::File, Some(meta)))),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(failed(path, error)),
        }
        Ok(self.around(&key).await?.kind().map(|kind| (kind, None)))
    }

    /// What the keys starting with `key` say of it.
    async fn around(&self, key: &str) -> Result<Around, StorageError> {
        listing::around(&self.store, key)
            .await
            .map_err(|error| StorageError::Io {
                path: key.to_owned(),
                source: io::Error::other(error),
            })
    }

    /// What is at `path` before a write there, after checking the write may happen: `path`
    /// is not the root nor a directory, and no parent of it is a file.
    ///
    /// Usually one listing: the keys starting with the parent's key show at once whether the
    /// parent is a file, whether `path` is a directory, a file, or an unfinished writer's. A
    /// parent with nothing below it sends the check one level up, until a directory that is
    /// known or seen to exist (keys below it); a parent with too many keys to see `path`'s in
    /// one page leaves `path` to a listing of its own. Directories seen are remembered.
    async fn check_write(&self, path: &StoragePath) -> Result<Around, StorageError> {
        if path.is_root() {
            return Err(invalid(path));
        }
        let file = self.keys.file(path);
        let mut existing: Option<Around> = None;
        let mut seen = Vec::new();
        let mut dir = path.parent();
        while let Some(parent) = dir.filter(|dir| !dir.is_root()) {
            let key = self.keys.file(&parent);
            if self.dirs.contains(&key) {
                break;
            }
            let page = listing::starting_with(&self.store, &key)
                .await
                .map_err(|error| failed(path, error))?;
            if page.keys().any(|listed| listed == key) {
                return Err(invalid(path));
            }
            if existing.is_none() {
                existing = page.around(&file);
            }
            seen.push(key);
            // Keys beside or below this directory: its parent is a directory, and so is
            // every directory above.
            if !page.objects.is_empty() {
                break;
            }
            // Nothing here: nothing below it either, so only its parents remain to check.
            existing.get_or_insert_default();
            dir = parent.parent();
        }
        let existing = match existing {
            Some(existing) => existing,
            None => self.around(&file).await?,
        };
        if existing.dir {
            return Err(invalid(path));
        }
        self.dirs.insert_all(seen);
        Ok(existing)
    }

    /// Prepares `path` to be replaced by a new file: [`check_write`](Self::check_write), and
    /// any unfinished writer's upload there abandoned.
    async fn prepare_replace(&self, path: &StoragePath) -> Result<(), StorageError> {
        if self.check_write(path).await?.writing {
            self.abandon_writer(path).await?;
        }
        Ok(())
    }

    /// Removes an unfinished writer's state and aborts its upload.
    async fn abandon_writer(&self, path: &StoragePath) -> Result<(), StorageError> {
        match self.writer_state(path).await {
            Ok(state) => {
                if let Some(upload) = state.upload {
                    self.abort_upload(path, &self.keys.file(path), &upload)
                        .await?;
                }
            }
            // A damaged state has no upload to abort that can be named.
            Err(StorageError::Corrupt { .. } | StorageError::PathNotFound { .. }) => {}
            Err(error) => return Err(error),
        }
        self.delete_state(path).await
    }

    async fn writer_state(&self, path: &StoragePath) -> Result<WriterState, StorageError> {
        let key = self.keys.writing(path);
        let stored = self
            .store
            .get(&keys::object(&key)?)
            .await
            .map_err(|error| failed(path, error))?
            .bytes()
            .await
            .map_err(|error| failed(path, error))?;
        WriterState::decode(stored).ok_or(StorageError::Corrupt { path: key })
    }

    /// The size an unfinished writer's state records, from its first line alone.
    async fn writer_size(&self, path: &StoragePath) -> Result<u64, StorageError> {
        let key = self.keys.writing(path);
        let object = keys::object(&key)?;
        // A range past the end of a shorter state gives what there is (a state is never
        // empty), so one read, and one round of retries when the store fails.
        let start = self
            .store
            .get_range(&object, 0..state::FIRST_LINE_MAX)
            .await
            .map_err(|error| failed(path, error))?;
        WriterState::size_from_start(&start).ok_or(StorageError::Corrupt { path: key })
    }

    async fn put_state(&self, path: &StoragePath, state: &WriterState) -> Result<(), StorageError> {
        let object = keys::object(&self.keys.writing(path))?;
        self.store
            .put(&object, PutPayload::from(state.encode()))
            .await
            .map_err(|error| failed(path, error))?;
        Ok(())
    }

    async fn delete_state(&self, path: &StoragePath) -> Result<(), StorageError> {
        let object = keys::object(&self.keys.writing(path))?;
        match self.store.delete(&object).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(failed(path, error)),
        }
    }

    async fn delete_object(&self, path: &StoragePath, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&keys::object(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(failed(path, error)),
        }
    }

    /// Aborts a multipart upload; one already gone is fine.
    async fn abort_upload(
        &self,
        path: &StoragePath,
        key: &str,
        upload: &str,
    ) -> Result<(), StorageError> {
        let object = keys::object(key)?;
        match self
            .store
            .abort_multipart(&object, &upload.to_owned())
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(failed(path, error)),
        }
    }

    /// The object at `path` for reading `range`, finishing an unfinished writer's upload
    /// first when the file is one (S3 reads only finished objects).
    async fn open(
        &self,
        path: &StoragePath,
        range: Option<GetRange>,
    ) -> Result<GetResult, StorageError> {
        if path.is_root() {
            return Err(invalid(path));
        }
        let object = keys::object(&self.keys.file(path))?;
        let get = || {
            self.store.get_opts(
                &object,
                GetOptions {
                    range: range.clone(),
                    ..GetOptions::default()
                },
            )
        };
        match get().await {
            Ok(result) => return Ok(result),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(self.explain_read_failure(path, range.as_ref(), error).await),
        }
        match self.around(&self.keys.file(path)).await?.kind() {
            None => Err(not_found(path)),
            Some(Kind::Dir | Kind::File) => Err(invalid(path)),
            Some(Kind::Writing) => {
                // When this fails, another reader may have finished it first: the read that
                // follows tells.
                let _ = writer::finish(self, path).await;
                match get().await {
                    Ok(result) => Ok(result),
                    Err(error) => Err(self.explain_read_failure(path, range.as_ref(), error).await),
                }
            }
        }
    }

    /// A failed ranged read: past the end is [`StorageError::InvalidOffset`], anything else
    /// the store's error.
    async fn explain_read_failure(
        &self,
        path: &StoragePath,
        range: Option<&GetRange>,
        error: object_store::Error,
    ) -> StorageError {
        let start = match range {
            Some(GetRange::Offset(start)) => *start,
            Some(GetRange::Bounded(bounds)) => bounds.start,
            _ => return failed(path, error),
        };
        let Ok(object) = keys::object(&self.keys.file(path)) else {
            return failed(path, error);
        };
        match self.store.head(&object).await {
            Ok(meta) if start >= meta.size => StorageError::InvalidOffset {
                path: path.to_string(),
                offset: start,
            },
            _ => failed(path, error),
        }
    }

    /// The size of the file at `path`, or what it is instead.
    async fn file_size(&self, path: &StoragePath) -> Result<u64, StorageError> {
        match self.kind(path).await? {
            Some((Kind::File, Some(meta))) => Ok(meta.size),
            Some((Kind::Writing, _)) => self.writer_size(path).await,
            Some(_) => Err(invalid(path)),
            None => Err(not_found(path)),
        }
    }

    /// Copies the object `from` to `to` by a multipart upload of ranges copied on the store's
    /// side: for objects larger than one `CopyObject` may copy.
    async fn copy_in_parts(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        size: u64,
    ) -> Result<(), StorageError> {
        let (from_key, to_key) = (self.keys.file(from), self.keys.file(to));
        let object = keys::object(&to_key)?;
        let upload = self
            .store
            .create_multipart(&object)
            .await
            .map_err(|error| failed(to, error))?;
        // Parts as large as one copy may be (S3 allows 10,000 of them).
        let part = self
            .single_copy_limit
            .clamp(MIN_PART_SIZE, MAX_SINGLE_COPY)
            .max(size.div_ceil(10_000));
        let ranges: Vec<(u64, u64)> = (0..size.div_ceil(part))
            .map(|n| (n * part, ((n + 1) * part).min(size) - 1))
            .collect();
        let copies = futures_util::stream::iter(ranges.into_iter().enumerate())
            .map(|(n, range)| {
                self.signed
                    .copy_part(&to_key, &upload, n + 1, &from_key, range)
            })
            .buffered(self.concurrency.max(1))
            .try_collect::<Vec<String>>()
            .await;
        let parts = match copies {
            Ok(parts) => parts,
            Err(error) => {
                self.abort_upload(to, &to_key, &upload).await?;
                return Err(error);
            }
        };
        let parts = parts
            .into_iter()
            .map(|content_id| PartId { content_id })
            .collect();
        self.store
            .complete_multipart(&object, &upload, parts)
            .await
            .map_err(|error| failed(to, error))?;
        Ok(())
    }

    async fn delete_tree(&self, path: &StoragePath) -> Result<(), StorageError> {
        let key = self.keys.file(path);
        let mut keys_below = Vec::new();
        let prefix = self.keys.below(path);
        listing::each_key(&self.store, &prefix, |page| {
            keys_below.extend(page.into_iter().map(|meta| meta.location));
            Ok(())
        })
        .await
        .map_err(|error| failed(path, error))?;
        // A directory is no file too: only a path with nothing below may be one.
        let mut found = !keys_below.is_empty();
        if !found && !path.is_root() {
            let around = self.around(&key).await?;
            if around.object {
                self.delete_object(path, &key).await?;
                found = true;
            }
            if around.writing {
                self.abandon_writer(path).await?;
                found = true;
            }
        }
        // Unfinished writers' uploads go with their states.
        for state_key in keys_below
            .iter()
            .filter(|key| key.as_ref().ends_with(keys::WRITING))
        {
            let file_key = &state_key.as_ref()[..state_key.as_ref().len() - keys::WRITING.len()];
            if let Some(file) = self.keys.path(file_key)
                && let Ok(state) = self.writer_state(&file).await
                && let Some(upload) = state.upload
            {
                self.abort_upload(&file, file_key, &upload).await?;
            }
        }
        let deleted = self
            .store
            .delete_stream(futures_util::stream::iter(keys_below.into_iter().map(Ok)).boxed())
            .try_for_each(|_| async { Ok(()) })
            .await;
        match deleted {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(failed(path, error)),
        }
        self.dirs.forget_below(&key);
        if found { Ok(()) } else { Err(not_found(path)) }
    }
}

impl StorageDriver for S3Driver {
    fn name(&self) -> &'static str {
        "s3"
    }

    fn get_content<'a>(
        &'a self,
        path: &'a StoragePath,
    ) -> BoxFuture<'a, Result<Bytes, StorageError>> {
        Box::pin(async move {
            let result = self.bucket.open(path, None).await?;
            result.bytes().await.map_err(|error| failed(path, error))
        })
    }

    fn put_content<'a>(
        &'a self,
        path: &'a StoragePath,
        content: Bytes,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.bucket.prepare_replace(path).await?;
            let object = keys::object(&self.bucket.keys.file(path))?;
            self.bucket
                .store
                .put(&object, PutPayload::from(content))
                .await
                .map_err(|error| failed(path, error))?;
            Ok(())
        })
    }

    /// A conditional PUT (`If-None-Match: *`): the store keeps the first object and refuses
    /// the others with `412`.
    fn create_content<'a>(
        &'a self,
        path: &'a StoragePath,
        content: Bytes,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            self.bucket.prepare_replace(path).await?;
            let object = keys::object(&self.bucket.keys.file(path))?;
            let options = PutOptions::from(PutMode::Create);
            let put = self
                .bucket
                .store
                .put_opts(&object, PutPayload::from(content), options);
            match put.await {
                Ok(_) => Ok(true),
                Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
                Err(error) => Err(failed(path, error)),
            }
        })
    }

    fn reader<'a>(
        &'a self,
        path: &'a StoragePath,
        offset: u64,
    ) -> BoxFuture<'a, Result<BoxReader, StorageError>> {
        Box::pin(async move {
            let range = (offset > 0).then_some(GetRange::Offset(offset));
            let result = match self.bucket.open(path, range).await {
                Ok(result) => result,
                // Reading from the very end reads nothing.
                Err(StorageError::InvalidOffset { .. })
                    if self.bucket.file_size(path).await? == offset =>
                {
                    return Ok(Box::pin(tokio::io::empty()) as BoxReader);
                }
                Err(error) => return Err(error),
            };
            let stream = result.into_stream().map_err(io::Error::other);
            Ok(Box::pin(tokio_util::io::StreamReader::new(stream)) as BoxReader)
        })
    }

    fn read_stream<'a>(
        &'a self,
        path: &'a StoragePath,
        offset: u64,
        len: u64,
    ) -> BoxFuture<'a, Result<BoxByteStream, StorageError>> {
        Box::pin(async move {
            if len == 0 {
                let size = self.bucket.file_size(path).await?;
                if offset > size {
                    return Err(StorageError::InvalidOffset {
                        path: path.to_string(),
                        offset,
                    });
                }
                return Ok(Box::pin(futures_util::stream::empty()) as BoxByteStream);
            }
            let end = offset
                .checked_add(len)
                .ok_or_else(|| StorageError::InvalidOffset {
                    path: path.to_string(),
                    offset,
                })?;
            let result = self
                .bucket
                .open(path, Some(GetRange::Bounded(offset..end)))
                .await?;
            if result.range != (offset..end) {
                return Err(StorageError::Io {
                    path: path.to_string(),
                    source: io::ErrorKind::UnexpectedEof.into(),
                });
            }
            let path = path.clone();
            let stream = result
                .into_stream()
                .map_err(move |error| failed(&path, error));
            Ok(Box::pin(stream) as BoxByteStream)
        })
    }

    fn writer<'a>(
        &'a self,
        path: &'a StoragePath,
        append: bool,
    ) -> BoxFuture<'a, Result<Box<dyn FileWriter>, StorageError>> {
        Box::pin(async move {
            let writer = S3Writer::open(Arc::clone(&self.bucket), path, append).await?;
            Ok(Box::new(writer) as Box<dyn FileWriter>)
        })
    }

    fn staged_writer<'a>(
        &'a self,
        path: &'a StoragePath,
    ) -> BoxFuture<'a, Result<Option<Box<dyn FileWriter>>, StorageError>> {
        Box::pin(async move {
            let writer = S3Writer::staged(Arc::clone(&self.bucket), path).await?;
            Ok(Some(Box::new(writer) as Box<dyn FileWriter>))
        })
    }

    fn stat<'a>(&'a self, path: &'a StoragePath) -> BoxFuture<'a, Result<FileInfo, StorageError>> {
        Box::pin(async move {
            let info = |size, modified, is_dir| FileInfo {
                path: path.clone(),
                size,
                modified,
                is_dir,
            };
            match self.bucket.kind(path).await? {
                Some((Kind::File, Some(meta))) => {
                    Ok(info(meta.size, meta.last_modified.into(), false))
                }
                Some((Kind::Writing, _)) => {
                    let size = self.bucket.writer_size(path).await?;
                    Ok(info(size, SystemTime::now(), false))
                }
                Some(_) => Ok(info(0, SystemTime::now(), true)),
                None => Err(not_found(path)),
            }
        })
    }

    fn list<'a>(
        &'a self,
        path: &'a StoragePath,
    ) -> BoxFuture<'a, Result<Vec<StoragePath>, StorageError>> {
        Box::pin(async move {
            let children = self.children(path).await?;
            children
                .into_iter()
                .map(|child| path.join(&child.name))
                .collect()
        })
    }

    fn move_path<'a>(
        &'a self,
        from: &'a StoragePath,
        to: &'a StoragePath,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let size = match self.bucket.kind(from).await? {
                Some((Kind::File, Some(meta))) => meta.size,
                Some((Kind::Writing, _)) => {
                    writer::finish(&self.bucket, from).await?;
                    self.bucket.file_size(from).await?
                }
                Some(_) => return Err(invalid(from)),
                None => return Err(not_found(from)),
            };
            self.bucket.prepare_replace(to).await?;
            let (from_key, to_key) = (self.bucket.keys.file(from), self.bucket.keys.file(to));
            if size > self.bucket.single_copy_limit {
                self.bucket.copy_in_parts(from, to, size).await?;
            } else {
                self.bucket
                    .store
                    .copy(&keys::object(&from_key)?, &keys::object(&to_key)?)
                    .await
                    .map_err(|error| failed(from, error))?;
            }
            self.bucket.delete_object(from, &from_key).await
        })
    }

    fn delete<'a>(&'a self, path: &'a StoragePath) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(self.bucket.delete_tree(path))
    }

    fn walk<'a>(
        &'a self,
        path: &'a StoragePath,
        visit: &'a mut WalkVisitor<'_>,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let mut pending: Vec<FileInfo> = self.infos(path).await?.into_iter().rev().collect();
            while let Some(info) = pending.pop() {
                match visit(&info) {
                    WalkControl::Stop => return Ok(()),
                    WalkControl::SkipDir => {}
                    WalkControl::Continue if info.is_dir => match self.infos(&info.path).await {
                        Ok(children) => pending.extend(children.into_iter().rev()),
                        Err(error) if error.is_not_found() => {}
                        Err(error) => return Err(error),
                    },
                    WalkControl::Continue => {}
                }
            }
            Ok(())
        })
    }

    fn redirect_url<'a>(
        &'a self,
        path: &'a StoragePath,
        method: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StorageError>> {
        Box::pin(async move {
            let method = match method {
                "GET" => http::Method::GET,
                "HEAD" => http::Method::HEAD,
                _ => return Ok(None),
            };
            let object = keys::object(&self.bucket.keys.file(path))?;
            let url = self
                .bucket
                .store
                .signed_url(method, &object, self.bucket.redirect_expiry)
                .await
                .map_err(|error| failed(path, error))?;
            Ok(Some(url.to_string()))
        })
    }
}

impl S3Driver {
    /// The children of the directory at `path`; what it is instead when it is not one.
    async fn children(&self, path: &StoragePath) -> Result<Vec<listing::Child>, StorageError> {
        let prefix = self.bucket.keys.below(path);
        let children = listing::children(&self.bucket.store, &prefix)
            .await
            .map_err(|error| failed(path, error))?;
        if children.is_empty() && !path.is_root() {
            return match self.bucket.kind(path).await? {
                Some((Kind::Dir, _)) => Ok(children),
                Some(_) => Err(invalid(path)),
                None => Err(not_found(path)),
            };
        }
        Ok(children)
    }

    /// What a walk reports of the children of `path`.
    async fn infos(&self, path: &StoragePath) -> Result<Vec<FileInfo>, StorageError> {
        let mut infos = Vec::new();
        for child in self.children(path).await? {
            let child_path = path.join(&child.name)?;
            let size = match child.kind {
                Kind::Writing => self.bucket.writer_size(&child_path).await?,
                _ => child.size,
            };
            infos.push(FileInfo {
                path: child_path,
                size,
                modified: child.modified,
                is_dir: child.kind == Kind::Dir,
            });
        }
        Ok(infos)
    }
}
