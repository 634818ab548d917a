//! State and page files, written whole or not at all ([`recentchanges_core::state`]), with rc-http's
//! error, which names the file.

use std::path::Path;

pub(crate) use recentchanges_core::state::TMP_PREFIX;

use crate::error::Error;

/// Writes `bytes` over `path` atomically (a temporary file renamed over it), synced to the
/// disk (the file, then its directory) before it returns: what a saved position may rely
/// on after a power loss.
pub(crate) fn write_durable(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    recentchanges_core::state::write_durable(path, bytes).map_err(|e| Error::io(path, e))
}

/// Reads a JSON state file (a saved position); a missing file is `T::default()`.
pub(crate) fn load_json<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T, Error> {
    recentchanges_core::state::load_json(path).map_err(|e| Error::io(path, e))
}

/// Writes a JSON state file atomically and durably (synced to the disk).
pub(crate) fn save_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    recentchanges_core::state::save_json(path, value).map_err(|e| Error::io(path, e))
}
