//! State files: where a consumer stands in a stream (a room's last stanza id, a poller's
//! timestamp...), kept as JSON across restarts. Every transport saves its position the
//! same way: written whole to a temporary file and renamed over the old one, so a reader
//! (or a process killed mid-write) sees the old content or the new, never half of it.
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! let dir = std::env::temp_dir().join(format!("rc-state-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("position.json");
//! let missing: BTreeMap<String, u64> = recentchanges_core::state::load_json(&path)?;
//! assert!(missing.is_empty(), "a missing file is the default value");
//!
//! recentchanges_core::state::save_json(&path, &BTreeMap::from([("enwiki".to_string(), 42u64)]))?;
//! let back: BTreeMap<String, u64> = recentchanges_core::state::load_json(&path)?;
//! assert_eq!(back["enwiki"], 42);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// How the temporary files [`write_atomic`] makes begin (a dot: hidden, and never the name
/// of a page file or a position file).
pub const TMP_PREFIX: &str = ".tmp-";

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`. Not
/// flushed to the disk: a power loss may still lose the last writes.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = temp_path(dir);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A name no other writer (thread or process) uses at the same time.
fn temp_path(dir: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    dir.join(format!(
        "{TMP_PREFIX}{}-{}-{nanos:08x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
    ))
}

/// Reads a JSON state file; a missing file is `T::default()`. A file that is not the
/// expected JSON is an [`io::ErrorKind::InvalidData`] error.
pub fn load_json<T: DeserializeOwned + Default>(path: &Path) -> io::Result<T> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(e),
    }
}

/// Writes a JSON state file atomically (see [`write_atomic`]).
pub fn save_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    write_atomic(path, &json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_file_is_invalid_data_and_no_temporary_file_is_left() {
        let dir = std::env::temp_dir().join(format!("rc-state-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pos.json");
        std::fs::write(&path, b"{not json").unwrap();
        let err = load_json::<Vec<u64>>(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);

        save_json(&path, &vec![1u64, 2]).unwrap();
        assert_eq!(load_json::<Vec<u64>>(&path).unwrap(), vec![1, 2]);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("pos.json")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_write_into_a_missing_directory_fails_and_says_so() {
        let path = std::env::temp_dir().join("rc-state-no-such-dir/x/pos.json");
        assert_eq!(
            save_json(&path, &1u64).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }
}
