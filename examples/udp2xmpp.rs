//! The XMLRC bridge: receives changes as UDP packets (`<rc>`, `<recentchange>` or JSON,
//! as MediaWiki's `$wgRCFeeds` or XMLRC send them) and posts each into its wiki's room.
//!
//! ```sh
//! BRIDGE_PASSWORD=secret cargo run --example udp2xmpp -- examples/udp2xmpp.toml
//! ```
//!
//! The config file:
//!
//! ```toml
//! listen = "127.0.0.1:9390"        # UDP address for the wikis' packets
//! jid = "bridge@example.org"       # the bridge's account; its password comes from BRIDGE_PASSWORD
//! server = "127.0.0.1:5222"        # optional: skip the DNS lookup
//! tls = "required"                 # or "plaintext-loopback", or a path to a CA file in PEM
//! nick = "xmlrc"
//! queue = 10000                    # changes held while XMPP is down; the oldest drop first
//!
//! [rooms]                          # wiki id -> room
//! enwiki = "enwiki@conference.example.org"
//! default = "other@conference.example.org"   # optional: wikis not listed
//! ```

// The CLI options, logging and printing the examples share: examples/common/mod.rs.
mod common;

use std::collections::HashMap;
use std::time::Duration;

use clap::Parser;
use recentchanges::xmpp::bridge::{Bridge, Routes};
use recentchanges::xmpp::Publisher;
use serde::Deserialize;

#[derive(Parser)]
#[command(about = "Post UDP recent-change packets into XMPP rooms")]
struct Args {
    /// The TOML config file.
    config: std::path::PathBuf,
}

#[derive(Deserialize)]
struct Config {
    listen: String,
    jid: String,
    server: Option<String>,
    #[serde(default = "default_tls")]
    tls: String,
    #[serde(default = "default_nick")]
    nick: String,
    #[serde(default = "default_queue")]
    queue: usize,
    rooms: HashMap<String, String>,
}

fn default_tls() -> String {
    "required".into()
}
fn default_nick() -> String {
    "xmlrc".into()
}
fn default_queue() -> usize {
    10_000
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The bridge logs to stdout: it prints nothing else.
    common::init_logging_to("info", std::io::stdout);
    let args = Args::parse();
    let cfg: Config = toml::from_str(&std::fs::read_to_string(&args.config)?)?;
    let password = common::password("BRIDGE_PASSWORD")?;

    let mut routes = Routes::default();
    let mut publisher = Publisher::builder(&cfg.jid, password)?;
    for (wiki, room) in &cfg.rooms {
        let jid = room.parse().map_err(|e| format!("room {room:?}: {e}"))?;
        if wiki == "default" {
            routes.default = Some(jid);
        } else {
            routes.rooms.insert(wiki.clone(), jid);
        }
        publisher = publisher.room(room, &cfg.nick)?;
    }
    if let Some(server) = &cfg.server {
        publisher = publisher.server(server)?;
    }
    publisher = publisher.tls(common::tls(&cfg.tls));
    let bridge = Bridge::start(cfg.listen.parse()?, routes, publisher.start()?, cfg.queue).await?;
    let stats = bridge.stats();
    let mut report = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = report.tick() => tracing::info!(
                received = stats.received(), published = stats.published(), invalid = stats.invalid(),
                unrouted = stats.unrouted(), dropped = stats.dropped(), "bridge counters"),
            _ = common::shutdown() => break,
        }
    }
    Ok(())
}
