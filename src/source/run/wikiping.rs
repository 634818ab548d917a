//! A WikiPing listener.

use recentchanges_http::wikiping::PingListener;

use super::Feed;
use crate::source::{Change, State};

pub(super) async fn run(
    addr: std::net::SocketAddr,
    filter: recentchanges_core::Filter,
    feed: Feed,
) {
    let mut listener = match PingListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            feed.state(State::Failed {
                reason: e.to_string(),
            });
            feed.send(Err(e.into()), None).await;
            return;
        }
    };
    feed.state(State::Live);
    let via = format!("wikiping:{}", listener.local_addr());
    while let Some(item) = listener.next().await {
        let item = match item {
            Ok(change) if !filter.matches(&change) => continue,
            Ok(change) => Ok(Change {
                change,
                via: via.clone(),
                id: None,
                replayed: false,
                #[cfg(feature = "eventstreams")]
                delivery: None,
            }),
            Err(e) => Err(e.into()),
        };
        if !feed.send(item, None).await {
            return;
        }
    }
}
