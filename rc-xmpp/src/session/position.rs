//! Where a stream stands and where it starts: the [`Position`] a stream keeps (the room
//! client's, the subscriber's), and the [`Resume`] options that load and keep it.

use std::io;
use std::path::{Path, PathBuf};

use crate::error::ConfigError;

/// Where a stream stands in all its sources: a room client's
/// [`ResumePosition`](crate::ResumePosition), a subscriber's
/// [`PubSubPosition`](crate::pubsub::PubSubPosition).
pub(crate) trait Position: Clone + Default + serde::Serialize {
    /// One item's place in its source.
    type Mark;

    /// Moves to `mark`.
    fn advance(&mut self, mark: &Self::Mark);

    /// Reads a position saved before; a missing file is an empty position.
    fn load(path: &Path) -> io::Result<Self>;
}

/// Where a stream starts, and the file that keeps its position, if any.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resume<P> {
    pub position: P,
    pub file: Option<PathBuf>,
}

impl<P: Position> Resume<P> {
    /// Continues from the position in this file (if it exists), and keeps it there.
    pub fn from_file(path: PathBuf) -> Result<Self, ConfigError> {
        let position = P::load(&path).map_err(|e| ConfigError::ResumeFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Resume {
            position,
            file: Some(path),
        })
    }
}
