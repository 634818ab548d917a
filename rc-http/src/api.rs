//! A polite client of one wiki's `api.php`: `maxlag` on every request, retries with backoff
//! that honour `Retry-After` and the API's `maxlag` / `ratelimited` errors, a cookie jar for
//! a logged-in session, and the page-text helpers the mirror uses.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::Url;
use serde_json::Value;

use crate::error::Error;
use crate::http::{self, retry_after, Attempt, RetryPolicy};
use crate::options::{http_option_setters, HttpOptions};

/// How many titles one `prop=revisions` request asks for (the API's limit for content
/// without `apihighlimits`).
pub const TITLES_PER_REQUEST: usize = 50;

/// A client of one wiki's web API. Cloning it is cheap and shares the connection pool and
/// the cookie jar.
///
/// ```no_run
/// # async fn run() -> Result<(), recentchanges_http::Error> {
/// let api = recentchanges_http::Api::new("https://en.wikipedia.org/w/api.php")?;
/// match api.fetch_text("Main Page").await? {
///     Some(text) => println!("{} bytes", text.len()),
///     None => println!("no such page"),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Api {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    url: Url,
    /// `url` without user name and password: how it is shown.
    shown: String,
    maxlag: Option<u32>,
    retry: RetryPolicy,
    max_body: usize,
    allow_plaintext_credentials: bool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("url", &self.shown)
            .field("maxlag", &self.maxlag)
            .field("retry", &self.retry)
            .field("max_body", &self.max_body)
            .field(
                "allow_plaintext_credentials",
                &self.allow_plaintext_credentials,
            )
            .finish_non_exhaustive()
    }
}

/// Configures an [`Api`]. Defaults: `maxlag=5`, [`RetryPolicy::default`], a 60 s timeout
/// per request, a cookie jar, and the user agent `recentchanges-rs/<version>`.
///
/// ```
/// let api = recentchanges_http::Api::builder("http://127.0.0.1:8080/api.php")
///     .user_agent("my-bot/1.0 (https://example.org/my-bot; me@example.org)")
///     .maxlag(Some(3))
///     .build()?;
/// assert_eq!(api.url(), "http://127.0.0.1:8080/api.php");
/// # Ok::<(), recentchanges_http::Error>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct ApiBuilder {
    url: String,
    maxlag: Option<u32>,
    http: HttpOptions,
}

impl std::fmt::Debug for ApiBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiBuilder")
            .field("url", &http::redact_str(&self.url))
            .field("maxlag", &self.maxlag)
            .field("http", &self.http)
            .finish()
    }
}

impl ApiBuilder {
    http_option_setters!();

    /// The `maxlag` parameter sent with every request (`None`: not sent). With it, a
    /// replicated wiki under load answers "try again later" instead of serving you.
    pub fn maxlag(mut self, seconds: Option<u32>) -> Self {
        self.maxlag = seconds;
        self
    }

    /// Builds the client. [`Api::login`] sends a password: over plain `http://` to a host
    /// that is not loopback only with
    /// [`allow_plaintext_credentials`](Self::allow_plaintext_credentials).
    pub fn build(self) -> Result<Api, Error> {
        let (url, client) = self.http.client("API URL", &self.url, true, None)?;
        Ok(Api {
            inner: Arc::new(Inner {
                http: client,
                shown: http::without_userinfo(&url).to_string(),
                allow_plaintext_credentials: self.http.allow_plaintext_credentials,
                url,
                maxlag: self.maxlag,
                retry: self.http.retry,
                max_body: self.http.max_body,
            }),
        })
    }
}

/// A page's current text, as `prop=revisions` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PageText {
    /// The prefixed title, e.g. `Talk:Alpha`.
    pub title: String,
    /// The namespace number.
    pub namespace: i32,
    /// The page id.
    pub page_id: u64,
    /// The current revision.
    pub rev_id: u64,
    /// When the current revision was saved.
    pub timestamp: Option<chrono::DateTime<chrono::Utc>>,
    /// The SHA-1 of the current revision's content (hex), as the wiki computed it.
    pub sha1: Option<String>,
    /// The text (wikitext, or JSON, CSS... per the page's content model).
    pub text: String,
}

/// Answer of a write request, e.g. `{"edit": {"result": "Success", ...}}`.
pub type Json = Value;

impl Api {
    /// A client with the defaults of [`ApiBuilder`].
    pub fn new(api_url: &str) -> Result<Api, Error> {
        Api::builder(api_url).build()
    }

