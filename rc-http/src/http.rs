//! What the two HTTP clients, [`Api`](crate::Api) and
//! [`wikirpc::Client`](crate::wikirpc::Client), do the same way: build the reqwest client
//! (rustls with the platform's verifier), and send one request again and again until it
//! succeeds, fails for good, or the [`RetryPolicy`] is spent.
//!
//! The rules, for both: a connection failure, HTTP 429, 502, 503 or 504, or an answer cut
//! off is tried again; a request that may change something (a MediaWiki `POST`, a WikiRPC
//! call that is not a read) only when it surely did nothing: its connection was refused,
//! or the server answered 429. A `Retry-After` header (in seconds) says how long to wait;
//! otherwise the delay doubles from [`RetryPolicy::initial`] up to [`RetryPolicy::max`],
//! give or take a fifth.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use crate::error::Error;

/// How failed requests are retried: exponential backoff with jitter, within a budget.
///
/// Retried: connection failures, HTTP 429/502/503/504, answers cut off, and (by [`Api`])
/// the API errors `maxlag`, `ratelimited`, `readonly` and `internal_api_error_*`. A
/// `Retry-After` header (or the lag of a `maxlag` error) replaces the computed delay; it
/// is honoured up to 10 minutes, and only when the wait ends within `max_elapsed`: when it
/// would not, the request gives up at once ([`Error::GaveUp`](crate::Error::GaveUp))
/// instead of sleeping past the budget. A poller that got an error waits before its next
/// request (1 s, doubling up to 5 minutes), so a wiki that fails for good (HTTP 500, an
/// HTML page instead of the API) is not asked again in a tight loop.
/// Requests that may change something (MediaWiki `POST`s, WikiRPC calls other than reads)
/// are retried only when they surely did nothing: the connection was refused, the server
/// answered 429, or the API refused them. [`Api`] and
/// [`wikirpc::Client`](crate::wikirpc::Client) follow the same rules.
///
/// ```
/// let quick = recentchanges_http::RetryPolicy { initial: std::time::Duration::from_millis(100), ..Default::default() };
/// assert_eq!(quick.max_attempts, 10);
/// ```
///
/// [`Api`]: crate::Api
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Delay before the first retry.
    pub initial: Duration,
    /// The delay never grows beyond this (a `Retry-After` may ask for more).
    pub max: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// No retry starts after this much time since the first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            max_attempts: 10,
            max_elapsed: Duration::from_secs(600),
        }
    }
}

/// The default `User-Agent` of every request the SDK makes: it names the SDK and says how
/// to name your tool instead, as Wikimedia's User-Agent policy asks
/// (<https://meta.wikimedia.org/wiki/User-Agent_policy>).
pub const DEFAULT_USER_AGENT: &str = concat!(
    "recentchanges/",
    env!("CARGO_PKG_VERSION"),
    " (Rust SDK; default User-Agent: set user_agent to your tool and a contact, see https://meta.wikimedia.org/wiki/User-Agent_policy)"
);

pub(crate) const USER_AGENT: &str = DEFAULT_USER_AGENT;

/// The default largest answer body read, in bytes (64 MiB): a larger one is
/// [`Error::TooLarge`], not retried.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024 * 1024;

/// The default time limit of one request.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(60);

/// The longest `Retry-After` honoured (longer ones are waited this long), and only while
/// it ends within [`RetryPolicy::max_elapsed`]: a longer one gives up at once.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// The longest wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks `url` (an http(s) URL; `what` names it in errors, e.g. `API URL`) and builds the
/// reqwest client for it: rustls with the platform's verifier, HTTP/1.1, `user_agent`,
/// `timeout` per request if any (10 s at most to connect), and a cookie jar when `cookies`.
pub(crate) fn client(
    what: &str,
    url: &str,
    user_agent: &str,
    timeout: Option<Duration>,
    cookies: bool,
) -> Result<(Url, reqwest::Client), Error> {
    let parsed: Url = url
        .parse()
        .map_err(|e| Error::Config(format!("{what} {:?}: {e}", redact_str(url))))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::Config(format!(
            "{what} {:?}: not http(s)",
            redact_str(url)
        )));
    }
    let connect = timeout.map_or(CONNECT_TIMEOUT, |t| t.min(CONNECT_TIMEOUT));
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config()?)
        .user_agent(user_agent)
        .cookie_store(cookies)
        .connect_timeout(connect);
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    let http = builder
        .build()
        .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
    Ok((parsed, http))
}

