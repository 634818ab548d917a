//! Polling sources: MediaWiki's API and WikiRPC (DokuWiki, JSPWiki).

use std::time::Duration;

use recentchanges_core::RecentChange;
use recentchanges_http::wikirpc::{self as rpc, Credentials, Dialect, RpcError};
use recentchanges_http::{Api, Poller, PollerConfig};
use serde_json::Value;
use tokio::task::JoinHandle;

use super::{config, from_value, host_of, to_value, Feed};
use crate::source::{Change, Source, SourceError, SourceName, State};

/// MediaWiki's `list=recentchanges`.
pub(super) fn mediawiki(
    source: Source,
    url: String,
    position: Option<Value>,
    feed: Feed,
) -> Result<JoinHandle<()>, SourceError> {
    let api = api_client(&source, &url)?;
    let wiki = source.wiki.clone().unwrap_or_else(|| host_of(&url));
    let poller = Poller::new(api, poller_config(&source, wiki))
        .resume(from_value::<recentchanges_http::Position>(position)?);
    Ok(tokio::spawn(follow(poller, url, feed)))
}

/// WikiRPC `getRecentChanges`.
pub(super) fn wikirpc(
    source: Source,
    url: String,
    position: Option<Value>,
    feed: Feed,
) -> Result<JoinHandle<()>, SourceError> {
    let client = rpc_client(&source, &url)?;
    let wiki = source.wiki.clone().unwrap_or_else(|| host_of(&url));
    let mut cfg = rpc::PollerConfig::new(wiki)
        .start(source.start)
        .filter(source.filter.clone());
    if let Some(end) = source.end {
        cfg = cfg.end(end);
    }
    if let Some(every) = source.interval {
        cfg = cfg.interval(every);
    }
    let poller = rpc::Poller::new(client, cfg).resume(from_value::<rpc::Position>(position)?);
    Ok(tokio::spawn(follow(poller, url, feed)))
}

/// The API client of a `mediawiki:` source.
pub(crate) fn api_client(source: &Source, url: &str) -> Result<Api, SourceError> {
    let mut api = Api::builder(url);
    if let Some(ua) = &source.user_agent {
        api = api.user_agent(ua.clone());
    }
    api.build().map_err(config)
}

/// The WikiRPC client of a `dokuwiki:` or `jspwiki:` source.
pub(crate) fn rpc_client(source: &Source, url: &str) -> Result<rpc::Client, SourceError> {
    let dialect = match source.name {
        SourceName::JspWiki(_) => Dialect::JspWiki,
        _ => Dialect::DokuWiki,
    };
    let mut client = rpc::Client::builder(url, dialect);
    if let Some(ua) = &source.user_agent {
        client = client.user_agent(ua.clone());
    }
    if let Some((user, password)) = &source.credentials {
        client = client.credentials(Credentials::new(user, password));
    }
    client.build().map_err(config)
}

pub(super) fn poller_config(source: &Source, wiki: String) -> PollerConfig {
    let mut cfg = PollerConfig::new(wiki)
        .start(source.start)
        .filter(source.filter.clone());
    if let Some(end) = source.end {
        cfg = cfg.end(end);
    }
    if let Some(every) = source.interval {
        cfg = cfg.interval(every);
    }
    cfg
}

/// What a failed step means for the source.
enum Failure {
    /// One row that did not parse: an error item, and the poller goes on.
    Row,
    /// A request that failed after its retries: an error item, state retrying, and the
    /// same request again after the interval.
    Request,
    /// The wiki refused us for good (WikiRPC authentication): an error item, state
    /// failed, and the source ends.
    Fatal(&'static str),
}

/// What [`follow`] needs of a poller (the MediaWiki API's, WikiRPC's).
trait Polled: Send {
    type Error: Into<SourceError> + std::fmt::Display + Send;

    async fn step(&mut self) -> Result<Option<RecentChange>, Self::Error>;
    fn is_finished(&self) -> bool;
    fn position(&self) -> Option<Value>;
    fn interval(&self) -> Duration;
    fn failure(e: &Self::Error) -> Failure;
}

impl Polled for Poller {
    type Error = recentchanges_http::Error;

    async fn step(&mut self) -> Result<Option<RecentChange>, Self::Error> {
        Poller::step(self).await
    }
    fn is_finished(&self) -> bool {
        Poller::is_finished(self)
    }
    fn position(&self) -> Option<Value> {
        to_value(Poller::position(self))
    }
    fn interval(&self) -> Duration {
        self.config().interval
    }
    fn failure(e: &Self::Error) -> Failure {
        match e {
            recentchanges_http::Error::Parse { .. } => Failure::Row,
            _ => Failure::Request,
        }
    }
}

impl Polled for rpc::Poller {
    type Error = RpcError;

    async fn step(&mut self) -> Result<Option<RecentChange>, Self::Error> {
        rpc::Poller::step(self).await
    }
    fn is_finished(&self) -> bool {
        rpc::Poller::is_finished(self)
    }
    fn position(&self) -> Option<Value> {
        to_value(rpc::Poller::position(self))
    }
    fn interval(&self) -> Duration {
        self.config().interval
    }
    fn failure(e: &Self::Error) -> Failure {
        match e {
            RpcError::Auth { .. } => Failure::Fatal("authentication refused"),
            RpcError::Http(_) | RpcError::Fault { .. } | RpcError::Response { .. } => {
                Failure::Request
            }
            _ => Failure::Row,
        }
    }
}

/// Polls until the end (if any) or until the consumer is gone: every change with the
/// position after it, the position alone after a quiet poll, and the state.
async fn follow<P: Polled>(mut poller: P, url: String, feed: Feed) {
    let mut told = None;
    loop {
        let item = match poller.step().await {
            Ok(None) if poller.is_finished() => {
                feed.state(State::Finished);
                return;
            }
            Ok(None) => {
                // Answered, nothing new: where the poller stands now (before the state
                // says Live, so a consumer that waits for Live finds it queued).
                if !tell_position(&feed, &mut told, poller.position()).await {
                    return;
                }
                feed.state(State::Live);
                continue;
            }
            Ok(Some(change)) => Ok(change),
            Err(e) => Err(e),
        };
        let position = poller.position();
        told.clone_from(&position);
        let failure = item.as_ref().err().map(P::failure);
        match (&item, &failure) {
            (Ok(_), _) => feed.state(State::Live),
            (Err(e), Some(Failure::Request)) => feed.state(State::Retrying {
                reason: e.to_string(),
            }),
            (Err(_), Some(Failure::Fatal(reason))) => feed.state(State::Failed {
                reason: (*reason).into(),
            }),
            _ => {}
        }
        let item = item.map_err(Into::into).map(|change| Change {
            change,
            via: url.clone(),
            id: None,
            replayed: false,
            #[cfg(feature = "eventstreams")]
            delivery: None,
        });
        if !feed.send(item, position).await || matches!(failure, Some(Failure::Fatal(_))) {
            return;
        }
        if matches!(failure, Some(Failure::Request)) {
            tokio::time::sleep(poller.interval()).await;
        }
    }
}

/// Hands over the poller's position after a quiet poll, if it moved since last told;
/// `false` once the consumer is gone.
async fn tell_position(feed: &Feed, told: &mut Option<Value>, position: Option<Value>) -> bool {
    if position.is_none() || position == *told {
        return true;
    }
    told.clone_from(&position);
    feed.position(position).await
}
