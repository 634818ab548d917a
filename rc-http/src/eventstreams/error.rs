//! What can go wrong while following EventStreams.

/// An error item of an [`EventStream`](super::EventStream), or why it could not start.
///
/// Bad events are items and the stream goes on; only [`is_fatal`](Self::is_fatal) errors
/// end it. Lost connections, stalls and `429 Too Many Requests` are not items: the stream
/// reconnects by itself and says so in its [`Status`](super::Status).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventStreamsError {
    /// An event whose data is not a valid event (invalid JSON, a field of the wrong type).
    #[error("event {at}: {reason}")]
    BadEvent {
        /// The event: `topic/partition@offset`, its id, or its SSE id.
        at: String,
        /// What was wrong, naming the field.
        reason: String,
    },
    /// An event larger than [`max_event_bytes`](super::EventStreams::max_event_bytes) was
    /// dropped without being read.
    #[error(
        "an event larger than {limit} bytes was dropped (the last event id before it: {after})"
    )]
    TooLarge {
        /// The limit.
        limit: usize,
        /// The SSE id in force when it was dropped.
        after: String,
    },
    /// An SSE event of a type EventStreams does not send for data (`event: error`...).
    #[error("the server sent an event of type {kind:?}: {data}")]
    Server {
        /// The SSE event type.
        kind: String,
        /// Its data (cut to 500 bytes).
        data: String,
    },
    /// The server refused the request for good (unknown stream, bad `Last-Event-ID`,
    /// forbidden): the stream ends.
    #[error("{url} answered HTTP {status}: {body}")]
    Refused {
        /// The stream URL, without its query.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// The stream's settings are not usable.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl EventStreamsError {
    /// Whether the stream ends after it.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            EventStreamsError::Refused { .. } | EventStreamsError::Config(_)
        )
    }
}

/// At most `max` bytes of `s`, cut on a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}
