//! Print the changes published to XMPP PubSub nodes (XEP-0060), one line per change: the
//! way DokuWiki's dokupubsub published each page edit, as an Atom entry.
//!
//! ```sh
//! cargo run --example pubsub_tail -- --jid reader@example.org pubsub.example.org wiki
//! cargo run --example pubsub_tail -- --anonymous anon.localhost --server 127.0.0.1:25222 \
//!     --tls plaintext-loopback --position wiki.pos pubsub.localhost wiki other-wiki
//! ```
//!
//! The password comes from `XMPP_PASSWORD`. With `--position` the run continues where the
//! previous one stopped: items published meanwhile are printed first. Error items (an
//! item that is not a change, a node the service refused) go to stderr; the tail goes on.

// The CLI options, logging and printing the examples share: examples/common/mod.rs.
mod common;

use clap::Parser;
use common::{Login, Output, XmppLogin};
use futures::StreamExt;
use recentchanges::xmpp::pubsub::{NodeStreamError, Subscriber};

#[derive(Parser)]
#[command(about = "Print the recent changes published to XMPP PubSub nodes")]
struct Args {
    /// The PubSub service, e.g. pubsub.example.org.
    service: String,
    /// Nodes to follow on that service.
    #[arg(required = true)]
    nodes: Vec<String>,
    #[command(flatten)]
    xmpp: XmppLogin,
    /// Continue from (and keep up to date) this position file.
    #[arg(long)]
    position: Option<std::path::PathBuf>,
    /// On a node's first run, also print its newest N items.
    #[arg(long, default_value_t = 0)]
    last: u32,
    #[command(flatten)]
    output: Output,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logging("warn");
    let args = Args::parse();
    let mut builder = match args.xmpp.login("XMPP_PASSWORD")? {
        Login::Account { jid, password } => Subscriber::builder(jid, password)?,
        Login::Anonymous { domain } => Subscriber::anonymous(domain)?,
    };
    for node in &args.nodes {
        builder = builder.node(&args.service, node)?;
    }
    if let Some(server) = &args.xmpp.connect.server {
        builder = builder.server(server)?;
    }
    builder = builder.tls(args.xmpp.connect.tls.clone());
    if let Some(path) = &args.position {
        builder = builder.resume_from_file(path)?;
    }
    let mut changes = builder.last_items(args.last).connect()?;
    let mut status = changes.status();
    tokio::spawn(async move {
        let mut gaps = 0;
        while status.changed().await.is_ok() {
            let s = status.borrow().clone();
            common::report_reconnecting(&s.connection);
            if s.gaps > gaps {
                gaps = s.gaps;
                eprintln!("items may be missing: a node no longer held the last item seen");
            }
        }
    });
    loop {
        tokio::select! {
            item = changes.next() => match item {
                Some(Ok(c)) => args.output.print(&c),
                Some(Err(NodeStreamError::Fatal(e))) => return Err(e.into()),
                Some(Err(e)) => eprintln!("{e}"),
                None => break,
            },
            _ = common::shutdown() => break,
        }
    }
    changes.close().await;
    Ok(())
}
