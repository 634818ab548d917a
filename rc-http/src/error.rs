//! Errors of the HTTP side.

use std::path::PathBuf;
use std::time::Duration;

/// Why a request to the wiki, or the mirror's work on disk, failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request could not be made or its answer not read (connection refused, timeout...).
    #[error("request to {url} failed: {source}")]
    Http {
        /// The URL, without its query.
        url: String,
        /// What reqwest said.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an HTTP error status.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL, without its query.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The answer's body is larger than the configured limit (`max_body` of
    /// [`ApiBuilder`](crate::ApiBuilder) and
    /// [`wikirpc::ClientBuilder`](crate::wikirpc::ClientBuilder); 64 MiB by default). Not
    /// retried.
    #[error("the answer of {url} is larger than {limit} bytes (raise max_body to take it)")]
    TooLarge {
        /// The URL, without its query.
        url: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The API answered with an error (`<error code="..." info="..."/>`).
    #[error("the API refused the request: {code}: {info}")]
    Api {
        /// The error code, e.g. `maxlag`, `ratelimited`, `badtoken`, `permissiondenied`.
        code: String,
        /// The human explanation.
        info: String,
    },
    /// The answer was not what the API sends.
    #[error("unexpected answer from {url}: {reason}")]
    Response {
        /// The URL, without its query.
        url: String,
        /// What was wrong with it.
        reason: String,
    },
    /// One `<rc>` element of an answer did not parse (the poller goes on after it).
    #[error("recent change {rcid:?} did not parse: {source}")]
    Parse {
        /// Its rcid, when that attribute could be read.
        rcid: Option<u64>,
        /// What rc-core said.
        #[source]
        source: Box<recentchanges_core::ParseError>,
    },
    /// Retries of a retryable failure ran out.
    #[error("gave up after {attempts} attempts over {elapsed:?}: {last}")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: Duration,
        /// The last failure.
        last: Box<Error>,
    },
    /// A file of the mirror or a state file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A configuration value is not usable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A WikiRPC call (DokuWiki, JSPWiki) failed: a fault, refused credentials, an
    /// answer of the wrong shape.
    #[error(transparent)]
    Rpc(Box<crate::wikirpc::RpcError>),
    /// The change source (the XMPP room) failed for good.
    #[error("the change source failed: {0}")]
    Source(String),
}

impl Error {
    /// The API error code, for [`Error::Api`] (also inside [`Error::GaveUp`]).
    ///
    /// ```
    /// let e = recentchanges_http::Error::Api { code: "maxlag".into(), info: "lagged".into() };
    /// assert_eq!(e.api_code(), Some("maxlag"));
    /// ```
    pub fn api_code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            Error::GaveUp { last, .. } => last.api_code(),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