/// `url` without its user name and password (`https://user:pw@host/` -> `https://host/`):
/// how every URL is shown, in errors, logs and `Debug`.
pub(crate) fn without_userinfo(url: &Url) -> Url {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u
}

/// A URL as given (perhaps not even a URL) with anything that may be a user name and
/// password removed: the part between `://` and the last `@` before the path.
pub(crate) fn redact_str(url: &str) -> String {
    if let Ok(u) = url.parse::<Url>() {
        return without_userinfo(&u).to_string();
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// Whether credentials sent to `url` would cross the network in clear text: plain
/// `http://` to a host that is not loopback (`127.0.0.0/8`, `::1`, `localhost`).
pub(crate) fn plaintext_to_remote(url: &Url) -> bool {
    if url.scheme() != "http" {
        return false;
    }
    let Some(host) = url.host_str() else {
        return true;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => !ip.is_loopback(),
        Err(_) => {
            let d = host.trim_end_matches('.').to_ascii_lowercase();
            d != "localhost" && !d.ends_with(".localhost")
        }
    }
}

/// The error for credentials that would be sent in clear text (`what`: which ones).
pub(crate) fn plaintext_refused(what: &str, url: &Url) -> Error {
    Error::Config(format!(
        "{what} would be sent unencrypted to {} (plain http:// to a host that is not \
         loopback): use https://, or allow_plaintext_credentials(true) to send them anyway",
        without_userinfo(url)
    ))
}

/// rustls with the ring provider and the platform's certificate verifier.
fn tls_config() -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| Error::Config(format!("TLS verifier: {e}")))?;
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// The outcome of one attempt.
pub(crate) enum Attempt<T> {
    Done(T),
    Retry {
        /// What the server asked for (`Retry-After`); `None`: the policy's backoff.
        after: Option<Duration>,
        error: Error,
    },
    Fail(Error),
}

impl<T> Attempt<T> {
    /// Goes on with the answer of a successful attempt (to look into it for errors the
    /// HTTP status does not show).
    pub(crate) fn and_then<U>(self, f: impl FnOnce(T) -> Attempt<U>) -> Attempt<U> {
        match self {
            Attempt::Done(t) => f(t),
            Attempt::Retry { after, error } => Attempt::Retry { after, error },
            Attempt::Fail(e) => Attempt::Fail(e),
        }
    }
}

/// Runs one attempt after another until one is done or fails for good, or the retry
/// budget is spent ([`Error::GaveUp`] with the last failure). `request` names the request
/// in the log.
pub(crate) async fn retrying<T, F, Fut>(
    policy: RetryPolicy,
    request: &str,
    mut attempt: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let start = Instant::now();
    let mut delay = policy.initial;
    let mut n = 0u32;
    loop {
        n += 1;
        match attempt().await {
            Attempt::Done(t) => return Ok(t),
            Attempt::Fail(e) => return Err(e),
            Attempt::Retry { after, error } => {
                if n >= policy.max_attempts.max(1) || start.elapsed() >= policy.max_elapsed {
                    return Err(Error::GaveUp {
                        attempts: n,
                        elapsed: start.elapsed(),
                        last: Box::new(error),
                    });
                }
                let wait = match after {
                    Some(after) => after.min(MAX_RETRY_AFTER),
                    None => jitter(delay.min(policy.max)).min(policy.max),
                };
                // A wait that would end past the budget is not started: the caller hears
                // now, not after an hour, that the server is not serving.
                let spent = start.elapsed();
                if after.is_some() && spent.saturating_add(wait) > policy.max_elapsed {
                    tracing::warn!(
                        attempt = n,
                        request,
                        "{error}; the server asks to wait {}s, beyond the retry budget",
                        wait.as_secs()
                    );
                    return Err(Error::GaveUp {
                        attempts: n,
                        elapsed: spent,
                        last: Box::new(error),
                    });
                }
                tracing::warn!(
                    attempt = n,
                    request,
                    "{error}; retrying in {:.1}s",
                    wait.as_secs_f64()
                );
                tokio::time::sleep(wait).await;
                delay = delay.saturating_mul(2).min(policy.max);
            }
        }
    }
}

/// Sends one request: the body and headers of a 2xx answer, or its failure and whether
/// to try again (see the module's rules; `idempotent`: repeating the request cannot do
/// anything twice). Errors name `url`.
pub(crate) async fn send(
    req: reqwest::RequestBuilder,
    url: &str,
    idempotent: bool,
    max_body: usize,
) -> Attempt<(String, HeaderMap)> {
    let http_error = |source: reqwest::Error| Error::Http {
        url: url.to_owned(),
        source: source.without_url(),
    };
    let mut resp = match req.send().await {
        Ok(r) => r,
        Err(source) => {
            let retry = idempotent || source.is_connect();
            let error = http_error(source);
            return if retry {
                Attempt::Retry { after: None, error }
            } else {
                Attempt::Fail(error)
            };
        }
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    if !status.is_success() {
        let error = Error::Status {
            url: url.to_owned(),
            status: status.as_u16(),
        };
        let passing = matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
        );
        // A 429 says the request was not served: safe to repeat even if it changes things.
        return if passing && (idempotent || status == StatusCode::TOO_MANY_REQUESTS) {
            Attempt::Retry {
                after: retry_after(&headers),
                error,
            }
        } else {
            Attempt::Fail(error)
        };
    }
    let too_large = || {
        Attempt::Fail(Error::TooLarge {
            url: url.to_owned(),
            limit: max_body,
        })
    };
    if resp
        .content_length()
        .is_some_and(|n| n > u64::try_from(max_body).unwrap_or(u64::MAX))
    {
        return too_large();
    }
    let mut body: Vec<u8> = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len().saturating_add(chunk.len()) > max_body {
                    return too_large();
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            // The request was served: repeat it only if that does nothing twice.
            Err(source) if idempotent => {
                return Attempt::Retry {
                    after: None,
                    error: http_error(source),
                }
            }
            Err(source) => return Attempt::Fail(http_error(source)),
        }
    }
    let text = match String::from_utf8(body) {
        Ok(t) => t,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    Attempt::Done((text, headers))
}

/// The delay a `Retry-After` header asks for (in seconds; an HTTP date is not read).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    v.parse::<u64>().ok().map(Duration::from_secs)
}

