//! What the crate's HTTP clients ([`Api`](crate::Api),
//! [`wikirpc::Client`](crate::wikirpc::Client)) are configured with alike: one struct
//! their builders embed, the builder setters for it, and the checks every client makes
//! when it is built.

use std::time::Duration;

use reqwest::Url;

use crate::error::Error;
use crate::http::{self, RetryPolicy};

/// The settings every HTTP client of the crate has.
#[derive(Clone, Debug)]
pub(crate) struct HttpOptions {
    pub user_agent: String,
    pub retry: RetryPolicy,
    /// Time limit of one request.
    pub timeout: Duration,
    /// The largest answer body read, in bytes.
    pub max_body: usize,
    /// Whether credentials may cross plain `http://` to a host that is not loopback.
    pub allow_plaintext_credentials: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            user_agent: http::USER_AGENT.to_owned(),
            retry: RetryPolicy::default(),
            timeout: http::TIMEOUT,
            max_body: http::DEFAULT_MAX_BODY,
            allow_plaintext_credentials: false,
        }
    }
}

impl HttpOptions {
    /// Checks `url` (`what` names it in errors, e.g. `API URL`) and builds its reqwest
    /// client (see [`http::client`]). Credentials (`credentials` names them, e.g. `the
    /// basic-auth credentials`; a user name and password inside the URL count too) are
    /// refused over plain `http://` to a host that is not loopback, unless allowed.
    pub fn client(
        &self,
        what: &str,
        url: &str,
        cookies: bool,
        credentials: Option<&str>,
    ) -> Result<(Url, reqwest::Client), Error> {
        let (url, client) = http::client(what, url, &self.user_agent, Some(self.timeout), cookies)?;
        let in_url = !url.username().is_empty() || url.password().is_some();
        let sent = credentials.or(in_url.then_some("the user name and password of the URL"));
        if let Some(sent) = sent {
            if http::plaintext_to_remote(&url) && !self.allow_plaintext_credentials {
                return Err(http::plaintext_refused(sent, &url));
            }
        }
        Ok((url, client))
    }
}

/// The builder setters of [`HttpOptions`], for a builder with a field `http` of that type.
macro_rules! http_option_setters {
    () => {
        /// Lets credentials (a login, basic auth, or a user name and password inside the
        /// URL) be sent over plain `http://` to a host that is not loopback. Off by
        /// default: they would cross the network readable by anyone on the way, so
        /// `build` refuses them; loopback (`127.0.0.1`, `::1`, `localhost`) is always
        /// allowed.
        pub fn allow_plaintext_credentials(mut self, allow: bool) -> Self {
            self.http.allow_plaintext_credentials = allow;
            self
        }

        /// The `User-Agent` header. Wikimedia asks for a name and a way to contact you
        /// (default: [`DEFAULT_USER_AGENT`](crate::DEFAULT_USER_AGENT)).
        pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
            self.http.user_agent = ua.into();
            self
        }

        /// How failed requests are retried (default: [`RetryPolicy::default`](crate::RetryPolicy::default)).
        pub fn retry(mut self, policy: $crate::RetryPolicy) -> Self {
            self.http.retry = policy;
            self
        }

        /// Time limit of one request (default 60 s).
        pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.http.timeout = timeout;
            self
        }

        /// The largest answer body read, in bytes (default
        /// [`DEFAULT_MAX_BODY`](crate::DEFAULT_MAX_BODY), 64 MiB): a larger answer is
        /// [`Error::TooLarge`](crate::Error::TooLarge).
        pub fn max_body(mut self, bytes: usize) -> Self {
            self.http.max_body = bytes;
            self
        }
    };
}

pub(crate) use http_option_setters;
