//! dokupubsub in one program: poll a DokuWiki's recent changes over WikiRPC and publish
//! each as an Atom entry to an XMPP PubSub node, where `follow "xmpp:SERVICE?;node=NODE"`
//! (or `rcclient.open(...)` in Python) picks them up.
//!
//! ```sh
//! eval "$(scripts/dokuwiki/start.sh)"; eval "$(scripts/prosody/start.sh)"
//! WIKI_PASSWORD="$DOKUWIKI_PASSWORD" XMPP_PASSWORD=publisherpublisher cargo run --example doku2pubsub -- \
//!     "$DOKUWIKI_XMLRPC_URL" --user "$DOKUWIKI_USER" --jid publisher@localhost \
//!     --server 127.0.0.1:25222 --tls plaintext-loopback --node dokuwiki --position doku2pubsub.pos
//! ```
//!
//! Each entry links to the page's revision (`doku.php?id=PAGE&rev=VERSION`), which is also
//! its Atom id. DokuWiki's `getRecentChanges` carries no edit summary, so entries have none.
//! At least once: the position file moves only after the PubSub service confirmed every
//! entry of a poll, so a crash re-publishes (subscribers drop the repeats by item).
//! Passwords come from `WIKI_PASSWORD` and `XMPP_PASSWORD`.

// The CLI options, logging and printing the examples share: examples/common/mod.rs.
mod common;

use std::time::Duration;

use clap::Parser;
use common::{PollStart, XmppConnect};
use recentchanges::http::wikirpc::{Client, Credentials, Dialect, Poller, PollerConfig, Position};
use recentchanges::xmpp::pubsub::{AtomEntry, NodePublisher};
use recentchanges::xmpp::BareJid;

#[derive(Parser)]
#[command(about = "Publish a DokuWiki's recent changes as Atom entries to an XMPP PubSub node")]
struct Args {
    /// The wiki's XML-RPC endpoint (.../lib/exe/xmlrpc.php).
    url: String,
    /// WikiRPC user (password in WIKI_PASSWORD).
    #[arg(long)]
    user: Option<String>,
    /// The publishing XMPP account (password in XMPP_PASSWORD); it owns the node.
    #[arg(long)]
    jid: String,
    #[command(flatten)]
    xmpp: XmppConnect,
    /// The PubSub service.
    #[arg(long, default_value = "pubsub.localhost")]
    service: String,
    /// The node (created if missing).
    #[arg(long)]
    node: String,
    #[command(flatten)]
    from: PollStart,
    /// Seconds between polls.
    #[arg(long, default_value_t = 5.0)]
    interval: f64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logging("warn");
    let args = Args::parse();
    let mut client = Client::builder(&args.url, Dialect::DokuWiki);
    if let Some(user) = &args.user {
        client = client.credentials(Credentials::new(user, common::password("WIKI_PASSWORD")?));
    }
    let cfg = PollerConfig::new(args.node.clone()).start(args.from.start());
    let position = match &args.from.position {
        Some(path) => Position::load(path)?,
        None => Position::default(),
    };
    let mut poller = Poller::new(client.build()?, cfg).resume(position);

    let password = common::password("XMPP_PASSWORD")?;
    let mut publisher = NodePublisher::builder(&args.jid, password)?.tls(args.xmpp.tls.clone());
    if let Some(server) = &args.xmpp.server {
        publisher = publisher.server(server)?;
    }
    let mut publisher = publisher.start()?;
    let service: BareJid = args.service.parse()?;
    let every = Duration::from_secs_f64(args.interval.max(0.05));

    loop {
        let batch = tokio::select! {
            batch = poller.poll() => batch,
            _ = common::shutdown() => break,
        };
        let mut published = 0;
        match batch {
            Ok(items) => {
                for item in items {
                    match item {
                        Ok(rc) => {
                            // rc.url links the revision, as dokupubsub's entries did.
                            publisher
                                .publish(&service, &args.node, &AtomEntry::from_change(&rc))
                                .await?;
                            published += 1;
                        }
                        Err(e) => eprintln!("skipped: {e}"),
                    }
                }
            }
            Err(e) => eprintln!("poll failed: {e}"),
        }
        if published > 0 {
            while !publisher.flush(Duration::from_secs(30)).await {
                eprintln!("the PubSub service has not confirmed every entry yet");
                if publisher.rejected() > 0 {
                    return Err("the PubSub service refused entries".into());
                }
            }
        }
        if let Some(path) = &args.from.position {
            poller.position().save(path)?;
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = common::shutdown() => break,
        }
    }
    publisher.close().await;
    Ok(())
}