/// `d` give or take a fifth (saturating: never a panic, whatever the policy says).
pub(crate) fn jitter(d: Duration) -> Duration {
    let secs = d.as_secs_f64() * rand::random_range(0.8..1.2);
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

/// A number of seconds read from somewhere untrusted (a server's answer, a caller's
/// float): `None` for NaN, infinities and negative numbers, else at most `max`. Never
/// panics, unlike `Duration::from_secs_f64`.
pub(crate) fn secs_f64(seconds: f64, max: Duration) -> Option<Duration> {
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Some(Duration::try_from_secs_f64(seconds).map_or(max, |d| d.min(max)))
}

/// `now + d`, or far in the future when that overflows (`Instant + Duration` panics).
pub(crate) fn deadline(now: tokio::time::Instant, d: Duration) -> tokio::time::Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}

/// What "never" is as a deadline: about 30 years, like tokio's own far future.
const FAR: Duration = Duration::from_secs(86400 * 365 * 30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, " 5 ".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(5)));
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn a_url_must_be_http() {
        let e = client("API URL", "ftp://x/", USER_AGENT, Some(TIMEOUT), false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: API URL \"ftp://x/\": not http(s)"
        );
    }

    #[tokio::test]
    async fn the_backoff_stays_under_the_cap_and_the_budget_ends_it() {
        let policy = RetryPolicy {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(30),
            max_attempts: 4,
            max_elapsed: Duration::from_secs(5),
        };
        let mut calls = 0;
        let t = Instant::now();
        let err = retrying::<(), _, _>(policy, "test", || {
            calls += 1;
            async {
                Attempt::Retry {
                    after: None,
                    error: Error::Config("busy".into()),
                }
            }
        })
        .await
        .unwrap_err();
        assert!(matches!(err, Error::GaveUp { attempts: 4, .. }), "{err}");
        assert_eq!(calls, 4);
        // Three waits of at most 30 ms each.
        assert!(
            t.elapsed() < Duration::from_millis(90 + 200),
            "{:?}",
            t.elapsed()
        );
    }
}
