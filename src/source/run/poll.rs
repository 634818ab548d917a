//! Polling sources: MediaWiki's API and WikiRPC (DokuWiki, JSPWiki).

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
    Ok(tokio::spawn(follow_mediawiki(poller, url, feed)))
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
    if let Some(every) = source.interval {
        cfg = cfg.interval(every);
    }
    let poller = rpc::Poller::new(client, cfg).resume(from_value::<rpc::Position>(position)?);
    Ok(tokio::spawn(follow_wikirpc(poller, url, feed)))
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

async fn follow_mediawiki(mut poller: Poller, url: String, feed: Feed) {
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
                if !tell_position(&feed, &mut told, to_value(poller.position())).await {
                    return;
                }
                feed.state(State::Live);
                continue;
            }
            Ok(Some(change)) => Ok(change),
            Err(e) => Err(e),
        };
        let position = to_value(poller.position());
        told.clone_from(&position);
        let failed_request =
            matches!(&item, Err(e) if !matches!(e, recentchanges_http::Error::Parse { .. }));
        match &item {
            Ok(_) => feed.state(State::Live),
            Err(e) if failed_request => feed.state(State::Retrying {
                reason: e.to_string(),
            }),
            Err(_) => {}
        }
        let item = item.map_err(SourceError::from).map(|change| Change {
            change,
            via: url.clone(),
            id: None,
            replayed: false,
            #[cfg(feature = "eventstreams")]
            delivery: None,
        });
        if !feed.send(item, position).await {
            return;
        }
        if failed_request {
            tokio::time::sleep(poller.config().interval).await;
        }
    }
}

async fn follow_wikirpc(mut poller: rpc::Poller, url: String, feed: Feed) {
    let mut told = None;
    loop {
        let item = match poller.step().await {
            Ok(None) if poller.is_finished() => {
                feed.state(State::Finished);
                return;
            }
            Ok(None) => {
                if !tell_position(&feed, &mut told, to_value(poller.position())).await {
                    return;
                }
                feed.state(State::Live);
                continue;
            }
            Ok(Some(change)) => Ok(change),
            Err(e) => Err(e),
        };
        let position = to_value(poller.position());
        told.clone_from(&position);
        let failed_request = matches!(
            &item,
            Err(RpcError::Http(_) | RpcError::Fault { .. } | RpcError::Response { .. })
        );
        match &item {
            Ok(_) => feed.state(State::Live),
            Err(RpcError::Auth { .. }) => feed.state(State::Failed {
                reason: "authentication refused".into(),
            }),
            Err(e) if failed_request => feed.state(State::Retrying {
                reason: e.to_string(),
            }),
            Err(_) => {}
        }
        let fatal = matches!(&item, Err(RpcError::Auth { .. }));
        let item = item.map_err(SourceError::from).map(|change| Change {
            change,
            via: url.clone(),
            id: None,
            replayed: false,
            #[cfg(feature = "eventstreams")]
            delivery: None,
        });
        if !feed.send(item, position).await || fatal {
            return;
        }
        if failed_request {
            tokio::time::sleep(poller.config().interval).await;
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