    /// Configures a client for the wiki whose `api.php` is at `api_url`.
    pub fn builder(api_url: &str) -> ApiBuilder {
        ApiBuilder {
            url: api_url.to_owned(),
            maxlag: Some(5),
            http: HttpOptions::default(),
        }
    }

    /// The API's URL (without a user name and password it may have had).
    pub fn url(&self) -> &str {
        &self.inner.shown
    }

    /// The URL as errors show it: without user name, password and query.
    pub(crate) fn url_for_errors(&self) -> String {
        let mut u = http::without_userinfo(&self.inner.url);
        u.set_query(None);
        u.to_string()
    }

    /// `GET` with `format=xml`: the answer's text, after checking it is not an API error.
    ///
    /// ```no_run
    /// # async fn run(api: recentchanges_http::Api) -> Result<(), recentchanges_http::Error> {
    /// let xml = api.get_xml(&[("action", "query"), ("list", "recentchanges"), ("rclimit", "5")]).await?;
    /// assert!(xml.contains("<recentchanges"));
    /// # Ok(()) }
    /// ```
    pub async fn get_xml(&self, params: &[(&str, &str)]) -> Result<String, Error> {
        let mut p: Vec<(&str, &str)> = params.to_vec();
        p.push(("format", "xml"));
        self.retrying(false, || async {
            self.send(false, true, &p)
                .await
                .and_then(|(body, headers)| match xml_api_error(&body) {
                    None => Attempt::Done(body),
                    Some((code, info, lag)) => classify_api_error(false, code, info, lag, &headers),
                })
        })
        .await
    }

    /// `GET` with `format=json&formatversion=2`: the answer, after checking it is not an
    /// API error.
    ///
    /// ```no_run
    /// # async fn run(api: recentchanges_http::Api) -> Result<(), recentchanges_http::Error> {
    /// let info = api.get_json(&[("action", "query"), ("meta", "siteinfo")]).await?;
    /// println!("{}", info["query"]["general"]["sitename"]);
    /// # Ok(()) }
    /// ```
    pub async fn get_json(&self, params: &[(&str, &str)]) -> Result<Value, Error> {
        self.json(false, true, params).await
    }

    /// `POST` with `format=json&formatversion=2` (write actions: give the `token`).
    ///
    /// ```no_run
    /// # async fn run(api: recentchanges_http::Api) -> Result<(), recentchanges_http::Error> {
    /// let token = api.token("csrf").await?;
    /// let res = api.post_json(&[("action", "edit"), ("title", "Sandbox"), ("text", "Hello"),
    ///     ("token", &token)]).await?;
    /// assert_eq!(res["edit"]["result"], "Success");
    /// # Ok(()) }
    /// ```
    pub async fn post_json(&self, params: &[(&str, &str)]) -> Result<Value, Error> {
        self.json(true, false, params).await
    }

    /// `POST` of a query that only reads (too long for a URL: 50 titles), retried like a
    /// `GET` (a 503, a timeout or an answer cut off is tried again).
    pub(crate) async fn read_post_json(&self, params: &[(&str, &str)]) -> Result<Value, Error> {
        self.json(true, true, params).await
    }

    /// `idempotent`: repeating the request cannot do anything twice (every `GET`, and a
    /// `POST` that only reads).
    async fn json(
        &self,
        post: bool,
        idempotent: bool,
        params: &[(&str, &str)],
    ) -> Result<Value, Error> {
        let mut p: Vec<(&str, &str)> = params.to_vec();
        p.push(("format", "json"));
        p.push(("formatversion", "2"));
        let url = self.url_for_errors();
        self.retrying(post, || async {
            self.send(post, idempotent, &p)
                .await
                .and_then(|(body, headers)| {
                    let v: Value = match serde_json::from_str(&body) {
                        Ok(v) => v,
                        Err(e) => {
                            return Attempt::Fail(Error::Response {
                                url: url.clone(),
                                reason: format!("not JSON ({e}): {}", snippet(&body)),
                            })
                        }
                    };
                    match v.get("error") {
                        None => Attempt::Done(v),
                        Some(err) => {
                            let code = err["code"].as_str().unwrap_or("unknown").to_owned();
                            let info = err["info"].as_str().unwrap_or_default().to_owned();
                            let lag = err["lag"].as_f64();
                            classify_api_error(!idempotent, code, info, lag, &headers)
                        }
                    }
                })
        })
        .await
    }

