//! Files Offstage keeps beside its database (exports, and the downloads that serve them): a
//! directory under `OFFSTAGE_DATA_DIR` by default, or an S3 bucket when web and workers run on
//! several machines (`OFFSTAGE_STORAGE_URL=s3://bucket/prefix`, with the usual `AWS_*`
//! variables; `AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP=true` for an S3-compatible server). All of
//! it goes through `object_store`. Writes stream in parts (a multipart upload on S3, a temporary
//! file renamed at the end on disk), so a large file is never held in memory, and a file is
//! either whole or absent.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

/// Parts of a streamed write in flight at once (each `PART_SIZE`).
const PARTS_IN_FLIGHT: usize = 4;
/// S3's smallest part but the last one.
const PART_SIZE: usize = 5 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("OFFSTAGE_STORAGE_URL: {0}")]
    Config(String),
    #[error("file storage: {0}")]
    Store(#[from] object_store::Error),
    #[error("file storage: {0}")]
    Io(#[from] std::io::Error),
}

/// Where files go, shared by the web server and the workers (cheap to clone).
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// Prepended to every key (`s3://bucket/prefix`'s prefix; empty on disk).
    prefix: String,
    /// "s3://bucket/prefix" or the directory, for logs and the README's words.
    location: String,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage").field("location", &self.location).finish()
    }
}

impl Storage {
    /// `url` is `OFFSTAGE_STORAGE_URL`: None keeps files in `data_dir/files`.
    pub fn from_settings(url: Option<&str>, data_dir: &std::path::Path) -> Result<Storage, Error> {
        Storage::open(url, data_dir, &[])
    }

    /// As `from_settings`, with S3 settings (object_store's names, such as `aws_endpoint_url`)
    /// given here over the `AWS_*` variables: how the tests point it at their own server.
    pub fn open(url: Option<&str>, data_dir: &std::path::Path, s3: &[(&str, &str)]) -> Result<Storage, Error> {
        let Some(url) = url.map(str::trim).filter(|url| !url.is_empty()) else {
            let dir = data_dir.join("files");
            std::fs::create_dir_all(&dir)?;
            let store = LocalFileSystem::new_with_prefix(&dir)?;
            return Ok(Storage { store: Arc::new(store), prefix: String::new(), location: dir.display().to_string() });
        };
        let parsed = url::Url::parse(url).map_err(|err| Error::Config(format!("“{url}” is not a URL ({err})")))?;
        let bucket = parsed.host_str().filter(|_| parsed.scheme() == "s3").ok_or_else(|| {
            Error::Config(format!("“{url}” is not s3://bucket/prefix; unset it to keep files under OFFSTAGE_DATA_DIR"))
        })?;
        let prefix = parsed.path().trim_matches('/').to_owned();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in s3 {
            let key: AmazonS3ConfigKey =
                key.parse().map_err(|_| Error::Config(format!("“{key}” is not an S3 setting")))?;
            builder = builder.with_config(key, *value);
        }
        let store = builder.build()?;
        Ok(Storage { store: Arc::new(store), location: format!("s3://{bucket}/{prefix}"), prefix })
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    fn path(&self, key: &str) -> Result<Path, Error> {
        let full = if self.prefix.is_empty() { key.to_owned() } else { format!("{}/{key}", self.prefix) };
        Path::parse(&full).map_err(|err| Error::Store(err.into()))
    }

    /// Starts writing the file `key` (a relative path such as `exports/exp_1.csv`); it appears
    /// only when `finish` succeeds.
    pub async fn writer(&self, key: &str) -> Result<FileWriter, Error> {
        let upload = self.store.put_multipart(&self.path(key)?).await?;
        Ok(FileWriter { upload: WriteMultipart::new_with_chunk_size(upload, PART_SIZE), written: 0 })
    }

    /// The whole of a small file, in memory.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), Error> {
        self.store.put(&self.path(key)?, bytes.into()).await?;
        Ok(())
    }

    /// The file's bytes as they arrive, for a download to pass on.
    pub async fn read(&self, key: &str) -> Result<BoxStream<'static, Result<Bytes, Error>>, Error> {
        let found = self.store.get(&self.path(key)?).await?;
        Ok(found.into_stream().map(|chunk| chunk.map_err(Error::from)).boxed())
    }

    /// The file's size in bytes, or None when there is no such file.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, Error> {
        match self.store.head(&self.path(key)?).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Removes every file whose key starts with `folder/` (a folder that is not there is fine),
    /// through object_store's `delete_stream`: on S3, one request per 1,000 files.
    pub async fn delete_folder(&self, folder: &str) -> Result<(), Error> {
        let files = self.store.list(Some(&self.path(folder)?)).map_ok(|file| file.location).boxed();
        let mut deleted = self.store.delete_stream(files);
        while let Some(done) = deleted.next().await {
            match done {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(())
    }

    /// Removes the file; a file already gone is fine.
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        match self.store.delete(&self.path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }
}

/// A file being written in parts; dropped without `finish`, it never appears (call `abort` to
/// also clean up what was sent).
pub struct FileWriter {
    upload: WriteMultipart,
    written: u64,
}

impl FileWriter {
    /// Appends `bytes`, waiting while too many parts are still being sent.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.upload.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        self.upload.write(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Completes the file; returns its size in bytes.
    pub async fn finish(self) -> Result<u64, Error> {
        self.upload.finish().await?;
        Ok(self.written)
    }

    pub async fn abort(self) -> Result<(), Error> {
        self.upload.abort().await?;
        Ok(())
    }
}
