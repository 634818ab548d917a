//! Errors of the WikiRPC client and poller.

/// Why a WikiRPC call, or one change of its answer, failed.
///
/// ```
/// let e = recentchanges_http::wikirpc::RpcError::Auth {
///     url: "https://wiki.example.org/lib/exe/xmlrpc.php".into(),
///     user: Some("bot".into()),
///     status: 401,
/// };
/// assert_eq!(e.to_string(), "https://wiki.example.org/lib/exe/xmlrpc.php refused the credentials of user bot (HTTP 401)");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RpcError {
    /// The request could not be made, the server answered an HTTP error, retries ran out,
    /// a position file could not be read or written, or the configuration is unusable.
    #[error(transparent)]
    Http(#[from] crate::Error),
    /// The wiki refused the request for want of (valid) credentials: a wrong password, no
    /// credentials where they are needed, or a user without access to the API.
    #[error("{url} {} (HTTP {status})", match user {
        Some(u) => format!("refused the credentials of user {u}"),
        None => "needs credentials; none were given".to_owned(),
    })]
    Auth {
        /// The endpoint.
        url: String,
        /// The user whose credentials were refused (never the password).
        user: Option<String>,
        /// The HTTP status (401 or 403).
        status: u16,
    },
    /// The server answered with an XML-RPC fault.
    #[error("{method} failed: fault {code}: {message}")]
    Fault {
        /// The method called.
        method: String,
        /// The fault code.
        code: i64,
        /// The fault string.
        message: String,
    },
    /// The answer was not an XML-RPC response of the expected shape.
    #[error("unexpected answer to {method} from {url}: {reason}")]
    Response {
        /// The endpoint.
        url: String,
        /// The method called.
        method: String,
        /// What was wrong with it.
        reason: String,
    },
    /// One change listed by `getRecentChanges` was unusable; the poller goes on after it.
    #[error("change #{index} of the answer{} is unusable: {reason}",
        name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default())]
    Entry {
        /// Its place in the answer, from 0.
        index: usize,
        /// Its page name, when that could be read.
        name: Option<String>,
        /// What was wrong.
        reason: String,
    },
}