    /// A token of this kind (`csrf`, `login`, `createaccount`, `userrights`, `patrol`...).
    pub async fn token(&self, kind: &str) -> Result<String, Error> {
        let v = self
            .get_json(&[("action", "query"), ("meta", "tokens"), ("type", kind)])
            .await?;
        v["query"]["tokens"][format!("{kind}token")]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Error::Response {
                url: self.url_for_errors(),
                reason: format!("no {kind} token in {}", snippet(&v.to_string())),
            })
    }

    /// Logs in (a bot password `Name@bot`, or an account's own password); later requests
    /// of this client and its clones are made as that user. A logged-in poller may see
    /// more (the `patrolled` flag needs the patrol right) and has higher limits.
    ///
    /// Refused ([`Error::Config`]) over plain `http://` to a host that is not loopback,
    /// unless [`ApiBuilder::allow_plaintext_credentials`] allows it.
    pub async fn login(&self, user: &str, password: &str) -> Result<(), Error> {
        if http::plaintext_to_remote(&self.inner.url) && !self.inner.allow_plaintext_credentials {
            return Err(http::plaintext_refused(
                "the password of login",
                &self.inner.url,
            ));
        }
        let token = self.token("login").await?;
        let res = self
            .post_json(&[
                ("action", "login"),
                ("lgname", user),
                ("lgpassword", password),
                ("lgtoken", &token),
            ])
            .await?;
        if res["login"]["result"] == "Success" {
            return Ok(());
        }
        // Accounts' own passwords may be refused by action=login: use clientlogin.
        let token = self.token("login").await?;
        let res = self
            .post_json(&[
                ("action", "clientlogin"),
                ("username", user),
                ("password", password),
                ("loginreturnurl", self.url()),
                ("logintoken", &token),
            ])
            .await?;
        if res["clientlogin"]["status"] == "PASS" {
            Ok(())
        } else {
            Err(Error::Api {
                code: "loginfailed".into(),
                info: format!("login as {user} failed: {res}"),
            })
        }
    }

    /// The current text of a page, or `None` when it does not exist (missing, deleted,
    /// or an invalid or special title).
    ///
    /// ```no_run
    /// # async fn run(api: recentchanges_http::Api) -> Result<(), recentchanges_http::Error> {
    /// assert_eq!(api.fetch_text("No such page, surely").await?, None);
    /// # Ok(()) }
    /// ```
    pub async fn fetch_text(&self, title: &str) -> Result<Option<String>, Error> {
        Ok(self
            .fetch_pages(&[title])
            .await?
            .remove(title)
            .flatten()
            .map(|p| p.text))
    }

    /// The current texts of many pages, [`TITLES_PER_REQUEST`] per request: by each title
    /// asked for, `None` for pages that do not exist. Redirects are not followed.
    pub async fn fetch_pages<S: AsRef<str>>(
        &self,
        titles: &[S],
    ) -> Result<BTreeMap<String, Option<PageText>>, Error> {
        let mut out = BTreeMap::new();
        for chunk in titles.chunks(TITLES_PER_REQUEST) {
            let joined = chunk
                .iter()
                .map(|t| t.as_ref())
                .collect::<Vec<_>>()
                .join("|");
            let base = [
                ("action", "query"),
                ("prop", "revisions"),
                ("rvprop", "ids|timestamp|sha1|content"),
                ("rvslots", "main"),
                ("titles", joined.as_str()),
            ];
            let (pages, normalized) = self.pages_query(&base).await?;
            for t in chunk {
                let asked = t.as_ref();
                let title = normalized.get(asked).map(String::as_str).unwrap_or(asked);
                out.insert(asked.to_owned(), pages.get(title).cloned().flatten());
            }
        }
        Ok(out)
    }

    /// Runs a `prop=revisions` query with its continuations: pages by title (`None`:
    /// missing or invalid), and the normalisations the API made.
    async fn pages_query(
        &self,
        base: &[(&str, &str)],
    ) -> Result<(PagesByTitle, BTreeMap<String, String>), Error> {
        let mut pages = BTreeMap::new();
        let mut normalized = BTreeMap::new();
        let mut cont: Vec<(String, String)> = Vec::new();
        for _ in 0..1000 {
            let mut p: Vec<(&str, &str)> = base.to_vec();
            p.extend(cont.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let v = self.read_post_json(&p).await?;
            for n in v["query"]["normalized"].as_array().into_iter().flatten() {
                if let (Some(from), Some(to)) = (n["from"].as_str(), n["to"].as_str()) {
                    normalized.insert(from.to_owned(), to.to_owned());
                }
            }
            for page in v["query"]["pages"].as_array().into_iter().flatten() {
                let Some(title) = page["title"].as_str() else {
                    continue;
                };
                let entry = pages.entry(title.to_owned()).or_insert(None);
                if let Some(text) = page_text(page) {
                    *entry = Some(text);
                }
            }
            cont = continuation(&v);
            if cont.is_empty() {
                return Ok((pages, normalized));
            }
        }
        Err(Error::Response {
            url: self.url_for_errors(),
            reason: "more than 1000 continuations of one page query".into(),
        })
    }

    /// The namespaces of the wiki that hold pages (number and name; `0` is `""`).
    pub async fn namespaces(&self) -> Result<Vec<(i32, String)>, Error> {
        let v = self
            .get_json(&[
                ("action", "query"),
                ("meta", "siteinfo"),
                ("siprop", "namespaces"),
            ])
            .await?;
        let mut out: Vec<(i32, String)> = v["query"]["namespaces"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
            .filter_map(|ns| {
                let id = i32::try_from(ns["id"].as_i64()?).ok()?;
                Some((id, ns["name"].as_str().unwrap_or_default().to_owned()))
            })
            .filter(|(id, _)| *id >= 0)
            .collect();
        out.sort();
        Ok(out)
    }

    /// Every page of a namespace with its text, a batch of up to
    /// [`TITLES_PER_REQUEST`] pages per request (`generator=allpages`).
    ///
    /// ```no_run
    /// # async fn run(api: recentchanges_http::Api) -> Result<(), recentchanges_http::Error> {
    /// let mut pages = api.all_pages(0);
    /// while let Some(batch) = pages.next_batch().await? {
    ///     for page in batch {
    ///         println!("{}: {} bytes", page.title, page.text.len());
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn all_pages(&self, namespace: i32) -> AllPages {
        AllPages {
            api: self.clone(),
            generator: vec![
                ("generator", "allpages".into()),
                ("gapnamespace", namespace.to_string()),
                ("gaplimit", "50".into()),
            ],
            cont: Some(Vec::new()),
        }
    }

    /// Every page in a category (`Category:Name`, or just `Name`) with its text, batch
    /// by batch (`generator=categorymembers`; subcategories are members, not descended).
    pub fn category_pages(&self, category: &str) -> AllPages {
        AllPages {
            api: self.clone(),
            generator: vec![
                ("generator", "categorymembers".into()),
                ("gcmtitle", category_title(category)),
                ("gcmlimit", "50".into()),
            ],
            cont: Some(Vec::new()),
        }
    }

    /// Which of `titles` are in the category now (`prop=categories&clcategories`).
    pub async fn in_category<S: AsRef<str>>(
        &self,
        titles: &[S],
        category: &str,
    ) -> Result<std::collections::BTreeSet<String>, Error> {
        let category = category_title(category);
        let mut members = std::collections::BTreeSet::new();
        for chunk in titles.chunks(TITLES_PER_REQUEST) {
            let joined = chunk
                .iter()
                .map(|t| t.as_ref())
                .collect::<Vec<_>>()
                .join("|");
            let mut cont: Vec<(String, String)> = Vec::new();
            for _ in 0..1000 {
                let mut p: Vec<(&str, &str)> = vec![
                    ("action", "query"),
                    ("prop", "categories"),
                    ("clcategories", &category),
                    ("cllimit", "max"),
                    ("titles", &joined),
                ];
                p.extend(cont.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                let v = self.read_post_json(&p).await?;
                let normalized: BTreeMap<&str, &str> = v["query"]["normalized"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|n| Some((n["to"].as_str()?, n["from"].as_str()?)))
                    .collect();
                for page in v["query"]["pages"].as_array().into_iter().flatten() {
                    let listed = page["categories"].as_array().is_some_and(|c| !c.is_empty());
                    if let (true, Some(title)) = (listed, page["title"].as_str()) {
                        members.insert(normalized.get(title).copied().unwrap_or(title).to_owned());
                        members.insert(title.to_owned());
                    }
                }
                cont = continuation(&v);
                if cont.is_empty() {
                    break;
                }
            }
        }
        Ok(members)
    }

    /// Runs one attempt after another per the client's [`RetryPolicy`].
    async fn retrying<T, F, Fut>(&self, post: bool, attempt: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Attempt<T>>,
    {
        let request = if post { "POST" } else { "GET" };
        http::retrying(self.inner.retry, request, attempt).await
    }

    /// One HTTP request (with `maxlag`): the body and headers of a 2xx answer.
    async fn send(
        &self,
        post: bool,
        idempotent: bool,
        params: &[(&str, &str)],
    ) -> Attempt<(String, HeaderMap)> {
        let maxlag = self.inner.maxlag.map(|m| m.to_string());
        let mut all: Vec<(&str, &str)> = params.to_vec();
        if let Some(m) = &maxlag {
            all.push(("maxlag", m));
        }
        let req = if post {
            self.inner.http.post(self.inner.url.clone()).form(&all)
        } else {
            let mut url = self.inner.url.clone();
            url.query_pairs_mut().extend_pairs(all.iter());
            self.inner.http.get(url)
        };
        http::send(req, &self.url_for_errors(), idempotent, self.inner.max_body).await
    }
}

type PagesByTitle = BTreeMap<String, Option<PageText>>;

/// `Category:Name` for `Name` (a title that already names the namespace stays).
fn category_title(category: &str) -> String {
    if category.starts_with("Category:") {
        category.to_owned()
    } else {
        format!("Category:{category}")
    }
}

/// Every page of one namespace (or one category) with its text, batch by batch: see
/// [`Api::all_pages`] and [`Api::category_pages`].
#[derive(Debug)]
pub struct AllPages {
    api: Api,
    /// The generator's parameters.
    generator: Vec<(&'static str, String)>,
    /// The continuation of the next request; `None` when done.
    cont: Option<Vec<(String, String)>>,
}

impl AllPages {
    /// The next batch, or `None` when every page was listed.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<PageText>>, Error> {
        let Some(cont) = self.cont.take() else {
            return Ok(None);
        };
        let mut p: Vec<(&str, &str)> = vec![("action", "query")];
        p.extend(self.generator.iter().map(|(k, v)| (*k, v.as_str())));
        p.extend([
            ("prop", "revisions"),
            ("rvprop", "ids|timestamp|sha1|content"),
            ("rvslots", "main"),
        ]);
        p.extend(cont.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let v = self.api.read_post_json(&p).await?;
        let batch: Vec<PageText> = v["query"]["pages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(page_text)
            .collect();
        let next = continuation(&v);
        if !next.is_empty() {
            self.cont = Some(next);
        }
        Ok(Some(batch))
    }
}

/// The `continue` object of a JSON answer, as request parameters.
fn continuation(v: &Value) -> Vec<(String, String)> {
    v["continue"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// A page of a `prop=revisions` answer with its current text; `None` when it is missing,
/// invalid, or its revision came without content (a continuation will bring it).
fn page_text(page: &Value) -> Option<PageText> {
    if page.get("missing").is_some() || page.get("invalid").is_some() {
        return None;
    }
    let rev = page["revisions"].as_array()?.first()?;
    let main = &rev["slots"]["main"];
    let text = match main["content"].as_str() {
        Some(t) => t.to_owned(),
        // Hidden content (revision deletion) cannot be read: an empty text.
        None if main.get("texthidden").is_some() => String::new(),
        None => return None,
    };
    Some(PageText {
        title: page["title"].as_str()?.to_owned(),
        namespace: i32::try_from(page["ns"].as_i64()?).ok()?,
        page_id: page["pageid"].as_u64()?,
        rev_id: rev["revid"].as_u64()?,
        timestamp: rev["timestamp"].as_str().and_then(|t| t.parse().ok()),
        sha1: rev["sha1"].as_str().map(str::to_owned),
        text,
    })
}

/// What to do about an API error: retry the transient ones.
fn classify_api_error<T>(
    post: bool,
    code: String,
    info: String,
    lag: Option<f64>,
    headers: &HeaderMap,
) -> Attempt<T> {
    let transient = matches!(code.as_str(), "maxlag" | "ratelimited" | "readonly")
        || (!post && code.starts_with("internal_api_error"));
    // The lag comes from the server: NaN, infinite or negative is no lag to wait for (the
    // policy's backoff then applies), and at most 300 s are waited.
    let after = retry_after(headers).or_else(|| {
        (code == "maxlag")
            .then(|| {
                lag.filter(|l| l.is_finite())
                    .and_then(|l| http::secs_f64(l.clamp(1.0, 300.0), Duration::from_secs(300)))
            })
            .flatten()
    });
    let error = Error::Api { code, info };
    if transient {
        Attempt::Retry { after, error }
    } else {
        Attempt::Fail(error)
    }
}

/// `(code, info, lag)` when an XML answer is an API error (`<api><error .../></api>`).
pub(crate) fn xml_api_error(body: &str) -> Option<(String, String, Option<f64>)> {
    use quick_xml::events::Event;
    if !body.contains("<error") {
        return None;
    }
    let mut reader = quick_xml::Reader::from_str(body);
    let mut depth = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e))
                if depth == 1 && e.local_name().as_ref() == "error" =>
            {
                let attr = |name: &str| {
                    e.try_get_attribute(name).ok().flatten().and_then(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .ok()
                            .map(|v| v.into_owned())
                    })
                };
                return Some((
                    attr("code").unwrap_or_else(|| "unknown".into()),
                    attr("info").unwrap_or_default(),
                    attr("lag").and_then(|l| l.parse().ok()),
                ));
            }
            Ok(Event::Start(_)) => depth += 1,
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

pub(crate) fn snippet(s: &str) -> String {
    let mut out: String = s.chars().take(200).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_error_of_an_xml_answer() {
        let body = r#"<?xml version="1.0"?><api servedby="db1"><error code="maxlag" info="Waiting for db2: 7 seconds lagged." host="db2" lag="7" type="db" xml:space="preserve" /></api>"#;
        assert_eq!(
            xml_api_error(body),
            Some((
                "maxlag".into(),
                "Waiting for db2: 7 seconds lagged.".into(),
                Some(7.0)
            ))
        );
        let ok = r#"<?xml version="1.0"?><api batchcomplete=""><query><recentchanges><rc type="edit" comment="&lt;error"/></recentchanges></query></api>"#;
        assert_eq!(xml_api_error(ok), None);
    }

    #[test]
    fn maxlag_waits_for_the_lag_or_retry_after() {
        use reqwest::header::RETRY_AFTER;
        let mut h = HeaderMap::new();
        match classify_api_error::<()>(false, "maxlag".into(), String::new(), Some(7.0), &h) {
            Attempt::Retry { after, .. } => assert_eq!(after, Some(Duration::from_secs(7))),
            _ => panic!("maxlag is retried"),
        }
        h.insert(RETRY_AFTER, "5".parse().unwrap());
        match classify_api_error::<()>(true, "maxlag".into(), String::new(), Some(7.0), &h) {
            Attempt::Retry { after, .. } => assert_eq!(after, Some(Duration::from_secs(5))),
            _ => panic!("maxlag is retried"),
        }
        assert!(matches!(
            classify_api_error::<()>(false, "badtoken".into(), String::new(), None, &h),
            Attempt::Fail(_)
        ));
    }

    #[test]
    fn a_maxlag_error_with_a_lag_of_nan_infinity_or_below_zero_is_retried_without_a_panic() {
        let h = HeaderMap::new();
        for (lag, expected) in [
            (f64::NAN, None),
            (f64::INFINITY, None),
            (f64::NEG_INFINITY, None),
            (-5.0, Some(Duration::from_secs(1))),
            (1e300, Some(Duration::from_secs(300))),
            (0.2, Some(Duration::from_secs(1))),
        ] {
            match classify_api_error::<()>(false, "maxlag".into(), String::new(), Some(lag), &h) {
                Attempt::Retry { after, .. } => assert_eq!(after, expected, "lag {lag}"),
                _ => panic!("maxlag is retried"),
            }
        }
    }

    #[test]
    fn reads_pages_of_a_revisions_answer() {
        let v: Value = serde_json::from_str(
            r#"{"query":{"pages":[{"pageid":2,"ns":0,"title":"Alpha","revisions":[{"revid":9,"slots":{"main":{"content":"Hi"}}}]},
            {"ns":0,"title":"Gone","missing":true}]}}"#,
        )
        .unwrap();
        let pages: Vec<_> = v["query"]["pages"]
            .as_array()
            .unwrap()
            .iter()
            .map(page_text)
            .collect();
        assert_eq!(
            pages[0].as_ref().map(|p| (p.rev_id, p.text.as_str())),
            Some((9, "Hi"))
        );
        assert_eq!(pages[1], None);
    }
}
