//! Writing files so that a reader (or a process killed mid-write) never sees half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// Prefix of temporary files; page files never start with a dot.
pub(crate) const TMP_PREFIX: &str = ".tmp-";

/// Writes `bytes` to a temporary file beside `path` and renames it over `path`: readers see
/// the old content or the new one, never a mix, even if the process is killed meanwhile.
/// (Not flushed to the disk: a power loss may still lose the last writes.)
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
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
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

fn temp_path(dir: &Path) -> PathBuf {
    dir.join(format!(
        "{TMP_PREFIX}{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ))
}

/// Reads a JSON state file (a saved position); a missing file is `T::default()`.
pub(crate) fn load_json<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T, Error> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Writes a JSON state file atomically (see [`write_atomic`]).
pub(crate) fn save_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| {
        Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })?;
    write_atomic(path, &json)
}
