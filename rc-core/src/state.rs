//! State files: where a consumer stands in a stream (a room's last stanza id, a poller's
//! timestamp...), kept as JSON across restarts. Every transport saves its position the
//! same way ([`save_json`]): written whole to a temporary file, flushed to the disk
//! (`fsync`), renamed over the old one, and the directory flushed too, so a reader, a
//! process killed mid-write or a power loss sees the old content or the new, never half
//! of it and never an empty file. A file that is empty or cut short anyway (a copy, a
//! full disk, a file system that does not keep its promises) is an error naming the file
//! and saying how to start over, never a silent fresh start: [`load_json`].
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
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// How the temporary files [`write_atomic`] makes begin (a dot: hidden, and never the name
/// of a page file or a position file).
pub const TMP_PREFIX: &str = ".tmp-";

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`. Not
/// flushed to the disk: a power loss may still lose the last writes (or leave an empty
/// file); [`write_durable`] is for files that must survive one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_replacing(path, bytes, false)
}

/// [`write_atomic`], flushed to the disk: the temporary file is synced before the rename
/// and the directory after it, so after a power loss `path` holds the old content or the
/// new. Costs a few milliseconds on a disk (two `fsync`s): the streams' position files
/// are flushed so at most about once a second ([`Committer`]).
pub fn write_durable(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_replacing(path, bytes, true)
}

fn write_replacing(path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = temp_path(dir);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        if sync {
            f.sync_all()?;
        }
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    if sync {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Flushes a directory's entries (the rename) to the disk.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Windows cannot open a directory as a file; its renames are journaled by NTFS.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
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

/// Reads a JSON state file; a missing file is `T::default()` (nothing saved yet: start
/// afresh). A file that is empty (only blanks or NUL bytes, as a crash can leave one), cut
/// short, or not the expected JSON is an [`io::ErrorKind::InvalidData`] error that names
/// the file and says to delete it to start over: never a silent fresh start, which would
/// re-read or skip a whole stream without a word.
pub fn load_json<T: DeserializeOwned + Default>(path: &Path) -> io::Result<T> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(T::default()),
        Err(e) => return Err(e),
    };
    let start_over = format!(
        "delete {} to start over (from the configured start), or put a good copy in its place",
        path.display()
    );
    if bytes.iter().all(|b| *b == 0 || b.is_ascii_whitespace()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the position file {} is empty ({} bytes; left so by a crash or a power loss?): {start_over}",
                path.display(),
                bytes.len()
            ),
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        let what = if e.is_eof() {
            "is cut short"
        } else {
            "is not a position this program wrote"
        };
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the position file {} {what} ({e}): {start_over}",
                path.display()
            ),
        )
    })
}

/// Writes a JSON state file atomically and durably (see [`write_durable`]).
pub fn save_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    write_durable(path, &json)
}

/// How often, at the most, a [`Committer`] flushes its file to the disk.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);

/// A stream's position file, committed as its consumer goes. A stream commits when its
/// consumer asks for the next item (the one before is handled then), so a consumer killed
/// and restarted sees again at most the item it was handling. Every [`commit`](Self::commit)
/// is written atomically ([`write_atomic`]: a few tens of microseconds, and a killed
/// process loses none); a commit at least [`SYNC_EVERY`] after the last flush is written
/// durably ([`write_durable`]), as is [`close`](Self::close): a power loss loses at most the
/// last second's commits (or, after a pause, the last one).
///
/// ```
/// use recentchanges_core::state::{load_json, Committer};
///
/// let dir = std::env::temp_dir().join(format!("rc-committer-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let mut file = Committer::new(dir.join("position.json"));
/// for rcid in 1..=3u64 {
///     file.commit(&rcid)?; // the consumer asked for the change after `rcid`
/// }
/// assert_eq!(load_json::<u64>(file.path())?, 3);
/// file.close(&4u64)?;
/// assert_eq!(load_json::<u64>(file.path())?, 4);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Committer {
    path: PathBuf,
    last_sync: Option<Instant>,
    /// What the file holds since the last write, and whether that write was flushed.
    written: Option<(Vec<u8>, bool)>,
}

impl Committer {
    /// Commits to `path` (written only by the first commit).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Committer {
            path: path.into(),
            last_sync: None,
            written: None,
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `position` atomically (unless the file holds it already), and durably when
    /// the last flush is [`SYNC_EVERY`] old.
    pub fn commit<T: Serialize + ?Sized>(&mut self, position: &T) -> io::Result<()> {
        let due = self.last_sync.is_none_or(|t| t.elapsed() >= SYNC_EVERY);
        self.write(position, due)
    }

    /// Whether the last write is not flushed to the disk yet.
    pub fn unflushed(&self) -> bool {
        matches!(self.written, Some((_, false)))
    }

    /// Writes `position` durably, unless the file holds it flushed already (the stream is
    /// closing).
    pub fn close<T: Serialize + ?Sized>(&mut self, position: &T) -> io::Result<()> {
        self.write(position, true)
    }

    fn write<T: Serialize + ?Sized>(&mut self, position: &T, durable: bool) -> io::Result<()> {
        let json = serde_json::to_vec_pretty(position).map_err(io::Error::other)?;
        match &self.written {
            Some((held, synced)) if *held == json && (*synced || !durable) => return Ok(()),
            _ => {}
        }
        if durable {
            write_durable(&self.path, &json)?;
            self.last_sync = Some(Instant::now());
        } else {
            write_atomic(&self.path, &json)?;
        }
        self.written = Some((json, durable));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

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
    fn an_empty_or_cut_short_file_is_an_error_naming_it_and_how_to_start_over() {
        let dir = std::env::temp_dir().join(format!("rc-state-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pos.json");
        let cases: [(&[u8], &str); 4] = [
            (b"", "is empty (0 bytes"),
            (b"\0\0\0\0", "is empty (4 bytes"),
            (b"{\"enwiki\": 4", "is cut short"),
            (b"[1, 2]", "is not a position this program wrote"),
        ];
        for (content, what) in cases {
            std::fs::write(&path, content).unwrap();
            let err = load_json::<BTreeMap<String, u64>>(&path).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            let msg = err.to_string();
            assert!(msg.contains(what), "{msg}");
            assert!(
                msg.contains(&path.display().to_string()),
                "names the file: {msg}"
            );
            assert!(msg.contains("to start over"), "{msg}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_saved_file_reads_back_and_replaces_the_old_one_whole() {
        let dir = std::env::temp_dir().join(format!("rc-state-durable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pos.json");
        std::fs::write(&path, b"").unwrap();
        let value = BTreeMap::from([("enwiki".to_string(), 7u64)]);
        save_json(&path, &value).unwrap();
        assert_eq!(load_json::<BTreeMap<String, u64>>(&path).unwrap(), value);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("pos.json")]);
        // A relative path (no parent directory part) syncs the current directory.
        let cwd_file = format!("rc-state-cwd-{}.json", std::process::id());
        write_durable(Path::new(&cwd_file), b"1").unwrap();
        std::fs::remove_file(&cwd_file).unwrap();
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
