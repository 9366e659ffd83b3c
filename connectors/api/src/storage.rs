//! The Storage family: files and objects.

use std::fmt;
use std::pin::Pin;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

use crate::{Error, Result};

/// An object or a prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The path within the connector.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification.
    pub last_modified: Option<SystemTime>,
    /// The store's entity tag.
    pub etag: Option<String>,
    /// The store's version id.
    pub version: Option<String>,
    /// Whether this is a prefix (a folder) rather than an object.
    pub is_prefix: bool,
}

/// A stream of object bytes.
pub struct ByteStream(pub Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>);

impl fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ByteStream")
    }
}

/// A store of files or objects. Every ability defaults to [`Error::unsupported`].
#[async_trait]
pub trait StorageConnector: Send + Sync {
    /// Objects under `prefix`; with `delimited`, one level, prefixes included.
    ///
    /// # Errors
    /// [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable) when the store cannot be reached.
    async fn list(&self, prefix: &str, delimited: bool) -> Result<Vec<ObjectMeta>> {
        let _ = (prefix, delimited);
        Err(Error::unsupported("listing objects"))
    }

    /// One object's metadata.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when it does not exist.
    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        let _ = path;
        Err(Error::unsupported("object metadata"))
    }

    /// Streams `length` bytes from `offset` (`None`: to the end).
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when it does not exist.
    async fn read(&self, path: &str, offset: u64, length: Option<u64>) -> Result<ByteStream> {
        let _ = (path, offset, length);
        Err(Error::unsupported("reading objects"))
    }

    /// Writes an object from a stream of bytes.
    ///
    /// # Errors
    /// [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied) when read-only.
    async fn write(&self, path: &str, data: ByteStream, if_not_exists: bool) -> Result<ObjectMeta> {
        let _ = (path, data, if_not_exists);
        Err(Error::unsupported("writing objects"))
    }

    /// Deletes an object.
    ///
    /// # Errors
    /// [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied) when read-only.
    async fn delete(&self, path: &str) -> Result<()> {
        let _ = path;
        Err(Error::unsupported("deleting objects"))
    }
}
